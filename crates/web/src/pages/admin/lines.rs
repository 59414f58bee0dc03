//! Production lines: the list, a create form (country, line number, name, active) and an edit form (name,
//! active), over `/api/v1/production-lines`. Writes are the MANAGE roles'.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::{html, Markup};
use serde_json::{json, Value};

use super::{
    check, checked, field, items, next_link, problem, query, val, when, with_status, yes_no,
    Fields, Vals,
};
use crate::i18n::t;
use crate::layout::{self, csrf_field, Nav};
use crate::session::Session;
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/admin/lines", get(list).post(create))
        .route("/ui/admin/lines/{id}", get(edit).post(update))
}

fn form(s: &Session, action: &str, v: &Vals, new: bool) -> Markup {
    let lang = s.lang;
    html! {
        form method="post" action=(action) class="stack narrow" id=(if new { "new-line" } else { "edit-line" }) {
            (csrf_field(s))
            @if new {
                (field("country_code", t(lang, "lines.country"), html! { input id="country_code" name="country_code" required maxlength="2" autocomplete="off" value=(v.get("country_code")); }))
                (field("line_code", t(lang, "lines.line_code"), html! { input id="line_code" name="line_code" required maxlength="2" inputmode="numeric" autocomplete="off" value=(v.get("line_code")); }))
            }
            (field("name", t(lang, "admin.name"), html! { input id="name" name="name" required maxlength="100" value=(v.get("name")); }))
            (check("is_active", t(lang, "admin.active"), v.on("is_active", true)))
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
            &format!("/api/v1/production-lines{}", query(&[("cursor", cursor)])),
        )
        .await;
    let empty = Value::Null;
    let can_edit = web.may(s, "PATCH", "/api/v1/production-lines/{id}");
    let body = html! {
        @if let Some(f) = feedback { (f) }
        @if !r.ok() { (problem(&r)) } @else {
            table class="data" id="lines" {
                caption { (t(lang, "admin.lines")) }
                thead { tr {
                    th scope="col" { (t(lang, "admin.code")) }
                    th scope="col" { (t(lang, "admin.name")) }
                    th scope="col" { (t(lang, "admin.active")) }
                    th scope="col" { (t(lang, "admin.updated")) }
                } }
                tbody {
                    @for l in items(&r) {
                        @let code = format!("{}{}", l["country_code"].as_str().unwrap_or(""), l["line_code"].as_str().unwrap_or(""));
                        tr {
                            td { @if can_edit { a href=(format!("/ui/admin/lines/{}", l["id"])) { (code) } } @else { (code) } }
                            td { (l["name"].as_str().unwrap_or("")) }
                            td { (yes_no(lang, &l["is_active"])) }
                            td { (when(&l["updated_at"])) }
                        }
                    }
                }
            }
            (next_link(lang, "/ui/admin/lines", &[], &r.body))
        }
        @if web.may(s, "POST", "/api/v1/production-lines") {
            section aria-labelledby="new-h" {
                h2 id="new-h" { (t(lang, "lines.new")) }
                (form(s, "/ui/admin/lines", &Vals { kept, obj: &empty }, true))
            }
        } @else {
            p class="hint" { (t(lang, "admin.read_only")) }
        }
    };
    layout::page(web, s, Nav::Admin, t(lang, "admin.lines"), body)
}

async fn list(State(web): State<WebState>, s: Session, Query(q): Query<Fields>) -> Response {
    let feedback = (val(&q, "created") == "1").then(|| layout::success(t(s.lang, "admin.created")));
    render_list(&web, &s, val(&q, "cursor"), feedback, None).await
}

async fn create(State(web): State<WebState>, s: Session, Form(f): Form<Fields>) -> Response {
    let body = json!({
        "country_code": val(&f, "country_code"),
        "line_code": val(&f, "line_code"),
        "name": val(&f, "name"),
        "is_active": checked(&f, "is_active"),
    });
    let r = web
        .api
        .call(
            &s.cx,
            Method::POST,
            "/api/v1/production-lines",
            Some(&body),
            None,
        )
        .await;
    if r.ok() {
        return Redirect::to("/ui/admin/lines?created=1").into_response();
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
        .get(&s.cx, &format!("/api/v1/production-lines/{id}"))
        .await;
    if !r.ok() {
        return with_status(
            layout::page(web, s, Nav::Admin, t(lang, "admin.lines"), problem(&r)),
            r.status,
        );
    }
    let title = format!(
        "{} · {}{}",
        t(lang, "lines.edit"),
        r.body["country_code"].as_str().unwrap_or(""),
        r.body["line_code"].as_str().unwrap_or("")
    );
    let body = html! {
        p { a href="/ui/admin/lines" { (t(lang, "common.back")) } }
        @if let Some(f) = feedback { (f) }
        (form(s, &format!("/ui/admin/lines/{id}"), &Vals { kept, obj: &r.body }, false))
    };
    layout::page(web, s, Nav::Admin, &title, body)
}

async fn edit(
    State(web): State<WebState>,
    s: Session,
    Path(id): Path<i64>,
    Query(q): Query<Fields>,
) -> Response {
    if !web.may(&s, "PATCH", "/api/v1/production-lines/{id}") {
        return super::forbidden(&web, &s, "PATCH", "/api/v1/production-lines/{id}");
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
    let body = json!({ "name": val(&f, "name"), "is_active": checked(&f, "is_active") });
    let r = web
        .api
        .call(
            &s.cx,
            Method::PATCH,
            &format!("/api/v1/production-lines/{id}"),
            Some(&body),
            None,
        )
        .await;
    if r.ok() {
        return Redirect::to(&format!("/ui/admin/lines/{id}?saved=1")).into_response();
    }
    with_status(
        render_edit(&web, &s, id, Some(problem(&r)), Some(&f)).await,
        r.status,
    )
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("lines.new", "New production line", "새 생산 라인"),
    ("lines.edit", "Edit production line", "생산 라인 편집"),
    (
        "lines.country",
        "Country code (2 letters, e.g. KR)",
        "국가 코드 (2글자, 예: KR)",
    ),
    (
        "lines.line_code",
        "Line number (2 digits, e.g. 01)",
        "라인 번호 (2자리, 예: 01)",
    ),
];
