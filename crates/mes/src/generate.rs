//! `neurohub seed --lots N --units-per-lot M`: a production-scale MES data set, valid by the API's rules, loaded
//! with COPY.
//!
//! What it writes: product models, lines, operators and equipment (ordinary INSERTs, audited by the triggers);
//! then, in one transaction with the triggers off (`session_replication_role = replica`, so it needs a
//! superuser), lots spread over `months` months, their WIP items, serials and process records in process order
//! (PASS / FAIL / REWORK mix, defects on FAIL, measurements inside and outside each process's quality criteria
//! checked by the flow's own [`check_criteria`], operators and equipment of the process), and — because the
//! triggers were off — what they would have written: one audit row per inserted row dated when it happened (so
//! the monthly audit partitions fill), durations, `lot_sequences`, and the counters of migration 0011
//! (`mes_rebuild_counters()`). The secondary indexes of `process_data` are dropped for the COPY and rebuilt after
//! it (the tables must be empty). Lots older than two weeks are COMPLETED; newer ones are IN_PROGRESS with units
//! at every stage (waiting, open at a process, FAILED, converted to serials). Same `random_seed`, same data.
//! Run `neurohub verify` afterwards (the CLI does): orphans, CHECKs and counters are all checked there.

use crate::flow::criteria::check_criteria;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use neurohub_core::copy::{self, CopyWriter, Phases};
use neurohub_core::rng::Rng;
use serde_json::{json, Map, Value};
use sqlx::{PgConnection, PgPool, Row};
use std::collections::HashMap;

/// The size and shape of a generated data set.
#[derive(Debug, Clone)]
pub struct Spec {
    pub lots: u32,
    pub units_per_lot: u32,
    pub random_seed: u64,
    /// Months of history the lots are spread over (ending today).
    pub months: u32,
}

/// What was written, and how fast.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub lots: u64,
    pub wip_items: u64,
    pub serials: u64,
    pub process_data: u64,
    pub audit_logs: u64,
    pub seconds: f64,
    /// (phase, seconds).
    pub phases: Vec<(String, f64)>,
}

impl Report {
    pub fn rows(&self) -> u64 {
        self.lots + self.wip_items + self.serials + self.process_data + self.audit_logs
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} lots, {} WIP items, {} serials, {} process records, {} audit rows: {} rows in {:.1} s ({:.0} rows/s)",
            self.lots,
            self.wip_items,
            self.serials,
            self.process_data,
            self.audit_logs,
            self.rows(),
            self.seconds,
            self.rows() as f64 / self.seconds.max(1e-9)
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

struct Process {
    id: i64,
    criteria: Value,
    equipment: Vec<i64>,
}

const DEFECTS: &[(&str, &str, &str)] = &[
    ("SCRATCH", "surface scratch", "MINOR"),
    ("SMUDGE", "ink smudge", "MINOR"),
    ("MISALIGN", "part misaligned", "MAJOR"),
    ("TORQUE", "torque out of range", "MAJOR"),
    ("NOISE", "sensor noise", "MAJOR"),
    ("CRACK", "cracked housing", "CRITICAL"),
];

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()
}

/// Measurements for `criteria`: inside every bound, or (bad) one criterion outside.
fn measurements(rng: &mut Rng, criteria: &Value, bad: bool) -> Map<String, Value> {
    let mut m = Map::new();
    let Some(c) = criteria.as_object() else {
        return m;
    };
    let spoil = if bad && !c.is_empty() {
        rng.below(c.len() as u64) as usize
    } else {
        usize::MAX
    };
    for (i, (name, rule)) in c.iter().enumerate() {
        let lo = rule.get("min").and_then(Value::as_f64).unwrap_or(0.0);
        let hi = rule.get("max").and_then(Value::as_f64).unwrap_or(lo);
        let span = (hi - lo).abs().max(1.0);
        let x = if i == spoil {
            hi + span * (0.05 + rng.f() * 0.5)
        } else {
            lo + (hi - lo) * rng.f()
        };
        let x = (x * 1000.0).round() / 1000.0;
        m.insert(name.clone(), json!(x));
    }
    m
}

async fn masters(
    conn: &mut PgConnection,
) -> Result<
    (
        Vec<i64>,
        Vec<(i64, String)>,
        Vec<(i64, String)>,
        Vec<Process>,
    ),
    sqlx::Error,
> {
    sqlx::query("SELECT set_config('app.request_id', 'neurohub-seed', false)")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO users (username, full_name, password_hash, role)
         SELECT 'seed_op' || lpad(i::text, 2, '0'), 'Seed Operator ' || i, '!', 'OPERATOR' FROM generate_series(1, 20) i
         ON CONFLICT (username) DO NOTHING",
    )
    .execute(&mut *conn)
    .await?;
    let operators: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE username LIKE 'seed\\_op%' ORDER BY id")
            .fetch_all(&mut *conn)
            .await?;
    sqlx::query(
        "INSERT INTO product_models (model_code, model_name, category)
         SELECT 'G' || lpad(i::text, 2, '0'), 'Generated model ' || i, 'robot' FROM generate_series(1, 10) i
         ON CONFLICT (model_code) DO NOTHING",
    )
    .execute(&mut *conn)
    .await?;
    let models = sqlx::query_as::<_, (i64, String)>(
        "SELECT id, model_code FROM product_models WHERE model_code ~ '^G[0-9]{2}$' ORDER BY model_code",
    )
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO production_lines (country_code, line_code, name)
         SELECT 'KR', (80 + i)::text, 'Generated line ' || i FROM generate_series(1, 4) i
         ON CONFLICT (country_code, line_code) DO NOTHING",
    )
    .execute(&mut *conn)
    .await?;
    let lines = sqlx::query_as::<_, (i64, String)>(
        "SELECT id, country_code::text || line_code::text FROM production_lines
          WHERE country_code = 'KR' AND line_code::text BETWEEN '81' AND '84' ORDER BY line_code",
    )
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO equipment (equipment_code, name, equipment_type, process_id, status)
         SELECT 'SEED-' || p.process_number || '-' || i, p.process_code || ' station ' || i, 'STATION', p.id, 'AVAILABLE'
           FROM processes p, generate_series(1, 3) i
         ON CONFLICT (equipment_code) DO NOTHING",
    )
    .execute(&mut *conn)
    .await?;
    let rows = sqlx::query(
        "SELECT p.id, p.quality_criteria,
                ARRAY(SELECT e.id FROM equipment e WHERE e.process_id = p.id AND e.equipment_code LIKE 'SEED-%' ORDER BY e.id) AS eq
           FROM processes p WHERE p.is_active ORDER BY p.process_number",
    )
    .fetch_all(&mut *conn)
    .await?;
    let processes = rows
        .iter()
        .map(|r| Process {
            id: r.get(0),
            criteria: r.get(1),
            equipment: r.get(2),
        })
        .collect();
    Ok((operators, models, lines, processes))
}

/// Generate the data set into the empty production tables of `pool`'s database (see the module doc).
pub async fn generate(
    pool: &PgPool,
    spec: &Spec,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Report, GenerateError> {
    let mut phases = Phases::start("");
    let mut report = Report::default();
    if spec.lots == 0 || spec.units_per_lot == 0 || spec.units_per_lot > 999 {
        return Err(GenerateError::Refused(
            "--lots must be at least 1 and --units-per-lot between 1 and 999".into(),
        ));
    }
    let mut conn = pool.acquire().await?;
    if let Some(why) = copy::refusal(
        &mut conn,
        "SELECT (SELECT count(*) FROM lots) + (SELECT count(*) FROM wip_items) + (SELECT count(*) FROM serials) + (SELECT count(*) FROM process_data)",
        "lots, units or process records",
    )
    .await?
    {
        return Err(GenerateError::Refused(why));
    }
    let (operators, models, lines, processes) = masters(&mut conn).await?;
    if processes.is_empty() || operators.is_empty() || models.is_empty() || lines.is_empty() {
        return Err(GenerateError::Refused(
            "no active process to record against".into(),
        ));
    }
    phases.mark("masters", progress);

    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SET LOCAL maintenance_work_mem = '512MB'")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SET LOCAL statement_timeout = 0")
        .execute(&mut *tx)
        .await?;
    // secondary indexes (not those behind constraints) of process_data and of the audit log are dropped for the
    // load and rebuilt after it: one sorted build each instead of a million index insertions each. (A
    // partitioned index is rebuilt over every partition: `ON ONLY` would leave it invalid.)
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ')
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE i.indrelid IN ('public.process_data'::regclass, 'public.audit_logs'::regclass)
            AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
          ORDER BY 1",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (name, _) in &indexes {
        sqlx::query(&format!(
            "DROP INDEX public.\"{}\"",
            name.replace('"', "\"\"")
        ))
        .execute(&mut *tx)
        .await?;
    }

    let mut rng = Rng::new(spec.random_seed ^ 0x005E_ED0F_4E55_C0DE);
    let today = Utc::now().date_naive();
    let span_days = (spec.months.max(1) * 30) as i64;
    let n = spec.lots as i64;
    let mut seqs: HashMap<(usize, usize, String), u32> = HashMap::new();

    // lots first (numbers, dates, statuses), then units and records lot by lot in three COPYs at once is not
    // possible on one connection: so lots, then units + serials into memory-bounded COPYs in turn.
    struct LotPlan {
        id: i64,
        number: String,
        start: DateTime<Utc>,
        completed: bool,
    }
    let mut plans = Vec::with_capacity(spec.lots as usize);
    {
        let mut w = CopyWriter::start(
            &mut tx,
            "lots",
            "id, lot_number, product_model_id, production_line_id, production_date, shift, target_quantity, status, started_at, completed_at, created_at, updated_at",
        )
        .await?;
        for i in 0..n {
            let age = (n - 1 - i) * span_days / n.max(1);
            let day: NaiveDate = today - Duration::days(age);
            let (li, mi) = (
                (i as usize) % lines.len(),
                (i as usize / lines.len()) % models.len(),
            );
            let ym = day.format("%y%m").to_string();
            let seq = seqs.entry((li, mi, ym.clone())).or_insert(0);
            *seq += 1;
            if *seq > 99 {
                return Err(GenerateError::Refused(format!(
                    "more than 99 lots per line, model and month: spread them over more --months (now {})",
                    spec.months
                )));
            }
            let number = format!("{}{}{}{:02}", lines[li].1, models[mi].1, ym, seq);
            let created = day.and_hms_opt(5, 0, 0).unwrap().and_utc()
                + Duration::minutes(rng.below(60) as i64);
            let start = created + Duration::minutes(30);
            let completed = age > 14;
            // the lot's end: roughly its units' last completion (8 processes, units in parallel), within two days
            let end = start + Duration::hours(30 + rng.below(12) as i64);
            let id = i + 1;
            w.val(id)
                .text(&number)
                .val(models[mi].0)
                .val(lines[li].0)
                .val(day)
                .text(if i % 2 == 0 { "DAY" } else { "NIGHT" })
                .val(spec.units_per_lot)
                .text(if completed {
                    "COMPLETED"
                } else {
                    "IN_PROGRESS"
                })
                .val(ts(start))
                .opt(completed.then(|| ts(end)))
                .val(ts(created))
                .val(ts(if completed { end } else { start }));
            w.end_row().await?;
            plans.push(LotPlan {
                id,
                number,
                start,
                completed,
            });
        }
        report.lots = w.finish().await?;
    }
    phases.mark("COPY lots", progress);

    // units: walk every unit through the processes; WIP items and serials are written now, records buffered
    // as compact tuples and written in a second pass (one COPY at a time per connection)
    struct Rec {
        lot: i64,
        wip: i64,
        serial: Option<i64>,
        process: usize,
        operator: i64,
        equipment: i64,
        result: Option<&'static str>,
        bad: bool,
        defect: Option<usize>,
        attempt: i32,
        start: DateTime<Utc>,
        secs: i64,
    }
    let mut recs: Vec<Rec> = Vec::with_capacity(
        spec.lots as usize * spec.units_per_lot as usize * (processes.len() + 1),
    );
    struct Unit {
        id: i64,
        lot: i64,
        seq: u32,
        status: &'static str,
        current: Option<i64>,
        serial: Option<(i64, &'static str, Option<DateTime<Utc>>)>,
        rework: i32,
        created: DateTime<Utc>,
        updated: DateTime<Utc>,
    }
    let mut units: Vec<Unit> = Vec::with_capacity(spec.lots as usize * spec.units_per_lot as usize);
    let last = processes.len() - 1;
    let mut serial_id = 0i64;
    for lot in &plans {
        for seq in 1..=spec.units_per_lot {
            let id = units.len() as i64 + 1;
            let created = lot.start + Duration::seconds(seq as i64 * 20);
            // how far the unit gets: all the way in a completed lot; anywhere in an open one
            let reach = if lot.completed {
                processes.len()
            } else {
                rng.below(processes.len() as u64 + 1) as usize
            };
            let open_next = !lot.completed && reach < processes.len() && rng.f() < 0.5;
            let mut t = created + Duration::minutes(rng.below(30) as i64);
            let mut status = if reach == 0 && !open_next {
                "CREATED"
            } else {
                "IN_PROGRESS"
            };
            let mut current = None;
            let mut serial: Option<(i64, &'static str, Option<DateTime<Utc>>)> = None;
            let mut rework = 0;
            let mut stopped = false;
            for (pi, p) in processes
                .iter()
                .enumerate()
                .take(reach + usize::from(open_next))
            {
                if pi == last && serial.is_none() {
                    serial_id += 1;
                    serial = Some((serial_id, "IN_PROGRESS", None));
                }
                let sid = serial.map(|s| s.0).filter(|_| pi == last);
                let op = operators[rng.below(operators.len() as u64) as usize];
                let eq = if p.equipment.is_empty() {
                    0
                } else {
                    p.equipment[rng.below(p.equipment.len() as u64) as usize]
                };
                current = Some(p.id);
                if pi == reach {
                    // open record: started, not completed
                    recs.push(Rec {
                        lot: lot.id,
                        wip: id,
                        serial: sid,
                        process: pi,
                        operator: op,
                        equipment: eq,
                        result: None,
                        bad: false,
                        defect: None,
                        attempt: 1,
                        start: t,
                        secs: 0,
                    });
                    break;
                }
                let mut attempt = 1;
                loop {
                    let roll = rng.f();
                    let secs = 60 + rng.below(240) as i64;
                    let (result, bad) = if attempt > 1 || roll < 0.95 {
                        ("PASS", false)
                    } else if roll < 0.98 {
                        ("FAIL", true)
                    } else {
                        ("REWORK", false)
                    };
                    let defect =
                        (result != "PASS").then(|| rng.below(DEFECTS.len() as u64) as usize);
                    recs.push(Rec {
                        lot: lot.id,
                        wip: id,
                        serial: sid,
                        process: pi,
                        operator: op,
                        equipment: eq,
                        result: Some(result),
                        bad,
                        defect,
                        attempt,
                        start: t,
                        secs,
                    });
                    t += Duration::seconds(secs + 30 + rng.below(600) as i64);
                    if result == "PASS" {
                        break;
                    }
                    // a FAIL in an open lot may leave the unit FAILED where it failed
                    if result == "FAIL" && !lot.completed && rng.f() < 0.5 {
                        stopped = true;
                        break;
                    }
                    rework += 1;
                    attempt += 1;
                }
                if stopped {
                    status = "FAILED";
                    break;
                }
            }
            if let Some(s) = serial.as_mut() {
                // the WIP item became this serial at the last process
                s.1 = if stopped {
                    "FAILED"
                } else if reach == processes.len() {
                    "COMPLETED"
                } else {
                    "IN_PROGRESS"
                };
                if s.1 == "COMPLETED" {
                    s.2 = Some(t);
                }
                status = "CONVERTED";
            }
            units.push(Unit {
                id,
                lot: lot.id,
                seq,
                status,
                current,
                serial,
                rework,
                created,
                updated: t,
            });
        }
    }
    {
        let mut w = CopyWriter::start(&mut tx, "serials", "id, serial_number, lot_id, sequence_in_lot, status, completed_at, rework_count, created_at, updated_at").await?;
        for u in &units {
            if let Some((sid, st, done)) = u.serial {
                let lot = &plans[(u.lot - 1) as usize];
                w.val(sid)
                    .text(&format!("{}{:03}", lot.number, u.seq))
                    .val(u.lot)
                    .val(u.seq)
                    .text(st)
                    .opt(done.map(ts))
                    .val(u.rework)
                    .val(ts(u.created))
                    .val(ts(u.updated));
                w.end_row().await?;
            }
        }
        report.serials = w.finish().await?;
    }
    {
        let mut w = CopyWriter::start(&mut tx, "wip_items", "id, wip_id, lot_id, sequence_in_lot, status, current_process_id, serial_id, rework_count, created_at, updated_at").await?;
        for u in &units {
            let lot = &plans[(u.lot - 1) as usize];
            w.val(u.id)
                .text(&format!("WIP-{}-{:03}", lot.number, u.seq))
                .val(u.lot)
                .val(u.seq)
                .text(u.status)
                .opt(u.current)
                .opt(u.serial.map(|s| s.0))
                .val(u.rework)
                .val(ts(u.created))
                .val(ts(u.updated));
            w.end_row().await?;
        }
        report.wip_items = w.finish().await?;
    }
    phases.mark("COPY wip_items + serials", progress);
    {
        let mut w = CopyWriter::start(
            &mut tx,
            "process_data",
            "id, lot_id, wip_id, serial_id, process_id, operator_id, equipment_id, data_level, result, measurements, defects, criteria_check, criteria_passed, attempt, started_at, completed_at, duration_seconds, created_at, updated_at",
        )
        .await?;
        for (i, r) in recs.iter().enumerate() {
            let p = &processes[r.process];
            w.val(i + 1)
                .val(r.lot)
                .val(r.wip)
                .opt(r.serial)
                .val(p.id)
                .val(r.operator)
                .opt((r.equipment > 0).then_some(r.equipment))
                .text(if r.serial.is_some() { "SERIAL" } else { "WIP" });
            match r.result {
                None => {
                    w.null()
                        .null()
                        .null()
                        .null()
                        .null()
                        .val(r.attempt)
                        .val(ts(r.start))
                        .null()
                        .null()
                        .val(ts(r.start))
                        .val(ts(r.start));
                }
                Some(result) => {
                    let m = measurements(&mut rng, &p.criteria, r.bad);
                    let outcome = check_criteria(&p.criteria, Some(&m));
                    let defects = r.defect.map(|d| {
                        let (code, description, severity) = DEFECTS[d];
                        json!([{"code": code, "description": description, "severity": severity}])
                            .to_string()
                    });
                    let done = r.start + Duration::seconds(r.secs);
                    w.text(result)
                        .text(&Value::Object(m).to_string())
                        .opt(defects)
                        .opt(outcome.check.map(|c| c.to_string()))
                        .opt(outcome.passed)
                        .val(r.attempt)
                        .val(ts(r.start))
                        .val(ts(done))
                        .val(r.secs)
                        .val(ts(r.start))
                        .val(ts(done));
                }
            }
            w.end_row().await?;
            if (i + 1) % 200_000 == 0 {
                progress(&format!("  process_data: {} of {} rows", i + 1, recs.len()));
            }
        }
        report.process_data = w.finish().await?;
    }
    drop(recs);
    drop(units);
    phases.mark("COPY process_data", progress);

    // what the audit trigger would have written for each inserted row, dated when it happened
    let audit_before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(&mut *tx)
        .await?;
    for (table, at, user) in [
        ("lots", "t.created_at", "NULL::bigint"),
        ("wip_items", "t.created_at", "NULL::bigint"),
        ("serials", "t.created_at", "NULL::bigint"),
        ("process_data", "t.started_at", "t.operator_id"),
    ] {
        sqlx::query(&format!(
            "INSERT INTO audit_logs (table_name, record_id, action, new_data, user_id, user_ref, request_id, created_at)
             SELECT '{table}', t.id, 'INSERT', to_jsonb(t), {user}, {user}::text, 'neurohub-seed', {at} FROM {table} t"
        ))
        .execute(&mut *tx)
        .await?;
    }
    let audit_after: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(&mut *tx)
        .await?;
    report.audit_logs = (audit_after - audit_before) as u64;
    phases.mark("audit rows", progress);
    for (_, def) in &indexes {
        sqlx::query(def).execute(&mut *tx).await?;
    }
    phases.mark("rebuild secondary indexes", progress);

    // identities past the explicit ids, the lot number sequences, statistics, the counters
    for t in ["lots", "wip_items", "serials", "process_data"] {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('public.{t}', 'id'), GREATEST((SELECT max(id) FROM {t}), 1))"
        ))
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO lot_sequences (production_line_id, product_model_id, year_month, last_seq)
         SELECT production_line_id, product_model_id, to_char(production_date, 'YYMM'), max(right(lot_number, 2)::int)
           FROM lots GROUP BY 1, 2, 3
         ON CONFLICT (production_line_id, product_model_id, year_month)
         DO UPDATE SET last_seq = GREATEST(lot_sequences.last_seq, EXCLUDED.last_seq)",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("ANALYZE lots, wip_items, serials, process_data")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT mes_rebuild_counters()")
        .execute(&mut *tx)
        .await?;
    phases.mark("sequences, statistics, counters", progress);
    tx.commit().await?;
    phases.mark("commit", progress);
    (report.seconds, report.phases) = phases.finish();
    Ok(report)
}
