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
use measure::Shard;
use scenarios::output::Staged;
use scenarios::{Grid, SweepSpec, Vary};

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
    Analyze(AnalyzeArgs),
    /// Roll the real service on a real cluster under open-loop load; write the live summary and
    /// its evidence.
    Live(live::LiveOpts),
    /// Write a calibration layer for scenario files from calibration live runs.
    Calibrate(live::CalibrateOpts),
    /// Set live summaries beside the simulator's predicted intervals, figure by figure.
    Validate(live::ReportOpts),
    /// Read Kubernetes manifests, predict what the next rollout of each served Deployment
    /// loses, name the settings at fault and propose the smallest fix (exit 0 within budget,
    /// 1 over, 2 unreadable input). See docs/check.md.
    Check(CheckArgs),
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
        scenarios::seed_list(self.seed, self.seeds as usize)
    }
    fn threads(&self) -> usize {
        self.threads
            .map_or_else(scenarios::default_threads, |t| t as usize)
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

/// `fleetsim analyze`: the analyzer's options and the pass/fail limits on the deploy window.
#[derive(Debug, Clone, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub opts: loadgen::AnalyzeOpts,
    #[command(flatten)]
    pub thresholds: loadgen::Thresholds,
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
    if matches!(
        opts.command,
        Command::Demo(_)
            | Command::Run(_)
            | Command::Sweep(_)
            | Command::Merge(_)
            | Command::Analyze(_)
    ) {
        interrupts::install();
    }
    match opts.command {
        Command::Demo(a) => cmd_demo(&a),
        Command::Run(a) => cmd_run(&a),
        Command::Compare(a) => cmd_compare(&a),
        Command::Sweep(a) => cmd_sweep(&a),
        Command::Merge(a) => cmd_merge(&a),
        Command::Scenarios(a) => cmd_scenarios(&a),
        Command::Load(o) => {
            let thresholds = o.thresholds.clone();
            let report = loadgen::run(o.plan()?)?;
            if let Some(r) = &report.retries {
                eprintln!(
                    "shed requests: {} (retries sent {}; then served {}, failed {}; given up: \
                     {} too long, {} unparseable, {} abandoned, {} out of retries)",
                    r.scheduled_shed,
                    r.sent,
                    r.served_after_shed,
                    r.failed_after_shed,
                    r.gave_up.too_long,
                    r.gave_up.unparseable,
                    r.gave_up.abandoned,
                    r.gave_up.out_of_retries
                );
            }
            eprintln!(
                "wrote {} ({} requests recorded, {:.1} req/s achieved on the wire{})",
                report.out.display(),
                report.footer.recorded,
                report.achieved_rps,
                if report.footer.valid {
                    String::new()
                } else {
                    format!(
                        "; INVALID: the generator did not keep its schedule: {} late sends, \
                         {} not sent, {} generator faults",
                        report.late_sends, report.unsent, report.footer.generator_faults
                    )
                }
            );
            if let Some(sig) = &report.footer.interrupted {
                anyhow::bail!(
                    "interrupted by {sig}: the schedule stopped early; {} of {} requests sent were recorded in {} (its footer says interrupted)",
                    report.footer.recorded,
                    report.footer.sent,
                    report.out.display()
                );
            }
            thresholds_met(&thresholds.check_load(&report))
        }
        Command::Analyze(a) => {
            let mut plan = a.opts.plan()?;
            let out = plan.out_dir.clone();
            let staged = Staged::new(&out).with_context(|| write_ctx(&out))?;
            plan.out_dir = staged.path().to_path_buf();
            let report = loadgen::analyze(plan)?;
            staged.commit().with_context(|| write_ctx(&out))?;
            println!("{}", report.summary.to_json()?);
            eprintln!("wrote {}", out.join("summary.json").display());
            thresholds_met(&a.thresholds.check_summary(&report.summary.summary))
        }
        Command::Live(o) => {
            for dir in live::run(o)? {
                println!("{}", dir.display());
            }
            Ok(())
        }
        Command::Calibrate(o) => {
            let out = o.out.clone();
            let m = live::calibrate(o)?;
            println!(
                "wrote {} ({} service-time samples, {} while new pods started, {} pod start-ups, {} deregistration delays, {} bursts of eager reopens)",
                out.display(),
                m.service_ms.len(),
                m.service_starts_ms.len(),
                m.startup_ms.len(),
                m.deregistration_ms.len(),
                m.reopen_bursts.len()
            );
            Ok(())
        }
        Command::Check(a) => cmd_check(&a),
        Command::Validate(o) => {
            let out = o.out.clone();
            let checks = live::validate(o)?;
            let sc = live::Score::of(&checks);
            println!(
                "{} of {} figures inside their predicted interval ({} of {} informative: {} point \
                 predictions met exactly counted apart); wrote {}",
                sc.inside,
                sc.figures,
                sc.informative_inside,
                sc.informative,
                sc.point_met,
                out.join("validation.md").display()
            );
            Ok(())
        }
    }
}

/// An error naming every limit (`--max-failed`, `--max-p99`) the run broke.
fn thresholds_met(breaches: &[loadgen::Breach]) -> Result<()> {
    if breaches.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = breaches.iter().map(ToString::to_string).collect();
    anyhow::bail!("threshold failed: {}", list.join("; "))
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
    let bar = scenarios::progress_bar(seeds.len() as u64, scenario.name(), false);
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
    let staged = Staged::new(&out).with_context(|| write_ctx(&out))?;
    report
        .write(staged.path())
        .with_context(|| write_ctx(&out))?;
    staged.commit().with_context(|| write_ctx(&out))?;
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
    let items = scenarios::read_summaries(&paths)?;
    let text = scenarios::compare_report(&items);
    print!("{text}");
    if let Some(out) = &a.out {
        scenarios::output::write_file(out, &text).with_context(|| write_ctx(out))?;
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
    let bar = scenarios::progress_bar((points * seeds.len()) as u64, &source.name, a.no_progress);
    let started = Instant::now();
    let name = source.name.clone();
    let shuffle = a.seeds.shuffle_ties;
    let result = scenarios::run_sweep(
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
    let staged = Staged::new(&out).with_context(|| write_ctx(&out))?;
    result
        .write(staged.path())
        .with_context(|| write_ctx(&out))?;
    if result.is_whole() {
        scenarios::sweep_charts(staged.path(), &result, a.format.ext())?;
    }
    staged.commit().with_context(|| write_ctx(&out))?;
    if result.is_whole() {
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
    let result = scenarios::merge_shards(&dirs)?;
    let staged = Staged::new(&a.out).with_context(|| write_ctx(&a.out))?;
    result
        .write(staged.path())
        .with_context(|| write_ctx(&a.out))?;
    scenarios::sweep_charts(staged.path(), &result, a.format.ext())?;
    staged.commit().with_context(|| write_ctx(&a.out))?;
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
        let mut t = scenarios::Table::new([
            "field",
            "unit",
            "default",
            "source",
            "failure mode it feeds",
            "bounds",
        ]);
        for r in scenarios::FIELD_REFERENCE {
            let bound = scenarios::field_bound(r.path).unwrap_or("-");
            t.row([r.path, r.unit, r.default, r.source, r.feeds, bound].map(str::to_string));
        }
        print!("{}", t.markdown());
        let mut p = scenarios::Table::new(["balancer.preset", "what", "defaults", "fields"]);
        for r in scenarios::PRESET_REFERENCE {
            p.row([
                r.preset.name().to_string(),
                r.what.to_string(),
                r.defaults.to_string(),
                r.preset.fields().join(", "),
            ]);
        }
        print!("\n{}", p.markdown());
        let mut fr = scenarios::Table::new(["balancer.front", "what", "defaults", "fields"]);
        for r in scenarios::FRONT_REFERENCE {
            fr.row([
                r.front.name().to_string(),
                r.what.to_string(),
                r.defaults.to_string(),
                r.front.fields().join(", "),
            ]);
        }
        print!("\n{}", fr.markdown());
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
    let mut t = scenarios::Table::new(["scenario", "description"]);
    for name in scenarios::shipped::scenario_names() {
        let s = scenarios::load(name)?;
        t.row([name.to_string(), s.description.unwrap_or_default()]);
    }
    print!("{}", t.markdown());
    Ok(())
}

fn cmd_demo(a: &DemoArgs) -> Result<()> {
    let started = Instant::now();
    let list = scenarios::shipped_scenarios()?;
    let seeds = a.seeds.seed_list();
    let bar = scenarios::progress_bar((list.len() * seeds.len()) as u64, "demo", false);
    let reports = scenarios::run_many(
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
    let items = scenarios::named_reports(&reports);
    let staged = Staged::new(&a.out).with_context(|| write_ctx(&a.out))?;
    let dir = staged.path();
    let plots = if a.no_plots {
        Vec::new()
    } else {
        for r in &reports {
            std::fs::create_dir_all(dir.join(&r.scenario)).with_context(|| write_ctx(&a.out))?;
        }
        scenarios::demo_charts(dir, &reports, a.format.ext())?
    };
    let command = format!(
        "fleetsim demo --seeds {} --seed {}",
        a.seeds.seeds, a.seeds.seed
    );
    let report = scenarios::demo_report(&reports, &seeds, &plots, &command);
    scenarios::write_demo(dir, &reports, &report).with_context(|| write_ctx(&a.out))?;
    staged.commit().with_context(|| write_ctx(&a.out))?;

    println!("Before and after ({} seeds each):\n", seeds.len());
    println!("{}", scenarios::before_after(&items));
    if let Some(ab) = scenarios::ablation(&items) {
        println!("Ablation:\n\n{ab}");
    }
    if let Some(l) = scenarios::ladder(&items) {
        println!("{l}");
    }
    println!(
        "Failures by mechanism (mean per seed):\n\n{}",
        scenarios::mechanism_table(&reports)
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

/// SIGINT and SIGTERM for the commands that compute and then write a folder (`demo`, `run`,
/// `sweep`, `merge`, `analyze`): the signals are blocked in every thread and one thread waits
/// for them; on one it removes the temporary output folders (the earlier outputs are left as
/// they were: outputs are renamed into place only once complete), says so, and exits at once
/// with 130 (SIGINT) or 143 (SIGTERM). `load` handles the signals itself (it stops its schedule,
/// records what is in flight and writes its footer).
mod interrupts {
    use std::sync::Once;

    static INSTALL: Once = Once::new();

    /// Blocks SIGINT and SIGTERM in this thread (and the threads it starts) and starts the
    /// thread that waits for them. Call before starting other threads; once per process.
    pub(crate) fn install() {
        INSTALL.call_once(|| {
            // SAFETY: plain signal-set manipulation on a local sigset_t; pthread_sigmask only
            // changes this thread's mask.
            let set = unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGINT);
                libc::sigaddset(&mut set, libc::SIGTERM);
                if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                    return;
                }
                set
            };
            std::thread::spawn(move || {
                let mut sig: libc::c_int = 0;
                // SAFETY: sigwait on the set blocked above, into a local.
                if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                    return;
                }
                let name = if sig == libc::SIGINT { "SIGINT" } else { "SIGTERM" };
                let removed = scenarios::output::abandon_all();
                eprintln!(
                    "\ninterrupted by {name}: stopped; {} unfinished output folder(s) removed, earlier outputs left as they were",
                    removed.len()
                );
                std::process::exit(128 + sig);
            });
        });
    }
}

/// `fleetsim check`'s flags (docs/check.md).
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Manifest files, folders (searched recursively for *.yaml / *.yml), or - for standard
    /// input.
    #[arg(required = true, value_name = "FILE|DIR|-")]
    pub inputs: Vec<PathBuf>,
    /// Requests per second to each Deployment (default: 25 per replica).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Service time per request, in milliseconds.
    #[arg(long, default_value_t = 100.0)]
    pub service_time: f64,
    /// How clients connect: a new connection per request, or pooled keep-alives.
    #[arg(long, value_parser = ["new", "keepalive"], default_value = "keepalive")]
    pub connection: String,
    /// The balancer preset for every Deployment, instead of what the manifests suggest:
    /// any preset of `fleetsim scenarios --reference` (kube_proxy_iptables, ingress_nginx,
    /// traefik, aws_alb_ip, ...).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(models::Preset::ALL.map(models::Preset::name)))]
    pub proxy: Option<String>,
    /// Any scenario field, e.g. app.on_sigterm=drain (see `fleetsim scenarios --reference`).
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
    /// A calibration layer written by `fleetsim calibrate` (service time, start-up, endpoint
    /// lag measured on your cluster), applied before --set.
    #[arg(long, value_name = "FILE")]
    pub calibration: Option<PathBuf>,
    /// Seeds per prediction.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Worker threads (default: the machine's cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,
    /// Mean failed requests per rollout allowed for each Deployment.
    #[arg(long, default_value_t = 0.0)]
    pub budget: f64,
    /// Output format.
    #[arg(long, value_parser = ["human", "json", "sarif", "junit"], default_value = "human")]
    pub format: String,
    /// Write the manifests with the smallest fixes applied to this new folder.
    #[arg(long, value_name = "OUT")]
    pub fix: Option<PathBuf>,
    /// Do not search for a fix (faster; findings and predictions only).
    #[arg(long, conflicts_with = "fix")]
    pub no_fix_search: bool,
    /// Write each Deployment's predicted aggregate (the `summary.json` of `fleetsim run`) to
    /// `OUT/<name>-<connection>/` in this new folder, for `fleetsim validate --predicted OUT`
    /// beside `fleetsim live --name <name>`.
    #[arg(long, value_name = "OUT")]
    pub predictions: Option<PathBuf>,
    /// A document of a kind the check does not read is an error instead of being skipped.
    #[arg(long)]
    pub strict_kinds: bool,
}

/// Ends `fleetsim check` with its exit code: 1 over budget (the report is already printed),
/// 2 when the input could not be read or mapped (`message` says why).
#[derive(Debug)]
pub struct CheckExit {
    /// The process exit code.
    pub code: u8,
    /// Empty for over budget; the error otherwise.
    pub message: String,
}

impl std::fmt::Display for CheckExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CheckExit {}

impl CheckArgs {
    /// The typed plan.
    pub fn plan(&self) -> Result<check::CheckPlan> {
        let mut sets = Vec::new();
        for s in &self.set {
            let (k, v) = s
                .split_once('=')
                .with_context(|| format!("--set {s:?}: expected FIELD=VALUE"))?;
            sets.push((k.trim().to_string(), v.trim().to_string()));
        }
        if let Some(r) = self.rate
            && !(r.is_finite() && r > 0.0)
        {
            anyhow::bail!("--rate {r}: must be a number above 0");
        }
        if !(self.service_time.is_finite() && self.service_time > 0.0) {
            anyhow::bail!(
                "--service-time {}: must be a number of milliseconds above 0",
                self.service_time
            );
        }
        if !(self.budget.is_finite() && self.budget >= 0.0) {
            anyhow::bail!("--budget {}: must be a number >= 0", self.budget);
        }
        let calibration = match &self.calibration {
            Some(p) => check::model::read_calibration(p)?,
            None => Vec::new(),
        };
        Ok(check::CheckPlan {
            inputs: self.inputs.clone(),
            assumptions: check::Assumptions {
                rate: self.rate,
                service_time_ms: self.service_time,
                connection: self.connection.clone(),
                calibration,
                sets,
                seeds: self.seeds,
                first_seed: self.seed,
                ..check::Assumptions::default()
            },
            proxy: self
                .proxy
                .as_deref()
                .and_then(check::manifest::parse_preset),
            budget: self.budget,
            search_fix: !self.no_fix_search,
            fix_out: self.fix.clone(),
            predictions_out: self.predictions.clone(),
            strict_kinds: self.strict_kinds,
            threads: self
                .threads
                .map_or_else(scenarios::default_threads, |t| t as usize),
        })
    }

    fn format(&self) -> check::Format {
        match self.format.as_str() {
            "json" => check::Format::Json,
            "sarif" => check::Format::Sarif,
            "junit" => check::Format::Junit,
            _ => check::Format::Human,
        }
    }
}

fn cmd_check(a: &CheckArgs) -> Result<()> {
    let exit2 = |message: String| CheckExit { code: 2, message };
    let plan = a.plan().map_err(|e| exit2(format!("{e:#}")))?;
    let report = check::run(&plan).map_err(|e| exit2(e.to_string()))?;
    print!("{}", check::output::render(&report, a.format()));
    match report.exit_code() {
        0 => Ok(()),
        code => Err(CheckExit {
            code: code as u8,
            message: String::new(),
        }
        .into()),
    }
}
