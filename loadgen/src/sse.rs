//! Long-lived server-sent-event clients. Each stream holds one HTTP/1 connection open on the SSE
//! endpoint; when it ends (server closed it, reset, idle timeout, or a failed attempt) that is
//! recorded, and the stream reconnects at once or after a jittered exponential backoff. Every
//! attempt, success and drop is a record line (`"t":"s"`), so disconnects, reconnect attempts and
//! time to reconnect come from the data, not from a library that reconnects silently.

use crate::classify::{classify_error, classify_status};
use crate::record::{SseEv, SseEvent};
use crate::session::Shared;
use bytes::Bytes;
use http::header::{ACCEPT, HOST, RETRY_AFTER};
use http::{HeaderValue, Request};
use http_body_util::{BodyExt, Empty};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How an SSE stream reconnects after a drop or a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Reconnect {
    /// Reconnect at once after a drop or failed attempt.
    Immediate,
    /// Full-jitter exponential backoff: uniform in [0, min(max, base * 2^failures)].
    Backoff,
}

/// One stream's settings.
#[derive(Clone, Debug)]
pub(crate) struct SseOpts {
    pub id: u64,
    pub path: String,
    pub reconnect: Reconnect,
    pub base: Duration,
    pub max: Duration,
    pub idle_timeout: Option<Duration>,
    pub seed: u64,
}

/// Backoff before attempt after `failures` consecutive failures (0 after a good connection).
pub fn backoff_delay(
    policy: Reconnect,
    base: Duration,
    max: Duration,
    failures: u32,
    rng: &mut impl Rng,
) -> Duration {
    match policy {
        Reconnect::Immediate => Duration::ZERO,
        Reconnect::Backoff => {
            let cap = base.saturating_mul(1u32 << failures.min(20)).min(max);
            let ns = cap.as_nanos() as u64;
            if ns == 0 {
                Duration::ZERO
            } else {
                Duration::from_nanos(rng.next_u64() % (ns + 1))
            }
        }
    }
}

enum End {
    Drop(String, u64),
    Fail(String),
    Stopped,
}

pub(crate) async fn stream(sh: Arc<Shared>, o: SseOpts, mut stop: watch::Receiver<bool>) {
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    let mut failures: u32 = 0;
    let path: http::Uri = match o.path.parse() {
        Ok(p) => p,
        Err(_) => return,
    };
    // Every way out of this loop is the run stopping; the one `end` line is written after it, so
    // a stop noticed between attempts (or during a backoff) is recorded like one mid-stream.
    let mut att = 0u64;
    loop {
        if *stop.borrow() {
            break;
        }
        let ev = |ev: SseEv, why: String, n: u64, pod: Option<String>, conn: u64| SseEvent {
            at: sh.clock.now_ns(),
            id: o.id,
            ev,
            att,
            why,
            n,
            pod,
            conn,
        };
        let end = tokio::select! {
            e = one_stream(&sh, &o, &path, att, &ev) => e,
            _ = stop.changed() => End::Stopped,
        };
        match end {
            End::Stopped => break,
            End::Drop(why, n) => {
                failures = 0;
                sh.sink.tagged("s", &ev(SseEv::Drop, why, n, None, 0));
            }
            End::Fail(why) => {
                failures = failures.saturating_add(1);
                sh.sink.tagged("s", &ev(SseEv::Fail, why, 0, None, 0));
            }
        }
        let wait = backoff_delay(o.reconnect, o.base, o.max, failures, &mut rng);
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => break,
            }
        } else {
            // immediate: still yield so a server that refuses instantly cannot starve the runtime
            tokio::task::yield_now().await;
            if failures > 0 {
                // bound a hot refuse loop to one attempt per millisecond
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        att += 1;
    }
    let end = SseEvent {
        at: sh.clock.now_ns(),
        id: o.id,
        ev: SseEv::End,
        att,
        why: String::new(),
        n: 0,
        pod: None,
        conn: 0,
    };
    sh.sink.tagged("s", &end);
}

async fn one_stream(
    sh: &Arc<Shared>,
    o: &SseOpts,
    path: &http::Uri,
    _att: u64,
    ev: &impl Fn(SseEv, String, u64, Option<String>, u64) -> SseEvent,
) -> End {
    let deadline = Instant::now() + sh.timeout;
    let mut conn = match sh.connect(deadline, false, None).await {
        Ok(c) => c,
        Err(c) => return End::Fail(c.outcome.as_str().to_string()),
    };
    let req = Request::builder()
        .uri(path.clone())
        .header(HOST, sh.target.host.clone())
        .header(ACCEPT, HeaderValue::from_static("text/event-stream"))
        .body(Empty::<Bytes>::new())
        .expect("sse request");
    let resp = tokio::time::timeout_at(deadline.into(), async {
        conn.use_for_request();
        conn.tx.ready().await?;
        conn.tx.send_request(req).await
    })
    .await;
    let resp = match resp {
        Err(_) => return End::Fail("timeout".into()),
        Ok(Err(e)) => return End::Fail(classify_error(&e).outcome.as_str().to_string()),
        Ok(Ok(r)) => r,
    };
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        return End::Fail(
            classify_status(status, resp.headers().contains_key(RETRY_AFTER))
                .as_str()
                .to_string(),
        );
    }
    let pod = resp
        .headers()
        .get(&sh.pod_header)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    sh.sink
        .tagged("s", &ev(SseEv::Open, String::new(), 0, pod, conn.id));
    let mut body = resp.into_body();
    let mut events = 0u64;
    let mut prev_nl = false;
    loop {
        let next = match o.idle_timeout {
            Some(t) => match tokio::time::timeout(t, body.frame()).await {
                Ok(f) => f,
                Err(_) => return End::Drop("timeout".into(), events),
            },
            None => body.frame().await,
        };
        match next {
            None => return End::Drop("eof".into(), events),
            Some(Err(e)) => {
                return End::Drop(classify_error(&e).outcome.as_str().to_string(), events);
            }
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    for &b in d.iter() {
                        if b == b'\r' {
                            continue;
                        }
                        let nl = b == b'\n';
                        if nl && prev_nl {
                            events += 1;
                        }
                        prev_nl = nl;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn backoff_is_capped_and_grows() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        for f in 0..30 {
            let d = backoff_delay(Reconnect::Backoff, base, max, f, &mut rng);
            assert!(
                d <= base.saturating_mul(1 << f.min(20)).min(max),
                "f={f} d={d:?}"
            );
        }
        assert_eq!(
            backoff_delay(Reconnect::Immediate, base, max, 5, &mut rng),
            Duration::ZERO
        );
    }
}
