//! Configuration: flags and environment (clap), validated at start.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

/// For the `*_MS` settings: a bare integer is milliseconds, else a duration as [`parse_duration`]
/// reads it.
fn parse_ms_or_duration(s: &str) -> Result<Duration, String> {
    match s.parse::<u64>() {
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(_) => parse_duration(s),
    }
}

/// A duration setting, read by the workspace's one parser (`measure::parse_duration`).
fn parse_duration(s: &str) -> Result<Duration, String> {
    measure::parse_duration(s).map_err(|e| {
        format!(
            "{} (expected a duration like \"250ms\" or \"5s\")",
            e.reason
        )
    })
}

/// The exit code of a guardian force-exit (the shutdown budget ran out).
pub const EXIT_GUARDIAN: i32 = 70;
/// The exit code when the drain ran out of time: requests still in flight or connections still
/// open at the drain deadline were dropped (the rest of the shutdown ran normally).
pub const EXIT_DRAIN_INCOMPLETE: i32 = 71;
/// The exit code when the drain lever is off: the process quits at once on SIGTERM, without
/// draining, and reports what a process killed by SIGTERM would (128 + 15).
pub const EXIT_NOT_DRAINED: i32 = 143;
/// The exit code for a configuration error.
pub const EXIT_CONFIG: i32 = 2;

/// The service's settings: every flag has a `FLEETSIM_*` environment variable, and
/// [`Config::validate`] refuses a combination that cannot work, naming the field.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "fleetsim-service",
    about = "The real service fleetsim models: one slow HTTP endpoint and one PostgreSQL queue worker, every shutdown lever switchable.",
    long_about = None
)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port; the bound address is logged).
    #[arg(long, env = "FLEETSIM_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    /// Name sent as `x-fleetsim-pod` on every response (default: the host name).
    #[arg(long, env = "FLEETSIM_POD_NAME")]
    pub pod_name: Option<String>,

    /// PostgreSQL URL for the queue and the ledger (needed by POST /jobs and the worker).
    #[arg(long, env = "FLEETSIM_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Default service time of GET /work (overridden per request by `?ms=N`).
    #[arg(long, env = "FLEETSIM_WORK_MS", default_value = "100ms", value_parser = parse_ms_or_duration)]
    pub work_ms: Duration,

    /// Lever readiness+preStop: /readyz fails as soon as SIGTERM arrives, then the service keeps
    /// serving through FLEETSIM_PRESTOP_WAIT before it closes anything.
    #[arg(long, env = "FLEETSIM_READINESS_LEVER", default_value_t = false, action = clap::ArgAction::Set)]
    pub readiness_lever: bool,

    /// Lever drain: stop accepting, finish in-flight, close keep-alives politely, close resources
    /// in reverse dependency order under the guardian. Off: close the listener and exit at once.
    #[arg(long, env = "FLEETSIM_DRAIN_LEVER", default_value_t = false, action = clap::ArgAction::Set)]
    pub drain_lever: bool,

    /// Lever requeue+idempotency: the worker stops taking jobs on SIGTERM and releases a job that
    /// cannot finish in the remaining budget; /work calls that cannot finish are refused with
    /// 503 + Retry-After; the side effect carries the job's idempotency key (a repeat is a no-op).
    #[arg(long, env = "FLEETSIM_REQUEUE_LEVER", default_value_t = false, action = clap::ArgAction::Set)]
    pub requeue_lever: bool,

    /// Lever surge+jitter (server half): keep-alive connections are closed at random times
    /// spread over FLEETSIM_JITTER_WINDOW instead of all at once.
    #[arg(long, env = "FLEETSIM_JITTER_LEVER", default_value_t = false, action = clap::ArgAction::Set)]
    pub jitter_lever: bool,

    /// In-process preStop wait (for platforms without hooks; 0s on Kubernetes, where the
    /// manifest's preStop sleep does this). Used only with the readiness lever.
    #[arg(long, env = "FLEETSIM_PRESTOP_WAIT", default_value = "0s", value_parser = parse_duration)]
    pub prestop_wait: Duration,

    /// How long the drain waits for in-flight requests and open connections.
    #[arg(long, env = "FLEETSIM_DRAIN_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub drain_timeout: Duration,

    /// Guardian budget from SIGTERM to forced exit (keep it below the kubelet's grace period,
    /// minus the manifest's preStop sleep).
    #[arg(long, env = "FLEETSIM_SHUTDOWN_BUDGET", default_value = "25s", value_parser = parse_duration)]
    pub shutdown_budget: Duration,

    /// Window over which the jitter lever spreads keep-alive closes.
    #[arg(long, env = "FLEETSIM_JITTER_WINDOW", default_value = "2s", value_parser = parse_duration)]
    pub jitter_window: Duration,

    /// Run the queue worker in this process.
    #[arg(long, env = "FLEETSIM_WORKER", default_value_t = false, action = clap::ArgAction::Set)]
    pub worker: bool,

    /// Default duration of one job's work (POST /jobs?ms=N overrides it per job).
    #[arg(long, env = "FLEETSIM_JOB_MS", default_value = "200ms", value_parser = parse_ms_or_duration)]
    pub job_ms: Duration,

    /// Lease a worker holds on a job; a job whose lease expires is redelivered.
    #[arg(long, env = "FLEETSIM_LEASE", default_value = "10s", value_parser = parse_duration)]
    pub lease: Duration,

    /// How often an idle worker polls the queue.
    #[arg(long, env = "FLEETSIM_POLL", default_value = "100ms", value_parser = parse_duration)]
    pub poll: Duration,

    /// Allow the fault-injection request parameter `GET /work?block=true` (a handler that blocks
    /// its runtime thread, for the guardian evidence). Off: such a request is refused with 403.
    #[arg(long, env = "FLEETSIM_FAULT_INJECTION", default_value_t = false, action = clap::ArgAction::Set)]
    pub fault_injection: bool,

    /// Longest service time a client may ask of GET /work with `?ms=N` (above: 400).
    #[arg(long, env = "FLEETSIM_MAX_WORK", default_value = "60s", value_parser = parse_duration)]
    pub max_work: Duration,

    /// How long a client may take to send a request's line and headers, counted from the start of
    /// the connection (first request) or from the end of the previous response (keep-alive: an
    /// idle keep-alive connection is closed after this long). Slower connections are closed.
    #[arg(long, env = "FLEETSIM_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,

    /// Most client connections open at once. At the cap the service stops accepting: new
    /// connections wait in the kernel's listen backlog until a connection closes.
    #[arg(long, env = "FLEETSIM_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: u32,

    /// Longest pause between accept attempts while accept(2) fails (EMFILE, ENFILE, ENOBUFS...):
    /// the pause starts at 5ms and doubles up to this.
    #[arg(long, env = "FLEETSIM_ACCEPT_BACKOFF_MAX", default_value = "1s", value_parser = parse_duration)]
    pub accept_backoff_max: Duration,

    /// Longest pause between the worker's claim attempts while the database fails: the pause
    /// starts at FLEETSIM_POLL, doubles per failure up to this, with jitter.
    #[arg(long, env = "FLEETSIM_CLAIM_BACKOFF_MAX", default_value = "5s", value_parser = parse_duration)]
    pub claim_backoff_max: Duration,

    /// Test hook (fault injection, not for production): after applying a job's side effect, wait
    /// this long before the ack, so a test can SIGKILL the worker between side effect and ack.
    #[arg(long, env = "FLEETSIM_TEST_PAUSE_AFTER_EFFECT", value_parser = parse_duration, hide = true)]
    pub test_pause_after_effect: Option<Duration>,
}

/// A configuration error: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The flag's environment variable (`FLEETSIM_DRAIN_TIMEOUT`, ...).
    pub field: &'static str,
    /// Why the value, or its combination with another, cannot work.
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid configuration: {}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ConfigError {}

fn err(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        field,
        reason: reason.into(),
    }
}

fn hd(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// The highest FLEETSIM_MAX_WORK (the longest `/work?ms=N` that can be allowed at all).
pub(crate) const MAX_WORK: Duration = Duration::from_secs(600);
/// Bounds of FLEETSIM_HEADER_READ_TIMEOUT.
pub(crate) const HEADER_READ_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(300));
/// Bounds of FLEETSIM_MAX_CONNECTIONS.
pub(crate) const MAX_CONNECTIONS_RANGE: (u32, u32) = (1, 1_000_000);
/// The first pause of the accept backoff, and the bounds of FLEETSIM_ACCEPT_BACKOFF_MAX.
pub(crate) const ACCEPT_BACKOFF_START: Duration = Duration::from_millis(5);
pub(crate) const ACCEPT_BACKOFF_MAX_LIMIT: Duration = Duration::from_secs(60);
/// The upper bound of FLEETSIM_CLAIM_BACKOFF_MAX (its lower bound is FLEETSIM_POLL).
pub(crate) const CLAIM_BACKOFF_MAX_LIMIT: Duration = Duration::from_secs(300);
/// Descriptors kept out of FLEETSIM_MAX_CONNECTIONS for the listener, the database pool, the
/// standard streams and the runtime: a cap above the descriptor limit minus this is warned about
/// at start (accept(2) would fail with EMFILE before the cap is reached, and back off).
pub(crate) const DESCRIPTOR_RESERVE: u64 = 64;

fn out_of_range(value: String, lo: String, hi: String) -> String {
    format!("{value} is out of range: must be between {lo} and {hi}")
}

impl Config {
    /// Check the values against each other; every error names the field and the reason.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        if let Some(p) = &self.pod_name
            && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_graphic()))
        {
            errors.push(err(
                "FLEETSIM_POD_NAME",
                "must be non-empty printable ASCII without spaces (it is sent as a header)",
            ));
        }
        if self.max_work.is_zero() || self.max_work > MAX_WORK {
            errors.push(err(
                "FLEETSIM_MAX_WORK",
                out_of_range(hd(self.max_work), "1ms".into(), hd(MAX_WORK)),
            ));
        } else if self.work_ms > self.max_work {
            errors.push(err(
                "FLEETSIM_WORK_MS",
                format!(
                    "{} is above FLEETSIM_MAX_WORK {}",
                    hd(self.work_ms),
                    hd(self.max_work)
                ),
            ));
        }
        let (lo, hi) = HEADER_READ_TIMEOUT_RANGE;
        if !(lo..=hi).contains(&self.header_read_timeout) {
            errors.push(err(
                "FLEETSIM_HEADER_READ_TIMEOUT",
                out_of_range(hd(self.header_read_timeout), hd(lo), hd(hi)),
            ));
        }
        let (lo, hi) = MAX_CONNECTIONS_RANGE;
        if !(lo..=hi).contains(&self.max_connections) {
            errors.push(err(
                "FLEETSIM_MAX_CONNECTIONS",
                out_of_range(
                    self.max_connections.to_string(),
                    lo.to_string(),
                    hi.to_string(),
                ),
            ));
        }
        if !(ACCEPT_BACKOFF_START..=ACCEPT_BACKOFF_MAX_LIMIT).contains(&self.accept_backoff_max) {
            errors.push(err(
                "FLEETSIM_ACCEPT_BACKOFF_MAX",
                out_of_range(
                    hd(self.accept_backoff_max),
                    hd(ACCEPT_BACKOFF_START),
                    hd(ACCEPT_BACKOFF_MAX_LIMIT),
                ),
            ));
        }
        if self.claim_backoff_max < self.poll || self.claim_backoff_max > CLAIM_BACKOFF_MAX_LIMIT {
            errors.push(err(
                "FLEETSIM_CLAIM_BACKOFF_MAX",
                out_of_range(
                    hd(self.claim_backoff_max),
                    format!("FLEETSIM_POLL ({})", hd(self.poll)),
                    hd(CLAIM_BACKOFF_MAX_LIMIT),
                ),
            ));
        }
        if self.shutdown_budget.is_zero() {
            errors.push(err("FLEETSIM_SHUTDOWN_BUDGET", "must be above 0s"));
        }
        if self.drain_lever && self.drain_timeout.is_zero() {
            errors.push(err(
                "FLEETSIM_DRAIN_TIMEOUT",
                "must be above 0s when the drain lever is on",
            ));
        }
        let prestop = if self.readiness_lever {
            self.prestop_wait
        } else {
            Duration::ZERO
        };
        if self.drain_lever && prestop + self.drain_timeout >= self.shutdown_budget {
            errors.push(err(
                "FLEETSIM_SHUTDOWN_BUDGET",
                format!(
                    "must be above FLEETSIM_PRESTOP_WAIT + FLEETSIM_DRAIN_TIMEOUT ({} + {}), leaving time to stop the worker and close the pool before the guardian fires",
                    hd(prestop),
                    hd(self.drain_timeout)
                ),
            ));
        }
        if !self.readiness_lever && !self.prestop_wait.is_zero() {
            errors.push(err(
                "FLEETSIM_PRESTOP_WAIT",
                "is set but FLEETSIM_READINESS_LEVER is off (the wait belongs to that lever)",
            ));
        }
        if self.jitter_lever && self.jitter_window.is_zero() {
            errors.push(err(
                "FLEETSIM_JITTER_WINDOW",
                "must be above 0s when the jitter lever is on",
            ));
        }
        if self.jitter_lever && self.drain_lever && self.jitter_window > self.drain_timeout {
            errors.push(err(
                "FLEETSIM_JITTER_WINDOW",
                format!("{} is longer than FLEETSIM_DRAIN_TIMEOUT {}: connections would be cut before their jittered close", hd(self.jitter_window), hd(self.drain_timeout)),
            ));
        }
        if self.worker && self.database_url.is_none() {
            errors.push(err(
                "FLEETSIM_DATABASE_URL",
                "is required when FLEETSIM_WORKER is on",
            ));
        }
        if let Some(url) = &self.database_url
            && let Err(e) = url.parse::<tokio_postgres::Config>()
        {
            errors.push(err(
                "FLEETSIM_DATABASE_URL",
                format!("cannot be parsed: {e}"),
            ));
        }
        if self.lease < Duration::from_millis(100) {
            errors.push(err("FLEETSIM_LEASE", "must be at least 100ms"));
        }
        if self.job_ms >= self.lease {
            errors.push(err(
                "FLEETSIM_JOB_MS",
                format!("{} must be below FLEETSIM_LEASE {} (or every job would be redelivered while it runs)", hd(self.job_ms), hd(self.lease)),
            ));
        }
        if self.poll.is_zero() {
            errors.push(err("FLEETSIM_POLL", "must be above 0s"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The pod name: the flag/env, else the host name.
    pub fn pod(&self) -> String {
        self.pod_name.clone().unwrap_or_else(hostname)
    }

    /// The lever set and the timings, as one JSON object (printed at start-up).
    pub fn levers_json(&self) -> serde_json::Value {
        serde_json::json!({
            "readiness": self.readiness_lever,
            "drain": self.drain_lever,
            "requeue": self.requeue_lever,
            "jitter": self.jitter_lever,
            "pid1": "entrypoint form (exec-form.sh or shell-form.sh), not a setting of this process",
            "prestop_wait": hd(self.prestop_wait),
            "drain_timeout": hd(self.drain_timeout),
            "shutdown_budget": hd(self.shutdown_budget),
            "jitter_window": hd(self.jitter_window),
            "worker": self.worker,
            "work_ms": hd(self.work_ms),
            "job_ms": hd(self.job_ms),
            "lease": hd(self.lease),
            "database": self.database_url.is_some(),
            "fault_injection": self.fault_injection,
            "max_work": hd(self.max_work),
            "header_read_timeout": hd(self.header_read_timeout),
            "max_connections": self.max_connections,
            "accept_backoff_max": hd(self.accept_backoff_max),
            "claim_backoff_max": hd(self.claim_backoff_max),
        })
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        let name = String::from_utf8_lossy(&buf[..end]).into_owned();
        if !name.is_empty() {
            return name;
        }
    }
    "unknown".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Config {
        let mut v = vec!["fleetsim-service"];
        v.extend_from_slice(args);
        Config::try_parse_from(v).unwrap()
    }

    #[test]
    fn defaults_are_valid() {
        parse(&[]).validate().unwrap();
    }

    #[test]
    fn budget_must_cover_prestop_and_drain() {
        let with_budget = |budget: &str| {
            parse(&[
                "--readiness-lever",
                "true",
                "--drain-lever",
                "true",
                "--prestop-wait",
                "10s",
                "--drain-timeout",
                "10s",
                "--shutdown-budget",
                budget,
            ])
        };
        let e = with_budget("20s").validate().unwrap_err();
        assert_eq!(e[0].field, "FLEETSIM_SHUTDOWN_BUDGET", "{e:?}");
        with_budget("21s").validate().unwrap();
    }

    #[test]
    fn each_bad_field_is_named() {
        let c = parse(&["--worker", "true", "--job-ms", "20s", "--lease", "10s"]);
        let fields: Vec<_> = c
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, vec!["FLEETSIM_DATABASE_URL", "FLEETSIM_JOB_MS"]);
        let c = parse(&[
            "--jitter-lever",
            "true",
            "--drain-lever",
            "true",
            "--jitter-window",
            "20s",
            "--drain-timeout",
            "5s",
            "--shutdown-budget",
            "10s",
        ]);
        let fields: Vec<_> = c
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, vec!["FLEETSIM_JITTER_WINDOW"]);
        let c = parse(&["--prestop-wait", "3s"]);
        assert_eq!(c.validate().unwrap_err()[0].field, "FLEETSIM_PRESTOP_WAIT");
    }

    #[test]
    fn hostile_input_settings_are_bounded_and_named() {
        let fields = |args: &[&str]| -> Vec<&'static str> {
            parse(args)
                .validate()
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(
            fields(&["--header-read-timeout", "50ms"]),
            vec!["FLEETSIM_HEADER_READ_TIMEOUT"]
        );
        assert_eq!(
            fields(&["--header-read-timeout", "301s"]),
            vec!["FLEETSIM_HEADER_READ_TIMEOUT"]
        );
        assert!(fields(&["--header-read-timeout", "100ms"]).is_empty());
        assert_eq!(
            fields(&["--max-connections", "0"]),
            vec!["FLEETSIM_MAX_CONNECTIONS"]
        );
        assert!(fields(&["--max-connections", "1"]).is_empty());
        assert_eq!(
            fields(&["--accept-backoff-max", "1ms"]),
            vec!["FLEETSIM_ACCEPT_BACKOFF_MAX"]
        );
        assert_eq!(
            fields(&["--claim-backoff-max", "50ms"]),
            vec!["FLEETSIM_CLAIM_BACKOFF_MAX"],
            "below FLEETSIM_POLL (100ms)"
        );
        assert_eq!(fields(&["--max-work", "0s"]), vec!["FLEETSIM_MAX_WORK"]);
        assert_eq!(fields(&["--max-work", "601s"]), vec!["FLEETSIM_MAX_WORK"]);
        assert_eq!(
            fields(&["--max-work", "1s", "--work-ms", "2s"]),
            vec!["FLEETSIM_WORK_MS"]
        );
        let e = parse(&["--max-connections", "0"]).validate().unwrap_err();
        assert!(
            e[0].to_string().contains("between 1 and 1000000"),
            "{}",
            e[0]
        );
        assert!(
            !parse(&[]).fault_injection,
            "fault injection is off by default"
        );
    }

    #[test]
    fn ms_settings_take_bare_milliseconds() {
        let c = parse(&["--work-ms", "50", "--job-ms", "1500"]);
        assert_eq!(c.work_ms, Duration::from_millis(50));
        assert_eq!(c.job_ms, Duration::from_millis(1500));
        assert_eq!(parse(&["--work-ms", "2s"]).work_ms, Duration::from_secs(2));
        assert!(
            Config::try_parse_from(["x", "--lease", "30"]).is_err(),
            "only *_MS take bare numbers"
        );
    }

    #[test]
    fn bad_duration_is_a_parse_error() {
        let e = Config::try_parse_from(["x", "--drain-timeout", "soon"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("drain-timeout") && e.contains("expected a duration"),
            "{e}"
        );
    }
}
