//! Markers from outside the generator: a local HTTP control port and a watched file.
//!
//! Control port (bind it to loopback): `POST /mark?name=rollout_start[&epoch_ns=T]`,
//! `POST /ready?ready=R&desired=D[&epoch_ns=T]`, `POST /stop`, `GET /status`.
//! Marks file: appended lines `NAME [EPOCH_NS]` or `ready R D [EPOCH_NS]`; without a timestamp the
//! time the generator read the line is used (within ~50 ms).

use crate::record::MarkSource;
use crate::session::Shared;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::net::TcpListener;
use tokio::sync::watch;

fn query_param<'a>(q: &'a str, key: &str) -> Option<&'a str> {
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then_some(v)
    })
}

fn resp(code: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .body(Full::new(Bytes::from(body)))
        .expect("response")
}

fn at_from(sh: &Shared, epoch: Option<&str>) -> Result<i64, String> {
    match epoch {
        None => Ok(sh.clock.now_ns()),
        Some(v) => v
            .parse::<i64>()
            .map(|e| sh.clock.at_epoch_ns(e))
            .map_err(|_| format!("bad epoch_ns {v:?}")),
    }
}

fn handle(sh: &Shared, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let q = req.uri().query().unwrap_or("");
    let epoch = query_param(q, "epoch_ns");
    match (req.method(), req.uri().path()) {
        (&Method::POST, "/mark") | (&Method::GET, "/mark") => {
            let Some(name) = query_param(q, "name").filter(|n| !n.is_empty()) else {
                return resp(StatusCode::BAD_REQUEST, "need ?name=\n".into());
            };
            match at_from(sh, epoch) {
                Ok(at) => {
                    sh.mark(at, name, MarkSource::Http);
                    resp(StatusCode::OK, format!("{{\"at\":{at}}}\n"))
                }
                Err(e) => resp(StatusCode::BAD_REQUEST, e + "\n"),
            }
        }
        (&Method::POST, "/ready") => {
            let r = query_param(q, "ready").and_then(|v| v.parse().ok());
            let d = query_param(q, "desired").and_then(|v| v.parse().ok());
            match (r, d, at_from(sh, epoch)) {
                (Some(r), Some(d), Ok(at)) => {
                    sh.ready(at, r, d);
                    resp(StatusCode::OK, format!("{{\"at\":{at}}}\n"))
                }
                _ => resp(
                    StatusCode::BAD_REQUEST,
                    "need ?ready=R&desired=D[&epoch_ns=T]\n".into(),
                ),
            }
        }
        (&Method::POST, "/stop") => {
            sh.request_stop();
            resp(StatusCode::OK, "stopping\n".into())
        }
        (_, "/status") => resp(
            StatusCode::OK,
            format!(
                "{{\"now_ns\":{},\"sent\":{},\"recorded\":{},\"generator_faults\":{},\"inflight\":{}}}\n",
                sh.clock.now_ns(),
                sh.stats.sent.load(Ordering::Relaxed),
                sh.stats.recorded.load(Ordering::Relaxed),
                sh.stats.faults.load(Ordering::Relaxed),
                sh.inflight.load(Ordering::Relaxed),
            ),
        ),
        _ => resp(
            StatusCode::NOT_FOUND,
            "routes: POST /mark /ready /stop, GET /status\n".into(),
        ),
    }
}

pub(crate) async fn serve(sh: Arc<Shared>, listener: TcpListener, stop: watch::Receiver<bool>) {
    serve_http(sh, listener, stop, handle).await
}

/// Serves HTTP/1 on `listener` with `handle` until the run stops: the accept loop of the
/// control port and of the Prometheus endpoint.
pub(crate) async fn serve_http(
    sh: Arc<Shared>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    handle: fn(&Shared, &Request<Incoming>) -> Response<Full<Bytes>>,
) {
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
            _ = stop.changed() => return,
        };
        let sh = sh.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let r = handle(&sh, &req);
                async move { Ok::<_, Infallible>(r) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Parse one marks-file line into (kind, at).
pub(crate) fn apply_marks_line(sh: &Shared, line: &str) {
    let parts: Vec<&str> = line.split_whitespace().collect();
    match parts.as_slice() {
        [] => {}
        ["ready", r, d, rest @ ..] => {
            if let (Ok(r), Ok(d), Ok(at)) =
                (r.parse(), d.parse(), at_from(sh, rest.first().copied()))
            {
                sh.ready(at, r, d);
            }
        }
        [name, rest @ ..] => {
            if let Ok(at) = at_from(sh, rest.first().copied()) {
                sh.mark(at, name, MarkSource::File);
            }
        }
    }
}

pub(crate) async fn watch_marks_file(
    sh: Arc<Shared>,
    path: PathBuf,
    mut stop: watch::Receiver<bool>,
) {
    let mut offset = 0usize;
    let mut pending = String::new();
    loop {
        if let Ok(data) = std::fs::read(&path)
            && data.len() > offset
        {
            pending.push_str(&String::from_utf8_lossy(&data[offset..]));
            offset = data.len();
            while let Some(nl) = pending.find('\n') {
                let line: String = pending.drain(..=nl).collect();
                apply_marks_line(&sh, line.trim());
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {}
            _ = stop.changed() => return,
        }
    }
}
