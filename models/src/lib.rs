//! # models: the fleet a rolling deploy happens to
//!
//! Fleet components on [`sim_core`]: open-loop (or closed-loop) clients with a new connection per
//! request or a keep-alive pool, an L4 (kube-proxy) or L7 (ingress, sidecar, cloud LB) balancer
//! whose view of the endpoints lags the EndpointSlice, pods with start-up, readiness probe,
//! service time, concurrency limit and cold start, their shutdown as the levers make it, the
//! Deployment rollout controller, and a job queue with leases and a ledger.
//!
//! The core nouns:
//! - [`Fleet`]: everything a scenario file describes (one TOML table per section, strict,
//!   defaults with their sources in `config.rs`), checked by [`Fleet::validate`].
//! - [`simulate`]: runs one seed and returns a [`SimRun`]; its figures come from
//!   [`measure::analyze`], fed one [`measure::Sample`] per request, the ready-endpoint series,
//!   the run marks and the ledger's job counts, so the simulator and the live run share one set
//!   of definitions.
//! - [`Mechanism`]: every failed request and every duplicated or lost job is attributed to the
//!   mechanism that caused it; there is no configured loss rate anywhere.
//!
//! ## The five levers (`[levers]`), and what each gates
//! - **pid1** off: SIGTERM is swallowed; the pod serves on until SIGKILL at the end of the grace
//!   period, which resets in-flight requests and open connections (`killed_in_flight`,
//!   `keepalive_race`) and kills the job in hand. On: SIGTERM reaches the service.
//! - **readiness** on: the kubelet runs the preStop sleep (`lifecycle.prestop`) before SIGTERM and
//!   the pod keeps serving through it, so the balancers' views catch up before the listener
//!   closes. Off: no preStop; with pid1 on, the listener closes at SIGTERM while views still
//!   route to the pod (`stale_lb_view`, or `listener_closed` when even the EndpointSlice had not
//!   caught up).
//! - **drain** on: at SIGTERM stop accepting, finish in-flight work within `drain.timeout`, send
//!   `Connection: close` on the next response of each busy keep-alive connection and close idle
//!   ones, then exit (the guardian forces the exit at `drain.guardian`). Off: with pid1 on, the
//!   process exits at SIGTERM, resetting in-flight requests (`killed_in_flight`) and dropping
//!   idle keep-alives (`keepalive_race` for requests already on their way).
//! - **requeue** on: the worker stops fetching at SIGTERM, finishes the job in hand if it fits
//!   the remaining budget and releases it otherwise, and side effects carry an idempotency key
//!   (a redelivered job's effect is a no-op). Off: the worker works until its process dies; a
//!   killed job is redelivered when its lease expires and applies its effect again
//!   (`redelivered_job`), or is still leased to a dead worker when the run ends (`lost_job`).
//! - **surge** off: the rollout uses maxSurge 0 / maxUnavailable 1 and keep-alive closes happen
//!   all at once. On: the `[rollout]` values, which must add capacity first (maxSurge >= 1,
//!   maxUnavailable 0, checked by [`Fleet::validate`]), and the drain spreads keep-alive closes
//!   uniformly over `drain.jitter_window`.
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
