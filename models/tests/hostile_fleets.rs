//! The simulator's fuzz target, as a proptest (cargo-fuzz is not installed here): fleets whose
//! numeric and duration fields are drawn within their bounds and at them (the limits of
//! `models::limits` and `Fleet::validate`), each run once with caps on its size. A fleet that
//! validates must run to a result or stop at a cap with [`SimError::Limit`]: never panic, never
//! fail a conservation check, never outgrow the caps. A fixed seed and case count keep it
//! deterministic and bounded in CI (`PROPTEST_CASES` raises the count for a longer hunt).

use std::sync::atomic::{AtomicUsize, Ordering};

use models::{
    Fleet, IntOrPercent, PreStop, QueueConfig, RunCaps, SimError, SimOptions, simulate_capped,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use sim_core::{Dist, SimDuration};

const DAY_MS: u64 = 86_400_000;
const HOUR_MS: u64 = 3_600_000;

/// A duration in `[lo, hi]` ms: the bounds themselves, a small value, or anything between.
fn dur(lo: u64, hi: u64) -> impl Strategy<Value = SimDuration> {
    prop_oneof![Just(lo), Just(hi), lo..=hi.min(lo + 2_000), lo..=hi,]
        .prop_map(SimDuration::from_millis)
}

/// A distribution with parameters up to a day, including heavy tails.
fn dist() -> impl Strategy<Value = Dist> {
    prop_oneof![
        dur(0, DAY_MS).prop_map(Dist::constant),
        (dur(0, 5_000), dur(0, DAY_MS)).prop_map(|(a, b)| Dist::Uniform {
            low: a.min(b),
            high: a.max(b)
        }),
        dur(1, DAY_MS).prop_map(|m| Dist::Exponential { mean: m }),
        (1u64..1_000, dur(1_000, DAY_MS)).prop_map(|(m, p)| Dist::Lognormal {
            median: SimDuration::from_nanos(m),
            p99: p
        }),
    ]
}

prop_compose! {
    fn fleet()(
        replicas in prop_oneof![Just(1u32), Just(1_000), 1u32..8],
        rate in prop_oneof![Just(0.001f64), Just(1e6), 1.0f64..2_000.0],
        clients in prop_oneof![Just(0u32), Just(100_000), 1u32..50],
        pool in prop_oneof![Just(1u32), Just(100_000), 1u32..64],
        baseline in dur(0, 10_000),
        tail in dur(0, HOUR_MS),
        settle in dur(0, HOUR_MS),
        max_s in prop_oneof![Just(86_400u64), 30u64..600],
        deadline in dur(1, HOUR_MS),
        rtt in dur(0, 1_000),
        startup in dist(),
        service in dist(),
        slice in dist(),
        period in dur(1, HOUR_MS),
        initial in dur(0, DAY_MS),
        prestop in dur(0, HOUR_MS),
        grace in dur(0, HOUR_MS),
        drain in dur(0, HOUR_MS),
        guardian in dur(0, HOUR_MS),
        min_ready in dur(0, HOUR_MS),
        surge in prop_oneof![Just(1_000u32), 1u32..4],
        jobs in prop_oneof![Just(None), (0.01f64..50.0).prop_map(Some), Just(Some(100_000.0))],
        job_len in dist(),
        lease in dur(1, DAY_MS),
        bucket in dur(1_000, HOUR_MS),
    ) -> Fleet {
        let mut f = Fleet::default();
        f.pod.replicas = replicas;
        f.load.rate = rate;
        f.load.clients = clients;
        f.client.pool = pool;
        f.run.baseline = baseline;
        f.run.tail = tail;
        f.run.settle = settle;
        f.run.max_duration = SimDuration::from_secs(max_s);
        f.run.bucket = bucket;
        f.load.deadline = deadline;
        f.client.rtt = rtt;
        f.pod.startup = startup;
        f.pod.service_time = service;
        f.propagation.endpointslice = slice;
        let rp = f.pod.readiness.as_mut().unwrap();
        rp.period = period;
        rp.initial_delay = initial;
        f.lifecycle.prestop = (!prestop.is_zero()).then_some(PreStop::Sleep(prestop));
        f.lifecycle.grace_period = grace;
        f.drain.timeout = drain;
        f.drain.guardian = guardian;
        f.rollout.min_ready = min_ready;
        f.rollout.max_surge = IntOrPercent::Int(surge);
        f.rollout.max_unavailable = IntOrPercent::Int(0);
        f.queue = jobs.map(|rate| QueueConfig { rate, duration: job_len, lease, ..QueueConfig::default() });
        f
    }
}

fn config() -> Config {
    Config {
        cases: 48,
        rng_seed: RngSeed::Fixed(13),
        failure_persistence: None,
        ..Config::with_cases(48)
    }
}

/// Fleets that validated and ran.
static RAN: AtomicUsize = AtomicUsize::new(0);

/// One case: a fleet that validates runs to a result within the caps, or stops at a cap.
fn one_case(f: Fleet, seed: u64) -> Result<(), TestCaseError> {
    if f.validate().is_err() {
        // Refused with a message: what the bounds are for.
        return Ok(());
    }
    RAN.fetch_add(1, Ordering::Relaxed);
    let caps = RunCaps {
        requests: 200_000,
        jobs: 50_000,
        events: 2_000_000,
    };
    match simulate_capped(
        "fuzz",
        &f,
        &SimOptions {
            seed,
            shuffle_ties: false,
        },
        &caps,
    ) {
        Ok(r) => {
            prop_assert!(
                r.events <= caps.events + 4_096,
                "seed {seed}: {} events",
                r.events
            );
            prop_assert!(r.analysis.summary.requests.is_conserved(), "seed {seed}");
            prop_assert!(r.analysis.summary.jobs.is_conserved(), "seed {seed}");
        }
        Err(SimError::Limit { .. }) => {}
        Err(e) => prop_assert!(false, "seed {seed}: {e}"),
    }
    Ok(())
}

#[test]
fn fleets_at_their_bounds_never_panic_and_stay_within_their_caps() {
    // The strategy's value tree (25 fields, each a union) is deep: a debug build needs more
    // than the test thread's 2 MB of stack.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let mut runner = TestRunner::new(config());
            let result = runner.run(&(fleet(), 0u64..1_000), |(f, seed)| one_case(f, seed));
            if let Err(e) = result {
                panic!("{e}");
            }
            let ran = RAN.load(Ordering::Relaxed);
            assert!(
                ran >= 12,
                "only {ran} of 48 fleets validated: the generator misses its target"
            );
        })
        .unwrap()
        .join()
        .unwrap();
}
