//! The web UI end to end: the real server over loopback, a fresh database per test, and a real headless
//! Chromium driven over WebDriver ([`browser`]). Every page visited is saved as a screenshot under
//! `target/ui-screenshots/`.

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

mod browser;
mod common;

mod admin;
mod approvals;
mod auth;
mod http;
mod lists;
mod station;
