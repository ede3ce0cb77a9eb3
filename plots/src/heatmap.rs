//! A sweep as a heatmap: one figure over a grid of two parameters, with a colour scale.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::PlotError;
use crate::render::{Chart, DrawResult, render};
use crate::style::{MUTED, TEXT, anchored, empty_state, finite, fmt_num, header, text};

/// One figure over a grid of two swept parameters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Heatmap {
    /// The chart's title (the figure drawn).
    pub title: String,
    /// The parameter along x, with its unit (`"lifecycle.prestop (s)"`).
    pub x_label: String,
    /// The parameter along y, with its unit.
    pub y_label: String,
    /// The x values, as they should read, left to right.
    pub x_values: Vec<String>,
    /// The y values, as they should read, bottom to top.
    pub y_values: Vec<String>,
    /// `values[y][x]`: one row per y value, one column per x value. `None` (or a non-finite
    /// value) is a point that has no value; it is drawn grey.
    pub values: Vec<Vec<Option<f64>>>,
    /// What the colour means, with its unit (`"refused requests (mean over seeds)"`).
    pub value_label: String,
}

/// Draws `grid` to `out` (SVG or PNG by extension): a cell per point coloured on a viridis scale
/// from the smallest to the largest value (legend on the right), with the value written in the
/// cell when it fits. `values` must have one row per `y_values` entry and one column per
/// `x_values` entry, else [`PlotError::InvalidInput`]; an empty grid gives an empty-state chart.
pub fn sweep_heatmap(grid: &Heatmap, out: impl AsRef<Path>) -> Result<(), PlotError> {
    let out = out.as_ref();
    check_shape(grid).map_err(|reason| PlotError::InvalidInput {
        path: out.to_path_buf(),
        reason,
    })?;
    render(&HeatmapChart { grid }, out)
}

fn check_shape(grid: &Heatmap) -> Result<(), String> {
    if grid.values.len() != grid.y_values.len() {
        return Err(format!(
            "values has {} rows but there are {} y values",
            grid.values.len(),
            grid.y_values.len()
        ));
    }
    for (j, row) in grid.values.iter().enumerate() {
        if row.len() != grid.x_values.len() {
            return Err(format!(
                "values row {j} (y = {}) has {} columns but there are {} x values",
                grid.y_values[j],
                row.len(),
                grid.x_values.len()
            ));
        }
    }
    Ok(())
}

/// Viridis, sampled at nine points and interpolated linearly.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];

const NO_VALUE: RGBColor = RGBColor(222, 222, 222);

/// The colour of `t` in `[0, 1]` (clamped).
fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = t * (VIRIDIS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(VIRIDIS.len() - 2);
    let f = pos - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Dark text on light cells, white on dark ones.
fn ink_on(c: RGBColor) -> RGBColor {
    let luma = 0.299 * f64::from(c.0) + 0.587 * f64::from(c.1) + 0.114 * f64::from(c.2);
    if luma > 140.0 { TEXT } else { WHITE }
}

struct HeatmapChart<'a> {
    grid: &'a Heatmap,
}

const SCALE_W: u32 = 190;

impl Chart for HeatmapChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let g = self.grid;
        if g.x_values.is_empty() || g.y_values.is_empty() {
            return empty_state(root, &g.title, "the sweep has no points");
        }
        let finite_values: Vec<f64> = g
            .values
            .iter()
            .flatten()
            .filter_map(|v| finite(*v))
            .collect();
        let missing = g.values.iter().flatten().any(|v| finite(*v).is_none());
        let (vmin, vmax) = finite_values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let subtitle = if finite_values.is_empty() {
            format!("{}: no point has a value", g.value_label)
        } else {
            format!(
                "colour: {}, from {} to {}; {} x {} points",
                g.value_label,
                fmt_num(vmin),
                fmt_num(vmax),
                g.x_values.len(),
                g.y_values.len()
            )
        };
        let body = header(root, &g.title, &subtitle)?;
        let (w, _) = body.dim_in_pixel();
        let (plot, scale) = body.split_horizontally(w - SCALE_W);

        let nx = g.x_values.len() as i32;
        let ny = g.y_values.len() as i32;
        let (pw, ph) = plot.dim_in_pixel();
        let y_label_w = 40
            + 8 * g
                .y_values
                .iter()
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(1) as u32;
        let cell_w = (pw as f64 - f64::from(y_label_w) - 40.0) / f64::from(nx);
        let cell_h = (ph as f64 - 90.0) / f64::from(ny);
        let x_label_w = 12.0
            + 8.0
                * g.x_values
                    .iter()
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(1) as f64;
        let x_every = ((x_label_w / cell_w).ceil() as usize).max(1);
        let y_every = ((22.0 / cell_h).ceil() as usize).max(1);

        let mut chart = ChartBuilder::on(&plot)
            .margin_left(12)
            .margin_right(24)
            .margin_top(8)
            .margin_bottom(12)
            .x_label_area_size(60)
            .y_label_area_size(y_label_w.max(70))
            // A segmented `0..n` has n + 1 slots; `0..n - 1` has the n the grid needs.
            .build_cartesian_2d((0..nx - 1).into_segmented(), (0..ny - 1).into_segmented())?;
        let x_fmt = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) if (*i as usize).is_multiple_of(x_every) => {
                g.x_values.get(*i as usize).cloned().unwrap_or_default()
            }
            _ => String::new(),
        };
        let y_fmt = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(j) if (*j as usize).is_multiple_of(y_every) => {
                g.y_values.get(*j as usize).cloned().unwrap_or_default()
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(g.x_values.len() + 1)
            .y_labels(g.y_values.len() + 1)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .x_desc(g.x_label.clone())
            .y_desc(g.y_label.clone())
            .label_style(text(15, &TEXT))
            .axis_desc_style(text(17, &TEXT))
            .draw()?;

        let span = vmax - vmin;
        let norm = |v: f64| if span > 0.0 { (v - vmin) / span } else { 0.5 };
        let show_values = cell_w >= 44.0 && cell_h >= 20.0;
        let value_size = (cell_h * 0.45).clamp(10.0, 15.0) as u32;
        for (j, row) in g.values.iter().enumerate() {
            for (i, v) in row.iter().enumerate() {
                let (i, j) = (i as i32, j as i32);
                let color = finite(*v).map_or(NO_VALUE, |v| viridis(norm(v)));
                let mut cell = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), SegmentValue::Exact(j)),
                        (SegmentValue::Exact(i + 1), SegmentValue::Exact(j + 1)),
                    ],
                    color.filled(),
                );
                cell.set_margin(1, 1, 1, 1);
                chart.draw_series(std::iter::once(cell))?;
                if show_values {
                    let label = finite(*v).map_or("–".to_string(), fmt_num);
                    chart.draw_series(std::iter::once(Text::new(
                        label,
                        (SegmentValue::CenterOf(i), SegmentValue::CenterOf(j)),
                        anchored(text(value_size, &ink_on(color)), HPos::Center, VPos::Center),
                    )))?;
                }
            }
        }

        self.draw_scale(&scale, vmin, vmax, missing)
    }
}

impl HeatmapChart<'_> {
    /// The colour scale: a bar from the smallest value (bottom) to the largest (top).
    fn draw_scale<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        vmin: f64,
        vmax: f64,
        missing: bool,
    ) -> DrawResult<DB> {
        let (lo, hi) = if vmin.is_finite() && vmax > vmin {
            (vmin, vmax)
        } else if vmin.is_finite() {
            (vmin - 0.5, vmin + 0.5)
        } else {
            (0.0, 1.0)
        };
        let mut bar = ChartBuilder::on(area)
            .margin_top(8)
            .margin_bottom(12 + 60)
            .margin_left(10)
            .margin_right(50)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..1.0, lo..hi)?;
        let value_label = self.grid.value_label.clone();
        bar.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(8)
            .y_label_formatter(&|v| fmt_num(*v))
            .y_desc(value_label)
            .label_style(text(14, &TEXT))
            .axis_desc_style(text(15, &TEXT))
            .draw()?;
        let steps = 120;
        let (a, b) = (lo.min(hi), hi.max(lo));
        let same = vmax <= vmin;
        bar.draw_series((0..steps).map(|k| {
            let y0 = a + (b - a) * k as f64 / steps as f64;
            let y1 = a + (b - a) * (k + 1) as f64 / steps as f64;
            let t = if same {
                0.5
            } else {
                (k as f64 + 0.5) / steps as f64
            };
            Rectangle::new([(0.0, y0), (1.0, y1)], viridis(t).filled())
        }))?;
        if missing {
            let (_, h) = area.dim_in_pixel();
            area.draw(&Rectangle::new(
                [(80, h as i32 - 46), (100, h as i32 - 32)],
                NO_VALUE.filled(),
            ))?;
            area.draw(&Text::new(
                "no value",
                (106, h as i32 - 39),
                anchored(text(14, &MUTED), HPos::Left, VPos::Center),
            ))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_ends_and_clamps() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(7.0), viridis(1.0));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
    }
}
