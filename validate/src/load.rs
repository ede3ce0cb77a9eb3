//! `fleetsim load`: the open-loop load generator.
//!
//! * The schedule ([`crate::schedule`]) fixes every intended start before the run; a request never
//!   waits for an earlier one. Latency is measured from the intended start.
//! * A request that starts later than `--fault-threshold` after its intended start, or that fails
//!   for a reason on the generator's side (out of fds or ports), is a generator fault: flagged on
//!   its record, counted in the footer, and the run is reported invalid.
//! * Connections are driven with hyper's low-level `client::conn::http1` API: we own each TCP
//!   socket, so every connect, reuse and close is recorded, and nothing retries behind our back.
//!   A failed request is recorded as failed; it is never re-sent.
//! * `--mode keepalive`: K virtual clients (`--clients`), request `n` of this shard goes to client
//!   `n % K`. A client reuses its idle keep-alive connection; if it has none (never opened, closed
//!   by the server, or busy with an earlier request), it opens a new one at once rather than wait.
//!   `--mode new`: one new connection per request (`Connection: close`).
//! * Records stream to an NDJSON file ([`crate::record`]) through a bounded writer, so memory stays
//!   flat.

use crate::classify::{ErrorClass, classify_error, classify_status};
use crate::duration::parse_duration;
use crate::outcome::Outcome;
use crate::record::{ConnEvent, Footer, Header, Mark, Ready, Req, SCHEMA};
use crate::schedule::{Arrivals, Schedule, Shard, rate_milli};
use crate::sink::Sink;
use crate::timer::PreciseTimer;
use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use http::header::{CONNECTION, HOST, HeaderName, HeaderValue, RETRY_AFTER};
use http::{Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// K virtual clients, each reusing a keep-alive connection.
    Keepalive,
    /// A new TCP connection for every request.
    New,
}

/// Options of `fleetsim load`.
#[derive(Parser, Clone, Debug)]
#[command(
    name = "load",
    about = "Open-loop HTTP load generator that records every request"
)]
pub struct LoadOpts {
    /// Target URL (http only), e.g. http://127.0.0.1:8080/work?ms=10
    #[arg(long)]
    pub target: String,
    /// Intended rate of the whole schedule, requests per second (all shards together).
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Length of the schedule (e.g. 60s, 10m).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub duration: Duration,
    /// Stop the schedule after this many requests (global indices, all shards).
    #[arg(long)]
    pub requests: Option<u64>,
    /// Poisson arrivals instead of a constant rate.
    #[arg(long)]
    pub poisson: bool,
    /// Seed of the Poisson schedule (and of SSE backoff jitter).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = Mode::Keepalive)]
    pub mode: Mode,
    /// Keep-alive virtual clients (each holds its own connection).
    #[arg(long, default_value_t = 64)]
    pub clients: u64,
    /// Idle connections a client keeps (extra ones opened while it was busy are closed after use).
    #[arg(long, default_value_t = 1)]
    pub max_idle_per_client: usize,
    /// Connections a keep-alive client may have at once (0 = no limit). With no limit a client
    /// whose connection is busy opens another one at once, as most HTTP clients do; with a limit
    /// the request waits for the client's connection, and the wait shows as send lag (a
    /// generator fault past the threshold) instead of a flood of new connections.
    #[arg(long, default_value_t = 0)]
    pub max_conns_per_client: usize,
    /// Do not open the keep-alive connections before the schedule starts.
    #[arg(long)]
    pub no_warm: bool,
    /// Client deadline per request, from its actual start (connect + send + full response).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// Connect deadline (within --timeout).
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub connect_timeout: Duration,
    /// A request that starts this much later than intended is a generator fault (the contract's
    /// default, `measure::AnalyzeConfig::fault_threshold_ns`, is 10 ms).
    #[arg(long, value_parser = parse_duration, default_value = "10ms")]
    pub fault_threshold: Duration,
    /// Record file (NDJSON).
    #[arg(long)]
    pub out: PathBuf,
    /// Send only every N-th request of the schedule, starting at K (K/N). N generators with the
    /// same options and seed, K = 0..N-1, together send the whole schedule.
    #[arg(long, default_value = "0/1")]
    pub shard: Shard,
    /// Put the clock origin (and the schedule start) at this wall-clock time (Unix ms), to align
    /// several generators. Default: origin now, schedule starts after warm-up.
    #[arg(long)]
    pub start_at_epoch_ms: Option<i64>,
    /// A marker at a time relative to the schedule start, NAME@SECONDS (repeatable), e.g.
    /// rollout_start@30.
    #[arg(long = "mark")]
    pub marks: Vec<String>,
    /// Watch this file for markers: lines `NAME [EPOCH_NS]` or `ready READY DESIRED [EPOCH_NS]`.
    #[arg(long)]
    pub marks_file: Option<PathBuf>,
    /// Serve a local control port (e.g. 127.0.0.1:0): POST /mark?name=N[&epoch_ns=T],
    /// /ready?ready=R&desired=D[&epoch_ns=T], /stop, GET /status.
    #[arg(long)]
    pub control: Option<SocketAddr>,
    /// Write the bound control address to this file once listening.
    #[arg(long)]
    pub control_addr_file: Option<PathBuf>,
    /// Long-lived server-sent-event streams to keep open during the run.
    #[arg(long, default_value_t = 0)]
    pub sse: u64,
    /// Path of the SSE endpoint on the target host.
    #[arg(long, default_value = "/events")]
    pub sse_path: String,
    /// Reconnect policy of SSE streams: `immediate` or `backoff`.
    #[arg(long, default_value = "backoff")]
    pub sse_reconnect: crate::sse::Reconnect,
    #[arg(long, value_parser = parse_duration, default_value = "100ms")]
    pub sse_backoff_base: Duration,
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub sse_backoff_max: Duration,
    /// Treat an SSE stream silent for this long as dropped (`timeout`).
    #[arg(long, value_parser = parse_duration)]
    pub sse_idle_timeout: Option<Duration>,
    /// Response header naming the serving pod.
    #[arg(long, default_value = "x-fleetsim-pod")]
    pub pod_header: String,
    /// Poll instead of sleeping when the next request is due within this time: waking from a
    /// blocking sleep costs more CPU than a short busy poll (0 = always sleep).
    #[arg(long, value_parser = parse_duration, default_value = "100us")]
    pub spin: Duration,
    /// Wake the scheduler at most once per this interval; requests due in between are sent
    /// together at the next wake-up (0 = wake for every request). Bounds the send lag it adds to
    /// the tick while saving a sleep/wake cycle per request at high rates.
    #[arg(long, value_parser = parse_duration, default_value = "0us")]
    pub tick: Duration,
    /// Runtime worker threads (1 = single-threaded runtime, the most efficient per core).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Free-form label stored in the header (scenario name).
    #[arg(long, default_value = "")]
    pub label: String,
    /// Do not install SIGINT/SIGTERM handlers (a signal normally stops the schedule cleanly).
    #[arg(long)]
    pub no_signals: bool,
}

/// What a run reports when it ends (also in the file's footer).
#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    pub out: PathBuf,
    pub footer: Footer,
    pub outcomes: std::collections::BTreeMap<&'static str, u64>,
    pub connections_opened: u64,
    pub achieved_rps: f64,
    pub bytes_written: u64,
}

/// Run the generator to completion (builds its own tokio runtime; call from non-async code).
pub fn run(opts: LoadOpts) -> Result<LoadReport> {
    let mut b = if opts.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(opts.threads);
        b
    };
    let rt = b.enable_all().build().context("tokio runtime")?;
    rt.block_on(run_async(opts))
}

pub(crate) struct Target {
    pub addr: SocketAddr,
    pub host: HeaderValue,
    pub path: Uri,
}

pub(crate) async fn resolve_target(url: &str) -> Result<Target> {
    let uri: Uri = url
        .parse()
        .with_context(|| format!("bad --target {url:?}"))?;
    if uri.scheme_str() != Some("http") {
        bail!("--target must be an http:// URL, got {url:?}");
    }
    let auth = uri
        .authority()
        .ok_or_else(|| anyhow!("--target has no host: {url:?}"))?
        .clone();
    let port = auth.port_u16().unwrap_or(80);
    let host = auth
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await
        .with_context(|| format!("resolve {host}"))?
        .next()
        .ok_or_else(|| anyhow!("{host} resolves to nothing"))?;
    let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    Ok(Target {
        addr,
        host: HeaderValue::from_str(auth.as_str())?,
        path: pq.parse()?,
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
    pub fn now_ns(&self) -> i64 {
        let now = Instant::now();
        if now >= self.origin {
            (now - self.origin).as_nanos() as i64
        } else {
            -((self.origin - now).as_nanos() as i64)
        }
    }
    pub fn at(&self, ns: i64) -> Instant {
        if ns >= 0 {
            self.origin + Duration::from_nanos(ns as u64)
        } else {
            self.origin - Duration::from_nanos(ns.unsigned_abs())
        }
    }
    pub fn at_epoch_ns(&self, epoch_ns: i64) -> i64 {
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
    _kill: oneshot::Sender<()>,
}

pub(crate) struct Stats {
    pub sent: AtomicU64,
    pub recorded: AtomicU64,
    pub faults: AtomicU64,
    pub conns_opened: AtomicU64,
    pub outcomes: [AtomicU64; 10],
    pub lag: Mutex<Histogram<u64>>,
}

impl Stats {
    fn new() -> Self {
        Stats {
            sent: AtomicU64::new(0),
            recorded: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            conns_opened: AtomicU64::new(0),
            outcomes: Default::default(),
            lag: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("hdr bounds"),
            ),
        }
    }
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
    pub stats: Stats,
    pub inflight: AtomicU64,
    pub stop: watch::Sender<bool>,
    pub stopped_early: AtomicBool,
}

impl Shared {
    pub fn mark(&self, at: i64, name: &str, src: &str) {
        self.sink.tagged(
            "m",
            &Mark {
                at,
                name: name.to_string(),
                src: src.to_string(),
            },
        );
    }

    pub fn ready(&self, at: i64, ready: u32, desired: u32) {
        self.sink.tagged("e", &Ready { at, ready, desired });
    }

    pub fn request_stop(&self) {
        self.stopped_early.store(true, Ordering::SeqCst);
        let _ = self.stop.send(true);
    }

    fn conn_event(&self, conn: u64, ev: &str, why: String, warm: bool) {
        self.sink.tagged(
            "c",
            &ConnEvent {
                at: self.clock.now_ns(),
                conn,
                ev: ev.to_string(),
                why,
                warm,
            },
        );
    }

    /// Open a TCP connection and run the HTTP/1 handshake; records `open` / `connect_fail`.
    pub async fn connect(
        self: &Arc<Self>,
        deadline: Instant,
        warm: bool,
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
                self.conn_event(0, "connect_fail", c.outcome.as_str().to_string(), warm);
                return Err(c);
            }
        };
        let _ = stream.set_nodelay(true);
        let (tx, conn) = match http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await {
            Ok(x) => x,
            Err(e) => {
                let c = classify_error(&e);
                self.conn_event(0, "connect_fail", c.outcome.as_str().to_string(), warm);
                return Err(c);
            }
        };
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        self.stats.conns_opened.fetch_add(1, Ordering::Relaxed);
        self.conn_event(id, "open", String::new(), warm);
        let (kill, kill_rx) = oneshot::channel::<()>();
        let me = self.clone();
        tokio::spawn(async move {
            let why = tokio::select! {
                biased;
                _ = kill_rx => "client".to_string(),
                r = conn => match r {
                    Ok(()) => "eof".to_string(),
                    Err(e) => format!("error:{}", classify_error(&e).outcome.as_str()),
                },
            };
            me.conn_event(id, "close", why, false);
        });
        Ok(Conn {
            id,
            tx,
            _kill: kill,
        })
    }

    /// A usable idle connection of this client, discarding ones the server has closed.
    fn take_idle(&self, client: usize) -> Option<Conn> {
        let mut list = self.idle[client].lock().unwrap();
        while let Some(c) = list.pop() {
            if c.tx.is_ready() {
                return Some(c);
            }
            // closed (or broken): dropping it lets its driver record the close
        }
        None
    }

    fn put_idle(&self, client: usize, c: Conn) {
        let mut list = self.idle[client].lock().unwrap();
        if list.len() < self.max_idle {
            list.push(c);
        }
    }

    fn finish(&self, mut rec: Req) {
        let lag = (rec.actual - rec.intended).max(0);
        if lag > self.fault_ns {
            rec.generator_fault = true;
        }
        if rec.generator_fault {
            self.stats.faults.fetch_add(1, Ordering::Relaxed);
        }
        self.stats
            .lag
            .lock()
            .unwrap()
            .saturating_record(lag.max(1) as u64);
        self.stats.outcomes[outcome_idx(rec.outcome)].fetch_add(1, Ordering::Relaxed);
        self.sink.line(|b| crate::record::write_req(b, &rec));
        self.stats.recorded.fetch_add(1, Ordering::Relaxed);
        self.inflight.fetch_sub(1, Ordering::AcqRel);
    }
}

fn outcome_idx(o: Outcome) -> usize {
    Outcome::ALL
        .iter()
        .position(|x| *x == o)
        .expect("outcome in ALL")
}

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

/// Parse `NAME@SECONDS`.
fn parse_flag_mark(s: &str) -> Result<(String, Duration)> {
    let (name, at) = s
        .rsplit_once('@')
        .ok_or_else(|| anyhow!("--mark {s:?}: expected NAME@SECONDS"))?;
    let d = parse_duration(at).map_err(|e| anyhow!("--mark {s:?}: {e}"))?;
    if name.is_empty() {
        bail!("--mark {s:?}: empty name");
    }
    Ok((name.to_string(), d))
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

/// The generator, on the caller's runtime.
pub async fn run_async(opts: LoadOpts) -> Result<LoadReport> {
    let rate_m = rate_milli(opts.rate).map_err(|e| anyhow!(e))?;
    if opts.clients == 0 {
        bail!("--clients must be >= 1");
    }
    let flag_marks = opts
        .marks
        .iter()
        .map(|m| parse_flag_mark(m))
        .collect::<Result<Vec<_>>>()?;
    let nofile = raise_nofile();
    let need = opts.clients + opts.sse + 64;
    if opts.mode == Mode::Keepalive && nofile > 0 && need > nofile {
        bail!(
            "need ~{need} file descriptors for {} clients, RLIMIT_NOFILE is {nofile}",
            opts.clients
        );
    }
    let target = resolve_target(&opts.target).await?;

    // Clock origin.
    let clock = match opts.start_at_epoch_ms {
        None => Clock {
            origin: Instant::now(),
            origin_epoch_ns: epoch_ns_now(),
        },
        Some(ms) => {
            let want = ms.saturating_mul(1_000_000);
            let (now_i, now_e) = (Instant::now(), epoch_ns_now());
            if want < now_e {
                bail!("--start-at-epoch-ms {ms} is in the past");
            }
            Clock {
                origin: now_i + Duration::from_nanos((want - now_e) as u64),
                origin_epoch_ns: want,
            }
        }
    };

    let sink = Sink::create(&opts.out).with_context(|| format!("create {}", opts.out.display()))?;
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let sh = Arc::new(Shared {
        clock,
        sink,
        target,
        mode: opts.mode,
        timeout: opts.timeout,
        connect_timeout: opts.connect_timeout,
        fault_ns: opts.fault_threshold.as_nanos() as i64,
        pod_header: HeaderName::from_bytes(opts.pod_header.to_ascii_lowercase().as_bytes())?,
        next_conn: AtomicU64::new(1),
        idle: (0..opts.clients).map(|_| Mutex::new(Vec::new())).collect(),
        max_idle: opts.max_idle_per_client.max(1),
        conn_limits: (opts.mode == Mode::Keepalive && opts.max_conns_per_client > 0).then(|| {
            (0..opts.clients)
                .map(|_| Arc::new(tokio::sync::Semaphore::new(opts.max_conns_per_client)))
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
        generator: format!("fleetsim-validate {}", env!("CARGO_PKG_VERSION")),
        target: opts.target.clone(),
        mode: format!("{:?}", opts.mode).to_lowercase(),
        clients: opts.clients,
        arrivals: if opts.poisson {
            "poisson".into()
        } else {
            "constant".into()
        },
        seed: opts.seed,
        rate: opts.rate,
        shard: format!("{}/{}", opts.shard.k, opts.shard.n),
        fault_threshold_ns: opts.fault_threshold.as_nanos() as i64,
        timeout_ns: opts.timeout.as_nanos() as i64,
        label: opts.label.clone(),
        sse_streams: opts.sse,
    };
    sh.sink.tagged("h", &header);

    // Warm-up: open the keep-alive connections before the schedule starts.
    if opts.mode == Mode::Keepalive && !opts.no_warm {
        let sem = Arc::new(tokio::sync::Semaphore::new(128));
        let mut tasks = tokio::task::JoinSet::new();
        for client in 0..opts.clients as usize {
            let sh = sh.clone();
            let permit = sem.clone().acquire_owned().await?;
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

    let schedule_start_ns: i64 = match opts.start_at_epoch_ms {
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
    };

    // Background helpers: periodic flush, markers, control port, SSE, signals.
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
    for (name, d) in flag_marks {
        let sh2 = sh.clone();
        let at = schedule_start_ns + d.as_nanos() as i64;
        let mut stop = stop_rx.clone();
        helpers.push(tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep_until(sh2.clock.at(at).into()) => sh2.mark(at, &name, "flag"),
                _ = stop.changed() => {}
            }
        }));
    }
    if let Some(path) = opts.marks_file.clone() {
        helpers.push(tokio::spawn(crate::control::watch_marks_file(
            sh.clone(),
            path,
            stop_rx.clone(),
        )));
    }
    if let Some(addr) = opts.control {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("bind control {addr}"))?;
        let local = listener.local_addr()?;
        if let Some(p) = &opts.control_addr_file {
            std::fs::write(p, local.to_string())?;
        }
        eprintln!("control port listening on {local}");
        helpers.push(tokio::spawn(crate::control::serve(
            sh.clone(),
            listener,
            stop_rx.clone(),
        )));
    }
    let sse_done = Arc::new(AtomicBool::new(false));
    let mut sse_tasks = Vec::new();
    for id in 0..opts.sse {
        sse_tasks.push(tokio::spawn(crate::sse::stream(
            sh.clone(),
            crate::sse::SseOpts {
                id,
                path: opts.sse_path.clone(),
                reconnect: opts.sse_reconnect,
                base: opts.sse_backoff_base,
                max: opts.sse_backoff_max,
                idle_timeout: opts.sse_idle_timeout,
                seed: opts.seed ^ (0x5eed_0000_0000 + id),
            },
            stop_rx.clone(),
        )));
    }
    if !opts.no_signals {
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

    // The schedule.
    let arrivals = if opts.poisson {
        Arrivals::Poisson { seed: opts.seed }
    } else {
        Arrivals::Constant
    };
    let max_req = opts.requests.unwrap_or(u64::MAX);
    let sched = Schedule::new(
        arrivals,
        rate_m,
        opts.shard,
        opts.duration.as_nanos() as u64,
        max_req,
    );
    let timer = PreciseTimer::new().context("timerfd")?;
    sh.mark(schedule_start_ns, "load_start", "generator");
    let mut scheduled = 0u64;
    let mut burst = 0u32;
    let spin = opts.spin;
    let tick = opts.tick;
    let mut last_wake = Instant::now();
    let clients = opts.clients;
    for (n, (i, t)) in sched.enumerate() {
        if *stop_rx.borrow() {
            break;
        }
        let intended = schedule_start_ns + t as i64;
        // Coalesce wake-ups: never wake more often than once per --tick; requests that fall due
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
                    r = timer.sleep_until(due - spin) => r?,
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
    // SSE-only or duration-bound runs keep the streams open until the end of the duration.
    if opts.sse > 0 && !*stop_rx.borrow() {
        let end = clock.at(schedule_start_ns + opts.duration.as_nanos() as i64);
        tokio::select! {
            _ = tokio::time::sleep_until(end.into()) => {}
            _ = stop_rx.changed() => {}
        }
    }
    let load_end = clock.now_ns();
    // Wait for in-flight requests; each has its own deadline, so this is bounded.
    let drain_deadline = Instant::now() + opts.timeout + Duration::from_secs(2);
    while sh.inflight.load(Ordering::Acquire) > 0 && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    sh.mark(load_end, "load_end", "generator");
    sse_done.store(true, Ordering::SeqCst);
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
        at: clock.now_ns(),
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
    let bytes_written = sh.sink.finish()?;
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
        out: opts.out.clone(),
        footer,
        outcomes,
        connections_opened: sh.stats.conns_opened.load(Ordering::Relaxed),
        achieved_rps: sent as f64 / span_s,
        bytes_written,
    })
}
