//! Lots: server-generated numbers, the race-free sequence, bulk WIP creation, validation, lists (filters, sorts,
//! keyset pagination), details, manual status changes, close, roles and audit.

use crate::helpers::{TestApp, TestResponse};
use chrono::{Datelike, Months, NaiveDate, Utc};
use neurohub_core::auth::Role;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::HashSet;
use std::sync::Arc;

pub async fn model(app: &TestApp, code: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO product_models (model_code, model_name) VALUES ($1, $2) RETURNING id",
    )
    .bind(code)
    .bind(format!("Model {code}"))
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

pub async fn line(app: &TestApp, country: &str, code: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO production_lines (country_code, line_code, name) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(country)
    .bind(code)
    .bind(format!("Line {country}{code}"))
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// The usual pair: model PSA (inserted first) and line KR01; returns their ids.
pub async fn model_and_line(app: &TestApp) -> (i64, i64) {
    (model(app, "PSA").await, line(app, "KR", "01").await)
}

pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

pub fn yymm(d: NaiveDate) -> String {
    format!("{:02}{:02}", d.year() % 100, d.month())
}

/// POST /lots as MANAGER, asserting 201.
pub async fn create(
    app: &TestApp,
    model_id: i64,
    line_id: i64,
    qty: i32,
    date: Option<NaiveDate>,
) -> Value {
    let mut body = json!({"product_model_id": model_id, "production_line_id": line_id, "target_quantity": qty});
    if let Some(d) = date {
        body["production_date"] = json!(d.to_string());
    }
    let res = app.post(Role::Manager, "/api/v1/lots", &body).await;
    res.assert_status(201);
    // every create says where the new record lives
    assert_eq!(
        res.headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/api/v1/lots/{}", res.body["id"]).as_str())
    );
    res.body
}

fn numbers(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["lot_number"].as_str().unwrap().to_string())
        .collect()
}

fn ids(res: &TestResponse) -> Vec<i64> {
    res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect()
}

#[sqlx::test(migrations = false)]
async fn lot_number_and_wip_items_are_generated(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (m, l) = model_and_line(&app).await;
    let res = app
        .post(
            Role::Manager,
            "/api/v1/lots",
            &json!({"product_model_id": m, "production_line_id": l, "target_quantity": 5, "shift": "A", "notes": "first"}),
        )
        .await;
    res.assert_status(201);
    let lot = &res.body;
    let expected = format!("KR01PSA{}01", yymm(today()));
    assert_eq!(lot["lot_number"], expected);
    assert_eq!(lot["status"], "CREATED");
    assert_eq!(lot["production_date"], today().to_string());
    assert_eq!(lot["model_code"], "PSA");
    assert_eq!(lot["country_code"], "KR");
    assert_eq!(lot["line_code"], "01");
    assert_eq!(lot["shift"], "A");
    assert_eq!(lot["target_quantity"], 5);
    assert_eq!(lot["wip_count"], 5);
    assert_eq!(lot["wip_counts"]["created"], 5);
    assert_eq!(lot["serial_counts"]["total"], 0);

    let wips: Vec<(String, i32, String)> =
        sqlx::query_as("SELECT wip_id, sequence_in_lot, status FROM wip_items WHERE lot_id = $1 ORDER BY sequence_in_lot")
            .bind(lot["id"].as_i64().unwrap())
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let want: Vec<(String, i32, String)> = (1..=5)
        .map(|i| (format!("WIP-{expected}-{i:03}"), i, "CREATED".to_string()))
        .collect();
    assert_eq!(wips, want);

    // An explicit production date gives the YYMM; the maximum quantity creates 999 units in one statement.
    let date = today().checked_sub_months(Months::new(3)).unwrap();
    let lot = create(&app, m, l, 999, Some(date)).await;
    assert_eq!(lot["lot_number"], format!("KR01PSA{}01", yymm(date)));
    assert_eq!(lot["wip_count"], 999);
    let last: String = sqlx::query_scalar("SELECT max(wip_id) FROM wip_items WHERE lot_id = $1")
        .bind(lot["id"].as_i64().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(last, format!("WIP-KR01PSA{}01-999", yymm(date)));
}

#[sqlx::test(migrations = false)]
async fn created_lot_and_units_are_audited_with_the_managers_id(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (m, l) = model_and_line(&app).await;
    let lot = create(&app, m, l, 3, None).await;
    let manager = app.user(Role::Manager).id;
    let lot_audit: Vec<Option<i64>> = sqlx::query_scalar(
        "SELECT user_id FROM audit_logs WHERE table_name = 'lots' AND record_id = $1 AND action = 'INSERT'",
    )
    .bind(lot["id"].as_i64().unwrap())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(lot_audit, vec![Some(manager)]);
    let wip_audit: Vec<Option<i64>> = sqlx::query_scalar(
        "SELECT a.user_id FROM audit_logs a JOIN wip_items w ON w.id = a.record_id \
         WHERE a.table_name = 'wip_items' AND a.action = 'INSERT' AND w.lot_id = $1",
    )
    .bind(lot["id"].as_i64().unwrap())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(wip_audit, vec![Some(manager); 3]);
}

#[sqlx::test(migrations = false)]
async fn sequence_is_per_line_model_and_month(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let psa = model(&app, "PSA").await;
    let ps2 = model(&app, "PS2").await;
    let kr01 = line(&app, "KR", "01").await;
    let vn03 = line(&app, "VN", "03").await;
    let now = today();
    let prev = now.checked_sub_months(Months::new(1)).unwrap();
    let (ym, pm) = (yymm(now), yymm(prev));

    let n = |v: Value| v["lot_number"].as_str().unwrap().to_string();
    assert_eq!(
        n(create(&app, psa, kr01, 1, Some(now)).await),
        format!("KR01PSA{ym}01")
    );
    assert_eq!(
        n(create(&app, psa, kr01, 1, Some(now)).await),
        format!("KR01PSA{ym}02")
    );
    // another month, model or line starts again at 01
    assert_eq!(
        n(create(&app, psa, kr01, 1, Some(prev)).await),
        format!("KR01PSA{pm}01")
    );
    assert_eq!(
        n(create(&app, ps2, kr01, 1, Some(now)).await),
        format!("KR01PS2{ym}01")
    );
    assert_eq!(
        n(create(&app, psa, vn03, 1, Some(now)).await),
        format!("VN03PSA{ym}01")
    );
    // and the first counter carries on
    assert_eq!(
        n(create(&app, psa, kr01, 1, Some(now)).await),
        format!("KR01PSA{ym}03")
    );
    assert_eq!(
        n(create(&app, psa, kr01, 1, Some(prev)).await),
        format!("KR01PSA{pm}02")
    );
}

#[sqlx::test(migrations = false)]
async fn concurrent_creations_get_distinct_consecutive_numbers(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool).await);
    let (m, l) = model_and_line(&app).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let app = app.clone();
        set.spawn(async move {
            app.post(
                Role::Manager,
                "/api/v1/lots",
                &json!({"product_model_id": m, "production_line_id": l, "target_quantity": 10}),
            )
            .await
        });
    }
    let mut got = Vec::new();
    while let Some(res) = set.join_next().await {
        let res = res.unwrap();
        res.assert_status(201);
        got.push(res.body["lot_number"].as_str().unwrap().to_string());
    }
    got.sort();
    let ym = yymm(today());
    let want: Vec<String> = (1..=20).map(|i| format!("KR01PSA{ym}{i:02}")).collect();
    assert_eq!(got, want);
    assert_eq!(app.count("wip_items").await, 200);
}

#[sqlx::test(migrations = false)]
async fn the_hundredth_lot_of_a_month_is_refused_and_nothing_is_written(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (m, l) = model_and_line(&app).await;
    let ym = yymm(today());
    // 98 lots of this line, model and month already exist (their counter says so).
    sqlx::query("INSERT INTO lot_sequences (production_line_id, product_model_id, year_month, last_seq) VALUES ($1, $2, $3, 98)")
        .bind(l)
        .bind(m)
        .bind(&ym)
        .execute(&app.pool)
        .await
        .unwrap();
    let lot = create(&app, m, l, 2, None).await;
    assert_eq!(lot["lot_number"], format!("KR01PSA{ym}99"));

    let (lots, wips, audit) = (
        app.count("lots").await,
        app.count("wip_items").await,
        app.count("audit_logs").await,
    );
    let body = json!({"product_model_id": m, "production_line_id": l, "target_quantity": 2});
    let res = app.post(Role::Manager, "/api/v1/lots", &body).await;
    res.assert_problem(409, "LOT_SEQUENCE_EXHAUSTED");
    assert_eq!(app.count("lots").await, lots);
    assert_eq!(app.count("wip_items").await, wips);
    assert_eq!(app.count("audit_logs").await, audit);
    let last: i32 =
        sqlx::query_scalar("SELECT last_seq FROM lot_sequences WHERE production_line_id = $1")
            .bind(l)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(last, 99);

    // the next month is a fresh sequence
    let next = today().checked_add_months(Months::new(1)).unwrap();
    let lot = create(&app, m, l, 1, Some(next)).await;
    assert_eq!(lot["lot_number"], format!("KR01PSA{}01", yymm(next)));
}

#[sqlx::test(migrations = false)]
async fn every_invalid_request_names_the_field_and_writes_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (m, l) = model_and_line(&app).await;
    let old = model(&app, "OLD").await;
    sqlx::query("UPDATE product_models SET status = 'INACTIVE' WHERE id = $1")
        .bind(old)
        .execute(&app.pool)
        .await
        .unwrap();
    let shut = line(&app, "KR", "09").await;
    sqlx::query("UPDATE production_lines SET is_active = false WHERE id = $1")
        .bind(shut)
        .execute(&app.pool)
        .await
        .unwrap();
    let far = today()
        .checked_add_months(Months::new(13))
        .unwrap()
        .to_string();
    let long_ago = today()
        .checked_sub_months(Months::new(13))
        .unwrap()
        .to_string();

    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"production_line_id": l, "target_quantity": 1}),
            "product_model_id",
        ),
        (
            json!({"product_model_id": m, "target_quantity": 1}),
            "production_line_id",
        ),
        (
            json!({"product_model_id": m, "production_line_id": l}),
            "target_quantity",
        ),
        (
            json!({"product_model_id": "one", "production_line_id": l, "target_quantity": 1}),
            "product_model_id",
        ),
        (
            json!({"product_model_id": m, "production_line_id": l, "target_quantity": "5"}),
            "target_quantity",
        ),
        (
            json!({"product_model_id": m, "production_line_id": l, "target_quantity": 0}),
            "target_quantity",
        ),
        (
            json!({"product_model_id": m, "production_line_id": l, "target_quantity": 1000}),
            "target_quantity",
        ),
        (
            json!({"product_model_id": m, "production_line_id": l, "target_quantity": -3}),
            "target_quantity",
        ),
        (
            json!({"product_model_id": m, "production_line_id": l, "target_quantity": 1.5}),
            "target_quantity",
        ),
        (
            json!({"product_model_id": m, "production_line_id": l, "target_quantity": 1, "production_date": "2025-13-01"}),
            "production_date",
        ),
        (
            json!({"product_model_id": m, "production_line_id": l, "target_quantity": 1, "production_date": "tomorrow"}),
            "production_date",
        ),
        (
            json!({"product_model_id": m, "production_line_id": l, "target_quantity": 1, "production_date": far}),
            "production_date",
        ),
        (
            json!({"product_model_id": m, "production_line_id": l, "target_quantity": 1, "production_date": long_ago}),
            "production_date",
        ),
        (
            json!({"product_model_id": m, "production_line_id": l, "target_quantity": 1, "shift": "D"}),
            "shift",
        ),
        (
            json!({"product_model_id": 999_999, "production_line_id": l, "target_quantity": 1}),
            "product_model_id",
        ),
        (
            json!({"product_model_id": m, "production_line_id": 999_999, "target_quantity": 1}),
            "production_line_id",
        ),
        (
            json!({"product_model_id": old, "production_line_id": l, "target_quantity": 1}),
            "product_model_id",
        ),
        (
            json!({"product_model_id": m, "production_line_id": shut, "target_quantity": 1}),
            "production_line_id",
        ),
        (
            json!({"product_model_id": m, "production_line_id": l, "target_quantity": 1, "notes": "x".repeat(2001)}),
            "notes",
        ),
    ];
    for (body, field) in cases {
        let res = app.post(Role::Manager, "/api/v1/lots", &body).await;
        res.assert_problem(422, "VALIDATION_FAILED");
        assert!(
            res.error_fields().iter().any(|f| f == field),
            "{body}: expected field {field}, got {}",
            res.text
        );
    }

    // unknown field: rejected and named
    let res = app
        .post(
            Role::Manager,
            "/api/v1/lots",
            &json!({"product_model_id": m, "production_line_id": l, "target_quantity": 1, "lot_number": "KR01PSA251101"}),
        )
        .await;
    res.assert_problem(422, "VALIDATION_FAILED");
    assert!(res.text.contains("lot_number"), "{}", res.text);

    // several bad fields at once are all reported
    let res = app
        .post(
            Role::Manager,
            "/api/v1/lots",
            &json!({"product_model_id": old, "production_line_id": shut, "target_quantity": 0}),
        )
        .await;
    res.assert_problem(422, "VALIDATION_FAILED");
    let mut fields = res.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        ["product_model_id", "production_line_id", "target_quantity"]
    );

    let res = app
        .raw(
            Method::POST,
            "/api/v1/lots",
            Role::Manager,
            "application/json",
            "{\"product_model_id\": ",
        )
        .await;
    res.assert_problem(400, "MALFORMED_JSON");

    assert_eq!(app.count("lots").await, 0);
    assert_eq!(app.count("wip_items").await, 0);
    assert_eq!(app.count("lot_sequences").await, 0);
}

#[sqlx::test(migrations = false)]
async fn roles_are_enforced(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (m, l) = model_and_line(&app).await;
    let body = json!({"product_model_id": m, "production_line_id": l, "target_quantity": 1});
    app.post(Role::Viewer, "/api/v1/lots", &body)
        .await
        .assert_problem(403, "FORBIDDEN");
    app.post(Role::Operator, "/api/v1/lots", &body)
        .await
        .assert_problem(403, "FORBIDDEN");
    // a wrong role is 403 even with an invalid body
    app.post(Role::Viewer, "/api/v1/lots", &json!({"bogus": 1}))
        .await
        .assert_problem(403, "FORBIDDEN");
    app.request(Method::GET, "/api/v1/lots", None, None, &[])
        .await
        .assert_problem(401, "MISSING_TOKEN");
    let lot = create(&app, m, l, 1, None).await;
    let id = lot["id"].as_i64().unwrap();
    app.post(Role::Admin, "/api/v1/lots", &body)
        .await
        .assert_status(201);
    app.post(
        Role::Operator,
        &format!("/api/v1/lots/{id}/close"),
        &json!({}),
    )
    .await
    .assert_problem(403, "FORBIDDEN");
    app.post(
        Role::Viewer,
        &format!("/api/v1/lots/{id}/close"),
        &json!({}),
    )
    .await
    .assert_problem(403, "FORBIDDEN");
    app.patch(
        Role::Operator,
        &format!("/api/v1/lots/{id}/status"),
        &json!({"status": "ON_HOLD"}),
    )
    .await
    .assert_problem(403, "FORBIDDEN");
    for role in [Role::Viewer, Role::Operator, Role::Manager, Role::Admin] {
        app.get(role, "/api/v1/lots").await.assert_status(200);
        app.get(role, &format!("/api/v1/lots/{id}"))
            .await
            .assert_status(200);
    }
    assert_eq!(app.count("lots").await, 2);
}

/// Six lots over two models, two lines and three dates.
async fn fixture(app: &TestApp) -> (i64, i64, i64, i64, Vec<Value>) {
    let psa = model(app, "PSA").await;
    let ps2 = model(app, "PS2").await;
    let kr01 = line(app, "KR", "01").await;
    let kr02 = line(app, "KR", "02").await;
    let d0 = today();
    let d1 = d0.checked_sub_months(Months::new(1)).unwrap();
    let d2 = d0.checked_sub_months(Months::new(2)).unwrap();
    let mut lots = Vec::new();
    for (m, l, d) in [
        (psa, kr01, d1),
        (ps2, kr01, d0),
        (psa, kr02, d2),
        (psa, kr01, d0),
        (ps2, kr02, d1),
        (psa, kr01, d2),
    ] {
        lots.push(create(app, m, l, 2, Some(d)).await);
    }
    (psa, ps2, kr01, kr02, lots)
}

#[sqlx::test(migrations = false)]
async fn list_filters_and_sorts(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (psa, ps2, kr01, kr02, lots) = fixture(&app).await;
    let all_ids: Vec<i64> = lots.iter().map(|l| l["id"].as_i64().unwrap()).collect();

    // default: newest first, one statement, with joins and counts
    let res = app.get(Role::Viewer, "/api/v1/lots").await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    let mut newest_first = all_ids.clone();
    newest_first.reverse();
    assert_eq!(ids(&res), newest_first);
    let row = &res.body["items"][0];
    assert_eq!(row["model_code"], "PSA");
    assert_eq!(row["model_name"], "Model PSA");
    assert_eq!(row["line_code"], "01");
    assert_eq!(row["target_quantity"], 2);
    assert_eq!(row["wip_counts"]["created"], 2);
    assert_eq!(row["serial_counts"]["total"], 0);
    assert!(res.body["next_cursor"].is_null());

    let list = |q: String| {
        let app = &app;
        async move {
            let res = app.get(Role::Viewer, &format!("/api/v1/lots?{q}")).await;
            res.assert_status(200);
            assert_eq!(res.queries(), 1, "{q}");
            res
        }
    };
    let count = |res: &TestResponse| res.body["items"].as_array().unwrap().len();
    assert_eq!(count(&list(format!("product_model_id={psa}")).await), 4);
    assert_eq!(count(&list(format!("product_model_id={ps2}")).await), 2);
    assert_eq!(count(&list(format!("production_line_id={kr02}")).await), 2);
    assert_eq!(
        count(&list(format!("production_line_id={kr01}&product_model_id={psa}")).await),
        3
    );
    let d0 = today();
    let d1 = d0.checked_sub_months(Months::new(1)).unwrap();
    assert_eq!(count(&list(format!("date_from={d1}")).await), 4);
    assert_eq!(count(&list(format!("date_to={d1}")).await), 4);
    assert_eq!(
        count(&list(format!("date_from={d1}&date_to={d1}")).await),
        2
    );
    assert_eq!(count(&list("status=CREATED".into()).await), 6);
    assert_eq!(count(&list("status=ON_HOLD".into()).await), 0);
    let prefix = format!("KR01PSA{}", yymm(d0));
    let res = list(format!("q={prefix}")).await;
    assert_eq!(numbers(&res.body["items"]), [format!("{prefix}01")]);
    assert_eq!(count(&list("q=kr01".into()).await), 4);
    assert_eq!(count(&list("q=KR".into()).await), 6);
    assert_eq!(count(&list("q=US".into()).await), 0);

    // sorts
    let res = list("sort=lot_number".into()).await;
    let got = numbers(&res.body["items"]);
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(got, sorted);
    let res = list("sort=lot_number&order=desc".into()).await;
    sorted.reverse();
    assert_eq!(numbers(&res.body["items"]), sorted);
    let res = list("sort=production_date&order=asc".into()).await;
    let dates: Vec<String> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["production_date"].as_str().unwrap().to_string())
        .collect();
    let mut sorted_dates = dates.clone();
    sorted_dates.sort();
    assert_eq!(dates, sorted_dates);
    assert_eq!(
        list("sort=created_at&order=asc".into()).await.body["items"][0]["id"],
        all_ids[0]
    );

    // bad parameters are 400 naming the parameter
    for (q, field) in [
        ("status=OPEN", "status"),
        ("sort=id", "sort"),
        ("order=up", "order"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("date_from=2025-02-30", "date_from"),
        ("product_model_id=abc", "product_model_id"),
        ("q=KR%25", "q"),
        ("bogus=1", ""),
    ] {
        let res = app.get(Role::Viewer, &format!("/api/v1/lots?{q}")).await;
        assert_eq!(res.status, 400, "{q}: {}", res.text);
        if !field.is_empty() {
            assert!(
                res.error_fields().iter().any(|f| f == field),
                "{q}: {}",
                res.text
            );
        }
    }
}

#[sqlx::test(migrations = false)]
async fn keyset_pages_have_no_gaps_or_duplicates_even_while_lots_are_added(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (psa, _, kr01, _, lots) = fixture(&app).await;
    let originals: HashSet<i64> = lots.iter().map(|l| l["id"].as_i64().unwrap()).collect();

    for sort in [
        "sort=created_at",
        "sort=created_at&order=asc",
        "sort=production_date",
        "sort=production_date&order=asc",
        "sort=lot_number",
        "sort=lot_number&order=desc",
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let path = match &cursor {
                None => format!("/api/v1/lots?{sort}&limit=4"),
                Some(c) => format!("/api/v1/lots?{sort}&limit=4&cursor={c}"),
            };
            let res = app.get(Role::Viewer, &path).await;
            res.assert_status(200);
            assert_eq!(res.queries(), 1);
            seen.extend(ids(&res));
            pages += 1;
            if pages == 1 {
                // lots created between pages must not disturb the walk over the existing ones
                create(&app, psa, kr01, 1, Some(today())).await;
                create(
                    &app,
                    psa,
                    kr01,
                    1,
                    Some(today().checked_sub_months(Months::new(2)).unwrap()),
                )
                .await;
            }
            match res.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
            assert!(pages < 20, "runaway pagination");
        }
        let unique: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: duplicates in {seen:?}");
        assert!(originals.is_subset(&unique), "{sort}: gaps: {seen:?}");
    }

    // a full walk in pages of 1 returns the same order as one big page
    let all = app
        .get(Role::Viewer, "/api/v1/lots?sort=lot_number&limit=500")
        .await;
    let mut walked = Vec::new();
    let mut cursor = String::new();
    loop {
        let res = app
            .get(
                Role::Viewer,
                &format!("/api/v1/lots?sort=lot_number&limit=1&cursor={cursor}"),
            )
            .await;
        walked.extend(ids(&res));
        match res.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(walked, ids(&all));
}

#[sqlx::test(migrations = false)]
async fn bad_cursors_are_400(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (.., lots) = fixture(&app).await;
    assert_eq!(lots.len(), 6);
    for c in ["garbage", "!!!", "eyJ4IjoxfQ", ""] {
        let res = app
            .get(Role::Viewer, &format!("/api/v1/lots?cursor={c}"))
            .await;
        if c.is_empty() {
            res.assert_status(200);
        } else {
            res.assert_problem(400, "INVALID_CURSOR");
        }
    }
    // a cursor of another sort or order is refused too
    let res = app.get(Role::Viewer, "/api/v1/lots?limit=2").await;
    let c = res.body["next_cursor"].as_str().unwrap().to_string();
    app.get(Role::Viewer, &format!("/api/v1/lots?limit=2&cursor={c}"))
        .await
        .assert_status(200);
    app.get(
        Role::Viewer,
        &format!("/api/v1/lots?limit=2&sort=lot_number&cursor={c}"),
    )
    .await
    .assert_problem(400, "INVALID_CURSOR");
    app.get(
        Role::Viewer,
        &format!("/api/v1/lots?limit=2&order=asc&cursor={c}"),
    )
    .await
    .assert_problem(400, "INVALID_CURSOR");
}

#[sqlx::test(migrations = false)]
async fn lot_detail_by_id_and_number(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (m, l) = model_and_line(&app).await;
    let lot = create(&app, m, l, 4, None).await;
    let id = lot["id"].as_i64().unwrap();
    let number = lot["lot_number"].as_str().unwrap().to_string();

    // unit history at process 1: unit 1 passed, unit 2 failed then passed, unit 3 failed, unit 4 is open
    let operator = app.user(Role::Operator).id;
    let wips: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM wip_items WHERE lot_id = $1 ORDER BY sequence_in_lot")
            .bind(id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let p1: i64 = sqlx::query_scalar("SELECT id FROM processes WHERE process_number = 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let p2: i64 = sqlx::query_scalar("SELECT id FROM processes WHERE process_number = 2")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    for (wip, process, result, minutes_ago) in [
        (wips[0], p1, Some("PASS"), 50),
        (wips[1], p1, Some("FAIL"), 40),
        (wips[1], p1, Some("PASS"), 30),
        (wips[2], p1, Some("FAIL"), 20),
        (wips[3], p1, None, 10),
        (wips[0], p2, None, 5),
    ] {
        sqlx::query(
            "INSERT INTO process_data (lot_id, wip_id, process_id, operator_id, data_level, result, defects, started_at, completed_at) \
             VALUES ($1, $2, $3, $4, 'WIP', $5, CASE WHEN $5 = 'FAIL' THEN '[{\"code\": \"SCRATCH\"}]'::jsonb END, \
                     now() - make_interval(mins => $6), CASE WHEN $5 IS NOT NULL THEN now() - make_interval(mins => $6 - 1) END)",
        )
        .bind(id)
        .bind(wip)
        .bind(process)
        .bind(operator)
        .bind(result)
        .bind(minutes_ago)
        .execute(&app.pool)
        .await
        .unwrap();
    }

    let res = app.get(Role::Viewer, &format!("/api/v1/lots/{id}")).await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    let body = &res.body;
    assert_eq!(body["lot_number"], number);
    assert_eq!(body["model_code"], "PSA");
    assert_eq!(body["wip_counts"]["total"], 4);
    assert_eq!(body["serial_counts"]["total"], 0);
    let processes = body["processes"].as_array().unwrap();
    assert_eq!(processes.len(), 8);
    assert_eq!(processes[0]["process_number"], 1);
    assert_eq!(processes[0]["process_code"], "LASER_MARKING");
    assert_eq!(
        (
            &processes[0]["passed"],
            &processes[0]["failed"],
            &processes[0]["open"],
            &processes[0]["rework"]
        ),
        (&json!(2), &json!(1), &json!(1), &json!(0))
    );
    assert_eq!(
        (&processes[1]["passed"], &processes[1]["open"]),
        (&json!(0), &json!(1))
    );
    assert!(processes[2..]
        .iter()
        .all(|p| p["passed"] == 0 && p["failed"] == 0 && p["open"] == 0));

    let res = app
        .get(Role::Viewer, &format!("/api/v1/lots/by-number/{number}"))
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(res.body["id"], id);
    assert_eq!(res.body["processes"], body["processes"]);

    app.get(Role::Viewer, "/api/v1/lots/999999")
        .await
        .assert_problem(404, "NOT_FOUND");
    app.get(Role::Viewer, "/api/v1/lots/by-number/US99XXX251101")
        .await
        .assert_problem(404, "NOT_FOUND");
    for bad in [
        "KR01PSA251100",
        "kr01psa251101",
        "KR01PSA251301",
        "KR01PSA2511",
        "WIP-KR01PSA251101-001",
    ] {
        let res = app
            .get(Role::Viewer, &format!("/api/v1/lots/by-number/{bad}"))
            .await;
        res.assert_fields(400, "INVALID_LOT_NUMBER", &["lot_number"]);
    }
    app.get(Role::Viewer, "/api/v1/lots/abc")
        .await
        .assert_problem(400, "INVALID_PATH");
}

async fn close(app: &TestApp, id: i64) -> TestResponse {
    app.post(
        Role::Manager,
        &format!("/api/v1/lots/{id}/close"),
        &json!({}),
    )
    .await
}

async fn set_status(app: &TestApp, id: i64, status: &str) -> TestResponse {
    app.patch(
        Role::Manager,
        &format!("/api/v1/lots/{id}/status"),
        &json!({"status": status}),
    )
    .await
}

#[sqlx::test(migrations = false)]
async fn manual_status_changes_are_holds_and_releases_only(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (m, l) = model_and_line(&app).await;
    let id = create(&app, m, l, 2, None).await["id"].as_i64().unwrap();

    let res = app
        .patch(
            Role::Manager,
            &format!("/api/v1/lots/{id}/status"),
            &json!({"status": "ON_HOLD", "reason": "supplier recall"}),
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.body["status"], "ON_HOLD");
    assert!(
        res.body["notes"]
            .as_str()
            .unwrap()
            .contains("supplier recall"),
        "{}",
        res.text
    );
    assert!(
        res.body["notes"].as_str().unwrap().contains("manager"),
        "{}",
        res.text
    );

    // never started: releasing to IN_PROGRESS is refused, to CREATED allowed
    let res = set_status(&app, id, "IN_PROGRESS").await;
    let p = res.assert_problem(409, "INVALID_STATUS_TRANSITION");
    assert!(
        p["detail"].as_str().unwrap().contains("ON_HOLD")
            && p["detail"].as_str().unwrap().contains("IN_PROGRESS")
    );
    set_status(&app, id, "CREATED").await.assert_status(200);
    set_status(&app, id, "CREATED").await.assert_status(200); // same status: no-op

    for to in ["IN_PROGRESS", "COMPLETED", "CLOSED"] {
        let res = set_status(&app, id, to).await;
        let p = res.assert_problem(409, "INVALID_STATUS_TRANSITION");
        let detail = p["detail"].as_str().unwrap();
        assert!(
            detail.contains("CREATED") && detail.contains(to),
            "{detail}"
        );
    }

    // once started (the flow moves it to IN_PROGRESS), a hold releases back to IN_PROGRESS only
    sqlx::query("UPDATE lots SET status = 'IN_PROGRESS' WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    set_status(&app, id, "ON_HOLD").await.assert_status(200);
    set_status(&app, id, "CREATED")
        .await
        .assert_problem(409, "INVALID_STATUS_TRANSITION");
    let res = set_status(&app, id, "IN_PROGRESS").await;
    res.assert_status(200);
    assert_eq!(res.body["status"], "IN_PROGRESS");
    set_status(&app, id, "COMPLETED")
        .await
        .assert_problem(409, "INVALID_STATUS_TRANSITION");

    // status changes are audited with the manager's id
    let who: Vec<Option<i64>> = sqlx::query_scalar(
        "SELECT user_id FROM audit_logs WHERE table_name = 'lots' AND record_id = $1 AND action = 'UPDATE' \
         AND 'status' = ANY (changed_fields) AND user_ref IS NOT NULL",
    )
    .bind(id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(
        who.len() >= 4 && who.iter().all(|u| *u == Some(app.user(Role::Manager).id)),
        "{who:?}"
    );

    // bad input
    let path = format!("/api/v1/lots/{id}/status");
    app.patch(Role::Manager, &path, &json!({"status": "OPEN"}))
        .await
        .assert_problem(422, "VALIDATION_FAILED");
    app.patch(Role::Manager, &path, &json!({}))
        .await
        .assert_problem(422, "VALIDATION_FAILED");
    app.patch(
        Role::Manager,
        &path,
        &json!({"status": "ON_HOLD", "reason": "x".repeat(501)}),
    )
    .await
    .assert_problem(422, "VALIDATION_FAILED");
    app.patch(
        Role::Manager,
        "/api/v1/lots/999999/status",
        &json!({"status": "ON_HOLD"}),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
}

#[sqlx::test(migrations = false)]
async fn close_only_a_completed_lot(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (m, l) = model_and_line(&app).await;
    let id = create(&app, m, l, 3, None).await["id"].as_i64().unwrap();

    let res = close(&app, id).await;
    let p = res.assert_problem(409, "LOT_NOT_COMPLETED");
    assert!(
        p["detail"].as_str().unwrap().contains("3 WIP item(s)"),
        "{}",
        res.text
    );

    // the flow finishes the units (two scrapped, one converted to a completed serial) and completes the lot
    sqlx::query("UPDATE lots SET status = 'IN_PROGRESS' WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE wip_items SET status = 'IN_PROGRESS' WHERE lot_id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let res = close(&app, id).await;
    let p = res.assert_problem(409, "LOT_NOT_COMPLETED");
    assert!(
        p["detail"].as_str().unwrap().contains("IN_PROGRESS"),
        "{}",
        res.text
    );
    sqlx::query("UPDATE wip_items SET status = 'SCRAPPED' WHERE lot_id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE lots SET status = 'COMPLETED' WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();

    let res = close(&app, id).await;
    res.assert_status(200);
    assert_eq!(res.body["status"], "CLOSED");
    assert!(res.body["closed_at"].is_string());
    let res = close(&app, id).await;
    res.assert_problem(409, "LOT_NOT_COMPLETED");
    set_status(&app, id, "ON_HOLD")
        .await
        .assert_problem(409, "INVALID_STATUS_TRANSITION");
    app.post(Role::Manager, "/api/v1/lots/999999/close", &json!({}))
        .await
        .assert_problem(404, "NOT_FOUND");
}

/// A time zone whose date differs from UTC's date right now, and its fixed offset in hours: UTC+14
/// (Pacific/Kiritimati, already tomorrow from 10:00 UTC on) or UTC−12 (Etc/GMT+12, still yesterday until 12:00
/// UTC). Neither has daylight saving time. Waits out the last minutes before UTC midnight, where the choice could
/// go stale during the test.
pub async fn zone_on_another_date_than_utc() -> (&'static str, i64) {
    use chrono::Timelike;
    let now = Utc::now();
    if now.hour() == 23 && now.minute() >= 58 {
        tokio::time::sleep(std::time::Duration::from_secs(180)).await;
    }
    if Utc::now().hour() >= 11 {
        ("Pacific/Kiritimati", 14)
    } else {
        ("Etc/GMT+12", -12)
    }
}

/// A plant ahead of (or behind) UTC: a lot created now without a production date gets the plant's date, its number
/// the plant's month, the date window is centred on the plant's today, and the dashboard's default day is the
/// plant's — all differing from the UTC date of the same instant.
#[sqlx::test(migrations = false)]
async fn production_date_lot_month_and_today_follow_the_plant_time_zone(pool: PgPool) {
    let (zone, offset) = zone_on_another_date_than_utc().await;
    let app = TestApp::spawn_in_zone(pool, zone).await;
    let (m, l) = model_and_line(&app).await;
    let lot = create(&app, m, l, 1, None).await;
    let created_at: chrono::DateTime<Utc> = lot["created_at"].as_str().unwrap().parse().unwrap();
    let plant_day = (created_at + chrono::Duration::hours(offset)).date_naive();
    assert_ne!(plant_day, created_at.date_naive(), "{zone}");
    assert_eq!(lot["production_date"], plant_day.to_string(), "{zone}");
    let number = lot["lot_number"].as_str().unwrap();
    assert_eq!(&number[7..11], yymm(plant_day), "{number}");

    // the window's edge that lies beyond UTC's window is accepted: it is measured from the plant's today
    let (from, to) = neurohub_mes::lots::production_date_window(plant_day);
    let edge = if offset > 0 { to } else { from };
    create(&app, m, l, 1, Some(edge)).await;
    let (utc_from, utc_to) = neurohub_mes::lots::production_date_window(created_at.date_naive());
    assert!(edge < utc_from || edge > utc_to, "{edge}");

    let dash = app.get(Role::Viewer, "/api/v1/dashboard").await;
    dash.assert_status(200);
    assert_eq!(dash.body["date"], plant_day.to_string(), "{zone}");
}

/// The plant time zone is checked against PostgreSQL's zone names at start, with a message naming the setting.
#[sqlx::test(migrations = false)]
async fn unknown_plant_time_zones_are_refused_at_start(pool: PgPool) {
    use neurohub_mes::settings::check_time_zone;
    for good in ["UTC", "Asia/Seoul", "Europe/Berlin", "Etc/GMT+12"] {
        check_time_zone(&pool, good).await.unwrap();
    }
    // a typo, an abbreviation and a POSIX offset string: PostgreSQL's AT TIME ZONE takes the last two, the
    // setting does not
    for bad in ["Asia/Seul", "KST", "UTC+9"] {
        let e = check_time_zone(&pool, bad).await.unwrap_err();
        assert!(
            e.contains("NEUROHUB_PLANT_TIME_ZONE") && e.contains(bad),
            "{e}"
        );
    }
}
