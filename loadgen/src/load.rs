//! `fleetsim load`: the open-loop load generator.
//!
//! * The schedule ([`crate::schedule`]) fixes every intended start before the run; a request never
//!   waits for an earlier one. Latency is measured from the intended start.
//! * A request that starts later than `fault_threshold` after its intended start, or that fails
//!   for a reason on the generator's side (out of fds or ports), is a generator fault: flagged on
//!   its record, counted in the footer, and the run is reported invalid.
//! * Connections are driven with hyper's low-level `client::conn::http1` API: we own each TCP
//!   socket, so every connect, reuse and close is recorded, and nothing retries behind our back.
//!   A failed request is recorded as failed; it is never re-sent.
//! * [`Mode::Keepalive`]: K virtual clients (`clients`), request `n` of this shard goes to client
//!   `n % K`. A client reuses its idle keep-alive connection; if it has none (never opened, closed
//!   by the server, or busy with an earlier request), it opens a new one at once rather than wait.
//!   [`Mode::New`]: one new connection per request (`Connection: close`).
//! * Records stream to an NDJSON file ([`crate::record`]) through a bounded writer, so memory stays
//!   flat.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http::header::{CONNECTION, HOST, HeaderName, HeaderValue, RETRY_AFTER};
use http_body_util::{BodyExt, Empty};
use measure::Outcome;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::classify::{classify_error, classify_status};
use crate::error::LoadError;
use crate::plan::{LoadPlan, Mode};
use crate::record::{Footer, Header, MarkSource, Req, SCHEMA};
use crate::schedule::{Arrivals, Schedule, rate_milli};
use crate::session::{Clock, Shared, Stats, epoch_ns_now, outcome_idx, resolve_target};
use crate::sink::Sink;
use crate::timer::PreciseTimer;

/// What a run reports when it ends (also in the file's footer).
#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    /// The record file.
    pub out: PathBuf,
    /// The footer written as the file's last line.
    pub footer: Footer,
    /// Requests by outcome class.
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Connections opened (warm-up included).
    pub connections_opened: u64,
    /// Requests started per second of schedule.
    pub achieved_rps: f64,
    /// Size of the record file.
    pub bytes_written: u64,
}

/// Runs the generator to completion (builds its own tokio runtime; call from non-async code).
pub fn run(plan: LoadPlan) -> Result<LoadReport, LoadError> {
    let mut b = if plan.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(plan.threads);
        b
    };
    let rt = b
        .enable_all()
        .build()
        .map_err(LoadError::io("tokio runtime"))?;
    rt.block_on(run_async(plan))
}

/// The generator, on the caller's runtime: check the plan, set up the shared state and write
/// the header, warm the connections, start the helpers, send the schedule, wind down, write the
/// footer.
pub async fn run_async(plan: LoadPlan) -> Result<LoadReport, LoadError> {
    let rate_m = check(&plan)?;
    let sh = setup(&plan).await?;
    if plan.mode == Mode::Keepalive && plan.warm {
        warm_up(&sh, plan.clients).await;
    }
    let schedule_start_ns = schedule_start(&sh.clock, plan.start_at_epoch_ms);
    let (stop_rx, helpers, sse_tasks) = start_helpers(&sh, &plan, schedule_start_ns).await?;
    let scheduled = send_schedule(&sh, &plan, rate_m, schedule_start_ns, stop_rx.clone()).await?;
    let load_end = wind_down(&sh, &plan, schedule_start_ns, stop_rx, helpers, sse_tasks).await;
    finish(&sh, &plan, scheduled, schedule_start_ns, load_end)
}

/// Checks the plan's settings and the open-files limit; returns the rate in milli-requests per
/// second.
fn check(plan: &LoadPlan) -> Result<u64, LoadError> {
    let rate_m = rate_milli(plan.rate)?;
    if plan.clients == 0 {
        return Err(LoadError::Setting {
            field: "clients",
            reason: "must be >= 1".into(),
        });
    }
    let nofile = raise_nofile();
    let need = plan.clients + plan.sse.streams + 64;
    if plan.mode == Mode::Keepalive && nofile > 0 && need > nofile {
        return Err(LoadError::FileDescriptors {
            need,
            clients: plan.clients,
            limit: nofile,
        });
    }
    Ok(rate_m)
}

/// Resolves the target, fixes the clock origin, creates the record file and writes its header.
async fn setup(plan: &LoadPlan) -> Result<Arc<Shared>, LoadError> {
    let target = resolve_target(&plan.target).await?;
    let clock = match plan.start_at_epoch_ms {
        None => Clock {
            origin: Instant::now(),
            origin_epoch_ns: epoch_ns_now(),
        },
        Some(ms) => {
            let want = ms.saturating_mul(1_000_000);
            let (now_i, now_e) = (Instant::now(), epoch_ns_now());
            if want < now_e {
                return Err(LoadError::Setting {
                    field: "start-at-epoch-ms",
                    reason: format!("{ms} is in the past"),
                });
            }
            Clock {
                origin: now_i + Duration::from_nanos((want - now_e) as u64),
                origin_epoch_ns: want,
            }
        }
    };
    let pod_header = HeaderName::from_bytes(plan.pod_header.to_ascii_lowercase().as_bytes())
        .map_err(|e| LoadError::Setting {
            field: "pod-header",
            reason: e.to_string(),
        })?;
    let sink =
        Sink::create(&plan.out).map_err(LoadError::io(format!("create {}", plan.out.display())))?;
    let (stop_tx, _) = watch::channel(false);
    let sh = Arc::new(Shared {
        clock,
        sink,
        target,
        mode: plan.mode,
        timeout: plan.timeout,
        connect_timeout: plan.connect_timeout,
        fault_ns: plan.fault_threshold.as_nanos() as i64,
        pod_header,
        next_conn: AtomicU64::new(1),
        idle: (0..plan.clients).map(|_| Mutex::new(Vec::new())).collect(),
        max_idle: plan.max_idle_per_client.max(1),
        conn_limits: (plan.mode == Mode::Keepalive && plan.max_conns_per_client > 0).then(|| {
            (0..plan.clients)
                .map(|_| Arc::new(tokio::sync::Semaphore::new(plan.max_conns_per_client)))
                .collect()
        }),
        stats: Stats::new(),
        inflight: AtomicU64::new(0),
        stop: stop_tx,
        stopped_early: AtomicBool::new(false),
    });
    let header = Header {
        schema: SCHEMA.to_string(),
        origin_epoch_ns: clock.origin_epoch_ns,
        generator: format!("fleetsim-loadgen {}", env!("CARGO_PKG_VERSION")),
        target: plan.target.clone(),
        mode: plan.mode.as_str().to_string(),
        clients: plan.clients,
        arrivals: if plan.poisson {
            "poisson".into()
        } else {
            "constant".into()
        },
        seed: plan.seed,
        rate: plan.rate,
        shard: plan.shard.to_string(),
        fault_threshold_ns: plan.fault_threshold.as_nanos() as i64,
        timeout_ns: plan.timeout.as_nanos() as i64,
        label: plan.label.clone(),
        sse_streams: plan.sse.streams,
    };
    sh.sink.tagged("h", &header);
    Ok(sh)
}

/// Opens one keep-alive connection per client before the schedule starts (at most 128
/// connects at once).
async fn warm_up(sh: &Arc<Shared>, clients: u64) {
    let sem = Arc::new(tokio::sync::Semaphore::new(128));
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..clients as usize {
        let sh = sh.clone();
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        tasks.spawn(async move {
            let dl = Instant::now() + sh.connect_timeout;
            if let Ok(c) = sh.connect(dl, true).await {
                sh.idle[client].lock().unwrap().push(c);
            }
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// The schedule's start on the run's clock: the origin when the start was fixed in wall-clock
/// time, else the next whole millisecond at least 10 ms from now.
fn schedule_start(clock: &Clock, start_at_epoch_ms: Option<i64>) -> i64 {
    match start_at_epoch_ms {
        Some(_) => {
            if clock.now_ns() > 0 {
                eprintln!(
                    "warning: warm-up ended after --start-at-epoch-ms; early requests will be late"
                );
            }
            0
        }
        None => {
            let t = clock.now_ns() + 10_000_000;
            (t + 999_999) / 1_000_000 * 1_000_000
        }
    }
}

/// Background helpers that end with the run, and the SSE streams (awaited at the end).
type Helpers = (
    watch::Receiver<bool>,
    Vec<JoinHandle<()>>,
    Vec<JoinHandle<()>>,
);

/// Starts the periodic flush, the flag markers, the marks file, the control port, the SSE
/// streams and the signal handler.
async fn start_helpers(
    sh: &Arc<Shared>,
    plan: &LoadPlan,
    schedule_start_ns: i64,
) -> Result<Helpers, LoadError> {
    let stop_rx = sh.stop.subscribe();
    let mut helpers = Vec::new();
    {
        let sh2 = sh.clone();
        let mut stop = stop_rx.clone();
        helpers.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(250)) => sh2.sink.flush(),
                    _ = stop.changed() => break,
                }
            }
        }));
    }
    for m in &plan.marks {
        let sh2 = sh.clone();
        let name = m.name.clone();
        let at = schedule_start_ns + m.at.as_nanos() as i64;
        let mut stop = stop_rx.clone();
        helpers.push(tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep_until(sh2.clock.at(at).into()) => sh2.mark(at, &name, MarkSource::Flag),
                _ = stop.changed() => {}
            }
        }));
    }
    if let Some(path) = plan.marks_file.clone() {
        helpers.push(tokio::spawn(crate::control::watch_marks_file(
            sh.clone(),
            path,
            stop_rx.clone(),
        )));
    }
    if let Some(addr) = plan.control {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(LoadError::io(format!("bind control {addr}")))?;
        let local = listener
            .local_addr()
            .map_err(LoadError::io("control address"))?;
        if let Some(p) = &plan.control_addr_file {
            std::fs::write(p, local.to_string())
                .map_err(LoadError::io(format!("write {}", p.display())))?;
        }
        eprintln!("control port listening on {local}");
        helpers.push(tokio::spawn(crate::control::serve(
            sh.clone(),
            listener,
            stop_rx.clone(),
        )));
    }
    let mut sse_tasks = Vec::new();
    for id in 0..plan.sse.streams {
        sse_tasks.push(tokio::spawn(crate::sse::stream(
            sh.clone(),
            crate::sse::SseOpts {
                id,
                path: plan.sse.path.clone(),
                reconnect: plan.sse.reconnect,
                base: plan.sse.backoff_base,
                max: plan.sse.backoff_max,
                idle_timeout: plan.sse.idle_timeout,
                seed: plan.seed ^ (0x5eed_0000_0000 + id),
            },
            stop_rx.clone(),
        )));
    }
    if plan.signals {
        let sh2 = sh.clone();
        let mut stop = stop_rx.clone();
        helpers.push(tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => sh2.request_stop(),
                _ = int.recv() => sh2.request_stop(),
                _ = stop.changed() => {}
            }
        }));
    }
    Ok((stop_rx, helpers, sse_tasks))
}

/// Sends the schedule: waits for each intended start (a timerfd sleep, then a short poll), and
/// spawns the request. Returns how many requests were scheduled.
async fn send_schedule(
    sh: &Arc<Shared>,
    plan: &LoadPlan,
    rate_m: u64,
    schedule_start_ns: i64,
    mut stop_rx: watch::Receiver<bool>,
) -> Result<u64, LoadError> {
    let arrivals = if plan.poisson {
        Arrivals::Poisson { seed: plan.seed }
    } else {
        Arrivals::Constant
    };
    let max_req = plan.requests.unwrap_or(u64::MAX);
    let sched = Schedule::new(
        arrivals,
        rate_m,
        plan.shard,
        plan.duration.as_nanos() as u64,
        max_req,
    );
    let timer = PreciseTimer::new().map_err(LoadError::io("timerfd"))?;
    let clock = sh.clock;
    sh.mark(schedule_start_ns, "load_start", MarkSource::Generator);
    let mut scheduled = 0u64;
    let mut burst = 0u32;
    let spin = plan.spin;
    let tick = plan.tick;
    let mut last_wake = Instant::now();
    let clients = plan.clients;
    for (n, (i, t)) in sched.enumerate() {
        if *stop_rx.borrow() {
            break;
        }
        let intended = schedule_start_ns + t as i64;
        // Coalesce wake-ups: never wake more often than once per tick; requests that fall due
        // in between go out together at the next wake (their lag is recorded, and stays < tick).
        let exact = clock.at(intended);
        let due = if Instant::now() >= exact {
            exact
        } else {
            exact.max(last_wake + tick)
        };
        let mut waited = false;
        loop {
            let now = Instant::now();
            if now >= due {
                break;
            }
            waited = true;
            if due - now > spin {
                // Block (no CPU) until just before the due time...
                tokio::select! {
                    r = timer.sleep_until(due - spin) => r.map_err(LoadError::io("timerfd"))?,
                    _ = stop_rx.changed() => break,
                }
            } else {
                // ...then poll the runtime (I/O, request tasks) until it is due. A blocking
                // sleep-and-wake costs tens of microseconds of CPU on a VM; a short busy poll
                // keeps a busy generator on schedule.
                tokio::task::yield_now().await;
                if sh.stopped_early.load(Ordering::Relaxed) {
                    break;
                }
            }
        }
        if *stop_rx.borrow() {
            break;
        }
        if waited {
            last_wake = Instant::now();
        }
        if waited {
            burst = 0;
        } else {
            burst += 1;
            if burst >= 32 {
                // Behind schedule: let the request tasks run instead of only spawning.
                burst = 0;
                tokio::task::yield_now().await;
            }
        }
        scheduled += 1;
        sh.stats.sent.fetch_add(1, Ordering::Relaxed);
        sh.inflight.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(one_request(
            sh.clone(),
            i,
            intended,
            (n as u64 % clients) as usize,
        ));
    }
    Ok(scheduled)
}

/// Keeps SSE streams open to the end of the duration, waits for the requests in flight, marks
/// `load_end`, stops the helpers and closes the idle connections. Returns the load's end.
async fn wind_down(
    sh: &Arc<Shared>,
    plan: &LoadPlan,
    schedule_start_ns: i64,
    mut stop_rx: watch::Receiver<bool>,
    helpers: Vec<JoinHandle<()>>,
    sse_tasks: Vec<JoinHandle<()>>,
) -> i64 {
    let clock = sh.clock;
    // SSE-only or duration-bound runs keep the streams open until the end of the duration.
    if plan.sse.streams > 0 && !*stop_rx.borrow() {
        let end = clock.at(schedule_start_ns + plan.duration.as_nanos() as i64);
        tokio::select! {
            _ = tokio::time::sleep_until(end.into()) => {}
            _ = stop_rx.changed() => {}
        }
    }
    let load_end = clock.now_ns();
    // Wait for in-flight requests; each has its own deadline, so this is bounded.
    let drain_deadline = Instant::now() + plan.timeout + Duration::from_secs(2);
    while sh.inflight.load(Ordering::Acquire) > 0 && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    sh.mark(load_end, "load_end", MarkSource::Generator);
    let _ = sh.stop.send(true);
    for t in sse_tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    for h in helpers {
        h.abort();
    }
    // Close the idle keep-alive connections and let their drivers record the close.
    for l in &sh.idle {
        l.lock().unwrap().clear();
    }
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    load_end
}

/// Writes the footer (generator health), closes the record file and builds the report.
fn finish(
    sh: &Arc<Shared>,
    plan: &LoadPlan,
    scheduled: u64,
    schedule_start_ns: i64,
    load_end: i64,
) -> Result<LoadReport, LoadError> {
    let (p50, p99, p999, max) = {
        let h = sh.stats.lag.lock().unwrap();
        if h.is_empty() {
            (0, 0, 0, 0)
        } else {
            (
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.999),
                h.max(),
            )
        }
    };
    let sent = sh.stats.sent.load(Ordering::Relaxed);
    let recorded = sh.stats.recorded.load(Ordering::Relaxed);
    let faults = sh.stats.faults.load(Ordering::Relaxed);
    let footer = Footer {
        at: sh.clock.now_ns(),
        scheduled,
        sent,
        recorded,
        generator_faults: faults,
        lag_p50_ns: p50,
        lag_p99_ns: p99,
        lag_p999_ns: p999,
        lag_max_ns: max,
        valid: faults == 0 && recorded == sent,
        stopped_early: sh.stopped_early.load(Ordering::SeqCst),
    };
    sh.sink.tagged("f", &footer);
    let bytes_written = sh
        .sink
        .finish()
        .map_err(LoadError::io(format!("write {}", plan.out.display())))?;
    let outcomes = Outcome::ALL
        .iter()
        .map(|o| {
            (
                o.as_str(),
                sh.stats.outcomes[outcome_idx(*o)].load(Ordering::Relaxed),
            )
        })
        .collect();
    let span_s = (load_end - schedule_start_ns).max(1) as f64 / 1e9;
    Ok(LoadReport {
        out: plan.out.clone(),
        footer,
        outcomes,
        connections_opened: sh.stats.conns_opened.load(Ordering::Relaxed),
        achieved_rps: sent as f64 / span_s,
        bytes_written,
    })
}

/// Raise the soft open-files limit to the hard limit (thousands of connections need it).
fn raise_nofile() -> u64 {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a stack struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 {
            if rl.rlim_cur < rl.rlim_max {
                rl.rlim_cur = rl.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
            }
            return rl.rlim_cur;
        }
    }
    0
}

/// One request of the schedule, from its connection (reused or new) to its record.
async fn one_request(sh: Arc<Shared>, i: u64, intended: i64, client: usize) {
    let _permit = match &sh.conn_limits {
        Some(l) => l[client].clone().acquire_owned().await.ok(),
        None => None,
    };
    let actual = sh.clock.now_ns();
    let deadline = Instant::now() + sh.timeout;
    let mut rec = Req {
        i,
        intended,
        actual,
        first_byte: None,
        end: 0,
        conn: 0,
        reused: false,
        status: 0,
        outcome: Outcome::Other,
        pod: None,
        generator_fault: false,
    };
    let idle = if sh.mode == Mode::Keepalive {
        sh.take_idle(client)
    } else {
        None
    };
    rec.reused = idle.is_some();
    let mut conn = match idle {
        Some(c) => c,
        None => match sh.connect(deadline, false).await {
            Ok(c) => c,
            Err(cls) => {
                rec.outcome = cls.outcome;
                rec.generator_fault = cls.generator_fault;
                rec.end = sh.clock.now_ns();
                sh.finish(rec);
                return;
            }
        },
    };
    rec.conn = conn.id;
    let mut req = Request::builder()
        .uri(sh.target.path.clone())
        .header(HOST, sh.target.host.clone());
    if sh.mode == Mode::New {
        req = req.header(CONNECTION, HeaderValue::from_static("close"));
    }
    let req = req.body(Empty::<Bytes>::new()).expect("request");
    let mut first_byte = None;
    let mut head: Option<(u16, bool, Option<String>, bool)> = None;
    let res = tokio::time::timeout_at(deadline.into(), async {
        conn.tx.ready().await?;
        let resp = conn.tx.send_request(req).await?;
        first_byte = Some(sh.clock.now_ns());
        let h = resp.headers();
        let pod = h
            .get(&sh.pod_header)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let close = h
            .get(CONNECTION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.eq_ignore_ascii_case("close"))
            .unwrap_or(false);
        head = Some((
            resp.status().as_u16(),
            h.contains_key(RETRY_AFTER),
            pod,
            close,
        ));
        let mut body = resp.into_body();
        while let Some(f) = body.frame().await {
            f?;
        }
        Ok::<(), hyper::Error>(())
    })
    .await;
    rec.end = sh.clock.now_ns();
    rec.first_byte = first_byte;
    if let Some((status, _, pod, _)) = &head {
        rec.status = *status;
        rec.pod = pod.clone();
    }
    match res {
        Err(_elapsed) => {
            rec.outcome = Outcome::Timeout;
            drop(conn);
        }
        Ok(Err(e)) => {
            let c = classify_error(&e);
            rec.outcome = c.outcome;
            rec.generator_fault = c.generator_fault;
            drop(conn);
        }
        Ok(Ok(())) => {
            let (status, retry_after, _, close) = head.expect("head on success");
            rec.outcome = classify_status(status, retry_after);
            if sh.mode == Mode::Keepalive && !close {
                sh.put_idle(client, conn);
            }
        }
    }
    sh.finish(rec);
}
