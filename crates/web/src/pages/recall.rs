//! Recall: every unit an operator or a piece of equipment touched in a time window, from the API's backward trace
//! (`GET /api/v1/trace/backward`, keyset paged; the API requires the window and limits it to 31 days), and the
//! same rows as a CSV download (`/ui/recall.csv`), streamed page by page as the API hands them out.
//!
//! The window's fields are `datetime-local` inputs, read as UTC (the page says so); a full RFC 3339 time is passed
//! as typed. Anything else goes to the API as typed, which refuses it by name.

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, NaiveDateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use crate::api::{Api, CallContext};
use crate::i18n::{t, Lang};
use crate::layout::{self, Nav};
use crate::pages::lots::{next_link, query};
use crate::pages::trace::when;
use crate::session::Session;
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/ui/recall", get(recall_page))
        .route("/ui/recall.csv", get(recall_csv))
}

#[derive(Deserialize, Default, Clone)]
pub struct RecallQuery {
    operator_id: Option<String>,
    equipment_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// A window bound for the API: RFC 3339 as typed, a `datetime-local` value (`YYYY-MM-DDTHH:MM[:SS]`) as UTC,
/// anything else unchanged (the API names it).
pub fn api_time(v: &str) -> String {
    let v = v.trim();
    if DateTime::parse_from_rfc3339(v).is_ok() {
        return v.to_string();
    }
    for f in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, f) {
            return t
                .and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        }
    }
    v.to_string()
}

impl RecallQuery {
    fn asked(&self) -> bool {
        [&self.operator_id, &self.equipment_id, &self.from, &self.to]
            .iter()
            .any(|v| v.as_deref().is_some_and(|v| !v.trim().is_empty()))
    }

    /// The page's own query (for links): the values as typed.
    fn pairs(&self) -> Vec<(&'static str, Option<&str>)> {
        vec![
            ("operator_id", self.operator_id.as_deref()),
            ("equipment_id", self.equipment_id.as_deref()),
            ("from", self.from.as_deref()),
            ("to", self.to.as_deref()),
            ("limit", self.limit.as_deref()),
            ("cursor", self.cursor.as_deref()),
        ]
    }

    /// The API's query, with the window in RFC 3339 and `cursor` as given.
    fn api_path(&self, cursor: Option<&str>, limit: Option<&str>) -> String {
        let from = self.from.as_deref().map(api_time);
        let to = self.to.as_deref().map(api_time);
        format!(
            "/api/v1/trace/backward{}",
            query(&[
                ("operator_id", self.operator_id.as_deref()),
                ("equipment_id", self.equipment_id.as_deref()),
                ("from", from.as_deref()),
                ("to", to.as_deref()),
                ("limit", limit),
                ("cursor", cursor),
            ])
        )
    }
}

fn txt(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn default_window() -> (String, String) {
    let now = Utc::now();
    let f = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M").to_string();
    (
        f(now - chrono::Duration::days(1)),
        f(now + chrono::Duration::hours(1)),
    )
}

fn form(
    lang: Lang,
    q: &RecallQuery,
    users: Option<&[Value]>,
    equipment: &[Value],
    me: i64,
) -> Markup {
    let (dfrom, dto) = default_window();
    let from = q.from.clone().filter(|v| !v.is_empty()).unwrap_or(dfrom);
    let to = q.to.clone().filter(|v| !v.is_empty()).unwrap_or(dto);
    let op = q.operator_id.as_deref().unwrap_or("");
    let eq = q.equipment_id.as_deref().unwrap_or("");
    html! {
        form method="get" action="/ui/recall" class="filters" role="search" aria-label=(t(lang, "recall.form")) {
            div {
                label for="operator_id" { (t(lang, "recall.operator")) }
                @if let Some(users) = users {
                    select id="operator_id" name="operator_id" {
                        option value="" { (t(lang, "recall.none")) }
                        @for u in users {
                            @let id = u["id"].to_string();
                            option value=(id) selected[op == id] { (txt(&u["username"])) " — " (txt(&u["full_name"])) }
                        }
                    }
                } @else {
                    input id="operator_id" name="operator_id" inputmode="numeric" value=(op) aria-describedby="operator-hint";
                    span id="operator-hint" class="hint" { (t(lang, "recall.operator_hint")) " " (t(lang, "recall.yours")) " " (me) }
                }
            }
            div {
                label for="equipment_id" { (t(lang, "recall.equipment")) }
                select id="equipment_id" name="equipment_id" {
                    option value="" { (t(lang, "recall.none")) }
                    @for e in equipment {
                        @let id = e["id"].to_string();
                        option value=(id) selected[eq == id] { (txt(&e["equipment_code"])) " — " (txt(&e["name"])) }
                    }
                }
            }
            div {
                label for="from" { (t(lang, "recall.from")) }
                input id="from" name="from" type="datetime-local" value=(from) required;
            }
            div {
                label for="to" { (t(lang, "recall.to")) }
                input id="to" name="to" type="datetime-local" value=(to) required;
            }
            div { button type="submit" class="primary" { (t(lang, "recall.find")) } }
        }
        p class="hint" { (t(lang, "recall.window_hint")) }
    }
}

fn unit_link(code: Option<&str>) -> Markup {
    html! {
        @if let Some(c) = code { a href=(format!("/ui/trace{}", query(&[("code", Some(c))]))) { (c) } } @else { "—" }
    }
}

async fn recall_page(
    State(web): State<WebState>,
    s: Session,
    Query(q): Query<RecallQuery>,
) -> Response {
    let lang = s.lang;
    let may_list_users = web.may(&s, "GET", "/api/v1/users");
    let (users, equipment) = tokio::join!(
        async {
            if may_list_users {
                Some(web.api.get(&s.cx, "/api/v1/users?limit=500").await)
            } else {
                None
            }
        },
        web.api.get(&s.cx, "/api/v1/equipment?limit=500"),
    );
    let users: Option<Vec<Value>> = users.and_then(|r| r.body["items"].as_array().cloned());
    let equipment = equipment.body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut status = axum::http::StatusCode::OK;
    let results = if q.asked() {
        let r = web
            .api
            .get(&s.cx, &q.api_path(q.cursor.as_deref(), q.limit.as_deref()))
            .await;
        let items = r.body["items"].as_array().cloned().unwrap_or_default();
        if !r.ok() {
            status = r.status;
        }
        let mut csv_pairs = q.pairs();
        csv_pairs.retain(|(k, _)| *k != "cursor");
        html! {
            @if !r.ok() { (layout::refusal(&r.problem_text())) }
            @else {
                p { a href=(format!("/ui/recall.csv{}", query(&csv_pairs))) id="csv" download { (t(lang, "recall.csv")) } }
                @if items.is_empty() { p { (t(lang, "common.none")) } }
                @else {
                    table class="data" id="recall-table" {
                        caption { (t(lang, "recall.caption")) }
                        thead { tr {
                            th scope="col" { (t(lang, "recall.kind")) }
                            th scope="col" { (t(lang, "recall.lot")) }
                            th scope="col" { "WIP" }
                            th scope="col" { (t(lang, "recall.serial")) }
                            th scope="col" { (t(lang, "common.status")) }
                            th scope="col" class="num" { (t(lang, "recall.records")) }
                            th scope="col" { (t(lang, "recall.processes")) }
                            th scope="col" { (t(lang, "recall.first")) }
                            th scope="col" { (t(lang, "recall.last")) }
                        } }
                        tbody {
                            @for u in &items {
                                tr {
                                    td { (txt(&u["kind"])) }
                                    td { a href=(format!("/ui/lots/{}", u["lot_id"])) { (txt(&u["lot_number"])) } }
                                    td { (unit_link(u["wip_id"].as_str())) }
                                    td { (unit_link(u["serial_number"].as_str())) }
                                    td { (txt(&u["status"])) }
                                    td class="num" { (u["records"]) }
                                    td { (codes(u)) }
                                    td { (when(&u["first_started_at"])) }
                                    td { (when(&u["last_started_at"])) }
                                }
                            }
                        }
                    }
                    (next_link(lang, "/ui/recall", &q.pairs(), &r.body))
                }
            }
        }
    } else {
        html! {}
    };
    let body = html! {
        (form(lang, &q, users.as_deref(), &equipment, s.user_id))
        (results)
    };
    let mut res = layout::page(&web, &s, Nav::Recall, t(lang, "recall.title"), body);
    *res.status_mut() = status;
    res
}

fn codes(u: &Value) -> String {
    u["process_codes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// One CSV field: quoted when it holds a comma, a quote, CR or LF (quotes doubled), as RFC 4180 says; a field
/// starting with `=`, `+`, `-` or `@` gets a leading `'` so a spreadsheet never runs it as a formula.
pub fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

fn csv_line(fields: &[&str]) -> String {
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

const CSV_HEADER: &[&str] = &[
    "kind",
    "lot_number",
    "wip_id",
    "serial_number",
    "status",
    "records",
    "process_codes",
    "first_started_at",
    "last_started_at",
];

fn csv_rows(items: &[Value]) -> String {
    let mut out = String::new();
    for u in items {
        let records = u["records"].to_string();
        let codes = codes(u);
        out.push_str(&csv_line(&[
            txt(&u["kind"]),
            txt(&u["lot_number"]),
            txt(&u["wip_id"]),
            txt(&u["serial_number"]),
            txt(&u["status"]),
            &records,
            &codes,
            txt(&u["first_started_at"]),
            txt(&u["last_started_at"]),
        ]));
    }
    out
}

/// Where the CSV stream is: the next page's cursor (`None` before the first page), or done.
enum Step {
    Page(Option<String>),
    Done,
}

/// The recall rows as CSV: the header, then one API page (500 rows, or the query's `limit`) at a time, following `next_cursor`. A refusal
/// of the first page is answered as the page would (the API's status and message); a refusal later ends the file
/// with a line naming it, since the status line is already sent.
async fn recall_csv(
    State(web): State<WebState>,
    s: Session,
    Query(mut q): Query<RecallQuery>,
) -> Response {
    q.cursor = None;
    // the page's `limit` sizes the API pages the file is read in (500 when not given); the rows are the same
    let page_size = q
        .limit
        .clone()
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| "500".into());
    let first = web
        .api
        .get(&s.cx, &q.api_path(None, Some(&page_size)))
        .await;
    if !first.ok() {
        return (
            first.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            first.problem_text(),
        )
            .into_response();
    }
    let head = format!(
        "{}{}",
        csv_line(CSV_HEADER),
        csv_rows(
            first.body["items"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
        )
    );
    let after_first = match first.body["next_cursor"].as_str() {
        Some(c) => Step::Page(Some(c.to_string())),
        None => Step::Done,
    };
    let api: Api = web.api.clone();
    let cx: CallContext = s.cx.clone();
    let rest =
        futures::stream::unfold((after_first, api, cx, q), |(step, api, cx, q)| async move {
            let Step::Page(cursor) = step else {
                return None;
            };
            let r = api
                .get(
                    &cx,
                    &q.api_path(
                        cursor.as_deref(),
                        q.limit
                            .as_deref()
                            .filter(|l| !l.trim().is_empty())
                            .or(Some("500")),
                    ),
                )
                .await;
            if !r.ok() {
                let line = csv_line(&["error", &r.problem_text()]);
                return Some((
                    Ok::<Bytes, std::io::Error>(Bytes::from(line)),
                    (Step::Done, api, cx, q),
                ));
            }
            let chunk = csv_rows(r.body["items"].as_array().map(Vec::as_slice).unwrap_or(&[]));
            let next = match r.body["next_cursor"].as_str() {
                Some(c) => Step::Page(Some(c.to_string())),
                None => Step::Done,
            };
            Some((Ok(Bytes::from(chunk)), (next, api, cx, q)))
        });
    let stream = futures::StreamExt::chain(
        futures::stream::once(async move { Ok::<Bytes, std::io::Error>(Bytes::from(head)) }),
        rest,
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"recall.csv\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("recall.title", "Recall", "리콜"),
    ("recall.form", "Who or what, and when", "대상과 기간"),
    ("recall.operator", "Operator", "작업자"),
    (
        "recall.operator_hint",
        "The operator's user id.",
        "작업자의 사용자 id.",
    ),
    ("recall.yours", "Yours:", "내 id:"),
    ("recall.equipment", "Equipment", "설비"),
    ("recall.none", "Any", "전체"),
    ("recall.from", "From (UTC)", "시작 (UTC)"),
    ("recall.to", "To (UTC)", "끝 (UTC)"),
    ("recall.find", "Find units", "단위 찾기"),
    (
        "recall.window_hint",
        "Give an operator, equipment or both; the window is at most 31 days.",
        "작업자나 설비(또는 둘 다)를 고르세요. 기간은 최대 31일입니다.",
    ),
    (
        "recall.csv",
        "Download these units as CSV",
        "이 단위 목록을 CSV로 내려받기",
    ),
    (
        "recall.caption",
        "Units touched in the window",
        "기간 안에 작업된 단위",
    ),
    ("recall.kind", "Kind", "종류"),
    ("recall.lot", "Lot", "LOT"),
    ("recall.serial", "Serial", "시리얼"),
    ("recall.records", "Records", "기록 수"),
    ("recall.processes", "Processes", "공정"),
    ("recall.first", "First started", "첫 시작"),
    ("recall.last", "Last started", "마지막 시작"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_escaped() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_line(&["a", "", "b c"]), "a,,b c\r\n");
    }

    #[test]
    fn window_bounds_become_rfc3339() {
        assert_eq!(api_time("2026-12-02T10:30"), "2026-12-02T10:30:00Z");
        assert_eq!(
            api_time("2026-12-02T10:30:05+09:00"),
            "2026-12-02T10:30:05+09:00"
        );
        assert_eq!(api_time("garbage"), "garbage");
    }
}
