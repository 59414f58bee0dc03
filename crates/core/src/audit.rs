//! The audit context of a request, written into each write transaction so the database triggers can record who
//! did what from where (see `log_audit_event()` in the schema).

use sqlx::{PgPool, Postgres, Transaction};

/// Who is acting, from where, in which request.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    pub user_id: Option<i64>,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
}

/// Begin a transaction and set the transaction-local audit settings with bound parameters (never interpolated):
/// a hostile value is stored as text, nothing runs.
pub async fn begin(
    pool: &PgPool,
    ctx: &AuditContext,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    set_context(&mut tx, ctx).await?;
    Ok(tx)
}

/// Set the audit settings on an open transaction (`set_config(..., true)` is transaction-local).
pub async fn set_context(
    tx: &mut Transaction<'static, Postgres>,
    ctx: &AuditContext,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT set_config('app.current_user_id', $1, true), set_config('app.client_ip', $2, true), \
         set_config('app.request_id', $3, true)",
    )
    .bind(ctx.user_id.map(|id| id.to_string()).unwrap_or_default())
    .bind(ctx.client_ip.clone().unwrap_or_default())
    .bind(ctx.request_id.clone().unwrap_or_default())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
