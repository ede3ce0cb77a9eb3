//! Scenarios as `models::Fleet`s: load, deserialize, validate (errors with file, line, field
//! path and reason), and run seeds through `models::simulate`.

use models::{Fleet, SimOptions};

use crate::error::ScenarioError;
use crate::load::{self, Source};
use crate::runner::{RunError, RunReport, SeedRun, run_seeds};

/// A loaded, valid scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The merged TOML it came from, with the files read and each field's origin.
    pub source: Source,
    /// The validated settings the simulator runs.
    pub fleet: Fleet,
}

impl Scenario {
    /// The scenario's name (`name` in the top file, or its file stem).
    pub fn name(&self) -> &str {
        &self.source.name
    }
}

/// Deserializes a source into a fleet (strict: unknown fields rejected) and validates it.
pub fn prepare(source: &Source) -> Result<Fleet, ScenarioError> {
    let fleet: Fleet = source.deserialize()?;
    fleet
        .validate()
        .map_err(|errs| source.field_errors(errs.into_iter().map(|e| (e.path, e.reason))))?;
    Ok(fleet)
}

/// Loads and validates a scenario by path or shipped name.
pub fn load_scenario(spec: &str) -> Result<Scenario, ScenarioError> {
    from_source(load::load(spec)?)
}

/// Parses and validates scenario text (extends resolve among the shipped files). The fuzz
/// target and the corpus test go through here.
pub fn parse_scenario(name: &str, text: &str) -> Result<Scenario, ScenarioError> {
    from_source(load::parse_str(name, text)?)
}

/// Validates a loaded source.
pub fn from_source(source: Source) -> Result<Scenario, ScenarioError> {
    let fleet = prepare(&source)?;
    Ok(Scenario { source, fleet })
}

/// Runs one seed of a fleet.
pub fn simulate_seed(
    name: &str,
    fleet: &Fleet,
    seed: u64,
    shuffle_ties: bool,
) -> Result<SeedRun, models::SimError> {
    let run = models::simulate(name, fleet, &SimOptions { seed, shuffle_ties })?;
    Ok(SeedRun {
        analysis: run.analysis,
        digest: run.digest,
        events: run.events,
        retries: run.retries,
        failures_by_mechanism: run.failures_by_mechanism,
        rollout_complete: run.rollout_complete,
    })
}

/// Runs a scenario over `seeds` on `threads` threads.
pub fn run_scenario(
    scenario: &Scenario,
    seeds: &[u64],
    threads: usize,
    shuffle_ties: bool,
    on_done: &(dyn Fn() + Sync),
) -> Result<RunReport, RunError> {
    let name = scenario.name();
    run_seeds(name, seeds, threads, on_done, |seed| {
        simulate_seed(name, &scenario.fleet, seed, shuffle_ties)
    })
}

/// The fuzz target's body: any bytes through the parser, `extends` among the shipped files,
/// strict deserialization and validation. `None` when the bytes are not UTF-8. It must never
/// panic; `scenarios/fuzz` drives it with libFuzzer and `tests/fuzz_corpus.rs` replays the corpus.
pub fn fuzz_parse(data: &[u8]) -> Option<Result<Scenario, ScenarioError>> {
    let text = std::str::from_utf8(data).ok()?;
    Some(parse_scenario("fuzz.toml", text))
}
