//! Catalog assertions, exact downs (catalog snapshots) and data round trips.
mod common;

use common::*;
use neurohub_schema::{
    catalog_snapshot, current_version, expected_catalog, status, verify_summary, HEAD_VERSION,
};
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn version_1_alone_gives_the_seed_summary(pool: PgPool) {
    up_to(&pool, Some(1)).await;
    assert_eq!(current_version(&pool).await.unwrap(), 1);
    let s = verify_summary(&pool).await.unwrap();
    assert!(s.ok(), "{s}");
    assert_eq!(s.row("Functions").unwrap().found, 5);
    assert_eq!(s.row("Tables").unwrap().found, 7);
    assert_eq!(s.row("Processes seeded").unwrap().found, 8);
    // seed 000 draws 7 FK arrows (its summary box says 6; see docs/schema.md)
    assert_eq!(s.row("Foreign keys (with actions)").unwrap().found, 7);
    let parts = &s.row("Partitions (audit_logs)").unwrap();
    for p in [
        "audit_logs_y2025m11",
        "audit_logs_y2025m12",
        "audit_logs_y2026m01",
        "audit_logs_default",
    ] {
        assert!(!parts.missing.contains(&p.to_string()), "{p} missing");
    }
    // the original shape: TIMESTAMP columns, JSON measurements, TIMESTAMPTZ partition key
    let types: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
          WHERE table_name IN ('process_data', 'audit_logs') AND column_name IN ('measurements', 'started_at', 'created_at')
          ORDER BY table_name, column_name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        types,
        vec![
            ("created_at".into(), "timestamp with time zone".into()),
            ("created_at".into(), "timestamp without time zone".into()),
            ("measurements".into(), "json".into()),
            ("started_at".into(), "timestamp without time zone".into()),
        ]
    );
}

#[sqlx::test(migrations = false)]
async fn head_catalog_matches_the_snapshot_and_the_seed_floor(pool: PgPool) {
    up_to(&pool, None).await;
    let s = verify_summary(&pool).await.unwrap();
    assert!(s.ok(), "{s}");
    let expected = expected_catalog(HEAD_VERSION);
    for (row, kind) in [
        ("Functions", "function"),
        ("Tables", "table"),
        ("Foreign keys (with actions)", "fk"),
        ("CHECK constraints", "check"),
        ("Indexes", "index"),
        ("Triggers", "trigger"),
    ] {
        let r = s.row(row).unwrap();
        assert_eq!(r.found, expected.of_kind(kind).count(), "{row}");
        assert!(r.found > 0, "{row}");
    }
    assert_eq!(s.row("Tables").unwrap().found, all_tables().len());
    for (table, idx, trg) in neurohub_schema::manifest::SEED_FLOOR {
        assert!(
            s.row(&format!("Indexes on {table}")).unwrap().found >= *idx,
            "{table}"
        );
        assert!(
            s.row(&format!("Triggers on {table}")).unwrap().found >= *trg,
            "{table}"
        );
    }
    // every FK column is the leading column of some index, straight from the catalog
    let unindexed: Vec<String> = sqlx::query_scalar(
        "SELECT k.conname::text FROM pg_constraint k
          WHERE k.contype = 'f' AND k.connamespace = 'public'::regnamespace AND k.conparentid = 0
            AND NOT EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = k.conrelid AND x.indkey[0] = k.conkey[1])",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(unindexed.is_empty(), "FKs without an index: {unindexed:?}");
    // every index valid, every constraint validated
    let invalid: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
                  WHERE c.relnamespace = 'public'::regnamespace AND NOT x.indisvalid)
              + (SELECT count(*) FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND NOT convalidated)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(invalid, 0);
    let text = s.to_string();
    assert!(
        text.contains("FINAL VERIFICATION & SUMMARY") && !text.contains('✗'),
        "{text}"
    );
    let st = status(&pool).await.unwrap();
    assert!(st.iter().all(|v| v.is_applied() && v.applied_at.is_some()));
}

#[sqlx::test(migrations = false)]
async fn every_down_restores_the_previous_catalog_exactly(pool: PgPool) {
    let mut snaps = vec![catalog_snapshot(&pool).await.unwrap()];
    assert!(snaps[0].is_empty(), "{:?}", snaps[0]);
    for v in 1..=HEAD_VERSION {
        up_to(&pool, Some(v)).await;
        snaps.push(catalog_snapshot(&pool).await.unwrap());
    }
    for v in (0..HEAD_VERSION).rev() {
        down_to(&pool, v).await;
        assert_eq!(current_version(&pool).await.unwrap(), v);
        let now = catalog_snapshot(&pool).await.unwrap();
        let expected = &snaps[v as usize];
        let extra: Vec<_> = now.iter().filter(|l| !expected.contains(l)).collect();
        let missing: Vec<_> = expected.iter().filter(|l| !now.contains(l)).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "version {v}: extra {extra:#?}\nmissing {missing:#?}"
        );
    }
    up_to(&pool, None).await;
    assert_eq!(
        catalog_snapshot(&pool).await.unwrap(),
        snaps[HEAD_VERSION as usize]
    );
}

async fn fingerprints(pool: &PgPool) -> Vec<(String, (i64, String))> {
    let mut out = Vec::new();
    for t in all_tables() {
        let f = table_fingerprint(pool, &t).await;
        out.push((t, f));
    }
    out
}

#[sqlx::test(migrations = false)]
async fn data_survives_down_to_zero_and_up_again(pool: PgPool) {
    up_to(&pool, None).await;
    seed_rows(&pool).await;
    let before = fingerprints(&pool).await;
    // every head table is fingerprinted (tables a later module adds too, empty or not); every table the seed rows
    // write to must really hold rows, so the round trip is not vacuous
    let seeded = seeded_tables();
    assert!(seeded.len() >= 12, "{seeded:?}");
    for t in &seeded {
        let (_, (n, _)) = before
            .iter()
            .find(|(name, _)| name == t)
            .unwrap_or_else(|| panic!("{t} is not a head table"));
        assert!(*n > 0, "{t} has no rows");
    }
    let in_default: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs_default")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(in_default, 1);

    // one version at a time, then all the way
    for v in (0..HEAD_VERSION).rev() {
        down_to(&pool, v).await;
        up_to(&pool, None).await;
        assert_eq!(
            fingerprints(&pool).await,
            before,
            "after down --to {v} and up"
        );
    }
    down_to(&pool, 0).await;
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')
            AND relname NOT LIKE 'schema_migration%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(left, 0, "down --to 0 leaves no table");
    assert!(
        neurohub_schema::has_user_data(&pool).await.unwrap(),
        "archived rows count as user data"
    );
    up_to(&pool, None).await;
    assert_eq!(fingerprints(&pool).await, before);
    let archives: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'neurohub_archive' AND c.relkind = 'r'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(archives, 0, "up drops the archive copies");
    // identity sequences continue after the restored ids
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO product_models (model_code, model_name) VALUES ('NH2', 'Two') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(id, 2);
    assert!(verify_summary(&pool).await.unwrap().ok());
}
