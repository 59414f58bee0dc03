//! The trace of one unit: scan or type a serial or WIP id, see every record of it in order — process, attempt,
//! result, operator, equipment, times, measurements against their limits (the record's `criteria_check`, failed
//! ones marked in words and colour) and defects. What the code is comes from `GET /api/v1/scan/{code}` (its
//! `kind`), never from a copy of the code format rules; the trace is `GET /api/v1/trace/wip-items/{wip_id}` or
//! `GET /api/v1/trace/serials/{serial_number}`. A lot number goes to the lot's page.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use crate::api::enc;
use crate::i18n::{t, Lang};
use crate::layout::{self, Nav};
use crate::pages::lots::query;
use crate::session::Session;
use crate::svg::fmt;
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new().route("/ui/trace", get(trace_page))
}

#[derive(Deserialize, Default)]
pub struct TraceQuery {
    code: Option<String>,
}

fn txt(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn search_form(lang: Lang, code: &str) -> Markup {
    html! {
        form method="get" action="/ui/trace" class="scan" role="search" {
            label for="code" { (t(lang, "trace.scan")) }
            div class="row" {
                input id="code" name="code" class="big" autocomplete="off" autocapitalize="characters" spellcheck="false"
                    required maxlength="64" value=(code) autofocus data-scan;
                button type="submit" class="big" { (t(lang, "trace.lookup")) }
            }
        }
    }
}

/// A time of the API (RFC 3339) as people read it, to the second in UTC, inside a `<time>` carrying the exact
/// value; anything else as given.
pub fn when(v: &Value) -> Markup {
    let Some(raw) = v.as_str() else {
        return html! { "—" };
    };
    match chrono::DateTime::parse_from_rfc3339(raw) {
        Ok(t) => {
            html! { time datetime=(raw) { (t.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M:%S UTC")) } }
        }
        Err(_) => html! { (raw) },
    }
}

/// A number or a boolean as measured, anything else as text.
fn value_text(v: &Value) -> String {
    match v {
        Value::Number(n) => n.as_f64().map(fmt).unwrap_or_else(|| n.to_string()),
        Value::String(x) => x.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// The measurements of a record against their limits: the criteria check's entries, then measurements no
/// criterion covers.
fn measurements(lang: Lang, rec: &Value, caption: &str, lot_id: &Value) -> Markup {
    let check = rec["criteria_check"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let measured = rec["measurements"].as_object().cloned().unwrap_or_default();
    if check.is_empty() && measured.is_empty() {
        return html! {};
    }
    let unchecked: Vec<(&String, &Value)> = measured
        .iter()
        .filter(|(k, _)| !check.contains_key(*k))
        .collect();
    html! {
        table class="data measurements" {
            caption { (caption) }
            thead { tr {
                th scope="col" { (t(lang, "trace.measurement")) }
                th scope="col" class="num" { (t(lang, "trace.value")) }
                th scope="col" class="num" { (t(lang, "trace.min")) }
                th scope="col" class="num" { (t(lang, "trace.max")) }
                th scope="col" { (t(lang, "trace.check")) }
            } }
            tbody {
                @for (name, c) in &check {
                    @let failed = c["passed"] == Value::Bool(false);
                    tr class=[failed.then_some("out")] data-measurement=(name) {
                        th scope="row" { a href=(chart_href(rec, name, lot_id)) title=(t(lang, "trace.chart")) { (name) } }
                        td class="num" { (value_text(&c["value"])) @if let Some(u) = c["unit"].as_str() { " " (u) } }
                        td class="num" { (value_text(&c["min"])) }
                        td class="num" { (value_text(&c["max"])) }
                        td {
                            @if failed {
                                strong class="flag" { (t(lang, "trace.out")) }
                                @if let Some(r) = c["reason"].as_str() { " — " (r) }
                            } @else if c["passed"] == Value::Bool(true) {
                                (t(lang, "trace.within"))
                            } @else {
                                (t(lang, "trace.not_checked")) @if let Some(r) = c["reason"].as_str() { " — " (r) }
                            }
                        }
                    }
                }
                @for (name, v) in unchecked {
                    tr data-measurement=(name) {
                        th scope="row" { (name) }
                        td class="num" { (value_text(v)) }
                        td class="num" { "—" } td class="num" { "—" }
                        td { (t(lang, "trace.no_criterion")) }
                    }
                }
            }
        }
    }
}

/// The recall of what the record's operator or equipment (`field` = `id`) touched within 12 hours of its start
/// (the window the recall form reads: `datetime-local` values in UTC).
fn recall_href(rec: &Value, field: &str, id: &Value) -> Option<String> {
    let id = id.as_i64()?.to_string();
    let started = chrono::DateTime::parse_from_rfc3339(rec["started_at"].as_str()?)
        .ok()?
        .with_timezone(&chrono::Utc);
    let f = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M").to_string();
    let (from, to) = (
        f(started - chrono::Duration::hours(12)),
        f(started + chrono::Duration::hours(12)),
    );
    Some(format!(
        "/ui/recall{}",
        query(&[(field, Some(&id)), ("from", Some(&from)), ("to", Some(&to))])
    ))
}

/// The chart of this measurement at this record's process, in this lot.
fn chart_href(rec: &Value, name: &str, lot_id: &Value) -> String {
    let process = rec["process_number"].to_string();
    let lot = lot_id.to_string();
    format!(
        "/ui/chart{}",
        query(&[
            ("process", Some(&process)),
            ("measurement", Some(name)),
            ("lot", Some(&lot))
        ])
    )
}

fn defects(lang: Lang, rec: &Value) -> Markup {
    let Some(list) = rec["defects"].as_array().filter(|d| !d.is_empty()) else {
        return html! {};
    };
    html! {
        div class="defects" {
            strong { (t(lang, "trace.defects")) }
            ul {
                @for d in list {
                    li { span class="badge" { (txt(&d["severity"])) } " " strong { (txt(&d["code"])) } " — " (txt(&d["description"])) }
                }
            }
        }
    }
}

fn record(lang: Lang, rec: &Value, lot_id: &Value) -> Markup {
    let result = rec["result"].as_str();
    let heading = format!(
        "{} {} · {} {} · {}",
        rec["process_number"],
        txt(&rec["process_code"]),
        t(lang, "trace.attempt"),
        rec["attempt"],
        result.unwrap_or(t(lang, "trace.open"))
    );
    let class = match result {
        Some("PASS") => "record pass",
        Some("FAIL") => "record fail",
        Some(_) => "record rework",
        None => "record open",
    };
    html! {
        li class=(class) data-record=(rec["id"]) data-result=(result.unwrap_or("OPEN")) {
            h3 { (heading) }
            dl class="facts" {
                dt { (t(lang, "trace.level")) } dd { (txt(&rec["data_level"])) }
                dt { (t(lang, "trace.operator")) } dd class="operator" {
                    (txt(&rec["operator"]["full_name"])) " (" (txt(&rec["operator"]["username"])) ")"
                    @if let Some(href) = recall_href(rec, "operator_id", &rec["operator"]["id"]) { " · " a href=(href) class="recall" { (t(lang, "trace.recall_operator")) } }
                }
                dt { (t(lang, "trace.equipment")) } dd {
                    @if rec["equipment"].is_null() { "—" } @else {
                        (txt(&rec["equipment"]["code"])) " " (txt(&rec["equipment"]["name"]))
                        @if let Some(href) = recall_href(rec, "equipment_id", &rec["equipment"]["id"]) { " · " a href=(href) class="recall" { (t(lang, "trace.recall_equipment")) } }
                    }
                }
                dt { (t(lang, "trace.started")) } dd { (when(&rec["started_at"])) }
                dt { (t(lang, "trace.completed")) } dd { (when(&rec["completed_at"])) }
                @if let Some(d) = rec["duration_seconds"].as_i64() { dt { (t(lang, "trace.duration")) } dd { (d) " s" } }
                @if let Some(n) = rec["notes"].as_str() { dt { (t(lang, "trace.notes")) } dd { (n) } }
            }
            (measurements(lang, rec, &format!("{} — {}", t(lang, "trace.measurements"), heading), lot_id))
            (defects(lang, rec))
        }
    }
}

fn genealogy(lang: Lang, g: &Value) -> Markup {
    let empty = Vec::new();
    let records = g["records"].as_array().unwrap_or(&empty);
    let lot_records = g["lot_records"].as_array().unwrap_or(&empty);
    html! {
        dl class="facts" id="unit-facts" {
            dt { (t(lang, "trace.lot")) } dd { a href=(format!("/ui/lots/{}", g["lot"]["id"])) { (txt(&g["lot"]["lot_number"])) } " · " (txt(&g["lot"]["status"])) }
            dt { (t(lang, "trace.model")) } dd { (txt(&g["product_model"]["model_code"])) " " (txt(&g["product_model"]["model_name"])) }
            @if !g["production_line"].is_null() { dt { (t(lang, "trace.line")) } dd { (txt(&g["production_line"]["country_code"])) (txt(&g["production_line"]["line_code"])) " " (txt(&g["production_line"]["name"])) } }
            @if let Some(w) = g["wip_id"].as_str() { dt { "WIP" } dd { (w) } }
            @if let Some(sn) = g["serial_number"].as_str() { dt { (t(lang, "trace.serial")) } dd { a href=(format!("/ui/trace{}", query(&[("code", Some(sn))]))) { (sn) } } }
            dt { (t(lang, "common.status")) } dd id="unit-status" { (txt(&g["status"])) }
            dt { (t(lang, "trace.reworks")) } dd { (g["rework_count"]) }
            @if let Some(r) = g["scrap_reason"].as_str() { dt { (t(lang, "trace.scrap_reason")) } dd { (r) } }
        }
        h2 id="timeline-h" { (t(lang, "trace.timeline")) " (" (records.len()) ")" }
        @if records.is_empty() { p { (t(lang, "trace.no_records")) } }
        ol class="timeline" id="timeline" aria-labelledby="timeline-h" {
            @for r in records { (record(lang, r, &g["lot"]["id"])) }
        }
        @if !lot_records.is_empty() {
            h2 id="lot-records-h" { (t(lang, "trace.lot_records")) }
            ol class="timeline" aria-labelledby="lot-records-h" {
                @for r in lot_records { (record(lang, r, &g["lot"]["id"])) }
            }
        }
    }
}

async fn trace_page(
    State(web): State<WebState>,
    s: Session,
    Query(q): Query<TraceQuery>,
) -> Response {
    let lang = s.lang;
    let code = q.code.as_deref().map(str::trim).unwrap_or("").to_string();
    let mut status = axum::http::StatusCode::OK;
    let mut out = html! {};
    let mut title = t(lang, "trace.title").to_string();
    if !code.is_empty() {
        let scan = web
            .api
            .get(&s.cx, &format!("/api/v1/scan/{}", enc(&code)))
            .await;
        if !scan.ok() {
            status = scan.status;
            out = layout::refusal(&scan.problem_text());
        } else {
            let code = txt(&scan.body["code"]).to_string();
            let path = match txt(&scan.body["kind"]) {
                "WIP" => Some(format!("/api/v1/trace/wip-items/{}", enc(&code))),
                "SERIAL" => Some(format!("/api/v1/trace/serials/{}", enc(&code))),
                _ => None,
            };
            let Some(path) = path else {
                // a lot number: its page lists its units
                return Redirect::to(&format!("/ui/lots/{}", scan.body["lot"]["id"]))
                    .into_response();
            };
            let g = web.api.get(&s.cx, &path).await;
            if g.ok() {
                title = format!("{} {}", t(lang, "trace.title"), code);
                out = genealogy(lang, &g.body);
            } else {
                status = g.status;
                out = layout::refusal(&g.problem_text());
            }
        }
    }
    let body = html! {
        (search_form(lang, &code))
        (out)
    };
    let mut res = layout::page(&web, &s, Nav::Trace, &title, body);
    *res.status_mut() = status;
    res
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("trace.title", "Trace", "추적"),
    (
        "trace.scan",
        "Scan or type a serial or WIP id",
        "시리얼 또는 WIP id를 스캔하거나 입력하세요",
    ),
    ("trace.lookup", "Trace", "추적"),
    ("trace.lot", "Lot", "LOT"),
    ("trace.model", "Model", "모델"),
    ("trace.line", "Line", "라인"),
    ("trace.serial", "Serial", "시리얼"),
    ("trace.reworks", "Reworks", "재작업 횟수"),
    ("trace.scrap_reason", "Scrap reason", "폐기 사유"),
    ("trace.timeline", "Records in order", "기록 (순서대로)"),
    (
        "trace.no_records",
        "No work recorded for this unit yet.",
        "이 단위에는 아직 작업 기록이 없습니다.",
    ),
    (
        "trace.lot_records",
        "Lot-level records of its lot",
        "LOT 단위 기록",
    ),
    ("trace.attempt", "attempt", "시도"),
    ("trace.open", "open", "진행 중"),
    ("trace.level", "Level", "수준"),
    ("trace.operator", "Operator", "작업자"),
    ("trace.equipment", "Equipment", "설비"),
    ("trace.started", "Started", "시작"),
    ("trace.completed", "Completed", "완료"),
    ("trace.duration", "Duration", "소요 시간"),
    ("trace.notes", "Notes", "메모"),
    ("trace.measurements", "Measurements", "측정값"),
    ("trace.measurement", "Measurement", "측정 항목"),
    ("trace.value", "Value", "값"),
    ("trace.min", "Min", "최소"),
    ("trace.max", "Max", "최대"),
    ("trace.check", "Against limits", "규격 판정"),
    ("trace.out", "Out of limits", "규격 벗어남"),
    ("trace.within", "Within limits", "규격 이내"),
    ("trace.not_checked", "Not checked", "판정 없음"),
    ("trace.no_criterion", "No criterion", "기준 없음"),
    ("trace.defects", "Defects", "불량"),
    (
        "trace.recall_operator",
        "everything this operator touched around then",
        "이 작업자가 그 무렵 작업한 모든 단위",
    ),
    (
        "trace.recall_equipment",
        "everything this equipment touched around then",
        "이 설비가 그 무렵 작업한 모든 단위",
    ),
    (
        "trace.chart",
        "This measurement over time in this lot",
        "이 LOT에서 이 측정값의 추이",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_failed_measurement_is_marked_in_words() {
        let rec = json!({
            "id": 1, "process_number": 1, "process_code": "LASER_MARKING", "attempt": 1, "result": "FAIL",
            "data_level": "WIP", "operator": {"username": "op", "full_name": "Op"}, "equipment": null,
            "started_at": "2026-01-01T00:00:00Z", "completed_at": null,
            "measurements": {"depth": 90, "extra": "x"},
            "criteria_check": {"depth": {"value": 90, "min": 20, "max": 50, "unit": "um", "passed": false, "reason": "above the maximum 50"}},
            "defects": [{"code": "DEEP", "severity": "MAJOR", "description": "too deep"}]
        });
        let html = record(Lang::En, &rec, &json!(7)).into_string();
        assert!(
            html.contains("class=\"out\"")
                && html.contains("Out of limits")
                && html.contains("above the maximum 50"),
            "{html}"
        );
        assert!(
            html.contains("No criterion") && html.contains("DEEP"),
            "{html}"
        );
    }
}
