#![no_main]
//! Any bytes through the scenario parser: TOML syntax, `extends` among the shipped files,
//! metadata, strict deserialization into `models::Fleet` and validation. It may reject the
//! input; it must never panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    scenarios::fuzz_parse(data);
});
