#![no_main]
//! `cargo +nightly fuzz run sites_csv`: see neurohub_atp::fuzz::sites_csv.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| neurohub_atp::fuzz::sites_csv(data));
