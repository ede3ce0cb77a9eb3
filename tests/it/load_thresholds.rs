//! `fleetsim load` and `fleetsim analyze` with `--max-failed` / `--max-p99`: a run that breaks a
//! limit is an error naming the limit (the binary exits non-zero), one within them is not.
//! Traffic goes to a server on loopback only.

use crate::fleetsim;

/// The crate's trivial server on a loopback port of its own (lives as long as the test binary).
fn trivial_server() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || loadgen::trivial::serve_std_blocking(l));
    format!("http://{addr}/")
}

#[test]
fn thresholds_set_the_exit_status_of_load_and_analyze_and_name_the_limit() {
    let d = tempfile::tempdir().unwrap();
    let rec = d.path().join("ok.ndjson");
    let rec_s = rec.to_str().unwrap();
    let target = trivial_server();
    let load = |extra: &[&str]| {
        let mut a = vec![
            "load",
            "--no-signals",
            "--quiet",
            "--target",
            &target,
            "--rate",
            "200",
            "--duration",
            "500ms",
            "--fault-threshold",
            "5s",
            "--out",
            rec_s,
        ];
        a.extend_from_slice(extra);
        fleetsim(&a)
    };
    load(&["--max-failed", "0", "--max-p99", "5s"]).unwrap();
    let e = format!("{:#}", load(&["--max-p99", "1ns"]).unwrap_err());
    assert!(e.contains("threshold failed: --max-p99"), "{e}");
    assert!(!e.contains("--max-failed"), "{e}");

    // Nothing listens: every request is refused, so --max-failed 0 breaks on both commands.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", l.local_addr().unwrap())
    };
    let bad = d.path().join("refused.ndjson");
    let e = format!(
        "{:#}",
        fleetsim(&[
            "load",
            "--no-signals",
            "--quiet",
            "--no-warm",
            "--target",
            &dead,
            "--rate",
            "100",
            "--requests",
            "20",
            "--fault-threshold",
            "5s",
            "--out",
            bad.to_str().unwrap(),
            "--max-failed",
            "0",
        ])
        .unwrap_err()
    );
    assert!(e.contains("--max-failed 0: 20 requests failed"), "{e}");
    let out = d.path().join("analysis");
    let analyze = |rec: &str, extra: &[&str]| {
        let mut a = vec!["analyze", rec, "--out-dir", out.to_str().unwrap()];
        a.extend_from_slice(extra);
        fleetsim(&a)
    };
    analyze(rec_s, &["--max-failed", "0", "--max-p99", "5s"]).unwrap();
    let e = format!(
        "{:#}",
        analyze(bad.to_str().unwrap(), &["--max-failed", "0"]).unwrap_err()
    );
    assert!(e.contains("threshold failed: --max-failed 0"), "{e}");
}
