//! One measurement over time with its limits: the values of `measurement` in the newest 500 records of a process
//! (one `GET /api/v1/process-data?process_id=&limit=500` call, optionally of one lot), oldest first, drawn with
//! the process's quality-criteria min / max as limit lines, and the same values in a table below.

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use crate::api::enc;
use crate::i18n::{t, Lang};
use crate::layout::{self, Nav};
use crate::pages::lots::query;
use crate::pages::station::process_name;
use crate::pages::trace::when;
use crate::session::Session;
use crate::svg::{self, fmt};
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new().route("/ui/chart", get(chart_page))
}

#[derive(Deserialize, Default)]
pub struct ChartQuery {
    /// Process number.
    process: Option<String>,
    measurement: Option<String>,
    /// Lot id or lot number.
    lot: Option<String>,
}

fn txt(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// A measured value as a number (booleans as 1 / 0, as the criteria check counts them).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// One point: (record, value), oldest first.
pub fn points<'a>(records: &'a [Value], measurement: &str) -> Vec<(&'a Value, f64)> {
    let mut v: Vec<(&Value, f64)> = records
        .iter()
        .filter_map(|r| number(&r["measurements"][measurement]).map(|x| (r, x)))
        .collect();
    v.reverse();
    v
}

fn form(lang: Lang, q: &ChartQuery, procs: &[Value]) -> Markup {
    let names: Vec<String> = {
        let mut n: Vec<String> = procs
            .iter()
            .flat_map(|p| {
                p["quality_criteria"]
                    .as_object()
                    .map(|c| c.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
            })
            .collect();
        n.sort();
        n.dedup();
        n
    };
    html! {
        form method="get" action="/ui/chart" class="filters" role="search" aria-label=(t(lang, "chart.form")) {
            div {
                label for="process" { (t(lang, "chart.process")) }
                select id="process" name="process" required {
                    @for p in procs {
                        @let n = p["process_number"].to_string();
                        option value=(n) selected[q.process.as_deref() == Some(n.as_str())] { (process_name(lang, p)) }
                    }
                }
            }
            div {
                label for="measurement" { (t(lang, "chart.measurement")) }
                input id="measurement" name="measurement" list="measurement-names" required autocomplete="off" value=[q.measurement.as_deref()];
                datalist id="measurement-names" { @for n in &names { option value=(n) {} } }
            }
            div {
                label for="lot" { (t(lang, "chart.lot")) }
                input id="lot" name="lot" autocomplete="off" autocapitalize="characters" value=[q.lot.as_deref()] aria-describedby="lot-hint";
                span id="lot-hint" class="hint" { (t(lang, "chart.lot_hint")) }
            }
            div { button type="submit" class="primary" { (t(lang, "chart.show")) } }
        }
    }
}

async fn chart_page(
    State(web): State<WebState>,
    s: Session,
    Query(q): Query<ChartQuery>,
) -> Response {
    let lang = s.lang;
    let procs = web.api.get(&s.cx, "/api/v1/processes").await;
    let procs = procs.body["items"].as_array().cloned().unwrap_or_default();
    let mut status = axum::http::StatusCode::OK;
    let measurement = q.measurement.as_deref().map(str::trim).unwrap_or("");
    let process = q.process.as_deref().and_then(|n| {
        procs.iter().find(|p| {
            p["process_number"]
                .as_i64()
                .is_some_and(|x| Some(x) == n.trim().parse().ok())
        })
    });
    let out = match (process, measurement) {
        (Some(p), m) if !m.is_empty() => {
            // the lot: an id as given, a lot number looked up
            let lot = q.lot.as_deref().map(str::trim).filter(|l| !l.is_empty());
            let lot_id = match lot {
                None => Ok(None),
                Some(l) if l.parse::<i64>().is_ok() => Ok(Some(l.to_string())),
                Some(l) => {
                    let r = web
                        .api
                        .get(&s.cx, &format!("/api/v1/lots/by-number/{}", enc(l)))
                        .await;
                    if r.ok() {
                        Ok(Some(r.body["id"].to_string()))
                    } else {
                        Err(r)
                    }
                }
            };
            match lot_id {
                Err(r) => {
                    status = r.status;
                    layout::refusal(&r.problem_text())
                }
                Ok(lot_id) => {
                    let pid = p["id"].to_string();
                    let path = format!(
                        "/api/v1/process-data{}",
                        query(&[
                            ("process_id", Some(&pid)),
                            ("lot_id", lot_id.as_deref()),
                            ("limit", Some("500"))
                        ])
                    );
                    let r = web.api.get(&s.cx, &path).await;
                    if !r.ok() {
                        status = r.status;
                        layout::refusal(&r.problem_text())
                    } else {
                        let records = r.body["items"].as_array().cloned().unwrap_or_default();
                        chart(lang, p, m, &records)
                    }
                }
            }
        }
        (None, _) if q.process.is_some() => layout::refusal(t(lang, "chart.no_process")),
        _ => html! {},
    };
    let body = html! {
        (form(lang, &q, &procs))
        (out)
    };
    let mut res = layout::page(&web, &s, Nav::Lots, t(lang, "chart.title"), body);
    *res.status_mut() = status;
    res
}

fn chart(lang: Lang, process: &Value, measurement: &str, records: &[Value]) -> Markup {
    let spec = &process["quality_criteria"][measurement];
    let (min, max) = (spec["min"].as_f64(), spec["max"].as_f64());
    let unit = spec["unit"].as_str().unwrap_or("");
    let pts = points(records, measurement);
    let unit_of = |r: &Value| {
        r["serial_number"]
            .as_str()
            .or(r["wip_code"].as_str())
            .unwrap_or(txt(&r["lot_number"]))
            .to_string()
    };
    let series: Vec<(String, f64)> = pts
        .iter()
        .map(|(r, v)| (format!("{} {}", txt(&r["started_at"]), unit_of(r)), *v))
        .collect();
    let title = format!(
        "{} — {} {}",
        process_name(lang, process),
        measurement,
        if unit.is_empty() {
            String::new()
        } else {
            format!("({unit})")
        }
    );
    let out = |v: f64| min.is_some_and(|m| v < m) || max.is_some_and(|m| v > m);
    html! {
        h2 { (title) }
        p class="limits" id="chart-limits" {
            (t(lang, "chart.limits")) ": "
            (min.map(fmt).unwrap_or_else(|| "—".into())) " – " (max.map(fmt).unwrap_or_else(|| "—".into()))
            " · " (pts.len()) " " (t(lang, "chart.values")) " (" (t(lang, "chart.newest")) ")"
        }
        @if pts.is_empty() { p { (t(lang, "chart.empty")) } }
        @else {
            figure { (svg::line(&title, &series, min, max)) }
            table class="data" id="chart-table" {
                caption { (t(lang, "chart.table")) }
                thead { tr {
                    th scope="col" { (t(lang, "chart.time")) }
                    th scope="col" { (t(lang, "chart.unit")) }
                    th scope="col" class="num" { (t(lang, "chart.value")) }
                    th scope="col" { (t(lang, "chart.check")) }
                    th scope="col" { (t(lang, "chart.result")) }
                } }
                tbody {
                    @for (r, v) in &pts {
                        tr class=[out(*v).then_some("out")] {
                            td { (when(&r["started_at"])) }
                            td { a href=(format!("/ui/trace{}", query(&[("code", Some(&unit_of(r)))]))) { (unit_of(r)) } }
                            td class="num" { (fmt(*v)) }
                            td { @if out(*v) { strong class="flag" { (t(lang, "chart.out")) } } @else { (t(lang, "chart.within")) } }
                            td { (r["result"].as_str().unwrap_or("—")) }
                        }
                    }
                }
            }
        }
    }
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("chart.title", "Measurement over time", "측정값 추이"),
    ("chart.form", "Which measurement", "측정 항목 선택"),
    ("chart.process", "Process", "공정"),
    ("chart.measurement", "Measurement", "측정 항목"),
    ("chart.lot", "Lot (optional)", "LOT (선택)"),
    (
        "chart.lot_hint",
        "A lot number or id; empty for every lot.",
        "LOT 번호 또는 id. 비우면 전체 LOT.",
    ),
    ("chart.show", "Show", "보기"),
    (
        "chart.no_process",
        "There is no process with that number.",
        "그 번호의 공정이 없습니다.",
    ),
    ("chart.limits", "Limits", "규격"),
    ("chart.values", "values", "개 값"),
    (
        "chart.newest",
        "of the newest 500 records",
        "최근 기록 500건 중",
    ),
    (
        "chart.empty",
        "No record of this process has this measurement yet.",
        "이 공정의 기록에 아직 이 측정값이 없습니다.",
    ),
    (
        "chart.table",
        "The values of the chart, oldest first",
        "차트의 값 (오래된 순)",
    ),
    ("chart.time", "Started", "시작"),
    ("chart.unit", "Unit", "단위"),
    ("chart.value", "Value", "값"),
    ("chart.check", "Against limits", "규격 판정"),
    ("chart.out", "Out of limits", "규격 벗어남"),
    ("chart.within", "Within limits", "규격 이내"),
    ("chart.result", "Result", "결과"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn points_are_oldest_first_and_skip_records_without_the_value() {
        let recs = vec![
            json!({"id": 3, "measurements": {"d": 5}}),
            json!({"id": 2, "measurements": {"x": 1}}),
            json!({"id": 1, "measurements": {"d": true}}),
        ];
        let p = points(&recs, "d");
        assert_eq!(
            p.iter()
                .map(|(r, v)| (r["id"].as_i64().unwrap(), *v))
                .collect::<Vec<_>>(),
            vec![(1, 1.0), (3, 5.0)]
        );
    }
}
