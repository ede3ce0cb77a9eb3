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
//! ## A fleet is the Deployment you write
//! Every Kubernetes setting keeps its name and meaning and always acts; nothing is gated by a
//! lever. [`Fleet`] is the file-facing description; [`Fleet::plan`] resolves it once into the
//! [`Plan`] the simulation reads (Kubernetes rounding of maxSurge/maxUnavailable, preset
//! defaults, the entrypoint's effect on SIGTERM, optional probe and queue).
//! - `[rollout]` maxSurge / maxUnavailable (int or percent; surge rounds up, unavailable down;
//!   Kubernetes defaults 25% / 25%; both 0 rejected), minReadySeconds.
//! - `[lifecycle]` terminationGracePeriodSeconds and the preStop hook (sleep or exec; absent =
//!   none): SIGTERM comes after preStop, SIGKILL at the end of the grace period.
//! - `[pod.readiness]` the readiness probe, or none (ready when the container starts).
//! - `[container] entrypoint`: `shell` swallows SIGTERM (the application serves on until
//!   SIGKILL, which resets in-flight requests and open connections and kills the job in hand);
//!   `exec` and `init` deliver it.
//! - `[app]` what the application does on SIGTERM: `on_sigterm = "exit"` (at once: in-flight
//!   reset, idle keep-alives dropped) or `"drain"` (`[drain]`: stop accepting, `Connection:
//!   close` on the next response of each busy keep-alive and close idle ones, at once or
//!   jittered over `drain.jitter_window`; finish in-flight within `drain.timeout`; the guardian
//!   forces the exit at `drain.guardian` after SIGTERM); `fail_readiness` (the EndpointSlice
//!   stops calling the pod serving `failure_threshold` probes later); `keep_serving` (serve on
//!   this long after SIGTERM before `on_sigterm` acts).
//! - `[server]` keep-alive limits (idle timeout, max requests, max age): each closes
//!   connections so clients reconnect through the balancer, freeing keep-alives pinned to a
//!   pod being deleted.
//! - `[queue]` (absent = no worker): lease, `release_on_sigterm` (stop fetching, finish or
//!   release the job in hand), `idempotent` (a redelivered job's effect is a no-op). Without
//!   them a killed job is redelivered at lease expiry and applied again (`redelivered_job`), or
//!   still leased to a dead worker at the end (`lost_job`).
//!
//! The five levers (`measure::Lever`: pid1, readiness, drain, requeue, surge) are patches over these
//! settings, applied by the `scenarios` crate (`scenarios/files/levers/`).

//! ## What is modelled, in short
//! - Clients: `new` = a TCP connection per request (handshake = one extra RTT); `keepalive` =
//!   `client.pool` virtual clients as the live generator runs them (request n to client n % K,
//!   reuse the idle connection or open one at once). Retries (`client.retry`) are off by default
//!   and counted in [`SimRun::retries`]. Closed loop with `load.clients > 0`.
//!   `client.eager_reconnect` (keep-alive, L4): a client reopens a connection the server closed
//!   the moment it sees the FIN, as `fleetsim load --eager-reconnect` does; with
//!   `client.eager_reopen_rate` those reopens queue behind one serial opener (the generator's
//!   one reconnect thread, which pays each connect in CPU), one per `1 / rate` s, so a drain's
//!   storm of reopens is at most 10 ms x rate + 1 per 10 ms; absent, they all go at once.
//!   On the server's side, `drain.close_rate` makes a drain without jitter close its idle
//!   connections one after another, one per `1 / rate` s, instead of in one instant.
//! - L4 (kube-proxy): a uniform pick among ready endpoints of its view per new connection;
//!   established connections stay on their pod; no ready endpoint: serving-terminating ones, else
//!   refused. L7: a pick per request, upstream keep-alives, 502 on refuse/reset after
//!   `balancer.retries` other upstreams, 503 with no endpoint, 504 after `upstream_timeout`.
//!   The 502/504 are the proxy's own statuses: Envoy answers 503 (UF/UC) instead. The proxy's
//!   upstream pool has its own keep-alive limits (`upstream_keepalive` idle timeout,
//!   `upstream_max_requests`, `upstream_max_age`: ingress-nginx 60 s / 10000 / 1 h). A preset
//!   rejects `[balancer]` fields it has no knob for. `balancer.via = "kube_proxy_iptables"` makes
//!   a two-hop chain (ingress-nginx service-upstream, a cloud LB in instance mode -> NodePort):
//!   the outer hop's statuses and retries, the inner hop's lag and pick. ingress-nginx and
//!   Envoy apply endpoint changes in order (full-state syncs).
//!   Presets: [`Preset`] (each number's source is on [`Preset::spec`]); an Envoy sidecar refuses
//!   new inbound connections at deletion and cuts the rest after `sidecar_drain`;
//!   `balancer.sidecar = "envoy"` puts that sidecar in each pod behind any other preset (the
//!   chain balancer -> Envoy -> app), where it also answers 503 for the requests the app cuts
//!   under it (the next hop sees a response, not a reset); a cloud LB adds
//!   health checks to registration and can carry a readiness gate. The proxies users run each
//!   have one ([`Preset::ALL`]): kube-proxy iptables/nftables, ingress-nginx, HAProxy ingress,
//!   Traefik, Envoy and Linkerd sidecars (Linkerd refuses new requests at its SIGTERM, after
//!   `balancer.wait_before_exit`), AWS ALB/NLB in IP and instance mode (instance mode is a
//!   chain through kube-proxy) and GCLB with NEGs; health-checked ones take
//!   `health_check_interval` x `healthy_threshold` to route to a new target, and stop routing
//!   to one whose pod stopped answering (failed readiness, closed its listener, exited) after
//!   `unhealthy_threshold` failed checks, whatever the controller's lag (failing open when
//!   every target is unhealthy); the AWS and GCLB lags are lognormal with the minute-long
//!   tails the controllers' issues report. A cloud L7 balancer's `deregistration_delay` lets
//!   requests in flight finish and cuts what is left when it ends; an NLB's does so only with
//!   `connection_termination = true` (then it resets the target's open flows).
//!   `balancer.front` (aws_alb, gclb, istio_gateway) puts an outer L7 hop in front of an L7
//!   preset (the chain front -> ingress tier -> pod, e.g. an ALB or an Istio ingress gateway in
//!   front of ingress-nginx pods): its endpoints do not roll, so only its retry rule
//!   (`front_retries` x `front_retry_on`: a retry goes back through the inner hop, which picks a
//!   pod again), its timeout over every try (`front_timeout`: its own 504, or GCLB's 502, as
//!   `upstream_timeout`) and one more hop each way act; every other answer passes through
//!   ([`Front::spec`] cites each default).
//! - Propagation: pod change -> EndpointSlice after `propagation.endpointslice`, -> the view after
//!   `propagation.lag` (default: the preset's); each change is versioned, so a late update never
//!   overwrites a newer one.
//! - Node CPU (`[nodes]`, optional): pods round-robin on nodes with `cores`; a request starting
//!   on a node whose demand (requests in service x `cpu_per_request`) exceeds its cores is
//!   served `demand / cores` slower (processor sharing, taken at the request's start).
//! - Not modelled: chains beyond an optional front hop, a balancer, an optional kube-proxy hop
//!   behind it and an optional sidecar in the pod (each with its own lag, statuses and limits
//!   above), a front's own connection pool to the inner hop (taken as kept alive),
//!   per-node views (one view stands for every kube-proxy), readiness-probe failures
//!   of pods that are not being deleted, long-lived streams.
//! - Shedding (`app.shed_unfinishable`, set by the requeue lever): a draining pod refuses a
//!   request whose service time would run past the drain's deadline with 503 + Retry-After
//!   (outcome `shed`, not a failure) instead of starting it and cutting it.
//! - An exited pod: refused (RST from its network namespace) for `lifecycle.sandbox_teardown`
//!   after the exit, then its IP is gone and a connection routed there gets no answer until
//!   `client.connect_timeout` (L4: outcome `timeout`) or the proxy's `balancer.connect_timeout`
//!   (L7: the next upstream, else 504), attributed to [`Mechanism::UnansweredConnect`].
//!
//! ```
//! use models::{simulate, Entrypoint, Fleet, OnSigterm, PreStop, SimOptions};
//! use sim_core::SimDuration;
//!
//! let mut fleet = Fleet::default(); // Kubernetes defaults: maxSurge 25%, maxUnavailable 25%
//! fleet.container.entrypoint = Entrypoint::Shell; // SIGTERM never reaches the app
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
//! fleet.container.entrypoint = Entrypoint::Exec;
//! fleet.lifecycle.prestop = Some(PreStop::Sleep(SimDuration::from_secs(5)));
//! fleet.app.on_sigterm = OnSigterm::Drain;
//! fleet.drain.jitter_window = SimDuration::from_secs(2);
//! fleet.queue = Some(models::QueueConfig { release_on_sigterm: true, idempotent: true, ..Default::default() });
//! fleet.rollout.max_surge = models::IntOrPercent::Int(1);
//! fleet.rollout.max_unavailable = models::IntOrPercent::Int(0);
//! let after = simulate("after", &fleet, &SimOptions { seed: 7, shuffle_ties: false }).unwrap();
//! assert_eq!(after.analysis.summary.failed, 0);
//! ```

mod config;
mod plan;
mod reference;
mod sim;

pub use config::{
    AckMode, AppConfig, Arrivals, BalancerConfig, BalancerKind, BalancerSpec, ClientConfig,
    ColdStart, ConfigError, ConnectionStyle, ContainerConfig, DrainConfig, Entrypoint, Fleet,
    Front, FrontSpec, IntOrPercent, LifecycleConfig, LoadConfig, NodesConfig, OnSigterm, PodConfig,
    PreStop, Preset, PropagationConfig, QueueConfig, ReadinessProbe, RetryConfig, RolloutConfig,
    RunConfig, ServerConfig, Sidecar, StreamReconnect, StreamsConfig, limits, resolve_fenceposts,
};
pub use plan::{Plan, ShutdownPlan, SyncLimiter};
pub use reference::{
    FIELDS as FIELD_REFERENCE, FRONTS as FRONT_REFERENCE, FieldRef, FrontRef,
    PRESETS as PRESET_REFERENCE, PresetRef, bound as field_bound,
};
pub use sim::{
    EXIT_DRAINED, EXIT_GUARDIAN, EXIT_NOT_DRAINED, EXIT_SIGKILL, Mechanism, PodShutdown, SimError,
    SimOptions, SimRun, simulate,
};
#[doc(hidden)]
pub use sim::{RunCaps, simulate_capped, simulate_traced};
