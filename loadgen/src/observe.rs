//! What a run shows while it goes on: a progress line on stderr every second (when stderr is a
//! terminal and not `--quiet`), and the live counters in the Prometheus text exposition format
//! (`--prometheus ADDR`, loopback only, `GET /metrics`).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use measure::Outcome;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::session::{Shared, outcome_idx};

/// The counters at one instant.
struct Snapshot {
    now_ns: i64,
    sent: u64,
    recorded: u64,
    late: u64,
    inflight: u64,
    conns: u64,
    outcomes: [u64; 10],
}

fn snapshot(sh: &Shared) -> Snapshot {
    let mut outcomes = [0; 10];
    for (o, c) in outcomes.iter_mut().zip(&sh.stats.outcomes) {
        *o = c.load(Ordering::Relaxed);
    }
    Snapshot {
        now_ns: sh.clock.now_ns(),
        sent: sh.stats.sent.load(Ordering::Relaxed),
        recorded: sh.stats.recorded.load(Ordering::Relaxed),
        late: sh.stats.late.load(Ordering::Relaxed),
        inflight: sh.inflight.load(Ordering::Relaxed),
        conns: sh.stats.conns_opened.load(Ordering::Relaxed),
        outcomes,
    }
}

/// One progress line: elapsed, sent, ok, failed by class, latency p99 over the last interval,
/// late sends, in flight.
fn progress_line(sh: &Shared, s: &Snapshot, since_ns: i64, p99_ns: Option<u64>) -> String {
    let mut failed = String::new();
    let mut n_failed = 0;
    for o in Outcome::ALL {
        let n = s.outcomes[outcome_idx(o)];
        if o.is_failure() && n > 0 {
            n_failed += n;
            let _ = write!(failed, " {}={n}", o.as_str());
        }
    }
    let p99 = match p99_ns {
        Some(ns) => format!("{:.2} ms", ns as f64 / 1e6),
        None => "-".into(),
    };
    format!(
        "[{:>5.1}s] sent {} ok {} failed {n_failed}{}{} p99 {p99} late {} (> {:.0} ms) in flight {}",
        (s.now_ns - since_ns) as f64 / 1e9,
        s.sent,
        s.outcomes[outcome_idx(Outcome::Ok)],
        if failed.is_empty() { "" } else { " (" },
        if failed.is_empty() {
            String::new()
        } else {
            format!("{})", failed.trim_start())
        },
        s.late,
        sh.fault_ns as f64 / 1e6,
        s.inflight,
    )
}

/// Prints a progress line every second until the run stops.
pub(crate) async fn progress(sh: Arc<Shared>, since_ns: i64, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.tick().await;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.changed() => return,
        }
        let p99 = {
            let mut h = sh.stats.hist.lock().unwrap();
            let p =
                (!h.latency_window.is_empty()).then(|| h.latency_window.value_at_quantile(0.99));
            h.latency_window.reset();
            p
        };
        eprintln!("{}", progress_line(&sh, &snapshot(&sh), since_ns, p99));
    }
}

/// The live counters in the Prometheus text exposition format (version 0.0.4).
pub(crate) fn prometheus_text(sh: &Shared) -> String {
    let s = snapshot(sh);
    let mut t = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(t, "# HELP {name} {help}");
        let _ = writeln!(t, "# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(t, "{name}{labels} {v}");
        }
    };
    let one = |v: u64| vec![(String::new(), v as f64)];
    metric(
        "fleetsim_load_requests_sent_total",
        "counter",
        "Requests started (actual start stamped).",
        &one(s.sent),
    );
    metric(
        "fleetsim_load_requests_total",
        "counter",
        "Requests recorded, by outcome class.",
        &Outcome::ALL
            .iter()
            .map(|o| {
                (
                    format!("{{outcome=\"{}\"}}", o.as_str()),
                    s.outcomes[outcome_idx(*o)] as f64,
                )
            })
            .collect::<Vec<_>>(),
    );
    metric(
        "fleetsim_load_requests_recorded_total",
        "counter",
        "Requests with a record.",
        &one(s.recorded),
    );
    metric(
        "fleetsim_load_late_sends_total",
        "counter",
        "Requests started later than the fault threshold.",
        &one(s.late),
    );
    metric(
        "fleetsim_load_requests_in_flight",
        "gauge",
        "Requests handed out and not yet recorded.",
        &one(s.inflight),
    );
    metric(
        "fleetsim_load_connections_opened_total",
        "counter",
        "Connections opened (warm-up included).",
        &one(s.conns),
    );
    let (lag, lat) = {
        let h = sh.stats.hist.lock().unwrap();
        let q = |h: &hdrhistogram::Histogram<u64>| {
            [0.5, 0.99, 0.999]
                .map(|p| {
                    (
                        format!("{{quantile=\"{p}\"}}"),
                        h.value_at_quantile(p) as f64 / 1e9,
                    )
                })
                .to_vec()
        };
        (
            (
                q(&h.lag),
                h.lag.len(),
                h.lag.mean() * h.lag.len() as f64 / 1e9,
            ),
            (
                q(&h.latency),
                h.latency.len(),
                h.latency.mean() * h.latency.len() as f64 / 1e9,
            ),
        )
    };
    for (name, help, (mut samples, count, sum)) in [
        (
            "fleetsim_load_send_lag_seconds",
            "Send lag (actual minus intended start) over the run.",
            lag,
        ),
        (
            "fleetsim_load_latency_seconds",
            "Latency from intended start to end, requests with a response or a deadline.",
            lat,
        ),
    ] {
        samples.push(("_sum".to_string(), sum));
        samples.push(("_count".to_string(), count as f64));
        let _ = writeln!(t, "# HELP {name} {help}");
        let _ = writeln!(t, "# TYPE {name} summary");
        // Quantile samples carry labels; `_sum` and `_count` are suffixes of the name.
        for (labels, v) in samples {
            let _ = writeln!(t, "{name}{labels} {v}");
        }
    }
    t
}

/// Serves `GET /metrics` until the run stops.
pub(crate) async fn serve_prometheus(
    sh: Arc<Shared>,
    listener: TcpListener,
    stop: watch::Receiver<bool>,
) {
    crate::control::serve_http(sh, listener, stop, metrics).await
}

fn metrics(sh: &Shared, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let r = if req.uri().path() == "/metrics" {
        Response::builder()
            .header("content-type", "text/plain; version=0.0.4")
            .body(Full::new(Bytes::from(prometheus_text(sh))))
    } else {
        Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"GET /metrics\n")))
    };
    r.expect("response")
}
