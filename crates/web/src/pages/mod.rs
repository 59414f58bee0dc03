//! The pages, one module per area. Each module owns its routes and its message table; this file only lists
//! them. Signed-in routes pass the session layer, public ones do not; both pass the CSRF guard.

use axum::routing::get;
use axum::Router;

use crate::WebState;

pub mod account;
pub mod admin;
pub mod approvals;
pub mod atp_config;
pub mod chart;
pub mod dashboard;
pub mod lots;
pub mod recall;
pub mod sites;
pub mod station;
pub mod submission;
pub mod trace;

/// Every message table ([`crate::i18n`]).
pub const MESSAGES: &[crate::i18n::Messages] = &[
    crate::layout::MESSAGES,
    account::MESSAGES,
    station::MESSAGES,
    dashboard::MESSAGES,
    lots::MESSAGES,
    trace::MESSAGES,
    recall::MESSAGES,
    chart::MESSAGES,
    admin::MESSAGES,
    admin::users::MESSAGES,
    admin::members::MESSAGES,
    admin::models::MESSAGES,
    admin::processes::MESSAGES,
    admin::lines::MESSAGES,
    admin::equipment::MESSAGES,
    admin::audit::MESSAGES,
    approvals::MESSAGES,
    submission::MESSAGES,
    atp_config::MESSAGES,
    sites::MESSAGES,
];

pub fn signed_in_routes() -> Router<WebState> {
    Router::new()
        .route("/ui", get(account::home))
        .merge(account::routes())
        .merge(station::routes())
        .merge(dashboard::routes())
        .merge(lots::routes())
        .merge(trace::routes())
        .merge(recall::routes())
        .merge(chart::routes())
        .merge(admin::routes())
        .merge(approvals::routes())
        .merge(submission::routes())
        .merge(atp_config::routes())
        .merge(sites::routes())
}

pub fn public_routes() -> Router<WebState> {
    account::public_routes()
}
