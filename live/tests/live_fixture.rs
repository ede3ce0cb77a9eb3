//! The live driver's offline half, on a recorded run of the real cluster (a calibration run of
//! the `after` overlay, committed under tests/fixtures/live-after with its records gzipped):
//! re-analysis reproduces the committed summaries, the shutdown evidence and calibration are read
//! from it, and the report sets it against a prediction. No cluster, no network.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use live::{Levers, RunSummary};
use loadgen::{LiveInfo, LiveSummary, sorted_json};
use measure::{Aggregate, ShutdownStep, Summary};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/live-after")
}

/// A copy of the fixture with the records decompressed, in a fresh temp dir.
fn unpacked(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "fleetsim-live-fixture-{tag}-{}",
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    copy_dir(&fixture(), &dir);
    for style in ["keepalive", "new"] {
        let gz = dir.join(format!("records-{style}.ndjson.gz"));
        let mut text = String::new();
        flate2::read::GzDecoder::new(fs::File::open(&gz).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        fs::write(dir.join(format!("records-{style}.ndjson")), text).unwrap();
        fs::remove_file(gz).unwrap();
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            fs::copy(&path, &target).unwrap();
        }
    }
}

fn read_summary(path: &Path) -> Summary {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn reanalysis_reproduces_the_recorded_summaries() {
    let dir = unpacked("reanalyze");
    let out = dir.join("again");
    let reports = live::reanalyze(&dir, &out).unwrap();
    assert_eq!(reports.len(), 2);
    for (style, r) in reports {
        let recorded = read_summary(&fixture().join(&style).join("summary.json"));
        let again = &r.analysis.summary;
        assert_eq!(again.requests, recorded.requests, "{style}: outcome counts");
        assert_eq!(again.window_s, recorded.window_s, "{style}: window");
        assert_eq!(again.latency_ms, recorded.latency_ms, "{style}: latency");
        assert_eq!(
            again.capacity_dip, recorded.capacity_dip,
            "{style}: capacity dip"
        );
        // The rollout had a window with traffic in it, and every request of the window counted.
        assert!(
            again.requests.sent > 500,
            "{style}: {} sent",
            again.requests.sent
        );
        assert!(again.requests.is_conserved());
        assert!(out.join(&style).join("errors.svg").exists());
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_typed_run_summary_writes_the_bytes_of_the_recorded_one() {
    for style in ["keepalive", "new"] {
        let path = fixture().join(style).join("summary.json");
        let text = fs::read_to_string(&path).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let obj = v.as_object_mut().unwrap();
        let live: LiveInfo = serde_json::from_value(obj.remove("live").unwrap()).unwrap();
        let levers: Levers = serde_json::from_value(obj.remove("levers").unwrap()).unwrap();
        let order_ok = obj.remove("shutdown_order_ok").unwrap().as_bool().unwrap();
        let summary: Summary = serde_json::from_value(v).unwrap();
        let typed = RunSummary {
            analyzed: LiveSummary { summary, live },
            levers: Some(levers),
            shutdown_order_ok: Some(order_ok),
            evidence: None,
        };
        assert_eq!(sorted_json(&typed).unwrap() + "\n", text, "{style}");
    }
}

#[test]
fn shutdown_evidence_of_every_old_pod_is_in_order() {
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(fixture().join("summary.json")).unwrap()).unwrap();
    let old: Vec<String> = summary["deregistration"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["pod"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(old.len(), 3, "three old pods were replaced");
    let required = live::required_steps(true, true, true);
    for pod in old {
        let text = fs::read_to_string(fixture().join("logs").join(format!("{pod}.log"))).unwrap();
        let mut s = live::parse_pod_log(&pod, &text);
        live::check_evidence(&mut s, &required);
        assert!(s.violations.is_empty(), "{pod}: {:?}", s.violations);
        assert!(s.missing.is_empty(), "{pod}: missing {:?}", s.missing);
        assert_eq!(s.logged_exit, Some(0), "{pod} drained cleanly");
        assert_eq!(
            s.steps.first().map(|x| x.0),
            Some(ShutdownStep::SigtermReceived)
        );
    }
}

#[test]
fn calibration_reads_service_time_start_up_and_deregistration() {
    let dir = unpacked("calibrate");
    let m = live::measure_run(&dir).unwrap();
    assert!(
        m.service_ms.len() > 500,
        "{} baseline samples",
        m.service_ms.len()
    );
    let mut s = m.service_ms.clone();
    s.sort_by(f64::total_cmp);
    let median = s[s.len() / 2];
    // FLEETSIM_WORK_MS=50ms in deploy/k8s/base: the measured median sits just above it.
    assert!(
        (50.0..60.0).contains(&median),
        "median service time {median} ms"
    );
    assert_eq!(m.startup_ms.len(), 3, "three new pods started");
    assert_eq!(m.deregistration_ms.len(), 3);
    // kube-proxy's iptables minSyncPeriod is 1 s: no old pod got a fresh connection much later.
    assert!(
        m.deregistration_ms.iter().all(|&d| d < 2_000.0),
        "{:?}",
        m.deregistration_ms
    );
    let text = live::calibration_layer(&m, "fixture");
    let v: toml::Value = toml::from_str(&text).unwrap();
    assert!(v["propagation"]["lag"]["samples"].as_array().is_some());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn report_marks_the_recorded_run_against_a_prediction() {
    let observed = read_summary(&fixture().join("new/summary.json"));
    // A prediction built around the observed run, and one that misses its p99 (no tuning here:
    // the test only checks that the verdicts follow the intervals).
    let mut near = observed.clone();
    near.source = measure::Source::Sim;
    let mut far = near.clone();
    far.latency_ms.window.p99 = Some(900.0);
    let hit = live::check_scenario(
        "after-new",
        &Aggregate::of(&[near.clone(), near.clone()]),
        std::slice::from_ref(&observed),
    );
    assert!(
        hit.iter()
            .filter(|c| !c.observed.is_empty() && c.predicted.is_some())
            .all(|c| c.all_inside()),
        "{hit:#?}"
    );
    let miss = live::check_scenario(
        "after-new",
        &Aggregate::of(&[far.clone(), far]),
        std::slice::from_ref(&observed),
    );
    let p99 = miss
        .iter()
        .find(|c| c.figure == "latency_ms.window.p99")
        .unwrap();
    assert!(!p99.all_inside());
    assert!(live::validation_markdown(&miss, &[]).contains("OUTSIDE"));
}
