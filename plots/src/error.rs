//! The one error type of the crate: every variant names the output path.

use std::path::PathBuf;

/// Why a chart was not written. Every variant names the output file it was meant for.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The output path's extension names no format this crate writes (`.svg` and `.png` do).
    #[error("{}: unsupported output format {extension:?}: use .svg or .png", path.display())]
    UnsupportedFormat { path: PathBuf, extension: String },
    /// The input cannot be drawn as given (inconsistent shape, a reversed window...). Empty
    /// input is not an error: it gives an empty-state chart that says so.
    #[error("{}: invalid input: {reason}", path.display())]
    InvalidInput { path: PathBuf, reason: String },
    /// plotters failed while drawing (or the PNG encoder failed).
    #[error("{}: drawing failed: {reason}", path.display())]
    Render { path: PathBuf, reason: String },
    /// The file could not be written.
    #[error("{}: cannot write: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
