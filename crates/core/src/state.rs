//! Shared application state handed to every route.

use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::tokens::TokenKeys;

/// Business settings that routes read (all configurable by flag and environment; see `neurohub serve --help`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// How many times a unit may be reworked before it is scrapped.
    pub max_rework: i32,
    /// Consecutive failed logins before an account is locked for `login_lockout`.
    pub login_max_failures: i32,
    pub login_lockout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_rework: 3,
            login_max_failures: 5,
            login_lockout: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub tokens: Arc<TokenKeys>,
    pub settings: Arc<Settings>,
}

impl AppState {
    pub fn new(pool: PgPool, tokens: TokenKeys, settings: Settings) -> Self {
        Self {
            pool,
            tokens: Arc::new(tokens),
            settings: Arc::new(settings),
        }
    }
}
