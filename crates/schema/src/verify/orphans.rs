//! Orphan audit: for every relationship — every FK in the catalog, validated or `NOT VALID`, plus the
//! relationships deliberately not enforced by an FK ([`UNENFORCED`]) — the count of child rows whose parent
//! is missing, with a sample of their keys. One query per relationship, generated from the catalog.

use crate::error::SchemaError;
use crate::verify::report::OrphanCount;
use crate::verify::{Ctx, Outcome};

/// (child table, child columns, parent table, parent columns, why there is no FK).
pub type Unenforced = (
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static [&'static str],
    &'static str,
);

/// Relationships without an FK (the one place they are listed): (child table, child columns, parent table,
/// parent columns, why there is no FK).
pub const UNENFORCED: &[Unenforced] = &[
    (
        "sites",
        &["workspace_id", "cluster_code"],
        "cluster_master",
        &["workspace_id", "cluster_code"],
        "a site names its cluster by code; cluster_master rows are per config version",
    ),
    (
        "workflow_instances",
        &["workspace_id", "cluster_code"],
        "cluster_master",
        &["workspace_id", "cluster_code"],
        "the cluster code a workflow was routed with (denormalised beside cluster_id)",
    ),
];

struct Rel {
    constraint: String,
    child: String,
    child_cols: Vec<String>,
    parent: String,
    parent_cols: Vec<String>,
}

fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The orphan query of one relationship: count and up to five child keys (the child's primary key columns,
/// else its FK columns).
fn orphan_sql(r: &Rel, key: &[String]) -> String {
    let nn: Vec<String> = r
        .child_cols
        .iter()
        .map(|c| format!("c.{} IS NOT NULL", ident(c)))
        .collect();
    let eq: Vec<String> = r
        .child_cols
        .iter()
        .zip(&r.parent_cols)
        .map(|(c, p)| format!("p.{} = c.{}", ident(p), ident(c)))
        .collect();
    let key_cols = if key.is_empty() { &r.child_cols } else { key };
    let sample: Vec<String> = key_cols
        .iter()
        .map(|k| format!("c.{}::text", ident(k)))
        .collect();
    format!(
        "WITH o AS (SELECT concat_ws('/', {sample}) AS k FROM public.{child} c
                     WHERE {nn} AND NOT EXISTS (SELECT 1 FROM public.{parent} p WHERE {eq}))
         SELECT (SELECT count(*) FROM o), ARRAY(SELECT k FROM o ORDER BY k LIMIT 5)",
        sample = sample.join(", "),
        child = ident(&r.child),
        parent = ident(&r.parent),
        nn = nn.join(" AND "),
        eq = eq.join(" AND ")
    )
}

/// Count orphans of every relationship (read-only).
pub async fn orphan_counts(pool: &sqlx::PgPool) -> Result<Vec<OrphanCount>, SchemaError> {
    type Row = (String, String, Vec<String>, String, Vec<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT con.conname::text, c.relname::text,
                ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(att, n)
                        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.att ORDER BY k.n),
                p.relname::text,
                ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(att, n)
                        JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.att ORDER BY k.n)
           FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_class p ON p.oid = con.confrelid
          WHERE con.contype = 'f' AND con.conparentid = 0 AND n.nspname = 'public' AND NOT c.relispartition
          ORDER BY c.relname, con.conname",
    )
    .fetch_all(pool)
    .await?;
    let mut rels: Vec<Rel> = rows
        .into_iter()
        .map(|(constraint, child, child_cols, parent, parent_cols)| Rel {
            constraint,
            child,
            child_cols,
            parent,
            parent_cols,
        })
        .collect();
    for (child, cc, parent, pc, _) in UNENFORCED {
        let present: bool = sqlx::query_scalar(
            "SELECT to_regclass('public.' || $1) IS NOT NULL AND to_regclass('public.' || $2) IS NOT NULL",
        )
        .bind(child)
        .bind(parent)
        .fetch_one(pool)
        .await?;
        if present {
            rels.push(Rel {
                constraint: "unenforced".into(),
                child: child.to_string(),
                child_cols: cc.iter().map(|s| s.to_string()).collect(),
                parent: parent.to_string(),
                parent_cols: pc.iter().map(|s| s.to_string()).collect(),
            });
        }
    }
    let mut out = Vec::new();
    for r in &rels {
        let key: Vec<String> = sqlx::query_scalar(
            "SELECT a.attname::text FROM pg_index x
               CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY k(att, n)
               JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.att
              WHERE x.indrelid = ('public.' || quote_ident($1))::regclass AND x.indisprimary ORDER BY k.n",
        )
        .bind(&r.child)
        .fetch_all(pool)
        .await?;
        let (orphans, sample): (i64, Vec<String>) =
            sqlx::query_as(&orphan_sql(r, &key)).fetch_one(pool).await?;
        out.push(OrphanCount {
            relationship: format!(
                "{}({}) -> {}({})",
                r.child,
                r.child_cols.join(", "),
                r.parent,
                r.parent_cols.join(", ")
            ),
            constraint: r.constraint.clone(),
            orphans,
            sample,
        });
    }
    Ok(out)
}

boxed!(check => check_impl);

async fn check_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let counts = orphan_counts(&ctx.pool).await?;
    let bad: Vec<String> = counts
        .iter()
        .filter(|c| c.orphans > 0)
        .map(|c| {
            format!(
                "{} [{}]: {} orphans, sample {}",
                c.relationship,
                c.constraint,
                c.orphans,
                c.sample.join(", ")
            )
        })
        .collect();
    let n = counts.len();
    *ctx.orphans.lock().expect("orphans lock") = counts;
    Ok(if bad.is_empty() {
        Outcome::Pass(vec![format!(
            "{n} relationships ({} without an FK): no orphan",
            UNENFORCED.len()
        )])
    } else {
        Outcome::Fail(format!("{} relationships have orphan rows", bad.len()), bad)
    })
}
