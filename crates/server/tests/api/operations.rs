//! /health, /metrics, request ids, OpenAPI, unknown routes.

use crate::helpers::TestApp;
use neurohub_core::auth::Role;
use reqwest::Method;
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn health_reports_database_and_schema(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app.request(Method::GET, "/health", None, None, &[]).await;
    res.assert_status(200);
    assert_eq!(res.body["status"], "ok");
    assert_eq!(res.body["database"]["reachable"], true);
    assert_eq!(res.body["schema"]["version"], res.body["schema"]["head"]);
    assert_eq!(res.body["schema"]["pending_steps"], 0);
}

#[sqlx::test(migrations = false)]
async fn health_is_degraded_when_migrations_are_pending(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // Roll the newest version back: the server must say it is not ready rather than serve a stale schema.
    neurohub_schema::down(
        &app.pool,
        neurohub_schema::HEAD_VERSION - 1,
        &neurohub_schema::Timeouts::default(),
        &mut |_| {},
    )
    .await
    .unwrap();
    let res = app.request(Method::GET, "/health", None, None, &[]).await;
    res.assert_status(503);
    assert_eq!(res.body["status"], "degraded");
    assert_eq!(
        res.body["schema"]["version"],
        neurohub_schema::HEAD_VERSION - 1
    );
    // not ready, says why and when to look again; still alive (a restart would not help)
    let res = app.request(Method::GET, "/readyz", None, None, &[]).await;
    res.assert_status(503);
    assert_eq!(res.body["ready"], false);
    assert!(
        res.body["reasons"][0].as_str().unwrap().contains(&format!(
            "is not this build's {}",
            neurohub_schema::HEAD_VERSION
        )),
        "{}",
        res.body
    );
    assert_eq!(res.headers["retry-after"], "1");
    app.request(Method::GET, "/livez", None, None, &[])
        .await
        .assert_status(200);
}

#[sqlx::test(migrations = false)]
async fn livez_and_readyz_when_all_is_well(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app.request(Method::GET, "/livez", None, None, &[]).await;
    res.assert_status(200);
    assert_eq!(res.body["status"], "alive");
    let res = app.request(Method::GET, "/readyz", None, None, &[]).await;
    res.assert_status(200);
    assert_eq!(res.body, serde_json::json!({"ready": true, "reasons": []}));
}

/// A server whose database does not answer: alive (liveness never touches the database), not ready.
#[tokio::test]
async fn livez_answers_without_a_database_and_readyz_does_not() {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(2))
        .connect_lazy("postgres://postgres@127.0.0.1:1/nothing")
        .unwrap();
    let state = neurohub_core::AppState::new(
        pool,
        neurohub_core::auth::tokens::TokenKeys::new(
            b"test secret test secret test secret!",
            std::time::Duration::from_secs(900),
            std::time::Duration::from_secs(3600),
        ),
        crate::helpers::test_settings(),
    );
    let router = neurohub_server::app(state, &neurohub_server::HttpOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = neurohub_server::serve(listener, router, std::future::pending()).await;
    });
    let client = reqwest::Client::new();
    let live = client
        .get(format!("http://{addr}/livez"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let ready = client
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["retry-after"], "1");
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], false);
    assert!(
        body["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("database unreachable"),
        "{body}"
    );
}

#[sqlx::test(migrations = false)]
async fn metrics_count_requests_by_route_template(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.request(Method::GET, "/health", None, None, &[])
        .await
        .assert_status(200);
    let res = app.request(Method::GET, "/metrics", None, None, &[]).await;
    res.assert_status(200);
    assert!(res.text.contains("http_requests_total"), "{}", res.text);
    assert!(res.text.contains("route=\"/health\""), "{}", res.text);
    assert!(
        res.text.contains("http_request_duration_seconds_bucket"),
        "{}",
        res.text
    );
    assert!(res.text.contains("db_pool_connections"), "{}", res.text);
}

/// The server always answers with its own request id; a client's id is kept beside it for correlation, and the
/// audit trail carries the server's id only, so a client cannot make audit rows point at another request.
#[sqlx::test(migrations = false)]
async fn request_ids_are_the_servers_and_the_clients_is_kept_beside(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app.request(Method::GET, "/health", None, None, &[]).await;
    let id = res.headers.get("x-request-id").unwrap().to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    assert!(res.headers.get("x-client-request-id").is_none());

    let token = app.token(Role::Admin).to_string();
    let forged = "00000000-0000-0000-0000-000000000001";
    let res = app
        .request(
            Method::POST,
            "/api/v1/product-models",
            Some(&token),
            Some(&serde_json::json!({"model_code": "RID", "model_name": "Request ids"})),
            &[("x-request-id", forged)],
        )
        .await;
    res.assert_status(201);
    let ours = res
        .headers
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(ours, forged);
    assert_eq!(res.headers.get("x-client-request-id").unwrap(), forged);
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT request_id FROM audit_logs WHERE table_name = 'product_models' AND action = 'INSERT'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, [ours]);

    // A client id that is not 1-128 visible ASCII characters is dropped, not echoed.
    let long = "x".repeat(129);
    let res = app
        .request(
            Method::GET,
            "/health",
            None,
            None,
            &[("x-request-id", &long)],
        )
        .await;
    assert!(res.headers.get("x-client-request-id").is_none());
}

#[sqlx::test(migrations = false)]
async fn unknown_routes_are_problem_json(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .request(Method::GET, "/api/v1/no-such-thing", None, None, &[])
        .await;
    res.assert_problem(404, "ROUTE_NOT_FOUND");
}

#[sqlx::test(migrations = false)]
async fn wrong_methods_and_oversized_bodies_are_problem_json(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .delete(neurohub_core::auth::Role::Admin, "/api/v1/audit-logs")
        .await;
    res.assert_problem(405, "METHOD_NOT_ALLOWED");
    let big = format!("{{\"notes\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let res = app
        .raw(
            Method::POST,
            "/api/v1/lots",
            neurohub_core::auth::Role::Manager,
            "application/json",
            &big,
        )
        .await;
    assert_eq!(res.status, 413, "{}", res.text);
    assert_eq!(res.body["status"], 413);
}

#[sqlx::test(migrations = false)]
async fn openapi_document_and_ui_are_served(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .request(Method::GET, "/api/v1/openapi.json", None, None, &[])
        .await;
    res.assert_status(200);
    assert!(res.body["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(res.body["paths"]["/health"].is_object());
    let res = app.request(Method::GET, "/docs/", None, None, &[]).await;
    res.assert_status(200);
    assert!(res.text.to_lowercase().contains("swagger"));
}

#[sqlx::test(migrations = false)]
async fn every_mapped_constraint_exists_in_the_schema(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT conname::text FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
         WHERE n.nspname = 'public' UNION SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let stale: Vec<&str> = neurohub_core::constraints::mapped_constraint_names()
        .filter(|n| !names.iter().any(|x| x == n))
        .collect();
    assert!(
        stale.is_empty(),
        "constraint mappings naming nothing in the schema: {stale:?}"
    );
}

#[sqlx::test(migrations = false)]
async fn rule_trigger_errors_map_to_conflicts_not_500(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // A status change the lot machine forbids, straight at the database: the trigger raises NH003.
    sqlx::query("INSERT INTO product_models (model_code, model_name) VALUES ('PSA', 'x')")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO production_lines (country_code, line_code, name) VALUES ('KR', '01', 'l')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO lots (lot_number, product_model_id, production_line_id, target_quantity, status) \
         SELECT 'KR01PSA251101', m.id, l.id, 1, 'CREATED' FROM product_models m, production_lines l",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let e = sqlx::query("UPDATE lots SET status = 'CLOSED'")
        .execute(&app.pool)
        .await
        .unwrap_err();
    let api = neurohub_core::ApiError::from(e);
    assert_eq!(api.status.as_u16(), 409, "{api}");
    assert_eq!(api.code, "INVALID_STATUS_TRANSITION");
    assert!(api.detail.contains("CREATED -> CLOSED"), "{api}");
}

/// Every `$ref` in the OpenAPI document points at a schema the document defines (clients generate code from it).
#[sqlx::test(migrations = false)]
async fn openapi_references_all_resolve(pool: PgPool) {
    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("$ref", serde_json::Value::String(r)) => out.push(r.clone()),
                        _ => refs(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let app = TestApp::spawn(pool).await;
    let doc = app
        .request(Method::GET, "/api/v1/openapi.json", None, None, &[])
        .await
        .body;
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    let dangling: Vec<&String> = all
        .iter()
        .filter(|r| {
            let name = r.trim_start_matches("#/components/schemas/");
            doc["components"]["schemas"][name].is_null()
        })
        .collect();
    assert!(dangling.is_empty(), "unresolved $refs: {dangling:?}");
}

/// A pool far smaller than the load (2 connections, 60 concurrent requests) queues requests instead of failing
/// them: every read answers 200, every lot is created once with its own number, nothing answers 5xx.
#[sqlx::test(migrations = false)]
async fn a_small_pool_under_concurrent_load_queues_instead_of_failing(pool: PgPool) {
    use futures::future::join_all;
    use serde_json::json;

    let app = TestApp::spawn(pool).await;
    sqlx::query("INSERT INTO product_models (model_code, model_name) VALUES ('PSA', 'x')")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO production_lines (country_code, line_code, name) VALUES ('KR', '01', 'l')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    // A second server over the same database with a pool of two connections.
    let small = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(std::time::Duration::from_secs(20))
        // as the request role, as in production
        .connect_with(
            (*app.pool.connect_options())
                .clone()
                .options([("role", neurohub_core::db::REQUEST_ROLE)]),
        )
        .await
        .unwrap();
    let state = neurohub_core::AppState::new(
        small,
        neurohub_core::auth::tokens::TokenKeys::new(
            b"test secret test secret test secret!",
            std::time::Duration::from_secs(900),
            std::time::Duration::from_secs(3600),
        ),
        crate::helpers::test_settings(),
    );
    let router = neurohub_server::app(state, &neurohub_server::HttpOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = neurohub_server::serve(listener, router, std::future::pending()).await;
    });
    let client = reqwest::Client::new();
    let token = app.token(neurohub_core::auth::Role::Manager).to_string();
    let model: i64 = sqlx::query_scalar("SELECT id FROM product_models")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let line: i64 = sqlx::query_scalar("SELECT id FROM production_lines")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let requests = (0..60).map(|i| {
        let (client, token) = (client.clone(), token.clone());
        async move {
            let req = if i % 3 == 0 {
                client
                    .post(format!("http://{addr}/api/v1/lots"))
                    .json(&json!({"product_model_id": model, "production_line_id": line, "target_quantity": 5}))
            } else {
                client.get(format!("http://{addr}/api/v1/lots"))
            };
            let res = req.bearer_auth(&token).send().await.unwrap();
            let status = res.status().as_u16();
            let body: serde_json::Value = res.json().await.unwrap_or_default();
            (i % 3 == 0, status, body)
        }
    });
    let results = join_all(requests).await;
    let mut numbers = Vec::new();
    for (create, status, body) in &results {
        if *create {
            assert_eq!(*status, 201, "{body}");
            numbers.push(body["lot_number"].as_str().unwrap().to_string());
        } else {
            assert_eq!(*status, 200, "{body}");
        }
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(
        numbers.len(),
        20,
        "every lot has its own number: {numbers:?}"
    );
    assert_eq!(app.count("lots").await, 20);
    assert_eq!(app.count("wip_items").await, 100);
}

/// Requests run as the request role, which can bypass neither row-level security nor the audit log's
/// append-only privileges — even though this test's DATABASE_URL is the postgres superuser.
#[sqlx::test(migrations = false)]
async fn requests_run_as_a_role_that_cannot_bypass_rls(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for p in [&app.state.pool, app.state.read_pool()] {
        let (user, superuser, bypass): (String, bool, bool) = sqlx::query_as(
            "SELECT current_user::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(p)
        .await
        .unwrap();
        assert_eq!(user, neurohub_core::db::REQUEST_ROLE);
        // ... and is named apart from background work (pg_stat_activity; the bench's statement capture)
        let name: String = sqlx::query_scalar("SELECT current_setting('application_name')")
            .fetch_one(p)
            .await
            .unwrap();
        assert_eq!(name, neurohub_core::db::REQUEST_APPLICATION_NAME);
        assert!(
            !superuser && !bypass,
            "{user}: super={superuser} bypassrls={bypass}"
        );
        // ... and without JIT (a startup option of the request pools: it cost the dashboard 0.08–1.5 s)
        let jit: String = sqlx::query_scalar("SHOW jit").fetch_one(p).await.unwrap();
        assert_eq!(jit, "off");
        // The audit log is append-only by privilege, not only by trigger.
        for sql in [
            "UPDATE audit_logs SET action = action",
            "DELETE FROM audit_logs",
            "TRUNCATE audit_logs",
        ] {
            let err = sqlx::query(sql).execute(p).await.unwrap_err();
            let code = err
                .as_database_error()
                .and_then(|e| e.code())
                .map(|c| c.to_string());
            assert_eq!(code.as_deref(), Some("42501"), "{sql}: {err}");
        }
        // ... and the migration bookkeeping is read-only.
        let err = sqlx::query("DELETE FROM schema_migrations")
            .execute(p)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("permission denied"), "{err}");
    }
    // A write through the API still works under that role (and is audited).
    let res = app
        .post(
            Role::Admin,
            "/api/v1/product-models",
            &serde_json::json!({"model_code": "RRL", "model_name": "Request role"}),
        )
        .await;
    res.assert_status(201);
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE table_name = 'product_models' AND action = 'INSERT'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

/// The verify gauges: decision, score, per-check status and orphan counts on /metrics, and a refresh sees an
/// orphan appear.
#[sqlx::test(migrations = false)]
async fn metrics_expose_the_verify_decision_and_orphan_counts(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let r = neurohub_server::gauges::refresh(&pool)
        .await
        .expect("verify runs");
    assert_eq!(r.decision, neurohub_schema::Decision::Go, "{:?}", r.reasons);
    let res = app.request(Method::GET, "/metrics", None, None, &[]).await;
    res.assert_status(200);
    assert!(
        res.text.contains("neurohub_verify_decision 0"),
        "{}",
        res.text
    );
    assert!(
        res.text.contains("neurohub_verify_score_ratio 1"),
        "{}",
        res.text
    );
    assert!(
        res.text
            .contains("neurohub_verify_check_status{id=\"C6\"} 0"),
        "{}",
        res.text
    );
    let orphan_line = "neurohub_orphan_rows{relationship=\"sites(workspace_id, cluster_code) -> cluster_master(workspace_id, cluster_code)\",constraint=\"unenforced\"}";
    assert!(
        res.text.contains(&format!("{orphan_line} 0")),
        "{}",
        res.text
    );
    // a site naming a cluster code its workspace has no cluster for (no FK there): the gauge shows it
    sqlx::raw_sql(
        "INSERT INTO workspaces (id, code, name) VALUES ('dddddddd-0000-4000-8000-000000000000', 'ORPHAN-WS', 'o');
         INSERT INTO sites (workspace_id, site_id, site_name, cluster_code)
         VALUES ('dddddddd-0000-4000-8000-000000000000', 'S-1', 'orphan site', 'CL-NOPE');",
    )
    .execute(&pool)
    .await
    .unwrap();
    let r = neurohub_server::gauges::refresh(&pool).await.unwrap();
    assert_eq!(r.decision, neurohub_schema::Decision::NoGo);
    let res = app.request(Method::GET, "/metrics", None, None, &[]).await;
    assert!(
        res.text.contains(&format!("{orphan_line} 1")),
        "{}",
        res.text
    );
    assert!(
        res.text.contains("neurohub_verify_decision 2"),
        "{}",
        res.text
    );
}
