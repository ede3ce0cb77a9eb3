//! The errors of the generator and the analyzer.

use std::io;
use std::path::PathBuf;

/// Why a load run could not start or finish. Request failures are never errors: they are
/// outcomes on the records.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A setting of the plan is out of range; `field` names the flag.
    #[error("--{field}: {reason}")]
    Setting {
        /// The flag, without its dashes (`rate`, `clients`, `mark`...).
        field: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The target URL is not an `http://` URL with a host, or its host does not resolve.
    #[error("--target {url:?}: {reason}")]
    Target {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The open-files limit is too low for the keep-alive clients and SSE streams asked for, even
    /// after the generator raised its soft limit to the hard limit.
    #[error(
        "need ~{need} file descriptors for {clients} clients, but RLIMIT_NOFILE is {limit} (the \
         soft limit was raised to the hard limit; raise the hard limit, e.g. `ulimit -Hn` as \
         root or LimitNOFILE= in a systemd unit, or use fewer --clients)"
    )]
    FileDescriptors {
        /// Descriptors the run needs, roughly.
        need: u64,
        /// Keep-alive clients asked for.
        clients: u64,
        /// The process's open-files limit.
        limit: u64,
    },
    /// An operating-system resource the generator needs failed: the runtime, the timer, the
    /// record file, the control port.
    #[error("{what}")]
    Io {
        /// What the generator was doing.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl LoadError {
    /// Wraps an I/O error with what the generator was doing.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> LoadError {
        let what = what.into();
        move |source| LoadError::Io { what, source }
    }
}

/// Why record files could not be analyzed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// No record file was given.
    #[error("no record files")]
    NoRecords,
    /// A file could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A record file is not what `fleetsim load` writes (no header, another schema, two
    /// headers).
    #[error("read {}: {reason}", path.display())]
    Records {
        /// The record file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The ready-endpoint series (`--ready`) is malformed.
    #[error("read {}: {reason}", path.display())]
    Ready {
        /// The series file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A ready-endpoint series without a desired replica count anywhere.
    #[error("ready-endpoint series without a desired replica count: pass --desired")]
    NoDesired,
    /// The rollout marks are out of order.
    #[error("rollout_end ({end_ns} ns) before rollout_start ({start_ns} ns)")]
    RolloutOrder {
        /// The rollout start, ns from the merged origin.
        start_ns: i64,
        /// The rollout end, ns from the merged origin.
        end_ns: i64,
    },
    /// A bucket width out of its bounds (below 1 ms, or too many buckets for the run).
    #[error("{flag}: {reason}")]
    Bucket {
        /// The flag (`--bucket`, `--fine-bucket`).
        flag: &'static str,
        /// Why.
        reason: String,
    },
    /// `--late-threshold` is zero: every send would be late.
    #[error("--late-threshold: must be above 0 (every send is at least a little late)")]
    LateThreshold,
    /// A `--provenance` entry is not `KEY=VALUE`.
    #[error("--provenance {0:?}: expected KEY=VALUE")]
    Provenance(String),
    /// The summary could not be turned into JSON.
    #[error("summary to JSON")]
    Json(#[from] serde_json::Error),
}

impl AnalyzeError {
    /// Wraps an I/O error with the file it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> AnalyzeError {
        let path = path.into();
        move |source| AnalyzeError::Io { path, source }
    }
}
