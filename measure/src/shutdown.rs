//! Shutdown evidence: the lifecycle steps a pod logs, and the order they must come in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One step of a pod's shutdown, in the canonical order of the measurement contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShutdownStep {
    /// The process got SIGTERM: the shutdown starts.
    SigtermReceived,
    /// The readiness probe started failing, so endpoints stop sending new work.
    ReadinessFailed,
    /// The preStop wait after readiness failed has ended.
    PrestopDone,
    /// The listening socket closed: new connections are refused from here.
    ListenerClosed,
    /// Every in-flight request finished, or the drain deadline passed first.
    InflightDrained,
    /// Every keep-alive connection closed (those still open at the drain deadline were dropped).
    KeepaliveClosed,
    /// The queue worker stopped (its job in hand finished, or it was aborted).
    WorkerStopped,
    /// Jobs leased but not applied were released back to the queue.
    JobsReleased,
    /// The database connection pools closed.
    PoolsClosed,
    /// The guardian's deadline (SIGTERM + shutdown budget) passed and it forced the exit.
    GuardianFired,
    /// The process exited.
    Exited,
}

impl ShutdownStep {
    /// Every step, in canonical order.
    pub const ALL: [ShutdownStep; 11] = [
        ShutdownStep::SigtermReceived,
        ShutdownStep::ReadinessFailed,
        ShutdownStep::PrestopDone,
        ShutdownStep::ListenerClosed,
        ShutdownStep::InflightDrained,
        ShutdownStep::KeepaliveClosed,
        ShutdownStep::WorkerStopped,
        ShutdownStep::JobsReleased,
        ShutdownStep::PoolsClosed,
        ShutdownStep::GuardianFired,
        ShutdownStep::Exited,
    ];

    /// The name used in log lines (`"sigterm_received"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ShutdownStep::SigtermReceived => "sigterm_received",
            ShutdownStep::ReadinessFailed => "readiness_failed",
            ShutdownStep::PrestopDone => "prestop_done",
            ShutdownStep::ListenerClosed => "listener_closed",
            ShutdownStep::InflightDrained => "inflight_drained",
            ShutdownStep::KeepaliveClosed => "keepalive_closed",
            ShutdownStep::WorkerStopped => "worker_stopped",
            ShutdownStep::JobsReleased => "jobs_released",
            ShutdownStep::PoolsClosed => "pools_closed",
            ShutdownStep::GuardianFired => "guardian_fired",
            ShutdownStep::Exited => "exited",
        }
    }
}

impl fmt::Display for ShutdownStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no shutdown step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown shutdown step {0:?}")]
pub struct UnknownStep(pub String);

impl FromStr for ShutdownStep {
    type Err = UnknownStep;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ShutdownStep::ALL
            .into_iter()
            .find(|step| step.as_str() == s)
            .ok_or_else(|| UnknownStep(s.to_string()))
    }
}

/// Two steps logged in the wrong order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{later} (at {later_ns} ns) was logged before {earlier} (at {earlier_ns} ns)")]
pub struct OrderViolation {
    /// The step that should have come first.
    pub earlier: ShutdownStep,
    /// When `earlier` was logged, nanoseconds on the pod's monotonic clock.
    pub earlier_ns: u64,
    /// The step that came too soon.
    pub later: ShutdownStep,
    /// When `later` was logged, nanoseconds on the pod's monotonic clock.
    pub later_ns: u64,
}

/// Checks that the logged steps of one pod (any subset, any input order, monotonic nanoseconds)
/// come in canonical order. Returns every adjacent pair that does not.
pub fn check_order(steps: &[(ShutdownStep, u64)]) -> Vec<OrderViolation> {
    let mut by_time = steps.to_vec();
    by_time.sort_by_key(|&(step, t)| (t, step));
    by_time
        .windows(2)
        .filter(|w| w[0].0 > w[1].0)
        .map(|w| OrderViolation {
            earlier: w[1].0,
            earlier_ns: w[1].1,
            later: w[0].0,
            later_ns: w[0].1,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_order_passes_and_a_swap_is_named() {
        let ok: Vec<_> = ShutdownStep::ALL
            .iter()
            .enumerate()
            .map(|(i, &s)| (s, i as u64 * 10))
            .collect();
        assert!(check_order(&ok).is_empty());
        let bad = vec![
            (ShutdownStep::SigtermReceived, 0),
            (ShutdownStep::ListenerClosed, 5),
            (ShutdownStep::ReadinessFailed, 7),
        ];
        let v = check_order(&bad);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].earlier, ShutdownStep::ReadinessFailed);
        assert_eq!(v[0].later, ShutdownStep::ListenerClosed);
    }

    #[test]
    fn names_round_trip() {
        for s in ShutdownStep::ALL {
            assert_eq!(s.as_str().parse::<ShutdownStep>().unwrap(), s);
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }
}
