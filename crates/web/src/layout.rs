//! The page shell: header with navigation (only the entries the user's role can use), language switch and sign
//! out; a skip link, landmarks and one `h1` per page. Everything is HTML with no inline script or style, so the
//! Content-Security-Policy of [`crate::headers`] can forbid both.

use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use crate::assets;
use crate::i18n::{t, Lang};
use crate::session::Session;
use crate::WebState;

/// Navigation entries: (key, href, who may see it).
pub enum Nav {
    Station,
    Dashboard,
    Lots,
    Trace,
    Recall,
    Approvals,
    Admin,
    Account,
}

fn nav_items(web: &WebState, s: &Session) -> Vec<(Nav, &'static str, &'static str)> {
    let mut v = Vec::new();
    if web.may(s, "POST", "/api/v1/process-data/start") {
        v.push((Nav::Station, "nav.station", "/ui/station"));
    }
    v.push((Nav::Dashboard, "nav.dashboard", "/ui/dashboard"));
    v.push((Nav::Lots, "nav.lots", "/ui/lots"));
    v.push((Nav::Trace, "nav.trace", "/ui/trace"));
    v.push((Nav::Recall, "nav.recall", "/ui/recall"));
    v.push((Nav::Approvals, "nav.approvals", "/ui/approvals"));
    if web.may(s, "GET", "/api/v1/users")
        || web.may(s, "GET", "/api/v1/audit-logs")
        || web.may(s, "POST", "/api/v1/equipment")
    {
        v.push((Nav::Admin, "nav.admin", "/ui/admin"));
    }
    v
}

fn head(lang: Lang, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · NeuroHub" }
            link rel="stylesheet" href=(assets::css_href());
            script src=(assets::js_href()) defer {}
            meta name="nh-lang" content=(lang.code());
        }
    }
}

/// A signed-in page.
pub fn page(web: &WebState, s: &Session, active: Nav, title: &str, body: Markup) -> Response {
    let lang = s.lang;
    let items = nav_items(web, s);
    let active_href = match active {
        Nav::Station => "/ui/station",
        Nav::Dashboard => "/ui/dashboard",
        Nav::Lots => "/ui/lots",
        Nav::Trace => "/ui/trace",
        Nav::Recall => "/ui/recall",
        Nav::Approvals => "/ui/approvals",
        Nav::Admin => "/ui/admin",
        Nav::Account => "/ui/account",
    };
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(lang, title))
            body {
                a class="skip" href="#main" { (t(lang, "nav.skip")) }
                header class="top" {
                    a class="brand" href="/ui" { "NeuroHub" }
                    nav aria-label=(t(lang, "nav.label")) {
                        ul {
                            @for (_, key, href) in &items {
                                li { a href=(href) aria-current=[(*href == active_href).then_some("page")] { (t(lang, key)) } }
                            }
                        }
                    }
                    div class="who" {
                        a href="/ui/account" aria-current=[("/ui/account" == active_href).then_some("page")] {
                            (s.username) " · " (t(lang, role_key(s.role)))
                        }
                        (lang_switch(lang, &s.csrf))
                        form method="post" action="/ui/logout" class="inline" {
                            input type="hidden" name="_csrf" value=(s.csrf);
                            button type="submit" class="link" { (t(lang, "nav.signout")) }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// A page without a session (sign in, refusals).
pub fn bare(lang: Lang, title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang=(lang.code()) {
                (head(lang, title))
                body class="bare" {
                    main id="main" {
                        p class="brand" { "NeuroHub" }
                        h1 { (title) }
                        (body)
                    }
                }
            }
        }
        .into_string(),
    )
}

/// The language switch: a form (it sets a cookie, so it carries the form token like every other form).
pub fn lang_switch(lang: Lang, csrf: &str) -> Markup {
    let (to, label) = match lang {
        Lang::En => ("ko", "한국어"),
        Lang::Ko => ("en", "English"),
    };
    html! {
        form method="post" action="/ui/lang" class="inline" {
            input type="hidden" name="_csrf" value=(csrf);
            input type="hidden" name="lang" value=(to);
            button type="submit" class="link" lang=(to) { (label) }
        }
    }
}

pub fn role_key(role: neurohub_core::auth::Role) -> &'static str {
    use neurohub_core::auth::Role::*;
    match role {
        Admin => "role.ADMIN",
        Manager => "role.MANAGER",
        Operator => "role.OPERATOR",
        Viewer => "role.VIEWER",
    }
}

/// The hidden form-token field every form carries.
pub fn csrf_field(s: &Session) -> Markup {
    html! { input type="hidden" name="_csrf" value=(s.csrf); }
}

/// A red, announced message naming the rule that refused the action.
pub fn refusal(text: &str) -> Markup {
    html! { div class="feedback bad" role="alert" { (text) } }
}

/// A red, announced outcome that is not an error (a FAIL or REWORK recorded as asked).
pub fn refusal_styled(text: &str) -> Markup {
    html! { div class="feedback bad" role="status" { (text) } }
}

/// A green, announced confirmation.
pub fn success(text: &str) -> Markup {
    html! { div class="feedback good" role="status" { (text) } }
}

pub const MESSAGES: crate::i18n::Messages = &[
    ("nav.skip", "Skip to content", "본문으로 건너뛰기"),
    ("nav.label", "Main", "주 메뉴"),
    ("nav.home", "Home", "홈"),
    ("nav.station", "Station", "작업대"),
    ("nav.dashboard", "Dashboard", "대시보드"),
    ("nav.lots", "Lots", "LOT"),
    ("nav.trace", "Trace", "추적"),
    ("nav.recall", "Recall", "리콜"),
    ("nav.approvals", "Approvals", "승인"),
    ("nav.admin", "Admin", "관리"),
    ("nav.signout", "Sign out", "로그아웃"),
    ("role.ADMIN", "Admin", "관리자"),
    ("role.MANAGER", "Manager", "매니저"),
    ("role.OPERATOR", "Operator", "작업자"),
    ("role.VIEWER", "Viewer", "조회자"),
    ("csrf.title", "Form refused", "요청 거부"),
    ("csrf.refused", "This form did not come from a NeuroHub page, or it has expired. Reload the page and try again.", "이 요청은 NeuroHub 화면에서 온 것이 아니거나 만료되었습니다. 화면을 새로 고친 뒤 다시 시도하세요."),
    ("common.save", "Save", "저장"),
    ("common.search", "Search", "검색"),
    ("common.next", "Next page", "다음 페이지"),
    ("common.none", "Nothing here yet.", "아직 없습니다."),
    ("common.back", "Back", "뒤로"),
    ("common.status", "Status", "상태"),
    ("common.created", "Created", "생성"),
    ("common.actions", "Actions", "작업"),
    ("common.error", "Something went wrong", "오류가 발생했습니다"),
];
