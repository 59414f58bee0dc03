//! Product models: the list, a create form (code, name, category, status, specifications as JSON) and an edit
//! form, over `/api/v1/product-models`. Writes are the MANAGE roles' (the forms show for them only).

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::{html, Markup};
use serde_json::{json, Value};

use super::{
    field, items, next_link, problem, query, text_or_null, val, when, with_status, Fields, Vals,
};
use crate::i18n::t;
use crate::layout::{self, csrf_field, Nav};
use crate::session::Session;
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/admin/models", get(list).post(create))
        .route("/ui/admin/models/{id}", get(edit).post(update))
}

const STATUSES: [&str; 3] = ["ACTIVE", "INACTIVE", "DISCONTINUED"];

fn status_select(current: &str) -> Markup {
    html! { select id="status" name="status" { @for st in STATUSES { option value=(st) selected[current == st] { (st) } } } }
}

/// The specifications field: JSON as typed (the API says whether it is an object); empty is `{}`.
fn specs(v: &str) -> Value {
    if v.is_empty() {
        return json!({});
    }
    serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()))
}

fn specs_text(v: &Vals) -> String {
    match v.kept {
        Some(k) => val(k, "specifications").to_string(),
        None if v.obj["specifications"].is_object() => {
            serde_json::to_string_pretty(&v.obj["specifications"]).unwrap_or_default()
        }
        None => String::new(),
    }
}

fn form(s: &Session, action: &str, v: &Vals, new: bool) -> Markup {
    let lang = s.lang;
    let status = v.get("status");
    html! {
        form method="post" action=(action) class="stack narrow" id=(if new { "new-model" } else { "edit-model" }) {
            (csrf_field(s))
            @if new {
                (field("model_code", t(lang, "models.code"), html! { input id="model_code" name="model_code" required maxlength="3" autocomplete="off" aria-describedby="model_code-hint" value=(v.get("model_code")); }))
                p id="model_code-hint" class="hint" { (t(lang, "models.code_hint")) }
            }
            (field("model_name", t(lang, "admin.name"), html! { input id="model_name" name="model_name" required maxlength="100" value=(v.get("model_name")); }))
            (field("category", t(lang, "models.category"), html! { input id="category" name="category" maxlength="50" value=(v.get("category")); }))
            (field("status", t(lang, "common.status"), status_select(if status.is_empty() { "ACTIVE" } else { &status })))
            (field("specifications", t(lang, "models.specifications"), html! { textarea id="specifications" name="specifications" rows="4" { (specs_text(v)) } }))
            button type="submit" class="primary" { (t(lang, if new { "admin.create" } else { "common.save" })) }
        }
    }
}

async fn render_list(
    web: &WebState,
    s: &Session,
    cursor: &str,
    feedback: Option<Markup>,
    kept: Option<&[(String, String)]>,
) -> Response {
    let lang = s.lang;
    let r = web
        .api
        .get(
            &s.cx,
            &format!("/api/v1/product-models{}", query(&[("cursor", cursor)])),
        )
        .await;
    let can_write = web.may(s, "POST", "/api/v1/product-models");
    let empty = Value::Null;
    let body = html! {
        @if let Some(f) = feedback { (f) }
        @if !r.ok() { (problem(&r)) } @else {
            table class="data" id="models" {
                caption { (t(lang, "admin.models")) }
                thead { tr {
                    th scope="col" { (t(lang, "models.code")) }
                    th scope="col" { (t(lang, "admin.name")) }
                    th scope="col" { (t(lang, "models.category")) }
                    th scope="col" { (t(lang, "common.status")) }
                    th scope="col" { (t(lang, "admin.updated")) }
                } }
                tbody {
                    @for m in items(&r) {
                        tr {
                            td {
                                @if web.may(s, "PATCH", "/api/v1/product-models/{id}") {
                                    a href=(format!("/ui/admin/models/{}", m["id"])) { (m["model_code"].as_str().unwrap_or("")) }
                                } @else { (m["model_code"].as_str().unwrap_or("")) }
                            }
                            td { (m["model_name"].as_str().unwrap_or("")) }
                            td { (m["category"].as_str().unwrap_or("")) }
                            td { (m["status"].as_str().unwrap_or("")) }
                            td { (when(&m["updated_at"])) }
                        }
                    }
                }
            }
            (next_link(lang, "/ui/admin/models", &[], &r.body))
        }
        @if can_write {
            section aria-labelledby="new-h" {
                h2 id="new-h" { (t(lang, "models.new")) }
                (form(s, "/ui/admin/models", &Vals { kept, obj: &empty }, true))
            }
        } @else {
            p class="hint" { (t(lang, "admin.read_only")) }
        }
    };
    layout::page(web, s, Nav::Admin, t(lang, "admin.models"), body)
}

async fn list(State(web): State<WebState>, s: Session, Query(q): Query<Fields>) -> Response {
    let feedback = (val(&q, "created") == "1").then(|| layout::success(t(s.lang, "admin.created")));
    render_list(&web, &s, val(&q, "cursor"), feedback, None).await
}

async fn create(State(web): State<WebState>, s: Session, Form(f): Form<Fields>) -> Response {
    let body = json!({
        "model_code": val(&f, "model_code"),
        "model_name": val(&f, "model_name"),
        "category": text_or_null(val(&f, "category")),
        "status": val(&f, "status"),
        "specifications": specs(val(&f, "specifications")),
    });
    let r = web
        .api
        .call(
            &s.cx,
            Method::POST,
            "/api/v1/product-models",
            Some(&body),
            None,
        )
        .await;
    if r.ok() {
        return Redirect::to("/ui/admin/models?created=1").into_response();
    }
    with_status(
        render_list(&web, &s, "", Some(problem(&r)), Some(&f)).await,
        r.status,
    )
}

async fn render_edit(
    web: &WebState,
    s: &Session,
    id: i64,
    feedback: Option<Markup>,
    kept: Option<&[(String, String)]>,
) -> Response {
    let lang = s.lang;
    let r = web
        .api
        .get(&s.cx, &format!("/api/v1/product-models/{id}"))
        .await;
    if !r.ok() {
        return with_status(
            layout::page(web, s, Nav::Admin, t(lang, "admin.models"), problem(&r)),
            r.status,
        );
    }
    let title = format!(
        "{} · {}",
        t(lang, "models.edit"),
        r.body["model_code"].as_str().unwrap_or("")
    );
    let body = html! {
        p { a href="/ui/admin/models" { (t(lang, "common.back")) } }
        @if let Some(f) = feedback { (f) }
        (form(s, &format!("/ui/admin/models/{id}"), &Vals { kept, obj: &r.body }, false))
    };
    layout::page(web, s, Nav::Admin, &title, body)
}

async fn edit(
    State(web): State<WebState>,
    s: Session,
    Path(id): Path<i64>,
    Query(q): Query<Fields>,
) -> Response {
    if !web.may(&s, "PATCH", "/api/v1/product-models/{id}") {
        return super::forbidden(&web, &s, "PATCH", "/api/v1/product-models/{id}");
    }
    let feedback = (val(&q, "saved") == "1").then(|| layout::success(t(s.lang, "admin.saved")));
    render_edit(&web, &s, id, feedback, None).await
}

async fn update(
    State(web): State<WebState>,
    s: Session,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Response {
    let body = json!({
        "model_name": val(&f, "model_name"),
        "category": text_or_null(val(&f, "category")),
        "status": val(&f, "status"),
        "specifications": specs(val(&f, "specifications")),
    });
    let r = web
        .api
        .call(
            &s.cx,
            Method::PATCH,
            &format!("/api/v1/product-models/{id}"),
            Some(&body),
            None,
        )
        .await;
    if r.ok() {
        return Redirect::to(&format!("/ui/admin/models/{id}?saved=1")).into_response();
    }
    with_status(
        render_edit(&web, &s, id, Some(problem(&r)), Some(&f)).await,
        r.status,
    )
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("models.new", "New product model", "새 제품 모델"),
    ("models.edit", "Edit product model", "제품 모델 편집"),
    ("models.code", "Model code", "모델 코드"),
    (
        "models.code_hint",
        "3 characters, A-Z and 0-9; part of every lot number.",
        "A-Z, 0-9 3자. 모든 LOT 번호에 들어갑니다.",
    ),
    ("models.category", "Category", "분류"),
    (
        "models.specifications",
        "Specifications (JSON object)",
        "사양 (JSON 객체)",
    ),
];
