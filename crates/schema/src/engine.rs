//! The migration engine: history tables, one transaction per step (with a savepoint and timeouts), resume from
//! the first unapplied step, checksums of applied steps, one transaction per reverted version, and an advisory
//! lock so that two deploys never run at once.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgPool, Postgres};

use crate::error::{pg_failure, SchemaError};
use crate::registry::{Migration, Step, HEAD_VERSION, MIGRATIONS};

/// Fixed key of the session advisory lock held while migrating ("NHSCHEMA").
pub const ADVISORY_LOCK_KEY: i64 = 0x4E48_5343_4845_4D41;

/// Timeouts set on every step (`SET LOCAL` inside the step's transaction). A short lock_timeout makes a step
/// that would queue behind a long-running transaction fail fast instead of blocking every other writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `lock_timeout` for each step.
    pub lock_timeout: Duration,
    /// `statement_timeout` for each step.
    pub statement_timeout: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            lock_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(300),
        }
    }
}

/// Progress of `up` / `down`, delivered to the caller's callback as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A step is about to run.
    StepStarted {
        version: i32,
        step_no: i32,
        name: String,
    },
    /// A step was applied (committed).
    StepApplied {
        version: i32,
        step_no: i32,
        name: String,
        duration: Duration,
    },
    /// A step was already applied earlier and is not redone.
    StepSkipped {
        version: i32,
        step_no: i32,
        name: String,
    },
    /// Every step of a version is now applied.
    VersionApplied {
        version: i32,
        name: String,
        duration: Duration,
    },
    /// A version's down script was committed.
    VersionReverted {
        version: i32,
        name: String,
        duration: Duration,
    },
}

/// One line of `neurohub migrate status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionStatus {
    /// Version number.
    pub version: i32,
    /// Migration name.
    pub name: String,
    /// Steps recorded as applied.
    pub applied_steps: usize,
    /// Steps in the migration.
    pub total_steps: usize,
    /// When the version was completed (None while not fully applied).
    pub applied_at: Option<DateTime<Utc>>,
}

impl VersionStatus {
    /// Every step applied.
    pub fn is_applied(&self) -> bool {
        self.applied_steps == self.total_steps
    }
}

/// A step `up` would run (for `--dry-run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStep {
    /// Version.
    pub version: i32,
    /// 1-based step number.
    pub step_no: i32,
    /// Step name.
    pub name: String,
    /// Whether it runs in one transaction.
    pub transactional: bool,
    /// Objects the SQL creates or alters (parsed from the SQL, e.g. `table lots`, `index idx_lots_status`).
    pub objects: Vec<String>,
    /// The SQL itself.
    pub sql: String,
}

/// Result of `up`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpReport {
    /// Version before.
    pub from_version: i32,
    /// Version after.
    pub to_version: i32,
    /// Steps applied by this run (0: nothing to do).
    pub steps_applied: usize,
    /// Steps skipped because already applied (a resumed run skips the completed ones).
    pub steps_skipped: usize,
    /// Wall time.
    pub duration: Duration,
}

/// Result of `down`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownReport {
    /// Version before.
    pub from_version: i32,
    /// Version after.
    pub to_version: i32,
    /// Versions reverted, newest first.
    pub reverted: Vec<i32>,
    /// Wall time.
    pub duration: Duration,
}

/// sha256 (hex) of a step's SQL, recorded when applied and compared on every later run.
pub fn checksum(sql: &str) -> String {
    let digest = Sha256::digest(sql.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn version_checksum(m: &Migration) -> String {
    let all: String =
        m.up.iter()
            .map(|s| checksum(s.sql))
            .collect::<Vec<_>>()
            .join(":");
    checksum(&all)
}

type Applied = HashMap<(i32, i32), String>;

const HISTORY_DDL: &str = "
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT        NOT NULL,
    checksum    TEXT        NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration_ms BIGINT      NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_migration_steps (
    version     INTEGER     NOT NULL,
    step_no     INTEGER     NOT NULL,
    name        TEXT        NOT NULL,
    checksum    TEXT        NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration_ms BIGINT      NOT NULL,
    PRIMARY KEY (version, step_no)
);
-- Which version is deployed is no secret: every role may read it (the server's request role reports it in /health
-- whatever version the database is at); only the deploying login writes it.
GRANT SELECT ON schema_migrations, schema_migration_steps TO PUBLIC;";

async fn history_exists(conn: &mut sqlx::PgConnection) -> Result<bool, SchemaError> {
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('public.schema_migration_steps') IS NOT NULL")
            .fetch_one(&mut *conn)
            .await?;
    Ok(exists)
}

async fn load_applied(conn: &mut sqlx::PgConnection) -> Result<Applied, SchemaError> {
    if !history_exists(conn).await? {
        return Ok(Applied::new());
    }
    let rows: Vec<(i32, i32, String)> =
        sqlx::query_as("SELECT version, step_no, checksum FROM schema_migration_steps")
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().map(|(v, s, c)| ((v, s), c)).collect())
}

fn verify_applied(applied: &Applied) -> Result<(), SchemaError> {
    let mut keys: Vec<_> = applied.keys().copied().collect();
    keys.sort();
    for (v, s) in keys {
        let step = MIGRATIONS
            .iter()
            .find(|m| m.version == v)
            .and_then(|m| m.up.get((s - 1) as usize));
        match step {
            None => {
                return Err(SchemaError::UnknownMigration {
                    version: v,
                    step_no: s,
                    head: HEAD_VERSION,
                })
            }
            Some(step) => {
                let embedded = checksum(step.sql);
                let recorded = &applied[&(v, s)];
                if &embedded != recorded {
                    return Err(SchemaError::ChecksumMismatch {
                        version: v,
                        step_no: s,
                        step_name: step.name.to_string(),
                        applied: recorded.clone(),
                        embedded,
                    });
                }
            }
        }
    }
    Ok(())
}

fn applied_count(applied: &Applied, m: &Migration) -> usize {
    (1..=m.up.len() as i32)
        .filter(|s| applied.contains_key(&(m.version, *s)))
        .count()
}

/// Highest version v such that every step of versions 1..=v is applied.
fn version_of(applied: &Applied) -> i32 {
    let mut current = 0;
    for m in MIGRATIONS {
        if applied_count(applied, m) == m.up.len() {
            current = m.version;
        } else {
            break;
        }
    }
    current
}

fn check_target(target: i32) -> Result<(), SchemaError> {
    if !(0..=HEAD_VERSION).contains(&target) {
        return Err(SchemaError::InvalidTarget {
            target,
            reason: format!("versions go from 0 to {HEAD_VERSION}"),
        });
    }
    Ok(())
}

/// Per-version status, for `neurohub migrate status`. Read-only: creates nothing.
pub async fn status(pool: &PgPool) -> Result<Vec<VersionStatus>, SchemaError> {
    let mut conn = pool.acquire().await?;
    let applied = load_applied(&mut conn).await?;
    let mut done: HashMap<i32, DateTime<Utc>> = HashMap::new();
    if history_exists(&mut conn).await? {
        let rows: Vec<(i32, DateTime<Utc>)> =
            sqlx::query_as("SELECT version, applied_at FROM schema_migrations")
                .fetch_all(&mut *conn)
                .await?;
        done.extend(rows);
    }
    Ok(MIGRATIONS
        .iter()
        .map(|m| {
            let applied_steps = applied_count(&applied, m);
            VersionStatus {
                version: m.version,
                name: m.name.to_string(),
                applied_steps,
                total_steps: m.up.len(),
                applied_at: if applied_steps == m.up.len() {
                    done.get(&m.version).copied()
                } else {
                    None
                },
            }
        })
        .collect())
}

/// The highest fully-applied version (0 for an empty database).
pub async fn current_version(pool: &PgPool) -> Result<i32, SchemaError> {
    let mut conn = pool.acquire().await?;
    Ok(version_of(&load_applied(&mut conn).await?))
}

/// Steps not yet applied up to head.
pub async fn pending_steps(pool: &PgPool) -> Result<usize, SchemaError> {
    let mut conn = pool.acquire().await?;
    let applied = load_applied(&mut conn).await?;
    Ok(MIGRATIONS
        .iter()
        .map(|m| m.up.len() - applied_count(&applied, m))
        .sum())
}

/// What `up(target)` would run, without changing anything (for `deploy --dry-run`).
pub async fn plan(pool: &PgPool, target: Option<i32>) -> Result<Vec<PlannedStep>, SchemaError> {
    let mut conn = pool.acquire().await?;
    let applied = load_applied(&mut conn).await?;
    verify_applied(&applied)?;
    plan_from(&applied, target.unwrap_or(HEAD_VERSION))
}

pub(crate) fn plan_from(
    applied: &HashMap<(i32, i32), String>,
    target: i32,
) -> Result<Vec<PlannedStep>, SchemaError> {
    check_target(target)?;
    let mut out = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version <= target) {
        for (i, step) in m.up.iter().enumerate() {
            let step_no = i as i32 + 1;
            if !applied.contains_key(&(m.version, step_no)) {
                out.push(PlannedStep {
                    version: m.version,
                    step_no,
                    name: step.name.to_string(),
                    transactional: step.transactional,
                    objects: parse_objects(step.sql),
                    sql: step.sql.to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// The objects a step creates or alters, parsed from its SQL (comments ignored): `function f`, `table t`,
/// `index i`, `trigger t`, `constraint c`, `rows in t`.
pub fn parse_objects(sql: &str) -> Vec<String> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"(?ix)
            \bCREATE\s+(?:OR\s+REPLACE\s+)?(?:UNIQUE\s+)?(?P<kind>TABLE|INDEX|FUNCTION|TRIGGER|SCHEMA|VIEW)\s+
                (?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_.]*)
            | \bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(?P<altered>[A-Za-z_][A-Za-z0-9_.]*)
            | \b(?:ADD|VALIDATE)\s+CONSTRAINT\s+(?P<constraint>[A-Za-z_][A-Za-z0-9_]*)
            | \bINSERT\s+INTO\s+(?P<rows>[A-Za-z_][A-Za-z0-9_.]*)",
        )
        .expect("valid regex")
    });
    let stripped: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out: Vec<String> = Vec::new();
    for c in re.captures_iter(&stripped) {
        let item = if let (Some(k), Some(n)) = (c.name("kind"), c.name("name")) {
            format!("{} {}", k.as_str().to_lowercase(), n.as_str())
        } else if let Some(t) = c.name("altered") {
            format!("table {}", t.as_str())
        } else if let Some(n) = c.name("constraint") {
            format!("constraint {}", n.as_str())
        } else if let Some(t) = c.name("rows") {
            format!("rows in {}", t.as_str())
        } else {
            continue;
        };
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Split SQL into statements (for non-transactional steps, whose statements must each run on their own).
/// Understands `--` comments, quotes and dollar quotes. Returns (1-based first line, statement).
pub(crate) fn split_statements(sql: &str) -> Vec<(usize, String)> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut start) = (0usize, 0usize);
    let mut dollar: Option<String> = None;
    while i < bytes.len() {
        if let Some(tag) = &dollar {
            if sql[i..].starts_with(tag.as_str()) {
                i += tag.len();
                dollar = None;
            } else {
                i += 1;
            }
            continue;
        }
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                let rest = &sql[i + 1..];
                let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
                match end {
                    Some(e) if rest.as_bytes().get(e) == Some(&b'$') => {
                        let tag = format!("${}$", &rest[..e]);
                        i += tag.len();
                        dollar = Some(tag);
                    }
                    _ => i += 1,
                }
            }
            b';' => {
                push_statement(sql, start, i, &mut out);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    push_statement(sql, start, sql.len(), &mut out);
    out
}

fn push_statement(sql: &str, start: usize, end: usize, out: &mut Vec<(usize, String)>) {
    let chunk = &sql[start..end.min(sql.len())];
    // skip leading blank and comment-only lines, so the reported line is the statement's first line
    let mut offset = 0;
    for l in chunk.split_inclusive('\n') {
        let t = l.trim();
        if t.is_empty() || t.starts_with("--") {
            offset += l.len();
        } else {
            break;
        }
    }
    let body = &chunk[offset..];
    if body.trim().is_empty() {
        return;
    }
    let lead = body.len() - body.trim_start().len();
    let line = sql[..start + offset + lead].matches('\n').count() + 1;
    out.push((line, body.trim().to_string()));
}

/// The lock is a session lock on one dedicated connection: if the process dies, the connection closes and
/// PostgreSQL releases it. A second deploy waits, then finds nothing left to do.
async fn lock(pool: &PgPool) -> Result<PoolConnection<Postgres>, SchemaError> {
    let mut conn = pool.acquire().await?;
    // Poll with pg_try_advisory_lock instead of blocking in pg_advisory_lock: a session blocked inside a
    // statement holds a snapshot, and CREATE INDEX CONCURRENTLY (run by the lock holder) waits for every older
    // snapshot — a deadlock. Between tries this session is idle and in no transaction.
    let mut announced = false;
    loop {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(ADVISORY_LOCK_KEY)
            .fetch_one(&mut *conn)
            .await?;
        if got {
            return Ok(conn);
        }
        if !announced {
            tracing::info!(
                "another neurohub deploy/migrate holds the schema lock; waiting for it to finish"
            );
            announced = true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn unlock(mut conn: PoolConnection<Postgres>) {
    let ok = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(ADVISORY_LOCK_KEY)
        .execute(&mut *conn)
        .await
        .is_ok();
    if !ok {
        // closing the session releases the lock
        let _ = conn.detach().close().await;
    }
}

fn timeouts_sql(t: &Timeouts, local: bool) -> String {
    let scope = if local { "SET LOCAL" } else { "SET" };
    format!(
        "{scope} lock_timeout = '{}ms'; {scope} statement_timeout = '{}ms'",
        t.lock_timeout.as_millis().max(1),
        t.statement_timeout.as_millis().max(1)
    )
}

/// Apply pending steps up to `target` (default head), in order, each in its own transaction; resume after the
/// last applied step. Returns what was done; on failure the failing step is rolled back and reported.
pub async fn up(
    pool: &PgPool,
    target: Option<i32>,
    t: &Timeouts,
    on: &mut (dyn FnMut(&Event) + Send),
) -> Result<UpReport, SchemaError> {
    let target = target.unwrap_or(HEAD_VERSION);
    check_target(target)?;
    let mut conn = lock(pool).await?;
    let res = up_locked(&mut conn, target, t, on).await;
    unlock(conn).await;
    res
}

async fn up_locked(
    conn: &mut sqlx::PgConnection,
    target: i32,
    t: &Timeouts,
    on: &mut (dyn FnMut(&Event) + Send),
) -> Result<UpReport, SchemaError> {
    let started = Instant::now();
    sqlx::raw_sql(HISTORY_DDL).execute(&mut *conn).await?;
    let applied = load_applied(conn).await?;
    verify_applied(&applied)?;
    let from_version = version_of(&applied);
    if target < from_version {
        return Err(SchemaError::InvalidTarget {
            target,
            reason: format!("the database is at version {from_version}; use `neurohub migrate down --to {target}`"),
        });
    }
    let recorded: Vec<i32> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await?;
    let (mut steps_applied, mut steps_skipped) = (0usize, 0usize);
    for m in MIGRATIONS.iter().filter(|m| m.version <= target) {
        let v_started = Instant::now();
        let mut ran = false;
        for (i, step) in m.up.iter().enumerate() {
            let step_no = i as i32 + 1;
            let name = step.name.to_string();
            if applied.contains_key(&(m.version, step_no)) {
                steps_skipped += 1;
                on(&Event::StepSkipped {
                    version: m.version,
                    step_no,
                    name,
                });
                continue;
            }
            on(&Event::StepStarted {
                version: m.version,
                step_no,
                name: name.clone(),
            });
            let duration = run_step(conn, m, step_no, step, t).await?;
            steps_applied += 1;
            ran = true;
            on(&Event::StepApplied {
                version: m.version,
                step_no,
                name,
                duration,
            });
        }
        if ran || !recorded.contains(&m.version) {
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, checksum, duration_ms)
                 SELECT $1, $2, $3, COALESCE(sum(duration_ms), 0)::bigint FROM schema_migration_steps WHERE version = $1
                 ON CONFLICT (version) DO NOTHING",
            )
            .bind(m.version)
            .bind(m.name)
            .bind(version_checksum(m))
            .execute(&mut *conn)
            .await?;
            on(&Event::VersionApplied {
                version: m.version,
                name: m.name.to_string(),
                duration: v_started.elapsed(),
            });
        }
    }
    let after = load_applied(conn).await?;
    Ok(UpReport {
        from_version,
        to_version: version_of(&after),
        steps_applied,
        steps_skipped,
        duration: started.elapsed(),
    })
}

async fn record_step(
    conn: &mut sqlx::PgConnection,
    m: &Migration,
    step_no: i32,
    step: &Step,
    ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO schema_migration_steps (version, step_no, name, checksum, duration_ms) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(m.version)
    .bind(step_no)
    .bind(step.name)
    .bind(checksum(step.sql))
    .bind(ms)
    .execute(conn)
    .await
    .map(|_| ())
}

async fn run_step(
    conn: &mut sqlx::PgConnection,
    m: &Migration,
    step_no: i32,
    step: &Step,
    t: &Timeouts,
) -> Result<Duration, SchemaError> {
    let started = Instant::now();
    let fail = |e: &sqlx::Error, sql: Option<&str>, line_offset: usize| {
        let mut pg = pg_failure(e, sql);
        pg.line = pg.line.map(|l| l + line_offset);
        SchemaError::StepFailed {
            version: m.version,
            step_no,
            step_name: step.name.to_string(),
            pg: Box::new(pg),
        }
    };
    if step.transactional {
        let mut tx = conn.begin().await?;
        let prelude = format!("{}; SAVEPOINT before_{}", timeouts_sql(t, true), step.name);
        sqlx::raw_sql(&prelude).execute(&mut *tx).await?;
        if let Err(e) = sqlx::raw_sql(step.sql).execute(&mut *tx).await {
            let err = fail(&e, Some(step.sql), 0);
            let _ = sqlx::raw_sql(&format!("ROLLBACK TO SAVEPOINT before_{}", step.name))
                .execute(&mut *tx)
                .await;
            let _ = tx.rollback().await;
            tracing::warn!(
                version = m.version,
                step_no,
                step = step.name,
                "migration step failed: {err}"
            );
            return Err(err);
        }
        let ms = started.elapsed().as_millis() as i64;
        if let Err(e) = record_step(&mut tx, m, step_no, step, ms).await {
            let _ = tx.rollback().await;
            return Err(fail(&e, None, 0));
        }
        tx.commit().await.map_err(|e| fail(&e, None, 0))?;
    } else {
        sqlx::raw_sql(&timeouts_sql(t, false))
            .execute(&mut *conn)
            .await?;
        let mut result = Ok(());
        for (line, stmt) in split_statements(step.sql) {
            if let Err(e) = sqlx::raw_sql(&stmt).execute(&mut *conn).await {
                result = Err(fail(&e, Some(&stmt), line - 1));
                break;
            }
        }
        if result.is_ok() {
            let ms = started.elapsed().as_millis() as i64;
            result = record_step(conn, m, step_no, step, ms)
                .await
                .map_err(|e| fail(&e, None, 0));
        }
        let _ = sqlx::raw_sql("RESET lock_timeout; RESET statement_timeout")
            .execute(&mut *conn)
            .await;
        result?;
    }
    Ok(started.elapsed())
}

/// Revert versions above `target`, newest first, each version's down script in ONE transaction (with the
/// timeouts and a savepoint). Refuses when a version above the target is only partially applied.
pub async fn down(
    pool: &PgPool,
    target: i32,
    t: &Timeouts,
    on: &mut (dyn FnMut(&Event) + Send),
) -> Result<DownReport, SchemaError> {
    check_target(target)?;
    let mut conn = lock(pool).await?;
    let res = down_locked(&mut conn, target, t, on).await;
    unlock(conn).await;
    res
}

async fn down_locked(
    conn: &mut sqlx::PgConnection,
    target: i32,
    t: &Timeouts,
    on: &mut (dyn FnMut(&Event) + Send),
) -> Result<DownReport, SchemaError> {
    let started = Instant::now();
    sqlx::raw_sql(HISTORY_DDL).execute(&mut *conn).await?;
    let applied = load_applied(conn).await?;
    verify_applied(&applied)?;
    let from_version = version_of(&applied);
    for m in MIGRATIONS.iter().filter(|m| m.version > target) {
        let n = applied_count(&applied, m);
        if n > 0 && n < m.up.len() {
            return Err(SchemaError::PartiallyApplied {
                version: m.version,
                applied: n,
                total: m.up.len(),
            });
        }
    }
    if let Some(m) = MIGRATIONS
        .iter()
        .find(|m| m.version > from_version && applied_count(&applied, m) > 0)
    {
        return Err(SchemaError::InvalidTarget {
            target,
            reason: format!(
                "version {} is applied above the incomplete version {}",
                m.version,
                from_version + 1
            ),
        });
    }
    let mut reverted = Vec::new();
    for m in MIGRATIONS.iter().rev().filter(|m| m.version > target) {
        if applied_count(&applied, m) == 0 {
            continue;
        }
        let v_started = Instant::now();
        let mut tx = conn.begin().await?;
        let prelude = format!(
            "{}; SAVEPOINT before_down_{:04}",
            timeouts_sql(t, true),
            m.version
        );
        sqlx::raw_sql(&prelude).execute(&mut *tx).await?;
        if let Err(e) = sqlx::raw_sql(m.down).execute(&mut *tx).await {
            let pg = pg_failure(&e, Some(m.down));
            let _ = tx.rollback().await;
            return Err(SchemaError::DownFailed {
                version: m.version,
                name: m.name.to_string(),
                pg: Box::new(pg),
            });
        }
        sqlx::query("DELETE FROM schema_migration_steps WHERE version = $1")
            .bind(m.version)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM schema_migrations WHERE version = $1")
            .bind(m.version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        reverted.push(m.version);
        on(&Event::VersionReverted {
            version: m.version,
            name: m.name.to_string(),
            duration: v_started.elapsed(),
        });
    }
    Ok(DownReport {
        from_version,
        to_version: target.min(from_version),
        reverted,
        duration: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements_and_keeps_lines() {
        let sql =
            "-- c;\nDROP INDEX a;\nCREATE INDEX b ON t (x);\nDO $$ BEGIN PERFORM 1; END $$;\n";
        let s = split_statements(sql);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0], (2, "DROP INDEX a".to_string()));
        assert_eq!(s[1].0, 3);
        assert_eq!(s[2].1, "DO $$ BEGIN PERFORM 1; END $$");
    }

    #[test]
    fn parses_objects() {
        let o = parse_objects(crate::registry::MIGRATIONS[0].up[2].sql);
        assert!(o.contains(&"table lots".to_string()), "{o:?}");
        assert!(o.contains(&"index idx_lots_status".to_string()), "{o:?}");
        assert!(
            o.contains(&"trigger trg_lots_updated_at".to_string()),
            "{o:?}"
        );
    }

    #[test]
    fn registry_is_ordered_and_step_names_are_savepoint_safe() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1);
            for s in m.up {
                assert!(
                    s.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{}",
                    s.name
                );
            }
        }
        assert_eq!(MIGRATIONS.last().unwrap().version, HEAD_VERSION);
    }
}
