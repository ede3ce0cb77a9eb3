//! What one run of the generator does: the command-line options ([`LoadOpts`], what `fleetsim
//! load` parses) and the typed plan they become ([`LoadPlan`], what [`crate::run`] takes).
//! Callers in code (the live driver, tests) build a [`LoadPlan`] directly, from
//! [`LoadPlan::new`] and its public fields; nothing goes through argument vectors.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use measure::{Shard, parse_duration_or_secs};
use serde::Serialize;

use crate::error::LoadError;
use crate::sse::Reconnect;
use crate::thresholds::Thresholds;

/// How requests use connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// K virtual clients, each reusing a keep-alive connection.
    Keepalive,
    /// A new TCP connection for every request.
    New,
}

impl Mode {
    /// The name on the record header and the command line: `keepalive` or `new`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Keepalive => "keepalive",
            Mode::New => "new",
        }
    }
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
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "10s")]
    pub duration: Duration,
    /// Stop the schedule after this many requests (global indices, all shards).
    #[arg(long)]
    pub requests: Option<u64>,
    /// Poisson arrivals instead of a constant rate.
    #[arg(long)]
    pub poisson: bool,
    /// Closed loop instead of a schedule: each of the --clients clients sends its next request
    /// the moment its previous one ends, for --duration (or --requests), as oha -c, wrk and ab
    /// do. No request is ever late, so latency is the service time alone and hides the queueing
    /// an open loop would see (coordinated omission): a throughput test, not a deploy
    /// measurement. With --mode new each client opens a new connection per request.
    #[arg(long, conflicts_with_all = ["rate", "poisson", "shard", "spin", "tick", "max_inflight", "start_at_epoch_ms"])]
    pub closed_loop: bool,
    /// Seed of the Poisson schedule (and of SSE backoff jitter).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Connection style: keep-alive clients, or a new connection per request.
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
    /// Keep-alive clients reopen a connection the moment the server closes it (one attempt),
    /// as HTTP/2 and gRPC channels and warm connection pools do, instead of when their next
    /// request is due. A drain that closes every keep-alive at once then brings every client
    /// back at once: the reconnect storm. Keep-alive mode only.
    #[arg(long)]
    pub eager_reconnect: bool,
    /// Client deadline per request, from its actual start (connect + send + full response).
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "10s")]
    pub timeout: Duration,
    /// Connect deadline (within --timeout).
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "2s")]
    pub connect_timeout: Duration,
    /// A request that starts this much later than intended is a generator fault (the contract's
    /// default, `measure::AnalyzeConfig::fault_threshold_ns`, is 10 ms).
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "10ms")]
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
    pub sse_reconnect: Reconnect,
    /// First backoff of an SSE reconnect (`--sse-reconnect backoff`).
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "100ms")]
    pub sse_backoff_base: Duration,
    /// Longest backoff of an SSE reconnect.
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "5s")]
    pub sse_backoff_max: Duration,
    /// Treat an SSE stream silent for this long as dropped (`timeout`).
    #[arg(long, value_parser = parse_duration_or_secs)]
    pub sse_idle_timeout: Option<Duration>,
    /// Response header naming the serving pod.
    #[arg(long, default_value = "x-fleetsim-pod")]
    pub pod_header: String,
    /// Poll instead of sleeping when the next request is due within this time (0 = always
    /// sleep, the default: a busy poll burns the core for the whole wait, which at 5,000/s and
    /// 100us doubled the CPU per request).
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "0us")]
    pub spin: Duration,
    /// Wake the scheduler at most once per this interval, and batch by it: the wake-up for a
    /// request not yet due comes at the last request due within this interval of it (the
    /// schedule is known in advance), and every request due by then goes out together (0 = wake
    /// for every request). Adds less than the tick to any send's lag (recorded) while saving a
    /// sleep/wake cycle per request at high rates; 500us keeps the send lag under the 1 ms
    /// on-schedule bar and, at 5,000/s, costs a fifth less CPU per request than 250us
    /// (docs/loadgen.md). Schedules sparser than the tick (a live run's 50/s) are unaffected:
    /// each send waits for its own time.
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "500us")]
    pub tick: Duration,
    /// Runtime worker threads (1 = single-threaded runtime, the most efficient per core).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Run the generator's scheduler threads under SCHED_FIFO at this priority (1-99), so that
    /// a machine busy with other work (a node starting pods during a roll) cannot delay a send.
    /// Threads they start (the record writer) get the normal policy back. Needs root or
    /// CAP_SYS_NICE: refused otherwise, never silently dropped. 0 = the normal policy (default).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=99))]
    pub realtime_priority: u8,
    /// Free-form label stored in the header (scenario name).
    #[arg(long, default_value = "")]
    pub label: String,
    /// Do not install SIGINT/SIGTERM handlers (a signal normally stops the schedule cleanly).
    #[arg(long)]
    pub no_signals: bool,
    /// Most requests in flight at once (handed out and not yet recorded). At the cap the
    /// scheduler waits for one to end: its sends go out late (recorded as late, the run marked
    /// invalid) instead of piling up without bound. A schedule still behind max(1 s,
    /// --fault-threshold) after its end is cut there; the rest is reported unsent.
    #[arg(long, default_value_t = 10_000)]
    pub max_inflight: usize,
    /// No progress line (it is printed every second only when stderr is a terminal). Warnings
    /// about falling behind schedule are printed either way.
    #[arg(long)]
    pub quiet: bool,
    /// Serve the live counters in the Prometheus text exposition format on this loopback
    /// address (e.g. 127.0.0.1:9464), at GET /metrics, while the run lasts.
    #[arg(long, value_name = "ADDR")]
    pub prometheus: Option<SocketAddr>,
    /// Retry a scheduled request at most N times after a 503 that carries Retry-After (the
    /// outcome `shed`), each retry sent when the shed response arrived plus the Retry-After
    /// (delay-seconds or an HTTP-date), outside the schedule. The scheduled request keeps its
    /// record and its outcome `shed`; each retry is an `rt` line of its own and each give-up an
    /// `rg` line with its reason (docs/loadgen.md). 0 (the default) never retries, as load tools
    /// do by default. At most 100; not with --closed-loop.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub shed_retries: u32,
    /// The longest Retry-After honoured (with --shed-retries; default 30s, at most 1h): a
    /// longer one is not waited for, and the request stays `shed`, counted as given up
    /// (`too_long`).
    #[arg(long, value_name = "DUR", value_parser = parse_duration_or_secs)]
    pub shed_retry_max_wait: Option<Duration>,
    /// Exit non-zero when the run breaks these limits.
    #[command(flatten)]
    pub thresholds: Thresholds,
}

impl LoadOpts {
    /// The typed plan of these options (the `--mark NAME@SECONDS` flags parsed).
    pub fn plan(self) -> Result<LoadPlan, LoadError> {
        use std::io::IsTerminal;
        let marks = self
            .marks
            .iter()
            .map(|m| FlagMark::parse(m))
            .collect::<Result<Vec<_>, _>>()?;
        let shed_retry = ShedRetryPlan::from_flags(self.shed_retries, self.shed_retry_max_wait)?;
        Ok(LoadPlan {
            target: self.target,
            rate: self.rate,
            duration: self.duration,
            requests: self.requests,
            poisson: self.poisson,
            closed_loop: self.closed_loop,
            seed: self.seed,
            mode: self.mode,
            clients: self.clients,
            max_idle_per_client: self.max_idle_per_client,
            eager_reconnect: self.eager_reconnect,
            max_conns_per_client: self.max_conns_per_client,
            warm: !self.no_warm,
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            fault_threshold: self.fault_threshold,
            out: self.out,
            shard: self.shard,
            start_at_epoch_ms: self.start_at_epoch_ms,
            marks,
            marks_file: self.marks_file,
            control: self.control,
            control_addr_file: self.control_addr_file,
            sse: SsePlan {
                streams: self.sse,
                path: self.sse_path,
                reconnect: self.sse_reconnect,
                backoff_base: self.sse_backoff_base,
                backoff_max: self.sse_backoff_max,
                idle_timeout: self.sse_idle_timeout,
            },
            pod_header: self.pod_header,
            spin: self.spin,
            tick: self.tick,
            threads: self.threads,
            realtime_priority: self.realtime_priority,
            label: self.label,
            signals: !self.no_signals,
            max_inflight: self.max_inflight,
            progress: !self.quiet && std::io::stderr().is_terminal(),
            prometheus: self.prometheus,
            shed_retry,
        })
    }
}

/// A marker at a fixed time after the schedule start (`--mark NAME@SECONDS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlagMark {
    /// The marker's name, e.g. `rollout_start`.
    pub name: String,
    /// When, after the schedule start.
    pub at: Duration,
}

impl FlagMark {
    /// Parses `NAME@SECONDS` (the time takes any duration form, a bare number being seconds).
    pub fn parse(s: &str) -> Result<FlagMark, LoadError> {
        let bad = |reason: String| LoadError::Setting {
            field: "mark",
            reason: format!("{s:?}: {reason}"),
        };
        let (name, at) = s
            .rsplit_once('@')
            .ok_or_else(|| bad("expected NAME@SECONDS".into()))?;
        let at = parse_duration_or_secs(at).map_err(|e| bad(e.to_string()))?;
        if name.is_empty() {
            return Err(bad("empty name".into()));
        }
        Ok(FlagMark {
            name: name.to_string(),
            at,
        })
    }
}

/// The long-lived server-sent-event streams of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct SsePlan {
    /// Streams kept open during the run (0 = none).
    pub streams: u64,
    /// Path of the SSE endpoint on the target host.
    pub path: String,
    /// Reconnect policy after a drop or a failed attempt.
    pub reconnect: Reconnect,
    /// First backoff (policy `backoff`).
    pub backoff_base: Duration,
    /// Longest backoff.
    pub backoff_max: Duration,
    /// A stream silent this long counts as dropped (`timeout`).
    pub idle_timeout: Option<Duration>,
}

/// Retries of shed requests (`--shed-retries N`, `--shed-retry-max-wait DUR`): see
/// [`LoadOpts::shed_retries`]. [`LoadPlan::shed_retry`] is `None` when they are off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShedRetryPlan {
    /// Most retries of one scheduled request (1..=[`ShedRetryPlan::MAX_RETRIES`]).
    pub retries: u32,
    /// The longest `Retry-After` waited for (above 0, at most [`ShedRetryPlan::MAX_WAIT`]).
    pub max_wait: Duration,
}

impl ShedRetryPlan {
    /// The most retries of one request: each is one more request on the server, outside the
    /// schedule.
    pub const MAX_RETRIES: u32 = 100;
    /// The longest wait that can be honoured (the run waits for its retries before it ends).
    pub const MAX_WAIT: Duration = Duration::from_secs(3600);
    /// The maximum wait without `--shed-retry-max-wait`.
    pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(30);

    /// The plan of the two flags: `None` with `--shed-retries 0` (the default), an error
    /// naming both flags when a maximum wait is given without retries, and the range checks of
    /// [`ShedRetryPlan::check`].
    pub fn from_flags(
        retries: u32,
        max_wait: Option<Duration>,
    ) -> Result<Option<ShedRetryPlan>, LoadError> {
        if retries == 0 {
            return match max_wait {
                Some(_) => Err(LoadError::Setting {
                    field: "shed-retry-max-wait",
                    reason: "needs --shed-retries N (N >= 1): without retries no Retry-After is \
                             waited for"
                        .into(),
                }),
                None => Ok(None),
            };
        }
        let plan = ShedRetryPlan {
            retries,
            max_wait: max_wait.unwrap_or(ShedRetryPlan::DEFAULT_MAX_WAIT),
        };
        plan.check()?;
        Ok(Some(plan))
    }

    /// The ranges: 1..=[`ShedRetryPlan::MAX_RETRIES`] retries, a maximum wait above 0 and at
    /// most [`ShedRetryPlan::MAX_WAIT`]; the error names the flag.
    pub fn check(&self) -> Result<(), LoadError> {
        if self.retries == 0 || self.retries > ShedRetryPlan::MAX_RETRIES {
            return Err(LoadError::Setting {
                field: "shed-retries",
                reason: format!(
                    "{} is outside 1..={} (each retry is one more request on the server; turn \
                     retries off with 0 on the command line, `None` in a plan)",
                    self.retries,
                    ShedRetryPlan::MAX_RETRIES
                ),
            });
        }
        if self.max_wait.is_zero() || self.max_wait > ShedRetryPlan::MAX_WAIT {
            return Err(LoadError::Setting {
                field: "shed-retry-max-wait",
                reason: format!(
                    "{:?} is outside (0, {:?}]: 0 would give up on every wait, and the run \
                     waits for its retries before it ends",
                    self.max_wait,
                    ShedRetryPlan::MAX_WAIT
                ),
            });
        }
        Ok(())
    }
}

/// One run of the generator, typed: what [`crate::run`] takes. See [`LoadOpts`] for what each
/// field means; [`LoadPlan::new`] gives the same defaults as the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadPlan {
    /// Target URL (`http://` only).
    pub target: String,
    /// Intended rate of the whole schedule (all shards), requests per second.
    pub rate: f64,
    /// Length of the schedule.
    pub duration: Duration,
    /// Stop the schedule after this many requests (global indices).
    pub requests: Option<u64>,
    /// Poisson arrivals instead of a constant rate.
    pub poisson: bool,
    /// Closed loop: each client sends its next request when the previous one ends (no
    /// schedule; `rate`, `poisson`, `shard`, `spin`, `tick` and `max_inflight` must keep their
    /// defaults). See [`LoadOpts::closed_loop`].
    pub closed_loop: bool,
    /// Seed of the Poisson schedule and of SSE backoff jitter.
    pub seed: u64,
    /// Connection style.
    pub mode: Mode,
    /// Keep-alive virtual clients.
    pub clients: u64,
    /// Idle connections a client keeps.
    pub max_idle_per_client: usize,
    /// Reopen a keep-alive connection as soon as the server closes it; see
    /// [`LoadOpts::eager_reconnect`].
    pub eager_reconnect: bool,
    /// Connections a keep-alive client may have at once (0 = no limit).
    pub max_conns_per_client: usize,
    /// Open the keep-alive connections before the schedule starts.
    pub warm: bool,
    /// Client deadline per request, from its actual start.
    pub timeout: Duration,
    /// Connect deadline (within `timeout`).
    pub connect_timeout: Duration,
    /// Send lag past which a request is a generator fault.
    pub fault_threshold: Duration,
    /// The record file (NDJSON).
    pub out: PathBuf,
    /// The slice of the global schedule this generator sends.
    pub shard: Shard,
    /// Clock origin and schedule start at this wall-clock time (Unix ms).
    pub start_at_epoch_ms: Option<i64>,
    /// Markers at fixed times after the schedule start.
    pub marks: Vec<FlagMark>,
    /// A file watched for markers.
    pub marks_file: Option<PathBuf>,
    /// A local control port to serve.
    pub control: Option<SocketAddr>,
    /// Where to write the bound control address.
    pub control_addr_file: Option<PathBuf>,
    /// Server-sent-event streams.
    pub sse: SsePlan,
    /// Response header naming the serving pod.
    pub pod_header: String,
    /// Poll instead of sleeping when the next request is due within this time.
    pub spin: Duration,
    /// Wake the scheduler at most once per this interval (zero = for every request).
    pub tick: Duration,
    /// Runtime worker threads (1 = single-threaded runtime).
    pub threads: usize,
    /// SCHED_FIFO priority of the scheduler threads (0 = the normal policy); see
    /// [`LoadOpts::realtime_priority`].
    pub realtime_priority: u8,
    /// Free-form label stored in the header.
    pub label: String,
    /// Stop cleanly on SIGINT/SIGTERM.
    pub signals: bool,
    /// Most requests in flight at once (>= 1); see [`LoadOpts::max_inflight`].
    pub max_inflight: usize,
    /// Print a progress line on stderr every second (sent, ok, failed by class, p99, late sends).
    pub progress: bool,
    /// Serve the live counters in Prometheus text format on this loopback address.
    pub prometheus: Option<SocketAddr>,
    /// Retries of shed requests (`None`: never retried, the default).
    pub shed_retry: Option<ShedRetryPlan>,
}

impl LoadPlan {
    /// A plan with the command line's defaults: 100 req/s for 10 s, 64 keep-alive clients.
    pub fn new(target: impl Into<String>, out: impl Into<PathBuf>) -> LoadPlan {
        LoadPlan {
            target: target.into(),
            rate: 100.0,
            duration: Duration::from_secs(10),
            requests: None,
            poisson: false,
            closed_loop: false,
            seed: 1,
            mode: Mode::Keepalive,
            clients: 64,
            max_idle_per_client: 1,
            eager_reconnect: false,
            max_conns_per_client: 0,
            warm: true,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(2),
            fault_threshold: Duration::from_millis(10),
            out: out.into(),
            shard: Shard::ALL,
            start_at_epoch_ms: None,
            marks: Vec::new(),
            marks_file: None,
            control: None,
            control_addr_file: None,
            sse: SsePlan {
                streams: 0,
                path: "/events".into(),
                reconnect: Reconnect::Backoff,
                backoff_base: Duration::from_millis(100),
                backoff_max: Duration::from_secs(5),
                idle_timeout: None,
            },
            pod_header: "x-fleetsim-pod".into(),
            spin: Duration::ZERO,
            tick: Duration::from_micros(500),
            threads: 1,
            realtime_priority: 0,
            label: String::new(),
            signals: true,
            max_inflight: 10_000,
            progress: false,
            prometheus: None,
            shed_retry: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_defaults_are_the_plan_defaults() {
        // --quiet: the progress line is on by default only when stderr is a terminal.
        let opts = LoadOpts::parse_from([
            "load",
            "--target",
            "http://h/",
            "--out",
            "r.ndjson",
            "--quiet",
        ]);
        assert_eq!(opts.plan().unwrap(), LoadPlan::new("http://h/", "r.ndjson"));
    }

    #[test]
    fn flags_become_typed_values() {
        let opts = LoadOpts::parse_from([
            "load",
            "--target",
            "http://h/",
            "--out",
            "r",
            "--duration",
            "30",
            "--mark",
            "rollout_start@2.5",
            "--shard",
            "1/4",
            "--no-signals",
        ]);
        let plan = opts.plan().unwrap();
        assert_eq!(plan.duration, Duration::from_secs(30));
        assert_eq!(plan.shard, Shard { k: 1, n: 4 });
        assert!(!plan.signals);
        assert_eq!(
            plan.marks,
            [FlagMark {
                name: "rollout_start".into(),
                at: Duration::from_millis(2500)
            }]
        );
        for bad in ["x", "@3s", "a@soon"] {
            let e = FlagMark::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("--mark"), "{bad}: {e}");
        }
    }

    fn load(extra: &[&str]) -> Result<LoadPlan, LoadError> {
        let mut argv = vec!["load", "--target", "http://h/", "--out", "r", "--quiet"];
        argv.extend_from_slice(extra);
        LoadOpts::parse_from(argv).plan()
    }

    #[test]
    fn shed_retries_are_off_by_default_and_take_a_default_wait() {
        assert_eq!(load(&[]).unwrap().shed_retry, None);
        assert_eq!(
            load(&["--shed-retries", "3"]).unwrap().shed_retry,
            Some(ShedRetryPlan {
                retries: 3,
                max_wait: Duration::from_secs(30)
            })
        );
        assert_eq!(
            load(&["--shed-retries", "1", "--shed-retry-max-wait", "2.5"])
                .unwrap()
                .shed_retry,
            Some(ShedRetryPlan {
                retries: 1,
                max_wait: Duration::from_millis(2500)
            })
        );
    }

    #[test]
    fn bad_shed_retry_flags_are_refused_by_name() {
        for (args, flag, why) in [
            (&["--shed-retries", "101"][..], "--shed-retries", "1..=100"),
            (
                &["--shed-retries", "1", "--shed-retry-max-wait", "0s"],
                "--shed-retry-max-wait",
                "outside",
            ),
            (
                &["--shed-retries", "1", "--shed-retry-max-wait", "2h"],
                "--shed-retry-max-wait",
                "outside",
            ),
            (
                &["--shed-retry-max-wait", "5s"],
                "--shed-retry-max-wait",
                "needs --shed-retries",
            ),
            (
                &["--shed-retries", "0", "--shed-retry-max-wait", "5s"],
                "--shed-retry-max-wait",
                "needs --shed-retries",
            ),
        ] {
            let e = load(args).unwrap_err().to_string();
            assert!(e.starts_with(flag) && e.contains(why), "{args:?}: {e}");
        }
        assert!(
            LoadOpts::try_parse_from([
                "load",
                "--target",
                "t",
                "--out",
                "r",
                "--shed-retries",
                "-1"
            ])
            .is_err()
        );
    }
}
