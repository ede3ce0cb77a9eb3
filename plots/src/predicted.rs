//! Predicted versus observed, figure by figure: the simulator's interval over seeds as a
//! whisker, each live observation as a point marked inside or outside it.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use measure::Stat;

use crate::PlotError;
use crate::figures::describe;
use crate::render::{Chart, DrawResult, SIZE, render};
use crate::style::{
    GREEN, GRID, HEADER_H, MUTED, RED, Swatch, TEXT, anchored, bold, draw_swatch, empty_state,
    header, padded, text,
};

/// One figure of one scenario: what the simulator predicted and what the live runs observed.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictedObserved {
    /// The scenario (or overlay) name: `before`, `after`, a lever.
    pub scenario: String,
    /// The figure's dotted summary path (`"requests.refused"`), see
    /// [`measure::Figure::path`].
    pub figure: String,
    /// The simulator's mean and interval over seeds (`Aggregate::figure`).
    pub predicted: Stat,
    /// The live runs' values of the figure, one per repeat (may be empty).
    pub observed: Vec<f64>,
}

impl PredictedObserved {
    /// How many observations fall inside the predicted interval (`Stat::contains`). A
    /// prediction with a non-finite mean, lo or hi contains nothing.
    pub fn inside(&self) -> usize {
        if !stat_is_finite(&self.predicted) {
            return 0;
        }
        self.observed
            .iter()
            .filter(|v| v.is_finite() && self.predicted.contains(**v))
            .count()
    }
}

const LEGEND_H: u32 = 44;
const ROW_H: u32 = 34;
const WIDTH: u32 = 1200;

/// The figures in the order they first appear, each with its rows.
fn panels(rows: &[PredictedObserved]) -> Vec<(&str, Vec<&PredictedObserved>)> {
    let mut out: Vec<(&str, Vec<&PredictedObserved>)> = Vec::new();
    for row in rows {
        match out.iter_mut().find(|(f, _)| *f == row.figure) {
            Some((_, list)) => list.push(row),
            None => out.push((&row.figure, vec![row])),
        }
    }
    out
}

fn columns(n_panels: usize) -> usize {
    if n_panels <= 1 { 1 } else { 2 }
}

fn panel_height(rows: &[PredictedObserved]) -> u32 {
    let most = panels(rows).iter().map(|(_, r)| r.len()).max().unwrap_or(1) as u32;
    (110 + ROW_H * most).max(230)
}

/// The size in pixels [`predicted_vs_observed`] draws `rows` at: 1200 wide; one panel per
/// figure, two panels a row, each panel as tall as its scenarios need. No rows give [`SIZE`].
pub fn predicted_vs_observed_size(rows: &[PredictedObserved]) -> (u32, u32) {
    let n = panels(rows).len();
    if n == 0 {
        return SIZE;
    }
    let panel_rows = n.div_ceil(columns(n)) as u32;
    (
        WIDTH,
        HEADER_H + LEGEND_H + panel_rows * panel_height(rows) + 10,
    )
}

/// Draws predicted against observed values to `out` (SVG or PNG by extension).
///
/// One panel per figure (in order of first appearance), its own axis and unit, a row per
/// scenario: the predicted interval `[lo, hi]` as a whisker with a tick at the mean, each
/// observation as a green dot when inside the interval and a red cross when outside. Each
/// panel's caption and the title count the observations inside. The image is
/// [`predicted_vs_observed_size`] pixels; no rows give an empty-state chart.
pub fn predicted_vs_observed(
    rows: &[PredictedObserved],
    out: impl AsRef<Path>,
) -> Result<(), PlotError> {
    render(&PredictedVsObserved { rows }, out.as_ref())
}

struct PredictedVsObserved<'a> {
    rows: &'a [PredictedObserved],
}

fn stat_is_finite(s: &Stat) -> bool {
    s.mean.is_finite() && s.lo.is_finite() && s.hi.is_finite()
}

impl Chart for PredictedVsObserved<'_> {
    fn size(&self) -> (u32, u32) {
        predicted_vs_observed_size(self.rows)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        if self.rows.is_empty() {
            return empty_state(
                root,
                "Predicted vs observed",
                "there are no figures to compare",
            );
        }
        let observations: usize = self
            .rows
            .iter()
            .map(|r| r.observed.iter().filter(|v| v.is_finite()).count())
            .sum();
        let inside: usize = self.rows.iter().map(PredictedObserved::inside).sum();
        let body = header(
            root,
            &format!(
                "Predicted vs observed: {inside} of {observations} observations inside the interval"
            ),
            "predicted: the simulator's mean and 2.5th to 97.5th percentile over seeds; observed: one point per live run",
        )?;
        let (legend_strip, grid) = body.split_vertically(LEGEND_H);
        let entries = [
            (
                Swatch::Whisker(TEXT),
                "predicted interval, tick at the mean",
            ),
            (Swatch::Dot(GREEN), "observed, inside"),
            (Swatch::Cross(RED), "observed, outside"),
        ];
        let mut x = 24;
        for (swatch, label) in entries {
            draw_swatch(&legend_strip, swatch, (x, 18))?;
            legend_strip.draw(&Text::new(
                label,
                (x + 36, 18),
                anchored(text(16, &TEXT), HPos::Left, VPos::Center),
            ))?;
            x += 60 + 9 * label.len() as i32;
        }

        let panels = panels(self.rows);
        let cols = columns(panels.len());
        let panel_rows = panels.len().div_ceil(cols);
        let areas = grid.margin(0, 10, 0, 0).split_evenly((panel_rows, cols));
        for ((figure, rows), area) in panels.iter().zip(areas.iter()) {
            draw_panel(area, figure, rows)?;
        }
        Ok(())
    }
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    figure: &str,
    rows: &[&PredictedObserved],
) -> DrawResult<DB> {
    let info = describe(figure);
    let observed: usize = rows
        .iter()
        .map(|r| r.observed.iter().filter(|v| v.is_finite()).count())
        .sum();
    let inside: usize = rows.iter().map(|r| r.inside()).sum();

    let values: Vec<f64> = rows
        .iter()
        .flat_map(|r| {
            let predicted = if stat_is_finite(&r.predicted) {
                vec![r.predicted.lo, r.predicted.mean, r.predicted.hi]
            } else {
                Vec::new()
            };
            predicted.into_iter().chain(r.observed.iter().copied())
        })
        .filter(|v| v.is_finite())
        .collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (x0, x1) = if values.is_empty() {
        (0.0, 1.0)
    } else {
        padded(lo, hi, 0.08)
    };

    let n = rows.len() as i32;
    let longest = rows
        .iter()
        .map(|r| r.scenario.chars().count())
        .max()
        .unwrap_or(1) as u32;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{}: {inside} of {observed} inside", info.name),
            bold(16, &TEXT),
        )
        .margin_left(12)
        .margin_right(28)
        .margin_top(6)
        .margin_bottom(6)
        .x_label_area_size(48)
        .y_label_area_size((24 + 8 * longest).max(70))
        .build_cartesian_2d(x0..x1, (0..n - 1).into_segmented())?;
    let names: Vec<&str> = rows.iter().map(|r| r.scenario.as_str()).collect();
    // The first row reads at the top: slot n - 1 - j holds row j.
    let slot = |j: usize| n - 1 - j as i32;
    let y_fmt = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(k) if (0..n).contains(k) => names[(n - 1 - k) as usize].to_string(),
        _ => String::new(),
    };
    let x_fmt = |v: &f64| info.format(*v);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows.len() + 1)
        .y_label_formatter(&y_fmt)
        .x_labels(6)
        .x_label_formatter(&x_fmt)
        .x_desc(info.axis.clone())
        .label_style(text(14, &TEXT))
        .axis_desc_style(text(15, &TEXT))
        .max_light_lines(1)
        .light_line_style(GRID.mix(0.5))
        .bold_line_style(GRID)
        .draw()?;

    for (j, row) in rows.iter().enumerate() {
        let centre = SegmentValue::CenterOf(slot(j));
        let s = row.predicted;
        if stat_is_finite(&s) {
            let style = TEXT.stroke_width(2);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(s.lo, centre.clone()), (s.hi, centre.clone())],
                style,
            )))?;
            for x in [s.lo, s.hi] {
                chart.draw_series(std::iter::once(
                    EmptyElement::at((x, centre.clone()))
                        + PathElement::new(vec![(0, -7), (0, 7)], style),
                ))?;
            }
            chart.draw_series(std::iter::once(
                EmptyElement::at((s.mean, centre.clone()))
                    + PathElement::new(vec![(0, -11), (0, 11)], TEXT.stroke_width(3)),
            ))?;
        } else {
            chart.draw_series(std::iter::once(Text::new(
                "no prediction",
                (x0, centre.clone()),
                anchored(text(14, &MUTED), HPos::Left, VPos::Center),
            )))?;
        }
        let points: Vec<f64> = row
            .observed
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        if points.is_empty() {
            chart.draw_series(std::iter::once(Text::new(
                "no observation",
                (x1, centre.clone()),
                anchored(text(14, &MUTED), HPos::Right, VPos::Center),
            )))?;
        }
        let m = points.len() as i32;
        for (k, v) in points.into_iter().enumerate() {
            // Repeats side by side vertically, so equal values stay countable.
            let dy = ((2 * k as i32 - (m - 1)) * 3).clamp(-12, 12);
            let at = EmptyElement::at((v, centre.clone()));
            if s.contains(v) {
                chart.draw_series(std::iter::once(
                    at + Circle::new((0, dy), 5, GREEN.filled()),
                ))?;
            } else {
                chart.draw_series(std::iter::once(
                    at + Cross::new((0, dy), 6, RED.stroke_width(3)),
                ))?;
            }
        }
    }
    Ok(())
}
