//! Read models of the workflow: a submission's timeline and the caller's pending approvals. Each is ONE SQL
//! statement (plus the request's fixed BEGIN / context / resolve / COMMIT: docs/atp-flow.md has the counts).

use super::delegation::{DELEGATION_JOINS, EFFECTIVE_APPROVER};
use super::ReadFlow;
use crate::member::Member;
use crate::state::AtpCategory;
use chrono::{DateTime, Utc};
use neurohub_core::pagination::{Key, List, Page};
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(timeline))
        .routes(routes!(pending))
}

/// One event of a submission's history.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Event {
    /// REVISION (created), SUBMITTED, QA (pre-approval), or STAGE (a workflow_stage_actions row).
    pub kind: String,
    pub at: DateTime<Utc>,
    /// The revision current when it happened.
    pub revision_number: i32,
    pub stage_id: Option<Uuid>,
    pub stage_number: Option<i32>,
    pub stage_name: Option<String>,
    /// Who acted (None: the system).
    pub actor_user_id: Option<i64>,
    /// The stage's assignee at the time (ACTIVATE), or now.
    pub assigned_approver_id: Option<i64>,
    /// CREATED / SUBMITTED / QA_APPROVE / QA_REJECT, or the stage action (ACTIVATE, APPROVE, REJECT, CANCEL …).
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub comment: Option<String>,
}

/// Every revision, QA review, stage assignment, decision and system action of a submission, in order.
#[utoipa::path(
    get, path = "/workspaces/{ws}/submissions/{id}/timeline", tag = "atp-workflow", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path, description = "any revision's id")),
    responses(
        (status = 200, description = "The events, oldest first", body = Vec<Event>),
        (status = 404, description = "No such submission in this workspace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn timeline(
    mut m: Member<ReadFlow>,
    ApiPath((_ws, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<ApiJson<Vec<Event>>> {
    // tie-break inside one transaction (same now()): QA review, then decisions, cancellations, activations
    let rows: Vec<Event> = sqlx::query_as(
        "WITH sub AS (SELECT submission_code FROM atp_submissions WHERE workspace_id = $1 AND id = $2), \
              revs AS (SELECT r.* FROM atp_submissions r JOIN sub USING (submission_code) WHERE r.workspace_id = $1), \
              inst AS (SELECT DISTINCT workflow_instance_id AS id FROM revs WHERE workflow_instance_id IS NOT NULL), \
              ev AS ( \
                SELECT 'REVISION' AS kind, created_at AS at, 0 AS prio, revision_number, NULL::uuid AS stage_id, \
                       NULL::int AS stage_number, NULL::text AS stage_name, created_by AS actor_user_id, \
                       NULL::bigint AS assigned_approver_id, 'CREATED' AS action, NULL::text AS from_status, \
                       'DRAFT'::text AS to_status, remarks AS comment FROM revs \
                UNION ALL \
                SELECT 'SUBMITTED', submitted_at, 0, revision_number, NULL, NULL, NULL, submitted_by, NULL, \
                       'SUBMITTED', 'DRAFT', 'QA_REVIEW', NULL FROM revs WHERE submitted_at IS NOT NULL \
                UNION ALL \
                SELECT 'QA', qa_reviewed_at, 1, revision_number, NULL, NULL, NULL, qa_reviewed_by, NULL, \
                       CASE WHEN status = 'QA_REJECTED' THEN 'QA_REJECT' ELSE 'QA_APPROVE' END, 'QA_REVIEW', \
                       CASE WHEN status = 'QA_REJECTED' THEN 'QA_REJECTED' ELSE 'IN_APPROVAL' END, qa_comment \
                  FROM revs WHERE qa_reviewed_at IS NOT NULL \
                UNION ALL \
                SELECT 'STAGE', a.created_at, \
                       CASE a.action WHEN 'CANCEL' THEN 3 WHEN 'ACTIVATE' THEN 4 ELSE 2 END, \
                       COALESCE((SELECT max(r.revision_number) FROM revs r WHERE r.created_at <= a.created_at), 1), \
                       s.id, s.stage_number, s.stage_name, a.actor_user_id, \
                       COALESCE((a.payload ->> 'assigned_approver_id')::bigint, s.assigned_approver_id), \
                       a.action, a.from_status, a.to_status, a.comment \
                  FROM inst JOIN workflow_stage_actions a ON a.workspace_id = $1 AND a.workflow_instance_id = inst.id \
                  JOIN workflow_stages s ON s.workspace_id = $1 AND s.id = a.workflow_stage_id) \
         SELECT kind, at, revision_number, stage_id, stage_number, stage_name, actor_user_id, assigned_approver_id, \
                action, from_status, to_status, comment \
           FROM ev ORDER BY at, prio, revision_number, stage_number NULLS FIRST",
    )
    .bind(m.workspace_id)
    .bind(id)
    .fetch_all(&mut *m.tx)
    .await?;
    // a read: the READ ONLY transaction is dropped, not committed (one statement fewer)
    drop(m);
    if rows.is_empty() {
        return Err(ApiError::not_found("submission"));
    }
    Ok(ApiJson(rows))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PendingFilter {
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub category: Option<AtpCategory>,
    /// The site's region.
    pub region: Option<String>,
    /// true: only stages past their due time; false: only those not yet due.
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub overdue: Option<bool>,
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A stage waiting for the caller.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct PendingStage {
    pub stage_id: Uuid,
    pub stage_number: i32,
    pub stage_name: String,
    pub workflow_instance_id: Uuid,
    pub submission_id: Uuid,
    pub submission_code: String,
    pub revision_number: i32,
    pub site_id: String,
    pub region: Option<String>,
    pub atp_category: AtpCategory,
    pub activated_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    /// Seconds until due (negative: overdue).
    pub seconds_left: i64,
    pub overdue: bool,
    /// Set when the stage is the caller's through an override or an absence: its assignee.
    pub on_behalf_of: Option<i64>,
}

/// My ACTIVE stages, soonest due first (keyset on (due_at, id), idx_workflow_stages_approver_due): those
/// assigned to me that are not delegated away, and those an approved override or an absence hands to me now —
/// the same rule as the decision's ([`super::delegation::EFFECTIVE_APPROVER`]).
#[utoipa::path(
    get, path = "/workspaces/{ws}/approvals/pending", tag = "atp-workflow", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), PendingFilter),
    responses(
        (status = 200, description = "A page of my pending stages", body = Page<PendingStage>),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a member of this workspace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn pending(
    mut m: Member<ReadFlow>,
    ApiQuery(f): ApiQuery<PendingFilter>,
) -> ApiResult<ApiJson<Page<PendingStage>>> {
    let page = List::<ByDueTime>::fixed(f.limit, f.cursor.as_deref())?;
    let (after_due, after_id) = (page.after_time(0), page.after_uuid(1)?);
    // Per candidate assignee (me, and whoever an override or an absence hands to me now), its ACTIVE stages are
    // read in (due_at, id) order from idx_workflow_stages_approver_due and the delegation rule filters them as they
    // come, so each branch stops after one page; the latest revision is looked up for the page's rows only. The
    // earlier shape (assignee IN (who), one ORDER BY over the join) joined every ACTIVE stage of the approver
    // before its top-N: 2,378 in the reference data set, 76 ms in EXPLAIN, p99 156 ms (docs/performance.md).
    let rows: Vec<PendingStage> = sqlx::query_as(&pending_sql(
        &PendingShape {
            cursor: after_due.is_some(),
            category: f.category.is_some(),
            region: f.region.as_deref().is_some_and(|r| !r.is_empty()),
            overdue: f.overdue.is_some(),
        },
        &page.limit_sql(),
    ))
    .bind(m.workspace_id)
    .bind(m.user.id)
    .bind(after_due)
    .bind(after_id)
    .bind(f.category)
    .bind(f.region.as_deref().filter(|s| !s.is_empty()))
    .bind(f.overdue)
    .fetch_all(&mut *m.tx)
    .await?;
    // a read: the READ ONLY transaction is dropped, not committed (one statement fewer)
    drop(m);
    Ok(ApiJson(page.page(rows, |r, _| {
        vec![r.due_at.into(), r.stage_id.to_string().into()]
    })))
}

/// Which of the pending list's optional predicates a request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PendingShape {
    pub cursor: bool,
    pub category: bool,
    pub region: bool,
    pub overdue: bool,
}

/// The pending list's statement with only the predicates `shape` uses (the parameters keep their numbers: $3/$4
/// the cursor, $5 the category, $6 the region, $7 overdue; every one is bound, typed, whether it is used or not).
///
/// One statement per shape (16 at most), each prepared and cached like any other. The earlier single statement
/// (`$3 IS NULL OR …` for every optional predicate) could not be cached: after five calls PostgreSQL switched it
/// to a generic plan that cannot see the NULLs, which bitmap-scanned and sorted all of the approver's ACTIVE
/// stages (42 ms against 5 ms), so it was planned on every call instead — the planning of a five-join statement
/// was most of what the list cost (docs/performance.md, "ATP pending approvals planned once").
pub(crate) fn pending_sql(shape: &PendingShape, limit: &str) -> String {
    let mut filters = String::new();
    if shape.cursor {
        filters.push_str(
            " AND s.due_at >= $3::timestamptz AND (s.due_at, s.id) > ($3::timestamptz, $4::uuid)",
        );
    }
    if shape.category {
        filters.push_str(" AND i.atp_category = $5::text");
    }
    if shape.region {
        filters.push_str(" AND si.region = $6::text");
    }
    if shape.overdue {
        filters.push_str(" AND (s.due_at < now()) = $7::bool");
    }
    format!(
        "WITH who AS ( \
            SELECT $2::bigint AS uid \
            UNION SELECT o.from_user_id FROM approver_overrides o \
             WHERE o.workspace_id = $1 AND o.to_user_id = $2 AND o.approval_status = 'APPROVED' \
               AND now() >= o.valid_from AND (o.valid_to IS NULL OR now() < o.valid_to) \
            UNION SELECT a.user_id FROM approver_absences a \
             WHERE a.workspace_id = $1 AND now() >= a.starts_at AND now() < a.ends_at \
               AND (a.delegate_user_id IS NULL OR a.delegate_user_id = $2)) \
         SELECT p.stage_id, p.stage_number, p.stage_name, p.workflow_instance_id, sub.id AS submission_id, \
                sub.submission_code, sub.revision_number, p.site_id, p.region, p.atp_category, p.activated_at, \
                p.due_at, floor(extract(epoch FROM p.due_at - now()))::bigint AS seconds_left, \
                p.due_at < now() AS overdue, \
                CASE WHEN p.assigned_approver_id <> $2 THEN p.assigned_approver_id END AS on_behalf_of \
           FROM who CROSS JOIN LATERAL ( \
                SELECT s.id AS stage_id, s.stage_number, s.stage_name, s.workflow_instance_id, s.assigned_approver_id, \
                       s.activated_at, s.due_at, si.site_id, si.region, i.atp_category \
                  FROM workflow_stages s \
                  JOIN workflow_instances i ON i.workspace_id = s.workspace_id AND i.id = s.workflow_instance_id \
                  JOIN sites si ON si.workspace_id = i.workspace_id AND si.id = i.site_id {DELEGATION_JOINS} \
                 WHERE s.workspace_id = $1 AND s.assigned_approver_id = who.uid AND s.status = 'ACTIVE' \
                   AND {EFFECTIVE_APPROVER} = $2{filters} \
                 ORDER BY s.due_at, s.id {limit}) AS p \
           JOIN LATERAL (SELECT r.id, r.submission_code, r.revision_number FROM atp_submissions r \
                          WHERE r.workspace_id = $1 AND r.workflow_instance_id = p.workflow_instance_id \
                          ORDER BY r.revision_number DESC LIMIT 1) AS sub ON true \
          ORDER BY p.due_at, p.stage_id {limit}"
    )
}

neurohub_core::fixed_sort!(
    /// Pending stages, the soonest due first (`idx_workflow_stages_approver_due`).
    ByDueTime, "due_at,id", Asc, [Key::time("s.due_at"), Key::text("s.id")]
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Each shape's statement holds its own predicates and no `$n IS NULL OR …` placeholder for the others: a
    /// placeholder is what made the cached generic plan read every ACTIVE stage of the approver.
    #[test]
    fn the_pending_statement_holds_only_the_predicates_of_its_request() {
        for bits in 0..16u8 {
            let shape = PendingShape {
                cursor: bits & 1 != 0,
                category: bits & 2 != 0,
                region: bits & 4 != 0,
                overdue: bits & 8 != 0,
            };
            let sql = pending_sql(&shape, "LIMIT 51");
            for placeholder in [
                "$3::timestamptz IS NULL",
                "COALESCE($3",
                "$5::text IS NULL",
                "$6::text IS NULL",
                "$7::bool IS NULL",
            ] {
                assert!(
                    !sql.contains(placeholder),
                    "{shape:?}: {placeholder} in {sql}"
                );
            }
            assert_eq!(
                sql.contains("($3::timestamptz, $4::uuid)"),
                shape.cursor,
                "{shape:?}"
            );
            assert_eq!(
                sql.contains("i.atp_category = $5"),
                shape.category,
                "{shape:?}"
            );
            assert_eq!(sql.contains("si.region = $6"), shape.region, "{shape:?}");
            assert_eq!(sql.contains("= $7::bool"), shape.overdue, "{shape:?}");
        }
    }
}
