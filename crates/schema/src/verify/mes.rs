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
];

boxed!(mes_checks => mes_checks_impl, mes_seq => mes_seq_impl, inv4 => inv4_impl);

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
