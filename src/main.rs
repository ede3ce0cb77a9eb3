use std::process::ExitCode;

use clap::Parser;
use fleetsim::Opts;

/// jemalloc, not glibc's allocator: the load generator allocates and frees a few small blocks
/// per request (its task, hyper's buffers), and with glibc that cost 4-7% more CPU per request
/// at 20,000-50,000 requests/s (docs/loadgen.md, "Third look"); `fleetsim demo`'s results are
/// byte-identical and its peak memory lower (14.3 MiB against 16.0).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    match fleetsim::run(Opts::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(c) = e.downcast_ref::<fleetsim::CheckExit>() {
                if !c.message.is_empty() {
                    eprintln!("error: {}", c.message);
                }
                return ExitCode::from(c.code);
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
