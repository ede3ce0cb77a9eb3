//! End of run: stopping the load, settling, and the measured result.

use super::*;

impl World<'_> {
    pub(super) fn stop_load(&mut self, q: &mut Scheduler<Ev>, now: u64) {
        if self.load_stopped {
            return;
        }
        self.load_stopped = true;
        self.load_end = now;
        if let Some(ev) = self.arrival_ev.take() {
            q.cancel(ev);
        }
        if let Some(ev) = self.job_arrival_ev.take() {
            q.cancel(ev);
        }
        self.end_streams(q, now);
    }

    pub(super) fn finish_run(
        mut self,
        scenario: &str,
        opts: &SimOptions,
        trace: &Trace,
        end_now: u64,
        events: u64,
    ) -> Result<SimRun, SimError> {
        let fail = |what: String| SimError::Conservation {
            scenario: scenario.to_string(),
            seed: opts.seed,
            what,
        };
        // Requests still open when the run stops (should be none): counted as timeouts.
        if self.live_reqs > 0 {
            let mut open: Vec<u32> = Vec::new();
            let mut free = vec![false; self.reqs.len()];
            for &r in &self.free_reqs {
                free[r as usize] = true;
            }
            for (i, f) in free.iter().enumerate() {
                if !f {
                    open.push(i as u32);
                }
            }
            for r in open {
                let req = self.reqs[r as usize];
                self.samples.push(Sample {
                    intended_ns: req.intended,
                    start_ns: req.intended,
                    end_ns: req.intended.saturating_add(self.deadline).max(end_now),
                    outcome: Outcome::Timeout,
                    new_conn: req.new_conn,
                });
                let expired = req.intended.saturating_add(self.deadline) <= end_now;
                self.mechs.push(Some(if expired {
                    Mechanism::DeadlineExceeded
                } else {
                    Mechanism::Unfinished
                }));
                self.live_reqs -= 1;
            }
        }
        if self.samples.len() as u64 != self.sent {
            return Err(fail(format!(
                "{} requests sent, {} outcomes recorded",
                self.sent,
                self.samples.len()
            )));
        }

        // The ledger.
        let mut jobs = JobCounts {
            published: self.jobs.len() as u64,
            ..JobCounts::default()
        };
        for job in &self.jobs {
            match job.applied {
                0 => {
                    // Leased to a dead worker, or acked on receipt by one (never redelivered).
                    let held = job.state == JobState::Leased
                        || (self.queue.ack == AckMode::OnReceipt
                            && job.state == JobState::Done
                            && job.worker != NONE);
                    let dead = held && self.workers[job.worker as usize].dead;
                    if dead {
                        jobs.lost += 1;
                    } else {
                        jobs.pending += 1;
                    }
                }
                1 => jobs.applied_once += 1,
                _ => jobs.duplicated += 1,
            }
        }
        if !jobs.is_conserved() {
            return Err(fail(format!("job ledger does not add up: {jobs:?}")));
        }

        let rollout_complete = self.rollout_end.is_some();
        let rollout_end = self
            .rollout_end
            .unwrap_or(self.load_end)
            .max(self.rollout_start);
        let marks = RunMarks {
            load_start_ns: 0,
            rollout_start_ns: self.rollout_start,
            rollout_end_ns: rollout_end,
            load_end_ns: self.load_end.max(rollout_end),
        };
        let config = AnalyzeConfig {
            tail_ns: dur(self.f.run.tail),
            bucket_ns: dur(self.f.run.bucket),
            ..AnalyzeConfig::default()
        };
        let label = RunLabel {
            source: Source::Sim,
            scenario: scenario.to_string(),
            seed: Some(opts.seed),
        };
        let mut analysis = analyze_with_connections(
            &self.samples,
            &self.eager_opens,
            &marks,
            Some(&self.endpoints),
            jobs,
            &label,
            &config,
        );
        if !self.streams.is_empty() {
            analysis.summary.streams = Some(self.stream_summary());
        }
        let s = &analysis.summary;
        if !s.requests.is_conserved() {
            return Err(fail(format!(
                "window outcomes do not sum to sent: {:?}",
                s.requests
            )));
        }

        let window_start = marks.rollout_start_ns;
        let window_end = (s.window_s[1] * 1e9).round() as u64;
        let mut by_mech: BTreeMap<Mechanism, u64> =
            Mechanism::ALL.iter().map(|&m| (m, 0)).collect();
        let mut attributed = 0u64;
        for (sample, mech) in self.samples.iter().zip(&self.mechs) {
            let t = sample.intended_ns;
            if t < window_start || t >= window_end || !sample.outcome.is_failure() {
                continue;
            }
            let Some(m) = mech else {
                return Err(fail(format!(
                    "a {} outcome has no mechanism",
                    sample.outcome
                )));
            };
            *by_mech.get_mut(m).expect("every mechanism is a key") += 1;
            attributed += 1;
        }
        if attributed != s.failed {
            return Err(fail(format!(
                "{attributed} failures attributed to a mechanism, {} failed in the window",
                s.failed
            )));
        }
        *by_mech.get_mut(&Mechanism::RedeliveredJob).expect("key") = jobs.duplicated;
        *by_mech.get_mut(&Mechanism::LostJob).expect("key") = jobs.lost;

        let endpoints = self.endpoints.clone();
        let mut shutdowns: Vec<PodShutdown> = self
            .pods
            .iter_mut()
            .enumerate()
            .filter(|(_, p)| p.deleted)
            .map(|(i, p)| PodShutdown {
                pod: i as u32,
                deleted_ns: p.deleted_at,
                steps: std::mem::take(&mut p.steps),
                exit_code: p.exit_code,
            })
            .collect();
        shutdowns.sort_by_key(|s| (s.deleted_ns, s.pod));
        Ok(SimRun {
            analysis,
            endpoints,
            marks,
            digest: trace.digest(),
            events,
            retries: self.retries,
            failures_by_mechanism: by_mech,
            rollout_complete,
            shutdowns,
        })
    }
}

impl World<'_> {
    /// The streams' figures: the measurement contract's summary of what their clients saw,
    /// with when the drops happened, and `eof` and `reset` always keys of `drops_by_reason`
    /// (so that every seed has them and an aggregate's mean is over every seed).
    fn stream_summary(&self) -> measure::StreamSummary {
        let (mut summary, _) =
            measure::summarize_streams(&self.stream_events, self.streams.len() as u64);
        for why in ["eof", "reset"] {
            summary.drops_by_reason.entry(why.to_string()).or_insert(0);
        }
        summary.drop_times = Some(measure::stream_drop_times(&self.stream_events));
        summary
    }
}
