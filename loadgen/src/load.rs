//! `fleetsim load`: the open-loop load generator.
//!
//! * The schedule ([`crate::schedule`]) fixes every intended start before the run; a request never
//!   waits for an earlier one. Latency is measured from the intended start.
//! * A request that starts later than `fault_threshold` after its intended start, or that fails
//!   for a reason on the generator's side (out of fds or ports), is a generator fault: flagged on
//!   its record, counted in the footer, and the run is reported invalid.
//! * Connections are driven with hyper's low-level `client::conn::http1` API: we own each TCP
//!   socket, so every connect, reuse and close is recorded, and nothing retries behind our back.
//!   A failed request is recorded as failed; it is never re-sent. A shed one (503 with
//!   `Retry-After`) is sent again only under `--shed-retries`, when its `Retry-After` says
//!   ([`crate::retry`] decides), outside the schedule and on record lines of its own.
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
use crate::record::{Footer, Header, MarkSource, Req, Retry, SCHEMA};
use crate::retry::{GiveUp, Next};
use crate::schedule::{Arrivals, Lookahead, Schedule, rate_milli};
use crate::session::{Clock, RetryStats, Shared, Stats, epoch_ns_now, outcome_idx, resolve_target};
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
    /// Requests actually started (actual start stamped: connect or reuse began) per second,
    /// from the schedule start to the end of sending: what went on the wire, not what was
    /// scheduled or handed to the runtime.
    pub achieved_rps: f64,
    /// Requests of the schedule never sent: the generator was still behind when the schedule's
    /// end plus the grace (`max(1 s, fault threshold)`) passed, and the rest was dropped rather
    /// than sent arbitrarily late. Any makes the run invalid.
    pub unsent: u64,
    /// Requests started more than the fault threshold late.
    pub late_sends: u64,
    /// Most requests in flight at once (never above the plan's `max_inflight`).
    pub peak_inflight: u64,
    /// Times the scheduler waited because `max_inflight` requests were in flight.
    pub backlog_waits: u64,
    /// Behind-schedule warnings printed on stderr during the run.
    pub lag_warnings: u64,
    /// When the first of them was printed (ns from the schedule start).
    pub first_lag_warning_ns: Option<i64>,
    /// Requests recorded with a failed outcome (every class but `ok` and `shed`).
    pub failed: u64,
    /// Latency p99 (ns from intended start to end) over the requests that have one.
    pub latency_p99_ns: Option<u64>,
    /// Size of the record file.
    pub bytes_written: u64,
    /// The retries of shed requests (`None` with retries off).
    pub retries: Option<crate::retry::RetrySummary>,
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
    if plan.signals {
        install_signal_thread();
    }
    let priority = plan.realtime_priority;
    if priority > 0 {
        if plan.threads <= 1 {
            // The single-threaded runtime runs on this thread.
            set_realtime(priority)?;
        } else {
            b.on_thread_start(move || {
                if let Err(e) = set_realtime(priority) {
                    eprintln!("warning: a generator worker thread: {e}");
                }
            });
            // Checked once here, so that a refusal is an error, not a warning per thread.
            std::thread::spawn(move || set_realtime(priority))
                .join()
                .map_err(|_| LoadError::Setting {
                    field: "realtime-priority",
                    reason: "the check thread panicked".into(),
                })??;
        }
    }
    let rt = b
        .enable_all()
        .build()
        .map_err(LoadError::io("tokio runtime"))?;
    let ahead = plan
        .eager_reconnect
        .then(|| ReconnectThread::start(reconnect_priority(priority)))
        .transpose()?;
    let result = rt.block_on(run_with(plan, ahead.as_ref().map(|a| a.handle.clone())));
    drop(rt);
    if let Some(a) = ahead {
        a.stop();
    }
    result
}

/// Measures how fast the eager reopening opens connections (issue 18; the `connect-burst`
/// example prints it). Warms `plan.clients` keep-alive connections, one per client, as a run's
/// warm-up does, so that every client's idle list is full, as it is when a drain closes idle
/// connections. Then, `bursts` times, hands one reopen per client at once to the reopening
/// thread (`ReconnectThread`, normal scheduling policy), as the connection drivers do when
/// the server closes their connections: the generator's own reopen (TCP connect, HTTP/1
/// handshake, the `open` record with `why: "eager"`, `put_idle`, which closes the fresh
/// connection at once because the list is full: the `close` record `why: "client"`). Waits for
/// every reopen of the burst to end, then `settle`. The record file (`plan.out`) holds every
/// `open` and `close`; returns each burst's start on its clock (ns). `plan.mode` and
/// `plan.eager_reconnect` are set here; the schedule's settings are not used.
pub fn connect_bursts(
    mut plan: LoadPlan,
    bursts: usize,
    settle: Duration,
) -> Result<Vec<i64>, LoadError> {
    plan.mode = Mode::Keepalive;
    plan.eager_reconnect = true;
    check(&plan)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LoadError::io("tokio runtime"))?;
    let ahead = ReconnectThread::start(0)?;
    let handle = ahead.handle.clone();
    let starts = rt.block_on(async {
        let sh = setup(&plan, Some(handle.clone())).await?;
        warm_up(&sh, plan.clients).await;
        let mut starts = Vec::with_capacity(bursts);
        for _ in 0..bursts {
            starts.push(sh.clock.now_ns());
            let reopens: Vec<_> = (0..plan.clients as usize)
                .map(|client| handle.spawn(sh.clone().reopen(client)))
                .collect();
            for r in reopens {
                let _ = r.await;
            }
            tokio::time::sleep(settle).await;
        }
        for list in &sh.idle {
            list.lock().unwrap().clear();
        }
        tokio::time::sleep(settle).await;
        sh.sink
            .finish()
            .map_err(LoadError::io(format!("write {}", plan.out.display())))?;
        Ok::<_, LoadError>(starts)
    });
    drop(rt);
    ahead.stop();
    starts
}

/// The reopening thread's SCHED_FIFO priority: one below the schedulers' (the same at 1, none
/// at 0), so that a scheduler waking for a send preempts a storm of reopens on its core instead
/// of waiting for it (a storm of 2,000 reopens at one priority made sends 7-14 ms late).
fn reconnect_priority(scheduler: u8) -> u8 {
    if scheduler > 1 {
        scheduler - 1
    } else {
        scheduler
    }
}

/// Under `--eager-reconnect`, the runtime on its own thread (just below the schedulers'
/// priority, [`reconnect_priority`]) where keep-alive clients reopen the connections the server
/// closed: a drain's storm of reconnects then competes with the schedule for a core, not for
/// the scheduler's own thread, and gives way when a send falls due.
struct ReconnectThread {
    handle: tokio::runtime::Handle,
    shutdown: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl ReconnectThread {
    fn start(priority: u8) -> Result<ReconnectThread, LoadError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(LoadError::io("tokio runtime (reconnects)"))?;
        let handle = rt.handle().clone();
        let (shutdown, wait) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("loadgen-reconnect".into())
            .spawn(move || {
                if priority > 0
                    && let Err(e) = set_realtime(priority)
                {
                    eprintln!("warning: the reconnect thread: {e}");
                }
                rt.block_on(async {
                    let _ = wait.await;
                });
            })
            .map_err(LoadError::io("spawn the reconnect thread"))?;
        Ok(ReconnectThread {
            handle,
            shutdown,
            thread,
        })
    }

    /// Ends the thread; connections still open on it are closed.
    fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.thread.join();
    }
}

/// Puts the calling thread under SCHED_FIFO at `priority`, with SCHED_RESET_ON_FORK: threads it
/// starts (the record writer, blocking-pool threads) get the normal policy.
fn set_realtime(priority: u8) -> Result<(), LoadError> {
    let param = libc::sched_param {
        sched_priority: i32::from(priority),
    };
    // SAFETY: sched_setscheduler(2) on the calling thread (pid 0) with a valid parameter.
    let r = unsafe {
        libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param)
    };
    if r != 0 {
        return Err(LoadError::Setting {
            field: "realtime-priority",
            reason: format!(
                "SCHED_FIFO priority {priority} refused: {} (needs root or CAP_SYS_NICE; 0 keeps the normal policy)",
                std::io::Error::last_os_error()
            ),
        });
    }
    Ok(())
}

/// The runs in progress, for the signal thread.
static RUNNING: Mutex<Vec<std::sync::Weak<Shared>>> = Mutex::new(Vec::new());

/// Stops run `sh` because of signal `sig`: the schedule stops, requests not yet started are
/// recorded as not sent, the others end by the hard stop.
fn stop_by_signal(sh: &Shared, sig: i32) {
    INTERRUPTED_BY.store(sig, Ordering::SeqCst);
    let timeout_ns = i64::try_from(sh.timeout.as_nanos()).unwrap_or(i64::MAX);
    HARD_STOP_NS.store(
        sh.clock.now_ns().saturating_add(timeout_ns),
        Ordering::SeqCst,
    );
    sh.request_stop();
}

/// Blocks SIGINT and SIGTERM in this thread (and so in the runtime's threads, started after)
/// and starts a thread that waits for them and stops every run in progress at once, whatever
/// the runtime's backlog (a signal task inside an overloaded runtime waited its turn behind
/// every queued request: 20 s and more). A second signal ends the process.
fn install_signal_thread() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: signal-set manipulation on a local sigset_t; pthread_sigmask changes only
        // this thread's mask.
        let set = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return;
            }
            set
        };
        std::thread::spawn(move || {
            loop {
                let mut sig: libc::c_int = 0;
                // SAFETY: sigwait on the set blocked above, into a local.
                if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                    return;
                }
                let runs: Vec<Arc<Shared>> = RUNNING
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .filter_map(std::sync::Weak::upgrade)
                    .collect();
                if runs.is_empty() || INTERRUPTED_BY.load(Ordering::SeqCst) != 0 {
                    std::process::exit(128 + sig);
                }
                for sh in runs {
                    stop_by_signal(&sh, sig);
                }
            }
        });
    });
}

/// The generator, on the caller's runtime: check the plan, set up the shared state and write
/// the header, warm the connections, start the helpers, send the schedule, wind down, write the
/// footer.
/// Under `--eager-reconnect` the reopening runs on this runtime too ([`run`] gives it a thread
/// of its own).
pub async fn run_async(plan: LoadPlan) -> Result<LoadReport, LoadError> {
    run_with(plan, None).await
}

/// [`run_async`], with the eager reconnects on `ahead` when given.
async fn run_with(
    plan: LoadPlan,
    ahead: Option<tokio::runtime::Handle>,
) -> Result<LoadReport, LoadError> {
    INTERRUPTED_BY.store(0, Ordering::SeqCst);
    HARD_STOP_NS.store(i64::MAX, Ordering::SeqCst);
    let rate_m = check(&plan)?;
    let sh = setup(&plan, ahead).await?;
    {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|w| w.strong_count() > 0);
        running.push(Arc::downgrade(&sh));
    }
    if plan.mode == Mode::Keepalive && plan.warm {
        warm_up(&sh, plan.clients).await;
    }
    let schedule_start_ns = schedule_start(&sh.clock, plan.start_at_epoch_ms);
    // Retries are due at the latest at the schedule's planned end plus the timeout (brought
    // forward when sending ends sooner, in `wind_down`).
    sh.retry_cutoff.send_replace(
        schedule_start_ns
            .saturating_add(nanos(plan.duration))
            .saturating_add(nanos(plan.timeout)),
    );
    let (stop_rx, helpers, sse_tasks) = start_helpers(&sh, &plan, schedule_start_ns).await?;
    let sent = if plan.closed_loop {
        send_closed_loop(&sh, &plan, schedule_start_ns, stop_rx.clone()).await
    } else {
        send_schedule(&sh, &plan, rate_m, schedule_start_ns, stop_rx.clone()).await?
    };
    let load_end = wind_down(&sh, &plan, schedule_start_ns, stop_rx, helpers, sse_tasks).await;
    finish(&sh, &plan, sent, schedule_start_ns, load_end)
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
    if plan.eager_reconnect && plan.mode != Mode::Keepalive {
        return Err(LoadError::Setting {
            field: "eager-reconnect",
            reason: "only keep-alive clients keep connections to reopen (--mode keepalive)".into(),
        });
    }
    if plan.closed_loop {
        for (field, set) in [
            ("poisson", plan.poisson),
            ("shard", plan.shard != measure::Shard::ALL),
            ("start-at-epoch-ms", plan.start_at_epoch_ms.is_some()),
        ] {
            if set {
                return Err(LoadError::Setting {
                    field,
                    reason: "belongs to a schedule; a closed loop (--closed-loop) has none".into(),
                });
            }
        }
    }
    if let Some(r) = &plan.shed_retry {
        r.check()?;
        if plan.closed_loop {
            return Err(LoadError::Setting {
                field: "shed-retries",
                reason:
                    "a closed loop (--closed-loop) has no schedule to send retries outside of: \
                         retry shed requests of an open-loop schedule"
                        .into(),
            });
        }
    }
    if plan.max_inflight == 0 {
        return Err(LoadError::Setting {
            field: "max-inflight",
            reason: "must be >= 1".into(),
        });
    }
    if let Some(a) = plan.prometheus
        && !a.ip().is_loopback()
    {
        return Err(LoadError::Setting {
            field: "prometheus",
            reason: format!("{a} is not a loopback address (the endpoint is for this host only)"),
        });
    }
    // Open loop means a stalled server shows as timeouts, never as the generator waiting: that
    // needs room for a timeout's worth of requests in flight.
    let per_timeout = plan.rate / plan.shard.n as f64 * plan.timeout.as_secs_f64();
    if (plan.max_inflight as f64) < per_timeout {
        eprintln!(
            "warning: --max-inflight {} is below rate x timeout ({per_timeout:.0}): a server that \
             stalls would show as generator lag (a run marked invalid) rather than as timeouts",
            plan.max_inflight
        );
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
async fn setup(
    plan: &LoadPlan,
    ahead: Option<tokio::runtime::Handle>,
) -> Result<Arc<Shared>, LoadError> {
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
        eager_reconnect: plan.eager_reconnect,
        ahead,
        conn_limits: (plan.mode == Mode::Keepalive && plan.max_conns_per_client > 0).then(|| {
            (0..plan.clients)
                .map(|_| Arc::new(tokio::sync::Semaphore::new(plan.max_conns_per_client)))
                .collect()
        }),
        stats: Stats::new(),
        inflight: AtomicU64::new(0),
        max_inflight: plan.max_inflight as u64,
        slot_free: tokio::sync::Notify::new(),
        stop: stop_tx,
        stopped_early: AtomicBool::new(false),
        shed_retry: plan.shed_retry,
        retry_cutoff: watch::channel(i64::MAX).0,
        retries_pending: AtomicU64::new(0),
        retry_stats: RetryStats::default(),
    });
    let header = Header {
        schema: SCHEMA.to_string(),
        origin_epoch_ns: clock.origin_epoch_ns,
        generator: format!("fleetsim-loadgen {}", env!("CARGO_PKG_VERSION")),
        target: plan.target.clone(),
        mode: plan.mode.as_str().to_string(),
        clients: plan.clients,
        arrivals: if plan.closed_loop {
            "closed".into()
        } else if plan.poisson {
            "poisson".into()
        } else {
            "constant".into()
        },
        seed: plan.seed,
        // A closed loop has no intended rate.
        rate: if plan.closed_loop { 0.0 } else { plan.rate },
        shard: plan.shard.to_string(),
        fault_threshold_ns: plan.fault_threshold.as_nanos() as i64,
        timeout_ns: plan.timeout.as_nanos() as i64,
        label: plan.label.clone(),
        sse_streams: plan.sse.streams,
        shed_retries: plan.shed_retry.map_or(0, |r| u64::from(r.retries)),
        shed_retry_max_wait_ns: plan.shed_retry.map_or(0, |r| {
            r.max_wait.as_nanos().min(u128::from(u64::MAX)) as u64
        }),
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
            if let Ok(c) = sh.connect(dl, true, Some(client)).await {
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

/// The signal that stopped the current run (0: none): set by the signal helper, read into the
/// footer's `interrupted`.
static INTERRUPTED_BY: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// After a signal, no request waits past this (ns on the run's clock; `i64::MAX`: no signal):
/// the signal's time plus `--timeout`. Requests still queued behind an overloaded generator
/// then end (as timeouts) by it, so every request sent is recorded before the footer, within
/// `--timeout` + 2 s of the signal.
static HARD_STOP_NS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(i64::MAX);

/// The record of request `i` that never went out (the generator's own timeout at `now`).
fn not_sent(i: u64, intended: i64, now: i64) -> Req {
    Req {
        i,
        intended,
        actual: now,
        first_byte: None,
        end: now,
        conn: 0,
        reused: false,
        status: 0,
        outcome: Outcome::Timeout,
        pod: None,
        generator_fault: true,
    }
}

/// `deadline`, or the hard stop after a signal if that is sooner.
fn within_hard_stop(sh: &Shared, deadline: Instant) -> Instant {
    match HARD_STOP_NS.load(Ordering::Relaxed) {
        i64::MAX => deadline,
        ns => deadline.min(sh.clock.at(ns)),
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
    if plan.progress {
        helpers.push(tokio::spawn(crate::observe::progress(
            sh.clone(),
            schedule_start_ns,
            stop_rx.clone(),
        )));
    }
    if let Some(addr) = plan.prometheus {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(LoadError::io(format!("bind prometheus {addr}")))?;
        let local = listener
            .local_addr()
            .map_err(LoadError::io("prometheus address"))?;
        eprintln!("prometheus metrics at http://{local}/metrics");
        helpers.push(tokio::spawn(crate::observe::serve_prometheus(
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
            let sig = tokio::select! {
                _ = term.recv() => libc::SIGTERM,
                _ = int.recv() => libc::SIGINT,
                _ = stop.changed() => return,
            };
            stop_by_signal(&sh2, sig);
        }));
    }
    Ok((stop_rx, helpers, sse_tasks))
}

/// What the scheduler got through.
struct Sent {
    /// Requests of this shard's schedule (up to a stop), sent or not.
    scheduled: u64,
    /// Requests of the schedule dropped at the cut-off, never sent.
    unsent: u64,
}

/// Sends the schedule: waits for each intended start (a timerfd sleep, then a short poll), and
/// hands the request out, never with more than `max_inflight` requests in flight: at the cap the
/// scheduler waits for one to end, and the sends it delays go out late (recorded, flagged). A
/// schedule still not sent when its end plus the grace has passed is cut there: the rest is
/// counted as unsent instead of being sent arbitrarily late, so an overloaded run ends on time
/// and is reported invalid.
async fn send_schedule(
    sh: &Arc<Shared>,
    plan: &LoadPlan,
    rate_m: u64,
    schedule_start_ns: i64,
    mut stop_rx: watch::Receiver<bool>,
) -> Result<Sent, LoadError> {
    let arrivals = if plan.poisson {
        Arrivals::Poisson { seed: plan.seed }
    } else {
        Arrivals::Constant
    };
    let max_req = plan.requests.unwrap_or(u64::MAX);
    let mut sched = Lookahead::new(Schedule::new(
        arrivals,
        rate_m,
        plan.shard,
        plan.duration.as_nanos() as u64,
        max_req,
    ));
    let timer = PreciseTimer::new().map_err(LoadError::io("timerfd"))?;
    let clock = sh.clock;
    let grace = plan.fault_threshold.max(Duration::from_secs(1));
    let cutoff = clock.at(schedule_start_ns) + plan.duration + grace;
    sh.mark(schedule_start_ns, "load_start", MarkSource::Generator);
    let mut scheduled = 0u64;
    let mut unsent = 0u64;
    let mut burst = 0u32;
    let spin = plan.spin;
    let tick = plan.tick;
    let mut last_wake = Instant::now();
    let clients = plan.clients;
    let cap = sh.max_inflight;
    let mut n = 0u64;
    while let Some((i, t)) = sched.next() {
        if *stop_rx.borrow() {
            break;
        }
        let intended = schedule_start_ns + t as i64;
        // Coalesce wake-ups. A request not yet due starts a batch: the wake-up for it comes at
        // the latest request due within a tick of it (the schedule is known in advance), and
        // never sooner than a tick after the previous wake-up; every request due by then goes
        // out together. So each send waits less than a tick (its lag is recorded) and one
        // wake-up serves as many requests as that bound allows.
        let exact = clock.at(intended);
        let due = if Instant::now() >= exact {
            exact
        } else {
            let tick_ns = tick.as_nanos() as u64;
            let last_in_batch = sched.latest_until(t.saturating_add(tick_ns)).unwrap_or(t);
            let batch_end = clock.at(schedule_start_ns + last_in_batch as i64);
            batch_end.max(last_wake + tick)
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
        // The backlog bound: wait for a slot under the cap (the wait shows as send lag).
        if sh.inflight.load(Ordering::Acquire) >= cap {
            sh.stats.backlog_waits.fetch_add(1, Ordering::Relaxed);
            while sh.inflight.load(Ordering::Acquire) >= cap {
                tokio::select! {
                    _ = sh.slot_free.notified() => {}
                    _ = stop_rx.changed() => break,
                    _ = tokio::time::sleep_until(cutoff.into()) => break,
                }
            }
        }
        if *stop_rx.borrow() {
            break;
        }
        let now = Instant::now();
        if now >= cutoff {
            // Behind past the grace: drop the rest of the schedule (this request included).
            unsent = 1 + sched.by_ref().count() as u64;
            scheduled += unsent;
            eprintln!(
                "warning: generator still behind schedule {:.1} s after its end: {unsent} \
                 scheduled requests not sent; this run is invalid",
                grace.as_secs_f64()
            );
            break;
        }
        if waited {
            last_wake = now;
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
        let inflight = sh.inflight.fetch_add(1, Ordering::AcqRel) + 1;
        sh.stats
            .peak_inflight
            .fetch_max(inflight, Ordering::Relaxed);
        tokio::spawn(one_request(sh.clone(), i, intended, (n % clients) as usize));
        n += 1;
    }
    Ok(Sent { scheduled, unsent })
}

/// The closed loop: one task per client, each sending its next request the moment its previous
/// one ends, until the duration has passed (or `requests` were handed out). A request's intended
/// start is the moment its client was free, so no send is ever late; indices are handed out in
/// start order.
async fn send_closed_loop(
    sh: &Arc<Shared>,
    plan: &LoadPlan,
    schedule_start_ns: i64,
    stop_rx: watch::Receiver<bool>,
) -> Sent {
    // The start needs no sub-millisecond precision: each request's intended start is stamped
    // when its client is free.
    let start = sh.clock.at(schedule_start_ns);
    tokio::time::sleep_until(start.into()).await;
    sh.mark(schedule_start_ns, "load_start", MarkSource::Generator);
    let end = start + plan.duration;
    let max_req = plan.requests.unwrap_or(u64::MAX);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..plan.clients as usize {
        let (sh, next, stop) = (sh.clone(), next.clone(), stop_rx.clone());
        tasks.spawn(async move {
            while !*stop.borrow()
                && !sh.stopped_early.load(Ordering::Relaxed)
                && Instant::now() < end
            {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= max_req {
                    break;
                }
                let intended = sh.clock.now_ns();
                let inflight = sh.inflight.fetch_add(1, Ordering::AcqRel) + 1;
                sh.stats
                    .peak_inflight
                    .fetch_max(inflight, Ordering::Relaxed);
                one_request(sh.clone(), i, intended, client).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Sent {
        scheduled: next.load(Ordering::Relaxed).min(max_req),
        unsent: 0,
    }
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
    // Retries are due at the latest at the end of sending plus the timeout.
    let cutoff = load_end.saturating_add(nanos(plan.timeout));
    sh.retry_cutoff.send_if_modified(|c| {
        let sooner = cutoff < *c;
        if sooner {
            *c = cutoff;
        }
        sooner
    });
    // Wait for in-flight requests; each has its own deadline, so this is bounded.
    let drain_deadline = Instant::now() + plan.timeout + Duration::from_secs(2);
    while sh.inflight.load(Ordering::Acquire) > 0 && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Then for the retries of shed requests: each is due by the cutoff, then may wait for a
    // connection slot and its response, a timeout each.
    if sh.shed_retry.is_some() {
        let cutoff = *sh.retry_cutoff.borrow();
        let retry_deadline = clock.at(cutoff) + 2 * plan.timeout + Duration::from_secs(2);
        while sh.retries_pending.load(Ordering::Acquire) > 0 && Instant::now() < retry_deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
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
    sent_: Sent,
    schedule_start_ns: i64,
    load_end: i64,
) -> Result<LoadReport, LoadError> {
    let Sent { scheduled, unsent } = sent_;
    let (p50, p99, p999, max, latency_p99_ns) = {
        let hs = sh.stats.hist.lock().unwrap();
        let h = &hs.lag;
        let lat = (!hs.latency.is_empty()).then(|| hs.latency.value_at_quantile(0.99));
        if h.is_empty() {
            (0, 0, 0, 0, lat)
        } else {
            (
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.999),
                h.max(),
                lat,
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
        // Every scheduled request sent (none cut off), recorded, and none late or failed on the
        // generator's side.
        valid: faults == 0 && recorded == sent && sent == scheduled,
        stopped_early: sh.stopped_early.load(Ordering::SeqCst),
        interrupted: match INTERRUPTED_BY.load(Ordering::SeqCst) {
            libc::SIGINT => Some("SIGINT".into()),
            libc::SIGTERM => Some("SIGTERM".into()),
            _ => None,
        },
        retries: sh.retry_stats.sent.load(Ordering::Relaxed),
        retry_give_ups: sh
            .retry_stats
            .gave_up
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .sum(),
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
        unsent,
        late_sends: sh.stats.late.load(Ordering::Relaxed),
        peak_inflight: sh.stats.peak_inflight.load(Ordering::Relaxed),
        backlog_waits: sh.stats.backlog_waits.load(Ordering::Relaxed),
        lag_warnings: sh.stats.lag_warnings.load(Ordering::Relaxed),
        first_lag_warning_ns: match sh.stats.first_lag_warning_ns.load(Ordering::Relaxed) {
            -1 => None,
            at => Some(at - schedule_start_ns),
        },
        failed: sh.stats.failed(),
        latency_p99_ns,
        retries: sh.retry_summary(),
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

/// A duration in ns on the run's clock (saturating).
fn nanos(d: Duration) -> i64 {
    d.as_nanos().min(i64::MAX as u128) as i64
}

/// One request of the schedule, from its connection (reused or new) to its record; when it is
/// shed and retries are on (`--shed-retries`), then its retries.
async fn one_request(sh: Arc<Shared>, i: u64, intended: i64, client: usize) {
    if HARD_STOP_NS.load(Ordering::Relaxed) != i64::MAX {
        // A signal stopped the run before this request's task first ran (an overloaded
        // generator queues them): it never went out. Recorded as the generator's timeout, so
        // every request counted as sent has its record before the footer.
        let now = sh.clock.now_ns();
        sh.finish(not_sent(i, intended, now));
        return;
    }
    // The wait for a connection slot ends at the request's deadline from its intended start: a
    // request still waiting then is recorded (a timeout, the generator's fault) rather than
    // left in flight past the run's end.
    let Ok(permit) = connection_slot(&sh, client, sh.clock.at(intended) + sh.timeout).await else {
        let now = sh.clock.now_ns();
        sh.finish(not_sent(i, intended, now));
        return;
    };
    let actual = sh.start(intended);
    let deadline = within_hard_stop(&sh, Instant::now() + sh.timeout);
    // Boxed: the exchange's state (the connect, hyper's send, the body, the timer) is most of
    // a request's; in its own allocation the task stays small, and a task over about 1 KB is a
    // large-bin request for glibc's malloc, which consolidates its fast bins on every one.
    let x = Box::pin(exchange(&sh, client, deadline)).await;
    // Counted before the record ends the request's time in flight, so that the wind-down,
    // which waits for requests in flight first, then finds its retries pending.
    let retry = x.outcome == Outcome::Shed && sh.shed_retry.is_some();
    if retry {
        sh.retries_pending.fetch_add(1, Ordering::AcqRel);
    }
    let (end, retry_after) = (x.end, x.retry_after.clone());
    sh.finish(Req {
        i,
        intended,
        actual,
        first_byte: x.first_byte,
        end: x.end,
        conn: x.conn,
        reused: x.reused,
        status: x.status,
        outcome: x.outcome,
        pod: x.pod,
        generator_fault: x.generator_fault,
    });
    drop(permit);
    if retry {
        // Boxed too: retries are rare, and their state inline would grow every request's task.
        Box::pin(retries(&sh, i, client, end, retry_after)).await;
        sh.retries_pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A permit for one more connection of keep-alive client `client` under
/// `--max-conns-per-client` (`None`: no limit), waited for until `by`; `Err` when `by` passed.
async fn connection_slot(
    sh: &Shared,
    client: usize,
    by: Instant,
) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, ()> {
    match &sh.conn_limits {
        Some(l) => {
            let by = within_hard_stop(sh, by);
            match tokio::time::timeout_at(by.into(), l[client].clone().acquire_owned()).await {
                Ok(p) => Ok(p.ok()),
                Err(_) => Err(()),
            }
        }
        None => Ok(None),
    }
}

/// What one HTTP exchange gave: a request line's fields but the times of its schedule, and the
/// `Retry-After` header of the response.
struct Exchange {
    first_byte: Option<i64>,
    end: i64,
    conn: u64,
    reused: bool,
    status: u16,
    outcome: Outcome,
    pod: Option<String>,
    generator_fault: bool,
    retry_after: Option<HeaderValue>,
}

/// One request on `client`'s idle connection (or a new one), until `deadline`: connect if
/// needed, send, read the whole response, classify, and give a keep-alive connection back.
async fn exchange(sh: &Arc<Shared>, client: usize, deadline: Instant) -> Exchange {
    let mut x = Exchange {
        first_byte: None,
        end: 0,
        conn: 0,
        reused: false,
        status: 0,
        outcome: Outcome::Other,
        pod: None,
        generator_fault: false,
        retry_after: None,
    };
    let idle = if sh.mode == Mode::Keepalive {
        sh.take_idle(client)
    } else {
        None
    };
    x.reused = idle.is_some();
    let mut conn = match idle {
        Some(c) => c,
        None => match sh
            .connect(
                deadline,
                false,
                (sh.mode == Mode::Keepalive).then_some(client),
            )
            .await
        {
            Ok(c) => c,
            Err(cls) => {
                x.outcome = cls.outcome;
                x.generator_fault = cls.generator_fault;
                x.end = sh.clock.now_ns();
                return x;
            }
        },
    };
    x.conn = conn.id;
    let mut req = Request::builder()
        .uri(sh.target.path.clone())
        .header(HOST, sh.target.host.clone());
    if sh.mode == Mode::New {
        req = req.header(CONNECTION, HeaderValue::from_static("close"));
    }
    let req = req.body(Empty::<Bytes>::new()).expect("request");
    let mut first_byte = None;
    let mut head: Option<(u16, Option<HeaderValue>, Option<String>, bool)> = None;
    let res = tokio::time::timeout_at(deadline.into(), async {
        conn.use_for_request();
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
            h.get(RETRY_AFTER).cloned(),
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
    x.end = sh.clock.now_ns();
    x.first_byte = first_byte;
    if let Some((status, _, pod, _)) = &head {
        x.status = *status;
        x.pod = pod.clone();
    }
    match res {
        Err(_elapsed) => {
            x.outcome = Outcome::Timeout;
            drop(conn);
        }
        Ok(Err(e)) => {
            let c = classify_error(&e);
            x.outcome = c.outcome;
            x.generator_fault = c.generator_fault;
            drop(conn);
        }
        Ok(Ok(())) => {
            let (status, retry_after, _, close) = head.expect("head on success");
            x.outcome = classify_status(status, retry_after.is_some());
            x.retry_after = retry_after;
            if sh.mode == Mode::Keepalive && !close {
                sh.put_idle(client, conn);
            }
        }
    }
    x
}

/// The retries of scheduled request `i`, shed at `shed_end` with `retry_after`: each sent on
/// the same client when it is due (the shed response's end plus its `Retry-After`), until one
/// is not shed or the generator gives up ([`crate::retry`] decides; the give-up is recorded
/// with its reason). A stop of the run, or the cutoff brought forward past a waiting retry's
/// due time, abandons it.
async fn retries(
    sh: &Arc<Shared>,
    i: u64,
    client: usize,
    mut shed_end: i64,
    mut retry_after: Option<HeaderValue>,
) {
    let Some(policy) = sh.shed_retry else {
        return;
    };
    let mut cutoff_rx = sh.retry_cutoff.subscribe();
    let mut stop_rx = sh.stop.subscribe();
    for attempt in 1..=policy.retries.saturating_add(1) {
        let next = policy.next(
            attempt,
            retry_after.as_ref().map(HeaderValue::as_bytes),
            shed_end,
            sh.clock.origin_epoch_ns,
            *cutoff_rx.borrow_and_update(),
        );
        let due = match next {
            Next::Retry { due } => due,
            Next::GiveUp(why, wait) => {
                sh.give_up(i, attempt, why, retry_after.as_ref(), wait);
                return;
            }
        };
        let wait = Duration::from_nanos((due - shed_end).max(0) as u64);
        // Wait until due; a stop, or a cutoff brought before the due time, abandons the retry.
        loop {
            let stopped =
                *stop_rx.borrow_and_update() || HARD_STOP_NS.load(Ordering::Relaxed) != i64::MAX;
            if stopped || due > *cutoff_rx.borrow_and_update() {
                sh.give_up(
                    i,
                    attempt,
                    GiveUp::Abandoned,
                    retry_after.as_ref(),
                    Some(wait),
                );
                return;
            }
            let at = sh.clock.at(due);
            if Instant::now() >= at {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(at.into()) => {}
                _ = cutoff_rx.changed() => {}
                _ = stop_rx.changed() => {}
            }
        }
        let rec = match connection_slot(sh, client, sh.clock.at(due) + sh.timeout).await {
            Ok(permit) => {
                let actual = sh.clock.now_ns();
                let deadline = within_hard_stop(sh, Instant::now() + sh.timeout);
                let x = exchange(sh, client, deadline).await;
                drop(permit);
                retry_after = x.retry_after;
                Retry {
                    i,
                    attempt,
                    due,
                    actual,
                    first_byte: x.first_byte,
                    end: x.end,
                    conn: x.conn,
                    reused: x.reused,
                    status: x.status,
                    outcome: x.outcome,
                    pod: x.pod,
                    generator_fault: x.generator_fault,
                }
            }
            Err(()) => {
                // No connection slot until its deadline: it never went out, as a scheduled
                // request that waited as long.
                let now = sh.clock.now_ns();
                retry_after = None;
                Retry {
                    i,
                    attempt,
                    due,
                    actual: now,
                    first_byte: None,
                    end: now,
                    conn: 0,
                    reused: false,
                    status: 0,
                    outcome: Outcome::Timeout,
                    pod: None,
                    generator_fault: true,
                }
            }
        };
        let (outcome, end) = (rec.outcome, rec.end);
        sh.finish_retry(rec);
        if outcome != Outcome::Shed {
            return;
        }
        shed_end = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reopening thread runs just below the schedulers, never above, and with them off.
    #[test]
    fn reconnects_run_just_below_the_scheduler() {
        assert_eq!(reconnect_priority(10), 9);
        assert_eq!(reconnect_priority(1), 1);
        assert_eq!(reconnect_priority(0), 0);
    }

    /// With the privilege, the calling thread runs under SCHED_FIFO and a thread it starts does
    /// not; without it, the refusal names the flag. Real kernel calls, on a thread of its own.
    #[test]
    fn realtime_priority_is_set_on_the_scheduler_thread_only_or_refused_by_name() {
        std::thread::spawn(|| match set_realtime(7) {
            Ok(()) => {
                // SAFETY: sched_getscheduler(2) / sched_getparam(2) on the calling thread.
                let policy = unsafe { libc::sched_getscheduler(0) };
                assert_eq!(policy, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK);
                let mut p = libc::sched_param { sched_priority: 0 };
                assert_eq!(unsafe { libc::sched_getparam(0, &mut p) }, 0);
                assert_eq!(p.sched_priority, 7);
                let child = std::thread::spawn(|| unsafe { libc::sched_getscheduler(0) });
                assert_eq!(child.join().unwrap(), libc::SCHED_OTHER);
            }
            Err(e) => {
                let e = e.to_string();
                assert!(
                    e.contains("--realtime-priority") && e.contains("CAP_SYS_NICE"),
                    "{e}"
                );
            }
        })
        .join()
        .unwrap();
    }
}
