//! `neurohub verify`'s C6 (seed 003: runtime progression approve → next stage → completion) through the real
//! ATP engine the binary hands over (`neurohub_server::verify_runtime`): it passes on a deployed database, leaves
//! nothing behind, and fails — NO-GO — when the database stops the runtime from progressing.

use crate::helpers::TestApp;
use neurohub_schema::verify::report::Status;
use neurohub_schema::{verify_report, Decision, ModuleFilter};
use sqlx::PgPool;

/// Rows of every table C6 writes, and the users sequence: what a rolled-back probe must leave as it was.
async fn footprint(pool: &PgPool) -> (i64, i64, i64, i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM workspaces), \
                (SELECT count(*) FROM workflow_instances), (SELECT count(*) FROM workflow_stages), \
                (SELECT count(*) FROM workflow_stage_actions), (SELECT last_value FROM users_id_seq)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn c6_walks_a_scratch_submission_through_the_engine_and_leaves_nothing(pool: PgPool) {
    let _app = TestApp::spawn(pool.clone()).await;
    let before = footprint(&pool).await;
    let r = verify_report(&pool, ModuleFilter::Atp, neurohub_server::verify_runtime())
        .await
        .unwrap();
    let c6 = r.check("C6").expect("C6 in the report");
    assert_eq!(c6.status, Status::Passed, "{c6:?}");
    for step in [
        "activated stage 2",
        "OUT_OF_TURN",
        "parallel stages 3 and 4",
        "waits for the other",
        "completed the instance and the submission",
    ] {
        assert!(
            c6.details.iter().any(|d| d.contains(step)),
            "{step}: {:?}",
            c6.details
        );
    }
    assert_eq!(r.decision, Decision::Go, "{:?}", r.reasons);
    assert_eq!(footprint(&pool).await, before, "C6 left rows behind");
}

#[sqlx::test(migrations = false)]
async fn c6_is_no_go_when_the_database_stops_the_chain(pool: PgPool) {
    let _app = TestApp::spawn(pool.clone()).await;
    // a faulty trigger that refuses every approval of an active stage: the runtime cannot progress
    sqlx::raw_sql(
        "CREATE FUNCTION test_refuse_approval() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RAISE EXCEPTION 'approvals are broken'; END $$; \
         CREATE TRIGGER test_refuse_approval BEFORE UPDATE ON workflow_stages FOR EACH ROW \
           WHEN (OLD.status = 'ACTIVE' AND NEW.status = 'APPROVED') EXECUTE FUNCTION test_refuse_approval();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let r = verify_report(&pool, ModuleFilter::Atp, neurohub_server::verify_runtime())
        .await
        .unwrap();
    let c6 = r.check("C6").expect("C6 in the report");
    assert_eq!(c6.status, Status::Failed, "{c6:?}");
    assert!(c6.reason.contains("approvals are broken"), "{}", c6.reason);
    assert_eq!(r.decision, Decision::NoGo);
}

#[sqlx::test(migrations = false)]
async fn c6_without_the_engine_is_skipped_never_passed(pool: PgPool) {
    let _app = TestApp::spawn(pool.clone()).await;
    let r = verify_report(&pool, ModuleFilter::Atp, Default::default())
        .await
        .unwrap();
    let c6 = r.check("C6").expect("C6 in the report");
    assert_eq!(c6.status, Status::Skipped, "{c6:?}");
}
