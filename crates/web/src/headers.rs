//! Security headers of every UI answer. The pages have no inline script or style, so the policy can allow
//! scripts and styles from this server only; documents (PDF, images) may be framed by our own pages only, and no
//! other site may frame ours (clickjacking at a station would be a wrong PASS).

use axum::http::{header, HeaderValue};
use axum::response::Response;

pub const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
    object-src 'self'; frame-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'self'";

pub async fn secure(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("SAMEORIGIN"));
    if !h.contains_key(header::CACHE_CONTROL) {
        // pages show live data and a user's own view: never from a shared cache
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
