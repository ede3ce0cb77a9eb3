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
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::budget::ShutdownPlan;
use crate::config::MAX_WORK;
use crate::metrics::Metrics;

pub type RespBody = BoxBody<Bytes, Infallible>;

/// Shared state of the HTTP side.
pub struct App {
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
}

impl App {
    pub fn ready(&self) -> bool {
        self.started.load(Ordering::SeqCst) && !self.readiness_failed.load(Ordering::SeqCst)
    }
}

/// Control of one client connection.
pub struct ConnCtl {
    /// Fired when the connection should close politely: the next response carries
    /// `Connection: close`, an idle connection is closed at once, and /events streams end.
    pub close: CancellationToken,
}

/// Every open client connection, so the drain can close them one by one.
pub struct Conns {
    next_id: AtomicU64,
    map: Mutex<HashMap<u64, Arc<ConnCtl>>>,
    pub tracker: TaskTracker,
    /// Fired to drop every connection at once (drain deadline passed).
    pub kill: CancellationToken,
}

impl Conns {
    pub fn new() -> Self {
        Conns {
            next_id: AtomicU64::new(1),
            map: Mutex::new(HashMap::new()),
            tracker: TaskTracker::new(),
            kill: CancellationToken::new(),
        }
    }
    pub fn snapshot(&self) -> Vec<Arc<ConnCtl>> {
        self.map.lock().unwrap().values().cloned().collect()
    }
    pub fn open(&self) -> usize {
        self.map.lock().unwrap().len()
    }
}

impl Default for Conns {
    fn default() -> Self {
        Self::new()
    }
}

/// Accept until `stop` fires, then drop the listener (the port refuses from then on).
pub async fn accept_loop(
    listener: TcpListener,
    app: Arc<App>,
    conns: Arc<Conns>,
    stop: CancellationToken,
) {
    loop {
        let (stream, _peer) = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(target: "fleetsim::http", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let id = conns.next_id.fetch_add(1, Ordering::Relaxed);
        let ctl = Arc::new(ConnCtl {
            close: CancellationToken::new(),
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
    let svc = {
        let ctl = ctl.clone();
        hyper::service::service_fn(move |req| handle(app.clone(), ctl.clone(), req))
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    let mut graceful = false;
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(target: "fleetsim::http", error = %e, "connection ended with an error");
                }
                break;
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

pub async fn handle(
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
    let counted = path != "/events";
    let _guard = counted.then(|| {
        app.inflight.fetch_add(1, Ordering::SeqCst);
        app.metrics.inflight.inc();
        InflightGuard(&app)
    });
    let mut resp = match (req.method(), path) {
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
        (&Method::POST, "/jobs") => enqueue(&app, &req).await,
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
    if ctl.close.is_cancelled() {
        h.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(resp)
}

async fn work(app: &App, req: &Request<Incoming>) -> Response<RespBody> {
    let ms = match parse_ms(query_param(req, "ms"), app.default_work) {
        Ok(d) if d <= MAX_WORK => d,
        Ok(d) => {
            return full(
                StatusCode::BAD_REQUEST,
                "text/plain",
                format!(
                    "ms={} is above the maximum {}\n",
                    d.as_millis(),
                    MAX_WORK.as_millis()
                ),
            );
        }
        Err(e) => return full(StatusCode::BAD_REQUEST, "text/plain", format!("{e}\n")),
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
    if query_param(req, "block") == Some("true") {
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

async fn enqueue(app: &App, req: &Request<Incoming>) -> Response<RespBody> {
    let Some(pool) = &app.pool else {
        return full(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "no database configured (FLEETSIM_DATABASE_URL)\n",
        );
    };
    let work = match parse_ms(query_param(req, "ms"), app.default_job) {
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
    let key = match query_param(req, "key") {
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
    match crate::db::enqueue(pool, &key, work).await {
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
