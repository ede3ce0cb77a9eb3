//! The one error type of the crate: every variant names the output path.

use std::path::PathBuf;

/// Why a chart was not written. Every variant names the output file it was meant for.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The output path's extension names no format this crate writes (`.svg` and `.png` do).
    #[error("{}: unsupported output format {extension:?}: use .svg or .png", path.display())]
    UnsupportedFormat {
        /// The file the chart was meant for.
        path: PathBuf,
        /// Its extension, which no format here has.
        extension: String,
    },
    /// The input cannot be drawn as given (inconsistent shape, a reversed window...). Empty
    /// input is not an error: it gives an empty-state chart that says so.
    #[error("{}: invalid input: {reason}", path.display())]
    InvalidInput {
        /// The file the chart was meant for.
        path: PathBuf,
        /// What is wrong with the input.
        reason: String,
    },
    /// plotters failed while drawing (or the PNG encoder failed).
    #[error("{}: drawing failed: {reason}", path.display())]
    Render {
        /// The file the chart was meant for.
        path: PathBuf,
        /// The drawing library's message.
        reason: String,
    },
    /// The file could not be written.
    #[error("{}: cannot write: {source}", path.display())]
    Io {
        /// The file that could not be written.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}
