//! The field reference: every scenario field with its unit, default, source and the failure
//! mode it feeds (`fleetsim scenarios --reference`). A test checks that every field a fleet
//! can hold is listed here, so the reference cannot fall behind the structs.

/// One scenario field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRef {
    /// Dotted path in a scenario file.
    pub path: &'static str,
    /// Unit or type.
    pub unit: &'static str,
    /// Default (`-` = absent).
    pub default: &'static str,
    /// Where the default comes from (Kubernetes name, documentation, measurement, assumption).
    pub source: &'static str,
    /// The failure mode (mechanism or figure) it feeds.
    pub feeds: &'static str,
}

const fn f(
    path: &'static str,
    unit: &'static str,
    default: &'static str,
    source: &'static str,
    feeds: &'static str,
) -> FieldRef {
    FieldRef {
        path,
        unit,
        default,
        source,
        feeds,
    }
}

/// Every scenario field, in file order (`fleetsim scenarios --reference` prints it; re-exported
/// as `FIELD_REFERENCE`).
pub const FIELDS: &[FieldRef] = &[
    f(
        "run.baseline",
        "duration",
        "20s",
        "docs/measurement.md",
        "baseline p99",
    ),
    f(
        "run.tail",
        "duration",
        "5s",
        "docs/measurement.md (deploy window tail)",
        "window length",
    ),
    f(
        "run.bucket",
        "duration",
        "1s",
        "docs/measurement.md",
        "timeline",
    ),
    f("run.settle", "duration", "2s", "model", "pending jobs"),
    f(
        "run.max_duration",
        "duration",
        "30m",
        "model (cap)",
        "rollout_complete",
    ),
    f(
        "load.rate",
        "req/s",
        "200",
        "assumption (open loop, docs/measurement.md)",
        "every count",
    ),
    f(
        "load.arrivals",
        "poisson|constant",
        "poisson",
        "docs/measurement.md",
        "burstiness, p99",
    ),
    f(
        "load.deadline",
        "duration",
        "10s",
        "fleetsim load default",
        "deadline_exceeded",
    ),
    f(
        "load.clients",
        "count",
        "0 (open loop)",
        "bombardier/hey/Fortio style when > 0",
        "coordinated omission",
    ),
    f(
        "client.connection",
        "new|keepalive",
        "keepalive",
        "service-to-service clients",
        "keepalive_race, pinned connections",
    ),
    f(
        "client.pool",
        "count",
        "32",
        "fleetsim load --clients",
        "keepalive_race",
    ),
    f(
        "client.idle_timeout",
        "duration",
        "90s",
        "Go http.DefaultTransport IdleConnTimeout",
        "keepalive_race",
    ),
    f(
        "client.rtt",
        "duration",
        "500us",
        "assumption (in-cluster RTT)",
        "latency",
    ),
    f(
        "client.connect_timeout",
        "duration",
        "2s",
        "fleetsim load --connect-timeout",
        "unanswered_connect (timeout)",
    ),
    f(
        "client.eager_reconnect",
        "bool (keepalive only; an error with new or an L7 preset)",
        "false",
        "fleetsim load --eager-reconnect (loadgen/src/session.rs): one reopen at once, no backoff, no retry",
        "reconnect curve (storm of reopens at a drain or idle timeout), keepalive_race",
    ),
    f(
        "client.eager_reopen_rate",
        "conn/s",
        "- (no cost: every reopen at once); only with client.eager_reconnect = true, an error without it",
        "measured: the generator's own reopen path on loopback, loadgen/examples/connect-burst.rs (one reconnect thread, each connect paid in CPU): 23130 (median of 9 bursts of 2000; 11000-25500 per burst on 2 shared cores), docs/results/2026-12-03-storm-smoke/eager-2026-12-04/predicted-with-connect-cost/README.md",
        "reconnect curve: the eager storm's peak, at most 10 ms x rate + 1 per 10 ms bucket, the reopens queued behind one serial opener",
    ),
    f(
        "client.retry.attempts",
        "count",
        "0",
        "off by default",
        "hides failures as retries",
    ),
    f(
        "client.retry.backoff",
        "duration",
        "100ms",
        "assumption",
        "retries",
    ),
    f(
        "client.retry.on",
        "outcomes",
        "refused, reset, http_502, http_503",
        "common client policies",
        "retries",
    ),
    f(
        "balancer.preset",
        "kube_proxy_iptables|kube_proxy_nftables|ingress_nginx|haproxy_ingress|traefik|envoy_sidecar|linkerd_sidecar|cloud_lb|aws_alb_ip|aws_alb_instance|aws_nlb_ip|aws_nlb_instance|gclb_neg",
        "kube_proxy_iptables",
        "each default cited on Preset::spec",
        "stale_lb_view, no_endpoints, status codes",
    ),
    f(
        "balancer.kind",
        "l4|l7",
        "the preset's",
        "must match the preset",
        "-",
    ),
    f(
        "balancer.retries",
        "count",
        "preset (nginx 2, Envoy 0)",
        "ingress-nginx proxy-next-upstream-tries 3 (#3639)",
        "502 after retries",
    ),
    f(
        "balancer.upstream_keepalive",
        "duration",
        "preset (nginx 60s)",
        "ingress-nginx config.go upstream-keepalive-timeout",
        "keepalive_race at the proxy",
    ),
    f(
        "balancer.upstream_timeout",
        "duration",
        "preset (nginx 60s)",
        "proxy-read-timeout",
        "upstream_timeout (504)",
    ),
    f(
        "balancer.connect_timeout",
        "duration",
        "preset (nginx 5s, Envoy 10s, ALB 10s)",
        "proxy-connect-timeout; Istio connectTimeout; ALB docs",
        "unanswered_connect (504/503)",
    ),
    f(
        "balancer.terminating_fallback",
        "bool",
        "true (kube-proxy)",
        "KEP-1669 ProxyTerminatingEndpoints GA 1.28",
        "no_endpoints",
    ),
    f(
        "balancer.sidecar_drain",
        "duration",
        "5s (Envoy)",
        "Istio terminationDrainDuration (istio#34855)",
        "killed_in_flight at the sidecar",
    ),
    f(
        "balancer.health_check_delay",
        "duration",
        "30s (cloud LB)",
        "assumption: 2 checks x 15 s",
        "no_endpoints, slow registration",
    ),
    f(
        "balancer.deregistration_delay",
        "duration",
        "300s (cloud LB)",
        "AWS target group default (aws-lbc#3270)",
        "idle upstream connections closed",
    ),
    f(
        "balancer.health_check_interval",
        "duration",
        "preset (ALB 15s, NLB 10s, GCLB 5s)",
        "aws-load-balancer-controller annotations; Compute Engine health check defaults",
        "no_endpoints, slow registration",
    ),
    f(
        "balancer.healthy_threshold",
        "count",
        "preset (ALB 2, NLB 3, GCLB 2)",
        "aws-load-balancer-controller annotations; Compute Engine health check defaults",
        "no_endpoints, slow registration",
    ),
    f(
        "balancer.unhealthy_threshold",
        "count",
        "preset (ALB 2, NLB 3, GCLB 2)",
        "aws-load-balancer-controller annotations (unhealthy-threshold-count; service healthcheck-unhealthy-threshold); Compute Engine health check defaults",
        "stale_lb_view ends: a target that stops answering checks gets no new traffic",
    ),
    f(
        "balancer.upstream_max_requests",
        "count",
        "10000 (ingress-nginx); none (Envoy)",
        "ingress-nginx upstream-keepalive-requests; Envoy max_requests_per_connection",
        "upstream connections rotated: fewer long-lived keep-alives for a drain to race",
    ),
    f(
        "balancer.upstream_max_age",
        "duration",
        "1h (ingress-nginx); none (Envoy)",
        "ingress-nginx upstream-keepalive-time; Envoy max_connection_duration",
        "upstream connections rotated: fewer long-lived keep-alives for a drain to race",
    ),
    f(
        "balancer.sidecar",
        "\"envoy\"|\"linkerd\"",
        "none (the mesh presets have theirs)",
        "Istio: terminationDrainDuration 5 s, Envoy flags UC/UF (503); Linkerd: waitBeforeExitSeconds 0, 502 (linkerd2#4870)",
        "killed_in_flight answered 503 (Envoy) / 502 (Linkerd) by the sidecar; refused at deletion (Envoy) or after wait_before_exit (Linkerd)",
    ),
    f(
        "balancer.connection_termination",
        "bool",
        "false (NLB)",
        "AWS NLB target group attribute deregistration_delay.connection_termination.enabled",
        "killed_in_flight: flows still open when the deregistration delay ends are reset",
    ),
    f(
        "balancer.wait_before_exit",
        "duration",
        "0s (linkerd_sidecar, sidecar = \"linkerd\")",
        "Linkerd waitBeforeExitSeconds (proxy-configuration reference)",
        "stale_lb_view -> 502 at the refusing proxy",
    ),
    f(
        "balancer.readiness_gate",
        "bool",
        "false",
        "aws-load-balancer-controller pod readiness gate",
        "no_endpoints during the roll",
    ),
    f(
        "propagation.endpointslice",
        "distribution",
        "50ms",
        "assumption (no batching by default)",
        "listener_closed",
    ),
    f(
        "propagation.lag",
        "distribution",
        "the preset's",
        "kube-proxy minSyncPeriod 1 s; nginx 0.3/s + 1 s poll; given without min_sync_period: the whole lag, end to end (no preset throttle added)",
        "stale_lb_view",
    ),
    f(
        "rollout.controller_delay",
        "duration or absent",
        "- (same instant)",
        "measured 28-50 ms on the host cluster (2026-12-03 third-party runs)",
        "orders readiness before the deletion it causes",
    ),
    f(
        "propagation.min_sync_period",
        "duration or absent",
        "- (independent lags; traefik: its 2s reload throttle)",
        "kube-proxy --iptables-min-sync-period 1s (bounded_frequency_runner.go); Traefik providersThrottleDuration 2s, start to start (provider/aggregator)",
        "stale_lb_view (coupled syncs during a roll)",
    ),
    f(
        "pod.replicas",
        "count",
        "4",
        "Deployment replicas",
        "capacity_dip",
    ),
    f(
        "pod.startup",
        "distribution",
        "uniform 2s..4s",
        "assumption (calibrate)",
        "rollout length",
    ),
    f(
        "pod.service_time",
        "distribution",
        "100ms",
        "real-service FLEETSIM_WORK_MS",
        "latency, killed_in_flight",
    ),
    f(
        "pod.service_time_while_pods_start",
        "distribution",
        "none (pod.service_time)",
        "fleetsim calibrate (the calibration run's requests while its new pods started)",
        "latency in the deploy window",
    ),
    f(
        "pod.concurrency",
        "count",
        "8",
        "assumption (calibrate)",
        "queueing, deadline_exceeded",
    ),
    f(
        "pod.cold_start.factor",
        "ratio",
        "2.0",
        "assumption (calibrate)",
        "p99 after the roll",
    ),
    f(
        "pod.cold_start.duration",
        "duration",
        "20s",
        "assumption (calibrate)",
        "p99 after the roll",
    ),
    f(
        "pod.readiness",
        "table or absent",
        "present",
        "readinessProbe; absent = ready at container start",
        "no_endpoints, rollout pace",
    ),
    f(
        "pod.readiness.initial_delay",
        "duration",
        "0s",
        "initialDelaySeconds (Kubernetes default 0)",
        "rollout pace",
    ),
    f(
        "pod.readiness.period",
        "duration",
        "10s",
        "periodSeconds (Kubernetes default 10)",
        "rollout pace, serving after fail_readiness",
    ),
    f(
        "pod.readiness.success_threshold",
        "count",
        "1",
        "successThreshold (default 1)",
        "rollout pace",
    ),
    f(
        "pod.readiness.failure_threshold",
        "count",
        "3",
        "failureThreshold (default 3)",
        "serving condition after fail_readiness",
    ),
    f(
        "pod.readiness.timeout",
        "duration",
        "1s",
        "timeoutSeconds (default 1)",
        "a busy pod not ready",
    ),
    f(
        "container.entrypoint",
        "exec|shell|init",
        "exec",
        "Dockerfile ENTRYPOINT form",
        "shell: killed_in_flight at SIGKILL, lost jobs",
    ),
    f(
        "lifecycle.grace_period",
        "duration",
        "30s",
        "terminationGracePeriodSeconds (default 30)",
        "killed_in_flight at SIGKILL",
    ),
    f(
        "lifecycle.prestop",
        "duration | {sleep} | {exec}",
        "- (none)",
        "lifecycle.preStop (sleep GA 1.34, KEP-3960)",
        "stale_lb_view, listener_closed",
    ),
    f(
        "lifecycle.sandbox_teardown",
        "duration",
        "150ms",
        "measured (docs/results/2026-11-25-cluster)",
        "refused vs unanswered_connect",
    ),
    f(
        "app.on_sigterm",
        "exit|drain",
        "exit",
        "application behaviour",
        "killed_in_flight, keepalive_race",
    ),
    f(
        "app.fail_readiness",
        "bool",
        "false",
        "application behaviour (/readyz 503 at SIGTERM)",
        "serving condition (terminating fallback)",
    ),
    f(
        "app.shed_unfinishable",
        "bool",
        "false (the requeue lever patch: true)",
        "real-service requeue lever: /work that cannot finish in the budget gets 503 + Retry-After",
        "shed (not a failure) instead of killed_in_flight at the drain's deadline",
    ),
    f(
        "app.keep_serving",
        "duration",
        "0s",
        "application behaviour (in-app preStop)",
        "stale_lb_view",
    ),
    f(
        "server.idle_timeout",
        "duration",
        "- (none)",
        "Go IdleTimeout, nginx keepalive_timeout 75s",
        "keepalive_race; frees pinned keep-alives",
    ),
    f(
        "server.max_requests",
        "count",
        "- (none)",
        "nginx keepalive_requests 1000",
        "frees pinned keep-alives",
    ),
    f(
        "server.max_age",
        "duration",
        "- (none)",
        "Envoy max_connection_duration, gRPC MaxConnectionAge",
        "frees pinned keep-alives",
    ),
    f(
        "drain.timeout",
        "duration",
        "10s",
        "real-service default",
        "killed_in_flight past the drain",
    ),
    f(
        "drain.jitter_window",
        "duration",
        "0s (at once)",
        "real-service jitter 2 s (surge lever)",
        "reconnect storm",
    ),
    f(
        "drain.close_rate",
        "closes/s",
        "none (all at once)",
        "measured: real service on loopback (predicted-with-close-cost)",
        "reconnect storm: its height",
    ),
    f(
        "drain.guardian",
        "duration",
        "25s",
        "real-service default",
        "forced exit (exit code 70)",
    ),
    f(
        "rollout.max_surge",
        "int or %",
        "25%",
        "maxSurge (Kubernetes default 25%, rounds up)",
        "capacity_dip",
    ),
    f(
        "rollout.max_unavailable",
        "int or %",
        "25%",
        "maxUnavailable (default 25%, rounds down)",
        "capacity_dip, p99",
    ),
    f(
        "rollout.min_ready",
        "duration",
        "0s",
        "minReadySeconds (default 0)",
        "rollout pace, stale views of new pods",
    ),
    f(
        "queue",
        "table or absent",
        "present in base.toml, absent in code",
        "the pod's worker",
        "jobs.*",
    ),
    f("queue.rate", "jobs/s", "2", "assumption", "jobs.*"),
    f(
        "queue.duration",
        "distribution",
        "1s",
        "assumption",
        "redelivered_job, lost_job",
    ),
    f(
        "queue.effect_at",
        "fraction",
        "0.5",
        "assumption",
        "redelivered_job",
    ),
    f(
        "queue.lease",
        "duration",
        "30s",
        "real-service FLEETSIM_LEASE (deploy/k8s)",
        "lost_job vs redelivered_job",
    ),
    f(
        "queue.workers",
        "count",
        "2",
        "assumption",
        "jobs in hand at a kill",
    ),
    f(
        "queue.release_on_sigterm",
        "bool",
        "false",
        "real-service requeue lever",
        "lost_job, redelivered_job",
    ),
    f(
        "queue.idempotent",
        "bool",
        "false",
        "real-service requeue lever (idempotency keys)",
        "redelivered_job",
    ),
    f(
        "queue.ack",
        "after_work|on_receipt",
        "after_work",
        "at-least-once (ack after work) vs at-most-once (ack on receipt)",
        "redelivered_job (after_work), lost_job (on_receipt)",
    ),
    f(
        "levers.<name>",
        "bool",
        "false",
        "scenario patches (scenarios/files/levers/)",
        "see each patch file",
    ),
    f(
        "balancer.via",
        "kube_proxy_iptables|kube_proxy_nftables or absent",
        "- (one hop)",
        "ingress-nginx service-upstream; ALB/NLB instance mode -> NodePort",
        "status codes of the outer hop, lag of the inner",
    ),
    f(
        "balancer.front",
        "aws_alb|gclb|istio_gateway or absent",
        "- (no outer hop)",
        "each default cited on Front::spec (ALB docs, GCLB backend service timeout, Istio retry.go / istio#52111)",
        "status codes the client sees: the inner hop's 502/503 retried away or passed through; its own 504/502 (upstream_timeout)",
    ),
    f(
        "balancer.front_retries",
        "count",
        "front (istio_gateway 2; gclb 0: no retryPolicy; aws_alb: no such setting)",
        "Istio default retry policy NumRetries 2 (retry.go); Compute API HttpRetryPolicy numRetries",
        "stale_lb_view, killed_in_flight, no_endpoints hidden by a retry through the inner hop",
    ),
    f(
        "balancer.front_retry_on",
        "outcomes (http_502, http_503, http_504)",
        "none (Istio 1.24+ excludes 503: istio#52111; GCLB: no retryPolicy); aws_alb: no such setting",
        "Istio VirtualService retries.retryOn; GCLB retryConditions (gateway-error = 502, 503, 504)",
        "which inner-hop statuses a retry hides (http_503 also matches the app's shed 503)",
    ),
    f(
        "balancer.front_timeout",
        "duration",
        "front (aws_alb 60s idle timeout -> 504; gclb 30s backend service timeout -> 502; istio_gateway none -> 504)",
        "ALB idle_timeout.timeout_seconds (AWS eks-http-504-errors); GCLB backend service timeoutSec; Istio VirtualService timeout (disabled by default), covers every retry (Envoy router docs)",
        "upstream_timeout (the front's 504/502 over the inner hop and its retries)",
    ),
    f(
        "nodes",
        "table or absent",
        "- (CPU to spare)",
        "node allocatable CPU",
        "p99 (co-located, surge, cold pods)",
    ),
    f(
        "nodes.count",
        "count",
        "1",
        "cluster size (pods round-robin)",
        "p99",
    ),
    f(
        "nodes.cores",
        "cores",
        "2",
        "node CPU capacity (this host: 2; fleetsim calibrate: status.capacity.cpu, cpu.ndjson)",
        "p99, deadline_exceeded",
    ),
    f(
        "nodes.cpu_per_request",
        "cores",
        "1.0",
        "CPU-bound request (fleetsim calibrate: CPU seconds per request / mean service seconds, cpu.ndjson)",
        "p99",
    ),
    f(
        "streams",
        "table or absent",
        "- (no streams)",
        "fleetsim load --sse N",
        "streams: drops by reason, reconnects; holds a draining pod",
    ),
    f(
        "streams.count",
        "count",
        "1",
        "--sse N",
        "streams.drops_by_reason (reset: cut; eof: asked to leave)",
    ),
    f(
        "streams.reconnect",
        "backoff|immediate",
        "backoff",
        "--sse-reconnect (the generator's default)",
        "streams.reconnect_ms_*, failed attempts",
    ),
    f(
        "streams.backoff_base",
        "duration",
        "100ms",
        "--sse-backoff-base",
        "streams.reconnect_ms_*",
    ),
    f(
        "streams.backoff_max",
        "duration",
        "5s",
        "--sse-backoff-max",
        "streams.reconnect_ms_*",
    ),
    f(
        "patch.<lever>",
        "table",
        "the shipped patch",
        "a layer's own values for what a lever sets",
        "see each patch file",
    ),
];

/// The bound of every numeric and duration field, as [`crate::Fleet::validate`] checks it (an
/// error names the field, its value and the bound). Beyond these, a run is held to
/// [`crate::limits`]: at most 20,000,000 requests, 10,000,000 jobs and 300,000,000 events.
pub(crate) const BOUNDS: &[(&str, &str)] = &[
    ("run.baseline", "< run.max_duration, <= 24h"),
    ("run.tail", "<= 1h"),
    (
        "run.bucket",
        "1ms..=1h; (run.max_duration + settle) / bucket <= 100000",
    ),
    ("run.settle", "<= 1h"),
    ("run.max_duration", "> run.baseline, <= 24h"),
    (
        "load.rate",
        "(0, 1000000]; rate x (baseline + tail) <= 20000000 requests",
    ),
    ("load.deadline", "(0, 1h]"),
    ("load.clients", "<= 100000"),
    ("client.pool", "1..=100000"),
    ("client.idle_timeout", "<= 24h"),
    ("client.rtt", "<= 1h"),
    ("client.connect_timeout", "(0, 1h]"),
    (
        "client.eager_reopen_rate",
        "(0, 1000000000]; only with client.eager_reconnect",
    ),
    ("client.retry.attempts", "<= 10"),
    ("client.retry.backoff", "<= 1h"),
    ("balancer.retries", "<= 10"),
    ("balancer.upstream_keepalive", "<= 24h"),
    ("balancer.upstream_timeout", "(0, 24h]"),
    ("balancer.connect_timeout", "(0, 24h]"),
    ("balancer.sidecar_drain", "<= 24h"),
    ("balancer.health_check_delay", "<= 24h"),
    ("balancer.deregistration_delay", "<= 24h"),
    ("balancer.health_check_interval", "(0, 300s]"),
    ("balancer.healthy_threshold", "1..=10"),
    ("balancer.unhealthy_threshold", "1..=10"),
    ("balancer.upstream_max_requests", ">= 1"),
    ("balancer.upstream_max_age", "(0, 24h]"),
    ("balancer.wait_before_exit", "<= 1h"),
    (
        "balancer.front_retries",
        "<= 10; > 0 only with front_retry_on",
    ),
    ("balancer.front_timeout", "(0, 24h]"),
    (
        "propagation.endpointslice",
        "parameters <= 24h; draws capped at 24h",
    ),
    ("propagation.lag", "parameters <= 24h; draws capped at 24h"),
    ("propagation.min_sync_period", "(0, 1h]"),
    ("rollout.controller_delay", "<= 1h"),
    ("pod.replicas", "1..=1000"),
    ("pod.startup", "parameters <= 24h; draws capped at 24h"),
    ("pod.service_time", "parameters <= 24h; draws capped at 24h"),
    (
        "pod.service_time_while_pods_start",
        "parameters <= 24h; draws capped at 24h",
    ),
    ("pod.concurrency", "1..=1000000"),
    ("pod.cold_start.factor", "1..=1000"),
    ("pod.cold_start.duration", "<= 24h"),
    ("pod.readiness.initial_delay", "<= 24h"),
    ("pod.readiness.period", "1ms..=1h"),
    ("pod.readiness.success_threshold", "1..=1000"),
    ("pod.readiness.failure_threshold", "1..=1000"),
    ("pod.readiness.timeout", "(0, 1h]"),
    ("lifecycle.grace_period", "<= 1h"),
    ("lifecycle.prestop", "<= 1h"),
    ("lifecycle.sandbox_teardown", "<= 10m"),
    ("app.keep_serving", "<= 1h"),
    ("server.idle_timeout", "(0, 24h]"),
    ("server.max_requests", ">= 1"),
    ("server.max_age", "(0, 24h]"),
    ("drain.timeout", "<= 1h"),
    ("drain.jitter_window", "<= drain.timeout (drain), <= 1h"),
    (
        "drain.close_rate",
        "(0, 1000000000]; only without drain.jitter_window, with app.on_sigterm = \"drain\"",
    ),
    ("drain.guardian", "<= 1h"),
    ("rollout.max_surge", "0..=1000 or 0%..=100%; not both 0"),
    (
        "rollout.max_unavailable",
        "0..=1000 or 0%..=100%; not both 0",
    ),
    ("rollout.min_ready", "<= 1h"),
    ("queue.rate", "(0, 100000]"),
    ("queue.duration", "parameters <= 24h; draws capped at 24h"),
    ("queue.effect_at", "0..=1"),
    ("queue.lease", "(0, 24h]"),
    ("queue.workers", "1..=64"),
    ("nodes.count", "1..=1000"),
    ("nodes.cores", "0.001..=1000000"),
    ("nodes.cpu_per_request", "0..=1000000"),
    ("streams.count", "1..=100000"),
    (
        "streams.backoff_base",
        "<= streams.backoff_max; only with reconnect = \"backoff\"",
    ),
    (
        "streams.backoff_max",
        "<= 1h; only with reconnect = \"backoff\"",
    ),
];

/// The bound of field `path` (the "bounds" column of `fleetsim scenarios --reference`), if it has
/// one.
pub fn bound(path: &str) -> Option<&'static str> {
    BOUNDS.iter().find(|(p, _)| *p == path).map(|&(_, b)| b)
}

#[cfg(test)]
mod bounds_tests {
    use super::*;

    /// Every numeric and duration field in the reference has its bound written down.
    #[test]
    fn every_numeric_field_has_a_documented_bound() {
        let numeric = [
            "duration",
            "distribution",
            "count",
            "req/s",
            "conn/s",
            "ratio",
            "fraction",
            "cores",
            "int or %",
        ];
        for r in FIELDS {
            if numeric.contains(&r.unit) || r.path == "lifecycle.prestop" {
                assert!(
                    bound(r.path).is_some(),
                    "{} ({}) has no bound",
                    r.path,
                    r.unit
                );
            }
        }
        for (p, _) in BOUNDS {
            assert!(
                FIELDS.iter().any(|r| r.path == *p) || *p == "queue.rate",
                "{p} is not a field"
            );
        }
    }
}

/// One front hop (`balancer.front`) as the reference lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrontRef {
    /// The front.
    pub front: crate::Front,
    /// What it stands for.
    pub what: &'static str,
    /// Its defaults in one line (every number's source is on [`crate::Front::spec`]).
    pub defaults: &'static str,
}

/// Every front hop, in [`crate::Front::ALL`] order.
pub const FRONTS: &[FrontRef] = &[
    FrontRef {
        front: crate::Front::AwsAlb,
        what: "AWS ALB in front of the ingress tier: passes the inner hop's statuses through",
        defaults: "no retries (no such setting); idle timeout 60s -> 504",
    },
    FrontRef {
        front: crate::Front::Gclb,
        what: "Google Cloud external Application Load Balancer in front of the ingress tier",
        defaults: "no retryPolicy (numRetries 1 once one is set); backend service timeout 30s -> 502; backoff 25ms (assumption)",
    },
    FrontRef {
        front: crate::Front::IstioGateway,
        what: "Istio ingress gateway (Envoy) in front of the ingress tier",
        defaults: "2 retries on connection failures only (503 excluded since Istio 1.24); no route timeout (504 when set); backoff 25ms jittered, max 250ms",
    },
];

/// One balancer preset as the reference lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresetRef {
    /// The preset.
    pub preset: crate::Preset,
    /// What it stands for and the mechanism it brings.
    pub what: &'static str,
    /// Its long-tailed or cited defaults in one line (every number's source is on
    /// [`crate::Preset::spec`]).
    pub defaults: &'static str,
}

/// Every balancer preset, in [`crate::Preset::ALL`] order.
pub const PRESETS: &[PresetRef] = &[
    PresetRef {
        preset: crate::Preset::KubeProxyIptables,
        what: "kube-proxy iptables: L4 pick per connection, pinned by conntrack",
        defaults: "lag 10ms..1s (minSyncPeriod 1s); terminating fallback (KEP-1669)",
    },
    PresetRef {
        preset: crate::Preset::KubeProxyNftables,
        what: "kube-proxy nftables (GA 1.33, KEP-3866): as iptables, incremental rule updates",
        defaults: "lag 10ms..1s (shared minSyncPeriod 1s); terminating fallback",
    },
    PresetRef {
        preset: crate::Preset::IngressNginx,
        what: "ingress-nginx: L7 pick per request, retries other upstreams",
        defaults: "lag 0.1..4.3s; 2 retries; 502 refused, 504 timeout; connect 5s",
    },
    PresetRef {
        preset: crate::Preset::HaproxyIngress,
        what: "HAProxy Kubernetes Ingress: L7, runtime-API endpoint updates",
        defaults: "lag 0.1..5.1s (sync period, assumption); 1 redispatch; 503 refused/connect timeout; connect 5s, server 50s",
    },
    PresetRef {
        preset: crate::Preset::Traefik,
        what: "Traefik Kubernetes provider: L7, throttled configuration reloads",
        defaults: "reloads at most one per 2s (providersThrottleDuration), each 30..250ms (measured); retry middleware off; 502 refused, 504 dial timeout; dial 30s",
    },
    PresetRef {
        preset: crate::Preset::EnvoySidecar,
        what: "Envoy/Istio sidecar: refuses inbound at deletion, cut after terminationDrainDuration",
        defaults: "lag 0.1..1s; 503 (UF/UC); sidecar_drain 5s; connect 10s",
    },
    PresetRef {
        preset: crate::Preset::LinkerdSidecar,
        what: "Linkerd proxy: refuses new inbound requests at its SIGTERM, stays until the app exits",
        defaults: "lag 0.1..1s; wait_before_exit 0s; 502 connection errors; no retries; connect 1s",
    },
    PresetRef {
        preset: crate::Preset::CloudLb,
        what: "generic cloud LB (ALB-like, ip targets): health checks, deregistration delay",
        defaults: "lag uniform 5..30s; 2 x 15s health checks; deregistration 300s; 502/504",
    },
    PresetRef {
        preset: crate::Preset::AwsAlbIp,
        what: "AWS ALB target-type ip: pod targets, optional readiness gate",
        defaults: "lag lognormal median 10s p99 120s (aws-lbc#1064); 2 x 15s checks; deregistration 300s; 502/504",
    },
    PresetRef {
        preset: crate::Preset::AwsAlbInstance,
        what: "AWS ALB target-type instance: ALB -> NodePort -> kube-proxy picks the pod",
        defaults: "kube-proxy's lag and fallback; ALB statuses 502/504 and timeouts",
    },
    PresetRef {
        preset: crate::Preset::AwsNlbIp,
        what: "AWS NLB target-type ip: L4 pass-through to pod IPs, optional readiness gate",
        defaults: "lag lognormal median 10s p99 120s; 3 x 10s checks (3 to fail); refusals reach the client; deregistration delay acts with connection termination",
    },
    PresetRef {
        preset: crate::Preset::AwsNlbInstance,
        what: "AWS NLB target-type instance: NLB -> NodePort -> kube-proxy (for loss: kube-proxy)",
        defaults: "kube-proxy iptables' numbers",
    },
    PresetRef {
        preset: crate::Preset::GclbNeg,
        what: "GCLB with NEGs (container-native): pod targets, NEG readiness gate on",
        defaults: "lag lognormal median 10s p99 60s (ingress-gce#2222); 2 x 5s checks; draining 0s; 502",
    },
];
