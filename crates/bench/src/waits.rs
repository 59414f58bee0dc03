//! Where PostgreSQL's sessions of one side spend a measured window: `pg_stat_activity` sampled every 10 ms for
//! the sessions of one application name (the server's request pool, or pgbench), each sample counting how many
//! of them run on a CPU, wait on a lock, on a lightweight lock, on I/O (the WAL flush of a commit), or sit idle
//! inside a transaction waiting for their client's next statement. The average over the window is the number of
//! sessions in each state: when a ratio misses while the cores are not saturated (the station write), this
//! says what the sessions waited for instead, and how long the client kept a transaction — and its row locks —
//! open between statements.

use anyhow::Result;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often `pg_stat_activity` is read.
const EVERY: Duration = Duration::from_millis(10);

/// The sessions of one side over one window: on average, how many were in each state.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Waits {
    pub samples: u64,
    /// state → average number of sessions in it ("CPU", "client (in transaction)", "Lock:transactionid", …)
    pub sessions: BTreeMap<String, f64>,
}

impl Waits {
    /// Average sessions whose state starts with `prefix` ("Lock", "LWLock", "IO", "CPU", "client").
    pub fn of(&self, prefix: &str) -> f64 {
        // + 0.0: the sum of nothing is -0.0
        self.sessions
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .sum::<f64>()
            + 0.0
    }

    /// Average sessions in any state but those the table names.
    pub fn other(&self) -> f64 {
        self.sessions
            .iter()
            .filter(|(k, _)| {
                !["CPU", "client", "Lock", "LWLock", "IO"]
                    .iter()
                    .any(|p| k.starts_with(p))
            })
            .map(|(_, v)| v)
            .sum::<f64>()
            + 0.0
    }

    /// The busiest states, for the results: `Lock:transactionid 3.1, IO:WalSync 1.2`.
    pub fn top(&self, n: usize) -> String {
        let mut v: Vec<_> = self.sessions.iter().collect();
        v.sort_by(|a, b| b.1.total_cmp(a.1));
        v.into_iter()
            .take(n)
            .map(|(k, s)| format!("{k} {s:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A running sampler; [`Sampler::stop`] ends it and gives the averages.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Result<Waits>>,
}

/// Start sampling the sessions named `application_name` after `delay` (the warm-up).
pub fn start(db: &PgPool, application_name: &str, delay: Duration) -> Sampler {
    let stop = Arc::new(AtomicBool::new(false));
    let (db, name, flag) = (db.clone(), application_name.to_string(), stop.clone());
    let task = tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let mut conn = db.acquire().await?;
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut samples = 0u64;
        let mut tick = tokio::time::interval(EVERY);
        while !flag.load(Ordering::Relaxed) {
            tick.tick().await;
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT CASE WHEN state = 'idle in transaction' THEN 'client (in transaction)' \
                             WHEN wait_event_type IS NULL THEN 'CPU' \
                             ELSE wait_event_type || ':' || wait_event END, count(*) \
                   FROM pg_stat_activity \
                  WHERE application_name = $1 AND state IN ('active', 'idle in transaction') \
                  GROUP BY 1",
            )
            .bind(&name)
            .fetch_all(&mut *conn)
            .await?;
            samples += 1;
            for (k, n) in rows {
                *counts.entry(k).or_default() += n as u64;
            }
        }
        Ok(Waits {
            samples,
            sessions: counts
                .into_iter()
                .map(|(k, n)| (k, n as f64 / samples.max(1) as f64))
                .collect(),
        })
    });
    Sampler { stop, task }
}

impl Sampler {
    pub async fn stop(self) -> Result<Waits> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_summed_by_kind() {
        let w = Waits {
            samples: 10,
            sessions: [
                ("CPU".to_string(), 0.5),
                ("Lock:tuple".to_string(), 7.0),
                ("Lock:transactionid".to_string(), 1.0),
                ("LWLock:WALWrite".to_string(), 0.25),
                ("Client:ClientRead".to_string(), 0.25),
            ]
            .into_iter()
            .collect(),
        };
        assert_eq!(w.of("Lock:"), 8.0);
        assert_eq!(w.of("LWLock"), 0.25);
        assert_eq!(w.other(), 0.25);
        assert_eq!(format!("{:.1}", w.of("IO")), "0.0");
        assert_eq!(w.top(2), "Lock:tuple 7.0, Lock:transactionid 1.0");
    }
}
