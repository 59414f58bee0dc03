//! ATP part 2 over HTTP (docs/atp-flow.md): submissions and documents, the QA pre-approval, routing frozen at
//! start, decisions (wrong approver, out of turn, twice, concurrently), reject → resubmit → resume, parallel
//! groups, absence routing, the timeline and the pending list with their statement counts, cross-workspace 404s.
//! Every test runs the shipped example configuration and its demo approvers (`atp.approver.*`).

use crate::atp_support::*;
use crate::helpers::{TestApp, TestResponse};
use neurohub_atp::demo::EXAMPLE_SITES;
use neurohub_atp::member::MemberRole;
use neurohub_atp::state::SourceType;
use neurohub_core::auth::Role;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

const PDF: &[u8] = b"%PDF-1.7\n% an ATP report\n";

pub(crate) struct Flow {
    pub(crate) app: TestApp,
    pub(crate) ws: Ws,
}

/// A token for a user named by username (the example approvers are not in `Ws::members`).
pub(crate) async fn token_of(app: &TestApp, username: &str) -> (i64, String) {
    let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let (t, _) = app
        .state
        .tokens
        .issue_access(id, username, Role::Viewer)
        .unwrap();
    (id, t)
}

pub(crate) async fn setup(pool: PgPool, code: &str) -> Flow {
    let app = TestApp::spawn(pool).await;
    let ws = workspace(&app, code, true).await;
    example_config(&app, &ws).await;
    let sites = EXAMPLE_SITES.to_vec();
    upload(
        &app,
        ws.admin(),
        &ws.path("/sites/import"),
        None,
        &[("sites".to_string(), sites)],
    )
    .await
    .assert_status(200);
    Flow { app, ws }
}

impl Flow {
    pub(crate) async fn call(
        &self,
        m: Method,
        token: &str,
        rest: &str,
        body: Option<&Value>,
    ) -> TestResponse {
        call(&self.app, m, token, &self.ws.path(rest), body).await
    }

    pub(crate) async fn doc(
        &self,
        token: &str,
        sub: &str,
        name: &str,
        bytes: Vec<u8>,
        kind: Option<&str>,
    ) -> TestResponse {
        let mut form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()));
        if let Some(k) = kind {
            form = form.text("document_type", k.to_string());
        }
        let res = self
            .app
            .client
            .post(
                self.app
                    .url(&self.ws.path(&format!("/submissions/{sub}/documents"))),
            )
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("request");
        into(res).await
    }

    pub(crate) fn submitter(&self) -> &str {
        self.ws.token(MemberRole::DocControl)
    }

    pub(crate) fn qa(&self) -> &str {
        self.ws.token(MemberRole::Qa)
    }

    /// Create, document and submit a revision; returns its id.
    pub(crate) async fn submitted(&self, site: &str, scope: &str, category: &str) -> String {
        let res = self
            .call(
                Method::POST,
                self.submitter(),
                "/submissions",
                Some(&json!({"site_id": site, "scope_code": scope, "vendor_code": "AVIAT", "atp_category": category})),
            )
            .await;
        res.assert_status(201);
        let id = res.body["id"].as_str().unwrap().to_string();
        self.doc(self.submitter(), &id, "atp.pdf", PDF.to_vec(), None)
            .await
            .assert_status(201);
        self.call(
            Method::POST,
            self.submitter(),
            &format!("/submissions/{id}/submit"),
            None,
        )
        .await
        .assert_status(200);
        id
    }

    pub(crate) async fn qa_approve(&self, sub: &str) -> TestResponse {
        self.call(
            Method::POST,
            self.qa(),
            &format!("/submissions/{sub}/qa-review"),
            Some(&json!({"decision": "APPROVE"})),
        )
        .await
    }

    pub(crate) async fn decide(
        &self,
        token: &str,
        stage: &str,
        decision: &str,
        comment: Option<&str>,
    ) -> TestResponse {
        self.call(
            Method::POST,
            token,
            &format!("/stages/{stage}/decide"),
            Some(&json!({"decision": decision, "comment": comment})),
        )
        .await
    }

    pub(crate) async fn pending(&self, token: &str, query: &str) -> TestResponse {
        self.call(
            Method::GET,
            token,
            &format!("/approvals/pending{query}"),
            None,
        )
        .await
    }

    /// (stage_number, status, assigned_approver_id, stage id) of a submission's instance, by stage number.
    pub(crate) async fn stages(&self, sub: &str) -> Vec<(i32, String, Option<i64>, String)> {
        sqlx::query_as(
            "SELECT s.stage_number, s.status, s.assigned_approver_id, s.id::text FROM workflow_stages s \
               JOIN atp_submissions a ON a.workflow_instance_id = s.workflow_instance_id \
              WHERE a.id = $1::uuid ORDER BY s.stage_number",
        )
        .bind(sub)
        .fetch_all(&self.app.pool)
        .await
        .unwrap()
    }

    pub(crate) async fn status(&self, sub: &str) -> String {
        self.app
            .scalar(
                "SELECT status FROM atp_submissions WHERE id = $1::uuid",
                sub.to_string(),
            )
            .await
    }
}

/// The five shipped chains, end to end: QA approves (its QA_PRE stage recorded), each later stage appears in the
/// approver's pending list with its due time, is approved, and the last approval completes the submission.
#[sqlx::test(migrations = false)]
async fn each_category_runs_its_shipped_chain_to_completion(pool: PgPool) {
    let f = setup(pool, "XL-FLOW").await;
    let (west1, w1) = token_of(&f.app, "atp.approver.west1").await;
    let qa_id =
        f.ws.members
            .iter()
            .find(|(r, _, _)| *r == MemberRole::Qa)
            .unwrap()
            .1
            .id;
    for (category, scope, roles) in [
        (
            "RAN_MW",
            "MW",
            vec!["QA_PRE", "FOP_RTS", "REGION_TEAM", "RTH"],
        ),
        ("PLN_UPGRADE", "PLN", vec!["QA_PRE", "ROH", "RTH"]),
        (
            "DISMANTLE_DROP",
            "MW",
            vec!["QA_PRE", "FOP_RTS", "REGION_TEAM", "PMO"],
        ),
        ("DISMANTLE_KEEP", "RAN", vec!["QA_PRE", "ROH", "RTH"]),
        (
            "SOFTWARE_LICENSE",
            "RAN",
            vec!["QA_PRE", "BO", "SME", "HEAD_NOC"],
        ),
    ] {
        let sub = f.submitted("JKT-0001", scope, category).await;
        assert_eq!(f.status(&sub).await, "QA_REVIEW");
        let res = f.qa_approve(&sub).await;
        res.assert_status(200);
        assert_eq!(res.body["status"], "IN_APPROVAL", "{category}");
        assert_eq!(
            res.queries(),
            8,
            "QA start: context, resolve, lock, routing, insert, update, activate, COMMIT"
        );
        // routed: the policy's roles in order, QA_PRE decided by the QA reviewer, the rest by the cluster's primary
        let snap: Value = f
            .app
            .scalar(
                "SELECT i.routing_snapshot FROM workflow_instances i JOIN atp_submissions s \
                   ON s.workflow_instance_id = i.id WHERE s.id = $1::uuid",
                sub.clone(),
            )
            .await;
        let routed: Vec<&str> = snap["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["role_code"].as_str().unwrap())
            .collect();
        assert_eq!(routed, roles, "{category}");
        assert_eq!(snap["policy_code"], format!("{category}_STD"));
        assert_eq!(snap["cluster_code"], "JKT-01");
        let stages = f.stages(&sub).await;
        assert_eq!(stages[0].1, "APPROVED");
        assert_eq!(stages[0].2, Some(qa_id));
        for s in &stages[1..] {
            assert_eq!(s.2, Some(west1), "{category} stage {}", s.0);
        }
        for n in 1..stages.len() {
            let page = f.pending(&w1, &format!("?category={category}")).await;
            page.assert_status(200);
            assert_eq!(
                page.queries(),
                3,
                "pending: context, resolve, one statement"
            );
            let items = page.body["items"].as_array().unwrap();
            assert_eq!(items.len(), 1, "{category}: {}", page.text);
            assert_eq!(items[0]["stage_number"], (n + 1) as i64);
            assert_eq!(items[0]["submission_id"], sub.as_str());
            let left = items[0]["seconds_left"].as_i64().unwrap();
            let sla = if stages[n].0 as usize == stages.len() && category != "DISMANTLE_DROP" {
                24
            } else {
                48
            };
            assert!(
                left <= sla * 3600 && left > sla * 3600 - 120,
                "{category} {left}"
            );
            assert_eq!(items[0]["overdue"], false);
            let stage = items[0]["stage_id"].as_str().unwrap();
            let d = f.decide(&w1, stage, "APPROVE", None).await;
            d.assert_status(200);
            if n + 1 < stages.len() {
                assert_eq!(
                    d.queries(),
                    6,
                    "decide mid-chain: context, resolve, lock, decide, activate, COMMIT"
                );
                assert_eq!(d.body["instance_status"], "IN_PROGRESS");
                assert_eq!(d.body["activated"].as_array().unwrap().len(), 1);
            } else {
                assert_eq!(d.queries(), 7, "final decide: context, resolve, lock, decide, activate (none), complete, COMMIT");
                assert_eq!(d.body["instance_status"], "COMPLETED");
            }
        }
        assert_eq!(f.status(&sub).await, "COMPLETED", "{category}");
        assert!(f.pending(&w1, "").await.body["items"]
            .as_array()
            .unwrap()
            .is_empty());
        // the timeline: one statement, every stage's activation and decision in order
        let t = f
            .call(
                Method::GET,
                f.ws.token(MemberRole::Viewer),
                &format!("/submissions/{sub}/timeline"),
                None,
            )
            .await;
        t.assert_status(200);
        assert_eq!(t.queries(), 3, "timeline: context, resolve, one statement");
        let actions: Vec<String> = t
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{}:{}",
                    e["stage_number"]
                        .as_i64()
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                    e["action"].as_str().unwrap()
                )
            })
            .collect();
        let mut expected = vec![
            ":CREATED".to_string(),
            ":SUBMITTED".into(),
            ":QA_APPROVE".into(),
            "1:APPROVE".into(),
            "2:ACTIVATE".into(),
        ];
        for n in 2..=stages.len() {
            expected.push(format!("{n}:APPROVE"));
            if n < stages.len() {
                expected.push(format!("{}:ACTIVATE", n + 1));
            }
        }
        assert_eq!(actions, expected, "{category}");
    }
    // every action is in the append-only history and the audit log says who
    let audited: i64 = f
        .app
        .scalar(
            "SELECT count(*) FROM audit_logs WHERE table_name = 'workflow_stages' AND user_id = $1",
            west1,
        )
        .await;
    assert!(audited >= 12, "{audited}");
}

#[sqlx::test(migrations = false)]
async fn submissions_documents_and_submit_rules(pool: PgPool) {
    let f = setup(pool, "XL-DOCS").await;
    let body = json!({"site_id": "JKT-0002", "scope_code": "RAN", "atp_category": "RAN_MW"});
    // only DOC_CONTROL / VENDOR create
    for r in [
        MemberRole::Viewer,
        MemberRole::Qa,
        MemberRole::Approver,
        MemberRole::WorkspaceAdmin,
    ] {
        f.call(Method::POST, f.ws.token(r), "/submissions", Some(&body))
            .await
            .assert_problem(403, "FORBIDDEN");
    }
    let res = f
        .call(
            Method::POST,
            f.ws.token(MemberRole::Vendor),
            "/submissions",
            Some(&body),
        )
        .await;
    res.assert_status(201);
    let sub = res.body["id"].as_str().unwrap().to_string();
    assert_eq!(res.body["revision_number"], 1);
    assert!(res.body["submission_code"]
        .as_str()
        .unwrap()
        .starts_with("ATP-"));
    // one per site + scope + category while open
    f.call(Method::POST, f.submitter(), "/submissions", Some(&body))
        .await
        .assert_problem(409, "SUBMISSION_EXISTS");
    // unknown references
    f.call(
        Method::POST,
        f.submitter(),
        "/submissions",
        Some(&json!({"site_id": "NOPE", "scope_code": "RAN", "atp_category": "RAN_MW"})),
    )
    .await
    .assert_fields(422, "VALIDATION_FAILED", &["site_id"]);
    f.call(
        Method::POST,
        f.submitter(),
        "/submissions",
        Some(&json!({"site_id": "JKT-0002", "scope_code": "XX", "atp_category": "RAN_MW"})),
    )
    .await
    .assert_fields(422, "VALIDATION_FAILED", &["scope_code"]);
    f.call(Method::POST, f.submitter(), "/submissions", Some(&json!({"site_id": "JKT-0002", "scope_code": "RAN", "vendor_code": "ACME", "atp_category": "RAN_MW"})))
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["vendor_code"]);
    // submit needs the ATP report
    f.call(
        Method::POST,
        f.submitter(),
        &format!("/submissions/{sub}/submit"),
        None,
    )
    .await
    .assert_problem(422, "DOCUMENT_REQUIRED");
    // documents: type sniffed and matched to the extension
    f.doc(
        f.submitter(),
        &sub,
        "report.pdf",
        b"PK\x03\x04not a pdf".to_vec(),
        None,
    )
    .await
    .assert_problem(422, "UNSUPPORTED_DOCUMENT");
    f.doc(f.submitter(), &sub, "tool.exe", b"MZ".to_vec(), None)
        .await
        .assert_problem(422, "UNSUPPORTED_DOCUMENT");
    f.doc(
        f.submitter(),
        &sub,
        "photo.png",
        b"\x89PNG\r\n\x1a\nxxxx".to_vec(),
        Some("ATP_REPORT_X"),
    )
    .await
    .assert_fields(422, "VALIDATION_FAILED", &["document_type"]);
    f.doc(
        f.ws.token(MemberRole::Viewer),
        &sub,
        "atp.pdf",
        PDF.to_vec(),
        None,
    )
    .await
    .assert_problem(403, "FORBIDDEN");
    let photo = f
        .doc(
            f.submitter(),
            &sub,
            "photo.png",
            b"\x89PNG\r\n\x1a\nxxxx".to_vec(),
            Some("PHOTO"),
        )
        .await;
    photo.assert_status(201);
    assert_eq!(photo.body["media_type"], "image/png");
    // a photo is not the report
    f.call(
        Method::POST,
        f.submitter(),
        &format!("/submissions/{sub}/submit"),
        None,
    )
    .await
    .assert_problem(422, "DOCUMENT_REQUIRED");
    // larger than the server's 1 MiB body limit is fine (the route raises it), beyond 10 MiB is 413
    let mut big = PDF.to_vec();
    big.resize(2 * 1024 * 1024, b'x');
    let d = f
        .doc(f.submitter(), &sub, "atp.PDF", big.clone(), None)
        .await;
    d.assert_status(201);
    assert_eq!(d.body["size_bytes"], big.len() as i64);
    use sha2::Digest;
    assert_eq!(d.body["sha256"], hex::encode(sha2::Sha256::digest(&big)));
    let mut huge = PDF.to_vec();
    huge.resize(10 * 1024 * 1024 + 1, b'x');
    assert_eq!(
        f.doc(f.submitter(), &sub, "atp.pdf", huge, None)
            .await
            .status,
        413
    );
    // download: bytes, type and hash as stored, for any member
    let doc_id = d.body["id"].as_str().unwrap();
    let res = f
        .app
        .client
        .get(
            f.app
                .url(&f.ws.path(&format!("/submissions/{sub}/documents/{doc_id}"))),
        )
        .bearer_auth(f.ws.token(MemberRole::Viewer))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.bytes().await.unwrap().to_vec(), big);
    // no token: 401
    let res = f
        .app
        .client
        .get(
            f.app
                .url(&f.ws.path(&format!("/submissions/{sub}/documents/{doc_id}"))),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // submit, then the draft is closed for documents and for a second submit
    let s = f
        .call(
            Method::POST,
            f.submitter(),
            &format!("/submissions/{sub}/submit"),
            None,
        )
        .await;
    s.assert_status(200);
    assert_eq!(s.body["status"], "QA_REVIEW");
    f.doc(f.submitter(), &sub, "atp.pdf", PDF.to_vec(), None)
        .await
        .assert_problem(409, "NOT_DRAFT");
    f.call(
        Method::POST,
        f.submitter(),
        &format!("/submissions/{sub}/submit"),
        None,
    )
    .await
    .assert_problem(409, "INVALID_STATUS_TRANSITION");
    // QA: only QA members; REJECT needs a comment and returns it; a new revision follows
    let qa = format!("/submissions/{sub}/qa-review");
    f.call(
        Method::POST,
        f.submitter(),
        &qa,
        Some(&json!({"decision": "APPROVE"})),
    )
    .await
    .assert_problem(403, "FORBIDDEN");
    f.call(
        Method::POST,
        f.qa(),
        &qa,
        Some(&json!({"decision": "REJECT"})),
    )
    .await
    .assert_fields(422, "VALIDATION_FAILED", &["comment"]);
    let r = f
        .call(
            Method::POST,
            f.qa(),
            &qa,
            Some(&json!({"decision": "REJECT", "comment": "photos missing"})),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["status"], "QA_REJECTED");
    assert_eq!(r.body["qa_comment"], "photos missing");
    f.call(
        Method::POST,
        f.qa(),
        &qa,
        Some(&json!({"decision": "APPROVE"})),
    )
    .await
    .assert_problem(409, "INVALID_STATUS_TRANSITION");
    f.call(
        Method::POST,
        f.qa(),
        &qa,
        Some(&json!({"decision": "REJECT", "comment": "again"})),
    )
    .await
    .assert_problem(409, "INVALID_STATUS_TRANSITION");
    let rev2 = f
        .call(Method::POST, f.submitter(), "/submissions", Some(&body))
        .await;
    rev2.assert_status(201);
    assert_eq!(rev2.body["revision_number"], 2);
    assert_eq!(rev2.body["previous_submission_id"], sub.as_str());
    assert_eq!(rev2.body["submission_code"], res_code(&f, &sub).await);
}

async fn res_code(f: &Flow, sub: &str) -> String {
    f.app
        .scalar(
            "SELECT submission_code FROM atp_submissions WHERE id = $1::uuid",
            sub.to_string(),
        )
        .await
}

#[sqlx::test(migrations = false)]
async fn wrong_approver_out_of_turn_twice_and_concurrently(pool: PgPool) {
    let f = setup(pool, "XL-TURN").await;
    let (_, w1) = token_of(&f.app, "atp.approver.west1").await;
    let (_, e1) = token_of(&f.app, "atp.approver.east1").await;
    let sub = f.submitted("JKT-0001", "MW", "RAN_MW").await;
    f.qa_approve(&sub).await.assert_status(200);
    let st = f.stages(&sub).await;
    // another approver, a workspace admin: 403 NOT_ASSIGNED, nothing changes
    f.decide(&e1, &st[1].3, "APPROVE", None)
        .await
        .assert_problem(403, "NOT_ASSIGNED");
    f.decide(f.ws.admin(), &st[1].3, "APPROVE", None)
        .await
        .assert_problem(403, "NOT_ASSIGNED");
    // out of turn
    f.decide(&w1, &st[2].3, "APPROVE", None)
        .await
        .assert_problem(409, "OUT_OF_TURN");
    // the QA stage is decided already
    let qa_token = f.qa().to_string();
    f.decide(&qa_token, &st[0].3, "APPROVE", None)
        .await
        .assert_problem(409, "ALREADY_DECIDED");
    // REJECT needs a comment; unknown stage 404
    f.decide(&w1, &st[1].3, "REJECT", None).await.assert_fields(
        422,
        "VALIDATION_FAILED",
        &["comment"],
    );
    f.decide(&w1, "00000000-0000-4000-8000-000000000000", "APPROVE", None)
        .await
        .assert_problem(404, "NOT_FOUND");
    // two decisions of one stage at once: exactly one wins
    let (a, b) = tokio::join!(
        f.decide(&w1, &st[1].3, "APPROVE", None),
        f.decide(&w1, &st[1].3, "REJECT", Some("concurrent"))
    );
    let mut codes = vec![a.status, b.status];
    codes.sort();
    assert_eq!(codes, vec![200, 409], "{} / {}", a.text, b.text);
    let loser = if a.status == 409 { &a } else { &b };
    assert_eq!(loser.body["code"], "ALREADY_DECIDED");
    let decisions: i64 = f.app.scalar(
        "SELECT count(*) FROM workflow_stage_actions WHERE workflow_stage_id = $1::uuid AND action IN ('APPROVE', 'REJECT')",
        st[1].3.clone(),
    ).await;
    assert_eq!(decisions, 1);
    // and again, afterwards
    f.decide(&w1, &st[1].3, "APPROVE", None)
        .await
        .assert_problem(409, "ALREADY_DECIDED");
    // the history cannot be rewritten
    let err = sqlx::query("UPDATE workflow_stage_actions SET comment = 'x'")
        .execute(&f.app.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}

/// REJECT at stage 3 → the rest cancelled, submission REJECTED → a new revision, QA again → the chain resumes at
/// stage 3 with stage 2's approval kept; the timeline shows both revisions.
#[sqlx::test(migrations = false)]
async fn reject_resubmit_qa_and_resume_at_the_rejecting_stage(pool: PgPool) {
    let f = setup(pool, "XL-RESUME").await;
    let (_, w1) = token_of(&f.app, "atp.approver.west1").await;
    let sub = f.submitted("JKT-0001", "MW", "RAN_MW").await;
    f.qa_approve(&sub).await.assert_status(200);
    let st = f.stages(&sub).await;
    f.decide(&w1, &st[1].3, "APPROVE", None)
        .await
        .assert_status(200);
    let r = f
        .decide(&w1, &st[2].3, "REJECT", Some("azimuth photos missing"))
        .await;
    r.assert_status(200);
    assert_eq!(r.body["instance_status"], "REJECTED");
    assert_eq!(f.status(&sub).await, "REJECTED");
    let st = f.stages(&sub).await;
    let statuses: Vec<&str> = st.iter().map(|s| s.1.as_str()).collect();
    assert_eq!(statuses, ["APPROVED", "APPROVED", "REJECTED", "CANCELLED"]);
    assert!(f.pending(&w1, "").await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());
    // a new revision of the same submission, documented, submitted, QA-approved
    let rev2 = f.submitted("JKT-0001", "MW", "RAN_MW").await;
    let rev2_row = f
        .call(
            Method::GET,
            f.submitter(),
            &format!("/submissions/{rev2}"),
            None,
        )
        .await;
    assert_eq!(rev2_row.body["revision_number"], 2);
    let q = f.qa_approve(&rev2).await;
    q.assert_status(200);
    let st2 = f.stages(&rev2).await;
    assert_eq!(
        st2.iter().map(|s| s.3.clone()).collect::<Vec<_>>(),
        st.iter().map(|s| s.3.clone()).collect::<Vec<_>>(),
        "the same instance"
    );
    let statuses: Vec<&str> = st2.iter().map(|s| s.1.as_str()).collect();
    assert_eq!(statuses, ["APPROVED", "APPROVED", "ACTIVE", "PENDING"]);
    f.decide(&w1, &st2[2].3, "APPROVE", None)
        .await
        .assert_status(200);
    f.decide(&w1, &st2[3].3, "APPROVE", None)
        .await
        .assert_status(200);
    assert_eq!(f.status(&rev2).await, "COMPLETED");
    assert_eq!(
        f.status(&sub).await,
        "REJECTED",
        "revision 1 keeps its outcome"
    );
    let t = f
        .call(
            Method::GET,
            &w1,
            &format!("/submissions/{sub}/timeline"),
            None,
        )
        .await;
    t.assert_status(200);
    let ev: Vec<String> = t
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "r{}:{}:{}",
                e["revision_number"],
                e["stage_number"]
                    .as_i64()
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                e["action"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        ev,
        [
            "r1::CREATED",
            "r1::SUBMITTED",
            "r1::QA_APPROVE",
            "r1:1:APPROVE",
            "r1:2:ACTIVATE",
            "r1:2:APPROVE",
            "r1:3:ACTIVATE",
            "r1:3:REJECT",
            "r1:4:CANCEL",
            "r2::CREATED",
            "r2::SUBMITTED",
            "r2::QA_APPROVE",
            "r2:3:ACTIVATE",
            "r2:3:APPROVE",
            "r2:4:ACTIVATE",
            "r2:4:APPROVE",
        ]
    );
    let rejected = t
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "REJECT")
        .unwrap();
    assert_eq!(rejected["comment"], "azimuth photos missing");
}

/// A running instance keeps its configuration: a newer APPROVAL_MATRIX (RAN_MW without RTH, SLA 12 h) activated
/// mid-flight changes nothing for it; a submission started afterwards follows the new one.
#[sqlx::test(migrations = false)]
async fn routing_is_frozen_at_start(pool: PgPool) {
    let f = setup(pool, "XL-FREEZE").await;
    let (_, w1) = token_of(&f.app, "atp.approver.west1").await;
    let old = f.submitted("JKT-0001", "MW", "RAN_MW").await;
    f.qa_approve(&old).await.assert_status(200);
    let mut files = example_files(SourceType::ApprovalMatrix);
    let stages = files.iter_mut().find(|(n, _)| n == "stages").unwrap();
    let text = String::from_utf8(stages.1.clone()).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("RAN_MW_STD,4,"))
        .map(|l| {
            format!(
                "{}\n",
                l.replace(
                    "RAN_MW_STD,2,Field operations RTS,FOP_RTS,48",
                    "RAN_MW_STD,2,Field operations RTS,FOP_RTS,12"
                )
            )
        })
        .collect();
    stages.1 = text.into_bytes();
    let v2 = upload(
        &f.app,
        f.ws.admin(),
        &f.ws.path("/config-versions"),
        Some("APPROVAL_MATRIX"),
        &files,
    )
    .await;
    v2.assert_status(201);
    let v2_id = v2.body["id"].as_str().unwrap().to_string();
    f.call(
        Method::POST,
        f.ws.admin(),
        &format!("/config-versions/{v2_id}/activate"),
        None,
    )
    .await
    .assert_status(200);
    // the old instance: still 4 stages, 48 h, on its version
    let (version, snap_version): (String, String) = sqlx::query_as(
        "SELECT i.config_version_id::text, i.routing_snapshot ->> 'approval_matrix_version_id' FROM workflow_instances i \
           JOIN atp_submissions s ON s.workflow_instance_id = i.id WHERE s.id = $1::uuid",
    ).bind(&old).fetch_one(&f.app.pool).await.unwrap();
    assert_ne!(version, v2_id);
    assert_eq!(version, snap_version);
    let page = f.pending(&w1, "").await;
    let left = page.body["items"][0]["seconds_left"].as_i64().unwrap();
    assert!(left > 47 * 3600, "{left}");
    for st in f.stages(&old).await.iter().skip(1) {
        let d = f.decide(&w1, &st.3, "APPROVE", None).await;
        d.assert_status(200);
    }
    assert_eq!(f.stages(&old).await.len(), 4);
    assert_eq!(f.status(&old).await, "COMPLETED");
    // a new one: 3 stages, 12 h
    let new = f.submitted("BKS-0001", "MW", "RAN_MW").await;
    f.qa_approve(&new).await.assert_status(200);
    assert_eq!(f.stages(&new).await.len(), 3);
    let left = f.pending(&w1, "").await.body["items"][0]["seconds_left"]
        .as_i64()
        .unwrap();
    assert!(left <= 12 * 3600 && left > 11 * 3600, "{left}");
    // the database backstop: the instance's version cannot move
    let err = sqlx::query("UPDATE workflow_instances SET config_version_id = $1::uuid")
        .bind(&v2_id)
        .execute(&f.app.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("frozen"), "{err}");
}

/// Stages sharing a parallel group are active together; the chain moves on only when all of them approved.
#[sqlx::test(migrations = false)]
async fn a_parallel_group_runs_together(pool: PgPool) {
    let f = setup(pool, "XL-PAR").await;
    let (_, e1) = token_of(&f.app, "atp.approver.east1").await;
    let mut files = example_files(SourceType::ApprovalMatrix);
    let stages = files.iter_mut().find(|(n, _)| n == "stages").unwrap();
    let text = String::from_utf8(stages.1.clone()).unwrap();
    let mut out = String::new();
    for (i, l) in text.lines().enumerate() {
        let extra = if i == 0 {
            ",parallel_group,sequence_order".to_string()
        } else if l.starts_with("RAN_MW_STD,2,") || l.starts_with("RAN_MW_STD,3,") {
            ",1,2".to_string()
        } else if l.starts_with("RAN_MW_STD,4,") {
            ",,3".to_string()
        } else {
            ",,".to_string()
        };
        out.push_str(&format!("{l}{extra}\n"));
    }
    stages.1 = out.into_bytes();
    let v = upload(
        &f.app,
        f.ws.admin(),
        &f.ws.path("/config-versions"),
        Some("APPROVAL_MATRIX"),
        &files,
    )
    .await;
    v.assert_status(201);
    assert_eq!(v.body["validation_status"], "VALID", "{}", v.text);
    let id = v.body["id"].as_str().unwrap();
    f.call(
        Method::POST,
        f.ws.admin(),
        &format!("/config-versions/{id}/activate"),
        None,
    )
    .await
    .assert_status(200);
    let sub = f.submitted("SBY-0001", "MW", "RAN_MW").await;
    f.qa_approve(&sub).await.assert_status(200);
    let st = f.stages(&sub).await;
    let statuses: Vec<&str> = st.iter().map(|s| s.1.as_str()).collect();
    assert_eq!(statuses, ["APPROVED", "ACTIVE", "ACTIVE", "PENDING"]);
    assert_eq!(
        f.pending(&e1, "?region=East%20Java").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(f.pending(&e1, "?region=Jabodetabek").await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(f.pending(&e1, "?overdue=true").await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());
    // pages of one
    let p1 = f.pending(&e1, "?limit=1").await;
    let cursor = p1.body["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let p2 = f.pending(&e1, &format!("?limit=1&cursor={cursor}")).await;
    assert_ne!(
        p1.body["items"][0]["stage_id"],
        p2.body["items"][0]["stage_id"]
    );
    let d = f.decide(&e1, &st[2].3, "APPROVE", None).await;
    d.assert_status(200);
    assert!(
        d.body["activated"].as_array().unwrap().is_empty(),
        "stage 2 still undecided"
    );
    assert_eq!(f.stages(&sub).await[3].1, "PENDING");
    let d = f.decide(&e1, &st[1].3, "APPROVE", None).await;
    d.assert_status(200);
    assert_eq!(d.body["activated"][0], st[3].3.as_str());
}

/// Approver resolution: an absent primary routes to the backup; a site whose cluster has no mapping stops the
/// submission with an error naming the stage, role and cluster (and nothing is created).
#[sqlx::test(migrations = false)]
async fn absence_routes_to_the_backup_and_no_approver_is_a_clear_error(pool: PgPool) {
    let f = setup(pool, "XL-ROUTE").await;
    let (w1_id, _) = token_of(&f.app, "atp.approver.west1").await;
    let (w2_id, w2) = token_of(&f.app, "atp.approver.west2").await;
    let ws_id = f.ws.id.clone();
    sqlx::query(
        "INSERT INTO approver_absences (workspace_id, user_id, starts_at, ends_at, reason) \
         VALUES ($1::uuid, $2, now() - interval '1 hour', now() + interval '1 day', 'leave')",
    )
    .bind(&ws_id)
    .bind(w1_id)
    .execute(&f.app.pool)
    .await
    .unwrap();
    let sub = f.submitted("JKT-0001", "MW", "RAN_MW").await;
    f.qa_approve(&sub).await.assert_status(200);
    for s in f.stages(&sub).await.iter().skip(1) {
        assert_eq!(s.2, Some(w2_id));
    }
    let snap: Value = f.app.scalar(
        "SELECT i.routing_snapshot FROM workflow_instances i JOIN atp_submissions s ON s.workflow_instance_id = i.id WHERE s.id = $1::uuid",
        sub.clone(),
    ).await;
    assert_eq!(snap["stages"][1]["resolved_by"], "CLUSTER_BACKUP");
    assert_eq!(
        f.pending(&w2, "").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // a site without a cluster
    f.call(
        Method::POST,
        f.ws.admin(),
        "/sites",
        Some(&json!({"site_id": "NOCL-1", "site_name": "no cluster"})),
    )
    .await
    .assert_status(201);
    let sub = f.submitted("NOCL-1", "MW", "RAN_MW").await;
    let res = f.qa_approve(&sub).await;
    res.assert_problem(422, "NO_APPROVER");
    let detail = res.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("stage 2") && detail.contains("FOP_RTS") && detail.contains("cluster"),
        "{detail}"
    );
    assert_eq!(f.status(&sub).await, "QA_REVIEW", "nothing changed");
    assert_eq!(f.app.scalar::<i64, _>("SELECT count(*) FROM workflow_instances WHERE site_id = (SELECT id FROM sites WHERE site_id = $1)", "NOCL-1".to_string()).await, 0);
}

/// Another workspace's submissions, documents and stages are 404 everywhere, also to its approvers' tokens.
#[sqlx::test(migrations = false)]
async fn another_workspaces_flow_objects_are_404(pool: PgPool) {
    let f = setup(pool, "XL-ISO-B").await;
    let a = workspace(&f.app, "XL-ISO-A", false).await;
    let sub = f.submitted("JKT-0001", "MW", "RAN_MW").await;
    let doc: String = f
        .app
        .scalar(
            "SELECT id::text FROM atp_submission_documents WHERE submission_id = $1::uuid",
            sub.clone(),
        )
        .await;
    f.qa_approve(&sub).await.assert_status(200);
    let stage = f.stages(&sub).await[1].3.clone();
    for r in MemberRole::ALL {
        let t = a.token(*r);
        for (m, path, body) in [
            (Method::GET, format!("/submissions/{sub}"), None),
            (Method::GET, format!("/submissions/{sub}/timeline"), None),
            (
                Method::GET,
                format!("/submissions/{sub}/documents/{doc}"),
                None,
            ),
            (Method::POST, format!("/submissions/{sub}/submit"), None),
            (
                Method::POST,
                format!("/submissions/{sub}/qa-review"),
                Some(json!({"decision": "APPROVE"})),
            ),
            (
                Method::POST,
                format!("/stages/{stage}/decide"),
                Some(json!({"decision": "APPROVE"})),
            ),
        ] {
            let res = call(&f.app, m.clone(), t, &a.path(&path), body.as_ref()).await;
            assert!(
                res.status == 404 || res.status == 403,
                "{r} {m} {path} -> {} {}",
                res.status,
                res.text
            );
            if res.status == 403 {
                // a role refused before the lookup: it says nothing about the object
                assert_eq!(res.body["code"], "FORBIDDEN");
            }
            // and B's workspace itself: 404
            let res = call(&f.app, m.clone(), t, &f.ws.path(&path), body.as_ref()).await;
            assert_eq!(res.status, 404, "{r} {m} {path} in B -> {}", res.text);
        }
    }
    assert_eq!(f.stages(&sub).await[1].1, "ACTIVE");
}

/// APPROVE_WITH_PUNCHLIST: the chain moves on, the final approval leaves APPROVED_WITH_PUNCHLIST, each item goes
/// rectified (evidence) → verified by its raiser (a refusal sends it back) → closed, and the last close completes.
#[sqlx::test(migrations = false)]
async fn punchlist_items_block_completion_until_all_are_closed(pool: PgPool) {
    let f = setup(pool, "XL-PUNCH").await;
    let (_, w1) = token_of(&f.app, "atp.approver.west1").await;
    let (_, w2) = token_of(&f.app, "atp.approver.west2").await;
    let sub = f.submitted("JKT-0001", "MW", "RAN_MW").await;
    f.qa_approve(&sub).await.assert_status(200);
    let st = f.stages(&sub).await;
    // items are required for, and only for, APPROVE_WITH_PUNCHLIST
    f.decide(&w1, &st[1].3, "APPROVE_WITH_PUNCHLIST", None)
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["items"]);
    f.call(Method::POST, &w1, &format!("/stages/{}/decide", st[1].3), Some(&json!({"decision": "APPROVE", "items": [{"code": "P1", "description": "x", "severity": "MINOR"}]})))
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["items"]);
    f.call(Method::POST, &w1, &format!("/stages/{}/decide", st[1].3), Some(&json!({"decision": "APPROVE_WITH_PUNCHLIST", "items": [
        {"code": "P1", "description": "x", "severity": "MINOR"}, {"code": "P1", "description": "y", "severity": "MINOR"}]})))
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["items[1].code"]);
    let d = f
        .call(
            Method::POST,
            &w1,
            &format!("/stages/{}/decide", st[1].3),
            Some(&json!({"decision": "APPROVE_WITH_PUNCHLIST", "items": [
        {"code": "P1", "description": "grounding cable loose", "severity": "MAJOR"},
        {"code": "P2", "description": "label missing", "severity": "MINOR"}]})),
        )
        .await;
    d.assert_status(200);
    assert_eq!(
        d.body["activated"].as_array().unwrap().len(),
        1,
        "the chain moves on"
    );
    f.decide(&w1, &st[2].3, "APPROVE", None)
        .await
        .assert_status(200);
    let last = f.decide(&w1, &st[3].3, "APPROVE", None).await;
    last.assert_status(200);
    assert_eq!(last.body["instance_status"], "APPROVED_WITH_PUNCHLIST");
    assert_eq!(f.status(&sub).await, "APPROVED_WITH_PUNCHLIST");
    let items = f
        .call(
            Method::GET,
            f.ws.token(MemberRole::Viewer),
            &format!("/submissions/{sub}/punchlist-items"),
            None,
        )
        .await;
    items.assert_status(200);
    assert_eq!(items.queries(), 3);
    let ids: Vec<String> = items
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    // evidence: an EVIDENCE document may be added now (nothing else)
    f.doc(f.submitter(), &sub, "fix.pdf", PDF.to_vec(), None)
        .await
        .assert_problem(409, "NOT_DRAFT");
    let ev = f
        .doc(
            f.submitter(),
            &sub,
            "fix.jpg",
            vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2],
            Some("EVIDENCE"),
        )
        .await;
    ev.assert_status(201);
    let ev = ev.body["id"].as_str().unwrap().to_string();
    let item = |i: usize, what: &str| format!("/punchlist-items/{}/{what}", ids[i]);
    // close / verify before rectification: 409; rectify with a foreign document: 422
    f.call(Method::POST, &w1, &item(0, "close"), None)
        .await
        .assert_problem(409, "INVALID_STATUS_TRANSITION");
    f.call(
        Method::POST,
        &w1,
        &item(0, "verify"),
        Some(&json!({"accept": true})),
    )
    .await
    .assert_problem(409, "INVALID_STATUS_TRANSITION");
    f.call(
        Method::POST,
        f.submitter(),
        &item(0, "rectify"),
        Some(&json!({"evidence_document_id": "00000000-0000-4000-8000-000000000000"})),
    )
    .await
    .assert_fields(422, "VALIDATION_FAILED", &["evidence_document_id"]);
    f.call(
        Method::POST,
        &w1,
        &item(0, "rectify"),
        Some(&json!({"evidence_document_id": ev})),
    )
    .await
    .assert_problem(403, "FORBIDDEN");
    for i in 0..2 {
        let r = f
            .call(
                Method::POST,
                f.submitter(),
                &item(i, "rectify"),
                Some(&json!({"evidence_document_id": ev})),
            )
            .await;
        r.assert_status(200);
        assert_eq!(r.body["status"], "RECTIFIED");
    }
    // only the raiser verifies; a refusal needs a reason and sends the item back
    f.call(
        Method::POST,
        &w2,
        &item(0, "verify"),
        Some(&json!({"accept": true})),
    )
    .await
    .assert_problem(403, "NOT_RAISER");
    f.call(
        Method::POST,
        &w1,
        &item(0, "verify"),
        Some(&json!({"accept": false})),
    )
    .await
    .assert_fields(422, "VALIDATION_FAILED", &["reason"]);
    let r = f
        .call(
            Method::POST,
            &w1,
            &item(0, "verify"),
            Some(&json!({"accept": false, "reason": "photo blurred"})),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["status"], "REJECTED");
    f.call(
        Method::POST,
        f.submitter(),
        &item(0, "rectify"),
        Some(&json!({"evidence_document_id": ev})),
    )
    .await
    .assert_status(200);
    for i in 0..2 {
        f.call(
            Method::POST,
            &w1,
            &item(i, "verify"),
            Some(&json!({"accept": true})),
        )
        .await
        .assert_status(200);
    }
    f.call(Method::POST, &w2, &item(0, "close"), None)
        .await
        .assert_problem(403, "NOT_RAISER");
    f.call(Method::POST, &w1, &item(0, "close"), None)
        .await
        .assert_status(200);
    assert_eq!(
        f.status(&sub).await,
        "APPROVED_WITH_PUNCHLIST",
        "one item still open"
    );
    let c = f.call(Method::POST, &w1, &item(1, "close"), None).await;
    c.assert_status(200);
    assert_eq!(c.body["status"], "CLOSED");
    assert_eq!(f.status(&sub).await, "COMPLETED");
    let (inst, pl): (String, String) = sqlx::query_as(
        "SELECT i.status, p.status FROM workflow_instances i JOIN punchlists p ON p.workflow_instance_id = i.id \
          JOIN atp_submissions s ON s.workflow_instance_id = i.id WHERE s.id = $1::uuid",
    ).bind(&sub).fetch_one(&f.app.pool).await.unwrap();
    assert_eq!((inst.as_str(), pl.as_str()), ("COMPLETED", "CLOSED"));
    // a closed punchlist's items are no longer workable
    f.call(Method::POST, &w1, &item(1, "close"), None)
        .await
        .assert_problem(404, "NOT_FOUND");
}

/// A CRITICAL item blocks approval: the decision becomes a REJECT (naming the item), the rest is cancelled.
#[sqlx::test(migrations = false)]
async fn a_critical_item_rejects(pool: PgPool) {
    let f = setup(pool, "XL-CRIT").await;
    let (_, w1) = token_of(&f.app, "atp.approver.west1").await;
    let sub = f.submitted("JKT-0001", "MW", "RAN_MW").await;
    f.qa_approve(&sub).await.assert_status(200);
    let st = f.stages(&sub).await;
    let d = f
        .call(
            Method::POST,
            &w1,
            &format!("/stages/{}/decide", st[1].3),
            Some(&json!({"decision": "APPROVE_WITH_PUNCHLIST", "items": [
        {"code": "C1", "description": "antenna mount cracked", "severity": "CRITICAL"},
        {"code": "M1", "description": "label", "severity": "MINOR"}]})),
        )
        .await;
    d.assert_status(200);
    assert_eq!(d.body["stage"]["status"], "REJECTED");
    assert_eq!(d.body["stage"]["decision"], "REJECT");
    assert!(d.body["stage"]["decision_comment"]
        .as_str()
        .unwrap()
        .contains("C1"));
    assert_eq!(d.body["instance_status"], "REJECTED");
    assert_eq!(f.status(&sub).await, "REJECTED");
    let pl: String = f
        .app
        .scalar(
            "SELECT status FROM punchlists WHERE submission_id = $1::uuid",
            sub.clone(),
        )
        .await;
    assert_eq!(pl, "CANCELLED");
}

/// An approved, valid override from the assignee lets the delegate decide; a pending or expired one does not.
#[sqlx::test(migrations = false)]
async fn an_active_delegate_decides(pool: PgPool) {
    let f = setup(pool, "XL-DELEG").await;
    let (w1_id, _) = token_of(&f.app, "atp.approver.west1").await;
    let (e1_id, e1) = token_of(&f.app, "atp.approver.east1").await;
    let admin_id = f.ws.members[0].1.id;
    let sub = f.submitted("JKT-0001", "MW", "RAN_MW").await;
    f.qa_approve(&sub).await.assert_status(200);
    let st = f.stages(&sub).await;
    over(
        &f,
        &sub,
        (w1_id, e1_id, admin_id),
        "PENDING",
        "-1 hour",
        "1 day",
    )
    .await;
    over(
        &f,
        &sub,
        (w1_id, e1_id, admin_id),
        "APPROVED",
        "-2 days",
        "-1 day",
    )
    .await;
    f.decide(&e1, &st[1].3, "APPROVE", None)
        .await
        .assert_problem(403, "NOT_ASSIGNED");
    over(
        &f,
        &sub,
        (w1_id, e1_id, admin_id),
        "APPROVED",
        "-1 hour",
        "1 day",
    )
    .await;
    let d = f.decide(&e1, &st[1].3, "APPROVE", None).await;
    d.assert_status(200);
    assert_eq!(d.body["stage"]["decided_by"], e1_id);
}

/// An override of a submission from one user to another (test data: the admin routes are not built yet).
async fn over(
    f: &Flow,
    sub: &str,
    (from_user, to_user, admin): (i64, i64, i64),
    status: &str,
    from: &str,
    to: &str,
) {
    sqlx::query(&format!(
        "INSERT INTO approver_overrides (workspace_id, override_type, submission_id, from_user_id, to_user_id, \
             reason, valid_from, valid_to, approval_status, requested_by, approved_by, approved_at) \
         VALUES ($1::uuid, 'SUBMISSION', $2::uuid, $3, $4, 'leave', now() + interval '{from}', \
                 now() + interval '{to}', '{status}', $5, \
                 CASE WHEN '{status}' = 'APPROVED' THEN $5::bigint END, \
                 CASE WHEN '{status}' = 'APPROVED' THEN now() END)"
    ))
    .bind(&f.ws.id)
    .bind(sub)
    .bind(from_user)
    .bind(to_user)
    .bind(admin)
    .execute(&f.app.pool)
    .await
    .unwrap();
}
