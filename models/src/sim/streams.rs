//! Long-lived streams (`[streams]`): each one a connection held open from the run's start, ended
//! cleanly by a draining pod or cut by a dying one, then reopened by its client with the live
//! generator's backoff. What each client saw is a list of [`measure::StreamEvent`]s, summarized
//! by the measurement contract's own [`measure::summarize_streams`].

use measure::{StreamEvent, StreamEventKind};

use super::*;
use crate::config::StreamReconnect;

/// One stream as its client holds it.
#[derive(Debug, Clone, Copy)]
pub(super) struct SimStream {
    /// The connection of the current attempt or open stream (NONE between attempts).
    conn: u32,
    /// The response's headers have arrived: the stream is open.
    open: bool,
    /// Failed attempts since the last open (the backoff's exponent).
    failures: u32,
}

impl Default for SimStream {
    fn default() -> Self {
        SimStream {
            conn: NONE,
            open: false,
            failures: 0,
        }
    }
}

impl World<'_> {
    /// Hops between the client and a pod: one through kube-proxy, two through an L7 proxy.
    fn stream_hops(&self) -> u64 {
        match self.bal.kind {
            BalancerKind::L4 => 1,
            BalancerKind::L7 => 2,
        }
    }

    fn stream_event(&mut self, id: u32, at: u64, kind: StreamEventKind, why: &str) {
        self.stream_events.push(StreamEvent {
            at_ns: at as i64,
            id: u64::from(id),
            kind,
            why: why.to_string(),
        });
    }

    /// Stream `id` tries to open at `now`: the balancer picks a pod as for a new connection.
    pub(super) fn on_stream_connect(&mut self, q: &mut Scheduler<Ev>, id: u32, now: u64) {
        if self.load_stopped {
            return;
        }
        let hops = self.stream_hops();
        let Some(p) = self.pick(NONE) else {
            // No endpoint: kube-proxy rejects the SYN; an L7 proxy answers its status.
            let (why, seen) = match self.bal.kind {
                BalancerKind::L4 => (Outcome::Refused, now + self.ow),
                BalancerKind::L7 => (Outcome::Http503, now + self.rtt + 2 * self.ow),
            };
            self.stream_failed(q, id, why, seen);
            return;
        };
        let c = self.new_conn(p, self.bal.kind == BalancerKind::L7);
        self.conns[c as usize].stream = id;
        self.streams[id as usize].conn = c;
        let generation = self.conns[c as usize].generation;
        // L7: the client's handshake with the proxy and its request, then the proxy's SYN.
        let arrive = match self.bal.kind {
            BalancerKind::L4 => now + self.ow,
            BalancerKind::L7 => now + self.rtt + hops * self.ow,
        };
        q.schedule_at(
            SimTime::from_nanos(arrive),
            Ev::StreamArrive {
                id,
                conn: c,
                generation,
            },
        );
    }

    /// The attempt's SYN reaches its pod: accepted (the stream opens at the client once the
    /// handshake, the request and the response's headers have crossed), or refused /
    /// unanswered (a failed attempt; an L7 proxy first tries its other upstreams).
    pub(super) fn on_stream_arrive(&mut self, q: &mut Scheduler<Ev>, id: u32, c: u32, now: u64) {
        let p = self.conns[c as usize].pod;
        let pod = &self.pods[p as usize];
        if pod.accepts_new() {
            let idx = pod.conns.len() as u32;
            self.pods[p as usize].conns.push(c);
            let conn = &mut self.conns[c as usize];
            conn.server_open = true;
            conn.pod_idx = idx;
            conn.opened_at = now;
            let generation = conn.generation;
            // SYN-ACK back, the request on, the headers back to the client.
            let open = now + 2 * self.ow + self.stream_hops() * self.ow;
            q.schedule_at(
                SimTime::from_nanos(open),
                Ev::StreamOpened {
                    id,
                    conn: c,
                    generation,
                },
            );
            return;
        }
        let unanswered = now >= pod.net_gone_at;
        self.streams[id as usize].conn = NONE;
        self.client_drop(c, now);
        let (outcome, at) = if unanswered {
            let timeout = match self.bal.kind {
                BalancerKind::L7 => dur(self.bal.connect_timeout),
                BalancerKind::L4 => dur(self.f.client.connect_timeout),
            };
            (Outcome::Timeout, (now - self.ow).saturating_add(timeout))
        } else {
            (Outcome::Refused, now + self.ow)
        };
        match self.bal.kind {
            BalancerKind::L4 => self.stream_failed(q, id, outcome, at),
            BalancerKind::L7 => {
                // The proxy answers the client with its status for the failed upstream (its
                // retries over other upstreams are not modelled for streams).
                let status = if outcome == Outcome::Timeout {
                    self.bal.timeout_status
                } else {
                    self.bal.refused_status
                };
                self.stream_failed(q, id, status, at + self.ow);
            }
        }
    }

    /// Stream `id`'s headers have reached its client: open.
    pub(super) fn on_stream_opened(&mut self, id: u32, c: u32, now: u64) {
        let s = &mut self.streams[id as usize];
        if s.conn != c || !self.conns[c as usize].server_open {
            return;
        }
        s.open = true;
        s.failures = 0;
        self.stream_event(id, now, StreamEventKind::Open, "");
    }

    /// An attempt of stream `id` failed with `outcome`, seen by its client at `seen`: recorded,
    /// and the next attempt scheduled after the backoff.
    fn stream_failed(&mut self, q: &mut Scheduler<Ev>, id: u32, outcome: Outcome, seen: u64) {
        self.stream_event(id, seen, StreamEventKind::Fail, outcome.as_str());
        let s = &mut self.streams[id as usize];
        s.failures = s.failures.saturating_add(1);
        let failures = s.failures;
        self.stream_retry(q, id, seen, failures);
    }

    fn stream_retry(&mut self, q: &mut Scheduler<Ev>, id: u32, seen: u64, failures: u32) {
        let st = self.f.streams.as_ref().expect("streams exist");
        let wait = match st.reconnect {
            StreamReconnect::Immediate if failures == 0 => 0,
            StreamReconnect::Immediate => 1_000_000,
            StreamReconnect::Backoff => {
                let cap = dur(st.base())
                    .saturating_mul(1u64 << failures.min(20))
                    .min(dur(st.max()));
                let rng = self.stream_rng.as_mut().expect("streams exist");
                if cap == 0 { 0 } else { rng.below(cap + 1) }
            }
        };
        let now = q.now().as_nanos();
        q.schedule_at(
            SimTime::from_nanos(seen.saturating_add(wait).max(now)),
            Ev::StreamConnect { id },
        );
    }

    /// The server closed connection `c` at `now`: if it carried a stream, its client sees the
    /// stream end (`why`: `eof` for a clean end, `reset` for a cut) one hop per proxy later,
    /// drops the connection and reconnects.
    pub(super) fn stream_closed(&mut self, q: &mut Scheduler<Ev>, c: u32, now: u64, why: &str) {
        let id = self.conns[c as usize].stream;
        if id == NONE || self.streams[id as usize].conn != c {
            return;
        }
        let seen = now + self.stream_hops() * self.ow;
        let open = self.streams[id as usize].open;
        self.streams[id as usize] = SimStream {
            conn: NONE,
            open: false,
            failures: self.streams[id as usize].failures,
        };
        self.free_conn(c);
        if self.load_stopped {
            return;
        }
        if open {
            // A stream that was open: a drop; the backoff starts again from its base.
            self.stream_event(id, seen, StreamEventKind::Drop, why);
            self.streams[id as usize].failures = 0;
            self.stream_retry(q, id, seen, 0);
        } else {
            // Closed before its headers arrived: a failed attempt.
            self.stream_failed(q, id, Outcome::Reset, seen);
        }
    }

    /// The load stopped: every client closes its stream (the generator's `end`).
    pub(super) fn end_streams(&mut self, q: &mut Scheduler<Ev>, now: u64) {
        for id in 0..self.streams.len() as u32 {
            let c = self.streams[id as usize].conn;
            if c != NONE {
                let p = self.conns[c as usize].pod;
                self.streams[id as usize].conn = NONE;
                self.client_drop(c, now);
                self.try_finish_drain(q, p, now);
            }
            self.stream_event(id, now, StreamEventKind::End, "");
        }
    }
}
