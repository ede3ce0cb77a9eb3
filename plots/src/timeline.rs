//! The time axis the per-bucket charts share: bucket width, x range, the shaded deploy window.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use measure::Bucket;

use crate::render::DrawResult;
use crate::style::{WINDOW_EDGE, WINDOW_SHADE};

/// The bucket width in seconds: the smallest step between consecutive buckets (1 s when there
/// is a single bucket, the contract's default).
pub(crate) fn bucket_width(buckets: &[Bucket]) -> f64 {
    buckets
        .windows(2)
        .map(|w| w[1].t_s - w[0].t_s)
        .filter(|d| d.is_finite() && *d > 0.0)
        .fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.min(d))))
        .unwrap_or(1.0)
}

/// The x range covering every bucket and the window.
pub(crate) fn x_range(buckets: &[Bucket], width: f64, window_s: [f64; 2]) -> (f64, f64) {
    let times = buckets.iter().map(|b| b.t_s).filter(|t| t.is_finite());
    let lo = times.clone().fold(window_s[0], f64::min);
    let hi = times.map(|t| t + width).fold(window_s[1], f64::max);
    if hi > lo { (lo, hi) } else { (lo, lo + width) }
}

/// Shades the deploy window over the whole height of a chart whose y axis is `f64`.
pub(crate) fn shade_window<DB: DrawingBackend, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    window_s: [f64; 2],
    (y_lo, y_hi): (Y::ValueType, Y::ValueType),
) -> DrawResult<DB>
where
    Y: Ranged,
    Y::ValueType: Clone + 'static,
{
    let [w0, w1] = window_s;
    chart.draw_series(std::iter::once(Rectangle::new(
        [(w0, y_lo.clone()), (w1, y_hi.clone())],
        WINDOW_SHADE.filled(),
    )))?;
    for x in [w0, w1] {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, y_lo.clone()), (x, y_hi.clone())],
            WINDOW_EDGE.stroke_width(1),
        )))?;
    }
    Ok(())
}

/// Splits `points` (in order) into runs without gaps, for lines that must not bridge a `None`.
pub(crate) fn runs<T: Copy>(points: impl IntoIterator<Item = Option<T>>) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = vec![Vec::new()];
    for p in points {
        match p {
            Some(p) => out.last_mut().expect("never empty").push(p),
            None => {
                if !out.last().expect("never empty").is_empty() {
                    out.push(Vec::new());
                }
            }
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_at_gaps() {
        let r = runs([Some(1), Some(2), None, None, Some(3), None]);
        assert_eq!(r, vec![vec![1, 2], vec![3]]);
        assert!(runs::<i32>([None]).is_empty());
    }
}
