//! Hostile input at the boundary: what PostgreSQL cannot store is refused before any SQL runs, with a 422 that
//! names the field, and never a 500. (Before the boundary check, a NUL in any text answered 500: PostgreSQL's
//! `invalid byte sequence for encoding "UTF8": 0x00`.)

use crate::helpers::TestApp;
use neurohub_core::auth::Role;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn nul_in_bodies_queries_and_paths_is_422_naming_the_field(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // Unauthenticated: the login body.
    let res = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": "admin\u{0}", "password": "whatever it is"})),
            &[],
        )
        .await;
    res.assert_fields(422, "VALIDATION_FAILED", &["username"]);
    // A write body, nested and in a map key.
    let res = app
        .post(
            Role::Admin,
            "/api/v1/product-models",
            &json!({"model_code": "NUL", "model_name": "bad\u{0}name"}),
        )
        .await;
    res.assert_fields(422, "VALIDATION_FAILED", &["model_name"]);
    let res = app
        .post(
            Role::Admin,
            "/api/v1/product-models",
            &json!({"model_code": "NUL", "model_name": "ok", "specifications": {"a": [1, {"b\u{0}": 2}]}}),
        )
        .await;
    res.assert_fields(422, "VALIDATION_FAILED", &["specifications.a[1]"]);
    // A query parameter.
    let res = app.get(Role::Admin, "/api/v1/users?q=%00").await;
    res.assert_fields(422, "VALIDATION_FAILED", &["q"]);
    // A path parameter.
    let res = app
        .get(Role::Admin, "/api/v1/trace/serials/KR01%00PSA")
        .await;
    res.assert_fields(422, "VALIDATION_FAILED", &["serial_number"]);
    // Nothing was written.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM product_models WHERE model_code = 'NUL'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

/// A 413 is answered before the body is read: the answer says the connection ends (`Connection: close`), so a
/// keep-alive client opens a new one for its next request instead of failing on a half-read connection.
#[sqlx::test(migrations = false)]
async fn too_large_bodies_are_413_and_close_the_connection(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let big = format!(
        "{{\"model_code\":\"BIG\",\"model_name\":\"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let res = app
        .client
        .post(app.url("/api/v1/product-models"))
        .bearer_auth(app.token(Role::Admin))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(res.headers().get("connection").unwrap(), "close");
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    // The same client carries on.
    let ok = app.get(Role::Admin, "/api/v1/product-models").await;
    ok.assert_status(200);
}
