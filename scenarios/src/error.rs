//! Errors of scenario files: each names the file, the line when known, the field path and why.

use std::fmt;
use std::path::PathBuf;

/// Where a field was written: the file and the 1-based line (0: not from a file, such as a
/// sweep's `--vary`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file as the user named it (or `--vary` for a sweep argument).
    pub file: String,
    /// 1-based line of the field in `file`; 0 when not from a file.
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
    /// The dotted field path (`rollout.max_surge`).
    pub path: String,
    /// Why the value is refused.
    pub reason: String,
    /// Where the field was written; `None` for a default or a combination.
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
    Read {
        /// The file (or shipped scenario name) asked for.
        file: String,
        /// The operating system's error, or why the shipped name is unknown.
        message: String,
    },
    /// The file is not valid TOML.
    #[error("{file}:{line}:{column}: TOML syntax: {message}")]
    Syntax {
        /// The file holding the syntax error.
        file: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The TOML parser's message.
        message: String,
    },
    /// `extends` is malformed, missing, or forms a cycle.
    #[error("{file}: extends: {message}")]
    Extends {
        /// The file whose `extends` failed.
        file: String,
        /// What is wrong: the missing file, the cycle, or the malformed value.
        message: String,
    },
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

/// Why run folders or summary files could not be read for `compare`.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    /// A file or folder could not be read.
    #[error("{}: cannot read: {source}", .path.display())]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not JSON of a summary or an aggregate.
    #[error("{}: not a summary: {source}", .path.display())]
    NotJson {
        /// The file.
        path: PathBuf,
        /// The JSON error, with line and column.
        source: serde_json::Error,
    },
    /// The file is JSON, but not an object.
    #[error("{}: not a summary: not a JSON object", .path.display())]
    NotObject {
        /// The file.
        path: PathBuf,
    },
    /// The file is a JSON object without the fields of a summary.
    #[error("{}: not a summary: missing {}", .path.display(), .fields.join(", "))]
    Missing {
        /// The file.
        path: PathBuf,
        /// The dotted paths of the fields it lacks.
        fields: Vec<String>,
    },
    /// A folder holds no `summary.json`, neither itself nor in its sub-folders.
    #[error("{}: no summary.json here or in its folders", .path.display())]
    NoSummary {
        /// The folder.
        path: PathBuf,
    },
}

/// Why a `--vary` argument is not a valid dimension of a sweep.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaryError {
    /// The argument has no `=` between the path and the values.
    #[error("{arg:?}: expected path=values, like lifecycle.prestop=0s..20s/1s")]
    NoEquals {
        /// The argument as given.
        arg: String,
    },
    /// The part before `=` is not a dotted field path.
    #[error("{path:?} is not a dotted field path like lifecycle.prestop")]
    BadPath {
        /// The path as given.
        path: String,
    },
    /// Nothing follows the `=`.
    #[error("{path}: no values after '='")]
    NoValues {
        /// The field path.
        path: String,
    },
    /// A range without `/STEP`.
    #[error("{path}: a range needs a step: {range}/STEP")]
    NoStep {
        /// The field path.
        path: String,
        /// The range as given, `FROM..TO`.
        range: String,
    },
    /// The range's ends or step are invalid (unparsable, a step of zero, too many levels).
    #[error("{path}: {reason}")]
    BadRange {
        /// The field path.
        path: String,
        /// Why the range is invalid.
        reason: String,
    },
}

/// Why a sweep could not be set up, run, read back or merged.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The sweep has no `--vary`.
    #[error("a sweep needs at least one --vary")]
    NoVary,
    /// Two `--vary` name the same field.
    #[error("--vary {path} is given twice")]
    VaryTwice {
        /// The field path.
        path: String,
    },
    /// The grid is larger than a sweep may be.
    #[error("the sweep has more than {max} points")]
    TooManyPoints {
        /// The most points a sweep may have.
        max: usize,
    },
    /// A `--vary` is invalid.
    #[error(transparent)]
    Vary(#[from] VaryError),
    /// A file of a sweep folder is invalid (its description, its grid).
    #[error("{}: {source}", .file.display())]
    InFile {
        /// The file.
        file: PathBuf,
        /// What is wrong in it.
        source: Box<SweepError>,
    },
    /// A `--vary` names a field no scenario has.
    #[error("--vary {path}: {reason}")]
    UnknownField {
        /// The field path as given.
        path: String,
        /// The loader's reason (`unknown field ..., expected one of ...`).
        reason: String,
    },
    /// Every point of a whole sweep is invalid: nothing was simulated.
    #[error("every point of the sweep is invalid; the first: point {point} ({settings}): {reason}")]
    NoValidPoint {
        /// The first point's index.
        point: usize,
        /// Its settings.
        settings: String,
        /// Why it is invalid.
        reason: String,
    },
    /// One seed of one point failed to simulate.
    #[error("point {point} ({settings}), seed {seed}: {source}")]
    Simulation {
        /// The point's index in the grid.
        point: usize,
        /// The point's settings, `path=label` for every `--vary`.
        settings: String,
        /// The seed.
        seed: u64,
        /// The simulator's error.
        source: models::SimError,
    },
    /// A file of a sweep folder could not be read.
    #[error("{}: cannot read: {source}", .file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `sweep.json` is not a sweep description.
    #[error("{}: not a sweep description: {source}", .file.display())]
    NotASweep {
        /// The file.
        file: PathBuf,
        /// The JSON error, with line and column.
        source: serde_json::Error,
    },
    /// The header of `sweep.csv` does not match `sweep.json`.
    #[error("{}: the header does not match sweep.json (expected {expected})", .file.display())]
    Header {
        /// The CSV file.
        file: PathBuf,
        /// The header `sweep.json` calls for.
        expected: String,
    },
    /// A row of `sweep.csv` is malformed.
    #[error("{}:{line}: malformed row", .file.display())]
    MalformedRow {
        /// The CSV file.
        file: PathBuf,
        /// The 1-based line.
        line: u64,
    },
    /// `merge` was given no folder.
    #[error("merge needs at least one shard folder")]
    NoShards,
    /// A shard belongs to a different sweep than the first.
    #[error("{}: a different sweep (scenario, seeds or --vary differ from {})", .dir.display(), .first.display())]
    DifferentSweep {
        /// The shard's folder.
        dir: PathBuf,
        /// The first shard's folder.
        first: PathBuf,
    },
    /// A shard is out of a different number of shards than the others.
    #[error("{}: shard {shard}, but the others are out of {n}", .dir.display())]
    ShardCount {
        /// The shard's folder.
        dir: PathBuf,
        /// The shard, `K/N`.
        shard: String,
        /// The number of shards of the others.
        n: usize,
    },
    /// The same shard was given twice.
    #[error("{}: shard {shard} given twice", .dir.display())]
    ShardTwice {
        /// The second folder holding it.
        dir: PathBuf,
        /// The shard, `K/N`.
        shard: String,
    },
    /// Some shards are missing.
    #[error("missing shards: {}", .shards.join(", "))]
    MissingShards {
        /// The missing shards, `K/N`.
        shards: Vec<String>,
    },
    /// The shards do not hold every point exactly once.
    #[error("the shards hold {rows} rows, not the {points} points 0..{points} once each")]
    RowCount {
        /// Rows found.
        rows: usize,
        /// Points of the grid.
        points: usize,
    },
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
