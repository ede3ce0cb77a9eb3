//! The generator under overload and what it shows while it runs: a bounded backlog, the rate on
//! the wire (not the rate asked for), warnings while it falls behind, a run marked invalid; the
//! Prometheus endpoint scraped during a run.

use crate::common::*;
use loadgen::LoadPlan;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Most requests in flight at any instant, from the records (actual start to end).
fn max_concurrency(r: &[loadgen::record::Req]) -> usize {
    let mut ev: Vec<(i64, i32)> = r
        .iter()
        .flat_map(|q| [(q.actual, 1), (q.end, -1)])
        .collect();
    // Ends before starts at the same instant.
    ev.sort();
    let (mut cur, mut max) = (0i32, 0i32);
    for (_, d) in ev {
        cur += d;
        max = max.max(cur);
    }
    max as usize
}

#[test]
fn overload_is_bounded_reported_while_it_happens_and_marks_the_run_invalid() {
    // Each connection's thread takes 5 ms per response: with at most 8 requests in flight the
    // server gets at most ~1,600/s, against 5,000/s asked for.
    let a = serve(|mut s, _| {
        while read_head(&mut s).is_some() {
            std::thread::sleep(Duration::from_millis(5));
            respond(&mut s, "200 OK", "", "ok");
        }
    });
    let t0 = Instant::now();
    let (rep, lines) = run_load(&[
        "--target",
        &format!("http://{a}/"),
        "--rate",
        "5000",
        "--duration",
        "1s",
        "--clients",
        "4",
        "--max-inflight",
        "8",
    ]);
    let took = t0.elapsed();
    let r = reqs(&lines);
    let f = &rep.footer;
    // What went on the wire, not the target.
    assert!(rep.achieved_rps < 2_500.0, "achieved {}", rep.achieved_rps);
    assert!(rep.achieved_rps > 100.0, "achieved {}", rep.achieved_rps);
    assert_eq!(f.sent, r.len() as u64);
    assert_eq!(f.recorded, f.sent);
    // The schedule's tail was cut at its end plus the 1 s grace, counted, not sent late.
    assert_eq!(f.scheduled, 5000);
    assert_eq!(f.sent + rep.unsent, f.scheduled, "{rep:?}");
    assert!(rep.unsent > 1000, "{rep:?}");
    assert!(took < Duration::from_secs(6), "took {took:?}");
    // Flagged: late sends, counted, the run invalid.
    assert!(!f.valid);
    assert!(rep.late_sends > 0 && f.generator_faults >= rep.late_sends);
    // Warned while it happened: within the schedule's first second, not at the end.
    assert!(rep.lag_warnings >= 1, "{rep:?}");
    let first = rep.first_lag_warning_ns.expect("a warning");
    assert!(first < 1_000_000_000, "first warning at {first} ns");
    // The backlog is bounded: never more than 8 in flight, by the counter and by the records.
    assert!(rep.peak_inflight <= 8, "{rep:?}");
    assert!(max_concurrency(&r) <= 8, "{}", max_concurrency(&r));
    assert!(rep.backlog_waits > 0);
}

#[test]
fn a_run_that_keeps_its_schedule_has_no_backlog_and_stays_valid() {
    let a = trivial_server();
    let (rep, lines) = run_load(&[
        "--target",
        &format!("http://{a}/"),
        "--rate",
        "500",
        "--duration",
        "1s",
        "--clients",
        "4",
        "--max-inflight",
        "8",
        "--fault-threshold",
        "2s",
    ]);
    assert_eq!(rep.footer.sent, 500);
    assert_eq!(rep.unsent, 0);
    assert!(rep.footer.valid, "{rep:?}");
    assert_eq!(rep.lag_warnings, 0);
    assert!(reqs(&lines).len() == 500);
    assert!(
        (rep.achieved_rps - 500.0).abs() < 50.0,
        "{}",
        rep.achieved_rps
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scrape(addr: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn prometheus_endpoint_serves_the_live_counters_during_the_run() {
    let a = trivial_server();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut plan = LoadPlan::new(format!("http://{a}/"), tmp_path("prom.ndjson"));
    plan.rate = 400.0;
    plan.duration = Duration::from_secs(3);
    plan.clients = 4;
    plan.signals = false;
    plan.fault_threshold = Duration::from_secs(2);
    plan.prometheus = Some(addr.parse().unwrap());
    let run = std::thread::spawn(move || loadgen::run(plan).unwrap());
    // Scrape twice while the schedule runs: the counters move.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut seen = Vec::new();
    while Instant::now() < deadline && seen.len() < 2 {
        if let Some(t) = scrape(&addr)
            && t.starts_with("HTTP/1.1 200")
            && let Some(sent) = metric(&t, "fleetsim_load_requests_sent_total")
            && sent > 0.0
            && seen.last().is_none_or(|(s, _)| sent > *s)
        {
            assert!(
                t.contains("# TYPE fleetsim_load_requests_total counter"),
                "{t}"
            );
            assert!(
                t.contains("fleetsim_load_latency_seconds{quantile=\"0.99\"}"),
                "{t}"
            );
            let ok = metric(&t, "fleetsim_load_requests_total{outcome=\"ok\"}").unwrap();
            assert!(ok <= sent, "{t}");
            seen.push((sent, ok));
        }
        // Poll: the next scrape counts only once `sent` has moved on.
        std::thread::sleep(Duration::from_millis(50));
    }
    let rep = run.join().unwrap();
    assert_eq!(seen.len(), 2, "scrapes: {seen:?}");
    assert!(
        seen[1].0 < rep.footer.sent as f64,
        "{seen:?} vs {}",
        rep.footer.sent
    );
    // The endpoint ends with the run.
    assert!(scrape(&addr).is_none_or(|t| t.is_empty()));
}

#[test]
fn prometheus_only_on_loopback_and_a_zero_cap_is_refused() {
    let mut plan = LoadPlan::new("http://127.0.0.1:9/", tmp_path("x.ndjson"));
    plan.prometheus = Some("0.0.0.0:9464".parse().unwrap());
    let e = loadgen::run(plan.clone()).unwrap_err().to_string();
    assert!(e.starts_with("--prometheus"), "{e}");
    plan.prometheus = None;
    plan.max_inflight = 0;
    let e = loadgen::run(plan).unwrap_err().to_string();
    assert!(e.starts_with("--max-inflight"), "{e}");
}
