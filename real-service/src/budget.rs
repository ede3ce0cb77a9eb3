//! Shutdown budget arithmetic, on tokio's clock (so unit tests can pause and advance it).
//!
//! From SIGTERM: the preStop wait (readiness lever) ends at `prestop_end`; the drain (in-flight
//! requests, open connections, the worker's current job) must end by `drain_deadline`
//! = `prestop_end + drain_timeout`; the guardian force-exits at `guardian_deadline`
//! = SIGTERM + shutdown budget. Validation guarantees `drain_deadline < guardian_deadline`; the
//! gap is for stopping the worker and closing the pool.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShutdownPlan {
    pub sigterm_at: Instant,
    pub prestop_end: Instant,
    pub drain_deadline: Instant,
    pub guardian_deadline: Instant,
}

impl ShutdownPlan {
    pub(crate) fn new(
        sigterm_at: Instant,
        prestop_wait: Duration,
        drain_timeout: Duration,
        budget: Duration,
    ) -> Self {
        let prestop_end = sigterm_at + prestop_wait;
        ShutdownPlan {
            sigterm_at,
            prestop_end,
            drain_deadline: (prestop_end + drain_timeout).min(sigterm_at + budget),
            guardian_deadline: sigterm_at + budget,
        }
    }

    /// Time left until the drain deadline (zero once it has passed). Only the tests below read it.
    #[cfg(test)]
    pub(crate) fn remaining(&self, now: Instant) -> Duration {
        self.drain_deadline.saturating_duration_since(now)
    }

    /// Whether an operation of length `work` started `now` can finish by the drain deadline.
    pub(crate) fn admits(&self, now: Instant, work: Duration) -> bool {
        now + work <= self.drain_deadline
    }

    /// Retry-After (whole seconds, at least 1) for a refused long operation: by then this pod's
    /// readiness has failed for long enough that a retry lands on another pod.
    pub(crate) fn retry_after_secs(&self, now: Instant) -> u64 {
        let until_prestop_end = self.prestop_end.saturating_duration_since(now);
        until_prestop_end.as_secs_f64().ceil().max(1.0) as u64
    }

    /// When the `index`-th of `n` keep-alive connections is closed with jitter over `window`:
    /// a random point in `window` (`u` is a uniform draw in [0, 1)). Without jitter every
    /// connection closes at the start of the drain.
    pub(crate) fn close_at(drain_start: Instant, window: Option<Duration>, u: f64) -> Instant {
        match window {
            None => drain_start,
            Some(w) => drain_start + w.mul_f64(u.clamp(0.0, 1.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn deadlines_and_admission_follow_the_clock() {
        let t0 = Instant::now();
        let plan = ShutdownPlan::new(
            t0,
            Duration::from_secs(5),
            Duration::from_secs(10),
            Duration::from_secs(20),
        );
        assert_eq!(plan.prestop_end, t0 + Duration::from_secs(5));
        assert_eq!(plan.drain_deadline, t0 + Duration::from_secs(15));
        assert_eq!(plan.guardian_deadline, t0 + Duration::from_secs(20));
        assert_eq!(plan.remaining(Instant::now()), Duration::from_secs(15));
        assert!(plan.admits(Instant::now(), Duration::from_secs(15)));
        assert_eq!(plan.retry_after_secs(Instant::now()), 5);

        tokio::time::sleep(Duration::from_millis(7_500)).await;
        let now = Instant::now();
        assert_eq!(plan.remaining(now), Duration::from_millis(7_500));
        assert!(plan.admits(now, Duration::from_millis(7_500)));
        assert!(!plan.admits(now, Duration::from_millis(7_501)));
        assert_eq!(
            plan.retry_after_secs(now),
            1,
            "past the preStop end a retry may come at once"
        );

        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(plan.remaining(Instant::now()), Duration::ZERO);
        assert!(!plan.admits(Instant::now(), Duration::from_millis(1)));
        assert!(!plan.admits(Instant::now(), Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn drain_deadline_never_passes_the_guardian() {
        let t0 = Instant::now();
        let plan = ShutdownPlan::new(
            t0,
            Duration::from_secs(30),
            Duration::from_secs(30),
            Duration::from_secs(25),
        );
        assert_eq!(plan.drain_deadline, plan.guardian_deadline);
        assert!(
            plan.prestop_end > plan.guardian_deadline,
            "the plan reports the misconfiguration as is"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn jittered_closes_spread_over_the_window() {
        let t0 = Instant::now();
        let w = Duration::from_secs(2);
        assert_eq!(ShutdownPlan::close_at(t0, None, 0.9), t0);
        assert_eq!(ShutdownPlan::close_at(t0, Some(w), 0.0), t0);
        assert_eq!(
            ShutdownPlan::close_at(t0, Some(w), 0.5),
            t0 + Duration::from_secs(1)
        );
        assert!(ShutdownPlan::close_at(t0, Some(w), 0.999_999) < t0 + w);
        assert_eq!(
            ShutdownPlan::close_at(t0, Some(w), 7.0),
            t0 + w,
            "draws are clamped"
        );
    }
}
