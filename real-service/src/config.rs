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

#[derive(Debug, Clone, Parser)]
#[command(
    name = "fleetsim-service",
    about = "The real service fleetsim models: one slow HTTP endpoint and one PostgreSQL queue worker, every shutdown lever switchable."
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

    /// Test hook (fault injection, not for production): after applying a job's side effect, wait
    /// this long before the ack, so a test can SIGKILL the worker between side effect and ack.
    #[arg(long, env = "FLEETSIM_TEST_PAUSE_AFTER_EFFECT", value_parser = parse_duration, hide = true)]
    pub test_pause_after_effect: Option<Duration>,
}

/// A configuration error: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: &'static str,
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

/// The longest `/work?ms=N` accepted.
pub const MAX_WORK: Duration = Duration::from_secs(600);

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
        if self.work_ms > MAX_WORK {
            errors.push(err(
                "FLEETSIM_WORK_MS",
                format!("{} is above the maximum {}", hd(self.work_ms), hd(MAX_WORK)),
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
