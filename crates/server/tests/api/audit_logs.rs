//! The audit log: ADMIN / MANAGER only, read-only, one statement, filters and keyset pages.

use crate::flow::{complete, good, new_lot, start, wip};
use crate::helpers::TestApp;
use neurohub_core::auth::Role;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn audit_log_lists_filters_and_pages(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, lot_number) = new_lot(&app, 1).await;
    let s = start(
        &app,
        Role::Operator,
        1,
        json!({"wip_id": wip(&lot_number, 1)}),
    )
    .await;
    let id = s.body["id"].as_i64().unwrap();
    complete(
        &app,
        Role::Operator,
        id,
        json!({"result": "PASS", "measurements": good(1)}),
    )
    .await
    .assert_status(200);

    let res = app
        .get(
            Role::Manager,
            &format!("/api/v1/audit-logs?table_name=process_data&record_id={id}"),
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    let items = res.body["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["UPDATE", "INSERT"]);
    let op = app.user(Role::Operator).id;
    assert!(
        items
            .iter()
            .all(|i| i["user_id"] == op && i["username"] == "operator"),
        "{items:?}"
    );
    assert!(items[0]["changed_fields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "result"));
    assert_eq!(items[0]["new_data"]["result"], "PASS");

    let res = app
        .get(
            Role::Admin,
            &format!("/api/v1/audit-logs?user_id={op}&action=update"),
        )
        .await;
    assert_eq!(res.queries(), 1);
    assert!(res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["action"] == "UPDATE"));
    let res = app
        .get(
            Role::Admin,
            "/api/v1/audit-logs?from=2000-01-01T00:00:00Z&to=2000-02-01T00:00:00Z",
        )
        .await;
    assert_eq!(res.body["items"].as_array().unwrap().len(), 0);

    // keyset pages: all rows once
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let mut seen = 0;
    let mut url = "/api/v1/audit-logs?limit=3".to_string();
    loop {
        let res = app.get(Role::Manager, &url).await;
        res.assert_status(200);
        assert_eq!(res.queries(), 1);
        seen += res.body["items"].as_array().unwrap().len() as i64;
        match res.body["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/audit-logs?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, total);

    app.get(Role::Operator, "/api/v1/audit-logs")
        .await
        .assert_problem(403, "FORBIDDEN");
    app.get(Role::Viewer, "/api/v1/audit-logs")
        .await
        .assert_problem(403, "FORBIDDEN");
    app.get(Role::Manager, "/api/v1/audit-logs?action=TRUNCATE")
        .await
        .assert_problem(400, "INVALID_QUERY");
    app.get(
        Role::Manager,
        "/api/v1/audit-logs?from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z",
    )
    .await
    .assert_problem(400, "INVALID_QUERY");
    // read-only
    for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let res = app
            .request(
                m.clone(),
                "/api/v1/audit-logs",
                Some(app.token(Role::Admin)),
                Some(&json!({})),
                &[],
            )
            .await;
        assert_eq!(res.status, 405, "{m}: {}", res.text);
    }
}
