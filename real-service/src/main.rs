//! `fleetsim-service`: the real service's binary. It reads its settings from `FLEETSIM_*`
//! environment variables and flags ([`real_service::Config`]), serves until SIGTERM, shuts down
//! by the levers switched on, and exits with one of the documented exit codes.

fn main() {
    std::process::exit(real_service::main_entry());
}
