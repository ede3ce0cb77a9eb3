//! # scenarios: scenario files, the many-seed runner, sweeps and compare
//!
//! - Loading: [`load`] reads a scenario: strict TOML layered with `extends`, every field's file
//!   and line kept for error messages ([`FieldError`], [`ScenarioError`]); [`load_scenario`]
//!   validates it into a [`Scenario`]. The shipped scenarios are compiled in ([`shipped`]).
//! - Running: [`run_seeds`] runs one scenario over many seeds in parallel threads, gathering
//!   results by seed index so the bytes written do not depend on the thread count
//!   ([`RunReport`]); [`run_many`] and [`demo_report`] make the demo.
//! - Sweeping: [`run_sweep`] runs a [`Grid`] of settings, in shards if need be, and
//!   [`merge_shards`] merges shards byte-identically ([`SweepResult`]).
//! - Comparing: [`compare_report`] puts aggregates side by side; [`ablation`] and [`ladder`]
//!   build the lever tables; [`demo_charts`] and [`sweep_charts`] draw the figures.
//!
//! Every module is private and its items are re-exported here, except [`shipped`] and
//! [`output`]: their functions (`shipped::get`, `shipped::all`, `shipped::alone`,
//! `shipped::without`; `output::write_file`, `output::abandon_all`) name what they act on only
//! together with the module's name.

mod charts;
mod compare;
mod demo;
mod error;
mod fleet;
mod load;
pub mod output;
mod progress;
mod runner;
pub mod shipped;
mod sweep;
mod table;

pub use charts::{demo_charts, sweep_charts};
pub use compare::{
    Named, ablation, ladder, read_summaries, read_summary, report as compare_report, side_by_side,
};
pub use demo::{
    before_after, mechanism_table, named as named_reports, report_md as demo_report, run_many,
    shipped_scenarios, write_all as write_demo,
};
pub use error::{FieldError, Origin, ScenarioError, SummaryError, SweepError, VaryError};
pub use fleet::{
    Scenario, from_source, fuzz_parse, load_scenario, parse_scenario, prepare, run_scenario,
    simulate_seed,
};
pub use load::{Source, load, load_file, load_shipped, parse_str, shipped_dir};
pub use measure::Lever;
pub use models::{
    FIELD_REFERENCE, FRONT_REFERENCE, FieldRef, FrontRef, PRESET_REFERENCE, PresetRef, field_bound,
};
pub use progress::bar as progress_bar;
pub use runner::{RunError, RunReport, SeedRun, default_threads, par_map, run_seeds, seed_list};
pub use sweep::{
    Grid, Level, Row, SweepMeta, SweepResult, SweepSpec, Vary, merge as merge_shards, run_sweep,
};
pub use table::Table;
