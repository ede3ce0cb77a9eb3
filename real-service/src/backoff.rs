//! Exponential backoff and failure episodes, for the accept loop and the worker's claim loop.
//!
//! A failure episode starts at the first failure and ends at the next success. The loops log one
//! line when an episode starts, one when it ends (with the number of failures), and at most one
//! summary per [`SUMMARY_EVERY`] in between, instead of one line per failure.

use std::time::Duration;

use tokio::time::Instant;

/// How often a long failure episode logs a summary line.
pub(crate) const SUMMARY_EVERY: Duration = Duration::from_secs(10);

/// A pause that starts at `start` and doubles per failure up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    start: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(start: Duration, max: Duration) -> Self {
        let start = start.min(max);
        Backoff {
            start,
            max,
            next: start,
        }
    }

    /// The pause before the next attempt (no jitter); doubles the one after, up to the cap.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        d
    }

    /// The pause with "equal jitter": uniform in [d/2, d] for `fraction` in [0, 1), where `d` is
    /// [`Backoff::next_delay`]. Spreads the retries of replicas that failed together.
    pub(crate) fn next_delay_jittered(&mut self, fraction: f64) -> Duration {
        let d = self.next_delay();
        let f = fraction.clamp(0.0, 1.0);
        d / 2 + d.mul_f64(f / 2.0)
    }

    /// Back to the first pause (after a success).
    pub(crate) fn reset(&mut self) {
        self.next = self.start;
    }
}

/// One run of consecutive failures.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Episode {
    pub since: Instant,
    pub failures: u64,
    /// Failures since the last summary line.
    pub since_summary: u64,
    last_summary: Instant,
}

impl Episode {
    pub(crate) fn start(now: Instant) -> Self {
        Episode {
            since: now,
            failures: 1,
            since_summary: 0,
            last_summary: now,
        }
    }

    /// Count one more failure; true when a summary line is due (at most once per
    /// [`SUMMARY_EVERY`]).
    pub(crate) fn fail(&mut self, now: Instant) -> bool {
        self.failures += 1;
        self.since_summary += 1;
        if now.saturating_duration_since(self.last_summary) >= SUMMARY_EVERY {
            self.last_summary = now;
            true
        } else {
            false
        }
    }

    /// Call after logging a summary.
    pub(crate) fn summarised(&mut self) {
        self.since_summary = 0;
    }

    pub(crate) fn elapsed_ms(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.since).as_millis() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(5), Duration::from_secs(1));
        let got: Vec<u64> = (0..10).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(got, vec![5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(5));
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        assert_eq!(b.next_delay_jittered(0.0), Duration::from_millis(50));
        assert_eq!(b.next_delay_jittered(1.0), Duration::from_millis(200));
        assert_eq!(b.next_delay_jittered(0.5), Duration::from_millis(300));
        assert_eq!(
            b.next_delay_jittered(0.5),
            Duration::from_millis(300),
            "capped"
        );
    }

    #[test]
    fn a_start_above_the_cap_is_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn summaries_are_rate_limited() {
        let t0 = Instant::now();
        let mut e = Episode::start(t0);
        let mut summaries = 0;
        for i in 1..=300u64 {
            // one failure every 100 ms for 30 s
            if e.fail(t0 + Duration::from_millis(100 * i)) {
                summaries += 1;
                e.summarised();
            }
        }
        assert_eq!(e.failures, 301);
        assert_eq!(summaries, 3);
        assert_eq!(e.elapsed_ms(t0 + Duration::from_secs(30)), 30_000);
    }
}
