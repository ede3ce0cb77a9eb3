//! Clients and balancers: arrivals, dispatch through the L4 or L7 balancer's pick, the keep-alive
//! pool, and connection bookkeeping on both ends.

use super::*;

impl World<'_> {
    pub(super) fn on_arrival(&mut self, q: &mut Scheduler<Ev>, now: u64) {
        self.arrival_ev = None;
        if self.load_stopped {
            return;
        }
        let r = self.new_req(now, NONE);
        self.dispatch(q, r, now);
        self.arrival_k += 1;
        let next = match self.f.load.arrivals {
            Arrivals::Constant => (self.arrival_k as f64 * 1e9 / self.f.load.rate).round() as u64,
            Arrivals::Poisson => {
                let u = self.rng.arrivals.unit();
                let gap = -(1.0 - u).ln() / self.f.load.rate;
                now.saturating_add((gap * 1e9).round() as u64)
            }
        };
        self.arrival_ev = Some(q.schedule_at(SimTime::from_nanos(next.max(now)), Ev::Arrival));
    }

    pub(super) fn new_req(&mut self, now: u64, worker: u32) -> u32 {
        self.sent += 1;
        self.live_reqs += 1;
        let req = Req {
            intended: now,
            pod: NONE,
            conn: NONE,
            pod_idx: NONE,
            worker,
            exclude: NONE,
            attempts: 0,
            l7_tries: 0,
            new_conn: false,
            new_up: false,
            shed: false,
            upstream_sent: now,
            front_sent: now,
            front_tries: 0,
            done: None,
            client: self.next_client,
        };
        // Request n goes to keep-alive client n % K (as `fleetsim load --mode keepalive`).
        self.next_client = (self.next_client + 1) % self.client_idle.len() as u32;
        match self.free_reqs.pop() {
            Some(i) => {
                self.reqs[i as usize] = req;
                i
            }
            None => {
                self.reqs.push(req);
                (self.reqs.len() - 1) as u32
            }
        }
    }

    /// Request `r` starts a new attempt: no pod, connection or excluded upstream yet, the L7
    /// hop's own retries counted afresh.
    pub(super) fn new_attempt(&mut self, r: u32) {
        let req = &mut self.reqs[r as usize];
        req.pod = NONE;
        req.conn = NONE;
        req.exclude = NONE;
        req.l7_tries = 0;
        req.new_up = false;
    }

    /// One attempt of request `r`, sent by the client at `now`.
    pub(super) fn dispatch(&mut self, q: &mut Scheduler<Ev>, r: u32, now: u64) {
        self.new_attempt(r);
        match (self.bal.kind, self.f.client.connection) {
            (BalancerKind::L4, ConnectionStyle::New) => match self.pick(NONE) {
                None => self.attempt_failed(q, r, Outcome::Refused, Mechanism::NoEndpoints, now),
                Some(p) => {
                    let req = &mut self.reqs[r as usize];
                    req.pod = p;
                    req.new_conn = true;
                    q.schedule_at(
                        SimTime::from_nanos(now.saturating_add(self.ow)),
                        Ev::ConnArrive(r),
                    );
                }
            },
            (BalancerKind::L4, ConnectionStyle::Keepalive) => self.pool_acquire(q, r, now),
            (BalancerKind::L7, style) => {
                let mut at = now + self.ow;
                if style == ConnectionStyle::New {
                    self.reqs[r as usize].new_conn = true;
                    at += self.rtt;
                }
                if self.front.is_some() {
                    // The client's request reaches the front at `at`; the front sends it on at
                    // once, over its kept-alive connection to the inner hop, one hop more.
                    let req = &mut self.reqs[r as usize];
                    req.front_sent = at;
                    req.front_tries = 0;
                    at += self.ow;
                }
                self.l7_forward(q, r, now, at);
            }
        }
    }

    /// A uniform pick among the view's ready endpoints, avoiding `exclude` when there is a
    /// choice; kube-proxy falls back to serving-terminating endpoints when none is ready.
    pub(super) fn pick(&mut self, exclude: u32) -> Option<u32> {
        let list = if !self.ready_view.is_empty() {
            &self.ready_view
        } else if self.bal.terminating_fallback {
            &self.fallback_view
        } else {
            return None;
        };
        match list.len() {
            0 => None,
            1 => Some(list[0]),
            // `exclude` is NONE for every first attempt: skip the scan (O(pods) per request).
            n => match (exclude != NONE)
                .then(|| list.iter().position(|&x| x == exclude))
                .flatten()
            {
                Some(ex) => {
                    let i = self.rng.lb.below(n as u64 - 1) as usize;
                    Some(list[if i >= ex { i + 1 } else { i }])
                }
                None => Some(list[self.rng.lb.below(n as u64) as usize]),
            },
        }
    }

    /// Keep-alive client: reuse the client's idle connection, or open a new one at once (the
    /// live generator never waits for a busy connection).
    pub(super) fn pool_acquire(&mut self, q: &mut Scheduler<Ev>, r: u32, now: u64) {
        let k = self.reqs[r as usize].client as usize;
        let c = self.client_idle[k];
        if c != NONE {
            self.server_idle_close(q, c, now);
            let conn = self.conns[c as usize];
            let known_closed = conn.closed_at != NEVER && conn.closed_at + self.ow <= now;
            let timed_out =
                conn.free_at <= now && now - conn.free_at > dur(self.f.client.idle_timeout);
            if known_closed || timed_out {
                // The client saw the server's FIN (or its own idle timer fired): drop it.
                self.client_idle[k] = NONE;
                if conn.server_open {
                    self.server_close(c, now);
                }
                self.free_conn(c);
            } else if conn.free_at <= now {
                self.client_idle[k] = NONE;
                self.conns[c as usize].free_at = NEVER;
                let req = &mut self.reqs[r as usize];
                req.conn = c;
                req.pod = conn.pod;
                q.schedule_at(
                    SimTime::from_nanos(now.saturating_add(self.ow)),
                    Ev::ReqArrive(r),
                );
                return;
            }
        }
        match self.pick(NONE) {
            None => self.attempt_failed(q, r, Outcome::Refused, Mechanism::NoEndpoints, now),
            Some(p) => {
                let c = self.new_conn(p, false);
                self.conns[c as usize].client = self.reqs[r as usize].client;
                let req = &mut self.reqs[r as usize];
                req.conn = c;
                req.pod = p;
                req.new_conn = true;
                q.schedule_at(
                    SimTime::from_nanos(now.saturating_add(self.ow)),
                    Ev::ConnArrive(r),
                );
            }
        }
    }

    /// The L7 proxy received request `r` (decided at `now`, upstream send at `at`).
    pub(super) fn l7_forward(&mut self, q: &mut Scheduler<Ev>, r: u32, now: u64, at: u64) {
        let exclude = self.reqs[r as usize].exclude;
        let Some(p) = self.pick(exclude) else {
            self.finish(
                q,
                r,
                Outcome::Http503,
                Some(Mechanism::NoEndpoints),
                at + self.ow,
            );
            return;
        };
        self.reqs[r as usize].upstream_sent = at;
        self.reqs[r as usize].pod = p;
        let keepalive = dur(self.bal.upstream_keepalive);
        let mut i = self.pods[p as usize].up_idle.len();
        while i > 0 {
            i -= 1;
            let c = self.pods[p as usize].up_idle[i];
            self.server_idle_close(q, c, now);
            let conn = self.conns[c as usize];
            let known_closed = conn.closed_at != NEVER && conn.closed_at + self.ow <= now;
            let timed_out = conn.free_at <= now && now - conn.free_at > keepalive;
            if known_closed || timed_out {
                self.pods[p as usize].up_idle.remove(i);
                if conn.server_open {
                    self.server_close(c, now);
                }
                self.free_conn(c);
                continue;
            }
            if conn.free_at <= now {
                self.pods[p as usize].up_idle.remove(i);
                self.conns[c as usize].free_at = NEVER;
                self.reqs[r as usize].conn = c;
                q.schedule_at(SimTime::from_nanos(at + self.ow), Ev::ReqArrive(r));
                return;
            }
        }
        let c = self.new_conn(p, true);
        let req = &mut self.reqs[r as usize];
        req.conn = c;
        req.new_up = true;
        q.schedule_at(SimTime::from_nanos(at + self.ow), Ev::ConnArrive(r));
    }

    pub(super) fn new_conn(&mut self, pod: u32, upstream: bool) -> u32 {
        let conn = Conn {
            pod,
            pod_idx: NONE,
            generation: 0,
            upstream,
            live: true,
            server_open: false,
            closed_at: NEVER,
            close_after: false,
            at_server: false,
            free_at: NEVER,
            opened_at: 0,
            served: 0,
            client: NONE,
            stream: NONE,
        };
        match self.free_conns.pop() {
            Some(i) => {
                let generation = self.conns[i as usize].generation.wrapping_add(1);
                self.conns[i as usize] = Conn { generation, ..conn };
                i
            }
            None => {
                self.conns.push(conn);
                (self.conns.len() - 1) as u32
            }
        }
    }

    pub(super) fn free_conn(&mut self, c: u32) {
        let conn = &mut self.conns[c as usize];
        debug_assert!(conn.live);
        debug_assert!(!conn.server_open);
        conn.live = false;
        self.free_conns.push(c);
    }

    /// `server.idle_timeout`: the server closed idle connection `c` when it had been idle that
    /// long (evaluated lazily, when the connection is next looked at). The server's idle time
    /// starts when it sent the last response, one hop before the client had it (`free_at`).
    pub(super) fn server_idle_close(&mut self, q: &mut Scheduler<Ev>, c: u32, now: u64) {
        let Some(idle) = self.plan.server.idle_timeout else {
            return;
        };
        let conn = self.conns[c as usize];
        if !conn.server_open || conn.at_server || conn.free_at == NEVER {
            return;
        }
        let closed = conn
            .free_at
            .saturating_sub(self.ow)
            .saturating_add(dur(idle));
        if closed <= now {
            self.server_close(c, closed);
            self.eager_after_close(q, c, closed.max(q.now().as_nanos()));
        }
    }

    /// The server closes connection `c` at `now` (it leaves the pod's list).
    pub(super) fn server_close(&mut self, c: u32, now: u64) {
        let conn = self.conns[c as usize];
        if !conn.server_open {
            return;
        }
        let pod = &mut self.pods[conn.pod as usize];
        let idx = conn.pod_idx as usize;
        pod.conns.swap_remove(idx);
        if let Some(&moved) = pod.conns.get(idx) {
            self.conns[moved as usize].pod_idx = idx as u32;
        }
        let conn = &mut self.conns[c as usize];
        conn.server_open = false;
        conn.pod_idx = NONE;
        conn.closed_at = now;
    }

    /// The client side gives up connection `c` after a failure on it.
    pub(super) fn client_drop(&mut self, c: u32, now: u64) {
        if c == NONE {
            return;
        }
        let conn = self.conns[c as usize];
        if conn.server_open {
            self.server_close(c, now);
        }
        self.free_conn(c);
    }
}

impl World<'_> {
    /// Connection `c` is still the one scheduled as `generation`.
    pub(super) fn conn_is(&self, c: u32, generation: u32) -> bool {
        let conn = &self.conns[c as usize];
        conn.live && conn.generation == generation
    }

    /// `client.eager_reconnect`: the server closed (or reset) keep-alive connection `c` at
    /// `now`. Its client sees the FIN one hop later and reopens at once, as the live
    /// generator's connection driver does on `eof` or `error:*` (never after its own close).
    /// Nothing happens once the load has stopped (the generator's stop flag).
    /// With `client.eager_reopen_rate`, the reopen goes through the one serial opener: it
    /// starts when the client has seen the close and the opener has finished the reopens handed
    /// to it before (first come, first served), and its SYN leaves one cost later.
    pub(super) fn eager_after_close(&mut self, q: &mut Scheduler<Ev>, c: u32, now: u64) {
        if !self.f.client.eager_reconnect || self.load_stopped {
            return;
        }
        let conn = &self.conns[c as usize];
        if conn.upstream || conn.client == NONE {
            return;
        }
        let client = conn.client;
        let seen = now.saturating_add(self.ow);
        let at = match self.reopen_cost {
            None => seen,
            Some(cost) => {
                let done = seen.max(self.opener_free).saturating_add(cost);
                self.opener_free = done;
                done
            }
        };
        q.schedule_at(SimTime::from_nanos(at), Ev::EagerReopen { client });
    }

    /// One reopen attempt: the balancer picks a pod as for any new connection. No endpoint
    /// (kube-proxy rejects) is a failed reopen: not retried, not counted.
    pub(super) fn on_eager_reopen(&mut self, q: &mut Scheduler<Ev>, client: u32, now: u64) {
        if self.load_stopped {
            return;
        }
        let Some(p) = self.pick(NONE) else {
            return;
        };
        let c = self.new_conn(p, false);
        self.conns[c as usize].client = client;
        let generation = self.conns[c as usize].generation;
        q.schedule_at(
            SimTime::from_nanos(now.saturating_add(self.ow)),
            Ev::EagerConnArrive {
                conn: c,
                generation,
            },
        );
    }

    /// The reopen's SYN reaches its pod: accepted (the handshake completes at the client one
    /// hop later) or refused / unanswered (a failed reopen: the generator records
    /// `connect_fail` and does not retry; the next request connects as usual).
    pub(super) fn on_eager_conn_arrive(&mut self, q: &mut Scheduler<Ev>, c: u32, now: u64) {
        let p = self.conns[c as usize].pod;
        let pod = &mut self.pods[p as usize];
        if !pod.accepts_new() {
            self.client_drop(c, now);
            return;
        }
        let idx = pod.conns.len() as u32;
        pod.conns.push(c);
        let conn = &mut self.conns[c as usize];
        conn.server_open = true;
        conn.pod_idx = idx;
        conn.opened_at = now;
        let generation = conn.generation;
        q.schedule_at(
            SimTime::from_nanos(now.saturating_add(self.ow)),
            Ev::EagerOpened {
                conn: c,
                generation,
            },
        );
    }

    /// The reopen's handshake completed at the client at `now`: counted in the reconnect curve
    /// (the `open` record with `why: "eager"`). It joins the client's idle list only if the
    /// list is empty (`put_idle` with one idle connection per client); a list still holding the
    /// connection the server closed (the client drops that one only when a request looks at
    /// it) or one a request has returned meanwhile is full, and the client closes the reopened
    /// connection at once.
    pub(super) fn on_eager_opened(&mut self, q: &mut Scheduler<Ev>, c: u32, now: u64) {
        self.eager_opens.push(now);
        let conn = self.conns[c as usize];
        if !conn.server_open {
            // The server closed it during the handshake: that close scheduled the next reopen.
            self.free_conn(c);
            return;
        }
        let k = conn.client as usize;
        if self.client_idle[k] != NONE {
            self.server_close(c, now);
            self.free_conn(c);
            return;
        }
        self.client_idle[k] = c;
        self.conns[c as usize].free_at = now;
        // The server's idle time starts at its accept (it waits for the first request).
        self.schedule_idle_check(q, c, conn.opened_at);
    }

    /// With `client.eager_reconnect` and `server.idle_timeout`, the server's idle close of a
    /// client connection idle since `idle_since` (server time) is an event, so that its client
    /// sees it when it happens (without eager reconnects the model finds it lazily, when the
    /// connection is next looked at, with the same result).
    pub(super) fn schedule_idle_check(&mut self, q: &mut Scheduler<Ev>, c: u32, idle_since: u64) {
        if !self.f.client.eager_reconnect {
            return;
        }
        let Some(idle) = self.plan.server.idle_timeout else {
            return;
        };
        let generation = self.conns[c as usize].generation;
        q.schedule_at(
            SimTime::from_nanos(idle_since.saturating_add(dur(idle))),
            Ev::EagerIdleCheck {
                conn: c,
                generation,
            },
        );
    }
}
