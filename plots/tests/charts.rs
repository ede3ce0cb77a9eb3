//! Every chart renders to SVG and PNG from small hand-built results, and shows what it should.

mod common;

use common::*;
use plots::{Heatmap, SIZE};

#[test]
fn error_timeline_stacks_each_failure_class_and_draws_ready_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let buckets = timeline();
    let svg_path = dir.path().join("errors.svg");
    plots::error_timeline(&buckets, [3.0, 8.0], "Errors: before", &svg_path).unwrap();
    let svg = read_svg(&svg_path, "Errors: before");
    // A bar segment per bucket with the class, plus the legend swatch.
    assert_eq!(count(&svg, "rect", "fill", REFUSED), 3 + 1);
    assert_eq!(count(&svg, "rect", "fill", RESET), 2 + 1);
    // A class that never occurs is neither drawn nor in the legend.
    assert_eq!(count(&svg, "rect", "fill", HTTP_502), 0);
    assert!(svg.contains("refused (30)") && svg.contains("reset (8)"));
    assert!(!svg.contains("http_502"));
    // One step line for the ready endpoints, plus the legend line; the secondary axis is named.
    assert_eq!(count(&svg, "polyline", "stroke", READY), 1 + 1);
    assert!(svg.contains("ready endpoints"));
    assert!(svg.contains("deploy window 3–8 s"));

    let png_path = dir.path().join("errors.png");
    plots::error_timeline(&buckets, [3.0, 8.0], "Errors: before", &png_path).unwrap();
    let image = read_png(&png_path, SIZE);
    assert!(image.count(rgb(REFUSED)) > 500, "refused bars are visible");
    assert!(image.count(rgb(READY)) > 200, "the ready line is visible");
}

#[test]
fn error_timeline_without_failures_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let buckets: Vec<_> = (0..5).map(|i| bucket(f64::from(i), 0, 0, None)).collect();
    let path = dir.path().join("after.svg");
    plots::error_timeline(&buckets, [1.0, 3.0], "Errors: after", &path).unwrap();
    let svg = read_svg(&path, "Errors: after");
    assert!(svg.contains("no failed requests"));
    assert_eq!(count(&svg, "rect", "fill", REFUSED), 0);
    // No ready endpoints given: no line, no secondary axis.
    assert!(!svg.contains("ready endpoints"));
}

#[test]
fn p99_timeline_breaks_lines_at_gaps_and_goes_logarithmic_for_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let mut buckets = timeline();
    buckets[4].p99_ms = None;
    buckets[4].p50_ms = None;
    let path = dir.path().join("p99.svg");
    plots::p99_timeline(&buckets, [3.0, 8.0], "p99: before", &path).unwrap();
    let svg = read_svg(&path, "p99: before");
    // p99 in red, p50 in blue: two runs around the gap, plus the legend line each.
    assert_eq!(count(&svg, "polyline", "stroke", REFUSED), 2 + 1);
    assert_eq!(count(&svg, "polyline", "stroke", P50), 2 + 1);
    assert!(!svg.contains("logarithmic"));
    assert!(svg.contains("latency per bucket (ms)"));

    buckets[6].p99_ms = Some(30_000.0);
    let log_path = dir.path().join("p99-log.png");
    plots::p99_timeline(&buckets, [3.0, 8.0], "p99: timeout", &log_path).unwrap();
    read_png(&log_path, SIZE);
    let log_svg_path = dir.path().join("p99-log.svg");
    plots::p99_timeline(&buckets, [3.0, 8.0], "p99: timeout", &log_svg_path).unwrap();
    let log_svg = read_svg(&log_svg_path, "p99: timeout");
    assert!(log_svg.contains("logarithmic axis"));
    assert!(log_svg.contains("highest p99 30000 ms at 6 s"));
}

#[test]
fn before_after_bars_draw_a_bar_and_whisker_per_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let rows = vec![
        aggregate("before", Some((240.0, 180.0, 310.0))),
        aggregate("after", Some((0.0, 0.0, 0.0))),
        aggregate("drain", Some((120.0, 90.0, 150.0))),
        aggregate("pid1", Some((200.0, 150.0, 260.0))),
        aggregate("surge-jitter", None),
    ];
    let path = dir.path().join("bars.svg");
    plots::before_after_bars(&rows, measure::Figure::Refused, &path).unwrap();
    let svg = read_svg(&path, "Refused requests in the deploy window by scenario");
    assert_eq!(count(&svg, "rect", "fill", REFUSED), 1, "before is red");
    assert_eq!(count(&svg, "rect", "fill", READY), 1, "after is green");
    assert_eq!(count(&svg, "rect", "fill", P50), 2, "each lever is blue");
    assert!(
        svg.contains("\nn/a\n"),
        "the row without the figure says n/a"
    );
    for label in ["240", "120", "before", "surge-jitter", "mean over 20 seeds"] {
        assert!(svg.contains(label), "missing {label:?}");
    }

    let png_path = dir.path().join("bars.png");
    plots::before_after_bars(&rows, measure::Figure::Refused, &png_path).unwrap();
    let image = read_png(&png_path, SIZE);
    assert!(
        image.count(rgb(P50)) == 0,
        "bars are drawn translucent, not pure blue"
    );
}

#[test]
fn before_after_bars_turn_long_labels_and_format_rates_as_percent() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<_> = (0..14)
        .map(|i| {
            let mut row = aggregate(&format!("requeue-idempotency-off-{i}"), None);
            row.1.0["error_rate"] = serde_json::json!({"mean": 0.0025, "lo": 0.001, "hi": 0.004});
            row
        })
        .collect();
    let path = dir.path().join("rates.svg");
    plots::before_after_bars(&rows, measure::Figure::ErrorRate, &path).unwrap();
    let svg = read_svg(&path, "Error rate in the deploy window by scenario");
    assert!(svg.contains("0.25%"));
    assert!(svg.contains("rotate(270"), "long labels are turned");
    assert!(svg.contains("requeue-idempotency-off-13"));
    let png_path = dir.path().join("rates.png");
    plots::before_after_bars(&rows, measure::Figure::ErrorRate, &png_path).unwrap();
    read_png(&png_path, SIZE);
}

#[test]
fn sweep_heatmap_colours_each_point_and_greys_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let grid = Heatmap {
        title: "Sweep: refused".into(),
        x_label: "lifecycle.prestop (s)".into(),
        y_label: "drain.timeout (s)".into(),
        x_values: vec!["0".into(), "5".into(), "10".into()],
        y_values: vec!["0".into(), "30".into()],
        values: vec![
            vec![Some(300.0), Some(120.0), Some(0.0)],
            vec![Some(250.0), None, Some(f64::NAN)],
        ],
        value_label: "refused requests".into(),
    };
    let path = dir.path().join("sweep.svg");
    plots::sweep_heatmap(&grid, &path).unwrap();
    let svg = read_svg(&path, "Sweep: refused");
    // Two cells without a value (None and NaN), plus the legend swatch.
    assert_eq!(count(&svg, "rect", "fill", NO_VALUE), 2 + 1);
    // The extremes take the ends of the scale: dark purple for 0, yellow for 300 (the colour
    // bar samples the middle of each of its steps, so never the exact ends).
    assert_eq!(count(&svg, "rect", "fill", "#440154"), 1);
    assert_eq!(count(&svg, "rect", "fill", "#FDE725"), 1);
    for label in [
        "300",
        "120",
        "lifecycle.prestop (s)",
        "drain.timeout (s)",
        "refused requests",
    ] {
        assert!(svg.contains(label), "missing {label:?}");
    }
    let png_path = dir.path().join("sweep.png");
    plots::sweep_heatmap(&grid, &png_path).unwrap();
    let image = read_png(&png_path, SIZE);
    assert!(
        image.count((253, 231, 37)) > 1_000,
        "the hottest cell is visible"
    );
}

#[test]
fn reconnect_curve_names_its_peak() {
    let dir = tempfile::tempdir().unwrap();
    let mut counts = vec![1u64; 300];
    counts[150] = 42;
    let path = dir.path().join("reconnect.svg");
    plots::reconnect_curve(&counts, [1.0, 2.5], &path).unwrap();
    let svg = read_svg(&path, plots::RECONNECT_TITLE);
    assert!(svg.contains("peak 42 at 1.5 s"), "{svg:.0}");
    assert!(svg.contains("new connections per 10 ms"));
    let titled = dir.path().join("reconnect.png");
    plots::reconnect_curve_titled(&counts, [1.0, 2.5], "Reconnects: before", &titled).unwrap();
    let image = read_png(&titled, SIZE);
    assert!(image.count(rgb(P50)) > 100, "the curve is visible");
}

#[test]
fn reconnect_curves_share_axes_and_name_each_peak_in_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let mut live = vec![1u64; 400];
    live[251] = 147;
    let mut predicted = vec![0u64; 350];
    predicted[250] = 695;
    predicted[10] = 900; // outside the range: not the peak named
    let curves = [
        plots::NamedCurve {
            name: "predicted",
            per_10ms: &predicted,
        },
        plots::NamedCurve {
            name: "live",
            per_10ms: &live,
        },
    ];
    let path = dir.path().join("curves.svg");
    plots::reconnect_curves(&curves, [2.0, 3.3], Some([2.0, 3.5]), "Storm", &path).unwrap();
    let svg = read_svg(&path, "Storm");
    assert!(
        svg.contains("predicted: peak 695 at 2.5 s, 695 in all"),
        "{svg:.0}"
    );
    assert!(svg.contains("live: peak 147 at 2.51 s"), "{svg:.0}");
    let png = dir.path().join("curves.png");
    plots::reconnect_curves(&curves, [2.0, 3.3], None, "Storm", &png).unwrap();
    read_png(&png, SIZE);
    let empty = dir.path().join("empty.svg");
    plots::reconnect_curves(&[], [2.0, 3.3], None, "Nothing", &empty).unwrap();
    assert!(
        plots::reconnect_curves(&curves, [2.0, 3.3], Some([4.0, 1.0]), "x", &empty).is_err(),
        "a reversed range is invalid input"
    );
}

#[test]
fn predicted_vs_observed_marks_points_inside_and_outside() {
    let dir = tempfile::tempdir().unwrap();
    let rows = vec![
        comparison(
            "before",
            "requests.refused",
            (240.0, 180.0, 310.0),
            &[250.0, 330.0],
        ),
        comparison("after", "requests.refused", (0.0, 0.0, 0.0), &[0.0]),
        comparison("before", "error_rate", (0.004, 0.003, 0.005), &[0.0041]),
        comparison("after", "error_rate", (0.0, 0.0, 0.0), &[]),
        comparison("before", "jobs.duplicated", (3.0, 1.0, 6.0), &[9.0, 2.0]),
    ];
    assert_eq!(rows[0].inside(), 1);
    let size = plots::predicted_vs_observed_size(&rows);
    assert_eq!(size.0, 1200);
    assert!(size.1 > 500, "three panels take two rows: {size:?}");

    let path = dir.path().join("pvo.svg");
    plots::predicted_vs_observed(&rows, &path).unwrap();
    let svg = read_svg(&path, "4 of 6 observations inside the interval");
    // A green dot per observation inside, plus the legend's.
    assert_eq!(count(&svg, "circle", "fill", READY), 4 + 1);
    // A red cross (two lines) per observation outside, plus the legend's.
    assert_eq!(count(&svg, "line", "stroke", REFUSED), 2 * (2 + 1));
    assert!(svg.contains("no observation"));
    assert!(svg.contains("refused requests in the deploy window: 2 of 3 inside"));

    let png_path = dir.path().join("pvo.png");
    plots::predicted_vs_observed(&rows, &png_path).unwrap();
    read_png(&png_path, size);
}

#[test]
fn charts_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let buckets = timeline();
    for name in ["a.svg", "b.svg", "a.png", "b.png"] {
        plots::error_timeline(&buckets, [3.0, 8.0], "same", dir.path().join(name)).unwrap();
    }
    let read = |n: &str| std::fs::read(dir.path().join(n)).unwrap();
    assert_eq!(read("a.svg"), read("b.svg"));
    assert_eq!(read("a.png"), read("b.png"));
}

#[test]
fn one_scenario_and_one_point_still_draw() {
    let dir = tempfile::tempdir().unwrap();
    let rows = vec![aggregate("before", Some((5.0, 4.0, 6.0)))];
    let bars = dir.path().join("one-bar.png");
    plots::before_after_bars(&rows, measure::Figure::Refused, &bars).unwrap();
    let image = read_png(&bars, SIZE);
    let reddish = image
        .rgb
        .chunks_exact(3)
        .filter(|p| p[0] > 200 && p[1] < 120 && p[2] < 120)
        .count();
    assert!(
        reddish > 10_000,
        "the single bar is drawn wide: {reddish} red pixels"
    );

    let grid = Heatmap {
        title: "One point".into(),
        x_values: vec!["1s".into()],
        y_values: vec!["2s".into()],
        values: vec![vec![Some(7.0)]],
        ..Heatmap::default()
    };
    let cell = dir.path().join("one-cell.svg");
    plots::sweep_heatmap(&grid, &cell).unwrap();
    let svg = read_svg(&cell, "One point");
    assert!(
        svg.contains("\n7\n"),
        "the single value is written in its cell"
    );

    let pvo = dir.path().join("one-figure.svg");
    plots::predicted_vs_observed(
        &[comparison("after", "jobs.lost", (0.0, 0.0, 0.0), &[0.0])],
        &pvo,
    )
    .unwrap();
    read_svg(&pvo, "1 of 1 observations inside");

    let one_bucket = dir.path().join("one-bucket.svg");
    plots::error_timeline(
        &[bucket(0.0, 3, 0, Some(1))],
        [0.0, 0.0],
        "One bucket",
        &one_bucket,
    )
    .unwrap();
    assert_eq!(
        count(
            &read_svg(&one_bucket, "One bucket"),
            "rect",
            "fill",
            REFUSED
        ),
        1 + 1
    );
}

#[test]
fn a_long_reconnect_curve_keeps_its_spikes_and_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    // An hour of 10 ms buckets, one spike.
    let mut counts = vec![2u64; 360_000];
    counts[200_001] = 90;
    let path = dir.path().join("hour.svg");
    plots::reconnect_curve(&counts, [1_800.0, 2_400.0], &path).unwrap();
    let svg = read_svg(&path, plots::RECONNECT_TITLE);
    assert!(svg.contains("peak 90 at 2000.01 s"));
    assert!(svg.contains("drawn as the peak of every 120 buckets"));
    assert!(svg.len() < 400_000, "{} bytes", svg.len());
    // The spike survives the grouping: the curve's edge reaches the height of 90 on an axis
    // that ends at 101 (the plot spans y = 78..634, so 90 sits near y = 139).
    let png_path = dir.path().join("hour.png");
    plots::reconnect_curve(&counts, [1_800.0, 2_400.0], &png_path).unwrap();
    let image = read_png(&png_path, SIZE);
    let edge_near_peak = (125..155)
        .flat_map(|y| (90..930).map(move |x| (x, y)))
        .filter(|&(x, y)| image.pixel(x, y) == rgb(P50))
        .count();
    assert!(edge_near_peak > 0, "the spike is drawn at its height");
}
