//! `fleetsim calibrate`: turn calibration runs (live runs of their own, never the validation
//! runs) into a scenario layer the simulator loads with `extends`.
//!
//! Measured, from each run directory written by `fleetsim live`:
//! - **service time**: the baseline latency of successful requests on reused keep-alive
//!   connections (no connect, no queueing behind a rollout), from the intended start;
//! - **pod start-up**: from a new pod's first watch event to its first Ready, per new pod;
//! - **deregistration lag**: from an old pod's deletion to the last request that reached it on a
//!   fresh connection (kube-proxy picks a pod per new connection), per old pod that got one.
//!
//! Each becomes an empirical distribution (at most 101 quantile points), so the file stays small
//! and the simulator resamples what was measured.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use clap::Parser;
use loadgen::read_records;

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
    /// New pods, first watch event to Ready.
    pub startup_ms: Vec<f64>,
    /// Old pods, deletion to the last request on a fresh connection.
    pub deregistration_ms: Vec<f64>,
}

/// Reads one run directory.
pub fn measure_run(dir: &Path) -> Result<Measured> {
    let mut m = Measured::default();
    let records = [
        dir.join("records-keepalive.ndjson"),
        dir.join("records-new.ndjson"),
    ];
    let present: Vec<PathBuf> = records.into_iter().filter(|p| p.exists()).collect();
    let missing = |reason: &str| LiveError::RunDir {
        dir: dir.to_path_buf(),
        reason: reason.to_string(),
    };
    if present.is_empty() {
        return Err(missing(
            "no records-*.ndjson (is it a `fleetsim live` run directory?)",
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
    for r in &merged.reqs {
        if r.reused
            && r.outcome == measure::Outcome::Ok
            && r.intended >= load_start
            && r.intended < rollout_start
        {
            m.service_ms.push(r.latency_ns() as f64 / 1e6);
        }
    }
    // Pod start-up, from the pod watch.
    let pods_text =
        fs::read_to_string(dir.join("pods.ndjson")).map_err(|_| missing("no pods.ndjson"))?;
    let mut first_seen: BTreeMap<String, i64> = BTreeMap::new();
    let mut first_ready: BTreeMap<String, i64> = BTreeMap::new();
    for line in pods_text.lines().filter(|l| !l.trim().is_empty()) {
        let e: PodEvent = serde_json::from_str(line)
            .map_err(|e| missing(&format!("bad pods.ndjson line: {e}")))?;
        first_seen.entry(e.name.clone()).or_insert(e.epoch_ns);
        if e.ready {
            first_ready.entry(e.name.clone()).or_insert(e.epoch_ns);
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
    Ok(m)
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
            "\n[propagation]\n# {} old pods, deletion to last request on a fresh connection: p50 {:.0} ms, p99 {:.0} ms.\n# The whole lag is measured end to end, so the EndpointSlice step is folded into it.",
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
    s
}

/// Reads every run, writes the calibration file, returns what was measured.
pub fn run(opts: CalibrateOpts) -> Result<Measured> {
    let mut all = Measured::default();
    for dir in &opts.runs {
        let m = measure_run(dir)?;
        all.service_ms.extend(m.service_ms);
        all.startup_ms.extend(m.startup_ms);
        all.deregistration_ms.extend(m.deregistration_ms);
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
