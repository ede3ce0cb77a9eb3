//! `fleetsim analyze` reads its record files in passes, never holding their requests: memory
//! follows the run's length over the bucket widths and the number of marks, ready samples and
//! SSE events, not the number of requests.
//!
//! * The first pass ([`scan`]) keeps what is small (headers, footers, marks, ready samples, SSE
//!   events) and counts the rest: requests per file (against the footer), the index coverage of
//!   each schedule (a bitmap), the run's extent, the generator's faults and the send lags (in
//!   [`RankSelect`]'s bins).
//! * The second pass ([`for_each_req`]) feeds every request to [`StreamingAnalysis`].
//! * Further passes, rarely, narrow down the window's longest success gap and the send-lag p99
//!   to their exact values.

use std::path::{Path, PathBuf};

use measure::{RankSelect, Sample, StreamingAnalysis};

use measure::Outcome;

use super::{
    LateSends, footer_mismatch, limits, origin_offset, retry_footer_mismatch, sample_of,
    schedule_key, visit_file,
};
use crate::error::AnalyzeError;
use crate::record::{ConnEv, Footer, Header, Line, OPENED_AHEAD, Req, Retry, SseEvent};
use crate::retry::RetrySummary;

/// Sends later than a threshold, counted by where their intended start falls against the
/// deploy window (the summary's windows: a request belongs to the one its intended start is in).
pub(super) struct LateCounter {
    threshold_ns: u64,
    window: (u64, u64),
    counts: LateSends,
    window_max_ns: u64,
}

impl LateCounter {
    pub(super) fn new(threshold_ns: u64, window: (u64, u64)) -> LateCounter {
        LateCounter {
            threshold_ns,
            window,
            counts: LateSends {
                threshold_ms: threshold_ns as f64 / 1e6,
                ..LateSends::default()
            },
            window_max_ns: 0,
        }
    }

    fn add(&mut self, s: &Sample) {
        let lag = s.start_ns.saturating_sub(s.intended_ns);
        let in_window = s.intended_ns >= self.window.0 && s.intended_ns < self.window.1;
        if in_window {
            self.window_max_ns = self.window_max_ns.max(lag);
        }
        if lag <= self.threshold_ns {
            return;
        }
        if s.intended_ns < self.window.0 {
            self.counts.before_window += 1;
        } else if in_window {
            self.counts.window += 1;
        } else {
            self.counts.after_window += 1;
        }
    }

    pub(super) fn finish(self) -> LateSends {
        LateSends {
            window_lag_max_ms: self.window_max_ns as f64 / 1e6,
            ..self.counts
        }
    }
}

/// The retries of shed requests, counted in the first pass (nothing kept per line).
#[derive(Default)]
pub(super) struct RetryCounts {
    /// Some file's generator retried (`shed_retries` in its header), or retry lines were read.
    on: bool,
    summary: RetrySummary,
    lag_max_ns: i64,
}

impl RetryCounts {
    fn add(&mut self, r: &Retry) {
        let s = &mut self.summary;
        s.sent += 1;
        *s.outcomes
            .entry(r.outcome.as_str().to_string())
            .or_default() += 1;
        if r.outcome == Outcome::Ok {
            s.served_after_shed += 1;
        } else if r.outcome.is_failure() {
            s.failed_after_shed += 1;
        }
        if r.generator_fault {
            s.generator_faults += 1;
        }
        self.lag_max_ns = self.lag_max_ns.max(r.send_lag_ns());
    }

    /// The summary's `live.retries`: `None` when no generator retried.
    pub(super) fn summary(&self) -> Option<RetrySummary> {
        self.on.then(|| RetrySummary {
            send_lag_max_ms: self.lag_max_ns.max(0) as f64 / 1e6,
            ..self.summary.clone()
        })
    }
}

/// What the first pass found: everything but the requests themselves.
pub(super) struct Scan {
    pub(super) files: Vec<PathBuf>,
    pub(super) headers: Vec<Header>,
    pub(super) footers: Vec<Footer>,
    /// The earliest file's origin, wall clock ns; every time below is ns from it.
    pub(super) origin_epoch_ns: i64,
    /// Each file's origin after the merged one.
    offsets: Vec<i64>,
    pub(super) marks: Vec<(i64, String)>,
    pub(super) ready: Vec<(i64, u32, u32)>,
    pub(super) sse: Vec<SseEvent>,
    pub(super) conn_opens: u64,
    /// When each connection a client reopened ahead of any request was opened (ns from the
    /// origin): no request's `new_conn` counts these in the reconnect curve.
    pub(super) opened_ahead: Vec<i64>,
    /// Files whose footer's `recorded` differs from the request lines read.
    pub(super) count_mismatches: Vec<String>,
    pub(super) requests: u64,
    pub(super) first_intended: Option<i64>,
    pub(super) last_end: Option<i64>,
    /// The latest end or intended start of a request (0 without requests).
    pub(super) run_end: i64,
    /// The largest fault threshold of the headers.
    pub(super) fault_ns: i64,
    /// Requests the generator flagged, or sent later than `fault_ns`.
    pub(super) generator_faults: u64,
    pub(super) lag_max_ns: i64,
    /// Duplicate and missing indices over every schedule.
    pub(super) duplicate_indices: u64,
    pub(super) missing_indices: u64,
    /// The retries of shed requests.
    pub(super) retries: RetryCounts,
}

/// The send lag the summary's percentiles are over: never negative.
pub(super) fn lag_of(r: &Req) -> u64 {
    r.send_lag_ns().max(0) as u64
}

/// The first pass. Returns the scan and the send-lag selection after its first pass.
pub(super) fn scan(paths: &[PathBuf], q: f64) -> Result<(Scan, RankSelect), AnalyzeError> {
    let headers = paths
        .iter()
        .map(|p| first_header(p))
        .collect::<Result<Vec<_>, _>>()?;
    let origin = headers
        .iter()
        .map(|h| h.origin_epoch_ns)
        .min()
        .ok_or(AnalyzeError::NoRecords)?;
    let fault_ns = headers
        .iter()
        .map(|h| h.fault_threshold_ns)
        .max()
        .unwrap_or(10_000_000);
    let mut keys: Vec<String> = Vec::new();
    let mut coverage: Vec<Coverage> = Vec::new();
    let mut s = Scan {
        files: paths.to_vec(),
        headers: Vec::new(),
        footers: Vec::new(),
        origin_epoch_ns: origin,
        offsets: Vec::new(),
        marks: Vec::new(),
        ready: Vec::new(),
        sse: Vec::new(),
        conn_opens: 0,
        opened_ahead: Vec::new(),
        count_mismatches: Vec::new(),
        requests: 0,
        first_intended: None,
        last_end: None,
        run_end: 0,
        fault_ns,
        generator_faults: 0,
        lag_max_ns: 0,
        duplicate_indices: 0,
        missing_indices: 0,
        retries: RetryCounts::default(),
    };
    let mut lag = RankSelect::new(q);
    for (path, h) in paths.iter().zip(&headers) {
        let off = origin_offset(path, h, origin)?;
        let key = schedule_key(h);
        let sched = match keys.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                keys.push(key);
                coverage.push(Coverage::default());
                keys.len() - 1
            }
        };
        let mut read = 0u64;
        let (mut retries_read, mut give_ups_read) = (0u64, 0u64);
        let retrying = h.shed_retries > 0;
        s.retries.on |= retrying;
        let mut footers = Vec::new();
        let bad = |n: u64, reason: String| AnalyzeError::Records {
            path: path.clone(),
            reason: format!("line {n}: {reason}"),
        };
        let kept = |s: &Scan| s.marks.len() + s.ready.len() + s.sse.len() + s.opened_ahead.len();
        visit_file(path, true, &mut |n, line| {
            match line {
                Line::Req(mut r) => {
                    read += 1;
                    shift(&mut r, off);
                    s.first_intended =
                        Some(s.first_intended.map_or(r.intended, |t| t.min(r.intended)));
                    s.last_end = Some(s.last_end.map_or(r.end, |t| t.max(r.end)));
                    s.run_end = s.run_end.max(r.end.max(r.intended));
                    if r.generator_fault || r.send_lag_ns() > fault_ns {
                        s.generator_faults += 1;
                    }
                    s.lag_max_ns = s.lag_max_ns.max(r.send_lag_ns());
                    lag.add(lag_of(&r));
                    coverage[sched].add(r.i).map_err(|why| bad(n, why))?;
                    if retrying && r.outcome == Outcome::Shed {
                        s.retries.summary.scheduled_shed += 1;
                    }
                }
                Line::Retry(r) => {
                    retries_read += 1;
                    s.retries.on = true;
                    s.retries.add(&r);
                }
                Line::RetryGiveUp(g) => {
                    give_ups_read += 1;
                    s.retries.on = true;
                    s.retries.summary.gave_up.add(g.why);
                }
                Line::Mark(k) => s.marks.push((k.at + off, k.name)),
                Line::Ready(e) => s.ready.push((e.at + off, e.ready, e.desired)),
                Line::Sse(mut e) => {
                    e.at += off;
                    s.sse.push(e);
                }
                Line::Conn(c) => {
                    if c.ev == ConnEv::Open {
                        s.conn_opens += 1;
                        if c.why == OPENED_AHEAD && !c.warm {
                            s.opened_ahead.push(c.at + off);
                        }
                    }
                }
                Line::Footer(f) => footers.push(f),
                Line::Header(_) => unreachable!("visit_file refuses a second header"),
            }
            if kept(&s) > limits::MAX_KEPT_LINES {
                return Err(bad(
                    n,
                    format!(
                        "more than {} marks, ready samples, SSE events and connections reopened ahead of a request over the files given, the limit of one analysis",
                        limits::MAX_KEPT_LINES
                    ),
                ));
            }
            Ok(())
        })?;
        for f in &footers {
            s.count_mismatches.extend(footer_mismatch(path, f, read));
            s.count_mismatches
                .extend(retry_footer_mismatch(path, f, retries_read, give_ups_read));
        }
        s.requests += read;
        s.footers.extend(footers);
        s.offsets.push(off);
    }
    s.headers = headers;
    for c in &mut coverage {
        let (dup, gaps) = c.duplicates_and_gaps();
        s.duplicate_indices += dup;
        s.missing_indices = s.missing_indices.saturating_add(gaps);
    }
    lag.end_pass();
    Ok((s, lag))
}

/// One more pass: every request of every file, times shifted to the merged origin.
pub(super) fn for_each_req(scan: &Scan, f: &mut dyn FnMut(&Req)) -> Result<(), AnalyzeError> {
    for (path, &off) in scan.files.iter().zip(&scan.offsets) {
        visit_file(path, false, &mut |_, line| {
            if let Line::Req(mut r) = line {
                shift(&mut r, off);
                f(&r);
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Every pass needed after the first: the analysis and the send-lag selection fed until
/// neither needs more. Returns how many passes over the files were made in all.
pub(super) fn remaining_passes(
    scan: &Scan,
    stream: &mut StreamingAnalysis,
    lag: &mut RankSelect,
    late: &mut LateCounter,
) -> Result<u32, AnalyzeError> {
    let mut passes = 1;
    while stream.needs_pass() || lag.needs_pass() {
        passes += 1;
        let first = stream.passes() == 0;
        for_each_req(scan, &mut |r| {
            let sample = sample_of(r);
            if first {
                late.add(&sample);
            }
            stream.add(&sample);
            lag.add(lag_of(r));
        })?;
        stream.end_pass();
        lag.end_pass();
    }
    Ok(passes)
}

/// A request's times moved by `off` (its file's origin after the merged one).
pub(super) fn shift(r: &mut Req, off: i64) {
    r.intended += off;
    r.actual += off;
    r.end += off;
    r.first_byte = r.first_byte.map(|t| t + off);
}

/// The header of a record file: its first line, read alone.
fn first_header(path: &Path) -> Result<Header, AnalyzeError> {
    use std::io::{BufRead, BufReader, Read};
    let bad = |reason: String| AnalyzeError::Records {
        path: path.to_path_buf(),
        reason,
    };
    let f = super::open_records(path)?;
    let mut buf = Vec::new();
    BufReader::new(f)
        .take(limits::MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', &mut buf)
        .map_err(AnalyzeError::io(path))?;
    if buf.len() > limits::MAX_LINE_BYTES {
        return Err(bad(format!(
            "line 1: longer than {} bytes: not a record file",
            limits::MAX_LINE_BYTES
        )));
    }
    let line = std::str::from_utf8(&buf)
        .map_err(|_| bad("line 1: not UTF-8: not a record file".into()))?;
    if line.trim().is_empty() {
        return Err(bad("empty file".into()));
    }
    match crate::record::parse_line(line.trim_end()) {
        Ok(Line::Header(h)) => Ok(h),
        Ok(_) => Err(bad("first line is not a header".into())),
        Err(e) => Err(bad(format!("line 1: not a header: {e}"))),
    }
}

/// Which indices of one schedule were seen: a bitmap up to [`limits::BITMAP_INDICES`], grown as
/// indices come; the rare index above it (a corrupt record) kept apart, at most
/// [`limits::MAX_HIGH_INDICES`] of them. Memory follows the largest index below the bitmap's
/// end, never an untrusted value above it.
#[derive(Default)]
struct Coverage {
    bits: Vec<u64>,
    high: Vec<u64>,
    total: u64,
    max: Option<u64>,
}

impl Coverage {
    fn add(&mut self, i: u64) -> Result<(), String> {
        self.total += 1;
        self.max = Some(self.max.map_or(i, |m| m.max(i)));
        if i < limits::BITMAP_INDICES {
            let w = (i / 64) as usize;
            if self.bits.len() <= w {
                self.bits.resize(w + 1, 0);
            }
            self.bits[w] |= 1 << (i % 64);
        } else {
            if self.high.len() >= limits::MAX_HIGH_INDICES {
                return Err(format!(
                    "more than {} request indices at or above {}: not the indices of one run",
                    limits::MAX_HIGH_INDICES,
                    limits::BITMAP_INDICES
                ));
            }
            self.high.push(i);
        }
        Ok(())
    }

    /// (duplicates, gaps) over `0..=max`.
    fn duplicates_and_gaps(&mut self) -> (u64, u64) {
        let Some(max) = self.max else {
            return (0, 0);
        };
        self.high.sort_unstable();
        self.high.dedup();
        let distinct = self
            .bits
            .iter()
            .map(|w| u64::from(w.count_ones()))
            .sum::<u64>()
            + self.high.len() as u64;
        let gaps = u128::from(max) + 1 - u128::from(distinct);
        (
            self.total - distinct,
            u64::try_from(gaps).unwrap_or(u64::MAX),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (duplicates, gaps) summed over the schedules: `indices[k]` belongs to `schedules[k]`.
    fn coverage(indices: &[u64], schedules: &[usize]) -> (u64, u64) {
        let n = schedules.iter().max().map_or(0, |m| m + 1);
        let mut cs: Vec<Coverage> = (0..n).map(|_| Coverage::default()).collect();
        for (&i, &s) in indices.iter().zip(schedules) {
            cs[s].add(i).unwrap();
        }
        cs.iter_mut()
            .map(Coverage::duplicates_and_gaps)
            .fold((0, 0), |(d, g), (dd, gg)| (d + dd, g + gg))
    }

    #[test]
    fn coverage_counts_duplicates_and_gaps() {
        assert_eq!(coverage(&[0, 1, 1, 3], &[0; 4]), (1, 1));
        assert_eq!(coverage(&[], &[]), (0, 0));
    }

    #[test]
    fn independent_schedules_are_covered_apart() {
        // Two generators (say keep-alive and new-connection) each send indices 0..3: no
        // duplicate; a gap in one is still a gap.
        assert_eq!(coverage(&[0, 1, 2, 0, 2], &[0, 0, 0, 1, 1]), (0, 1));
        // The same indices in one schedule are duplicates.
        assert_eq!(coverage(&[0, 1, 2, 0, 2], &[0; 5]), (2, 0));
    }

    #[test]
    fn indices_above_the_bitmap_are_counted_apart_and_bounded() {
        let big = limits::BITMAP_INDICES;
        // 0, 1, big, big (a duplicate), big + 7: gaps are everything else up to big + 7.
        let (dup, gaps) = coverage(&[0, 1, big, big, big + 7], &[0; 5]);
        assert_eq!((dup, gaps), (1, big + 8 - 4));
        let mut c = Coverage::default();
        for k in 0..limits::MAX_HIGH_INDICES as u64 {
            c.add(big + k).unwrap();
        }
        let err = c.add(big + 1).unwrap_err();
        assert!(err.contains("not the indices of one run"), "{err}");
    }
}
