//! `neurohub deploy`: seed 000's execution flow as one call — database (STEP 1), backup, the ordered steps with
//! a progress line each, the coming audit partitions, and the final verification summary.

use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use crate::backup::{backup, has_user_data, BackupInfo};
use crate::engine::{current_version, pending_steps, plan, plan_from, up, Event, Timeouts};
use crate::error::SchemaError;
use crate::registry::{HEAD_VERSION, MIGRATIONS};
use crate::verify::summary::{verify_summary, Summary};

/// Options of `neurohub deploy`.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Print the plan (steps, objects, SQL) and change nothing (not even create the database).
    pub dry_run: bool,
    /// Back up to this file first (always, when given).
    pub backup: Option<PathBuf>,
    /// Skip the automatic backup of a non-empty database.
    pub no_backup: bool,
    /// Where the automatic backup goes (`neurohub-<db>-v<version>-<UTC timestamp>.dump`, checksum beside it).
    pub backup_dir: PathBuf,
    /// Version to deploy to (default: head).
    pub target: Option<i32>,
    /// Per-step timeouts.
    pub timeouts: Timeouts,
    /// Audit partitions to create ahead of the current month (default 3).
    pub partitions_ahead: i32,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            dry_run: false,
            backup: None,
            no_backup: false,
            backup_dir: PathBuf::from("."),
            target: None,
            timeouts: Timeouts::default(),
            partitions_ahead: 3,
        }
    }
}

/// What a deploy did.
#[derive(Debug, Clone)]
pub struct DeployOutcome {
    /// It was a dry run: nothing changed.
    pub dry_run: bool,
    /// STEP 1 created the database.
    pub created_database: bool,
    /// Version before.
    pub from_version: i32,
    /// Version after.
    pub to_version: i32,
    /// Steps applied by this run (0 on a second run).
    pub steps_applied: usize,
    /// The backup taken, if any.
    pub backup: Option<BackupInfo>,
    /// Audit partitions created after the migration.
    pub partitions_created: Vec<String>,
    /// Wall time.
    pub duration: Duration,
    /// The verification summary (None for a dry run).
    pub summary: Option<Summary>,
}

impl DeployOutcome {
    /// The deploy is a GO: the verification summary matched (a dry run is always ok).
    pub fn ok(&self) -> bool {
        self.summary.as_ref().is_none_or(Summary::ok)
    }
}

pub(crate) fn connect_options(
    database_url: &str,
) -> Result<(PgConnectOptions, String), SchemaError> {
    let opts = PgConnectOptions::from_str(database_url)
        .map_err(|e| SchemaError::InvalidUrl(e.to_string()))?;
    let db = opts
        .get_database()
        .map(str::to_string)
        .ok_or_else(|| SchemaError::InvalidUrl("the URL names no database".into()))?;
    Ok((opts.log_statements(tracing::log::LevelFilter::Debug), db))
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn database_exists(admin: &PgConnectOptions, db: &str) -> Result<bool, SchemaError> {
    let mut conn = PgConnection::connect_with(admin).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(db)
            .fetch_one(&mut conn)
            .await?;
    let _ = conn.close().await;
    Ok(exists)
}

/// STEP 1 of seed 000: create the database (UTF8, from template0) if it does not exist, through the server's
/// `postgres` database. Returns true when it was created.
pub async fn ensure_database(database_url: &str) -> Result<bool, SchemaError> {
    let (opts, db) = connect_options(database_url)?;
    if db.len() > 63 {
        // PostgreSQL would silently truncate it (and maybe hit another database)
        return Err(SchemaError::InvalidUrl(format!(
            "database name {db:?} is longer than 63 bytes"
        )));
    }
    let admin = opts.database("postgres");
    if database_exists(&admin, &db).await? {
        return Ok(false);
    }
    let mut conn = PgConnection::connect_with(&admin).await?;
    let sql = format!(
        "CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0",
        quote_ident(&db)
    );
    let res = sqlx::raw_sql(&sql).execute(&mut conn).await;
    let _ = conn.close().await;
    match res {
        Ok(_) => Ok(true),
        // created concurrently by someone else: fine
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Create the missing monthly audit partitions up to `months_ahead` months past now (UTC); returns their names.
/// Needs schema version 4 (the SQL function `ensure_audit_partitions`).
pub async fn ensure_audit_partitions(
    pool: &PgPool,
    months_ahead: i32,
) -> Result<Vec<String>, SchemaError> {
    let exists: bool = sqlx::query_scalar(
        "SELECT to_regprocedure('public.ensure_audit_partitions(integer)') IS NOT NULL",
    )
    .fetch_one(pool)
    .await?;
    if !exists {
        return Err(SchemaError::NeedsVersion {
            what: "ensure_audit_partitions",
            needed: 4,
            current: current_version(pool).await?,
        });
    }
    Ok(sqlx::query_scalar("SELECT ensure_audit_partitions($1)")
        .bind(months_ahead)
        .fetch_all(pool)
        .await?)
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn steps_of(version: i32) -> usize {
    MIGRATIONS
        .iter()
        .find(|m| m.version == version)
        .map_or(0, |m| m.up.len())
}

/// Progress line of one step: `[0001/03] lots_table ............ 12 ms`.
pub fn progress_line(version: i32, step_no: i32, name: &str, duration: Duration) -> String {
    let label = format!("[{version:04}/{step_no:02}] {name} ");
    format!("{label:.<48} {}", ms(duration))
}

/// Run the whole deployment flow and write a human-readable log to `out`.
pub async fn deploy(
    database_url: &str,
    opts: &DeployOptions,
    out: &mut (dyn Write + Send),
) -> Result<DeployOutcome, SchemaError> {
    let started = Instant::now();
    let (conn_opts, db) = connect_options(database_url)?;
    let target = opts.target.unwrap_or(HEAD_VERSION);
    writeln!(
        out,
        "NeuroHub deploy: database {db} on {}:{} (target schema version {target}){}",
        conn_opts.get_host(),
        conn_opts.get_port(),
        if opts.dry_run {
            " — DRY RUN, nothing will be changed"
        } else {
            ""
        }
    )?;

    if opts.dry_run {
        let admin = conn_opts.clone().database("postgres");
        let (steps, from_version) = if database_exists(&admin, &db).await? {
            writeln!(out, "STEP 1  database {db} exists")?;
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(conn_opts.clone())
                .await?;
            let v = current_version(&pool).await?;
            let p = plan(&pool, Some(target)).await;
            pool.close().await;
            (p?, v)
        } else {
            writeln!(
                out,
                "STEP 1  database {db} does not exist: it would be created (ENCODING 'UTF8')"
            )?;
            (plan_from(&Default::default(), target)?, 0)
        };
        if steps.is_empty() {
            writeln!(
                out,
                "schema is at version {from_version}; nothing to deploy"
            )?;
        }
        for s in &steps {
            writeln!(
                out,
                "\n── [{:04}/{:02}] {} ({}) ──",
                s.version,
                s.step_no,
                s.name,
                if s.transactional {
                    format!("one transaction, SAVEPOINT before_{}", s.name)
                } else {
                    "non-transactional, statement by statement".to_string()
                }
            )?;
            writeln!(out, "objects: {}", s.objects.join(", "))?;
            writeln!(out, "{}", s.sql.trim_end())?;
        }
        writeln!(
            out,
            "\nplan: {} step(s); dry run: nothing was changed",
            steps.len()
        )?;
        return Ok(DeployOutcome {
            dry_run: true,
            created_database: false,
            from_version,
            to_version: from_version,
            steps_applied: 0,
            backup: None,
            partitions_created: Vec::new(),
            duration: started.elapsed(),
            summary: None,
        });
    }

    let t0 = Instant::now();
    let created_database = ensure_database(database_url).await?;
    writeln!(
        out,
        "STEP 1  database {db} {} {}",
        if created_database {
            "created (ENCODING 'UTF8')"
        } else {
            "exists"
        },
        ms(t0.elapsed())
    )?;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(conn_opts)
        .await?;
    let result = deploy_on(
        &pool,
        &db,
        database_url,
        opts,
        target,
        out,
        created_database,
        started,
    )
    .await;
    pool.close().await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn deploy_on(
    pool: &PgPool,
    db: &str,
    database_url: &str,
    opts: &DeployOptions,
    target: i32,
    out: &mut (dyn Write + Send),
    created_database: bool,
    started: Instant,
) -> Result<DeployOutcome, SchemaError> {
    let from_version = current_version(pool).await?;
    let pending = plan(pool, Some(target)).await?.len();

    let mut backup_info = None;
    let backup_file = match &opts.backup {
        Some(f) => Some(f.clone()),
        None if !opts.no_backup && pending > 0 && has_user_data(pool).await? => Some(
            opts.backup_dir
                .join(crate::backup::backup_file_name(db, from_version)),
        ),
        None => None,
    };
    if let Some(file) = backup_file {
        writeln!(out, "backup  pg_dump -Fc → {}", file.display())?;
        let info = backup(database_url, &file).await?;
        writeln!(
            out,
            "backup  verified: {} bytes, {} entries, {}",
            info.bytes,
            info.entries,
            ms(info.duration)
        )?;
        backup_info = Some(info);
    }

    let steps_done = MIGRATIONS
        .iter()
        .filter(|m| m.version <= target)
        .map(|m| m.up.len())
        .sum::<usize>()
        - pending;
    if pending == 0 {
        writeln!(
            out,
            "schema is at version {from_version}; nothing to deploy"
        )?;
    } else if steps_done > 0 {
        writeln!(
            out,
            "resuming: {steps_done} step(s) already applied are not redone"
        )?;
    }
    let report = {
        let mut on = |e: &Event| match e {
            Event::StepApplied {
                version,
                step_no,
                name,
                duration,
            } => {
                let _ = writeln!(
                    out,
                    "{}",
                    progress_line(*version, *step_no, name, *duration)
                );
            }
            Event::VersionApplied {
                version,
                name,
                duration,
            } => {
                let _ = writeln!(
                    out,
                    "  ✓ version {version:04} {name} applied ({} steps, {})",
                    steps_of(*version),
                    ms(*duration)
                );
            }
            _ => {}
        };
        up(pool, Some(target), &opts.timeouts, &mut on).await
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            if let SchemaError::StepFailed {
                version,
                step_no,
                step_name,
                ..
            } = &e
            {
                let _ = writeln!(
                    out,
                    "[{version:04}/{step_no:02}] {step_name} FAILED — rolled back"
                );
            }
            return Err(e);
        }
    };

    let mut partitions_created = Vec::new();
    if report.to_version >= 4 {
        partitions_created = ensure_audit_partitions(pool, opts.partitions_ahead).await?;
        if !partitions_created.is_empty() {
            writeln!(
                out,
                "audit partitions created: {}",
                partitions_created.join(", ")
            )?;
        }
    }
    let pending_after = pending_steps(pool).await?;
    let summary = verify_summary(pool).await?;
    writeln!(out)?;
    write!(out, "{summary}")?;
    let duration = started.elapsed();
    writeln!(
        out,
        "Total duration: {} ({} step(s) applied; schema version {}{})",
        ms(duration),
        report.steps_applied,
        report.to_version,
        if pending_after > 0 {
            format!(", {pending_after} step(s) beyond the target")
        } else {
            String::new()
        }
    )?;
    Ok(DeployOutcome {
        dry_run: false,
        created_database,
        from_version,
        to_version: report.to_version,
        steps_applied: report.steps_applied,
        backup: backup_info,
        partitions_created,
        duration,
        summary: Some(summary),
    })
}
