//! An ATP workspace's configuration versions: the history (`GET …/config-versions`, keyset pages), one version's
//! validation report, its diff against the version it is compared with (`GET …/{id}/diff`: the one it
//! superseded, else the ACTIVE one) and an Activate button for a DRAFT version, shown to the workspace's
//! WORKSPACE_ADMIN members (the API's Configure policy; the API decides all the same).

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::approvals::{api_ws, my_role, text, ui_ws, when, ws_links};
use crate::api::enc;
use crate::i18n::{t, Lang};
use crate::layout::{self, csrf_field, Nav};
use crate::session::Session;
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/approvals/{ws}/config", get(config_page))
        .route("/ui/approvals/{ws}/config/{id}/activate", post(activate))
}

#[derive(Deserialize, Default)]
pub struct ConfigQuery {
    version: Option<String>,
    cursor: Option<String>,
}

fn versions_table(lang: Lang, ws: &str, items: &[Value], selected: Option<&str>) -> Markup {
    html! {
        table class="data" id="versions" {
            caption { (t(lang, "atp_config.versions")) }
            thead { tr {
                th scope="col" { (t(lang, "atp_config.type")) }
                th scope="col" { (t(lang, "atp_config.version")) }
                th scope="col" { (t(lang, "common.status")) }
                th scope="col" { (t(lang, "atp_config.validation")) }
                th scope="col" class="num" { (t(lang, "atp_config.rows")) }
                th scope="col" { (t(lang, "atp_config.files")) }
                th scope="col" { (t(lang, "common.created")) }
            } }
            tbody {
                @for v in items {
                    @let id = text(&v["id"]);
                    tr data-version=(id) {
                        td { (text(&v["source_type"])) }
                        td {
                            a href=(format!("{}?version={}", ui_ws(ws, "/config"), enc(&id))) aria-current=[(selected == Some(id.as_str())).then_some("true")] {
                                "v" (text(&v["version_number"]))
                            }
                        }
                        td { span class="badge" { (text(&v["status"])) } }
                        td { (text(&v["validation_status"])) }
                        td class="num" { (text(&v["row_count"])) }
                        td { (text(&v["source_file_name"])) }
                        td { (when(&v["created_at"])) }
                    }
                }
            }
        }
    }
}

fn report(lang: Lang, v: &Value) -> Markup {
    let issues = v["validation_errors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    html! {
        @if issues.is_empty() {
            p id="report-clean" { (t(lang, "atp_config.no_issues")) }
        } @else {
            table class="data" id="report" {
                caption { (t(lang, "atp_config.report")) }
                thead { tr {
                    th scope="col" { (t(lang, "atp_config.file")) }
                    th scope="col" class="num" { (t(lang, "atp_config.row")) }
                    th scope="col" { (t(lang, "atp_config.column")) }
                    th scope="col" { (t(lang, "atp_config.severity")) }
                    th scope="col" { (t(lang, "atp_config.reason")) }
                } }
                tbody {
                    @for i in &issues {
                        tr {
                            td { (text(&i["file"])) }
                            td class="num" { (text(&i["row"])) }
                            td { (text(&i["column"])) }
                            td { (text(&i["severity"])) }
                            td { (text(&i["reason"])) }
                        }
                    }
                }
            }
        }
    }
}

fn row_text(v: &Value) -> String {
    match v.as_object() {
        Some(o) => o
            .iter()
            .map(|(k, v)| format!("{k}={}", text(v)))
            .collect::<Vec<_>>()
            .join(", "),
        None => text(v),
    }
}

fn diff(lang: Lang, d: &Value) -> Markup {
    let tables = d["tables"].as_array().cloned().unwrap_or_default();
    html! {
        p { (t(lang, "atp_config.against")) " " code { (text(&d["against"])) } }
        @for tb in &tables {
            @let added = tb["added"].as_array().cloned().unwrap_or_default();
            @let removed = tb["removed"].as_array().cloned().unwrap_or_default();
            @let changed = tb["changed"].as_array().cloned().unwrap_or_default();
            table class="data diff" {
                caption {
                    (text(&tb["table"])) ": " (added.len()) " " (t(lang, "atp_config.added")) ", " (removed.len()) " "
                    (t(lang, "atp_config.removed")) ", " (changed.len()) " " (t(lang, "atp_config.changed")) ", "
                    (text(&tb["unchanged"])) " " (t(lang, "atp_config.unchanged"))
                }
                thead { tr { th scope="col" { (t(lang, "atp_config.change")) } th scope="col" { (t(lang, "atp_config.content")) } } }
                tbody {
                    @for r in &added { tr { td { "+ " (t(lang, "atp_config.added")) } td { (row_text(r)) } } }
                    @for r in &removed { tr { td { "− " (t(lang, "atp_config.removed")) } td { (row_text(r)) } } }
                    @for c in &changed {
                        tr {
                            td { "~ " (t(lang, "atp_config.changed")) " " (text(&c["key"])) }
                            td {
                                @for f in c["fields"].as_array().cloned().unwrap_or_default() {
                                    @let f = text(&f);
                                    div { (f) ": " (text(&c["before"][f.as_str()])) " → " (text(&c["after"][f.as_str()])) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn render(
    web: &WebState,
    s: &Session,
    ws: &str,
    q: &ConfigQuery,
    feedback: Option<Markup>,
) -> Response {
    let lang = s.lang;
    let title = format!("{} · {}", t(lang, "atp_config.title"), ws);
    let mut path = api_ws(ws, "/config-versions?limit=100");
    if let Some(c) = q.cursor.as_deref().filter(|c| !c.is_empty()) {
        path.push_str(&format!("&cursor={}", enc(c)));
    }
    let list = web.api.get(&s.cx, &path).await;
    if !list.ok() {
        let mut res = layout::page(
            web,
            s,
            Nav::Approvals,
            &title,
            html! { (ws_links(lang, ws, "config")) (layout::refusal(&list.problem_text())) },
        );
        *res.status_mut() = list.status;
        return res;
    }
    let items = list.body["items"].as_array().cloned().unwrap_or_default();
    let selected = q.version.as_deref().filter(|v| !v.is_empty());
    let detail = match selected {
        Some(id) => Some(
            web.api
                .get(&s.cx, &api_ws(ws, &format!("/config-versions/{}", enc(id))))
                .await,
        ),
        None => None,
    };
    let diff_r = match (selected, detail.as_ref().is_some_and(|d| d.ok())) {
        (Some(id), true) => Some(
            web.api
                .get(
                    &s.cx,
                    &api_ws(ws, &format!("/config-versions/{}/diff", enc(id))),
                )
                .await,
        ),
        _ => None,
    };
    let admin = my_role(web, s, ws).await.as_deref() == Some("WORKSPACE_ADMIN");
    let body = html! {
        (ws_links(lang, ws, "config"))
        @if let Some(f) = &feedback { (f) }
        @if items.is_empty() { p { (t(lang, "common.none")) } } @else { (versions_table(lang, ws, &items, selected)) }
        @if let Some(c) = list.body["next_cursor"].as_str() {
            p { a href=(format!("{}?cursor={}", ui_ws(ws, "/config"), enc(c))) { (t(lang, "common.next")) } }
        }
        @if let Some(d) = &detail {
            @if !d.ok() { (layout::refusal(&d.problem_text())) } @else {
                @let v = &d.body;
                section aria-labelledby="version-h" id="version" {
                    h2 id="version-h" { (text(&v["source_type"])) " v" (text(&v["version_number"])) }
                    dl class="facts" {
                        dt { (t(lang, "common.status")) } dd { span class="badge" id="version-status" { (text(&v["status"])) } }
                        dt { (t(lang, "atp_config.validation")) } dd { (text(&v["validation_status"])) }
                        dt { (t(lang, "atp_config.files")) } dd { (text(&v["source_file_name"])) }
                        @if let Some(x) = v["description"].as_str() { dt { (t(lang, "submission.description")) } dd { (x) } }
                        dt { (t(lang, "atp_config.checksum")) } dd { code { (text(&v["checksum"])) } }
                        @if !v["activated_at"].is_null() { dt { (t(lang, "atp_config.activated")) } dd { (when(&v["activated_at"])) } }
                    }
                    @if admin && v["status"] == "DRAFT" {
                        form method="post" action=(ui_ws(ws, &format!("/config/{}/activate", enc(&text(&v["id"]))))) data-retry id="activate-form" {
                            (csrf_field(s))
                            input type="hidden" name="idem" value=(uuid::Uuid::new_v4());
                            button type="submit" class="primary" id="activate" { (t(lang, "atp_config.activate")) }
                        }
                    }
                    h3 { (t(lang, "atp_config.report")) }
                    (report(lang, v))
                    h3 { (t(lang, "atp_config.diff")) }
                    @match &diff_r {
                        Some(r) if r.ok() => (diff(lang, &r.body)),
                        Some(r) => p class="hint" { (r.problem_text()) },
                        None => {},
                    }
                }
            }
        }
    };
    layout::page(web, s, Nav::Approvals, &title, body)
}

async fn config_page(
    State(web): State<WebState>,
    s: Session,
    Path(ws): Path<String>,
    Query(q): Query<ConfigQuery>,
) -> Response {
    render(&web, &s, &ws, &q, None).await
}

#[derive(Deserialize)]
pub struct ActivateForm {
    idem: String,
}

async fn activate(
    State(web): State<WebState>,
    s: Session,
    Path((ws, id)): Path<(String, String)>,
    Form(f): Form<ActivateForm>,
) -> Response {
    let r = web
        .api
        .call(
            &s.cx,
            Method::POST,
            &api_ws(&ws, &format!("/config-versions/{}/activate", enc(&id))),
            None,
            Some(&f.idem),
        )
        .await;
    let feedback = if r.ok() {
        layout::success(&format!(
            "{} v{} — {}",
            text(&r.body["source_type"]),
            text(&r.body["version_number"]),
            text(&r.body["status"])
        ))
    } else {
        layout::refusal(&r.problem_text())
    };
    let q = ConfigQuery {
        version: Some(id),
        cursor: None,
    };
    let mut res = render(&web, &s, &ws, &q, Some(feedback)).await;
    if !r.ok() && res.status() == StatusCode::OK {
        *res.status_mut() = r.status;
    }
    res
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("atp_config.title", "Configuration", "구성"),
    ("atp_config.versions", "Configuration versions", "구성 버전"),
    ("atp_config.type", "Source type", "유형"),
    ("atp_config.version", "Version", "버전"),
    ("atp_config.validation", "Validation", "검증"),
    ("atp_config.rows", "Rows", "행 수"),
    ("atp_config.files", "Files", "파일"),
    ("atp_config.report", "Validation report", "검증 보고서"),
    (
        "atp_config.no_issues",
        "No validation issues.",
        "검증 문제가 없습니다.",
    ),
    ("atp_config.file", "File", "파일"),
    ("atp_config.row", "Row", "행"),
    ("atp_config.column", "Column", "열"),
    ("atp_config.severity", "Severity", "심각도"),
    ("atp_config.reason", "Reason", "사유"),
    ("atp_config.diff", "Difference", "차이"),
    (
        "atp_config.against",
        "Compared with version",
        "비교 대상 버전",
    ),
    ("atp_config.added", "added", "추가"),
    ("atp_config.removed", "removed", "삭제"),
    ("atp_config.changed", "changed", "변경"),
    ("atp_config.unchanged", "unchanged", "변경 없음"),
    ("atp_config.change", "Change", "변경"),
    ("atp_config.content", "Content", "내용"),
    ("atp_config.checksum", "Checksum", "체크섬"),
    ("atp_config.activated", "Activated", "활성화"),
    (
        "atp_config.activate",
        "Activate this version",
        "이 버전 활성화",
    ),
];
