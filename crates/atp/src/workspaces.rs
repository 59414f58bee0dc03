//! Workspaces (a customer × vendor engagement) and their members.
//!
//! A global ADMIN creates workspaces and may manage any workspace and its membership (so a new workspace gets its
//! first WORKSPACE_ADMIN); a WORKSPACE_ADMIN manages its own workspace's members. The list shows the caller's
//! workspaces (a global ADMIN: all) — the `workspaces` row-level-security policy decides, the SQL does not filter.
//! Members are addressed by their user id (`/members/{user_id}`); they are deactivated, never deleted (every
//! approval, upload and action of the workspace references its member rows).

use crate::member::{policy, Member, MemberRole};
use axum::extract::State;
use chrono::{DateTime, Utc};
use neurohub_core::auth::{policy as global, Authorized};
use neurohub_core::context;
use neurohub_core::pagination::{Key, List, Page};
use neurohub_core::response::{created, Created};
use neurohub_core::validate::Checker;
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update))
        .routes(routes!(list_members, add_member))
        .routes(routes!(update_member))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Workspace {
    pub id: Uuid,
    /// Unique, upper case: A-Z, 0-9, `_`, `-`, 2-50 characters (e.g. XLSMART-AVIAT).
    pub code: String,
    pub name: String,
    pub customer: Option<String>,
    pub vendor_owner: Option<String>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const WS_COLUMNS: &str =
    "id, code, name, customer, vendor_owner, is_active, created_at, updated_at";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspace {
    pub code: String,
    pub name: String,
    pub customer: Option<String>,
    pub vendor_owner: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspacePatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "neurohub_core::validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub customer: Option<Option<String>>,
    #[serde(default, deserialize_with = "neurohub_core::validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub vendor_owner: Option<Option<String>>,
    pub is_active: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The schema's CHECK chk_workspaces_code.
pub fn is_workspace_code(s: &str) -> bool {
    let b = s.as_bytes();
    (2..=50).contains(&b.len())
        && (b[0].is_ascii_uppercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// The caller's workspaces (a global ADMIN: every workspace), by code. One statement.
#[utoipa::path(
    get, path = "/workspaces", tag = "atp-workspaces", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "A page of workspaces", body = Page<Workspace>))
)]
pub async fn list(
    State(st): State<AppState>,
    user: Authorized<global::SignedIn>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<ApiJson<Page<Workspace>>> {
    let page = List::<ByCode>::fixed(q.limit, q.cursor.as_deref())?;
    let mut tx = neurohub_core::read_retry!(st, |pool| context::begin_read(pool, &user.ctx).await)?;
    let rows = sqlx::query_as::<_, Workspace>(&format!(
        "SELECT {WS_COLUMNS} FROM workspaces WHERE ($1::text IS NULL OR code > $1) ORDER BY code {}",
        page.limit_sql()
    ))
    .bind(page.after_text(0))
    .fetch_all(&mut *tx)
    .await?;
    Ok(ApiJson(page.page(rows, |w, _| vec![w.code.clone().into()])))
}

/// Create a workspace (global ADMIN).
#[utoipa::path(
    post, path = "/workspaces", tag = "atp-workspaces", security(("bearer" = [])),
    request_body = NewWorkspace,
    responses(
        (status = 201, description = "Created", body = Workspace,
            headers(("location" = String, description = "where the new record is"))),
        (status = 409, description = "DUPLICATE code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(st): State<AppState>,
    user: Authorized<global::Admin>,
    ApiJson(b): ApiJson<NewWorkspace>,
) -> ApiResult<Created<Workspace>> {
    let mut c = Checker::default();
    if !is_workspace_code(&b.code) {
        c.add("code", "must be 2-50 of A-Z, 0-9, _ and -, starting with a letter or digit (e.g. XLSMART-AVIAT)");
    }
    let name = c.text("name", &b.name, 200);
    let customer = c.opt_text("customer", b.customer.as_deref(), 200);
    let vendor_owner = c.opt_text("vendor_owner", b.vendor_owner.as_deref(), 200);
    c.finish()?;
    let mut tx = context::begin(&st.pool, &user.ctx).await?;
    let w = sqlx::query_as::<_, Workspace>(&format!(
        "INSERT INTO workspaces (code, name, customer, vendor_owner) VALUES ($1, $2, $3, $4) RETURNING {WS_COLUMNS}"
    ))
    .bind(&b.code)
    .bind(&name)
    .bind(customer)
    .bind(vendor_owner)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(created(format!("/api/v1/workspaces/{}", w.code), w))
}

/// One workspace (a member, or a global ADMIN).
#[utoipa::path(
    get, path = "/workspaces/{ws}", tag = "atp-workspaces", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id")),
    responses(
        (status = 200, description = "The workspace", body = Workspace),
        (status = 404, description = "NOT_FOUND (or not a member)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_one(mut m: Member<policy::ReadWorkspace>) -> ApiResult<ApiJson<Workspace>> {
    sqlx::query_as::<_, Workspace>(&format!(
        "SELECT {WS_COLUMNS} FROM workspaces WHERE id = $1"
    ))
    .bind(m.workspace_id)
    .fetch_optional(&mut *m.tx)
    .await?
    .map(ApiJson)
    .ok_or_else(|| ApiError::not_found("workspace"))
}

/// Rename, re-describe or (de)activate a workspace (global ADMIN). The code never changes.
#[utoipa::path(
    patch, path = "/workspaces/{ws}", tag = "atp-workspaces", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id")),
    request_body = WorkspacePatch,
    responses(
        (status = 200, description = "The workspace", body = Workspace),
        (status = 403, description = "A member that is not a global ADMIN", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    mut m: Member<policy::ManageWorkspace>,
    ApiJson(p): ApiJson<WorkspacePatch>,
) -> ApiResult<ApiJson<Workspace>> {
    let mut c = Checker::for_patch(
        p.name.is_some()
            || p.customer.is_some()
            || p.vendor_owner.is_some()
            || p.is_active.is_some(),
    );
    let name = p.name.as_deref().map(|n| c.text("name", n, 200));
    let customer = p
        .customer
        .as_ref()
        .map(|v| c.opt_text("customer", v.as_deref(), 200));
    let vendor_owner = p
        .vendor_owner
        .as_ref()
        .map(|v| c.opt_text("vendor_owner", v.as_deref(), 200));
    c.finish()?;
    let w = sqlx::query_as::<_, Workspace>(&format!(
        "UPDATE workspaces SET name = COALESCE($2, name), \
                customer = CASE WHEN $3 THEN $4 ELSE customer END, \
                vendor_owner = CASE WHEN $5 THEN $6 ELSE vendor_owner END, \
                is_active = COALESCE($7, is_active) \
          WHERE id = $1 RETURNING {WS_COLUMNS}"
    ))
    .bind(m.workspace_id)
    .bind(name)
    .bind(customer.is_some())
    .bind(customer.flatten())
    .bind(vendor_owner.is_some())
    .bind(vendor_owner.flatten())
    .bind(p.is_active)
    .fetch_optional(&mut *m.tx)
    .await?
    .ok_or_else(|| ApiError::not_found("workspace"))?;
    m.commit().await?;
    Ok(ApiJson(w))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct WorkspaceMember {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub user_id: i64,
    pub username: String,
    pub full_name: String,
    pub email: Option<String>,
    pub member_role: MemberRole,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const MEMBER_SELECT: &str =
    "SELECT m.id, m.workspace_id, m.user_id, u.username, u.full_name, u.email, \
    m.member_role, m.is_active, m.created_at, m.updated_at \
    FROM workspace_members AS m JOIN users AS u ON u.id = m.user_id";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// The user: its username or email (one of `user` / `user_id`).
    pub user: Option<String>,
    pub user_id: Option<i64>,
    pub member_role: MemberRole,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberPatch {
    pub member_role: Option<MemberRole>,
    /// false deactivates the membership (the member keeps its history, loses access).
    pub is_active: Option<bool>,
}

/// The workspace's members by user id (any member, or a global ADMIN). One statement.
#[utoipa::path(
    get, path = "/workspaces/{ws}/members", tag = "atp-workspaces", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), PageQuery),
    responses(
        (status = 200, description = "A page of members", body = Page<WorkspaceMember>),
        (status = 404, description = "NOT_FOUND (or not a member)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_members(
    mut m: Member<policy::ReadWorkspace>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<ApiJson<Page<WorkspaceMember>>> {
    let page = List::<ByUserId>::fixed(q.limit, q.cursor.as_deref())?;
    let rows = sqlx::query_as::<_, WorkspaceMember>(&format!(
        "{MEMBER_SELECT} WHERE m.workspace_id = $1 AND ($2::bigint IS NULL OR m.user_id > $2) ORDER BY m.user_id {}",
        page.limit_sql()
    ))
    .bind(m.workspace_id)
    .bind(page.after_int(0))
    .fetch_all(&mut *m.tx)
    .await?;
    Ok(ApiJson(page.page(rows, |r, _| vec![r.user_id.into()])))
}

/// Add a user to the workspace with a member role (WORKSPACE_ADMIN, or a global ADMIN).
#[utoipa::path(
    post, path = "/workspaces/{ws}/members", tag = "atp-workspaces", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id")),
    request_body = NewMember,
    responses(
        (status = 201, description = "Added", body = WorkspaceMember,
            headers(("location" = String, description = "where the new record is"))),
        (status = 404, description = "NOT_FOUND (workspace)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "ALREADY_MEMBER", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED / UNKNOWN_USER", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_member(
    mut m: Member<policy::ManageMembers>,
    ApiJson(b): ApiJson<NewMember>,
) -> ApiResult<Created<WorkspaceMember>> {
    let (name, id) = match (&b.user, b.user_id) {
        (Some(n), None) => (Some(n.trim().to_lowercase()), None),
        (None, Some(id)) => (None, Some(id)),
        _ => {
            return Err(ApiError::validation(
                "user",
                "give exactly one of user (username or email) and user_id",
            ))
        }
    };
    // One statement: find the (active) user and add it; no row back means no such user.
    let added: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO workspace_members (workspace_id, user_id, member_role) \
         SELECT $1, u.id, $4 FROM users AS u \
          WHERE u.is_active AND (($2::text IS NOT NULL AND (lower(u.username) = $2 OR lower(u.email) = $2)) \
                                 OR u.id = $3) \
          LIMIT 1 RETURNING user_id",
    )
    .bind(m.workspace_id)
    .bind(name)
    .bind(id)
    .bind(b.member_role)
    .fetch_optional(&mut *m.tx)
    .await?;
    let (user_id,) = added.ok_or_else(|| {
        ApiError::unprocessable(
            "UNKNOWN_USER",
            "no active user with this username, email or id",
        )
        .with_field(
            if b.user.is_some() { "user" } else { "user_id" },
            "unknown user",
        )
    })?;
    let row = sqlx::query_as::<_, WorkspaceMember>(&format!(
        "{MEMBER_SELECT} WHERE m.workspace_id = $1 AND m.user_id = $2"
    ))
    .bind(m.workspace_id)
    .bind(user_id)
    .fetch_one(&mut *m.tx)
    .await?;
    let location = format!("/api/v1/workspaces/{}/members/{user_id}", m.workspace_code);
    m.commit().await?;
    Ok(created(location, row))
}

/// Change a member's role, or deactivate / reactivate it (WORKSPACE_ADMIN, or a global ADMIN). A WORKSPACE_ADMIN
/// cannot demote or deactivate itself (a workspace must not lose its last administrator by accident).
#[utoipa::path(
    patch, path = "/workspaces/{ws}/members/{user_id}", tag = "atp-workspaces", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("user_id" = i64, Path, description = "The member's user id")),
    request_body = MemberPatch,
    responses(
        (status = 200, description = "The member", body = WorkspaceMember),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "SELF_DEMOTION", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_member(
    mut m: Member<policy::ManageMembers>,
    ApiPath(path): ApiPath<(String, i64)>,
    ApiJson(p): ApiJson<MemberPatch>,
) -> ApiResult<ApiJson<WorkspaceMember>> {
    let (_, user_id) = path;
    Checker::for_patch(p.member_role.is_some() || p.is_active.is_some()).finish()?;
    if user_id == m.user.id
        && (p.is_active == Some(false)
            || p.member_role
                .is_some_and(|r| r != MemberRole::WorkspaceAdmin))
    {
        return Err(ApiError::conflict(
            "SELF_DEMOTION",
            "you cannot demote or deactivate yourself; another WORKSPACE_ADMIN (or a global ADMIN) can",
        ));
    }
    let n = sqlx::query(
        "UPDATE workspace_members SET member_role = COALESCE($3, member_role), is_active = COALESCE($4, is_active) \
          WHERE workspace_id = $1 AND user_id = $2",
    )
    .bind(m.workspace_id)
    .bind(user_id)
    .bind(p.member_role)
    .bind(p.is_active)
    .execute(&mut *m.tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(ApiError::not_found("member"));
    }
    let row = sqlx::query_as::<_, WorkspaceMember>(&format!(
        "{MEMBER_SELECT} WHERE m.workspace_id = $1 AND m.user_id = $2"
    ))
    .bind(m.workspace_id)
    .bind(user_id)
    .fetch_one(&mut *m.tx)
    .await?;
    m.commit().await?;
    Ok(ApiJson(row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_codes_follow_the_check() {
        assert!(is_workspace_code("XLSMART-AVIAT"));
        assert!(is_workspace_code("A1"));
        assert!(!is_workspace_code("A"));
        assert!(!is_workspace_code("-AB"));
        assert!(!is_workspace_code("xlsmart"));
        assert!(!is_workspace_code(&"A".repeat(51)));
    }
}

neurohub_core::fixed_sort!(
    /// Workspaces by code.
    ByCode, "code", Asc, [Key::text("code")]
);

neurohub_core::fixed_sort!(
    /// Members by user id.
    ByUserId, "user_id", Asc, [Key::int("user_id")]
);
