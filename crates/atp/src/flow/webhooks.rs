//! Notifications: webhook subscriptions (WORKSPACE_ADMIN) and the delivery worker (docs/atp-flow.md,
//! "Notifications").
//!
//! The outbox is filled by the database: migration 0008's trigger on `workflow_stage_actions` turns every
//! assignment, decision, rejection, breach and escalation into a `notification_outbox` row and one
//! `webhook_deliveries` row per active subscription of the workspace that wants the event — in the transaction of
//! the change, whoever writes it. [`deliver_due`] POSTs the due deliveries: JSON, signed with HMAC-SHA256 of
//! `"{timestamp}.{body}"` under the subscription's secret (`X-NeuroHub-Signature: t=<unix>,v1=<hex>`), the delivery
//! id in `X-NeuroHub-Delivery` (the same on every retry: receivers de-duplicate on it). A 2xx delivers; anything
//! else is retried with exponential backoff ([`backoff`]) up to [`MAX_ATTEMPTS`], then FAILED. At-least-once: a
//! delivery is leased (its `next_attempt_at` pushed past the request timeout) before it is sent, so a worker that
//! dies mid-request leaves it to be sent again, never lost.
//!
//! The secret is generated here, returned once by the create and never again (lists and reads leave it out), never
//! logged, and kept out of the audit log (0008's audit trigger excludes the column).

use super::{ManageWebhooks, ReadWebhooks};
use crate::member::Member;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use neurohub_core::pagination::{Key, List, Page};
use neurohub_core::response::{created, Created};
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState, Problem};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// The advisory-lock name of the delivery worker (one node at a time).
pub const DELIVERY_JOB: &str = "neurohub.atp.webhook_delivery";
/// Attempts before a delivery is FAILED.
pub const MAX_ATTEMPTS: i32 = 10;
/// How long one POST may take; also the lease of a claimed delivery.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Deliveries claimed per batch.
const BATCH: i64 = 100;

neurohub_core::text_enum!(
    /// What a subscription can ask for (notification_outbox.event_type).
    NotificationEvent {
        /// A stage became active with its approver (or was reassigned / delegated).
        StageAssigned => "STAGE_ASSIGNED",
        /// A stage was approved (with or without a punchlist).
        StageDecided => "STAGE_DECIDED",
        /// A stage rejected the submission.
        StageRejected => "STAGE_REJECTED",
        /// An active stage passed its SLA due time.
        SlaBreached => "SLA_BREACHED",
        /// The breach was escalated to the backup approver and the workspace admins.
        SlaEscalated => "SLA_ESCALATED",
    }
);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get, deactivate))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// Where events are POSTed: an `http://` URL (this build has no TLS client: put an HTTPS relay in front).
    pub url: String,
    /// The events wanted (at least one).
    pub event_types: Vec<NotificationEvent>,
    pub description: Option<String>,
}

/// A subscription, as every read shows it: never its secret.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Subscription {
    pub id: Uuid,
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub is_active: bool,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    pub deactivated_at: Option<DateTime<Utc>>,
}

/// The create's answer: the subscription and, this once, its signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedSubscription {
    #[serde(flatten)]
    pub subscription: Subscription,
    /// The HMAC-SHA256 key of `X-NeuroHub-Signature`. Shown only here: store it now.
    pub secret: String,
}

const COLUMNS: &str =
    "id, url, event_types::text[] AS event_types, description, is_active, created_by, created_at, deactivated_at";

fn check_url(url: &str) -> ApiResult<()> {
    let bad = |why: &str| Err(ApiError::validation("url", why));
    if url.chars().count() > 2000 {
        return bad("at most 2000 characters");
    }
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "http" && u.host().is_some() && !url.contains(char::is_whitespace) => Ok(()),
        Ok(u) if u.scheme() == "https" => bad(
            "this build delivers over http:// only (no TLS client is built in): point it at an HTTPS relay",
        ),
        _ => bad("must be an absolute http:// URL"),
    }
}

/// Subscribe a URL to events of this workspace (WORKSPACE_ADMIN). The answer carries the signing secret, once.
#[utoipa::path(
    post, path = "/workspaces/{ws}/webhooks", tag = "atp-notifications", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id")),
    request_body = NewSubscription,
    responses(
        (status = 201, description = "The subscription with its secret (shown only here)", body = CreatedSubscription,
            headers(("location" = String, description = "where the new record is"))),
        (status = 403, description = "Only WORKSPACE_ADMIN manages webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a member of this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad URL, no event types, a description over 200 characters", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    mut m: Member<ManageWebhooks>,
    ApiJson(b): ApiJson<NewSubscription>,
) -> ApiResult<Created<CreatedSubscription>> {
    check_url(&b.url)?;
    let mut events: Vec<&str> = b.event_types.iter().map(|e| e.as_str()).collect();
    events.sort_unstable();
    events.dedup();
    if events.is_empty() {
        return Err(ApiError::validation(
            "event_types",
            "at least one event type",
        ));
    }
    let description = b
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    if description.is_some_and(|d| d.chars().count() > 200) {
        return Err(ApiError::validation(
            "description",
            "at most 200 characters",
        ));
    }
    let secret = format!("whsec_{}", hex::encode(rand::random::<[u8; 24]>()));
    let s: Subscription = sqlx::query_as(&format!(
        "INSERT INTO webhook_subscriptions (workspace_id, url, secret, event_types, description, created_by) \
         VALUES ($1, $2, $3, $4::varchar[], $5, $6) RETURNING {COLUMNS}"
    ))
    .bind(m.workspace_id)
    .bind(&b.url)
    .bind(&secret)
    .bind(&events)
    .bind(description)
    .bind(m.user.id)
    .fetch_one(&mut *m.tx)
    .await?;
    let location = format!("/api/v1/workspaces/{}/webhooks/{}", m.workspace_code, s.id);
    m.commit().await?;
    Ok(created(
        location,
        CreatedSubscription {
            subscription: s,
            secret,
        },
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

neurohub_core::fixed_sort!(
    /// Subscriptions, oldest first (`idx_webhook_subscriptions_created`).
    ByCreated, "created_at,id", Asc, [Key::time("created_at"), Key::text("id")]
);

/// The workspace's subscriptions, active and deactivated, oldest first (WORKSPACE_ADMIN; no secrets).
#[utoipa::path(
    get, path = "/workspaces/{ws}/webhooks", tag = "atp-notifications", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ListParams),
    responses(
        (status = 200, description = "A page of subscriptions", body = Page<Subscription>),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only WORKSPACE_ADMIN reads webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a member of this workspace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    mut m: Member<ReadWebhooks>,
    ApiQuery(q): ApiQuery<ListParams>,
) -> ApiResult<ApiJson<Page<Subscription>>> {
    let page = List::<ByCreated>::fixed(q.limit, q.cursor.as_deref())?;
    let (after_at, after_id) = (page.after_time(0), page.after_uuid(1)?);
    let rows: Vec<Subscription> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhook_subscriptions WHERE workspace_id = $1 \
            AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3)) ORDER BY created_at, id {}",
        page.limit_sql()
    ))
    .bind(m.workspace_id)
    .bind(after_at)
    .bind(after_id)
    .fetch_all(&mut *m.tx)
    .await?;
    drop(m);
    Ok(ApiJson(page.page(rows, |r, _| {
        vec![r.created_at.into(), r.id.to_string().into()]
    })))
}

/// One subscription (WORKSPACE_ADMIN; no secret).
#[utoipa::path(
    get, path = "/workspaces/{ws}/webhooks/{id}", tag = "atp-notifications", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The subscription", body = Subscription),
        (status = 403, description = "Only WORKSPACE_ADMIN reads webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription in this workspace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    mut m: Member<ReadWebhooks>,
    ApiPath((_ws, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<ApiJson<Subscription>> {
    let s: Option<Subscription> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhook_subscriptions WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(m.workspace_id)
    .bind(id)
    .fetch_optional(&mut *m.tx)
    .await?;
    drop(m);
    Ok(ApiJson(s.ok_or_else(|| {
        ApiError::not_found("webhook subscription")
    })?))
}

/// Deactivate a subscription (WORKSPACE_ADMIN): no new deliveries; its past deliveries stay. Idempotent.
#[utoipa::path(
    delete, path = "/workspaces/{ws}/webhooks/{id}", tag = "atp-notifications", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path)),
    responses(
        (status = 204, description = "Deactivated"),
        (status = 403, description = "Only WORKSPACE_ADMIN manages webhooks", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription in this workspace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn deactivate(
    mut m: Member<ManageWebhooks>,
    ApiPath((_ws, id)): ApiPath<(String, Uuid)>,
) -> ApiResult<axum::http::StatusCode> {
    let done: Option<Uuid> = sqlx::query_scalar(
        "UPDATE webhook_subscriptions SET is_active = false, deactivated_at = COALESCE(deactivated_at, now()) \
          WHERE workspace_id = $1 AND id = $2 RETURNING id",
    )
    .bind(m.workspace_id)
    .bind(id)
    .fetch_optional(&mut *m.tx)
    .await?;
    done.ok_or_else(|| ApiError::not_found("webhook subscription"))?;
    m.commit().await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The wait before attempt `attempts + 1` after `attempts` failed ones: 30 s, doubling, at most 6 h
/// (30 s, 1 min, 2 min, 4 min, ... 4 h 16 min, then 6 h).
pub fn backoff(attempts: i32) -> Duration {
    let secs = 30i64.saturating_mul(1i64 << (attempts.clamp(1, 20) - 1));
    Duration::seconds(secs.min(6 * 3600))
}

/// `X-NeuroHub-Signature` of `body` sent at `timestamp` (unix seconds): `t=<timestamp>,v1=<hex of
/// HMAC-SHA256(secret, "<timestamp>.<body>")>`. Receivers recompute it over the raw body and compare in constant
/// time; the timestamp lets them refuse replays.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[derive(sqlx::FromRow)]
struct Due {
    workspace_id: Uuid,
    id: Uuid,
    attempts: i32,
    url: String,
    secret: String,
    event_type: String,
    payload: Value,
    created_at: DateTime<Utc>,
}

/// What one [`deliver_due`] run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRun {
    pub delivered: u64,
    pub retried: u64,
    pub failed: u64,
}

/// Send every delivery due at `now` (owner pool: it serves every workspace, see the module docs).
pub async fn deliver_due(
    owner: &PgPool,
    client: &reqwest::Client,
    now: DateTime<Utc>,
) -> Result<DeliveryRun, sqlx::Error> {
    let mut run = DeliveryRun::default();
    loop {
        // claim a batch: lease it past the request timeout, so a crash mid-request means a later retry
        let mut tx = owner.begin().await?;
        sqlx::query("SET LOCAL row_security = off")
            .execute(&mut *tx)
            .await?;
        let due: Vec<Due> = sqlx::query_as(
            "WITH c AS ( \
                SELECT workspace_id, id FROM webhook_deliveries \
                 WHERE status = 'PENDING' AND next_attempt_at <= $1 \
                 ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED), \
             l AS ( \
                UPDATE webhook_deliveries d SET next_attempt_at = $1 + make_interval(secs => $3) FROM c \
                 WHERE d.workspace_id = c.workspace_id AND d.id = c.id \
                RETURNING d.workspace_id, d.id, d.attempts, d.outbox_id, d.subscription_id) \
             SELECT l.workspace_id, l.id, l.attempts, w.url, w.secret, o.event_type, o.payload, o.created_at \
               FROM l JOIN notification_outbox o ON o.workspace_id = l.workspace_id AND o.id = l.outbox_id \
               JOIN webhook_subscriptions w ON w.workspace_id = l.workspace_id AND w.id = l.subscription_id",
        )
        .bind(now)
        .bind(BATCH)
        .bind(2.0 * REQUEST_TIMEOUT.as_secs_f64())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let claimed = due.len() as i64;
        for d in due {
            let body = serde_json::to_vec(&serde_json::json!({
                "delivery_id": d.id, "event_type": d.event_type, "created_at": d.created_at, "data": d.payload,
            }))
            .expect("JSON values serialize");
            let sent = client
                .post(&d.url)
                .timeout(REQUEST_TIMEOUT)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("X-NeuroHub-Delivery", d.id.to_string())
                .header("X-NeuroHub-Event", &d.event_type)
                .header(
                    "X-NeuroHub-Signature",
                    signature(&d.secret, now.timestamp(), &body),
                )
                .body(body)
                .send()
                .await;
            let (code, error) = match sent {
                Ok(r) if r.status().is_success() => (Some(r.status().as_u16() as i32), None),
                Ok(r) => (
                    Some(r.status().as_u16() as i32),
                    Some(format!("HTTP {}", r.status())),
                ),
                // the URL is the admin's own; the error names no secret
                Err(e) => (
                    None,
                    Some(e.to_string().chars().take(2000).collect::<String>()),
                ),
            };
            let attempts = d.attempts + 1;
            let status = match (&error, attempts >= MAX_ATTEMPTS) {
                (None, _) => "DELIVERED",
                (Some(_), true) => "FAILED",
                (Some(_), false) => "PENDING",
            };
            match status {
                "DELIVERED" => run.delivered += 1,
                "FAILED" => run.failed += 1,
                _ => run.retried += 1,
            }
            let mut tx = owner.begin().await?;
            sqlx::query("SET LOCAL row_security = off")
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE webhook_deliveries SET status = $3, attempts = $4, last_attempt_at = $5, \
                        last_status_code = $6, last_error = $7, \
                        delivered_at = CASE WHEN $3 = 'DELIVERED' THEN $5 END, \
                        next_attempt_at = CASE WHEN $3 = 'PENDING' THEN $8 ELSE next_attempt_at END \
                  WHERE workspace_id = $1 AND id = $2 AND status = 'PENDING'",
            )
            .bind(d.workspace_id)
            .bind(d.id)
            .bind(status)
            .bind(attempts)
            .bind(now)
            .bind(code)
            .bind(error.as_deref())
            .bind(now + backoff(attempts))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        if claimed < BATCH {
            return Ok(run);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_30_seconds_up_to_6_hours() {
        let secs: Vec<i64> = (1..=12).map(|a| backoff(a).num_seconds()).collect();
        assert_eq!(
            secs,
            [30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600]
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231-style known answer computed independently: HMAC-SHA256("key", "1.{}")
        let s = signature("key", 1, b"{}");
        assert!(s.starts_with("t=1,v1="), "{s}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"1.{}");
        assert_eq!(&s[7..], hex::encode(mac.finalize().into_bytes()));
        assert_ne!(signature("other", 1, b"{}"), s);
        assert_ne!(signature("key", 2, b"{}"), s);
    }
}
