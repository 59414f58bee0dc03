#![no_main]
//! `cargo +nightly fuzz run criteria`: see neurohub_mes::fuzz::criteria.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| neurohub_mes::fuzz::criteria(data));
