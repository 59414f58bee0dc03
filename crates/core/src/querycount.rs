//! Counting the SQL statements a request runs, so "one query per list endpoint" is observable and testable.
//!
//! sqlx emits one `sqlx::query` tracing event per statement it executes, in the task that ran it. The server
//! wraps each request in [`scope`] and a [`QueryCountLayer`] (installed by the server's telemetry) bumps the
//! task-local counter on each such event; the server reports it in the `x-db-queries` response header.

use std::cell::Cell;
use std::future::Future;
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

tokio::task_local! {
    static QUERIES: Cell<u32>;
}

/// Run `fut` with a fresh statement counter; returns its output and the number of statements it executed.
pub async fn scope<F: Future>(fut: F) -> (F::Output, u32) {
    QUERIES
        .scope(Cell::new(0), async move {
            let out = fut.await;
            let n = QUERIES.with(|c| c.get());
            (out, n)
        })
        .await
}

/// Count one statement in the current scope, if any.
pub fn record() {
    let _ = QUERIES.try_with(|c| c.set(c.get() + 1));
}

/// Tracing layer that counts `sqlx::query` events. Give it its own filter enabling `sqlx::query=debug`.
pub struct QueryCountLayer;

impl<S: Subscriber> Layer<S> for QueryCountLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            record();
        }
    }
}
