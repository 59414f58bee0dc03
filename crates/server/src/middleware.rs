//! Per-request middleware: metrics by route, SQL statement count, and problem+json for panics and timeouts.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use neurohub_core::auth::CallerSlot;
use neurohub_core::{querycount, ApiError};
use std::any::Any;
use std::time::Instant;

/// Header carrying the number of SQL statements the request executed (N+1 regressions show up here).
pub const QUERY_COUNT_HEADER: &str = "x-db-queries";

/// Record `http_requests_total` and `http_request_duration_seconds` by method, route template and status, report
/// the request's SQL statement count, and write the access log: one INFO line per request (target
/// `neurohub::access`) with method, route template, status, duration, request id and the authenticated user id.
pub async fn track(mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    // The route template, never the raw path, so metric cardinality stays bounded.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let client_request_id = req
        .headers()
        .get(CLIENT_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let caller = CallerSlot::default();
    req.extensions_mut().insert(caller.clone());
    let (mut res, queries) = querycount::scope(next.run(req)).await;
    let elapsed = start.elapsed();
    tracing::info!(
        target: "neurohub::access",
        method = %method,
        route = %route,
        status = res.status().as_u16(),
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        request_id = %request_id,
        client_request_id = client_request_id.as_deref(),
        user_id = caller.user_id(),
        db_queries = queries,
        "request"
    );
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&queries.to_string()) {
        res.headers_mut().insert(QUERY_COUNT_HEADER, v);
    }
    res
}

/// A panic in a handler becomes a logged 500 problem, and the server keeps serving.
pub fn panic_to_problem(err: Box<dyn Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into());
    ApiError::internal(format!("handler panicked: {detail}")).into_response()
}

/// Unknown routes get a problem document too.
pub async fn not_found() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ROUTE_NOT_FOUND",
        "no such endpoint; see /api/v1/openapi.json",
    )
    .into_response()
}

/// A known path with a method it does not have (e.g. DELETE on audit logs).
pub async fn method_not_allowed() -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "this endpoint does not support this method",
    )
    .into_response()
}

/// Requests that exceed the request timeout: the handler future is dropped, so its transaction rolls back.
pub async fn timeout_to_problem(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() == StatusCode::SERVICE_UNAVAILABLE
        && res
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .is_none()
    {
        return ApiError::unavailable(
            "the request took too long and was cancelled; nothing was saved",
        )
        .into_response();
    }
    res
}

/// The header under which a client's own request id is kept (and echoed) for correlation.
pub const CLIENT_REQUEST_ID: &str = "x-client-request-id";

/// Every request gets the server's own `x-request-id` (a fresh UUID): that id goes into the audit rows, the
/// access log and the response, so a client cannot make an audit trail point at another request. A client's
/// `x-request-id` is not thrown away: it moves to `x-client-request-id` (kept when it is 1–128 visible ASCII
/// characters, dropped otherwise), is logged beside ours and is echoed in the response.
pub async fn server_request_id(mut req: Request, next: Next) -> Response {
    let client = req.headers_mut().remove("x-request-id").filter(|v| {
        let b = v.as_bytes();
        !b.is_empty() && b.len() <= 128 && b.iter().all(u8::is_ascii_graphic)
    });
    let ours = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
        .expect("a UUID is a valid header value");
    req.headers_mut().insert("x-request-id", ours.clone());
    match &client {
        Some(c) => {
            req.headers_mut().insert(CLIENT_REQUEST_ID, c.clone());
        }
        None => {
            req.headers_mut().remove(CLIENT_REQUEST_ID);
        }
    }
    let mut res = next.run(req).await;
    res.headers_mut().insert("x-request-id", ours);
    if let Some(c) = client {
        res.headers_mut().insert(CLIENT_REQUEST_ID, c);
    }
    res
}

/// A 413 is answered before the body was read, so the rest of the body is still on the wire: tell the client the
/// connection ends here (`Connection: close`), so its next request opens a new one instead of failing on this one.
pub async fn close_after_413(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE {
        res.headers_mut().insert(
            axum::http::header::CONNECTION,
            HeaderValue::from_static("close"),
        );
    }
    res
}

/// `Strict-Transport-Security` on an answer (the server is on TLS; see [`crate::HttpOptions::tls`]).
pub async fn hsts(mut res: Response) -> Response {
    res.headers_mut().insert(
        axum::http::header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static(crate::tls::HSTS),
    );
    res
}

/// Settle the request's client address once ([`neurohub_core::client_addr`]): the TCP peer, or — only when the
/// peer is a trusted proxy — the right-most untrusted hop of its forwarding header. Audit rows, refresh tokens and
/// login throttling all read this.
pub async fn client_addr(
    axum::extract::State(proxies): axum::extract::State<neurohub_core::client_addr::TrustedProxies>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|ci| ci.0.ip());
    if let Some(peer) = peer {
        let client = proxies.client_ip(peer, req.headers());
        req.extensions_mut()
            .insert(neurohub_core::client_addr::ClientAddr(client));
    }
    next.run(req).await
}

/// Route layer of every API route: the path parameters' boundary check ([`neurohub_core::extract::check_path_params`])
/// before any extractor runs.
pub async fn check_path_params(req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    if let Err(e) = neurohub_core::extract::check_path_params(&mut parts).await {
        return e.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}
