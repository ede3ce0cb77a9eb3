//! Distributions of durations, as scenario files write them.
//!
//! In TOML a distribution is either a plain duration string (a constant) or a table with a
//! `kind`:
//!
//! ```toml
//! service_time = "100ms"                                        # constant
//! lag   = { kind = "uniform", low = "500ms", high = "2s" }
//! gap   = { kind = "exponential", mean = "1s" }
//! slow  = { kind = "lognormal", median = "80ms", p99 = "400ms" } # how engineers quote latency
//! start = { kind = "empirical", samples = ["1.2s", "1.4s", "2s"] } # measured, for calibration
//! ```

use std::fmt;

use rand_distr::{Distribution, Exp, LogNormal};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rng::Stream;
use crate::time::SimDuration;

/// The 0.99 quantile of the standard normal distribution.
const Z_99: f64 = 2.326_347_874_040_840_8;

/// A distribution of durations. Build a [`Sampler`] from it once, then sample.
///
/// The derives are `remote = "Self"`: they give `Dist::serialize` and `Dist::deserialize` as
/// inherent functions (the table form), which the trait impls below call, the deserializer after
/// accepting a plain duration string as a constant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    remote = "Self",
    tag = "kind",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Dist {
    /// Always `value`.
    Constant {
        /// The one value every draw returns.
        value: SimDuration,
    },
    /// Uniform on `[low, high]`.
    Uniform {
        /// The smallest value a draw can return.
        low: SimDuration,
        /// The largest value a draw can return (at least `low`).
        high: SimDuration,
    },
    /// Exponential with the given mean.
    Exponential {
        /// The mean of the draws (above 0s).
        mean: SimDuration,
    },
    /// Lognormal with the given median and 99th percentile (`p99 >= median > 0`).
    Lognormal {
        /// The median of the draws (above 0s).
        median: SimDuration,
        /// The 99th percentile of the draws (at least the median).
        p99: SimDuration,
    },
    /// Resamples measured values, interpolating linearly between order statistics.
    Empirical {
        /// The measured values to resample (at least one; order does not matter).
        samples: Vec<SimDuration>,
    },
}

impl Serialize for Dist {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Dist::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for Dist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct DistVisitor;
        impl<'de> Visitor<'de> for DistVisitor {
            type Value = Dist;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like \"100ms\" or a table with kind = constant | uniform | exponential | lognormal | empirical")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dist, E> {
                Ok(Dist::Constant {
                    value: s.parse().map_err(E::custom)?,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Dist, A::Error> {
                Dist::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_any(DistVisitor)
    }
}

/// A distribution whose parameters make no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DistError {
    #[error("uniform: low ({low}) is above high ({high})")]
    /// A uniform distribution whose lower bound is above its upper bound.
    UniformBounds {
        /// The `low` bound as written.
        low: SimDuration,
        /// The `high` bound as written (below `low`).
        high: SimDuration,
    },
    #[error("exponential: mean must be above 0s")]
    /// An exponential distribution with a mean of 0s (it would never leave 0).
    ZeroMean,
    #[error("lognormal: median must be above 0s and p99 ({p99}) at least the median ({median})")]
    /// A lognormal distribution with a zero median or a p99 below the median.
    LognormalOrder {
        /// The median as written.
        median: SimDuration,
        /// The 99th percentile as written.
        p99: SimDuration,
    },
    #[error("empirical: needs at least one sample")]
    /// An empirical distribution with an empty `samples` list.
    NoSamples,
    /// A parameter is longer than [`Dist::MAX_PARAM`].
    #[error("{kind}: {param} ({value}) is above the limit {}", Dist::MAX_PARAM)]
    TooLong {
        /// The distribution's kind (`constant`, `uniform`, ...).
        kind: &'static str,
        /// The parameter (`value`, `high`, `p99`, `samples`, ...).
        param: &'static str,
        /// Its value.
        value: SimDuration,
    },
}

impl Dist {
    /// The longest any parameter may be (24 h, the longest run a scenario may ask for).
    pub const MAX_PARAM: SimDuration = SimDuration::from_secs(86_400);
    /// No draw is longer than this (24 h): a heavy tail (a lognormal with a wide spread, an
    /// exponential's rare long draw) is cut here, so a draw added to the clock cannot overflow
    /// it. A draw this long outlasts any run (`run.max_duration` is at most 24 h).
    pub const MAX_DRAW: SimDuration = SimDuration::from_secs(86_400);

    /// A constant distribution.
    pub fn constant(value: SimDuration) -> Dist {
        Dist::Constant { value }
    }

    /// The first parameter above [`Dist::MAX_PARAM`], as an error.
    fn check_bounds(&self) -> Result<(), DistError> {
        let params: Vec<(&'static str, &'static str, SimDuration)> = match self {
            Dist::Constant { value } => vec![("constant", "value", *value)],
            Dist::Uniform { low, high } => {
                vec![("uniform", "low", *low), ("uniform", "high", *high)]
            }
            Dist::Exponential { mean } => vec![("exponential", "mean", *mean)],
            Dist::Lognormal { median, p99 } => {
                vec![("lognormal", "median", *median), ("lognormal", "p99", *p99)]
            }
            Dist::Empirical { samples } => samples
                .iter()
                .map(|s| ("empirical", "samples", *s))
                .collect(),
        };
        match params.into_iter().find(|(_, _, v)| *v > Dist::MAX_PARAM) {
            Some((kind, param, value)) => Err(DistError::TooLong { kind, param, value }),
            None => Ok(()),
        }
    }

    /// Checks the parameters (each at most [`Dist::MAX_PARAM`]) and compiles a sampler.
    pub fn sampler(&self) -> Result<Sampler, DistError> {
        self.check_bounds()?;
        Ok(match self {
            Dist::Constant { value } => Sampler::Constant(*value),
            Dist::Uniform { low, high } => {
                if low > high {
                    return Err(DistError::UniformBounds {
                        low: *low,
                        high: *high,
                    });
                }
                Sampler::Uniform {
                    low: low.as_nanos(),
                    span: high.as_nanos() - low.as_nanos(),
                }
            }
            Dist::Exponential { mean } => {
                if mean.is_zero() {
                    return Err(DistError::ZeroMean);
                }
                Sampler::Exponential(
                    Exp::new(1.0 / mean.as_secs_f64()).map_err(|_| DistError::ZeroMean)?,
                )
            }
            Dist::Lognormal { median, p99 } => {
                if median.is_zero() || p99 < median {
                    return Err(DistError::LognormalOrder {
                        median: *median,
                        p99: *p99,
                    });
                }
                let mu = median.as_secs_f64().ln();
                let sigma = (p99.as_secs_f64() / median.as_secs_f64()).ln() / Z_99;
                if sigma == 0.0 {
                    Sampler::Constant(*median)
                } else {
                    Sampler::Lognormal(LogNormal::new(mu, sigma).map_err(|_| {
                        DistError::LognormalOrder {
                            median: *median,
                            p99: *p99,
                        }
                    })?)
                }
            }
            Dist::Empirical { samples } => {
                if samples.is_empty() {
                    return Err(DistError::NoSamples);
                }
                let mut sorted: Vec<u64> = samples.iter().map(|d| d.as_nanos()).collect();
                sorted.sort_unstable();
                Sampler::Empirical(sorted)
            }
        })
    }

    /// The distribution's mean (exact for every kind), for reports and analytic checks.
    pub fn mean(&self) -> SimDuration {
        match self {
            Dist::Constant { value } => *value,
            Dist::Uniform { low, high } => {
                SimDuration::from_nanos((low.as_nanos() + high.as_nanos()) / 2)
            }
            Dist::Exponential { mean } => *mean,
            Dist::Lognormal { median, p99 } => {
                let sigma = (p99.as_secs_f64() / median.as_secs_f64()).ln() / Z_99;
                SimDuration::from_secs_f64(median.as_secs_f64() * (sigma * sigma / 2.0).exp())
            }
            Dist::Empirical { samples } if samples.is_empty() => SimDuration::ZERO,
            Dist::Empirical { samples } => {
                let mut sorted: Vec<f64> = samples.iter().map(|d| d.as_nanos() as f64).collect();
                sorted.sort_by(f64::total_cmp);
                // The mean of the piecewise-linear inverse CDF over [0, 1].
                if sorted.len() == 1 {
                    return SimDuration::from_nanos(sorted[0] as u64);
                }
                let pairs = sorted.windows(2).map(|w| (w[0] + w[1]) / 2.0).sum::<f64>();
                SimDuration::from_nanos((pairs / (sorted.len() - 1) as f64).round() as u64)
            }
        }
    }
}

/// A compiled distribution, ready to sample. Every draw is at most [`Dist::MAX_DRAW`].
#[derive(Debug, Clone)]
pub enum Sampler {
    /// Always this duration.
    Constant(SimDuration),
    /// Uniform on `[low, low + span]` nanoseconds.
    Uniform {
        /// The lower bound, in nanoseconds.
        low: u64,
        /// The width of the range, in nanoseconds (`u64::MAX`: the whole range).
        span: u64,
    },
    /// Exponential in seconds (rate = 1 / mean).
    Exponential(Exp<f64>),
    /// Lognormal in seconds, its parameters fitted to the median and p99.
    Lognormal(LogNormal<f64>),
    /// The measured samples in nanoseconds, sorted ascending, resampled with linear interpolation.
    Empirical(Vec<u64>),
}

impl Sampler {
    /// One draw. Deterministic given the stream's state.
    #[inline]
    pub fn sample(&self, rng: &mut Stream) -> SimDuration {
        match self {
            Sampler::Constant(d) => *d,
            Sampler::Uniform { low, span } => {
                let offset = if *span == u64::MAX {
                    rng.below(u64::MAX)
                } else {
                    rng.below(span + 1)
                };
                SimDuration::from_nanos(low + offset)
            }
            Sampler::Exponential(e) => {
                SimDuration::from_secs_f64(e.sample(rng)).min(Dist::MAX_DRAW)
            }
            Sampler::Lognormal(l) => SimDuration::from_secs_f64(l.sample(rng)).min(Dist::MAX_DRAW),
            Sampler::Empirical(sorted) => {
                if sorted.len() == 1 {
                    return SimDuration::from_nanos(sorted[0]);
                }
                let h = rng.unit() * (sorted.len() - 1) as f64;
                let i = h.floor() as usize;
                let frac = h - i as f64;
                let (a, b) = (
                    sorted[i] as f64,
                    sorted[(i + 1).min(sorted.len() - 1)] as f64,
                );
                SimDuration::from_nanos((a + frac * (b - a)).round() as u64)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Streams, Trace};

    #[derive(Deserialize)]
    struct Doc {
        d: Dist,
    }

    fn parse(json: &str) -> Result<Dist, String> {
        serde_json::from_str::<Doc>(json)
            .map(|d| d.d)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn reads_both_forms_and_names_bad_fields() {
        assert_eq!(
            parse(r#"{"d":"100ms"}"#).unwrap(),
            Dist::constant(SimDuration::from_millis(100))
        );
        assert_eq!(
            parse(r#"{"d":{"kind":"lognormal","median":"80ms","p99":"400ms"}}"#).unwrap(),
            Dist::Lognormal {
                median: SimDuration::from_millis(80),
                p99: SimDuration::from_millis(400)
            }
        );
        let e = parse(r#"{"d":{"kind":"lognormal","median":"80ms","p95":"400ms"}}"#).unwrap_err();
        assert!(e.contains("p95"), "{e}");
        let e = parse(r#"{"d":{"kind":"gauss","mean":"1s"}}"#).unwrap_err();
        assert!(e.contains("gauss"), "{e}");
        let e = parse(r#"{"d":"soon"}"#).unwrap_err();
        assert!(e.contains("soon"), "{e}");
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        let ms = SimDuration::from_millis;
        assert!(
            Dist::Uniform {
                low: ms(5),
                high: ms(1)
            }
            .sampler()
            .is_err()
        );
        assert!(Dist::Exponential { mean: ms(0) }.sampler().is_err());
        assert!(
            Dist::Lognormal {
                median: ms(10),
                p99: ms(5)
            }
            .sampler()
            .is_err()
        );
        assert!(Dist::Empirical { samples: vec![] }.sampler().is_err());
    }

    #[test]
    fn sample_means_match_the_closed_forms() {
        let ms = SimDuration::from_millis;
        let dists = [
            Dist::Uniform {
                low: ms(10),
                high: ms(30),
            },
            Dist::Exponential { mean: ms(50) },
            Dist::Lognormal {
                median: ms(80),
                p99: ms(400),
            },
            Dist::Empirical {
                samples: vec![ms(10), ms(20), ms(60)],
            },
        ];
        let mut streams = Streams::new(11, Trace::new());
        for (i, d) in dists.iter().enumerate() {
            let s = d.sampler().unwrap();
            let mut rng = streams.stream(&format!("d{i}"));
            let n = 200_000;
            let mean = (0..n)
                .map(|_| s.sample(&mut rng).as_secs_f64())
                .sum::<f64>()
                / n as f64;
            let want = d.mean().as_secs_f64();
            // Lognormal with sigma ~0.69 has sd ~0.8 x mean: 200k draws put the mean within ~0.2%
            // at one sd; 2% is several sds for every kind here.
            assert!(
                (mean - want).abs() / want < 0.02,
                "{d:?}: sampled mean {mean}, closed form {want} (seed 11)"
            );
        }
    }

    #[test]
    fn lognormal_p99_is_where_it_was_asked_for() {
        let d = Dist::Lognormal {
            median: SimDuration::from_millis(80),
            p99: SimDuration::from_millis(400),
        };
        let s = d.sampler().unwrap();
        let mut rng = Streams::new(3, Trace::new()).stream("p99");
        let mut v: Vec<u64> = (0..100_000)
            .map(|_| s.sample(&mut rng).as_nanos())
            .collect();
        v.sort_unstable();
        let p50 = v[50_000] as f64 / 1e6;
        let p99 = v[99_000] as f64 / 1e6;
        assert!((p50 - 80.0).abs() < 2.0, "p50 {p50} ms (seed 3)");
        assert!((p99 - 400.0).abs() < 25.0, "p99 {p99} ms (seed 3)");
    }
}
