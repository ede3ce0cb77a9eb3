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

/// A record file of `n` requests spread over 100 s (10 s baseline, a 20 s rollout from 40 s),
/// 200 distinct latencies from 1 to 51 ms (so the timeline's per-bucket counts of latency values
/// are the same size whatever `n`): the shape of a live run at a high rate.
fn big_records(path: &Path, n: u64) {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let s = 1_000_000_000i64;
    writeln!(w, r#"{{"t":"h","schema":"fleetsim.records/1","origin_epoch_ns":1795585866621612943,"generator":"test","target":"http://127.0.0.1:1/work","mode":"keepalive","clients":4,"arrivals":"constant","seed":1,"rate":50.0,"shard":"0/1","fault_threshold_ns":10000000,"timeout_ns":5000000000,"label":"big","sse_streams":0}}"#).unwrap();
    writeln!(
        w,
        r#"{{"t":"m","at":0,"name":"load_start","src":"generator"}}"#
    )
    .unwrap();
    writeln!(
        w,
        r#"{{"t":"m","at":{},"name":"rollout_start","src":"flag"}}"#,
        40 * s
    )
    .unwrap();
    writeln!(
        w,
        r#"{{"t":"m","at":{},"name":"rollout_end","src":"flag"}}"#,
        60 * s
    )
    .unwrap();
    let gap = 100 * s / n as i64;
    for i in 0..n {
        let is = i as i64 * gap;
        let e = is + 1_000_000 + (i as i64 * 7919) % 200 * 250_000;
        let o = if i % 997 == 0 { "reset" } else { "ok" };
        writeln!(
            w,
            r#"{{"t":"r","i":{i},"is":{is},"as":{is},"e":{e},"c":{},"ru":{},"st":200,"o":"{o}"}}"#,
            i % 64,
            i >= 64
        )
        .unwrap();
    }
    writeln!(
        w,
        r#"{{"t":"m","at":{},"name":"load_end","src":"generator"}}"#,
        100 * s
    )
    .unwrap();
    writeln!(w, r#"{{"t":"f","at":{},"scheduled":{n},"sent":{n},"recorded":{n},"generator_faults":0,"lag_p50_ns":0,"lag_p99_ns":0,"lag_p999_ns":0,"lag_max_ns":0,"valid":true,"stopped_early":false}}"#, 100 * s).unwrap();
}

/// Runs `fleetsim analyze FILE` as a process; its peak resident memory, bytes.
#[allow(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4 below, which also reads its resource usage"
)]
fn analyze_peak_rss(records: &Path, out: &Path) -> u64 {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(["analyze", p(records), "--out-dir", p(out)])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(out.with_extension("stderr")).unwrap())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, with valid pointers to locals.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "analyze failed: {status}: {}",
        std::fs::read_to_string(out.with_extension("stderr")).unwrap_or_default()
    );
    usage.ru_maxrss as u64 * 1024
}

/// Issue 13: a 1.1 GB records file needed 2.4 GB of memory. The analyzer reads in passes: eight
/// times the requests over the same run (a file eight times the size) cost it less than a tenth
/// of the extra bytes. (What memory does follow: the run's length over the bucket widths, and
/// how many distinct latency values each timeline bucket sees, at most about a thousand per
/// doubling of latency.)
#[test]
fn analyze_memory_does_not_follow_the_file_size() {
    let d = tempfile::tempdir().unwrap();
    let (small, big) = (d.path().join("small.ndjson"), d.path().join("big.ndjson"));
    big_records(&small, 50_000);
    big_records(&big, 400_000);
    let size = |f: &Path| std::fs::metadata(f).unwrap().len();
    let rss_small = analyze_peak_rss(&small, &d.path().join("a-small"));
    let rss_big = analyze_peak_rss(&big, &d.path().join("a-big"));
    let grown = rss_big.saturating_sub(rss_small);
    let file_grown = size(&big) - size(&small);
    assert!(
        grown < file_grown / 10,
        "peak memory {rss_small} -> {rss_big} bytes for a file {} -> {} bytes",
        size(&small),
        size(&big)
    );
    // Same run shape, same figures (requests scale, the window's reset share does not).
    let summary = |dir: &str| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(d.path().join(dir).join("summary.json")).unwrap(),
        )
        .unwrap()
    };
    let (s, b) = (summary("a-small"), summary("a-big"));
    assert_eq!(b["live"]["valid"], true);
    assert_eq!(
        b["requests"]["sent"].as_u64().unwrap(),
        8 * s["requests"]["sent"].as_u64().unwrap()
    );
}
