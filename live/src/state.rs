//! What the watches saw, on one clock (Unix epoch nanoseconds): pods, ready endpoints, and the
//! rollout's start and end derived from them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The type of a Kubernetes watch event (`type` of `kubectl get --watch --output-watch-events`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum WatchEvent {
    /// The object appeared (or was listed when the watch began).
    Added,
    /// The object changed.
    Modified,
    /// The object is gone.
    Deleted,
}

impl WatchEvent {
    /// Reads the event type; `BOOKMARK`, `ERROR` and anything else are not object events.
    pub(crate) fn parse(s: &str) -> Option<WatchEvent> {
        match s {
            "ADDED" => Some(WatchEvent::Added),
            "MODIFIED" => Some(WatchEvent::Modified),
            "DELETED" => Some(WatchEvent::Deleted),
            _ => None,
        }
    }
}

/// One pod as a watch event showed it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct PodEvent {
    /// When the watch delivered it, Unix epoch ns.
    pub epoch_ns: i64,
    /// The watch event's type.
    pub kind: WatchEvent,
    /// The pod's name.
    pub name: String,
    /// The `pod-template-hash` label: which ReplicaSet (old or new) the pod belongs to.
    pub template: String,
    /// The pod's phase (`Pending`, `Running`...).
    pub phase: String,
    /// The pod's Ready condition is true.
    pub ready: bool,
    /// The pod has a deletionTimestamp (it is terminating).
    pub terminating: bool,
    /// Exit code of the service container once it terminated.
    pub exit_code: Option<i64>,
    /// Image ID (digest) of the service container, when running.
    pub image_id: Option<String>,
    /// The node the pod is scheduled on (`spec.nodeName`), once it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl PodEvent {
    /// Reads a watch event (`{"type", "object"}`) of a pod.
    pub(crate) fn from_watch(epoch_ns: i64, event: &Value) -> Option<PodEvent> {
        let obj = event.get("object")?;
        let meta = obj.get("metadata")?;
        let status = obj.get("status");
        let ready = status
            .and_then(|s| s.get("conditions"))
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
        let container = status
            .and_then(|s| s.get("containerStatuses"))
            .and_then(Value::as_array)
            .and_then(|cs| cs.first());
        let exit_code = container.and_then(|c| {
            c.pointer("/state/terminated/exitCode")
                .or_else(|| c.pointer("/lastState/terminated/exitCode"))
                .and_then(Value::as_i64)
        });
        Some(PodEvent {
            epoch_ns,
            kind: WatchEvent::parse(event.get("type")?.as_str()?)?,
            name: meta.get("name")?.as_str()?.to_string(),
            template: meta
                .pointer("/labels/pod-template-hash")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            phase: status
                .and_then(|s| s.get("phase"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            ready,
            terminating: meta.get("deletionTimestamp").is_some_and(|d| !d.is_null()),
            exit_code,
            image_id: container
                .and_then(|c| c.get("imageID"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            node: obj
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        })
    }
}

/// Ready endpoints of one EndpointSlice at one moment.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub(crate) struct SliceEvent {
    /// When the watch delivered it, Unix epoch ns.
    pub epoch_ns: i64,
    /// The watch event's type.
    pub kind: WatchEvent,
    /// The slice's name.
    pub slice: String,
    /// Endpoints whose `conditions.ready` is true.
    pub ready: u32,
    /// Endpoints that are terminating but still serving.
    pub serving_terminating: u32,
}

impl SliceEvent {
    /// Reads a watch event (`{"type", "object"}`) of an EndpointSlice.
    pub(crate) fn from_watch(epoch_ns: i64, event: &Value) -> Option<SliceEvent> {
        let obj = event.get("object")?;
        let endpoints = obj.get("endpoints").and_then(Value::as_array);
        let count = |f: &dyn Fn(&Value) -> bool| {
            endpoints.map_or(0, |es| es.iter().filter(|e| f(e)).count() as u32)
        };
        Some(SliceEvent {
            epoch_ns,
            kind: WatchEvent::parse(event.get("type")?.as_str()?)?,
            slice: obj.pointer("/metadata/name")?.as_str()?.to_string(),
            ready: count(&|e| e.pointer("/conditions/ready") == Some(&Value::Bool(true))),
            serving_terminating: count(&|e| {
                e.pointer("/conditions/serving") == Some(&Value::Bool(true))
                    && e.pointer("/conditions/terminating") == Some(&Value::Bool(true))
            }),
        })
    }
}

/// The ready-endpoint step series (sum over slices) from slice events in arrival order.
pub(crate) fn ready_series(events: &[SliceEvent]) -> Vec<(i64, u32)> {
    let mut per_slice: BTreeMap<&str, u32> = BTreeMap::new();
    let mut out: Vec<(i64, u32)> = Vec::new();
    for e in events {
        if e.kind == WatchEvent::Deleted {
            per_slice.remove(e.slice.as_str());
        } else {
            per_slice.insert(e.slice.as_str(), e.ready);
        }
        let total = per_slice.values().sum();
        if out.last().map(|&(_, r)| r) != Some(total) {
            out.push((e.epoch_ns, total));
        }
    }
    out
}

/// When the rollout started and ended, as docs/measurement.md defines it: from the first pod
/// change after the trigger to the moment every new pod is ready and every old pod is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutSpan {
    /// The first pod change after the trigger (Unix ns).
    pub start_epoch_ns: i64,
    /// Every new pod ready and every old pod gone (Unix ns).
    pub end_epoch_ns: i64,
}

/// Finds the rollout in `events` (arrival order). `old` are the template hashes running before
/// the trigger at `trigger_epoch_ns`; `replicas` the desired count. `None` until it has ended.
pub(crate) fn rollout_span(
    events: &[PodEvent],
    old: &[String],
    trigger_epoch_ns: i64,
    replicas: u32,
) -> Option<RolloutSpan> {
    let mut start = None;
    let mut pods: BTreeMap<&str, &PodEvent> = BTreeMap::new();
    for e in events {
        if e.kind == WatchEvent::Deleted {
            pods.remove(e.name.as_str());
        } else {
            pods.insert(e.name.as_str(), e);
        }
        if e.epoch_ns < trigger_epoch_ns {
            continue;
        }
        let changed = !old.contains(&e.template) || e.terminating || e.kind == WatchEvent::Deleted;
        if start.is_none() && changed {
            start = Some(e.epoch_ns);
        }
        if let Some(s) = start {
            let old_left = pods.values().any(|p| old.contains(&p.template));
            let new_ready = pods
                .values()
                .filter(|p| !old.contains(&p.template) && p.ready && !p.terminating)
                .count() as u32;
            if !old_left && new_ready >= replicas {
                return Some(RolloutSpan {
                    start_epoch_ns: s,
                    end_epoch_ns: e.epoch_ns,
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(
        t: i64,
        kind: WatchEvent,
        name: &str,
        template: &str,
        ready: bool,
        terminating: bool,
    ) -> PodEvent {
        PodEvent {
            epoch_ns: t,
            kind,
            name: name.into(),
            template: template.into(),
            phase: "Running".into(),
            ready,
            terminating,
            exit_code: None,
            image_id: None,
            node: None,
        }
    }

    #[test]
    fn rollout_runs_from_first_change_to_last_old_pod_gone() {
        let old = vec!["a".to_string()];
        let ev = vec![
            pod(0, WatchEvent::Added, "a1", "a", true, false),
            pod(0, WatchEvent::Added, "a2", "a", true, false),
            pod(10, WatchEvent::Added, "b1", "b", false, false), // first change after the trigger at 5
            pod(20, WatchEvent::Modified, "b1", "b", true, false),
            pod(21, WatchEvent::Modified, "a1", "a", false, true),
            pod(30, WatchEvent::Deleted, "a1", "a", false, true),
            pod(31, WatchEvent::Added, "b2", "b", false, false),
            pod(40, WatchEvent::Modified, "b2", "b", true, false),
            pod(41, WatchEvent::Modified, "a2", "a", false, true),
        ];
        assert_eq!(rollout_span(&ev, &old, 5, 2), None, "a2 is still there");
        let mut ev = ev;
        ev.push(pod(50, WatchEvent::Deleted, "a2", "a", false, true));
        assert_eq!(
            rollout_span(&ev, &old, 5, 2),
            Some(RolloutSpan {
                start_epoch_ns: 10,
                end_epoch_ns: 50
            })
        );
    }

    #[test]
    fn ready_series_sums_slices_and_drops_repeats() {
        let s = |t, kind: WatchEvent, slice: &str, ready| SliceEvent {
            epoch_ns: t,
            kind,
            slice: slice.into(),
            ready,
            serving_terminating: 0,
        };
        let ev = vec![
            s(0, WatchEvent::Added, "x", 2),
            s(1, WatchEvent::Added, "y", 1),
            s(2, WatchEvent::Modified, "x", 2),
            s(3, WatchEvent::Modified, "x", 1),
            s(4, WatchEvent::Deleted, "y", 0),
        ];
        assert_eq!(ready_series(&ev), vec![(0, 2), (1, 3), (3, 2), (4, 1)]);
    }

    #[test]
    fn pod_event_reads_readiness_deletion_and_exit_code() {
        let v: Value = serde_json::json!({
            "type": WatchEvent::Modified,
            "object": {
                "metadata": {"name": "p", "labels": {"pod-template-hash": "h"}, "deletionTimestamp": "2026-01-01T00:00:00Z"},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                           "containerStatuses": [{"imageID": "sha256:abc", "state": {"terminated": {"exitCode": 137}}}]}
            }
        });
        let p = PodEvent::from_watch(7, &v).unwrap();
        assert!(p.terminating && !p.ready);
        assert_eq!(p.exit_code, Some(137));
        assert_eq!(p.template, "h");
        assert_eq!(p.image_id.as_deref(), Some("sha256:abc"));
    }
}
