//! The station: a tablet at a process, a keyboard-wedge scanner, gloves. Choose the process (and equipment)
//! once per shift; then scan → see what the unit is and what may be done → Start → Complete.
//!
//! - The scan field has focus whenever nothing else needs it, and Enter submits (a wedge scanner types the code
//!   and presses Enter). After a scan the next action's button has focus, so the whole cycle is scan, Enter,
//!   Enter (or the measurements, then Enter).
//! - What may be done is the scan endpoint's answer; whether it is allowed is the start and complete endpoints'
//!   decision, shown verbatim in red when they refuse ("process 3 needs a PASS at process 1 first").
//! - Each action form carries an idempotency key made when the form was rendered. The page script retries a
//!   submission that met a network error with the same body, so the same key: the API replays the first answer
//!   and no second record is written. A browser's own "resubmit" sends the same key too.
//! - Measurement fields come from the process's quality criteria, with their limits shown; the script flags a
//!   value outside them as it is typed, before submit. The API checks again.

use axum::extract::{Query, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::api::enc;
use crate::i18n::{t, Lang};
use crate::layout::{self, csrf_field, Nav};
use crate::session::Session;
use crate::{cookies, WebState};

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/station", get(station_page))
        .route("/ui/station/setup", post(setup))
        .route("/ui/station/start", post(start))
        .route("/ui/station/complete", post(complete))
}

/// The station's process and equipment (the `nh_station` cookie: `process_id:equipment_id`, `-` for none).
#[derive(Debug, Clone, Copy, Default)]
pub struct StationSetup {
    pub process_id: Option<i64>,
    pub equipment_id: Option<i64>,
}

impl StationSetup {
    fn from_headers(h: &axum::http::HeaderMap) -> Self {
        let Some(v) = cookies::get(h, cookies::STATION) else {
            return Self::default();
        };
        let mut it = v.split(':');
        Self {
            process_id: it.next().and_then(|p| p.parse().ok()),
            equipment_id: it.next().and_then(|p| p.parse().ok()),
        }
    }

    fn cookie_value(&self) -> String {
        let f = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        format!("{}:{}", f(self.process_id), f(self.equipment_id))
    }
}

#[derive(Deserialize)]
pub struct StationQuery {
    code: Option<String>,
    setup: Option<String>,
}

/// The process's name in the page's language.
pub fn process_name(lang: Lang, p: &Value) -> String {
    let name = match lang {
        Lang::Ko => p["process_name_ko"].as_str(),
        Lang::En => p["process_name_en"].as_str(),
    };
    format!(
        "{} {}",
        p["process_number"],
        name.or(p["process_code"].as_str()).unwrap_or("")
    )
}

async fn processes(web: &WebState, s: &Session) -> Vec<Value> {
    let r = web.api.get(&s.cx, "/api/v1/processes").await;
    r.body["items"].as_array().cloned().unwrap_or_default()
}

fn setup_form(s: &Session, procs: &[Value], equipment: &[Value], current: StationSetup) -> Markup {
    let lang = s.lang;
    html! {
        form method="post" action="/ui/station/setup" class="stack narrow" {
            (csrf_field(s))
            label for="process_id" { (t(lang, "station.process")) }
            select id="process_id" name="process_id" required autofocus {
                @for p in procs.iter().filter(|p| p["is_active"].as_bool() == Some(true)) {
                    option value=(p["id"]) selected[current.process_id == p["id"].as_i64()] { (process_name(lang, p)) }
                }
            }
            label for="equipment_id" { (t(lang, "station.equipment")) }
            select id="equipment_id" name="equipment_id" {
                option value="" { (t(lang, "station.no_equipment")) }
                @for e in equipment {
                    option value=(e["id"]) selected[current.equipment_id == e["id"].as_i64()] {
                        (e["equipment_code"].as_str().unwrap_or("")) " — " (e["name"].as_str().unwrap_or(""))
                    }
                }
            }
            button type="submit" class="primary big" { (t(lang, "station.begin")) }
        }
    }
}

/// Everything the station page can show around its scan field.
#[derive(Default)]
struct View {
    feedback: Option<Markup>,
    scan: Option<Value>,
    /// The open record the complete form is for.
    complete_for: Option<i64>,
    /// The form's values after a refused completion (kept, so a typo is fixed rather than retyped).
    kept: Vec<(String, String)>,
    code: String,
}

fn scan_form(s: &Session, code: &str, focus: bool) -> Markup {
    let lang = s.lang;
    html! {
        form method="get" action="/ui/station" class="scan" role="search" {
            label for="code" { (t(lang, "station.scan")) }
            div class="row" {
                input id="code" name="code" class="big" autocomplete="off" autocapitalize="characters" spellcheck="false"
                    required maxlength="64" value=(code) autofocus[focus] data-scan;
                button type="submit" class="big" { (t(lang, "station.lookup")) }
            }
        }
    }
}

fn unit_facts(lang: Lang, scan: &Value) -> Markup {
    let unit = &scan["unit"];
    html! {
        dl class="facts" {
            dt { (t(lang, "station.kind")) } dd { (scan["kind"].as_str().unwrap_or("")) }
            dt { (t(lang, "station.lot")) } dd { (scan["lot"]["lot_number"].as_str().unwrap_or("")) " · " (scan["lot"]["status"].as_str().unwrap_or("")) }
            dt { (t(lang, "station.model")) } dd { (scan["lot"]["model_code"].as_str().unwrap_or("")) " " (scan["lot"]["model_name"].as_str().unwrap_or("")) }
            @if !unit.is_null() {
                @if let Some(w) = unit["wip_id"].as_str() { dt { "WIP" } dd { (w) } }
                @if let Some(sn) = unit["serial_number"].as_str() { dt { (t(lang, "station.serial")) } dd { (sn) } }
                dt { (t(lang, "common.status")) } dd { (unit["status"].as_str().unwrap_or("")) }
                dt { (t(lang, "station.rework_count")) } dd { (unit["rework_count"]) }
            }
            @if let Some(l) = scan["last_completed"].as_object() {
                dt { (t(lang, "station.last")) } dd { (l["process_number"]) " " (l["process_code"].as_str().unwrap_or("")) " · " (l["result"].as_str().unwrap_or("")) }
            }
        }
    }
}

fn start_form(s: &Session, code: &str, focus: bool) -> Markup {
    html! {
        form method="post" action="/ui/station/start" data-retry class="action" {
            (csrf_field(s))
            input type="hidden" name="code" value=(code);
            input type="hidden" name="idem" value=(uuid::Uuid::new_v4());
            button type="submit" class="primary big" id="start" autofocus[focus] { (t(s.lang, "station.start")) }
        }
    }
}

fn kept<'a>(kept: &'a [(String, String)], name: &str) -> Option<&'a str> {
    kept.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn complete_form(
    s: &Session,
    process: &Value,
    record_id: i64,
    code: &str,
    keep: &[(String, String)],
    defect_codes: &[String],
) -> Markup {
    let lang = s.lang;
    let criteria = process["quality_criteria"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let result = kept(keep, "result").unwrap_or("PASS").to_string();
    let mut first = true;
    html! {
        form method="post" action="/ui/station/complete" data-retry class="action stack" id="complete" {
            (csrf_field(s))
            input type="hidden" name="record_id" value=(record_id);
            input type="hidden" name="code" value=(code);
            input type="hidden" name="idem" value=(uuid::Uuid::new_v4());
            fieldset class="results" {
                legend { (t(lang, "station.result")) }
                @for (value, key) in [("PASS", "station.pass"), ("FAIL", "station.fail"), ("REWORK", "station.rework")] {
                    label class=(format!("result {}", value.to_ascii_lowercase())) {
                        input type="radio" name="result" value=(value) checked[result == value] autofocus[criteria.is_empty() && result == value];
                        " " (t(lang, key))
                    }
                }
            }
            @if !criteria.is_empty() {
                fieldset {
                    legend { (t(lang, "station.measurements")) }
                    @for (name, spec) in &criteria {
                        @let id = format!("m-{}", name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
                        @let min = spec["min"].as_f64();
                        @let max = spec["max"].as_f64();
                        @let unit = spec["unit"].as_str().unwrap_or("");
                        @let required = spec["required"].as_bool().unwrap_or(false);
                        @let focus = std::mem::take(&mut first);
                        div class="measure" {
                            label for=(id) { (name) @if required { " *" } }
                            input id=(id) name=(format!("m.{name}")) inputmode="decimal" autocomplete="off" class="big"
                                data-min=[min] data-max=[max] required[required] autofocus[focus]
                                aria-describedby=(format!("{id}-limits {id}-flag")) value=[kept(keep, &format!("m.{name}"))];
                            span id=(format!("{id}-limits")) class="limits" {
                                (limits_text(lang, min, max)) @if !unit.is_empty() { " " (unit) }
                            }
                            span id=(format!("{id}-flag")) class="flag" aria-live="polite" data-out-text=(t(lang, "station.out_of_spec")) {}
                        }
                    }
                }
            }
            fieldset class="defect" {
                legend { (t(lang, "station.defect")) }
                p class="hint" { (t(lang, "station.defect_hint")) }
                label for="defect_code" { (t(lang, "station.defect_code")) }
                input id="defect_code" name="defect_code" list="defect-codes" autocomplete="off" maxlength="50" value=[kept(keep, "defect_code")];
                datalist id="defect-codes" { @for c in defect_codes { option value=(c) {} } }
                label for="defect_description" { (t(lang, "station.defect_description")) }
                input id="defect_description" name="defect_description" maxlength="1000" value=[kept(keep, "defect_description")];
                label for="defect_severity" { (t(lang, "station.defect_severity")) }
                select id="defect_severity" name="defect_severity" {
                    @for sev in ["MINOR", "MAJOR", "CRITICAL"] {
                        option value=(sev) selected[kept(keep, "defect_severity") == Some(sev)] { (sev) }
                    }
                }
            }
            label for="notes" { (t(lang, "station.notes")) }
            input id="notes" name="notes" maxlength="2000" value=[kept(keep, "notes")];
            button type="submit" class="primary big" id="complete-submit" { (t(lang, "station.complete")) }
        }
    }
}

fn limits_text(lang: Lang, min: Option<f64>, max: Option<f64>) -> String {
    use crate::svg::fmt;
    match (min, max) {
        (Some(a), Some(b)) => format!("{} {} – {}", t(lang, "station.limits"), fmt(a), fmt(b)),
        (Some(a), None) => format!("{} ≥ {}", t(lang, "station.limits"), fmt(a)),
        (None, Some(b)) => format!("{} ≤ {}", t(lang, "station.limits"), fmt(b)),
        (None, None) => String::new(),
    }
}

/// Defect codes seen today, offered in the defect field's list (today's dashboard has them, one statement).
async fn defect_codes(web: &WebState, s: &Session) -> Vec<String> {
    let r = web.api.get(&s.cx, "/api/v1/dashboard").await;
    r.body["defects"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn render(web: &WebState, s: &Session, setup: StationSetup, view: View) -> Response {
    let lang = s.lang;
    let procs = processes(web, s).await;
    let Some(process) = setup
        .process_id
        .and_then(|id| procs.iter().find(|p| p["id"].as_i64() == Some(id)))
    else {
        return Redirect::to("/ui/station?setup=1").into_response();
    };
    let title = format!(
        "{} · {}",
        t(lang, "nav.station"),
        process_name(lang, process)
    );
    let next = view.scan.as_ref().map(|sc| &sc["next"]);
    let action = next.and_then(|n| n["action"].as_str()).unwrap_or("");
    // the open record at this station's process, if the unit has one
    let open_here = view.complete_for.or_else(|| {
        view.scan.as_ref().and_then(|sc| {
            sc["open_records"]
                .as_array()?
                .iter()
                .find(|r| r["process_id"] == process["id"])
                .and_then(|r| r["id"].as_i64())
        })
    });
    let is_unit = view.scan.as_ref().is_some_and(|sc| !sc["unit"].is_null());
    let can_start = is_unit
        && open_here.is_none()
        && matches!(
            action,
            "START" | "COMPLETE_OPEN" | "COMPLETED" | "REWORK_REQUIRED"
        );
    let codes = if open_here.is_some() {
        defect_codes(web, s).await
    } else {
        Vec::new()
    };
    let body = html! {
        p class="station-setup" {
            (t(lang, "station.at")) " " strong { (process_name(lang, process)) }
            @if let Some(e) = setup.equipment_id { " · " (t(lang, "station.equipment")) " #" (e) }
            " · " a href="/ui/station?setup=1" { (t(lang, "station.change")) }
        }
        @if let Some(f) = &view.feedback { (f) }
        (scan_form(s, &view.code, open_here.is_none() && !can_start))
        @if let Some(scan) = &view.scan {
            section class="unit" aria-labelledby="unit-h" {
                h2 id="unit-h" { (scan["code"].as_str().unwrap_or("")) }
                (unit_facts(lang, scan))
                p class="next" { (t(lang, "station.next")) ": " strong { (next.and_then(|n| n["message"].as_str()).unwrap_or("")) } }
                @if let Some(rid) = open_here {
                    (complete_form(s, process, rid, &view.code, &view.kept, &codes))
                } @else if can_start {
                    (start_form(s, &view.code, true))
                }
            }
        }
    };
    layout::page(web, s, Nav::Station, &title, body)
}

async fn station_page(
    State(web): State<WebState>,
    s: Session,
    headers: axum::http::HeaderMap,
    Query(q): Query<StationQuery>,
) -> Response {
    let setup = StationSetup::from_headers(&headers);
    if !web.may(&s, "POST", "/api/v1/process-data/start") {
        let body = layout::refusal(&web.not_allowed(&s, "POST", "/api/v1/process-data/start"));
        let mut res = layout::page(&web, &s, Nav::Station, t(s.lang, "nav.station"), body);
        *res.status_mut() = StatusCode::FORBIDDEN;
        return res;
    }
    if q.setup.is_some() || setup.process_id.is_none() {
        let procs = processes(&web, &s).await;
        let eq = web
            .api
            .get(&s.cx, "/api/v1/equipment?is_active=true&limit=500")
            .await;
        let equipment = eq.body["items"].as_array().cloned().unwrap_or_default();
        let body = setup_form(&s, &procs, &equipment, setup);
        return layout::page(
            &web,
            &s,
            Nav::Station,
            t(s.lang, "station.setup_title"),
            body,
        );
    }
    let mut view = View::default();
    if let Some(code) = q.code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        view.code = code.to_string();
        let r = web
            .api
            .get(&s.cx, &format!("/api/v1/scan/{}", enc(code)))
            .await;
        if r.ok() {
            view.scan = Some(r.body);
        } else {
            view.feedback = Some(layout::refusal(&r.problem_text()));
            view.code = String::new();
        }
    }
    render(&web, &s, setup, view).await
}

#[derive(Deserialize)]
pub struct SetupForm {
    process_id: i64,
    equipment_id: Option<String>,
}

async fn setup(State(web): State<WebState>, Form(f): Form<SetupForm>) -> Response {
    let st = StationSetup {
        process_id: Some(f.process_id),
        equipment_id: f.equipment_id.and_then(|e| e.parse().ok()),
    };
    let mut res = Redirect::to("/ui/station").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(
            cookies::STATION,
            &st.cookie_value(),
            cookies::PREF_ATTRS,
            web.tls,
        ),
    );
    res
}

/// The start request's unit selector for a scanned unit, by the kind the scan endpoint recognised.
fn unit_selector(scan: &Value) -> Option<Value> {
    let code = scan["code"].as_str()?;
    match scan["kind"].as_str()? {
        "WIP" => Some(json!({ "wip_id": code })),
        "SERIAL" => Some(json!({ "serial_number": code })),
        "LOT" => Some(json!({ "lot_number": code })),
        _ => None,
    }
}

#[derive(Deserialize)]
pub struct StartForm {
    code: String,
    idem: String,
}

async fn rescan(web: &WebState, s: &Session, code: &str) -> Option<Value> {
    let r = web
        .api
        .get(&s.cx, &format!("/api/v1/scan/{}", enc(code)))
        .await;
    r.ok().then_some(r.body)
}

async fn start(
    State(web): State<WebState>,
    s: Session,
    headers: axum::http::HeaderMap,
    Form(f): Form<StartForm>,
) -> Response {
    let setup = StationSetup::from_headers(&headers);
    let Some(process_id) = setup.process_id else {
        return Redirect::to("/ui/station?setup=1").into_response();
    };
    let scanned = web
        .api
        .get(&s.cx, &format!("/api/v1/scan/{}", enc(f.code.trim())))
        .await;
    let Some(unit) = scanned.ok().then(|| unit_selector(&scanned.body)).flatten() else {
        let view = View {
            feedback: Some(layout::refusal(&scanned.problem_text())),
            ..View::default()
        };
        let mut res = render(&web, &s, setup, view).await;
        *res.status_mut() = if scanned.ok() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            scanned.status
        };
        return res;
    };
    let mut body = json!({ "process_id": process_id, "unit": unit });
    if let Some(e) = setup.equipment_id {
        body["equipment_id"] = json!(e);
    }
    let r = web
        .api
        .call(
            &s.cx,
            Method::POST,
            "/api/v1/process-data/start",
            Some(&body),
            Some(&f.idem),
        )
        .await;
    let mut view = View {
        code: f.code.clone(),
        ..View::default()
    };
    let status = if r.ok() {
        view.feedback = Some(layout::success(&format!(
            "{} — {}",
            t(s.lang, "station.started"),
            f.code
        )));
        view.complete_for = r.body["id"].as_i64();
        StatusCode::OK
    } else {
        view.feedback = Some(layout::refusal(&r.problem_text()));
        r.status
    };
    view.scan = rescan(&web, &s, &f.code).await;
    let mut res = render(&web, &s, setup, view).await;
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    res
}

async fn complete(
    State(web): State<WebState>,
    s: Session,
    headers: axum::http::HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let setup = StationSetup::from_headers(&headers);
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let code = get("code");
    let record_id: Option<i64> = get("record_id").parse().ok();
    let idem = get("idem");
    let result = get("result");
    let mut measurements = Map::new();
    for (k, v) in &fields {
        if let Some(name) = k.strip_prefix("m.") {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            // a number when it reads as one; anything else goes as typed, and the API names the field
            let value = v
                .replace(',', ".")
                .parse::<f64>()
                .ok()
                .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
                .unwrap_or_else(|| Value::String(v.to_string()));
            measurements.insert(name.to_string(), value);
        }
    }
    let mut body = json!({ "result": result });
    if !measurements.is_empty() {
        body["measurements"] = Value::Object(measurements);
    }
    let defect_code = get("defect_code");
    let defect_description = get("defect_description");
    if !defect_code.is_empty() || !defect_description.is_empty() {
        body["defects"] = json!([{ "code": defect_code, "description": if defect_description.is_empty() { defect_code.clone() } else { defect_description }, "severity": get("defect_severity") }]);
    }
    let notes = get("notes");
    if !notes.is_empty() {
        body["notes"] = json!(notes);
    }
    let Some(record_id) = record_id else {
        return (StatusCode::UNPROCESSABLE_ENTITY, "record_id is missing").into_response();
    };
    let r = web
        .api
        .call(
            &s.cx,
            Method::POST,
            &format!("/api/v1/process-data/{record_id}/complete"),
            Some(&body),
            Some(&idem),
        )
        .await;
    let mut view = View {
        code: if r.ok() { String::new() } else { code.clone() },
        ..View::default()
    };
    let status = if r.ok() {
        let result = r.body["result"].as_str().unwrap_or(&result).to_string();
        let text = format!("{} — {} · {}", t(s.lang, "station.completed"), code, result);
        view.feedback = Some(if result == "PASS" {
            layout::success(&text)
        } else {
            layout::refusal_styled(&text)
        });
        StatusCode::OK
    } else {
        view.feedback = Some(layout::refusal(&r.problem_text()));
        view.complete_for = Some(record_id);
        view.kept = fields.clone();
        view.scan = rescan(&web, &s, &code).await;
        r.status
    };
    let mut res = render(&web, &s, setup, view).await;
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    res
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("station.setup_title", "Set up this station", "작업대 설정"),
    ("station.process", "Process", "공정"),
    ("station.equipment", "Equipment", "설비"),
    ("station.no_equipment", "No equipment", "설비 없음"),
    (
        "station.begin",
        "Start the shift here",
        "이 작업대에서 시작",
    ),
    ("station.at", "This station:", "이 작업대:"),
    ("station.change", "Change process", "공정 변경"),
    (
        "station.scan",
        "Scan or type a lot, WIP or serial code",
        "LOT, WIP 또는 시리얼 코드를 스캔하거나 입력하세요",
    ),
    ("station.lookup", "Look up", "조회"),
    ("station.kind", "Kind", "종류"),
    ("station.lot", "Lot", "LOT"),
    ("station.model", "Model", "모델"),
    ("station.serial", "Serial", "시리얼"),
    ("station.rework_count", "Reworks", "재작업 횟수"),
    ("station.last", "Last completed", "마지막 완료"),
    ("station.next", "Next", "다음 작업"),
    ("station.start", "Start", "시작"),
    ("station.started", "Started", "시작됨"),
    ("station.complete", "Complete", "완료"),
    ("station.completed", "Completed", "완료됨"),
    ("station.result", "Result", "결과"),
    ("station.pass", "PASS", "합격 (PASS)"),
    ("station.fail", "FAIL", "불합격 (FAIL)"),
    ("station.rework", "REWORK", "재작업 (REWORK)"),
    ("station.measurements", "Measurements", "측정값"),
    ("station.limits", "Limits", "규격"),
    ("station.out_of_spec", "Out of spec", "규격 벗어남"),
    ("station.defect", "Defect", "불량"),
    (
        "station.defect_hint",
        "Needed for a FAIL; leave empty for a PASS.",
        "불합격이면 입력하고, 합격이면 비워 두세요.",
    ),
    ("station.defect_code", "Defect code", "불량 코드"),
    ("station.defect_description", "Description", "설명"),
    ("station.defect_severity", "Severity", "심각도"),
    ("station.notes", "Notes", "메모"),
];
