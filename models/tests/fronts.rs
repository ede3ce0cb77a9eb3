//! `balancer.front`: an outer L7 hop in front of the pod-picking balancer. Its retries of the
//! inner hop's statuses go back through the inner hop and hide a roll's failures, its timeout
//! answers slow requests with its own status, it passes everything else through, and every
//! combination that would not act is an error naming the field.

mod common;

use common::*;
use measure::Outcome;
use models::{Arrivals, Fleet, Front, Preset};
use sim_core::{Dist, SimDuration};

/// Pods that exit at SIGTERM (pid1 on, nothing else) behind `preset` with its own retries off,
/// a constant 2 s lag from the EndpointSlice to its view, zero RTT and constant arrivals: the
/// requests the lagging view sends to a deleted pod are refused, and the inner hop answers its
/// refusal status (HAProxy 503, nginx 502) for each.
fn stale_fleet(preset: Preset) -> Fleet {
    let mut f = small(Levers {
        pid1: true,
        ..Levers::NONE
    });
    f.queue = None;
    f.load.rate = 400.0;
    f.load.arrivals = Arrivals::Constant;
    f.propagation.endpointslice = Dist::constant(SimDuration::ZERO);
    f.propagation.lag = Some(Dist::constant(secs(2)));
    f.client.rtt = SimDuration::ZERO;
    f.rollout.min_ready = secs(3);
    f.lifecycle.sandbox_teardown = secs(3);
    f.balancer.preset = preset;
    f.balancer.retries = Some(0);
    f
}

fn requests(f: &Fleet, name: &str, seed: u64) -> measure::OutcomeCounts {
    run(name, f, seed).analysis.summary.requests
}

#[test]
fn a_front_that_retries_the_inner_hops_503s_hides_them_and_passes_the_rest_through() {
    let inner = stale_fleet(Preset::HaproxyIngress);
    let mut alb = inner.clone();
    alb.balancer.front = Some(Front::AwsAlb);
    let mut istio = inner.clone();
    istio.balancer.front = Some(Front::IstioGateway);
    istio.balancer.front_retry_on = Some(vec![Outcome::Http503]);
    for seed in [11, 12] {
        let plain = requests(&inner, "haproxy", seed);
        // The inner hop answers 503 for every refused request: many of them.
        assert!(plain.http_503 >= 200, "seed {seed}: {plain:?}");
        // An ALB does not retry and passes the 503s through: with zero RTT its hop costs
        // nothing, so the outcomes are the inner hop's exactly.
        let a = requests(&alb, "alb-haproxy", seed);
        assert_eq!(a, plain, "seed {seed}");
        // Istio's gateway retrying 503 twice sends each one back through HAProxy, which picks
        // a pod again: a request fails only if all three picks hit a deleted pod.
        let i = requests(&istio, "istio-haproxy", seed);
        assert_eq!(i.sent, plain.sent, "seed {seed}");
        assert!(
            i.http_503 * 10 < plain.http_503,
            "seed {seed}: with the front {i:?}, without {plain:?}"
        );
    }
}

#[test]
fn a_front_retries_only_the_statuses_in_its_rule() {
    // ingress-nginx answers 502 for a refused upstream. A front that retries 503 passes the
    // 502s through untouched (zero RTT: outcome for outcome); one that retries 502 hides them.
    let inner = stale_fleet(Preset::IngressNginx);
    let mut on_503 = inner.clone();
    on_503.balancer.front = Some(Front::IstioGateway);
    on_503.balancer.front_retry_on = Some(vec![Outcome::Http503]);
    let mut on_502 = on_503.clone();
    on_502.balancer.front_retry_on = Some(vec![Outcome::Http502, Outcome::Http503]);
    // GCLB with a URL map retryPolicy on gateway errors and no numRetries: one retry.
    let mut gclb = inner.clone();
    gclb.balancer.front = Some(Front::Gclb);
    gclb.balancer.front_retry_on = Some(vec![Outcome::Http502, Outcome::Http503, Outcome::Http504]);
    assert_eq!(gclb.balancer.resolve_front().unwrap().retries, 1);
    for seed in [21, 22] {
        let plain = requests(&inner, "nginx", seed);
        assert!(plain.http_502 >= 200, "seed {seed}: {plain:?}");
        assert_eq!(requests(&on_503, "istio-503", seed), plain, "seed {seed}");
        let r = requests(&on_502, "istio-502", seed);
        assert!(r.http_502 * 10 < plain.http_502, "seed {seed}: {r:?}");
        // One retry (GCLB's retryPolicy numRetries 1): fewer than without, more than with two.
        let g = requests(&gclb, "gclb-502", seed);
        assert!(
            g.http_502 * 2 < plain.http_502 && g.http_502 > r.http_502,
            "seed {seed}: gclb {g:?}, istio {r:?}, none {plain:?}"
        );
    }
}

/// 5 s requests at 20/s through ingress-nginx, no roll failures (the pods drain: surge on, the
/// app serves on through a 5 s preStop while the views catch up).
fn slow_fleet() -> Fleet {
    let mut f = small(Levers {
        pid1: true,
        readiness: true,
        drain: true,
        ..Levers::NONE
    });
    f.queue = None;
    f.load.rate = 20.0;
    f.pod.service_time = Dist::constant(secs(5));
    f.balancer.preset = Preset::IngressNginx;
    f
}

#[test]
fn a_front_timeout_turns_slower_requests_into_its_own_status() {
    let base = slow_fleet();
    let mut long = base.clone();
    long.balancer.front = Some(Front::IstioGateway);
    long.balancer.front_timeout = Some(secs(8));
    let mut short = long.clone();
    short.balancer.front_timeout = Some(secs(2));
    // GCLB answers its backend service timeout with 502; the ALB's 60 s idle timeout outlasts
    // the requests.
    let mut gclb = base.clone();
    gclb.balancer.front = Some(Front::Gclb);
    gclb.balancer.front_timeout = Some(secs(2));
    let mut alb = base.clone();
    alb.balancer.front = Some(Front::AwsAlb);
    for seed in [31, 32] {
        let b = run("nginx-slow", &base, seed).analysis.summary;
        assert!(b.requests.sent > 100, "seed {seed}: {:?}", b.requests);
        let l = run("istio-8s", &long, seed).analysis.summary;
        assert_eq!(l.requests.http_504, 0, "seed {seed}: {:?}", l.requests);
        let s_run = run("istio-2s", &short, seed);
        let s = &s_run.analysis.summary.requests;
        // Every request takes 5 s, so every one is the front's 504, counted as upstream_timeout.
        assert_eq!(s.http_504, s.sent, "seed {seed}: {s:?}");
        assert_eq!(mech(&s_run, "upstream_timeout"), s.sent, "seed {seed}");
        let g = requests(&gclb, "gclb-2s", seed);
        assert_eq!((g.http_502, g.http_504), (g.sent, 0), "seed {seed}: {g:?}");
        let a = run("alb", &alb, seed).analysis.summary;
        assert_eq!(a.failed, b.failed, "seed {seed}: {:?}", a.requests);
    }
}

#[test]
fn a_front_timeout_covers_its_retries() {
    // Envoy's route timeout includes every retry: 1 s requests, the front retries the inner
    // hop's 503s; a 1.5 s timeout leaves no room for a second try, so the requests whose first
    // try was a 503 become 504s rather than successes.
    let mut f = stale_fleet(Preset::HaproxyIngress);
    f.pod.service_time = Dist::constant(secs(1));
    f.balancer.front = Some(Front::IstioGateway);
    f.balancer.front_retry_on = Some(vec![Outcome::Http503]);
    let mut tight = f.clone();
    tight.balancer.front_timeout = Some(SimDuration::from_millis(1_500));
    for seed in [41, 42] {
        let free = requests(&f, "retries", seed);
        let t = requests(&tight, "retries-1.5s", seed);
        assert_eq!(free.http_504, 0, "seed {seed}: {free:?}");
        assert!(t.http_504 > 0, "seed {seed}: {t:?}");
        assert!(t.ok < free.ok, "seed {seed}: {t:?} vs {free:?}");
    }
}

fn errors(f: &Fleet) -> Vec<models::ConfigError> {
    f.validate().err().unwrap_or_default()
}

fn has(errs: &[models::ConfigError], path: &str, words: &str) -> bool {
    errs.iter()
        .any(|e| e.path == path && e.reason.contains(words))
}

#[test]
fn bad_front_combinations_are_errors_naming_the_field() {
    let mut ok = Fleet::default();
    ok.balancer.preset = Preset::IngressNginx;
    ok.balancer.front = Some(Front::IstioGateway);
    ok.balancer.front_retry_on = Some(vec![Outcome::Http503]);
    assert!(ok.validate().is_ok(), "{:?}", errors(&ok));

    // A front on an L4 hop: the via chain's job.
    let mut l4 = ok.clone();
    l4.balancer.preset = Preset::KubeProxyIptables;
    assert!(
        has(&errors(&l4), "balancer.front", "kube_proxy_iptables"),
        "{:?}",
        errors(&l4)
    );
    // The same balancer twice.
    for (front, preset) in [
        (Front::AwsAlb, Preset::AwsAlbIp),
        (Front::AwsAlb, Preset::AwsAlbInstance),
        (Front::Gclb, Preset::GclbNeg),
        (Front::IstioGateway, Preset::EnvoySidecar),
    ] {
        let mut f = ok.clone();
        f.balancer.front = Some(front);
        f.balancer.front_retry_on = None;
        f.balancer.front_timeout = Some(secs(5));
        f.balancer.preset = preset;
        let errs = errors(&f);
        assert!(
            has(&errs, "balancer.front", preset.name()),
            "{}/{}: {errs:?}",
            front.name(),
            preset.name()
        );
    }
    // A knob the front does not have: the ALB has no retry setting.
    let mut alb = ok.clone();
    alb.balancer.front = Some(Front::AwsAlb);
    let errs = errors(&alb);
    assert!(
        has(
            &errs,
            "balancer.front_retry_on",
            "front aws_alb has no such setting"
        ),
        "{errs:?}"
    );
    // One error per field, and no hint at a knob the front lacks.
    let mut alb_retries = alb.clone();
    alb_retries.balancer.front_retry_on = None;
    alb_retries.balancer.front_retries = Some(2);
    let errs = errors(&alb_retries);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        has(
            &errs,
            "balancer.front_retries",
            "front aws_alb has no such setting"
        ),
        "{errs:?}"
    );
    // Front fields without a front.
    let mut none = ok.clone();
    none.balancer.front = None;
    none.balancer.front_timeout = Some(secs(5));
    let errs = errors(&none);
    assert!(
        has(&errs, "balancer.front_retry_on", "balancer.front"),
        "{errs:?}"
    );
    assert!(
        has(&errs, "balancer.front_timeout", "balancer.front"),
        "{errs:?}"
    );
    // Outcomes an L7 inner hop never answers; bounds.
    let mut bad = ok.clone();
    bad.balancer.front_retry_on = Some(vec![Outcome::Refused, Outcome::Http503]);
    bad.balancer.front_retries = Some(11);
    bad.balancer.front_timeout = Some(SimDuration::ZERO);
    let errs = errors(&bad);
    assert!(has(&errs, "balancer.front_retry_on", "refused"), "{errs:?}");
    assert!(
        has(&errs, "balancer.front_retries", "at most 10"),
        "{errs:?}"
    );
    assert!(has(&errs, "balancer.front_timeout", "above 0s"), "{errs:?}");
    // Streams through a front are not modelled.
    let mut streams = ok.clone();
    streams.streams = Some(models::StreamsConfig::default());
    assert!(has(&errors(&streams), "balancer.front", "streams"));
}

#[test]
fn a_front_that_cannot_act_is_rejected() {
    let mut f = Fleet::default();
    f.balancer.preset = Preset::IngressNginx;
    // Istio's gateway with its defaults (1.24+): no status retries, no route timeout.
    f.balancer.front = Some(Front::IstioGateway);
    let errs = errors(&f);
    assert!(has(&errs, "balancer.front", "cannot act"), "{errs:?}");
    // Retries on a status, or a timeout, make it act.
    let mut retry = f.clone();
    retry.balancer.front_retry_on = Some(vec![Outcome::Http503]);
    assert!(retry.validate().is_ok(), "{:?}", errors(&retry));
    let mut timeout = f.clone();
    timeout.balancer.front_timeout = Some(secs(15));
    assert!(timeout.validate().is_ok(), "{:?}", errors(&timeout));
    // A rule with no retries, or retries with no rule, would not act.
    let mut zero = retry.clone();
    zero.balancer.front_retries = Some(0);
    assert!(has(
        &errors(&zero),
        "balancer.front_retry_on",
        "front_retries = 0"
    ));
    let mut empty = timeout.clone();
    empty.balancer.front_retries = Some(3);
    assert!(has(
        &errors(&empty),
        "balancer.front_retries",
        "front_retry_on is empty"
    ));
    // GCLB without a retry policy still has its backend service timeout: it acts.
    let mut gclb = f.clone();
    gclb.balancer.front = Some(Front::Gclb);
    assert!(gclb.validate().is_ok(), "{:?}", errors(&gclb));
}

#[test]
fn a_front_is_written_in_a_file_and_absent_by_default() {
    let text = "[balancer]\npreset = \"haproxy_ingress\"\nfront = \"istio_gateway\"\nfront_retry_on = [\"http_503\"]\nfront_timeout = \"15s\"\n";
    let f: Fleet = toml::from_str(text).unwrap();
    f.validate().unwrap();
    let spec = f.balancer.resolve_front().unwrap();
    assert_eq!(spec.retries, Front::IstioGateway.spec().retries);
    assert_eq!(spec.retry_on, vec![Outcome::Http503]);
    assert_eq!(spec.timeout, secs(15));
    let back: Fleet = toml::from_str(&toml::to_string(&f).unwrap()).unwrap();
    assert_eq!(back, f);
    // Absent: nothing written back.
    let plain = toml::to_string(&Fleet::default()).unwrap();
    assert!(!plain.contains("front"), "{plain}");
    for front in Front::ALL {
        let f: Fleet = toml::from_str(&format!(
            "[balancer]\npreset = \"ingress_nginx\"\nfront = \"{}\"\n",
            front.name()
        ))
        .unwrap();
        assert_eq!(f.balancer.front, Some(front));
    }
}
