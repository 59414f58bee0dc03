//! The production flow end to end: lot → WIP through processes 1–6 → serial at 7 → 8 → unit COMPLETED → lot
//! COMPLETED → CLOSED; sequence violations, open records, FAILED / SCRAPPED / COMPLETED units, rework limits,
//! lots on hold, who may complete a record. Shared helpers for the other flow test files live here.

use crate::helpers::{TestApp, TestResponse};
use neurohub_core::auth::Role;
use serde_json::{json, Value};
use sqlx::PgPool;

/// A lot of `qty` units created through POST /lots (as MANAGER). Returns (lot id, lot number).
pub async fn new_lot(app: &TestApp, qty: i32) -> (i64, String) {
    let model = crate::lots::model(app, "PSA").await;
    let line = crate::lots::line(app, "KR", "01").await;
    let lot = crate::lots::create(app, model, line, qty, None).await;
    (
        lot["id"].as_i64().unwrap(),
        lot["lot_number"].as_str().unwrap().to_string(),
    )
}

pub fn wip(lot_number: &str, seq: u16) -> String {
    format!("WIP-{lot_number}-{seq:03}")
}

/// Measurements that meet the seeded quality criteria of each process.
pub fn good(process_number: i32) -> Value {
    match process_number {
        1 => json!({"marking_depth_um": 30, "legibility_score": 95}),
        2 => json!({"torque_nm": 2.0, "gap_mm": 0.1}),
        3 => json!({"offset_mv": 0, "noise_mv": 1}),
        4 => json!({"checksum_ok": true}),
        5 => json!({"screw_torque_nm": 1.0}),
        6 => json!({"max_speed_rpm": 3000, "current_a": 1.2}),
        7 => json!({"barcode_grade": 4}),
        _ => json!({"visual_defects": 0}),
    }
}

pub fn defect(code: &str) -> Value {
    json!([{"code": code, "description": "found at inspection", "severity": "MAJOR"}])
}

pub async fn start(app: &TestApp, role: Role, process_number: i32, unit: Value) -> TestResponse {
    app.post(
        role,
        "/api/v1/process-data/start",
        &json!({"process_number": process_number, "unit": unit}),
    )
    .await
}

pub async fn complete(app: &TestApp, role: Role, id: i64, body: Value) -> TestResponse {
    app.post(role, &format!("/api/v1/process-data/{id}/complete"), &body)
        .await
}

/// Start and PASS one process for a unit as OPERATOR; returns the completion body.
pub async fn pass(app: &TestApp, process_number: i32, unit: Value) -> Value {
    let s = start(app, Role::Operator, process_number, unit).await;
    s.assert_status(201);
    let id = s.body["id"].as_i64().unwrap();
    let c = complete(
        app,
        Role::Operator,
        id,
        json!({"result": "PASS", "measurements": good(process_number)}),
    )
    .await;
    c.assert_status(200);
    c.body
}

/// Start and FAIL one process for a unit as OPERATOR, with one defect `code`; returns the completion body.
pub async fn fail(app: &TestApp, process_number: i32, unit: Value, code: &str) -> Value {
    let s = start(app, Role::Operator, process_number, unit).await;
    s.assert_status(201);
    let c = complete(
        app,
        Role::Operator,
        s.body["id"].as_i64().unwrap(),
        json!({"result": "FAIL", "defects": defect(code)}),
    )
    .await;
    c.assert_status(200);
    c.body
}

/// PASS processes `from..=to` for a WIP unit (by its WIP id, which resolves to its serial once converted).
pub async fn pass_range(app: &TestApp, wip_id: &str, from: i32, to: i32) -> Value {
    let mut last = Value::Null;
    for n in from..=to {
        last = pass(app, n, json!({"wip_id": wip_id})).await;
    }
    last
}

async fn status_of(app: &TestApp, table: &str, id: i64) -> String {
    let sql = match table {
        "lots" => "SELECT status FROM lots WHERE id = $1",
        "wip_items" => "SELECT status FROM wip_items WHERE id = $1",
        _ => "SELECT status FROM serials WHERE id = $1",
    };
    app.scalar(sql, id).await
}

#[sqlx::test(migrations = false)]
async fn whole_flow_from_wip_to_closed_lot(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (lot_id, lot_number) = new_lot(&app, 1).await;
    let w = wip(&lot_number, 1);

    // processes 1-6 at WIP level
    for n in 1..=6 {
        let s = start(&app, Role::Operator, n, json!({"wip_id": w})).await;
        s.assert_status(201);
        assert_eq!(s.body["data_level"], "WIP");
        assert_eq!(s.body["wip_code"], w.as_str());
        assert!(s.body["serial_id"].is_null());
        assert_eq!(s.body["operator_id"], app.user(Role::Operator).id);
        assert_eq!(s.body["attempt"], 1);
        if n == 1 {
            assert_eq!(status_of(&app, "lots", lot_id).await, "IN_PROGRESS");
        }
        let c = complete(
            &app,
            Role::Operator,
            s.body["id"].as_i64().unwrap(),
            json!({"result": "PASS", "measurements": good(n)}),
        )
        .await;
        c.assert_status(200);
        assert_eq!(c.body["result"], "PASS");
        assert_eq!(c.body["criteria_passed"], true);
        assert_eq!(c.body["unit"]["kind"], "WIP");
        assert_eq!(c.body["unit"]["status"], "IN_PROGRESS");
        assert!(c.body["duration_seconds"].as_i64().unwrap() >= 0);
    }

    // 7 LABEL_PRINTING at WIP level; its PASS creates the serial
    let s = start(&app, Role::Operator, 7, json!({"wip_id": w})).await;
    s.assert_status(201);
    assert_eq!(s.body["data_level"], "WIP");
    let c = complete(
        &app,
        Role::Operator,
        s.body["id"].as_i64().unwrap(),
        json!({"result": "PASS", "measurements": good(7)}),
    )
    .await;
    c.assert_status(200);
    let serial_number = format!("{lot_number}001");
    assert_eq!(c.body["unit"]["kind"], "SERIAL");
    assert_eq!(c.body["unit"]["serial_number"], serial_number.as_str());
    assert_eq!(c.body["unit"]["status"], "IN_PROGRESS");
    let (wip_status, serial_id): (String, Option<i64>) =
        sqlx::query_as("SELECT status, serial_id FROM wip_items WHERE wip_id = $1")
            .bind(&w)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(wip_status, "CONVERTED");
    let serial_id = serial_id.expect("serial linked");
    assert_eq!(status_of(&app, "serials", serial_id).await, "IN_PROGRESS");

    // 8 at SERIAL level (wip_id kept for trace)
    let s = start(
        &app,
        Role::Operator,
        8,
        json!({"serial_number": serial_number}),
    )
    .await;
    s.assert_status(201);
    assert_eq!(s.body["data_level"], "SERIAL");
    assert_eq!(s.body["serial_id"], serial_id);
    assert_eq!(s.body["wip_code"], w.as_str());
    let c = complete(
        &app,
        Role::Operator,
        s.body["id"].as_i64().unwrap(),
        json!({"result": "PASS", "measurements": good(8)}),
    )
    .await;
    c.assert_status(200);
    assert_eq!(c.body["unit"]["status"], "COMPLETED");
    assert_eq!(c.body["lot"]["status"], "COMPLETED");
    assert_eq!(status_of(&app, "serials", serial_id).await, "COMPLETED");
    assert_eq!(status_of(&app, "lots", lot_id).await, "COMPLETED");

    // a completed unit starts nothing
    start(
        &app,
        Role::Operator,
        8,
        json!({"serial_number": serial_number}),
    )
    .await
    .assert_problem(409, "LOT_NOT_ACTIVE");

    let closed = app
        .post(
            Role::Manager,
            &format!("/api/v1/lots/{lot_id}/close"),
            &json!({}),
        )
        .await;
    closed.assert_status(200);
    assert_eq!(status_of(&app, "lots", lot_id).await, "CLOSED");
    assert_eq!(app.count("process_data").await, 8);
}

#[sqlx::test(migrations = false)]
async fn completed_unit_cannot_start_while_the_lot_goes_on(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, lot_number) = new_lot(&app, 2).await;
    let w = wip(&lot_number, 1);
    pass_range(&app, &w, 1, 8).await;
    start(&app, Role::Operator, 8, json!({"wip_id": w}))
        .await
        .assert_problem(409, "UNIT_COMPLETED");
    // the other unit is still open, so the lot is not completed
    let st: String = sqlx::query_scalar("SELECT status FROM lots WHERE lot_number = $1")
        .bind(&lot_number)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(st, "IN_PROGRESS");
}

#[sqlx::test(migrations = false)]
async fn sequence_violations_and_open_records(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, lot_number) = new_lot(&app, 1).await;
    let w = wip(&lot_number, 1);
    let unit = json!({"wip_id": w});

    let res = start(&app, Role::Operator, 3, unit.clone()).await;
    let body = res.assert_problem(409, "PROCESS_OUT_OF_SEQUENCE");
    assert!(
        body["detail"].as_str().unwrap().contains("LASER_MARKING"),
        "{body}"
    );
    start(&app, Role::Operator, 8, unit.clone())
        .await
        .assert_problem(409, "PROCESS_OUT_OF_SEQUENCE");

    let first = start(&app, Role::Operator, 1, unit.clone()).await;
    first.assert_status(201);
    // a second open record for the same process
    start(&app, Role::Operator, 1, unit.clone())
        .await
        .assert_problem(409, "PROCESS_ALREADY_OPEN");
    // the next process while 1 is still open
    start(&app, Role::Operator, 2, unit.clone())
        .await
        .assert_problem(409, "PROCESS_OUT_OF_SEQUENCE");
    complete(
        &app,
        Role::Operator,
        first.body["id"].as_i64().unwrap(),
        json!({"result": "PASS", "measurements": good(1)}),
    )
    .await
    .assert_status(200);
    // completing twice
    complete(
        &app,
        Role::Operator,
        first.body["id"].as_i64().unwrap(),
        json!({"result": "PASS", "measurements": good(1)}),
    )
    .await
    .assert_problem(409, "PROCESS_ALREADY_COMPLETED");
    start(&app, Role::Operator, 1, unit.clone())
        .await
        .assert_problem(409, "PROCESS_ALREADY_PASSED");
    start(&app, Role::Operator, 3, unit.clone())
        .await
        .assert_problem(409, "PROCESS_OUT_OF_SEQUENCE");
    start(&app, Role::Operator, 2, unit.clone())
        .await
        .assert_status(201);

    // the partial unique index is the backstop
    let err = sqlx::query(
        "INSERT INTO process_data (lot_id, wip_id, process_id, operator_id, data_level) \
         SELECT w.lot_id, w.id, p.id, $2, 'WIP' FROM wip_items w, processes p WHERE w.wip_id = $1 AND p.process_number = 2",
    )
    .bind(&w)
    .bind(app.user(Role::Operator).id)
    .execute(&app.pool)
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("idx_process_data_wip_unique"),
        "{err}"
    );
}

#[sqlx::test(migrations = false)]
async fn inactive_processes_are_skipped_by_the_sequence(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, lot_number) = new_lot(&app, 1).await;
    let w = wip(&lot_number, 1);
    sqlx::query("UPDATE processes SET is_active = false WHERE process_number = 2")
        .execute(&app.pool)
        .await
        .unwrap();
    pass(&app, 1, json!({"wip_id": w})).await;
    start(&app, Role::Operator, 2, json!({"wip_id": w}))
        .await
        .assert_problem(409, "PROCESS_INACTIVE");
    start(&app, Role::Operator, 3, json!({"wip_id": w}))
        .await
        .assert_status(201);
}

#[sqlx::test(migrations = false)]
async fn failed_unit_must_be_dispositioned_then_rework_reopens_the_process(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, lot_number) = new_lot(&app, 1).await;
    let w = wip(&lot_number, 1);
    pass(&app, 1, json!({"wip_id": w})).await;
    let s = start(&app, Role::Operator, 2, json!({"wip_id": w})).await;
    let c = complete(&app, Role::Operator, s.body["id"].as_i64().unwrap(), json!({"result": "FAIL", "measurements": {"torque_nm": 2.5, "gap_mm": 0.1}, "defects": defect("TORQUE_HIGH")})).await;
    c.assert_status(200);
    assert_eq!(c.body["unit"]["status"], "FAILED");
    assert_eq!(c.body["criteria_passed"], false);
    assert_eq!(c.body["criteria_check"]["torque_nm"]["passed"], false);

    // FAILED starts nothing, not even the failed process
    start(&app, Role::Operator, 2, json!({"wip_id": w}))
        .await
        .assert_problem(409, "UNIT_FAILED");
    start(&app, Role::Operator, 3, json!({"wip_id": w}))
        .await
        .assert_problem(409, "UNIT_FAILED");

    // a VIEWER may not disposition; an OPERATOR may send to rework
    app.post(
        Role::Viewer,
        &format!("/api/v1/wip-items/{w}/rework"),
        &json!({}),
    )
    .await
    .assert_problem(403, "FORBIDDEN");
    let r = app
        .post(
            Role::Operator,
            &format!("/api/v1/wip-items/{w}/rework"),
            &json!({}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["action"], "REWORK");
    assert_eq!(r.body["unit"]["status"], "IN_PROGRESS");
    assert_eq!(r.body["unit"]["rework_count"], 1);
    // rework only applies to FAILED units
    app.post(
        Role::Operator,
        &format!("/api/v1/wip-items/{w}/rework"),
        &json!({}),
    )
    .await
    .assert_problem(409, "UNIT_NOT_FAILED");

    let again = start(&app, Role::Operator, 2, json!({"wip_id": w})).await;
    again.assert_status(201);
    assert_eq!(again.body["attempt"], 2);
    complete(
        &app,
        Role::Operator,
        again.body["id"].as_i64().unwrap(),
        json!({"result": "PASS", "measurements": good(2)}),
    )
    .await
    .assert_status(200);
    // the serial inherits the rework count
    let last = pass_range(&app, &w, 3, 7).await;
    assert_eq!(last["unit"]["rework_count"], 1);
    let rc: i32 = sqlx::query_scalar("SELECT rework_count FROM serials WHERE serial_number = $1")
        .bind(format!("{lot_number}001"))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rc, 1);
}

#[sqlx::test(migrations = false)]
async fn rework_up_to_the_limit_then_scrap(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (lot_id, lot_number) = new_lot(&app, 1).await;
    let w = wip(&lot_number, 1);
    pass(&app, 1, json!({"wip_id": w})).await;
    // max_rework = 3 (test settings): three REWORK results re-open process 2, the fourth scraps the unit
    for i in 1..=4 {
        let s = start(&app, Role::Operator, 2, json!({"wip_id": w})).await;
        s.assert_status(201);
        assert_eq!(s.body["attempt"], i);
        let c = complete(
            &app,
            Role::Operator,
            s.body["id"].as_i64().unwrap(),
            json!({"result": "REWORK", "notes": "re-seat"}),
        )
        .await;
        c.assert_status(200);
        if i <= 3 {
            assert_eq!(c.body["unit"]["status"], "IN_PROGRESS");
            assert_eq!(c.body["unit"]["rework_count"], i);
            assert!(c.body["unit"]["scrap_reason"].is_null(), "{}", c.text);
        } else {
            assert_eq!(c.body["unit"]["status"], "SCRAPPED");
            assert_eq!(c.body["unit"]["rework_count"], 3);
            assert_eq!(
                c.body["unit"]["scrap_reason"],
                "rework limit 3 exceeded at LMA_ASSEMBLY"
            );
            // the only unit is scrapped: the lot completes in the same transaction
            assert_eq!(c.body["lot"]["status"], "COMPLETED");
        }
    }
    assert_eq!(status_of(&app, "lots", lot_id).await, "COMPLETED");
    assert_eq!(
        scrap_reason_of(&app, "wip_items", &w).await.as_deref(),
        Some("rework limit 3 exceeded at LMA_ASSEMBLY")
    );
}

async fn scrap_reason_of(app: &TestApp, table: &str, code: &str) -> Option<String> {
    let sql = match table {
        "wip_items" => "SELECT scrap_reason FROM wip_items WHERE wip_id = $1",
        _ => "SELECT scrap_reason FROM serials WHERE serial_number = $1",
    };
    app.scalar(sql, code.to_string()).await
}

#[sqlx::test(migrations = false)]
async fn rework_endpoint_scraps_past_the_limit_and_scrapped_units_start_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, lot_number) = new_lot(&app, 2).await;
    let w = wip(&lot_number, 1);
    sqlx::query("UPDATE wip_items SET rework_count = 3 WHERE wip_id = $1")
        .bind(&w)
        .execute(&app.pool)
        .await
        .unwrap();
    fail(&app, 1, json!({"wip_id": w}), "SMUDGE").await;
    let r = app
        .post(
            Role::Operator,
            &format!("/api/v1/wip-items/{w}/rework"),
            &json!({}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["action"], "SCRAPPED");
    assert_eq!(r.body["lot"]["status"], "IN_PROGRESS");
    assert_eq!(
        r.body["unit"]["scrap_reason"],
        "rework limit 3 exceeded at LASER_MARKING"
    );
    start(&app, Role::Operator, 1, json!({"wip_id": w}))
        .await
        .assert_problem(409, "UNIT_SCRAPPED");

    // manual scrap of the other unit (MANAGER); OPERATOR may not; a reason is required
    let w2 = wip(&lot_number, 2);
    let s = start(&app, Role::Operator, 1, json!({"wip_id": w2})).await;
    s.assert_status(201);
    app.post(
        Role::Operator,
        &format!("/api/v1/wip-items/{w2}/scrap"),
        &json!({"reason": "dropped"}),
    )
    .await
    .assert_problem(403, "FORBIDDEN");
    app.post(
        Role::Manager,
        &format!("/api/v1/wip-items/{w2}/scrap"),
        &json!({"reason": " "}),
    )
    .await
    .assert_problem(422, "VALIDATION_FAILED");
    let r = app
        .post(
            Role::Manager,
            &format!("/api/v1/wip-items/{w2}/scrap"),
            &json!({"reason": "dropped"}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["unit"]["status"], "SCRAPPED");
    assert_eq!(r.body["unit"]["scrap_reason"], "dropped");
    assert_eq!(
        scrap_reason_of(&app, "wip_items", &w2).await.as_deref(),
        Some("dropped")
    );
    // both units are scrapped: the lot is COMPLETED; the open record of the scrapped unit is gone
    assert_eq!(r.body["lot"]["status"], "COMPLETED");
    assert_eq!(app.count("process_data").await, 1);
}

#[sqlx::test(migrations = false)]
async fn lots_on_hold_accept_no_work(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (lot_id, lot_number) = new_lot(&app, 1).await;
    let w = wip(&lot_number, 1);
    let s = start(&app, Role::Operator, 1, json!({"wip_id": w})).await;
    s.assert_status(201);
    sqlx::query("UPDATE lots SET status = 'ON_HOLD' WHERE id = $1")
        .bind(lot_id)
        .execute(&app.pool)
        .await
        .unwrap();
    complete(
        &app,
        Role::Operator,
        s.body["id"].as_i64().unwrap(),
        json!({"result": "PASS", "measurements": good(1)}),
    )
    .await
    .assert_problem(409, "LOT_NOT_ACTIVE");
    start(&app, Role::Operator, 1, json!({"lot_number": lot_number}))
        .await
        .assert_problem(409, "LOT_NOT_ACTIVE");
}

#[sqlx::test(migrations = false)]
async fn operator_comes_from_the_token_and_only_the_starter_or_a_manager_completes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, lot_number) = new_lot(&app, 1).await;
    let w = wip(&lot_number, 1);
    let res = app
        .post(
            Role::Operator,
            "/api/v1/process-data/start",
            &json!({"process_number": 1, "unit": {"wip_id": w}, "operator_id": 1}),
        )
        .await;
    res.assert_problem(422, "VALIDATION_FAILED");
    assert!(res.text.contains("operator_id"), "{}", res.text);
    app.post(
        Role::Viewer,
        "/api/v1/process-data/start",
        &json!({"process_number": 1, "unit": {"wip_id": w}}),
    )
    .await
    .assert_problem(403, "FORBIDDEN");

    let s = start(&app, Role::Operator, 1, json!({"wip_id": w})).await;
    s.assert_status(201);
    let id = s.body["id"].as_i64().unwrap();

    // another operator
    let other_id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, full_name, password_hash, role) VALUES ('op2', 'Other Operator', 'x', 'OPERATOR') RETURNING id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let (token, _) = app
        .state
        .tokens
        .issue_access(other_id, "op2", Role::Operator)
        .unwrap();
    let body = json!({"result": "PASS", "measurements": good(1)});
    let res = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/process-data/{id}/complete"),
            Some(&token),
            Some(&body),
            &[],
        )
        .await;
    res.assert_problem(403, "FORBIDDEN");
    // a MANAGER may complete anyone's record; the audit rows carry the acting user
    let c = complete(&app, Role::Manager, id, body).await;
    c.assert_status(200);
    assert_eq!(c.body["operator_id"], app.user(Role::Operator).id);
    let users: Vec<Option<i64>> = sqlx::query_scalar(
        "SELECT user_id FROM audit_logs WHERE table_name = 'process_data' AND record_id = $1 AND action = 'UPDATE'",
    )
    .bind(id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(users, vec![Some(app.user(Role::Manager).id)]);
}

#[sqlx::test(migrations = false)]
async fn audit_rows_of_a_complete_carry_the_operator(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, lot_number) = new_lot(&app, 1).await;
    let w = wip(&lot_number, 1);
    let s = start(&app, Role::Operator, 1, json!({"wip_id": w})).await;
    let id = s.body["id"].as_i64().unwrap();
    complete(
        &app,
        Role::Operator,
        id,
        json!({"result": "PASS", "measurements": good(1)}),
    )
    .await
    .assert_status(200);
    let rows: Vec<(String, String, Option<i64>)> = sqlx::query_as(
        "SELECT table_name, action, user_id FROM audit_logs WHERE table_name IN ('process_data', 'wip_items', 'lots') \
         AND action <> 'INSERT' OR (table_name = 'process_data' AND action = 'INSERT') ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let op = app.user(Role::Operator).id;
    let pd: Vec<_> = rows.iter().filter(|r| r.0 == "process_data").collect();
    assert_eq!(pd.len(), 2, "{rows:?}");
    assert!(pd.iter().all(|r| r.2 == Some(op)), "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r.0 == "wip_items" && r.1 == "UPDATE" && r.2 == Some(op)),
        "{rows:?}"
    );
}

#[sqlx::test(migrations = false)]
async fn units_that_never_started_can_be_scrapped_with_a_reason(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (lot_id, lot_number) = new_lot(&app, 2).await;
    let w = wip(&lot_number, 1);
    // a CREATED WIP item (damaged before its first process); the reason is trimmed and kept
    let r = app
        .post(
            Role::Manager,
            &format!("/api/v1/wip-items/{w}/scrap"),
            &json!({"reason": "  housing cracked at receiving "}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["action"], "SCRAPPED");
    assert_eq!(r.body["unit"]["status"], "SCRAPPED");
    assert_eq!(
        r.body["unit"]["scrap_reason"],
        "housing cracked at receiving"
    );
    assert!(r.body["reopened_process_id"].is_null());
    // the other unit is still to make: the lot stays CREATED
    assert_eq!(r.body["lot"]["status"], "CREATED");
    assert_eq!(status_of(&app, "lots", lot_id).await, "CREATED");
    assert_eq!(
        scrap_reason_of(&app, "wip_items", &w).await.as_deref(),
        Some("housing cracked at receiving")
    );
    assert_eq!(app.count("process_data").await, 0);
    // scrapped is final: no start, no second scrap, no rework
    start(&app, Role::Operator, 1, json!({"wip_id": w}))
        .await
        .assert_problem(409, "UNIT_SCRAPPED");
    app.post(
        Role::Manager,
        &format!("/api/v1/wip-items/{w}/scrap"),
        &json!({"reason": "again"}),
    )
    .await
    .assert_problem(409, "UNIT_SCRAPPED");
    app.post(
        Role::Operator,
        &format!("/api/v1/wip-items/{w}/rework"),
        &json!({}),
    )
    .await
    .assert_problem(409, "UNIT_SCRAPPED");
    // the audit log has the change with the acting manager
    let audited: Vec<(Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT user_id, new_data->>'scrap_reason' FROM audit_logs WHERE table_name = 'wip_items' AND action = 'UPDATE'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        audited,
        vec![(
            Some(app.user(Role::Manager).id),
            Some("housing cracked at receiving".to_string())
        )]
    );

    // a CREATED serial (by its database id); the other unit still works, and a 501-character reason is refused
    let serial = format!("{lot_number}900");
    let serial_id: i64 = sqlx::query_scalar(
        "INSERT INTO serials (serial_number, lot_id, sequence_in_lot) VALUES ($1, $2, 900) RETURNING id",
    )
    .bind(&serial)
    .bind(lot_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    app.post(
        Role::Manager,
        &format!("/api/v1/serials/{serial_id}/scrap"),
        &json!({"reason": "x".repeat(501)}),
    )
    .await
    .assert_problem(422, "VALIDATION_FAILED");
    let r = app
        .post(
            Role::Admin,
            &format!("/api/v1/serials/{serial_id}/scrap"),
            &json!({"reason": "label misprinted"}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["unit"]["kind"], "SERIAL");
    assert_eq!(r.body["unit"]["serial_number"], serial.as_str());
    assert_eq!(r.body["unit"]["scrap_reason"], "label misprinted");
    assert_eq!(
        scrap_reason_of(&app, "serials", &serial).await.as_deref(),
        Some("label misprinted")
    );
    let s = start(
        &app,
        Role::Operator,
        1,
        json!({"wip_id": wip(&lot_number, 2)}),
    )
    .await;
    s.assert_status(201);
    let c = complete(
        &app,
        Role::Operator,
        s.body["id"].as_i64().unwrap(),
        json!({"result": "PASS", "measurements": good(1)}),
    )
    .await;
    c.assert_status(200);
    assert!(c.body["unit"]["scrap_reason"].is_null(), "{}", c.text);
}

/// "A lot completes when every unit is completed or scrapped" holds for a lot that never started too.
#[sqlx::test(migrations = false)]
async fn a_lot_whose_units_are_all_scrapped_before_starting_completes_and_closes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (lot_id, lot_number) = new_lot(&app, 2).await;
    for seq in 1..=2 {
        let w = wip(&lot_number, seq);
        let r = app
            .post(
                Role::Manager,
                &format!("/api/v1/wip-items/{w}/scrap"),
                &json!({"reason": "water damage"}),
            )
            .await;
        r.assert_status(200);
        let expected = if seq == 1 { "CREATED" } else { "COMPLETED" };
        assert_eq!(r.body["lot"]["status"], expected, "{}", r.text);
    }
    assert_eq!(status_of(&app, "lots", lot_id).await, "COMPLETED");
    // every read of the unit says why it was scrapped
    let w = wip(&lot_number, 1);
    let unit = app
        .get(Role::Viewer, &format!("/api/v1/wip-items/by-code/{w}"))
        .await;
    assert_eq!(unit.body["scrap_reason"], "water damage", "{}", unit.text);
    let scan = app.get(Role::Viewer, &format!("/api/v1/scan/{w}")).await;
    assert_eq!(
        scan.body["unit"]["scrap_reason"], "water damage",
        "{}",
        scan.text
    );
    let trace = app
        .get(Role::Viewer, &format!("/api/v1/trace/wip-items/{w}"))
        .await;
    assert_eq!(trace.body["scrap_reason"], "water damage", "{}", trace.text);
    app.post(
        Role::Manager,
        &format!("/api/v1/lots/{lot_id}/close"),
        &json!({}),
    )
    .await
    .assert_status(200);
    assert_eq!(status_of(&app, "lots", lot_id).await, "CLOSED");
}
