//! The determinism trace: a running hash of every executed event and every random draw.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use crate::time::SimTime;

/// One executed event as the trace saw it (kept only when the trace records a log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceEntry {
    /// 0-based index among executed events.
    pub index: u64,
    /// The simulated time at which the event ran.
    pub time: SimTime,
    /// The event's kind, from [`crate::Event::kind`].
    pub kind: u32,
    /// The running hash after this event (draws made before it included).
    pub hash: u64,
}

#[derive(Debug)]
struct TraceState {
    hash: Cell<u64>,
    events: Cell<u64>,
    draws: Cell<u64>,
    /// Fixed at construction, so the hot path does not touch the `RefCell` unless it logs.
    recording: bool,
    log: RefCell<Vec<TraceEntry>>,
}

/// A cheap, cloneable handle on one run's trace. The scheduler records every event it executes
/// (time and kind), each [`crate::Stream`] records every draw. Two runs of the same model with
/// the same seed must end with the same [`Trace::digest`].
///
/// The hash is a fixed word-at-a-time mix over 64-bit integers (see [`Trace::mix_word`] for the
/// exact formula), defined on integer values rather than bytes, so digests are the same across
/// Rust versions, platforms and endianness. Each step is a bijection of the running hash for a
/// given word and injective in the word for a given hash, so two runs whose recorded words differ
/// in exactly one place always end with different digests; it costs a few cycles per word, which
/// matters because it runs for every event and every draw.
#[derive(Debug, Clone)]
pub struct Trace(Rc<TraceState>);

/// The end state of a trace: comparable across runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceDigest {
    /// The running hash over every event and draw (see [`Trace::mix_word`]).
    pub hash: u64,
    /// The number of events the scheduler executed.
    pub events: u64,
    /// The number of random draws made from all streams.
    pub draws: u64,
}

impl fmt::Display for TraceDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "hash={:016x} events={} draws={}",
            self.hash, self.events, self.draws
        )
    }
}

/// The running hash's initial value (FNV-1a's 64-bit offset basis).
const HASH_INIT: u64 = 0xcbf2_9ce4_8422_2325;
/// The multiplier: odd, so multiplying is a bijection on `u64` (2^64 / golden ratio).
const HASH_MUL: u64 = 0x9e37_79b9_7f4a_7c15;
/// Tags that keep an event's words apart from a draw's.
const EVENT_TAG: u64 = 0xE0E0 << 32;

impl Default for Trace {
    fn default() -> Self {
        Trace::new()
    }
}

impl Trace {
    /// A trace that keeps only the running hash and counts.
    pub fn new() -> Trace {
        Trace::with_log(false)
    }

    /// A trace that also keeps a log of every event, to find where two runs diverge.
    pub fn recording() -> Trace {
        Trace::with_log(true)
    }

    fn with_log(recording: bool) -> Trace {
        Trace(Rc::new(TraceState {
            hash: Cell::new(HASH_INIT),
            events: Cell::new(0),
            draws: Cell::new(0),
            recording,
            log: RefCell::new(Vec::new()),
        }))
    }

    /// One step of the running hash: `rotl((h ^ word) * 0x9e3779b97f4a7c15, 29)` (wrapping
    /// multiplication). The rotation feeds high bits back into low ones, which the next
    /// multiplication spreads again. Public so that the formula is part of the documentation.
    #[inline(always)]
    pub fn mix_word(h: u64, word: u64) -> u64 {
        (h ^ word).wrapping_mul(HASH_MUL).rotate_left(29)
    }

    /// Records an executed event: mixes `time` in nanoseconds, then `kind` tagged as an event.
    #[inline]
    pub fn event(&self, time: SimTime, kind: u32) {
        let h = Trace::mix_word(self.0.hash.get(), time.as_nanos());
        let h = Trace::mix_word(h, EVENT_TAG | u64::from(kind));
        self.0.hash.set(h);
        let index = self.0.events.get();
        self.0.events.set(index + 1);
        if self.0.recording {
            self.0.log.borrow_mut().push(TraceEntry {
                index,
                time,
                kind,
                hash: h,
            });
        }
    }

    /// Records a random draw of `stream_id` that produced `value`: mixes `value ^ stream_id`
    /// (one word, so a draw costs one step of the hash).
    #[inline]
    pub fn draw(&self, stream_id: u64, value: u64) {
        self.0
            .hash
            .set(Trace::mix_word(self.0.hash.get(), value ^ stream_id));
        self.0.draws.set(self.0.draws.get() + 1);
    }

    /// The running hash and counts so far.
    pub fn digest(&self) -> TraceDigest {
        TraceDigest {
            hash: self.0.hash.get(),
            events: self.0.events.get(),
            draws: self.0.draws.get(),
        }
    }

    /// The event log, if this trace records one.
    pub fn log(&self) -> Option<Vec<TraceEntry>> {
        self.0.recording.then(|| self.0.log.borrow().clone())
    }
}

/// Where two runs with the same seed first went apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "runs diverged (seed {seed}) at event #{index}: first run {first:?}, second run {second:?}; digests {digest_first} vs {digest_second}"
)]
pub struct Divergence {
    /// The seed both runs used.
    pub seed: u64,
    /// 0-based index of the first event at which the two traces differ.
    pub index: u64,
    /// The first run's entry at `index` (`None`: the run had ended).
    pub first: Option<TraceEntry>,
    /// The second run's entry at `index` (`None`: the run had ended).
    pub second: Option<TraceEntry>,
    /// The first run's end-of-run digest.
    pub digest_first: TraceDigest,
    /// The second run's end-of-run digest.
    pub digest_second: TraceDigest,
}

/// Runs a model twice with the same seed, each time on a fresh recording trace, and compares
/// every executed event. `run` must build the whole model from `(seed, trace)` and run it.
///
/// ```
/// use sim_core::{check_determinism, Event, Scheduler, SimDuration, Streams};
///
/// struct Tick;
/// impl Event for Tick { fn kind(&self) -> u32 { 1 } }
///
/// let digest = check_determinism(7, |seed, trace| {
///     let mut streams = Streams::new(seed, trace.clone());
///     let mut arrivals = streams.stream("arrivals");
///     let mut q = Scheduler::new(trace.clone());
///     q.schedule_after(SimDuration::from_millis(1), Tick);
///     q.run(|q, Tick| {
///         if q.executed() < 100 {
///             let gap = SimDuration::from_micros(arrivals.below(1_000));
///             q.schedule_after(gap, Tick);
///         }
///     });
/// })
/// .unwrap();
/// assert_eq!(digest.events, 100);
/// ```
pub fn check_determinism<F>(seed: u64, run: F) -> Result<TraceDigest, Box<Divergence>>
where
    F: Fn(u64, &Trace),
{
    let a = Trace::recording();
    run(seed, &a);
    let b = Trace::recording();
    run(seed, &b);
    let (da, db) = (a.digest(), b.digest());
    let (la, lb) = (a.log().unwrap_or_default(), b.log().unwrap_or_default());
    let first_diff = la
        .iter()
        .zip(&lb)
        .position(|(x, y)| x != y)
        .or_else(|| (la.len() != lb.len()).then(|| la.len().min(lb.len())));
    match first_diff {
        None if da == db => Ok(da),
        None => Err(Box::new(Divergence {
            seed,
            index: la.len() as u64,
            first: None,
            second: None,
            digest_first: da,
            digest_second: db,
        })),
        Some(i) => Err(Box::new(Divergence {
            seed,
            index: i as u64,
            first: la.get(i).copied(),
            second: lb.get(i).copied(),
            digest_first: da,
            digest_second: db,
        })),
    }
}
