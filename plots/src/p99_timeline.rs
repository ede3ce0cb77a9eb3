//! Latency per bucket (p99 and p50) through the deploy window.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use measure::Bucket;

use crate::PlotError;
use crate::render::{Chart, DrawResult, render};
use crate::style::{
    BLUE, GRID, LEGEND_W, RED, Swatch, TEXT, WINDOW_EDGE, WINDOW_SHADE, check_window_for,
    empty_state, finite, fmt_num, header, legend, text, window_label,
};
use crate::timeline::{bucket_width, runs, shade_window, x_range};

/// Timelines with more buckets than this get lines without a marker per bucket.
const MARKERS_UP_TO: usize = 150;

/// Latencies spanning more than this factor get a logarithmic axis.
const LOG_SCALE_RATIO: f64 = 20.0;

/// Draws p99 and p50 latency per bucket to `out` (SVG or PNG by extension).
///
/// Latency is the analyzer's: from the intended start, only outcomes that have one (refused and
/// reset requests do not). Buckets without a latency break the lines. The y axis is in
/// milliseconds, logarithmic when the values span more than a factor of 20 (a timeout next to a
/// 100 ms baseline), linear otherwise (starting just under the lowest value when all values sit
/// well above zero). The deploy window is shaded. No buckets, or none with a
/// latency, give an empty-state chart.
pub fn p99_timeline(
    buckets: &[Bucket],
    window_s: [f64; 2],
    title: &str,
    out: impl AsRef<Path>,
) -> Result<(), PlotError> {
    let out = out.as_ref();
    check_window_for(window_s, out)?;
    render(
        &P99Timeline {
            buckets,
            window_s,
            title,
        },
        out,
    )
}

struct P99Timeline<'a> {
    buckets: &'a [Bucket],
    window_s: [f64; 2],
    title: &'a str,
}

/// The latencies as drawn: only finite, positive values (a log axis has no zero).
fn latency(v: Option<f64>) -> Option<f64> {
    finite(v).filter(|x| *x > 0.0)
}

impl Chart for P99Timeline<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let values: Vec<f64> = self
            .buckets
            .iter()
            .flat_map(|b| [latency(b.p50_ms), latency(b.p99_ms)])
            .flatten()
            .collect();
        if values.is_empty() {
            let why = if self.buckets.is_empty() {
                "the timeline has no buckets"
            } else {
                "no bucket has a latency (every request refused or reset?)"
            };
            return empty_state(root, self.title, why);
        }
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(0.0, f64::max);
        let log = max / min > LOG_SCALE_RATIO;

        let width = bucket_width(self.buckets);
        let peak = self
            .buckets
            .iter()
            .filter_map(|b| latency(b.p99_ms).map(|p| (b.t_s, p)))
            // The first of equal peaks.
            .fold(None, |best: Option<(f64, f64)>, (t, p)| match best {
                Some((_, top)) if top >= p => best,
                _ => Some((t, p)),
            });
        let mut subtitle = format!(
            "latency from the intended start, per {} s bucket{}",
            fmt_num(width),
            if log { "; logarithmic axis" } else { "" }
        );
        if let Some((t, p)) = peak {
            subtitle += &format!("; highest p99 {} ms at {} s", fmt_num(p), fmt_num(t));
        }
        let body = header(root, self.title, &subtitle)?;
        let (w, _) = body.dim_in_pixel();
        let (plot, legend_area) = body.split_horizontally(w - LEGEND_W);

        if log {
            self.plot(
                &plot,
                (min / 1.5..max * 1.5).log_scale(),
                (min / 1.5, max * 1.5),
                true,
            )?;
        } else {
            // Latency rarely nears zero: when the values sit in a band well above it, the axis
            // starts just under the band so its shape is readable.
            let span = max - min;
            let y_lo = if min > 0.25 * max && span > 0.0 {
                (min - 0.15 * span).max(0.0)
            } else {
                0.0
            };
            let y_hi = max + 0.12 * (max - y_lo);
            self.plot(&plot, y_lo..y_hi, (y_lo, y_hi), false)?;
        }

        legend(
            &legend_area,
            &[
                (
                    Swatch::Shade(WINDOW_SHADE, WINDOW_EDGE),
                    window_label(self.window_s),
                ),
                (Swatch::Line(RED, 3), "p99 (ms)".into()),
                (Swatch::Line(BLUE, 2), "p50 (ms)".into()),
            ],
        )
    }
}

/// On a log axis, only 1, 2 and 5 times a power of ten get a label; the other ticks stay bare.
fn log_label(v: f64) -> String {
    if !(v.is_finite() && v > 0.0) {
        return String::new();
    }
    let mantissa = v / 10f64.powf(v.log10().floor());
    if [1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-6) {
        fmt_num(v)
    } else {
        String::new()
    }
}

impl P99Timeline<'_> {
    fn plot<DB, YS>(
        &self,
        area: &DrawingArea<DB, Shift>,
        y_spec: YS,
        (y_lo, y_hi): (f64, f64),
        log: bool,
    ) -> DrawResult<DB>
    where
        DB: DrawingBackend,
        YS: AsRangedCoord<Value = f64>,
        YS::CoordDescType: ValueFormatter<f64>,
    {
        let width = bucket_width(self.buckets);
        let (x0, x1) = x_range(self.buckets, width, self.window_s);
        let mut chart = ChartBuilder::on(area)
            .margin_left(12)
            .margin_right(24)
            .margin_top(8)
            .margin_bottom(12)
            .x_label_area_size(54)
            .y_label_area_size(84)
            .build_cartesian_2d(x0..x1, y_spec)?;
        chart
            .configure_mesh()
            .x_desc("time since the run started (s)")
            .y_desc("latency per bucket (ms)")
            .x_label_formatter(&|v| fmt_num(*v))
            .y_labels(if log { 40 } else { 10 })
            .y_label_formatter(&|v| if log { log_label(*v) } else { fmt_num(*v) })
            .label_style(text(15, &TEXT))
            .axis_desc_style(text(17, &TEXT))
            .max_light_lines(2)
            .light_line_style(GRID.mix(0.5))
            .bold_line_style(GRID)
            .draw()?;
        shade_window(&mut chart, self.window_s, (y_lo, y_hi))?;

        // A point per bucket centre; lines break where a bucket has no latency.
        let series = [
            (
                RED,
                3,
                3,
                Box::new(|b: &Bucket| b.p99_ms) as Box<dyn Fn(&Bucket) -> Option<f64>>,
            ),
            (BLUE, 2, 2, Box::new(|b: &Bucket| b.p50_ms)),
        ];
        for (color, stroke, radius, pick) in series {
            let points = runs(self.buckets.iter().map(|b| {
                latency(pick(b))
                    .filter(|_| b.t_s.is_finite())
                    .map(|v| (b.t_s + width / 2.0, v))
            }));
            for run in points {
                chart.draw_series(std::iter::once(PathElement::new(
                    run.clone(),
                    color.stroke_width(stroke),
                )))?;
                if self.buckets.len() > MARKERS_UP_TO {
                    continue;
                }
                chart.draw_series(
                    run.into_iter()
                        .map(|p| Circle::new(p, radius, color.filled())),
                )?;
            }
        }
        Ok(())
    }
}
