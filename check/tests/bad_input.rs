//! Each class of bad input is an error naming the file, line, document and field, and the
//! mapping of the annotations that change the data path. Inputs are written by the tests into
//! temporary folders.

mod common;

use common::{PORT, deployment, plan, write};
use std::path::PathBuf;

use check::{Assumptions, CheckError, Report};
use models::Preset;

const SERVICE: &str = "---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
";

fn err(text: &str) -> CheckError {
    let (_d, p) = write(text);
    check::run(&plan(p)).unwrap_err()
}

fn ok(text: &str) -> Report {
    let (_d, p) = write(text);
    check::run(&plan(p)).unwrap()
}

#[test]
fn not_yaml_names_file_and_line() {
    let e = err("apiVersion: v1\nkind: [Service\nmetadata: {}\n");
    let CheckError::NotYaml { file, line, .. } = &e else {
        panic!("{e}")
    };
    assert!(file.ends_with("m.yaml"));
    assert!(*line >= 2, "{e}");
}

#[test]
fn unknown_kind_is_skipped_or_an_error_with_strict_kinds() {
    let text = format!(
        "{}{SERVICE}---\napiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\n",
        deployment("", PORT)
    );
    let r = ok(&text);
    assert_eq!(r.skipped.len(), 1);
    assert_eq!(
        (
            r.skipped[0].kind.as_str(),
            r.skipped[0].name.as_str(),
            r.skipped[0].line
        ),
        ("CronJob", "nightly", 32)
    );
    let (_d, p) = write(&text);
    let mut pl = plan(p);
    pl.strict_kinds = true;
    let e = check::run(&pl).unwrap_err();
    assert!(
        matches!(&e, CheckError::UnknownKind { kind, line: 32, .. } if kind == "CronJob"),
        "{e}"
    );
}

#[test]
fn no_container_port_with_a_service_is_an_error_naming_the_field() {
    let e = err(&format!("{}{SERVICE}", deployment("", "")));
    let msg = e.to_string();
    assert!(
        msg.contains("m.yaml:16: Deployment/web: spec.template.spec.containers[0].ports"),
        "{msg}"
    );
    assert!(msg.contains("Service/web selects this Deployment"), "{msg}");
    // Without a Service it is not served and not an error.
    let r = ok(&deployment("", ""));
    assert_eq!(r.not_serving, ["default/web"]);
    assert!(r.deployments.is_empty());
}

#[test]
fn strategy_kubernetes_rejects_is_an_error() {
    let e = err(&format!(
        "{}{SERVICE}",
        deployment(
            "  strategy:\n    rollingUpdate:\n      maxSurge: 0\n      maxUnavailable: 0%\n",
            PORT
        )
    ));
    let msg = e.to_string();
    assert!(
        msg.contains(":10: Deployment/web: spec.strategy.rollingUpdate.maxUnavailable"),
        "{msg}"
    );
    assert!(msg.contains("Kubernetes rejects"), "{msg}");
    let e = err(&format!(
        "{}{SERVICE}",
        deployment("  strategy:\n    type: Recreate\n", PORT)
    ));
    assert!(
        e.to_string().contains("spec.strategy.type: Recreate"),
        "{e}"
    );
    let e = err(&format!(
        "{}{SERVICE}",
        deployment(
            "  strategy:\n    rollingUpdate:\n      maxSurge: \"two\"\n",
            PORT
        )
    ));
    assert!(e.to_string().contains("maxSurge: \"two\""), "{e}");
}

#[test]
fn wrong_types_are_errors_naming_the_field() {
    let e = err(&format!(
        "{}{SERVICE}",
        deployment("", "        ports:\n        - containerPort: 8080\n").replace(
            "    spec:\n      containers:",
            "    spec:\n      terminationGracePeriodSeconds: \"30\"\n      containers:"
        )
    ));
    assert!(
        e.to_string().contains(
            "spec.template.spec.terminationGracePeriodSeconds: \"30\" is a quoted string"
        ),
        "{e}"
    );
    let e = err("apiVersion: apps/v1beta1\nkind: Deployment\nmetadata:\n  name: old\nspec: {}\n");
    assert!(
        e.to_string().contains("apiVersion: \"apps/v1beta1\""),
        "{e}"
    );
    let e = err("- just\n- a list\n");
    assert!(e.to_string().contains("a manifest is a mapping"), "{e}");
    let e = err("metadata:\n  name: x\n");
    assert!(e.to_string().contains("kind: missing"), "{e}");
}

#[test]
fn unknown_prestop_length_and_ingress_class_are_errors_unless_given() {
    let hook = "        lifecycle:\n          preStop:\n            exec:\n              command: [\"/drain.sh\"]\n";
    let e = err(&format!(
        "{}{SERVICE}",
        deployment("", &format!("{PORT}{hook}"))
    ));
    assert!(
        e.to_string()
            .contains("lifecycle.preStop.exec.command: cannot tell how long"),
        "{e}"
    );
    let ing = "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\nspec:\n  ingressClassName: contour\n  rules:\n  - http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: web\n            port:\n              number: 80\n";
    let text = format!("{}{SERVICE}{ing}", deployment("", PORT));
    let e = err(&text);
    assert!(
        e.to_string()
            .contains("ingress class \"contour\" has no preset"),
        "{e}"
    );
    // --proxy names the preset instead.
    let (_d, p) = write(&text);
    let mut pl = plan(p);
    pl.proxy = Some(Preset::IngressNginx);
    let r = check::run(&pl).unwrap();
    assert_eq!(r.deployments[0].balancer.preset, Preset::IngressNginx);
    assert!(
        r.deployments[0]
            .balancer
            .because
            .starts_with("--proxy ingress_nginx")
    );
}

#[test]
fn bad_assumption_is_an_error_naming_the_field() {
    let (_d, p) = write(&format!("{}{SERVICE}", deployment("", PORT)));
    let mut pl = plan(p);
    pl.assumptions.sets = vec![("app.on_sigterm".into(), "explode".into())];
    let e = check::run(&pl).unwrap_err();
    assert!(e.to_string().contains("app.on_sigterm"), "{e}");
    pl.assumptions.sets = vec![("app.no_such_field".into(), "1".into())];
    let e = check::run(&pl).unwrap_err();
    assert!(e.to_string().contains("no_such_field"), "{e}");
    // An unreadable path.
    let e = check::run(&plan(PathBuf::from("/nonexistent/m.yaml"))).unwrap_err();
    assert!(matches!(e, CheckError::Read { .. }), "{e}");
}

#[test]
fn sidecar_and_load_balancer_annotations_pick_the_preset() {
    let istio = deployment("", PORT).replace(
        "      labels:\n        app: web\n    spec:",
        "      labels:\n        app: web\n      annotations:\n        sidecar.istio.io/inject: \"true\"\n        proxy.istio.io/config: |\n          terminationDrainDuration: 20s\n    spec:",
    );
    let r = ok(&format!("{istio}{SERVICE}"));
    let b = &r.deployments[0].balancer;
    assert_eq!(
        (b.preset, b.sidecar_drain_s),
        (Preset::EnvoySidecar, Some(20.0))
    );

    let linkerd = deployment("", PORT).replace(
        "      labels:\n        app: web\n    spec:",
        "      labels:\n        app: web\n      annotations:\n        linkerd.io/inject: enabled\n    spec:",
    );
    let r = ok(&format!("{linkerd}{SERVICE}"));
    assert_eq!(r.deployments[0].balancer.preset, Preset::LinkerdSidecar);
    assert!(
        r.deployments[0]
            .balancer
            .because
            .contains("linkerd_sidecar")
    );

    // Traefik and HAProxy ingress classes pick their own presets.
    let ing = |class: &str| {
        format!(
            "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\nspec:\n  ingressClassName: {class}\n  rules:\n  - http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: web\n            port:\n              number: 80\n"
        )
    };
    for (class, preset) in [
        ("traefik", Preset::Traefik),
        ("haproxy", Preset::HaproxyIngress),
    ] {
        let r = ok(&format!("{}{SERVICE}{}", deployment("", PORT), ing(class)));
        assert_eq!(r.deployments[0].balancer.preset, preset, "{class}");
    }

    let alb = |tt: &str| {
        format!(
            "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  annotations:\n    alb.ingress.kubernetes.io/target-type: {tt}\n    alb.ingress.kubernetes.io/target-group-attributes: deregistration_delay.timeout_seconds=30,stickiness.enabled=false\nspec:\n  ingressClassName: alb\n  defaultBackend:\n    service:\n      name: web\n      port:\n        number: 80\n"
        )
    };
    let r = ok(&format!("{}{SERVICE}{}", deployment("", PORT), alb("ip")));
    let b = &r.deployments[0].balancer;
    assert_eq!(
        (b.preset, b.via, b.deregistration_delay_s),
        (Preset::AwsAlbIp, None, Some(30))
    );
    let r = ok(&format!(
        "{}{SERVICE}{}",
        deployment("", PORT),
        alb("instance")
    ));
    let d = &r.deployments[0];
    let b = &d.balancer;
    // The preset implies the kube-proxy hop; the deregistration delay acts on nodes.
    assert_eq!(
        (b.preset, b.via, b.deregistration_delay_s),
        (Preset::AwsAlbInstance, None, None)
    );
    assert!(
        d.notes
            .iter()
            .any(|n| n.contains("deregistration_delay.timeout_seconds=30")
                && n.contains("does not enter the prediction")),
        "{:?}",
        d.notes
    );
}

#[test]
fn fs005_surge_zero_and_its_fix() {
    let text = format!(
        "{}{SERVICE}",
        deployment(
            "  strategy:\n    rollingUpdate:\n      maxSurge: 0\n      maxUnavailable: 1\n",
            &format!(
                "{PORT}        readinessProbe:\n          tcpSocket:\n            port: 8080\n          periodSeconds: 2\n        lifecycle:\n          preStop:\n            sleep:\n              seconds: 5\n"
            )
        )
    );
    let r = ok(&text);
    let d = &r.deployments[0];
    let ids: Vec<_> = d.findings.iter().map(|f| f.id).collect();
    assert_eq!(ids, ["FS005"]);
    assert!(
        d.findings[0].inequality.contains(">= 2 of 3 < 3"),
        "{}",
        d.findings[0].inequality
    );
    assert_eq!(
        d.findings[0].location.line, 8,
        "spec.strategy.rollingUpdate"
    );
    let cap = d.predicted.capacity_dip.unwrap();
    assert!((cap.mean - 2.0 / 3.0).abs() < 1e-9, "{cap:?}");
    // With the surge the fix proposes, capacity stays at 3 of 3.
    let (_d, p) = write(&text);
    let docs = check::manifest::read_inputs(&[p]).unwrap();
    let (objects, skipped) = check::manifest::classify(docs, false).unwrap();
    let w = check::manifest::read(&objects, skipped, &check::MapOptions::default())
        .unwrap()
        .serving
        .remove(0);
    let a = Assumptions {
        seeds: 2,
        ..Assumptions::default()
    };
    let fixed = check::fix::apply(&w, &[check::Change::Surge], &a);
    let p = check::model::predict(
        &w.id,
        &check::model::fleet_for(&fixed, &a).unwrap(),
        &[1, 2],
        1,
    )
    .unwrap();
    assert_eq!(p.capacity_dip.unwrap().mean, 1.0);
}

#[test]
fn gke_ingress_with_and_without_neg() {
    let ing = "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  annotations:\n    kubernetes.io/ingress.class: gce\nspec:\n  defaultBackend:\n    service:\n      name: web\n      port:\n        number: 80\n";
    let r = ok(&format!("{}{SERVICE}{ing}", deployment("", PORT)));
    let b = &r.deployments[0].balancer;
    assert_eq!(
        (b.preset, b.via),
        (Preset::CloudLb, Some(Preset::KubeProxyIptables))
    );
    let neg = SERVICE.replace(
        "  name: web\n",
        "  name: web\n  annotations:\n    cloud.google.com/neg: '{\"ingress\": true}'\n",
    );
    let r = ok(&format!("{}{neg}{ing}", deployment("", PORT)));
    let b = &r.deployments[0].balancer;
    assert_eq!((b.preset, b.via), (Preset::GclbNeg, None));
    assert!(b.because.contains("cloud.google.com/neg"), "{}", b.because);
}
