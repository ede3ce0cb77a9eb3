//! Issue 13, items 3 and 4: the analyzer against corrupt and hostile record files. Each gives a
//! clear error naming the file and line, or a result marked invalid with its reason; none
//! allocates from an untrusted number or reads without end.

use std::path::{Path, PathBuf};
use std::time::Duration;

use loadgen::{AnalyzePlan, analyze as run};

/// A fresh directory, removed at drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "loadgen-hostile-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const HEADER: &str = r#"{"t":"h","schema":"fleetsim.records/1","origin_epoch_ns":1795585866621612943,"generator":"test","target":"http://127.0.0.1:1/work","mode":"keepalive","clients":4,"arrivals":"constant","seed":1,"rate":50.0,"shard":"0/1","fault_threshold_ns":10000000,"timeout_ns":5000000000,"label":"hostile","sse_streams":0}"#;

/// `n` requests 20 ms apart, each 5 ms long, and the footer, as lines.
fn lines(n: u64) -> Vec<String> {
    let mut out = vec![
        HEADER.to_string(),
        r#"{"t":"m","at":0,"name":"load_start","src":"generator"}"#.to_string(),
    ];
    for i in 0..n {
        let is = 1_000_000 + i as i64 * 20_000_000;
        out.push(format!(
            r#"{{"t":"r","i":{i},"is":{is},"as":{is},"e":{},"c":1,"ru":true,"st":200,"o":"ok"}}"#,
            is + 5_000_000
        ));
    }
    let end = 1_000_000 + n as i64 * 20_000_000;
    out.push(format!(
        r#"{{"t":"m","at":{end},"name":"load_end","src":"generator"}}"#
    ));
    out.push(format!(
        r#"{{"t":"f","at":{end},"scheduled":{n},"sent":{n},"recorded":{n},"generator_faults":0,"lag_p50_ns":0,"lag_p99_ns":0,"lag_p999_ns":0,"lag_max_ns":0,"valid":true,"stopped_early":false}}"#
    ));
    out
}

fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

fn plan(dir: &Path, files: Vec<PathBuf>) -> AnalyzePlan {
    let mut p = AnalyzePlan::new(files);
    p.out_dir = dir.join("out");
    p
}

/// Replaces a field of request `i`'s line (line `i + 3`: header and load_start come first).
fn with(mut ls: Vec<String>, i: usize, from: &str, to: &str) -> Vec<String> {
    ls[i + 2] = ls[i + 2].replace(from, to);
    ls
}

#[test]
fn a_clean_file_is_valid() {
    let dir = TempDir::new();
    let f = write(dir.path(), "r.ndjson", &lines(200));
    let r = run(plan(dir.path(), vec![f])).unwrap();
    assert!(r.summary.live.valid, "{:?}", r.summary.live);
    assert_eq!(r.summary.live.requests_recorded, 200);
}

/// The issue's reproduction: the last 100 request lines deleted, the footer kept.
#[test]
fn lost_records_under_an_intact_footer_make_the_run_invalid_with_a_reason() {
    let dir = TempDir::new();
    let mut ls = lines(200);
    let footer = ls.split_off(ls.len() - 2);
    ls.truncate(ls.len() - 100);
    ls.extend(footer);
    let f = write(dir.path(), "cut.ndjson", &ls);
    let r = run(plan(dir.path(), vec![f])).unwrap();
    let live = &r.summary.live;
    assert!(!live.valid);
    assert_eq!(
        live.missing_indices, 0,
        "the cut is at the end: no gap shows it"
    );
    assert_eq!(live.footer_mismatches.len(), 1, "{live:?}");
    let why = &live.footer_mismatches[0];
    assert!(
        why.contains("cut.ndjson") && why.contains("says 200") && why.contains("100 request lines"),
        "{why}"
    );
    let json = std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap();
    assert!(json.contains("\"footer_mismatches\""), "{json}");
}

/// Records out of range are refused with the file and the line.
#[test]
fn out_of_range_records_are_refused_with_file_and_line() {
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            with(
                lines(50),
                7,
                r#""e":146000000"#,
                &format!(r#""e":{}"#, i64::MAX),
            ),
            "line 10: request 7: e = 9223372036854775807 ns is more than 86400 s after",
        ),
        (
            with(lines(50), 3, r#""e":66000000"#, r#""e":60000000"#),
            "line 6: request 3: ends (e = 60000000) before it starts (as = 61000000)",
        ),
        (
            with(
                lines(50),
                0,
                r#""is":1000000,"as":1000000"#,
                r#""is":-5,"as":1000000"#,
            ),
            "line 3: request 0: is = -5 is before the file's origin",
        ),
    ];
    for (ls, want) in cases {
        let dir = TempDir::new();
        let f = write(dir.path(), "bad.ndjson", &ls);
        let e = run(plan(dir.path(), vec![f])).unwrap_err().to_string();
        assert!(
            e.contains("bad.ndjson") && e.contains(want),
            "{e}\nwant {want}"
        );
        assert!(!dir.path().join("out/summary.json").exists());
    }
}

/// An index of 1e12 costs what any index does (the coverage check sorts, it does not allocate
/// a bitmap up to the largest index): the run is invalid, with the gap counted.
#[test]
fn a_huge_index_is_counted_not_allocated() {
    let dir = TempDir::new();
    let ls = with(lines(50), 49, r#""i":49"#, r#""i":1000000000000"#);
    let f = write(dir.path(), "i.ndjson", &ls);
    let r = run(plan(dir.path(), vec![f])).unwrap();
    assert!(!r.summary.live.valid);
    assert_eq!(r.summary.live.missing_indices, 1_000_000_000_000 + 1 - 50);
}

/// Two files whose origins are far apart are not shards of one run.
#[test]
fn far_apart_origins_are_refused() {
    let dir = TempDir::new();
    let a = write(dir.path(), "a.ndjson", &lines(20));
    let mut ls = lines(20);
    ls[0] = ls[0].replace("1795585866621612943", "2795585866621612943");
    let b = write(dir.path(), "b.ndjson", &ls);
    let e = run(plan(dir.path(), vec![a, b])).unwrap_err().to_string();
    assert!(
        e.contains("b.ndjson") && e.contains("not shards of one run"),
        "{e}"
    );
}

/// `/dev/zero` (no newline, ever) ends with an error after one line's worth of bytes.
#[test]
fn an_endless_line_ends_with_an_error() {
    let dir = TempDir::new();
    let e = run(plan(dir.path(), vec![PathBuf::from("/dev/zero")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/dev/zero") && e.contains("line 1: longer than"),
        "{e}"
    );
}

/// An unparsable line is forgiven only as the last (a killed generator's torn write).
#[test]
fn an_unparsable_line_is_an_error_unless_it_is_the_last() {
    let dir = TempDir::new();
    let mut ls = lines(20);
    ls.insert(5, "{\"t\":\"r\",\"i\":".to_string());
    let f = write(dir.path(), "mid.ndjson", &ls);
    let e = run(plan(dir.path(), vec![f])).unwrap_err().to_string();
    assert!(e.contains("mid.ndjson: line 6: unparsable record"), "{e}");
    let mut ls = lines(20);
    ls.push("{\"t\":\"r\",\"i\":".to_string());
    let f = write(dir.path(), "torn.ndjson", &ls);
    run(plan(dir.path(), vec![f])).expect("a torn last line is skipped");
}

/// `--bucket 0s` and `1us` are refused; `1ms` is refused over a run long enough to make more
/// buckets than the limit, with the flag named.
#[test]
fn bucket_widths_are_bounded() {
    let dir = TempDir::new();
    let f = write(dir.path(), "r.ndjson", &lines(50));
    for (width, want) in [
        (Duration::ZERO, "--bucket: 0ns is below the limit 1ms"),
        (
            Duration::from_micros(1),
            "--bucket: 1µs is below the limit 1ms",
        ),
    ] {
        let mut p = plan(dir.path(), vec![f.clone()]);
        p.bucket = width;
        let e = run(p).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
    // 50 requests 20 ms apart: 1 s, 1001 one-ms buckets: fine.
    let mut p = plan(dir.path(), vec![f]);
    p.bucket = Duration::from_millis(1);
    run(p).unwrap();
    // 12,000 requests over 240 s: 240,000 one-ms buckets, above 200,000.
    let long = write(dir.path(), "long.ndjson", &lines(12_000));
    let mut p = plan(dir.path(), vec![long]);
    p.bucket = Duration::from_millis(1);
    let e = run(p).unwrap_err().to_string();
    assert!(
        e.contains("--bucket") && e.contains("above the limit 200000"),
        "{e}"
    );
}

/// Retry lines (`--shed-retries`) are checked as request lines are: a clean one is counted in
/// `live.retries`; times out of order or an attempt 0 are refused with the file and line; a
/// footer whose retry count differs from the lines read makes the run invalid with its reason.
#[test]
fn retry_lines_are_checked_like_request_lines() {
    // Request 0 shed (ends at 6 ms), retried once a second later and served; the footer counts
    // the retry.
    let mut ls = lines(10);
    ls[0] = ls[0].replace(
        r#""sse_streams":0}"#,
        r#""sse_streams":0,"shed_retries":1,"shed_retry_max_wait_ns":30000000000}"#,
    );
    ls[2] = ls[2].replace(r#""st":200,"o":"ok""#, r#""st":503,"o":"shed""#);
    let rt = r#"{"t":"rt","i":0,"n":1,"due":1006000000,"as":1006100000,"e":1007000000,"c":2,"ru":false,"st":200,"o":"ok"}"#;
    ls.insert(12, rt.to_string());
    let last = ls.len() - 1;
    ls[last] = ls[last].replace(
        r#""stopped_early":false}"#,
        r#""stopped_early":false,"retries":1}"#,
    );

    let dir = TempDir::new();
    let f = write(dir.path(), "rt.ndjson", &ls);
    let r = run(plan(dir.path(), vec![f])).unwrap();
    let live = &r.summary.live;
    assert!(live.valid, "{live:?}");
    let s = live.retries.clone().expect("live.retries");
    assert_eq!(
        (s.scheduled_shed, s.sent, s.served_after_shed),
        (1, 1, 1),
        "{s:?}"
    );
    assert!((s.send_lag_max_ms - 0.1).abs() < 1e-9, "{s:?}");
    assert_eq!(r.summary.summary.requests.shed, 1);

    // The retry line lost under its footer: invalid, and why.
    let mut lost = ls.clone();
    lost.remove(12);
    let dir = TempDir::new();
    let f = write(dir.path(), "lost.ndjson", &lost);
    let live = run(plan(dir.path(), vec![f])).unwrap().summary.live;
    assert!(!live.valid);
    assert_eq!(live.footer_mismatches.len(), 1, "{live:?}");
    let why = &live.footer_mismatches[0];
    assert!(
        why.contains("lost.ndjson")
            && why.contains("says 1 retries")
            && why.contains("0 retry lines"),
        "{why}"
    );

    for (from, to, want) in [
        (
            r#""e":1007000000"#,
            r#""e":1006000000"#,
            "line 13: retry 1 of request 0: its times are out of order",
        ),
        (
            r#""n":1"#,
            r#""n":0"#,
            "line 13: retry of request 0: attempt n = 0",
        ),
        (
            r#""due":1006000000"#,
            r#""due":-1"#,
            "line 13: retry 1 of request 0: due = -1 ns is outside",
        ),
    ] {
        let mut bad = ls.clone();
        bad[12] = bad[12].replace(from, to);
        let dir = TempDir::new();
        let f = write(dir.path(), "bad-rt.ndjson", &bad);
        let e = run(plan(dir.path(), vec![f])).unwrap_err().to_string();
        assert!(
            e.contains("bad-rt.ndjson") && e.contains(want),
            "{e}\nwant {want}"
        );
    }
}
