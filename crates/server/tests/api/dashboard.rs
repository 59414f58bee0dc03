//! The dashboard after a small known flow: throughput, first-pass yield, open WIP and defects per process, in
//! one statement.

use crate::flow::{complete, fail, good, new_lot, pass, start, wip};
use crate::helpers::TestApp;
use neurohub_core::auth::Role;
use serde_json::{json, Value};
use sqlx::PgPool;

fn process(body: &Value, number: i64) -> &Value {
    body["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["process_number"] == number)
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn dashboard_numbers_after_a_known_flow(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, lot_number) = new_lot(&app, 4).await;
    let (w1, w2, w3) = (
        wip(&lot_number, 1),
        wip(&lot_number, 2),
        wip(&lot_number, 3),
    );
    // unit 1: PASS 1, PASS 2  → waiting at 3
    pass(&app, 1, json!({"wip_id": w1})).await;
    pass(&app, 2, json!({"wip_id": w1})).await;
    // unit 2: FAIL 1 (2 defects), rework, PASS 1 (attempt 2), open at 2
    let s = start(&app, Role::Operator, 1, json!({"wip_id": w2})).await;
    let two = json!([{"code": "SMUDGE", "description": "ink", "severity": "MINOR"}, {"code": "DEPTH", "description": "shallow", "severity": "CRITICAL"}]);
    complete(
        &app,
        Role::Operator,
        s.body["id"].as_i64().unwrap(),
        json!({"result": "FAIL", "defects": two}),
    )
    .await
    .assert_status(200);
    app.post(
        Role::Operator,
        &format!("/api/v1/wip-items/{w2}/rework"),
        &json!({}),
    )
    .await
    .assert_status(200);
    pass(&app, 1, json!({"wip_id": w2})).await;
    start(&app, Role::Operator, 2, json!({"wip_id": w2}))
        .await
        .assert_status(201);
    // unit 3: FAIL 1 → FAILED at 1
    fail(&app, 1, json!({"wip_id": w3}), "SMUDGE").await;
    // unit 4: untouched → waiting at 1

    let res = app.get(Role::Viewer, "/api/v1/dashboard").await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    let b = &res.body;
    let p1 = process(b, 1);
    assert_eq!(
        (
            p1["completed"].as_i64(),
            p1["pass"].as_i64(),
            p1["fail"].as_i64(),
            p1["rework"].as_i64()
        ),
        (Some(4), Some(2), Some(2), Some(0))
    );
    // attempt-1 records at 1: unit1 PASS, unit2 FAIL, unit3 FAIL → 1/3
    assert_eq!(p1["first_attempts"], 3);
    assert_eq!(p1["first_pass"], 1);
    assert!((p1["first_pass_yield"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(
        (
            p1["waiting"].as_i64(),
            p1["failed"].as_i64(),
            p1["in_process"].as_i64()
        ),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(p1["open_wip"], 2);
    let p2 = process(b, 2);
    assert_eq!(
        (p2["completed"].as_i64(), p2["first_pass_yield"].as_f64()),
        (Some(1), Some(1.0))
    );
    assert_eq!(p2["in_process"], 1);
    let p3 = process(b, 3);
    assert_eq!(
        (p3["waiting"].as_i64(), p3["completed"].as_i64()),
        (Some(1), Some(0))
    );
    assert!(p3["first_pass_yield"].is_null());
    let defects: Vec<(String, i64)> = b["defects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        defects,
        vec![("SMUDGE".to_string(), 2), ("DEPTH".to_string(), 1)]
    );
    assert_eq!(b["defects"][1]["critical"], 1);

    // another day has no throughput, but the same open WIP
    let res = app
        .get(Role::Viewer, "/api/v1/dashboard?date=2000-01-01")
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(process(&res.body, 1)["completed"], 0);
    assert_eq!(process(&res.body, 1)["open_wip"], 2);
    assert_eq!(res.body["defects"], json!([]));
    app.get(Role::Viewer, "/api/v1/dashboard?date=yesterday")
        .await
        .assert_problem(400, "INVALID_QUERY");
    let _ = good(1);
}

/// The day filter of the query GET /dashboard really runs (`neurohub_mes::dashboard::SQL`, not a copy) is an
/// index range scan on `idx_process_data_completed_at`, not a scan of every record.
#[sqlx::test(migrations = false)]
async fn dashboard_day_filter_uses_the_completed_at_index(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (lot_id, _) = new_lot(&app, 1).await;
    let wip_pk: i64 = sqlx::query_scalar("SELECT id FROM wip_items WHERE lot_id = $1")
        .bind(lot_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let operator = app.users[&Role::Operator].id;
    // a few thousand unit-level records completed over ~40 days (triggers off: this is plan data, not a flow)
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("ALTER TABLE process_data DISABLE TRIGGER USER")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO process_data (lot_id, wip_id, process_id, operator_id, data_level, result, started_at, completed_at) \
         SELECT $1, $2, 1 + g % 8, $3, 'WIP', 'PASS', now() - g * interval '10 minutes' - interval '1 minute', \
                now() - g * interval '10 minutes' FROM generate_series(1, 6000) AS g",
    )
    .bind(lot_id)
    .bind(wip_pk)
    .bind(operator)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("ALTER TABLE process_data ENABLE TRIGGER USER")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE process_data")
        .execute(&app.pool)
        .await
        .unwrap();

    let plan: Vec<String> =
        sqlx::query_scalar(&format!("EXPLAIN {}", neurohub_mes::dashboard::SQL))
            .bind(chrono::Utc::now().date_naive())
            .bind("UTC")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("idx_process_data_completed_at"), "{plan}");
}

/// The dashboard's day runs from midnight to midnight in the plant's zone: a record completed at 15:30 UTC on
/// 31 March is 00:30 on 1 April in Seoul, so a Seoul plant counts it on 1 April (a UTC day would put it on 31 March).
#[sqlx::test(migrations = false)]
async fn dashboard_day_bounds_follow_the_plant_time_zone(pool: PgPool) {
    let app = TestApp::spawn_in_zone(pool, "Asia/Seoul").await;
    let (lot_id, _) = new_lot(&app, 1).await;
    let wip_pk: i64 = sqlx::query_scalar("SELECT id FROM wip_items WHERE lot_id = $1")
        .bind(lot_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let operator = app.users[&Role::Operator].id;
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("ALTER TABLE process_data DISABLE TRIGGER USER")
        .execute(&mut *tx)
        .await
        .unwrap();
    // process 1 at 23:30 on 31 March in Seoul, process 2 at 00:30 on 1 April in Seoul: both 31 March in UTC
    for (process, at) in [(1, "2026-03-31 14:30:00+00"), (2, "2026-03-31 15:30:00+00")] {
        sqlx::query(
            "INSERT INTO process_data (lot_id, wip_id, process_id, operator_id, data_level, result, started_at, completed_at) \
             VALUES ($1, $2, $3, $4, 'WIP', 'PASS', $5::timestamptz - interval '1 minute', $5::timestamptz)",
        )
        .bind(lot_id)
        .bind(wip_pk)
        .bind(process)
        .bind(operator)
        .bind(at)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    sqlx::query("ALTER TABLE process_data ENABLE TRIGGER USER")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let march = app
        .get(Role::Viewer, "/api/v1/dashboard?date=2026-03-31")
        .await;
    march.assert_status(200);
    assert_eq!(march.body["date"], "2026-03-31");
    assert_eq!(process(&march.body, 1)["completed"], 1);
    assert_eq!(process(&march.body, 2)["completed"], 0);
    let april = app
        .get(Role::Viewer, "/api/v1/dashboard?date=2026-04-01")
        .await;
    assert_eq!(process(&april.body, 1)["completed"], 0);
    assert_eq!(process(&april.body, 2)["completed"], 1);
    assert_eq!(april.queries(), 1);
}
