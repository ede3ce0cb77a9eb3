//! `fleetsim live OVERLAY`: roll the real service on a real cluster under open-loop load and write
//! the live summary (the same shape the simulator writes), with the evidence behind it.
//!
//! One run: apply the overlay and wait for the fleet to settle; empty the job ledger; watch pods
//! and EndpointSlices (timestamps on the wall clock, which the generator's record files also
//! carry); follow every pod's logs; start two open-loop generators through the Service's
//! ClusterIP from the node (one keep-alive, one new connection per request) and a steady job
//! publisher; after the baseline, `kubectl rollout restart`; find the rollout's span from the pod
//! watch; let the load finish; wait for the queue to settle; read the ledger; analyze.
//!
//! Output per run (`OUT/OVERLAY/run-K/`): `summary.json`, `records-keepalive.ndjson`,
//! `records-new.ndjson`, `timeline.csv`, `reconnects.csv`, `endpoints.csv`, `pods.ndjson`,
//! `slices.ndjson`, `logs/POD.log`, `shutdown.md`, `deregistration.csv`, `provenance.json`.

pub mod evidence;
pub mod kube;
pub mod ledger;
pub mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use serde_json::{Value, json};

use crate::duration::parse_duration;
use kube::{Kube, for_each_json};
use ledger::Ledger;
use state::{PodEvent, RolloutSpan, SliceEvent};

/// Options of `fleetsim live`.
#[derive(Parser, Clone, Debug)]
#[command(
    name = "live",
    about = "Roll the real service on a real cluster under open-loop load and write the live summary"
)]
pub struct LiveOpts {
    /// Overlay: a name under --overlays (before, after, pid1, readiness, drain, requeue, surge) or a
    /// kustomize directory.
    pub overlay: String,
    /// Directory holding the overlays.
    #[arg(long, default_value = "deploy/k8s/overlays")]
    pub overlays: PathBuf,
    /// Requests per second of EACH of the two generators (keep-alive and new-connection).
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Length of the load (baseline + rollout + tail must fit in it).
    #[arg(long, value_parser = parse_duration, default_value = "90s")]
    pub duration: Duration,
    /// Steady load before the rollout is triggered.
    #[arg(long, value_parser = parse_duration, default_value = "20s")]
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
    #[arg(long, default_value = "fleetsim")]
    pub namespace: String,
    #[arg(long, default_value = "fleetsim-service")]
    pub deployment: String,
    #[arg(long, default_value = "fleetsim-service")]
    pub service: String,
    /// Path and query of the slow endpoint.
    #[arg(long, default_value = "/work?ms=50")]
    pub path: String,
    /// Keep-alive clients of the keep-alive generator.
    #[arg(long, default_value_t = 16)]
    pub clients: u64,
    /// Client deadline per request.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub timeout: Duration,
    /// Jobs published per second (POST /jobs), 0 for none.
    #[arg(long, default_value_t = 2.0)]
    pub job_rate: f64,
    /// Work time of each job.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub job_work: Duration,
    /// Longest wait for the queue to drain after the load.
    #[arg(long, value_parser = parse_duration, default_value = "90s")]
    pub settle: Duration,
    /// Longest wait for the fleet to be ready before a run.
    #[arg(long, value_parser = parse_duration, default_value = "180s")]
    pub ready_timeout: Duration,
    /// Do not apply the overlay (it is already applied).
    #[arg(long)]
    pub no_apply: bool,
}

fn epoch_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn log(msg: impl AsRef<str>) {
    eprintln!("[live {}] {}", humantime_now(), msg.as_ref());
}

fn humantime_now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// The levers an overlay switched on, read back from what the cluster runs.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Levers {
    pub pid1: bool,
    pub readiness: bool,
    pub drain: bool,
    pub requeue: bool,
    pub surge: bool,
}

/// Runs `--repeat` live runs of one overlay; returns the run directories.
pub fn run(opts: LiveOpts) -> Result<Vec<PathBuf>> {
    if opts.baseline + Duration::from_secs(15) > opts.duration {
        bail!(
            "--duration {:?} leaves no room for the rollout after --baseline {:?}",
            opts.duration,
            opts.baseline
        );
    }
    if opts.rate.is_nan() || opts.rate <= 0.0 {
        bail!("--rate must be above 0");
    }
    let kube = Kube {
        kubectl: opts.kubectl.clone(),
        kubeconfig: opts.kubeconfig.clone(),
        namespace: opts.namespace.clone(),
    };
    let overlay_dir = if Path::new(&opts.overlay).is_dir() {
        PathBuf::from(&opts.overlay)
    } else {
        opts.overlays.join(&opts.overlay)
    };
    let name = overlay_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| opts.overlay.clone());
    if !opts.no_apply {
        if !overlay_dir.is_dir() {
            bail!(
                "overlay {:?}: no directory {}",
                opts.overlay,
                overlay_dir.display()
            );
        }
        log(format!("applying {}", overlay_dir.display()));
        let dir = overlay_dir.to_string_lossy().into_owned();
        // The namespace is part of the overlay: apply without forcing ours on it.
        let mut c = kube.command();
        c.args(["apply", "-k", &dir]);
        let out = c.output().context("kubectl apply")?;
        if !out.status.success() {
            bail!(
                "kubectl apply -k {dir} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
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
            .ok_or_else(|| anyhow!("deployment {} has no matchLabels selector", opts.deployment))?;
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
            bail!(
                "the fleet did not settle within {:?}: {} pods for {replicas} replicas, templates {templates:?} ({})",
                opts.ready_timeout,
                items.len(),
                status.err().map(|e| e.to_string()).unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_secs(1));
    }
}

fn read_levers(kube: &Kube, opts: &LiveOpts) -> Result<Levers> {
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
    let on = |k: &str| env.get(k).is_some_and(|v| v == "true");
    let surge = spec
        .pointer("/strategy/rollingUpdate/maxSurge")
        .is_some_and(|v| v != &json!(0) && v != &json!("0%"));
    Ok(Levers {
        pid1: !image.ends_with(":shell"),
        readiness: on("FLEETSIM_READINESS_LEVER"),
        drain: on("FLEETSIM_DRAIN_LEVER"),
        requeue: on("FLEETSIM_REQUEUE_LEVER"),
        surge: surge && on("FLEETSIM_JITTER_LEVER"),
    })
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

fn run_once(opts: &LiveOpts, kube: &Kube, name: &str, dir: &Path) -> Result<()> {
    fs::create_dir_all(dir.join("logs")).with_context(|| format!("create {}", dir.display()))?;
    let (replicas, old_templates, selector) = wait_settled(kube, opts)?;
    let levers = read_levers(kube, opts)?;
    log(format!(
        "fleet settled: {replicas} replicas, template {old_templates:?}, levers {levers:?}"
    ));

    let svc = kube.json(&["get", "service", &opts.service])?;
    let ip = svc
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("service {} has no clusterIP", opts.service))?;
    let port = svc
        .pointer("/spec/ports/0/port")
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow!("service {} has no port", opts.service))?;
    let base = format!("http://{ip}:{port}");

    let ledger = Ledger {
        kube: kube.clone(),
        target: "deploy/fleetsim-postgres".into(),
        user: "fleetsim".into(),
        database: "fleetsim".into(),
        password: "fleetsim-test-only".into(),
    };
    if opts.job_rate > 0.0 {
        ledger
            .reset()
            .context("empty the job ledger before the run")?;
    }

    // Watches and log followers.
    let children = Arc::new(Children::default());
    let pods: Arc<Mutex<Vec<PodEvent>>> = Arc::default();
    let slices: Arc<Mutex<Vec<SliceEvent>>> = Arc::default();
    let mut watchers = Vec::new();
    {
        let mut child = kube.watch("pods", &selector)?;
        let stdout = child.stdout.take().expect("piped");
        children.push(child);
        let (pods, children, kube, logs) = (
            pods.clone(),
            children.clone(),
            kube.clone(),
            dir.join("logs"),
        );
        let mut raw = File::create(dir.join("pods.ndjson"))?;
        watchers.push(thread::spawn(move || {
            let mut followed = BTreeSet::new();
            for_each_json(stdout, |v| {
                let t = epoch_ns();
                if let Some(e) = PodEvent::from_watch(t, &v) {
                    let _ = writeln!(raw, "{}", serde_json::to_string(&e).unwrap_or_default());
                    if e.kind != "DELETED" && followed.insert(e.name.clone()) {
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
        let mut raw = File::create(dir.join("slices.ndjson"))?;
        watchers.push(thread::spawn(move || {
            for_each_json(stdout, |v| {
                if let Some(e) = SliceEvent::from_watch(epoch_ns(), &v) {
                    let _ = writeln!(raw, "{}", serde_json::to_string(&e).unwrap_or_default());
                    slices.lock().expect("slices lock").push(e);
                }
            });
        }));
    }

    // Load: two open-loop generators, and the job publisher.
    let records = [
        dir.join("records-keepalive.ndjson"),
        dir.join("records-new.ndjson"),
    ];
    let target = format!("{base}{}", opts.path);
    let mut generators = Vec::new();
    for (mode, out) in ["keepalive", "new"].iter().zip(&records) {
        let args = vec![
            "load".to_string(),
            "--target".into(),
            target.clone(),
            "--rate".into(),
            opts.rate.to_string(),
            "--duration".into(),
            format!("{}ms", opts.duration.as_millis()),
            "--mode".into(),
            mode.to_string(),
            "--clients".into(),
            opts.clients.to_string(),
            "--timeout".into(),
            format!("{}ms", opts.timeout.as_millis()),
            "--out".into(),
            out.display().to_string(),
            "--label".into(),
            name.to_string(),
            "--no-signals".into(),
        ];
        let load_opts =
            crate::load::LoadOpts::try_parse_from(&args).context("generator options")?;
        generators.push(thread::spawn(move || crate::load::run(load_opts)));
    }
    let stop_jobs = Arc::new(AtomicBool::new(false));
    let jobs_sent = Arc::new(AtomicU64::new(0));
    let publisher = (opts.job_rate > 0.0).then(|| {
        let addr: SocketAddr = format!("{ip}:{port}").parse().expect("ip:port");
        let (stop, sent) = (stop_jobs.clone(), jobs_sent.clone());
        let (gap, work_ms, run_id) = (
            Duration::from_secs_f64(1.0 / opts.job_rate),
            opts.job_work.as_millis(),
            epoch_ns(),
        );
        thread::spawn(move || {
            let start = Instant::now();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let due = start + gap * i as u32;
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    thread::sleep(wait);
                }
                if post_job(addr, &format!("/jobs?ms={work_ms}&key=live-{run_id:x}-{i}")).is_ok() {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        })
    });

    thread::sleep(opts.baseline);
    let trigger = epoch_ns();
    log("baseline done: kubectl rollout restart");
    kube.run(&[
        "rollout",
        "restart",
        &format!("deployment/{}", opts.deployment),
    ])?;
    let deadline = Instant::now() + opts.duration.saturating_sub(opts.baseline);
    let span: Option<RolloutSpan> = loop {
        let span = state::rollout_span(
            &pods.lock().expect("pods lock"),
            &old_templates,
            trigger,
            replicas,
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
    let mut reports = Vec::new();
    for g in generators {
        reports.push(
            g.join()
                .map_err(|_| anyhow!("a generator thread panicked"))??,
        );
    }
    stop_jobs.store(true, Ordering::Relaxed);
    if let Some(p) = publisher {
        let _ = p.join();
    }
    log(format!(
        "load done ({} jobs published); letting the last pods exit",
        jobs_sent.load(Ordering::Relaxed)
    ));
    // Let old pods finish exiting (their last log lines and exit codes) before closing the watches.
    let grace_end = Instant::now() + Duration::from_secs(40);
    while Instant::now() < grace_end {
        let evs = pods.lock().expect("pods lock");
        let mut alive: BTreeMap<&str, bool> = BTreeMap::new();
        for e in evs.iter() {
            alive.insert(&e.name, e.kind != "DELETED");
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
    children.kill_all();
    for w in watchers {
        let _ = w.join();
    }

    let jobs = if opts.job_rate > 0.0 {
        let settle_end = Instant::now() + opts.settle;
        while ledger.unfinished()? > 0 && Instant::now() < settle_end {
            thread::sleep(Duration::from_secs(1));
        }
        ledger.counts()?
    } else {
        measure::JobCounts::default()
    };

    let pods = pods.lock().expect("pods lock").clone();
    let slices = slices.lock().expect("slices lock").clone();
    let ready = state::ready_series(&slices);
    let mut csv = String::from("epoch_ns,ready,desired\n");
    for (t, r) in &ready {
        csv += &format!("{t},{r},{replicas}\n");
    }
    fs::write(dir.join("endpoints.csv"), csv)?;

    // Analysis, with the rollout span from the pod watch: both generators together, and each
    // connection style apart (the simulator predicts one style per scenario run).
    let provenance = provenance(kube, &pods, opts, name)?;
    let mut summary = analyze_files(&records, dir, span, replicas, name, &provenance)?.summary;
    let mut per_style = Vec::new();
    for (style, file) in ["keepalive", "new"].iter().zip(&records) {
        let s = analyze_files(
            std::slice::from_ref(file),
            &dir.join(style),
            span,
            replicas,
            &format!("{name}-{style}"),
            &provenance,
        )?
        .summary;
        per_style.push((dir.join(style).join("summary.json"), s));
    }
    let merged = crate::analyze::read_records(&records)?;

    // Evidence: shutdown order per old pod, deregistration delay per old pod.
    let mut deleted: BTreeMap<String, i64> = BTreeMap::new();
    let mut kubelet_exit: BTreeMap<String, i64> = BTreeMap::new();
    for e in &pods {
        if old_templates.contains(&e.template) && (e.terminating || e.kind == "DELETED") {
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
    fs::write(dir.join("deregistration.csv"), csv)?;
    let required = evidence::required_steps(levers.pid1, levers.readiness, levers.drain);
    let mut shutdowns = Vec::new();
    for pod in deleted.keys() {
        let text =
            fs::read_to_string(dir.join("logs").join(format!("{pod}.log"))).unwrap_or_default();
        let mut s = evidence::parse_pod_log(pod, &text);
        s.kubelet_exit = kubelet_exit.get(pod).copied();
        evidence::check(&mut s, &required);
        shutdowns.push(s);
    }
    let order_ok = shutdowns
        .iter()
        .all(|s| s.violations.is_empty() && s.missing.is_empty());
    fs::write(
        dir.join("shutdown.md"),
        format!(
            "# Shutdown evidence: {name}\n\nLevers: {levers:?}. Required steps: {}.\n\n{}",
            required
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            evidence::markdown(&shutdowns)
        ),
    )?;

    // The summaries get the ledger's job counts and the evidence verdicts.
    for (path, mut s) in per_style {
        if let Some(obj) = s.as_object_mut() {
            obj.insert("jobs".into(), serde_json::to_value(jobs)?);
            obj.insert("levers".into(), serde_json::to_value(levers)?);
            obj.insert("shutdown_order_ok".into(), json!(order_ok));
        }
        fs::write(path, serde_json::to_string_pretty(&s)? + "\n")?;
    }
    let obj = summary
        .as_object_mut()
        .ok_or_else(|| anyhow!("summary is not an object"))?;
    obj.insert("jobs".into(), serde_json::to_value(jobs)?);
    obj.insert("levers".into(), serde_json::to_value(levers)?);
    obj.insert("shutdown_order_ok".into(), json!(order_ok));
    obj.insert("shutdown".into(), serde_json::to_value(&shutdowns)?);
    obj.insert("deregistration".into(), serde_json::to_value(&dereg)?);
    obj.insert("rollout_span_epoch_ns".into(), serde_json::to_value(span)?);
    fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    fs::write(
        dir.join("provenance.json"),
        serde_json::to_string_pretty(&provenance)? + "\n",
    )?;
    log(format!(
        "{name}: sent {} failed {} (refused {} reset {} 502 {} timeout {}), p99 window {} ms, jobs {jobs:?}, shutdown order ok: {order_ok}",
        summary.pointer("/requests/sent").unwrap_or(&json!(0)),
        summary.pointer("/failed").unwrap_or(&json!(0)),
        summary.pointer("/requests/refused").unwrap_or(&json!(0)),
        summary.pointer("/requests/reset").unwrap_or(&json!(0)),
        summary.pointer("/requests/http_502").unwrap_or(&json!(0)),
        summary.pointer("/requests/timeout").unwrap_or(&json!(0)),
        summary
            .pointer("/latency_ms/window/p99")
            .unwrap_or(&json!(null)),
    ));
    Ok(())
}

/// Analyzes a recorded run directory again (its records, ready series and rollout span), writing
/// per-style analyses and charts under `out`: what `fleetsim live` computed, reproducible
/// offline from what it saved. Returns the `(style, report)` pairs.
pub fn reanalyze(dir: &Path, out: &Path) -> Result<Vec<(String, crate::analyze::AnalyzeReport)>> {
    let summary: Value = serde_json::from_str(
        &fs::read_to_string(dir.join("summary.json"))
            .with_context(|| format!("{}: no summary.json", dir.display()))?,
    )?;
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
    fs::create_dir_all(out)?;
    if dir.join("endpoints.csv").exists() && out != dir {
        fs::copy(dir.join("endpoints.csv"), out.join("endpoints.csv"))?;
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

/// Runs the analyzer on `files` into `out`, cutting the window at the rollout span.
fn analyze_files(
    files: &[PathBuf],
    out: &Path,
    span: Option<RolloutSpan>,
    replicas: u32,
    scenario: &str,
    provenance: &BTreeMap<String, String>,
) -> Result<crate::analyze::AnalyzeReport> {
    let merged = crate::analyze::read_records(files)?;
    let load_start = merged
        .marks
        .iter()
        .filter(|(_, n)| n == "load_start")
        .map(|(t, _)| *t)
        .min()
        .unwrap_or(0);
    let load_start_epoch = merged.origin_epoch_ns + load_start;
    let mut args: Vec<String> = vec!["analyze".into()];
    args.extend(files.iter().map(|r| r.display().to_string()));
    let ready = out
        .ancestors()
        .find(|d| d.join("endpoints.csv").exists())
        .map(|d| d.join("endpoints.csv"));
    args.extend(["--out-dir".into(), out.display().to_string()]);
    if let Some(ready) = ready {
        args.extend(["--ready".into(), ready.display().to_string()]);
    }
    args.extend([
        "--desired".into(),
        replicas.to_string(),
        "--scenario".into(),
        scenario.to_string(),
    ]);
    if let Some(s) = span {
        let from = |t: i64| format!("{}us", ((t - load_start_epoch).max(0)) / 1_000);
        args.extend([
            "--rollout-start".into(),
            from(s.start_epoch_ns),
            "--rollout-end".into(),
            from(s.end_epoch_ns),
        ]);
    }
    for (k, v) in provenance {
        args.extend(["--provenance".into(), format!("{k}={v}")]);
    }
    let opts = crate::analyze::AnalyzeOpts::try_parse_from(&args).context("analyze options")?;
    let report = crate::analyze::run(opts)?;
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
fn post_job(addr: SocketAddr, path_and_query: &str) -> Result<()> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "POST {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    let status = std::str::from_utf8(&head[9..12])?;
    if status.starts_with('2') {
        Ok(())
    } else {
        bail!("status {status}")
    }
}

fn provenance(
    kube: &Kube,
    pods: &[PodEvent],
    opts: &LiveOpts,
    name: &str,
) -> Result<BTreeMap<String, String>> {
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
    p.insert("duration".into(), format!("{:?}", opts.duration));
    p.insert("baseline".into(), format!("{:?}", opts.baseline));
    Ok(p)
}

fn humantime_date() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}
