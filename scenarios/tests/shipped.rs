//! Every shipped scenario: valid, conserved, deterministic, and the same bytes whatever the
//! thread count; `before` and `after` do not hinge on the order of same-instant events.

use std::collections::BTreeMap;
use std::path::Path;

use measure::figure::HEADLINE;
use scenarios::run_many;
use scenarios::{RunReport, load_scenario, seed_list, shipped};

fn dir_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn all() -> Vec<scenarios::Scenario> {
    shipped::scenario_names()
        .into_iter()
        .map(|n| load_scenario(n).unwrap_or_else(|e| panic!("{n}: {e}")))
        .collect()
}

fn assert_conserved(r: &RunReport) {
    for s in &r.summaries {
        assert!(
            s.requests.is_conserved(),
            "{} seed {:?}: requests",
            r.scenario,
            s.seed
        );
        assert!(
            s.jobs.is_conserved(),
            "{} seed {:?}: jobs",
            r.scenario,
            s.seed
        );
        assert_eq!(s.failed, s.requests.failed(), "{}", r.scenario);
        assert!(s.requests.sent > 0, "{}: no load", r.scenario);
        assert_eq!(s.scenario, r.scenario);
    }
    for (m, s) in r.failures_by_mechanism.iter().zip(&r.summaries) {
        let requests: u64 = m
            .iter()
            .filter(|(k, _)| k.is_request())
            .map(|(_, n)| n)
            .sum();
        assert_eq!(requests, s.failed, "{}: failures by mechanism", r.scenario);
    }
}

#[test]
fn every_shipped_scenario_is_conserved_deterministic_and_thread_independent() {
    let list = all();
    assert_eq!(list.len(), 15);
    let seeds = seed_list(1, 2);
    let one = run_many(&list, &seeds, 1, false, &|| {}).unwrap();
    let two = run_many(&list, &seeds, 2, false, &|| {}).unwrap();
    for (a, b) in one.iter().zip(&two) {
        assert_conserved(a);
        assert_eq!(
            a.digests, b.digests,
            "{}: trace digests differ between runs",
            a.scenario
        );
        assert_eq!(
            a, b,
            "{}: results differ between 1 and 2 threads",
            a.scenario
        );
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        a.write(da.path()).unwrap();
        b.write(db.path()).unwrap();
        assert_eq!(
            dir_bytes(da.path()),
            dir_bytes(db.path()),
            "{}: bytes differ",
            a.scenario
        );
    }
    // Different seeds do give different runs (the seed reaches the model).
    let before = &one[0];
    assert_ne!(before.digests[0], before.digests[1]);
}

#[test]
fn before_loses_requests_and_after_removes_the_lever_failures() {
    let list: Vec<_> = ["before", "after"]
        .iter()
        .map(|n| load_scenario(n).unwrap())
        .collect();
    let r = run_many(&list, &seed_list(1, 4), 2, false, &|| {}).unwrap();
    let mean = |i: usize, f: &str| r[i].aggregate().figure(f).unwrap().mean;
    assert!(
        mean(0, "failed") > 5.0,
        "before fails {}",
        mean(0, "failed")
    );
    assert!(
        mean(1, "failed") < mean(0, "failed") / 10.0,
        "after fails {}",
        mean(1, "failed")
    );
    assert_eq!(mean(1, "jobs.duplicated"), 0.0);
    assert_eq!(mean(1, "jobs.lost"), 0.0);
    assert_eq!(mean(1, "capacity_dip"), 1.0);
}

/// Shuffled same-instant ties give headline figures inside the unshuffled intervals.
#[test]
fn tie_order_does_not_move_before_or_after() {
    let list: Vec<_> = ["before", "after"]
        .iter()
        .map(|n| load_scenario(n).unwrap())
        .collect();
    let seeds = seed_list(1, 12);
    let plain = run_many(&list, &seeds, 2, false, &|| {}).unwrap();
    let shuffled = run_many(&list, &seeds, 2, true, &|| {}).unwrap();
    let mut outside = Vec::new();
    for (p, s) in plain.iter().zip(&shuffled) {
        let (pa, sa) = (p.aggregate(), s.aggregate());
        for f in HEADLINE {
            let (Some(interval), Some(x)) = (pa.stat(f), sa.stat(f)) else {
                continue;
            };
            if !interval.contains(x.mean) {
                outside.push(format!(
                    "{} {f}: shuffled mean {} outside [{}, {}]",
                    p.scenario, x.mean, interval.lo, interval.hi
                ));
            }
        }
    }
    assert!(outside.is_empty(), "{}", outside.join("\n"));
}
