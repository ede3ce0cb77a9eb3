//! The charts the demo and the sweep draw, through the `plots` crate (SVG by default, PNG by
//! `--format png`). Charts are drawn from the same result structs the files are written from.

use std::path::Path;

use measure::Figure;
use plots::{Heatmap, PlotError};

use crate::runner::RunReport;
use crate::sweep::SweepResult;

/// The figures drawn as bars across scenarios in the demo.
pub(crate) const BAR_FIGURES: [Figure; 7] = [
    Figure::Failed,
    Figure::Refused,
    Figure::Reset,
    Figure::WindowP99,
    Figure::CapacityDip,
    Figure::JobsDuplicated,
    Figure::JobsLost,
];

/// Draws the demo's charts into `dir`; returns `(title, file name relative to dir)`.
pub fn demo_charts(
    dir: &Path,
    reports: &[RunReport],
    ext: &str,
) -> Result<Vec<(String, String)>, PlotError> {
    let mut out = Vec::new();
    for name in ["before", "after", "after-no-surge"] {
        let Some(r) = reports.iter().find(|r| r.scenario == name) else {
            continue;
        };
        let Some(first) = r.summaries.first() else {
            continue;
        };
        let seed = first.seed.unwrap_or_default();
        let window = first.window_s;
        let file = format!("{name}/errors.{ext}");
        plots::error_timeline(
            &r.timeline,
            window,
            &format!("{name}: failed requests per second (seed {seed})"),
            dir.join(&file),
        )?;
        out.push((
            format!("{name}: error timeline with ready endpoints (seed {seed})"),
            file,
        ));
        let file = format!("{name}/p99.{ext}");
        plots::p99_timeline(
            &r.timeline,
            window,
            &format!("{name}: p99 and p50 per second (seed {seed})"),
            dir.join(&file),
        )?;
        out.push((format!("{name}: p99 per second (seed {seed})"), file));
        let file = format!("{name}/reconnects.{ext}");
        plots::reconnect_curve_titled(
            &r.reconnects,
            window,
            &format!("{name}: new connections per 10 ms (seed {seed})"),
            dir.join(&file),
        )?;
        out.push((
            format!("{name}: reconnect curve, 10 ms buckets (seed {seed})"),
            file,
        ));
    }
    let rows: Vec<(String, measure::Aggregate)> = reports
        .iter()
        .map(|r| (r.scenario.clone(), r.aggregate()))
        .collect();
    for f in BAR_FIGURES {
        let file = format!("bars-{}.{ext}", f.path().replace('.', "-"));
        plots::before_after_bars(&rows, f, dir.join(&file))?;
        out.push((format!("{f} across scenarios (mean, 95% interval)"), file));
    }
    Ok(out)
}

/// Heatmaps of a whole two-dimensional sweep: failed requests and window p99, mean over seeds
/// (first `--vary` along y, second along x). Nothing for other shapes. Returns the files.
pub fn sweep_charts(dir: &Path, sweep: &SweepResult, ext: &str) -> Result<Vec<String>, PlotError> {
    if sweep.grid.varies.len() != 2 || !sweep.is_whole() {
        return Ok(Vec::new());
    }
    let (y, x) = (&sweep.grid.varies[0], &sweep.grid.varies[1]);
    let mut files = Vec::new();
    for (figure, label) in [
        (
            Figure::Failed,
            "failed requests in the window (mean over seeds)",
        ),
        (Figure::WindowP99, "window p99, ms (mean over seeds)"),
    ] {
        let mut values = vec![vec![None; x.levels.len()]; y.levels.len()];
        for row in &sweep.rows {
            let l = sweep.grid.levels_of(row.point);
            values[l[0]][l[1]] = row.mean(figure);
        }
        let file = format!("heatmap-{}.{ext}", figure.path().replace('.', "-"));
        plots::sweep_heatmap(
            &Heatmap {
                title: format!("{}: {label}", sweep.meta.scenario),
                x_label: x.path.clone(),
                y_label: y.path.clone(),
                x_values: x.levels.iter().map(|l| l.label.clone()).collect(),
                y_values: y.levels.iter().map(|l| l.label.clone()).collect(),
                values,
                value_label: label.to_string(),
            },
            dir.join(&file),
        )?;
        files.push(file);
    }
    Ok(files)
}
