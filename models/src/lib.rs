//! # models: the fleet a rolling deploy happens to
//!
//! Fleet components on [`sim_core`]: open-loop (or closed-loop) clients with a new connection per
//! request or K keep-alive virtual clients, an L4 (kube-proxy) or L7 (ingress, sidecar, cloud LB)
//! balancer whose view of the endpoints lags the EndpointSlice, pods with start-up, readiness
//! probe, service time, concurrency limit and cold start, their shutdown as the levers make it,
//! the Deployment rollout controller, and a job queue with leases and a ledger.
//!
//! The core nouns:
//! - [`Fleet`]: everything a scenario file describes (one TOML table per section, unknown fields
//!   rejected, every field defaulted; defaults and their sources are documented on each field),
//!   checked by [`Fleet::validate`] (errors name the dotted field path and the reason).
//! - [`simulate`]: runs one seed and returns a [`SimRun`]. Its figures come from
//!   [`measure::analyze`], fed one [`measure::Sample`] per request, the ready-endpoint series,
//!   the run marks and the ledger's job counts: the live run uses the same function. It checks
//!   conservation and returns [`SimError::Conservation`] rather than a wrong figure.
//! - [`Mechanism`]: every failed request and every duplicated or lost job is attributed to the
//!   mechanism that caused it ([`SimRun::failures_by_mechanism`]); there is no configured loss
//!   rate anywhere.
//! - [`PodShutdown`]: each deleted pod's shutdown steps ([`measure::ShutdownStep`]) with times
//!   and exit code, for the live run's pod-by-pod order check.
//!
//! ## The run
//! Load starts at 0 against `pod.replicas` warm, ready pods. The rollout starts at
//! `run.baseline`; it ends when every new pod is ready and every old pod's process is gone; load
//! stops `run.tail` later (the deploy window is rollout start to rollout end + tail, as
//! `docs/measurement.md` defines it); the fleet then settles for `max(run.settle, load.deadline)` with no new
//! requests or jobs. A balancer slower than Kubernetes (a cloud LB) can still be losing requests
//! after the window: lengthen `run.tail` to see it.
//!
//! ## The five levers (`[levers]`), and what each gates
//! - **pid1** off: SIGTERM is swallowed; the pod serves on until SIGKILL at the end of the grace
//!   period, which resets in-flight requests and open connections (`killed_in_flight`,
//!   `keepalive_race`) and kills the job in hand. On: SIGTERM reaches the service. (With pid1
//!   off the other levers that act on SIGTERM, drain and requeue's stop-and-release, cannot act;
//!   idempotency still does.)
//! - **readiness** on: the kubelet runs the preStop sleep (`lifecycle.prestop`) before SIGTERM,
//!   and the pod keeps serving through it while the views catch up (preStop counts against
//!   `lifecycle.grace_period`; if it overruns, SIGTERM comes at the grace period's end and
//!   SIGKILL 2 s later). Off: no preStop, so with pid1 on the listener closes at SIGTERM while
//!   views still route new connections to it (`stale_lb_view`, or `listener_closed` when even
//!   the EndpointSlice had not caught up).
//! - **drain** on: at SIGTERM stop accepting, send `Connection: close` on the next response of
//!   each busy keep-alive connection and close idle ones, finish in-flight work within
//!   `drain.timeout` (what is left then is cut), let the worker finish (with requeue), then exit;
//!   the guardian forces the exit at `drain.guardian` after SIGTERM. Off: with pid1 on the process
//!   exits at SIGTERM, resetting in-flight requests (`killed_in_flight`) and dropping idle
//!   keep-alives (a request already on its way is a `keepalive_race`).
//! - **requeue** on: the worker stops fetching at SIGTERM, finishes the job in hand if it ends
//!   before the expected exit (the guardian, or SIGTERM itself without drain) and releases it to
//!   the queue otherwise; side effects carry an idempotency key, so a redelivered job's effect is
//!   a no-op. Off: the worker works until its process dies; a killed job is redelivered when its
//!   lease expires and applies its effect again (`redelivered_job`), or is still leased to a dead
//!   worker when the run ends (`lost_job`).
//! - **surge** off: the rollout uses maxSurge 0 / maxUnavailable 1 and the drain closes every
//!   keep-alive at once. On: the `[rollout]` values, which must add capacity first (maxSurge >= 1
//!   and maxUnavailable 0, checked by [`Fleet::validate`]), and each keep-alive is closed at a
//!   uniform random point of `drain.jitter_window`, so reconnects do not land together.
//!
//! ## What is modelled, in short
//! - Clients: `new` = a TCP connection per request (handshake = one extra RTT); `keepalive` =
//!   `client.pool` virtual clients as the live generator runs them (request n to client n % K,
//!   reuse the idle connection or open one at once). Retries (`client.retry`) are off by default
//!   and counted in [`SimRun::retries`]. Closed loop with `load.clients > 0`.
//! - L4 (kube-proxy): a uniform pick among ready endpoints of its view per new connection;
//!   established connections stay on their pod; no ready endpoint: serving-terminating ones, else
//!   refused. L7: a pick per request, upstream keep-alives, 502 on refuse/reset after
//!   `balancer.retries` other upstreams, 503 with no endpoint, 504 after `upstream_timeout`.
//!   Presets: [`Preset`] (each number's source is on [`Preset::spec`]); an Envoy sidecar refuses
//!   new inbound connections at deletion and cuts the rest after `sidecar_drain`; a cloud LB adds
//!   health checks to registration and can carry a readiness gate.
//! - Propagation: pod change -> EndpointSlice after `propagation.endpointslice`, -> the view after
//!   `propagation.lag` (default: the preset's); each change is versioned, so a late update never
//!   overwrites a newer one.
//! - Not modelled: per-node views (one view stands for every kube-proxy), readiness-probe failures
//!   of pods that are not being deleted, 503 + Retry-After shedding by the requeue lever (so
//!   `shed` is always 0).
//! - An exited pod: refused (RST from its network namespace) for `lifecycle.sandbox_teardown`
//!   after the exit, then its IP is gone and a connection routed there gets no answer until
//!   `client.connect_timeout` (L4: outcome `timeout`) or the proxy's `balancer.connect_timeout`
//!   (L7: the next upstream, else 504), attributed to [`Mechanism::UnansweredConnect`].
//!
//! ```
//! use models::{simulate, Fleet, Levers, SimOptions};
//!
//! let mut fleet = Fleet::default(); // the `before` fleet: every lever off
//! fleet.run.baseline = sim_core::SimDuration::from_secs(5);
//! fleet.pod.replicas = 2;
//! fleet.validate().unwrap();
//! let run = simulate("before", &fleet, &SimOptions { seed: 7, shuffle_ties: false }).unwrap();
//! let s = &run.analysis.summary;
//! assert_eq!(s.scenario, "before");
//! assert!(s.requests.sent > 0);
//! // Every failure has a mechanism.
//! let attributed: u64 = run.failures_by_mechanism.iter()
//!     .filter(|(m, _)| m.as_str() != "redelivered_job" && m.as_str() != "lost_job")
//!     .map(|(_, n)| n).sum();
//! assert_eq!(attributed, s.failed);
//!
//! fleet.levers = Levers::ALL;
//! fleet.rollout.max_surge = models::IntOrPercent::Int(1);
//! fleet.rollout.max_unavailable = models::IntOrPercent::Int(0);
//! let after = simulate("after", &fleet, &SimOptions { seed: 7, shuffle_ties: false }).unwrap();
//! assert_eq!(after.analysis.summary.failed, 0);
//! ```

mod config;
mod sim;

pub use config::{
    Arrivals, BalancerConfig, BalancerKind, BalancerSpec, ClientConfig, ColdStart, ConfigError,
    ConnectionStyle, DrainConfig, Fleet, IntOrPercent, Levers, LifecycleConfig, LoadConfig,
    PodConfig, Preset, PropagationConfig, QueueConfig, ReadinessProbe, RetryConfig, RolloutConfig,
    RunConfig, resolve_fenceposts,
};
#[doc(hidden)]
pub use sim::simulate_traced;
pub use sim::{
    EXIT_DRAINED, EXIT_GUARDIAN, EXIT_NOT_DRAINED, EXIT_SIGKILL, Mechanism, PodShutdown, SimError,
    SimOptions, SimRun, simulate,
};
