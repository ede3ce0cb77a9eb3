//! The balancer presets users run: each validates and runs, rejects the fields it has no knob
//! for (naming itself), answers with its own status codes, and its distinctive mechanism acts.

mod common;

use common::*;
use models::{Arrivals, BalancerKind, Fleet, PreStop, Preset};
use sim_core::{Dist, SimDuration};

/// Constant arrivals, a constant lag `lag` from the EndpointSlice to every view, pods that exit
/// at SIGTERM (pid1 on, nothing else), no queue: each deleted pod gets R/n of the requests for
/// `lag`, so the stale-view failures total R x L (see analytic.rs).
fn lag_fleet(preset: Preset, rate: f64, lag: SimDuration) -> Fleet {
    let mut f = small(Levers {
        pid1: true,
        ..Levers::NONE
    });
    f.load.rate = rate;
    f.load.arrivals = Arrivals::Constant;
    f.propagation.endpointslice = Dist::constant(SimDuration::ZERO);
    f.propagation.lag = Some(Dist::constant(lag));
    f.client.rtt = SimDuration::ZERO;
    f.queue = None;
    f.rollout.min_ready = lag + secs(1);
    f.lifecycle.sandbox_teardown = lag + secs(1);
    f.balancer.preset = preset;
    f
}

#[test]
fn every_preset_validates_runs_and_conserves() {
    for preset in Preset::ALL {
        let mut f = small(Levers::ALL);
        f.balancer.preset = preset;
        f.validate()
            .unwrap_or_else(|e| panic!("{}: {e:?}", preset.name()));
        // simulate() runs the conservation checks; a failure is an Err, and run() panics.
        let r = run(preset.name(), &f, 5);
        assert!(r.rollout_complete, "{} seed 5", preset.name());
        assert!(r.analysis.summary.requests.sent > 0, "{}", preset.name());
        // The file name round-trips through serde.
        let text = format!("[balancer]\npreset = \"{}\"\n", preset.name());
        let parsed: Fleet = toml::from_str(&text).unwrap();
        assert_eq!(parsed.balancer.preset, preset);
    }
}

/// A value for each `[balancer]` override field, as a file would write it.
const FIELD_VALUES: &[(&str, &str)] = &[
    ("kind", "\"l7\""),
    ("retries", "1"),
    ("upstream_keepalive", "\"30s\""),
    ("upstream_timeout", "\"30s\""),
    ("connect_timeout", "\"3s\""),
    ("terminating_fallback", "true"),
    ("sidecar_drain", "\"5s\""),
    ("health_check_delay", "\"20s\""),
    ("deregistration_delay", "\"30s\""),
    ("health_check_interval", "\"10s\""),
    ("healthy_threshold", "3"),
    ("wait_before_exit", "\"5s\""),
    ("readiness_gate", "true"),
];

#[test]
fn a_field_a_preset_has_no_knob_for_is_an_error_naming_the_preset_and_field() {
    for preset in Preset::ALL {
        let uses = preset.fields();
        for &(field, value) in FIELD_VALUES {
            let f: Fleet = toml::from_str(&format!(
                "[balancer]\npreset = \"{}\"\n{field} = {value}\n",
                preset.name()
            ))
            .unwrap();
            let errs = f.validate().err().unwrap_or_default();
            let named = errs.iter().any(|e| {
                e.path == format!("balancer.{field}")
                    && e.reason.contains(&format!("preset {} ", preset.name()))
            });
            if uses.contains(&field) {
                assert!(
                    !named,
                    "{}/{field} is used but rejected: {errs:?}",
                    preset.name()
                );
            } else {
                assert!(
                    named,
                    "{}/{field} should be rejected: {errs:?}",
                    preset.name()
                );
            }
        }
    }
    // The replaced field points at its replacement.
    let f: Fleet =
        toml::from_str("[balancer]\npreset = \"aws_alb_ip\"\nhealth_check_delay = \"20s\"\n")
            .unwrap();
    let errs = f.validate().unwrap_err();
    assert!(
        errs.iter().any(|e| e
            .reason
            .contains("health_check_interval and healthy_threshold")),
        "{errs:?}"
    );
}

#[test]
fn linkerd_refuses_at_deletion_and_answers_502_where_envoy_answers_503() {
    // The deleted pod's app exits at SIGTERM (at deletion) and its sidecar refuses at once, so
    // the requests the lagging views still send there fail: R x L = 800 in all, binomial sd
    // ~25, +-10%. Linkerd reports a connection error as 502, Envoy as 503 (UF).
    let (rate, lag) = (400.0, SimDuration::from_secs(2));
    for (preset, status) in [
        (Preset::LinkerdSidecar, "http_502"),
        (Preset::EnvoySidecar, "http_503"),
    ] {
        let f = lag_fleet(preset, rate, lag);
        for seed in [21, 22] {
            let s = run(preset.name(), &f, seed).analysis.summary.requests;
            let (got, other) = if status == "http_502" {
                (s.http_502, s.http_503)
            } else {
                (s.http_503, s.http_502)
            };
            assert_eq!(s.refused, 0, "{} seed {seed}: {s:?}", preset.name());
            assert_eq!(other, 0, "{} seed {seed}: {s:?}", preset.name());
            assert!(
                (got as f64 - 800.0).abs() <= 80.0,
                "{} seed {seed}: {status} {got} (expected ~800)",
                preset.name()
            );
        }
    }
}

#[test]
fn linkerd_wait_before_exit_keeps_the_proxy_accepting_through_the_lag() {
    // The app sleeps 5 s in preStop, longer than the 2 s lag, so it serves every request the
    // stale views send. Linkerd's proxy has no preStop by default (waitBeforeExitSeconds 0):
    // it refuses at deletion, and those R x L requests fail with 502 anyway. With
    // wait_before_exit = 5s the proxy still accepts until the views have moved on: none fail.
    let (rate, lag) = (400.0, SimDuration::from_secs(2));
    let mut f = lag_fleet(Preset::LinkerdSidecar, rate, lag);
    f.lifecycle.prestop = Some(PreStop::Sleep(secs(5)));
    let mut waiting = f.clone();
    waiting.balancer.wait_before_exit = Some(secs(5));
    waiting.validate().unwrap();
    for seed in [31, 32] {
        let no_wait = run("linkerd", &f, seed).analysis.summary;
        let wait = run("linkerd-wait", &waiting, seed).analysis.summary;
        assert!(
            (no_wait.requests.http_502 as f64 - 800.0).abs() <= 80.0,
            "seed {seed}: {:?}",
            no_wait.requests
        );
        assert_eq!(wait.failed, 0, "seed {seed}: {:?}", wait.requests);
    }
}

#[test]
fn traefik_and_haproxy_answer_their_own_status_and_haproxy_redispatches() {
    let (rate, lag) = (400.0, SimDuration::from_secs(2));
    let traefik = lag_fleet(Preset::Traefik, rate, lag);
    let mut haproxy_no_retry = lag_fleet(Preset::HaproxyIngress, rate, lag);
    haproxy_no_retry.balancer.retries = Some(0);
    let haproxy = lag_fleet(Preset::HaproxyIngress, rate, lag);
    for seed in [41, 42] {
        // Traefik: no retry middleware by default, 502 Bad Gateway on a refused upstream.
        let t = run("traefik", &traefik, seed).analysis.summary.requests;
        assert!(
            (t.http_502 as f64 - 800.0).abs() <= 80.0,
            "seed {seed}: {t:?}"
        );
        assert_eq!(t.http_503 + t.refused, 0, "seed {seed}: {t:?}");
        // HAProxy: a failed connect is a 503 (SC); its default redispatch to another server
        // saves almost all of them (the second pick lands on the deleted pod 1 time in 4 at
        // worst, and is excluded from the retry).
        let h0 = run("haproxy-0", &haproxy_no_retry, seed)
            .analysis
            .summary
            .requests;
        assert!(
            (h0.http_503 as f64 - 800.0).abs() <= 80.0,
            "seed {seed}: {h0:?}"
        );
        assert_eq!(h0.http_502 + h0.refused, 0, "seed {seed}: {h0:?}");
        let h1 = run("haproxy", &haproxy, seed).analysis.summary.requests;
        assert!(
            h1.http_503 * 10 < h0.http_503,
            "seed {seed}: {h1:?} vs {h0:?}"
        );
    }
}

#[test]
fn instance_mode_balancers_pick_pods_through_kube_proxy() {
    let kp = Preset::KubeProxyIptables.spec();
    let alb = models::BalancerConfig {
        preset: Preset::AwsAlbInstance,
        ..Default::default()
    }
    .resolve();
    // ALB instance: the ALB's statuses, kube-proxy's lag and fallback, no target lifecycle.
    assert_eq!(alb.kind, BalancerKind::L7);
    assert_eq!(alb.lag, kp.lag);
    assert!(alb.terminating_fallback);
    assert_eq!(alb.health_check_delay, SimDuration::ZERO);
    assert_eq!(alb.deregistration_delay, None);
    assert_eq!(alb.refused_status, measure::Outcome::Http502);
    // NLB instance: for loss, kube-proxy.
    assert_eq!(Preset::AwsNlbInstance.spec(), kp);
    // The chain's inner hop can be nftables; an ALB-instance target lifecycle field cannot act.
    let f: Fleet = toml::from_str(
        "[balancer]\npreset = \"aws_alb_instance\"\nvia = \"kube_proxy_nftables\"\n",
    )
    .unwrap();
    f.validate().unwrap();
    let f: Fleet = toml::from_str(
        "[balancer]\npreset = \"aws_alb_instance\"\nderegistration_delay = \"30s\"\n",
    )
    .unwrap();
    let errs = f.validate().unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.path == "balancer.deregistration_delay"
                && e.reason.contains("preset aws_alb_instance")),
        "{errs:?}"
    );
    // In a run: an instance-mode ALB turns the stale kube-proxy view's refusals into 502s.
    let (rate, lag) = (400.0, SimDuration::from_secs(2));
    let s = run(
        "alb-instance",
        &lag_fleet(Preset::AwsAlbInstance, rate, lag),
        51,
    )
    .analysis
    .summary
    .requests;
    assert_eq!(s.refused, 0, "{s:?}");
    assert!((s.http_502 as f64 - 800.0).abs() <= 80.0, "seed 51: {s:?}");
}

#[test]
fn health_check_interval_and_threshold_set_the_registration_delay() {
    let mut b = models::BalancerConfig {
        preset: Preset::CloudLb,
        ..Default::default()
    };
    // The default is the old 2 x 15 s.
    assert_eq!(b.resolve().health_check_delay, secs(30));
    b.health_check_interval = Some(secs(10));
    b.healthy_threshold = Some(5);
    assert_eq!(b.resolve().health_check_delay, secs(50));
    b.healthy_threshold = None;
    assert_eq!(
        b.resolve().health_check_delay,
        secs(20),
        "preset threshold 2"
    );
    for (preset, delay) in [
        (Preset::AwsAlbIp, 30),
        (Preset::AwsNlbIp, 30),
        (Preset::GclbNeg, 10),
    ] {
        assert_eq!(preset.spec().health_check_delay, secs(delay), "{preset:?}");
        let (interval, threshold) = preset.health_check().unwrap();
        assert_eq!(interval * u64::from(threshold), secs(delay), "{preset:?}");
    }
    // Old and new form together: an error naming the old field and its replacement.
    let f: Fleet = toml::from_str(
        "[balancer]\npreset = \"cloud_lb\"\nhealth_check_delay = \"20s\"\nhealthy_threshold = 3\n",
    )
    .unwrap();
    let errs = f.validate().unwrap_err();
    assert!(
        errs.iter().any(|e| e.path == "balancer.health_check_delay"
            && e.reason
                .contains("health_check_interval and healthy_threshold")),
        "{errs:?}"
    );
    // In a run: with GKE's NEG readiness gate a new pod counts as ready only once the
    // balancer's health checks pass, so more checks make a longer rollout.
    let mut f = small(Levers::ALL);
    f.balancer.preset = Preset::GclbNeg;
    f.propagation.lag = Some(Dist::constant(secs(1)));
    let mut slow = f.clone();
    slow.balancer.healthy_threshold = Some(6);
    let length = |f: &Fleet| {
        let m = run("gclb", f, 61).marks;
        m.rollout_end_ns - m.rollout_start_ns
    };
    let (fast_ns, slow_ns) = (length(&f), length(&slow));
    // Four new pods, each gated 4 x 5 s = 20 s longer, one after another (maxUnavailable 0).
    assert!(
        slow_ns >= fast_ns + 4 * 20_000_000_000 - 1_000_000_000,
        "seed 61: {fast_ns} vs {slow_ns}"
    );
}

#[test]
fn long_tailed_presets_draw_minute_long_lags() {
    // aws-load-balancer-controller#1064: deregistration took about 2 min. The AWS presets'
    // lag is lognormal with median 10 s and p99 120 s: about 4.7% of changes take over a
    // minute (P(Z > ln 6 / (ln 12 / 2.326))), where the uniform 5..30 s cloud_lb never does.
    for preset in [Preset::AwsAlbIp, Preset::AwsNlbIp] {
        let sampler = preset.spec().lag.sampler().unwrap();
        let mut rng = sim_core::Streams::new(7, sim_core::Trace::new()).stream("lag");
        let n = 20_000;
        let over = (0..n)
            .filter(|_| sampler.sample(&mut rng) > secs(60))
            .count();
        let frac = over as f64 / n as f64;
        assert!((0.035..0.06).contains(&frac), "{preset:?}: {frac}");
    }
    // A scenario writes the same form for its own lag.
    let f: Fleet = toml::from_str(
        "[propagation]\nlag = { kind = \"lognormal\", median = \"10s\", p99 = \"2m\" }\n",
    )
    .unwrap();
    f.validate().unwrap();
    assert_eq!(f.plan().lag, Preset::AwsAlbIp.spec().lag);
}

/// 10 s requests at 20/s behind a health-checked cloud `preset` (checks 1 s x 1), pods whose
/// app serves on for 60 s after deletion (preStop, grace 90 s), a 1 s lag: only the balancer
/// can end a request in flight at a deleted pod.
fn slow_requests_fleet(preset: Preset) -> Fleet {
    let mut f = small(Levers {
        pid1: true,
        ..Levers::NONE
    });
    f.queue = None;
    f.load.rate = 20.0;
    f.load.deadline = secs(60);
    f.run.baseline = secs(20);
    f.pod.service_time = Dist::constant(secs(10));
    f.lifecycle.prestop = Some(PreStop::Sleep(secs(60)));
    f.lifecycle.grace_period = secs(90);
    f.propagation.lag = Some(Dist::constant(secs(1)));
    f.balancer.preset = preset;
    f.balancer.health_check_interval = Some(secs(1));
    f.balancer.healthy_threshold = Some(1);
    f
}

#[test]
fn the_deregistration_delay_lets_in_flight_requests_finish_and_then_cuts_them() {
    // Slow requests (10 s) on a cloud LB; the deleted pod's app serves on for 60 s (preStop),
    // so only the balancer ends them. Once the view drops the pod (1 s), no new request goes
    // there; its in-flight requests finish if the deregistration delay outlasts them (30 s: no
    // failure), and are cut when it ends first (2 s: the ones with more than 2 s to go,
    // answered 502 as killed_in_flight).
    let f = slow_requests_fleet(Preset::CloudLb);
    let mut long = f.clone();
    long.balancer.deregistration_delay = Some(secs(30));
    let mut short = f.clone();
    short.balancer.deregistration_delay = Some(secs(2));
    for seed in [71, 72] {
        let l = run("dereg-30s", &long, seed);
        assert_eq!(
            l.analysis.summary.failed, 0,
            "seed {seed}: {:?}",
            l.analysis.summary.requests
        );
        let s = run("dereg-2s", &short, seed);
        let cut = mech(&s, "killed_in_flight");
        // ~45 in flight per deleted pod when the delay ends (4 pods); the window counts those
        // sent after the rollout started (the rest belong to the baseline).
        assert!(
            (20..=200).contains(&cut),
            "seed {seed}: killed_in_flight {cut}"
        );
        assert_eq!(s.analysis.summary.requests.http_502, cut, "seed {seed}");
    }
}

#[test]
fn ack_on_receipt_loses_the_jobs_a_kill_interrupts_where_ack_after_work_redelivers_them() {
    // The `before` worker (shell entrypoint: SIGKILL at the end of the grace period, jobs in
    // hand killed past their side effect). Acked after the work, a killed job is redelivered
    // at lease expiry: applied twice (redelivered_job), never lost once the run has settled.
    // Acked on receipt, the queue has forgotten it: never redelivered, so no duplicate, and
    // every job killed before its side effect is lost.
    let mut after_work = small(Levers::NONE);
    after_work.run.settle = secs(30);
    let mut on_receipt = after_work.clone();
    on_receipt.queue.as_mut().unwrap().ack = models::AckMode::OnReceipt;
    // The file form, and the default's absence from a printed fleet (files keep their bytes).
    let parsed: Fleet = toml::from_str("[queue]\nack = \"on_receipt\"\n").unwrap();
    assert_eq!(parsed.queue.unwrap().ack, models::AckMode::OnReceipt);
    assert!(!toml::to_string(&after_work).unwrap().contains("ack ="));
    let (mut lost, mut dup) = (0, 0);
    for seed in [81, 82, 83] {
        let a = run("after_work", &after_work, seed);
        assert_eq!(
            mech(&a, "lost_job"),
            0,
            "seed {seed}: {:?}",
            a.analysis.summary.jobs
        );
        dup += mech(&a, "redelivered_job");
        let r = run("on_receipt", &on_receipt, seed);
        assert_eq!(
            mech(&r, "redelivered_job"),
            0,
            "seed {seed}: {:?}",
            r.analysis.summary.jobs
        );
        lost += mech(&r, "lost_job");
    }
    assert!(
        dup > 0,
        "after_work duplicated nothing: the kill never hit a job"
    );
    assert!(lost > 0, "on_receipt lost nothing");
}

#[test]
fn failed_health_checks_end_a_long_deregistration_lag() {
    // An ALB in IP mode whose controller takes 15 s to deregister a deleted pod; the pods exit
    // at SIGTERM. Without health checks reaching a verdict within the lag, each deleted pod
    // gets R/n of the requests for the whole lag: R x L stale-view failures in all. With
    // checks every 2 s and 2 failures to mark a target unhealthy, the ALB stops routing to a
    // pod 2-4 s after it stops answering (the first failing check falls within one interval,
    // the second one interval later): about R x I x (T - 1/2) = 300, at most R x I x T = 400.
    let (rate, lag) = (100.0, secs(15));
    let mut f = lag_fleet(Preset::AwsAlbIp, rate, lag);
    f.balancer.health_check_interval = Some(secs(2));
    // Each step of the roll starts once the previous one has settled (the new pod registered
    // and healthy: 1 s start + 15 s lag + 2 x 2 s checks), so every deleted pod shares the
    // view with three others; the load runs on until the last one has left every view.
    f.rollout.min_ready = secs(30);
    f.run.tail = secs(20);
    let mut slow = f.clone();
    // 10 checks: a verdict 18-20 s after the pod stops answering, after the lag: the checks
    // change nothing.
    slow.balancer.unhealthy_threshold = Some(10);
    f.balancer.unhealthy_threshold = Some(2);
    for seed in [81, 82, 83] {
        let checked = run("alb-checks", &f, seed);
        let unchecked = run("alb-slow-checks", &slow, seed);
        let (c, u) = (
            mech(&checked, "stale_lb_view"),
            mech(&unchecked, "stale_lb_view"),
        );
        assert!(
            (1_350..=1_650).contains(&u),
            "seed {seed}: R x L = 1500 expected without a verdict in time, got {u}"
        );
        assert!(
            (200..=420).contains(&c),
            "seed {seed}: R x I x (T - 1/2) = 300 expected (at most 400), got {c}"
        );
        // The ALB answers 502 for a refused target either way.
        assert_eq!(
            checked.analysis.summary.requests.http_502, checked.analysis.summary.failed,
            "seed {seed}"
        );
    }
    // The threshold is a knob of health-checked presets only, and 1 to 10.
    let mut bad = f.clone();
    bad.balancer.preset = Preset::IngressNginx;
    bad.balancer.health_check_interval = None;
    let errs = bad.validate().unwrap_err();
    assert!(
        errs.iter().any(|e| e.path == "balancer.unhealthy_threshold"
            && e.reason.contains("ingress_nginx")),
        "{errs:?}"
    );
    let mut zero = f.clone();
    zero.balancer.unhealthy_threshold = Some(0);
    let errs = zero.validate().unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.path == "balancer.unhealthy_threshold"),
        "{errs:?}"
    );
}

#[test]
fn an_nlb_resets_open_flows_at_the_deregistration_delay_only_with_connection_termination() {
    // As the ALB test above, on an NLB (L4, IP targets): 10 s requests, each on its own
    // connection; the deleted pod's app serves on for 60 s (preStop). Once the view drops the
    // pod (1 s) no new connection goes there. With connection termination off (the NLB's
    // default) the flows in flight finish: no failure. On, with a 2 s delay, the NLB resets
    // the flows still open when the delay ends: their requests fail as resets
    // (killed_in_flight); with a 30 s delay they have all finished by then.
    let f = slow_requests_fleet(Preset::AwsNlbIp);
    let off = f.clone();
    let mut long = f.clone();
    long.balancer.connection_termination = Some(true);
    long.balancer.deregistration_delay = Some(secs(30));
    let mut short = long.clone();
    short.balancer.deregistration_delay = Some(secs(2));
    for seed in [91, 92] {
        for (name, fleet) in [("nlb-no-termination", &off), ("nlb-termination-30s", &long)] {
            let r = run(name, fleet, seed);
            assert_eq!(
                r.analysis.summary.failed, 0,
                "{name} seed {seed}: {:?}",
                r.analysis.summary.requests
            );
        }
        let s = run("nlb-termination-2s", &short, seed);
        let cut = mech(&s, "killed_in_flight");
        assert!(
            (20..=200).contains(&cut),
            "seed {seed}: killed_in_flight {cut}"
        );
        assert_eq!(s.analysis.summary.requests.reset, cut, "seed {seed}");
    }
    // A deregistration delay without connection termination would change nothing: an error
    // naming the field and the setting it needs.
    let mut inert = f.clone();
    inert.balancer.deregistration_delay = Some(secs(30));
    let errs = inert.validate().unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.path == "balancer.deregistration_delay"
                && e.reason.contains("connection_termination")),
        "{errs:?}"
    );
    // ... and connection termination is an NLB setting.
    let mut alb = f.clone();
    alb.balancer.preset = Preset::AwsAlbIp;
    alb.balancer.connection_termination = Some(true);
    let errs = alb.validate().unwrap_err();
    assert!(
        errs.iter().any(|e| e.path == "balancer.connection_termination"
            && e.reason.contains("aws_alb_ip")),
        "{errs:?}"
    );
}

/// kube-proxy in front of pods that exit at SIGTERM (pid1, no preStop) under 2 s requests, each
/// on its own connection, a 1 s lag, no queue: the fleet the composed-sidecar tests add their
/// sidecar to.
fn sidecar_fleet() -> Fleet {
    let mut f = small(Levers {
        pid1: true,
        ..Levers::NONE
    });
    f.queue = None;
    f.load.rate = 50.0;
    f.pod.service_time = Dist::constant(secs(2));
    f.propagation.lag = Some(Dist::constant(secs(1)));
    f
}

#[test]
fn an_envoy_sidecar_composes_with_any_picker_and_answers_503_for_what_the_app_cuts() {
    // kube-proxy -> Envoy -> app: 2 s requests, pods that exit at SIGTERM (pid1, no preStop),
    // each request on its own connection. Without a sidecar the requests in flight at the
    // exit are reset (the client sees the RST). With `sidecar = "envoy"` the sidecar holds
    // the client's connection and answers 503 (UC) for them instead; nothing is reset.
    let f = sidecar_fleet();
    let plain = f.clone();
    let mut envoy = f.clone();
    envoy.balancer.sidecar = Some(models::Sidecar::Envoy);
    for seed in [101, 102] {
        let p = run("kube-proxy", &plain, seed).analysis.summary.requests;
        let e_run = run("kube-proxy-envoy", &envoy, seed);
        let e = e_run.analysis.summary.requests;
        assert!(p.reset > 0 && p.http_503 == 0, "seed {seed}: {p:?}");
        let killed = mech(&e_run, "killed_in_flight");
        assert!(killed > 0, "seed {seed}: {e:?}");
        assert_eq!((e.reset, e.http_503), (0, killed), "seed {seed}: {e:?}");
    }
    // Behind an L7 proxy the sidecar's 503 is a response: passed through, not retried; the
    // same kills without the sidecar are resets the proxy answers 502 (after its retries).
    let mut nginx = f.clone();
    nginx.balancer.preset = Preset::IngressNginx;
    let mut nginx_envoy = nginx.clone();
    nginx_envoy.balancer.sidecar = Some(models::Sidecar::Envoy);
    let n = run("nginx", &nginx, 103);
    let ne = run("nginx-envoy", &nginx_envoy, 103);
    assert_eq!(
        n.analysis.summary.requests.http_503, 0,
        "{:?}",
        n.analysis.summary.requests
    );
    assert!(mech(&n, "killed_in_flight") > 0);
    assert_eq!(
        ne.analysis.summary.requests.http_503,
        mech(&ne, "killed_in_flight"),
        "{:?}",
        ne.analysis.summary.requests
    );
    assert!(ne.analysis.summary.requests.http_503 > 0);
    // The sidecar's drain acts with any picker: an app that serves on for 10 s (preStop)
    // loses the requests in flight when a 1 s drain ends and the sidecar exits (reset: the
    // sidecar itself is gone); a 30 s drain outlasts them.
    let mut serving = envoy.clone();
    serving.lifecycle.prestop = Some(PreStop::Sleep(secs(10)));
    let mut short = serving.clone();
    short.balancer.sidecar_drain = Some(secs(1));
    let mut long = serving.clone();
    long.balancer.sidecar_drain = Some(secs(30));
    let s = run("envoy-drain-1s", &short, 104).analysis.summary.requests;
    let l = run("envoy-drain-30s", &long, 104).analysis.summary.requests;
    assert!(s.reset > 0, "{s:?}");
    assert_eq!(l.reset, 0, "{l:?}");
    // A drain without a sidecar, or a second sidecar on a mesh preset: errors naming them.
    let mut no_sidecar = f.clone();
    no_sidecar.balancer.sidecar_drain = Some(secs(1));
    let errs = no_sidecar.validate().unwrap_err();
    assert!(
        errs.iter().any(|e| e.path == "balancer.sidecar_drain"
            && e.reason.contains("kube_proxy_iptables")),
        "{errs:?}"
    );
    let mut mesh = f.clone();
    mesh.balancer.preset = Preset::LinkerdSidecar;
    mesh.balancer.sidecar = Some(models::Sidecar::Envoy);
    let errs = mesh.validate().unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.path == "balancer.sidecar" && e.reason.contains("linkerd_sidecar")),
        "{errs:?}"
    );
}

#[test]
fn a_proxys_upstream_request_limit_rotates_its_connections() {
    // ingress-nginx in front, keep-alive upstream connections, a 20 ms round trip. With the
    // preset's limit (10,000 requests per upstream connection) a steady baseline reuses the
    // warm connections: almost no request pays the upstream handshake. With a limit of 1 the
    // proxy closes each connection after its response, so every request opens a new one and
    // its latency grows by the handshake's round trip.
    let mut f = small(Levers::ALL);
    f.queue = None;
    f.balancer.preset = Preset::IngressNginx;
    f.client.rtt = ms(20);
    f.pod.service_time = Dist::constant(ms(10));
    assert_eq!(f.balancer.resolve().upstream_max_requests, Some(10_000));
    let mut one = f.clone();
    one.balancer.upstream_max_requests = Some(1);
    let p50 = |f: &Fleet| {
        let r = run("nginx-rotation", f, 111);
        assert_eq!(
            r.analysis.summary.failed, 0,
            "{:?}",
            r.analysis.summary.requests
        );
        r.analysis.summary.latency_ms.baseline.p50.unwrap()
    };
    let (warm, rotated) = (p50(&f), p50(&one));
    assert!(
        (rotated - warm - 20.0).abs() <= 2.0,
        "p50 {warm} ms with warm upstream connections, {rotated} ms opening one per request: expected one 20 ms handshake more"
    );
    // The limit is a knob of the proxies that have it.
    let mut traefik = one.clone();
    traefik.balancer.preset = Preset::Traefik;
    let errs = traefik.validate().unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.path == "balancer.upstream_max_requests" && e.reason.contains("traefik")),
        "{errs:?}"
    );
    let mut zero = f.clone();
    zero.balancer.upstream_max_requests = Some(0);
    assert!(
        zero.validate()
            .unwrap_err()
            .iter()
            .any(|e| e.path == "balancer.upstream_max_requests")
    );
}

#[test]
fn a_linkerd_sidecar_composes_with_any_picker_refuses_at_deletion_and_answers_502() {
    // kube-proxy -> Linkerd -> app, as the Envoy case above: 2 s requests, pods that exit at
    // SIGTERM. With `sidecar = "linkerd"` the proxy answers 502 for the requests the app
    // cuts, where the client would otherwise see the reset.
    let f = sidecar_fleet();
    let mut linkerd = f.clone();
    linkerd.balancer.sidecar = Some(models::Sidecar::Linkerd);
    for seed in [111, 112] {
        let l_run = run("kube-proxy-linkerd", &linkerd, seed);
        let l = l_run.analysis.summary.requests;
        let killed = mech(&l_run, "killed_in_flight");
        assert!(killed > 0, "seed {seed}: {l:?}");
        assert_eq!((l.reset, l.http_502), (0, killed), "seed {seed}: {l:?}");
    }
    // The proxy refuses new connections at deletion (waitBeforeExitSeconds 0), before the
    // app's 10 s preStop ends: what kube-proxy still routes there during its 1 s lag is
    // refused. A wait as long as the preStop keeps it accepting through the lag.
    let mut serving = f.clone();
    serving.lifecycle.prestop = Some(PreStop::Sleep(secs(10)));
    serving.pod.service_time = Dist::constant(ms(20));
    let plain = serving.clone();
    let mut refusing = serving.clone();
    refusing.balancer.sidecar = Some(models::Sidecar::Linkerd);
    let mut waiting = refusing.clone();
    waiting.balancer.wait_before_exit = Some(secs(10));
    for seed in [113, 114] {
        let p = run("plain", &plain, seed).analysis.summary;
        let r = run("linkerd-wait-0", &refusing, seed).analysis.summary;
        let w = run("linkerd-wait-10", &waiting, seed).analysis.summary;
        assert_eq!(p.failed, 0, "seed {seed}: {:?}", p.requests);
        assert!(
            r.requests.refused > 0,
            "seed {seed}: the proxy refuses during the lag: {:?}",
            r.requests
        );
        assert_eq!(w.failed, 0, "seed {seed}: {:?}", w.requests);
    }
    // wait_before_exit is Linkerd's knob: on another preset without the sidecar, an error.
    let mut stray = f.clone();
    stray.balancer.wait_before_exit = Some(secs(5));
    let errs = stray.validate().unwrap_err();
    assert!(
        errs.iter().any(|e| e.path == "balancer.wait_before_exit"),
        "{errs:?}"
    );
}

/// Traefik's reload throttle (`providersThrottleDuration`, 2 s between reload starts): with
/// maxSurge 0 / maxUnavailable 1 each old pod after the first is deleted right after its
/// predecessor's replacement turned ready (`rollout.controller_delay` later), so its deletion
/// comes just after the reload that showed the new pod started, and waits for the next allowed
/// start: about 2 s of its share of the requests routed to a pod that has exited. The roll's
/// first deletion has no reload before it and shows within one reload's time. The same preset
/// with a short `min_sync_period` (the throttle's period set to 50 ms), or with `lag` given
/// (the whole lag, end to end: no throttle on top), loses only what its short lag allows.
#[test]
fn traefiks_reload_throttle_holds_a_deletion_that_follows_a_reload() {
    let rate = 400.0;
    let mut f = lag_fleet(Preset::Traefik, rate, SimDuration::from_millis(100));
    f.propagation.lag = None; // the preset's: one reload's own time, 30..250 ms
    f.rollout.min_ready = SimDuration::ZERO;
    f.rollout.controller_delay = Some(SimDuration::from_millis(40));
    f.lifecycle.sandbox_teardown = secs(5); // exited pods refuse (502) rather than time out
    let n = f.pod.replicas;
    // Requests routed to a pod that has exited (the app's in-flight requests it cuts at exit
    // are another mechanism, the same in every variant).
    let failed = |f: &Fleet, seed| {
        let r = run("traefik-throttle", f, seed);
        mech(&r, "stale_lb_view") + mech(&r, "listener_closed") + mech(&r, "unanswered_connect")
    };
    let mut short = f.clone();
    short.propagation.min_sync_period = Some(SimDuration::from_millis(50));
    let mut given = f.clone();
    given.propagation.lag = Some(Dist::constant(SimDuration::from_millis(100)));
    let share = rate / f64::from(n);
    for seed in [31, 32] {
        let held = failed(&f, seed) as f64;
        let (quick, end_to_end) = (failed(&short, seed) as f64, failed(&given, seed) as f64);
        // n - 1 deletions wait about 2 s each (at least 1.5 s), the first one at most 250 ms.
        assert!(
            held >= f64::from(n - 1) * share * 1.5,
            "seed {seed}: {held} failed with the throttle, expected about (n - 1) x R/n x 2 s"
        );
        assert!(
            held <= f64::from(n - 1) * share * 2.3 + share * 0.3,
            "seed {seed}: {held} failed with the throttle, more than its 2 s allow"
        );
        // 50 ms periods: each deletion shows within 50 + 250 ms.
        assert!(
            quick <= f64::from(n) * share * 0.35,
            "seed {seed}: {quick} failed with a 50 ms period"
        );
        // A given lag of 100 ms is the whole lag.
        assert!(
            (end_to_end - f64::from(n) * share * 0.1).abs() <= f64::from(n) * share * 0.05,
            "seed {seed}: {end_to_end} failed with lag 100 ms given, expected n x R/n x 0.1 s"
        );
    }
}
