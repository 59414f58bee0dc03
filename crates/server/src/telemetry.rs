//! Logging, metrics and SQL statement counting, installed once per process.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use neurohub_core::config::LogFormat;
use neurohub_core::querycount::QueryCountLayer;
use std::sync::OnceLock;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Latency buckets (seconds): fine-grained under 10 ms, where NeuroHub aims to live.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
];

/// The process-wide Prometheus recorder (one per process: tests start many servers in one process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
                .expect("valid buckets")
                .install_recorder()
                .expect("install the metrics recorder once")
        })
        .clone()
}

fn query_counter<S>() -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    QueryCountLayer.with_filter(Targets::new().with_target("sqlx::query", tracing::Level::TRACE))
}

/// Install logging (pretty or JSON) plus the statement counter. Call once at start.
pub fn init(format: LogFormat, filter: &str) {
    let env = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(query_counter());
    let _ = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_filter(env),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().with_filter(env))
            .try_init(),
    };
}

/// For tests: statement counting plus warnings to the test output; safe to call many times.
pub fn init_for_tests() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let env =
            EnvFilter::try_from_env("NEUROHUB_TEST_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
        let _ = tracing_subscriber::registry()
            .with(query_counter())
            .with(
                tracing_subscriber::fmt::layer()
                    .with_test_writer()
                    .with_filter(env),
            )
            .try_init();
    });
}
