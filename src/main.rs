use std::process::ExitCode;

use clap::Parser;
use fleetsim::Opts;

fn main() -> ExitCode {
    match fleetsim::run(Opts::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
