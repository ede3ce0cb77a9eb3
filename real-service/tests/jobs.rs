//! The queue worker against a real PostgreSQL: kill mid-job (between side effect and ack), and
//! the requeue lever's release on SIGTERM.

mod common;

use std::time::Duration;

use common::*;
use measure::ShutdownStep as S;

fn worker_env(
    pg: &Pg,
    requeue: bool,
    extra: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("FLEETSIM_DATABASE_URL", pg.url()),
        ("FLEETSIM_WORKER", "true".to_string()),
        ("FLEETSIM_REQUEUE_LEVER", requeue.to_string()),
        ("FLEETSIM_LEASE", "1s".to_string()),
        ("FLEETSIM_JOB_MS", "50ms".to_string()),
        ("FLEETSIM_POLL", "50ms".to_string()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    env
}

/// Where worker A is when it is killed, after the side effect and before the ack.
#[derive(Clone, Copy, Debug)]
enum Between {
    /// A test hook holds A between the effect (at the end of its work) and the ack.
    EffectAndAck,
    /// The job's effect comes 50 ms into 2.9 s of work (`effect_ms`): A is still working.
    EffectAndEndOfWork,
}

/// SIGKILL the worker after the side effect, before the ack; a second worker gets the job once
/// the lease expires. Returns (ledger rows, no-op rows, deliveries) for the job.
fn kill_mid_job(idempotent: bool, at: Between) -> (i64, i64, i32) {
    let pg = Pg::start();
    let key = format!("kill-mid-job-{idempotent}");
    let (extra, path): (&[(&'static str, &str)], String) = match at {
        Between::EffectAndAck => (
            &[("FLEETSIM_TEST_PAUSE_AFTER_EFFECT", "1h")],
            format!("/jobs?key={key}"),
        ),
        Between::EffectAndEndOfWork => (
            &[("FLEETSIM_LEASE", "3s")],
            format!("/jobs?key={key}&ms=2900&effect_ms=50"),
        ),
    };
    let mut env = worker_env(&pg, idempotent, &[]);
    env.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let mut a = Svc::start("worker-a", &env);
    a.wait_ready(Duration::from_secs(20));
    let r = request(a.addr, "POST", &path).unwrap();
    assert_eq!(r.status, 201, "{r:?}");
    let ledger = format!("SELECT count(*) FROM fleetsim_ledger WHERE idempotency_key = '{key}'");
    wait_for(
        "the side effect of worker A",
        Duration::from_secs(15),
        || (pg.count(&ledger) == 1).then_some(()),
    );
    wait_for(
        "worker A to pause before its ack",
        Duration::from_secs(5),
        || a.stdout.find(|l| l.contains("side effect applied")),
    );
    a.signal(libc::SIGKILL);
    a.wait_exit(Duration::from_secs(5))
        .expect("SIGKILL ends worker A");
    let state: String = pg.query(&format!(
        "SELECT state FROM fleetsim_jobs WHERE idempotency_key = '{key}'"
    ))[0]
        .get(0);
    assert_eq!(state, "leased", "A died between side effect and ack");

    env.retain(|(k, _)| *k != "FLEETSIM_TEST_PAUSE_AFTER_EFFECT");
    let b = Svc::start("worker-b", &env);
    wait_for(
        "the redelivered job to be acked by B",
        Duration::from_secs(20),
        || {
            let rows = pg.query(&format!(
                "SELECT state FROM fleetsim_jobs WHERE idempotency_key = '{key}'"
            ));
            (rows[0].get::<_, String>(0) == "done").then_some(())
        },
    );
    let applied = pg.count(&ledger);
    let noops = pg.count(&format!(
        "SELECT count(*) FROM fleetsim_ledger_noops WHERE idempotency_key = '{key}'"
    ));
    let deliveries: i32 = pg.query(&format!(
        "SELECT deliveries FROM fleetsim_jobs WHERE idempotency_key = '{key}'"
    ))[0]
        .get(0);
    println!(
        "kill mid-job ({at:?}), idempotency {}: ledger rows {applied}, recorded no-ops {noops}, deliveries {deliveries}",
        if idempotent { "on" } else { "off" }
    );
    drop(b);
    (applied, noops, deliveries)
}

#[test]
fn kill_mid_job_with_idempotency_applies_once() {
    assert_eq!(kill_mid_job(true, Between::EffectAndAck), (1, 1, 2));
}

#[test]
fn kill_mid_job_without_idempotency_applies_twice() {
    assert_eq!(kill_mid_job(false, Between::EffectAndAck), (2, 0, 2));
}

/// A job whose side effect comes early (`effect_ms`) and whose worker dies while still working
/// after it: redelivered, applied twice without the idempotency key, once with it.
#[test]
fn kill_after_an_early_side_effect_applies_twice_without_idempotency() {
    assert_eq!(kill_mid_job(false, Between::EffectAndEndOfWork), (2, 0, 2));
    assert_eq!(kill_mid_job(true, Between::EffectAndEndOfWork), (1, 1, 2));
}

/// `effect_ms` beyond the job's work, or not a number, is refused and creates no job.
#[test]
fn an_effect_point_outside_the_work_is_refused() {
    let pg = Pg::start();
    let w = Svc::start("effect-refused", &worker_env(&pg, false, &[]));
    w.wait_ready(Duration::from_secs(20));
    for (q, says) in [
        (
            "ms=100&effect_ms=101",
            "effect_ms=101 must be at most the job's work, ms=100",
        ),
        ("ms=100&effect_ms=-1", "effect_ms=\"-1\""),
    ] {
        let r = request(w.addr, "POST", &format!("/jobs?key=refused&{q}")).unwrap();
        assert_eq!(r.status, 400, "{q}: {r:?}");
        assert!(r.body.contains(says), "{q}: {}", r.body);
    }
    assert_eq!(pg.count("SELECT count(*) FROM fleetsim_jobs"), 0);
}

/// SIGTERM while a 30 s job is in hand (lease 60 s). Returns the exit code, the
/// `jobs_released` count (None if not logged), the job's state and whether its lease owner was
/// cleared, and the ledger rows.
fn sigterm_mid_job(requeue: bool, drain: bool) -> (i32, Option<u64>, String, bool, i64) {
    let pg = Pg::start();
    let mut env = worker_env(&pg, requeue, &[]);
    env.retain(|(k, _)| *k != "FLEETSIM_LEASE");
    env.extend([
        ("FLEETSIM_LEASE", "60s".to_string()),
        ("FLEETSIM_DRAIN_LEVER", drain.to_string()),
        ("FLEETSIM_DRAIN_TIMEOUT", "1s".to_string()),
        ("FLEETSIM_SHUTDOWN_BUDGET", "3s".to_string()),
    ]);
    let mut w = Svc::start(&format!("requeue-{requeue}-drain-{drain}"), &env);
    w.wait_ready(Duration::from_secs(20));
    let r = request(w.addr, "POST", "/jobs?key=long-job&ms=30000").unwrap();
    assert_eq!(r.status, 201, "{r:?}");
    wait_for("the long job to be leased", Duration::from_secs(10), || {
        w.stdout.find(|l| l.contains("job leased"))
    });
    w.signal(libc::SIGTERM);
    let st = w
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("{}", w.dump()));
    let released = w
        .stdout
        .step(S::JobsReleased)
        .and_then(|v| v["count"].as_u64());
    let row = &pg.query(
        "SELECT state, lease_owner IS NULL FROM fleetsim_jobs WHERE idempotency_key = 'long-job'",
    )[0];
    let out = (
        st.code().unwrap_or(-1),
        released,
        row.get::<_, String>(0),
        row.get::<_, bool>(1),
        pg.count("SELECT count(*) FROM fleetsim_ledger"),
    );
    println!("{}: {out:?}", w.name);
    out
}

/// Requeue lever on (with drain): the job cannot finish in the budget, so it is released at
/// once (not left to lease expiry) and never applied by this worker; clean exit.
#[test]
fn requeue_releases_a_job_that_cannot_finish() {
    assert_eq!(
        sigterm_mid_job(true, true),
        (0, Some(1), "queued".to_string(), true, 0)
    );
}

/// Requeue lever alone (drain off): the process still quits at once (143), but releases the job
/// in hand first.
#[test]
fn requeue_alone_releases_before_the_naive_exit() {
    assert_eq!(
        sigterm_mid_job(true, false),
        (
            real_service::EXIT_NOT_DRAINED,
            Some(1),
            "queued".to_string(),
            true,
            0
        )
    );
}

/// Requeue lever off: the worker is aborted mid-job; the job stays leased until its lease
/// expires.
#[test]
fn without_requeue_the_job_is_left_leased() {
    assert_eq!(
        sigterm_mid_job(false, true),
        (0, Some(0), "leased".to_string(), false, 0)
    );
    assert_eq!(
        sigterm_mid_job(false, false),
        (
            real_service::EXIT_NOT_DRAINED,
            None,
            "leased".to_string(),
            false,
            0
        )
    );
}

/// Send raw bytes, read one response (None if the server closed without answering).
fn raw_exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> Option<Resp> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    read_response(&mut s).ok()
}

/// `POST /jobs` reads (and bounds) the whole body before it creates the job: a malformed chunked
/// body is a 400 and no job, an oversized one a 413 and no job; a well-formed chunked body
/// creates the job.
#[test]
fn a_job_body_that_cannot_be_read_creates_no_job() {
    let pg = Pg::start();
    let svc = Svc::start("bodies", &[("FLEETSIM_DATABASE_URL", pg.url())]);
    svc.wait_ready(Duration::from_secs(20));
    let jobs = |key: &str| {
        pg.count(&format!(
            "SELECT count(*) FROM fleetsim_jobs WHERE idempotency_key = '{key}'"
        ))
    };

    let malformed = b"POST /jobs?key=malformed HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
    let r = raw_exchange(svc.addr, malformed);
    if let Some(r) = &r {
        assert_eq!(r.status, 400, "{r:?}");
        assert!(r.body.contains("no job created"), "{r:?}");
    }
    // A chunked body cut off mid-chunk: the client closes its side.
    {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(svc.addr).unwrap();
        s.write_all(b"POST /jobs?key=truncated HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly-part")
            .unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = read_response(&mut s);
    }
    let big = vec![b'x'; real_service::MAX_JOB_BODY + 1];
    let mut oversized = format!(
        "POST /jobs?key=oversized HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        big.len()
    )
    .into_bytes();
    oversized.extend_from_slice(&big);
    let r = raw_exchange(svc.addr, &oversized).expect("a 413 answer");
    assert_eq!(r.status, 413, "{r:?}");

    let good = b"POST /jobs?key=chunked-ok HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let r = raw_exchange(svc.addr, good).expect("an answer");
    assert_eq!(r.status, 201, "{r:?}");

    assert_eq!(jobs("chunked-ok"), 1);
    assert_eq!(jobs("malformed"), 0, "{}", svc.dump());
    assert_eq!(jobs("truncated"), 0, "{}", svc.dump());
    assert_eq!(jobs("oversized"), 0, "{}", svc.dump());
}

/// A PostgreSQL outage: the worker backs off (poll 20 ms, backoff cap 500 ms) and logs one line
/// when claims start failing and one when they work again, not one per attempt; after the
/// restart it takes jobs again.
#[test]
fn claims_back_off_during_a_database_outage_with_bounded_logs() {
    let mut pg = Pg::start();
    let svc = Svc::start(
        "outage",
        &worker_env(
            &pg,
            true,
            &[
                ("FLEETSIM_POLL", "20ms"),
                ("FLEETSIM_CLAIM_BACKOFF_MAX", "500ms"),
            ],
        ),
    );
    svc.wait_ready(Duration::from_secs(20));
    pg.stop();
    let outage = Duration::from_secs(4);
    std::thread::sleep(outage);
    pg.restart();
    // The first enqueue may meet a pooled connection the outage closed (500): a client retries.
    wait_for(
        "an enqueue after the restart",
        Duration::from_secs(10),
        || {
            let r = request(svc.addr, "POST", "/jobs?key=after-outage").ok()?;
            if r.status != 201 {
                println!("enqueue after the restart: {} {}", r.status, r.body.trim());
            }
            (r.status == 201).then_some(())
        },
    );
    wait_for(
        "the job after the outage to be done",
        Duration::from_secs(20),
        || {
            (pg.count("SELECT count(*) FROM fleetsim_jobs WHERE idempotency_key = 'after-outage' AND state = 'done'") == 1).then_some(())
        },
    );
    let lines = svc.stdout.json();
    let claim_lines: Vec<_> = lines
        .iter()
        .filter(|v| v["event"] == "claim_backoff" || v["event"] == "claim_recovered")
        .collect();
    let recovered = lines
        .iter()
        .find(|v| v["event"] == "claim_recovered")
        .unwrap_or_else(|| panic!("no claim_recovered line: {}", svc.dump()));
    let failures = recovered["failures"].as_u64().unwrap();
    println!(
        "outage {outage:?}, poll 20ms: {failures} failed claims, {} log lines about them",
        claim_lines.len()
    );
    // Without backoff: one attempt (and line) per 20 ms poll, about 200 in 4 s. With it, the
    // pause reaches the 500 ms cap after 5 doublings: about 12 attempts.
    assert!(failures >= 2, "{failures}");
    assert!(
        failures <= 40,
        "no backoff? {failures} failed claims in {outage:?}"
    );
    assert_eq!(
        claim_lines.len(),
        2,
        "one line when the outage starts, one when it ends: {claim_lines:#?}"
    );
    assert_eq!(claim_lines[0]["event"], "claim_backoff");
    assert!(
        !svc.stdout
            .all()
            .iter()
            .any(|l| l.contains("\"claim failed\"")),
        "no per-attempt claim failed lines"
    );
}
