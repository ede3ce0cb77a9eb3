//! The reference load-balancer model: Poisson arrivals, dispatched ROUND-ROBIN to `servers`
//! single-capacity FIFO servers with exponential service times.
//!
//! Shared by the `mmc` example and by `tests/mmc_closed_form.rs` (through `#[path]`), so the test
//! checks the very code the example runs. It is a plain queueing model: no HTTP, no Kubernetes.
//!
//! # Which closed form
//!
//! Round-robin is not random routing: server `i` gets arrivals `i, i + k, i + 2k, ...` (with
//! `k = servers`), so its interarrival time is the sum of `k` independent exponential gaps of the
//! total arrival rate `λ`, an Erlang-k distribution with mean `k/λ`, and distinct servers see
//! disjoint sets of gaps, so they are independent. Each server is therefore an `E_k/M/1` queue,
//! not an M/M/1 queue (that would be random routing) and not M/M/k (a shared queue).
//!
//! `E_k/M/1` is a GI/M/1 queue, whose sojourn time (wait plus service) is exponential with rate
//! `μ(1 − σ)`, so the mean sojourn is `1 / (μ(1 − σ))`, where `σ` is the unique root in (0, 1)
//! of `σ = A*(μ(1 − σ))` and `A*(s) = (λ / (λ + s))^k` is the Laplace–Stieltjes transform of the
//! Erlang-k interarrival time (Kleinrock, *Queueing Systems* vol. 1, §6.4). For 50 servers at
//! 80% load with mean service 1 s: `λ = 40/s`, `μ = 1/s`, `σ = 0.63485`, mean sojourn
//! `2.7386 s`; an M/M/1 formula would say 5 s.

use std::collections::VecDeque;

use sim_core::{Dist, Event, Scheduler, SimDuration, SimTime, Streams, Trace};

/// What to simulate.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub servers: u32,
    /// Customers to generate; the run ends when the last one has left.
    pub arrivals: u64,
    /// Offered load per server, `λ / (servers μ)`; must be below 1.
    pub load: f64,
    pub mean_service: SimDuration,
    pub seed: u64,
}

impl Params {
    /// The reference case: 50 servers, 300,000 arrivals, 80% load, mean service 1 s.
    pub(crate) fn reference(seed: u64) -> Params {
        Params {
            servers: 50,
            arrivals: 300_000,
            load: 0.8,
            mean_service: SimDuration::from_secs(1),
            seed,
        }
    }

    /// The total arrival rate λ, per second.
    pub(crate) fn arrival_rate(&self) -> f64 {
        self.load * f64::from(self.servers) / self.mean_service.as_secs_f64()
    }
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    pub completed: u64,
    /// When the last customer left.
    pub sim_time: SimTime,
    /// Events executed (arrivals plus departures).
    pub events: u64,
    /// Mean time from arrival to departure, in seconds.
    pub mean_sojourn_s: f64,
}

enum Ev {
    Arrival,
    Departure(u32),
}

impl Event for Ev {
    fn kind(&self) -> u32 {
        match self {
            Ev::Arrival => 0,
            Ev::Departure(_) => 1,
        }
    }
}

#[derive(Default)]
struct Server {
    /// Arrival time of the customer in service, if any.
    in_service: Option<SimTime>,
    /// Arrival times of the customers waiting, in FIFO order.
    waiting: VecDeque<SimTime>,
}

/// Runs the model once, recording into `trace`.
pub(crate) fn run(p: &Params, trace: &Trace) -> Outcome {
    assert!(p.servers > 0, "need at least one server");
    assert!(p.load > 0.0 && p.load < 1.0, "load must be in (0, 1)");
    let mut streams = Streams::new(p.seed, trace.clone());
    let mut arrival_rng = streams.stream("arrivals");
    let mut service_rng = streams.stream("service");
    let gaps = Dist::Exponential {
        mean: SimDuration::from_secs_f64(1.0 / p.arrival_rate()),
    }
    .sampler()
    .expect("a positive arrival rate");
    let service = Dist::Exponential {
        mean: p.mean_service,
    }
    .sampler()
    .expect("a positive mean service time");

    let mut servers: Vec<Server> = (0..p.servers).map(|_| Server::default()).collect();
    let mut next_server = 0u32;
    let (mut arrived, mut completed, mut sojourn_ns) = (0u64, 0u64, 0u128);

    let mut q = Scheduler::new(trace.clone());
    if p.arrivals > 0 {
        q.schedule_after(gaps.sample(&mut arrival_rng), Ev::Arrival);
    }
    q.run(|q, ev| match ev {
        Ev::Arrival => {
            arrived += 1;
            if arrived < p.arrivals {
                q.schedule_after(gaps.sample(&mut arrival_rng), Ev::Arrival);
            }
            let s = next_server;
            // Not `% servers`: an integer division per arrival showed up in profiles.
            next_server += 1;
            if next_server == p.servers {
                next_server = 0;
            }
            let server = &mut servers[s as usize];
            if server.in_service.is_none() {
                server.in_service = Some(q.now());
                q.schedule_after(service.sample(&mut service_rng), Ev::Departure(s));
            } else {
                server.waiting.push_back(q.now());
            }
        }
        Ev::Departure(s) => {
            let server = &mut servers[s as usize];
            let arrival = server
                .in_service
                .take()
                .expect("a departing server is busy");
            sojourn_ns += u128::from((q.now() - arrival).as_nanos());
            completed += 1;
            if let Some(next) = server.waiting.pop_front() {
                server.in_service = Some(next);
                q.schedule_after(service.sample(&mut service_rng), Ev::Departure(s));
            }
        }
    });
    Outcome {
        completed,
        sim_time: q.now(),
        events: q.executed(),
        mean_sojourn_s: if completed == 0 {
            0.0
        } else {
            sojourn_ns as f64 / completed as f64 / 1e9
        },
    }
}

/// The GI/M/1 root `σ = A*(μ(1 − σ))` for Erlang-`k` interarrival times of rate `lambda`
/// (the total arrival rate) and service rate `mu`: fixed-point iteration from 0, which increases
/// monotonically to the smallest root, the one in (0, 1) when `λ/(kμ) < 1`.
pub(crate) fn erlang_gi_m1_sigma(k: u32, lambda: f64, mu: f64) -> f64 {
    let mut sigma = 0.0f64;
    for _ in 0..100_000 {
        let next = (lambda / (lambda + mu * (1.0 - sigma))).powi(k as i32);
        if (next - sigma).abs() < 1e-15 {
            return next;
        }
        sigma = next;
    }
    sigma
}

/// Mean sojourn time in seconds of each server of the round-robin model: `E_k/M/1` with
/// `k = servers` (see the module docs).
pub(crate) fn closed_form_mean_sojourn_s(p: &Params) -> f64 {
    let mu = 1.0 / p.mean_service.as_secs_f64();
    let sigma = erlang_gi_m1_sigma(p.servers, p.arrival_rate(), mu);
    1.0 / (mu * (1.0 - sigma))
}
