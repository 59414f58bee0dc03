//! Genealogy: forward traces of a unit (every record in order with operator and equipment; one statement) and
//! backward traces of an operator / equipment over a window.

use crate::flow::{complete, fail, good, new_lot, pass, pass_range, wip};
use crate::helpers::TestApp;
use neurohub_core::auth::Role;
use serde_json::json;
use sqlx::PgPool;

async fn equipment(app: &TestApp, code: &str, process_number: i32) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO equipment (equipment_code, name, process_id) SELECT $1, $2, id FROM processes WHERE process_number = $3 RETURNING id",
    )
    .bind(code)
    .bind(format!("Equipment {code}"))
    .bind(process_number)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn forward_trace_has_every_record_in_order(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, lot_number) = new_lot(&app, 1).await;
    let w = wip(&lot_number, 1);
    let laser = equipment(&app, "LASER-01", 1).await;

    let s = app
        .post(
            Role::Operator,
            "/api/v1/process-data/start",
            &json!({"process_number": 1, "unit": {"wip_id": w}, "equipment_id": laser}),
        )
        .await;
    s.assert_status(201);
    assert_eq!(s.body["equipment_code"], "LASER-01");
    complete(
        &app,
        Role::Operator,
        s.body["id"].as_i64().unwrap(),
        json!({"result": "PASS", "measurements": good(1)}),
    )
    .await
    .assert_status(200);
    // process 2 fails once, is reworked, then passes: two attempts in the trace
    fail(&app, 2, json!({"wip_id": w}), "GAP").await;
    app.post(
        Role::Operator,
        &format!("/api/v1/wip-items/{w}/rework"),
        &json!({}),
    )
    .await
    .assert_status(200);
    pass_range(&app, &w, 2, 8).await;

    let serial = format!("{lot_number}001");
    let res = app
        .get(Role::Viewer, &format!("/api/v1/trace/serials/{serial}"))
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    let b = &res.body;
    assert_eq!(b["serial_number"], serial.as_str());
    assert_eq!(b["wip_id"], w.as_str());
    assert_eq!(b["status"], "COMPLETED");
    assert_eq!(b["wip_status"], "CONVERTED");
    assert_eq!(b["rework_count"], 1);
    assert_eq!(b["lot"]["lot_number"], lot_number.as_str());
    assert_eq!(b["product_model"]["model_code"], "PSA");
    assert_eq!(b["production_line"]["line_code"], "01");
    let recs = b["records"].as_array().unwrap();
    let steps: Vec<(i64, i64, &str)> = recs
        .iter()
        .map(|r| {
            (
                r["process_number"].as_i64().unwrap(),
                r["attempt"].as_i64().unwrap(),
                r["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            (1, 1, "PASS"),
            (2, 1, "FAIL"),
            (2, 2, "PASS"),
            (3, 1, "PASS"),
            (4, 1, "PASS"),
            (5, 1, "PASS"),
            (6, 1, "PASS"),
            (7, 1, "PASS"),
            (8, 1, "PASS")
        ]
    );
    assert_eq!(recs[0]["equipment"]["code"], "LASER-01");
    assert_eq!(recs[0]["operator"]["username"], "operator");
    assert_eq!(recs[0]["operator"]["full_name"], "Test OPERATOR");
    assert_eq!(recs[1]["defects"][0]["code"], "GAP");
    assert_eq!(
        recs[0]["criteria_check"]["marking_depth_um"]["passed"],
        true
    );
    assert_eq!(recs[6]["data_level"], "WIP");
    assert_eq!(recs[8]["data_level"], "SERIAL");
    assert!(recs
        .iter()
        .all(|r| r["duration_seconds"].as_i64().is_some()));

    // the WIP id gives the same genealogy
    let res = app
        .get(Role::Viewer, &format!("/api/v1/trace/wip-items/{w}"))
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(res.body["records"].as_array().unwrap().len(), 9);

    app.get(Role::Viewer, "/api/v1/trace/serials/nope")
        .await
        .assert_problem(400, "INVALID_PATH");
    app.get(
        Role::Viewer,
        &format!("/api/v1/trace/serials/{lot_number}999"),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
}

#[sqlx::test(migrations = false)]
async fn backward_trace_finds_every_unit_touched(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, lot_number) = new_lot(&app, 3).await;
    let laser = equipment(&app, "LASER-02", 1).await;
    for seq in 1..=3 {
        let s = app
            .post(Role::Operator, "/api/v1/process-data/start", &json!({"process_number": 1, "unit": {"wip_id": wip(&lot_number, seq)}, "equipment_id": laser}))
            .await;
        s.assert_status(201);
    }
    pass(&app, 1, json!({"lot_number": lot_number})).await;
    let op = app.user(Role::Operator).id;
    let window = "from=2000-01-01T00:00:00Z&to=2000-01-20T00:00:00Z";
    let res = app
        .get(
            Role::Viewer,
            &format!("/api/v1/trace/backward?operator_id={op}&{window}"),
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.body["items"].as_array().unwrap().len(), 0);

    let now = chrono::Utc::now();
    let from = (now - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let to = (now + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let res = app
        .get(
            Role::Viewer,
            &format!("/api/v1/trace/backward?operator_id={op}&from={from}&to={to}"),
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    let kinds: Vec<&str> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["LOT", "WIP", "WIP", "WIP"]);

    // by equipment, paged
    let mut seen = Vec::new();
    let mut url =
        format!("/api/v1/trace/backward?equipment_id={laser}&from={from}&to={to}&limit=2");
    loop {
        let res = app.get(Role::Viewer, &url).await;
        res.assert_status(200);
        assert_eq!(res.queries(), 1);
        seen.extend(
            res.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["wip_id"].as_str().unwrap().to_string()),
        );
        match res.body["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/trace/backward?equipment_id={laser}&from={from}&to={to}&limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![
            wip(&lot_number, 1),
            wip(&lot_number, 2),
            wip(&lot_number, 3)
        ]
    );

    app.get(
        Role::Viewer,
        &format!("/api/v1/trace/backward?operator_id={op}"),
    )
    .await
    .assert_problem(400, "INVALID_QUERY");
    app.get(
        Role::Viewer,
        &format!("/api/v1/trace/backward?from={from}&to={to}"),
    )
    .await
    .assert_problem(400, "INVALID_QUERY");
    app.get(Role::Viewer, &format!("/api/v1/trace/backward?operator_id={op}&from=2025-01-01T00:00:00Z&to=2025-03-01T00:00:00Z"))
        .await
        .assert_problem(400, "INVALID_QUERY");
}
