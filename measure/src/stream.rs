//! The deploy-window analysis over samples read one at a time, in bounded memory: for record
//! files too large to hold (the live analyzer reads them in passes).
//!
//! [`StreamingAnalysis`] gives exactly what [`analyze`](crate::analyze) gives for the same
//! samples. Most figures need one look at each sample. Two need more, and are found over extra
//! passes that each look at the samples again:
//!
//! * the timeline's p50 and p99 per bucket: each bucket keeps a count per latency value at the
//!   histograms' precision (three significant digits), so its memory follows the spread of its
//!   latencies, not the number of requests;
//! * the longest gap between successes in the window: [`GapFinder`] narrows it down over passes,
//!   each holding at most [`GapFinder::CELLS`] cells.
//!
//! [`RankSelect`] finds an exact order statistic (the generator's send-lag p99) the same way.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::analyze::{Tally, latency_us, new_histogram};
use crate::{Analysis, AnalyzeConfig, EndpointSeries, JobCounts, RunLabel, RunMarks, Sample};

/// [`analyze`](crate::analyze) fed one sample at a time: call [`StreamingAnalysis::add`] with
/// every sample, then [`StreamingAnalysis::end_pass`]; while
/// [`StreamingAnalysis::needs_pass`], call `add` with every sample again and `end_pass`; then
/// [`StreamingAnalysis::finish`].
///
/// ```
/// use measure::{analyze, AnalyzeConfig, JobCounts, Outcome, RunLabel, RunMarks, Sample, Source,
///     StreamingAnalysis};
///
/// let ms = 1_000_000;
/// let samples: Vec<Sample> = (0..100u64)
///     .map(|i| Sample { intended_ns: i * 100 * ms, start_ns: i * 100 * ms,
///         end_ns: i * 100 * ms + (i % 7) * ms, outcome: Outcome::Ok, new_conn: i % 10 == 0 })
///     .collect();
/// let marks = RunMarks { load_start_ns: 0, rollout_start_ns: 2_000 * ms,
///     rollout_end_ns: 4_000 * ms, load_end_ns: 10_000 * ms };
/// let label = RunLabel { source: Source::Live, scenario: "x".into(), seed: None };
/// let config = AnalyzeConfig::default();
///
/// let mut s = StreamingAnalysis::new(&marks, &config);
/// loop {
///     samples.iter().for_each(|x| s.add(x));
///     s.end_pass();
///     if !s.needs_pass() { break; }
/// }
/// let streamed = s.finish(None, JobCounts::default(), &label);
/// assert_eq!(streamed, analyze(&samples, &marks, None, JobCounts::default(), &label, &config));
/// ```
pub struct StreamingAnalysis {
    tally: Tally,
    /// Per timeline bucket: how many latencies of each value, at the histograms' precision (µs,
    /// rounded up to the highest value equivalent to them).
    latencies: Vec<BTreeMap<u64, u64>>,
    rounding: Histogram<u64>,
    gap: GapFinder,
    passes: u32,
}

impl StreamingAnalysis {
    /// An analysis of the run cut by `marks`, before any sample.
    pub fn new(marks: &RunMarks, config: &AnalyzeConfig) -> StreamingAnalysis {
        let tally = Tally::new(marks, config);
        let gap = GapFinder::new(tally.window_start, tally.window_end);
        StreamingAnalysis {
            tally,
            latencies: Vec::new(),
            rounding: new_histogram(),
            gap,
            passes: 0,
        }
    }

    /// One sample. In the first pass every figure takes it; in later passes only the longest
    /// gap's search does.
    pub fn add(&mut self, s: &Sample) {
        if self.tally.is_window_success(s) {
            self.gap.add(s.end_ns);
        }
        if self.passes > 0 {
            return;
        }
        self.tally.add(s);
        if s.outcome.has_latency() {
            let b = self.tally.bucket_of(s);
            if self.latencies.len() <= b {
                self.latencies.resize_with(b + 1, BTreeMap::new);
            }
            let v = self.rounding.highest_equivalent(latency_us(s.latency_ns()));
            *self.latencies[b].entry(v).or_default() += 1;
        }
    }

    /// A connection opened at `t_ns` by no request (a keep-alive client reopening ahead of its
    /// next request): the reconnect curve and the timeline's new connections count it. Call it
    /// once per such connection, in any pass.
    pub fn add_connection(&mut self, t_ns: u64) {
        self.tally.add_connection(t_ns);
    }

    /// Every sample of this pass has been added.
    pub fn end_pass(&mut self) {
        self.passes += 1;
        self.gap.end_pass();
    }

    /// Another pass over the samples is needed before [`StreamingAnalysis::finish`].
    pub fn needs_pass(&self) -> bool {
        self.passes == 0 || self.gap.needs_pass()
    }

    /// The deploy window `[start, end)` in ns from the origin: the summary's `window_s`. A
    /// request belongs to it by its intended start.
    pub fn window_ns(&self) -> (u64, u64) {
        (self.tally.window_start, self.tally.window_end)
    }

    /// Passes ended so far.
    pub fn passes(&self) -> u32 {
        self.passes
    }

    /// The analysis. Panics if called while [`StreamingAnalysis::needs_pass`].
    pub fn finish(
        self,
        endpoints: Option<&EndpointSeries>,
        jobs: JobCounts,
        label: &RunLabel,
    ) -> Analysis {
        assert!(
            !self.needs_pass(),
            "StreamingAnalysis::finish called while a pass is still needed"
        );
        let n = self.tally.buckets();
        let empty = BTreeMap::new();
        let percentiles = (0..n)
            .map(|i| p50_p99_of_counts(self.latencies.get(i).unwrap_or(&empty)))
            .collect();
        let gap = self.gap.longest();
        self.tally.finish(endpoints, jobs, label, gap, percentiles)
    }
}

/// The p50 and p99 (ms) of latencies given as counts per rounded value: the ranks are HDR's
/// (`ceil(q * count)`, at least 1), as [`analyze`](crate::analyze)'s selection takes them.
fn p50_p99_of_counts(counts: &BTreeMap<u64, u64>) -> (Option<f64>, Option<f64>) {
    let total: u64 = counts.values().sum();
    if total == 0 {
        return (None, None);
    }
    let rank = |q: f64| ((q * total as f64).ceil() as u64).max(1) - 1;
    let at = |r: u64| {
        let mut below = 0;
        for (&v, &c) in counts {
            below += c;
            if r < below {
                return Some(v as f64 / 1_000.0);
            }
        }
        unreachable!("a rank below the total is inside the counts")
    };
    (at(rank(0.50)), at(rank(0.99)))
}

/// A stretch of time and what the current pass found in it: the earliest and latest point and
/// how many. A cell with `count == 0` after a pass is either empty (dropped) or, among the kept
/// cells, a merged run of cells whose inner gaps are already accounted for.
#[derive(Clone, Copy, Debug, Default)]
struct Cell {
    min: u64,
    max: u64,
    count: u64,
}

/// Part of the line examined in the next pass, split into equal slots.
struct Region {
    lo: u64,
    hi: u64,
    slots: Vec<Cell>,
}

/// The longest stretch of `[from, to)` without a point (the window's longest success gap),
/// found over passes that each see every point again, in at most [`GapFinder::CELLS`] cells.
///
/// A pass counts the points per cell (earliest, latest, how many). Between two consecutive
/// non-empty cells there is no point, so the space between them is a true gap; the largest such
/// gap `G` bounds the answer from below. A cell whose span is at most `G` cannot hold a larger
/// one; a cell with a larger span and three points or more may, and is split finer for the next
/// pass. When no cell may, `G` is the answer. Points may come in any order.
pub struct GapFinder {
    from: u64,
    to: u64,
    /// Cells settled so far, in time order, non-overlapping.
    cells: Vec<Cell>,
    /// Regions to count in the current pass, in time order, non-overlapping.
    pending: Vec<Region>,
    /// The largest true gap known.
    best: u64,
}

impl GapFinder {
    /// The most cells one pass holds.
    pub const CELLS: usize = 1 << 18;

    /// A search over `[from, to)`; the first pass splits it into [`GapFinder::CELLS`] cells
    /// (fewer when it is shorter than that many nanoseconds), so gaps longer than a cell settle
    /// in one pass.
    pub fn new(from: u64, to: u64) -> GapFinder {
        let width = to.saturating_sub(from);
        let mut g = GapFinder {
            from,
            to,
            cells: Vec::new(),
            pending: Vec::new(),
            best: 0,
        };
        if width > 0 {
            let slots = width.min(Self::CELLS as u64) as usize;
            g.pending.push(Region {
                lo: from,
                hi: to,
                slots: vec![Cell::default(); slots],
            });
        }
        g
    }

    /// One point of this pass (points outside `[from, to)` are ignored).
    pub fn add(&mut self, t: u64) {
        if t < self.from || t >= self.to || self.pending.is_empty() {
            return;
        }
        let i = self.pending.partition_point(|r| r.lo <= t);
        let Some(r) = i.checked_sub(1).map(|i| &mut self.pending[i]) else {
            return;
        };
        if t >= r.hi {
            return;
        }
        let k = r.slots.len() as u128;
        let slot = (u128::from(t - r.lo) * k / u128::from(r.hi - r.lo)) as usize;
        let c = &mut r.slots[slot];
        if c.count == 0 {
            (c.min, c.max) = (t, t);
        } else {
            c.min = c.min.min(t);
            c.max = c.max.max(t);
        }
        c.count += 1;
    }

    /// Every point of this pass has been added: settle what can be settled and plan the next
    /// pass, if one is needed.
    pub fn end_pass(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let found = self
            .pending
            .drain(..)
            .flat_map(|r| r.slots)
            .filter(|c| c.count > 0);
        self.cells.extend(found);
        self.cells.sort_unstable_by_key(|c| c.min);
        // The largest true gap: between consecutive cells and the window's edges, and inside a
        // cell of exactly two points; or one found in an earlier pass (inside cells merged
        // since).
        let mut best = self.best;
        let mut prev = self.from;
        for c in &self.cells {
            best = best.max(c.min - prev);
            if c.count == 2 {
                best = best.max(c.max - c.min);
            }
            prev = c.max;
        }
        best = best.max(self.to - prev);
        self.best = best;
        // Cells that may hide a larger gap are split for the next pass; runs of the others are
        // merged (their inner gaps are at most `best`, which only grows).
        let ambiguous = |c: &Cell| c.count >= 3 && c.max - c.min > best;
        let split = self.cells.iter().filter(|c| ambiguous(c)).count();
        let mut kept: Vec<Cell> = Vec::new();
        for c in std::mem::take(&mut self.cells) {
            if ambiguous(&c) {
                let width = c.max - c.min + 1;
                let slots = ((Self::CELLS / split) as u64).clamp(2, width) as usize;
                self.pending.push(Region {
                    lo: c.min,
                    hi: c.max + 1,
                    slots: vec![Cell::default(); slots],
                });
                continue;
            }
            match kept.last_mut() {
                // Merged unless a region to split lies between them.
                Some(last) if self.pending.last().is_none_or(|r| r.lo <= last.max) => {
                    last.max = c.max;
                }
                _ => kept.push(Cell { count: 0, ..c }),
            }
        }
        self.cells = kept;
    }

    /// Another pass is needed before [`GapFinder::longest`].
    pub fn needs_pass(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The longest gap, ns. Meaningful once no pass is needed.
    pub fn longest(&self) -> u64 {
        self.best
    }
}

/// An exact order statistic of a multiset of `u64` seen over passes, in bounded memory: the
/// value at 0-based rank `round((n - 1) * q)` of the sorted values (0 when there are none), as
/// indexing a sorted copy would give.
///
/// The first pass counts the values in log-linear bins (10 significant bits); each later pass
/// either collects the values of the one bin that holds the rank (when at most
/// [`RankSelect::COLLECT`] fall in it) or splits that bin into [`RankSelect::BINS`] equal bins.
pub struct RankSelect {
    q: f64,
    n: u64,
    /// Values below `lo` (set after the first pass).
    below: u64,
    /// The values looked for lie in `lo..=last`.
    lo: u64,
    last: u64,
    state: RankState,
}

enum RankState {
    First(Vec<u64>),
    Split { counts: Vec<u64> },
    Collect(Vec<u64>),
    Done(u64),
}

const MANTISSA: u32 = 10;
const HALF: u64 = 1 << (MANTISSA - 1);

/// The log-linear bin of `v`: exact below 1024, else 10 significant bits.
fn log_bin(v: u64) -> usize {
    if v < 1 << MANTISSA {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // at least MANTISSA
    let shift = e - (MANTISSA - 1);
    let m = v >> shift; // in HALF..2 * HALF
    (1 << MANTISSA) + ((e - MANTISSA) as usize) * HALF as usize + (m - HALF) as usize
}

/// The values of bin `i`: `lo..=last`.
fn log_bin_range(i: usize) -> (u64, u64) {
    if i < 1 << MANTISSA {
        return (i as u64, i as u64);
    }
    let j = (i - (1 << MANTISSA)) as u64;
    let e = MANTISSA as u64 + j / HALF;
    let m = HALF + j % HALF;
    let shift = e - (MANTISSA as u64 - 1);
    let lo = m << shift;
    (lo, lo + ((1u64 << shift) - 1))
}

impl RankSelect {
    /// Values collected at once when the rank's bin holds at most this many.
    pub const COLLECT: u64 = 1 << 20;
    /// Bins of a split pass.
    pub const BINS: usize = 1 << 16;

    /// The value at rank `round((n - 1) * q)`, `q` in `[0, 1]`.
    pub fn new(q: f64) -> RankSelect {
        RankSelect {
            q,
            n: 0,
            below: 0,
            lo: 0,
            last: u64::MAX,
            state: RankState::First(vec![0; log_bin(u64::MAX) + 1]),
        }
    }

    /// One value of this pass.
    pub fn add(&mut self, v: u64) {
        match &mut self.state {
            RankState::First(bins) => {
                self.n += 1;
                bins[log_bin(v)] += 1;
            }
            RankState::Split { counts } if (self.lo..=self.last).contains(&v) => {
                let k = counts.len() as u128;
                let width = u128::from(self.last - self.lo) + 1;
                counts[(u128::from(v - self.lo) * k / width) as usize] += 1;
            }
            RankState::Collect(values) if (self.lo..=self.last).contains(&v) => values.push(v),
            _ => {}
        }
    }

    fn rank(&self) -> u64 {
        ((self.n.max(1) - 1) as f64 * self.q).round() as u64
    }

    /// Narrows `lo..=last` to the bin of `counts` (each `width` wide from `lo`, the last one
    /// possibly cut at `last`) that holds the rank; returns how many values fall in it.
    fn narrow(&mut self, counts: &[u64], range: impl Fn(usize) -> (u64, u64)) -> u64 {
        let r = self.rank();
        let mut below = self.below;
        for (i, &c) in counts.iter().enumerate() {
            if r < below + c {
                (self.lo, self.last) = range(i);
                self.below = below;
                return c;
            }
            below += c;
        }
        unreachable!("the rank is below the number of values")
    }

    /// Every value of this pass has been added.
    pub fn end_pass(&mut self) {
        let in_bin = match std::mem::replace(&mut self.state, RankState::Done(0)) {
            RankState::Done(v) => {
                self.state = RankState::Done(v);
                return;
            }
            RankState::First(bins) => {
                if self.n == 0 {
                    return;
                }
                self.narrow(&bins, log_bin_range)
            }
            RankState::Split { counts } => {
                let (lo, last, k) = (self.lo, self.last, counts.len() as u128);
                let width = u128::from(last - lo) + 1;
                // Bin i holds the values v with (v - lo) * k / width == i.
                let range = |i: usize| {
                    let first = |i: u128| lo + ((i * width).div_ceil(k)) as u64;
                    let start = first(i as u128);
                    let end = if i as u128 + 1 == k {
                        last
                    } else {
                        first(i as u128 + 1) - 1
                    };
                    (start, end)
                };
                self.narrow(&counts, range)
            }
            RankState::Collect(mut values) => {
                let r = (self.rank() - self.below) as usize;
                let v = *values.select_nth_unstable(r).1;
                self.state = RankState::Done(v);
                return;
            }
        };
        self.state = if self.lo == self.last {
            RankState::Done(self.lo)
        } else if in_bin <= Self::COLLECT {
            RankState::Collect(Vec::with_capacity(in_bin as usize))
        } else {
            let width = u128::from(self.last - self.lo) + 1;
            RankState::Split {
                counts: vec![0; (Self::BINS as u128).min(width) as usize],
            }
        };
    }

    /// Another pass is needed before [`RankSelect::value`].
    pub fn needs_pass(&self) -> bool {
        !matches!(self.state, RankState::Done(_))
    }

    /// Values seen in the first pass.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The value at the rank (0 when there were no values). Meaningful once no pass is needed.
    pub fn value(&self) -> u64 {
        match self.state {
            RankState::Done(v) => v,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::longest_gap;
    use crate::{AnalyzeConfig, JobCounts, RunLabel, RunMarks, Sample};

    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    fn gap_by_passes(points: &[u64], from: u64, to: u64) -> (u64, u32) {
        let mut g = GapFinder::new(from, to);
        let mut passes = 0;
        loop {
            // Any order: reversed on odd passes.
            if passes % 2 == 0 {
                points.iter().for_each(|&t| g.add(t));
            } else {
                points.iter().rev().for_each(|&t| g.add(t));
            }
            g.end_pass();
            passes += 1;
            if !g.needs_pass() {
                return (g.longest(), passes);
            }
        }
    }

    #[test]
    fn the_gap_found_over_passes_is_the_sorted_one() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for case in 0..400 {
            let from = xorshift(&mut x) % 1_000_000_000;
            let width = [10u64, 1_000, 2_000_000, 20_000_000_000][case % 4];
            let to = from + width;
            let n = (xorshift(&mut x) % 3_000) as usize;
            // Dense clusters, duplicates and a few points outside the window.
            let clusters = 1 + xorshift(&mut x) % 5;
            let mut pts: Vec<u64> = (0..n)
                .map(|i| {
                    let c = (i as u64 % clusters) * (width / clusters);
                    let spread = 1 + width / clusters / (1 + xorshift(&mut x) % 1_000);
                    from.saturating_sub(2) + c + xorshift(&mut x) % spread
                })
                .collect();
            pts.extend([from, to - 1, to, to + 5].into_iter().take(case % 5));
            let mut inside: Vec<u64> = pts
                .iter()
                .copied()
                .filter(|t| (from..to).contains(t))
                .collect();
            inside.sort_unstable();
            let want = longest_gap(&inside, from, to);
            let (got, passes) = gap_by_passes(&pts, from, to);
            assert_eq!(got, want, "case {case}: {passes} passes");
        }
    }

    #[test]
    fn a_sparse_window_takes_one_pass() {
        // 100 points 10 ms apart and one 300 ms gap: one pass's cells (about 4 us) settle it.
        let ms = 1_000_000;
        let mut pts: Vec<u64> = (0..100).map(|i| i * 10 * ms).collect();
        pts.retain(|t| !(500 * ms..800 * ms).contains(t));
        assert_eq!(gap_by_passes(&pts, 0, 1_000 * ms), (310 * ms, 1));
        assert_eq!(gap_by_passes(&[], 5, 5), (0, 1));
        assert_eq!(gap_by_passes(&[], 5, 9), (4, 1));
    }

    fn select_by_passes(values: &[u64], q: f64) -> (u64, u32) {
        let mut r = RankSelect::new(q);
        let mut passes = 0;
        loop {
            values.iter().for_each(|&v| r.add(v));
            r.end_pass();
            passes += 1;
            if !r.needs_pass() {
                return (r.value(), passes);
            }
        }
    }

    #[test]
    fn the_rank_found_over_passes_is_the_sorted_one() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for case in 0..300 {
            let n = [0usize, 1, 2, 17, 1_000, 5_000][case % 6];
            let spread = [1u64, 3, 1_000, 5_000_000_000, u64::MAX][case % 5];
            let mut values: Vec<u64> = (0..n)
                .map(|_| {
                    let v = xorshift(&mut x);
                    if spread == u64::MAX { v } else { v % spread }
                })
                .collect();
            if case % 7 == 0 {
                values.extend([u64::MAX, 0, u64::MAX - 1]);
            }
            let q = [0.0, 0.5, 0.99, 1.0][case % 4];
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let want = sorted
                .get(((sorted.len().max(1) - 1) as f64 * q).round() as usize)
                .copied()
                .unwrap_or(0);
            let (got, passes) = select_by_passes(&values, q);
            assert_eq!(got, want, "case {case}: n {}, q {q}", values.len());
            assert!(passes <= 6, "case {case}: {passes} passes");
        }
    }

    #[test]
    fn a_rank_bin_too_full_to_collect_is_split() {
        // More than COLLECT values in one log bin (all within 2^30..2^30 + 2^21): split passes.
        let base = 1u64 << 30;
        let values: Vec<u64> = (0..RankSelect::COLLECT + 10)
            .map(|i| base + (i * 7919) % (1 << 20))
            .collect();
        let mut sorted = values.clone();
        sorted.sort_unstable();
        let want = sorted[((sorted.len() - 1) as f64 * 0.99).round() as usize];
        let (got, passes) = select_by_passes(&values, 0.99);
        assert_eq!(got, want);
        assert!(passes >= 3, "{passes} passes");
    }

    #[test]
    fn streaming_gives_what_analyze_gives() {
        use crate::{Outcome, Source, analyze};
        let mut x = 0x1234_5678_9abc_def1u64;
        let ms = 1_000_000u64;
        for case in 0..40u64 {
            let n = [0u64, 1, 50, 3_000][case as usize % 4];
            let samples: Vec<Sample> = (0..n)
                .map(|_| {
                    let intended = xorshift(&mut x) % (30_000 * ms);
                    let start = intended + xorshift(&mut x) % (20 * ms);
                    let end = start + xorshift(&mut x) % (900 * ms);
                    Sample {
                        intended_ns: intended,
                        start_ns: start,
                        end_ns: end,
                        outcome: Outcome::ALL
                            [(xorshift(&mut x) % 10) as usize % Outcome::ALL.len()],
                        new_conn: xorshift(&mut x).is_multiple_of(3),
                    }
                })
                .collect();
            let marks = RunMarks {
                load_start_ns: 0,
                rollout_start_ns: 10_000 * ms + case * ms,
                rollout_end_ns: 18_000 * ms,
                load_end_ns: 29_000 * ms,
            };
            let config = AnalyzeConfig {
                bucket_ns: [1_000 * ms, 250 * ms, 7 * ms][case as usize % 3],
                ..AnalyzeConfig::default()
            };
            let label = RunLabel {
                source: Source::Live,
                scenario: "s".into(),
                seed: None,
            };
            let want = analyze(
                &samples,
                &marks,
                None,
                JobCounts::default(),
                &label,
                &config,
            );
            let mut s = StreamingAnalysis::new(&marks, &config);
            while s.needs_pass() {
                samples.iter().rev().for_each(|x| s.add(x));
                s.end_pass();
            }
            assert_eq!(
                s.finish(None, JobCounts::default(), &label),
                want,
                "case {case}"
            );
        }
    }

    #[test]
    fn log_bins_cover_every_value_once() {
        for v in [
            0,
            1,
            1023,
            1024,
            1025,
            2047,
            2048,
            1 << 40,
            (1 << 40) + 12345,
            u64::MAX,
        ] {
            let (lo, last) = log_bin_range(log_bin(v));
            assert!(lo <= v && v <= last, "{v}: {lo}..={last}");
        }
        for i in 0..log_bin(u64::MAX) {
            let (_, last) = log_bin_range(i);
            assert_eq!(log_bin_range(i + 1).0, last + 1, "bin {i}");
        }
    }
}
