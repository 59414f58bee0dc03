#![no_main]
//! `cargo +nightly fuzz run numbers`: see neurohub_mes::fuzz::numbers.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| neurohub_mes::fuzz::numbers(data));
