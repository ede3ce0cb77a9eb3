//! Errors of scenario files: each names the file, the line when known, the field path and why.

use std::fmt;

/// Where a field was written: the file and the 1-based line (0: not from a file, such as a
/// sweep's `--vary`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// One invalid field: its dotted path (`rollout.max_surge`), the reason, and where it was
/// written when that is known (a default that is invalid in combination has no line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub reason: String,
    pub origin: Option<Origin>,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(o) = &self.origin {
            write!(f, "{o}: ")?;
        }
        if self.path.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
        }
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read (or, for a shipped name, does not exist).
    #[error("{file}: cannot read: {message}")]
    Read { file: String, message: String },
    /// The file is not valid TOML.
    #[error("{file}:{line}:{column}: TOML syntax: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// `extends` is malformed, missing, or forms a cycle.
    #[error("{file}: extends: {message}")]
    Extends { file: String, message: String },
    /// One or more fields are invalid (wrong type, unknown, or rejected by validation).
    #[error("{}", join_lines(.0))]
    Invalid(Vec<FieldError>),
}

fn join_lines(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ScenarioError {
    /// The field errors, when the error is about fields.
    pub fn fields(&self) -> &[FieldError] {
        match self {
            ScenarioError::Invalid(v) => v,
            _ => &[],
        }
    }
}

/// 1-based line and column of a byte offset in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 8), (2, 3));
        assert_eq!(line_col(t, 999), (3, 1));
    }

    #[test]
    fn field_errors_print_origin_path_and_reason() {
        let e = FieldError {
            path: "rollout.max_surge".into(),
            reason: "maxSurge and maxUnavailable cannot both be 0".into(),
            origin: Some(Origin {
                file: "x.toml".into(),
                line: 4,
            }),
        };
        assert_eq!(
            e.to_string(),
            "x.toml:4: rollout.max_surge: maxSurge and maxUnavailable cannot both be 0"
        );
    }
}
