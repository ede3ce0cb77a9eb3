//! Properties of the schedule, the classification and the bucketing (proptest; the failing seed
//! and input are printed by proptest on failure).

use loadgen::Outcome;
use loadgen::record::Req;
use loadgen::{Arrivals, Schedule, rate_milli};
use loadgen::{classify_errno, classify_error, classify_status, samples};
use measure::Shard;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Constant schedule: request i is due at i/rate exactly (to the nanosecond), however far
    /// into the run, so there is no drift.
    #[test]
    fn constant_schedule_has_no_drift(rate in 0.5f64..200_000.0, i in 0u64..10_000_000_000) {
        let m = rate_milli(rate).unwrap();
        let t = Schedule::constant_at(m, i);
        let exact = i as f64 * 1e12 / m as f64;
        prop_assert!((t as f64 - exact).abs() <= 1.0 + exact * 1e-15, "i={i} t={t} exact={exact}");
        // consecutive gaps never differ by more than a nanosecond
        let g1 = Schedule::constant_at(m, i + 1) - t;
        let g2 = Schedule::constant_at(m, i + 2) - Schedule::constant_at(m, i + 1);
        prop_assert!(g1.abs_diff(g2) <= 1);
    }

    /// A schedule over D seconds at rate r holds ceil(D*r) requests, all inside [0, D).
    #[test]
    fn constant_schedule_count_matches_duration(rate in 1.0f64..5_000.0, dur_ms in 1u64..5_000) {
        let m = rate_milli(rate).unwrap();
        let end = dur_ms * 1_000_000;
        let v: Vec<_> = Schedule::new(Arrivals::Constant, m, Shard::ALL, end, u64::MAX).collect();
        let want = ((end as u128 * m as u128).div_ceil(1_000_000_000_000)) as usize;
        prop_assert_eq!(v.len(), want);
        prop_assert!(v.iter().all(|&(_, t)| t < end));
        prop_assert!(v.windows(2).all(|w| w[0].1 <= w[1].1 && w[0].0 + 1 == w[1].0));
    }

    /// N shards together are exactly the unsharded schedule: every request once, same times.
    #[test]
    fn shards_partition_the_schedule(n in 1u64..8, poisson in any::<bool>(), seed in any::<u64>(), rate in 10.0f64..2_000.0) {
        let m = rate_milli(rate).unwrap();
        let arr = || if poisson { Arrivals::Poisson { seed } } else { Arrivals::Constant };
        let end = 2_000_000_000;
        let all: Vec<_> = Schedule::new(arr(), m, Shard::ALL, end, 3_000).collect();
        let mut merged: Vec<_> = (0..n).flat_map(|k| Schedule::new(arr(), m, Shard { k, n }, end, 3_000)).collect();
        merged.sort();
        prop_assert_eq!(merged, all);
    }

    /// Poisson schedule: the mean rate converges to the target (no bias from rounding to ns).
    #[test]
    fn poisson_mean_rate_is_the_target(seed in any::<u64>(), rate in 10.0f64..100_000.0) {
        let m = rate_milli(rate).unwrap();
        let n = 20_000u64;
        let v: Vec<_> = Schedule::new(Arrivals::Poisson { seed }, m, Shard::ALL, u64::MAX, n).collect();
        prop_assert_eq!(v.len() as u64, n);
        let last = v.last().unwrap().1 as f64;
        let mean_gap = last / n as f64;
        let want = 1e12 / m as f64;
        // sd of the mean gap is want/sqrt(n) (0.7%); 5% is a seven-sigma band
        prop_assert!((mean_gap / want - 1.0).abs() < 0.05, "mean gap {mean_gap} want {want} seed {seed}");
        prop_assert!(v.windows(2).all(|w| w[0].1 <= w[1].1));
    }

    /// Every HTTP status and every errno classifies to exactly one outcome of the contract, and
    /// the generator-fault flag is only ever raised for the generator's own resource errors.
    #[test]
    fn classification_is_total(status in 100u16..600, ra in any::<bool>(), errno in 0i32..200) {
        let o = classify_status(status, ra);
        prop_assert!(Outcome::ALL.contains(&o));
        prop_assert_eq!(o == Outcome::Ok, (200..300).contains(&status));
        prop_assert_eq!(o == Outcome::Shed, status == 503 && ra);
        let e = std::io::Error::from_raw_os_error(errno);
        let c = classify_error(&e);
        prop_assert!(Outcome::ALL.contains(&c.outcome));
        if let Some(k) = classify_errno(errno) {
            prop_assert_eq!(k, c);
        }
        if c.generator_fault {
            prop_assert_eq!(c.outcome, Outcome::Other);
        }
    }

    /// Every record lands in exactly one timeline bucket and one outcome class: the buckets'
    /// counts add up to the records, per class, whatever the bucket width.
    #[test]
    fn every_record_lands_in_one_bucket_and_one_class(
        recs in prop::collection::vec((0i64..30_000_000_000, 0i64..5_000_000, 0i64..2_000_000_000, 0usize..10, any::<bool>()), 0..400),
        bucket_ms in 1u64..3_000,
    ) {
        let reqs: Vec<Req> = recs.iter().enumerate().map(|(i, &(is, lag, lat, o, ru))| Req {
            i: i as u64,
            intended: is,
            actual: is + lag,
            first_byte: None,
            end: is + lag + lat,
            conn: 1,
            reused: ru,
            status: 0,
            outcome: Outcome::ALL[o],
            pod: None,
            generator_fault: false,
        }).collect();
        let s = samples(&reqs);
        let marks = measure::RunMarks { load_start_ns: 0, rollout_start_ns: 10_000_000_000, rollout_end_ns: 20_000_000_000, load_end_ns: 30_000_000_000 };
        let cfg = measure::AnalyzeConfig { bucket_ns: bucket_ms * 1_000_000, ..Default::default() };
        let label = measure::RunLabel { source: measure::Source::Live, scenario: "p".into(), seed: None };
        let a = measure::analyze(&s, &marks, None, measure::JobCounts::default(), &label, &cfg);
        let total: u64 = a.timeline.iter().map(|b| b.counts.sent).sum();
        prop_assert_eq!(total, reqs.len() as u64);
        for o in Outcome::ALL {
            let in_buckets: u64 = a.timeline.iter().map(|b| b.counts.get(o)).sum();
            let want = reqs.iter().filter(|r| r.outcome == o).count() as u64;
            prop_assert_eq!(in_buckets, want, "outcome {:?}", o);
        }
        prop_assert!(a.timeline.iter().all(|b| b.counts.is_conserved()));
        let completed: u64 = a.timeline.iter().map(|b| b.completed).sum();
        prop_assert_eq!(completed, reqs.len() as u64);
        let new_conns: u64 = a.reconnects.iter().sum();
        prop_assert_eq!(new_conns, reqs.iter().filter(|r| !r.reused).count() as u64);
    }
}
