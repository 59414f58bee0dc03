//! Sign in, sign out, the password change, the lockout, CSRF, the VIEWER's read-only pages and the Korean UI.

use crate::common::{self, Browser};
use crate::helpers::PASSWORD;
use neurohub_core::auth::Role;
use sqlx::PgPool;

/// The browser's cookies as a `Cookie` header, for requests made beside it.
async fn cookie_header(b: &Browser) -> String {
    b.client
        .get_all_cookies()
        .await
        .unwrap()
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn cookie(b: &Browser, name: &str) -> Option<String> {
    b.client
        .get_all_cookies()
        .await
        .unwrap()
        .iter()
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

#[sqlx::test]
async fn sign_in_sign_out_and_session_cookies(pool: PgPool) {
    let app = common::app(pool).await;
    let b = Browser::start(app.addr, "en-US").await;
    // a signed-out visit goes to the sign-in page and comes back after it
    b.goto("/ui/lots").await;
    b.wait_for("#username").await;
    assert!(
        b.path().await.starts_with("/ui/login?next="),
        "{}",
        b.path().await
    );
    b.screenshot("sign-in").await;
    b.assert_accessible("sign-in").await;

    // wrong password: the API's answer, on the page, still at sign-in
    b.keys("manager").await;
    b.tab().await;
    b.keys("not the password").await;
    b.enter().await;
    b.wait_text("The username or password is not correct.")
        .await;
    assert!(b.path().await.starts_with("/ui/login"));

    b.sign_in("manager", PASSWORD).await;
    assert_eq!(b.path().await, "/ui/dashboard");
    let cookies = b.client.get_all_cookies().await.unwrap();
    let access = cookies
        .iter()
        .find(|c| c.name() == "nh_access")
        .expect("access cookie");
    assert_eq!(
        access.http_only(),
        Some(true),
        "the token is out of reach of page scripts"
    );
    assert_eq!(access.same_site(), Some(cookie::SameSite::Lax));
    let csrf = cookies
        .iter()
        .find(|c| c.name() == "nh_csrf")
        .expect("form-token cookie");
    assert_eq!(csrf.same_site(), Some(cookie::SameSite::Strict));
    // page scripts cannot read either
    let visible = b
        .client
        .execute("return document.cookie", vec![])
        .await
        .unwrap();
    assert_eq!(
        visible.as_str(),
        Some(""),
        "no cookie is readable by script"
    );

    // sign out: the refresh token's family is revoked in the database, and pages need a sign-in again
    let refresh_before: i64 = common::sql_i64(
        &app,
        "SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL",
    )
    .await;
    assert_eq!(refresh_before, 1);
    b.find("header form[action='/ui/logout'] button")
        .await
        .click()
        .await
        .unwrap();
    b.wait_for("#username").await;
    let refresh_after: i64 = common::sql_i64(
        &app,
        "SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL",
    )
    .await;
    assert_eq!(refresh_after, 0, "sign out revokes the sign-in");
    b.goto("/ui/dashboard").await;
    b.wait_for("#username").await;
}

#[sqlx::test]
async fn an_expired_access_token_is_refreshed_once_for_concurrent_requests(pool: PgPool) {
    let app = common::app(pool).await;
    let b = common::signed_in(&app, Role::Manager).await;
    // an access token that expired a minute ago, with the session's real refresh token
    let id = app.user(Role::Manager).id;
    let now = chrono::Utc::now().timestamp();
    let claims = neurohub_core::auth::tokens::Claims::new(
        id,
        "manager",
        Role::Manager,
        now - 1000,
        now - 60,
    );
    let expired = app.state.tokens.sign(&claims).unwrap();
    let refresh = cookie(&b, "nh_refresh").await.unwrap();
    let csrf = cookie(&b, "nh_csrf").await.unwrap();
    let jar = format!("nh_access={expired}; nh_refresh={refresh}; nh_csrf={csrf}");
    // three requests at once with the same, expired pair: one refresh, three pages, no reuse alarm
    let get = |path: &'static str| {
        let c = app.client.clone();
        let url = app.url(path);
        let jar = jar.clone();
        async move { c.get(url).header("cookie", jar).send().await.unwrap() }
    };
    let (a, bb, c) = tokio::join!(get("/ui/dashboard"), get("/ui/lots"), get("/ui/account"));
    for r in [&a, &bb, &c] {
        assert_eq!(r.status(), 200, "{}", r.url());
        assert!(
            r.headers()
                .get_all("set-cookie")
                .iter()
                .any(|v| v.to_str().unwrap().starts_with("nh_access=")),
            "the refreshed pair rides on the answer"
        );
    }
    let families: i64 = app
        .scalar("SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL AND used_at IS NULL", id)
        .await;
    assert_eq!(
        families, 1,
        "one live refresh token: the family was rotated once and not revoked for reuse"
    );
}

#[sqlx::test]
async fn the_sign_in_form_has_the_apis_lockout(pool: PgPool) {
    let app = common::app(pool).await;
    let b = Browser::start(app.addr, "en-US").await;
    // test_settings: 5 free failures per (username, address), then a wait
    for _ in 0..5 {
        b.goto("/ui/login").await;
        b.wait_for("#username").await;
        b.keys("operator").await;
        b.tab().await;
        b.keys("wrong wrong wrong").await;
        b.enter().await;
        b.wait_for(".feedback.bad").await;
    }
    b.goto("/ui/login").await;
    b.wait_for("#username").await;
    b.keys("operator").await;
    b.tab().await;
    b.keys(PASSWORD).await; // even the right password waits out the lockout
    b.enter().await;
    b.wait_text("Too many failed sign-ins").await;
    assert!(b.path().await.starts_with("/ui/login"));
}

#[sqlx::test]
async fn change_password_signs_out_other_sessions_and_keeps_this_one(pool: PgPool) {
    let app = common::app(pool).await;
    let other = common::signed_in(&app, Role::Operator).await;
    let b = common::signed_in(&app, Role::Operator).await;
    b.goto("/ui/account").await;
    b.find("#current_password")
        .await
        .send_keys("wrong current password")
        .await
        .unwrap();
    b.find("#new_password")
        .await
        .send_keys("a brand new station passphrase")
        .await
        .unwrap();
    b.find("#new_password")
        .await
        .send_keys(&char::from(fantoccini::key::Key::Enter).to_string())
        .await
        .unwrap();
    b.wait_text("current_password: is not your current password")
        .await;
    b.find("#current_password")
        .await
        .send_keys(PASSWORD)
        .await
        .unwrap();
    b.find("#new_password")
        .await
        .send_keys("a brand new station passphrase")
        .await
        .unwrap();
    b.find("#new_password")
        .await
        .send_keys(&char::from(fantoccini::key::Key::Enter).to_string())
        .await
        .unwrap();
    b.wait_text("Password changed").await;
    b.screenshot("account").await;
    // this browser is signed in with the new password; the other session is gone
    b.goto("/ui/lots").await;
    assert_eq!(b.path().await, "/ui/lots");
    other.goto("/ui/lots").await;
    other.wait_for("#username").await;
    // the old password no longer works, the new one does
    let fresh = Browser::start(app.addr, "en-US").await;
    fresh
        .sign_in("operator", "a brand new station passphrase")
        .await;
}

#[sqlx::test]
async fn a_forged_form_post_is_refused(pool: PgPool) {
    let app = common::app(pool).await;
    let lot = common::new_lot(&app, 1).await;
    let b = common::signed_in(&app, Role::Operator).await;
    let p1 = common::process(&app, 1).await;
    b.goto("/ui/station?setup=1").await;
    b.find("#process_id").await;
    b.client
        .execute(&format!("document.getElementById('process_id').value = '{}'; document.querySelector('form').submit();", p1["id"]), vec![])
        .await
        .unwrap();
    b.wait_for("#code").await;
    let before = app.count("process_data").await;

    // another site's page that posts a start form to the station (classic CSRF): the browser sends along what
    // cookies it may, but the page cannot know the form token
    let evil = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let evil_addr = evil.local_addr().unwrap();
    let target = format!("{}/ui/station/start", b.base);
    let html = format!(
        "<!doctype html><html><body><form id=f method=post action='{target}'>\
         <input name=code value='{}'><input name=idem value='forged-1'><input name=_csrf value='guess'></form>\
         <script>document.getElementById('f').submit()</script></body></html>",
        common::wip(&lot, 1)
    );
    tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(move || async move { axum::response::Html(html) }),
        );
        axum::serve(evil, app).await.unwrap();
    });
    b.client
        .goto(&format!("http://{evil_addr}/"))
        .await
        .unwrap();
    b.wait_text("did not come from a NeuroHub page").await;
    assert_eq!(
        app.count("process_data").await,
        before,
        "the forged post wrote nothing"
    );

    // the same origin with the session's cookies but a wrong token: refused; with the right one: done
    let jar = cookie_header(&b).await;
    let token = cookie(&b, "nh_csrf").await.unwrap();
    let post = |t: String| {
        let c = app.client.clone();
        let url = app.url("/ui/station/start");
        let jar = jar.clone();
        let code = common::wip(&lot, 1);
        async move {
            c.post(url)
                .header("cookie", jar)
                .form(&[
                    ("code", code.as_str()),
                    ("idem", "same-origin-1"),
                    ("_csrf", t.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let wrong = post("0".repeat(64)).await;
    assert_eq!(wrong.status(), 403);
    assert_eq!(app.count("process_data").await, before);
    let missing = app
        .client
        .post(app.url("/ui/station/start"))
        .header("cookie", jar.clone())
        .form(&[("code", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 403, "no token at all");
    let right = post(token).await;
    assert_eq!(right.status(), 200, "{}", right.text().await.unwrap());
    assert_eq!(
        app.count("process_data").await,
        before + 1,
        "the genuine form records the start"
    );
}

#[sqlx::test]
async fn a_viewer_sees_no_write_controls(pool: PgPool) {
    let app = common::app(pool).await;
    let lot = common::new_lot(&app, 1).await;
    let b = common::signed_in(&app, Role::Viewer).await;
    assert_eq!(b.path().await, "/ui/dashboard");
    assert!(
        !b.exists("header a[href='/ui/station']").await,
        "no station entry for a VIEWER"
    );
    b.goto(&format!("/ui/trace?code={}", common::wip(&lot, 1)))
        .await;
    b.goto("/ui/station").await;
    // the page itself says no, as the API would
    b.wait_text("may not").await;
    assert!(!b.exists("form[action='/ui/station/start']").await);
    assert!(!b.exists("form[action='/ui/station/setup']").await);
    b.screenshot("viewer-station").await;
}

#[sqlx::test]
async fn the_korean_ui_renders(pool: PgPool) {
    let app = common::app(pool).await;
    let b = Browser::start(app.addr, "ko-KR").await;
    b.goto("/ui/login").await;
    b.wait_text("로그인").await;
    let lang = b
        .client
        .execute("return document.documentElement.lang", vec![])
        .await
        .unwrap();
    assert_eq!(lang.as_str(), Some("ko"), "from Accept-Language");
    b.sign_in("operator", PASSWORD).await;
    b.goto("/ui/station?setup=1").await;
    b.wait_text("작업대 설정").await;
    // process names in Korean, from the processes table
    let p1 = common::process(&app, 1).await;
    b.wait_text(p1["process_name_ko"].as_str().unwrap()).await;
    b.screenshot("station-setup-ko").await;
    // the switch in the header goes back to English and stays
    b.find("header form[action='/ui/lang'] button")
        .await
        .click()
        .await
        .unwrap();
    b.wait_text("Set up this station").await;
    b.goto("/ui/dashboard").await;
    b.wait_text("Line dashboard").await;
}
