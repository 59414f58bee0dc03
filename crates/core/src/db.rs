//! Connecting to PostgreSQL, with one clear message when it fails.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

/// Pool sizing. Acquire waits are bounded so overload becomes a 503, not a pile-up.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout: Duration,
    /// Server-side cap for any API statement, so a runaway query cannot hold a connection forever.
    pub statement_timeout: Option<Duration>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_connections: 16,
            min_connections: 1,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// Why the database could not be used, phrased for an operator.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("DATABASE_URL `{url}` is not a valid PostgreSQL URL: {reason}. Use postgres://USER[:PASSWORD]@HOST:PORT/DBNAME")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot connect to PostgreSQL at `{url}`: {reason}. Is PostgreSQL running and reachable? Set DATABASE_URL or --database-url to the right server")]
    Unreachable { url: String, reason: String },
}

/// The URL with any password replaced, safe for logs and messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<unparseable url>".to_string(),
    }
}

/// The database name in a URL (for messages and for creating it when missing).
pub fn database_name(url: &str) -> Option<String> {
    PgConnectOptions::from_str(url)
        .ok()
        .and_then(|o| o.get_database().map(str::to_string))
}

pub fn connect_options(url: &str) -> Result<PgConnectOptions, ConnectError> {
    PgConnectOptions::from_str(url)
        .map(|o| o.application_name("neurohub"))
        .map_err(|e| ConnectError::InvalidUrl {
            url: redact_url(url),
            reason: e.to_string(),
        })
}

/// Open a pool and prove it works with one round trip.
pub async fn connect(url: &str, cfg: &PoolConfig) -> Result<PgPool, ConnectError> {
    let mut opts = connect_options(url)?;
    if let Some(t) = cfg.statement_timeout {
        opts = opts.options([("statement_timeout", format!("{}", t.as_millis()))]);
    }
    let pool = PgPoolOptions::new()
        .max_connections(cfg.max_connections)
        .min_connections(cfg.min_connections)
        .acquire_timeout(cfg.acquire_timeout)
        .connect_with(opts)
        .await
        .map_err(|e| ConnectError::Unreachable {
            url: redact_url(url),
            reason: short_reason(&e),
        })?;
    Ok(pool)
}

fn short_reason(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::PoolTimedOut => "timed out".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert!(!redact_url("garbage").contains("garbage"));
    }

    #[test]
    fn database_names() {
        assert_eq!(
            database_name("postgres://postgres@127.0.0.1:5432/neurohub").as_deref(),
            Some("neurohub")
        );
    }

    #[tokio::test]
    async fn unreachable_database_message_names_the_url_and_the_fix() {
        let err = connect(
            "postgres://postgres:pw@127.0.0.1:1/nowhere",
            &PoolConfig {
                acquire_timeout: Duration::from_secs(2),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("postgres://postgres:***@127.0.0.1:1/nowhere"),
            "{msg}"
        );
        assert!(msg.contains("DATABASE_URL"), "{msg}");
        assert!(!msg.contains(":pw@"), "{msg}");
    }
}
