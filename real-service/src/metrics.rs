//! Prometheus metrics (prometheus-client), served as text on GET /metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub path: &'static str,
    /// ok | shed (503 + Retry-After) | client_error | server_error
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct JobLabels {
    /// enqueued | applied | noop | released | acked | lease_lost
    pub result: &'static str,
}

pub(crate) struct Metrics {
    pub registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub inflight: Gauge,
    pub open_connections: Gauge,
    pub connections: Counter,
    pub open_streams: Gauge,
    pub jobs: Family<JobLabels, Counter>,
    pub ready: Gauge,
    pub accept_errors: Counter,
    pub connection_cap_waits: Counter,
    pub header_timeouts: Counter,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("fleetsim");
        let requests = Family::<RequestLabels, Counter>::default();
        let inflight = Gauge::default();
        let open_connections = Gauge::default();
        let connections = Counter::default();
        let open_streams = Gauge::default();
        let jobs = Family::<JobLabels, Counter>::default();
        let ready = Gauge::default();
        let accept_errors = Counter::default();
        let connection_cap_waits = Counter::default();
        let header_timeouts = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests by path and outcome",
            requests.clone(),
        );
        registry.register(
            "http_inflight",
            "HTTP requests being served",
            inflight.clone(),
        );
        registry.register(
            "http_open_connections",
            "Open client connections",
            open_connections.clone(),
        );
        registry.register(
            "http_connections",
            "Accepted client connections",
            connections.clone(),
        );
        registry.register(
            "sse_open_streams",
            "Open /events streams",
            open_streams.clone(),
        );
        registry.register("jobs", "Queue jobs by result", jobs.clone());
        registry.register("ready", "1 while /readyz answers 200", ready.clone());
        registry.register(
            "http_accept_errors",
            "Failed accept(2) calls (each followed by a backoff pause)",
            accept_errors.clone(),
        );
        registry.register(
            "http_connection_cap_waits",
            "Times the accept loop waited at FLEETSIM_MAX_CONNECTIONS",
            connection_cap_waits.clone(),
        );
        registry.register(
            "http_header_timeouts",
            "Connections closed because a request head did not arrive within FLEETSIM_HEADER_READ_TIMEOUT",
            header_timeouts.clone(),
        );
        Metrics {
            registry,
            requests,
            inflight,
            open_connections,
            connections,
            open_streams,
            jobs,
            ready,
            accept_errors,
            connection_cap_waits,
            header_timeouts,
        }
    }

    pub(crate) fn request(&self, path: &'static str, outcome: &'static str) {
        self.requests
            .get_or_create(&RequestLabels { path, outcome })
            .inc();
    }

    pub(crate) fn job(&self, result: &'static str) {
        self.jobs.get_or_create(&JobLabels { result }).inc();
    }

    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
