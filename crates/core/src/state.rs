//! Shared application state handed to every route.

use axum::http::Extensions;
use sqlx::PgPool;
use std::sync::Arc;

use crate::auth::revocation::Revocations;
use crate::auth::throttle::{LoginThrottle, ThrottleConfig};
use crate::auth::tokens::TokenKeys;
use crate::replica::ReadRouting;

/// Platform settings that routes read (all configurable by flag and environment; see `neurohub serve --help`).
/// A domain's own settings (the MES's rework limit, say) live in the domain crate and reach its handlers as an
/// [`AppState::extension`].
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Login throttling and the sign-in rate limit (see [`crate::auth::throttle`]).
    pub throttle: ThrottleConfig,
}

#[derive(Clone)]
pub struct AppState {
    /// The primary, request role: every write and every read that decides something (scan before a write, login).
    pub pool: PgPool,
    /// Where reads that tolerate replica lag go (lists, trace, dashboard, audit log): see [`Self::read_pool`].
    read: Arc<ReadRouting>,
    pub tokens: Arc<TokenKeys>,
    /// Token generations of this process (kept current by the server's LISTEN task).
    pub revocations: Arc<Revocations>,
    pub settings: Arc<Settings>,
    /// Failed sign-ins and the sign-in rate of this process, per address (in memory; see the module's docs).
    pub throttle: Arc<LoginThrottle>,
    extensions: Arc<Extensions>,
}

impl AppState {
    /// State whose reads go to the primary too.
    pub fn new(pool: PgPool, tokens: TokenKeys, settings: Settings) -> Self {
        Self {
            read: Arc::new(ReadRouting::primary_only()),
            pool,
            tokens: Arc::new(tokens),
            revocations: Arc::new(Revocations::default()),
            throttle: Arc::new(LoginThrottle::new(settings.throttle.clone())),
            settings: Arc::new(settings),
            extensions: Arc::new(Extensions::new()),
        }
    }

    /// Send lag-tolerant reads to `read_pool` (with the default lag limit).
    pub fn with_read_pool(self, read_pool: PgPool) -> Self {
        self.with_read_replica(read_pool, crate::replica::DEFAULT_MAX_LAG)
    }

    /// Send lag-tolerant reads to the replica `replica` while it answers and lags at most `max_lag` (kept by
    /// [`crate::replica::spawn_lag_monitor`] on [`Self::read_routing`]).
    pub fn with_read_replica(mut self, replica: PgPool, max_lag: std::time::Duration) -> Self {
        self.read = Arc::new(ReadRouting::new(Some(replica), max_lag));
        self
    }

    /// The one seam for lag-tolerant reads (lists, trace, recall, dashboard, audit log): the replica while it is
    /// reachable and within its lag limit, else the primary. Never use it for a read that decides a write (scan
    /// before start, login) or inside a write transaction: those use [`Self::pool`]. Pair it with
    /// [`crate::read_retry!`] to retry a connection failure once on the primary.
    pub fn read_pool(&self) -> &PgPool {
        match self.read.replica() {
            Some(replica) if self.read.on_replica() => replica,
            _ => &self.pool,
        }
    }

    /// A connection from [`Self::read_pool`], or from the primary when the replica cannot give one (a
    /// connection-class failure: down, restarting, out of connections within its acquire timeout). For reads built
    /// with a `QueryBuilder`, which cannot be run twice; [`crate::read_retry!`] also retries a failure mid-query.
    pub async fn read_conn(
        &self,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, sqlx::Error> {
        crate::read_retry!(self, |pool| pool.acquire().await)
    }

    /// The replica routing (lag figures, fallback state) for health, metrics and the lag monitor.
    pub fn read_routing(&self) -> &Arc<ReadRouting> {
        &self.read
    }

    /// Add a domain's settings (or any shared value of a type the domain owns).
    pub fn with_extension<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        Arc::make_mut(&mut self.extensions).insert(value);
        self
    }

    /// A value added with [`Self::with_extension`]; `T::default()` when none was (so tests and tools that build a
    /// bare state get the documented defaults).
    pub fn extension<T: Clone + Default + Send + Sync + 'static>(&self) -> T {
        self.extensions.get::<T>().cloned().unwrap_or_default()
    }
}
