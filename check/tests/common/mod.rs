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

/// A Deployment `web` (3 replicas, selector `app: web`) with `extra_spec` lines in its spec
/// and `container_extra` lines under its one container.
pub(crate) fn deployment(extra_spec: &str, container_extra: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
{extra_spec}  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: example/web:1
{container_extra}"
    )
}

/// The container's port lines (8080).
pub(crate) const PORT: &str = "        ports:\n        - containerPort: 8080\n";
