//! Overrides and absences over HTTP (docs/atp-flow.md "Overrides and absences"): an approved override hands the
//! covered undecided stages to the delegate while its window lasts (the decision and the pending list agree, the
//! assignee may no longer decide), outside its window it is ignored, revoking it hands them back; an absence
//! routes new stages and re-resolves pending ones to its delegate or the backup; overlap rules (API and database);
//! every error path; punchlist items' evidence-before date.

use crate::atp_flow::{setup, token_of, Flow};
use crate::atp_support::*;
use crate::helpers::TestResponse;
use neurohub_atp::member::MemberRole;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

fn at(offset_hours: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(offset_hours)).to_rfc3339()
}

impl Flow {
    async fn post(&self, token: &str, rest: &str, body: Value) -> TestResponse {
        self.call(Method::POST, token, rest, Some(&body)).await
    }

    /// Request an override; returns the response.
    async fn request(&self, token: &str, body: Value) -> TestResponse {
        self.post(token, "/overrides", body).await
    }

    async fn approve(&self, token: &str, id: &str) -> TestResponse {
        self.call(
            Method::POST,
            token,
            &format!("/overrides/{id}/approve"),
            None,
        )
        .await
    }

    /// Stage ids in the caller's pending list.
    async fn pending_ids(&self, token: &str) -> Vec<String> {
        let p = self.pending(token, "").await;
        p.assert_status(200);
        assert_eq!(p.queries(), 3, "pending: context, resolve, one statement");
        p.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["stage_id"].as_str().unwrap().to_string())
            .collect()
    }

    async fn submitted_and_routed(
        &self,
        site: &str,
    ) -> (String, Vec<(i32, String, Option<i64>, String)>) {
        let sub = self.submitted(site, "MW", "RAN_MW").await;
        self.qa_approve(&sub).await.assert_status(200);
        let st = self.stages(&sub).await;
        (sub, st)
    }

    /// The payload of the decision action of a stage.
    async fn decision_payload(&self, stage: &str) -> Value {
        self.app
            .scalar(
                "SELECT payload FROM workflow_stage_actions WHERE workflow_stage_id = $1::uuid \
                  AND action IN ('APPROVE', 'REJECT', 'APPROVE_WITH_PUNCHLIST')",
                stage.to_string(),
            )
            .await
    }
}

fn id(res: &TestResponse) -> String {
    res.body["id"].as_str().unwrap().to_string()
}

/// Re-resolution at read time: before approval nothing changes; once approved the delegate sees and decides the
/// stages of the submission (the next activated one too), the assignee neither sees nor decides them; revoked,
/// they are the assignee's again.
#[sqlx::test(migrations = false)]
async fn an_approved_override_hands_the_undecided_stages_to_the_delegate(pool: PgPool) {
    let f = setup(pool, "XL-OVR").await;
    let (w1_id, w1) = token_of(&f.app, "atp.approver.west1").await;
    let (e1_id, e1) = token_of(&f.app, "atp.approver.east1").await;
    let (sub, st) = f.submitted_and_routed("JKT-0001").await;
    assert_eq!(st[1].2, Some(w1_id));
    // the approver requests a delegation of their own approvals of this submission
    let req = f
        .request(
            &w1,
            json!({"override_type": "SUBMISSION", "submission_id": sub, "to_user_id": e1_id,
                   "reason": "site visit", "valid_to": at(24)}),
        )
        .await;
    req.assert_status(201);
    assert_eq!(req.queries(), 5, "context, resolve, check, insert, COMMIT");
    assert_eq!(req.body["approval_status"], "PENDING");
    assert_eq!(req.body["from_user_id"], w1_id);
    assert_eq!(req.body["requested_by"], w1_id);
    let o = id(&req);
    // PENDING: nothing moves
    assert!(f.pending_ids(&e1).await.is_empty());
    f.decide(&e1, &st[1].3, "APPROVE", None)
        .await
        .assert_problem(403, "NOT_ASSIGNED");
    assert_eq!(f.pending_ids(&w1).await, vec![st[1].3.clone()]);
    // only a WORKSPACE_ADMIN approves (the requester, an APPROVER, is refused by role)
    f.approve(&w1, &o).await.assert_problem(403, "FORBIDDEN");
    let ok = f.approve(f.ws.admin(), &o).await;
    ok.assert_status(200);
    assert_eq!(ok.queries(), 5, "context, resolve, lock, update, COMMIT");
    assert_eq!(ok.body["approval_status"], "APPROVED");
    f.approve(f.ws.admin(), &o)
        .await
        .assert_problem(409, "INVALID_STATUS_TRANSITION");
    // the decision and the pending list agree: the delegate's now, not the assignee's
    let mine = f.pending(&e1, "").await;
    assert_eq!(mine.body["items"][0]["stage_id"], st[1].3.as_str());
    assert_eq!(mine.body["items"][0]["on_behalf_of"], w1_id);
    assert!(f.pending_ids(&w1).await.is_empty());
    let refused = f.decide(&w1, &st[1].3, "APPROVE", None).await;
    refused.assert_problem(403, "NOT_ASSIGNED");
    assert!(refused.body["detail"]
        .as_str()
        .unwrap()
        .contains("delegated"));
    let d = f.decide(&e1, &st[1].3, "APPROVE", None).await;
    d.assert_status(200);
    assert_eq!(
        d.queries(),
        6,
        "decide mid-chain: unchanged with delegation"
    );
    assert_eq!(d.body["stage"]["decided_by"], e1_id);
    assert_eq!(
        d.body["stage"]["assigned_approver_id"], w1_id,
        "the routed assignee stays"
    );
    let payload = f.decision_payload(&st[1].3).await;
    assert_eq!(payload["on_behalf_of"], w1_id);
    assert_eq!(payload["override_id"], o.as_str());
    // the next stage, activated now, is the delegate's too
    assert_eq!(f.pending_ids(&e1).await, vec![st[2].3.clone()]);
    // revoked by its requester: back to the assignee at once
    let r = f
        .call(Method::POST, &w1, &format!("/overrides/{o}/revoke"), None)
        .await;
    r.assert_status(200);
    assert_eq!(r.body["approval_status"], "REVOKED");
    f.call(Method::POST, &w1, &format!("/overrides/{o}/revoke"), None)
        .await
        .assert_problem(409, "INVALID_STATUS_TRANSITION");
    assert!(f.pending_ids(&e1).await.is_empty());
    assert_eq!(f.pending_ids(&w1).await, vec![st[2].3.clone()]);
    f.decide(&e1, &st[2].3, "APPROVE", None)
        .await
        .assert_problem(403, "NOT_ASSIGNED");
    f.decide(&w1, &st[2].3, "APPROVE", None)
        .await
        .assert_status(200);
    assert_eq!(f.decision_payload(&st[2].3).await, json!({}));
    // the list: one statement, paginated, filtered
    let l = f
        .call(
            Method::GET,
            f.ws.token(MemberRole::Viewer),
            &format!("/overrides?user_id={e1_id}&status=REVOKED"),
            None,
        )
        .await;
    l.assert_status(200);
    assert_eq!(l.queries(), 3, "context, resolve, one statement");
    assert_eq!(l.body["items"].as_array().unwrap().len(), 1);
}

/// An override counts only inside [valid_from, valid_to): one starting later (approved) or one that is over is
/// ignored by the decision and the pending list alike; the assignee decides.
#[sqlx::test(migrations = false)]
async fn an_override_outside_its_window_is_ignored(pool: PgPool) {
    let f = setup(pool, "XL-OVR-WIN").await;
    let (w1_id, w1) = token_of(&f.app, "atp.approver.west1").await;
    let (e1_id, e1) = token_of(&f.app, "atp.approver.east1").await;
    let (_sub, st) = f.submitted_and_routed("JKT-0001").await;
    let later = f
        .request(
            f.ws.admin(),
            json!({"override_type": "STAGE", "workflow_stage_id": st[1].3, "from_user_id": w1_id,
                   "to_user_id": e1_id, "reason": "next week", "valid_from": at(2), "valid_to": at(24)}),
        )
        .await;
    later.assert_status(201);
    // the requesting admin may not approve it; another one may
    f.approve(f.ws.admin(), &id(&later))
        .await
        .assert_problem(403, "SELF_APPROVAL");
    let admin2 = user(&f.app, "xl-ovr-win.admin2").await;
    add(&f.app, &f.ws.code, admin2.id, MemberRole::WorkspaceAdmin).await;
    f.approve(&admin2.token, &id(&later))
        .await
        .assert_status(200);
    assert!(f.pending_ids(&e1).await.is_empty());
    f.decide(&e1, &st[1].3, "APPROVE", None)
        .await
        .assert_problem(403, "NOT_ASSIGNED");
    assert_eq!(f.pending_ids(&w1).await, vec![st[1].3.clone()]);
    // the same window moved into the past (data: the API refuses a window that is over)
    sqlx::query(
        "UPDATE approver_overrides SET valid_from = now() - interval '2 days', valid_to = now() - interval '1 day'",
    )
    .execute(&f.app.pool)
    .await
    .unwrap();
    assert!(f.pending_ids(&e1).await.is_empty());
    f.decide(&e1, &st[1].3, "APPROVE", None)
        .await
        .assert_problem(403, "NOT_ASSIGNED");
    // a PENDING override whose window ended before approval: 409 OVERRIDE_EXPIRED
    let stale = f
        .request(
            f.ws.admin(),
            json!({"override_type": "STAGE", "workflow_stage_id": st[1].3, "from_user_id": w1_id,
                   "to_user_id": e1_id, "reason": "x", "valid_to": at(1)}),
        )
        .await;
    stale.assert_status(201);
    sqlx::query(
        "UPDATE approver_overrides SET valid_from = now() - interval '3 hours', valid_to = now() - interval '1 hour' \
          WHERE id = $1::uuid",
    )
    .bind(id(&stale))
    .execute(&f.app.pool)
    .await
    .unwrap();
    f.approve(&admin2.token, &id(&stale))
        .await
        .assert_problem(409, "OVERRIDE_EXPIRED");
    f.decide(&w1, &st[1].3, "APPROVE", None)
        .await
        .assert_status(200);
}

/// Two approved overrides of one user and target may not overlap (409 from the API, NH122 from the database);
/// adjacent windows may; overrides of different targets may overlap, the most specific (STAGE) wins.
#[sqlx::test(migrations = false)]
async fn overlapping_overrides(pool: PgPool) {
    let f = setup(pool, "XL-OVR-OVL").await;
    let (w1_id, w1) = token_of(&f.app, "atp.approver.west1").await;
    let (e1_id, e1) = token_of(&f.app, "atp.approver.east1").await;
    let (e2_id, e2) = token_of(&f.app, "atp.approver.east2").await;
    let (sub, st) = f.submitted_and_routed("JKT-0001").await;
    let body = |from: String, to: String| {
        json!({"override_type": "SUBMISSION", "submission_id": sub, "to_user_id": e1_id, "reason": "trip",
               "valid_from": from, "valid_to": to})
    };
    let a = f.request(&w1, body(at(0), at(24))).await;
    f.approve(f.ws.admin(), &id(&a)).await.assert_status(200);
    let b = f.request(&w1, body(at(12), at(48))).await;
    b.assert_status(201);
    f.approve(f.ws.admin(), &id(&b))
        .await
        .assert_problem(409, "OVERRIDE_OVERLAP");
    // the database refuses it too
    let err = sqlx::query(
        "UPDATE approver_overrides SET approval_status = 'APPROVED', approved_by = requested_by, approved_at = now() \
          WHERE id = $1::uuid",
    )
    .bind(id(&b))
    .execute(&f.app.pool)
    .await
    .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().code().as_deref(),
        Some("NH122")
    );
    // adjacent: starts where the first ends
    let valid_to_a: String = f
        .app
        .scalar(
            "SELECT to_char(valid_to AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM approver_overrides WHERE id = $1::uuid",
            id(&a),
        )
        .await;
    let c = f.request(&w1, body(valid_to_a, at(72))).await;
    c.assert_status(201);
    f.approve(f.ws.admin(), &id(&c)).await.assert_status(200);
    // a REGION override (another target) overlapping the SUBMISSION one is fine; a STAGE one beats both
    let r = f
        .request(
            &w1,
            json!({"override_type": "REGION", "region": "Jabodetabek", "to_user_id": e2_id, "reason": "region"}),
        )
        .await;
    r.assert_status(201);
    f.approve(f.ws.admin(), &id(&r)).await.assert_status(200);
    assert_eq!(
        f.pending_ids(&e1).await,
        vec![st[1].3.clone()],
        "SUBMISSION before REGION"
    );
    assert!(f.pending_ids(&e2).await.is_empty());
    let s = f
        .request(
            &w1,
            json!({"override_type": "STAGE", "workflow_stage_id": st[1].3, "to_user_id": e2_id, "reason": "this one"}),
        )
        .await;
    s.assert_status(201);
    f.approve(f.ws.admin(), &id(&s)).await.assert_status(200);
    assert_eq!(f.pending_ids(&e2).await, vec![st[1].3.clone()]);
    assert!(f.pending_ids(&e1).await.is_empty());
    f.decide(&e1, &st[1].3, "APPROVE", None)
        .await
        .assert_problem(403, "NOT_ASSIGNED");
    f.decide(&e2, &st[1].3, "APPROVE", None)
        .await
        .assert_status(200);
    let _ = w1_id;
}

/// Every refusal of the override routes.
#[sqlx::test(migrations = false)]
async fn override_errors(pool: PgPool) {
    let f = setup(pool, "XL-OVR-ERR").await;
    let other = workspace(&f.app, "XL-OVR-OTHER", false).await;
    let (w1_id, w1) = token_of(&f.app, "atp.approver.west1").await;
    let (w2_id, w2) = token_of(&f.app, "atp.approver.west2").await;
    let (e1_id, _) = token_of(&f.app, "atp.approver.east1").await;
    let (sub, st) = f.submitted_and_routed("JKT-0001").await;
    let ok = json!({"override_type": "SUBMISSION", "submission_id": sub, "to_user_id": e1_id, "reason": "r"});
    let with = |patch: Value| {
        let mut b = ok.clone();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    // roles: a VIEWER, QA or DOC_CONTROL does not request
    for r in [MemberRole::Viewer, MemberRole::Qa, MemberRole::DocControl] {
        f.request(f.ws.token(r), ok.clone())
            .await
            .assert_problem(403, "FORBIDDEN");
    }
    // an approver delegates only their own approvals
    f.request(&w2, with(json!({"from_user_id": w1_id})))
        .await
        .assert_problem(403, "NOT_OWN_OVERRIDE");
    // the target: as the type says, and in this workspace
    f.request(&w1, with(json!({"override_type": "STAGE"})))
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["workflow_stage_id"]);
    f.request(&w1, with(json!({"region": "Jabodetabek"})))
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["region"]);
    f.request(
        &w1,
        json!({"override_type": "REGION", "region": "Atlantis", "to_user_id": e1_id, "reason": "r"}),
    )
    .await
    .assert_fields(422, "VALIDATION_FAILED", &["region"]);
    let foreign = "00000000-0000-4000-8000-0000000000aa";
    f.request(&w1, with(json!({"submission_id": foreign})))
        .await
        .assert_problem(404, "NOT_FOUND");
    f.request(
        &w1,
        json!({"override_type": "CLUSTER", "cluster_id": foreign, "to_user_id": e1_id, "reason": "r"}),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    // users: members, two different ones
    f.request(&w1, with(json!({"to_user_id": other.members[0].1.id})))
        .await
        .assert_fields(422, "UNKNOWN_USER", &["to_user_id"]);
    f.request(&w1, with(json!({"to_user_id": w1_id})))
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["to_user_id"]);
    f.request(
        f.ws.admin(),
        with(json!({"from_user_id": other.members[0].1.id})),
    )
    .await
    .assert_fields(422, "UNKNOWN_USER", &["from_user_id"]);
    // the window
    f.request(&w1, with(json!({"valid_from": at(5), "valid_to": at(4)})))
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["valid_to"]);
    f.request(&w1, with(json!({"valid_from": at(-5), "valid_to": at(-1)})))
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["valid_to"]);
    f.request(&w1, with(json!({"reason": "  "})))
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["reason"]);
    // a STAGE override: the stage is undecided and the delegating user's
    f.request(
        &w2,
        json!({"override_type": "STAGE", "workflow_stage_id": st[1].3, "to_user_id": e1_id, "reason": "r"}),
    )
    .await
    .assert_fields(422, "VALIDATION_FAILED", &["from_user_id"]);
    f.request(
        &w1,
        json!({"override_type": "STAGE", "workflow_stage_id": st[0].3, "to_user_id": e1_id, "reason": "r"}),
    )
    .await
    .assert_problem(409, "ALREADY_DECIDED");
    // approve: not a party to it; revoke: a party or a WORKSPACE_ADMIN
    let o = f.request(&w1, ok.clone()).await;
    o.assert_status(201);
    let o = id(&o);
    f.approve(f.ws.token(MemberRole::Viewer), &o)
        .await
        .assert_problem(403, "FORBIDDEN");
    let e1_admin = user(&f.app, "xl-ovr-err.boss").await;
    add(&f.app, &f.ws.code, e1_admin.id, MemberRole::WorkspaceAdmin).await;
    let to_admin = f
        .request(
            &w1,
            with(json!({"to_user_id": e1_admin.id, "valid_from": at(100)})),
        )
        .await;
    to_admin.assert_status(201);
    f.approve(&e1_admin.token, &id(&to_admin))
        .await
        .assert_problem(403, "SELF_APPROVAL");
    f.call(Method::POST, &w2, &format!("/overrides/{o}/revoke"), None)
        .await
        .assert_problem(403, "NOT_OWN_OVERRIDE");
    f.call(
        Method::POST,
        f.ws.admin(),
        &format!("/overrides/{o}/revoke"),
        None,
    )
    .await
    .assert_status(200);
    f.approve(f.ws.admin(), &o)
        .await
        .assert_problem(409, "INVALID_STATUS_TRANSITION");
    // another workspace's override: 404 on approve and revoke
    let theirs: String = sqlx::query_scalar(
        "INSERT INTO approver_overrides (workspace_id, override_type, region, from_user_id, to_user_id, reason, \
             requested_by) VALUES ($1::uuid, 'REGION', 'X', $2, $3, 'r', $2) RETURNING id::text",
    )
    .bind(&other.id)
    .bind(other.members[1].1.id)
    .bind(other.members[2].1.id)
    .fetch_one(&f.app.pool)
    .await
    .unwrap();
    f.approve(f.ws.admin(), &theirs)
        .await
        .assert_problem(404, "NOT_FOUND");
    f.call(
        Method::POST,
        f.ws.admin(),
        &format!("/overrides/{theirs}/revoke"),
        None,
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    let _ = w2_id;
}

/// An absence: the member's pending stages go to the backup (no delegate named) or the delegate while it lasts,
/// new stages are routed there; ended, they are the member's again.
#[sqlx::test(migrations = false)]
async fn an_absence_routes_and_re_resolves_to_the_backup_or_delegate(pool: PgPool) {
    let f = setup(pool, "XL-ABS").await;
    let (w1_id, w1) = token_of(&f.app, "atp.approver.west1").await;
    let (w2_id, w2) = token_of(&f.app, "atp.approver.west2").await;
    let (e1_id, e1) = token_of(&f.app, "atp.approver.east1").await;
    let (_sub, st) = f.submitted_and_routed("JKT-0001").await;
    assert_eq!(st[1].2, Some(w1_id));
    let abs = f
        .post(
            f.ws.admin(),
            "/absences",
            json!({"user_id": w1_id, "starts_at": at(-1), "ends_at": at(24), "reason": "leave"}),
        )
        .await;
    abs.assert_status(201);
    assert_eq!(abs.queries(), 5, "context, resolve, check, insert, COMMIT");
    let a = id(&abs);
    // re-resolved: the cluster's backup (from the routing snapshot) has it, the absent primary does not
    assert!(f.pending_ids(&w1).await.is_empty());
    let p = f.pending(&w2, "").await;
    assert_eq!(p.body["items"][0]["stage_id"], st[1].3.as_str());
    assert_eq!(p.body["items"][0]["on_behalf_of"], w1_id);
    f.decide(&w1, &st[1].3, "APPROVE", None)
        .await
        .assert_problem(403, "NOT_ASSIGNED");
    f.decide(&w2, &st[1].3, "APPROVE", None)
        .await
        .assert_status(200);
    let payload = f.decision_payload(&st[1].3).await;
    assert_eq!(payload["absence_id"], a.as_str());
    assert_eq!(payload["on_behalf_of"], w1_id);
    // routing a new submission while absent: the backup is assigned
    let (_, st2) = f.submitted_and_routed("JKT-0002").await;
    assert_eq!(st2[1].2, Some(w2_id));
    // ended: the member's again (stage 3 of the first submission)
    let ended = f
        .call(
            Method::POST,
            f.ws.admin(),
            &format!("/absences/{a}/end"),
            None,
        )
        .await;
    ended.assert_status(200);
    f.call(
        Method::POST,
        f.ws.admin(),
        &format!("/absences/{a}/end"),
        None,
    )
    .await
    .assert_problem(409, "ABSENCE_NOT_CURRENT");
    assert_eq!(f.pending_ids(&w1).await, vec![st[2].3.clone()]);
    // with a named delegate: the delegate, before the backup, at routing and for pending stages
    f.post(
        f.ws.admin(),
        "/absences",
        json!({"user_id": w1_id, "delegate_user_id": e1_id, "starts_at": at(0), "ends_at": at(24)}),
    )
    .await
    .assert_status(201);
    assert_eq!(f.pending_ids(&e1).await, vec![st[2].3.clone()]);
    assert!(f.pending_ids(&w1).await.is_empty());
    let (sub3, st3) = f.submitted_and_routed("BKS-0001").await;
    assert_eq!(st3[1].2, Some(e1_id));
    let snap: Value = f.app.scalar(
        "SELECT i.routing_snapshot FROM workflow_instances i JOIN atp_submissions s ON s.workflow_instance_id = i.id WHERE s.id = $1::uuid",
        sub3,
    ).await;
    assert_eq!(snap["stages"][1]["resolved_by"], "ABSENCE_DELEGATE");
    let l = f
        .call(
            Method::GET,
            &w2,
            &format!("/absences?user_id={w1_id}&current=true"),
            None,
        )
        .await;
    l.assert_status(200);
    assert_eq!(l.queries(), 3, "context, resolve, one statement");
    assert_eq!(l.body["items"].as_array().unwrap().len(), 1);
}

/// Absence windows of one user do not overlap (API 409, database NH121); adjacent ones may; a future absence is
/// deleted, a current one ended; every refusal.
/// A delegate's pending list merges their own stages with those an absence hands them, soonest due first, and
/// pages of one walk the merged list without a gap or a repeat. The list reads one ordered branch per candidate
/// assignee, each cut at the page size (idx_workflow_stages_approver_due, migration 0013): a branch cut too early,
/// or the merge's order lost, shows here as a stage missing or out of place.
#[sqlx::test(migrations = false)]
async fn a_delegates_pending_list_merges_own_and_handed_stages_in_due_order(pool: PgPool) {
    let f = setup(pool, "XL-MERGE").await;
    let (w1_id, w1) = token_of(&f.app, "atp.approver.west1").await;
    let (e1_id, e1) = token_of(&f.app, "atp.approver.east1").await;
    let absent = |starts: i64| json!({"user_id": w1_id, "delegate_user_id": e1_id, "starts_at": at(starts), "ends_at": at(24)});
    // due in this order: JKT-0001 (west1's), BKS-0001 (routed to east1 during west1's absence), JKT-0002 (west1's)
    let (_, first) = f.submitted_and_routed("JKT-0001").await;
    assert_eq!(first[1].2, Some(w1_id));
    let abs = f.post(f.ws.admin(), "/absences", absent(-1)).await;
    abs.assert_status(201);
    let (_, own) = f.submitted_and_routed("BKS-0001").await;
    assert_eq!(own[1].2, Some(e1_id), "routed to the delegate");
    f.call(
        Method::POST,
        f.ws.admin(),
        &format!("/absences/{}/end", id(&abs)),
        None,
    )
    .await
    .assert_status(200);
    let (_, last) = f.submitted_and_routed("JKT-0002").await;
    assert_eq!(last[1].2, Some(w1_id));
    f.post(f.ws.admin(), "/absences", absent(0))
        .await
        .assert_status(201);
    let want = vec![first[1].3.clone(), own[1].3.clone(), last[1].3.clone()];
    let all = f.pending(&e1, "").await;
    all.assert_status(200);
    let items = all.body["items"].as_array().unwrap();
    assert_eq!(
        items
            .iter()
            .map(|i| i["stage_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        want,
        "{}",
        all.text
    );
    let behalf: Vec<&Value> = items.iter().map(|i| &i["on_behalf_of"]).collect();
    assert_eq!(behalf, [&json!(w1_id), &Value::Null, &json!(w1_id)]);
    assert!(f.pending_ids(&w1).await.is_empty());
    // pages of one, each continuing after the last one's stage, across the two branches
    let (mut walked, mut query) = (Vec::new(), "?limit=1".to_string());
    loop {
        let page = f.pending(&e1, &query).await;
        page.assert_status(200);
        assert_eq!(
            page.queries(),
            3,
            "pending: context, resolve, one statement"
        );
        for i in page.body["items"].as_array().unwrap() {
            walked.push(i["stage_id"].as_str().unwrap().to_string());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => query = format!("?limit=1&cursor={c}"),
            None => break,
        }
        assert!(walked.len() <= want.len(), "pages past the end: {walked:?}");
    }
    assert_eq!(walked, want);
}

#[sqlx::test(migrations = false)]
async fn absence_rules_and_errors(pool: PgPool) {
    let f = setup(pool, "XL-ABS-ERR").await;
    let other = workspace(&f.app, "XL-ABS-OTHER", false).await;
    let (w1_id, w1) = token_of(&f.app, "atp.approver.west1").await;
    let first = f
        .post(
            f.ws.admin(),
            "/absences",
            json!({"user_id": w1_id, "starts_at": at(-1), "ends_at": at(24)}),
        )
        .await;
    first.assert_status(201);
    let ends: String = f
        .app
        .scalar(
            "SELECT to_char(ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM approver_absences WHERE id = $1::uuid",
            id(&first),
        )
        .await;
    f.post(
        f.ws.admin(),
        "/absences",
        json!({"user_id": w1_id, "starts_at": at(12), "ends_at": at(48)}),
    )
    .await
    .assert_problem(409, "ABSENCE_OVERLAP");
    let err = sqlx::query(
        "INSERT INTO approver_absences (workspace_id, user_id, starts_at, ends_at) \
         VALUES ($1::uuid, $2, now(), now() + interval '1 hour')",
    )
    .bind(&f.ws.id)
    .bind(w1_id)
    .execute(&f.app.pool)
    .await
    .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().code().as_deref(),
        Some("NH121")
    );
    let next = f
        .post(
            f.ws.admin(),
            "/absences",
            json!({"user_id": w1_id, "starts_at": ends, "ends_at": at(72)}),
        )
        .await;
    next.assert_status(201);
    let next = id(&next);
    // a future one is not ended but deleted; a current one not deleted but ended
    f.call(
        Method::POST,
        f.ws.admin(),
        &format!("/absences/{next}/end"),
        None,
    )
    .await
    .assert_problem(409, "ABSENCE_NOT_CURRENT");
    let del = f
        .call(
            Method::DELETE,
            f.ws.admin(),
            &format!("/absences/{next}"),
            None,
        )
        .await;
    del.assert_status(204);
    assert_eq!(del.queries(), 5, "context, resolve, lock, delete, COMMIT");
    f.call(
        Method::DELETE,
        f.ws.admin(),
        &format!("/absences/{next}"),
        None,
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    f.call(
        Method::DELETE,
        f.ws.admin(),
        &format!("/absences/{}", id(&first)),
        None,
    )
    .await
    .assert_problem(409, "ABSENCE_STARTED");
    // only a WORKSPACE_ADMIN marks, ends and deletes
    for r in [
        MemberRole::Approver,
        MemberRole::DocControl,
        MemberRole::Viewer,
    ] {
        f.post(
            f.ws.token(r),
            "/absences",
            json!({"user_id": w1_id, "starts_at": at(100), "ends_at": at(101)}),
        )
        .await
        .assert_problem(403, "FORBIDDEN");
        f.call(
            Method::POST,
            f.ws.token(r),
            &format!("/absences/{}/end", id(&first)),
            None,
        )
        .await
        .assert_problem(403, "FORBIDDEN");
    }
    f.call(Method::POST, &w1, "/absences", None)
        .await
        .assert_problem(403, "FORBIDDEN");
    // windows and users
    f.post(
        f.ws.admin(),
        "/absences",
        json!({"user_id": w1_id, "starts_at": at(200), "ends_at": at(199)}),
    )
    .await
    .assert_fields(422, "VALIDATION_FAILED", &["ends_at"]);
    f.post(
        f.ws.admin(),
        "/absences",
        json!({"user_id": w1_id, "starts_at": at(-10), "ends_at": at(-5)}),
    )
    .await
    .assert_fields(422, "VALIDATION_FAILED", &["ends_at"]);
    f.post(
        f.ws.admin(),
        "/absences",
        json!({"user_id": other.members[0].1.id, "starts_at": at(200), "ends_at": at(201)}),
    )
    .await
    .assert_fields(422, "UNKNOWN_USER", &["user_id"]);
    f.post(
        f.ws.admin(),
        "/absences",
        json!({"user_id": w1_id, "delegate_user_id": other.members[0].1.id, "starts_at": at(200), "ends_at": at(201)}),
    )
    .await
    .assert_fields(422, "UNKNOWN_USER", &["delegate_user_id"]);
    f.post(
        f.ws.admin(),
        "/absences",
        json!({"user_id": w1_id, "delegate_user_id": w1_id, "starts_at": at(200), "ends_at": at(201)}),
    )
    .await
    .assert_fields(422, "VALIDATION_FAILED", &["delegate_user_id"]);
    // another workspace's absence: 404 on end and delete
    let theirs: String = sqlx::query_scalar(
        "INSERT INTO approver_absences (workspace_id, user_id, starts_at, ends_at) \
         VALUES ($1::uuid, $2, now() - interval '1 hour', now() + interval '1 day') RETURNING id::text",
    )
    .bind(&other.id)
    .bind(other.members[1].1.id)
    .fetch_one(&f.app.pool)
    .await
    .unwrap();
    f.call(
        Method::POST,
        f.ws.admin(),
        &format!("/absences/{theirs}/end"),
        None,
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    f.call(
        Method::DELETE,
        f.ws.admin(),
        &format!("/absences/{theirs}"),
        None,
    )
    .await
    .assert_problem(404, "NOT_FOUND");
}

/// Punchlist items carry an optional evidence-before date: stored and listed; in the past refused (422), and
/// the database refuses one before the item was raised.
#[sqlx::test(migrations = false)]
async fn punchlist_items_carry_evidence_before(pool: PgPool) {
    let f = setup(pool, "XL-EVB").await;
    let (_, w1) = token_of(&f.app, "atp.approver.west1").await;
    let (sub, st) = f.submitted_and_routed("JKT-0001").await;
    let item = |before: String| {
        json!({"decision": "APPROVE_WITH_PUNCHLIST", "items": [
            {"code": "P-1", "description": "label the cable", "severity": "MINOR", "evidence_before": before}]})
    };
    f.post(&w1, &format!("/stages/{}/decide", st[1].3), item(at(-1)))
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["items[0].evidence_before"]);
    let due = at(24 * 7);
    f.post(
        &w1,
        &format!("/stages/{}/decide", st[1].3),
        item(due.clone()),
    )
    .await
    .assert_status(200);
    let l = f
        .call(
            Method::GET,
            f.ws.token(MemberRole::Viewer),
            &format!("/submissions/{sub}/punchlist-items"),
            None,
        )
        .await;
    l.assert_status(200);
    let got = chrono::DateTime::parse_from_rfc3339(l.body[0]["evidence_before"].as_str().unwrap())
        .unwrap();
    let want = chrono::DateTime::parse_from_rfc3339(&due).unwrap();
    assert!((got - want).num_milliseconds().abs() < 1, "{got} {want}");
    let err =
        sqlx::query("UPDATE punchlist_items SET evidence_before = created_at - interval '1 day'")
            .execute(&f.app.pool)
            .await
            .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().constraint(),
        Some("chk_punchlist_items_evidence_before")
    );
}
