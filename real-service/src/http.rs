//! The HTTP side: accept loop, per-connection control (polite close, forced close), handlers.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backoff::{Backoff, Episode, SUMMARY_EVERY};
use crate::budget::ShutdownPlan;
use crate::config::ACCEPT_BACKOFF_START;
use crate::metrics::Metrics;

/// The largest `POST /jobs` request body read (the body is read whole before the job is created;
/// a larger one is refused with 413).
pub const MAX_JOB_BODY: usize = 64 * 1024;

pub(crate) type RespBody = BoxBody<Bytes, Infallible>;

/// Shared state of the HTTP side.
pub(crate) struct App {
    pub pod: HeaderValue,
    pub pod_name: String,
    pub metrics: Arc<Metrics>,
    pub default_work: Duration,
    pub requeue_lever: bool,
    /// Started (schema migrated) and able to serve.
    pub started: AtomicBool,
    /// Readiness has been failed on purpose (readiness lever, at SIGTERM).
    pub readiness_failed: AtomicBool,
    pub plan: Arc<OnceLock<ShutdownPlan>>,
    pub inflight: AtomicI64,
    pub pool: Option<deadpool_postgres::Pool>,
    pub default_job: Duration,
    pub lease: Duration,
    pub sse_interval: Duration,
    /// FLEETSIM_FAULT_INJECTION: `GET /work?block=true` is allowed.
    pub fault_injection: bool,
    /// FLEETSIM_MAX_WORK: the longest `GET /work?ms=N`.
    pub max_work: Duration,
    /// FLEETSIM_HEADER_READ_TIMEOUT.
    pub header_read_timeout: Duration,
}

impl App {
    pub(crate) fn ready(&self) -> bool {
        self.started.load(Ordering::SeqCst) && !self.readiness_failed.load(Ordering::SeqCst)
    }
}

/// Control of one client connection.
pub(crate) struct ConnCtl {
    /// Fired when the connection should close politely: the next response carries
    /// `Connection: close`, an idle connection is closed at once, and /events streams end.
    pub close: CancellationToken,
    /// Set when the first request's head has been read: until then the connection is closed if
    /// the head does not arrive within the header-read timeout (this covers the protocol
    /// detection before hyper's HTTP/1 timer starts, and HTTP/2's first request).
    pub served: AtomicBool,
}

/// Every open client connection, so the drain can close them one by one.
pub(crate) struct Conns {
    next_id: AtomicU64,
    map: Mutex<HashMap<u64, Arc<ConnCtl>>>,
    pub tracker: TaskTracker,
    /// Fired to drop every connection at once (drain deadline passed).
    pub kill: CancellationToken,
}

impl Conns {
    pub(crate) fn new() -> Self {
        Conns {
            next_id: AtomicU64::new(1),
            map: Mutex::new(HashMap::new()),
            tracker: TaskTracker::new(),
            kill: CancellationToken::new(),
        }
    }
    pub(crate) fn snapshot(&self) -> Vec<Arc<ConnCtl>> {
        self.map.lock().unwrap().values().cloned().collect()
    }
    pub(crate) fn open(&self) -> usize {
        self.map.lock().unwrap().len()
    }
}

impl Default for Conns {
    fn default() -> Self {
        Self::new()
    }
}

/// Limits of the accept loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AcceptLimits {
    /// FLEETSIM_MAX_CONNECTIONS: at the cap the loop stops accepting until a connection closes.
    pub max_connections: usize,
    /// FLEETSIM_ACCEPT_BACKOFF_MAX: the longest pause while accept(2) keeps failing.
    pub backoff_max: Duration,
}

/// Accept until `stop` fires, then drop the listener (the port refuses from then on).
///
/// At most `limits.max_connections` connections are open at once: at the cap the loop waits for
/// one to close before it accepts again, so new clients wait in the kernel's listen backlog
/// (served late, not failed), while the header-read timeout bounds how long a client that sends
/// nothing holds its slot. When accept(2) fails (EMFILE when descriptors run out, ENFILE,
/// ENOBUFS...) the loop pauses 5 ms, doubling up to `limits.backoff_max`, and logs one line when
/// the failures start and one when accept works again (with the count), not one per failure.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    app: Arc<App>,
    conns: Arc<Conns>,
    stop: CancellationToken,
    limits: AcceptLimits,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let mut backoff = Backoff::new(ACCEPT_BACKOFF_START, limits.backoff_max);
    let mut failing: Option<Episode> = None;
    // The connection cap: logged at most once per SUMMARY_EVERY, with the number of waits.
    let mut cap_waits: u64 = 0;
    let mut cap_logged: Option<Instant> = None;
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                app.metrics.connection_cap_waits.inc();
                cap_waits += 1;
                let now = Instant::now();
                if cap_logged.is_none_or(|t| now.saturating_duration_since(t) >= SUMMARY_EVERY) {
                    tracing::warn!(target: "fleetsim::http", event = "connection_cap", max_connections = limits.max_connections, waits = cap_waits, "connection cap reached: new connections wait in the listen backlog");
                    cap_logged = Some(now);
                    cap_waits = 0;
                }
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => break,
                    s = slots.clone().acquire_owned() => s.expect("the semaphore is never closed"),
                }
            }
        };
        let (stream, _peer) = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    app.metrics.accept_errors.inc();
                    let now = Instant::now();
                    match &mut failing {
                        None => {
                            tracing::warn!(target: "fleetsim::http", event = "accept_backoff", error = %e, "accept failed; backing off (one line per episode)");
                            failing = Some(Episode::start(now));
                        }
                        Some(ep) => {
                            if ep.fail(now) {
                                tracing::warn!(target: "fleetsim::http", event = "accept_backoff", error = %e, failures = ep.failures, failures_since_last_line = ep.since_summary, since_ms = ep.elapsed_ms(now), "accept still failing");
                                ep.summarised();
                            }
                        }
                    }
                    drop(slot);
                    tokio::select! {
                        biased;
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                    continue;
                }
            },
        };
        if let Some(ep) = failing.take() {
            tracing::info!(target: "fleetsim::http", event = "accept_recovered", failures = ep.failures, since_ms = ep.elapsed_ms(Instant::now()), "accept works again");
            backoff.reset();
        }
        let _ = stream.set_nodelay(true);
        let id = conns.next_id.fetch_add(1, Ordering::Relaxed);
        let ctl = Arc::new(ConnCtl {
            close: CancellationToken::new(),
            served: AtomicBool::new(false),
        });
        conns.map.lock().unwrap().insert(id, ctl.clone());
        app.metrics.connections.inc();
        app.metrics.open_connections.inc();
        let app2 = app.clone();
        let conns2 = conns.clone();
        conns.tracker.spawn(async move {
            serve_conn(stream, app2.clone(), ctl, conns2.kill.clone()).await;
            conns2.map.lock().unwrap().remove(&id);
            app2.metrics.open_connections.dec();
            drop(slot);
        });
    }
    drop(listener);
}

async fn serve_conn(
    stream: tokio::net::TcpStream,
    app: Arc<App>,
    ctl: Arc<ConnCtl>,
    kill: CancellationToken,
) {
    let header_timeout = app.header_read_timeout;
    let metrics = app.metrics.clone();
    let svc = {
        let ctl = ctl.clone();
        hyper::service::service_fn(move |req| handle(app.clone(), ctl.clone(), req))
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    // The first request's head must arrive within the header-read timeout whatever the protocol
    // (hyper's HTTP/1 timer starts only once the protocol is detected).
    let first_head = tokio::time::sleep(header_timeout);
    tokio::pin!(first_head);
    let mut watching_first = true;
    let mut graceful = false;
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    let timeout = std::error::Error::source(&*e)
                        .and_then(|s| s.downcast_ref::<hyper::Error>())
                        .or_else(|| e.downcast_ref::<hyper::Error>())
                        .is_some_and(hyper::Error::is_timeout);
                    if timeout {
                        metrics.header_timeouts.inc();
                    }
                    tracing::debug!(target: "fleetsim::http", error = %e, "connection ended with an error");
                }
                break;
            }
            _ = &mut first_head, if watching_first => {
                watching_first = false;
                if !ctl.served.load(Ordering::SeqCst) {
                    metrics.header_timeouts.inc();
                    tracing::debug!(target: "fleetsim::http", "no request head within the header-read timeout: connection closed");
                    break;
                }
            }
            _ = ctl.close.cancelled(), if !graceful => {
                // Idle: closed now. Busy: closed after the response in progress.
                conn.as_mut().graceful_shutdown();
                graceful = true;
            }
            _ = kill.cancelled() => break,
        }
    }
}

struct InflightGuard<'a>(&'a App);
impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::SeqCst);
        self.0.metrics.inflight.dec();
    }
}

fn full(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<RespBody> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn query_param<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.uri().query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then_some(v)
    })
}

fn parse_ms(v: Option<&str>, default: Duration) -> Result<Duration, String> {
    match v {
        None => Ok(default),
        Some(s) => s
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|e| format!("ms={s:?}: {e}")),
    }
}

pub(crate) async fn handle(
    app: Arc<App>,
    ctl: Arc<ConnCtl>,
    req: Request<Incoming>,
) -> Result<Response<RespBody>, Infallible> {
    let path: &'static str = match req.uri().path() {
        "/work" => "/work",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        "/events" => "/events",
        "/jobs" => "/jobs",
        _ => "other",
    };
    ctl.served.store(true, Ordering::SeqCst);
    let counted = path != "/events";
    let _guard = counted.then(|| {
        app.inflight.fetch_add(1, Ordering::SeqCst);
        app.metrics.inflight.inc();
        InflightGuard(&app)
    });
    let method = req.method().clone();
    let mut resp = match (&method, path) {
        (&Method::GET, "/work") => work(&app, &req).await,
        (&Method::GET, "/healthz") => full(StatusCode::OK, "text/plain", "ok\n"),
        (&Method::GET, "/readyz") => {
            if app.ready() {
                full(StatusCode::OK, "text/plain", "ready\n")
            } else {
                full(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "not ready\n")
            }
        }
        (&Method::GET, "/metrics") => full(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            app.metrics.encode(),
        ),
        (&Method::GET, "/events") => events(&app, &ctl, &req),
        (&Method::POST, "/jobs") => enqueue(&app, req).await,
        (_, "other") => full(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
        _ => full(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n",
        ),
    };
    let status = resp.status();
    let outcome = if status.is_success() {
        "ok"
    } else if status == StatusCode::SERVICE_UNAVAILABLE && resp.headers().contains_key(RETRY_AFTER)
    {
        "shed"
    } else if status.is_client_error() {
        "client_error"
    } else {
        "server_error"
    };
    if path != "other" {
        app.metrics.request(path, outcome);
    }
    let h = resp.headers_mut();
    h.insert("x-fleetsim-pod", app.pod.clone());
    // A shed call is told to come back elsewhere: its connection is closed after the answer,
    // so a client that honours Retry-After reconnects through the balancer to a pod that is
    // not draining, instead of retrying on this one's keep-alive connection.
    if ctl.close.is_cancelled() || outcome == "shed" {
        h.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(resp)
}

async fn work(app: &App, req: &Request<Incoming>) -> Response<RespBody> {
    let ms = match parse_ms(query_param(req, "ms"), app.default_work) {
        Ok(d) if d <= app.max_work => d,
        Ok(d) => {
            return full(
                StatusCode::BAD_REQUEST,
                "text/plain",
                format!(
                    "ms={} is above the maximum {} (FLEETSIM_MAX_WORK)\n",
                    d.as_millis(),
                    app.max_work.as_millis()
                ),
            );
        }
        Err(e) => return full(StatusCode::BAD_REQUEST, "text/plain", format!("{e}\n")),
    };
    // `block` is the one fault-injection parameter: it needs FLEETSIM_FAULT_INJECTION.
    let block = match query_param(req, "block") {
        None | Some("false") => false,
        Some("true") if app.fault_injection => true,
        Some("true") => {
            return full(
                StatusCode::FORBIDDEN,
                "text/plain",
                "block=true is fault injection, which is off: start the service with FLEETSIM_FAULT_INJECTION=true (--fault-injection true) to allow it\n",
            );
        }
        Some(v) => {
            return full(
                StatusCode::BAD_REQUEST,
                "text/plain",
                format!("block={v:?}: expected true or false\n"),
            );
        }
    };
    if app.requeue_lever
        && let Some(plan) = app.plan.get()
        && !plan.admits(Instant::now(), ms)
    {
        let mut r = full(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "shutting down: this call cannot finish in the remaining budget\n",
        );
        r.headers_mut().insert(
            RETRY_AFTER,
            HeaderValue::from(plan.retry_after_secs(Instant::now())),
        );
        return r;
    }
    if block {
        // Fault injection: a blocking call in async code. It wedges one runtime thread (and any
        // task queued behind it); only the guardian (an OS thread) can end the process in time.
        tracing::warn!(target: "fleetsim::http", event = "blocking", ms = ms.as_millis() as u64, "fault injection: blocking a runtime thread");
        std::thread::sleep(ms);
    } else {
        tokio::time::sleep(ms).await;
    }
    full(
        StatusCode::OK,
        "application/json",
        format!(
            "{{\"pod\":{},\"ms\":{}}}\n",
            serde_json::Value::from(app.pod_name.as_str()),
            ms.as_millis()
        ),
    )
}

/// A body fed by a channel (for server-sent events).
struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

fn events(app: &Arc<App>, ctl: &Arc<ConnCtl>, req: &Request<Incoming>) -> Response<RespBody> {
    let interval = match parse_ms(query_param(req, "interval_ms"), app.sse_interval) {
        Ok(d) if !d.is_zero() => d,
        _ => {
            return full(
                StatusCode::BAD_REQUEST,
                "text/plain",
                "interval_ms must be a positive integer\n",
            );
        }
    };
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    let app = app.clone();
    let close = ctl.close.clone();
    tokio::spawn(async move {
        app.metrics.open_streams.inc();
        let pod = serde_json::Value::from(app.pod_name.as_str());
        let mut seq: u64 = 0;
        let mut tick = tokio::time::interval(interval);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    seq += 1;
                    let msg = format!("id: {seq}\nevent: tick\ndata: {{\"pod\":{pod},\"seq\":{seq}}}\n\n");
                    if tx.send(Bytes::from(msg)).await.is_err() {
                        break;
                    }
                }
                _ = close.cancelled() => {
                    let msg = format!("event: shutdown\ndata: {{\"pod\":{pod},\"seq\":{seq}}}\n\n");
                    let _ = tx.send(Bytes::from(msg)).await;
                    break;
                }
            }
        }
        app.metrics.open_streams.dec();
    });
    let mut r = Response::new(ChannelBody(rx).boxed());
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    r.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-cache"));
    r
}

async fn enqueue(app: &App, req: Request<Incoming>) -> Response<RespBody> {
    let Some(pool) = &app.pool else {
        return full(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "no database configured (FLEETSIM_DATABASE_URL)\n",
        );
    };
    let work = match parse_ms(query_param(&req, "ms"), app.default_job) {
        Ok(d) if d < app.lease => d,
        Ok(d) => {
            return full(
                StatusCode::BAD_REQUEST,
                "text/plain",
                format!(
                    "ms={} must be below the lease {}ms\n",
                    d.as_millis(),
                    app.lease.as_millis()
                ),
            );
        }
        Err(e) => return full(StatusCode::BAD_REQUEST, "text/plain", format!("{e}\n")),
    };
    let effect = match query_param(&req, "effect_ms").map(|v| (v, v.parse::<u64>())) {
        None => None,
        Some((_, Ok(ms))) if Duration::from_millis(ms) <= work => Some(Duration::from_millis(ms)),
        Some((_, Ok(ms))) => {
            return full(
                StatusCode::BAD_REQUEST,
                "text/plain",
                format!(
                    "effect_ms={ms} must be at most the job's work, ms={}\n",
                    work.as_millis()
                ),
            );
        }
        Some((v, Err(e))) => {
            return full(
                StatusCode::BAD_REQUEST,
                "text/plain",
                format!("effect_ms={v:?}: {e}\n"),
            );
        }
    };
    let key = match query_param(&req, "key") {
        Some(k)
            if !k.is_empty()
                && k.len() <= 200
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
        {
            k.to_string()
        }
        Some(_) => {
            return full(
                StatusCode::BAD_REQUEST,
                "text/plain",
                "key must be 1-200 characters of [A-Za-z0-9-_.:]\n",
            );
        }
        None => format!("{}-{:016x}", app.pod_name, rand::random::<u64>()),
    };
    // Read the whole body (bounded) before the job exists: a request whose body cannot be read
    // (a malformed chunked encoding, a connection cut mid-body) creates no job.
    if let Err(e) = http_body_util::Limited::new(req.into_body(), MAX_JOB_BODY)
        .collect()
        .await
    {
        return if e.is::<http_body_util::LengthLimitError>() {
            full(
                StatusCode::PAYLOAD_TOO_LARGE,
                "text/plain",
                format!("the request body is larger than {MAX_JOB_BODY} bytes; no job created\n"),
            )
        } else {
            full(
                StatusCode::BAD_REQUEST,
                "text/plain",
                format!("cannot read the request body: {e}; no job created\n"),
            )
        };
    }
    match crate::db::enqueue(pool, &key, work, effect).await {
        Ok(id) => {
            app.metrics.job("enqueued");
            full(
                StatusCode::CREATED,
                "application/json",
                serde_json::json!({ "id": id, "idempotency_key": key }).to_string() + "\n",
            )
        }
        Err(e) => full(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            format!("enqueue failed: {e}\n"),
        ),
    }
}
