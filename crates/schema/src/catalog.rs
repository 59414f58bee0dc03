//! The one catalog reader: a deterministic image of the public schema as one line per object, used both to prove
//! that a down restores the previous version exactly ([`catalog_snapshot`]) and to verify a live database
//! against the expected catalog that the migrations produce ([`read_catalog`] vs [`crate::expected_catalog`]).
//!
//! A line is `<kind> <name>: <definition>`; `<kind> <name>` is the object's identity (what a diff reports as
//! missing or unexpected) and the definition is what PostgreSQL itself prints for it (`pg_get_constraintdef`,
//! `pg_get_indexdef`, `pg_get_triggerdef`, `format_type`, ...), so a changed action, predicate or column type
//! shows up as a changed object. Objects that belong to an extension (`pg_depend.deptype = 'e'`, e.g. the
//! functions of `pgcrypto` or the views of `pg_stat_statements` installed into `public`) are not the schema's and
//! are left out. The migration history tables are left out too (they exist before version 1 and after a full
//! down).

use std::collections::BTreeMap;

use sqlx::PgPool;

use crate::error::SchemaError;

/// Which objects a catalog read includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything, partitions of partitioned tables included (exact-down comparisons).
    All,
    /// Without partitions (and their cloned columns, constraints, indexes, triggers, grants): audit partitions
    /// depend on the date a database was deployed, so the expected catalog leaves them out and verify checks
    /// them separately.
    WithoutPartitions,
}

/// One object of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CatalogObject {
    /// `table`, `column`, `fk`, `check`, `primary_key`, `unique`, `exclusion`, `index`, `trigger`, `function`,
    /// `sequence`, `view`, `type`, `partitioning`, `partition`, `grant`.
    pub kind: String,
    /// `table`, `table.column`, `table.constraint`, `table.index`, `function(identity args)`, `table` for grants.
    pub name: String,
    /// The full definition as PostgreSQL prints it.
    pub definition: String,
}

impl CatalogObject {
    /// `<kind> <name>`: what identifies the object across two catalogs.
    pub fn key(&self) -> String {
        format!("{} {}", self.kind, self.name)
    }

    /// The table an object belongs to (`lots` for `index lots.idx_lots_status`); the name itself for tables.
    pub fn table(&self) -> &str {
        match self.kind.as_str() {
            "column" | "fk" | "check" | "primary_key" | "unique" | "exclusion" | "constraint"
            | "index" | "trigger" => self.name.split('.').next().unwrap_or(&self.name),
            _ => &self.name,
        }
    }

    /// The snapshot line.
    pub fn line(&self) -> String {
        format!("{} {}: {}", self.kind, self.name, self.definition)
    }

    /// Parse a snapshot line (`<kind> <name>: <definition>`).
    pub fn parse(line: &str) -> Option<CatalogObject> {
        let (kind, rest) = line.split_once(' ')?;
        let (name, definition) = rest.split_once(": ")?;
        Some(CatalogObject {
            kind: kind.to_string(),
            name: name.to_string(),
            definition: definition.to_string(),
        })
    }
}

/// A catalog: objects by key, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    objects: BTreeMap<String, CatalogObject>,
}

impl Catalog {
    /// Build from objects (a later duplicate key replaces an earlier one; keys are unique in practice).
    pub fn from_objects(objects: impl IntoIterator<Item = CatalogObject>) -> Catalog {
        Catalog {
            objects: objects.into_iter().map(|o| (o.key(), o)).collect(),
        }
    }

    /// Parse a snapshot file: one object per line; blank lines and `#` comments are ignored.
    pub fn parse(text: &str) -> Result<Catalog, String> {
        let mut objects = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            objects.push(
                CatalogObject::parse(line)
                    .ok_or_else(|| format!("line {}: not `<kind> <name>: <definition>`", i + 1))?,
            );
        }
        Ok(Catalog::from_objects(objects))
    }

    /// Every object, in key order.
    pub fn objects(&self) -> impl Iterator<Item = &CatalogObject> {
        self.objects.values()
    }

    /// The object with this key (`index lots.idx_lots_status`).
    pub fn get(&self, key: &str) -> Option<&CatalogObject> {
        self.objects.get(key)
    }

    /// Objects of one kind.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a CatalogObject> + 'a {
        self.objects.values().filter(move |o| o.kind == kind)
    }

    /// Objects of one kind on one table.
    pub fn on_table<'a>(
        &'a self,
        kind: &'a str,
        table: &'a str,
    ) -> impl Iterator<Item = &'a CatalogObject> + 'a {
        self.of_kind(kind).filter(move |o| o.table() == table)
    }

    /// Table names, sorted.
    pub fn tables(&self) -> Vec<&str> {
        self.of_kind("table").map(|o| o.name.as_str()).collect()
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// No object at all.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// The sorted lines (the snapshot body).
    pub fn lines(&self) -> Vec<String> {
        self.objects.values().map(CatalogObject::line).collect()
    }
}

/// `AND NOT <the object belongs to an extension>` for an object of catalog `class` with oid expression `oid`.
fn not_extension(class: &str, oid: &str) -> String {
    format!(
        "AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{class}'::regclass AND e.objid = {oid}
                           AND e.deptype = 'e')"
    )
}

/// The relations a query looks at (alias `c`): schema public, not the history tables, not an extension's, and
/// (for [`Scope::WithoutPartitions`]) not a partition.
fn relation_filter(scope: Scope) -> String {
    format!(
        "n.nspname = 'public'
         AND c.relname NOT IN ('schema_migrations', 'schema_migration_steps')
         {} {}",
        not_extension("pg_class", "c.oid"),
        if scope == Scope::WithoutPartitions {
            "AND NOT c.relispartition"
        } else {
            ""
        }
    )
}

/// Every query returns (kind, name, definition).
fn queries(scope: Scope) -> Vec<String> {
    let rel = relation_filter(scope);
    let mut q = vec![
        // relations and their kind
        format!(
            "SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'view'
                                   WHEN 'f' THEN 'foreign_table' ELSE 'table' END,
                    c.relname::text,
                    CASE c.relkind
                      WHEN 'S' THEN (SELECT format('%s start %s increment %s min %s max %s cycle=%s',
                                                  format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
                                                  s.seqmin, s.seqmax, s.seqcycle::text)
                                       FROM pg_sequence s WHERE s.seqrelid = c.oid)
                      WHEN 'v' THEN 'view md5=' || md5(pg_get_viewdef(c.oid))
                      WHEN 'm' THEN 'materialized view md5=' || md5(pg_get_viewdef(c.oid))
                      ELSE format('%s%s%s', CASE c.relkind WHEN 'p' THEN 'partitioned' ELSE 'heap' END,
                                  CASE c.relpersistence WHEN 'u' THEN ' UNLOGGED' WHEN 't' THEN ' TEMP' ELSE '' END,
                                  CASE WHEN c.relrowsecurity THEN ' ROW LEVEL SECURITY' ELSE '' END
                                  || CASE WHEN c.relforcerowsecurity THEN ' FORCED' ELSE '' END)
                    END
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f') AND {rel}"
        ),
        // columns: logical position among live columns, type, nullability, default, identity, generated
        format!(
            "SELECT 'column', c.relname || '.' || a.attname,
                    format('#%s %s%s%s%s%s', row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum),
                           format_type(a.atttypid, a.atttypmod),
                           CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
                           CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS ' || pg_get_expr(d.adbin, d.adrelid)
                                WHEN d.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid)
                                ELSE '' END,
                           CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY'
                                              WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END,
                           CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                                THEN ' COLLATE ' || (SELECT collname FROM pg_collation WHERE oid = a.attcollation)
                                ELSE '' END)
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_type t ON t.oid = a.atttypid
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped AND {rel}"
        ),
        // constraints with PostgreSQL's own definition (FK actions, CHECK expression, NOT VALID)
        format!(
            "SELECT CASE k.contype WHEN 'f' THEN 'fk' WHEN 'c' THEN 'check' WHEN 'p' THEN 'primary_key'
                                   WHEN 'u' THEN 'unique' WHEN 'x' THEN 'exclusion' ELSE 'constraint' END,
                    c.relname || '.' || k.conname,
                    format('%s validated=%s', pg_get_constraintdef(k.oid), k.convalidated::text)
               FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE {rel}"
        ),
        format!(
            "SELECT 'index', c.relname || '.' || ic.relname,
                    format('%s valid=%s', pg_get_indexdef(x.indexrelid), x.indisvalid::text)
               FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class ic ON ic.oid = x.indexrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE {rel}"
        ),
        format!(
            "SELECT 'trigger', c.relname || '.' || t.tgname,
                    format('%s enabled=%s', pg_get_triggerdef(t.oid), t.tgenabled)
               FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE NOT t.tgisinternal AND {rel}"
        ),
        format!(
            "SELECT 'function', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                    format('%s returns %s language %s volatility=%s security_definer=%s config=%s body_md5=%s',
                           CASE p.prokind WHEN 'f' THEN 'function' WHEN 'p' THEN 'procedure'
                                          WHEN 'a' THEN 'aggregate' ELSE 'window' END,
                           COALESCE(pg_get_function_result(p.oid), '-'), l.lanname, p.provolatile, p.prosecdef::text,
                           COALESCE(array_to_string(p.proconfig, ','), '-'), md5(p.prosrc))
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
              WHERE n.nspname = 'public' {}",
            not_extension("pg_proc", "p.oid")
        ),
        format!(
            "SELECT 'partitioning', c.relname::text, pg_get_partkeydef(c.oid)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind = 'p' AND {rel}"
        ),
        format!(
            "SELECT 'type', t.typname::text,
                    CASE t.typtype
                      WHEN 'e' THEN 'enum (' || (SELECT string_agg(quote_literal(enumlabel), ', ' ORDER BY enumsortorder)
                                                   FROM pg_enum WHERE enumtypid = t.oid) || ')'
                      WHEN 'd' THEN 'domain ' || format_type(t.typbasetype, t.typtypmod)
                                    || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
                                    || COALESCE(' ' || (SELECT string_agg(pg_get_constraintdef(k.oid), ' ' ORDER BY k.conname)
                                                          FROM pg_constraint k WHERE k.contypid = t.oid), '')
                      ELSE 'composite' END
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
              WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c') AND t.typrelid = 0 {}",
            not_extension("pg_type", "t.oid")
        ),
        // what the request role may do on each relation (only when it holds something: a table the role cannot
        // touch is then a missing grant line)
        format!(
            "SELECT 'grant', c.relname::text,
                    'neurohub_app ' || string_agg(DISTINCT g.privilege_type, ', ' ORDER BY g.privilege_type)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               CROSS JOIN LATERAL aclexplode(c.relacl) g
              WHERE g.grantee = (SELECT oid FROM pg_roles WHERE rolname = 'neurohub_app')
                AND c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f') AND {rel}
              GROUP BY c.relname"
        ),
        "SELECT 'grant', 'schema public',
                'neurohub_app ' || string_agg(DISTINCT g.privilege_type, ', ' ORDER BY g.privilege_type)
           FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) g
          WHERE n.nspname = 'public' AND g.grantee = (SELECT oid FROM pg_roles WHERE rolname = 'neurohub_app')
         HAVING count(*) > 0"
            .to_string(),
    ];
    if scope == Scope::All {
        q.push(format!(
            "SELECT 'partition', c.relname::text, format('of %s %s', pc.relname, pg_get_expr(c.relpartbound, c.oid))
               FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class pc ON pc.oid = i.inhparent
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE {rel}"
        ));
    }
    q
}

/// Read the live catalog of the public schema.
pub async fn read_catalog(pool: &PgPool, scope: Scope) -> Result<Catalog, SchemaError> {
    let mut conn = pool.acquire().await?;
    // pg_get_expr renders timestamps in the session time zone: pin it so catalogs compare across sessions
    sqlx::query("SET TimeZone = 'UTC'")
        .execute(&mut *conn)
        .await?;
    let mut objects = Vec::new();
    let mut failed = None;
    for q in queries(scope) {
        match sqlx::query_as::<_, (String, String, String)>(&q)
            .fetch_all(&mut *conn)
            .await
        {
            // one object per line: a definition spanning lines (a literal with a newline) is escaped
            Ok(rows) => {
                objects.extend(
                    rows.into_iter()
                        .map(|(kind, name, definition)| CatalogObject {
                            kind,
                            name,
                            definition: definition.replace('\n', "\\n"),
                        }),
                )
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    sqlx::query("RESET TimeZone").execute(&mut *conn).await?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(Catalog::from_objects(objects)),
    }
}

/// Sorted text lines describing the whole public schema, partitions included (history tables and extension
/// objects excluded). Two databases with equal snapshots have the same tables, columns, defaults, constraints,
/// indexes, triggers, functions, partitions and request-role grants.
pub async fn catalog_snapshot(pool: &PgPool) -> Result<Vec<String>, SchemaError> {
    Ok(read_catalog(pool, Scope::All).await?.lines())
}
