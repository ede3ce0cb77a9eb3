//! Start-up, the signal thread, the guardian, and the shutdown sequence lever by lever.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clap::Parser;
use hyper::header::HeaderValue;
use serde_json::json;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::budget::ShutdownPlan;
use crate::config::{
    Config, DESCRIPTOR_RESERVE, EXIT_CONFIG, EXIT_DRAIN_INCOMPLETE, EXIT_GUARDIAN, EXIT_NOT_DRAINED,
};
use crate::http::{self, App, Conns};
use crate::lifecycle::{self, Step};
use crate::metrics::Metrics;
use crate::worker::{self, WorkerCtx, WorkerReport};

/// What the signal thread tells the async side.
pub(crate) struct SignalState {
    pub token: CancellationToken,
    /// When SIGTERM (or SIGINT) arrived, on the monotonic clock.
    pub at: OnceLock<std::time::Instant>,
}

/// Parse, validate, run; returns the exit code. The binary's `main` is `exit(main_entry())`.
pub fn main_entry() -> i32 {
    let cfg = Config::parse();
    let pod = cfg.pod();
    lifecycle::init(&pod);
    lifecycle::init_tracing();
    if let Err(errors) = cfg.validate() {
        for e in &errors {
            eprintln!("fleetsim-service: {e}");
            tracing::error!(target: "fleetsim::config", field = e.field, reason = %e.reason, "invalid configuration");
        }
        return EXIT_CONFIG;
    }
    tracing::info!(target: "fleetsim::config", event = "start", pod = %pod, levers = %cfg.levers_json(), "lever set");
    eprintln!("fleetsim-service {pod}: levers {}", cfg.levers_json());

    // Signals are taken on an OS thread, before anything listens, so that SIGTERM is seen (and
    // the guardian armed) even if the async runtime is wedged.
    let sig = Arc::new(SignalState {
        token: CancellationToken::new(),
        at: OnceLock::new(),
    });
    let guardian_budget = cfg.drain_lever.then_some(cfg.shutdown_budget);
    if let Err(e) = spawn_signal_thread(sig.clone(), guardian_budget) {
        eprintln!("fleetsim-service: cannot install signal handlers: {e}");
        return 1;
    }

    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fleetsim-service: cannot start the runtime: {e}");
            return 1;
        }
    };
    let code = rt.block_on(run(cfg, pod, sig));
    // Dropping the runtime waits for its threads; a wedged one holds us here until the guardian
    // fires. Only then is `exited` true.
    drop(rt);
    lifecycle::emit_exited(code);
    code
}

fn spawn_signal_thread(
    sig: Arc<SignalState>,
    guardian_budget: Option<Duration>,
) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    std::thread::Builder::new().name("fleetsim-signals".into()).spawn(move || {
        for signal in signals.forever() {
            let name = if signal == SIGTERM { "SIGTERM" } else { "SIGINT" };
            if sig.token.is_cancelled() {
                tracing::info!(target: "fleetsim::lifecycle", signal = name, "signal ignored: shutdown already under way");
                continue;
            }
            let at = std::time::Instant::now();
            let _ = sig.at.set(at);
            lifecycle::emit(Step::SigtermReceived, json!({ "signal": name }));
            if let Some(budget) = guardian_budget {
                spawn_guardian(at, budget);
            }
            sig.token.cancel();
        }
    })?;
    Ok(())
}

/// The guardian: a plain OS thread that force-exits with `EXIT_GUARDIAN` when the budget runs
/// out. It writes its lines with raw `write(2)` and leaves with `_exit(2)`: nothing it does needs
/// the runtime, a lock, or an exit handler.
fn spawn_guardian(sigterm_at: std::time::Instant, budget: Duration) {
    let _ = std::thread::Builder::new()
        .name("fleetsim-guardian".into())
        .spawn(move || {
            let deadline = sigterm_at + budget;
            loop {
                let now = std::time::Instant::now();
                if now >= deadline {
                    break;
                }
                std::thread::sleep(deadline - now);
            }
            lifecycle::raw_write_stdout(&lifecycle::raw_line(
                Step::GuardianFired,
                json!({ "budget_ms": budget.as_millis() as u64 }),
            ));
            lifecycle::emit_exited(EXIT_GUARDIAN);
            // SAFETY: _exit ends the process at once; nothing after it runs.
            unsafe { libc::_exit(EXIT_GUARDIAN) }
        });
}

async fn run(cfg: Config, pod: String, sig: Arc<SignalState>) -> i32 {
    let listener = match tokio::net::TcpListener::bind(cfg.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "fleetsim-service: invalid configuration: FLEETSIM_LISTEN: cannot bind {}: {e}",
                cfg.listen
            );
            return EXIT_CONFIG;
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(target: "fleetsim::http", event = "listening", addr = %addr, "listening");

    let pool = match cfg
        .database_url
        .as_deref()
        .map(|u| crate::db::pool(u, 8))
        .transpose()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("fleetsim-service: invalid configuration: FLEETSIM_DATABASE_URL: {e}");
            return EXIT_CONFIG;
        }
    };
    let metrics = Arc::new(Metrics::new());
    let plan = Arc::new(OnceLock::new());
    let app = Arc::new(App {
        pod: HeaderValue::from_str(&pod).unwrap_or_else(|_| HeaderValue::from_static("invalid")),
        pod_name: pod.clone(),
        metrics: metrics.clone(),
        default_work: cfg.work_ms,
        requeue_lever: cfg.requeue_lever,
        started: Default::default(),
        readiness_failed: Default::default(),
        plan: plan.clone(),
        inflight: Default::default(),
        pool: pool.clone(),
        default_job: cfg.job_ms,
        lease: cfg.lease,
        sse_interval: Duration::from_secs(1),
        fault_injection: cfg.fault_injection,
        max_work: cfg.max_work,
        header_read_timeout: cfg.header_read_timeout,
    });
    warn_if_descriptors_short(cfg.max_connections);
    let conns = Arc::new(Conns::new());
    let stop_accept = CancellationToken::new();
    let accept = tokio::spawn(http::accept_loop(
        listener,
        app.clone(),
        conns.clone(),
        stop_accept.clone(),
        http::AcceptLimits {
            max_connections: cfg.max_connections as usize,
            backoff_max: cfg.accept_backoff_max,
        },
    ));

    let worker_stop = CancellationToken::new();
    let startup = async {
        if let Some(pool) = &pool {
            let mut attempt = 0u32;
            loop {
                attempt += 1;
                match crate::db::migrate(pool).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(target: "fleetsim::db", attempt, error = %e, "schema migration failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
            tracing::info!(target: "fleetsim::db", event = "migrated", "schema ready");
        }
        app.started.store(true, Ordering::SeqCst);
        metrics.ready.set(1);
        tracing::info!(target: "fleetsim::http", event = "ready", "ready");
        match (&pool, cfg.worker) {
            (Some(pool), true) => Some(tokio::spawn(worker::run(WorkerCtx {
                pool: pool.clone(),
                owner: format!("{pod}/{:08x}", rand::random::<u32>()),
                lease: cfg.lease,
                poll: cfg.poll,
                claim_backoff_max: cfg.claim_backoff_max,
                idempotent: cfg.requeue_lever,
                pause_after_effect: cfg.test_pause_after_effect,
                metrics: metrics.clone(),
                stop: worker_stop.clone(),
                plan: plan.clone(),
            }))),
            _ => None,
        }
    };
    let worker = tokio::select! {
        w = startup => w,
        _ = sig.token.cancelled() => None,
    };
    sig.token.cancelled().await;

    // ---- shutdown -------------------------------------------------------------------------
    let sigterm_at = sig
        .at
        .get()
        .map(|&t| Instant::from_std(t))
        .unwrap_or_else(Instant::now);
    let prestop = if cfg.readiness_lever {
        cfg.prestop_wait
    } else {
        Duration::ZERO
    };
    // Without the drain lever nothing is waited for after the preStop wait: the drain deadline is
    // its end, so the requeue lever releases the job in hand at once and sheds long calls.
    let drain_timeout = if cfg.drain_lever {
        cfg.drain_timeout
    } else {
        Duration::ZERO
    };
    let p = ShutdownPlan::new(sigterm_at, prestop, drain_timeout, cfg.shutdown_budget);
    let _ = plan.set(p);
    if cfg.requeue_lever {
        worker_stop.cancel();
    }
    if cfg.readiness_lever {
        app.readiness_failed.store(true, Ordering::SeqCst);
        metrics.ready.set(0);
        lifecycle::emit(Step::ReadinessFailed, serde_json::Value::Null);
        sleep_until(p.prestop_end).await;
        lifecycle::emit(
            Step::PrestopDone,
            json!({ "waited_ms": prestop.as_millis() as u64 }),
        );
    }

    if !cfg.drain_lever {
        // Naive: close the listener and quit at once; in-flight requests die with the process,
        // and so does the job in hand, unless the requeue lever (on its own) releases it first.
        stop_accept.cancel();
        let _ = accept.await;
        lifecycle::emit(
            Step::ListenerClosed,
            json!({ "drain": false, "inflight": app.inflight.load(Ordering::SeqCst), "connections": conns.open() }),
        );
        if let (true, Some(handle)) = (cfg.requeue_lever, worker) {
            // One UPDATE to release the job; bounded by the shutdown budget (there is no guardian
            // without the drain lever) so a stuck database cannot hold the exit past it.
            let report = tokio::time::timeout_at(p.guardian_deadline, handle)
                .await
                .ok()
                .and_then(Result::ok);
            lifecycle::emit(
                Step::WorkerStopped,
                json!({ "applied": report.map(|r| r.applied), "noops": report.map(|r| r.noops), "aborted": report.is_none() }),
            );
            lifecycle::emit(
                Step::JobsReleased,
                json!({ "count": report.map_or(0, |r| r.released) }),
            );
        }
        lifecycle::emit_exited(EXIT_NOT_DRAINED);
        std::process::exit(EXIT_NOT_DRAINED);
    }

    // 1. HTTP server: stop accepting.
    stop_accept.cancel();
    let _ = accept.await;
    lifecycle::emit(
        Step::ListenerClosed,
        json!({ "drain": true, "connections": conns.open() }),
    );

    // Close keep-alive connections: at once, or each at a random point of the jitter window.
    let drain_start = Instant::now();
    let window = cfg.jitter_lever.then_some(cfg.jitter_window);
    for ctl in conns.snapshot() {
        let at = ShutdownPlan::close_at(drain_start, window, rand::random::<f64>());
        if at <= drain_start {
            ctl.close.cancel();
        } else {
            tokio::spawn(async move {
                sleep_until(at).await;
                ctl.close.cancel();
            });
        }
    }

    // Wait for in-flight requests.
    let inflight_ok = wait_until(p.drain_deadline, || {
        app.inflight.load(Ordering::SeqCst) <= 0
    })
    .await;
    lifecycle::emit(
        Step::InflightDrained,
        json!({ "complete": inflight_ok, "left": app.inflight.load(Ordering::SeqCst) }),
    );

    // Wait for every connection to close; past the drain deadline, drop the rest.
    conns.tracker.close();
    let closed_ok = tokio::time::timeout_at(p.drain_deadline, conns.tracker.wait())
        .await
        .is_ok();
    let forced = if closed_ok { 0 } else { conns.open() };
    if !closed_ok {
        conns.kill.cancel();
        conns.tracker.wait().await;
    }
    lifecycle::emit(
        Step::KeepaliveClosed,
        json!({ "complete": closed_ok, "forced": forced }),
    );

    // 2. Worker.
    let report = match worker {
        Some(handle) if cfg.requeue_lever => handle.await.unwrap_or_default(),
        Some(handle) => {
            handle.abort();
            let _ = handle.await;
            WorkerReport::default()
        }
        None => WorkerReport::default(),
    };
    lifecycle::emit(
        Step::WorkerStopped,
        json!({ "applied": report.applied, "noops": report.noops, "aborted": !cfg.requeue_lever }),
    );
    lifecycle::emit(Step::JobsReleased, json!({ "count": report.released }));

    // 3. Database pool.
    if let Some(pool) = &pool {
        pool.close();
    }
    drop(app);
    lifecycle::emit(Step::PoolsClosed, serde_json::Value::Null);
    // 4. Telemetry: log lines are written synchronously to stdout; nothing is buffered.
    if inflight_ok && closed_ok {
        0
    } else {
        EXIT_DRAIN_INCOMPLETE
    }
}

/// Warn (once, at start) when the connection cap cannot be reached because the descriptor limit
/// is lower: accept(2) will fail with EMFILE first, and the accept loop backs off.
fn warn_if_descriptors_short(max_connections: u32) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return;
    }
    let soft: u64 = lim.rlim_cur;
    if u64::from(max_connections) + DESCRIPTOR_RESERVE > soft {
        tracing::warn!(target: "fleetsim::config", field = "FLEETSIM_MAX_CONNECTIONS", max_connections, descriptor_limit = soft, reserve = DESCRIPTOR_RESERVE, "FLEETSIM_MAX_CONNECTIONS plus the reserve is above the descriptor limit (RLIMIT_NOFILE): accept will fail with EMFILE before the cap is reached, and back off; lower the cap or raise the limit");
        eprintln!(
            "fleetsim-service: warning: FLEETSIM_MAX_CONNECTIONS {max_connections} + {DESCRIPTOR_RESERVE} reserved descriptors is above the descriptor limit {soft}"
        );
    }
}

/// Poll `cond` every few milliseconds until it holds (true) or `deadline` passes (false).
async fn wait_until(deadline: Instant, mut cond: impl FnMut() -> bool) -> bool {
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(
            Duration::from_millis(5).min(deadline.saturating_duration_since(Instant::now())),
        )
        .await;
    }
}
