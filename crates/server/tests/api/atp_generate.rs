//! The ATP data-set generator (`neurohub seed --workspaces …`, `neurohub_atp::generate`) on a fresh database per
//! test: a generated set passes verify GO; the same seed gives the same rows; RLS keeps the generated workspaces
//! apart; and the data is usable through the API — the busiest approver's ACTIVE stage (the one the bench
//! decides) is listed as pending and decided through the real HTTP route, and the chain moves on.
//!
//! Here rather than in crates/atp/tests: the tests need the deployed schema (neurohub-schema) and the server,
//! which the atp crate may not depend on (tests/layering.rs).

use crate::helpers::TestApp;
use chrono::{DateTime, Utc};
use neurohub_atp::generate::{generate, Spec};
use neurohub_core::auth::Role;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

fn spec(seed: u64) -> Spec {
    Spec {
        workspaces: 2,
        sites: 120,
        submissions: 400,
        random_seed: seed,
        months: 6,
        now: Some(
            DateTime::parse_from_rfc3339("2026-06-15T12:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        ),
    }
}

async fn deploy(pool: &PgPool) {
    neurohub_schema::up(
        pool,
        None,
        &neurohub_schema::Timeouts::default(),
        &mut |_| {},
    )
    .await
    .expect("deploy schema");
}

/// A digest of the generated rows, with the database's own ids (workspaces, configuration, users) replaced by
/// their codes and names.
async fn digest(pool: &PgPool) -> String {
    let parts: Option<String> = sqlx::query_scalar(
        "SELECT string_agg(x, E'\\n' ORDER BY x) FROM (
            SELECT w.code || '|' || s.id || '|' || s.site_id || '|' || s.cluster_code || '|' || s.status || '|'
                   || s.ne_latitude || '|' || s.created_at AS x
              FROM sites s JOIN workspaces w ON w.id = s.workspace_id
            UNION ALL
            SELECT w.code || '|' || a.id || '|' || a.submission_code || '|' || a.revision_number || '|' || a.status
                   || '|' || coalesce(a.workflow_instance_id::text, '-') || '|' || u.username || '|' || a.created_at
                   || '|' || a.updated_at || '|' || coalesce(a.completed_at::text, '-')
              FROM atp_submissions a JOIN workspaces w ON w.id = a.workspace_id JOIN users u ON u.id = a.created_by
            UNION ALL
            SELECT st.id || '|' || st.workflow_instance_id || '|' || st.stage_number || '|' || st.status || '|'
                   || u.username || '|' || coalesce(st.activated_at::text, '-') || '|'
                   || coalesce(st.decided_at::text, '-') || '|' || coalesce(st.breached_at::text, '-')
              FROM workflow_stages st JOIN users u ON u.id = st.assigned_approver_id
            UNION ALL
            SELECT x.id || '|' || x.workflow_stage_id || '|' || x.action || '|' || coalesce(x.from_status, '-')
                   || '|' || coalesce(x.to_status, '-') || '|' || x.created_at || '|'
                   || coalesce(x.comment, '-')
              FROM workflow_stage_actions x
            UNION ALL
            SELECT p.id || '|' || p.status || '|' || i.item_code || '|' || i.status
              FROM punchlists p JOIN punchlist_items i ON i.workspace_id = p.workspace_id AND i.punchlist_id = p.id
         ) t",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    hex::encode(Sha256::digest(parts.unwrap_or_default().as_bytes()))
}

#[sqlx::test(migrations = false)]
async fn a_generated_set_passes_verify_go(pool: PgPool) {
    deploy(&pool).await;
    let r = generate(&pool, &spec(1), &mut |_| {}).await.unwrap();
    assert_eq!(r.workspaces, 2);
    assert_eq!(r.sites, 120);
    assert!(r.submissions >= 400, "{r}");
    assert!(
        r.stages > 0 && r.actions > r.stages && r.audit_logs > 0,
        "{r}"
    );
    let report = neurohub_schema::verify_report(
        &pool,
        neurohub_schema::ModuleFilter::All,
        neurohub_server::verify_runtime(),
    )
    .await
    .unwrap();
    assert_eq!(
        report.decision.exit_code(),
        0,
        "verify: {}",
        report.to_text()
    );
    // every workflow state is there, and the workflow's own invariants hold
    let statuses: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT status FROM atp_submissions ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    for s in [
        "APPROVED_WITH_PUNCHLIST",
        "COMPLETED",
        "DRAFT",
        "IN_APPROVAL",
        "QA_REJECTED",
        "QA_REVIEW",
        "REJECTED",
    ] {
        assert!(statuses.iter().any(|x| x == s), "{s} missing: {statuses:?}");
    }
    let bad: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM workflow_instances i WHERE (i.status = 'IN_PROGRESS') <>
                  ((SELECT count(*) FROM workflow_stages s WHERE s.workspace_id = i.workspace_id
                     AND s.workflow_instance_id = i.id AND s.status = 'ACTIVE') = 1))
              + (SELECT count(*) FROM workflow_instances i JOIN workflow_stages s
                    ON s.workspace_id = i.workspace_id AND s.workflow_instance_id = i.id AND s.status = 'ACTIVE'
                 WHERE i.current_stage_number IS DISTINCT FROM s.stage_number)
              -- no stage active while an earlier one is undecided
              + (SELECT count(*) FROM workflow_stages s JOIN workflow_stages e
                    ON e.workspace_id = s.workspace_id AND e.workflow_instance_id = s.workflow_instance_id
                   AND e.sequence_order < s.sequence_order
                 WHERE s.status = 'ACTIVE' AND e.status NOT IN ('APPROVED', 'SKIPPED'))
              -- every stage's last status change is in the timeline
              + (SELECT count(*) FROM workflow_stages s WHERE s.status <> 'PENDING' AND s.status IS DISTINCT FROM
                    (SELECT x.to_status FROM workflow_stage_actions x WHERE x.workspace_id = s.workspace_id
                       AND x.workflow_stage_id = s.id AND x.from_status <> x.to_status
                     ORDER BY x.created_at DESC, x.action = 'CANCEL' DESC LIMIT 1))
              -- the submission follows its instance
              + (SELECT count(*) FROM atp_submissions a JOIN workflow_instances i
                    ON i.workspace_id = a.workspace_id AND i.id = a.workflow_instance_id
                 WHERE a.status = 'IN_APPROVAL' AND i.status <> 'IN_PROGRESS')
              -- instances are frozen on the ACTIVE matrix version of their workspace
              + (SELECT count(*) FROM workflow_instances i JOIN config_versions c
                    ON c.workspace_id = i.workspace_id AND c.id = i.config_version_id
                 WHERE c.source_type <> 'APPROVAL_MATRIX' OR c.status <> 'ACTIVE' OR c.activated_at > i.started_at)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(bad, 0);
}

/// Generate `spec` into a second fresh database on the same server and digest it (the database is dropped).
async fn digest_elsewhere(pool: &PgPool, spec: &Spec) -> String {
    let name = format!("nh_atpgen_t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(pool)
        .await
        .unwrap();
    let opts = pool.connect_options().as_ref().clone().database(&name);
    let other = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect_with(opts)
        .await
        .unwrap();
    deploy(&other).await;
    generate(&other, spec, &mut |_| {}).await.unwrap();
    let d = digest(&other).await;
    other.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(pool)
        .await
        .unwrap();
    d
}

#[sqlx::test(migrations = false)]
async fn the_same_seed_gives_the_same_rows(pool: PgPool) {
    deploy(&pool).await;
    generate(&pool, &spec(7), &mut |_| {}).await.unwrap();
    let first = digest(&pool).await;
    assert_eq!(
        first,
        digest_elsewhere(&pool, &spec(7)).await,
        "same seed, same rows"
    );
    assert_ne!(
        first,
        digest_elsewhere(&pool, &spec(8)).await,
        "another seed, other rows"
    );
}

#[sqlx::test(migrations = false)]
async fn generated_workspaces_are_isolated_by_rls(pool: PgPool) {
    deploy(&pool).await;
    generate(&pool, &spec(3), &mut |_| {}).await.unwrap();
    let ws: Vec<(uuid::Uuid, i64)> = sqlx::query_as(
        "SELECT w.id, u.id FROM workspaces w JOIN users u ON u.username = 'gen' || substr(w.code, 5)::int || '.qa'
          WHERE w.code IN ('GEN-01', 'GEN-02') ORDER BY w.code",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(ws.len(), 2);
    let tables = [
        "sites",
        "atp_submissions",
        "atp_submission_documents",
        "workflow_instances",
        "workflow_stages",
        "workflow_stage_actions",
        "punchlists",
        "punchlist_items",
    ];
    // (context workspace, user): what the request role sees of each workspace
    for (ctx_ws, user, own) in [
        (ws[0].0, ws[0].1, Some(0)),
        (ws[1].0, ws[1].1, Some(1)),
        // a member of A naming B's workspace: nothing at all
        (ws[1].0, ws[0].1, None),
    ] {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("SET LOCAL ROLE neurohub_app")
            .execute(&mut *tx)
            .await
            .unwrap();
        // the context exactly as a request sets it (the product's one setter)
        let ctx = neurohub_core::context::RequestContext {
            user_id: Some(user),
            ..Default::default()
        };
        neurohub_core::context::set(&mut tx, &ctx.in_workspace(ctx_ws))
            .await
            .unwrap();
        for t in tables {
            let (a, b): (i64, i64) = sqlx::query_as(&format!(
                "SELECT count(*) FILTER (WHERE workspace_id = $1), count(*) FILTER (WHERE workspace_id = $2) FROM {t}"
            ))
            .bind(ws[0].0)
            .bind(ws[1].0)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            match own {
                Some(0) => assert!(a > 0 && b == 0, "{t}: A sees {a} of A, {b} of B"),
                Some(_) => assert!(b > 0 && a == 0, "{t}: B sees {a} of A, {b} of B"),
                None => assert_eq!((a, b), (0, 0), "{t}: a non-member sees rows"),
            }
        }
        tx.rollback().await.unwrap();
    }
}

#[sqlx::test(migrations = false)]
async fn the_busiest_approver_decides_a_generated_stage_through_the_api(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mut s = spec(5);
    // the wall clock: the server's own now() decides "overdue" and the pending list's order
    s.now = None;
    let r = generate(&app.pool, &s, &mut |_| {}).await.unwrap();
    let (busiest, n) = r.busiest_approver.clone().expect("a busiest approver");
    assert!(n > 0);
    // the bench's own sample queries (crates/bench/src/scenario.rs, AtpSample::read)
    let (ws, username, active): (String, String, i64) = sqlx::query_as(
        "SELECT s.workspace_id::text, u.username, count(*) FROM workflow_stages s \
         JOIN users u ON u.id = s.assigned_approver_id \
         WHERE s.status = 'ACTIVE' AND u.is_active \
         GROUP BY 1, 2 ORDER BY 3 DESC, 2 LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((username.as_str(), active as u64), (busiest.as_str(), n));
    let longest: String = sqlx::query_scalar(
        "SELECT a.id::text FROM atp_submissions a \
           JOIN workflow_stage_actions x ON x.workspace_id = a.workspace_id \
            AND x.workflow_instance_id = a.workflow_instance_id \
          WHERE a.workspace_id = $1::uuid GROUP BY a.id ORDER BY count(*) DESC LIMIT 1",
    )
    .bind(&ws)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let uid: i64 = app
        .scalar("SELECT id FROM users WHERE username = $1", username.clone())
        .await;
    let (token, _) = app
        .state
        .tokens
        .issue_access(uid, &username, Role::Viewer)
        .unwrap();
    let pending = app
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/workspaces/{ws}/approvals/pending?limit=100"),
            Some(&token),
            None,
            &[],
        )
        .await;
    pending.assert_status(200);
    let items = pending.body["items"].as_array().expect("items");
    assert!(!items.is_empty(), "{}", pending.text);
    let timeline = app
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/workspaces/{ws}/submissions/{longest}/timeline"),
            Some(&token),
            None,
            &[],
        )
        .await;
    timeline.assert_status(200);
    // decide the first pending stage: APPROVE, as the bench does
    let stage = items[0]["stage_id"].as_str().unwrap().to_string();
    let decided = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/workspaces/{ws}/stages/{stage}/decide"),
            Some(&token),
            Some(&json!({"decision": "APPROVE"})),
            &[],
        )
        .await;
    decided.assert_status(200);
    assert_eq!(decided.body["stage"]["status"], "APPROVED");
    let status = decided.body["instance_status"].as_str().unwrap();
    assert!(
        status == "COMPLETED" || !decided.body["activated"].as_array().unwrap().is_empty(),
        "the chain moves on: {}",
        decided.text
    );
    // a second decision of the same stage is refused: it was really decided
    app.request(
        reqwest::Method::POST,
        &format!("/api/v1/workspaces/{ws}/stages/{stage}/decide"),
        Some(&token),
        Some(&json!({"decision": "APPROVE"})),
        &[],
    )
    .await
    .assert_problem(409, "ALREADY_DECIDED");
    // and someone else's stage is not this approver's to decide
    let other: String = sqlx::query_scalar(
        "SELECT s.id::text FROM workflow_stages s WHERE s.workspace_id = $1::uuid AND s.status = 'ACTIVE' \
            AND s.assigned_approver_id <> $2 LIMIT 1",
    )
    .bind(&ws)
    .bind(uid)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    app.request(
        reqwest::Method::POST,
        &format!("/api/v1/workspaces/{ws}/stages/{other}/decide"),
        Some(&token),
        Some(&json!({"decision": "APPROVE"})),
        &[],
    )
    .await
    .assert_problem(403, "NOT_ASSIGNED");
}
