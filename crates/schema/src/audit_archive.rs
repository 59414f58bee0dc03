//! Audit retention (docs/runbooks.md, "Audit retention"): monthly audit partitions older than a cut-off month go to
//! files and leave the database; a file comes back on demand, still append-only.
//!
//! [`archive_before`], per month, oldest first: detach the partition from `audit_logs`; `pg_dump` the detached
//! table to `<dir>/<db>-<partition>.dump` with `<file>.sha256` beside it; prove the file restores (into a scratch
//! database, compared row by row through a fingerprint with the detached table); only then, in one transaction,
//! drop the table and record the month in `audit_archives`. A run cut off after the detach resumes with the
//! detached table next time (it matches the partition name and is no longer a partition).
//!
//! [`restore_archive`]: the checksum must match; the month's partition is created empty exactly as the partition
//! job creates it (`ensure_audit_partitions`, which re-creates a month once its register row is marked restored),
//! so the parent's row triggers are cloned onto it and the TRUNCATE trigger is added; then `pg_restore --data-only`
//! fills it in one transaction. (Restoring the dumped table definition instead would clash with the parent's
//! constraints on attach.)

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use sqlx::PgPool;

use crate::backup::{checksum_path, redact, sha256_file, split_password, verify_checksum};
use crate::error::SchemaError;

/// One month archived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedMonth {
    pub partition: String,
    pub month: NaiveDate,
    pub file: PathBuf,
    pub sha256: String,
    pub rows: i64,
}

/// One month restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredMonth {
    pub partition: String,
    pub rows: i64,
    pub sha256: String,
}

const PARTITION_RE: &str = r"^audit_logs_y[0-9]{4}m(0[1-9]|1[0-2])$";

fn err(msg: impl Into<String>) -> SchemaError {
    SchemaError::Archive(msg.into())
}

/// `YYYY-MM` → the first day of that month.
pub fn parse_month(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| s.len() == 7)
        .ok_or_else(|| format!("{s:?} is not a month (YYYY-MM)"))
}

/// The first day of the month `months` before the current UTC month (the retention cut-off).
pub fn months_before_now(months: u32) -> NaiveDate {
    let today = chrono::Utc::now().date_naive();
    let index = today.year() * 12 + today.month0() as i32 - months as i32;
    NaiveDate::from_ymd_opt(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1)
        .expect("a valid month")
}

fn partition_name(month: NaiveDate) -> String {
    format!("audit_logs_y{:04}m{:02}", month.year(), month.month())
}

fn month_of(name: &str) -> Option<NaiveDate> {
    let year: i32 = name.get(12..16)?.parse().ok()?;
    let month: u32 = name.get(17..19)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, 1).filter(|m| partition_name(*m) == name)
}

async fn require_register(pool: &PgPool) -> Result<(), SchemaError> {
    let has: bool = sqlx::query_scalar("SELECT to_regclass('public.audit_archives') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !has {
        return Err(err(
            "audit retention needs schema version 10 (table audit_archives): run `neurohub deploy` first",
        ));
    }
    Ok(())
}

/// Count and an order-independent-of-storage fingerprint of a table's rows.
async fn fingerprint(pool: &PgPool, table: &str) -> Result<(i64, String), SchemaError> {
    Ok(sqlx::query_as(&format!(
        "SELECT count(*), coalesce(md5(string_agg(md5(t::text), ',' ORDER BY t.id, t.created_at)), '')
           FROM public.\"{table}\" AS t"
    ))
    .fetch_one(pool)
    .await?)
}

async fn run_tool(
    tool: &str,
    args: Vec<OsString>,
    password: Option<&str>,
) -> Result<std::process::Output, SchemaError> {
    let mut cmd = tokio::process::Command::new(tool);
    cmd.args(args);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd.output().await.map_err(|e| {
        err(if e.kind() == std::io::ErrorKind::NotFound {
            format!("{tool} was not found on PATH (install the PostgreSQL client tools)")
        } else {
            format!("could not run {tool}: {e}")
        })
    })?;
    if !out.status.success() {
        return Err(err(format!(
            "{tool} exited with {}: {}",
            out.status,
            redact(String::from_utf8_lossy(&out.stderr).trim(), password)
        )));
    }
    Ok(out)
}

fn with_database(database_url: &str, db: &str) -> Result<String, SchemaError> {
    let mut u =
        url::Url::parse(database_url).map_err(|e| SchemaError::InvalidUrl(e.to_string()))?;
    u.set_path(db);
    Ok(u.to_string())
}

/// Archive every audit month before `before` (the first day of a month, at most the current UTC month) into
/// `dir`. `database_url` must be the owner's (pg_dump, DETACH, DROP, CREATE DATABASE for the scratch check).
///
/// Boxed as `Send`: the retention job runs it on a spawned task.
pub fn archive_before<'a>(
    database_url: &'a str,
    pool: &'a PgPool,
    before: NaiveDate,
    dir: &'a Path,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<ArchivedMonth>, SchemaError>> + Send + 'a>,
> {
    Box::pin(archive_before_impl(database_url, pool, before, dir))
}

async fn archive_before_impl(
    database_url: &str,
    pool: &PgPool,
    before: NaiveDate,
    dir: &Path,
) -> Result<Vec<ArchivedMonth>, SchemaError> {
    require_register(pool).await?;
    let this_month: NaiveDate =
        sqlx::query_scalar("SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date")
            .fetch_one(pool)
            .await?;
    if before > this_month || before.day() != 1 {
        return Err(err(format!(
            "--before {} is after the current month {}: only past months can be archived",
            before.format("%Y-%m"),
            this_month.format("%Y-%m")
        )));
    }
    // attached monthly partitions before the cut-off, and tables left detached by an interrupted run
    let candidates: Vec<(String, bool)> = sqlx::query_as(
        "SELECT c.relname::text, c.relispartition
           FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname ~ $1
            AND (NOT c.relispartition
                 OR EXISTS (SELECT 1 FROM pg_inherits AS i
                             WHERE i.inhrelid = c.oid AND i.inhparent = 'public.audit_logs'::regclass))
          ORDER BY 1",
    )
    .bind(PARTITION_RE)
    .fetch_all(pool)
    .await?;
    let db = crate::deploy::connect_options(database_url)?.1;
    tokio::fs::create_dir_all(dir).await?;
    let mut done = Vec::new();
    for (name, attached) in candidates {
        let Some(month) = month_of(&name).filter(|m| *m < before) else {
            continue;
        };
        if attached {
            let mut tx = pool.begin().await?;
            sqlx::query("SET LOCAL lock_timeout = '10s'")
                .execute(&mut *tx)
                .await?;
            sqlx::query(&format!(
                "ALTER TABLE public.audit_logs DETACH PARTITION public.\"{name}\""
            ))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        done.push(archive_detached(database_url, pool, &db, &name, month, dir).await?);
    }
    Ok(done)
}

async fn archive_detached(
    database_url: &str,
    pool: &PgPool,
    db: &str,
    name: &str,
    month: NaiveDate,
    dir: &Path,
) -> Result<ArchivedMonth, SchemaError> {
    let (url, password) = split_password(database_url)?;
    let file_name = format!("{db}-{name}.dump");
    let file = dir.join(&file_name);
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let table = format!("public.{name}");
    let dumped = run_tool(
        "pg_dump",
        vec![
            OsString::from("--format=custom"),
            OsString::from("--table"),
            OsString::from(&table),
            OsString::from("--file"),
            OsString::from(&tmp),
            OsString::from("--dbname"),
            OsString::from(&url),
        ],
        password.as_deref(),
    )
    .await;
    if let Err(e) = dumped {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e);
    }
    tokio::fs::rename(&tmp, &file).await?;
    let sha256 = sha256_file(&file).await?;
    tokio::fs::write(checksum_path(&file), format!("{sha256}  {file_name}\n")).await?;

    // prove the file restores: into a scratch database, then the same rows as the detached table
    let live = fingerprint(pool, name).await?;
    let restored = restore_into_scratch(database_url, pool, &file, name).await?;
    if restored != live {
        return Err(err(format!(
            "the archive {} did not restore to the same rows ({} rows, fingerprint {}) as {name} ({} rows, {}); \
             {name} is kept detached: nothing was dropped",
            file.display(),
            restored.0,
            restored.1,
            live.0,
            live.1
        )));
    }

    let mut tx = pool.begin().await?;
    sqlx::query(&format!("DROP TABLE public.\"{name}\""))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO audit_archives (partition_name, month_start, file_name, sha256, row_count)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (partition_name) DO UPDATE
            SET month_start = EXCLUDED.month_start, file_name = EXCLUDED.file_name, sha256 = EXCLUDED.sha256,
                row_count = EXCLUDED.row_count, archived_at = now(), restored_at = NULL",
    )
    .bind(name)
    .bind(month)
    .bind(file.to_string_lossy().as_ref())
    .bind(&sha256)
    .bind(live.0)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ArchivedMonth {
        partition: name.to_string(),
        month,
        file,
        sha256,
        rows: live.0,
    })
}

/// `pg_restore` the table definition and data (no indexes, constraints to other tables or triggers: post-data)
/// into a new scratch database, fingerprint it, drop the database.
async fn restore_into_scratch(
    database_url: &str,
    pool: &PgPool,
    file: &Path,
    name: &str,
) -> Result<(i64, String), SchemaError> {
    let scratch = format!("neurohub_audit_check_{}_{}", std::process::id(), name);
    let scratch_url = with_database(database_url, &scratch)?;
    sqlx::query(&format!(
        "CREATE DATABASE \"{scratch}\" ENCODING 'UTF8' TEMPLATE template0"
    ))
    .execute(pool)
    .await
    .map_err(|e| {
        err(format!(
            "cannot create the scratch database {scratch} to prove the archive restores: {e}"
        ))
    })?;
    let result = scratch_fingerprint(&scratch_url, file, name).await;
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS \"{scratch}\" WITH (FORCE)"
    ))
    .execute(pool)
    .await?;
    result
}

async fn scratch_fingerprint(
    scratch_url: &str,
    file: &Path,
    name: &str,
) -> Result<(i64, String), SchemaError> {
    let (url, password) = split_password(scratch_url)?;
    run_tool(
        "pg_restore",
        vec![
            OsString::from("--section=pre-data"),
            OsString::from("--section=data"),
            OsString::from("--no-owner"),
            OsString::from("--no-privileges"),
            OsString::from("--exit-on-error"),
            OsString::from("--dbname"),
            OsString::from(&url),
            OsString::from(&file),
        ],
        password.as_deref(),
    )
    .await?;
    let pool = PgPool::connect(scratch_url).await?;
    let fp = fingerprint(&pool, name).await;
    pool.close().await;
    fp
}

/// Put an archived month back: checksum verified, the partition re-created as the partition job does, the rows
/// loaded in one transaction (`pg_restore --data-only`), the register marked restored.
pub async fn restore_archive(
    database_url: &str,
    pool: &PgPool,
    file: &Path,
) -> Result<RestoredMonth, SchemaError> {
    require_register(pool).await?;
    let sha256 = verify_checksum(file).await.map_err(|e| match e {
        SchemaError::Backup(m) => err(format!("{m}: nothing restored")),
        other => other,
    })?;
    let list = run_tool(
        "pg_restore",
        vec![OsString::from("--list"), OsString::from(&file)],
        None,
    )
    .await?;
    let re = regex::Regex::new(PARTITION_RE).expect("valid regex");
    let name = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter(|l| !l.starts_with(';'))
        .find_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let at = words
                .windows(3)
                .position(|w| w == ["TABLE", "DATA", "public"])?;
            words
                .get(at + 3)
                .filter(|n| re.is_match(n))
                .map(|n| n.to_string())
        })
        .ok_or_else(|| {
            err(format!(
                "{} holds no audit partition's data (not a file of `neurohub audit archive`)",
                file.display()
            ))
        })?;
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('public.' || $1) IS NOT NULL")
        .bind(&name)
        .fetch_one(pool)
        .await?;
    if exists {
        return Err(err(format!(
            "{name} is in the database already: nothing restored"
        )));
    }

    // the empty partition, exactly as the partition job makes it (row triggers cloned, TRUNCATE trigger)
    let mut tx = pool.begin().await?;
    let expected: Option<i64> = sqlx::query_scalar(
        "UPDATE audit_archives SET restored_at = now()
          WHERE partition_name = $1 AND restored_at IS NULL RETURNING row_count",
    )
    .bind(&name)
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query("SELECT ensure_audit_partitions(0)")
        .execute(&mut *tx)
        .await?;
    let created: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_inherits
                         WHERE inhrelid = to_regclass('public.' || $1)
                           AND inhparent = 'public.audit_logs'::regclass)",
    )
    .bind(&name)
    .fetch_one(&mut *tx)
    .await?;
    if !created {
        return Err(err(format!(
            "the partition {name} could not be re-created (rows of that month in audit_logs_default? see the server log's \
             warning of ensure_audit_partitions): nothing restored"
        )));
    }
    tx.commit().await?;

    let (url, password) = split_password(database_url)?;
    let table = name.clone();
    let loaded = run_tool(
        "pg_restore",
        vec![
            OsString::from("--data-only"),
            OsString::from("--single-transaction"),
            OsString::from("--exit-on-error"),
            OsString::from("--no-owner"),
            OsString::from("--table"),
            OsString::from(&table),
            OsString::from("--dbname"),
            OsString::from(&url),
            OsString::from(&file),
        ],
        password.as_deref(),
    )
    .await;
    if let Err(e) = loaded {
        // back to archived: the empty partition goes, the register says archived again
        let mut tx = pool.begin().await?;
        sqlx::query(&format!("DROP TABLE public.\"{name}\""))
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE audit_archives SET restored_at = NULL WHERE partition_name = $1")
            .bind(&name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Err(e);
    }
    let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM public.\"{name}\""))
        .fetch_one(pool)
        .await?;
    if let Some(n) = expected.filter(|n| *n != rows) {
        return Err(err(format!(
            "{name} restored with {rows} rows, but {n} were archived"
        )));
    }
    Ok(RestoredMonth {
        partition: name,
        rows,
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_partition_names() {
        assert_eq!(
            parse_month("2025-11").unwrap(),
            NaiveDate::from_ymd_opt(2025, 11, 1).unwrap()
        );
        assert!(parse_month("2025-13").is_err());
        assert!(parse_month("2025-1").is_err());
        assert!(parse_month("2025-11-02").is_err());
        let m = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
        assert_eq!(partition_name(m), "audit_logs_y2026m02");
        assert_eq!(month_of("audit_logs_y2026m02"), Some(m));
        assert_eq!(month_of("audit_logs_default"), None);
        assert!(months_before_now(1) < months_before_now(0));
        assert_eq!(months_before_now(12).month(), months_before_now(0).month());
    }
}
