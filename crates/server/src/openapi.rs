//! The OpenAPI 3.1 document: paths come from the routers themselves (utoipa-axum), so it cannot drift; then one
//! pass, [`finish`], makes the parts that are a client contract uniform, in one place instead of on every handler:
//!
//! - **operation ids**: `{tag}_{handler}` (`lots_list`, `users_get_one`), unique by check;
//! - **errors**: every 4xx/5xx response is `application/problem+json` with the `Problem` schema;
//! - **honest auth**: every secured operation documents its 401, every role-restricted one its 403.
//!
//! The rules and their reasons are in docs/api.md ("The OpenAPI document"); the tests in
//! `crates/server/tests/api/openapi_contract.rs` hold the served document to them.

use neurohub_core::auth::{policy, Policy, Role};

// The role sets of the domains' own policies (the handlers' `Authorized<P>`), not copies of them.
const ADMIN: &[Role] = <policy::Admin as Policy>::ROLES;
const MANAGE: &[Role] = <neurohub_mes::policy::Manage as Policy>::ROLES;
const OPERATE: &[Role] = <neurohub_mes::policy::Operate as Policy>::ROLES;
const AUDIT: &[Role] = <neurohub_identity::policy::Audit as Policy>::ROLES;
use std::collections::BTreeMap;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, HeaderBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "NeuroHub API",
        description = "MES traceability (lots, WIP, serials, process data, genealogy, audit). Errors are RFC 9457 \
                       application/problem+json with a stable `code` and `errors[]` naming each bad field; each \
                       problem's `type` (`/problems/<slug>`) is a page explaining the code.",
    ),
    modifiers(&BearerAuth),
    // Enums used only as query parameters are not collected from the handlers; list them here (a test checks that
    // every `$ref` in the document resolves).
    components(schemas(neurohub_core::Problem, neurohub_core::FieldError, neurohub_mes::lots::LotSort, neurohub_mes::lots::SortOrder)),
    tags(
        (name = "auth", description = "Sign in, refresh, sign out"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Operations a role policy restricts to fewer than all roles (`Authorized<policy::Operate | Manage | Audit |
/// Admin>`): they can answer 403 FORBIDDEN. The handlers' extractors decide; this table only documents it. A test
/// calls every operation with every role and fails when the document's 403s and the server's disagree.
pub const ROLE_RESTRICTED: &[(&str, &str, &[Role])] = &[
    ("GET", "/api/v1/users", ADMIN),
    // creating a workspace is a global ADMIN's (neurohub_atp::workspaces::create)
    ("POST", "/api/v1/workspaces", ADMIN),
    ("POST", "/api/v1/users", ADMIN),
    ("GET", "/api/v1/users/{id}", ADMIN),
    ("PATCH", "/api/v1/users/{id}", ADMIN),
    ("POST", "/api/v1/product-models", MANAGE),
    ("PATCH", "/api/v1/product-models/{id}", MANAGE),
    ("PATCH", "/api/v1/processes/{id}", MANAGE),
    ("POST", "/api/v1/production-lines", MANAGE),
    ("PATCH", "/api/v1/production-lines/{id}", MANAGE),
    ("POST", "/api/v1/equipment", MANAGE),
    ("PATCH", "/api/v1/equipment/{id}", MANAGE),
    ("POST", "/api/v1/lots", MANAGE),
    ("PATCH", "/api/v1/lots/{id}/status", MANAGE),
    ("POST", "/api/v1/lots/{id}/close", MANAGE),
    ("POST", "/api/v1/wip-items/{id}/rework", OPERATE),
    ("POST", "/api/v1/wip-items/{id}/scrap", MANAGE),
    ("POST", "/api/v1/serials/{id}/rework", OPERATE),
    ("POST", "/api/v1/serials/{id}/scrap", MANAGE),
    ("POST", "/api/v1/process-data/start", OPERATE),
    ("POST", "/api/v1/process-data/{id}/complete", OPERATE),
    ("POST", "/api/v1/process-data/batch-complete", OPERATE),
    ("GET", "/api/v1/audit-logs", AUDIT),
    ("POST", "/api/v1/workspaces", ADMIN),
];

/// The roles that may call a role-restricted operation, `None` when every signed-in role (or anyone) may.
pub fn restricted_to(method: &str, path: &str) -> Option<&'static [Role]> {
    ROLE_RESTRICTED
        .iter()
        .find(|(m, p, _)| m.eq_ignore_ascii_case(method) && *p == path)
        .map(|(_, _, roles)| *roles)
}

/// The operation id of a handler: `{tag}_{handler}`, the tag in snake case (`process-data` + `list` →
/// `process_data_list`). A handler already named after its tag keeps its name (`dashboard`, `trace_serial`), so
/// no id stutters. A pure function of tag and handler name: stable whatever order the routes are registered in.
pub fn operation_id(tag: &str, handler: &str) -> String {
    let tag: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if handler == tag || handler.starts_with(&format!("{tag}_")) {
        handler.to_string()
    } else {
        format!("{tag}_{handler}")
    }
}

/// The operations of a path item with their HTTP method, in a fixed order.
fn operations(item: &mut utoipa::openapi::PathItem) -> [(&'static str, &mut Option<Operation>); 8] {
    [
        ("GET", &mut item.get),
        ("PUT", &mut item.put),
        ("POST", &mut item.post),
        ("DELETE", &mut item.delete),
        ("OPTIONS", &mut item.options),
        ("HEAD", &mut item.head),
        ("PATCH", &mut item.patch),
        ("TRACE", &mut item.trace),
    ]
}

/// Post-process the assembled document (see the module doc). Panics, naming the operations, when two operations
/// would get the same id or one has no tag: the document is static, so every test that starts the server fails
/// before such a document could ship.
pub fn finish(doc: &mut utoipa::openapi::OpenApi) {
    let global_security = doc.security.clone().unwrap_or_default();
    let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut untagged = Vec::new();
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in operations(item) {
            let Some(op) = op.as_mut() else { continue };
            let name = format!("{method} {path}");
            let tag = op.tags.as_ref().and_then(|t| t.first()).cloned();
            let handler = op.operation_id.clone().unwrap_or_default();
            match tag {
                Some(tag) if !handler.is_empty() => {
                    let id = operation_id(&tag, &handler);
                    op.operation_id = Some(id.clone());
                    ids.entry(id).or_default().push(name);
                }
                _ => untagged.push(name),
            }
            let security = op.security.as_ref().unwrap_or(&global_security);
            let secured = security
                .iter()
                .any(|r| *r != SecurityRequirement::default());
            let responses = &mut op.responses.responses;
            if secured {
                responses.entry("401".into()).or_insert_with(|| {
                    RefOr::T(problem_response(
                        "MISSING_TOKEN, INVALID_TOKEN or TOKEN_EXPIRED: no, malformed or expired access token",
                    ))
                });
            }
            if let Some(roles) = restricted_to(method, path) {
                let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                let description = format!(
                    "FORBIDDEN: only {} may call this operation",
                    allowed.join(", ")
                );
                match responses.get_mut("403") {
                    Some(RefOr::T(r)) => r.description = description,
                    _ => {
                        responses.insert("403".into(), RefOr::T(problem_response(&description)));
                    }
                }
            }
            for (status, response) in responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                if status.starts_with('4') || status.starts_with('5') {
                    make_problem_json(response);
                }
                if status == "401" {
                    response
                        .headers
                        .entry("WWW-Authenticate".into())
                        .or_insert_with(|| {
                            HeaderBuilder::new()
                                .schema(ObjectBuilder::new().schema_type(Type::String))
                                .description(Some("`Bearer`"))
                                .build()
                        });
                }
            }
        }
    }
    let duplicates: Vec<String> = ids
        .iter()
        .filter(|(_, ops)| ops.len() > 1)
        .map(|(id, ops)| format!("{id}: {}", ops.join(", ")))
        .collect();
    assert!(
        duplicates.is_empty() && untagged.is_empty(),
        "OpenAPI operation ids must be unique and every operation needs a tag and a handler; duplicates: \
         {duplicates:?}; untagged: {untagged:?}"
    );
}

fn problem_content() -> Content {
    Content::new(Some(Ref::from_schema_name("Problem")))
}

fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, problem_content())
        .build()
}

/// An error response documented as `application/json` (utoipa's default for `body = Problem`) or without a body
/// becomes `application/problem+json` with the `Problem` schema, which is what [`neurohub_core::ApiError`] sends.
/// A response with another schema is left alone: it is a deliberate non-problem body (`GET /health` answers 503
/// with the health report), and the contract test lists each such exception by name.
fn make_problem_json(response: &mut Response) {
    let problem_ref = Ref::from_schema_name("Problem").ref_location;
    let all_problem = response.content.values().all(|c| match &c.schema {
        Some(RefOr::Ref(r)) => r.ref_location == problem_ref,
        None => true,
        _ => false,
    });
    if !all_problem {
        return;
    }
    let mut content = response
        .content
        .swap_remove(PROBLEM_JSON)
        .or_else(|| response.content.values().next().cloned())
        .unwrap_or_else(problem_content);
    content.schema = Some(Ref::from_schema_name("Problem").into());
    response.content.clear();
    response.content.insert(PROBLEM_JSON.to_string(), content);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_prefix_the_tag_once() {
        assert_eq!(operation_id("lots", "list"), "lots_list");
        assert_eq!(
            operation_id("process-data", "get_one"),
            "process_data_get_one"
        );
        assert_eq!(operation_id("dashboard", "dashboard"), "dashboard");
        assert_eq!(operation_id("trace", "trace_serial"), "trace_serial");
        assert_eq!(
            operation_id("Product Models", "create"),
            "product_models_create"
        );
        // Applying it twice changes nothing, so a document finished twice keeps its ids.
        assert_eq!(
            operation_id("lots", &operation_id("lots", "list")),
            "lots_list"
        );
    }

    #[test]
    fn every_role_restriction_names_a_documented_operation() {
        let (_, mut doc) = crate::api();
        let mut documented = Vec::new();
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in operations(item) {
                if op.is_some() {
                    documented.push((method, path.clone()));
                }
            }
        }
        for (m, p, roles) in ROLE_RESTRICTED {
            assert!(
                documented.iter().any(|(dm, dp)| dm == m && dp == p),
                "{m} {p} is not an operation"
            );
            assert!(
                roles.len() < Role::ALL.len(),
                "{m} {p}: a policy open to every role cannot answer 403"
            );
        }
    }

    #[test]
    fn duplicate_operation_ids_are_refused() {
        let (_, mut doc) = crate::api();
        // Two handlers named alike under one tag (as `list` in two modules of one tag would be).
        let item = doc.paths.paths.get_mut("/api/v1/lots").unwrap().clone();
        doc.paths.paths.insert("/api/v1/lots-copy".into(), item);
        let err = std::panic::catch_unwind(move || finish(&mut doc)).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(
            msg.contains("lots_list: GET /api/v1/lots, GET /api/v1/lots-copy"),
            "{msg}"
        );
    }

    #[test]
    fn error_responses_become_problem_json_and_other_bodies_stay() {
        let mut r = ResponseBuilder::new()
            .description("x")
            .content("application/json", problem_content())
            .build();
        make_problem_json(&mut r);
        assert_eq!(r.content.keys().collect::<Vec<_>>(), [PROBLEM_JSON]);
        let mut empty = ResponseBuilder::new().description("x").build();
        make_problem_json(&mut empty);
        assert_eq!(empty.content.keys().collect::<Vec<_>>(), [PROBLEM_JSON]);
        let mut health = ResponseBuilder::new()
            .description("degraded")
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("Health"))),
            )
            .build();
        make_problem_json(&mut health);
        assert_eq!(
            health.content.keys().collect::<Vec<_>>(),
            ["application/json"]
        );
    }
}
