//! ATP part 2, SLA and notifications (docs/atp-flow.md): the SLA sweep with a controlled clock (one breach, one
//! escalation, run twice), the SLA report with its statement count, webhook subscriptions, and delivery to a
//! real local HTTP receiver that fails twice before it accepts (one success per delivery id, signature checked).

use crate::atp_flow::{setup, token_of};
use crate::atp_support::call;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{Duration, SubsecRound, Utc};
use hmac::{Hmac, Mac};
use neurohub_atp::flow::{sla, webhooks};
use neurohub_atp::member::MemberRole;
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::PgPool;
use std::sync::{Arc, Mutex};

async fn count(pool: &PgPool, sql: &str, instance: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(instance)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn instance_of(pool: &PgPool, sub: &str) -> String {
    sqlx::query_scalar("SELECT workflow_instance_id::text FROM atp_submissions WHERE id = $1::uuid")
        .bind(sub)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Past its due time (a controlled clock): the active stage is marked once, with one SLA_BREACH and one ESCALATE
/// action and their notifications (the assignee; the backup approver and the workspace admins); a second run
/// records nothing more; the database refuses a second breach of the same activation.
#[sqlx::test(migrations = false)]
async fn an_overdue_stage_is_breached_and_escalated_once(pool: PgPool) {
    let f = setup(pool, "XL-SLA").await;
    let (west1, _) = token_of(&f.app, "atp.approver.west1").await;
    let sub = f.submitted("JKT-0001", "MW", "RAN_MW").await;
    f.qa_approve(&sub).await.assert_status(200);
    let inst = instance_of(&f.app.pool, &sub).await;
    let p = &f.app.pool;
    let due: chrono::DateTime<Utc> = sqlx::query_scalar(
        "SELECT due_at FROM workflow_stages WHERE workflow_instance_id = $1::uuid AND status = 'ACTIVE'",
    )
    .bind(&inst)
    .fetch_one(p)
    .await
    .unwrap();
    // before its due time: nothing
    assert_eq!(
        sla::sweep(p, due - Duration::seconds(1)).await.unwrap(),
        sla::Swept::default()
    );
    let at = due + Duration::minutes(5);
    let swept = sla::sweep(p, at).await.unwrap();
    assert_eq!(
        swept,
        sla::Swept {
            breached_stages: 1,
            breached_instances: 1
        }
    );
    let (stage_breached, inst_breached): (
        Option<chrono::DateTime<Utc>>,
        Option<chrono::DateTime<Utc>>,
    ) = sqlx::query_as(
        "SELECT s.breached_at, i.sla_breached_at FROM workflow_stages s JOIN workflow_instances i \
               ON i.id = s.workflow_instance_id WHERE i.id = $1::uuid AND s.status = 'ACTIVE'",
    )
    .bind(&inst)
    .fetch_one(p)
    .await
    .unwrap();
    assert_eq!(stage_breached, Some(at));
    assert_eq!(inst_breached, Some(at));
    // the escalation names the backup approver of the stage (routing snapshot) and every active WORKSPACE_ADMIN
    let (notify, backup): (Value, Option<i64>) = sqlx::query_as(
        "SELECT a.payload -> 'notify', (SELECT (e ->> 'backup_user_id')::bigint \
                  FROM workflow_instances i, jsonb_array_elements(i.routing_snapshot -> 'stages') e \
                 WHERE i.id = a.workflow_instance_id AND (e ->> 'stage_number')::int = 2) \
           FROM workflow_stage_actions a WHERE a.workflow_instance_id = $1::uuid AND a.action = 'ESCALATE'",
    )
    .bind(&inst)
    .fetch_one(p)
    .await
    .unwrap();
    let admins: Vec<i64> = sqlx::query_scalar(
        "SELECT m.user_id FROM workspace_members m JOIN workspaces w ON w.id = m.workspace_id \
          WHERE w.code = 'XL-SLA' AND m.member_role = 'WORKSPACE_ADMIN' AND m.is_active",
    )
    .fetch_all(p)
    .await
    .unwrap();
    let mut expected: Vec<i64> = admins.clone();
    expected.extend(backup.filter(|b| *b != west1));
    expected.sort_unstable();
    expected.dedup();
    let notified: Vec<i64> = serde_json::from_value(notify).unwrap();
    assert!(!admins.is_empty());
    assert_eq!(notified, expected);
    // the outbox, written in the sweep's transaction by 0008's trigger
    let outbox: Vec<(String, Vec<i64>)> = sqlx::query_as(
        "SELECT event_type, recipient_user_ids FROM notification_outbox \
          WHERE workflow_instance_id = $1::uuid AND event_type LIKE 'SLA_%' ORDER BY event_type",
    )
    .bind(&inst)
    .fetch_all(p)
    .await
    .unwrap();
    assert_eq!(
        outbox,
        vec![
            ("SLA_BREACHED".to_string(), vec![west1]),
            ("SLA_ESCALATED".to_string(), expected.clone())
        ]
    );
    // run again, later: still one breach, one escalation, two SLA notifications
    assert_eq!(
        sla::sweep(p, at + Duration::hours(3)).await.unwrap(),
        sla::Swept::default()
    );
    let actions =
        "SELECT count(*) FROM workflow_stage_actions WHERE workflow_instance_id = $1::uuid \
                    AND action IN ('SLA_BREACH', 'ESCALATE')";
    assert_eq!(count(p, actions, &inst).await, 2);
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM notification_outbox WHERE workflow_instance_id = $1::uuid AND event_type LIKE 'SLA_%'",
            &inst
        )
        .await,
        2
    );
    // the database holds it too: a second SLA_BREACH of the same activation (same due_at) is refused
    let dup = sqlx::query(
        "INSERT INTO workflow_stage_actions (workspace_id, workflow_instance_id, workflow_stage_id, action, payload) \
         SELECT workspace_id, workflow_instance_id, workflow_stage_id, action, payload FROM workflow_stage_actions \
          WHERE workflow_instance_id = $1::uuid AND action = 'SLA_BREACH'",
    )
    .bind(&inst)
    .execute(p)
    .await
    .unwrap_err();
    assert_eq!(
        dup.as_database_error().and_then(|d| d.constraint()),
        Some("uq_workflow_stage_actions_sla_once")
    );
    // the timeline shows them, in order after the activation
    let t = f
        .call(
            Method::GET,
            f.ws.token(MemberRole::Viewer),
            &format!("/submissions/{sub}/timeline"),
            None,
        )
        .await;
    t.assert_status(200);
    // (one statement wrote both: same time, so either order)
    let mut tail: Vec<&str> = t.body.as_array().unwrap()[..]
        .iter()
        .rev()
        .take(2)
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    tail.sort_unstable();
    assert_eq!(tail, ["ESCALATE", "SLA_BREACH"]);
    // a decision after the breach still works and the stage keeps its breach time
    let stage: String = sqlx::query_scalar(
        "SELECT id::text FROM workflow_stages WHERE workflow_instance_id = $1::uuid AND status = 'ACTIVE'",
    )
    .bind(&inst)
    .fetch_one(p)
    .await
    .unwrap();
    let (_, w1) = token_of(&f.app, "atp.approver.west1").await;
    f.decide(&w1, &stage, "APPROVE", None)
        .await
        .assert_status(200);
    assert_eq!(
        sla::sweep(p, Utc::now() + Duration::hours(47))
            .await
            .unwrap(),
        sla::Swept::default(),
        "the next stage is due 48 h after its own activation"
    );
}

/// The SLA report: one statement; open, overdue and escalated stages per approver, role, region and category;
/// time-to-decision percentiles; supervising roles only.
#[sqlx::test(migrations = false)]
async fn the_sla_report_counts_open_overdue_and_escalated_stages(pool: PgPool) {
    let f = setup(pool, "XL-SLAR").await;
    let (west1, w1) = token_of(&f.app, "atp.approver.west1").await;
    let p = &f.app.pool;
    // two chains: one overdue and escalated at stage 2, one that decided stage 2 after 10 hours
    let late = f.submitted("JKT-0001", "MW", "RAN_MW").await;
    f.qa_approve(&late).await.assert_status(200);
    let late_inst = instance_of(p, &late).await;
    sqlx::query(
        "UPDATE workflow_stages SET activated_at = now() - interval '50 hours', due_at = now() - interval '2 hours' \
          WHERE workflow_instance_id = $1::uuid AND status = 'ACTIVE'",
    )
    .bind(&late_inst)
    .execute(p)
    .await
    .unwrap();
    assert_eq!(sla::sweep(p, Utc::now()).await.unwrap().breached_stages, 1);
    let quick = f.submitted("JKT-0001", "PLN", "PLN_UPGRADE").await;
    f.qa_approve(&quick).await.assert_status(200);
    let stages = f.stages(&quick).await;
    f.decide(&w1, &stages[1].3, "APPROVE", None)
        .await
        .assert_status(200);
    sqlx::query("UPDATE workflow_stages SET activated_at = decided_at - interval '10 hours' WHERE id = $1::uuid")
        .bind(&stages[1].3)
        .execute(p)
        .await
        .unwrap();

    let res = f.call(Method::GET, f.ws.admin(), "/sla/report", None).await;
    res.assert_status(200);
    assert_eq!(res.queries(), 3, "report: context, resolve, one statement");
    let groups = res.body["groups"].as_array().unwrap();
    let find = |dim: &str, key: Option<&str>| -> &Value {
        groups
            .iter()
            .find(|g| g["dimension"] == dim && g["key"].as_str() == key)
            .unwrap_or_else(|| panic!("no {dim} {key:?} in {}", res.text))
    };
    let total = find("total", None);
    assert_eq!(groups[0]["dimension"], "total");
    // open: the late chain's stage 2, the quick chain's stage 3
    assert_eq!(
        (
            total["open"].as_i64(),
            total["overdue"].as_i64(),
            total["escalated"].as_i64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(total["decided"], 1, "QA stages are not counted");
    let p50 = total["p50_hours"].as_f64().unwrap();
    assert!((p50 - 10.0).abs() < 0.01, "{p50}");
    let me = find("approver", Some(&west1.to_string()));
    assert_eq!(me["approver_username"], "atp.approver.west1");
    assert_eq!(
        (me["open"].as_i64(), me["overdue"].as_i64()),
        (Some(2), Some(1))
    );
    let ran = find("category", Some("RAN_MW"));
    assert_eq!(
        (
            ran["open"].as_i64(),
            ran["overdue"].as_i64(),
            ran["decided"].as_i64()
        ),
        (Some(1), Some(1), Some(0))
    );
    assert!(ran["p50_hours"].is_null());
    let pln = find("category", Some("PLN_UPGRADE"));
    assert_eq!(
        (pln["overdue"].as_i64(), pln["decided"].as_i64()),
        (Some(0), Some(1))
    );
    let region: Option<String> =
        sqlx::query_scalar("SELECT region FROM sites WHERE site_id = 'JKT-0001' LIMIT 1")
            .fetch_one(p)
            .await
            .unwrap();
    assert_eq!(find("region", region.as_deref())["open"], 2);
    assert!(groups.iter().any(|g| g["dimension"] == "role"));
    // overdue first within a dimension
    let cats: Vec<&Value> = groups
        .iter()
        .filter(|g| g["dimension"] == "category")
        .collect();
    assert_eq!(cats[0]["key"], "RAN_MW");
    // the window: a day ago excludes nothing today; bad windows are refused
    for (q, status) in [
        ("?days=1", 200),
        ("?days=0", 422),
        ("?days=3651", 422),
        ("?days=x", 400),
    ] {
        let r = f
            .call(
                Method::GET,
                f.ws.token(MemberRole::Viewer),
                &format!("/sla/report{q}"),
                None,
            )
            .await;
        assert_eq!(r.status, status, "{q}: {}", r.text);
    }
    // QA reads it, submitters and approvers do not
    f.call(Method::GET, f.ws.token(MemberRole::Qa), "/sla/report", None)
        .await
        .assert_status(200);
    for r in [
        MemberRole::DocControl,
        MemberRole::Vendor,
        MemberRole::Approver,
    ] {
        f.call(Method::GET, f.ws.token(r), "/sla/report", None)
            .await
            .assert_status(403);
    }
}

#[derive(Default)]
struct Received {
    /// (delivery id, signature header, raw body, status answered)
    calls: Vec<(String, String, Vec<u8>, u16)>,
}

async fn receiver(
    State(r): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let mut r = r.lock().unwrap();
    let status = if r.calls.len() < 2 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::NO_CONTENT
    };
    let h = |n: &str| {
        headers
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    r.calls.push((
        h("x-neurohub-delivery"),
        h("x-neurohub-signature"),
        body.to_vec(),
        status.as_u16(),
    ));
    status
}

/// Webhooks: a subscription (secret shown once), events written to the outbox in the deciding transaction, and
/// delivery to a real HTTP receiver that answers 503 twice, then 204: retried with backoff, delivered once, the
/// same delivery id every time, the signature verifiable with the secret.
#[sqlx::test(migrations = false)]
async fn webhook_events_are_delivered_signed_with_retries(pool: PgPool) {
    let f = setup(pool, "XL-HOOK").await;
    let got = Arc::new(Mutex::new(Received::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receiver))
        .with_state(got.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // subscriptions: WORKSPACE_ADMIN only, http:// only, known event types, the secret returned once
    let admin = f.ws.admin();
    for (body, code) in [
        (
            json!({"url": "https://hooks.example.com/x", "event_types": ["STAGE_ASSIGNED"]}),
            422,
        ),
        (
            json!({"url": "not a url", "event_types": ["STAGE_ASSIGNED"]}),
            422,
        ),
        (json!({"url": url, "event_types": []}), 422),
        (json!({"url": url, "event_types": ["PING"]}), 422),
    ] {
        let r = f.call(Method::POST, admin, "/webhooks", Some(&body)).await;
        assert_eq!(r.status, code, "{body}: {}", r.text);
    }
    f.call(
        Method::POST,
        f.ws.token(MemberRole::Qa),
        "/webhooks",
        Some(&json!({"url": url, "event_types": ["STAGE_ASSIGNED"]})),
    )
    .await
    .assert_status(403);
    let created = f
        .call(
            Method::POST,
            admin,
            "/webhooks",
            Some(&json!({"url": url, "event_types": ["STAGE_ASSIGNED", "STAGE_ASSIGNED"], "description": "ops"})),
        )
        .await;
    created.assert_status(201);
    assert_eq!(
        created.queries(),
        4,
        "create: context, resolve, insert, COMMIT"
    );
    let secret = created.body["secret"].as_str().unwrap().to_string();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 54,
        "{secret}"
    );
    assert_eq!(created.body["event_types"], json!(["STAGE_ASSIGNED"]));
    let hook = created.body["id"].as_str().unwrap().to_string();
    let location = created.headers["location"].to_str().unwrap().to_string();
    let one = call(&f.app, Method::GET, admin, &location, None).await;
    one.assert_status(200);
    assert!(one.body.get("secret").is_none(), "{}", one.text);
    let list = f.call(Method::GET, admin, "/webhooks", None).await;
    list.assert_status(200);
    assert_eq!(list.queries(), 3, "list: context, resolve, one statement");
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert!(!list.text.contains(&secret), "the list shows no secret");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE table_name = 'webhook_subscriptions' \
          AND (new_data ? 'secret' OR old_data ? 'secret' OR new_data::text LIKE '%' || $1 || '%')",
    )
    .bind(&secret)
    .fetch_one(&f.app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 0, "the secret is not in the audit log");

    // QA approves: the chain starts; its stage 2 assignment is an outbox event in the same transaction
    let sub = f.submitted("JKT-0001", "MW", "RAN_MW").await;
    f.qa_approve(&sub).await.assert_status(200);
    let inst = instance_of(&f.app.pool, &sub).await;
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT event_type FROM notification_outbox WHERE workflow_instance_id = $1::uuid ORDER BY created_at, event_type",
    )
    .bind(&inst)
    .fetch_all(&f.app.pool)
    .await
    .unwrap();
    assert_eq!(
        events,
        ["STAGE_ASSIGNED", "STAGE_DECIDED"],
        "QA_PRE decided, stage 2 assigned"
    );
    let deliveries: i64 = f
        .app
        .scalar(
            "SELECT count(*) FROM webhook_deliveries WHERE subscription_id = $1::uuid",
            hook.clone(),
        )
        .await;
    assert_eq!(deliveries, 1, "only the subscribed event type");

    let client = reqwest::Client::new();
    let p = &f.app.pool;
    let t0 = Utc::now().trunc_subsecs(6);
    let r1 = webhooks::deliver_due(p, &client, t0).await.unwrap();
    assert_eq!((r1.delivered, r1.retried), (0, 1));
    // not due again before its backoff (30 s)
    let r = webhooks::deliver_due(p, &client, t0 + Duration::seconds(25))
        .await
        .unwrap();
    assert_eq!(r, webhooks::DeliveryRun::default());
    let (attempts, next, err): (i32, chrono::DateTime<Utc>, Option<String>) = sqlx::query_as(
        "SELECT attempts, next_attempt_at, last_error FROM webhook_deliveries WHERE subscription_id = $1::uuid",
    )
    .bind(&hook)
    .fetch_one(p)
    .await
    .unwrap();
    assert_eq!(attempts, 1);
    assert_eq!(next, t0 + webhooks::backoff(1));
    assert!(err.unwrap().contains("503"));
    let r2 = webhooks::deliver_due(p, &client, next).await.unwrap();
    assert_eq!(r2.retried, 1);
    let t2 = next + webhooks::backoff(2);
    let r3 = webhooks::deliver_due(p, &client, t2).await.unwrap();
    assert_eq!(r3.delivered, 1);
    // delivered: nothing more to send, ever
    let r = webhooks::deliver_due(p, &client, t2 + Duration::days(1))
        .await
        .unwrap();
    assert_eq!(r, webhooks::DeliveryRun::default());
    let (status, attempts, code, delivered): (
        String,
        i32,
        Option<i32>,
        Option<chrono::DateTime<Utc>>,
    ) = sqlx::query_as(
        "SELECT status, attempts, last_status_code, delivered_at FROM webhook_deliveries \
              WHERE subscription_id = $1::uuid",
    )
    .bind(&hook)
    .fetch_one(p)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), attempts, code, delivered),
        ("DELIVERED", 3, Some(204), Some(t2))
    );

    let calls = std::mem::take(&mut got.lock().unwrap().calls);
    assert_eq!(calls.len(), 3);
    let ids: std::collections::BTreeSet<&str> = calls.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(ids.len(), 1, "one delivery id on every retry");
    assert_eq!(
        calls.iter().filter(|c| c.3 < 300).count(),
        1,
        "exactly one success"
    );
    for (id, sig, body, _) in &calls {
        // t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
        let (t, v1) = sig
            .strip_prefix("t=")
            .and_then(|s| s.split_once(",v1="))
            .unwrap_or_else(|| panic!("{sig}"));
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&hex::decode(v1).unwrap())
            .expect("signature verifies");
        let mut wrong = Hmac::<Sha256>::new_from_slice(b"another secret").unwrap();
        wrong.update(format!("{t}.").as_bytes());
        wrong.update(body);
        assert!(wrong.verify_slice(&hex::decode(v1).unwrap()).is_err());
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["delivery_id"], id.as_str());
        assert_eq!(v["event_type"], "STAGE_ASSIGNED");
        assert_eq!(v["data"]["stage_number"], 2);
        assert_eq!(v["data"]["workflow_instance_id"], inst.as_str());
    }

    // deactivated: the next assignment writes its outbox row but no delivery
    let gone = f
        .call(Method::DELETE, admin, &format!("/webhooks/{hook}"), None)
        .await;
    gone.assert_status(204);
    assert_eq!(gone.queries(), 4);
    f.call(Method::DELETE, admin, &format!("/webhooks/{hook}"), None)
        .await
        .assert_status(204);
    f.call(
        Method::DELETE,
        admin,
        "/webhooks/00000000-0000-4000-8000-000000000000",
        None,
    )
    .await
    .assert_status(404);
    let stages = f.stages(&sub).await;
    let (_, w1) = token_of(&f.app, "atp.approver.west1").await;
    f.decide(&w1, &stages[1].3, "APPROVE", None)
        .await
        .assert_status(200);
    let outbox: i64 = f
        .app
        .scalar(
            "SELECT count(*) FROM notification_outbox WHERE workflow_instance_id = $1::uuid",
            inst.clone(),
        )
        .await;
    assert_eq!(outbox, 4, "+ stage 2 decided, stage 3 assigned");
    let deliveries: i64 = f
        .app
        .scalar(
            "SELECT count(*) FROM webhook_deliveries WHERE subscription_id = $1::uuid",
            hook,
        )
        .await;
    assert_eq!(deliveries, 1);
}
