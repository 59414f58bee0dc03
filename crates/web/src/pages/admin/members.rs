//! Workspace members (ATP): the caller's workspaces, then one workspace's members with a form to add a user
//! (by username or email) with a member role, and per member a form to change the role or deactivate. Who may
//! manage a workspace's membership is the workspace's business (WORKSPACE_ADMIN, or a global ADMIN): the forms
//! are shown to whoever can read the list, and the API refuses the others in its own words.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde_json::json;

use super::{field, items, next_link, problem, query, val, when, with_status, yes_no, Fields};
use crate::api::enc;
use crate::i18n::t;
use crate::layout::{self, csrf_field, Nav};
use crate::session::Session;
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/admin/workspaces", get(workspaces))
        .route("/ui/admin/workspaces/{ws}/members", get(members).post(add))
        .route("/ui/admin/workspaces/{ws}/members/{user_id}", post(change))
}

/// The member roles (`neurohub_atp::member::MemberRole`).
const MEMBER_ROLES: [&str; 6] = [
    "WORKSPACE_ADMIN",
    "DOC_CONTROL",
    "VENDOR",
    "QA",
    "APPROVER",
    "VIEWER",
];

fn role_select(id: &str, current: &str) -> Markup {
    html! {
        select id=(id) name="member_role" required {
            @for r in MEMBER_ROLES { option value=(r) selected[current == r] { (r) } }
        }
    }
}

async fn workspaces(State(web): State<WebState>, s: Session, Query(q): Query<Fields>) -> Response {
    let lang = s.lang;
    let r = web
        .api
        .get(
            &s.cx,
            &format!(
                "/api/v1/workspaces{}",
                query(&[("cursor", val(&q, "cursor"))])
            ),
        )
        .await;
    let body = html! {
        @if !r.ok() { (problem(&r)) } @else {
            @let list = items(&r);
            @if list.is_empty() { p { (t(lang, "common.none")) } } @else {
                table class="data" id="workspaces" {
                    caption { (t(lang, "members.workspaces")) }
                    thead { tr {
                        th scope="col" { (t(lang, "admin.code")) }
                        th scope="col" { (t(lang, "admin.name")) }
                        th scope="col" { (t(lang, "members.customer")) }
                        th scope="col" { (t(lang, "admin.active")) }
                    } }
                    tbody {
                        @for w in &list {
                            @let code = w["code"].as_str().unwrap_or("");
                            tr {
                                td { a href=(format!("/ui/admin/workspaces/{}/members", enc(code))) { (code) } }
                                td { (w["name"].as_str().unwrap_or("")) }
                                td { (w["customer"].as_str().unwrap_or("")) }
                                td { (yes_no(lang, &w["is_active"])) }
                            }
                        }
                    }
                }
            }
            (next_link(lang, "/ui/admin/workspaces", &[], &r.body))
        }
    };
    layout::page(&web, &s, Nav::Admin, t(lang, "admin.workspaces"), body)
}

async fn render(
    web: &WebState,
    s: &Session,
    ws: &str,
    cursor: &str,
    feedback: Option<Markup>,
    kept: Option<&[(String, String)]>,
) -> Response {
    let lang = s.lang;
    let r = web
        .api
        .get(
            &s.cx,
            &format!(
                "/api/v1/workspaces/{}/members{}",
                enc(ws),
                query(&[("cursor", cursor)])
            ),
        )
        .await;
    let title = format!("{} · {ws}", t(lang, "admin.workspaces"));
    let base = format!("/ui/admin/workspaces/{}/members", enc(ws));
    let body = html! {
        p { a href="/ui/admin/workspaces" { (t(lang, "members.all_workspaces")) } }
        @if let Some(f) = feedback { (f) }
        @if !r.ok() { (problem(&r)) } @else {
            table class="data" id="members" {
                caption { (t(lang, "members.members")) }
                thead { tr {
                    th scope="col" { (t(lang, "members.user")) }
                    th scope="col" { (t(lang, "users.full_name")) }
                    th scope="col" { (t(lang, "members.role")) }
                    th scope="col" { (t(lang, "admin.active")) }
                    th scope="col" { (t(lang, "admin.updated")) }
                    th scope="col" { (t(lang, "common.actions")) }
                } }
                tbody {
                    @for m in items(&r) {
                        @let uid = m["user_id"].as_i64().unwrap_or(0);
                        @let form_id = format!("member-{uid}");
                        tr {
                            td { (m["username"].as_str().unwrap_or("")) }
                            td { (m["full_name"].as_str().unwrap_or("")) }
                            td {
                                label for=(format!("role-{uid}")) class="sr-only" { (t(lang, "members.role")) " — " (m["username"].as_str().unwrap_or("")) }
                                select id=(format!("role-{uid}")) name="member_role" form=(form_id) {
                                    @for role in MEMBER_ROLES { option value=(role) selected[m["member_role"].as_str() == Some(role)] { (role) } }
                                }
                            }
                            td {
                                input id=(format!("active-{uid}")) name="is_active" type="checkbox" value="true" form=(form_id) checked[m["is_active"].as_bool() == Some(true)];
                                label for=(format!("active-{uid}")) class="sr-only" { (t(lang, "admin.active")) " — " (m["username"].as_str().unwrap_or("")) }
                            }
                            td { (when(&m["updated_at"])) }
                            td {
                                form method="post" action=(format!("{base}/{uid}")) id=(form_id) class="inline" {
                                    (csrf_field(s))
                                    button type="submit" { (t(lang, "common.save")) }
                                }
                            }
                        }
                    }
                }
            }
            (next_link(lang, &base, &[], &r.body))
            section aria-labelledby="add-h" {
                h2 id="add-h" { (t(lang, "members.add")) }
                form method="post" action=(base) class="stack narrow" id="add-member" {
                    (csrf_field(s))
                    (field("user", t(lang, "members.user_hint"), html! { input id="user" name="user" required autocomplete="off" value=[kept.map(|k| val(k, "user"))]; }))
                    (field("member_role", t(lang, "members.role"), role_select("member_role", kept.map(|k| val(k, "member_role")).unwrap_or("VIEWER"))))
                    button type="submit" class="primary" { (t(lang, "members.add")) }
                }
            }
        }
    };
    layout::page(web, s, Nav::Admin, &title, body)
}

async fn members(
    State(web): State<WebState>,
    s: Session,
    Path(ws): Path<String>,
    Query(q): Query<Fields>,
) -> Response {
    let feedback = (val(&q, "saved") == "1").then(|| layout::success(t(s.lang, "admin.saved")));
    render(&web, &s, &ws, val(&q, "cursor"), feedback, None).await
}

async fn add(
    State(web): State<WebState>,
    s: Session,
    Path(ws): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    let body = json!({ "user": val(&f, "user"), "member_role": val(&f, "member_role") });
    let r = web
        .api
        .call(
            &s.cx,
            Method::POST,
            &format!("/api/v1/workspaces/{}/members", enc(&ws)),
            Some(&body),
            None,
        )
        .await;
    if r.ok() {
        return Redirect::to(&format!(
            "/ui/admin/workspaces/{}/members?saved=1",
            enc(&ws)
        ))
        .into_response();
    }
    with_status(
        render(&web, &s, &ws, "", Some(problem(&r)), Some(&f)).await,
        r.status,
    )
}

async fn change(
    State(web): State<WebState>,
    s: Session,
    Path((ws, user_id)): Path<(String, i64)>,
    Form(f): Form<Fields>,
) -> Response {
    let body = json!({ "member_role": val(&f, "member_role"), "is_active": super::checked(&f, "is_active") });
    let r = web
        .api
        .call(
            &s.cx,
            Method::PATCH,
            &format!("/api/v1/workspaces/{}/members/{user_id}", enc(&ws)),
            Some(&body),
            None,
        )
        .await;
    if r.ok() {
        return Redirect::to(&format!(
            "/ui/admin/workspaces/{}/members?saved=1",
            enc(&ws)
        ))
        .into_response();
    }
    with_status(
        render(&web, &s, &ws, "", Some(problem(&r)), None).await,
        r.status,
    )
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("members.workspaces", "Your workspaces", "내 워크스페이스"),
    (
        "members.all_workspaces",
        "All workspaces",
        "전체 워크스페이스",
    ),
    ("members.customer", "Customer", "고객"),
    ("members.members", "Members", "구성원"),
    ("members.user", "User", "사용자"),
    (
        "members.user_hint",
        "User (username or email)",
        "사용자 (사용자 이름 또는 이메일)",
    ),
    ("members.role", "Member role", "구성원 역할"),
    ("members.add", "Add member", "구성원 추가"),
];
