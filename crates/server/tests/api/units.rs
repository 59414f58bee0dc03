//! WIP items and serials: lists (filters, keyset pagination, one statement), lookups by id and by code/number.

use crate::helpers::{TestApp, TestResponse};
use crate::lots::{create, model_and_line};
use neurohub_core::auth::Role;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::HashSet;

fn items(res: &TestResponse) -> &Vec<Value> {
    res.body["items"].as_array().unwrap()
}

fn codes(res: &TestResponse, key: &str) -> Vec<String> {
    items(res)
        .iter()
        .map(|i| i[key].as_str().unwrap().to_string())
        .collect()
}

async fn list(app: &TestApp, path: &str) -> TestResponse {
    let res = app.get(Role::Viewer, path).await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1, "{path}");
    res
}

/// Walk all pages of a list with `limit`, returning every item.
async fn walk(app: &TestApp, base: &str, limit: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let sep = if base.contains('?') { '&' } else { '?' };
        let res = list(app, &format!("{base}{sep}limit={limit}&cursor={cursor}")).await;
        assert!(items(&res).len() <= limit as usize);
        out.extend(items(&res).iter().cloned());
        match res.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => return out,
        }
    }
}

async fn process_id(app: &TestApp, number: i32) -> i64 {
    sqlx::query_scalar("SELECT id FROM processes WHERE process_number = $1")
        .bind(number)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn wip_items_list_filters_and_pages(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (m, l) = model_and_line(&app).await;
    let a = create(&app, m, l, 5, None).await;
    let b = create(&app, m, l, 3, None).await;
    let (a_id, a_number) = (
        a["id"].as_i64().unwrap(),
        a["lot_number"].as_str().unwrap().to_string(),
    );

    let res = list(&app, "/api/v1/wip-items").await;
    assert_eq!(items(&res).len(), 8);
    let first = &items(&res)[0];
    assert_eq!(first["wip_id"], format!("WIP-{a_number}-001"));
    assert_eq!(first["lot_number"], a_number);
    assert_eq!(first["sequence_in_lot"], 1);
    assert_eq!(first["status"], "CREATED");
    assert_eq!(first["rework_count"], 0);
    assert!(first["current_process_id"].is_null() && first["serial_number"].is_null());

    // pages of 3: every item exactly once, in id order
    let all = walk(&app, "/api/v1/wip-items", 3).await;
    let ids: Vec<i64> = all.iter().map(|w| w["id"].as_i64().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert_eq!(ids.iter().copied().collect::<HashSet<_>>().len(), 8);

    let res = list(&app, &format!("/api/v1/wip-items?lot_id={a_id}")).await;
    assert_eq!(
        codes(&res, "wip_id"),
        (1..=5)
            .map(|i| format!("WIP-{a_number}-{i:03}"))
            .collect::<Vec<_>>()
    );
    let res = list(&app, &format!("/api/v1/wip-items?lot_id={}", b["id"])).await;
    assert_eq!(items(&res).len(), 3);
    let res = list(
        &app,
        &format!("/api/v1/wip-items?q=wip-{}", a_number.to_lowercase()),
    )
    .await;
    assert_eq!(items(&res).len(), 5);
    let res = list(&app, &format!("/api/v1/wip-items?q=WIP-{a_number}-00")).await;
    assert_eq!(items(&res).len(), 5);
    let res = list(&app, &format!("/api/v1/wip-items?q=WIP-{a_number}-002")).await;
    assert_eq!(codes(&res, "wip_id"), [format!("WIP-{a_number}-002")]);

    // the flow moves two units to process 3
    let p3 = process_id(&app, 3).await;
    sqlx::query(
        "UPDATE wip_items SET status = 'IN_PROGRESS', current_process_id = $2 WHERE lot_id = $1 AND sequence_in_lot <= 2",
    )
    .bind(a_id)
    .bind(p3)
    .execute(&app.pool)
    .await
    .unwrap();
    let res = list(&app, &format!("/api/v1/wip-items?current_process_id={p3}")).await;
    assert_eq!(items(&res).len(), 2);
    assert_eq!(items(&res)[0]["current_process_number"], 3);
    assert_eq!(items(&res)[0]["current_process_code"], "SENSOR_INSPECTION");
    let res = list(&app, "/api/v1/wip-items?status=IN_PROGRESS").await;
    assert_eq!(items(&res).len(), 2);
    let res = list(
        &app,
        &format!("/api/v1/wip-items?status=CREATED&lot_id={a_id}"),
    )
    .await;
    assert_eq!(items(&res).len(), 3);

    for (q, code) in [
        ("status=DONE", "INVALID_QUERY"),
        ("lot_id=x", "INVALID_QUERY"),
        ("q=WIP_KR", "INVALID_QUERY"),
        ("limit=0", "INVALID_QUERY"),
        ("cursor=garbage", "INVALID_CURSOR"),
        ("cursor=eyJ4IjoxfQ", "INVALID_CURSOR"),
        ("nope=1", "INVALID_QUERY"),
    ] {
        app.get(Role::Viewer, &format!("/api/v1/wip-items?{q}"))
            .await
            .assert_problem(400, code);
    }
}

#[sqlx::test(migrations = false)]
async fn wip_item_by_id_and_code(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (m, l) = model_and_line(&app).await;
    let lot = create(&app, m, l, 2, None).await;
    let code = format!("WIP-{}-002", lot["lot_number"].as_str().unwrap());
    let res = app
        .get(Role::Operator, &format!("/api/v1/wip-items/by-code/{code}"))
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(res.body["wip_id"], code);
    assert_eq!(res.body["lot_id"], lot["id"]);
    let id = res.body["id"].as_i64().unwrap();
    let res = app
        .get(Role::Viewer, &format!("/api/v1/wip-items/{id}"))
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(res.body["wip_id"], code);

    app.get(Role::Viewer, "/api/v1/wip-items/999999")
        .await
        .assert_problem(404, "NOT_FOUND");
    app.get(
        Role::Viewer,
        "/api/v1/wip-items/by-code/WIP-US99XXX251101-001",
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    for bad in [
        "WIP-KR01PSA251101-000",
        "wip-KR01PSA251101-001",
        "KR01PSA251101001",
        "WIP-KR01PSA251101001",
    ] {
        let res = app
            .get(Role::Viewer, &format!("/api/v1/wip-items/by-code/{bad}"))
            .await;
        res.assert_fields(400, "INVALID_WIP_ID", &["wip_id"]);
    }
    app.get(Role::Viewer, "/api/v1/wip-items/abc")
        .await
        .assert_problem(400, "INVALID_PATH");
}

/// Convert WIP item `seq` of lot `lot_id` into its serial the way the flow does at process 7, with PASS records at
/// processes 1..=`passed` (WIP-level up to 6, serial-level from 7). Returns the serial id.
async fn make_serial(app: &TestApp, lot_id: i64, lot_number: &str, seq: i32, passed: i32) -> i64 {
    let operator = app.user(Role::Operator).id;
    let wip: i64 =
        sqlx::query_scalar("SELECT id FROM wip_items WHERE lot_id = $1 AND sequence_in_lot = $2")
            .bind(lot_id)
            .bind(seq)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    sqlx::query("UPDATE wip_items SET status = 'IN_PROGRESS' WHERE id = $1")
        .bind(wip)
        .execute(&app.pool)
        .await
        .unwrap();
    let serial: i64 = sqlx::query_scalar(
        "INSERT INTO serials (serial_number, lot_id, sequence_in_lot, status) VALUES ($1, $2, $3, 'IN_PROGRESS') RETURNING id",
    )
    .bind(format!("{lot_number}{seq:03}"))
    .bind(lot_id)
    .bind(seq)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE wip_items SET status = 'CONVERTED', serial_id = $2 WHERE id = $1")
        .bind(wip)
        .bind(serial)
        .execute(&app.pool)
        .await
        .unwrap();
    for n in 1..=passed {
        let p = process_id(app, n).await;
        let (level, serial_id): (&str, Option<i64>) = if n <= 6 {
            ("WIP", None)
        } else {
            ("SERIAL", Some(serial))
        };
        sqlx::query(
            "INSERT INTO process_data (lot_id, wip_id, serial_id, process_id, operator_id, data_level, result, started_at, completed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'PASS', now() - interval '1 minute', now())",
        )
        .bind(lot_id)
        .bind(if n <= 6 { Some(wip) } else { None })
        .bind(serial_id)
        .bind(p)
        .bind(operator)
        .bind(level)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    serial
}

#[sqlx::test(migrations = false)]
async fn serials_list_filters_pages_and_lookups(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (m, l) = model_and_line(&app).await;
    let lot = create(&app, m, l, 6, None).await;
    let other = create(&app, m, l, 1, None).await;
    let (lot_id, number) = (
        lot["id"].as_i64().unwrap(),
        lot["lot_number"].as_str().unwrap().to_string(),
    );
    let s1 = make_serial(&app, lot_id, &number, 1, 7).await;
    make_serial(&app, lot_id, &number, 2, 8).await;
    make_serial(&app, lot_id, &number, 3, 7).await;
    make_serial(&app, lot_id, &number, 4, 0).await;
    make_serial(
        &app,
        other["id"].as_i64().unwrap(),
        other["lot_number"].as_str().unwrap(),
        1,
        6,
    )
    .await;

    let res = list(&app, "/api/v1/serials").await;
    assert_eq!(items(&res).len(), 5);
    let first = &items(&res)[0];
    assert_eq!(first["serial_number"], format!("{number}001"));
    assert_eq!(first["lot_number"], number);
    assert_eq!(first["wip_id"], format!("WIP-{number}-001"));
    assert_eq!(first["process_reached"], 7);
    assert_eq!(first["status"], "IN_PROGRESS");

    let all = walk(&app, "/api/v1/serials", 2).await;
    let ids: Vec<i64> = all.iter().map(|s| s["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 5);
    assert_eq!(ids.iter().copied().collect::<HashSet<_>>().len(), 5);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    let res = list(&app, &format!("/api/v1/serials?lot_id={lot_id}")).await;
    assert_eq!(items(&res).len(), 4);
    let res = list(&app, "/api/v1/serials?process_reached=7").await;
    assert_eq!(
        codes(&res, "serial_number"),
        [format!("{number}001"), format!("{number}003")]
    );
    let res = list(&app, "/api/v1/serials?process_reached=8").await;
    assert_eq!(codes(&res, "serial_number"), [format!("{number}002")]);
    let res = list(&app, "/api/v1/serials?process_reached=6").await;
    assert_eq!(items(&res).len(), 1);
    assert_eq!(items(&res)[0]["process_reached"], 6);
    let res = list(&app, "/api/v1/serials?process_reached=0").await;
    assert_eq!(codes(&res, "serial_number"), [format!("{number}004")]);
    // the process filter pages correctly too
    let reached: Vec<String> = walk(&app, "/api/v1/serials?process_reached=7", 1)
        .await
        .iter()
        .map(|s| s["serial_number"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reached, [format!("{number}001"), format!("{number}003")]);

    sqlx::query("UPDATE serials SET status = 'COMPLETED' WHERE id = $1")
        .bind(s1)
        .execute(&app.pool)
        .await
        .unwrap();
    let res = list(&app, "/api/v1/serials?status=COMPLETED").await;
    assert_eq!(items(&res).len(), 1);
    assert!(items(&res)[0]["completed_at"].is_string());
    let res = list(&app, &format!("/api/v1/serials?q={}", &number[..11])).await;
    assert_eq!(items(&res).len(), 5);
    let res = list(&app, &format!("/api/v1/serials?q={number}00")).await;
    assert_eq!(items(&res).len(), 4);

    // lookups
    let res = app
        .get(
            Role::Viewer,
            &format!("/api/v1/serials/by-number/{number}002"),
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(res.body["process_reached"], 8);
    let id = res.body["id"].as_i64().unwrap();
    let res = app
        .get(Role::Viewer, &format!("/api/v1/serials/{id}"))
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(res.body["serial_number"], format!("{number}002"));
    app.get(Role::Viewer, "/api/v1/serials/999999")
        .await
        .assert_problem(404, "NOT_FOUND");
    app.get(
        Role::Viewer,
        &format!("/api/v1/serials/by-number/{number}999"),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    for bad in [
        format!("{number}000"),
        format!("{number}01"),
        number.to_lowercase() + "001",
        format!("WIP-{number}-001"),
    ] {
        let res = app
            .get(Role::Viewer, &format!("/api/v1/serials/by-number/{bad}"))
            .await;
        res.assert_fields(400, "INVALID_SERIAL_NUMBER", &["serial_number"]);
    }

    // the lot detail counts serials per status
    let res = app
        .get(Role::Viewer, &format!("/api/v1/lots/{lot_id}"))
        .await;
    assert_eq!(
        res.body["serial_counts"],
        json!({"total": 4, "created": 0, "in_progress": 3, "failed": 0, "completed": 1, "scrapped": 0})
    );
    assert_eq!(res.body["wip_counts"]["converted"], 4);
    assert_eq!(res.body["processes"][6]["passed"], 3);

    for (q, code) in [
        ("process_reached=9", "INVALID_QUERY"),
        ("process_reached=-1", "INVALID_QUERY"),
        ("status=CONVERTED", "INVALID_QUERY"),
        ("q=KR-01", "INVALID_QUERY"),
        ("cursor=garbage", "INVALID_CURSOR"),
    ] {
        app.get(Role::Viewer, &format!("/api/v1/serials?{q}"))
            .await
            .assert_problem(400, code);
    }
}
