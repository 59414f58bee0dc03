//! MES traceability: product models, processes, lots, WIP items, serials, process data, genealogy and audit.
//!
//! One module per resource; each owns its SQL and exposes `router()`. Handlers stay thin: parse, authorize, call
//! the domain function, map the result.

pub mod audit_logs;
pub mod auth;
pub mod dashboard;
pub mod demo;
pub mod equipment;
pub mod flow;
mod http;
mod keyset;
pub mod lots;
pub mod numbers;
pub mod process_data;
pub mod processes;
pub mod product_models;
pub mod production_lines;
pub mod scan;
pub mod session;
pub mod state;
pub mod trace;
pub mod units;
pub mod users;
mod validate;

use neurohub_core::AppState;
use utoipa_axum::router::OpenApiRouter;

/// All MES routes, to be nested under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(product_models::router())
        .merge(processes::router())
        .merge(production_lines::router())
        .merge(equipment::router())
        .merge(lots::router())
        .merge(units::router())
        .merge(process_data::router())
        .merge(scan::router())
        .merge(trace::router())
        .merge(dashboard::router())
        .merge(audit_logs::router())
}
