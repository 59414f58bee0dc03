//! Catalog invariants of the ATP schema (0006), derived from pg_catalog rather than hand-listed: tenant-first
//! keys, FK types equal to their keys (whole schema, MES included), validated and indexed FKs, the ON DELETE
//! strategy, RLS enabled and forced, privileges of `neurohub_app`, and the seeds' floor counts.
mod atp_common;
mod common;

use atp_common::workspace_scoped_tables;
use common::up_to;
use sqlx::PgPool;

/// The 16 tables of seeds 002-004 and the 3 the issue adds around them.
const SEED_TABLES: &[&str] = &[
    "config_versions",
    "atp_scope_master",
    "vendor_master",
    "approval_role_master",
    "approval_policy_master",
    "approval_policy_stages",
    "cluster_master",
    "cluster_approver_master",
    "workflow_instances",
    "workflow_stages",
    "approver_overrides",
    "atp_submissions",
    "atp_submission_documents",
    "punchlists",
    "punchlist_items",
    "workflow_stage_actions",
];
const ADDED_TABLES: &[&str] = &["workspaces", "workspace_members", "sites"];

/// Tables whose rows belong to a workspace, plus `workspaces` itself: the ATP tables.
async fn atp_tables(pool: &PgPool) -> Vec<String> {
    let mut t = workspace_scoped_tables(pool).await;
    t.push("workspaces".into());
    t
}

#[sqlx::test(migrations = false)]
async fn the_seed_tables_and_the_added_ones_exist(pool: PgPool) {
    up_to(&pool, None).await;
    let scoped = workspace_scoped_tables(&pool).await;
    for t in SEED_TABLES.iter().chain(&ADDED_TABLES[1..]) {
        assert!(
            scoped.contains(&t.to_string()),
            "{t} is not workspace-scoped"
        );
    }
    let ws: bool = sqlx::query_scalar("SELECT to_regclass('public.workspaces') IS NOT NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(ws);
    // the MES tables stay global
    assert!(!scoped.contains(&"users".to_string()));
    assert!(!scoped.contains(&"lots".to_string()));
}

#[sqlx::test(migrations = false)]
async fn workspace_id_leads_every_key_and_every_tenant_fk(pool: PgPool) {
    up_to(&pool, None).await;
    let scoped = workspace_scoped_tables(&pool).await;
    assert!(scoped.len() >= 19, "{scoped:?}");
    // primary keys and unique constraints
    let bad_keys: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname || '.' || k.conname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
          WHERE c.relname = ANY($1) AND k.contype IN ('p', 'u')
            AND (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = k.conrelid AND a.attnum = k.conkey[1])
                <> 'workspace_id'",
    )
    .bind(&scoped)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        bad_keys.is_empty(),
        "keys not led by workspace_id: {bad_keys:?}"
    );
    let pks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
          WHERE c.relname = ANY($1) AND k.contype = 'p'",
    )
    .bind(&scoped)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        pks as usize,
        scoped.len(),
        "every workspace-scoped table has a primary key"
    );
    // unique indexes too (partial ones like ux_config_versions_one_active_per_workspace included)
    let bad_unique: Vec<String> = sqlx::query_scalar(
        "SELECT ic.relname::text FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid
           JOIN pg_class ic ON ic.oid = x.indexrelid
          WHERE c.relname = ANY($1) AND x.indisunique
            AND (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = x.indrelid AND a.attnum = x.indkey[0])
                IS DISTINCT FROM 'workspace_id'",
    )
    .bind(&scoped)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        bad_unique.is_empty(),
        "unique indexes not led by workspace_id: {bad_unique:?}"
    );
    // every FK between workspace-scoped tables is composite and starts with workspace_id on both sides
    let rows: Vec<(String, String, String, bool)> = sqlx::query_as(
        "SELECT k.conname::text, c.relname::text, r.relname::text,
                (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = k.conrelid AND a.attnum = k.conkey[1])
                    = 'workspace_id'
                AND (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = k.confrelid AND a.attnum = k.confkey[1])
                    = 'workspace_id'
                AND array_length(k.conkey, 1) >= 2
           FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid
          WHERE k.contype = 'f' AND c.relname = ANY($1)",
    )
    .bind(&scoped)
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut tenant_fks = 0;
    for (name, table, referenced, leads) in &rows {
        if scoped.contains(referenced) {
            tenant_fks += 1;
            assert!(
                leads,
                "{name}: {table} -> {referenced} is not (workspace_id, ..) -> (workspace_id, ..)"
            );
        } else {
            // the only ways out of a workspace: its own workspaces row, and the member's MES user
            assert!(
                (referenced == "workspaces" && name.ends_with("_workspace"))
                    || (name == "fk_workspace_members_user" && referenced == "users"),
                "{name}: {table} -> {referenced} leaves the workspace"
            );
        }
    }
    assert!(tenant_fks >= 45, "{tenant_fks} tenant FKs");
    // every workspace-scoped table is tied to workspaces
    for t in &scoped {
        assert!(
            rows.iter().any(|(n, tb, r, _)| tb == t
                && r == "workspaces"
                && n == &format!("fk_{t}_workspace")),
            "{t} has no fk_{t}_workspace"
        );
    }
}

#[sqlx::test(migrations = false)]
async fn every_fk_column_has_exactly_its_referenced_columns_type(pool: PgPool) {
    up_to(&pool, None).await;
    let mismatches: Vec<String> = sqlx::query_scalar(
        "SELECT format('%s: %s.%s %s -> %s.%s %s', k.conname, k.conrelid::regclass, a.attname,
                       format_type(a.atttypid, a.atttypmod), k.confrelid::regclass, b.attname,
                       format_type(b.atttypid, b.atttypmod))
           FROM pg_constraint k
          CROSS JOIN LATERAL unnest(k.conkey, k.confkey) AS u(col, refcol)
           JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.col
           JOIN pg_attribute b ON b.attrelid = k.confrelid AND b.attnum = u.refcol
          WHERE k.contype = 'f' AND k.connamespace = 'public'::regnamespace
            AND (a.atttypid, a.atttypmod, a.attcollation) IS DISTINCT FROM (b.atttypid, b.atttypmod, b.attcollation)",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    let checked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(checked > 90, "{checked} FKs checked (MES and ATP)");
}

#[sqlx::test(migrations = false)]
async fn every_fk_is_validated_and_led_by_an_index(pool: PgPool) {
    up_to(&pool, None).await;
    let unvalidated: Vec<String> = sqlx::query_scalar(
        "SELECT conname::text FROM pg_constraint
          WHERE connamespace = 'public'::regnamespace AND contype IN ('f', 'c') AND NOT convalidated",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(unvalidated.is_empty(), "{unvalidated:?}");
    // the FK's columns, in order, are the leading columns of a valid, non-partial index of the referencing table
    // (what the RESTRICT / CASCADE check of a parent delete and the child lists need)
    let uncovered: Vec<String> = sqlx::query_scalar(
        "SELECT k.conname::text FROM pg_constraint k
          WHERE k.contype = 'f' AND k.connamespace = 'public'::regnamespace AND k.conparentid = 0
            AND NOT EXISTS (
                SELECT 1 FROM pg_index x
                 WHERE x.indrelid = k.conrelid AND x.indisvalid AND x.indpred IS NULL
                   AND (string_to_array(x.indkey::text, ' ')::int2[])[1:array_length(k.conkey, 1)] = k.conkey)",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        uncovered.is_empty(),
        "FKs not led by an index: {uncovered:?}"
    );
    let invalid_indexes: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
          WHERE c.relnamespace = 'public'::regnamespace AND NOT x.indisvalid",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(invalid_indexes.is_empty(), "{invalid_indexes:?}");
}

#[sqlx::test(migrations = false)]
async fn on_delete_actions_follow_seed_004s_strategy(pool: PgPool) {
    up_to(&pool, None).await;
    let tables = atp_tables(&pool).await;
    // (name, referencing table, referenced table, confdeltype, SET NULL column list)
    let fks: Vec<(String, String, String, String, Vec<String>)> = sqlx::query_as(
        "SELECT k.conname::text, c.relname::text, r.relname::text, k.confdeltype::text,
                COALESCE((SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
                           WHERE a.attrelid = k.conrelid AND a.attnum = ANY(k.confdelsetcols)), '{}')
           FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid
          WHERE k.contype = 'f' AND c.relname = ANY($1)",
    )
    .bind(&tables)
    .fetch_all(&pool)
    .await
    .unwrap();
    let action = |name: &str| -> String {
        fks.iter()
            .find(|f| f.0 == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .3
            .clone()
    };
    // freeze-by-reference and the seed's named children
    assert_eq!(action("fk_workflow_instances_config_version"), "r");
    assert_eq!(action("fk_workflow_stages_workflow_instance"), "c");
    assert_eq!(action("fk_punchlist_items_punchlist"), "c");
    assert_eq!(action("fk_atp_submission_documents_submission"), "c");
    assert_eq!(action("fk_atp_submissions_workflow_instance"), "r");
    assert_eq!(action("fk_punchlists_workflow_instance"), "r");
    for (name, table, referenced, del, setcols) in &fks {
        // every action is explicit: never the default NO ACTION
        assert_ne!(del, "a", "{name} has no explicit ON DELETE");
        // masters (and everything else) -> workspaces, and every reference to a config version: RESTRICT
        if referenced == "workspaces" || referenced == "config_versions" {
            assert_eq!(del, "r", "{name}");
        }
        // history is never deleted, not even by a cascade
        if table == "workflow_stage_actions" {
            assert_eq!(del, "r", "{name}");
        }
        // vendor references: SET NULL of vendor_id only (workspace_id is never nulled); nothing else SET NULL
        if referenced == "vendor_master" {
            assert_eq!(
                (del.as_str(), setcols.as_slice()),
                ("n", &["vendor_id".to_string()][..]),
                "{name}"
            );
        } else {
            assert_ne!(del, "n", "{name}");
        }
    }
    assert!(fks.iter().filter(|f| f.2 == "vendor_master").count() >= 4);
}

#[sqlx::test(migrations = false)]
async fn row_level_security_is_enabled_and_forced_with_policies(pool: PgPool) {
    up_to(&pool, None).await;
    let tables = atp_tables(&pool).await;
    let rows: Vec<(String, bool, bool, i64)> = sqlx::query_as(
        "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity,
                (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
           FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1)",
    )
    .bind(&tables)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), tables.len());
    for (t, enabled, forced, policies) in rows {
        assert!(enabled && forced, "{t}: enabled={enabled} forced={forced}");
        assert!(policies > 0, "{t} has no policy");
    }
    // the policies compare workspace_id with the request's workspace (workspaces: membership)
    let unscoped: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname || '.' || p.polname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
          WHERE c.relname = ANY($1) AND c.relname <> 'workspaces' AND p.polname <> 'p_workspace_members_definer'
            AND pg_get_expr(p.polqual, p.polrelid) NOT LIKE '%workspace_id = ( SELECT app_current_workspace_id()%'",
    )
    .bind(&tables)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(unscoped.is_empty(), "{unscoped:?}");
}

#[sqlx::test(migrations = false)]
async fn neurohub_app_holds_privileges_on_every_table(pool: PgPool) {
    up_to(&pool, None).await;
    let ungranted: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c
          WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
            AND NOT has_table_privilege('neurohub_app', c.oid, 'SELECT')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(ungranted.is_empty(), "{ungranted:?}");
    for t in atp_tables(&pool).await {
        let privs: Vec<bool> = sqlx::query_scalar(
            "SELECT has_table_privilege('neurohub_app', $1::regclass, p)
               FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p",
        )
        .bind(&t)
        .fetch_all(&pool)
        .await
        .unwrap();
        let expected = if [
            "workflow_stage_actions",
            "notification_outbox",
            "webhook_deliveries",
        ]
        .contains(&t.as_str())
        {
            // append-only: read and append (a delivery's state is the owner-run worker's)
            vec![true, true, false, false, false]
        } else if t == "webhook_subscriptions" {
            vec![true, true, true, false, false] // deactivated, never deleted
        } else {
            vec![true, true, true, true, false]
        };
        assert_eq!(privs, expected, "{t}");
    }
}

#[sqlx::test(migrations = false)]
async fn counts_reach_the_seeds_floors(pool: PgPool) {
    up_to(&pool, None).await;
    let tables: Vec<String> = SEED_TABLES
        .iter()
        .chain(ADDED_TABLES)
        .map(|s| s.to_string())
        .collect();
    let (fks, checks, idx): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
                  WHERE c.relname = ANY($1) AND k.contype = 'f'),
                (SELECT count(*) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
                  WHERE c.relname = ANY($1) AND k.contype = 'c'),
                (SELECT count(*) FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid
                   JOIN pg_class ic ON ic.oid = x.indexrelid
                  WHERE c.relname = ANY($1) AND ic.relname LIKE 'idx\\_%')",
    )
    .bind(&tables)
    .fetch_one(&pool)
    .await
    .unwrap();
    // seed 003/004: 45+ FKs, 22 constraints, 25+ performance indexes (a floor, not a target)
    assert!(fks >= 45, "{fks} FKs");
    assert!(checks >= 22, "{checks} CHECKs");
    assert!(idx >= 25, "{idx} idx_ indexes");
    // the seeds' partial unique index, with its predicate
    let (unique, pred): (bool, String) = sqlx::query_as(
        "SELECT x.indisunique, pg_get_expr(x.indpred, x.indrelid) FROM pg_index x
          WHERE x.indexrelid = 'ux_config_versions_one_active_per_workspace'::regclass",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(unique);
    assert!(pred.contains("'ACTIVE'"), "{pred}");
}
