//! `GET /problems/{slug}` and `GET /problems`: the pages every problem document's `type` points at.
//!
//! Answered from the one table, [`neurohub_core::problems::PROBLEM_TYPES`], without a token (an error page must be
//! readable by whoever got the error). HTML by default, Markdown for `Accept: text/markdown` (or `text/plain`),
//! JSON for `Accept: application/json`. An unknown slug is a problem+json 404 like any other unknown record.
//! These are pages for people, not API operations, so they are not in the OpenAPI document (as `/docs` is not).

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use neurohub_core::problems::{self, ProblemType, PROBLEM_TYPES};
use neurohub_core::{ApiError, AppState};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/problems", get(index))
        .route("/problems/{slug}", get(page))
}

/// What the client asked for in `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Html,
    Markdown,
    Json,
}

/// The acceptable format with the highest `q` (the first listed on a tie); HTML when nothing we serve is named.
fn negotiate(headers: &HeaderMap) -> Format {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut best: Option<(f32, Format)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
            })
            .next()
            .unwrap_or(1.0);
        let format = match mime.as_str() {
            "application/json" | "application/problem+json" => Format::Json,
            "text/markdown" | "text/plain" => Format::Markdown,
            "text/html" | "text/*" | "*/*" => Format::Html,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, format));
        }
    }
    best.map_or(Format::Html, |(_, f)| f)
}

async fn page(Path(slug): Path<String>, headers: HeaderMap) -> Response {
    let Some(pt) = problems::by_slug(&slug) else {
        return ApiError::not_found("problem type").into_response();
    };
    match negotiate(&headers) {
        Format::Json => respond("application/json", json_of(pt).to_string()),
        Format::Markdown => respond("text/markdown; charset=utf-8", markdown_of(pt)),
        Format::Html => respond(
            "text/html; charset=utf-8",
            html_page(&format!("{} ({})", pt.title, pt.code), &html_of(pt)),
        ),
    }
}

async fn index(headers: HeaderMap) -> Response {
    match negotiate(&headers) {
        Format::Json => respond(
            "application/json",
            serde_json::Value::Array(PROBLEM_TYPES.iter().map(json_of).collect()).to_string(),
        ),
        Format::Markdown => {
            let mut md = String::from("# NeuroHub problem types\n\n| code | title |\n|---|---|\n");
            for pt in PROBLEM_TYPES {
                md.push_str(&format!(
                    "| [`{}`]({}) | {} |\n",
                    pt.code,
                    pt.type_uri(),
                    pt.title
                ));
            }
            respond("text/markdown; charset=utf-8", md)
        }
        Format::Html => {
            let mut body = String::from("<h1>NeuroHub problem types</h1>\n<ul>\n");
            for pt in PROBLEM_TYPES {
                body.push_str(&format!(
                    "<li><a href=\"{}\"><code>{}</code></a>: {}</li>\n",
                    escape(&pt.type_uri()),
                    escape(pt.code),
                    escape(pt.title)
                ));
            }
            body.push_str("</ul>\n");
            respond(
                "text/html; charset=utf-8",
                html_page("NeuroHub problem types", &body),
            )
        }
    }
}

fn respond(content_type: &'static str, body: String) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The same URL answers in three formats: caches must key on Accept.
    h.insert(header::VARY, HeaderValue::from_static("accept"));
    res
}

fn json_of(pt: &ProblemType) -> serde_json::Value {
    json!({
        "type": pt.type_uri(),
        "code": pt.code,
        "title": pt.title,
        "explanation": pt.explanation,
        "fix": pt.fix,
    })
}

fn markdown_of(pt: &ProblemType) -> String {
    format!(
        "# {} (`{}`)\n\n{}\n\n## How to fix it\n\n{}\n\nAll problem types: [/problems](/problems)\n",
        pt.title, pt.code, pt.explanation, pt.fix
    )
}

fn html_of(pt: &ProblemType) -> String {
    format!(
        "<h1>{}</h1>\n<p>Code: <code>{}</code></p>\n<p>{}</p>\n<h2>How to fix it</h2>\n<p>{}</p>\n\
         <p><a href=\"/problems\">All problem types</a></p>\n",
        escape(pt.title),
        escape(pt.code),
        inline_code(&escape(pt.explanation)),
        inline_code(&escape(pt.fix)),
    )
}

fn html_page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n{}</body></html>\n",
        escape(title),
        body
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The table's texts mark code with backticks (Markdown); in HTML those become `<code>` (after escaping).
fn inline_code(escaped: &str) -> String {
    let mut out = String::new();
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(part);
            out.push_str("</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn accept_picks_the_highest_quality_format_we_serve() {
        assert_eq!(negotiate(&HeaderMap::new()), Format::Html);
        assert_eq!(negotiate(&accept("*/*")), Format::Html);
        assert_eq!(negotiate(&accept("application/json")), Format::Json);
        assert_eq!(negotiate(&accept("application/problem+json")), Format::Json);
        assert_eq!(negotiate(&accept("text/markdown")), Format::Markdown);
        assert_eq!(
            negotiate(&accept("text/html;q=0.5, application/json;q=0.9")),
            Format::Json
        );
        assert_eq!(
            negotiate(&accept("application/json;q=0, text/markdown")),
            Format::Markdown
        );
        assert_eq!(negotiate(&accept("image/png")), Format::Html);
        // A browser's header: HTML first.
        assert_eq!(
            negotiate(&accept(
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
            )),
            Format::Html
        );
    }

    #[test]
    fn html_escapes_and_marks_code() {
        assert_eq!(
            inline_code(&escape("send `a<b>` & go")),
            "send <code>a&lt;b&gt;</code> &amp; go"
        );
    }
}
