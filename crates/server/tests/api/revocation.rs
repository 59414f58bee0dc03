//! A deactivated, demoted or re-passworded account loses its access tokens at once, on every server process —
//! not when the token expires. (Before: after `PATCH /users/{id} {"is_active": false}` or a MANAGER → VIEWER
//! change, the old token still got `POST /lots` → 201 for up to 15 minutes.)

use crate::helpers::TestApp;
use neurohub_core::auth::Role;
use serde_json::json;
use sqlx::PgPool;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Status of `POST /product-models` (a MANAGE route) with `token` on the server at `addr`.
async fn create_model(app: &TestApp, addr: SocketAddr, token: &str, code: &str) -> (u16, String) {
    let res = app
        .client
        .post(format!("http://{addr}/api/v1/product-models"))
        .bearer_auth(token)
        .json(&json!({"model_code": code, "model_name": "revocation"}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

/// Wait (bounded, 10 s) until `addr` refuses `token` with 401 TOKEN_REVOKED. Notifications travel at commit, so
/// this is a wait for delivery, not a timing assertion: it fails only if revocation never arrives.
async fn until_revoked(app: &TestApp, addr: SocketAddr, token: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = app
            .client
            .get(format!("http://{addr}/api/v1/auth/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body: serde_json::Value = res.json().await.unwrap_or_default();
        if status == 401 {
            assert_eq!(body["code"], "TOKEN_REVOKED", "{body}");
            return;
        }
        assert_eq!(status, 200, "{body}");
        assert!(Instant::now() < deadline, "token still accepted on {addr}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn demotion_and_deactivation_revoke_tokens_on_every_server(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let a = app.addr;
    let b = app.second_server().await;
    let manager = app.user(Role::Manager).clone();
    let operator = app.user(Role::Operator).clone();

    // The manager's token works on both nodes.
    assert_eq!(create_model(&app, a, &manager.token, "RV1").await.0, 201);
    assert_eq!(create_model(&app, b, &manager.token, "RV2").await.0, 201);

    // Demoted through node A: node B refuses the old token as well.
    app.patch(
        Role::Admin,
        &format!("/api/v1/users/{}", manager.id),
        &json!({"role": "VIEWER"}),
    )
    .await
    .assert_status(200);
    until_revoked(&app, b, &manager.token).await;
    until_revoked(&app, a, &manager.token).await;
    let (status, body) = create_model(&app, b, &manager.token, "RV3").await;
    assert_eq!(status, 401, "{body}");

    // Signing in again gives a token of the new generation, with the new role.
    let login = app
        .client
        .post(format!("http://{b}/api/v1/auth/login"))
        .json(&json!({"username": "manager", "password": crate::helpers::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let fresh = login.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        create_model(&app, a, &fresh, "RV4").await.0,
        403,
        "now a VIEWER"
    );

    // Deactivation: the operator's token dies on both nodes.
    app.patch(
        Role::Admin,
        &format!("/api/v1/users/{}", operator.id),
        &json!({"is_active": false}),
    )
    .await
    .assert_status(200);
    until_revoked(&app, a, &operator.token).await;
    until_revoked(&app, b, &operator.token).await;

    // An unrelated change (a new full name) revokes nothing.
    let viewer = app.user(Role::Viewer).clone();
    app.patch(
        Role::Admin,
        &format!("/api/v1/users/{}", viewer.id),
        &json!({"full_name": "Still Viewer"}),
    )
    .await
    .assert_status(200);
    let gen: i32 = sqlx::query_scalar("SELECT token_generation FROM users WHERE id = $1")
        .bind(viewer.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(gen, 0);
}

/// The node that makes the change refuses the old tokens at once, without waiting for its own NOTIFY: here a node
/// with no revocation listener at all deactivates a user (PATCH by an admin) and re-passwords itself (the
/// self-service change), and the very next request with each old token is 401 TOKEN_REVOKED.
#[sqlx::test(migrations = false)]
async fn the_node_that_revokes_refuses_at_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let node = app.another_server(false).await;
    let admin = app.user(Role::Admin).clone();
    let manager = app.user(Role::Manager).clone();
    let operator = app.user(Role::Operator).clone();
    assert_eq!(create_model(&app, node, &manager.token, "RN1").await.0, 201);
    let res = app
        .client
        .patch(format!("http://{node}/api/v1/users/{}", manager.id))
        .bearer_auth(&admin.token)
        .json(&json!({"is_active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, body) = create_model(&app, node, &manager.token, "RN2").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("TOKEN_REVOKED"), "{body}");
    // the operator changes their own password on that node: the token they changed it with is refused next
    let res = app
        .client
        .post(format!("http://{node}/api/v1/auth/password"))
        .bearer_auth(&operator.token)
        .json(&json!({"current_password": crate::helpers::PASSWORD,
                      "new_password": "a brand new passphrase for the line"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let me = app
        .client
        .get(format!("http://{node}/api/v1/auth/me"))
        .bearer_auth(&operator.token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
}

/// A server that starts after the change (or reconnects) learns it from the full reload, not a notification.
#[sqlx::test(migrations = false)]
async fn a_server_started_later_knows_earlier_revocations(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let operator = app.user(Role::Operator).clone();
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(crate::helpers::password_hash())
        .bind(operator.id)
        .execute(&app.pool)
        .await
        .unwrap();
    // same hash: no change, no revocation
    let gen: i32 = sqlx::query_scalar("SELECT token_generation FROM users WHERE id = $1")
        .bind(operator.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(gen, 0);
    sqlx::query("UPDATE users SET password_hash = 'x' || password_hash WHERE id = $1")
        .bind(operator.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let late = app.second_server().await;
    until_revoked(&app, late, &operator.token).await;
}
