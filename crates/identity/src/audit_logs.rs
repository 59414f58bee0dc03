//! GET /audit-logs (ADMIN, MANAGER): the append-only audit trail, read-only, ONE statement, keyset paged on
//! (created_at desc, id desc). `from` / `to` bound `created_at` directly so PostgreSQL prunes the monthly
//! partitions; the cursor bounds it too.

use crate::policy;
use axum::extract::State;
use chrono::{DateTime, Utc};
use neurohub_core::auth::Authorized;
use neurohub_core::pagination::{Key, List, Page};
use neurohub_core::{ApiJson, ApiQuery, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use neurohub_core::validate::bad_query;

neurohub_core::fixed_sort!(
    /// Newest first: (created_at, id) descending, served by the per-partition index on (created_at, id).
    Newest, "created_at", Desc, [Key::time("a.created_at"), Key::int("a.id")]
);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(utoipa_axum::routes!(list))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// e.g. `process_data`, `lots`, `wip_items`, `serials`.
    pub table_name: Option<String>,
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub record_id: Option<i64>,
    /// The acting user.
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub user_id: Option<i64>,
    /// INSERT, UPDATE or DELETE.
    pub action: Option<String>,
    /// created_at >= this (RFC 3339).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub from: Option<DateTime<Utc>>,
    /// created_at < this (RFC 3339).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub to: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct AuditLog {
    pub id: i64,
    pub table_name: String,
    pub record_id: Option<i64>,
    pub action: String,
    /// The row before and after, passed through as stored (`RawJson`): parsed into a `serde_json::Value`, a number
    /// the database keeps exactly but no f64 holds (1.7976931348623155e+308 written out in full) made the whole
    /// audit list a 500.
    #[schema(value_type = Option<Object>)]
    pub old_data: Option<neurohub_core::rawjson::RawJson>,
    #[schema(value_type = Option<Object>)]
    pub new_data: Option<neurohub_core::rawjson::RawJson>,
    pub changed_fields: Option<Vec<String>>,
    pub user_id: Option<i64>,
    pub username: Option<String>,
    /// The raw acting-user setting when it named no user.
    pub user_ref: Option<String>,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The audit trail, newest first. ONE statement (joins the acting user's name).
#[utoipa::path(get, path = "/audit-logs", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = Page<AuditLog>), (status = 400, body = neurohub_core::Problem),
              (status = 403, body = neurohub_core::Problem)))]
pub async fn list(
    State(st): State<AppState>,
    _user: Authorized<policy::Audit>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<ApiJson<Page<AuditLog>>> {
    let list = List::<Newest>::fixed(q.limit, q.cursor.as_deref())?;
    let action = match q.action.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(a) => {
            let up = a.to_ascii_uppercase();
            if !["INSERT", "UPDATE", "DELETE"].contains(&up.as_str()) {
                return Err(bad_query(
                    "action",
                    "action must be INSERT, UPDATE or DELETE",
                ));
            }
            Some(up)
        }
    };
    let table = q
        .table_name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if table.is_some_and(|t| t.len() > 63) {
        return Err(bad_query(
            "table_name",
            "table names have at most 63 characters",
        ));
    }
    if let (Some(a), Some(b)) = (q.from, q.to) {
        if a >= b {
            return Err(bad_query("to", "to must be after from"));
        }
    }
    let mut qb = QueryBuilder::<Postgres>::new(
        "SELECT a.id, a.table_name, a.record_id, a.action, a.old_data, a.new_data, a.changed_fields, a.user_id, \
         u.username, a.user_ref, a.client_ip, a.request_id, a.created_at \
         FROM audit_logs a LEFT JOIN users u ON u.id = a.user_id WHERE true",
    );
    if let Some(t) = table {
        qb.push(" AND a.table_name = ").push_bind(t.to_string());
    }
    if let Some(r) = q.record_id {
        qb.push(" AND a.record_id = ").push_bind(r);
    }
    if let Some(u) = q.user_id {
        qb.push(" AND a.user_id = ").push_bind(u);
    }
    if let Some(a) = action {
        qb.push(" AND a.action = ").push_bind(a);
    }
    if let Some(f) = q.from {
        qb.push(" AND a.created_at >= ").push_bind(f);
    }
    if let Some(t) = q.to {
        qb.push(" AND a.created_at < ").push_bind(t);
    }
    list.push_after(&mut qb);
    qb.push(list.order_and_limit());
    let rows = qb
        .build_query_as::<AuditLog>()
        .persistent(false)
        .fetch_all(&mut *st.read_conn().await?)
        .await?;
    Ok(ApiJson(
        list.page(rows, |r, _| vec![r.created_at.into(), r.id.into()]),
    ))
}
