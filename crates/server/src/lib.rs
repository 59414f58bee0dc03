//! The NeuroHub HTTP server: one axum application composed from the domain routers, with request ids, tracing,
//! metrics, OpenAPI at `/api/v1/openapi.json` and its UI at `/docs`, and the problem-type pages at `/problems`.

pub mod health;
pub mod middleware;
pub mod openapi;
pub mod problems;
pub mod telemetry;

use axum::Router;
use neurohub_core::AppState;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

/// Largest request body accepted (a batch of measurements is far smaller).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Options of the HTTP layer that are not business settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub request_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Install every domain's constraint-to-error table (idempotent; `app` calls it, and so does the CLI before it
/// runs domain code outside a server).
pub fn install_error_mappings() {
    neurohub_core::constraints::install(vec![
        neurohub_identity::constraints::MAPPINGS,
        neurohub_mes::constraints::MAPPINGS,
        neurohub_atp::constraints::MAPPINGS,
    ]);
}

/// The API routes and their OpenAPI document, finished by the one post-processing pass ([`openapi::finish`]).
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest(
            "/api/v1",
            neurohub_identity::router()
                .merge(neurohub_mes::router())
                .merge(neurohub_atp::router()),
        )
        .routes(utoipa_axum::routes!(health::health))
        .routes(utoipa_axum::routes!(health::metrics))
        .split_for_parts();
    openapi::finish(&mut doc);
    (router, doc)
}

/// The whole application with its middleware stack.
pub fn app(state: AppState, opts: &HttpOptions) -> Router {
    // Install the recorder before the first request, so nothing is counted into the void.
    let _ = telemetry::metrics_handle();
    install_error_mappings();
    let (api_router, doc) = api();
    api_router
        .merge(SwaggerUi::new("/docs").url("/api/v1/openapi.json", doc))
        .merge(problems::router())
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(axum::middleware::from_fn(middleware::track))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
        .layer(axum::middleware::from_fn(middleware::timeout_to_problem))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::SERVICE_UNAVAILABLE, opts.request_timeout))
        .layer(CatchPanicLayer::custom(middleware::panic_to_problem))
        .layer(axum::middleware::from_fn(middleware::close_after_413))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
        }))
        .layer(axum::middleware::from_fn(middleware::server_request_id))
}

/// Keep the coming months' audit partitions in place (at start, then every six hours).
pub fn spawn_partition_maintenance(pool: sqlx::PgPool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(6 * 3600));
        loop {
            tick.tick().await;
            match neurohub_schema::ensure_audit_partitions(&pool, 3).await {
                Ok(created) if !created.is_empty() => {
                    tracing::info!(?created, "created audit partitions")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not create audit partitions; inserts go to the default partition")
                }
            }
        }
    })
}

/// Serve until SIGINT/SIGTERM, then finish in-flight requests and return.
pub async fn serve(listener: TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
