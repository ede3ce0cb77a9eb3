//! The charts take what `measure::analyze` returns as it is: timeline, window and reconnects.

mod common;

use common::*;
use measure::{
    AnalyzeConfig, EndpointSeries, JobCounts, Outcome, RunLabel, RunMarks, Sample, Source, analyze,
};
use plots::SIZE;

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

/// 100 requests a second for 30 s; a rollout from 10 s to 20 s; requests meant for 12.0-12.5 s
/// refused; every tenth request opens a connection, and a burst of 50 reconnects at 15 s.
fn run() -> measure::Analysis {
    let mut samples: Vec<Sample> = (0..3_000u64)
        .map(|i| {
            let t = i * 10 * MS;
            let refused = (12 * S..12 * S + 500 * MS).contains(&t);
            Sample {
                intended_ns: t,
                start_ns: t,
                end_ns: t + if refused { MS } else { 100 * MS },
                outcome: if refused {
                    Outcome::Refused
                } else {
                    Outcome::Ok
                },
                new_conn: i % 10 == 0,
            }
        })
        .collect();
    samples.extend((0..50).map(|k| Sample {
        intended_ns: 15 * S + k * 100_000,
        start_ns: 15 * S + k * 100_000,
        end_ns: 15 * S + 200 * MS,
        outcome: Outcome::Ok,
        new_conn: true,
    }));
    let marks = RunMarks {
        load_start_ns: 0,
        rollout_start_ns: 10 * S,
        rollout_end_ns: 20 * S,
        load_end_ns: 30 * S,
    };
    let endpoints = EndpointSeries {
        desired: 3,
        points: vec![(0, 3), (12 * S, 2), (14 * S, 3)],
    };
    let label = RunLabel {
        source: Source::Sim,
        scenario: "before".into(),
        seed: Some(1),
    };
    analyze(
        &samples,
        &marks,
        Some(&endpoints),
        JobCounts::default(),
        &label,
        &AnalyzeConfig::default(),
    )
}

#[test]
fn an_analysis_feeds_the_timeline_charts() {
    let a = run();
    assert_eq!(a.summary.requests.refused, 50);
    let dir = tempfile::tempdir().unwrap();
    let window = a.summary.window_s;

    let errors = dir.path().join("errors.svg");
    plots::error_timeline(&a.timeline, window, "Errors: before, seed 1", &errors).unwrap();
    let svg = read_svg(&errors, "Errors: before, seed 1");
    assert_eq!(
        count(&svg, "rect", "fill", REFUSED),
        1 + 1,
        "one bucket refused"
    );
    assert!(svg.contains("refused (50)"));
    assert!(
        svg.contains("deploy window 10–25 s"),
        "the window includes the 5 s tail"
    );
    assert_eq!(count(&svg, "polyline", "stroke", READY), 1 + 1);

    let p99 = dir.path().join("p99.png");
    plots::p99_timeline(&a.timeline, window, "p99: before, seed 1", &p99).unwrap();
    read_png(&p99, SIZE);

    let reconnects = dir.path().join("reconnects.svg");
    plots::reconnect_curve(&a.reconnects, window, &reconnects).unwrap();
    let svg = read_svg(&reconnects, plots::RECONNECT_TITLE);
    // The 50 of the burst and the regular request at 15 s share one 10 ms bucket.
    assert!(svg.contains("peak 51 at 15 s"), "the burst is the peak");
}
