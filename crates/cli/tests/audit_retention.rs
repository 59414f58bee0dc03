//! Audit retention (docs/runbooks.md, "Audit retention") through the binary, on a real database: `audit archive`
//! takes old months out of the live log into verified files, `audit restore` brings one back append-only, a
//! tampered file is refused, verify does not miss archived months, and the retention setting archives in the
//! background.

mod common;

use common::{neurohub, text, url_of};
use sqlx::PgPool;
use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("neurohub-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Deploy, then audit rows in two old months (the owner may insert with any time; requests cannot).
async fn deployed_with_old_months(pool: &PgPool) -> String {
    let url = url_of(pool);
    let out = neurohub(&url, &["deploy", "--no-backup"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    sqlx::query(
        "INSERT INTO audit_logs (table_name, record_id, action, new_data, created_at)
         SELECT 'lots', g, 'INSERT', jsonb_build_object('n', g), timestamptz '2025-11-10 08:00Z' + g * interval '1 day'
           FROM generate_series(1, 3) AS g
         UNION ALL
         SELECT 'lots', g, 'UPDATE', jsonb_build_object('n', g), timestamptz '2025-12-20 08:00Z' + g * interval '1 hour'
           FROM generate_series(1, 2) AS g",
    )
    .execute(pool)
    .await
    .unwrap();
    url
}

async fn rows_before(pool: &PgPool, before: &str) -> (i64, String) {
    sqlx::query_as(
        "SELECT count(*), coalesce(md5(string_agg(md5(t::text), ',' ORDER BY t.id)), '')
           FROM audit_logs AS t WHERE created_at < $1::timestamptz",
    )
    .bind(before)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn exists(pool: &PgPool, table: &str) -> bool {
    sqlx::query_scalar("SELECT to_regclass('public.' || $1) IS NOT NULL")
        .bind(table)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn sqlstate(pool: &PgPool, sql: &str) -> String {
    match sqlx::query(sql).execute(pool).await {
        Ok(r) => panic!("{sql} succeeded ({} rows)", r.rows_affected()),
        Err(sqlx::Error::Database(e)) => e.code().unwrap_or_default().to_string(),
        Err(e) => panic!("{sql}: {e}"),
    }
}

fn dump_of(dir: &Path, pool: &PgPool, partition: &str) -> PathBuf {
    let db = pool.connect_options().get_database().unwrap().to_string();
    dir.join(format!("{db}-{partition}.dump"))
}

#[sqlx::test(migrations = false)]
async fn archive_takes_old_months_out_and_restore_brings_them_back_append_only(pool: PgPool) {
    let url = deployed_with_old_months(&pool).await;
    let dir = scratch_dir("audit-archive");
    let dir_arg = dir.to_str().unwrap();
    let november = rows_before(&pool, "2025-12-01Z").await;
    assert_eq!(november.0, 3);
    assert_eq!(rows_before(&pool, "2026-01-01Z").await.0, 5);
    let newer: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(&pool)
        .await
        .unwrap();

    // a month that has not begun cannot be archived
    let out = neurohub(
        &url,
        &[
            "audit",
            "archive",
            "--before",
            "2099-01",
            "--audit-archive-dir",
            dir_arg,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("only past months"), "{}", text(&out));

    let out = neurohub(
        &url,
        &[
            "audit",
            "archive",
            "--before",
            "2026-01",
            "--audit-archive-dir",
            dir_arg,
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("archived audit_logs_y2025m11 (3 rows)"), "{t}");
    assert!(t.contains("archived audit_logs_y2025m12 (2 rows)"), "{t}");

    // gone from the live log, on file with a checksum, and in the register
    assert_eq!(rows_before(&pool, "2026-01-01Z").await.0, 0);
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(&pool)
        .await
        .unwrap();
    // the register's two INSERTs are audited (this month)
    assert_eq!(after, newer - 5 + 2);
    assert!(!exists(&pool, "audit_logs_y2025m11").await);
    assert!(!exists(&pool, "audit_logs_y2025m12").await);
    let nov = dump_of(&dir, &pool, "audit_logs_y2025m11");
    let sums = std::fs::read_to_string(format!("{}.sha256", nov.display())).unwrap();
    assert_eq!(sums.split_whitespace().next().unwrap().len(), 64);
    let register: Vec<(String, i64, bool)> = sqlx::query_as(
        "SELECT partition_name::text, row_count, restored_at IS NULL FROM audit_archives ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        register,
        [
            ("audit_logs_y2025m11".to_string(), 3, true),
            ("audit_logs_y2025m12".to_string(), 2, true)
        ]
    );
    // the partition job does not bring an archived month back empty, and verify does not miss it
    let created: Vec<String> = sqlx::query_scalar("SELECT ensure_audit_partitions(3)")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(created.is_empty(), "{created:?}");
    let out = neurohub(&url, &["verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // nothing left before 2026-01: a second run archives nothing
    let out = neurohub(
        &url,
        &[
            "audit",
            "archive",
            "--before",
            "2026-01",
            "--audit-archive-dir",
            dir_arg,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("no audit month before 2026-01"),
        "{}",
        text(&out)
    );

    // the file restores independently of NeuroHub (pg_restore into a new database)
    let check_db = format!("nh_audit_file_check_{}", std::process::id());
    let check_url = {
        let mut u = url::Url::parse(&url).unwrap();
        u.set_path(&check_db);
        u.to_string()
    };
    sqlx::query(&format!("CREATE DATABASE \"{check_db}\""))
        .execute(&pool)
        .await
        .unwrap();
    let restored = Command::new("pg_restore")
        .args([
            "--section=pre-data",
            "--section=data",
            "--no-owner",
            "--exit-on-error",
            "--dbname",
        ])
        .arg(&check_url)
        .arg(&nov)
        .output()
        .unwrap();
    assert!(restored.status.success(), "{}", text(&restored));
    let check = PgPool::connect(&check_url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs_y2025m11")
        .fetch_one(&check)
        .await
        .unwrap();
    assert_eq!(n, 3);
    check.close().await;
    sqlx::query(&format!("DROP DATABASE \"{check_db}\" WITH (FORCE)"))
        .execute(&pool)
        .await
        .unwrap();

    // a file that does not match its checksum is refused, and nothing changes
    let tampered = dir.join("tampered.dump");
    let mut bytes = std::fs::read(&nov).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&tampered, bytes).unwrap();
    std::fs::write(format!("{}.sha256", tampered.display()), &sums).unwrap();
    let out = neurohub(&url, &["audit", "restore", tampered.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("checksum mismatch"), "{}", text(&out));
    assert!(!exists(&pool, "audit_logs_y2025m11").await);

    // restore: the same rows back in the live log
    let out = neurohub(&url, &["audit", "restore", nov.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("restored audit_logs_y2025m11 (3 rows"), "{t}");
    assert_eq!(rows_before(&pool, "2025-12-01Z").await, november);
    let restored_at_set: bool = sqlx::query_scalar(
        "SELECT restored_at IS NOT NULL FROM audit_archives WHERE partition_name = 'audit_logs_y2025m11'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(restored_at_set);

    // still append-only: through the parent and on the partition itself
    for sql in [
        "UPDATE audit_logs SET action = 'DELETE' WHERE created_at < '2025-12-01Z'",
        "DELETE FROM audit_logs WHERE created_at < '2025-12-01Z'",
        "UPDATE audit_logs_y2025m11 SET table_name = 'x'",
        "DELETE FROM audit_logs_y2025m11",
        "TRUNCATE audit_logs_y2025m11",
    ] {
        assert_eq!(sqlstate(&pool, sql).await, "NH001", "{sql}");
    }
    assert_eq!(rows_before(&pool, "2025-12-01Z").await, november);

    // a month already back is not restored twice
    let out = neurohub(&url, &["audit", "restore", nov.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("already"), "{}", text(&out));
    let out = neurohub(&url, &["verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `--audit-retention-months`, the server archives by itself; the months within the retention stay.
#[sqlx::test(migrations = false)]
async fn the_retention_setting_archives_in_the_background(pool: PgPool) {
    use std::io::{BufRead, BufReader};
    let url = deployed_with_old_months(&pool).await;
    let dir = scratch_dir("audit-retention");
    // keep 12 months: today (the test machine's clock) minus 12 months is the first month kept
    let keep_from: String = sqlx::query_scalar(
        "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '12 months', 'YYYY-MM-DD')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let expect_archived = rows_before(&pool, &format!("{keep_from}Z")).await.0;
    let mut child = Command::new(env!("CARGO_BIN_EXE_neurohub"))
        .args([
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--audit-retention-months",
            "12",
        ])
        .env("DATABASE_URL", &url)
        .env("NEUROHUB_LOG", "warn")
        .env("NEUROHUB_AUDIT_ARCHIVE_DIR", &dir)
        .env("NEUROHUB_VERIFY_INTERVAL", "0")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.starts_with("NeuroHub listening")));
    let mut archived = 0i64;
    for _ in 0..120 {
        archived =
            sqlx::query_scalar("SELECT coalesce(sum(row_count), 0)::bigint FROM audit_archives")
                .fetch_one(&pool)
                .await
                .unwrap();
        if archived > 0 || expect_archived == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert_eq!(archived, expect_archived);
    assert_eq!(rows_before(&pool, &format!("{keep_from}Z")).await.0, 0);
    // the months inside the retention are untouched
    assert_eq!(
        rows_before(&pool, "2026-01-01Z").await.0,
        5 - expect_archived
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Regulated plants keep audit records for the product's lifetime: without `--audit-retention-months` nothing is
/// archived, however often the job would look and however old the months are.
#[sqlx::test(migrations = false)]
async fn without_the_retention_setting_nothing_is_archived(pool: PgPool) {
    use std::io::{BufRead, BufReader};
    let url = deployed_with_old_months(&pool).await;
    let dir = scratch_dir("audit-no-retention");
    let old = rows_before(&pool, "2026-01-01Z").await.0;
    assert!(old > 0, "the fixture has old months");
    let mut child = Command::new(env!("CARGO_BIN_EXE_neurohub"))
        .args([
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--audit-archive-interval",
            "100ms",
        ])
        .env("DATABASE_URL", &url)
        .env("NEUROHUB_LOG", "warn")
        .env("NEUROHUB_AUDIT_ARCHIVE_DIR", &dir)
        .env("NEUROHUB_VERIFY_INTERVAL", "0")
        .env_remove("NEUROHUB_AUDIT_RETENTION_MONTHS")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.starts_with("NeuroHub listening")));
    // twenty intervals of a job that would archive on its first run
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let archived: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_archives")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(archived, 0);
    assert_eq!(rows_before(&pool, "2026-01-01Z").await.0, old);
    assert!(
        !dir.exists() || std::fs::read_dir(&dir).unwrap().next().is_none(),
        "no archive file written"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
