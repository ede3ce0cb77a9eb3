//! The fleet a scenario describes: every section, its defaults and their sources, and the
//! semantic checks.
//!
//! Every struct rejects unknown fields and every field has a default, so a scenario file names
//! only what differs from the defaults. Durations are strings (`"250ms"`, `"30s"`); a
//! distribution is a duration string (a constant) or a table with a `kind` (see [`sim_core::Dist`]).

use std::fmt;

use measure::Outcome;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sim_core::{Dist, SimDuration};

const fn ms(v: u64) -> SimDuration {
    SimDuration::from_millis(v)
}
const fn secs(v: u64) -> SimDuration {
    SimDuration::from_secs(v)
}

/// Everything a scenario file describes, one TOML table per section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fleet {
    /// `[run]`: baseline, tail, timeline bucket, settle time and the cap on simulated time.
    pub run: RunConfig,
    /// `[load]`: the offered load.
    pub load: LoadConfig,
    /// `[client]`: connections and retries.
    pub client: ClientConfig,
    /// `[balancer]`: the proxy or load balancer in front of the pods.
    pub balancer: BalancerConfig,
    /// `[propagation]`: from a pod change to each balancer's view.
    pub propagation: PropagationConfig,
    /// `[pod]`: the Deployment's pods.
    pub pod: PodConfig,
    /// `[container]`: how the container starts its process.
    pub container: ContainerConfig,
    /// `[lifecycle]`: what the kubelet does on deletion (grace period, preStop).
    pub lifecycle: LifecycleConfig,
    /// `[app]`: what the application does on SIGTERM.
    pub app: AppConfig,
    /// `[server]`: the application server's keep-alive limits.
    pub server: ServerConfig,
    /// `[drain]`: the application's drain (timeout, keep-alive jitter, guardian).
    pub drain: DrainConfig,
    /// `[rollout]`: the Deployment's RollingUpdate strategy.
    pub rollout: RolloutConfig,
    /// The job queue and its worker; absent = the pods run no worker.
    pub queue: Option<QueueConfig>,
    /// Nodes and their CPU; absent = every pod has CPU to spare.
    pub nodes: Option<NodesConfig>,
    /// Long-lived streams the clients hold; absent = none. Not serialized when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streams: Option<StreamsConfig>,
}

/// `[streams]`: long-lived streams (server-sent events) held through the rollout, as the live
/// generator's `fleetsim load --sse N` holds them. Every stream opens at the run's start on its
/// own connection, routed by the balancer like any new connection (an L7 proxy holds one
/// upstream connection per stream), and stays open until its pod ends it:
/// - a draining application ends it cleanly (`eof`) when it closes that connection: at once,
///   paced by `drain.close_rate`, or at the connection's time in `drain.jitter_window` (the
///   real service's shutdown event);
/// - a process that exits (at once, at the drain deadline, by the guardian or SIGKILL), a
///   sidecar that exits or a balancer that drops the target cuts it (`reset`).
///
/// The client reconnects after a drop or a failed attempt as the generator does (`reconnect`).
/// A stream's connection counts as open for the drain (which waits for connections), so a
/// stream holds its pod until the drain closes it. Streams carry no requests and use no CPU.
/// The figures (opens, drops by reason, failed attempts, time to reconnect, when the drops
/// happened) are the summary's `streams`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamsConfig {
    /// Streams held (`--sse N`), 1 to 100000.
    pub count: u32,
    /// How a stream reconnects after a drop or a failed attempt (`--sse-reconnect`): `backoff`
    /// (the default: full jitter, uniform in [0, min(max, base x 2^failures)], failures counted
    /// since the last open) or `immediate` (at once after a drop, 1 ms after a failed attempt).
    pub reconnect: StreamReconnect,
    /// The first backoff (`--sse-backoff-base`, 100 ms); only with `reconnect = "backoff"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_base: Option<SimDuration>,
    /// The longest backoff (`--sse-backoff-max`, 5 s); only with `reconnect = "backoff"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_max: Option<SimDuration>,
}

impl Default for StreamsConfig {
    fn default() -> Self {
        StreamsConfig {
            count: 1,
            reconnect: StreamReconnect::Backoff,
            backoff_base: None,
            backoff_max: None,
        }
    }
}

impl StreamsConfig {
    /// The first backoff: `backoff_base` or the generator's default, 100 ms.
    pub fn base(&self) -> SimDuration {
        self.backoff_base.unwrap_or(ms(100))
    }

    /// The longest backoff: `backoff_max` or the generator's default, 5 s.
    pub fn max(&self) -> SimDuration {
        self.backoff_max.unwrap_or(secs(5))
    }
}

/// `streams.reconnect`: when a stream tries again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamReconnect {
    /// At once after a drop; 1 ms after a failed attempt.
    Immediate,
    /// Full-jitter exponential backoff.
    Backoff,
}

/// `[nodes]`: pods placed on nodes, each with `cores`; a request in service draws
/// `cpu_per_request` of a core. When a node's demand exceeds its cores, each request that
/// starts there is served `demand / cores` times slower (processor sharing, evaluated at the
/// request's start: a fair share of the node's cores for its whole service). Co-located pods,
/// a surge pod landing on a busy node and a cold start (which lengthens service and so keeps
/// more requests in service) all move the latency percentiles through it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodesConfig {
    /// Nodes; pods are placed round-robin in creation order (old pods first, then new ones).
    pub count: u32,
    /// Cores per node (the node's CPU capacity, which `fleetsim calibrate` reads from
    /// `status.capacity.cpu`: a pod without a CPU limit may use every core).
    pub cores: f64,
    /// Cores one request in service uses (1.0: CPU-bound; real-service's endpoint sleeps: near
    /// 0): CPU seconds per request over the service time. `fleetsim calibrate` measures it from
    /// the kubelet's CPU figures of a live run.
    pub cpu_per_request: f64,
}

impl Default for NodesConfig {
    fn default() -> Self {
        NodesConfig {
            count: 1,
            cores: 2.0,
            cpu_per_request: 1.0,
        }
    }
}

/// `[run]`: the shape of one simulated run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Steady-state load before the rollout starts (the baseline).
    pub baseline: SimDuration,
    /// Fixed tail after the rollout ends, inside the deploy window; load stops after it
    /// (the deploy window is the rollout plus a fixed tail; `measure::AnalyzeConfig` default 5 s).
    pub tail: SimDuration,
    /// Timeline bucket width (`measure::AnalyzeConfig` default 1 s).
    pub bucket: SimDuration,
    /// After load stops, the fleet keeps running this long so jobs and requests in flight settle
    /// (no new requests or jobs). Jobs still unapplied then are `pending` or `lost`.
    pub settle: SimDuration,
    /// Hard cap on simulated time: a rollout that has not finished by then is cut off there
    /// (and [`crate::SimRun::rollout_complete`] is `false`).
    pub max_duration: SimDuration,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            baseline: secs(20),
            tail: secs(5),
            bucket: secs(1),
            settle: secs(2),
            max_duration: secs(1800),
        }
    }
}

/// How open-loop requests are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Exactly `1/rate` apart.
    Constant,
    /// Exponential gaps with mean `1/rate`.
    Poisson,
}

/// `[load]`: the offered load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoadConfig {
    /// Requests per second (open loop). Ignored when `clients > 0`.
    pub rate: f64,
    /// How open-loop requests are spaced (`poisson` or `uniform`).
    pub arrivals: Arrivals,
    /// The client's deadline per request, from its intended start.
    pub deadline: SimDuration,
    /// Closed-loop workers (each sends, waits for the outcome, sends again, as bombardier, hey
    /// and Fortio do; at most one request per worker per millisecond). `0` (the default) means
    /// open loop at `rate`. A closed-loop request's intended start is its send time, so its
    /// latency hides queueing the way those tools' numbers do.
    pub clients: u32,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            rate: 200.0,
            arrivals: Arrivals::Poisson,
            deadline: secs(10),
            clients: 0,
        }
    }
}

/// How the client reaches the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStyle {
    /// A new TCP connection per request.
    New,
    /// `pool` virtual clients, each reusing its keep-alive connection.
    Keepalive,
}

/// `[client]`: connections and retries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// How the client reaches the service: one connection per request, or keep-alive.
    pub connection: ConnectionStyle,
    /// Keep-alive: K virtual clients, as the live generator runs them (`fleetsim load --mode
    /// keepalive --clients K`): request n goes to client n % K, which reuses its idle
    /// connection, or, if it has none (never opened, closed by the server, busy), opens a new
    /// one at once; an extra connection is closed after use (one idle connection per client).
    /// A client learns that the server closed its idle connection one hop later; a request sent
    /// in between is a keep-alive race.
    pub pool: u32,
    /// A keep-alive connection idle longer than this is closed by the client. Default 90 s:
    /// Go's `http.DefaultTransport` `IdleConnTimeout: 90 * time.Second` (net/http/transport.go).
    pub idle_timeout: SimDuration,
    /// Round-trip time of one network hop (client to pod for L4; client to proxy and proxy to pod
    /// each for L7). A new connection costs one extra round trip (the TCP handshake).
    pub rtt: SimDuration,
    /// A new connection whose SYN nobody answers (the pod's IP is gone) fails after this, as
    /// `timeout`. Default 2 s: the live generator's `fleetsim load --connect-timeout`. Go's
    /// `net.Dialer` in `http.DefaultTransport` waits 30 s; Linux alone retries the SYN for
    /// about 127 s (`net.ipv4.tcp_syn_retries` 6).
    pub connect_timeout: SimDuration,
    /// Client retries after a failed attempt (`[client.retry]`); off by default.
    pub retry: RetryConfig,
    /// Keep-alive only, off by default: a client whose connection the server closes (a drain,
    /// an idle timeout, a pod's exit) reopens it at once, ahead of its next request, as the live
    /// generator's `fleetsim load --eager-reconnect` does: one attempt the moment the client sees
    /// the FIN or reset (one hop after the server closed it), no backoff, no retry; a refused or
    /// unanswered reopen is simply not there (the next request connects as usual). The reopened
    /// connection joins the client's idle list only if that list is empty, and a connection the
    /// server closed stays on the list until a request looks at it (the generator's
    /// `--max-idle-per-client 1`): so a reopen of an idle connection is closed by the client at
    /// once, and the next request opens its own. The reconnect curve counts every reopen that
    /// connected, at the time its handshake completed (the `why: "eager"` `open` records the
    /// analyzer counts). Not serialized when off.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub eager_reconnect: bool,
    /// With `eager_reconnect` only: the most reopens per second the client side completes.
    /// Every eager reopen goes through one serial opener, as the live generator's reopens all
    /// run on its one reconnect thread, which pays each connect in CPU (socket, connect, epoll
    /// registration, the handshake's wake-ups, the records): a reopen waits for the ones before
    /// it, then takes `1 / eager_reopen_rate` s before its SYN leaves, so a drain that closes K
    /// idle connections at once gets its reopens spaced by that cost instead of all in one
    /// instant. Absent (the default): no cost, every reopen at once. Measured on loopback with
    /// `loadgen/examples/connect-burst.rs`. Not serialized when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eager_reopen_rate: Option<f64>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connection: ConnectionStyle::Keepalive,
            pool: 32,
            idle_timeout: secs(90),
            rtt: SimDuration::from_micros(500),
            connect_timeout: secs(2),
            retry: RetryConfig::default(),
            eager_reconnect: false,
            eager_reopen_rate: None,
        }
    }
}

/// `[client.retry]`: the client's own retry policy. Off by default; every retry is counted in
/// [`crate::SimRun::retries`], and a request's outcome is that of its last attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Extra attempts after the first (0 = no retries).
    pub attempts: u32,
    /// Wait between a failure and the next attempt.
    pub backoff: SimDuration,
    /// Outcomes that are retried.
    pub on: Vec<Outcome>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            attempts: 0,
            backoff: ms(100),
            on: vec![
                Outcome::Refused,
                Outcome::Reset,
                Outcome::Http502,
                Outcome::Http503,
            ],
        }
    }
}

/// Which kind of balancer sits between the clients and the pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BalancerKind {
    /// Picks a pod per new connection (kube-proxy DNAT); connections stay pinned (conntrack).
    L4,
    /// Picks a pod per request, keeps upstream keep-alive connections, answers 502/503/504.
    L7,
}

/// An inbound proxy in each pod, between whatever picks the pod and the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sidecar {
    /// Istio's Envoy: at pod deletion it stops accepting new inbound connections and exits
    /// after `terminationDrainDuration` (`sidecar_drain`, default 5 s), cutting what is left;
    /// a request it has accepted that the application then fails (the app exits under it) is
    /// answered 503 (response flag UC), not reset.
    Envoy,
    /// Linkerd's proxy: `wait_before_exit` after deletion (its preStop,
    /// `config.alpha.linkerd.io/proxy-wait-before-exit-seconds`, default 0) it gets SIGTERM and
    /// refuses new inbound connections and requests (idle connections closed, busy ones after
    /// their response), lets in-flight requests finish and stays up until the pod's
    /// application exits; a request it accepted that the application then fails is answered
    /// 502 ("connection closed before message completed" / "Connection reset by peer" -> 502 at
    /// the caller: linkerd/linkerd2#4870; "HTTP 502 means connection errors between proxies",
    /// linkerd.io/2/common-errors).
    Linkerd,
}

/// An outer L7 hop in front of the pod-picking balancer (`balancer.front`): the chain
/// `front -> preset -> pod`, where the front's own endpoints (an ingress tier: ingress-nginx,
/// HAProxy, Traefik pods, or the nodes) do not roll with the application. So its endpoint lag,
/// registration, health checks and deregistration do not act; what acts is its retry rule on
/// the statuses the inner hop answers (a retry goes back through the inner hop, which picks a
/// pod again), its request timeout (its own status when the inner hop and its retries take
/// longer) and the status it answers (each front passes the inner hop's response through).
/// Each default is cited on [`Front::spec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Front {
    /// An AWS Application Load Balancer whose targets are the ingress tier (IP or instance
    /// mode): no retries, a 504 when the response does not start within its idle timeout.
    AwsAlb,
    /// A Google Cloud external Application Load Balancer whose backends are the ingress tier:
    /// no retry policy unless the URL map sets one, a 502 after the backend service timeout.
    Gclb,
    /// An Istio ingress gateway (Envoy) in front of the ingress tier: Istio's default retry
    /// policy (2 retries, since Istio 1.24 on connection failures only), no route timeout.
    IstioGateway,
}

/// A front hop's resolved values ([`Front::spec`] with the `balancer.front_*` overrides).
#[derive(Debug, Clone, PartialEq)]
pub struct FrontSpec {
    /// Which front.
    pub front: Front,
    /// Retries through the inner hop after an answer in `retry_on`.
    pub retries: u32,
    /// The inner hop's answers the front retries (`http_502`, `http_503`, `http_504`; a 503
    /// matches the application's own 503 + Retry-After, outcome `shed`, too: it is a 503 on
    /// the wire).
    pub retry_on: Vec<Outcome>,
    /// Retry backoff: the n-th retry waits a uniform draw in
    /// `[0, min(10 x base, base x (2^n - 1))]` (Envoy's fully jittered exponential backoff);
    /// zero for no wait.
    pub backoff_base: SimDuration,
    /// The front's answer when the inner hop and its retries take longer than this, counted
    /// from the front's first send (`MAX`: none).
    pub timeout: SimDuration,
    /// The status of that answer.
    pub timeout_status: Outcome,
}

impl Front {
    /// Every front, in the order the reference lists them.
    pub const ALL: [Front; 3] = [Front::AwsAlb, Front::Gclb, Front::IstioGateway];

    /// The front's name as written in a file.
    pub fn name(self) -> &'static str {
        match self {
            Front::AwsAlb => "aws_alb",
            Front::Gclb => "gclb",
            Front::IstioGateway => "istio_gateway",
        }
    }

    /// The `balancer.front_*` fields this front has a knob for (any other is an error).
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Front::AwsAlb => &["front_timeout"],
            Front::Gclb | Front::IstioGateway => {
                &["front_retries", "front_retry_on", "front_timeout"]
            }
        }
    }

    /// The front's documented defaults.
    pub fn spec(self) -> FrontSpec {
        match self {
            // AWS ALB: no retry setting exists (target group and load balancer attributes have
            // none; a refused or reset target is the ALB's own 502, not retried elsewhere:
            // AWS ELB docs "Troubleshoot your Application Load Balancers", HTTP 502). A
            // target's own responses are passed to the client as they are (the CloudWatch
            // metric HTTPCode_Target_5XX_Count counts "HTTP response codes generated by the
            // targets", apart from HTTPCode_ELB_5XX_Count). Its only request-level timer is the
            // connection idle timeout, `idle_timeout.timeout_seconds`, default 60 s: "the
            // target didn't respond before the idle timeout period elapsed" is a 504 (AWS
            // knowledge center "eks-http-504-errors"); for a response that sends nothing
            // until it is complete, as the model's, that is a response timeout.
            Front::AwsAlb => FrontSpec {
                front: self,
                retries: 0,
                retry_on: Vec::new(),
                backoff_base: SimDuration::ZERO,
                timeout: secs(60),
                timeout_status: Outcome::Http504,
            },
            // Google Cloud external Application Load Balancer: the backend service timeout,
            // default 30 s, is "the amount of time the load balancer waits for your backend to
            // return a complete response" (cloud.google.com load-balancing docs, backend
            // service timeout; gcpdiag rule lb/BP/2025_002), answered 502 with statusDetails
            // `backend_timeout`, as `gclb_neg`. A backend's own response is passed through
            // (statusDetails `response_sent_by_backend`). Retries: none unless the URL map's
            // route action has a `retryPolicy` (Compute API HttpRetryPolicy: `numRetries`
            // default 1, `retryConditions` such as `gateway-error` = 502, 503, 504); the
            // GFE's own retries of some failed GETs are not modelled (as `gclb_neg`). Backoff:
            // Envoy's default 25 ms (assumption; the policy has no backoff field).
            Front::Gclb => FrontSpec {
                front: self,
                retries: 0,
                retry_on: Vec::new(),
                backoff_base: ms(25),
                timeout: secs(30),
                timeout_status: Outcome::Http502,
            },
            // Istio ingress gateway (Envoy): Istio's default route retry policy is 2 retries
            // on `connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes`
            // (istio/istio pilot/pkg/networking/core/route/retry/retry.go `defaultPolicy`);
            // the retriable status 503 is excluded since Istio 1.24
            // (`EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY`, default true: istio/istio#52111), so
            // by default it retries only connection-level failures to the ingress tier, which
            // an application's roll does not cause: `front_retry_on` empty. Before 1.24, or
            // with a VirtualService `retries.retryOn: 503`, it retries the inner hop's 503s
            // (the application's own 503s too: istio/istio#12583). Retry backoff: Envoy's
            // fully jittered exponential backoff, base 25 ms, max 10 x base (Envoy router
            // filter docs; BackoffStrategy `max_interval`). The route timeout "includes all
            // retries" (Envoy router filter docs) and Istio's VirtualService `timeout` is
            // disabled by default (istio.io "Request Timeouts"); when set, Envoy answers 504
            // (response flag UT). Envoy passes an upstream's response through, the last
            // one when retries are exhausted.
            Front::IstioGateway => FrontSpec {
                front: self,
                retries: 2,
                retry_on: Vec::new(),
                backoff_base: ms(25),
                timeout: SimDuration::MAX,
                timeout_status: Outcome::Http504,
            },
        }
    }
}

/// The proxies users actually run, each with its documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// kube-proxy in iptables mode: L4, endpoint sync within 1 s, connections pinned.
    KubeProxyIptables,
    /// ingress-nginx: L7, retries on the next upstream, answers 502/504.
    IngressNginx,
    /// An Envoy sidecar in each pod (Istio): L7, answers 503, drains for `terminationDrainDuration`.
    EnvoySidecar,
    /// A cloud load balancer (ALB/NLB, IP targets): L7, registration, health checks and a deregistration delay.
    CloudLb,
    /// kube-proxy in nftables mode (GA in Kubernetes 1.33, KEP-3866): L4 like iptables.
    KubeProxyNftables,
    /// The Linkerd proxy: picks per request from the destination controller's endpoints;
    /// the server-side proxy refuses new requests at SIGTERM.
    LinkerdSidecar,
    /// The HAProxy Kubernetes Ingress Controller (haproxytech/kubernetes-ingress).
    HaproxyIngress,
    /// Traefik with its Kubernetes Ingress / CRD provider.
    Traefik,
    /// AWS Application Load Balancer, target-type ip (targets are pod IPs).
    AwsAlbIp,
    /// AWS Application Load Balancer, target-type instance (targets are nodes; the NodePort's
    /// kube-proxy picks the pod: a two-hop chain).
    AwsAlbInstance,
    /// AWS Network Load Balancer, target-type ip: an L4 pass-through to pod IPs.
    AwsNlbIp,
    /// AWS Network Load Balancer, target-type instance: connections go to a node's NodePort,
    /// whose kube-proxy picks the pod.
    AwsNlbInstance,
    /// Google Cloud external Application Load Balancer with container-native load balancing
    /// (network endpoint groups: targets are pod IPs).
    GclbNeg,
}

/// `[balancer]`: a preset plus optional overrides. [`BalancerConfig::resolve`] gives the
/// concrete values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BalancerConfig {
    /// The proxy whose documented defaults apply (see [`Preset::spec`]).
    pub preset: Preset,
    /// Must match the preset's kind when given (kube-proxy and the NLB presets are l4, the
    /// others l7).
    pub kind: Option<BalancerKind>,
    /// L7: extra upstreams tried after a connect error or reset (nginx `proxy_next_upstream`).
    pub retries: Option<u32>,
    /// L7: idle timeout of upstream keep-alive connections.
    pub upstream_keepalive: Option<SimDuration>,
    /// L7: requests after which the proxy closes an upstream keep-alive connection and opens a
    /// new one (ingress-nginx `upstream-keepalive-requests`, default 10000; Envoy
    /// `max_requests_per_connection`, default none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_max_requests: Option<u32>,
    /// L7: age after which the proxy closes an upstream keep-alive connection (ingress-nginx
    /// `upstream-keepalive-time`, default 1h; Envoy `max_connection_duration`, default none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_max_age: Option<SimDuration>,
    /// L7: answer 504 when the upstream has not answered within this.
    pub upstream_timeout: Option<SimDuration>,
    /// L7: give up on an upstream connection nobody answers after this (then the next upstream
    /// or 504).
    pub connect_timeout: Option<SimDuration>,
    /// L4: with no ready endpoint, use serving-terminating ones (ProxyTerminatingEndpoints).
    pub terminating_fallback: Option<bool>,
    /// Envoy sidecar: on pod deletion the sidecar refuses new inbound connections at once and
    /// exits after this (`terminationDrainDuration`), cutting what is left. With the
    /// `envoy_sidecar` preset, or `sidecar = "envoy"`.
    pub sidecar_drain: Option<SimDuration>,
    /// An inbound sidecar proxy in each pod behind this balancer (the chain `preset -> sidecar
    /// -> app`, e.g. kube-proxy -> Envoy -> app for a client outside the mesh, or an ALB in IP
    /// mode in front of Istio pods). The mesh presets have theirs (`envoy_sidecar`,
    /// `linkerd_sidecar`); for them this is an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<Sidecar>,
    /// Cloud LB: time a newly registered target needs to pass health checks
    /// (healthy threshold x interval), added to the registration lag.
    pub health_check_delay: Option<SimDuration>,
    /// Cloud LB: a target that leaves the balancer's view is deregistering: no new request is
    /// routed to it, requests in flight may finish, and when this delay ends the balancer
    /// closes its connections to it (idle ones; requests still in flight are cut, the
    /// balancer's 502, `killed_in_flight`). AWS target group `deregistration_delay.timeout_seconds`;
    /// GCLB connection draining timeout. On an NLB (`aws_nlb_ip`) it acts only with
    /// `connection_termination = true`: then the NLB resets the flows still open to the target
    /// when it ends.
    pub deregistration_delay: Option<SimDuration>,
    /// NLB (`aws_nlb_ip`): the target group attribute
    /// `deregistration_delay.connection_termination.enabled` (default false). Off, established
    /// flows to a deregistered target go on after the deregistration delay (for loss, nothing
    /// happens then); on, the NLB resets them when the delay ends: requests in flight on them
    /// are reset (`killed_in_flight`) and idle keep-alive connections closed (AWS ELB docs,
    /// "Edit target group attributes for your Network Load Balancer", Deregistration delay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_termination: Option<bool>,
    /// Health-check-driven balancers: seconds between health checks of a target. With
    /// `healthy_threshold` it replaces `health_check_delay` (a new target is routed to after
    /// `healthy_threshold x health_check_interval`).
    pub health_check_interval: Option<SimDuration>,
    /// Health-check-driven balancers: consecutive passing checks before a new target is
    /// healthy.
    pub healthy_threshold: Option<u32>,
    /// Health-check-driven balancers: consecutive failed checks before a target whose pod
    /// stopped answering them (failed readiness, closed its listener, exited) is unhealthy and
    /// gets no new traffic, even while the controller has not deregistered it yet. Defaults:
    /// ALB 2 (`alb.ingress.kubernetes.io/unhealthy-threshold-count`), NLB 3
    /// (`service.beta.kubernetes.io/aws-load-balancer-healthcheck-unhealthy-threshold`),
    /// GCLB 2 (Compute Engine `unhealthyThreshold`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unhealthy_threshold: Option<u32>,
    /// Linkerd: `config.alpha.linkerd.io/proxy-wait-before-exit-seconds`, a preStop delay on
    /// the proxy container: the proxy keeps accepting this long after deletion, then refuses
    /// new requests. With the `linkerd_sidecar` preset, or `sidecar = "linkerd"`.
    pub wait_before_exit: Option<SimDuration>,
    /// A pod readiness gate: a new pod counts as ready (for the rollout) only once this
    /// balancer routes to it. The AWS Load Balancer Controller injects one when the namespace
    /// has `elbv2.k8s.aws/pod-readiness-gate-inject: enabled` (target-type ip only;
    /// kubernetes-sigs.github.io/aws-load-balancer-controller, "Pod readiness gate").
    /// Default off.
    pub readiness_gate: Option<bool>,
    /// A second hop that picks the pod: the balancer forwards to the Service (ClusterIP, or a
    /// NodePort for a cloud LB in instance mode) and this hop's rules choose the pod. The chain
    /// is `preset -> via -> pod`: the outer L7 proxy keeps its own retries, timeouts and status
    /// codes (a refusal behind it becomes its 502/503), the inner hop's endpoint lag and
    /// terminating fallback decide where a request lands. Examples: ingress-nginx with
    /// `service-upstream: "true"`; an ALB or NLB in instance mode (targets are nodes, which a
    /// rollout does not change, so its registration, health checks and deregistration delay do
    /// not act and are rejected here). `kube_proxy_iptables` and `kube_proxy_nftables` pick
    /// pods this way; `aws_alb_instance` implies `via = "kube_proxy_iptables"`.
    pub via: Option<Preset>,
    /// An outer L7 hop in front of this balancer, whose endpoints (the ingress tier) do not
    /// roll with the application: the chain `front -> preset -> pod` (an ALB or GCLB in front
    /// of ingress-nginx pods, an Istio ingress gateway in front of an ingress controller). It
    /// adds one hop each way, retries the inner hop's answers in `front_retry_on` through the
    /// inner hop (which picks a pod again), answers its own status after `front_timeout`, and
    /// passes every other answer through. See [`Front`]; absent: no front. Not serialized when
    /// absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub front: Option<Front>,
    /// Front: retries through the inner hop (Istio VirtualService `retries.attempts`, default
    /// 2; GCLB URL map `retryPolicy.numRetries`, default none without a policy), at most 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub front_retries: Option<u32>,
    /// Front: the inner hop's answers it retries, among `http_502`, `http_503` (the
    /// application's own 503 + Retry-After too) and `http_504` (Istio `retryOn`: `503`,
    /// `gateway-error`; GCLB `retryConditions`). Default: none (Istio 1.24+ retries only
    /// connection failures, which a roll behind the ingress tier does not cause).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub front_retry_on: Option<Vec<Outcome>>,
    /// Front: its request timeout over the inner hop and its retries (ALB idle timeout, 60 s,
    /// 504; GCLB backend service timeout, 30 s, 502; Istio VirtualService `timeout`, none,
    /// 504). As `upstream_timeout`, the model settles it when the inner hop's answer comes:
    /// the client's outcome and time are the front's, but a client retry after it starts no
    /// earlier than that answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub front_timeout: Option<SimDuration>,
}

impl Default for BalancerConfig {
    fn default() -> Self {
        BalancerConfig {
            preset: Preset::KubeProxyIptables,
            kind: None,
            retries: None,
            upstream_keepalive: None,
            upstream_max_requests: None,
            upstream_max_age: None,
            upstream_timeout: None,
            connect_timeout: None,
            terminating_fallback: None,
            sidecar_drain: None,
            sidecar: None,
            health_check_delay: None,
            deregistration_delay: None,
            health_check_interval: None,
            healthy_threshold: None,
            unhealthy_threshold: None,
            connection_termination: None,
            wait_before_exit: None,
            readiness_gate: None,
            via: None,
            front: None,
            front_retries: None,
            front_retry_on: None,
            front_timeout: None,
        }
    }
}

/// Concrete balancer values after the preset and overrides are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct BalancerSpec {
    /// L4 (per connection) or L7 (per request).
    pub kind: BalancerKind,
    /// Lag from an EndpointSlice change to this balancer's view (when `[propagation] lag` is
    /// not given).
    pub lag: Dist,
    /// L7: extra upstreams tried after a connect error or reset (0 for L4).
    pub retries: u32,
    /// L7: idle timeout of upstream keep-alive connections (zero for L4).
    pub upstream_keepalive: SimDuration,
    /// L7: answer 504 when the upstream has not answered within this (`MAX`: never).
    pub upstream_timeout: SimDuration,
    /// L7 upstream connect timeout (L4: unused, the client's own `client.connect_timeout`).
    pub connect_timeout: SimDuration,
    /// L4: with no ready endpoint, use serving-terminating ones (ProxyTerminatingEndpoints).
    pub terminating_fallback: bool,
    /// Envoy sidecar: refuse new inbound connections at pod deletion and exit after this.
    pub sidecar_drain: Option<SimDuration>,
    /// Cloud LB: health-check time added to a new target's registration lag (zero otherwise).
    pub health_check_delay: SimDuration,
    /// Cloud LB: connections to a deregistering target are closed after this.
    pub deregistration_delay: Option<SimDuration>,
    /// A new pod counts as ready for the rollout only once this balancer routes to it.
    pub readiness_gate: bool,
    /// L7: the status the proxy answers when the upstream refused or reset the connection and
    /// no retry is left (nginx 502; Envoy 503 with response flag UF/UC).
    pub refused_status: Outcome,
    /// A sidecar that refuses new inbound requests this long after the pod's deletion and
    /// then stays up until the pod exits (Linkerd's proxy with `waitBeforeExitSeconds`);
    /// `None` for every other balancer (Envoy's cut-off is `sidecar_drain`).
    pub sidecar_refuse_after: Option<SimDuration>,
    /// L7: the status for an upstream connect timeout (nginx 504; Envoy 503 UF).
    pub timeout_status: Outcome,
    /// The balancer applies the endpoint set as a whole (kube-proxy rewrites its rules from
    /// the full EndpointSlice state; ingress-nginx posts the whole endpoint list to Lua; Envoy
    /// gets a full EDS assignment per cluster), so its view never shows a later change without
    /// the earlier ones. A cloud LB registers and deregisters targets by separate API calls
    /// with their own health checks: unordered.
    pub ordered_sync: bool,
    /// Health-checked balancers: `(interval, unhealthy threshold)`. A target whose pod stops
    /// answering the health check (the app failed readiness, stopped listening or exited; the
    /// check is taken to hit the readiness path) is marked unhealthy after the first failed
    /// check (a uniform phase within one interval) and `threshold - 1` more: from then no new
    /// request (L7) or connection (L4) is routed to it, whatever the controller's
    /// deregistration lag. When every target is unhealthy the balancer fails open and routes
    /// to all of them (AWS ELB docs, "Health checks for your target groups"). `None` for
    /// balancers without target health checks, and for an instance-mode outer hop (its
    /// targets are nodes).
    pub unhealthy_check: Option<(SimDuration, u32)>,
    /// The status an inbound sidecar answers for a request it accepted whose application then
    /// failed under it (Envoy's 503 UC), where the next hop would otherwise see a reset; `None`
    /// without a composed sidecar (the `envoy_sidecar` preset's caller-side Envoy sees the cut
    /// as a reset and answers its own 503).
    pub sidecar_status: Option<Outcome>,
    /// L7: the proxy closes an upstream keep-alive connection after this many requests
    /// (`None`: no limit).
    pub upstream_max_requests: Option<u32>,
    /// L7: the proxy closes an upstream keep-alive connection once it is this old, after the
    /// response in progress (`None`: no limit).
    pub upstream_max_age: Option<SimDuration>,
    /// The balancer takes endpoint changes in whole configuration reloads, at most one per
    /// this period counted from one reload's start to the next (Traefik's
    /// `providers.providersThrottleDuration`): a change that comes while a reload waits joins
    /// it, one that comes later waits for the next allowed start, and `lag` is one reload's own
    /// time. So a change's lag depends on the changes before it: the first of a roll shows
    /// within a reload's time, one that follows it within the period waits for the period.
    /// Acts when `[propagation] lag` is not given (a given lag is the whole lag, end to end, as
    /// `fleetsim calibrate` measures it) or when `[propagation] min_sync_period` sets the
    /// period. `None`: changes are not batched.
    pub reload_throttle: Option<SimDuration>,
}

impl Preset {
    /// The preset's documented defaults.
    pub fn spec(self) -> BalancerSpec {
        match self {
            // kube-proxy iptables mode: rules are resynced at most every minSyncPeriod, default
            // 1 s (kubernetes/website content/en/docs/reference/networking/virtual-ips.md;
            // kubernetes/kubernetes#92836), so a change waits 0..1 s before it is programmed.
            // Established TCP flows are not flushed on endpoint removal (kubernetes#100698):
            // connections stay pinned. ProxyTerminatingEndpoints is GA in 1.28 (KEP-1669).
            Preset::KubeProxyIptables => BalancerSpec {
                kind: BalancerKind::L4,
                lag: Dist::Uniform {
                    low: ms(10),
                    high: ms(1_000),
                },
                retries: 0,
                upstream_keepalive: SimDuration::ZERO,
                upstream_timeout: SimDuration::MAX,
                connect_timeout: SimDuration::MAX,
                terminating_fallback: true,
                sidecar_drain: None,
                health_check_delay: SimDuration::ZERO,
                deregistration_delay: None,
                readiness_gate: false,
                refused_status: Outcome::Refused,
                sidecar_refuse_after: None,
                timeout_status: Outcome::Timeout,
                // kube-proxy batches changes too, but the model's independent 10 ms..1 s lag per
                // change is what the live validation calibrated (docs/results/2026-12-02-cluster):
                // kept unordered until a live run re-checks the ordered form.
                ordered_sync: false,
                sidecar_status: None,
                upstream_max_requests: None,
                upstream_max_age: None,
                reload_throttle: None,
                unhealthy_check: None,
            },
            // ingress-nginx: controller sync rate-limited to 0.3/s, burst 1 (pkg/flags/flags.go
            // `--sync-rate-limit`), i.e. up to 3.33 s; each Lua worker polls the endpoints every
            // 1 s (rootfs/etc/nginx/lua/balancer.lua); not-ready endpoints are skipped
            // (internal/ingress/controller/endpointslices.go). Lag 0.1..4.3 s.
            // Upstream keep-alive idle 60 s (config.go `upstream-keepalive-timeout`; the GitLab
            // chart's MR 3090 lists the defaults 320 / 1h / 60 / 10000 it lowers).
            // nginx `proxy_next_upstream` defaults to `error timeout` (nginx.org
            // ngx_http_proxy_module); ingress-nginx `proxy-next-upstream-tries` 3 (three
            // upstreams in all: ingress-nginx#3639), so 2 extra tries. proxy-read-timeout 60 s.
            Preset::IngressNginx => BalancerSpec {
                kind: BalancerKind::L7,
                lag: Dist::Uniform {
                    low: ms(100),
                    high: ms(4_333),
                },
                retries: 2,
                upstream_keepalive: secs(60),
                upstream_timeout: secs(60),
                // ingress-nginx ConfigMap `proxy-connect-timeout` default "5" (seconds).
                connect_timeout: secs(5),
                terminating_fallback: false,
                sidecar_drain: None,
                health_check_delay: SimDuration::ZERO,
                deregistration_delay: None,
                readiness_gate: false,
                refused_status: Outcome::Http502,
                sidecar_refuse_after: None,
                timeout_status: Outcome::Http504,
                ordered_sync: true,
                sidecar_status: None,
                // ingress-nginx ConfigMap `upstream-keepalive-requests` 10000 and
                // `upstream-keepalive-time` 1h (nginx `keepalive_requests`/`keepalive_time` in the
                // upstream block; the defaults as gitlab-org/charts/gitlab MR 3090 lists them).
                upstream_max_requests: Some(10_000),
                upstream_max_age: Some(secs(3_600)),
                reload_throttle: None,
                unhealthy_check: None,
            },
            // Envoy answers 503 for an upstream it cannot reach: response flags UF (upstream
            // connection failure, including a connect timeout) and UC (upstream connection
            // termination) (Envoy docs, "Access logging: response flags"; istio#7665 shows
            // 503s during rollouts), not nginx's 502/504.
            // Envoy/Istio sidecar: the client-side proxy picks per request from EDS (lag:
            // assumption 0.1..1 s, istiod push debounce plus delivery; calibrate). On SIGTERM the
            // server-side sidecar stops accepting new inbound connections and is killed after
            // terminationDrainDuration, default 5 s (istio/istio#34855; Alibaba Cloud ASM "Why do
            // long-running requests get dropped ... sidecar proxy"). Envoy retries: default
            // route retry policy off here (assumption).
            Preset::EnvoySidecar => BalancerSpec {
                kind: BalancerKind::L7,
                lag: Dist::Uniform {
                    low: ms(100),
                    high: ms(1_000),
                },
                retries: 0,
                upstream_keepalive: secs(3_600),
                upstream_timeout: secs(15),
                // Istio MeshConfig `connectTimeout` default 10 s.
                connect_timeout: secs(10),
                terminating_fallback: false,
                sidecar_drain: Some(secs(5)),
                health_check_delay: SimDuration::ZERO,
                deregistration_delay: None,
                readiness_gate: false,
                refused_status: Outcome::Http503,
                sidecar_refuse_after: None,
                timeout_status: Outcome::Http503,
                ordered_sync: true,
                sidecar_status: None,
                upstream_max_requests: None,
                upstream_max_age: None,
                reload_throttle: None,
                unhealthy_check: None,
            },
            // Cloud LB (AWS ALB, target-type ip): deregistration delay default 300 s, range
            // 0-3600 (AWS ELB docs "Edit target group attributes"; aws-load-balancer-controller
            // #3270). Deregistration propagation is slow and variable (about 2 min reported in
            // aws-load-balancer-controller#1064): lag 5..30 s is an assumption, calibrate it.
            // New targets must pass health checks first: 2 checks x 15 s (assumption, set it
            // from your target group). ALB idle timeout 60 s (dingyu.dev zero-downtime post).
            Preset::CloudLb => BalancerSpec {
                kind: BalancerKind::L7,
                lag: Dist::Uniform {
                    low: secs(5),
                    high: secs(30),
                },
                retries: 0,
                upstream_keepalive: secs(60),
                upstream_timeout: secs(60),
                // ALB: a target that does not accept the connection within 10 s gives a 504
                // (AWS ELB docs, "Troubleshoot your Application Load Balancers", HTTP 504).
                connect_timeout: secs(10),
                terminating_fallback: false,
                sidecar_drain: None,
                health_check_delay: secs(30),
                deregistration_delay: Some(secs(300)),
                readiness_gate: false,
                refused_status: Outcome::Http502,
                sidecar_refuse_after: None,
                timeout_status: Outcome::Http504,
                ordered_sync: false,
                sidecar_status: None,
                upstream_max_requests: None,
                upstream_max_age: None,
                reload_throttle: None,
                unhealthy_check: Some((secs(15), 2)),
            },
            // kube-proxy nftables mode (alpha 1.29, beta 1.31, GA 1.33: KEP-3866 kep.yaml;
            // iptables stays the default mode). Same control loop as iptables: the shared
            // KubeProxyConfiguration `minSyncPeriod`, default 1 s, batches changes
            // (kubernetes/website virtual-ips.md), and conntrack keeps established TCP flows
            // on a removed endpoint in both modes (kubernetes#100698). What differs: nftables
            // applies only the changed elements of its maps (KEP-3866 "incremental updates")
            // where iptables-restore rewrites whole chains, so a large cluster's sync is
            // shorter; at this model's scale that gain is inside the 10 ms..1 s lag, so the
            // numbers are the iptables preset's. ProxyTerminatingEndpoints applies as well.
            Preset::KubeProxyNftables => Preset::KubeProxyIptables.spec(),
            // Linkerd: the client-side proxy balances per request over the endpoints the
            // destination controller streams (lag: assumption 0.1..1 s, as Envoy's EDS).
            // On SIGTERM the server-side proxy refuses new requests at once and lets in-flight
            // ones finish; `config.alpha.linkerd.io/proxy-wait-before-exit-seconds`
            // (waitBeforeExitSeconds) delays that SIGTERM and defaults to 0
            // (linkerd.io/2/reference/proxy-configuration; /2/tasks/graceful-shutdown).
            // Statuses: a connection error to the upstream is a 502 ("HTTP 502 means
            // connection errors between proxies", linkerd.io/2/common-errors; proxy log
            // "error trying to connect: Connection refused ... status=502 Bad Gateway"); no
            // endpoint (failfast) is a 503 or 504 (linkerd.io/2/common-errors/failfast).
            // Retries are off unless a route opts in (linkerd.io/2/features/retries-and-timeouts);
            // no request timeout by default; outbound connect timeout 1 s (linkerd2 Helm
            // values `proxy.outboundConnectTimeout: 1000ms`). Upstream keep-alive: the proxies
            // hold HTTP/2 connections; 1 h here, as Envoy (assumption).
            Preset::LinkerdSidecar => BalancerSpec {
                kind: BalancerKind::L7,
                lag: Dist::Uniform {
                    low: ms(100),
                    high: ms(1_000),
                },
                retries: 0,
                upstream_keepalive: secs(3_600),
                upstream_timeout: SimDuration::MAX,
                connect_timeout: secs(1),
                terminating_fallback: false,
                sidecar_drain: None,
                health_check_delay: SimDuration::ZERO,
                deregistration_delay: None,
                readiness_gate: false,
                refused_status: Outcome::Http502,
                sidecar_refuse_after: Some(SimDuration::ZERO),
                timeout_status: Outcome::Http502,
                ordered_sync: true,
                sidecar_status: None,
                upstream_max_requests: None,
                upstream_max_age: None,
                reload_throttle: None,
                unhealthy_check: None,
            },
            // HAProxy Kubernetes Ingress Controller (haproxytech/kubernetes-ingress): the
            // controller applies endpoint changes through the runtime API on its sync loop
            // (`--sync-period`, 5 s: assumption from the controller's documented default, not
            // verified here), so a change waits 0..5 s. Its generated `defaults`: `timeout
            // connect 5000`, `timeout server 50000`, `timeout http-keep-alive 60000` (the
            // controller's fs/usr/local/etc/haproxy/haproxy.cfg). HAProxy answers 503 when it
            // cannot connect to the server after its retries (termination state SC) and 504 on
            // a server timeout (HAProxy configuration manual, "Session state at
            // disconnection"); `retries` defaults to 3 with `option redispatch` sending the last
            // one to another server (manual, `retries`): 1 other upstream here (assumption).
            Preset::HaproxyIngress => BalancerSpec {
                kind: BalancerKind::L7,
                lag: Dist::Uniform {
                    low: ms(100),
                    high: ms(5_100),
                },
                retries: 1,
                upstream_keepalive: secs(60),
                upstream_timeout: secs(50),
                connect_timeout: secs(5),
                terminating_fallback: false,
                sidecar_drain: None,
                health_check_delay: SimDuration::ZERO,
                deregistration_delay: None,
                readiness_gate: false,
                refused_status: Outcome::Http503,
                sidecar_refuse_after: None,
                timeout_status: Outcome::Http503,
                ordered_sync: true,
                sidecar_status: None,
                upstream_max_requests: None,
                upstream_max_age: None,
                reload_throttle: None,
                unhealthy_check: None,
            },
            // Traefik, Kubernetes provider: it watches EndpointSlices and rebuilds its dynamic
            // configuration, throttled by `providers.providersThrottleDuration`, default 2 s
            // ("minimum amount of time to wait for, after a configuration reload, before
            // taking into account any new configuration refresh event. If multiple events
            // occur within this time, only the most recent one is taken into account";
            // doc.traefik.io/traefik/v3.2/reference/install-configuration/providers/kubernetes/kubernetes-ingress):
            // `reload_throttle` 2 s, whole configurations (ordered). One reload's own time,
            // 30..250 ms, is measured: on this project's cluster (Traefik v3.6.12) the first
            // reload of a roll showed 37 and 251 ms after its EndpointSlice change, and the
            // reloads after it came 1.86-2.18 s apart, start to start (two calibration runs,
            // docs/results/2026-12-04-ladder-pod-starts/traefik-throttle/). The Retry middleware is off
            // unless a router uses it (doc.traefik.io middlewares/http/retry): 0 retries.
            // A refused or reset upstream is 502 Bad Gateway, a dial timeout 504
            // (Traefik's proxy error handler). ServersTransport defaults:
            // `forwardingTimeouts.dialTimeout` 30 s, `idleConnTimeout` 90 s,
            // `responseHeaderTimeout` 0 (none) (doc.traefik.io routing/services,
            // ServersTransport).
            Preset::Traefik => BalancerSpec {
                kind: BalancerKind::L7,
                lag: Dist::Uniform {
                    low: ms(30),
                    high: ms(250),
                },
                retries: 0,
                upstream_keepalive: secs(90),
                upstream_timeout: SimDuration::MAX,
                connect_timeout: secs(30),
                terminating_fallback: false,
                sidecar_drain: None,
                health_check_delay: SimDuration::ZERO,
                deregistration_delay: None,
                readiness_gate: false,
                refused_status: Outcome::Http502,
                sidecar_refuse_after: None,
                timeout_status: Outcome::Http504,
                ordered_sync: true,
                sidecar_status: None,
                upstream_max_requests: None,
                upstream_max_age: None,
                reload_throttle: Some(secs(2)),
                unhealthy_check: None,
            },
            // AWS ALB, target-type ip (aws-load-balancer-controller). Deregistration delay
            // 300 s, range 0-3600 (AWS ELB docs "Target group attributes";
            // aws-load-balancer-controller#3270). Register/deregister lag is long-tailed:
            // deregistration took about 2 min even with a 5 s delay
            // (aws-load-balancer-controller#1064, #3270): lognormal, median 10 s (assumption),
            // p99 120 s (those reports). Health checks: the controller's defaults
            // `alb.ingress.kubernetes.io/healthcheck-interval-seconds` 15 and
            // `healthy-threshold-count` 2 (controller docs, ingress annotations; the ELBv2 API
            // default without the controller is 5 checks, aws-cdk HealthCheck docs), so 30 s
            // after registration. Statuses as cloud_lb (ALB docs "Troubleshoot your
            // Application Load Balancers": 502 on a refused/reset target, 504 when the target
            // does not accept the connection within 10 s); idle timeout 60 s.
            Preset::AwsAlbIp => BalancerSpec {
                lag: Dist::Lognormal {
                    median: secs(10),
                    p99: secs(120),
                },
                ..Preset::CloudLb.spec()
            },
            // AWS ALB, target-type instance: the ALB's targets are the nodes' NodePorts, which a
            // rollout does not change, so its registration, health checks and deregistration
            // delay do not act; kube-proxy on the node picks the pod (the `via` chain, implied:
            // `via = "kube_proxy_iptables"` unless given). The ALB keeps its statuses and
            // timeouts (502/504, 10 s connect, 60 s idle).
            Preset::AwsAlbInstance => Preset::CloudLb.spec().behind(Preset::KubeProxyIptables),
            // AWS NLB, target-type ip: an L4 pass-through (no HTTP statuses: a refusal or reset
            // reaches the client), targets are pod IPs with the ALB's long-tailed
            // registration lag (aws-load-balancer-controller#1064 is an NLB-and-ALB report;
            // lognormal median 10 s assumption, p99 120 s). Health checks: the controller's
            // `service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval` 10 and
            // `-healthcheck-healthy-threshold` 3 (controller docs, service annotations; ELBv2
            // API default 3 for NLBs), so 30 s. Deregistration delay 300 s, but with
            // `connection_termination` off (the default) established flows continue after
            // it, so it does not act unless `connection_termination = true` (then the flows
            // still open are reset when it ends).
            Preset::AwsNlbIp => BalancerSpec {
                kind: BalancerKind::L4,
                lag: Dist::Lognormal {
                    median: secs(10),
                    p99: secs(120),
                },
                retries: 0,
                upstream_keepalive: SimDuration::ZERO,
                upstream_timeout: SimDuration::MAX,
                connect_timeout: SimDuration::MAX,
                terminating_fallback: false,
                sidecar_drain: None,
                health_check_delay: secs(30),
                deregistration_delay: None,
                readiness_gate: false,
                refused_status: Outcome::Refused,
                sidecar_refuse_after: None,
                timeout_status: Outcome::Timeout,
                ordered_sync: false,
                sidecar_status: None,
                upstream_max_requests: None,
                upstream_max_age: None,
                reload_throttle: None,
                unhealthy_check: Some((secs(10), 3)),
            },
            // AWS NLB, target-type instance: each TCP connection goes to a node's NodePort and
            // that node's kube-proxy picks the pod (externalTrafficPolicy Cluster); the node
            // targets do not change in a rollout, so for loss this is kube-proxy.
            Preset::AwsNlbInstance => Preset::KubeProxyIptables.spec(),
            // GCLB with NEGs (GKE container-native load balancing): targets are pod IPs; GKE
            // injects the pod readiness gate `cloud.google.com/load-balancer-neg-ready`, so a
            // new pod counts as ready only once it is in the NEG and healthy (GKE docs,
            // "Container-native load balancing", Pod readiness). Endpoint programming is slow
            // and tailed: ingress-gce#2222 shows about a minute of 502s on a rolling restart
            // (lognormal median 10 s assumption, p99 60 s). Health check defaults of the
            // Compute Engine API: `checkIntervalSec` 5, `healthyThreshold` 2
            // (cloud.google.com health checks overview). Connection draining on the backend
            // service defaults to 0 s, 0-3600 (cloud.google.com enabling-connection-draining):
            // idle connections closed at detach. The backend service timeout 30 s; the GFE
            // answers 502 for a refused, reset or unreachable backend (GCLB logging
            // `statusDetails` failed_to_connect_to_backend, backend_connection_closed_...)
            // and for its timeout (backend_timeout). Retries: 0 (assumption; the GFE retries
            // some GETs).
            Preset::GclbNeg => BalancerSpec {
                kind: BalancerKind::L7,
                lag: Dist::Lognormal {
                    median: secs(10),
                    p99: secs(60),
                },
                retries: 0,
                upstream_keepalive: secs(600),
                upstream_timeout: secs(30),
                connect_timeout: secs(10),
                terminating_fallback: false,
                sidecar_drain: None,
                health_check_delay: secs(10),
                deregistration_delay: Some(SimDuration::ZERO),
                readiness_gate: true,
                refused_status: Outcome::Http502,
                sidecar_refuse_after: None,
                timeout_status: Outcome::Http502,
                ordered_sync: false,
                sidecar_status: None,
                upstream_max_requests: None,
                upstream_max_age: None,
                reload_throttle: None,
                unhealthy_check: Some((secs(5), 2)),
            },
        }
    }
}

impl BalancerSpec {
    /// This balancer's outer hop in front of `inner`, which picks the pod: the inner hop's
    /// endpoint lag, terminating fallback and sync order; the outer hop sees nodes or a
    /// virtual IP, so its registration, health checks, deregistration delay and readiness
    /// gate do not act.
    fn behind(mut self, inner: Preset) -> BalancerSpec {
        let i = inner.spec();
        self.lag = i.lag;
        self.terminating_fallback = i.terminating_fallback;
        self.ordered_sync = i.ordered_sync;
        self.health_check_delay = SimDuration::ZERO;
        self.deregistration_delay = None;
        self.readiness_gate = false;
        self.unhealthy_check = None;
        self
    }
}

impl Preset {
    /// Every preset, in the order the reference lists them.
    pub const ALL: [Preset; 13] = [
        Preset::KubeProxyIptables,
        Preset::KubeProxyNftables,
        Preset::IngressNginx,
        Preset::HaproxyIngress,
        Preset::Traefik,
        Preset::EnvoySidecar,
        Preset::LinkerdSidecar,
        Preset::CloudLb,
        Preset::AwsAlbIp,
        Preset::AwsAlbInstance,
        Preset::AwsNlbIp,
        Preset::AwsNlbInstance,
        Preset::GclbNeg,
    ];

    /// The preset's health checks, `(interval, healthy threshold)`, for a balancer whose
    /// registration waits for them; `None` for balancers without target health checks.
    pub fn health_check(self) -> Option<(SimDuration, u32)> {
        match self {
            // 2 checks x 15 s: the assumption `cloud_lb` has always made (30 s).
            Preset::CloudLb | Preset::AwsAlbIp => Some((secs(15), 2)),
            Preset::AwsNlbIp => Some((secs(10), 3)),
            Preset::GclbNeg => Some((secs(5), 2)),
            _ => None,
        }
    }

    /// The hop a chain through this preset implies: an instance-mode cloud balancer reaches
    /// pods through a NodePort, so kube-proxy picks the pod.
    pub fn implied_via(self) -> Option<Preset> {
        match self {
            Preset::AwsAlbInstance => Some(Preset::KubeProxyIptables),
            _ => None,
        }
    }
}

impl Preset {
    /// The preset's name as written in a file.
    pub fn name(self) -> &'static str {
        match self {
            Preset::KubeProxyIptables => "kube_proxy_iptables",
            Preset::IngressNginx => "ingress_nginx",
            Preset::EnvoySidecar => "envoy_sidecar",
            Preset::CloudLb => "cloud_lb",
            Preset::KubeProxyNftables => "kube_proxy_nftables",
            Preset::LinkerdSidecar => "linkerd_sidecar",
            Preset::HaproxyIngress => "haproxy_ingress",
            Preset::Traefik => "traefik",
            Preset::AwsAlbIp => "aws_alb_ip",
            Preset::AwsAlbInstance => "aws_alb_instance",
            Preset::AwsNlbIp => "aws_nlb_ip",
            Preset::AwsNlbInstance => "aws_nlb_instance",
            Preset::GclbNeg => "gclb_neg",
        }
    }

    /// The `[balancer]` override fields this preset has a knob for. Any other field given with
    /// it is an error: it would change nothing, or add a mechanism this balancer does not have.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Preset::KubeProxyIptables => &["kind", "terminating_fallback"],
            Preset::IngressNginx => &[
                "kind",
                "retries",
                "upstream_keepalive",
                "upstream_max_requests",
                "upstream_max_age",
                "upstream_timeout",
                "connect_timeout",
            ],
            Preset::EnvoySidecar => &[
                "kind",
                "retries",
                "upstream_keepalive",
                "upstream_max_requests",
                "upstream_max_age",
                "upstream_timeout",
                "connect_timeout",
                "sidecar_drain",
            ],
            Preset::CloudLb => &[
                "kind",
                "upstream_keepalive",
                "upstream_timeout",
                "connect_timeout",
                "health_check_delay",
                "health_check_interval",
                "healthy_threshold",
                "unhealthy_threshold",
                "deregistration_delay",
                "readiness_gate",
            ],
            Preset::KubeProxyNftables | Preset::AwsNlbInstance => &["kind", "terminating_fallback"],
            Preset::LinkerdSidecar => &[
                "kind",
                "retries",
                "upstream_timeout",
                "connect_timeout",
                "wait_before_exit",
            ],
            Preset::HaproxyIngress | Preset::Traefik => &[
                "kind",
                "retries",
                "upstream_keepalive",
                "upstream_timeout",
                "connect_timeout",
            ],
            Preset::AwsAlbIp | Preset::GclbNeg => &[
                "kind",
                "upstream_keepalive",
                "upstream_timeout",
                "connect_timeout",
                "health_check_interval",
                "healthy_threshold",
                "unhealthy_threshold",
                "deregistration_delay",
                "readiness_gate",
            ],
            Preset::AwsAlbInstance => &[
                "kind",
                "upstream_keepalive",
                "upstream_timeout",
                "connect_timeout",
            ],
            Preset::AwsNlbIp => &[
                "kind",
                "health_check_interval",
                "healthy_threshold",
                "unhealthy_threshold",
                "deregistration_delay",
                "connection_termination",
                "readiness_gate",
            ],
        }
    }
}

impl BalancerConfig {
    /// The override fields given that the preset does not use.
    pub fn unused_fields(&self) -> Vec<&'static str> {
        let given = [
            ("kind", self.kind.is_some()),
            ("retries", self.retries.is_some()),
            ("upstream_keepalive", self.upstream_keepalive.is_some()),
            (
                "upstream_max_requests",
                self.upstream_max_requests.is_some(),
            ),
            ("upstream_max_age", self.upstream_max_age.is_some()),
            ("upstream_timeout", self.upstream_timeout.is_some()),
            ("connect_timeout", self.connect_timeout.is_some()),
            ("terminating_fallback", self.terminating_fallback.is_some()),
            ("sidecar_drain", self.sidecar_drain.is_some()),
            ("sidecar", self.sidecar.is_some()),
            ("health_check_delay", self.health_check_delay.is_some()),
            ("deregistration_delay", self.deregistration_delay.is_some()),
            (
                "health_check_interval",
                self.health_check_interval.is_some(),
            ),
            ("healthy_threshold", self.healthy_threshold.is_some()),
            ("unhealthy_threshold", self.unhealthy_threshold.is_some()),
            (
                "connection_termination",
                self.connection_termination.is_some(),
            ),
            ("wait_before_exit", self.wait_before_exit.is_some()),
            ("readiness_gate", self.readiness_gate.is_some()),
        ];
        let uses = self.preset.fields();
        // A composed sidecar brings its own knob: Envoy's drain, Linkerd's wait before exit.
        let sidecar_knob = match self.sidecar {
            Some(Sidecar::Envoy) => Some("sidecar_drain"),
            Some(Sidecar::Linkerd) => Some("wait_before_exit"),
            None => None,
        };
        given
            .into_iter()
            .filter(|(f, set)| {
                *set && !uses.contains(f)
                    && sidecar_knob != Some(*f)
                    // `sidecar` is checked on its own (any preset but the mesh ones).
                    && *f != "sidecar"
            })
            .map(|(f, _)| f)
            .collect()
    }

    /// The front hop's values with the `front_*` overrides applied; `None` without a front.
    pub fn resolve_front(&self) -> Option<FrontSpec> {
        let front = self.front?;
        let mut s = front.spec();
        if front == Front::Gclb && self.front_retry_on.is_some() {
            // A URL map retryPolicy without numRetries makes 1 (Compute API HttpRetryPolicy).
            s.retries = 1;
        }
        if let Some(n) = self.front_retries {
            s.retries = n;
        }
        if let Some(on) = &self.front_retry_on {
            s.retry_on = on.clone();
        }
        if let Some(d) = self.front_timeout {
            s.timeout = d;
        }
        Some(s)
    }

    /// The preset's values with this section's overrides applied, and a `via` hop's view.
    pub fn resolve(&self) -> BalancerSpec {
        let mut s = self.preset.spec();
        if let Some(inner) = self.via {
            // The outer hop sees nodes or a virtual IP, not pods.
            s = s.behind(inner);
        }
        if let Some(k) = self.kind {
            s.kind = k;
        }
        if let Some(r) = self.retries {
            s.retries = r;
        }
        if let Some(d) = self.upstream_keepalive {
            s.upstream_keepalive = d;
        }
        if let Some(n) = self.upstream_max_requests {
            s.upstream_max_requests = Some(n);
        }
        if let Some(d) = self.upstream_max_age {
            s.upstream_max_age = Some(d);
        }
        if let Some(d) = self.upstream_timeout {
            s.upstream_timeout = d;
        }
        if let Some(d) = self.connect_timeout {
            s.connect_timeout = d;
        }
        if let Some(b) = self.terminating_fallback {
            s.terminating_fallback = b;
        }
        match self.sidecar {
            Some(Sidecar::Envoy) => {
                // Istio's terminationDrainDuration default (as the envoy_sidecar preset).
                s.sidecar_drain = Some(secs(5));
                s.sidecar_status = Some(Outcome::Http503);
            }
            Some(Sidecar::Linkerd) => {
                // waitBeforeExitSeconds default 0 (as the linkerd_sidecar preset).
                s.sidecar_refuse_after = Some(SimDuration::ZERO);
                s.sidecar_status = Some(Outcome::Http502);
            }
            None => {}
        }
        if let Some(d) = self.sidecar_drain {
            s.sidecar_drain = Some(d);
        }
        if let Some(d) = self.health_check_delay {
            s.health_check_delay = d;
        }
        if let Some((interval, threshold)) = self.preset.health_check()
            && (self.health_check_interval.is_some() || self.healthy_threshold.is_some())
        {
            let interval = self.health_check_interval.unwrap_or(interval);
            let threshold = self.healthy_threshold.unwrap_or(threshold);
            s.health_check_delay =
                SimDuration::from_nanos(interval.as_nanos().saturating_mul(u64::from(threshold)));
        }
        if let Some((interval, threshold)) = s.unhealthy_check {
            s.unhealthy_check = Some((
                self.health_check_interval.unwrap_or(interval),
                self.unhealthy_threshold.unwrap_or(threshold),
            ));
        }
        if let Some(d) = self.wait_before_exit {
            s.sidecar_refuse_after = Some(d);
        }
        if let Some(d) = self.deregistration_delay {
            s.deregistration_delay = Some(d);
        }
        if self.connection_termination == Some(true) {
            // The NLB resets the target's flows when the delay ends (default 300 s).
            s.deregistration_delay = Some(self.deregistration_delay.unwrap_or(secs(300)));
        }
        if let Some(g) = self.readiness_gate {
            s.readiness_gate = g;
        }
        s
    }
}

/// `[propagation]`: from a pod change to each balancer's view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PropagationConfig {
    /// Pod change (deletion, readiness) to EndpointSlice change. The EndpointSlice controller
    /// does not batch by default (`--endpointslice-updates-batch-period` 0); the watch and
    /// write take tens of milliseconds (assumption: 50 ms, calibrate).
    pub endpointslice: Dist,
    /// EndpointSlice change to the balancer's view (the deregistration lag). Default: the
    /// preset's. With `min_sync_period`, the time one sync takes to show a change. Given
    /// without `min_sync_period`, it is the whole lag, end to end (as `fleetsim calibrate`
    /// measures it): a preset's reload throttle (Traefik's) does not add to it.
    pub lag: Option<Dist>,
    /// kube-proxy's sync limiter (`--iptables-min-sync-period`, default 1 s;
    /// pkg/proxy/runner/bounded_frequency_runner.go): at least this long between the end of one
    /// sync and the start of the next. A change that arrives sooner waits for the next allowed
    /// sync and shares it with every change before it, so during a roll, where changes come
    /// every second or so, most deregistrations wait close to the whole period. With a preset
    /// that throttles its reloads (`traefik`: `providersThrottleDuration`, default 2 s) this
    /// sets the throttle's period, counted from one reload's start to the next. Absent: each
    /// change's lag is drawn on its own, or the preset's throttle acts (`traefik`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_sync_period: Option<SimDuration>,
}

impl Default for PropagationConfig {
    fn default() -> Self {
        PropagationConfig {
            endpointslice: Dist::constant(ms(50)),
            lag: None,
            min_sync_period: None,
        }
    }
}

/// `[pod.readiness]`: the readiness probe (Kubernetes defaults: initialDelaySeconds 0,
/// periodSeconds 10, successThreshold 1, failureThreshold 3; kubernetes.io "Configure Liveness,
/// Readiness and Startup Probes").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadinessProbe {
    /// `initialDelaySeconds`: the first probe this long after the pod is created.
    pub initial_delay: SimDuration,
    /// `periodSeconds`.
    pub period: SimDuration,
    /// `successThreshold`: consecutive successes before the pod is ready.
    pub success_threshold: u32,
    /// `failureThreshold`: consecutive failures before a ready pod is marked not ready (here:
    /// a terminating pod whose application fails its readiness endpoint stops being `serving`
    /// in the EndpointSlice `failure_threshold` probes later).
    pub failure_threshold: u32,
    /// `timeoutSeconds` (default 1 s): a probe that waits longer than this behind the requests
    /// queued at the pod fails.
    pub timeout: SimDuration,
}

impl Default for ReadinessProbe {
    fn default() -> Self {
        ReadinessProbe {
            initial_delay: SimDuration::ZERO,
            period: secs(10),
            success_threshold: 1,
            failure_threshold: 3,
            timeout: secs(1),
        }
    }
}

/// `[pod.cold_start]`: new pods serve slower at first. The slowdown factor decays linearly from
/// `factor` to 1 over `duration` after the listener opens. Default 2x over 20 s, as the shipped
/// `base.toml` (an assumption; set it from calibration, `factor = 1.0` for none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColdStart {
    /// The slowdown at the listener's open (2.0: service takes twice as long; 1.0: none).
    pub factor: f64,
    /// How long the slowdown takes to decay linearly to 1.
    pub duration: SimDuration,
}

impl Default for ColdStart {
    fn default() -> Self {
        ColdStart {
            factor: 2.0,
            duration: secs(20),
        }
    }
}

/// `[pod]`: the Deployment's pods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PodConfig {
    /// Desired replicas.
    pub replicas: u32,
    /// From pod creation to the listener open (scheduling, image, process start).
    pub startup: Dist,
    /// Service time of the slow endpoint. Default 100 ms: real-service `FLEETSIM_WORK_MS`.
    pub service_time: Dist,
    /// Service time of a request that starts service while a pod of the fleet is starting
    /// (created, not yet ready), in place of `service_time`: starting a pod (the container, the
    /// process, its probes, the proxies' endpoint updates) loads the node the other pods run
    /// on, which the model does not simulate request by request. `fleetsim calibrate` measures
    /// it as it measures `service_time`, on the calibration run's requests sent while one of
    /// its new pods was starting. Absent (the default): `service_time` throughout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_time_while_pods_start: Option<Dist>,
    /// Requests served at once; the rest wait in a FIFO queue at the pod.
    pub concurrency: u32,
    /// `readinessProbe`. Absent (`None`): the pod is ready as soon as its container has started,
    /// as in Kubernetes. Default: a probe with Kubernetes' defaults, as the shipped `base.toml`.
    pub readiness: Option<ReadinessProbe>,
    /// `[pod.cold_start]`: new pods serve slower at first (default 2x over 20 s).
    pub cold_start: ColdStart,
}

impl Default for PodConfig {
    fn default() -> Self {
        PodConfig {
            replicas: 4,
            startup: Dist::Uniform {
                low: secs(2),
                high: secs(4),
            },
            service_time: Dist::constant(ms(100)),
            service_time_while_pods_start: None,
            concurrency: 8,
            readiness: Some(ReadinessProbe::default()),
            cold_start: ColdStart::default(),
        }
    }
}

/// `[container]`: how the container starts its process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContainerConfig {
    /// Exec, shell or init form: whether SIGTERM reaches the application (default exec).
    pub entrypoint: Entrypoint,
}

impl Default for ContainerConfig {
    fn default() -> Self {
        ContainerConfig {
            entrypoint: Entrypoint::Exec,
        }
    }
}

/// The container's entrypoint form: whether the kubelet's SIGTERM reaches the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entrypoint {
    /// Exec form (`ENTRYPOINT ["/app"]`): the application is PID 1 and receives SIGTERM.
    Exec,
    /// Shell form (`ENTRYPOINT /app`): `/bin/sh -c` is PID 1; it does not forward SIGTERM and,
    /// as PID 1 without a handler, ignores it, so the application runs on until SIGKILL at the
    /// end of the grace period (Docker docs, "ENTRYPOINT": "the shell form ... will not receive
    /// Unix signals").
    Shell,
    /// A real init (tini, dumb-init, `shareProcessNamespace` pause) forwards SIGTERM to the
    /// application: for the shutdown timeline the same as exec form.
    Init,
}

impl Entrypoint {
    /// `true` when the kubelet's SIGTERM reaches the application.
    pub fn delivers_sigterm(self) -> bool {
        !matches!(self, Entrypoint::Shell)
    }
}

/// A preStop hook. In a file: `prestop = "5s"` or `prestop = { sleep = "5s" }` (the
/// `sleep` action, KEP-3960, GA in 1.34), or `prestop = { exec = "5s" }` (an `exec` hook whose
/// command takes this long, e.g. `["sleep", "5"]`). Both hold SIGTERM back for their duration,
/// and both count against terminationGracePeriodSeconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreStop {
    /// `sleep` action (`prestop = "5s"` or `{ sleep = "5s" }`): the kubelet waits this long.
    Sleep(SimDuration),
    /// `exec` hook (`{ exec = "5s" }`): a command that takes this long.
    Exec(SimDuration),
}

impl PreStop {
    /// How long the hook holds SIGTERM back.
    pub fn duration(self) -> SimDuration {
        match self {
            PreStop::Sleep(d) | PreStop::Exec(d) => d,
        }
    }
}

impl Serialize for PreStop {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        match self {
            PreStop::Sleep(d) => m.serialize_entry("sleep", d)?,
            PreStop::Exec(d) => m.serialize_entry("exec", d)?,
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for PreStop {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Plain(String),
            Table(Action),
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Action {
            sleep: Option<SimDuration>,
            exec: Option<SimDuration>,
        }
        match Raw::deserialize(d).map_err(|_| {
            de::Error::custom(
                "expected a duration (\"5s\", a sleep) or { sleep = \"5s\" } or { exec = \"5s\" }",
            )
        })? {
            Raw::Plain(v) => v.parse().map(PreStop::Sleep).map_err(de::Error::custom),
            Raw::Table(Action {
                sleep: Some(v),
                exec: None,
            }) => Ok(PreStop::Sleep(v)),
            Raw::Table(Action {
                sleep: None,
                exec: Some(v),
            }) => Ok(PreStop::Exec(v)),
            Raw::Table(_) => Err(de::Error::custom(
                "a preStop hook has exactly one action: sleep or exec",
            )),
        }
    }
}

/// `[lifecycle]`: what the kubelet does on deletion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LifecycleConfig {
    /// terminationGracePeriodSeconds, counted from deletion, preStop included; SIGKILL at its
    /// end. Default 30 s (Kubernetes pod spec; k8s PR #74160 "It counts against the grace
    /// period"). If preStop overruns it, the kubelet sends SIGTERM and allows 2 s more.
    pub grace_period: SimDuration,
    /// The preStop hook; absent (the default, as in Kubernetes) = none: SIGTERM at deletion.
    pub prestop: Option<PreStop>,
    /// From the exit of a deleted pod's process to the removal of its sandbox and IP. Until
    /// then a connection to the pod is refused (RST); after it nobody answers the SYN and the
    /// client's connect timeout fires. The kubelet stops the sandbox (CNI DEL) as soon as the
    /// containers of a deleted pod have exited (pod worker: SyncTerminatingPod, then
    /// StopPodSandbox). Default 150 ms: on the host cluster the refusals after a pod's exit
    /// lasted 100-170 ms before the timeouts began
    /// (docs/results/2026-11-25-cluster/observed/pid1/run-1, records-new).
    pub sandbox_teardown: SimDuration,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            grace_period: secs(30),
            prestop: None,
            sandbox_teardown: ms(150),
        }
    }
}

/// What the application does when SIGTERM reaches it (after `app.keep_serving`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnSigterm {
    /// Exits at once (exit code 143): requests in flight are reset, idle keep-alives dropped.
    Exit,
    /// Stops accepting, closes keep-alives (at once, or jittered over `drain.jitter_window`),
    /// finishes in-flight requests within `drain.timeout`, then exits; `drain.guardian` forces
    /// the exit.
    Drain,
}

/// `[app]`: what the application itself does on SIGTERM (it acts only when SIGTERM reaches
/// it: `container.entrypoint` exec or init).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// Default `exit` (the behaviour of a server with no SIGTERM handler that is not PID 1, and
    /// of real-service with its drain lever off).
    pub on_sigterm: OnSigterm,
    /// At SIGTERM the application fails its readiness endpoint (real-service's readiness
    /// lever: `/readyz` answers 503). Acts through the readiness probe (`pod.readiness`): the
    /// EndpointSlice marks the pod not `serving` after `failure_threshold` probes.
    pub fail_readiness: bool,
    /// After SIGTERM the application keeps serving this long (readiness failed when
    /// `fail_readiness`) before `on_sigterm` acts: an in-application preStop. Default 0 s.
    pub keep_serving: SimDuration,
    /// While draining, a request that cannot finish before the drain's deadline (its service
    /// time runs past `drain.timeout`, or the guardian) is refused at once with 503 +
    /// `Retry-After` (outcome `shed`: refused on purpose, not lost) instead of being started
    /// and cut (real-service's requeue lever does this for `/work`; the lever patch
    /// `requeue` sets it). The answer closes its connection (`Connection: close`, as
    /// real-service does), so the client's next request goes through the balancer again.
    /// Default false. Not serialized when off.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shed_unfinishable: bool,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            on_sigterm: OnSigterm::Exit,
            fail_readiness: false,
            keep_serving: SimDuration::ZERO,
            shed_unfinishable: false,
        }
    }
}

/// `[server]`: the application server's keep-alive limits. Each closes a connection with
/// `Connection: close` on a response (max requests, max age) or when idle (idle timeout), so a
/// client reconnects, through its balancer, to a pod the balancer picks afresh: rotation frees
/// keep-alives pinned to a pod being deleted. Absent = no limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Close a keep-alive connection idle this long (Go `http.Server.IdleTimeout`; nginx
    /// `keepalive_timeout` 75 s; Node.js `server.keepAliveTimeout` 5 s). A request the client
    /// sends before it sees the close is a keep-alive race.
    pub idle_timeout: Option<SimDuration>,
    /// Close a connection after this many requests (nginx `keepalive_requests` 1000; Envoy
    /// `max_requests_per_connection`).
    pub max_requests: Option<u32>,
    /// Close a connection on its first response after it is this old (Envoy
    /// `max_connection_duration`; gRPC `MaxConnectionAge`).
    pub max_age: Option<SimDuration>,
}

/// `[drain]`: how the application drains when `app.on_sigterm = "drain"`. Defaults are
/// real-service's (`real-service/src/config.rs`). Not used when the application exits at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DrainConfig {
    /// How long the drain waits for in-flight requests and open connections (10 s).
    pub timeout: SimDuration,
    /// Keep-alive closes are spread uniformly over this window; 0 s (the default) closes every
    /// keep-alive at once (real-service's jitter, 2 s, is switched on by its surge lever).
    pub jitter_window: SimDuration,
    /// Guardian budget from SIGTERM to a forced exit (25 s).
    pub guardian: SimDuration,
    /// Without jitter only: the most idle keep-alive connections per second the drain closes.
    /// The server works through its connections one after another, each close costing CPU (the
    /// FIN, the connection task's wake-up and teardown), so a drain that closes K connections
    /// "at once" spreads them over K / rate seconds. Absent (the default): every close in one
    /// instant. Measured with the real service on loopback
    /// (`docs/results/2026-12-03-storm-smoke/eager-2026-12-04/predicted-with-close-cost/`). Not
    /// serialized when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_rate: Option<f64>,
}

impl Default for DrainConfig {
    fn default() -> Self {
        DrainConfig {
            timeout: secs(10),
            jitter_window: SimDuration::ZERO,
            guardian: secs(25),
            close_rate: None,
        }
    }
}

/// An absolute count or a percentage of desired replicas, as Kubernetes' `IntOrString`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntOrPercent {
    /// An absolute number of pods.
    Int(u32),
    /// A percentage (0..=100) of desired replicas, rounded as Kubernetes does for the field.
    Percent(u32),
}

impl IntOrPercent {
    /// The absolute value for `replicas`, rounding percentages up or down.
    pub fn resolve(self, replicas: u32, round_up: bool) -> u32 {
        match self {
            IntOrPercent::Int(v) => v,
            IntOrPercent::Percent(p) => {
                let num = u64::from(p) * u64::from(replicas);
                let v = if round_up {
                    num.div_ceil(100)
                } else {
                    num / 100
                };
                u32::try_from(v).unwrap_or(u32::MAX)
            }
        }
    }
    fn is_zero(self) -> bool {
        matches!(self, IntOrPercent::Int(0) | IntOrPercent::Percent(0))
    }
}

impl fmt::Display for IntOrPercent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrPercent::Int(v) => write!(f, "{v}"),
            IntOrPercent::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for IntOrPercent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrPercent::Int(v) => s.serialize_u32(*v),
            IntOrPercent::Percent(_) => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrPercent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntOrPercent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer or a percentage like \"25%\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrPercent, E> {
                u32::try_from(v)
                    .map(IntOrPercent::Int)
                    .map_err(|_| E::custom("too large"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrPercent, E> {
                u32::try_from(v)
                    .map(IntOrPercent::Int)
                    .map_err(|_| E::custom(format!("{v} is negative or too large")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<IntOrPercent, E> {
                let t = s.trim();
                match t.strip_suffix('%') {
                    Some(n) => n
                        .trim()
                        .parse::<u32>()
                        .map(IntOrPercent::Percent)
                        .map_err(|_| E::custom(format!("{s:?} is not a percentage like \"25%\""))),
                    None => t
                        .parse::<u32>()
                        .map(IntOrPercent::Int)
                        .map_err(|_| E::custom(format!("{s:?} is not an integer or \"N%\""))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `[rollout]`: the Deployment's RollingUpdate strategy. Defaults 25% / 25% (Kubernetes API
/// reference, RollingUpdateDeployment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RolloutConfig {
    /// Rounds up when a percentage.
    pub max_surge: IntOrPercent,
    /// Rounds down when a percentage.
    pub max_unavailable: IntOrPercent,
    /// minReadySeconds: a new pod counts as available after this long ready.
    pub min_ready: SimDuration,
    /// The Deployment and ReplicaSet controllers' reaction, from a new pod's readiness (after
    /// `min_ready`) to the next step of the roll (an old pod deleted, the next new pod created):
    /// a watch, a sync and a write each. Measured on the project's host cluster 2026-12-03: 28-50
    /// ms from a go-httpbin pod's Ready to the old pod's deletion
    /// (docs/results/2026-12-03-third-party). Absent: the next step at the same instant (the
    /// default, for now). It orders a readiness change before the deletion it causes, which
    /// matters to `propagation.min_sync_period`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_delay: Option<SimDuration>,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        RolloutConfig {
            max_surge: IntOrPercent::Percent(25),
            max_unavailable: IntOrPercent::Percent(25),
            min_ready: SimDuration::ZERO,
            controller_delay: None,
        }
    }
}

/// `(max_surge, max_unavailable)` as absolute pod counts for `replicas`, as Kubernetes'
/// `ResolveFenceposts` (pkg/controller/deployment/util/deployment_util.go): surge rounds up,
/// unavailable rounds down, and if both come out 0 (only possible through rounding, since
/// validation rejects two explicit zeros) unavailable becomes 1.
pub fn resolve_fenceposts(
    max_surge: IntOrPercent,
    max_unavailable: IntOrPercent,
    replicas: u32,
) -> (u32, u32) {
    let surge = max_surge.resolve(replicas, true);
    let unavailable = max_unavailable.resolve(replicas, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// `[queue]`: the job queue and the worker in each pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Jobs published per second (Poisson), above 0 (leave `[queue]` out for no queue).
    pub rate: f64,
    /// Work per job. Default 1 s, as the shipped `base.toml`.
    pub duration: Dist,
    /// The side effect is applied at this fraction of the job's work (0..=1); the ack follows
    /// the end of the work.
    pub effect_at: f64,
    /// Lease (visibility timeout); a job not acked by then is redelivered. Default 30 s:
    /// real-service `FLEETSIM_LEASE` in deploy/k8s.
    pub lease: SimDuration,
    /// Workers per pod.
    pub workers: u32,
    /// At SIGTERM the worker stops fetching, finishes the job in hand if it ends before the
    /// process is expected to exit, and releases it to the queue otherwise (real-service's
    /// requeue lever). Off: it works until its process dies; a killed job waits for its lease.
    pub release_on_sigterm: bool,
    /// Side effects carry an idempotency key: a redelivered job's effect is a no-op.
    pub idempotent: bool,
    /// When the worker acks a job: `after_work` (the default; a job whose worker dies is
    /// redelivered at lease expiry and may apply twice) or `on_receipt` (acked when fetched:
    /// never redelivered, so a job whose worker dies before its side effect is lost, and
    /// `release_on_sigterm` cannot hand it back; it only stops fetching).
    #[serde(skip_serializing_if = "AckMode::is_after_work")]
    pub ack: AckMode,
}

/// `queue.ack`: when the worker acknowledges a job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckMode {
    /// After the work (at-least-once delivery).
    #[default]
    AfterWork,
    /// On receipt, before the work (at-most-once delivery).
    OnReceipt,
}

impl AckMode {
    /// `true` for the default, [`AckMode::AfterWork`].
    pub fn is_after_work(&self) -> bool {
        *self == AckMode::AfterWork
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            rate: 2.0,
            duration: Dist::constant(secs(1)),
            effect_at: 0.5,
            lease: secs(30),
            workers: 2,
            release_on_sigterm: false,
            idempotent: false,
            ack: AckMode::AfterWork,
        }
    }
}

/// The bounds [`Fleet::validate`] enforces beyond each field's own range, so that no valid
/// fleet can overflow the simulated clock, exhaust memory or run without end. Every duration
/// field is at most `MAX_DURATION` (several at most 1 h; each error states its limit), and
/// every distribution's parameters at most [`sim_core::Dist::MAX_PARAM`].
pub mod limits {
    use sim_core::SimDuration;

    /// The longest duration any field may hold (24 h, as `run.max_duration`).
    pub const MAX_DURATION: SimDuration = SimDuration::from_secs(86_400);
    /// The shortest readiness probe period (1 ms; the kubelet's own minimum is 1 s).
    pub const MIN_PROBE_PERIOD: SimDuration = SimDuration::from_millis(1);
    /// The narrowest timeline bucket (1 ms).
    pub const MIN_BUCKET: SimDuration = SimDuration::from_millis(1);
    /// The most timeline buckets a run may have: (`run.max_duration` + settle) / `run.bucket`.
    pub const MAX_BUCKETS: u64 = 100_000;
    /// The most requests one run may send (each is kept, about 40 bytes, for the analysis:
    /// under 1 GB). Checked before the run (`load.rate` x (`run.baseline` + `run.tail`)) and
    /// during it (the run stops with an error naming the fields).
    pub const MAX_REQUESTS: u64 = 20_000_000;
    /// The most jobs one run may publish (checked during the run).
    pub const MAX_JOBS: u64 = 10_000_000;
    /// The most events one run may execute (checked during the run; at the simulator's
    /// 5-8 M events/s, under a minute).
    pub const MAX_EVENTS: u64 = 300_000_000;
    /// The most keep-alive clients (`client.pool`), as `load.clients`.
    pub const MAX_CLIENTS: u64 = 100_000;
    /// The most pods a rollout may add or remove at once, as `pod.replicas`.
    pub const MAX_REPLICAS: u64 = 1_000;
}

/// One semantic error in a fleet: the dotted field path and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ConfigError {
    /// The dotted field path in the scenario file (`drain.timeout`, `balancer.kind`, ...).
    pub path: String,
    /// Why the value is refused, in words a user can act on.
    pub reason: String,
}

impl ConfigError {
    fn new(path: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            path: path.to_string(),
            reason: reason.into(),
        }
    }
}

impl Fleet {
    /// Semantic checks; each error names the dotted field path and the reason, e.g.
    /// `rollout.max_surge: maxSurge and maxUnavailable cannot both be 0`.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut e = Vec::new();
        let mut dist = |path: &str, d: &Dist| {
            if let Err(err) = d.sampler() {
                e.push(ConfigError::new(path, err.to_string()));
            }
        };
        dist("propagation.endpointslice", &self.propagation.endpointslice);
        if let Some(l) = &self.propagation.lag {
            dist("propagation.lag", l);
        }
        dist("pod.startup", &self.pod.startup);
        dist("pod.service_time", &self.pod.service_time);
        if let Some(d) = &self.pod.service_time_while_pods_start {
            dist("pod.service_time_while_pods_start", d);
        }
        if let Some(q) = &self.queue {
            dist("queue.duration", &q.duration);
        }

        self.check_bounds(&mut e);
        if self.propagation.min_sync_period == Some(SimDuration::ZERO) {
            e.push(ConfigError::new(
                "propagation.min_sync_period",
                "must be above 0 (leave it out for independent lags)".to_string(),
            ));
        }

        let r = &self.run;
        if r.bucket.is_zero() {
            e.push(ConfigError::new("run.bucket", "must be above 0s"));
        }
        if r.max_duration <= r.baseline {
            e.push(ConfigError::new(
                "run.max_duration",
                format!("must be longer than run.baseline ({})", r.baseline),
            ));
        }
        if r.max_duration > secs(86_400) {
            e.push(ConfigError::new("run.max_duration", "at most 24h"));
        }

        let l = &self.load;
        if l.clients == 0 && !(l.rate.is_finite() && l.rate > 0.0) {
            e.push(ConfigError::new(
                "load.rate",
                format!("must be a finite number above 0 (got {})", l.rate),
            ));
        }
        if l.clients == 0 && l.rate.is_finite() && l.rate > 1_000_000.0 {
            e.push(ConfigError::new("load.rate", "at most 1000000 per second"));
        }
        if l.clients > 100_000 {
            e.push(ConfigError::new("load.clients", "at most 100000"));
        }
        if l.deadline.is_zero() {
            e.push(ConfigError::new("load.deadline", "must be above 0s"));
        }
        if self.client.connect_timeout.is_zero() {
            e.push(ConfigError::new(
                "client.connect_timeout",
                "must be above 0s",
            ));
        }

        let c = &self.client;
        if c.connection == ConnectionStyle::Keepalive && c.pool == 0 {
            e.push(ConfigError::new(
                "client.pool",
                "a keep-alive pool needs at least 1 connection",
            ));
        }
        if c.retry.attempts > 10 {
            e.push(ConfigError::new("client.retry.attempts", "at most 10"));
        }
        if c.retry.on.contains(&Outcome::Ok) {
            e.push(ConfigError::new(
                "client.retry.on",
                "\"ok\" is not a failure to retry",
            ));
        }

        let b = &self.balancer;
        let preset_kind = b.preset.spec().kind;
        if c.eager_reconnect {
            if c.connection != ConnectionStyle::Keepalive {
                e.push(ConfigError::new(
                    "client.eager_reconnect",
                    "only keep-alive clients keep connections to reopen (client.connection = \"keepalive\"); a new-connection client opens one per request",
                ));
            } else if b.kind.unwrap_or(preset_kind) == BalancerKind::L7 {
                e.push(ConfigError::new(
                    "client.eager_reconnect",
                    format!(
                        "balancer preset {} is an L7 proxy: the clients' keep-alive connections end at the proxy, which a pod's drain does not close, so there is nothing to reopen (the model has no client-to-proxy connections)",
                        b.preset.name()
                    ),
                ));
            }
        }
        if let Some(rate) = c.eager_reopen_rate {
            if !c.eager_reconnect {
                e.push(ConfigError::new(
                    "client.eager_reopen_rate",
                    "sets the pace of eager reopens, and there are none without client.eager_reconnect = true",
                ));
            }
            if !(rate.is_finite() && rate > 0.0 && rate <= 1e9) {
                e.push(ConfigError::new(
                    "client.eager_reopen_rate",
                    format!(
                        "reopens per second: must be a finite number above 0 and at most 1000000000 (got {rate})"
                    ),
                ));
            }
        }
        if let Some(k) = b.kind
            && k != preset_kind
        {
            e.push(ConfigError::new(
                "balancer.kind",
                format!(
                    "{k:?} does not match preset {:?}, which is {preset_kind:?}",
                    b.preset
                )
                .to_lowercase(),
            ));
        }
        for field in b.unused_fields() {
            let hint = if field == "health_check_delay" && b.preset.health_check().is_some() {
                "; its replacement is health_check_interval and healthy_threshold"
            } else {
                ""
            };
            e.push(ConfigError::new(
                &format!("balancer.{field}"),
                format!(
                    "preset {} has no such setting (it uses: {}){hint}",
                    b.preset.name(),
                    b.preset.fields().join(", ")
                ),
            ));
        }
        if b.health_check_delay.is_some()
            && (b.health_check_interval.is_some() || b.healthy_threshold.is_some())
        {
            e.push(ConfigError::new(
                "balancer.health_check_delay",
                "give either health_check_delay or its replacement, health_check_interval and healthy_threshold (delay = threshold x interval), not both",
            ));
        }
        if b.healthy_threshold == Some(0) || b.healthy_threshold.is_some_and(|t| t > 10) {
            e.push(ConfigError::new("balancer.healthy_threshold", "1 to 10"));
        }
        if b.sidecar.is_some() && matches!(b.preset, Preset::EnvoySidecar | Preset::LinkerdSidecar)
        {
            e.push(ConfigError::new(
                "balancer.sidecar",
                format!(
                    "preset {} already has its sidecar proxy in each pod",
                    b.preset.name()
                ),
            ));
        }
        if b.preset == Preset::AwsNlbIp
            && b.deregistration_delay.is_some()
            && b.connection_termination != Some(true)
        {
            e.push(ConfigError::new(
                "balancer.deregistration_delay",
                "on an NLB it acts only with connection_termination = true: with it off (the NLB's default) established flows go on after the delay and nothing changes",
            ));
        }
        if b.upstream_max_requests == Some(0) {
            e.push(ConfigError::new(
                "balancer.upstream_max_requests",
                "at least 1 (absent: the preset's limit, or none)",
            ));
        }
        if b.upstream_max_age
            .is_some_and(|d| d.is_zero() || d > secs(86_400))
        {
            e.push(ConfigError::new(
                "balancer.upstream_max_age",
                "above 0s and at most 24h",
            ));
        }
        if b.unhealthy_threshold == Some(0) || b.unhealthy_threshold.is_some_and(|t| t > 10) {
            e.push(ConfigError::new("balancer.unhealthy_threshold", "1 to 10"));
        }
        if b.health_check_interval
            .is_some_and(|d| d.is_zero() || d > secs(300))
        {
            e.push(ConfigError::new(
                "balancer.health_check_interval",
                "above 0s and at most 300s",
            ));
        }
        if b.wait_before_exit.is_some_and(|d| d > secs(3_600)) {
            e.push(ConfigError::new("balancer.wait_before_exit", "at most 1h"));
        }
        if let Some(inner) = b.via {
            if !matches!(inner, Preset::KubeProxyIptables | Preset::KubeProxyNftables) {
                e.push(ConfigError::new(
                    "balancer.via",
                    format!(
                        "{} does not pick pods behind another balancer; only kube_proxy_iptables and kube_proxy_nftables do",
                        inner.name()
                    ),
                ));
            }
            if preset_kind != BalancerKind::L7 {
                e.push(ConfigError::new(
                    "balancer.via",
                    format!(
                        "preset {} is itself the pod-picking hop; a chain needs an L7 proxy or cloud LB in front",
                        b.preset.name()
                    ),
                ));
            }
            for (field, set) in [
                ("health_check_delay", b.health_check_delay.is_some()),
                ("health_check_interval", b.health_check_interval.is_some()),
                ("healthy_threshold", b.healthy_threshold.is_some()),
                ("unhealthy_threshold", b.unhealthy_threshold.is_some()),
                ("deregistration_delay", b.deregistration_delay.is_some()),
                ("readiness_gate", b.readiness_gate.is_some()),
            ] {
                if set {
                    e.push(ConfigError::new(
                        &format!("balancer.{field}"),
                        format!(
                            "with via = \"{}\" the {} targets nodes or a virtual IP, not pods: this setting would not act",
                            inner.name(),
                            b.preset.name()
                        ),
                    ));
                }
            }
        }
        self.check_front(&mut e);
        if b.retries.is_some_and(|r| r > 10) {
            e.push(ConfigError::new("balancer.retries", "at most 10"));
        }
        if b.upstream_timeout.is_some_and(|d| d.is_zero()) {
            e.push(ConfigError::new(
                "balancer.upstream_timeout",
                "must be above 0s",
            ));
        }
        if b.connect_timeout.is_some_and(|d| d.is_zero()) {
            e.push(ConfigError::new(
                "balancer.connect_timeout",
                "must be above 0s",
            ));
        }

        let p = &self.pod;
        if p.replicas == 0 {
            e.push(ConfigError::new("pod.replicas", "must be at least 1"));
        }
        if p.replicas > 1_000 {
            e.push(ConfigError::new("pod.replicas", "at most 1000"));
        }
        if p.concurrency == 0 {
            e.push(ConfigError::new("pod.concurrency", "must be at least 1"));
        }
        if let Some(rp) = &p.readiness {
            if rp.period.is_zero() {
                e.push(ConfigError::new("pod.readiness.period", "must be above 0s"));
            }
            if rp.timeout.is_zero() {
                e.push(ConfigError::new(
                    "pod.readiness.timeout",
                    "must be above 0s",
                ));
            }
            if rp.success_threshold == 0 {
                e.push(ConfigError::new(
                    "pod.readiness.success_threshold",
                    "must be at least 1",
                ));
            }
            if rp.failure_threshold == 0 {
                e.push(ConfigError::new(
                    "pod.readiness.failure_threshold",
                    "must be at least 1",
                ));
            }
        } else if self.app.fail_readiness {
            e.push(ConfigError::new(
                "app.fail_readiness",
                "the pod has no readiness probe (pod.readiness), so failing the readiness endpoint changes nothing; add a probe or remove this",
            ));
        }
        if !(p.cold_start.factor.is_finite() && p.cold_start.factor >= 1.0) {
            e.push(ConfigError::new(
                "pod.cold_start.factor",
                format!("must be a finite number >= 1 (got {})", p.cold_start.factor),
            ));
        }
        if p.cold_start.factor > 1_000.0 {
            e.push(ConfigError::new("pod.cold_start.factor", "at most 1000"));
        }

        if self.lifecycle.grace_period > secs(3_600) {
            e.push(ConfigError::new("lifecycle.grace_period", "at most 1h"));
        }
        if self.lifecycle.sandbox_teardown > secs(600) {
            e.push(ConfigError::new(
                "lifecycle.sandbox_teardown",
                "at most 10m",
            ));
        }
        if let Some(ps) = self.lifecycle.prestop
            && ps.duration() > secs(3_600)
        {
            e.push(ConfigError::new("lifecycle.prestop", "at most 1h"));
        }
        if self.app.keep_serving > secs(3_600) {
            e.push(ConfigError::new("app.keep_serving", "at most 1h"));
        }
        let d = &self.drain;
        if self.app.on_sigterm == OnSigterm::Drain && d.jitter_window > d.timeout {
            e.push(ConfigError::new(
                "drain.jitter_window",
                format!(
                    "{} is longer than drain.timeout {}: connections would be cut before their jittered close",
                    d.jitter_window, d.timeout
                ),
            ));
        }
        if let Some(rate) = d.close_rate {
            if !d.jitter_window.is_zero() {
                e.push(ConfigError::new(
                    "drain.close_rate",
                    "paces a drain that closes its keep-alives at once; with drain.jitter_window the closes are already spread (set one or the other)",
                ));
            }
            if self.app.on_sigterm != OnSigterm::Drain {
                e.push(ConfigError::new(
                    "drain.close_rate",
                    "paces the drain's closes, and the application does not drain (app.on_sigterm is not \"drain\")",
                ));
            }
            if !(rate.is_finite() && rate > 0.0 && rate <= 1e9) {
                e.push(ConfigError::new(
                    "drain.close_rate",
                    format!(
                        "closes per second: must be a finite number above 0 and at most 1000000000 (got {rate})"
                    ),
                ));
            }
        }
        let sv = &self.server;
        if sv.idle_timeout.is_some_and(|d| d.is_zero()) {
            e.push(ConfigError::new("server.idle_timeout", "must be above 0s"));
        }
        if sv.max_age.is_some_and(|d| d.is_zero()) {
            e.push(ConfigError::new("server.max_age", "must be above 0s"));
        }
        if sv.max_requests == Some(0) {
            e.push(ConfigError::new(
                "server.max_requests",
                "must be at least 1",
            ));
        }

        let ro = &self.rollout;
        if ro.max_surge.is_zero() && ro.max_unavailable.is_zero() {
            e.push(ConfigError::new(
                "rollout.max_unavailable",
                format!(
                    "maxSurge is {} and maxUnavailable is {}: a rollout could neither add a pod nor remove one (Kubernetes rejects this too); set rollout.max_surge = 1 (add one new pod at a time) or rollout.max_unavailable = 1 (remove one old pod at a time)",
                    ro.max_surge, ro.max_unavailable
                ),
            ));
        }
        for (path, v) in [
            ("rollout.max_surge", ro.max_surge),
            ("rollout.max_unavailable", ro.max_unavailable),
        ] {
            if let IntOrPercent::Percent(pct) = v
                && pct > 100
            {
                e.push(ConfigError::new(path, format!("{pct}% is above 100%")));
            }
        }
        if let Some(n) = &self.nodes {
            if n.count == 0 || n.count > 1_000 {
                e.push(ConfigError::new("nodes.count", "1 to 1000"));
            }
            if !(n.cores.is_finite() && n.cores > 0.0) {
                e.push(ConfigError::new(
                    "nodes.cores",
                    format!("must be a finite number above 0 (got {})", n.cores),
                ));
            }
            if !(n.cpu_per_request.is_finite() && n.cpu_per_request >= 0.0) {
                e.push(ConfigError::new(
                    "nodes.cpu_per_request",
                    format!("must be a finite number >= 0 (got {})", n.cpu_per_request),
                ));
            }
        }
        if let Some(st) = &self.streams {
            if st.count == 0 || u64::from(st.count) > limits::MAX_CLIENTS {
                e.push(ConfigError::new(
                    "streams.count",
                    format!(
                        "1 to {} (got {}); leave [streams] out for none",
                        limits::MAX_CLIENTS,
                        st.count
                    ),
                ));
            }
            if st.reconnect == StreamReconnect::Immediate {
                for (path, set) in [
                    ("streams.backoff_base", st.backoff_base.is_some()),
                    ("streams.backoff_max", st.backoff_max.is_some()),
                ] {
                    if set {
                        e.push(ConfigError::new(
                            path,
                            "only with streams.reconnect = \"backoff\": an immediate reconnect has no backoff",
                        ));
                    }
                }
            } else if st.max() > secs(3600) {
                e.push(ConfigError::new(
                    "streams.backoff_max",
                    format!("{} is above the limit 1h", st.max()),
                ));
            } else if st.base() > st.max() {
                e.push(ConfigError::new(
                    "streams.backoff_base",
                    format!("{} is above streams.backoff_max ({})", st.base(), st.max()),
                ));
            }
        }
        if let Some(q) = &self.queue {
            if !(q.rate.is_finite() && q.rate > 0.0) || q.rate > 100_000.0 {
                e.push(ConfigError::new(
                    "queue.rate",
                    format!(
                        "must be a finite number in (0, 100000] (got {}); leave [queue] out for no queue",
                        q.rate
                    ),
                ));
            }
            if !(q.effect_at.is_finite() && (0.0..=1.0).contains(&q.effect_at)) {
                e.push(ConfigError::new(
                    "queue.effect_at",
                    format!("must be within 0..=1 (got {})", q.effect_at),
                ));
            }
            if q.lease.is_zero() {
                e.push(ConfigError::new("queue.lease", "must be above 0s"));
            }
            if q.workers == 0 || q.workers > 64 {
                e.push(ConfigError::new("queue.workers", "1 to 64 per pod"));
            }
        }
        if e.is_empty() { Ok(()) } else { Err(e) }
    }

    /// `balancer.front` and its `front_*` fields: each acts, or is an error naming the field.
    fn check_front(&self, e: &mut Vec<ConfigError>) {
        let b = &self.balancer;
        let given = [
            ("front_retries", b.front_retries.is_some()),
            ("front_retry_on", b.front_retry_on.is_some()),
            ("front_timeout", b.front_timeout.is_some()),
        ];
        let Some(front) = b.front else {
            for (field, set) in given {
                if set {
                    e.push(ConfigError::new(
                        &format!("balancer.{field}"),
                        "sets the outer hop's behaviour and there is none: add balancer.front (aws_alb, gclb or istio_gateway) or remove this",
                    ));
                }
            }
            return;
        };
        let name = front.name();
        for (field, set) in given {
            if set && !front.fields().contains(&field) {
                e.push(ConfigError::new(
                    &format!("balancer.{field}"),
                    format!(
                        "front {name} has no such setting (it uses: {})",
                        front.fields().join(", ")
                    ),
                ));
            }
        }
        let inner = b.preset;
        if b.kind.unwrap_or(inner.spec().kind) == BalancerKind::L4 {
            e.push(ConfigError::new(
                "balancer.front",
                format!(
                    "preset {} is an L4 hop that picks pods itself; an L7 hop in front of kube-proxy is the via chain (preset = the L7 proxy, via = \"kube_proxy_iptables\"), and an L4 front (an NLB in front of the ingress tier) changes nothing for loss: leave it out",
                    inner.name()
                ),
            ));
        }
        let same = match front {
            Front::AwsAlb => matches!(
                inner,
                Preset::AwsAlbIp | Preset::AwsAlbInstance | Preset::CloudLb
            ),
            Front::Gclb => inner == Preset::GclbNeg,
            Front::IstioGateway => inner == Preset::EnvoySidecar,
        };
        if same {
            let hint = if front == Front::IstioGateway {
                "the gateway is the Envoy that picks the pods: use preset = \"envoy_sidecar\" alone and set its balancer.retries"
            } else {
                "one cloud load balancer in front of itself; the preset alone is the chain"
            };
            e.push(ConfigError::new(
                "balancer.front",
                format!("front {name} in front of preset {}: {hint}", inner.name()),
            ));
        }
        if self.streams.is_some() {
            e.push(ConfigError::new(
                "balancer.front",
                "long-lived streams through a front hop are not modelled: remove [streams] or the front",
            ));
        }
        if let Some(on) = &b.front_retry_on {
            for o in on {
                if !matches!(o, Outcome::Http502 | Outcome::Http503 | Outcome::Http504) {
                    e.push(ConfigError::new(
                        "balancer.front_retry_on",
                        format!(
                            "{}: the inner hop is an L7 proxy and answers the front with a status; only http_502, http_503 (the application's shed 503 too) and http_504 can be retried",
                            o.as_str()
                        ),
                    ));
                }
            }
        }
        if b.front_retries.is_some_and(|r| r > 10) {
            e.push(ConfigError::new("balancer.front_retries", "at most 10"));
        }
        if b.front_timeout.is_some_and(|d| d.is_zero()) {
            e.push(ConfigError::new(
                "balancer.front_timeout",
                "must be above 0s",
            ));
        }
        let Some(spec) = b.resolve_front() else {
            return;
        };
        let has_retries = front.fields().contains(&"front_retries");
        if has_retries && b.front_retries.is_some_and(|r| r > 0) && spec.retry_on.is_empty() {
            e.push(ConfigError::new(
                "balancer.front_retries",
                format!(
                    "front {name} retries nothing the inner hop answers: front_retry_on is empty (give e.g. [\"http_503\"])"
                ),
            ));
        }
        if has_retries
            && b.front_retry_on.as_ref().is_some_and(|on| !on.is_empty())
            && spec.retries == 0
        {
            e.push(ConfigError::new(
                "balancer.front_retry_on",
                format!("front {name} makes no retries (front_retries = 0): this would not act"),
            ));
        }
        let retries_act = spec.retries > 0 && !spec.retry_on.is_empty();
        if !retries_act && spec.timeout == SimDuration::MAX {
            e.push(ConfigError::new(
                "balancer.front",
                format!(
                    "front {name} with these settings retries nothing the inner hop answers and has no timeout, so it cannot act on the roll (Istio 1.24+ retries only connection failures, which the ingress tier's pods do not have, and has no route timeout by default): set balancer.front_retry_on (e.g. [\"http_503\"], the default before Istio 1.24) or balancer.front_timeout, or leave the front out"
                ),
            ));
        }
    }

    /// The bounds of every duration and count (see [`limits`]): each field out of its range is
    /// one error naming the field, its value and the bound; then the estimates of the run's
    /// size (timeline buckets, requests) against [`limits::MAX_BUCKETS`] and
    /// [`limits::MAX_REQUESTS`].
    fn check_bounds(&self, e: &mut Vec<ConfigError>) {
        let mut at_most = |path: &str, v: SimDuration, max: SimDuration| {
            if v > max {
                e.push(ConfigError::new(
                    path,
                    format!("{v} is above the limit {max}"),
                ));
            }
        };
        let day = limits::MAX_DURATION;
        let hour = secs(3_600);
        let r = &self.run;
        at_most("run.baseline", r.baseline, day);
        at_most("run.tail", r.tail, hour);
        at_most("run.bucket", r.bucket, hour);
        at_most("run.settle", r.settle, hour);
        at_most("load.deadline", self.load.deadline, hour);
        let c = &self.client;
        at_most("client.idle_timeout", c.idle_timeout, day);
        at_most("client.rtt", c.rtt, hour);
        at_most("client.connect_timeout", c.connect_timeout, hour);
        at_most("client.retry.backoff", c.retry.backoff, hour);
        let b = &self.balancer;
        for (path, v) in [
            ("balancer.upstream_keepalive", b.upstream_keepalive),
            ("balancer.upstream_timeout", b.upstream_timeout),
            ("balancer.connect_timeout", b.connect_timeout),
            ("balancer.sidecar_drain", b.sidecar_drain),
            ("balancer.health_check_delay", b.health_check_delay),
            ("balancer.deregistration_delay", b.deregistration_delay),
            ("balancer.front_timeout", b.front_timeout),
        ] {
            if let Some(v) = v {
                at_most(path, v, day);
            }
        }
        if let Some(v) = self.rollout.controller_delay {
            at_most("rollout.controller_delay", v, hour);
        }
        if let Some(v) = self.propagation.min_sync_period {
            at_most("propagation.min_sync_period", v, hour);
        }
        let p = &self.pod;
        if let Some(rp) = &p.readiness {
            at_most("pod.readiness.initial_delay", rp.initial_delay, day);
            at_most("pod.readiness.period", rp.period, hour);
            at_most("pod.readiness.timeout", rp.timeout, hour);
        }
        at_most("pod.cold_start.duration", p.cold_start.duration, day);
        if let Some(v) = self.server.idle_timeout {
            at_most("server.idle_timeout", v, day);
        }
        if let Some(v) = self.server.max_age {
            at_most("server.max_age", v, day);
        }
        let d = &self.drain;
        at_most("drain.timeout", d.timeout, hour);
        at_most("drain.jitter_window", d.jitter_window, hour);
        at_most("drain.guardian", d.guardian, hour);
        at_most("rollout.min_ready", self.rollout.min_ready, hour);
        if let Some(q) = &self.queue {
            at_most("queue.lease", q.lease, day);
        }

        let mut at_least = |path: &str, v: SimDuration, min: SimDuration| {
            if !v.is_zero() && v < min {
                e.push(ConfigError::new(
                    path,
                    format!("{v} is below the limit {min}"),
                ));
            }
        };
        if let Some(rp) = &p.readiness {
            // A probe every nanosecond would be billions of events per pod before it starts.
            at_least("pod.readiness.period", rp.period, limits::MIN_PROBE_PERIOD);
        }
        at_least("run.bucket", r.bucket, limits::MIN_BUCKET);

        let mut count = |path: &str, v: u64, max: u64| {
            if v > max {
                e.push(ConfigError::new(
                    path,
                    format!("{v} is above the limit {max}"),
                ));
            }
        };
        count("client.pool", u64::from(c.pool), limits::MAX_CLIENTS);
        count("pod.concurrency", u64::from(p.concurrency), 1_000_000);
        if let Some(rp) = &p.readiness {
            count(
                "pod.readiness.success_threshold",
                u64::from(rp.success_threshold),
                1_000,
            );
            count(
                "pod.readiness.failure_threshold",
                u64::from(rp.failure_threshold),
                1_000,
            );
        }
        for (path, v) in [
            ("rollout.max_surge", self.rollout.max_surge),
            ("rollout.max_unavailable", self.rollout.max_unavailable),
        ] {
            if let IntOrPercent::Int(n) = v {
                count(path, u64::from(n), limits::MAX_REPLICAS);
            }
        }
        if let Some(n) = &self.nodes {
            for (path, v) in [
                ("nodes.cores", n.cores),
                ("nodes.cpu_per_request", n.cpu_per_request),
            ] {
                if v.is_finite() && v > 1_000_000.0 {
                    e.push(ConfigError::new(
                        path,
                        format!("{v} is above the limit 1000000"),
                    ));
                }
            }
            if n.cores.is_finite() && n.cores > 0.0 && n.cores < 0.001 {
                e.push(ConfigError::new(
                    "nodes.cores",
                    format!("{} is below the limit 0.001", n.cores),
                ));
            }
        }

        if !e.is_empty() {
            // The estimates below read the fields checked above.
            return;
        }
        // The run's size, estimated before it starts. The run lasts at most run.max_duration,
        // then settles for max(run.settle, load.deadline): the timeline has a bucket per
        // run.bucket of that.
        if !r.bucket.is_zero() {
            let span = r
                .max_duration
                .as_nanos()
                .saturating_add(r.settle.max(self.load.deadline).as_nanos());
            let buckets = span / r.bucket.as_nanos() + 1;
            if buckets > limits::MAX_BUCKETS {
                e.push(ConfigError::new(
                    "run.bucket",
                    format!(
                        "{} over run.max_duration {} plus the settle ({}) makes {buckets} timeline buckets, above the limit {}: raise run.bucket or lower run.max_duration",
                        r.bucket,
                        r.max_duration,
                        r.settle.max(self.load.deadline),
                        limits::MAX_BUCKETS
                    ),
                ));
            }
        }
        // Open loop: at least rate x (baseline + tail) requests, each one kept as a sample.
        let l = &self.load;
        if l.clients == 0 && l.rate.is_finite() && l.rate > 0.0 {
            let least = l.rate * (r.baseline.as_secs_f64() + r.tail.as_secs_f64());
            if least > limits::MAX_REQUESTS as f64 {
                e.push(ConfigError::new(
                    "load.rate",
                    format!(
                        "{} per second over run.baseline {} and run.tail {} is at least {least:.0} requests, above the limit of {} per run (each is kept for the analysis): lower load.rate or run.baseline",
                        l.rate,
                        r.baseline,
                        r.tail,
                        limits::MAX_REQUESTS
                    ),
                ));
            }
        }
    }

    /// `(max_surge, max_unavailable)` as pod counts, from `[rollout]` (Kubernetes rounding).
    pub fn effective_fenceposts(&self) -> (u32, u32) {
        resolve_fenceposts(
            self.rollout.max_surge,
            self.rollout.max_unavailable,
            self.pod.replicas,
        )
    }
}
