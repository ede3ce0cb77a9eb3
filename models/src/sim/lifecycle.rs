//! Pod lifecycle: start-up, readiness, the rollout controller, deletion, preStop, SIGTERM, the
//! drain, the guardian, SIGKILL and the exit.

use super::*;

impl World<'_> {
    pub(super) fn create_pod(&mut self, q: &mut Scheduler<Ev>, now: u64) {
        let p = self.pods.len() as u32;
        self.pods.push(Pod::new(true));
        self.pods_starting += 1;
        self.place(p);
        let startup = self.smp.startup.sample(&mut self.rng.startup).as_nanos();
        q.schedule_at(
            SimTime::from_nanos(now.saturating_add(startup)),
            Ev::Started(p),
        );
        if let Some(rp) = &self.plan.probe {
            let first = now.saturating_add(dur(rp.initial_delay));
            self.pods[p as usize].ev_probe =
                Some(q.schedule_at(SimTime::from_nanos(first), Ev::Probe(p)));
        }
    }

    pub(super) fn on_started(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        let pod = &mut self.pods[p as usize];
        if pod.phase != Phase::Starting {
            return;
        }
        pod.phase = Phase::Running;
        pod.listening = true;
        pod.started_at = now;
        self.start_workers(q, p);
        if self.plan.probe.is_none() && !self.pods[p as usize].deleted {
            // No readiness probe: Kubernetes counts the pod ready once its container started.
            self.become_ready(q, p, now);
        }
    }

    pub(super) fn on_probe(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        let Some(rp) = self.plan.probe.clone() else {
            return;
        };
        let concurrency = u64::from(self.f.pod.concurrency.max(1));
        let mean = dur(self.plan.mean_service);
        let pod = &mut self.pods[p as usize];
        pod.ev_probe = None;
        if pod.phase == Phase::Gone || pod.deleted {
            return;
        }
        // The probe's GET waits behind the requests queued at the pod; past `timeout` it fails.
        let wait = (pod.queue.len() as u64).saturating_mul(mean) / concurrency;
        if pod.listening && wait <= dur(rp.timeout) {
            pod.successes += 1;
        } else {
            pod.successes = 0;
        }
        if pod.successes >= rp.success_threshold {
            // Ready. Probing of ready pods is not modelled further (they never fail unless
            // deleted, and deletion drives the endpoint through the EndpointSlice).
            self.become_ready(q, p, now);
        } else {
            let next = now.saturating_add(dur(rp.period));
            self.pods[p as usize].ev_probe =
                Some(q.schedule_at(SimTime::from_nanos(next), Ev::Probe(p)));
        }
    }

    /// Puts pod `p` on a node, round-robin in creation order.
    pub(super) fn place(&mut self, p: u32) {
        if !self.node_busy.is_empty() {
            self.pods[p as usize].node = p % self.node_busy.len() as u32;
        }
    }

    /// The pod turns ready: EndpointSlice, then available after minReadySeconds.
    /// Pod `p` stops counting as starting (it turns ready, is deleted or is gone), if it did.
    fn leaves_start(&mut self, p: u32) {
        let pod = &self.pods[p as usize];
        if !pod.probe_ready && !pod.deleted && pod.phase != Phase::Gone {
            self.pods_starting -= 1;
        }
    }

    pub(super) fn become_ready(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        self.leaves_start(p);
        self.pods[p as usize].probe_ready = true;
        self.slice_set(q, p, Ep::Ready, now);
        if !self.bal.readiness_gate {
            let min_ready = dur(self.plan.min_ready);
            q.schedule_at(
                SimTime::from_nanos(now.saturating_add(min_ready)),
                Ev::Available(p),
            );
        }
        self.check_rollout_end(q, now);
    }

    /// Deployment semantics: scale the new ReplicaSet up within maxSurge, the old one down
    /// within maxUnavailable (Kubernetes `reconcileNewReplicaSet` / `reconcileOldReplicaSets`).
    /// Terminating pods do not count (the ReplicaSet controller filters them out).
    pub(super) fn reconcile(&mut self, q: &mut Scheduler<Ev>, now: u64) {
        if !self.rollout_started {
            return;
        }
        let n = self.f.pod.replicas;
        loop {
            let mut changed = false;
            let (mut old_active, mut new_active, mut new_available) = (0u32, 0u32, 0u32);
            for pod in &self.pods {
                if pod.deleted || pod.phase == Phase::Gone {
                    continue;
                }
                if pod.new {
                    new_active += 1;
                    if pod.available {
                        new_available += 1;
                    }
                } else {
                    old_active += 1;
                }
            }
            let total = old_active + new_active;
            if new_active < n {
                let room = (n + self.surge).saturating_sub(total);
                let add = room.min(n - new_active);
                for _ in 0..add {
                    self.create_pod(q, now);
                    changed = true;
                }
                new_active += add;
            }
            let all = old_active + new_active;
            let min_available = n.saturating_sub(self.unavailable);
            let new_unavailable = new_active - new_available;
            let max_down = all
                .saturating_sub(min_available)
                .saturating_sub(new_unavailable);
            let down = max_down.min(old_active);
            if down > 0 {
                let victims: Vec<u32> = (0..self.pods.len() as u32)
                    .filter(|&i| {
                        let pod = &self.pods[i as usize];
                        !pod.new && !pod.deleted && pod.phase != Phase::Gone
                    })
                    .take(down as usize)
                    .collect();
                for v in victims {
                    self.delete_pod(q, v, now);
                }
                changed = true;
            }
            if !changed {
                break;
            }
        }
        self.check_rollout_end(q, now);
    }

    pub(super) fn check_rollout_end(&mut self, q: &mut Scheduler<Ev>, now: u64) {
        if !self.rollout_started || self.rollout_end.is_some() {
            return;
        }
        let n = self.f.pod.replicas;
        let mut new_ready = 0;
        for pod in &self.pods {
            if pod.new {
                let gated = self.bal.readiness_gate && pod.view != Ep::Ready;
                if pod.probe_ready && !gated && !pod.deleted && pod.phase != Phase::Gone {
                    new_ready += 1;
                }
            } else if pod.phase != Phase::Gone {
                return;
            }
        }
        if new_ready >= n {
            self.rollout_end = Some(now);
            q.schedule_at(
                SimTime::from_nanos(now.saturating_add(dur(self.f.run.tail))),
                Ev::LoadStop,
            );
        }
    }

    pub(super) fn delete_pod(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        self.leaves_start(p);
        self.pods[p as usize].deleted = true;
        self.pods[p as usize].deleted_at = now;
        if let Some(drain) = self.bal.sidecar_drain {
            // The sidecar gets SIGTERM at once (it has no preStop) and refuses new inbound
            // connections, then exits after terminationDrainDuration.
            self.pods[p as usize].inbound_open = false;
            let ev = q.schedule_at(
                SimTime::from_nanos(now.saturating_add(dur(drain))),
                Ev::SidecarExit(p),
            );
            self.pods[p as usize].ev_sidecar = Some(ev);
        }
        if let Some(wait) = self.bal.sidecar_refuse_after {
            // Linkerd: the proxy gets SIGTERM after its waitBeforeExitSeconds preStop, then
            // refuses new inbound connections and stays up until the pod's process exits.
            if wait.is_zero() {
                self.sidecar_refuse(q, p, now);
            } else {
                q.schedule_at(SimTime::from_nanos(now + dur(wait)), Ev::SidecarRefuse(p));
            }
        }
        let ep = self.term_ep(p);
        self.slice_set(q, p, ep, now);
        let grace = dur(self.plan.shutdown.grace);
        let prestop = dur(self.plan.shutdown.prestop);
        // preStop counts against the grace period; if it overruns, SIGTERM goes at the end of
        // the grace period and the kubelet allows 2 s more before SIGKILL.
        let (term, kill) = if prestop >= grace && prestop > 0 {
            (grace, grace + 2_000_000_000)
        } else {
            (prestop, grace)
        };
        let pod = &mut self.pods[p as usize];
        pod.ev_sigterm = Some(q.schedule_at(
            SimTime::from_nanos(now.saturating_add(term)),
            Ev::Sigterm(p),
        ));
        pod.ev_sigkill = Some(q.schedule_at(
            SimTime::from_nanos(now.saturating_add(kill)),
            Ev::Sigkill(p),
        ));
        pod.exit_deadline = now.saturating_add(kill);
        if let Some(ev) = pod.ev_probe.take() {
            q.cancel(ev);
        }
    }

    pub(super) fn on_sigterm(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        if self.pods[p as usize].phase == Phase::Gone {
            return;
        }
        let sp = &self.plan.shutdown;
        if !sp.sigterm_delivered {
            // A shell-form entrypoint swallows SIGTERM: nothing happens until SIGKILL.
            return;
        }
        let (fail, keep, prestop) = (sp.fail_readiness, sp.keep_serving, sp.prestop);
        if fail {
            // A health-checked balancer's own checks see the failing endpoint from now.
            self.health_fails(q, p, now);
        }
        let pod = &mut self.pods[p as usize];
        pod.steps.push((ShutdownStep::SigtermReceived, now));
        if fail {
            // The application fails its readiness endpoint; the kubelet marks the pod not
            // serving after failureThreshold failed probes.
            pod.steps.push((ShutdownStep::ReadinessFailed, now));
            if let Some(rp) = &self.plan.probe {
                let after = dur(rp.period).saturating_mul(u64::from(rp.failure_threshold));
                q.schedule_at(
                    SimTime::from_nanos(now.saturating_add(after)),
                    Ev::ReadinessFailed(p),
                );
            }
        }
        if !prestop.is_zero() {
            pod.steps.push((ShutdownStep::PrestopDone, now));
        }
        if !keep.is_zero() {
            let at = now.saturating_add(dur(keep));
            pod.ev_app = Some(q.schedule_at(SimTime::from_nanos(at), Ev::AppShutdown(p)));
            return;
        }
        self.app_shutdown(q, p, now);
    }

    /// The application's `on_sigterm` acts (at SIGTERM, or `app.keep_serving` after it).
    pub(super) fn app_shutdown(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        if self.pods[p as usize].phase == Phase::Gone {
            return;
        }
        let sp = &self.plan.shutdown;
        let drain = sp.on_sigterm == OnSigterm::Drain;
        let sigterm_at = now.saturating_sub(dur(sp.keep_serving));
        let (guardian, jitter, timeout) = (sp.guardian, sp.jitter_window, sp.drain_timeout);
        let release = self.queue.release_on_sigterm;
        let exit_by = if drain {
            // The guardian counts from SIGTERM; one shorter than `keep_serving` fires as soon
            // as the drain starts (approximation: it is not armed during keep_serving).
            let g = (sigterm_at.saturating_add(dur(guardian))).max(now);
            g.min(self.pods[p as usize].exit_deadline)
        } else {
            now
        };
        self.pods[p as usize].exit_deadline = exit_by;
        if release {
            self.stop_workers(q, p, now, exit_by);
        }
        if self.pods[p as usize].phase == Phase::Starting || !drain {
            self.pods[p as usize]
                .steps
                .push((ShutdownStep::ListenerClosed, now));
            self.exit(q, p, now, EXIT_NOT_DRAINED);
            return;
        }
        // Drain: stop accepting, close keep-alives (at once or jittered), finish in-flight.
        {
            let pod = &mut self.pods[p as usize];
            pod.listening = false;
            pod.draining = true;
            pod.steps.push((ShutdownStep::ListenerClosed, now));
        }
        let ep = self.term_ep(p);
        self.slice_set(q, p, ep, now);
        let conns = self.pods[p as usize].conns.clone();
        let w = dur(jitter);
        // `drain.close_rate`: the k-th connection closes k / rate s after the first.
        let close_every = self
            .f
            .drain
            .close_rate
            .map(|r| (1e9 / r).ceil().max(1.0) as u64);
        for (k, c) in conns.into_iter().enumerate() {
            if let Some(every) = close_every
                && k > 0
            {
                let generation = self.conns[c as usize].generation;
                q.schedule_at(
                    SimTime::from_nanos(now.saturating_add(every.saturating_mul(k as u64))),
                    Ev::JitterClose {
                        conn: c,
                        generation,
                    },
                );
            } else if w > 0 {
                let at = now + self.rng.jitter.below(w + 1);
                let generation = self.conns[c as usize].generation;
                q.schedule_at(
                    SimTime::from_nanos(at),
                    Ev::JitterClose {
                        conn: c,
                        generation,
                    },
                );
            } else {
                self.drain_close(q, c, now);
            }
        }
        let pod = &mut self.pods[p as usize];
        let deadline = now.saturating_add(dur(timeout));
        pod.drain_deadline = deadline.min(exit_by);
        pod.ev_drain = Some(q.schedule_at(SimTime::from_nanos(deadline), Ev::DrainDeadline(p)));
        pod.ev_guardian = Some(q.schedule_at(SimTime::from_nanos(exit_by), Ev::Guardian(p)));
        self.try_finish_drain(q, p, now);
    }

    /// A Linkerd proxy at its SIGTERM: it refuses new connections and new requests (idle
    /// inbound connections closed, busy ones closed after their response, as an HTTP/2
    /// GOAWAY), lets in-flight requests finish, and stays up until the pod exits.
    /// A stream is a response in flight: the proxy lets it run until the application ends it.
    pub(super) fn sidecar_refuse(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        self.pods[p as usize].inbound_open = false;
        let conns = self.pods[p as usize].conns.clone();
        for c in conns {
            if self.conns[c as usize].stream == NONE {
                self.drain_close(q, c, now);
            }
        }
    }

    /// The drain closes keep-alive connection `c`: after its response if busy, now if idle (a
    /// stream: now, ended cleanly).
    pub(super) fn drain_close(&mut self, q: &mut Scheduler<Ev>, c: u32, now: u64) {
        let conn = self.conns[c as usize];
        if !conn.server_open {
            return;
        }
        if conn.at_server {
            self.conns[c as usize].close_after = true;
        } else {
            self.server_close(c, now);
            self.eager_after_close(q, c, now);
            // A stream ends cleanly (the real service's shutdown event, then the close).
            self.stream_closed(q, c, now, "eof");
            if conn.upstream {
                // The proxy sees the FIN on an idle upstream connection and drops it when it
                // next looks (lazily, in `l7_forward`).
            }
            let p = conn.pod;
            self.try_finish_drain(q, p, now);
        }
    }

    pub(super) fn on_drain_deadline(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        self.pods[p as usize].drain_expired = true;
        // Past the drain timeout: what is still in flight or open is cut.
        self.kill_data_path(q, p, now, CutBy::App);
        self.try_finish_drain(q, p, now);
    }

    pub(super) fn try_finish_drain(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64) {
        let pod = &self.pods[p as usize];
        if !pod.draining || pod.phase == Phase::Gone {
            return;
        }
        // real-service waits for in-flight requests, then for the connections to close.
        if !pod.logged_inflight && (pod.inflight.is_empty() || pod.drain_expired) {
            let pod = &mut self.pods[p as usize];
            pod.logged_inflight = true;
            pod.steps.push((ShutdownStep::InflightDrained, now));
        }
        let pod = &self.pods[p as usize];
        let http_done = pod.inflight.is_empty() && pod.conns.is_empty();
        if !(http_done || pod.drain_expired) {
            return;
        }
        if !pod
            .steps
            .iter()
            .any(|&(s, _)| s == ShutdownStep::KeepaliveClosed)
        {
            self.pods[p as usize]
                .steps
                .push((ShutdownStep::KeepaliveClosed, now));
        }
        let pod = &self.pods[p as usize];
        if self.queue.release_on_sigterm {
            let busy = pod
                .workers
                .iter()
                .any(|&w| self.workers[w as usize].job != NONE);
            if busy {
                return; // the worker finishes its job (bounded by the guardian)
            }
        }
        let pod = &mut self.pods[p as usize];
        for step in [
            ShutdownStep::WorkerStopped,
            ShutdownStep::JobsReleased,
            ShutdownStep::PoolsClosed,
        ] {
            pod.steps.push((step, now));
        }
        self.exit(q, p, now, EXIT_DRAINED);
    }

    /// Resets every request in flight at pod `p` and closes its connections; `by` says who
    /// cuts them (a composed sidecar answers for what the application cuts).
    pub(super) fn kill_data_path(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64, by: CutBy) {
        let inflight = std::mem::take(&mut self.pods[p as usize].inflight);
        {
            let pod = &mut self.pods[p as usize];
            pod.queue.clear();
            let (node, busy) = (pod.node as usize, pod.busy);
            pod.busy = 0;
            if !self.node_busy.is_empty() {
                self.node_busy[node] -= busy;
            }
        }
        for &r in &inflight {
            if let Some(ev) = self.reqs[r as usize].done.take() {
                q.cancel(ev);
            }
            self.reqs[r as usize].pod_idx = NONE;
        }
        // A composed sidecar still up answers the requests the application fails under it:
        // an HTTP status to the next hop, not a reset. Envoy exits on its own event (after
        // its drain); Linkerd's proxy (no drain of its own) stays up until the application
        // has exited.
        let sidecar_up = match self.bal.sidecar_drain {
            Some(_) => self.pods[p as usize].ev_sidecar.is_some(),
            None => true,
        };
        let sidecar_answer = self
            .bal
            .sidecar_status
            .filter(|_| by == CutBy::App && sidecar_up);
        for &r in &inflight {
            let c = self.reqs[r as usize].conn;
            if c != NONE {
                self.conns[c as usize].at_server = false;
                self.reqs[r as usize].conn = NONE;
                self.eager_after_close(q, c, now);
                self.client_drop(c, now);
            }
            match sidecar_answer {
                Some(status) => {
                    // The sidecar's response reaches the client one hop back, or two through
                    // an L7 proxy, which passes a response through (no retry).
                    let hops = if self.bal.kind == BalancerKind::L7 {
                        2
                    } else {
                        1
                    };
                    self.finish(
                        q,
                        r,
                        status,
                        Some(Mechanism::KilledInFlight),
                        now + hops * self.ow,
                    );
                }
                None => self.attempt_failed(
                    q,
                    r,
                    Outcome::Reset,
                    Mechanism::KilledInFlight,
                    now + self.ow,
                ),
            }
        }
        debug_assert!(self.pods[p as usize].inflight.is_empty());
        // Idle connections: the client learns of the close one hop later (a request already on
        // its way is a keep-alive race).
        while let Some(&c) = self.pods[p as usize].conns.last() {
            self.server_close(c, now);
            self.eager_after_close(q, c, now);
            self.stream_closed(q, c, now, "reset");
        }
    }

    /// The process exits (naive exit, end of drain, guardian, SIGKILL).
    pub(super) fn exit(&mut self, q: &mut Scheduler<Ev>, p: u32, now: u64, code: i32) {
        if self.pods[p as usize].phase == Phase::Gone {
            return;
        }
        {
            let pod = &mut self.pods[p as usize];
            pod.steps.push((ShutdownStep::Exited, now));
            pod.exit_code = Some(code);
        }
        self.kill_data_path(q, p, now, CutBy::App);
        self.kill_workers(q, p);
        let teardown = dur(self.plan.shutdown.sandbox_teardown);
        self.leaves_start(p);
        let pod = &mut self.pods[p as usize];
        pod.phase = Phase::Gone;
        pod.listening = false;
        pod.net_gone_at = now.saturating_add(teardown);
        for ev in [
            pod.ev_probe.take(),
            pod.ev_sigterm.take(),
            pod.ev_sigkill.take(),
            pod.ev_drain.take(),
            pod.ev_guardian.take(),
            pod.ev_sidecar.take(),
            pod.ev_app.take(),
        ]
        .into_iter()
        .flatten()
        {
            q.cancel(ev);
        }
        // Upstream connections the proxy still holds idle are closed by the exit too.
        let idle = std::mem::take(&mut self.pods[p as usize].up_idle);
        for c in idle {
            self.free_conn(c);
        }
        self.slice_set(q, p, Ep::Absent, now);
        self.reconcile(q, now);
    }
}
