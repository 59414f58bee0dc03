//! Connecting to PostgreSQL, with one clear message when it fails; the pools requests run on.
//!
//! Two kinds of pool. The *owner* pool ([`connect`]) is the login of DATABASE_URL as it is: deploy, verify,
//! backup, the first admin and the audit-partition job use it (they create and own schema objects). The *request*
//! pools ([`connect_requests`], [`request_pool`]) switch every new connection to the role [`REQUEST_ROLE`]
//! (the `role` startup parameter: once per connection, no statement per request) — created by migration 0005 without SUPERUSER or BYPASSRLS —
//! so every statement an API request runs is subject to the row-level-security policies and to that role's
//! privileges (append-only audit log), even when DATABASE_URL names the postgres superuser.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

/// The database role API requests run as (migration 0005 creates it; `neurohub verify` checks it is neither
/// superuser nor BYPASSRLS).
pub const REQUEST_ROLE: &str = "neurohub_app";

/// The `application_name` of request-pool connections; owner-pool connections (deploy, verify, background jobs,
/// gauges) are `neurohub`. `pg_stat_activity` and the statement log tell API traffic from background work by it
/// (the load driver's statement capture relies on that: a gauge query must not pass for a request's).
pub const REQUEST_APPLICATION_NAME: &str = "neurohub-request";

/// Pool sizing. Acquire waits are bounded so overload becomes a 503, not a pile-up.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout: Duration,
    /// Server-side cap for any API statement, so a runaway query cannot hold a connection forever.
    pub statement_timeout: Option<Duration>,
    /// The planner's cost of a random page read in request sessions (PostgreSQL's `random_page_cost`; None: the
    /// server's setting). See [`DEFAULT_RANDOM_PAGE_COST`].
    pub random_page_cost: Option<f64>,
}

/// `random_page_cost` of request sessions. PostgreSQL's default, 4.0, models spinning disks (a random read four
/// times a sequential one); an OLTP database whose working set is in memory or on SSD is modelled by 1.1 (the
/// value PostgreSQL's documentation suggests for SSDs). With 4.0 the planner preferred a bitmap scan and a sort of
/// all of an approver's 1,865 ACTIVE stages to reading 101 of them in index order for one page of pending
/// approvals: 14 ms against 3.2 ms per call on the reference data set (docs/performance.md).
pub const DEFAULT_RANDOM_PAGE_COST: f64 = 1.1;

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_connections: 16,
            min_connections: 1,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(30)),
            random_page_cost: Some(DEFAULT_RANDOM_PAGE_COST),
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

/// Open an owner pool (the login of `url` as it is) and prove it works with one round trip.
pub async fn connect(url: &str, cfg: &PoolConfig) -> Result<PgPool, ConnectError> {
    open(url, connect_options(url)?, cfg, false).await
}

/// Open a request pool on `url`: every connection runs as [`REQUEST_ROLE`].
pub async fn connect_requests(url: &str, cfg: &PoolConfig) -> Result<PgPool, ConnectError> {
    open(url, connect_options(url)?, cfg, true).await
}

/// A request pool on `url` that connects on first use: a replica that is down at start must not stop the server
/// (its reads go to the primary until it answers; see [`crate::replica`]).
pub fn connect_requests_lazy(url: &str, cfg: &PoolConfig) -> Result<PgPool, ConnectError> {
    // Every checkout pinged, unlike the primary's pools: reads routed here fall back to the primary only when
    // the failure comes at checkout (a QueryBuilder read cannot be run twice), so a replica that was stopped a
    // moment ago must be found out by the ping, not by the request's statement (crates/cli/tests/replica.rs).
    Ok(pool_options(cfg)
        .test_before_acquire(true)
        .connect_lazy_with(request_options(connect_options(url)?, cfg, true)))
}

/// A request pool over the same database and login as `owner` (tests, and `up`, which deploys first).
pub async fn request_pool(owner: &PgPool, cfg: &PoolConfig) -> Result<PgPool, ConnectError> {
    let opts = (*owner.connect_options()).clone();
    let url = format!(
        "postgres://{}@{}:{}/{}",
        opts.get_username(),
        opts.get_host(),
        opts.get_port(),
        opts.get_database().unwrap_or("")
    );
    open(&url, opts, cfg, true).await
}

fn request_options(
    mut opts: PgConnectOptions,
    cfg: &PoolConfig,
    as_request_role: bool,
) -> PgConnectOptions {
    if let Some(t) = cfg.statement_timeout {
        opts = opts.options([("statement_timeout", format!("{}", t.as_millis()))]);
    }
    if as_request_role {
        // A startup parameter rather than a `SET ROLE` after connecting: no extra statement per new connection,
        // and a connection can never be handed out before the switch. The role is a constant, never user input;
        // the connection fails (and so does the pool) when the schema that creates the role is not deployed.
        opts = opts
            .options([("role", REQUEST_ROLE)])
            .application_name(REQUEST_APPLICATION_NAME);
        // No JIT for request sessions: the statements are short OLTP reads and writes whose *estimated* cost can
        // still cross jit_above_cost. Measured on 2,000 lots / 100 k units / 89 k open units
        // (docs/performance.md): the dashboard's plan spent 1.5 s of 5.4 s compiling (old plan), and 81 ms of
        // 87 ms with the counters of migration 0011 (5.7 ms without JIT). Owner sessions (deploy, verify,
        // backup, seed) keep the server default.
        opts = opts.options([("jit", "off")]);
        if let Some(c) = cfg.random_page_cost {
            opts = opts.options([("random_page_cost", c.to_string())]);
        }
    }
    opts
}

/// A connection that sat idle at least this long is pinged before it is handed out; one used more recently is
/// handed out as it is (the window HikariCP calls the alive-bypass window).
///
/// sqlx's default pings *every* checkout: one extra round trip per request. Measured on the reference set
/// (bench/results/2026-12-02.md, scan at 10 clients) the ping was a third of the statements PostgreSQL saw.
/// A connection that worked a second ago and has died since is rare (server restart, failover); the request
/// that meets it fails with a connection error that maps to 503 (`constraints::is_connection_loss`), the pool
/// drops that connection, and the client's retry (with its Idempotency-Key for writes) gets a fresh one. The
/// replica's pool ([`connect_requests_lazy`]) keeps the ping on every checkout: its reads fall back to the
/// primary on a checkout failure.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

fn pool_options(cfg: &PoolConfig) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(cfg.max_connections)
        .min_connections(cfg.min_connections)
        .acquire_timeout(cfg.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

async fn open(
    url: &str,
    opts: PgConnectOptions,
    cfg: &PoolConfig,
    as_request_role: bool,
) -> Result<PgPool, ConnectError> {
    pool_options(cfg)
        .connect_with(request_options(opts, cfg, as_request_role))
        .await
        .map_err(|e| ConnectError::Unreachable {
            url: redact_url(url),
            reason: short_reason(&e),
        })
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
