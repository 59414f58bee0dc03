//! Logging, metrics and SQL statement counting, installed once per process.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use neurohub_core::config::LogFormat;
use neurohub_core::querycount::QueryCountLayer;
use std::sync::OnceLock;
use std::time::Duration;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Latency buckets (seconds): fine-grained under 10 ms, where NeuroHub aims to live.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
];

/// How often the recorder's histogram samples are folded into their buckets (the exporter's own listener does
/// it every 5 s too).
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The name of the upkeep thread (`/proc/<pid>/task/*/comm`).
pub const UPKEEP_THREAD: &str = "metrics-upkeep";

/// The process-wide Prometheus recorder (one per process: tests start many servers in one process), with its
/// upkeep running.
///
/// The recorder keeps every histogram sample in a queue until something drains it: a scrape of `/metrics`, or
/// the upkeep. Installed with `install_recorder` and never scraped, as a plant without Prometheus runs it, the
/// queue grew by one sample per request for as long as the process lived — ~16 bytes each, the climb of the
/// server's RSS across the benchmark's scenarios (40.8 → 54.4 MB, ~600 k requests in round 4).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
                .expect("valid buckets")
                .install_recorder()
                .expect("install the metrics recorder once");
            spawn_upkeep(handle.clone(), UPKEEP_EVERY);
            handle
        })
        .clone()
}

/// Fold `handle`'s histogram samples into their buckets every `every`, on a thread of its own for the life of
/// the process (the recorder is process-wide; a task would end with the runtime that spawned it).
pub fn spawn_upkeep(handle: PrometheusHandle, every: Duration) {
    std::thread::Builder::new()
        .name(UPKEEP_THREAD.into())
        .spawn(move || loop {
            std::thread::sleep(every);
            handle.run_upkeep();
        })
        .expect("spawn the metrics upkeep thread");
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

#[cfg(test)]
mod tests {
    use super::*;
    use metrics::{Key, Metadata, Recorder};

    fn rss_anon_kb() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .expect("/proc/self/status")
            .lines()
            .find_map(|l| l.strip_prefix("RssAnon:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .expect("RssAnon in /proc/self/status")
    }

    /// 4 M samples that nothing scrapes: ~32 MB held if the upkeep does not fold them away. (nextest runs each test
    /// in a process of its own, so the process's memory is this test's.)
    #[test]
    fn the_upkeep_keeps_unscraped_histograms_from_growing() {
        let recorder = PrometheusBuilder::new().build_recorder();
        spawn_upkeep(recorder.handle(), Duration::from_millis(20));
        let meta = Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));
        let h = recorder.register_histogram(&Key::from_name("upkeep_test_duration_seconds"), &meta);
        let before = rss_anon_kb();
        for _ in 0..40 {
            for _ in 0..100_000 {
                h.record(0.001);
            }
            std::thread::sleep(Duration::from_millis(40));
        }
        let grown = rss_anon_kb().saturating_sub(before);
        assert!(
            grown < 8 * 1024,
            "4 M unscraped samples left the heap {grown} kB larger"
        );
    }

    #[test]
    fn the_process_recorder_runs_its_upkeep() {
        let _ = metrics_handle();
        let names = || -> Vec<String> {
            std::fs::read_dir("/proc/self/task")
                .expect("/proc/self/task")
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .map(|n| n.trim().to_string())
                .collect()
        };
        // a new thread names itself once it runs
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !names().iter().any(|n| n == UPKEEP_THREAD) {
            assert!(
                std::time::Instant::now() < deadline,
                "no {UPKEEP_THREAD} thread among {:?}",
                names()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
