//! The state one run shares between the scheduler, the request tasks, the SSE streams and the
//! control port: the run's clock, the target, the connection pool of the keep-alive clients,
//! the record sink and the counters. Everything that records goes through [`Shared`], so the
//! modules that use it (`load`, `sse`, `control`) import this one and never each other.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::Uri;
use http::header::{HeaderName, HeaderValue};
use http_body_util::Empty;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use measure::Outcome;
use tokio::net::TcpStream;
use tokio::sync::{Notify, oneshot, watch};

use crate::classify::{ErrorClass, classify_error};
use crate::error::LoadError;
use crate::plan::{Mode, ShedRetryPlan};
use crate::record::{
    ConnEv, ConnEvent, Mark, MarkSource, OPENED_AHEAD, Ready, Req, Retry, RetryGiveUp,
};
use crate::retry::{GiveUp, RetrySummary};
use crate::sink::Sink;

/// Where requests go: the resolved address, the `Host` header and the path.
pub(crate) struct Target {
    pub addr: SocketAddr,
    pub host: HeaderValue,
    pub path: Uri,
}

pub(crate) async fn resolve_target(url: &str) -> Result<Target, LoadError> {
    let bad = |reason: String| LoadError::Target {
        url: url.to_string(),
        reason,
    };
    let uri: Uri = url.parse().map_err(|e| bad(format!("not a URL: {e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad("must be an http:// URL".into()));
    }
    let auth = uri
        .authority()
        .ok_or_else(|| bad("no host".into()))?
        .clone();
    let port = auth.port_u16().unwrap_or(80);
    let host = auth
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| bad(format!("resolve {host}: {e}")))?
        .next()
        .ok_or_else(|| bad(format!("{host} resolves to nothing")))?;
    let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    Ok(Target {
        addr,
        host: HeaderValue::from_str(auth.as_str()).map_err(|e| bad(e.to_string()))?,
        path: pq.parse().map_err(|e| bad(format!("{e}")))?,
    })
}

/// The run's clock: monotonic origin plus the wall clock at that origin.
#[derive(Clone, Copy)]
pub(crate) struct Clock {
    pub origin: Instant,
    pub origin_epoch_ns: i64,
}

impl Clock {
    #[inline]
    pub(crate) fn now_ns(&self) -> i64 {
        let now = Instant::now();
        if now >= self.origin {
            (now - self.origin).as_nanos() as i64
        } else {
            -((self.origin - now).as_nanos() as i64)
        }
    }
    pub(crate) fn at(&self, ns: i64) -> Instant {
        if ns >= 0 {
            self.origin + Duration::from_nanos(ns as u64)
        } else {
            self.origin - Duration::from_nanos(ns.unsigned_abs())
        }
    }
    pub(crate) fn at_epoch_ns(&self, epoch_ns: i64) -> i64 {
        epoch_ns - self.origin_epoch_ns
    }
}

pub(crate) fn epoch_ns_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A live connection. Dropping it closes the socket (the driver task sees the kill signal).
pub(crate) struct Conn {
    pub id: u64,
    pub tx: http1::SendRequest<Empty<Bytes>>,
    /// A request has been handed to this connection (see [`Conn::use_for_request`]).
    used: Arc<AtomicBool>,
    _kill: oneshot::Sender<()>,
}

impl Conn {
    /// Marks the connection as carrying a request, before it is sent: a server close after
    /// this is judged by hyper's own reading of it (mid-request: an error).
    pub(crate) fn use_for_request(&self) {
        self.used.store(true, Ordering::Release);
    }
}

/// The run's counters, read by the footer, the progress line, the control port's `/status` and
/// the Prometheus endpoint while the run goes on.
pub(crate) struct Stats {
    /// Requests started: their actual start stamped (connect or reuse began), not merely handed
    /// to the runtime. The achieved rate is computed from this.
    pub sent: AtomicU64,
    pub recorded: AtomicU64,
    pub faults: AtomicU64,
    /// Requests started more than the fault threshold after their intended start.
    pub late: AtomicU64,
    pub conns_opened: AtomicU64,
    pub outcomes: [AtomicU64; 10],
    /// Most requests in flight (handed out, not yet recorded) at once.
    pub peak_inflight: AtomicU64,
    /// Times the scheduler found the in-flight cap reached and waited for a request to end.
    pub backlog_waits: AtomicU64,
    /// Behind-schedule warnings printed, and the time of the first (run clock, ns; -1 = none).
    pub lag_warnings: AtomicU64,
    pub first_lag_warning_ns: AtomicI64,
    /// Last warning, run clock ns (warnings go out at most once per second).
    last_warn_ns: AtomicI64,
    pub hist: Mutex<Hists>,
}

/// Send lag and latency histograms (ns), updated once per request under one lock.
pub(crate) struct Hists {
    /// Send lag (actual - intended start), whole run.
    pub lag: Histogram<u64>,
    /// Latency (end - intended start), whole run.
    pub latency: Histogram<u64>,
    /// Latency since the progress line last reset it.
    pub latency_window: Histogram<u64>,
}

fn ns_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("hdr bounds")
}

impl Stats {
    pub(crate) fn new() -> Self {
        Stats {
            sent: AtomicU64::new(0),
            recorded: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            late: AtomicU64::new(0),
            conns_opened: AtomicU64::new(0),
            outcomes: Default::default(),
            peak_inflight: AtomicU64::new(0),
            backlog_waits: AtomicU64::new(0),
            lag_warnings: AtomicU64::new(0),
            first_lag_warning_ns: AtomicI64::new(-1),
            last_warn_ns: AtomicI64::new(i64::MIN),
            hist: Mutex::new(Hists {
                lag: ns_histogram(),
                latency: ns_histogram(),
                latency_window: ns_histogram(),
            }),
        }
    }

    /// Requests recorded with a failed outcome (every class but `ok` and `shed`).
    pub(crate) fn failed(&self) -> u64 {
        Outcome::ALL
            .iter()
            .filter(|o| o.is_failure())
            .map(|o| self.outcomes[outcome_idx(*o)].load(Ordering::Relaxed))
            .sum()
    }
}

/// The counters of the retries of shed requests (`--shed-retries`), apart from the scheduled
/// requests' [`Stats`]: the footer's `recorded`, the progress line, the thresholds and the
/// Prometheus endpoint count scheduled requests only.
#[derive(Default)]
pub(crate) struct RetryStats {
    /// Retries sent (their `rt` lines written).
    pub sent: AtomicU64,
    /// Retries by outcome, in [`Outcome::ALL`]'s order.
    pub outcomes: [AtomicU64; 10],
    /// Give-ups (their `rg` lines written), in [`GiveUp::ALL`]'s order.
    pub gave_up: [AtomicU64; 4],
    /// The latest a retry went out after it was due, ns.
    pub lag_max_ns: AtomicI64,
    /// Retries flagged as generator faults (a generator-side error).
    pub faults: AtomicU64,
}

pub(crate) struct Shared {
    pub clock: Clock,
    pub sink: Sink,
    pub target: Target,
    pub mode: Mode,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub fault_ns: i64,
    pub pod_header: HeaderName,
    pub next_conn: AtomicU64,
    pub idle: Vec<Mutex<Vec<Conn>>>,
    pub conn_limits: Option<Vec<Arc<tokio::sync::Semaphore>>>,
    pub max_idle: usize,
    /// Reopen a keep-alive connection as soon as the server closes it (`--eager-reconnect`).
    pub eager_reconnect: bool,
    /// Where the eager reopening runs (its own thread under [`crate::run`]); `None`: here.
    pub ahead: Option<tokio::runtime::Handle>,
    pub stats: Stats,
    /// Requests handed out by the scheduler and not yet recorded.
    pub inflight: AtomicU64,
    /// The cap on `inflight`: the scheduler waits (and its sends go late) rather than pile up
    /// work without bound.
    pub max_inflight: u64,
    /// Signalled when a request ends (a slot under the cap may be free).
    pub slot_free: Notify,
    pub stop: watch::Sender<bool>,
    pub stopped_early: AtomicBool,
    /// Retries of shed requests (`None`: off).
    pub shed_retry: Option<ShedRetryPlan>,
    /// The latest a retry may be due, ns on the run's clock: the planned end of the schedule
    /// plus the timeout, brought forward to the end of sending plus the timeout when the
    /// schedule ends. Waiting retries watch it.
    pub retry_cutoff: watch::Sender<i64>,
    /// Scheduled requests shed whose retries are not over (waiting or in flight).
    pub retries_pending: AtomicU64,
    pub retry_stats: RetryStats,
}

impl Shared {
    pub(crate) fn mark(&self, at: i64, name: &str, src: MarkSource) {
        self.sink.tagged(
            "m",
            &Mark {
                at,
                name: name.to_string(),
                src,
            },
        );
    }

    pub(crate) fn ready(&self, at: i64, ready: u32, desired: u32) {
        self.sink.tagged("e", &Ready { at, ready, desired });
    }

    pub(crate) fn request_stop(&self) {
        self.stopped_early.store(true, Ordering::SeqCst);
        let _ = self.stop.send(true);
    }

    fn conn_event(&self, conn: u64, ev: ConnEv, why: String, warm: bool) {
        self.sink.tagged(
            "c",
            &ConnEvent {
                at: self.clock.now_ns(),
                conn,
                ev,
                why,
                warm,
            },
        );
    }

    /// Open a TCP connection and run the HTTP/1 handshake; records `open` / `connect_fail`.
    /// `client`: the keep-alive client it belongs to, which reopens it at once when the server
    /// closes it under `--eager-reconnect` (one attempt, put in that client's idle list).
    pub(crate) fn connect(
        self: &Arc<Self>,
        deadline: Instant,
        warm: bool,
        client: Option<usize>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Conn, ErrorClass>> + Send + '_>>
    {
        Box::pin(self.connect_once(deadline, warm, client, false))
    }

    /// [`Shared::connect`] for a keep-alive client reopening a connection the server closed,
    /// ahead of any request (`--eager-reconnect`): its `open` record says `why: "eager"`, so the
    /// analyzer's reconnect curve counts it (no request opened it).
    fn connect_ahead(
        self: &Arc<Self>,
        deadline: Instant,
        client: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Conn, ErrorClass>> + Send + '_>>
    {
        Box::pin(self.connect_once(deadline, false, Some(client), true))
    }

    async fn connect_once(
        self: &Arc<Self>,
        deadline: Instant,
        warm: bool,
        client: Option<usize>,
        ahead: bool,
    ) -> Result<Conn, ErrorClass> {
        let cdl = deadline.min(Instant::now() + self.connect_timeout);
        let stream =
            match tokio::time::timeout_at(cdl.into(), TcpStream::connect(self.target.addr)).await {
                Err(_) => Err(ErrorClass {
                    outcome: Outcome::Timeout,
                    generator_fault: false,
                }),
                Ok(Err(e)) => Err(classify_error(&e)),
                Ok(Ok(s)) => Ok(s),
            };
        let stream = match stream {
            Ok(s) => s,
            Err(c) => {
                self.conn_event(0, ConnEv::ConnectFail, c.outcome.as_str().to_string(), warm);
                return Err(c);
            }
        };
        let _ = stream.set_nodelay(true);
        let (tx, conn) = match http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await {
            Ok(x) => x,
            Err(e) => {
                let c = classify_error(&e);
                self.conn_event(0, ConnEv::ConnectFail, c.outcome.as_str().to_string(), warm);
                return Err(c);
            }
        };
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        self.stats.conns_opened.fetch_add(1, Ordering::Relaxed);
        let why = if ahead { OPENED_AHEAD } else { "" };
        self.conn_event(id, ConnEv::Open, why.to_string(), warm);
        let (kill, kill_rx) = oneshot::channel::<()>();
        let used = Arc::new(AtomicBool::new(false));
        let used_here = used.clone();
        let me = self.clone();
        tokio::spawn(async move {
            let why = tokio::select! {
                biased;
                _ = kill_rx => "client".to_string(),
                r = conn => match r {
                    Ok(()) => "eof".to_string(),
                    // hyper's client reports the server's orderly close of a connection that
                    // never carried a request as an incomplete message (its keep-alive state
                    // is not idle until a first exchange completes): nothing was cut, it is
                    // an end of file like any idle close.
                    Err(e) if e.is_incomplete_message() && !used_here.load(Ordering::Acquire) => {
                        "eof".to_string()
                    }
                    Err(e) => format!("error:{}", classify_error(&e).outcome.as_str()),
                },
            };
            let closed_by_server = why != "client";
            me.conn_event(id, ConnEv::Close, why, false);
            if let Some(client) = client.filter(|_| me.eager_reconnect && closed_by_server)
                && !*me.stop.borrow()
            {
                let reopen = me.clone().reopen(client);
                match &me.ahead {
                    Some(rt) => drop(rt.spawn(reopen)),
                    None => reopen.await,
                }
            }
        });
        Ok(Conn {
            id,
            tx,
            used,
            _kill: kill,
        })
    }

    /// The eager reopen of `client`'s connection after the server closed it
    /// (`--eager-reconnect`): one attempt at once, no retry; the connection goes to the client's
    /// idle list, where [`Shared::put_idle`] closes it at once when the list is full.
    pub(crate) async fn reopen(self: Arc<Self>, client: usize) {
        let dl = Instant::now() + self.connect_timeout;
        if let Ok(c) = self.connect_ahead(dl, client).await {
            self.put_idle(client, c);
        }
    }

    /// A usable idle connection of this client, discarding ones the server has closed.
    pub(crate) fn take_idle(&self, client: usize) -> Option<Conn> {
        let mut list = self.idle[client].lock().unwrap();
        while let Some(c) = list.pop() {
            if c.tx.is_ready() {
                return Some(c);
            }
            // closed (or broken): dropping it lets its driver record the close
        }
        None
    }

    pub(crate) fn put_idle(&self, client: usize, c: Conn) {
        let mut list = self.idle[client].lock().unwrap();
        if list.len() < self.max_idle {
            list.push(c);
        }
    }

    /// A request starts now: stamps its actual start, counts it as sent, and when it is later
    /// than the fault threshold counts a late send and warns on stderr (at most once a second),
    /// so falling behind shows while it happens, not only in the footer.
    pub(crate) fn start(&self, intended: i64) -> i64 {
        let actual = self.clock.now_ns();
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        let lag = actual - intended;
        if lag > self.fault_ns {
            let late = self.stats.late.fetch_add(1, Ordering::Relaxed) + 1;
            let last = self.stats.last_warn_ns.load(Ordering::Relaxed);
            if actual.saturating_sub(last) >= 1_000_000_000
                && self
                    .stats
                    .last_warn_ns
                    .compare_exchange(last, actual, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                if self.stats.lag_warnings.fetch_add(1, Ordering::Relaxed) == 0 {
                    self.stats
                        .first_lag_warning_ns
                        .store(actual, Ordering::Relaxed);
                }
                eprintln!(
                    "warning: generator behind schedule: a send {:.1} ms late (threshold {:.1} ms), \
                     {late} late sends so far, {} of at most {} requests in flight; this run \
                     will be marked invalid",
                    lag as f64 / 1e6,
                    self.fault_ns as f64 / 1e6,
                    self.inflight.load(Ordering::Relaxed),
                    self.max_inflight,
                );
            }
        }
        actual
    }

    pub(crate) fn finish(&self, mut rec: Req) {
        let lag = (rec.actual - rec.intended).max(0);
        if lag > self.fault_ns {
            rec.generator_fault = true;
        }
        if rec.generator_fault {
            self.stats.faults.fetch_add(1, Ordering::Relaxed);
        }
        {
            let mut h = self.stats.hist.lock().unwrap();
            h.lag.saturating_record(lag.max(1) as u64);
            // As the analyzer does: only a response or a deadline has a latency.
            if rec.outcome.has_latency() {
                let latency = (rec.end - rec.intended).max(1) as u64;
                h.latency.saturating_record(latency);
                h.latency_window.saturating_record(latency);
            }
        }
        self.stats.outcomes[outcome_idx(rec.outcome)].fetch_add(1, Ordering::Relaxed);
        self.sink.line(|b| crate::record::write_req(b, &rec));
        self.stats.recorded.fetch_add(1, Ordering::Relaxed);
        self.inflight.fetch_sub(1, Ordering::AcqRel);
        self.slot_free.notify_one();
    }
}

impl Shared {
    /// Records a retry (an `rt` line) and counts it.
    pub(crate) fn finish_retry(&self, r: Retry) {
        let st = &self.retry_stats;
        st.sent.fetch_add(1, Ordering::Relaxed);
        st.outcomes[outcome_idx(r.outcome)].fetch_add(1, Ordering::Relaxed);
        st.lag_max_ns
            .fetch_max(r.send_lag_ns().max(0), Ordering::Relaxed);
        if r.generator_fault {
            st.faults.fetch_add(1, Ordering::Relaxed);
        }
        self.sink.tagged("rt", &r);
    }

    /// Records that the retries of scheduled request `i` end here (an `rg` line), and counts it.
    pub(crate) fn give_up(
        &self,
        i: u64,
        attempt: u32,
        why: GiveUp,
        retry_after: Option<&HeaderValue>,
        wait: Option<Duration>,
    ) {
        let k = GiveUp::ALL
            .iter()
            .position(|w| *w == why)
            .expect("reason in ALL");
        self.retry_stats.gave_up[k].fetch_add(1, Ordering::Relaxed);
        let mut ra = retry_after
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        if ra.len() > 64 {
            let mut end = 64;
            while !ra.is_char_boundary(end) {
                end -= 1;
            }
            ra.truncate(end);
        }
        self.sink.tagged(
            "rg",
            &RetryGiveUp {
                i,
                attempt,
                at: self.clock.now_ns(),
                why,
                retry_after: ra,
                wait_ns: wait.map(|w| w.as_nanos().min(u128::from(u64::MAX)) as u64),
            },
        );
    }

    /// The retries so far (`None` with retries off).
    pub(crate) fn retry_summary(&self) -> Option<RetrySummary> {
        self.shed_retry?;
        let st = &self.retry_stats;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = RetrySummary {
            scheduled_shed: load(&self.stats.outcomes[outcome_idx(Outcome::Shed)]),
            sent: load(&st.sent),
            send_lag_max_ms: st.lag_max_ns.load(Ordering::Relaxed) as f64 / 1e6,
            generator_faults: load(&st.faults),
            ..RetrySummary::default()
        };
        for o in Outcome::ALL {
            let n = load(&st.outcomes[outcome_idx(o)]);
            if n > 0 {
                s.outcomes.insert(o.as_str().to_string(), n);
            }
            if o == Outcome::Ok {
                s.served_after_shed = n;
            } else if o.is_failure() {
                s.failed_after_shed += n;
            }
        }
        for (k, why) in GiveUp::ALL.into_iter().enumerate() {
            s.gave_up.add_n(why, load(&st.gave_up[k]));
        }
        Some(s)
    }
}

pub(crate) fn outcome_idx(o: Outcome) -> usize {
    Outcome::ALL
        .iter()
        .position(|x| *x == o)
        .expect("outcome in ALL")
}
