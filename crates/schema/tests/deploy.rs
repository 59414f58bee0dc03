//! `deploy`: empty database, idempotent second run, dry run, failure + resume, backups, locks, checksums.
mod common;

use common::*;
use neurohub_schema::{
    backup, catalog_snapshot, current_version, deploy, down, ensure_database, up, DeployOptions,
    Event, SchemaError, Timeouts, HEAD_VERSION, MIGRATIONS,
};
use sqlx::{Connection, PgPool};
use std::time::Duration;

fn total_steps() -> usize {
    MIGRATIONS.iter().map(|m| m.up.len()).sum()
}

fn tmp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("neurohub-schema-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[sqlx::test(migrations = false)]
async fn deploy_on_empty_database_then_again_is_a_no_op(pool: PgPool) {
    let url = url_of(&pool);
    let opts = DeployOptions {
        backup_dir: tmp_dir("empty"),
        ..DeployOptions::default()
    };
    let mut out = Vec::new();
    let o = deploy(&url, &opts, &mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(o.ok(), "{text}");
    assert!(!o.created_database);
    assert_eq!(
        (o.from_version, o.to_version, o.steps_applied),
        (0, HEAD_VERSION, total_steps())
    );
    assert!(o.backup.is_none(), "an empty database needs no backup");
    for m in MIGRATIONS {
        for (i, s) in m.up.iter().enumerate() {
            let prefix = format!("[{:04}/{:02}] {} ", m.version, i + 1, s.name);
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&prefix) && l.ends_with(" ms")),
                "{prefix}\n{text}"
            );
        }
    }
    assert!(
        text.contains("FINAL VERIFICATION & SUMMARY") && text.contains("RESULT: GO"),
        "{text}"
    );
    println!("{text}");

    let mut out = Vec::new();
    let again = deploy(&url, &opts, &mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(again.steps_applied, 0);
    assert!(again.ok());
    assert!(
        text.contains(&format!(
            "schema is at version {HEAD_VERSION}; nothing to deploy"
        )),
        "{text}"
    );
    assert!(text.contains("FINAL VERIFICATION & SUMMARY"));
}

#[sqlx::test(migrations = false)]
async fn ensure_database_creates_a_utf8_database_once(pool: PgPool) {
    let url = url_of(&pool);
    let mut u = url::Url::parse(&url).unwrap();
    let db = pool.connect_options().get_database().unwrap().to_string();
    let name = format!("nh_new\"q_{}", &db[db.len() - 12..]);
    u.set_path(&name.replace('"', "%22"));
    let created = ensure_database(u.as_str()).await.unwrap();
    assert!(created);
    assert!(!ensure_database(u.as_str()).await.unwrap());
    let enc: String = sqlx::query_scalar(
        "SELECT pg_encoding_to_char(encoding)::text FROM pg_database WHERE datname = $1",
    )
    .bind(&name)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(enc, "UTF8");
    sqlx::raw_sql(&format!("DROP DATABASE \"{}\"", name.replace('"', "\"\"")))
        .execute(&pool)
        .await
        .unwrap();
}

#[sqlx::test(migrations = false)]
async fn dry_run_prints_the_plan_and_changes_nothing(pool: PgPool) {
    let url = url_of(&pool);
    let before = catalog_snapshot(&pool).await.unwrap();
    let mut out = Vec::new();
    let o = deploy(
        &url,
        &DeployOptions {
            dry_run: true,
            ..DeployOptions::default()
        },
        &mut out,
    )
    .await
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(o.dry_run && o.ok() && o.summary.is_none());
    assert!(text.contains("[0001/01] functions"), "{text}");
    assert!(
        text.contains("objects: function update_timestamp"),
        "{text}"
    );
    assert!(
        text.contains("CREATE INDEX CONCURRENTLY idx_process_data_lot"),
        "{text}"
    );
    assert!(text.contains(&format!("plan: {} step(s)", total_steps())));
    assert_eq!(catalog_snapshot(&pool).await.unwrap(), before);
    let history: bool = sqlx::query_scalar("SELECT to_regclass('schema_migrations') IS NOT NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!history, "a dry run creates not even the history tables");

    // a missing database is not created either
    let mut u = url::Url::parse(&url).unwrap();
    u.set_path(&format!(
        "{}_absent",
        pool.connect_options().get_database().unwrap()
    ));
    let mut out = Vec::new();
    deploy(
        u.as_str(),
        &DeployOptions {
            dry_run: true,
            ..DeployOptions::default()
        },
        &mut out,
    )
    .await
    .unwrap();
    assert!(String::from_utf8(out).unwrap().contains("would be created"));
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(u.path().trim_start_matches('/'))
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!exists);
}

#[sqlx::test(migrations = false)]
async fn a_failing_step_is_rolled_back_and_the_next_run_resumes_from_it(pool: PgPool) {
    // a conflicting object makes step 0001/03 (lots_table) fail after it has created lots and some indexes
    sqlx::raw_sql(
        "CREATE TABLE squatter (x int); CREATE INDEX idx_lots_created_at ON squatter (x);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut events = Vec::new();
    let err = up(&pool, None, &Timeouts::default(), &mut |e: &Event| {
        events.push(e.clone())
    })
    .await
    .unwrap_err();
    match &err {
        SchemaError::StepFailed {
            version,
            step_no,
            step_name,
            pg,
        } => {
            assert_eq!(
                (*version, *step_no, step_name.as_str()),
                (1, 3, "lots_table")
            );
            assert_eq!(pg.code.as_deref(), Some("42P07"));
            assert_eq!(pg.object.as_deref(), Some("idx_lots_created_at"));
            assert!(pg.message.contains("already exists"));
        }
        other => panic!("unexpected {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("migration 0001 step 3 (lots_table) failed on idx_lots_created_at"),
        "{msg}"
    );
    assert!(
        msg.contains("run `neurohub deploy` again: it resumes from this step"),
        "{msg}"
    );
    // the step's earlier objects were rolled back; earlier steps stay
    let lots: bool = sqlx::query_scalar("SELECT to_regclass('public.lots') IS NOT NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        !lots,
        "lots (created earlier in the failed step) was rolled back"
    );
    let steps: Vec<(i32, i32)> =
        sqlx::query_as("SELECT version, step_no FROM schema_migration_steps ORDER BY 1, 2")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(steps, vec![(1, 1), (1, 2)]);
    let first_applied: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT applied_at FROM schema_migration_steps WHERE version = 1 AND step_no = 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(current_version(&pool).await.unwrap(), 0);

    // fix the cause, run again: resumes at 0001/03, does not redo 0001/01-02
    sqlx::raw_sql("DROP TABLE squatter")
        .execute(&pool)
        .await
        .unwrap();
    let mut out = Vec::new();
    let o = deploy(
        &url_of(&pool),
        &DeployOptions {
            no_backup: true,
            ..DeployOptions::default()
        },
        &mut out,
    )
    .await
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(o.ok(), "{text}");
    assert_eq!(o.steps_applied, total_steps() - 2);
    assert!(
        text.contains("resuming: 2 step(s) already applied are not redone"),
        "{text}"
    );
    assert!(
        !text.contains("[0001/01]")
            && !text.contains("[0001/02]")
            && text.contains("[0001/03] lots_table")
    );
    let again: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT applied_at FROM schema_migration_steps WHERE version = 1 AND step_no = 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(again, first_applied);
}

#[sqlx::test(migrations = false)]
async fn a_step_blocked_by_a_lock_fails_fast_with_lock_timeout(pool: PgPool) {
    up_to(&pool, Some(1)).await;
    let mut blocker = sqlx::PgConnection::connect(&url_of(&pool)).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE product_models IN ACCESS SHARE MODE;")
        .execute(&mut blocker)
        .await
        .unwrap();
    let t = Timeouts {
        lock_timeout: Duration::from_millis(100),
        statement_timeout: Duration::from_secs(120),
    };
    let err = up(&pool, None, &t, &mut |_: &Event| {}).await.unwrap_err();
    match &err {
        SchemaError::StepFailed {
            version: 2,
            step_no: 1,
            pg,
            ..
        } => {
            assert_eq!(pg.code.as_deref(), Some("55P03"), "{err}");
            assert!(pg.message.contains("lock timeout"), "{err}");
        }
        other => panic!("unexpected {other}"),
    }
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut blocker)
        .await
        .unwrap();
    up_to(&pool, None).await;
    assert_eq!(current_version(&pool).await.unwrap(), HEAD_VERSION);
}

#[sqlx::test(migrations = false)]
async fn an_edited_applied_step_is_refused(pool: PgPool) {
    up_to(&pool, Some(1)).await;
    sqlx::query(
        "UPDATE schema_migration_steps SET checksum = 'edited' WHERE version = 1 AND step_no = 2",
    )
    .execute(&pool)
    .await
    .unwrap();
    let err = up(&pool, None, &Timeouts::default(), &mut |_: &Event| {})
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            SchemaError::ChecksumMismatch {
                version: 1,
                step_no: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("independent_tables"));
}

#[sqlx::test(migrations = false)]
async fn down_refuses_a_partially_applied_version(pool: PgPool) {
    up_to(&pool, Some(1)).await;
    let step = &MIGRATIONS[1].up[0];
    sqlx::query("INSERT INTO schema_migration_steps (version, step_no, name, checksum, duration_ms) VALUES (2, 1, $1, $2, 0)")
        .bind(step.name)
        .bind(neurohub_schema::checksum(step.sql))
        .execute(&pool)
        .await
        .unwrap();
    let err = down(&pool, 0, &Timeouts::default(), &mut |_: &Event| {})
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SchemaError::PartiallyApplied {
                version: 2,
                applied: 1,
                total: 4
            }
        ),
        "{err}"
    );
}

#[sqlx::test(migrations = false)]
async fn two_concurrent_ups_never_run_at_once(pool: PgPool) {
    let t = Timeouts::default();
    let (mut on_a, mut on_b) = (|_: &Event| {}, |_: &Event| {});
    let (a, b) = tokio::join!(
        up(&pool, None, &t, &mut on_a),
        up(&pool, None, &t, &mut on_b)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.steps_applied + b.steps_applied, total_steps());
    assert!(a.steps_applied == 0 || b.steps_applied == 0);
}

#[sqlx::test(migrations = false)]
async fn backup_is_written_verified_and_taken_by_default_on_a_non_empty_database(pool: PgPool) {
    up_to(&pool, None).await;
    seed_rows(&pool).await;
    let dir = tmp_dir("backup");
    let file = dir.join("explicit.dump");
    let info = backup(&url_of(&pool), &file).await.unwrap();
    assert!(
        file.exists() && info.bytes > 0 && info.entries > 10,
        "{info:?}"
    );
    let list = std::process::Command::new("pg_restore")
        .arg("--list")
        .arg(&file)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("audit_logs"));

    // a failing pg_dump (unknown database) is an error and leaves no file
    let mut u = url::Url::parse(&url_of(&pool)).unwrap();
    u.set_path("no_such_database_here");
    let bad = dir.join("bad.dump");
    let err = backup(u.as_str(), &bad).await.unwrap_err();
    assert!(
        matches!(err, SchemaError::Backup(_)) && !bad.exists(),
        "{err}"
    );

    // deploy onto a non-empty database with pending steps takes a backup first
    down_to(&pool, 3).await;
    let auto = tmp_dir("auto");
    let mut out = Vec::new();
    let o = deploy(
        &url_of(&pool),
        &DeployOptions {
            backup_dir: auto.clone(),
            ..DeployOptions::default()
        },
        &mut out,
    )
    .await
    .unwrap();
    let b = o.backup.clone().expect("automatic backup");
    assert!(b.path.starts_with(&auto) && b.path.exists());
    assert!(o.ok());
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(auto);
}
