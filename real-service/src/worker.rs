//! The queue worker: lease a job, do its work, apply the side effect to the ledger at the job's
//! effect point (`POST /jobs?effect_ms=N`; by default the end of the work), finish the work, ack.
//!
//! With the requeue lever on, the `stop` token fires at SIGTERM: the worker takes no new job, and
//! the job in hand is finished if it can end by the drain deadline, else released back to the
//! queue at once. With the lever off the worker is simply aborted at shutdown (or dies with the
//! process), mid-job; its lease then expires and the job is redelivered.

use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::backoff::{Backoff, Episode};
use crate::budget::ShutdownPlan;
use crate::db;
use crate::metrics::Metrics;

pub(crate) struct WorkerCtx {
    pub pool: Pool,
    /// Lease owner: the pod name plus a per-process suffix.
    pub owner: String,
    pub lease: Duration,
    pub poll: Duration,
    /// FLEETSIM_CLAIM_BACKOFF_MAX: while claims fail (database down), the pause between attempts
    /// starts at `poll` and doubles up to this, with jitter.
    pub claim_backoff_max: Duration,
    /// Idempotency lever (part of the requeue lever).
    pub idempotent: bool,
    pub pause_after_effect: Option<Duration>,
    pub metrics: Arc<Metrics>,
    /// Fired at SIGTERM when the requeue lever is on: stop taking jobs.
    pub stop: CancellationToken,
    pub plan: Arc<OnceLock<ShutdownPlan>>,
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WorkerReport {
    pub applied: u64,
    pub noops: u64,
    pub released: u64,
}

pub(crate) async fn run(ctx: WorkerCtx) -> WorkerReport {
    let mut report = WorkerReport::default();
    let mut backoff = Backoff::new(ctx.poll, ctx.claim_backoff_max);
    // A run of failed claims (the database is down): one line when it starts, a summary at most
    // every SUMMARY_EVERY, one line when a claim works again.
    let mut failing: Option<Episode> = None;
    while !ctx.stop.is_cancelled() {
        let claimed = db::claim(&ctx.pool, &ctx.owner, ctx.lease).await;
        if claimed.is_ok()
            && let Some(ep) = failing.take()
        {
            tracing::info!(target: "fleetsim::worker", event = "claim_recovered", failures = ep.failures, outage_ms = ep.elapsed_ms(Instant::now()), "claim works again");
            backoff.reset();
        }
        let job = match claimed {
            Ok(Some(job)) => job,
            Ok(None) => {
                tokio::select! {
                    _ = sleep(ctx.poll) => {}
                    _ = ctx.stop.cancelled() => {}
                }
                continue;
            }
            Err(e) => {
                let now = Instant::now();
                let pause = backoff.next_delay_jittered(rand::random::<f64>());
                match &mut failing {
                    None => {
                        tracing::warn!(target: "fleetsim::worker", event = "claim_backoff", error = %e, retry_in_ms = pause.as_millis() as u64, "claim failed; backing off (one line per outage, a summary every 10 s)");
                        failing = Some(Episode::start(now));
                    }
                    Some(ep) => {
                        if ep.fail(now) {
                            tracing::warn!(target: "fleetsim::worker", event = "claim_backoff", error = %e, failures = ep.failures, failures_since_last_line = ep.since_summary, outage_ms = ep.elapsed_ms(now), retry_in_ms = pause.as_millis() as u64, "claim still failing");
                            ep.summarised();
                        }
                    }
                }
                tokio::select! {
                    _ = sleep(pause) => {}
                    _ = ctx.stop.cancelled() => {}
                }
                continue;
            }
        };
        tracing::info!(target: "fleetsim::worker", job = job.id, key = %job.key, delivery = job.delivery, work_ms = job.work.as_millis() as u64, effect_ms = job.effect.as_millis() as u64, "job leased");
        let begun = Instant::now();
        let (effect_at, end) = (begun + job.effect, begun + job.work);
        // The work runs to `effect_at`, the side effect is applied, the work runs on to `end`,
        // then the ack.
        let mut weighed = false;
        if !work_until(&ctx, &job, effect_at, end, &mut weighed, &mut report).await {
            return report;
        }
        match db::apply(&ctx.pool, &job, &ctx.owner, ctx.idempotent).await {
            Ok(true) => {
                report.applied += 1;
                ctx.metrics.job("applied");
                tracing::info!(target: "fleetsim::worker", job = job.id, key = %job.key, delivery = job.delivery, "side effect applied");
            }
            Ok(false) => {
                report.noops += 1;
                ctx.metrics.job("noop");
                tracing::info!(target: "fleetsim::worker", job = job.id, key = %job.key, delivery = job.delivery, "side effect already applied; recorded as no-op");
            }
            Err(e) => {
                tracing::warn!(target: "fleetsim::worker", job = job.id, error = %e, "apply failed; the lease will expire");
                continue;
            }
        }
        if !work_until(&ctx, &job, end, end, &mut weighed, &mut report).await {
            return report;
        }
        if let Some(pause) = ctx.pause_after_effect {
            sleep(pause).await;
        }
        match db::ack(&ctx.pool, &job, &ctx.owner).await {
            Ok(true) => {
                ctx.metrics.job("acked");
                tracing::info!(target: "fleetsim::worker", job = job.id, "job acked");
            }
            Ok(false) => {
                ctx.metrics.job("lease_lost");
                tracing::warn!(target: "fleetsim::worker", job = job.id, "ack found the lease lost (redelivered elsewhere)");
            }
            Err(e) => {
                tracing::warn!(target: "fleetsim::worker", job = job.id, error = %e, "ack failed; the lease will expire")
            }
        }
    }
    report
}

/// Works on `job` until `until`. SIGTERM (the requeue lever's `stop`) is weighed once per job
/// (`weighed`), whenever it comes: the job is kept if it can end (at `end`) within the shutdown
/// budget, else it is released at once, even after its side effect (a redelivery then applies
/// it again unless the idempotency key stops it), and `false` is returned.
async fn work_until(
    ctx: &WorkerCtx,
    job: &db::Claimed,
    until: Instant,
    end: Instant,
    weighed: &mut bool,
    report: &mut WorkerReport,
) -> bool {
    if !*weighed {
        tokio::select! {
            _ = sleep_until(until) => return true,
            _ = ctx.stop.cancelled() => {}
        }
        *weighed = true;
        let now = Instant::now();
        let fits = ctx
            .plan
            .get()
            .is_some_and(|p| p.admits(now, end.saturating_duration_since(now)));
        if !fits {
            release(ctx, job, report).await;
            return false;
        }
    }
    sleep_until(until).await;
    true
}

/// Hands the job in hand back to the queue at once (requeue lever, the budget too short for it).
async fn release(ctx: &WorkerCtx, job: &db::Claimed, report: &mut WorkerReport) {
    match db::release(&ctx.pool, job, &ctx.owner).await {
        Ok(true) => {
            report.released += 1;
            ctx.metrics.job("released");
            tracing::info!(target: "fleetsim::worker", job = job.id, key = %job.key, "job released: it cannot finish within the shutdown budget");
        }
        Ok(false) => {
            tracing::warn!(target: "fleetsim::worker", job = job.id, "release found the lease already lost")
        }
        Err(e) => {
            tracing::warn!(target: "fleetsim::worker", job = job.id, error = %e, "release failed; the lease will expire")
        }
    }
}
