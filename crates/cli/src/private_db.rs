//! The private PostgreSQL of `neurohub up` and `neurohub db` (docs/runbooks.md, "The private database"): a cluster
//! of its own in `--pg-data-dir` (default `var/postgres`), reached over its Unix socket in that folder.
//!
//! Which database a command uses when DATABASE_URL is not set (or set to the default address, as the repository's
//! `.cargo/config.toml` does for `cargo run`):
//! 1. the private cluster, when its folder has been initialized (`up` starts it when stopped);
//! 2. otherwise the default address, when a server answers there;
//! 3. otherwise (`up` only) a new private cluster: `initdb` into the folder, then start it.
//!
//! `up` stops the cluster when it exits if it started it; a cluster started by `neurohub db start` keeps running.

use std::process::ExitCode;
use std::time::Duration;

use neurohub_core::db;
use neurohub_pgcluster::{Cluster, Status, StopMode};
use sqlx::Connection;

use crate::commands::CliError;
use neurohub_core::config::DatabaseArgs;

use crate::{DbAction, PgArgs};

/// The database name inside the private cluster.
const DB_NAME: &str = "neurohub";

fn pg_error(e: neurohub_pgcluster::Error) -> CliError {
    match e {
        neurohub_pgcluster::Error::NotFound(n) => CliError::Config(n.to_string()),
        other => CliError::Other(format!("private PostgreSQL: {other}")),
    }
}

/// A cluster command (initdb / pg_ctl wait for the server) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> neurohub_pgcluster::Result<T> + Send + 'static,
) -> Result<T, CliError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CliError::Other(e.to_string()))?
        .map_err(pg_error)
}

/// The cluster of `--pg-data-dir` with the binaries of `--pg-bin-dir` (or found; those of the folder's major
/// version preferred).
pub fn cluster(pg: &PgArgs) -> Result<Cluster, CliError> {
    let major = Cluster::data_major(&pg.pg_data_dir);
    let bin = neurohub_pgcluster::find_bin_dir(pg.pg_bin_dir.as_deref(), major)
        .map_err(|e| CliError::Config(e.to_string()))?;
    let mut c = Cluster::new(&pg.pg_data_dir, bin).map_err(pg_error)?;
    if let Some(port) = pg.pg_port {
        c = c.with_tcp("127.0.0.1", port);
    }
    Ok(c)
}

/// Put the private cluster's binaries first on PATH, so the `pg_dump` / `pg_restore` this process runs (backup
/// before a deploy, `backup`, `audit archive`) are of the server's own version even when they are not on PATH
/// (Homebrew's keg-only `postgresql@16`, a second major version on Debian). Set before any of them runs.
fn tools_first_on_path(c: &Cluster) {
    let mut dirs = vec![c.bin_dir().to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    if let Ok(joined) = std::env::join_paths(dirs) {
        std::env::set_var("PATH", joined);
    }
}

/// The URL the user asked for: DATABASE_URL, unless unset or equal to the default address.
fn explicit_url(db: &DatabaseArgs) -> Option<String> {
    db.database_url
        .clone()
        .filter(|u| u != &db.default_database_url)
}

fn initialized(pg: &PgArgs) -> bool {
    Cluster::data_major(&pg.pg_data_dir).is_some()
}

/// Whether a PostgreSQL server answers at `url` at all (any answer, even a refusal, counts; a refused or timed
/// out connection does not).
async fn answers(url: &str) -> Result<bool, CliError> {
    let opts = db::connect_options(url)?;
    let attempt = tokio::time::timeout(
        Duration::from_secs(3),
        sqlx::PgConnection::connect_with(&opts),
    )
    .await;
    Ok(match attempt {
        Err(_) => false,
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            true
        }
        Ok(Err(sqlx::Error::Io(_))) | Ok(Err(sqlx::Error::PoolTimedOut)) => false,
        Ok(Err(_)) => true,
    })
}

/// The URL of every command but `up` and `db`: explicit, the private cluster when it runs, else the default.
pub fn url_for_command(db: &DatabaseArgs, pg: &PgArgs) -> String {
    if let Some(u) = explicit_url(db) {
        return u;
    }
    if initialized(pg) {
        if let Ok(c) = cluster(pg) {
            if c.status().ok() == Some(Status::Running) {
                tools_first_on_path(&c);
                return c.url(DB_NAME);
            }
        }
    }
    db.default_database_url.clone()
}

/// `<folder>/started-by-up.pid`: the `up` that started the running cluster and will stop it. A cluster started by
/// `neurohub db start` has none, and keeps running; one whose `up` died is taken over by the next `up`.
fn marker(c: &Cluster) -> std::path::PathBuf {
    c.root().join("started-by-up.pid")
}

fn marker_pid(c: &Cluster) -> Option<u32> {
    std::fs::read_to_string(marker(c)).ok()?.trim().parse().ok()
}

fn write_marker(c: &Cluster) {
    let _ = std::fs::write(marker(c), format!("{}\n", std::process::id()));
}

fn remove_marker(c: &Cluster) {
    let _ = std::fs::remove_file(marker(c));
}

fn alive(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The private cluster while `up` uses it: stopped (cleanly) on drop when `up` started it.
pub struct UpDatabase {
    cluster: Option<Cluster>,
}

impl Drop for UpDatabase {
    fn drop(&mut self) {
        if let Some(c) = self.cluster.take() {
            match c.stop(StopMode::Fast) {
                Ok(()) => {
                    remove_marker(&c);
                    println!("Private PostgreSQL in {} stopped", c.root().display())
                }
                Err(e) => eprintln!("error: could not stop the private PostgreSQL: {e}"),
            }
        }
    }
}

/// `up`'s database URL, starting (and creating) the private cluster when that is the one to use.
pub async fn url_for_up(
    db_args: &DatabaseArgs,
    pg: &PgArgs,
) -> Result<(String, UpDatabase), CliError> {
    let none = UpDatabase { cluster: None };
    if let Some(u) = explicit_url(db_args) {
        return Ok((u, none));
    }
    if !initialized(pg) {
        let default = &db_args.default_database_url;
        if answers(default).await? {
            return Ok((default.clone(), none));
        }
        let c = cluster(pg).map_err(|e| match e {
            CliError::Config(m) => CliError::Config(format!(
                "DATABASE_URL is not set and no PostgreSQL answers at {}, so `up` would start a private one in {}, but {m}",
                db::redact_url(default),
                pg.pg_data_dir.display()
            )),
            other => other,
        })?;
        let c2 = c.clone();
        blocking(move || c2.ensure_initialized()).await?;
        println!(
            "No PostgreSQL answers at {}: created a private one in {} (PostgreSQL binaries in {})",
            db::redact_url(default),
            c.root().display(),
            c.bin_dir().display()
        );
    }
    let c = cluster(pg)?;
    let status = c.status().map_err(pg_error)?;
    let guard = if status == Status::Running {
        match marker_pid(&c) {
            Some(pid) if !alive(pid) => {
                // an earlier `up` died without stopping it (SIGKILL, SIGHUP, a crash): this one takes it over
                write_marker(&c);
                println!(
                    "Using the private PostgreSQL in {} left running by an earlier `up` (pid {pid}) that did not stop it; stopped when up exits",
                    c.root().display()
                );
                UpDatabase {
                    cluster: Some(c.clone()),
                }
            }
            _ => {
                println!(
                    "Using the private PostgreSQL already running in {} (left running on exit)",
                    c.root().display()
                );
                none
            }
        }
    } else {
        let c2 = c.clone();
        blocking(move || c2.start()).await?;
        write_marker(&c);
        println!(
            "Private PostgreSQL started in {} (Unix socket only{}; stopped when up exits)",
            c.root().display(),
            match pg.pg_port {
                Some(p) => format!(", and TCP 127.0.0.1:{p} with password auth"),
                None => String::new(),
            }
        );
        UpDatabase {
            cluster: Some(c.clone()),
        }
    };
    tools_first_on_path(&c);
    Ok((c.url(DB_NAME), guard))
}

/// `neurohub db start | stop | status | url`.
pub async fn db_command(pg: &PgArgs, action: DbAction) -> Result<ExitCode, CliError> {
    let c = cluster(pg)?;
    match action {
        DbAction::Start => {
            let c2 = c.clone();
            let created = blocking(move || c2.ensure_initialized()).await?;
            if created {
                println!("initialized a private PostgreSQL in {}", c.root().display());
            }
            // started by hand, it keeps running whatever `up` does
            remove_marker(&c);
            if c.status().map_err(pg_error)? == Status::Running {
                println!("already running in {}", c.root().display());
            } else {
                let c2 = c.clone();
                blocking(move || c2.start()).await?;
                println!("started in {}", c.root().display());
            }
            neurohub_schema::ensure_database(&c.url(DB_NAME)).await?;
            println!("DATABASE_URL={}", c.url(DB_NAME));
            Ok(ExitCode::SUCCESS)
        }
        DbAction::Stop => {
            match c.status().map_err(pg_error)? {
                Status::Running => {
                    let c2 = c.clone();
                    blocking(move || c2.stop(StopMode::Fast)).await?;
                    remove_marker(&c);
                    println!("stopped the private PostgreSQL in {}", c.root().display());
                }
                s => println!("{} in {}: nothing to stop", s.label(), c.root().display()),
            }
            Ok(ExitCode::SUCCESS)
        }
        DbAction::Status => {
            let s = c.status().map_err(pg_error)?;
            println!("{} in {}", s.label(), c.root().display());
            if s == Status::Running {
                println!("DATABASE_URL={}", c.url(DB_NAME));
                if let Some(tcp) = c.tcp_url(DB_NAME) {
                    println!("TCP (password auth): {tcp}");
                }
            }
            println!("server log: {}", c.log_file().display());
            // like pg_ctl status: 0 running, 3 not running
            Ok(ExitCode::from(if s == Status::Running { 0 } else { 3 }))
        }
        DbAction::Url => {
            println!("{}", c.url(DB_NAME));
            Ok(ExitCode::SUCCESS)
        }
    }
}
