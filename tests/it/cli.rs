//! The CLI through `fleetsim::run(Opts::parse_from(..))`, on temporary folders.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use clap::Parser;
use fleetsim::Opts;

use crate::{fleetsim, p};

fn dir_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn run_writes_the_same_bytes_for_any_thread_count_and_compare_reads_them() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    fleetsim(&[
        "run",
        "before",
        "--seeds",
        "3",
        "--threads",
        "1",
        "--out",
        p(&a),
    ])
    .unwrap();
    fleetsim(&[
        "run",
        "before",
        "--seeds",
        "3",
        "--threads",
        "2",
        "--out",
        p(&b),
    ])
    .unwrap();
    let (ba, bb) = (dir_bytes(&a), dir_bytes(&b));
    assert_eq!(ba, bb);
    for f in [
        "summary.json",
        "seeds/1.json",
        "seeds/3.json",
        "timeline.csv",
        "reconnects.csv",
        "digests.csv",
    ] {
        assert!(ba.contains_key(f), "{f} missing");
    }
    let agg: serde_json::Value = serde_json::from_slice(&ba["summary.json"]).unwrap();
    assert_eq!(agg["seeds"], 3);
    assert_eq!(agg["schema"], measure::AGGREGATE_SCHEMA);
    assert!(agg["requests"]["sent"]["mean"].as_f64().unwrap() > 0.0);
    let seed: measure::Summary = serde_json::from_slice(&ba["seeds/1.json"]).unwrap();
    assert_eq!(seed.seed, Some(1));

    let after = d.path().join("after");
    fleetsim(&["run", "after", "--seeds", "3", "--out", p(&after)]).unwrap();
    let md = d.path().join("compare.md");
    fleetsim(&["compare", p(&a), p(&after), "--out", p(&md)]).unwrap();
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.contains("| before") && text.contains("| after"),
        "{text}"
    );
    for f in measure::HEADLINE_FIGURES {
        assert!(text.contains(&format!("| {f} ")), "{f} missing:\n{text}");
    }
    // A folder named differently still compares under its scenario's name.
    assert!(
        text.contains("Which failure mode each lever removes"),
        "{text}"
    );
}

#[test]
fn sweep_shards_merge_byte_identically_to_the_whole_sweep() {
    let d = tempfile::tempdir().unwrap();
    let args = |out: &Path, shard: Option<&str>| {
        let mut v = vec![
            "sweep".to_string(),
            "after".into(),
            "--vary".into(),
            "lifecycle.prestop=0s..2s/1s".into(),
            "--vary=drain.timeout=2s,5s".into(),
            "--seeds".into(),
            "2".into(),
            "--out".into(),
            p(out).into(),
            "--no-progress".into(),
        ];
        if let Some(s) = shard {
            v.push("--shard".into());
            v.push(s.into());
        }
        v
    };
    let run_args = |v: Vec<String>| {
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        fleetsim(&refs)
    };
    let whole = d.path().join("whole");
    run_args(args(&whole, None)).unwrap();
    let mut shard_dirs = Vec::new();
    for k in 0..3 {
        let dir = d.path().join(format!("shard-{k}"));
        run_args(args(&dir, Some(&format!("{k}/3")))).unwrap();
        shard_dirs.push(dir);
    }
    let merged = d.path().join("merged");
    let mut m = vec!["merge".to_string()];
    m.extend(shard_dirs.iter().rev().map(|s| p(s).to_string()));
    m.extend(["--out".to_string(), p(&merged).to_string()]);
    run_args(m).unwrap();
    let (w, mm) = (dir_bytes(&whole), dir_bytes(&merged));
    assert_eq!(w, mm);
    let csv = String::from_utf8(w["sweep.csv"].clone()).unwrap();
    assert_eq!(csv.lines().count(), 1 + 6, "{csv}");
    assert!(
        csv.starts_with("point,lifecycle.prestop,drain.timeout,error_rate,"),
        "{csv}"
    );
    assert!(w.contains_key("zero-loss.csv"));
    assert!(w.contains_key("heatmap-failed.svg"));
}

#[test]
fn demo_writes_summaries_report_and_plots() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("demo");
    fleetsim(&["demo", "--seeds", "1", "--out", p(&out)]).unwrap();
    for s in scenarios::shipped::scenario_names() {
        assert!(out.join(s).join("summary.json").is_file(), "{s}");
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## Ablation"), "{report}");
    assert!(
        report.contains("Which failure mode each lever removes"),
        "{report}"
    );
    assert!(out.join("before/errors.svg").is_file());
    assert!(out.join("bars-failed.svg").is_file());
    // compare takes the demo's folder as a whole, in the shipped order.
    let md = d.path().join("compare.md");
    fleetsim(&["compare", p(&out), "--out", p(&md)]).unwrap();
    let text = std::fs::read_to_string(&md).unwrap();
    let header = text.lines().find(|l| l.starts_with("| figure")).unwrap();
    assert!(
        header.contains("| before") && header.find("before") < header.find("after-no-surge"),
        "{header}"
    );
    assert!(
        report.lines().filter(|l| l.starts_with("![")).count() >= 9,
        "{report}"
    );
    for line in report.lines().filter(|l| l.starts_with("![")) {
        let file = line.rsplit_once("](").unwrap().1.trim_end_matches(')');
        assert!(out.join(file).is_file(), "{file} linked but missing");
    }
}

#[test]
fn bad_input_gives_clean_errors() {
    let d = tempfile::tempdir().unwrap();
    let e = fleetsim(&["run", "no-such-scenario"]).unwrap_err();
    assert!(
        format!("{e:#}").contains("no shipped scenario of that name"),
        "{e:#}"
    );

    let bad = d.path().join("bad.toml");
    std::fs::write(&bad, "[rollout]\nmax_surge = 0\nmax_unavailable = 0\n").unwrap();
    let e = format!(
        "{:#}",
        fleetsim(&["run", p(&bad), "--out", p(d.path())]).unwrap_err()
    );
    assert!(
        e.contains("bad.toml:3: rollout.max_unavailable: maxSurge is 0 and maxUnavailable is 0"),
        "{e}"
    );

    for (args, needle) in [
        (vec!["run", "before", "--threads", "0"], "--threads"),
        (vec!["run", "before", "--seeds", "x"], "--seeds"),
        (vec!["run", "before", "--bogus"], "--bogus"),
        (
            vec!["sweep", "after", "--vary", "a.b=1", "--shard", "3/2"],
            "K must be below N",
        ),
        (
            vec!["sweep", "after", "--vary", "prestop"],
            "expected path=values",
        ),
        (vec!["sweep", "after"], "--vary"),
        (vec!["compare"], "<DIRS>"),
    ] {
        let mut argv = vec!["fleetsim"];
        argv.extend(args.iter().copied());
        let e = Opts::try_parse_from(argv).unwrap_err().to_string();
        assert!(e.contains(needle), "{args:?}: {e}");
    }

    let e = format!("{:#}", fleetsim(&["compare", p(d.path())]).unwrap_err());
    assert!(e.contains("no summary.json here or in its folders"), "{e}");
    let e = format!("{:#}", fleetsim(&["compare", p(&bad)]).unwrap_err());
    assert!(e.contains("bad.toml: not a summary"), "{e}");
    let e = format!(
        "{:#}",
        fleetsim(&["merge", p(d.path()), "--out", p(d.path())]).unwrap_err()
    );
    assert!(e.contains("sweep.json: cannot read"), "{e}");
    let e = fleetsim(&[
        "sweep",
        "after",
        "--vary",
        "pod.replicaz=1,2",
        "--seeds",
        "1",
        "--out",
        p(d.path()),
    ]);
    // An unknown field in --vary is an error of the sweep, naming the field.
    let e = format!("{:#}", e.unwrap_err());
    assert!(
        e.contains("--vary pod.replicaz: pod.replicaz: unknown field `replicaz`"),
        "{e}"
    );
    assert!(!d.path().join("sweep.csv").exists());
}

#[test]
fn the_binary_exits_non_zero_with_a_one_line_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(["run", "no-such-scenario"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: no-such-scenario: cannot read"),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("Error {"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(["scenarios", "--show", "after"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // The patched fleet: the pid1 patch's exec entrypoint, the surge patch's fenceposts.
    assert!(text.contains("entrypoint = \"exec\""), "{text}");
    assert!(text.contains("max_unavailable = 0"), "{text}");
    assert!(!text.contains("[levers]"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(["scenarios", "--reference"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for field in [
        "lifecycle.prestop",
        "rollout.max_surge",
        "server.max_requests",
    ] {
        assert!(text.contains(&format!("| {field} ")), "{field}: {text}");
    }
    // Every balancer preset, with the fields it takes.
    assert_eq!(scenarios::PRESET_REFERENCE.len(), 13);
    for r in scenarios::PRESET_REFERENCE {
        let name = r.preset.name();
        assert!(text.contains(&format!("| {name} ")), "{name}: {text}");
    }
    // Every front hop.
    for r in scenarios::FRONT_REFERENCE {
        let name = r.front.name();
        assert!(text.contains(&format!("| {name} ")), "{name}: {text}");
    }
}

/// `fleetsim live` refuses job and generator settings it cannot honour before it touches a cluster (kubectl
/// here does not exist, so reaching it would be a different error) and writes nothing.
#[test]
fn live_refuses_bad_job_settings_before_touching_the_cluster() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    for (flag, value, says) in [
        ("--job-effect-at", "1.5", "job-effect-at"),
        ("--job-effect-at", "NaN", "job-effect-at"),
        ("--job-rate", "-1", "job-rate"),
        ("--job-rate", "inf", "job-rate"),
        ("--generator-spin", "50ms", "generator-spin"),
        ("--generator-spin", "15ms", "generator-spin"),
    ] {
        let arg = format!("{flag}={value}");
        let err = crate::fleetsim(&[
            "live",
            "before",
            "--kubectl",
            "/nonexistent/kubectl",
            "--out",
            crate::p(&out),
            &arg,
        ])
        .expect_err(flag);
        let msg = format!("{err:#}");
        assert!(msg.contains(says), "{flag} {value}: {msg}");
        assert!(!out.exists(), "{flag} {value} wrote {}", out.display());
    }
}
