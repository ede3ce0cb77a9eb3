//! Each failure mode, produced by a real server on loopback, lands in its outcome class.

use crate::common::*;
use loadgen::Outcome;
use std::time::Duration;

fn url(a: std::net::SocketAddr, path: &str) -> String {
    format!("http://{a}{path}")
}

#[test]
fn nothing_listening_is_refused_in_both_modes() {
    let a = dead_addr();
    for mode in ["keepalive", "new"] {
        let (rep, lines) = run_load(&[
            "--target",
            &url(a, "/"),
            "--rate",
            "200",
            "--requests",
            "5",
            "--mode",
            mode,
            "--clients",
            "2",
        ]);
        let r = reqs(&lines);
        assert_eq!(r.len(), 5, "mode {mode}");
        for q in &r {
            assert_eq!(q.outcome, Outcome::Refused, "mode {mode}: {q:?}");
            assert_eq!(q.conn, 0);
            assert!(!q.reused);
            assert_eq!(q.status, 0);
        }
        assert_eq!(rep.outcomes["refused"], 5);
        assert_eq!(rep.footer.recorded, 5);
    }
}

#[test]
fn reset_mid_response_is_reset() {
    // Headers and part of the body, then RST.
    let a = serve(|mut s, _| {
        if read_head(&mut s).is_some() {
            use std::io::Write;
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nx-fleetsim-pod: p1\r\n\r\npartial",
            );
            let _ = s.flush();
            std::thread::sleep(Duration::from_millis(20));
            reset(s);
        }
    });
    let (_, lines) = run_load(&[
        "--target",
        &url(a, "/"),
        "--rate",
        "50",
        "--requests",
        "4",
        "--mode",
        "new",
    ]);
    let r = reqs(&lines);
    assert_eq!(r.len(), 4);
    for q in &r {
        assert_eq!(q.outcome, Outcome::Reset, "{q:?}");
        assert_eq!(q.status, 200, "the head arrived before the reset");
        assert!(q.first_byte.is_some());
        assert_eq!(q.pod.as_deref(), Some("p1"));
    }
}

#[test]
fn server_closing_a_kept_alive_connection_as_the_request_arrives_is_reset_on_a_reused_connection() {
    // The keep-alive race, made deterministic: the first request on a connection is answered
    // (keep-alive); the second one is read and the connection closed without an answer, once
    // with FIN and once with RST.
    for rst in [false, true] {
        let a = serve(move |mut s, _| {
            if read_head(&mut s).is_none() {
                return;
            }
            respond(&mut s, "200 OK", "", "ok");
            if read_head(&mut s).is_some() {
                if rst {
                    reset(s);
                } else {
                    drop(s);
                }
            }
        });
        let (rep, lines) = run_load(&[
            "--target",
            &url(a, "/"),
            "--rate",
            "10",
            "--requests",
            "6",
            "--clients",
            "1",
        ]);
        let r = reqs(&lines);
        assert_eq!(r.len(), 6);
        // Warm-up opened connection 1; request 0 reuses it and succeeds, request 1 goes out on it
        // and is lost (reset, never retried). Request 2 opens a new connection, and so on.
        let pattern: Vec<(Outcome, bool)> = r.iter().map(|q| (q.outcome, q.reused)).collect();
        let want = [
            (Outcome::Ok, true),
            (Outcome::Reset, true),
            (Outcome::Ok, false),
            (Outcome::Reset, true),
            (Outcome::Ok, false),
            (Outcome::Reset, true),
        ];
        assert_eq!(pattern, want, "rst={rst} records {r:?}");
        assert_eq!(rep.outcomes["reset"], 3);
    }
}

#[test]
fn server_closing_idle_connections_only_ever_costs_resets_never_silent_retries() {
    // The server closes every connection right after its response (no `Connection: close`
    // header). The next request either sees the close in time (new connection, ok) or loses the
    // race (reset on the reused connection). Every request has exactly one record.
    let a = serve(|mut s, _| {
        if read_head(&mut s).is_some() {
            respond(&mut s, "200 OK", "", "ok");
        }
    });
    let (rep, lines) = run_load(&[
        "--target",
        &url(a, "/"),
        "--rate",
        "200",
        "--requests",
        "100",
        "--clients",
        "4",
    ]);
    let r = reqs(&lines);
    assert_eq!(r.len(), 100);
    assert_eq!(
        r.iter().map(|q| q.i).collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>()
    );
    for q in &r {
        match q.outcome {
            Outcome::Ok => {}
            Outcome::Reset => assert!(q.reused, "a reset on a fresh connection: {q:?}"),
            o => panic!("unexpected outcome {o:?}: {q:?}"),
        }
    }
    assert_eq!(rep.footer.sent, 100);
    assert_eq!(rep.outcomes["ok"] + rep.outcomes["reset"], 100);
}

#[test]
fn statuses_map_to_their_classes_and_retry_after_503_is_shed() {
    let a = serve(|mut s, _| {
        while let Some(head) = read_head(&mut s) {
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            match path.as_str() {
                "/502" => respond(&mut s, "502 Bad Gateway", "", "x"),
                "/503" => respond(&mut s, "503 Service Unavailable", "", "x"),
                "/503ra" => respond(&mut s, "503 Service Unavailable", "Retry-After: 1\r\n", "x"),
                "/504" => respond(&mut s, "504 Gateway Timeout", "", "x"),
                "/500" => respond(&mut s, "500 Internal Server Error", "", "x"),
                "/404" => respond(&mut s, "404 Not Found", "", "x"),
                _ => respond(&mut s, "200 OK", "", "ok"),
            }
        }
    });
    for (path, want, status) in [
        ("/ok", Outcome::Ok, 200),
        ("/502", Outcome::Http502, 502),
        ("/503", Outcome::Http503, 503),
        ("/503ra", Outcome::Shed, 503),
        ("/504", Outcome::Http504, 504),
        ("/500", Outcome::Http5xxOther, 500),
        ("/404", Outcome::Other, 404),
    ] {
        let (_, lines) = run_load(&[
            "--target",
            &url(a, path),
            "--rate",
            "100",
            "--requests",
            "3",
            "--clients",
            "1",
        ]);
        let r = reqs(&lines);
        assert_eq!(r.len(), 3, "{path}");
        for q in &r {
            assert_eq!((q.outcome, q.status), (want, status), "{path}: {q:?}");
            assert_eq!(q.pod.as_deref(), Some("test-pod"));
        }
    }
}

#[test]
fn a_server_that_stalls_past_the_deadline_is_timeout() {
    let a = serve(|mut s, _| {
        if read_head(&mut s).is_some() {
            // Never answer; hold the connection open until the client gives up.
            let mut b = [0u8; 1];
            let _ = std::io::Read::read(&mut s, &mut b);
        }
    });
    let (rep, lines) = run_load(&[
        "--target",
        &url(a, "/"),
        "--rate",
        "50",
        "--requests",
        "3",
        "--timeout",
        "200ms",
    ]);
    let r = reqs(&lines);
    assert_eq!(r.len(), 3);
    for q in &r {
        assert_eq!(q.outcome, Outcome::Timeout, "{q:?}");
        let took = q.end - q.actual;
        assert!(
            (200_000_000..1_000_000_000).contains(&took),
            "deadline honoured: {took} ns"
        );
        assert!(q.first_byte.is_none());
    }
    assert_eq!(rep.outcomes["timeout"], 3);
    // The timed-out connections were closed by the client.
    let closes = lines
        .iter()
        .filter(|l| matches!(l, loadgen::record::Line::Conn(c) if c.ev == loadgen::record::ConnEv::Close && c.why == "client"))
        .count();
    assert!(closes >= 3, "closes {closes}");
}

#[test]
fn a_late_send_is_a_generator_fault_and_invalidates_the_run() {
    let a = ok_server();
    // A zero threshold: any lag at all is a fault.
    let (rep, lines) = run_load(&[
        "--target",
        &url(a, "/"),
        "--rate",
        "100",
        "--requests",
        "5",
        "--fault-threshold",
        "0ns",
    ]);
    let r = reqs(&lines);
    assert!(r.iter().all(|q| q.generator_fault), "{r:?}");
    assert_eq!(rep.footer.generator_faults, 5);
    assert!(!rep.footer.valid);
    // With a threshold no scheduling hiccup of a busy test machine reaches, the run is valid.
    let (rep, _) = run_load(&[
        "--target",
        &url(a, "/"),
        "--rate",
        "100",
        "--requests",
        "20",
        "--clients",
        "2",
        "--fault-threshold",
        "2s",
    ]);
    assert_eq!(rep.footer.generator_faults, 0, "{rep:?}");
    assert!(rep.footer.valid);
}

/// `--eager-reconnect`: a keep-alive client reopens a connection the server closed at once, so
/// its next request finds one ready (reused); without it the next request opens its own. A
/// server that answers once per connection with `Connection: close`.
#[test]
fn eager_reconnect_reopens_a_closed_keepalive_at_once_and_lazy_does_not() {
    let a = serve(|mut s, _| {
        if read_head(&mut s).is_some() {
            respond(&mut s, "200 OK", "Connection: close\r\n", "ok");
        }
    });
    let run = |eager: bool| {
        let target = url(a, "/");
        let mut args = vec![
            "--target",
            &target,
            "--rate",
            "50",
            "--requests",
            "40",
            "--clients",
            "1",
        ];
        if eager {
            args.push("--eager-reconnect");
        }
        let out = tmp_path("eager.ndjson");
        let out_arg = out.display().to_string();
        args.extend(["--out", &out_arg, "--no-signals"]);
        let plan = <loadgen::LoadOpts as clap::Parser>::parse_from(
            std::iter::once("load").chain(args.iter().copied()),
        )
        .plan()
        .unwrap();
        loadgen::run(plan).unwrap();
        let lines = read_lines(&out);
        let r = reqs(&lines);
        assert_eq!(r.len(), 40);
        assert!(r.iter().all(|q| q.outcome == Outcome::Ok), "{r:?}");
        let opens: Vec<&loadgen::record::ConnEvent> = lines
            .iter()
            .filter_map(|l| match l {
                loadgen::record::Line::Conn(c) if c.ev == loadgen::record::ConnEv::Open => Some(c),
                _ => None,
            })
            .collect();
        let ahead = opens
            .iter()
            .filter(|c| c.why == loadgen::record::OPENED_AHEAD)
            .count();
        // The analyzer's reconnect curve: the connections requests opened plus those reopened
        // ahead of a request (the last reopen, after the last response, may fall past the run).
        let dir = tmp_path("eager-analysis").display().to_string();
        let a = loadgen::analyze(
            <loadgen::AnalyzeOpts as clap::Parser>::parse_from([
                "analyze",
                "--out-dir",
                &dir,
                &out_arg,
            ])
            .plan()
            .unwrap(),
        )
        .unwrap();
        let curve: u64 = a.analysis.reconnects.iter().sum();
        let opened_by_requests = r.iter().filter(|q| !q.reused).count() as u64;
        assert!(
            curve >= opened_by_requests + ahead.saturating_sub(1) as u64
                && curve <= opened_by_requests + ahead as u64,
            "eager {eager}: curve {curve}, requests opened {opened_by_requests}, reopened ahead {ahead}"
        );
        (r.iter().filter(|q| q.reused).count(), opens.len(), ahead)
    };
    let (lazy_reused, lazy_opens, lazy_ahead) = run(false);
    let (eager_reused, eager_opens, eager_ahead) = run(true);
    // Only eager clients open connections ahead of a request, and say so in the records.
    assert_eq!(lazy_ahead, 0);
    assert!(eager_ahead >= 35, "eager: {eager_ahead} opened ahead");
    // Lazy: only the first request finds the warm connection.
    assert!(lazy_reused <= 1, "lazy: {lazy_reused} of 40 reused");
    // Eager: each close is followed by a new connection well within the 20 ms to the next send.
    assert!(eager_reused >= 35, "eager: {eager_reused} of 40 reused");
    assert!(
        eager_opens >= 40 && lazy_opens >= 40,
        "{eager_opens} {lazy_opens}"
    );
    // New-connection mode has no connection to reopen: refused by name.
    let out = tmp_path("eager-new.ndjson");
    let plan = <loadgen::LoadOpts as clap::Parser>::parse_from([
        "load",
        "--target",
        &url(a, "/"),
        "--mode",
        "new",
        "--eager-reconnect",
        "--out",
        out.to_str().unwrap(),
    ])
    .plan()
    .unwrap();
    let e = loadgen::run(plan).unwrap_err().to_string();
    assert!(e.contains("--eager-reconnect"), "{e}");
}
