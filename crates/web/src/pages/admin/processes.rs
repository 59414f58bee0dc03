//! The eight processes and their quality criteria. The list shows each process's measurements with their
//! limits; the edit form has one row per measurement (name, min, max, unit, required) plus empty rows to add
//! one, and is sent as the whole criteria object (`PATCH /api/v1/processes/{id}` replaces it). Emptying a row's
//! name removes that measurement. The API validates (a min above its max is its 422, naming
//! `quality_criteria.<name>.min`); the page shows the refusal and marks the named fields.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::{html, Markup};
use serde_json::{json, Map, Value};

use super::{
    check, error_fields, field, items, number_or_text, problem, show, text_or_null, val, when,
    with_status, yes_no, Fields, Vals,
};
use crate::i18n::{t, Lang};
use crate::layout::{self, csrf_field, Nav};
use crate::pages::station::process_name;
use crate::session::Session;
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/admin/processes", get(list))
        .route("/ui/admin/processes/{id}", get(edit).post(update))
}

/// Empty rows offered for new measurements.
const SPARE_ROWS: usize = 3;

#[derive(Default, Clone)]
struct Row {
    name: String,
    min: String,
    max: String,
    unit: String,
    required: bool,
}

fn rows_of_criteria(c: &Value) -> Vec<Row> {
    c.as_object()
        .map(|m| {
            m.iter()
                .map(|(name, spec)| Row {
                    name: name.clone(),
                    min: show(&spec["min"]),
                    max: show(&spec["max"]),
                    unit: show(&spec["unit"]),
                    required: spec["required"].as_bool().unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn rows_of_form(f: &[(String, String)]) -> Vec<Row> {
    let n: usize = val(f, "rows").parse().unwrap_or(0).min(200);
    (0..n)
        .map(|i| Row {
            name: val(f, &format!("name.{i}")).to_string(),
            min: val(f, &format!("min.{i}")).to_string(),
            max: val(f, &format!("max.{i}")).to_string(),
            unit: val(f, &format!("unit.{i}")).to_string(),
            required: super::checked(f, &format!("required.{i}")),
        })
        .collect()
}

/// The criteria object of the form's rows (rows without a name are left out; limits as numbers when they read
/// as numbers, else as typed so the API names them).
fn criteria_of(rows: &[Row]) -> Value {
    let mut out = Map::new();
    for r in rows.iter().filter(|r| !r.name.is_empty()) {
        let mut spec = Map::new();
        for (key, v) in [("min", &r.min), ("max", &r.max)] {
            if !v.is_empty() {
                spec.insert(key.to_string(), number_or_text(v));
            }
        }
        if !r.unit.is_empty() {
            spec.insert("unit".into(), json!(r.unit));
        }
        spec.insert("required".into(), json!(r.required));
        out.insert(r.name.clone(), Value::Object(spec));
    }
    Value::Object(out)
}

fn summary(c: &Value) -> Vec<String> {
    rows_of_criteria(c)
        .into_iter()
        .map(|r| {
            let limits = match (r.min.is_empty(), r.max.is_empty()) {
                (false, false) => format!("{} – {}", r.min, r.max),
                (false, true) => format!("≥ {}", r.min),
                (true, false) => format!("≤ {}", r.max),
                (true, true) => String::new(),
            };
            format!(
                "{} {} {}{}",
                r.name,
                limits,
                r.unit,
                if r.required { " *" } else { "" }
            )
            .trim()
            .to_string()
        })
        .collect()
}

async fn list(State(web): State<WebState>, s: Session) -> Response {
    let lang = s.lang;
    let r = web.api.get(&s.cx, "/api/v1/processes").await;
    let can_edit = web.may(&s, "PATCH", "/api/v1/processes/{id}");
    let body = html! {
        @if !r.ok() { (problem(&r)) } @else {
            table class="data" id="processes" {
                caption { (t(lang, "admin.processes")) }
                thead { tr {
                    th scope="col" { (t(lang, "admin.name")) }
                    th scope="col" { (t(lang, "admin.active")) }
                    th scope="col" { (t(lang, "processes.criteria")) }
                    th scope="col" { (t(lang, "admin.updated")) }
                    @if can_edit { th scope="col" { (t(lang, "common.actions")) } }
                } }
                tbody {
                    @for p in items(&r) {
                        tr {
                            td { (process_name(lang, &p)) }
                            td { (yes_no(lang, &p["is_active"])) }
                            td {
                                @let lines = summary(&p["quality_criteria"]);
                                @if lines.is_empty() { (t(lang, "processes.no_criteria")) } @else {
                                    ul class="plain" { @for l in lines { li { (l) } } }
                                }
                            }
                            td { (when(&p["updated_at"])) }
                            @if can_edit {
                                td { a href=(format!("/ui/admin/processes/{}", p["id"])) { (t(lang, "processes.edit")) span class="sr-only" { " " (process_name(lang, &p)) } } }
                            }
                        }
                    }
                }
            }
            p class="hint" { (t(lang, "processes.legend")) }
            @if !can_edit { p class="hint" { (t(lang, "admin.read_only")) } }
        }
    };
    layout::page(&web, &s, Nav::Admin, t(lang, "admin.processes"), body)
}

fn criteria_form(
    lang: Lang,
    s: &Session,
    id: i64,
    v: &Vals,
    rows: &[Row],
    errors: &[String],
) -> Markup {
    let invalid = |field: &str| errors.iter().any(|e| e == field);
    let bad = |name: &str, key: &str| {
        !name.is_empty()
            && errors.iter().any(|e| {
                let base = format!("quality_criteria.{name}");
                *e == format!("{base}.{key}") || (key == "name" && *e == base)
            })
    };
    html! {
        form method="post" action=(format!("/ui/admin/processes/{id}")) id="criteria" {
            (csrf_field(s))
            input type="hidden" name="rows" value=(rows.len());
            div class="stack narrow" {
                (field("description", t(lang, "processes.description"), html! {
                    textarea id="description" name="description" rows="2" maxlength="2000" { (v.get("description")) }
                }))
                (field("estimated_duration_seconds", t(lang, "processes.duration"), html! {
                    input id="estimated_duration_seconds" name="estimated_duration_seconds" inputmode="numeric" autocomplete="off"
                        value=(v.get("estimated_duration_seconds"))
                        aria-invalid=[invalid("estimated_duration_seconds").then_some("true")];
                }))
                (check("is_active", t(lang, "processes.active"), v.on("is_active", true)))
            }
            table class="data criteria" {
                caption { (t(lang, "processes.criteria")) }
                thead { tr {
                    th scope="col" { (t(lang, "processes.measurement")) }
                    th scope="col" { (t(lang, "processes.min")) }
                    th scope="col" { (t(lang, "processes.max")) }
                    th scope="col" { (t(lang, "processes.unit")) }
                    th scope="col" { (t(lang, "processes.required")) }
                } }
                tbody {
                    @for (i, r) in rows.iter().enumerate() {
                        @let row_label = if r.name.is_empty() { format!("{} {}", t(lang, "processes.new_row"), i + 1) } else { r.name.clone() };
                        tr {
                            @for (key, value, mode) in [("name", &r.name, "text"), ("min", &r.min, "decimal"), ("max", &r.max, "decimal"), ("unit", &r.unit, "text")] {
                                td {
                                    @let fid = format!("{key}-{i}");
                                    label for=(fid) class="sr-only" { (t(lang, col_key(key))) " — " (row_label) }
                                    input id=(fid) name=(format!("{key}.{i}")) value=(value) inputmode=(mode) autocomplete="off"
                                        maxlength=(if key == "name" { "100" } else { "50" })
                                        class=[bad(&r.name, key).then_some("invalid")] aria-invalid=[bad(&r.name, key).then_some("true")];
                                }
                            }
                            td {
                                @let fid = format!("required-{i}");
                                input id=(fid) name=(format!("required.{i}")) type="checkbox" value="true" checked[r.required];
                                label for=(fid) class="sr-only" { (t(lang, "processes.required")) " — " (row_label) }
                            }
                        }
                    }
                }
            }
            p class="hint" { (t(lang, "processes.hint")) }
            button type="submit" class="primary" id="save" { (t(lang, "common.save")) }
        }
    }
}

fn col_key(key: &str) -> &'static str {
    match key {
        "name" => "processes.measurement",
        "min" => "processes.min",
        "max" => "processes.max",
        _ => "processes.unit",
    }
}

/// A refused form's fields as sent, and the names of the fields the API named.
type Kept<'a> = (&'a [(String, String)], Vec<String>);

async fn render_edit(
    web: &WebState,
    s: &Session,
    id: i64,
    feedback: Option<Markup>,
    kept: Option<Kept<'_>>,
) -> Response {
    let lang = s.lang;
    let r = web.api.get(&s.cx, &format!("/api/v1/processes/{id}")).await;
    if !r.ok() {
        return with_status(
            layout::page(web, s, Nav::Admin, t(lang, "admin.processes"), problem(&r)),
            r.status,
        );
    }
    let (rows, errors) = match &kept {
        Some((f, errors)) => (rows_of_form(f), errors.clone()),
        None => {
            let mut rows = rows_of_criteria(&r.body["quality_criteria"]);
            rows.resize(rows.len() + SPARE_ROWS, Row::default());
            (rows, Vec::new())
        }
    };
    let title = format!(
        "{} · {}",
        t(lang, "processes.edit"),
        process_name(lang, &r.body)
    );
    let body = html! {
        p { a href="/ui/admin/processes" { (t(lang, "common.back")) } }
        @if let Some(f) = feedback { (f) }
        (criteria_form(lang, s, id, &Vals { kept: kept.as_ref().map(|(f, _)| *f), obj: &r.body }, &rows, &errors))
    };
    layout::page(web, s, Nav::Admin, &title, body)
}

async fn edit(
    State(web): State<WebState>,
    s: Session,
    Path(id): Path<i64>,
    Query(q): Query<Fields>,
) -> Response {
    if !web.may(&s, "PATCH", "/api/v1/processes/{id}") {
        return super::forbidden(&web, &s, "PATCH", "/api/v1/processes/{id}");
    }
    let feedback = (val(&q, "saved") == "1").then(|| layout::success(t(s.lang, "admin.saved")));
    render_edit(&web, &s, id, feedback, None).await
}

async fn update(
    State(web): State<WebState>,
    s: Session,
    Path(id): Path<i64>,
    Form(f): Form<Fields>,
) -> Response {
    let rows = rows_of_form(&f);
    let body = json!({
        "quality_criteria": criteria_of(&rows),
        "description": text_or_null(val(&f, "description")),
        "estimated_duration_seconds": number_or_text(val(&f, "estimated_duration_seconds")),
        "is_active": super::checked(&f, "is_active"),
    });
    let r = web
        .api
        .call(
            &s.cx,
            Method::PATCH,
            &format!("/api/v1/processes/{id}"),
            Some(&body),
            None,
        )
        .await;
    if r.ok() {
        return Redirect::to(&format!("/ui/admin/processes/{id}?saved=1")).into_response();
    }
    let errors = error_fields(&r);
    with_status(
        render_edit(&web, &s, id, Some(problem(&r)), Some((&f, errors))).await,
        r.status,
    )
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("processes.criteria", "Quality criteria", "품질 기준"),
    ("processes.description", "Description", "설명"),
    ("processes.duration", "Estimated duration (seconds)", "예상 소요 시간 (초)"),
    ("processes.active", "Active (an inactive process is skipped by the sequence rule)", "활성 (비활성 공정은 순서 규칙에서 건너뜁니다)"),
    ("processes.legend", "* a required measurement.", "* 필수 측정 항목."),
    ("processes.no_criteria", "No measurements", "측정 항목 없음"),
    ("processes.edit", "Edit criteria", "기준 편집"),
    ("processes.measurement", "Measurement", "측정 항목"),
    ("processes.min", "Min", "최소"),
    ("processes.max", "Max", "최대"),
    ("processes.unit", "Unit", "단위"),
    ("processes.required", "Required", "필수"),
    ("processes.new_row", "New measurement", "새 측정 항목"),
    ("processes.hint", "Fill an empty row to add a measurement; empty a name to remove one. The whole set is saved at once.", "빈 행을 채우면 측정 항목이 추가되고, 이름을 비우면 삭제됩니다. 전체가 한 번에 저장됩니다."),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_the_criteria_object() {
        let rows = vec![
            Row {
                name: "torque_nm".into(),
                min: "1.8".into(),
                max: "2,2".into(),
                unit: "Nm".into(),
                required: true,
            },
            Row {
                name: "gap".into(),
                min: "".into(),
                max: "abc".into(),
                unit: "".into(),
                required: false,
            },
            Row::default(),
        ];
        assert_eq!(
            criteria_of(&rows),
            json!({
                "torque_nm": { "min": 1.8, "max": 2.2, "unit": "Nm", "required": true },
                "gap": { "max": "abc", "required": false },
            }),
            "empty rows are left out; a non-number goes as typed, for the API to name"
        );
        let back = rows_of_criteria(&criteria_of(&rows[..1]));
        assert_eq!(
            (back[0].min.as_str(), back[0].max.as_str(), back[0].required),
            ("1.8", "2.2", true)
        );
    }
}
