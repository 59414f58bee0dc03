//! ATP approval workflow (acceptance-test documents through multi-stage approvals), part 1: workspaces and their
//! members, sites, and the versioned per-workspace configuration with its masters (docs/atp.md); part 2, in
//! [`flow`]: submissions routed through staged approvals (docs/atp-flow.md).
//!
//! Every workspace route is `/workspaces/{ws}/…` and runs inside the workspace: the [`member::Member`] extractor
//! checks membership and member role before the body is read and opens the request's transaction with the
//! workspace context set, so migration 0006's row-level-security policies admit exactly that workspace's rows.

pub mod config;
pub mod constraints;
pub mod csvin;
pub mod demo;
pub mod flow;
pub mod fuzz;
pub mod generate;
pub mod masters;
pub mod member;
pub mod sites;
pub mod state;
pub mod workspaces;

use neurohub_core::AppState;
use utoipa_axum::router::OpenApiRouter;

/// ATP routes, to be nested under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(workspaces::router())
        .merge(sites::router())
        .merge(config::router())
        .merge(masters::router())
        .merge(flow::router())
}
