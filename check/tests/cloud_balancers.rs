//! Cloud load balancers in front of a Deployment: an AWS ALB Ingress, an NLB Service, a GKE
//! Ingress, each mapped to its preset with the controller's annotations, the reason naming
//! the object and annotation that decided it, and every value that does not parse an error
//! naming the annotation. Inputs are written by the tests into temporary folders.

mod common;

use common::{PORT, deployment, plan, write};

use check::{Assumptions, CheckError, Report};
use models::Preset;
use sim_core::SimDuration;

/// The Deployment every case here reads: a TCP readiness probe every 2 s and a 5 s preStop.
fn web() -> String {
    deployment(
        "",
        &format!(
            "{PORT}        readinessProbe:\n          tcpSocket:\n            port: 8080\n          periodSeconds: 2\n        lifecycle:\n          preStop:\n            sleep:\n              seconds: 5\n"
        ),
    )
}

/// A Service `web` selecting the Deployment, of `type_` with `annotations` (YAML lines
/// indented four spaces, or empty).
fn service(type_: &str, annotations: &str) -> String {
    let ann = if annotations.is_empty() {
        String::new()
    } else {
        format!("  annotations:\n{annotations}")
    };
    format!(
        "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n{ann}spec:\n  type: {type_}\n  selector:\n    app: web\n  ports:\n  - port: 80\n    targetPort: 8080\n"
    )
}

/// An Ingress `web` of `class` sending to Service `web`, with `annotations` as in [`service`].
fn ingress(class: &str, annotations: &str) -> String {
    let ann = if annotations.is_empty() {
        String::new()
    } else {
        format!("  annotations:\n{annotations}")
    };
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n{ann}spec:\n  ingressClassName: {class}\n  rules:\n  - http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: web\n            port:\n              number: 80\n"
    )
}

fn ok(parts: &[&str]) -> Report {
    let (_d, p) = write(&format!("{}{}", web(), parts.concat()));
    check::run(&plan(p)).unwrap()
}

fn err(parts: &[&str]) -> CheckError {
    let (_d, p) = write(&format!("{}{}", web(), parts.concat()));
    check::run(&plan(p)).unwrap_err()
}

/// The fleet the check simulates for the manifests (its `[balancer]` is what the model gets).
fn fleet(parts: &[&str]) -> models::Fleet {
    let (_d, p) = write(&format!("{}{}", web(), parts.concat()));
    let docs = check::manifest::read_inputs(&[p]).unwrap();
    let (objects, skipped) = check::manifest::classify(docs, false).unwrap();
    let w = check::manifest::read(&objects, skipped, &check::MapOptions::default())
        .unwrap()
        .serving
        .remove(0);
    check::model::fleet_for(&w, &Assumptions::default()).unwrap()
}

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

#[test]
fn alb_target_type_ip_is_aws_alb_ip_with_its_health_checks() {
    let ann = "    alb.ingress.kubernetes.io/target-type: ip\n    alb.ingress.kubernetes.io/healthcheck-interval-seconds: '5'\n    alb.ingress.kubernetes.io/healthy-threshold-count: '4'\n    alb.ingress.kubernetes.io/unhealthy-threshold-count: '3'\n    alb.ingress.kubernetes.io/target-group-attributes: stickiness.enabled=false, deregistration_delay.timeout_seconds=45\n";
    let parts = [service("NodePort", ""), ingress("alb", ann)];
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let r = ok(&parts);
    let b = &r.deployments[0].balancer;
    assert_eq!(
        (
            b.preset,
            b.via,
            b.health_check_interval_s,
            b.healthy_threshold,
            b.deregistration_delay_s
        ),
        (Preset::AwsAlbIp, None, Some(5), Some(4), Some(45))
    );
    for said in [
        "Ingress/web with ingress class \"alb\"",
        "alb.ingress.kubernetes.io/target-type: ip on Ingress/web",
        "alb.ingress.kubernetes.io/healthcheck-interval-seconds: 5 on Ingress/web",
        "alb.ingress.kubernetes.io/healthy-threshold-count: 4 on Ingress/web",
        "alb.ingress.kubernetes.io/unhealthy-threshold-count: 3 on Ingress/web",
        "deregistration delay 45 s",
    ] {
        assert!(b.because.contains(said), "{said:?} not in {}", b.because);
    }
    // Where the preset was decided: the target-type annotation's line.
    let loc = b.loc.as_ref().unwrap();
    assert_eq!(
        loc.field,
        "metadata.annotations[alb.ingress.kubernetes.io/target-type]"
    );
    assert_eq!(
        loc.line, 46,
        "the Ingress's first annotation, after the Deployment and Service"
    );
    // What the model gets: 4 checks x 5 s before a new pod gets traffic, 45 s deregistration.
    let f = fleet(&parts);
    assert_eq!(f.balancer.preset, Preset::AwsAlbIp);
    let spec = f.balancer.resolve();
    assert_eq!(spec.health_check_delay, secs(20));
    assert_eq!(spec.deregistration_delay, Some(secs(45)));
    // ... and 3 failed checks x 5 s to stop routing to a pod that stopped answering.
    assert_eq!(b.unhealthy_threshold, Some(3));
    assert_eq!(spec.unhealthy_check, Some((secs(5), 3)));

    // The controller reads the annotation on the backend Service first.
    let r = ok(&[
        &service(
            "NodePort",
            "    alb.ingress.kubernetes.io/target-type: ip\n",
        ),
        &ingress(
            "alb",
            "    alb.ingress.kubernetes.io/target-type: instance\n",
        ),
    ]);
    let b = &r.deployments[0].balancer;
    assert_eq!(b.preset, Preset::AwsAlbIp);
    assert!(
        b.because
            .contains("alb.ingress.kubernetes.io/target-type: ip on Service/web"),
        "{}",
        b.because
    );
}

#[test]
fn alb_without_target_type_is_the_default_instance_mode() {
    let ann = "    alb.ingress.kubernetes.io/healthcheck-interval-seconds: '5'\n    alb.ingress.kubernetes.io/target-group-attributes: deregistration_delay.timeout_seconds=45\n";
    let parts = [service("NodePort", ""), ingress("alb", ann)];
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let r = ok(&parts);
    let d = &r.deployments[0];
    let b = &d.balancer;
    // aws_alb_instance implies the kube-proxy hop: no `via` is set (the model takes none).
    assert_eq!(
        (
            b.preset,
            b.via,
            b.health_check_interval_s,
            b.deregistration_delay_s
        ),
        (Preset::AwsAlbInstance, None, None, None)
    );
    assert!(
        b.because.contains(
            "no alb.ingress.kubernetes.io/target-type on Service/web or Ingress/web: the controller's default, instance"
        ),
        "{}",
        b.because
    );
    // The health check and the deregistration delay act on nodes: notes say so.
    for said in [
        "alb.ingress.kubernetes.io/healthcheck-interval-seconds: 5 on Ingress/web",
        "deregistration_delay.timeout_seconds=45 (alb.ingress.kubernetes.io/target-group-attributes on Ingress/web)",
    ] {
        assert!(
            d.notes
                .iter()
                .any(|n| n.starts_with(said) && n.contains("targets are the nodes")),
            "{said:?} not in {:?}",
            d.notes
        );
    }
    let f = fleet(&parts);
    assert_eq!(f.balancer.preset, Preset::AwsAlbInstance);
    assert_eq!(f.balancer.via, None);
    assert_eq!(f.balancer.health_check_interval, None);
    assert_eq!(f.balancer.deregistration_delay, None);
    // The kube-proxy hop's lag (about 1 s), which the 5 s preStop covers: no FS001. With IP
    // targets the ALB's own tail (p99 120 s) is the lag, which it does not.
    assert!(
        d.findings.iter().all(|f| f.id != "FS001"),
        "{:?}",
        d.findings
    );
    let r = ok(&[
        &service("NodePort", ""),
        &ingress("alb", "    alb.ingress.kubernetes.io/target-type: ip\n"),
    ]);
    assert!(
        r.deployments[0]
            .findings
            .iter()
            .any(|f| f.id == "FS001" && f.inequality.contains("p99 lag of aws_alb_ip 120.05 s")),
        "{:?}",
        r.deployments[0].findings
    );

    // `instance` written out is the same preset.
    let r = ok(&[
        &service("NodePort", ""),
        &ingress(
            "alb",
            "    alb.ingress.kubernetes.io/target-type: instance\n",
        ),
    ]);
    assert_eq!(r.deployments[0].balancer.preset, Preset::AwsAlbInstance);
    assert!(r.deployments[0].notes.iter().all(|n| !n.contains("alb.")));
}

#[test]
fn nlb_ip_targets_are_aws_nlb_ip_with_its_health_checks() {
    let ann = "    service.beta.kubernetes.io/aws-load-balancer-type: external\n    service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip\n    service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval: \"20\"\n    service.beta.kubernetes.io/aws-load-balancer-healthcheck-healthy-threshold: \"2\"\n    service.beta.kubernetes.io/aws-load-balancer-healthcheck-unhealthy-threshold: \"4\"\n";
    let parts = [service("LoadBalancer", ann)];
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let r = ok(&parts);
    let b = &r.deployments[0].balancer;
    assert_eq!(
        (
            b.preset,
            b.via,
            b.health_check_interval_s,
            b.healthy_threshold
        ),
        (Preset::AwsNlbIp, None, Some(20), Some(2))
    );
    for said in [
        "Service/web is type LoadBalancer",
        "service.beta.kubernetes.io/aws-load-balancer-type: external on Service/web",
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip on Service/web",
        "service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval: 20 on Service/web",
    ] {
        assert!(b.because.contains(said), "{said:?} not in {}", b.because);
    }
    let f = fleet(&parts);
    assert_eq!(f.balancer.preset, Preset::AwsNlbIp);
    assert_eq!(f.balancer.resolve().health_check_delay, secs(40));
    assert_eq!(f.balancer.resolve().unhealthy_check, Some((secs(20), 4)));

    // The deprecated nlb-ip type means IP targets too.
    let r = ok(&[&service(
        "LoadBalancer",
        "    service.beta.kubernetes.io/aws-load-balancer-type: nlb-ip\n",
    )]);
    let b = &r.deployments[0].balancer;
    assert_eq!(b.preset, Preset::AwsNlbIp);
    assert!(b.because.contains("nlb-ip on Service/web"), "{}", b.because);

    // The deregistration delay acts only with connection termination on: then the model
    // resets the flows still open when it ends; off, it is a note and not in the model.
    let nlb = "    service.beta.kubernetes.io/aws-load-balancer-type: nlb-ip\n    service.beta.kubernetes.io/aws-load-balancer-target-group-attributes: ";
    let on = format!(
        "{nlb}deregistration_delay.timeout_seconds=20,deregistration_delay.connection_termination.enabled=true\n"
    );
    let parts = [service("LoadBalancer", &on)];
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let r = ok(&parts);
    let b = &r.deployments[0].balancer;
    assert_eq!(
        (b.connection_termination, b.deregistration_delay_s),
        (Some(true), Some(20))
    );
    assert!(
        b.because.contains("connection_termination.enabled=true"),
        "{}",
        b.because
    );
    let f = fleet(&parts);
    assert_eq!(f.balancer.connection_termination, Some(true));
    assert_eq!(f.balancer.resolve().deregistration_delay, Some(secs(20)));
    let off = format!("{nlb}deregistration_delay.timeout_seconds=20\n");
    let parts = [service("LoadBalancer", &off)];
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let r = ok(&parts);
    assert!(
        r.deployments[0]
            .notes
            .iter()
            .any(|n| n.contains("connection termination off")),
        "{:?}",
        r.deployments[0].notes
    );
    let f = fleet(&parts);
    assert_eq!(f.balancer.resolve().deregistration_delay, None);
    let bad = format!("{nlb}deregistration_delay.connection_termination.enabled=yes\n");
    let e = err(&[&service("LoadBalancer", &bad)]).to_string();
    assert!(e.contains("connection_termination.enabled"), "{e}");
}

#[test]
fn nlb_instance_targets_are_aws_nlb_instance() {
    let ann = "    service.beta.kubernetes.io/aws-load-balancer-type: external\n    service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: instance\n    service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval: \"20\"\n";
    let r = ok(&[&service("LoadBalancer", ann)]);
    let d = &r.deployments[0];
    assert_eq!(
        (
            d.balancer.preset,
            d.balancer.via,
            d.balancer.health_check_interval_s
        ),
        (Preset::AwsNlbInstance, None, None)
    );
    assert!(
        d.balancer.because.contains(
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: instance on Service/web"
        ),
        "{}",
        d.balancer.because
    );
    assert!(
        d.notes.iter().any(|n| n.starts_with(
            "service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval: 20 on Service/web"
        ) && n.contains("does not enter the prediction")),
        "{:?}",
        d.notes
    );

    // No target type: the controller's default, instance; loadBalancerClass alone as well.
    let r = ok(&[&service(
        "LoadBalancer",
        "    service.beta.kubernetes.io/aws-load-balancer-type: external\n",
    )]);
    let b = &r.deployments[0].balancer;
    assert_eq!(b.preset, Preset::AwsNlbInstance);
    assert!(
        b.because.contains("the controller's default, instance"),
        "{}",
        b.because
    );
    let r = ok(&[&service("LoadBalancer", "").replace(
        "  type: LoadBalancer\n",
        "  type: LoadBalancer\n  loadBalancerClass: service.k8s.aws/nlb\n",
    )]);
    let b = &r.deployments[0].balancer;
    assert_eq!(b.preset, Preset::AwsNlbInstance);
    assert!(
        b.because
            .contains("spec.loadBalancerClass: service.k8s.aws/nlb on Service/web"),
        "{}",
        b.because
    );
}

#[test]
fn load_balancer_service_without_annotations_keeps_cloud_lb_and_says_it_is_assumed() {
    let r = ok(&[&service("LoadBalancer", "")]);
    let b = &r.deployments[0].balancer;
    assert_eq!(
        (b.preset, b.via),
        (Preset::CloudLb, Some(Preset::KubeProxyIptables))
    );
    assert!(
        b.because
            .starts_with("Service/web is type LoadBalancer with no annotation that names"),
        "{}",
        b.because
    );
    assert!(b.because.contains("assumed"), "{}", b.because);
    assert_eq!(b.loc.as_ref().unwrap().field, "spec.type");
}

#[test]
fn gce_ingress_with_neg_is_gclb_neg() {
    let r = ok(&[
        &service(
            "ClusterIP",
            "    cloud.google.com/neg: '{\"ingress\": true}'\n",
        ),
        &ingress("gce", ""),
    ]);
    let b = &r.deployments[0].balancer;
    assert_eq!((b.preset, b.via), (Preset::GclbNeg, None));
    assert!(
        b.because.contains("Ingress/web with ingress class \"gce\"")
            && b.because
                .contains("cloud.google.com/neg: {\"ingress\": true} on Service/web"),
        "{}",
        b.because
    );
    assert_eq!(
        b.loc.as_ref().unwrap().field,
        "metadata.annotations[cloud.google.com/neg]"
    );
}

#[test]
fn gce_ingress_without_neg_is_cloud_lb_via_kube_proxy() {
    let r = ok(&[&service("NodePort", ""), &ingress("gce", "")]);
    let b = &r.deployments[0].balancer;
    assert_eq!(
        (b.preset, b.via),
        (Preset::CloudLb, Some(Preset::KubeProxyIptables))
    );
    for said in [
        "no cloud.google.com/neg on Service/web",
        "no preset for GCLB with instance groups",
        "an assumption",
    ] {
        assert!(b.because.contains(said), "{said:?} not in {}", b.because);
    }
    // A NEG annotation for standalone NEGs only does not make the Ingress use them.
    let r = ok(&[
        &service(
            "NodePort",
            "    cloud.google.com/neg: '{\"exposed_ports\": {\"80\": {}}}'\n",
        ),
        &ingress("gce", ""),
    ]);
    let b = &r.deployments[0].balancer;
    assert_eq!(b.preset, Preset::CloudLb);
    assert!(
        b.because.contains("does not ask for NEGs for Ingress"),
        "{}",
        b.because
    );
}

#[test]
fn annotation_values_that_do_not_parse_are_errors_naming_the_annotation() {
    let ing = |a: &str| ingress("alb", &format!("    alb.ingress.kubernetes.io/{a}\n"));
    let svc = |a: &str| {
        service(
            "LoadBalancer",
            &format!(
                "    service.beta.kubernetes.io/aws-load-balancer-type: external\n    service.beta.kubernetes.io/{a}\n"
            ),
        )
    };
    let cases = [
        (
            [
                service("NodePort", ""),
                ing("healthcheck-interval-seconds: ten"),
            ],
            "Ingress/web",
            "alb.ingress.kubernetes.io/healthcheck-interval-seconds",
            "\"ten\" is not a whole number of seconds",
        ),
        (
            [service("NodePort", ""), ing("healthy-threshold-count: '0'")],
            "Ingress/web",
            "alb.ingress.kubernetes.io/healthy-threshold-count",
            "0 checks: the model takes 1 to 10",
        ),
        (
            [service("NodePort", ""), ing("target-type: pod")],
            "Ingress/web",
            "alb.ingress.kubernetes.io/target-type",
            "\"pod\": ip or instance",
        ),
        (
            [
                service("NodePort", ""),
                ing("target-group-attributes: deregistration_delay.timeout_seconds=30s"),
            ],
            "Ingress/web",
            "alb.ingress.kubernetes.io/target-group-attributes",
            "deregistration_delay.timeout_seconds=\"30s\" is not a whole number",
        ),
        (
            [
                svc("aws-load-balancer-healthcheck-interval: 10s"),
                String::new(),
            ],
            "Service/web",
            "service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval",
            "\"10s\" is not a whole number of seconds",
        ),
        (
            [
                svc("aws-load-balancer-nlb-target-type: pods"),
                String::new(),
            ],
            "Service/web",
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type",
            "\"pods\": ip or instance",
        ),
        (
            [
                service(
                    "LoadBalancer",
                    "    service.beta.kubernetes.io/aws-load-balancer-type: alb\n",
                ),
                String::new(),
            ],
            "Service/web",
            "service.beta.kubernetes.io/aws-load-balancer-type",
            "\"alb\": external or nlb-ip",
        ),
        (
            [
                service("NodePort", "    cloud.google.com/neg: '{ingress: true}'\n"),
                ingress("gce", ""),
            ],
            "Service/web",
            "cloud.google.com/neg",
            "is not JSON",
        ),
    ];
    for (parts, document, annotation, reason) in cases {
        let e = err(&[&parts[0], &parts[1]]);
        let CheckError::Invalid {
            document: doc,
            field,
            reason: why,
            file,
            ..
        } = &e
        else {
            panic!("{annotation}: not an Invalid error: {e}")
        };
        assert!(file.ends_with("m.yaml"), "{e}");
        assert_eq!(doc, document, "{e}");
        assert_eq!(field, &format!("metadata.annotations[{annotation}]"), "{e}");
        assert!(why.contains(reason), "{annotation}: {reason:?} not in {e}");
    }
    // The error's line is the annotation's.
    let e = err(&[
        &service("NodePort", ""),
        &ing("healthcheck-interval-seconds: ten"),
    ]);
    assert!(
        e.to_string().starts_with(&format!(
            "{}:46: Ingress/web: metadata.annotations[alb.ingress.kubernetes.io/healthcheck-interval-seconds]",
            match &e {
                CheckError::Invalid { file, .. } => file.clone(),
                _ => unreachable!(),
            }
        )),
        "{e}"
    );
}

/// A health-check annotation reaches the simulator. With `minReadySeconds: 60` each new pod
/// waits a minute before the rollout goes on, long enough for the default health checks
/// (2 x 15 s after registration) to put it in the ALB's rotation before an old pod goes. Ten
/// checks a minute apart keep the new pods out for 10 minutes, past the whole rollout: once
/// the old pods are gone the ALB has no healthy target and answers 503.
#[test]
fn alb_health_check_annotations_change_the_prediction() {
    let predict = |ann: &str| {
        let text = format!(
            "{}{}{}",
            web().replace("  replicas: 3\n", "  replicas: 3\n  minReadySeconds: 60\n"),
            service("NodePort", ""),
            ingress("alb", ann)
        );
        let (_d, p) = write(&text);
        check::run(&plan(p)).unwrap().deployments.remove(0)
    };
    let ip = "    alb.ingress.kubernetes.io/target-type: ip\n";
    let slow_checks = "    alb.ingress.kubernetes.io/healthcheck-interval-seconds: '60'\n    alb.ingress.kubernetes.io/healthy-threshold-count: '10'\n";
    let default = predict(ip);
    let slow = predict(&format!("{ip}{slow_checks}"));
    assert_eq!(
        (
            slow.balancer.health_check_interval_s,
            slow.balancer.healthy_threshold
        ),
        (Some(60), Some(10))
    );
    let (d, s) = (&default.predicted, &slow.predicted);
    assert!(
        s.failed.mean > 2.0 * d.failed.mean,
        "default {:?}, slow health checks {:?}",
        d.failed,
        s.failed
    );
    // The difference is the ALB with no healthy target.
    assert!(!d.by_mechanism.contains_key("no_endpoints"), "{d:?}");
    assert!(s.by_mechanism["no_endpoints"] > 100.0, "{s:?}");
    assert!(s.by_class.contains_key("http_503"), "{s:?}");

    // The same annotations in instance mode act on nodes: the prediction does not move.
    let instance = "    alb.ingress.kubernetes.io/target-type: instance\n";
    assert_eq!(
        predict(&format!("{instance}{slow_checks}"))
            .predicted
            .failed,
        predict(instance).predicted.failed
    );
}

/// `web()` with these lines (each indented 8 spaces) as its pod template's annotations.
fn with_pod_annotations(lines: &str) -> String {
    let plain = web();
    let d = plain.replace(
        "      labels:\n        app: web\n    spec:",
        &format!("      labels:\n        app: web\n      annotations:\n{lines}    spec:"),
    );
    assert_ne!(d, plain, "the pod template's labels moved");
    d
}

/// The fleet `fleetsim check` builds for the first serving Deployment of the manifests at `p`.
fn first_fleet(p: std::path::PathBuf) -> models::Fleet {
    let docs = check::manifest::read_inputs(&[p]).unwrap();
    let (objects, skipped) = check::manifest::classify(docs, false).unwrap();
    let w = check::manifest::read(&objects, skipped, &check::MapOptions::default())
        .unwrap()
        .serving
        .remove(0);
    check::model::fleet_for(&w, &Assumptions::default()).unwrap()
}

/// The balancer `fleetsim check` reads for `deployment` behind an ALB in IP mode (an Ingress
/// of class alb over a NodePort Service), with the manifests' path (kept while the guard lives).
fn read_behind_alb_ip(
    deployment: &str,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    check::manifest::BalancerRead,
) {
    let alb = ingress("alb", "    alb.ingress.kubernetes.io/target-type: ip\n");
    let (d, p) = write(&format!("{deployment}{}{alb}", service("NodePort", "")));
    let b = check::run(&plan(p.clone()))
        .unwrap()
        .deployments
        .remove(0)
        .balancer;
    (d, p, b)
}

/// The balancer `fleetsim check` reads for `deployment` behind a ClusterIP Service alone.
fn read_alone(deployment: &str) -> check::manifest::BalancerRead {
    let (_d, p) = write(&format!("{deployment}{}", service("ClusterIP", "")));
    check::run(&plan(p)).unwrap().deployments.remove(0).balancer
}

#[test]
fn istio_pods_behind_an_ingress_are_the_chain_ingress_to_envoy_to_app() {
    // The same Deployment with Istio's sidecar injected, behind an ALB in IP mode: the ALB
    // picks the pod and the pod's Envoy sits between it and the app (sidecar = "envoy", with
    // the terminationDrainDuration the pod's proxy config gives).
    let istio = with_pod_annotations(
        "        sidecar.istio.io/inject: \"true\"\n        proxy.istio.io/config: |\n          terminationDrainDuration: 20s\n",
    );
    let (_d, p, b) = read_behind_alb_ip(&istio);
    assert_eq!(
        (b.preset, b.sidecar, b.sidecar_drain_s),
        (Preset::AwsAlbIp, Some(models::Sidecar::Envoy), Some(20.0))
    );
    assert!(
        b.because.contains("Istio sidecar sits behind it"),
        "{}",
        b.because
    );
    let f = first_fleet(p);
    assert_eq!(f.balancer.sidecar, Some(models::Sidecar::Envoy));
    assert_eq!(f.balancer.resolve().sidecar_drain, Some(secs(20)));
    // Without an entry balancer in front, the mesh preset stays (its own sidecar).
    let b = read_alone(&istio);
    assert_eq!((b.preset, b.sidecar), (Preset::EnvoySidecar, None));
}

#[test]
fn linkerd_pods_behind_an_ingress_are_the_chain_ingress_to_linkerd_to_app() {
    // Linkerd injected, with a 10 s waitBeforeExitSeconds, behind an ALB in IP mode: the pod's
    // Linkerd proxy sits between the ALB and the app (sidecar = "linkerd").
    let linkerd = with_pod_annotations(
        "        linkerd.io/inject: enabled\n        config.alpha.linkerd.io/proxy-wait-before-exit-seconds: \"10\"\n",
    );
    let (_d, p, b) = read_behind_alb_ip(&linkerd);
    assert_eq!(
        (b.preset, b.sidecar, b.wait_before_exit_s),
        (Preset::AwsAlbIp, Some(models::Sidecar::Linkerd), Some(10))
    );
    assert!(
        b.because.contains("Linkerd proxy sits behind it"),
        "{}",
        b.because
    );
    let f = first_fleet(p);
    assert_eq!(f.balancer.sidecar, Some(models::Sidecar::Linkerd));
    assert_eq!(f.balancer.resolve().sidecar_refuse_after, Some(secs(10)));
    // Without an entry balancer in front, the mesh preset stays, with the same wait.
    let b = read_alone(&linkerd);
    assert_eq!(
        (b.preset, b.sidecar, b.wait_before_exit_s),
        (Preset::LinkerdSidecar, None, Some(10))
    );
    // A wait that is not a whole number of seconds is an error naming the annotation.
    let bad = linkerd.replace("\"10\"", "\"10s\"");
    let (_d, p) = write(&format!("{bad}{}", service("ClusterIP", "")));
    let e = check::run(&plan(p)).unwrap_err().to_string();
    assert!(e.contains("proxy-wait-before-exit-seconds"), "{e}");
}

#[test]
fn streams_set_on_the_command_line_are_predicted_and_reported() {
    // `--set streams.count=40`: the prediction says what the rollout does to the streams (cut
    // by pods that exit at SIGTERM, asked to leave by pods that drain), in the JSON and in the
    // human report; without it there is no streams block at all.
    let (_d, p) = write(&format!("{}{}", web(), service("ClusterIP", "")));
    let with = |sets: &[(&str, &str)]| {
        let mut pl = plan(p.clone());
        pl.assumptions.sets = sets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        check::run(&pl).unwrap()
    };
    let exit = with(&[("streams.count", "40")]);
    let st = exit.deployments[0]
        .predicted
        .streams
        .as_ref()
        .expect("streams predicted");
    assert_eq!(st.streams, 40);
    assert!(
        st.cut.mean >= 40.0,
        "every stream cut at least once: {st:?}"
    );
    assert_eq!(st.asked_to_leave.hi, 0.0, "{st:?}");
    let drain = with(&[("streams.count", "40"), ("app.on_sigterm", "drain")]);
    let st = drain.deployments[0].predicted.streams.as_ref().unwrap();
    assert_eq!(st.cut.hi, 0.0, "{st:?}");
    assert!(st.asked_to_leave.mean >= 40.0, "{st:?}");
    let human = check::output::render(&drain, check::output::Format::Human);
    assert!(human.contains("streams (40 held): cut 0.0"), "{human}");
    let none = with(&[]);
    assert!(none.deployments[0].predicted.streams.is_none());
    let json = serde_json::to_string(&none).unwrap();
    assert!(!json.contains("\"streams\""), "{json}");
}

/// Behind Traefik a change can wait for its reload throttle (`providersThrottleDuration`, 2 s)
/// on top of the reload's own time, so a 1 s preStop, which covers one reload (30..250 ms),
/// does not cover the lag a deletion that follows another change sees: FS001 names the
/// throttle, and the 5 s preStop of the other cases covers it.
#[test]
fn traefiks_reload_throttle_counts_in_the_prestop_rule() {
    let short = deployment(
        "",
        &format!(
            "{PORT}        lifecycle:\n          preStop:\n            sleep:\n              seconds: 1\n"
        ),
    );
    let (_d, p) = write(&format!(
        "{short}{}{}",
        service("ClusterIP", ""),
        ingress("traefik", "")
    ));
    let r = check::run(&plan(p)).unwrap();
    let d = &r.deployments[0];
    assert_eq!(d.balancer.preset, Preset::Traefik);
    let fs001 = d
        .findings
        .iter()
        .find(|f| f.id == "FS001")
        .unwrap_or_else(|| {
            panic!(
                "no FS001 for a 1 s preStop behind Traefik: {:?}",
                d.findings
            )
        });
    assert!(
        fs001
            .inequality
            .contains("p99 lag of traefik (with its 2 s sync limit) 2.30 s"),
        "{}",
        fs001.inequality
    );
    let r = ok(&[&service("ClusterIP", ""), &ingress("traefik", "")]);
    assert!(
        r.deployments[0].findings.iter().all(|f| f.id != "FS001"),
        "{:?}",
        r.deployments[0].findings
    );
}
