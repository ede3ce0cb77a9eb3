//! The CLI's integration tests in one binary (the whole CLI is linked once, not once a file):
//! the subcommands through `fleetsim::run` on temporary folders, and the binary itself as a
//! process (exit codes, standard input, signals). Loopback traffic only.

mod check_cli;
mod cli;
mod hostile;
mod load_thresholds;
mod signals;

use std::path::Path;

use clap::Parser;
use fleetsim::{Opts, run};

/// Runs the CLI in this process with `args` (without the program name).
fn fleetsim(args: &[&str]) -> anyhow::Result<()> {
    let mut argv = vec!["fleetsim"];
    argv.extend_from_slice(args);
    run(Opts::try_parse_from(argv)?)
}

/// A path as the `&str` an argument vector takes.
fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}
