//! fleetsim's real service: one slow HTTP endpoint and one PostgreSQL queue worker, with every
//! shutdown lever of the design brief switchable. See `docs/real-service.md`.

pub mod backoff;
pub mod budget;
pub mod config;
pub mod db;
pub mod http;
pub mod lifecycle;
pub mod metrics;
pub mod shutdown;
pub mod worker;

pub use config::{Config, EXIT_CONFIG, EXIT_DRAIN_INCOMPLETE, EXIT_GUARDIAN, EXIT_NOT_DRAINED};
