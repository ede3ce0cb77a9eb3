//! Every failure mode comes from a mechanism, and each lever removes its own.
//!
//! Counts are summed over a few fixed seeds so a `> 0` check does not hinge on one draw.

mod common;

use common::*;
use models::Fleet;
use sim_core::{Dist, SimDuration};

const SEEDS: [u64; 3] = [21, 22, 23];

/// Sum of a figure over SEEDS.
fn total(f: &Fleet, name: &str, pick: impl Fn(&models::SimRun) -> u64) -> u64 {
    SEEDS.iter().map(|&s| pick(&run(name, f, s))).sum()
}

fn duplicated(r: &models::SimRun) -> u64 {
    r.analysis.summary.jobs.duplicated
}
fn lost(r: &models::SimRun) -> u64 {
    r.analysis.summary.jobs.lost
}

#[test]
fn before_loses_requests_and_jobs_and_after_loses_nothing() {
    let before = small_keepalive(Levers::NONE);
    assert!(
        total(&before, "before", |r| mech(r, "killed_in_flight")) > 0,
        "seeds {SEEDS:?}: pinned keep-alive connections are cut at SIGKILL"
    );
    assert!(total(&before, "before", duplicated) > 0, "seeds {SEEDS:?}");
    // With a lease longer than what is left of the run after the last kill (SQS's default
    // visibility timeout is 30 s), the killed jobs are still leased to dead workers: lost.
    let mut long_lease = before.clone();
    long_lease.queue.as_mut().unwrap().lease = secs(30);
    assert!(total(&long_lease, "before", lost) > 0, "seeds {SEEDS:?}");
    for r in SEEDS.map(|s| run("before", &before, s)) {
        assert_eq!(r.analysis.summary.capacity_dip, Some(0.75));
    }

    for f in [small(Levers::ALL), small_keepalive(Levers::ALL)] {
        for seed in SEEDS {
            let r = run("after", &f, seed);
            let s = &r.analysis.summary;
            assert_eq!(
                s.failed, 0,
                "seed {seed} ({:?}): {:?}",
                f.client.connection, r.failures_by_mechanism
            );
            assert_eq!((s.jobs.duplicated, s.jobs.lost), (0, 0), "seed {seed}");
            assert_eq!(s.capacity_dip, Some(1.0), "seed {seed}");
            assert!(r.rollout_complete);
        }
    }
}

#[test]
fn each_lever_off_brings_back_its_own_failure_mode() {
    // pid1 off: SIGTERM is swallowed, SIGKILL at the grace period cuts pinned connections.
    let f = small_keepalive(with(Levers::ALL, "pid1", false));
    assert!(
        total(&f, "no-pid1", |r| mech(r, "killed_in_flight")) > 0,
        "seeds {SEEDS:?}"
    );
    // readiness off: the listener closes while views still route new connections to it.
    let f = small(with(Levers::ALL, "readiness", false));
    assert!(
        total(&f, "no-readiness", |r| mech(r, "stale_lb_view")
            + mech(r, "listener_closed"))
            > 0,
        "seeds {SEEDS:?}"
    );
    // drain off: the process exits after preStop with requests in flight on pinned connections.
    let f = small_keepalive(with(Levers::ALL, "drain", false));
    assert!(
        total(&f, "no-drain", |r| mech(r, "killed_in_flight")) > 0,
        "seeds {SEEDS:?}"
    );
    // requeue off: the job in hand dies with the process and its redelivery applies again.
    let f = small(with(Levers::ALL, "requeue", false));
    assert!(total(&f, "no-requeue", duplicated) > 0, "seeds {SEEDS:?}");
    // surge off: capacity dips by one pod.
    let f = small(with(Levers::ALL, "surge", false));
    for seed in SEEDS {
        assert_eq!(
            run("no-surge", &f, seed).analysis.summary.capacity_dip,
            Some(0.75)
        );
    }
    // ...and with every other lever on, a lever's absence brings back nothing else.
    for name in measure::Lever::ALL.map(measure::Lever::name) {
        let f = small(with(Levers::ALL, name, false));
        for seed in SEEDS {
            let r = run(name, &f, seed);
            for (m, n) in &r.failures_by_mechanism {
                let allowed: &[&str] = match name {
                    "pid1" => &["killed_in_flight", "keepalive_race", "lost_job"],
                    // A stale view routes to the closed listener, or, once the drained
                    // pod has exited and its sandbox is gone, to an IP nobody answers.
                    "readiness" => &["stale_lb_view", "listener_closed", "unanswered_connect"],
                    "drain" => &["killed_in_flight", "keepalive_race"],
                    "requeue" => &["redelivered_job", "lost_job"],
                    _ => &[],
                };
                assert!(
                    *n == 0 || allowed.contains(&m.as_str()),
                    "lever {name} off, seed {seed}: {m} = {n}"
                );
            }
        }
    }
}

#[test]
fn removing_a_mechanism_removes_its_loss() {
    // Stale views: with pid1 alone the listener closes at SIGTERM; with a zero lag everywhere
    // there is no window in which a view still routes to it.
    let mut f = small(Levers {
        pid1: true,
        ..Levers::NONE
    });
    assert!(
        total(&f, "lag", |r| mech(r, "stale_lb_view")) > 0,
        "seeds {SEEDS:?}"
    );
    f.propagation.endpointslice = Dist::constant(SimDuration::ZERO);
    f.propagation.lag = Some(Dist::constant(SimDuration::ZERO));
    f.client.rtt = SimDuration::ZERO;
    for seed in SEEDS {
        let r = run("no-lag", &f, seed);
        assert_eq!(
            mech(&r, "stale_lb_view") + mech(&r, "listener_closed"),
            0,
            "seed {seed}: {:?}",
            r.failures_by_mechanism
        );
    }

    // Killed in-flight requests: with no work in flight (zero service time) none is killed.
    let mut f = small_keepalive(Levers::NONE);
    assert!(
        total(&f, "work", |r| mech(r, "killed_in_flight")) > 0,
        "seeds {SEEDS:?}"
    );
    f.pod.service_time = Dist::constant(SimDuration::ZERO);
    f.client.rtt = SimDuration::ZERO;
    for seed in SEEDS {
        let r = run("no-work", &f, seed);
        assert_eq!(mech(&r, "killed_in_flight"), 0, "seed {seed}");
    }

    // Redelivered jobs: with the side effect at the very end of the job, acked in the same
    // instant, no kill can land between effect and ack, and (the lease being longer than a
    // job) nothing is applied twice; the killed jobs are simply redone.
    let mut f = small(Levers::NONE);
    assert!(total(&f, "effects", duplicated) > 0, "seeds {SEEDS:?}");
    f.queue.as_mut().unwrap().effect_at = 1.0;
    for seed in SEEDS {
        let r = run("effect-at-ack", &f, seed);
        assert_eq!(duplicated(&r), 0, "seed {seed}");
        assert!(r.analysis.summary.jobs.applied_once > 0);
    }
}

#[test]
fn failures_are_attributed_exactly() {
    for f in [
        small(Levers::NONE),
        small_keepalive(Levers::NONE),
        small(with(Levers::ALL, "readiness", false)),
    ] {
        for seed in SEEDS {
            let r = run("attribution", &f, seed);
            let s = &r.analysis.summary;
            let requests: u64 = models::Mechanism::ALL
                .iter()
                .filter(|m| m.is_request())
                .map(|m| mech(&r, m.as_str()))
                .sum();
            assert_eq!(requests, s.failed, "seed {seed}");
            assert_eq!(
                mech(&r, "redelivered_job"),
                s.jobs.duplicated,
                "seed {seed}"
            );
            assert_eq!(mech(&r, "lost_job"), s.jobs.lost, "seed {seed}");
            assert_eq!(mech(&r, "unfinished"), 0, "seed {seed}");
        }
    }
}

#[test]
fn shutdown_evidence_follows_each_lever() {
    use measure::{ShutdownStep as S, check_order};
    let steps = |r: &models::SimRun| -> Vec<(Vec<S>, Option<i32>)> {
        r.shutdowns
            .iter()
            .map(|p| (p.steps.iter().map(|s| s.0).collect(), p.exit_code))
            .collect()
    };
    for (levers, want, code) in [
        // pid1 off: SIGTERM swallowed, SIGKILL at the grace period.
        (Levers::NONE, vec![S::Exited], models::EXIT_SIGKILL),
        // pid1 alone: the naive exit at SIGTERM.
        (
            Levers {
                pid1: true,
                ..Levers::NONE
            },
            vec![S::SigtermReceived, S::ListenerClosed, S::Exited],
            models::EXIT_NOT_DRAINED,
        ),
        // Every lever: the full drain in the contract's order.
        (
            Levers::ALL,
            vec![
                S::SigtermReceived,
                S::ReadinessFailed,
                S::PrestopDone,
                S::ListenerClosed,
                S::InflightDrained,
                S::KeepaliveClosed,
                S::WorkerStopped,
                S::JobsReleased,
                S::PoolsClosed,
                S::Exited,
            ],
            models::EXIT_DRAINED,
        ),
    ] {
        let r = run("evidence", &small_keepalive(levers), 31);
        assert_eq!(r.shutdowns.len(), 4, "seed 31: four old pods deleted");
        for (pod, (got, exit)) in r.shutdowns.iter().zip(steps(&r)) {
            assert_eq!(got, want, "seed 31, levers {levers:?}, pod {}", pod.pod);
            assert_eq!(exit, Some(code), "seed 31, levers {levers:?}");
            assert!(check_order(&pod.steps).is_empty(), "{:?}", pod.steps);
        }
    }
    // With preStop the SIGTERM comes preStop after the deletion; SIGKILL at the grace period.
    let f = small_keepalive(with(Levers::ALL, "drain", false));
    let r = run("evidence", &f, 31);
    for p in &r.shutdowns {
        let sigterm = p.steps[0];
        assert_eq!(sigterm.0, S::SigtermReceived);
        assert_eq!(
            sigterm.1 - p.deleted_ns,
            f.lifecycle.prestop.unwrap().duration().as_nanos()
        );
    }
}

#[test]
fn a_readiness_gate_keeps_the_rollout_behind_a_slow_cloud_lb() {
    // An ALB registers new targets tens of seconds after Kubernetes calls them ready; without
    // the readiness gate the rollout deletes old pods the ALB still needs: no endpoints, 503.
    let mut f = small(with(Levers::ALL, "surge", false));
    f.balancer.preset = models::Preset::CloudLb;
    // A fixed 20 s (de)registration lag plus 30 s of health checks for new targets: the old
    // pods leave the ALB about 20 s after deletion, the new ones join about 50 s after ready.
    f.propagation.lag = Some(Dist::constant(secs(20)));
    // Kubernetes is done long before the ALB is: keep the load (and the window) going.
    f.run.tail = secs(60);
    assert!(
        total(&f, "cloud", |r| mech(r, "no_endpoints")) > 0,
        "seeds {SEEDS:?}"
    );
    f.balancer.readiness_gate = Some(true);
    for seed in SEEDS {
        let r = run("cloud-gate", &f, seed);
        assert_eq!(mech(&r, "no_endpoints"), 0, "seed {seed}");
        assert!(r.rollout_complete, "seed {seed}");
    }
}

#[test]
fn connection_rotation_frees_pinned_keepalives() {
    // The before fleet with keep-alive clients through kube-proxy: conntrack pins each
    // connection to its pod, the shell entrypoint swallows SIGTERM, and SIGKILL at the end of
    // the grace period cuts whatever is still pinned there. A server that closes connections
    // after N requests, or past an age, makes the clients reconnect through the balancer,
    // whose view no longer holds the deleted pod: the pinned connections move away first.
    let pinned = small_keepalive(Levers::NONE);
    let cut = |f: &Fleet, name: &str| {
        total(f, name, |r| {
            mech(r, "killed_in_flight") + mech(r, "keepalive_race")
        })
    };
    let before = cut(&pinned, "pinned");
    assert!(
        before > 0,
        "seeds {SEEDS:?}: pinned keep-alives are cut at SIGKILL"
    );
    let mut by_requests = pinned.clone();
    by_requests.server.max_requests = Some(20);
    let mut by_age = pinned.clone();
    by_age.server.max_age = Some(secs(5));
    for (name, f) in [("max_requests", &by_requests), ("max_age", &by_age)] {
        let after = cut(f, name);
        assert!(
            after * 5 < before,
            "seeds {SEEDS:?}: {name} rotation left {after} cut requests, pinned {before}"
        );
        // Rotation itself opens new connections (the reconnects are counted, not hidden).
        let reconnects: u64 = SEEDS
            .iter()
            .map(|&s| run(name, f, s).analysis.summary.requests.sent)
            .sum();
        assert!(reconnects > 0);
    }
}

#[test]
fn a_server_idle_timeout_shorter_than_the_gap_between_requests_races() {
    // 32 clients at 100 req/s: each connection is idle ~320 ms between requests. A server
    // idle timeout of 200 ms closes most of them while idle; a request the client sends before
    // the FIN arrives (one hop later) is a keep-alive race, so a few appear even with no deploy
    // failure otherwise, and none without the timeout.
    let mut f = small_keepalive(Levers::ALL);
    let base = total(&f, "no-idle", |r| mech(r, "keepalive_race"));
    assert_eq!(base, 0, "seeds {SEEDS:?}");
    f.server.idle_timeout = Some(ms(200));
    f.client.rtt = ms(20);
    let raced = total(&f, "idle", |r| mech(r, "keepalive_race"));
    assert!(
        raced > 0,
        "seeds {SEEDS:?}: server idle timeout 200 ms, rtt 20 ms"
    );
}

#[test]
fn node_cpu_sharing_moves_p99_and_more_cores_bring_it_back() {
    // CPU-bound requests (100 ms of CPU each) at 100 req/s: 10 cores' worth of demand on
    // average. All pods on one node of 4 cores: processor sharing stretches service, the p99
    // rises well above the 100 ms service time; on 4 nodes of 4 cores the demand fits.
    let mut crowded = small(Levers::ALL);
    crowded.nodes = Some(models::NodesConfig {
        count: 1,
        cores: 4.0,
        cpu_per_request: 1.0,
    });
    let mut spread = crowded.clone();
    spread.nodes.as_mut().unwrap().count = 4;
    let p99 = |f: &Fleet| -> f64 {
        SEEDS
            .iter()
            .map(|&s| {
                run("cpu", f, s)
                    .analysis
                    .summary
                    .latency_ms
                    .baseline
                    .p99
                    .unwrap()
            })
            .sum::<f64>()
            / SEEDS.len() as f64
    };
    let (c, s) = (p99(&crowded), p99(&spread));
    assert!(
        c > 1.5 * s,
        "seeds {SEEDS:?}: crowded p99 {c} ms vs spread {s} ms"
    );
    // Without [nodes] nothing changes: the same run as before the CPU model.
    let plain = small(Levers::ALL);
    let base = run("plain", &plain, 21);
    assert!(base.analysis.summary.latency_ms.baseline.p99.unwrap() < 200.0);
}

/// `pod.service_time_while_pods_start`: requests that start service while a new pod starts draw
/// their service time from it, the rest keep `pod.service_time`. A 400 ms tail while pods start
/// moves the window's p99 and leaves the baseline's (no pod starts then) where it was.
#[test]
fn a_slower_service_time_while_pods_start_moves_the_window_p99_only() {
    let plain = small(Levers::ALL);
    let mut slow = plain.clone();
    slow.pod.service_time_while_pods_start = Some(Dist::Uniform {
        low: ms(100),
        high: ms(400),
    });
    for seed in SEEDS {
        let a = run("plain", &plain, seed).analysis.summary;
        let b = run("slow", &slow, seed).analysis.summary;
        let (aw, bw) = (
            a.latency_ms.window.p99.unwrap(),
            b.latency_ms.window.p99.unwrap(),
        );
        assert!(
            aw < 200.0 && bw > 300.0,
            "seed {seed}: window p99 {aw} -> {bw} ms"
        );
        assert_eq!(
            a.latency_ms.baseline, b.latency_ms.baseline,
            "seed {seed}: no pod starts in the baseline"
        );
    }
    // The same distribution given as the field's value and as `pod.service_time` validate alike;
    // a bad one is an error naming the field.
    let mut bad = plain.clone();
    bad.pod.service_time_while_pods_start = Some(Dist::Uniform {
        low: ms(400),
        high: ms(100),
    });
    let e = format!("{:?}", bad.validate().unwrap_err());
    assert!(e.contains("pod.service_time_while_pods_start"), "{e}");
}

/// `app.shed_unfinishable` (the requeue lever's HTTP half): 20 s operations on keep-alive
/// connections, a drain of 8 s. Without it the operations still running at the drain's deadline
/// are cut (killed_in_flight) and those that arrive on still-open connections during the drain
/// are started and cut too; with it a draining pod refuses what cannot finish (503 +
/// Retry-After: `shed`, not a failure), so fewer are cut and none of the refused counts as lost.
#[test]
fn a_draining_pod_sheds_what_cannot_finish_instead_of_cutting_it() {
    let mut f = small_keepalive(Levers::ALL);
    f.queue = None;
    f.load.rate = 6.0;
    f.load.deadline = secs(60);
    f.pod.service_time = sim_core::Dist::constant(secs(20));
    f.drain.timeout = secs(8);
    f.drain.guardian = secs(12);
    f.lifecycle.grace_period = secs(20);
    f.run.baseline = secs(30);
    let mut cut = f.clone();
    cut.app.shed_unfinishable = false;
    assert!(f.app.shed_unfinishable, "the requeue lever sets it");
    for seed in [131, 132] {
        let shed = run("shed", &f, seed).analysis.summary;
        let plain = run("cut", &cut, seed).analysis.summary;
        assert_eq!(plain.requests.shed, 0, "seed {seed}: {:?}", plain.requests);
        assert!(shed.requests.shed > 0, "seed {seed}: {:?}", shed.requests);
        // A shed request is answered, not lost.
        assert_eq!(
            shed.failed,
            shed.requests.sent - shed.requests.ok - shed.requests.shed,
            "seed {seed}: {:?}",
            shed.requests
        );
        assert!(
            shed.failed < plain.failed,
            "seed {seed}: {} failed shedding, {} cutting",
            shed.failed,
            plain.failed
        );
    }
}
