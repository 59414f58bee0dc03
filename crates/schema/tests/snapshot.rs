//! The expected catalog is what the migrations produce: each version deployed into a fresh database must read
//! back exactly as its checked-in snapshot (`crates/schema/snapshots/`). With `NEUROHUB_UPDATE_SNAPSHOT=1` the
//! test rewrites the snapshots instead (then review the diff and commit it). Also: verify reports drift by name,
//! and objects owned by an extension are not the schema's.
mod common;

use common::*;
use neurohub_schema::{
    expected_catalog, read_catalog, render_index, render_snapshot, snapshot_dir,
    snapshot_file_name, snapshot_text, snapshot_versions, verify_summary, Catalog, Scope,
    HEAD_VERSION, UPDATE_SNAPSHOT_COMMAND, UPDATE_SNAPSHOT_ENV,
};
use sqlx::PgPool;

/// A readable line diff of two snapshot texts (what is only in one of them).
fn diff(expected: &str, found: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let f: Vec<&str> = found.lines().collect();
    let mut out = String::new();
    for l in &e {
        if !f.contains(l) {
            out.push_str(&format!("- {l}\n"));
        }
    }
    for l in &f {
        if !e.contains(l) {
            out.push_str(&format!("+ {l}\n"));
        }
    }
    out
}

#[sqlx::test(migrations = false)]
async fn snapshot_matches_the_migrations(pool: PgPool) {
    let update = std::env::var(UPDATE_SNAPSHOT_ENV).is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for v in 1..=HEAD_VERSION {
        up_to(&pool, Some(v)).await;
        let live = read_catalog(&pool, Scope::WithoutPartitions).await.unwrap();
        let text = render_snapshot(v, &live);
        let path = snapshot_dir().join(snapshot_file_name(v));
        // what the migrations produce parses back to the same catalog (the format is lossless)
        assert_eq!(
            Catalog::parse(&text).unwrap_or_else(|e| panic!("version {v}: {e}\n{text}")),
            live
        );
        if update {
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            if on_disk != text {
                std::fs::write(&path, &text).unwrap();
                println!("wrote {}", path.display());
            }
            continue;
        }
        match snapshot_text(v) {
            Some(embedded) if embedded == text => {}
            Some(embedded) => stale.push(format!(
                "version {v} ({}):\n{}",
                path.display(),
                diff(embedded, &text)
            )),
            None => stale.push(format!("version {v}: no snapshot {}", path.display())),
        }
    }
    if update {
        std::fs::write(
            snapshot_dir().join("index.rs"),
            render_index(&(1..=HEAD_VERSION).collect::<Vec<_>>()),
        )
        .unwrap();
        return;
    }
    assert_eq!(
        snapshot_versions(),
        (1..=HEAD_VERSION).collect::<Vec<_>>(),
        "one snapshot per version; run {UPDATE_SNAPSHOT_COMMAND}"
    );
    assert!(
        stale.is_empty(),
        "the migrations no longer produce the checked-in snapshot (- snapshot, + migrations).\n\
         If the change is intended, run `{UPDATE_SNAPSHOT_COMMAND}` and commit the diff.\n{}",
        stale.join("\n")
    );
}

#[sqlx::test(migrations = false)]
async fn extension_objects_in_public_are_not_the_schemas(pool: PgPool) {
    up_to(&pool, None).await;
    // pg_stat_statements can be created without being preloaded (only querying its view needs that)
    sqlx::raw_sql(
        "CREATE EXTENSION pg_stat_statements SCHEMA public; CREATE EXTENSION pgcrypto SCHEMA public;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let owned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_depend d JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
          WHERE d.deptype = 'e' AND p.pronamespace = 'public'::regnamespace",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        owned > 10,
        "the extensions put {owned} functions into public"
    );
    let s = verify_summary(&pool).await.unwrap();
    assert!(s.ok(), "{s}");
    assert_eq!(
        read_catalog(&pool, Scope::WithoutPartitions).await.unwrap(),
        expected_catalog(HEAD_VERSION)
    );

    // ... while a function that no extension owns is still reported, by name
    sqlx::raw_sql("CREATE FUNCTION public.rogue() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        .execute(&pool)
        .await
        .unwrap();
    let s = verify_summary(&pool).await.unwrap();
    assert!(!s.ok());
    assert_eq!(s.row("Functions").unwrap().unexpected, vec!["rogue()"]);
}

#[sqlx::test(migrations = false)]
async fn verify_names_each_missing_unexpected_and_changed_object(pool: PgPool) {
    up_to(&pool, None).await;
    sqlx::raw_sql(
        "ALTER TABLE lots DROP CONSTRAINT chk_lots_status;
         ALTER TABLE lots ADD CONSTRAINT chk_lots_status CHECK (status IS NOT NULL) NOT VALID;
         ALTER TABLE serials DROP CONSTRAINT fk_serials_lot;
         ALTER TABLE serials ADD CONSTRAINT fk_serials_lot FOREIGN KEY (lot_id) REFERENCES lots (id)
             ON DELETE CASCADE ON UPDATE CASCADE;
         DROP INDEX idx_lots_status;
         CREATE INDEX idx_lots_notes ON lots (notes);
         DROP TRIGGER trg_lots_audit ON lots;
         ALTER TABLE lots ALTER COLUMN notes SET DEFAULT 'x';
         REVOKE DELETE ON lots FROM neurohub_app;
         CREATE TABLE stray (id int);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let s = verify_summary(&pool).await.unwrap();
    let text = s.to_string();
    assert!(text.contains("RESULT: NO-GO"), "{text}");
    let row = |c: &str| s.row(c).unwrap_or_else(|| panic!("{c}\n{text}"));

    let checks = row("CHECK constraints");
    assert_eq!(checks.changed.len(), 1, "{text}");
    assert!(
        checks.changed[0].starts_with("lots.chk_lots_status: expected `CHECK")
            && checks.changed[0].contains("NOT VALID validated=false`"),
        "{text}"
    );
    let fks = row("Foreign keys (with actions)");
    assert_eq!(fks.changed.len(), 1, "{text}");
    assert!(
        fks.changed[0].starts_with("serials.fk_serials_lot:")
            && fks.changed[0].contains("found `FOREIGN KEY (lot_id) REFERENCES lots(id) ON UPDATE CASCADE ON DELETE CASCADE"),
        "{text}"
    );
    assert_eq!(row("Indexes on lots").missing, vec!["idx_lots_status"]);
    assert_eq!(row("Indexes on lots").unexpected, vec!["idx_lots_notes"]);
    assert_eq!(row("Triggers on lots").missing, vec!["trg_lots_audit"]);
    assert_eq!(row("Tables").unexpected, vec!["stray"]);
    assert!(
        row("Columns")
            .changed
            .iter()
            .any(|c| c.starts_with("lots.notes:")),
        "{text}"
    );
    assert!(
        row("Columns").unexpected.contains(&"stray.id".to_string()),
        "{text}"
    );
    let grants = row("Grants to neurohub_app");
    assert_eq!(grants.changed.len(), 1, "{text}");
    assert!(grants.changed[0].starts_with("lots: expected `neurohub_app DELETE, INSERT, SELECT, UPDATE`, found `neurohub_app INSERT, SELECT, UPDATE`"), "{text}");
    // nothing else differs
    let bad: Vec<&str> = s
        .rows
        .iter()
        .filter(|r| !r.ok)
        .map(|r| r.category.as_str())
        .collect();
    assert_eq!(
        bad,
        vec![
            "Tables",
            "Columns",
            "Foreign keys (with actions)",
            "CHECK constraints",
            "Triggers",
            "Indexes",
            "Grants to neurohub_app",
            "Indexes on lots",
            "Triggers on lots",
        ],
        "{text}"
    );
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_constraint_index_and_trigger_name_the_code_uses_exists_at_head() {
    // The constraint-to-error mappings (and any other code naming a schema object) refer to the migrations'
    // names; a renamed or dropped constraint must not leave a mapping that can never fire. The schema crate's
    // own sources are skipped: their string literals are test fixtures.
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        let src = entry.unwrap().path().join("src");
        if src.is_dir() && !src.starts_with(crates.join("schema")) {
            rust_files(&src, &mut files);
        }
    }
    let name = regex::Regex::new(r#""((?:chk|fk|uq|idx|trg)_[a-z0-9_]+)""#).unwrap();
    let head = expected_catalog(HEAD_VERSION);
    let known: std::collections::BTreeSet<&str> = head
        .objects()
        .filter_map(|o| o.name.split_once('.').map(|(_, n)| n))
        .collect();
    let mut seen = 0;
    let mut unknown = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for c in name.captures_iter(&text) {
            seen += 1;
            if !known.contains(&c[1]) {
                unknown.push(format!("{}: {}", f.display(), &c[1]));
            }
        }
    }
    assert!(
        seen > 10,
        "found only {seen} names in {} files",
        files.len()
    );
    assert!(
        unknown.is_empty(),
        "names not in the head schema: {unknown:#?}"
    );
}
