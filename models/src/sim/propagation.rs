//! Endpoint propagation: pod changes to the EndpointSlice, and the slice to each balancer view
//! after its lag.

use super::*;

impl World<'_> {
    pub(super) fn slice_set(&mut self, q: &mut Scheduler<Ev>, p: u32, ep: Ep, now: u64) {
        if matches!(ep, Ep::TermNotServing | Ep::Absent) {
            self.health_fails(q, p, now);
        }
        let pod = &mut self.pods[p as usize];
        pod.ver += 1;
        let ver = pod.ver;
        let d = self.smp.slice.sample(&mut self.rng.slice).as_nanos();
        q.schedule_at(
            SimTime::from_nanos(now.saturating_add(d)),
            Ev::Slice { pod: p, ep, ver },
        );
    }

    pub(super) fn on_slice(&mut self, q: &mut Scheduler<Ev>, p: u32, ep: Ep, ver: u32, now: u64) {
        let pod = &mut self.pods[p as usize];
        if ver <= pod.slice_ver {
            return;
        }
        let was_ready = pod.slice == Ep::Ready;
        pod.slice_ver = ver;
        pod.slice = ep;
        let is_ready = ep == Ep::Ready;
        if was_ready != is_ready {
            if is_ready {
                self.slice_ready += 1;
            } else {
                self.slice_ready -= 1;
            }
            match self.endpoints.points.last_mut() {
                Some(last) if last.0 == now => last.1 = self.slice_ready,
                _ => self.endpoints.points.push((now, self.slice_ready)),
            }
        }
        let mut d = self.smp.lag.sample(&mut self.rng.lag).as_nanos();
        if ep == Ep::Ready {
            d += dur(self.bal.health_check_delay);
        }
        let mut at = now.saturating_add(d);
        if let Some(sync) = self.plan.sync {
            // kube-proxy's BoundedFrequencyRunner, or a reload throttle (Traefik's): a change
            // joins a sync that has not started yet, else starts one once `period` has passed
            // since the last one ended (kube-proxy) or started (a throttle); the view shows it
            // when that sync ends (`d`, the sync's own time, after its start).
            at = match self.sync_end {
                Some(end) if self.sync_start >= now => end,
                last => {
                    let start = last.map_or(now, |end| {
                        let from = if sync.from_start {
                            self.sync_start
                        } else {
                            end
                        };
                        now.max(from.saturating_add(dur(sync.period)))
                    });
                    self.sync_start = start;
                    let end = start.saturating_add(d);
                    self.sync_end = Some(end);
                    end
                }
            };
        }
        if self.bal.ordered_sync {
            // A full-state sync (kube-proxy's ruleset, nginx's endpoint list, an EDS push)
            // never shows a later EndpointSlice change without the earlier ones.
            at = at.max(self.view_clock);
            self.view_clock = at;
        }
        q.schedule_at(SimTime::from_nanos(at), Ev::View { pod: p, ep, ver });
    }

    pub(super) fn on_view(&mut self, q: &mut Scheduler<Ev>, p: u32, ep: Ep, ver: u32, now: u64) {
        let pod = &mut self.pods[p as usize];
        if ver <= pod.view_ver {
            return;
        }
        let was_ready = pod.view == Ep::Ready;
        pod.view_ver = ver;
        pod.view = ep;
        if self.bal.readiness_gate && ep == Ep::Ready && !was_ready && !pod.deleted {
            // The readiness gate: the pod counts as ready once the load balancer has it.
            let min_ready = dur(self.plan.min_ready);
            q.schedule_at(
                SimTime::from_nanos(now.saturating_add(min_ready)),
                Ev::Available(p),
            );
            self.rebuild_views();
            self.check_rollout_end(q, now);
            return;
        }
        if was_ready
            && ep != Ep::Ready
            && let Some(delay) = self.bal.deregistration_delay
        {
            q.schedule_at(
                SimTime::from_nanos(now.saturating_add(dur(delay))),
                Ev::DeregClose { pod: p, ver },
            );
        }
        self.rebuild_views();
    }

    /// Pod `p` stops answering health checks now (it failed readiness, closed its listener or
    /// exited): a health-checked balancer marks it unhealthy after its next check, uniform
    /// within one interval, and `threshold - 1` more. Once per pod; nothing without checks.
    pub(super) fn health_fails(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        let Some((interval, threshold)) = self.bal.unhealthy_check else {
            return;
        };
        let pod = &mut self.pods[p as usize];
        if pod.health_failed {
            return;
        }
        pod.health_failed = true;
        let i = dur(interval);
        let first = self.rng.health.below(i.max(1));
        let at = now
            .saturating_add(first)
            .saturating_add(i.saturating_mul(u64::from(threshold.saturating_sub(1))));
        q.schedule_at(SimTime::from_nanos(at), Ev::Unhealthy(p));
    }

    pub(super) fn rebuild_views(&mut self) {
        self.ready_view.clear();
        self.fallback_view.clear();
        let mut unhealthy = false;
        for (i, pod) in self.pods.iter().enumerate() {
            if pod.lb_unhealthy {
                unhealthy = true;
                continue;
            }
            match pod.view {
                Ep::Ready => self.ready_view.push(i as u32),
                Ep::TermServing => self.fallback_view.push(i as u32),
                _ => {}
            }
        }
        if unhealthy && self.ready_view.is_empty() {
            // Every registered target is unhealthy: the balancer fails open and routes to
            // all of them (AWS ELB docs, "Health checks for your target groups").
            for (i, pod) in self.pods.iter().enumerate() {
                if pod.view == Ep::Ready {
                    self.ready_view.push(i as u32);
                }
            }
        }
    }

    /// The serving condition of a terminating pod, as the EndpointSlice reports it.
    pub(super) fn term_ep(&self, p: u32) -> Ep {
        let pod = &self.pods[p as usize];
        if pod.phase == Phase::Gone {
            Ep::Absent
        } else if pod.listening && pod.probe_ready && !pod.readiness_failed && pod.inbound_open {
            Ep::TermServing
        } else {
            Ep::TermNotServing
        }
    }
}
