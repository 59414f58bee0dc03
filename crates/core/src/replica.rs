//! Reads on a streaming replica, writes on the primary — and the one seam that decides where a lag-tolerant read
//! goes ([`crate::AppState::read_pool`]).
//!
//! With `--database-read-url`, the lag-tolerant reads (lists, trace, recall, dashboard, audit log) go to the
//! replica while it is reachable and its lag is within `--database-read-max-lag`; otherwise they go to the
//! primary. Everything that decides (scan, start, complete, login, any write, any read inside a write transaction,
//! and the read-back of one record by id) always uses the primary pool directly.
//!
//! The routing flag is kept by one background task ([`spawn_lag_monitor`]), never per request: every
//! `--database-read-check-interval` it reads the primary's `pg_current_wal_lsn()` and then the replica's
//! `pg_last_wal_replay_lsn()` and `now() - pg_last_xact_replay_timestamp()`. The lag is 0 when the replica has
//! replayed everything the primary had written before the probe (an idle primary does not make the replay
//! timestamp's age count as lag); otherwise it is the age of the last replayed transaction. The replica is
//! left after two consecutive readings over the limit (one stray write between the two probes does not flip it)
//! or at once when it does not answer; it is taken back after one reading within the limit. Each transition is
//! logged once and counted (`neurohub_replica_fallbacks_total`). A read that fails on the replica with a
//! connection-class error is retried once on the primary ([`read_retry!`](crate::read_retry)) and sends reads to
//! the primary until the next good probe.

use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Default `--database-read-max-lag`.
pub const DEFAULT_MAX_LAG: Duration = Duration::from_secs(5);

/// How long one probe of either server may take before it counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The last probe's figures (for `/health`).
#[derive(Debug, Clone, Default)]
pub struct LagReading {
    /// The replica answered the last probe.
    pub reachable: bool,
    /// Seconds of lag (0 when caught up); `None` when unreachable or unknown.
    pub lag_seconds: Option<f64>,
    /// WAL bytes the replica has still to replay; `None` when unknown.
    pub lag_bytes: Option<f64>,
    /// Why the reads are on the primary now (`None` while on the replica).
    pub fallback_reason: Option<String>,
    /// The last probe's error, shortened.
    pub error: Option<String>,
    pub checked_at: Option<Instant>,
}

/// Where lag-tolerant reads go: the replica pool (if any) and whether it is in use now.
pub struct ReadRouting {
    replica: Option<PgPool>,
    max_lag: Duration,
    on_replica: AtomicBool,
    fallbacks: AtomicU64,
    over_limit: AtomicU64,
    reading: Mutex<LagReading>,
}

impl std::fmt::Debug for ReadRouting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadRouting")
            .field("replica", &self.replica.is_some())
            .field("max_lag", &self.max_lag)
            .field("on_replica", &self.on_replica())
            .finish()
    }
}

impl ReadRouting {
    /// No replica: every read goes to the primary.
    pub fn primary_only() -> Self {
        Self::new(None, DEFAULT_MAX_LAG)
    }

    /// Reads go to `replica` (from the start: the monitor corrects it within one interval) while it is healthy.
    pub fn new(replica: Option<PgPool>, max_lag: Duration) -> Self {
        Self {
            on_replica: AtomicBool::new(replica.is_some()),
            replica,
            max_lag,
            fallbacks: AtomicU64::new(0),
            over_limit: AtomicU64::new(0),
            reading: Mutex::new(LagReading {
                reachable: true,
                ..LagReading::default()
            }),
        }
    }

    /// The replica pool, when one is configured.
    pub fn replica(&self) -> Option<&PgPool> {
        self.replica.as_ref()
    }

    pub fn max_lag(&self) -> Duration {
        self.max_lag
    }

    /// Whether lag-tolerant reads go to the replica now (false without one).
    pub fn on_replica(&self) -> bool {
        self.replica.is_some() && self.on_replica.load(Ordering::Acquire)
    }

    /// Transitions to the primary since the start.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    pub fn reading(&self) -> LagReading {
        self.reading.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Switch reads to the primary (`reason`) or back to the replica (`None`); logs and counts a transition only.
    fn route(&self, fallback: Option<String>) {
        if self.replica.is_none() {
            return;
        }
        let to_replica = fallback.is_none();
        let was = self.on_replica.swap(to_replica, Ordering::AcqRel);
        metrics::gauge!("neurohub_replica_reads_on_primary").set(if to_replica {
            0.0
        } else {
            1.0
        });
        if was != to_replica {
            match &fallback {
                Some(reason) => {
                    self.fallbacks.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("neurohub_replica_fallbacks_total").increment(1);
                    tracing::warn!(%reason, "read replica left: lag-tolerant reads go to the primary");
                }
                None => tracing::info!("read replica back: lag-tolerant reads go to the replica"),
            }
        }
        if let Ok(mut r) = self.reading.lock() {
            r.fallback_reason = fallback;
        }
    }

    /// A read that failed on `pool` with `e`: true when it should run once more on the primary (the pool was
    /// the replica and the error is connection-class); then reads go to the primary until the next good probe.
    pub fn retry_on_primary(&self, pool: &PgPool, e: &sqlx::Error) -> bool {
        let was_replica = self.replica.as_ref().is_some_and(|r| std::ptr::eq(r, pool));
        if !was_replica || !is_connection_class(e) {
            return false;
        }
        metrics::counter!("neurohub_replica_read_retries_total").increment(1);
        self.route(Some(format!("a read failed on the replica: {e}")));
        true
    }

    /// Record one probe and route accordingly.
    fn observe(&self, probe: Result<(f64, f64), String>) {
        let max = self.max_lag.as_secs_f64();
        let (reading, fallback) = match probe {
            Ok((lag, bytes)) => {
                metrics::gauge!("neurohub_replica_up").set(1.0);
                metrics::gauge!("neurohub_replica_lag_seconds").set(lag);
                metrics::gauge!("neurohub_replica_lag_bytes").set(bytes);
                let over = lag > max;
                let streak = if over {
                    self.over_limit.fetch_add(1, Ordering::Relaxed) + 1
                } else {
                    self.over_limit.store(0, Ordering::Relaxed);
                    0
                };
                let fallback = if streak >= 2 || (over && !self.on_replica()) {
                    Some(format!(
                        "replica lag {lag:.3}s exceeds --database-read-max-lag {max:.3}s"
                    ))
                } else if over {
                    // the first reading over the limit: keep the current route until the next one confirms it
                    self.reading().fallback_reason
                } else {
                    None
                };
                (
                    LagReading {
                        reachable: true,
                        lag_seconds: Some(lag),
                        lag_bytes: Some(bytes),
                        fallback_reason: None,
                        error: None,
                        checked_at: Some(Instant::now()),
                    },
                    fallback,
                )
            }
            Err(e) => {
                metrics::gauge!("neurohub_replica_up").set(0.0);
                self.over_limit.store(0, Ordering::Relaxed);
                (
                    LagReading {
                        reachable: false,
                        lag_seconds: None,
                        lag_bytes: None,
                        fallback_reason: None,
                        error: Some(e.clone()),
                        checked_at: Some(Instant::now()),
                    },
                    Some(format!("replica unreachable: {e}")),
                )
            }
        };
        if let Ok(mut r) = self.reading.lock() {
            *r = reading;
        }
        self.route(fallback);
    }
}

/// Errors after which the same read may succeed on another server: the connection (or the pool's attempt to get
/// one) failed, the server is shutting down or starting, or a hot standby cancelled the query for a conflict with
/// recovery.
pub fn is_connection_class(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "40001")
        }),
        _ => false,
    }
}

/// Run a read on [`crate::AppState::read_pool`]; when it fails there with a connection-class error, run it once
/// more on the primary. `body` names the pool `$pool` and is evaluated at most twice (it must only read):
///
/// ```ignore
/// let rows = read_retry!(st, |pool| sqlx::query_as(SQL).bind(id).fetch_all(pool).await)?;
/// ```
///
/// A `QueryBuilder` cannot be built twice: take a connection with [`crate::AppState::read_conn`] instead (the
/// retry then covers getting the connection, not a failure mid-query).
#[macro_export]
macro_rules! read_retry {
    ($st:expr, |$pool:ident| $body:expr) => {{
        let __st: &$crate::AppState = &$st;
        let __read = __st.read_pool();
        let __first = {
            let $pool = __read;
            $body
        };
        match __first {
            Err(e) if __st.read_routing().retry_on_primary(__read, &e) => {
                let $pool = &__st.pool;
                $body
            }
            other => other,
        }
    }};
}

/// One probe: the primary's current WAL position, then the replica's replay position and replay age.
/// `Ok((lag_seconds, lag_bytes))`, or why the replica could not be measured.
pub async fn probe(primary: &PgPool, replica: &PgPool) -> Result<(f64, f64), String> {
    let current: String = tokio::time::timeout(
        PROBE_TIMEOUT,
        sqlx::query_scalar("SELECT pg_current_wal_lsn()::text").fetch_one(primary),
    )
    .await
    .map_err(|_| "the primary did not answer the lag probe in time".to_string())?
    .map_err(|e| format!("the primary did not answer the lag probe: {e}"))?;
    let row: (bool, Option<String>, Option<f64>, Option<f64>) = tokio::time::timeout(
        PROBE_TIMEOUT,
        sqlx::query_as(
            "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, \
                    CASE WHEN pg_is_in_recovery() \
                         THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END, \
                    CASE WHEN pg_is_in_recovery() \
                         THEN pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn())::float8 END",
        )
        .bind(&current)
        .fetch_one(replica),
    )
    .await
    .map_err(|_| "no answer in time".to_string())?
    .map_err(|e| short(&e))?;
    let (in_recovery, _replay_lsn, age, behind) = row;
    if !in_recovery {
        // the read URL names a primary (or a promoted replica): nothing to lag behind
        return Ok((0.0, 0.0));
    }
    let behind = behind.unwrap_or(f64::INFINITY).max(0.0);
    if behind == 0.0 {
        return Ok((0.0, 0.0));
    }
    // behind, and nothing replayed since the replica started: the lag is unknown, so over any limit
    Ok((age.unwrap_or(f64::INFINITY).max(0.0), behind))
}

fn short(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        sqlx::Error::PoolTimedOut => "timed out waiting for a connection".into(),
        other => other.to_string(),
    }
}

/// Probe every `every` and keep `routing` current (nothing without a replica or with a zero interval).
pub fn spawn_lag_monitor(
    primary: PgPool,
    routing: Arc<ReadRouting>,
    every: Duration,
) -> Option<tokio::task::JoinHandle<()>> {
    let replica = routing.replica()?.clone();
    if every.is_zero() {
        return None;
    }
    metrics::gauge!("neurohub_replica_max_lag_seconds").set(routing.max_lag().as_secs_f64());
    metrics::counter!("neurohub_replica_fallbacks_total").absolute(routing.fallbacks());
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            routing.observe(probe(&primary, &replica).await);
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routing() -> (ReadRouting, PgPool) {
        let replica = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .unwrap();
        (
            ReadRouting::new(Some(replica.clone()), Duration::from_secs(5)),
            replica,
        )
    }

    #[tokio::test]
    async fn lag_over_the_limit_twice_falls_back_and_one_good_reading_returns() {
        let (r, _) = routing();
        assert!(r.on_replica());
        r.observe(Ok((6.0, 100.0)));
        assert!(r.on_replica(), "one reading over the limit is not enough");
        r.observe(Ok((0.0, 0.0)));
        r.observe(Ok((6.0, 100.0)));
        assert!(r.on_replica(), "the streak restarts after a good reading");
        r.observe(Ok((7.0, 100.0)));
        assert!(!r.on_replica(), "two readings over the limit in a row");
        assert_eq!(r.fallbacks(), 1);
        r.observe(Ok((8.0, 100.0)));
        assert_eq!(r.fallbacks(), 1, "counted per transition, not per reading");
        r.observe(Ok((4.9, 10.0)));
        assert!(r.on_replica(), "back after one reading within the limit");
    }

    #[tokio::test]
    async fn unreachable_falls_back_at_once_and_a_replica_failure_is_retried_on_the_primary_only() {
        let (r, replica) = routing();
        r.observe(Err("down".into()));
        assert!(!r.on_replica());
        assert!(!r.reading().reachable);
        r.observe(Ok((0.0, 0.0)));
        assert!(r.on_replica());
        let refused = sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        let primary = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://nobody@127.0.0.1:1/other")
            .unwrap();
        assert!(
            !r.retry_on_primary(&primary, &refused),
            "a primary failure is not retried"
        );
        assert!(!r.retry_on_primary(r.replica().unwrap(), &sqlx::Error::RowNotFound));
        assert!(r.on_replica());
        assert!(r.retry_on_primary(r.replica().unwrap(), &refused));
        assert!(
            !r.on_replica(),
            "a failed replica read sends reads to the primary"
        );
        drop(replica);
    }

    #[test]
    fn connection_class_errors() {
        assert!(is_connection_class(&sqlx::Error::PoolTimedOut));
        assert!(is_connection_class(&sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused
        ))));
        assert!(!is_connection_class(&sqlx::Error::RowNotFound));
    }
}
