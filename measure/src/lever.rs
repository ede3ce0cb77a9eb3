//! The five shutdown levers: what each switches and the failure mode it removes. The simulator's
//! `[levers]` table, the scenario files' ablation rows and the live run's overlays all name
//! them by [`Lever::name`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One of the five levers that make a rolling deploy lossless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lever {
    /// SIGTERM reaches the application (an exec-form entrypoint or an init as PID 1).
    Pid1,
    /// Readiness fails at deletion and a preStop sleep keeps the pod serving while the
    /// balancers' views catch up.
    Readiness,
    /// On SIGTERM stop accepting, finish in-flight work, close keep-alives politely, exit
    /// under a guardian timeout.
    Drain,
    /// The worker releases a job it cannot finish, and side effects carry an idempotency key.
    Requeue,
    /// The rollout adds capacity before it removes any, and keep-alive closes are jittered.
    Surge,
}

impl Lever {
    /// Every lever, in the order tables list them.
    pub const ALL: [Lever; 5] = [
        Lever::Pid1,
        Lever::Readiness,
        Lever::Drain,
        Lever::Requeue,
        Lever::Surge,
    ];

    /// The short name used in scenario files, overlays and `[levers]` (`"pid1"`).
    pub const fn name(self) -> &'static str {
        match self {
            Lever::Pid1 => "pid1",
            Lever::Readiness => "readiness",
            Lever::Drain => "drain",
            Lever::Requeue => "requeue",
            Lever::Surge => "surge",
        }
    }

    /// The lever's title in tables (`"readiness+preStop"`).
    pub const fn title(self) -> &'static str {
        match self {
            Lever::Pid1 => "pid1 (SIGTERM reaches the app)",
            Lever::Readiness => "readiness+preStop",
            Lever::Drain => "drain",
            Lever::Requeue => "requeue+idempotency",
            Lever::Surge => "surge+jitter",
        }
    }

    /// What switching the lever on changes.
    pub const fn switches(self) -> &'static str {
        match self {
            Lever::Pid1 => {
                "SIGTERM is delivered to the service instead of being swallowed by a shell"
            }
            Lever::Readiness => {
                "a preStop sleep before SIGTERM, during which the pod keeps serving and reports not ready"
            }
            Lever::Drain => {
                "at SIGTERM: stop accepting, close keep-alives politely, finish in-flight work, exit under the guardian"
            }
            Lever::Requeue => {
                "the worker stops at SIGTERM and releases an unfinishable job; side effects are idempotent"
            }
            Lever::Surge => {
                "maxSurge >= 1 with maxUnavailable 0, and keep-alive closes spread over the jitter window"
            }
        }
    }

    /// The failure mode the lever removes.
    pub const fn removes(self) -> &'static str {
        match self {
            Lever::Pid1 => {
                "requests and jobs killed by SIGKILL at the end of the grace period (reset, killed in flight)"
            }
            Lever::Readiness => {
                "new connections routed to a closed listener by a view that has not caught up (refused, 502)"
            }
            Lever::Drain => "in-flight requests and idle keep-alives cut at exit (reset)",
            Lever::Requeue => {
                "jobs lost or applied twice when their worker dies (lost, duplicated jobs)"
            }
            Lever::Surge => {
                "the capacity dip and the reconnect storm of closing every keep-alive at once"
            }
        }
    }
}

impl fmt::Display for Lever {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of the five levers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown lever {0:?}: expected one of pid1, readiness, drain, requeue, surge")]
pub struct UnknownLever(pub String);

impl FromStr for Lever {
    type Err = UnknownLever;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lever::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| UnknownLever(s.to_string()))
    }
}

/// Which of the five levers are on: one switch per [`Lever`]. Serialises as a map from each
/// lever's name to its switch (`{"pid1": true, ...}`, in [`Lever::ALL`] order); reading one back
/// needs all five names and rejects any other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct LeverSet([bool; 5]);

impl LeverSet {
    /// Every lever off: the `before` fleet.
    pub const NONE: LeverSet = LeverSet([false; 5]);
    /// Every lever on: the `after` fleet.
    pub const ALL: LeverSet = LeverSet([true; 5]);

    fn index(lever: Lever) -> usize {
        Lever::ALL
            .iter()
            .position(|&l| l == lever)
            .expect("Lever::ALL holds every lever")
    }

    /// Whether `lever` is on.
    pub fn get(&self, lever: Lever) -> bool {
        self.0[Self::index(lever)]
    }

    /// Switches `lever` on or off.
    pub fn set(&mut self, lever: Lever, on: bool) {
        self.0[Self::index(lever)] = on;
    }

    /// `self` with `lever` switched to `on`.
    pub fn with(mut self, lever: Lever, on: bool) -> LeverSet {
        self.set(lever, on);
        self
    }
}

impl Serialize for LeverSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(Lever::ALL.len()))?;
        for l in Lever::ALL {
            m.serialize_entry(l.name(), &self.get(l))?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for LeverSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let map = std::collections::BTreeMap::<String, bool>::deserialize(d)?;
        let mut set = LeverSet::NONE;
        for (name, on) in &map {
            let lever: Lever = name.parse().map_err(D::Error::custom)?;
            set.set(lever, *on);
        }
        if let Some(l) = Lever::ALL.iter().find(|l| !map.contains_key(l.name())) {
            return Err(D::Error::custom(format!("missing lever {:?}", l.name())));
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lever_set_round_trips_and_names_what_is_wrong() {
        let set = LeverSet::NONE
            .with(Lever::Pid1, true)
            .with(Lever::Surge, true);
        let text = serde_json::to_string(&set).unwrap();
        assert_eq!(
            text,
            r#"{"pid1":true,"readiness":false,"drain":false,"requeue":false,"surge":true}"#
        );
        assert_eq!(serde_json::from_str::<LeverSet>(&text).unwrap(), set);
        let missing = serde_json::from_str::<LeverSet>(r#"{"pid1":true}"#).unwrap_err();
        assert!(missing.to_string().contains("readiness"), "{missing}");
        let unknown = serde_json::from_str::<LeverSet>(
            r#"{"pid1":true,"readiness":false,"drain":false,"requeue":false,"surge":true,"x":true}"#,
        )
        .unwrap_err();
        assert!(unknown.to_string().contains("unknown lever"), "{unknown}");
    }

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        for l in Lever::ALL {
            assert_eq!(l.name().parse::<Lever>(), Ok(l));
            assert_eq!(
                serde_json::to_string(&l).unwrap(),
                format!("\"{}\"", l.name())
            );
        }
        assert!("jitter".parse::<Lever>().is_err());
    }
}
