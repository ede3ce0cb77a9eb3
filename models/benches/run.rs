//! One `after`-like run per iteration; reports simulated events per second.

use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use models::{ConnectionStyle, Fleet, IntOrPercent, OnSigterm, PreStop, SimOptions, simulate};
use sim_core::SimDuration;

/// The `after` fleet: every lever on, a keep-alive pool, a few hundred requests per second,
/// about two minutes of simulated time.
fn after_fleet() -> Fleet {
    let mut f = Fleet::default();
    // The `after` settings (scenarios/files/levers/*.toml over before).
    f.lifecycle.prestop = Some(PreStop::Sleep(sim_core::SimDuration::from_secs(5)));
    f.app.fail_readiness = true;
    f.app.on_sigterm = OnSigterm::Drain;
    f.drain.jitter_window = sim_core::SimDuration::from_secs(2);
    f.queue = Some(models::QueueConfig {
        release_on_sigterm: true,
        idempotent: true,
        ..models::QueueConfig::default()
    });
    f.rollout.max_surge = IntOrPercent::Int(1);
    f.rollout.max_unavailable = IntOrPercent::Int(0);
    f.load.rate = 300.0;
    f.client.connection = ConnectionStyle::Keepalive;
    f.client.pool = 32;
    f.run.baseline = SimDuration::from_secs(30);
    f
}

fn bench(c: &mut Criterion) {
    let fleet = after_fleet();
    let opts = SimOptions {
        seed: 1,
        shuffle_ties: false,
    };
    let probe = simulate("after", &fleet, &opts).expect("after runs");
    let t = Instant::now();
    let reps = 20;
    for seed in 0..reps {
        simulate(
            "after",
            &fleet,
            &SimOptions {
                seed,
                shuffle_ties: false,
            },
        )
        .expect("runs");
    }
    let per_run = t.elapsed().as_secs_f64() / reps as f64;
    eprintln!(
        "after-like run: {} events, {:.1} s simulated, {:.2} ms per run, {:.2} M events/s",
        probe.events,
        probe.marks.load_end_ns as f64 / 1e9,
        per_run * 1e3,
        probe.events as f64 / per_run / 1e6
    );
    let mut g = c.benchmark_group("simulate");
    g.throughput(Throughput::Elements(probe.events));
    g.sample_size(20);
    g.bench_function("after_like", |b| {
        let mut seed = 0;
        b.iter(|| {
            seed += 1;
            simulate(
                "after",
                &fleet,
                &SimOptions {
                    seed,
                    shuffle_ties: false,
                },
            )
            .expect("runs")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
