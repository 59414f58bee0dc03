//! Sign in, sign out, the language switch, and the account page with the password change. Sign-in is the API's
//! `POST /auth/login` (its lockout and throttling, its audit); the password change is `POST /auth/password`.

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use crate::i18n::{t, Lang};
use crate::layout::{self, csrf_field, Nav};
use crate::session::{self, Session, Visitor};
use crate::{cookies, WebState};

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/logout", post(logout))
        .route("/ui/account", get(account_page).post(change_password))
}

pub fn public_routes() -> Router<WebState> {
    Router::new()
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/lang", post(set_lang))
}

/// `/ui`: the station for those who work one, the dashboard for everyone else.
pub async fn home(State(web): State<WebState>, s: Session) -> Redirect {
    if web.may(&s, "POST", "/api/v1/process-data/start")
        && s.role == neurohub_core::auth::Role::Operator
    {
        Redirect::to("/ui/station")
    } else {
        Redirect::to("/ui/dashboard")
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn login_form(v: &Visitor, next: &str, username: &str, error: Option<&str>) -> maud::Markup {
    let lang = v.lang;
    html! {
        @if let Some(e) = error { (layout::refusal(e)) }
        form method="post" action="/ui/login" class="stack narrow" {
            input type="hidden" name="_csrf" value=(v.csrf);
            input type="hidden" name="next" value=(next);
            label for="username" { (t(lang, "login.username")) }
            input id="username" name="username" autocomplete="username" required autofocus[username.is_empty()] value=(username);
            label for="password" { (t(lang, "login.password")) }
            input id="password" name="password" type="password" autocomplete="current-password" required autofocus[!username.is_empty()];
            button type="submit" class="primary" { (t(lang, "login.submit")) }
        }
        (layout::lang_switch(lang, &v.csrf))
    }
}

async fn login_page(v: Visitor, Query(q): Query<NextQuery>) -> Response {
    let next = session::safe_next(q.next.as_deref());
    layout::bare(
        v.lang,
        t(v.lang, "login.title"),
        login_form(&v, &next, "", None),
    )
    .into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

async fn login(State(web): State<WebState>, v: Visitor, Form(f): Form<LoginForm>) -> Response {
    let lang = v.lang;
    let next = session::safe_next(f.next.as_deref());
    let reply = web
        .api
        .call(
            &v.cx,
            Method::POST,
            "/api/v1/auth/login",
            Some(&json!({ "username": f.username, "password": f.password })),
            None,
        )
        .await;
    match session::pair_of(&reply) {
        Some(pair) => {
            let mut res = Redirect::to(&next).into_response();
            for c in session::pair_cookies(&web, &pair) {
                res.headers_mut().append(header::SET_COOKIE, c);
            }
            res
        }
        None => {
            let message = match reply.code() {
                Some("INVALID_CREDENTIALS") => t(lang, "login.invalid").to_string(),
                Some("LOGIN_THROTTLED") | Some("RATE_LIMITED") => {
                    format!("{} ({})", t(lang, "login.throttled"), reply.problem_text())
                }
                _ => reply.problem_text(),
            };
            let status = if reply.status.is_client_error() {
                reply.status
            } else {
                StatusCode::BAD_GATEWAY
            };
            let mut res = (
                status,
                layout::bare(
                    lang,
                    t(lang, "login.title"),
                    login_form(&v, &next, &f.username, Some(&message)),
                ),
            )
                .into_response();
            if let Some(ra) = reply.body.get("retry_after").and_then(|v| v.as_u64()) {
                if let Ok(h) = HeaderValue::from_str(&ra.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, h);
                }
            }
            res
        }
    }
}

async fn logout(
    State(web): State<WebState>,
    s: Session,
    headers: axum::http::HeaderMap,
) -> Response {
    if let Some(refresh) = cookies::get(&headers, cookies::REFRESH) {
        // revokes the sign-in's whole token family; the answer is 204 whatever the token was
        web.api
            .call(
                &s.cx,
                Method::POST,
                "/api/v1/auth/logout",
                Some(&json!({ "refresh_token": refresh })),
                None,
            )
            .await;
    }
    let mut res = Redirect::to("/ui/login").into_response();
    for c in session::clear_cookies(&web) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

#[derive(Deserialize)]
pub struct LangForm {
    lang: String,
}

async fn set_lang(
    State(web): State<WebState>,
    headers: axum::http::HeaderMap,
    Form(f): Form<LangForm>,
) -> Response {
    let Some(lang) = Lang::parse(&f.lang) else {
        return (StatusCode::UNPROCESSABLE_ENTITY, "lang must be en or ko").into_response();
    };
    // back to the page the switch was on (same site only)
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        });
    let back = match back.as_deref() {
        Some("/ui/login") => "/ui/login".to_string(),
        other => session::safe_next(other),
    };
    let mut res = Redirect::to(&back).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(cookies::LANG, lang.code(), cookies::PREF_ATTRS, web.tls),
    );
    res
}

fn account_body(
    s: &Session,
    me: &serde_json::Value,
    feedback: Option<maud::Markup>,
) -> maud::Markup {
    let lang = s.lang;
    html! {
        dl class="facts" {
            dt { (t(lang, "account.username")) } dd { (s.username) }
            dt { (t(lang, "account.name")) } dd { (me["full_name"].as_str().unwrap_or("")) }
            dt { (t(lang, "account.role")) } dd { (t(lang, layout::role_key(s.role))) }
        }
        h2 { (t(lang, "account.change")) }
        @if let Some(f) = feedback { (f) }
        form method="post" action="/ui/account" class="stack narrow" {
            (csrf_field(s))
            label for="current_password" { (t(lang, "account.current")) }
            input id="current_password" name="current_password" type="password" autocomplete="current-password" required;
            label for="new_password" { (t(lang, "account.new")) }
            input id="new_password" name="new_password" type="password" autocomplete="new-password" required minlength="12" aria-describedby="pw-rules";
            p id="pw-rules" class="hint" { (t(lang, "account.rules")) }
            button type="submit" class="primary" { (t(lang, "account.submit")) }
        }
    }
}

async fn account_page(State(web): State<WebState>, s: Session) -> Response {
    let me = session::me(&web, &s).await;
    layout::page(
        &web,
        &s,
        Nav::Account,
        t(s.lang, "account.title"),
        account_body(&s, &me, None),
    )
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(web): State<WebState>,
    s: Session,
    Form(f): Form<PasswordForm>,
) -> Response {
    let reply = web
        .api
        .call(
            &s.cx,
            Method::POST,
            "/api/v1/auth/password",
            Some(
                &json!({ "current_password": f.current_password, "new_password": f.new_password }),
            ),
            None,
        )
        .await;
    if reply.ok() {
        // every token of the account is revoked now; sign in again with the new password, in the same step
        let login = web
            .api
            .call(
                &s.cx,
                Method::POST,
                "/api/v1/auth/login",
                Some(&json!({ "username": s.username, "password": f.new_password })),
                None,
            )
            .await;
        let mut res = match session::pair_of(&login) {
            Some(pair) => {
                let mut r = Redirect::to("/ui/account?changed=1").into_response();
                for c in session::pair_cookies(&web, &pair) {
                    r.headers_mut().append(header::SET_COOKIE, c);
                }
                r
            }
            None => Redirect::to("/ui/login").into_response(),
        };
        res.headers_mut()
            .insert("x-nh-result", HeaderValue::from_static("changed"));
        return res;
    }
    let me = session::me(&web, &s).await;
    let status = if reply.status.is_client_error() {
        reply.status
    } else {
        StatusCode::BAD_GATEWAY
    };
    let mut res = layout::page(
        &web,
        &s,
        Nav::Account,
        t(s.lang, "account.title"),
        account_body(&s, &me, Some(layout::refusal(&reply.problem_text()))),
    );
    *res.status_mut() = status;
    res
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("login.title", "Sign in", "로그인"),
    ("login.username", "Username", "사용자 이름"),
    ("login.password", "Password", "비밀번호"),
    ("login.submit", "Sign in", "로그인"),
    (
        "login.invalid",
        "The username or password is not correct.",
        "사용자 이름 또는 비밀번호가 올바르지 않습니다.",
    ),
    (
        "login.throttled",
        "Too many failed sign-ins. Wait before trying again.",
        "로그인 실패가 너무 많습니다. 잠시 후 다시 시도하세요.",
    ),
    ("account.title", "My account", "내 계정"),
    ("account.username", "Username", "사용자 이름"),
    ("account.name", "Name", "이름"),
    ("account.role", "Role", "역할"),
    ("account.change", "Change password", "비밀번호 변경"),
    ("account.current", "Current password", "현재 비밀번호"),
    ("account.new", "New password", "새 비밀번호"),
    (
        "account.rules",
        "At least 12 characters, not easy to guess.",
        "12자 이상, 추측하기 어려운 비밀번호.",
    ),
    ("account.submit", "Change password", "비밀번호 변경"),
    (
        "account.changed",
        "Password changed. Other sessions were signed out.",
        "비밀번호가 변경되었습니다. 다른 세션은 로그아웃되었습니다.",
    ),
];
