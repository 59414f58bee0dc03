//! The audit program (issue 13): every write route of the OpenAPI document (POST / PUT / PATCH / DELETE) is driven
//! to a 2xx, and every such answer left audit rows that carry the caller's user id, the client's IP and the
//! server's own request id — never the `x-request-id` the client sent (the test app's recorder sends one with every
//! request, as a client could) — with one audit row per changed record (no record logged twice for one change).
//! (That no role, the table owner included, can UPDATE / DELETE / TRUNCATE audit rows is
//! crates/schema/tests/behaviour.rs `audit_rows_can_never_be_updated_deleted_or_truncated`, extended there to
//! the request role.)

use crate::atp_flow::{setup, token_of};
use crate::flow::{fail, new_lot, pass, wip};
use crate::helpers::{Recorded, TestApp};
use neurohub_atp::member::MemberRole;
use neurohub_core::auth::Role;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::{BTreeMap, BTreeSet};

/// Write routes whose 2xx may change no audited table, and why (any audit rows they do leave are checked like
/// all others). Everything else must leave audit rows.
const NOT_AUDITED: &[(&str, &str)] = &[
    // sign-in, refresh and sign-out change sessions and refresh families (operational security state, not
    // business records; kept out of the audit log by design) and the throttle counters
    ("POST /api/v1/auth/login", "sessions only"),
    ("POST /api/v1/auth/refresh", "sessions only"),
    ("POST /api/v1/auth/logout", "sessions only"),
];

/// table, record, action, user id, client IP, request id, the row's data.
type AuditRow = (
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Value,
);

fn at(offset_hours: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(offset_hours)).to_rfc3339()
}

fn id(v: &Value) -> String {
    match &v["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The OpenAPI template (`/api/v1/lots/{id}`) a concrete path was served by.
fn template_of<'a>(templates: &'a [String], path: &str) -> Option<&'a String> {
    let segs: Vec<&str> = path.split('/').collect();
    // the most literal template wins (`/sites/import` over `/sites/{id}`)
    templates
        .iter()
        .filter(|t| {
            let ts: Vec<&str> = t.split('/').collect();
            ts.len() == segs.len()
                && ts
                    .iter()
                    .zip(&segs)
                    .all(|(t, s)| (t.starts_with('{') && t.ends_with('}')) || t == s)
        })
        .min_by_key(|t| t.matches('{').count())
}

#[sqlx::test(migrations = false)]
async fn every_write_route_is_audited_with_user_ip_and_the_servers_request_id(pool: PgPool) {
    // ---------------------------------------------------------------- ATP: setup covers workspaces, members,
    // configuration import + activation and the sites import
    let f = setup(pool, "AUDIT").await;
    let app: &TestApp = &f.app;
    app.forge_client_ids
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let admin = f.ws.admin().to_string();
    let ws_path = |rest: &str| f.ws.path(rest);
    let call = |m: Method, token: &str, rest: &str, body: Option<Value>| {
        let token = token.to_string();
        let path = ws_path(rest);
        async move {
            app.request(m, &path, Some(&token), body.as_ref(), &[])
                .await
        }
    };
    // the workspace and a member
    call(
        Method::PATCH,
        app.token(Role::Admin),
        "",
        Some(json!({"name": "Audit rollout"})),
    )
    .await
    .assert_status(200);
    let viewer_member =
        f.ws.members
            .iter()
            .find(|m| m.0 == MemberRole::Viewer)
            .unwrap()
            .1
            .id;
    call(
        Method::PATCH,
        &admin,
        &format!("/members/{viewer_member}"),
        Some(json!({"member_role": "QA"})),
    )
    .await
    .assert_status(200);
    // sites one by one
    let s = call(
        Method::POST,
        &admin,
        "/sites",
        Some(json!({"site_id": "AUD-0001", "site_name": "Audit site", "cluster_code": "JKT-01"})),
    )
    .await;
    s.assert_status(201);
    let site = id(&s.body);
    call(
        Method::PATCH,
        &admin,
        &format!("/sites/{site}"),
        Some(json!({"site_name": "Renamed"})),
    )
    .await
    .assert_status(200);
    call(Method::DELETE, &admin, &format!("/sites/{site}"), None)
        .await
        .assert_status(204);
    // configuration versions: a second import, edited, activated over the first, rolled back, archived, deleted
    let files = crate::atp_support::example_files(neurohub_atp::state::SourceType::ClusterMapping);
    let mut changed = files.clone();
    changed[0].1.extend_from_slice(b"\n");
    let v = crate::atp_support::upload(
        app,
        &admin,
        &ws_path("/config-versions"),
        Some("CLUSTER_MAPPING"),
        &changed,
    )
    .await;
    v.assert_status(201);
    let v2 = id(&v.body);
    call(
        Method::PATCH,
        &admin,
        &format!("/config-versions/{v2}"),
        Some(json!({"description": "edited"})),
    )
    .await
    .assert_status(200);
    call(
        Method::POST,
        &admin,
        &format!("/config-versions/{v2}/activate"),
        None,
    )
    .await
    .assert_status(200);
    let v1: String = app
        .scalar(
            "SELECT id::text FROM config_versions WHERE source_type = $1 AND status = 'SUPERSEDED'",
            "CLUSTER_MAPPING".to_string(),
        )
        .await;
    call(
        Method::POST,
        &admin,
        &format!("/config-versions/{v1}/rollback"),
        None,
    )
    .await
    .assert_status(200);
    call(
        Method::POST,
        &admin,
        &format!("/config-versions/{v2}/archive"),
        None,
    )
    .await
    .assert_status(200);
    let d = crate::atp_support::upload(
        app,
        &admin,
        &ws_path("/config-versions"),
        Some("SCOPE_CONFIG"),
        &{
            let mut x =
                crate::atp_support::example_files(neurohub_atp::state::SourceType::ScopeConfig);
            x[0].1.extend_from_slice(b"\n\n");
            x
        },
    )
    .await;
    d.assert_status(201);
    call(
        Method::DELETE,
        &admin,
        &format!("/config-versions/{}", id(&d.body)),
        None,
    )
    .await
    .assert_status(204);
    // a submission through QA to its first approval stage, documents, a decision
    let sub = f.submitted("JKT-0001", "MW", "RAN_MW").await;
    f.qa_approve(&sub).await.assert_status(200);
    let stages = f.stages(&sub).await;
    let (w1_id, w1) = token_of(app, "atp.approver.west1").await;
    let (e1_id, _e1) = token_of(app, "atp.approver.east1").await;
    // an override requested by the assigned approver, approved and revoked; an absence marked, ended, deleted
    let o = call(
        Method::POST,
        &w1,
        "/overrides",
        Some(
            json!({"override_type": "SUBMISSION", "submission_id": sub, "to_user_id": e1_id,
                    "reason": "site visit", "valid_to": at(24)}),
        ),
    )
    .await;
    o.assert_status(201);
    let o = id(&o.body);
    call(
        Method::POST,
        &admin,
        &format!("/overrides/{o}/approve"),
        None,
    )
    .await
    .assert_status(200);
    call(
        Method::POST,
        &admin,
        &format!("/overrides/{o}/revoke"),
        None,
    )
    .await
    .assert_status(200);
    let a = call(
        Method::POST,
        &admin,
        "/absences",
        Some(json!({"user_id": w1_id, "starts_at": at(-1), "ends_at": at(24), "reason": "leave"})),
    )
    .await;
    a.assert_status(201);
    let a = id(&a.body);
    call(Method::POST, &admin, &format!("/absences/{a}/end"), None)
        .await
        .assert_status(200);
    let a2 = call(
        Method::POST,
        &admin,
        "/absences",
        Some(json!({"user_id": w1_id, "starts_at": at(48), "ends_at": at(72), "reason": "later"})),
    )
    .await;
    a2.assert_status(201);
    call(
        Method::DELETE,
        &admin,
        &format!("/absences/{}", id(&a2.body)),
        None,
    )
    .await
    .assert_status(204);
    // the chain's first approval stage (after QA), assigned to west1
    assert_eq!(stages[1].2, Some(w1_id));
    call(
        Method::POST,
        &w1,
        &format!("/stages/{}/decide", stages[1].3),
        Some(json!({"decision": "APPROVE_WITH_PUNCHLIST",
                    "items": [{"code": "P1", "description": "label missing", "severity": "MINOR"}]})),
    )
    .await
    .assert_status(200);
    f.decide(&w1, &stages[2].3, "APPROVE", None)
        .await
        .assert_status(200);
    f.decide(&w1, &stages[3].3, "APPROVE", None)
        .await
        .assert_status(200);
    // its punchlist item: rectified with evidence, verified, closed
    let items = call(
        Method::GET,
        &admin,
        &format!("/submissions/{sub}/punchlist-items"),
        None,
    )
    .await;
    let item = items.body[0]["id"].as_str().unwrap().to_string();
    let ev = f
        .doc(
            f.submitter(),
            &sub,
            "fix.jpg",
            vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2],
            Some("EVIDENCE"),
        )
        .await;
    ev.assert_status(201);
    call(
        Method::POST,
        f.submitter(),
        &format!("/punchlist-items/{item}/rectify"),
        Some(json!({"evidence_document_id": ev.body["id"]})),
    )
    .await
    .assert_status(200);
    call(
        Method::POST,
        &w1,
        &format!("/punchlist-items/{item}/verify"),
        Some(json!({"accept": true})),
    )
    .await
    .assert_status(200);
    call(
        Method::POST,
        &w1,
        &format!("/punchlist-items/{item}/close"),
        None,
    )
    .await
    .assert_status(200);
    // webhooks
    let wh = call(
        Method::POST,
        &admin,
        "/webhooks",
        Some(json!({"url": "http://127.0.0.1:9/atp", "event_types": ["STAGE_ASSIGNED"]})),
    )
    .await;
    wh.assert_status(201);
    call(
        Method::DELETE,
        &admin,
        &format!("/webhooks/{}", id(&wh.body)),
        None,
    )
    .await
    .assert_status(204);

    // ---------------------------------------------------------------- MES
    let (lot_id, lot_number) = new_lot(app, 4).await;
    let model: i64 = app
        .scalar("SELECT product_model_id FROM lots WHERE id = $1", lot_id)
        .await;
    let line: i64 = app
        .scalar("SELECT production_line_id FROM lots WHERE id = $1", lot_id)
        .await;
    app.patch(
        Role::Manager,
        &format!("/api/v1/product-models/{model}"),
        &json!({"model_name": "Renamed"}),
    )
    .await
    .assert_status(200);
    app.patch(
        Role::Manager,
        &format!("/api/v1/production-lines/{line}"),
        &json!({"name": "Renamed"}),
    )
    .await
    .assert_status(200);
    let e = app
        .post(
            Role::Manager,
            "/api/v1/equipment",
            &json!({"equipment_code": "AUD-01", "name": "Screwdriver", "status": "MAINTENANCE"}),
        )
        .await;
    e.assert_status(201);
    app.patch(
        Role::Manager,
        &format!("/api/v1/equipment/{}", id(&e.body)),
        &json!({"name": "Torque driver"}),
    )
    .await
    .assert_status(200);
    app.patch(
        Role::Admin,
        "/api/v1/processes/8",
        &json!({"estimated_duration_seconds": 90}),
    )
    .await
    .assert_status(200);
    // units: a PASS (start + complete), a FAIL reworked, a FAIL scrapped, the serial's rework / scrap, a batch
    pass(app, 1, json!({"wip_id": wip(&lot_number, 1)})).await;
    fail(app, 1, json!({"wip_id": wip(&lot_number, 2)}), "AUD").await;
    let wip2: i64 = app
        .scalar(
            "SELECT id FROM wip_items WHERE wip_id = $1",
            wip(&lot_number, 2),
        )
        .await;
    app.post(
        Role::Manager,
        &format!("/api/v1/wip-items/{wip2}/rework"),
        &json!({}),
    )
    .await
    .assert_status(200);
    fail(app, 1, json!({"wip_id": wip(&lot_number, 3)}), "AUD").await;
    let wip3: i64 = app
        .scalar(
            "SELECT id FROM wip_items WHERE wip_id = $1",
            wip(&lot_number, 3),
        )
        .await;
    app.post(
        Role::Manager,
        &format!("/api/v1/wip-items/{wip3}/scrap"),
        &json!({"reason": "cracked"}),
    )
    .await
    .assert_status(200);
    crate::flow::pass_range(app, &wip(&lot_number, 4), 1, 8).await;
    app.post(
        Role::Operator,
        "/api/v1/process-data/batch-complete",
        &json!({"lot_number": lot_number, "process_number": 1, "result": "PASS", "measurements": crate::flow::good(1)}),
    )
    .await;
    let m2 = app
        .post(
            Role::Manager,
            "/api/v1/product-models",
            &json!({"model_code": "AUD", "model_name": "Audited"}),
        )
        .await;
    m2.assert_status(201);
    let l2 = app
        .post(
            Role::Manager,
            "/api/v1/production-lines",
            &json!({"country_code": "KR", "line_code": "09", "name": "Audit line"}),
        )
        .await;
    l2.assert_status(201);
    let lot2 = crate::lots::create(
        app,
        m2.body["id"].as_i64().unwrap(),
        l2.body["id"].as_i64().unwrap(),
        1,
        None,
    )
    .await;
    // (fixtures: its unit scrapped and the lot COMPLETED without the flow)
    sqlx::query("UPDATE wip_items SET status = 'SCRAPPED' WHERE lot_id = $1")
        .bind(lot2["id"].as_i64())
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE lots SET status = 'COMPLETED' WHERE id = $1")
        .bind(lot2["id"].as_i64())
        .execute(&app.pool)
        .await
        .unwrap();
    app.post(
        Role::Manager,
        &format!("/api/v1/lots/{}/close", lot2["id"]),
        &json!({}),
    )
    .await
    .assert_status(200);
    // serials: a CREATED one scrapped, a FAILED one reworked (fixtures)
    for (seq, status) in [(900, "CREATED"), (901, "FAILED")] {
        let sid: i64 = sqlx::query_scalar(
            "INSERT INTO serials (serial_number, lot_id, sequence_in_lot, status) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(format!("{lot_number}{seq}"))
        .bind(lot_id)
        .bind(seq)
        .bind(status)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let (what, body) = if status == "FAILED" {
            ("rework", json!({}))
        } else {
            ("scrap", json!({"reason": "dropped"}))
        };
        app.post(
            Role::Manager,
            &format!("/api/v1/serials/{sid}/{what}"),
            &body,
        )
        .await
        .assert_status(200);
    }
    app.patch(
        Role::Manager,
        &format!("/api/v1/lots/{lot_id}/status"),
        &json!({"status": "ON_HOLD"}),
    )
    .await
    .assert_status(200);
    // users
    let u = app
        .post(
            Role::Admin,
            "/api/v1/users",
            &json!({"username": "audited.user", "full_name": "Audited", "role": "OPERATOR",
                    "password": "a long enough password for audit"}),
        )
        .await;
    u.assert_status(201);
    app.patch(
        Role::Admin,
        &format!("/api/v1/users/{}", id(&u.body)),
        &json!({"department": "QA"}),
    )
    .await
    .assert_status(200);
    // one's own password change (as the new user, signed in with the password the admin gave)
    let own = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": "audited.user", "password": "a long enough password for audit"})),
            &[],
        )
        .await;
    own.assert_status(200);
    app.request(
        Method::POST,
        "/api/v1/auth/password",
        Some(own.body["access_token"].as_str().unwrap()),
        Some(
            &json!({"current_password": "a long enough password for audit",
                     "new_password": "another long password for the audit"}),
        ),
        &[],
    )
    .await
    .assert_status(204);
    // sign-in, refresh, sign-out
    let login = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": "operator", "password": crate::helpers::PASSWORD})),
            &[],
        )
        .await;
    login.assert_status(200);
    let refreshed = app
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(&json!({"refresh_token": login.body["refresh_token"]})),
            &[],
        )
        .await;
    refreshed.assert_status(200);
    app.request(
        Method::POST,
        "/api/v1/auth/logout",
        Some(refreshed.body["access_token"].as_str().unwrap()),
        Some(&json!({"refresh_token": refreshed.body["refresh_token"]})),
        &[],
    )
    .await;

    // ---------------------------------------------------------------- the audit rows of every 2xx write
    let doc = app
        .request(Method::GET, "/api/v1/openapi.json", None, None, &[])
        .await
        .body;
    let mut templates = Vec::new();
    let mut writes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        templates.push(path.clone());
        for m in item.as_object().unwrap().keys() {
            if ["post", "put", "patch", "delete"].contains(&m.as_str()) {
                writes.insert(format!("{} {path}", m.to_ascii_uppercase()));
            }
        }
    }
    let recorded: Vec<Recorded> = app.recorded.lock().unwrap().clone();
    let mut covered: BTreeMap<String, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for r in &recorded {
        if !["POST", "PUT", "PATCH", "DELETE"].contains(&r.method.as_str())
            || !(200..300).contains(&r.status)
        {
            continue;
        }
        let Some(t) = template_of(&templates, &r.path) else {
            continue;
        };
        let op = format!("{} {t}", r.method);
        let rows: Vec<AuditRow> =
            sqlx::query_as(
                "SELECT table_name, coalesce(record_id::text, new_data ->> 'id', old_data ->> 'id', ''), action, user_id, client_ip::text, request_id, \
                        coalesce(new_data, old_data) FROM audit_logs WHERE request_id = $1",
            )
            .bind(&r.request_id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
        let may_be_unaudited = NOT_AUDITED.iter().any(|(o, _)| *o == op);
        if rows.is_empty() && !may_be_unaudited {
            problems.push(format!(
                "{op} ({}) answered {} and left no audit row",
                r.path, r.status
            ));
            continue;
        }
        *covered.entry(op.clone()).or_default() += 1;
        let mut seen = BTreeSet::new();
        for (table, record, action, user, ip, rid, data) in &rows {
            // sign-in has no token yet: its row (the user's own, last_login_at) is the signed-in user's act
            let caller = if op == "POST /api/v1/auth/login" && table == "users" {
                record.parse().ok()
            } else {
                r.user_id
            };
            if *user != caller {
                problems.push(format!(
                    "{op}: {table} {record} audited as user {user:?}, the caller is {caller:?}"
                ));
            }
            if ip.as_deref() != Some("127.0.0.1") {
                problems.push(format!(
                    "{op}: {table} {record} audited with client IP {ip:?}"
                ));
            }
            assert_eq!(rid.as_deref(), Some(r.request_id.as_str()));
            if !seen.insert((
                table.clone(),
                record.clone(),
                action.clone(),
                data.to_string(),
            )) {
                problems.push(format!(
                    "{op}: {table} {record} {action} logged twice for one change"
                ));
            }
        }
    }
    // the client's own request ids are in no audit row
    let client_ids: Vec<String> = recorded
        .iter()
        .map(|r| r.client_request_id.clone())
        .filter(|c| !c.is_empty())
        .collect();
    let forged: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE request_id = ANY($1)")
            .bind(&client_ids)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(forged, 0, "audit rows carry a client's x-request-id");
    let missing: Vec<&String> = writes
        .iter()
        .filter(|w| !covered.contains_key(*w))
        .collect();
    println!(
        "audit program: {} write operations, {} driven to a 2xx and checked ({} answers)",
        writes.len(),
        covered.len(),
        covered.values().sum::<usize>()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        missing.is_empty(),
        "write operations this test does not drive to a 2xx yet: {missing:#?}"
    );
}
