//! # check: `fleetsim check`, a rollout gate for Kubernetes manifests
//!
//! Reads the manifests a repository holds (multi-document YAML from files, folders and
//! standard input: the output of `kubectl kustomize`, `helm template` or `kubectl get -o
//! yaml`), maps each Deployment that a Service selects to a [`models::Fleet`] (the settings
//! the manifest has, keeping their file and line; what it cannot say comes from
//! [`Assumptions`], printed with every result), predicts its next rollout with the same
//! simulator and many-seed runner as `fleetsim run`, explains the prediction with
//! [`Finding`]s (each naming the settings and the inequality that fails, with numbers), and
//! searches for the smallest change that meets the budget ([`fix::search`]), given as a
//! strategic-merge patch.
//!
//! - [`yaml`]: YAML documents with the line of every node, and a block writer.
//! - [`manifest`]: inputs, kinds, and each Deployment's settings ([`manifest::Workload`]).
//! - [`model`]: workload + assumptions -> fleet -> [`model::Prediction`].
//! - [`findings`]: the rules FS001..FS005.
//! - [`fix`]: candidate changes, the search, the patch, `--fix` output.
//! - [`output`]: human, JSON (schema `fleetsim.check/1`), SARIF 2.1.0 and JUnit.
//!
//! Entry point: build a [`CheckPlan`], call [`run`], print with [`output::render`], exit with
//! [`Report::exit_code`] (0 within budget, 1 over; errors are exit code 2).
#![warn(missing_docs)]

pub mod error;
pub mod findings;
pub mod fix;
mod folder;
pub mod manifest;
pub mod model;
pub mod output;
pub mod yaml;

use std::path::PathBuf;

pub use error::CheckError;
pub use findings::Finding;
pub use fix::{Change, Fix};
pub use manifest::{MapOptions, Skipped, Workload};
pub use model::{Assumptions, Interval, Prediction, StreamPrediction};
pub use output::Format;

/// Everything a check needs, typed (the CLI turns its flags into this).
#[derive(Debug, Clone)]
pub struct CheckPlan {
    /// Files, folders, or `-` for standard input.
    pub inputs: Vec<PathBuf>,
    /// What the manifests cannot say.
    pub assumptions: Assumptions,
    /// `--proxy`: the balancer preset, overriding what the manifests suggest.
    pub proxy: Option<models::Preset>,
    /// Mean failed requests per rollout allowed, per Deployment.
    pub budget: f64,
    /// Search for the smallest fix when over budget.
    pub search_fix: bool,
    /// `--fix OUT`: write patched manifests to this new folder.
    pub fix_out: Option<PathBuf>,
    /// `--predictions OUT`: write each Deployment's predicted aggregate to
    /// `OUT/<name>-<connection>/summary.json` in this new folder (what `fleetsim validate`
    /// reads beside `fleetsim live`'s runs named `<name>`).
    pub predictions_out: Option<PathBuf>,
    /// An unknown kind is an error instead of being skipped.
    pub strict_kinds: bool,
    /// Threads for the seeds (results do not depend on it).
    pub threads: usize,
}

/// The result for one Deployment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeploymentReport {
    /// `namespace/name`.
    pub deployment: String,
    /// Where the Deployment is.
    pub location: manifest::Loc,
    /// Replicas simulated and where that number came from.
    pub replicas: u32,
    /// Where the replica count came from.
    pub replicas_from: String,
    /// The balancer read from the manifests (or `--proxy`).
    pub balancer: manifest::BalancerRead,
    /// The entrypoint form and whether the manifest said it.
    pub entrypoint: manifest::EntrypointRead,
    /// Notes on how the manifest was read.
    pub notes: Vec<String>,
    /// The predicted rollout.
    pub predicted: Prediction,
    /// `predicted.failed.mean <= budget`.
    pub within_budget: bool,
    /// The findings.
    pub findings: Vec<Finding>,
    /// The smallest fix within budget (`None` when within budget already, when not searched,
    /// or when no candidate meets the budget: see `fix_searched`).
    pub fix: Option<Fix>,
    /// A fix was searched for.
    pub fix_searched: bool,
}

/// A whole check.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Always `fleetsim.check/1`.
    pub schema: &'static str,
    /// The budget (mean failed requests per rollout per Deployment).
    pub budget: f64,
    /// The seeds each prediction ran.
    pub seeds: Vec<u64>,
    /// The assumptions, as given or defaulted.
    pub assumptions: Assumptions,
    /// Every assumption in words (also printed by the human format).
    pub assumed: Vec<String>,
    /// One entry per serving Deployment, in input order.
    pub deployments: Vec<DeploymentReport>,
    /// Deployments no Service selects (not simulated).
    pub not_serving: Vec<String>,
    /// Documents of kinds the check does not read.
    pub skipped: Vec<Skipped>,
    /// Notes on the input as a whole.
    pub notes: Vec<String>,
    /// Files `--fix` wrote.
    pub fixed_files: Vec<PathBuf>,
    /// Files `--predictions` wrote.
    pub prediction_files: Vec<PathBuf>,
}

/// The JSON schema name.
pub const SCHEMA: &str = "fleetsim.check/1";

impl Report {
    /// 0 when every Deployment is within budget, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.deployments.iter().all(|d| d.within_budget) {
            0
        } else {
            1
        }
    }
}

fn assumed(a: &Assumptions, proxy: Option<models::Preset>) -> Vec<String> {
    // A default line that --calibration or --set replaces in part says so, naming the fields:
    // the report never states a default the prediction did not use.
    let replaced = |fields: &[&str]| -> String {
        let hit = |k: &str| {
            fields
                .iter()
                .any(|f| k == *f || k.starts_with(&format!("{f}.")))
        };
        let mut by: Vec<String> = a
            .calibration
            .iter()
            .filter(|(k, _)| hit(k))
            .map(|(k, _)| format!("{k} (--calibration)"))
            .collect();
        by.extend(
            a.sets
                .iter()
                .filter(|(k, _)| hit(k))
                .map(|(k, v)| format!("{k}={v} (--set)")),
        );
        if by.is_empty() {
            String::new()
        } else {
            format!("; REPLACED by {}", by.join(", "))
        }
    };
    let mut v = vec![
        match a.rate {
            Some(r) => format!("load: {r} requests/s per Deployment, open loop (--rate)"),
            None => format!("load: {} requests/s per replica, open loop (default; --rate R sets the total per Deployment)", Assumptions::RATE_PER_REPLICA),
        } + &replaced(&["load"]),
        format!("service time: {} ms per request, 8 at once per pod (--service-time)", a.service_time_ms)
            + &replaced(&["pod.service_time", "pod.concurrency"]),
        format!("clients: {} connections (--connection new|keepalive; keepalive = 32 pooled connections)", a.connection)
            + &replaced(&["client"]),
        "application on SIGTERM: exits at once, no readiness failure, no extra serving time (model defaults; --set app.on_sigterm=drain, app.keep_serving=5s, app.fail_readiness=true)".to_string()
            + &replaced(&["app"]),
        "pods: start in 2-4 s, 2x slower for their first 20 s (model defaults; calibrate with fleetsim calibrate)".to_string()
            + &replaced(&["pod.startup", "pod.cold_start"]),
        format!("run: {} s of steady load before the rollout, 5 s after it; seeds {}..{}", a.baseline_s, a.first_seed, a.first_seed + a.seeds.saturating_sub(1))
            + &replaced(&["run"]),
    ];
    if let Some(p) = proxy {
        v.push(format!(
            "balancer: {} for every Deployment (--proxy)",
            p.name()
        ));
    }
    if !a.calibration.is_empty() {
        let fields: Vec<&str> = a.calibration.iter().map(|(k, _)| k.as_str()).collect();
        v.push(format!(
            "calibration (--calibration): {}",
            fields.join(", ")
        ));
    }
    for (k, val) in &a.sets {
        v.push(format!("--set {k}={val}"));
    }
    v
}

/// Reads, maps, predicts, explains and (when over budget) searches a fix for every serving
/// Deployment; writes `--fix` output when asked.
pub fn run(plan: &CheckPlan) -> Result<Report, CheckError> {
    let docs = manifest::read_inputs(&plan.inputs)?;
    let (objects, skipped) = manifest::classify(docs.clone(), plan.strict_kinds)?;
    let opts = MapOptions {
        proxy: plan.proxy,
        prestop_given: plan
            .assumptions
            .sets
            .iter()
            .any(|(k, _)| k == "lifecycle.prestop"),
    };
    let read = manifest::read(&objects, skipped, &opts)?;
    let a = &plan.assumptions;
    let seeds = scenarios::seed_list(a.first_seed, a.seeds as usize);
    let mut deployments = Vec::new();
    let mut patches = Vec::new();
    for w in &read.serving {
        let fleet = model::fleet_for(w, a)?;
        let predicted = model::predict(&w.id, &fleet, &seeds, plan.threads)?;
        let within = predicted.failed.mean <= plan.budget;
        let found = findings::findings(w, &fleet);
        let search = plan.search_fix && !within;
        let mut fix = if search {
            fix::search(w, a, plan.budget, &seeds, plan.threads)?
        } else {
            None
        };
        if search && fix.is_none() && !a.sets.iter().any(|(k, _)| k == "app.on_sigterm") {
            // No manifest change alone is enough: try again with the application draining on
            // SIGTERM (a code change the report names).
            let mut with_drain = a.clone();
            with_drain
                .sets
                .push(("app.on_sigterm".into(), "drain".into()));
            fix = fix::search(w, &with_drain, plan.budget, &seeds, plan.threads)?.map(|mut f| {
                f.requires_app_change = Some("app.on_sigterm = drain: the application stops accepting, closes keep-alives and finishes in-flight requests on SIGTERM (a code change; the patch alone is not enough)".into());
                f
            });
        }
        if let Some(f) = &fix {
            let node = yaml::parse(&f.patch, "patch")?.remove(0).root;
            patches.push((w.object.name.clone(), w.object.namespace.clone(), node));
        }
        deployments.push(DeploymentReport {
            deployment: w.id.clone(),
            location: w.object.loc(&w.object.doc.root, "kind"),
            replicas: w.replicas,
            replicas_from: w.replicas_from.clone(),
            balancer: w.balancer.clone(),
            entrypoint: w.entrypoint.clone(),
            notes: w.notes.clone(),
            predicted,
            within_budget: within,
            findings: found,
            fix,
            fix_searched: search,
        });
    }
    let fixed_files = match &plan.fix_out {
        Some(out) => fix::write_fixed(&docs, &patches, out)?,
        None => Vec::new(),
    };
    let prediction_files = match &plan.predictions_out {
        Some(out) => write_predictions(&read.serving, &deployments, &a.connection, out)?,
        None => Vec::new(),
    };
    Ok(Report {
        schema: SCHEMA,
        budget: plan.budget,
        seeds,
        assumptions: a.clone(),
        assumed: assumed(a, plan.proxy),
        deployments,
        not_serving: read.not_serving,
        skipped: read.skipped,
        notes: read.notes,
        fixed_files,
        prediction_files,
    })
}

/// Writes `OUT/<name>-<connection>/summary.json` for each Deployment (the aggregate of its
/// prediction) into a new folder, all or nothing: staged beside it, renamed at the end.
fn write_predictions(
    serving: &[Workload],
    deployments: &[DeploymentReport],
    connection: &str,
    out: &std::path::Path,
) -> Result<Vec<PathBuf>, CheckError> {
    let werr = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| CheckError::Write { path, source }
    };
    let mut names = std::collections::BTreeSet::new();
    for w in serving {
        let name = format!("{}-{connection}", w.object.name);
        if !names.insert(name.clone()) {
            return Err(CheckError::Write {
                path: out.join(&name),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!(
                        "two Deployments named {} (in different namespaces) would share the \
                         folder; check them one namespace at a time",
                        w.object.name
                    ),
                ),
            });
        }
    }
    folder::write_new_folder(out, "--predictions", |tmp| {
        let mut written = Vec::new();
        for (w, d) in serving.iter().zip(deployments) {
            let name = format!("{}-{connection}", w.object.name);
            let dir = tmp.join(&name);
            std::fs::create_dir_all(&dir).map_err(werr(&dir))?;
            let path = dir.join("summary.json");
            let mut text = serde_json::to_string_pretty(&d.predicted.aggregate)
                .map_err(|e| werr(&path)(std::io::Error::other(e)))?;
            text.push('\n');
            std::fs::write(&path, text).map_err(werr(&path))?;
            written.push(out.join(name).join("summary.json"));
        }
        Ok(written)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A default the prediction did not use is never stated as assumed without saying what
    /// replaced it.
    #[test]
    fn assumed_lines_name_what_calibration_and_set_replaced() {
        let a = Assumptions {
            calibration: vec![("pod.service_time".into(), toml::Value::String("1ms".into()))],
            sets: vec![
                ("app.on_sigterm".into(), "drain".into()),
                ("client.pool".into(), "16".into()),
            ],
            ..Assumptions::default()
        };
        let lines = assumed(&a, None);
        let line = |start: &str| lines.iter().find(|l| l.starts_with(start)).unwrap().clone();
        assert!(line("service time").ends_with("REPLACED by pod.service_time (--calibration)"));
        assert!(
            line("application on SIGTERM").ends_with("REPLACED by app.on_sigterm=drain (--set)")
        );
        assert!(line("clients").ends_with("REPLACED by client.pool=16 (--set)"));
        assert!(!line("pods").contains("REPLACED"));
        assert!(!line("run").contains("REPLACED"));
        assert!(
            assumed(&Assumptions::default(), None)
                .iter()
                .all(|l| !l.contains("REPLACED"))
        );
    }
}
