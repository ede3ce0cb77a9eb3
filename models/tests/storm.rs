//! Reconnect storms: closing every keep-alive at once makes the clients reconnect together;
//! the jitter window spreads them.

mod common;

use common::*;

fn peak_reconnects(r: &models::SimRun) -> u64 {
    // Fine buckets (10 ms) inside the deploy window.
    let from = (r.marks.rollout_start_ns / 10_000_000) as usize;
    let to = (r.analysis.summary.window_s[1] * 100.0) as usize;
    r.analysis.reconnects[from..to.min(r.analysis.reconnects.len())]
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
}

#[test]
fn jitter_spreads_the_reconnects() {
    // 20 clients each sending every 10 ms (2000 req/s), 1 ms of work: a pod's 5 connections
    // closed at once come back within ~10 ms; jittered over 2 s they trickle back.
    let mut at_once = small_keepalive(with(Levers::ALL, "surge", false));
    at_once.load.rate = 2_000.0;
    at_once.load.arrivals = models::Arrivals::Constant;
    at_once.client.pool = 20;
    at_once.pod.service_time = sim_core::Dist::constant(ms(1));
    at_once.run.baseline = secs(2);
    at_once.queue = None;
    let mut jittered = at_once.clone();
    jittered.drain.jitter_window = secs(2);
    let (mut a, mut j) = (0, 0);
    for seed in [51, 52, 53] {
        a += peak_reconnects(&run("at-once", &at_once, seed));
        j += peak_reconnects(&run("jittered", &jittered, seed));
    }
    eprintln!("peak reconnects per 10 ms over seeds 51-53: at once {a}, jittered {j}");
    assert!(
        j * 2 < a,
        "seeds 51-53: peak reconnects per 10 ms, jittered {j} vs all at once {a}"
    );
}
