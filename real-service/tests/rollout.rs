//! A rollout on one machine: open-loop load from the project's own generator (`loadgen`), in
//! keep-alive and new-connection modes, through HAProxy on loopback, while the old process is
//! SIGTERMed and a replacement (started first: surge) takes over. The test plays the proxy's
//! health checker: it polls the old process's /readyz every 100 ms, and once that fails it waits
//! a deregistration lag and takes the backend out through HAProxy's runtime API.
//!
//! HAProxy runs with `retries 0`, so every backend failure reaches the client: a refused
//! connection to the backend shows as `http_503`, a reset or early close as `http_502`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Parser;
use common::*;
use loadgen::record::{Line, parse_line};
use loadgen::{LoadOpts, LoadReport};
use measure::{ShutdownStep as S, check_order};

/// The two scenarios use most of the machine; run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const HEALTH_INTERVAL: Duration = Duration::from_millis(100);

/// How long after the health check first fails the backend is taken out of HAProxy:
/// `FLEETSIM_TEST_DEREGISTRATION_LAG` (a humantime duration), default 300 ms. With the levers on,
/// the preStop wait is sized from it (lag + health interval + 1.1 s margin), as a manifest's
/// preStop sleep would be sized from the measured deregistration delay.
fn deregistration_lag() -> Duration {
    match std::env::var("FLEETSIM_TEST_DEREGISTRATION_LAG") {
        Ok(s) => humantime::parse_duration(&s)
            .unwrap_or_else(|e| panic!("FLEETSIM_TEST_DEREGISTRATION_LAG={s:?}: {e}")),
        Err(_) => Duration::from_millis(300),
    }
}

fn env(levers: bool) -> Vec<(&'static str, String)> {
    if !levers {
        return vec![];
    }
    // preStop wait > health-check interval + deregistration lag, with margin; the budget covers
    // the wait, the 3 s drain timeout and 2 s more.
    let prestop = deregistration_lag() + HEALTH_INTERVAL + Duration::from_millis(1100);
    let budget = prestop + Duration::from_secs(5);
    vec![
        ("FLEETSIM_READINESS_LEVER", "true".into()),
        (
            "FLEETSIM_PRESTOP_WAIT",
            format!("{}ms", prestop.as_millis()),
        ),
        ("FLEETSIM_DRAIN_LEVER", "true".into()),
        ("FLEETSIM_DRAIN_TIMEOUT", "3s".into()),
        (
            "FLEETSIM_SHUTDOWN_BUDGET",
            format!("{}ms", budget.as_millis()),
        ),
        ("FLEETSIM_REQUEUE_LEVER", "true".into()),
        ("FLEETSIM_JITTER_LEVER", "true".into()),
        ("FLEETSIM_JITTER_WINDOW", "1s".into()),
    ]
}

fn load(
    target: &str,
    mode: &str,
    duration: &str,
    out: &Path,
    seed: u64,
) -> std::thread::JoinHandle<LoadReport> {
    let args = vec![
        "load".to_string(),
        "--target".into(),
        target.to_string(),
        "--rate".into(),
        "100".into(),
        "--duration".into(),
        duration.into(),
        "--mode".into(),
        mode.into(),
        "--clients".into(),
        "16".into(),
        "--timeout".into(),
        "5s".into(),
        "--fault-threshold".into(),
        "100ms".into(),
        "--seed".into(),
        seed.to_string(),
        "--out".into(),
        out.display().to_string(),
        "--no-signals".into(),
        "--label".into(),
        format!("real-service rollout {mode}"),
    ];
    let opts = LoadOpts::parse_from(args);
    let plan = opts.plan().expect("load plan");
    std::thread::spawn(move || loadgen::run(plan).expect("load generator"))
}

fn ok_count(addr: std::net::SocketAddr) -> Option<u64> {
    let m = get(addr, "/metrics").ok()?.body;
    m.lines()
        .find(|l| l.starts_with("fleetsim_http_requests_total{path=\"/work\",outcome=\"ok\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

struct Outcome {
    /// Every generator run was valid (no generator fault, every request recorded).
    valid: bool,
    /// Per generator mode: outcome class -> count.
    classes: BTreeMap<String, BTreeMap<&'static str, u64>>,
    failed: u64,
    old_exit: Option<i32>,
    old: Svc,
    served_by: BTreeMap<String, u64>,
}

/// A run with a generator fault is invalid under the measurement contract (the generator, not
/// the service, fell behind, e.g. on a machine busy with other work): it is discarded and run
/// again, up to three runs in all.
fn valid_rollout(levers: bool) -> Outcome {
    for _ in 0..3 {
        let out = rollout(levers);
        if out.valid {
            return out;
        }
    }
    panic!(
        "three invalid runs in a row: the generator could not keep its schedule on this machine"
    );
}

fn rollout(levers: bool) -> Outcome {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tag = if levers { "on" } else { "off" };
    let mut old = Svc::start(&format!("old-{tag}"), &env(levers));
    let new = Svc::start(&format!("new-{tag}"), &env(levers));
    old.wait_ready(Duration::from_secs(10));
    let hp = Haproxy::start(&[("old", old.addr, true), ("new", new.addr, false)]);
    let ctx = format!(
        "levers {tag}: haproxy {} (dir {}), old {}, new {}",
        hp.addr(),
        hp.dir.display(),
        old.addr,
        new.addr
    );
    println!("{ctx}");

    let dir = temp_dir("rollout");
    let target = format!("http://{}/work?ms=20", hp.addr());
    let ka = load(
        &target,
        "keepalive",
        "9s",
        &dir.join("keepalive.ndjson"),
        11,
    );
    let nc = load(&target, "new", "9s", &dir.join("new.ndjson"), 12);

    // Steady state on the old process, then the replacement becomes ready and is registered.
    wait_for(
        &format!("old to serve 100 requests ({ctx})"),
        Duration::from_secs(10),
        || (ok_count(old.addr)? >= 100).then_some(()),
    );
    new.wait_ready(Duration::from_secs(10));
    hp.set_state("new", "ready");
    wait_for(
        &format!("new to serve 50 requests ({ctx})"),
        Duration::from_secs(10),
        || (ok_count(new.addr)? >= 50).then_some(()),
    );

    // Deletion: SIGTERM, and the health checker's view of /readyz.
    old.signal(libc::SIGTERM);
    let sigterm = Instant::now();
    wait_for(
        &format!("old /readyz to fail ({ctx})"),
        Duration::from_secs(10),
        || {
            let healthy = get(old.addr, "/readyz")
                .map(|r| r.status == 200)
                .unwrap_or(false);
            if healthy {
                std::thread::sleep(HEALTH_INTERVAL);
                None
            } else {
                Some(())
            }
        },
    );
    let detected = sigterm.elapsed();
    std::thread::sleep(deregistration_lag());
    hp.set_state("old", "maint");
    println!(
        "levers {tag}: readiness failure seen {detected:?} after SIGTERM; backend removed {:?} after SIGTERM",
        sigterm.elapsed()
    );
    let st = old.wait_exit(Duration::from_secs(10) + deregistration_lag());

    let mut classes = BTreeMap::new();
    let mut failed = 0;
    let mut served_by = BTreeMap::new();
    let mut valid = true;
    for (mode, h) in [("keepalive", ka), ("new", nc)] {
        let report = h.join().expect("load thread");
        println!(
            "levers {tag}, {mode}: {:?}; footer {:?}",
            report.outcomes, report.footer
        );
        if !report.footer.valid {
            println!("levers {tag}, {mode}: generator fault, run invalid ({ctx})");
            valid = false;
        }
        assert!(report.footer.sent > 500, "{:?}", report.footer);
        failed += report
            .outcomes
            .iter()
            .filter(|(k, _)| !matches!(**k, "ok" | "shed"))
            .map(|(_, v)| v)
            .sum::<u64>();
        for line in std::fs::read_to_string(&report.out).unwrap().lines() {
            if let Ok(Line::Req(r)) = parse_line(line) {
                *served_by
                    .entry(r.pod.unwrap_or_else(|| "-".into()))
                    .or_insert(0u64) += 1;
            }
        }
        classes.insert(mode.to_string(), report.outcomes);
    }
    println!(
        "levers {tag}: failed {failed}; by class {classes:?}; served by {served_by:?}; old exit {:?}",
        st.map(|s| s.code())
    );
    let _ = std::fs::remove_dir_all(&dir);
    drop(hp);
    Outcome {
        valid,
        classes,
        failed,
        old_exit: st.and_then(|s| s.code()),
        old,
        served_by,
    }
}

#[test]
fn rollout_with_levers_on_loses_nothing() {
    let out = valid_rollout(true);
    assert_eq!(
        out.failed,
        0,
        "by class: {:?}\n{}",
        out.classes,
        out.old.dump()
    );
    assert_eq!(out.old_exit, Some(0), "{}", out.old.dump());
    let steps: Vec<(S, u64)> = out
        .old
        .stdout
        .steps()
        .iter()
        .map(|(s, t, _)| (*s, *t))
        .collect();
    assert!(check_order(&steps).is_empty(), "{:?}", check_order(&steps));
    let names: Vec<S> = steps.iter().map(|(s, _)| *s).collect();
    for s in [
        S::SigtermReceived,
        S::ReadinessFailed,
        S::PrestopDone,
        S::ListenerClosed,
        S::InflightDrained,
        S::KeepaliveClosed,
        S::PoolsClosed,
        S::Exited,
    ] {
        assert!(names.contains(&s), "missing {s}: {names:?}");
    }
    assert!(
        out.served_by.get("old-on").copied().unwrap_or(0) > 0
            && out.served_by.get("new-on").copied().unwrap_or(0) > 0,
        "{:?}",
        out.served_by
    );
}

#[test]
fn rollout_with_levers_off_loses_requests() {
    let out = valid_rollout(false);
    assert!(
        out.failed > 0,
        "the naive service must lose requests on deploy: {:?}",
        out.classes
    );
    assert_eq!(
        out.old_exit,
        Some(real_service::EXIT_NOT_DRAINED),
        "{}",
        out.old.dump()
    );
}

/// Without a proxy in front, the naive shutdown's losses show in their raw classes: requests in
/// flight on the process end as `reset` (the connection closes before a full response) and every
/// later one as `refused` (nothing listens any more).
#[test]
fn naive_shutdown_direct_losses_are_reset_and_refused() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for attempt in 1..=3 {
        let mut old = Svc::start("direct-off", &[]);
        old.wait_ready(Duration::from_secs(10));
        let dir = temp_dir("direct");
        // 200 ms of work at 200 req/s keeps about 40 requests in flight at SIGTERM.
        let target = format!("http://{}/work?ms=200", old.addr);
        let ka = load(
            &target,
            "keepalive",
            "4s",
            &dir.join("keepalive.ndjson"),
            21,
        );
        let nc = load(&target, "new", "4s", &dir.join("new.ndjson"), 22);
        wait_for(
            &format!("{} to serve 50 requests", old.addr),
            Duration::from_secs(10),
            || (ok_count(old.addr)? >= 50).then_some(()),
        );
        old.signal(libc::SIGTERM);
        let st = old.wait_exit(Duration::from_secs(5));
        assert_eq!(
            st.and_then(|s| s.code()),
            Some(real_service::EXIT_NOT_DRAINED),
            "{}",
            old.dump()
        );
        let reports = [ka.join().unwrap(), nc.join().unwrap()];
        let _ = std::fs::remove_dir_all(&dir);
        if reports.iter().any(|r| !r.footer.valid) {
            println!("attempt {attempt}: generator fault, run invalid; running again");
            continue;
        }
        let sum = |class: &str| -> u64 { reports.iter().map(|r| r.outcomes[class]).sum() };
        let classes: Vec<_> = reports.iter().map(|r| &r.outcomes).collect();
        println!("direct, levers off: by class {classes:?}");
        assert!(
            sum("reset") > 0,
            "in-flight requests must be reset: {classes:?}"
        );
        assert!(
            sum("refused") > 0,
            "later requests must be refused: {classes:?}"
        );
        assert_eq!(
            sum("ok") + sum("reset") + sum("refused"),
            reports.iter().map(|r| r.footer.sent).sum::<u64>(),
            "no other class: {classes:?}"
        );
        return;
    }
    panic!(
        "three invalid runs in a row: the generator could not keep its schedule on this machine"
    );
}
