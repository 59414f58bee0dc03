//! Shared fixtures of the ATP HTTP tests: workspaces with members of every member role, multipart uploads of
//! the shipped example configuration, and users beyond the four global-role users of `TestApp`.

use crate::helpers::{TestApp, TestResponse, TestUser};
use neurohub_atp::demo::EXAMPLE;
use neurohub_atp::member::MemberRole;
use neurohub_atp::state::SourceType;
use neurohub_core::auth::Role;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

/// A workspace of the test and the users it was given, one per member role.
pub struct Ws {
    pub code: String,
    pub id: String,
    /// (member role, user) — the WORKSPACE_ADMIN first.
    pub members: Vec<(MemberRole, TestUser, String)>,
}

impl Ws {
    pub fn token(&self, r: MemberRole) -> &str {
        &self
            .members
            .iter()
            .find(|(m, _, _)| *m == r)
            .unwrap()
            .1
            .token
    }

    pub fn admin(&self) -> &str {
        self.token(MemberRole::WorkspaceAdmin)
    }

    pub fn path(&self, rest: &str) -> String {
        format!("/api/v1/workspaces/{}{rest}", self.code)
    }
}

/// A new active user with global role VIEWER and a token.
pub async fn user(app: &TestApp, username: &str) -> TestUser {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, full_name, email, password_hash, role) VALUES ($1, $1, $1 || '@example.test', $2, 'VIEWER') RETURNING id",
    )
    .bind(username)
    .bind(crate::helpers::password_hash())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let (token, _) = app
        .state
        .tokens
        .issue_access(id, username, Role::Viewer)
        .unwrap();
    TestUser { id, token }
}

/// Create workspace `code` (as the global ADMIN) with one member per member role (usernames `<code>.<role>`,
/// lower case), plus the approvers the example cluster mapping names (`atp.qa`, `atp.approver.*`) when
/// `example_users` (only one workspace of a test database can have them: usernames are global).
pub async fn workspace(app: &TestApp, code: &str, example_users: bool) -> Ws {
    let res = app
        .post(
            Role::Admin,
            "/api/v1/workspaces",
            &json!({"code": code, "name": format!("{code} rollout"), "customer": "XLSmart", "vendor_owner": "AVIAT"}),
        )
        .await;
    res.assert_status(201);
    let id = res.body["id"].as_str().unwrap().to_string();
    let mut members = Vec::new();
    for r in MemberRole::ALL {
        let name = format!("{}.{}", code.to_lowercase(), r.as_str().to_lowercase());
        let u = user(app, &name).await;
        add(app, code, u.id, *r).await;
        members.push((*r, u, name));
    }
    if example_users {
        for name in [
            "atp.qa",
            "atp.approver.west1",
            "atp.approver.west2",
            "atp.approver.east1",
            "atp.approver.east2",
        ] {
            let u = user(app, name).await;
            add(app, code, u.id, MemberRole::Approver).await;
        }
    }
    Ws {
        code: code.to_string(),
        id,
        members,
    }
}

pub async fn add(app: &TestApp, code: &str, user_id: i64, r: MemberRole) {
    app.post(
        Role::Admin,
        &format!("/api/v1/workspaces/{code}/members"),
        &json!({"user_id": user_id, "member_role": r}),
    )
    .await
    .assert_status(201);
}

/// The shipped files of a source type, optionally with one file replaced.
pub fn example_files(t: SourceType) -> Vec<(String, Vec<u8>)> {
    EXAMPLE
        .iter()
        .find(|(s, _)| *s == t)
        .unwrap()
        .1
        .iter()
        .map(|(n, b)| (n.to_string(), b.to_vec()))
        .collect()
}

/// POST a multipart upload of `files` as `source_type` to the workspace's config versions.
pub async fn upload(
    app: &TestApp,
    token: &str,
    path: &str,
    source_type: Option<&str>,
    files: &[(String, Vec<u8>)],
) -> TestResponse {
    let mut form = Form::new();
    if let Some(t) = source_type {
        form = form.text("source_type", t.to_string());
    }
    for (name, bytes) in files {
        form = form.part(
            name.clone(),
            Part::bytes(bytes.clone())
                .file_name(format!("{name}.csv"))
                .mime_str("text/csv")
                .unwrap(),
        );
    }
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("request");
    crate::atp_support::into(res).await
}

pub async fn into(res: reqwest::Response) -> TestResponse {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    TestResponse {
        status,
        headers,
        body,
        text,
    }
}

/// Any JSON request with a token.
pub async fn call(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<&Value>,
) -> TestResponse {
    app.request(method, path, Some(token), body, &[]).await
}

/// Import the shipped example of `t` into `ws` and activate it; returns the version id.
pub async fn import_and_activate(app: &TestApp, ws: &Ws, t: SourceType) -> String {
    let res = upload(
        app,
        ws.admin(),
        &ws.path("/config-versions"),
        Some(t.as_str()),
        &example_files(t),
    )
    .await;
    res.assert_status(201);
    assert_eq!(res.body["validation_status"], "VALID", "{}", res.text);
    let id = res.body["id"].as_str().unwrap().to_string();
    call(
        app,
        reqwest::Method::POST,
        ws.admin(),
        &ws.path(&format!("/config-versions/{id}/activate")),
        None,
    )
    .await
    .assert_status(200);
    id
}

/// The whole example configuration, active, in dependency order.
pub async fn example_config(app: &TestApp, ws: &Ws) -> Vec<String> {
    let mut ids = Vec::new();
    for (t, _) in EXAMPLE {
        ids.push(import_and_activate(app, ws, *t).await);
    }
    ids
}
