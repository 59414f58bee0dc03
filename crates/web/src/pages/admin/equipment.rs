//! Equipment: the list (filtered by status, process, line), a create form and an edit form over
//! `/api/v1/equipment`. Writes are the MANAGE roles'. The calibration time is typed in UTC.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::{html, Markup};
use serde_json::{json, Value};

use super::{
    check, checked, field, items, next_link, number_or_text, problem, query, text_or_null, val,
    when, with_status, yes_no, Fields, Vals,
};
use crate::i18n::t;
use crate::layout::{self, csrf_field, Nav};
use crate::pages::station::process_name;
use crate::session::Session;
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/admin/equipment", get(list).post(create))
        .route("/ui/admin/equipment/{id}", get(edit).post(update))
}

const STATUSES: [&str; 4] = ["AVAILABLE", "IN_USE", "MAINTENANCE", "OUT_OF_SERVICE"];

/// The processes and lines the selects offer (two reads).
struct Choices {
    processes: Vec<Value>,
    lines: Vec<Value>,
}

async fn choices(web: &WebState, s: &Session) -> Choices {
    let (p, l) = tokio::join!(
        web.api.get(&s.cx, "/api/v1/processes"),
        web.api.get(&s.cx, "/api/v1/production-lines?limit=500"),
    );
    Choices {
        processes: items(&p),
        lines: items(&l),
    }
}

/// Whether a form value names the record id `id`.
fn same_id(v: &str, id: &Value) -> bool {
    id.as_i64().is_some_and(|i| v.parse::<i64>() == Ok(i))
}

fn line_name(l: &Value) -> String {
    format!(
        "{}{} {}",
        l["country_code"].as_str().unwrap_or(""),
        l["line_code"].as_str().unwrap_or(""),
        l["name"].as_str().unwrap_or("")
    )
}

/// `last_calibrated_at` as a `datetime-local` value (UTC, minutes).
fn calibrated_value(v: &Vals) -> String {
    match v.kept {
        Some(k) => val(k, "last_calibrated_at").to_string(),
        None => v.obj["last_calibrated_at"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|d| {
                d.with_timezone(&chrono::Utc)
                    .format("%Y-%m-%dT%H:%M")
                    .to_string()
            })
            .unwrap_or_default(),
    }
}

/// A `datetime-local` value (UTC) as RFC 3339; anything else as typed (the API names the field).
fn calibrated(v: &str) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    match chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M") {
        Ok(n) => json!(n.and_utc().to_rfc3339()),
        Err(_) => json!(v),
    }
}

fn form(s: &Session, c: &Choices, action: &str, v: &Vals, new: bool) -> Markup {
    let lang = s.lang;
    let status = v.get("status");
    let status = if status.is_empty() {
        "AVAILABLE".to_string()
    } else {
        status
    };
    let process = v.get("process_id");
    let line = v.get("production_line_id");
    html! {
        form method="post" action=(action) class="stack narrow" id=(if new { "new-equipment" } else { "edit-equipment" }) {
            (csrf_field(s))
            @if new {
                (field("equipment_code", t(lang, "equipment.code"), html! { input id="equipment_code" name="equipment_code" required maxlength="50" autocomplete="off" value=(v.get("equipment_code")); }))
            }
            (field("name", t(lang, "admin.name"), html! { input id="name" name="name" required maxlength="100" value=(v.get("name")); }))
            (field("equipment_type", t(lang, "equipment.type"), html! { input id="equipment_type" name="equipment_type" maxlength="50" value=(v.get("equipment_type")); }))
            (field("process_id", t(lang, "equipment.process"), html! {
                select id="process_id" name="process_id" {
                    option value="" { (t(lang, "equipment.none")) }
                    @for p in &c.processes { option value=(p["id"]) selected[same_id(&process, &p["id"])] { (process_name(lang, p)) } }
                }
            }))
            (field("production_line_id", t(lang, "equipment.line"), html! {
                select id="production_line_id" name="production_line_id" {
                    option value="" { (t(lang, "equipment.none")) }
                    @for l in &c.lines { option value=(l["id"]) selected[same_id(&line, &l["id"])] { (line_name(l)) } }
                }
            }))
            (field("status", t(lang, "common.status"), html! {
                select id="status" name="status" { @for st in STATUSES { option value=(st) selected[status == st] { (st) } } }
            }))
            (field("last_calibrated_at", t(lang, "equipment.calibrated"), html! { input id="last_calibrated_at" name="last_calibrated_at" type="datetime-local" value=(calibrated_value(v)); }))
            (check("is_active", t(lang, "admin.active"), v.on("is_active", true)))
            button type="submit" class="primary" { (t(lang, if new { "admin.create" } else { "common.save" })) }
        }
    }
}

async fn render_list(
    web: &WebState,
    s: &Session,
    q: &[(String, String)],
    feedback: Option<Markup>,
    kept: Option<&[(String, String)]>,
) -> Response {
    let lang = s.lang;
    let filters = [
        ("status", val(q, "status")),
        ("process_id", val(q, "process_id")),
        ("production_line_id", val(q, "production_line_id")),
    ];
    let mut params = filters.to_vec();
    params.push(("cursor", val(q, "cursor")));
    let path = format!("/api/v1/equipment{}", query(&params));
    let (r, c) = tokio::join!(web.api.get(&s.cx, &path), choices(web, s));
    let empty = Value::Null;
    let can_edit = web.may(s, "PATCH", "/api/v1/equipment/{id}");
    let pname = |id: &Value| {
        c.processes
            .iter()
            .find(|p| &p["id"] == id)
            .map(|p| process_name(lang, p))
            .unwrap_or_default()
    };
    let lname = |id: &Value| {
        c.lines
            .iter()
            .find(|l| &l["id"] == id)
            .map(line_name)
            .unwrap_or_default()
    };
    let body = html! {
        @if let Some(f) = feedback { (f) }
        form method="get" action="/ui/admin/equipment" class="filters" role="search" {
            (field("f-status", t(lang, "common.status"), html! {
                select id="f-status" name="status" {
                    option value="" { (t(lang, "users.any")) }
                    @for st in STATUSES { option value=(st) selected[val(q, "status") == st] { (st) } }
                }
            }))
            (field("f-process", t(lang, "equipment.process"), html! {
                select id="f-process" name="process_id" {
                    option value="" { (t(lang, "users.any")) }
                    @for p in &c.processes { option value=(p["id"]) selected[same_id(val(q, "process_id"), &p["id"])] { (process_name(lang, p)) } }
                }
            }))
            (field("f-line", t(lang, "equipment.line"), html! {
                select id="f-line" name="production_line_id" {
                    option value="" { (t(lang, "users.any")) }
                    @for l in &c.lines { option value=(l["id"]) selected[same_id(val(q, "production_line_id"), &l["id"])] { (line_name(l)) } }
                }
            }))
            div { button type="submit" { (t(lang, "common.search")) } }
        }
        @if !r.ok() { (problem(&r)) } @else {
            table class="data" id="equipment" {
                caption { (t(lang, "admin.equipment")) }
                thead { tr {
                    th scope="col" { (t(lang, "equipment.code")) }
                    th scope="col" { (t(lang, "admin.name")) }
                    th scope="col" { (t(lang, "equipment.type")) }
                    th scope="col" { (t(lang, "equipment.process")) }
                    th scope="col" { (t(lang, "equipment.line")) }
                    th scope="col" { (t(lang, "common.status")) }
                    th scope="col" { (t(lang, "admin.active")) }
                    th scope="col" { (t(lang, "equipment.calibrated")) }
                } }
                tbody {
                    @for e in items(&r) {
                        @let code = e["equipment_code"].as_str().unwrap_or("");
                        tr {
                            td { @if can_edit { a href=(format!("/ui/admin/equipment/{}", e["id"])) { (code) } } @else { (code) } }
                            td { (e["name"].as_str().unwrap_or("")) }
                            td { (e["equipment_type"].as_str().unwrap_or("")) }
                            td { (pname(&e["process_id"])) }
                            td { (lname(&e["production_line_id"])) }
                            td { (e["status"].as_str().unwrap_or("")) }
                            td { (yes_no(lang, &e["is_active"])) }
                            td { (when(&e["last_calibrated_at"])) }
                        }
                    }
                }
            }
            (next_link(lang, "/ui/admin/equipment", &filters, &r.body))
        }
        @if web.may(s, "POST", "/api/v1/equipment") {
            section aria-labelledby="new-h" {
                h2 id="new-h" { (t(lang, "equipment.new")) }
                (form(s, &c, "/ui/admin/equipment", &Vals { kept, obj: &empty }, true))
            }
        } @else {
            p class="hint" { (t(lang, "admin.read_only")) }
        }
    };
    layout::page(web, s, Nav::Admin, t(lang, "admin.equipment"), body)
}

async fn list(State(web): State<WebState>, s: Session, Query(q): Query<Fields>) -> Response {
    let feedback = (val(&q, "created") == "1").then(|| layout::success(t(s.lang, "admin.created")));
    render_list(&web, &s, &q, feedback, None).await
}

fn body_of(f: &[(String, String)], new: bool) -> Value {
    let mut body = json!({
        "name": val(f, "name"),
        "equipment_type": text_or_null(val(f, "equipment_type")),
        "process_id": number_or_text(val(f, "process_id")),
        "production_line_id": number_or_text(val(f, "production_line_id")),
        "status": val(f, "status"),
        "is_active": checked(f, "is_active"),
        "last_calibrated_at": calibrated(val(f, "last_calibrated_at")),
    });
    if new {
        body["equipment_code"] = json!(val(f, "equipment_code"));
    }
    body
}

async fn create(State(web): State<WebState>, s: Session, Form(f): Form<Fields>) -> Response {
    let r = web
        .api
        .call(
            &s.cx,
            Method::POST,
            "/api/v1/equipment",
            Some(&body_of(&f, true)),
            None,
        )
        .await;
    if r.ok() {
        return Redirect::to("/ui/admin/equipment?created=1").into_response();
    }
    with_status(
        render_list(&web, &s, &[], Some(problem(&r)), Some(&f)).await,
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
    let path = format!("/api/v1/equipment/{id}");
    let (r, c) = tokio::join!(web.api.get(&s.cx, &path), choices(web, s));
    if !r.ok() {
        return with_status(
            layout::page(web, s, Nav::Admin, t(lang, "admin.equipment"), problem(&r)),
            r.status,
        );
    }
    let title = format!(
        "{} · {}",
        t(lang, "equipment.edit"),
        r.body["equipment_code"].as_str().unwrap_or("")
    );
    let body = html! {
        p { a href="/ui/admin/equipment" { (t(lang, "common.back")) } }
        @if let Some(f) = feedback { (f) }
        (form(s, &c, &format!("/ui/admin/equipment/{id}"), &Vals { kept, obj: &r.body }, false))
    };
    layout::page(web, s, Nav::Admin, &title, body)
}

async fn edit(
    State(web): State<WebState>,
    s: Session,
    Path(id): Path<i64>,
    Query(q): Query<Fields>,
) -> Response {
    if !web.may(&s, "PATCH", "/api/v1/equipment/{id}") {
        return super::forbidden(&web, &s, "PATCH", "/api/v1/equipment/{id}");
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
    let r = web
        .api
        .call(
            &s.cx,
            Method::PATCH,
            &format!("/api/v1/equipment/{id}"),
            Some(&body_of(&f, false)),
            None,
        )
        .await;
    if r.ok() {
        return Redirect::to(&format!("/ui/admin/equipment/{id}?saved=1")).into_response();
    }
    with_status(
        render_edit(&web, &s, id, Some(problem(&r)), Some(&f)).await,
        r.status,
    )
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("equipment.new", "New equipment", "새 설비"),
    ("equipment.edit", "Edit equipment", "설비 편집"),
    ("equipment.code", "Equipment code", "설비 코드"),
    ("equipment.type", "Type", "유형"),
    ("equipment.process", "Process", "공정"),
    ("equipment.line", "Production line", "생산 라인"),
    ("equipment.none", "None", "없음"),
    (
        "equipment.calibrated",
        "Last calibrated (UTC)",
        "마지막 교정 (UTC)",
    ),
];
