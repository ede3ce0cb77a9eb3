//! Queue and workers: job arrivals, fetch, side effect, ack, leases and redelivery, and what
//! SIGTERM and a kill do to a worker.

use super::*;

impl World<'_> {
    pub(super) fn job_gap(&mut self) -> u64 {
        let u = self.rng.job_arrivals.unit();
        (-(1.0 - u).ln() / self.queue.rate * 1e9).round() as u64
    }

    pub(super) fn start_workers(&mut self, q: &mut Scheduler<Ev>, p: u32) {
        if self.queue.rate <= 0.0 {
            return;
        }
        let now = q.now().as_nanos();
        for _ in 0..self.queue.workers {
            let w = self.workers.len() as u32;
            self.workers.push(Worker {
                pod: p,
                job: NONE,
                delivery: 0,
                job_end: 0,
                stopped: false,
                dead: false,
                idle_listed: false,
                effect_ev: None,
                done_ev: None,
            });
            self.pods[p as usize].workers.push(w);
            self.worker_fetch(q, w, now);
        }
    }

    pub(super) fn worker_fetch(&mut self, q: &mut Scheduler<Ev>, w: u32, now: u64) {
        let wk = self.workers[w as usize];
        if wk.stopped || wk.dead || wk.job != NONE {
            return;
        }
        if let Some(j) = self.job_queue.pop_front() {
            self.assign(q, w, j, now);
        } else if !wk.idle_listed {
            self.workers[w as usize].idle_listed = true;
            self.idle_workers.push_back(w);
        }
    }

    pub(super) fn dispatch_jobs(&mut self, q: &mut Scheduler<Ev>, now: u64) {
        while !self.job_queue.is_empty() {
            let Some(w) = self.idle_workers.pop_front() else {
                return;
            };
            self.workers[w as usize].idle_listed = false;
            self.worker_fetch(q, w, now);
        }
    }

    pub(super) fn assign(&mut self, q: &mut Scheduler<Ev>, w: u32, j: u32, now: u64) {
        let lease = dur(self.queue.lease);
        let d = self
            .smp
            .job_duration
            .sample(&mut self.rng.job_duration)
            .as_nanos();
        let effect = (d as f64 * self.queue.effect_at).round() as u64;
        let on_receipt = self.queue.ack == AckMode::OnReceipt;
        let job = &mut self.jobs[j as usize];
        job.delivery += 1;
        job.worker = w;
        let delivery = job.delivery;
        if on_receipt {
            // Acked at fetch: the queue forgets it, no lease, no redelivery.
            job.state = JobState::Done;
        } else {
            job.state = JobState::Leased;
            job.lease_ev = Some(q.schedule_at(
                SimTime::from_nanos(now.saturating_add(lease)),
                Ev::LeaseExpire { job: j, delivery },
            ));
        }
        let wk = &mut self.workers[w as usize];
        wk.job = j;
        wk.delivery = delivery;
        wk.job_end = now.saturating_add(d);
        wk.effect_ev = Some(q.schedule_at(
            SimTime::from_nanos(now.saturating_add(effect)),
            Ev::JobEffect(w),
        ));
        wk.done_ev =
            Some(q.schedule_at(SimTime::from_nanos(now.saturating_add(d)), Ev::JobDone(w)));
    }

    pub(super) fn on_job_arrival(&mut self, q: &mut Scheduler<Ev>, now: u64) {
        self.job_arrival_ev = None;
        if self.load_stopped {
            return;
        }
        let j = self.jobs.len() as u32;
        self.jobs.push(Job {
            applied: 0,
            state: JobState::Queued,
            delivery: 0,
            worker: NONE,
            lease_ev: None,
        });
        self.job_queue.push_back(j);
        self.dispatch_jobs(q, now);
        let gap = self.job_gap();
        self.job_arrival_ev =
            Some(q.schedule_at(SimTime::from_nanos(now.saturating_add(gap)), Ev::JobArrival));
    }

    pub(super) fn on_job_effect(&mut self, w: u32) {
        let wk = &mut self.workers[w as usize];
        wk.effect_ev = None;
        let job = &mut self.jobs[wk.job as usize];
        if self.queue.idempotent && job.applied > 0 {
            return; // the idempotency key makes the repeat a no-op
        }
        job.applied += 1;
    }

    pub(super) fn on_job_done(&mut self, q: &mut Scheduler<Ev>, w: u32, now: u64) {
        let wk = self.workers[w as usize];
        let j = wk.job;
        let job = &mut self.jobs[j as usize];
        if job.state == JobState::Leased && job.worker == w && job.delivery == wk.delivery {
            job.state = JobState::Done;
            if let Some(ev) = job.lease_ev.take() {
                q.cancel(ev);
            }
        }
        let wk = &mut self.workers[w as usize];
        wk.job = NONE;
        wk.done_ev = None;
        let p = wk.pod;
        self.worker_fetch(q, w, now);
        self.try_finish_drain(q, p, now);
    }

    pub(super) fn on_lease_expire(
        &mut self,
        q: &mut Scheduler<Ev>,
        j: u32,
        delivery: u32,
        now: u64,
    ) {
        let job = &mut self.jobs[j as usize];
        if job.state != JobState::Leased || job.delivery != delivery {
            return;
        }
        job.lease_ev = None;
        job.state = JobState::Queued;
        job.worker = NONE;
        self.job_queue.push_front(j);
        self.dispatch_jobs(q, now);
    }

    /// Requeue lever at SIGTERM: stop fetching; keep the job in hand if it fits the budget,
    /// release it otherwise.
    pub(super) fn stop_workers(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64, exit_by: u64) {
        let ws = self.pods[p as usize].workers.clone();
        for w in ws {
            let wk = self.workers[w as usize];
            self.workers[w as usize].stopped = true;
            if wk.job == NONE || wk.job_end <= exit_by || self.queue.ack == AckMode::OnReceipt {
                // An acked job cannot be handed back: the worker keeps it.
                continue;
            }
            // Release: the job goes back to the queue at once.
            let wk = &mut self.workers[w as usize];
            for ev in [wk.effect_ev.take(), wk.done_ev.take()]
                .into_iter()
                .flatten()
            {
                q.cancel(ev);
            }
            let j = wk.job;
            wk.job = NONE;
            let job = &mut self.jobs[j as usize];
            if let Some(ev) = job.lease_ev.take() {
                q.cancel(ev);
            }
            job.state = JobState::Queued;
            job.worker = NONE;
            self.job_queue.push_front(j);
        }
        self.dispatch_jobs(q, now);
    }

    pub(super) fn kill_workers(&mut self, q: &mut Scheduler<Ev>, p: u32) {
        let ws = std::mem::take(&mut self.pods[p as usize].workers);
        for &w in &ws {
            let wk = &mut self.workers[w as usize];
            wk.dead = true;
            for ev in [wk.effect_ev.take(), wk.done_ev.take()]
                .into_iter()
                .flatten()
            {
                q.cancel(ev);
            }
            // The job stays leased to the dead worker until its lease expires.
        }
        self.pods[p as usize].workers = ws;
    }
}
