//! # scenarios: scenario files, the many-seed runner, sweeps and compare
//!
//! - [`load`](mod@load) reads a scenario: strict TOML layered with `extends`, every field's file and line
//!   kept for error messages; the shipped scenarios are compiled in ([`shipped`]).
//! - [`runner`] runs one scenario over many seeds in parallel threads, gathering results by
//!   seed index so the bytes written do not depend on the thread count.
//! - [`sweep`] runs a grid of settings, in shards if need be, and merges shards byte-identically.
//! - [`compare`] puts aggregates side by side and builds the ablation table.

pub mod charts;
pub mod compare;
pub mod demo;
pub mod error;
pub mod fleet;
pub mod load;
pub mod progress;
pub mod runner;
pub mod shipped;
pub mod sweep;
pub mod table;

pub use error::{FieldError, Origin, ScenarioError, SummaryError, SweepError, VaryError};
pub use fleet::{
    Scenario, fuzz_parse, load_scenario, parse_scenario, prepare, run_scenario, simulate_seed,
};
pub use load::{Source, load, load_file, load_shipped, parse_str};
pub use measure::Lever;
pub use models::{FIELD_REFERENCE, FieldRef};
pub use runner::{RunError, RunReport, SeedRun, par_map, run_seeds, seed_list};
