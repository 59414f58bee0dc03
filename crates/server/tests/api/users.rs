//! User accounts: ADMIN only, validation, duplicates, self-protection, deactivation, audit.

use crate::helpers::{TestApp, PASSWORD};
use neurohub_core::auth::Role;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

fn new_user(username: &str) -> Value {
    json!({
        "username": username,
        "full_name": "Kim Min-su",
        "email": format!("{username}@factory.test"),
        "role": "OPERATOR",
        "department": "Assembly",
        "password": "a long enough password"
    })
}

#[sqlx::test(migrations = false)]
async fn admin_creates_lists_and_gets_users(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .post(Role::Admin, "/api/v1/users", &new_user("kim.ms"))
        .await;
    res.assert_status(201);
    // set_config (BEGIN is pipelined with it and not counted), INSERT, COMMIT
    assert_eq!(res.queries(), 3);
    let id = res.body["id"].as_i64().unwrap();
    assert_eq!(res.headers["location"], format!("/api/v1/users/{id}"));
    assert_eq!(res.body["role"], "OPERATOR");
    assert_eq!(res.body["is_active"], true);
    assert!(res.body.get("password_hash").is_none() && res.body.get("password").is_none());
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));

    // the new user can sign in
    app.request(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(&json!({"username": "kim.ms", "password": "a long enough password"})),
        &[],
    )
    .await
    .assert_status(200);

    let res = app.get(Role::Admin, &format!("/api/v1/users/{id}")).await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(res.body["username"], "kim.ms");
    assert!(!res.text.contains("password_hash") && !res.text.contains("argon2"));

    let res = app.get(Role::Admin, "/api/v1/users").await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(res.body["items"].as_array().unwrap().len(), 5);
    assert!(res.body["next_cursor"].is_null());
    assert!(!res.text.contains("password_hash"));

    // filters and keyset pages
    let res = app.get(Role::Admin, "/api/v1/users?role=OPERATOR").await;
    let names: Vec<&str> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["operator", "kim.ms"]);
    let res = app.get(Role::Admin, "/api/v1/users?q=MIN-su").await;
    assert_eq!(res.body["items"].as_array().unwrap().len(), 1);
    let res = app.get(Role::Admin, "/api/v1/users?q=%25").await;
    assert_eq!(
        res.body["items"].as_array().unwrap().len(),
        0,
        "LIKE wildcards are escaped"
    );
    let res = app.get(Role::Admin, "/api/v1/users?limit=2").await;
    assert_eq!(res.body["items"].as_array().unwrap().len(), 2);
    let cursor = res.body["next_cursor"].as_str().unwrap().to_string();
    let res = app
        .get(
            Role::Admin,
            &format!("/api/v1/users?limit=2&cursor={cursor}"),
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.queries(), 1);
    assert_eq!(res.body["items"][0]["username"], "operator");
    let res = app.get(Role::Admin, "/api/v1/users?is_active=false").await;
    assert_eq!(res.body["items"].as_array().unwrap().len(), 0);

    // bad queries are 400 naming the parameter
    let res = app.get(Role::Admin, "/api/v1/users?role=BOSS").await;
    res.assert_fields(400, "INVALID_QUERY", &["role"]);
    app.get(Role::Admin, "/api/v1/users?is_active=maybe")
        .await
        .assert_problem(400, "INVALID_QUERY");
    app.get(Role::Admin, "/api/v1/users?cursor=zzz")
        .await
        .assert_problem(400, "INVALID_CURSOR");
    app.get(Role::Admin, "/api/v1/users?limit=0")
        .await
        .assert_problem(400, "INVALID_QUERY");
    app.get(Role::Admin, "/api/v1/users?sort=id")
        .await
        .assert_problem(400, "INVALID_QUERY");
    app.get(Role::Admin, "/api/v1/users/abc")
        .await
        .assert_problem(400, "INVALID_PATH");
    app.get(Role::Admin, "/api/v1/users/999999")
        .await
        .assert_problem(404, "NOT_FOUND");
}

#[sqlx::test(migrations = false)]
async fn only_admins_manage_users(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for role in [Role::Manager, Role::Operator, Role::Viewer] {
        app.get(role, "/api/v1/users")
            .await
            .assert_problem(403, "FORBIDDEN");
        // the role check comes before the body: a bad body still gets 403
        app.post(role, "/api/v1/users", &json!({}))
            .await
            .assert_problem(403, "FORBIDDEN");
    }
    app.request(Method::GET, "/api/v1/users", None, None, &[])
        .await
        .assert_problem(401, "MISSING_TOKEN");
    assert_eq!(app.count("users").await, 4);
}

#[sqlx::test(migrations = false)]
async fn every_bad_field_is_named_at_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .post(
            Role::Admin,
            "/api/v1/users",
            &json!({
                "username": "Bad Name",
                "full_name": "  ",
                "email": "not-an-email",
                "role": "VIEWER",
                "department": "d".repeat(101),
                "password": "short"
            }),
        )
        .await;
    res.assert_problem(422, "VALIDATION_FAILED");
    let mut fields = res.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        ["department", "email", "full_name", "password", "username"]
    );
    // the role is a Role, not text: an unknown one is refused by the body's type, naming the field
    let res = app
        .post(
            Role::Admin,
            "/api/v1/users",
            &json!({"username": "kim", "full_name": "Kim", "role": "BOSS", "password": "a long enough password"}),
        )
        .await;
    res.assert_fields(422, "VALIDATION_FAILED", &["role"]);

    for (username, ok) in [
        ("ab", false),
        (&"a".repeat(51) as &str, false),
        ("kim_2.x-y", true),
        ("kim@x", false),
    ] {
        let res = app
            .post(Role::Admin, "/api/v1/users", &new_user(username))
            .await;
        assert_eq!(
            res.status,
            if ok { 201 } else { 422 },
            "{username}: {}",
            res.text
        );
    }
    // missing, unknown and wrongly typed fields are 422 naming the field
    let res = app
        .post(Role::Admin, "/api/v1/users", &json!({"username": "abc"}))
        .await;
    res.assert_problem(422, "VALIDATION_FAILED");
    let mut body = new_user("zzz");
    body["password_hash"] = json!("x");
    app.post(Role::Admin, "/api/v1/users", &body)
        .await
        .assert_problem(422, "VALIDATION_FAILED");
    let res = app
        .raw(
            Method::POST,
            "/api/v1/users",
            Role::Admin,
            "application/json",
            "{\"username\":",
        )
        .await;
    res.assert_problem(400, "MALFORMED_JSON");
    assert_eq!(app.count("users").await, 5);
}

#[sqlx::test(migrations = false)]
async fn duplicates_are_409(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .post(Role::Admin, "/api/v1/users", &new_user("operator"))
        .await;
    res.assert_fields(409, "DUPLICATE", &["username"]);
    let mut body = new_user("someone");
    body["email"] = json!("Operator@Example.test");
    let res = app.post(Role::Admin, "/api/v1/users", &body).await;
    res.assert_fields(409, "DUPLICATE", &["email"]);
    let viewer = app.user(Role::Viewer).id;
    let res = app
        .patch(
            Role::Admin,
            &format!("/api/v1/users/{viewer}"),
            &json!({"email": "manager@example.test"}),
        )
        .await;
    res.assert_problem(409, "DUPLICATE");
}

#[sqlx::test(migrations = false)]
async fn patch_changes_only_what_is_given(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let op = app.user(Role::Operator).id;
    let path = format!("/api/v1/users/{op}");
    let res = app
        .patch(
            Role::Admin,
            &path,
            &json!({"full_name": "Lee Ji-eun", "department": "QA", "role": "MANAGER"}),
        )
        .await;
    res.assert_status(200);
    // set_config, SELECT ... FOR UPDATE, UPDATE, COMMIT
    assert_eq!(res.queries(), 4);
    assert_eq!(res.body["full_name"], "Lee Ji-eun");
    assert_eq!(res.body["department"], "QA");
    assert_eq!(res.body["role"], "MANAGER");
    assert_eq!(res.body["email"], "operator@example.test");
    // null clears a nullable field
    let res = app.patch(Role::Admin, &path, &json!({"email": null})).await;
    res.assert_status(200);
    assert!(res.body["email"].is_null());
    assert_eq!(res.body["department"], "QA");

    let res = app
        .patch(
            Role::Admin,
            &path,
            &json!({"full_name": "", "password": "short"}),
        )
        .await;
    res.assert_problem(422, "VALIDATION_FAILED");
    let mut f = res.error_fields();
    f.sort();
    assert_eq!(f, ["full_name", "password"]);
    app.patch(Role::Admin, &path, &json!({"role": "X"}))
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["role"]);
    app.patch(Role::Admin, &path, &json!({}))
        .await
        .assert_problem(422, "VALIDATION_FAILED");
    app.patch(Role::Admin, &path, &json!({"username": "renamed"}))
        .await
        .assert_problem(422, "VALIDATION_FAILED");
    app.patch(
        Role::Admin,
        "/api/v1/users/999999",
        &json!({"full_name": "X"}),
    )
    .await
    .assert_problem(404, "NOT_FOUND");

    // a new password works for sign-in and revokes the user's refresh tokens
    let login = |pw: &'static str| {
        let app = &app;
        async move {
            app.request(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(&json!({"username": "operator", "password": pw})),
                &[],
            )
            .await
        }
    };
    let rt = login(PASSWORD).await.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    app.patch(
        Role::Admin,
        &path,
        &json!({"password": "a brand new password"}),
    )
    .await
    .assert_status(200);
    login(PASSWORD)
        .await
        .assert_problem(401, "INVALID_CREDENTIALS");
    login("a brand new password").await.assert_status(200);
    app.request(
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(&json!({"refresh_token": rt})),
        &[],
    )
    .await
    .assert_problem(401, "REFRESH_TOKEN_REUSED");
}

#[sqlx::test(migrations = false)]
async fn admins_cannot_deactivate_or_demote_themselves(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let me = format!("/api/v1/users/{}", app.user(Role::Admin).id);
    let res = app
        .patch(Role::Admin, &me, &json!({"is_active": false}))
        .await;
    res.assert_fields(409, "CANNOT_DEACTIVATE_SELF", &["is_active"]);
    app.patch(Role::Admin, &me, &json!({"role": "MANAGER"}))
        .await
        .assert_problem(409, "CANNOT_DEMOTE_SELF");
    // other changes to oneself are fine
    app.patch(
        Role::Admin,
        &me,
        &json!({"role": "ADMIN", "department": "IT"}),
    )
    .await
    .assert_status(200);

    // an admin whose account was deactivated (token still valid) can no longer change users
    let res = app.post(Role::Admin, "/api/v1/users", &json!({
        "username": "admin2", "full_name": "Second Admin", "role": "ADMIN", "password": "another long password"
    }))
    .await;
    let admin2 = res.body["id"].as_i64().unwrap();
    app.patch(
        Role::Admin,
        &format!("/api/v1/users/{admin2}"),
        &json!({"role": "VIEWER"}),
    )
    .await
    .assert_status(200);
    // Its token from before the demotion is revoked at once (token generation 0 < 1) ...
    let token = app
        .state
        .tokens
        .issue_access(admin2, "admin2", Role::Admin)
        .unwrap()
        .0;
    let stale = || async {
        app.request(
            Method::PATCH,
            &me,
            Some(&token),
            Some(&json!({"role": "VIEWER"})),
            &[],
        )
        .await
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut res = stale().await;
    while res.status != 401 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        res = stale().await;
    }
    res.assert_problem(401, "TOKEN_REVOKED");
    // ... and even a token of the current generation that still claimed ADMIN would meet the role check.
    let current = app
        .state
        .tokens
        .issue_access_at(admin2, "admin2", Role::Admin, 1)
        .unwrap()
        .0;
    let res = app
        .request(
            Method::PATCH,
            &me,
            Some(&current),
            Some(&json!({"role": "VIEWER"})),
            &[],
        )
        .await;
    res.assert_problem(403, "FORBIDDEN");
}

#[sqlx::test(migrations = false)]
async fn deactivation_blocks_sign_in_and_revokes_refresh_tokens(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let body = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": "viewer", "password": PASSWORD})),
            &[],
        )
        .await
        .body;
    let viewer = app.user(Role::Viewer).id;
    let res = app
        .patch(
            Role::Admin,
            &format!("/api/v1/users/{viewer}"),
            &json!({"is_active": false}),
        )
        .await;
    res.assert_status(200);
    // set_config, SELECT ... FOR UPDATE, UPDATE users, UPDATE refresh_tokens, COMMIT
    assert_eq!(res.queries(), 5);
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(viewer)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(live, 0);
    app.request(
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(&json!({"refresh_token": body["refresh_token"]})),
        &[],
    )
    .await
    .assert_status(401);
    app.request(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(&json!({"username": "viewer", "password": PASSWORD})),
        &[],
    )
    .await
    .assert_problem(401, "INVALID_CREDENTIALS");
    // there is no DELETE
    let res = app
        .delete(Role::Admin, &format!("/api/v1/users/{viewer}"))
        .await;
    assert_eq!(res.status, 405, "{}", res.text);
}

/// action, user_id, new_data, changed_fields
type AuditRow = (String, Option<i64>, Option<Value>, Option<Vec<String>>);

#[sqlx::test(migrations = false)]
async fn audit_rows_carry_the_admin_and_never_the_password_hash(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let id = app
        .post(Role::Admin, "/api/v1/users", &new_user("audited"))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    app.patch(
        Role::Admin,
        &format!("/api/v1/users/{id}"),
        &json!({"password": "changed password!!", "department": "QA"}),
    )
    .await
    .assert_status(200);
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT action, user_id, new_data, changed_fields FROM audit_logs \
          WHERE table_name = 'users' AND record_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, "INSERT");
    assert_eq!(rows[1].0, "UPDATE");
    for (_, user_id, new_data, _) in &rows {
        assert_eq!(*user_id, Some(app.user(Role::Admin).id));
        let new_data = new_data.as_ref().unwrap();
        assert!(new_data.get("password_hash").is_none(), "{new_data}");
        assert!(!new_data.to_string().contains("argon2"));
    }
    assert!(rows[1]
        .3
        .as_ref()
        .unwrap()
        .contains(&"department".to_string()));
}

#[sqlx::test(migrations = false)]
async fn ensure_first_admin_creates_one_only_when_none_exists(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // the harness seeded an active admin
    assert_eq!(
        neurohub_identity::users::ensure_first_admin(&app.pool, None)
            .await
            .unwrap(),
        None
    );

    sqlx::query(
        "UPDATE users SET role = 'MANAGER', username = 'old-admin' WHERE username = 'admin'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let err = neurohub_identity::users::ensure_first_admin(&app.pool, Some("short".into()))
        .await
        .unwrap_err();
    assert_eq!(err.code, "VALIDATION_FAILED");
    let (username, password) = neurohub_identity::users::ensure_first_admin(&app.pool, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(username, "admin");
    assert_eq!(password.len(), 24);
    let res = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": "admin", "password": password})),
            &[],
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.body["user"]["role"], "ADMIN");
    let user_ref: Option<String> = sqlx::query_scalar(
        "SELECT user_ref FROM audit_logs WHERE table_name = 'users' AND action = 'INSERT' AND new_data->>'username' = 'admin' \
          ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(user_ref.as_deref(), Some("neurohub up"));
    assert_eq!(
        neurohub_identity::users::ensure_first_admin(&app.pool, None)
            .await
            .unwrap(),
        None
    );
}
