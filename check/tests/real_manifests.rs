//! `fleetsim check` on public manifests nobody here wrote (check/testdata/*/SOURCE gives the
//! repository, path, commit and licence of each): what is read, the findings, the predictions'
//! agreement with the simulator with and without each proposed change, and `--fix` output
//! re-checked within budget. Few seeds and short runs: each test takes well under a second.

use std::path::{Path, PathBuf};

use check::fix::{self, Change};
use check::{Assumptions, CheckPlan, Report};
use models::Preset;

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(p)
}

fn plan(inputs: &[PathBuf], sets: &[(&str, &str)]) -> CheckPlan {
    CheckPlan {
        inputs: inputs.to_vec(),
        assumptions: Assumptions {
            seeds: 4,
            sets: sets
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Assumptions::default()
        },
        proxy: None,
        budget: 0.0,
        search_fix: false,
        fix_out: None,
        predictions_out: None,
        strict_kinds: false,
        threads: 2,
    }
}

fn ids(r: &Report, dep: &str) -> Vec<&'static str> {
    r.deployments
        .iter()
        .find(|d| d.deployment == dep)
        .unwrap_or_else(|| {
            panic!(
                "no {dep} in {:?}",
                r.deployments
                    .iter()
                    .map(|d| &d.deployment)
                    .collect::<Vec<_>>()
            )
        })
        .findings
        .iter()
        .map(|f| f.id)
        .collect()
}

#[test]
fn podinfo_kustomize_folder() {
    let r = check::run(&plan(&[data("podinfo")], &[])).unwrap();
    assert_eq!(r.deployments.len(), 1);
    let d = &r.deployments[0];
    assert_eq!(d.deployment, "default/podinfo");
    // The HPA's minReplicas (2) is the replica count; no spec.replicas in the Deployment.
    assert_eq!(d.replicas, 2);
    assert!(
        d.replicas_from.contains("HorizontalPodAutoscaler/podinfo"),
        "{}",
        d.replicas_from
    );
    assert_eq!(d.balancer.preset, Preset::KubeProxyIptables);
    // podinfo has a readiness probe, maxUnavailable 0 (so surge 25% -> 1 pod) and an exec-form
    // command, but no preStop: only FS001.
    assert_eq!(ids(&r, "default/podinfo"), ["FS001"]);
    let f = &d.findings[0];
    assert!(f.location.file.ends_with("podinfo/deployment.yaml"));
    assert_eq!(
        f.location.line, 25,
        "the container's line (where a preStop goes)"
    );
    assert!(
        f.inequality
            .contains("< p99 lag of kube_proxy_iptables 1.04 s"),
        "{}",
        f.inequality
    );
    assert!(!d.within_budget && d.predicted.failed.mean > 0.0);
    assert_eq!(r.exit_code(), 1);
    // kustomization.yaml is listed as skipped, not an error.
    assert_eq!(r.skipped.len(), 1);
    assert_eq!(r.skipped[0].kind, "Kustomization");
}

#[test]
fn guestbook_all_in_one() {
    let r = check::run(&plan(
        &[data("k8s-examples/guestbook-all-in-one.yaml")],
        &[],
    ))
    .unwrap();
    let names: Vec<(&str, u32)> = r
        .deployments
        .iter()
        .map(|d| (d.deployment.as_str(), d.replicas))
        .collect();
    assert_eq!(
        names,
        [
            ("default/redis-master", 1),
            ("default/redis-replica", 2),
            ("default/frontend", 3)
        ]
    );
    for d in &r.deployments {
        // No preStop and no readiness probe anywhere in the guestbook.
        assert_eq!(
            ids(&r, &d.deployment),
            ["FS001", "FS003"],
            "{}",
            d.deployment
        );
        // No command: the image's entrypoint decides; exec form assumed and said so.
        assert!(!d.entrypoint.from_manifest);
        assert!(d.notes.iter().any(|n| n.contains("exec form assumed")));
    }
}

#[test]
fn tf_serving_ingress_without_class() {
    let r = check::run(&plan(&[data("k8s-examples/tf-serving")], &[])).unwrap();
    let d = &r.deployments[0];
    assert_eq!(d.balancer.preset, Preset::IngressNginx);
    assert!(
        d.balancer.because.contains("names no ingress class")
            && d.balancer.because.contains("assumed")
    );
    assert_eq!(ids(&r, "default/tf-serving"), ["FS001", "FS003"]);
    let fs001 = &d.findings[0];
    assert!(
        fs001.inequality.contains("ingress_nginx 4.34 s"),
        "{}",
        fs001.inequality
    );
}

#[test]
fn aws_alb_ip_targets() {
    let r = check::run(&plan(&[data("aws-lbc")], &[])).unwrap();
    let d = &r.deployments[0];
    assert_eq!(d.deployment, "game-2048/deployment-2048");
    assert_eq!(d.replicas, 5);
    assert_eq!(d.balancer.preset, Preset::AwsAlbIp);
    assert_eq!(d.balancer.via, None);
    assert_eq!(d.balancer.deregistration_delay_s, Some(300));
    assert!(
        d.balancer
            .because
            .contains("alb.ingress.kubernetes.io/target-type: ip on Ingress/ingress-2048"),
        "{}",
        d.balancer.because
    );
    assert_eq!(ids(&r, "game-2048/deployment-2048"), ["FS001", "FS003"]);
    // The aws_alb_ip lag: lognormal, p99 120 s, + the EndpointSlice's 50 ms.
    assert!(
        d.findings[0].inequality.contains("aws_alb_ip 120.05 s"),
        "{}",
        d.findings[0].inequality
    );
    // The Namespace document is read (no sidecar labels), nothing is skipped.
    assert!(r.skipped.is_empty());
}

/// The predicted loss of `w` with and without `changes`, same seeds.
fn with_and_without(w: &check::Workload, a: &Assumptions, changes: &[Change]) -> (f64, f64) {
    let seeds = scenarios::seed_list(1, 4);
    let before =
        check::model::predict(&w.id, &check::model::fleet_for(w, a).unwrap(), &seeds, 2).unwrap();
    let fixed = fix::apply(w, changes, a);
    let after = check::model::predict(
        &w.id,
        &check::model::fleet_for(&fixed, a).unwrap(),
        &seeds,
        2,
    )
    .unwrap();
    (before.failed.mean, after.failed.mean)
}

fn workloads(inputs: &[PathBuf]) -> Vec<check::Workload> {
    let docs = check::manifest::read_inputs(inputs).unwrap();
    let (objects, skipped) = check::manifest::classify(docs, false).unwrap();
    check::manifest::read(&objects, skipped, &check::MapOptions::default())
        .unwrap()
        .serving
}

#[test]
fn fs001_prestop_covering_the_lag_cuts_the_loss() {
    let w = &workloads(&[data("podinfo")])[0];
    let a = Assumptions {
        seeds: 4,
        ..Assumptions::default()
    };
    let (before, after) = with_and_without(w, &a, &[Change::PreStop { seconds: 2 }]);
    assert!(before > 5.0, "{before}");
    assert!(after < before / 2.0, "preStop 2 s: {before} -> {after}");
}

#[test]
fn fs003_readiness_probe_cuts_the_loss() {
    let w = &workloads(&[data("k8s-examples/tf-serving")])[0];
    let a = Assumptions {
        seeds: 4,
        ..Assumptions::default()
    };
    let (before, after) = with_and_without(w, &a, &[Change::ReadinessProbe]);
    assert!(after < before, "readiness probe: {before} -> {after}");
}

#[test]
fn fs004_exec_form_cuts_the_loss() {
    // podinfo's own manifest with its command wrapped in `sh -c` (the shell form).
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(data("podinfo/deployment.yaml")).unwrap().replace(
        "        command:\n        - ./podinfo\n",
        "        command:\n        - /bin/sh\n        - -c\n        - ./podinfo --port=9898\n        args:\n",
    );
    std::fs::write(dir.path().join("deployment.yaml"), text).unwrap();
    std::fs::copy(
        data("podinfo/service.yaml"),
        dir.path().join("service.yaml"),
    )
    .unwrap();
    let r = check::run(&plan(&[dir.path().to_path_buf()], &[])).unwrap();
    assert_eq!(ids(&r, "default/podinfo"), ["FS004"]);
    assert_eq!(
        r.deployments[0].findings[0].location.line, 38,
        "the command field"
    );
    // An application that drains on SIGTERM, behind a preStop that covers the lag: in the shell
    // form the drain never starts and SIGKILL resets what is in flight; exec form fixes that.
    let w = &workloads(&[dir.path().to_path_buf()])[0];
    let a = Assumptions {
        seeds: 4,
        sets: vec![("app.on_sigterm".into(), "drain".into())],
        ..Assumptions::default()
    };
    let with_prestop = fix::apply(w, &[Change::PreStop { seconds: 2 }], &a);
    let (before, after) = with_and_without(&with_prestop, &a, &[Change::ExecEntrypoint]);
    assert!(
        before > 0.0 && after < before,
        "exec form: {before} -> {after}"
    );
    // The patch prefixes the script with exec, leaving the rest of the command.
    let patch = check::yaml::emit(&fix::patch(w, &[Change::ExecEntrypoint], &a));
    assert!(
        patch.contains("- \"exec ./podinfo --port=9898\""),
        "{patch}"
    );
    assert!(
        patch.contains("- /bin/sh\n") && patch.contains("- \"-c\"\n"),
        "{patch}"
    );
}

#[test]
fn fix_output_rechecks_within_budget() {
    let out_root = tempfile::tempdir().unwrap();
    let out = out_root.path().join("fixed");
    let sets = [("app.on_sigterm", "drain")];
    let mut p = plan(
        &[
            data("podinfo"),
            data("k8s-examples/guestbook-all-in-one.yaml"),
        ],
        &sets,
    );
    p.search_fix = true;
    p.fix_out = Some(out.clone());
    let r = check::run(&p).unwrap();
    assert_eq!(r.exit_code(), 1, "the manifests as written are over budget");
    for d in &r.deployments {
        let f = d
            .fix
            .as_ref()
            .unwrap_or_else(|| panic!("no fix for {}", d.deployment));
        assert!(f.predicted.failed.mean <= 0.0);
        assert!(f.requires_app_change.is_none());
        assert!(
            f.changes
                .iter()
                .any(|c| matches!(c, Change::PreStop { .. })),
            "{:?}",
            f.changes
        );
    }
    assert_eq!(r.fixed_files.len(), 5, "{:?}", r.fixed_files);
    // Checking the written manifests again: within budget, with the preStop read back.
    let again = check::run(&plan(std::slice::from_ref(&out), &sets)).unwrap();
    assert_eq!(again.deployments.len(), 4);
    for (d, before) in again.deployments.iter().zip(&r.deployments) {
        assert_eq!(d.deployment, before.deployment);
        assert!(
            d.within_budget,
            "{} re-checked: {:?}",
            d.deployment, d.predicted.failed
        );
        assert_eq!(
            d.predicted.failed,
            before.fix.as_ref().unwrap().predicted.failed
        );
    }
    assert_eq!(again.exit_code(), 0);
    // --fix never writes over an existing folder.
    let err = check::run(&p).unwrap_err();
    assert!(matches!(err, check::CheckError::Write { .. }), "{err}");
}

#[test]
fn fix_is_found_by_the_sweep_and_is_the_smallest() {
    let w = &workloads(&[data("podinfo")])[0];
    let a = Assumptions {
        seeds: 4,
        sets: vec![("app.on_sigterm".into(), "drain".into())],
        ..Assumptions::default()
    };
    let seeds = scenarios::seed_list(1, 4);
    let f = fix::search(w, &a, 0.0, &seeds, 2).unwrap().expect("a fix");
    let Some(Change::PreStop { seconds }) = f
        .changes
        .iter()
        .find(|c| matches!(c, Change::PreStop { .. }))
    else {
        panic!("{:?}", f.changes)
    };
    // One step shorter on the ladder misses the budget (that is what smallest means).
    let ladder = [1, 2, 3, 5, 8, 10, 15, 20, 30];
    let i = ladder.iter().position(|s| s == seconds).unwrap();
    if i > 0 {
        let mut shorter = f.changes.clone();
        for c in &mut shorter {
            if let Change::PreStop { seconds } = c {
                *seconds = ladder[i - 1];
            }
        }
        let fleet = check::model::fleet_for(&fix::apply(w, &shorter, &a), &a).unwrap();
        let p = check::model::predict(&w.id, &fleet, &seeds, 2).unwrap();
        assert!(
            p.failed.mean > 0.0,
            "preStop {} s was already enough",
            ladder[i - 1]
        );
    }
}

#[test]
fn calibration_layer_sets_the_lag_the_findings_compare_with() {
    let cal = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/files/validation/calibration.toml");
    let mut p = plan(&[data("podinfo")], &[]);
    p.assumptions.calibration = check::model::read_calibration(&cal).unwrap();
    let r = check::run(&p).unwrap();
    let f = &r.deployments[0].findings[0];
    // The measured lag (empirical samples up to 1008.7 ms) replaces the preset's 10 ms..1 s.
    assert!(
        f.inequality.ends_with("kube_proxy_iptables 1.01 s"),
        "{}",
        f.inequality
    );
    assert!(r.assumed.iter().any(|a| a.contains("propagation.lag")));
}

#[test]
fn prediction_is_what_fleetsim_run_gives_for_the_same_fleet() {
    // The fleet check builds, written as a scenario file and run the way `fleetsim run` runs
    // one, gives the same figures.
    let w = &workloads(&[data("podinfo")])[0];
    let a = Assumptions {
        seeds: 4,
        ..Assumptions::default()
    };
    let fleet = check::model::fleet_for(w, &a).unwrap();
    let seeds = scenarios::seed_list(1, 4);
    let predicted = check::model::predict(&w.id, &fleet, &seeds, 2).unwrap();
    let scenario =
        scenarios::parse_scenario("podinfo.toml", &toml::to_string(&fleet).unwrap()).unwrap();
    let report = scenarios::run_scenario(&scenario, &seeds, 1, false, &|| {}).unwrap();
    let stat = report.aggregate().stat(measure::Figure::Failed).unwrap();
    assert_eq!(
        (
            predicted.failed.mean,
            predicted.failed.lo,
            predicted.failed.hi
        ),
        (stat.mean, stat.lo, stat.hi)
    );
    assert!(stat.mean > 0.0);
}

#[test]
fn every_assumption_is_printed_with_the_result() {
    let r = check::run(&plan(&[data("aws-lbc")], &[("app.keep_serving", "2s")])).unwrap();
    let text = check::output::render(&r, check::Format::Human);
    assert!(r.assumed.len() >= 7, "{:?}", r.assumed);
    for a in &r.assumed {
        assert!(text.contains(a.as_str()), "{a:?} missing from:\n{text}");
    }
    assert!(text.contains("--set app.keep_serving=2s"));
    // How the balancer was read is printed too.
    assert!(
        text.contains("balancer: Ingress/ingress-2048 with ingress class \"alb\""),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&check::output::render(&r, check::Format::Json)).unwrap();
    assert_eq!(json["assumed"].as_array().unwrap().len(), r.assumed.len());
    assert_eq!(json["assumptions"]["sets"][0][0], "app.keep_serving");
}
