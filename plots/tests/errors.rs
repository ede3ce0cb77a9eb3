//! Bad output paths and awkward inputs give named errors or empty-state charts, never a panic.

mod common;

use std::path::Path;

use common::*;
use plots::{Heatmap, PlotError, SIZE};

#[test]
fn an_unknown_extension_is_a_named_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chart.jpg");
    let err = plots::error_timeline(&timeline(), [3.0, 8.0], "t", &out).unwrap_err();
    match &err {
        PlotError::UnsupportedFormat { path, extension } => {
            assert_eq!(path, &out);
            assert_eq!(extension, "jpg");
        }
        other => panic!("expected UnsupportedFormat, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("chart.jpg") && message.contains(".svg or .png"),
        "{message}"
    );
    assert!(!out.exists());
    for (path, ok) in [
        ("x.SVG", true),
        ("x.Png", true),
        ("x", true),
        ("x.pdf", false),
    ] {
        assert_eq!(
            plots::Format::from_path(Path::new(path)).is_ok(),
            ok,
            "{path}"
        );
    }
}

#[test]
fn no_extension_writes_svg_and_upper_case_png_writes_png() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("chart");
    plots::reconnect_curve(&[1, 2, 3], [0.0, 0.02], &plain).unwrap();
    read_svg(&plain, plots::RECONNECT_TITLE);
    let upper = dir.path().join("chart.PNG");
    plots::reconnect_curve(&[1, 2, 3], [0.0, 0.02], &upper).unwrap();
    read_png(&upper, SIZE);
}

#[test]
fn an_unwritable_path_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("missing-folder").join("chart.svg");
    let err = plots::reconnect_curve(&[1, 2], [0.0, 0.01], &out).unwrap_err();
    assert!(
        matches!(&err, PlotError::Io { path, .. } if path == &out),
        "{err:?}"
    );
    assert!(err.to_string().contains("missing-folder"));
}

#[test]
fn a_reversed_or_infinite_window_is_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chart.svg");
    for window in [[8.0, 3.0], [f64::NAN, 3.0], [0.0, f64::INFINITY]] {
        let err = plots::error_timeline(&timeline(), window, "t", &out).unwrap_err();
        assert!(
            matches!(err, PlotError::InvalidInput { .. }),
            "{window:?}: {err:?}"
        );
        let err = plots::p99_timeline(&timeline(), window, "t", &out).unwrap_err();
        assert!(matches!(err, PlotError::InvalidInput { .. }));
        let err = plots::reconnect_curve(&[1], window, &out).unwrap_err();
        assert!(matches!(err, PlotError::InvalidInput { .. }));
    }
    assert!(!out.exists());
}

#[test]
fn a_heatmap_of_the_wrong_shape_is_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep.png");
    let grid = Heatmap {
        title: "bad".into(),
        x_values: vec!["a".into(), "b".into()],
        y_values: vec!["1".into()],
        values: vec![vec![Some(1.0)]],
        ..Heatmap::default()
    };
    let err = plots::sweep_heatmap(&grid, &out).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, PlotError::InvalidInput { .. }));
    assert!(
        message.contains("sweep.png") && message.contains("row 0"),
        "{message}"
    );
    let rows_missing = Heatmap {
        values: vec![],
        ..grid
    };
    assert!(matches!(
        plots::sweep_heatmap(&rows_missing, &out),
        Err(PlotError::InvalidInput { .. })
    ));
}

#[test]
fn empty_inputs_give_empty_state_charts() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["svg", "png"] {
        let p = |name: &str| dir.path().join(format!("{name}.{ext}"));
        plots::error_timeline(&[], [0.0, 1.0], "Empty errors", p("errors")).unwrap();
        plots::p99_timeline(&[], [0.0, 1.0], "Empty p99", p("p99")).unwrap();
        plots::before_after_bars(&[], measure::Figure::ErrorRate, p("bars")).unwrap();
        plots::sweep_heatmap(
            &Heatmap {
                title: "Empty sweep".into(),
                ..Heatmap::default()
            },
            p("sweep"),
        )
        .unwrap();
        plots::reconnect_curve_titled(&[], [0.0, 1.0], "Empty reconnects", p("reconnect")).unwrap();
        plots::predicted_vs_observed(&[], p("pvo")).unwrap();
    }
    for (name, title) in [
        ("errors", "Empty errors"),
        ("p99", "Empty p99"),
        ("bars", "Error rate in the deploy window by scenario"),
        ("sweep", "Empty sweep"),
        ("reconnect", "Empty reconnects"),
        ("pvo", "Predicted vs observed"),
    ] {
        let text = read_svg(&dir.path().join(format!("{name}.svg")), title);
        assert!(text.contains("no data: "), "{name} says nothing is there");
        read_png(&dir.path().join(format!("{name}.png")), SIZE);
    }
}

#[test]
fn missing_figures_and_non_finite_values_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    // No row has the figure: empty state naming it.
    let rows = vec![aggregate("before", None), aggregate("after", None)];
    let path = dir.path().join("bars.svg");
    plots::before_after_bars(&rows, measure::Figure::JobsLost, &path).unwrap();
    assert!(read_svg(&path, "Lost jobs").contains("no scenario has the figure"));

    // NaN latencies and times are skipped; all-NaN latencies give the empty state.
    let mut buckets = timeline();
    for b in &mut buckets {
        b.p50_ms = Some(f64::NAN);
        b.p99_ms = Some(f64::INFINITY);
    }
    buckets[2].t_s = f64::NAN;
    let path = dir.path().join("p99.png");
    plots::p99_timeline(&buckets, [3.0, 8.0], "NaN p99", &path).unwrap();
    read_png(&path, SIZE);
    plots::error_timeline(&buckets, [3.0, 8.0], "NaN time", dir.path().join("e.png")).unwrap();

    // A prediction of NaN, observations of NaN and infinity.
    let rows = vec![
        comparison(
            "before",
            "error_rate",
            (f64::NAN, 0.0, 1.0),
            &[f64::NAN, 0.5],
        ),
        comparison("after", "error_rate", (0.0, 0.0, 0.0), &[f64::INFINITY]),
    ];
    let path = dir.path().join("pvo.svg");
    plots::predicted_vs_observed(&rows, &path).unwrap();
    let text = read_svg(&path, "0 of 1 observations inside");
    assert!(text.contains("no prediction"));
    assert_eq!(
        rows[0].inside() + rows[1].inside(),
        0,
        "a NaN prediction contains nothing"
    );
}
