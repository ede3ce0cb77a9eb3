//! The figures of a [`Summary`], typed: one registry of every number a table, chart, sweep or
//! report reads, with its dotted path, its label, its unit and which direction is better.
//!
//! A figure named by a typo does not compile; a path read from a file goes through
//! [`Figure::from_path`] (or `str::parse`), which rejects names outside the registry.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::aggregate::{Aggregate, Stat};
use crate::outcome::Outcome;
use crate::summary::Summary;

/// Which way a figure should move for a deploy to be better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Better {
    /// A count of failures: zero is the goal.
    Zero,
    /// Lower is better but zero is not expected (latency).
    Lower,
    /// Higher is better (capacity, successful requests).
    Higher,
    /// Neither direction is better (how much load was sent or queued).
    Neither,
}

/// The unit a figure is counted or measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// A fraction of the requests sent, shown as a percentage.
    Fraction,
    /// Requests.
    Requests,
    /// Jobs.
    Jobs,
    /// Milliseconds.
    Milliseconds,
    /// Ready endpoints over desired replicas.
    ReadyPerDesired,
}

impl Unit {
    /// The unit's short name (`"ms"`, `"requests"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Unit::Fraction => "%",
            Unit::Requests => "requests",
            Unit::Jobs => "jobs",
            Unit::Milliseconds => "ms",
            Unit::ReadyPerDesired => "ready/desired",
        }
    }
}

/// One figure of the summary. [`Figure::ALL`] lists every one, in the summary's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Figure {
    /// `error_rate`: failed / sent in the deploy window.
    ErrorRate,
    /// `failed`: requests of the window that ended in any outcome but `ok` and `shed`.
    Failed,
    /// `requests.sent`: requests whose intended start fell in the window.
    Sent,
    /// `requests.ok`.
    Ok,
    /// `requests.refused`.
    Refused,
    /// `requests.reset`.
    Reset,
    /// `requests.http_502`.
    Http502,
    /// `requests.http_503`.
    Http503,
    /// `requests.http_504`.
    Http504,
    /// `requests.http_5xx_other`.
    Http5xxOther,
    /// `requests.timeout`.
    Timeout,
    /// `requests.shed`.
    Shed,
    /// `requests.other`.
    Other,
    /// `latency_ms.baseline.p50`.
    BaselineP50,
    /// `latency_ms.baseline.p99`.
    BaselineP99,
    /// `latency_ms.baseline.p999`.
    BaselineP999,
    /// `latency_ms.window.p50`.
    WindowP50,
    /// `latency_ms.window.p99`.
    WindowP99,
    /// `latency_ms.window.p999`.
    WindowP999,
    /// `capacity_dip`: fewest ready endpoints over desired replicas in the window.
    CapacityDip,
    /// `longest_success_gap_ms`: the longest stretch of the window with no success.
    LongestSuccessGap,
    /// `jobs.published`.
    JobsPublished,
    /// `jobs.applied_once`.
    JobsAppliedOnce,
    /// `jobs.duplicated`.
    JobsDuplicated,
    /// `jobs.lost`.
    JobsLost,
    /// `jobs.pending`.
    JobsPending,
    /// `generator_faults`: requests the live generator sent late.
    GeneratorFaults,
}

/// Every figure of the summary, in the summary's order.
pub const FIGURES: [Figure; 27] = Figure::ALL;

/// The headline figures that compare, sweeps and validation reports put side by side.
pub const HEADLINE: [Figure; 11] = [
    Figure::ErrorRate,
    Figure::Failed,
    Figure::Refused,
    Figure::Reset,
    Figure::Http502,
    Figure::Timeout,
    Figure::WindowP99,
    Figure::CapacityDip,
    Figure::LongestSuccessGap,
    Figure::JobsDuplicated,
    Figure::JobsLost,
];

/// The figures that make up loss: a run is loss-free when all three are zero.
pub const LOSS: [Figure; 3] = [Figure::Failed, Figure::JobsLost, Figure::JobsDuplicated];

/// The failure modes the levers address, in the ablation table's order.
pub const FAILURE_MODES: [Figure; 10] = [
    Figure::Refused,
    Figure::Reset,
    Figure::Http502,
    Figure::Http503,
    Figure::Http504,
    Figure::Timeout,
    Figure::JobsDuplicated,
    Figure::JobsLost,
    Figure::WindowP99,
    Figure::CapacityDip,
];

/// The dotted paths of [`HEADLINE`], for readers that work with paths.
pub const HEADLINE_PATHS: [&str; 11] = {
    let mut out = [""; 11];
    let mut i = 0;
    while i < HEADLINE.len() {
        out[i] = HEADLINE[i].path();
        i += 1;
    }
    out
};

impl Figure {
    /// Every figure, in the summary's order.
    pub const ALL: [Figure; 27] = [
        Figure::ErrorRate,
        Figure::Failed,
        Figure::Sent,
        Figure::Ok,
        Figure::Refused,
        Figure::Reset,
        Figure::Http502,
        Figure::Http503,
        Figure::Http504,
        Figure::Http5xxOther,
        Figure::Timeout,
        Figure::Shed,
        Figure::Other,
        Figure::BaselineP50,
        Figure::BaselineP99,
        Figure::BaselineP999,
        Figure::WindowP50,
        Figure::WindowP99,
        Figure::WindowP999,
        Figure::CapacityDip,
        Figure::LongestSuccessGap,
        Figure::JobsPublished,
        Figure::JobsAppliedOnce,
        Figure::JobsDuplicated,
        Figure::JobsLost,
        Figure::JobsPending,
        Figure::GeneratorFaults,
    ];

    /// The count of one outcome in the window.
    pub const fn requests(outcome: Outcome) -> Figure {
        match outcome {
            Outcome::Ok => Figure::Ok,
            Outcome::Refused => Figure::Refused,
            Outcome::Reset => Figure::Reset,
            Outcome::Http502 => Figure::Http502,
            Outcome::Http503 => Figure::Http503,
            Outcome::Http504 => Figure::Http504,
            Outcome::Http5xxOther => Figure::Http5xxOther,
            Outcome::Timeout => Figure::Timeout,
            Outcome::Shed => Figure::Shed,
            Outcome::Other => Figure::Other,
        }
    }

    /// The figure's dotted path in the summary JSON (`"requests.refused"`).
    pub const fn path(self) -> &'static str {
        match self {
            Figure::ErrorRate => "error_rate",
            Figure::Failed => "failed",
            Figure::Sent => "requests.sent",
            Figure::Ok => "requests.ok",
            Figure::Refused => "requests.refused",
            Figure::Reset => "requests.reset",
            Figure::Http502 => "requests.http_502",
            Figure::Http503 => "requests.http_503",
            Figure::Http504 => "requests.http_504",
            Figure::Http5xxOther => "requests.http_5xx_other",
            Figure::Timeout => "requests.timeout",
            Figure::Shed => "requests.shed",
            Figure::Other => "requests.other",
            Figure::BaselineP50 => "latency_ms.baseline.p50",
            Figure::BaselineP99 => "latency_ms.baseline.p99",
            Figure::BaselineP999 => "latency_ms.baseline.p999",
            Figure::WindowP50 => "latency_ms.window.p50",
            Figure::WindowP99 => "latency_ms.window.p99",
            Figure::WindowP999 => "latency_ms.window.p999",
            Figure::CapacityDip => "capacity_dip",
            Figure::LongestSuccessGap => "longest_success_gap_ms",
            Figure::JobsPublished => "jobs.published",
            Figure::JobsAppliedOnce => "jobs.applied_once",
            Figure::JobsDuplicated => "jobs.duplicated",
            Figure::JobsLost => "jobs.lost",
            Figure::JobsPending => "jobs.pending",
            Figure::GeneratorFaults => "generator_faults",
        }
    }

    /// A short column label for tables (`"refused"`, `"p99 ms"`, `"dup jobs"`).
    pub const fn label(self) -> &'static str {
        match self {
            Figure::ErrorRate => "error rate",
            Figure::Failed => "failed",
            Figure::Sent => "sent",
            Figure::Ok => "ok",
            Figure::Refused => "refused",
            Figure::Reset => "reset",
            Figure::Http502 => "502",
            Figure::Http503 => "503",
            Figure::Http504 => "504",
            Figure::Http5xxOther => "5xx other",
            Figure::Timeout => "timeout",
            Figure::Shed => "shed",
            Figure::Other => "other",
            Figure::BaselineP50 => "baseline p50 ms",
            Figure::BaselineP99 => "baseline p99 ms",
            Figure::BaselineP999 => "baseline p999 ms",
            Figure::WindowP50 => "p50 ms",
            Figure::WindowP99 => "p99 ms",
            Figure::WindowP999 => "p999 ms",
            Figure::CapacityDip => "capacity",
            Figure::LongestSuccessGap => "success gap ms",
            Figure::JobsPublished => "published jobs",
            Figure::JobsAppliedOnce => "applied jobs",
            Figure::JobsDuplicated => "dup jobs",
            Figure::JobsLost => "lost jobs",
            Figure::JobsPending => "pending jobs",
            Figure::GeneratorFaults => "generator faults",
        }
    }

    /// What the figure is, in words, for chart titles (`"p99 latency in the deploy window"`).
    pub const fn description(self) -> &'static str {
        match self {
            Figure::ErrorRate => "error rate in the deploy window",
            Figure::Failed => "failed requests in the deploy window",
            Figure::Sent => "requests sent in the deploy window",
            Figure::Ok => "ok requests in the deploy window",
            Figure::Refused => "refused requests in the deploy window",
            Figure::Reset => "reset requests in the deploy window",
            Figure::Http502 => "http_502 requests in the deploy window",
            Figure::Http503 => "http_503 requests in the deploy window",
            Figure::Http504 => "http_504 requests in the deploy window",
            Figure::Http5xxOther => "http_5xx_other requests in the deploy window",
            Figure::Timeout => "timeout requests in the deploy window",
            Figure::Shed => "shed requests in the deploy window",
            Figure::Other => "other requests in the deploy window",
            Figure::BaselineP50 => "p50 latency in the baseline",
            Figure::BaselineP99 => "p99 latency in the baseline",
            Figure::BaselineP999 => "p999 latency in the baseline",
            Figure::WindowP50 => "p50 latency in the deploy window",
            Figure::WindowP99 => "p99 latency in the deploy window",
            Figure::WindowP999 => "p999 latency in the deploy window",
            Figure::CapacityDip => "capacity dip (fewest ready / desired)",
            Figure::LongestSuccessGap => "longest gap between successes",
            Figure::JobsPublished => "published jobs",
            Figure::JobsAppliedOnce => "applied_once jobs",
            Figure::JobsDuplicated => "duplicated jobs",
            Figure::JobsLost => "lost jobs",
            Figure::JobsPending => "pending jobs",
            Figure::GeneratorFaults => "requests the generator sent late",
        }
    }

    /// The axis title of a chart of this figure, with its unit (`"latency (ms)"`).
    pub const fn axis(self) -> &'static str {
        match self.unit() {
            Unit::Fraction => "failed / sent (%)",
            Unit::Requests => "requests",
            Unit::Jobs => "jobs",
            Unit::Milliseconds => match self {
                Figure::LongestSuccessGap => "gap (ms)",
                _ => "latency (ms)",
            },
            Unit::ReadyPerDesired => "ready / desired replicas",
        }
    }

    /// The unit the figure is in.
    pub const fn unit(self) -> Unit {
        match self {
            Figure::ErrorRate => Unit::Fraction,
            Figure::BaselineP50
            | Figure::BaselineP99
            | Figure::BaselineP999
            | Figure::WindowP50
            | Figure::WindowP99
            | Figure::WindowP999
            | Figure::LongestSuccessGap => Unit::Milliseconds,
            Figure::CapacityDip => Unit::ReadyPerDesired,
            Figure::JobsPublished
            | Figure::JobsAppliedOnce
            | Figure::JobsDuplicated
            | Figure::JobsLost
            | Figure::JobsPending => Unit::Jobs,
            _ => Unit::Requests,
        }
    }

    /// Which way is better for this figure.
    pub const fn better(self) -> Better {
        match self {
            Figure::ErrorRate
            | Figure::Failed
            | Figure::Refused
            | Figure::Reset
            | Figure::Http502
            | Figure::Http503
            | Figure::Http504
            | Figure::Http5xxOther
            | Figure::Timeout
            | Figure::Other
            | Figure::JobsDuplicated
            | Figure::JobsLost
            | Figure::GeneratorFaults => Better::Zero,
            Figure::BaselineP50
            | Figure::BaselineP99
            | Figure::BaselineP999
            | Figure::WindowP50
            | Figure::WindowP99
            | Figure::WindowP999
            | Figure::LongestSuccessGap
            | Figure::Shed
            | Figure::JobsPending => Better::Lower,
            Figure::Ok | Figure::CapacityDip | Figure::JobsAppliedOnce => Better::Higher,
            Figure::Sent | Figure::JobsPublished => Better::Neither,
        }
    }

    /// The figure of one summary; `None` when it is `null` (no latency, unknown capacity).
    pub fn of(self, s: &Summary) -> Option<f64> {
        let count = |n: u64| Some(n as f64);
        let r = &s.requests;
        let (b, w) = (&s.latency_ms.baseline, &s.latency_ms.window);
        match self {
            Figure::ErrorRate => Some(s.error_rate),
            Figure::Failed => count(s.failed),
            Figure::Sent => count(r.sent),
            Figure::Ok
            | Figure::Refused
            | Figure::Reset
            | Figure::Http502
            | Figure::Http503
            | Figure::Http504
            | Figure::Http5xxOther
            | Figure::Timeout
            | Figure::Shed
            | Figure::Other => {
                let o = Outcome::ALL
                    .into_iter()
                    .find(|&o| Figure::requests(o) == self)
                    .expect("every request figure is an outcome");
                count(r.get(o))
            }
            Figure::BaselineP50 => b.p50,
            Figure::BaselineP99 => b.p99,
            Figure::BaselineP999 => b.p999,
            Figure::WindowP50 => w.p50,
            Figure::WindowP99 => w.p99,
            Figure::WindowP999 => w.p999,
            Figure::CapacityDip => s.capacity_dip,
            Figure::LongestSuccessGap => Some(s.longest_success_gap_ms),
            Figure::JobsPublished => count(s.jobs.published),
            Figure::JobsAppliedOnce => count(s.jobs.applied_once),
            Figure::JobsDuplicated => count(s.jobs.duplicated),
            Figure::JobsLost => count(s.jobs.lost),
            Figure::JobsPending => count(s.jobs.pending),
            Figure::GeneratorFaults => count(s.generator_faults),
        }
    }

    /// The figure's statistic over seeds in an aggregate.
    pub fn stat(self, a: &Aggregate) -> Option<Stat> {
        a.stat(self)
    }

    /// The figure with this dotted path.
    pub fn from_path(path: &str) -> Result<Figure, UnknownFigure> {
        Figure::ALL
            .into_iter()
            .find(|f| f.path() == path)
            .ok_or_else(|| UnknownFigure(path.to_string()))
    }
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// A dotted path that names no figure of the summary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown figure {0:?}: expected a summary path such as requests.refused or latency_ms.window.p99"
)]
pub struct UnknownFigure(pub String);

impl FromStr for Figure {
    type Err = UnknownFigure;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Figure::from_path(s)
    }
}

impl Serialize for Figure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.path())
    }
}

impl<'de> Deserialize<'de> for Figure {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let path = String::deserialize(d)?;
        Figure::from_path(&path).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::lookup;

    #[test]
    fn every_path_reads_the_summary_json_at_that_path() {
        let s: Summary = serde_json::from_str(include_str!("../tests/summary-example.json"))
            .expect("the example is a summary");
        let json = serde_json::to_value(&s).unwrap();
        for f in Figure::ALL {
            let by_path = lookup(&json, f.path()).and_then(serde_json::Value::as_f64);
            assert_eq!(f.of(&s), by_path, "{f}");
            assert!(by_path.is_some(), "{f} is null in the example");
            assert_eq!(f.path().parse::<Figure>(), Ok(f));
        }
        assert!("requests.refuse".parse::<Figure>().is_err());
    }

    #[test]
    fn the_registry_lists_every_figure_once() {
        let mut paths: Vec<&str> = Figure::ALL.iter().map(|f| f.path()).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), Figure::ALL.len());
        assert_eq!(HEADLINE_PATHS[6], "latency_ms.window.p99");
        for f in LOSS {
            assert_eq!(f.better(), Better::Zero);
        }
    }
}
