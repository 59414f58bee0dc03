//! Who is signed in to the UI: the API's own tokens, kept in HttpOnly cookies ([`crate::cookies`]).
//!
//! A page request with a valid access token is served as its user. An expired one is exchanged, through the
//! API's `POST /auth/refresh`, for a new pair whose cookies ride on the answer. Refresh tokens are single use and
//! a reused one revokes the whole sign-in, so the exchange is single-flight per process: a browser that fires
//! three requests the moment its token expires (a page, its SSE stream, a fragment) gets one refresh, and the
//! other two — and any request still carrying the old cookie for the next minute — reuse its result.
//!
//! Sign-in goes through `POST /auth/login`, so the UI has exactly the API's lockout and throttling.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use neurohub_core::auth::Role;
use neurohub_core::client_addr::ClientAddr;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::api::{CallContext, Reply};
use crate::cookies;
use crate::i18n::Lang;
use crate::WebState;

/// The signed-in user of a UI request (put into the request's extensions by [`require`]).
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub token: String,
    pub csrf: String,
    pub lang: Lang,
    /// The call context of the API calls this request makes (its token, client address and request id).
    pub cx: CallContext,
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| Redirect::to("/ui/login").into_response())
    }
}

/// A request's language and form token, signed in or not (for the sign-in page and error pages).
#[derive(Debug, Clone)]
pub struct Visitor {
    pub lang: Lang,
    pub csrf: String,
    pub cx: CallContext,
}

impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(visitor(parts))
    }
}

fn visitor(parts: &Parts) -> Visitor {
    Visitor {
        lang: Lang::from_headers(&parts.headers),
        csrf: parts
            .extensions
            .get::<crate::csrf::Token>()
            .map(|t| t.0.clone())
            .unwrap_or_default(),
        cx: call_context(parts, None),
    }
}

/// The API call context of a request: its client address and the server's request id.
pub fn call_context(parts: &Parts, token: Option<String>) -> CallContext {
    CallContext {
        token,
        client: parts.extensions.get::<ClientAddr>().copied(),
        request_id: parts.headers.get("x-request-id").cloned(),
    }
}

/// Refresh results by the hash of the refresh token they spent, kept for [`REUSE_WINDOW`].
#[derive(Default)]
pub struct RefreshFlights {
    flights: Mutex<HashMap<String, (Instant, Flight)>>,
}

/// One exchange: its result once the first request finished it (`None`: the API refused the refresh token).
type Flight = Arc<tokio::sync::OnceCell<Option<Pair>>>;

/// How long a spent refresh token still maps to the pair it was exchanged for (requests already in flight carry
/// it; a browser applies the new cookies only when an answer arrives).
pub const REUSE_WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Pair {
    pub access: String,
    pub refresh: String,
    pub access_ttl: i64,
}

impl RefreshFlights {
    async fn exchange(&self, web: &WebState, cx: &CallContext, refresh: &str) -> Option<Pair> {
        let key = neurohub_core::auth::tokens::hash_refresh_token(refresh);
        let cell = {
            let mut map = self.flights.lock().expect("refresh map");
            map.retain(|_, (at, _)| at.elapsed() < REUSE_WINDOW);
            map.entry(key)
                .or_insert_with(|| (Instant::now(), Arc::new(tokio::sync::OnceCell::new())))
                .1
                .clone()
        };
        cell.get_or_init(|| async {
            let reply = web
                .api
                .call(
                    cx,
                    Method::POST,
                    "/api/v1/auth/refresh",
                    Some(&json!({ "refresh_token": refresh })),
                    None,
                )
                .await;
            pair_of(&reply)
        })
        .await
        .clone()
    }
}

/// The token pair of a login or refresh answer.
pub fn pair_of(reply: &Reply) -> Option<Pair> {
    if !reply.ok() {
        return None;
    }
    Some(Pair {
        access: reply.body["access_token"].as_str()?.to_string(),
        refresh: reply.body["refresh_token"].as_str()?.to_string(),
        access_ttl: reply.body["expires_in"].as_i64().unwrap_or(900),
    })
}

/// The cookies that carry a pair.
pub fn pair_cookies(web: &WebState, pair: &Pair) -> [HeaderValue; 2] {
    let refresh_ttl = web.app.tokens.refresh_ttl.as_secs() as i64;
    [
        // the access cookie lives as long as the refresh token, so an expired access token can still be swapped
        cookies::set(
            cookies::ACCESS,
            &pair.access,
            cookies::access_attrs(refresh_ttl),
            web.tls,
        ),
        cookies::set(
            cookies::REFRESH,
            &pair.refresh,
            cookies::refresh_attrs(refresh_ttl),
            web.tls,
        ),
    ]
}

/// The cookies that end a session.
pub fn clear_cookies(web: &WebState) -> [HeaderValue; 2] {
    [
        cookies::clear(cookies::ACCESS, "/", web.tls),
        cookies::clear(cookies::REFRESH, "/ui", web.tls),
    ]
}

fn verify(web: &WebState, token: &str) -> Option<(i64, String, Role)> {
    let claims = web.app.tokens.verify_access(token).ok()?;
    let id = claims.user_id()?;
    web.app
        .revocations
        .allows(id, claims.generation)
        .then_some((id, claims.username, claims.role))
}

/// Middleware of every signed-in page: serve the request as its user, refreshing the pair when the access token
/// has expired; otherwise send the browser to the sign-in page (a script's fetch gets 401 and reloads).
pub async fn require(State(web): State<WebState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let access = cookies::get(&parts.headers, cookies::ACCESS);
    let mut set_cookies: Option<[HeaderValue; 2]> = None;
    let mut found = access
        .as_deref()
        .and_then(|t| verify(&web, t).map(|u| (t.to_string(), u)));
    if found.is_none() {
        if let Some(refresh) = cookies::get(&parts.headers, cookies::REFRESH) {
            let cx = call_context(&parts, None);
            if let Some(pair) = web.refresh.exchange(&web, &cx, &refresh).await {
                if let Some(user) = verify(&web, &pair.access) {
                    set_cookies = Some(pair_cookies(&web, &pair));
                    found = Some((pair.access.clone(), user));
                }
            }
        }
    }
    let Some((token, (user_id, username, role))) = found else {
        return signed_out(&parts.headers, &parts.uri, web.tls);
    };
    let v = visitor(&parts);
    let session = Session {
        user_id,
        username,
        role,
        cx: CallContext {
            token: Some(token.clone()),
            ..v.cx
        },
        token,
        csrf: v.csrf,
        lang: v.lang,
    };
    parts.extensions.insert(session);
    let mut res = next.run(Request::from_parts(parts, body)).await;
    if let Some(values) = set_cookies {
        for v in values {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

fn signed_out(headers: &HeaderMap, uri: &axum::http::Uri, tls: bool) -> Response {
    let from_script = headers.get("x-nh-fetch").is_some()
        || headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) == Some("text/event-stream");
    if from_script {
        return (StatusCode::UNAUTHORIZED, "sign in again").into_response();
    }
    let next = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/ui");
    let mut res =
        Redirect::to(&format!("/ui/login?next={}", crate::api::enc(next))).into_response();
    // a stale or revoked token must not be offered again on the next request
    for v in [
        cookies::clear(cookies::ACCESS, "/", tls),
        cookies::clear(cookies::REFRESH, "/ui", tls),
    ] {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Where to go after signing in: a local path under `/ui` only (never another site: an open redirect would let a
/// mailed link send a freshly signed-in user anywhere).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/ui")
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.contains("://") =>
        {
            n.to_string()
        }
        _ => "/ui".to_string(),
    }
}

/// The user's API view (`GET /auth/me`), for pages that show the full name.
pub async fn me(web: &WebState, s: &Session) -> Value {
    web.api.get(&s.cx, "/api/v1/auth/me").await.body
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_stays_on_this_site() {
        use super::safe_next;
        assert_eq!(safe_next(Some("/ui/lots?x=1")), "/ui/lots?x=1");
        for hostile in [
            "https://evil.example",
            "//evil.example",
            "/ui\\..\\x",
            "/api/v1/users",
            "/ui/https://x",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/ui", "{hostile}");
        }
        assert_eq!(safe_next(None), "/ui");
    }
}
