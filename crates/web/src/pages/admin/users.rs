//! Users and roles (ADMIN only, by the API's role table): the list with keyset paging and filters, the create
//! form, and the edit form (role, active, department, password reset) over `GET/POST/PATCH /api/v1/users[/{id}]`.
//! The API's refusals (`CANNOT_DEMOTE_SELF`, a duplicate username, a short password) are shown verbatim with
//! the form's values kept.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::{html, Markup};
use serde_json::{json, Value};

use super::{
    check, field, forbidden, items, next_link, problem, query, text_or_null, val, when,
    with_status, yes_no, Fields, Vals,
};
use crate::i18n::t;
use crate::layout::{self, csrf_field, role_key, Nav};
use crate::session::Session;
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/admin/users", get(list).post(create))
        .route("/ui/admin/users/{id}", get(edit).post(update))
}

const ROLES: [&str; 4] = ["ADMIN", "MANAGER", "OPERATOR", "VIEWER"];

fn role_select(s: &Session, id: &str, current: &str) -> Markup {
    html! {
        select id=(id) name="role" required {
            @for r in ROLES {
                option value=(r) selected[current == r] { (t(s.lang, role_key(neurohub_core::auth::Role::parse(r).expect("role")))) " (" (r) ")" }
            }
        }
    }
}

fn create_form(s: &Session, kept: Option<&[(String, String)]>) -> Markup {
    let lang = s.lang;
    let empty = Value::Null;
    let v = Vals { kept, obj: &empty };
    let role = v.get("role");
    html! {
        section aria-labelledby="new-user-h" {
            h2 id="new-user-h" { (t(lang, "users.new")) }
            form method="post" action="/ui/admin/users" class="stack narrow" id="new-user" {
                (csrf_field(s))
                (field("username", t(lang, "users.username"), html! { input id="username" name="username" required maxlength="50" autocomplete="off" value=(v.get("username")); }))
                (field("full_name", t(lang, "users.full_name"), html! { input id="full_name" name="full_name" required maxlength="100" autocomplete="off" value=(v.get("full_name")); }))
                (field("email", t(lang, "users.email"), html! { input id="email" name="email" type="email" maxlength="255" autocomplete="off" value=(v.get("email")); }))
                (field("role", t(lang, "users.role"), role_select(s, "role", if role.is_empty() { "OPERATOR" } else { &role })))
                (field("department", t(lang, "users.department"), html! { input id="department" name="department" maxlength="100" value=(v.get("department")); }))
                (field("password", t(lang, "users.password"), html! { input id="password" name="password" type="password" required autocomplete="new-password" aria-describedby="password-hint"; }))
                p id="password-hint" class="hint" { (t(lang, "users.password_hint")) }
                button type="submit" class="primary" { (t(lang, "users.create")) }
            }
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
        ("q", val(q, "q")),
        ("role", val(q, "role")),
        ("is_active", val(q, "is_active")),
    ];
    let mut params = filters.to_vec();
    params.push(("cursor", val(q, "cursor")));
    let r = web
        .api
        .get(&s.cx, &format!("/api/v1/users{}", query(&params)))
        .await;
    let body = html! {
        @if let Some(f) = feedback { (f) }
        form method="get" action="/ui/admin/users" class="filters" role="search" {
            (field("f-q", t(lang, "users.search"), html! { input id="f-q" name="q" value=(val(q, "q")); }))
            (field("f-role", t(lang, "users.role"), html! {
                select id="f-role" name="role" {
                    option value="" { (t(lang, "users.any")) }
                    @for role in ROLES { option value=(role) selected[val(q, "role") == role] { (role) } }
                }
            }))
            (field("f-active", t(lang, "admin.active"), html! {
                select id="f-active" name="is_active" {
                    option value="" { (t(lang, "users.any")) }
                    option value="true" selected[val(q, "is_active") == "true"] { (t(lang, "admin.yes")) }
                    option value="false" selected[val(q, "is_active") == "false"] { (t(lang, "admin.no")) }
                }
            }))
            div { button type="submit" { (t(lang, "common.search")) } }
        }
        @if !r.ok() {
            (problem(&r))
        } @else {
            table class="data" id="users" {
                caption { (t(lang, "admin.users")) }
                thead { tr {
                    th scope="col" { (t(lang, "users.username")) }
                    th scope="col" { (t(lang, "users.full_name")) }
                    th scope="col" { (t(lang, "users.email")) }
                    th scope="col" { (t(lang, "users.role")) }
                    th scope="col" { (t(lang, "users.department")) }
                    th scope="col" { (t(lang, "admin.active")) }
                    th scope="col" { (t(lang, "users.last_login")) }
                } }
                tbody {
                    @for u in items(&r) {
                        tr {
                            td { a href=(format!("/ui/admin/users/{}", u["id"])) { (u["username"].as_str().unwrap_or("")) } }
                            td { (u["full_name"].as_str().unwrap_or("")) }
                            td { (u["email"].as_str().unwrap_or("")) }
                            td { (u["role"].as_str().unwrap_or("")) }
                            td { (u["department"].as_str().unwrap_or("")) }
                            td { (yes_no(lang, &u["is_active"])) }
                            td { (when(&u["last_login_at"])) }
                        }
                    }
                }
            }
            (next_link(lang, "/ui/admin/users", &filters, &r.body))
        }
        (create_form(s, kept))
    };
    layout::page(web, s, Nav::Admin, t(lang, "admin.users"), body)
}

async fn list(State(web): State<WebState>, s: Session, Query(q): Query<Fields>) -> Response {
    if !web.may(&s, "GET", "/api/v1/users") {
        return forbidden(&web, &s, "GET", "/api/v1/users");
    }
    render_list(&web, &s, &q, None, None).await
}

async fn create(State(web): State<WebState>, s: Session, Form(f): Form<Fields>) -> Response {
    let body = json!({
        "username": val(&f, "username"),
        "full_name": val(&f, "full_name"),
        "email": text_or_null(val(&f, "email")),
        "role": val(&f, "role"),
        "department": text_or_null(val(&f, "department")),
        "password": f.iter().find(|(k, _)| k == "password").map(|(_, v)| v.as_str()).unwrap_or(""),
    });
    let r = web
        .api
        .call(&s.cx, Method::POST, "/api/v1/users", Some(&body), None)
        .await;
    if r.ok() {
        return Redirect::to(&format!("/ui/admin/users/{}?created=1", r.body["id"]))
            .into_response();
    }
    let kept: Fields = f.into_iter().filter(|(k, _)| k != "password").collect();
    with_status(
        render_list(&web, &s, &[], Some(problem(&r)), Some(&kept)).await,
        r.status,
    )
}

fn edit_form(s: &Session, user: &Value, kept: Option<&[(String, String)]>) -> Markup {
    let lang = s.lang;
    let v = Vals { kept, obj: user };
    html! {
        form method="post" action=(format!("/ui/admin/users/{}", user["id"])) class="stack narrow" id="edit-user" {
            (csrf_field(s))
            (field("full_name", t(lang, "users.full_name"), html! { input id="full_name" name="full_name" required maxlength="100" value=(v.get("full_name")); }))
            (field("email", t(lang, "users.email"), html! { input id="email" name="email" type="email" maxlength="255" value=(v.get("email")); }))
            (field("role", t(lang, "users.role"), role_select(s, "role", &v.get("role"))))
            (field("department", t(lang, "users.department"), html! { input id="department" name="department" maxlength="100" value=(v.get("department")); }))
            (check("is_active", t(lang, "admin.active"), v.on("is_active", true)))
            (field("password", t(lang, "users.new_password"), html! { input id="password" name="password" type="password" autocomplete="new-password" aria-describedby="password-hint"; }))
            p id="password-hint" class="hint" { (t(lang, "users.new_password_hint")) }
            button type="submit" class="primary" id="save" { (t(lang, "common.save")) }
        }
    }
}

async fn render_edit(
    web: &WebState,
    s: &Session,
    id: i64,
    feedback: Option<Markup>,
    kept: Option<&[(String, String)]>,
) -> Response {
    let lang = s.lang;
    let r = web.api.get(&s.cx, &format!("/api/v1/users/{id}")).await;
    if !r.ok() {
        let res = layout::page(web, s, Nav::Admin, t(lang, "admin.users"), problem(&r));
        return with_status(res, r.status);
    }
    let user = &r.body;
    let title = format!(
        "{} · {}",
        t(lang, "users.edit"),
        user["username"].as_str().unwrap_or("")
    );
    let body = html! {
        p { a href="/ui/admin/users" { (t(lang, "common.back")) } }
        @if let Some(f) = feedback { (f) }
        dl class="facts" {
            dt { (t(lang, "users.username")) } dd { (user["username"].as_str().unwrap_or("")) }
            dt { (t(lang, "users.last_login")) } dd { (when(&user["last_login_at"])) }
            dt { (t(lang, "users.failed_logins")) } dd { (user["failed_login_count"]) }
            @if !user["locked_until"].is_null() { dt { (t(lang, "users.locked_until")) } dd { (when(&user["locked_until"])) } }
            dt { (t(lang, "common.created")) } dd { (when(&user["created_at"])) }
        }
        (edit_form(s, user, kept))
    };
    layout::page(web, s, Nav::Admin, &title, body)
}

async fn edit(
    State(web): State<WebState>,
    s: Session,
    Path(id): Path<i64>,
    Query(q): Query<Fields>,
) -> Response {
    if !web.may(&s, "GET", "/api/v1/users/{id}") {
        return forbidden(&web, &s, "GET", "/api/v1/users/{id}");
    }
    let feedback = match (val(&q, "created"), val(&q, "saved")) {
        ("1", _) => Some(layout::success(t(s.lang, "admin.created"))),
        (_, "1") => Some(layout::success(t(s.lang, "admin.saved"))),
        _ => None,
    };
    render_edit(&web, &s, id, feedback, None).await
}

async fn update(
    State(web): State<WebState>,
    s: Session,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Response {
    let mut body = json!({
        "full_name": val(&f, "full_name"),
        "email": text_or_null(val(&f, "email")),
        "role": val(&f, "role"),
        "department": text_or_null(val(&f, "department")),
        "is_active": super::checked(&f, "is_active"),
    });
    let password = f
        .iter()
        .find(|(k, _)| k == "password")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if !password.is_empty() {
        body["password"] = json!(password);
    }
    let r = web
        .api
        .call(
            &s.cx,
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(&body),
            None,
        )
        .await;
    if r.ok() {
        return Redirect::to(&format!("/ui/admin/users/{id}?saved=1")).into_response();
    }
    let kept: Fields = f.into_iter().filter(|(k, _)| k != "password").collect();
    with_status(
        render_edit(&web, &s, id, Some(problem(&r)), Some(&kept)).await,
        r.status,
    )
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("users.new", "New user", "새 사용자"),
    ("users.create", "Create user", "사용자 만들기"),
    ("users.edit", "Edit user", "사용자 편집"),
    ("users.username", "Username", "사용자 이름"),
    ("users.full_name", "Full name", "이름"),
    ("users.email", "Email", "이메일"),
    ("users.role", "Role", "역할"),
    ("users.department", "Department", "부서"),
    ("users.password", "Password", "비밀번호"),
    (
        "users.password_hint",
        "At least 12 characters. The user can change it on their account page.",
        "12자 이상. 사용자는 계정 화면에서 바꿀 수 있습니다.",
    ),
    (
        "users.new_password",
        "New password (reset)",
        "새 비밀번호 (재설정)",
    ),
    (
        "users.new_password_hint",
        "Leave empty to keep the password. A new one signs the user out everywhere.",
        "비워 두면 비밀번호를 유지합니다. 새 비밀번호를 정하면 모든 곳에서 로그아웃됩니다.",
    ),
    (
        "users.search",
        "Username or name contains",
        "사용자 이름 또는 이름 포함",
    ),
    ("users.any", "Any", "전체"),
    ("users.last_login", "Last sign-in", "마지막 로그인"),
    ("users.failed_logins", "Failed sign-ins", "로그인 실패"),
    ("users.locked_until", "Locked until", "잠금 해제 시각"),
];
