//! Renders every chart from hand-built results into a folder, as SVG and PNG, to look at.
//!
//! `cargo run -p plots --example samples -- /tmp/plots-samples`

use std::path::PathBuf;

use measure::{Aggregate, Bucket, OutcomeCounts, Stat};
use serde_json::json;

fn bucket(t: f64, ok: u64, refused: u64, reset: u64, http_502: u64, ready: u32) -> Bucket {
    let counts = OutcomeCounts {
        sent: ok + refused + reset + http_502,
        ok,
        refused,
        reset,
        http_502,
        ..OutcomeCounts::default()
    };
    let busy = (refused + reset + http_502) as f64;
    Bucket {
        t_s: t,
        counts,
        completed: counts.sent,
        p50_ms: Some(100.0 + busy * 0.5),
        p99_ms: Some(130.0 + busy * 12.0),
        ready_endpoints: Some(ready),
        new_connections: 10 + refused,
    }
}

/// A before-like run: 60 s, rollout from 20 s to 40 s, three pods replaced one by one.
fn before_timeline() -> Vec<Bucket> {
    (0..60)
        .map(|i| {
            let t = i as f64;
            let (refused, reset, b502) = match i {
                21..=23 | 28..=30 | 35..=37 => (30 - (i % 7) * 3, 8, 2),
                24 | 31 | 38 => (0, 14, 0),
                _ => (0, 0, 0),
            };
            let ready = match i {
                20..=25 => 2,
                27..=32 => 2,
                34..=39 => 2,
                _ => 3,
            };
            bucket(t, 200 - refused - reset - b502, refused, reset, b502, ready)
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/plots-samples".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let window = [20.0, 45.0];
    let before = before_timeline();
    for ext in ["svg", "png"] {
        plots::error_timeline(
            &before,
            window,
            "Error timeline: before",
            dir.join(format!("error_timeline.{ext}")),
        )?;
    }
    let mut spiky = before.clone();
    spiky[30].p99_ms = Some(5_000.0);
    spiky[31].p50_ms = None;
    spiky[31].p99_ms = None;
    let after: Vec<Bucket> = (0..60)
        .map(|i| {
            bucket(
                i as f64,
                200,
                0,
                0,
                0,
                if (20..45).contains(&i) { 4 } else { 3 },
            )
        })
        .collect();
    for ext in ["svg", "png"] {
        plots::p99_timeline(
            &before,
            window,
            "p99 per bucket: before",
            dir.join(format!("p99_timeline.{ext}")),
        )?;
        plots::p99_timeline(
            &spiky,
            window,
            "p99 per bucket: before, one timeout",
            dir.join(format!("p99_timeline_log.{ext}")),
        )?;
        plots::error_timeline(
            &after,
            window,
            "Error timeline: after",
            dir.join(format!("error_timeline_after.{ext}")),
        )?;
    }
    // A reconnect storm: 200 keep-alive connections closed at once at 25 s, then jittered at 32 s.
    let mut reconnects = vec![0u64; 6000];
    for (i, r) in reconnects.iter_mut().enumerate() {
        *r = u64::from(i % 50 == 0);
    }
    for k in 0..5 {
        reconnects[2500 + k] += [120, 50, 20, 8, 2][k];
    }
    for k in 0..200 {
        reconnects[3200 + k] += u64::from(k % 2 == 0);
    }
    for ext in ["svg", "png"] {
        plots::reconnect_curve(
            &reconnects,
            window,
            dir.join(format!("reconnect_curve.{ext}")),
        )?;
    }
    let agg = |scenario: &str, mean: f64, lo: f64, hi: f64| {
        (
            scenario.to_string(),
            Aggregate(json!({
                "scenario": scenario,
                "seeds": 100,
                "requests": {"refused": {"mean": mean, "lo": lo, "hi": hi}},
                "error_rate": {"mean": mean / 60000.0, "lo": lo / 60000.0, "hi": hi / 60000.0},
            })),
        )
    };
    let rows = vec![
        agg("before", 240.0, 180.0, 310.0),
        agg("after", 0.0, 0.0, 0.0),
        agg("pid1", 200.0, 150.0, 260.0),
        agg("readiness-prestop", 12.0, 2.0, 30.0),
        agg("drain", 150.0, 120.0, 190.0),
        agg("requeue-idempotency", 240.0, 180.0, 310.0),
        agg("surge-jitter", 90.0, 60.0, 130.0),
    ];
    for ext in ["svg", "png"] {
        plots::before_after_bars(
            &rows,
            measure::Figure::Refused,
            dir.join(format!("bars_refused.{ext}")),
        )?;
        let mut many = rows.clone();
        for extra in [
            "pid1-off",
            "readiness-prestop-off",
            "drain-off",
            "requeue-idempotency-off",
            "surge-jitter-off",
        ] {
            many.push(agg(extra, 100.0, 50.0, 150.0));
        }
        many.push(("missing".into(), Aggregate(json!({"seeds": 100}))));
        plots::before_after_bars(
            &many,
            measure::Figure::Refused,
            dir.join(format!("bars_many.{ext}")),
        )?;
        plots::before_after_bars(
            &rows[..3],
            measure::Figure::ErrorRate,
            dir.join(format!("bars_error_rate.{ext}")),
        )?;
    }
    // prestop 0..20 s against drain timeout 0..30 s: loss falls to zero once both cover the lag.
    let xs: Vec<u32> = (0..=20).step_by(2).collect();
    let ys: Vec<u32> = (0..=30).step_by(5).collect();
    let values = ys
        .iter()
        .map(|&d| {
            xs.iter()
                .map(|&p| {
                    if p == 6 && d == 15 {
                        return None;
                    }
                    let loss = (8.0 - p as f64).max(0.0) * 30.0 + (10.0 - d as f64).max(0.0) * 4.0;
                    Some(loss)
                })
                .collect()
        })
        .collect();
    let grid = plots::Heatmap {
        title: "Sweep: failed requests by preStop and drain timeout".into(),
        x_label: "lifecycle.prestop (s)".into(),
        y_label: "drain.timeout (s)".into(),
        x_values: xs.iter().map(|x| x.to_string()).collect(),
        y_values: ys.iter().map(|y| y.to_string()).collect(),
        values,
        value_label: "failed requests (mean over seeds)".into(),
    };
    for ext in ["svg", "png"] {
        plots::sweep_heatmap(&grid, dir.join(format!("sweep_heatmap.{ext}")))?;
    }
    let po = |scenario: &str, figure: &str, mean: f64, lo: f64, hi: f64, observed: &[f64]| {
        plots::PredictedObserved {
            scenario: scenario.into(),
            figure: figure.into(),
            predicted: Stat { mean, lo, hi },
            observed: observed.to_vec(),
        }
    };
    let comparisons = vec![
        po(
            "before",
            "error_rate",
            0.004,
            0.003,
            0.0052,
            &[0.0041, 0.0047, 0.0039],
        ),
        po("after", "error_rate", 0.0, 0.0, 0.0, &[0.0, 0.0, 0.0001]),
        po("pid1", "error_rate", 0.0033, 0.0025, 0.0043, &[0.0031]),
        po(
            "before",
            "requests.refused",
            240.0,
            180.0,
            310.0,
            &[251.0, 270.0, 330.0],
        ),
        po("after", "requests.refused", 0.0, 0.0, 0.0, &[0.0, 0.0, 0.0]),
        po("pid1", "requests.refused", 200.0, 150.0, 260.0, &[]),
        po(
            "before",
            "latency_ms.window.p99",
            900.0,
            700.0,
            1200.0,
            &[980.0, 1010.0],
        ),
        po(
            "after",
            "latency_ms.window.p99",
            140.0,
            130.0,
            160.0,
            &[150.0, 171.0],
        ),
        po("before", "jobs.duplicated", 3.0, 1.0, 6.0, &[4.0, 2.0, 3.0]),
        po("after", "jobs.duplicated", 0.0, 0.0, 0.0, &[0.0, 0.0, 0.0]),
        po(
            "readiness-prestop",
            "jobs.duplicated",
            3.0,
            1.0,
            6.0,
            &[4.0],
        ),
    ];
    for ext in ["svg", "png"] {
        plots::predicted_vs_observed(
            &comparisons,
            dir.join(format!("predicted_vs_observed.{ext}")),
        )?;
    }
    // A long run (5 minutes) and an empty one.
    let long: Vec<Bucket> = (0..300)
        .map(|i| {
            let refused = if (120..150).contains(&i) && i % 4 == 0 {
                25
            } else {
                0
            };
            let ready = if (118..160).contains(&i) { 9 } else { 10 };
            bucket(
                i as f64,
                1000 - refused,
                refused,
                (i % 7 == 0 && refused > 0) as u64 * 5,
                0,
                ready,
            )
        })
        .collect();
    for ext in ["svg", "png"] {
        plots::error_timeline(
            &long,
            [118.0, 165.0],
            "Error timeline: 5 minutes, 10 replicas",
            dir.join(format!("error_timeline_long.{ext}")),
        )?;
        plots::p99_timeline(
            &long,
            [118.0, 165.0],
            "p99: 5 minutes, 10 replicas",
            dir.join(format!("p99_timeline_long.{ext}")),
        )?;
        plots::error_timeline(
            &[],
            [0.0, 0.0],
            "Error timeline: no run",
            dir.join(format!("empty.{ext}")),
        )?;
    }
    println!("wrote samples to {}", dir.display());
    Ok(())
}
