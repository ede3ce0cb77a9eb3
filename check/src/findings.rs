//! Findings: each compares settings the model uses, names them and the inequality that fails,
//! with numbers. They explain a prediction; the prediction itself comes from the simulator.

use models::{Fleet, OnSigterm};
use sim_core::SimDuration;

use crate::manifest::{Loc, Workload};
use crate::model::quantile;

/// One finding about one Deployment.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    /// `FS001`...
    pub id: &'static str,
    /// `prestop-shorter-than-lag`...
    pub name: &'static str,
    /// The settings involved, as `name = value`.
    pub settings: Vec<String>,
    /// The inequality that fails, with numbers.
    pub inequality: String,
    /// What it does to requests.
    pub effect: String,
    /// The manifest field to change.
    pub location: Loc,
}

/// Every rule: id, name and what it checks (docs/check.md's table).
pub const RULES: [(&str, &str, &str); 5] = [
    (
        "FS001",
        "prestop-shorter-than-lag",
        "preStop (+ app.keep_serving) ends before the balancer's p99 endpoint-removal lag: the pod stops listening while the balancer still routes to it",
    ),
    (
        "FS002",
        "grace-shorter-than-prestop-plus-drain",
        "terminationGracePeriodSeconds is shorter than preStop + keep_serving + the app's drain: SIGKILL cuts the drain",
    ),
    (
        "FS003",
        "no-readiness-probe",
        "no readinessProbe: a new pod is ready when its container starts, before it listens",
    ),
    (
        "FS004",
        "shell-entrypoint-swallows-sigterm",
        "`sh -c` as PID 1 does not pass SIGTERM on: the app serves until SIGKILL at the end of the grace period",
    ),
    (
        "FS005",
        "surge-zero",
        "maxSurge resolves to 0 pods: the rollout removes serving pods before their replacements are ready",
    ),
];

fn s(d: SimDuration) -> String {
    let v = d.as_secs_f64();
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0} s")
    } else {
        format!("{v:.2} s")
    }
}

fn rule(id: &str) -> (&'static str, &'static str) {
    let r = RULES.iter().find(|r| r.0 == id).expect("a known rule id");
    (r.0, r.1)
}

/// The findings for a workload and the fleet built from it (after the assumptions).
pub fn findings(w: &Workload, f: &Fleet) -> Vec<Finding> {
    let mut out = Vec::new();
    let plan = f.plan();
    let sh = &plan.shutdown;
    let preset = f.balancer.preset.name();
    // A sync limiter (kube-proxy's min_sync_period, Traefik's reload throttle) can hold a
    // change for its whole period on top of the sync's own time.
    let lag_p99 =
        quantile(&f.propagation.endpointslice, 0.99) + quantile(&plan.lag, 0.99) + plan.sync_wait();
    let throttled = if plan.sync.is_some() {
        format!(" (with its {} sync limit)", s(plan.sync_wait()))
    } else {
        String::new()
    };
    let stop_listening = sh.prestop + sh.keep_serving;
    let drain = if f.app.on_sigterm == OnSigterm::Drain {
        f.drain.timeout
    } else {
        SimDuration::ZERO
    };
    if sh.sigterm_delivered {
        if stop_listening < lag_p99 {
            let (id, name) = rule("FS001");
            out.push(Finding {
                id,
                name,
                settings: vec![
                    format!("preStop = {}", s(sh.prestop)),
                    format!("app.keep_serving = {} (assumed)", s(sh.keep_serving)),
                    format!("p99 endpoint lag of {preset}{}{throttled} = {}", f.balancer.via.map_or(String::new(), |v| format!(" via {}", v.name())), s(lag_p99)),
                ],
                inequality: format!("preStop {} + keep_serving {} < p99 lag of {preset}{throttled} {}", s(sh.prestop), s(sh.keep_serving), s(lag_p99)),
                effect: "requests reach the pod after it stops listening: refused connections (kube-proxy) or 502/503 (a proxy with no retry left)".into(),
                location: w.prestop_loc.clone(),
            });
        }
        let need = stop_listening + drain;
        if sh.grace < need {
            let (id, name) = rule("FS002");
            out.push(Finding {
                id,
                name,
                settings: vec![
                    format!("terminationGracePeriodSeconds = {}", s(sh.grace)),
                    format!("preStop = {}", s(sh.prestop)),
                    format!(
                        "app drain = {} (app.on_sigterm {:?}, assumed)",
                        s(drain),
                        f.app.on_sigterm
                    ),
                ],
                inequality: format!(
                    "grace {} < preStop {} + keep_serving {} + drain {}",
                    s(sh.grace),
                    s(sh.prestop),
                    s(sh.keep_serving),
                    s(drain)
                ),
                effect: "SIGKILL arrives before the drain ends: requests in flight are reset"
                    .into(),
                location: w.grace_loc.clone(),
            });
        }
    } else {
        let (id, name) = rule("FS004");
        let cmd = w
            .entrypoint
            .script
            .as_ref()
            .map_or(String::new(), |(_, _, sc)| format!(" ({sc:?})"));
        out.push(Finding {
            id,
            name,
            settings: vec![
                format!("command = sh -c{cmd}"),
                format!("terminationGracePeriodSeconds = {}", s(sh.grace)),
            ],
            inequality: format!("SIGTERM reaches the app: never; SIGKILL at grace {} after deletion", s(sh.grace)),
            effect: "the app serves until SIGKILL, then requests in flight and open connections are reset; each rollout step waits the whole grace period".into(),
            location: w.entrypoint_loc.clone(),
        });
    }
    if plan.probe.is_none() {
        let (id, name) = rule("FS003");
        out.push(Finding {
            id,
            name,
            settings: vec![format!("readinessProbe = none; startup {} (assumed)", describe(&f.pod.startup))],
            inequality: "ready at container start < listening at container start + startup".into(),
            effect: "a new pod gets traffic before it listens: refused connections, and the rollout removes old pods too early".into(),
            location: w.readiness_loc.clone(),
        });
    }
    if plan.max_surge == 0 {
        let (id, name) = rule("FS005");
        let r = f.pod.replicas;
        out.push(Finding {
            id,
            name,
            settings: vec![
                format!("maxSurge = {} -> {} pods", f.rollout.max_surge, plan.max_surge),
                format!("maxUnavailable = {} -> {} pods", f.rollout.max_unavailable, plan.max_unavailable),
                format!("replicas = {r}"),
            ],
            inequality: format!(
                "maxSurge 0 pods: ready pods during the rollout >= {} of {r} < {r}",
                r.saturating_sub(plan.max_unavailable)
            ),
            effect: "capacity dips while old pods are gone and new ones are not ready: queueing, timeouts, and with one replica no endpoint at all".into(),
            location: w.strategy_loc.clone(),
        });
    }
    out
}

fn describe(d: &sim_core::Dist) -> String {
    match d {
        sim_core::Dist::Constant { value } => s(*value),
        sim_core::Dist::Uniform { low, high } => format!("{}-{}", s(*low), s(*high)),
        other => format!("mean {}", s(other.mean())),
    }
}
