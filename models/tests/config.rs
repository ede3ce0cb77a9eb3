//! Scenario sections parse strictly and validation names the field.

use models::{BalancerKind, ConnectionStyle, Fleet, IntOrPercent, Preset};

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
        [lifecycle]
        grace_period = "45s"
        prestop = "10s"
        [drain]
        timeout = "15s"
        jitter_window = "3s"
        guardian = "30s"
        [levers]
        pid1 = true
        readiness = true
        drain = true
        requeue = true
        surge = true
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
        "#,
    )
    .unwrap();
    assert_eq!(f.client.connection, ConnectionStyle::Keepalive);
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
    let e = parse("[levers]\npid2 = true\n").unwrap_err();
    assert!(e.contains("pid2"), "{e}");
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
            "rollout.max_surge",
            "cannot both be 0",
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
            "[levers]\nsurge = true\n[rollout]\nmax_surge = \"25%\"\nmax_unavailable = \"25%\"\n",
            "rollout.max_unavailable",
            "set it to 0",
        ),
        (
            "[levers]\nsurge = true\n[rollout]\nmax_surge = 0\nmax_unavailable = 1\n",
            "rollout.max_surge",
            "adds capacity",
        ),
        (
            "[levers]\nsurge = true\ndrain = true\n[rollout]\nmax_surge = 1\nmax_unavailable = 0\n[drain]\njitter_window = \"20s\"\ntimeout = \"5s\"\n",
            "drain.jitter_window",
            "longer than drain.timeout",
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
