//! Lots and units: the filterable lot list (keyset pages over `GET /api/v1/lots`), one lot with its per-process
//! progress and its units (`GET /api/v1/lots/{id}`, `GET /api/v1/wip-items?lot_id=`), and the unit lists
//! (`GET /api/v1/wip-items`, `GET /api/v1/serials`). Filters are GET forms whose fields are the API's query
//! parameters, passed through as typed: the API validates them and its refusal is shown with the form kept.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use crate::api::enc;
use crate::i18n::{t, Lang};
use crate::layout::{self, Nav};
use crate::session::Session;
use crate::svg;
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/lots", get(list_page))
        .route("/ui/lots/{id}", get(lot_page))
        .route("/ui/units", get(units_page))
}

/// A query string of the non-empty `(name, value)` pairs, each value percent-encoded ("" when none is left).
pub fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", enc(v)))
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// A "Next page" link: this page's query with the API's `next_cursor` as `cursor`.
pub fn next_link(lang: Lang, base: &str, pairs: &[(&str, Option<&str>)], reply: &Value) -> Markup {
    let Some(cursor) = reply["next_cursor"].as_str() else {
        return html! {};
    };
    let mut pairs: Vec<(&str, Option<&str>)> = pairs
        .iter()
        .filter(|(k, _)| *k != "cursor")
        .cloned()
        .collect();
    pairs.push(("cursor", Some(cursor)));
    html! { p class="pager" { a href=(format!("{base}{}", query(&pairs))) rel="next" id="next-page" { (t(lang, "common.next")) } } }
}

fn txt(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// A `<progress>` of `done` out of `max`, with its figures in text beside it (not colour alone).
pub fn progress(label: &str, done: i64, max: i64) -> Markup {
    let max = max.max(1);
    html! {
        progress value=(done.clamp(0, max)) max=(max) aria-label=(format!("{label} {done}/{max}")) { (done) "/" (max) }
        " " span class="num" { (done) " / " (max) }
    }
}

const LOT_STATUSES: &[&str] = &["CREATED", "IN_PROGRESS", "ON_HOLD", "COMPLETED", "CLOSED"];

#[derive(Deserialize, Default)]
pub struct LotQuery {
    status: Option<String>,
    product_model_id: Option<String>,
    date_from: Option<String>,
    date_to: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

impl LotQuery {
    fn pairs(&self) -> Vec<(&'static str, Option<&str>)> {
        vec![
            ("status", self.status.as_deref()),
            ("product_model_id", self.product_model_id.as_deref()),
            ("date_from", self.date_from.as_deref()),
            ("date_to", self.date_to.as_deref()),
            ("q", self.q.as_deref()),
            ("sort", self.sort.as_deref()),
            ("order", self.order.as_deref()),
            ("limit", self.limit.as_deref()),
            ("cursor", self.cursor.as_deref()),
        ]
    }
}

fn select(
    id: &str,
    label: &str,
    current: Option<&str>,
    any: &str,
    options: &[(String, String)],
) -> Markup {
    html! {
        div {
            label for=(id) { (label) }
            select id=(id) name=(id) {
                option value="" { (any) }
                @for (v, text) in options {
                    option value=(v) selected[current == Some(v.as_str())] { (text) }
                }
            }
        }
    }
}

fn lot_filters(lang: Lang, q: &LotQuery, models: &[Value]) -> Markup {
    let statuses: Vec<(String, String)> = LOT_STATUSES
        .iter()
        .map(|s| (s.to_string(), s.to_string()))
        .collect();
    let models: Vec<(String, String)> = models
        .iter()
        .map(|m| {
            (
                m["id"].to_string(),
                format!("{} {}", txt(&m["model_code"]), txt(&m["model_name"])),
            )
        })
        .collect();
    let sorts: Vec<(String, String)> = [
        ("created_at", "lots.sort_created"),
        ("production_date", "lots.sort_date"),
        ("lot_number", "lots.sort_number"),
    ]
    .iter()
    .map(|(v, k)| (v.to_string(), t(lang, k).to_string()))
    .collect();
    let orders: Vec<(String, String)> = [("asc", "lots.asc"), ("desc", "lots.desc")]
        .iter()
        .map(|(v, k)| (v.to_string(), t(lang, k).to_string()))
        .collect();
    html! {
        form method="get" action="/ui/lots" class="filters" role="search" aria-label=(t(lang, "lots.filters")) {
            div {
                label for="q" { (t(lang, "lots.q")) }
                input id="q" name="q" value=[q.q.as_deref()] autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="13";
            }
            (select("status", t(lang, "common.status"), q.status.as_deref(), t(lang, "lots.any"), &statuses))
            (select("product_model_id", t(lang, "lots.model"), q.product_model_id.as_deref(), t(lang, "lots.any"), &models))
            div {
                label for="date_from" { (t(lang, "lots.date_from")) }
                input id="date_from" name="date_from" type="date" value=[q.date_from.as_deref()];
            }
            div {
                label for="date_to" { (t(lang, "lots.date_to")) }
                input id="date_to" name="date_to" type="date" value=[q.date_to.as_deref()];
            }
            (select("sort", t(lang, "lots.sort"), q.sort.as_deref(), t(lang, "lots.default"), &sorts))
            (select("order", t(lang, "lots.order"), q.order.as_deref(), t(lang, "lots.default"), &orders))
            @if let Some(l) = q.limit.as_deref().filter(|l| !l.is_empty()) { input type="hidden" name="limit" value=(l); }
            div { button type="submit" class="primary" { (t(lang, "common.search")) } }
        }
    }
}

async fn list_page(State(web): State<WebState>, s: Session, Query(q): Query<LotQuery>) -> Response {
    let lang = s.lang;
    let path = format!("/api/v1/lots{}", query(&q.pairs()));
    let (lots, models) = tokio::join!(
        web.api.get(&s.cx, &path),
        web.api.get(&s.cx, "/api/v1/product-models?limit=500")
    );
    let models = models.body["items"].as_array().cloned().unwrap_or_default();
    let items = lots.body["items"].as_array().cloned().unwrap_or_default();
    let body = html! {
        (lot_filters(lang, &q, &models))
        @if !lots.ok() { (layout::refusal(&lots.problem_text())) }
        @else if items.is_empty() { p { (t(lang, "common.none")) } }
        @else {
            table class="data" id="lots-table" {
                caption { (t(lang, "lots.caption")) }
                thead { tr {
                    th scope="col" { (t(lang, "lots.number")) }
                    th scope="col" { (t(lang, "lots.model")) }
                    th scope="col" { (t(lang, "lots.date")) }
                    th scope="col" { (t(lang, "common.status")) }
                    th scope="col" { (t(lang, "lots.progress")) }
                } }
                tbody {
                    @for l in &items {
                        @let number = txt(&l["lot_number"]);
                        tr data-lot=(number) {
                            th scope="row" { a href=(format!("/ui/lots/{}", l["id"])) { (number) } }
                            td { (txt(&l["model_code"])) " " (txt(&l["model_name"])) }
                            td { (txt(&l["production_date"])) }
                            td { (txt(&l["status"])) }
                            td { (progress(number, l["serial_counts"]["completed"].as_i64().unwrap_or(0), l["target_quantity"].as_i64().unwrap_or(0))) }
                        }
                    }
                }
            }
            (next_link(lang, "/ui/lots", &q.pairs(), &lots.body))
        }
    };
    let mut res = layout::page(&web, &s, Nav::Lots, t(lang, "lots.title"), body);
    if !lots.ok() {
        *res.status_mut() = lots.status;
    }
    res
}

#[derive(Deserialize, Default)]
pub struct LotPageQuery {
    cursor: Option<String>,
}

fn unit_links(w: &Value) -> Markup {
    html! {
        td { a href=(format!("/ui/trace{}", query(&[("code", w["wip_id"].as_str())]))) { (txt(&w["wip_id"])) } }
        td {
            @if let Some(sn) = w["serial_number"].as_str() {
                a href=(format!("/ui/trace{}", query(&[("code", Some(sn))]))) { (sn) }
            } @else { "—" }
        }
    }
}

async fn lot_page(
    State(web): State<WebState>,
    s: Session,
    Path(id): Path<i64>,
    Query(q): Query<LotPageQuery>,
) -> Response {
    let lang = s.lang;
    let id_s = id.to_string();
    let pairs = [
        ("lot_id", Some(id_s.as_str())),
        ("limit", Some("100")),
        ("cursor", q.cursor.as_deref()),
    ];
    let (lot_path, units_path) = (
        format!("/api/v1/lots/{id}"),
        format!("/api/v1/wip-items{}", query(&pairs)),
    );
    let (lot, units) = tokio::join!(
        web.api.get(&s.cx, &lot_path),
        web.api.get(&s.cx, &units_path)
    );
    if !lot.ok() {
        let mut res = layout::page(
            &web,
            &s,
            Nav::Lots,
            t(lang, "lots.title"),
            layout::refusal(&lot.problem_text()),
        );
        *res.status_mut() = lot.status;
        return res;
    }
    let l = &lot.body;
    let target = l["target_quantity"].as_i64().unwrap_or(0);
    let empty = Vec::new();
    let procs = l["processes"].as_array().unwrap_or(&empty);
    let passed: Vec<(String, f64)> = procs
        .iter()
        .map(|p| {
            (
                format!("{} {}", p["process_number"], txt(&p["process_code"])),
                p["passed"].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    let title = format!("{} {}", t(lang, "lots.lot"), txt(&l["lot_number"]));
    let items = units.body["items"].as_array().cloned().unwrap_or_default();
    let body = html! {
        dl class="facts" {
            dt { (t(lang, "lots.model")) } dd { (txt(&l["model_code"])) " " (txt(&l["model_name"])) }
            dt { (t(lang, "lots.line")) } dd { (txt(&l["country_code"])) (txt(&l["line_code"])) }
            dt { (t(lang, "lots.date")) } dd { (txt(&l["production_date"])) @if let Some(sh) = l["shift"].as_str() { " · " (t(lang, "lots.shift")) " " (sh) } }
            dt { (t(lang, "common.status")) } dd id="lot-status" { (txt(&l["status"])) }
            dt { (t(lang, "lots.target")) } dd { (target) }
            dt { (t(lang, "lots.progress")) } dd { (progress(txt(&l["lot_number"]), l["serial_counts"]["completed"].as_i64().unwrap_or(0), target)) }
            dt { "WIP" } dd { (l["wip_counts"]["total"]) " (" (t(lang, "lots.failed")) " " (l["wip_counts"]["failed"]) ", " (t(lang, "lots.scrapped")) " " (l["wip_counts"]["scrapped"]) ")" }
            dt { (t(lang, "lots.serials")) } dd { (l["serial_counts"]["total"]) }
            @if let Some(n) = l["notes"].as_str() { dt { (t(lang, "lots.notes")) } dd { (n) } }
        }
        h2 id="per-process" { (t(lang, "lots.per_process")) }
        figure {
            (svg::bars(t(lang, "lots.passed_chart"), &passed, ""))
        }
        table class="data" id="process-progress" {
            caption { (t(lang, "lots.per_process_caption")) }
            thead { tr {
                th scope="col" { (t(lang, "lots.process")) }
                th scope="col" { (t(lang, "lots.passed")) }
                th scope="col" class="num" { "FAIL" }
                th scope="col" class="num" { "REWORK" }
                th scope="col" class="num" { (t(lang, "lots.open")) }
            } }
            tbody {
                @for p in procs {
                    @let name = format!("{} {}", p["process_number"], txt(&p["process_code"]));
                    tr data-process=(p["process_number"]) {
                        th scope="row" { (name) }
                        td class="passed" { (progress(&name, p["passed"].as_i64().unwrap_or(0), target)) }
                        td class="num failed" { (p["failed"]) }
                        td class="num" { (p["rework"]) }
                        td class="num" { (p["open"]) }
                    }
                }
            }
        }
        h2 id="units" { (t(lang, "lots.units")) }
        @if !units.ok() { (layout::refusal(&units.problem_text())) }
        @else if items.is_empty() { p { (t(lang, "common.none")) } }
        @else {
            table class="data" id="lot-units" {
                caption { (t(lang, "lots.units_caption")) }
                thead { tr {
                    th scope="col" { "WIP" }
                    th scope="col" { (t(lang, "lots.serial")) }
                    th scope="col" { (t(lang, "common.status")) }
                    th scope="col" { (t(lang, "lots.current_process")) }
                    th scope="col" class="num" { (t(lang, "lots.reworks")) }
                } }
                tbody {
                    @for w in &items {
                        tr {
                            (unit_links(w))
                            td { (txt(&w["status"])) }
                            td { @if w["current_process_number"].is_null() { "—" } @else { (w["current_process_number"]) " " (txt(&w["current_process_code"])) } }
                            td class="num" { (w["rework_count"]) }
                        }
                    }
                }
            }
            (next_link(lang, &format!("/ui/lots/{id}"), &[("cursor", q.cursor.as_deref())], &units.body))
        }
    };
    layout::page(&web, &s, Nav::Lots, &title, body)
}

#[derive(Deserialize, Default)]
pub struct UnitQuery {
    kind: Option<String>,
    lot_id: Option<String>,
    status: Option<String>,
    q: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

const UNIT_STATUSES: &[&str] = &[
    "CREATED",
    "IN_PROGRESS",
    "FAILED",
    "CONVERTED",
    "COMPLETED",
    "SCRAPPED",
];

/// WIP items or serials with the API's filters (lot, status, code prefix).
async fn units_page(
    State(web): State<WebState>,
    s: Session,
    Query(q): Query<UnitQuery>,
) -> Response {
    let lang = s.lang;
    let serials = q.kind.as_deref() == Some("serial");
    let pairs = [
        ("lot_id", q.lot_id.as_deref()),
        ("status", q.status.as_deref()),
        ("q", q.q.as_deref()),
        ("limit", q.limit.as_deref()),
        ("cursor", q.cursor.as_deref()),
    ];
    let endpoint = if serials {
        "/api/v1/serials"
    } else {
        "/api/v1/wip-items"
    };
    let r = web
        .api
        .get(&s.cx, &format!("{endpoint}{}", query(&pairs)))
        .await;
    let items = r.body["items"].as_array().cloned().unwrap_or_default();
    let statuses: Vec<(String, String)> = UNIT_STATUSES
        .iter()
        .map(|s| (s.to_string(), s.to_string()))
        .collect();
    let kinds = vec![
        ("wip".to_string(), "WIP".to_string()),
        ("serial".to_string(), t(lang, "lots.serials").to_string()),
    ];
    let mut all = vec![("kind", q.kind.as_deref())];
    all.extend_from_slice(&pairs);
    let body = html! {
        form method="get" action="/ui/units" class="filters" role="search" aria-label=(t(lang, "lots.filters")) {
            div {
                label for="kind" { (t(lang, "lots.kind")) }
                select id="kind" name="kind" {
                    @for (v, text) in &kinds { option value=(v) selected[q.kind.as_deref().unwrap_or("wip") == v] { (text) } }
                }
            }
            div {
                label for="q" { (t(lang, "lots.code_prefix")) }
                input id="q" name="q" value=[q.q.as_deref()] autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="21";
            }
            (select("status", t(lang, "common.status"), q.status.as_deref(), t(lang, "lots.any"), &statuses))
            div {
                label for="lot_id" { (t(lang, "lots.lot_id")) }
                input id="lot_id" name="lot_id" inputmode="numeric" value=[q.lot_id.as_deref()];
            }
            div { button type="submit" class="primary" { (t(lang, "common.search")) } }
        }
        @if !r.ok() { (layout::refusal(&r.problem_text())) }
        @else if items.is_empty() { p { (t(lang, "common.none")) } }
        @else {
            table class="data" id="units-table" {
                caption { (t(lang, "lots.units_caption")) }
                thead { tr {
                    th scope="col" { "WIP" }
                    th scope="col" { (t(lang, "lots.serial")) }
                    th scope="col" { (t(lang, "lots.lot")) }
                    th scope="col" { (t(lang, "common.status")) }
                    th scope="col" { @if serials { (t(lang, "lots.reached")) } @else { (t(lang, "lots.current_process")) } }
                } }
                tbody {
                    @for w in &items {
                        tr {
                            (unit_links(w))
                            td { a href=(format!("/ui/lots/{}", w["lot_id"])) { (txt(&w["lot_number"])) } }
                            td { (txt(&w["status"])) }
                            td { @if serials { (w["process_reached"]) } @else if w["current_process_number"].is_null() { "—" } @else { (w["current_process_number"]) " " (txt(&w["current_process_code"])) } }
                        }
                    }
                }
            }
            (next_link(lang, "/ui/units", &all, &r.body))
        }
    };
    let mut res = layout::page(&web, &s, Nav::Lots, t(lang, "lots.units"), body);
    if !r.ok() {
        *res.status_mut() = if r.status.is_client_error() {
            r.status
        } else {
            StatusCode::BAD_GATEWAY
        };
    }
    res
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("lots.title", "Lots", "LOT 목록"),
    ("lots.lot", "Lot", "LOT"),
    ("lots.filters", "Filter", "필터"),
    ("lots.q", "Lot number starts with", "LOT 번호 시작"),
    ("lots.any", "Any", "전체"),
    ("lots.default", "Default", "기본"),
    ("lots.model", "Product model", "제품 모델"),
    ("lots.date_from", "Production date from", "생산일 시작"),
    ("lots.date_to", "Production date to", "생산일 끝"),
    ("lots.sort", "Sort by", "정렬 기준"),
    ("lots.sort_created", "Created", "생성 시각"),
    ("lots.sort_date", "Production date", "생산일"),
    ("lots.sort_number", "Lot number", "LOT 번호"),
    ("lots.order", "Order", "순서"),
    ("lots.asc", "Ascending", "오름차순"),
    ("lots.desc", "Descending", "내림차순"),
    (
        "lots.caption",
        "Lots matching the filter",
        "필터에 맞는 LOT",
    ),
    ("lots.number", "Lot number", "LOT 번호"),
    ("lots.date", "Production date", "생산일"),
    (
        "lots.progress",
        "Completed serials / target",
        "완료 시리얼 / 목표",
    ),
    ("lots.line", "Line", "라인"),
    ("lots.shift", "shift", "근무조"),
    ("lots.target", "Target quantity", "목표 수량"),
    ("lots.failed", "failed", "불합격"),
    ("lots.scrapped", "scrapped", "폐기"),
    ("lots.serials", "Serials", "시리얼"),
    ("lots.serial", "Serial", "시리얼"),
    ("lots.notes", "Notes", "메모"),
    ("lots.per_process", "Progress by process", "공정별 진행"),
    (
        "lots.per_process_caption",
        "Units by the result of their latest record at each process",
        "공정별 최근 기록 결과에 따른 단위 수",
    ),
    (
        "lots.passed_chart",
        "Units passed by process",
        "공정별 합격 단위 수",
    ),
    ("lots.process", "Process", "공정"),
    ("lots.passed", "PASS / target", "합격 / 목표"),
    ("lots.open", "Open", "진행 중"),
    ("lots.units", "Units", "단위 목록"),
    (
        "lots.units_caption",
        "Units (each links to its trace)",
        "단위 (추적 화면으로 연결)",
    ),
    ("lots.current_process", "Current process", "현재 공정"),
    ("lots.reached", "Process reached", "도달 공정"),
    ("lots.reworks", "Reworks", "재작업"),
    ("lots.kind", "Kind", "종류"),
    ("lots.code_prefix", "Code starts with", "코드 시작"),
    ("lots.lot_id", "Lot id", "LOT id"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keeps_filled_values_encoded() {
        assert_eq!(
            query(&[("q", Some("KR 01")), ("status", Some("")), ("x", None)]),
            "?q=KR%2001"
        );
        assert_eq!(query(&[("q", None)]), "");
    }

    #[test]
    fn next_link_replaces_the_cursor() {
        let reply = serde_json::json!({ "next_cursor": "abc=" });
        let html = next_link(
            Lang::En,
            "/ui/lots",
            &[("q", Some("KR")), ("cursor", Some("old"))],
            &reply,
        )
        .into_string();
        assert!(
            html.contains("href=\"/ui/lots?q=KR&amp;cursor=abc%3D\""),
            "{html}"
        );
        assert_eq!(
            next_link(Lang::En, "/ui/lots", &[], &serde_json::json!({})).into_string(),
            ""
        );
    }
}
