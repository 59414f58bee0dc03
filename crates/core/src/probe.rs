//! Go / no-go probes written in a domain crate: `neurohub verify` (crate `neurohub-schema`, which depends on
//! no domain) is handed them by the binary and runs each inside a transaction it rolls back, so a check of a
//! rule that lives in Rust runs that Rust, not an imitation of it in SQL.

use std::future::Future;
use std::pin::Pin;

/// What a probe returns: its evidence, one line each, or what went wrong.
pub type ProbeFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<String>, String>> + Send + 'a>>;

/// A probe's failure: a message for the report.
#[derive(Debug)]
pub struct ProbeFailed(pub String);

impl std::fmt::Display for ProbeFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<sqlx::Error> for ProbeFailed {
    fn from(e: sqlx::Error) -> Self {
        ProbeFailed(format!("SQL error: {e}"))
    }
}

impl From<crate::ApiError> for ProbeFailed {
    fn from(e: crate::ApiError) -> Self {
        ProbeFailed(format!("the engine refused a legal step: {e}"))
    }
}

/// `Err(what)` unless `ok`.
pub fn expect(ok: bool, what: impl Into<String>) -> Result<(), ProbeFailed> {
    if ok {
        Ok(())
    } else {
        Err(ProbeFailed(what.into()))
    }
}

/// Run the rest of the probe as `neurohub_app`, the role requests run under, so row-level security and the
/// request role's grants apply to it as they do to a request.
pub async fn as_request_role(conn: &mut sqlx::PgConnection) -> Result<(), ProbeFailed> {
    sqlx::query(&format!("SET LOCAL ROLE {}", crate::db::REQUEST_ROLE))
        .execute(conn)
        .await?;
    Ok(())
}
