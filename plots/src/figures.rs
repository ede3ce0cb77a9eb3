//! Human names and units of the summary's figures, for titles, axes and value labels.

use crate::style::{fmt_num, fmt_percent};

/// How a figure (a dotted summary path) reads on a chart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FigureInfo {
    /// What it is, in words (`"p99 latency in the deploy window"`).
    pub name: String,
    /// The axis description, with the unit (`"ms"`).
    pub axis: String,
    /// Shown as a percentage (`error_rate`).
    pub percent: bool,
}

impl FigureInfo {
    /// A value of this figure, with its unit where that is short.
    pub(crate) fn format(&self, v: f64) -> String {
        if self.percent {
            fmt_percent(v)
        } else {
            fmt_num(v)
        }
    }
}

/// Describes a figure by its dotted path, from the registry ([`measure::Figure`]); paths
/// outside it read as themselves.
pub(crate) fn describe(path: &str) -> FigureInfo {
    match measure::Figure::from_path(path) {
        Ok(f) => FigureInfo {
            name: f.description().to_string(),
            axis: f.axis().to_string(),
            percent: f.unit() == measure::Unit::Fraction,
        },
        Err(_) => FigureInfo {
            name: path.to_string(),
            axis: path.to_string(),
            percent: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headline_figures_have_units() {
        for path in measure::figure::HEADLINE_PATHS {
            let d = describe(path);
            assert_ne!(d.axis, *path, "{path} has no description");
        }
        assert_eq!(describe("error_rate").format(0.0025), "0.25%");
        assert_eq!(describe("latency_ms.window.p99").axis, "latency (ms)");
        assert_eq!(describe("made.up").name, "made.up");
    }
}
