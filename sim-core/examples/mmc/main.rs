//! The reference model that other simulators are compared against: Poisson arrivals at 80% load,
//! round-robin to single-capacity FIFO servers with exponential service (mean 1 s). See
//! `model.rs` for the model and the closed form its mean sojourn must match.
//!
//! ```text
//! cargo run --release -p sim-core --example mmc -- --servers 50 --arrivals 300000 --seed 7
//! ```
//!
//! Prints one line whose keys are stable (scripts parse it):
//! `completed=... sim_time_s=... wall_s=... events_per_s=... requests_per_s=... mean_sojourn_s=...`
//! where `wall_s` covers building and running the model, not process start-up.

use std::time::Instant;

use clap::Parser;
use sim_core::{SimDuration, Trace};

// The closed form in `model` is used by `tests/mmc_closed_form.rs`, not here.
#[allow(dead_code)]
mod model;

#[derive(Parser)]
#[command(about = "Round-robin load balancer over FIFO servers, on sim-core")]
struct Args {
    /// Servers behind the round-robin balancer.
    #[arg(long, default_value_t = 50)]
    servers: u32,
    /// Customers to generate.
    #[arg(long, default_value_t = 300_000)]
    arrivals: u64,
    /// Root seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Offered load per server (0 < load < 1).
    #[arg(long, default_value_t = 0.8)]
    load: f64,
}

fn main() {
    let args = Args::parse();
    let params = model::Params {
        servers: args.servers,
        arrivals: args.arrivals,
        load: args.load,
        mean_service: SimDuration::from_secs(1),
        seed: args.seed,
    };
    let started = Instant::now();
    let out = model::run(&params, &Trace::new());
    let wall = started.elapsed().as_secs_f64();
    println!(
        "completed={} sim_time_s={:.3} wall_s={:.6} events_per_s={:.0} requests_per_s={:.0} mean_sojourn_s={:.4}",
        out.completed,
        out.sim_time.as_secs_f64(),
        wall,
        out.events as f64 / wall,
        out.completed as f64 / wall,
        out.mean_sojourn_s,
    );
}
