//! Observed versus predicted, figure by figure (`fleetsim validate`). Pure: reads summaries,
//! writes markdown and JSON; no network, no cluster.
//!
//! For each scenario present on both sides (a simulator aggregate in
//! `PREDICTED/<scenario>/summary.json`, live summaries in `OBSERVED/<scenario>/run-*/summary.json`)
//! and each headline figure, the predicted interval `[lo, hi]` (2.5th to 97.5th percentile over
//! seeds) is set beside every observed value, and each observed value is marked inside or
//! outside. Nothing is tuned here: a figure outside its interval is reported as it is.

use std::fs;
use std::path::{Path, PathBuf};

use clap::Parser;
use measure::{Aggregate, HEADLINE_FIGURES, Stat, Summary};
use serde::Serialize;

use crate::error::{LiveError, Result};

/// Options of `fleetsim validate --report-only`.
#[derive(Parser, Clone, Debug)]
#[command(
    name = "validate",
    about = "Set live summaries beside the simulator's predicted intervals, figure by figure"
)]
pub struct ReportOpts {
    /// Simulator output: `<dir>/<scenario>/summary.json` (an aggregate over seeds).
    #[arg(long)]
    pub predicted: PathBuf,
    /// Live output: `<dir>/<scenario>/run-*/summary.json`.
    #[arg(long)]
    pub observed: PathBuf,
    /// Where to write `validation.md` and `validation.json`.
    #[arg(long, default_value = "validation")]
    pub out: PathBuf,
}

/// One headline figure of one scenario.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FigureCheck {
    /// The scenario (`<overlay>-<style>`).
    pub scenario: String,
    /// The figure's dotted path in the summary.
    pub figure: String,
    /// `None` when the simulator has no value for it (e.g. a null capacity dip).
    pub predicted: Option<Stat>,
    /// One value per live run (runs without the figure are left out).
    pub observed: Vec<f64>,
    /// How many observed values lie inside `[lo, hi]`.
    pub inside: usize,
}

impl FigureCheck {
    /// Every observed value inside the interval (and at least one observed).
    pub fn all_inside(&self) -> bool {
        !self.observed.is_empty() && self.inside == self.observed.len()
    }

    /// A point prediction (`lo == hi`, e.g. 0 resets in every seed) that every live run met
    /// exactly: inside, but it says little (the score counts it apart).
    pub fn point_met(&self) -> bool {
        self.predicted.is_some_and(|p| {
            p.lo == p.hi && self.all_inside() && self.observed.iter().all(|&x| x == p.lo)
        })
    }
}

/// A live run left out of the score: the generator could not keep its schedule (a late send
/// or a generator-side error), or its records are incomplete. Shown, never silently dropped.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LeftOut {
    /// The scenario (`<overlay>-<style>`).
    pub scenario: String,
    /// The run's `summary.json`.
    pub summary: PathBuf,
    /// Why the run is invalid, from its `live` section.
    pub reason: String,
}

/// Why a live summary's run is invalid (`live.valid` false), or `None` when it is valid or
/// says nothing about it (summaries written before the field existed).
pub(crate) fn invalid_reason(summary_json: &serde_json::Value) -> Option<String> {
    let live = summary_json.get("live")?;
    if live.get("valid")?.as_bool()? {
        return None;
    }
    let n = |k: &str| live.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    let mut why = Vec::new();
    if n("generator_faults") > 0 {
        why.push(format!(
            "{} generator faults (late sends or generator-side errors; send lag max {} ms)",
            n("generator_faults"),
            live.get("send_lag_max_ms")
                .and_then(serde_json::Value::as_f64)
                .map_or("?".to_string(), num)
        ));
    }
    // A footer marks its file invalid for the faults above too: named only when no fault does.
    if live
        .get("footers_valid")
        .and_then(serde_json::Value::as_bool)
        == Some(false)
        && n("generator_faults") == 0
    {
        why.push(
            "a records file whose footer is missing, says the run is invalid or that it stopped early"
                .to_string(),
        );
    }
    if let Some(late) = live.get("late_sends") {
        let in_window = late
            .get("window")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if in_window > 0 {
            why.push(format!(
                "{in_window} sends more than {} ms late inside the deploy window (latest {} ms)",
                late.get("threshold_ms")
                    .and_then(serde_json::Value::as_f64)
                    .map_or("?".to_string(), num),
                late.get("window_lag_max_ms")
                    .and_then(serde_json::Value::as_f64)
                    .map_or("?".to_string(), num)
            ));
        }
    }
    for k in ["duplicate_indices", "missing_indices"] {
        if n(k) > 0 {
            why.push(format!("{} {}", n(k), k.replace('_', " ")));
        }
    }
    if why.is_empty() {
        why.push("the run marked itself invalid".to_string());
    }
    Some(why.join("; "))
}

/// The validation's score, stated twice: over every figure with data, and over the
/// informative ones only (point predictions met exactly are counted apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Score {
    /// Figures with a prediction and at least one live value.
    pub figures: usize,
    /// Of those, every live value inside the interval.
    pub inside: usize,
    /// Point predictions every live run met exactly (inside, uninformative).
    pub point_met: usize,
    /// `figures - point_met`.
    pub informative: usize,
    /// Informative figures with every live value inside.
    pub informative_inside: usize,
}

impl Score {
    /// The score of `checks`.
    pub fn of(checks: &[FigureCheck]) -> Score {
        let with_data: Vec<&FigureCheck> = checks
            .iter()
            .filter(|c| !c.observed.is_empty() && c.predicted.is_some())
            .collect();
        let point_met = with_data.iter().filter(|c| c.point_met()).count();
        Score {
            figures: with_data.len(),
            inside: with_data.iter().filter(|c| c.all_inside()).count(),
            point_met,
            informative: with_data.len() - point_met,
            informative_inside: with_data
                .iter()
                .filter(|c| c.all_inside() && !c.point_met())
                .count(),
        }
    }
}

/// Compares one scenario's aggregate with its live summaries.
pub fn check_scenario(
    scenario: &str,
    predicted: &Aggregate,
    observed: &[Summary],
) -> Vec<FigureCheck> {
    HEADLINE_FIGURES
        .iter()
        .map(|&figure| {
            let predicted = predicted.figure(figure);
            let observed: Vec<f64> = observed.iter().filter_map(|s| s.figure(figure)).collect();
            let inside =
                predicted.map_or(0, |p| observed.iter().filter(|&&x| p.contains(x)).count());
            FigureCheck {
                scenario: scenario.to_string(),
                figure: figure.to_string(),
                predicted,
                observed,
                inside,
            }
        })
        .collect()
}

/// The stream figures a scenario with streams is checked on, beside the headline figures: the
/// prediction's `streams.<figure>` (the simulator's `[streams]`) against a live run's
/// `live.sse.<figure>` (the generator's `--sse`); one definition of both,
/// `measure::summarize_streams`.
pub const STREAM_FIGURES: &[&str] = &[
    "drops",
    "drops_by_reason.eof",
    "drops_by_reason.reset",
    "failed_attempts",
    "never_reconnected",
];

/// Compares a scenario's predicted streams with its live runs' (each run's whole `summary.json`
/// as JSON): one [`FigureCheck`] per [`STREAM_FIGURES`] entry, named `streams.<figure>`. Nothing
/// when the prediction has no streams; a run without streams is left out of a figure's
/// observations, and a reason a live run never saw counts 0 (a live summary lists only the
/// reasons that happened).
pub fn check_streams(
    scenario: &str,
    predicted: &Aggregate,
    observed: &[serde_json::Value],
) -> Vec<FigureCheck> {
    if predicted.figure("streams.drops").is_none() {
        return Vec::new();
    }
    let lives: Vec<&serde_json::Value> = observed
        .iter()
        .filter_map(|raw| raw.pointer("/live/sse").filter(|v| v.is_object()))
        .collect();
    STREAM_FIGURES
        .iter()
        .map(|&figure| {
            let predicted = predicted.figure(&format!("streams.{figure}"));
            let pointer = format!("/{}", figure.replace('.', "/"));
            let observed: Vec<f64> = lives
                .iter()
                .filter_map(|sse| match sse.pointer(&pointer) {
                    Some(v) => v.as_f64(),
                    None if figure.starts_with("drops_by_reason.") => Some(0.0),
                    None => None,
                })
                .collect();
            let inside =
                predicted.map_or(0, |p| observed.iter().filter(|&&x| p.contains(x)).count());
            FigureCheck {
                scenario: scenario.to_string(),
                figure: format!("streams.{figure}"),
                predicted,
                observed,
                inside,
            }
        })
        .collect()
}

/// A markdown report: one table per scenario, the count of figures inside, and the runs left
/// out of the score with their reasons.
pub fn markdown(checks: &[FigureCheck], left_out: &[LeftOut]) -> String {
    let sc = Score::of(checks);
    let mut s = format!(
        "# Observed versus predicted\n\n{} of {} figures inside their predicted interval \
         (every live run inside the simulator's 2.5-97.5 percentile range over seeds).\n\n\
         Informative figures only: {} of {} inside. The other {} are point predictions (the same \
         value in every seed, e.g. 0 resets) that every live run met exactly, marked \
         `inside (point, met exactly)` below.\n",
        sc.inside, sc.figures, sc.informative_inside, sc.informative, sc.point_met
    );
    if !left_out.is_empty() {
        s += &format!(
            "\n{} live run(s) left out of the score: the generator could not keep its schedule or \
             the records are incomplete, so the run does not measure the fleet alone.\n\n\
             | scenario | run | why |\n|---|---|---|\n",
            left_out.len()
        );
        for l in left_out {
            s += &format!(
                "| {} | {} | {} |\n",
                l.scenario,
                l.summary.display(),
                l.reason
            );
        }
    }
    let mut scenarios: Vec<&str> = checks.iter().map(|c| c.scenario.as_str()).collect();
    scenarios.dedup();
    for scenario in scenarios {
        s += &format!(
            "\n## {scenario}\n\n| figure | predicted mean [lo, hi] | observed | verdict |\n|---|---|---|---|\n"
        );
        for c in checks.iter().filter(|c| c.scenario == scenario) {
            let p = c.predicted.map_or("-".to_string(), |p| {
                format!("{} [{}, {}]", num(p.mean), num(p.lo), num(p.hi))
            });
            let o = if c.observed.is_empty() {
                "-".to_string()
            } else {
                c.observed
                    .iter()
                    .map(|&x| num(x))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let verdict = match (c.predicted, c.observed.is_empty()) {
                (None, _) | (_, true) => "no data".to_string(),
                _ if c.point_met() => "inside (point, met exactly)".to_string(),
                _ if c.all_inside() => "inside".to_string(),
                _ => format!("OUTSIDE ({}/{} inside)", c.inside, c.observed.len()),
            };
            s += &format!("| {} | {p} | {o} | {verdict} |\n", c.figure);
        }
    }
    s
}

fn num(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e12 {
        format!("{x:.0}")
    } else if x.abs() < 0.01 {
        format!("{x:.5}")
    } else {
        format!("{x:.2}")
    }
}

/// Reads an aggregate written by `fleetsim run`/`demo`.
pub(crate) fn read_aggregate(path: &Path) -> Result<Aggregate> {
    let text = fs::read_to_string(path).map_err(LiveError::io(path))?;
    serde_json::from_str(&text).map_err(|e| LiveError::RunDir {
        dir: path.to_path_buf(),
        reason: format!("not a summary aggregate: {e}"),
    })
}

/// Reads a live (or per-seed) summary.
pub(crate) fn read_summary(path: &Path) -> Result<Summary> {
    let text = fs::read_to_string(path).map_err(LiveError::io(path))?;
    serde_json::from_str(&text).map_err(|e| LiveError::RunDir {
        dir: path.to_path_buf(),
        reason: format!("not a fleetsim summary: {e}"),
    })
}

/// Every `summary.json` below `dir` (any depth), sorted by path.
fn summaries_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).map_err(LiveError::io(&d))? {
            let path = entry.map_err(LiveError::io(&d))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "summary.json") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes `validation.md` and `validation.json`: every predicted scenario
/// (`PREDICTED/<scenario>/summary.json`) against every live summary below OBSERVED whose
/// `scenario` field names it (live runs name their per-style summaries `<overlay>-<style>`).
pub fn run(opts: ReportOpts) -> Result<Vec<FigureCheck>> {
    let mut observed: std::collections::BTreeMap<String, Vec<Summary>> = Default::default();
    let mut observed_raw: std::collections::BTreeMap<String, Vec<serde_json::Value>> =
        Default::default();
    let mut left_out = Vec::new();
    for path in summaries_below(&opts.observed)? {
        let Ok(summary) = read_summary(&path) else {
            continue;
        };
        if summary.source != measure::Source::Live {
            continue;
        }
        let raw: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).map_err(LiveError::io(&path))?)?;
        if let Some(reason) = invalid_reason(&raw) {
            left_out.push(LeftOut {
                scenario: summary.scenario.clone(),
                summary: path
                    .strip_prefix(&opts.observed)
                    .unwrap_or(&path)
                    .to_path_buf(),
                reason,
            });
            continue;
        }
        observed_raw
            .entry(summary.scenario.clone())
            .or_default()
            .push(raw);
        observed
            .entry(summary.scenario.clone())
            .or_default()
            .push(summary);
    }
    let mut scenarios: Vec<PathBuf> = fs::read_dir(&opts.predicted)
        .map_err(LiveError::io(&opts.predicted))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("summary.json").exists())
        .collect();
    scenarios.sort();
    // Only runs of a predicted scenario could have been scored: list those left out.
    left_out.retain(|l| {
        scenarios
            .iter()
            .any(|d| d.file_name().is_some_and(|n| *n == *l.scenario))
    });
    for l in &left_out {
        eprintln!(
            "validate: {} left out of the score: {}",
            opts.observed.join(&l.summary).display(),
            l.reason
        );
    }
    let mut checks = Vec::new();
    for dir in scenarios {
        let scenario = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(runs) = observed.get(&scenario) else {
            eprintln!(
                "validate: no live run of {scenario} under {}; skipped",
                opts.observed.display()
            );
            continue;
        };
        let predicted = read_aggregate(&dir.join("summary.json"))?;
        checks.extend(check_scenario(&scenario, &predicted, runs));
        let raws = observed_raw.get(&scenario).map_or(&[][..], Vec::as_slice);
        checks.extend(check_streams(&scenario, &predicted, raws));
    }
    if checks.is_empty() {
        return Err(LiveError::NothingToCompare {
            predicted: opts.predicted.clone(),
            observed: opts.observed.clone(),
            left_out: left_out.len(),
        });
    }
    fs::create_dir_all(&opts.out).map_err(LiveError::io(&opts.out))?;
    let md = opts.out.join("validation.md");
    fs::write(&md, markdown(&checks, &left_out)).map_err(LiveError::io(&md))?;
    let rows: Vec<plots::PredictedObserved> = checks
        .iter()
        .filter_map(|c| {
            Some(plots::PredictedObserved {
                scenario: c.scenario.clone(),
                figure: c.figure.clone(),
                predicted: c.predicted?,
                observed: c.observed.clone(),
            })
        })
        .filter(|r| !r.observed.is_empty())
        .collect();
    plots::predicted_vs_observed(&rows, opts.out.join("predicted-vs-observed.svg"))?;
    let json = opts.out.join("validation.json");
    fs::write(&json, serde_json::to_string_pretty(&checks)? + "\n")
        .map_err(LiveError::io(&json))?;
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use measure::{JobCounts, LatencySummary, OutcomeCounts, Percentiles, SUMMARY_SCHEMA, Source};

    fn summary(refused: u64, p99: f64) -> Summary {
        let requests = OutcomeCounts {
            sent: 1000,
            ok: 1000 - refused,
            refused,
            ..Default::default()
        };
        Summary {
            schema: SUMMARY_SCHEMA.into(),
            source: Source::Sim,
            scenario: "before".into(),
            seed: Some(1),
            window_s: [10.0, 40.0],
            requests,
            failed: refused,
            error_rate: refused as f64 / 1000.0,
            latency_ms: LatencySummary {
                baseline: Percentiles::default(),
                window: Percentiles {
                    p50: Some(50.0),
                    p99: Some(p99),
                    p999: Some(p99),
                },
            },
            capacity_dip: Some(0.67),
            longest_success_gap_ms: 12.0,
            jobs: JobCounts::default(),
            generator_faults: 0,
            provenance: Default::default(),
            streams: None,
        }
    }

    #[test]
    fn stream_figures_are_checked_against_the_live_sse_block() {
        // 40 seeds whose streams all dropped 200 times, `eof` 190-199 and `reset` 1-10.
        let predicted = Aggregate::of(
            &(0..40)
                .map(|i| {
                    let mut s = summary(10, 100.0);
                    let mut st = measure::StreamSummary {
                        streams: 200,
                        drops: 200,
                        ..Default::default()
                    };
                    st.drops_by_reason.insert("eof".into(), 190 + i % 10);
                    st.drops_by_reason.insert("reset".into(), 10 - i % 10);
                    s.streams = Some(st);
                    s
                })
                .collect::<Vec<_>>(),
        );
        let live = |eof: u64, reset: Option<u64>| {
            let mut by = serde_json::Map::new();
            by.insert("eof".into(), eof.into());
            if let Some(r) = reset {
                by.insert("reset".into(), r.into());
            }
            serde_json::json!({"live": {"sse": {"drops": eof + reset.unwrap_or(0),
                "drops_by_reason": by, "failed_attempts": 0, "never_reconnected": 0}}})
        };
        // One run inside; one that saw no reset at all (its summary lists no `reset`: 0,
        // outside 1-10); one without streams, left out.
        let observed = vec![
            live(195, Some(5)),
            live(200, None),
            serde_json::json!({"live": {}}),
        ];
        let checks = check_streams("s", &predicted, &observed);
        let names: Vec<&str> = checks.iter().map(|c| c.figure.as_str()).collect();
        assert_eq!(
            names,
            STREAM_FIGURES
                .iter()
                .map(|f| format!("streams.{f}"))
                .collect::<Vec<_>>()
        );
        let reset = &checks[2];
        assert_eq!(reset.observed, vec![5.0, 0.0]);
        assert_eq!(reset.inside, 1);
        assert!(checks[0].all_inside(), "{:?}", checks[0]);
        // A prediction without streams checks none.
        let plain = Aggregate::of(&[summary(10, 100.0)]);
        assert!(check_streams("s", &plain, &observed).is_empty());
    }

    #[test]
    fn each_observed_value_is_marked_against_the_interval() {
        let predicted = Aggregate::of(
            &(0..40)
                .map(|i| summary(10 + i % 5, 100.0 + i as f64))
                .collect::<Vec<_>>(),
        );
        let observed = vec![summary(12, 120.0), summary(30, 120.0)];
        let checks = check_scenario("before", &predicted, &observed);
        let refused = checks
            .iter()
            .find(|c| c.figure == "requests.refused")
            .unwrap();
        assert_eq!(refused.observed, vec![12.0, 30.0]);
        assert_eq!(refused.inside, 1);
        assert!(!refused.all_inside());
        let p99 = checks
            .iter()
            .find(|c| c.figure == "latency_ms.window.p99")
            .unwrap();
        assert!(p99.all_inside(), "{p99:?}");
        let md = markdown(&checks, &[]);
        assert!(md.contains("OUTSIDE (1/2 inside)"), "{md}");
        assert!(md.contains("## before"));
    }

    #[test]
    fn zero_predicted_and_zero_observed_is_inside() {
        let predicted = Aggregate::of(&[summary(0, 50.0), summary(0, 50.0)]);
        let checks = check_scenario("after", &predicted, &[summary(0, 50.0)]);
        assert!(
            checks
                .iter()
                .find(|c| c.figure == "failed")
                .unwrap()
                .all_inside()
        );
        let checks = check_scenario("after", &predicted, &[summary(1, 50.0)]);
        assert!(
            !checks
                .iter()
                .find(|c| c.figure == "failed")
                .unwrap()
                .all_inside()
        );
    }

    /// A point prediction met exactly is inside but counted apart; the same point missed, or
    /// an interval met, is informative.
    #[test]
    fn the_score_counts_point_predictions_met_exactly_apart() {
        let predicted = Aggregate::of(&[summary(0, 50.0), summary(0, 60.0)]);
        let met = check_scenario("after", &predicted, &[summary(0, 55.0)]);
        let failed = met.iter().find(|c| c.figure == "failed").unwrap();
        assert!(failed.point_met() && failed.all_inside());
        let p99 = met
            .iter()
            .find(|c| c.figure == "latency_ms.window.p99")
            .unwrap();
        assert!(p99.all_inside() && !p99.point_met(), "{p99:?}");
        let sc = Score::of(&met);
        assert_eq!(sc.informative + sc.point_met, sc.figures);
        assert!(sc.informative_inside >= 1 && sc.informative_inside <= sc.inside);
        let md = markdown(&met, &[]);
        assert!(
            md.contains("| failed | 0 [0, 0] | 0 | inside (point, met exactly) |"),
            "{md}"
        );
        assert!(md.contains(&format!(
            "Informative figures only: {} of {} inside",
            sc.informative_inside, sc.informative
        )));
        let missed = check_scenario("after", &predicted, &[summary(3, 55.0)]);
        let failed = missed.iter().find(|c| c.figure == "failed").unwrap();
        assert!(!failed.point_met() && !failed.all_inside());
        assert!(Score::of(&missed).point_met < sc.point_met);
    }

    #[test]
    fn run_reads_directories_and_writes_the_report() {
        let tmp = std::env::temp_dir().join(format!("fleetsim-report-{}", std::process::id()));
        let (pred, obs, out) = (tmp.join("pred"), tmp.join("obs"), tmp.join("out"));
        fs::create_dir_all(pred.join("before")).unwrap();
        fs::create_dir_all(obs.join("before/run-1/new")).unwrap();
        fs::create_dir_all(pred.join("unobserved")).unwrap();
        let agg = Aggregate::of(&[summary(10, 100.0), summary(12, 110.0)]);
        fs::write(
            pred.join("before/summary.json"),
            serde_json::to_string(&agg).unwrap(),
        )
        .unwrap();
        let mut live = summary(11, 105.0);
        live.source = Source::Live;
        fs::write(
            obs.join("before/run-1/new/summary.json"),
            serde_json::to_string(&live).unwrap(),
        )
        .unwrap();
        // A simulated summary below OBSERVED is not a live run and is not counted.
        fs::write(
            obs.join("before/run-1/summary.json"),
            serde_json::to_string(&summary(99, 1.0)).unwrap(),
        )
        .unwrap();
        fs::write(
            pred.join("unobserved/summary.json"),
            serde_json::to_string(&agg).unwrap(),
        )
        .unwrap();
        let checks = run(ReportOpts {
            predicted: pred,
            observed: obs,
            out: out.clone(),
        })
        .unwrap();
        assert!(checks.iter().all(|c| c.scenario == "before"));
        let refused = checks
            .iter()
            .find(|c| c.figure == "requests.refused")
            .unwrap();
        assert_eq!(refused.observed, vec![11.0]);
        assert!(
            fs::read_to_string(out.join("validation.md"))
                .unwrap()
                .contains("requests.refused")
        );
        fs::remove_dir_all(&tmp).unwrap();
    }

    /// A run whose generator fell behind is left out of the score and listed with its reason;
    /// the valid run of the same scenario is scored alone.
    #[test]
    fn an_invalid_run_is_left_out_of_the_score_and_listed() {
        let tmp =
            std::env::temp_dir().join(format!("fleetsim-report-invalid-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        let (pred, obs, out) = (tmp.join("pred"), tmp.join("obs"), tmp.join("out"));
        fs::create_dir_all(pred.join("before")).unwrap();
        let agg = Aggregate::of(&[summary(10, 100.0), summary(12, 110.0)]);
        fs::write(
            pred.join("before/summary.json"),
            serde_json::to_string(&agg).unwrap(),
        )
        .unwrap();
        for (run, refused, valid, faults) in [("run-1", 11, true, 0), ("run-2", 90, false, 3)] {
            let mut live = summary(refused, 105.0);
            live.source = Source::Live;
            live.generator_faults = faults;
            let mut v = serde_json::to_value(&live).unwrap();
            v["live"] = serde_json::json!({
                "valid": valid, "generator_faults": faults, "send_lag_max_ms": 76.5,
                "footers_valid": true, "duplicate_indices": 0, "missing_indices": 0
            });
            let dir = obs.join("before").join(run).join("new");
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join("summary.json"), v.to_string()).unwrap();
        }
        let checks = run(ReportOpts {
            predicted: pred.clone(),
            observed: obs.clone(),
            out: out.clone(),
        })
        .unwrap();
        let refused = checks
            .iter()
            .find(|c| c.figure == "requests.refused")
            .unwrap();
        assert_eq!(refused.observed, vec![11.0], "run-2 is not scored");
        let md = fs::read_to_string(out.join("validation.md")).unwrap();
        assert!(md.contains("1 live run(s) left out of the score"), "{md}");
        assert!(
            md.contains("before/run-2/new/summary.json | 3 generator faults"),
            "{md}"
        );
        assert!(md.contains("send lag max 76.50 ms"), "{md}");
        // With only the invalid run left, nothing is scored, and the error says why.
        fs::remove_dir_all(obs.join("before/run-1")).unwrap();
        let e = run(ReportOpts {
            predicted: pred,
            observed: obs,
            out,
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("1 live summaries of predicted scenarios were left out as invalid"),
            "{e}"
        );
        fs::remove_dir_all(&tmp).unwrap();
    }
}
