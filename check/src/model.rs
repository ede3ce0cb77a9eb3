//! From a Deployment's settings and the assumptions to a [`models::Fleet`], and its
//! prediction by the same simulator and many-seed runner as `fleetsim run`.

use std::collections::BTreeMap;

use measure::{Figure, Stat};
use models::{ConnectionStyle, Fleet, LifecycleConfig, OnSigterm, Preset};
use sim_core::{Dist, SimDuration};

use crate::error::CheckError;
use crate::manifest::Workload;

/// What a manifest cannot say, from flags and `--set`, with their documented defaults.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Assumptions {
    /// `--rate`: requests per second to each Deployment; default [`Assumptions::RATE_PER_REPLICA`]
    /// per replica.
    pub rate: Option<f64>,
    /// `--service-time`: each request's service time (default 100 ms, the model's).
    pub service_time_ms: f64,
    /// `--connection`: `keepalive` (default: service-to-service clients keep connections) or
    /// `new`.
    pub connection: String,
    /// `--calibration FILE`: the fields of a calibration layer written by `fleetsim calibrate`
    /// (`pod.service_time`, `pod.startup`, `propagation.*`), applied before `--set`.
    pub calibration: Vec<(String, toml::Value)>,
    /// `--set FIELD=VALUE`: any scenario field (`app.on_sigterm=drain`), applied last.
    pub sets: Vec<(String, String)>,
    /// `--seeds`.
    pub seeds: u64,
    /// `--seed`: the first seed.
    pub first_seed: u64,
    /// Steady load before the rollout (5 s: the failures are in the deploy window; the
    /// baseline p99 needs only a few seconds).
    pub baseline_s: f64,
}

impl Assumptions {
    /// Default load per replica: 25 req/s, a third of a pod's modelled capacity (8 requests at
    /// once x 100 ms = 80 req/s).
    pub const RATE_PER_REPLICA: f64 = 25.0;
}

impl Default for Assumptions {
    fn default() -> Self {
        Assumptions {
            rate: None,
            service_time_ms: 100.0,
            connection: "keepalive".into(),
            calibration: Vec::new(),
            sets: Vec::new(),
            seeds: 20,
            first_seed: 1,
            baseline_s: 5.0,
        }
    }
}

/// The fleet for a workload: the manifest's settings, then the assumptions, then `--set`.
pub fn fleet_for(w: &Workload, a: &Assumptions) -> Result<Fleet, CheckError> {
    let mut f = Fleet::default();
    f.run.baseline = SimDuration::from_secs_f64(a.baseline_s);
    f.load.rate = a
        .rate
        .unwrap_or(Assumptions::RATE_PER_REPLICA * f64::from(w.replicas));
    f.client.connection = match a.connection.as_str() {
        "new" => ConnectionStyle::New,
        _ => ConnectionStyle::Keepalive,
    };
    f.pod.service_time = Dist::constant(SimDuration::from_secs_f64(a.service_time_ms / 1e3));
    f.pod.replicas = w.replicas;
    f.pod.readiness = w.readiness.clone();
    f.rollout.max_surge = w.max_surge;
    f.rollout.max_unavailable = w.max_unavailable;
    f.rollout.min_ready = SimDuration::from_secs(u64::from(w.min_ready));
    f.lifecycle = LifecycleConfig {
        grace_period: SimDuration::from_secs(u64::from(w.grace)),
        prestop: w.prestop,
        ..LifecycleConfig::default()
    };
    f.container.entrypoint = w.entrypoint.form;
    // The balancer the manifests name, with the settings they give for it. The mapping sets a
    // setting only where the preset has the knob and it acts (pod targets: no `via` hop); the
    // guards keep a fleet the model would reject from being built here all the same.
    let b = &w.balancer;
    f.balancer.preset = b.preset;
    f.balancer.via = b.via;
    let knob = |field: &str| b.via.is_none() && b.preset.fields().contains(&field);
    if knob("deregistration_delay") {
        f.balancer.deregistration_delay = b.deregistration_delay_s.map(SimDuration::from_secs);
    }
    if knob("health_check_interval") {
        f.balancer.health_check_interval = b.health_check_interval_s.map(SimDuration::from_secs);
    }
    if knob("healthy_threshold") {
        f.balancer.healthy_threshold = b.healthy_threshold;
    }
    if knob("unhealthy_threshold") {
        f.balancer.unhealthy_threshold = b.unhealthy_threshold;
    }
    if knob("connection_termination") {
        f.balancer.connection_termination = b.connection_termination;
    }
    f.balancer.sidecar = b.sidecar;
    if b.preset == Preset::EnvoySidecar || b.sidecar == Some(models::Sidecar::Envoy) {
        f.balancer.sidecar_drain = b.sidecar_drain_s.map(SimDuration::from_secs_f64);
    }
    if b.preset == Preset::LinkerdSidecar || b.sidecar == Some(models::Sidecar::Linkerd) {
        f.balancer.wait_before_exit = b.wait_before_exit_s.map(SimDuration::from_secs);
    }
    let sets: Vec<(String, toml::Value)> = a
        .calibration
        .iter()
        .cloned()
        .chain(a.sets.iter().map(|(k, v)| (k.clone(), toml_value(v))))
        .collect();
    apply_sets(&w.id, f, &sets)
}

/// Applies `--set` through the scenario loader (the same strict deserialization and
/// validation as a scenario file), so a bad field or value is an error naming it.
fn apply_sets(id: &str, fleet: Fleet, sets: &[(String, toml::Value)]) -> Result<Fleet, CheckError> {
    let invalid = |errs: Vec<models::ConfigError>| CheckError::Assumption {
        deployment: id.into(),
        field: errs.first().map_or(String::new(), |e| e.path.clone()),
        reason: errs
            .iter()
            .map(|e| e.reason.clone())
            .collect::<Vec<_>>()
            .join("; "),
    };
    if sets.is_empty() {
        fleet.validate().map_err(invalid)?;
        return Ok(fleet);
    }
    // TOML has no null: a fleet without a readiness probe would come back with the default
    // probe, so the absence is restored unless --set names the probe.
    let no_probe =
        fleet.pod.readiness.is_none() && !sets.iter().any(|(k, _)| k.starts_with("pod.readiness"));
    let text = toml::to_string(&fleet).map_err(|e| CheckError::Assumption {
        deployment: id.into(),
        field: "(fleet)".into(),
        reason: e.to_string(),
    })?;
    let mut source = scenarios::parse_str(id, &text).map_err(|e| CheckError::Assumption {
        deployment: id.into(),
        field: "(fleet)".into(),
        reason: e.to_string(),
    })?;
    for (path, value) in sets {
        source
            .set(path, value.clone())
            .map_err(|e| CheckError::Assumption {
                deployment: "--set".into(),
                field: path.clone(),
                reason: e.to_string(),
            })?;
    }
    let mut fleet = scenarios::prepare(&source).map_err(|e| CheckError::Assumption {
        deployment: id.into(),
        field: "(the manifest's settings with the assumptions)".into(),
        reason: e.to_string(),
    })?;
    if no_probe {
        fleet.pod.readiness = None;
        fleet.validate().map_err(invalid)?;
    }
    Ok(fleet)
}

/// A `--set` value as TOML: a number, boolean or inline table when it parses as one, else a
/// string (`drain`, `5s`).
pub fn toml_value(v: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {v}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(v.to_string()))
}

/// One figure's mean and 95% interval over seeds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    /// Mean over seeds.
    pub mean: f64,
    /// 2.5th percentile over seeds.
    pub lo: f64,
    /// 97.5th percentile over seeds.
    pub hi: f64,
}

impl From<Stat> for Interval {
    fn from(s: Stat) -> Self {
        Interval {
            mean: s.mean,
            lo: s.lo,
            hi: s.hi,
        }
    }
}

/// The prediction for one fleet over the seeds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Prediction {
    /// Failed requests per rollout (every outcome but ok and shed).
    pub failed: Interval,
    /// Failed requests by class (`refused`, `reset`, `http_502`, ...): only classes with a
    /// non-zero mean.
    pub by_class: BTreeMap<String, Interval>,
    /// Mean failed requests per seed by the mechanism that caused them.
    pub by_mechanism: BTreeMap<String, f64>,
    /// p99 latency in the deploy window, ms.
    pub window_p99_ms: Option<Interval>,
    /// Minimum ready endpoints / desired replicas in the window.
    pub capacity_dip: Option<Interval>,
    /// Requests sent in the window (mean).
    pub sent: f64,
    /// Seeds whose rollout did not finish within the simulated time cap.
    pub seeds_cut_by_time_cap: usize,
    /// The long-lived streams' fate per rollout, when the fleet has `[streams]` (`--set
    /// streams.count=N`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streams: Option<StreamPrediction>,
    /// The whole aggregate over the seeds, in `fleetsim run`'s `summary.json` shape (what
    /// `--predictions` writes for `fleetsim validate`; not in the check's own output).
    #[serde(skip)]
    pub aggregate: measure::Aggregate,
}

/// What a rollout does to the streams the clients hold, per rollout over the seeds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StreamPrediction {
    /// Streams held.
    pub streams: u64,
    /// Streams cut (`reset`: a process, sidecar or balancer ended them).
    pub cut: Interval,
    /// Streams asked to leave (`eof`: a draining application ended them cleanly).
    pub asked_to_leave: Interval,
    /// Reconnect attempts that failed (refused, a proxy's 5xx, a connect timeout).
    pub failed_reconnects: Interval,
    /// Streams that did not come back before the run ended.
    pub never_back: Interval,
}

/// The failure classes reported, in the summary's order.
pub const CLASSES: [Figure; 9] = [
    Figure::Refused,
    Figure::Reset,
    Figure::Http502,
    Figure::Http503,
    Figure::Http504,
    Figure::Http5xxOther,
    Figure::Timeout,
    Figure::Other,
    Figure::Shed,
];

/// Runs `fleet` over the seeds with `scenarios`' runner and `models::simulate` (the same
/// path as `fleetsim run`), and reads the figures from the aggregate.
pub fn predict(
    id: &str,
    fleet: &Fleet,
    seeds: &[u64],
    threads: usize,
) -> Result<Prediction, CheckError> {
    let report = scenarios::run_seeds(id, seeds, threads, &|| {}, |seed| {
        scenarios::simulate_seed(id, fleet, seed, false).map(scenarios::SeedRun::without_curves)
    })
    .map_err(|e| CheckError::Simulation {
        deployment: id.into(),
        seed: e.seed,
        message: e.message,
    })?;
    let agg = report.aggregate();
    let stat = |f: Figure| agg.stat(f).map(Interval::from);
    let mut by_class = BTreeMap::new();
    for f in CLASSES {
        if let Some(s) = stat(f)
            && s.mean > 0.0
        {
            by_class.insert(f.path().trim_start_matches("requests.").to_string(), s);
        }
    }
    let mut by_mechanism: BTreeMap<String, f64> = BTreeMap::new();
    for m in &report.failures_by_mechanism {
        for (k, n) in m {
            *by_mechanism.entry(k.as_str().to_string()).or_default() +=
                *n as f64 / seeds.len() as f64;
        }
    }
    by_mechanism.retain(|_, v| *v > 0.0);
    Ok(Prediction {
        failed: stat(Figure::Failed).unwrap_or(Interval {
            mean: 0.0,
            lo: 0.0,
            hi: 0.0,
        }),
        by_class,
        by_mechanism,
        window_p99_ms: stat(Figure::WindowP99),
        capacity_dip: stat(Figure::CapacityDip),
        sent: stat(Figure::Sent).map_or(0.0, |s| s.mean),
        seeds_cut_by_time_cap: report.seeds_cut_by_time_cap().len(),
        streams: fleet.streams.as_ref().and_then(|st| {
            let f = |path: &str| agg.figure(path).map(Interval::from);
            Some(StreamPrediction {
                streams: u64::from(st.count),
                cut: f("streams.drops_by_reason.reset")?,
                asked_to_leave: f("streams.drops_by_reason.eof")?,
                failed_reconnects: f("streams.failed_attempts")?,
                never_back: f("streams.never_reconnected")?,
            })
        }),
        aggregate: agg,
    })
}

/// The `q` quantile of a lag distribution (exact for constant, uniform, exponential,
/// lognormal and empirical).
pub fn quantile(d: &Dist, q: f64) -> SimDuration {
    match d {
        Dist::Constant { value } => *value,
        Dist::Uniform { low, high } => SimDuration::from_secs_f64(
            low.as_secs_f64() + q * (high.as_secs_f64() - low.as_secs_f64()),
        ),
        Dist::Exponential { mean } => {
            SimDuration::from_secs_f64(-mean.as_secs_f64() * (1.0 - q).ln())
        }
        Dist::Lognormal { median, p99 } => {
            // z(0.99) = 2.3263; z(q) by the same scale only at q = 0.99.
            let sigma = (p99.as_secs_f64() / median.as_secs_f64()).ln() / 2.3263;
            let z = if (q - 0.99).abs() < 1e-9 { 2.3263 } else { 0.0 };
            SimDuration::from_secs_f64(median.as_secs_f64() * (sigma * z).exp())
        }
        Dist::Empirical { samples } => {
            let mut v: Vec<f64> = samples.iter().map(|s| s.as_secs_f64()).collect();
            v.sort_by(f64::total_cmp);
            if v.is_empty() {
                SimDuration::ZERO
            } else {
                SimDuration::from_secs_f64(measure::quantile_sorted(&v, q))
            }
        }
    }
}

/// `true` when the application drains on SIGTERM.
pub fn drains(f: &Fleet) -> bool {
    f.app.on_sigterm == OnSigterm::Drain
}

/// Reads a calibration layer (a TOML scenario fragment, as `fleetsim calibrate` writes) into
/// `(section.field, value)` pairs.
pub fn read_calibration(path: &std::path::Path) -> Result<Vec<(String, toml::Value)>, CheckError> {
    let text = std::fs::read_to_string(path).map_err(|source| CheckError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: String| CheckError::Assumption {
        deployment: "--calibration".into(),
        field: path.display().to_string(),
        reason,
    };
    let table: toml::Table = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    for (section, v) in table {
        let toml::Value::Table(fields) = v else {
            return Err(bad(format!(
                "{section} is not a [section] of scenario fields"
            )));
        };
        for (field, value) in fields {
            out.push((format!("{section}.{field}"), value));
        }
    }
    Ok(out)
}
