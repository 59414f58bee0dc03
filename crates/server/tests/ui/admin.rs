//! The admin pages: users and roles (create, sign in as the new user, change a role, the API's refusal of a
//! self-demotion), a process's quality criteria (a valid edit, and a min above its max that writes nothing),
//! equipment, the audit log viewer over those changes, and an operator kept out.

use crate::common::{self, Browser};
use crate::helpers::TestApp;
use neurohub_core::auth::Role;
use serde_json::Value;
use sqlx::PgPool;

/// Replace the value of the field `css` with `text`.
async fn fill(b: &Browser, css: &str, text: &str) {
    let el = b.find(css).await;
    el.clear().await.expect("clear");
    el.send_keys(text).await.expect("type");
}

async fn select(b: &Browser, css: &str, value: &str) {
    b.find(css)
        .await
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
}

async fn click(b: &Browser, css: &str) {
    b.find(css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Click a submit button (or a link) and wait until the browser has left the page (its `<html>` is gone), so
/// what is read next is the answer's page, never the old one.
async fn submit(b: &Browser, css: &str) {
    let old = b.find("html").await;
    click(b, css).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while old.tag_name().await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "{css}: the page did not change"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    b.wait_for("main h1").await;
}

async fn value(b: &Browser, css: &str) -> String {
    b.find(css)
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// The HTTP status of `path` fetched by the page (same origin, the session's cookies).
async fn status_of(b: &Browser, path: &str) -> i64 {
    b.client
        .execute_async(
            "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => done(r.status), e => done(0));",
            vec![Value::String(path.to_string())],
        )
        .await
        .expect("fetch")
        .as_i64()
        .unwrap_or(0)
}

/// The rows of the audit table on the page, as their text.
async fn audit_rows(b: &Browser) -> Vec<String> {
    let rows = b
        .client
        .find_all(fantoccini::Locator::Css("#audit tbody tr"))
        .await
        .unwrap();
    let mut out = Vec::new();
    for r in rows {
        out.push(r.text().await.unwrap());
    }
    out
}

/// Filter the audit viewer by table through its form.
async fn audit_by_table(b: &Browser, table: &str) -> Vec<String> {
    b.goto("/ui/admin/audit").await;
    fill(b, "#table_name", table).await;
    submit(b, "form.filters button[type=submit]").await;
    b.wait_for("#audit").await;
    assert!(
        b.path().await.contains(&format!("table_name={table}")),
        "{}",
        b.path().await
    );
    audit_rows(b).await
}

async fn role_of(app: &TestApp, username: &str) -> Option<String> {
    sqlx::query_scalar("SELECT role::text FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn admin_creates_a_user_who_signs_in_then_changes_their_role(pool: PgPool) {
    let app = common::app(pool).await;
    let b = common::signed_in(&app, Role::Admin).await;
    assert!(
        b.exists("header nav a[href='/ui/admin']").await,
        "an admin has the admin entry"
    );
    b.goto("/ui/admin").await;
    for href in [
        "/ui/admin/users",
        "/ui/admin/workspaces",
        "/ui/admin/models",
        "/ui/admin/processes",
        "/ui/admin/lines",
        "/ui/admin/equipment",
        "/ui/admin/audit",
    ] {
        assert!(
            b.exists(&format!("main a[href='{href}']")).await,
            "the admin index links {href}"
        );
    }
    b.screenshot("admin").await;

    b.goto("/ui/admin/users").await;
    let listed = b.text("#users tbody").await;
    for u in ["admin", "manager", "operator", "viewer"] {
        assert!(listed.contains(u), "the list shows {u}: {listed}");
    }
    b.screenshot("users").await;

    // a refused creation keeps the values (a short password is the API's 422)
    fill(&b, "#username", "kim.minsu").await;
    fill(&b, "#full_name", "Kim Min-su").await;
    fill(&b, "#email", "kim.minsu@example.com").await;
    select(&b, "#role", "OPERATOR").await;
    fill(&b, "#department", "Assembly").await;
    fill(&b, "#password", "short").await;
    submit(&b, "#new-user button[type=submit]").await;
    let refusal = b.text(".feedback.bad").await;
    assert!(
        refusal.contains("password"),
        "the API names the password: {refusal}"
    );
    assert_eq!(value(&b, "#username").await, "kim.minsu", "values kept");
    assert_eq!(value(&b, "#role").await, "OPERATOR");
    assert_eq!(role_of(&app, "kim.minsu").await, None, "nothing written");

    fill(&b, "#password", "assembly-line-passphrase-7").await;
    submit(&b, "#new-user button[type=submit]").await;
    b.wait_text("Created.").await;
    assert_eq!(
        role_of(&app, "kim.minsu").await.as_deref(),
        Some("OPERATOR")
    );
    let dept: Option<String> = app
        .scalar(
            "SELECT department FROM users WHERE username = $1",
            "kim.minsu",
        )
        .await;
    assert_eq!(dept.as_deref(), Some("Assembly"));

    // the new user can sign in with the password the admin set
    let fresh = Browser::start(app.addr, "en-US").await;
    fresh
        .sign_in("kim.minsu", "assembly-line-passphrase-7")
        .await;
    assert!(
        fresh.path().await.starts_with("/ui/station"),
        "an operator lands at the station: {}",
        fresh.path().await
    );
    drop(fresh);

    // change the role on the edit page
    assert_eq!(value(&b, "#role").await, "OPERATOR");
    select(&b, "#role", "MANAGER").await;
    submit(&b, "#save").await;
    b.wait_text("Saved.").await;
    assert_eq!(value(&b, "#role").await, "MANAGER");
    assert_eq!(role_of(&app, "kim.minsu").await.as_deref(), Some("MANAGER"));
    b.screenshot("user-edit").await;

    // the audit trail of the users table shows both changes by the admin
    let new_id: i64 = app
        .scalar("SELECT id FROM users WHERE username = $1", "kim.minsu")
        .await;
    let rows = audit_by_table(&b, "users").await;
    let ours: Vec<&String> = rows
        .iter()
        .filter(|r| r.contains(&format!("users {new_id}")))
        .collect();
    assert!(
        ours.iter()
            .any(|r| r.contains("INSERT") && r.contains("admin")),
        "{rows:#?}"
    );
    assert!(
        ours.iter()
            .any(|r| r.contains("UPDATE") && r.contains("admin") && r.contains("role")),
        "{rows:#?}"
    );
    let db: i64 = app
        .scalar("SELECT count(*) FROM audit_logs WHERE table_name = 'users' AND record_id = $1 AND user_id IS NOT NULL", new_id)
        .await;
    assert_eq!(ours.len() as i64, db, "one row per audit entry");
}

#[sqlx::test]
async fn an_admin_demoting_themselves_sees_the_api_refusal(pool: PgPool) {
    let app = common::app(pool).await;
    let b = common::signed_in(&app, Role::Admin).await;
    let me = app.user(Role::Admin).id;
    b.goto(&format!("/ui/admin/users/{me}")).await;
    fill(&b, "#department", "Quality").await;
    select(&b, "#role", "MANAGER").await;
    submit(&b, "#save").await;
    let refusal = b.text(".feedback.bad").await;
    assert!(
        refusal.contains("CANNOT_DEMOTE_SELF") && refusal.contains("cannot take the ADMIN role"),
        "{refusal}"
    );
    assert_eq!(
        value(&b, "#role").await,
        "MANAGER",
        "the form keeps what was chosen"
    );
    assert_eq!(value(&b, "#department").await, "Quality");
    assert_eq!(
        role_of(&app, "admin").await.as_deref(),
        Some("ADMIN"),
        "still an admin"
    );
    let dept: Option<String> = app
        .scalar("SELECT department FROM users WHERE id = $1", me)
        .await;
    assert_ne!(
        dept.as_deref(),
        Some("Quality"),
        "nothing of the refused change was written"
    );
}

#[sqlx::test]
async fn a_manager_edits_criteria_creates_equipment_and_reads_the_audit(pool: PgPool) {
    let app = common::app(pool).await;
    let b = common::signed_in(&app, Role::Manager).await;
    assert!(b.exists("header nav a[href='/ui/admin']").await);
    b.goto("/ui/admin").await;
    assert!(
        !b.exists("main a[href='/ui/admin/users']").await,
        "users are an admin's"
    );
    assert!(b.exists("main a[href='/ui/admin/audit']").await);

    b.goto("/ui/admin/processes").await;
    let rows = b
        .client
        .find_all(fantoccini::Locator::Css("#processes tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 8, "the eight processes");
    b.screenshot("processes").await;

    // a process with criteria: change one limit and add a measurement
    let mut process = Value::Null;
    for n in 1..=8 {
        let p = common::process(&app, n).await;
        if p["quality_criteria"]
            .as_object()
            .is_some_and(|c| !c.is_empty())
        {
            process = p;
            break;
        }
    }
    let id = process["id"].as_i64().expect("a process with criteria");
    let (name, spec) = process["quality_criteria"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    b.goto(&format!("/ui/admin/processes/{id}")).await;
    let names = b
        .client
        .find_all(fantoccini::Locator::Css("input[name^='name.']"))
        .await
        .unwrap();
    let mut row_of = None;
    let mut spare = None;
    for f in &names {
        let v = f.prop("value").await.unwrap().unwrap_or_default();
        let i = f
            .attr("name")
            .await
            .unwrap()
            .unwrap()
            .trim_start_matches("name.")
            .to_string();
        if v == name {
            row_of = Some(i);
        } else if v.is_empty() && spare.is_none() {
            spare = Some(i);
        }
    }
    let (row, spare) = (
        row_of.expect("a row for the measurement"),
        spare.expect("a spare row"),
    );
    let new_max = spec["max"].as_f64().map(|m| m + 1.0).unwrap_or(100.0);
    fill(&b, &format!("#max-{row}"), &new_max.to_string()).await;
    fill(&b, &format!("#name-{spare}"), "gap_mm").await;
    fill(&b, &format!("#min-{spare}"), "0.1").await;
    fill(&b, &format!("#max-{spare}"), "0.5").await;
    fill(&b, &format!("#unit-{spare}"), "mm").await;
    click(&b, &format!("#required-{spare}")).await;
    fill(&b, "#estimated_duration_seconds", "95").await;
    submit(&b, "#save").await;
    b.wait_text("Saved.").await;
    let criteria: Value = app
        .scalar("SELECT quality_criteria FROM processes WHERE id = $1", id)
        .await;
    assert_eq!(
        criteria["gap_mm"],
        serde_json::json!({ "min": 0.1, "max": 0.5, "unit": "mm", "required": true })
    );
    assert_eq!(criteria[&name]["max"].as_f64(), Some(new_max));
    assert_eq!(
        criteria.as_object().unwrap().len(),
        process["quality_criteria"].as_object().unwrap().len() + 1
    );
    let (duration, active): (Option<i32>, bool) =
        sqlx::query_as("SELECT estimated_duration_seconds, is_active FROM processes WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (duration, active),
        (Some(95), true),
        "the other fields as the form had them"
    );

    // min above max: the API's 422 with the field path, the field marked, nothing written
    let row = {
        let names = b
            .client
            .find_all(fantoccini::Locator::Css("input[name^='name.']"))
            .await
            .unwrap();
        let mut r = None;
        for f in &names {
            if f.prop("value").await.unwrap().as_deref() == Some("gap_mm") {
                r = Some(
                    f.attr("name")
                        .await
                        .unwrap()
                        .unwrap()
                        .trim_start_matches("name.")
                        .to_string(),
                );
            }
        }
        r.expect("the new row")
    };
    fill(&b, &format!("#min-{row}"), "9").await;
    submit(&b, "#save").await;
    let refusal = b.text(".feedback.bad").await;
    assert!(
        refusal.contains("quality_criteria.gap_mm.min")
            && refusal.contains("min must not be greater than max"),
        "{refusal}"
    );
    assert_eq!(
        value(&b, &format!("#min-{row}")).await,
        "9",
        "the typed value is kept"
    );
    assert_eq!(value(&b, "#estimated_duration_seconds").await, "95");
    assert_eq!(
        b.find(&format!("#min-{row}"))
            .await
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    let after: Value = app
        .scalar("SELECT quality_criteria FROM processes WHERE id = $1", id)
        .await;
    assert_eq!(after, criteria, "the refused edit wrote nothing");

    // equipment
    b.goto("/ui/admin/equipment").await;
    fill(&b, "#equipment_code", "EQ-UI-TORQUE-01").await;
    fill(&b, "#name", "Torque driver (UI)").await;
    fill(&b, "#equipment_type", "TORQUE_DRIVER").await;
    select(&b, "#process_id", &id.to_string()).await;
    select(&b, "#status", "MAINTENANCE").await;
    submit(&b, "#new-equipment button[type=submit]").await;
    b.wait_text("Created.").await;
    assert!(b.text("#equipment tbody").await.contains("EQ-UI-TORQUE-01"));
    let (status, pid): (String, Option<i64>) = sqlx::query_as(
        "SELECT status::text, process_id FROM equipment WHERE equipment_code = 'EQ-UI-TORQUE-01'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), pid), ("MAINTENANCE", Some(id)));
    b.screenshot("equipment").await;

    // the audit trail of both, by the manager
    let rows = audit_by_table(&b, "processes").await;
    let ours: Vec<&String> = rows
        .iter()
        .filter(|r| r.contains(&format!("processes {id}")) && r.contains("UPDATE"))
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "one accepted change, none for the refused one: {rows:#?}"
    );
    assert!(
        ours[0].contains("manager") && ours[0].contains("quality_criteria"),
        "{}",
        ours[0]
    );
    let db: i64 = app
        .scalar(
            "SELECT count(*) FROM audit_logs WHERE table_name = 'processes' AND user_id = $1",
            app.user(Role::Manager).id,
        )
        .await;
    assert_eq!(db, 1);
    b.screenshot("audit").await;
    b.assert_accessible("audit").await;
    let rows = audit_by_table(&b, "equipment").await;
    assert!(
        rows.iter()
            .any(|r| r.contains("INSERT") && r.contains("manager")),
        "{rows:#?}"
    );
}

#[sqlx::test]
async fn an_operator_has_no_admin_entry_and_is_refused_the_users_page(pool: PgPool) {
    let app = common::app(pool).await;
    let b = common::signed_in(&app, Role::Operator).await;
    b.goto("/ui/dashboard").await;
    b.wait_for("header nav").await;
    assert!(
        !b.exists("header nav a[href='/ui/admin']").await,
        "no admin entry for an operator"
    );
    b.goto("/ui/admin/users").await;
    let refusal = b.text(".feedback.bad").await;
    assert!(
        refusal.contains("role OPERATOR may not do this") && refusal.contains("ADMIN"),
        "{refusal}"
    );
    assert!(!b.exists("#new-user").await, "no create form");
    assert_eq!(status_of(&b, "/ui/admin/users").await, 403);
    assert_eq!(status_of(&b, "/ui/admin/audit").await, 403);
    // master data is readable, without write forms
    b.goto("/ui/admin/equipment").await;
    b.wait_for("#equipment").await;
    assert!(
        !b.exists("#new-equipment").await,
        "no equipment form for an operator"
    );
    // a hand-made create post is the API's refusal: nothing written
    let before = app.count("equipment").await;
    let status = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const csrf = document.querySelector('input[name=_csrf]').value;
             fetch('/ui/admin/equipment', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
                 body: new URLSearchParams({ _csrf: csrf, equipment_code: 'EQ-FORGED', name: 'x', status: 'AVAILABLE' }) })
               .then(r => done(r.status), e => done(0));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(status.as_i64(), Some(403), "the API refuses the operator");
    assert_eq!(app.count("equipment").await, before);
}

#[sqlx::test]
async fn an_admin_adds_a_workspace_member_and_changes_its_role(pool: PgPool) {
    let app = common::app(pool).await;
    neurohub_atp::demo::seed_if_empty(&app.pool)
        .await
        .expect("ATP demo");
    let b = common::signed_in(&app, Role::Admin).await;
    b.goto("/ui/admin/workspaces").await;
    submit(
        &b,
        "#workspaces a[href='/ui/admin/workspaces/XLSMART-AVIAT/members']",
    )
    .await;
    b.wait_for("#members").await;
    let before = app.count("workspace_members").await;

    // an unknown user is the API's refusal, the typed name kept
    fill(&b, "#user", "nobody-here").await;
    select(&b, "#member_role", "QA").await;
    submit(&b, "#add-member button[type=submit]").await;
    let refusal = b.text(".feedback.bad").await;
    assert!(refusal.contains("UNKNOWN_USER"), "{refusal}");
    assert_eq!(value(&b, "#user").await, "nobody-here");
    assert_eq!(value(&b, "#member_role").await, "QA");
    assert_eq!(app.count("workspace_members").await, before);

    fill(&b, "#user", "operator").await;
    submit(&b, "#add-member button[type=submit]").await;
    b.wait_text("Saved.").await;
    let uid = app.user(Role::Operator).id;
    let member = |app: &TestApp| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_as::<_, (String, bool)>(
                "SELECT m.member_role::text, m.is_active FROM workspace_members m JOIN workspaces w ON w.id = m.workspace_id \
                 WHERE w.code = 'XLSMART-AVIAT' AND m.user_id = $1",
            )
            .bind(uid)
            .fetch_optional(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(member(&app).await, Some(("QA".to_string(), true)));
    assert!(b.text("#members tbody").await.contains("operator"));

    // change the role and deactivate, on the member's row
    select(&b, &format!("#role-{uid}"), "APPROVER").await;
    click(&b, &format!("#active-{uid}")).await;
    submit(&b, &format!("#member-{uid} button[type=submit]")).await;
    b.wait_text("Saved.").await;
    assert_eq!(member(&app).await, Some(("APPROVER".to_string(), false)));
    assert_eq!(value(&b, &format!("#role-{uid}")).await, "APPROVER");
    b.screenshot("members").await;
    b.assert_accessible("workspace members").await;
}

#[sqlx::test]
async fn a_manager_creates_and_edits_a_model_and_a_line(pool: PgPool) {
    let app = common::app(pool).await;
    let b = common::signed_in(&app, Role::Manager).await;
    b.goto("/ui/admin/models").await;
    fill(&b, "#model_code", "ab").await;
    fill(&b, "#model_name", "UI test model").await;
    fill(&b, "#specifications", "{\"voltage\": 5}").await;
    submit(&b, "#new-model button[type=submit]").await;
    let refusal = b.text(".feedback.bad").await;
    assert!(refusal.contains("model_code"), "{refusal}");
    assert_eq!(
        value(&b, "#model_name").await,
        "UI test model",
        "values kept"
    );
    let before = app.count("product_models").await;
    fill(&b, "#model_code", "UIX").await;
    submit(&b, "#new-model button[type=submit]").await;
    b.wait_text("Created.").await;
    assert_eq!(app.count("product_models").await, before + 1);
    let (status, specs): (String, Value) = sqlx::query_as(
        "SELECT status::text, specifications FROM product_models WHERE model_code = 'UIX'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), specs),
        ("ACTIVE", serde_json::json!({ "voltage": 5 }))
    );
    let id: i64 = app
        .scalar("SELECT id FROM product_models WHERE model_code = $1", "UIX")
        .await;
    submit(&b, &format!("#models a[href='/ui/admin/models/{id}']")).await;
    select(&b, "#status", "INACTIVE").await;
    submit(&b, "#edit-model button[type=submit]").await;
    b.wait_text("Saved.").await;
    let status: String = app
        .scalar("SELECT status::text FROM product_models WHERE id = $1", id)
        .await;
    assert_eq!(status, "INACTIVE");

    b.goto("/ui/admin/lines").await;
    fill(&b, "#country_code", "KR").await;
    fill(&b, "#line_code", "09").await;
    fill(&b, "#name", "UI test line").await;
    submit(&b, "#new-line button[type=submit]").await;
    b.wait_text("Created.").await;
    let id: i64 = app
        .scalar(
            "SELECT id FROM production_lines WHERE country_code = 'KR' AND line_code = $1",
            "09",
        )
        .await;
    b.goto(&format!("/ui/admin/lines/{id}")).await;
    fill(&b, "#name", "UI test line, renamed").await;
    click(&b, "#is_active").await;
    submit(&b, "#edit-line button[type=submit]").await;
    b.wait_text("Saved.").await;
    let (name, active): (String, bool) =
        sqlx::query_as("SELECT name, is_active FROM production_lines WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((name.as_str(), active), ("UI test line, renamed", false));
}

#[sqlx::test]
async fn the_admin_pages_speak_korean_and_the_audit_log_pages(pool: PgPool) {
    let app = common::app(pool).await;
    // enough audit rows for a second page (50 a page)
    let mut n = 0;
    while app.count("audit_logs").await < 60 {
        n += 1;
        app.post(
            Role::Manager,
            "/api/v1/equipment",
            &serde_json::json!({ "equipment_code": format!("EQ-PAGE-{n:03}"), "name": format!("Paging {n}") }),
        )
        .await
        .assert_status(201);
    }
    let b = Browser::start(app.addr, "ko-KR").await;
    b.sign_in("admin", crate::helpers::PASSWORD).await;
    let process = common::process(&app, 1).await;
    let me = app.user(Role::Admin).id;
    let eq: i64 = app
        .scalar("SELECT min(id) FROM equipment WHERE is_active = $1", true)
        .await;
    let model: i64 = app
        .scalar("SELECT min(id) FROM product_models WHERE id > $1", 0i64)
        .await;
    let line: i64 = app
        .scalar("SELECT min(id) FROM production_lines WHERE id > $1", 0i64)
        .await;
    for (path, heading) in [
        ("/ui/admin".to_string(), "관리"),
        ("/ui/admin/users".to_string(), "사용자와 역할"),
        (format!("/ui/admin/users/{me}"), "사용자 편집"),
        ("/ui/admin/workspaces".to_string(), "워크스페이스 구성원"),
        ("/ui/admin/models".to_string(), "제품 모델"),
        (format!("/ui/admin/models/{model}"), "제품 모델 편집"),
        ("/ui/admin/processes".to_string(), "공정과 품질 기준"),
        (
            format!("/ui/admin/processes/{}", process["id"]),
            "기준 편집",
        ),
        ("/ui/admin/lines".to_string(), "생산 라인"),
        (format!("/ui/admin/lines/{line}"), "생산 라인 편집"),
        ("/ui/admin/equipment".to_string(), "설비"),
        (format!("/ui/admin/equipment/{eq}"), "설비 편집"),
        ("/ui/admin/audit".to_string(), "감사 로그"),
    ] {
        b.goto(&path).await;
        let h1 = b.text("main h1").await;
        assert!(h1.starts_with(heading), "{path}: {h1}");
        b.assert_accessible(&path).await;
    }
    // the audit log, newest first, 50 a page; the next page continues where the first ended
    let first = audit_rows(&b).await;
    assert_eq!(first.len(), 50);
    submit(&b, "a[rel=next]").await;
    b.wait_for("#audit").await;
    assert!(b.path().await.contains("cursor="));
    let second = audit_rows(&b).await;
    let total = app.count("audit_logs").await as usize;
    assert_eq!(second.len(), (total - 50).min(50));
    assert!(second.iter().all(|r| !first.contains(r)), "no row twice");
}
