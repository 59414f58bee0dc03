//! ATP approval workflow (acceptance-test documents through multi-stage approvals). Not built yet: its issue
//! comes after the MES; the crate exists so the workspace has its final shape.

pub mod constraints;

use neurohub_core::AppState;
use utoipa_axum::router::OpenApiRouter;

/// ATP routes, to be nested under `/api/v1` (none yet).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
