//! The workflow engine: the QA pre-approval that starts (or resumes) a chain, routing frozen at start, stage
//! activation with SLA due times, and stage decisions.
//!
//! **Routing** (one transaction, on the QA approval): the policy of the workspace's ACTIVE APPROVAL_MATRIX for
//! (category, scope, vendor) — the most specific one: vendor-specific before all-vendors, scope-specific before
//! all-scopes — its stages, and each stage's approver (CLUSTER: the site's cluster's approver for the role in the
//! ACTIVE CLUSTER_MAPPING, the backup when the primary is absent now; STATIC_USER: the stage's user; RULE: the
//! least-loaded active member with the rule's `member_role`; AUTO: none, the stage is SKIPPED as a system decision).
//! The instance is pinned to the matrix version and policy (`fk_workflow_instances_config_version`, NH106), and
//! `routing_snapshot` records what was resolved: activating a newer configuration changes nothing that runs.
//!
//! The policy's QA stages (role stage group `QA`, the shipped chains' stage 1 `QA_PRE`) are the QA pre-approval
//! itself: they are recorded APPROVED by the QA reviewer, so the timeline shows the whole chain.
//!
//! **Steps**: stages are ordered by `sequence_order`; stages sharing a `parallel_group` form one step and are
//! active together; the chain moves on when every stage of the step is APPROVED (or SKIPPED).
//!
//! **Decisions** lock the stage and its instance (`FOR UPDATE OF`), so of two concurrent decisions exactly one
//! finds the stage ACTIVE; the other sees it decided (409 ALREADY_DECIDED). A REJECT cancels the remaining
//! stages and returns the submission; the next revision, once QA approves it, resumes the *same* instance at
//! the rejecting stage (REJECTED / CANCELLED stages back to PENDING, earlier approvals kept; the history is in
//! `workflow_stage_actions`, append-only).

use super::delegation::{DELEGATION_JOINS, EFFECTIVE_APPROVER};
use super::state::{Decision, QaDecision, StageStatus, SubmissionStatus};
use super::submissions::{Submission, COLUMNS as SUBMISSION_COLUMNS};
use super::{Decide, QaReview};
use crate::member::Member;
use crate::state::{AssignmentMode, AtpCategory};
use chrono::{DateTime, Utc};
use neurohub_core::states::StateMachine;
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiResult, AppState, Problem};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgConnection;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(qa_review))
        .routes(routes!(decide))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QaBody {
    pub decision: QaDecision,
    /// Required for REJECT: what the submitter must rectify.
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideBody {
    pub decision: Decision,
    /// Required for REJECT.
    pub comment: Option<String>,
    /// The punchlist of an APPROVE_WITH_PUNCHLIST (required for it, refused otherwise). A CRITICAL item makes
    /// the decision a REJECT.
    pub items: Option<Vec<super::punchlists::NewItem>>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Stage {
    pub id: Uuid,
    pub workflow_instance_id: Uuid,
    pub stage_number: i32,
    pub stage_name: String,
    pub sequence_order: i32,
    pub parallel_group: Option<i32>,
    pub assigned_approver_id: Option<i64>,
    pub status: StageStatus,
    pub sla_hours: i32,
    pub activated_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision: Option<Decision>,
    pub decision_comment: Option<String>,
}

const STAGE_COLUMNS: &str = "id, workflow_instance_id, stage_number, stage_name, sequence_order, parallel_group, \
    assigned_approver_id, status, sla_hours, activated_at, due_at, decided_by, decided_at, decision, decision_comment";

/// A decision's outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct Decided {
    pub stage: Stage,
    /// The stages this decision activated.
    pub activated: Vec<Uuid>,
    /// The instance's status afterwards.
    pub instance_status: String,
}

fn comment_required(decision_is_reject: bool, c: &Option<String>) -> ApiResult<Option<String>> {
    let c = c
        .as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if c.as_ref().is_some_and(|s| s.chars().count() > 4000) {
        return Err(ApiError::validation("comment", "at most 4000 characters"));
    }
    if decision_is_reject && c.is_none() {
        return Err(ApiError::validation(
            "comment",
            "a rejection says what to rectify",
        ));
    }
    Ok(c)
}

#[derive(sqlx::FromRow)]
struct ForReview {
    status: SubmissionStatus,
    workflow_instance_id: Option<Uuid>,
    site_id: Uuid,
    scope_id: Uuid,
    vendor_id: Option<Uuid>,
    atp_category: AtpCategory,
    site_code: String,
    cluster_code: Option<String>,
    scope_code: String,
    vendor_code: Option<String>,
}

/// The QA pre-approval of a submitted revision: APPROVE starts its chain (or resumes it at the stage that
/// rejected the previous revision); REJECT returns it to the submitter with the comment.
#[utoipa::path(
    post, path = "/workspaces/{ws}/submissions/{id}/qa-review", tag = "atp-workflow", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path)),
    request_body = QaBody,
    responses(
        (status = 200, description = "The revision, IN_APPROVAL or QA_REJECTED", body = Submission),
        (status = 403, description = "Only QA members review", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such submission in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_STATUS_TRANSITION (not in QA_REVIEW)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "NO_POLICY / NO_APPROVER (the stage, role and cluster named) / a comment missing", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn qa_review(
    mut m: Member<QaReview>,
    ApiPath((_ws, id)): ApiPath<(String, Uuid)>,
    ApiJson(b): ApiJson<QaBody>,
) -> ApiResult<ApiJson<Submission>> {
    let s = review(&mut m.tx, m.workspace_id, m.user.id, id, &b).await?;
    m.commit().await?;
    Ok(ApiJson(s))
}

/// The QA review of submission `id` by `user`, on the caller's transaction (which the caller commits): the route
/// above, and the go / no-go check C6, which walks a scratch submission through the real runtime.
pub async fn review(
    conn: &mut PgConnection,
    ws: Uuid,
    user: i64,
    id: Uuid,
    b: &QaBody,
) -> ApiResult<Submission> {
    let comment = comment_required(b.decision == QaDecision::Reject, &b.comment)?;
    let r: Option<ForReview> = sqlx::query_as(
        "SELECT s.status, s.workflow_instance_id, s.site_id, s.scope_id, s.vendor_id, s.atp_category, \
                si.site_id AS site_code, si.cluster_code, sc.scope_code, v.vendor_code \
           FROM atp_submissions s \
           JOIN sites si ON si.workspace_id = s.workspace_id AND si.id = s.site_id \
           JOIN atp_scope_master sc ON sc.workspace_id = s.workspace_id AND sc.id = s.scope_id \
           LEFT JOIN vendor_master v ON v.workspace_id = s.workspace_id AND v.id = s.vendor_id \
          WHERE s.workspace_id = $1 AND s.id = $2 FOR UPDATE OF s",
    )
    .bind(ws)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let r = r.ok_or_else(|| ApiError::not_found("submission"))?;
    if r.status != SubmissionStatus::QaReview {
        // explicit: the machine admits self-transitions, and a second QA_REJECT must not pass as one
        return Err(ApiError::conflict(
            "INVALID_STATUS_TRANSITION",
            format!(
                "only a revision in QA_REVIEW is reviewed; this one is {}",
                r.status
            ),
        )
        .with_field("status", format!("{} cannot be reviewed", r.status)));
    }
    if b.decision == QaDecision::Reject {
        r.status.transition(SubmissionStatus::QaRejected)?;
        let s: Submission = sqlx::query_as(&format!(
            "UPDATE atp_submissions SET status = 'QA_REJECTED', qa_reviewed_by = $3, qa_reviewed_at = now(), \
                    qa_comment = $4 WHERE workspace_id = $1 AND id = $2 RETURNING {SUBMISSION_COLUMNS}"
        ))
        .bind(ws)
        .bind(id)
        .bind(user)
        .bind(comment.as_deref())
        .fetch_one(&mut *conn)
        .await?;
        return Ok(s);
    }
    r.status.transition(SubmissionStatus::InApproval)?;
    let instance = match r.workflow_instance_id {
        Some(instance) => {
            resume(&mut *conn, ws, instance).await?;
            instance
        }
        None => start(&mut *conn, ws, user, &r).await?,
    };
    let s: Submission = sqlx::query_as(&format!(
        "UPDATE atp_submissions SET status = 'IN_APPROVAL', qa_reviewed_by = $3, qa_reviewed_at = now(), \
                qa_comment = $4, workflow_instance_id = $5 WHERE workspace_id = $1 AND id = $2 \
         RETURNING {SUBMISSION_COLUMNS}"
    ))
    .bind(ws)
    .bind(id)
    .bind(user)
    .bind(comment.as_deref())
    .bind(instance)
    .fetch_one(&mut *conn)
    .await?;
    // advance may complete the chain (every stage QA or AUTO): then answer the revision as it is now
    let s = if matches!(
        advance(&mut *conn, ws, instance).await?,
        Advanced::Completed | Advanced::ApprovedWithPunchlist
    ) {
        sqlx::query_as::<_, Submission>(&format!(
            "SELECT {SUBMISSION_COLUMNS} FROM atp_submissions WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(ws)
        .bind(id)
        .fetch_one(&mut *conn)
        .await?
    } else {
        s
    };
    Ok(s)
}

/// One policy stage with what routing resolved for it.
#[derive(Debug, sqlx::FromRow)]
struct Routed {
    policy_id: Uuid,
    policy_code: String,
    config_version_id: Uuid,
    cluster_id: Option<Uuid>,
    cluster_version_id: Option<Uuid>,
    region: Option<String>,
    policy_stage_id: Uuid,
    stage_number: i32,
    stage_name: String,
    sequence_order: i32,
    parallel_group: Option<i32>,
    sla_hours: i32,
    assignment_mode: AssignmentMode,
    role_id: Uuid,
    role_code: String,
    stage_group: String,
    primary_user_id: Option<i64>,
    backup_user_id: Option<i64>,
    primary_absent: bool,
    /// The absent primary's stand-in named by the absence (before the cluster's backup).
    absence_delegate_id: Option<i64>,
    static_user_id: Option<i64>,
    rule_user_id: Option<i64>,
}

/// Route a submission: pick the policy, resolve every stage's approver, create the instance and its stages.
async fn start(conn: &mut PgConnection, ws: Uuid, qa_user: i64, r: &ForReview) -> ApiResult<Uuid> {
    let rows: Vec<Routed> = sqlx::query_as(
        "WITH pol AS ( \
            SELECT p.id, p.policy_code, p.config_version_id FROM config_versions c \
              JOIN approval_policy_master p ON p.workspace_id = c.workspace_id AND p.config_version_id = c.id \
              LEFT JOIN atp_scope_master ps ON ps.workspace_id = p.workspace_id AND ps.id = p.scope_id \
              LEFT JOIN vendor_master pv ON pv.workspace_id = p.workspace_id AND pv.id = p.vendor_id \
             WHERE c.workspace_id = $1 AND c.source_type = 'APPROVAL_MATRIX' AND c.status = 'ACTIVE' \
               AND p.is_active AND p.atp_category = $2 \
               AND (p.scope_id IS NULL OR ps.scope_code = $3) AND (p.vendor_id IS NULL OR pv.vendor_code = $4) \
             ORDER BY (p.vendor_id IS NOT NULL) DESC, (p.scope_id IS NOT NULL) DESC, p.policy_code LIMIT 1), \
         cl AS ( \
            SELECT cm.id, cm.config_version_id, cm.region FROM config_versions c \
              JOIN cluster_master cm ON cm.workspace_id = c.workspace_id AND cm.config_version_id = c.id \
             WHERE c.workspace_id = $1 AND c.source_type = 'CLUSTER_MAPPING' AND c.status = 'ACTIVE' \
               AND cm.is_active AND cm.cluster_code = $5) \
         SELECT pol.id AS policy_id, pol.policy_code, pol.config_version_id, cl.id AS cluster_id, \
                cl.config_version_id AS cluster_version_id, cl.region, \
                st.id AS policy_stage_id, st.stage_number, st.stage_name, st.sequence_order, st.parallel_group, \
                st.sla_hours, st.assignment_mode, r.id AS role_id, r.role_code, r.stage_group, \
                ca.primary_user_id, ca.backup_user_id, \
                COALESCE(EXISTS (SELECT 1 FROM approver_absences ab WHERE ab.workspace_id = $1 \
                    AND ab.user_id = ca.primary_user_id AND now() >= ab.starts_at AND now() < ab.ends_at), false) \
                    AS primary_absent, \
                (SELECT ab.delegate_user_id FROM approver_absences ab WHERE ab.workspace_id = $1 \
                    AND ab.user_id = ca.primary_user_id AND now() >= ab.starts_at AND now() < ab.ends_at LIMIT 1) \
                    AS absence_delegate_id, \
                st.static_user_id, rule.user_id AS rule_user_id \
           FROM pol \
           JOIN approval_policy_stages st ON st.workspace_id = $1 AND st.policy_id = pol.id \
           JOIN approval_role_master r ON r.workspace_id = $1 AND r.id = st.role_id \
           LEFT JOIN cl ON true \
           LEFT JOIN LATERAL ( \
                SELECT a.primary_user_id, a.backup_user_id FROM cluster_approver_master a \
                  JOIN approval_role_master ar ON ar.workspace_id = a.workspace_id AND ar.id = a.role_id \
                 WHERE a.workspace_id = $1 AND a.cluster_id = cl.id AND ar.role_code = r.role_code AND a.is_active \
                   AND a.effective_from <= CURRENT_DATE AND (a.effective_to IS NULL OR a.effective_to >= CURRENT_DATE) \
                 ORDER BY a.effective_from DESC LIMIT 1) AS ca ON true \
           LEFT JOIN LATERAL ( \
                SELECT wm.user_id FROM workspace_members wm \
                 WHERE st.assignment_mode = 'RULE' AND wm.workspace_id = $1 AND wm.is_active \
                   AND wm.member_role = st.assignment_rule ->> 'member_role' \
                 ORDER BY (SELECT count(*) FROM workflow_stages ws2 WHERE ws2.workspace_id = $1 \
                    AND ws2.assigned_approver_id = wm.user_id AND ws2.status = 'ACTIVE'), wm.user_id LIMIT 1) \
                AS rule ON true \
          ORDER BY st.stage_number",
    )
    .bind(ws)
    .bind(r.atp_category)
    .bind(&r.scope_code)
    .bind(r.vendor_code.as_deref())
    .bind(r.cluster_code.as_deref())
    .fetch_all(&mut *conn)
    .await?;
    let Some(first) = rows.first() else {
        return Err(ApiError::unprocessable(
            "NO_POLICY",
            format!(
                "no approval policy of the ACTIVE APPROVAL_MATRIX for category {}, scope {} and vendor {}",
                r.atp_category,
                r.scope_code,
                r.vendor_code.as_deref().unwrap_or("(none)")
            ),
        ));
    };
    let mut stages = Vec::new();
    let mut snapshot = Vec::new();
    for s in &rows {
        let is_qa = s.stage_group == "QA";
        let (approver, how): (Option<i64>, &str) = if is_qa {
            (Some(qa_user), "QA_PRE_APPROVAL")
        } else {
            match s.assignment_mode {
                AssignmentMode::Auto => (None, "AUTO"),
                AssignmentMode::StaticUser => (s.static_user_id, "STATIC_USER"),
                AssignmentMode::Rule => (s.rule_user_id, "RULE"),
                AssignmentMode::Cluster => match (s.primary_user_id, s.primary_absent) {
                    (Some(p), false) => (Some(p), "CLUSTER_PRIMARY"),
                    (Some(_), true) => match s.absence_delegate_id {
                        Some(d) => (Some(d), "ABSENCE_DELEGATE"),
                        None => (s.backup_user_id, "CLUSTER_BACKUP"),
                    },
                    (None, _) => (None, "CLUSTER"),
                },
            }
        };
        if approver.is_none() && s.assignment_mode != AssignmentMode::Auto {
            let cluster = r
                .cluster_code
                .as_deref()
                .unwrap_or("(the site has no cluster)");
            let why = match s.assignment_mode {
                AssignmentMode::Cluster if s.cluster_id.is_none() => format!(
                    "site {} has cluster {cluster}, which is not in the ACTIVE CLUSTER_MAPPING",
                    r.site_code
                ),
                AssignmentMode::Cluster if s.primary_user_id.is_some() => {
                    "its primary approver is absent and it has no backup".to_string()
                }
                AssignmentMode::Cluster => "the cluster has no approver for the role".to_string(),
                _ => "its assignment resolves to no active member".to_string(),
            };
            return Err(ApiError::unprocessable(
                "NO_APPROVER",
                format!(
                    "stage {} ({}) of policy {}: no approver for role {} in cluster {cluster}: {why}",
                    s.stage_number, s.stage_name, s.policy_code, s.role_code
                ),
            )
            .with_field(format!("stages[{}]", s.stage_number), why));
        }
        let status = if is_qa {
            "APPROVED"
        } else if s.assignment_mode == AssignmentMode::Auto {
            "SKIPPED"
        } else {
            "PENDING"
        };
        stages.push(json!({
            "policy_stage_id": s.policy_stage_id, "role_id": s.role_id, "stage_number": s.stage_number,
            "stage_name": s.stage_name, "sequence_order": s.sequence_order, "parallel_group": s.parallel_group,
            "assigned_approver_id": approver, "status": status, "sla_hours": s.sla_hours,
        }));
        snapshot.push(json!({
            "stage_number": s.stage_number, "stage_name": s.stage_name, "role_code": s.role_code,
            "stage_group": s.stage_group, "sequence_order": s.sequence_order, "parallel_group": s.parallel_group,
            "sla_hours": s.sla_hours, "assignment_mode": s.assignment_mode, "resolved_by": how,
            "approver_id": approver, "primary_user_id": s.primary_user_id, "backup_user_id": s.backup_user_id,
        }));
    }
    let snapshot = json!({
        "policy_code": first.policy_code, "policy_id": first.policy_id,
        "approval_matrix_version_id": first.config_version_id,
        "cluster_mapping_version_id": first.cluster_version_id,
        "cluster_code": r.cluster_code, "region": first.region, "site_id": r.site_code,
        "scope_code": r.scope_code, "vendor_code": r.vendor_code, "atp_category": r.atp_category,
        "stages": snapshot,
    });
    // instance, stages and the system's actions for the stages decided at start, in one statement
    let instance: Uuid = sqlx::query_scalar(
        "WITH i AS ( \
            INSERT INTO workflow_instances (workspace_id, config_version_id, site_id, scope_id, policy_id, \
                vendor_id, cluster_id, cluster_code, atp_category, routing_snapshot, started_by) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id), \
         st AS ( \
            INSERT INTO workflow_stages (workspace_id, workflow_instance_id, policy_stage_id, role_id, stage_number, \
                stage_name, sequence_order, parallel_group, assigned_approver_id, status, sla_hours, activated_at, \
                decided_by, decided_at, decision, decision_comment) \
            SELECT $1, i.id, x.policy_stage_id, x.role_id, x.stage_number, x.stage_name, x.sequence_order, \
                   x.parallel_group, x.assigned_approver_id, x.status, x.sla_hours, \
                   CASE WHEN x.status = 'APPROVED' THEN now() END, \
                   CASE WHEN x.status = 'APPROVED' THEN x.assigned_approver_id END, \
                   CASE WHEN x.status = 'APPROVED' THEN now() END, \
                   CASE WHEN x.status = 'APPROVED' THEN 'APPROVE' END, \
                   CASE WHEN x.status = 'APPROVED' THEN 'QA pre-approval' END \
              FROM i, jsonb_to_recordset($12) AS x(policy_stage_id uuid, role_id uuid, stage_number int, \
                   stage_name text, sequence_order int, parallel_group int, assigned_approver_id bigint, \
                   status text, sla_hours int) \
            RETURNING id, workflow_instance_id, status, decided_by), \
         act AS ( \
            INSERT INTO workflow_stage_actions (workspace_id, workflow_instance_id, workflow_stage_id, action, \
                actor_user_id, from_status, to_status, comment, payload) \
            SELECT $1, st.workflow_instance_id, st.id, \
                   CASE st.status WHEN 'APPROVED' THEN 'APPROVE' ELSE 'SKIP' END, st.decided_by, 'PENDING', st.status, \
                   CASE st.status WHEN 'APPROVED' THEN 'QA pre-approval' ELSE 'AUTO assignment: system decision' END, \
                   jsonb_build_object('system', st.status = 'SKIPPED') \
              FROM st WHERE st.status IN ('APPROVED', 'SKIPPED')) \
         SELECT id FROM i",
    )
    .bind(ws)
    .bind(first.config_version_id)
    .bind(r.site_id)
    .bind(r.scope_id)
    .bind(first.policy_id)
    .bind(r.vendor_id)
    .bind(first.cluster_id)
    .bind(r.cluster_code.as_deref())
    .bind(r.atp_category)
    .bind(&snapshot)
    .bind(qa_user)
    .bind(Value::Array(stages))
    .fetch_one(&mut *conn)
    .await?;
    Ok(instance)
}

/// Resume a rejected instance for the next revision: its rejected and cancelled stages are pending again.
async fn resume(conn: &mut PgConnection, ws: Uuid, instance: Uuid) -> ApiResult<()> {
    let n: i64 = sqlx::query_scalar(
        "WITH i AS (UPDATE workflow_instances SET status = 'IN_PROGRESS', completed_at = NULL \
                     WHERE workspace_id = $1 AND id = $2 AND status = 'REJECTED' RETURNING id), \
              s AS (UPDATE workflow_stages SET status = 'PENDING', decision = NULL, decided_by = NULL, \
                           decided_at = NULL, decision_comment = NULL, activated_at = NULL, due_at = NULL, \
                           breached_at = NULL \
                     WHERE workspace_id = $1 AND workflow_instance_id = $2 AND status IN ('REJECTED', 'CANCELLED') \
                       AND EXISTS (SELECT 1 FROM i) RETURNING id) \
         SELECT count(*) FROM i",
    )
    .bind(ws)
    .bind(instance)
    .fetch_one(&mut *conn)
    .await?;
    if n == 0 {
        return Err(ApiError::conflict(
            "INSTANCE_NOT_REJECTED",
            "the previous revision's workflow is not REJECTED: nothing to resume",
        ));
    }
    Ok(())
}

/// Activate the next step of an instance (its due times from the stages' SLA hours, ACTIVATE actions), or,
/// when every stage is done, complete it. Returns the activated stages.
pub async fn advance(conn: &mut PgConnection, ws: Uuid, instance: Uuid) -> ApiResult<Advanced> {
    let activated: Vec<(Uuid,)> = sqlx::query_as(
        "WITH st AS ( \
            SELECT id, status, sequence_order, stage_number, \
                   COALESCE('g' || parallel_group::text, 's' || stage_number::text) AS grp \
              FROM workflow_stages WHERE workspace_id = $1 AND workflow_instance_id = $2), \
         steps AS (SELECT grp, min(sequence_order) AS ord, min(stage_number) AS num, \
                          bool_and(status IN ('APPROVED', 'SKIPPED')) AS done FROM st GROUP BY grp), \
         nxt AS (SELECT grp FROM steps WHERE NOT done ORDER BY ord, num LIMIT 1), \
         upd AS ( \
            UPDATE workflow_stages s SET status = 'ACTIVE', activated_at = now(), \
                   due_at = now() + make_interval(hours => s.sla_hours) \
              FROM st JOIN nxt USING (grp) \
             WHERE s.workspace_id = $1 AND s.id = st.id AND st.status = 'PENDING' \
            RETURNING s.id, s.stage_number, s.due_at, s.assigned_approver_id), \
         act AS ( \
            INSERT INTO workflow_stage_actions (workspace_id, workflow_instance_id, workflow_stage_id, action, \
                from_status, to_status, payload) \
            SELECT $1, $2, id, 'ACTIVATE', 'PENDING', 'ACTIVE', \
                   jsonb_build_object('assigned_approver_id', assigned_approver_id, 'due_at', due_at) FROM upd), \
         inst AS ( \
            UPDATE workflow_instances SET current_stage_number = (SELECT min(stage_number) FROM upd), \
                   sla_due_at = (SELECT max(due_at) FROM upd) \
             WHERE workspace_id = $1 AND id = $2 AND EXISTS (SELECT 1 FROM upd)) \
         SELECT id FROM upd",
    )
    .bind(ws)
    .bind(instance)
    .fetch_all(&mut *conn)
    .await?;
    if !activated.is_empty() {
        return Ok(Advanced::Activated(
            activated.into_iter().map(|(id,)| id).collect(),
        ));
    }
    // nothing to activate: either a step is still running, or the chain is done (then complete it)
    let completed: Option<(String,)> = sqlx::query_as(
        "WITH done AS ( \
            SELECT 1 FROM workflow_stages WHERE workspace_id = $1 AND workflow_instance_id = $2 \
            HAVING bool_and(status IN ('APPROVED', 'SKIPPED'))), \
         open AS (SELECT EXISTS (SELECT 1 FROM punchlists WHERE workspace_id = $1 AND workflow_instance_id = $2 \
                    AND status IN ('OPEN', 'IN_PROGRESS')) AS open), \
         i AS (UPDATE workflow_instances SET completed_at = now(), current_stage_number = NULL, \
                      status = CASE WHEN (SELECT open FROM open) THEN 'APPROVED_WITH_PUNCHLIST' ELSE 'COMPLETED' END \
                WHERE workspace_id = $1 AND id = $2 AND status = 'IN_PROGRESS' AND EXISTS (SELECT 1 FROM done) \
                RETURNING status) \
         UPDATE atp_submissions SET status = (SELECT status FROM i), \
                completed_at = CASE WHEN (SELECT status FROM i) = 'COMPLETED' THEN now() END \
          WHERE workspace_id = $1 AND workflow_instance_id = $2 AND status = 'IN_APPROVAL' \
            AND EXISTS (SELECT 1 FROM i) RETURNING status",
    )
    .bind(ws)
    .bind(instance)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match completed {
        Some((s,)) if s == "COMPLETED" => Advanced::Completed,
        Some(_) => Advanced::ApprovedWithPunchlist,
        None => Advanced::Running,
    })
}

/// What [`advance`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Advanced {
    /// These stages became ACTIVE.
    Activated(Vec<Uuid>),
    /// A step is still running (a parallel stage undecided).
    Running,
    /// Every stage was done: the instance and its submission are COMPLETED.
    Completed,
    /// Every stage was done but punchlist items are open: APPROVED_WITH_PUNCHLIST until they are closed.
    ApprovedWithPunchlist,
}

#[derive(sqlx::FromRow)]
struct Locked {
    status: StageStatus,
    assigned_approver_id: Option<i64>,
    workflow_instance_id: Uuid,
    stage_number: i32,
    stage_name: String,
    submission_id: Option<Uuid>,
    /// Who decides it now: the assignee, or their delegate (override) / stand-in (absence) ([`super::delegation`]).
    effective_approver_id: Option<i64>,
    /// The override that delegates it now, if any.
    override_id: Option<Uuid>,
    /// The assignee's absence that hands it to a stand-in now, if any.
    absence_id: Option<Uuid>,
}

/// Decide a stage: only its assigned approver or their active delegate (an APPROVED `approver_overrides` row
/// from the assignee to the caller, valid now, for this stage, submission, cluster or region), only while it is
/// ACTIVE, only once.
#[utoipa::path(
    post, path = "/workspaces/{ws}/stages/{id}/decide", tag = "atp-workflow", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path, description = "workflow stage id")),
    request_body = DecideBody,
    responses(
        (status = 200, description = "The decided stage and what it activated", body = Decided),
        (status = 403, description = "NOT_ASSIGNED: the caller is not this stage's approver", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stage in this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "OUT_OF_TURN (PENDING) / ALREADY_DECIDED", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A comment missing; items missing for APPROVE_WITH_PUNCHLIST or given for another decision", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn decide(
    mut m: Member<Decide>,
    ApiPath((_ws, id)): ApiPath<(String, Uuid)>,
    ApiJson(b): ApiJson<DecideBody>,
) -> ApiResult<ApiJson<Decided>> {
    let d = decide_stage(&mut m.tx, m.workspace_id, m.user.id, id, &b).await?;
    m.commit().await?;
    Ok(ApiJson(d))
}

/// `user`'s decision on stage `id`, on the caller's transaction (which the caller commits): the route above and
/// the go / no-go check C6.
pub async fn decide_stage(
    conn: &mut PgConnection,
    ws: Uuid,
    user: i64,
    id: Uuid,
    b: &DecideBody,
) -> ApiResult<Decided> {
    let items = super::punchlists::check_items(b.decision, b.items.as_deref())?;
    let critical: Vec<&str> = items
        .iter()
        .filter(|i| i.severity == super::state::Severity::Critical)
        .map(|i| i.code.as_str())
        .collect();
    // a critical item blocks approval: the stage rejects, saying which items
    let decision = if critical.is_empty() {
        b.decision
    } else {
        Decision::Reject
    };
    let comment = if critical.is_empty() {
        comment_required(decision == Decision::Reject, &b.comment)?
    } else {
        let given = comment_required(false, &b.comment)?;
        Some(format!(
            "critical punchlist item(s) {}{}",
            critical.join(", "),
            given.map(|c| format!(": {c}")).unwrap_or_default()
        ))
    };
    // the stage and its instance, locked: concurrent decisions of one instance are serialized here
    let l: Option<Locked> = sqlx::query_as(
        &format!(
            "SELECT s.status, s.assigned_approver_id, s.workflow_instance_id, s.stage_number, s.stage_name, \
                (SELECT r.id FROM atp_submissions r WHERE r.workspace_id = s.workspace_id \
                    AND r.workflow_instance_id = s.workflow_instance_id \
                  ORDER BY r.revision_number DESC LIMIT 1) AS submission_id, \
                {EFFECTIVE_APPROVER} AS effective_approver_id, ov.id AS override_id, \
                CASE WHEN ov.id IS NULL AND ab.stand_in IS NOT NULL THEN ab.id END AS absence_id \
           FROM workflow_stages s JOIN workflow_instances i \
             ON i.workspace_id = s.workspace_id AND i.id = s.workflow_instance_id {DELEGATION_JOINS} \
          WHERE s.workspace_id = $1 AND s.id = $2 FOR UPDATE OF s, i"
        ),
    )
    .bind(ws)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let l = l.ok_or_else(|| ApiError::not_found("stage"))?;
    if l.effective_approver_id != Some(user) {
        let why = if l.assigned_approver_id == Some(user) {
            "is delegated to another user while the override or absence lasts"
        } else {
            "is assigned to another approver (and no approved override or absence hands it to you)"
        };
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "NOT_ASSIGNED",
            format!("stage {} ({}) {why}", l.stage_number, l.stage_name),
        ));
    }
    // on behalf of whom, recorded with the decision
    let payload = if l.effective_approver_id != l.assigned_approver_id {
        json!({"on_behalf_of": l.assigned_approver_id, "override_id": l.override_id, "absence_id": l.absence_id})
    } else {
        json!({})
    };
    match l.status {
        StageStatus::Active => {}
        StageStatus::Pending => {
            return Err(ApiError::conflict(
                "OUT_OF_TURN",
                format!(
                    "stage {} ({}) is not active yet: an earlier stage is undecided",
                    l.stage_number, l.stage_name
                ),
            ))
        }
        other => {
            return Err(ApiError::conflict(
                "ALREADY_DECIDED",
                format!(
                    "stage {} ({}) is {other}: it cannot be decided again",
                    l.stage_number, l.stage_name
                ),
            ))
        }
    }
    let to = if decision == Decision::Reject {
        StageStatus::Rejected
    } else {
        StageStatus::Approved
    };
    l.status.transition(to)?;
    let stage: Stage = sqlx::query_as(&format!(
        "WITH s AS (UPDATE workflow_stages SET status = $3, decision = $4, decided_by = $5, decided_at = now(), \
                           decision_comment = $6 WHERE workspace_id = $1 AND id = $2 RETURNING *), \
              a AS (INSERT INTO workflow_stage_actions (workspace_id, workflow_instance_id, workflow_stage_id, \
                           action, actor_user_id, from_status, to_status, comment, payload) \
                    SELECT $1, workflow_instance_id, id, $4, $5, 'ACTIVE', $3, $6, $7 FROM s) \
         SELECT {STAGE_COLUMNS} FROM s"
    ))
    .bind(ws)
    .bind(id)
    .bind(to)
    .bind(decision)
    .bind(user)
    .bind(comment.as_deref())
    .bind(&payload)
    .fetch_one(&mut *conn)
    .await?;
    let instance = l.workflow_instance_id;
    if !items.is_empty() {
        super::punchlists::raise(
            &mut *conn,
            ws,
            instance,
            l.submission_id,
            user,
            &items,
            !critical.is_empty(),
        )
        .await?;
    }
    let (activated, instance_status) = if to == StageStatus::Rejected {
        sqlx::query(
            "WITH o AS (SELECT id, status FROM workflow_stages WHERE workspace_id = $1 AND workflow_instance_id = $2 \
                          AND status IN ('PENDING', 'ACTIVE')), \
                  c AS (UPDATE workflow_stages s SET status = 'CANCELLED' FROM o \
                         WHERE s.workspace_id = $1 AND s.id = o.id RETURNING s.id, o.status AS old), \
                  a AS (INSERT INTO workflow_stage_actions (workspace_id, workflow_instance_id, workflow_stage_id, \
                               action, from_status, to_status, comment) \
                        SELECT $1, $2, id, 'CANCEL', old, 'CANCELLED', 'a stage rejected the submission' FROM c), \
                  i AS (UPDATE workflow_instances SET status = 'REJECTED', completed_at = now() \
                         WHERE workspace_id = $1 AND id = $2 RETURNING id) \
             UPDATE atp_submissions SET status = 'REJECTED' \
              WHERE workspace_id = $1 AND workflow_instance_id = $2 AND status = 'IN_APPROVAL'",
        )
        .bind(ws)
        .bind(instance)
        .execute(&mut *conn)
        .await?;
        (Vec::new(), "REJECTED".to_string())
    } else {
        match advance(&mut *conn, ws, instance).await? {
            Advanced::Activated(ids) => (ids, "IN_PROGRESS".to_string()),
            Advanced::Running => (Vec::new(), "IN_PROGRESS".to_string()),
            Advanced::Completed => (Vec::new(), "COMPLETED".to_string()),
            Advanced::ApprovedWithPunchlist => (Vec::new(), "APPROVED_WITH_PUNCHLIST".to_string()),
        }
    };
    Ok(Decided {
        stage,
        activated,
        instance_status,
    })
}
