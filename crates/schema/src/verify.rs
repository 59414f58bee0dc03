//! The go / no-go report of seed 000's "FINAL VERIFICATION & SUMMARY", computed from the catalog and compared
//! with the manifest of the version the database is at.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use sqlx::PgPool;

use crate::engine::current_version;
use crate::error::SchemaError;
use crate::manifest::{manifest, DEFAULT_PARTITION};

/// One line of the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// What is counted (`Functions`, `Indexes on lots`, ...).
    pub category: String,
    /// How many the manifest expects.
    pub expected: usize,
    /// How many the catalog has.
    pub found: usize,
    /// Nothing missing and nothing unexpected.
    pub ok: bool,
    /// Expected but absent (or different, e.g. an FK with another action).
    pub missing: Vec<String>,
    /// Present but not expected.
    pub unexpected: Vec<String>,
}

/// The verification summary: expected vs found for every category, per table for indexes and triggers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Schema version the expectations are for.
    pub version: i32,
    /// The rows, in display order.
    pub rows: Vec<SummaryRow>,
}

impl Summary {
    /// Every row matches.
    pub fn ok(&self) -> bool {
        self.rows.iter().all(|r| r.ok)
    }

    /// A row by category name.
    pub fn row(&self, category: &str) -> Option<&SummaryRow> {
        self.rows.iter().find(|r| r.category == category)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = "─".repeat(66);
        writeln!(f, "┌{line}┐")?;
        writeln!(
            f,
            "│{:^66}│",
            format!(
                "FINAL VERIFICATION & SUMMARY (schema version {})",
                self.version
            )
        )?;
        writeln!(f, "└{line}┘")?;
        writeln!(f, "    {:<36} {:>9} {:>9}", "", "expected", "found")?;
        let mut in_tables = false;
        for r in &self.rows {
            let per_table =
                r.category.starts_with("Indexes on ") || r.category.starts_with("Triggers on ");
            if per_table && !in_tables {
                writeln!(f, "  per table:")?;
                in_tables = true;
            }
            let mark = if r.ok { '✓' } else { '✗' };
            writeln!(
                f,
                "  {mark} {:<36} {:>9} {:>9}",
                r.category, r.expected, r.found
            )?;
            if !r.missing.is_empty() {
                writeln!(f, "      missing: {}", r.missing.join(", "))?;
            }
            if !r.unexpected.is_empty() {
                writeln!(f, "      unexpected: {}", r.unexpected.join(", "))?;
            }
        }
        if self.ok() {
            writeln!(f, "  RESULT: GO — every expected object was found")
        } else {
            let bad = self.rows.iter().filter(|r| !r.ok).count();
            writeln!(
                f,
                "  RESULT: NO-GO — {bad} categor{} differ",
                if bad == 1 { "y" } else { "ies" }
            )
        }
    }
}

fn row(category: impl Into<String>, expected: Vec<String>, found: Vec<String>) -> SummaryRow {
    let e: BTreeSet<String> = expected.into_iter().collect();
    let f: BTreeSet<String> = found.into_iter().collect();
    let missing: Vec<String> = e.difference(&f).cloned().collect();
    let unexpected: Vec<String> = f.difference(&e).cloned().collect();
    SummaryRow {
        category: category.into(),
        expected: e.len(),
        found: f.len(),
        ok: missing.is_empty() && unexpected.is_empty(),
        missing,
        unexpected,
    }
}

const NOT_HISTORY: &str = "c.relname NOT IN ('schema_migrations', 'schema_migration_steps')";

fn action(code: &str) -> &'static str {
    match code {
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        _ => "NO ACTION",
    }
}

/// Compare the catalog with the manifest of the current version. Read-only.
pub async fn verify_summary(pool: &PgPool) -> Result<Summary, SchemaError> {
    let version = current_version(pool).await?;
    let m = manifest(version);
    let mut rows = Vec::new();

    let encoding: String =
        sqlx::query_scalar("SELECT pg_encoding_to_char(encoding)::text FROM pg_database WHERE datname = current_database()")
            .fetch_one(pool)
            .await?;
    rows.push(row(
        "Database encoding UTF8",
        vec!["UTF8".into()],
        vec![encoding],
    ));

    let functions: Vec<String> = sqlx::query_scalar(
        "SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = 'public' AND p.prokind = 'f'",
    )
    .fetch_all(pool)
    .await?;
    rows.push(row(
        "Functions",
        m.functions.iter().map(|s| s.to_string()).collect(),
        functions,
    ));

    let tables: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND {NOT_HISTORY}"
    ))
    .fetch_all(pool)
    .await?;
    rows.push(row(
        "Tables",
        m.tables.iter().map(|s| s.to_string()).collect(),
        tables.clone(),
    ));

    // partitions: the seed's named months, every month through three months ahead, and DEFAULT; any further
    // monthly partition (created ahead by the server) is welcome, not unexpected
    let has_audit = tables.iter().any(|t| t == "audit_logs");
    let (mut expected_parts, mut found_parts) = (Vec::new(), Vec::new());
    if m.tables.contains(&"audit_logs") {
        expected_parts = sqlx::query_scalar(
            "SELECT to_char(d, '\"audit_logs_y\"YYYY\"m\"MM') FROM generate_series(date '2025-11-01',
                    (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months')::date, interval '1 month') AS d",
        )
        .fetch_all(pool)
        .await?;
        expected_parts.push(DEFAULT_PARTITION.to_string());
    }
    if has_audit {
        let all: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'public.audit_logs'::regclass",
        )
        .fetch_all(pool)
        .await?;
        let monthly =
            regex::Regex::new(r"^audit_logs_y\d{4}m(0[1-9]|1[0-2])$").expect("valid regex");
        for p in all {
            if expected_parts.contains(&p) || !monthly.is_match(&p) {
                found_parts.push(p);
            } else {
                expected_parts.push(p.clone());
                found_parts.push(p);
            }
        }
    }
    rows.push(row("Partitions (audit_logs)", expected_parts, found_parts));

    let mut processes = Vec::new();
    if has_audit || tables.iter().any(|t| t == "processes") {
        let found: Vec<(i32, String)> =
            sqlx::query_as("SELECT process_number, process_code::text FROM processes")
                .fetch_all(pool)
                .await?;
        processes = found.into_iter().map(|(n, c)| format!("{n} {c}")).collect();
    }
    rows.push(row(
        "Processes seeded",
        m.processes
            .iter()
            .map(|(n, c)| format!("{n} {c}"))
            .collect(),
        processes,
    ));

    let fks: Vec<(String, String, String, String, String, String, String)> = sqlx::query_as(&format!(
        "SELECT k.conname::text, c.relname::text, a.attname::text, rc.relname::text, ra.attname::text,
                k.confdeltype::text, k.confupdtype::text
           FROM pg_constraint k
           JOIN pg_class c ON c.oid = k.conrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_class rc ON rc.oid = k.confrelid
           JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
           JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = k.confkey[1]
          WHERE k.contype = 'f' AND n.nspname = 'public' AND k.conparentid = 0 AND NOT c.relispartition
            AND {NOT_HISTORY}"
    ))
    .fetch_all(pool)
    .await?;
    rows.push(row(
        "Foreign keys (with actions)",
        m.foreign_keys.iter().map(|f| f.describe()).collect(),
        fks.into_iter()
            .map(|(name, t, col, rt, rcol, d, u)| {
                format!(
                    "{name}: {t}({col}) -> {rt}({rcol}) ON DELETE {} ON UPDATE {}",
                    action(&d),
                    action(&u)
                )
            })
            .collect(),
    ));

    let checks: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT k.conname::text || CASE WHEN k.convalidated THEN '' ELSE ' (NOT VALIDATED)' END
           FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE k.contype = 'c' AND n.nspname = 'public' AND NOT c.relispartition AND {NOT_HISTORY}"
    ))
    .fetch_all(pool)
    .await?;
    rows.push(row(
        "CHECK constraints",
        m.checks.iter().map(|(_, c)| c.to_string()).collect(),
        checks,
    ));

    let indexes: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT c.relname::text, ic.relname::text || CASE WHEN x.indisvalid THEN '' ELSE ' (INVALID)' END
           FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class ic ON ic.oid = x.indexrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND NOT c.relispartition AND {NOT_HISTORY}"
    ))
    .fetch_all(pool)
    .await?;
    let triggers: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT c.relname::text, t.tgname::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND NOT t.tgisinternal AND NOT c.relispartition AND {NOT_HISTORY}"
    ))
    .fetch_all(pool)
    .await?;
    rows.push(row(
        "Triggers",
        m.triggers.iter().map(|(t, n)| format!("{t}.{n}")).collect(),
        triggers.iter().map(|(t, n)| format!("{t}.{n}")).collect(),
    ));
    rows.push(row(
        "Indexes",
        m.indexes.iter().map(|(t, n)| format!("{t}.{n}")).collect(),
        indexes.iter().map(|(t, n)| format!("{t}.{n}")).collect(),
    ));

    let mut table_names: BTreeMap<usize, String> = BTreeMap::new();
    for (i, t) in m.tables.iter().enumerate() {
        table_names.insert(i, t.to_string());
    }
    for t in tables.iter().filter(|t| !m.tables.contains(&t.as_str())) {
        table_names.insert(table_names.len(), t.clone());
    }
    for t in table_names.values() {
        rows.push(row(
            format!("Indexes on {t}"),
            m.indexes_of(t).into_iter().map(str::to_string).collect(),
            indexes
                .iter()
                .filter(|(tt, _)| tt == t)
                .map(|(_, n)| n.clone())
                .collect(),
        ));
    }
    for t in table_names.values() {
        rows.push(row(
            format!("Triggers on {t}"),
            m.triggers_of(t).into_iter().map(str::to_string).collect(),
            triggers
                .iter()
                .filter(|(tt, _)| tt == t)
                .map(|(_, n)| n.clone())
                .collect(),
        ));
    }
    Ok(Summary { version, rows })
}
