//! Random valid fleets: no panic, no conservation failure.

use models::{
    Arrivals, ConnectionStyle, Entrypoint, Fleet, IntOrPercent, OnSigterm, PreStop, Preset,
    QueueConfig, ServerConfig, SimOptions, simulate,
};
use proptest::prelude::*;
use sim_core::{Dist, SimDuration};

fn ms(v: u64) -> SimDuration {
    SimDuration::from_millis(v)
}

prop_compose! {
    fn fleet()(
        replicas in 1u32..6,
        rate in 5.0f64..300.0,
        poisson in any::<bool>(),
        keepalive in any::<bool>(),
        pool in 1u32..40,
        preset in 0usize..Preset::ALL.len(),
        levers in 0u8..64,
        rotate in 0u32..4,
        surge in 1u32..3,
        service in 0u64..300,
        concurrency in 1u32..50,
        lag in 0u64..3_000,
        prestop in 0u64..8_000,
        grace in 1u64..20_000,
        drain in 0u64..10_000,
        guardian in 0u64..20_000,
        jobs in 0.0f64..20.0,
        lease in 100u64..15_000,
        effect in 0.0f64..=1.0,
        retries in 0u32..3,
        deadline in 50u64..5_000,
        clients in prop_oneof![Just(0u32), 1u32..20],
        cold in 1.0f64..4.0,
        min_ready in 0u64..3_000,
    ) -> Fleet {
        let mut f = Fleet::default();
        f.run.baseline = ms(2_000);
        f.run.max_duration = SimDuration::from_secs(240);
        f.pod.replicas = replicas;
        f.pod.startup = Dist::Uniform { low: ms(200), high: ms(1_500) };
        if levers & 32 != 0 {
            f.pod.readiness = None;
        } else {
            f.pod.readiness.as_mut().unwrap().period = ms(500);
        }
        f.pod.service_time = Dist::Exponential { mean: ms(service.max(1)) };
        f.pod.concurrency = concurrency;
        f.pod.cold_start.factor = cold;
        f.pod.cold_start.duration = ms(2_000);
        f.load.rate = rate;
        f.load.arrivals = if poisson { Arrivals::Poisson } else { Arrivals::Constant };
        f.load.deadline = ms(deadline);
        f.load.clients = clients;
        f.client.connection = if keepalive { ConnectionStyle::Keepalive } else { ConnectionStyle::New };
        f.client.pool = pool;
        f.client.retry.attempts = retries;
        f.balancer.preset = Preset::ALL[preset];
        if f.balancer.preset.health_check().is_some() {
            // Every health-checked preset, short enough for the property's runs.
            f.balancer.health_check_interval = Some(ms(250));
            f.balancer.healthy_threshold = Some(2);
        }
        f.propagation.lag = Some(Dist::Uniform { low: ms(0), high: ms(lag) });
        f.lifecycle.prestop = (prestop > 0).then(|| PreStop::Sleep(ms(prestop)));
        f.lifecycle.grace_period = ms(grace);
        f.drain.timeout = ms(drain);
        f.drain.guardian = ms(guardian);
        // At most the drain's timeout (validation refuses a window longer than the drain).
        f.drain.jitter_window = if levers & 16 != 0 { ms(drain.min(1_000)) } else { ms(0) };
        f.container.entrypoint = if levers & 1 != 0 { Entrypoint::Exec } else { Entrypoint::Shell };
        f.app.fail_readiness = levers & 2 != 0 && f.pod.readiness.is_some();
        f.app.on_sigterm = if levers & 4 != 0 { OnSigterm::Drain } else { OnSigterm::Exit };
        f.app.keep_serving = ms(u64::from(rotate) * 300);
        f.nodes = (rotate == 2).then_some(models::NodesConfig {
            count: 2,
            cores: 1.5,
            cpu_per_request: 0.5,
        });
        f.server = ServerConfig {
            idle_timeout: (rotate & 1 != 0).then(|| ms(700)),
            max_requests: (rotate & 2 != 0).then_some(5),
            max_age: (rotate == 3).then(|| ms(1_500)),
        };
        f.rollout.max_surge = IntOrPercent::Int(surge);
        f.rollout.max_unavailable = IntOrPercent::Int(0);
        f.rollout.min_ready = ms(min_ready);
        f.queue = (jobs > 0.1).then(|| QueueConfig {
            rate: jobs,
            lease: ms(lease),
            effect_at: effect,
            duration: Dist::Uniform { low: ms(10), high: ms(2_000) },
            release_on_sigterm: levers & 8 != 0,
            idempotent: levers & 8 != 0,
            ..QueueConfig::default()
        });
        f
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn random_valid_fleets_run_and_conserve(f in fleet(), seed in 0u64..1_000, shuffle in any::<bool>()) {
        f.validate().map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let r = simulate("prop", &f, &SimOptions { seed, shuffle_ties: shuffle })
            .map_err(|e| TestCaseError::fail(format!("seed {seed}: {e}")))?;
        let s = &r.analysis.summary;
        prop_assert!(s.requests.is_conserved());
        prop_assert!(s.jobs.is_conserved());
        prop_assert!(r.rollout_complete, "seed {seed}: rollout did not finish");
    }
}
