//! MES traceability: product models, processes, lots, WIP items, serials, process data, genealogy and audit.
//!
//! One module per resource; each owns its SQL and exposes `router()`. Accounts, sign-in and the audit-log reader
//! are the shared `neurohub-identity` crate's; this crate never depends on the ATP. Handlers stay thin: parse, authorize, call
//! the domain function, map the result.

pub mod constraints;
pub mod dashboard;
pub mod demo;
pub mod equipment;
pub mod flow;
pub mod fuzz;
pub mod generate;
pub mod lots;
pub mod numbers;
pub mod policy;
pub mod process_data;
pub mod processes;
pub mod product_models;
pub mod production_lines;
pub mod scan;
pub mod settings;
pub mod state;
pub mod trace;
pub mod units;

use neurohub_core::AppState;
use utoipa_axum::router::OpenApiRouter;

/// All MES routes, to be nested under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
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
}
