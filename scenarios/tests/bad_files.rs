//! Bad scenario files: each invalid field gives its named error (path and reason), with the
//! file and line when the field was written in a file.

use scenarios::{ScenarioError, parse_scenario};

/// `(over, text, field path, words of the reason, line of the field in `text`)`.
const CASES: &[(&str, &str, &str, &str, Option<usize>)] = &[
    (
        "before",
        "[rollout]\nmax_surge = 0\nmax_unavailable = 0\n",
        "rollout.max_unavailable",
        "maxSurge is 0 and maxUnavailable is 0",
        Some(3),
    ),
    (
        "before",
        "[pod]\nreplicas = 0\n",
        "pod.replicas",
        "at least 1",
        Some(2),
    ),
    (
        "before",
        "[pod]\nreplicaz = 3\n",
        "pod.replicaz",
        "unknown field `replicaz`",
        Some(2),
    ),
    (
        "before",
        "[rollout_strategy]\nmax_surge = 1\n",
        "rollout_strategy",
        "unknown field",
        Some(1),
    ),
    (
        "before",
        "[levers]\npid2 = true\n",
        "levers.pid2",
        "no lever named \"pid2\"",
        Some(2),
    ),
    (
        "before",
        "[load]\nrate = \"fast\"\n",
        "load.rate",
        "invalid type",
        Some(2),
    ),
    (
        "before",
        "[load]\nrate = -3.0\n",
        "load.rate",
        "must be a finite number above 0",
        Some(2),
    ),
    (
        "before",
        "[load]\ndeadline = \"0s\"\n",
        "load.deadline",
        "above 0s",
        Some(2),
    ),
    (
        "before",
        "[lifecycle]\n\nprestop = \"5 parsecs\"\n",
        "lifecycle.prestop",
        "invalid duration",
        Some(3),
    ),
    (
        "before",
        "[queue]\neffect_at = 1.5\n",
        "queue.effect_at",
        "within 0..=1",
        Some(2),
    ),
    (
        "before",
        "[queue]\nlease = \"0s\"\n",
        "queue.lease",
        "above 0s",
        Some(2),
    ),
    (
        "before",
        "[balancer]\npreset = \"haproxy\"\n",
        "balancer.preset",
        "unknown variant `haproxy`",
        Some(2),
    ),
    (
        "before",
        "[balancer]\npreset = \"ingress_nginx\"\nkind = \"l4\"\n",
        "balancer.kind",
        "does not match preset",
        Some(3),
    ),
    (
        "before",
        "[client]\nconnection = \"keepalive\"\npool = 0\n",
        "client.pool",
        "at least 1 connection",
        Some(3),
    ),
    (
        "before",
        "[client.retry]\non = [\"ok\"]\n",
        "client.retry.on",
        "not a failure to retry",
        Some(2),
    ),
    (
        "before",
        "[pod.service_time]\nkind = \"lognormal\"\nmedian = \"100ms\"\np99 = \"50ms\"\n",
        "pod.service_time",
        "p99",
        Some(1),
    ),
    (
        "before",
        "[pod]\nservice_time = { kind = \"gamma\", shape = 2 }\n",
        "pod.service_time.kind",
        "unknown variant `gamma`",
        Some(2),
    ),
    (
        "before",
        "[pod.readiness]\nperiod = \"0s\"\n",
        "pod.readiness.period",
        "above 0s",
        Some(2),
    ),
    (
        "before",
        "[pod.cold_start]\nfactor = 0.5\n",
        "pod.cold_start.factor",
        ">= 1",
        Some(2),
    ),
    (
        "before",
        "[app]\non_sigterm = \"drain\"\n[drain]\ntimeout = \"1s\"\njitter_window = \"2s\"\n",
        "drain.jitter_window",
        "2s is longer than drain.timeout 1s",
        Some(5),
    ),
    (
        "after",
        "[rollout]\nmax_unavailable = 1\n",
        "rollout.max_unavailable",
        "lever surge (levers/surge.toml) sets rollout.max_unavailable = 0, but case20.toml:3 sets rollout.max_unavailable = 1",
        Some(2),
    ),
    (
        "before",
        "[rollout]\nmax_surge = \"0%\"\nmax_unavailable = 0\n",
        "rollout.max_unavailable",
        "maxSurge is 0% and maxUnavailable is 0: a rollout could neither add a pod nor remove one (Kubernetes rejects this too); set rollout.max_surge = 1 (add one new pod at a time) or rollout.max_unavailable = 1 (remove one old pod at a time)",
        Some(3),
    ),
    (
        "after",
        "[levers]\nreadiness = true\n[lifecycle]\nprestop = \"2s\"\n",
        "lifecycle.prestop",
        "lever readiness (levers/readiness.toml) sets lifecycle.prestop",
        Some(4),
    ),
    (
        "before",
        "[rollout]\nmax_surge = \"150%\"\n",
        "rollout.max_surge",
        "above 100%",
        Some(2),
    ),
    (
        "before",
        "[run]\nmax_duration = \"10s\"\n",
        "run.max_duration",
        "longer than run.baseline",
        Some(2),
    ),
    ("before", "name = 5\n", "name", "expected a string", Some(1)),
    // Issue 13: values that parsed, passed validation and then wrapped the simulator's clock
    // (exit 101) or exhausted memory are refused with the bound.
    (
        "after",
        "[queue]\nlease = \"5000000h\"\n",
        "queue.lease",
        "is above the limit 1day",
        Some(2),
    ),
    (
        "after",
        "[run]\nbucket = \"1ms\"\n",
        "run.bucket",
        "timeline buckets, above the limit 100000",
        Some(2),
    ),
    (
        "after",
        "[client]\npool = 4294967295\n",
        "client.pool",
        "4294967295 is above the limit 100000",
        Some(2),
    ),
    (
        "after",
        "[pod.readiness]\nperiod = \"1ns\"\n",
        "pod.readiness.period",
        "1ns is below the limit 1ms",
        Some(2),
    ),
];

#[test]
fn each_invalid_field_gives_its_named_error() {
    let mut failures = Vec::new();
    for (i, &(over, text, path, reason, line)) in CASES.iter().enumerate() {
        let file = format!("case{i}.toml");
        let full = format!("extends = [\"{over}.toml\"]\n{text}");
        let err = match parse_scenario(&file, &full) {
            Ok(_) => {
                failures.push(format!("case {i} ({path}): accepted"));
                continue;
            }
            Err(e) => e,
        };
        let Some(f) = err.fields().iter().find(|f| f.path == path) else {
            failures.push(format!("case {i}: no error for {path}: {err}"));
            continue;
        };
        if !f.reason.contains(reason) {
            failures.push(format!(
                "case {i}: {path}: reason {:?} lacks {reason:?}",
                f.reason
            ));
        }
        // `line` counts in `text`; the extends line comes first.
        let want = line.map(|l| l + 1);
        let got = f.origin.as_ref().filter(|o| o.file == file).map(|o| o.line);
        if got != want {
            failures.push(format!(
                "case {i}: {path}: line {got:?}, want {want:?} ({err})"
            ));
        }
        let printed = err.to_string();
        if !printed.contains(&format!("{path}: ")) {
            failures.push(format!(
                "case {i}: message {printed:?} does not name {path}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn syntax_errors_name_file_line_and_column() {
    let err = parse_scenario(
        "x.toml",
        "extends = [\"before.toml\"]\n[pod\nreplicas = 1\n",
    )
    .unwrap_err();
    match &err {
        ScenarioError::Syntax { file, line, .. } => {
            assert_eq!(file, "x.toml");
            assert_eq!(*line, 2);
        }
        other => panic!("not a syntax error: {other:?}"),
    }
    assert!(err.to_string().starts_with("x.toml:2:"), "{err}");
}

#[test]
fn several_invalid_fields_are_all_reported() {
    let err = parse_scenario(
        "x.toml",
        "extends = [\"before.toml\"]\n[pod]\nreplicas = 0\nconcurrency = 0\n",
    )
    .unwrap_err();
    let paths: Vec<&str> = err.fields().iter().map(|f| f.path.as_str()).collect();
    assert!(
        paths.contains(&"pod.replicas") && paths.contains(&"pod.concurrency"),
        "{err}"
    );
    assert_eq!(err.to_string().lines().count(), 2, "{err}");
}

#[test]
fn rollout_percentages_round_like_kubernetes() {
    // maxUnavailable rounds down: 20% of 4 is 0.8 -> 0; maxSurge rounds up: 10% of 4 is
    // 0.4 -> 1, which adds capacity first.
    let ok = parse_scenario(
        "x.toml",
        "extends = [\"before.toml\"]\n[rollout]\nmax_surge = \"10%\"\nmax_unavailable = \"20%\"\n",
    )
    .unwrap();
    assert_eq!(ok.fleet.effective_fenceposts(), (1, 0));
}
