//! Failed requests per bucket, stacked by outcome class, through the deploy window, with the
//! ready-endpoint count on a secondary axis.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use measure::Bucket;

use crate::PlotError;
use crate::render::{Chart, DrawResult, render};
use crate::style::{
    FAILURE_CLASSES, GREEN, GRID, LEGEND_W, MUTED, Swatch, TEXT, WINDOW_EDGE, WINDOW_SHADE,
    anchored, check_window_for, empty_state, fmt_num, header, legend, text, window_label,
};
use crate::timeline::{bucket_width, runs, shade_window, x_range};

/// Draws the error timeline of one run to `out` (SVG or PNG by extension).
///
/// Every bucket gets a bar of its failed requests (every outcome but `ok` and `shed`), stacked
/// by class: refused, reset, 502, 503, 504, other 5xx, timeout, other. Classes that never occur
/// are left out of the legend. The deploy window `window_s` (seconds, as in the summary) is
/// shaded. When the buckets carry `ready_endpoints`, their count is a step line on the right
/// axis. No buckets give an empty-state chart; a reversed or non-finite window is
/// [`PlotError::InvalidInput`].
pub fn error_timeline(
    buckets: &[Bucket],
    window_s: [f64; 2],
    title: &str,
    out: impl AsRef<Path>,
) -> Result<(), PlotError> {
    let out = out.as_ref();
    check_window_for(window_s, out)?;
    render(
        &ErrorTimeline {
            buckets,
            window_s,
            title,
        },
        out,
    )
}

struct ErrorTimeline<'a> {
    buckets: &'a [Bucket],
    window_s: [f64; 2],
    title: &'a str,
}

impl Chart for ErrorTimeline<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        if self.buckets.is_empty() {
            return empty_state(root, self.title, "the timeline has no buckets");
        }
        let width = bucket_width(self.buckets);
        let classes: Vec<_> = FAILURE_CLASSES
            .iter()
            .map(|&(o, c)| {
                (
                    o,
                    c,
                    self.buckets.iter().map(|b| b.counts.get(o)).sum::<u64>(),
                )
            })
            .filter(|&(_, _, total)| total > 0)
            .collect();
        let failed_total: u64 = classes.iter().map(|c| c.2).sum();
        let stacked_max = self
            .buckets
            .iter()
            .map(|b| {
                classes
                    .iter()
                    .map(|&(o, _, _)| b.counts.get(o))
                    .sum::<u64>()
            })
            .max()
            .unwrap_or(0);
        let y_top = (stacked_max.max(1) as f64 * 1.12).ceil();
        let ready_max = self.buckets.iter().filter_map(|b| b.ready_endpoints).max();
        let ready_top = ready_max.map_or(1, |m| m as i32 + 1);

        let body = header(
            root,
            self.title,
            &format!(
                "failed requests per {} s bucket, stacked by outcome; {} failed in all buckets",
                fmt_num(width),
                failed_total
            ),
        )?;
        let (w, _) = body.dim_in_pixel();
        let (plot, legend_area) = body.split_horizontally(w - LEGEND_W);

        let (x0, x1) = x_range(self.buckets, width, self.window_s);
        let mut chart = ChartBuilder::on(&plot)
            .margin_left(12)
            .margin_right(8)
            .margin_top(8)
            .margin_bottom(12)
            .x_label_area_size(54)
            .y_label_area_size(78)
            .right_y_label_area_size(if ready_max.is_some() { 64 } else { 0 })
            .build_cartesian_2d(x0..x1, 0f64..y_top)?
            .set_secondary_coord(x0..x1, 0i32..ready_top);
        chart
            .configure_mesh()
            .x_desc("time since the run started (s)")
            .y_desc("failed requests per bucket")
            .x_label_formatter(&|v| fmt_num(*v))
            .y_labels((y_top as usize + 1).min(11))
            .y_label_formatter(&|v| fmt_num(*v))
            .label_style(text(15, &TEXT))
            .axis_desc_style(text(17, &TEXT))
            .max_light_lines(2)
            .light_line_style(GRID.mix(0.5))
            .bold_line_style(GRID)
            .draw()?;
        if ready_max.is_some() {
            chart
                .configure_secondary_axes()
                .y_desc("ready endpoints")
                .y_labels((ready_top as usize + 1).min(12))
                .y_label_formatter(&|v| v.to_string())
                .label_style(text(15, &GREEN))
                .axis_desc_style(text(17, &GREEN))
                .draw()?;
        }

        shade_window(&mut chart, self.window_s, (0.0, y_top))?;

        let gap = width * 0.08;
        for b in self.buckets.iter().filter(|b| b.t_s.is_finite()) {
            let mut base = 0.0;
            for &(outcome, color, _) in &classes {
                let n = b.counts.get(outcome) as f64;
                if n == 0.0 {
                    continue;
                }
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(b.t_s + gap, base), (b.t_s + width - gap, base + n)],
                    color.filled(),
                )))?;
                base += n;
            }
        }

        if failed_total == 0 {
            chart.draw_series(std::iter::once(Text::new(
                "no failed requests",
                ((x0 + x1) / 2.0, y_top * 0.6),
                anchored(text(22, &MUTED), HPos::Center, VPos::Center),
            )))?;
        }

        // Ready endpoints as a step line: each bucket's value holds across the bucket.
        let steps = runs(self.buckets.iter().map(|b| {
            b.ready_endpoints
                .filter(|_| b.t_s.is_finite())
                .map(|r| (b.t_s, r as i32))
        }));
        for run in steps {
            let mut points = Vec::with_capacity(run.len() * 2);
            for (t, r) in run {
                points.push((t, r));
                points.push((t + width, r));
            }
            chart.draw_secondary_series(LineSeries::new(points, GREEN.stroke_width(3)))?;
        }

        let mut entries = vec![(
            Swatch::Shade(WINDOW_SHADE, WINDOW_EDGE),
            window_label(self.window_s),
        )];
        entries.extend(
            classes
                .iter()
                .map(|&(o, c, total)| (Swatch::Box(c), format!("{o} ({total})"))),
        );
        if ready_max.is_some() {
            entries.push((Swatch::Line(GREEN, 3), "ready endpoints".into()));
        }
        legend(&legend_area, &entries)
    }
}
