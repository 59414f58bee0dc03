//! The UI over plain HTTP, without a browser: hostile form posts and queries never get a 5xx, and each page is
//! a handful of statements (the `x-db-queries` of a UI page counts the statements of all its API calls).

use crate::common;
use crate::helpers::{TestApp, PASSWORD};
use sqlx::PgPool;

/// A client that shows redirects instead of following them (a followed redirect drops its `Set-Cookie`).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A signed-in cookie jar (as a `Cookie` header value) and the form token, by the sign-in form.
pub async fn session(app: &TestApp, username: &str) -> (String, String) {
    let page = client().get(app.url("/ui/login")).send().await.unwrap();
    let csrf = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix("nh_csrf=")
                .map(|r| r.split(';').next().unwrap().to_string())
        })
        .expect("form-token cookie");
    let res = client()
        .post(app.url("/ui/login"))
        .header("cookie", format!("nh_csrf={csrf}"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", username),
            ("password", PASSWORD),
            ("next", "/ui"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "signed in");
    let mut jar = vec![format!("nh_csrf={csrf}")];
    for v in res.headers().get_all("set-cookie") {
        let v = v.to_str().unwrap();
        jar.push(v.split(';').next().unwrap().to_string());
    }
    (jar.join("; "), csrf)
}

/// Every UI route that takes a form.
const POSTS: &[&str] = &[
    "/ui/login",
    "/ui/lang",
    "/ui/logout",
    "/ui/account",
    "/ui/station/setup",
    "/ui/station/start",
    "/ui/station/complete",
    "/ui/admin/users",
    "/ui/admin/users/1",
    "/ui/admin/processes/1",
    "/ui/admin/equipment",
    "/ui/admin/equipment/1",
    "/ui/admin/models",
    "/ui/admin/lines",
    "/ui/admin/workspaces/XLSMART-AVIAT/members",
    "/ui/approvals/open",
    "/ui/approvals/XLSMART-AVIAT/stages/1/decide",
    "/ui/approvals/XLSMART-AVIAT/config/1/activate",
    "/ui/approvals/XLSMART-AVIAT/sites/import",
];

/// Every UI page, with a query that exercises its parameters.
const GETS: &[&str] = &[
    "/ui",
    "/ui/dashboard",
    "/ui/dashboard/fragment",
    "/ui/station",
    "/ui/station?setup=1",
    "/ui/account",
    "/ui/lots",
    "/ui/lots/1",
    "/ui/lots/not-a-number",
    "/ui/units",
    "/ui/trace",
    "/ui/recall",
    "/ui/recall.csv",
    "/ui/chart",
    "/ui/admin",
    "/ui/admin/audit",
    "/ui/admin/equipment",
    "/ui/admin/lines",
    "/ui/admin/models",
    "/ui/admin/processes",
    "/ui/admin/processes/1",
    "/ui/admin/users",
    "/ui/admin/users/1",
    "/ui/admin/workspaces",
    "/ui/admin/workspaces/XLSMART-AVIAT/members",
    "/ui/approvals",
    "/ui/approvals/XLSMART-AVIAT/config",
    "/ui/approvals/XLSMART-AVIAT/sites",
    "/ui/approvals/XLSMART-AVIAT/submissions/1",
];

/// The query parameters any page takes; each gets the hostile value.
const PARAMS: &[&str] = &[
    "code",
    "cursor",
    "ws",
    "status",
    "q",
    "sort",
    "order",
    "limit",
    "date_from",
    "date_to",
    "kind",
    "lot",
    "lot_id",
    "process",
    "measurement",
    "operator_id",
    "equipment_id",
    "from",
    "to",
    "product_model_id",
    "table_name",
    "record_id",
    "user_id",
    "action",
    "role",
    "is_active",
];

#[sqlx::test]
async fn hostile_forms_and_queries_never_get_a_5xx(pool: PgPool) {
    let app = common::app(pool).await;
    // the ATP demo too, so the approvals and member pages reach a real workspace (XLSMART-AVIAT)
    neurohub_atp::demo::seed_if_empty(&app.pool)
        .await
        .expect("ATP demo");
    let (jar, csrf) = session(&app, "admin").await;
    let huge = "x".repeat(200_000);
    let values: Vec<String> = vec![
        String::new(),
        "\u{0}".into(),
        "' OR 1=1; DROP TABLE lots; --".into(),
        "-1".into(),
        "99999999999999999999999".into(),
        "1e400".into(),
        "<script>alert(1)</script>".into(),
        "WIP-\u{0}".into(),
        "%00%ff".into(),
        huge,
    ];
    let fields = [
        "code",
        "idem",
        "record_id",
        "result",
        "process_id",
        "equipment_id",
        "m.x",
        "defect_code",
        "defect_description",
        "defect_severity",
        "notes",
        "username",
        "password",
        "next",
        "lang",
        "current_password",
        "new_password",
    ];
    let mut sent = 0;
    for path in POSTS {
        for v in &values {
            let mut form: Vec<(&str, &str)> = fields.iter().map(|f| (*f, v.as_str())).collect();
            form.push(("_csrf", csrf.as_str()));
            let res = client()
                .post(app.url(path))
                .header("cookie", jar.clone())
                .form(&form)
                .send()
                .await
                .unwrap();
            sent += 1;
            assert!(
                res.status().as_u16() < 500,
                "POST {path} with {:?}…: {}",
                &v.chars().take(20).collect::<String>(),
                res.status()
            );
        }
        // a body that is not a form at all, and invalid UTF-8 in one
        for (ct, body) in [
            ("application/json", b"{\"a\":1}".to_vec()),
            (
                "application/x-www-form-urlencoded",
                b"code=%ff%fe&_csrf="
                    .iter()
                    .copied()
                    .chain(csrf.bytes())
                    .collect(),
            ),
        ] {
            let res = client()
                .post(app.url(path))
                .header("cookie", jar.clone())
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            sent += 1;
            assert!(
                res.status().as_u16() < 500,
                "POST {path} ({ct}): {}",
                res.status()
            );
        }
    }
    for path in GETS {
        // (a 200 kB query is refused by the client library before it is sent)
        for v in values.iter().filter(|v| v.len() < 10_000) {
            let sep = if path.contains('?') { '&' } else { '?' };
            let query: Vec<String> = PARAMS
                .iter()
                .map(|p| format!("{p}={}", crate::common::enc(v)))
                .collect();
            let url = format!("{}{sep}{}", app.url(path), query.join("&"));
            let res = client()
                .get(url)
                .header("cookie", jar.clone())
                .send()
                .await
                .unwrap();
            sent += 1;
            assert!(
                res.status().as_u16() < 500,
                "GET {path} with {:?}: {}",
                &v.chars().take(20).collect::<String>(),
                res.status()
            );
            let to = res
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string())
                .unwrap_or_default();
            assert!(!to.starts_with("/ui/login"), "GET {path}: still signed in");
        }
    }
    // one hostile parameter at a time, so no page refuses an earlier one before it reads the next
    for path in GETS {
        let sep = if path.contains('?') { '&' } else { '?' };
        for p in PARAMS {
            for v in ["\u{0}", "99999999999999999999999", "' OR 1=1 --", "-1"] {
                let url = format!("{}{sep}{p}={}", app.url(path), crate::common::enc(v));
                let res = client()
                    .get(url)
                    .header("cookie", jar.clone())
                    .send()
                    .await
                    .unwrap();
                sent += 1;
                assert!(
                    res.status().as_u16() < 500,
                    "GET {path}?{p}={v:?}: {}",
                    res.status()
                );
            }
        }
    }
    // an unknown page, a NUL in a path segment
    for (p, status) in [
        ("/ui/nope", 404),
        ("/ui/assets/app.0000.css", 404),
        ("/ui/assets/%00", 422),
    ] {
        let res = client()
            .get(app.url(p))
            .header("cookie", jar.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{p}");
    }
    assert!(sent > 100);
}

#[sqlx::test]
async fn pages_are_a_few_statements_each(pool: PgPool) {
    let app = common::app(pool).await;
    let lot = common::new_lot(&app, 1).await;
    let (jar, _) = session(&app, "operator").await;
    let p1 = common::process(&app, 1).await;
    let jar = format!("{jar}; nh_station={}:-", p1["id"]);
    // (page, statements: one per API call it makes; the session itself costs none — the token is checked in
    // memory)
    let pages = [
        ("/ui/dashboard".to_string(), 3),
        ("/ui/station".to_string(), 2),
        (format!("/ui/station?code={}", common::wip(&lot, 1)), 2),
        ("/ui/account".to_string(), 1),
    ];
    for (path, expected) in pages {
        let res = client()
            .get(app.url(&path))
            .header("cookie", jar.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let n: u32 = res.headers()["x-db-queries"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(n, expected, "{path}: {n} statements");
        let csp = res.headers()["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("<script>") && !body.contains("style=\""),
            "{path}: no inline script or style"
        );
    }
}
