//! The simulation: one seed of one fleet, from the baseline through the rollout to the settled
//! ledger, measured by [`measure::analyze`].
//!
//! Time flows through a single [`Scheduler`]; every component draws from its own named stream.
//! Requests, connections and pods live in slabs indexed by `u32` (no per-request heap
//! allocation once the slabs have grown); per-request timers are cancelled when a pod dies.

use std::collections::{BTreeMap, VecDeque};

use measure::{
    Analysis, AnalyzeConfig, EndpointSeries, JobCounts, Outcome, RunLabel, RunMarks, Sample,
    ShutdownStep, Source, analyze_with_connections,
};
use serde::{Deserialize, Serialize};
use sim_core::{
    Event, EventId, Sampler, Scheduler, SimDuration, SimTime, Stream, Streams, TieOrder, Trace,
    TraceDigest,
};

use crate::config::{
    AckMode, Arrivals, BalancerKind, BalancerSpec, ConfigError, ConnectionStyle, Fleet, FrontSpec,
    OnSigterm, QueueConfig,
};
use crate::plan::Plan;

const NONE: u32 = u32::MAX;
const NEVER: u64 = u64::MAX;
/// The shortest gap between two requests of one closed-loop worker.
const CLOSED_LOOP_FLOOR_NS: u64 = 1_000_000;

/// What caused a failed request, a duplicated job or a lost job. Every failure has exactly one.
///
/// Mechanisms order by name ([`Mechanism::as_str`]), so a `BTreeMap<Mechanism, _>` lists them
/// alphabetically, as the `failed_by.*` columns of `digests.csv` and the mechanism table do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// The L7 proxy, or a `balancer.front` hop, gave up on a slow upstream (504; a GCLB
    /// front's 502).
    UpstreamTimeout,
    /// The run ended before the request did (should not happen; counted, never hidden).
    Unfinished,
    /// A job's side effect applied more than once (a redelivery without idempotency).
    RedeliveredJob,
    /// A job never applied: still leased to a dead worker when the run ended, or acked on
    /// receipt (`queue.ack = "on_receipt"`) by a worker that died before its side effect.
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

    /// The mechanism with this name.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// `true` for the request mechanisms (their counts sum to the summary's `failed`).
    pub const fn is_request(self) -> bool {
        !matches!(self, Mechanism::RedeliveredJob | Mechanism::LostJob)
    }
}

impl Ord for Mechanism {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Mechanism {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to run one seed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimOptions {
    /// The seed of every random stream in the run.
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
    pub failures_by_mechanism: BTreeMap<Mechanism, u64>,
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
    /// The fleet failed validation; every error found, in field order.
    Invalid(Vec<ConfigError>),
    #[error("conservation check failed (scenario {scenario}, seed {seed}): {what}")]
    /// An end-of-run count did not add up (a request or job was neither finished nor accounted for): a simulator bug.
    Conservation {
        /// The scenario's name.
        scenario: String,
        /// The seed of the failing run.
        seed: u64,
        /// Which count did not add up, with its numbers.
        what: String,
    },
    /// The run outgrew one of [`crate::limits`]' bounds (requests, jobs or events):
    /// stopped rather than exhaust memory or run without end.
    #[error("run stopped at {at} (scenario {scenario}, seed {seed}): {what}")]
    Limit {
        /// The scenario's name.
        scenario: String,
        /// The seed.
        seed: u64,
        /// The simulated time when it stopped.
        at: SimTime,
        /// Which bound, and the fields that set the run's size.
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
    World::run(scenario, fleet, opts, &trace, &RunCaps::LIMITS)
}

/// The bounds a run is held to while it runs ([`crate::limits`] in [`simulate`]).
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct RunCaps {
    /// Requests sent.
    pub requests: u64,
    /// Jobs published.
    pub jobs: u64,
    /// Events executed.
    pub events: u64,
}

impl RunCaps {
    const LIMITS: RunCaps = RunCaps {
        requests: crate::limits::MAX_REQUESTS,
        jobs: crate::limits::MAX_JOBS,
        events: crate::limits::MAX_EVENTS,
    };
}

/// [`simulate`] with other caps than [`crate::limits`]' (for tests of the caps themselves).
#[doc(hidden)]
pub fn simulate_capped(
    scenario: &str,
    fleet: &Fleet,
    opts: &SimOptions,
    caps: &RunCaps,
) -> Result<SimRun, SimError> {
    fleet.validate().map_err(SimError::Invalid)?;
    World::run(scenario, fleet, opts, &Trace::new(), caps)
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
    World::run(scenario, fleet, opts, trace, &RunCaps::LIMITS)
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
    Slice {
        pod: u32,
        ep: Ep,
        ver: u32,
    },
    View {
        pod: u32,
        ep: Ep,
        ver: u32,
    },
    Started(u32),
    Probe(u32),
    Available(u32),
    RolloutStart,
    Sigterm(u32),
    Sigkill(u32),
    DrainDeadline(u32),
    Guardian(u32),
    JitterClose {
        conn: u32,
        generation: u32,
    },
    SidecarExit(u32),
    DeregClose {
        pod: u32,
        ver: u32,
    },
    JobArrival,
    JobEffect(u32),
    JobDone(u32),
    LeaseExpire {
        job: u32,
        delivery: u32,
    },
    LoadStop,
    /// A health-checked balancer has seen `unhealthy_threshold` failed checks of this pod: it
    /// routes nothing new to it.
    Unhealthy(u32),
    /// The application's `keep_serving` after SIGTERM is over: its `on_sigterm` acts.
    AppShutdown(u32),
    /// The readiness probe has failed `failure_threshold` times (the app failed readiness).
    ReadinessFailed(u32),
    /// A Linkerd proxy's waitBeforeExitSeconds is over: it refuses new inbound connections.
    SidecarRefuse(u32),
    /// `client.eager_reconnect`: keep-alive client `client` has seen the server close one of
    /// its connections and reopens at once (the SYN leaves now).
    EagerReopen {
        client: u32,
    },
    /// The SYN of an eager reopen reaches its pod.
    EagerConnArrive {
        conn: u32,
        generation: u32,
    },
    /// The handshake of an eager reopen has completed at the client.
    EagerOpened {
        conn: u32,
        generation: u32,
    },
    /// `client.eager_reconnect` with `server.idle_timeout`: the server's idle timer of a
    /// client connection may fire now (a no-op if the connection was used since).
    EagerIdleCheck {
        conn: u32,
        generation: u32,
    },
    /// `[streams]`: stream `id` tries to open (its client's SYN, or its request to the L7
    /// proxy, leaves now).
    StreamConnect {
        id: u32,
    },
    /// The SYN of stream `id`'s attempt reaches its pod (through the proxy for L7).
    StreamArrive {
        id: u32,
        conn: u32,
        generation: u32,
    },
    /// Stream `id`'s response headers have reached its client: the stream is open.
    StreamOpened {
        id: u32,
        conn: u32,
        generation: u32,
    },
    /// `balancer.front`: the front hop sends request `r` through the inner hop again (a retry
    /// after an answer in `front_retry_on`).
    FrontRetry(u32),
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
            Ev::AppShutdown(_) => 24,
            Ev::ReadinessFailed(_) => 25,
            Ev::SidecarRefuse(_) => 26,
            Ev::EagerReopen { .. } => 27,
            Ev::EagerConnArrive { .. } => 28,
            Ev::EagerOpened { .. } => 29,
            Ev::EagerIdleCheck { .. } => 30,
            Ev::Unhealthy(_) => 31,
            Ev::StreamConnect { .. } => 32,
            Ev::StreamArrive { .. } => 33,
            Ev::StreamOpened { .. } => 34,
            Ev::FrontRetry(_) => 35,
        }
    }
}

/// Who cuts a pod's data path (`kill_data_path`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CutBy {
    /// The application: it exits or its drain times out.
    App,
    /// The pod's sidecar proxy exits.
    Sidecar,
    /// The balancer drops the target (its deregistration delay ends).
    Balancer,
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
    /// Refused by a draining pod that could not finish it (`app.shed_unfinishable`).
    shed: bool,
    upstream_sent: u64,
    /// `balancer.front`: when the front first sent this attempt to the inner hop (its timeout
    /// counts from here) and the retries it has made.
    front_sent: u64,
    front_tries: u8,
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
    /// When the server accepted it (for `server.max_age`).
    opened_at: u64,
    /// Responses the server has sent on it (for `server.max_requests`).
    served: u32,
    /// The keep-alive client it belongs to (NONE: a new-connection request or upstream).
    client: u32,
    /// The long-lived stream it carries (NONE: none).
    stream: u32,
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
    /// The pod has stopped answering a health-checked balancer's checks (its `Unhealthy` is
    /// scheduled).
    health_failed: bool,
    /// A health-checked balancer has marked it unhealthy: no new traffic, unless every target
    /// is (fail open).
    lb_unhealthy: bool,
    successes: u32,
    available: bool,
    deleted: bool,
    draining: bool,
    drain_expired: bool,
    exit_deadline: u64,
    /// While draining: the drain's deadline (`drain.timeout` or the guardian, the sooner).
    drain_deadline: u64,
    busy: u32,
    /// The node it runs on (`[nodes]`), round-robin in creation order.
    node: u32,
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
    ev_app: Option<EventId>,
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
            health_failed: false,
            lb_unhealthy: false,
            successes: 0,
            available: false,
            deleted: false,
            draining: false,
            drain_expired: false,
            exit_deadline: NEVER,
            drain_deadline: NEVER,
            busy: 0,
            node: 0,
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
            ev_app: None,
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
    /// The phase of a health-checked balancer's checks against a pod that stops answering.
    health: Stream,
}

struct Samplers {
    service: Sampler,
    /// `pod.service_time_while_pods_start`, when given.
    service_while_starts: Option<Sampler>,
    startup: Sampler,
    slice: Sampler,
    lag: Sampler,
    job_duration: Sampler,
}

struct World<'f> {
    f: &'f Fleet,
    /// The resolved plan (rollout fenceposts, probe, shutdown path, server limits).
    plan: Plan,
    /// The job queue; rate 0 when the fleet has none.
    queue: QueueConfig,
    bal: BalancerSpec,
    /// `balancer.front`: the outer hop, and its retry backoff draws (a stream of its own, made
    /// only when the fleet has a front).
    front: Option<FrontSpec>,
    front_rng: Option<Stream>,
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
    /// Pods created and not yet ready, deleted or gone (`pod.service_time_while_pods_start`).
    pods_starting: u32,
    load_stopped: bool,
    load_end: u64,
    /// The latest view update scheduled so far (for balancers with ordered, full-state syncs).
    view_clock: u64,
    /// Start and end of the latest sync scheduled by the sync limiter
    /// (`Plan::sync`: `propagation.min_sync_period` or a preset's reload throttle).
    sync_start: u64,
    sync_end: Option<u64>,
    /// Requests in service per node (`[nodes]`; empty without it).
    node_busy: Vec<u32>,
    /// `client.eager_reconnect`: when each reopen that connected completed its handshake at
    /// the client (the reconnect curve counts these, as the analyzer counts `why: "eager"`).
    eager_opens: Vec<u64>,
    /// `client.eager_reopen_rate`: the serial opener's cost per reopen (ns, `1e9 / rate`
    /// rounded up, so the rate is never exceeded), and when it is next free.
    reopen_cost: Option<u64>,
    opener_free: u64,
    /// `[streams]`: each stream's state, the events its client saw, and the backoff draws
    /// (a stream of its own, made only when the fleet has streams).
    streams: Vec<SimStream>,
    stream_events: Vec<measure::StreamEvent>,
    stream_rng: Option<Stream>,
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
        caps: &RunCaps,
    ) -> Result<SimRun, SimError> {
        let mut streams = Streams::new(opts.seed, trace.clone());
        let plan = f.plan();
        let bal = plan.balancer.clone();
        let front = plan.front.clone();
        let queue = plan.queue.clone().unwrap_or(QueueConfig {
            rate: 0.0,
            ..QueueConfig::default()
        });
        let sampler = |d: &sim_core::Dist| d.sampler().expect("validated distribution");
        let smp = Samplers {
            service: sampler(&f.pod.service_time),
            service_while_starts: f.pod.service_time_while_pods_start.as_ref().map(sampler),
            startup: sampler(&f.pod.startup),
            slice: sampler(&f.propagation.endpointslice),
            lag: sampler(&plan.lag),
            job_duration: sampler(&queue.duration),
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
            health: streams.stream("balancer.health"),
        };
        let ties = if opts.shuffle_ties {
            TieOrder::Shuffled(Box::new(streams.stream("scheduler.ties")))
        } else {
            TieOrder::Fifo
        };
        let mut q: Scheduler<Ev> = Scheduler::with_ties(trace.clone(), ties);
        let (surge, unavailable) = (plan.max_surge, plan.max_unavailable);
        let n = f.pod.replicas;
        let expect = if f.load.clients == 0 {
            (f.load.rate * (f.run.baseline.as_secs_f64() + 120.0)).min(4_000_000.0) as usize
        } else {
            1024
        };
        let mut w = World {
            f,
            plan,
            queue,
            bal,
            front_rng: front.as_ref().map(|_| streams.stream("balancer.front")),
            front,
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
            pods_starting: 0,
            load_stopped: false,
            load_end: 0,
            view_clock: 0,
            sync_start: 0,
            sync_end: None,
            node_busy: vec![0; f.nodes.as_ref().map_or(0, |n| n.count as usize)],
            eager_opens: Vec::new(),
            reopen_cost: f
                .client
                .eager_reopen_rate
                .map(|rate| ((1e9 / rate).ceil() as u64).max(1)),
            opener_free: 0,
            streams: vec![SimStream::default(); f.streams.as_ref().map_or(0, |s| s.count as usize)],
            stream_events: Vec::new(),
            stream_rng: f
                .streams
                .as_ref()
                .map(|_| streams.stream("streams.reconnect")),
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
            w.place(p);
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
        if w.queue.rate > 0.0 {
            let gap = w.job_gap();
            w.job_arrival_ev = Some(q.schedule_at(SimTime::from_nanos(gap), Ev::JobArrival));
        }
        for id in 0..w.streams.len() as u32 {
            q.schedule_at(SimTime::ZERO, Ev::StreamConnect { id });
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
                    if q.executed().is_multiple_of(4096) {
                        w.check_size(scenario, opts, caps, q.now(), q.executed())?;
                    }
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
        w.check_size(scenario, opts, caps, q.now(), q.executed())?;
        // The run ends at the settle horizon, whatever the time of its last event.
        let end_now = w.load_end.saturating_add(settle).max(q.now().as_nanos());
        w.finish_run(scenario, opts, trace, end_now, q.executed())
    }

    /// The run's size against [`crate::limits`]; checked every 4096 events.
    fn check_size(
        &self,
        scenario: &str,
        opts: &SimOptions,
        caps: &RunCaps,
        now: SimTime,
        events: u64,
    ) -> Result<(), SimError> {
        let what = if self.sent > caps.requests {
            format!(
                "{} requests sent, above the limit of {} per run: lower load.rate (or load.clients) or run.max_duration",
                self.sent, caps.requests
            )
        } else if self.jobs.len() as u64 > caps.jobs {
            format!(
                "{} jobs published, above the limit of {} per run: lower queue.rate or run.max_duration",
                self.jobs.len(),
                caps.jobs
            )
        } else if events > caps.events {
            format!(
                "{events} events, above the limit of {} per run: lower the load (load.rate, load.clients), the probe rate (pod.readiness.period) or run.max_duration",
                caps.events
            )
        } else {
            return Ok(());
        };
        Err(SimError::Limit {
            scenario: scenario.to_string(),
            seed: opts.seed,
            at: now,
            what,
        })
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
            Ev::FrontRetry(r) => self.front_retry(q, r, now),
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
            Ev::EagerReopen { client } => self.on_eager_reopen(q, client, now),
            Ev::EagerConnArrive { conn, generation } => {
                if self.conn_is(conn, generation) {
                    self.on_eager_conn_arrive(q, conn, now);
                }
            }
            Ev::EagerOpened { conn, generation } => {
                if self.conn_is(conn, generation) {
                    self.on_eager_opened(q, conn, now);
                }
            }
            Ev::EagerIdleCheck { conn, generation } => {
                if self.conn_is(conn, generation) {
                    self.server_idle_close(q, conn, now);
                }
            }
            Ev::StreamConnect { id } => self.on_stream_connect(q, id, now),
            Ev::StreamArrive {
                id,
                conn,
                generation,
            } => {
                if self.conn_is(conn, generation) {
                    self.on_stream_arrive(q, id, conn, now);
                }
            }
            Ev::StreamOpened {
                id,
                conn,
                generation,
            } => {
                if self.conn_is(conn, generation) {
                    self.on_stream_opened(id, conn, now);
                }
            }
            Ev::JitterClose { conn, generation } => {
                let c = self.conns[conn as usize];
                if c.live && c.generation == generation {
                    self.drain_close(q, conn, now);
                }
            }
            Ev::SidecarExit(p) => {
                self.pods[p as usize].ev_sidecar = None;
                self.kill_data_path(q, p, now, CutBy::Sidecar);
                self.try_finish_drain(q, p, now);
            }
            Ev::DeregClose { pod, ver } => {
                if self.pods[pod as usize].view_ver == ver {
                    let idle = std::mem::take(&mut self.pods[pod as usize].up_idle);
                    for c in idle {
                        self.server_close(c, now);
                        self.free_conn(c);
                    }
                    // The delay bounds how long the balancer keeps the target: requests still
                    // in flight on its connections are cut (the balancer's 502). An NLB with
                    // connection termination resets every flow to the target, idle ones too.
                    let l4 = self.bal.kind == BalancerKind::L4;
                    let pod_ref = &self.pods[pod as usize];
                    // Streams through an L7 balancer are cut with the target too.
                    let streams = pod_ref
                        .conns
                        .iter()
                        .any(|&c| self.conns[c as usize].stream != NONE);
                    if pod_ref.phase != Phase::Gone
                        && (!pod_ref.inflight.is_empty()
                            || (l4 && !pod_ref.conns.is_empty())
                            || streams)
                    {
                        self.kill_data_path(q, pod, now, CutBy::Balancer);
                        self.try_finish_drain(q, pod, now);
                    }
                }
            }
            Ev::JobArrival => self.on_job_arrival(q, now),
            Ev::JobEffect(wk) => self.on_job_effect(wk),
            Ev::JobDone(wk) => self.on_job_done(q, wk, now),
            Ev::LeaseExpire { job, delivery } => self.on_lease_expire(q, job, delivery, now),
            Ev::LoadStop => self.stop_load(q, now),
            Ev::AppShutdown(p) => {
                self.pods[p as usize].ev_app = None;
                self.app_shutdown(q, p, now);
            }
            Ev::SidecarRefuse(p) => {
                let pod = &self.pods[p as usize];
                if pod.phase != Phase::Gone && pod.inbound_open {
                    self.sidecar_refuse(q, p, now);
                    let ep = self.term_ep(p);
                    self.slice_set(q, p, ep, now);
                }
            }
            Ev::Unhealthy(p) => {
                self.pods[p as usize].lb_unhealthy = true;
                self.rebuild_views();
            }
            Ev::ReadinessFailed(p) => {
                let pod = &mut self.pods[p as usize];
                if pod.phase != Phase::Gone && !pod.readiness_failed {
                    pod.readiness_failed = true;
                    let ep = self.term_ep(p);
                    self.slice_set(q, p, ep, now);
                }
            }
        }
    }
}

mod clients;
mod finish;
mod lifecycle;
mod propagation;
mod queue;
mod serving;
mod streams;

use streams::SimStream;
