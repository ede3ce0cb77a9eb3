//! Issue 13 through the CLI: sweeps naming no field, summaries without their fields, outputs
//! replaced whole.

use std::path::Path;

use crate::{fleetsim, p};

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// The issue's `sweep after --vary nosuch.field=1..3/1` exited 0 with every point invalid.
#[test]
fn a_sweep_over_no_field_is_an_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("sw");
    for (vary, words) in [
        (
            "nosuch.field=1..3/1",
            "--vary nosuch.field: nosuch: unknown field `nosuch`",
        ),
        (
            "pod.replicaz=1..3/1",
            "--vary pod.replicaz: pod.replicaz: unknown field `replicaz`",
        ),
    ] {
        let e = fleetsim(&[
            "sweep",
            "after",
            "--vary",
            vary,
            "--seeds",
            "1",
            "--no-progress",
            "--out",
            p(&out),
        ])
        .unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains(words), "{e}");
        assert!(!out.exists(), "nothing written");
    }
    // Every point invalid (but the field exists): an error too, with the first point's reason.
    let e = fleetsim(&[
        "sweep",
        "after",
        "--vary",
        "pod.replicas=0,0",
        "--seeds",
        "1",
        "--no-progress",
        "--out",
        p(&out),
    ])
    .unwrap_err();
    let e = format!("{e:#}");
    assert!(
        e.contains("every point of the sweep is invalid") && e.contains("pod.replicas"),
        "{e}"
    );
}

/// `compare` rejected nothing: `{}` came out as a column of dashes.
#[test]
fn compare_refuses_a_summary_without_its_fields() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("empty.json");
    std::fs::write(&f, "{}").unwrap();
    let e = format!("{:#}", fleetsim(&["compare", p(&f)]).unwrap_err());
    assert!(
        e.contains("empty.json: not a summary: missing schema, error_rate, failed,")
            && e.contains("jobs.lost"),
        "{e}"
    );
    std::fs::write(&f, r#"{"schema":"fleetsim.summary/1","error_rate":0}"#).unwrap();
    let e = format!("{:#}", fleetsim(&["compare", p(&f)]).unwrap_err());
    assert!(
        e.contains("missing failed,") && !e.contains("schema"),
        "{e}"
    );
}

/// Re-running into the same `--out` with fewer seeds leaves no seed file of the first run, and
/// a run that fails leaves the earlier output whole.
#[test]
fn outputs_are_replaced_whole() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    fleetsim(&["run", "before", "--seeds", "3", "--out", p(&out)]).unwrap();
    assert_eq!(names(&out.join("seeds")).len(), 3);
    fleetsim(&["run", "before", "--seeds", "1", "--out", p(&out)]).unwrap();
    assert_eq!(names(&out.join("seeds")), ["1.json"]);
    let before = std::fs::read(out.join("summary.json")).unwrap();
    // A failing analysis into the same folder changes nothing there.
    let bad = d.path().join("bad.ndjson");
    std::fs::write(&bad, "not a record\n").unwrap();
    assert!(fleetsim(&["analyze", p(&bad), "--out-dir", p(&out)]).is_err());
    assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), before);
    assert_eq!(
        names(d.path()),
        ["bad.ndjson", "run"],
        "no temporary folder left"
    );
    // A folder holding someone else's files is not replaced.
    let mine = d.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep").unwrap();
    let e = format!(
        "{:#}",
        fleetsim(&["run", "before", "--seeds", "1", "--out", p(&mine)]).unwrap_err()
    );
    assert!(e.contains("holds none of fleetsim's outputs"), "{e}");
    assert_eq!(names(&mine), ["notes.txt"]);
}

/// `fleetsim analyze --bucket 0s` aborted; `1ms` took 1.7 GB.
#[test]
fn analyze_bucket_widths_are_bounded() {
    let d = tempfile::tempdir().unwrap();
    let e = format!(
        "{:#}",
        fleetsim(&[
            "analyze",
            "/dev/zero",
            "--bucket",
            "0s",
            "--out-dir",
            p(&d.path().join("a"))
        ])
        .unwrap_err()
    );
    assert!(e.contains("/dev/zero: line 1: longer than"), "{e}");
}
