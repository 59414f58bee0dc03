//! The OpenAPI document as a contract: unique operation ids, problem+json errors, honest 401/403, and the copy
//! of the served document that `scripts/check-openapi.sh` validates and generates a client from.

use crate::helpers::TestApp;
use neurohub_core::auth::Role;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::BTreeMap;

/// Write the document the server serves to `$OPENAPI_OUT` (default `target/openapi.json` in the workspace), so the
/// validator and the client generator check exactly what clients get.
#[sqlx::test(migrations = false)]
async fn writes_openapi_document(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .request(Method::GET, "/api/v1/openapi.json", None, None, &[])
        .await;
    res.assert_status(200);
    let out = std::env::var_os("OPENAPI_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/openapi.json")
        });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let pretty = serde_json::to_string_pretty(&res.body).unwrap();
    std::fs::write(&out, pretty + "\n").unwrap();
}

/// The served document, parsed.
async fn document(app: &TestApp) -> Value {
    let res = app
        .request(Method::GET, "/api/v1/openapi.json", None, None, &[])
        .await;
    res.assert_status(200);
    res.body
}

/// Every operation of the document: (METHOD, path, operation object).
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ]
            .contains(&method.as_str())
            {
                out.push((method.to_ascii_uppercase(), path.clone(), op));
            }
        }
    }
    out
}

fn secured(op: &Value) -> bool {
    op["security"].as_array().is_some_and(|reqs| {
        reqs.iter()
            .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
    })
}

#[sqlx::test(migrations = false)]
async fn every_operation_has_a_unique_id_and_a_tag(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc = document(&app).await;
    let ops = operations(&doc);
    assert!(ops.len() > 40, "{} operations", ops.len());
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut problems = Vec::new();
    for (m, p, op) in &ops {
        let Some(id) = op["operationId"].as_str().filter(|s| !s.is_empty()) else {
            problems.push(format!("{m} {p}: no operationId"));
            continue;
        };
        if !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            problems.push(format!("{m} {p}: operationId {id} is not snake_case"));
        }
        if let Some(other) = seen.insert(id.to_string(), format!("{m} {p}")) {
            problems.push(format!("{m} {p}: operationId {id} is also {other}"));
        }
        match op["tags"]
            .as_array()
            .and_then(|t| t.first())
            .and_then(Value::as_str)
        {
            Some(tag) => {
                let prefix = tag.replace('-', "_");
                if !id.starts_with(&prefix) {
                    problems.push(format!(
                        "{m} {p}: operationId {id} does not start with its tag {tag}"
                    ));
                }
            }
            None => problems.push(format!("{m} {p}: no tag")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The ids are a client contract (generated clients name their functions after them): this list is the contract,
/// and changing it is a breaking change a reviewer has to see. Regenerate it from the failure message only
/// deliberately.
const OPERATION_IDS: &str = "\
GET /api/v1/audit-logs audit_list
POST /api/v1/auth/login auth_login
POST /api/v1/auth/logout auth_logout
GET /api/v1/auth/me auth_me
POST /api/v1/auth/password auth_change_password
POST /api/v1/auth/refresh auth_refresh
GET /api/v1/dashboard dashboard
GET /api/v1/equipment equipment_list
POST /api/v1/equipment equipment_create
GET /api/v1/equipment/{id} equipment_get_one
PATCH /api/v1/equipment/{id} equipment_update
GET /api/v1/lots lots_list
POST /api/v1/lots lots_create
GET /api/v1/lots/by-number/{lot_number} lots_get_by_number
GET /api/v1/lots/{id} lots_get_by_id
POST /api/v1/lots/{id}/close lots_close
PATCH /api/v1/lots/{id}/status lots_change_status
GET /api/v1/process-data process_data_list
POST /api/v1/process-data/batch-complete process_data_batch_complete
POST /api/v1/process-data/start process_data_start
GET /api/v1/process-data/{id} process_data_get_one
POST /api/v1/process-data/{id}/complete process_data_complete
GET /api/v1/processes processes_list
GET /api/v1/processes/{id} processes_get_one
PATCH /api/v1/processes/{id} processes_update
GET /api/v1/product-models product_models_list
POST /api/v1/product-models product_models_create
GET /api/v1/product-models/{id} product_models_get_one
PATCH /api/v1/product-models/{id} product_models_update
GET /api/v1/production-lines production_lines_list
POST /api/v1/production-lines production_lines_create
GET /api/v1/production-lines/{id} production_lines_get_one
PATCH /api/v1/production-lines/{id} production_lines_update
GET /api/v1/scan/{code} scan
GET /api/v1/serials units_list_serials
GET /api/v1/serials/by-number/{serial_number} units_get_serial_by_number
GET /api/v1/serials/{id} units_get_serial
POST /api/v1/serials/{id}/rework flow_rework_serial
POST /api/v1/serials/{id}/scrap flow_scrap_serial
GET /api/v1/trace/backward trace_backward
GET /api/v1/trace/serials/{serial_number} trace_serial
GET /api/v1/trace/wip-items/{wip_id} trace_wip
GET /api/v1/users users_list
POST /api/v1/users users_create
GET /api/v1/users/{id} users_get_one
PATCH /api/v1/users/{id} users_update
GET /api/v1/wip-items units_list_wip_items
GET /api/v1/wip-items/by-code/{wip_id} units_get_wip_item_by_code
GET /api/v1/wip-items/{id} units_get_wip_item
POST /api/v1/wip-items/{id}/rework flow_rework_wip
POST /api/v1/wip-items/{id}/scrap flow_scrap_wip
GET /api/v1/workspaces atp_workspaces_list
POST /api/v1/workspaces atp_workspaces_create
GET /api/v1/workspaces/{ws} atp_workspaces_get_one
PATCH /api/v1/workspaces/{ws} atp_workspaces_update
GET /api/v1/workspaces/{ws}/absences atp_delegation_list_absences
POST /api/v1/workspaces/{ws}/absences atp_delegation_mark_absence
DELETE /api/v1/workspaces/{ws}/absences/{id} atp_delegation_delete_absence
POST /api/v1/workspaces/{ws}/absences/{id}/end atp_delegation_end_absence
GET /api/v1/workspaces/{ws}/approvals/pending atp_workflow_pending
GET /api/v1/workspaces/{ws}/config-versions atp_config_list
POST /api/v1/workspaces/{ws}/config-versions atp_config_import
DELETE /api/v1/workspaces/{ws}/config-versions/{id} atp_config_delete
GET /api/v1/workspaces/{ws}/config-versions/{id} atp_config_get_one
PATCH /api/v1/workspaces/{ws}/config-versions/{id} atp_config_update
POST /api/v1/workspaces/{ws}/config-versions/{id}/activate atp_config_activate
POST /api/v1/workspaces/{ws}/config-versions/{id}/archive atp_config_archive
GET /api/v1/workspaces/{ws}/config-versions/{id}/diff atp_config_diff
POST /api/v1/workspaces/{ws}/config-versions/{id}/rollback atp_config_rollback
GET /api/v1/workspaces/{ws}/masters/{kind} atp_masters_list
GET /api/v1/workspaces/{ws}/members atp_workspaces_list_members
POST /api/v1/workspaces/{ws}/members atp_workspaces_add_member
PATCH /api/v1/workspaces/{ws}/members/{user_id} atp_workspaces_update_member
GET /api/v1/workspaces/{ws}/overrides atp_delegation_list_overrides
POST /api/v1/workspaces/{ws}/overrides atp_delegation_request_override
POST /api/v1/workspaces/{ws}/overrides/{id}/approve atp_delegation_approve_override
POST /api/v1/workspaces/{ws}/overrides/{id}/revoke atp_delegation_revoke_override
POST /api/v1/workspaces/{ws}/punchlist-items/{id}/close atp_punchlists_close
POST /api/v1/workspaces/{ws}/punchlist-items/{id}/rectify atp_punchlists_rectify
POST /api/v1/workspaces/{ws}/punchlist-items/{id}/verify atp_punchlists_verify
GET /api/v1/workspaces/{ws}/sites atp_sites_list
POST /api/v1/workspaces/{ws}/sites atp_sites_create
GET /api/v1/workspaces/{ws}/sites/export atp_sites_export
POST /api/v1/workspaces/{ws}/sites/import atp_sites_import
DELETE /api/v1/workspaces/{ws}/sites/{id} atp_sites_delete
GET /api/v1/workspaces/{ws}/sites/{id} atp_sites_get_one
PATCH /api/v1/workspaces/{ws}/sites/{id} atp_sites_update
GET /api/v1/workspaces/{ws}/sla/report atp_workflow_sla_report
POST /api/v1/workspaces/{ws}/stages/{id}/decide atp_workflow_decide
POST /api/v1/workspaces/{ws}/submissions atp_submissions_create
GET /api/v1/workspaces/{ws}/submissions/{id} atp_submissions_get_one
POST /api/v1/workspaces/{ws}/submissions/{id}/documents atp_submissions_upload
GET /api/v1/workspaces/{ws}/submissions/{id}/documents/{document_id} atp_submissions_download
GET /api/v1/workspaces/{ws}/submissions/{id}/punchlist-items atp_punchlists_list
POST /api/v1/workspaces/{ws}/submissions/{id}/qa-review atp_workflow_qa_review
POST /api/v1/workspaces/{ws}/submissions/{id}/submit atp_submissions_submit
GET /api/v1/workspaces/{ws}/submissions/{id}/timeline atp_workflow_timeline
GET /api/v1/workspaces/{ws}/webhooks atp_notifications_list
POST /api/v1/workspaces/{ws}/webhooks atp_notifications_create
DELETE /api/v1/workspaces/{ws}/webhooks/{id} atp_notifications_deactivate
GET /api/v1/workspaces/{ws}/webhooks/{id} atp_notifications_get
GET /health operations_health
GET /livez operations_livez
GET /metrics operations_metrics
GET /readyz operations_readyz
";

#[sqlx::test(migrations = false)]
async fn operation_ids_are_the_published_ones(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc = document(&app).await;
    let actual: String = operations(&doc)
        .iter()
        .map(|(m, p, op)| format!("{m} {p} {}\n", op["operationId"].as_str().unwrap_or("-")))
        .collect();
    assert!(
        actual == OPERATION_IDS,
        "operation ids changed (a breaking change for generated clients). If intended, replace OPERATION_IDS \
         with:\n{actual}"
    );
}

/// `(METHOD, path, status)` of error responses that deliberately carry another body than a Problem.
const NON_PROBLEM_ERRORS: &[(&str, &str, &str)] = &[
    // The readiness probe answers 503 with the same health report as its 200, so monitors read one shape.
    ("GET", "/health", "503"),
    // The readiness probe's 503 is its 200's shape with the reasons filled in.
    ("GET", "/readyz", "503"),
];

#[sqlx::test(migrations = false)]
async fn every_error_response_is_problem_json(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc = document(&app).await;
    assert_eq!(
        doc["components"]["schemas"]["Problem"]["required"],
        json!(["type", "title", "status", "detail", "code"])
    );
    let mut checked = 0;
    let mut problems = Vec::new();
    for (m, p, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            if !(status.starts_with('4') || status.starts_with('5')) {
                continue;
            }
            if NON_PROBLEM_ERRORS.contains(&(m.as_str(), p.as_str(), status.as_str())) {
                continue;
            }
            checked += 1;
            let content = response["content"].as_object().cloned().unwrap_or_default();
            let types: Vec<&String> = content.keys().collect();
            if types != ["application/problem+json"] {
                problems.push(format!("{m} {p} {status}: content types {types:?}"));
                continue;
            }
            let schema = &content["application/problem+json"]["schema"]["$ref"];
            if schema != "#/components/schemas/Problem" {
                problems.push(format!("{m} {p} {status}: schema {schema}"));
            }
        }
    }
    assert!(checked > 100, "only {checked} error responses");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Each exception is still in the document (else it is stale here).
    for (m, p, s) in NON_PROBLEM_ERRORS {
        assert!(
            doc["paths"][p][m.to_ascii_lowercase()]["responses"][s].is_object(),
            "{m} {p} {s}"
        );
    }
}

/// Every operation that needs a token documents its 401 (with `WWW-Authenticate`), and the public ones need none.
#[sqlx::test(migrations = false)]
async fn every_secured_operation_documents_401(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc = document(&app).await;
    let mut problems = Vec::new();
    let mut secured_count = 0;
    for (m, p, op) in operations(&doc) {
        if secured(op) {
            secured_count += 1;
            let r = &op["responses"]["401"];
            if !r.is_object() {
                problems.push(format!("{m} {p}: secured but no 401"));
            } else if !r["headers"]["WWW-Authenticate"].is_object() {
                problems.push(format!("{m} {p}: 401 without WWW-Authenticate"));
            }
        }
        // The document's security is what the server does: no token means 401 exactly when it is secured.
        let body = json!({});
        let body = (m != "GET").then_some(&body);
        let res = app
            .request(method(&m), &concrete(&p), None, body, &[])
            .await;
        if (res.status == 401) != secured(op) {
            problems.push(format!(
                "{m} {p}: secured = {} but without a token: {}",
                secured(op),
                res.status
            ));
        }
    }
    assert!(secured_count > 40, "{secured_count}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A 403 is documented exactly where some *global* role gets one: every operation is called with every role's
/// token. Workspace routes (`/workspaces/{ws}/...`) answer by *member* role instead (a global role that is no
/// member gets 404 there), so their 403s are checked by the ATP's member-role matrix (`atp_roles`).
#[sqlx::test(migrations = false)]
async fn forbidden_is_documented_exactly_where_a_role_gets_it(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc = document(&app).await;
    let mut problems = Vec::new();
    let mut restricted = 0;
    for (m, p, op) in operations(&doc) {
        if !secured(op) || p.starts_with("/api/v1/workspaces/{ws}") {
            continue;
        }
        // a workspace route's 403 is a *member* role's (or a stage assignment's), tested against the member
        // matrix by atp_roles.rs: every global role is refused nothing there
        if p.starts_with("/api/v1/workspaces/{ws}") {
            continue;
        }
        let mut refused = Vec::new();
        for role in Role::ALL {
            let body = json!({});
            let body = (m != "GET").then_some(&body);
            let res = app
                .request(method(&m), &concrete(&p), Some(app.token(role)), body, &[])
                .await;
            if res.status == 403 && res.body["code"] == "FORBIDDEN" {
                refused.push(role);
            }
        }
        let documented = op["responses"]["403"].is_object();
        let refuses_someone = !refused.is_empty();
        if documented != refuses_someone {
            problems.push(format!(
                "{m} {p}: 403 documented = {documented}, refused roles {refused:?}"
            ));
        }
        if documented {
            restricted += 1;
            // The description names the roles that may call it, and none that was refused.
            let text = op["responses"]["403"]["description"].as_str().unwrap_or("");
            for role in Role::ALL {
                if text.contains(role.as_str()) == refused.contains(&role) {
                    problems.push(format!(
                        "{m} {p}: 403 says {text:?} but refused {refused:?}"
                    ));
                    break;
                }
            }
        }
    }
    assert!(restricted >= 20, "{restricted}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A concrete path for a template: well-formed values that name nothing (as in the role matrix).
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

/// Every create (a 201) documents its `Location` header (and the create tests check the servers sends it).
#[sqlx::test(migrations = false)]
async fn every_create_documents_its_location(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc = document(&app).await;
    let mut creates = 0;
    let mut missing = Vec::new();
    for (m, p, op) in operations(&doc) {
        let Some(created) = op["responses"].get("201") else {
            continue;
        };
        creates += 1;
        let documented = created["headers"]
            .as_object()
            .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("location")));
        if !documented {
            missing.push(format!("{m} {p}"));
        }
    }
    assert!(creates >= 10, "{creates}");
    assert!(
        missing.is_empty(),
        "201 without a documented Location: {missing:#?}"
    );
}
