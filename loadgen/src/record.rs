//! The record file: NDJSON, one JSON object per line, tagged by `"t"`.
//!
//! | `t` | line | written |
//! |-----|------|---------|
//! | `h` | [`Header`]: schema, clock origin (monotonic zero of every time below) and its wall-clock epoch, run settings | first line |
//! | `r` | [`Req`]: one per scheduled request | when the request ends |
//! | `c` | [`ConnEvent`]: connection opened / closed (and why) | as it happens |
//! | `m` | [`Mark`]: a marker (`load_start` = schedule start, `rollout_start`, `rollout_end`, `load_end`, or any name) | as it happens |
//! | `e` | [`Ready`]: ready-endpoint count sample | as supplied |
//! | `s` | [`SseEvent`]: long-lived stream open / drop / failed attempt | as it happens |
//! | `rt` | [`Retry`]: one retry of a shed request (`--shed-retries` only) | when the retry ends |
//! | `rg` | [`RetryGiveUp`]: a shed request no longer retried, and why (`--shed-retries` only) | when decided |
//! | `f` | [`Footer`]: generator health: scheduled, sent, faults, send-lag percentiles | last line |
//!
//! All times are integer nanoseconds since the header's origin (`origin_epoch_ns` is the wall clock
//! at that origin, so files from several generators, or other event sources, can be aligned).
//! Lines are appended in completion order, not intended order.

use measure::Outcome;
use serde::{Deserialize, Serialize};

use crate::retry::GiveUp;

/// The `schema` of every record file's header.
pub const SCHEMA: &str = "fleetsim.records/1";

/// What happened to a connection (`ev` of a `c` line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnEv {
    /// Connected (TCP and the HTTP/1 handshake).
    Open,
    /// Closed, by either side (`why` says which).
    Close,
    /// The connect or the handshake failed (`why` is the outcome class).
    ConnectFail,
}

/// Where a marker came from (`src` of an `m` line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkSource {
    /// A `--mark NAME@SECONDS` flag.
    Flag,
    /// A line of the `--marks-file`.
    File,
    /// The control port (`POST /mark`).
    Http,
    /// The generator itself (`load_start`, `load_end`).
    Generator,
}

/// What happened to a server-sent-event stream (`ev` of an `s` line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SseEv {
    /// The stream is open (response headers received).
    Open,
    /// An open stream ended (`why`: `eof`, `reset`, `timeout`...).
    Drop,
    /// An attempt to open failed (`why`: its outcome class).
    Fail,
    /// The run stopped; the stream's last line.
    End,
}

impl SseEv {
    /// The name on the record line.
    pub fn as_str(self) -> &'static str {
        match self {
            SseEv::Open => "open",
            SseEv::Drop => "drop",
            SseEv::Fail => "fail",
            SseEv::End => "end",
        }
    }
}

/// The first line of a record file (`h`): the schema, the clock origin and the run's settings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Header {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Wall clock (Unix epoch ns) at the origin.
    pub origin_epoch_ns: i64,
    /// The program and version that wrote the file (`fleetsim-loadgen 0.1.0`; files written
    /// before the generator had its own crate say `fleetsim-validate 0.1.0`).
    pub generator: String,
    /// The URL the requests went to.
    pub target: String,
    /// `keepalive` or `new` (new connection per request).
    pub mode: String,
    /// Virtual clients (keep-alive mode: each keeps one idle connection).
    pub clients: u64,
    /// `constant` or `poisson`.
    pub arrivals: String,
    /// Seed of the Poisson schedule (same seed, same intended starts).
    pub seed: u64,
    /// Intended rate of the whole schedule (all shards together), requests per second.
    pub rate: f64,
    /// Shard `K/N`.
    pub shard: String,
    /// A request sent later than this after its intended start is a generator fault, ns.
    pub fault_threshold_ns: i64,
    /// The client's deadline per request, from its actual start (connect + send + full
    /// response), ns.
    pub timeout_ns: i64,
    /// Free-form label (`--label`, the scenario name); the analyzer's default scenario name.
    #[serde(default)]
    pub label: String,
    /// Server-sent-event streams the generator kept open (0: none).
    #[serde(default)]
    pub sse_streams: u64,
    /// Most retries of a shed request (`--shed-retries`; 0, the default: none, and the field is
    /// left out).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shed_retries: u64,
    /// The longest `Retry-After` honoured (`--shed-retry-max-wait`), ns (left out without
    /// retries).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shed_retry_max_wait_ns: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One request. Field names are short because there is one line per request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Req {
    /// Global schedule index (unique across shards).
    pub i: u64,
    /// Intended start.
    #[serde(rename = "is")]
    pub intended: i64,
    /// Actual start (when the request task began: connect or reuse).
    #[serde(rename = "as")]
    pub actual: i64,
    /// First byte of the response (headers received), if any.
    #[serde(rename = "fb", default, skip_serializing_if = "Option::is_none")]
    pub first_byte: Option<i64>,
    /// End: full body read, or the error.
    #[serde(rename = "e")]
    pub end: i64,
    /// Connection id (0 when no connection was established, e.g. refused).
    #[serde(rename = "c")]
    pub conn: u64,
    /// The request went out on a reused keep-alive connection.
    #[serde(rename = "ru")]
    pub reused: bool,
    /// HTTP status, 0 if none.
    #[serde(rename = "st")]
    pub status: u16,
    /// The request's outcome class (`o`), one per request as the measurement contract fixes.
    #[serde(rename = "o")]
    pub outcome: Outcome,
    /// Serving pod (`x-fleetsim-pod` response header).
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Generator fault: sent later than the threshold, or failed for a generator-side reason.
    #[serde(rename = "gf", default)]
    pub generator_fault: bool,
}

impl Req {
    /// Latency from the intended start to the end (no coordinated omission), ns.
    pub fn latency_ns(&self) -> i64 {
        self.end - self.intended
    }
    /// How late the request was sent: actual start - intended start, ns.
    pub fn send_lag_ns(&self) -> i64 {
        self.actual - self.intended
    }
}

/// One retry of a shed request (an `rt` line, `--shed-retries` only): sent at `due`, the
/// previous attempt's end plus its `Retry-After`, outside the schedule. The scheduled request
/// keeps its own `r` line (outcome `shed`); its retries link to it by `i` and count from 1 in
/// `n`. The other fields are a request line's.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Retry {
    /// The scheduled request's global index (its `r` line's `i`).
    pub i: u64,
    /// Attempt number: 1 for the first retry.
    #[serde(rename = "n")]
    pub attempt: u32,
    /// When it was due: the previous attempt's end plus its `Retry-After`. Its latency is
    /// measured from here.
    pub due: i64,
    /// Actual start (connect or reuse began).
    #[serde(rename = "as")]
    pub actual: i64,
    /// First byte of the response (headers received), if any.
    #[serde(rename = "fb", default, skip_serializing_if = "Option::is_none")]
    pub first_byte: Option<i64>,
    /// End: full body read, or the error.
    #[serde(rename = "e")]
    pub end: i64,
    /// Connection id (0 when no connection was established).
    #[serde(rename = "c")]
    pub conn: u64,
    /// The retry went out on a reused keep-alive connection.
    #[serde(rename = "ru")]
    pub reused: bool,
    /// HTTP status, 0 if none.
    #[serde(rename = "st")]
    pub status: u16,
    /// The retry's outcome class; `shed` again leads to the next retry or a give-up.
    #[serde(rename = "o")]
    pub outcome: Outcome,
    /// Serving pod (`x-fleetsim-pod` response header).
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The retry failed for a reason on the generator's side (out of fds or ports). Lateness
    /// never sets it: retries are not scheduled sends.
    #[serde(rename = "gf", default, skip_serializing_if = "std::ops::Not::not")]
    pub generator_fault: bool,
}

/// A shed request the generator stopped retrying (an `rg` line, `--shed-retries` only): the
/// last attempt's outcome (`shed`) is final.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RetryGiveUp {
    /// The scheduled request's global index.
    pub i: u64,
    /// The retry that was not sent (1 = the first).
    #[serde(rename = "n")]
    pub attempt: u32,
    /// When the generator gave up, ns since the origin.
    pub at: i64,
    /// Why.
    pub why: GiveUp,
    /// The `Retry-After` value as received (at most 64 bytes, lossy UTF-8; empty when absent).
    #[serde(rename = "ra", default, skip_serializing_if = "String::is_empty")]
    pub retry_after: String,
    /// The wait it asked for, ns, when it could be read.
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    pub wait_ns: Option<u64>,
}

impl Retry {
    /// Latency from when the retry was due to its end, ns.
    pub fn latency_ns(&self) -> i64 {
        self.end - self.due
    }
    /// How late the retry went out after it was due, ns.
    pub fn send_lag_ns(&self) -> i64 {
        self.actual - self.due
    }
}

/// The `why` of an `open` record for a connection a keep-alive client reopened ahead of any
/// request (`--eager-reconnect`).
pub const OPENED_AHEAD: &str = "eager";

/// One connection event (a `c` line).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConnEvent {
    /// When it happened, ns since the origin.
    pub at: i64,
    /// The generator's connection id (the `c` of the requests that used it).
    #[serde(rename = "c")]
    pub conn: u64,
    /// What happened to the connection.
    pub ev: ConnEv,
    /// For `close`: `eof` (server closed), `client` (we closed), `error:<class>`.
    /// For `connect_fail`: the outcome class. For `open`: [`OPENED_AHEAD`] when a keep-alive
    /// client reopened a closed connection ahead of any request (`--eager-reconnect`), else empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub why: String,
    /// Opened during warm-up, before the schedule started.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub warm: bool,
}

/// A marker (an `m` line): a named instant such as `rollout_start`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Mark {
    /// When, ns since the origin.
    pub at: i64,
    /// The marker's name (`load_start`, `rollout_start`, `rollout_end`, `load_end`, or any other).
    pub name: String,
    /// Where the marker came from.
    pub src: MarkSource,
}

/// A ready-endpoint count sample (an `e` line), as another event source supplies it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Ready {
    /// When sampled, ns since the origin.
    pub at: i64,
    /// Endpoints ready at that time.
    pub ready: u32,
    /// Desired replicas at that time.
    pub desired: u32,
}

/// One event of a long-lived server-sent-event stream (an `s` line).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SseEvent {
    /// When it happened, ns since the origin.
    pub at: i64,
    /// Stream id (0..N).
    pub id: u64,
    /// What happened to the stream.
    pub ev: SseEv,
    /// Attempt number for this stream (0 = first connect).
    #[serde(default)]
    pub att: u64,
    /// `drop`: `eof`, `reset`, `timeout` (idle), ...; `fail`: outcome class of the failed attempt.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub why: String,
    /// Events received on this connection (`drop`).
    #[serde(default)]
    pub n: u64,
    /// The pod that served the stream (`x-fleetsim-pod` response header), when known.
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The generator's connection id the stream ran on (0: no connection).
    #[serde(rename = "c", default)]
    pub conn: u64,
}

/// The generator's health at the end of its run (the `f` line, the last; a killed generator
/// leaves none).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Footer {
    /// When the generator finished, ns since the origin.
    pub at: i64,
    /// Requests this generator's schedule slice contained (up to a stop).
    pub scheduled: u64,
    /// Requests actually started.
    pub sent: u64,
    /// Requests with a record (== sent when the run finished cleanly).
    pub recorded: u64,
    /// Requests flagged as generator faults (sent later than the threshold, or a generator-side
    /// error).
    pub generator_faults: u64,
    /// Median send lag (actual - intended start), ns.
    pub lag_p50_ns: u64,
    /// 99th-percentile send lag, ns.
    pub lag_p99_ns: u64,
    /// 99.9th-percentile send lag, ns.
    pub lag_p999_ns: u64,
    /// Largest send lag, ns.
    pub lag_max_ns: u64,
    /// No generator fault and every request recorded.
    pub valid: bool,
    /// Stopped early (control port `/stop` or a signal).
    pub stopped_early: bool,
    /// The signal that stopped the run (`SIGINT`, `SIGTERM`), when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// Retry lines (`rt`) written (left out when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u64,
    /// Give-up lines (`rg`) written (left out when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retry_give_ups: u64,
}

/// A parsed line.
#[derive(Clone, Debug, PartialEq)]
pub enum Line {
    /// The `h` line: the run's settings and clock origin.
    Header(Header),
    /// An `r` line: one request.
    Req(Req),
    /// A `c` line: a connection opened or closed.
    Conn(ConnEvent),
    /// An `m` line: a marker.
    Mark(Mark),
    /// An `e` line: a ready-endpoint sample.
    Ready(Ready),
    /// An `s` line: a server-sent-event stream event.
    Sse(SseEvent),
    /// An `rt` line: a retry of a shed request.
    Retry(Retry),
    /// An `rg` line: a shed request no longer retried.
    RetryGiveUp(RetryGiveUp),
    /// The `f` line: the generator's health at the end.
    Footer(Footer),
}

#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(borrow)]
    t: &'a str,
}

/// A record line that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Not JSON, or a field of the wrong shape for its line type.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// The `t` tag names no line type of this schema.
    #[error("unknown record type {0:?}")]
    UnknownType(String),
}

/// Parse one line.
pub fn parse_line(line: &str) -> Result<Line, RecordError> {
    // Fast path for the common case.
    if line.starts_with("{\"t\":\"r\"") {
        return Ok(serde_json::from_str::<Req>(line).map(Line::Req)?);
    }
    let tag: Tag = serde_json::from_str(line)?;
    let r = match tag.t {
        "r" => serde_json::from_str(line).map(Line::Req),
        "h" => serde_json::from_str(line).map(Line::Header),
        "c" => serde_json::from_str(line).map(Line::Conn),
        "m" => serde_json::from_str(line).map(Line::Mark),
        "e" => serde_json::from_str(line).map(Line::Ready),
        "s" => serde_json::from_str(line).map(Line::Sse),
        "rt" => serde_json::from_str(line).map(Line::Retry),
        "rg" => serde_json::from_str(line).map(Line::RetryGiveUp),
        "f" => serde_json::from_str(line).map(Line::Footer),
        other => return Err(RecordError::UnknownType(other.to_string())),
    };
    Ok(r?)
}

/// Serialize any non-request line with its tag first: `{"t":"m",...}`.
pub fn write_tagged<T: Serialize>(b: &mut Vec<u8>, t: &'static str, v: &T) {
    let body = serde_json::to_vec(v).expect("record to json");
    b.extend_from_slice(b"{\"t\":\"");
    b.extend_from_slice(t.as_bytes());
    b.push(b'"');
    if body.len() > 2 {
        b.push(b',');
        b.extend_from_slice(&body[1..]);
    } else {
        b.push(b'}');
    }
}

/// Same as [`write_tagged`], as a String.
pub fn tagged<T: Serialize>(t: &'static str, v: &T) -> String {
    let mut b = Vec::new();
    write_tagged(&mut b, t, v);
    String::from_utf8(b).expect("utf8 json")
}

/// Hot path: write a request line without serde (hand-rolled, same shape as `Req`'s serde form).
#[inline]
pub fn write_req(b: &mut Vec<u8>, r: &Req) {
    let mut ib = itoa::Buffer::new();
    b.extend_from_slice(b"{\"t\":\"r\",\"i\":");
    b.extend_from_slice(ib.format(r.i).as_bytes());
    b.extend_from_slice(b",\"is\":");
    b.extend_from_slice(ib.format(r.intended).as_bytes());
    b.extend_from_slice(b",\"as\":");
    b.extend_from_slice(ib.format(r.actual).as_bytes());
    if let Some(fb) = r.first_byte {
        b.extend_from_slice(b",\"fb\":");
        b.extend_from_slice(ib.format(fb).as_bytes());
    }
    b.extend_from_slice(b",\"e\":");
    b.extend_from_slice(ib.format(r.end).as_bytes());
    b.extend_from_slice(b",\"c\":");
    b.extend_from_slice(ib.format(r.conn).as_bytes());
    b.extend_from_slice(if r.reused {
        b",\"ru\":true,\"st\":"
    } else {
        b",\"ru\":false,\"st\":"
    });
    b.extend_from_slice(ib.format(r.status).as_bytes());
    b.extend_from_slice(b",\"o\":\"");
    b.extend_from_slice(r.outcome.as_str().as_bytes());
    b.push(b'"');
    if let Some(p) = &r.pod {
        b.extend_from_slice(b",\"p\":");
        write_json_str(b, p);
    }
    if r.generator_fault {
        b.extend_from_slice(b",\"gf\":true");
    }
    b.push(b'}');
}

fn write_json_str(b: &mut Vec<u8>, s: &str) {
    b.push(b'"');
    for ch in s.chars() {
        match ch {
            '"' => b.extend_from_slice(b"\\\""),
            '\\' => b.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 => {
                b.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut tmp = [0u8; 4];
                b.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
            }
        }
    }
    b.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_written_req_line_parses_back() {
        let r = Req {
            i: 42,
            intended: 1_000,
            actual: 1_050,
            first_byte: Some(2_000),
            end: 3_000,
            conn: 7,
            reused: true,
            status: 503,
            outcome: Outcome::Shed,
            pod: Some("pod-\"a\"\\\n".into()),
            generator_fault: true,
        };
        let mut b = Vec::new();
        write_req(&mut b, &r);
        let s = String::from_utf8(b).unwrap();
        assert_eq!(parse_line(&s).unwrap(), Line::Req(r.clone()));
        let r2 = Req {
            first_byte: None,
            pod: None,
            generator_fault: false,
            reused: false,
            ..r
        };
        let mut b = Vec::new();
        write_req(&mut b, &r2);
        assert_eq!(
            parse_line(std::str::from_utf8(&b).unwrap()).unwrap(),
            Line::Req(r2)
        );
    }

    #[test]
    fn tagged_lines_parse_back() {
        let m = Mark {
            at: 5,
            name: "rollout_start".into(),
            src: MarkSource::Http,
        };
        let s = tagged("m", &m);
        assert!(s.starts_with("{\"t\":\"m\""), "{s}");
        assert_eq!(parse_line(&s).unwrap(), Line::Mark(m));
    }

    #[test]
    fn retry_lines_keep_their_record_names_and_parse_back() {
        let r = Retry {
            i: 7,
            attempt: 1,
            due: 2_000,
            actual: 2_100,
            first_byte: Some(2_500),
            end: 3_000,
            conn: 4,
            reused: true,
            status: 200,
            outcome: Outcome::Ok,
            pod: None,
            generator_fault: false,
        };
        let s = tagged("rt", &r);
        assert_eq!(
            s,
            r#"{"t":"rt","i":7,"n":1,"due":2000,"as":2100,"fb":2500,"e":3000,"c":4,"ru":true,"st":200,"o":"ok"}"#
        );
        assert_eq!(parse_line(&s).unwrap(), Line::Retry(r));
        let g = RetryGiveUp {
            i: 7,
            attempt: 2,
            at: 9,
            why: GiveUp::TooLong,
            retry_after: "120".into(),
            wait_ns: Some(120_000_000_000),
        };
        let s = tagged("rg", &g);
        assert_eq!(
            s,
            r#"{"t":"rg","i":7,"n":2,"at":9,"why":"too_long","ra":"120","w":120000000000}"#
        );
        assert_eq!(parse_line(&s).unwrap(), Line::RetryGiveUp(g));
    }

    #[test]
    fn a_footer_without_retries_has_no_retry_fields() {
        let s = tagged("f", &Footer::default());
        assert!(!s.contains("retr"), "{s}");
    }

    #[test]
    fn typed_fields_keep_their_record_names() {
        let c = ConnEvent {
            at: 1,
            conn: 2,
            ev: ConnEv::ConnectFail,
            why: "refused".into(),
            warm: false,
        };
        assert_eq!(
            tagged("c", &c),
            r#"{"t":"c","at":1,"c":2,"ev":"connect_fail","why":"refused"}"#
        );
        let m = Mark {
            at: 0,
            name: "load_start".into(),
            src: MarkSource::Generator,
        };
        assert_eq!(
            tagged("m", &m),
            r#"{"t":"m","at":0,"name":"load_start","src":"generator"}"#
        );
        for ev in [SseEv::Open, SseEv::Drop, SseEv::Fail, SseEv::End] {
            let json = serde_json::to_string(&ev).unwrap();
            assert_eq!(json, format!("\"{}\"", ev.as_str()));
        }
    }
}
