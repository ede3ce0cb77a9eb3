//! The reconnect curve: new connections per 10 ms, the shape of a reconnect storm.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::PlotError;
use crate::render::{Chart, DrawResult, render};
use crate::style::{
    BLUE, GRID, LEGEND_W, Swatch, TEXT, WINDOW_EDGE, WINDOW_SHADE, check_window, check_window_for,
    empty_state, fmt_num, header, legend, text, window_label,
};
use crate::timeline::shade_window;

/// The width of one reconnect bucket, in seconds (the analyzer's default fine bucket).
const FINE_S: f64 = 0.010;

/// Curves with more buckets than this are drawn as the peak of each group of buckets.
const MAX_DRAWN: usize = 3_000;

/// A time at the curve's 10 ms resolution: `2000.01`, `1.5`, `15`.
fn fmt_seconds(t: f64) -> String {
    let s = format!("{t:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A chart over seconds (x) and new connections per 10 ms (y).
type Axes<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The axes both reconnect charts draw on: seconds since the run started against new
/// connections per 10 ms, up to `y_top`.
fn axes<'a, DB: DrawingBackend>(
    plot: &'a DrawingArea<DB, Shift>,
    x: std::ops::Range<f64>,
    y_top: f64,
) -> Result<Axes<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = ChartBuilder::on(plot)
        .margin_left(12)
        .margin_right(24)
        .margin_top(8)
        .margin_bottom(12)
        .x_label_area_size(54)
        .y_label_area_size(78)
        .build_cartesian_2d(x, 0f64..y_top)?;
    chart
        .configure_mesh()
        .x_desc("time since the run started (s)")
        .y_desc("new connections per 10 ms")
        .x_label_formatter(&|v| fmt_num(*v))
        .y_labels((y_top as usize + 1).min(11))
        .y_label_formatter(&|v| fmt_num(*v))
        .label_style(text(15, &TEXT))
        .axis_desc_style(text(17, &TEXT))
        .max_light_lines(2)
        .light_line_style(GRID.mix(0.5))
        .bold_line_style(GRID)
        .draw()?;
    Ok(chart)
}

/// A curve as steps, bucket `first + i` of `counts` spanning its 10 ms, so a single busy bucket
/// stays 10 ms wide at any zoom; a long curve is drawn as the peak of each group of buckets
/// ([`drawn_group`]), which keeps every spike and the file small.
fn steps(counts: &[u64], first: usize) -> Vec<(f64, f64)> {
    let group = drawn_group(counts.len());
    let mut points = Vec::with_capacity(counts.len().div_ceil(group) * 2);
    for (g, chunk) in counts.chunks(group).enumerate() {
        let t = (first + g * group) as f64 * FINE_S;
        let peak = chunk.iter().copied().max().unwrap_or(0) as f64;
        points.push((t, peak));
        points.push((t + chunk.len() as f64 * FINE_S, peak));
    }
    points
}

/// How many buckets one drawn step covers.
fn drawn_group(buckets: usize) -> usize {
    buckets.div_ceil(MAX_DRAWN).max(1)
}

/// The title [`reconnect_curve`] gives its chart.
pub const RECONNECT_TITLE: &str = "New connections per 10 ms";

/// Draws new connections per 10 ms bucket (`Analysis::reconnects`, bucket `i` starting at
/// `i * 10 ms`) to `out` (SVG or PNG by extension), with the deploy window shaded and the peak
/// named in the subtitle. A curve longer than 3,000 buckets (30 s) is drawn as the peak of
/// each group of buckets, so no spike is lost and the SVG stays small. The title is [`RECONNECT_TITLE`]; [`reconnect_curve_titled`] takes
/// one. An empty slice gives an empty-state chart.
pub fn reconnect_curve(
    reconnects_per_10ms: &[u64],
    window_s: [f64; 2],
    out: impl AsRef<Path>,
) -> Result<(), PlotError> {
    reconnect_curve_titled(reconnects_per_10ms, window_s, RECONNECT_TITLE, out)
}

/// [`reconnect_curve`] with a title of the caller's (say, which scenario it shows).
pub fn reconnect_curve_titled(
    reconnects_per_10ms: &[u64],
    window_s: [f64; 2],
    title: &str,
    out: impl AsRef<Path>,
) -> Result<(), PlotError> {
    let out = out.as_ref();
    check_window_for(window_s, out)?;
    render(
        &ReconnectCurve {
            counts: reconnects_per_10ms,
            window_s,
            title,
        },
        out,
    )
}

struct ReconnectCurve<'a> {
    counts: &'a [u64],
    window_s: [f64; 2],
    title: &'a str,
}

impl Chart for ReconnectCurve<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        if self.counts.is_empty() {
            return empty_state(root, self.title, "the reconnect curve has no buckets");
        }
        let total: u64 = self.counts.iter().sum();
        let (peak_i, peak) = self
            .counts
            .iter()
            .enumerate()
            .max_by_key(|&(i, &n)| (n, std::cmp::Reverse(i)))
            .map(|(i, &n)| (i, n))
            .unwrap_or((0, 0));
        let mut subtitle = format!(
            "connections opened per 10 ms bucket; {total} in all; peak {peak} at {} s",
            fmt_seconds(peak_i as f64 * FINE_S)
        );
        let group = drawn_group(self.counts.len());
        if group > 1 {
            subtitle += &format!("; drawn as the peak of every {group} buckets");
        }
        let body = header(root, self.title, &subtitle)?;
        let (w, _) = body.dim_in_pixel();
        let (plot, legend_area) = body.split_horizontally(w - LEGEND_W);

        let end = self.counts.len() as f64 * FINE_S;
        let x0 = self.window_s[0].min(0.0);
        let x1 = self.window_s[1].max(end);
        let y_top = (peak.max(1) as f64 * 1.12).ceil();
        let mut chart = axes(&plot, x0..x1, y_top)?;
        shade_window(&mut chart, self.window_s, (0.0, y_top))?;
        chart.draw_series(
            AreaSeries::new(steps(self.counts, 0), 0.0, BLUE.mix(0.25).filled())
                .border_style(BLUE.stroke_width(1)),
        )?;

        legend(
            &legend_area,
            &[
                (
                    Swatch::Shade(WINDOW_SHADE, WINDOW_EDGE),
                    window_label(self.window_s),
                ),
                (Swatch::Line(BLUE, 2), "new connections".into()),
            ],
        )
    }
}

/// One curve of [`reconnect_curves`]: a name for the legend and new connections per 10 ms
/// (bucket `i` starting at `i * 10 ms`), as `Analysis::reconnects` holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedCurve<'a> {
    /// The legend's name (`live run 1`, `predicted, seed 1`).
    pub name: &'a str,
    /// New connections per 10 ms bucket.
    pub per_10ms: &'a [u64],
}

/// Several reconnect curves on the same axes (a prediction beside live runs): each drawn as a
/// step line in its own colour, the deploy window `window_s` shaded, the x axis over `range_s`
/// (seconds since the run started; `None`: every bucket of every curve). The subtitle names each
/// curve's peak and total inside the range. Curves are drawn at full 10 ms resolution inside the
/// range (at most 3,000 buckets wide, else the peak of each group, as [`reconnect_curve`]).
pub fn reconnect_curves(
    curves: &[NamedCurve<'_>],
    window_s: [f64; 2],
    range_s: Option<[f64; 2]>,
    title: &str,
    out: impl AsRef<Path>,
) -> Result<(), PlotError> {
    let out = out.as_ref();
    check_window_for(window_s, out)?;
    if let Some(r) = range_s {
        let empty = (r[1] <= r[0]).then(|| format!("range_s {r:?} is empty"));
        if let Some(reason) = check_window(r).err().or(empty) {
            return Err(PlotError::InvalidInput {
                path: out.to_path_buf(),
                reason,
            });
        }
    }
    render(
        &ReconnectCurves {
            curves,
            window_s,
            range_s,
            title,
        },
        out,
    )
}

struct ReconnectCurves<'a> {
    curves: &'a [NamedCurve<'a>],
    window_s: [f64; 2],
    range_s: Option<[f64; 2]>,
    title: &'a str,
}

const CURVE_COLOURS: [RGBColor; 6] = [
    crate::style::RED,
    BLUE,
    crate::style::GREEN,
    crate::style::ORANGE,
    crate::style::PURPLE,
    crate::style::BROWN,
];

impl<'a> Chart for ReconnectCurves<'a> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let longest = self.curves.iter().map(|c| c.per_10ms.len()).max();
        let Some(longest) = longest.filter(|&n| n > 0) else {
            return empty_state(root, self.title, "no reconnect curve has buckets");
        };
        let [x0, x1] = self.range_s.unwrap_or([0.0, longest as f64 * FINE_S]);
        let (b0, b1) = (
            (x0 / FINE_S).floor().max(0.0) as usize,
            (x1 / FINE_S).ceil() as usize,
        );
        fn within(c: &[u64], b0: usize, b1: usize) -> &[u64] {
            let hi = b1.min(c.len());
            c.get(b0.min(hi)..hi).unwrap_or(&[])
        }
        let inside = |c: &NamedCurve<'a>| -> &'a [u64] { within(c.per_10ms, b0, b1) };
        let mut top = 0u64;
        let mut parts = Vec::new();
        for c in self.curves {
            let s = inside(c);
            let (pi, peak) = s
                .iter()
                .enumerate()
                .max_by_key(|&(i, &n)| (n, std::cmp::Reverse(i)))
                .map(|(i, &n)| (i, n))
                .unwrap_or((0, 0));
            top = top.max(peak);
            parts.push(format!(
                "{}: peak {peak} at {} s, {} in all",
                c.name,
                fmt_seconds((b0 + pi) as f64 * FINE_S),
                s.iter().sum::<u64>()
            ));
        }
        let subtitle = format!(
            "new connections per 10 ms, {} to {} s. {}",
            fmt_seconds(x0),
            fmt_seconds(x1),
            parts.join("; ")
        );
        let body = header(root, self.title, &subtitle)?;
        let (w, _) = body.dim_in_pixel();
        let (plot, legend_area) = body.split_horizontally(w - LEGEND_W);
        let y_top = (top.max(1) as f64 * 1.12).ceil();
        let mut chart = axes(&plot, x0..x1, y_top)?;
        shade_window(&mut chart, self.window_s, (0.0, y_top))?;
        let mut entries = vec![(
            Swatch::Shade(WINDOW_SHADE, WINDOW_EDGE),
            window_label(self.window_s),
        )];
        for (k, c) in self.curves.iter().enumerate() {
            let colour = CURVE_COLOURS[k % CURVE_COLOURS.len()];
            chart.draw_series(LineSeries::new(
                steps(inside(c), b0),
                colour.stroke_width(2),
            ))?;
            entries.push((Swatch::Line(colour, 2), c.name.to_string()));
        }
        legend(&legend_area, &entries)
    }
}
