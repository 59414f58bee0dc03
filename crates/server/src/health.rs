//! `GET /health` (the full report), `GET /livez` (the process answers), `GET /readyz` (the database answers and
//! the schema is current: send traffic here) and `GET /metrics`.
//!
//! Liveness never touches the database: an orchestrator that restarts a process whose database is down would
//! only add restarts to an outage. Readiness and `/health` share one check ([`check`]).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use neurohub_core::AppState;
use serde::Serialize;
use std::time::Instant;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the database answers and the schema is at head with nothing pending; else `degraded`.
    pub status: &'static str,
    pub database: DatabaseHealth,
    pub schema: SchemaHealth,
    /// The read replica (`--database-read-url`); absent without one. A replica that is down or lagging does not
    /// make the node degraded: its reads go to the primary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica: Option<ReplicaHealth>,
    pub version: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplicaHealth {
    /// Where lag-tolerant reads go now: `replica`, or `primary` (fallback).
    pub reads_on: &'static str,
    /// The replica answered the last lag probe.
    pub reachable: bool,
    /// Lag at the last probe (0 when it had replayed all the primary had written); null when unknown.
    pub lag_seconds: Option<f64>,
    /// WAL bytes still to replay at the last probe.
    pub lag_bytes: Option<f64>,
    /// `--database-read-max-lag`.
    pub max_lag_seconds: f64,
    /// Why reads are on the primary (null while on the replica).
    pub fallback_reason: Option<String>,
    /// Times reads left the replica since the start.
    pub fallbacks_total: u64,
    /// Age of the last probe in milliseconds (null before the first).
    pub checked_ms_ago: Option<f64>,
    pub error: Option<String>,
}

fn replica_health(state: &AppState) -> Option<ReplicaHealth> {
    let routing = state.read_routing();
    routing.replica()?;
    let r = routing.reading();
    Some(ReplicaHealth {
        reads_on: if routing.on_replica() {
            "replica"
        } else {
            "primary"
        },
        reachable: r.reachable,
        lag_seconds: r.lag_seconds.filter(|l| l.is_finite()),
        lag_bytes: r.lag_bytes.filter(|l| l.is_finite()),
        max_lag_seconds: routing.max_lag().as_secs_f64(),
        fallback_reason: r.fallback_reason,
        fallbacks_total: routing.fallbacks(),
        checked_ms_ago: r.checked_at.map(|t| t.elapsed().as_secs_f64() * 1000.0),
        error: r.error,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatabaseHealth {
    pub reachable: bool,
    pub latency_ms: Option<f64>,
    pub pool_size: u32,
    pub pool_idle: usize,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaHealth {
    pub version: Option<i32>,
    pub head: i32,
    pub pending_steps: Option<usize>,
}

/// The database and schema part of the report: one ping, then the schema version and pending steps.
async fn check(state: &AppState) -> (bool, DatabaseHealth, SchemaHealth) {
    let start = Instant::now();
    let ping: Result<i32, sqlx::Error> =
        sqlx::query_scalar("SELECT 1").fetch_one(&state.pool).await;
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    let (reachable, error) = match &ping {
        Ok(_) => (true, None),
        Err(e) => (false, Some(short(e))),
    };
    let (version, pending) = if reachable {
        (
            neurohub_schema::current_version(&state.pool).await.ok(),
            neurohub_schema::pending_steps(&state.pool).await.ok(),
        )
    } else {
        (None, None)
    };
    let ok = reachable && version == Some(neurohub_schema::HEAD_VERSION) && pending == Some(0);
    (
        ok,
        DatabaseHealth {
            reachable,
            latency_ms: reachable.then_some(latency_ms),
            pool_size: state.pool.size(),
            pool_idle: state.pool.num_idle(),
            error,
        },
        SchemaHealth {
            version,
            head: neurohub_schema::HEAD_VERSION,
            pending_steps: pending,
        },
    )
}

/// 200 with `body`, or 503 with it and `Retry-After` (degraded is temporary: a restart, a deploy under way).
fn answer<T: Serialize>(ok: bool, body: T) -> Response {
    if ok {
        (StatusCode::OK, axum::Json(body)).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "1")],
            axum::Json(body),
        )
            .into_response()
    }
}

/// The full report for people and monitors: 200 when ready to serve, 503 (same body) when not.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, body = Health, description = "ready"), (status = 503, body = Health, description = "degraded")))]
pub async fn health(State(state): State<AppState>) -> Response {
    let (ok, database, schema) = check(&state).await;
    answer(
        ok,
        Health {
            status: if ok { "ok" } else { "degraded" },
            database,
            schema,
            replica: replica_health(&state),
            version: env!("CARGO_PKG_VERSION"),
        },
    )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Live {
    /// Always `alive`: the process answers.
    pub status: &'static str,
    pub version: &'static str,
}

/// Liveness: the process answers. Never touches the database (restart a process only when it is stuck).
#[utoipa::path(get, path = "/livez", tag = "operations",
    responses((status = 200, body = Live, description = "the process answers")))]
pub async fn livez() -> axum::Json<Live> {
    axum::Json(Live {
        status: "alive",
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    pub ready: bool,
    /// Why not, one line each (empty when ready).
    pub reasons: Vec<String>,
}

/// Readiness: the database answers and the schema is at this build's head with nothing pending (send traffic
/// here); 503 with the reasons and `Retry-After` otherwise.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Ready, description = "ready"), (status = 503, body = Ready, description = "not ready")))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let (ok, database, schema) = check(&state).await;
    let mut reasons = Vec::new();
    if let Some(e) = database.error {
        reasons.push(format!("database unreachable: {e}"));
    } else if !database.reachable {
        reasons.push("database unreachable".into());
    }
    if database.reachable && schema.version != Some(schema.head) {
        reasons.push(format!(
            "schema version {} is not this build's {}",
            schema.version.map_or("unknown".into(), |v| v.to_string()),
            schema.head
        ));
    }
    if let Some(n) = schema.pending_steps.filter(|n| *n > 0) {
        reasons.push(format!("{n} schema step(s) pending"));
    }
    answer(ok, Ready { ready: ok, reasons })
}

fn short(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        sqlx::Error::PoolTimedOut => "timed out waiting for a connection".into(),
        other => other.to_string(),
    }
}

/// Prometheus text exposition: request counts and latency histograms by route, DB pool gauges.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String, description = "Prometheus metrics")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    metrics::gauge!("db_pool_connections").set(state.pool.size() as f64);
    metrics::gauge!("db_pool_idle_connections").set(state.pool.num_idle() as f64);
    metrics::gauge!("db_pool_max_connections")
        .set(state.pool.options().get_max_connections() as f64);
    let body = crate::telemetry::metrics_handle().render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
