//! Master data: product models, processes, production lines, equipment.

use crate::helpers::TestApp;
use neurohub_core::auth::Role;
use serde_json::{json, Value};
use sqlx::PgPool;

fn items(body: &Value) -> &Vec<Value> {
    body["items"].as_array().expect("items")
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

// ---------------------------------------------------------------- product models

#[sqlx::test(migrations = false)]
async fn product_models_crud(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .post(
            Role::Manager,
            "/api/v1/product-models",
            &json!({"model_code": "PSA", "model_name": "Pressure Sensor A", "category": "sensor", "specifications": {"v": 5}}),
        )
        .await;
    res.assert_status(201);
    // set_config (BEGIN is pipelined with it and not counted), INSERT, COMMIT
    assert_eq!(res.queries(), 3);
    let id = res.body["id"].as_i64().unwrap();
    assert_eq!(
        res.headers["location"],
        format!("/api/v1/product-models/{id}")
    );
    assert_eq!(res.body["status"], "ACTIVE");
    assert_eq!(res.body["specifications"]["v"], 5);

    app.post(
        Role::Admin,
        "/api/v1/product-models",
        &json!({"model_code": "PSB", "model_name": "B"}),
    )
    .await
    .assert_status(201);
    let res = app.get(Role::Viewer, "/api/v1/product-models").await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(items(&res.body).len(), 2);
    let res = app
        .get(Role::Operator, &format!("/api/v1/product-models/{id}"))
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(res.body["model_code"], "PSA");

    // deactivate instead of delete
    let res = app
        .patch(
            Role::Manager,
            &format!("/api/v1/product-models/{id}"),
            &json!({"status": "DISCONTINUED", "category": null}),
        )
        .await;
    res.assert_status(200);
    // set_config (BEGIN is pipelined with it and not counted), UPDATE, COMMIT
    assert_eq!(res.queries(), 3);
    assert_eq!(res.body["status"], "DISCONTINUED");
    assert!(res.body["category"].is_null());
    assert_eq!(res.body["model_name"], "Pressure Sensor A");
    let res = app
        .get(Role::Viewer, "/api/v1/product-models?status=ACTIVE")
        .await;
    assert_eq!(items(&res.body).len(), 1);
    let res = app
        .get(Role::Viewer, "/api/v1/product-models?limit=1")
        .await;
    let cursor = res.body["next_cursor"].as_str().unwrap().to_string();
    let res = app
        .get(
            Role::Viewer,
            &format!("/api/v1/product-models?limit=1&cursor={cursor}"),
        )
        .await;
    assert_eq!(items(&res.body)[0]["model_code"], "PSB");
    assert!(res.body["next_cursor"].is_null());
    app.get(Role::Viewer, "/api/v1/product-models?status=GONE")
        .await
        .assert_problem(400, "INVALID_QUERY");

    app.assert_unknown_id_404("/api/v1/product-models", &json!({"model_name": "x"}))
        .await;
    app.post(Role::Operator, "/api/v1/product-models", &json!({}))
        .await
        .assert_problem(403, "FORBIDDEN");
    app.patch(
        Role::Viewer,
        &format!("/api/v1/product-models/{id}"),
        &json!({}),
    )
    .await
    .assert_problem(403, "FORBIDDEN");
    app.delete(Role::Admin, &format!("/api/v1/product-models/{id}"))
        .await
        .assert_status(405);

    // audit rows carry the acting user
    let user_id: Option<i64> = sqlx::query_scalar(
        "SELECT user_id FROM audit_logs WHERE table_name = 'product_models' AND record_id = $1 AND action = 'UPDATE'",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(user_id, Some(app.user(Role::Manager).id));
}

#[sqlx::test(migrations = false)]
async fn product_model_validation_and_duplicates(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .post(
            Role::Manager,
            "/api/v1/product-models",
            &json!({"model_code": "ps", "model_name": " ", "category": "c".repeat(101), "status": "NEW", "specifications": [1]}),
        )
        .await;
    res.assert_problem(422, "VALIDATION_FAILED");
    assert_eq!(
        sorted(res.error_fields()),
        [
            "category",
            "model_code",
            "model_name",
            "specifications",
            "status"
        ]
    );
    for code in ["PS", "PSAA", "ps1", "P-1"] {
        let res = app
            .post(
                Role::Manager,
                "/api/v1/product-models",
                &json!({"model_code": code, "model_name": "x"}),
            )
            .await;
        res.assert_problem(422, "VALIDATION_FAILED");
    }
    app.post(
        Role::Manager,
        "/api/v1/product-models",
        &json!({"model_code": "PSA", "model_name": "x"}),
    )
    .await
    .assert_status(201);
    let res = app
        .post(
            Role::Manager,
            "/api/v1/product-models",
            &json!({"model_code": "PSA", "model_name": "y"}),
        )
        .await;
    res.assert_fields(409, "DUPLICATE", &["model_code"]);

    let res = app
        .patch(
            Role::Manager,
            "/api/v1/product-models/1",
            &json!({"model_name": "", "status": "X", "specifications": "s"}),
        )
        .await;
    res.assert_problem(422, "VALIDATION_FAILED");
    assert_eq!(
        sorted(res.error_fields()),
        ["model_name", "specifications", "status"]
    );
    // model_code is part of lot numbers: it cannot be changed
    app.patch(
        Role::Manager,
        "/api/v1/product-models/1",
        &json!({"model_code": "PSZ"}),
    )
    .await
    .assert_problem(422, "VALIDATION_FAILED");
    app.patch(Role::Manager, "/api/v1/product-models/1", &json!({}))
        .await
        .assert_problem(422, "VALIDATION_FAILED");
    assert_eq!(app.count("product_models").await, 1);
}

// ---------------------------------------------------------------- processes

#[sqlx::test(migrations = false)]
async fn processes_are_listed_in_order_and_patched(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app.get(Role::Viewer, "/api/v1/processes").await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    let numbers: Vec<i64> = items(&res.body)
        .iter()
        .map(|p| p["process_number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7, 8]);
    let id = items(&res.body)[1]["id"].as_i64().unwrap();
    let res = app.get(Role::Viewer, "/api/v1/processes?limit=3").await;
    let cursor = res.body["next_cursor"].as_str().unwrap().to_string();
    let res = app
        .get(
            Role::Viewer,
            &format!("/api/v1/processes?limit=3&cursor={cursor}"),
        )
        .await;
    assert_eq!(items(&res.body)[0]["process_number"], 4);

    let res = app
        .get(Role::Operator, &format!("/api/v1/processes/{id}"))
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(res.body["process_code"], "LMA_ASSEMBLY");

    let criteria =
        json!({"torque_nm": {"min": 1.5, "max": 2.5, "unit": "Nm", "required": true}, "note": {}});
    let path = format!("/api/v1/processes/{id}");
    let res = app
        .patch(
            Role::Manager,
            &path,
            &json!({"quality_criteria": criteria, "estimated_duration_seconds": 240}),
        )
        .await;
    res.assert_status(200);
    // set_config (BEGIN is pipelined with it and not counted), UPDATE, COMMIT
    assert_eq!(res.queries(), 3);
    assert_eq!(res.body["quality_criteria"], criteria);
    assert_eq!(res.body["estimated_duration_seconds"], 240);
    let res = app
        .patch(
            Role::Admin,
            &path,
            &json!({"is_active": false, "description": null, "estimated_duration_seconds": null}),
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.body["is_active"], false);
    assert!(res.body["description"].is_null() && res.body["estimated_duration_seconds"].is_null());
    let res = app
        .get(Role::Viewer, "/api/v1/processes?is_active=false")
        .await;
    assert_eq!(items(&res.body).len(), 1);

    app.patch(Role::Operator, &path, &json!({"is_active": true}))
        .await
        .assert_problem(403, "FORBIDDEN");
    app.assert_unknown_id_404("/api/v1/processes", &json!({"is_active": true}))
        .await;
    // fixed set: no create, no delete
    app.post(Role::Admin, "/api/v1/processes", &json!({}))
        .await
        .assert_status(405);
    app.delete(Role::Admin, &path).await.assert_status(405);
    // fields that are not editable
    app.patch(Role::Admin, &path, &json!({"process_code": "X"}))
        .await
        .assert_problem(422, "VALIDATION_FAILED");
}

#[sqlx::test(migrations = false)]
async fn quality_criteria_shape_is_validated_with_paths(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let path = "/api/v1/processes/1";
    let res = app
        .patch(
            Role::Manager,
            path,
            &json!({
                "quality_criteria": {
                    "torque_nm": {"min": 3, "max": 2},
                    "gap_mm": {"min": "a", "unit": 5, "required": "yes", "tolerance": 1},
                    "flat": 7
                },
                "estimated_duration_seconds": 0,
                "description": "d".repeat(2001)
            }),
        )
        .await;
    res.assert_problem(422, "VALIDATION_FAILED");
    assert_eq!(
        sorted(res.error_fields()),
        [
            "description",
            "estimated_duration_seconds",
            "quality_criteria.flat",
            "quality_criteria.gap_mm.min",
            "quality_criteria.gap_mm.required",
            "quality_criteria.gap_mm.tolerance",
            "quality_criteria.gap_mm.unit",
            "quality_criteria.torque_nm.min",
        ]
    );
    let res = app
        .patch(Role::Manager, path, &json!({"quality_criteria": [1, 2]}))
        .await;
    assert_eq!(res.error_fields(), ["quality_criteria"]);
    app.patch(
        Role::Manager,
        path,
        &json!({"estimated_duration_seconds": "sixty"}),
    )
    .await
    .assert_problem(422, "VALIDATION_FAILED");
    app.patch(Role::Manager, path, &json!({}))
        .await
        .assert_problem(422, "VALIDATION_FAILED");
}

// ---------------------------------------------------------------- production lines

#[sqlx::test(migrations = false)]
async fn production_lines_crud_validation_and_duplicates(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .post(
            Role::Manager,
            "/api/v1/production-lines",
            &json!({"country_code": "KR", "line_code": "01", "name": "Line 1"}),
        )
        .await;
    res.assert_status(201);
    assert_eq!(res.queries(), 3);
    let id = res.body["id"].as_i64().unwrap();
    assert_eq!(
        res.headers["location"],
        format!("/api/v1/production-lines/{id}")
    );
    assert_eq!(res.body["is_active"], true);

    let res = app
        .post(
            Role::Manager,
            "/api/v1/production-lines",
            &json!({"country_code": "KR", "line_code": "01", "name": "Again"}),
        )
        .await;
    res.assert_fields(409, "DUPLICATE", &["line_code"]);
    app.post(
        Role::Manager,
        "/api/v1/production-lines",
        &json!({"country_code": "VN", "line_code": "01", "name": "Hanoi 1"}),
    )
    .await
    .assert_status(201);

    let res = app
        .post(
            Role::Manager,
            "/api/v1/production-lines",
            &json!({"country_code": "kr", "line_code": "1A", "name": ""}),
        )
        .await;
    res.assert_problem(422, "VALIDATION_FAILED");
    assert_eq!(
        sorted(res.error_fields()),
        ["country_code", "line_code", "name"]
    );
    for (cc, lc) in [("KOR", "01"), ("K1", "01"), ("KR", "001"), ("KR", "")] {
        let res = app
            .post(
                Role::Admin,
                "/api/v1/production-lines",
                &json!({"country_code": cc, "line_code": lc, "name": "x"}),
            )
            .await;
        res.assert_problem(422, "VALIDATION_FAILED");
    }

    let res = app.get(Role::Viewer, "/api/v1/production-lines").await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(items(&res.body).len(), 2);
    let res = app
        .get(Role::Viewer, "/api/v1/production-lines?country_code=VN")
        .await;
    assert_eq!(items(&res.body).len(), 1);
    app.get(Role::Viewer, "/api/v1/production-lines?country_code=vn")
        .await
        .assert_problem(400, "INVALID_QUERY");
    let res = app
        .get(Role::Viewer, &format!("/api/v1/production-lines/{id}"))
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);

    let path = format!("/api/v1/production-lines/{id}");
    let res = app
        .patch(
            Role::Manager,
            &path,
            &json!({"is_active": false, "name": "Line 1 (old)"}),
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 3);
    assert_eq!(res.body["is_active"], false);
    assert_eq!(res.body["country_code"], "KR");
    let res = app
        .get(Role::Viewer, "/api/v1/production-lines?is_active=true")
        .await;
    assert_eq!(items(&res.body).len(), 1);
    app.patch(Role::Manager, &path, &json!({"name": "  "}))
        .await
        .assert_problem(422, "VALIDATION_FAILED");
    app.patch(Role::Manager, &path, &json!({"line_code": "02"}))
        .await
        .assert_problem(422, "VALIDATION_FAILED");
    app.assert_unknown_id_404("/api/v1/production-lines", &json!({"name": "x"}))
        .await;
    app.post(Role::Operator, "/api/v1/production-lines", &json!({}))
        .await
        .assert_problem(403, "FORBIDDEN");
}

// ---------------------------------------------------------------- equipment

#[sqlx::test(migrations = false)]
async fn equipment_crud_filters_and_references(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let line = app
        .post(
            Role::Manager,
            "/api/v1/production-lines",
            &json!({"country_code": "KR", "line_code": "01", "name": "Line 1"}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let res = app
        .post(
            Role::Manager,
            "/api/v1/equipment",
            &json!({"equipment_code": "LSR-01", "name": "Laser marker", "equipment_type": "LASER", "process_id": 1,
                    "production_line_id": line, "last_calibrated_at": "2025-11-01T08:00:00Z"}),
        )
        .await;
    res.assert_status(201);
    assert_eq!(res.queries(), 3);
    let id = res.body["id"].as_i64().unwrap();
    assert_eq!(res.headers["location"], format!("/api/v1/equipment/{id}"));
    assert_eq!(res.body["status"], "AVAILABLE");
    assert_eq!(res.body["is_active"], true);
    assert_eq!(res.body["last_calibrated_at"], "2025-11-01T08:00:00Z");
    app.post(
        Role::Admin,
        "/api/v1/equipment",
        &json!({"equipment_code": "SCR-01", "name": "Screwdriver", "status": "MAINTENANCE"}),
    )
    .await
    .assert_status(201);

    let res = app.get(Role::Viewer, "/api/v1/equipment").await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(items(&res.body).len(), 2);
    for (q, n) in [
        ("status=MAINTENANCE", 1),
        ("process_id=1", 1),
        ("process_id=2", 0),
        (&format!("production_line_id={line}") as &str, 1),
        ("is_active=true", 2),
    ] {
        let res = app
            .get(Role::Viewer, &format!("/api/v1/equipment?{q}"))
            .await;
        res.assert_status(200);
        assert_eq!(res.queries(), 1);
        assert_eq!(items(&res.body).len(), n, "{q}");
    }
    app.get(Role::Viewer, "/api/v1/equipment?status=BROKEN")
        .await
        .assert_problem(400, "INVALID_QUERY");
    let res = app
        .get(Role::Viewer, "/api/v1/equipment?process_id=one")
        .await;
    res.assert_fields(400, "INVALID_QUERY", &["process_id"]);
    let res = app
        .get(Role::Operator, &format!("/api/v1/equipment/{id}"))
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);

    // PATCH status, detach from the process, retire
    let path = format!("/api/v1/equipment/{id}");
    let res = app
        .patch(
            Role::Manager,
            &path,
            &json!({"status": "IN_USE", "process_id": null}),
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 3);
    assert_eq!(res.body["status"], "IN_USE");
    assert!(res.body["process_id"].is_null());
    assert_eq!(res.body["production_line_id"], line);
    let res = app
        .patch(Role::Manager, &path, &json!({"is_active": false}))
        .await;
    assert_eq!(res.body["is_active"], false);
    assert_eq!(res.body["status"], "IN_USE");

    // unknown references are 422 naming the field
    let res = app
        .post(
            Role::Manager,
            "/api/v1/equipment",
            &json!({"equipment_code": "X-1", "name": "x", "process_id": 999}),
        )
        .await;
    res.assert_fields(422, "REFERENCE_NOT_FOUND", &["process_id"]);
    let res = app
        .patch(Role::Manager, &path, &json!({"production_line_id": 999}))
        .await;
    res.assert_fields(422, "REFERENCE_NOT_FOUND", &["production_line_id"]);

    // duplicates, validation, unknown ids, roles
    let res = app
        .post(
            Role::Manager,
            "/api/v1/equipment",
            &json!({"equipment_code": "LSR-01", "name": "again"}),
        )
        .await;
    res.assert_fields(409, "DUPLICATE", &["equipment_code"]);
    let res = app
        .post(
            Role::Manager,
            "/api/v1/equipment",
            &json!({"equipment_code": "bad code", "name": "", "equipment_type": "t".repeat(51), "status": "BROKEN",
                    "process_id": 0, "production_line_id": -1, "last_calibrated_at": "2999-01-01T00:00:00Z"}),
        )
        .await;
    res.assert_problem(422, "VALIDATION_FAILED");
    assert_eq!(
        sorted(res.error_fields()),
        [
            "equipment_code",
            "equipment_type",
            "last_calibrated_at",
            "name",
            "process_id",
            "production_line_id",
            "status"
        ]
    );
    let res = app
        .patch(Role::Manager, &path, &json!({"status": "OFF", "name": ""}))
        .await;
    assert_eq!(sorted(res.error_fields()), ["name", "status"]);
    app.patch(Role::Manager, &path, &json!({"equipment_code": "NEW"}))
        .await
        .assert_problem(422, "VALIDATION_FAILED");
    app.post(
        Role::Manager,
        "/api/v1/equipment",
        &json!({"equipment_code": "A", "name": "a", "last_calibrated_at": "yesterday"}),
    )
    .await
    .assert_problem(422, "VALIDATION_FAILED");
    app.assert_unknown_id_404("/api/v1/equipment", &json!({"status": "IN_USE"}))
        .await;
    app.post(Role::Operator, "/api/v1/equipment", &json!({}))
        .await
        .assert_problem(403, "FORBIDDEN");
    app.patch(Role::Viewer, &path, &json!({"status": "IN_USE"}))
        .await
        .assert_problem(403, "FORBIDDEN");
    assert_eq!(app.count("equipment").await, 2);
}

/// Any JSON the database took is answered: a number PostgreSQL keeps exactly but no f64 holds once written out in
/// full (1.7976931348623155e+308 comes back as 309 digits) made every later read of the model a 500 when the
/// server parsed the stored value (found by the API fuzzer).
#[sqlx::test(migrations = false)]
async fn product_model_specifications_are_answered_as_stored(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .post(
            Role::Manager,
            "/api/v1/product-models",
            &json!({"model_code": "BIG", "model_name": "Edge numbers", "specifications": {"max": 1.7976931348623155e308, "tiny": -1.401298464324817e-45}}),
        )
        .await;
    res.assert_status(201);
    // (serde_json, the test's own parser, cannot read the answer into a Value either: the text is checked)
    let id: i64 = app
        .scalar(
            "SELECT id FROM product_models WHERE model_code = $1",
            "BIG".to_string(),
        )
        .await;
    for res in [
        app.get(Role::Viewer, &format!("/api/v1/product-models/{id}"))
            .await,
        app.get(Role::Viewer, "/api/v1/product-models").await,
        // the audit row of the insert holds the same number
        app.get(Role::Admin, "/api/v1/audit-logs?table_name=product_models")
            .await,
    ] {
        res.assert_status(200);
        assert!(
            res.text.contains("\"max\": 1797693134862315"),
            "{}",
            res.text
        );
    }
}
