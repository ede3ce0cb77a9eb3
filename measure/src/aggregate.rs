//! Aggregates over seeds: the summary's keys, each number replaced by `{mean, lo, hi}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::figure::Figure;
use crate::summary::{AGGREGATE_SCHEMA, Summary, lookup};

/// Mean and 2.5th / 97.5th percentiles of one figure over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// The mean over seeds.
    pub mean: f64,
    /// The 2.5th percentile over seeds.
    pub lo: f64,
    /// The 97.5th percentile over seeds.
    pub hi: f64,
}

impl Stat {
    /// The statistic of `values` (any order). `None` when `values` is empty.
    ///
    /// `lo` and `hi` are the 2.5th and 97.5th percentiles, linearly interpolated between order
    /// statistics (Hyndman and Fan type 7, the default of R and NumPy).
    pub fn of(values: &[f64]) -> Option<Stat> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
        Some(Stat {
            mean,
            lo: quantile_sorted(&sorted, 0.025),
            hi: quantile_sorted(&sorted, 0.975),
        })
    }

    /// `true` when `x` lies in `[lo, hi]`.
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// Quantile `q` of an ascending, non-empty slice (type 7 interpolation).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let below = h.floor() as usize;
    let above = h.ceil() as usize;
    sorted[below] + (h - below as f64) * (sorted[above] - sorted[below])
}

/// An aggregate summary over seeds, kept as JSON so it has exactly the summary's keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Aggregate(pub Value);

impl Aggregate {
    /// Aggregates per-seed summaries. The result keeps every key of the summary; each number
    /// becomes `{"mean", "lo", "hi"}`, strings that agree are kept, `seed` is replaced by
    /// `seeds: N`. The order of `summaries` does not change the result.
    pub fn of(summaries: &[Summary]) -> Aggregate {
        let mut builder = AggregateBuilder::default();
        for s in summaries {
            builder.add(s);
        }
        builder.finish()
    }

    /// The statistic of one figure by its dotted path (`"requests.refused"`).
    pub fn figure(&self, path: &str) -> Option<Stat> {
        serde_json::from_value(lookup(&self.0, path)?.clone()).ok()
    }

    /// The statistic of one figure.
    pub fn stat(&self, figure: Figure) -> Option<Stat> {
        self.figure(figure.path())
    }

    /// How many seeds went into this aggregate.
    pub fn seeds(&self) -> u64 {
        self.0.get("seeds").and_then(Value::as_u64).unwrap_or(0)
    }

    /// The scenario name.
    pub fn scenario(&self) -> &str {
        self.0.get("scenario").and_then(Value::as_str).unwrap_or("")
    }
}

/// Builds an [`Aggregate`] one summary at a time, holding only each figure's numbers (not the
/// summaries): [`AggregateBuilder::finish`] gives exactly what [`Aggregate::of`] gives for the
/// summaries added.
#[derive(Debug, Clone, Default)]
pub struct AggregateBuilder {
    root: Option<Merged>,
    seeds: u64,
}

impl AggregateBuilder {
    /// Adds one seed's summary.
    pub fn add(&mut self, summary: &Summary) {
        let value = serde_json::to_value(summary).expect("a summary always serializes");
        self.add_value(&value);
        self.seeds += 1;
    }

    fn add_value(&mut self, value: &Value) {
        match &mut self.root {
            Some(root) => root.add(value),
            None => self.root = Some(Merged::first(value)),
        }
    }

    /// The aggregate over the summaries added.
    pub fn finish(self) -> Aggregate {
        let mut merged = self.root.map_or(Value::Null, Merged::finish);
        if let Value::Object(map) = &mut merged {
            map.remove("seed");
            map.insert("schema".into(), Value::from(AGGREGATE_SCHEMA));
            map.insert("seeds".into(), Value::from(self.seeds));
        }
        Aggregate(merged)
    }
}

/// One node of the summaries merged so far. Its kind is that of the first value seen at its
/// place; later values of another kind are left out (a number among strings makes them mixed).
#[derive(Debug, Clone)]
enum Merged {
    /// Every key of every object, sorted.
    Object(BTreeMap<String, Merged>),
    /// As long as the first array.
    Array(Vec<Option<Merged>>),
    /// A number or `null` first: the numbers seen (nulls left out).
    Numbers(Vec<f64>),
    /// A string first: kept when every value agrees.
    Text { first: String, agree: bool },
    /// A boolean first: its value.
    Bool(bool),
}

impl Merged {
    fn first(value: &Value) -> Merged {
        let mut m = match value {
            Value::Object(_) => Merged::Object(BTreeMap::new()),
            Value::Array(items) => Merged::Array(vec![None; items.len()]),
            Value::Number(_) | Value::Null => Merged::Numbers(Vec::new()),
            Value::String(s) => Merged::Text {
                first: s.clone(),
                agree: true,
            },
            Value::Bool(b) => Merged::Bool(*b),
        };
        m.add(value);
        m
    }

    fn add(&mut self, value: &Value) {
        match self {
            Merged::Object(children) => {
                if let Value::Object(map) = value {
                    for (key, v) in map {
                        match children.get_mut(key) {
                            Some(child) => child.add(v),
                            None => {
                                children.insert(key.clone(), Merged::first(v));
                            }
                        }
                    }
                }
            }
            Merged::Array(children) => {
                if let Value::Array(items) = value {
                    for (child, v) in children.iter_mut().zip(items) {
                        match child {
                            Some(c) => c.add(v),
                            None => *child = Some(Merged::first(v)),
                        }
                    }
                }
            }
            Merged::Numbers(numbers) => numbers.extend(value.as_f64()),
            Merged::Text { first, agree } => {
                *agree &= value.as_str() == Some(first.as_str());
            }
            Merged::Bool(_) => {}
        }
    }

    fn finish(self) -> Value {
        match self {
            Merged::Object(children) => Value::Object(
                children
                    .into_iter()
                    .map(|(k, child)| (k, child.finish()))
                    .collect::<Map<String, Value>>(),
            ),
            Merged::Array(children) => Value::Array(
                children
                    .into_iter()
                    .map(|c| c.map_or(Value::Null, Merged::finish))
                    .collect(),
            ),
            Merged::Numbers(numbers) => match Stat::of(&numbers) {
                Some(stat) => serde_json::to_value(stat).expect("a stat always serializes"),
                None => Value::Null,
            },
            Merged::Text { first, agree } => {
                if agree {
                    Value::String(first)
                } else {
                    Value::String("(mixed)".into())
                }
            }
            Merged::Bool(b) => Value::Bool(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v: Vec<f64> = (1..=5).map(f64::from).collect();
        assert_eq!(quantile_sorted(&v, 0.0), 1.0);
        assert_eq!(quantile_sorted(&v, 0.5), 3.0);
        assert_eq!(quantile_sorted(&v, 0.25), 2.0);
        assert!((quantile_sorted(&v, 0.025) - 1.1).abs() < 1e-12);
        let s = Stat::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(s.mean, 2.0);
        assert!(s.contains(2.0) && !s.contains(3.5));
        assert!(Stat::of(&[]).is_none());
    }

    fn summary(scenario: &str, seed: u64, p99: Option<f64>) -> Summary {
        Summary {
            schema: crate::SUMMARY_SCHEMA.into(),
            source: crate::Source::Sim,
            scenario: scenario.into(),
            seed: Some(seed),
            window_s: [10.0, 20.0 + seed as f64],
            requests: crate::OutcomeCounts::default(),
            failed: seed,
            error_rate: 0.0,
            latency_ms: crate::LatencySummary {
                baseline: crate::Percentiles::default(),
                window: crate::Percentiles {
                    p99,
                    ..Default::default()
                },
            },
            capacity_dip: None,
            longest_success_gap_ms: 1.0,
            jobs: crate::JobCounts::default(),
            generator_faults: 0,
            provenance: Default::default(),
            streams: None,
        }
    }

    #[test]
    fn aggregate_keeps_keys_leaves_out_nulls_and_marks_mixed_strings() {
        let a = Aggregate::of(&[
            summary("a", 1, Some(5.0)),
            summary("a", 2, None),
            summary("a", 3, Some(7.0)),
        ]);
        assert_eq!(a.scenario(), "a");
        assert_eq!(a.seeds(), 3);
        assert!(a.0.get("seed").is_none());
        assert_eq!(a.figure("latency_ms.window.p99").unwrap().mean, 6.0);
        assert_eq!(a.figure("failed").unwrap().mean, 2.0);
        assert_eq!(a.0["window_s"][1]["mean"], 22.0);
        assert_eq!(a.0["latency_ms"]["window"]["p50"], Value::Null);
        assert_eq!(a.0["capacity_dip"], Value::Null);
        let mixed = Aggregate::of(&[summary("a", 1, None), summary("b", 2, None)]);
        assert_eq!(mixed.scenario(), "(mixed)");
        assert_eq!(Aggregate::of(&[]).0, Value::Null);
    }
}
