//! The supervisor's dashboard: today's throughput and first-pass yield per process, WIP per process, defects by
//! code, and the open lots with their progress. It redraws itself when the database says station work happened
//! (server-sent events from [`crate::live`], fed by LISTEN / NOTIFY), never by polling: the page script opens
//! `/ui/dashboard/events` and, on each `changed` event, fetches `/ui/dashboard/fragment` and swaps it in.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde_json::Value;

use crate::i18n::t;
use crate::layout::{self, Nav};
use crate::pages::station::process_name;
use crate::session::Session;
use crate::svg;
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/dashboard", get(page))
        .route("/ui/dashboard/fragment", get(fragment))
        .route("/ui/dashboard/events", get(events))
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1} %", v * 100.0))
        .unwrap_or_else(|| "—".into())
}

async fn live_section(web: &WebState, s: &Session) -> Markup {
    let lang = s.lang;
    let (dash, lots, procs) = tokio::join!(
        web.api.get(&s.cx, "/api/v1/dashboard"),
        web.api
            .get(&s.cx, "/api/v1/lots?status=IN_PROGRESS&limit=20"),
        web.api.get(&s.cx, "/api/v1/processes"),
    );
    if !dash.ok() {
        return layout::refusal(&dash.problem_text());
    }
    let empty = Vec::new();
    let stats = dash.body["processes"].as_array().unwrap_or(&empty);
    let procs = procs.body["items"].as_array().cloned().unwrap_or_default();
    let name = |id: &Value| {
        procs
            .iter()
            .find(|p| &p["id"] == id)
            .map(|p| process_name(lang, p))
            .unwrap_or_default()
    };
    let throughput: Vec<(String, f64)> = stats
        .iter()
        .map(|p| {
            (
                name(&p["process_id"]),
                p["completed"].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    let wip: Vec<(String, f64)> = stats
        .iter()
        .map(|p| {
            (
                name(&p["process_id"]),
                p["open_wip"].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    let defects: Vec<(String, f64)> = dash.body["defects"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or("").to_string(),
                d["count"].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    let total: i64 = stats.iter().filter_map(|p| p["completed"].as_i64()).sum();
    let lots = lots.body["items"].as_array().cloned().unwrap_or_default();
    html! {
        section id="live" data-live="/ui/dashboard/events" data-fragment="/ui/dashboard/fragment" aria-live="polite" {
            p class="kpi" { (t(lang, "dash.date")) " " strong { (dash.body["date"].as_str().unwrap_or("")) } " · "
                (t(lang, "dash.total")) " " strong id="total-completed" { (total) } }
            div class="grid" {
                figure {
                    figcaption { h2 { (t(lang, "dash.throughput")) } }
                    (svg::bars(t(lang, "dash.throughput"), &throughput, ""))
                }
                figure {
                    figcaption { h2 { (t(lang, "dash.wip")) } }
                    (svg::bars(t(lang, "dash.wip"), &wip, ""))
                }
            }
            table class="data" id="process-table" {
                caption { (t(lang, "dash.by_process")) }
                thead { tr {
                    th scope="col" { (t(lang, "station.process")) }
                    th scope="col" class="num" { (t(lang, "dash.completed")) }
                    th scope="col" class="num" { "PASS" } th scope="col" class="num" { "FAIL" } th scope="col" class="num" { "REWORK" }
                    th scope="col" class="num" { (t(lang, "dash.fpy")) }
                    th scope="col" class="num" { (t(lang, "dash.wip_short")) }
                } }
                tbody {
                    @for p in stats {
                        tr data-process=(p["process_number"]) {
                            th scope="row" { (name(&p["process_id"])) }
                            td class="num completed" { (p["completed"]) }
                            td class="num" { (p["pass"]) } td class="num" { (p["fail"]) } td class="num" { (p["rework"]) }
                            td class="num" { (pct(p["first_pass_yield"].as_f64())) }
                            td class="num" { (p["open_wip"]) }
                        }
                    }
                }
            }
            h2 { (t(lang, "dash.defects")) }
            @if defects.is_empty() { p { (t(lang, "common.none")) } } @else { (svg::bars(t(lang, "dash.defects"), &defects, "")) }
            h2 { (t(lang, "dash.open_lots")) }
            @if lots.is_empty() { p { (t(lang, "common.none")) } }
            ul class="lots" {
                @for l in &lots {
                    @let done = l["serial_counts"]["completed"].as_i64().unwrap_or(0);
                    @let target = l["target_quantity"].as_i64().unwrap_or(0).max(1);
                    li {
                        a href=(format!("/ui/lots/{}", l["id"])) { (l["lot_number"].as_str().unwrap_or("")) }
                        " " (l["model_code"].as_str().unwrap_or(""))
                        progress value=(done.min(target)) max=(target) aria-label=(format!("{} {done}/{target}", l["lot_number"].as_str().unwrap_or(""))) { (done) "/" (target) }
                        span class="num" { (done) " / " (target) }
                    }
                }
            }
        }
    }
}

async fn page(State(web): State<WebState>, s: Session) -> Response {
    let section = live_section(&web, &s).await;
    layout::page(&web, &s, Nav::Dashboard, t(s.lang, "dash.title"), section)
}

async fn fragment(State(web): State<WebState>, s: Session) -> Response {
    Html(live_section(&web, &s).await.into_string()).into_response()
}

async fn events(State(web): State<WebState>, _s: Session) -> Response {
    crate::live::stream(web.live.subscribe()).into_response()
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("dash.title", "Line dashboard", "라인 대시보드"),
    ("dash.date", "Day", "일자"),
    ("dash.total", "completed today", "오늘 완료"),
    (
        "dash.throughput",
        "Completed today by process",
        "공정별 오늘 완료 수",
    ),
    ("dash.wip", "Work in process by process", "공정별 재공"),
    ("dash.by_process", "Today by process", "공정별 오늘 현황"),
    ("dash.completed", "Completed", "완료"),
    ("dash.fpy", "First-pass yield", "직행률"),
    ("dash.wip_short", "WIP", "재공"),
    ("dash.defects", "Defects by code", "불량 코드별"),
    ("dash.open_lots", "Open lots", "진행 중 LOT"),
];
