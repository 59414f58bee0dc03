//! The go / no-go report of seed 000's "FINAL VERIFICATION & SUMMARY": the live catalog (read by
//! [`crate::catalog::read_catalog`]) compared object by object with the expected catalog of the version the
//! database is at (the embedded snapshot the migrations produce, [`crate::expected_catalog`]). Each category
//! lists what is missing, unexpected or changed by name; the audit partitions (date-dependent) and the seeded
//! processes (data, not schema) are checked apart.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use sqlx::PgPool;

use crate::catalog::{read_catalog, Catalog, CatalogObject, Scope};
use crate::engine::current_version;
use crate::error::SchemaError;
use crate::manifest::{DEFAULT_PARTITION, PROCESSES};
use crate::snapshot::expected_catalog;

/// One line of the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// What is counted (`Functions`, `Indexes on lots`, ...).
    pub category: String,
    /// How many the expected catalog has.
    pub expected: usize,
    /// How many the live catalog has.
    pub found: usize,
    /// Nothing missing, unexpected or changed.
    pub ok: bool,
    /// Expected but absent, by name.
    pub missing: Vec<String>,
    /// Present but not expected, by name.
    pub unexpected: Vec<String>,
    /// Present under the expected name with another definition (an FK with another action, a CHECK with
    /// another expression, a constraint left NOT VALID, ...): `name: expected `..`, found `..``.
    pub changed: Vec<String>,
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
        writeln!(f, "    {:<40} {:>9} {:>9}", "", "expected", "found")?;
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
                "  {mark} {:<40} {:>9} {:>9}",
                r.category, r.expected, r.found
            )?;
            if !r.missing.is_empty() {
                writeln!(f, "      missing: {}", r.missing.join(", "))?;
            }
            if !r.unexpected.is_empty() {
                writeln!(f, "      unexpected: {}", r.unexpected.join(", "))?;
            }
            for c in &r.changed {
                writeln!(f, "      changed: {c}")?;
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

/// A summary category: the object kinds it compares and counts.
struct Category {
    name: &'static str,
    /// Kinds compared (every missing, unexpected or changed object of these kinds is listed).
    kinds: &'static [&'static str],
}

/// The categories in display order (before the per-table rows). Every kind the catalog reader emits belongs to
/// exactly one, so no difference can go unreported (a test checks that).
const CATEGORIES: &[Category] = &[
    Category {
        name: "Functions",
        kinds: &["function"],
    },
    Category {
        name: "Tables",
        kinds: &["table"],
    },
    Category {
        name: "Columns",
        kinds: &["column"],
    },
    Category {
        name: "Foreign keys (with actions)",
        kinds: &["fk"],
    },
    Category {
        name: "CHECK constraints",
        kinds: &["check"],
    },
    Category {
        name: "Primary keys, UNIQUE, EXCLUDE",
        kinds: &["primary_key", "unique", "exclusion", "constraint"],
    },
    Category {
        name: "Triggers",
        kinds: &["trigger"],
    },
    Category {
        name: "Indexes",
        kinds: &["index"],
    },
    Category {
        name: "Grants to neurohub_app",
        kinds: &["grant"],
    },
    Category {
        name: "Sequences, views, types, partitioning",
        kinds: &[
            "sequence",
            "view",
            "foreign_table",
            "type",
            "partitioning",
            "partition",
        ],
    },
];

/// The kinds verify compares (every kind the catalog reader emits).
#[cfg(test)]
pub(crate) fn compared_kinds() -> Vec<&'static str> {
    CATEGORIES
        .iter()
        .flat_map(|c| c.kinds.iter().copied())
        .collect()
}

/// The form two CHECK definitions are compared in: without casts, parentheses and whitespace. PostgreSQL
/// deparses the same CHECK differently once it has been through pg_dump / pg_restore (`(ARRAY['A'::varchar])::text[]`
/// becomes `ARRAY[('A'::varchar)::text]`), so a restored database would otherwise differ from its own snapshot.
/// (Cost: two CHECKs differing only in parenthesised precedence compare equal.)
fn check_form(def: &str) -> String {
    static CAST: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let cast = CAST.get_or_init(|| {
        regex::Regex::new(r"::[a-z_]+(?: [a-z_]+)*(?:\(\d+(?:,\d+)?\))?(?:\[\])?")
            .expect("valid regex")
    });
    cast.replace_all(def, "")
        .chars()
        .filter(|c| !matches!(c, '(' | ')') && !c.is_whitespace())
        .collect()
}

/// Same definition, or (CHECKs) the same [`check_form`].
fn same_definition(e: &CatalogObject, f: &CatalogObject) -> bool {
    e.definition == f.definition
        || (e.kind == "check" && check_form(&e.definition) == check_form(&f.definition))
}

/// Compare two sets of objects by key: missing, unexpected and changed, labelled with `label`.
fn diff_row<'a>(
    category: impl Into<String>,
    expected: impl IntoIterator<Item = &'a CatalogObject>,
    found: impl IntoIterator<Item = &'a CatalogObject>,
    label: impl Fn(&CatalogObject) -> String,
) -> SummaryRow {
    let e: BTreeMap<String, &CatalogObject> = expected.into_iter().map(|o| (o.key(), o)).collect();
    let f: BTreeMap<String, &CatalogObject> = found.into_iter().map(|o| (o.key(), o)).collect();
    let missing: Vec<String> = e
        .iter()
        .filter(|(k, _)| !f.contains_key(*k))
        .map(|(_, o)| label(o))
        .collect();
    let unexpected: Vec<String> = f
        .iter()
        .filter(|(k, _)| !e.contains_key(*k))
        .map(|(_, o)| label(o))
        .collect();
    let changed: Vec<String> = e
        .iter()
        .filter_map(|(k, eo)| {
            let fo = f.get(k)?;
            (!same_definition(eo, fo)).then(|| {
                format!(
                    "{}: expected `{}`, found `{}`",
                    label(eo),
                    eo.definition,
                    fo.definition
                )
            })
        })
        .collect();
    SummaryRow {
        category: category.into(),
        expected: e.len(),
        found: f.len(),
        ok: missing.is_empty() && unexpected.is_empty() && changed.is_empty(),
        missing,
        unexpected,
        changed,
    }
}

/// A row over plain names (encoding, partitions, processes): missing and unexpected only.
fn name_row(category: impl Into<String>, expected: Vec<String>, found: Vec<String>) -> SummaryRow {
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
        changed: Vec::new(),
    }
}

/// Every category row, then per table the index and trigger rows, comparing `live` with `expected`.
fn catalog_rows(expected: &Catalog, live: &Catalog) -> Vec<SummaryRow> {
    let mut rows = Vec::new();
    for c in CATEGORIES {
        let single = c.kinds.len() == 1;
        let label = |o: &CatalogObject| if single { o.name.clone() } else { o.key() };
        rows.push(diff_row(
            c.name,
            expected
                .objects()
                .filter(|o| c.kinds.contains(&o.kind.as_str())),
            live.objects()
                .filter(|o| c.kinds.contains(&o.kind.as_str())),
            label,
        ));
    }
    let tables: BTreeSet<&str> = expected.tables().into_iter().chain(live.tables()).collect();
    let short = |o: &CatalogObject| {
        o.name
            .split_once('.')
            .map_or(o.name.clone(), |(_, n)| n.to_string())
    };
    for kind in ["index", "trigger"] {
        let title = if kind == "index" {
            "Indexes on"
        } else {
            "Triggers on"
        };
        for t in &tables {
            rows.push(diff_row(
                format!("{title} {t}"),
                expected.on_table(kind, t),
                live.on_table(kind, t),
                short,
            ));
        }
    }
    rows
}

/// Compare the live catalog with the expected catalog of the current version. Read-only.
pub async fn verify_summary(pool: &PgPool) -> Result<Summary, SchemaError> {
    let version = current_version(pool).await?;
    let expected = expected_catalog(version);
    let live = read_catalog(pool, Scope::WithoutPartitions).await?;
    let mut rows = Vec::new();

    let encoding: String =
        sqlx::query_scalar("SELECT pg_encoding_to_char(encoding)::text FROM pg_database WHERE datname = current_database()")
            .fetch_one(pool)
            .await?;
    rows.push(name_row(
        "Database encoding UTF8",
        vec!["UTF8".into()],
        vec![encoding],
    ));

    let mut catalog = catalog_rows(&expected, &live).into_iter();
    // display order of seed 000's summary: functions, tables, partitions, processes, then the constraints
    rows.extend(catalog.by_ref().take(3));

    // partitions: the seed's named months, every month through three months ahead, and DEFAULT; any further
    // monthly partition (created ahead by the server) is welcome, not unexpected
    let expects_audit = expected.get("table audit_logs").is_some();
    let has_audit = live.get("table audit_logs").is_some();
    let (mut expected_parts, mut found_parts) = (Vec::new(), Vec::new());
    if expects_audit {
        expected_parts = sqlx::query_scalar(
            "SELECT to_char(d, '\"audit_logs_y\"YYYY\"m\"MM') FROM generate_series(date '2025-11-01',
                    (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months')::date, interval '1 month') AS d",
        )
        .fetch_all(pool)
        .await?;
        // months archived by `neurohub audit archive` (and not restored) are gone on purpose
        let archived: Vec<String> = if sqlx::query_scalar::<_, bool>(
            "SELECT to_regclass('public.audit_archives') IS NOT NULL",
        )
        .fetch_one(pool)
        .await?
        {
            sqlx::query_scalar(
                "SELECT partition_name::text FROM audit_archives WHERE restored_at IS NULL",
            )
            .fetch_all(pool)
            .await?
        } else {
            Vec::new()
        };
        expected_parts.retain(|p| !archived.contains(p));
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
            if !expected_parts.contains(&p) && monthly.is_match(&p) {
                expected_parts.push(p.clone());
            }
            found_parts.push(p);
        }
    }
    rows.push(name_row(
        "Partitions (audit_logs)",
        expected_parts,
        found_parts,
    ));

    let mut processes = Vec::new();
    if live.get("table processes").is_some() {
        let found: Vec<(i32, String)> =
            sqlx::query_as("SELECT process_number, process_code::text FROM processes")
                .fetch_all(pool)
                .await?;
        processes = found.into_iter().map(|(n, c)| format!("{n} {c}")).collect();
    }
    let expected_processes = if expected.get("table processes").is_some() {
        PROCESSES
            .iter()
            .map(|(n, c, _, _)| format!("{n} {c}"))
            .collect()
    } else {
        Vec::new()
    };
    rows.push(name_row("Processes seeded", expected_processes, processes));
    rows.extend(catalog);
    Ok(Summary { version, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(line: &str) -> CatalogObject {
        CatalogObject::parse(line).unwrap()
    }

    #[test]
    fn a_diff_names_what_is_missing_unexpected_and_changed() {
        let expected = Catalog::from_objects([
            obj("fk lots.fk_a: FOREIGN KEY (a) REFERENCES x(id) ON DELETE RESTRICT validated=true"),
            obj("fk lots.fk_b: FOREIGN KEY (b) REFERENCES y(id) validated=true"),
            obj("index lots.idx_a: CREATE INDEX idx_a ON public.lots USING btree (a) valid=true"),
            obj("table lots: heap"),
        ]);
        let live = Catalog::from_objects([
            obj("fk lots.fk_a: FOREIGN KEY (a) REFERENCES x(id) ON DELETE CASCADE validated=true"),
            obj("fk lots.fk_c: FOREIGN KEY (c) REFERENCES z(id) validated=true"),
            obj("index lots.idx_a: CREATE INDEX idx_a ON public.lots USING btree (a) valid=true"),
            obj("index lots.idx_extra: CREATE INDEX idx_extra ON public.lots USING btree (b) valid=true"),
            obj("table lots: heap"),
        ]);
        let rows = catalog_rows(&expected, &live);
        let fk = rows
            .iter()
            .find(|r| r.category == "Foreign keys (with actions)")
            .unwrap();
        assert!(!fk.ok);
        assert_eq!((fk.expected, fk.found), (2, 2));
        assert_eq!(fk.missing, vec!["lots.fk_b"]);
        assert_eq!(fk.unexpected, vec!["lots.fk_c"]);
        assert_eq!(fk.changed.len(), 1);
        assert!(
            fk.changed[0].starts_with("lots.fk_a: expected `")
                && fk.changed[0].contains("ON DELETE CASCADE"),
            "{:?}",
            fk.changed
        );
        let idx = rows
            .iter()
            .find(|r| r.category == "Indexes on lots")
            .unwrap();
        assert_eq!(idx.unexpected, vec!["idx_extra"]);
        assert!(rows.iter().find(|r| r.category == "Tables").unwrap().ok);
        let s = Summary { version: 1, rows };
        let text = s.to_string();
        assert!(text.contains("changed: lots.fk_a: expected"), "{text}");
        assert!(text.contains("RESULT: NO-GO"), "{text}");
    }

    #[test]
    fn a_check_deparsed_after_a_restore_is_the_same_check_but_another_is_not() {
        let dumped = obj("check serials.chk_s: CHECK (((status)::text = ANY ((ARRAY['CREATED'::character varying, 'FAILED'::character varying])::text[]))) validated=true");
        let restored = obj("check serials.chk_s: CHECK (((status)::text = ANY (ARRAY[('CREATED'::character varying)::text, ('FAILED'::character varying)::text]))) validated=true");
        let other = obj("check serials.chk_s: CHECK (((status)::text = ANY (ARRAY[('CREATED'::character varying)::text]))) validated=true");
        let not_valid = obj("check serials.chk_s: CHECK (((status)::text = ANY ((ARRAY['CREATED'::character varying, 'FAILED'::character varying])::text[]))) validated=false");
        assert!(same_definition(&dumped, &restored));
        assert!(!same_definition(&dumped, &other));
        assert!(!same_definition(&dumped, &not_valid));
    }

    #[test]
    fn equal_catalogs_are_a_go() {
        let c =
            Catalog::parse(crate::snapshot::snapshot_text(crate::HEAD_VERSION).unwrap()).unwrap();
        let rows = catalog_rows(&c, &c);
        assert!(rows.iter().all(|r| r.ok));
    }

    #[test]
    fn every_kind_in_the_snapshots_is_compared() {
        let kinds = compared_kinds();
        for v in crate::snapshot::snapshot_versions() {
            for o in expected_catalog(v).objects() {
                assert!(kinds.contains(&o.kind.as_str()), "v{v}: {}", o.key());
            }
        }
    }
}
