//! The member-role matrix of the ATP routes (docs/atp.md "Roles"): every workspace route of the OpenAPI document ×
//! every member role, a non-member and a global ADMIN that is not a member, against the table below. A route
//! missing from the table, or a row without a route, fails the test.

use crate::atp_support::*;
use crate::helpers::TestApp;
use neurohub_atp::member::MemberRole::{self, *};
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;
use std::collections::BTreeSet;

const ALL: &[MemberRole] = MemberRole::ALL;
const WA: &[MemberRole] = &[WorkspaceAdmin];
const SITES: &[MemberRole] = &[WorkspaceAdmin, DocControl];
const NONE: &[MemberRole] = &[];
const SUBMIT: &[MemberRole] = &[DocControl, Vendor];
const QA: &[MemberRole] = &[Qa];
const SUPERVISORS: &[MemberRole] = &[WorkspaceAdmin, Qa, Viewer];
const DELEGATE: &[MemberRole] = &[WorkspaceAdmin, Approver];

/// (method, path, member roles admitted, a global ADMIN that is not a member admitted)
const MATRIX: &[(&str, &str, &[MemberRole], bool)] = &[
    ("GET", "/api/v1/workspaces/{ws}", ALL, true),
    ("PATCH", "/api/v1/workspaces/{ws}", NONE, true),
    ("GET", "/api/v1/workspaces/{ws}/members", ALL, true),
    ("POST", "/api/v1/workspaces/{ws}/members", WA, true),
    (
        "PATCH",
        "/api/v1/workspaces/{ws}/members/{user_id}",
        WA,
        true,
    ),
    ("GET", "/api/v1/workspaces/{ws}/sites", ALL, false),
    ("POST", "/api/v1/workspaces/{ws}/sites", SITES, false),
    ("POST", "/api/v1/workspaces/{ws}/sites/import", SITES, false),
    ("GET", "/api/v1/workspaces/{ws}/sites/export", ALL, false),
    ("GET", "/api/v1/workspaces/{ws}/sites/{id}", ALL, false),
    ("PATCH", "/api/v1/workspaces/{ws}/sites/{id}", SITES, false),
    ("DELETE", "/api/v1/workspaces/{ws}/sites/{id}", SITES, false),
    ("GET", "/api/v1/workspaces/{ws}/config-versions", ALL, false),
    ("POST", "/api/v1/workspaces/{ws}/config-versions", WA, false),
    (
        "GET",
        "/api/v1/workspaces/{ws}/config-versions/{id}",
        ALL,
        false,
    ),
    (
        "PATCH",
        "/api/v1/workspaces/{ws}/config-versions/{id}",
        WA,
        false,
    ),
    (
        "DELETE",
        "/api/v1/workspaces/{ws}/config-versions/{id}",
        WA,
        false,
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/config-versions/{id}/activate",
        WA,
        false,
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/config-versions/{id}/rollback",
        WA,
        false,
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/config-versions/{id}/archive",
        WA,
        false,
    ),
    (
        "GET",
        "/api/v1/workspaces/{ws}/config-versions/{id}/diff",
        ALL,
        false,
    ),
    ("GET", "/api/v1/workspaces/{ws}/masters/{kind}", ALL, false),
    // part 2, the workflow (docs/atp-flow.md)
    ("POST", "/api/v1/workspaces/{ws}/submissions", SUBMIT, false),
    (
        "GET",
        "/api/v1/workspaces/{ws}/submissions/{id}",
        ALL,
        false,
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/submissions/{id}/submit",
        SUBMIT,
        false,
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/submissions/{id}/documents",
        SUBMIT,
        false,
    ),
    (
        "GET",
        "/api/v1/workspaces/{ws}/submissions/{id}/documents/{document_id}",
        ALL,
        false,
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/submissions/{id}/qa-review",
        QA,
        false,
    ),
    (
        "GET",
        "/api/v1/workspaces/{ws}/submissions/{id}/timeline",
        ALL,
        false,
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/stages/{id}/decide",
        ALL,
        false,
    ),
    (
        "GET",
        "/api/v1/workspaces/{ws}/approvals/pending",
        ALL,
        false,
    ),
    (
        "GET",
        "/api/v1/workspaces/{ws}/submissions/{id}/punchlist-items",
        ALL,
        false,
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/punchlist-items/{id}/rectify",
        SUBMIT,
        false,
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/punchlist-items/{id}/verify",
        ALL,
        false,
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/punchlist-items/{id}/close",
        ALL,
        false,
    ),
    (
        "GET",
        "/api/v1/workspaces/{ws}/sla/report",
        SUPERVISORS,
        false,
    ),
    ("POST", "/api/v1/workspaces/{ws}/webhooks", WA, false),
    ("GET", "/api/v1/workspaces/{ws}/webhooks", WA, false),
    ("GET", "/api/v1/workspaces/{ws}/webhooks/{id}", WA, false),
    ("DELETE", "/api/v1/workspaces/{ws}/webhooks/{id}", WA, false),
    // overrides and absences (docs/atp-flow.md)
    ("POST", "/api/v1/workspaces/{ws}/overrides", DELEGATE, false),
    ("GET", "/api/v1/workspaces/{ws}/overrides", ALL, false),
    (
        "POST",
        "/api/v1/workspaces/{ws}/overrides/{id}/approve",
        WA,
        false,
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/overrides/{id}/revoke",
        DELEGATE,
        false,
    ),
    ("POST", "/api/v1/workspaces/{ws}/absences", WA, false),
    ("GET", "/api/v1/workspaces/{ws}/absences", ALL, false),
    (
        "POST",
        "/api/v1/workspaces/{ws}/absences/{id}/end",
        WA,
        false,
    ),
    ("DELETE", "/api/v1/workspaces/{ws}/absences/{id}", WA, false),
];

fn concrete(path: &str, ws: &str) -> String {
    path.replace("{ws}", ws)
        .replace("{id}", "00000000-0000-4000-8000-000000000000")
        .replace("{user_id}", "987654")
        .replace("{kind}", "scopes")
        .replace("{document_id}", "00000000-0000-4000-8000-000000000001")
}

#[sqlx::test(migrations = false)]
async fn every_workspace_route_is_in_the_member_matrix(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc = app
        .request(Method::GET, "/api/v1/openapi.json", None, None, &[])
        .await;
    let mut documented = BTreeSet::new();
    for (path, ops) in doc.body["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/workspaces/{ws}") {
            continue;
        }
        for m in ops.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&m.as_str()) {
                documented.insert((m.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    let table: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|(m, p, _, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, table);
    // every ATP operation is tagged atp-*
    for (path, ops) in doc.body["paths"].as_object().unwrap() {
        if path.starts_with("/api/v1/workspaces") {
            for (m, op) in ops.as_object().unwrap() {
                assert!(
                    op["tags"][0].as_str().unwrap().starts_with("atp-"),
                    "{m} {path}"
                );
            }
        }
    }
}

#[sqlx::test(migrations = false)]
async fn each_member_role_gets_exactly_its_routes_and_outsiders_get_404(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let ws = workspace(&app, "XL-ROLES", false).await;
    let outsider = user(&app, "outsider").await;
    let admin = app.token(neurohub_core::auth::Role::Admin).to_string();
    let mut failures = Vec::new();
    for (m, path, roles, admin_ok) in MATRIX {
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        let body = json!({});
        let body = (*m != "GET").then_some(&body);
        // by code and by id: the same answers
        for key in [ws.code.as_str(), ws.id.as_str()] {
            let url = concrete(path, key);
            for (role, u, _) in &ws.members {
                let res = call(&app, method.clone(), &u.token, &url, body).await;
                let ok = if roles.contains(role) {
                    res.status != 401 && res.status != 403 && res.status < 500
                } else {
                    res.status == 403 && res.body["code"] == "FORBIDDEN"
                };
                if !ok {
                    failures.push(format!("{role} {m} {url} -> {} {}", res.status, res.text));
                }
            }
            let res = call(&app, method.clone(), &outsider.token, &url, body).await;
            if !(res.status == 404 && res.body["code"] == "NOT_FOUND") {
                failures.push(format!(
                    "non-member {m} {url} -> {} {}",
                    res.status, res.text
                ));
            }
            let res = call(&app, method.clone(), &admin, &url, body).await;
            let ok = if *admin_ok {
                res.status != 401 && res.status != 403 && res.status < 500
            } else {
                res.status == 404 && res.body["code"] == "NOT_FOUND"
            };
            if !ok {
                failures.push(format!(
                    "global ADMIN (no member) {m} {url} -> {} {}",
                    res.status, res.text
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "member matrix violations:\n{}",
        failures.join("\n")
    );
}

#[sqlx::test(migrations = false)]
async fn membership_management(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let ws = workspace(&app, "XL-MEMBERS", false).await;
    let newbie = user(&app, "newbie").await;
    let p = ws.path("/members");
    // a WORKSPACE_ADMIN adds by username or email
    let added = call(
        &app,
        Method::POST,
        ws.admin(),
        &p,
        Some(&json!({"user": "NEWBIE@example.test", "member_role": "QA"})),
    )
    .await;
    added.assert_status(201);
    assert_eq!(added.body["user_id"], newbie.id);
    assert_eq!(added.body["member_role"], "QA");
    call(
        &app,
        Method::POST,
        ws.admin(),
        &p,
        Some(&json!({"user": "newbie", "member_role": "QA"})),
    )
    .await
    .assert_fields(409, "ALREADY_MEMBER", &["user"]);
    call(
        &app,
        Method::POST,
        ws.admin(),
        &p,
        Some(&json!({"user": "ghost", "member_role": "QA"})),
    )
    .await
    .assert_fields(422, "UNKNOWN_USER", &["user"]);
    call(
        &app,
        Method::POST,
        ws.admin(),
        &p,
        Some(&json!({"user": "newbie", "member_role": "BOSS"})),
    )
    .await
    .assert_fields(422, "VALIDATION_FAILED", &["member_role"]);
    // the new member reads the workspace; its role changes; deactivated it is an outsider (404)
    call(&app, Method::GET, &newbie.token, &ws.path(""), None)
        .await
        .assert_status(200);
    let mp = ws.path(&format!("/members/{}", newbie.id));
    let changed = call(
        &app,
        Method::PATCH,
        ws.admin(),
        &mp,
        Some(&json!({"member_role": "APPROVER"})),
    )
    .await;
    assert_eq!(changed.body["member_role"], "APPROVER");
    call(
        &app,
        Method::PATCH,
        ws.admin(),
        &mp,
        Some(&json!({"is_active": false})),
    )
    .await
    .assert_status(200);
    call(&app, Method::GET, &newbie.token, &ws.path("/sites"), None)
        .await
        .assert_problem(404, "NOT_FOUND");
    // a WORKSPACE_ADMIN cannot lock itself out
    let me = ws.members[0].1.id;
    call(
        &app,
        Method::PATCH,
        ws.admin(),
        &ws.path(&format!("/members/{me}")),
        Some(&json!({"member_role": "VIEWER"})),
    )
    .await
    .assert_problem(409, "SELF_DEMOTION");
    let list = call(&app, Method::GET, ws.token(MemberRole::Viewer), &p, None).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 7);
    assert_eq!(list.queries(), 3, "one select + context, resolve");

    // workspaces: the list shows the caller's own; a global ADMIN sees all
    workspace(&app, "XL-OTHER", false).await;
    let mine = call(
        &app,
        Method::GET,
        ws.token(MemberRole::Viewer),
        "/api/v1/workspaces",
        None,
    )
    .await;
    let codes: Vec<&str> = mine.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["XL-MEMBERS"]);
    assert_eq!(mine.queries(), 2, "one select + context");
    let all = app
        .get(neurohub_core::auth::Role::Admin, "/api/v1/workspaces")
        .await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2);
    // deactivating a workspace makes its data read-only for members
    app.patch(
        neurohub_core::auth::Role::Admin,
        &ws.path(""),
        &json!({"is_active": false}),
    )
    .await
    .assert_status(200);
    call(
        &app,
        Method::POST,
        ws.admin(),
        &ws.path("/sites"),
        Some(&json!({"site_id": "S", "site_name": "S"})),
    )
    .await
    .assert_problem(409, "WORKSPACE_INACTIVE");
    call(&app, Method::GET, ws.admin(), &ws.path("/sites"), None)
        .await
        .assert_status(200);
    // workspace creation: code rules and uniqueness
    app.post(
        neurohub_core::auth::Role::Admin,
        "/api/v1/workspaces",
        &json!({"code": "xl bad", "name": "x"}),
    )
    .await
    .assert_fields(422, "VALIDATION_FAILED", &["code"]);
    app.post(
        neurohub_core::auth::Role::Admin,
        "/api/v1/workspaces",
        &json!({"code": "XL-OTHER", "name": "x"}),
    )
    .await
    .assert_fields(409, "DUPLICATE", &["code"]);
}
