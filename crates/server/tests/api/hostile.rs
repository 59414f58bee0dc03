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

/// The path check is one route layer for every route, so it also covers segments no `ApiPath` reads: the ATP's
/// `{ws}` (resolved by the `Member` extractor, which answered 500 for a NUL before: PostgreSQL refused the text).
#[sqlx::test(migrations = false)]
async fn nul_and_invalid_utf8_in_any_path_segment_are_refused_before_sql(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let ws = crate::atp_support::workspace(&app, "NULWS", false).await;
    for path in [
        "/api/v1/workspaces/NUL%00WS",
        "/api/v1/workspaces/NUL%00WS/sites",
        "/api/v1/workspaces/%00/members",
    ] {
        app.request(Method::GET, path, Some(ws.admin()), None, &[])
            .await
            .assert_fields(422, "VALIDATION_FAILED", &["ws"]);
    }
    app.request(
        Method::GET,
        "/api/v1/workspaces/NUL%FFWS/sites",
        Some(ws.admin()),
        None,
        &[],
    )
    .await
    .assert_problem(400, "INVALID_PATH");
    // a well-formed segment still resolves
    app.request(Method::GET, &ws.path("/sites"), Some(ws.admin()), None, &[])
        .await
        .assert_status(200);
}

/// Uploaded text outside JSON: a NUL in a CSV cell is a reported problem of its row and column (it answered 500:
/// the cell went into an INSERT), and a NUL in a multipart text part or file name is a 422 naming it.
#[sqlx::test(migrations = false)]
async fn nul_in_uploaded_csv_and_multipart_text_is_refused(pool: PgPool) {
    use crate::atp_support::{example_files, upload};
    use neurohub_atp::state::SourceType;
    let app = TestApp::spawn(pool).await;
    let ws = crate::atp_support::workspace(&app, "NULCSV", false).await;
    let sites = b"site_id,site_name\nJKT-1,Menteng\nJKT-2,Tanah\0Abang\n".to_vec();
    let res = upload(
        &app,
        ws.admin(),
        &ws.path("/sites/import"),
        None,
        &[("sites".into(), sites)],
    )
    .await;
    res.assert_fields(422, "IMPORT_INVALID", &["sites:3:site_name"]);
    assert_eq!(
        res.body["errors"][0]["message"],
        neurohub_core::extract::NUL_MESSAGE
    );
    assert_eq!(app.count("sites").await, 0);
    // a configuration file: an INVALID version whose stored report names the cell
    let mut files = example_files(SourceType::ScopeConfig);
    files[0].1 =
        b"scope_code,scope_name,scope_group,atp_category\nRAN,Radio\0Access,RAN,RAN_MW\n".to_vec();
    let res = upload(
        &app,
        ws.admin(),
        &ws.path("/config-versions"),
        Some("SCOPE_CONFIG"),
        &files,
    )
    .await;
    res.assert_status(201);
    assert_eq!(res.body["validation_status"], "INVALID", "{}", res.text);
    let reasons: Vec<String> = res.body["validation_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}:{}:{} {}", e["file"], e["row"], e["column"], e["reason"]))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("\"scopes\":2:\"scope_name\"") && r.contains("U+0000")),
        "{reasons:?}"
    );
    // a text part and a part name
    let post = |form: reqwest::multipart::Form| async {
        let res = app
            .client
            .post(app.url(&ws.path("/config-versions")))
            .bearer_auth(ws.admin())
            .multipart(form)
            .send()
            .await
            .unwrap();
        crate::helpers::into_test_response(res).await
    };
    let form = reqwest::multipart::Form::new()
        .text("source_type", "SCOPE_CONFIG")
        .text("description", "bad\0description");
    post(form)
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["description"]);
    let part = reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("s.csv");
    let form = reqwest::multipart::Form::new()
        .text("source_type", "SCOPE_CONFIG")
        .part("sco\0pes", part);
    post(form).await.assert_problem(422, "VALIDATION_FAILED");
}
