//! The summary shape: one JSON document per run, written alike by the simulator and the live run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::figure::Figure;
use crate::outcome::OutcomeCounts;

/// The `schema` value of every summary this crate writes.
pub const SUMMARY_SCHEMA: &str = "fleetsim.summary/1";

/// The `schema` value of an aggregate over seeds.
pub const AGGREGATE_SCHEMA: &str = "fleetsim.aggregate/1";

/// Who produced a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The discrete-event simulator.
    Sim,
    /// A live run against real processes or a real cluster.
    Live,
}

/// Latency percentiles in milliseconds. `None` (JSON `null`) when no request had a latency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Percentiles {
    /// Median, in milliseconds.
    pub p50: Option<f64>,
    /// 99th percentile, in milliseconds.
    pub p99: Option<f64>,
    /// 99.9th percentile, in milliseconds.
    pub p999: Option<f64>,
}

/// Percentiles in the steady-state baseline and in the deploy window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySummary {
    /// Steady state before the rollout (after the warm-up).
    pub baseline: Percentiles,
    /// The deploy window.
    pub window: Percentiles,
}

/// What happened to the jobs, from the ledger (the source of truth, not logs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobCounts {
    /// Jobs published to the queue.
    pub published: u64,
    /// Jobs whose side effect was applied exactly once.
    pub applied_once: u64,
    /// Jobs whose side effect was applied more than once.
    pub duplicated: u64,
    /// Jobs never applied after the run settled.
    pub lost: u64,
    /// Jobs still queued or leased when the run ended (neither applied nor given up).
    pub pending: u64,
    /// Publish attempts (live `POST /jobs`) that got no 2xx answer: refused, reset, timed out or
    /// answered with an error. Such a job may still exist (a lost answer); the counts above are
    /// the ledger's, so they include it if it does. Absent (0) in simulated runs.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub publish_failed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl JobCounts {
    /// `published = applied_once + duplicated + lost + pending`.
    pub fn is_conserved(&self) -> bool {
        self.published == self.applied_once + self.duplicated + self.lost + self.pending
    }
}

/// One run's figures, in the shape `docs/measurement.md` fixes. Extra fields are allowed by the
/// contract; these are the ones every reader relies on. [`Figure`] names each number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Always [`SUMMARY_SCHEMA`].
    pub schema: String,
    /// Simulator or live run.
    pub source: Source,
    /// The scenario (simulator) or overlay (live) name.
    pub scenario: String,
    /// The seed of a simulated run; absent for a live run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The deploy window, in seconds from the run's origin.
    pub window_s: [f64; 2],
    /// Requests whose intended start fell in the window, by outcome.
    pub requests: OutcomeCounts,
    /// Every outcome but `ok` and `shed`.
    pub failed: u64,
    /// `failed / sent` in the window (0 when nothing was sent).
    pub error_rate: f64,
    /// Latency percentiles (from the intended start) in the baseline and in the window.
    pub latency_ms: LatencySummary,
    /// Minimum over the window of ready endpoints / desired replicas; `null` when unknown.
    pub capacity_dip: Option<f64>,
    /// The longest stretch of the window with no successful completion, in milliseconds.
    pub longest_success_gap_ms: f64,
    /// What happened to the jobs published during the run, from the ledger.
    pub jobs: JobCounts,
    /// Requests sent later than the generator's fault threshold (live only; any makes the run
    /// invalid).
    #[serde(default)]
    pub generator_faults: u64,
    /// Long-lived streams the simulated clients held (`[streams]` of a scenario), over the whole
    /// run; absent without streams. A live run's streams are in its `live.sse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<crate::StreamSummary>,
    /// Which commit, image, Kubernetes version... produced a live summary.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provenance: BTreeMap<String, String>,
}

impl Summary {
    /// Reads one figure.
    pub fn get(&self, figure: Figure) -> Option<f64> {
        figure.of(self)
    }

    /// Reads one figure by its dotted path (`"requests.refused"`, `"latency_ms.window.p99"`).
    /// `None` if the path names no [`Figure`] (or the figure is `null`).
    pub fn figure(&self, path: &str) -> Option<f64> {
        Figure::from_path(path).ok()?.of(self)
    }
}

/// The dotted paths of the headline figures ([`crate::figure::HEADLINE`]), for readers that
/// work with paths.
pub const HEADLINE_FIGURES: &[&str] = &crate::figure::HEADLINE_PATHS;

pub(crate) fn lookup<'a>(
    value: &'a serde_json::Value,
    path: &str,
) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}
