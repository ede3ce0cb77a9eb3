//! The deploy-window analyzer: pure, no I/O. The simulator and the live run both feed it, so a
//! figure means the same thing on both sides.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::outcome::{Outcome, OutcomeCounts};
use crate::summary::{JobCounts, LatencySummary, Percentiles, SUMMARY_SCHEMA, Source, Summary};

const NS_PER_MS: f64 = 1e6;
const NS_PER_S: f64 = 1e9;

/// One request, reduced to what the analyzer needs. Times are nanoseconds from the run's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// When the schedule wanted the request sent. Buckets and the window go by this time.
    pub intended_ns: u64,
    /// When it was actually sent (equal to `intended_ns` in the simulator).
    pub start_ns: u64,
    /// When it ended, whatever the outcome.
    pub end_ns: u64,
    /// How it ended (exactly one outcome per request).
    pub outcome: Outcome,
    /// The request opened a new connection (the reconnect curve counts these).
    pub new_conn: bool,
}

impl Sample {
    /// Latency from the intended start (no coordinated omission), in nanoseconds.
    pub fn latency_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.intended_ns)
    }
}

/// The marks that cut a run into baseline and deploy window, nanoseconds from the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMarks {
    /// Load started; the baseline runs from here (plus the warm-up) to the rollout start.
    pub load_start_ns: u64,
    /// The first pod change of the rollout.
    pub rollout_start_ns: u64,
    /// Every new pod ready and every old pod gone.
    pub rollout_end_ns: u64,
    /// Load stopped.
    pub load_end_ns: u64,
}

/// Ready endpoints over time: a step function. Before the first point the first value holds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EndpointSeries {
    /// Desired replicas of the Deployment (the capacity dip's denominator).
    pub desired: u32,
    /// `(time_ns, ready)` in ascending time.
    pub points: Vec<(u64, u32)>,
}

impl EndpointSeries {
    /// Ready endpoints at `t_ns`.
    pub fn at(&self, t_ns: u64) -> Option<u32> {
        let idx = self.points.partition_point(|&(t, _)| t <= t_ns);
        match idx {
            0 => self.points.first().map(|&(_, r)| r),
            i => Some(self.points[i - 1].1),
        }
    }

    /// The smallest ready count over `[from_ns, to_ns)`.
    pub fn min_over(&self, from_ns: u64, to_ns: u64) -> Option<u32> {
        let at_start = self.at(from_ns)?;
        let inside = self
            .points
            .iter()
            .filter(|&&(t, _)| t > from_ns && t < to_ns)
            .map(|&(_, r)| r);
        Some(inside.fold(at_start, u32::min))
    }
}

/// Knobs of the analysis. The defaults are the contract's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnalyzeConfig {
    /// The fixed tail added after the rollout end (default 5 s).
    pub tail_ns: u64,
    /// Start of load left out of the baseline (default 0).
    pub warmup_ns: u64,
    /// Timeline bucket width (default 1 s).
    pub bucket_ns: u64,
    /// Reconnect-curve bucket width (default 10 ms).
    pub fine_bucket_ns: u64,
    /// A request sent later than this after its intended start is a generator fault (default
    /// 10 ms).
    pub fault_threshold_ns: u64,
}

impl Default for AnalyzeConfig {
    fn default() -> Self {
        AnalyzeConfig {
            tail_ns: 5_000_000_000,
            warmup_ns: 0,
            bucket_ns: 1_000_000_000,
            fine_bucket_ns: 10_000_000,
            fault_threshold_ns: 10_000_000,
        }
    }
}

/// Who produced the samples, for the summary's header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLabel {
    /// Simulator or live run (the summary's `source`).
    pub source: Source,
    /// The scenario (simulator) or overlay (live) name, written as the summary's `scenario`.
    pub scenario: String,
    /// The seed of a simulated run; `None` for a live run.
    pub seed: Option<u64>,
}

/// One row of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Bucket start, seconds from the origin.
    pub t_s: f64,
    /// Requests whose intended start fell in the bucket, by outcome.
    pub counts: OutcomeCounts,
    /// Requests that completed (any outcome) in the bucket.
    pub completed: u64,
    /// Median latency (from the intended start) of the bucket's requests that have a latency, in milliseconds; `None` when none has.
    pub p50_ms: Option<f64>,
    /// 99th-percentile latency of the same requests, in milliseconds; `None` when none has.
    pub p99_ms: Option<f64>,
    /// The fewest ready endpoints during the bucket, when a series was given.
    pub ready_endpoints: Option<u32>,
    /// Connections opened in the bucket.
    pub new_connections: u64,
}

/// Everything the analyzer computes from one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The run's figures over the deploy window and the baseline.
    pub summary: Summary,
    /// Per-bucket timeline over the whole run (`AnalyzeConfig::bucket_ns`).
    pub timeline: Vec<Bucket>,
    /// New connections per fine bucket over the whole run (`AnalyzeConfig::fine_bucket_ns`).
    pub reconnects: Vec<u64>,
}

/// Computes the summary, timeline and reconnect curve of one run. The result does not depend on
/// the order of `samples`. [`StreamingAnalysis`](crate::StreamingAnalysis) computes the same from
/// samples read one at a time, for inputs too large to hold.
pub fn analyze(
    samples: &[Sample],
    marks: &RunMarks,
    endpoints: Option<&EndpointSeries>,
    jobs: JobCounts,
    label: &RunLabel,
    config: &AnalyzeConfig,
) -> Analysis {
    analyze_with_connections(samples, &[], marks, endpoints, jobs, label, config)
}

/// [`analyze`], plus connections opened by no request at the given times (ns from the origin):
/// keep-alive clients reopening ahead of their next request, counted in the reconnect curve and
/// the timeline's new connections as [`StreamingAnalysis::add_connection`](crate::StreamingAnalysis::add_connection)
/// counts the live generator's `why: "eager"` opens. With none it is [`analyze`].
pub fn analyze_with_connections(
    samples: &[Sample],
    opened_ahead_ns: &[u64],
    marks: &RunMarks,
    endpoints: Option<&EndpointSeries>,
    jobs: JobCounts,
    label: &RunLabel,
    config: &AnalyzeConfig,
) -> Analysis {
    let mut tally = Tally::new(marks, config);
    for &t in opened_ahead_ns {
        tally.add_connection(t);
    }
    let mut success_ends = Vec::new();
    for s in samples {
        tally.add(s);
        if tally.is_window_success(s) {
            success_ends.push(s.end_ns);
        }
    }
    success_ends.sort_unstable();
    let gap = longest_gap(&success_ends, tally.window_start, tally.window_end);
    let percentiles = bucket_percentiles(samples, tally.buckets(), config.bucket_ns);
    tally.finish(endpoints, jobs, label, gap, percentiles)
}

/// What one look at each sample gives: the window's counts and latency histograms, the
/// timeline's counts and the reconnect curve. The timeline's percentiles and the longest
/// success gap need more than one look; [`analyze`] and
/// [`StreamingAnalysis`](crate::StreamingAnalysis) each find them their own way and hand them to
/// [`Tally::finish`].
pub(crate) struct Tally {
    pub(crate) window_start: u64,
    pub(crate) window_end: u64,
    baseline_start: u64,
    config: AnalyzeConfig,
    load_end: u64,
    requests: OutcomeCounts,
    window_hist: Histogram<u64>,
    baseline_hist: Histogram<u64>,
    generator_faults: u64,
    /// The latest end or intended start seen.
    run_end: u64,
    /// Per timeline bucket: intended requests by outcome, completions, new connections.
    counts: Vec<OutcomeCounts>,
    completed: Vec<u64>,
    new_connections: Vec<u64>,
    /// New connections per fine bucket.
    reconnects: Vec<u64>,
}

/// `v[i] += 1`, growing `v` with zeros as needed.
fn bump(v: &mut Vec<u64>, i: usize) {
    if v.len() <= i {
        v.resize(i + 1, 0);
    }
    v[i] += 1;
}

impl Tally {
    pub(crate) fn new(marks: &RunMarks, config: &AnalyzeConfig) -> Tally {
        let window_end = marks
            .rollout_end_ns
            .saturating_add(config.tail_ns)
            .min(marks.load_end_ns.max(marks.rollout_end_ns));
        Tally {
            window_start: marks.rollout_start_ns,
            window_end,
            baseline_start: marks.load_start_ns.saturating_add(config.warmup_ns),
            config: AnalyzeConfig {
                bucket_ns: config.bucket_ns.max(1),
                fine_bucket_ns: config.fine_bucket_ns.max(1),
                ..*config
            },
            load_end: marks.load_end_ns,
            requests: OutcomeCounts::default(),
            window_hist: new_histogram(),
            baseline_hist: new_histogram(),
            generator_faults: 0,
            run_end: 0,
            counts: Vec::new(),
            completed: Vec::new(),
            new_connections: Vec::new(),
            reconnects: Vec::new(),
        }
    }

    fn in_window(&self, t: u64) -> bool {
        t >= self.window_start && t < self.window_end
    }

    /// A success that ended inside the window: what the longest success gap is made of.
    pub(crate) fn is_window_success(&self, s: &Sample) -> bool {
        s.outcome == Outcome::Ok && self.in_window(s.end_ns)
    }

    /// The timeline bucket a sample's latency belongs to (by its intended start).
    pub(crate) fn bucket_of(&self, s: &Sample) -> usize {
        (s.intended_ns / self.config.bucket_ns) as usize
    }

    pub(crate) fn add(&mut self, s: &Sample) {
        if s.start_ns.saturating_sub(s.intended_ns) > self.config.fault_threshold_ns {
            self.generator_faults += 1;
        }
        if self.in_window(s.intended_ns) {
            self.requests.add(s.outcome);
            if s.outcome.has_latency() {
                record(&mut self.window_hist, s.latency_ns());
            }
        } else if s.intended_ns >= self.baseline_start
            && s.intended_ns < self.window_start
            && s.outcome.has_latency()
        {
            record(&mut self.baseline_hist, s.latency_ns());
        }
        self.run_end = self.run_end.max(s.end_ns.max(s.intended_ns));
        let b = self.bucket_of(s);
        if self.counts.len() <= b {
            self.counts.resize(b + 1, OutcomeCounts::default());
        }
        self.counts[b].add(s.outcome);
        bump(
            &mut self.completed,
            (s.end_ns / self.config.bucket_ns) as usize,
        );
        if s.new_conn {
            self.add_connection(s.start_ns);
        }
    }

    /// A connection opened at `t_ns` by no request (a client reopening one the server closed,
    /// ahead of its next request): counted in the new connections and the reconnect curve like
    /// one a request opened.
    pub(crate) fn add_connection(&mut self, t_ns: u64) {
        bump(
            &mut self.new_connections,
            (t_ns / self.config.bucket_ns) as usize,
        );
        bump(
            &mut self.reconnects,
            (t_ns / self.config.fine_bucket_ns) as usize,
        );
    }

    /// Timeline buckets over the run: up to the latest end, intended start or load end.
    pub(crate) fn buckets(&self) -> usize {
        (self.run_end.max(self.load_end) / self.config.bucket_ns + 1) as usize
    }

    /// The analysis, given the longest success gap in the window (ns) and each timeline
    /// bucket's p50 and p99 (ms; `percentiles[i]` for bucket `i`, [`Tally::buckets`] of them).
    pub(crate) fn finish(
        self,
        endpoints: Option<&EndpointSeries>,
        jobs: JobCounts,
        label: &RunLabel,
        longest_gap_ns: u64,
        percentiles: Vec<(Option<f64>, Option<f64>)>,
    ) -> Analysis {
        let n = self.buckets();
        debug_assert_eq!(percentiles.len(), n);
        let (window_start, window_end) = (self.window_start, self.window_end);
        let failed = self.requests.failed();
        let error_rate = if self.requests.sent == 0 {
            0.0
        } else {
            failed as f64 / self.requests.sent as f64
        };
        let capacity_dip = endpoints.and_then(|e| {
            let min = e.min_over(window_start, window_end)?;
            (e.desired > 0).then(|| f64::from(min) / f64::from(e.desired))
        });
        let summary = Summary {
            schema: SUMMARY_SCHEMA.to_string(),
            source: label.source,
            scenario: label.scenario.clone(),
            seed: label.seed,
            window_s: [window_start as f64 / NS_PER_S, window_end as f64 / NS_PER_S],
            requests: self.requests,
            failed,
            error_rate,
            latency_ms: LatencySummary {
                baseline: histogram_percentiles(&self.baseline_hist),
                window: histogram_percentiles(&self.window_hist),
            },
            capacity_dip,
            longest_success_gap_ms: longest_gap_ns as f64 / NS_PER_MS,
            jobs,
            generator_faults: self.generator_faults,
            provenance: BTreeMap::new(),
            streams: None,
        };
        let bucket_ns = self.config.bucket_ns;
        let at = |v: &Vec<u64>, i: usize| v.get(i).copied().unwrap_or(0);
        let timeline = percentiles
            .into_iter()
            .enumerate()
            .map(|(i, (p50_ms, p99_ms))| {
                let from = i as u64 * bucket_ns;
                Bucket {
                    t_s: from as f64 / NS_PER_S,
                    counts: self.counts.get(i).copied().unwrap_or_default(),
                    completed: at(&self.completed, i),
                    p50_ms,
                    p99_ms,
                    ready_endpoints: endpoints.and_then(|e| e.min_over(from, from + bucket_ns)),
                    new_connections: at(&self.new_connections, i),
                }
            })
            .collect();
        let fine = (self.run_end.max(self.load_end) / self.config.fine_bucket_ns + 1) as usize;
        let mut reconnects = self.reconnects;
        reconnects.resize(fine, 0);
        Analysis {
            summary,
            timeline,
            reconnects,
        }
    }
}

/// The longest stretch of `[from, to)` without an entry of `sorted_ends` (all inside it).
pub(crate) fn longest_gap(sorted_ends: &[u64], from: u64, to: u64) -> u64 {
    let mut prev = from;
    let mut longest = 0;
    for &t in sorted_ends.iter().chain(std::iter::once(&to)) {
        longest = longest.max(t.saturating_sub(prev));
        prev = t;
    }
    longest
}

/// Each timeline bucket's p50 and p99 (ms), by selection over the samples grouped by bucket.
fn bucket_percentiles(
    samples: &[Sample],
    n: usize,
    bucket_ns: u64,
) -> Vec<(Option<f64>, Option<f64>)> {
    let bucket_ns = bucket_ns.max(1);
    // Latencies grouped by bucket in one flat array (a counting sort): `starts[b]..starts[b + 1]`
    // holds bucket `b`'s. The first pass counts, the second places.
    let mut starts = vec![0usize; n + 1];
    for s in samples.iter().filter(|s| s.outcome.has_latency()) {
        starts[(s.intended_ns / bucket_ns) as usize + 1] += 1;
    }
    for i in 0..n {
        starts[i + 1] += starts[i];
    }
    let mut next = starts.clone();
    let mut latencies_us = vec![0u64; starts[n]];
    for s in samples.iter().filter(|s| s.outcome.has_latency()) {
        let b = (s.intended_ns / bucket_ns) as usize;
        latencies_us[next[b]] = latency_us(s.latency_ns());
        next[b] += 1;
    }
    let rounding = new_histogram();
    (0..n)
        .map(|i| p50_p99_by_selection(&mut latencies_us[starts[i]..starts[i + 1]], &rounding))
        .collect()
}

/// The p50 and p99 (milliseconds) that [`histogram_percentiles`] would report for a histogram holding
/// `values_us`, found by selection instead: the rank is HDR's (`ceil(q * count)`, at least 1)
/// and the value is rounded up to the highest value equivalent to it at the histogram's
/// precision, as `Histogram::value_at_quantile` does. Reorders `values_us`.
fn p50_p99_by_selection(
    values_us: &mut [u64],
    rounding: &Histogram<u64>,
) -> (Option<f64>, Option<f64>) {
    if values_us.is_empty() {
        return (None, None);
    }
    let rank = |q: f64| ((q * values_us.len() as f64).ceil() as usize).max(1) - 1;
    let (r50, r99) = (rank(0.50), rank(0.99));
    let (below, &mut v99, _) = values_us.select_nth_unstable(r99);
    let v50 = if r50 < r99 {
        *below.select_nth_unstable(r50).1
    } else {
        v99
    };
    let ms = |v: u64| Some(rounding.highest_equivalent(v) as f64 / 1_000.0);
    (ms(v50), ms(v99))
}

/// Latency histograms hold microseconds with three significant digits, resizing as needed.
pub(crate) fn new_histogram() -> Histogram<u64> {
    let mut h = Histogram::new(3).expect("3 significant digits is a valid precision");
    h.auto(true);
    h
}

/// A latency as the histograms record it: whole microseconds, at least 1.
pub(crate) fn latency_us(latency_ns: u64) -> u64 {
    (latency_ns / 1_000).max(1)
}

fn record(hist: &mut Histogram<u64>, latency_ns: u64) {
    hist.record(latency_us(latency_ns))
        .expect("an auto-resizing histogram accepts any value");
}

fn histogram_percentiles(hist: &Histogram<u64>) -> Percentiles {
    if hist.is_empty() {
        return Percentiles::default();
    }
    let at = |q: f64| Some(hist.value_at_quantile(q) as f64 / 1_000.0);
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(intended_ms: u64, latency_ms: u64, outcome: Outcome) -> Sample {
        Sample {
            intended_ns: intended_ms * 1_000_000,
            start_ns: intended_ms * 1_000_000,
            end_ns: (intended_ms + latency_ms) * 1_000_000,
            outcome,
            new_conn: false,
        }
    }

    fn marks() -> RunMarks {
        RunMarks {
            load_start_ns: 0,
            rollout_start_ns: 10_000_000_000,
            rollout_end_ns: 20_000_000_000,
            load_end_ns: 30_000_000_000,
        }
    }

    fn label() -> RunLabel {
        RunLabel {
            source: Source::Sim,
            scenario: "t".into(),
            seed: Some(1),
        }
    }

    #[test]
    fn window_is_rollout_plus_tail_and_error_rate_counts_only_it() {
        let samples = vec![
            s(5_000, 100, Outcome::Refused), // baseline: not in the window's counts
            s(12_000, 100, Outcome::Refused), // window
            s(12_000, 100, Outcome::Ok),
            s(24_900, 100, Outcome::Reset), // tail (rollout end + 5 s)
            s(25_000, 100, Outcome::Reset), // after the tail
            s(13_000, 100, Outcome::Shed),
        ];
        let a = analyze(
            &samples,
            &marks(),
            None,
            JobCounts::default(),
            &label(),
            &AnalyzeConfig::default(),
        );
        assert_eq!(a.summary.window_s, [10.0, 25.0]);
        assert_eq!(a.summary.requests.sent, 4);
        assert_eq!(a.summary.requests.refused, 1);
        assert_eq!(a.summary.requests.reset, 1);
        assert_eq!(a.summary.requests.shed, 1);
        assert_eq!(a.summary.failed, 2);
        assert_eq!(a.summary.error_rate, 0.5);
        assert_eq!(a.summary.capacity_dip, None);
    }

    #[test]
    fn latency_comes_from_the_intended_start() {
        let mut late = s(11_000, 0, Outcome::Ok);
        late.start_ns += 50_000_000; // sent 50 ms late
        late.end_ns = late.start_ns + 10_000_000; // answered in 10 ms
        let a = analyze(
            &[late],
            &marks(),
            None,
            JobCounts::default(),
            &label(),
            &AnalyzeConfig::default(),
        );
        let p50 = a.summary.latency_ms.window.p50.unwrap();
        assert!((p50 - 60.0).abs() < 0.1, "p50 {p50}");
        assert_eq!(a.summary.generator_faults, 1);
    }

    #[test]
    fn longest_gap_includes_the_window_edges() {
        assert_eq!(longest_gap(&[], 10, 20), 10);
        assert_eq!(longest_gap(&[12, 13, 19], 10, 20), 6);
        assert_eq!(longest_gap(&[11, 19], 10, 20), 8);
    }

    #[test]
    fn capacity_dip_is_the_window_minimum_over_desired() {
        let e = EndpointSeries {
            desired: 3,
            points: vec![
                (0, 3),
                (9_000_000_000, 2),
                (11_000_000_000, 1),
                (12_000_000_000, 4),
                (26_000_000_000, 0),
            ],
        };
        assert_eq!(e.at(0), Some(3));
        assert_eq!(e.at(10_000_000_000), Some(2));
        let a = analyze(
            &[],
            &marks(),
            Some(&e),
            JobCounts::default(),
            &label(),
            &AnalyzeConfig::default(),
        );
        assert!((a.summary.capacity_dip.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(a.timeline[11].ready_endpoints, Some(1));
        assert_eq!(a.timeline[8].ready_endpoints, Some(3));
    }

    #[test]
    fn selection_percentiles_equal_the_histogram_ones() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let rounding = new_histogram();
        for len in (1..200).chain([999, 1000, 1001, 4321]) {
            for spread in [3u64, 1_000, 70_000, 5_000_000_000] {
                let mut values = Vec::with_capacity(len);
                let mut hist = new_histogram();
                for _ in 0..len {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let latency_ns = (x % spread) * 997;
                    values.push(latency_us(latency_ns));
                    record(&mut hist, latency_ns);
                }
                let want = histogram_percentiles(&hist);
                let got = p50_p99_by_selection(&mut values, &rounding);
                assert_eq!(got, (want.p50, want.p99), "len {len}, spread {spread}");
            }
        }
        assert_eq!(p50_p99_by_selection(&mut [], &rounding), (None, None));
    }
}
