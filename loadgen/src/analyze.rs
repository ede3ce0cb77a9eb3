//! `fleetsim analyze RECORDS...`: pure, no network. Reads one or more record files (the shards of
//! one run, or one file), aligns them on the wall clock of their origins, and hands the requests to
//! the shared [`measure::analyze`], the same code the simulator's results go through. Writes:
//!
//! * `summary.json`: the contract's summary shape (`fleetsim.summary/1`), plus a `live` object
//!   (generator health, shard merge checks, SSE reconnects) and provenance.
//! * `timeline.csv`: per bucket (default 1 s) intended requests by outcome, completed, p50/p99,
//!   ready endpoints, new connections.
//! * `reconnects.csv`: new connections per 10 ms bucket.
//! * `sse.csv` (when the run had SSE streams): one row per drop or failed attempt and the time to
//!   the next successful open.

use crate::error::AnalyzeError;
use crate::record::{
    ConnEv, Footer, Header, Line, OPENED_AHEAD, Req, Retry, SCHEMA, SseEv, SseEvent, parse_line,
};
use crate::retry::RetrySummary;
use clap::Parser;
use measure::{
    AnalyzeConfig, EndpointSeries, JobCounts, RunLabel, RunMarks, Sample, Source, StreamEvent,
    StreamEventKind, StreamingAnalysis, Summary, parse_duration_or_secs, summarize_streams,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod passes;

/// Options of `fleetsim analyze`.
#[derive(Parser, Clone, Debug)]
#[command(
    name = "analyze",
    about = "Deploy-window analysis of load-generator record files"
)]
pub struct AnalyzeOpts {
    /// Record files (NDJSON from `fleetsim load`); several shards of one run are merged.
    #[arg(required = true)]
    pub records: Vec<PathBuf>,
    /// Output directory (summary.json, timeline.csv, reconnects.csv, sse.csv).
    #[arg(long, default_value = "analysis")]
    pub out_dir: PathBuf,
    /// Timeline bucket width.
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "1s")]
    pub bucket: Duration,
    /// Reconnect-curve bucket width.
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "10ms")]
    pub fine_bucket: Duration,
    /// Fixed tail added after the rollout end.
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "5s")]
    pub tail: Duration,
    /// Start of the load left out of the baseline.
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "0s")]
    pub warmup: Duration,
    /// Rollout start, seconds after the load start (overrides a `rollout_start` mark).
    #[arg(long, value_parser = parse_duration_or_secs)]
    pub rollout_start: Option<Duration>,
    /// Rollout end, seconds after the load start (overrides a `rollout_end` mark).
    #[arg(long, value_parser = parse_duration_or_secs)]
    pub rollout_end: Option<Duration>,
    /// Ready-endpoint series, CSV with a header: `epoch_ns,ready[,desired]` (wall clock) or
    /// `t_s,ready[,desired]` (seconds from the merged origin). Adds to `ready` records in the files.
    #[arg(long)]
    pub ready: Option<PathBuf>,
    /// Desired replicas (the capacity dip's denominator), if the series does not say.
    #[arg(long)]
    pub desired: Option<u32>,
    /// Scenario name in the summary (default: the generator's `--label`, else `live`).
    #[arg(long)]
    pub scenario: Option<String>,
    /// Extra provenance, KEY=VALUE (repeatable): commit, image, kubernetes version...
    #[arg(long = "provenance")]
    pub provenance: Vec<String>,
    /// A send later than this after its intended start is late: the summary counts late sends
    /// per window (`live.late_sends`), and any inside the deploy window makes the run invalid.
    #[arg(long, value_parser = parse_duration_or_secs, default_value = "1ms")]
    pub late_threshold: Duration,
}

impl AnalyzeOpts {
    /// The typed plan of these options (the `--provenance KEY=VALUE` flags split).
    pub fn plan(self) -> Result<AnalyzePlan, AnalyzeError> {
        let provenance = self
            .provenance
            .iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .ok_or_else(|| AnalyzeError::Provenance(kv.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AnalyzePlan {
            records: self.records,
            out_dir: self.out_dir,
            bucket: self.bucket,
            fine_bucket: self.fine_bucket,
            tail: self.tail,
            warmup: self.warmup,
            rollout_start: self.rollout_start,
            rollout_end: self.rollout_end,
            ready: self.ready,
            desired: self.desired,
            scenario: self.scenario,
            provenance,
            late_threshold: self.late_threshold,
        })
    }
}

/// One analysis, typed: what [`run`] takes. See [`AnalyzeOpts`] for what each field means;
/// [`AnalyzePlan::new`] gives the command line's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalyzePlan {
    /// Record files; several shards of one run are merged.
    pub records: Vec<PathBuf>,
    /// Output directory.
    pub out_dir: PathBuf,
    /// Timeline bucket width.
    pub bucket: Duration,
    /// Reconnect-curve bucket width.
    pub fine_bucket: Duration,
    /// Fixed tail added after the rollout end.
    pub tail: Duration,
    /// Start of the load left out of the baseline.
    pub warmup: Duration,
    /// Rollout start after the load start (overrides a `rollout_start` mark).
    pub rollout_start: Option<Duration>,
    /// Rollout end after the load start (overrides a `rollout_end` mark).
    pub rollout_end: Option<Duration>,
    /// A ready-endpoint series file.
    pub ready: Option<PathBuf>,
    /// Desired replicas, if the series does not say.
    pub desired: Option<u32>,
    /// Scenario name in the summary.
    pub scenario: Option<String>,
    /// Extra provenance, in order (a later key replaces an earlier one).
    pub provenance: Vec<(String, String)>,
    /// A send later than this is late; late sends in the deploy window make the run invalid.
    pub late_threshold: Duration,
}

impl AnalyzePlan {
    /// A plan with the command line's defaults, writing to `analysis/`.
    pub fn new(records: Vec<PathBuf>) -> AnalyzePlan {
        AnalyzePlan {
            records,
            out_dir: PathBuf::from("analysis"),
            bucket: Duration::from_secs(1),
            fine_bucket: Duration::from_millis(10),
            tail: Duration::from_secs(5),
            warmup: Duration::ZERO,
            rollout_start: None,
            rollout_end: None,
            ready: None,
            desired: None,
            scenario: None,
            provenance: Vec::new(),
            late_threshold: Duration::from_millis(1),
        }
    }
}

/// Generator health and merge checks, added to the summary as `live`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveInfo {
    /// Record files read.
    pub files: usize,
    /// The shard (`K/N`) of each file.
    pub shards: Vec<String>,
    /// Request records read.
    pub requests_recorded: u64,
    /// Records flagged by the generator (late send, or a generator-side error such as EMFILE).
    pub generator_faults: u64,
    /// Send lag (actual - intended start) over every request, ms.
    pub send_lag_p99_ms: f64,
    /// The largest send lag over every request, ms.
    pub send_lag_max_ms: f64,
    /// Global schedule indices seen twice (overlapping shards) and missing (a shard absent or cut
    /// short), over 0..=max index.
    pub duplicate_indices: u64,
    /// Global schedule indices missing (a shard absent or cut short), over 0..=max index.
    pub missing_indices: u64,
    /// Every file had a footer saying the generator finished cleanly and valid.
    pub footers_valid: bool,
    /// The run is usable: no generator faults, no duplicates or gaps, all footers valid.
    pub valid: bool,
    /// Connections opened, over every file.
    pub connections_opened: u64,
    /// Files whose footer's `recorded` count differs from the request lines read; any makes
    /// the run invalid (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub footer_mismatches: Vec<String>,
    /// The SSE streams, when the run had any.
    pub sse: Option<SseSummary>,
    /// Sends later than the analysis' late threshold (`--late-threshold`, 1 ms by default), by
    /// window: any inside the deploy window makes the run invalid (absent in summaries written
    /// before the count existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_sends: Option<LateSends>,
    /// The retries of shed requests (`fleetsim load --shed-retries`), over the whole run:
    /// retries sent and their outcomes, shed requests then served, given up by reason. Absent
    /// when no generator retried (every record file written before retries existed). Retries
    /// are not scheduled sends: they count in none of the figures above (requests, indices,
    /// late sends, generator faults, validity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<RetrySummary>,
}

/// Sends later than a threshold after their intended start, by where the intended start fell.
/// A late send delays its request's whole latency, so late sends inside the deploy window
/// contaminate the very figures a run is for (p99, the success gaps).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LateSends {
    /// The threshold, ms: a send later than this is late.
    pub threshold_ms: f64,
    /// Late sends intended before the deploy window (the baseline and the warm-up).
    pub before_window: u64,
    /// Late sends intended inside the deploy window: any makes the run invalid.
    pub window: u64,
    /// Late sends intended after the deploy window.
    pub after_window: u64,
    /// The largest send lag of a request intended inside the window, ms (0 without any).
    pub window_lag_max_ms: f64,
}

/// What the server-sent-event streams saw: the measurement contract's [`measure::StreamSummary`]
/// (`drop_times` absent: `sse.csv` lists every drop).
pub use measure::StreamSummary as SseSummary;

/// The summary of a live run: the contract's [`Summary`] plus the generator's health as `live`.
/// Serialised through [`LiveSummary::to_json`], its keys come out sorted, as every live
/// `summary.json` has them.
#[derive(Clone, Debug, Serialize)]
pub struct LiveSummary {
    /// The figures, in the simulator's shape.
    #[serde(flatten)]
    pub summary: Summary,
    /// Generator health and merge checks.
    pub live: LiveInfo,
}

/// Pretty JSON of a summary with its keys sorted (through [`serde_json::Value`], whose maps
/// are ordered by key): the bytes of every live `summary.json`, without the final newline.
pub fn sorted_json<T: Serialize>(summary: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&serde_json::to_value(summary)?)
}

impl LiveSummary {
    /// The pretty JSON of `summary.json` (keys sorted), without the final newline.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        sorted_json(self)
    }
}

/// What `run` produced.
#[derive(Clone, Debug, Serialize)]
pub struct AnalyzeReport {
    /// `summary.json`.
    pub summary_path: PathBuf,
    /// `timeline.csv`.
    pub timeline_path: PathBuf,
    /// `reconnects.csv`.
    pub reconnects_path: PathBuf,
    /// What `summary.json` holds.
    pub summary: LiveSummary,
    /// The analysis itself (timeline and reconnect curve as structs, for the plots).
    #[serde(skip)]
    pub analysis: measure::Analysis,
}

/// Everything read from the record files, aligned on one origin.
#[derive(Default)]
pub struct Merged {
    /// The header of each file.
    pub headers: Vec<Header>,
    /// The footers found (a killed generator leaves none).
    pub footers: Vec<Footer>,
    /// Merged origin, wall clock ns.
    pub origin_epoch_ns: i64,
    /// Every request record, times shifted to the merged origin (ns). Retries of shed requests
    /// (`rt` and `rg` lines) are not read here: `fleetsim analyze` counts them in
    /// `live.retries`.
    pub reqs: Vec<Req>,
    /// Parallel to `reqs`: the schedule each request belongs to. The shards of one schedule
    /// share one; independent generators (another mode, rate, seed, target or label), such as
    /// `fleetsim live`'s keep-alive and new-connection pair, each have their own, so their
    /// indices are checked for gaps and duplicates apart.
    pub schedule: Vec<u32>,
    /// Markers: time and name.
    pub marks: Vec<(i64, String)>,
    /// Ready-endpoint samples: time, ready, desired.
    pub ready: Vec<(i64, u32, u32)>,
    /// SSE stream events.
    pub sse: Vec<SseEvent>,
    /// Connections opened.
    pub conn_opens: u64,
    /// When a keep-alive client reopened a connection the server had closed, ahead of any
    /// request (`--eager-reconnect`; warm-up opens not included), ns from the merged origin.
    pub opened_ahead: Vec<i64>,
    /// Files whose footer's `recorded` count differs from the request lines read (records
    /// lost or added after the generator wrote them): each makes the run invalid.
    pub count_mismatches: Vec<String>,
}

impl Merged {
    /// The earliest marker of this name (e.g. `load_start`), ns from the merged origin.
    pub fn first_mark(&self, name: &str) -> Option<i64> {
        mark(self, name, false)
    }
}

/// Read and align record files. Times in the result are ns from the earliest file's origin.
pub fn read_records(paths: &[PathBuf]) -> Result<Merged, AnalyzeError> {
    let mut per_file = Vec::new();
    for p in paths {
        per_file.push(read_one(p)?);
    }
    let origin = per_file
        .iter()
        .map(|(_, h, _)| h.origin_epoch_ns)
        .min()
        .ok_or(AnalyzeError::NoRecords)?;
    let mut m = Merged {
        origin_epoch_ns: origin,
        ..Default::default()
    };
    let mut schedules: Vec<String> = Vec::new();
    let mut total_reqs = 0u64;
    for (path, _, lines) in &per_file {
        total_reqs += lines.iter().filter(|l| matches!(l, Line::Req(_))).count() as u64;
        if total_reqs > limits::MAX_REQUESTS {
            return Err(AnalyzeError::Records {
                path: path.clone(),
                reason: format!(
                    "more than {} request records over the files given, the limit of one analysis",
                    limits::MAX_REQUESTS
                ),
            });
        }
    }
    for (path, h, lines) in per_file {
        // The footer's count against the request lines actually read.
        let read = lines.iter().filter(|l| matches!(l, Line::Req(_))).count() as u64;
        for l in &lines {
            if let Line::Footer(f) = l {
                m.count_mismatches.extend(footer_mismatch(&path, f, read));
            }
        }
        let off = origin_offset(&path, &h, origin)?;
        let key = schedule_key(&h);
        let sched = match schedules.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                schedules.push(key);
                schedules.len() - 1
            }
        } as u32;
        m.headers.push(h);
        for l in lines {
            match l {
                Line::Req(mut r) => {
                    passes::shift(&mut r, off);
                    m.reqs.push(r);
                    m.schedule.push(sched);
                }
                Line::Mark(k) => m.marks.push((k.at + off, k.name)),
                Line::Ready(e) => m.ready.push((e.at + off, e.ready, e.desired)),
                Line::Sse(mut s) => {
                    s.at += off;
                    m.sse.push(s);
                }
                Line::Conn(c) => {
                    if c.ev == ConnEv::Open {
                        m.conn_opens += 1;
                        if c.why == OPENED_AHEAD && !c.warm {
                            m.opened_ahead.push(c.at + off);
                        }
                    }
                }
                Line::Footer(f) => m.footers.push(f),
                // Retries of shed requests are outside the schedule: not merged here.
                Line::Retry(_) | Line::RetryGiveUp(_) => {}
                Line::Header(_) => unreachable!("visit_file refuses a second header"),
            }
        }
    }
    Ok(m)
}

/// What the shards of one schedule have in common: every header field that shapes the schedule,
/// with the shard's N but not its K. The same file given twice has the same key, so its
/// requests count as duplicates.
fn schedule_key(h: &Header) -> String {
    let n = h.shard.split_once('/').map_or(h.shard.as_str(), |(_, n)| n);
    format!(
        "{}|{}|{}|{}|{}|{}|{}|{}",
        h.target,
        h.mode,
        h.clients,
        h.arrivals,
        h.seed,
        h.rate.to_bits(),
        n,
        h.label
    )
}

/// The bounds of what one analysis reads: beyond them the input is refused with the file (and
/// line) rather than allowed to exhaust memory or run without end.
pub(crate) mod limits {
    /// The longest line of a record file (1 MiB); `fleetsim load` writes lines of a few
    /// hundred bytes.
    pub(crate) const MAX_LINE_BYTES: usize = 1 << 20;
    /// The most lines of one record file.
    pub(crate) const MAX_LINES: u64 = 100_000_000;
    /// The most request records [`read_records`](super::read_records) holds (about 120 bytes
    /// each in memory: under 2.5 GB). `fleetsim analyze` itself streams and has no such limit.
    pub(crate) const MAX_REQUESTS: u64 = 20_000_000;
    /// Every time in a record is within this of its file's origin (24 h), and the files'
    /// origins are within it of each other.
    pub(crate) const MAX_SPAN_NS: i64 = 86_400 * 1_000_000_000;
    /// The most timeline buckets (the run's length / `--bucket`).
    pub(crate) const MAX_BUCKETS: u64 = 200_000;
    /// The most reconnect-curve buckets (the run's length / `--fine-bucket`).
    pub(crate) const MAX_FINE_BUCKETS: u64 = 10_000_000;
    /// Request indices below this are tracked in a bitmap per schedule (16 MiB at most).
    pub(crate) const BITMAP_INDICES: u64 = 1 << 27;
    /// The most request indices at or above [`BITMAP_INDICES`] (each a corrupt record, or a
    /// run longer than any one analysis reads).
    pub(crate) const MAX_HIGH_INDICES: usize = 1_000_000;
    /// The most marks, ready samples, SSE events and connections reopened ahead of a request over the files of one analysis: they are
    /// kept in memory (about 100 bytes each).
    pub(crate) const MAX_KEPT_LINES: usize = 5_000_000;
}

/// A file's footer whose `recorded` count differs from the `read` request lines, said as the
/// run's invalidity (records lost or added after the generator wrote them).
pub(crate) fn footer_mismatch(path: &Path, f: &Footer, read: u64) -> Option<String> {
    (f.recorded != read).then(|| {
        format!(
            "{}: the footer says {} requests were recorded, but {read} request lines were read",
            path.display(),
            f.recorded
        )
    })
}

/// A file's footer whose retry counts differ from the `rt` and `rg` lines read, said as the
/// run's invalidity (absent from footers without retries, whose counts are then 0).
pub(crate) fn retry_footer_mismatch(
    path: &Path,
    f: &Footer,
    retries: u64,
    give_ups: u64,
) -> Option<String> {
    (f.retries != retries || f.retry_give_ups != give_ups).then(|| {
        format!(
            "{}: the footer says {} retries and {} give-ups were recorded, but {retries} retry \
             lines and {give_ups} give-up lines were read",
            path.display(),
            f.retries,
            f.retry_give_ups
        )
    })
}

/// How far `h`'s origin lies after the earliest file's, ns; an error if farther than one run may
/// span (saturating: origins far apart are refused whatever their values).
pub(crate) fn origin_offset(path: &Path, h: &Header, origin: i64) -> Result<i64, AnalyzeError> {
    let off = h.origin_epoch_ns.saturating_sub(origin);
    if off > limits::MAX_SPAN_NS {
        return Err(AnalyzeError::Records {
            path: path.to_path_buf(),
            reason: format!(
                "its origin ({} ns) is {:.0} s after the earliest file's ({origin} ns), more than the {} s one run may span: these are not shards of one run",
                h.origin_epoch_ns,
                off as f64 / 1e9,
                limits::MAX_SPAN_NS / 1_000_000_000
            ),
        });
    }
    Ok(off)
}

/// The next line of `r` into `buf` (without its newline): `Ok(false)` at the end of the file,
/// an error naming the line when it is longer than [`limits::MAX_LINE_BYTES`] (a file with no
/// newline, such as `/dev/zero`, ends here rather than filling memory).
fn next_line<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    bad: &dyn Fn(String) -> AnalyzeError,
    io_err: &dyn Fn(std::io::Error) -> AnalyzeError,
    n: u64,
) -> Result<bool, AnalyzeError> {
    use std::io::Read;
    buf.clear();
    let got = r
        .take(limits::MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', buf)
        .map_err(io_err)?;
    if got == 0 {
        return Ok(false);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    } else if buf.len() > limits::MAX_LINE_BYTES {
        return Err(bad(format!(
            "line {n}: longer than {} bytes: not a record file",
            limits::MAX_LINE_BYTES
        )));
    }
    Ok(true)
}

/// Times of a request record out of range: negative, past [`limits::MAX_SPAN_NS`] from the
/// origin, or an end before the start.
fn req_out_of_range(r: &Req) -> Option<String> {
    let span = limits::MAX_SPAN_NS;
    for (name, t) in [("is", r.intended), ("as", r.actual), ("e", r.end)] {
        if t < 0 {
            return Some(format!(
                "request {}: {name} = {t} is before the file's origin",
                r.i
            ));
        }
        if t > span {
            return Some(format!(
                "request {}: {name} = {t} ns is more than {} s after the file's origin",
                r.i,
                span / 1_000_000_000
            ));
        }
    }
    if r.end < r.actual {
        return Some(format!(
            "request {}: ends (e = {}) before it starts (as = {})",
            r.i, r.end, r.actual
        ));
    }
    if let Some(fb) = r.first_byte
        && !(r.actual..=r.end).contains(&fb)
    {
        return Some(format!(
            "request {}: first byte (fb = {fb}) outside its start and end ({}..={})",
            r.i, r.actual, r.end
        ));
    }
    None
}

/// Times of a retry record out of range, as [`req_out_of_range`] checks a request's; and an
/// attempt number of 0 (retries count from 1).
fn retry_out_of_range(r: &Retry) -> Option<String> {
    let span = limits::MAX_SPAN_NS;
    if r.attempt == 0 {
        return Some(format!(
            "retry of request {}: attempt n = 0 (retries count from 1)",
            r.i
        ));
    }
    for (name, t) in [("due", r.due), ("as", r.actual), ("e", r.end)] {
        if !(0..=span).contains(&t) {
            return Some(format!(
                "retry {} of request {}: {name} = {t} ns is outside the {} s after the file's origin",
                r.attempt,
                r.i,
                span / 1_000_000_000
            ));
        }
    }
    if r.end < r.actual
        || r.first_byte
            .is_some_and(|fb| !(r.actual..=r.end).contains(&fb))
    {
        return Some(format!(
            "retry {} of request {}: its times are out of order (as = {}, fb = {:?}, e = {})",
            r.attempt, r.i, r.actual, r.first_byte, r.end
        ));
    }
    None
}

fn read_one(path: &Path) -> Result<(PathBuf, Header, Vec<Line>), AnalyzeError> {
    let mut lines = Vec::new();
    let header = visit_file(path, true, &mut |_, l| {
        lines.push(l);
        Ok(())
    })?;
    Ok((path.to_path_buf(), header, lines))
}

/// A record file for reading: as it is, or decompressed when it starts with gzip's magic bytes
/// (record files are committed `gzip -9n`). Every limit on lines and line lengths applies to
/// the decompressed text, so a small file that inflates without end still stops there.
pub(crate) fn open_records(path: &Path) -> Result<Box<dyn std::io::Read>, AnalyzeError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path).map_err(AnalyzeError::io(path))?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(AnalyzeError::io(path))?;
    f.seek(SeekFrom::Start(0)).map_err(AnalyzeError::io(path))?;
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    })
}

/// Reads one record file line by line: checks the header (returned), then hands every later
/// line, checked (times in range, no second header), to `on_line` with its line number. Nothing
/// is kept: memory stays at one line whatever the file's size. `warn`: say on stderr when an
/// unparsable last line (a killed generator's torn write) is skipped.
pub(crate) fn visit_file(
    path: &Path,
    warn: bool,
    on_line: &mut dyn FnMut(u64, Line) -> Result<(), AnalyzeError>,
) -> Result<Header, AnalyzeError> {
    let bad = |reason: String| AnalyzeError::Records {
        path: path.to_path_buf(),
        reason,
    };
    let io_err = |e: std::io::Error| AnalyzeError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let mut f = BufReader::with_capacity(1 << 20, open_records(path)?);
    let mut header = None;
    let mut buf = Vec::new();
    // An unparsable line is forgiven only as the last one (a killed generator's torn write).
    let mut torn: Option<(u64, String)> = None;
    let mut n = 0u64;
    while next_line(&mut f, &mut buf, &bad, &io_err, n + 1)? {
        n += 1;
        if n > limits::MAX_LINES {
            return Err(bad(format!("more than {} lines", limits::MAX_LINES)));
        }
        let Ok(line) = std::str::from_utf8(&buf) else {
            return Err(bad(format!("line {n}: not UTF-8: not a record file")));
        };
        if line.trim().is_empty() {
            continue;
        }
        if let Some((at, e)) = torn.take() {
            return Err(bad(format!("line {at}: unparsable record: {e}")));
        }
        let parsed = match parse_line(line) {
            Ok(l) => l,
            Err(e) => {
                if n == 1 {
                    return Err(bad(format!("line 1: not a header: {e}")));
                }
                torn = Some((n, e.to_string()));
                continue;
            }
        };
        let at = |t: i64, what: &str| -> Result<(), AnalyzeError> {
            if t.unsigned_abs() > limits::MAX_SPAN_NS as u64 {
                return Err(bad(format!(
                    "line {n}: {what} at {t} ns is more than {} s from the file's origin",
                    limits::MAX_SPAN_NS / 1_000_000_000
                )));
            }
            Ok(())
        };
        match &parsed {
            Line::Req(r) => {
                if let Some(why) = req_out_of_range(r) {
                    return Err(bad(format!("line {n}: {why}")));
                }
            }
            Line::Mark(k) => at(k.at, "a mark")?,
            Line::Ready(e) => at(e.at, "a ready sample")?,
            Line::Sse(e) => at(e.at, "an SSE event")?,
            Line::Conn(c) => at(c.at, "a connection event")?,
            Line::Retry(r) => {
                if let Some(why) = retry_out_of_range(r) {
                    return Err(bad(format!("line {n}: {why}")));
                }
            }
            Line::RetryGiveUp(g) => at(g.at, "a retry give-up")?,
            _ => {}
        }
        match (n, parsed) {
            (1, Line::Header(h)) => {
                if h.schema != SCHEMA {
                    return Err(bad(format!("schema {:?}, expected {SCHEMA}", h.schema)));
                }
                header = Some(h);
            }
            (1, _) => return Err(bad("first line is not a header".into())),
            (_, Line::Header(_)) => {
                return Err(bad(format!("line {n}: a second header inside one file")));
            }
            (_, l) => on_line(n, l)?,
        }
    }
    if let Some((at, e)) = torn
        && warn
    {
        eprintln!(
            "warning: {}:{at}: skipped unparsable last line: {e}",
            path.display()
        );
    }
    header.ok_or_else(|| bad("empty file".into()))
}

fn to_u64(t: i64) -> u64 {
    t.max(0) as u64
}

/// Measurement samples of the merged requests.
pub fn samples(reqs: &[Req]) -> Vec<Sample> {
    reqs.iter().map(sample_of).collect()
}

/// The measurement sample of one request.
fn sample_of(r: &Req) -> Sample {
    Sample {
        intended_ns: to_u64(r.intended),
        start_ns: to_u64(r.actual.max(r.intended)),
        end_ns: to_u64(r.end.max(r.actual)),
        outcome: r.outcome,
        new_conn: !r.reused,
    }
}

fn mark(m: &Merged, name: &str, pick_max: bool) -> Option<i64> {
    find_mark(&m.marks, name, pick_max)
}

fn find_mark(marks: &[(i64, String)], name: &str, pick_max: bool) -> Option<i64> {
    let it = marks.iter().filter(|(_, n)| n == name).map(|(t, _)| *t);
    if pick_max { it.max() } else { it.min() }
}

/// Cut the run: marks from the files (else the first intended start and the last end of a
/// request), overridden by explicit options.
fn run_marks(
    marks: &[(i64, String)],
    first_intended: Option<i64>,
    last_end: Option<i64>,
    opts: &AnalyzePlan,
) -> Result<RunMarks, AnalyzeError> {
    let load_start = find_mark(marks, "load_start", false)
        .or(first_intended)
        .unwrap_or(0);
    let load_end = find_mark(marks, "load_end", true)
        .or(last_end)
        .unwrap_or(load_start);
    let rs = match opts.rollout_start {
        Some(d) => Some(load_start + d.as_nanos() as i64),
        None => find_mark(marks, "rollout_start", false),
    };
    let re = match opts.rollout_end {
        Some(d) => Some(load_start + d.as_nanos() as i64),
        None => find_mark(marks, "rollout_end", true),
    };
    let (rs, re) = match (rs, re) {
        (Some(s), Some(e)) => (s, e),
        (Some(s), None) => {
            eprintln!("warning: rollout_start but no rollout_end: the window runs to the load end");
            (s, load_end)
        }
        (None, _) => {
            eprintln!("warning: no rollout marks: the whole load is the window (no baseline)");
            (load_start, load_end)
        }
    };
    if re < rs {
        return Err(AnalyzeError::RolloutOrder {
            start_ns: rs,
            end_ns: re,
        });
    }
    Ok(RunMarks {
        load_start_ns: to_u64(load_start),
        rollout_start_ns: to_u64(rs),
        rollout_end_ns: to_u64(re),
        load_end_ns: to_u64(load_end),
    })
}

fn read_ready_csv(
    path: &Path,
    origin_epoch_ns: i64,
) -> Result<Vec<(i64, u32, Option<u32>)>, AnalyzeError> {
    let bad = |reason: String| AnalyzeError::Ready {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(AnalyzeError::io(path))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or_else(|| bad("empty ready file".into()))?;
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let epoch = match cols.first() {
        Some(&"epoch_ns") => true,
        Some(&"t_s") => false,
        _ => {
            return Err(bad(format!(
                "ready file header must start with epoch_ns or t_s, got {header:?}"
            )));
        }
    };
    let mut out = Vec::new();
    for l in lines {
        let row = |e: &dyn std::fmt::Display| bad(format!("ready file row {l:?}: {e}"));
        let f: Vec<&str> = l.split(',').map(str::trim).collect();
        let t = if epoch {
            f[0].parse::<i64>().map_err(|e| row(&e))? - origin_epoch_ns
        } else {
            (f[0].parse::<f64>().map_err(|e| row(&e))? * 1e9).round() as i64
        };
        let ready: u32 = f
            .get(1)
            .ok_or_else(|| row(&"no ready column"))?
            .parse()
            .map_err(|e| row(&e))?;
        let desired = f
            .get(2)
            .map(|d| d.parse())
            .transpose()
            .map_err(|e| row(&e))?;
        out.push((t, ready, desired));
    }
    Ok(out)
}

fn endpoint_series(
    ready: &[(i64, u32, u32)],
    origin_epoch_ns: i64,
    opts: &AnalyzePlan,
) -> Result<Option<EndpointSeries>, AnalyzeError> {
    let mut pts: Vec<(i64, u32, Option<u32>)> =
        ready.iter().map(|&(t, r, d)| (t, r, Some(d))).collect();
    if let Some(p) = &opts.ready {
        pts.extend(read_ready_csv(p, origin_epoch_ns)?);
    }
    if pts.is_empty() {
        return Ok(None);
    }
    pts.sort_by_key(|p| p.0);
    let desired = opts
        .desired
        .or_else(|| pts.iter().filter_map(|p| p.2).filter(|d| *d > 0).max())
        .ok_or(AnalyzeError::NoDesired)?;
    Ok(Some(EndpointSeries {
        desired,
        points: pts.iter().map(|&(t, r, _)| (to_u64(t), r)).collect(),
    }))
}

fn sse_summary(events: &[SseEvent], streams: u64) -> (SseSummary, Vec<String>) {
    let events: Vec<StreamEvent> = events
        .iter()
        .map(|e| StreamEvent {
            at_ns: e.at,
            id: e.id,
            kind: match e.ev {
                SseEv::Open => StreamEventKind::Open,
                SseEv::Drop => StreamEventKind::Drop,
                SseEv::Fail => StreamEventKind::Fail,
                SseEv::End => StreamEventKind::End,
            },
            why: e.why.clone(),
        })
        .collect();
    let (s, rows) = summarize_streams(&events, streams);
    let mut lines =
        vec!["stream,event,at_s,why,next_open_at_s,reconnect_ms,attempts_until_open".to_string()];
    for r in rows {
        let (next_at, ms, att) = match r.next_open {
            Some((at, attempts)) => (
                format!("{:.6}", at as f64 / 1e9),
                format!("{:.3}", (at - r.at_ns) as f64 / 1e6),
                attempts.to_string(),
            ),
            None => (String::new(), String::new(), String::new()),
        };
        lines.push(format!(
            "{},{},{:.6},{},{next_at},{ms},{att}",
            r.id,
            r.kind.as_str(),
            r.at_ns as f64 / 1e9,
            r.why
        ));
    }
    (s, lines)
}

/// Analyzes record files and writes the outputs: read the files in passes (see
/// `passes`: memory does not follow the files' size), cut the window, run the shared
/// analyzer, check the generator's health, record provenance, write.
pub fn run(plan: AnalyzePlan) -> Result<AnalyzeReport, AnalyzeError> {
    if plan.late_threshold.is_zero() {
        return Err(AnalyzeError::LateThreshold);
    }
    let (scan, mut lag) = passes::scan(&plan.records, 0.99)?;
    let marks = run_marks(&scan.marks, scan.first_intended, scan.last_end, &plan)?;
    let endpoints = endpoint_series(&scan.ready, scan.origin_epoch_ns, &plan)?;
    check_buckets(to_u64(scan.run_end), &marks, &plan)?;
    let config = AnalyzeConfig {
        tail_ns: plan.tail.as_nanos() as u64,
        warmup_ns: plan.warmup.as_nanos() as u64,
        bucket_ns: plan.bucket.as_nanos() as u64,
        fine_bucket_ns: plan.fine_bucket.as_nanos() as u64,
        fault_threshold_ns: scan.fault_ns.max(0) as u64,
    };
    let label = RunLabel {
        source: Source::Live,
        scenario: plan
            .scenario
            .clone()
            .unwrap_or_else(|| label_of(&scan.headers)),
        seed: None,
    };
    let mut stream = StreamingAnalysis::new(&marks, &config);
    for &t in &scan.opened_ahead {
        stream.add_connection(to_u64(t));
    }
    let late_ns = plan.late_threshold.as_nanos().min(u128::from(u64::MAX)) as u64;
    let mut late = passes::LateCounter::new(late_ns, stream.window_ns());
    passes::remaining_passes(&scan, &mut stream, &mut lag, &mut late)?;
    let mut a = stream.finish(endpoints.as_ref(), JobCounts::default(), &label);
    let (live, sse_rows) = generator_health(&scan, lag.value(), late.finish());
    a.summary.generator_faults = a.summary.generator_faults.max(live.generator_faults);
    add_provenance(
        &mut a.summary.provenance,
        scan.origin_epoch_ns,
        &scan.headers,
        &plan,
    );
    let summary = LiveSummary {
        summary: a.summary.clone(),
        live,
    };
    write_outputs(&plan, &config, summary, sse_rows, a)
}

/// `--bucket` and `--fine-bucket` against the run's length: at least 1 ms, and at most
/// [`limits::MAX_BUCKETS`] and [`limits::MAX_FINE_BUCKETS`] buckets.
fn check_buckets(
    last_request_ns: u64,
    marks: &RunMarks,
    plan: &AnalyzePlan,
) -> Result<(), AnalyzeError> {
    let run_end = last_request_ns.max(marks.load_end_ns);
    for (flag, width, max) in [
        ("--bucket", plan.bucket, limits::MAX_BUCKETS),
        ("--fine-bucket", plan.fine_bucket, limits::MAX_FINE_BUCKETS),
    ] {
        let ns = width.as_nanos().min(u128::from(u64::MAX)) as u64;
        if ns < 1_000_000 {
            return Err(AnalyzeError::Bucket {
                flag,
                reason: format!("{width:?} is below the limit 1ms"),
            });
        }
        let n = run_end / ns + 1;
        if n > max {
            return Err(AnalyzeError::Bucket {
                flag,
                reason: format!(
                    "{width:?} over a run of {:.3} s makes {n} buckets, above the limit {max}: raise {flag}",
                    run_end as f64 / 1e9
                ),
            });
        }
    }
    Ok(())
}

/// The scenario named in the summary without `--scenario`: the generator's label, else `live`.
fn label_of(headers: &[Header]) -> String {
    headers
        .iter()
        .map(|h| h.label.clone())
        .find(|l| !l.is_empty())
        .unwrap_or_else(|| "live".into())
}

/// Generator health and merge checks (the summary's `live`), and the SSE rows of `sse.csv`,
/// from the first pass and the send lags' p99 (ns).
fn generator_health(
    scan: &passes::Scan,
    lag_p99_ns: u64,
    late: LateSends,
) -> (LiveInfo, Vec<String>) {
    let gf = scan.generator_faults;
    let (dup, missing) = (scan.duplicate_indices, scan.missing_indices);
    let footers_valid = scan.footers.len() == scan.headers.len()
        && scan.footers.iter().all(|f| f.valid && !f.stopped_early);
    let streams: u64 = scan.headers.iter().map(|h| h.sse_streams).sum();
    let (sse, sse_rows) = sse_summary(&scan.sse, streams);
    let live = LiveInfo {
        files: scan.headers.len(),
        shards: scan.headers.iter().map(|h| h.shard.clone()).collect(),
        requests_recorded: scan.requests,
        generator_faults: gf,
        send_lag_p99_ms: lag_p99_ns as f64 / 1e6,
        send_lag_max_ms: scan.lag_max_ns.max(0) as f64 / 1e6,
        duplicate_indices: dup,
        missing_indices: missing,
        footers_valid,
        valid: gf == 0
            && dup == 0
            && missing == 0
            && footers_valid
            && scan.count_mismatches.is_empty()
            && late.window == 0,
        connections_opened: scan.conn_opens,
        footer_mismatches: scan.count_mismatches.clone(),
        sse: (streams > 0 || !scan.sse.is_empty()).then_some(sse),
        late_sends: Some(late.clone()),
        retries: scan.retries.summary(),
    };
    if !live.valid {
        eprintln!(
            "warning: run is NOT valid: generator_faults={gf} duplicate_indices={dup} missing_indices={missing} footers_valid={footers_valid} late_sends_in_window={} (more than {} ms late)",
            late.window, late.threshold_ms
        );
        for why in &scan.count_mismatches {
            eprintln!("warning: run is NOT valid: {why}");
        }
    }
    (live, sse_rows)
}

/// Where the figures came from: the record files, the merged origin, the generator's settings,
/// and the plan's extra entries.
fn add_provenance(
    p: &mut BTreeMap<String, String>,
    origin_epoch_ns: i64,
    headers: &[Header],
    plan: &AnalyzePlan,
) {
    p.insert(
        "records".into(),
        plan.records
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    p.insert("origin_epoch_ns".into(), origin_epoch_ns.to_string());
    if let Some(h) = headers.first() {
        p.insert("generator".into(), h.generator.clone());
        p.insert("target".into(), h.target.clone());
        p.insert("rate".into(), h.rate.to_string());
        p.insert("mode".into(), h.mode.clone());
        p.insert("arrivals".into(), h.arrivals.clone());
    }
    for (k, v) in &plan.provenance {
        p.insert(k.clone(), v.clone());
    }
}

/// Writes `summary.json`, `timeline.csv`, `reconnects.csv` and (with SSE streams) `sse.csv`.
fn write_outputs(
    plan: &AnalyzePlan,
    config: &AnalyzeConfig,
    summary: LiveSummary,
    sse_rows: Vec<String>,
    a: measure::Analysis,
) -> Result<AnalyzeReport, AnalyzeError> {
    let dir = &plan.out_dir;
    std::fs::create_dir_all(dir).map_err(AnalyzeError::io(dir))?;
    let summary_path = dir.join("summary.json");
    std::fs::write(&summary_path, summary.to_json()? + "\n")
        .map_err(AnalyzeError::io(&summary_path))?;

    let timeline_path = dir.join("timeline.csv");
    write_timeline(&timeline_path, &a.timeline).map_err(AnalyzeError::io(&timeline_path))?;
    let reconnects_path = dir.join("reconnects.csv");
    let fine_s = config.fine_bucket_ns as f64 / 1e9;
    write_reconnects(&reconnects_path, &a.reconnects, fine_s)
        .map_err(AnalyzeError::io(&reconnects_path))?;
    if summary.live.sse.is_some() {
        let path = dir.join("sse.csv");
        std::fs::write(&path, sse_rows.join("\n") + "\n").map_err(AnalyzeError::io(&path))?;
    }
    Ok(AnalyzeReport {
        summary_path,
        timeline_path,
        reconnects_path,
        summary,
        analysis: a,
    })
}

fn write_timeline(path: &Path, timeline: &[measure::Bucket]) -> std::io::Result<()> {
    let mut t = std::io::BufWriter::new(File::create(path)?);
    writeln!(
        t,
        "t_s,sent,ok,refused,reset,http_502,http_503,http_504,http_5xx_other,timeout,shed,other,completed,p50_ms,p99_ms,ready_endpoints,new_connections"
    )?;
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_default();
    for b in timeline {
        let c = &b.counts;
        writeln!(
            t,
            "{:.3},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            b.t_s,
            c.sent,
            c.ok,
            c.refused,
            c.reset,
            c.http_502,
            c.http_503,
            c.http_504,
            c.http_5xx_other,
            c.timeout,
            c.shed,
            c.other,
            b.completed,
            opt(b.p50_ms),
            opt(b.p99_ms),
            b.ready_endpoints.map(|r| r.to_string()).unwrap_or_default(),
            b.new_connections
        )?;
    }
    t.flush()
}

fn write_reconnects(path: &Path, reconnects: &[u64], fine_s: f64) -> std::io::Result<()> {
    let mut r = std::io::BufWriter::new(File::create(path)?);
    writeln!(r, "t_s,new_connections")?;
    for (i, n) in reconnects.iter().enumerate() {
        writeln!(r, "{:.3},{n}", i as f64 * fine_s)?;
    }
    r.flush()
}
