//! The NeuroHub HTTP server: one axum application composed from the domain routers, with request ids, tracing,
//! metrics, OpenAPI at `/api/v1/openapi.json` and its UI at `/docs`, and the problem-type pages at `/problems`.

pub mod gauges;
pub mod health;
pub mod middleware;
pub mod openapi;
pub mod problems;
pub mod telemetry;
pub mod tls;

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
    /// The server answers over TLS (`--tls-cert`): every answer carries `Strict-Transport-Security`
    /// ([`tls::HSTS`]); never over plain HTTP, where a browser would ignore it anyway and a proxy in front owns
    /// the policy. Cookies, when the server sets any (none today), must be `Secure` when this is on.
    pub tls: bool,
    /// Whose forwarding header gives the client address (`--trusted-proxies`); empty: the TCP peer.
    pub trusted_proxies: neurohub_core::client_addr::TrustedProxies,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            tls: false,
            trusted_proxies: Default::default(),
        }
    }
}

/// Install every domain's constraint-to-error table (idempotent; `app` calls it, and so does the CLI before it
/// runs domain code outside a server).
pub fn install_error_mappings() {
    neurohub_core::constraints::install(vec![
        neurohub_identity::constraints::ERRORS,
        neurohub_mes::constraints::ERRORS,
        neurohub_atp::constraints::ERRORS,
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
        .routes(utoipa_axum::routes!(health::livez))
        .routes(utoipa_axum::routes!(health::readyz))
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
    // What the web UI calls in-process: the same routes, with the same path check and fallback (the outer
    // layers — request id, client address, access log, timeout — already ran for the UI request itself).
    let inner_api = api_router
        .clone()
        .route_layer(axum::middleware::from_fn(middleware::check_path_params))
        .fallback(middleware::not_found)
        .with_state(state.clone());
    let web =
        neurohub_web::WebState::new(inner_api, state.clone(), opts.tls, openapi::restricted_to);
    let router = api_router
        .merge(neurohub_web::router(web))
        .merge(SwaggerUi::new("/docs").url("/api/v1/openapi.json", doc))
        .merge(problems::router())
        .route_layer(axum::middleware::from_fn(middleware::check_path_params))
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(axum::middleware::from_fn(middleware::track))
        .layer(axum::middleware::from_fn_with_state(
            opts.trusted_proxies.clone(),
            middleware::client_addr,
        ))
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
        .layer(axum::middleware::from_fn(middleware::server_request_id));
    if opts.tls {
        // outermost, so every answer has it: problems, timeouts, panics, 413s included
        router.layer(axum::middleware::map_response(middleware::hsts))
    } else {
        router
    }
}

/// The domain code `neurohub verify` runs (the schema crate depends on no domain): C6 walks a scratch
/// submission through the ATP engine, MES-SEQ starts units in and out of sequence through the MES flow. The CLI's `verify` and the verify gauges both take it from here.
pub fn verify_runtime() -> neurohub_schema::VerifyRuntime {
    neurohub_schema::VerifyRuntime {
        atp_progression: Some(neurohub_atp::flow::probe::progression),
        mes_sequence: Some(neurohub_mes::flow::probe::sequence),
    }
}

/// The advisory-lock name of the audit-partition job (one node at a time, [`neurohub_core::jobs`]).
pub const PARTITION_JOB: &str = "neurohub.audit_partitions";

/// Keep the coming months' audit partitions in place (at start, then every six hours), on one node at a time:
/// two nodes creating the same partition at once would have one fail on the catalog.
pub fn spawn_partition_maintenance(pool: sqlx::PgPool) -> tokio::task::JoinHandle<()> {
    let every = Duration::from_secs(6 * 3600);
    let p = pool.clone();
    neurohub_core::jobs::spawn_periodic(pool, PARTITION_JOB, every, move || {
        let p = p.clone();
        async move {
            match neurohub_schema::ensure_audit_partitions(&p, 3).await {
                Ok(created) if !created.is_empty() => {
                    tracing::info!(?created, "created audit partitions")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not create audit partitions; inserts go to the default partition")
                }
            }
            Ok::<_, std::convert::Infallible>(())
        }
    })
    .expect("a non-zero interval spawns the job")
}

/// SIGINT / SIGTERM handlers, installed when this value is made.
///
/// Made before the server announces its address: a supervisor (or a test) that sends SIGTERM the moment it reads
/// the "listening" line must meet the graceful stop, never the default action that kills the process mid-request
/// (CI caught exactly that race: the second `up` of the CLI test was killed with no exit code).
pub struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Install the handlers now.
    pub fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves on the first SIGINT or SIGTERM.
    pub async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {},
            _ = self.terminate.recv() => {},
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown signal received; finishing in-flight requests");
    }
}

/// Serve until `stop` resolves (in the binary, [`ShutdownSignal::recv`]), then finish in-flight requests and return.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop)
    .await
}

/// Keep this process's token generations current (see `neurohub_core::auth::revocation`): LISTEN on the channel
/// the users trigger announces on, apply each notification, and reload every moved generation after each
/// (re)connect, so a notification missed while disconnected is not lost. Runs until the process ends.
pub fn spawn_revocation_listener(state: &AppState) -> tokio::task::JoinHandle<()> {
    use neurohub_core::auth::revocation::CHANNEL;
    // A connection of its own (a one-connection pool over the same options), so the listener never takes one of
    // the requests' connections.
    let pool = state.pool.clone();
    let listen_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with((*pool.connect_options()).clone());
    let revocations = state.revocations.clone();
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            let mut listener = match sqlx::postgres::PgListener::connect_with(&listen_pool).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "token revocation listener cannot connect; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            };
            if let Err(e) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %e, "token revocation listener cannot LISTEN; retrying");
                tokio::time::sleep(backoff).await;
                continue;
            }
            // LISTEN first, then load: a change committed in between is in the load or in a notification.
            match sqlx::query_as::<_, (i64, i32)>(
                "SELECT id, token_generation FROM users WHERE token_generation > 0",
            )
            .fetch_all(&pool)
            .await
            {
                Ok(rows) => revocations.merge(rows),
                Err(e) => {
                    tracing::warn!(error = %e, "token generations could not be loaded; retrying");
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            }
            backoff = Duration::from_millis(200);
            // `try_recv` answers None when the connection was lost (it reconnects on the next call): reload then.
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => revocations.apply_notification(n.payload()),
                    Ok(None) => {
                        tracing::info!("token revocation listener reconnecting");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "token revocation listener lost its connection");
                        break;
                    }
                }
            }
        }
    })
}
