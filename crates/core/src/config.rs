//! Command-line and environment configuration shared by the binary's subcommands. Every setting has a flag and an
//! environment variable; the defaults work on a developer machine with a local PostgreSQL and nothing configured.

use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::time::Duration;

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/neurohub";

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL of the NeuroHub database (created by `up` / `deploy` when missing). Unset: the private
    /// cluster of `--pg-data-dir` when there is one, else the default address, else (`up`) a new private cluster.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// The address tried when DATABASE_URL is not set; when nothing answers there, `up` starts a private
    /// PostgreSQL of its own (see `neurohub db`).
    #[arg(long, env = "NEUROHUB_DEFAULT_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true, hide_env_values = true)]
    pub default_database_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log format: `pretty` for terminals, `json` for log shippers.
    #[arg(
        long,
        env = "NEUROHUB_LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    pub log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax), e.g. `info,neurohub_mes=debug`.
    #[arg(
        long,
        env = "NEUROHUB_LOG",
        default_value = "info,sqlx=warn",
        global = true
    )]
    pub log_level: String,
}

/// Timeouts applied to each schema step, so a deploy never waits behind a long lock.
#[derive(Debug, Clone, Args)]
pub struct DeployTimeoutArgs {
    /// How long a schema step may wait for a lock before failing (PostgreSQL lock_timeout).
    #[arg(long, env = "NEUROHUB_LOCK_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub lock_timeout: Duration,
    /// How long one schema step may run (PostgreSQL statement_timeout).
    #[arg(long, env = "NEUROHUB_STATEMENT_TIMEOUT", default_value = "5m", value_parser = humantime::parse_duration)]
    pub statement_timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// PostgreSQL URL for reads that tolerate replica lag (lists, trace, dashboard, audit log): a streaming
    /// replica. Default: the primary (DATABASE_URL).
    #[arg(long, env = "NEUROHUB_DATABASE_READ_URL", hide_env_values = true)]
    pub database_read_url: Option<String>,
    /// Longest replica lag lag-tolerant reads accept: beyond it (or while the replica does not answer) they go to
    /// the primary until it catches up. Only with `--database-read-url`.
    #[arg(long, env = "NEUROHUB_DATABASE_READ_MAX_LAG", default_value = "5s", value_parser = humantime::parse_duration)]
    pub database_read_max_lag: Duration,
    /// How often the replica's lag is measured (one background probe of each server, never per request).
    #[arg(long, env = "NEUROHUB_DATABASE_READ_CHECK_INTERVAL", default_value = "500ms", value_parser = humantime::parse_duration)]
    pub database_read_check_interval: Duration,
    /// Address the HTTP server listens on.
    #[arg(long, env = "NEUROHUB_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Serve HTTPS with this PEM certificate chain (the server's certificate first); needs `--tls-key`. With TLS
    /// every answer carries `Strict-Transport-Security`.
    #[arg(long, env = "NEUROHUB_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of `--tls-cert`.
    #[arg(long, env = "NEUROHUB_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Reverse proxies (comma-separated CIDRs or addresses, e.g. `10.0.0.0/8,192.168.1.10`) whose forwarding
    /// header gives the client address for audit rows and login throttling; from any other peer the header is
    /// ignored. Empty (the default): the TCP peer is the client.
    #[arg(long, env = "NEUROHUB_TRUSTED_PROXIES", value_name = "CIDR,...", value_delimiter = ',', value_parser = crate::client_addr::parse_cidr)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The header the trusted proxies write: `x-forwarded-for` or RFC 7239 `forwarded` (only that one is read).
    #[arg(
        long,
        env = "NEUROHUB_PROXY_HEADER",
        value_enum,
        default_value = "x-forwarded-for"
    )]
    pub proxy_header: crate::client_addr::ProxyHeader,
    /// Secret for signing access tokens (at least 32 bytes), the same on every node. `serve` refuses to start
    /// without it (unless `--dev`); `up` keeps one in `--jwt-secret-file` when it is unset.
    #[arg(long, env = "NEUROHUB_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Where `up` keeps its signing key when NEUROHUB_JWT_SECRET is unset: made once (random, owner-only) and
    /// reused by every later `up`, so sessions survive a restart.
    #[arg(
        long,
        env = "NEUROHUB_JWT_SECRET_FILE",
        default_value = "var/jwt-secret"
    )]
    pub jwt_secret_file: std::path::PathBuf,
    /// Lifetime of access tokens.
    #[arg(long, env = "NEUROHUB_ACCESS_TOKEN_TTL", default_value = "15m", value_parser = humantime::parse_duration)]
    pub access_token_ttl: Duration,
    /// Lifetime of refresh tokens.
    #[arg(long, env = "NEUROHUB_REFRESH_TOKEN_TTL", default_value = "14d", value_parser = humantime::parse_duration)]
    pub refresh_token_ttl: Duration,
    /// Failed sign-ins of one username from one client address before each further failure makes that
    /// (username, address) wait, doubling from `--login-backoff-base`. Other addresses are not affected.
    #[arg(long, env = "NEUROHUB_LOGIN_MAX_FAILURES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub login_max_failures: u32,
    /// Failed sign-ins from one client address, over all usernames, before that address waits.
    #[arg(long, env = "NEUROHUB_LOGIN_ADDRESS_MAX_FAILURES", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100000))]
    pub login_address_max_failures: u32,
    /// The first wait after the free failures; it doubles with each further failure.
    #[arg(long, env = "NEUROHUB_LOGIN_BACKOFF_BASE", default_value = "1s", value_parser = humantime::parse_duration)]
    pub login_backoff_base: Duration,
    /// The longest wait.
    #[arg(long, env = "NEUROHUB_LOGIN_BACKOFF_MAX", default_value = "15m", value_parser = humantime::parse_duration)]
    pub login_backoff_max: Duration,
    /// Sign-in and refresh requests one client address may make per minute (also the burst).
    #[arg(long, env = "NEUROHUB_AUTH_RATE_PER_MINUTE", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=1000000))]
    pub auth_rate_per_minute: u32,
    /// Maximum database connections in the pool.
    #[arg(long, env = "NEUROHUB_DB_MAX_CONNECTIONS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: u32,
    /// The planner's cost of a random page read in request sessions (PostgreSQL's random_page_cost): 1.1 models
    /// a working set in memory or on SSD; 4 (PostgreSQL's default) spinning disks.
    #[arg(long, env = "NEUROHUB_DB_RANDOM_PAGE_COST", default_value_t = crate::db::DEFAULT_RANDOM_PAGE_COST, value_parser = parse_page_cost)]
    pub db_random_page_cost: f64,
    /// How long a request waits for a free connection before answering 503.
    #[arg(long, env = "NEUROHUB_DB_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub db_acquire_timeout: Duration,
    /// Longest a request may take before it is answered 503 and its work rolled back.
    #[arg(long, env = "NEUROHUB_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
}

impl ServeArgs {
    pub fn settings(&self) -> crate::Settings {
        crate::Settings {
            throttle: crate::auth::throttle::ThrottleConfig {
                free_failures: self.login_max_failures,
                address_free_failures: self.login_address_max_failures,
                backoff_base: self.login_backoff_base,
                backoff_max: self.login_backoff_max,
                rate_per_minute: self.auth_rate_per_minute,
            },
        }
    }

    pub fn trusted_proxies(&self) -> crate::client_addr::TrustedProxies {
        crate::client_addr::TrustedProxies::new(self.trusted_proxies.clone(), self.proxy_header)
    }

    pub fn pool_config(&self) -> crate::db::PoolConfig {
        crate::db::PoolConfig {
            max_connections: self.db_max_connections,
            acquire_timeout: self.db_acquire_timeout,
            random_page_cost: Some(self.db_random_page_cost),
            ..Default::default()
        }
    }
}

/// A `random_page_cost` PostgreSQL accepts and that means something: a finite number from 0.1 to 100.
fn parse_page_cost(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number (e.g. 1.1)"))?;
    if v.is_finite() && (0.1..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("`{s}` is out of range: 0.1 to 100"))
    }
}
