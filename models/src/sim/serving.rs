//! Pods serving: connections and requests arriving at a pod, its queue and concurrency limit,
//! responses, and the end of each attempt as the client sees it (failure, deadline, retry).

use super::*;

impl World<'_> {
    pub(super) fn on_conn_arrive(&mut self, q: &mut Scheduler<Ev>, r: u32, now: u64) {
        let req = self.reqs[r as usize];
        let p = req.pod;
        let pod = &self.pods[p as usize];
        if pod.accepts_new() {
            if req.conn != NONE {
                let idx = pod.conns.len() as u32;
                self.pods[p as usize].conns.push(req.conn);
                let conn = &mut self.conns[req.conn as usize];
                conn.server_open = true;
                conn.pod_idx = idx;
                conn.opened_at = now;
            }
            self.enqueue(q, p, r, now);
        } else {
            let unanswered = now >= pod.net_gone_at;
            let mech = if unanswered {
                Mechanism::UnansweredConnect
            } else if pod.slice == Ep::Ready {
                Mechanism::ListenerClosed
            } else {
                Mechanism::StaleLbView
            };
            if req.conn != NONE {
                self.client_drop(req.conn, now);
                self.reqs[r as usize].conn = NONE;
            }
            if unanswered {
                // The SYN left one hop ago; the connecting side gives up its connect timeout
                // after that (the proxy's own for L7, the client's for L4).
                let timeout = match self.bal.kind {
                    BalancerKind::L7 => dur(self.bal.connect_timeout),
                    BalancerKind::L4 => dur(self.f.client.connect_timeout),
                };
                let at = (now - self.ow).saturating_add(timeout);
                self.attempt_failed(q, r, Outcome::Timeout, mech, at);
            } else {
                // RST from the pod's network namespace, one hop back.
                self.attempt_failed(q, r, Outcome::Refused, mech, now + self.ow);
            }
        }
    }

    pub(super) fn on_req_arrive(&mut self, q: &mut Scheduler<Ev>, r: u32, now: u64) {
        let c = self.reqs[r as usize].conn;
        let conn = self.conns[c as usize];
        if !conn.server_open {
            self.reqs[r as usize].conn = NONE;
            self.client_drop(c, now);
            self.attempt_failed(
                q,
                r,
                Outcome::Reset,
                Mechanism::KeepaliveRace,
                now + self.ow,
            );
            return;
        }
        self.enqueue(q, conn.pod, r, now);
    }

    pub(super) fn enqueue(&mut self, q: &mut Scheduler<Ev>, p: u32, r: u32, now: u64) {
        self.reqs[r as usize].shed = false;
        let c = self.reqs[r as usize].conn;
        if c != NONE {
            self.conns[c as usize].at_server = true;
        }
        let pod = &mut self.pods[p as usize];
        self.reqs[r as usize].pod = p;
        self.reqs[r as usize].pod_idx = pod.inflight.len() as u32;
        pod.inflight.push(r);
        if pod.busy < self.f.pod.concurrency {
            self.start_service(q, p, r, now);
        } else {
            pod.queue.push_back(r);
        }
    }

    pub(super) fn start_service(&mut self, q: &mut Scheduler<Ev>, p: u32, r: u32, now: u64) {
        let pod = &mut self.pods[p as usize];
        pod.busy += 1;
        let node = pod.node as usize;
        let service = match &self.smp.service_while_starts {
            Some(during) if self.pods_starting > 0 => during,
            _ => &self.smp.service,
        };
        let mut d = service.sample(&mut self.rng.service).as_nanos();
        if let Some(n) = &self.f.nodes {
            // Processor sharing at the request's start: the node's demand over its cores.
            self.node_busy[node] += 1;
            let demand = f64::from(self.node_busy[node]) * n.cpu_per_request;
            if demand > n.cores {
                d = (d as f64 * demand / n.cores).round() as u64;
            }
        }
        let pod = &mut self.pods[p as usize];
        if self.f.app.shed_unfinishable
            && pod.draining
            && now.saturating_add(d) > pod.drain_deadline
        {
            // Refused at once (503 + Retry-After): no work, the answer goes back now.
            self.reqs[r as usize].shed = true;
            self.reqs[r as usize].done =
                Some(q.schedule_at(SimTime::from_nanos(now), Ev::ServiceDone(r)));
            return;
        }
        let cold = &self.f.pod.cold_start;
        if !pod.warm && cold.factor > 1.0 && !cold.duration.is_zero() {
            let age = now.saturating_sub(pod.started_at) as f64;
            let frac = (1.0 - age / cold.duration.as_nanos() as f64).max(0.0);
            d = (d as f64 * (1.0 + (cold.factor - 1.0) * frac)).round() as u64;
        }
        self.reqs[r as usize].done = Some(q.schedule_at(
            SimTime::from_nanos(now.saturating_add(d)),
            Ev::ServiceDone(r),
        ));
    }

    pub(super) fn remove_inflight(&mut self, p: u32, r: u32) {
        let idx = self.reqs[r as usize].pod_idx as usize;
        let pod = &mut self.pods[p as usize];
        pod.inflight.swap_remove(idx);
        if let Some(&moved) = pod.inflight.get(idx) {
            self.reqs[moved as usize].pod_idx = idx as u32;
        }
        self.reqs[r as usize].pod_idx = NONE;
    }

    pub(super) fn on_service_done(&mut self, q: &mut Scheduler<Ev>, r: u32, now: u64) {
        let p = self.reqs[r as usize].pod;
        self.reqs[r as usize].done = None;
        self.remove_inflight(p, r);
        let pod = &mut self.pods[p as usize];
        pod.busy -= 1;
        let node = pod.node as usize;
        if !self.node_busy.is_empty() {
            self.node_busy[node] -= 1;
        }
        let pod = &mut self.pods[p as usize];
        if let Some(next) = pod.queue.pop_front() {
            self.start_service(q, p, next, now);
        }
        let answer = if self.reqs[r as usize].shed {
            Outcome::Shed
        } else {
            Outcome::Ok
        };
        self.respond(q, r, now, answer);
        self.try_finish_drain(q, p, now);
    }

    /// The pod answered `r` at `now` with `answer` (`Ok`, or `Shed` for a refusal).
    pub(super) fn respond(&mut self, q: &mut Scheduler<Ev>, r: u32, now: u64, answer: Outcome) {
        let req = self.reqs[r as usize];
        let rtt = self.rtt;
        let hs = move |new: bool| if new { rtt } else { 0 };
        let c = req.conn;
        let arrive = now + self.ow; // response back at the client (L4) or the proxy (L7)
        if c != NONE {
            self.conns[c as usize].at_server = false;
            self.conns[c as usize].served += 1;
            let conn = self.conns[c as usize];
            let k = req.client as usize;
            // The server's own keep-alive limits put `Connection: close` on this response.
            let sv = &self.plan.server;
            let age = now.saturating_sub(conn.opened_at);
            let rotate = sv.max_requests.is_some_and(|m| conn.served >= m)
                || sv.max_age.is_some_and(|a| age >= dur(a))
                // The proxy's own limits on its upstream connections: it closes this one
                // after the response (no race: it never sends on it again).
                || (conn.upstream
                    && (self.bal.upstream_max_requests.is_some_and(|m| conn.served >= m)
                        || self.bal.upstream_max_age.is_some_and(|a| age >= dur(a))));
            // A shed answer closes its connection too (real-service's `Connection: close` on a
            // 503 + Retry-After): the client comes back through the balancer.
            let shed = answer == Outcome::Shed;
            if conn.close_after || !conn.server_open || rotate || shed {
                // `Connection: close`: the peer closes it on receipt; no race.
                if conn.server_open {
                    self.eager_after_close(q, c, now);
                }
                self.server_close(c, now);
                self.free_conn(c);
            } else if conn.upstream {
                self.conns[c as usize].free_at = arrive;
                self.pods[conn.pod as usize].up_idle.push(c);
            } else if self.client_idle[k] == NONE {
                self.conns[c as usize].free_at = arrive;
                self.client_idle[k] = c;
                self.schedule_idle_check(q, c, now);
            } else {
                // The client already holds an idle connection: this extra one is closed after
                // use (the generator's `--max-idle-per-client 1`).
                self.server_close(c, now);
                self.free_conn(c);
            }
        }
        match self.bal.kind {
            BalancerKind::L4 => {
                self.finish(q, r, answer, None, arrive + hs(req.new_conn));
            }
            BalancerKind::L7 => {
                let timeout = dur(self.bal.upstream_timeout);
                let waited = arrive.saturating_sub(req.upstream_sent) + hs(req.new_up);
                if waited > timeout {
                    let at = req.upstream_sent.saturating_add(timeout) + self.ow;
                    self.finish(q, r, Outcome::Http504, Some(Mechanism::UpstreamTimeout), at);
                } else {
                    let end = arrive + hs(req.new_up) + self.ow + hs(req.new_conn);
                    self.finish(q, r, answer, None, end);
                }
            }
        }
    }

    /// One attempt failed at the connection level, seen by the client (L4) or proxy (L7) at `at`.
    pub(super) fn attempt_failed(
        &mut self,
        q: &mut Scheduler<Ev>,
        r: u32,
        outcome: Outcome,
        mech: Mechanism,
        at: u64,
    ) {
        if self.bal.kind == BalancerKind::L7 {
            let req = self.reqs[r as usize];
            // A 504 would have come first if the upstream was this slow.
            let timeout = dur(self.bal.upstream_timeout);
            if at.saturating_sub(req.upstream_sent) > timeout {
                let t = req.upstream_sent.saturating_add(timeout) + self.ow;
                self.finish(q, r, Outcome::Http504, Some(Mechanism::UpstreamTimeout), t);
                return;
            }
            // nginx and Envoy retry a connect timeout like a refusal (`proxy_next_upstream
            // error timeout`); with no upstream left a connect timeout is a 504, not a 502.
            if u32::from(req.l7_tries) < self.bal.retries {
                let req = &mut self.reqs[r as usize];
                req.l7_tries += 1;
                req.exclude = req.pod;
                req.conn = NONE;
                req.new_up = false;
                // The proxy learns of the failure at `at` and tries the next upstream.
                let now = q.now().as_nanos();
                self.l7_forward(q, r, now, at.max(now));
                return;
            }
            let answer = if outcome == Outcome::Timeout {
                self.bal.timeout_status
            } else {
                self.bal.refused_status
            };
            self.finish(q, r, answer, Some(mech), at + self.ow);
        } else {
            self.finish(q, r, outcome, Some(mech), at);
        }
    }

    /// The balancer's answer to attempt `r` reaches its caller at `end`: the client, or with a
    /// `balancer.front` the front, which retries it through the inner hop, answers its own
    /// status after its timeout, or passes it on to the client one hop later.
    pub(super) fn finish(
        &mut self,
        q: &mut Scheduler<Ev>,
        r: u32,
        outcome: Outcome,
        mech: Option<Mechanism>,
        end: u64,
    ) {
        let Some(front) = &self.front else {
            self.client_finish(q, r, outcome, mech, end);
            return;
        };
        let req = self.reqs[r as usize];
        let timeout = dur(front.timeout);
        let expires = req.front_sent.saturating_add(timeout);
        let gives_up_status = front.timeout_status;
        // A 503 matches the application's own 503 + Retry-After (`shed`) too.
        let status = if outcome == Outcome::Shed {
            Outcome::Http503
        } else {
            outcome
        };
        let retry = u32::from(req.front_tries) < front.retries && front.retry_on.contains(&status);
        // The front gives up when the inner hop's answer, or the retry it would send, comes
        // after its timeout.
        let mut gives_up = end > expires;
        if !gives_up && retry {
            let n = u32::from(req.front_tries) + 1;
            let base = dur(front.backoff_base);
            let wait = if base == 0 {
                0
            } else {
                // Envoy's fully jittered exponential backoff, capped at 10 x base.
                let cap = base
                    .saturating_mul((1u64 << n.min(32)) - 1)
                    .min(base.saturating_mul(10));
                self.front_rng
                    .as_mut()
                    .expect("a front has its stream")
                    .below(cap + 1)
            };
            let at = end.saturating_add(wait);
            if at <= expires {
                self.reqs[r as usize].front_tries += 1;
                let now = q.now().as_nanos();
                q.schedule_at(SimTime::from_nanos(at.max(now)), Ev::FrontRetry(r));
                return;
            }
            gives_up = true;
        }
        if gives_up {
            self.client_finish(
                q,
                r,
                gives_up_status,
                Some(Mechanism::UpstreamTimeout),
                expires + self.ow,
            );
            return;
        }
        self.client_finish(q, r, outcome, mech, end + self.ow);
    }

    /// `balancer.front`: the front sends attempt `r` through the inner hop again at `now`; the
    /// inner hop picks a pod afresh (its own retries start over).
    pub(super) fn front_retry(&mut self, q: &mut Scheduler<Ev>, r: u32, now: u64) {
        self.new_attempt(r);
        self.l7_forward(q, r, now, now + self.ow);
    }

    /// The end of an attempt as the client sees it: apply the deadline, retry or record.
    pub(super) fn client_finish(
        &mut self,
        q: &mut Scheduler<Ev>,
        r: u32,
        mut outcome: Outcome,
        mut mech: Option<Mechanism>,
        mut end: u64,
    ) {
        let req = self.reqs[r as usize];
        let deadline = req.intended.saturating_add(self.deadline);
        if end > deadline {
            outcome = Outcome::Timeout;
            mech = Some(Mechanism::DeadlineExceeded);
            end = deadline;
        }
        let retry = &self.f.client.retry;
        if outcome.is_failure()
            && u32::from(req.attempts) < retry.attempts
            && retry.on.contains(&outcome)
            && !self.load_stopped
        {
            let at = end.saturating_add(dur(retry.backoff));
            if at < deadline {
                self.retries += 1;
                self.reqs[r as usize].attempts += 1;
                let now = q.now().as_nanos();
                q.schedule_at(SimTime::from_nanos(at.max(now)), Ev::Retry(r));
                return;
            }
        }
        self.samples.push(Sample {
            intended_ns: req.intended,
            start_ns: req.intended,
            end_ns: end,
            outcome,
            new_conn: req.new_conn,
        });
        self.mechs
            .push(if outcome.is_failure() { mech } else { None });
        self.live_reqs -= 1;
        self.free_reqs.push(r);
        if req.worker != NONE && !self.load_stopped {
            // A closed-loop worker sends again as soon as it has its outcome, but at most once
            // per millisecond: instant failures (no endpoints, zero RTT) must not spin in place.
            let now = q.now().as_nanos();
            let next = end.max(now).max(req.intended + CLOSED_LOOP_FLOOR_NS);
            q.schedule_at(SimTime::from_nanos(next), Ev::ClientSend(req.worker));
        }
    }
}
