//! Same fleet and seed: same bytes. Conservation on a representative fleet. Tie order does not
//! move the headline figures.

mod common;

use common::*;
use models::{SimOptions, simulate, simulate_traced};
use sim_core::check_determinism;

fn representative() -> models::Fleet {
    // Drain without readiness, a connection per request, one client retry: refusals, retries,
    // jobs and a queue at the pods all happen.
    let mut f = small(with(Levers::ALL, "readiness", false));
    f.client.retry.attempts = 1;
    f.client.retry.backoff = ms(20);
    f.pod.concurrency = 4;
    f
}

/// The representative fleet behind ingress-nginx (its retries off) with an Istio gateway in
/// front that retries its 502s and 503s: the front's retries and backoff draws happen.
fn fronted() -> models::Fleet {
    let mut f = representative();
    f.balancer.preset = models::Preset::IngressNginx;
    f.balancer.retries = Some(0);
    f.balancer.front = Some(models::Front::IstioGateway);
    f.balancer.front_retry_on = Some(vec![measure::Outcome::Http502, measure::Outcome::Http503]);
    f.balancer.front_timeout = Some(secs(5));
    f
}

fn bytes(r: &models::SimRun) -> String {
    format!(
        "{}\n{}\n{:?}\n{:?}\n{:?}",
        serde_json::to_string(&r.analysis.summary).unwrap(),
        serde_json::to_string(&r.analysis.timeline).unwrap(),
        r.analysis.reconnects,
        r.endpoints,
        r.failures_by_mechanism
    )
}

#[test]
fn same_seed_same_trace_and_bytes() {
    for f in [representative(), small(Levers::NONE), fronted()] {
        for seed in [1, 99] {
            let digest = check_determinism(seed, |seed, trace| {
                let opts = SimOptions {
                    seed,
                    shuffle_ties: false,
                };
                simulate_traced("det", &f, &opts, trace).expect("runs");
            })
            .unwrap_or_else(|d| panic!("{d}"));
            assert!(digest.events > 1_000 && digest.draws > 100, "{digest}");
            let a = run("det", &f, seed);
            let b = run("det", &f, seed);
            assert_eq!(bytes(&a), bytes(&b), "seed {seed}");
            assert_eq!(a.digest, b.digest);
            let c = run("det", &f, seed + 1);
            assert_ne!(a.digest, c.digest, "different seeds, different runs");
        }
    }
}

#[test]
fn conservation_holds_on_a_representative_fleet() {
    let f = representative();
    for seed in [3, 4, 5] {
        let r = run("conservation", &f, seed);
        let s = &r.analysis.summary;
        assert!(s.requests.is_conserved(), "seed {seed}");
        assert!(s.jobs.is_conserved(), "seed {seed}: {:?}", s.jobs);
        assert!(
            r.retries > 0,
            "seed {seed}: refusals happen and their retries are counted"
        );
        // Every request of the whole run appears once in the timeline.
        let timeline_sent: u64 = r.analysis.timeline.iter().map(|b| b.counts.sent).sum();
        let completed: u64 = r.analysis.timeline.iter().map(|b| b.completed).sum();
        assert_eq!(timeline_sent, completed, "seed {seed}");
        assert!(timeline_sent >= s.requests.sent);
    }
}

#[test]
fn shuffled_ties_stay_in_the_unshuffled_range() {
    let seeds: Vec<u64> = (40..48).collect();
    for (name, f) in [
        ("before", small_keepalive(Levers::NONE)),
        ("after", small_keepalive(Levers::ALL)),
        ("no-readiness", small(with(Levers::ALL, "readiness", false))),
    ] {
        let figures = |shuffle: bool| -> Vec<(f64, f64)> {
            seeds
                .iter()
                .map(|&seed| {
                    let r = simulate(
                        name,
                        &f,
                        &SimOptions {
                            seed,
                            shuffle_ties: shuffle,
                        },
                    )
                    .unwrap();
                    let s = r.analysis.summary;
                    (s.failed as f64, s.jobs.duplicated as f64)
                })
                .collect()
        };
        let plain = figures(false);
        let shuffled = figures(true);
        for k in 0..2 {
            let lo = plain
                .iter()
                .map(|x| if k == 0 { x.0 } else { x.1 })
                .fold(f64::MAX, f64::min);
            let hi = plain
                .iter()
                .map(|x| if k == 0 { x.0 } else { x.1 })
                .fold(f64::MIN, f64::max);
            let mean = shuffled
                .iter()
                .map(|x| if k == 0 { x.0 } else { x.1 })
                .sum::<f64>()
                / shuffled.len() as f64;
            assert!(
                mean >= lo && mean <= hi,
                "{name}, figure {k}: shuffled mean {mean} outside the unshuffled range [{lo}, {hi}] (seeds {seeds:?})"
            );
        }
    }
}
