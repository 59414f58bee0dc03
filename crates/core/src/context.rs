//! The one request context: who is acting, from where, in which request and (for the ATP) in which workspace.
//!
//! Every write — and every read of workspace-scoped data — runs in a transaction that starts with [`begin`], which
//! sets the context transaction-locally with bound parameters (`set_config(..., true)`, never interpolated, so a
//! hostile value is stored as text and nothing runs). The audit trigger (`log_audit_event()`) reads
//! `app.current_user_id`, `app.client_ip` and `app.request_id`; the ATP's row-level-security policies read
//! `app.current_user_id` and `app.workspace_id`. The connection itself already runs as the request role
//! `neurohub_app` (see [`crate::db`]), so nothing a request does can bypass those policies.

use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// Who is acting, from where, in which request and workspace.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub user_id: Option<i64>,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    /// The workspace a workspace-scoped request acts in (`None` outside the ATP).
    pub workspace_id: Option<Uuid>,
}

impl RequestContext {
    /// The same context, acting in `workspace`.
    pub fn in_workspace(&self, workspace: Uuid) -> Self {
        Self {
            workspace_id: Some(workspace),
            ..self.clone()
        }
    }
}

/// Begin a transaction and set the request context in it.
pub async fn begin(
    pool: &PgPool,
    ctx: &RequestContext,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    set(&mut tx, ctx).await?;
    Ok(tx)
}

/// Begin a READ ONLY transaction with the context set: for reads of workspace-scoped data (the policies need the
/// context) on the read pool. Same statements as [`begin`]; the database refuses any write in it.
pub async fn begin_read(
    pool: &PgPool,
    ctx: &RequestContext,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN READ ONLY").await?;
    set(&mut tx, ctx).await?;
    Ok(tx)
}

/// Set the context on an open transaction (one statement; `set_config(..., true)` is transaction-local, so the
/// pooled connection carries nothing over to the next request).
pub async fn set(conn: &mut sqlx::PgConnection, ctx: &RequestContext) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT set_config('app.current_user_id', $1, true), set_config('app.client_ip', $2, true), \
         set_config('app.request_id', $3, true), set_config('app.workspace_id', $4, true)",
    )
    .bind(ctx.user_id.map(|id| id.to_string()).unwrap_or_default())
    .bind(ctx.client_ip.clone().unwrap_or_default())
    .bind(ctx.request_id.clone().unwrap_or_default())
    .bind(ctx.workspace_id.map(|w| w.to_string()).unwrap_or_default())
    .execute(conn)
    .await?;
    Ok(())
}
