//! Shared application state handed to every route.

use axum::http::Extensions;
use sqlx::PgPool;
use std::sync::Arc;

use crate::auth::revocation::Revocations;
use crate::auth::throttle::{LoginThrottle, ThrottleConfig};
use crate::auth::tokens::TokenKeys;

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
    /// Reads that tolerate replica lag (lists, trace, dashboard, audit log). The same database unless
    /// `--database-read-url` points at a replica, so scaling reads out needs no handler change.
    pub read_pool: PgPool,
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
            read_pool: pool.clone(),
            pool,
            tokens: Arc::new(tokens),
            revocations: Arc::new(Revocations::default()),
            throttle: Arc::new(LoginThrottle::new(settings.throttle.clone())),
            settings: Arc::new(settings),
            extensions: Arc::new(Extensions::new()),
        }
    }

    /// Send lag-tolerant reads to `read_pool`.
    pub fn with_read_pool(mut self, read_pool: PgPool) -> Self {
        self.read_pool = read_pool;
        self
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
