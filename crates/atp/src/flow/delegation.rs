//! Overrides (delegations) and absences: who decides a stage when its approver is away.
//!
//! **Overrides** (`approver_overrides`) delegate one stage, one submission (every revision), a cluster or a region
//! from one user to another for a validity window `[valid_from, valid_to)` (open-ended without `valid_to`). An
//! approver (or a WORKSPACE_ADMIN on their behalf) requests one; it counts only once another WORKSPACE_ADMIN —
//! not the requester, not the delegating user, not the delegate — approves it (four eyes); the requester, the
//! delegating user or a WORKSPACE_ADMIN may revoke it.
//!
//! **Absences** (`approver_absences`), marked by a WORKSPACE_ADMIN for a window, route the absent user's stages to
//! the absence's delegate, else the stage's backup approver from the cluster mapping (recorded in the instance's
//! `routing_snapshot` at start). Routing at start already picks the delegate / backup for an absent primary.
//!
//! **Re-resolution happens when it is read, not when an override is approved** (docs/atp-flow.md): a stage keeps
//! the assignee routing gave it (`assigned_approver_id`, frozen with the routing), and its *effective* approver —
//! the one who may decide it and whose pending list shows it — is computed by [`DELEGATION_JOINS`] /
//! [`EFFECTIVE_APPROVER`] at the moment of the request, by the decision and by the pending list alike, so the two
//! can never disagree and a window starts and ends on time without any job. The decision records whom it was on
//! behalf of (the action's payload: `on_behalf_of`, `override_id` / `absence_id`).

use super::ReadFlow;
use crate::member::{Member, MemberPolicy, MemberRole, MemberRole::*};
use chrono::{DateTime, Utc};
use neurohub_core::pagination::{Key, List, Page};
use neurohub_core::response::{created, Created};
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_override, list_overrides))
        .routes(routes!(approve_override))
        .routes(routes!(revoke_override))
        .routes(routes!(mark_absence, list_absences))
        .routes(routes!(end_absence))
        .routes(routes!(delete_absence))
}

macro_rules! delegation_policies {
    ($($(#[$doc:meta])* $name:ident => $roles:expr;)*) => {
        $( $(#[$doc])* #[derive(Debug, Clone, Copy)] pub struct $name;
           impl MemberPolicy for $name {
               const ROLES: &'static [MemberRole] = $roles;
               const GLOBAL_ADMIN: bool = false;
               const WRITE: bool = true;
           } )*
    };
}

delegation_policies! {
    /// Request or revoke an override: an approver for their own stages, a WORKSPACE_ADMIN for anyone's.
    Delegate => &[WorkspaceAdmin, Approver];
    /// Approve an override; mark, end and delete absences.
    AdministerDelegation => &[WorkspaceAdmin];
}

/// SQL: two LEFT JOIN LATERALs over a stage `s` and its instance `i` — `ov`, the APPROVED override from the
/// stage's assignee valid now that covers the stage (the most specific target first: STAGE, SUBMISSION, CLUSTER,
/// REGION; then the latest approval), and `ab`, the assignee's absence now with its stand-in (the absence's
/// delegate, else the stage's backup from the routing snapshot). Used by the decision and the pending list.
pub const DELEGATION_JOINS: &str = " \
    LEFT JOIN LATERAL ( \
        SELECT o.id, o.to_user_id FROM approver_overrides o \
         WHERE o.workspace_id = s.workspace_id AND o.approval_status = 'APPROVED' \
           AND o.from_user_id = s.assigned_approver_id \
           AND now() >= o.valid_from AND (o.valid_to IS NULL OR now() < o.valid_to) \
           AND ((o.override_type = 'STAGE' AND o.workflow_stage_id = s.id) \
             OR (o.override_type = 'SUBMISSION' AND o.submission_id IN (SELECT r.id FROM atp_submissions r \
                  WHERE r.workspace_id = s.workspace_id AND r.workflow_instance_id = s.workflow_instance_id)) \
             OR (o.override_type = 'CLUSTER' AND EXISTS (SELECT 1 FROM cluster_master c \
                  WHERE c.workspace_id = o.workspace_id AND c.id = o.cluster_id AND c.cluster_code = i.cluster_code)) \
             OR (o.override_type = 'REGION' AND o.region = i.routing_snapshot ->> 'region')) \
         ORDER BY CASE o.override_type WHEN 'STAGE' THEN 0 WHEN 'SUBMISSION' THEN 1 WHEN 'CLUSTER' THEN 2 ELSE 3 END, \
                  o.approved_at DESC, o.id \
         LIMIT 1) AS ov ON true \
    LEFT JOIN LATERAL ( \
        SELECT a.id, COALESCE(a.delegate_user_id, NULLIF((SELECT (e ->> 'backup_user_id')::bigint \
                   FROM jsonb_array_elements(i.routing_snapshot -> 'stages') AS e \
                  WHERE (e ->> 'stage_number')::int = s.stage_number LIMIT 1), a.user_id)) AS stand_in \
          FROM approver_absences a \
         WHERE a.workspace_id = s.workspace_id AND a.user_id = s.assigned_approver_id \
           AND now() >= a.starts_at AND now() < a.ends_at \
         LIMIT 1) AS ab ON true ";

/// SQL: the effective approver of stage `s` over [`DELEGATION_JOINS`]: the override's delegate, else the
/// absence's stand-in, else the assignee (an absent assignee without a stand-in keeps the stage).
pub const EFFECTIVE_APPROVER: &str = "COALESCE(ov.to_user_id, ab.stand_in, s.assigned_approver_id)";

neurohub_core::text_enum!(
    /// What an override delegates (approver_overrides.override_type).
    OverrideType {
        /// One stage.
        Stage => "STAGE",
        /// One submission, every revision.
        Submission => "SUBMISSION",
        /// Every stage of instances of a cluster (by cluster code, across mapping versions).
        Cluster => "CLUSTER",
        /// Every stage of instances routed in a region.
        Region => "REGION",
    }
);

neurohub_core::text_enum!(
    /// An override's approval (approver_overrides.approval_status).
    OverrideStatus {
        /// Requested, not in force.
        Pending => "PENDING",
        /// Approved by a WORKSPACE_ADMIN: in force during its window.
        Approved => "APPROVED",
        /// Refused (not written by this API: a pending override is revoked instead).
        Rejected => "REJECTED",
        /// Withdrawn.
        Revoked => "REVOKED",
    }
);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOverride {
    pub override_type: OverrideType,
    /// The target of a STAGE override (an undecided stage assigned to `from_user_id`).
    pub workflow_stage_id: Option<Uuid>,
    /// The target of a SUBMISSION override (any revision).
    pub submission_id: Option<Uuid>,
    /// The target of a CLUSTER override (a cluster_master row; matched by its cluster code).
    pub cluster_id: Option<Uuid>,
    /// The target of a REGION override (a region of the workspace's clusters).
    pub region: Option<String>,
    /// Who delegates; default: the caller (only a WORKSPACE_ADMIN names someone else).
    pub from_user_id: Option<i64>,
    /// The delegate: an active member.
    pub to_user_id: i64,
    pub reason: String,
    /// Default: now.
    pub valid_from: Option<DateTime<Utc>>,
    /// Exclusive; none: until revoked.
    pub valid_to: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Override {
    pub id: Uuid,
    pub override_type: OverrideType,
    pub workflow_stage_id: Option<Uuid>,
    pub submission_id: Option<Uuid>,
    pub cluster_id: Option<Uuid>,
    pub region: Option<String>,
    pub from_user_id: Option<i64>,
    pub to_user_id: i64,
    pub reason: String,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
    pub approval_status: OverrideStatus,
    pub requested_by: Option<i64>,
    pub approved_by: Option<i64>,
    pub approved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const OVERRIDE_COLUMNS: &str = "id, override_type, workflow_stage_id, submission_id, cluster_id, region, \
    from_user_id, to_user_id, reason, valid_from, valid_to, approval_status, requested_by, approved_by, approved_at, \
    created_at";

fn reason(r: &str, required: bool) -> ApiResult<Option<String>> {
    let r = r.trim();
    if r.chars().count() > 2000 {
        return Err(ApiError::validation("reason", "at most 2000 characters"));
    }
    if r.is_empty() {
        if required {
            return Err(ApiError::validation("reason", "say why"));
        }
        return Ok(None);
    }
    Ok(Some(r.to_string()))
}

/// A window `[from, to)`: `to` after `from` and not already over.
fn window(
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    to_field: &str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    if let Some(to) = to {
        if to <= from {
            return Err(ApiError::validation(
                to_field,
                "the window must end after it starts",
            ));
        }
        if to <= now {
            return Err(ApiError::validation(to_field, "the window is already over"));
        }
    }
    Ok(())
}

fn unknown_user(field: &str, what: &str) -> ApiError {
    ApiError::unprocessable(
        "UNKNOWN_USER",
        format!("the {what} must be an active member of the workspace"),
    )
    .with_field(field, "not an active member")
}

#[derive(sqlx::FromRow)]
struct TargetCheck {
    target_found: bool,
    stage_assignee: Option<i64>,
    stage_status: Option<String>,
    from_member: bool,
    to_member: bool,
}

/// Request an override (PENDING until a WORKSPACE_ADMIN approves it).
#[utoipa::path(
    post, path = "/workspaces/{ws}/overrides", tag = "atp-delegation", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id")),
    request_body = NewOverride,
    responses(
        (status = 201, description = "The override, PENDING", body = Override,
            headers(("location" = String, description = "the workspace's override list (overrides have no single-record route)"))),
        (status = 403, description = "Not an approver or WORKSPACE_ADMIN; NOT_OWN_OVERRIDE: an approver delegates only their own stages", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The target stage, submission or cluster is not in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "ALREADY_DECIDED: the target stage is decided", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Target not matching the type, bad window, UNKNOWN_USER, same user twice", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn request_override(
    mut m: Member<Delegate>,
    ApiJson(b): ApiJson<NewOverride>,
) -> ApiResult<Created<Override>> {
    let now = Utc::now();
    let reason = reason(&b.reason, true)?;
    let region = b
        .region
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    if region.as_ref().is_some_and(|r| r.chars().count() > 100) {
        return Err(ApiError::validation("region", "at most 100 characters"));
    }
    // exactly the target the type names (chk_approver_overrides_target)
    let given = [
        ("workflow_stage_id", b.workflow_stage_id.is_some()),
        ("submission_id", b.submission_id.is_some()),
        ("cluster_id", b.cluster_id.is_some()),
        ("region", region.is_some()),
    ];
    let wanted = match b.override_type {
        OverrideType::Stage => "workflow_stage_id",
        OverrideType::Submission => "submission_id",
        OverrideType::Cluster => "cluster_id",
        OverrideType::Region => "region",
    };
    for (field, present) in given {
        if field == wanted && !present {
            return Err(ApiError::validation(
                field,
                format!("a {} override names its target", b.override_type),
            ));
        }
        if field != wanted && present {
            return Err(ApiError::validation(
                field,
                format!("a {} override names only {wanted}", b.override_type),
            ));
        }
    }
    let valid_from = b.valid_from.unwrap_or(now);
    window(valid_from, b.valid_to, "valid_to", now)?;
    let from = b.from_user_id.unwrap_or(m.user.id);
    if from != m.user.id && m.role != Some(WorkspaceAdmin) {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "NOT_OWN_OVERRIDE",
            "an approver delegates only their own approvals; a WORKSPACE_ADMIN may request one for another user",
        ));
    }
    if from == b.to_user_id {
        return Err(ApiError::validation(
            "to_user_id",
            "the delegate must be someone else",
        ));
    }
    let ws = m.workspace_id;
    let c: TargetCheck = sqlx::query_as(
        "SELECT CASE $2 \
                  WHEN 'STAGE' THEN EXISTS (SELECT 1 FROM workflow_stages WHERE workspace_id = $1 AND id = $3) \
                  WHEN 'SUBMISSION' THEN EXISTS (SELECT 1 FROM atp_submissions WHERE workspace_id = $1 AND id = $4) \
                  WHEN 'CLUSTER' THEN EXISTS (SELECT 1 FROM cluster_master WHERE workspace_id = $1 AND id = $5) \
                  ELSE EXISTS (SELECT 1 FROM cluster_master WHERE workspace_id = $1 AND region = $6) END \
                    AS target_found, \
                (SELECT assigned_approver_id FROM workflow_stages WHERE workspace_id = $1 AND id = $3) AS stage_assignee, \
                (SELECT status FROM workflow_stages WHERE workspace_id = $1 AND id = $3) AS stage_status, \
                EXISTS (SELECT 1 FROM workspace_members WHERE workspace_id = $1 AND user_id = $7 AND is_active) \
                    AS from_member, \
                EXISTS (SELECT 1 FROM workspace_members WHERE workspace_id = $1 AND user_id = $8 AND is_active) \
                    AS to_member",
    )
    .bind(ws)
    .bind(b.override_type)
    .bind(b.workflow_stage_id)
    .bind(b.submission_id)
    .bind(b.cluster_id)
    .bind(region.as_deref())
    .bind(from)
    .bind(b.to_user_id)
    .fetch_one(&mut *m.tx)
    .await?;
    if !c.target_found {
        return Err(match b.override_type {
            OverrideType::Region => {
                ApiError::validation("region", "no cluster of the workspace is in this region")
            }
            OverrideType::Stage => ApiError::not_found("stage"),
            OverrideType::Submission => ApiError::not_found("submission"),
            OverrideType::Cluster => ApiError::not_found("cluster"),
        });
    }
    if !c.from_member {
        return Err(unknown_user("from_user_id", "delegating user"));
    }
    if !c.to_member {
        return Err(unknown_user("to_user_id", "delegate"));
    }
    if b.override_type == OverrideType::Stage {
        if !matches!(c.stage_status.as_deref(), Some("PENDING" | "ACTIVE")) {
            return Err(ApiError::conflict(
                "ALREADY_DECIDED",
                format!(
                    "the stage is {}: only an undecided stage is delegated",
                    c.stage_status.as_deref().unwrap_or("-")
                ),
            ));
        }
        if c.stage_assignee != Some(from) {
            return Err(ApiError::validation(
                "from_user_id",
                "the stage is assigned to another user",
            ));
        }
    }
    let o: Override = sqlx::query_as(&format!(
        "INSERT INTO approver_overrides (workspace_id, override_type, workflow_stage_id, submission_id, cluster_id, \
             region, from_user_id, to_user_id, reason, valid_from, valid_to, requested_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {OVERRIDE_COLUMNS}"
    ))
    .bind(ws)
    .bind(b.override_type)
    .bind(b.workflow_stage_id)
    .bind(b.submission_id)
    .bind(b.cluster_id)
    .bind(region.as_deref())
    .bind(from)
    .bind(b.to_user_id)
    .bind(reason.as_deref())
    .bind(valid_from)
    .bind(b.valid_to)
    .bind(m.user.id)
    .fetch_one(&mut *m.tx)
    .await?;
    let location = format!(
        "/api/v1/workspaces/{}/overrides?user_id={}",
        m.workspace_code, o.to_user_id
    );
    m.commit().await?;
    Ok(created(location, o))
}

#[derive(sqlx::FromRow)]
struct LockedOverride {
    approval_status: OverrideStatus,
    from_user_id: Option<i64>,
    to_user_id: i64,
    requested_by: Option<i64>,
    valid_to: Option<DateTime<Utc>>,
    /// Another APPROVED override of the same user, type and target whose window overlaps this one's.
    overlaps: bool,
}

async fn lock_override(m: &mut Member<impl MemberPolicy>, id: Uuid) -> ApiResult<LockedOverride> {
    let o: Option<LockedOverride> = sqlx::query_as(
        "SELECT o.approval_status, o.from_user_id, o.to_user_id, o.requested_by, o.valid_to, \
                EXISTS (SELECT 1 FROM approver_overrides x \
                         WHERE x.workspace_id = o.workspace_id AND x.id <> o.id AND x.approval_status = 'APPROVED' \
                           AND x.from_user_id IS NOT DISTINCT FROM o.from_user_id \
                           AND x.override_type = o.override_type \
                           AND x.workflow_stage_id IS NOT DISTINCT FROM o.workflow_stage_id \
                           AND x.submission_id IS NOT DISTINCT FROM o.submission_id \
                           AND x.cluster_id IS NOT DISTINCT FROM o.cluster_id \
                           AND x.region IS NOT DISTINCT FROM o.region \
                           AND tstzrange(x.valid_from, x.valid_to) && tstzrange(o.valid_from, o.valid_to)) \
                    AS overlaps \
           FROM approver_overrides o WHERE o.workspace_id = $1 AND o.id = $2 FOR UPDATE OF o",
    )
    .bind(m.workspace_id)
    .bind(id)
    .fetch_optional(&mut *m.tx)
    .await?;
    o.ok_or_else(|| ApiError::not_found("override"))
}

async fn set_status(
    m: &mut Member<impl MemberPolicy>,
    id: Uuid,
    status: OverrideStatus,
) -> ApiResult<Override> {
    let approve = status == OverrideStatus::Approved;
    Ok(sqlx::query_as(&format!(
        "UPDATE approver_overrides SET approval_status = $3, \
                approved_by = CASE WHEN $4 THEN $5 ELSE approved_by END, \
                approved_at = CASE WHEN $4 THEN now() ELSE approved_at END \
          WHERE workspace_id = $1 AND id = $2 RETURNING {OVERRIDE_COLUMNS}"
    ))
    .bind(m.workspace_id)
    .bind(id)
    .bind(status)
    .bind(approve)
    .bind(m.user.id)
    .fetch_one(&mut *m.tx)
    .await?)
}

/// Approve a PENDING override (WORKSPACE_ADMIN, not a party to it): from now on, while its window lasts, the
/// stages it covers are the delegate's.
#[utoipa::path(
    post, path = "/workspaces/{ws}/overrides/{id}/approve", tag = "atp-delegation", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The override, APPROVED", body = Override),
        (status = 403, description = "Not a WORKSPACE_ADMIN; SELF_APPROVAL: the requester, the delegating user and the delegate do not approve", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such override in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_STATUS_TRANSITION (not PENDING), OVERRIDE_EXPIRED, OVERRIDE_OVERLAP", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn approve_override(
    mut m: Member<AdministerDelegation>,
    ApiPath((_ws, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<ApiJson<Override>> {
    let o = lock_override(&mut m, id).await?;
    if o.approval_status != OverrideStatus::Pending {
        return Err(ApiError::conflict(
            "INVALID_STATUS_TRANSITION",
            format!(
                "only a PENDING override is approved; this one is {}",
                o.approval_status
            ),
        ));
    }
    let me = Some(m.user.id);
    if o.requested_by == me || o.from_user_id == me || o.to_user_id == m.user.id {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "SELF_APPROVAL",
            "an override is approved by another WORKSPACE_ADMIN than its requester, delegating user and delegate",
        ));
    }
    if o.valid_to.is_some_and(|t| t <= Utc::now()) {
        return Err(ApiError::conflict(
            "OVERRIDE_EXPIRED",
            "the override's window is over: request a new one",
        ));
    }
    if o.overlaps {
        return Err(overlap());
    }
    let o = set_status(&mut m, id, OverrideStatus::Approved).await?;
    m.commit().await?;
    Ok(ApiJson(o))
}

fn overlap() -> ApiError {
    ApiError::conflict(
        "OVERRIDE_OVERLAP",
        "an approved override of the same user and target overlaps this window: revoke it first",
    )
}

/// Revoke a PENDING or APPROVED override (its requester, its delegating user, or a WORKSPACE_ADMIN): the stages it
/// covered are their assignee's again at once.
#[utoipa::path(
    post, path = "/workspaces/{ws}/overrides/{id}/revoke", tag = "atp-delegation", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The override, REVOKED", body = Override),
        (status = 403, description = "Not an approver or WORKSPACE_ADMIN; NOT_OWN_OVERRIDE: another user's override", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such override in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_STATUS_TRANSITION: already revoked or rejected", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_override(
    mut m: Member<Delegate>,
    ApiPath((_ws, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<ApiJson<Override>> {
    let o = lock_override(&mut m, id).await?;
    let me = Some(m.user.id);
    if m.role != Some(WorkspaceAdmin) && o.requested_by != me && o.from_user_id != me {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "NOT_OWN_OVERRIDE",
            "only its requester, its delegating user or a WORKSPACE_ADMIN revokes an override",
        ));
    }
    if !matches!(
        o.approval_status,
        OverrideStatus::Pending | OverrideStatus::Approved
    ) {
        return Err(ApiError::conflict(
            "INVALID_STATUS_TRANSITION",
            format!("the override is {} already", o.approval_status),
        ));
    }
    let o = set_status(&mut m, id, OverrideStatus::Revoked).await?;
    m.commit().await?;
    Ok(ApiJson(o))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OverrideFilter {
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub status: Option<OverrideStatus>,
    /// Overrides from or to this user.
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub user_id: Option<i64>,
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The workspace's overrides, newest first (one statement, keyset on (created_at, id)).
#[utoipa::path(
    get, path = "/workspaces/{ws}/overrides", tag = "atp-delegation", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), OverrideFilter),
    responses(
        (status = 200, description = "A page of overrides", body = Page<Override>),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a member of this workspace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_overrides(
    mut m: Member<ReadFlow>,
    ApiQuery(f): ApiQuery<OverrideFilter>,
) -> ApiResult<ApiJson<Page<Override>>> {
    let page = List::<NewestOverrides>::fixed(f.limit, f.cursor.as_deref())?;
    let (after, after_id) = (page.after_time(0), page.after_uuid(1)?);
    let rows: Vec<Override> = sqlx::query_as(&format!(
        "SELECT {OVERRIDE_COLUMNS} FROM approver_overrides \
          WHERE workspace_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
            AND ($4::text IS NULL OR approval_status = $4) \
            AND ($5::bigint IS NULL OR from_user_id = $5 OR to_user_id = $5) \
          ORDER BY created_at DESC, id DESC {}",
        page.limit_sql()
    ))
    .bind(m.workspace_id)
    .bind(after)
    .bind(after_id)
    .bind(f.status)
    .bind(f.user_id)
    .fetch_all(&mut *m.tx)
    .await?;
    drop(m);
    Ok(ApiJson(page.page(rows, |r, _| {
        vec![r.created_at.into(), r.id.to_string().into()]
    })))
}

neurohub_core::fixed_sort!(
    /// Overrides, newest first (`idx_approver_overrides_created`).
    NewestOverrides, "-created_at,-id", Desc, [Key::time("created_at"), Key::text("id")]
);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAbsence {
    /// The absent member.
    pub user_id: i64,
    /// Who stands in; none: each stage's backup approver from the cluster mapping.
    pub delegate_user_id: Option<i64>,
    pub starts_at: DateTime<Utc>,
    /// Exclusive.
    pub ends_at: DateTime<Utc>,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Absence {
    pub id: Uuid,
    pub user_id: i64,
    pub delegate_user_id: Option<i64>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

const ABSENCE_COLUMNS: &str =
    "id, user_id, delegate_user_id, starts_at, ends_at, reason, created_at";

#[derive(sqlx::FromRow)]
struct AbsenceCheck {
    user_member: bool,
    delegate_member: bool,
    overlaps: bool,
}

fn absence_overlap() -> ApiError {
    ApiError::conflict(
        "ABSENCE_OVERLAP",
        "the user already has an absence overlapping this window: end or delete it first",
    )
}

/// Mark a member absent for a window (WORKSPACE_ADMIN): new stages route to the stand-in, and the member's
/// undecided stages are the stand-in's while the window lasts.
#[utoipa::path(
    post, path = "/workspaces/{ws}/absences", tag = "atp-delegation", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id")),
    request_body = NewAbsence,
    responses(
        (status = 201, description = "The absence", body = Absence,
            headers(("location" = String, description = "the workspace's absence list (absences have no single-record route)"))),
        (status = 403, description = "Not a WORKSPACE_ADMIN", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "ABSENCE_OVERLAP", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad window, UNKNOWN_USER, the delegate is the absent user", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn mark_absence(
    mut m: Member<AdministerDelegation>,
    ApiJson(b): ApiJson<NewAbsence>,
) -> ApiResult<Created<Absence>> {
    let reason = reason(b.reason.as_deref().unwrap_or(""), false)?;
    window(b.starts_at, Some(b.ends_at), "ends_at", Utc::now())?;
    if b.delegate_user_id == Some(b.user_id) {
        return Err(ApiError::validation(
            "delegate_user_id",
            "the delegate must be someone else",
        ));
    }
    let ws = m.workspace_id;
    let c: AbsenceCheck = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM workspace_members WHERE workspace_id = $1 AND user_id = $2 AND is_active) \
                    AS user_member, \
                ($3::bigint IS NULL OR EXISTS (SELECT 1 FROM workspace_members WHERE workspace_id = $1 \
                    AND user_id = $3 AND is_active)) AS delegate_member, \
                EXISTS (SELECT 1 FROM approver_absences WHERE workspace_id = $1 AND user_id = $2 \
                    AND tstzrange(starts_at, ends_at) && tstzrange($4, $5)) AS overlaps",
    )
    .bind(ws)
    .bind(b.user_id)
    .bind(b.delegate_user_id)
    .bind(b.starts_at)
    .bind(b.ends_at)
    .fetch_one(&mut *m.tx)
    .await?;
    if !c.user_member {
        return Err(unknown_user("user_id", "absent user"));
    }
    if !c.delegate_member {
        return Err(unknown_user("delegate_user_id", "delegate"));
    }
    if c.overlaps {
        return Err(absence_overlap());
    }
    let a: Absence = sqlx::query_as(&format!(
        "INSERT INTO approver_absences (workspace_id, user_id, delegate_user_id, starts_at, ends_at, reason) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ABSENCE_COLUMNS}"
    ))
    .bind(ws)
    .bind(b.user_id)
    .bind(b.delegate_user_id)
    .bind(b.starts_at)
    .bind(b.ends_at)
    .bind(reason.as_deref())
    .fetch_one(&mut *m.tx)
    .await?;
    let location = format!(
        "/api/v1/workspaces/{}/absences?user_id={}",
        m.workspace_code, a.user_id
    );
    m.commit().await?;
    Ok(created(location, a))
}

/// (starts_at <= now, now < ends_at) of a locked absence.
async fn lock_absence(m: &mut Member<AdministerDelegation>, id: Uuid) -> ApiResult<(bool, bool)> {
    let a: Option<(bool, bool)> = sqlx::query_as(
        "SELECT starts_at <= now(), now() < ends_at FROM approver_absences \
          WHERE workspace_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(m.workspace_id)
    .bind(id)
    .fetch_optional(&mut *m.tx)
    .await?;
    a.ok_or_else(|| ApiError::not_found("absence"))
}

/// End a current absence now (WORKSPACE_ADMIN): the member's stages are theirs again. The record stays.
#[utoipa::path(
    post, path = "/workspaces/{ws}/absences/{id}/end", tag = "atp-delegation", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The absence, ending now", body = Absence),
        (status = 403, description = "Not a WORKSPACE_ADMIN", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such absence in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "ABSENCE_NOT_CURRENT: not started yet (delete it) or over", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn end_absence(
    mut m: Member<AdministerDelegation>,
    ApiPath((_ws, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<ApiJson<Absence>> {
    let (started, running) = lock_absence(&mut m, id).await?;
    if !(started && running) {
        return Err(ApiError::conflict(
            "ABSENCE_NOT_CURRENT",
            if started {
                "the absence is over already"
            } else {
                "the absence has not started: delete it instead"
            },
        ));
    }
    let a: Absence = sqlx::query_as(&format!(
        "UPDATE approver_absences SET ends_at = now() WHERE workspace_id = $1 AND id = $2 \
         RETURNING {ABSENCE_COLUMNS}"
    ))
    .bind(m.workspace_id)
    .bind(id)
    .fetch_one(&mut *m.tx)
    .await?;
    m.commit().await?;
    Ok(ApiJson(a))
}

/// Delete an absence that has not started (WORKSPACE_ADMIN); one that has started is ended instead, so the
/// record of who stood in stays.
#[utoipa::path(
    delete, path = "/workspaces/{ws}/absences/{id}", tag = "atp-delegation", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not a WORKSPACE_ADMIN", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such absence in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "ABSENCE_STARTED: end it instead", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_absence(
    mut m: Member<AdministerDelegation>,
    ApiPath((_ws, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<axum::http::StatusCode> {
    let (started, _) = lock_absence(&mut m, id).await?;
    if started {
        return Err(ApiError::conflict(
            "ABSENCE_STARTED",
            "the absence has started: end it instead (its record stays)",
        ));
    }
    sqlx::query("DELETE FROM approver_absences WHERE workspace_id = $1 AND id = $2")
        .bind(m.workspace_id)
        .bind(id)
        .execute(&mut *m.tx)
        .await?;
    m.commit().await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AbsenceFilter {
    /// The absent user's.
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub user_id: Option<i64>,
    /// true: only absences in force now.
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub current: Option<bool>,
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The workspace's absences, latest start first (one statement, keyset on (starts_at, id)).
#[utoipa::path(
    get, path = "/workspaces/{ws}/absences", tag = "atp-delegation", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), AbsenceFilter),
    responses(
        (status = 200, description = "A page of absences", body = Page<Absence>),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a member of this workspace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_absences(
    mut m: Member<ReadFlow>,
    ApiQuery(f): ApiQuery<AbsenceFilter>,
) -> ApiResult<ApiJson<Page<Absence>>> {
    let page = List::<LatestAbsences>::fixed(f.limit, f.cursor.as_deref())?;
    let (after, after_id) = (page.after_time(0), page.after_uuid(1)?);
    let rows: Vec<Absence> = sqlx::query_as(&format!(
        "SELECT {ABSENCE_COLUMNS} FROM approver_absences \
          WHERE workspace_id = $1 AND ($2::timestamptz IS NULL OR (starts_at, id) < ($2, $3)) \
            AND ($4::bigint IS NULL OR user_id = $4) \
            AND ($5::bool IS NULL OR (starts_at <= now() AND now() < ends_at) = $5) \
          ORDER BY starts_at DESC, id DESC {}",
        page.limit_sql()
    ))
    .bind(m.workspace_id)
    .bind(after)
    .bind(after_id)
    .bind(f.user_id)
    .bind(f.current)
    .fetch_all(&mut *m.tx)
    .await?;
    drop(m);
    Ok(ApiJson(page.page(rows, |r, _| {
        vec![r.starts_at.into(), r.id.to_string().into()]
    })))
}

neurohub_core::fixed_sort!(
    /// Absences, latest start first (`idx_approver_absences_starts`).
    LatestAbsences, "-starts_at,-id", Desc, [Key::time("starts_at"), Key::text("id")]
);
