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
    pub fn format(&self, v: f64) -> String {
        if self.percent {
            fmt_percent(v)
        } else {
            fmt_num(v)
        }
    }
}

/// Describes a figure by its dotted path; unknown paths read as themselves.
pub(crate) fn describe(path: &str) -> FigureInfo {
    let info = |name: String, axis: &str, percent| FigureInfo {
        name,
        axis: axis.to_string(),
        percent,
    };
    let parts: Vec<&str> = path.split('.').collect();
    match parts.as_slice() {
        ["error_rate"] => info(
            "error rate in the deploy window".into(),
            "failed / sent (%)",
            true,
        ),
        ["failed"] => info(
            "failed requests in the deploy window".into(),
            "requests",
            false,
        ),
        ["requests", "sent"] => info(
            "requests sent in the deploy window".into(),
            "requests",
            false,
        ),
        ["requests", outcome] => info(
            format!("{outcome} requests in the deploy window"),
            "requests",
            false,
        ),
        ["latency_ms", period, p] => {
            let period = if *period == "window" {
                "the deploy window".to_string()
            } else {
                format!("the {period}")
            };
            info(format!("{p} latency in {period}"), "latency (ms)", false)
        }
        ["capacity_dip"] => info(
            "capacity dip (fewest ready / desired)".into(),
            "ready / desired replicas",
            false,
        ),
        ["longest_success_gap_ms"] => {
            info("longest gap between successes".into(), "gap (ms)", false)
        }
        ["jobs", state] => info(format!("{state} jobs"), "jobs", false),
        _ => info(path.to_string(), path, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headline_figures_have_units() {
        for path in measure::HEADLINE_FIGURES {
            let d = describe(path);
            assert_ne!(d.axis, *path, "{path} has no description");
        }
        assert_eq!(describe("error_rate").format(0.0025), "0.25%");
        assert_eq!(describe("latency_ms.window.p99").axis, "latency (ms)");
        assert_eq!(describe("made.up").name, "made.up");
    }
}
