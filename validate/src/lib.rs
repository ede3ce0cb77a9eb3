//! fleetsim live validation: the open-loop load generator (`fleetsim load`) and the deploy-window
//! analyzer (`fleetsim analyze`).
//!
//! Each subcommand is a clap `Parser` struct plus a `run` function, so the root `fleetsim` binary
//! and the tests call the same code: [`load::LoadOpts`] + [`load::run`],
//! [`analyze::AnalyzeOpts`] + [`analyze::run`].

pub mod analyze;
pub mod calibrate;
pub mod classify;
pub mod control;
pub mod duration;
pub mod live;
pub mod load;
pub mod outcome;
pub mod record;
pub mod report;
pub mod schedule;
pub mod sink;
pub mod sse;
pub mod timer;
pub mod trivial;
