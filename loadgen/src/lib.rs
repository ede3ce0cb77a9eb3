//! # loadgen: fleetsim's open-loop load generator and the analyzer of its record files
//!
//! The live side's client. [`run`] sends a fixed schedule of HTTP requests (every intended start
//! decided before the run, none waiting for an earlier one), records every request, connection,
//! marker and SSE stream event to an NDJSON file ([`record`]), and reports its own health so a
//! run the generator could not keep up with is flagged rather than blamed on the deploy.
//! [`analyze()`] reads record files and hands the requests to [`measure::analyze`], the same
//! code the simulator's results go through, so live and simulated summaries have one shape.
//!
//! Callers build a typed plan and run it; the `fleetsim load` and `fleetsim analyze` subcommands
//! parse their flags into [`LoadOpts`] / [`AnalyzeOpts`] and turn them into the same plans:
//!
//! ```no_run
//! use std::time::Duration;
//! use loadgen::{LoadPlan, Mode};
//!
//! let mut plan = LoadPlan::new("http://127.0.0.1:8080/work?ms=10", "records.ndjson");
//! plan.rate = 200.0;
//! plan.duration = Duration::from_secs(30);
//! plan.mode = Mode::New;
//! let report = loadgen::run(plan)?;
//! assert!(report.footer.valid);
//! let analysis = loadgen::analyze(loadgen::AnalyzePlan::new(vec![report.out]))?;
//! println!("{}", analysis.summary.to_json()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Inside, imports go one way: `load` (the scheduler and the request tasks), `sse` and
//! `control` use `session` (the clock, connections and counters one run shares), which uses
//! `record`, `sink` and `classify`; `load` asks `retry` whether and when a shed request is
//! sent again (`--shed-retries`).
//!
//! Modules are private and their items re-exported here, except two namespaces: [`record`], the
//! record file's line types (`record::Header`, `record::Req`, `record::Line`... name a line of
//! the file only with the module's name), and [`trivial`], the do-nothing HTTP server the tests
//! and benchmarks load (`trivial::serve`).

mod analyze;
mod classify;
mod control;
mod error;
mod load;
mod observe;
mod plan;
pub mod record;
mod retry;
mod schedule;
mod session;
mod sink;
mod sse;
pub mod thresholds;
mod timer;
pub mod trivial;

pub use analyze::{
    AnalyzeOpts, AnalyzePlan, AnalyzeReport, LateSends, LiveInfo, LiveSummary, Merged, SseSummary,
    read_records, run as analyze, samples, sorted_json,
};
pub use classify::{ErrorClass, classify_errno, classify_error, classify_status};
pub use error::{AnalyzeError, LoadError};
pub use load::{LoadReport, connect_bursts, run, run_async};
pub use measure::Outcome;
pub use plan::{FlagMark, LoadOpts, LoadPlan, Mode, ShedRetryPlan, SsePlan};
pub use retry::{GaveUp, GiveUp, RetrySummary, parse_retry_after};
pub use schedule::{Arrivals, Schedule, rate_milli};
pub use sse::{Reconnect, backoff_delay};
pub use thresholds::{Breach, Thresholds};
