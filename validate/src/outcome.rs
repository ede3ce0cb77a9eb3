//! The outcome classes are the measurement contract's ([`measure::Outcome`]), re-exported so the
//! generator, the analyzer and the simulator use one definition.
pub use measure::Outcome;
