//! `fleetsim calibrate`: turn calibration runs (live runs of their own, never the validation
//! runs) into a scenario layer the simulator loads with `extends`.
//!
//! Measured, from each run directory written by `fleetsim live`:
//! - **service time**: the baseline latency of successful requests on reused keep-alive
//!   connections (no connect, no queueing behind a rollout), from the intended start;
//! - **service time while pods start**: the same latency for requests sent while one of the
//!   run's new pods was starting (first watch event to Ready), when at least 100 were: starting
//!   a pod loads the node the others run on (`pod.service_time_while_pods_start`);
//! - **pod start-up**: from a new pod's first watch event to its first Ready, per new pod;
//! - **deregistration lag**: from an old pod's deletion to the last request that reached it on a
//!   fresh connection (kube-proxy picks a pod per new connection), per old pod that got one;
//! - **the generator's eager reopen pace** (`--eager-reconnect` runs): the pace of each burst of
//!   at least 100 reopens before the rollout (the server closing many idle keep-alives at once,
//!   such as its header-read timeout after the warm-up), measured on the node as the run saw
//!   it. It describes the client, not the fleet, so it is written as a comment naming the value
//!   for `client.eager_reopen_rate`, which a scenario with `eager_reconnect` sets itself (a
//!   layer that set it would be an error in every scenario without eager reopens).
//!
//! Each becomes an empirical distribution (at most 101 quantile points), so the file stays small
//! and the simulator resamples what was measured.
//!
//! From a run's `cpu.ndjson` (the kubelet's CPU figures, read through the API server), when the
//! run has one, `[nodes]`:
//! - **cores**: `status.capacity.cpu` of the nodes that ran the fleet (the smallest);
//! - **CPU per request**: the CPU the fleet's pods used between their first and last kubelet
//!   figures inside the baseline, over the requests they answered in the same spans, divided by
//!   the mean baseline service time: the model's `cpu_per_request` is the share of a core a
//!   request draws while in service, not CPU seconds.
//!
//! A run without `cpu.ndjson` leaves `[nodes]` out and the file as it was; one whose file lacks
//! what is needed (the stats were unreachable, too few figures) says so in a comment.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use clap::Parser;
use loadgen::read_records;

use crate::cpu::{self, CpuFile};
use crate::error::{LiveError, Result};
use crate::state::PodEvent;

/// Options of `fleetsim calibrate`.
#[derive(Parser, Clone, Debug)]
#[command(
    name = "calibrate",
    about = "Write a calibration layer for scenario files from calibration live runs"
)]
pub struct CalibrateOpts {
    /// Run directories written by `fleetsim live` (e.g. live-results/after/run-1).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The calibration file to write (TOML, for a scenario's `extends`).
    #[arg(long, default_value = "calibration.toml")]
    pub out: PathBuf,
}

/// What one or more calibration runs measured, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measured {
    /// Baseline latency of successful requests on reused keep-alive connections.
    pub service_ms: Vec<f64>,
    /// The same while one of the run's new pods was starting (its first watch event to Ready):
    /// the service time while the node also starts a pod.
    pub service_starts_ms: Vec<f64>,
    /// New pods, first watch event to Ready.
    pub startup_ms: Vec<f64>,
    /// Old pods, deletion to the last request on a fresh connection.
    pub deregistration_ms: Vec<f64>,
    /// Bursts of eager reopens before the rollout: reopens in the burst, and their pace
    /// (reopens per second over the burst's middle 80%).
    pub reopen_bursts: Vec<(usize, f64)>,
    /// Node CPU over the baseline, one entry per run whose `cpu.ndjson` had what it takes.
    pub node_cpu: Vec<NodeCpu>,
    /// Why a run's `cpu.ndjson` gave no node CPU (`FILE: what is missing`), one per such run.
    pub node_cpu_missing: Vec<String>,
}

/// One run's node CPU over its baseline, from `cpu.ndjson` and the run's records.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeCpu {
    /// `status.capacity.cpu` of the smallest node that ran the fleet's pods, cores.
    pub capacity_cores: f64,
    /// `status.allocatable.cpu` of that node, cores, if it reported one.
    pub allocatable_cores: Option<f64>,
    /// Nodes that ran the pods measured.
    pub nodes: u32,
    /// Pods with two kubelet figures inside the baseline.
    pub pods: u32,
    /// CPU seconds those pods used between their first and last figure inside the baseline.
    pub cpu_s: f64,
    /// Requests they answered in the same spans: by the record's end and serving pod, or, when
    /// no record names its pod (another application than the project's), the fleet's answers
    /// per second in the baseline shared evenly by the pods that ran then, times the spans.
    pub requests: u64,
    /// The requests were matched to pods by the records' serving pod (`x-fleetsim-pod`); else
    /// they are the even share of the fleet's rate.
    pub by_pod: bool,
    /// The shortest and longest of those spans, seconds.
    pub span_s: [f64; 2],
    /// Pods whose span runs past the baseline's end (to their next figure before their
    /// deletion): the kubelet had refreshed their figure only once inside the baseline.
    pub extended: u32,
}

/// When the kubelet collected a pod figure that polls showed: within the second its
/// `stat_time` names, after the previous poll (which did not show it yet) was sent, and before
/// the poll that first showed it answered; the middle of what is left (the middle of the
/// second when the bounds disagree, e.g. a node clock off by more than a second).
fn figure_instant(stat_ns: i64, prev_sent_ns: Option<i64>, seen_ns: i64) -> i64 {
    let lo = prev_sent_ns.map_or(stat_ns, |p| p.max(stat_ns));
    let hi = (stat_ns + 1_000_000_000).min(seen_ns);
    if lo <= hi {
        lo + (hi - lo) / 2
    } else {
        stat_ns + 500_000_000
    }
}

/// Node CPU over the baseline of one run: `file` is its `cpu.ndjson`, `answered` the
/// `(end, serving pod if the response named it)` of every request that got an answer (Unix
/// epoch ns). Each pod's span runs from its first to its last new kubelet figure inside the
/// baseline (`baseline_start` to `baseline_end`); a zero figure (the kubelet's placeholder
/// before its first reading) is not one. A pod with one figure inside the baseline (the kubelet
/// refreshes them every 10-20 s) extends its span to its next figure while it still served the
/// same load: before `deleted` names its deletion and before `load_end`, when the answers name
/// their pod. When no answer in the baseline names its pod, the requests of a span are the
/// fleet's answers per second over the baseline, shared evenly by the pods the summaries listed
/// in it, times the span (and no span is extended: the fleet changes after the baseline). The
/// error says what is missing.
pub(crate) fn node_cpu(
    file: &CpuFile,
    answered: &[(i64, Option<String>)],
    deleted: &BTreeMap<String, i64>,
) -> std::result::Result<NodeCpu, String> {
    let (Some(&start), Some(&end)) = (
        file.phases.get("baseline_start"),
        file.phases.get("baseline_end"),
    ) else {
        return Err("no baseline_start and baseline_end phase lines".into());
    };
    if file.pods.is_empty() {
        return Err(match file.unreachable.first() {
            Some((request, error)) => format!(
                "no pod CPU figure: the kubelet's stats were unreachable through the API server ({} failed requests; the first, kubectl {request}: {error})",
                file.unreachable.len()
            ),
            None => "no pod CPU figure (no `pod` line)".into(),
        });
    }
    let mut by_pod: BTreeMap<&str, Vec<&cpu::PodSample>> = BTreeMap::new();
    for s in &file.pods {
        by_pod.entry(&s.pod).or_default().push(s);
    }
    let mut out = NodeCpu {
        capacity_cores: f64::INFINITY,
        allocatable_cores: None,
        nodes: 0,
        pods: 0,
        cpu_s: 0.0,
        requests: 0,
        by_pod: answered
            .iter()
            .any(|(t, p)| p.is_some() && (start..=end).contains(t)),
        span_s: [f64::INFINITY, 0.0],
        extended: 0,
    };
    let mut spans_s = 0.0;
    let mut nodes = std::collections::BTreeSet::new();
    for (pod, samples) in by_pod {
        let mut figures: Vec<(i64, u64)> = Vec::new();
        let mut prev: Option<&cpu::PodSample> = None;
        for s in samples {
            let new = prev.is_none_or(|p| {
                (p.stat_epoch_ns, p.usage_core_ns) != (s.stat_epoch_ns, s.usage_core_ns)
            });
            if new && s.usage_core_ns > 0 {
                let t = figure_instant(s.stat_epoch_ns, prev.map(|p| p.sent_epoch_ns), s.epoch_ns);
                figures.push((t, s.usage_core_ns));
            }
            prev = Some(s);
        }
        let mut inside: Vec<(i64, u64)> = figures
            .iter()
            .copied()
            .filter(|(t, _)| (start..=end).contains(t))
            .collect();
        let until = match (deleted.get(pod), file.phases.get("load_end")) {
            (Some(&d), Some(&l)) => Some(d.min(l)),
            (Some(&d), None) => Some(d),
            (None, l) => l.copied(),
        };
        let mut extended = false;
        if let (1, true, Some(until)) = (inside.len(), out.by_pod, until)
            && let Some(&next) = figures.iter().find(|(t, _)| *t > end && *t <= until)
        {
            inside.push(next);
            extended = true;
        }
        let (Some(&(a, ua)), Some(&(b, ub))) = (inside.first(), inside.last()) else {
            continue;
        };
        if b <= a || ub < ua {
            continue;
        }
        out.pods += 1;
        out.extended += u32::from(extended);
        out.cpu_s += (ub - ua) as f64 / 1e9;
        if out.by_pod {
            out.requests += answered
                .iter()
                .filter(|(t, p)| p.as_deref() == Some(pod) && *t > a && *t <= b)
                .count() as u64;
        }
        let span = (b - a) as f64 / 1e9;
        spans_s += span;
        out.span_s = [out.span_s[0].min(span), out.span_s[1].max(span)];
        if let Some(last) = file.pods.iter().rev().find(|s| s.pod == pod) {
            nodes.insert(last.node.clone());
        }
    }
    if out.pods == 0 {
        return Err(format!(
            "no pod has two kubelet CPU figures inside the {:.1} s baseline, or one inside and the next before the pod's deletion (the kubelet refreshes them every 10-20 s: a longer --baseline)",
            (end - start) as f64 / 1e9
        ));
    }
    if !out.by_pod {
        // The pods the kubelet listed during the baseline share the fleet's answers evenly.
        let listed: std::collections::BTreeSet<&str> = file
            .pods
            .iter()
            .filter(|s| (start..=end).contains(&s.epoch_ns))
            .map(|s| s.pod.as_str())
            .collect();
        let in_baseline = answered
            .iter()
            .filter(|(t, _)| *t > start && *t <= end)
            .count() as f64;
        let per_pod_per_s = in_baseline / ((end - start) as f64 / 1e9) / listed.len().max(1) as f64;
        out.requests = (per_pod_per_s * spans_s).round() as u64;
    }
    if out.requests == 0 {
        return Err("the pods measured answered no request in their spans".into());
    }
    for node in &nodes {
        let cores = file
            .nodes
            .get(node)
            .ok_or_else(|| format!("no `node` line with the cores of node {node}"))?;
        if cores.capacity < out.capacity_cores {
            out.capacity_cores = cores.capacity;
            out.allocatable_cores = cores.allocatable;
        }
    }
    out.nodes = nodes.len() as u32;
    Ok(out)
}

/// Reads one run directory.
pub fn measure_run(dir: &Path) -> Result<Measured> {
    let mut m = Measured::default();
    // Each style's records as `fleetsim live` wrote them, or gzipped as runs are committed.
    let present: Vec<PathBuf> = ["records-keepalive.ndjson", "records-new.ndjson"]
        .iter()
        .filter_map(|name| {
            let plain = dir.join(name);
            let gz = dir.join(format!("{name}.gz"));
            [plain, gz].into_iter().find(|p| p.exists())
        })
        .collect();
    let missing = |reason: &str| LiveError::RunDir {
        dir: dir.to_path_buf(),
        reason: reason.to_string(),
    };
    if present.is_empty() {
        return Err(missing(
            "no records-*.ndjson or records-*.ndjson.gz (is it a `fleetsim live` run directory?)",
        ));
    }
    let merged = read_records(&present)?;
    let summary: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(dir.join("summary.json")).map_err(|_| missing("no summary.json"))?,
    )?;
    let window_start_s = summary
        .pointer("/window_s/0")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(f64::MAX);
    let load_start = merged.first_mark("load_start").unwrap_or(0);
    let rollout_start = load_start + (window_start_s * 1e9) as i64;
    m.reopen_bursts = reopen_bursts(&merged.opened_ahead, rollout_start);
    // Pod start-up, from the pod watch.
    let pods_text =
        fs::read_to_string(dir.join("pods.ndjson")).map_err(|_| missing("no pods.ndjson"))?;
    let mut first_seen: BTreeMap<String, i64> = BTreeMap::new();
    let mut first_ready: BTreeMap<String, i64> = BTreeMap::new();
    let mut deleted: BTreeMap<String, i64> = BTreeMap::new();
    for line in pods_text.lines().filter(|l| !l.trim().is_empty()) {
        let e: PodEvent = serde_json::from_str(line)
            .map_err(|e| missing(&format!("bad pods.ndjson line: {e}")))?;
        first_seen.entry(e.name.clone()).or_insert(e.epoch_ns);
        if e.terminating || e.kind == crate::state::WatchEvent::Deleted {
            deleted.entry(e.name.clone()).or_insert(e.epoch_ns);
        }
        if e.ready {
            first_ready.entry(e.name.clone()).or_insert(e.epoch_ns);
        }
    }
    // While a new pod starts (first watch event to Ready, on the records' clock).
    let starting: Vec<(i64, i64)> = first_seen
        .iter()
        .filter_map(|(pod, &seen)| {
            let ready = *first_ready.get(pod).filter(|&&r| r > seen)?;
            Some((
                seen - merged.origin_epoch_ns,
                ready - merged.origin_epoch_ns,
            ))
        })
        .collect();
    for r in &merged.reqs {
        if !(r.reused && r.outcome == measure::Outcome::Ok && r.intended >= load_start) {
            continue;
        }
        if r.intended < rollout_start {
            m.service_ms.push(r.latency_ns() as f64 / 1e6);
        } else if starting
            .iter()
            .any(|&(from, to)| (from..to).contains(&r.intended))
        {
            m.service_starts_ms.push(r.latency_ns() as f64 / 1e6);
        }
    }
    for (pod, seen) in &first_seen {
        // Pods ready at their first event were running before the watch began: no start-up seen.
        if let Some(ready) = first_ready.get(pod).filter(|&&r| r > *seen) {
            m.startup_ms.push((ready - seen) as f64 / 1e6);
        }
    }
    // Deregistration lag, from the live driver's per-pod table.
    if let Ok(text) = fs::read_to_string(dir.join("deregistration.csv")) {
        for line in text.lines().skip(1) {
            if let Some(Ok(d)) = line
                .rsplit(',')
                .next()
                .filter(|x| !x.is_empty())
                .map(str::parse::<f64>)
            {
                m.deregistration_ms.push(d.max(0.0));
            }
        }
    }
    // Node CPU, from the kubelet's figures (runs from before the sampler have none).
    if let Some(file) = cpu::read(dir)? {
        let answered: Vec<(i64, Option<String>)> = merged
            .reqs
            .iter()
            .filter(|r| r.status != 0 || r.pod.is_some())
            .map(|r| (merged.origin_epoch_ns + r.end, r.pod.clone()))
            .collect();
        match node_cpu(&file, &answered, &deleted) {
            Ok(n) => m.node_cpu.push(n),
            Err(reason) => m
                .node_cpu_missing
                .push(format!("{}: {reason}", dir.join(cpu::FILE).display())),
        }
    }
    Ok(m)
}

/// A burst of eager reopens smaller than this says little about the opener's pace.
const MIN_BURST_REOPENS: usize = 100;
/// Eager reopens further apart than this belong to different bursts (a burst's reopens come
/// tens of microseconds apart: one serial opener working through a queue).
const BURST_GAP_NS: i64 = 10_000_000;

/// The bursts of eager reopens (`opened`, ns, any order) before `before`: per burst of at least
/// [`MIN_BURST_REOPENS`] reopens, its size and its pace in reopens per second over its middle
/// 80% (the first and last tenth are the closes arriving and the stragglers, not the opener).
fn reopen_bursts(opened: &[i64], before: i64) -> Vec<(usize, f64)> {
    let mut t: Vec<i64> = opened.iter().copied().filter(|&x| x < before).collect();
    t.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=t.len() {
        if i == t.len() || t[i] - t[i - 1] > BURST_GAP_NS {
            let b = &t[start..i];
            let n = b.len();
            if n >= MIN_BURST_REOPENS {
                let (lo, hi) = (b[n / 10], b[n * 9 / 10]);
                if hi > lo {
                    let between = (n * 9 / 10 - n / 10) as f64;
                    out.push((n, between / ((hi - lo) as f64 / 1e9)));
                }
            }
            start = i;
        }
    }
    out
}

/// The comment naming the eager reopen pace the runs measured (empty without bursts).
fn render_reopens(m: &Measured) -> String {
    if m.reopen_bursts.is_empty() {
        return String::new();
    }
    let mut paces: Vec<f64> = m.reopen_bursts.iter().map(|&(_, r)| r).collect();
    paces.sort_by(f64::total_cmp);
    let median = measure::quantile_sorted(&paces, 0.5);
    let sizes = m
        .reopen_bursts
        .iter()
        .map(|&(n, r)| format!("{n} at {:.0}/s", r))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "\n# The generator's eager reopens (--eager-reconnect) before the rollout came in {} burst(s) of at\n# least {MIN_BURST_REOPENS} ({sizes}; reopens per second over each burst's middle 80%): the pace of its\n# one reopening thread on this node. A scenario of this load with client.eager_reconnect sets it\n# (not set here: the value describes the client, and every scenario without eager reopens would\n# refuse it):\n# [client]\n# eager_reopen_rate = {}\n",
        m.reopen_bursts.len(),
        format_args!("{:.1}", median.round())
    )
}

/// `x` with `digits` significant digits, as a TOML float.
fn significant(x: f64, digits: i32) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x:?}");
    }
    let decimals = (digits - 1 - x.abs().log10().floor() as i32).max(1) as usize;
    format!("{x:.decimals$}")
}

/// The `[nodes]` section from the runs' node CPU, or the comment saying why there is none.
fn render_nodes(m: &Measured) -> String {
    let mut s = String::new();
    let missing = |s: &mut String, why: &str| {
        let _ = writeln!(s, "\n# [nodes] not calibrated: {why}");
    };
    for why in &m.node_cpu_missing {
        missing(&mut s, why);
    }
    if m.node_cpu.is_empty() {
        return s;
    }
    if m.service_ms.is_empty() {
        missing(
            &mut s,
            "no baseline service time to turn CPU per request into a share of a core",
        );
        return s;
    }
    let mean_service_s = m.service_ms.iter().sum::<f64>() / m.service_ms.len() as f64 / 1e3;
    let n = &m.node_cpu;
    let smallest = n
        .iter()
        .min_by(|a, b| a.capacity_cores.total_cmp(&b.capacity_cores))
        .expect("not empty");
    let count = n.iter().map(|x| x.nodes).max().unwrap_or(1).max(1);
    let pods: u32 = n.iter().map(|x| x.pods).sum();
    let cpu_s: f64 = n.iter().map(|x| x.cpu_s).sum();
    let requests: u64 = n.iter().map(|x| x.requests).sum();
    let span = [
        n.iter().map(|x| x.span_s[0]).fold(f64::INFINITY, f64::min),
        n.iter().map(|x| x.span_s[1]).fold(0.0, f64::max),
    ];
    let per_request_s = cpu_s / requests as f64;
    let extended: u32 = n.iter().map(|x| x.extended).sum();
    let past_end = if extended == 0 {
        String::new()
    } else {
        format!(
            "\n# ({extended} of the spans run past the baseline's end to the pod's next figure before its\n# deletion: the kubelet had refreshed it once inside the baseline)"
        )
    };
    let matched = if n.iter().all(|x| x.by_pod) {
        "each counted for the pod its answer named"
    } else {
        "the fleet's answers per second shared evenly: no record names its pod"
    };
    let cpu_per_request = per_request_s / mean_service_s;
    let _ = writeln!(
        s,
        "\n[nodes]\n# From the kubelet's CPU figures read through the API server (cpu.ndjson), over the baseline of {} run(s).",
        n.len()
    );
    let _ = writeln!(
        s,
        "# cores: status.capacity.cpu of the node that ran the pods ({}; allocatable {}). Capacity, not allocatable:\n# a pod without a CPU limit may use every core of its node (allocatable sizes the pods' cgroup\n# by cpu.shares, a weight, not a cap), so requests in service share the capacity.",
        smallest.capacity_cores,
        smallest
            .allocatable_cores
            .map_or("not reported".to_string(), |a| a.to_string())
    );
    let _ = writeln!(
        s,
        "# cpu_per_request: {pods} pod{} over spans of {:.1}-{:.1} s inside the baseline used {:.3} CPU s for {requests}\n# requests ({matched}) = {:.0} us of CPU per request;\n# over the baseline's mean service time of {:.1} ms that is {} of a core while a request is in\n# service. It counts all the pods did meanwhile (the job worker and the jobs posted, probes):\n# an upper bound on the requests' own CPU.{past_end}",
        if pods == 1 { "" } else { "s" },
        span[0],
        span[1],
        cpu_s,
        per_request_s * 1e6,
        mean_service_s * 1e3,
        significant(cpu_per_request, 3)
    );
    let _ = writeln!(
        s,
        "count = {count}\ncores = {:?}\ncpu_per_request = {}",
        smallest.capacity_cores,
        significant(cpu_per_request, 4)
    );
    s
}

/// At most `n` evenly spaced quantiles (type 7) of `values`, ascending.
pub(crate) fn quantile_points(values: &[f64], n: usize) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    if v.len() <= n || n < 2 {
        return v;
    }
    (0..n)
        .map(|i| measure::quantile_sorted(&v, i as f64 / (n - 1) as f64))
        .collect()
}

fn empirical(values: &[f64]) -> String {
    let points = quantile_points(values, 101);
    let samples = points
        .iter()
        .map(|ms| format!("\"{}us\"", (ms * 1000.0).round() as u64))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{{ kind = \"empirical\", samples = [{samples}] }}")
}

/// Fewer requests than this while new pods started make no `service_time_while_pods_start`:
/// its p99, the figure it exists for, would rest on a single request.
const MIN_START_SAMPLES: usize = 100;

/// The calibration layer, as TOML text. Sections with no measurement are left out.
pub fn render(m: &Measured, provenance: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Calibration layer written by `fleetsim calibrate` ({provenance})."
    );
    let _ = writeln!(
        s,
        "# Load it from a scenario with extends = [..., \"calibration.toml\"]. Values in microseconds."
    );
    let p = |v: &[f64], q: f64| measure::quantile_sorted(&quantile_points(v, usize::MAX), q);
    if !m.service_ms.is_empty() || !m.startup_ms.is_empty() {
        s += "\n[pod]\n";
    }
    if !m.service_ms.is_empty() {
        let _ = writeln!(
            s,
            "# {} baseline requests on reused keep-alive connections: p50 {:.1} ms, p99 {:.1} ms",
            m.service_ms.len(),
            p(&m.service_ms, 0.5),
            p(&m.service_ms, 0.99)
        );
        let _ = writeln!(s, "service_time = {}", empirical(&m.service_ms));
    }
    if m.service_starts_ms.len() >= MIN_START_SAMPLES {
        let _ = writeln!(
            s,
            "# {} requests on reused keep-alive connections while a new pod was starting: p50 {:.1} ms, p99 {:.1} ms",
            m.service_starts_ms.len(),
            p(&m.service_starts_ms, 0.5),
            p(&m.service_starts_ms, 0.99)
        );
        let _ = writeln!(
            s,
            "service_time_while_pods_start = {}",
            empirical(&m.service_starts_ms)
        );
    } else if !m.service_ms.is_empty() {
        let _ = writeln!(
            s,
            "# service_time_while_pods_start not written: {} requests on reused keep-alive connections while a new pod was starting, fewer than {MIN_START_SAMPLES}",
            m.service_starts_ms.len()
        );
    }
    if !m.startup_ms.is_empty() {
        let _ = writeln!(
            s,
            "# {} new pods, first watch event to Ready: p50 {:.0} ms, max {:.0} ms",
            m.startup_ms.len(),
            p(&m.startup_ms, 0.5),
            p(&m.startup_ms, 1.0)
        );
        let _ = writeln!(s, "startup = {}", empirical(&m.startup_ms));
    }
    if !m.deregistration_ms.is_empty() {
        let _ = writeln!(
            s,
            "\n[propagation]\n# {} old pods, deletion to last request on a fresh connection: p50 {:.0} ms, p99 {:.0} ms.\n# The whole lag is measured end to end, so the EndpointSlice step is folded into it.\n# Through a balancer that throttles its reloads (the traefik preset), this is the throttle's\n# wait under this roll's order of changes, which another rollout strategy changes: for\n# predictions through it, leave this section out so the preset's throttle acts.",
            m.deregistration_ms.len(),
            p(&m.deregistration_ms, 0.5),
            p(&m.deregistration_ms, 0.99)
        );
        let _ = writeln!(
            s,
            "endpointslice = \"0s\"\nlag = {}",
            empirical(&m.deregistration_ms)
        );
    }
    s + &render_nodes(m) + &render_reopens(m)
}

/// Reads every run, writes the calibration file, returns what was measured.
pub fn run(opts: CalibrateOpts) -> Result<Measured> {
    let mut all = Measured::default();
    for dir in &opts.runs {
        let m = measure_run(dir)?;
        all.service_ms.extend(m.service_ms);
        all.service_starts_ms.extend(m.service_starts_ms);
        all.startup_ms.extend(m.startup_ms);
        all.deregistration_ms.extend(m.deregistration_ms);
        all.reopen_bursts.extend(m.reopen_bursts);
        all.node_cpu.extend(m.node_cpu);
        all.node_cpu_missing.extend(m.node_cpu_missing);
    }
    for why in &all.node_cpu_missing {
        eprintln!("calibrate: [nodes] not calibrated: {why}");
    }
    let runs = opts
        .runs
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let text = render(
        &all,
        &format!(
            "from {runs}; {}",
            humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        ),
    );
    fs::write(&opts.out, text).map_err(LiveError::io(&opts.out))?;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `cpu.ndjson` of one 4-core node: polls every second (sent at k.4 s, answered at k.5 s,
    /// k = 9..=41) of pod `p1`, whose kubelet figures were collected at 8.2, 12.3, 22.6 and
    /// 35.1 s while it used 0.1 core, and of pod `p2`, whose only figure after the kubelet's
    /// zero placeholder comes inside the baseline; baseline 10-40 s.
    fn sample_file() -> String {
        let s = 1_000_000_000i64;
        let mut lines = vec![
            r#"{"kind":"phase","epoch_ns":10000000000,"phase":"baseline_start"}"#.to_string(),
            r#"{"kind":"node","epoch_ns":9000000000,"node":"n1","capacity_cpu":"4","allocatable_cpu":"3800m"}"#.to_string(),
        ];
        let refresh_ms = [8_200i64, 12_300, 22_600, 35_100];
        for k in 9..=41i64 {
            let sent = k * s + 400_000_000;
            let at = k * s + 500_000_000;
            let r = refresh_ms
                .iter()
                .rev()
                .find(|&&r| r * 1_000_000 <= sent)
                .expect("a figure before the first poll");
            let (stat, usage) = (r / 1000, r * 100_000);
            lines.push(format!(
                r#"{{"kind":"pod","epoch_ns":{at},"sent_epoch_ns":{sent},"node":"n1","pod":"p1","stat_time":"1970-01-01T00:00:{stat:02}Z","usage_core_ns":{usage},"containers":{{"service":{usage}}}}}"#
            ));
            let (stat2, usage2) = if k < 20 { (5, 0) } else { (19, 777) };
            lines.push(format!(
                r#"{{"kind":"pod","epoch_ns":{at},"sent_epoch_ns":{sent},"node":"n1","pod":"p2","stat_time":"1970-01-01T00:00:{stat2:02}Z","usage_core_ns":{usage2}}}"#
            ));
            if k == 40 {
                lines.push(
                    r#"{"kind":"phase","epoch_ns":40000000000,"phase":"baseline_end"}"#.into(),
                );
            }
        }
        lines.join("\n") + "\n"
    }

    /// Requests answered every 50 ms from 0 to 50 s by each of `p1` and `p2`.
    fn answered() -> Vec<(i64, Option<String>)> {
        (0..1000i64)
            .flat_map(|k| {
                [
                    (k * 50_000_000, Some("p1".to_string())),
                    (k * 50_000_000, Some("p2".into())),
                ]
            })
            .collect()
    }

    #[test]
    fn node_cpu_from_a_constructed_sample_file() {
        let file = crate::cpu::parse(Path::new("cpu.ndjson"), &sample_file()).unwrap();
        let n = node_cpu(&file, &answered(), &BTreeMap::new()).unwrap();
        // p1 alone: p2 has one real figure inside the baseline, and a zero is no figure.
        assert_eq!(n.pods, 1);
        assert_eq!(
            (n.nodes, n.capacity_cores, n.allocatable_cores),
            (1, 4.0, Some(3.8))
        );
        // Figures at 12.3 and 35.1 s: 22.8 s at 0.1 core.
        assert!((n.cpu_s - 2.28).abs() < 1e-9, "{}", n.cpu_s);
        // Their instants: 12.25 s (second 12, answered at 12.5) and 35.25 s (second 35, answered
        // at 35.5): the requests that ended in (12.25, 35.25] s, one per 50 ms.
        assert_eq!(n.requests, 460);
        assert!((n.span_s[0] - 23.0).abs() < 1e-9 && n.span_s == [n.span_s[0]; 2]);
        let m = Measured {
            service_ms: vec![40.0, 60.0],
            node_cpu: vec![n],
            ..Default::default()
        };
        let v: toml::Value = toml::from_str(&render(&m, "test")).unwrap();
        assert_eq!(v["nodes"]["count"].as_integer(), Some(1));
        assert_eq!(v["nodes"]["cores"].as_float(), Some(4.0));
        // 2.28 CPU s / 460 requests = 4.957 ms of CPU per request, over a 50 ms mean service:
        // 0.09913 of a core while in service (the pod used 0.1 core with one request in service
        // on average, 20 req/s x 50 ms).
        let cpu = v["nodes"]["cpu_per_request"].as_float().unwrap();
        assert!((cpu - 2.28 / 460.0 / 0.050).abs() < 1e-5, "{cpu}");
    }

    #[test]
    fn without_pod_names_the_fleet_rate_is_shared_evenly() {
        let file = crate::cpu::parse(Path::new("cpu.ndjson"), &sample_file()).unwrap();
        let anonymous: Vec<(i64, Option<String>)> =
            answered().into_iter().map(|(t, _)| (t, None)).collect();
        let n = node_cpu(&file, &anonymous, &BTreeMap::new()).unwrap();
        assert!(!n.by_pod);
        // 40 answers/s over the baseline, shared by the 2 pods the summaries listed: 20/s over
        // p1's 23.0 s span, the 460 requests matched by name above.
        assert_eq!((n.pods, n.requests), (1, 460));
        let m = Measured {
            service_ms: vec![50.0],
            node_cpu: vec![n],
            ..Default::default()
        };
        let text = render(&m, "test");
        assert!(text.contains("shared evenly"), "{text}");
    }

    #[test]
    fn one_figure_in_a_short_baseline_extends_to_the_next_before_the_deletion() {
        // Baseline 10-20 s: p1 has one figure inside (12.25 s), the next at 22.7 s (second 22,
        // after the poll sent at 22.4 s, first shown by the one answered at 23.5 s); deleted at
        // 30 s.
        let short = sample_file().replace(
            r#""epoch_ns":40000000000,"phase":"baseline_end""#,
            r#""epoch_ns":20000000000,"phase":"baseline_end""#,
        );
        let file = crate::cpu::parse(Path::new("cpu.ndjson"), &short).unwrap();
        let deleted = BTreeMap::from([("p1".to_string(), 30_000_000_000)]);
        let n = node_cpu(&file, &answered(), &deleted).unwrap();
        assert_eq!((n.pods, n.extended), (1, 1));
        // 12.3 -> 22.6 s at 0.1 core; the answers in (12.25, 22.7] s, one per 50 ms.
        assert!((n.cpu_s - 1.03).abs() < 1e-9, "{}", n.cpu_s);
        assert_eq!(n.requests, 209);
        let m = Measured {
            service_ms: vec![50.0],
            node_cpu: vec![n],
            ..Default::default()
        };
        assert!(render(&m, "t").contains("1 of the spans run past the baseline's end"));
        // Deleted before its next figure: nothing to extend to.
        let early = BTreeMap::from([("p1".to_string(), 21_000_000_000)]);
        assert!(node_cpu(&file, &answered(), &early).is_err());
    }

    #[test]
    fn what_is_missing_is_named() {
        let short = sample_file().replace(
            r#""epoch_ns":40000000000,"phase":"baseline_end""#,
            r#""epoch_ns":20000000000,"phase":"baseline_end""#,
        );
        let file = crate::cpu::parse(Path::new("cpu.ndjson"), &short).unwrap();
        let e = node_cpu(&file, &answered(), &BTreeMap::new()).unwrap_err();
        assert!(e.contains("inside the 10.0 s baseline"), "{e}");
        let unreachable = concat!(
            r#"{"kind":"phase","epoch_ns":1,"phase":"baseline_start"}"#,
            "\n",
            r#"{"kind":"unreachable","epoch_ns":2,"node":"vm","request":"get --raw /api/v1/nodes/vm/proxy/stats/summary","error":"address not allowed"}"#,
            "\n",
            r#"{"kind":"phase","epoch_ns":3,"phase":"baseline_end"}"#,
        );
        let file = crate::cpu::parse(Path::new("cpu.ndjson"), unreachable).unwrap();
        let e = node_cpu(&file, &answered(), &BTreeMap::new()).unwrap_err();
        assert!(
            e.contains("unreachable") && e.contains("address not allowed"),
            "{e}"
        );
        let file = crate::cpu::parse(Path::new("cpu.ndjson"), &sample_file()).unwrap();
        let e = node_cpu(&file, &[], &BTreeMap::new()).unwrap_err();
        assert!(e.contains("answered no request"), "{e}");
        let m = Measured {
            service_ms: vec![50.0],
            node_cpu_missing: vec![format!("run-1/cpu.ndjson: {e}")],
            ..Default::default()
        };
        let text = render(&m, "t");
        assert!(text.contains("# [nodes] not calibrated: run-1/cpu.ndjson: the pods measured"));
        assert!(!text.contains("\n[nodes]"));
    }

    #[test]
    fn without_node_cpu_the_layer_is_as_before() {
        let m = Measured {
            service_ms: vec![50.0, 52.0],
            startup_ms: vec![1000.0],
            deregistration_ms: vec![300.0],
            ..Default::default()
        };
        let text = render(&m, "t");
        assert!(!text.contains("nodes"), "{text}");
        assert!(text.ends_with("lag = { kind = \"empirical\", samples = [\"300000us\"] }\n"));
    }

    #[test]
    fn eager_reopen_bursts_give_the_pace_of_their_middle_and_small_or_late_ones_are_left_out() {
        let ms = 1_000_000i64;
        let mut opened = Vec::new();
        // A burst of 200 reopens 100 us apart (10,000/s) at 11 s, its first and last tenth
        // slower (the closes arriving, the stragglers): 1 ms apart.
        let mut t = 11_000 * ms;
        for i in 0..200 {
            t += if (20..=180).contains(&i) { ms / 10 } else { ms };
            opened.push(t);
        }
        // Too small to count: 50 reopens at 15 s.
        opened.extend((0..50).map(|i| 15_000 * ms + i * ms / 10));
        // After the rollout began (20 s): the drain's storm, which is what is predicted.
        opened.extend((0..500).map(|i| 25_000 * ms + i * ms / 20));
        let bursts = reopen_bursts(&opened, 20_000 * ms);
        assert_eq!(bursts.len(), 1, "{bursts:?}");
        let (n, pace) = bursts[0];
        assert_eq!(n, 200);
        assert!((pace - 10_000.0).abs() < 1.0, "pace {pace}");
        let m = Measured {
            reopen_bursts: bursts,
            ..Measured::default()
        };
        let text = render(&m, "test");
        assert!(text.contains("# eager_reopen_rate = 10000.0"), "{text}");
        // A comment, not a setting: the layer stays loadable by scenarios without eager reopens.
        let v: toml::Value = toml::from_str(&text).unwrap();
        assert!(v.get("client").is_none(), "{text}");
        assert!(render(&Measured::default(), "test").find("eager").is_none());
    }

    #[test]
    fn the_service_time_while_pods_start_is_written_only_from_enough_requests() {
        let enough = Measured {
            service_ms: vec![50.0, 51.0],
            service_starts_ms: (0..150).map(|i| 50.0 + f64::from(i) / 10.0).collect(),
            ..Default::default()
        };
        let v: toml::Value = toml::from_str(&render(&enough, "t")).unwrap();
        let during = &v["pod"]["service_time_while_pods_start"];
        assert_eq!(during["kind"].as_str(), Some("empirical"));
        assert_eq!(during["samples"][0].as_str(), Some("50000us"));
        assert_eq!(during["samples"][100].as_str(), Some("64900us"));
        let few = Measured {
            service_starts_ms: vec![60.0; MIN_START_SAMPLES - 1],
            ..enough
        };
        let text = render(&few, "t");
        let v: toml::Value = toml::from_str(&text).unwrap();
        assert!(
            v["pod"].get("service_time_while_pods_start").is_none(),
            "{text}"
        );
        assert!(
            text.contains("service_time_while_pods_start not written: 99 requests"),
            "{text}"
        );
    }

    #[test]
    fn quantile_points_thin_long_inputs_and_keep_the_ends() {
        let v: Vec<f64> = (0..1000).map(f64::from).collect();
        let q = quantile_points(&v, 101);
        assert_eq!(q.len(), 101);
        assert_eq!(q[0], 0.0);
        assert_eq!(q[100], 999.0);
        assert_eq!(quantile_points(&[3.0, 1.0], 101), vec![1.0, 3.0]);
    }

    #[test]
    fn rendered_layer_is_a_valid_scenario_fragment() {
        let m = Measured {
            service_ms: vec![50.0, 52.0, 60.0],
            startup_ms: vec![1200.0],
            deregistration_ms: vec![300.0, 900.0],
            ..Default::default()
        };
        let text = render(&m, "test");
        let v: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(v["pod"]["service_time"]["kind"].as_str(), Some("empirical"));
        assert_eq!(
            v["pod"]["service_time"]["samples"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(v["propagation"]["endpointslice"].as_str(), Some("0s"));
        assert_eq!(
            v["propagation"]["lag"]["samples"][1].as_str(),
            Some("900000us")
        );
        let only_service = render(
            &Measured {
                service_ms: vec![1.0],
                ..Default::default()
            },
            "t",
        );
        assert!(!only_service.contains("[propagation]"));
    }
}
