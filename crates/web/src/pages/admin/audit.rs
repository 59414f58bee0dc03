//! The audit log viewer: `GET /api/v1/audit-logs` (ADMIN, MANAGER) with its filters as a GET form — table,
//! record id, acting user id, action, and a date window (UTC days, both inclusive) — newest first with keyset
//! paging. Each row shows time, acting user, action, table, record, the changed fields, and the old and new data
//! in a `<details>`.

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde_json::Value;

use super::{field, forbidden, items, next_link, problem, query, val, when, with_status, Fields};
use crate::i18n::t;
use crate::layout::{self, Nav};
use crate::session::Session;
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new().route("/ui/admin/audit", get(page))
}

/// Tables the table filter suggests (any name may be typed).
const TABLES: &[&str] = &[
    "users",
    "processes",
    "product_models",
    "production_lines",
    "equipment",
    "lots",
    "wip_items",
    "serials",
    "process_data",
    "workspaces",
    "workspace_members",
];

/// A UTC day (`YYYY-MM-DD`) as the RFC 3339 instant it starts at, `days` later; anything else as typed (the API
/// names the parameter).
fn day_start(v: &str, days: i64) -> String {
    match chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        Ok(d) => (d + chrono::Duration::days(days))
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().to_rfc3339())
            .unwrap_or_default(),
        Err(_) => v.to_string(),
    }
}

fn data(v: &Value) -> String {
    if v.is_null() {
        String::new()
    } else {
        serde_json::to_string_pretty(v).unwrap_or_default()
    }
}

fn who(row: &Value) -> Markup {
    html! {
        @if let Some(u) = row["username"].as_str() {
            (u) @if let Some(id) = row["user_id"].as_i64() { " " span class="hint" { "#" (id) } }
        } @else if let Some(r) = row["user_ref"].as_str() {
            (r)
        } @else { "—" }
    }
}

async fn page(State(web): State<WebState>, s: Session, Query(q): Query<Fields>) -> Response {
    let lang = s.lang;
    if !web.may(&s, "GET", "/api/v1/audit-logs") {
        return forbidden(&web, &s, "GET", "/api/v1/audit-logs");
    }
    let filters = [
        ("table_name", val(&q, "table_name")),
        ("record_id", val(&q, "record_id")),
        ("user_id", val(&q, "user_id")),
        ("action", val(&q, "action")),
        ("from", val(&q, "from")),
        ("to", val(&q, "to")),
    ];
    let from = if val(&q, "from").is_empty() {
        String::new()
    } else {
        day_start(val(&q, "from"), 0)
    };
    let to = if val(&q, "to").is_empty() {
        String::new()
    } else {
        day_start(val(&q, "to"), 1)
    };
    let api_params = [
        ("table_name", val(&q, "table_name")),
        ("record_id", val(&q, "record_id")),
        ("user_id", val(&q, "user_id")),
        ("action", val(&q, "action")),
        ("from", from.as_str()),
        ("to", to.as_str()),
        ("limit", "50"),
        ("cursor", val(&q, "cursor")),
    ];
    let r = web
        .api
        .get(&s.cx, &format!("/api/v1/audit-logs{}", query(&api_params)))
        .await;
    let body = html! {
        form method="get" action="/ui/admin/audit" class="filters" role="search" aria-label=(t(lang, "audit.filters")) {
            (field("table_name", t(lang, "audit.table"), html! {
                input id="table_name" name="table_name" list="audit-tables" autocomplete="off" maxlength="63" value=(val(&q, "table_name"));
                datalist id="audit-tables" { @for tb in TABLES { option value=(tb) {} } }
            }))
            (field("record_id", t(lang, "audit.record"), html! { input id="record_id" name="record_id" inputmode="numeric" autocomplete="off" value=(val(&q, "record_id")); }))
            (field("user_id", t(lang, "audit.user_id"), html! { input id="user_id" name="user_id" inputmode="numeric" autocomplete="off" value=(val(&q, "user_id")); }))
            (field("action", t(lang, "audit.action"), html! {
                select id="action" name="action" {
                    option value="" { (t(lang, "users.any")) }
                    @for a in ["INSERT", "UPDATE", "DELETE"] { option value=(a) selected[val(&q, "action") == a] { (a) } }
                }
            }))
            (field("from", t(lang, "audit.from"), html! { input id="from" name="from" type="date" value=(val(&q, "from")); }))
            (field("to", t(lang, "audit.to"), html! { input id="to" name="to" type="date" value=(val(&q, "to")); }))
            div { button type="submit" { (t(lang, "common.search")) } }
        }
        @if !r.ok() { (problem(&r)) } @else {
            @let rows = items(&r);
            @if rows.is_empty() { p { (t(lang, "common.none")) } } @else {
                table class="data" id="audit" {
                    caption { (t(lang, "admin.audit")) }
                    thead { tr {
                        th scope="col" { (t(lang, "audit.time")) }
                        th scope="col" { (t(lang, "audit.user")) }
                        th scope="col" { (t(lang, "audit.action")) }
                        th scope="col" { (t(lang, "audit.table")) }
                        th scope="col" { (t(lang, "audit.record")) }
                        th scope="col" { (t(lang, "audit.changed")) }
                        th scope="col" { (t(lang, "audit.data")) }
                    } }
                    tbody {
                        @for row in &rows {
                            tr {
                                td { (when(&row["created_at"])) }
                                td { (who(row)) }
                                td { (row["action"].as_str().unwrap_or("")) }
                                td { (row["table_name"].as_str().unwrap_or("")) }
                                td class="num" { (super::show(&row["record_id"])) }
                                td {
                                    @if let Some(c) = row["changed_fields"].as_array() {
                                        (c.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                                    }
                                }
                                td {
                                    details {
                                        summary { (t(lang, "audit.show")) span class="sr-only" { " #" (row["id"]) } }
                                        @if !row["old_data"].is_null() { p { strong { (t(lang, "audit.old")) } } pre { (data(&row["old_data"])) } }
                                        @if !row["new_data"].is_null() { p { strong { (t(lang, "audit.new")) } } pre { (data(&row["new_data"])) } }
                                        @if let Some(ip) = row["client_ip"].as_str() { p class="hint" { (t(lang, "audit.client")) ": " (ip) } }
                                        @if let Some(rid) = row["request_id"].as_str() { p class="hint" { (t(lang, "audit.request")) ": " (rid) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (next_link(lang, "/ui/admin/audit", &filters, &r.body))
        }
    };
    let status = if r.ok() {
        axum::http::StatusCode::OK
    } else {
        r.status
    };
    with_status(
        layout::page(&web, &s, Nav::Admin, t(lang, "admin.audit"), body),
        status,
    )
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("audit.filters", "Audit log filters", "감사 로그 필터"),
    ("audit.table", "Table", "테이블"),
    ("audit.record", "Record id", "레코드 ID"),
    ("audit.user_id", "Acting user id", "변경한 사용자 ID"),
    ("audit.user", "User", "사용자"),
    ("audit.action", "Action", "동작"),
    ("audit.from", "From (UTC day)", "시작일 (UTC)"),
    ("audit.to", "To (UTC day, inclusive)", "종료일 (UTC, 포함)"),
    ("audit.time", "Time", "시각"),
    ("audit.changed", "Changed fields", "변경된 필드"),
    ("audit.data", "Data", "데이터"),
    ("audit.show", "Old and new data", "이전·새 데이터"),
    ("audit.old", "Before", "변경 전"),
    ("audit.new", "After", "변경 후"),
    ("audit.client", "Client address", "클라이언트 주소"),
    ("audit.request", "Request id", "요청 ID"),
];

#[cfg(test)]
mod tests {
    #[test]
    fn days_are_utc_and_the_end_day_is_inclusive() {
        assert_eq!(
            super::day_start("2026-03-01", 0),
            "2026-03-01T00:00:00+00:00"
        );
        assert_eq!(
            super::day_start("2026-02-28", 1),
            "2026-03-01T00:00:00+00:00"
        );
        assert_eq!(
            super::day_start("yesterday", 1),
            "yesterday",
            "the API names what it cannot read"
        );
    }
}
