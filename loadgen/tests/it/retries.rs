//! Retries of shed requests (`--shed-retries`) against real servers on loopback: a 503 with
//! `Retry-After` is sent again when the header says, outside the schedule, on its own record
//! line; a value that cannot be read, a wait above the maximum, a retry due after the run's end
//! and a request shed once too often are given up and counted by reason; without the option
//! nothing changes. Each run's generator seed (the header's `seed`, 1) is in the failure
//! messages with the record file.

use crate::common::*;
use clap::Parser;
use loadgen::record::{Footer, Header, Line, Retry, RetryGiveUp};
use loadgen::{AnalyzeOpts, AnalyzeReport, GiveUp, LoadReport, Outcome, RetrySummary};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const S: i64 = 1_000_000_000;

/// A keep-alive server whose `k`-th request (0, 1, ... over every connection) gets
/// `answer(k)`: a status line and extra header lines.
fn counting_server<F>(answer: F) -> SocketAddr
where
    F: Fn(u64) -> (&'static str, String) + Send + Sync + 'static,
{
    let n = Arc::new(AtomicU64::new(0));
    serve(move |mut s, _| {
        while read_head(&mut s).is_some() {
            let (status, extra) = answer(n.fetch_add(1, Ordering::SeqCst));
            respond(&mut s, status, &extra, "x");
        }
    })
}

/// `503 Service Unavailable` with this `Retry-After`.
fn shed(retry_after: &str) -> (&'static str, String) {
    (
        "503 Service Unavailable",
        format!("Retry-After: {retry_after}\r\n"),
    )
}

fn ok() -> (&'static str, String) {
    ("200 OK", String::new())
}

/// One run: the report, the lines, the record file and a tag for failure messages.
struct Run {
    report: LoadReport,
    lines: Vec<Line>,
    out: std::path::PathBuf,
    tag: String,
}

impl Run {
    fn header(&self) -> &Header {
        match self.lines.first() {
            Some(Line::Header(h)) => h,
            other => panic!("{}: first line {other:?}", self.tag),
        }
    }
    fn footer(&self) -> &Footer {
        match self.lines.last() {
            Some(Line::Footer(f)) => f,
            other => panic!("{}: last line {other:?}", self.tag),
        }
    }
    fn retries(&self) -> Vec<Retry> {
        let mut v: Vec<Retry> = self
            .lines
            .iter()
            .filter_map(|l| match l {
                Line::Retry(r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        v.sort_by_key(|r| (r.i, r.attempt));
        v
    }
    fn give_ups(&self) -> Vec<RetryGiveUp> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                Line::RetryGiveUp(g) => Some(g.clone()),
                _ => None,
            })
            .collect()
    }
    /// The analysis of the run's records with its scheduled sends put on schedule (0.2 ms
    /// late): the machine's timing of the scheduled sends is not under test here, what the
    /// retries do to the figures is (a retry's own lateness must not make the run invalid).
    fn analyze(&self) -> AnalyzeReport {
        let out_dir = tmp_path("retry-analysis").display().to_string();
        let f = with_send_lags(&self.out, |_| 200_000).display().to_string();
        let opts = AnalyzeOpts::parse_from(["analyze", "--out-dir", &out_dir, &f]);
        loadgen::analyze(opts.plan().unwrap()).unwrap_or_else(|e| panic!("{}: {e}", self.tag))
    }
}

/// Runs `requests` requests 100 ms apart against `a` with these extra flags.
fn run(a: SocketAddr, requests: u32, extra: &[&str]) -> Run {
    let target = format!("http://{a}/");
    let requests = requests.to_string();
    let mut args = vec![
        "--target",
        &target,
        "--rate",
        "10",
        "--requests",
        &requests,
        "--clients",
        "2",
        "--timeout",
        "5s",
    ];
    args.extend_from_slice(extra);
    let (report, lines) = run_load(&args);
    let out = report.out.clone();
    let mut r = Run {
        report,
        lines,
        tag: String::new(),
        out,
    };
    r.tag = format!(
        "{} (seed {}, flags {extra:?})",
        r.out.display(),
        r.header().seed
    );
    r
}

/// The chain invariant: every scheduled request shed ends its retries one way.
fn assert_chains_end_once(s: &RetrySummary, tag: &str) {
    assert_eq!(
        s.scheduled_shed,
        s.served_after_shed + s.failed_after_shed + s.gave_up.total(),
        "{tag}: {s:?}"
    );
}

#[test]
fn a_shed_request_is_retried_after_its_retry_after_and_served() {
    for mode in ["keepalive", "new"] {
        let a = counting_server(|k| if k == 0 { shed("1") } else { ok() });
        let r = run(a, 3, &["--shed-retries", "2", "--mode", mode]);
        retried_once_and_served(&r, mode == "keepalive");
    }
}

/// The checks of [`a_shed_request_is_retried_after_its_retry_after_and_served`] on one run.
fn retried_once_and_served(r: &Run, keepalive: bool) {
    let tag = &r.tag;
    let h = r.header();
    assert_eq!(
        (h.shed_retries, h.shed_retry_max_wait_ns),
        (2, 30 * S as u64)
    );

    // The scheduled request keeps its record, shed; the others are served.
    let scheduled = reqs(&r.lines);
    assert_eq!(scheduled.len(), 3, "{tag}");
    let shed_req = &scheduled[0];
    assert_eq!(
        (shed_req.outcome, shed_req.status),
        (Outcome::Shed, 503),
        "{tag}"
    );
    assert!(
        scheduled[1..].iter().all(|q| q.outcome == Outcome::Ok),
        "{tag}"
    );

    // One retry, due one second after the shed response arrived, sent no earlier, served.
    let retries = r.retries();
    assert_eq!(retries.len(), 1, "{tag}: {retries:?}");
    let rt = &retries[0];
    assert_eq!((rt.i, rt.attempt), (0, 1), "{tag}");
    assert_eq!(rt.due, shed_req.end + S, "{tag}: {rt:?}");
    assert!(rt.actual >= shed_req.end + S, "{tag}: sent early: {rt:?}");
    assert!(
        rt.end >= rt.actual && rt.first_byte.is_some(),
        "{tag}: {rt:?}"
    );
    assert_eq!((rt.outcome, rt.status), (Outcome::Ok, 200), "{tag}");
    assert_ne!(rt.conn, 0, "{tag}: a retry names its connection");
    // On its client's idle keep-alive connection, or a new one per request.
    assert_eq!(rt.reused, keepalive, "{tag}: {rt:?}");
    assert_eq!(rt.pod.as_deref(), Some("test-pod"), "{tag}");
    assert!(!rt.generator_fault, "{tag}");
    assert!(r.give_ups().is_empty(), "{tag}");
    // The retry line comes after its request's line.
    let pos = |want: &dyn Fn(&Line) -> bool| r.lines.iter().position(want).unwrap();
    assert!(
        pos(&|l| matches!(l, Line::Req(q) if q.i == 0)) < pos(&|l| matches!(l, Line::Retry(_))),
        "{tag}"
    );

    // The footer counts the retry apart from the schedule, which stays whole and valid.
    let f = r.footer();
    assert_eq!((f.scheduled, f.sent, f.recorded), (3, 3, 3), "{tag}: {f:?}");
    assert_eq!((f.retries, f.retry_give_ups), (1, 0), "{tag}: {f:?}");
    assert!(f.valid, "{tag}: {f:?}");
    let counted = r.report.retries.clone().expect("retries reported");
    assert_eq!(
        (
            counted.scheduled_shed,
            counted.sent,
            counted.served_after_shed
        ),
        (1, 1, 1)
    );
    assert_eq!(r.report.outcomes["shed"], 1, "{tag}: the schedule's counts");
    assert_eq!(
        r.report.outcomes["ok"], 2,
        "{tag}: the retry is not a scheduled request"
    );

    // The analyzer: the contract's figures count the scheduled requests only; the retries are
    // in live.retries, as the generator counted them.
    let an = r.analyze();
    let req = &an.summary.summary.requests;
    assert_eq!((req.sent, req.ok, req.shed), (3, 2, 1), "{tag}: {req:?}");
    let live = &an.summary.live;
    assert_eq!(live.requests_recorded, 3, "{tag}");
    assert_eq!(
        (live.duplicate_indices, live.missing_indices),
        (0, 0),
        "{tag}"
    );
    assert!(live.valid, "{tag}: {live:?}");
    let s = live.retries.clone().expect("live.retries");
    assert_eq!(s.scheduled_shed, 1, "{tag}: {s:?}");
    assert_eq!(s.sent, 1, "{tag}: {s:?}");
    assert_eq!(s.outcomes.get("ok"), Some(&1), "{tag}: {s:?}");
    assert_eq!(s.outcomes.len(), 1, "{tag}: {s:?}");
    assert_eq!((s.served_after_shed, s.failed_after_shed), (1, 0), "{tag}");
    assert_eq!(s.gave_up.total(), 0, "{tag}: {s:?}");
    assert_chains_end_once(&s, tag);
    assert_eq!(s.sent, counted.sent, "{tag}");
    assert_eq!(s.gave_up, counted.gave_up, "{tag}");
    let json = an.summary.to_json().unwrap();
    assert!(json.contains("\"served_after_shed\": 1"), "{tag}: {json}");
}

/// A retry waiting for its due time when the run is stopped (control port `/stop`) is
/// abandoned at once, not waited for.
#[test]
fn a_retry_waiting_when_the_run_is_stopped_is_abandoned() {
    let a = counting_server(|k| if k == 0 { shed("15") } else { ok() });
    let (out, ctl_file) = (tmp_path("stopped.ndjson"), tmp_path("ctl-addr"));
    let (target, out_s, ctl_s) = (
        format!("http://{a}/"),
        out.display().to_string(),
        ctl_file.display().to_string(),
    );
    let generator = std::thread::spawn(move || {
        let plan = loadgen::LoadOpts::parse_from([
            "load",
            "--no-signals",
            "--quiet",
            "--target",
            &target,
            "--rate",
            "10",
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
            "--shed-retries",
            "1",
        ])
        .plan()
        .unwrap();
        loadgen::run(plan).unwrap()
    });
    // Wait for the control port, then for the shed record (the writer flushes every 250 ms):
    // its retry is then waiting, 15 s ahead.
    let ctl = control_addr(&ctl_file);
    wait_for(
        &format!("{}: the shed request recorded", out.display()),
        || {
            std::fs::read_to_string(&out)
                .unwrap_or_default()
                .contains("\"o\":\"shed\"")
                .then_some(())
        },
    );
    assert!(http_post(&ctl, "/stop").contains("200 OK"));
    let report = generator.join().unwrap();
    let lines = read_lines(&out);
    let tag = format!("{} (seed 1)", out.display());
    assert!(report.footer.stopped_early, "{tag}");
    let g: Vec<_> = lines
        .iter()
        .filter_map(|l| match l {
            Line::RetryGiveUp(g) => Some(g.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(g.len(), 1, "{tag}: {g:?}");
    assert_eq!(
        (g[0].i, g[0].why, g[0].wait_ns),
        (0, GiveUp::Abandoned, Some(15 * S as u64)),
        "{tag}"
    );
    let shed_end = reqs(&lines)[0].end;
    assert!(
        g[0].at < shed_end + 15 * S,
        "{tag}: abandoned before it was due"
    );
    assert!(
        report.footer.at < shed_end + 15 * S,
        "{tag}: the run waited for it"
    );
    assert_eq!(report.footer.retry_give_ups, 1, "{tag}");
}

#[test]
fn an_http_date_retry_after_is_waited_for_until_that_date() {
    // The date one second ahead of the server's clock, at a one-second resolution: the wait is
    // up to two seconds, never negative.
    let a = counting_server(|k| {
        if k == 0 {
            let at = std::time::SystemTime::now() + std::time::Duration::from_secs(1);
            shed(&httpdate::fmt_http_date(at))
        } else {
            ok()
        }
    });
    let r = run(a, 1, &["--shed-retries", "1"]);
    let tag = &r.tag;
    let shed_req = &reqs(&r.lines)[0];
    assert_eq!(shed_req.outcome, Outcome::Shed, "{tag}");
    let retries = r.retries();
    assert_eq!(retries.len(), 1, "{tag}: {:?}", r.give_ups());
    let rt = &retries[0];
    let wait = rt.due - shed_req.end;
    assert!((0..=2 * S).contains(&wait), "{tag}: waited {wait} ns");
    assert!(rt.actual >= rt.due, "{tag}: {rt:?}");
    assert_eq!(rt.outcome, Outcome::Ok, "{tag}");
}

#[test]
fn an_unparseable_retry_after_is_not_retried_and_is_counted() {
    for value in ["soon", "1.5", "-1", "Fri, 31 Feb 2026 10:00:00 GMT"] {
        let a = counting_server(move |k| if k == 0 { shed(value) } else { ok() });
        let r = run(a, 2, &["--shed-retries", "3"]);
        let tag = &r.tag;
        assert_eq!(reqs(&r.lines)[0].outcome, Outcome::Shed, "{tag}");
        assert!(r.retries().is_empty(), "{tag}: {value:?} was retried");
        let g = r.give_ups();
        assert_eq!(g.len(), 1, "{tag}: {g:?}");
        assert_eq!(
            (g[0].i, g[0].attempt, g[0].why),
            (0, 1, GiveUp::Unparseable),
            "{tag}"
        );
        assert_eq!(
            g[0].retry_after, value,
            "{tag}: the value is kept as received"
        );
        assert_eq!(g[0].wait_ns, None, "{tag}");
        assert_eq!(
            (r.footer().retries, r.footer().retry_give_ups),
            (0, 1),
            "{tag}"
        );

        let s = r.analyze().summary.live.retries.expect("live.retries");
        assert_eq!((s.scheduled_shed, s.sent), (1, 0), "{tag}: {s:?}");
        assert_eq!(s.gave_up.unparseable, 1, "{tag}: {s:?}");
        assert_eq!(s.gave_up.total(), 1, "{tag}: {s:?}");
        assert_chains_end_once(&s, tag);
    }
}

#[test]
fn a_wait_above_the_maximum_is_given_up_and_counted() {
    let in_an_hour = httpdate::fmt_http_date(
        std::time::SystemTime::now() + std::time::Duration::from_secs(3600),
    );
    for value in ["5".to_string(), in_an_hour] {
        let v = value.clone();
        let a = counting_server(move |k| if k == 0 { shed(&v) } else { ok() });
        let r = run(
            a,
            2,
            &["--shed-retries", "1", "--shed-retry-max-wait", "2s"],
        );
        let tag = &r.tag;
        assert_eq!(r.header().shed_retry_max_wait_ns, 2 * S as u64, "{tag}");
        assert!(r.retries().is_empty(), "{tag}");
        let g = r.give_ups();
        assert_eq!(g.len(), 1, "{tag}: {g:?}");
        assert_eq!((g[0].attempt, g[0].why), (1, GiveUp::TooLong), "{tag}");
        let wait = g[0].wait_ns.expect("the wait asked for") as i64;
        assert!(wait > 2 * S, "{tag}: {wait}");
        // Not waited for: the run ended long before the wait would have.
        let shed_end = reqs(&r.lines)[0].end;
        assert!(r.footer().at < shed_end + wait, "{tag}");

        let s = r.analyze().summary.live.retries.expect("live.retries");
        assert_eq!(
            (s.gave_up.too_long, s.gave_up.total(), s.sent),
            (1, 1, 0),
            "{tag}"
        );
        assert_chains_end_once(&s, tag);
    }
}

#[test]
fn a_retry_due_after_the_run_and_its_timeout_is_abandoned() {
    // One request, a 1 s timeout: the retry 3 s after the shed falls after the end of sending
    // plus the timeout, so it is abandoned when the schedule ends, not waited for.
    let a = counting_server(|_| shed("3"));
    let target = format!("http://{a}/");
    let (report, lines) = run_load(&[
        "--target",
        &target,
        "--requests",
        "1",
        "--timeout",
        "1s",
        "--shed-retries",
        "1",
    ]);
    let tag = report.out.display().to_string();
    let g: Vec<_> = lines
        .iter()
        .filter_map(|l| match l {
            Line::RetryGiveUp(g) => Some(g.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(g.len(), 1, "{tag}: {g:?}");
    assert_eq!(
        (g[0].why, g[0].wait_ns),
        (GiveUp::Abandoned, Some(3 * S as u64)),
        "{tag}"
    );
    let shed_end = reqs(&lines)[0].end;
    assert!(
        report.footer.at < shed_end + 3 * S,
        "{tag}: the run waited for it"
    );
    assert!(!lines.iter().any(|l| matches!(l, Line::Retry(_))), "{tag}");
    let s = report.retries.expect("retries reported");
    assert_eq!((s.gave_up.abandoned, s.sent), (1, 0), "{tag}");
}

#[test]
fn a_request_shed_on_every_retry_runs_out_of_retries() {
    let a = counting_server(|_| shed("0"));
    let r = run(a, 1, &["--shed-retries", "2"]);
    let tag = &r.tag;
    let retries = r.retries();
    assert_eq!(
        retries
            .iter()
            .map(|x| (x.attempt, x.outcome))
            .collect::<Vec<_>>(),
        [(1, Outcome::Shed), (2, Outcome::Shed)],
        "{tag}"
    );
    // Each retry is due when the previous attempt ended (Retry-After: 0).
    assert_eq!(retries[0].due, reqs(&r.lines)[0].end, "{tag}");
    assert_eq!(retries[1].due, retries[0].end, "{tag}");
    let g = r.give_ups();
    assert_eq!(g.len(), 1, "{tag}: {g:?}");
    assert_eq!((g[0].attempt, g[0].why), (3, GiveUp::OutOfRetries), "{tag}");
    let s = r.analyze().summary.live.retries.expect("live.retries");
    assert_eq!((s.sent, s.gave_up.out_of_retries), (2, 1), "{tag}: {s:?}");
    assert_eq!(s.outcomes.get("shed"), Some(&2), "{tag}: {s:?}");
    assert_chains_end_once(&s, tag);
}

#[test]
fn without_the_option_a_shed_request_is_recorded_as_today_and_never_retried() {
    let a = counting_server(|k| if k == 0 { shed("1") } else { ok() });
    let r = run(a, 3, &[]);
    let tag = &r.tag;
    let scheduled = reqs(&r.lines);
    assert_eq!(
        scheduled.iter().map(|q| q.outcome).collect::<Vec<_>>(),
        [Outcome::Shed, Outcome::Ok, Outcome::Ok],
        "{tag}"
    );
    assert!(r.retries().is_empty() && r.give_ups().is_empty(), "{tag}");
    assert!(r.report.retries.is_none(), "{tag}");
    // No trace of retries in the file: the header and footer have today's fields.
    let text = std::fs::read_to_string(&r.out).unwrap();
    for kind in ["\"t\":\"rt\"", "\"t\":\"rg\"", "retr"] {
        assert!(!text.contains(kind), "{tag}: {kind}");
    }
    let an = r.analyze();
    assert!(an.summary.live.retries.is_none(), "{tag}");
    let json = an.summary.to_json().unwrap();
    assert!(!json.contains("retries"), "{tag}: {json}");
    assert_eq!(an.summary.summary.requests.shed, 1, "{tag}");
}

#[test]
fn retries_are_refused_with_a_closed_loop_naming_both_flags() {
    let plan = loadgen::LoadOpts::parse_from([
        "load",
        "--target",
        "http://127.0.0.1:1/",
        "--out",
        &tmp_path("never.ndjson").display().to_string(),
        "--closed-loop",
        "--shed-retries",
        "1",
        "--quiet",
        "--no-signals",
    ])
    .plan()
    .unwrap();
    let e = loadgen::run(plan).unwrap_err().to_string();
    assert!(
        e.starts_with("--shed-retries") && e.contains("--closed-loop"),
        "{e}"
    );
}
