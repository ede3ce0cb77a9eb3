//! Real process, real SIGTERM: the drain with levers on, the naive exit with levers off, and the
//! guardian.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use measure::{ShutdownStep as S, check_order};

fn levers_on(prestop: &str, drain: &str, budget: &str) -> Vec<(&'static str, String)> {
    vec![
        ("FLEETSIM_READINESS_LEVER", "true".into()),
        ("FLEETSIM_DRAIN_LEVER", "true".into()),
        ("FLEETSIM_REQUEUE_LEVER", "true".into()),
        ("FLEETSIM_JITTER_LEVER", "false".into()),
        ("FLEETSIM_PRESTOP_WAIT", prestop.into()),
        ("FLEETSIM_DRAIN_TIMEOUT", drain.into()),
        ("FLEETSIM_SHUTDOWN_BUDGET", budget.into()),
    ]
}

fn open(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

#[test]
fn levers_on_sigterm_drains_in_order_and_exits_0() {
    let mut svc = Svc::start("drain-on", &levers_on("600ms", "5s", "8s"));
    svc.wait_ready(Duration::from_secs(10));

    // An idle keep-alive connection (one request served, then silent) and an in-flight request
    // that outlives the preStop wait.
    let mut idle = open(svc.addr);
    write_request(&mut idle, "GET", "/work?ms=1", false).unwrap();
    let first = read_response(&mut idle).unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-fleetsim-pod"), Some("drain-on"));
    assert_eq!(
        first.header("connection"),
        None,
        "keep-alive before shutdown"
    );
    let mut busy = open(svc.addr);
    write_request(&mut busy, "GET", "/work?ms=1500", false).unwrap();
    wait_for(
        "the slow request to be in flight",
        Duration::from_secs(5),
        || {
            get(svc.addr, "/metrics")
                .ok()?
                .body
                .contains("fleetsim_http_inflight 2")
                .then_some(())
        },
    );

    let t0 = Instant::now();
    svc.signal(libc::SIGTERM);
    wait_for("readiness to fail", Duration::from_secs(2), || {
        (get(svc.addr, "/readyz").ok()?.status == 503).then_some(())
    });
    // Still serving during the preStop wait, on a new connection.
    let during = get(svc.addr, "/work?ms=1").unwrap();
    assert_eq!(during.status, 200, "{}", svc.dump());
    // A call that cannot finish in the remaining budget is shed with Retry-After, and its
    // keep-alive connection is closed after the answer (a retry goes through the balancer).
    let mut kept = open(svc.addr);
    write_request(&mut kept, "GET", "/work?ms=60000", false).unwrap();
    let long = read_response(&mut kept).unwrap();
    assert_eq!(long.status, 503, "{}", svc.dump());
    assert!(long.header("retry-after").is_some(), "{long:?}");
    assert_eq!(long.header("connection"), Some("close"), "{long:?}");
    let mut rest = Vec::new();
    assert_eq!(
        kept.read_to_end(&mut rest).unwrap(),
        0,
        "the server closes a shed call's connection"
    );

    let resp = read_response(&mut busy).unwrap();
    assert_eq!(
        resp.status,
        200,
        "in-flight request must complete: {}",
        svc.dump()
    );
    assert_eq!(
        resp.header("connection"),
        Some("close"),
        "the last keep-alive response says Connection: close"
    );
    let mut rest = Vec::new();
    assert_eq!(
        busy.read_to_end(&mut rest).unwrap(),
        0,
        "then the server closes the connection"
    );
    let mut rest = Vec::new();
    assert_eq!(
        idle.read_to_end(&mut rest).unwrap(),
        0,
        "the idle keep-alive connection is closed by the server"
    );

    let st = svc
        .wait_exit(Duration::from_secs(8))
        .unwrap_or_else(|| panic!("no exit within the budget: {}", svc.dump()));
    assert_eq!(st.code(), Some(0), "{}", svc.dump());
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "drain took {:?}",
        t0.elapsed()
    );

    let steps = svc.stdout.steps();
    let names: Vec<S> = steps.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(
        names,
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
            S::Exited
        ],
        "{}",
        svc.dump()
    );
    let timed: Vec<(S, u64)> = steps.iter().map(|(s, t, _)| (*s, *t)).collect();
    assert!(check_order(&timed).is_empty(), "{:?}", check_order(&timed));
    let ns = |s: S| timed.iter().find(|(x, _)| *x == s).unwrap().1;
    let prestop = ns(S::PrestopDone) - ns(S::SigtermReceived);
    assert!(prestop >= 600_000_000, "preStop wait was {prestop} ns");
    assert_eq!(svc.stdout.step(S::Exited).unwrap()["code"], 0);
    assert_eq!(
        svc.stdout.step(S::InflightDrained).unwrap()["complete"],
        true
    );
    assert_eq!(svc.stdout.step(S::KeepaliveClosed).unwrap()["forced"], 0);
    // Every line carries a wall clock too.
    assert!(
        steps
            .iter()
            .all(|(_, _, v)| v["wall_unix_ms"].as_u64().is_some())
    );
}

#[test]
fn levers_off_sigterm_resets_in_flight_and_refuses() {
    let mut svc = Svc::start("naive", &[]);
    svc.wait_ready(Duration::from_secs(10));
    let addr = svc.addr;
    let mut busy = open(addr);
    write_request(&mut busy, "GET", "/work?ms=3000", false).unwrap();
    wait_for(
        "the slow request to be in flight",
        Duration::from_secs(5),
        || {
            get(addr, "/metrics")
                .ok()?
                .body
                .contains("fleetsim_http_inflight 2")
                .then_some(())
        },
    );
    svc.signal(libc::SIGTERM);
    let st = svc
        .wait_exit(Duration::from_secs(2))
        .unwrap_or_else(|| panic!("naive mode must exit at once: {}", svc.dump()));
    assert_eq!(
        st.code(),
        Some(real_service::EXIT_NOT_DRAINED),
        "{}",
        svc.dump()
    );
    let err = read_response(&mut busy).expect_err("the in-flight request must be lost");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
        ),
        "closed before a full response: {err:?}"
    );
    let refused = TcpStream::connect(addr).expect_err("nothing listens any more");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    let names: Vec<S> = svc.stdout.steps().iter().map(|(s, _, _)| *s).collect();
    assert_eq!(
        names,
        vec![S::SigtermReceived, S::ListenerClosed, S::Exited],
        "{}",
        svc.dump()
    );
}

#[test]
fn guardian_force_exits_a_wedged_drain_in_time() {
    // A handler that blocks its runtime thread for 60 s: the drain cannot finish it (tasks queued
    // on that thread may stall too), dropping the runtime waits for it, and only the guardian
    // thread can end the process. The runtime may be too wedged to answer /metrics, so the test
    // waits for the handler's own log line.
    let budget = Duration::from_secs(3);
    let mut env = levers_on("0s", "1s", "3s");
    env.push(("FLEETSIM_FAULT_INJECTION", "true".into()));
    let mut svc = Svc::start("guardian", &env);
    svc.wait_ready(Duration::from_secs(10));
    let mut stuck = open(svc.addr);
    write_request(&mut stuck, "GET", "/work?ms=60000&block=true", false).unwrap();
    wait_for(
        "the stuck request to block its thread",
        Duration::from_secs(5),
        || svc.stdout.find(|l| l.contains("\"event\":\"blocking\"")),
    );
    let t0 = Instant::now();
    svc.signal(libc::SIGTERM);
    let st = svc
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("the guardian did not fire: {}", svc.dump()));
    let took = t0.elapsed();
    assert_eq!(
        st.code(),
        Some(real_service::EXIT_GUARDIAN),
        "{}",
        svc.dump()
    );
    assert!(took >= budget, "fired early: {took:?}");
    assert!(
        took < budget + Duration::from_millis(1500),
        "fired late: {took:?}"
    );
    let fired = svc
        .stdout
        .step(S::GuardianFired)
        .unwrap_or_else(|| panic!("{}", svc.dump()));
    let term = svc.stdout.step(S::SigtermReceived).unwrap();
    let waited = fired["mono_ns"].as_u64().unwrap() - term["mono_ns"].as_u64().unwrap();
    assert!(
        waited >= budget.as_nanos() as u64,
        "guardian fired after {waited} ns"
    );
    let exits: Vec<_> = svc
        .stdout
        .steps()
        .into_iter()
        .filter(|(s, _, _)| *s == S::Exited)
        .map(|(_, _, v)| v["code"].clone())
        .collect();
    assert_eq!(exits, vec![real_service::EXIT_GUARDIAN], "{}", svc.dump());
    // Whatever part of the drain could run gave up on the stuck request; it never completed.
    assert!(
        svc.stdout
            .step(S::InflightDrained)
            .is_none_or(|v| v["complete"] == false),
        "{}",
        svc.dump()
    );
}

#[test]
fn invalid_configuration_names_the_field() {
    let out = service_cmd(
        "bad",
        &[
            ("FLEETSIM_DRAIN_LEVER", "true".into()),
            ("FLEETSIM_DRAIN_TIMEOUT", "30s".into()),
            ("FLEETSIM_SHUTDOWN_BUDGET", "20s".into()),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(real_service::EXIT_CONFIG));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("FLEETSIM_SHUTDOWN_BUDGET") && err.contains("must be above"),
        "{err}"
    );
}

/// Close times (since SIGTERM) of `n` idle keep-alive connections during a drain.
fn keepalive_close_times(jitter: bool, n: usize) -> Vec<Duration> {
    let mut env = levers_on("0s", "3s", "5s");
    env.retain(|(k, _)| *k != "FLEETSIM_JITTER_LEVER");
    env.push(("FLEETSIM_JITTER_LEVER", jitter.to_string()));
    env.push(("FLEETSIM_JITTER_WINDOW", "1500ms".into()));
    let mut svc = Svc::start(&format!("jitter-{jitter}"), &env);
    svc.wait_ready(Duration::from_secs(10));
    let t0 = std::sync::Arc::new(std::sync::OnceLock::<Instant>::new());
    let readers: Vec<_> = (0..n)
        .map(|_| {
            let mut c = open(svc.addr);
            write_request(&mut c, "GET", "/healthz", false).unwrap();
            assert_eq!(read_response(&mut c).unwrap().status, 200);
            let t0 = t0.clone();
            std::thread::spawn(move || {
                let mut rest = Vec::new();
                let n = c.read_to_end(&mut rest).unwrap();
                assert_eq!(n, 0, "closed without a response");
                t0.get().unwrap().elapsed()
            })
        })
        .collect();
    t0.set(Instant::now()).unwrap();
    svc.signal(libc::SIGTERM);
    let times: Vec<Duration> = readers.into_iter().map(|h| h.join().unwrap()).collect();
    let st = svc
        .wait_exit(Duration::from_secs(6))
        .unwrap_or_else(|| panic!("{}", svc.dump()));
    assert_eq!(st.code(), Some(0), "{}", svc.dump());
    times
}

#[test]
fn without_jitter_idle_keepalives_close_together() {
    let t = keepalive_close_times(false, 12);
    let (min, max) = (t.iter().min().unwrap(), t.iter().max().unwrap());
    assert!(*max < Duration::from_millis(500), "{t:?}");
    assert!(*max - *min < Duration::from_millis(200), "{t:?}");
}

#[test]
fn jitter_spreads_idle_keepalive_closes_over_the_window() {
    // 12 uniform draws over 1.5 s: the chance that they all fall within 0.5 s is about
    // 12 * (1/3)^11 = 7e-5, so a spread under 0.5 s means the closes were not jittered.
    let t = keepalive_close_times(true, 12);
    let (min, max) = (t.iter().min().unwrap(), t.iter().max().unwrap());
    assert!(
        *max - *min >= Duration::from_millis(500),
        "not spread: {t:?}"
    );
    assert!(
        *max < Duration::from_millis(1500 + 500),
        "past the window: {t:?}"
    );
}

#[test]
fn sse_streams_end_with_a_shutdown_event_on_drain() {
    let mut svc = Svc::start("sse", &levers_on("0s", "3s", "5s"));
    svc.wait_ready(Duration::from_secs(10));
    let mut c = open(svc.addr);
    write_request(&mut c, "GET", "/events?interval_ms=50", false).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("\"seq\":2") {
        let n = c.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "stream ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    svc.signal(libc::SIGTERM);
    c.read_to_end(&mut seen).unwrap();
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("x-fleetsim-pod: sse"), "{text}");
    assert!(
        text.contains("event: tick") && text.contains("event: shutdown"),
        "{text}"
    );
    let st = svc
        .wait_exit(Duration::from_secs(6))
        .unwrap_or_else(|| panic!("{}", svc.dump()));
    assert_eq!(st.code(), Some(0), "{}", svc.dump());
    assert_eq!(
        svc.stdout.step(S::KeepaliveClosed).unwrap()["forced"],
        0,
        "the stream closed by itself"
    );
}

#[test]
fn drain_deadline_drops_what_is_left_and_exits_71() {
    // Requeue lever off, so a 30 s call is admitted; the drain waits 1 s for it, then drops the
    // connection and finishes the shutdown normally, but does not call it clean.
    let mut env = levers_on("0s", "1s", "3s");
    env.retain(|(k, _)| *k != "FLEETSIM_REQUEUE_LEVER");
    let mut svc = Svc::start("drain-timeout", &env);
    svc.wait_ready(Duration::from_secs(10));
    let mut busy = open(svc.addr);
    write_request(&mut busy, "GET", "/work?ms=30000", false).unwrap();
    wait_for(
        "the long request to be in flight",
        Duration::from_secs(5),
        || {
            get(svc.addr, "/metrics")
                .ok()?
                .body
                .contains("fleetsim_http_inflight 2")
                .then_some(())
        },
    );
    let t0 = Instant::now();
    svc.signal(libc::SIGTERM);
    let st = svc
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("{}", svc.dump()));
    assert_eq!(
        st.code(),
        Some(real_service::EXIT_DRAIN_INCOMPLETE),
        "{}",
        svc.dump()
    );
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "ended {took:?} after SIGTERM: after the drain deadline, before the guardian"
    );
    assert!(
        read_response(&mut busy).is_err(),
        "the dropped request gets no response"
    );
    let drained = svc.stdout.step(S::InflightDrained).unwrap();
    assert_eq!(drained["complete"], false, "{}", svc.dump());
    assert_eq!(drained["left"], 1);
    assert_eq!(svc.stdout.step(S::KeepaliveClosed).unwrap()["forced"], 1);
    assert!(svc.stdout.step(S::GuardianFired).is_none());
    assert_eq!(
        svc.stdout.step(S::Exited).unwrap()["code"],
        real_service::EXIT_DRAIN_INCOMPLETE
    );
}
