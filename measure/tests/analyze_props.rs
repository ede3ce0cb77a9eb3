//! Properties of the analyzer that hold for any run.

use measure::{
    AnalyzeConfig, EndpointSeries, JobCounts, Outcome, RunLabel, RunMarks, Sample, Source, analyze,
};
use proptest::prelude::*;

fn sample() -> impl Strategy<Value = Sample> {
    (
        0u64..60_000,
        0u64..30,
        0u64..3_000,
        0usize..Outcome::ALL.len(),
        any::<bool>(),
    )
        .prop_map(|(intended_ms, lag_ms, latency_ms, outcome, new_conn)| {
            let intended_ns = intended_ms * 1_000_000;
            let start_ns = intended_ns + lag_ms * 1_000_000;
            Sample {
                intended_ns,
                start_ns,
                end_ns: start_ns + latency_ms * 1_000_000,
                outcome: Outcome::ALL[outcome],
                new_conn,
            }
        })
}

fn marks() -> RunMarks {
    RunMarks {
        load_start_ns: 0,
        rollout_start_ns: 20_000_000_000,
        rollout_end_ns: 40_000_000_000,
        load_end_ns: 60_000_000_000,
    }
}

fn label() -> RunLabel {
    RunLabel {
        source: Source::Live,
        scenario: "prop".into(),
        seed: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Every sample lands in exactly one timeline bucket and one outcome class, and the
    /// reconnect curve counts every new connection once.
    #[test]
    fn every_sample_lands_in_exactly_one_bucket_and_class(samples in prop::collection::vec(sample(), 0..400)) {
        let a = analyze(&samples, &marks(), None, JobCounts::default(), &label(), &AnalyzeConfig::default());
        let sent: u64 = a.timeline.iter().map(|b| b.counts.sent).sum();
        prop_assert_eq!(sent, samples.len() as u64);
        for b in &a.timeline {
            prop_assert!(b.counts.is_conserved());
        }
        for o in Outcome::ALL {
            let by_bucket: u64 = a.timeline.iter().map(|b| b.counts.get(o)).sum();
            prop_assert_eq!(by_bucket, samples.iter().filter(|s| s.outcome == o).count() as u64);
        }
        let completed: u64 = a.timeline.iter().map(|b| b.completed).sum();
        prop_assert_eq!(completed, samples.len() as u64);
        let new_conns = samples.iter().filter(|s| s.new_conn).count() as u64;
        prop_assert_eq!(a.reconnects.iter().sum::<u64>(), new_conns);
        prop_assert!(a.summary.requests.is_conserved());
        prop_assert_eq!(a.summary.failed + a.summary.requests.ok + a.summary.requests.shed, a.summary.requests.sent);
    }

    /// The analysis does not depend on the order the records arrive in.
    #[test]
    fn order_of_samples_does_not_matter(mut samples in prop::collection::vec(sample(), 1..300), seed in any::<u64>()) {
        let endpoints = EndpointSeries { desired: 3, points: vec![(0, 3), (25_000_000_000, 2), (30_000_000_000, 3)] };
        let cfg = AnalyzeConfig::default();
        let a = analyze(&samples, &marks(), Some(&endpoints), JobCounts::default(), &label(), &cfg);
        // A deterministic shuffle from the seed (printed by proptest on failure).
        let n = samples.len();
        let mut x = seed | 1;
        for i in (1..n).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            samples.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let b = analyze(&samples, &marks(), Some(&endpoints), JobCounts::default(), &label(), &cfg);
        prop_assert_eq!(a, b);
    }
}
