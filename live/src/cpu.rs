//! Node CPU evidence of a live run (`cpu.ndjson`): the cores of the nodes that run the fleet and
//! the fleet's pods' cumulative CPU, sampled from the kubelet through the API server while the
//! load runs, and read back (checked) for `fleetsim calibrate`.
//!
//! The route is the one a user of a remote cluster has, nothing on the node's disk:
//! `kubectl get node NODE` (`status.capacity.cpu`, `status.allocatable.cpu`) once per node, and
//! `kubectl get --raw /api/v1/nodes/NODE/proxy/stats/summary` every interval for every node that
//! runs a pod of the fleet (the kubelet's summary: per pod `cpu.usageCoreNanoSeconds`, the pod
//! cgroup's cumulative CPU, and `cpu.time`, when the kubelet collected it, to the second).
//!
//! The file holds one JSON object per line; `kind` says which, times are Unix epoch ns on the
//! driver's clock unless named otherwise:
//!
//! | kind | fields |
//! |---|---|
//! | `node` | `epoch_ns`, `node`, `capacity_cpu` and `allocatable_cpu` (the API's quantities, e.g. `"2"` or `"1500m"`) |
//! | `pod` | `epoch_ns` (the summary's answer arrived), `sent_epoch_ns` (its request left), `node`, `pod`, `stat_time` (the kubelet's `cpu.time`, RFC 3339, the node's clock), `usage_core_ns` (the pod's cumulative CPU), `containers` (each container's cumulative CPU, ns) |
//! | `node_cpu` | `epoch_ns`, `sent_epoch_ns`, `node`, `stat_time`, `usage_core_ns` (the whole node's cumulative CPU) |
//! | `unreachable` | `epoch_ns`, `node`, `request` (what was asked), `error` (what kubectl said) |
//! | `phase` | `epoch_ns`, `phase`: `baseline_start` (the generators start), `baseline_end` (`kubectl rollout restart`), `load_end` |
//!
//! Every poll writes one `pod` line per pod of the fleet on the node, whether or not the kubelet
//! refreshed its figure since the last poll (it does every 10-20 s), so a reader can bracket
//! when each figure was collected: after the previous poll that showed the old one was sent,
//! before the poll that first showed it answered, and within the second `stat_time` names.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{LiveError, Result};
use crate::kube::Kube;
use crate::state::PodEvent;

/// The file's name in a run directory.
pub(crate) const FILE: &str = "cpu.ndjson";

/// One line of `cpu.ndjson`, as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum CpuLine {
    /// A node's CPU as the API reports it.
    Node {
        /// When it was read.
        epoch_ns: i64,
        /// The node.
        node: String,
        /// `status.capacity.cpu`.
        capacity_cpu: String,
        /// `status.allocatable.cpu`.
        allocatable_cpu: Option<String>,
    },
    /// One pod's cumulative CPU in one poll of its node's summary.
    Pod {
        /// The summary's answer arrived.
        epoch_ns: i64,
        /// Its request left.
        sent_epoch_ns: i64,
        /// The pod's node.
        node: String,
        /// The pod.
        pod: String,
        /// The kubelet's `cpu.time` of the pod (RFC 3339, whole seconds).
        stat_time: String,
        /// The pod's `cpu.usageCoreNanoSeconds`.
        usage_core_ns: u64,
        /// Each container's `cpu.usageCoreNanoSeconds`.
        #[serde(default)]
        containers: BTreeMap<String, u64>,
    },
    /// The whole node's cumulative CPU in one poll.
    NodeCpu {
        /// The summary's answer arrived.
        epoch_ns: i64,
        /// Its request left.
        sent_epoch_ns: i64,
        /// The node.
        node: String,
        /// The kubelet's `cpu.time` of the node.
        stat_time: String,
        /// The node's `cpu.usageCoreNanoSeconds`.
        usage_core_ns: u64,
    },
    /// A request of the sampler failed.
    Unreachable {
        /// When it failed.
        epoch_ns: i64,
        /// The node it concerned.
        node: String,
        /// What was asked (`get node NODE`, `get --raw PATH`).
        request: String,
        /// What kubectl said.
        error: String,
    },
    /// A phase of the run began.
    Phase {
        /// When.
        epoch_ns: i64,
        /// `baseline_start`, `baseline_end` or `load_end`.
        phase: String,
    },
}

/// Cores of one node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct NodeCores {
    /// `status.capacity.cpu`.
    pub capacity: f64,
    /// `status.allocatable.cpu`, if the node reported it.
    pub allocatable: Option<f64>,
}

/// One pod's figure in one poll, checked.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PodSample {
    /// The answer arrived.
    pub epoch_ns: i64,
    /// The request left.
    pub sent_epoch_ns: i64,
    /// The pod's node.
    pub node: String,
    /// The pod.
    pub pod: String,
    /// `stat_time` as Unix epoch ns (the start of its second).
    pub stat_epoch_ns: i64,
    /// Cumulative CPU, ns.
    pub usage_core_ns: u64,
}

/// `cpu.ndjson`, read and checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct CpuFile {
    /// Each node's cores.
    pub nodes: BTreeMap<String, NodeCores>,
    /// Every pod figure, in file order.
    pub pods: Vec<PodSample>,
    /// `(request, error)` of every failed request, in file order.
    pub unreachable: Vec<(String, String)>,
    /// The first time each phase began.
    pub phases: BTreeMap<String, i64>,
}

/// A CPU quantity of the Kubernetes API (`"2"`, `"1.5"`, `"1500m"`, `"250000000n"`) in cores.
pub(crate) fn parse_cores(q: &str) -> Option<f64> {
    // Divided rather than multiplied by the suffix's power: 1900m is 1.9, not 1.9000000000000001.
    let (num, per, times) = match q.as_bytes().last()? {
        b'm' => (&q[..q.len() - 1], 1e3, 1.0),
        b'u' => (&q[..q.len() - 1], 1e6, 1.0),
        b'n' => (&q[..q.len() - 1], 1e9, 1.0),
        b'k' => (&q[..q.len() - 1], 1.0, 1e3),
        _ => (q, 1.0, 1.0),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    num.parse::<f64>()
        .ok()
        .map(|x| x / per * times)
        .filter(|x| x.is_finite())
}

/// An RFC 3339 time as Unix epoch ns.
fn parse_time(t: &str) -> Option<i64> {
    humantime::parse_rfc3339(t)
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_nanos() as i64)
}

/// Reads and checks `cpu.ndjson` text; `path` only names the file in errors, which also give the
/// line number and the field.
pub(crate) fn parse(path: &Path, text: &str) -> Result<CpuFile> {
    let bad = |n: usize, reason: String| LiveError::RunDir {
        dir: path.to_path_buf(),
        reason: format!("line {n}: {reason}"),
    };
    let mut f = CpuFile::default();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let l: CpuLine = serde_json::from_str(line).map_err(|e| bad(n, e.to_string()))?;
        match l {
            CpuLine::Node {
                node,
                capacity_cpu,
                allocatable_cpu,
                ..
            } => {
                let capacity =
                    parse_cores(&capacity_cpu)
                        .filter(|c| *c > 0.0)
                        .ok_or_else(|| {
                            bad(
                                n,
                                format!(
                                    "capacity_cpu {capacity_cpu:?} is not a CPU quantity above 0"
                                ),
                            )
                        })?;
                let allocatable = match allocatable_cpu {
                    None => None,
                    Some(a) => Some(parse_cores(&a).ok_or_else(|| {
                        bad(n, format!("allocatable_cpu {a:?} is not a CPU quantity"))
                    })?),
                };
                f.nodes.insert(
                    node,
                    NodeCores {
                        capacity,
                        allocatable,
                    },
                );
            }
            CpuLine::Pod {
                epoch_ns,
                sent_epoch_ns,
                node,
                pod,
                stat_time,
                usage_core_ns,
                ..
            } => {
                let stat_epoch_ns = parse_time(&stat_time).ok_or_else(|| {
                    bad(
                        n,
                        format!("stat_time {stat_time:?} is not an RFC 3339 time"),
                    )
                })?;
                if sent_epoch_ns > epoch_ns {
                    return Err(bad(
                        n,
                        format!("sent_epoch_ns {sent_epoch_ns} is after epoch_ns {epoch_ns}"),
                    ));
                }
                f.pods.push(PodSample {
                    epoch_ns,
                    sent_epoch_ns,
                    node,
                    pod,
                    stat_epoch_ns,
                    usage_core_ns,
                });
            }
            CpuLine::NodeCpu { stat_time, .. } => {
                parse_time(&stat_time).ok_or_else(|| {
                    bad(
                        n,
                        format!("stat_time {stat_time:?} is not an RFC 3339 time"),
                    )
                })?;
            }
            CpuLine::Unreachable { request, error, .. } => f.unreachable.push((request, error)),
            CpuLine::Phase { epoch_ns, phase } => {
                if !["baseline_start", "baseline_end", "load_end"].contains(&phase.as_str()) {
                    return Err(bad(
                        n,
                        format!("phase {phase:?} is not baseline_start, baseline_end or load_end"),
                    ));
                }
                f.phases.entry(phase).or_insert(epoch_ns);
            }
        }
    }
    Ok(f)
}

/// Reads `DIR/cpu.ndjson`; `None` when the run has none (runs from before the sampler).
pub(crate) fn read(dir: &Path) -> Result<Option<CpuFile>> {
    let path = dir.join(FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(&path).map_err(LiveError::io(&path))?;
    parse(&path, &text).map(Some)
}

/// Unix epoch ns now.
fn epoch_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// What the sampler did.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tally {
    /// Summaries read.
    pub polls: u64,
    /// `pod` lines written.
    pub pod_samples: u64,
    /// Nodes whose cores were read.
    pub nodes: BTreeSet<String>,
    /// Failed requests.
    pub failures: u64,
    /// The first failure, said in words.
    pub first_failure: Option<String>,
}

impl Tally {
    /// One line for the run's log and provenance.
    pub(crate) fn describe(&self) -> String {
        match &self.first_failure {
            Some(e) if self.pod_samples == 0 => format!(
                "unreachable: the kubelet's stats could not be read through the API server ({} failed requests; the first: {e}); cpu.ndjson has no pod CPU, so `fleetsim calibrate` leaves [nodes] out",
                self.failures
            ),
            _ => format!(
                "{} polls, {} pod samples, nodes {:?}{}",
                self.polls,
                self.pod_samples,
                self.nodes,
                match &self.first_failure {
                    Some(e) => format!(", {} failed requests (the first: {e})", self.failures),
                    None => String::new(),
                }
            ),
        }
    }
}

/// Control of the sampler's thread.
#[derive(Default)]
struct Control {
    stop: bool,
    poll_now: bool,
}

/// The running sampler: polls every interval until stopped; a phase mark polls at once.
pub(crate) struct Sampler {
    control: Arc<(Mutex<Control>, Condvar)>,
    out: Arc<Mutex<File>>,
    thread: Option<JoinHandle<Tally>>,
}

/// Writes one line (a failed write loses that line only: the run goes on).
fn write_line(out: &Mutex<File>, line: &CpuLine) {
    let text = serde_json::to_string(line).unwrap_or_default();
    let _ = writeln!(out.lock().expect("cpu.ndjson lock"), "{text}");
}

impl Sampler {
    /// Creates `DIR/cpu.ndjson` and starts polling the nodes of the pods `pods` names (the pod
    /// watch's events), every `interval`.
    pub(crate) fn start(
        kube: &Kube,
        dir: &Path,
        pods: Arc<Mutex<Vec<PodEvent>>>,
        interval: Duration,
    ) -> Result<Sampler> {
        let path: PathBuf = dir.join(FILE);
        let out = Arc::new(Mutex::new(
            File::create(&path).map_err(LiveError::io(&path))?,
        ));
        let control: Arc<(Mutex<Control>, Condvar)> = Arc::default();
        let thread = {
            let (kube, out, control) = (kube.clone(), out.clone(), control.clone());
            thread::spawn(move || sample(&kube, &out, &control, &pods, interval))
        };
        Ok(Sampler {
            control,
            out,
            thread: Some(thread),
        })
    }

    /// Writes a `phase` line and polls at once.
    pub(crate) fn phase(&self, phase: &str) {
        write_line(
            &self.out,
            &CpuLine::Phase {
                epoch_ns: epoch_ns(),
                phase: phase.to_string(),
            },
        );
        let (m, cv) = &*self.control;
        m.lock().expect("sampler control").poll_now = true;
        cv.notify_all();
    }

    /// Stops polling; returns what the sampler did.
    pub(crate) fn stop(mut self) -> Tally {
        self.halt()
    }

    /// Tells the thread to stop and waits for it.
    fn halt(&mut self) -> Tally {
        let (m, cv) = &*self.control;
        m.lock().expect("sampler control").stop = true;
        cv.notify_all();
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Sampler {
    /// A run that fails midway stops its sampler too.
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.halt();
        }
    }
}

/// The sampler's loop.
fn sample(
    kube: &Kube,
    out: &Mutex<File>,
    control: &(Mutex<Control>, Condvar),
    pods: &Mutex<Vec<PodEvent>>,
    interval: Duration,
) -> Tally {
    let mut tally = Tally::default();
    let mut next = Instant::now();
    loop {
        {
            let (m, cv) = control;
            let mut c = m.lock().expect("sampler control");
            loop {
                if c.stop {
                    return tally;
                }
                if c.poll_now {
                    c.poll_now = false;
                    break;
                }
                let now = Instant::now();
                if now >= next {
                    break;
                }
                c = cv.wait_timeout(c, next - now).expect("sampler control").0;
            }
        }
        next = Instant::now() + interval;
        poll(kube, out, pods, &mut tally);
    }
}

/// One poll: the cores of nodes not read yet, then every node's summary.
fn poll(kube: &Kube, out: &Mutex<File>, pods: &Mutex<Vec<PodEvent>>, tally: &mut Tally) {
    let (names, nodes): (BTreeSet<String>, BTreeSet<String>) = {
        let evs = pods.lock().expect("pods lock");
        (
            evs.iter().map(|e| e.name.clone()).collect(),
            evs.iter().filter_map(|e| e.node.clone()).collect(),
        )
    };
    let fail = |tally: &mut Tally, node: &str, request: String, error: String| {
        if tally.first_failure.is_none() {
            crate::driver::log(format!(
                "WARNING: node CPU: kubectl {request} failed: {error} (the run goes on; cpu.ndjson records each failure, and `fleetsim calibrate` says what is missing)"
            ));
            tally.first_failure = Some(format!("kubectl {request}: {error}"));
        }
        tally.failures += 1;
        write_line(
            out,
            &CpuLine::Unreachable {
                epoch_ns: epoch_ns(),
                node: node.to_string(),
                request,
                error,
            },
        );
    };
    for node in &nodes {
        if !tally.nodes.contains(node) {
            match kube.json(&["get", "node", node]) {
                Ok(v) => {
                    let q = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
                    match q("/status/capacity/cpu") {
                        Some(capacity_cpu) => {
                            write_line(
                                out,
                                &CpuLine::Node {
                                    epoch_ns: epoch_ns(),
                                    node: node.clone(),
                                    capacity_cpu,
                                    allocatable_cpu: q("/status/allocatable/cpu"),
                                },
                            );
                            tally.nodes.insert(node.clone());
                        }
                        None => fail(
                            tally,
                            node,
                            format!("get node {node}"),
                            "no status.capacity.cpu".into(),
                        ),
                    }
                }
                Err(e) => fail(tally, node, format!("get node {node}"), e.to_string()),
            }
        }
        let raw = format!("/api/v1/nodes/{node}/proxy/stats/summary");
        let sent = epoch_ns();
        let text = match kube.run(&["get", "--raw", &raw]) {
            Ok(t) => t,
            Err(e) => {
                fail(tally, node, format!("get --raw {raw}"), e.to_string());
                continue;
            }
        };
        let at = epoch_ns();
        let summary: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                fail(
                    tally,
                    node,
                    format!("get --raw {raw}"),
                    format!("not JSON: {e}"),
                );
                continue;
            }
        };
        tally.polls += 1;
        let cpu = |v: &Value| -> Option<(String, u64)> {
            Some((
                v.pointer("/cpu/time")?.as_str()?.to_string(),
                v.pointer("/cpu/usageCoreNanoSeconds")?.as_u64()?,
            ))
        };
        if let Some((stat_time, usage_core_ns)) = summary.get("node").and_then(cpu) {
            write_line(
                out,
                &CpuLine::NodeCpu {
                    epoch_ns: at,
                    sent_epoch_ns: sent,
                    node: node.clone(),
                    stat_time,
                    usage_core_ns,
                },
            );
        }
        for p in summary["pods"].as_array().into_iter().flatten() {
            let Some(pod) = p.pointer("/podRef/name").and_then(Value::as_str) else {
                continue;
            };
            if p.pointer("/podRef/namespace").and_then(Value::as_str) != Some(&kube.namespace)
                || !names.contains(pod)
            {
                continue;
            }
            let Some((stat_time, usage_core_ns)) = cpu(p) else {
                continue;
            };
            let containers = p["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| Some((c["name"].as_str()?.to_string(), cpu(c)?.1)))
                .collect();
            write_line(
                out,
                &CpuLine::Pod {
                    epoch_ns: at,
                    sent_epoch_ns: sent,
                    node: node.clone(),
                    pod: pod.to_string(),
                    stat_time,
                    usage_core_ns,
                    containers,
                },
            );
            tally.pod_samples += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kubectl stand-in: `get node` answers a node with 2 cores, `get --raw` a summary with
    /// one pod of the fleet, one of another namespace and one not in the fleet; with `fail`, the
    /// summary request fails as the apiserver's node proxy did before the cluster's fix.
    fn fake_kubectl(dir: &Path, fail: bool) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let summary = r#"{"node":{"nodeName":"vm","cpu":{"time":"2026-12-04T07:00:00Z","usageCoreNanoSeconds":900}},"pods":[
 {"podRef":{"name":"web-1","namespace":"fleetsim"},"cpu":{"time":"2026-12-04T07:00:01Z","usageCoreNanoSeconds":1234},
  "containers":[{"name":"service","cpu":{"time":"2026-12-04T07:00:02Z","usageCoreNanoSeconds":1200}}]},
 {"podRef":{"name":"web-1","namespace":"other"},"cpu":{"time":"2026-12-04T07:00:01Z","usageCoreNanoSeconds":5}},
 {"podRef":{"name":"db-1","namespace":"fleetsim"},"cpu":{"time":"2026-12-04T07:00:01Z","usageCoreNanoSeconds":6}}]}"#;
        let raw = if fail {
            "echo 'Error from server (BadRequest): address not allowed' >&2; exit 1".to_string()
        } else {
            let file = dir.join("summary.json");
            fs::write(&file, summary).unwrap();
            format!("cat '{}'", file.display())
        };
        let script = format!(
            "#!/bin/sh\ncase \"$*\" in\n*'get node vm'*) echo '{{\"status\":{{\"capacity\":{{\"cpu\":\"2\"}},\"allocatable\":{{\"cpu\":\"1900m\"}}}}}}' ;;\n*'get --raw /api/v1/nodes/vm/proxy/stats/summary'*) {raw} ;;\n*) exit 2 ;;\nesac\n"
        );
        let path = dir.join("kubectl");
        fs::write(&path, script).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// Runs a sampler against the stand-in until `cpu.ndjson` holds `want` (deadline 20 s),
    /// then stops it; returns the file and what the sampler said.
    fn sample_with(fail: bool, want: &str) -> (String, Tally) {
        let dir = std::env::temp_dir().join(format!("fleetsim-cpu-{}-{fail}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let kube = Kube {
            kubectl: fake_kubectl(&dir, fail),
            kubeconfig: None,
            namespace: "fleetsim".into(),
        };
        let pod = PodEvent {
            epoch_ns: 1,
            kind: crate::state::WatchEvent::Added,
            name: "web-1".into(),
            template: "t".into(),
            phase: "Running".into(),
            ready: true,
            terminating: false,
            exit_code: None,
            image_id: None,
            node: Some("vm".into()),
        };
        let pods = Arc::new(Mutex::new(vec![pod]));
        // Polls only when told: the phase marks.
        let sampler = Sampler::start(&kube, &dir, pods, Duration::from_secs(3600)).unwrap();
        sampler.phase("baseline_start");
        let deadline = Instant::now() + Duration::from_secs(20);
        let path = dir.join(FILE);
        while !fs::read_to_string(&path).unwrap().contains(want) {
            assert!(Instant::now() < deadline, "no {want} in {}", path.display());
            thread::sleep(Duration::from_millis(10));
        }
        sampler.phase("baseline_end");
        let tally = sampler.stop();
        let text = fs::read_to_string(&path).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        (text, tally)
    }

    #[test]
    fn the_sampler_records_the_fleet_pods_and_the_node() {
        let (text, tally) = sample_with(false, r#""kind":"pod""#);
        let f = parse(Path::new(FILE), &text).unwrap();
        assert_eq!(f.nodes["vm"].capacity, 2.0);
        assert_eq!(f.nodes["vm"].allocatable, Some(1.9));
        // Only the fleet's pod (by name, in the namespace), with its own figure.
        assert!(
            f.pods
                .iter()
                .all(|p| p.pod == "web-1" && p.usage_core_ns == 1234)
        );
        assert!(text.contains(r#""containers":{"service":1200}"#), "{text}");
        assert!(text.contains(r#""kind":"node_cpu""#), "{text}");
        assert!(f.phases.contains_key("baseline_start") && f.phases.contains_key("baseline_end"));
        assert!(tally.pod_samples >= 1 && tally.failures == 0, "{tally:?}");
    }

    #[test]
    fn an_unreachable_summary_is_recorded_not_fatal() {
        let (text, tally) = sample_with(true, r#""kind":"unreachable""#);
        let f = parse(Path::new(FILE), &text).unwrap();
        assert!(f.pods.is_empty());
        let (request, error) = &f.unreachable[0];
        assert_eq!(request, "get --raw /api/v1/nodes/vm/proxy/stats/summary");
        assert!(error.contains("address not allowed"), "{error}");
        assert!(
            tally.describe().starts_with("unreachable:"),
            "{}",
            tally.describe()
        );
    }

    #[test]
    fn cpu_quantities_in_cores() {
        assert_eq!(parse_cores("2"), Some(2.0));
        assert_eq!(parse_cores("1.5"), Some(1.5));
        assert_eq!(parse_cores("1500m"), Some(1.5));
        assert_eq!(parse_cores("250000000n"), Some(0.25));
        for bad in ["", "m", "two", "-1", "1e3", "2Gi"] {
            assert_eq!(parse_cores(bad), None, "{bad}");
        }
    }

    #[test]
    fn written_lines_read_back() {
        let lines = [
            CpuLine::Phase {
                epoch_ns: 5,
                phase: "baseline_start".into(),
            },
            CpuLine::Node {
                epoch_ns: 1,
                node: "vm".into(),
                capacity_cpu: "2".into(),
                allocatable_cpu: Some("1900m".into()),
            },
            CpuLine::Pod {
                epoch_ns: 3_000_000_000,
                sent_epoch_ns: 2_900_000_000,
                node: "vm".into(),
                pod: "p".into(),
                stat_time: "1970-01-01T00:00:02Z".into(),
                usage_core_ns: 7,
                containers: BTreeMap::from([("service".to_string(), 6)]),
            },
            CpuLine::Unreachable {
                epoch_ns: 4,
                node: "vm".into(),
                request: "get --raw /x".into(),
                error: "address not allowed".into(),
            },
        ];
        let text: String = lines
            .iter()
            .map(|l| serde_json::to_string(l).unwrap() + "\n")
            .collect();
        let f = parse(Path::new("cpu.ndjson"), &text).unwrap();
        assert_eq!(f.nodes["vm"].capacity, 2.0);
        assert_eq!(f.nodes["vm"].allocatable, Some(1.9));
        assert_eq!(f.pods[0].stat_epoch_ns, 2_000_000_000);
        assert_eq!(f.pods[0].usage_core_ns, 7);
        assert_eq!(f.phases["baseline_start"], 5);
        assert_eq!(f.unreachable[0].1, "address not allowed");
    }

    #[test]
    fn malformed_lines_name_the_file_line_and_field() {
        let cases = [
            (
                r#"{"kind":"pod","epoch_ns":1,"sent_epoch_ns":1,"node":"vm","pod":"p","stat_time":"2026-12-04T07:00:00Z"}"#,
                "usage_core_ns",
            ),
            (
                r#"{"kind":"pod","epoch_ns":1,"sent_epoch_ns":1,"node":"vm","pod":"p","stat_time":"yesterday","usage_core_ns":1}"#,
                "stat_time",
            ),
            (
                r#"{"kind":"pod","epoch_ns":1,"sent_epoch_ns":2,"node":"vm","pod":"p","stat_time":"2026-12-04T07:00:00Z","usage_core_ns":1}"#,
                "sent_epoch_ns",
            ),
            (
                r#"{"kind":"pod","epoch_ns":1,"sent_epoch_ns":1,"node":"vm","pod":"p","stat_time":"2026-12-04T07:00:00Z","usage_core_ns":-4}"#,
                "-4",
            ),
            (
                r#"{"kind":"node","epoch_ns":1,"node":"vm","capacity_cpu":"lots"}"#,
                "capacity_cpu",
            ),
            (
                r#"{"kind":"node","epoch_ns":1,"node":"vm","capacity_cpu":"0"}"#,
                "capacity_cpu",
            ),
            (
                r#"{"kind":"node","epoch_ns":1,"node":"vm","capacity_cpu":"2","allocatable_cpu":"x"}"#,
                "allocatable_cpu",
            ),
            (r#"{"kind":"phase","epoch_ns":1,"phase":"lunch"}"#, "phase"),
            (r#"{"kind":"cpu","epoch_ns":1}"#, "cpu"),
            (r#"not json"#, "line 2"),
        ];
        for (line, field) in cases {
            let text =
                format!("{{\"kind\":\"phase\",\"epoch_ns\":1,\"phase\":\"load_end\"}}\n{line}\n");
            let e = parse(Path::new("run/cpu.ndjson"), &text)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("run/cpu.ndjson: line 2: "), "{e}");
            assert!(e.contains(field), "{line}: {e}");
        }
    }
}
