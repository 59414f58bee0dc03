//! `GET /health` and `GET /metrics`.

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
    pub version: &'static str,
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

/// Liveness and readiness in one: 200 when ready to serve, 503 (same body) when not.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, body = Health, description = "ready"), (status = 503, body = Health, description = "degraded")))]
pub async fn health(State(state): State<AppState>) -> Response {
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
    let body = Health {
        status: if ok { "ok" } else { "degraded" },
        database: DatabaseHealth {
            reachable,
            latency_ms: reachable.then_some(latency_ms),
            pool_size: state.pool.size(),
            pool_idle: state.pool.num_idle(),
            error,
        },
        schema: SchemaHealth {
            version,
            head: neurohub_schema::HEAD_VERSION,
            pending_steps: pending,
        },
        version: env!("CARGO_PKG_VERSION"),
    };
    if ok {
        (StatusCode::OK, axum::Json(body)).into_response()
    } else {
        // Degraded is temporary (a restart, a deploy under way): say when to look again.
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "1")],
            axum::Json(body),
        )
            .into_response()
    }
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
