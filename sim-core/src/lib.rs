//! # sim-core: a small deterministic discrete-event kernel
//!
//! The core nouns:
//! - [`SimTime`] and [`SimDuration`]: integer nanoseconds; no floats in the clock.
//! - [`Scheduler`]: the clock and the pending events of a model's own [`Event`] type; schedule
//!   at or after, cancel, run until a time or until empty. Ties run in insertion order, or in a
//!   seeded shuffled order ([`TieOrder::Shuffled`]) to show a result does not hinge on it.
//! - [`Streams`] and [`Stream`]: one root seed, independent named ChaCha streams.
//! - [`Dist`] and [`Sampler`]: distributions of durations as scenario files write them.
//! - [`Trace`]: a running hash of every event and draw; [`check_determinism`] runs a model twice
//!   and names the first divergent event with the seed.
//! - [`Counter`], [`BucketSeries`], [`LatencyHistogram`]: metric primitives.
//!
//! It knows nothing about HTTP or Kubernetes.
//!
//! ```
//! use sim_core::{Dist, Event, Scheduler, SimDuration, Streams, Trace};
//!
//! // An M/D/1 queue in a dozen lines.
//! enum Ev { Arrival, Departure }
//! impl Event for Ev {
//!     fn kind(&self) -> u32 { match self { Ev::Arrival => 0, Ev::Departure => 1 } }
//! }
//!
//! let trace = Trace::new();
//! let mut streams = Streams::new(42, trace.clone());
//! let mut rng = streams.stream("arrivals");
//! let gaps = Dist::Exponential { mean: SimDuration::from_millis(10) }.sampler().unwrap();
//! let service = SimDuration::from_millis(5);
//! let (mut arrived, mut queued, mut busy, mut served) = (1u32, 0u32, false, 0u32);
//!
//! let mut q = Scheduler::new(trace.clone());
//! q.schedule_after(gaps.sample(&mut rng), Ev::Arrival);
//! q.run(|q, ev| match ev {
//!     Ev::Arrival => {
//!         if arrived < 1_000 {
//!             arrived += 1;
//!             q.schedule_after(gaps.sample(&mut rng), Ev::Arrival);
//!         }
//!         if busy { queued += 1 } else { busy = true; q.schedule_after(service, Ev::Departure); }
//!     }
//!     Ev::Departure => {
//!         served += 1;
//!         if queued > 0 { queued -= 1; q.schedule_after(service, Ev::Departure); } else { busy = false; }
//!     }
//! });
//! assert_eq!(served, 1_000);
//! println!("{}", trace.digest()); // same seed, same digest, on every machine
//! ```

mod dist;
mod heap;
mod metrics;
mod rng;
mod scheduler;
mod time;
mod trace;

pub use dist::{Dist, DistError, Sampler};
pub use metrics::{BucketSeries, Counter, LatencyHistogram};
pub use rng::{Stream, Streams, stream_id};
pub use scheduler::{Event, EventId, Scheduler, TieOrder};
pub use time::{ParseDurationError, SimDuration, SimTime, parse_duration, parse_duration_or_secs};
pub use trace::{Divergence, Trace, TraceDigest, TraceEntry, check_determinism};
