//! Live updates, fed by the database: one LISTEN connection per process on `neurohub_mes_activity` (migration
//! 0012's statement triggers on `process_data` and `lots`), fanned out to every open dashboard over a broadcast
//! channel, and from there as server-sent events. The listener starts with the first subscriber and reconnects
//! with backoff; after a reconnect it tells every subscriber to re-read (a notification sent while it was away
//! is not replayed by PostgreSQL).

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use sqlx::PgPool;
use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::broadcast;

/// The channel migration 0012 notifies on.
pub const CHANNEL: &str = "neurohub_mes_activity";

pub struct Hub {
    pool: PgPool,
    tx: broadcast::Sender<String>,
    started: OnceLock<()>,
}

impl Hub {
    pub fn new(pool: PgPool) -> Self {
        let (tx, _) = broadcast::channel(256);
        Self {
            pool,
            tx,
            started: OnceLock::new(),
        }
    }

    /// Receive every notification from now on (starting the listener on first use).
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        let rx = self.tx.subscribe();
        self.started.get_or_init(|| {
            tokio::spawn(listen(self.pool.clone(), self.tx.clone()));
        });
        rx
    }
}

async fn listen(pool: PgPool, tx: broadcast::Sender<String>) {
    // its own connection, never one of the requests'
    let listen_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_lazy_with((*pool.connect_options()).clone());
    let mut backoff = Duration::from_millis(200);
    let mut first = true;
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&listen_pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "live updates: cannot connect; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "live updates: cannot LISTEN; retrying");
            tokio::time::sleep(backoff).await;
            continue;
        }
        backoff = Duration::from_millis(200);
        if !first {
            let _ = tx.send("resync".into());
        }
        first = false;
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    let _ = tx.send(n.payload().to_string());
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "live updates: connection lost");
                    break;
                }
            }
        }
    }
}

/// How long events are gathered into one: a line completing 40 units in a second redraws the dashboard once.
pub const COALESCE: Duration = Duration::from_millis(300);

/// The SSE stream of a subscriber: one `changed` event per burst of notifications (and after a lagging
/// subscriber missed some), keep-alive comments in between. A task per subscriber does the gathering; it ends
/// when the browser goes (the stream, and with it the receiving end, is dropped).
pub fn stream(
    mut rx: broadcast::Receiver<String>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (out, events) = tokio::sync::mpsc::channel::<Event>(4);
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    let deadline = tokio::time::Instant::now() + COALESCE;
                    while let Ok(r) = tokio::time::timeout_at(deadline, rx.recv()).await {
                        if matches!(r, Err(broadcast::error::RecvError::Closed)) {
                            return;
                        }
                    }
                    if out
                        .send(Event::default().event("changed").data("mes"))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    let s = futures::stream::unfold(events, |mut events| async move {
        events.recv().await.map(|e| (Ok(e), events))
    });
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
