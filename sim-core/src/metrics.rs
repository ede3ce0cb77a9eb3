//! Metric primitives for models: counters, time-bucketed series, HDR latency histograms.

use hdrhistogram::Histogram;

use crate::time::{SimDuration, SimTime};

/// A monotonically increasing count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counter(u64);

impl Counter {
    /// Adds one.
    pub fn incr(&mut self) {
        self.0 += 1;
    }
    /// Adds `n`.
    pub fn add(&mut self, n: u64) {
        self.0 += n;
    }
    /// The count so far.
    pub fn get(&self) -> u64 {
        self.0
    }
}

/// Counts per fixed-width time bucket, growing as time goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSeries {
    width: SimDuration,
    values: Vec<u64>,
}

impl BucketSeries {
    /// A series with buckets `width` wide (must be > 0).
    pub fn new(width: SimDuration) -> BucketSeries {
        assert!(!width.is_zero(), "bucket width must be above 0");
        BucketSeries {
            width,
            values: Vec::new(),
        }
    }

    /// Adds `n` to the bucket holding `at`.
    pub fn add(&mut self, at: SimTime, n: u64) {
        let i = (at.as_nanos() / self.width.as_nanos()) as usize;
        if self.values.len() <= i {
            self.values.resize(i + 1, 0);
        }
        self.values[i] += n;
    }

    /// The width of each bucket, as given to [`BucketSeries::new`].
    pub fn width(&self) -> SimDuration {
        self.width
    }

    /// The bucket values, bucket `i` covering `[i * width, (i + 1) * width)`.
    pub fn values(&self) -> &[u64] {
        &self.values
    }
}

/// Latencies in an HDR histogram (microsecond resolution, 3 significant digits, auto-resizing).
#[derive(Debug, Clone)]
pub struct LatencyHistogram(Histogram<u64>);

impl Default for LatencyHistogram {
    fn default() -> Self {
        let mut h = Histogram::new(3).expect("3 significant digits is valid");
        h.auto(true);
        LatencyHistogram(h)
    }
}

impl LatencyHistogram {
    /// Records one latency (stored in whole microseconds, at least 1 µs).
    pub fn record(&mut self, d: SimDuration) {
        self.0
            .record((d.as_nanos() / 1_000).max(1))
            .expect("an auto-resizing histogram takes any value");
    }

    /// The number of latencies recorded.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// True when no latency has been recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value at quantile `q` (0..=1), `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<SimDuration> {
        (!self.0.is_empty()).then(|| SimDuration::from_micros(self.0.value_at_quantile(q)))
    }

    /// The mean, `None` when empty.
    pub fn mean(&self) -> Option<SimDuration> {
        (!self.0.is_empty()).then(|| SimDuration::from_secs_f64(self.0.mean() / 1e6))
    }
}
