//! A deterministic text snapshot of the public schema, used to prove that a down restores the previous
//! version's schema exactly (compare the snapshot of a fresh `up --to V` with `up` + `down --to V`).

use sqlx::PgPool;

use crate::error::SchemaError;

const QUERIES: &[&str] = &[
    // relations (tables, partitioned tables, sequences, views) and their kind
    "SELECT format('relation %s kind=%s persistence=%s partitioned=%s', c.relname, c.relkind, c.relpersistence,
                   c.relispartition)
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f')
        AND c.relname NOT IN ('schema_migrations', 'schema_migration_steps', 'schema_migrations_pkey',
                              'schema_migration_steps_pkey')",
    // columns: logical position among live columns, type, nullability, default, identity
    "SELECT format('column %s.%s #%s %s notnull=%s default=%s identity=%s generated=%s', c.relname, a.attname,
                   row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), format_type(a.atttypid, a.atttypmod),
                   a.attnotnull, COALESCE(pg_get_expr(d.adbin, d.adrelid), '-'), a.attidentity, a.attgenerated)
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v') AND a.attnum > 0 AND NOT a.attisdropped
        AND c.relname NOT IN ('schema_migrations', 'schema_migration_steps')",
    "SELECT format('constraint %s.%s %s validated=%s deferrable=%s', c.relname, k.conname, pg_get_constraintdef(k.oid),
                   k.convalidated, k.condeferrable)
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relname NOT IN ('schema_migrations', 'schema_migration_steps')",
    "SELECT format('index %s.%s %s valid=%s', c.relname, ic.relname, pg_get_indexdef(x.indexrelid), x.indisvalid)
       FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class ic ON ic.oid = x.indexrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relname NOT IN ('schema_migrations', 'schema_migration_steps')",
    "SELECT format('trigger %s.%s %s enabled=%s', c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled)
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND NOT t.tgisinternal",
    "SELECT format('function %s(%s) returns %s lang=%s volatile=%s secdef=%s config=%s md5=%s', p.proname,
                   pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid), l.lanname,
                   p.provolatile, p.prosecdef, COALESCE(array_to_string(p.proconfig, ','), '-'), md5(p.prosrc))
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
      WHERE n.nspname = 'public'",
    "SELECT format('partition %s of %s %s', c.relname, pc.relname, pg_get_expr(c.relpartbound, c.oid))
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class pc ON pc.oid = i.inhparent
       JOIN pg_namespace n ON n.oid = pc.relnamespace
      WHERE n.nspname = 'public'",
    "SELECT format('partitioning %s %s', c.relname, pg_get_partkeydef(c.oid))
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'p'",
    "SELECT format('type %s %s', t.typname, t.typtype) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c') AND t.typrelid = 0",
];

/// Sorted text lines describing the public schema (history tables excluded). Two databases with equal
/// snapshots have the same tables, columns, defaults, constraints, indexes, triggers, functions and partitions.
pub async fn catalog_snapshot(pool: &PgPool) -> Result<Vec<String>, SchemaError> {
    let mut conn = pool.acquire().await?;
    // pg_get_expr renders timestamps in the session time zone: pin it so snapshots compare across sessions
    sqlx::query("SET TimeZone = 'UTC'")
        .execute(&mut *conn)
        .await?;
    let mut lines = Vec::new();
    for q in QUERIES {
        let part: Vec<String> = sqlx::query_scalar(q).fetch_all(&mut *conn).await?;
        lines.extend(part);
    }
    sqlx::query("RESET TimeZone").execute(&mut *conn).await?;
    lines.sort();
    Ok(lines)
}
