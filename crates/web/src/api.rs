//! The UI's one way to act: an in-process call of the API router, with the signed-in user's access token.
//!
//! Every page reads through the same handlers a script would call and every form posts to them, so a rule — role
//! checks, validation, the state machines, idempotency, the audit context — is written once, in the API, and the
//! UI cannot drift from it. The call never leaves the process (no socket, no TLS, no second parse of a URL the
//! user chose): it is the router's `oneshot` with a request the UI builds, carrying the outer request's client
//! address and server request id so the audit rows of a UI action name the same caller, address and request as
//! the access log.

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use neurohub_core::client_addr::ClientAddr;
use serde_json::Value;
use tower::ServiceExt;

/// The finished API router (state applied), shared by every UI request.
#[derive(Clone)]
pub struct Api {
    router: Router,
}

/// What the API answered: status, JSON body (Null when empty or not JSON), the raw bytes and content type.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub bytes: Bytes,
    pub content_type: Option<String>,
}

impl Reply {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// The problem's message a person should read: `detail`, then each field error (`field: message`).
    pub fn problem_text(&self) -> String {
        let mut out = self.body["detail"]
            .as_str()
            .or_else(|| self.body["title"].as_str())
            .unwrap_or("the request failed")
            .to_string();
        if let Some(errors) = self.body["errors"].as_array() {
            for e in errors {
                let field = e["field"].as_str().unwrap_or("");
                let msg = e["message"].as_str().unwrap_or("");
                if field.is_empty() {
                    out.push_str(&format!(" — {msg}"));
                } else {
                    out.push_str(&format!(" — {field}: {msg}"));
                }
            }
        }
        out
    }

    /// The problem's code (`PROCESS_SEQUENCE`, `VALIDATION_FAILED`, …), when the answer was a problem.
    pub fn code(&self) -> Option<&str> {
        self.body["code"].as_str()
    }
}

/// One call's context, taken from the outer (UI) request.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    pub token: Option<String>,
    pub client: Option<ClientAddr>,
    pub request_id: Option<HeaderValue>,
}

impl Api {
    pub fn new(router: Router) -> Self {
        Self { router }
    }

    /// Call `method path` (path under the server root, query included) with an optional JSON body.
    pub async fn call(
        &self,
        cx: &CallContext,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Reply {
        let (content_type, bytes) = match body {
            Some(v) => (
                Some("application/json"),
                serde_json::to_vec(v).unwrap_or_default(),
            ),
            None => (None, Vec::new()),
        };
        self.send(cx, method, path, content_type, bytes, idempotency_key)
            .await
    }

    /// `GET path`.
    pub async fn get(&self, cx: &CallContext, path: &str) -> Reply {
        self.call(cx, Method::GET, path, None, None).await
    }

    /// Call with a raw body of the given content type (multipart uploads, CSV imports).
    pub async fn send(
        &self,
        cx: &CallContext,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        idempotency_key: Option<&str>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = &cx.token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        if let Some(id) = &cx.request_id {
            req = req.header("x-request-id", id.clone());
        }
        let mut req = match req.body(Body::from(body)) {
            Ok(r) => r,
            Err(e) => return internal(format!("could not build the request: {e}")),
        };
        if let Some(addr) = cx.client {
            req.extensions_mut().insert(addr);
        }
        let res = match self.router.clone().oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = res.status();
        let content_type = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = axum::body::to_bytes(res.into_body(), 64 * 1024 * 1024)
            .await
            .unwrap_or_default();
        let body = if content_type.as_deref().is_some_and(|c| c.contains("json")) {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        Reply {
            status,
            body,
            bytes,
            content_type,
        }
    }
}

fn internal(detail: String) -> Reply {
    Reply {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        body: serde_json::json!({ "detail": detail }),
        bytes: Bytes::new(),
        content_type: None,
    }
}

/// Percent-encode one path segment or query value (a scanned code, a filter), so hostile input stays data.
/// Every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`, which is right in a path segment
/// and in a query value alike.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn enc_keeps_unreserved_and_escapes_the_rest() {
        assert_eq!(super::enc("WIP-KR01-0001"), "WIP-KR01-0001");
        assert_eq!(super::enc("a b/../?x=1&y"), "a%20b%2F..%2F%3Fx%3D1%26y");
        assert_eq!(super::enc("한"), "%ED%95%9C");
    }
}
