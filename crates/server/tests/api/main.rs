//! HTTP-level tests through the real router and server over loopback, one fresh database per test.

mod helpers;

mod atp_config;
mod atp_delegation;
mod atp_flow;
mod atp_generate;
mod atp_isolation;
mod atp_roles;
mod atp_sites;
mod atp_sla;
mod atp_support;
mod audit_logs;
mod audit_trail;
mod auth;
mod dashboard;
mod flow;
mod hostile;
mod hostile_corpus;
mod lots;
mod masters;
mod openapi_contract;
mod operations;
mod problem_types;
mod process_data;
mod proxies;
mod revocation;
mod role_matrix;
mod tls;
mod trace;
mod units;
mod users;
mod verify_runtime;
