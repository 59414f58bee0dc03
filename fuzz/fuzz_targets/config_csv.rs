#![no_main]
//! `cargo +nightly fuzz run config_csv`: see neurohub_atp::fuzz::config_csv.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| neurohub_atp::fuzz::config_csv(data));
