//! Stand-alone entry point for manual runs and scripts; the user-facing CLI is `fleetsim load` /
//! `fleetsim analyze`, which call the same library functions.
use clap::Parser;

#[derive(Parser)]
#[command(name = "validate-cli")]
enum Cmd {
    /// Open-loop load generator (see `validate::load::LoadOpts`).
    Load(validate::load::LoadOpts),
    /// Deploy-window analyzer (see `validate::analyze::AnalyzeOpts`).
    Analyze(validate::analyze::AnalyzeOpts),
    /// Roll the real service on a real cluster under load (see `validate::live::LiveOpts`).
    Live(validate::live::LiveOpts),
    /// Observed versus predicted, figure by figure (see `validate::report::ReportOpts`).
    Report(validate::report::ReportOpts),
    /// A trivial HTTP server for benchmarks: answers every request `200 ok` on one thread.
    TrivialServer {
        #[arg(long, default_value = "127.0.0.1:18080")]
        listen: std::net::SocketAddr,
    },
}

fn main() -> anyhow::Result<()> {
    match Cmd::parse() {
        Cmd::Load(o) => {
            let r = validate::load::run(o)?;
            println!("{}", serde_json::to_string(&r)?);
        }
        Cmd::Analyze(o) => {
            let r = validate::analyze::run(o)?;
            println!("{}", serde_json::to_string_pretty(&r.summary)?);
        }
        Cmd::Live(o) => {
            for dir in validate::live::run(o)? {
                println!("{}", dir.display());
            }
        }
        Cmd::Report(o) => {
            let checks = validate::report::run(o)?;
            let inside = checks.iter().filter(|c| c.all_inside()).count();
            println!(
                "{inside} of {} figures inside their predicted interval",
                checks.len()
            );
        }
        Cmd::TrivialServer { listen } => validate::trivial::serve_blocking(listen)?,
    }
    Ok(())
}
