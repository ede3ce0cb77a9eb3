//! Fleets shared by the integration tests.
#![allow(dead_code)]

use models::{
    ConnectionStyle, Entrypoint, Fleet, IntOrPercent, OnSigterm, PreStop, SimOptions, SimRun,
    simulate,
};
use sim_core::{Dist, SimDuration};

pub(crate) fn ms(v: u64) -> SimDuration {
    SimDuration::from_millis(v)
}
pub(crate) fn secs(v: u64) -> SimDuration {
    SimDuration::from_secs(v)
}

/// A small fleet that runs fast in debug builds: 4 pods, 100 rps, a short baseline, pods that
/// start and pass their probe quickly, a busy job queue.
/// The `before` settings (shell entrypoint, no preStop, exit at once, maxSurge 0 /
/// maxUnavailable 1, a worker without release or idempotency) with `levers` applied as patches.
pub(crate) fn small(levers: Levers) -> Fleet {
    let mut f = Fleet::default();
    f.client.connection = ConnectionStyle::New;
    f.pod.concurrency = 128;
    f.pod.cold_start.factor = 1.0;
    f.run.baseline = secs(5);
    f.load.rate = 100.0;
    f.pod.startup = Dist::constant(secs(1));
    f.pod.readiness.as_mut().unwrap().period = secs(1);
    f.container.entrypoint = Entrypoint::Shell;
    f.rollout.max_surge = IntOrPercent::Int(0);
    f.rollout.max_unavailable = IntOrPercent::Int(1);
    // Jobs long enough that a killed worker usually has one in hand, past its side effect.
    let q = f.queue.insert(models::QueueConfig::default());
    q.rate = 8.0;
    q.workers = 4;
    q.duration = Dist::constant(secs(1));
    q.effect_at = 0.3;
    q.lease = secs(10);
    levers.apply(&mut f);
    f
}

/// The five levers as the patches in `scenarios/files/levers/` apply them (the same fields,
/// the same values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Levers {
    pub pid1: bool,
    pub readiness: bool,
    pub drain: bool,
    pub requeue: bool,
    pub surge: bool,
}

impl Levers {
    pub(crate) const ALL: Levers = Levers {
        pid1: true,
        readiness: true,
        drain: true,
        requeue: true,
        surge: true,
    };
    pub(crate) const NONE: Levers = Levers {
        pid1: false,
        readiness: false,
        drain: false,
        requeue: false,
        surge: false,
    };
    pub(crate) const NAMES: [&'static str; 5] = ["pid1", "readiness", "drain", "requeue", "surge"];

    pub(crate) fn set(&mut self, name: &str, on: bool) -> bool {
        match name {
            "pid1" => self.pid1 = on,
            "readiness" => self.readiness = on,
            "drain" => self.drain = on,
            "requeue" => self.requeue = on,
            "surge" => self.surge = on,
            _ => return false,
        }
        true
    }

    /// Sets the fields each lever's patch sets.
    pub(crate) fn apply(self, f: &mut Fleet) {
        if self.pid1 {
            f.container.entrypoint = Entrypoint::Exec;
        }
        if self.readiness {
            f.lifecycle.prestop = Some(PreStop::Sleep(secs(5)));
            f.app.fail_readiness = true;
        }
        if self.drain {
            f.app.on_sigterm = OnSigterm::Drain;
            f.drain.timeout = secs(10);
            f.drain.guardian = secs(25);
        }
        if self.requeue {
            let q = f.queue.as_mut().unwrap();
            q.release_on_sigterm = true;
            q.idempotent = true;
            f.app.shed_unfinishable = true;
        }
        if self.surge {
            f.rollout.max_surge = IntOrPercent::Int(1);
            f.rollout.max_unavailable = IntOrPercent::Int(0);
            f.drain.jitter_window = secs(2);
        }
    }
}

/// The same with a keep-alive pool (connections pinned to pods through kube-proxy).
pub(crate) fn small_keepalive(levers: Levers) -> Fleet {
    let mut f = small(levers);
    f.client.connection = ConnectionStyle::Keepalive;
    f.client.pool = 32;
    f
}

pub(crate) fn run(name: &str, f: &Fleet, seed: u64) -> SimRun {
    simulate(
        name,
        f,
        &SimOptions {
            seed,
            shuffle_ties: false,
        },
    )
    .unwrap_or_else(|e| panic!("{name} seed {seed}: {e}"))
}

pub(crate) fn mech(r: &SimRun, m: &str) -> u64 {
    let m = models::Mechanism::from_name(m).unwrap_or_else(|| panic!("no mechanism {m}"));
    r.failures_by_mechanism[&m]
}

/// `levers` with one lever switched.
pub(crate) fn with(levers: Levers, name: &str, on: bool) -> Levers {
    let mut l = levers;
    let lever: measure::Lever = name.parse().unwrap_or_else(|e| panic!("{e}"));
    assert!(l.set(lever.name(), on), "no lever {name}");
    l
}
