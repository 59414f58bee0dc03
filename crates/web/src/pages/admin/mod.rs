//! Administration: users and roles, workspace members, product models, processes and their quality criteria,
//! production lines, equipment, and the audit log viewer. One resource per module; every read and write is the
//! API's (its role checks, its validation, its refusals shown verbatim with the form's values kept). Which
//! sections and write controls a page shows comes from the API's role table ([`WebState::may`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde_json::Value;

use crate::api::{enc, Reply};
use crate::i18n::{t, Lang};
use crate::layout::{self, Nav};
use crate::session::Session;
use crate::WebState;

pub mod audit;
pub mod equipment;
pub mod lines;
pub mod members;
pub mod models;
pub mod processes;
pub mod users;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/admin", get(index))
        .merge(users::routes())
        .merge(members::routes())
        .merge(models::routes())
        .merge(processes::routes())
        .merge(lines::routes())
        .merge(equipment::routes())
        .merge(audit::routes())
}

/// `/ui/admin`: the sections this role may use (reading is open to every role for the master data; users and
/// the audit log are the API's ADMIN / auditor operations).
async fn index(State(web): State<WebState>, s: Session) -> Response {
    let lang = s.lang;
    let mut sections: Vec<(&str, &'static str, &'static str)> = Vec::new();
    if web.may(&s, "GET", "/api/v1/users") {
        sections.push(("/ui/admin/users", "admin.users", "admin.users_hint"));
    }
    sections.push((
        "/ui/admin/workspaces",
        "admin.workspaces",
        "admin.workspaces_hint",
    ));
    sections.push(("/ui/admin/models", "admin.models", "admin.models_hint"));
    sections.push((
        "/ui/admin/processes",
        "admin.processes",
        "admin.processes_hint",
    ));
    sections.push(("/ui/admin/lines", "admin.lines", "admin.lines_hint"));
    sections.push((
        "/ui/admin/equipment",
        "admin.equipment",
        "admin.equipment_hint",
    ));
    if web.may(&s, "GET", "/api/v1/audit-logs") {
        sections.push(("/ui/admin/audit", "admin.audit", "admin.audit_hint"));
    }
    let body = html! {
        ul class="sections" {
            @for (href, key, hint) in &sections {
                li { a href=(href) { (t(lang, key)) } " — " span class="hint" { (t(lang, hint)) } }
            }
        }
    };
    layout::page(&web, &s, Nav::Admin, t(lang, "nav.admin"), body)
}

/// A form's fields, as posted.
pub type Fields = Vec<(String, String)>;

/// A posted field's value, trimmed ("" when absent).
pub fn val<'a>(f: &'a [(String, String)], name: &str) -> &'a str {
    f.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .unwrap_or("")
}

/// Whether a checkbox was ticked.
pub fn checked(f: &[(String, String)], name: &str) -> bool {
    f.iter().any(|(k, v)| k == name && !v.is_empty())
}

/// Empty text is `null` (clears an optional field), anything else the text.
pub fn text_or_null(v: &str) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        Value::String(v.to_string())
    }
}

/// A number when it reads as one, else the text as typed (the API names the field), `null` when empty.
pub fn number_or_text(v: &str) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    if let Ok(i) = v.parse::<i64>() {
        return Value::from(i);
    }
    v.replace(',', ".")
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or_else(|| Value::String(v.to_string()))
}

/// A JSON value as a form shows it.
pub fn show(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A form's values: what was posted (after a refusal) or the record as the API shows it.
pub struct Vals<'a> {
    pub kept: Option<&'a [(String, String)]>,
    pub obj: &'a Value,
}

impl Vals<'_> {
    pub fn get(&self, name: &str) -> String {
        match self.kept {
            Some(k) => val(k, name).to_string(),
            None => show(&self.obj[name]),
        }
    }
    /// A checkbox: ticked when posted ticked, else the record's flag (`default` for a new record).
    pub fn on(&self, name: &str, default: bool) -> bool {
        match self.kept {
            Some(k) => checked(k, name),
            None => self.obj[name].as_bool().unwrap_or(default),
        }
    }
}

/// The API's refusal, verbatim, with its problem code.
pub fn problem(r: &Reply) -> Markup {
    let text = match r.code() {
        Some(code) => format!("{} ({code})", r.problem_text()),
        None => r.problem_text(),
    };
    layout::refusal(&text)
}

/// The field paths the API named in its refusal.
pub fn error_fields(r: &Reply) -> Vec<String> {
    r.body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["field"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A response with `status` (a refused write answers with the API's status).
pub fn with_status(mut res: Response, status: StatusCode) -> Response {
    *res.status_mut() = status;
    res
}

/// The 403 page for a section the role may not use, in the API's words.
pub fn forbidden(web: &WebState, s: &Session, method: &str, path: &str) -> Response {
    let body = layout::refusal(&web.not_allowed(s, method, path));
    with_status(
        layout::page(web, s, Nav::Admin, t(s.lang, "nav.admin"), body),
        StatusCode::FORBIDDEN,
    )
}

/// A query string of the non-empty parameters (`?a=1&b=x`, or "" when none), percent-encoded.
pub fn query(params: &[(&str, &str)]) -> String {
    let parts: Vec<String> = params
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", enc(v.trim())))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// The "Next page" link of a keyset-paged list: the same filters plus the API's `next_cursor`.
pub fn next_link(lang: Lang, base: &str, filters: &[(&str, &str)], page: &Value) -> Markup {
    let Some(c) = page["next_cursor"].as_str() else {
        return html! {};
    };
    let mut p = filters.to_vec();
    p.push(("cursor", c));
    html! { p class="paging" { a rel="next" href=(format!("{base}{}", query(&p))) { (t(lang, "common.next")) } } }
}

/// A timestamp of the API (RFC 3339) as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn when(v: &Value) -> String {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|d| {
            d.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        })
        .unwrap_or_else(|| show(v))
}

/// Yes / no in the page's language (never colour alone).
pub fn yes_no(lang: Lang, v: &Value) -> &'static str {
    if v.as_bool() == Some(true) {
        t(lang, "admin.yes")
    } else {
        t(lang, "admin.no")
    }
}

/// A labelled form field.
pub fn field(id: &str, label: &str, input: Markup) -> Markup {
    html! { div class="field" { label for=(id) { (label) } (input) } }
}

/// A labelled checkbox.
pub fn check(id: &str, label: &str, on: bool) -> Markup {
    html! { div class="field check" { input id=(id) name=(id) type="checkbox" value="true" checked[on]; label for=(id) { (label) } } }
}

/// The items of a list answer.
pub fn items(r: &Reply) -> Vec<Value> {
    r.body["items"].as_array().cloned().unwrap_or_default()
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("admin.users", "Users and roles", "사용자와 역할"),
    (
        "admin.users_hint",
        "accounts, roles, deactivation, password reset",
        "계정, 역할, 비활성화, 비밀번호 재설정",
    ),
    (
        "admin.workspaces",
        "Workspace members",
        "워크스페이스 구성원",
    ),
    (
        "admin.workspaces_hint",
        "who belongs to each ATP workspace, with which role",
        "ATP 워크스페이스별 구성원과 역할",
    ),
    ("admin.models", "Product models", "제품 모델"),
    (
        "admin.models_hint",
        "the models lots are made of",
        "LOT을 만드는 제품 모델",
    ),
    (
        "admin.processes",
        "Processes and criteria",
        "공정과 품질 기준",
    ),
    (
        "admin.processes_hint",
        "the eight processes and their measurement limits",
        "8개 공정과 측정 규격",
    ),
    ("admin.lines", "Production lines", "생산 라인"),
    (
        "admin.lines_hint",
        "lines by country and number",
        "국가와 번호별 라인",
    ),
    ("admin.equipment", "Equipment", "설비"),
    (
        "admin.equipment_hint",
        "equipment by process and line, status, calibration",
        "공정·라인별 설비, 상태, 교정",
    ),
    ("admin.audit", "Audit log", "감사 로그"),
    (
        "admin.audit_hint",
        "every change, who made it and what it was",
        "모든 변경, 변경자와 변경 내용",
    ),
    ("admin.yes", "Yes", "예"),
    ("admin.no", "No", "아니오"),
    ("admin.active", "Active", "활성"),
    ("admin.edit", "Edit", "편집"),
    ("admin.create", "Create", "만들기"),
    ("admin.saved", "Saved.", "저장했습니다."),
    ("admin.created", "Created.", "만들었습니다."),
    (
        "admin.read_only",
        "You may read this list; changing it needs the ADMIN or MANAGER role.",
        "이 목록은 조회만 가능합니다. 변경하려면 ADMIN 또는 MANAGER 역할이 필요합니다.",
    ),
    ("admin.name", "Name", "이름"),
    ("admin.code", "Code", "코드"),
    ("admin.updated", "Updated", "수정"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keeps_only_given_values_encoded() {
        assert_eq!(
            query(&[("a", ""), ("b", " x y "), ("c", "1&2")]),
            "?b=x%20y&c=1%262"
        );
        assert_eq!(query(&[("a", " ")]), "");
    }

    #[test]
    fn numbers_read_as_numbers_else_as_typed() {
        assert_eq!(number_or_text("12"), Value::from(12));
        assert_eq!(number_or_text("0,5"), serde_json::json!(0.5));
        assert_eq!(number_or_text("ten"), Value::from("ten"));
        assert_eq!(number_or_text(""), Value::Null);
    }
}
