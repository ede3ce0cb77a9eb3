//! `compare`: aggregates side by side, and the ablation table that attributes each failure mode
//! to the lever that removes it.

use std::path::Path;

use measure::figure::{FAILURE_MODES, HEADLINE};
use measure::{Aggregate, Better, Figure, Lever, Stat};

use crate::error::SummaryError;
use crate::shipped::{alone, without};
use crate::table::{Table, fmt_figure, fmt_num};

/// One aggregate and the name its column carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    /// The column heading: the aggregate's scenario, or the folder name when it has none.
    pub name: String,
    /// The scenario's figures over seeds (`aggregate.json`).
    pub aggregate: Aggregate,
}

/// Reads `DIR/summary.json` (or a summary file given directly). The name is the aggregate's
/// scenario, or the folder's name when the aggregate has none.
pub fn read_summary(path: &Path) -> Result<Named, SummaryError> {
    let file = if path.is_dir() {
        path.join("summary.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|source| SummaryError::Read {
        path: file.clone(),
        source,
    })?;
    let aggregate: Aggregate =
        serde_json::from_str(&text).map_err(|source| SummaryError::NotJson {
            path: file.clone(),
            source,
        })?;
    if !aggregate.0.is_object() {
        return Err(SummaryError::NotObject { path: file });
    }
    // Every headline figure's key must be there (a live run's may be null: no series).
    let missing: Vec<String> = std::iter::once("schema")
        .chain(measure::figure::HEADLINE_PATHS)
        .filter(|path| {
            path.split('.')
                .try_fold(&aggregate.0, |v, key| v.get(key))
                .is_none()
        })
        .map(str::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(SummaryError::Missing {
            path: file,
            fields: missing,
        });
    }
    let name = match aggregate.scenario() {
        "" => path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.display().to_string()),
        s => s.to_string(),
    };
    Ok(Named { name, aggregate })
}

/// Reads every path: a run folder, a summary file, or a folder of run folders (such as the
/// demo's output), whose runs are taken in the shipped scenarios' order, then by name.
pub fn read_summaries(paths: &[&Path]) -> Result<Vec<Named>, SummaryError> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() && !path.join("summary.json").exists() {
            let mut runs: Vec<std::path::PathBuf> = std::fs::read_dir(path)
                .map_err(|source| SummaryError::Read {
                    path: path.to_path_buf(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("summary.json").is_file())
                .collect();
            if runs.is_empty() {
                return Err(SummaryError::NoSummary {
                    path: path.to_path_buf(),
                });
            }
            let order = crate::shipped::scenario_names();
            let rank = |p: &Path| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
                let pos = name
                    .as_deref()
                    .and_then(|n| order.iter().position(|o| *o == n))
                    .unwrap_or(order.len());
                (pos, name)
            };
            runs.sort_by_key(|p| rank(p));
            for r in runs {
                out.push(read_summary(&r)?);
            }
        } else {
            out.push(read_summary(path)?);
        }
    }
    Ok(out)
}

fn cell(a: &Aggregate, figure: Figure) -> String {
    match a.stat(figure) {
        Some(s) if s.lo == s.hi => fmt_figure(figure, s.mean),
        Some(s) => format!(
            "{} [{}, {}]",
            fmt_figure(figure, s.mean),
            fmt_figure(figure, s.lo),
            fmt_figure(figure, s.hi)
        ),
        None => "-".into(),
    }
}

/// Every headline figure (rows) for every aggregate (columns): `mean [lo, hi]`.
pub fn side_by_side(items: &[Named]) -> String {
    let mut header = vec!["figure".to_string()];
    header.extend(items.iter().map(|n| n.name.clone()));
    let mut t = Table::new(header);
    let mut seeds = vec!["seeds".to_string()];
    seeds.extend(items.iter().map(|n| n.aggregate.seeds().to_string()));
    t.row(seeds);
    for f in HEADLINE {
        let mut row = vec![f.path().to_string()];
        row.extend(items.iter().map(|n| cell(&n.aggregate, f)));
        t.row(row);
    }
    t.markdown()
}

/// Relative change that counts for the non-count figures (on top of interval separation).
const REL: f64 = 0.10;

/// `x` is clearly better than `reference` on this mode.
fn better(mode: Better, x: Stat, reference: Stat) -> bool {
    match mode {
        Better::Zero => reference.mean > 0.0 && x.hi < reference.lo.max(f64::MIN_POSITIVE),
        Better::Lower => x.mean < reference.lo && x.mean < reference.mean * (1.0 - REL),
        Better::Higher => x.mean > reference.hi && x.mean > reference.mean * (1.0 + REL),
        Better::Neither => false,
    }
}

/// `x` is clearly worse than `reference` on this mode.
fn worse(mode: Better, x: Stat, reference: Stat) -> bool {
    better(mode, reference, x) || (mode == Better::Zero && reference.hi == 0.0 && x.mean > 0.0)
}

fn stat(a: &Aggregate, f: Figure) -> Option<Stat> {
    a.stat(f)
}

/// Modes on which `x` improves over `reference`: `"removes X"` when it drops to zero, `"cuts
/// X"` otherwise.
fn improvements(x: &Aggregate, reference: &Aggregate) -> Vec<String> {
    let mut out = Vec::new();
    for f in FAILURE_MODES {
        let (label, mode) = (f.label(), f.better());
        let (Some(xs), Some(rs)) = (stat(x, f), stat(reference, f)) else {
            continue;
        };
        if better(mode, xs, rs) {
            if mode == Better::Zero && xs.hi == 0.0 {
                out.push(format!("removes {label}"));
            } else {
                out.push(format!("cuts {label}"));
            }
        }
    }
    out
}

/// Modes on which `x` is worse than `reference`.
fn regressions(x: &Aggregate, reference: &Aggregate) -> Vec<String> {
    FAILURE_MODES
        .iter()
        .filter(|&&f| match (stat(x, f), stat(reference, f)) {
            (Some(xs), Some(rs)) => worse(f.better(), xs, rs),
            _ => false,
        })
        .map(|f| f.label().to_string())
        .collect()
}

/// What changed from `reference` to `x`: improvements first, then what got worse.
fn change(x: &Aggregate, reference: &Aggregate) -> String {
    let mut parts = improvements(x, reference);
    let worse = regressions(x, reference);
    if !worse.is_empty() {
        parts.push(format!("worse: {}", worse.join(", ")));
    }
    join_or(parts, "no clear change")
}

fn join_or(v: Vec<String>, none: &str) -> String {
    if v.is_empty() {
        none.to_string()
    } else {
        v.join(", ")
    }
}

/// The ablation tables, when `before` and `after` are among `items`: failure modes per
/// scenario (each lever alone over `before`, `after` minus each lever), and per lever what it
/// removes alone and what comes back without it. `None` without `before` or `after`.
pub fn ablation(items: &[Named]) -> Option<String> {
    let find = |name: &str| items.iter().find(|n| n.name == name).map(|n| &n.aggregate);
    let before = find("before")?;
    let after = find("after")?;

    let mut header = vec!["scenario".to_string()];
    header.extend(FAILURE_MODES.iter().map(|f| f.label().to_string()));
    header.push("vs reference".into());
    let mut modes = Table::new(header);
    let mut add = |label: String, a: &Aggregate, note: String| {
        let mut row = vec![label];
        row.extend(
            FAILURE_MODES
                .iter()
                .map(|&f| stat(a, f).map_or_else(|| "-".into(), |s| fmt_num(s.mean))),
        );
        row.push(note);
        modes.row(row);
    };
    add(
        "before (all off)".into(),
        before,
        "reference for + rows".into(),
    );
    for l in Lever::ALL {
        if let Some(a) = find(&alone(l)) {
            add(format!("+ {}", l.name()), a, change(a, before));
        }
    }
    add("after (all on)".into(), after, change(after, before));
    for l in Lever::ALL {
        if let Some(a) = find(&without(l)) {
            let back = regressions(a, after);
            add(
                format!("after - {}", l.name()),
                a,
                if back.is_empty() {
                    "nothing comes back".into()
                } else {
                    format!("back: {}", back.join(", "))
                },
            );
        }
    }

    let mut levers = Table::new([
        "lever",
        "alone, over before (what it removes by itself)",
        "taken out of after, what comes back (what only it removes)",
    ]);
    for l in Lever::ALL {
        let by_itself = find(&alone(l)).map_or("-".to_string(), |a| change(a, before));
        let back = find(&without(l)).map_or("-".to_string(), |a| {
            join_or(regressions(a, after), "nothing")
        });
        levers.row([l.title().to_string(), by_itself, back]);
    }

    Some(format!(
        "Failure modes, mean over seeds (counts in the deploy window; p99 in ms; capacity = \
         min ready / desired). A change counts when the 95% intervals over seeds separate.\n\n{}\n\
         Which failure mode each lever removes:\n\n{}\n\
         Read a lever's attribution in its right-hand column: what comes back when only that \
         lever is missing. Alone over before, a lever may change nothing because it needs \
         another: readiness, drain and requeue act on SIGTERM, which a shell-form entrypoint \
         (pid1 off) never delivers, and pid1 alone makes the pod exit at SIGTERM while \
         balancers still route to it.\n",
        modes.markdown(),
        levers.markdown()
    ))
}

/// The fix-in-order ladder, when its steps are among `items`: before, +pid1, +readiness,
/// +drain, +requeue, +surge, each step the previous plus one lever patch, with what the step
/// removes and what it brings in (pid1 alone brings in the refusals of a pod that now exits
/// at SIGTERM while balancers still route to it; readiness removes them). `None` unless at
/// least `before`, `pid1` and `after` are there.
pub fn ladder(items: &[Named]) -> Option<String> {
    let find = |name: &str| items.iter().find(|n| n.name == name).map(|n| &n.aggregate);
    for need in ["before", "pid1", "after"] {
        find(need)?;
    }
    let mut header = vec!["step".to_string(), "scenario".to_string()];
    header.extend(FAILURE_MODES.iter().map(|f| f.label().to_string()));
    header.push("this step removes / brings in".into());
    let mut t = Table::new(header);
    let mut prev: Option<&Aggregate> = None;
    for (label, scenario) in crate::shipped::LADDER {
        let Some(a) = find(scenario) else { continue };
        let mut row = vec![label.to_string(), scenario.to_string()];
        row.extend(
            FAILURE_MODES
                .iter()
                .map(|&f| stat(a, f).map_or_else(|| "-".into(), |s| fmt_num(s.mean))),
        );
        row.push(match prev {
            None => "reference".into(),
            Some(p) => {
                let mut parts = improvements(a, p);
                let worse = regressions(a, p);
                if !worse.is_empty() {
                    parts.push(format!("brings in: {}", worse.join(", ")));
                }
                join_or(parts, "no clear change")
            }
        });
        t.row(row);
        prev = Some(a);
    }
    Some(format!(
        "Fix in order (cumulative: each step is the one above plus one lever patch), mean over \
         seeds:\n\n{}",
        t.markdown()
    ))
}

/// The whole compare report: side by side, then the ablation and the ladder when they apply.
pub fn report(items: &[Named]) -> String {
    let mut out = format!(
        "Headline figures, mean [2.5%, 97.5%] over seeds:\n\n{}",
        side_by_side(items)
    );
    if let Some(a) = ablation(items) {
        out.push('\n');
        out.push_str(&a);
    }
    if let Some(l) = ladder(items) {
        out.push('\n');
        out.push_str(&l);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn agg(name: &str, refused: f64, lost: f64, p99: f64) -> Named {
        let s = |m: f64| json!({"mean": m, "lo": m * 0.8, "hi": m * 1.2});
        Named {
            name: name.into(),
            aggregate: Aggregate(json!({
                "scenario": name, "seeds": 20,
                "error_rate": s(refused / 1000.0), "failed": s(refused),
                "requests": {"refused": s(refused), "reset": s(0.0)},
                "jobs": {"lost": s(lost), "duplicated": s(0.0)},
                "latency_ms": {"window": {"p99": s(p99)}},
            })),
        }
    }

    #[test]
    fn ablation_names_what_each_lever_removes_and_what_comes_back() {
        let items = vec![
            agg("before", 100.0, 5.0, 900.0),
            agg("pid1", 300.0, 5.0, 900.0),
            agg("readiness", 0.0, 5.0, 880.0),
            agg("requeue", 100.0, 0.0, 900.0),
            agg("after", 0.0, 0.0, 120.0),
            agg("after-no-readiness", 80.0, 0.0, 130.0),
        ];
        let r = report(&items);
        assert!(r.contains("| refused"), "{r}");
        let cells = |title: &str| -> Vec<String> {
            r.lines()
                .rev()
                .find(|l| l.starts_with(&format!("| {title}")))
                .unwrap()
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        };
        assert_eq!(cells("readiness+preStop")[2], "removes refused", "{r}");
        assert_eq!(cells("readiness+preStop")[3], "refused", "{r}");
        assert_eq!(cells("requeue+idempotency")[2], "removes lost jobs", "{r}");
        assert_eq!(cells("drain")[2], "-", "{r}");
        assert_eq!(cells("pid1 (SIGTERM")[2], "worse: refused", "{r}");
        assert!(
            r.lines()
                .any(|l| l.starts_with("| after (all on)") && l.contains("cuts p99 ms")),
            "{r}"
        );
        assert!(ablation(&items[1..]).is_none());
        // The ladder: pid1 over before brings in refusals, readiness over pid1 removes them.
        let ladder = vec![
            agg("before", 100.0, 5.0, 900.0),
            agg("pid1", 300.0, 5.0, 900.0),
            agg("ladder-readiness", 0.0, 5.0, 880.0),
            agg("after", 0.0, 0.0, 120.0),
        ];
        let l = ladder_table(&ladder);
        let row = |step: &str| {
            l.lines()
                .find(|x| x.starts_with(&format!("| {step} ")))
                .unwrap()
                .to_string()
        };
        assert!(row("+pid1").contains("brings in: refused"), "{l}");
        assert!(row("+readiness").contains("removes refused"), "{l}");
        assert!(row("+surge (= after)").contains("removes lost jobs"), "{l}");
        assert!(super::ladder(&ladder[2..]).is_none());
    }

    fn ladder_table(items: &[Named]) -> String {
        super::ladder(items).unwrap()
    }

    #[test]
    fn side_by_side_shows_mean_and_interval() {
        let t = side_by_side(&[agg("before", 100.0, 5.0, 900.0)]);
        assert!(t.contains("| requests.refused "), "{t}");
        assert!(t.contains("100 [80, 120]"), "{t}");
        assert!(t.contains("| seeds "), "{t}");
    }
}
