//! The go / no-go checks that run domain code the binary hands over (`neurohub_server::verify_runtime`): C6
//! (seed 003: runtime progression approve → next stage → completion) through the ATP engine and MES-SEQ (process
//! sequence enforcement) through the MES flow. Each passes on a deployed database, leaves no rows behind, and
//! fails — NO-GO — when the database stops the domain code from doing what it must; without the code, skipped.

use crate::helpers::TestApp;
use neurohub_schema::verify::report::Status;
use neurohub_schema::{verify_report, Decision, ModuleFilter};
use sqlx::PgPool;

/// Rows of every table the probes write, and the users and lots sequences: what a rolled-back probe leaves as
/// it was (the records sequence may advance, like the audit one).
async fn footprint(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT unnest(ARRAY[(SELECT count(*) FROM users), (SELECT count(*) FROM workspaces), \
                (SELECT count(*) FROM workflow_instances), (SELECT count(*) FROM workflow_stages), \
                (SELECT count(*) FROM workflow_stage_actions), (SELECT last_value FROM users_id_seq), \
                (SELECT count(*) FROM lots), (SELECT count(*) FROM wip_items), (SELECT count(*) FROM process_data), \
                (SELECT last_value FROM lots_id_seq)])",
    )
    .fetch_all(pool)
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

#[sqlx::test(migrations = false)]
async fn mes_seq_runs_the_flow_on_the_live_route_and_leaves_nothing(pool: PgPool) {
    let _app = TestApp::spawn(pool.clone()).await;
    let before = footprint(&pool).await;
    let r = verify_report(&pool, ModuleFilter::Mes, neurohub_server::verify_runtime())
        .await
        .unwrap();
    let seq = r.check("MES-SEQ").expect("MES-SEQ in the report");
    assert_eq!(seq.status, Status::Passed, "{seq:?}");
    for step in [
        "process 2 before process 1: refused (409 PROCESS_OUT_OF_SEQUENCE)",
        "process 1 started",
        "process 2 while process 1 is open (no PASS yet): refused",
        "after a PASS at process 1, process 2 started",
    ] {
        assert!(
            seq.details.iter().any(|d| d == step),
            "{step}: {:?}",
            seq.details
        );
    }
    assert_eq!(r.decision, Decision::Go, "{:?}", r.reasons);
    assert_eq!(footprint(&pool).await, before, "MES-SEQ left rows behind");

    // a plant that switched process 1 off: the live route starts at 2, and so does the probe
    sqlx::query("UPDATE processes SET is_active = false WHERE process_number = 1")
        .execute(&pool)
        .await
        .unwrap();
    let r = verify_report(&pool, ModuleFilter::Mes, neurohub_server::verify_runtime())
        .await
        .unwrap();
    let seq = r.check("MES-SEQ").unwrap();
    assert_eq!(seq.status, Status::Passed, "{seq:?}");
    assert!(
        seq.details
            .iter()
            .any(|d| d.starts_with("process 3 before process 2")),
        "{:?}",
        seq.details
    );
}

#[sqlx::test(migrations = false)]
async fn mes_seq_is_no_go_when_the_database_stops_a_legal_start(pool: PgPool) {
    let _app = TestApp::spawn(pool.clone()).await;
    sqlx::raw_sql(
        "CREATE FUNCTION test_refuse_records() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RAISE EXCEPTION 'records are broken'; END $$; \
         CREATE TRIGGER test_refuse_records BEFORE INSERT ON process_data FOR EACH ROW \
           EXECUTE FUNCTION test_refuse_records();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let r = verify_report(&pool, ModuleFilter::Mes, neurohub_server::verify_runtime())
        .await
        .unwrap();
    let seq = r.check("MES-SEQ").unwrap();
    assert_eq!(seq.status, Status::Failed, "{seq:?}");
    assert!(seq.reason.contains("records are broken"), "{}", seq.reason);
    assert_eq!(r.decision, Decision::NoGo);
}
