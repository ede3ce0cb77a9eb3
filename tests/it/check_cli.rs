//! `fleetsim check` as a process: exit codes (0 within budget, 1 over, 2 bad input), standard
//! input, and the JSON, SARIF and JUnit outputs, on the podinfo manifests in check/testdata.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

fn podinfo(file: &str) -> String {
    format!(
        "{}/check/testdata/podinfo/{file}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn check(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .arg("check")
        .args(["--seeds", "2", "--threads", "1"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

#[test]
fn stdin_json_and_exit_code_over_budget() {
    let text = format!(
        "{}---\n{}",
        std::fs::read_to_string(podinfo("deployment.yaml")).unwrap(),
        std::fs::read_to_string(podinfo("service.yaml")).unwrap()
    );
    let out = check(&["-", "--format", "json", "--no-fix-search"], Some(&text));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "fleetsim.check/1");
    let d = &v["deployments"][0];
    assert_eq!(d["deployment"], "default/podinfo");
    assert_eq!(
        d["replicas"], 1,
        "no HPA on standard input: spec.replicas default 1"
    );
    assert_eq!(d["findings"][0]["id"], "FS001");
    assert_eq!(d["findings"][0]["location"]["file"], "-");
    assert!(v["assumed"].as_array().unwrap().len() >= 5);
}

#[test]
fn within_budget_exits_0_and_junit_has_a_case_per_deployment() {
    let dir = format!("{}/check/testdata/podinfo", env!("CARGO_MANIFEST_DIR"));
    let out = check(&[&dir, "--budget", "100000", "--format", "junit"], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(
        xml.contains("<testsuite name=\"fleetsim check\" tests=\"1\" failures=\"0\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), 1);
}

#[test]
fn sarif_points_at_the_manifest_line() {
    let dir = format!("{}/check/testdata/podinfo", env!("CARGO_MANIFEST_DIR"));
    let out = check(&[&dir, "--format", "sarif", "--no-fix-search"], None);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let res = &v["runs"][0]["results"][0];
    assert_eq!(res["ruleId"], "FS001");
    let loc = &res["locations"][0]["physicalLocation"];
    assert!(
        loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("podinfo/deployment.yaml")
    );
    assert_eq!(loc["region"]["startLine"], 25);
    let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 5);
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let out = check(&["-"], Some("kind: [Deployment\n"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error: -:"), "{err}");
    assert!(out.stdout.is_empty());
    let tmp = tempfile::tempdir().unwrap();
    let fix = tmp.path().join("fixed");
    let out = check(
        &["-", "--fix", fix.to_str().unwrap()],
        Some(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  strategy:\n    type: Recreate\n  template:\n    metadata:\n      labels:\n        app: x\n    spec:\n      containers:\n      - name: a\n        ports:\n        - containerPort: 80\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  selector:\n    app: x\n",
        ),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("-:7: Deployment/x: spec.strategy.type: Recreate"),
        "{err}"
    );
    assert!(!fix.exists(), "nothing is written when the input is bad");
    let out = check(&["-", "--set", "nonsense"], None);
    assert_eq!(out.status.code(), Some(2));
}

/// `--predictions OUT` writes each Deployment's aggregate where `fleetsim validate` looks for it
/// (`OUT/<name>-<connection>/summary.json`), with the numbers the report states; an existing
/// OUT is refused (exit 2) and left as it was.
#[test]
fn predictions_are_written_for_validate_and_never_over_an_existing_folder() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("predicted");
    let dir = format!("{}/check/testdata/podinfo", env!("CARGO_MANIFEST_DIR"));
    let o = out.to_str().unwrap();
    let run = check(
        &[
            &dir,
            "--format",
            "json",
            "--no-fix-search",
            "--connection",
            "new",
            "--predictions",
            o,
        ],
        None,
    );
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let path = out.join("podinfo-new").join("summary.json");
    let agg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let predicted = &report["deployments"][0]["predicted"]["failed"];
    assert_eq!(agg["failed"]["mean"], predicted["mean"]);
    assert_eq!(agg["failed"]["hi"], predicted["hi"]);
    assert_eq!(report["prediction_files"][0], path.to_str().unwrap());
    let before = std::fs::read(&path).unwrap();
    let again = check(&[&dir, "--no-fix-search", "--predictions", o], None);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(
        std::fs::read_dir(d.path()).unwrap().count(),
        1,
        "no staging folder left"
    );
}
