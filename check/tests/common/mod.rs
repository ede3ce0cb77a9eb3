//! What the check tests share: manifests written to a temporary folder, and the plan that
//! checks them with two seeds.

use std::path::PathBuf;

use check::{Assumptions, CheckPlan};

/// `text` written as `m.yaml` in a fresh temporary folder (kept while the guard lives).
pub(crate) fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.yaml");
    std::fs::write(&p, text).unwrap();
    (dir, p)
}

/// Checks `p` with 2 seeds on one thread, nothing else changed.
pub(crate) fn plan(p: PathBuf) -> CheckPlan {
    CheckPlan {
        inputs: vec![p],
        assumptions: Assumptions {
            seeds: 2,
            ..Assumptions::default()
        },
        proxy: None,
        budget: 0.0,
        search_fix: false,
        fix_out: None,
        predictions_out: None,
        strict_kinds: false,
        threads: 1,
    }
}
