//! Cross-site request forgery: every state-changing UI request must prove it came from a page this server
//! rendered.
//!
//! Double submit: a random token lives in the `nh_csrf` cookie (HttpOnly, `SameSite=Strict`) and in a hidden
//! `_csrf` field of every form the server renders (or the `x-csrf-token` header of the page script's fetches). A
//! forged form on another site can make the browser send the cookie along (it cannot read it, nor the page), but
//! it cannot know the token to put in the form. When the browser sends `Origin`, it must be this server's own as
//! well. Both checks run in this one layer, before any handler parses the body, for every POST under `/ui`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;

use crate::cookies;
use crate::WebState;

/// The request's form token (from its cookie, or made for it), in the request's extensions.
#[derive(Debug, Clone)]
pub struct Token(pub String);

/// Header a page script may send the token in.
pub const HEADER: &str = "x-csrf-token";
/// Form field (and, for multipart forms, query parameter) that carries the token.
pub const FIELD: &str = "_csrf";
/// Largest urlencoded form the guard reads (UI forms are small; uploads are multipart).
const FORM_LIMIT: usize = 256 * 1024;

fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Whether two tokens are equal, in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether `Origin`, when sent, names this server (the Host the browser addressed).
fn origin_ok(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match url::Url::parse(origin) {
        Ok(u) => {
            let origin_host = match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                _ => return false,
            };
            origin_host.eq_ignore_ascii_case(host)
        }
        Err(_) => false,
    }
}

fn refused(lang: crate::i18n::Lang) -> Response {
    let page = crate::layout::bare(
        lang,
        crate::i18n::t(lang, "csrf.title"),
        maud::html! { p class="feedback bad" role="alert" { (crate::i18n::t(lang, "csrf.refused")) } p { a href="/ui" { (crate::i18n::t(lang, "nav.home")) } } },
    );
    (StatusCode::FORBIDDEN, page).into_response()
}

/// The layer: give every request its token, and refuse an unsafe request whose token or origin is wrong.
pub async fn guard(State(web): State<WebState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let cookie = cookies::get(&parts.headers, cookies::CSRF).filter(|t| t.len() == 64);
    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let lang = crate::i18n::Lang::from_headers(&parts.headers);
    let body = if unsafe_method {
        let Some(expected) = cookie.as_deref() else {
            return refused(lang);
        };
        if !origin_ok(&parts.headers) {
            return refused(lang);
        }
        let from_header = parts
            .headers
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let from_query = parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == FIELD)
                .map(|(_, v)| v.into_owned())
        });
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let (presented, body) = if let Some(t) = from_header.or(from_query) {
            (Some(t), body)
        } else if is_form {
            let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
                return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
            };
            let t = url::form_urlencoded::parse(&bytes)
                .find(|(k, _)| k == FIELD)
                .map(|(_, v)| v.into_owned());
            (t, Body::from(bytes))
        } else {
            (None, body)
        };
        if !presented.as_deref().is_some_and(|p| same(p, expected)) {
            tracing::warn!(path = %parts.uri.path(), "UI form refused: missing or wrong CSRF token");
            return refused(lang);
        }
        body
    } else {
        body
    };
    let (token, fresh) = match cookie {
        Some(t) => (t, false),
        None => (new_token(), true),
    };
    parts.extensions.insert(Token(token.clone()));
    let mut res = next.run(Request::from_parts(parts, body)).await;
    if fresh {
        res.headers_mut().append(
            header::SET_COOKIE,
            cookies::set(cookies::CSRF, &token, cookies::CSRF_ATTRS, web.tls),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abcd", "abcd"));
        assert!(!same("abcd", "abce"));
        assert!(!same("abcd", "abc"));
        assert_eq!(new_token().len(), 64);
        assert_ne!(new_token(), new_token());
    }

    #[test]
    fn origin_must_be_this_host() {
        let mut h = HeaderMap::new();
        assert!(origin_ok(&h), "no Origin: the token decides");
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(origin_ok(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!origin_ok(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!origin_ok(&h));
    }
}
