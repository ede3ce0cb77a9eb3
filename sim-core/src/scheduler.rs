//! The event queue and the clock.

use rand::Rng;

use crate::heap::{Entry, EventHeap};
use crate::rng::Stream;
use crate::time::{SimDuration, SimTime};
use crate::trace::Trace;

/// A model's event type. `kind` names the variant for the determinism trace; give each variant
/// its own number.
pub trait Event {
    /// The number naming this event's variant in the determinism trace (one number per variant).
    fn kind(&self) -> u32;
}

/// A handle on a scheduled event, for cancelling it. Stale handles (the event already ran or was
/// cancelled) are harmless: cancelling them does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventId {
    slot: u32,
    generation: u32,
}

/// How events scheduled for the same instant are ordered.
#[derive(Debug, Clone)]
pub enum TieOrder {
    /// In the order they were scheduled (insertion sequence). The default.
    Fifo,
    /// In an order drawn from this stream, so a model can show its results do not hinge on
    /// tie order. Still deterministic for a given seed.
    Shuffled(Box<Stream>),
}

#[derive(Debug)]
struct Slot<E> {
    generation: u32,
    event: Option<E>,
}

/// The clock and the pending events of one simulation.
///
/// Events run in `(time, insertion sequence)` order ([`TieOrder::Fifo`]). Cancelling is O(1)
/// and lazy; the heap is compacted whenever cancelled entries outnumber live ones, so it never
/// holds more than about twice the pending events.
///
/// Inside, a 4-ary heap of 24-byte `(time, key, slot, generation)` entries points into a slab
/// of events; a slot's generation changes whenever its event runs or is cancelled, which is how
/// stale entries and stale [`EventId`]s are recognised. Popping leaves the spent entry at the
/// root; if the handler then schedules an event (a timer re-arming itself, a departure
/// following an arrival) the new entry takes the root's place in one sift.
///
/// Each heap entry's tie key holds an insertion sequence number (its low 32 bits under
/// [`TieOrder::Shuffled`]), so FIFO ties are exact for any number of events and shuffled ties
/// are distinct among any 2^32 consecutive insertions.
///
/// ```
/// use sim_core::{Event, Scheduler, SimDuration, SimTime, Trace};
///
/// #[derive(Debug, PartialEq)]
/// enum Ev { Arrive(u32), Deadline(u32) }
/// impl Event for Ev {
///     fn kind(&self) -> u32 { match self { Ev::Arrive(_) => 0, Ev::Deadline(_) => 1 } }
/// }
///
/// let mut q = Scheduler::new(Trace::new());
/// let deadline = q.schedule_after(SimDuration::from_secs(1), Ev::Deadline(1));
/// q.schedule_after(SimDuration::from_millis(5), Ev::Arrive(1));
/// q.cancel(deadline);
/// let mut seen = Vec::new();
/// q.run(|q, ev| seen.push((q.now(), ev)));
/// assert_eq!(seen, vec![(SimTime::from_nanos(5_000_000), Ev::Arrive(1))]);
/// ```
#[derive(Debug)]
pub struct Scheduler<E> {
    now: SimTime,
    heap: EventHeap,
    /// The root entry belongs to the event `pop` last returned: spent, to be replaced or removed.
    spent_root: bool,
    slots: Vec<Slot<E>>,
    free: Vec<u32>,
    next_seq: u64,
    live: usize,
    stale: usize,
    executed: u64,
    ties: TieOrder,
    trace: Trace,
}

impl<E: Event> Scheduler<E> {
    /// An empty queue at time zero with FIFO ties, recording into `trace`.
    pub fn new(trace: Trace) -> Scheduler<E> {
        Scheduler::with_ties(trace, TieOrder::Fifo)
    }

    /// An empty queue at time zero with the given tie order.
    pub fn with_ties(trace: Trace, ties: TieOrder) -> Scheduler<E> {
        Scheduler {
            now: SimTime::ZERO,
            heap: EventHeap::default(),
            spent_root: false,
            slots: Vec::new(),
            free: Vec::new(),
            next_seq: 0,
            live: 0,
            stale: 0,
            executed: 0,
            ties,
            trace,
        }
    }

    /// The current simulated time: the time of the event being executed, or of the last one.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The trace this queue records into.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Schedules `event` at `at`. Panics if `at` is in the past: that is a bug in the model.
    #[inline]
    pub fn schedule_at(&mut self, at: SimTime, event: E) -> EventId {
        assert!(
            at >= self.now,
            "scheduled an event at {at}, before now ({})",
            self.now
        );
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize].event = Some(event);
                i
            }
            None => {
                let i = u32::try_from(self.slots.len()).expect("more than 2^32 pending events");
                self.slots.push(Slot {
                    generation: 0,
                    event: Some(event),
                });
                i
            }
        };
        let generation = self.slots[slot as usize].generation;
        let key = match &mut self.ties {
            TieOrder::Fifo => self.next_seq,
            TieOrder::Shuffled(stream) => {
                (stream.next_u64() & !0xFFFF_FFFF) | (self.next_seq & 0xFFFF_FFFF)
            }
        };
        let entry = Entry {
            time: at.as_nanos(),
            key,
            slot,
            generation,
        };
        if self.spent_root {
            self.spent_root = false;
            self.heap.replace_top(entry);
        } else {
            self.heap.push(entry);
        }
        self.next_seq += 1;
        self.live += 1;
        EventId { slot, generation }
    }

    /// Schedules `event` after `delay` from now.
    #[inline]
    pub fn schedule_after(&mut self, delay: SimDuration, event: E) -> EventId {
        self.schedule_at(self.now + delay, event)
    }

    /// Cancels a pending event and returns it; `None` if it already ran or was cancelled.
    pub fn cancel(&mut self, id: EventId) -> Option<E> {
        let slot = self.slots.get_mut(id.slot as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        let event = slot.event.take()?;
        self.release(id.slot);
        self.live -= 1;
        self.stale += 1;
        if self.stale > self.live.max(32) {
            self.compact();
        }
        Some(event)
    }

    /// `true` while `id` is scheduled and not cancelled.
    pub fn is_pending(&self, id: EventId) -> bool {
        self.slots
            .get(id.slot as usize)
            .is_some_and(|s| s.generation == id.generation && s.event.is_some())
    }

    /// Events scheduled and not yet run or cancelled.
    pub fn pending(&self) -> usize {
        self.live
    }

    /// Entries in the heap, cancelled ones not yet swept included (at most about twice
    /// [`Scheduler::pending`]).
    pub fn heap_len(&self) -> usize {
        self.heap.len() - usize::from(self.spent_root)
    }

    /// Events executed so far.
    pub fn executed(&self) -> u64 {
        self.executed
    }

    /// The time of the next pending event.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.skip_stale();
        self.heap.peek().map(|e| SimTime::from_nanos(e.time))
    }

    /// Removes the next event, advances the clock to its time and records it in the trace.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.drop_spent_root();
        let (entry, event) = loop {
            let entry = *self.heap.peek()?;
            let slot = &mut self.slots[entry.slot as usize];
            if slot.generation != entry.generation {
                // Cancelled: swept lazily here.
                self.heap.pop();
                self.stale -= 1;
                continue;
            }
            let event = slot.event.take().expect("a live heap entry has its event");
            break (entry, event);
        };
        // The entry stays at the root until the next schedule replaces it or the next pop
        // removes it.
        self.spent_root = true;
        self.release(entry.slot);
        self.live -= 1;
        self.now = SimTime::from_nanos(entry.time);
        self.executed += 1;
        self.trace.event(self.now, event.kind());
        Some((self.now, event))
    }

    /// Runs events with `time <= limit` through `handle`, then sets the clock to `limit` (if it
    /// was earlier). Returns how many events ran.
    pub fn run_until<F>(&mut self, limit: SimTime, mut handle: F) -> u64
    where
        F: FnMut(&mut Scheduler<E>, E),
    {
        let before = self.executed;
        while self.peek_time().is_some_and(|t| t <= limit) {
            let (_, event) = self.pop().expect("peeked an event");
            handle(self, event);
        }
        if self.now < limit {
            self.now = limit;
        }
        self.executed - before
    }

    /// Runs until no event is pending. Returns how many events ran.
    pub fn run<F>(&mut self, mut handle: F) -> u64
    where
        F: FnMut(&mut Scheduler<E>, E),
    {
        let before = self.executed;
        while let Some((_, event)) = self.pop() {
            handle(self, event);
        }
        self.executed - before
    }

    #[inline]
    fn release(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        s.generation = s.generation.wrapping_add(1);
        self.free.push(slot);
    }

    fn is_live(&self, e: &Entry) -> bool {
        self.slots[e.slot as usize].generation == e.generation
    }

    #[inline]
    fn drop_spent_root(&mut self) {
        if self.spent_root {
            self.spent_root = false;
            self.heap.pop();
        }
    }

    fn skip_stale(&mut self) {
        self.drop_spent_root();
        while let Some(top) = self.heap.peek() {
            if self.is_live(top) {
                break;
            }
            self.heap.pop();
            self.stale -= 1;
        }
    }

    fn compact(&mut self) {
        let slots = &self.slots;
        // The spent root's slot generation has moved on, so it goes with the cancelled entries.
        self.heap
            .retain(|e| slots[e.slot as usize].generation == e.generation);
        self.spent_root = false;
        self.stale = 0;
    }
}
