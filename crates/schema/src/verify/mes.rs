//! The MES module's checks: every CHECK of seed 001 rejects its bad case, process sequence enforcement (in
//! the API, not the database: skipped with the reason), and processes and users with history cannot be
//! deleted. Rows are written inside a rolled-back transaction with explicit ids (`OVERRIDING SYSTEM VALUE`), so
//! no identity sequence moves; a refused INSERT with an explicit id never calls nextval either.

use crate::error::SchemaError;
use crate::verify::report::{Module, Section};
use crate::verify::{all_refused, platform::SCRATCH_USER, scratch, Check, Ctx, Outcome, Probe};

/// The MES's checks.
pub static CHECKS: &[Check] = &[
    Check {
        id: "MES-CHECKS",
        section: Section::Critical,
        module: Module::Mes,
        title: "every MES CHECK of seed 001 rejects its bad case",
        run: mes_checks,
    },
    Check {
        id: "MES-SEQ",
        section: Section::Critical,
        module: Module::Mes,
        title: "process sequence enforced (the MES flow on the live route)",
        run: mes_seq,
    },
    Check {
        id: "INV4",
        section: Section::Invariant,
        module: Module::Mes,
        title: "processes and users with history cannot be deleted",
        run: inv4,
    },
    Check {
        id: "MES-COUNTERS",
        section: Section::Invariant,
        module: Module::Mes,
        title: "the lot and open-WIP counters equal a recount",
        run: mes_counters,
    },
];

boxed!(mes_checks => mes_checks_impl, mes_seq => mes_seq_impl, inv4 => inv4_impl, mes_counters => mes_counters_impl);

/// Each counter of migration 0011 against a recount from the units and their records: (what, SQL answering the
/// number of differing rows and up to five of their keys). Zero rows in `lot_unit_counts` stand for "no units".
const COUNTER_RECOUNTS: &[(&str, &str)] = &[
    (
        "lot_unit_counts (units per lot and status)",
        "WITH s AS (
            SELECT lot_id, wip_created, wip_in_progress, wip_failed, wip_converted, wip_scrapped, serial_created,
                   serial_in_progress, serial_failed, serial_completed, serial_scrapped
              FROM lot_unit_counts
             WHERE GREATEST(wip_created, wip_in_progress, wip_failed, wip_converted, wip_scrapped, serial_created,
                            serial_in_progress, serial_failed, serial_completed, serial_scrapped) <> 0),
         r AS (
            SELECT lot_id, sum(wc)::bigint, sum(wi)::bigint, sum(wf)::bigint, sum(wv)::bigint, sum(ws)::bigint,
                   sum(sc)::bigint, sum(si)::bigint, sum(sf)::bigint, sum(sd)::bigint, sum(ss)::bigint
              FROM (SELECT lot_id, count(*) FILTER (WHERE status = 'CREATED') AS wc,
                           count(*) FILTER (WHERE status = 'IN_PROGRESS') AS wi,
                           count(*) FILTER (WHERE status = 'FAILED') AS wf,
                           count(*) FILTER (WHERE status = 'CONVERTED') AS wv,
                           count(*) FILTER (WHERE status = 'SCRAPPED') AS ws,
                           0 AS sc, 0 AS si, 0 AS sf, 0 AS sd, 0 AS ss
                      FROM wip_items GROUP BY lot_id
                    UNION ALL
                    SELECT lot_id, 0, 0, 0, 0, 0, count(*) FILTER (WHERE status = 'CREATED'),
                           count(*) FILTER (WHERE status = 'IN_PROGRESS'), count(*) FILTER (WHERE status = 'FAILED'),
                           count(*) FILTER (WHERE status = 'COMPLETED'), count(*) FILTER (WHERE status = 'SCRAPPED')
                      FROM serials GROUP BY lot_id) t
             GROUP BY lot_id),
         d AS ((SELECT * FROM s EXCEPT SELECT * FROM r) UNION (SELECT * FROM r EXCEPT SELECT * FROM s))
         SELECT (SELECT count(DISTINCT lot_id) FROM d),
                ARRAY(SELECT DISTINCT 'lot ' || lot_id FROM d ORDER BY 1 LIMIT 5)",
    ),
    (
        "unit_wip_positions (where each open unit stands)",
        "WITH d AS ((SELECT unit_kind, unit_id, lot_id, process_id, state FROM unit_wip_positions
                     EXCEPT SELECT unit_kind, unit_id, lot_id, process_id, state FROM open_unit_positions)
                    UNION
                    (SELECT unit_kind, unit_id, lot_id, process_id, state FROM open_unit_positions
                     EXCEPT SELECT unit_kind, unit_id, lot_id, process_id, state FROM unit_wip_positions))
         SELECT (SELECT count(DISTINCT (unit_kind, unit_id)) FROM d),
                ARRAY(SELECT DISTINCT unit_kind || ' ' || unit_id FROM d ORDER BY 1 LIMIT 5)",
    ),
    (
        "lot_process_wip (open units per lot and process)",
        "WITH r AS (
            SELECT lot_id, process_id, count(*) FILTER (WHERE state = 'IN_PROCESS') AS in_process,
                   count(*) FILTER (WHERE state = 'WAITING') AS waiting,
                   count(*) FILTER (WHERE state = 'FAILED') AS failed
              FROM open_unit_positions WHERE process_id IS NOT NULL GROUP BY lot_id, process_id),
         s AS (SELECT lot_id, process_id, in_process, waiting, failed FROM lot_process_wip),
         d AS ((SELECT * FROM s EXCEPT SELECT * FROM r) UNION (SELECT * FROM r EXCEPT SELECT * FROM s))
         SELECT (SELECT count(DISTINCT (lot_id, process_id)) FROM d),
                ARRAY(SELECT DISTINCT 'lot ' || lot_id || ' process ' || process_id FROM d ORDER BY 1 LIMIT 5)",
    ),
];

/// The counters that differ from a recount: one line per counter table that is off, with how many rows and a
/// sample of their keys (empty when every counter is right). Public for the tests of the flows that move them.
pub async fn counter_mismatches(ex: &mut sqlx::PgConnection) -> Result<Vec<String>, SchemaError> {
    let mut off = Vec::new();
    for (what, sql) in COUNTER_RECOUNTS {
        let (n, sample): (i64, Vec<String>) = sqlx::query_as(sql).fetch_one(&mut *ex).await?;
        if n > 0 {
            off.push(format!(
                "{what}: {n} differ from a recount (e.g. {})",
                sample.join(", ")
            ));
        }
    }
    Ok(off)
}

async fn mes_counters_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let mut tx = scratch(&ctx.pool).await?;
    // one snapshot for the stored counters and the recount (REPEATABLE READ, read only)
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SET LOCAL statement_timeout = '300s'")
        .execute(&mut *tx)
        .await?;
    let off = counter_mismatches(&mut tx).await?;
    tx.rollback().await?;
    Ok(if off.is_empty() {
        Outcome::Pass(
            COUNTER_RECOUNTS
                .iter()
                .map(|(what, _)| format!("{what}: equal to a recount"))
                .collect(),
        )
    } else {
        Outcome::Fail(
            "counters differ from a recount (a counting trigger is missing or disabled, or rows were loaded \
             with triggers off without mes_rebuild_counters())"
                .into(),
            off,
        )
    })
}

/// An id no row has: explicit ids keep the identity sequences where they are.
const FREE_ID: &str = "9000000000000001";

async fn mes_checks_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let mut tx = scratch(&ctx.pool).await?;
    let id = || vec![FREE_ID.to_string()];
    // CHECK constraints fire before the FKs (after-row triggers), so parents need not exist
    let cases: Vec<Probe> = vec![
        ("product_models.model_code format", "INSERT INTO product_models (id, model_code, model_name) OVERRIDING SYSTEM VALUE VALUES ($1::bigint, 'a!', 'x')", id(), Some("chk_product_models_model_code")),
        ("product_models.status unknown", "INSERT INTO product_models (id, model_code, model_name, status) OVERRIDING SYSTEM VALUE VALUES ($1::bigint, 'ZZZ', 'x', 'BOGUS')", id(), Some("chk_product_models_status")),
        ("production_lines.country_code format", "INSERT INTO production_lines (id, country_code, line_code, name) OVERRIDING SYSTEM VALUE VALUES ($1::bigint, 'k1', '01', 'x')", id(), Some("chk_production_lines_country_code")),
        ("production_lines.line_code format", "INSERT INTO production_lines (id, country_code, line_code, name) OVERRIDING SYSTEM VALUE VALUES ($1::bigint, 'KR', 'AB', 'x')", id(), Some("chk_production_lines_line_code")),
        ("lots.lot_number format", "INSERT INTO lots (id, lot_number, product_model_id, target_quantity) OVERRIDING SYSTEM VALUE VALUES ($1::bigint, 'KR01NH1261100', 1, 1)", id(), Some("chk_lots_lot_number_format")),
        ("lots.target_quantity 0", "INSERT INTO lots (id, lot_number, product_model_id, target_quantity) OVERRIDING SYSTEM VALUE VALUES ($1::bigint, 'KR01NH1261101', 1, 0)", id(), Some("chk_lots_target_quantity")),
        ("lots.status unknown", "INSERT INTO lots (id, lot_number, product_model_id, target_quantity, status) OVERRIDING SYSTEM VALUE VALUES ($1::bigint, 'KR01NH1261101', 1, 1, 'BOGUS')", id(), Some("chk_lots_status")),
        ("process_data.data_level unknown", "INSERT INTO process_data (id, lot_id, process_id, operator_id, data_level) OVERRIDING SYSTEM VALUE VALUES ($1::bigint, 1, 1, 1, 'BOGUS')", id(), Some("chk_process_data_data_level")),
        ("process_data.attempt 0", "INSERT INTO process_data (id, lot_id, process_id, operator_id, data_level, attempt) OVERRIDING SYSTEM VALUE VALUES ($1::bigint, 1, 1, 1, 'LOT', 0)", id(), Some("chk_process_data_attempt")),
        ("process_data result without completion", "INSERT INTO process_data (id, lot_id, process_id, operator_id, data_level, result) OVERRIDING SYSTEM VALUE VALUES ($1::bigint, 1, 1, 1, 'LOT', 'PASS')", id(), Some("chk_process_data_completion")),
        ("users.role unknown", "INSERT INTO users (id, username, full_name, password_hash, role) OVERRIDING SYSTEM VALUE VALUES ($1::bigint, 'verify_bad_role', 'x', 'x', 'BOGUS')", id(), Some("chk_users_role")),
        ("users.failed_login_count negative", "INSERT INTO users (id, username, full_name, password_hash, failed_login_count) OVERRIDING SYSTEM VALUE VALUES ($1::bigint, 'verify_bad_count', 'x', 'x', -1)", id(), Some("chk_users_failed_login_count")),
        ("equipment.status unknown", "INSERT INTO equipment (id, equipment_code, name, status) OVERRIDING SYSTEM VALUE VALUES ($1::bigint, 'EQ-VERIFY', 'x', 'BOGUS')", id(), Some("chk_equipment_status")),
    ];
    let out = all_refused(&mut tx, &cases).await?;
    tx.rollback().await?;
    Ok(out)
}

/// Which process may start after which is the production flow's rule (crates/mes/src/flow), one rule in one
/// place: no trigger writes it a second time. So the check runs that rule — the MES flow's probe
/// (`neurohub_mes::flow::probe::sequence`), handed over by the binary — against the live process route.
async fn mes_seq_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    crate::verify::run_probe(ctx, ctx.runtime.mes_sequence, "MES flow").await
}

async fn inv4_impl(ctx: &Ctx) -> Result<Outcome, SchemaError> {
    let mut tx = scratch(&ctx.pool).await?;
    let uid: i64 = sqlx::query_scalar(SCRATCH_USER).fetch_one(&mut *tx).await?;
    // history for the user: an audited change made by it
    sqlx::query("SELECT set_config('app.current_user_id', $1, true)")
        .bind(uid.to_string())
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE users SET department = 'verify' WHERE id = $1")
        .bind(uid)
        .execute(&mut *tx)
        .await?;
    // history for a process: one process_data row on a lot of a scratch model and line (explicit ids)
    let process: Option<i64> = sqlx::query_scalar("SELECT min(id) FROM processes")
        .fetch_one(&mut *tx)
        .await?;
    let mut cases: Vec<Probe> = vec![(
        "DELETE a user with audit history",
        "DELETE FROM users WHERE id = $1::bigint",
        vec![uid.to_string()],
        Some("NH002"),
    )];
    if let Some(p) = process {
        let model: String = sqlx::query_scalar(
            "INSERT INTO product_models (id, model_code, model_name) OVERRIDING SYSTEM VALUE
             SELECT $1::bigint, x.c, 'verify probe'
               FROM (SELECT 'Q' || lpad(n::text, 2, '0') AS c FROM generate_series(0, 99) AS n) AS x
              WHERE NOT EXISTS (SELECT 1 FROM product_models m WHERE m.model_code = x.c) LIMIT 1
             RETURNING model_code",
        )
        .bind(FREE_ID)
        .fetch_one(&mut *tx)
        .await?;
        let line: String = sqlx::query_scalar(
            "INSERT INTO production_lines (id, country_code, line_code, name) OVERRIDING SYSTEM VALUE
             SELECT $1::bigint, 'ZZ', x.c, 'verify probe'
               FROM (SELECT lpad(n::text, 2, '0') AS c FROM generate_series(0, 99) AS n) AS x
              WHERE NOT EXISTS (SELECT 1 FROM production_lines l WHERE l.country_code = 'ZZ' AND l.line_code = x.c) LIMIT 1
             RETURNING line_code::text",
        )
        .bind(FREE_ID)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO lots (id, lot_number, product_model_id, production_line_id, target_quantity) OVERRIDING SYSTEM VALUE
             VALUES ($1::bigint, 'ZZ' || $2 || $3 || '999901', $1::bigint, $1::bigint, 1)",
        )
        .bind(FREE_ID)
        .bind(&line)
        .bind(&model)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO process_data (id, lot_id, process_id, operator_id, data_level) OVERRIDING SYSTEM VALUE
             VALUES ($1::bigint, $1::bigint, $2, $3, 'LOT')",
        )
        .bind(FREE_ID)
        .bind(p)
        .bind(uid)
        .execute(&mut *tx)
        .await?;
        cases.push((
            "DELETE a process with production history",
            "DELETE FROM processes WHERE id = $1::bigint",
            vec![p.to_string()],
            Some("NH002"),
        ));
    }
    let out = all_refused(&mut tx, &cases).await?;
    tx.rollback().await?;
    Ok(match (out, process) {
        (Outcome::Pass(mut d), None) => {
            d.push("no process exists to probe (processes are seeded by migration 0001)".into());
            Outcome::Fail("the processes table is empty".into(), d)
        }
        (o, _) => o,
    })
}
