//! Checks of the whole database, whatever module owns the tables: section 0 (preflight), C1 schema integrity,
//! C2 type alignment, scale-readiness, I1 indexes, I3 audit trail and the audit invariant.

use crate::catalog::{relation_filter, Scope};
use crate::engine::pending_steps;
use crate::error::SchemaError;
use crate::registry::HEAD_VERSION;
use crate::verify::report::{Module, Section};
use crate::verify::{all_refused, orphans, scratch, Check, Ctx, Outcome};

/// The platform's checks.
pub static CHECKS: &[Check] = &[
    Check {
        id: "P1",
        section: Section::Preflight,
        module: Module::Platform,
        title: "server version (PostgreSQL 15 or later)",
        run: p1,
    },
    Check {
        id: "P2",
        section: Section::Preflight,
        module: Module::Platform,
        title: "database encoding UTF8",
        run: p2,
    },
    Check {
        id: "P3",
        section: Section::Preflight,
        module: Module::Platform,
        title: "extensions required (gen_random_uuid)",
        run: p3,
    },
    Check {
        id: "P4",
        section: Section::Preflight,
        module: Module::Platform,
        title: "schema version at head, nothing pending",
        run: p4,
    },
    Check {
        id: "P5",
        section: Section::Preflight,
        module: Module::Platform,
        title: "key column types detected",
        run: p5,
    },
    Check {
        id: "P6",
        section: Section::Preflight,
        module: Module::Platform,
        title: "test workspace and two active users",
        run: p6,
    },
    Check {
        id: "C1",
        section: Section::Critical,
        module: Module::Platform,
        title: "schema integrity (catalog equals the snapshot)",
        run: c1,
    },
    Check {
        id: "C1-VALID",
        section: Section::Critical,
        module: Module::Platform,
        title: "no constraint left NOT VALID, no invalid index",
        run: c1_valid,
    },
    Check {
        id: "C2",
        section: Section::Critical,
        module: Module::Platform,
        title: "type alignment of FK and FK-like columns",
        run: c2,
    },
    Check {
        id: "SCALE-PARTITIONS",
        section: Section::ScaleReadiness,
        module: Module::Platform,
        title: "audit partitions this month + 3, DEFAULT empty",
        run: scale_partitions,
    },
    Check {
        id: "SCALE-WSFIRST",
        section: Section::ScaleReadiness,
        module: Module::Platform,
        title: "workspace_id first in PK, UNIQUE and FK",
        run: scale_wsfirst,
    },
    Check {
        id: "I1",
        section: Section::Important,
        module: Module::Platform,
        title: "indexes: FKs indexed, named indexes, no duplicate",
        run: i1,
    },
    Check {
        id: "I3",
        section: Section::Important,
        module: Module::Platform,
        title: "audit trail: a change writes a row with user and IP",
        run: i3,
    },
    Check {
        id: "INV3",
        section: Section::Invariant,
        module: Module::Platform,
        title: "audit rows cannot be modified",
        run: inv3,
    },
    Check {
        id: "ORPHANS",
        section: Section::Orphans,
        module: Module::Platform,
        title: "no orphan row in any relationship",
        run: orphans::check,
    },
];

boxed!(
    p1 => p1_impl, p2 => p2_impl, p3 => p3_impl, p4 => p4_impl, p5 => p5_impl, p6 => p6_impl,
    c1 => c1_impl, c1_valid => c1_valid_impl, c2 => c2_impl, scale_partitions => scale_partitions_impl,
    scale_wsfirst => scale_wsfirst_impl, i1 => i1_impl, i3 => i3_impl, inv3 => inv3_impl,
);

async fn p1_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let (num, text): (i32, String) = sqlx::query_as(
        "SELECT current_setting('server_version_num')::int, current_setting('server_version')",
    )
    .fetch_one(&ctx.pool)
    .await?;
    let d = vec![format!("PostgreSQL {text}")];
    Ok(if num >= 150000 {
        Outcome::Pass(d)
    } else {
        Outcome::Fail(format!("PostgreSQL {text} is older than 15"), d)
    })
}

async fn p2_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let enc: String = sqlx::query_scalar(
        "SELECT pg_encoding_to_char(encoding)::text FROM pg_database WHERE datname = current_database()",
    )
    .fetch_one(&ctx.pool)
    .await?;
    Ok(if enc == "UTF8" {
        Outcome::Pass(vec![enc])
    } else {
        Outcome::Fail(format!("encoding is {enc}, not UTF8"), vec![enc])
    })
}

/// NeuroHub's UUID defaults call the core `gen_random_uuid()` (PostgreSQL 13+), so pgcrypto — which seed 002
/// requires — is not needed; the check proves the core function exists and works.
async fn p3_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let core: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'gen_random_uuid' AND pronamespace = 'pg_catalog'::regnamespace)",
    )
    .fetch_one(&ctx.pool)
    .await?;
    let installed: Vec<String> =
        sqlx::query_scalar("SELECT extname || ' ' || extversion FROM pg_extension ORDER BY 1")
            .fetch_all(&ctx.pool)
            .await?;
    if !core {
        return Ok(Outcome::Fail(
            "pg_catalog.gen_random_uuid() is missing".into(),
            installed,
        ));
    }
    let works: bool = sqlx::query_scalar("SELECT gen_random_uuid() IS NOT NULL")
        .fetch_one(&ctx.pool)
        .await?;
    let mut d = vec![
        "pgcrypto: not required (UUID defaults use the core gen_random_uuid())".to_string(),
        format!("gen_random_uuid() works: {works}"),
    ];
    d.push(format!("installed extensions: {}", installed.join(", ")));
    Ok(Outcome::Pass(d))
}

async fn p4_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let pending = pending_steps(&ctx.pool).await?;
    let v = ctx.summary.version;
    let d = vec![format!(
        "schema version {v}, head {HEAD_VERSION}, {pending} pending steps"
    )];
    Ok(if v == HEAD_VERSION && pending == 0 {
        Outcome::Pass(d)
    } else {
        Outcome::Fail(
            format!("the schema is at version {v} with {pending} pending steps (head is {HEAD_VERSION}); run `neurohub deploy`"),
            d,
        )
    })
}

/// Seed 002 step 0.7: detect the id types the FKs depend on (config_versions.id, users.id, workspaces.id) and
/// the status column names of the workflow tables.
async fn p5_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns
          WHERE table_schema = 'public'
            AND ((table_name IN ('config_versions', 'users', 'workspaces', 'lots', 'processes') AND column_name = 'id')
              OR (table_name IN ('workflow_instances', 'workflow_stages') AND column_name IN ('status', 'workflow_status', 'stage_status')))
          ORDER BY 1",
    )
    .fetch_all(&ctx.pool)
    .await?;
    let d: Vec<String> = rows.iter().map(|(c, t)| format!("{c} {t}")).collect();
    let has = |c: &str| rows.iter().any(|(n, _)| n == c);
    Ok(if has("users.id") {
        Outcome::Pass(d)
    } else {
        Outcome::Fail("users.id was not found".into(), d)
    })
}

/// Seed 002's workspace (XLSMART-AVIAT or TEST-WS) and two active users. The behavioural checks create their
/// own rows inside the rolled-back transaction, so none of them depends on this; absent data is reported
/// skipped, never passed.
async fn p6_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let has_ws: bool = sqlx::query_scalar("SELECT to_regclass('public.workspaces') IS NOT NULL")
        .fetch_one(&ctx.pool)
        .await?;
    let ws: Vec<String> = if has_ws {
        sqlx::query_scalar(
            "SELECT code || ' ' || id FROM workspaces WHERE code IN ('XLSMART-AVIAT', 'TEST-WS') ORDER BY code",
        )
        .fetch_all(&ctx.pool)
        .await?
    } else {
        vec![]
    };
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE is_active")
        .fetch_one(&ctx.pool)
        .await?;
    if ws.is_empty() || users < 2 {
        return Ok(Outcome::Skip(format!(
            "{} test workspace, {users} active users: the behavioural checks create their own workspaces and users inside the rolled-back transaction",
            if ws.is_empty() { "no" } else { "a" }
        )));
    }
    let mut d: Vec<String> = ws.into_iter().map(|w| format!("workspace {w}")).collect();
    d.push(format!("{users} active users"));
    Ok(Outcome::Pass(d))
}

/// A plain index (not UNIQUE, not partial): a performance index, I1's concern rather than C1's.
fn plain_index(def: &str) -> bool {
    !def.contains("UNIQUE") && !def.contains(" WHERE ")
}

/// The catalog diff of every category except plain indexes (I1's); the per-table rows repeat the categories
/// and are left out.
async fn c1_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let mut d = Vec::new();
    let def = |cat: &crate::catalog::Catalog, name: &str| {
        cat.get(&format!("index {name}"))
            .map(|o| o.definition.clone())
            .unwrap_or_default()
    };
    for r in ctx
        .summary
        .rows
        .iter()
        .filter(|r| !r.ok && !r.category.contains(" on "))
    {
        let indexes = r.category == "Indexes";
        for m in &r.missing {
            if !(indexes && plain_index(&def(&ctx.expected, m))) {
                d.push(format!("{}: missing {m}", r.category));
            }
        }
        for m in &r.unexpected {
            if !(indexes && plain_index(&def(&ctx.live, m))) {
                d.push(format!("{}: extra {m}", r.category));
            }
        }
        for m in &r.changed {
            d.push(format!("{}: changed {m}", r.category));
        }
    }
    Ok(if d.is_empty() {
        Outcome::Pass(vec![format!(
            "{} objects equal to snapshot v{:04} (plain indexes: I1)",
            ctx.expected.len(),
            ctx.summary.version
        )])
    } else {
        Outcome::Fail(
            format!(
                "{} differences from snapshot v{:04}: {}",
                d.len(),
                ctx.summary.version,
                d.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
            ),
            d,
        )
    })
}

async fn c1_valid_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let rel = relation_filter(Scope::WithoutPartitions);
    let d: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT 'constraint ' || c.relname || '.' || con.conname || ' is NOT VALID'
           FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE NOT con.convalidated AND {rel}
         UNION ALL
         SELECT 'index ' || i.relname || ' is invalid'
           FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE NOT x.indisvalid AND {rel}
          ORDER BY 1"
    ))
    .fetch_all(&ctx.pool)
    .await?;
    Ok(if d.is_empty() {
        Outcome::Pass(vec!["every constraint validated, every index valid".into()])
    } else {
        Outcome::Fail(format!("{} not validated", d.len()), d)
    })
}

/// Columns named like an FK (`<x>_id`) that no FK covers, yet whose named table exists with another id type.
/// The table named is `<x>`, `<x>s`, `<x>es` or `<x>_master`; a table's own business key (`sites.site_id`) is not
/// a reference.
async fn c2_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let rel = relation_filter(Scope::WithoutPartitions);
    let fk: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' -> '
                || p.relname || '.' || pa.attname || ' ' || format_type(pa.atttypid, pa.atttypmod)
                || ' (' || con.conname || ')'
           FROM pg_constraint con
           JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_class p ON p.oid = con.confrelid
           CROSS JOIN LATERAL unnest(con.conkey, con.confkey) AS k(ck, pk)
           JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.ck
           JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.pk
          WHERE con.contype = 'f' AND con.conparentid = 0 AND {rel}
            AND (a.atttypid, a.atttypmod) IS DISTINCT FROM (pa.atttypid, pa.atttypmod)
          ORDER BY 1"
    ))
    .fetch_all(&ctx.pool)
    .await?;
    let like: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT DISTINCT ON (c.relname, a.attname)
                c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                || ' has no FK, and ' || p.relname || '.id is ' || format_type(pa.atttypid, pa.atttypmod)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           CROSS JOIN LATERAL (VALUES (0, left(a.attname, -3)), (1, left(a.attname, -3) || 's'),
                                      (2, left(a.attname, -3) || 'es'), (3, left(a.attname, -3) || '_master')) AS x(o, name)
           JOIN pg_class p ON p.relname = x.name AND p.relnamespace = c.relnamespace AND p.relkind IN ('r', 'p')
           JOIN pg_attribute pa ON pa.attrelid = p.oid AND pa.attname = 'id'
          WHERE c.relkind IN ('r', 'p') AND {rel} AND a.attname LIKE '%\\_id' AND p.oid <> c.oid
            AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f'
                              AND a.attnum = ANY (f.conkey))
            AND a.atttypid <> pa.atttypid
          ORDER BY c.relname, a.attname, x.o"
    ))
    .fetch_all(&ctx.pool)
    .await?;
    let n_fk: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE con.contype = 'f' AND con.conparentid = 0 AND {rel}"
    ))
    .fetch_one(&ctx.pool)
    .await?;
    let mut d: Vec<String> = fk
        .iter()
        .map(|s| format!("FK type mismatch: {s}"))
        .collect();
    d.extend(like.iter().map(|s| format!("FK-like column: {s}")));
    Ok(if d.is_empty() {
        Outcome::Pass(vec![format!(
            "{n_fk} FKs: every column's type equals its referenced column's; no mismatched *_id column"
        )])
    } else {
        Outcome::Fail(
            format!(
                "{} FK column mismatches, {} FK-like columns of another type",
                fk.len(),
                like.len()
            ),
            d,
        )
    })
}

async fn scale_partitions_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let missing: Vec<String> = sqlx::query_scalar(
        "SELECT p FROM (SELECT to_char(d, '\"audit_logs_y\"YYYY\"m\"MM') AS p
                          FROM generate_series(date_trunc('month', now() AT TIME ZONE 'UTC'),
                                               date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months',
                                               interval '1 month') AS d) AS w
          WHERE to_regclass('public.' || p) IS NULL ORDER BY 1",
    )
    .fetch_all(&ctx.pool)
    .await?;
    let has_default: bool =
        sqlx::query_scalar("SELECT to_regclass('public.audit_logs_default') IS NOT NULL")
            .fetch_one(&ctx.pool)
            .await?;
    let mut problems: Vec<String> = missing
        .iter()
        .map(|p| format!("missing partition {p}"))
        .collect();
    if has_default {
        let (n, sample): (i64, Vec<String>) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM audit_logs_default),
                    ARRAY(SELECT 'id ' || id || ' ' || table_name || ' at ' || created_at
                            FROM audit_logs_default ORDER BY id LIMIT 5)",
        )
        .fetch_one(&ctx.pool)
        .await?;
        if n > 0 {
            problems.push(format!(
                "audit_logs_default holds {n} rows (sample: {})",
                sample.join(", ")
            ));
        }
    } else {
        problems.push("the DEFAULT partition audit_logs_default is missing".into());
    }
    Ok(if problems.is_empty() {
        Outcome::Pass(vec![
            "this month and the next three are partitioned; audit_logs_default is empty".into(),
        ])
    } else {
        Outcome::Fail(problems.join("; "), problems)
    })
}

/// In every workspace-scoped table workspace_id leads the primary key, each UNIQUE constraint and each FK
/// to another workspace-scoped table, so a row can never reference another workspace's (and partitioning or
/// sharding by workspace stays possible).
async fn scale_wsfirst_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let rel = relation_filter(Scope::WithoutPartitions);
    let d: Vec<String> = sqlx::query_scalar(&format!(
        "WITH scoped AS (
            SELECT c.oid, c.relname, a.attnum FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped
             WHERE c.relkind IN ('r', 'p') AND {rel})
         SELECT s.relname || '.' || con.conname || ' (' || CASE con.contype WHEN 'p' THEN 'primary key'
                     WHEN 'u' THEN 'unique' ELSE 'foreign key' END || ') does not start with workspace_id'
           FROM scoped s JOIN pg_constraint con ON con.conrelid = s.oid
          WHERE con.conparentid = 0
            AND (con.contype IN ('p', 'u')
                 OR (con.contype = 'f' AND con.confrelid IN (SELECT oid FROM scoped)))
            AND con.conkey[1] <> s.attnum
         UNION ALL
         SELECT s.relname || ' has no primary key' FROM scoped s
          WHERE NOT EXISTS (SELECT 1 FROM pg_constraint p WHERE p.conrelid = s.oid AND p.contype = 'p')
         ORDER BY 1"
    ))
    .fetch_all(&ctx.pool)
    .await?;
    Ok(if d.is_empty() {
        Outcome::Pass(vec![
            "every workspace-scoped key and workspace-scoped FK starts with workspace_id".into(),
        ])
    } else {
        Outcome::Fail(format!("{} keys do not lead with workspace_id", d.len()), d)
    })
}

/// FK columns without an index whose leading columns are the FK's columns (any order): deletes on the parent
/// and joins scan the child.
pub(crate) async fn unindexed_fks(ctx: &Ctx) -> Result<Vec<String>, SchemaError> {
    let rel = relation_filter(Scope::WithoutPartitions);
    Ok(sqlx::query_scalar(&format!(
        "SELECT c.relname || '.' || con.conname || ' (' ||
                (SELECT string_agg(a.attname, ', ' ORDER BY k.n) FROM unnest(con.conkey) WITH ORDINALITY k(att, n)
                   JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.att) || ')'
           FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE con.contype = 'f' AND con.conparentid = 0 AND {rel}
            AND NOT EXISTS (
                SELECT 1 FROM pg_index x
                 WHERE x.indrelid = c.oid AND x.indisvalid AND x.indpred IS NULL
                   AND (SELECT array_agg(v ORDER BY v) FROM unnest((x.indkey::int2[])[0:cardinality(con.conkey) - 1]) v)
                       = (SELECT array_agg(v ORDER BY v) FROM unnest(con.conkey) v))
          ORDER BY 1"
    ))
    .fetch_all(&ctx.pool)
    .await?)
}

async fn i1_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let mut d: Vec<String> = unindexed_fks(ctx)
        .await?
        .into_iter()
        .map(|s| format!("unindexed FK {s}"))
        .collect();
    // named performance indexes: every index the snapshot defines (C1 lists the rest of the catalog)
    for r in ctx.summary.rows.iter().filter(|r| r.category == "Indexes") {
        for m in &r.missing {
            d.push(format!("missing index {m}"));
        }
    }
    let rel = relation_filter(Scope::WithoutPartitions);
    let dup: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT 'duplicate indexes on ' || c.relname || ': ' || string_agg(i.relname, ', ' ORDER BY i.relname)
           FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE {rel}
          GROUP BY c.relname, x.indkey::text, x.indclass::text, coalesce(pg_get_expr(x.indexprs, x.indrelid), ''),
                   coalesce(pg_get_expr(x.indpred, x.indrelid), '')
         HAVING count(*) > 1
         UNION ALL
         SELECT 'invalid index ' || i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
           JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE NOT x.indisvalid AND {rel}"
    ))
    .fetch_all(&ctx.pool)
    .await?;
    d.extend(dup);
    Ok(if d.is_empty() {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {rel}"
        ))
        .fetch_one(&ctx.pool)
        .await?;
        Outcome::Pass(vec![format!(
            "{n} indexes: every FK indexed, every named index present, none duplicate or invalid"
        )])
    } else {
        Outcome::Fail(format!("{} index problems", d.len()), d)
    })
}

/// A user created inside the transaction with an explicit id (no identity sequence moves).
pub(crate) const SCRATCH_USER: &str = "INSERT INTO users (id, username, full_name, password_hash, role)
    OVERRIDING SYSTEM VALUE
    SELECT coalesce(max(id), 0) + 1000000, 'verify_probe_user', 'verify probe', '$argon2id$verify', 'OPERATOR'
      FROM users RETURNING id";

async fn i3_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let mut tx = scratch(&ctx.pool).await?;
    let uid: i64 = sqlx::query_scalar(SCRATCH_USER).fetch_one(&mut *tx).await?;
    sqlx::query(
        "SELECT set_config('app.current_user_id', $1, true), set_config('app.client_ip', '203.0.113.7', true),
                set_config('app.request_id', 'neurohub-verify', true)",
    )
    .bind(uid.to_string())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE users SET full_name = 'verify probe (renamed)' WHERE id = $1")
        .bind(uid)
        .execute(&mut *tx)
        .await?;
    let row: Option<(Option<i64>, Option<String>, String)> = sqlx::query_as(
        "SELECT user_id, client_ip, action FROM audit_logs
          WHERE table_name = 'users' AND record_id = $1 AND action = 'UPDATE' ORDER BY id DESC LIMIT 1",
    )
    .bind(uid)
    .fetch_optional(&mut *tx)
    .await?;
    tx.rollback().await?;
    Ok(match row {
        Some((Some(u), Some(ip), _)) if u == uid && ip == "203.0.113.7" => {
            Outcome::Pass(vec![format!(
                "UPDATE users wrote an audit row with user_id {u} and client_ip {ip} (rolled back)"
            )])
        }
        Some((u, ip, _)) => Outcome::Fail(
            format!("the audit row lacks the user or IP: user_id {u:?}, client_ip {ip:?}"),
            vec![],
        ),
        None => Outcome::Fail("an UPDATE of users wrote no audit row".into(), vec![]),
    })
}

async fn inv3_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let mut tx = scratch(&ctx.pool).await?;
    // an audit row of our own to aim at (the row-level guards fire only on a row)
    let uid: i64 = sqlx::query_scalar(SCRATCH_USER).fetch_one(&mut *tx).await?;
    let u = vec![uid.to_string()];
    let out = all_refused(
        &mut tx,
        &[
            (
                "UPDATE audit_logs",
                "UPDATE audit_logs SET action = 'DELETE'
                  WHERE table_name = 'users' AND record_id = $1::bigint",
                u.clone(),
                Some("NH001"),
            ),
            (
                "DELETE FROM audit_logs",
                "DELETE FROM audit_logs WHERE table_name = 'users' AND record_id = $1::bigint",
                u,
                Some("NH001"),
            ),
            // TRUNCATE is not probed: it would queue an ACCESS EXCLUSIVE lock behind live writers; the
            // statement trigger's presence is C1's
        ],
    )
    .await?;
    tx.rollback().await?;
    Ok(out)
}
