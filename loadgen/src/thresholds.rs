//! Pass/fail limits on a run (`--max-failed N`, `--max-p99 DUR`), as load-testing tools have
//! them: `fleetsim load` checks them against what the generator counted, `fleetsim analyze`
//! against the summary of the deploy window, and a breach makes the command exit non-zero with
//! a message naming the limit.

use std::fmt;
use std::time::Duration;

use clap::Args;
use measure::parse_duration_or_secs;

/// The limits a run must stay within (none by default).
#[derive(Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct Thresholds {
    /// Fail (exit non-zero) when more than N requests failed (every outcome but `ok` and
    /// `shed`; for `analyze`, inside the deploy window).
    #[arg(long, value_name = "N")]
    pub max_failed: Option<u64>,
    /// Fail (exit non-zero) when the latency p99 (from intended start) is above DUR, e.g.
    /// 250ms (for `analyze`, the deploy window's p99).
    #[arg(long, value_name = "DUR", value_parser = parse_duration_or_secs)]
    pub max_p99: Option<Duration>,
}

/// A limit the run broke.
#[derive(Clone, Debug, PartialEq)]
pub enum Breach {
    /// More failed requests than `--max-failed`.
    Failed {
        /// Requests that failed.
        failed: u64,
        /// The limit.
        max: u64,
    },
    /// A latency p99 above `--max-p99`, or none at all (no request got a response).
    P99 {
        /// The p99, ms; `None` when no request had a latency.
        p99_ms: Option<f64>,
        /// The limit, ms.
        max_ms: f64,
    },
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Breach::Failed { failed, max } => {
                write!(f, "--max-failed {max}: {failed} requests failed")
            }
            Breach::P99 {
                p99_ms: Some(p),
                max_ms,
            } => write!(f, "--max-p99 {max_ms} ms: latency p99 was {p:.3} ms"),
            Breach::P99 {
                p99_ms: None,
                max_ms,
            } => write!(
                f,
                "--max-p99 {max_ms} ms: no request had a latency (no response at all)"
            ),
        }
    }
}

impl Thresholds {
    /// The limits broken by a run with `failed` failed requests and latency p99 `p99_ms`
    /// (`None` when no request had one); empty when the run passes.
    pub fn check(&self, failed: u64, p99_ms: Option<f64>) -> Vec<Breach> {
        let mut out = Vec::new();
        if let Some(max) = self.max_failed
            && failed > max
        {
            out.push(Breach::Failed { failed, max });
        }
        if let Some(max) = self.max_p99 {
            let max_ms = max.as_secs_f64() * 1e3;
            if p99_ms.is_none_or(|p| p > max_ms) {
                out.push(Breach::P99 { p99_ms, max_ms });
            }
        }
        out
    }

    /// [`Thresholds::check`] against a finished load run.
    pub fn check_load(&self, report: &crate::LoadReport) -> Vec<Breach> {
        self.check(
            report.failed,
            report.latency_p99_ns.map(|ns| ns as f64 / 1e6),
        )
    }

    /// [`Thresholds::check`] against an analysis: failed requests and latency p99 of the
    /// deploy window.
    pub fn check_summary(&self, summary: &measure::Summary) -> Vec<Breach> {
        self.check(summary.failed, summary.latency_ms.window.p99)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_is_checked_on_its_own_and_at_its_edge() {
        let t = Thresholds {
            max_failed: Some(0),
            max_p99: Some(Duration::from_millis(250)),
        };
        assert!(t.check(0, Some(250.0)).is_empty());
        assert_eq!(
            t.check(1, Some(10.0)),
            [Breach::Failed { failed: 1, max: 0 }]
        );
        let b = t.check(0, Some(250.5));
        assert_eq!(b.len(), 1);
        assert!(b[0].to_string().starts_with("--max-p99 250 ms"), "{}", b[0]);
        assert_eq!(t.check(3, None).len(), 2);
        assert!(Thresholds::default().check(1_000_000, None).is_empty());
    }
}
