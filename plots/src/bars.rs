//! One headline figure across scenarios: bars of the mean with whiskers from lo to hi.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use measure::{Aggregate, Figure, Stat};

use crate::PlotError;
use crate::figures::describe;
use crate::render::{Chart, DrawResult, render};
use crate::style::{BLUE, GREEN, GRID, MUTED, RED, TEXT, anchored, empty_state, header, text};

/// Draws `figure` (one of the summary's [`Figure`]s, such as [`Figure::Refused`]) for every `(scenario, aggregate)` row to `out` (SVG or PNG by
/// extension), in the order given: a bar of the mean over seeds with a whisker from `lo` to `hi`
/// (the 2.5th and 97.5th percentiles), the mean written above it. `before` is red, `after`
/// green, every other scenario blue. A row whose aggregate lacks the figure shows `n/a`. No
/// rows, or no row with the figure, give an empty-state chart.
pub fn before_after_bars(
    rows: &[(String, Aggregate)],
    figure: Figure,
    out: impl AsRef<Path>,
) -> Result<(), PlotError> {
    let figure = figure.path();
    let bars: Vec<Bar> = rows
        .iter()
        .map(|(scenario, agg)| Bar {
            scenario: scenario.clone(),
            stat: agg
                .figure(figure)
                .filter(|s| s.mean.is_finite() && s.lo.is_finite() && s.hi.is_finite()),
            seeds: agg.seeds(),
        })
        .collect();
    render(&Bars { bars, figure }, out.as_ref())
}

struct Bar {
    scenario: String,
    stat: Option<Stat>,
    seeds: u64,
}

struct Bars<'a> {
    bars: Vec<Bar>,
    figure: &'a str,
}

fn bar_color(scenario: &str) -> RGBColor {
    match scenario {
        "before" => RED,
        "after" => GREEN,
        _ => BLUE,
    }
}

impl Chart for Bars<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let info = describe(self.figure);
        let title = format!("{} by scenario", capitalized(&info.name));
        if self.bars.is_empty() {
            return empty_state(root, &title, "no scenarios were given");
        }
        let stats: Vec<Stat> = self.bars.iter().filter_map(|b| b.stat).collect();
        if stats.is_empty() {
            return empty_state(
                root,
                &title,
                &format!("no scenario has the figure {:?}", self.figure),
            );
        }
        let lo = stats.iter().map(|s| s.lo.min(s.mean)).fold(0.0, f64::min);
        let hi = stats.iter().map(|s| s.hi.max(s.mean)).fold(0.0, f64::max);
        let (y_lo, y_hi) = if hi - lo > 0.0 {
            (
                lo - (hi - lo) * if lo < 0.0 { 0.1 } else { 0.0 },
                hi + (hi - lo) * 0.15,
            )
        } else {
            (0.0, 1.0)
        };

        let seeds: Vec<u64> = self
            .bars
            .iter()
            .filter(|b| b.stat.is_some())
            .map(|b| b.seeds)
            .collect();
        let (min_seeds, max_seeds) = (
            seeds.iter().copied().min().unwrap_or(0),
            seeds.iter().copied().max().unwrap_or(0),
        );
        let n = if min_seeds == max_seeds {
            format!("{min_seeds}")
        } else {
            format!("{min_seeds}–{max_seeds}")
        };
        let body = header(
            root,
            &title,
            &format!(
                "bar: mean over {n} seeds; whisker: 2.5th to 97.5th percentile over seeds; figure {}",
                self.figure
            ),
        )?;

        let count = self.bars.len() as i32;
        let (w, _) = body.dim_in_pixel();
        let slot = (w as f64 - 130.0) / f64::from(count);
        let longest = self
            .bars
            .iter()
            .map(|b| b.scenario.chars().count())
            .max()
            .unwrap_or(0);
        // Labels that do not fit their slot side by side are turned to read upwards.
        let turn = longest as f64 * 8.0 > slot * 0.95;
        let label_area = if turn { 30 + longest as u32 * 8 } else { 56 };
        let mut chart = ChartBuilder::on(&body)
            .margin_left(12)
            .margin_right(24)
            .margin_top(8)
            .margin_bottom(12)
            .x_label_area_size(label_area)
            .y_label_area_size(96)
            // A segmented `0..n` has n + 1 slots; `0..n - 1` has the n the bars need.
            .build_cartesian_2d((0..count - 1).into_segmented(), y_lo..y_hi)?;
        let names: Vec<&str> = self.bars.iter().map(|b| b.scenario.as_str()).collect();
        // Turned labels are drawn below by hand: the mesh would centre them on the axis.
        let label = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) if !turn => names
                .get(*i as usize)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        let y_fmt = |v: &f64| info.format(*v);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(self.bars.len() + 1)
            .x_label_formatter(&label)
            .label_style(text(15, &TEXT))
            .y_desc(info.axis.clone())
            .y_label_formatter(&y_fmt)
            .axis_desc_style(text(17, &TEXT))
            .max_light_lines(2)
            .light_line_style(GRID.mix(0.5))
            .bold_line_style(GRID)
            .draw()?;

        if turn {
            for (i, name) in names.iter().enumerate() {
                let (x, y) = chart.backend_coord(&(SegmentValue::CenterOf(i as i32), y_lo));
                // Rotated a quarter turn, the text's end sits just under the axis.
                root.draw(&Text::new(
                    name.to_string(),
                    (x, y + 10),
                    anchored(text(15, &TEXT), HPos::Right, VPos::Center)
                        .transform(FontTransform::Rotate270),
                ))?;
            }
        }

        let margin = ((slot * 0.2) as u32).clamp(4, 60);
        for (i, bar) in self.bars.iter().enumerate() {
            let i = i as i32;
            let centre = SegmentValue::CenterOf(i);
            let Some(stat) = bar.stat else {
                chart.draw_series(std::iter::once(Text::new(
                    "n/a",
                    (centre, y_lo + (y_hi - y_lo) * 0.03),
                    anchored(text(16, &MUTED), HPos::Center, VPos::Bottom),
                )))?;
                continue;
            };
            let color = bar_color(&bar.scenario);
            let mut rect = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), stat.mean),
                ],
                color.mix(0.8).filled(),
            );
            rect.set_margin(0, 0, margin, margin);
            chart.draw_series(std::iter::once(rect))?;

            let whisker = TEXT.stroke_width(2);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(centre.clone(), stat.lo), (centre.clone(), stat.hi)],
                whisker,
            )))?;
            for y in [stat.lo, stat.hi] {
                chart.draw_series(std::iter::once(
                    EmptyElement::at((centre.clone(), y))
                        + PathElement::new(vec![(-10, 0), (10, 0)], whisker),
                ))?;
            }
            chart.draw_series(std::iter::once(
                EmptyElement::at((centre.clone(), stat.hi.max(stat.mean)))
                    + Text::new(
                        info.format(stat.mean),
                        (0, -8),
                        anchored(text(15, &TEXT), HPos::Center, VPos::Bottom),
                    ),
            ))?;
        }
        Ok(())
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
