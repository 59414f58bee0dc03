//! Background jobs that must run on one node at a time, whatever the number of servers.
//!
//! Every `serve` node spawns the same periodic jobs (the SLA sweep, the webhook delivery worker, ...). Each run
//! first takes a PostgreSQL **session advisory lock** named after the job (`pg_try_advisory_lock`, never
//! blocking): the node that gets it runs the job, the others skip this tick. The lock lives on one dedicated
//! pooled connection held for the whole run, so it is released by `pg_advisory_unlock` when the run ends, and by
//! PostgreSQL itself when the node dies (its session ends): a crashed node never blocks the others. If the unlock
//! cannot be confirmed (the run panicked, the connection failed) the connection is detached from the pool and
//! closed rather than returned still holding the lock.
//!
//! The jobs themselves must be idempotent and restart-safe (a run may stop anywhere); the lock only keeps two
//! nodes from doing the same work at once.

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use std::future::Future;
use std::time::Duration;

/// The advisory-lock key of a job: a stable 64-bit hash of its name, computed by PostgreSQL
/// (`hashtextextended(name, 0)`) so every node and `psql` agree on it.
const KEY_SQL: &str = "hashtextextended($1, 0)";

/// Holds the lock's connection; gives it back to the pool only after a confirmed unlock.
struct Held {
    conn: Option<PoolConnection<Postgres>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        // still here: the unlock was not confirmed (panic, cancellation, error). Closing the session releases the
        // lock; returning it to the pool would keep the lock for as long as the connection lives.
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}

/// Run `job` if no other node is running the job called `name` now; `Ok(None)` when another node holds it.
pub async fn run_exclusive<T, F, Fut>(
    pool: &PgPool,
    name: &str,
    job: F,
) -> Result<Option<T>, sqlx::Error>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = T>,
{
    let mut conn = pool.acquire().await?;
    let got: bool = sqlx::query_scalar(&format!("SELECT pg_try_advisory_lock({KEY_SQL})"))
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    if !got {
        return Ok(None);
    }
    let mut held = Held { conn: Some(conn) };
    let out = job().await;
    if let Some(conn) = held.conn.as_mut() {
        let released: bool = sqlx::query_scalar(&format!("SELECT pg_advisory_unlock({KEY_SQL})"))
            .bind(name)
            .fetch_one(&mut **conn)
            .await?;
        if released {
            // confirmed: the connection goes back to the pool without the lock
            drop(held.conn.take());
        }
    }
    Ok(Some(out))
}

/// Spawn `job` every `interval` (the first run at once) on whichever node gets the lock `name`; a zero interval
/// spawns nothing. Errors are logged, never fatal: the next tick tries again.
pub fn spawn_periodic<F, Fut, E>(
    pool: PgPool,
    name: &'static str,
    interval: Duration,
    job: F,
) -> Option<tokio::task::JoinHandle<()>>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: std::fmt::Display + Send,
{
    if interval.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_exclusive(&pool, name, &job).await {
                Ok(Some(Ok(()))) => {}
                Ok(Some(Err(e))) => tracing::warn!(job = name, error = %e, "background job failed"),
                Ok(None) => tracing::debug!(job = name, "another node runs this job now"),
                Err(e) => tracing::warn!(job = name, error = %e, "could not take the job's lock"),
            }
        }
    }))
}
