//! An ATP workspace's sites: the list (`GET …/sites`, keyset pages by site id, filters as its query parameters)
//! and the CSV import (`POST …/sites/import`, multipart part `sites`, the columns of `neurohub_atp::sites`). The
//! browser's multipart body is passed to the API as it came (its part is already named `sites`), and the API's
//! report — rows read, inserted, updated, warnings — or its refusal with every bad row is shown.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::approvals::{api_ws, text, ui_ws, ws_links};
use crate::api::enc;
use crate::i18n::{t, Lang};
use crate::layout::{self, Nav};
use crate::session::Session;
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/approvals/{ws}/sites", get(sites_page))
        .route("/ui/approvals/{ws}/sites/import", post(import))
}

#[derive(Deserialize, Default)]
pub struct SitesQuery {
    region: Option<String>,
    cluster_code: Option<String>,
    cursor: Option<String>,
}

/// The CSV columns the import reads (the first two required).
const COLUMNS: &str =
    "site_id, site_name, region, city, cluster_code, ne_latitude, ne_longitude, fe_latitude, fe_longitude, scope, status";

fn sites_table(lang: Lang, items: &[Value]) -> Markup {
    html! {
        table class="data" id="sites" {
            caption { (t(lang, "sites.list")) }
            thead { tr {
                th scope="col" { (t(lang, "sites.site_id")) }
                th scope="col" { (t(lang, "sites.name")) }
                th scope="col" { (t(lang, "sites.region")) }
                th scope="col" { (t(lang, "sites.city")) }
                th scope="col" { (t(lang, "sites.cluster")) }
                th scope="col" { (t(lang, "sites.scope")) }
                th scope="col" { (t(lang, "common.status")) }
            } }
            tbody {
                @for si in items {
                    tr {
                        td { (text(&si["site_id"])) }
                        td { (text(&si["site_name"])) }
                        td { (text(&si["region"])) }
                        td { (text(&si["city"])) }
                        td { (text(&si["cluster_code"])) }
                        td { (text(&si["scope"])) }
                        td { (text(&si["status"])) }
                    }
                }
            }
        }
    }
}

fn import_report(lang: Lang, r: &Value) -> Markup {
    let warnings = r["warnings"].as_array().cloned().unwrap_or_default();
    html! {
        section aria-labelledby="import-h" id="import-report" {
            h2 id="import-h" { (t(lang, "sites.report")) }
            dl class="facts" {
                dt { (t(lang, "sites.rows")) } dd id="import-rows" { (text(&r["rows"])) }
                dt { (t(lang, "sites.inserted")) } dd id="import-inserted" { (text(&r["inserted"])) }
                dt { (t(lang, "sites.updated")) } dd id="import-updated" { (text(&r["updated"])) }
            }
            @if !warnings.is_empty() {
                table class="data" {
                    caption { (t(lang, "sites.warnings")) }
                    thead { tr {
                        th scope="col" { (t(lang, "atp_config.row")) }
                        th scope="col" { (t(lang, "atp_config.column")) }
                        th scope="col" { (t(lang, "atp_config.reason")) }
                    } }
                    tbody { @for w in &warnings { tr { td { (text(&w["row"])) } td { (text(&w["column"])) } td { (text(&w["reason"])) } } } }
                }
            }
        }
    }
}

async fn render(
    web: &WebState,
    s: &Session,
    ws: &str,
    q: &SitesQuery,
    outcome: Option<Markup>,
) -> Response {
    let lang = s.lang;
    let title = format!("{} · {}", t(lang, "sites.title"), ws);
    let mut query = String::from("?limit=100");
    for (k, v) in [
        ("region", &q.region),
        ("cluster_code", &q.cluster_code),
        ("cursor", &q.cursor),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            query.push_str(&format!("&{k}={}", enc(v)));
        }
    }
    let list = web
        .api
        .get(&s.cx, &api_ws(ws, &format!("/sites{query}")))
        .await;
    let items = list.body["items"].as_array().cloned().unwrap_or_default();
    let next = list.body["next_cursor"].as_str().map(|c| {
        let mut href = format!("{}?cursor={}", ui_ws(ws, "/sites"), enc(c));
        for (k, v) in [("region", &q.region), ("cluster_code", &q.cluster_code)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                href.push_str(&format!("&{k}={}", enc(v)));
            }
        }
        href
    });
    let body = html! {
        (ws_links(lang, ws, "sites"))
        @if let Some(o) = &outcome { (o) }
        form method="get" action=(ui_ws(ws, "/sites")) class="filters" role="search" {
            div {
                label for="region" { (t(lang, "sites.region")) }
                input id="region" name="region" maxlength="100" value=[q.region.as_deref()];
            }
            div {
                label for="cluster_code" { (t(lang, "sites.cluster")) }
                input id="cluster_code" name="cluster_code" maxlength="50" value=[q.cluster_code.as_deref()];
            }
            div { button type="submit" { (t(lang, "common.search")) } }
        }
        @if !list.ok() { (layout::refusal(&list.problem_text())) }
        @else if items.is_empty() { p { (t(lang, "common.none")) } }
        @else { (sites_table(lang, &items)) }
        @if let Some(href) = &next { p { a href=(href) id="next-page" { (t(lang, "common.next")) } } }
        section aria-labelledby="import-form-h" {
            h2 id="import-form-h" { (t(lang, "sites.import")) }
            p class="hint" id="csv-hint" { (t(lang, "sites.import_hint")) " " code { (COLUMNS) } }
            form method="post" enctype="multipart/form-data" action=(format!("{}?_csrf={}", ui_ws(ws, "/sites/import"), enc(&s.csrf))) class="stack narrow" id="import-form" {
                label for="sites-file" { (t(lang, "sites.file")) }
                input type="file" id="sites-file" name="sites" accept=".csv,text/csv" required aria-describedby="csv-hint";
                button type="submit" class="primary" id="import" { (t(lang, "sites.import_button")) }
            }
        }
    };
    layout::page(web, s, Nav::Approvals, &title, body)
}

async fn sites_page(
    State(web): State<WebState>,
    s: Session,
    Path(ws): Path<String>,
    Query(q): Query<SitesQuery>,
) -> Response {
    render(&web, &s, &ws, &q, None).await
}

/// The browser's multipart body, passed to the API's import as it came.
async fn import(
    State(web): State<WebState>,
    s: Session,
    Path(ws): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let r = web
        .api
        .send(
            &s.cx,
            Method::POST,
            &api_ws(&ws, "/sites/import"),
            ct.as_deref(),
            body.to_vec(),
            None,
        )
        .await;
    let outcome = if r.ok() {
        import_report(s.lang, &r.body)
    } else {
        layout::refusal(&r.problem_text())
    };
    let mut res = render(&web, &s, &ws, &SitesQuery::default(), Some(outcome)).await;
    if !r.ok() && res.status() == StatusCode::OK {
        *res.status_mut() = r.status;
    }
    res
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("sites.title", "Sites", "사이트"),
    ("sites.list", "Sites", "사이트 목록"),
    ("sites.site_id", "Site id", "사이트 ID"),
    ("sites.name", "Name", "이름"),
    ("sites.region", "Region", "지역"),
    ("sites.city", "City", "도시"),
    ("sites.cluster", "Cluster", "클러스터"),
    ("sites.scope", "Scope", "범위"),
    ("sites.import", "Import sites from CSV", "CSV로 사이트 가져오기"),
    ("sites.import_hint", "A CSV file with a header row; site_id and site_name are required, existing sites are updated. Columns:", "머리글 행이 있는 CSV 파일. site_id와 site_name은 필수이며, 기존 사이트는 갱신됩니다. 열:"),
    ("sites.file", "CSV file", "CSV 파일"),
    ("sites.import_button", "Import", "가져오기"),
    ("sites.report", "Import report", "가져오기 결과"),
    ("sites.rows", "Rows read", "읽은 행"),
    ("sites.inserted", "Inserted", "추가"),
    ("sites.updated", "Updated", "갱신"),
    ("sites.warnings", "Warnings (imported all the same)", "경고 (가져오기는 완료됨)"),
];
