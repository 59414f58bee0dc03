//! Backups before deploying (seed 000 best practice 1, seed 001 phase 1): pg_dump in custom format, verified with
//! `pg_restore --list`, and only then moved into place — a deploy refuses to continue without it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::error::SchemaError;
use crate::manifest::{head_tables, PROCESSES};

/// A verified backup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// Where it was written.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Number of TOC entries `pg_restore --list` reported (a sanity check that it is readable).
    pub entries: usize,
    /// How long pg_dump + verification took.
    pub duration: Duration,
}

/// Split a database URL into (URL without password, password). The password goes to pg_dump through
/// PGPASSWORD, never on its command line (visible to `ps`) and never in messages.
fn split_password(database_url: &str) -> Result<(String, Option<String>), SchemaError> {
    let mut url =
        url::Url::parse(database_url).map_err(|e| SchemaError::InvalidUrl(e.to_string()))?;
    let password = url.password().map(|p| {
        url::form_urlencoded::parse(format!("p={p}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    });
    let _ = url.set_password(None);
    Ok((url.to_string(), password))
}

fn redact(text: &str, password: Option<&str>) -> String {
    match password {
        Some(p) if !p.is_empty() => text.replace(p, "***"),
        _ => text.to_string(),
    }
}

/// Dump the database to `file` (pg_dump -Fc), verify it with `pg_restore --list`, then rename it into place.
/// Fails if pg_dump is missing or fails (its stderr is included, the password never).
pub async fn backup(database_url: &str, file: &Path) -> Result<BackupInfo, SchemaError> {
    let started = Instant::now();
    let (url, password) = split_password(database_url)?;
    let file_name = file
        .file_name()
        .ok_or_else(|| SchemaError::Backup(format!("{} is not a file path", file.display())))?
        .to_string_lossy()
        .into_owned();
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(dir).await?;
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));

    let mut cmd = tokio::process::Command::new("pg_dump");
    cmd.arg("--format=custom")
        .arg("--file")
        .arg(&tmp)
        .arg("--dbname")
        .arg(&url);
    if let Some(p) = &password {
        cmd.env("PGPASSWORD", p);
    }
    let output = cmd.output().await.map_err(|e| {
        SchemaError::Backup(if e.kind() == std::io::ErrorKind::NotFound {
            "pg_dump was not found on PATH (install the PostgreSQL client tools)".to_string()
        } else {
            format!("could not run pg_dump: {e}")
        })
    })?;
    if !output.status.success() {
        let _ = tokio::fs::remove_file(&tmp).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(SchemaError::Backup(format!(
            "pg_dump exited with {}: {}",
            output.status,
            redact(stderr.trim(), password.as_deref())
        )));
    }
    let list = tokio::process::Command::new("pg_restore")
        .arg("--list")
        .arg(&tmp)
        .output()
        .await;
    let entries = match list {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with(';'))
            .count(),
        Ok(o) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(SchemaError::Backup(format!(
                "the dump could not be read back by pg_restore --list: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(SchemaError::Backup(format!(
                "could not run pg_restore to verify the dump: {e}"
            )));
        }
    };
    tokio::fs::rename(&tmp, file).await?;
    let bytes = tokio::fs::metadata(file).await?.len();
    Ok(BackupInfo {
        path: file.to_path_buf(),
        bytes,
        entries,
        duration: started.elapsed(),
    })
}

/// True when any business table holds a row (processes: any beyond the 8 seeded ones), or rows wait in the
/// neurohub_archive schema: then `deploy` takes a backup first unless told not to.
pub async fn has_user_data(pool: &PgPool) -> Result<bool, SchemaError> {
    for table in head_tables() {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(format!("public.{table}"))
            .fetch_one(pool)
            .await?;
        if !exists {
            continue;
        }
        let any: bool = if table == "processes" {
            let codes: Vec<String> = PROCESSES.iter().map(|p| p.1.to_string()).collect();
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM processes WHERE process_code::text <> ALL ($1))",
            )
            .bind(codes)
            .fetch_one(pool)
            .await?
        } else {
            sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM public.{table})"))
                .fetch_one(pool)
                .await?
        };
        if any {
            return Ok(true);
        }
    }
    let archived: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname = 'neurohub_archive' AND c.relkind = 'r')",
    )
    .fetch_one(pool)
    .await?;
    Ok(archived)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_split_out_and_redacted() {
        let (url, pw) = split_password("postgres://neuro:s3cr%40t@db:5432/mes").unwrap();
        assert_eq!(url, "postgres://neuro@db:5432/mes");
        assert_eq!(pw.as_deref(), Some("s3cr@t"));
        assert_eq!(
            redact("auth failed for s3cr@t", pw.as_deref()),
            "auth failed for ***"
        );
    }
}
