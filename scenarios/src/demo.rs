//! The demo: every shipped scenario over the same seeds, the before/after and ablation tables,
//! `report.md`. No cluster, no network.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use models::Mechanism;

use crate::compare::{self, Named};
use crate::error::ScenarioError;
use crate::fleet::{Scenario, load_scenario, simulate_seed};
use crate::runner::{RunError, RunReport, collect, par_map};
use crate::shipped;
use crate::table::{Table, fmt_num};

/// Runs several scenarios over the same seeds in one pool of threads (every `(scenario, seed)`
/// is one unit, so a slow scenario does not leave threads idle). Reports come back in the
/// order of `scenarios`.
pub fn run_many(
    scenarios: &[Scenario],
    seeds: &[u64],
    threads: usize,
    shuffle_ties: bool,
    on_done: &(dyn Fn() + Sync),
) -> Result<Vec<RunReport>, RunError> {
    let n = seeds.len();
    let mut results = par_map(scenarios.len() * n, threads, on_done, |u| {
        let s = &scenarios[u / n];
        simulate_seed(s.name(), &s.fleet, seeds[u % n], shuffle_ties)
            .map(|run| run.keep_curves_if_first(u % n))
    })
    .into_iter();
    scenarios
        .iter()
        .map(|s| collect(s.name(), seeds, results.by_ref().take(n).collect()))
        .collect()
}

/// Every shipped scenario, loaded and validated, in demo order.
pub fn shipped_scenarios() -> Result<Vec<Scenario>, ScenarioError> {
    shipped::scenario_names()
        .into_iter()
        .map(load_scenario)
        .collect()
}

/// The aggregates of reports, named by scenario, for [`compare_report`](crate::compare_report).
pub fn named(reports: &[RunReport]) -> Vec<Named> {
    reports
        .iter()
        .map(|r| Named {
            name: r.scenario.clone(),
            aggregate: r.aggregate(),
        })
        .collect()
}

/// Mean failures per seed by mechanism (the model attributes every failure to one), one row
/// per scenario; mechanisms that never fired are left out.
pub fn mechanism_table(reports: &[RunReport]) -> String {
    let mut mechanisms: Vec<&Mechanism> = reports
        .iter()
        .flat_map(|r| r.failures_by_mechanism.iter().flat_map(|m| m.keys()))
        .collect();
    mechanisms.sort();
    mechanisms.dedup();
    let means: Vec<BTreeMap<&Mechanism, f64>> = reports
        .iter()
        .map(|r| {
            let seeds = r.failures_by_mechanism.len().max(1) as f64;
            mechanisms
                .iter()
                .map(|m| {
                    let total: u64 = r
                        .failures_by_mechanism
                        .iter()
                        .map(|f| f.get(*m).copied().unwrap_or(0))
                        .sum();
                    (*m, total as f64 / seeds)
                })
                .collect()
        })
        .collect();
    let fired: Vec<&Mechanism> = mechanisms
        .into_iter()
        .filter(|m| means.iter().any(|row| row[m] > 0.0))
        .collect();
    let mut header = vec!["scenario".to_string()];
    header.extend(fired.iter().map(|m| m.to_string()));
    let mut t = Table::new(header);
    for (r, row) in reports.iter().zip(&means) {
        let mut cells = vec![r.scenario.clone()];
        cells.extend(fired.iter().map(|m| fmt_num(row[m])));
        t.row(cells);
    }
    t.markdown()
}

/// The before/after table: `before` and `after` side by side.
pub fn before_after(items: &[Named]) -> String {
    let pick: Vec<Named> = ["before", "after"]
        .iter()
        .filter_map(|n| items.iter().find(|i| i.name == *n).cloned())
        .collect();
    compare::side_by_side(&pick)
}

/// `report.md`: what was run, the tables, the plots.
pub fn report_md(
    reports: &[RunReport],
    seeds: &[u64],
    plots: &[(String, String)],
    command: &str,
) -> String {
    let items = named(reports);
    let mut out = String::new();
    let _ = writeln!(out, "# fleetsim demo: a rolling deploy, lever by lever\n");
    let _ = writeln!(
        out,
        "Produced by `{command}`: {} scenarios, seeds {}..={} ({} per scenario), simulated \
         (no cluster, no network). Each figure is the mean over seeds, with the 2.5th and \
         97.5th percentiles in brackets. The deploy window runs from the first pod change to \
         the last old pod gone plus a 5 s tail; counts are requests whose intended start fell \
         in it.\n",
        reports.len(),
        seeds.first().copied().unwrap_or(0),
        seeds.last().copied().unwrap_or(0),
        seeds.len()
    );
    let _ = writeln!(out, "## Before and after\n\n{}", before_after(&items));
    if let Some(a) = compare::ablation(&items) {
        let _ = writeln!(out, "## Ablation\n\n{a}");
    }
    if let Some(l) = compare::ladder(&items) {
        let _ = writeln!(out, "## Fix in order\n\n{l}");
    }
    let _ = writeln!(
        out,
        "## Every scenario\n\n{}",
        compare::side_by_side(&items)
    );
    let _ = writeln!(
        out,
        "## Failures by mechanism (mean per seed)\n\nEvery failed request and every duplicated or \
         lost job comes from a mechanism in the model, never from a configured loss rate.\n\n{}",
        mechanism_table(reports)
    );
    if !plots.is_empty() {
        let _ = writeln!(out, "## Plots\n");
        for (title, file) in plots {
            let _ = writeln!(out, "![{title}]({file})\n");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "## Files\n\n`<scenario>/summary.json` (aggregate over seeds), `<scenario>/seeds/<seed>.json` \
         (one summary per seed), `<scenario>/timeline.csv` and `<scenario>/reconnects.csv` (the \
         first seed's timeline and 10 ms reconnect curve), `<scenario>/digests.csv` (trace digest, \
         events and failures by mechanism per seed)."
    );
    out
}

/// Writes every report's folder under `dir` and `report.md`.
pub fn write_all(dir: &Path, reports: &[RunReport], report: &str) -> std::io::Result<()> {
    for r in reports {
        r.write(&dir.join(&r.scenario))?;
    }
    std::fs::write(dir.join("report.md"), report)
}
