//! Fleets shared by the integration tests.
#![allow(dead_code)]

use models::{ConnectionStyle, Fleet, IntOrPercent, Levers, SimOptions, SimRun, simulate};
use sim_core::{Dist, SimDuration};

pub fn ms(v: u64) -> SimDuration {
    SimDuration::from_millis(v)
}
pub fn secs(v: u64) -> SimDuration {
    SimDuration::from_secs(v)
}

/// A small fleet that runs fast in debug builds: 4 pods, 100 rps, a short baseline, pods that
/// start and pass their probe quickly, a busy job queue.
pub fn small(levers: Levers) -> Fleet {
    let mut f = Fleet {
        levers,
        ..Fleet::default()
    };
    f.run.baseline = secs(5);
    f.load.rate = 100.0;
    f.pod.startup = Dist::constant(secs(1));
    f.pod.readiness.period = secs(1);
    f.rollout.max_surge = IntOrPercent::Int(1);
    f.rollout.max_unavailable = IntOrPercent::Int(0);
    // Jobs long enough that a killed worker usually has one in hand, past its side effect.
    f.queue.rate = 8.0;
    f.queue.workers = 4;
    f.queue.duration = Dist::constant(secs(1));
    f.queue.effect_at = 0.3;
    f
}

/// The same with a keep-alive pool (connections pinned to pods through kube-proxy).
pub fn small_keepalive(levers: Levers) -> Fleet {
    let mut f = small(levers);
    f.client.connection = ConnectionStyle::Keepalive;
    f.client.pool = 32;
    f
}

pub fn run(name: &str, f: &Fleet, seed: u64) -> SimRun {
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

pub fn mech(r: &SimRun, m: &str) -> u64 {
    let m = models::Mechanism::from_name(m).unwrap_or_else(|| panic!("no mechanism {m}"));
    r.failures_by_mechanism[&m]
}

/// `levers` with one lever switched.
pub fn with(levers: Levers, name: &str, on: bool) -> Levers {
    let mut l = levers;
    let lever: measure::Lever = name.parse().unwrap_or_else(|e| panic!("{e}"));
    l.set(lever, on);
    l
}
