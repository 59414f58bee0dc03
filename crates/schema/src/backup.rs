//! Backups before deploying (seed 000 best practice 1, seed 001 phase 1): pg_dump in custom format, verified with
//! `pg_restore --list`, and only then moved into place with a SHA-256 checksum file beside it
//! (`<file>.sha256`, `sha256sum -c` format) — a deploy refuses to continue without it. [`restore`] is the other
//! half of the drill: checksum verified, restored into a new database (never over an existing one).

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
    /// SHA-256 of the file (hex), also written to `<file>.sha256`.
    pub sha256: String,
}

/// The checksum file beside a backup: `<file>.sha256`.
pub fn checksum_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// The default backup file name: database, schema version and UTC time, so a restore knows what it holds.
pub fn backup_file_name(db: &str, version: i32) -> String {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    format!("neurohub-{db}-v{version:04}-{stamp}.dump")
}

/// SHA-256 of a file, streamed.
pub async fn sha256_file(file: &Path) -> Result<String, SchemaError> {
    use sha2::{Digest, Sha256};
    use tokio::io::AsyncReadExt;
    let mut f = tokio::fs::File::open(file).await?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Split a database URL into (URL without password, password). The password goes to pg_dump through
/// PGPASSWORD, never on its command line (visible to `ps`) and never in messages.
pub(crate) fn split_password(database_url: &str) -> Result<(String, Option<String>), SchemaError> {
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

pub(crate) fn redact(text: &str, password: Option<&str>) -> String {
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
    let sha256 = sha256_file(file).await?;
    tokio::fs::write(checksum_path(file), format!("{sha256}  {file_name}\n")).await?;
    Ok(BackupInfo {
        path: file.to_path_buf(),
        bytes,
        entries,
        duration: started.elapsed(),
        sha256,
    })
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreInfo {
    /// URL of the new database (password kept, for the caller to connect; never print it unredacted).
    pub database_url: String,
    /// The verified checksum.
    pub sha256: String,
    pub duration: Duration,
}

/// Check `file` against the `<file>.sha256` beside it; its checksum when they match.
pub async fn verify_checksum(file: &Path) -> Result<String, SchemaError> {
    let sums = checksum_path(file);
    let expected = tokio::fs::read_to_string(&sums).await.map_err(|e| {
        SchemaError::Backup(format!(
            "cannot read the checksum file {}: {e}",
            sums.display()
        ))
    })?;
    let expected = expected
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let actual = sha256_file(file).await?;
    if expected != actual {
        return Err(SchemaError::Backup(format!(
            "checksum mismatch for {}: {} says {expected}, the file is {actual}",
            file.display(),
            sums.display()
        )));
    }
    Ok(actual)
}

/// Restore `file` into the new database `new_db` on the server of `database_url`: the checksum file must be
/// present and match, `new_db` must not exist (a restore never overwrites), then `pg_restore --exit-on-error`.
pub async fn restore(
    database_url: &str,
    file: &Path,
    new_db: &str,
) -> Result<RestoreInfo, SchemaError> {
    let started = Instant::now();
    let actual = verify_checksum(file).await?;
    let mut target =
        url::Url::parse(database_url).map_err(|e| SchemaError::InvalidUrl(e.to_string()))?;
    target.set_path(new_db);
    let target = target.to_string();
    if !crate::deploy::ensure_database(&target).await? {
        return Err(SchemaError::Backup(format!(
            "database {new_db:?} already exists; restore only into a new database"
        )));
    }
    let (url, password) = split_password(&target)?;
    let mut cmd = tokio::process::Command::new("pg_restore");
    cmd.arg("--exit-on-error")
        .arg("--dbname")
        .arg(&url)
        .arg(file);
    if let Some(p) = &password {
        cmd.env("PGPASSWORD", p);
    }
    let output = cmd
        .output()
        .await
        .map_err(|e| SchemaError::Backup(format!("could not run pg_restore: {e}")))?;
    if !output.status.success() {
        return Err(SchemaError::Backup(format!(
            "pg_restore into {new_db} exited with {}: {}",
            output.status,
            redact(
                String::from_utf8_lossy(&output.stderr).trim(),
                password.as_deref()
            )
        )));
    }
    Ok(RestoreInfo {
        database_url: target,
        sha256: actual,
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
