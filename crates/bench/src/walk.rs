//! The station write's pgbench ceiling: a walk of one fresh unit through the processes (a start + complete pair
//! per process, each request its own transaction) replayed by pgbench on fresh units of its own.
//!
//! A captured write cannot be replayed as it ran: its statements name the unit, the records and the serial it
//! created and the Idempotency-Keys it sent, and a second run would break the rules (one open record, the
//! process sequence, unique keys). So the bench walks two units of two lots through the processes under the
//! statement log (after a warm-up walk that lets every pooled connection pick the logging up) and compares the
//! two walks: the same SQL in the same order (anything else is refused), and every parameter whose value differs
//! between them is explained by where it came from — an attribute of the unit (its row id, WIP id, lot, lot
//! number, sequence, serial number), an id the walk created (the `INSERT … RETURNING` of a record or of the
//! serial, whose result pgbench keeps with `\gset`), or an Idempotency-Key the walk sent. Those become pgbench
//! variables. The rest (the request id of the audit context, the request path, hash and response stored with an
//! idempotency key) is replayed as the second walk had it; the results list each such parameter.
//!
//! pgbench's script starts with one lookup of its next fresh unit (`bench_walk.units`: lots made through the API
//! for the replay, each already IN_PROGRESS) — one primary-key read per walk more than the server runs, against
//! the walk's ~130 statements — then runs the walk's transactions. After each run the bench checks that every
//! walk pgbench counted left its unit with a PASS record per process, so a replay that did other work than the
//! station's is an error, not a ceiling.

use crate::capture::{self, Statement};
use crate::load::{self, Pgbench, PROCESSES};
use crate::scenario::{self, Sample, LOT_UNITS};
use crate::Args;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use sqlx::PgPool;
use std::sync::Mutex;
use std::time::Duration;

/// The schema the replay's units live in (dropped when the scenario ends).
const SCHEMA: &str = "bench_walk";

/// What a unit is known by, as the lookup names the pgbench variables (`u_<name>`).
const UNIT_ATTRIBUTES: [&str; 6] = [
    "wip_pk",
    "wip_code",
    "lot_id",
    "lot_number",
    "seq",
    "serial_number",
];

/// The tables whose new ids a walk's later statements use.
const CREATED: [&str; 2] = ["process_data", "serials"];

/// The unit attributes of a WIP id: `UNIT_ATTRIBUTES` in order, as text.
const UNIT_SQL: &str = "SELECT w.id::text, w.wip_id::text, w.lot_id::text, l.lot_number::text, \
     w.sequence_in_lot::text, l.lot_number || lpad(w.sequence_in_lot::text, 3, '0') \
     FROM wip_items w JOIN lots l ON l.id = w.lot_id WHERE w.wip_id = $1";

/// One captured walk and what it is known by.
#[derive(Debug, Clone)]
pub struct Observed {
    pub statements: Vec<Statement>,
    /// `UNIT_ATTRIBUTES` with the walked unit's values.
    pub unit: Vec<(&'static str, String)>,
    /// Per table of `CREATED`: the ids the walk created, in order.
    pub created: Vec<(&'static str, Vec<String>)>,
    /// The Idempotency-Keys the walk sent, in order.
    pub keys: Vec<String>,
}

impl Observed {
    fn attribute(&self, name: &str) -> Option<&String> {
        self.unit.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }
}

/// The pgbench replay of a walk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Walk {
    /// The pgbench script: the lookup of the next fresh unit, then the walk.
    pub script: String,
    /// Its `-D` definitions (the parameters replayed as captured).
    #[serde(skip)]
    pub defs: Vec<String>,
    /// The parameters that differ between the two captured walks and are replayed as the second had them.
    pub kept: Vec<String>,
    /// How many parameters became variables of the fresh unit, of a created id, of a key.
    pub variables: usize,
    /// Fresh units made for the replay.
    pub units: usize,
}

/// The table a statement inserts into when it returns what it inserted (`INSERT INTO t … RETURNING`, also inside
/// a `WITH`).
fn returning_insert(sql: &str) -> Option<&str> {
    let upper = sql.to_ascii_uppercase();
    if !upper.contains("RETURNING") {
        return None;
    }
    let at = upper.find("INSERT INTO ")? + "INSERT INTO ".len();
    let rest = &sql[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(rest.len());
    Some(rest[..end].trim_start_matches("public."))
}

/// Where the value of one parameter of the replay comes from.
#[derive(Debug, Clone, PartialEq)]
enum Slot {
    /// As the second walk had it.
    Captured(Option<String>),
    /// A pgbench variable.
    Var(String),
}

/// The replay of `b`, with every parameter that differs from `a` explained (see the module doc). `tag` makes the
/// replay's Idempotency-Keys unique to this run.
pub fn plan(a: &Observed, b: &Observed, tag: &str) -> Result<Walk> {
    if a.statements.len() != b.statements.len()
        || a.statements
            .iter()
            .zip(&b.statements)
            .any(|(x, y)| x.sql != y.sql || x.params.len() != y.params.len())
    {
        bail!(
            "the two captured walks ran different statements ({} and {}): not one replayable walk",
            a.statements.len(),
            b.statements.len()
        );
    }
    if a.keys.len() != b.keys.len() {
        bail!(
            "the two captured walks sent {} and {} keys",
            a.keys.len(),
            b.keys.len()
        );
    }
    // which statement created the k-th new row of each table
    let mut producer: Vec<(&str, usize, usize)> = Vec::new(); // (table, k, statement)
    for table in CREATED {
        let at: Vec<usize> = b
            .statements
            .iter()
            .enumerate()
            .filter(|(_, s)| returning_insert(&s.sql) == Some(table))
            .map(|(i, _)| i)
            .collect();
        for o in [a, b] {
            let n = o
                .created
                .iter()
                .find(|(t, _)| *t == table)
                .map_or(0, |(_, ids)| ids.len());
            if n != at.len() {
                bail!(
                    "a walk created {n} rows of {table} but ran {} INSERT … RETURNING into it",
                    at.len()
                );
            }
        }
        producer.extend(at.into_iter().enumerate().map(|(k, i)| (table, k, i)));
    }
    let created = |o: &Observed, table: &str, k: usize| {
        o.created
            .iter()
            .find(|(t, _)| *t == table)
            .and_then(|(_, ids)| ids.get(k))
            .cloned()
    };
    let mut gset = vec![false; b.statements.len()];
    let mut kept = Vec::new();
    let mut variables = 0;
    let mut slots: Vec<Vec<Slot>> = Vec::with_capacity(b.statements.len());
    for (i, (sa, sb)) in a.statements.iter().zip(&b.statements).enumerate() {
        let mut row = Vec::with_capacity(sb.params.len());
        for (n, (va, vb)) in sa.params.iter().zip(&sb.params).enumerate() {
            let (Some(va), Some(vb)) = (va, vb) else {
                if va != vb {
                    kept.push(describe(i, n, sb, va.as_deref(), vb.as_deref()));
                }
                row.push(Slot::Captured(vb.clone()));
                continue;
            };
            if va == vb {
                row.push(Slot::Captured(Some(vb.clone())));
                continue;
            }
            let unit = UNIT_ATTRIBUTES
                .iter()
                .find(|name| a.attribute(name) == Some(va) && b.attribute(name) == Some(vb));
            let key = (0..b.keys.len()).find(|&m| &a.keys[m] == va && &b.keys[m] == vb);
            let made = producer.iter().find(|(table, k, j)| {
                *j < i
                    && created(a, table, *k).as_ref() == Some(va)
                    && created(b, table, *k).as_ref() == Some(vb)
            });
            let slot = match (unit, key, made) {
                (Some(name), _, _) => Slot::Var(format!("u_{name}")),
                (None, Some(m), _) => Slot::Var(format!("u_key{m}")),
                (None, None, Some((_, _, j))) => {
                    gset[*j] = true;
                    Slot::Var(format!("g{j}_id"))
                }
                (None, None, None) => {
                    kept.push(describe(i, n, sb, Some(va), Some(vb)));
                    Slot::Captured(Some(vb.clone()))
                }
            };
            if matches!(slot, Slot::Var(_)) {
                variables += 1;
            }
            row.push(slot);
        }
        slots.push(row);
    }
    let mut script = format!(
        "SELECT {}{} FROM {SCHEMA}.units WHERE n = (SELECT nextval('{SCHEMA}.n')) \\gset u_\n",
        UNIT_ATTRIBUTES.join(", "),
        (0..b.keys.len())
            .map(|m| format!(", '{tag}-' || n || '-{m}' AS key{m}"))
            .collect::<String>()
    );
    let mut defs = Vec::new();
    for (i, (s, row)) in b.statements.iter().zip(&slots).enumerate() {
        let sql = capture::substitute(&s.sql, |n| match row.get(n - 1) {
            Some(Slot::Var(v)) => format!(":{v}"),
            // pgbench refuses an empty -D value: the empty string is written in
            Some(Slot::Captured(Some(v))) if v.is_empty() => "''".into(),
            Some(Slot::Captured(Some(v))) => {
                defs.push(format!("w{i}p{n}={v}"));
                format!(":w{i}p{n}")
            }
            _ => "NULL".into(),
        });
        let sql = sql.trim_end().trim_end_matches(';');
        if gset[i] {
            script.push_str(&format!("{sql} \\gset g{i}_\n"));
        } else {
            script.push_str(&format!("{sql};\n"));
        }
    }
    Ok(Walk {
        script,
        defs,
        kept,
        variables,
        units: 0,
    })
}

fn describe(i: usize, n: usize, s: &Statement, a: Option<&str>, b: Option<&str>) -> String {
    let short = |v: Option<&str>| match v {
        None => "NULL".to_string(),
        Some(v) if v.chars().count() > 40 => format!("{}…", v.chars().take(40).collect::<String>()),
        Some(v) => v.to_string(),
    };
    format!(
        "statement {} ${} of `{}…`: {} / {}",
        i + 1,
        n + 1,
        s.sql.chars().take(60).collect::<String>(),
        short(a),
        short(b)
    )
}

/// Capture two walks, plan their replay and make its fresh units (`units` of them, in lots of their own).
pub async fn prepare(
    db: &PgPool,
    args: &Args,
    http: &reqwest::Client,
    token: &str,
    sample: &Sample,
    units: usize,
) -> Result<Walk> {
    let pairs = scenario::lot_pairs(db, sample).await?;
    let base = args.base_url.as_str();
    let lots = scenario::make_lots(http, args, token, &pairs, 2).await?;
    let unit = |lot: &str, seq: usize| format!("WIP-{lot}-{seq:03}");
    // run 0 walks the first unit of both lots (the warm-up: every pooled connection picks the logging up, and
    // both lots become IN_PROGRESS, as every lot of the replay is); runs 1 and 2 are the two walks compared
    let walks = [
        vec![unit(&lots[0], 1), unit(&lots[1], 1)],
        vec![unit(&lots[0], 2)],
        vec![unit(&lots[1], 3)],
    ];
    let keys = Mutex::new(vec![Vec::new(); walks.len()]);
    let runs = capture::capture_runs(db, &args.pg_data, walks.len(), |i| {
        let (walks, keys) = (&walks, &keys);
        async move {
            let mut counted = 0;
            for code in &walks[i] {
                let w = load::walk(http, base, token, code).await?;
                counted += w.statements;
                keys.lock().expect("not poisoned")[i] = w.keys;
            }
            Ok(counted)
        }
    })
    .await?;
    let keys = keys.into_inner().expect("not poisoned");
    let mut observed = Vec::new();
    for i in [1, 2] {
        let (counted, statements) = &runs[i];
        if (statements.len() as u64) < *counted {
            bail!(
                "the log holds {} statements of the walk of {}, its requests ran {counted}",
                statements.len(),
                walks[i][0]
            );
        }
        observed.push(observe(db, &walks[i][0], statements.clone(), keys[i].clone()).await?);
    }
    let tag = format!(
        "walk-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp()
    );
    let mut walk = plan(&observed[0], &observed[1], &tag)?;
    walk.units = make_units(db, args, http, token, &pairs, units).await?;
    Ok(walk)
}

/// What the walk of `code` is known by, read back after it.
async fn observe(
    db: &PgPool,
    code: &str,
    statements: Vec<Statement>,
    keys: Vec<String>,
) -> Result<Observed> {
    let row: (String, String, String, String, String, String) = sqlx::query_as(UNIT_SQL)
        .bind(code)
        .fetch_one(db)
        .await
        .with_context(|| format!("the walked unit {code}"))?;
    let unit = UNIT_ATTRIBUTES
        .into_iter()
        .zip([row.0, row.1, row.2, row.3, row.4, row.5])
        .collect();
    let serials: Vec<String> = sqlx::query_scalar(
        "SELECT s.id::text FROM serials s JOIN wip_items w ON w.lot_id = s.lot_id \
         AND w.sequence_in_lot = s.sequence_in_lot WHERE w.wip_id = $1 ORDER BY s.id",
    )
    .bind(code)
    .fetch_all(db)
    .await?;
    let records: Vec<String> = sqlx::query_scalar(
        "SELECT pd.id::text FROM process_data pd JOIN wip_items w ON w.wip_id = $1 \
         WHERE pd.wip_id = w.id OR pd.serial_id IN (SELECT s.id FROM serials s \
               WHERE s.lot_id = w.lot_id AND s.sequence_in_lot = w.sequence_in_lot) ORDER BY pd.id",
    )
    .bind(code)
    .fetch_all(db)
    .await?;
    Ok(Observed {
        statements,
        unit,
        created: vec![("process_data", records), ("serials", serials)],
        keys,
    })
}

/// `units` fresh units for the replay in lots of their own, each lot made IN_PROGRESS by starting its first unit
/// through the API (the walk replays the statements of a unit whose lot already runs), in `bench_walk.units`
/// with the attributes the lookup reads; the request role may read them and draw the next one.
async fn make_units(
    db: &PgPool,
    args: &Args,
    http: &reqwest::Client,
    token: &str,
    pairs: &[(i64, i64)],
    units: usize,
) -> Result<usize> {
    let per_lot = LOT_UNITS - 1;
    let lots = scenario::make_lots(http, args, token, pairs, units.div_ceil(per_lot)).await?;
    let mut codes = Vec::with_capacity(units);
    for lot in &lots {
        let first = format!("WIP-{lot}-001");
        let res = http
            .post(format!("{}/api/v1/process-data/start", args.base_url))
            .bearer_auth(token)
            .json(&json!({"process_number": 1, "unit": {"wip_id": first}}))
            .send()
            .await?;
        if !res.status().is_success() {
            bail!(
                "starting {first} for the replay answered {}: {}",
                res.status(),
                res.text().await.unwrap_or_default()
            );
        }
        codes.extend(scenario::wip_ids(lot, 2));
    }
    codes.truncate(units);
    let role = capture::session_settings(&args.pg_options)?
        .into_iter()
        .find(|(k, _)| k == "role")
        .map(|(_, v)| v)
        .ok_or_else(|| anyhow!("--pg-options names no role for pgbench"))?;
    let mut tx = db.begin().await?;
    for sql in [
        format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"),
        format!("CREATE SCHEMA {SCHEMA}"),
        format!(
            "CREATE TABLE {SCHEMA}.units (n bigint PRIMARY KEY, wip_pk text, wip_code text, lot_id text, \
             lot_number text, seq text, serial_number text)"
        ),
        format!("CREATE SEQUENCE {SCHEMA}.n"),
        format!("GRANT USAGE ON SCHEMA {SCHEMA} TO {role}"),
        format!("GRANT SELECT ON {SCHEMA}.units TO {role}"),
        format!("GRANT USAGE ON SEQUENCE {SCHEMA}.n TO {role}"),
    ] {
        sqlx::query(&sql).execute(&mut *tx).await?;
    }
    let n = sqlx::query(&format!(
        "INSERT INTO {SCHEMA}.units SELECT row_number() OVER (ORDER BY u.id), u.wip_pk, u.wip_code, u.lot_id, \
         u.lot_number, u.seq, u.serial_number \
         FROM ({}) u(id, wip_pk, wip_code, lot_id, lot_number, seq, serial_number)",
        UNIT_SQL
            .replace("SELECT w.id::text,", "SELECT w.id, w.id::text,")
            .replace("WHERE w.wip_id = $1", "WHERE w.wip_id = ANY($1)")
    ))
    .bind(&codes)
    .execute(&mut *tx)
    .await?
    .rows_affected() as usize;
    tx.commit().await?;
    if n != codes.len() {
        bail!("{} fresh units made for the replay, {n} found", codes.len());
    }
    Ok(n)
}

impl Walk {
    /// pgbench at concurrency `c`, in station pairs per second, after which every walk pgbench counted must have
    /// left its unit with a PASS record per process.
    pub async fn pgbench(
        &self,
        db: &PgPool,
        args: &Args,
        c: usize,
        duration: Duration,
        postmaster: u32,
    ) -> Result<Pgbench> {
        let taken = || async {
            let n: i64 = sqlx::query_scalar(&format!(
                "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {SCHEMA}.n"
            ))
            .fetch_one(db)
            .await?;
            Ok::<i64, anyhow::Error>(n)
        };
        let from = taken().await?;
        let p = capture::run_pgbench(
            db,
            args,
            (&self.script, &self.defs, PROCESSES as u64),
            c,
            duration,
            postmaster,
        )
        .await?;
        let to = taken().await?;
        if to as usize >= self.units {
            bail!(
                "the replay used up its {} fresh units: make more (the walks per second exceeded the budget)",
                self.units
            );
        }
        let walked: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {SCHEMA}.units u \
              WHERE u.n > $1 AND u.n <= $2 \
                AND (SELECT count(*) FROM process_data pd \
                      WHERE (pd.wip_id = u.wip_pk::bigint OR pd.serial_id = (SELECT s.id FROM serials s \
                             WHERE s.lot_id = u.lot_id::bigint AND s.sequence_in_lot = u.seq::int)) \
                        AND pd.result = 'PASS') = $3"
        ))
        .bind(from)
        .bind(to)
        .bind(PROCESSES as i64)
        .fetch_one(db)
        .await?;
        let counted = p.transactions / PROCESSES as u64;
        if (walked as u64) < counted {
            bail!(
                "pgbench counted {counted} walks but only {walked} of its units have a PASS record per process: \
                 the replay did not do the station's work"
            );
        }
        Ok(p)
    }

    /// Drop the replay's units (the records the walks made stay, as the station write's do).
    pub async fn cleanup(db: &PgPool) -> Result<()> {
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            .execute(db)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(sql: &str, params: &[Option<&str>]) -> Statement {
        Statement {
            sql: sql.into(),
            params: params.iter().map(|p| p.map(str::to_string)).collect(),
        }
    }

    fn observed(unit: [&str; 6], record: &str, key: &str, request: &str) -> Observed {
        Observed {
            statements: vec![
                st("BEGIN", &[]),
                st(
                    "SELECT set_config('app.request_id', $1, true)",
                    &[Some(request)],
                ),
                st(
                    "INSERT INTO idempotency_keys (user_id, idempotency_key) VALUES ($1, $2)",
                    &[Some("7"), Some(key)],
                ),
                st("SELECT id FROM wip_items WHERE wip_id = $1 FOR UPDATE", &[Some(unit[1])]),
                st(
                    "WITH pd AS (INSERT INTO process_data (lot_id, wip_id, process_id) VALUES ($1, $2, $3) \
                     RETURNING *) SELECT pd.id FROM pd",
                    &[Some(unit[2]), Some(unit[0]), Some("1")],
                ),
                st("UPDATE process_data SET result = 'PASS' WHERE id = $1", &[Some(record)]),
                st("COMMIT", &[]),
            ],
            unit: UNIT_ATTRIBUTES.into_iter().zip(unit.map(String::from)).collect(),
            created: vec![("process_data", vec![record.into()]), ("serials", vec![])],
            keys: vec![key.into()],
        }
    }

    /// Two walks of units in two lots.
    fn walks() -> (Observed, Observed) {
        (
            observed(
                ["1001", "WIP-A-002", "501", "A", "2", "A002"],
                "9001",
                "k-a",
                "r-a",
            ),
            observed(
                ["1102", "WIP-B-003", "502", "B", "3", "B003"],
                "9002",
                "k-b",
                "r-b",
            ),
        )
    }

    #[test]
    fn a_walks_parameters_become_variables_of_the_unit_the_created_ids_and_the_keys() {
        let (a, b) = walks();
        let w = plan(&a, &b, "t").unwrap();
        let lines: Vec<&str> = w.script.lines().collect();
        assert_eq!(
            lines[0],
            "SELECT wip_pk, wip_code, lot_id, lot_number, seq, serial_number, 't-' || n || '-0' AS key0 \
             FROM bench_walk.units WHERE n = (SELECT nextval('bench_walk.n')) \\gset u_"
        );
        assert_eq!(lines[1], "BEGIN;");
        // the request id differs and has no source: replayed as the second walk had it, and listed
        assert_eq!(
            lines[2],
            "SELECT set_config('app.request_id', :w1p1, true);"
        );
        assert!(w.defs.contains(&"w1p1=r-b".to_string()), "{:?}", w.defs);
        assert_eq!(w.kept.len(), 1, "{:?}", w.kept);
        // the user is the same in both: captured; the key is the fresh unit's
        assert_eq!(
            lines[3],
            "INSERT INTO idempotency_keys (user_id, idempotency_key) VALUES (:w2p1, :u_key0);"
        );
        assert_eq!(
            lines[4],
            "SELECT id FROM wip_items WHERE wip_id = :u_wip_code FOR UPDATE;"
        );
        // the record's id comes from the statement that created it
        assert!(
            lines[5].ends_with("SELECT pd.id FROM pd \\gset g4_"),
            "{}",
            lines[5]
        );
        assert!(
            lines[5].contains("VALUES (:u_lot_id, :u_wip_pk, :w4p3)"),
            "{}",
            lines[5]
        );
        assert_eq!(
            lines[6],
            "UPDATE process_data SET result = 'PASS' WHERE id = :g4_id;"
        );
        assert_eq!(lines[7], "COMMIT;");
        assert_eq!(w.variables, 5);
    }

    #[test]
    fn walks_that_ran_other_statements_or_created_other_rows_are_refused() {
        let (a, mut b) = walks();
        b.statements[3].sql.push_str(" NOWAIT");
        assert!(plan(&a, &b, "t").is_err());
        let mut b = walks().1;
        b.created[0].1.push("9003".into());
        assert!(plan(&a, &b, "t").is_err());
    }

    #[test]
    fn inserts_that_return_are_found_with_their_table() {
        assert_eq!(
            returning_insert(
                "WITH pd AS (INSERT INTO process_data (a) VALUES ($1) RETURNING *) SELECT 1"
            ),
            Some("process_data")
        );
        assert_eq!(
            returning_insert("INSERT INTO public.serials (a) VALUES ($1) RETURNING id"),
            Some("serials")
        );
        assert_eq!(
            returning_insert("INSERT INTO serials (a) VALUES ($1)"),
            None
        );
        assert_eq!(
            returning_insert("UPDATE serials SET a = 1 RETURNING id"),
            None
        );
    }
}
