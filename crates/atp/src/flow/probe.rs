//! The go / no-go check C6 of seed 003 — "runtime progression: approve → next stage → completion" — run through
//! this crate's own engine, not an imitation of it in SQL.
//!
//! `neurohub verify` (crate `neurohub-schema`, which depends on no domain crate) is handed [`progression`] by
//! the binary. Inside the caller's transaction, which is always rolled back, it builds a scratch workspace
//! (four scratch users, an ACTIVE approval matrix with a QA stage, one stage and a parallel pair, a site and a
//! submission in QA_REVIEW), then — under the request role `neurohub_app` with the workspace set, as a request
//! runs, so row-level security applies — calls [`super::engine::review`] and [`super::engine::decide_stage`]
//! exactly as the routes do, and checks each step: QA approval activates stage 2; a stage decided out of turn is
//! refused; approving stage 2 activates the parallel pair; one approval of the pair leaves the chain waiting;
//! the second completes the instance and the submission. Scratch user ids are explicit (`OVERRIDING SYSTEM
//! VALUE`) so no identity sequence moves; UUID keys move nothing.

use sqlx::PgConnection;
use uuid::Uuid;

use neurohub_core::probe::{as_request_role, expect, ProbeFailed as Failed, ProbeFuture};

use super::engine::{decide_stage, review, DecideBody, QaBody};
use super::state::{Decision, QaDecision, SubmissionStatus};

/// C6: walk a scratch submission through QA and every stage with the real engine. `Ok(evidence)` when every
/// step did what the runtime promises, `Err(what went wrong)` otherwise. Leaves its changes in `conn`'s
/// transaction for the caller to roll back, and the role switched to `neurohub_app`.
pub fn progression(conn: &mut PgConnection) -> ProbeFuture<'_> {
    Box::pin(async move { run(conn).await.map_err(|e| e.to_string()) })
}

/// What the probe built: the workspace, the users and the submission.
struct Scratch {
    ws: Uuid,
    qa: i64,
    approvers: [i64; 3],
    submission: Uuid,
}

/// The scratch workspace, its configuration and a submission waiting for QA (as the owner, before the role
/// switch: configuration is written DRAFT, then activated, as the import does).
async fn build(conn: &mut PgConnection) -> Result<Scratch, Failed> {
    let users: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO users (id, username, full_name, password_hash, role) OVERRIDING SYSTEM VALUE \
         SELECT base + n, 'verify_c6_' || n || '_' || base, 'verify C6 probe', '$argon2id$verify', 'VIEWER' \
           FROM (SELECT coalesce(max(id), 0) + 2000000 AS base FROM users) b, generate_series(1, 4) n \
         RETURNING id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let [qa, a1, a2, a3] = users[..] else {
        return Err(Failed(format!(
            "expected 4 scratch users, got {}",
            users.len()
        )));
    };
    let ws: Uuid = sqlx::query_scalar(
        "INSERT INTO workspaces (code, name) \
         VALUES ('VERIFY-C6-' || upper(substr(replace(gen_random_uuid()::text, '-', ''), 1, 20)), \
                 'neurohub verify C6 probe') RETURNING id",
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO workspace_members (workspace_id, user_id, member_role) \
         SELECT $1, u, CASE WHEN u = $2 THEN 'QA' ELSE 'APPROVER' END FROM unnest($3::bigint[]) u",
    )
    .bind(ws)
    .bind(qa)
    .bind(&users)
    .execute(&mut *conn)
    .await?;
    // one APPROVAL_MATRIX version (roles, policy, stages) and one SCOPE_CONFIG version (the scope), DRAFT
    let (matrix, scope_cfg): (Uuid, Uuid) = sqlx::query_as(
        "WITH m AS (INSERT INTO config_versions (workspace_id, source_type, version_number, validation_status, checksum) \
                    VALUES ($1, 'APPROVAL_MATRIX', 1, 'VALID', repeat('6', 64)) RETURNING id), \
              s AS (INSERT INTO config_versions (workspace_id, source_type, version_number, validation_status, checksum) \
                    VALUES ($1, 'SCOPE_CONFIG', 1, 'VALID', repeat('6', 64)) RETURNING id) \
         SELECT m.id, s.id FROM m, s",
    )
    .bind(ws)
    .fetch_one(&mut *conn)
    .await?;
    let scope: Uuid = sqlx::query_scalar(
        "INSERT INTO atp_scope_master (workspace_id, config_version_id, scope_code, scope_name, scope_group, atp_category) \
         VALUES ($1, $2, 'VERIFY_SCOPE', 'verify scope', 'RAN', 'RAN_MW') RETURNING id",
    )
    .bind(ws)
    .bind(scope_cfg)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "WITH qa AS (INSERT INTO approval_role_master (workspace_id, config_version_id, role_code, role_name, \
                            stage_group, hierarchy_order) \
                     VALUES ($1, $2, 'VERIFY_QA', 'verify QA', 'QA', 1) RETURNING id), \
              ap AS (INSERT INTO approval_role_master (workspace_id, config_version_id, role_code, role_name, \
                            stage_group, hierarchy_order, is_final_approver) \
                     VALUES ($1, $2, 'VERIFY_APPROVER', 'verify approver', 'TECH', 2, true) RETURNING id), \
              p AS (INSERT INTO approval_policy_master (workspace_id, config_version_id, policy_code, policy_name, \
                            atp_category) \
                    VALUES ($1, $2, 'VERIFY_C6', 'verify C6 chain', 'RAN_MW') RETURNING id) \
         INSERT INTO approval_policy_stages (workspace_id, config_version_id, policy_id, stage_number, stage_name, \
                sequence_order, role_id, parallel_group, sla_hours, assignment_mode, static_user_id) \
         SELECT $1, $2, p.id, x.n, x.name, x.seq, CASE WHEN x.n = 1 THEN qa.id ELSE ap.id END, x.grp, 24, \
                CASE WHEN x.n = 1 THEN 'CLUSTER' ELSE 'STATIC_USER' END, x.usr \
           FROM p, qa, ap, (VALUES (1, 'QA pre-approval', 1, NULL::int, NULL::bigint), \
                                  (2, 'technical review', 2, NULL, $3), \
                                  (3, 'parallel review A', 3, 1, $4), \
                                  (4, 'parallel review B', 3, 1, $5)) AS x(n, name, seq, grp, usr)",
    )
    .bind(ws)
    .bind(matrix)
    .bind(a1)
    .bind(a2)
    .bind(a3)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE config_versions SET status = 'ACTIVE', activated_at = now() \
          WHERE workspace_id = $1 AND id = ANY($2)",
    )
    .bind(ws)
    .bind([matrix, scope_cfg])
    .execute(&mut *conn)
    .await?;
    let submission: Uuid = sqlx::query_scalar(
        "WITH site AS (INSERT INTO sites (workspace_id, site_id, site_name) \
                       VALUES ($1, 'VERIFY-C6', 'verify C6 site') RETURNING id) \
         INSERT INTO atp_submissions (workspace_id, submission_code, site_id, scope_id, atp_category, status, \
                created_by, submitted_by, submitted_at) \
         SELECT $1, 'VERIFY-C6-1', site.id, $2, 'RAN_MW', 'QA_REVIEW', $3, $3, now() FROM site RETURNING id",
    )
    .bind(ws)
    .bind(scope)
    .bind(a1)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Scratch {
        ws,
        qa,
        approvers: [a1, a2, a3],
        submission,
    })
}

/// Act as `user` in `ws`, the way a request's transaction does.
async fn act_as(conn: &mut PgConnection, ws: Uuid, user: i64) -> Result<(), Failed> {
    let ctx = neurohub_core::context::RequestContext {
        user_id: Some(user),
        request_id: Some("neurohub-verify-c6".into()),
        ..Default::default()
    }
    .in_workspace(ws);
    neurohub_core::context::set(conn, &ctx).await?;
    Ok(())
}

/// The stages' statuses in stage order, and the instance's status.
async fn progress(
    conn: &mut PgConnection,
    ws: Uuid,
    submission: Uuid,
) -> Result<(Vec<(Uuid, String)>, String), Failed> {
    let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT st.id, st.status, i.status FROM atp_submissions s \
           JOIN workflow_instances i ON i.workspace_id = s.workspace_id AND i.id = s.workflow_instance_id \
           JOIN workflow_stages st ON st.workspace_id = i.workspace_id AND st.workflow_instance_id = i.id \
          WHERE s.workspace_id = $1 AND s.id = $2 ORDER BY st.stage_number",
    )
    .bind(ws)
    .bind(submission)
    .fetch_all(&mut *conn)
    .await?;
    let instance = rows.first().map(|r| r.2.clone()).unwrap_or_default();
    Ok((
        rows.into_iter().map(|(id, s, _)| (id, s)).collect(),
        instance,
    ))
}

fn statuses(stages: &[(Uuid, String)]) -> String {
    stages
        .iter()
        .map(|s| s.1.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn approve() -> DecideBody {
    DecideBody {
        decision: Decision::Approve,
        comment: Some("verify C6".into()),
        items: None,
    }
}

async fn run(conn: &mut PgConnection) -> Result<Vec<String>, Failed> {
    let s = build(conn).await?;
    let [a1, a2, a3] = s.approvers;
    as_request_role(conn).await?;
    let mut evidence = vec![
        "scratch workspace: a 4-stage RAN_MW chain (QA, stage 2, parallel stages 3 + 4), run under neurohub_app"
            .to_string(),
    ];

    act_as(conn, s.ws, s.qa).await?;
    let sub = review(
        conn,
        s.ws,
        s.qa,
        s.submission,
        &QaBody {
            decision: QaDecision::Approve,
            comment: None,
        },
    )
    .await?;
    expect(
        sub.status == SubmissionStatus::InApproval,
        format!("QA approval left the submission {}", sub.status),
    )?;
    let (stages, _) = progress(conn, s.ws, s.submission).await?;
    expect(
        statuses(&stages) == "APPROVED, ACTIVE, PENDING, PENDING",
        format!(
            "after QA approval the stages are {} (expected APPROVED, ACTIVE, PENDING, PENDING)",
            statuses(&stages)
        ),
    )?;
    evidence.push("QA approval started the instance and activated stage 2".into());

    // out of turn: stage 3 is PENDING, its approver must be refused
    act_as(conn, s.ws, a2).await?;
    sqlx::query("SAVEPOINT c6_out_of_turn")
        .execute(&mut *conn)
        .await?;
    let early = decide_stage(conn, s.ws, a2, stages[2].0, &approve()).await;
    sqlx::query("ROLLBACK TO SAVEPOINT c6_out_of_turn")
        .execute(&mut *conn)
        .await?;
    match early {
        Err(e) if e.code == "OUT_OF_TURN" => {
            evidence.push("stage 3 decided out of turn: refused (409 OUT_OF_TURN)".into())
        }
        Err(e) => {
            return Err(Failed(format!(
                "stage 3 decided out of turn was refused with {} instead of OUT_OF_TURN",
                e.code
            )))
        }
        Ok(_) => {
            return Err(Failed(
                "stage 3 was decided while stage 2 was still active".into(),
            ))
        }
    }

    act_as(conn, s.ws, a1).await?;
    let d = decide_stage(conn, s.ws, a1, stages[1].0, &approve()).await?;
    let mut activated = d.activated.clone();
    activated.sort();
    let mut pair = vec![stages[2].0, stages[3].0];
    pair.sort();
    expect(
        activated == pair,
        format!(
            "approving stage 2 activated {:?}, not the parallel pair",
            d.activated
        ),
    )?;
    evidence.push("approving stage 2 activated parallel stages 3 and 4 together".into());

    act_as(conn, s.ws, a2).await?;
    let d = decide_stage(conn, s.ws, a2, stages[2].0, &approve()).await?;
    expect(
        d.instance_status == "IN_PROGRESS" && d.activated.is_empty(),
        format!(
            "one approval of the parallel pair left the instance {}",
            d.instance_status
        ),
    )?;
    evidence.push("one approval of the pair: the instance waits for the other".into());

    act_as(conn, s.ws, a3).await?;
    let d = decide_stage(conn, s.ws, a3, stages[3].0, &approve()).await?;
    expect(
        d.instance_status == "COMPLETED",
        format!("the last approval left the instance {}", d.instance_status),
    )?;
    let (stages, instance) = progress(conn, s.ws, s.submission).await?;
    let (sub_status, completed): (String, bool) = sqlx::query_as(
        "SELECT s.status, i.completed_at IS NOT NULL FROM atp_submissions s \
           JOIN workflow_instances i ON i.workspace_id = s.workspace_id AND i.id = s.workflow_instance_id \
          WHERE s.workspace_id = $1 AND s.id = $2",
    )
    .bind(s.ws)
    .bind(s.submission)
    .fetch_one(&mut *conn)
    .await?;
    expect(
        instance == "COMPLETED" && completed && sub_status == "COMPLETED" && statuses(&stages) == "APPROVED, APPROVED, APPROVED, APPROVED",
        format!("after the last approval: instance {instance} (completed_at set: {completed}), submission {sub_status}, stages {}", statuses(&stages)),
    )?;
    let actions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM workflow_stage_actions WHERE workspace_id = $1")
            .bind(s.ws)
            .fetch_one(&mut *conn)
            .await?;
    evidence.push(format!(
        "the second approval completed the instance and the submission; {actions} stage actions recorded"
    ));
    Ok(evidence)
}
