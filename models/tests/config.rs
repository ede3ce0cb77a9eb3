//! Scenario sections parse strictly and validation names the field.

use models::{
    BalancerKind, ConnectionStyle, Entrypoint, Fleet, IntOrPercent, OnSigterm, PreStop, Preset,
};

fn parse(text: &str) -> Result<Fleet, String> {
    toml::from_str::<Fleet>(text).map_err(|e| e.to_string())
}

#[test]
fn every_section_parses_with_its_fields() {
    let f = parse(
        r#"
        [run]
        baseline = "10s"
        tail = "5s"
        bucket = "500ms"
        [load]
        rate = 300.0
        arrivals = "constant"
        deadline = "2s"
        clients = 0
        [client]
        connection = "keepalive"
        pool = 8
        idle_timeout = "30s"
        rtt = "1ms"
        [client.retry]
        attempts = 2
        backoff = "50ms"
        on = ["refused", "http_502"]
        [balancer]
        preset = "ingress_nginx"
        retries = 0
        [propagation]
        endpointslice = "20ms"
        lag = { kind = "uniform", low = "100ms", high = "3s" }
        [pod]
        replicas = 6
        startup = { kind = "lognormal", median = "2s", p99 = "8s" }
        service_time = "50ms"
        concurrency = 32
        readiness = { period = "2s", initial_delay = "1s" }
        cold_start = { factor = 3.0, duration = "10s" }
        [container]
        entrypoint = "init"
        [lifecycle]
        grace_period = "45s"
        prestop = { exec = "10s" }
        [app]
        on_sigterm = "drain"
        fail_readiness = true
        keep_serving = "1s"
        [server]
        idle_timeout = "60s"
        max_requests = 1000
        max_age = "5m"
        [drain]
        timeout = "15s"
        jitter_window = "3s"
        guardian = "30s"
        [rollout]
        max_surge = "50%"
        max_unavailable = 0
        min_ready = "5s"
        [queue]
        rate = 2.0
        duration = "1s"
        effect_at = 0.9
        lease = "30s"
        workers = 2
        release_on_sigterm = true
        idempotent = true
        "#,
    )
    .unwrap();
    assert_eq!(f.client.connection, ConnectionStyle::Keepalive);
    assert_eq!(f.container.entrypoint, Entrypoint::Init);
    assert_eq!(
        f.lifecycle.prestop,
        Some(PreStop::Exec(sim_core::SimDuration::from_secs(10)))
    );
    assert_eq!(f.app.on_sigterm, OnSigterm::Drain);
    assert_eq!(f.server.max_requests, Some(1000));
    assert!(f.queue.as_ref().unwrap().idempotent);
    assert_eq!(f.rollout.max_surge, IntOrPercent::Percent(50));
    assert_eq!(f.rollout.max_unavailable, IntOrPercent::Int(0));
    assert_eq!(f.balancer.preset, Preset::IngressNginx);
    assert_eq!(f.balancer.resolve().kind, BalancerKind::L7);
    assert_eq!(f.balancer.resolve().retries, 0);
    f.validate().unwrap();
    assert_eq!(f.effective_fenceposts(), (3, 0));
}

#[test]
fn unknown_fields_are_rejected_with_their_name() {
    let e = parse("[pod]\nreplica = 3\n").unwrap_err();
    assert!(e.contains("replica"), "{e}");
    let e = parse("[levers]\npid1 = true\n").unwrap_err();
    assert!(
        e.contains("levers"),
        "levers are scenario patches, not fleet settings: {e}"
    );
    let e = parse("[lifecycle]\nprestop = { sleep = \"1s\", exec = \"2s\" }\n").unwrap_err();
    assert!(e.contains("exactly one action"), "{e}");
    let e = parse("[nonsense]\n").unwrap_err();
    assert!(e.contains("nonsense"), "{e}");
    let e = parse("[rollout]\nmax_surge = \"25 percent\"\n").unwrap_err();
    assert!(e.contains("25 percent"), "{e}");
}

#[test]
fn validation_errors_name_the_field_and_the_reason() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[rollout]\nmax_surge = 0\nmax_unavailable = \"0%\"\n",
            "rollout.max_unavailable",
            "set rollout.max_surge = 1 (add one new pod at a time) or rollout.max_unavailable = 1",
        ),
        ("[pod]\nreplicas = 0\n", "pod.replicas", "at least 1"),
        ("[load]\nrate = 0.0\n", "load.rate", "above 0"),
        (
            "[client]\nconnection = \"keepalive\"\npool = 0\n",
            "client.pool",
            "at least 1",
        ),
        (
            "[pod]\nservice_time = { kind = \"uniform\", low = \"2s\", high = \"1s\" }\n",
            "pod.service_time",
            "above high",
        ),
        ("[queue]\neffect_at = 1.5\n", "queue.effect_at", "0..=1"),
        (
            "[balancer]\npreset = \"kube_proxy_iptables\"\nkind = \"l7\"\n",
            "balancer.kind",
            "does not match",
        ),
        (
            "[app]\non_sigterm = \"drain\"\n[drain]\njitter_window = \"20s\"\ntimeout = \"5s\"\n",
            "drain.jitter_window",
            "longer than drain.timeout",
        ),
        (
            "[pod.readiness]\nperiod = \"0s\"\n",
            "pod.readiness.period",
            "above 0s",
        ),
        (
            "[server]\nmax_requests = 0\n",
            "server.max_requests",
            "at least 1",
        ),
        ("[queue]\nrate = 0.0\n", "queue.rate", "leave [queue] out"),
        (
            "[balancer]\npreset = \"kube_proxy_iptables\"\nsidecar_drain = \"5s\"\n",
            "balancer.sidecar_drain",
            "preset kube_proxy_iptables has no such setting",
        ),
        (
            "[balancer]\npreset = \"ingress_nginx\"\nderegistration_delay = \"5s\"\n",
            "balancer.deregistration_delay",
            "preset ingress_nginx has no such setting",
        ),
        (
            "[rollout]\nmax_unavailable = \"120%\"\n",
            "rollout.max_unavailable",
            "above 100%",
        ),
    ];
    for (text, path, reason) in cases {
        let f = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let errs = f.validate().expect_err(text);
        assert!(
            errs.iter()
                .any(|e| e.path == *path && e.reason.contains(reason)),
            "{text}: wanted {path}: ...{reason}..., got {errs:?}"
        );
        let shown = errs.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        assert!(
            shown.iter().any(|s| s.starts_with(&format!("{path}: "))),
            "{shown:?}"
        );
    }
}

#[test]
fn defaults_validate_and_round_trip() {
    let f = Fleet::default();
    f.validate().unwrap();
    let text = toml::to_string(&f).unwrap();
    assert_eq!(parse(&text).unwrap(), f, "{text}");
}

#[test]
fn no_probe_makes_fail_readiness_an_error_and_both_zero_never_asks_for_zero() {
    let mut f = parse("[app]\nfail_readiness = true\n").unwrap();
    f.validate().unwrap();
    f.pod.readiness = None;
    let errs = f.validate().unwrap_err();
    assert!(
        errs.iter().any(|e| e.path == "app.fail_readiness"),
        "{errs:?}"
    );
    let f = parse("[rollout]\nmax_surge = 0\nmax_unavailable = 0\n").unwrap();
    let errs = f.validate().unwrap_err();
    assert!(
        errs.iter().all(|e| !e.reason.contains("set it to 0")),
        "{errs:?}"
    );
}

#[test]
fn an_unused_preset_field_is_an_error_naming_the_preset() {
    for (preset, field, value) in [
        ("kube_proxy_iptables", "retries", "1"),
        ("kube_proxy_iptables", "readiness_gate", "true"),
        ("ingress_nginx", "sidecar_drain", "\"5s\""),
        ("envoy_sidecar", "health_check_delay", "\"5s\""),
        ("cloud_lb", "terminating_fallback", "true"),
    ] {
        let f = parse(&format!(
            "[balancer]\npreset = \"{preset}\"\n{field} = {value}\n"
        ))
        .unwrap();
        let errs = f.validate().unwrap_err();
        assert!(
            errs.iter().any(|e| e.path == format!("balancer.{field}")
                && e.reason.contains(&format!("preset {preset}"))),
            "{preset}/{field}: {errs:?}"
        );
    }
    // A field the preset uses is accepted: the check can pass.
    let f = parse("[balancer]\npreset = \"envoy_sidecar\"\nsidecar_drain = \"5s\"\n").unwrap();
    f.validate().unwrap();
}

#[test]
fn the_reference_lists_every_field() {
    // Every leaf of a fleet with every optional part present, and every balancer override.
    let mut f = Fleet {
        queue: Some(models::QueueConfig::default()),
        ..Fleet::default()
    };
    f.lifecycle.prestop = Some(PreStop::Sleep(sim_core::SimDuration::from_secs(1)));
    f.server.idle_timeout = Some(sim_core::SimDuration::from_secs(1));
    f.server.max_requests = Some(1);
    f.server.max_age = Some(sim_core::SimDuration::from_secs(1));
    f.nodes = Some(models::NodesConfig::default());
    f.balancer.front = Some(models::Front::Gclb);
    f.balancer.front_retries = Some(1);
    f.balancer.front_retry_on = Some(vec![measure::Outcome::Http503]);
    f.balancer.front_timeout = Some(sim_core::SimDuration::from_secs(1));
    let v = toml::Value::try_from(&f).unwrap();
    let mut leaves = Vec::new();
    fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
        match v {
            toml::Value::Table(t) if !t.contains_key("kind") && prefix != "lifecycle.prestop" => {
                for (k, v) in t {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&p, v, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    walk("", &v, &mut leaves);
    for p in models::Preset::ALL.iter().flat_map(|p| p.fields()) {
        leaves.push(format!("balancer.{p}"));
    }
    leaves.push("balancer.terminating_fallback".into());
    leaves.push("balancer.via".into());
    let listed: Vec<&str> = models::FIELD_REFERENCE.iter().map(|r| r.path).collect();
    let missing: Vec<&String> = leaves
        .iter()
        .filter(|l| !listed.contains(&l.as_str()))
        .collect();
    assert!(missing.is_empty(), "not in the reference: {missing:?}");
    for r in models::FIELD_REFERENCE {
        assert!(
            !r.unit.is_empty() && !r.source.is_empty() && !r.feeds.is_empty(),
            "{r:?}"
        );
    }
}

#[test]
fn the_reference_lists_every_front_with_the_fields_it_takes() {
    let listed: Vec<models::Front> = models::FRONT_REFERENCE.iter().map(|r| r.front).collect();
    assert_eq!(listed, models::Front::ALL.to_vec());
    for r in models::FRONT_REFERENCE {
        assert!(!r.what.is_empty() && !r.defaults.is_empty(), "{r:?}");
        for field in r.front.fields() {
            let path = format!("balancer.{field}");
            assert!(
                models::FIELD_REFERENCE.iter().any(|f| f.path == path),
                "{}: {path}",
                r.front.name()
            );
        }
    }
}

#[test]
fn the_reference_lists_every_preset_with_the_fields_it_takes() {
    let listed: Vec<Preset> = models::PRESET_REFERENCE.iter().map(|r| r.preset).collect();
    assert_eq!(listed, Preset::ALL.to_vec());
    for r in models::PRESET_REFERENCE {
        assert!(!r.what.is_empty() && !r.defaults.is_empty(), "{r:?}");
        // Every field a preset takes is a field the reference explains.
        for field in r.preset.fields() {
            let path = format!("balancer.{field}");
            assert!(
                models::FIELD_REFERENCE.iter().any(|f| f.path == path),
                "{}: {path}",
                r.preset.name()
            );
        }
    }
}

/// The sync limiter and the controllers' delay are absent by default (and then not written
/// back), act when given, and are refused out of their bounds with their names.
#[test]
fn sync_limiter_and_controller_delay_are_opt_in_and_bounded() {
    let f = parse("").unwrap();
    assert_eq!(f.propagation.min_sync_period, None);
    assert_eq!(f.rollout.controller_delay, None);
    let text = toml::to_string(&f).unwrap();
    assert!(!text.contains("min_sync_period") && !text.contains("controller_delay"));
    let f =
        parse("[propagation]\nmin_sync_period = \"1s\"\n[rollout]\ncontroller_delay = \"40ms\"\n")
            .unwrap();
    assert!(f.validate().is_ok());
    assert_eq!(
        f.rollout.controller_delay,
        Some(sim_core::SimDuration::from_millis(40))
    );
    for (text, field) in [
        (
            "[propagation]\nmin_sync_period = \"0s\"\n",
            "propagation.min_sync_period",
        ),
        (
            "[propagation]\nmin_sync_period = \"2h\"\n",
            "propagation.min_sync_period",
        ),
        (
            "[rollout]\ncontroller_delay = \"2h\"\n",
            "rollout.controller_delay",
        ),
    ] {
        let errs = parse(text).unwrap().validate().unwrap_err();
        assert!(
            errs.iter().any(|e| e.to_string().starts_with(field)),
            "{text}: {errs:?}"
        );
    }
}
