//! Open-loop schedules: the intended start time of every request, fixed before the run starts.
//!
//! Times are integer nanoseconds from the run's clock origin. Request `i` (global index, shared by
//! all shards) has one intended start; a shard `K/N` sends exactly the indices with `i % N == K`, so
//! the union of N shards is the unsharded schedule, request for request.
//!
//! * Constant rate: `t_i = floor(i * 1e9 / rate)`, computed from `i` in integer arithmetic (rate in
//!   milli-requests per second), so there is no accumulated drift however long the schedule runs.
//! * Poisson: exponential gaps from a seeded ChaCha8 stream, accumulated in `f64` nanoseconds and
//!   rounded per request (never accumulated in rounded form), so rounding does not bias the rate.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use crate::error::LoadError;

/// The arrival process.
#[derive(Clone, Debug, PartialEq)]
pub enum Arrivals {
    /// Evenly spaced.
    Constant,
    /// Poisson process (exponential gaps) from the given seed.
    Poisson {
        /// Seed of the gaps' random stream.
        seed: u64,
    },
}

/// Which slice of the global schedule this generator sends (the one shard type, in `measure`).
pub(crate) use measure::Shard;

/// Rate in requests per second, kept as integer milli-rps for exact constant schedules.
pub fn rate_milli(rate: f64) -> Result<u64, LoadError> {
    let bad = |reason: String| LoadError::Setting {
        field: "rate",
        reason,
    };
    if !rate.is_finite() || rate <= 0.0 {
        return Err(bad(format!("rate must be > 0, got {rate}")));
    }
    let m = (rate * 1000.0).round();
    if m < 1.0 {
        return Err(bad(format!("rate {rate} below 0.001 rps")));
    }
    Ok(m as u64)
}

/// Iterator over `(global index, intended start ns)` of the requests this shard owns, ending at the
/// first intended start `>= end_ns` or after `max_requests` global indices, whichever comes first.
pub struct Schedule {
    arrivals: Arrivals,
    rate_milli: u64,
    shard: Shard,
    end_ns: u64,
    max_requests: u64,
    next_i: u64,
    rng: Option<ChaCha8Rng>,
    /// Poisson: exact (unrounded) arrival time of `next_i`, ns.
    acc_ns: f64,
}

impl Schedule {
    /// The schedule of `shard` at `rate_milli` thousandths of a request per second, up to
    /// `end_ns` or `max_requests` global indices.
    pub fn new(
        arrivals: Arrivals,
        rate_milli: u64,
        shard: Shard,
        end_ns: u64,
        max_requests: u64,
    ) -> Self {
        let rng = match &arrivals {
            Arrivals::Poisson { seed } => Some(ChaCha8Rng::seed_from_u64(*seed)),
            Arrivals::Constant => None,
        };
        let mut s = Schedule {
            arrivals,
            rate_milli,
            shard,
            end_ns,
            max_requests,
            next_i: 0,
            rng,
            acc_ns: 0.0,
        };
        if s.rng.is_some() {
            // The first Poisson arrival comes one exponential gap after the origin.
            s.acc_ns = s.exp_gap_ns();
        }
        s
    }

    /// The intended start of global index `i` for a constant schedule.
    pub fn constant_at(rate_milli: u64, i: u64) -> u64 {
        ((i as u128) * 1_000_000_000_000u128 / rate_milli as u128) as u64
    }

    fn exp_gap_ns(&mut self) -> f64 {
        let rng = self.rng.as_mut().expect("poisson rng");
        // Uniform in (0, 1]: 53 random bits, never 0 so ln() is finite.
        let u = ((rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        -u.ln() * 1e12 / self.rate_milli as f64
    }

    /// Next global index and intended start of ANY shard (advances the shared sequence).
    fn next_global(&mut self) -> Option<(u64, u64)> {
        if self.next_i >= self.max_requests {
            return None;
        }
        let i = self.next_i;
        let t = match self.arrivals {
            Arrivals::Constant => Self::constant_at(self.rate_milli, i),
            Arrivals::Poisson { .. } => {
                let t = self.acc_ns.round() as u64;
                let g = self.exp_gap_ns();
                self.acc_ns += g;
                t
            }
        };
        if t >= self.end_ns {
            self.max_requests = i; // exhausted for good
            return None;
        }
        self.next_i += 1;
        Some((i, t))
    }
}

impl Iterator for Schedule {
    type Item = (u64, u64);
    fn next(&mut self) -> Option<(u64, u64)> {
        if self.arrivals == Arrivals::Constant && self.shard.n > 1 {
            // Jump straight to the next owned index: O(1) per request for constant schedules.
            let r = self.next_i % self.shard.n;
            let skip = (self.shard.k + self.shard.n - r) % self.shard.n;
            self.next_i = self.next_i.saturating_add(skip);
        }
        loop {
            let (i, t) = self.next_global()?;
            if self.shard.contains(i) {
                return Some((i, t));
            }
        }
    }
}

/// A schedule with a look-ahead: the scheduler batches its wake-ups by the requests still to
/// come, which it can see before their time because the schedule is fixed in advance.
pub(crate) struct Lookahead {
    schedule: Schedule,
    /// Requests taken from the schedule to look at, not yet handed out (in schedule order).
    ahead: std::collections::VecDeque<(u64, u64)>,
}

impl Lookahead {
    pub(crate) fn new(schedule: Schedule) -> Self {
        Lookahead {
            schedule,
            ahead: std::collections::VecDeque::new(),
        }
    }

    /// The latest intended start at or before `limit_ns` among the requests not yet handed out
    /// (`None` when the next one is after it). The scheduler wakes then for a batch whose first
    /// request is due at `t` and `limit_ns = t + tick`: every request of the batch goes out at
    /// most `tick` after its time, and the wake-up comes as late as that allows, so one wake
    /// serves as many requests as the bound permits.
    pub(crate) fn latest_until(&mut self, limit_ns: u64) -> Option<u64> {
        loop {
            match self.ahead.back() {
                Some(&(_, t)) if t > limit_ns => break,
                _ => match self.schedule.next() {
                    Some(x) => self.ahead.push_back(x),
                    None => break,
                },
            }
        }
        self.ahead
            .iter()
            .map(|&(_, t)| t)
            .take_while(|&t| t <= limit_ns)
            .last()
    }
}

impl Iterator for Lookahead {
    type Item = (u64, u64);
    fn next(&mut self) -> Option<(u64, u64)> {
        self.ahead.pop_front().or_else(|| self.schedule.next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookahead_finds_the_last_request_within_the_bound_and_hands_out_every_request_once() {
        let shard = Shard { k: 0, n: 1 };
        // 5,000/s: one request every 200 us.
        let plain: Vec<_> =
            Schedule::new(Arrivals::Constant, 5_000_000, shard, 10_000_000, u64::MAX).collect();
        let mut la = Lookahead::new(Schedule::new(
            Arrivals::Constant,
            5_000_000,
            shard,
            10_000_000,
            u64::MAX,
        ));
        let first = la.next().unwrap();
        assert_eq!(first, (0, 0));
        // The next requests are at 200, 400, 600 us: the last within 500 us of 200 us is 600 us.
        assert_eq!(la.latest_until(200_000 + 500_000), Some(600_000));
        // Nothing is due by 100 us.
        assert_eq!(la.latest_until(100_000), None);
        // Looking ahead consumed nothing: the rest comes out in order, each request once.
        let mut rest = vec![first];
        rest.extend(la.by_ref());
        assert_eq!(rest, plain);
        // Past the end of the schedule there is nothing to find.
        assert_eq!(la.latest_until(u64::MAX), None);
        // A Poisson schedule looked ahead far then drained: the same requests as without.
        let p = || {
            Schedule::new(
                Arrivals::Poisson { seed: 7 },
                50_000_000,
                shard,
                5_000_000,
                400,
            )
        };
        let mut la = Lookahead::new(p());
        let far = la.latest_until(u64::MAX).unwrap();
        assert_eq!(far, p().last().unwrap().1);
        assert_eq!(la.collect::<Vec<_>>(), p().collect::<Vec<_>>());
    }

    #[test]
    fn constant_exact_spacing() {
        let s = Schedule::new(
            Arrivals::Constant,
            rate_milli(1000.0).unwrap(),
            Shard::ALL,
            10_000_000,
            u64::MAX,
        );
        let v: Vec<_> = s.collect();
        assert_eq!(v.len(), 10);
        assert_eq!(v[3], (3, 3_000_000));
    }
}
