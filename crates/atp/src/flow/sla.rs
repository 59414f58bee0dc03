//! SLA: the breach sweep with its escalation, and the SLA report (docs/atp-flow.md, "SLA").
//!
//! A stage's due time is set when it becomes active (`engine::advance`: `due_at = activated_at + sla_hours`, the
//! hours of its policy stage, frozen into the stage at routing). [`sweep`] finds the ACTIVE stages past their
//! due time that are not marked yet and, in one statement, marks them (`workflow_stages.breached_at`, and the
//! instance's `sla_breached_at` the first time one of its stages breaches), appends an `SLA_BREACH` and an
//! `ESCALATE` action per stage (the escalation names the stage's backup approver from the routing snapshot and the
//! workspace's active WORKSPACE_ADMINs), and so — through 0008's outbox trigger — writes their notifications.
//!
//! Once per breach: the statement only takes stages with `breached_at IS NULL` (locked, `SKIP LOCKED`), and the
//! unique index `uq_workflow_stage_actions_sla_once` (stage, action, due_at) refuses a second breach or escalation
//! of one activation whatever the writer. Restart-safe: it is one transaction per batch, so a run stopped midway
//! leaves whole batches done and the rest for the next run. The clock is the `now` argument (tests pass a time
//! past the due times; `serve` passes the wall clock).
//!
//! The sweep runs outside any request and must see every workspace while the tables are under FORCEd RLS: it runs
//! on the **owner pool** (the deploying login, superuser or BYPASSRLS like every deploy) with
//! `SET LOCAL row_security = off`, which makes a login that would be filtered fail loudly instead of silently
//! sweeping nothing. `serve` runs it on one node at a time ([`neurohub_core::jobs`], lock [`SWEEP_JOB`]).

use super::ReadSla;
use crate::member::Member;
use chrono::{DateTime, Utc};
use neurohub_core::{ApiError, ApiJson, ApiQuery, ApiResult, AppState, Problem};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The advisory-lock name of the sweep (one node at a time).
pub const SWEEP_JOB: &str = "neurohub.atp.sla_sweep";

/// Stages marked per transaction.
const BATCH: i64 = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sla_report))
}

/// What one [`sweep`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Stages newly marked breached (one SLA_BREACH and one ESCALATE action each).
    pub breached_stages: u64,
    /// Instances marked breached for the first time.
    pub breached_instances: u64,
}

/// Mark every ACTIVE stage due at or before `now` and not marked yet, record its breach and escalation.
/// Idempotent: a second run with the same (or a later) `now` finds nothing already marked.
pub async fn sweep(owner: &PgPool, now: DateTime<Utc>) -> Result<Swept, sqlx::Error> {
    let mut total = Swept::default();
    loop {
        let mut tx = owner.begin().await?;
        sqlx::query("SET LOCAL row_security = off")
            .execute(&mut *tx)
            .await?;
        let (stages, instances): (i64, i64) = sqlx::query_as(
            "WITH due AS ( \
                SELECT s.workspace_id, s.id FROM workflow_stages s \
                 WHERE s.status = 'ACTIVE' AND s.breached_at IS NULL AND s.due_at <= $1 \
                 ORDER BY s.due_at LIMIT $2 FOR UPDATE OF s SKIP LOCKED), \
             st AS ( \
                UPDATE workflow_stages s SET breached_at = $1 FROM due \
                 WHERE s.workspace_id = due.workspace_id AND s.id = due.id AND s.breached_at IS NULL \
                RETURNING s.workspace_id, s.id, s.workflow_instance_id, s.stage_number, s.stage_name, \
                          s.assigned_approver_id, s.due_at), \
             inst AS ( \
                UPDATE workflow_instances i SET sla_breached_at = $1 \
                 WHERE (i.workspace_id, i.id) IN (SELECT workspace_id, workflow_instance_id FROM st) \
                   AND i.sla_breached_at IS NULL RETURNING i.id), \
             who AS ( \
                SELECT st.*, \
                       (SELECT (e ->> 'backup_user_id')::bigint FROM workflow_instances i, \
                               jsonb_array_elements(i.routing_snapshot -> 'stages') AS e \
                         WHERE i.workspace_id = st.workspace_id AND i.id = st.workflow_instance_id \
                           AND (e ->> 'stage_number')::int = st.stage_number) AS backup_user_id, \
                       ARRAY(SELECT m.user_id FROM workspace_members m \
                              WHERE m.workspace_id = st.workspace_id AND m.is_active \
                                AND m.member_role = 'WORKSPACE_ADMIN' ORDER BY m.user_id) AS admin_user_ids \
                  FROM st), \
             act AS ( \
                INSERT INTO workflow_stage_actions (workspace_id, workflow_instance_id, workflow_stage_id, action, \
                       from_status, to_status, comment, payload) \
                SELECT w.workspace_id, w.workflow_instance_id, w.id, x.action, 'ACTIVE', 'ACTIVE', x.comment, \
                       jsonb_build_object('due_at', w.due_at, 'breached_at', $1::timestamptz, \
                                          'assigned_approver_id', w.assigned_approver_id) || x.extra \
                  FROM who w CROSS JOIN LATERAL (VALUES \
                       ('SLA_BREACH', 'stage ' || w.stage_number || ' (' || w.stage_name || ') is past its SLA', \
                        '{}'::jsonb), \
                       ('ESCALATE', 'escalated to the backup approver and the workspace admins', \
                        jsonb_build_object('backup_user_id', w.backup_user_id, \
                            'admin_user_ids', to_jsonb(w.admin_user_ids), \
                            'notify', to_jsonb(ARRAY(SELECT DISTINCT u FROM unnest( \
                                array_remove(ARRAY[w.backup_user_id], NULL) || w.admin_user_ids) AS u \
                                WHERE u IS DISTINCT FROM w.assigned_approver_id ORDER BY u))))) \
                       AS x(action, comment, extra) \
                RETURNING 1) \
             SELECT (SELECT count(*) FROM st), (SELECT count(*) FROM inst)",
        )
        .bind(now)
        .bind(BATCH)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        total.breached_stages += stages as u64;
        total.breached_instances += instances as u64;
        if stages < BATCH {
            return Ok(total);
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportFilter {
    /// Time-to-decision percentiles over the stages decided in the last `days` days, 1..=3650 (default 90).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub days: Option<u32>,
}

/// One group of the report.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct SlaGroup {
    /// `approver`, `role`, `region`, `category` or `total` (the whole workspace).
    pub dimension: String,
    /// The group's key: the approver's user id, the role code, the region, the category; null for `total` (and
    /// for stages without a region / approver).
    pub key: Option<String>,
    /// The approver's username (dimension `approver`).
    pub approver_username: Option<String>,
    /// ACTIVE stages.
    pub open: i64,
    /// ACTIVE stages past their due time.
    pub overdue: i64,
    /// ACTIVE stages the SLA sweep marked breached and escalated.
    pub escalated: i64,
    /// Stages decided in the window.
    pub decided: i64,
    /// Median hours from activation to decision (null without decisions).
    pub p50_hours: Option<f64>,
    /// 90th percentile of hours to decision.
    pub p90_hours: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlaReport {
    pub generated_at: DateTime<Utc>,
    /// The percentile window in days.
    pub days: u32,
    /// Every group: `total` first, then by approver, role, region and category (most overdue first).
    pub groups: Vec<SlaGroup>,
}

/// Open and overdue stages per approver, role, region and category, with time-to-decision percentiles — one
/// statement (GROUPING SETS; `percentile_cont`). The policy's QA stages are not counted: the QA review decides
/// them at routing. Supervisors only: WORKSPACE_ADMIN, QA and VIEWER (an approver sees its own stages in the
/// pending list; submitters do not see approvers' performance).
#[utoipa::path(
    get, path = "/workspaces/{ws}/sla/report", tag = "atp-workflow", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ReportFilter),
    responses(
        (status = 200, description = "The report", body = SlaReport),
        (status = 403, description = "Not a supervising member role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a member of this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "days out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sla_report(
    mut m: Member<ReadSla>,
    ApiQuery(f): ApiQuery<ReportFilter>,
) -> ApiResult<ApiJson<SlaReport>> {
    let days = f.days.unwrap_or(90);
    if !(1..=3650).contains(&days) {
        return Err(ApiError::validation("days", "must be 1..=3650"));
    }
    let generated_at = Utc::now();
    let groups: Vec<SlaGroup> = sqlx::query_as(
        "WITH st AS ( \
            SELECT s.assigned_approver_id::text AS approver, u.username, r.role_code AS role, si.region, \
                   i.atp_category AS category, s.status = 'ACTIVE' AS open, \
                   s.status = 'ACTIVE' AND s.due_at < now() AS overdue, \
                   s.status = 'ACTIVE' AND s.breached_at IS NOT NULL AS escalated, \
                   CASE WHEN s.decided_at >= now() - make_interval(days => $2) \
                        THEN extract(epoch FROM s.decided_at - s.activated_at) / 3600.0 END AS hours \
              FROM workflow_stages s \
              JOIN workflow_instances i ON i.workspace_id = s.workspace_id AND i.id = s.workflow_instance_id \
              JOIN sites si ON si.workspace_id = i.workspace_id AND si.id = i.site_id \
              LEFT JOIN approval_role_master r ON r.workspace_id = s.workspace_id AND r.id = s.role_id \
              LEFT JOIN users u ON u.id = s.assigned_approver_id \
             WHERE s.workspace_id = $1 AND r.stage_group IS DISTINCT FROM 'QA' \
               AND (s.status = 'ACTIVE' OR s.decided_at >= now() - make_interval(days => $2))) \
         SELECT * FROM (SELECT CASE WHEN GROUPING(approver, username) = 0 THEN 'approver' WHEN GROUPING(role) = 0 THEN 'role' \
                     WHEN GROUPING(region) = 0 THEN 'region' WHEN GROUPING(category) = 0 THEN 'category' \
                     ELSE 'total' END AS dimension, \
                COALESCE(approver, role, region, category) AS key, username AS approver_username, \
                count(*) FILTER (WHERE open) AS open, count(*) FILTER (WHERE overdue) AS overdue, \
                count(*) FILTER (WHERE escalated) AS escalated, count(hours) AS decided, \
                percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS p50_hours, \
                percentile_cont(0.9) WITHIN GROUP (ORDER BY hours) AS p90_hours \
           FROM st GROUP BY GROUPING SETS ((), (approver, username), (role), (region), (category))) AS g \
          ORDER BY array_position(ARRAY['total', 'approver', 'role', 'region', 'category'], g.dimension), \
                   g.overdue DESC, g.open DESC, g.key",
    )
    .bind(m.workspace_id)
    .bind(days as i32)
    .fetch_all(&mut *m.tx)
    .await?;
    // a read: the READ ONLY transaction is dropped, not committed (one statement fewer)
    drop(m);
    Ok(ApiJson(SlaReport {
        generated_at,
        days,
        groups,
    }))
}
