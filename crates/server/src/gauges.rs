//! The verify report as Prometheus gauges on `/metrics`: the decision, the score, each check's status and the
//! orphan count of every relationship, refreshed by the server at start and then on a schedule (the `up` /
//! `serve` flag `--verify-interval`, default 15 minutes). Alerting on `neurohub_verify_decision > 0` or
//! `neurohub_orphan_rows > 0` catches a database drifting from its go state between deployments.

use std::time::Duration;

use neurohub_schema::verify::report::{Report, Status};
use neurohub_schema::{verify_report, ModuleFilter};

/// Publish one report's figures as gauges (labels: check `id`, orphan `relationship` and `constraint`).
pub fn publish(report: &Report) {
    metrics::gauge!("neurohub_verify_decision").set(report.decision.gauge() as f64);
    metrics::gauge!("neurohub_verify_checks_passed").set(report.score.passed as f64);
    metrics::gauge!("neurohub_verify_checks_failed").set(report.score.failed as f64);
    metrics::gauge!("neurohub_verify_checks_skipped").set(report.score.skipped as f64);
    let ratio = if report.score.total == 0 {
        0.0
    } else {
        report.score.passed as f64 / report.score.total as f64
    };
    metrics::gauge!("neurohub_verify_score_ratio").set(ratio);
    metrics::gauge!("neurohub_verify_run_milliseconds").set(report.duration_ms);
    metrics::gauge!("neurohub_verify_last_run_timestamp_seconds").set(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default(),
    );
    for c in &report.checks {
        // 0 passed, 1 failed, 2 skipped
        let v = match c.status {
            Status::Passed => 0.0,
            Status::Failed => 1.0,
            Status::Skipped => 2.0,
        };
        metrics::gauge!("neurohub_verify_check_status", "id" => c.id.clone()).set(v);
    }
    for o in &report.orphans {
        metrics::gauge!("neurohub_orphan_rows", "relationship" => o.relationship.clone(),
                        "constraint" => o.constraint.clone())
        .set(o.orphans as f64);
    }
}

/// Run verify once and publish it; a failure to run is logged and leaves the previous figures (the
/// `neurohub_verify_last_run_timestamp_seconds` gauge shows how old they are).
pub async fn refresh(pool: &sqlx::PgPool) -> Option<Report> {
    match verify_report(pool, ModuleFilter::All, crate::verify_runtime()).await {
        Ok(r) => {
            publish(&r);
            if r.decision != neurohub_schema::Decision::Go {
                tracing::warn!(decision = r.decision.label(), reasons = ?r.reasons, "verify is not GO");
            }
            Some(r)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not run verify for the gauges");
            None
        }
    }
}

/// Refresh at start, then every `every` (none when zero). Runs on the owner pool: verify's behavioural checks
/// set the request role and write inside rolled-back transactions.
pub fn spawn_verify_gauges(
    pool: sqlx::PgPool,
    every: Duration,
) -> Option<tokio::task::JoinHandle<()>> {
    if every.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            refresh(&pool).await;
        }
    }))
}
