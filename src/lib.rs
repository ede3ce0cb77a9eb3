//! # fleetsim: what a rolling Kubernetes deploy does to clients, lever by lever
//!
//! The one CLI users run. Each subcommand is a thin layer over the crates that hold the logic:
//! `scenarios` (files, runner, sweeps, compare, charts) for the simulating subcommands,
//! `loadgen` (the open-loop generator and the record analyzer) for `load` and `analyze`, and
//! `live` (the cluster driver, calibration, the observed-versus-predicted report) for `live`,
//! `calibrate` and `validate`; `measure` for the registry of figures that `scenarios --figures`
//! prints. Tests call [`run`] with `Opts::parse_from([...])`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use scenarios::sweep::{self, Grid, Shard, SweepSpec, Vary};
use scenarios::{compare, demo, progress, runner};

/// Predicts what a rolling deploy does to clients and which shutdown lever fixes each failure.
#[derive(Debug, Parser)]
#[command(name = "fleetsim", version, about, long_about = None)]
pub struct Opts {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands: each is a variant here and an arm in [`run`].
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run before, after and every lever scenario; print the before/after and ablation tables;
    /// write summaries, report.md and plots.
    Demo(DemoArgs),
    /// Run one scenario over many seeds; write summary.json, per-seed summaries and the timeline.
    Run(RunArgs),
    /// Put run folders side by side in one markdown table (plus the ablation table when
    /// before and after are among them).
    Compare(CompareArgs),
    /// Run a grid of settings (--vary) over many seeds: one CSV row per point, and the smallest
    /// settings that reach zero loss.
    Sweep(SweepArgs),
    /// Join sweep shard folders into one, byte-identical to an unsharded sweep.
    Merge(MergeArgs),
    /// List the shipped scenarios, or print one merged (--show NAME).
    Scenarios(ScenariosArgs),
    /// Open-loop HTTP load that records every request (the live side's client).
    Load(loadgen::LoadOpts),
    /// Deploy-window analysis of load record files: the same summary shape the simulator writes.
    Analyze(loadgen::AnalyzeOpts),
    /// Roll the real service on a real cluster under open-loop load; write the live summary and
    /// its evidence.
    Live(live::LiveOpts),
    /// Write a calibration layer for scenario files from calibration live runs.
    Calibrate(live::calibrate::CalibrateOpts),
    /// Set live summaries beside the simulator's predicted intervals, figure by figure.
    Validate(live::report::ReportOpts),
}

/// Seeds and threads, shared by the simulating subcommands.
#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// Seeds per scenario.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub seeds: u64,
    /// The first seed; seeds are SEED, SEED+1, ...
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads (default: the machine's cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,
    /// Order same-instant events by a seeded shuffle (to show no figure hinges on tie order).
    #[arg(long)]
    pub shuffle_ties: bool,
}

impl SeedArgs {
    fn seed_list(&self) -> Vec<u64> {
        runner::seed_list(self.seed, self.seeds as usize)
    }
    fn threads(&self) -> usize {
        self.threads
            .map_or_else(runner::default_threads, |t| t as usize)
    }
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Output folder.
    #[arg(long, default_value = "fleetsim-demo")]
    pub out: PathBuf,
    #[command(flatten)]
    pub seeds: SeedArgs,
    /// Do not draw the plots.
    #[arg(long)]
    pub no_plots: bool,
    /// Plot format.
    #[arg(long, value_enum, default_value_t = PlotFormat::Svg)]
    pub format: PlotFormat,
}

/// The format of charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlotFormat {
    Svg,
    Png,
}

impl PlotFormat {
    fn ext(self) -> &'static str {
        match self {
            PlotFormat::Svg => "svg",
            PlotFormat::Png => "png",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// A scenario file, or the name of a shipped scenario (see `fleetsim scenarios`).
    pub scenario: String,
    /// Output folder (default: `fleetsim-runs/<scenario>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub seeds: SeedArgs,
}

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Run folders (each with a summary.json), summary files, or a folder of run folders (the
    /// demo's output).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Also write the table to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// A scenario file, or the name of a shipped scenario.
    pub scenario: String,
    /// A field to vary: dotted.path=FROM..TO/STEP (durations or numbers) or a comma list,
    /// e.g. lifecycle.prestop=0s..20s/1s. Repeat for more dimensions.
    #[arg(long = "vary", required = true, value_name = "PATH=VALUES")]
    pub vary: Vec<Vary>,
    /// Run only the points i with i % N == K (one task of an Indexed Job).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Output folder (default: `fleetsim-sweeps/<scenario>`, or `.../shard-K-of-N`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub seeds: SeedArgs,
    /// No progress bar (it is hidden anyway when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// Heatmap format (two-dimensional whole sweeps only).
    #[arg(long, value_enum, default_value_t = PlotFormat::Svg)]
    pub format: PlotFormat,
}

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Shard folders written by `fleetsim sweep --shard K/N`.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Heatmap format (two-dimensional sweeps only).
    #[arg(long, value_enum, default_value_t = PlotFormat::Svg)]
    pub format: PlotFormat,
}

#[derive(Debug, Clone, Args)]
pub struct ScenariosArgs {
    /// Print this scenario's merged TOML (extends applied) instead of the list.
    #[arg(long, value_name = "SCENARIO", conflicts_with = "figures")]
    pub show: Option<String>,
    /// Print the registry of summary figures as JSON (path, label, description, unit, which
    /// way is better, whether it is a headline figure) instead of the list.
    #[arg(long)]
    pub figures: bool,
    /// Print every scenario field with its unit, default, source and the failure mode it feeds.
    #[arg(long, conflicts_with_all = ["show", "figures"])]
    pub reference: bool,
}

/// Runs a subcommand. Errors are meant to be printed with `{:#}`.
pub fn run(opts: Opts) -> Result<()> {
    match opts.command {
        Command::Demo(a) => cmd_demo(&a),
        Command::Run(a) => cmd_run(&a),
        Command::Compare(a) => cmd_compare(&a),
        Command::Sweep(a) => cmd_sweep(&a),
        Command::Merge(a) => cmd_merge(&a),
        Command::Scenarios(a) => cmd_scenarios(&a),
        Command::Load(o) => {
            let report = loadgen::run(o.plan()?)?;
            eprintln!(
                "wrote {} ({} requests recorded, {:.1} req/s achieved)",
                report.out.display(),
                report.footer.recorded,
                report.achieved_rps
            );
            Ok(())
        }
        Command::Analyze(o) => {
            let report = loadgen::analyze::run(o.plan()?)?;
            println!("{}", report.summary.to_json()?);
            eprintln!("wrote {}", report.summary_path.display());
            Ok(())
        }
        Command::Live(o) => {
            for dir in live::driver::run(o)? {
                println!("{}", dir.display());
            }
            Ok(())
        }
        Command::Calibrate(o) => {
            let out = o.out.clone();
            let m = live::calibrate::run(o)?;
            println!(
                "wrote {} ({} service-time samples, {} pod start-ups, {} deregistration delays)",
                out.display(),
                m.service_ms.len(),
                m.startup_ms.len(),
                m.deregistration_ms.len()
            );
            Ok(())
        }
        Command::Validate(o) => {
            let out = o.out.clone();
            let checks = live::report::run(o)?;
            let inside = checks.iter().filter(|c| c.all_inside()).count();
            let judged = checks
                .iter()
                .filter(|c| c.predicted.is_some() && !c.observed.is_empty())
                .count();
            println!(
                "{inside} of {judged} figures inside their predicted interval; wrote {}",
                out.join("validation.md").display()
            );
            Ok(())
        }
    }
}

fn write_ctx(dir: &Path) -> String {
    format!("cannot write {}", dir.display())
}

fn cmd_run(a: &RunArgs) -> Result<()> {
    let scenario = scenarios::load_scenario(&a.scenario)?;
    let seeds = a.seeds.seed_list();
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| Path::new("fleetsim-runs").join(scenario.name()));
    let bar = progress::bar(seeds.len() as u64, scenario.name(), false);
    let started = Instant::now();
    let report = scenarios::run_scenario(
        &scenario,
        &seeds,
        a.seeds.threads(),
        a.seeds.shuffle_ties,
        &|| bar.inc(1),
    )?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    if let Some(w) = report.time_cap_warning(&scenario.fleet.run.max_duration) {
        eprintln!("{w}");
    }
    report.write(&out).with_context(|| write_ctx(&out))?;
    println!("{}", report.table());
    eprintln!(
        "{} seeds, {} events in {secs:.2} s ({:.2} M events/s); wrote {}",
        seeds.len(),
        report.events(),
        report.events() as f64 / secs.max(1e-9) / 1e6,
        out.display()
    );
    Ok(())
}

fn cmd_compare(a: &CompareArgs) -> Result<()> {
    let paths: Vec<&Path> = a.dirs.iter().map(PathBuf::as_path).collect();
    let items = compare::read_summaries(&paths)?;
    let text = compare::report(&items);
    print!("{text}");
    if let Some(out) = &a.out {
        std::fs::write(out, &text).with_context(|| write_ctx(out))?;
    }
    Ok(())
}

fn cmd_sweep(a: &SweepArgs) -> Result<()> {
    let source = scenarios::load(&a.scenario)?;
    // The base scenario must be valid on its own: a typo there is not a sweep result.
    scenarios::prepare(&source)?;
    let grid = Grid::new(a.vary.clone())?;
    let seeds = a.seeds.seed_list();
    let out = a.out.clone().unwrap_or_else(|| {
        let d = Path::new("fleetsim-sweeps").join(&source.name);
        match a.shard {
            Some(s) => d.join(format!("shard-{}-of-{}", s.k, s.n)),
            None => d,
        }
    });
    let spec = SweepSpec {
        source: &source,
        grid,
        seeds: seeds.clone(),
        shard: a.shard,
    };
    let points = spec.grid.points(a.shard).len();
    let bar = progress::bar((points * seeds.len()) as u64, &source.name, a.no_progress);
    let started = Instant::now();
    let name = source.name.clone();
    let shuffle = a.seeds.shuffle_ties;
    let result = sweep::run_sweep(
        &spec,
        a.seeds.threads(),
        &|| bar.inc(1),
        scenarios::prepare,
        |fleet, seed| scenarios::simulate_seed(&name, fleet, seed, shuffle),
    )?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    if result.cut_by_time_cap > 0 {
        eprintln!(
            "WARNING: sweep of {name}: the rollout did not finish within the simulated time cap \
             (run.max_duration) in {} of {} simulations; their deploy window is cut at the cap \
             and their figures leave out the rest of the rollout.",
            result.cut_by_time_cap, result.simulations
        );
    }
    result.write(&out).with_context(|| write_ctx(&out))?;
    if result.is_whole() {
        scenarios::charts::sweep_charts(&out, &result, a.format.ext())?;
        print!("{}", result.zero_loss_table());
    }
    eprintln!(
        "{points} points x {} seeds = {} simulations, {} events in {secs:.1} s ({:.2} M events/s); wrote {}",
        seeds.len(),
        result.simulations,
        result.events,
        result.events as f64 / secs.max(1e-9) / 1e6,
        out.join("sweep.csv").display()
    );
    Ok(())
}

fn cmd_merge(a: &MergeArgs) -> Result<()> {
    let dirs: Vec<&Path> = a.shards.iter().map(PathBuf::as_path).collect();
    let result = sweep::merge(&dirs)?;
    result.write(&a.out).with_context(|| write_ctx(&a.out))?;
    scenarios::charts::sweep_charts(&a.out, &result, a.format.ext())?;
    print!("{}", result.zero_loss_table());
    eprintln!(
        "merged {} shards, {} points; wrote {}",
        dirs.len(),
        result.rows.len(),
        a.out.join("sweep.csv").display()
    );
    Ok(())
}

fn cmd_scenarios(a: &ScenariosArgs) -> Result<()> {
    if a.figures {
        let list: Vec<serde_json::Value> = measure::Figure::ALL
            .iter()
            .map(|f| {
                serde_json::json!({
                    "path": f.path(),
                    "label": f.label(),
                    "description": f.description(),
                    "unit": f.unit().as_str(),
                    "better": format!("{:?}", f.better()).to_lowercase(),
                    "headline": measure::figure::HEADLINE.contains(f),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    if a.reference {
        let mut t = scenarios::table::Table::new([
            "field",
            "unit",
            "default",
            "source",
            "failure mode it feeds",
        ]);
        for r in scenarios::field_reference::FIELDS {
            t.row([r.path, r.unit, r.default, r.source, r.feeds].map(str::to_string));
        }
        print!("{}", t.markdown());
        let mut p = scenarios::table::Table::new(["balancer.preset", "what", "defaults", "fields"]);
        for r in scenarios::field_reference::PRESETS {
            p.row([
                r.preset.name().to_string(),
                r.what.to_string(),
                r.defaults.to_string(),
                r.preset.fields().join(", "),
            ]);
        }
        print!("\n{}", p.markdown());
        return Ok(());
    }
    if let Some(name) = &a.show {
        let source = scenarios::load(name)?;
        scenarios::prepare(&source)?;
        println!(
            "# {} (merged from {}, lever patches applied)",
            source.name,
            source.files.join(", ")
        );
        print!(
            "{}",
            toml::to_string(&source.resolved()?).context("cannot print the scenario")?
        );
        return Ok(());
    }
    let mut t = scenarios::table::Table::new(["scenario", "description"]);
    for name in scenarios::shipped::scenario_names() {
        let s = scenarios::load(name)?;
        t.row([name.to_string(), s.description.unwrap_or_default()]);
    }
    print!("{}", t.markdown());
    Ok(())
}

fn cmd_demo(a: &DemoArgs) -> Result<()> {
    let started = Instant::now();
    let list = demo::shipped_scenarios()?;
    let seeds = a.seeds.seed_list();
    let bar = progress::bar((list.len() * seeds.len()) as u64, "demo", false);
    let reports = demo::run_many(
        &list,
        &seeds,
        a.seeds.threads(),
        a.seeds.shuffle_ties,
        &|| bar.inc(1),
    )?;
    bar.finish_and_clear();
    let sim_secs = started.elapsed().as_secs_f64();
    for (r, s) in reports.iter().zip(&list) {
        if let Some(w) = r.time_cap_warning(&s.fleet.run.max_duration) {
            eprintln!("{w}");
        }
    }
    let events: u64 = reports.iter().map(|r| r.events()).sum();
    let items = demo::named(&reports);
    std::fs::create_dir_all(&a.out).with_context(|| write_ctx(&a.out))?;
    let plots = if a.no_plots {
        Vec::new()
    } else {
        for r in &reports {
            std::fs::create_dir_all(a.out.join(&r.scenario)).with_context(|| write_ctx(&a.out))?;
        }
        scenarios::charts::demo_charts(&a.out, &reports, a.format.ext())?
    };
    let command = format!(
        "fleetsim demo --seeds {} --seed {}",
        a.seeds.seeds, a.seeds.seed
    );
    let report = demo::report_md(&reports, &seeds, &plots, &command);
    demo::write_all(&a.out, &reports, &report).with_context(|| write_ctx(&a.out))?;

    println!("Before and after ({} seeds each):\n", seeds.len());
    println!("{}", demo::before_after(&items));
    if let Some(ab) = compare::ablation(&items) {
        println!("Ablation:\n\n{ab}");
    }
    if let Some(l) = compare::ladder(&items) {
        println!("{l}");
    }
    println!(
        "Failures by mechanism (mean per seed):\n\n{}",
        demo::mechanism_table(&reports)
    );
    println!(
        "Wrote {} ({} scenarios, report.md{}).",
        a.out.display(),
        reports.len(),
        if plots.is_empty() { "" } else { ", plots" }
    );
    eprintln!(
        "{} simulations, {events} events in {sim_secs:.2} s ({:.2} M events/s); total {:.2} s",
        list.len() * seeds.len(),
        events as f64 / sim_secs.max(1e-9) / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
