//! Workspace isolation, generated from the OpenAPI document's workspace routes: a member of A gets 404 — never
//! 403, never data — for every object of B on every route, whether it names B's workspace (by code or id) or
//! names B's objects inside A's workspace; and B's data is unchanged afterwards.

use crate::atp_support::*;
use crate::helpers::TestApp;
use neurohub_atp::state::SourceType;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

/// A body that passes validation, so the only reason left to refuse is the object's workspace.
fn body_for(m: &str, path: &str) -> Option<Value> {
    match (m, path) {
        ("GET", _) => None,
        ("PATCH", p) if p.ends_with("/sites/{id}") => Some(json!({"site_name": "hijacked"})),
        ("PATCH", p) if p.ends_with("/config-versions/{id}") => {
            Some(json!({"description": "hijacked"}))
        }
        ("PATCH", p) if p.ends_with("/members/{user_id}") => Some(json!({"member_role": "VIEWER"})),
        ("PATCH", _) => Some(json!({"name": "hijacked"})),
        ("POST", p) if p.ends_with("/members") => {
            Some(json!({"user": "atp.qa", "member_role": "VIEWER"}))
        }
        ("POST", p) if p.ends_with("/rectify") => {
            Some(json!({"evidence_document_id": "00000000-0000-4000-8000-000000000000"}))
        }
        ("POST", p) if p.ends_with("/verify") => Some(json!({"accept": true})),
        ("POST", p) if p.ends_with("/decide") || p.ends_with("/qa-review") => {
            Some(json!({"decision": "APPROVE"}))
        }
        ("POST", p) if p.ends_with("/sites") => {
            Some(json!({"site_id": "HIJACK", "site_name": "x"}))
        }
        _ => Some(json!({})),
    }
}

#[sqlx::test(migrations = false)]
async fn a_member_of_a_gets_404_for_everything_of_b(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let a = workspace(&app, "XL-A", false).await;
    let b = workspace(&app, "XL-B", true).await;
    example_config(&app, &b).await;
    let site = call(
        &app,
        Method::POST,
        b.admin(),
        &b.path("/sites"),
        Some(&json!({"site_id": "B-1", "site_name": "B one"})),
    )
    .await;
    site.assert_status(201);
    let site_id = site.body["id"].as_str().unwrap().to_string();
    // a DRAFT of B: deletable, so a leak would show
    let mut f = example_files(SourceType::ScopeConfig);
    f[0].1.extend_from_slice(b"\n");
    let draft = upload(
        &app,
        b.admin(),
        &b.path("/config-versions"),
        Some("SCOPE_CONFIG"),
        &f,
    )
    .await;
    draft.assert_status(201);
    let version_id = draft.body["id"].as_str().unwrap().to_string();
    let b_member = b.members[1].1.id;
    // a webhook subscription of B
    let hook = call(
        &app,
        Method::POST,
        b.admin(),
        &b.path("/webhooks"),
        Some(&json!({"url": "http://127.0.0.1:9/b", "event_types": ["SLA_BREACHED"]})),
    )
    .await;
    hook.assert_status(201);
    let hook_id = hook.body["id"].as_str().unwrap().to_string();
    // a PENDING override and a future absence of B: approvable / revocable / endable / deletable, so a leak shows
    let b_override: String = sqlx::query_scalar(
        "INSERT INTO approver_overrides (workspace_id, override_type, region, from_user_id, to_user_id, reason, \
             requested_by) VALUES ($1::uuid, 'REGION', 'Jabodetabek', $2, $3, 'r', $2) RETURNING id::text",
    )
    .bind(&b.id)
    .bind(b.members[4].1.id)
    .bind(b.members[1].1.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let b_absence: String = sqlx::query_scalar(
        "INSERT INTO approver_absences (workspace_id, user_id, starts_at, ends_at) \
         VALUES ($1::uuid, $2, now() + interval '1 day', now() + interval '2 days') RETURNING id::text",
    )
    .bind(&b.id)
    .bind(b.members[4].1.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let before: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM sites), (SELECT count(*) FROM config_versions WHERE status = 'DRAFT'), \
                (SELECT count(*) FROM workspace_members WHERE is_active)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();

    let doc = app
        .request(Method::GET, "/api/v1/openapi.json", None, None, &[])
        .await;
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, ops) in doc.body["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/workspaces/{ws}") {
            continue;
        }
        for m in ops.as_object().unwrap().keys() {
            let m = m.to_ascii_uppercase();
            let Ok(method) = Method::from_bytes(m.as_bytes()) else {
                continue;
            };
            let ids = |p: &str| {
                let id = if p.contains("/sites/") {
                    &site_id
                } else if p.contains("/webhooks/") {
                    &hook_id
                } else if p.contains("/overrides/") {
                    &b_override
                } else if p.contains("/absences/") {
                    &b_absence
                } else {
                    &version_id
                };
                p.replace("{id}", id)
                    .replace("{user_id}", &b_member.to_string())
                    .replace("{kind}", "roles")
                    .replace("{document_id}", id)
            };
            let body = body_for(&m, path);
            // B's workspace, by code and by id, with B's ids: A's WORKSPACE_ADMIN is an outsider there
            for key in [b.code.as_str(), b.id.as_str()] {
                let url = ids(&path.replace("{ws}", key));
                let res = call(&app, method.clone(), a.admin(), &url, body.as_ref()).await;
                checked += 1;
                if !(res.status == 404 && res.body["code"] == "NOT_FOUND") {
                    failures.push(format!("{m} {url} -> {} {}", res.status, res.text));
                }
            }
            // A's own workspace naming B's objects
            if path.contains("{id}") || path.contains("{user_id}") {
                let url = ids(&path.replace("{ws}", &a.code));
                // a member role the route admits (part 2's submit and QA routes are not the admin's)
                let who = if path.ends_with("/qa-review") {
                    a.token(neurohub_atp::member::MemberRole::Qa)
                } else if (path.contains("/submissions/{id}/") || path.ends_with("/rectify"))
                    && m == "POST"
                {
                    a.token(neurohub_atp::member::MemberRole::DocControl)
                } else {
                    a.admin()
                };
                let res = call(&app, method.clone(), who, &url, body.as_ref()).await;
                checked += 1;
                if !(res.status == 404 && res.body["code"] == "NOT_FOUND") {
                    failures.push(format!("{m} {url} (in A) -> {} {}", res.status, res.text));
                }
            }
        }
    }
    // masters of B's version read through A
    let res = call(
        &app,
        Method::GET,
        a.admin(),
        &a.path(&format!("/masters/scopes?version_id={version_id}")),
        None,
    )
    .await;
    if res.status != 404 {
        failures.push(format!(
            "masters of B's version in A -> {} {}",
            res.status, res.text
        ));
    }
    // a diff of A's version against B's
    let a_version = import_and_activate(&app, &a, SourceType::ScopeConfig).await;
    let res = call(
        &app,
        Method::GET,
        a.admin(),
        &a.path(&format!(
            "/config-versions/{a_version}/diff?against={version_id}"
        )),
        None,
    )
    .await;
    if res.status != 404 {
        failures.push(format!(
            "diff against B's version -> {} {}",
            res.status, res.text
        ));
    }
    assert!(
        failures.is_empty(),
        "isolation violations:\n{}",
        failures.join("\n")
    );
    assert!(checked >= 40, "only {checked} requests checked");
    let after: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM sites), (SELECT count(*) FROM config_versions WHERE status = 'DRAFT' AND workspace_id <> $1::uuid), \
                (SELECT count(*) FROM workspace_members WHERE is_active)",
    )
    .bind(&a.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(before, after, "B's data changed");
    let b_delegation: (String, i64) = sqlx::query_as(
        "SELECT (SELECT approval_status FROM approver_overrides WHERE id = $1::uuid), \
                (SELECT count(*) FROM approver_absences WHERE id = $2::uuid)",
    )
    .bind(&b_override)
    .bind(&b_absence)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        b_delegation,
        ("PENDING".to_string(), 1),
        "B's override / absence changed"
    );
    let name: String = app
        .scalar("SELECT site_name FROM sites WHERE id = $1::uuid", site_id)
        .await;
    assert_eq!(name, "B one");
    let active: bool = app
        .scalar(
            "SELECT is_active FROM webhook_subscriptions WHERE id = $1::uuid",
            hook_id,
        )
        .await;
    assert!(active, "B's subscription was deactivated through A");
}
