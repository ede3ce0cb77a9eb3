//! The many-seed runner: seeds in parallel threads, results gathered by seed index, so the
//! output bytes do not depend on `--threads`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use measure::figure::HEADLINE;
use measure::{Aggregate, Analysis, Bucket, Figure, Outcome, Summary};
use models::Mechanism;
use sim_core::TraceDigest;

use crate::table::{Table, fmt_figure};

/// What one seed's simulation hands back to the runner.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedRun {
    /// Summary, timeline and reconnect curve of the seed.
    pub analysis: Analysis,
    /// The determinism trace's end state.
    pub digest: TraceDigest,
    /// Simulated events executed.
    pub events: u64,
    /// Client retries (counted, never hidden).
    pub retries: u64,
    /// Failed requests and jobs by the mechanism that caused them.
    pub failures_by_mechanism: BTreeMap<Mechanism, u64>,
    /// `false` when the rollout had not finished by the simulated time cap
    /// (`run.max_duration`): the deploy window was cut there.
    pub rollout_complete: bool,
}

impl SeedRun {
    /// The run without its timeline and reconnect curve, which only the first seed's report
    /// keeps: a many-seed run holds this for every seed, so its memory does not grow with the
    /// length of the simulated run.
    pub fn without_curves(mut self) -> SeedRun {
        self.analysis.timeline = Vec::new();
        self.analysis.reconnects = Vec::new();
        self
    }

    /// Keeps the curves of the first seed (`index` 0) only; see [`SeedRun::without_curves`].
    pub fn keep_curves_if_first(self, index: usize) -> SeedRun {
        if index == 0 {
            self
        } else {
            self.without_curves()
        }
    }
}

/// Maps `f` over `0..n` on `threads` scoped threads. Index `i` runs on thread `i % threads`
/// (a fixed split), and the results come back in index order, so the output is the same for
/// every thread count as long as `f(i)` depends only on `i`. `on_done` is called after each
/// item (for a progress bar).
pub fn par_map<T, F>(n: usize, threads: usize, on_done: &(dyn Fn() + Sync), f: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize) -> T + Sync,
{
    let threads = threads.clamp(1, n.max(1));
    if threads == 1 {
        return (0..n)
            .map(|i| {
                let v = f(i);
                on_done();
                v
            })
            .collect();
    }
    let mut slots: Vec<Option<T>> = (0..n).map(|_| None).collect();
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t..n)
                        .step_by(threads)
                        .map(|i| {
                            let v = f(i);
                            on_done();
                            (i, v)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(results) => {
                    for (i, v) in results {
                        slots[i] = Some(v);
                    }
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    slots
        .into_iter()
        .map(|v| v.expect("every index was mapped by exactly one thread"))
        .collect()
}

/// The default thread count: the machine's parallelism.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `n` seeds starting at `first`.
pub fn seed_list(first: u64, n: usize) -> Vec<u64> {
    (0..n as u64).map(|i| first.wrapping_add(i)).collect()
}

/// One scenario run over many seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// The scenario's name.
    pub scenario: String,
    /// The seeds run, in order.
    pub seeds: Vec<u64>,
    /// Per-seed summaries, in seed order.
    pub summaries: Vec<Summary>,
    /// Per seed: the determinism trace's end state.
    pub digests: Vec<TraceDigest>,
    /// Per seed: client retries (each extra attempt).
    pub retries: Vec<u64>,
    /// Per seed: failed requests and lost or redelivered jobs, by the mechanism that caused them.
    pub failures_by_mechanism: Vec<BTreeMap<Mechanism, u64>>,
    /// The first seed's timeline and reconnect curve.
    pub timeline: Vec<Bucket>,
    /// The first seed's new connections per fine bucket (the reconnect curve).
    pub reconnects: Vec<u64>,
    /// Per seed: `false` when its rollout hit the simulated time cap unfinished.
    pub rollout_complete: Vec<bool>,
}

/// A seed's summary as `seeds/<seed>.json` holds it: the summary, plus
/// `"rollout_cut_by_time_cap": true` when the rollout had not finished by the simulated time cap
/// (the field is left out otherwise, so complete runs keep the summary's exact bytes).
#[derive(serde::Serialize)]
struct SeedSummary<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    rollout_cut_by_time_cap: bool,
}

/// The aggregate's key counting the seeds whose rollout hit the simulated time cap (present only
/// when there is one).
pub(crate) const CUT_BY_TIME_CAP_KEY: &str = "rollouts_cut_by_time_cap";

/// Why a run failed: the first failing seed, by seed order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scenario {scenario}, seed {seed}: {message}")]
pub struct RunError {
    /// The scenario's name.
    pub scenario: String,
    /// The seed whose run failed (rerun it alone with `--seed N --seeds 1`).
    pub seed: u64,
    /// Why the run gave no result.
    pub message: String,
}

/// Runs `simulate(seed)` for every seed on `threads` threads.
pub fn run_seeds<F, E>(
    scenario: &str,
    seeds: &[u64],
    threads: usize,
    on_done: &(dyn Fn() + Sync),
    simulate: F,
) -> Result<RunReport, RunError>
where
    F: Fn(u64) -> Result<SeedRun, E> + Sync,
    E: std::fmt::Display + Send,
{
    let results = par_map(seeds.len(), threads, on_done, |i| {
        simulate(seeds[i]).map(|run| run.keep_curves_if_first(i))
    });
    collect(scenario, seeds, results)
}

/// Builds a report from per-seed results in seed order.
pub(crate) fn collect<E: std::fmt::Display>(
    scenario: &str,
    seeds: &[u64],
    results: Vec<Result<SeedRun, E>>,
) -> Result<RunReport, RunError> {
    let mut report = RunReport {
        scenario: scenario.to_string(),
        seeds: seeds.to_vec(),
        summaries: Vec::with_capacity(seeds.len()),
        digests: Vec::with_capacity(seeds.len()),
        retries: Vec::with_capacity(seeds.len()),
        failures_by_mechanism: Vec::with_capacity(seeds.len()),
        timeline: Vec::new(),
        reconnects: Vec::new(),
        rollout_complete: Vec::with_capacity(seeds.len()),
    };
    for (i, r) in results.into_iter().enumerate() {
        let run = r.map_err(|message| RunError {
            scenario: scenario.to_string(),
            seed: seeds[i],
            message: message.to_string(),
        })?;
        if i == 0 {
            report.timeline = run.analysis.timeline;
            report.reconnects = run.analysis.reconnects;
        }
        report.summaries.push(run.analysis.summary);
        report.digests.push(run.digest);
        report.retries.push(run.retries);
        report.failures_by_mechanism.push(run.failures_by_mechanism);
        report.rollout_complete.push(run.rollout_complete);
    }
    Ok(report)
}

impl RunReport {
    /// The aggregate over seeds (the summary's shape, numbers as `{mean, lo, hi}`).
    /// When a seed's rollout hit the simulated time cap, the aggregate also counts those seeds
    /// (`rollouts_cut_by_time_cap`).
    pub fn aggregate(&self) -> Aggregate {
        let mut agg = Aggregate::of(&self.summaries);
        let cut = self.seeds_cut_by_time_cap().len();
        if let (true, serde_json::Value::Object(map)) = (cut > 0, &mut agg.0) {
            map.insert(CUT_BY_TIME_CAP_KEY.into(), serde_json::Value::from(cut));
        }
        agg
    }

    /// The seeds whose rollout had not finished by the simulated time cap.
    pub fn seeds_cut_by_time_cap(&self) -> Vec<u64> {
        self.seeds
            .iter()
            .zip(&self.rollout_complete)
            .filter(|&(_, &complete)| !complete)
            .map(|(&seed, _)| seed)
            .collect()
    }

    /// A warning for the terminal when some seed's rollout hit the simulated time cap
    /// (`cap`, the scenario's `run.max_duration`): its deploy window was cut there, so its
    /// figures leave out the rest of the rollout.
    pub fn time_cap_warning(&self, cap: &dyn std::fmt::Display) -> Option<String> {
        let cut = self.seeds_cut_by_time_cap();
        let first = cut.first()?;
        Some(format!(
            "WARNING: scenario {}: the rollout did not finish within the simulated time cap \
             (run.max_duration = {cap}) in {} of {} seeds (first: seed {first}); their deploy \
             window is cut at the cap and the figures leave out the rest of the rollout. Raise \
             run.max_duration, or the rollout's pace (rollout.max_surge / rollout.max_unavailable).",
            self.scenario,
            cut.len(),
            self.seeds.len(),
        ))
    }

    /// Simulated events over all seeds.
    pub fn events(&self) -> u64 {
        self.digests.iter().map(|d| d.events).sum()
    }

    /// Writes `summary.json`, `seeds/<seed>.json`, `timeline.csv`, `reconnects.csv` and
    /// `digests.csv` into `dir`. Every byte depends only on the scenario and the seeds.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir.join("seeds"))?;
        write_json(&dir.join("summary.json"), &self.aggregate())?;
        for (i, s) in self.summaries.iter().enumerate() {
            let seed = s.seed.unwrap_or_default();
            let path = dir.join("seeds").join(format!("{seed}.json"));
            if self.rollout_complete.get(i).copied().unwrap_or(true) {
                write_json(&path, s)?;
            } else {
                write_json(
                    &path,
                    &SeedSummary {
                        summary: s,
                        rollout_cut_by_time_cap: true,
                    },
                )?;
            }
        }
        let first = self.seeds.first().copied().unwrap_or_default();
        std::fs::write(
            dir.join("timeline.csv"),
            timeline_csv(first, &self.timeline),
        )?;
        std::fs::write(
            dir.join("reconnects.csv"),
            reconnects_csv(first, &self.reconnects),
        )?;
        std::fs::write(dir.join("digests.csv"), self.digests_csv())?;
        Ok(())
    }

    fn digests_csv(&self) -> String {
        let mut mechanisms: Vec<&Mechanism> = self
            .failures_by_mechanism
            .iter()
            .flat_map(|m| m.keys())
            .collect();
        mechanisms.sort();
        mechanisms.dedup();
        let mut out = String::from("seed,trace_hash,events,draws,retries");
        for m in &mechanisms {
            let _ = write!(out, ",failed_by.{m}");
        }
        out.push('\n');
        for (i, seed) in self.seeds.iter().enumerate() {
            let d = &self.digests[i];
            let _ = write!(
                out,
                "{seed},{:016x},{},{},{}",
                d.hash, d.events, d.draws, self.retries[i]
            );
            for m in &mechanisms {
                let n = self.failures_by_mechanism[i].get(*m).copied().unwrap_or(0);
                let _ = write!(out, ",{n}");
            }
            out.push('\n');
        }
        out
    }

    /// The aggregate as a markdown table: every headline figure and every outcome count.
    pub fn table(&self) -> String {
        summary_table(&self.aggregate())
    }
}

/// An aggregate as a markdown table of mean, lo and hi.
pub(crate) fn summary_table(agg: &Aggregate) -> String {
    let mut t = Table::new(["figure", "mean", "lo (2.5%)", "hi (97.5%)"]);
    let mut figures: Vec<Figure> = HEADLINE.to_vec();
    for o in Outcome::ALL {
        let f = Figure::requests(o);
        if !figures.contains(&f) {
            figures.push(f);
        }
    }
    figures.insert(2, Figure::Sent);
    figures.extend([
        Figure::BaselineP99,
        Figure::WindowP50,
        Figure::WindowP999,
        Figure::JobsPublished,
        Figure::JobsAppliedOnce,
        Figure::JobsPending,
    ]);
    for f in figures {
        let path = f.path().to_string();
        match agg.stat(f) {
            Some(s) => t.row([
                path,
                fmt_figure(f, s.mean),
                fmt_figure(f, s.lo),
                fmt_figure(f, s.hi),
            ]),
            None => t.row([path, "-".into(), "-".into(), "-".into()]),
        }
    }
    format!(
        "scenario {}, {} seeds, window {}\n\n{}",
        agg.scenario(),
        agg.seeds(),
        window_text(agg),
        t.markdown()
    )
}

fn window_text(agg: &Aggregate) -> String {
    let w = agg.0.get("window_s").and_then(|v| v.as_array());
    let stat = |i: usize| {
        w.and_then(|a| a.get(i))
            .and_then(|v| serde_json::from_value::<measure::Stat>(v.clone()).ok())
    };
    match (stat(0), stat(1)) {
        (Some(a), Some(b)) => format!("{:.1} s .. {:.1} s (mean)", a.mean, b.mean),
        _ => "unknown".into(),
    }
}

/// Pretty JSON with a trailing newline.
pub(crate) fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    text.push('\n');
    std::fs::write(path, text)
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// The timeline CSV. The `seed` column says which seed it comes from (the first).
pub(crate) fn timeline_csv(seed: u64, timeline: &[Bucket]) -> String {
    let mut out = String::from("seed,t_s,sent");
    for o in Outcome::ALL {
        let _ = write!(out, ",{}", o.as_str());
    }
    out.push_str(",completed,p50_ms,p99_ms,ready_endpoints,new_connections\n");
    for b in timeline {
        let _ = write!(out, "{seed},{},{}", b.t_s, b.counts.sent);
        for o in Outcome::ALL {
            let _ = write!(out, ",{}", b.counts.get(o));
        }
        let _ = writeln!(
            out,
            ",{},{},{},{},{}",
            b.completed,
            opt(b.p50_ms),
            opt(b.p99_ms),
            opt(b.ready_endpoints),
            b.new_connections
        );
    }
    out
}

/// The reconnect curve CSV: new connections per 10 ms bucket, from the first seed.
pub(crate) fn reconnects_csv(seed: u64, reconnects: &[u64]) -> String {
    let mut out = String::from("seed,t_ms,new_connections\n");
    for (i, n) in reconnects.iter().enumerate() {
        let _ = writeln!(out, "{seed},{},{n}", i * 10);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use measure::{AnalyzeConfig, JobCounts, RunLabel, RunMarks, Sample, Source, analyze};

    /// A stand-in simulation whose result depends only on the seed.
    pub(crate) fn fake_run(scenario: &str, seed: u64) -> Result<SeedRun, String> {
        let ms = 1_000_000u64;
        let samples: Vec<Sample> = (0..200u64)
            .map(|i| {
                let t = i * 100 * ms;
                let outcome = if (i + seed).is_multiple_of(37) {
                    Outcome::Refused
                } else {
                    Outcome::Ok
                };
                Sample {
                    intended_ns: t,
                    start_ns: t,
                    end_ns: t + (10 + (i * seed) % 50) * ms,
                    outcome,
                    new_conn: i.is_multiple_of(5),
                }
            })
            .collect();
        let marks = RunMarks {
            load_start_ns: 0,
            rollout_start_ns: 5_000 * ms,
            rollout_end_ns: 12_000 * ms,
            load_end_ns: 20_000 * ms,
        };
        let label = RunLabel {
            source: Source::Sim,
            scenario: scenario.into(),
            seed: Some(seed),
        };
        let analysis = analyze(
            &samples,
            &marks,
            None,
            JobCounts {
                published: 10,
                applied_once: 10,
                ..JobCounts::default()
            },
            &label,
            &AnalyzeConfig::default(),
        );
        Ok(SeedRun {
            analysis,
            digest: TraceDigest {
                hash: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                events: 1000 + seed,
                draws: seed,
            },
            events: 1000 + seed,
            retries: 0,
            failures_by_mechanism: BTreeMap::from([(Mechanism::ListenerClosed, seed % 3)]),
            rollout_complete: seed != 3,
        })
    }

    fn dir_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
        out
    }

    #[test]
    fn par_map_keeps_index_order_for_any_thread_count() {
        for threads in [1, 2, 3, 8, 100] {
            let v = par_map(17, threads, &|| {}, |i| i * i);
            assert_eq!(v, (0..17).map(|i| i * i).collect::<Vec<_>>());
        }
        assert!(par_map(0, 4, &|| {}, |i| i).is_empty());
    }

    #[test]
    fn output_bytes_do_not_depend_on_threads() {
        let seeds = seed_list(1, 7);
        let mut dirs = Vec::new();
        for threads in [1, 2, 5] {
            let r = run_seeds("t", &seeds, threads, &|| {}, |s| fake_run("t", s)).unwrap();
            let d = tempfile::tempdir().unwrap();
            r.write(d.path()).unwrap();
            dirs.push((dir_bytes(d.path()), d));
        }
        assert_eq!(dirs[0].0, dirs[1].0);
        assert_eq!(dirs[0].0, dirs[2].0);
        assert!(dirs[0].0.contains_key("seeds/7.json"));
        let csv = String::from_utf8(dirs[0].0["timeline.csv"].clone()).unwrap();
        assert!(csv.starts_with("seed,t_s,sent,ok,refused"));
        assert!(csv.lines().nth(1).unwrap().starts_with("1,0,"));
    }

    #[test]
    fn the_first_failing_seed_is_reported() {
        let seeds = seed_list(10, 5);
        let e = run_seeds("t", &seeds, 2, &|| {}, |s| {
            if s >= 12 {
                Err(format!("conservation failed at {s}"))
            } else {
                fake_run("t", s)
            }
        })
        .unwrap_err();
        assert_eq!(e.seed, 12);
        assert_eq!(
            e.to_string(),
            "scenario t, seed 12: conservation failed at 12"
        );
    }

    #[test]
    fn the_summary_table_lists_headline_figures() {
        let r = run_seeds("t", &seed_list(1, 3), 2, &|| {}, |s| fake_run("t", s)).unwrap();
        let t = r.table();
        for f in HEADLINE.map(Figure::path) {
            assert!(t.contains(&format!("| {f} ")), "{f} missing in\n{t}");
        }
    }

    #[test]
    fn a_rollout_cut_by_the_time_cap_is_flagged_in_its_summary_and_the_aggregate() {
        let r = run_seeds("t", &seed_list(1, 4), 2, &|| {}, |s| fake_run("t", s)).unwrap();
        assert_eq!(r.seeds_cut_by_time_cap(), vec![3]);
        let warning = r.time_cap_warning(&"30m").unwrap();
        assert!(
            warning.contains("1 of 4 seeds (first: seed 3)"),
            "{warning}"
        );
        assert!(warning.contains("run.max_duration = 30m"), "{warning}");
        assert_eq!(r.aggregate().0[CUT_BY_TIME_CAP_KEY], 1);
        let d = tempfile::tempdir().unwrap();
        r.write(d.path()).unwrap();
        let read = |seed: u64| {
            let text = std::fs::read_to_string(d.path().join(format!("seeds/{seed}.json")));
            serde_json::from_str::<serde_json::Value>(&text.unwrap()).unwrap()
        };
        assert_eq!(read(3)["rollout_cut_by_time_cap"], true);
        assert!(read(2).get("rollout_cut_by_time_cap").is_none());
        // The flag is an extra field: the summary reads back the same.
        let back: Summary = serde_json::from_value(read(3)).unwrap();
        assert_eq!(back, r.summaries[2]);
        let complete = run_seeds("t", &seed_list(4, 2), 1, &|| {}, |s| fake_run("t", s)).unwrap();
        assert!(complete.time_cap_warning(&"30m").is_none());
        assert!(complete.aggregate().0.get(CUT_BY_TIME_CAP_KEY).is_none());
    }
}
