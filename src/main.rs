use std::process::ExitCode;

use clap::Parser;
use fleetsim::Opts;

fn main() -> ExitCode {
    keep_freed_memory();
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

/// Every simulation allocates and frees a few MB of vectors. By default glibc hands large
/// blocks back to the kernel (munmap, heap trim) on each free, and the page faults of taking
/// them again cost more than the simulation itself (measured: 100 seeds of `after` on one
/// thread, 1.6 s with the defaults, 0.5 s with these). Keep freed memory for reuse instead.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only changes allocator thresholds; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}
