//! The UI's stylesheet and script, compiled into the binary (no Node toolchain, nothing to deploy beside it) and
//! served under a content hash: `Cache-Control: immutable`, and a new build's file has a new name.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

pub const CSS: &str = include_str!("../assets/app.css");
pub const JS: &str = include_str!("../assets/app.js");

fn short_hash(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..6])
}

static CSS_NAME: LazyLock<String> = LazyLock::new(|| format!("app.{}.css", short_hash(CSS)));
static JS_NAME: LazyLock<String> = LazyLock::new(|| format!("app.{}.js", short_hash(JS)));

pub fn css_href() -> String {
    format!("/ui/assets/{}", *CSS_NAME)
}

pub fn js_href() -> String {
    format!("/ui/assets/{}", *JS_NAME)
}

/// `GET /ui/assets/{file}`: only the current names are served (an old hash is a 404, never stale content).
pub async fn serve(Path(file): Path<String>) -> Response {
    let (body, ct) = if file == *CSS_NAME {
        (CSS, "text/css; charset=utf-8")
    } else if file == *JS_NAME {
        (JS, "text/javascript; charset=utf-8")
    } else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}
