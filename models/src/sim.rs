//! The simulation: one seed of one fleet, from the baseline through the rollout to the settled
//! ledger, measured by [`measure::analyze`].
//!
//! Time flows through a single [`Scheduler`]; every component draws from its own named stream.
//! Requests, connections and pods live in slabs indexed by `u32` (no per-request heap
//! allocation once the slabs have grown); per-request timers are cancelled when a pod dies.

use std::collections::{BTreeMap, VecDeque};

use measure::{
    Analysis, AnalyzeConfig, EndpointSeries, JobCounts, Outcome, RunLabel, RunMarks, Sample,
    ShutdownStep, Source, analyze,
};
use serde::{Deserialize, Serialize};
use sim_core::{
    Event, EventId, Sampler, Scheduler, SimDuration, SimTime, Stream, Streams, TieOrder, Trace,
    TraceDigest,
};

use crate::config::{Arrivals, BalancerKind, BalancerSpec, ConfigError, ConnectionStyle, Fleet};

const NONE: u32 = u32::MAX;
const NEVER: u64 = u64::MAX;
/// The shortest gap between two requests of one closed-loop worker.
const CLOSED_LOOP_FLOOR_NS: u64 = 1_000_000;

/// What caused a failed request, a duplicated job or a lost job. Every failure has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    /// A new connection reached a pod whose listener was closed while the EndpointSlice still
    /// listed it as ready (the pod closed before the control plane even knew).
    ListenerClosed,
    /// A new connection (L4) or request (L7) was routed from a balancer view that had not yet
    /// caught up with the EndpointSlice, to a pod no longer listening.
    StaleLbView,
    /// The balancer had no endpoint to route to (kube-proxy rejects; a proxy answers 503).
    NoEndpoints,
    /// A request in flight (in service or queued at the pod) when its process or data path died.
    KilledInFlight,
    /// A request sent on a keep-alive connection the server had already closed.
    KeepaliveRace,
    /// A new connection (L4) or upstream connection (L7) was routed to the IP of a pod whose
    /// process had exited and whose sandbox was already torn down: nobody answers the SYN, so
    /// the connect timeout fires (`timeout` at the client, 504 from a proxy).
    UnansweredConnect,
    /// The client's deadline passed first (queueing behind lost capacity, cold pods).
    DeadlineExceeded,
    /// The L7 proxy gave up on a slow upstream (504).
    UpstreamTimeout,
    /// The run ended before the request did (should not happen; counted, never hidden).
    Unfinished,
    /// A job's side effect applied more than once (a redelivery without idempotency).
    RedeliveredJob,
    /// A job never applied: still leased to a dead worker when the run ended.
    LostJob,
}

impl Mechanism {
    /// Every mechanism, in report order.
    pub const ALL: [Mechanism; 11] = [
        Mechanism::ListenerClosed,
        Mechanism::StaleLbView,
        Mechanism::NoEndpoints,
        Mechanism::KilledInFlight,
        Mechanism::KeepaliveRace,
        Mechanism::UnansweredConnect,
        Mechanism::DeadlineExceeded,
        Mechanism::UpstreamTimeout,
        Mechanism::Unfinished,
        Mechanism::RedeliveredJob,
        Mechanism::LostJob,
    ];

    /// The snake_case name used as the key of [`SimRun::failures_by_mechanism`].
    pub const fn as_str(self) -> &'static str {
        match self {
            Mechanism::ListenerClosed => "listener_closed",
            Mechanism::StaleLbView => "stale_lb_view",
            Mechanism::NoEndpoints => "no_endpoints",
            Mechanism::KilledInFlight => "killed_in_flight",
            Mechanism::KeepaliveRace => "keepalive_race",
            Mechanism::UnansweredConnect => "unanswered_connect",
            Mechanism::DeadlineExceeded => "deadline_exceeded",
            Mechanism::UpstreamTimeout => "upstream_timeout",
            Mechanism::Unfinished => "unfinished",
            Mechanism::RedeliveredJob => "redelivered_job",
            Mechanism::LostJob => "lost_job",
        }
    }

    /// `true` for the request mechanisms (their counts sum to the summary's `failed`).
    pub const fn is_request(self) -> bool {
        !matches!(self, Mechanism::RedeliveredJob | Mechanism::LostJob)
    }
}

/// How to run one seed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimOptions {
    pub seed: u64,
    /// Order same-instant events by a seeded shuffle instead of insertion order, to show a
    /// figure does not hinge on tie order.
    pub shuffle_ties: bool,
}

/// One simulated run.
#[derive(Debug, Clone)]
pub struct SimRun {
    /// Summary (source `sim`, the seed), timeline and reconnect curve, from [`measure::analyze`].
    pub analysis: Analysis,
    /// Ready endpoints as the EndpointSlice saw them; `desired` = replicas.
    pub endpoints: EndpointSeries,
    /// The run marks given to the analyzer.
    pub marks: RunMarks,
    /// The determinism trace's end state (every event and draw).
    pub digest: TraceDigest,
    /// Events executed.
    pub events: u64,
    /// Client retries (each extra attempt), counted, never hidden.
    pub retries: u64,
    /// Failures in the deploy window by mechanism (every [`Mechanism`] is a key, zeros too):
    /// request mechanisms sum to `summary.failed`; `redelivered_job` = `jobs.duplicated`,
    /// `lost_job` = `jobs.lost`.
    pub failures_by_mechanism: BTreeMap<String, u64>,
    /// `false` when the rollout had not finished by `run.max_duration` (the window is cut there).
    pub rollout_complete: bool,
    /// Every deleted pod's shutdown, in deletion order, in the live run's vocabulary.
    pub shutdowns: Vec<PodShutdown>,
}

/// Exit code of a process that drained and exited on its own.
pub const EXIT_DRAINED: i32 = 0;
/// Exit code when the guardian forced the exit (real-service `EXIT_GUARDIAN`).
pub const EXIT_GUARDIAN: i32 = 70;
/// Exit code of the naive exit on SIGTERM (real-service `EXIT_NOT_DRAINED`, 128 + 15).
pub const EXIT_NOT_DRAINED: i32 = 143;
/// Exit code of a process killed by the kubelet's SIGKILL (128 + 9).
pub const EXIT_SIGKILL: i32 = 137;

/// One pod's shutdown as the simulator saw it: the steps a live pod logs
/// ([`measure::ShutdownStep`]), each with its time, so the live run's order can be compared
/// with the model's pod by pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodShutdown {
    /// The pod's index (old pods first, then new pods in creation order).
    pub pod: u32,
    /// When the rollout deleted it (nanoseconds from the origin).
    pub deleted_ns: u64,
    /// `(step, time_ns)` in the order they happened. A pod whose SIGTERM is swallowed (pid1
    /// off) has only `exited`.
    pub steps: Vec<(ShutdownStep, u64)>,
    /// [`EXIT_DRAINED`], [`EXIT_GUARDIAN`], [`EXIT_NOT_DRAINED`] or [`EXIT_SIGKILL`]; `None`
    /// if the run ended first.
    pub exit_code: Option<i32>,
}

/// Why a run produced no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("invalid fleet: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ConfigError>),
    #[error("conservation check failed (scenario {scenario}, seed {seed}): {what}")]
    Conservation {
        scenario: String,
        seed: u64,
        what: String,
    },
}

/// Runs one seed. Deterministic: the same fleet and options give the same [`SimRun`] (the same
/// trace digest and byte-identical serialized summary and timeline). Runs the conservation
/// checks (every request sent has exactly one outcome; published jobs = applied once +
/// duplicated + lost + pending; mechanisms sum to the failures) and returns
/// [`SimError::Conservation`] rather than a wrong result.
pub fn simulate(scenario: &str, fleet: &Fleet, opts: &SimOptions) -> Result<SimRun, SimError> {
    fleet.validate().map_err(SimError::Invalid)?;
    let trace = Trace::new();
    World::run(scenario, fleet, opts, &trace)
}

/// Runs the model into `trace` (for [`sim_core::check_determinism`] in tests).
#[doc(hidden)]
pub fn simulate_traced(
    scenario: &str,
    fleet: &Fleet,
    opts: &SimOptions,
    trace: &Trace,
) -> Result<SimRun, SimError> {
    fleet.validate().map_err(SimError::Invalid)?;
    World::run(scenario, fleet, opts, trace)
}

// ---------------------------------------------------------------------------------------------
// Events

#[derive(Debug, Clone, Copy)]
enum Ev {
    Arrival,
    ClientSend(u32),
    Retry(u32),
    ConnArrive(u32),
    ReqArrive(u32),
    ServiceDone(u32),
    Slice { pod: u32, ep: Ep, ver: u32 },
    View { pod: u32, ep: Ep, ver: u32 },
    Started(u32),
    Probe(u32),
    Available(u32),
    RolloutStart,
    Sigterm(u32),
    Sigkill(u32),
    DrainDeadline(u32),
    Guardian(u32),
    JitterClose { conn: u32, generation: u32 },
    SidecarExit(u32),
    DeregClose { pod: u32, ver: u32 },
    JobArrival,
    JobEffect(u32),
    JobDone(u32),
    LeaseExpire { job: u32, delivery: u32 },
    LoadStop,
}

impl Event for Ev {
    fn kind(&self) -> u32 {
        match self {
            Ev::Arrival => 0,
            Ev::ClientSend(_) => 1,
            Ev::Retry(_) => 2,
            Ev::ConnArrive(_) => 3,
            Ev::ReqArrive(_) => 4,
            Ev::ServiceDone(_) => 5,
            Ev::Slice { .. } => 6,
            Ev::View { .. } => 7,
            Ev::Started(_) => 8,
            Ev::Probe(_) => 9,
            Ev::Available(_) => 10,
            Ev::RolloutStart => 11,
            Ev::Sigterm(_) => 12,
            Ev::Sigkill(_) => 13,
            Ev::DrainDeadline(_) => 14,
            Ev::Guardian(_) => 15,
            Ev::JitterClose { .. } => 16,
            Ev::SidecarExit(_) => 17,
            Ev::DeregClose { .. } => 18,
            Ev::JobArrival => 19,
            Ev::JobEffect(_) => 20,
            Ev::JobDone(_) => 21,
            Ev::LeaseExpire { .. } => 22,
            Ev::LoadStop => 23,
        }
    }
}

/// An endpoint's conditions, in the EndpointSlice or in a balancer's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ep {
    Absent,
    NotReady,
    Ready,
    /// Terminating but still serving (ProxyTerminatingEndpoints may use it).
    TermServing,
    TermNotServing,
}

// ---------------------------------------------------------------------------------------------
// State

#[derive(Debug, Clone, Copy)]
struct Req {
    intended: u64,
    pod: u32,
    conn: u32,
    pod_idx: u32,
    worker: u32,
    client: u32,
    exclude: u32,
    attempts: u8,
    l7_tries: u8,
    new_conn: bool,
    new_up: bool,
    upstream_sent: u64,
    done: Option<EventId>,
}

#[derive(Debug, Clone, Copy)]
struct Conn {
    pod: u32,
    pod_idx: u32,
    generation: u32,
    upstream: bool,
    live: bool,
    /// Known to the server (accepted and not closed by it).
    server_open: bool,
    /// When the server closed it (NEVER while open).
    closed_at: u64,
    /// The next response carries `Connection: close`.
    close_after: bool,
    /// A request on it has reached the server and is not answered yet.
    at_server: bool,
    /// Client side: usable from this time (the last response has arrived).
    free_at: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Starting,
    Running,
    Gone,
}

#[derive(Debug)]
struct Pod {
    new: bool,
    phase: Phase,
    warm: bool,
    started_at: u64,
    listening: bool,
    /// An Envoy sidecar in front still accepts new inbound connections.
    inbound_open: bool,
    probe_ready: bool,
    readiness_failed: bool,
    successes: u32,
    available: bool,
    deleted: bool,
    draining: bool,
    drain_expired: bool,
    exit_deadline: u64,
    busy: u32,
    queue: VecDeque<u32>,
    inflight: Vec<u32>,
    conns: Vec<u32>,
    up_idle: Vec<u32>,
    workers: Vec<u32>,
    ver: u32,
    slice: Ep,
    slice_ver: u32,
    view: Ep,
    view_ver: u32,
    ev_probe: Option<EventId>,
    ev_sigterm: Option<EventId>,
    ev_sigkill: Option<EventId>,
    ev_drain: Option<EventId>,
    ev_guardian: Option<EventId>,
    ev_sidecar: Option<EventId>,
    deleted_at: u64,
    /// When the sandbox and its IP are gone (the exit plus `lifecycle.sandbox_teardown`).
    net_gone_at: u64,
    steps: Vec<(ShutdownStep, u64)>,
    exit_code: Option<i32>,
    logged_inflight: bool,
}

impl Pod {
    fn new(new: bool) -> Pod {
        Pod {
            new,
            phase: Phase::Starting,
            warm: false,
            started_at: 0,
            listening: false,
            inbound_open: true,
            probe_ready: false,
            readiness_failed: false,
            successes: 0,
            available: false,
            deleted: false,
            draining: false,
            drain_expired: false,
            exit_deadline: NEVER,
            busy: 0,
            queue: VecDeque::new(),
            inflight: Vec::new(),
            conns: Vec::new(),
            up_idle: Vec::new(),
            workers: Vec::new(),
            ver: 0,
            slice: Ep::NotReady,
            slice_ver: 0,
            view: Ep::NotReady,
            view_ver: 0,
            ev_probe: None,
            ev_sigterm: None,
            ev_sigkill: None,
            ev_drain: None,
            ev_guardian: None,
            ev_sidecar: None,
            deleted_at: NEVER,
            net_gone_at: NEVER,
            steps: Vec::new(),
            exit_code: None,
            logged_inflight: false,
        }
    }
    fn accepts_new(&self) -> bool {
        self.phase != Phase::Gone && self.listening && self.inbound_open
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobState {
    Queued,
    Leased,
    Done,
}

#[derive(Debug, Clone, Copy)]
struct Job {
    applied: u32,
    state: JobState,
    delivery: u32,
    worker: u32,
    lease_ev: Option<EventId>,
}

#[derive(Debug, Clone, Copy)]
struct Worker {
    pod: u32,
    job: u32,
    delivery: u32,
    job_end: u64,
    stopped: bool,
    dead: bool,
    idle_listed: bool,
    effect_ev: Option<EventId>,
    done_ev: Option<EventId>,
}

struct Rngs {
    arrivals: Stream,
    lb: Stream,
    service: Stream,
    startup: Stream,
    slice: Stream,
    lag: Stream,
    jitter: Stream,
    job_arrivals: Stream,
    job_duration: Stream,
}

struct Samplers {
    service: Sampler,
    startup: Sampler,
    slice: Sampler,
    lag: Sampler,
    job_duration: Sampler,
}

struct World<'f> {
    f: &'f Fleet,
    bal: BalancerSpec,
    rng: Rngs,
    smp: Samplers,
    ow: u64,
    rtt: u64,
    deadline: u64,
    surge: u32,
    unavailable: u32,

    pods: Vec<Pod>,
    ready_view: Vec<u32>,
    fallback_view: Vec<u32>,
    slice_ready: u32,
    endpoints: EndpointSeries,

    reqs: Vec<Req>,
    free_reqs: Vec<u32>,
    live_reqs: u64,
    conns: Vec<Conn>,
    free_conns: Vec<u32>,
    /// Keep-alive virtual clients: each one's idle connection (or NONE).
    client_idle: Vec<u32>,
    next_client: u32,

    samples: Vec<Sample>,
    mechs: Vec<Option<Mechanism>>,
    sent: u64,
    retries: u64,

    jobs: Vec<Job>,
    job_queue: VecDeque<u32>,
    workers: Vec<Worker>,
    idle_workers: VecDeque<u32>,

    arrival_k: u64,
    arrival_ev: Option<EventId>,
    job_arrival_ev: Option<EventId>,
    rollout_started: bool,
    rollout_start: u64,
    rollout_end: Option<u64>,
    load_stopped: bool,
    load_end: u64,
}

fn dur(d: SimDuration) -> u64 {
    d.as_nanos()
}

impl<'f> World<'f> {
    fn run(
        scenario: &str,
        f: &'f Fleet,
        opts: &SimOptions,
        trace: &Trace,
    ) -> Result<SimRun, SimError> {
        let mut streams = Streams::new(opts.seed, trace.clone());
        let bal = f.balancer.resolve();
        let lag = f.propagation.lag.clone().unwrap_or_else(|| bal.lag.clone());
        let sampler = |d: &sim_core::Dist| d.sampler().expect("validated distribution");
        let smp = Samplers {
            service: sampler(&f.pod.service_time),
            startup: sampler(&f.pod.startup),
            slice: sampler(&f.propagation.endpointslice),
            lag: sampler(&lag),
            job_duration: sampler(&f.queue.duration),
        };
        let rng = Rngs {
            arrivals: streams.stream("client.arrivals"),
            lb: streams.stream("balancer.pick"),
            service: streams.stream("pod.service"),
            startup: streams.stream("pod.startup"),
            slice: streams.stream("propagation.endpointslice"),
            lag: streams.stream("propagation.lag"),
            jitter: streams.stream("drain.jitter"),
            job_arrivals: streams.stream("queue.arrivals"),
            job_duration: streams.stream("queue.duration"),
        };
        let ties = if opts.shuffle_ties {
            TieOrder::Shuffled(Box::new(streams.stream("scheduler.ties")))
        } else {
            TieOrder::Fifo
        };
        let mut q: Scheduler<Ev> = Scheduler::with_ties(trace.clone(), ties);
        let (surge, unavailable) = f.effective_fenceposts();
        let n = f.pod.replicas;
        let expect = if f.load.clients == 0 {
            (f.load.rate * (f.run.baseline.as_secs_f64() + 120.0)).min(4_000_000.0) as usize
        } else {
            1024
        };
        let mut w = World {
            f,
            bal,
            rng,
            smp,
            ow: dur(f.client.rtt) / 2,
            rtt: dur(f.client.rtt),
            deadline: dur(f.load.deadline),
            surge,
            unavailable,
            pods: Vec::with_capacity(2 * n as usize + 2),
            ready_view: Vec::new(),
            fallback_view: Vec::new(),
            slice_ready: 0,
            endpoints: EndpointSeries {
                desired: n,
                points: Vec::new(),
            },
            reqs: Vec::new(),
            free_reqs: Vec::new(),
            live_reqs: 0,
            conns: Vec::new(),
            free_conns: Vec::new(),
            client_idle: vec![NONE; f.client.pool.max(1) as usize],
            next_client: 0,
            samples: Vec::with_capacity(expect),
            mechs: Vec::with_capacity(expect),
            sent: 0,
            retries: 0,
            jobs: Vec::new(),
            job_queue: VecDeque::new(),
            workers: Vec::new(),
            idle_workers: VecDeque::new(),
            arrival_k: 0,
            arrival_ev: None,
            job_arrival_ev: None,
            rollout_started: false,
            rollout_start: dur(f.run.baseline),
            rollout_end: None,
            load_stopped: false,
            load_end: 0,
        };

        // The old ReplicaSet, warm, ready and in every view at time zero.
        for _ in 0..n {
            let p = w.pods.len() as u32;
            let mut pod = Pod::new(false);
            pod.phase = Phase::Running;
            pod.warm = true;
            pod.listening = true;
            pod.probe_ready = true;
            pod.available = true;
            pod.slice = Ep::Ready;
            pod.view = Ep::Ready;
            w.pods.push(pod);
            w.start_workers(&mut q, p);
        }
        w.slice_ready = n;
        w.endpoints.points.push((0, n));
        w.rebuild_views();

        if f.load.clients == 0 {
            w.arrival_ev = Some(q.schedule_at(SimTime::ZERO, Ev::Arrival));
        } else {
            for c in 0..f.load.clients {
                q.schedule_at(SimTime::ZERO, Ev::ClientSend(c));
            }
        }
        if f.queue.rate > 0.0 {
            let gap = w.job_gap();
            w.job_arrival_ev = Some(q.schedule_at(SimTime::from_nanos(gap), Ev::JobArrival));
        }
        q.schedule_at(SimTime::from_nanos(w.rollout_start), Ev::RolloutStart);

        let max_end = dur(f.run.max_duration);
        let settle = dur(f.run.settle).max(w.deadline);
        loop {
            let stop = if w.load_stopped {
                w.load_end.saturating_add(settle)
            } else {
                max_end
            };
            match q.peek_time() {
                Some(t) if t.as_nanos() <= stop => {
                    let (_, ev) = q.pop().expect("peeked");
                    w.handle(&mut q, ev);
                }
                _ => {
                    if w.load_stopped {
                        break;
                    }
                    // Cut off at max_duration: stop load there and let it settle.
                    let at = max_end.max(q.now().as_nanos());
                    w.stop_load(&mut q, at);
                }
            }
        }
        // The run ends at the settle horizon, whatever the time of its last event.
        let end_now = w.load_end.saturating_add(settle).max(q.now().as_nanos());
        w.finish_run(scenario, opts, trace, end_now, q.executed())
    }

    fn handle(&mut self, q: &mut Scheduler<Ev>, ev: Ev) {
        let now = q.now().as_nanos();
        match ev {
            Ev::Arrival => self.on_arrival(q, now),
            Ev::ClientSend(c) => {
                if !self.load_stopped {
                    let r = self.new_req(now, c);
                    self.dispatch(q, r, now);
                }
            }
            Ev::Retry(r) => self.dispatch(q, r, now),
            Ev::ConnArrive(r) => self.on_conn_arrive(q, r, now),
            Ev::ReqArrive(r) => self.on_req_arrive(q, r, now),
            Ev::ServiceDone(r) => self.on_service_done(q, r, now),
            Ev::Slice { pod, ep, ver } => self.on_slice(q, pod, ep, ver, now),
            Ev::View { pod, ep, ver } => self.on_view(q, pod, ep, ver, now),
            Ev::Started(p) => self.on_started(q, p, now),
            Ev::Probe(p) => self.on_probe(q, p, now),
            Ev::Available(p) => {
                let pod = &mut self.pods[p as usize];
                if pod.phase != Phase::Gone && !pod.deleted && pod.probe_ready {
                    pod.available = true;
                    self.reconcile(q, now);
                }
            }
            Ev::RolloutStart => {
                self.rollout_started = true;
                self.rollout_start = now;
                self.reconcile(q, now);
            }
            Ev::Sigterm(p) => {
                self.pods[p as usize].ev_sigterm = None;
                self.on_sigterm(q, p, now);
            }
            Ev::Sigkill(p) => {
                self.pods[p as usize].ev_sigkill = None;
                self.exit(q, p, now, EXIT_SIGKILL);
            }
            Ev::DrainDeadline(p) => {
                self.pods[p as usize].ev_drain = None;
                self.on_drain_deadline(q, p, now);
            }
            Ev::Guardian(p) => {
                self.pods[p as usize].ev_guardian = None;
                let pod = &mut self.pods[p as usize];
                if pod.phase != Phase::Gone {
                    pod.steps.push((ShutdownStep::GuardianFired, now));
                }
                self.exit(q, p, now, EXIT_GUARDIAN);
            }
            Ev::JitterClose { conn, generation } => {
                let c = self.conns[conn as usize];
                if c.live && c.generation == generation {
                    self.drain_close(q, conn, now);
                }
            }
            Ev::SidecarExit(p) => {
                self.pods[p as usize].ev_sidecar = None;
                self.kill_data_path(q, p, now);
                self.try_finish_drain(q, p, now);
            }
            Ev::DeregClose { pod, ver } => {
                if self.pods[pod as usize].view_ver == ver {
                    let idle = std::mem::take(&mut self.pods[pod as usize].up_idle);
                    for c in idle {
                        self.server_close(c, now);
                        self.free_conn(c);
                    }
                }
            }
            Ev::JobArrival => self.on_job_arrival(q, now),
            Ev::JobEffect(wk) => self.on_job_effect(wk),
            Ev::JobDone(wk) => self.on_job_done(q, wk, now),
            Ev::LeaseExpire { job, delivery } => self.on_lease_expire(q, job, delivery, now),
            Ev::LoadStop => self.stop_load(q, now),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Clients

    fn on_arrival(&mut self, q: &mut Scheduler<Ev>, now: u64) {
        self.arrival_ev = None;
        if self.load_stopped {
            return;
        }
        let r = self.new_req(now, NONE);
        self.dispatch(q, r, now);
        self.arrival_k += 1;
        let next = match self.f.load.arrivals {
            Arrivals::Constant => (self.arrival_k as f64 * 1e9 / self.f.load.rate).round() as u64,
            Arrivals::Poisson => {
                let u = self.rng.arrivals.unit();
                let gap = -(1.0 - u).ln() / self.f.load.rate;
                now + (gap * 1e9).round() as u64
            }
        };
        self.arrival_ev = Some(q.schedule_at(SimTime::from_nanos(next.max(now)), Ev::Arrival));
    }

    fn new_req(&mut self, now: u64, worker: u32) -> u32 {
        self.sent += 1;
        self.live_reqs += 1;
        let req = Req {
            intended: now,
            pod: NONE,
            conn: NONE,
            pod_idx: NONE,
            worker,
            exclude: NONE,
            attempts: 0,
            l7_tries: 0,
            new_conn: false,
            new_up: false,
            upstream_sent: now,
            done: None,
            client: self.next_client,
        };
        // Request n goes to keep-alive client n % K (as `fleetsim load --mode keepalive`).
        self.next_client = (self.next_client + 1) % self.client_idle.len() as u32;
        match self.free_reqs.pop() {
            Some(i) => {
                self.reqs[i as usize] = req;
                i
            }
            None => {
                self.reqs.push(req);
                (self.reqs.len() - 1) as u32
            }
        }
    }

    /// One attempt of request `r`, sent by the client at `now`.
    fn dispatch(&mut self, q: &mut Scheduler<Ev>, r: u32, now: u64) {
        {
            let req = &mut self.reqs[r as usize];
            req.pod = NONE;
            req.conn = NONE;
            req.exclude = NONE;
            req.l7_tries = 0;
            req.new_up = false;
        }
        match (self.bal.kind, self.f.client.connection) {
            (BalancerKind::L4, ConnectionStyle::New) => match self.pick(NONE) {
                None => self.attempt_failed(q, r, Outcome::Refused, Mechanism::NoEndpoints, now),
                Some(p) => {
                    let req = &mut self.reqs[r as usize];
                    req.pod = p;
                    req.new_conn = true;
                    q.schedule_at(SimTime::from_nanos(now + self.ow), Ev::ConnArrive(r));
                }
            },
            (BalancerKind::L4, ConnectionStyle::Keepalive) => self.pool_acquire(q, r, now),
            (BalancerKind::L7, style) => {
                let mut at = now + self.ow;
                if style == ConnectionStyle::New {
                    self.reqs[r as usize].new_conn = true;
                    at += self.rtt;
                }
                self.l7_forward(q, r, now, at);
            }
        }
    }

    /// A uniform pick among the view's ready endpoints, avoiding `exclude` when there is a
    /// choice; kube-proxy falls back to serving-terminating endpoints when none is ready.
    fn pick(&mut self, exclude: u32) -> Option<u32> {
        let list = if !self.ready_view.is_empty() {
            &self.ready_view
        } else if self.bal.kind == BalancerKind::L4 && self.bal.terminating_fallback {
            &self.fallback_view
        } else {
            return None;
        };
        match list.len() {
            0 => None,
            1 => Some(list[0]),
            n => match list.iter().position(|&x| x == exclude) {
                Some(ex) => {
                    let i = self.rng.lb.below(n as u64 - 1) as usize;
                    Some(list[if i >= ex { i + 1 } else { i }])
                }
                None => Some(list[self.rng.lb.below(n as u64) as usize]),
            },
        }
    }

    /// Keep-alive client: reuse the client's idle connection, or open a new one at once (the
    /// live generator never waits for a busy connection).
    fn pool_acquire(&mut self, q: &mut Scheduler<Ev>, r: u32, now: u64) {
        let k = self.reqs[r as usize].client as usize;
        let c = self.client_idle[k];
        if c != NONE {
            let conn = self.conns[c as usize];
            let known_closed = conn.closed_at != NEVER && conn.closed_at + self.ow <= now;
            let timed_out =
                conn.free_at <= now && now - conn.free_at > dur(self.f.client.idle_timeout);
            if known_closed || timed_out {
                // The client saw the server's FIN (or its own idle timer fired): drop it.
                self.client_idle[k] = NONE;
                if conn.server_open {
                    self.server_close(c, now);
                }
                self.free_conn(c);
            } else if conn.free_at <= now {
                self.client_idle[k] = NONE;
                self.conns[c as usize].free_at = NEVER;
                let req = &mut self.reqs[r as usize];
                req.conn = c;
                req.pod = conn.pod;
                q.schedule_at(SimTime::from_nanos(now + self.ow), Ev::ReqArrive(r));
                return;
            }
        }
        match self.pick(NONE) {
            None => self.attempt_failed(q, r, Outcome::Refused, Mechanism::NoEndpoints, now),
            Some(p) => {
                let c = self.new_conn(p, false);
                let req = &mut self.reqs[r as usize];
                req.conn = c;
                req.pod = p;
                req.new_conn = true;
                q.schedule_at(SimTime::from_nanos(now + self.ow), Ev::ConnArrive(r));
            }
        }
    }

    /// The L7 proxy received request `r` (decided at `now`, upstream send at `at`).
    fn l7_forward(&mut self, q: &mut Scheduler<Ev>, r: u32, now: u64, at: u64) {
        let exclude = self.reqs[r as usize].exclude;
        let Some(p) = self.pick(exclude) else {
            self.finish(
                q,
                r,
                Outcome::Http503,
                Some(Mechanism::NoEndpoints),
                at + self.ow,
            );
            return;
        };
        self.reqs[r as usize].upstream_sent = at;
        self.reqs[r as usize].pod = p;
        let keepalive = dur(self.bal.upstream_keepalive);
        let mut i = self.pods[p as usize].up_idle.len();
        while i > 0 {
            i -= 1;
            let c = self.pods[p as usize].up_idle[i];
            let conn = self.conns[c as usize];
            let known_closed = conn.closed_at != NEVER && conn.closed_at + self.ow <= now;
            let timed_out = conn.free_at <= now && now - conn.free_at > keepalive;
            if known_closed || timed_out {
                self.pods[p as usize].up_idle.remove(i);
                if conn.server_open {
                    self.server_close(c, now);
                }
                self.free_conn(c);
                continue;
            }
            if conn.free_at <= now {
                self.pods[p as usize].up_idle.remove(i);
                self.conns[c as usize].free_at = NEVER;
                self.reqs[r as usize].conn = c;
                q.schedule_at(SimTime::from_nanos(at + self.ow), Ev::ReqArrive(r));
                return;
            }
        }
        let c = self.new_conn(p, true);
        let req = &mut self.reqs[r as usize];
        req.conn = c;
        req.new_up = true;
        q.schedule_at(SimTime::from_nanos(at + self.ow), Ev::ConnArrive(r));
    }

    fn new_conn(&mut self, pod: u32, upstream: bool) -> u32 {
        let conn = Conn {
            pod,
            pod_idx: NONE,
            generation: 0,
            upstream,
            live: true,
            server_open: false,
            closed_at: NEVER,
            close_after: false,
            at_server: false,
            free_at: NEVER,
        };
        match self.free_conns.pop() {
            Some(i) => {
                let generation = self.conns[i as usize].generation.wrapping_add(1);
                self.conns[i as usize] = Conn { generation, ..conn };
                i
            }
            None => {
                self.conns.push(conn);
                (self.conns.len() - 1) as u32
            }
        }
    }

    fn free_conn(&mut self, c: u32) {
        let conn = &mut self.conns[c as usize];
        debug_assert!(conn.live);
        debug_assert!(!conn.server_open);
        conn.live = false;
        self.free_conns.push(c);
    }

    /// The server closes connection `c` at `now` (it leaves the pod's list).
    fn server_close(&mut self, c: u32, now: u64) {
        let conn = self.conns[c as usize];
        if !conn.server_open {
            return;
        }
        let pod = &mut self.pods[conn.pod as usize];
        let idx = conn.pod_idx as usize;
        pod.conns.swap_remove(idx);
        if let Some(&moved) = pod.conns.get(idx) {
            self.conns[moved as usize].pod_idx = idx as u32;
        }
        let conn = &mut self.conns[c as usize];
        conn.server_open = false;
        conn.pod_idx = NONE;
        conn.closed_at = now;
    }

    /// The client side gives up connection `c` after a failure on it.
    fn client_drop(&mut self, c: u32, now: u64) {
        if c == NONE {
            return;
        }
        let conn = self.conns[c as usize];
        if conn.server_open {
            self.server_close(c, now);
        }
        self.free_conn(c);
    }

    // -----------------------------------------------------------------------------------------
    // Pods serving

    fn on_conn_arrive(&mut self, q: &mut Scheduler<Ev>, r: u32, now: u64) {
        let req = self.reqs[r as usize];
        let p = req.pod;
        let pod = &self.pods[p as usize];
        if pod.accepts_new() {
            if req.conn != NONE {
                let idx = pod.conns.len() as u32;
                self.pods[p as usize].conns.push(req.conn);
                let conn = &mut self.conns[req.conn as usize];
                conn.server_open = true;
                conn.pod_idx = idx;
            }
            self.enqueue(q, p, r, now);
        } else {
            let unanswered = now >= pod.net_gone_at;
            let mech = if unanswered {
                Mechanism::UnansweredConnect
            } else if pod.slice == Ep::Ready {
                Mechanism::ListenerClosed
            } else {
                Mechanism::StaleLbView
            };
            if req.conn != NONE {
                self.client_drop(req.conn, now);
                self.reqs[r as usize].conn = NONE;
            }
            if unanswered {
                // The SYN left one hop ago; the connecting side gives up its connect timeout
                // after that (the proxy's own for L7, the client's for L4).
                let timeout = match self.bal.kind {
                    BalancerKind::L7 => dur(self.bal.connect_timeout),
                    BalancerKind::L4 => dur(self.f.client.connect_timeout),
                };
                let at = (now - self.ow).saturating_add(timeout);
                self.attempt_failed(q, r, Outcome::Timeout, mech, at);
            } else {
                // RST from the pod's network namespace, one hop back.
                self.attempt_failed(q, r, Outcome::Refused, mech, now + self.ow);
            }
        }
    }

    fn on_req_arrive(&mut self, q: &mut Scheduler<Ev>, r: u32, now: u64) {
        let c = self.reqs[r as usize].conn;
        let conn = self.conns[c as usize];
        if !conn.server_open {
            self.reqs[r as usize].conn = NONE;
            self.client_drop(c, now);
            self.attempt_failed(
                q,
                r,
                Outcome::Reset,
                Mechanism::KeepaliveRace,
                now + self.ow,
            );
            return;
        }
        self.enqueue(q, conn.pod, r, now);
    }

    fn enqueue(&mut self, q: &mut Scheduler<Ev>, p: u32, r: u32, now: u64) {
        let c = self.reqs[r as usize].conn;
        if c != NONE {
            self.conns[c as usize].at_server = true;
        }
        let pod = &mut self.pods[p as usize];
        self.reqs[r as usize].pod = p;
        self.reqs[r as usize].pod_idx = pod.inflight.len() as u32;
        pod.inflight.push(r);
        if pod.busy < self.f.pod.concurrency {
            self.start_service(q, p, r, now);
        } else {
            pod.queue.push_back(r);
        }
    }

    fn start_service(&mut self, q: &mut Scheduler<Ev>, p: u32, r: u32, now: u64) {
        let pod = &mut self.pods[p as usize];
        pod.busy += 1;
        let mut d = self.smp.service.sample(&mut self.rng.service).as_nanos();
        let cold = &self.f.pod.cold_start;
        if !pod.warm && cold.factor > 1.0 && !cold.duration.is_zero() {
            let age = now.saturating_sub(pod.started_at) as f64;
            let frac = (1.0 - age / cold.duration.as_nanos() as f64).max(0.0);
            d = (d as f64 * (1.0 + (cold.factor - 1.0) * frac)).round() as u64;
        }
        self.reqs[r as usize].done =
            Some(q.schedule_at(SimTime::from_nanos(now + d), Ev::ServiceDone(r)));
    }

    fn remove_inflight(&mut self, p: u32, r: u32) {
        let idx = self.reqs[r as usize].pod_idx as usize;
        let pod = &mut self.pods[p as usize];
        pod.inflight.swap_remove(idx);
        if let Some(&moved) = pod.inflight.get(idx) {
            self.reqs[moved as usize].pod_idx = idx as u32;
        }
        self.reqs[r as usize].pod_idx = NONE;
    }

    fn on_service_done(&mut self, q: &mut Scheduler<Ev>, r: u32, now: u64) {
        let p = self.reqs[r as usize].pod;
        self.reqs[r as usize].done = None;
        self.remove_inflight(p, r);
        let pod = &mut self.pods[p as usize];
        pod.busy -= 1;
        if let Some(next) = pod.queue.pop_front() {
            self.start_service(q, p, next, now);
        }
        self.respond_ok(q, r, now);
        self.try_finish_drain(q, p, now);
    }

    /// The pod answered `r` at `now`.
    fn respond_ok(&mut self, q: &mut Scheduler<Ev>, r: u32, now: u64) {
        let req = self.reqs[r as usize];
        let rtt = self.rtt;
        let hs = move |new: bool| if new { rtt } else { 0 };
        let c = req.conn;
        let arrive = now + self.ow; // response back at the client (L4) or the proxy (L7)
        if c != NONE {
            let conn = self.conns[c as usize];
            self.conns[c as usize].at_server = false;
            let k = req.client as usize;
            if conn.close_after || !conn.server_open {
                // `Connection: close`: the peer closes it on receipt; no race.
                self.server_close(c, now);
                self.free_conn(c);
            } else if conn.upstream {
                self.conns[c as usize].free_at = arrive;
                self.pods[conn.pod as usize].up_idle.push(c);
            } else if self.client_idle[k] == NONE {
                self.conns[c as usize].free_at = arrive;
                self.client_idle[k] = c;
            } else {
                // The client already holds an idle connection: this extra one is closed after
                // use (the generator's `--max-idle-per-client 1`).
                self.server_close(c, now);
                self.free_conn(c);
            }
        }
        match self.bal.kind {
            BalancerKind::L4 => {
                self.finish(q, r, Outcome::Ok, None, arrive + hs(req.new_conn));
            }
            BalancerKind::L7 => {
                let timeout = dur(self.bal.upstream_timeout);
                let waited = arrive.saturating_sub(req.upstream_sent) + hs(req.new_up);
                if waited > timeout {
                    let at = req.upstream_sent.saturating_add(timeout) + self.ow;
                    self.finish(q, r, Outcome::Http504, Some(Mechanism::UpstreamTimeout), at);
                } else {
                    let end = arrive + hs(req.new_up) + self.ow + hs(req.new_conn);
                    self.finish(q, r, Outcome::Ok, None, end);
                }
            }
        }
    }

    /// One attempt failed at the connection level, seen by the client (L4) or proxy (L7) at `at`.
    fn attempt_failed(
        &mut self,
        q: &mut Scheduler<Ev>,
        r: u32,
        outcome: Outcome,
        mech: Mechanism,
        at: u64,
    ) {
        if self.bal.kind == BalancerKind::L7 {
            let req = self.reqs[r as usize];
            // A 504 would have come first if the upstream was this slow.
            let timeout = dur(self.bal.upstream_timeout);
            if at.saturating_sub(req.upstream_sent) > timeout {
                let t = req.upstream_sent.saturating_add(timeout) + self.ow;
                self.finish(q, r, Outcome::Http504, Some(Mechanism::UpstreamTimeout), t);
                return;
            }
            // nginx and Envoy retry a connect timeout like a refusal (`proxy_next_upstream
            // error timeout`); with no upstream left a connect timeout is a 504, not a 502.
            if u32::from(req.l7_tries) < self.bal.retries {
                let req = &mut self.reqs[r as usize];
                req.l7_tries += 1;
                req.exclude = req.pod;
                req.conn = NONE;
                req.new_up = false;
                // The proxy learns of the failure at `at` and tries the next upstream.
                let now = q.now().as_nanos();
                self.l7_forward(q, r, now, at.max(now));
                return;
            }
            let answer = if outcome == Outcome::Timeout {
                Outcome::Http504
            } else {
                Outcome::Http502
            };
            self.finish(q, r, answer, Some(mech), at + self.ow);
        } else {
            self.finish(q, r, outcome, Some(mech), at);
        }
    }

    /// The end of an attempt as the client sees it: apply the deadline, retry or record.
    fn finish(
        &mut self,
        q: &mut Scheduler<Ev>,
        r: u32,
        mut outcome: Outcome,
        mut mech: Option<Mechanism>,
        mut end: u64,
    ) {
        let req = self.reqs[r as usize];
        let deadline = req.intended.saturating_add(self.deadline);
        if end > deadline {
            outcome = Outcome::Timeout;
            mech = Some(Mechanism::DeadlineExceeded);
            end = deadline;
        }
        let retry = &self.f.client.retry;
        if outcome.is_failure()
            && u32::from(req.attempts) < retry.attempts
            && retry.on.contains(&outcome)
            && !self.load_stopped
        {
            let at = end.saturating_add(dur(retry.backoff));
            if at < deadline {
                self.retries += 1;
                self.reqs[r as usize].attempts += 1;
                let now = q.now().as_nanos();
                q.schedule_at(SimTime::from_nanos(at.max(now)), Ev::Retry(r));
                return;
            }
        }
        self.samples.push(Sample {
            intended_ns: req.intended,
            start_ns: req.intended,
            end_ns: end,
            outcome,
            new_conn: req.new_conn,
        });
        self.mechs
            .push(if outcome.is_failure() { mech } else { None });
        self.live_reqs -= 1;
        self.free_reqs.push(r);
        if req.worker != NONE && !self.load_stopped {
            // A closed-loop worker sends again as soon as it has its outcome, but at most once
            // per millisecond: instant failures (no endpoints, zero RTT) must not spin in place.
            let now = q.now().as_nanos();
            let next = end.max(now).max(req.intended + CLOSED_LOOP_FLOOR_NS);
            q.schedule_at(SimTime::from_nanos(next), Ev::ClientSend(req.worker));
        }
    }

    // -----------------------------------------------------------------------------------------
    // Endpoint propagation

    fn slice_set(&mut self, q: &mut Scheduler<Ev>, p: u32, ep: Ep, now: u64) {
        let pod = &mut self.pods[p as usize];
        pod.ver += 1;
        let ver = pod.ver;
        let d = self.smp.slice.sample(&mut self.rng.slice).as_nanos();
        q.schedule_at(SimTime::from_nanos(now + d), Ev::Slice { pod: p, ep, ver });
    }

    fn on_slice(&mut self, q: &mut Scheduler<Ev>, p: u32, ep: Ep, ver: u32, now: u64) {
        let pod = &mut self.pods[p as usize];
        if ver <= pod.slice_ver {
            return;
        }
        let was_ready = pod.slice == Ep::Ready;
        pod.slice_ver = ver;
        pod.slice = ep;
        let is_ready = ep == Ep::Ready;
        if was_ready != is_ready {
            if is_ready {
                self.slice_ready += 1;
            } else {
                self.slice_ready -= 1;
            }
            match self.endpoints.points.last_mut() {
                Some(last) if last.0 == now => last.1 = self.slice_ready,
                _ => self.endpoints.points.push((now, self.slice_ready)),
            }
        }
        let mut d = self.smp.lag.sample(&mut self.rng.lag).as_nanos();
        if ep == Ep::Ready {
            d += dur(self.bal.health_check_delay);
        }
        q.schedule_at(SimTime::from_nanos(now + d), Ev::View { pod: p, ep, ver });
    }

    fn on_view(&mut self, q: &mut Scheduler<Ev>, p: u32, ep: Ep, ver: u32, now: u64) {
        let pod = &mut self.pods[p as usize];
        if ver <= pod.view_ver {
            return;
        }
        let was_ready = pod.view == Ep::Ready;
        pod.view_ver = ver;
        pod.view = ep;
        if self.bal.readiness_gate && ep == Ep::Ready && !was_ready && !pod.deleted {
            // The readiness gate: the pod counts as ready once the load balancer has it.
            let min_ready = dur(self.f.rollout.min_ready);
            q.schedule_at(SimTime::from_nanos(now + min_ready), Ev::Available(p));
            self.rebuild_views();
            self.check_rollout_end(q, now);
            return;
        }
        if was_ready
            && ep != Ep::Ready
            && let Some(delay) = self.bal.deregistration_delay
        {
            q.schedule_at(
                SimTime::from_nanos(now + dur(delay)),
                Ev::DeregClose { pod: p, ver },
            );
        }
        self.rebuild_views();
    }

    fn rebuild_views(&mut self) {
        self.ready_view.clear();
        self.fallback_view.clear();
        for (i, pod) in self.pods.iter().enumerate() {
            match pod.view {
                Ep::Ready => self.ready_view.push(i as u32),
                Ep::TermServing => self.fallback_view.push(i as u32),
                _ => {}
            }
        }
    }

    /// The serving condition of a terminating pod, as the EndpointSlice reports it.
    fn term_ep(&self, p: u32) -> Ep {
        let pod = &self.pods[p as usize];
        if pod.phase == Phase::Gone {
            Ep::Absent
        } else if pod.listening && pod.probe_ready && !pod.readiness_failed && pod.inbound_open {
            Ep::TermServing
        } else {
            Ep::TermNotServing
        }
    }

    // -----------------------------------------------------------------------------------------
    // Pod lifecycle

    fn create_pod(&mut self, q: &mut Scheduler<Ev>, now: u64) {
        let p = self.pods.len() as u32;
        self.pods.push(Pod::new(true));
        let startup = self.smp.startup.sample(&mut self.rng.startup).as_nanos();
        q.schedule_at(SimTime::from_nanos(now + startup), Ev::Started(p));
        let first = now + dur(self.f.pod.readiness.initial_delay);
        self.pods[p as usize].ev_probe =
            Some(q.schedule_at(SimTime::from_nanos(first), Ev::Probe(p)));
    }

    fn on_started(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        let pod = &mut self.pods[p as usize];
        if pod.phase != Phase::Starting {
            return;
        }
        pod.phase = Phase::Running;
        pod.listening = true;
        pod.started_at = now;
        self.start_workers(q, p);
    }

    fn on_probe(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        let rp = &self.f.pod.readiness;
        let pod = &mut self.pods[p as usize];
        pod.ev_probe = None;
        if pod.phase == Phase::Gone || pod.deleted {
            return;
        }
        if pod.listening {
            pod.successes += 1;
        } else {
            pod.successes = 0;
        }
        if pod.successes >= rp.success_threshold {
            // Ready. Probing of ready pods is not modelled further (they never fail unless
            // deleted, and deletion drives the endpoint through the EndpointSlice).
            pod.probe_ready = true;
            self.slice_set(q, p, Ep::Ready, now);
            if !self.bal.readiness_gate {
                let min_ready = dur(self.f.rollout.min_ready);
                q.schedule_at(SimTime::from_nanos(now + min_ready), Ev::Available(p));
            }
            self.check_rollout_end(q, now);
        } else {
            let next = now + dur(rp.period);
            self.pods[p as usize].ev_probe =
                Some(q.schedule_at(SimTime::from_nanos(next), Ev::Probe(p)));
        }
    }

    /// Deployment semantics: scale the new ReplicaSet up within maxSurge, the old one down
    /// within maxUnavailable (Kubernetes `reconcileNewReplicaSet` / `reconcileOldReplicaSets`).
    /// Terminating pods do not count (the ReplicaSet controller filters them out).
    fn reconcile(&mut self, q: &mut Scheduler<Ev>, now: u64) {
        if !self.rollout_started {
            return;
        }
        let n = self.f.pod.replicas;
        loop {
            let mut changed = false;
            let (mut old_active, mut new_active, mut new_available) = (0u32, 0u32, 0u32);
            for pod in &self.pods {
                if pod.deleted || pod.phase == Phase::Gone {
                    continue;
                }
                if pod.new {
                    new_active += 1;
                    if pod.available {
                        new_available += 1;
                    }
                } else {
                    old_active += 1;
                }
            }
            let total = old_active + new_active;
            if new_active < n {
                let room = (n + self.surge).saturating_sub(total);
                let add = room.min(n - new_active);
                for _ in 0..add {
                    self.create_pod(q, now);
                    changed = true;
                }
                new_active += add;
            }
            let all = old_active + new_active;
            let min_available = n.saturating_sub(self.unavailable);
            let new_unavailable = new_active - new_available;
            let max_down = all
                .saturating_sub(min_available)
                .saturating_sub(new_unavailable);
            let down = max_down.min(old_active);
            if down > 0 {
                let victims: Vec<u32> = (0..self.pods.len() as u32)
                    .filter(|&i| {
                        let pod = &self.pods[i as usize];
                        !pod.new && !pod.deleted && pod.phase != Phase::Gone
                    })
                    .take(down as usize)
                    .collect();
                for v in victims {
                    self.delete_pod(q, v, now);
                }
                changed = true;
            }
            if !changed {
                break;
            }
        }
        self.check_rollout_end(q, now);
    }

    fn check_rollout_end(&mut self, q: &mut Scheduler<Ev>, now: u64) {
        if !self.rollout_started || self.rollout_end.is_some() {
            return;
        }
        let n = self.f.pod.replicas;
        let mut new_ready = 0;
        for pod in &self.pods {
            if pod.new {
                let gated = self.bal.readiness_gate && pod.view != Ep::Ready;
                if pod.probe_ready && !gated && !pod.deleted && pod.phase != Phase::Gone {
                    new_ready += 1;
                }
            } else if pod.phase != Phase::Gone {
                return;
            }
        }
        if new_ready >= n {
            self.rollout_end = Some(now);
            q.schedule_at(
                SimTime::from_nanos(now + dur(self.f.run.tail)),
                Ev::LoadStop,
            );
        }
    }

    fn delete_pod(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        self.pods[p as usize].deleted = true;
        self.pods[p as usize].deleted_at = now;
        if let Some(drain) = self.bal.sidecar_drain {
            // The sidecar gets SIGTERM at once (it has no preStop) and refuses new inbound
            // connections, then exits after terminationDrainDuration.
            self.pods[p as usize].inbound_open = false;
            let ev = q.schedule_at(SimTime::from_nanos(now + dur(drain)), Ev::SidecarExit(p));
            self.pods[p as usize].ev_sidecar = Some(ev);
        }
        let ep = self.term_ep(p);
        self.slice_set(q, p, ep, now);
        let grace = dur(self.f.lifecycle.grace_period);
        let prestop = if self.f.levers.readiness {
            dur(self.f.lifecycle.prestop)
        } else {
            0
        };
        // preStop counts against the grace period; if it overruns, SIGTERM goes at the end of
        // the grace period and the kubelet allows 2 s more before SIGKILL.
        let (term, kill) = if prestop >= grace && prestop > 0 {
            (grace, grace + 2_000_000_000)
        } else {
            (prestop, grace)
        };
        let pod = &mut self.pods[p as usize];
        pod.ev_sigterm = Some(q.schedule_at(SimTime::from_nanos(now + term), Ev::Sigterm(p)));
        pod.ev_sigkill = Some(q.schedule_at(SimTime::from_nanos(now + kill), Ev::Sigkill(p)));
        pod.exit_deadline = now + kill;
        if let Some(ev) = pod.ev_probe.take() {
            q.cancel(ev);
        }
    }

    fn on_sigterm(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        if self.pods[p as usize].phase == Phase::Gone {
            return;
        }
        let levers = self.f.levers;
        if !levers.pid1 {
            // A shell-form entrypoint swallows SIGTERM: nothing happens until SIGKILL.
            return;
        }
        {
            let pod = &mut self.pods[p as usize];
            pod.steps.push((ShutdownStep::SigtermReceived, now));
            if levers.readiness {
                // real-service fails /readyz at SIGTERM; the preStop sleep ran before it.
                pod.readiness_failed = true;
                pod.steps.push((ShutdownStep::ReadinessFailed, now));
                pod.steps.push((ShutdownStep::PrestopDone, now));
            }
        }
        let exit_by = if levers.drain {
            let g = now + dur(self.f.drain.guardian);
            g.min(self.pods[p as usize].exit_deadline)
        } else {
            now
        };
        self.pods[p as usize].exit_deadline = exit_by;
        if levers.requeue {
            self.stop_workers(q, p, now, exit_by);
        }
        if self.pods[p as usize].phase == Phase::Starting || !levers.drain {
            self.pods[p as usize]
                .steps
                .push((ShutdownStep::ListenerClosed, now));
            self.exit(q, p, now, EXIT_NOT_DRAINED);
            return;
        }
        // Drain: stop accepting, close keep-alives (at once or jittered), finish in-flight.
        {
            let pod = &mut self.pods[p as usize];
            pod.listening = false;
            pod.draining = true;
            pod.steps.push((ShutdownStep::ListenerClosed, now));
        }
        let ep = self.term_ep(p);
        self.slice_set(q, p, ep, now);
        let conns = self.pods[p as usize].conns.clone();
        for c in conns {
            if levers.surge {
                let w = dur(self.f.drain.jitter_window);
                let at = now
                    + if w == 0 {
                        0
                    } else {
                        self.rng.jitter.below(w + 1)
                    };
                let generation = self.conns[c as usize].generation;
                q.schedule_at(
                    SimTime::from_nanos(at),
                    Ev::JitterClose {
                        conn: c,
                        generation,
                    },
                );
            } else {
                self.drain_close(q, c, now);
            }
        }
        let pod = &mut self.pods[p as usize];
        let deadline = now + dur(self.f.drain.timeout);
        pod.ev_drain = Some(q.schedule_at(SimTime::from_nanos(deadline), Ev::DrainDeadline(p)));
        pod.ev_guardian = Some(q.schedule_at(SimTime::from_nanos(exit_by), Ev::Guardian(p)));
        self.try_finish_drain(q, p, now);
    }

    /// The drain closes keep-alive connection `c`: after its response if busy, now if idle.
    fn drain_close(&mut self, q: &mut Scheduler<Ev>, c: u32, now: u64) {
        let conn = self.conns[c as usize];
        if !conn.server_open {
            return;
        }
        if conn.at_server {
            self.conns[c as usize].close_after = true;
        } else {
            self.server_close(c, now);
            if conn.upstream {
                // The proxy sees the FIN on an idle upstream connection and drops it when it
                // next looks (lazily, in `l7_forward`).
            }
            let p = conn.pod;
            self.try_finish_drain(q, p, now);
        }
    }

    fn on_drain_deadline(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        self.pods[p as usize].drain_expired = true;
        // Past the drain timeout: what is still in flight or open is cut.
        self.kill_data_path(q, p, now);
        self.try_finish_drain(q, p, now);
    }

    fn try_finish_drain(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        let pod = &self.pods[p as usize];
        if !pod.draining || pod.phase == Phase::Gone {
            return;
        }
        // real-service waits for in-flight requests, then for the connections to close.
        if !pod.logged_inflight && (pod.inflight.is_empty() || pod.drain_expired) {
            let pod = &mut self.pods[p as usize];
            pod.logged_inflight = true;
            pod.steps.push((ShutdownStep::InflightDrained, now));
        }
        let pod = &self.pods[p as usize];
        let http_done = pod.inflight.is_empty() && pod.conns.is_empty();
        if !(http_done || pod.drain_expired) {
            return;
        }
        if !pod
            .steps
            .iter()
            .any(|&(s, _)| s == ShutdownStep::KeepaliveClosed)
        {
            self.pods[p as usize]
                .steps
                .push((ShutdownStep::KeepaliveClosed, now));
        }
        let pod = &self.pods[p as usize];
        if self.f.levers.requeue {
            let busy = pod
                .workers
                .iter()
                .any(|&w| self.workers[w as usize].job != NONE);
            if busy {
                return; // the worker finishes its job (bounded by the guardian)
            }
        }
        let pod = &mut self.pods[p as usize];
        for step in [
            ShutdownStep::WorkerStopped,
            ShutdownStep::JobsReleased,
            ShutdownStep::PoolsClosed,
        ] {
            pod.steps.push((step, now));
        }
        self.exit(q, p, now, EXIT_DRAINED);
    }

    /// Resets every request in flight at pod `p` and closes its connections.
    fn kill_data_path(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        let inflight = std::mem::take(&mut self.pods[p as usize].inflight);
        {
            let pod = &mut self.pods[p as usize];
            pod.queue.clear();
            pod.busy = 0;
        }
        for &r in &inflight {
            if let Some(ev) = self.reqs[r as usize].done.take() {
                q.cancel(ev);
            }
            self.reqs[r as usize].pod_idx = NONE;
        }
        for &r in &inflight {
            let c = self.reqs[r as usize].conn;
            if c != NONE {
                self.conns[c as usize].at_server = false;
                self.reqs[r as usize].conn = NONE;
                self.client_drop(c, now);
            }
            self.attempt_failed(
                q,
                r,
                Outcome::Reset,
                Mechanism::KilledInFlight,
                now + self.ow,
            );
        }
        debug_assert!(self.pods[p as usize].inflight.is_empty());
        // Idle connections: the client learns of the close one hop later (a request already on
        // its way is a keep-alive race).
        while let Some(&c) = self.pods[p as usize].conns.last() {
            self.server_close(c, now);
        }
    }

    /// The process exits (naive exit, end of drain, guardian, SIGKILL).
    fn exit(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64, code: i32) {
        if self.pods[p as usize].phase == Phase::Gone {
            return;
        }
        {
            let pod = &mut self.pods[p as usize];
            pod.steps.push((ShutdownStep::Exited, now));
            pod.exit_code = Some(code);
        }
        self.kill_data_path(q, p, now);
        self.kill_workers(q, p);
        let teardown = dur(self.f.lifecycle.sandbox_teardown);
        let pod = &mut self.pods[p as usize];
        pod.phase = Phase::Gone;
        pod.listening = false;
        pod.net_gone_at = now.saturating_add(teardown);
        for ev in [
            pod.ev_probe.take(),
            pod.ev_sigterm.take(),
            pod.ev_sigkill.take(),
            pod.ev_drain.take(),
            pod.ev_guardian.take(),
            pod.ev_sidecar.take(),
        ]
        .into_iter()
        .flatten()
        {
            q.cancel(ev);
        }
        // Upstream connections the proxy still holds idle are closed by the exit too.
        let idle = std::mem::take(&mut self.pods[p as usize].up_idle);
        for c in idle {
            self.free_conn(c);
        }
        self.slice_set(q, p, Ep::Absent, now);
        self.reconcile(q, now);
    }

    // -----------------------------------------------------------------------------------------
    // Queue and workers

    fn job_gap(&mut self) -> u64 {
        let u = self.rng.job_arrivals.unit();
        (-(1.0 - u).ln() / self.f.queue.rate * 1e9).round() as u64
    }

    fn start_workers(&mut self, q: &mut Scheduler<Ev>, p: u32) {
        if self.f.queue.rate <= 0.0 {
            return;
        }
        let now = q.now().as_nanos();
        for _ in 0..self.f.queue.workers {
            let w = self.workers.len() as u32;
            self.workers.push(Worker {
                pod: p,
                job: NONE,
                delivery: 0,
                job_end: 0,
                stopped: false,
                dead: false,
                idle_listed: false,
                effect_ev: None,
                done_ev: None,
            });
            self.pods[p as usize].workers.push(w);
            self.worker_fetch(q, w, now);
        }
    }

    fn worker_fetch(&mut self, q: &mut Scheduler<Ev>, w: u32, now: u64) {
        let wk = self.workers[w as usize];
        if wk.stopped || wk.dead || wk.job != NONE {
            return;
        }
        if let Some(j) = self.job_queue.pop_front() {
            self.assign(q, w, j, now);
        } else if !wk.idle_listed {
            self.workers[w as usize].idle_listed = true;
            self.idle_workers.push_back(w);
        }
    }

    fn dispatch_jobs(&mut self, q: &mut Scheduler<Ev>, now: u64) {
        while !self.job_queue.is_empty() {
            let Some(w) = self.idle_workers.pop_front() else {
                return;
            };
            self.workers[w as usize].idle_listed = false;
            self.worker_fetch(q, w, now);
        }
    }

    fn assign(&mut self, q: &mut Scheduler<Ev>, w: u32, j: u32, now: u64) {
        let lease = dur(self.f.queue.lease);
        let d = self
            .smp
            .job_duration
            .sample(&mut self.rng.job_duration)
            .as_nanos();
        let effect = (d as f64 * self.f.queue.effect_at).round() as u64;
        let job = &mut self.jobs[j as usize];
        job.state = JobState::Leased;
        job.delivery += 1;
        job.worker = w;
        let delivery = job.delivery;
        job.lease_ev = Some(q.schedule_at(
            SimTime::from_nanos(now + lease),
            Ev::LeaseExpire { job: j, delivery },
        ));
        let wk = &mut self.workers[w as usize];
        wk.job = j;
        wk.delivery = delivery;
        wk.job_end = now + d;
        wk.effect_ev = Some(q.schedule_at(SimTime::from_nanos(now + effect), Ev::JobEffect(w)));
        wk.done_ev = Some(q.schedule_at(SimTime::from_nanos(now + d), Ev::JobDone(w)));
    }

    fn on_job_arrival(&mut self, q: &mut Scheduler<Ev>, now: u64) {
        self.job_arrival_ev = None;
        if self.load_stopped {
            return;
        }
        let j = self.jobs.len() as u32;
        self.jobs.push(Job {
            applied: 0,
            state: JobState::Queued,
            delivery: 0,
            worker: NONE,
            lease_ev: None,
        });
        self.job_queue.push_back(j);
        self.dispatch_jobs(q, now);
        let gap = self.job_gap();
        self.job_arrival_ev = Some(q.schedule_at(SimTime::from_nanos(now + gap), Ev::JobArrival));
    }

    fn on_job_effect(&mut self, w: u32) {
        let wk = &mut self.workers[w as usize];
        wk.effect_ev = None;
        let job = &mut self.jobs[wk.job as usize];
        if self.f.levers.requeue && job.applied > 0 {
            return; // the idempotency key makes the repeat a no-op
        }
        job.applied += 1;
    }

    fn on_job_done(&mut self, q: &mut Scheduler<Ev>, w: u32, now: u64) {
        let wk = self.workers[w as usize];
        let j = wk.job;
        let job = &mut self.jobs[j as usize];
        if job.state == JobState::Leased && job.worker == w && job.delivery == wk.delivery {
            job.state = JobState::Done;
            if let Some(ev) = job.lease_ev.take() {
                q.cancel(ev);
            }
        }
        let wk = &mut self.workers[w as usize];
        wk.job = NONE;
        wk.done_ev = None;
        let p = wk.pod;
        self.worker_fetch(q, w, now);
        self.try_finish_drain(q, p, now);
    }

    fn on_lease_expire(&mut self, q: &mut Scheduler<Ev>, j: u32, delivery: u32, now: u64) {
        let job = &mut self.jobs[j as usize];
        if job.state != JobState::Leased || job.delivery != delivery {
            return;
        }
        job.lease_ev = None;
        job.state = JobState::Queued;
        job.worker = NONE;
        self.job_queue.push_front(j);
        self.dispatch_jobs(q, now);
    }

    /// Requeue lever at SIGTERM: stop fetching; keep the job in hand if it fits the budget,
    /// release it otherwise.
    fn stop_workers(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64, exit_by: u64) {
        let ws = self.pods[p as usize].workers.clone();
        for w in ws {
            let wk = self.workers[w as usize];
            self.workers[w as usize].stopped = true;
            if wk.job == NONE || wk.job_end <= exit_by {
                continue;
            }
            // Release: the job goes back to the queue at once.
            let wk = &mut self.workers[w as usize];
            for ev in [wk.effect_ev.take(), wk.done_ev.take()]
                .into_iter()
                .flatten()
            {
                q.cancel(ev);
            }
            let j = wk.job;
            wk.job = NONE;
            let job = &mut self.jobs[j as usize];
            if let Some(ev) = job.lease_ev.take() {
                q.cancel(ev);
            }
            job.state = JobState::Queued;
            job.worker = NONE;
            self.job_queue.push_front(j);
        }
        self.dispatch_jobs(q, now);
    }

    fn kill_workers(&mut self, q: &mut Scheduler<Ev>, p: u32) {
        let ws = std::mem::take(&mut self.pods[p as usize].workers);
        for &w in &ws {
            let wk = &mut self.workers[w as usize];
            wk.dead = true;
            for ev in [wk.effect_ev.take(), wk.done_ev.take()]
                .into_iter()
                .flatten()
            {
                q.cancel(ev);
            }
            // The job stays leased to the dead worker until its lease expires.
        }
        self.pods[p as usize].workers = ws;
    }

    // -----------------------------------------------------------------------------------------
    // End of run

    fn stop_load(&mut self, q: &mut Scheduler<Ev>, now: u64) {
        if self.load_stopped {
            return;
        }
        self.load_stopped = true;
        self.load_end = now;
        if let Some(ev) = self.arrival_ev.take() {
            q.cancel(ev);
        }
        if let Some(ev) = self.job_arrival_ev.take() {
            q.cancel(ev);
        }
    }

    fn finish_run(
        mut self,
        scenario: &str,
        opts: &SimOptions,
        trace: &Trace,
        end_now: u64,
        events: u64,
    ) -> Result<SimRun, SimError> {
        let fail = |what: String| SimError::Conservation {
            scenario: scenario.to_string(),
            seed: opts.seed,
            what,
        };
        // Requests still open when the run stops (should be none): counted as timeouts.
        if self.live_reqs > 0 {
            let mut open: Vec<u32> = Vec::new();
            let mut free = vec![false; self.reqs.len()];
            for &r in &self.free_reqs {
                free[r as usize] = true;
            }
            for (i, f) in free.iter().enumerate() {
                if !f {
                    open.push(i as u32);
                }
            }
            for r in open {
                let req = self.reqs[r as usize];
                self.samples.push(Sample {
                    intended_ns: req.intended,
                    start_ns: req.intended,
                    end_ns: req.intended.saturating_add(self.deadline).max(end_now),
                    outcome: Outcome::Timeout,
                    new_conn: req.new_conn,
                });
                let expired = req.intended.saturating_add(self.deadline) <= end_now;
                self.mechs.push(Some(if expired {
                    Mechanism::DeadlineExceeded
                } else {
                    Mechanism::Unfinished
                }));
                self.live_reqs -= 1;
            }
        }
        if self.samples.len() as u64 != self.sent {
            return Err(fail(format!(
                "{} requests sent, {} outcomes recorded",
                self.sent,
                self.samples.len()
            )));
        }

        // The ledger.
        let mut jobs = JobCounts {
            published: self.jobs.len() as u64,
            ..JobCounts::default()
        };
        for job in &self.jobs {
            match job.applied {
                0 => {
                    let dead =
                        job.state == JobState::Leased && self.workers[job.worker as usize].dead;
                    if dead {
                        jobs.lost += 1;
                    } else {
                        jobs.pending += 1;
                    }
                }
                1 => jobs.applied_once += 1,
                _ => jobs.duplicated += 1,
            }
        }
        if !jobs.is_conserved() {
            return Err(fail(format!("job ledger does not add up: {jobs:?}")));
        }

        let rollout_complete = self.rollout_end.is_some();
        let rollout_end = self
            .rollout_end
            .unwrap_or(self.load_end)
            .max(self.rollout_start);
        let marks = RunMarks {
            load_start_ns: 0,
            rollout_start_ns: self.rollout_start,
            rollout_end_ns: rollout_end,
            load_end_ns: self.load_end.max(rollout_end),
        };
        let config = AnalyzeConfig {
            tail_ns: dur(self.f.run.tail),
            bucket_ns: dur(self.f.run.bucket),
            ..AnalyzeConfig::default()
        };
        let label = RunLabel {
            source: Source::Sim,
            scenario: scenario.to_string(),
            seed: Some(opts.seed),
        };
        let analysis = analyze(
            &self.samples,
            &marks,
            Some(&self.endpoints),
            jobs,
            &label,
            &config,
        );
        let s = &analysis.summary;
        if !s.requests.is_conserved() {
            return Err(fail(format!(
                "window outcomes do not sum to sent: {:?}",
                s.requests
            )));
        }

        let window_start = marks.rollout_start_ns;
        let window_end = (s.window_s[1] * 1e9).round() as u64;
        let mut by_mech: BTreeMap<String, u64> = Mechanism::ALL
            .iter()
            .map(|m| (m.as_str().to_string(), 0))
            .collect();
        let mut attributed = 0u64;
        for (sample, mech) in self.samples.iter().zip(&self.mechs) {
            let t = sample.intended_ns;
            if t < window_start || t >= window_end || !sample.outcome.is_failure() {
                continue;
            }
            let Some(m) = mech else {
                return Err(fail(format!(
                    "a {} outcome has no mechanism",
                    sample.outcome
                )));
            };
            *by_mech
                .get_mut(m.as_str())
                .expect("every mechanism is a key") += 1;
            attributed += 1;
        }
        if attributed != s.failed {
            return Err(fail(format!(
                "{attributed} failures attributed to a mechanism, {} failed in the window",
                s.failed
            )));
        }
        *by_mech
            .get_mut(Mechanism::RedeliveredJob.as_str())
            .expect("key") = jobs.duplicated;
        *by_mech.get_mut(Mechanism::LostJob.as_str()).expect("key") = jobs.lost;

        let endpoints = self.endpoints.clone();
        let mut shutdowns: Vec<PodShutdown> = self
            .pods
            .iter_mut()
            .enumerate()
            .filter(|(_, p)| p.deleted)
            .map(|(i, p)| PodShutdown {
                pod: i as u32,
                deleted_ns: p.deleted_at,
                steps: std::mem::take(&mut p.steps),
                exit_code: p.exit_code,
            })
            .collect();
        shutdowns.sort_by_key(|s| (s.deleted_ns, s.pod));
        Ok(SimRun {
            analysis,
            endpoints,
            marks,
            digest: trace.digest(),
            events,
            retries: self.retries,
            failures_by_mechanism: by_mech,
            rollout_complete,
            shutdowns,
        })
    }
}
