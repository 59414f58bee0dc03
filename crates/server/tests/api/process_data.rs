//! Process records: completion validation (defects, severities, criteria), idempotent starts, LOT-level batch
//! records, list / get (one statement each, filters, keyset pages), scan.

use crate::flow::{complete, defect, good, new_lot, pass, start, wip};
use crate::helpers::TestApp;
use neurohub_core::auth::Role;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;

async fn open_record(app: &TestApp, process_number: i32) -> (i64, String) {
    let (_, lot_number) = new_lot(app, 1).await;
    let w = wip(&lot_number, 1);
    for n in 1..process_number {
        pass(app, n, json!({"wip_id": w})).await;
    }
    let s = start(app, Role::Operator, process_number, json!({"wip_id": w})).await;
    s.assert_status(201);
    (s.body["id"].as_i64().unwrap(), lot_number)
}

#[sqlx::test(migrations = false)]
async fn completion_validation(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (id, _) = open_record(&app, 1).await;

    let res = complete(&app, Role::Operator, id, json!({"result": "FAIL"})).await;
    res.assert_problem(422, "VALIDATION_FAILED");
    assert_eq!(res.error_fields(), vec!["defects"]);
    let res = complete(
        &app,
        Role::Operator,
        id,
        json!({"result": "FAIL", "defects": []}),
    )
    .await;
    assert_eq!(res.error_fields(), vec!["defects"]);
    let res = complete(
        &app,
        Role::Operator,
        id,
        json!({"result": "PASS", "measurements": good(1), "defects": defect("X")}),
    )
    .await;
    res.assert_problem(422, "VALIDATION_FAILED");
    assert_eq!(res.error_fields(), vec!["defects"]);
    let res = complete(
        &app,
        Role::Operator,
        id,
        json!({"result": "FAIL", "defects": [{"code": "X", "description": "y", "severity": "HUGE"}]}),
    )
    .await;
    res.assert_problem(422, "VALIDATION_FAILED");
    assert_eq!(res.error_fields(), vec!["defects[0].severity"]);
    let res = complete(&app, Role::Operator, id, json!({"result": "MAYBE"})).await;
    assert_eq!(res.error_fields(), vec!["result"]);
    let res = complete(
        &app,
        Role::Operator,
        id,
        json!({"result": "PASS", "measurements": {"marking_depth_um": [1]}}),
    )
    .await;
    assert_eq!(res.error_fields(), vec!["measurements.marking_depth_um"]);

    // criteria: out of range → CRITERIA_NOT_MET naming the fields; a missing required measurement → 422 on it
    let res = complete(
        &app,
        Role::Operator,
        id,
        json!({"result": "PASS", "measurements": {"marking_depth_um": 60, "legibility_score": 50}}),
    )
    .await;
    res.assert_problem(422, "CRITERIA_NOT_MET");
    assert_eq!(
        res.error_fields(),
        vec![
            "measurements.legibility_score",
            "measurements.marking_depth_um"
        ]
    );
    let res = complete(
        &app,
        Role::Operator,
        id,
        json!({"result": "PASS", "measurements": {"marking_depth_um": 30}}),
    )
    .await;
    res.assert_problem(422, "VALIDATION_FAILED");
    assert_eq!(res.error_fields(), vec!["measurements.legibility_score"]);

    // nothing was completed by the refused requests
    let open: bool =
        sqlx::query_scalar("SELECT completed_at IS NULL FROM process_data WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(open);

    // the same out-of-range values are a valid FAIL, with the check stored
    let res = complete(
        &app,
        Role::Operator,
        id,
        json!({"result": "FAIL", "measurements": {"marking_depth_um": 60, "legibility_score": 95}, "defects": defect("DEEP")}),
    )
    .await;
    res.assert_status(200);
    assert_eq!(res.body["criteria_passed"], false);
    assert_eq!(
        res.body["criteria_check"]["marking_depth_um"]["passed"],
        false
    );
    assert_eq!(
        res.body["criteria_check"]["legibility_score"]["passed"],
        true
    );
    assert_eq!(res.body["defects"][0]["severity"], "MAJOR");
}

#[sqlx::test(migrations = false)]
async fn idempotent_start_retry_replays(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, lot_number) = new_lot(&app, 1).await;
    let body = json!({"process_number": 1, "unit": {"wip_id": wip(&lot_number, 1)}});
    let send = |key: &'static str, body: serde_json::Value| {
        let app = &app;
        async move {
            app.request(
                Method::POST,
                "/api/v1/process-data/start",
                Some(app.token(Role::Operator)),
                Some(&body),
                &[("Idempotency-Key", key)],
            )
            .await
        }
    };
    let first = send("station-1:0001", body.clone()).await;
    first.assert_status(201);
    assert!(first.headers.get("idempotent-replay").is_none());
    assert_eq!(
        first.headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/api/v1/process-data/{}", first.body["id"]).as_str())
    );
    let again = send("station-1:0001", body.clone()).await;
    again.assert_status(201);
    assert_eq!(again.headers.get("idempotent-replay").unwrap(), "true");
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(app.count("process_data").await, 1);
    // same key, different request
    let mut other = body.clone();
    other["notes"] = json!("different");
    send("station-1:0001", other)
        .await
        .assert_problem(422, "IDEMPOTENCY_KEY_REUSED");
    // a new key is new work (and here a conflict)
    send("station-1:0002", body)
        .await
        .assert_problem(409, "PROCESS_ALREADY_OPEN");

    // complete with a key, retried
    let id = first.body["id"].as_i64().unwrap();
    let cbody = json!({"result": "PASS", "measurements": good(1)});
    let path = format!("/api/v1/process-data/{id}/complete");
    let c1 = app
        .request(
            Method::POST,
            &path,
            Some(app.token(Role::Operator)),
            Some(&cbody),
            &[("Idempotency-Key", "c-1")],
        )
        .await;
    c1.assert_status(200);
    let c2 = app
        .request(
            Method::POST,
            &path,
            Some(app.token(Role::Operator)),
            Some(&cbody),
            &[("Idempotency-Key", "c-1")],
        )
        .await;
    c2.assert_status(200);
    assert_eq!(c2.body, c1.body);
}

#[sqlx::test(migrations = false)]
async fn concurrent_same_key_creates_one_record(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool).await);
    let (_, lot_number) = new_lot(&app, 1).await;
    let body = json!({"process_number": 1, "unit": {"wip_id": wip(&lot_number, 1)}});
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let app = app.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            app.request(
                Method::POST,
                "/api/v1/process-data/start",
                Some(app.token(Role::Operator)),
                Some(&body),
                &[("Idempotency-Key", "same")],
            )
            .await
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let res = t.await.unwrap();
        res.assert_status(201);
        ids.push(res.body["id"].as_i64().unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(app.count("process_data").await, 1);
}

#[sqlx::test(migrations = false)]
async fn lot_level_records_and_batch_complete(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (lot_id, lot_number) = new_lot(&app, 2).await;
    // start + complete in one call
    let res = app
        .post(Role::Operator, "/api/v1/process-data/batch-complete", &json!({"lot_number": lot_number, "process_number": 1, "result": "PASS", "measurements": good(1)}))
        .await;
    res.assert_status(200);
    assert_eq!(res.body["data_level"], "LOT");
    assert!(res.body["wip_id"].is_null() && res.body["serial_id"].is_null());
    assert_eq!(res.body["attempt"], 1);
    assert_eq!(res.body["lot"]["status"], "IN_PROGRESS");
    // an open LOT-level record is completed by the batch call
    let s = start(&app, Role::Operator, 2, json!({"lot_id": lot_id})).await;
    s.assert_status(201);
    start(&app, Role::Operator, 2, json!({"lot_id": lot_id}))
        .await
        .assert_problem(409, "PROCESS_ALREADY_OPEN");
    let res = app
        .post(Role::Operator, "/api/v1/process-data/batch-complete", &json!({"lot_id": lot_id, "process_number": 2, "result": "FAIL", "defects": defect("BATCH")}))
        .await;
    res.assert_status(200);
    assert_eq!(res.body["id"], s.body["id"]);
    assert_eq!(res.body["result"], "FAIL");
    // units are untouched by LOT-level records
    let untouched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM wip_items WHERE lot_id = $1 AND status = 'CREATED'",
    )
    .bind(lot_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(untouched, 2);
    app.post(
        Role::Operator,
        "/api/v1/process-data/batch-complete",
        &json!({"process_number": 2, "result": "PASS"}),
    )
    .await
    .assert_problem(422, "VALIDATION_FAILED");
}

#[sqlx::test(migrations = false)]
async fn list_and_get_are_one_statement(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (lot_id, lot_number) = new_lot(&app, 2).await;
    let w1 = wip(&lot_number, 1);
    let w2 = wip(&lot_number, 2);
    for n in 1..=3 {
        pass(&app, n, json!({"wip_id": w1})).await;
    }
    pass(&app, 1, json!({"wip_id": w2})).await;
    let s = start(&app, Role::Operator, 2, json!({"wip_id": w2})).await;

    let res = app.get(Role::Viewer, "/api/v1/process-data").await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    let items = res.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(items[0]["id"], s.body["id"]); // newest first
    assert_eq!(items[0]["operator_username"], "operator");
    assert_eq!(items[0]["process_code"], "LMA_ASSEMBLY");

    let res = app
        .get(
            Role::Viewer,
            &format!(
                "/api/v1/process-data?lot_id={lot_id}&process_id=1&result=PASS&data_level=WIP"
            ),
        )
        .await;
    assert_eq!(res.queries(), 1);
    assert_eq!(res.body["items"].as_array().unwrap().len(), 2);
    let w2_id = s.body["wip_id"].as_i64().unwrap();
    let res = app
        .get(
            Role::Viewer,
            &format!("/api/v1/process-data?wip_id={w2_id}"),
        )
        .await;
    assert_eq!(res.body["items"].as_array().unwrap().len(), 2);
    let op = app.user(Role::Operator).id;
    let res = app
        .get(
            Role::Viewer,
            &format!("/api/v1/process-data?operator_id={op}&started_from=2000-01-01T00:00:00Z"),
        )
        .await;
    assert_eq!(res.body["items"].as_array().unwrap().len(), 5);

    // keyset pages cover everything once
    let mut seen = Vec::new();
    let mut url = "/api/v1/process-data?limit=2".to_string();
    loop {
        let res = app.get(Role::Viewer, &url).await;
        res.assert_status(200);
        assert_eq!(res.queries(), 1);
        seen.extend(
            res.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_i64().unwrap()),
        );
        match res.body["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/process-data?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);

    app.get(Role::Viewer, "/api/v1/process-data?result=MAYBE")
        .await
        .assert_problem(400, "INVALID_QUERY");
    app.get(Role::Viewer, "/api/v1/process-data?bogus=1")
        .await
        .assert_problem(400, "INVALID_QUERY");
    app.get(Role::Viewer, "/api/v1/process-data?cursor=zzz")
        .await
        .assert_problem(400, "INVALID_CURSOR");

    let id = s.body["id"].as_i64().unwrap();
    let res = app
        .get(Role::Viewer, &format!("/api/v1/process-data/{id}"))
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(res.body["wip_code"], w2.as_str());
    assert!(res.body["result"].is_null());
    app.get(Role::Viewer, "/api/v1/process-data/999999")
        .await
        .assert_problem(404, "NOT_FOUND");
}

#[sqlx::test(migrations = false)]
async fn scan_answers_what_a_code_is_and_what_comes_next(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, lot_number) = new_lot(&app, 1).await;
    let w = wip(&lot_number, 1);

    let res = app.get(Role::Operator, &format!("/api/v1/scan/{w}")).await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(res.body["kind"], "WIP");
    assert_eq!(res.body["unit"]["status"], "CREATED");
    assert_eq!(res.body["next"]["action"], "START");
    assert_eq!(res.body["next"]["process"]["process_number"], 1);
    assert_eq!(res.body["lot"]["model_code"], "PSA");

    pass(&app, 1, json!({"wip_id": w})).await;
    let s = start(&app, Role::Operator, 2, json!({"wip_id": w})).await;
    let res = app.get(Role::Operator, &format!("/api/v1/scan/{w}")).await;
    assert_eq!(res.queries(), 1);
    assert_eq!(res.body["next"]["action"], "COMPLETE_OPEN");
    assert_eq!(res.body["open_records"][0]["id"], s.body["id"]);
    assert_eq!(res.body["last_completed"]["process_code"], "LASER_MARKING");
    complete(
        &app,
        Role::Operator,
        s.body["id"].as_i64().unwrap(),
        json!({"result": "FAIL", "defects": defect("GAP")}),
    )
    .await
    .assert_status(200);
    let res = app.get(Role::Operator, &format!("/api/v1/scan/{w}")).await;
    assert_eq!(res.body["next"]["action"], "REWORK_REQUIRED");

    let res = app
        .get(Role::Viewer, &format!("/api/v1/scan/{lot_number}"))
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(res.body["kind"], "LOT");
    assert_eq!(res.body["unit_counts"]["wip_items"]["FAILED"], 1);

    app.get(Role::Viewer, "/api/v1/scan/hello")
        .await
        .assert_problem(400, "UNKNOWN_CODE_FORMAT");
    app.get(Role::Viewer, &format!("/api/v1/scan/{lot_number}999"))
        .await
        .assert_problem(404, "NOT_FOUND");
    app.get(Role::Viewer, "/api/v1/scan/WIP-KR01PSA251199-001")
        .await
        .assert_problem(404, "NOT_FOUND");
}
