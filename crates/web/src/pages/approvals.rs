//! Approvals (ATP): the workspaces the user belongs to and, per workspace, the stages waiting for them with their
//! SLA countdown (overdue in red, and said in words), and the QA queue.
//!
//! Everything shown is what the API answers: the workspaces (`GET /workspaces`), the pending stages
//! (`GET /workspaces/{ws}/approvals/pending`, the decision's own rule for who decides), the caller's member role
//! (`GET /workspaces/{ws}/members`). The API has no list of submissions waiting for the QA pre-approval, so the
//! QA queue offers what the API does: a submission opened by its id, whose page carries the QA review form.
//!
//! The submission page is [`super::submission`], configuration versions [`super::atp_config`], sites
//! [`super::sites`].

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
use crate::session::Session;
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/approvals", get(approvals_page))
        .route("/ui/approvals/open", get(open))
}

/// The API path of workspace `ws` followed by `rest` (`/approvals/pending`), the code percent-encoded.
pub fn api_ws(ws: &str, rest: &str) -> String {
    format!("/api/v1/workspaces/{}{rest}", enc(ws))
}

/// The UI path of workspace `ws` followed by `rest`.
pub fn ui_ws(ws: &str, rest: &str) -> String {
    format!("/ui/approvals/{}{rest}", enc(ws))
}

/// The workspace's members (every page of `GET /workspaces/{ws}/members`); None when the list is refused (not a
/// member).
pub async fn members(web: &WebState, s: &Session, ws: &str) -> Option<Vec<Value>> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let path = match &cursor {
            Some(c) => api_ws(ws, &format!("/members?limit=500&cursor={}", enc(c))),
            None => api_ws(ws, "/members?limit=500"),
        };
        let r = web.api.get(&s.cx, &path).await;
        if !r.ok() {
            return None;
        }
        all.extend(r.body["items"].as_array().cloned().unwrap_or_default());
        cursor = r.body["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    Some(all)
}

/// The member role of user `user_id` among `members` (`WORKSPACE_ADMIN`, `QA`, …), when an active member.
pub fn role_of(members: &[Value], user_id: i64) -> Option<String> {
    members
        .iter()
        .find(|m| m["user_id"].as_i64() == Some(user_id) && m["is_active"].as_bool() != Some(false))
        .and_then(|m| m["member_role"].as_str())
        .map(str::to_string)
}

/// The caller's member role in `ws`, as the members list says.
pub async fn my_role(web: &WebState, s: &Session, ws: &str) -> Option<String> {
    role_of(&members(web, s, ws).await?, s.user_id)
}

/// A user id as the member's name (`atp.qa (Qori Quality)`), else `#id`.
pub fn who(members: &[Value], id: &Value) -> String {
    let Some(id) = id.as_i64() else {
        return String::new();
    };
    members
        .iter()
        .find(|m| m["user_id"].as_i64() == Some(id))
        .map(|m| format!("{} ({})", text(&m["username"]), text(&m["full_name"])))
        .unwrap_or_else(|| format!("#{id}"))
}

/// "due in 3 h 20 min" / "overdue by 2 h", and whether it is overdue.
pub fn countdown(lang: Lang, seconds_left: i64) -> (String, bool) {
    let overdue = seconds_left < 0;
    let mins = seconds_left.unsigned_abs() / 60;
    let (h, m) = (mins / 60, mins % 60);
    let span = match (h, m, lang) {
        (0, m, Lang::En) => format!("{m} min"),
        (h, 0, Lang::En) => format!("{h} h"),
        (h, m, Lang::En) => format!("{h} h {m} min"),
        (0, m, Lang::Ko) => format!("{m}분"),
        (h, 0, Lang::Ko) => format!("{h}시간"),
        (h, m, Lang::Ko) => format!("{h}시간 {m}분"),
    };
    let text = match (overdue, lang) {
        (false, Lang::En) => format!("due in {span}"),
        (true, Lang::En) => format!("overdue by {span}"),
        (false, Lang::Ko) => format!("{span} 남음"),
        (true, Lang::Ko) => format!("{span} 초과"),
    };
    (text, overdue)
}

/// A timestamp of the API (RFC 3339) as `2026-12-02 18:40 UTC`; anything else as given.
pub fn when(v: &Value) -> String {
    match v.as_str() {
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| {
                d.with_timezone(&chrono::Utc)
                    .format("%Y-%m-%d %H:%M UTC")
                    .to_string()
            })
            .unwrap_or_else(|_| s.to_string()),
        None => String::new(),
    }
}

/// A JSON value as text (strings unquoted, null empty).
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The workspace's sub-navigation (pending, configuration, sites), the current one marked.
pub fn ws_links(lang: Lang, ws: &str, current: &str) -> Markup {
    let links = [
        (
            "pending",
            format!("/ui/approvals?ws={}", enc(ws)),
            "approvals.pending_link",
        ),
        ("config", ui_ws(ws, "/config"), "approvals.config_link"),
        ("sites", ui_ws(ws, "/sites"), "approvals.sites_link"),
    ];
    html! {
        nav class="filters" aria-label=(t(lang, "approvals.ws_nav")) {
            @for (key, href, label) in &links {
                a href=(href) aria-current=[(*key == current).then_some("page")] { (t(lang, label)) }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct ApprovalsQuery {
    ws: Option<String>,
    cursor: Option<String>,
    overdue: Option<String>,
}

fn pending_table(lang: Lang, ws: &str, items: &[Value]) -> Markup {
    html! {
        table class="data" id="pending" {
            caption { (t(lang, "approvals.pending")) }
            thead { tr {
                th scope="col" { (t(lang, "approvals.submission")) }
                th scope="col" { (t(lang, "approvals.stage")) }
                th scope="col" { (t(lang, "approvals.site")) }
                th scope="col" { (t(lang, "approvals.category")) }
                th scope="col" { (t(lang, "approvals.due")) }
                th scope="col" { (t(lang, "approvals.left")) }
            } }
            tbody {
                @for p in items {
                    @let (left, overdue) = countdown(lang, p["seconds_left"].as_i64().unwrap_or(0));
                    tr data-stage=(text(&p["stage_id"])) {
                        td {
                            a href=(ui_ws(ws, &format!("/submissions/{}", enc(&text(&p["submission_id"]))))) {
                                (text(&p["submission_code"])) " · " (t(lang, "approvals.rev")) " " (text(&p["revision_number"]))
                            }
                        }
                        td {
                            (text(&p["stage_number"])) " · " (text(&p["stage_name"]))
                            @if !p["on_behalf_of"].is_null() {
                                br; span class="hint" { (t(lang, "approvals.on_behalf")) " #" (text(&p["on_behalf_of"])) }
                            }
                        }
                        td { (text(&p["site_id"])) @if let Some(r) = p["region"].as_str() { " · " (r) } }
                        td { (text(&p["atp_category"])) }
                        td { time datetime=(text(&p["due_at"])) { (when(&p["due_at"])) } }
                        td class=[overdue.then_some("overdue")] { (left) }
                    }
                }
            }
        }
    }
}

async fn approvals_page(
    State(web): State<WebState>,
    s: Session,
    Query(q): Query<ApprovalsQuery>,
) -> Response {
    let lang = s.lang;
    let title = t(lang, "approvals.title");
    let wss = web.api.get(&s.cx, "/api/v1/workspaces?limit=500").await;
    if !wss.ok() {
        return layout::page(
            &web,
            &s,
            Nav::Approvals,
            title,
            layout::refusal(&wss.problem_text()),
        );
    }
    let workspaces = wss.body["items"].as_array().cloned().unwrap_or_default();
    let Some(ws) = q.ws.clone().filter(|w| !w.is_empty()).or_else(|| {
        workspaces
            .first()
            .and_then(|w| w["code"].as_str())
            .map(str::to_string)
    }) else {
        return layout::page(
            &web,
            &s,
            Nav::Approvals,
            title,
            html! { p { (t(lang, "approvals.no_workspace")) } },
        );
    };
    let mut query = String::from("?limit=100");
    if let Some(c) = q.cursor.as_deref().filter(|c| !c.is_empty()) {
        query.push_str(&format!("&cursor={}", enc(c)));
    }
    let overdue_only = q.overdue.as_deref() == Some("true");
    if overdue_only {
        query.push_str("&overdue=true");
    }
    let pending = web
        .api
        .get(&s.cx, &api_ws(&ws, &format!("/approvals/pending{query}")))
        .await;
    let role = my_role(&web, &s, &ws).await;
    let items = pending.body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let body = html! {
        form method="get" action="/ui/approvals" class="filters" {
            div {
                label for="ws" { (t(lang, "approvals.workspace")) }
                select id="ws" name="ws" {
                    @for w in &workspaces {
                        @let code = text(&w["code"]);
                        option value=(code) selected[code == ws] { (code) " — " (text(&w["name"])) }
                    }
                }
            }
            div {
                label for="overdue" { (t(lang, "approvals.overdue_only")) }
                select id="overdue" name="overdue" {
                    option value="" { (t(lang, "approvals.all")) }
                    option value="true" selected[overdue_only] { (t(lang, "approvals.only_overdue")) }
                }
            }
            div { button type="submit" { (t(lang, "approvals.show")) } }
        }
        (ws_links(lang, &ws, "pending"))
        @if let Some(r) = &role { p { (t(lang, "approvals.your_role")) " " span class="badge" id="member-role" { (r) } } }
        section aria-labelledby="pending-h" {
            h2 id="pending-h" { (t(lang, "approvals.pending")) }
            @if !pending.ok() {
                (layout::refusal(&pending.problem_text()))
            } @else if items.is_empty() {
                p id="pending-none" { (t(lang, "approvals.none_pending")) }
            } @else {
                (pending_table(lang, &ws, &items))
                @if let Some(c) = pending.body["next_cursor"].as_str() {
                    p { a href=(format!("/ui/approvals?ws={}&cursor={}{}", enc(&ws), enc(c), if overdue_only { "&overdue=true" } else { "" })) { (t(lang, "common.next")) } }
                }
            }
        }
        section aria-labelledby="qa-h" {
            h2 id="qa-h" { (t(lang, "approvals.qa_queue")) }
            @if role.as_deref() == Some("QA") {
                p class="hint" { (t(lang, "approvals.qa_hint")) }
            }
            form method="get" action="/ui/approvals/open" class="filters" {
                input type="hidden" name="ws" value=(ws);
                div {
                    label for="open-id" { (t(lang, "approvals.open_id")) }
                    input id="open-id" name="id" required maxlength="36" autocomplete="off" spellcheck="false";
                }
                div { button type="submit" { (t(lang, "approvals.open")) } }
            }
        }
    };
    layout::page(&web, &s, Nav::Approvals, title, body)
}

#[derive(Deserialize)]
pub struct OpenQuery {
    ws: String,
    id: String,
}

/// A submission opened by its id (the QA queue's entry point): its page.
async fn open(Query(q): Query<OpenQuery>) -> Response {
    Redirect::to(&ui_ws(&q.ws, &format!("/submissions/{}", enc(q.id.trim())))).into_response()
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("approvals.title", "Approvals", "승인"),
    ("approvals.workspace", "Workspace", "워크스페이스"),
    ("approvals.overdue_only", "Due time", "기한"),
    ("approvals.all", "All", "전체"),
    ("approvals.only_overdue", "Overdue only", "기한 초과만"),
    ("approvals.show", "Show", "보기"),
    ("approvals.ws_nav", "Workspace", "워크스페이스"),
    ("approvals.pending_link", "My pending stages", "내 승인 대기"),
    ("approvals.config_link", "Configuration", "구성"),
    ("approvals.sites_link", "Sites", "사이트"),
    ("approvals.your_role", "Your role in this workspace:", "이 워크스페이스에서의 역할:"),
    ("approvals.pending", "My pending stages", "내 승인 대기 단계"),
    ("approvals.none_pending", "No stage is waiting for you.", "대기 중인 승인 단계가 없습니다."),
    ("approvals.submission", "Submission", "제출"),
    ("approvals.rev", "rev.", "개정"),
    ("approvals.stage", "Stage", "단계"),
    ("approvals.site", "Site", "사이트"),
    ("approvals.category", "Category", "분류"),
    ("approvals.due", "Due", "기한"),
    ("approvals.left", "Time left", "남은 시간"),
    ("approvals.on_behalf", "on behalf of user", "대리 대상 사용자"),
    ("approvals.no_workspace", "You are not a member of any ATP workspace.", "소속된 ATP 워크스페이스가 없습니다."),
    ("approvals.qa_queue", "QA queue", "QA 대기열"),
    ("approvals.qa_hint", "The API has no list of submissions waiting for the QA pre-approval: open a submission by its id to review it.", "API에 QA 사전 승인 대기 목록이 없습니다. 제출 ID로 열어 검토하세요."),
    ("approvals.open_id", "Submission id", "제출 ID"),
    ("approvals.open", "Open", "열기"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdown_says_due_or_overdue() {
        assert_eq!(
            countdown(Lang::En, 3 * 3600 + 20 * 60 + 5),
            ("due in 3 h 20 min".into(), false)
        );
        assert_eq!(
            countdown(Lang::En, -2 * 3600),
            ("overdue by 2 h".into(), true)
        );
        assert_eq!(countdown(Lang::En, 59), ("due in 0 min".into(), false));
        assert_eq!(
            countdown(Lang::Ko, -(6 * 3600 + 60)),
            ("6시간 1분 초과".into(), true)
        );
    }

    #[test]
    fn workspace_segments_are_encoded() {
        assert_eq!(api_ws("A/B", "/sites"), "/api/v1/workspaces/A%2FB/sites");
        assert_eq!(
            ui_ws("XLSMART-AVIAT", "/config"),
            "/ui/approvals/XLSMART-AVIAT/config"
        );
    }
}
