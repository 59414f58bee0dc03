//! Punchlists: raised by an APPROVE_WITH_PUNCHLIST decision, worked item by item — IDENTIFIED → RECTIFIED (the
//! submitter attaches an EVIDENCE document of the submission) → VERIFIED by the approver who raised it (or
//! REJECTED back to rectification) → CLOSED by that approver. A chain whose stages are all approved waits in
//! APPROVED_WITH_PUNCHLIST until every item of its open punchlists is closed; the last close completes the
//! instance and its submission (COMPLETED) in the same statement. A CRITICAL item makes the decision a REJECT;
//! its punchlist is kept for the record as CANCELLED (the rectification is the next revision).

use super::state::{Decision, ItemStatus, Severity};
use super::{ReadFlow, Submit};
use crate::member::{Member, MemberPolicy, MemberRole};
use chrono::{DateTime, Utc};
use neurohub_core::states::StateMachine;
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiResult, AppState, FieldError, Problem};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use std::collections::HashSet;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(rectify))
        .routes(routes!(verify))
        .routes(routes!(close))
}

/// Verify and close: any member; the item's raiser decides (403 NOT_RAISER otherwise).
#[derive(Debug, Clone, Copy)]
pub struct Verify;
impl MemberPolicy for Verify {
    const ROLES: &'static [MemberRole] = MemberRole::ALL;
    const GLOBAL_ADMIN: bool = false;
    const WRITE: bool = true;
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    /// Unique in the punchlist: `A-Z 0-9 _ -`, up to 50.
    pub code: String,
    pub description: String,
    pub severity: Severity,
    /// When the rectification's evidence is due (optional; in the future).
    pub evidence_before: Option<DateTime<Utc>>,
}

/// The items of a decision, checked: required (1-100) for APPROVE_WITH_PUNCHLIST, refused for the others.
pub fn check_items(d: Decision, items: Option<&[NewItem]>) -> ApiResult<Vec<NewItem>> {
    let items = items.unwrap_or_default();
    if d != Decision::ApproveWithPunchlist {
        if !items.is_empty() {
            return Err(ApiError::validation(
                "items",
                "punchlist items go with APPROVE_WITH_PUNCHLIST only",
            ));
        }
        return Ok(Vec::new());
    }
    if items.is_empty() || items.len() > 100 {
        return Err(ApiError::validation(
            "items",
            "APPROVE_WITH_PUNCHLIST needs 1-100 items",
        ));
    }
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    let now = Utc::now();
    for (i, it) in items.iter().enumerate() {
        let ok = !it.code.is_empty()
            && it.code.len() <= 50
            && it
                .code
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !ok {
            errors.push(FieldError::new(
                format!("items[{i}].code"),
                "1-50 of A-Z, 0-9, _ and -",
            ));
        } else if !seen.insert(it.code.clone()) {
            errors.push(FieldError::new(format!("items[{i}].code"), "repeated"));
        }
        let d = it.description.trim();
        if d.is_empty() || d.chars().count() > 2000 {
            errors.push(FieldError::new(
                format!("items[{i}].description"),
                "1-2000 characters",
            ));
        }
        if it.evidence_before.is_some_and(|t| t <= now) {
            errors.push(FieldError::new(
                format!("items[{i}].evidence_before"),
                "must be in the future",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation_many(errors));
    }
    Ok(items.to_vec())
}

/// Insert the punchlist of a decision and its items (one statement); CANCELLED when a critical item rejected.
pub async fn raise(
    conn: &mut PgConnection,
    ws: Uuid,
    instance: Uuid,
    submission: Option<Uuid>,
    user: i64,
    items: &[NewItem],
    rejected: bool,
) -> ApiResult<()> {
    let rows: Vec<_> = items
        .iter()
        .map(|i| {
            json!({"item_code": i.code, "description": i.description.trim(), "severity": i.severity,
                   "evidence_before": i.evidence_before})
        })
        .collect();
    sqlx::query(
        "WITH p AS (INSERT INTO punchlists (workspace_id, workflow_instance_id, submission_id, status, raised_by) \
                    VALUES ($1, $2, $3, $4, $5) RETURNING id) \
         INSERT INTO punchlist_items (workspace_id, punchlist_id, item_code, description, severity, evidence_before) \
         SELECT $1, p.id, x.item_code, x.description, x.severity, x.evidence_before FROM p, \
                jsonb_to_recordset($6) AS x(item_code text, description text, severity text, \
                                            evidence_before timestamptz)",
    )
    .bind(ws)
    .bind(instance)
    .bind(submission)
    .bind(if rejected { "CANCELLED" } else { "OPEN" })
    .bind(user)
    .bind(serde_json::Value::Array(rows))
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Item {
    pub id: Uuid,
    pub punchlist_id: Uuid,
    pub punchlist_status: String,
    pub raised_by: Option<i64>,
    pub item_code: String,
    pub description: String,
    pub severity: Severity,
    /// When the rectification's evidence is due (None: no date set).
    pub evidence_before: Option<DateTime<Utc>>,
    pub status: ItemStatus,
    pub evidence_document_id: Option<Uuid>,
    pub rectified_at: Option<DateTime<Utc>>,
    pub verified_by: Option<i64>,
    pub verified_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
}

const ITEM_COLUMNS: &str = "it.id, it.punchlist_id, p.status AS punchlist_status, p.raised_by, it.item_code, \
    it.description, it.severity, it.evidence_before, it.status, it.evidence_document_id, it.rectified_at, it.verified_by, it.verified_at, \
    it.closed_at, it.rejection_reason";

/// The punchlist items of a submission's workflow (every revision's), oldest punchlist first.
#[utoipa::path(
    get, path = "/workspaces/{ws}/submissions/{id}/punchlist-items", tag = "atp-punchlists", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The items", body = Vec<Item>),
        (status = 404, description = "No such submission in this workspace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    mut m: Member<ReadFlow>,
    ApiPath((_ws, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<ApiJson<Vec<Item>>> {
    // one statement: the submission's row carries its items as JSON (no row: 404)
    let items: Vec<(bool, Option<sqlx::types::Json<serde_json::Value>>)> = sqlx::query_as(&format!(
        "SELECT true, (SELECT json_agg(t ORDER BY t.raised, t.item_code) FROM ( \
                SELECT {ITEM_COLUMNS}, p.raised_at AS raised FROM punchlists p \
                  JOIN punchlist_items it ON it.workspace_id = p.workspace_id AND it.punchlist_id = p.id \
                 WHERE p.workspace_id = s.workspace_id AND p.workflow_instance_id = s.workflow_instance_id) t) \
           FROM atp_submissions s WHERE s.workspace_id = $1 AND s.id = $2"
    ))
    .bind(m.workspace_id)
    .bind(id)
    .fetch_all(&mut *m.tx)
    .await?;
    drop(m);
    let (_, json) = items
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found("submission"))?;
    let list: Vec<Item> = match json {
        Some(j) => serde_json::from_value(j.0).map_err(ApiError::internal)?,
        None => Vec::new(),
    };
    Ok(ApiJson(list))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RectifyBody {
    /// An EVIDENCE (or any) document of a revision of the same submission.
    pub evidence_document_id: Uuid,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    /// true: the evidence is accepted (VERIFIED); false: back to rectification (REJECTED, reason required).
    pub accept: bool,
    pub reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct LockedItem {
    status: ItemStatus,
    raised_by: Option<i64>,
    instance: Uuid,
    evidence_ok: Option<bool>,
}

async fn lock(
    conn: &mut PgConnection,
    ws: Uuid,
    id: Uuid,
    evidence: Option<Uuid>,
) -> ApiResult<LockedItem> {
    let l: Option<LockedItem> = sqlx::query_as(
        "SELECT it.status, p.raised_by, p.workflow_instance_id AS instance, \
                CASE WHEN $3::uuid IS NULL THEN NULL ELSE EXISTS ( \
                    SELECT 1 FROM atp_submission_documents d JOIN atp_submissions s \
                      ON s.workspace_id = d.workspace_id AND s.id = d.submission_id \
                     WHERE d.workspace_id = $1 AND d.id = $3 AND s.workflow_instance_id = p.workflow_instance_id) END \
                    AS evidence_ok \
           FROM punchlist_items it JOIN punchlists p ON p.workspace_id = it.workspace_id AND p.id = it.punchlist_id \
          WHERE it.workspace_id = $1 AND it.id = $2 AND p.status IN ('OPEN', 'IN_PROGRESS') \
          FOR UPDATE OF it, p",
    )
    .bind(ws)
    .bind(id)
    .bind(evidence)
    .fetch_optional(conn)
    .await?;
    l.ok_or_else(|| ApiError::not_found("punchlist item"))
}

fn one(conn_sql: &str) -> String {
    format!(
        "WITH it AS ({conn_sql} RETURNING *) SELECT {ITEM_COLUMNS} FROM it \
           JOIN punchlists p ON p.workspace_id = it.workspace_id AND p.id = it.punchlist_id"
    )
}

/// Attach the evidence of a rectification (the submitter).
#[utoipa::path(
    post, path = "/workspaces/{ws}/punchlist-items/{id}/rectify", tag = "atp-punchlists", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path)),
    request_body = RectifyBody,
    responses(
        (status = 200, description = "The item, RECTIFIED", body = Item),
        (status = 403, description = "Only DOC_CONTROL / VENDOR rectify", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such open item in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_STATUS_TRANSITION", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The evidence is not a document of this submission", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rectify(
    mut m: Member<Submit>,
    ApiPath((_ws, id)): ApiPath<(String, Uuid)>,
    ApiJson(b): ApiJson<RectifyBody>,
) -> ApiResult<ApiJson<Item>> {
    let l = lock(&mut m.tx, m.workspace_id, id, Some(b.evidence_document_id)).await?;
    if l.evidence_ok != Some(true) {
        return Err(ApiError::validation(
            "evidence_document_id",
            "not a document of this submission",
        ));
    }
    if l.status == ItemStatus::Rectified {
        return Err(ApiError::conflict(
            "INVALID_STATUS_TRANSITION",
            "the item is RECTIFIED already: waiting for verification",
        ));
    }
    l.status.transition(ItemStatus::Rectified)?;
    let it: Item = sqlx::query_as(&one(
        "UPDATE punchlist_items SET status = 'RECTIFIED', evidence_document_id = $3, rectified_at = now(), \
                rejection_reason = NULL WHERE workspace_id = $1 AND id = $2",
    ))
    .bind(m.workspace_id)
    .bind(id)
    .bind(b.evidence_document_id)
    .fetch_one(&mut *m.tx)
    .await?;
    m.commit().await?;
    Ok(ApiJson(it))
}

fn raiser_only(l: &LockedItem, user: i64) -> ApiResult<()> {
    if l.raised_by != Some(user) {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "NOT_RAISER",
            "only the approver who raised the punchlist verifies and closes its items",
        ));
    }
    Ok(())
}

/// Accept or refuse a rectification (the approver who raised the punchlist).
#[utoipa::path(
    post, path = "/workspaces/{ws}/punchlist-items/{id}/verify", tag = "atp-punchlists", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path)),
    request_body = VerifyBody,
    responses(
        (status = 200, description = "The item, VERIFIED or REJECTED", body = Item),
        (status = 403, description = "NOT_RAISER", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such open item in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_STATUS_TRANSITION (not RECTIFIED)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A refusal without a reason", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn verify(
    mut m: Member<Verify>,
    ApiPath((_ws, id)): ApiPath<(String, Uuid)>,
    ApiJson(b): ApiJson<VerifyBody>,
) -> ApiResult<ApiJson<Item>> {
    let reason = b
        .reason
        .as_ref()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if !b.accept && reason.is_none() {
        return Err(ApiError::validation("reason", "a refusal says why"));
    }
    let l = lock(&mut m.tx, m.workspace_id, id, None).await?;
    raiser_only(&l, m.user.id)?;
    let to = if b.accept {
        ItemStatus::Verified
    } else {
        ItemStatus::Rejected
    };
    if l.status != ItemStatus::Rectified {
        return Err(ApiError::conflict(
            "INVALID_STATUS_TRANSITION",
            format!(
                "the item is {}: only a RECTIFIED item is verified",
                l.status
            ),
        ));
    }
    l.status.transition(to)?;
    let it: Item = sqlx::query_as(&one(
        "UPDATE punchlist_items SET status = $3, verified_by = CASE WHEN $3 = 'VERIFIED' THEN $4 END, \
                verified_at = CASE WHEN $3 = 'VERIFIED' THEN now() END, rejection_reason = $5 \
          WHERE workspace_id = $1 AND id = $2",
    ))
    .bind(m.workspace_id)
    .bind(id)
    .bind(to)
    .bind(m.user.id)
    .bind(reason.filter(|_| !b.accept))
    .fetch_one(&mut *m.tx)
    .await?;
    m.commit().await?;
    Ok(ApiJson(it))
}

/// Close a verified item (its raiser). The last item of the instance's open punchlists completes a chain waiting
/// in APPROVED_WITH_PUNCHLIST.
#[utoipa::path(
    post, path = "/workspaces/{ws}/punchlist-items/{id}/close", tag = "atp-punchlists", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The item, CLOSED", body = Item),
        (status = 403, description = "NOT_RAISER", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such open item in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_STATUS_TRANSITION (not VERIFIED)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn close(
    mut m: Member<Verify>,
    ApiPath((_ws, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<ApiJson<Item>> {
    let ws = m.workspace_id;
    let l = lock(&mut m.tx, ws, id, None).await?;
    raiser_only(&l, m.user.id)?;
    if l.status != ItemStatus::Verified {
        return Err(ApiError::conflict(
            "INVALID_STATUS_TRANSITION",
            format!("the item is {}: only a VERIFIED item is closed", l.status),
        ));
    }
    l.status.transition(ItemStatus::Closed)?;
    let it: Item = sqlx::query_as(&one(
        "UPDATE punchlist_items SET status = 'CLOSED', closed_at = now() WHERE workspace_id = $1 AND id = $2",
    ))
    .bind(ws)
    .bind(id)
    .fetch_one(&mut *m.tx)
    .await?;
    // the punchlist closes with its last item; the chain completes with the last open punchlist
    sqlx::query(
        "WITH pl AS (UPDATE punchlists p SET status = 'CLOSED', closed_by = $4, closed_at = now() \
                      WHERE p.workspace_id = $1 AND p.id = $2 AND NOT EXISTS (SELECT 1 FROM punchlist_items x \
                            WHERE x.workspace_id = $1 AND x.punchlist_id = $2 AND x.status <> 'CLOSED') \
                      RETURNING id), \
              i AS (UPDATE workflow_instances SET status = 'COMPLETED' \
                     WHERE workspace_id = $1 AND id = $3 AND status = 'APPROVED_WITH_PUNCHLIST' \
                       AND EXISTS (SELECT 1 FROM pl) \
                       AND NOT EXISTS (SELECT 1 FROM punchlists q WHERE q.workspace_id = $1 \
                            AND q.workflow_instance_id = $3 AND q.id <> $2 AND q.status IN ('OPEN', 'IN_PROGRESS')) \
                    RETURNING id) \
         UPDATE atp_submissions SET status = 'COMPLETED', completed_at = now() \
          WHERE workspace_id = $1 AND workflow_instance_id = $3 AND status = 'APPROVED_WITH_PUNCHLIST' \
            AND EXISTS (SELECT 1 FROM i)",
    )
    .bind(ws)
    .bind(it.punchlist_id)
    .bind(l.instance)
    .bind(m.user.id)
    .execute(&mut *m.tx)
    .await?;
    m.commit().await?;
    Ok(ApiJson(it))
}
