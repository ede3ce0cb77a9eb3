//! # measure: the measurement contract of fleetsim
//!
//! The simulator and the live run answer the same question and must be compared figure by
//! figure, so the definitions live here, once: the [`Outcome`] classes, the per-request
//! [`Sample`], the deploy-window [`analyze`]r, the [`Summary`] JSON shape and its [`Aggregate`]
//! over seeds, the registry of [`Figure`]s every table, chart and report reads, the five
//! [`Lever`]s, and the [`ShutdownStep`]s a pod logs. This crate does no I/O.
//!
//! Every module is private and what it defines is re-exported here, except [`figure`]: its named
//! lists of figures ([`figure::HEADLINE`], [`figure::LOSS`], [`figure::FAILURE_MODES`], ...) read
//! better with their namespace than as a bare `HEADLINE` at the crate root.
//!
//! ```
//! use measure::{analyze, AnalyzeConfig, JobCounts, Outcome, RunLabel, RunMarks, Sample, Source};
//!
//! let ms = 1_000_000;
//! let samples = [
//!     Sample { intended_ns: 1_000 * ms, start_ns: 1_000 * ms, end_ns: 1_100 * ms, outcome: Outcome::Ok, new_conn: true },
//!     Sample { intended_ns: 3_000 * ms, start_ns: 3_000 * ms, end_ns: 3_001 * ms, outcome: Outcome::Refused, new_conn: true },
//!     Sample { intended_ns: 3_500 * ms, start_ns: 3_500 * ms, end_ns: 3_600 * ms, outcome: Outcome::Ok, new_conn: true },
//! ];
//! let marks = RunMarks { load_start_ns: 0, rollout_start_ns: 2_000 * ms, rollout_end_ns: 4_000 * ms, load_end_ns: 10_000 * ms };
//! let label = RunLabel { source: Source::Sim, scenario: "before".into(), seed: Some(7) };
//! let a = analyze(&samples, &marks, None, JobCounts::default(), &label, &AnalyzeConfig::default());
//! assert_eq!(a.summary.requests.sent, 2);
//! assert_eq!(a.summary.failed, 1);
//! assert_eq!(a.summary.error_rate, 0.5);
//! ```

mod aggregate;
mod analyze;
pub mod figure;
mod lever;
mod long_streams;
mod outcome;
mod shard;
mod shutdown;
mod stream;
mod summary;

pub use aggregate::{Aggregate, AggregateBuilder, Stat, quantile_sorted};
pub use analyze::{
    Analysis, AnalyzeConfig, Bucket, EndpointSeries, RunLabel, RunMarks, Sample, analyze,
    analyze_with_connections,
};
pub use figure::{Better, Figure, Unit, UnknownFigure};
pub use lever::{Lever, LeverSet, UnknownLever};
pub use long_streams::{
    StreamDrops, StreamEvent, StreamEventKind, StreamRow, StreamSummary, stream_drop_times,
    summarize_streams,
};
pub use outcome::{Outcome, OutcomeCounts, UnknownOutcome};
pub use shard::{ParseShardError, Shard};
pub use shutdown::{OrderViolation, ShutdownStep, UnknownStep, check_order};
/// The workspace's one duration parser (it lives with the simulated clock in `sim-core`).
pub use sim_core::{ParseDurationError, parse_duration, parse_duration_or_secs};
pub use stream::{GapFinder, RankSelect, StreamingAnalysis};
pub use summary::{
    AGGREGATE_SCHEMA, HEADLINE_FIGURES, JobCounts, LatencySummary, Percentiles, SUMMARY_SCHEMA,
    Source, Summary,
};
