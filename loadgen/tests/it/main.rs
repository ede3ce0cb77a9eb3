//! The generator and the analyzer against real servers on loopback, in one test binary.

#![allow(dead_code)]

mod common;
mod generator;
mod hostile_records;
mod outcomes;
mod overload;
mod properties;
mod records;
mod retries;
