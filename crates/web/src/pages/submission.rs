//! One ATP submission: its facts, revisions (the `previous_submission_id` chain), timeline, punchlist, documents
//! with an inline preview, the decision form of the stage waiting for me and the QA review form.
//!
//! - Which stage is mine is the pending list's answer (the decision's own rule: assignment, override, absence);
//!   the decision itself is `POST /workspaces/{ws}/stages/{id}/decide`, which may still refuse (shown verbatim).
//! - The QA form is shown to QA members while the revision is in QA_REVIEW (`POST …/qa-review` decides).
//! - Both forms carry an idempotency key made when the form was rendered, and `data-retry`: a network blip is
//!   retried with the same key, and the API replays its first answer.
//! - The API lists no documents of a submission (only a download by document id): the page previews the
//!   documents the API names — the punchlist items' evidence. Previews load through
//!   `/ui/approvals/{ws}/submissions/{id}/documents/{doc}`, which streams the API's bytes with its content type.

use axum::extract::{Path, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

use super::approvals::{api_ws, members, role_of, text, ui_ws, when, who, ws_links};
use crate::api::enc;
use crate::i18n::{t, Lang};
use crate::layout::{self, csrf_field, Nav};
use crate::session::Session;
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/approvals/{ws}/submissions/{id}", get(submission_page))
        .route(
            "/ui/approvals/{ws}/submissions/{id}/documents/{doc}",
            get(document),
        )
        .route(
            "/ui/approvals/{ws}/submissions/{id}/qa-review",
            post(qa_review),
        )
        .route("/ui/approvals/{ws}/stages/{stage}/decide", post(decide))
}

/// What a refused form had (kept, so the comment is not retyped).
#[derive(Default)]
struct Kept {
    comment: String,
    item_code: String,
    item_description: String,
    item_severity: String,
}

fn doc_href(ws: &str, sub: &str, doc: &str) -> String {
    ui_ws(
        ws,
        &format!("/submissions/{}/documents/{}", enc(sub), enc(doc)),
    )
}

fn facts(lang: Lang, sub: &Value, people: &[Value]) -> Markup {
    html! {
        dl class="facts" id="facts" {
            dt { (t(lang, "submission.code")) } dd { (text(&sub["submission_code"])) }
            dt { (t(lang, "submission.revision")) } dd { (text(&sub["revision_number"])) }
            dt { (t(lang, "common.status")) } dd { span class="badge" id="sub-status" { (text(&sub["status"])) } }
            dt { (t(lang, "approvals.category")) } dd { (text(&sub["atp_category"])) }
            @if let Some(v) = sub["title"].as_str() { dt { (t(lang, "submission.title_f")) } dd { (v) } }
            @if let Some(v) = sub["remarks"].as_str() { dt { (t(lang, "submission.remarks")) } dd { (v) } }
            @if !sub["submitted_at"].is_null() {
                dt { (t(lang, "submission.submitted")) } dd { (when(&sub["submitted_at"])) " · " (who(people, &sub["submitted_by"])) }
            }
            @if !sub["qa_reviewed_at"].is_null() {
                dt { (t(lang, "submission.qa_reviewed")) } dd { (when(&sub["qa_reviewed_at"])) " · " (who(people, &sub["qa_reviewed_by"])) }
            }
            @if let Some(v) = sub["qa_comment"].as_str() { dt { (t(lang, "submission.qa_comment")) } dd { (v) } }
        }
    }
}

fn timeline(lang: Lang, events: &[Value], people: &[Value]) -> Markup {
    html! {
        table class="data" id="timeline" {
            caption { (t(lang, "submission.timeline")) }
            thead { tr {
                th scope="col" { (t(lang, "submission.at")) }
                th scope="col" { (t(lang, "submission.revision")) }
                th scope="col" { (t(lang, "approvals.stage")) }
                th scope="col" { (t(lang, "submission.action")) }
                th scope="col" { (t(lang, "common.status")) }
                th scope="col" { (t(lang, "submission.by")) }
                th scope="col" { (t(lang, "submission.comment")) }
            } }
            tbody {
                @for e in events {
                    tr {
                        td { (when(&e["at"])) }
                        td { (text(&e["revision_number"])) }
                        td { @if !e["stage_number"].is_null() { (text(&e["stage_number"])) " · " (text(&e["stage_name"])) } }
                        td { (text(&e["action"])) }
                        td { (text(&e["from_status"])) " → " (text(&e["to_status"])) }
                        td {
                            @if e["actor_user_id"].is_null() && e["action"] != "ACTIVATE" { (t(lang, "submission.system")) }
                            @else { (who(people, &e["actor_user_id"])) }
                            @if e["action"] == "ACTIVATE" { (t(lang, "submission.assigned")) " " (who(people, &e["assigned_approver_id"])) }
                        }
                        td { (text(&e["comment"])) }
                    }
                }
            }
        }
    }
}

fn punchlist(lang: Lang, ws: &str, sub_id: &str, items: &[Value]) -> Markup {
    html! {
        @if items.is_empty() {
            p { (t(lang, "submission.no_punchlist")) }
        } @else {
            table class="data" id="punchlist" {
                caption { (t(lang, "submission.punchlist")) }
                thead { tr {
                    th scope="col" { (t(lang, "submission.item")) }
                    th scope="col" { (t(lang, "submission.severity")) }
                    th scope="col" { (t(lang, "common.status")) }
                    th scope="col" { (t(lang, "submission.description")) }
                    th scope="col" { (t(lang, "submission.evidence")) }
                } }
                tbody {
                    @for it in items {
                        tr {
                            td { (text(&it["item_code"])) }
                            td { (text(&it["severity"])) }
                            td { (text(&it["status"])) " (" (text(&it["punchlist_status"])) ")" }
                            td { (text(&it["description"])) }
                            td { @if let Some(d) = it["evidence_document_id"].as_str() { a href=(doc_href(ws, sub_id, d)) { (t(lang, "submission.download")) } } }
                        }
                    }
                }
            }
        }
    }
}

/// The preview of one document: an image, or the PDF in an `<object>` (with a download link inside as fallback).
fn preview(lang: Lang, href: &str, content_type: &str, label: &str) -> Markup {
    html! {
        figure class="document" {
            @if content_type.starts_with("image/") {
                img class="preview" src=(href) alt=(label);
            } @else if content_type == "application/pdf" {
                object class="preview" type="application/pdf" data=(href) aria-label=(label) {
                    a href=(href) { (t(lang, "submission.download")) " " (label) }
                }
            }
            figcaption { (label) " · " (content_type) " · " a href=(href) download { (t(lang, "submission.download")) } }
        }
    }
}

fn decision_form(s: &Session, ws: &str, sub_id: &str, stage: &Value, kept: &Kept) -> Markup {
    let lang = s.lang;
    let (left, overdue) =
        super::approvals::countdown(lang, stage["seconds_left"].as_i64().unwrap_or(0));
    let action = ui_ws(
        ws,
        &format!("/stages/{}/decide", enc(&text(&stage["stage_id"]))),
    );
    html! {
        section aria-labelledby="decide-h" id="decide" {
            h2 id="decide-h" { (t(lang, "submission.decide")) " — " (t(lang, "approvals.stage")) " " (text(&stage["stage_number"])) " · " (text(&stage["stage_name"])) }
            p {
                (t(lang, "approvals.due")) " " time datetime=(text(&stage["due_at"])) { (when(&stage["due_at"])) } " · "
                span class=[overdue.then_some("overdue")] { (left) }
            }
            form method="post" action=(action) data-retry class="stack narrow" id="decide-form" {
                (csrf_field(s))
                input type="hidden" name="idem" value=(uuid::Uuid::new_v4());
                input type="hidden" name="sub" value=(sub_id);
                label for="comment" { (t(lang, "submission.comment")) }
                p class="hint" id="comment-hint" { (t(lang, "submission.comment_hint")) }
                textarea id="comment" name="comment" rows="3" maxlength="4000" aria-describedby="comment-hint" { (kept.comment) }
                fieldset {
                    legend { (t(lang, "submission.punch_item")) }
                    p class="hint" { (t(lang, "submission.punch_hint")) }
                    label for="item_code" { (t(lang, "submission.item")) }
                    input id="item_code" name="item_code" maxlength="50" autocomplete="off" value=(kept.item_code);
                    label for="item_description" { (t(lang, "submission.description")) }
                    input id="item_description" name="item_description" maxlength="2000" value=(kept.item_description);
                    label for="item_severity" { (t(lang, "submission.severity")) }
                    select id="item_severity" name="item_severity" {
                        @for sev in ["MINOR", "MAJOR", "CRITICAL"] { option value=(sev) selected[kept.item_severity == sev] { (sev) } }
                    }
                }
                div class="row" {
                    button type="submit" class="primary big" id="approve" name="decision" value="APPROVE" { (t(lang, "submission.approve")) }
                    button type="submit" class="big" id="approve-punchlist" name="decision" value="APPROVE_WITH_PUNCHLIST" { (t(lang, "submission.approve_punchlist")) }
                    button type="submit" class="big" id="reject" name="decision" value="REJECT" { (t(lang, "submission.reject")) }
                }
            }
        }
    }
}

fn qa_form(s: &Session, ws: &str, sub_id: &str, kept: &Kept) -> Markup {
    let lang = s.lang;
    html! {
        section aria-labelledby="qa-h" id="qa" {
            h2 id="qa-h" { (t(lang, "submission.qa_review")) }
            form method="post" action=(ui_ws(ws, &format!("/submissions/{}/qa-review", enc(sub_id)))) data-retry class="stack narrow" id="qa-form" {
                (csrf_field(s))
                input type="hidden" name="idem" value=(uuid::Uuid::new_v4());
                label for="qa-comment" { (t(lang, "submission.comment")) }
                p class="hint" id="qa-comment-hint" { (t(lang, "submission.comment_hint")) }
                textarea id="qa-comment" name="comment" rows="3" maxlength="4000" aria-describedby="qa-comment-hint" { (kept.comment) }
                div class="row" {
                    button type="submit" class="primary big" id="qa-approve" name="decision" value="APPROVE" { (t(lang, "submission.approve")) }
                    button type="submit" class="big" id="qa-reject" name="decision" value="REJECT" { (t(lang, "submission.reject")) }
                }
            }
        }
    }
}

async fn render(
    web: &WebState,
    s: &Session,
    ws: &str,
    id: &str,
    feedback: Option<Markup>,
    kept: Kept,
) -> Response {
    let lang = s.lang;
    let sub_r = web
        .api
        .get(&s.cx, &api_ws(ws, &format!("/submissions/{}", enc(id))))
        .await;
    if !sub_r.ok() {
        let mut res = layout::page(
            web,
            s,
            Nav::Approvals,
            t(lang, "submission.page"),
            html! {
                (ws_links(lang, ws, "")) @if let Some(f) = &feedback { (f) } (layout::refusal(&sub_r.problem_text()))
            },
        );
        *res.status_mut() = sub_r.status;
        return res;
    }
    let sub = sub_r.body;
    let timeline_r = web
        .api
        .get(
            &s.cx,
            &api_ws(ws, &format!("/submissions/{}/timeline", enc(id))),
        )
        .await;
    let punch_r = web
        .api
        .get(
            &s.cx,
            &api_ws(ws, &format!("/submissions/{}/punchlist-items", enc(id))),
        )
        .await;
    let pending_r = web
        .api
        .get(&s.cx, &api_ws(ws, "/approvals/pending?limit=500"))
        .await;
    let people = members(web, s, ws).await.unwrap_or_default();
    let role = role_of(&people, s.user_id);
    // the revision chain, newest first (each revision names the one it follows)
    let mut revisions = vec![sub.clone()];
    while let Some(prev) = revisions
        .last()
        .and_then(|r| r["previous_submission_id"].as_str())
        .map(str::to_string)
    {
        if revisions.len() >= 20 {
            break;
        }
        let r = web
            .api
            .get(&s.cx, &api_ws(ws, &format!("/submissions/{}", enc(&prev))))
            .await;
        if !r.ok() {
            break;
        }
        revisions.push(r.body);
    }
    let code = text(&sub["submission_code"]);
    let my_stage = pending_r.body["items"].as_array().and_then(|a| {
        a.iter()
            .find(|p| text(&p["submission_code"]) == code)
            .cloned()
    });
    let events = timeline_r.body.as_array().cloned().unwrap_or_default();
    let items = punch_r.body.as_array().cloned().unwrap_or_default();
    // the documents the API names: the punchlist's evidence (a HEAD tells each one's type)
    let mut docs = Vec::new();
    for it in &items {
        if let Some(d) = it["evidence_document_id"].as_str() {
            let r = web
                .api
                .call(
                    &s.cx,
                    Method::HEAD,
                    &api_ws(
                        ws,
                        &format!("/submissions/{}/documents/{}", enc(id), enc(d)),
                    ),
                    None,
                    None,
                )
                .await;
            if r.ok() {
                docs.push((
                    d.to_string(),
                    r.content_type.unwrap_or_default(),
                    format!(
                        "{} · {}",
                        t(lang, "submission.evidence"),
                        text(&it["item_code"])
                    ),
                ));
            }
        }
    }
    let title = format!(
        "{} {} · {} {}",
        t(lang, "submission.page"),
        code,
        t(lang, "approvals.rev"),
        text(&sub["revision_number"])
    );
    let body = html! {
        (ws_links(lang, ws, ""))
        @if let Some(f) = &feedback { (f) }
        (facts(lang, &sub, &people))
        @if let Some(stage) = &my_stage {
            (decision_form(s, ws, &text(&stage["submission_id"]), stage, &kept))
        }
        @if role.as_deref() == Some("QA") && sub["status"] == "QA_REVIEW" {
            (qa_form(s, ws, id, &kept))
        }
        section aria-labelledby="rev-h" {
            h2 id="rev-h" { (t(lang, "submission.revisions")) }
            ol id="revisions" reversed {
                @for r in &revisions {
                    li {
                        @let rid = text(&r["id"]);
                        @if rid == id { strong { (t(lang, "approvals.rev")) " " (text(&r["revision_number"])) } }
                        @else { a href=(ui_ws(ws, &format!("/submissions/{}", enc(&rid)))) { (t(lang, "approvals.rev")) " " (text(&r["revision_number"])) } }
                        " · " (text(&r["status"])) " · " (when(&r["created_at"]))
                        @if let Some(c) = r["qa_comment"].as_str() { " · " (c) }
                    }
                }
            }
        }
        section aria-labelledby="tl-h" {
            h2 id="tl-h" { (t(lang, "submission.timeline")) }
            @if timeline_r.ok() { (timeline(lang, &events, &people)) } @else { (layout::refusal(&timeline_r.problem_text())) }
        }
        section aria-labelledby="pl-h" {
            h2 id="pl-h" { (t(lang, "submission.punchlist")) }
            @if punch_r.ok() { (punchlist(lang, ws, id, &items)) } @else { (layout::refusal(&punch_r.problem_text())) }
        }
        section aria-labelledby="doc-h" {
            h2 id="doc-h" { (t(lang, "submission.documents")) }
            p class="hint" { (t(lang, "submission.documents_gap")) }
            @for (d, ct, label) in &docs { (preview(lang, &doc_href(ws, id, d), ct, label)) }
        }
    };
    layout::page(web, s, Nav::Approvals, &title, body)
}

async fn submission_page(
    State(web): State<WebState>,
    s: Session,
    Path((ws, id)): Path<(String, String)>,
) -> Response {
    render(&web, &s, &ws, &id, None, Kept::default()).await
}

/// A document's bytes as the API serves them (its content type; inline, so an `<object>` or `<img>` shows it).
async fn document(
    State(web): State<WebState>,
    s: Session,
    Path((ws, id, doc)): Path<(String, String, String)>,
) -> Response {
    let r = web
        .api
        .get(
            &s.cx,
            &api_ws(
                &ws,
                &format!("/submissions/{}/documents/{}", enc(&id), enc(&doc)),
            ),
        )
        .await;
    if !r.ok() {
        return (r.status, r.problem_text()).into_response();
    }
    let ct = r
        .content_type
        .unwrap_or_else(|| "application/octet-stream".into());
    let mut res = (StatusCode::OK, [(header::CONTENT_TYPE, ct)], r.bytes).into_response();
    res.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        header::HeaderValue::from_static("inline"),
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, no-store"),
    );
    res
}

#[derive(Deserialize)]
pub struct DecideForm {
    idem: String,
    sub: String,
    decision: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    item_code: String,
    #[serde(default)]
    item_description: String,
    #[serde(default)]
    item_severity: String,
}

async fn decide(
    State(web): State<WebState>,
    s: Session,
    Path((ws, stage)): Path<(String, String)>,
    Form(f): Form<DecideForm>,
) -> Response {
    let mut body = json!({ "decision": f.decision });
    if !f.comment.trim().is_empty() {
        body["comment"] = json!(f.comment.trim());
    }
    if f.decision == "APPROVE_WITH_PUNCHLIST" {
        let items = if f.item_code.trim().is_empty() && f.item_description.trim().is_empty() {
            json!([])
        } else {
            json!([{ "code": f.item_code.trim(), "description": f.item_description.trim(), "severity": f.item_severity }])
        };
        body["items"] = items;
    }
    let r = web
        .api
        .call(
            &s.cx,
            Method::POST,
            &api_ws(&ws, &format!("/stages/{}/decide", enc(&stage))),
            Some(&body),
            Some(&f.idem),
        )
        .await;
    let (feedback, kept) = if r.ok() {
        let st = &r.body["stage"];
        let msg = format!(
            "{} {} · {}: {} — {}",
            t(s.lang, "approvals.stage"),
            text(&st["stage_number"]),
            text(&st["stage_name"]),
            text(&st["decision"]),
            text(&r.body["instance_status"])
        );
        let fb = if st["decision"] == "REJECT" {
            layout::refusal_styled(&msg)
        } else {
            layout::success(&msg)
        };
        (fb, Kept::default())
    } else {
        let kept = Kept {
            comment: f.comment.clone(),
            item_code: f.item_code.clone(),
            item_description: f.item_description.clone(),
            item_severity: f.item_severity.clone(),
        };
        (layout::refusal(&r.problem_text()), kept)
    };
    let mut res = render(&web, &s, &ws, &f.sub, Some(feedback), kept).await;
    if !r.ok() && res.status() == StatusCode::OK {
        *res.status_mut() = r.status;
    }
    res
}

#[derive(Deserialize)]
pub struct QaForm {
    idem: String,
    decision: String,
    #[serde(default)]
    comment: String,
}

async fn qa_review(
    State(web): State<WebState>,
    s: Session,
    Path((ws, id)): Path<(String, String)>,
    Form(f): Form<QaForm>,
) -> Response {
    let mut body = json!({ "decision": f.decision });
    if !f.comment.trim().is_empty() {
        body["comment"] = json!(f.comment.trim());
    }
    let r = web
        .api
        .call(
            &s.cx,
            Method::POST,
            &api_ws(&ws, &format!("/submissions/{}/qa-review", enc(&id))),
            Some(&body),
            Some(&f.idem),
        )
        .await;
    let (feedback, kept) = if r.ok() {
        let msg = format!(
            "{}: {} — {}",
            t(s.lang, "submission.qa_review"),
            f.decision,
            text(&r.body["status"])
        );
        let fb = if f.decision == "REJECT" {
            layout::refusal_styled(&msg)
        } else {
            layout::success(&msg)
        };
        (fb, Kept::default())
    } else {
        (
            layout::refusal(&r.problem_text()),
            Kept {
                comment: f.comment.clone(),
                ..Kept::default()
            },
        )
    };
    let mut res = render(&web, &s, &ws, &id, Some(feedback), kept).await;
    if !r.ok() && res.status() == StatusCode::OK {
        *res.status_mut() = r.status;
    }
    res
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("submission.page", "Submission", "제출"),
    ("submission.code", "Code", "코드"),
    ("submission.revision", "Revision", "개정"),
    ("submission.title_f", "Title", "제목"),
    ("submission.remarks", "Remarks", "비고"),
    ("submission.submitted", "Submitted", "제출됨"),
    ("submission.qa_reviewed", "QA reviewed", "QA 검토"),
    ("submission.qa_comment", "QA comment", "QA 의견"),
    ("submission.timeline", "Timeline", "이력"),
    ("submission.at", "When", "일시"),
    ("submission.action", "Action", "작업"),
    ("submission.by", "By", "처리자"),
    ("submission.system", "system", "시스템"),
    ("submission.assigned", "assigned to", "담당:"),
    ("submission.comment", "Comment", "의견"),
    ("submission.comment_hint", "Required for a rejection: say what to rectify.", "반려 시 필수: 보완할 내용을 적으세요."),
    ("submission.punchlist", "Punchlist", "펀치리스트"),
    ("submission.no_punchlist", "No punchlist items.", "펀치리스트 항목이 없습니다."),
    ("submission.item", "Item code", "항목 코드"),
    ("submission.severity", "Severity", "심각도"),
    ("submission.description", "Description", "설명"),
    ("submission.evidence", "Evidence", "증빙"),
    ("submission.download", "Download", "내려받기"),
    ("submission.revisions", "Revisions", "개정 이력"),
    ("submission.documents", "Documents", "문서"),
    ("submission.documents_gap", "The API lists no documents of a submission; shown here are the documents it names (punchlist evidence).", "API가 제출 문서 목록을 제공하지 않아, API가 알려 주는 문서(펀치리스트 증빙)만 표시합니다."),
    ("submission.decide", "Your decision", "내 결정"),
    ("submission.punch_item", "Punchlist item (for Approve with punchlist)", "펀치리스트 항목 (조건부 승인용)"),
    ("submission.punch_hint", "Leave empty unless you approve with a punchlist; a CRITICAL item rejects.", "조건부 승인이 아니면 비워 두세요. CRITICAL 항목은 반려됩니다."),
    ("submission.approve", "Approve", "승인"),
    ("submission.approve_punchlist", "Approve with punchlist", "조건부 승인"),
    ("submission.reject", "Reject", "반려"),
    ("submission.qa_review", "QA review", "QA 검토"),
];
