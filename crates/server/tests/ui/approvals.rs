//! The Approvals (ATP) pages with the ATP demo (workspace XLSMART-AVIAT, its users and shipped configuration):
//! an approver approves a stage and rejects the next one, a QA engineer rejects a submission, a VIEWER member
//! sees no decision form, configuration versions (report, diff, activate) and the sites CSV import. Submissions
//! are created and submitted through the API as the ATP API tests do.

use crate::common::{self, Browser};
use crate::helpers::TestApp;
use neurohub_core::auth::Role;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use sqlx::PgPool;

const WS: &str = "XLSMART-AVIAT";
const PDF: &[u8] = b"%PDF-1.7\n% an ATP report\n";

/// The server with the MES demo and the ATP demo: the demo users' password.
async fn atp_app(pool: PgPool) -> (TestApp, String) {
    let app = common::app(pool).await;
    let loaded = neurohub_atp::demo::seed_if_empty(&app.pool)
        .await
        .expect("ATP demo")
        .expect("loaded");
    (app, loaded.password)
}

/// An access token of a demo user.
async fn token_of(app: &TestApp, username: &str) -> String {
    let id: i64 = app
        .scalar(
            "SELECT id FROM users WHERE username = $1",
            username.to_string(),
        )
        .await;
    app.state
        .tokens
        .issue_access(id, username, Role::Viewer)
        .unwrap()
        .0
}

fn api(rest: &str) -> String {
    format!("/api/v1/workspaces/{WS}{rest}")
}

/// Create (as atp.vendor), document and submit a revision: its id.
async fn submitted(app: &TestApp, site: &str, scope: &str) -> String {
    let vendor = token_of(app, "atp.vendor").await;
    let res = app
        .request(
            reqwest::Method::POST,
            &api("/submissions"),
            Some(&vendor),
            Some(&json!({"site_id": site, "scope_code": scope, "vendor_code": "AVIAT", "atp_category": "RAN_MW", "title": format!("{site} {scope} ATP")})),
            &[],
        )
        .await;
    res.assert_status(201);
    let id = res.body["id"].as_str().unwrap().to_string();
    let form = Form::new().part("file", Part::bytes(PDF.to_vec()).file_name("atp.pdf"));
    let up = app
        .client
        .post(app.url(&api(&format!("/submissions/{id}/documents"))))
        .bearer_auth(&vendor)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(up.status().as_u16(), 201);
    app.request(
        reqwest::Method::POST,
        &api(&format!("/submissions/{id}/submit")),
        Some(&vendor),
        None,
        &[],
    )
    .await
    .assert_status(200);
    id
}

async fn qa_approve(app: &TestApp, sub: &str) {
    let qa = token_of(app, "atp.qa").await;
    app.request(
        reqwest::Method::POST,
        &api(&format!("/submissions/{sub}/qa-review")),
        Some(&qa),
        Some(&json!({"decision": "APPROVE"})),
        &[],
    )
    .await
    .assert_status(200);
}

/// The ACTIVE stage of a submission's workflow (id, number).
async fn active_stage(app: &TestApp, sub: &str) -> (String, i32) {
    sqlx::query_as(
        "SELECT s.id::text, s.stage_number FROM workflow_stages s JOIN atp_submissions a \
           ON a.workflow_instance_id = s.workflow_instance_id WHERE a.id::text = $1 AND s.status = 'ACTIVE'",
    )
    .bind(sub)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn stage_row(app: &TestApp, stage: &str) -> (String, Option<String>, Option<String>) {
    sqlx::query_as(
        "SELECT status, decision, decision_comment FROM workflow_stages WHERE id::text = $1",
    )
    .bind(stage)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn signed_in_as(app: &TestApp, username: &str, password: &str) -> Browser {
    // two rustls providers are linked (ring, and fantoccini's aws-lc-rs): name the process default, as the
    // WebDriver client cannot choose
    let _ = rustls::crypto::ring::default_provider().install_default();
    let b = Browser::start(app.addr, "en-US").await;
    b.sign_in(username, password).await;
    b
}

async fn click(b: &Browser, css: &str) {
    b.find(css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Mark the page, run `act` (a click, an Enter), and wait until a new page (or the script's replacement of the
/// body) took its place: a form's answer, not the page it was sent from.
async fn answer_of<F: std::future::Future<Output = ()>>(b: &Browser, act: F) {
    b.client
        .execute("document.body.dataset.sentFrom = '1';", vec![])
        .await
        .unwrap();
    act.await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let fresh = b
            .client
            .execute("return document.readyState === 'complete' && document.body && !document.body.dataset.sentFrom;", vec![])
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if fresh {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no answer replaced the page"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn feedback(b: &Browser) -> (String, String) {
    let el = b.wait_for(".feedback").await;
    (
        el.attr("class").await.unwrap().unwrap_or_default(),
        el.text().await.unwrap(),
    )
}

#[sqlx::test]
async fn an_approver_approves_a_stage_and_rejects_the_next(pool: PgPool) {
    let (app, password) = atp_app(pool).await;
    let sub = submitted(&app, "JKT-0002", "RAN").await;
    qa_approve(&app, &sub).await;
    let (stage, number) = active_stage(&app, &sub).await;
    assert_eq!(
        number, 2,
        "QA is stage 1; FOP_RTS (atp.approver.west1) is next"
    );

    let b = signed_in_as(&app, "atp.approver.west1", &password).await;
    b.goto("/ui/approvals").await;
    let row = format!("#pending tr[data-stage='{stage}']");
    b.wait_for(&row).await;
    let text = b.text(&row).await;
    assert!(
        text.contains("due in 47 h") || text.contains("due in 48 h"),
        "a 48 h SLA counts down: {text}"
    );
    // the demo's stage is six hours overdue: red, and said in words
    let overdue = b.text("#pending td.overdue").await;
    assert!(overdue.starts_with("overdue by 6 h"), "{overdue}");
    b.screenshot("approvals").await;
    b.assert_accessible("approvals").await;

    click(&b, &format!("{row} a")).await;
    b.wait_for("#decide-form").await;
    assert!(b.text("#facts").await.contains("IN_APPROVAL"));
    b.screenshot("submission").await;
    b.assert_accessible("submission").await;
    b.find("#comment")
        .await
        .send_keys("RAN installation verified")
        .await
        .unwrap();
    // by keyboard: Tab from the comment through the punchlist fields to Approve, Enter
    for _ in 0..4 {
        b.tab().await;
    }
    assert_eq!(b.focused().await, "approve", "Tab reaches Approve");
    answer_of(&b, b.enter()).await;
    let (class, text) = feedback(&b).await;
    assert!(
        class.contains("good") && text.contains("APPROVE"),
        "{class}: {text}"
    );
    let (status, decision, comment) = stage_row(&app, &stage).await;
    assert_eq!(
        (status.as_str(), decision.as_deref(), comment.as_deref()),
        (
            "APPROVED",
            Some("APPROVE"),
            Some("RAN installation verified")
        )
    );
    assert!(
        b.text("#timeline").await.contains("APPROVE"),
        "the timeline shows the decision"
    );
    let actions: i64 = app
        .scalar("SELECT count(*) FROM workflow_stage_actions WHERE workflow_stage_id::text = $1 AND action = 'APPROVE'", stage.clone())
        .await;
    assert_eq!(actions, 1, "one decision recorded");

    // the next stage (REGION_TEAM) is west1's too: its form is on the page; a reject without a comment is the
    // API's refusal, shown verbatim, nothing written
    let (next, n) = active_stage(&app, &sub).await;
    assert_eq!(n, 3);
    let heading = b.text("#decide-h").await;
    assert!(heading.contains("Stage 3"), "{heading}");
    answer_of(&b, click(&b, "#reject")).await;
    let (class, text) = feedback(&b).await;
    assert!(class.contains("bad") && text.contains("comment"), "{text}");
    assert_eq!(stage_row(&app, &next).await.0, "ACTIVE");
    b.find("#comment")
        .await
        .send_keys("antenna azimuth out of tolerance")
        .await
        .unwrap();
    answer_of(&b, click(&b, "#reject")).await;
    assert!(feedback(&b).await.1.contains("REJECT — REJECTED"));
    let (status, decision, _) = stage_row(&app, &next).await;
    assert_eq!(
        (status.as_str(), decision.as_deref()),
        ("REJECTED", Some("REJECT"))
    );
    let sub_status: String = app
        .scalar(
            "SELECT status FROM atp_submissions WHERE id::text = $1",
            sub.clone(),
        )
        .await;
    assert_eq!(sub_status, "REJECTED");
    assert!(
        !b.exists("#decide-form").await,
        "nothing is waiting for west1 on this submission any more"
    );

    // a document streams through the UI with the API's content type
    let doc: String = app
        .scalar(
            "SELECT id::text FROM atp_submission_documents WHERE submission_id::text = $1",
            sub.clone(),
        )
        .await;
    let got = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0], { credentials: 'same-origin' })
               .then(async r => done([r.status, r.headers.get('content-type'), (await r.text()).slice(0, 8)]), e => done([0, String(e), '']));",
            vec![json!(format!("/ui/approvals/{WS}/submissions/{sub}/documents/{doc}"))],
        )
        .await
        .unwrap();
    assert_eq!(got, json!([200, "application/pdf", "%PDF-1.7"]));
}

#[sqlx::test]
async fn a_qa_engineer_rejects_and_a_viewer_sees_no_decision_form(pool: PgPool) {
    let (app, password) = atp_app(pool).await;
    let sub = submitted(&app, "BKS-0001", "MW").await;

    let b = signed_in_as(&app, "atp.qa", &password).await;
    b.goto("/ui/approvals").await;
    assert_eq!(b.text("#member-role").await, "QA");
    assert!(b.text("#qa-h").await.contains("QA queue"));
    // the QA queue opens a submission by its id (the API has no list of submissions waiting for QA)
    b.find("#open-id").await.send_keys(&sub).await.unwrap();
    answer_of(&b, b.enter()).await;
    b.wait_for("#qa-form").await;
    assert!(
        !b.exists("#decide-form").await,
        "QA has no stage of this submission"
    );
    answer_of(&b, click(&b, "#qa-reject")).await;
    let (class, text) = feedback(&b).await;
    assert!(
        class.contains("bad") && text.contains("comment"),
        "a rejection needs its comment: {text}"
    );
    let status: String = app
        .scalar(
            "SELECT status FROM atp_submissions WHERE id::text = $1",
            sub.clone(),
        )
        .await;
    assert_eq!(status, "QA_REVIEW", "nothing written");
    b.find("#qa-comment")
        .await
        .send_keys("the report lacks the link budget page")
        .await
        .unwrap();
    answer_of(&b, click(&b, "#qa-reject")).await;
    assert!(feedback(&b).await.1.contains("REJECT — QA_REJECTED"));
    let (status, comment): (String, Option<String>) =
        sqlx::query_as("SELECT status, qa_comment FROM atp_submissions WHERE id::text = $1")
            .bind(&sub)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), comment.as_deref()),
        ("QA_REJECTED", Some("the report lacks the link budget page"))
    );
    assert!(
        !b.exists("#qa-form").await,
        "a reviewed revision has no QA form"
    );
    assert!(b.text("#timeline").await.contains("QA_REJECT"));
    b.screenshot("submission-qa-rejected").await;

    // a VIEWER member: nothing pending, and the demo's submission in approval shows no decision or QA form
    let demo_sub: String = app
        .scalar(
            "SELECT id::text FROM atp_submissions WHERE title = $1",
            "JKT-0001 MW hop ATP".to_string(),
        )
        .await;
    drop(b);
    let v = signed_in_as(&app, "atp.viewer", &password).await;
    v.goto("/ui/approvals").await;
    v.wait_for("#pending-none").await;
    assert_eq!(v.text("#member-role").await, "VIEWER");
    v.goto(&format!("/ui/approvals/{WS}/submissions/{demo_sub}"))
        .await;
    v.wait_for("#timeline").await;
    assert!(v.text("#facts").await.contains("IN_APPROVAL"));
    assert!(
        !v.exists("#decide-form").await && !v.exists("#qa-form").await,
        "a viewer gets no decision form"
    );
    // the stage's approver has one on the same page
    drop(v);
    let w = signed_in_as(&app, "atp.approver.west1", &password).await;
    w.goto(&format!("/ui/approvals/{WS}/submissions/{demo_sub}"))
        .await;
    w.wait_for("#decide-form").await;
    assert!(w.text("#decide").await.contains("overdue by"));
}

/// The shipped SCOPE_CONFIG with one more vendor.
fn scope_files_with_extra_vendor() -> Vec<(String, Vec<u8>)> {
    let (_, files) = neurohub_atp::demo::EXAMPLE
        .iter()
        .find(|(t, _)| t.as_str() == "SCOPE_CONFIG")
        .unwrap();
    files
        .iter()
        .map(|(n, b)| {
            let mut b = b.to_vec();
            if *n == "vendors" {
                if !b.ends_with(b"\n") {
                    b.push(b'\n');
                }
                b.extend_from_slice(b"NOKIA,Nokia Solutions,OEM,atp@nokia.example\n");
            }
            (n.to_string(), b)
        })
        .collect()
}

#[sqlx::test]
async fn configuration_versions_and_the_sites_import(pool: PgPool) {
    let (app, password) = atp_app(pool).await;
    let admin = token_of(&app, "atp.admin").await;
    let mut form = Form::new().text("source_type", "SCOPE_CONFIG");
    for (name, bytes) in scope_files_with_extra_vendor() {
        form = form.part(
            name.clone(),
            Part::bytes(bytes)
                .file_name(format!("{name}.csv"))
                .mime_str("text/csv")
                .unwrap(),
        );
    }
    let res = app
        .client
        .post(app.url(&api("/config-versions")))
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let v: Value = res.json().await.unwrap();
    let version = v["id"].as_str().unwrap().to_string();

    let b = signed_in_as(&app, "atp.admin", &password).await;
    b.goto(&format!("/ui/approvals/{WS}/config")).await;
    b.wait_for("#versions").await;
    click(&b, &format!("#versions tr[data-version='{version}'] a")).await;
    b.wait_for("#version").await;
    assert_eq!(b.text("#version-status").await, "DRAFT");
    b.wait_for("#report-clean").await;
    let diff = b.text("#version").await;
    assert!(
        diff.contains("NOKIA") && diff.contains("1 added"),
        "the diff shows the new vendor:\n{diff}"
    );
    b.screenshot("config").await;
    b.assert_accessible("config").await;
    answer_of(&b, click(&b, "#activate")).await;
    let (class, text) = feedback(&b).await;
    assert!(class.contains("good") && text.contains("ACTIVE"), "{text}");
    let status: String = app
        .scalar(
            "SELECT status FROM config_versions WHERE id::text = $1",
            version.clone(),
        )
        .await;
    assert_eq!(status, "ACTIVE");
    assert!(
        !b.exists("#activate").await,
        "an ACTIVE version has no Activate button"
    );

    // a VIEWER member sees the versions but no Activate button
    let draft = {
        let mut form = Form::new().text("source_type", "SCOPE_CONFIG");
        for (name, mut bytes) in scope_files_with_extra_vendor() {
            if name == "vendors" {
                bytes.extend_from_slice(b"ERICSSON,Ericsson Indonesia,OEM,atp@ericsson.example\n");
            }
            form = form.part(
                name.clone(),
                Part::bytes(bytes)
                    .file_name(format!("{name}.csv"))
                    .mime_str("text/csv")
                    .unwrap(),
            );
        }
        let res = app
            .client
            .post(app.url(&api("/config-versions")))
            .bearer_auth(&admin)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201);
        res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let v = signed_in_as(&app, "atp.viewer", &password).await;
    v.goto(&format!("/ui/approvals/{WS}/config?version={draft}"))
        .await;
    assert_eq!(v.text("#version-status").await, "DRAFT");
    assert!(!v.exists("#activate").await);

    // sites: the list, then a CSV import (one new site, one updated) through the browser's file field
    b.goto(&format!("/ui/approvals/{WS}/sites")).await;
    assert!(b.text("#sites").await.contains("JKT-0001"));
    let csv = std::env::temp_dir().join(format!("nh-ui-sites-{}.csv", std::process::id()));
    std::fs::write(&csv, "site_id,site_name,region,city,cluster_code\nUI-0001,UI Test Site,Jabodetabek,Jakarta,JKT-01\nJKT-0001,Menteng Tower Renamed,Jabodetabek,Jakarta,JKT-01\n").unwrap();
    b.find("#sites-file")
        .await
        .send_keys(csv.to_str().unwrap())
        .await
        .unwrap();
    answer_of(&b, click(&b, "#import")).await;
    b.wait_for("#import-report").await;
    assert_eq!(b.text("#import-rows").await, "2");
    assert_eq!(b.text("#import-inserted").await, "1");
    assert_eq!(b.text("#import-updated").await, "1");
    assert!(b.text("#sites").await.contains("UI-0001"));
    let name: String = app
        .scalar(
            "SELECT site_name FROM sites WHERE site_id = $1",
            "JKT-0001".to_string(),
        )
        .await;
    assert_eq!(name, "Menteng Tower Renamed");
    b.screenshot("sites").await;
    b.assert_accessible("sites").await;
    // a bad file: every bad row named, nothing imported
    std::fs::write(
        &csv,
        "site_id,site_name,ne_latitude\nUI-0002,Bad latitude,123\n",
    )
    .unwrap();
    b.find("#sites-file")
        .await
        .send_keys(csv.to_str().unwrap())
        .await
        .unwrap();
    answer_of(&b, click(&b, "#import")).await;
    let (class, text) = feedback(&b).await;
    assert!(
        class.contains("bad") && text.contains("ne_latitude"),
        "{text}"
    );
    assert_eq!(
        common::sql_i64(&app, "SELECT count(*) FROM sites WHERE site_id = 'UI-0002'").await,
        0
    );
    let _ = std::fs::remove_file(&csv);
}
