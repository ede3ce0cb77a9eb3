//! Analytic checks with stated tolerances.

mod common;

use common::*;
use models::{Arrivals, Fleet, IntOrPercent, PreStop, resolve_fenceposts};
use sim_core::{Dist, SimDuration};

/// Constant rate R over n pods, new connection per request, a fixed deregistration lag L and a
/// pod that closes its listener at once on SIGTERM (pid1 on, every other lever off).
fn lag_fleet(rate: f64, lag: SimDuration) -> Fleet {
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
    // Adding a new pod to the views lags by L too: minReadySeconds above L makes the next old
    // pod go only once the new one is in every view, so each deletion sees n endpoints (with a
    // shorter minReadySeconds the next deleted pod gets R/(n-1) for a while, and more is lost).
    f.rollout.min_ready = lag + secs(1);
    // The exited pod's network namespace outlives the lag, so every connection routed to it is
    // refused (see `connections_after_the_sandbox_is_gone_time_out` for the other case).
    f.lifecycle.sandbox_teardown = lag + secs(1);
    f
}

#[test]
fn refused_per_deleted_pod_is_rate_over_n_times_lag() {
    // Each of the n old pods is deleted once. While the view lags by L it still holds n
    // endpoints, so the deleted pod gets R/n of the new connections for L seconds, and every
    // one is refused: expected total n x R/n x L = R x L. Picks are uniform, so the count is
    // binomial; with R x L = 800 and p = 1/4 the sd is ~25: 10% (80) is more than 3 sd.
    let (rate, lag, n) = (400.0, 2.0, 4u32);
    let f = lag_fleet(rate, SimDuration::from_secs_f64(lag));
    assert_eq!(f.pod.replicas, n);
    for seed in [11, 12] {
        let r = run("lag", &f, seed);
        let refused = r.analysis.summary.requests.refused as f64;
        let expected = f64::from(n) * rate / f64::from(n) * lag;
        assert!(
            (refused - expected).abs() <= 0.1 * expected,
            "seed {seed}: refused {refused}, expected R/n x L x n = {expected} (+-10%)"
        );
        assert_eq!(
            mech(&r, "stale_lb_view") + mech(&r, "listener_closed"),
            r.analysis.summary.requests.refused,
            "seed {seed}: every refusal comes from the lagging view"
        );
    }
}

#[test]
fn connections_after_the_sandbox_is_gone_time_out() {
    // The same fleet, but the exited pod's sandbox (and IP) goes T after its exit, T < L: the
    // new connections of its first T seconds are refused, those of the remaining L - T get no
    // answer and time out at the client's connect timeout. Expected R x T refused and
    // R x (L - T) timeouts over the n deletions; binomial as above, +-10% is over 3 sd.
    let (rate, lag, teardown) = (400.0, 2.0, 0.5);
    let mut f = lag_fleet(rate, SimDuration::from_secs_f64(lag));
    f.lifecycle.sandbox_teardown = SimDuration::from_secs_f64(teardown);
    f.client.connect_timeout = ms(1_500);
    for seed in [11, 12] {
        let r = run("teardown", &f, seed);
        let q = &r.analysis.summary.requests;
        let (refused, timeout) = (q.refused as f64, q.timeout as f64);
        let (want_refused, want_timeout) = (rate * teardown, rate * (lag - teardown));
        assert!(
            (refused - want_refused).abs() <= 0.1 * want_refused,
            "seed {seed}: refused {refused}, expected R x T = {want_refused} (+-10%)"
        );
        assert!(
            (timeout - want_timeout).abs() <= 0.1 * want_timeout,
            "seed {seed}: timeout {timeout}, expected R x (L - T) = {want_timeout} (+-10%)"
        );
        assert_eq!(
            mech(&r, "unanswered_connect"),
            q.timeout,
            "seed {seed}: every timeout is an unanswered connect"
        );
        // A connect timeout is a latency of exactly the timeout (rtt 0 here): the window's
        // p99.9 sits on it, since ~6% of the window's requests time out.
        let p999 = r
            .analysis
            .summary
            .latency_ms
            .window
            .p999
            .expect("window p99.9");
        assert!(
            (p999 - 1_500.0).abs() < 5.0,
            "seed {seed}: window p99.9 {p999} ms, expected the 1500 ms connect timeout"
        );
    }
}

#[test]
fn prestop_at_least_the_lag_refuses_nothing() {
    let lag = SimDuration::from_secs(2);
    for prestop in [2, 3] {
        let mut f = lag_fleet(400.0, lag);
        f.lifecycle.prestop = Some(PreStop::Sleep(secs(prestop)));
        for seed in [11, 12] {
            let r = run("prestop", &f, seed);
            assert_eq!(
                r.analysis.summary.requests.refused, 0,
                "seed {seed}, preStop {prestop}s >= lag 2s"
            );
        }
    }
}

#[test]
fn a_prestop_with_no_lever_changes_refused_by_the_closed_form() {
    // No lever, no readiness change: only `lifecycle.prestop` differs. Each of the n deleted
    // pods keeps serving through preStop, so of the lag L only L - P is refused: the expected
    // refused count falls from R x L to R x (L - P), a change of R x P = 400 x 1.5 = 600. Both
    // counts are binomial (sd ~25 and ~17 summed over the four deletions, p = 1/4): the
    // change is held to +-15% (90), more than 3 sd of the difference.
    let (rate, lag, p) = (400.0, 2.0, 1.5);
    let without = lag_fleet(rate, SimDuration::from_secs_f64(lag));
    let mut with_hook = without.clone();
    with_hook.lifecycle.prestop = Some(PreStop::Exec(SimDuration::from_secs_f64(p)));
    for seed in [11, 12, 13] {
        let a = run("no-prestop", &without, seed)
            .analysis
            .summary
            .requests
            .refused as f64;
        let b = run("prestop", &with_hook, seed)
            .analysis
            .summary
            .requests
            .refused as f64;
        assert!(
            (b - rate * (lag - p)).abs() <= 40.0,
            "seed {seed}: refused {b} with preStop {p}s, expected ~{}",
            rate * (lag - p)
        );
        let change = a - b;
        assert!(
            (change - rate * p).abs() <= 90.0,
            "seed {seed}: preStop {p}s changed refused by {change} ({a} -> {b}), closed form R x P = {}",
            rate * p
        );
    }
}

#[test]
fn kubernetes_default_strategy_at_four_replicas_dips_capacity_to_three_quarters() {
    // No [rollout] written: maxSurge 25% (1 of 4, rounded up), maxUnavailable 25% (1 of 4,
    // rounded down). The controller removes one old pod at once: 3 of 4 ready.
    let mut f = small(Levers::NONE);
    f.rollout = models::RolloutConfig::default();
    assert_eq!(f.effective_fenceposts(), (1, 1));
    for seed in [3, 4] {
        let r = run("k8s-default", &f, seed);
        assert_eq!(r.analysis.summary.capacity_dip, Some(0.75), "seed {seed}");
    }
    // maxSurge 25% / maxUnavailable 0 keeps every pod: the check can fail.
    f.rollout.max_unavailable = IntOrPercent::Percent(0);
    let r = run("k8s-surge-only", &f, 3);
    assert_eq!(r.analysis.summary.capacity_dip, Some(1.0), "seed 3");
}

#[test]
fn surge_and_unavailable_round_like_kubernetes() {
    use IntOrPercent::{Int, Percent};
    // (maxSurge, maxUnavailable, replicas) -> (surge, unavailable). Kubernetes API reference:
    // "Absolute number is calculated from percentage by rounding up" (maxSurge) / "rounding
    // down" (maxUnavailable); its examples: 30% of 10 -> 3 each (130% / 70% of desired). Both
    // resolving to 0 through rounding makes maxUnavailable 1 (ResolveFenceposts).
    let cases = [
        (Percent(30), Percent(30), 10, (3, 3)),
        (Percent(25), Percent(25), 4, (1, 1)),
        (Percent(25), Percent(25), 3, (1, 0)),
        (Percent(25), Percent(25), 1, (1, 0)),
        (Percent(10), Percent(10), 10, (1, 1)),
        (Percent(10), Percent(10), 9, (1, 0)),
        (Percent(0), Percent(10), 4, (0, 1)),
        (Int(0), Percent(20), 4, (0, 1)),
        (Int(2), Int(0), 4, (2, 0)),
        (Percent(100), Percent(0), 5, (5, 0)),
        (Percent(1), Percent(99), 10, (1, 9)),
    ];
    for (surge, unavailable, replicas, want) in cases {
        assert_eq!(
            resolve_fenceposts(surge, unavailable, replicas),
            want,
            "maxSurge {surge}, maxUnavailable {unavailable}, replicas {replicas}"
        );
    }
}

#[test]
fn surge_lever_keeps_capacity_and_its_absence_dips_by_one_pod() {
    let off = run("surge-off", &small(Levers::ALL.without_surge()), 3);
    let on = run("surge-on", &small(Levers::ALL), 3);
    assert_eq!(on.analysis.summary.capacity_dip, Some(1.0), "seed 3");
    assert_eq!(
        off.analysis.summary.capacity_dip,
        Some(0.75),
        "seed 3: 3 of 4 ready"
    );
}

trait Without {
    fn without_surge(self) -> Self;
}
impl Without for Levers {
    fn without_surge(self) -> Self {
        with(self, "surge", false)
    }
}

#[test]
fn a_two_hop_chain_with_an_l7_proxy_turns_refused_into_the_proxys_status() {
    // One hop: kube-proxy routes new connections to the deleted pod for the lag L, and each
    // is refused: R x L = 800 expected. Two hops: an L7 proxy in front forwards to the
    // Service, kube-proxy behind it picks the same pods with the same lag, so the same
    // requests fail, but the client sees the proxy's own answer (nginx and ALB: 502) and no
    // refusal. Retries are off so the count carries over one to one; binomial sd ~25, +-10%.
    let (rate, lag) = (400.0, 2.0);
    let one = lag_fleet(rate, SimDuration::from_secs_f64(lag));
    for (preset, retries) in [
        (models::Preset::IngressNginx, Some(0)),
        (models::Preset::CloudLb, None),
    ] {
        let mut two = one.clone();
        two.balancer.preset = preset;
        two.balancer.retries = retries;
        two.balancer.via = Some(models::Preset::KubeProxyIptables);
        two.validate().unwrap();
        for seed in [11, 12] {
            let a = run("one-hop", &one, seed).analysis.summary.requests;
            let b = run("two-hop", &two, seed).analysis.summary.requests;
            assert_eq!(b.refused, 0, "{preset:?} seed {seed}: {b:?}");
            assert!(
                (a.refused as f64 - rate * lag).abs() <= 80.0,
                "seed {seed}: one hop refused {}",
                a.refused
            );
            assert!(
                (b.http_502 as f64 - rate * lag).abs() <= 80.0,
                "{preset:?} seed {seed}: two hops 502 {} (one hop refused {})",
                b.http_502,
                a.refused
            );
        }
    }
    // A chain whose inner hop is not a pod-picking L4 hop is rejected, naming the field.
    let mut bad = one.clone();
    bad.balancer.via = Some(models::Preset::IngressNginx);
    let errs = bad.validate().unwrap_err();
    assert!(errs.iter().any(|e| e.path == "balancer.via"), "{errs:?}");
}

/// kube-proxy's sync limiter (`propagation.min_sync_period`, bounded_frequency_runner.go): with
/// maxSurge 1 / maxUnavailable 0 each old pod is deleted right after its replacement turns
/// ready (`rollout.controller_delay` later), so its deletion arrives within the period of the sync that showed the new pod and
/// waits for the next allowed one: about the whole period, however fast one sync is. Without
/// the limiter the same fleet loses only what its 10 ms lag allows.
#[test]
fn the_sync_limiter_makes_a_deletion_after_a_readiness_change_wait_the_period() {
    let (rate, n) = (400.0, 4u32);
    let mut f = lag_fleet(rate, SimDuration::from_millis(10));
    f.rollout.max_surge = IntOrPercent::Int(1);
    f.rollout.max_unavailable = IntOrPercent::Int(0);
    f.rollout.min_ready = SimDuration::ZERO;
    // The controllers delete the old pod 40 ms after its replacement is ready (28-50 ms on the
    // host cluster): after the sync that shows the new pod has started.
    f.rollout.controller_delay = Some(SimDuration::from_millis(40));
    assert_eq!(f.pod.replicas, n);
    let lost = |f: &Fleet, seed| {
        let r = run("sync", f, seed);
        mech(&r, "stale_lb_view") + mech(&r, "listener_closed") + mech(&r, "unanswered_connect")
    };
    let mut limited = f.clone();
    limited.propagation.min_sync_period = Some(SimDuration::from_secs(1));
    for seed in [21, 22] {
        let (free, held) = (lost(&f, seed) as f64, lost(&limited, seed) as f64);
        // Each of the n deleted pods keeps its R/n share of new connections for about 1 s.
        assert!(
            held >= 0.7 * rate,
            "seed {seed}: {held} lost with the limiter, expected about R x 1 s = {rate}"
        );
        assert!(free <= 0.1 * held, "seed {seed}: {free} lost without it");
    }
}
