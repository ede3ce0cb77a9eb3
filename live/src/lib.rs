//! # live: fleetsim on a real cluster
//!
//! The other half of validation. [`run`] (`fleetsim live`) rolls the real service on a
//! Kubernetes cluster under the open-loop load of [`loadgen`], watches pods and EndpointSlices
//! (through `kubectl` watches), reads the job ledger in PostgreSQL, gathers each old pod's
//! shutdown evidence ([`parse_pod_log`], [`required_steps`]) and writes a live summary in the
//! simulator's shape. [`calibrate`] (`fleetsim calibrate`) turns calibration runs into a scenario
//! layer, and [`validate`] (`fleetsim validate`) sets live summaries beside the simulator's
//! predicted intervals, figure by figure ([`FigureCheck`]).
//!
//! The driver calls the generator and the analyzer through their typed plans
//! ([`loadgen::LoadPlan`], [`loadgen::AnalyzePlan`]). Errors are [`LiveError`]s. Every module is
//! private; what callers use is re-exported here.

mod calibrate;
mod cpu;
mod driver;
mod error;
mod evidence;
mod kube;
mod ledger;
mod report;
mod state;

pub use calibrate::{
    CalibrateOpts, Measured, NodeCpu, measure_run, render as calibration_layer, run as calibrate,
};
pub use driver::{GeneratorSpin, Levers, LiveOpts, RunEvidence, RunSummary, reanalyze, run};
pub use error::{LiveError, Result};
pub use evidence::{PodShutdown, check as check_evidence, parse_pod_log, required_steps};
pub use report::{
    FigureCheck, LeftOut, ReportOpts, STREAM_FIGURES, Score, check_scenario, check_streams,
    markdown as validation_markdown, run as validate,
};
