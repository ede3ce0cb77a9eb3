//! Long-lived streams (server-sent events): what a client holding streams saw, from its stream
//! events. The live analyzer reads the events from the generator's `s` record lines, the
//! simulator from its own streams; both summarize them here, so "a drop", "a reconnect" and
//! "never reconnected" mean the same on both sides.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What happened to a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamEventKind {
    /// The stream is open (the response's headers reached the client).
    Open,
    /// An open stream ended (`why`: `eof` for a clean end, `reset`, `timeout`...).
    Drop,
    /// An attempt to open failed (`why`: its outcome class).
    Fail,
    /// The run stopped: the stream's last event.
    End,
}

impl StreamEventKind {
    /// The name on a record line and in `sse.csv`.
    pub const fn as_str(self) -> &'static str {
        match self {
            StreamEventKind::Open => "open",
            StreamEventKind::Drop => "drop",
            StreamEventKind::Fail => "fail",
            StreamEventKind::End => "end",
        }
    }
}

/// One event of one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamEvent {
    /// When the client saw it, nanoseconds from the run's origin.
    pub at_ns: i64,
    /// The stream (0..N).
    pub id: u64,
    /// What happened.
    pub kind: StreamEventKind,
    /// Why a stream dropped or an attempt failed (empty otherwise).
    pub why: String,
}

/// What the streams saw over the whole run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamSummary {
    /// Streams the clients kept open.
    pub streams: u64,
    /// Successful opens.
    pub opens: u64,
    /// Open streams that ended.
    pub drops: u64,
    /// Attempts to open that failed.
    pub failed_attempts: u64,
    /// Drops by reason (`eof`, `reset`, `timeout`...).
    pub drops_by_reason: BTreeMap<String, u64>,
    /// Time from a drop to the next open, percentiles and maximum.
    pub reconnect_ms_p50: Option<f64>,
    /// See `reconnect_ms_p50`.
    pub reconnect_ms_p99: Option<f64>,
    /// See `reconnect_ms_p50`.
    pub reconnect_ms_max: Option<f64>,
    /// Drops never followed by a successful reconnect before the end.
    pub never_reconnected: u64,
    /// When the drops happened ([`StreamDrops`]): the simulator's summaries carry it; a live
    /// run's `sse.csv` lists every drop instead (absent there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_times: Option<StreamDrops>,
}

/// When the drops happened: how a drain spread its streams' ends.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamDrops {
    /// The first drop, seconds from the run's origin (`null` without drops).
    pub first_s: Option<f64>,
    /// The last drop, seconds from the run's origin (`null` without drops).
    pub last_s: Option<f64>,
    /// The most drops in one 100 ms bucket (buckets from the origin).
    pub peak_per_100ms: u64,
}

/// One drop or failed attempt and what followed it (a row of the live analyzer's `sse.csv`).
#[derive(Clone, Debug, PartialEq)]
pub struct StreamRow {
    /// The stream.
    pub id: u64,
    /// [`StreamEventKind::Drop`] or [`StreamEventKind::Fail`].
    pub kind: StreamEventKind,
    /// When, ns from the origin.
    pub at_ns: i64,
    /// Why.
    pub why: String,
    /// The next successful open of the stream, if any before its end: when (ns), and how many
    /// attempts it took (1: the first one after this event).
    pub next_open: Option<(i64, u64)>,
}

/// Summarizes the events of `streams` streams (events in any order; per stream, ordered by
/// time with ties kept in the order given). Also gives one [`StreamRow`] per drop and failed
/// attempt, by stream then time. `drop_times` is left `None`: [`stream_drop_times`] gives it.
pub fn summarize_streams(events: &[StreamEvent], streams: u64) -> (StreamSummary, Vec<StreamRow>) {
    let mut s = StreamSummary {
        streams,
        ..StreamSummary::default()
    };
    let mut by_stream: BTreeMap<u64, Vec<&StreamEvent>> = BTreeMap::new();
    for e in events {
        by_stream.entry(e.id).or_default().push(e);
    }
    let mut reconnect_ms = Vec::new();
    let mut rows = Vec::new();
    for (id, mut evs) in by_stream {
        evs.sort_by_key(|e| e.at_ns);
        for (k, e) in evs.iter().enumerate() {
            match e.kind {
                StreamEventKind::Open => s.opens += 1,
                StreamEventKind::End => {}
                StreamEventKind::Drop | StreamEventKind::Fail => {
                    let dropped = e.kind == StreamEventKind::Drop;
                    if dropped {
                        s.drops += 1;
                        *s.drops_by_reason.entry(e.why.clone()).or_default() += 1;
                    } else {
                        s.failed_attempts += 1;
                    }
                    let next = evs[k + 1..].iter().enumerate().find(|(_, x)| {
                        x.kind == StreamEventKind::Open || x.kind == StreamEventKind::End
                    });
                    let next_open = match next {
                        Some((j, x)) if x.kind == StreamEventKind::Open => {
                            if dropped {
                                reconnect_ms.push((x.at_ns - e.at_ns) as f64 / 1e6);
                            }
                            Some((x.at_ns, j as u64 + 1))
                        }
                        _ => {
                            if dropped {
                                s.never_reconnected += 1;
                            }
                            None
                        }
                    };
                    rows.push(StreamRow {
                        id,
                        kind: e.kind,
                        at_ns: e.at_ns,
                        why: e.why.clone(),
                        next_open,
                    });
                }
            }
        }
    }
    reconnect_ms.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| {
        (!reconnect_ms.is_empty())
            .then(|| reconnect_ms[((reconnect_ms.len() - 1) as f64 * p).round() as usize])
    };
    s.reconnect_ms_p50 = q(0.5);
    s.reconnect_ms_p99 = q(0.99);
    s.reconnect_ms_max = reconnect_ms.last().copied();
    (s, rows)
}

/// When the drops among `events` happened: the first, the last and the most in one 100 ms
/// bucket.
pub fn stream_drop_times(events: &[StreamEvent]) -> StreamDrops {
    const BUCKET_NS: i64 = 100_000_000;
    let mut per_bucket: BTreeMap<i64, u64> = BTreeMap::new();
    let (mut first, mut last) = (None::<i64>, None::<i64>);
    for e in events.iter().filter(|e| e.kind == StreamEventKind::Drop) {
        *per_bucket.entry(e.at_ns.div_euclid(BUCKET_NS)).or_default() += 1;
        first = Some(first.map_or(e.at_ns, |f| f.min(e.at_ns)));
        last = Some(last.map_or(e.at_ns, |l| l.max(e.at_ns)));
    }
    StreamDrops {
        first_s: first.map(|t| t as f64 / 1e9),
        last_s: last.map(|t| t as f64 / 1e9),
        peak_per_100ms: per_bucket.values().copied().max().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at_ms: i64, id: u64, kind: StreamEventKind, why: &str) -> StreamEvent {
        StreamEvent {
            at_ns: at_ms * 1_000_000,
            id,
            kind,
            why: why.to_string(),
        }
    }

    #[test]
    fn drops_reconnects_and_failed_attempts_are_counted_per_stream() {
        use StreamEventKind::*;
        let events = [
            ev(0, 0, Open, ""),
            ev(0, 1, Open, ""),
            ev(1_000, 0, Drop, "eof"),
            ev(1_050, 0, Fail, "refused"),
            ev(1_100, 0, Open, ""),
            ev(1_020, 1, Drop, "reset"),
            ev(5_000, 0, End, ""),
            ev(5_000, 1, End, ""),
        ];
        let (s, rows) = summarize_streams(&events, 2);
        assert_eq!((s.opens, s.drops, s.failed_attempts), (3, 2, 1));
        assert_eq!(s.drops_by_reason.get("eof"), Some(&1));
        assert_eq!(s.drops_by_reason.get("reset"), Some(&1));
        // Stream 1 never came back; stream 0 came back 100 ms after its drop, on the second
        // attempt.
        assert_eq!(s.never_reconnected, 1);
        assert_eq!(s.reconnect_ms_max, Some(100.0));
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].next_open, Some((1_100_000_000, 2)));
        assert_eq!(rows[1].next_open, Some((1_100_000_000, 1)));
        assert_eq!(rows[2].next_open, None);
        assert_eq!(s.drop_times, None);
        let d = stream_drop_times(&events);
        assert_eq!((d.first_s, d.last_s), (Some(1.0), Some(1.02)));
        assert_eq!(d.peak_per_100ms, 2);
    }

    #[test]
    fn no_events_gives_empty_figures() {
        let (s, rows) = summarize_streams(&[], 3);
        assert_eq!((s.streams, s.opens, s.drops), (3, 0, 0));
        assert_eq!(s.reconnect_ms_p50, None);
        assert!(rows.is_empty());
        assert_eq!(stream_drop_times(&[]), StreamDrops::default());
    }
}
