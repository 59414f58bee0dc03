//! Sign-in, throttling, refresh rotation and reuse detection, logout, and access-token rejection.

use crate::helpers::{into_test_response, test_settings, TestApp, PASSWORD};
use neurohub_core::auth::tokens::{Claims, TokenKeys};
use neurohub_core::auth::Role;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::Duration;

async fn login(app: &TestApp, username: &str, password: &str) -> crate::helpers::TestResponse {
    app.request(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(&json!({"username": username, "password": password})),
        &[],
    )
    .await
}

async fn refresh(app: &TestApp, token: &str) -> crate::helpers::TestResponse {
    app.request(
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(&json!({"refresh_token": token})),
        &[],
    )
    .await
}

fn refresh_token(body: &Value) -> String {
    body["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string()
}

#[sqlx::test(migrations = false)]
async fn login_succeeds_and_the_token_works(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = login(&app, "operator", PASSWORD).await;
    res.assert_status(200);
    let b = &res.body;
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 900);
    assert_eq!(b["user"]["username"], "operator");
    assert_eq!(b["user"]["role"], "OPERATOR");
    assert_eq!(b["user"]["id"], app.user(Role::Operator).id);
    assert!(b["user"].get("password_hash").is_none());
    assert_eq!(refresh_token(b).len(), 43);

    let token = b["access_token"].as_str().unwrap();
    let me = app
        .request(Method::GET, "/api/v1/auth/me", Some(token), None, &[])
        .await;
    me.assert_status(200);
    assert_eq!(me.body["username"], "operator");
    assert!(me.body.get("password_hash").is_none());
    assert_eq!(me.queries(), 1);

    // last_login_at is set, only the hash of the refresh token is stored
    let (last_login, stored): (Option<chrono::DateTime<chrono::Utc>>, String) = sqlx::query_as(
        "SELECT u.last_login_at, t.token_hash FROM users u JOIN refresh_tokens t ON t.user_id = u.id WHERE u.username = 'operator'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(last_login.is_some());
    assert_eq!(
        stored,
        neurohub_core::auth::tokens::hash_refresh_token(&refresh_token(b))
    );
}

#[sqlx::test(migrations = false)]
async fn wrong_password_unknown_user_and_inactive_user_get_the_same_answer(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let wrong = login(&app, "operator", "not the password at all").await;
    let unknown = login(&app, "nobody", PASSWORD).await;
    sqlx::query("UPDATE users SET is_active = false WHERE username = 'viewer'")
        .execute(&app.pool)
        .await
        .unwrap();
    let inactive = login(&app, "viewer", PASSWORD).await;
    for res in [&wrong, &unknown, &inactive] {
        res.assert_problem(401, "INVALID_CREDENTIALS");
        assert_eq!(res.body["detail"], wrong.body["detail"]);
    }
    assert_eq!(app.count("refresh_tokens").await, 0);
}

#[sqlx::test(migrations = false)]
async fn login_body_is_validated(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": "admin"})),
            &[],
        )
        .await;
    res.assert_fields(422, "VALIDATION_FAILED", &["password"]);
    let res = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": "a", "password": "b", "x": 1})),
            &[],
        )
        .await;
    res.assert_problem(422, "VALIDATION_FAILED");
}

/// POST /auth/login from client address `ip` with extra headers.
async fn login_from(
    app: &TestApp,
    ip: [u8; 4],
    username: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> crate::helpers::TestResponse {
    let mut req = TestApp::client_from(ip)
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    into_test_response(req.send().await.expect("request")).await
}

fn retry_after(res: &crate::helpers::TestResponse) -> u64 {
    res.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

const ATTACKER: [u8; 4] = [127, 0, 0, 2];
const OWNER: [u8; 4] = [127, 0, 0, 3];

#[sqlx::test(migrations = false)]
async fn an_attacker_cannot_lock_the_admin_out_and_is_throttled_by_socket_address(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let free = test_settings().throttle.free_failures;
    // The attacker claims to be the owner's address in every forwarding header: the server must ignore them.
    let spoof = [
        ("x-forwarded-for", "127.0.0.3"),
        ("x-real-ip", "127.0.0.3"),
        ("forwarded", "for=127.0.0.3"),
    ];
    for _ in 0..free {
        login_from(&app, ATTACKER, "admin", "wrong password!!", &spoof)
            .await
            .assert_problem(401, "INVALID_CREDENTIALS");
    }
    let res = login_from(&app, ATTACKER, "admin", "wrong password!!", &spoof).await;
    res.assert_problem(429, "LOGIN_THROTTLED");
    assert_eq!(retry_after(&res), 1);
    // during the wait even the right password is refused from the attacker's address, before any query
    let res = login_from(&app, ATTACKER, "admin", PASSWORD, &spoof).await;
    res.assert_problem(429, "LOGIN_THROTTLED");
    assert_eq!(res.queries(), 0);
    assert_eq!(retry_after(&res), 1);

    // the owner, at their own address, signs in at once; so does another user from the attacker's address
    let res = login_from(&app, OWNER, "admin", PASSWORD, &[]).await;
    res.assert_status(200);
    login_from(&app, ATTACKER, "operator", PASSWORD, &[])
        .await
        .assert_status(200);
    // the account itself carries nothing: no lock, no count
    let (count, locked): (i32, bool) = sqlx::query_as(
        "SELECT failed_login_count, locked_until IS NOT NULL FROM users WHERE username = 'admin'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((count, locked), (0, false));
    // the owner's session was recorded with the socket address
    let ip: String = sqlx::query_scalar(
        "SELECT t.client_ip FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE u.username = 'admin'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(ip, "127.0.0.3");
}

#[sqlx::test(migrations = false)]
async fn each_further_failure_doubles_the_wait_and_success_clears_it(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let free = test_settings().throttle.free_failures;
    for _ in 0..free {
        login_from(&app, ATTACKER, "manager", "wrong password!!", &[])
            .await
            .assert_problem(401, "INVALID_CREDENTIALS");
    }
    let mut waits = Vec::new();
    for _ in 0..3 {
        let res = login_from(&app, ATTACKER, "manager", "wrong password!!", &[]).await;
        res.assert_problem(429, "LOGIN_THROTTLED");
        let secs = retry_after(&res);
        waits.push(secs);
        tokio::time::sleep(Duration::from_millis(secs * 1000 + 100)).await;
    }
    assert_eq!(waits, [1, 2, 4]);
    // after the wait, the right password works and clears the count: five free failures again
    login_from(&app, ATTACKER, "manager", PASSWORD, &[])
        .await
        .assert_status(200);
    for _ in 0..free {
        login_from(&app, ATTACKER, "manager", "wrong password!!", &[])
            .await
            .assert_problem(401, "INVALID_CREDENTIALS");
    }
}

#[sqlx::test(migrations = false)]
async fn unknown_usernames_are_throttled_like_known_ones(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let free = test_settings().throttle.free_failures;
    for _ in 0..free {
        login_from(&app, ATTACKER, "nobody", "wrong password!!", &[])
            .await
            .assert_problem(401, "INVALID_CREDENTIALS");
    }
    login_from(&app, ATTACKER, "nobody", "wrong password!!", &[])
        .await
        .assert_problem(429, "LOGIN_THROTTLED");
}

#[sqlx::test(migrations = false)]
async fn login_and_refresh_are_rate_limited_per_address(pool: PgPool) {
    let mut settings = test_settings();
    settings.throttle.rate_per_minute = 3;
    let app = TestApp::spawn_with(pool, settings).await;
    let client = TestApp::client_from(ATTACKER);
    let send = |path: &'static str, body: Value| {
        let req = client.post(app.url(path)).json(&body);
        async move { into_test_response(req.send().await.expect("request")).await }
    };
    let first = send(
        "/api/v1/auth/login",
        json!({"username": "operator", "password": PASSWORD}),
    )
    .await;
    first.assert_status(200);
    let second = send(
        "/api/v1/auth/refresh",
        json!({"refresh_token": refresh_token(&first.body)}),
    )
    .await;
    second.assert_status(200);
    send(
        "/api/v1/auth/login",
        json!({"username": "operator", "password": "wrong password!!"}),
    )
    .await
    .assert_problem(401, "INVALID_CREDENTIALS");
    // the bucket (3 per minute) is empty: refresh and login both answer 429 with the time to the next token,
    // before the body is read (an invalid body is not even looked at)
    let res = send(
        "/api/v1/auth/refresh",
        json!({"refresh_token": refresh_token(&second.body)}),
    )
    .await;
    res.assert_problem(429, "RATE_LIMITED");
    // one token per 20 s, less the time the three requests took
    assert!((15..=20).contains(&retry_after(&res)), "{:?}", res.headers);
    assert_eq!(res.queries(), 0);
    send("/api/v1/auth/login", json!({"not": "a login"}))
        .await
        .assert_problem(429, "RATE_LIMITED");
    // another address has its own bucket
    login_from(&app, OWNER, "operator", PASSWORD, &[])
        .await
        .assert_status(200);
}

#[sqlx::test(migrations = false)]
async fn refresh_rotates_and_reuse_revokes_the_family(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let first = refresh_token(&login(&app, "operator", PASSWORD).await.body);
    let res = refresh(&app, &first).await;
    res.assert_status(200);
    // set_config, SELECT ... FOR UPDATE, UPDATE used_at, INSERT child, COMMIT
    assert_eq!(res.queries(), 5);
    assert_eq!(res.body["user"]["username"], "operator");
    // the child is in the same family, with the used token as parent
    let (families, parents): (i64, i64) =
        sqlx::query_as("SELECT count(DISTINCT family_id), count(parent_id) FROM refresh_tokens")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((families, parents), (1, 1));
    let second = refresh_token(&res.body);
    assert_ne!(first, second);
    let token = res.body["access_token"].as_str().unwrap();
    app.request(Method::GET, "/api/v1/auth/me", Some(token), None, &[])
        .await
        .assert_status(200);

    // the old token is used: presenting it again is reuse, and the whole family is revoked
    refresh(&app, &first)
        .await
        .assert_problem(401, "REFRESH_TOKEN_REUSED");
    refresh(&app, &second)
        .await
        .assert_problem(401, "REFRESH_TOKEN_REUSED");
    let live: i64 =
        sqlx::query_scalar("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(live, 0);
    // a separate sign-in is a separate family and still works
    let other = refresh_token(&login(&app, "operator", PASSWORD).await.body);
    refresh(&app, &other).await.assert_status(200);
}

#[sqlx::test(migrations = false)]
async fn concurrent_refreshes_of_one_token_let_exactly_one_win(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = refresh_token(&login(&app, "operator", PASSWORD).await.body);
    let (a, b) = tokio::join!(refresh(&app, &token), refresh(&app, &token));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 401], "a: {} b: {}", a.text, b.text);
    let loser = if a.status == 401 { &a } else { &b };
    loser.assert_problem(401, "REFRESH_TOKEN_REUSED");
    // the loser's reuse revoked the family, the winner's new token included
    let winner = if a.status == 200 { &a } else { &b };
    refresh(&app, &refresh_token(&winner.body))
        .await
        .assert_problem(401, "REFRESH_TOKEN_REUSED");
}

#[sqlx::test(migrations = false)]
async fn unknown_expired_and_inactive_users_refresh_tokens_fail(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    refresh(&app, "not-a-token")
        .await
        .assert_problem(401, "INVALID_REFRESH_TOKEN");

    let token = refresh_token(&login(&app, "operator", PASSWORD).await.body);
    sqlx::query("UPDATE refresh_tokens SET issued_at = now() - interval '2 hours', expires_at = now() - interval '1 hour'")
        .execute(&app.pool)
        .await
        .unwrap();
    refresh(&app, &token)
        .await
        .assert_problem(401, "REFRESH_TOKEN_EXPIRED");

    let token = refresh_token(&login(&app, "viewer", PASSWORD).await.body);
    let viewer = app.user(Role::Viewer).id;
    app.patch(
        Role::Admin,
        &format!("/api/v1/users/{viewer}"),
        &json!({"is_active": false}),
    )
    .await
    .assert_status(200);
    refresh(&app, &token)
        .await
        .assert_problem(401, "REFRESH_TOKEN_REUSED");
}

#[sqlx::test(migrations = false)]
async fn logout_revokes_the_family(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let body = login(&app, "operator", PASSWORD).await.body;
    let first = refresh_token(&body);
    let second = refresh_token(&refresh(&app, &first).await.body);
    let res = app
        .post(
            Role::Operator,
            "/api/v1/auth/logout",
            &json!({"refresh_token": second}),
        )
        .await;
    res.assert_status(204);
    // set_config (BEGIN is pipelined with it and not counted), UPDATE, COMMIT
    assert_eq!(res.queries(), 3);
    refresh(&app, &second)
        .await
        .assert_problem(401, "REFRESH_TOKEN_REUSED");
    // logging out with an unknown token (or someone else's) is a no-op 204
    let other = refresh_token(&login(&app, "manager", PASSWORD).await.body);
    app.post(
        Role::Operator,
        "/api/v1/auth/logout",
        &json!({"refresh_token": other}),
    )
    .await
    .assert_status(204);
    refresh(&app, &other).await.assert_status(200);
    // logout needs an access token
    app.request(
        Method::POST,
        "/api/v1/auth/logout",
        None,
        Some(&json!({"refresh_token": other})),
        &[],
    )
    .await
    .assert_problem(401, "MISSING_TOKEN");
}

#[sqlx::test(migrations = false)]
async fn bad_access_tokens_are_rejected(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let me = "/api/v1/auth/me";
    app.request(Method::GET, me, None, None, &[])
        .await
        .assert_problem(401, "MISSING_TOKEN");
    let res = app
        .request(Method::GET, me, Some("garbage"), None, &[])
        .await;
    res.assert_problem(401, "INVALID_TOKEN");
    assert_eq!(res.headers["www-authenticate"], "Bearer");
    app.request(
        Method::GET,
        me,
        None,
        None,
        &[("authorization", "Basic YWRtaW46YWRtaW4=")],
    )
    .await
    .assert_problem(401, "INVALID_TOKEN");

    let now = chrono::Utc::now().timestamp();
    let id = app.user(Role::Admin).id;
    let expired = app
        .state
        .tokens
        .sign(&Claims::new(id, "admin", Role::Admin, now - 120, now - 60))
        .unwrap();
    app.request(Method::GET, me, Some(&expired), None, &[])
        .await
        .assert_problem(401, "TOKEN_EXPIRED");

    let foreign = TokenKeys::new(
        b"some other secret some other secret",
        Duration::from_secs(60),
        Duration::from_secs(60),
    );
    let (forged, _) = foreign.issue_access(id, "admin", Role::Admin).unwrap();
    app.request(Method::GET, me, Some(&forged), None, &[])
        .await
        .assert_problem(401, "INVALID_TOKEN");
    app.request(Method::GET, "/api/v1/users", Some(&forged), None, &[])
        .await
        .assert_problem(401, "INVALID_TOKEN");
}

/// Tokens an attacker can make without the key: `alg: none`, another algorithm's header over the real
/// signature, and a real token whose claims were edited (an OPERATOR made ADMIN, another user's id, a later
/// expiry). Each is 401 INVALID_TOKEN on a read and on a write, and the write leaves nothing behind.
#[sqlx::test(migrations = false)]
async fn forged_tokens_alg_none_swapped_alg_and_edited_claims_are_refused(pool: PgPool) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine as _;
    let app = TestApp::spawn(pool).await;
    let operator = app.user(Role::Operator);
    let token = operator.token.clone();
    // the genuine token works
    app.request(Method::GET, "/api/v1/auth/me", Some(&token), None, &[])
        .await
        .assert_status(200);
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    let header = |alg: &str| B64.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
    let edited = |f: &dyn Fn(&mut Value)| {
        let mut c = claims.clone();
        f(&mut c);
        B64.encode(serde_json::to_vec(&c).unwrap())
    };
    let admin_id = app.user(Role::Admin).id;
    let forged = vec![
        (
            "alg none, no signature",
            format!("{}.{}.", header("none"), parts[1]),
        ),
        (
            "alg none, real signature",
            format!("{}.{}.{}", header("none"), parts[1], parts[2]),
        ),
        (
            "HS512 header, HS256 signature",
            format!("{}.{}.{}", header("HS512"), parts[1], parts[2]),
        ),
        (
            "RS256 header (key confusion)",
            format!("{}.{}.{}", header("RS256"), parts[1], parts[2]),
        ),
        (
            "role edited to ADMIN",
            format!(
                "{}.{}.{}",
                parts[0],
                edited(&|c| c["role"] = json!("ADMIN")),
                parts[2]
            ),
        ),
        (
            "sub edited to the admin",
            format!(
                "{}.{}.{}",
                parts[0],
                edited(&|c| c["sub"] = json!(admin_id.to_string())),
                parts[2]
            ),
        ),
        (
            "expiry pushed a year out",
            format!(
                "{}.{}.{}",
                parts[0],
                edited(&|c| c["exp"] = json!(c["exp"].as_i64().unwrap() + 31_536_000)),
                parts[2]
            ),
        ),
        ("signature cut", format!("{}.{}.", parts[0], parts[1])),
    ];
    let lots_before = app.count("lots").await;
    for (what, t) in &forged {
        let res = app
            .request(Method::GET, "/api/v1/auth/me", Some(t), None, &[])
            .await;
        assert_eq!(res.status, 401, "{what}: {}", res.text);
        assert_eq!(res.body["code"], "INVALID_TOKEN", "{what}: {}", res.text);
        let res = app
            .request(Method::GET, "/api/v1/users", Some(t), None, &[])
            .await;
        assert_eq!(res.status, 401, "{what}: {}", res.text);
        let res = app
            .request(
                Method::POST,
                "/api/v1/lots",
                Some(t),
                Some(
                    &json!({"product_model_id": 1, "production_line_id": 1, "target_quantity": 1}),
                ),
                &[],
            )
            .await;
        assert_eq!(res.status, 401, "{what}: {}", res.text);
    }
    assert_eq!(app.count("lots").await, lots_before);
}

#[sqlx::test(migrations = false)]
async fn login_writes_are_audited_with_the_request_context(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": "operator", "password": PASSWORD})),
            &[("x-request-id", "login-req-1")],
        )
        .await;
    res.assert_status(200);
    // SELECT user; set_config, UPDATE users, INSERT refresh token, COMMIT
    assert_eq!(res.queries(), 5);
    // The audit row carries the server's request id (the client's is only echoed beside it).
    let ours = res
        .headers
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let (user_id, ip, new_data): (Option<i64>, Option<String>, Value) = sqlx::query_as(
        "SELECT user_id, client_ip, new_data FROM audit_logs WHERE table_name = 'users' AND request_id = $1",
    )
    .bind(&ours)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(user_id, Some(app.user(Role::Operator).id));
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    assert!(new_data.get("password_hash").is_none());
    assert!(new_data["last_login_at"].is_string());
}

#[sqlx::test(migrations = false)]
async fn own_password_change_checks_both_passwords_and_ends_every_session(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let first = login(&app, "operator", PASSWORD).await;
    first.assert_status(200);
    let token = first.body["access_token"].as_str().unwrap().to_string();
    let change = |current: &str, new: &str| {
        let body = json!({"current_password": current, "new_password": new});
        let token = token.clone();
        let app = &app;
        async move {
            app.request(
                Method::POST,
                "/api/v1/auth/password",
                Some(&token),
                Some(&body),
                &[],
            )
            .await
        }
    };
    // a wrong current password: a field error, and nothing changes
    change("not my password", "a brand new long passphrase")
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["current_password"]);
    // a weak new one, or the same one: a field error on new_password
    change(PASSWORD, "short")
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["new_password"]);
    change(PASSWORD, PASSWORD)
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["new_password"]);
    login(&app, "operator", PASSWORD).await.assert_status(200);
    // no token: 401 before the body is read
    app.request(
        Method::POST,
        "/api/v1/auth/password",
        None,
        Some(&json!({})),
        &[],
    )
    .await
    .assert_problem(401, "MISSING_TOKEN");

    change(PASSWORD, "a brand new long passphrase")
        .await
        .assert_status(204);
    // every refresh token is revoked, the access token stops working, the old password is gone
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refresh_tokens t JOIN users u ON u.id = t.user_id \
          WHERE u.username = 'operator' AND t.revoked_at IS NULL",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(live, 0);
    refresh(&app, first.body["refresh_token"].as_str().unwrap())
        .await
        .assert_status(401);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let me = app
            .request(Method::GET, "/api/v1/auth/me", Some(&token), None, &[])
            .await;
        if me.status == 401 {
            me.assert_problem(401, "TOKEN_REVOKED");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the old access token still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    login(&app, "operator", PASSWORD)
        .await
        .assert_problem(401, "INVALID_CREDENTIALS");
    login(&app, "operator", "a brand new long passphrase")
        .await
        .assert_status(200);
}

#[sqlx::test(migrations = false)]
async fn guessing_the_current_password_is_throttled_like_sign_in(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.token(Role::Operator).to_string();
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let r = app
            .request(
                Method::POST,
                "/api/v1/auth/password",
                Some(&token),
                Some(&json!({"current_password": "guess", "new_password": "a brand new long passphrase"})),
                &[],
            )
            .await;
        statuses.push(r.status);
        if r.status == 429 {
            r.assert_problem(429, "LOGIN_THROTTLED");
            assert!(r.headers.get("retry-after").is_some());
        }
    }
    // test_settings: 5 free failures, then the wait
    assert_eq!(
        statuses,
        vec![422, 422, 422, 422, 422, 429, 429],
        "{statuses:?}"
    );
}
