//! Identity, shared by every domain: user accounts and the first admin, sign-in with login throttling, sessions
//! with rotating refresh tokens, and the reader of the audit log that every domain's triggers write.
//!
//! No domain owns these: the MES and the ATP both depend on this crate (and on `neurohub-core`), never on each
//! other. The account's global role is `neurohub_core::auth::Role`; per-workspace roles belong to the ATP.

pub mod audit_logs;
pub mod auth;
pub mod constraints;
pub mod policy;
pub mod session;
pub mod users;

use neurohub_core::AppState;
use utoipa_axum::router::OpenApiRouter;

/// The identity routes (`/auth/*`, `/users`, `/audit-logs`), to be nested under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(audit_logs::router())
}
