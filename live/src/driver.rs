//! `fleetsim live OVERLAY`: roll the real service on a real cluster under open-loop load and write
//! the live summary (the same shape the simulator writes), with the evidence behind it.
//!
//! One run ([`run_once`]'s steps): apply the overlay and wait for the fleet to settle; empty the
//! job ledger; watch pods and EndpointSlices (timestamps on the wall clock, which the
//! generator's record files also carry); follow every pod's logs; start two open-loop
//! generators through the Service's ClusterIP from the node (one keep-alive, one new connection
//! per request) and a steady job publisher; after the baseline, `kubectl rollout restart`; find
//! the rollout's span from the pod watch; let the load finish; wait for the queue to settle;
//! read the ledger; analyze; gather the shutdown evidence; write the summaries.
//!
//! Output per run (`OUT/OVERLAY/run-K/`): `summary.json`, `records-keepalive.ndjson`,
//! `records-new.ndjson`, `timeline.csv`, `reconnects.csv`, `endpoints.csv`, `pods.ndjson`,
//! `slices.ndjson`, `logs/POD.log`, `shutdown.md`, `deregistration.csv`, `provenance.json`, and
//! `cpu.ndjson` (the nodes' cores and the pods' cumulative CPU from the kubelet, sampled through
//! the API server; its format is in the `cpu` module's documentation and `docs/measurement.md`).

use measure::Lever;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use loadgen::{
    AnalyzePlan, AnalyzeReport, LiveSummary, LoadError, LoadPlan, LoadReport, Mode, ShedRetryPlan,
};
use loadgen::{read_records, sorted_json};
use measure::{JobCounts, parse_duration_or_secs};
use serde::Serialize;
use serde_json::{Value, json};

use crate::cpu;
use crate::error::{LiveError, Result};
use crate::evidence::{self, Deregistration, PodShutdown};
use crate::kube::{Kube, for_each_json};
use crate::ledger::Ledger;
use crate::state::{self, PodEvent, RolloutSpan, SliceEvent, WatchEvent};

/// Options of `fleetsim live`.
#[derive(Parser, Clone, Debug)]
#[command(
    name = "live",
    about = "Roll a Deployment on a real cluster under open-loop load and write the live summary: \
             the project's service by overlay, or any Deployment by --namespace/--deployment/--service"
)]
pub struct LiveOpts {
    /// Overlay to apply first: a name under --overlays (before, after, pid1, readiness, drain,
    /// requeue, surge, after-no-LEVER, ladder-readiness, ladder-drain) or a kustomize directory. Without it nothing is applied: the Deployment
    /// named by --namespace/--deployment is rolled as it runs (any Deployment, not only ours).
    pub overlay: Option<String>,
    /// Name of the runs (`OUT/NAME/run-K`, scenarios `NAME-keepalive` / `NAME-new`): by default
    /// the overlay's folder name, else the Deployment's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Directory holding the overlays.
    #[arg(long, default_value = "deploy/k8s/overlays")]
    pub overlays: PathBuf,
    /// Requests per second of EACH of the two generators (keep-alive and new-connection).
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Length of the load (baseline + rollout + tail must fit in it).
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "90s")]
    pub duration: Duration,
    /// Steady load before the rollout is triggered.
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "20s")]
    pub baseline: Duration,
    /// Runs per overlay.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Output directory.
    #[arg(long, default_value = "live-results")]
    pub out: PathBuf,
    /// Kubeconfig (default: $KUBECONFIG, else kubectl's default).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// kubectl binary.
    #[arg(long, default_value = "kubectl")]
    pub kubectl: PathBuf,
    /// Namespace of the fleet.
    #[arg(long, default_value = "fleetsim")]
    pub namespace: String,
    /// The Deployment to roll.
    #[arg(long, default_value = "fleetsim-service")]
    pub deployment: String,
    /// The Service the load goes through (its ClusterIP, from the node).
    #[arg(long, default_value = "fleetsim-service")]
    pub service: String,
    /// Path and query of the slow endpoint, sent to the Service's ClusterIP (default
    /// `/work?ms=50`, the project's service; go-httpbin: `/delay/0.1`).
    #[arg(long, conflicts_with = "url")]
    pub path: Option<String>,
    /// Load this URL instead of the Service's ClusterIP (e.g. through an ingress controller:
    /// `http://INGRESS-IP/delay/0.1`). Only `http://` with a numeric IPv4 address.
    #[arg(long)]
    pub url: Option<String>,
    /// SCHED_FIFO priority (1-99) of the generators' scheduler threads, so that the node's own
    /// work during the roll (starting pods, kube-proxy syncs) cannot delay a send; 0 = the
    /// normal policy. Needs root or CAP_SYS_NICE (refused otherwise). The project's live scripts
    /// use 10.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=99))]
    pub generator_priority: u8,
    /// The generators poll instead of sleeping for the last stretch before each send (their
    /// `--spin`): a thread that sleeps to the due time wakes up to ~1 ms late on a VM whose idle
    /// vCPU halts, which is a late send by the 1 ms bar the analysis holds the deploy window
    /// to. `auto` (the default) polls for 2 ms, or a quarter of the gap between sends when that
    /// is shorter (a SCHED_FIFO thread that never sleeps is throttled by the kernel), costing
    /// about a tenth of a core per style at 50 req/s. 0 = always sleep. At most 20 ms, and at
    /// most half the gap between sends.
    #[arg(long, value_parser = GeneratorSpin::parse, default_value = "auto")]
    pub generator_spin: GeneratorSpin,
    /// The keep-alive generator's clients reopen a connection the moment the server closes it
    /// (HTTP/2- and gRPC-style channels, warm pools) instead of at their next request: what
    /// makes a drain's closes come back as a reconnect storm.
    #[arg(long)]
    pub eager_reconnect: bool,
    /// Keep-alive clients of the keep-alive generator.
    #[arg(long, default_value_t = 16)]
    pub clients: u64,
    /// Long-lived server-sent-event streams the keep-alive generator holds open on `/events`
    /// of the Service (the generator's `--sse`): each drop (a clean end after the service's
    /// shutdown event, or a reset), failed attempt and reconnect is recorded.
    #[arg(long, default_value_t = 0)]
    pub sse: u64,
    /// Client deadline per request.
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "5s")]
    pub timeout: Duration,
    /// Both generators retry a scheduled request at most N times after a 503 that carries
    /// Retry-After (`shed`), when the Retry-After says, outside the schedule (the generator's
    /// --shed-retries; docs/loadgen.md). The summary's `live.retries` counts them; the
    /// contract's figures still count each scheduled request once. 0 (the default): never.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub shed_retries: u32,
    /// The longest Retry-After the generators honour (with --shed-retries; default 30s): a
    /// longer one is given up (`too_long`).
    #[arg(long, value_name = "DUR", value_parser = parse_duration_or_secs)]
    pub shed_retry_max_wait: Option<Duration>,
    /// Jobs published per second (POST /jobs), 0 for none.
    #[arg(long, default_value_t = 2.0)]
    pub job_rate: f64,
    /// Work time of each job.
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "1s")]
    pub job_work: Duration,
    /// When each job's side effect is applied, as a fraction of its work (0..=1; the
    /// simulator's `queue.effect_at`). At 1 (the default) the effect comes at the end of the
    /// work, just before the ack; below 1 a pod killed mid-job may have applied it already,
    /// so its redelivery applies it again unless the idempotency key stops it.
    #[arg(long, default_value_t = 1.0)]
    pub job_effect_at: f64,
    /// Longest wait for the queue to drain after the load.
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "90s")]
    pub settle: Duration,
    /// Longest wait for the fleet to be ready before a run.
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "180s")]
    pub ready_timeout: Duration,
    /// How often the kubelet's CPU figures are read through the API server into `cpu.ndjson`
    /// (the nodes' cores and the fleet's pods' cumulative CPU, which `fleetsim calibrate` turns
    /// into `[nodes]`); 0 = not at all. The kubelet refreshes them every 10-20 s; polling often
    /// brackets when.
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "1s")]
    pub cpu_interval: Duration,
    /// Do not apply the overlay (it is already applied).
    #[arg(long)]
    pub no_apply: bool,
    /// The job ledger's PostgreSQL: `deploy/NAME` or a pod that runs psql (deploy/k8s's
    /// database by default).
    #[arg(
        long,
        env = "FLEETSIM_LEDGER_TARGET",
        default_value = "deploy/fleetsim-postgres"
    )]
    pub ledger_target: String,
    /// The ledger's database user.
    #[arg(long, env = "FLEETSIM_LEDGER_USER", default_value = "fleetsim")]
    pub ledger_user: String,
    /// The ledger's database.
    #[arg(long, env = "FLEETSIM_LEDGER_DATABASE", default_value = "fleetsim")]
    pub ledger_database: String,
    /// The ledger user's password (default: the test-only password of deploy/k8s's database).
    #[arg(
        long,
        env = "FLEETSIM_LEDGER_PASSWORD",
        default_value = "fleetsim-test-only",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub ledger_password: String,
}

/// The project's slow endpoint, loaded when neither --path nor --url is given.
const DEFAULT_PATH: &str = "/work?ms=50";

/// Checks a `--url` the generator can load: `http://` and a numeric IPv4 address with a port
/// or the default 80 (the load goes only to the cluster's own addresses, never by name).
fn parse_target(url: &str) -> Result<()> {
    let bad = |reason: &str| LiveError::Setting {
        field: "url",
        reason: format!("{url:?}: {reason}"),
    };
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad("only http:// is supported"))?;
    let host = rest.split('/').next().unwrap_or("");
    let ip = host.rsplit_once(':').map_or(host, |(h, _)| h);
    if ip.parse::<std::net::Ipv4Addr>().is_err() {
        return Err(bad(
            "the host must be a numeric IPv4 address (the ingress's or Service's ClusterIP)",
        ));
    }
    if let Some((_, port)) = host.rsplit_once(':') {
        port.parse::<u16>()
            .map_err(|_| bad("the port must be a number from 0 to 65535"))?;
    }
    Ok(())
}

fn epoch_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Prints one progress line of the run on stderr.
pub(crate) fn log(msg: impl AsRef<str>) {
    eprintln!("[live {}] {}", humantime_now(), msg.as_ref());
}

fn humantime_now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// The levers an overlay switched on, read back from what the cluster runs (the five levers are
/// defined once, in [`measure::Lever`]).
pub type Levers = measure::LeverSet;

/// A run's `summary.json`: the analyzed summary of both generators, the ledger's job counts
/// (in the summary's `jobs`), the levers and the shutdown verdict; the whole run's summary also
/// carries the evidence. Written with its keys sorted ([`sorted_json`]).
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// The figures and the generator's health.
    #[serde(flatten)]
    pub analyzed: LiveSummary,
    /// The levers the fleet ran with (`null`: not the project's service, no levers to read).
    pub levers: Option<Levers>,
    /// Every old pod logged the shutdown steps its levers require, in order (`null`: not
    /// checked, the application is not the project's service and logs no such steps).
    pub shutdown_order_ok: Option<bool>,
    /// The evidence behind the verdicts (the whole run's summary only).
    #[serde(flatten)]
    pub evidence: Option<RunEvidence>,
}

/// The evidence in the whole run's `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct RunEvidence {
    /// Each old pod's shutdown, from its log.
    pub shutdown: Vec<PodShutdown>,
    /// Each old pod's deregistration delay.
    pub deregistration: Vec<Deregistration>,
    /// The rollout's span from the pod watch (`null` when it did not finish during the load).
    pub rollout_span_epoch_ns: Option<RolloutSpan>,
}

/// Runs `--repeat` live runs of one overlay; returns the run directories.
pub fn run(opts: LiveOpts) -> Result<Vec<PathBuf>> {
    if opts.baseline + Duration::from_secs(15) > opts.duration {
        return Err(LiveError::Setting {
            field: "duration",
            reason: format!(
                "{:?} leaves no room for the rollout after --baseline {:?}",
                opts.duration, opts.baseline
            ),
        });
    }
    if opts.rate.is_nan() || opts.rate <= 0.0 {
        return Err(LiveError::Setting {
            field: "rate",
            reason: "must be above 0".into(),
        });
    }
    if let GeneratorSpin::Poll(spin) = opts.generator_spin {
        let gap = Duration::from_secs_f64(1.0 / opts.rate.max(1e-9)).min(Duration::from_secs(3600));
        if spin > Duration::from_millis(20) || spin > gap / 2 {
            return Err(LiveError::Setting {
                field: "generator-spin",
                reason: format!(
                    "{spin:?} is above 20ms or half the {gap:?} between sends at --rate {}: the generator would poll most of the time (under SCHED_FIFO the kernel throttles a thread that never sleeps); use auto",
                    opts.rate
                ),
            });
        }
    }
    shed_retry(&opts)?;
    if !(opts.job_rate.is_finite() && opts.job_rate >= 0.0) {
        return Err(LiveError::Setting {
            field: "job-rate",
            reason: format!("must be 0 (no jobs) or above (got {})", opts.job_rate),
        });
    }
    if !(opts.job_effect_at.is_finite() && (0.0..=1.0).contains(&opts.job_effect_at)) {
        return Err(LiveError::Setting {
            field: "job-effect-at",
            reason: format!(
                "is a fraction of the job's work, within 0..=1 (got {})",
                opts.job_effect_at
            ),
        });
    }
    let kube = Kube {
        kubectl: opts.kubectl.clone(),
        kubeconfig: opts.kubeconfig.clone(),
        namespace: opts.namespace.clone(),
    };
    if let Some(url) = &opts.url {
        parse_target(url)?;
    }
    let overlay_dir = opts.overlay.as_ref().map(|overlay| {
        if Path::new(overlay).is_dir() {
            PathBuf::from(overlay)
        } else {
            opts.overlays.join(overlay)
        }
    });
    let name = match (&opts.name, &overlay_dir) {
        (Some(n), _) => n.clone(),
        (None, Some(dir)) => dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| opts.deployment.clone()),
        (None, None) => opts.deployment.clone(),
    };
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(LiveError::Setting {
            field: "name",
            reason: format!("{name:?} is not a folder name"),
        });
    }
    if let (Some(overlay), Some(dir), false) = (&opts.overlay, &overlay_dir, opts.no_apply) {
        apply_overlay(&kube, overlay, dir)?;
    }
    let mut dirs = Vec::new();
    for k in 1..=opts.repeat {
        let dir = opts.out.join(&name).join(format!("run-{k}"));
        log(format!(
            "run {k}/{} of {name} -> {}",
            opts.repeat,
            dir.display()
        ));
        run_once(&opts, &kube, &name, &dir)?;
        dirs.push(dir);
    }
    Ok(dirs)
}

/// `kubectl apply -k DIR` (the namespace is part of the overlay: applied without forcing ours).
fn apply_overlay(kube: &Kube, overlay: &str, dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Err(LiveError::Cluster(format!(
            "overlay {overlay:?}: no directory {}",
            dir.display()
        )));
    }
    log(format!("applying {}", dir.display()));
    let dir = dir.to_string_lossy().into_owned();
    let mut c = kube.command();
    c.args(["apply", "-k", &dir]);
    let out = c.output().map_err(|source| LiveError::KubectlStart {
        kubectl: kube.kubectl.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(LiveError::Kubectl {
            command: format!("apply -k {dir}"),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Waits until the fleet runs one template with every replica ready and listed ready in its
/// EndpointSlices; returns the replica count, the template hashes and the pod selector.
fn wait_settled(kube: &Kube, opts: &LiveOpts) -> Result<(u32, Vec<String>, String)> {
    let deadline = Instant::now() + opts.ready_timeout;
    loop {
        let status = kube.run(&[
            "rollout",
            "status",
            &format!("deployment/{}", opts.deployment),
            "--timeout=5s",
        ]);
        let dep = kube.json(&["get", "deployment", &opts.deployment])?;
        let replicas = dep
            .pointer("/spec/replicas")
            .and_then(Value::as_u64)
            .unwrap_or(1) as u32;
        let selector = dep
            .pointer("/spec/selector/matchLabels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .ok_or_else(|| {
                LiveError::Cluster(format!(
                    "deployment {} has no matchLabels selector",
                    opts.deployment
                ))
            })?;
        let pods = kube.json(&["get", "pods", "-l", &selector])?;
        let items = pods["items"].as_array().cloned().unwrap_or_default();
        let templates: BTreeSet<String> = items
            .iter()
            .filter_map(|p| {
                p.pointer("/metadata/labels/pod-template-hash")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        let all_ready = items.len() as u32 == replicas
            && items.iter().all(|p| {
                p.pointer("/metadata/deletionTimestamp").is_none()
                    && p["status"]["conditions"].as_array().is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] == "True")
                    })
            });
        // "Available" comes before kube-proxy has the endpoints: wait for the EndpointSlices to
        // list every replica ready, then for one more kube-proxy sync.
        let slices = kube.json(&[
            "get",
            "endpointslices",
            "-l",
            &format!("kubernetes.io/service-name={}", opts.service),
        ])?;
        let ready_endpoints: u32 = slices["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| {
                        SliceEvent::from_watch(0, &json!({"type": "ADDED", "object": i}))
                    })
                    .map(|e| e.ready)
                    .sum()
            })
            .unwrap_or(0);
        if status.is_ok() && all_ready && templates.len() == 1 && ready_endpoints == replicas {
            thread::sleep(Duration::from_secs(2));
            return Ok((replicas, templates.into_iter().collect(), selector));
        }
        if Instant::now() > deadline {
            return Err(LiveError::Cluster(format!(
                "the fleet did not settle within {:?}: {} pods for {replicas} replicas, templates {templates:?} ({})",
                opts.ready_timeout,
                items.len(),
                status.err().map(|e| e.to_string()).unwrap_or_default()
            )));
        }
        thread::sleep(Duration::from_secs(1));
    }
}

/// The levers the running Deployment has on, read from its image and ConfigMaps; `None` when the
/// Deployment is not the project's service (no `FLEETSIM_*` setting in its ConfigMaps and not
/// its image): a third party's application has no levers to read.
fn read_levers(kube: &Kube, opts: &LiveOpts) -> Result<Option<Levers>> {
    let dep = kube.json(&["get", "deployment", &opts.deployment])?;
    let spec = &dep["spec"];
    let container = &spec["template"]["spec"]["containers"][0];
    let image = container["image"].as_str().unwrap_or("");
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for from in container["envFrom"].as_array().cloned().unwrap_or_default() {
        if let Some(cm) = from.pointer("/configMapRef/name").and_then(Value::as_str) {
            let data = kube.json(&["get", "configmap", cm])?;
            if let Some(d) = data["data"].as_object() {
                for (k, v) in d {
                    env.insert(k.clone(), v.as_str().unwrap_or("").to_string());
                }
            }
        }
    }
    let ours =
        image.contains("fleetsim/real-service") || env.keys().any(|k| k.starts_with("FLEETSIM_"));
    if !ours {
        return Ok(None);
    }
    let on = |k: &str| env.get(k).is_some_and(|v| v == "true");
    let surge = spec
        .pointer("/strategy/rollingUpdate/maxSurge")
        .is_some_and(|v| v != &json!(0) && v != &json!("0%"));
    Ok(Some(
        Levers::NONE
            .with(Lever::Pid1, !image.ends_with(":shell"))
            .with(Lever::Readiness, on("FLEETSIM_READINESS_LEVER"))
            .with(Lever::Drain, on("FLEETSIM_DRAIN_LEVER"))
            .with(Lever::Requeue, on("FLEETSIM_REQUEUE_LEVER"))
            .with(Lever::Surge, surge && on("FLEETSIM_JITTER_LEVER")),
    ))
}

/// Children to kill when a run ends (watches, log followers).
#[derive(Default)]
struct Children(Mutex<Vec<Child>>);

impl Children {
    fn push(&self, c: Child) {
        self.0.lock().expect("children lock").push(c);
    }
    fn kill_all(&self) {
        for mut c in self.0.lock().expect("children lock").drain(..) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The settled fleet a run starts from.
struct Fleet {
    replicas: u32,
    old_templates: Vec<String>,
    selector: String,
    /// `None`: not the project's service.
    levers: Option<Levers>,
    /// The Service's ClusterIP and port.
    addr: SocketAddr,
}

/// Waits for the fleet to settle and reads what it runs and where its Service listens.
fn settled_fleet(kube: &Kube, opts: &LiveOpts) -> Result<Fleet> {
    let (replicas, old_templates, selector) = wait_settled(kube, opts)?;
    let levers = read_levers(kube, opts)?;
    log(format!(
        "fleet settled: {replicas} replicas, template {old_templates:?}, levers {levers:?}"
    ));
    let svc = kube.json(&["get", "service", &opts.service])?;
    let ip = svc
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .ok_or_else(|| LiveError::Cluster(format!("service {} has no clusterIP", opts.service)))?;
    let port = svc
        .pointer("/spec/ports/0/port")
        .and_then(Value::as_u64)
        .ok_or_else(|| LiveError::Cluster(format!("service {} has no port", opts.service)))?;
    let addr: SocketAddr = format!("{ip}:{port}").parse().map_err(|_| {
        LiveError::Cluster(format!(
            "service {}: {ip}:{port} is not an address",
            opts.service
        ))
    })?;
    Ok(Fleet {
        replicas,
        old_templates,
        selector,
        levers,
        addr,
    })
}

/// The job ledger of `--ledger-*`.
fn ledger(kube: &Kube, opts: &LiveOpts) -> Ledger {
    Ledger {
        kube: kube.clone(),
        target: opts.ledger_target.clone(),
        user: opts.ledger_user.clone(),
        database: opts.ledger_database.clone(),
        password: opts.ledger_password.clone(),
    }
}

/// The pod and EndpointSlice watches of a run, and the pods' log followers.
struct Watches {
    children: Arc<Children>,
    pods: Arc<Mutex<Vec<PodEvent>>>,
    slices: Arc<Mutex<Vec<SliceEvent>>>,
    threads: Vec<JoinHandle<()>>,
}

/// Starts watching the fleet's pods (following each new pod's log) and the Service's
/// EndpointSlices, writing every event to `pods.ndjson` / `slices.ndjson`.
fn start_watches(kube: &Kube, opts: &LiveOpts, dir: &Path, selector: &str) -> Result<Watches> {
    let children = Arc::new(Children::default());
    let pods: Arc<Mutex<Vec<PodEvent>>> = Arc::default();
    let slices: Arc<Mutex<Vec<SliceEvent>>> = Arc::default();
    let mut threads = Vec::new();
    {
        let mut child = kube.watch("pods", selector)?;
        let stdout = child.stdout.take().expect("piped");
        children.push(child);
        let (pods, children, kube, logs) = (
            pods.clone(),
            children.clone(),
            kube.clone(),
            dir.join("logs"),
        );
        let path = dir.join("pods.ndjson");
        let mut raw = File::create(&path).map_err(LiveError::io(&path))?;
        threads.push(thread::spawn(move || {
            let mut followed = BTreeSet::new();
            for_each_json(stdout, |v| {
                let t = epoch_ns();
                if let Some(e) = PodEvent::from_watch(t, &v) {
                    let _ = writeln!(raw, "{}", serde_json::to_string(&e).unwrap_or_default());
                    if e.kind != WatchEvent::Deleted && followed.insert(e.name.clone()) {
                        follow(&kube, &e.name, &logs, &children);
                    }
                    pods.lock().expect("pods lock").push(e);
                }
            });
        }));
    }
    {
        let mut child = kube.watch(
            "endpointslices",
            &format!("kubernetes.io/service-name={}", opts.service),
        )?;
        let stdout = child.stdout.take().expect("piped");
        children.push(child);
        let slices = slices.clone();
        let path = dir.join("slices.ndjson");
        let mut raw = File::create(&path).map_err(LiveError::io(&path))?;
        threads.push(thread::spawn(move || {
            for_each_json(stdout, |v| {
                if let Some(e) = SliceEvent::from_watch(epoch_ns(), &v) {
                    let _ = writeln!(raw, "{}", serde_json::to_string(&e).unwrap_or_default());
                    slices.lock().expect("slices lock").push(e);
                }
            });
        }));
    }
    Ok(Watches {
        children,
        pods,
        slices,
        threads,
    })
}

impl Watches {
    /// Lets the old pods finish exiting (their last log lines and exit codes), then stops the
    /// watches and log followers.
    fn close(self, old_templates: &[String]) -> (Vec<PodEvent>, Vec<SliceEvent>) {
        let grace_end = Instant::now() + Duration::from_secs(40);
        while Instant::now() < grace_end {
            let evs = self.pods.lock().expect("pods lock");
            let mut alive: BTreeMap<&str, bool> = BTreeMap::new();
            for e in evs.iter() {
                alive.insert(&e.name, e.kind != WatchEvent::Deleted);
            }
            let old_left = evs.iter().any(|e| {
                old_templates.contains(&e.template) && alive.get(e.name.as_str()) == Some(&true)
            });
            drop(evs);
            if !old_left {
                break;
            }
            thread::sleep(Duration::from_millis(500));
        }
        thread::sleep(Duration::from_secs(2));
        self.children.kill_all();
        for w in self.threads {
            let _ = w.join();
        }
        let pods = self.pods.lock().expect("pods lock").clone();
        let slices = self.slices.lock().expect("slices lock").clone();
        (pods, slices)
    }
}

/// The generators' retries of shed requests (`--shed-retries`, `--shed-retry-max-wait`),
/// checked as `fleetsim load` checks its own flags.
fn shed_retry(opts: &LiveOpts) -> Result<Option<ShedRetryPlan>> {
    ShedRetryPlan::from_flags(opts.shed_retries, opts.shed_retry_max_wait).map_err(|e| match e {
        LoadError::Setting { field, reason } => LiveError::Setting { field, reason },
        other => LiveError::Load(other),
    })
}

/// The two generators' plans: the same schedule through the Service, keep-alive and
/// new-connection, each to its record file.
fn load_plans(
    opts: &LiveOpts,
    target: &str,
    records: &[PathBuf; 2],
    name: &str,
) -> Result<[LoadPlan; 2]> {
    let shed_retry = shed_retry(opts)?;
    Ok([Mode::Keepalive, Mode::New].map(|mode| {
        let out = match mode {
            Mode::Keepalive => &records[0],
            Mode::New => &records[1],
        };
        let mut plan = LoadPlan::new(target, out);
        plan.rate = opts.rate;
        // Whole milliseconds, as the generator has always been given them.
        plan.duration = Duration::from_millis(opts.duration.as_millis() as u64);
        plan.mode = mode;
        plan.clients = opts.clients;
        plan.timeout = Duration::from_millis(opts.timeout.as_millis() as u64);
        plan.label = name.to_string();
        plan.signals = false;
        plan.realtime_priority = opts.generator_priority;
        plan.spin = generator_spin(opts);
        plan.eager_reconnect = mode == Mode::Keepalive && opts.eager_reconnect;
        if mode == Mode::Keepalive {
            plan.sse.streams = opts.sse;
        }
        plan.shed_retry = shed_retry;
        plan
    }))
}

/// `--generator-spin`: how long the generators poll before each send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeneratorSpin {
    /// 2 ms, or a quarter of the gap between sends when that is shorter.
    Auto,
    /// This long (0 = always sleep).
    Poll(Duration),
}

impl GeneratorSpin {
    /// `auto`, or a duration.
    fn parse(s: &str) -> std::result::Result<GeneratorSpin, String> {
        if s == "auto" {
            Ok(GeneratorSpin::Auto)
        } else {
            parse_duration_or_secs(s)
                .map(GeneratorSpin::Poll)
                .map_err(|e| format!("{e} (or auto)"))
        }
    }
}

/// The spin each generator gets: as given, or for `auto` 2 ms or a quarter of the gap between
/// sends, whichever is shorter (whole microseconds).
fn generator_spin(opts: &LiveOpts) -> Duration {
    match opts.generator_spin {
        GeneratorSpin::Poll(d) => d,
        GeneratorSpin::Auto => {
            let quarter_gap_us = (250_000.0 / opts.rate.max(1e-9)).min(2_000.0);
            Duration::from_micros(quarter_gap_us as u64)
        }
    }
}

/// The steady job publisher: `POST /jobs` at `--job-rate` until stopped. Every attempt is
/// counted: accepted (2xx) or failed, with the failure's kind.
struct Publisher {
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<PublishTally>>,
    thread: Option<JoinHandle<()>>,
}

/// What the publisher's attempts came to.
#[derive(Debug, Default, Clone)]
struct PublishTally {
    accepted: u64,
    /// Failed attempts by kind (`status 503`, `connection refused`, ...).
    failed: BTreeMap<String, u64>,
}

impl PublishTally {
    fn failed(&self) -> u64 {
        self.failed.values().sum()
    }
}

fn start_publisher(opts: &LiveOpts, addr: SocketAddr) -> Publisher {
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(PublishTally::default()));
    let thread = (opts.job_rate > 0.0).then(|| {
        let (stop, tally) = (stop.clone(), tally.clone());
        let work_ms = opts.job_work.as_millis();
        let effect_ms = (work_ms as f64 * opts.job_effect_at).round() as u128;
        let (gap, run_id) = (Duration::from_secs_f64(1.0 / opts.job_rate), epoch_ns());
        thread::spawn(move || {
            let start = Instant::now();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let due = start + gap.mul_f64(i as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    thread::sleep(wait);
                }
                let path =
                    format!("/jobs?ms={work_ms}&effect_ms={effect_ms}&key=live-{run_id:x}-{i}");
                let result = post_job(addr, &path);
                let mut t = tally.lock().expect("publisher tally");
                match result {
                    Ok(()) => t.accepted += 1,
                    Err(e) => *t.failed.entry(publish_failure_kind(&e)).or_default() += 1,
                }
                i += 1;
            }
        })
    });
    Publisher {
        stop,
        tally,
        thread,
    }
}

/// A publish failure's kind, for the tally: the status, or the socket error's kind.
fn publish_failure_kind(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::Other => e.to_string(),
        kind => kind.to_string(),
    }
}

impl Publisher {
    /// Stops publishing; returns what the attempts came to.
    fn stop(self) -> PublishTally {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread {
            let _ = t.join();
        }
        self.tally.lock().expect("publisher tally").clone()
    }
}

/// After the baseline, `kubectl rollout restart`; then the rollout's span from the pod watch,
/// or `None` if it did not finish while the load ran.
fn roll(
    kube: &Kube,
    opts: &LiveOpts,
    pods: &Mutex<Vec<PodEvent>>,
    fleet: &Fleet,
    sampler: Option<&cpu::Sampler>,
) -> Result<Option<RolloutSpan>> {
    thread::sleep(opts.baseline);
    if let Some(s) = sampler {
        s.phase("baseline_end");
    }
    let trigger = epoch_ns();
    log("baseline done: kubectl rollout restart");
    kube.run(&[
        "rollout",
        "restart",
        &format!("deployment/{}", opts.deployment),
    ])?;
    let deadline = Instant::now() + opts.duration.saturating_sub(opts.baseline);
    let span = loop {
        let span = state::rollout_span(
            &pods.lock().expect("pods lock"),
            &fleet.old_templates,
            trigger,
            fleet.replicas,
        );
        if span.is_some() || Instant::now() > deadline {
            break span;
        }
        thread::sleep(Duration::from_millis(200));
    };
    match &span {
        Some(s) => log(format!(
            "rollout took {:.1}s",
            (s.end_epoch_ns - s.start_epoch_ns) as f64 / 1e9
        )),
        None => log("WARNING: the rollout did not finish while the load ran"),
    }
    Ok(span)
}

/// Waits for the queue to drain (at most `--settle`) and reads the ledger's verdict.
fn settle_jobs(ledger: &Ledger, opts: &LiveOpts) -> Result<JobCounts> {
    if opts.job_rate <= 0.0 {
        return Ok(JobCounts::default());
    }
    let settle_end = Instant::now() + opts.settle;
    while ledger.unfinished()? > 0 && Instant::now() < settle_end {
        thread::sleep(Duration::from_secs(1));
    }
    ledger.counts()
}

/// One live run: settle, watch, load, roll, wind down, analyze, gather evidence, write.
pub(crate) fn run_once(opts: &LiveOpts, kube: &Kube, name: &str, dir: &Path) -> Result<()> {
    let logs = dir.join("logs");
    fs::create_dir_all(&logs).map_err(LiveError::io(&logs))?;
    let fleet = settled_fleet(kube, opts)?;
    if fleet.levers.is_none() && opts.job_rate > 0.0 {
        return Err(LiveError::Setting {
            field: "job-rate",
            reason: format!(
                "deployment {}/{} is not the project's service (no FLEETSIM_* settings): it has no \
                 POST /jobs and no ledger to read; pass --job-rate 0",
                opts.namespace, opts.deployment
            ),
        });
    }
    let ledger = ledger(kube, opts);
    if opts.job_rate > 0.0 {
        ledger
            .reset()
            .map_err(|e| LiveError::Ledger(format!("empty the job ledger before the run: {e}")))?;
    }
    let watches = start_watches(kube, opts, dir, &fleet.selector)?;
    let sampler = (!opts.cpu_interval.is_zero())
        .then(|| cpu::Sampler::start(kube, dir, watches.pods.clone(), opts.cpu_interval))
        .transpose()?;

    // Load: two open-loop generators, and the job publisher.
    let records = [
        dir.join("records-keepalive.ndjson"),
        dir.join("records-new.ndjson"),
    ];
    let target = match &opts.url {
        Some(url) => url.clone(),
        None => format!(
            "http://{}{}",
            fleet.addr,
            opts.path.as_deref().unwrap_or(DEFAULT_PATH)
        ),
    };
    if let Some(s) = &sampler {
        s.phase("baseline_start");
    }
    let generators: Vec<JoinHandle<Result<LoadReport, LoadError>>> =
        load_plans(opts, &target, &records, name)?
            .into_iter()
            .map(|plan| thread::spawn(move || loadgen::run(plan)))
            .collect();
    let publisher = start_publisher(opts, fleet.addr);
    let span = roll(kube, opts, &watches.pods, &fleet, sampler.as_ref())?;
    for g in generators {
        g.join().map_err(|_| LiveError::GeneratorPanicked)??;
    }
    let node_cpu = match sampler {
        Some(s) => {
            s.phase("load_end");
            let tally = s.stop();
            let said = tally.describe();
            log(format!(
                "node CPU ({}): {said}",
                dir.join(cpu::FILE).display()
            ));
            said
        }
        None => "not sampled (--cpu-interval 0)".to_string(),
    };
    let published = publisher.stop();
    log(format!(
        "load done ({} jobs published, {} publish attempts failed{}); letting the last pods exit",
        published.accepted,
        published.failed(),
        if published.failed.is_empty() {
            String::new()
        } else {
            format!(": {:?}", published.failed)
        }
    ));
    let (pods, slices) = watches.close(&fleet.old_templates);
    let mut jobs = settle_jobs(&ledger, opts)?;
    jobs.publish_failed = published.failed();

    write_endpoints(dir, &slices, fleet.replicas)?;
    let mut provenance = provenance(kube, &pods, opts, name);
    provenance.insert("node_cpu".into(), node_cpu);
    let analyses = analyze_run(dir, &records, span, fleet.replicas, name, &provenance)?;
    let evidence = shutdown_evidence(dir, name, &pods, &records, &fleet)?;
    let order_ok = fleet.levers.map(|_| {
        evidence
            .shutdown
            .iter()
            .all(|s| s.violations.is_empty() && s.missing.is_empty())
    });
    write_summaries(
        dir,
        analyses,
        jobs,
        fleet.levers,
        order_ok,
        RunEvidence {
            rollout_span_epoch_ns: span,
            ..evidence
        },
        &provenance,
    )
}

/// `endpoints.csv`: the ready-endpoint series from the slice watch.
fn write_endpoints(dir: &Path, slices: &[SliceEvent], replicas: u32) -> Result<()> {
    let ready = state::ready_series(slices);
    let mut csv = String::from("epoch_ns,ready,desired\n");
    for (t, r) in &ready {
        csv += &format!("{t},{r},{replicas}\n");
    }
    let path = dir.join("endpoints.csv");
    fs::write(&path, csv).map_err(LiveError::io(&path))
}

/// The analyses of a run: both generators together (`dir`), and each connection style apart
/// (`dir/keepalive`, `dir/new`: the simulator predicts one style per scenario run).
struct Analyses {
    whole: LiveSummary,
    per_style: Vec<(PathBuf, LiveSummary)>,
}

fn analyze_run(
    dir: &Path,
    records: &[PathBuf; 2],
    span: Option<RolloutSpan>,
    replicas: u32,
    name: &str,
    provenance: &BTreeMap<String, String>,
) -> Result<Analyses> {
    let whole = analyze_files(records, dir, span, replicas, name, provenance)?.summary;
    let mut per_style = Vec::new();
    for (style, file) in ["keepalive", "new"].iter().zip(records) {
        let s = analyze_files(
            std::slice::from_ref(file),
            &dir.join(style),
            span,
            replicas,
            &format!("{name}-{style}"),
            provenance,
        )?
        .summary;
        per_style.push((dir.join(style).join("summary.json"), s));
    }
    Ok(Analyses { whole, per_style })
}

/// The shutdown order of every old pod (from its log) and its deregistration delay (from the
/// records); writes `deregistration.csv` and `shutdown.md`.
fn shutdown_evidence(
    dir: &Path,
    name: &str,
    pods: &[PodEvent],
    records: &[PathBuf; 2],
    fleet: &Fleet,
) -> Result<RunEvidence> {
    let merged = read_records(records)?;
    let mut deleted: BTreeMap<String, i64> = BTreeMap::new();
    let mut kubelet_exit: BTreeMap<String, i64> = BTreeMap::new();
    for e in pods {
        if fleet.old_templates.contains(&e.template)
            && (e.terminating || e.kind == WatchEvent::Deleted)
        {
            deleted.entry(e.name.clone()).or_insert(e.epoch_ns);
        }
        if let Some(c) = e.exit_code {
            kubelet_exit.insert(e.name.clone(), c);
        }
    }
    // Only requests on a fresh connection measure the balancer's view: kube-proxy picks a pod
    // per new connection, while a kept-alive connection stays pinned to its pod (conntrack) until
    // either side closes it, however stale the rules are.
    let mut last_served: BTreeMap<String, i64> = BTreeMap::new();
    for r in merged.reqs.iter().filter(|r| !r.reused) {
        if let Some(p) = &r.pod {
            let t = merged.origin_epoch_ns + r.actual;
            let e = last_served.entry(p.clone()).or_insert(t);
            *e = (*e).max(t);
        }
    }
    let dereg = evidence::deregistration(&deleted, &last_served);
    let mut csv = String::from("pod,deleted_epoch_ns,last_request_epoch_ns,delay_ms\n");
    for d in &dereg {
        csv += &format!(
            "{},{},{},{}\n",
            d.pod,
            d.deleted_epoch_ns,
            d.last_request_epoch_ns
                .map(|t| t.to_string())
                .unwrap_or_default(),
            d.delay_ms.map(|x| format!("{x:.1}")).unwrap_or_default()
        );
    }
    let path = dir.join("deregistration.csv");
    fs::write(&path, csv).map_err(LiveError::io(&path))?;
    // A third party's application logs none of the project's lifecycle lines: its pods' exits
    // (the kubelet's exit codes) are still reported, their order is not checked.
    let required = fleet.levers.map(|levers| {
        evidence::required_steps(
            levers.get(Lever::Pid1),
            levers.get(Lever::Readiness),
            levers.get(Lever::Drain),
        )
    });
    let mut shutdowns = Vec::new();
    for pod in deleted.keys() {
        let text =
            fs::read_to_string(dir.join("logs").join(format!("{pod}.log"))).unwrap_or_default();
        let mut s = evidence::parse_pod_log(pod, &text);
        s.kubelet_exit = kubelet_exit.get(pod).copied();
        if let Some(required) = &required {
            evidence::check(&mut s, required);
        }
        shutdowns.push(s);
    }
    let path = dir.join("shutdown.md");
    let header = match (fleet.levers, &required) {
        (Some(levers), Some(required)) => format!(
            "Levers: Levers {{ {} }}. Required steps: {}.",
            Lever::ALL
                .map(|l| format!("{l}: {}", levers.get(l)))
                .join(", "),
            required
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => "Not the project's service: no levers to read and no lifecycle lines to check; \
              the kubelet's exit code of each old pod is below (137 = SIGKILL)."
            .to_string(),
    };
    fs::write(
        &path,
        format!(
            "# Shutdown evidence: {name}\n\n{header}\n\n{}",
            evidence::markdown(&shutdowns, required.is_some())
        ),
    )
    .map_err(LiveError::io(&path))?;
    Ok(RunEvidence {
        shutdown: shutdowns,
        deregistration: dereg,
        rollout_span_epoch_ns: None,
    })
}

/// Writes the summaries with the ledger's job counts, the levers and the evidence verdicts, and
/// `provenance.json`.
fn write_summaries(
    dir: &Path,
    analyses: Analyses,
    jobs: JobCounts,
    levers: Option<Levers>,
    order_ok: Option<bool>,
    evidence: RunEvidence,
    provenance: &BTreeMap<String, String>,
) -> Result<()> {
    let write = |path: &Path, s: &RunSummary| -> Result<()> {
        fs::write(path, sorted_json(s)? + "\n").map_err(LiveError::io(path))
    };
    for (path, mut analyzed) in analyses.per_style {
        analyzed.summary.jobs = jobs;
        let s = RunSummary {
            analyzed,
            levers,
            shutdown_order_ok: order_ok,
            evidence: None,
        };
        write(&path, &s)?;
    }
    let mut analyzed = analyses.whole;
    analyzed.summary.jobs = jobs;
    let s = RunSummary {
        analyzed,
        levers,
        shutdown_order_ok: order_ok,
        evidence: Some(evidence),
    };
    write(&dir.join("summary.json"), &s)?;
    let path = dir.join("provenance.json");
    fs::write(&path, serde_json::to_string_pretty(provenance)? + "\n")
        .map_err(LiveError::io(&path))?;
    let f = &s.analyzed.summary;
    log(format!(
        "{}: sent {} failed {} (refused {} reset {} 502 {} timeout {}), p99 window {} ms, jobs {jobs:?}, shutdown order ok: {}",
        f.scenario,
        f.requests.sent,
        f.failed,
        f.requests.refused,
        f.requests.reset,
        f.requests.http_502,
        f.requests.timeout,
        json!(f.latency_ms.window.p99),
        order_ok.map_or("not checked".to_string(), |ok| ok.to_string()),
    ));
    Ok(())
}

/// Analyzes a recorded run directory again (its records, ready series and rollout span), writing
/// per-style analyses and charts under `out`: what `fleetsim live` computed, reproducible
/// offline from what it saved. Returns the `(style, report)` pairs.
pub fn reanalyze(dir: &Path, out: &Path) -> Result<Vec<(String, AnalyzeReport)>> {
    let path = dir.join("summary.json");
    let text = fs::read_to_string(&path).map_err(|_| LiveError::RunDir {
        dir: dir.to_path_buf(),
        reason: "no summary.json".into(),
    })?;
    let summary: Value = serde_json::from_str(&text)?;
    let span: Option<RolloutSpan> =
        serde_json::from_value(summary["rollout_span_epoch_ns"].clone())?;
    let replicas = fs::read_to_string(dir.join("endpoints.csv"))
        .ok()
        .and_then(|t| {
            t.lines()
                .nth(1)
                .and_then(|l| l.rsplit(',').next().and_then(|d| d.parse().ok()))
        })
        .unwrap_or(0);
    let scenario = summary["scenario"].as_str().unwrap_or("live").to_string();
    fs::create_dir_all(out).map_err(LiveError::io(out))?;
    if dir.join("endpoints.csv").exists() && out != dir {
        fs::copy(dir.join("endpoints.csv"), out.join("endpoints.csv"))
            .map_err(LiveError::io(out.join("endpoints.csv")))?;
    }
    let mut reports = Vec::new();
    for style in ["keepalive", "new"] {
        let file = dir.join(format!("records-{style}.ndjson"));
        if file.exists() {
            let r = analyze_files(
                &[file],
                &out.join(style),
                span,
                replicas,
                &format!("{scenario}-{style}"),
                &BTreeMap::new(),
            )?;
            reports.push((style.to_string(), r));
        }
    }
    Ok(reports)
}

/// Runs the analyzer on `files` into `out`, cutting the window at the rollout span, and draws
/// the charts.
fn analyze_files(
    files: &[PathBuf],
    out: &Path,
    span: Option<RolloutSpan>,
    replicas: u32,
    scenario: &str,
    provenance: &BTreeMap<String, String>,
) -> Result<AnalyzeReport> {
    let merged = read_records(files)?;
    let load_start = merged.first_mark("load_start").unwrap_or(0);
    let load_start_epoch = merged.origin_epoch_ns + load_start;
    let mut plan = AnalyzePlan::new(files.to_vec());
    plan.out_dir = out.to_path_buf();
    plan.ready = out
        .ancestors()
        .find(|d| d.join("endpoints.csv").exists())
        .map(|d| d.join("endpoints.csv"));
    plan.desired = Some(replicas);
    plan.scenario = Some(scenario.to_string());
    if let Some(s) = span {
        // Whole microseconds after the load start.
        let from = |t: i64| Duration::from_micros(((t - load_start_epoch).max(0) / 1_000) as u64);
        plan.rollout_start = Some(from(s.start_epoch_ns));
        plan.rollout_end = Some(from(s.end_epoch_ns));
    }
    plan.provenance = provenance
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let report = loadgen::analyze(plan)?;
    // Charts drawn from the analysis structs: failures with ready endpoints, p99, reconnects.
    let a = &report.analysis;
    let window = a.summary.window_s;
    plots::error_timeline(
        &a.timeline,
        window,
        &format!("{scenario}: failed requests per second (live)"),
        out.join("errors.svg"),
    )?;
    plots::p99_timeline(
        &a.timeline,
        window,
        &format!("{scenario}: latency per second (live)"),
        out.join("p99.svg"),
    )?;
    plots::reconnect_curve_titled(
        &a.reconnects,
        window,
        &format!("{scenario}: new connections per 10 ms (live)"),
        out.join("reconnects.svg"),
    )?;
    Ok(report)
}

/// Follows a pod's log into `logs/POD.log` (retrying until the container has started).
fn follow(kube: &Kube, pod: &str, logs: &Path, children: &Arc<Children>) {
    let path = logs.join(format!("{pod}.log"));
    let (kube, pod) = (kube.clone(), pod.to_string());
    let children = children.clone();
    thread::spawn(move || {
        // The container may not have started yet: retry until kubectl can follow it.
        for _ in 0..120 {
            let Ok(mut child) = kube.follow_logs(&pod) else {
                return;
            };
            let Some(stdout) = child.stdout.take() else {
                return;
            };
            children.push(child);
            let Ok(mut file) = File::options().create(true).append(true).open(&path) else {
                return;
            };
            let mut lines = 0;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                lines += 1;
                let _ = writeln!(file, "{line}");
            }
            if lines > 0 {
                return;
            }
            thread::sleep(Duration::from_millis(500));
        }
    });
}

/// POST with a fresh connection; Ok when the answer is 2xx.
fn post_job(addr: SocketAddr, path_and_query: &str) -> io::Result<()> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "POST {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    let status = std::str::from_utf8(&head[9..12]).map_err(io::Error::other)?;
    if status.starts_with('2') {
        Ok(())
    } else {
        Err(io::Error::other(format!("status {status}")))
    }
}

/// Where a run came from: date, commit, command, overlay, versions, image digests, load.
fn provenance(
    kube: &Kube,
    pods: &[PodEvent],
    opts: &LiveOpts,
    name: &str,
) -> BTreeMap<String, String> {
    let cmd = |c: &str, args: &[&str]| {
        std::process::Command::new(c)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown".into())
    };
    let mut p = BTreeMap::new();
    p.insert("date_utc".into(), humantime_date());
    p.insert("commit".into(), cmd("git", &["rev-parse", "HEAD"]));
    p.insert(
        "commit_dirty".into(),
        (!cmd("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty()).to_string(),
    );
    p.insert(
        "command".into(),
        std::env::args().collect::<Vec<_>>().join(" "),
    );
    p.insert("overlay".into(), name.to_string());
    p.insert(
        "deployment".into(),
        format!("{}/{}", opts.namespace, opts.deployment),
    );
    p.insert(
        "target".into(),
        opts.url.clone().unwrap_or_else(|| {
            format!(
                "service {} {}",
                opts.service,
                opts.path.as_deref().unwrap_or(DEFAULT_PATH)
            )
        }),
    );
    p.insert("containerd".into(), cmd("containerd", &["--version"]));
    let version = kube.json(&["version"]).ok();
    p.insert(
        "kubernetes_server".into(),
        version
            .as_ref()
            .and_then(|v| v.pointer("/serverVersion/gitVersion"))
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string(),
    );
    let images: BTreeSet<String> = pods.iter().filter_map(|e| e.image_id.clone()).collect();
    p.insert(
        "image_ids".into(),
        images.into_iter().collect::<Vec<_>>().join(" "),
    );
    p.insert("rate_per_generator".into(), opts.rate.to_string());
    if opts.sse > 0 {
        p.insert(
            "sse_streams".into(),
            format!("{} on the keep-alive generator", opts.sse),
        );
    }
    if opts.job_rate > 0.0 {
        p.insert(
            "jobs".into(),
            format!(
                "{}/s, {:?} of work each, side effect at {} of the work",
                opts.job_rate, opts.job_work, opts.job_effect_at
            ),
        );
    }
    p.insert(
        "keepalive_clients".into(),
        format!(
            "{} ({} reconnect)",
            opts.clients,
            if opts.eager_reconnect {
                "eager"
            } else {
                "lazy"
            }
        ),
    );
    p.insert(
        "generator_priority".into(),
        match opts.generator_priority {
            0 => "normal policy".to_string(),
            n => format!("SCHED_FIFO {n}"),
        },
    );
    p.insert(
        "generator_spin".into(),
        format!("{:?}", generator_spin(opts)),
    );
    p.insert("duration".into(), format!("{:?}", opts.duration));
    p.insert("baseline".into(), format!("{:?}", opts.baseline));
    if let Ok(Some(r)) = shed_retry(opts) {
        p.insert(
            "shed_retries".into(),
            format!("{} (Retry-After up to {:?})", r.retries, r.max_wait),
        );
    }
    p
}

fn humantime_date() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    /// `--generator-spin auto` polls 2 ms before each send, or a quarter of the gap between
    /// sends when that is shorter; an explicit value is kept.
    #[test]
    fn generator_spin_auto_is_two_ms_or_a_quarter_of_the_gap() {
        let spin = |args: &[&str]| {
            let mut argv = vec!["live", "after"];
            argv.extend(args);
            generator_spin(&LiveOpts::parse_from(argv))
        };
        assert_eq!(spin(&[]), Duration::from_millis(2));
        assert_eq!(spin(&["--rate", "400"]), Duration::from_micros(625));
        assert_eq!(spin(&["--generator-spin", "0"]), Duration::ZERO);
        assert_eq!(
            spin(&["--rate", "400", "--generator-spin", "1ms"]),
            Duration::from_millis(1)
        );
    }

    use super::*;

    #[test]
    fn ledger_credentials_default_to_the_deployed_database_and_take_flags() {
        let o = LiveOpts::parse_from(["live", "after"]);
        assert_eq!(o.ledger_target, "deploy/fleetsim-postgres");
        assert_eq!(o.ledger_user, "fleetsim");
        assert_eq!(o.ledger_database, "fleetsim");
        assert_eq!(o.ledger_password, "fleetsim-test-only");
        let o = LiveOpts::parse_from(["live", "after", "--ledger-password", "s3cret"]);
        assert_eq!(
            ledger(
                &Kube {
                    kubectl: "k".into(),
                    kubeconfig: None,
                    namespace: "n".into()
                },
                &o
            )
            .password,
            "s3cret"
        );
    }

    #[test]
    fn any_deployment_can_be_named_without_an_overlay() {
        let o = LiveOpts::parse_from([
            "live",
            "--namespace",
            "fleetsim-httpbin",
            "--deployment",
            "httpbin",
            "--service",
            "httpbin",
            "--path",
            "/delay/0.1",
            "--job-rate",
            "0",
        ]);
        assert_eq!(o.overlay, None);
        assert_eq!(o.path.as_deref(), Some("/delay/0.1"));
        // --path names a path on the Service; --url replaces the whole target: not both.
        let both = LiveOpts::try_parse_from(["live", "--path", "/a", "--url", "http://10.0.0.1/a"]);
        assert!(both.unwrap_err().to_string().contains("--url"));
    }

    #[test]
    fn a_load_url_must_be_plain_http_to_a_numeric_ipv4_address() {
        for ok in [
            "http://10.96.0.7/delay/0.1",
            "http://10.96.0.7:8080/",
            "http://10.96.0.7",
        ] {
            assert!(parse_target(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("https://10.96.0.7/", "only http://"),
            ("http://httpbin.example/", "numeric IPv4"),
            ("http://10.96.0.7:99999/", "port"),
            ("10.96.0.7/", "only http://"),
        ] {
            let e = parse_target(bad).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains("url"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_generators_get_the_runs_settings_as_typed_plans() {
        let o = LiveOpts::parse_from(["live", "after", "--rate", "25", "--clients", "8"]);
        let records = [PathBuf::from("k.ndjson"), PathBuf::from("n.ndjson")];
        let [k, n] = load_plans(&o, "http://10.0.0.1:80/work?ms=50", &records, "after").unwrap();
        assert_eq!((k.mode, n.mode), (Mode::Keepalive, Mode::New));
        assert_eq!(
            (k.out.as_path(), n.out.as_path()),
            (records[0].as_path(), records[1].as_path())
        );
        for p in [&k, &n] {
            assert_eq!(p.rate, 25.0);
            assert_eq!(p.clients, 8);
            assert_eq!(p.duration, Duration::from_secs(90));
            assert_eq!(p.timeout, Duration::from_secs(5));
            assert_eq!(p.label, "after");
            assert!(!p.signals);
            assert_eq!(p.sse.streams, 0);
            assert_eq!(p.shed_retry, None, "retries are off by default");
        }
        // Streams ride on the keep-alive generator only.
        let o = LiveOpts::parse_from(["live", "after", "--sse", "200"]);
        let [k, n] = load_plans(&o, "http://10.0.0.1:80/work?ms=50", &records, "after").unwrap();
        assert_eq!((k.sse.streams, n.sse.streams), (200, 0));
        // Retries of shed requests go to both generators.
        let o = LiveOpts::parse_from(["live", "after", "--shed-retries", "2"]);
        let [k, n] = load_plans(&o, "http://10.0.0.1:80/work?ms=50", &records, "after").unwrap();
        let want = Some(ShedRetryPlan {
            retries: 2,
            max_wait: Duration::from_secs(30),
        });
        assert_eq!((k.shed_retry, n.shed_retry), (want, want));
        // A bad value is refused by its flag's name, before anything runs.
        let o = LiveOpts::parse_from(["live", "after", "--shed-retry-max-wait", "5s"]);
        let e = load_plans(&o, "http://10.0.0.1:80/work?ms=50", &records, "after")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--shed-retry-max-wait") && e.contains("--shed-retries"),
            "{e}"
        );
        let e = run(o).unwrap_err().to_string();
        assert!(e.contains("--shed-retry-max-wait"), "{e}");
    }
}
