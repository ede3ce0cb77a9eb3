//! The record file's header names the generator that wrote it. The analyzer reads files written
//! under the current name and under the name the generator had before it was its own crate
//! (`fleetsim-validate`), as the records committed under `docs/results` were written.

use crate::common::*;
use clap::Parser;
use loadgen::record::Line;
use loadgen::{AnalyzeOpts, AnalyzeReport};

fn analyze(records: &std::path::Path) -> AnalyzeReport {
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
