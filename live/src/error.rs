//! The errors of the live driver, calibration and the report.

use std::io;
use std::path::PathBuf;

/// Why a live run, a calibration or a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A setting is out of range; `field` names the flag.
    #[error("--{field}: {reason}")]
    Setting {
        /// The flag, without its dashes.
        field: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// kubectl could not be started.
    #[error("could not start {} (is kubectl installed? pass --kubectl)", kubectl.display())]
    KubectlStart {
        /// The kubectl binary.
        kubectl: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A kubectl command failed.
    #[error("kubectl {command} failed ({status}): {stderr}")]
    Kubectl {
        /// The arguments, joined.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A kubectl command printed something other than what was asked for.
    #[error("kubectl {command} printed no JSON")]
    KubectlOutput {
        /// The arguments, joined.
        command: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The cluster is not as the run needs it (a fleet that does not settle, a Service without
    /// a ClusterIP, an overlay that is not a directory).
    #[error("{0}")]
    Cluster(String),
    /// The job ledger answered something unexpected.
    #[error("ledger: {0}")]
    Ledger(String),
    /// A file could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A run directory lacks a file `fleetsim live` writes, or holds a malformed one.
    #[error("{}: {reason}", dir.display())]
    RunDir {
        /// The run directory (or the file).
        dir: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// The load generator failed.
    #[error("load generator")]
    Load(#[from] loadgen::LoadError),
    /// A generator thread panicked.
    #[error("a load generator thread panicked")]
    GeneratorPanicked,
    /// The analyzer failed.
    #[error("analysis")]
    Analyze(#[from] loadgen::AnalyzeError),
    /// A chart could not be drawn.
    #[error("chart")]
    Plot(#[from] plots::PlotError),
    /// A summary could not be turned into (or read from) JSON.
    #[error("JSON")]
    Json(#[from] serde_json::Error),
    /// `fleetsim validate` found no scenario with both a prediction and valid live runs.
    #[error(
        "no scenario has both a prediction under {} and valid live runs under {}{}",
        predicted.display(),
        observed.display(),
        if *left_out > 0 {
            format!(" ({left_out} live summaries of predicted scenarios were left out as invalid: the generator fell behind or the records are incomplete)")
        } else {
            String::new()
        }
    )]
    NothingToCompare {
        /// The predictions folder.
        predicted: PathBuf,
        /// The live runs folder.
        observed: PathBuf,
        /// Live summaries of predicted scenarios left out as invalid.
        left_out: usize,
    },
}

impl LiveError {
    /// Wraps an I/O error with the file it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> LiveError {
        let path = path.into();
        move |source| LiveError::Io { path, source }
    }
}

/// The result of the crate's functions.
pub type Result<T, E = LiveError> = std::result::Result<T, E>;
