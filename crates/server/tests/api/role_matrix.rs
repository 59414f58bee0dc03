//! The role matrix: every route of the OpenAPI document × every role (and no token), against the table below.
//! A route missing from the table, or a table row without a route, fails the test, so the matrix in docs/api.md
//! cannot drift from the code.

use crate::helpers::TestApp;
use neurohub_core::auth::Role::{self, *};
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;
use std::collections::BTreeSet;

/// Who may call a route. `None` = public (no token needed).
const ANY: &[Role] = &[Admin, Manager, Operator, Viewer];
const OPERATE: &[Role] = &[Admin, Manager, Operator];
const MANAGE: &[Role] = &[Admin, Manager];
const ADMIN: &[Role] = &[Admin];

/// (method, path under the server root, allowed roles or None for public)
const MATRIX: &[(&str, &str, Option<&[Role]>)] = &[
    ("GET", "/health", None),
    ("GET", "/livez", None),
    ("GET", "/readyz", None),
    ("GET", "/metrics", None),
    // auth
    ("POST", "/api/v1/auth/login", None),
    ("POST", "/api/v1/auth/refresh", None),
    ("POST", "/api/v1/auth/logout", Some(ANY)),
    ("GET", "/api/v1/auth/me", Some(ANY)),
    ("POST", "/api/v1/auth/password", Some(ANY)),
    // users
    ("GET", "/api/v1/users", Some(ADMIN)),
    ("POST", "/api/v1/users", Some(ADMIN)),
    ("GET", "/api/v1/users/{id}", Some(ADMIN)),
    ("PATCH", "/api/v1/users/{id}", Some(ADMIN)),
    // master data
    ("GET", "/api/v1/product-models", Some(ANY)),
    ("POST", "/api/v1/product-models", Some(MANAGE)),
    ("GET", "/api/v1/product-models/{id}", Some(ANY)),
    ("PATCH", "/api/v1/product-models/{id}", Some(MANAGE)),
    ("GET", "/api/v1/processes", Some(ANY)),
    ("GET", "/api/v1/processes/{id}", Some(ANY)),
    ("PATCH", "/api/v1/processes/{id}", Some(MANAGE)),
    ("GET", "/api/v1/production-lines", Some(ANY)),
    ("POST", "/api/v1/production-lines", Some(MANAGE)),
    ("GET", "/api/v1/production-lines/{id}", Some(ANY)),
    ("PATCH", "/api/v1/production-lines/{id}", Some(MANAGE)),
    ("GET", "/api/v1/equipment", Some(ANY)),
    ("POST", "/api/v1/equipment", Some(MANAGE)),
    ("GET", "/api/v1/equipment/{id}", Some(ANY)),
    ("PATCH", "/api/v1/equipment/{id}", Some(MANAGE)),
    // lots and units
    ("GET", "/api/v1/lots", Some(ANY)),
    ("POST", "/api/v1/lots", Some(MANAGE)),
    ("GET", "/api/v1/lots/{id}", Some(ANY)),
    ("GET", "/api/v1/lots/by-number/{lot_number}", Some(ANY)),
    ("PATCH", "/api/v1/lots/{id}/status", Some(MANAGE)),
    ("POST", "/api/v1/lots/{id}/close", Some(MANAGE)),
    ("GET", "/api/v1/wip-items", Some(ANY)),
    ("GET", "/api/v1/wip-items/{id}", Some(ANY)),
    ("GET", "/api/v1/wip-items/by-code/{wip_id}", Some(ANY)),
    ("POST", "/api/v1/wip-items/{id}/rework", Some(OPERATE)),
    ("POST", "/api/v1/wip-items/{id}/scrap", Some(MANAGE)),
    ("GET", "/api/v1/serials", Some(ANY)),
    ("GET", "/api/v1/serials/{id}", Some(ANY)),
    (
        "GET",
        "/api/v1/serials/by-number/{serial_number}",
        Some(ANY),
    ),
    ("POST", "/api/v1/serials/{id}/rework", Some(OPERATE)),
    ("POST", "/api/v1/serials/{id}/scrap", Some(MANAGE)),
    // station work
    ("POST", "/api/v1/process-data/start", Some(OPERATE)),
    ("POST", "/api/v1/process-data/{id}/complete", Some(OPERATE)),
    ("POST", "/api/v1/process-data/batch-complete", Some(OPERATE)),
    ("GET", "/api/v1/process-data", Some(ANY)),
    ("GET", "/api/v1/process-data/{id}", Some(ANY)),
    ("GET", "/api/v1/scan/{code}", Some(ANY)),
    // genealogy, audit, dashboard
    ("GET", "/api/v1/trace/serials/{serial_number}", Some(ANY)),
    ("GET", "/api/v1/trace/wip-items/{wip_id}", Some(ANY)),
    ("GET", "/api/v1/trace/backward", Some(ANY)),
    ("GET", "/api/v1/audit-logs", Some(MANAGE)),
    ("GET", "/api/v1/dashboard", Some(ANY)),
    // ATP: every signed-in user passes the global check; membership and member role decide inside (atp_roles.rs)
    ("GET", "/api/v1/workspaces", Some(ANY)),
    ("POST", "/api/v1/workspaces", Some(ADMIN)),
    ("GET", "/api/v1/workspaces/{ws}", Some(ANY)),
    ("PATCH", "/api/v1/workspaces/{ws}", Some(ANY)),
    ("GET", "/api/v1/workspaces/{ws}/members", Some(ANY)),
    ("POST", "/api/v1/workspaces/{ws}/members", Some(ANY)),
    (
        "PATCH",
        "/api/v1/workspaces/{ws}/members/{user_id}",
        Some(ANY),
    ),
    ("GET", "/api/v1/workspaces/{ws}/sites", Some(ANY)),
    ("POST", "/api/v1/workspaces/{ws}/sites", Some(ANY)),
    ("POST", "/api/v1/workspaces/{ws}/sites/import", Some(ANY)),
    ("GET", "/api/v1/workspaces/{ws}/sites/export", Some(ANY)),
    ("GET", "/api/v1/workspaces/{ws}/sites/{id}", Some(ANY)),
    ("PATCH", "/api/v1/workspaces/{ws}/sites/{id}", Some(ANY)),
    ("DELETE", "/api/v1/workspaces/{ws}/sites/{id}", Some(ANY)),
    ("GET", "/api/v1/workspaces/{ws}/config-versions", Some(ANY)),
    ("POST", "/api/v1/workspaces/{ws}/config-versions", Some(ANY)),
    (
        "GET",
        "/api/v1/workspaces/{ws}/config-versions/{id}",
        Some(ANY),
    ),
    (
        "PATCH",
        "/api/v1/workspaces/{ws}/config-versions/{id}",
        Some(ANY),
    ),
    (
        "DELETE",
        "/api/v1/workspaces/{ws}/config-versions/{id}",
        Some(ANY),
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/config-versions/{id}/activate",
        Some(ANY),
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/config-versions/{id}/rollback",
        Some(ANY),
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/config-versions/{id}/archive",
        Some(ANY),
    ),
    (
        "GET",
        "/api/v1/workspaces/{ws}/config-versions/{id}/diff",
        Some(ANY),
    ),
    ("GET", "/api/v1/workspaces/{ws}/masters/{kind}", Some(ANY)),
    ("POST", "/api/v1/workspaces/{ws}/submissions", Some(ANY)),
    ("GET", "/api/v1/workspaces/{ws}/submissions/{id}", Some(ANY)),
    (
        "POST",
        "/api/v1/workspaces/{ws}/submissions/{id}/submit",
        Some(ANY),
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/submissions/{id}/documents",
        Some(ANY),
    ),
    (
        "GET",
        "/api/v1/workspaces/{ws}/submissions/{id}/documents/{document_id}",
        Some(ANY),
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/submissions/{id}/qa-review",
        Some(ANY),
    ),
    (
        "GET",
        "/api/v1/workspaces/{ws}/submissions/{id}/timeline",
        Some(ANY),
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/stages/{id}/decide",
        Some(ANY),
    ),
    (
        "GET",
        "/api/v1/workspaces/{ws}/approvals/pending",
        Some(ANY),
    ),
    (
        "GET",
        "/api/v1/workspaces/{ws}/submissions/{id}/punchlist-items",
        Some(ANY),
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/punchlist-items/{id}/rectify",
        Some(ANY),
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/punchlist-items/{id}/verify",
        Some(ANY),
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/punchlist-items/{id}/close",
        Some(ANY),
    ),
    ("GET", "/api/v1/workspaces/{ws}/sla/report", Some(ANY)),
    ("POST", "/api/v1/workspaces/{ws}/webhooks", Some(ANY)),
    ("GET", "/api/v1/workspaces/{ws}/webhooks", Some(ANY)),
    ("GET", "/api/v1/workspaces/{ws}/webhooks/{id}", Some(ANY)),
    ("DELETE", "/api/v1/workspaces/{ws}/webhooks/{id}", Some(ANY)),
    ("POST", "/api/v1/workspaces/{ws}/overrides", Some(ANY)),
    ("GET", "/api/v1/workspaces/{ws}/overrides", Some(ANY)),
    (
        "POST",
        "/api/v1/workspaces/{ws}/overrides/{id}/approve",
        Some(ANY),
    ),
    (
        "POST",
        "/api/v1/workspaces/{ws}/overrides/{id}/revoke",
        Some(ANY),
    ),
    ("POST", "/api/v1/workspaces/{ws}/absences", Some(ANY)),
    ("GET", "/api/v1/workspaces/{ws}/absences", Some(ANY)),
    (
        "POST",
        "/api/v1/workspaces/{ws}/absences/{id}/end",
        Some(ANY),
    ),
    ("DELETE", "/api/v1/workspaces/{ws}/absences/{id}", Some(ANY)),
];

/// A concrete path for a template: well-formed values that name nothing, so allowed roles get 404/422, not 400.
fn concrete(path: &str) -> String {
    path.replace("{id}", "987654")
        .replace("{lot_number}", "KR01PSA251199")
        .replace("{serial_number}", "KR01PSA251199001")
        .replace("{wip_id}", "WIP-KR01PSA251199-001")
        .replace("{code}", "KR01PSA251199")
}

fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).unwrap()
}

#[sqlx::test(migrations = false)]
async fn every_route_is_in_the_matrix_and_every_row_is_a_route(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc = app
        .request(Method::GET, "/api/v1/openapi.json", None, None, &[])
        .await;
    doc.assert_status(200);
    let mut documented = BTreeSet::new();
    for (path, ops) in doc.body["paths"].as_object().unwrap() {
        for m in ops.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&m.as_str()) {
                documented.insert((m.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    let table: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = documented.difference(&table).collect();
    let extra: Vec<_> = table.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes without a role-matrix row: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "role-matrix rows without a route: {extra:?}"
    );
}

#[sqlx::test(migrations = false)]
async fn protected_routes_refuse_requests_without_a_token(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for (m, path, roles) in MATRIX {
        if roles.is_none() {
            continue;
        }
        let body = json!({});
        let body = (*m != "GET").then_some(&body);
        let res = app
            .request(method(m), &concrete(path), None, body, &[])
            .await;
        assert_eq!(res.status, 401, "{m} {path} without a token: {}", res.text);
        assert_eq!(res.body["code"], "MISSING_TOKEN", "{m} {path}");
    }
}

#[sqlx::test(migrations = false)]
async fn each_role_gets_exactly_the_routes_the_matrix_gives_it(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mut failures = Vec::new();
    for (m, path, roles) in MATRIX {
        let Some(allowed) = roles else { continue };
        for role in Role::ALL {
            let body = json!({});
            let body = (*m != "GET").then_some(&body);
            let res = app
                .request(method(m), &concrete(path), Some(app.token(role)), body, &[])
                .await;
            let ok = if allowed.contains(&role) {
                res.status != 401 && res.status != 403 && res.status < 500
            } else {
                res.status == 403 && res.body["code"] == "FORBIDDEN"
            };
            if !ok {
                failures.push(format!("{role} {m} {path} -> {} {}", res.status, res.text));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "role matrix violations:\n{}",
        failures.join("\n")
    );
}
