//! Why a check could not be made. Each variant names the file (and document, line and field
//! where there is one) and the reason; every one of them maps to exit code 2.

use std::path::PathBuf;

/// An input that cannot be read or mapped, an assumption that does not fit the model, or an
/// output that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// No input was given (no file, folder or `-`).
    #[error("no manifests given: name files, folders or - for standard input")]
    NoInput,
    /// A file or folder could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file given or found is not YAML, or is not UTF-8.
    #[error("{file}:{line}:{col}: not YAML: {reason}")]
    NotYaml {
        /// The file (`-` for standard input).
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// The parser's message.
        reason: String,
    },
    /// A document is YAML but not a manifest the check can map: a field has the wrong type or
    /// a value Kubernetes would reject, a Service selects a Deployment with no container port,
    /// an ingress class has no preset, an annotation the check reads (a load balancer
    /// controller's, `field` = `metadata.annotations[NAME]`) has a value that does not parse
    /// or that its controller or the model does not take.
    #[error("{file}:{line}: {document}: {field}: {reason}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line of the field (of the document when the field is absent).
        line: usize,
        /// `Kind/name` of the document, or `document N` when it has neither.
        document: String,
        /// The field's path in the document, e.g. `spec.strategy.rollingUpdate.maxSurge`.
        field: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A document of a kind the check does not read, with `--strict-kinds`.
    #[error(
        "{file}:{line}: {kind}/{name}: kind {kind} is not read by fleetsim check (Deployment, Service, Ingress, HorizontalPodAutoscaler, PodDisruptionBudget, Namespace are); leave out --strict-kinds to skip it"
    )]
    UnknownKind {
        /// The file.
        file: String,
        /// 1-based line of the document.
        line: usize,
        /// The kind.
        kind: String,
        /// `metadata.name`.
        name: String,
    },
    /// An assumption (a flag or `--set FIELD=VALUE`) that does not fit the model, or a fleet
    /// the model rejects once the manifest's settings and the assumptions are combined.
    #[error("{deployment}: {field}: {reason}")]
    Assumption {
        /// The Deployment (`namespace/name`), or `--set` for a flag.
        deployment: String,
        /// The scenario field's dotted path.
        field: String,
        /// Why.
        reason: String,
    },
    /// The simulator refused a run (a conservation check failed); the seed is given so it can
    /// be replayed.
    #[error("{deployment}: seed {seed}: simulation failed: {message}")]
    Simulation {
        /// The Deployment.
        deployment: String,
        /// The seed that failed.
        seed: u64,
        /// The simulator's message.
        message: String,
    },
    /// An output could not be written (nothing partial is left behind).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}
