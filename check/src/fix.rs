//! The smallest change that meets the budget: candidate changes to the manifest, each run
//! through the simulator, the fewest changed settings first; written as a strategic-merge
//! patch, and applied to the manifests for `--fix`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use models::{Entrypoint, IntOrPercent, PreStop, ReadinessProbe};
use sim_core::SimDuration;

use crate::error::CheckError;
use crate::manifest::Workload;
use crate::model::{Assumptions, Prediction, fleet_for, predict};
use crate::yaml::{self, Doc, Node};

/// One change to a Deployment.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// `command`: `exec` in front of the `sh -c` script, so the application replaces the shell
    /// and receives SIGTERM.
    ExecEntrypoint,
    /// A readiness probe (tcpSocket on the serving port, every 2 s).
    ReadinessProbe,
    /// maxSurge 1, maxUnavailable 0.
    Surge,
    /// terminationGracePeriodSeconds.
    Grace {
        /// Seconds.
        seconds: u32,
    },
    /// A preStop sleep (and terminationGracePeriodSeconds raised if it would not cover it).
    PreStop {
        /// Seconds.
        seconds: u32,
    },
}

/// The fix found for a workload.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Fix {
    /// The changes, in the order applied.
    pub changes: Vec<Change>,
    /// The prediction with them.
    pub predicted: Prediction,
    /// The strategic-merge patch (YAML) that makes them.
    pub patch: String,
    /// Candidate fleets simulated to find it.
    pub candidates_tried: usize,
    /// `Some(setting)` when no manifest change alone met the budget and this one does only
    /// with the application changed too (`app.on_sigterm = drain`): a code change, not in the
    /// patch.
    pub requires_app_change: Option<String>,
}

/// Candidates are simulated on this many seeds first; only one within budget there is run on
/// every seed (and judged on all of them).
pub const SCREEN_SEEDS: usize = 5;
/// The search stops after this many simulated candidates (each over every seed).
pub const MAX_CANDIDATES: usize = 40;
const PRESTOP_LADDER: [u32; 14] = [1, 2, 3, 5, 8, 10, 15, 20, 30, 45, 60, 90, 120, 180];
const PROBE_PERIOD_S: u32 = 2;

/// The workload with `changes` applied.
pub fn apply(w: &Workload, changes: &[Change], a: &Assumptions) -> Workload {
    let mut w = w.clone();
    for c in changes {
        match c {
            Change::ExecEntrypoint => w.entrypoint.form = Entrypoint::Exec,
            Change::ReadinessProbe => {
                w.readiness = Some(ReadinessProbe {
                    period: SimDuration::from_secs(u64::from(PROBE_PERIOD_S)),
                    ..ReadinessProbe::default()
                })
            }
            Change::Surge => {
                w.max_surge = IntOrPercent::Int(1);
                w.max_unavailable = IntOrPercent::Int(0);
            }
            Change::Grace { seconds } => w.grace = *seconds,
            Change::PreStop { seconds } => {
                w.prestop = Some(PreStop::Sleep(SimDuration::from_secs(u64::from(*seconds))));
                w.grace = w.grace.max(grace_needed(&w, *seconds, a));
            }
        }
    }
    w
}

/// The grace period a preStop of `prestop` seconds needs: preStop + keep_serving + the
/// drain (when the application drains), plus 1 s.
fn grace_needed(w: &Workload, prestop: u32, a: &Assumptions) -> u32 {
    let f = fleet_for(w, a).ok();
    let extra = f.map_or(0.0, |f| {
        f.app.keep_serving.as_secs_f64()
            + if crate::model::drains(&f) {
                f.drain.timeout.as_secs_f64()
            } else {
                0.0
            }
    });
    prestop + extra.ceil() as u32 + 1
}

/// Searches for the smallest change whose predicted mean failed requests is within `budget`:
/// subsets of the switch changes (exec entrypoint, readiness probe, surge, grace) by size,
/// each alone and with the shortest preStop sleep from a ladder (1..180 s, up to 1.5 x the
/// balancer's p99 lag + 5 s) that meets the budget, the fewest changed settings first; among
/// equals the lowest predicted loss. Each candidate is screened on the first [`SCREEN_SEEDS`]
/// seeds and judged on all of them. At most [`MAX_CANDIDATES`] candidates are simulated;
/// `None` when none of them meets the budget.
pub fn search(
    w: &Workload,
    a: &Assumptions,
    budget: f64,
    seeds: &[u64],
    threads: usize,
) -> Result<Option<Fix>, CheckError> {
    let base = fleet_for(w, a)?;
    let plan = base.plan();
    let mut switches = Vec::new();
    if w.entrypoint.form == Entrypoint::Shell && w.entrypoint.script.is_some() {
        switches.push(Change::ExecEntrypoint);
    }
    if w.readiness.is_none() && w.port.is_some() {
        switches.push(Change::ReadinessProbe);
    }
    if plan.max_unavailable > 0 || plan.max_surge == 0 {
        switches.push(Change::Surge);
    }
    let stop = plan.shutdown.prestop + plan.shutdown.keep_serving;
    let need = grace_needed(w, plan.shutdown.prestop.as_secs_f64().ceil() as u32, a);
    if plan.shutdown.grace < stop + SimDuration::from_secs(1) || w.grace < need.saturating_sub(1) {
        switches.push(Change::Grace { seconds: need });
    }
    let current = plan.shutdown.prestop.as_secs_f64();
    // A preStop longer than the balancer's lag tail cannot keep more requests off a closed
    // pod: the ladder stops at 1.5 x the p99 lag + 5 s.
    let lag_p99 = (crate::model::quantile(&base.propagation.endpointslice, 0.99)
        + crate::model::quantile(&plan.lag, 0.99)
        + plan.sync_wait())
    .as_secs_f64();
    let cap = 1.5 * lag_p99 + 5.0;
    let ladder: Vec<u32> = PRESTOP_LADDER
        .iter()
        .copied()
        .filter(|&p| f64::from(p) > current && f64::from(p) <= cap)
        .collect();

    let mut cache: BTreeMap<String, Prediction> = BTreeMap::new();
    let tried = std::cell::Cell::new(0usize);
    let mut eval = |changes: &[Change]| -> Result<Prediction, CheckError> {
        let key = serde_json::to_string(changes).unwrap_or_default();
        if let Some(p) = cache.get(&key) {
            return Ok(p.clone());
        }
        tried.set(tried.get() + 1);
        let fleet = fleet_for(&apply(w, changes, a), a)?;
        // Screened on the first seeds; only a candidate within budget there runs them all.
        let mut p = predict(
            &w.id,
            &fleet,
            &seeds[..seeds.len().min(SCREEN_SEEDS)],
            threads,
        )?;
        if seeds.len() > SCREEN_SEEDS && p.failed.mean <= budget {
            p = predict(&w.id, &fleet, seeds, threads)?;
        }
        cache.insert(key, p.clone());
        Ok(p)
    };
    let n = switches.len();
    for size in 1..=n + 1 {
        let mut best: Option<(Vec<Change>, Prediction)> = None;
        let consider =
            |changes: Vec<Change>, p: Prediction, best: &mut Option<(Vec<Change>, Prediction)>| {
                if p.failed.mean <= budget
                    && best
                        .as_ref()
                        .is_none_or(|(_, b)| p.failed.mean < b.failed.mean)
                {
                    *best = Some((changes, p));
                }
            };
        for mask in 0u32..(1 << n) {
            let subset: Vec<Change> = (0..n)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| switches[i].clone())
                .collect();
            if tried.get() >= MAX_CANDIDATES {
                break;
            }
            if subset.len() == size {
                let p = eval(&subset)?;
                consider(subset, p, &mut best);
            } else if subset.len() + 1 == size && !ladder.is_empty() {
                // Up the ladder: the shortest preStop within budget. Loss is not monotone in
                // preStop (a longer hook keeps pinned keep-alives on the old pod longer), so
                // each step is simulated, not bisected.
                let mut found = None;
                for &p in &ladder {
                    if tried.get() >= MAX_CANDIDATES {
                        break;
                    }
                    let mut c = subset.clone();
                    c.retain(|c| !matches!(c, Change::Grace { .. }));
                    c.push(Change::PreStop { seconds: p });
                    let pr = eval(&c)?;
                    if pr.failed.mean <= budget {
                        found = Some((c, pr));
                        break;
                    }
                }
                let Some(found) = found else { continue };
                consider(found.0, found.1, &mut best);
            }
        }
        if let Some((changes, predicted)) = best {
            let patch = yaml::emit(&patch(w, &changes, a));
            return Ok(Some(Fix {
                changes,
                predicted,
                patch,
                candidates_tried: tried.get(),
                requires_app_change: None,
            }));
        }
    }
    Ok(None)
}

/// The strategic-merge patch for `changes` on the Deployment.
pub fn patch(w: &Workload, changes: &[Change], a: &Assumptions) -> Node {
    let fixed = apply(w, changes, a);
    let mut meta = vec![("name", Node::string(w.object.name.clone()))];
    if w.object
        .doc
        .root
        .get("metadata")
        .and_then(|m| m.get("namespace"))
        .is_some()
    {
        meta.push(("namespace", Node::string(w.object.namespace.clone())));
    }
    let mut spec = Vec::new();
    let mut pod = Vec::new();
    let mut container = vec![("name", Node::string(w.container.clone()))];
    for c in changes {
        match c {
            Change::Surge => spec.push((
                "strategy",
                Node::map(vec![(
                    "rollingUpdate",
                    Node::map(vec![
                        ("maxSurge", Node::plain("1")),
                        ("maxUnavailable", Node::plain("0")),
                    ]),
                )]),
            )),
            Change::ReadinessProbe => container.push((
                "readinessProbe",
                Node::map(vec![
                    (
                        "tcpSocket",
                        Node::map(vec![(
                            "port",
                            Node::plain(w.port.clone().unwrap_or_default()),
                        )]),
                    ),
                    ("periodSeconds", Node::plain(PROBE_PERIOD_S.to_string())),
                ]),
            )),
            Change::ExecEntrypoint => {
                if let Some((list, i, script)) = &w.entrypoint.script {
                    let c = w
                        .object
                        .doc
                        .root
                        .get("spec")
                        .and_then(|s| s.get("template"))
                        .and_then(|t| t.get("spec"))
                        .and_then(|s| s.get("containers"))
                        .and_then(Node::items)
                        .and_then(|c| c.get(w.container_index));
                    let items: Vec<Node> = c
                        .and_then(|c| c.get(list))
                        .and_then(Node::items)
                        .unwrap_or(&[])
                        .iter()
                        .enumerate()
                        .map(|(j, n)| {
                            if j == *i {
                                Node::string(format!("exec {}", script.trim_start()))
                            } else {
                                n.clone()
                            }
                        })
                        .collect();
                    container.push((
                        if list == "command" { "command" } else { "args" },
                        Node::seq(items),
                    ));
                }
            }
            Change::PreStop { seconds } => {
                let mut ps = vec![(
                    "sleep",
                    Node::map(vec![("seconds", Node::plain(seconds.to_string()))]),
                )];
                if w.prestop.is_some() {
                    ps.insert(0, ("$patch", Node::plain("replace")));
                }
                container.push(("lifecycle", Node::map(vec![("preStop", Node::map(ps))])));
            }
            Change::Grace { .. } => {}
        }
    }
    if fixed.grace != w.grace {
        pod.push((
            "terminationGracePeriodSeconds",
            Node::plain(fixed.grace.to_string()),
        ));
    }
    if container.len() > 1 {
        pod.push(("containers", Node::seq(vec![Node::map(container)])));
    }
    if !pod.is_empty() {
        spec.push(("template", Node::map(vec![("spec", Node::map(pod))])));
    }
    Node::map(vec![
        ("apiVersion", Node::plain("apps/v1")),
        ("kind", Node::plain("Deployment")),
        ("metadata", Node::map(meta)),
        ("spec", Node::map(spec)),
    ])
}

/// Applies a patch the way `kubectl patch --type strategic` would for the fields a fix sets
/// (`$patch: replace` replaces the map it is in).
pub fn apply_patch(target: &mut Node, patch: &Node) {
    if let Some(entries) = patch.entries()
        && entries
            .iter()
            .any(|(k, v)| k == "$patch" && v.scalar() == Some("replace"))
    {
        let rest: Vec<(String, Node)> = entries
            .iter()
            .filter(|(k, _)| k != "$patch")
            .cloned()
            .collect();
        target.value = yaml::Value::Map(rest);
        return;
    }
    match (&mut target.value, &patch.value) {
        (yaml::Value::Map(t), yaml::Value::Map(p)) => {
            for (k, pv) in p {
                match t.iter_mut().find(|(tk, _)| tk == k) {
                    Some((_, tv)) => apply_patch(tv, pv),
                    None => {
                        let mut v = pv.clone();
                        if let Some(e) = v.entries()
                            && e.iter().any(|(k, _)| k == "$patch")
                        {
                            let rest = e.iter().filter(|(k, _)| k != "$patch").cloned().collect();
                            v.value = yaml::Value::Map(rest);
                        }
                        t.push((k.clone(), v));
                    }
                }
            }
        }
        (yaml::Value::Seq(t), yaml::Value::Seq(p))
            if p.iter().all(|n| n.get("name").is_some()) && !p.is_empty() =>
        {
            for pv in p {
                let name = pv.get("name").and_then(Node::scalar);
                match t
                    .iter_mut()
                    .find(|n| n.get("name").and_then(Node::scalar) == name)
                {
                    Some(tv) => apply_patch(tv, pv),
                    None => t.push(pv.clone()),
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// Writes every input document to `out` (a new folder), with each patch applied to its
/// Deployment: one file per input file, in the input's order. Written to a temporary folder
/// beside `out` and renamed into place, so `out` is complete or absent.
pub fn write_fixed(
    docs: &[Doc],
    patches: &[(String, String, Node)],
    out: &Path,
) -> Result<Vec<PathBuf>, CheckError> {
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CheckError::Write { path, source }
    };
    crate::folder::write_new_folder(out, "--fix", |tmp| {
        let mut files: Vec<(String, String)> = Vec::new();
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for d in docs {
            let mut root = d.root.clone();
            let kind = root
                .get("kind")
                .and_then(Node::scalar)
                .unwrap_or("")
                .to_string();
            let name = root
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Node::scalar)
                .unwrap_or("")
                .to_string();
            let ns = root
                .get("metadata")
                .and_then(|m| m.get("namespace"))
                .and_then(Node::scalar)
                .unwrap_or("default")
                .to_string();
            if kind == "Deployment"
                && let Some((_, _, p)) = patches.iter().find(|(n, s, _)| *n == name && *s == ns)
            {
                apply_patch(&mut root, p);
            }
            let text = yaml::emit(&root);
            match files.iter_mut().find(|(f, _)| *f == d.file) {
                Some((_, t)) => {
                    t.push_str("---\n");
                    t.push_str(&text);
                }
                None => files.push((d.file.clone(), text)),
            }
        }
        let mut written = Vec::new();
        for (file, text) in files {
            let base = if file == "-" {
                "stdin.yaml".to_string()
            } else {
                Path::new(&file)
                    .file_name()
                    .map_or("manifest.yaml".into(), |n| n.to_string_lossy().to_string())
            };
            let n = names.entry(base.clone()).or_insert(0);
            *n += 1;
            let fname = if *n == 1 { base } else { format!("{n}-{base}") };
            let p = tmp.join(&fname);
            std::fs::write(&p, text).map_err(werr(&p))?;
            written.push(out.join(fname));
        }
        Ok(written)
    })
}
