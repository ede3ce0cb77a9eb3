//! Aggregates over seeds: the summary's keys, each number replaced by `{mean, lo, hi}`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::figure::Figure;
use crate::summary::{AGGREGATE_SCHEMA, Summary, lookup};

/// Mean and 2.5th / 97.5th percentiles of one figure over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub mean: f64,
    pub lo: f64,
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
        let values: Vec<Value> = summaries
            .iter()
            .map(|s| serde_json::to_value(s).expect("a summary always serializes"))
            .collect();
        let mut merged = merge(&values.iter().collect::<Vec<_>>());
        if let Value::Object(map) = &mut merged {
            map.remove("seed");
            map.insert("schema".into(), Value::from(AGGREGATE_SCHEMA));
            map.insert("seeds".into(), Value::from(summaries.len() as u64));
        }
        Aggregate(merged)
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

fn merge(values: &[&Value]) -> Value {
    let Some(first) = values.first() else {
        return Value::Null;
    };
    match first {
        Value::Object(_) => {
            let mut keys: Vec<&String> = values
                .iter()
                .filter_map(|v| v.as_object())
                .flat_map(|m| m.keys())
                .collect();
            keys.sort();
            keys.dedup();
            let mut out = Map::new();
            for key in keys {
                let children: Vec<&Value> = values.iter().filter_map(|v| v.get(key)).collect();
                out.insert(key.clone(), merge(&children));
            }
            Value::Object(out)
        }
        Value::Array(first_items) => {
            let out = (0..first_items.len())
                .map(|i| merge(&values.iter().filter_map(|v| v.get(i)).collect::<Vec<_>>()))
                .collect();
            Value::Array(out)
        }
        Value::Number(_) | Value::Null => {
            let numbers: Vec<f64> = values.iter().filter_map(|v| v.as_f64()).collect();
            match Stat::of(&numbers) {
                Some(stat) => serde_json::to_value(stat).expect("a stat always serializes"),
                None => Value::Null,
            }
        }
        Value::String(s) => {
            if values.iter().all(|v| v.as_str() == Some(s)) {
                Value::String(s.clone())
            } else {
                Value::String("(mixed)".into())
            }
        }
        Value::Bool(b) => Value::Bool(*b),
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
}
