//! The generator's bookkeeping: shards merge back into one schedule, markers from every source
//! land in the file, SSE drops and reconnects are recorded, thousands of keep-alive connections.

use crate::common::*;
use clap::Parser;
use loadgen::Outcome;
use loadgen::record::{Line, MarkSource, SseEv};
use loadgen::{AnalyzeOpts, AnalyzeReport, read_records};
use loadgen::{Schedule, rate_milli};
use std::io::{Read, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Analyzes through the command line's options, as `fleetsim analyze` does.
fn analyze<I: IntoIterator<Item = T>, T: Into<std::ffi::OsString> + Clone>(
    argv: I,
) -> AnalyzeReport {
    loadgen::analyze(AnalyzeOpts::parse_from(argv).plan().unwrap()).unwrap()
}

fn url(a: std::net::SocketAddr, path: &str) -> String {
    format!("http://{a}{path}")
}

fn marks(lines: &[Line]) -> Vec<(String, i64, MarkSource)> {
    lines
        .iter()
        .filter_map(|l| {
            if let Line::Mark(m) = l {
                Some((m.name.clone(), m.at, m.src))
            } else {
                None
            }
        })
        .collect()
}

#[test]
fn shards_started_together_merge_into_the_whole_schedule() {
    let a = trivial_server();
    let n = 3;
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 700;
    let outs: Vec<_> = (0..n).map(|_| tmp_path("shard.ndjson")).collect();
    let handles: Vec<_> = (0..n)
        .map(|k| {
            let out = outs[k].display().to_string();
            let target = url(a, "/");
            std::thread::spawn(move || {
                let shard = format!("{k}/{n}");
                let o = loadgen::LoadOpts::parse_from([
                    "load",
                    "--no-signals",
                    "--target",
                    &target,
                    "--rate",
                    "300",
                    "--duration",
                    "1s",
                    "--shard",
                    &shard,
                    "--clients",
                    "4",
                    "--start-at-epoch-ms",
                    &start.to_string(),
                    "--out",
                    &out,
                    "--fault-threshold",
                    "2s",
                ]);
                loadgen::run(o.plan().unwrap()).unwrap()
            })
        })
        .collect();
    let reports: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(reports.iter().map(|r| r.footer.sent).sum::<u64>(), 300);
    let m = read_records(&outs).unwrap();
    assert_eq!(m.reqs.len(), 300);
    // One origin for all (the same --start-at), so intended starts are the unsharded schedule's.
    let rm = rate_milli(300.0).unwrap();
    for r in &m.reqs {
        assert_eq!(r.intended, Schedule::constant_at(rm, r.i) as i64, "{r:?}");
        assert_eq!(r.outcome, Outcome::Ok);
    }
    let out_dir = tmp_path("analysis");
    let mut argv: Vec<String> = vec![
        "analyze".into(),
        "--out-dir".into(),
        out_dir.display().to_string(),
    ];
    argv.extend(outs.iter().map(|p| p.display().to_string()));
    let rep = analyze(&argv);
    let live = &rep.summary.live;
    assert_eq!(live.files, 3);
    assert_eq!(live.duplicate_indices, 0);
    assert_eq!(live.missing_indices, 0);
    assert_eq!(live.requests_recorded, 300);
    // No rollout marks: the whole load is the window.
    assert_eq!(rep.summary.summary.requests.sent, 300);
    assert_eq!(rep.summary.summary.requests.ok, 300);
    // A missing shard is detected.
    let rep2 = analyze([
        "analyze",
        "--out-dir",
        &tmp_path("analysis2").display().to_string(),
        &outs[0].display().to_string(),
        &outs[2].display().to_string(),
    ]);
    assert!(rep2.summary.live.missing_indices >= 99);
    assert!(!rep2.summary.live.valid);
}

#[test]
fn markers_from_flag_file_and_control_port_are_recorded_and_cut_the_window() {
    let a = ok_server();
    let ctl_file = tmp_path("ctl-addr");
    let marks_file = tmp_path("marks.txt");
    std::fs::write(&marks_file, "").unwrap();
    let out = tmp_path("marks.ndjson");
    let (target, out_s, ctl_s, mf) = (
        url(a, "/"),
        out.display().to_string(),
        ctl_file.display().to_string(),
        marks_file.display().to_string(),
    );
    let h = std::thread::spawn(move || {
        loadgen::run(
            loadgen::LoadOpts::parse_from([
                "load",
                "--no-signals",
                "--target",
                &target,
                "--rate",
                "100",
                "--duration",
                "20s",
                "--clients",
                "2",
                "--out",
                &out_s,
                "--control",
                "127.0.0.1:0",
                "--control-addr-file",
                &ctl_s,
                "--marks-file",
                &mf,
                "--mark",
                "flag_mark@0.05",
                "--fault-threshold",
                "2s",
            ])
            .plan()
            .unwrap(),
        )
        .unwrap()
    });
    let ctl = control_addr(&ctl_file);
    assert!(http_post(&ctl, "/mark?name=rollout_start").contains("200 OK"));
    assert!(http_post(&ctl, "/ready?ready=2&desired=3").contains("200 OK"));
    assert!(
        http_post(&ctl, "/mark").contains("400"),
        "a mark needs a name"
    );
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&marks_file)
        .unwrap();
    writeln!(f, "ready 3 3").unwrap();
    writeln!(f, "rollout_end").unwrap();
    drop(f);
    // Wait until the file's marker is in (the generator polls the file; the writer flushes
    // every 250 ms), then stop the run.
    wait_for("the marks file's line recorded", || {
        let st = http_post(&ctl, "/status");
        assert!(st.contains("\"sent\""), "{st}");
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("\"name\":\"rollout_end\"")
            .then_some(())
    });
    assert!(http_post(&ctl, "/stop").contains("200 OK"));
    let rep = h.join().unwrap();
    assert!(rep.footer.stopped_early);
    assert!(!rep.footer.valid || rep.footer.stopped_early);
    let lines = read_lines(&out);
    let ms = marks(&lines);
    let names: Vec<&str> = ms.iter().map(|(n, _, _)| n.as_str()).collect();
    for want in [
        "load_start",
        "flag_mark",
        "rollout_start",
        "rollout_end",
        "load_end",
    ] {
        assert!(names.contains(&want), "missing {want} in {ms:?}");
    }
    let src = |n: &str| ms.iter().find(|m| m.0 == n).unwrap().2;
    assert_eq!(src("flag_mark"), MarkSource::Flag);
    assert_eq!(src("rollout_start"), MarkSource::Http);
    assert_eq!(src("rollout_end"), MarkSource::File);
    let ready: Vec<(u32, u32)> = lines
        .iter()
        .filter_map(|l| {
            if let Line::Ready(r) = l {
                Some((r.ready, r.desired))
            } else {
                None
            }
        })
        .collect();
    assert_eq!(ready, vec![(2, 3), (3, 3)]);
    // The analyzer cuts the window from these marks and reads the ready series.
    let rep = analyze([
        "analyze",
        "--out-dir",
        &tmp_path("a").display().to_string(),
        "--tail",
        "0s",
        &out.display().to_string(),
    ]);
    let t = |n: &str| ms.iter().find(|m| m.0 == n).unwrap().1 as f64 / 1e9;
    let w = rep.summary.summary.window_s;
    assert!((w[0] - t("rollout_start")).abs() < 1e-6);
    assert!((w[1] - t("rollout_end")).abs() < 1e-6);
    assert!(
        (rep.summary.summary.capacity_dip.unwrap() - 2.0 / 3.0).abs() < 1e-9,
        "{:?}",
        rep.summary
    );
}

#[test]
fn sse_drops_and_reconnects_are_recorded_by_reason() {
    // Even connections: three events then a clean close. Odd ones: one event then RST.
    let a = serve(|mut s, k| {
        if read_head(&mut s).is_none() {
            return;
        }
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nx-fleetsim-pod: sse-pod\r\n\r\n");
        let n = if k % 2 == 0 { 3 } else { 1 };
        for i in 0..n {
            let _ = write!(s, "data: {i}\n\n");
            let _ = s.flush();
            std::thread::sleep(Duration::from_millis(10));
        }
        if k % 2 == 1 {
            reset(s);
        }
    });
    let (rep, lines) = run_load(&[
        "--target",
        &url(a, "/"),
        "--rate",
        "1",
        "--requests",
        "0",
        "--duration",
        "600ms",
        "--sse",
        "2",
        "--sse-reconnect",
        "immediate",
    ]);
    assert_eq!(rep.footer.sent, 0);
    let sse: Vec<_> = lines
        .iter()
        .filter_map(|l| {
            if let Line::Sse(s) = l {
                Some(s.clone())
            } else {
                None
            }
        })
        .collect();
    let opens = sse.iter().filter(|s| s.ev == SseEv::Open).count();
    let eof = sse
        .iter()
        .filter(|s| s.ev == SseEv::Drop && s.why == "eof")
        .count();
    let resets = sse
        .iter()
        .filter(|s| s.ev == SseEv::Drop && s.why == "reset")
        .count();
    assert!(opens >= 4, "{sse:?}");
    assert!(eof >= 1 && resets >= 1, "eof {eof} reset {resets}: {sse:?}");
    assert!(
        sse.iter()
            .filter(|s| s.ev == SseEv::Drop && s.why == "eof")
            .all(|s| s.n == 3)
    );
    assert!(
        sse.iter()
            .filter(|s| s.ev == SseEv::Open)
            .all(|s| s.pod.as_deref() == Some("sse-pod"))
    );
    assert_eq!(
        sse.iter().filter(|s| s.ev == SseEv::End).count(),
        2,
        "each stream ends once at the run's end"
    );
    let out = tmp_path("sse-analysis");
    let rec_file = rep.out.display().to_string();
    let an = analyze([
        "analyze",
        "--out-dir",
        &out.display().to_string(),
        &rec_file,
    ]);
    let s = an.summary.live.sse.as_ref().unwrap();
    assert_eq!(s.streams, 2);
    assert!(s.drops >= 2);
    assert!(s.reconnect_ms_p50.unwrap() >= 0.0);
    assert!(
        std::fs::read_to_string(out.join("sse.csv"))
            .unwrap()
            .lines()
            .count()
            >= 3
    );
}

#[test]
fn thousands_of_keep_alive_connections() {
    let a = trivial_server();
    let (rep, lines) = run_load(&[
        "--target",
        &url(a, "/"),
        "--rate",
        "3000",
        "--duration",
        "1s",
        "--clients",
        "3000",
        "--fault-threshold",
        "5s",
    ]);
    let opens = lines
        .iter()
        .filter(|l| matches!(l, Line::Conn(c) if c.ev == loadgen::record::ConnEv::Open))
        .count();
    assert!(opens >= 3000, "opened {opens}");
    assert_eq!(rep.outcomes["ok"], 3000, "{rep:?}");
    let r = reqs(&lines);
    let mut conns: Vec<u64> = r.iter().map(|q| q.conn).collect();
    conns.sort();
    conns.dedup();
    // Each virtual client sent its one request on its own warmed connection.
    assert!(
        conns.len() >= 2900,
        "distinct connections used {}",
        conns.len()
    );
    assert!(r.iter().filter(|q| q.reused).count() >= 2900);
}

#[test]
fn tick_coalesces_wakeups_but_keeps_the_schedule() {
    let a = trivial_server();
    let t0 = Instant::now();
    let (rep, lines) = run_load(&[
        "--target",
        &url(a, "/"),
        "--rate",
        "2000",
        "--duration",
        "500ms",
        "--clients",
        "8",
        "--tick",
        "20ms",
        "--fault-threshold",
        "5s",
    ]);
    assert_eq!(rep.footer.sent, 1000);
    assert_eq!(rep.outcomes["ok"], 1000);
    // The whole schedule went out in about its own length, not one request per tick.
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "took {:?}",
        t0.elapsed()
    );
    let r = reqs(&lines);
    let max_lag = r.iter().map(|q| q.actual - q.intended).max().unwrap();
    assert!(max_lag < 200_000_000, "max lag {max_lag} ns");
    // Requests went out in groups: far fewer distinct wake-ups than requests.
    let mut starts: Vec<i64> = r.iter().map(|q| q.actual / 5_000_000).collect();
    starts.dedup();
    assert!(
        starts.len() < 400,
        "{} distinct 5 ms send slots for 1000 requests",
        starts.len()
    );
}

/// The tick batches by look-ahead: the wake-up for a request comes at the last request due
/// within a tick of it, not a tick after the previous wake-up. At 250/s (a request every 4 ms)
/// and a 10 ms tick each wake-up sends three requests (due at f, f + 4 and f + 8 ms) and the
/// next comes 12 ms later: about 84 wake-ups in a second, where waking once per tick takes 100.
/// A busy machine only merges groups (a late wake-up finds more requests due), never splits one.
#[test]
fn tick_batches_by_the_requests_ahead() {
    let a = trivial_server();
    let (rep, lines) = run_load(&[
        "--target",
        &url(a, "/"),
        "--rate",
        "250",
        "--duration",
        "1s",
        "--clients",
        "4",
        "--tick",
        "10ms",
        "--fault-threshold",
        "5s",
    ]);
    assert_eq!(rep.footer.sent, 250);
    let mut sends: Vec<i64> = reqs(&lines).iter().map(|q| q.actual).collect();
    sends.sort_unstable();
    // Sends of one wake-up go out within microseconds of each other; wake-ups are >= 4 ms apart.
    let wakeups = 1 + sends.windows(2).filter(|w| w[1] - w[0] > 2_000_000).count();
    assert!(
        wakeups <= 92,
        "{wakeups} wake-ups for 250 requests at 250/s with a 10 ms tick (look-ahead: about 84)"
    );
}

/// `--closed-loop`: each client sends its next request the moment its previous one ends. No
/// request waits for a schedule (intended start = actual start), a client never has two in
/// flight, every index is sent once, and the analyzer reads the file like any other.
#[test]
fn closed_loop_clients_send_back_to_back_and_are_recorded_once() {
    let a = trivial_server();
    let (report, lines) = run_load(&[
        "--target",
        &url(a, "/"),
        "--closed-loop",
        "--clients",
        "4",
        "--duration",
        "500ms",
    ]);
    let Some(Line::Header(h)) = lines.first() else {
        panic!("no header")
    };
    assert_eq!((h.arrivals.as_str(), h.rate), ("closed", 0.0));
    let rs = reqs(&lines);
    assert!(rs.len() > 100, "only {} requests in 0.5 s", rs.len());
    assert_eq!(report.footer.sent, rs.len() as u64);
    assert_eq!(report.footer.scheduled, report.footer.sent);
    assert!(report.footer.valid, "{:?}", report.footer);
    let mut idx: Vec<u64> = rs.iter().map(|r| r.i).collect();
    idx.sort();
    assert_eq!(
        idx,
        (0..rs.len() as u64).collect::<Vec<_>>(),
        "indices 0..n once each"
    );
    // Four warmed connections carry everything; on each, a request starts only after the
    // previous one ended, and starts when intended.
    let mut by_conn: std::collections::BTreeMap<u64, Vec<&loadgen::record::Req>> =
        Default::default();
    for r in &rs {
        assert_eq!(r.outcome, Outcome::Ok);
        assert!(r.actual - r.intended < 1_000_000, "{r:?}");
        by_conn.entry(r.conn).or_default().push(r);
    }
    assert_eq!(by_conn.len(), 4, "one connection per client");
    for reqs in by_conn.values_mut() {
        reqs.sort_by_key(|r| r.intended);
        for w in reqs.windows(2) {
            assert!(w[1].intended >= w[0].end, "overlap on a client: {w:?}");
        }
    }
    let out = tmp_path("closed-analysis");
    let a = analyze([
        "analyze".to_string(),
        "--out-dir".into(),
        out.display().to_string(),
        report.out.display().to_string(),
    ]);
    assert_eq!(a.summary.summary.requests.sent, rs.len() as u64);
    assert!(a.summary.live.valid, "{:?}", a.summary.live);
}

/// A closed loop has no schedule: the schedule's flags are refused with it, by name.
#[test]
fn closed_loop_refuses_the_schedule_flags() {
    for flag in [
        ["--rate", "10"],
        ["--poisson", ""],
        ["--shard", "0/2"],
        ["--tick", "1ms"],
    ] {
        let mut argv = vec![
            "load",
            "--target",
            "http://127.0.0.1:1/",
            "--out",
            "/nonexistent/x",
            "--closed-loop",
            flag[0],
        ];
        if !flag[1].is_empty() {
            argv.push(flag[1]);
        }
        let err = loadgen::LoadOpts::try_parse_from(&argv).expect_err(flag[0]);
        let msg = err.to_string();
        assert!(
            msg.contains(flag[0].trim_start_matches("--")),
            "{flag:?}: {msg}"
        );
    }
}

/// `connect_bursts` (the connect-burst measurement) reopens through the generator's own path:
/// per burst one `open` with `why: "eager"` per client, each closed by the client at once
/// (`put_idle` finds the warm connection in the list), after the burst's start; the warm
/// connections are opened first and closed at the end.
#[test]
fn connect_bursts_reopen_every_client_through_the_eager_path() {
    let a = trivial_server();
    let out = tmp_path("bursts.ndjson");
    let mut plan = loadgen::LoadPlan::new(url(a, "/"), out.clone());
    plan.clients = 40;
    plan.signals = false;
    let starts = loadgen::connect_bursts(plan, 3, Duration::from_millis(100)).unwrap();
    assert_eq!(starts.len(), 3);
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
    let text = std::fs::read_to_string(&out).unwrap();
    let conns: Vec<_> = text
        .lines()
        .filter_map(|l| match loadgen::record::parse_line(l).unwrap() {
            Line::Conn(c) => Some(c),
            _ => None,
        })
        .collect();
    use loadgen::record::{ConnEv, OPENED_AHEAD};
    let warm = conns
        .iter()
        .filter(|c| c.ev == ConnEv::Open && c.warm)
        .count();
    assert_eq!(warm, 40);
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(i64::MAX);
        let eager: Vec<u64> = conns
            .iter()
            .filter(|c| {
                c.ev == ConnEv::Open && c.why == OPENED_AHEAD && (start..end).contains(&c.at)
            })
            .map(|c| c.conn)
            .collect();
        assert_eq!(eager.len(), 40, "burst {i}");
        for id in eager {
            assert!(
                conns
                    .iter()
                    .any(|c| c.conn == id && c.ev == ConnEv::Close && c.why == "client"),
                "burst {i}: reopened connection {id} was not closed by the client"
            );
        }
    }
    assert!(!conns.iter().any(|c| c.ev == ConnEv::ConnectFail), "{text}");
}

/// A server that closes idle keep-alive connections cleanly (FIN, nothing unread) before any
/// request used them: each close is recorded as `eof`, not as an error (hyper's client reports
/// it as an incomplete message, since the connection never completed an exchange). The request
/// that one connection carried when it was cut fails in its own record.
#[test]
fn a_clean_close_of_a_never_used_connection_is_an_eof() {
    // Every connection is closed (FIN) once the first request has reached the server: the one
    // that carried it is read and closed without an answer, the others were never used. (The
    // second request, 1 s later, keeps the run going past those closes: the generator's own
    // closes at its end would otherwise race them.)
    let request_seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = request_seen.clone();
    let a = serve(move |mut s, _| {
        use std::sync::atomic::Ordering::SeqCst;
        s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 1024];
        while !seen.load(SeqCst) && Instant::now() < deadline {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => seen.store(true, SeqCst),
                Err(_) => {} // no bytes yet: look again
            }
        }
        drop(s);
    });
    let (_, lines) = run_load(&[
        "--target",
        &url(a, "/"),
        "--clients",
        "4",
        "--rate",
        "1",
        "--duration",
        "2s",
        "--timeout",
        "2s",
        "--quiet",
    ]);
    use loadgen::record::ConnEv;
    let carried: std::collections::BTreeSet<u64> = reqs(&lines).iter().map(|r| r.conn).collect();
    let closes: Vec<(u64, String)> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Conn(c) if c.ev == ConnEv::Close => Some((c.conn, c.why.clone())),
            _ => None,
        })
        .collect();
    let idle: Vec<&(u64, String)> = closes
        .iter()
        .filter(|(c, _)| !carried.contains(c))
        .collect();
    assert!(idle.len() >= 2, "{closes:?}");
    assert!(
        idle.iter().all(|(_, why)| why == "eof"),
        "never-used connections closed cleanly must be eof: {closes:?}"
    );
    // The request cut by the close is the request's own failure, in its record.
    let rs = reqs(&lines);
    assert!(
        rs.iter().any(|r| r.outcome != Outcome::Ok),
        "{:?}",
        rs.iter().map(|r| r.outcome).collect::<Vec<_>>()
    );
}
