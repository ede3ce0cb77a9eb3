//! The resolved run-time plan: what the simulator reads, computed once from a validated
//! [`Fleet`] (the file-facing settings). Kubernetes' rounding, preset defaults, optional
//! sections and the entrypoint's effect on SIGTERM are settled here, so the simulation has no
//! setting to interpret and no lever to consult.

use sim_core::{Dist, SimDuration};

use crate::config::{
    BalancerSpec, Fleet, FrontSpec, OnSigterm, QueueConfig, ReadinessProbe, ServerConfig,
    resolve_fenceposts,
};

/// A fleet's shutdown path, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ShutdownPlan {
    /// terminationGracePeriodSeconds.
    pub grace: SimDuration,
    /// The preStop hook's duration (zero = no hook).
    pub prestop: SimDuration,
    /// SIGTERM reaches the application (exec or init entrypoint).
    pub sigterm_delivered: bool,
    /// What the application does once SIGTERM acts (`app.on_sigterm`).
    pub on_sigterm: OnSigterm,
    /// The application fails its readiness endpoint at SIGTERM (`app.fail_readiness`).
    pub fail_readiness: bool,
    /// How long the application keeps serving after SIGTERM (`app.keep_serving`).
    pub keep_serving: SimDuration,
    /// How long the drain waits for in-flight requests and connections (`drain.timeout`).
    pub drain_timeout: SimDuration,
    /// Zero: every keep-alive closed at once.
    pub jitter_window: SimDuration,
    /// Budget from SIGTERM to the application's forced exit (`drain.guardian`).
    pub guardian: SimDuration,
    /// From the containers' exit to the pod sandbox's teardown (`lifecycle.sandbox_teardown`).
    pub sandbox_teardown: SimDuration,
}

/// Everything the simulation reads that is not a plain copy of a `Fleet` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// maxSurge and maxUnavailable as pod counts (Kubernetes `ResolveFenceposts`).
    pub max_surge: u32,
    /// maxUnavailable as a pod count, rounded down.
    pub max_unavailable: u32,
    /// minReadySeconds: a new pod must stay ready this long to count as available.
    pub min_ready: SimDuration,
    /// `None`: ready when the container starts.
    pub probe: Option<ReadinessProbe>,
    /// Mean service time, for a probe waiting behind queued requests.
    pub mean_service: SimDuration,
    /// The shutdown path every deleted pod follows.
    pub shutdown: ShutdownPlan,
    /// The application server's keep-alive limits (`[server]`).
    pub server: ServerConfig,
    /// `None`: no worker.
    pub queue: Option<QueueConfig>,
    /// The balancer's values after its preset and overrides.
    pub balancer: BalancerSpec,
    /// The outer hop in front of the balancer (`balancer.front`), resolved; `None`: none.
    pub front: Option<FrontSpec>,
    /// EndpointSlice to balancer view: the whole lag, or with `sync` one sync's own time.
    pub lag: Dist,
    /// How the balancer batches EndpointSlice changes into syncs, if it does.
    pub sync: Option<SyncLimiter>,
}

/// A balancer's limit on how often it takes endpoint changes: kube-proxy's
/// `--iptables-min-sync-period` (`propagation.min_sync_period`, counted from one sync's end to
/// the next one's start) or a reload throttle (Traefik's `providersThrottleDuration`,
/// `BalancerSpec::reload_throttle`, from one reload's start to the next one's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyncLimiter {
    /// The least time between two syncs.
    pub period: SimDuration,
    /// Counted from the previous sync's start (a reload throttle), not its end.
    pub from_start: bool,
}

impl Plan {
    /// The longest a change can wait for its sync under the balancer's sync limiter (the
    /// period; zero without one), on top of `lag`: a change that comes just after a sync
    /// started waits the whole period before its own starts.
    pub fn sync_wait(&self) -> SimDuration {
        self.sync.map_or(SimDuration::ZERO, |s| s.period)
    }
}

impl Fleet {
    /// The resolved plan of a validated fleet.
    pub fn plan(&self) -> Plan {
        let (max_surge, max_unavailable) = resolve_fenceposts(
            self.rollout.max_surge,
            self.rollout.max_unavailable,
            self.pod.replicas,
        );
        let balancer = self.balancer.resolve();
        let lag = self
            .propagation
            .lag
            .clone()
            .unwrap_or_else(|| balancer.lag.clone());
        // A given `min_sync_period` sets the period of the balancer's own limiter (a reload
        // throttle keeps counting from each reload's start); a given `lag` without it is the
        // whole lag, end to end, so a preset's reload throttle does not add to it.
        let sync = match (self.propagation.min_sync_period, balancer.reload_throttle) {
            (Some(period), throttle) => Some(SyncLimiter {
                period,
                from_start: throttle.is_some(),
            }),
            (None, Some(period)) if self.propagation.lag.is_none() => Some(SyncLimiter {
                period,
                from_start: true,
            }),
            (None, _) => None,
        };
        Plan {
            max_surge,
            max_unavailable,
            // The controller's reaction comes on top of minReadySeconds.
            min_ready: self.rollout.min_ready
                + self.rollout.controller_delay.unwrap_or(SimDuration::ZERO),
            probe: self.pod.readiness.clone(),
            mean_service: self.pod.service_time.mean(),
            shutdown: ShutdownPlan {
                grace: self.lifecycle.grace_period,
                prestop: self
                    .lifecycle
                    .prestop
                    .map_or(SimDuration::ZERO, |p| p.duration()),
                sigterm_delivered: self.container.entrypoint.delivers_sigterm(),
                on_sigterm: self.app.on_sigterm,
                fail_readiness: self.app.fail_readiness,
                keep_serving: self.app.keep_serving,
                drain_timeout: self.drain.timeout,
                jitter_window: self.drain.jitter_window,
                guardian: self.drain.guardian,
                sandbox_teardown: self.lifecycle.sandbox_teardown,
            },
            server: self.server.clone(),
            queue: self.queue.clone(),
            balancer,
            front: self.balancer.resolve_front(),
            lag,
            sync,
        }
    }
}
