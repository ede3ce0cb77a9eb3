//! The "hold" benchmark: `n` pending events, each rescheduling itself after an exponential hold
//! (mean 1 s) when it fires, so the pending set stays at exactly `n`. Reports events/s
//! (`Throughput::Elements`) at 10, 1,000 and 100,000 pending.
//!
//! Its anchor, in the same group and run right before sim-core at each size, is a plain
//! hand-written loop: a `BinaryHeap` of `(time, seq, index)` over a slab of an event enum, the
//! same ChaCha8 generator and the same exponential sampler, but no cancellation, no generation
//! checks and no trace hashing. Like sim-core, it leaves a popped entry at the root and lets the
//! next schedule replace it in place (`BinaryHeap::peek_mut`: one sift instead of a pop's and a
//! push's). `scripts/bench-sim-core` prints the ratio of the two.
//!
//! The older, easier anchor that pops and then pushes runs too, as `hand-written-pop-push`.
//!
//! ```text
//! cargo bench -p sim-core --bench hold -- --warm-up-time 1 --measurement-time 2
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Bencher, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};
use sim_core::{Dist, Event, Scheduler, SimDuration, Streams, Trace};

/// Events executed per measured iteration.
const BATCH: u64 = 10_000;
/// Pending-set sizes.
const SIZES: [u32; 3] = [10, 1_000, 100_000];
const SEED: u64 = 20_261_125;

/// The payload is moved around, never read: it is there so both loops carry a real event.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)]
enum Ev {
    Hold(u32),
    Stop,
}

impl Event for Ev {
    fn kind(&self) -> u32 {
        match self {
            Ev::Hold(_) => 0,
            Ev::Stop => 1,
        }
    }
}

/// The anchors' event slots: a popped event's slot is reused by the next schedule.
#[derive(Default)]
struct Slab {
    slots: Vec<Ev>,
    free: Vec<u32>,
}

impl Slab {
    fn insert(&mut self, ev: Ev) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = ev;
                i
            }
            None => {
                self.slots.push(ev);
                (self.slots.len() - 1) as u32
            }
        }
    }

    fn take(&mut self, index: u32) -> Ev {
        self.free.push(index);
        self.slots[index as usize]
    }
}

/// A hand-written event loop the benchmark measures beside sim-core.
trait Anchor: Default {
    fn schedule_after(&mut self, delay_ns: u64, ev: Ev);
    fn pop(&mut self) -> Option<Ev>;
    /// Events scheduled and not yet popped.
    fn pending(&self) -> usize;
}

/// The older anchor: the smallest correct event loop one would write by hand, popping the root
/// and pushing the next event (two sifts per event).
#[derive(Default)]
struct PopPush {
    now: u64,
    seq: u64,
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    slab: Slab,
}

impl Anchor for PopPush {
    fn schedule_after(&mut self, delay_ns: u64, ev: Ev) {
        let index = self.slab.insert(ev);
        self.heap
            .push(Reverse((self.now + delay_ns, self.seq, index)));
        self.seq += 1;
    }

    fn pop(&mut self) -> Option<Ev> {
        let Reverse((time, _, index)) = self.heap.pop()?;
        self.now = time;
        Some(self.slab.take(index))
    }

    fn pending(&self) -> usize {
        self.heap.len()
    }
}

/// The anchor: the same loop, but a popped entry stays at the root until the next schedule
/// overwrites it through `peek_mut` (sifted down once when the guard drops) or the next pop
/// removes it.
#[derive(Default)]
struct HandWritten {
    now: u64,
    seq: u64,
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    /// The root is the entry of the event `pop` last returned.
    spent_root: bool,
    slab: Slab,
}

impl Anchor for HandWritten {
    fn schedule_after(&mut self, delay_ns: u64, ev: Ev) {
        let index = self.slab.insert(ev);
        let entry = Reverse((self.now + delay_ns, self.seq, index));
        if self.spent_root {
            self.spent_root = false;
            *self.heap.peek_mut().expect("a spent root is in the heap") = entry;
        } else {
            self.heap.push(entry);
        }
        self.seq += 1;
    }

    fn pop(&mut self) -> Option<Ev> {
        if self.spent_root {
            self.spent_root = false;
            self.heap.pop();
        }
        let &Reverse((time, _, index)) = self.heap.peek()?;
        self.spent_root = true;
        self.now = time;
        Some(self.slab.take(index))
    }

    fn pending(&self) -> usize {
        self.heap.len() - usize::from(self.spent_root)
    }
}

/// The same conversion as `SimDuration::from_secs_f64` for the positive, finite values an
/// exponential produces, so both loops do the same arithmetic.
fn secs_to_ns(secs: f64) -> u64 {
    (secs * 1e9 + 0.5) as u64
}

/// One anchor's measurement at `n` pending: the same model, generator and sampler as sim-core's.
fn anchor<Q: Anchor>(b: &mut Bencher, n: u32) {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let exp = Exp::new(1.0).unwrap();
    let mut q = Q::default();
    for i in 0..n {
        q.schedule_after(secs_to_ns(exp.sample(&mut rng)), Ev::Hold(i));
    }
    b.iter(|| {
        for _ in 0..BATCH {
            let ev = q.pop().expect("the hold model never runs dry");
            q.schedule_after(secs_to_ns(exp.sample(&mut rng)), black_box(ev));
        }
    });
    assert_eq!(q.pending(), n as usize);
}

fn hold(c: &mut Criterion) {
    let mut group = c.benchmark_group("hold");
    group.throughput(Throughput::Elements(BATCH));
    for n in SIZES {
        group.bench_with_input(BenchmarkId::new("hand-written-pop-push", n), &n, |b, &n| {
            anchor::<PopPush>(b, n)
        });
        group.bench_with_input(BenchmarkId::new("hand-written", n), &n, |b, &n| {
            anchor::<HandWritten>(b, n)
        });
        group.bench_with_input(BenchmarkId::new("sim-core", n), &n, |b, &n| {
            let trace = Trace::new();
            let mut rng = Streams::new(SEED, trace.clone()).stream("hold");
            let exp = Dist::Exponential {
                mean: SimDuration::from_secs(1),
            }
            .sampler()
            .unwrap();
            let mut q = Scheduler::new(trace);
            for i in 0..n {
                q.schedule_after(exp.sample(&mut rng), Ev::Hold(i));
            }
            b.iter(|| {
                for _ in 0..BATCH {
                    let (_, ev) = q.pop().expect("the hold model never runs dry");
                    q.schedule_after(exp.sample(&mut rng), black_box(ev));
                }
            });
            assert_eq!(q.pending(), n as usize);
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = hold
}
criterion_main!(benches);
