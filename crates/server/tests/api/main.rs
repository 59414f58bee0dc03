//! HTTP-level tests through the real router and server over loopback, one fresh database per test.

mod helpers;

mod atp_config;
mod atp_isolation;
mod atp_roles;
mod atp_sites;
mod atp_support;
mod audit_logs;
mod auth;
mod dashboard;
mod flow;
mod lots;
mod masters;
mod operations;
mod process_data;
mod role_matrix;
mod trace;
mod units;
mod users;
