//! # live: fleetsim on a real cluster
//!
//! The other half of validation. [`driver::run`] (`fleetsim live`) rolls the real service on a
//! Kubernetes cluster under the open-loop load of [`loadgen`], watches pods and EndpointSlices
//! ([`kube`], [`state`]), reads the job ledger ([`ledger`]), gathers each old pod's shutdown
//! evidence ([`evidence`]) and writes a live summary in the simulator's shape.
//! [`calibrate::run`] (`fleetsim calibrate`) turns calibration runs into a scenario layer, and
//! [`report::run`] (`fleetsim validate`) sets live summaries beside the simulator's predicted
//! intervals, figure by figure.
//!
//! The driver calls the generator and the analyzer through their typed plans
//! ([`loadgen::LoadPlan`], [`loadgen::AnalyzePlan`]). Errors are [`LiveError`]s.

#![warn(missing_docs)]

pub mod calibrate;
pub mod driver;
mod error;
pub mod evidence;
pub mod kube;
pub mod ledger;
pub mod report;
pub mod state;

pub use driver::{Levers, LiveOpts, RunEvidence, RunSummary, reanalyze};
pub use error::{LiveError, Result};
