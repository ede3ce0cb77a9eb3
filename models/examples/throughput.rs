//! Runs an `after`-like fleet for many seeds and prints events and time per run (run it under
//! `time` on a busy machine: user time per run is the honest figure).
use models::{ConnectionStyle, Fleet, IntOrPercent, OnSigterm, PreStop, SimOptions, simulate};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
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
    f.run.baseline = sim_core::SimDuration::from_secs(30);
    let t = std::time::Instant::now();
    let mut events = 0;
    let mut simulated = 0.0;
    for seed in 0..n {
        let r = simulate(
            "after",
            &f,
            &SimOptions {
                seed,
                shuffle_ties: false,
            },
        )
        .unwrap();
        events += r.events;
        simulated += r.marks.load_end_ns as f64 / 1e9;
    }
    let wall = t.elapsed().as_secs_f64();
    println!(
        "{n} runs, {:.0} events and {:.0} s simulated per run, wall {:.2} ms per run, {:.2} M events/s",
        events as f64 / n as f64,
        simulated / n as f64,
        wall / n as f64 * 1e3,
        events as f64 / wall / 1e6
    );
}
