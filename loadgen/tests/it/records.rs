//! The record file's header names the generator that wrote it. The analyzer reads files written
//! under the current name and under the name the generator had before it was its own crate
//! (`fleetsim-validate`), as the records committed under `docs/results` were written.

use crate::common::*;
use clap::Parser;
use loadgen::record::Line;
use loadgen::{AnalyzeOpts, AnalyzeReport};
use std::path::{Path, PathBuf};

fn analyze(records: &Path) -> AnalyzeReport {
    let out_dir = tmp_path("analysis").display().to_string();
    let records = records.display().to_string();
    let opts = AnalyzeOpts::parse_from(["analyze", "--out-dir", &out_dir, &records]);
    loadgen::analyze(opts.plan().unwrap()).unwrap_or_else(|e| panic!("analyze {records}: {e}"))
}

#[test]
fn the_header_names_fleetsim_loadgen_and_the_analyzer_reads_the_old_name_too() {
    let a = trivial_server();
    let out = tmp_path("records.ndjson");
    let opts = loadgen::LoadOpts::parse_from([
        "load",
        "--no-signals",
        "--target",
        &format!("http://{a}/"),
        "--rate",
        "50",
        "--duration",
        "1s",
        "--out",
        &out.display().to_string(),
    ]);
    let report = loadgen::run(opts.plan().unwrap()).unwrap();
    let lines = read_lines(&out);
    let Some(Line::Header(h)) = lines.first() else {
        panic!("the first line is not a header: {:?}", lines.first());
    };
    let current = format!("fleetsim-loadgen {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(h.generator, current);

    let new = analyze(&out);
    assert_eq!(new.summary.summary.provenance["generator"], current);
    assert!(report.footer.sent > 0, "{report:?}");
    assert_eq!(new.summary.summary.requests.sent, report.footer.sent);

    // The same records under the old name: read alike, the name kept in the provenance.
    let text = std::fs::read_to_string(&out).unwrap();
    let old_text = text.replacen(
        &format!("\"generator\":\"{current}\""),
        "\"generator\":\"fleetsim-validate 0.1.0\"",
        1,
    );
    assert_ne!(old_text, text, "the header's generator field was not found");
    let old_file = tmp_path("old-records.ndjson");
    std::fs::write(&old_file, old_text).unwrap();
    let old = analyze(&old_file);
    assert_eq!(
        old.summary.summary.provenance["generator"],
        "fleetsim-validate 0.1.0"
    );
    assert_eq!(old.summary.summary.requests, new.summary.summary.requests);
    assert_eq!(old.summary.live, new.summary.live);
}

/// A run's late sends are counted by window against `--late-threshold`, and any inside the
/// deploy window makes the run invalid; those outside it are counted but do not.
#[test]
fn late_sends_are_counted_per_window_and_only_the_window_invalidates() {
    let a = trivial_server();
    let target = format!("http://{a}/");
    let (report, _) = run_load(&["--target", &target, "--rate", "100", "--duration", "2s"]);
    let out = report.out;
    // Rewrite every send's lag: 0.2 ms, except chosen ones. Window 0.5-1.0 s after the load
    // start with no tail: 50 requests before it, 50 in it, 100 after it (10 ms apart).
    let lag_of = |i: u64| -> i64 {
        match i {
            10 => 1_500_000,        // before the window, late
            60 => 1_500_000,        // in the window, late
            61 => 900_000,          // in the window, not late at 1 ms
            150 | 190 => 3_000_000, // after the window, late
            _ => 200_000,
        }
    };
    // All under 10 ms: none is a generator fault, and the footer is valid, whatever the real
    // run's machine did (a busy machine can make one).
    let file = with_send_lags(&out, lag_of);
    let run = |threshold: &str| {
        let out_dir = tmp_path("late-analysis").display().to_string();
        let f = file.display().to_string();
        let opts = AnalyzeOpts::parse_from([
            "analyze",
            "--out-dir",
            &out_dir,
            "--rollout-start",
            "0.5s",
            "--rollout-end",
            "1s",
            "--tail",
            "0s",
            "--late-threshold",
            threshold,
            &f,
        ]);
        loadgen::analyze(opts.plan().unwrap())
    };
    let r = run("1ms").unwrap();
    let late = r
        .summary
        .live
        .late_sends
        .clone()
        .expect("late sends counted");
    assert_eq!(
        (late.before_window, late.window, late.after_window),
        (1, 1, 2),
        "{late:?}"
    );
    assert_eq!(late.threshold_ms, 1.0);
    assert!((late.window_lag_max_ms - 1.5).abs() < 1e-9, "{late:?}");
    assert_eq!(r.summary.live.generator_faults, 0, "none is 10 ms late");
    assert!(!r.summary.live.valid, "a late send in the window");

    // At 2 ms only the sends after the window are late: the run is valid.
    let r = run("2ms").unwrap();
    let late = r.summary.live.late_sends.clone().unwrap();
    assert_eq!(
        (late.before_window, late.window, late.after_window),
        (0, 0, 2)
    );
    assert!(r.summary.live.valid, "{:?}", r.summary.live);

    let err = run("0s").expect_err("a zero threshold");
    assert!(err.to_string().contains("--late-threshold"), "{err}");
}

/// The keep-alive records of a committed live run (`docs/results/2026-12-04-long-budget/after/run-1`,
/// committed gzipped; 5 shed and 19 reset requests in its window): the `.gz` as committed, and
/// a decompressed copy in a temporary folder.
fn committed_long_budget_records() -> (PathBuf, PathBuf) {
    use std::io::Read;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let gz =
        root.join("../docs/results/2026-12-04-long-budget/after/run-1/records-keepalive.ndjson.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let plain = tmp_path("records-keepalive.ndjson");
    std::fs::write(&plain, text).unwrap();
    (gz, plain)
}

/// `fleetsim analyze` of `records` with that run's rollout window into a new folder `name`:
/// the report, the folder, and the records' path as the outputs name it.
fn analyze_long_budget_run(records: &Path, name: &str) -> (AnalyzeReport, PathBuf, String) {
    let out = tmp_path(name);
    let (r, o) = (records.display().to_string(), out.display().to_string());
    let opts = AnalyzeOpts::parse_from([
        "analyze",
        "--out-dir",
        &o,
        "--rollout-start",
        "20.123316",
        "--rollout-end",
        "99.464336",
        &r,
    ]);
    (loadgen::analyze(opts.plan().unwrap()).unwrap(), out, r)
}

/// Record files written before retries of shed requests existed (no `rt`/`rg` lines, no retry
/// fields in the header or footer) analyze to the bytes they did before: `summary.json` (no
/// `live.retries`), `timeline.csv` and `sse.csv` of a committed live run with 5 shed and 19
/// reset requests in its window, against the outputs of `fleetsim analyze` built from 0c985a2
/// (the commit before retries), committed in `tests/fixtures/pre-retries` with the records'
/// path replaced by `RECORDS`.
#[test]
fn a_record_file_from_before_retries_analyzes_to_the_same_bytes() {
    let (_, records) = committed_long_budget_records();
    let (report, out_dir, r) = analyze_long_budget_run(&records, "pre-retries");
    assert!(report.summary.live.retries.is_none());
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pre-retries");
    for file in ["summary.json", "timeline.csv", "sse.csv"] {
        let got = std::fs::read_to_string(out_dir.join(file))
            .unwrap()
            .replace(&r, "RECORDS");
        let want = std::fs::read_to_string(fixtures.join(file)).unwrap();
        assert!(
            got == want,
            "{file} differs from {}",
            fixtures.join(file).display()
        );
    }
}

/// A record file committed gzipped (`gzip -9n`) is read as it is: the analysis of the `.gz`
/// gives the bytes the decompressed copy gives. A file that only claims to be gzip (the magic
/// bytes, then garbage) is an error naming it, not a panic or an empty analysis.
#[test]
fn a_gzipped_record_file_analyzes_as_its_decompressed_copy() {
    let (gz, plain) = committed_long_budget_records();
    let outputs = |records: &Path, name: &str| {
        let (_, out, r) = analyze_long_budget_run(records, name);
        ["summary.json", "timeline.csv"].map(|f| {
            std::fs::read_to_string(out.join(f))
                .unwrap()
                .replace(&r, "RECORDS")
        })
    };
    assert_eq!(outputs(&gz, "from-gz"), outputs(&plain, "from-plain"));

    let fake = tmp_path("fake.ndjson.gz");
    std::fs::write(&fake, [0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7]).unwrap();
    let (f, o) = (
        fake.display().to_string(),
        tmp_path("fake-out").display().to_string(),
    );
    let opts = AnalyzeOpts::parse_from(["analyze", "--out-dir", &o, &f]);
    let err = loadgen::analyze(opts.plan().unwrap()).expect_err("a torn gzip file");
    assert!(err.to_string().contains("fake.ndjson.gz"), "{err}");
}
