//! Shutdown evidence from the pods' own log lines, and the deregistration delay each old pod saw.

use std::collections::BTreeMap;

use measure::{OrderViolation, ShutdownStep, check_order};
use serde::Serialize;
use serde_json::Value;

/// One pod's logged lifecycle steps and its exit.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PodShutdown {
    /// The pod's name.
    pub pod: String,
    /// `(step, monotonic ns since the process started)`, in log order.
    pub steps: Vec<(ShutdownStep, u64)>,
    /// The `code` of the `exited` line, if the process logged one.
    pub logged_exit: Option<i64>,
    /// The container's exit code as the kubelet reported it (137 = SIGKILL).
    pub kubelet_exit: Option<i64>,
    /// Steps logged out of the order the levers require, each said in words.
    pub violations: Vec<String>,
    /// Required steps the pod never logged.
    pub missing: Vec<ShutdownStep>,
}

/// Reads lifecycle lines (JSON with `step` and `mono_ns`) from one pod's log text.
pub fn parse_pod_log(pod: &str, text: &str) -> PodShutdown {
    let mut out = PodShutdown {
        pod: pod.to_string(),
        ..Default::default()
    };
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line.trim()) else {
            continue;
        };
        let Some(step) = v
            .get("step")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<ShutdownStep>().ok())
        else {
            continue;
        };
        let t = v.get("mono_ns").and_then(Value::as_u64).unwrap_or(0);
        if step == ShutdownStep::Exited {
            out.logged_exit = v.get("code").and_then(Value::as_i64);
        }
        out.steps.push((step, t));
    }
    out
}

/// Checks the order of `shutdown`'s steps and that every step in `required` is there.
pub fn check(shutdown: &mut PodShutdown, required: &[ShutdownStep]) {
    shutdown.violations = check_order(&shutdown.steps)
        .iter()
        .map(OrderViolation::to_string)
        .collect();
    shutdown.missing = required
        .iter()
        .copied()
        .filter(|r| !shutdown.steps.iter().any(|(s, _)| s == r))
        .collect();
}

/// The steps a pod must log for a lever set: with pid1 off SIGTERM never reaches the process,
/// so nothing is required; with drain on, the whole drain sequence and a clean exit.
pub fn required_steps(pid1: bool, readiness: bool, drain: bool) -> Vec<ShutdownStep> {
    use ShutdownStep::*;
    if !pid1 {
        return Vec::new();
    }
    let mut r = vec![SigtermReceived];
    if readiness {
        r.push(ReadinessFailed);
    }
    if drain {
        r.extend([
            ListenerClosed,
            InflightDrained,
            KeepaliveClosed,
            WorkerStopped,
            PoolsClosed,
            Exited,
        ]);
    }
    r
}

/// Time from an old pod's deletion to the last request it served.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Deregistration {
    /// The old pod's name.
    pub pod: String,
    /// When its deletion was seen (Unix ns).
    pub deleted_epoch_ns: i64,
    /// When the last request it served ended (Unix ns), if any after the deletion.
    pub last_request_epoch_ns: Option<i64>,
    /// `last request - deletion`, ms; negative when the pod got no request after its deletion.
    pub delay_ms: Option<f64>,
}

/// Per deleted pod: the last request it served (by actual send time) after its deletion.
pub(crate) fn deregistration(
    deleted: &BTreeMap<String, i64>,
    last_served: &BTreeMap<String, i64>,
) -> Vec<Deregistration> {
    deleted
        .iter()
        .map(|(pod, &del)| {
            let last = last_served.get(pod).copied();
            Deregistration {
                pod: pod.clone(),
                deleted_epoch_ns: del,
                last_request_epoch_ns: last,
                delay_ms: last.map(|l| (l - del) as f64 / 1e6),
            }
        })
        .collect()
}

/// A markdown table of the pods' shutdown evidence; `checked`: whether the order was checked
/// (not for a third party's application, which logs no lifecycle lines).
pub(crate) fn markdown(pods: &[PodShutdown], checked: bool) -> String {
    let mut s = String::from(
        "| pod | steps (ms after SIGTERM) | logged exit | kubelet exit | order | missing |\n|---|---|---|---|---|---|\n",
    );
    for p in pods {
        let t0 = p
            .steps
            .iter()
            .find(|(s, _)| *s == ShutdownStep::SigtermReceived)
            .map(|&(_, t)| t);
        let steps = p
            .steps
            .iter()
            .map(|(s, t)| match t0 {
                Some(t0) if *t >= t0 => format!("{s}@{:.0}", (*t - t0) as f64 / 1e6),
                _ => s.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" → ");
        let opt = |x: Option<i64>| x.map_or("-".to_string(), |c| c.to_string());
        let order = if !checked {
            "not checked".to_string()
        } else if p.violations.is_empty() {
            "ok".to_string()
        } else {
            p.violations.join("; ")
        };
        let missing = p
            .missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        s += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            p.pod,
            if steps.is_empty() {
                "(none)".into()
            } else {
                steps
            },
            opt(p.logged_exit),
            opt(p.kubelet_exit),
            order,
            if missing.is_empty() { "-" } else { &missing }
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_lines_are_read_and_checked() {
        let log = r#"{"step":"sigterm_received","mono_ns":100}
not json
{"message":"serving"}
{"step":"listener_closed","mono_ns":300}
{"step":"readiness_failed","mono_ns":400}
{"step":"exited","mono_ns":500,"code":0}"#;
        let mut p = parse_pod_log("p1", log);
        assert_eq!(p.steps.len(), 4);
        assert_eq!(p.logged_exit, Some(0));
        check(&mut p, &required_steps(true, true, true));
        assert_eq!(p.violations.len(), 1, "{:?}", p.violations);
        assert!(p.missing.contains(&ShutdownStep::InflightDrained));
        let checked = markdown(std::slice::from_ref(&p), true);
        assert!(checked.contains("| p1 |") && !checked.contains("not checked"));
        assert!(markdown(&[p], false).contains("| not checked |"));
    }

    #[test]
    fn delay_is_last_request_minus_deletion() {
        let deleted = BTreeMap::from([
            ("a".to_string(), 1_000_000_000),
            ("b".to_string(), 2_000_000_000),
        ]);
        let last = BTreeMap::from([("a".to_string(), 1_250_000_000)]);
        let d = deregistration(&deleted, &last);
        assert_eq!(d[0].delay_ms, Some(250.0));
        assert_eq!(d[1].delay_ms, None);
    }
}
