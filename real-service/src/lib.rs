//! fleetsim's real service: one slow HTTP endpoint and one PostgreSQL queue worker, with every
//! shutdown lever of the design brief switchable. See `docs/real-service.md`.
//!
//! The binary `fleetsim-service` is [`main_entry`]: it reads the [`Config`], serves, runs the
//! queue worker, and on SIGTERM shuts down by the levers switched on, exiting with one of the
//! exit codes below. Modules are private; the tests reach the service as a process, so the
//! library exports only that entry point, the settings, the exit codes and [`MAX_JOB_BODY`].

mod backoff;
mod budget;
mod config;
mod db;
mod http;
mod lifecycle;
mod metrics;
mod shutdown;
mod worker;

pub use config::{
    Config, ConfigError, EXIT_CONFIG, EXIT_DRAIN_INCOMPLETE, EXIT_GUARDIAN, EXIT_NOT_DRAINED,
};
pub use http::MAX_JOB_BODY;
pub use shutdown::main_entry;
