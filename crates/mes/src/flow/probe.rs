//! The go / no-go check MES-SEQ — "process sequence enforcement" (issue 10, seed 001's eight processes in
//! order) — run through this crate's own flow against the live process route.
//!
//! The sequence is a rule of the flow ([`super::check_can_start`] over the route the `processes` table holds),
//! not a trigger: a trigger would write the rule twice. So the check runs the rule where it lives: `neurohub
//! verify` is handed [`sequence`] by the binary and runs it in a transaction it rolls back. The probe builds a
//! scratch model, line, lot and WIP item (explicit ids, `OVERRIDING SYSTEM VALUE`, as INV4 does) and a scratch
//! operator; then, under the request role `neurohub_app` with the operator's context, it calls
//! [`super::start`] and [`super::complete`] as the routes do, with the first two active processes of the live
//! route (1 and 2 as shipped): the second before the first is refused (PROCESS_OUT_OF_SEQUENCE), the first
//! starts, the second is still refused while the first is open, the first completes PASS (with measurements
//! inside its live criteria), and the second then starts. The records' identity
//! sequence advances (the engine's inserts take their ids from it), like the audit sequence: a gap is harmless.

use neurohub_core::auth::{AuthUser, Role};
use neurohub_core::context::RequestContext;
use neurohub_core::probe::{as_request_role, expect, ProbeFailed, ProbeFuture};
use serde_json::{Map, Value};
use sqlx::PgConnection;

use super::{complete, start, CompleteProcess, StartProcess, UnitRef, UnitSelector};
use crate::state::ProcessResult;

/// Free ids far above any real row (the same region INV4 uses, one apart so both could run in one transaction).
const FREE_ID: i64 = 9_000_000_000_000_002;

/// MES-SEQ: `Ok(evidence)` when the flow refuses and admits starts as the sequence rule says.
pub fn sequence(conn: &mut PgConnection) -> ProbeFuture<'_> {
    Box::pin(async move { run(conn).await.map_err(|e| e.to_string()) })
}

/// Measurements inside `criteria`: the midpoint of each bounded criterion, its bound when it has one.
fn passing_measurements(criteria: &Value) -> Map<String, Value> {
    let mut m = Map::new();
    for (name, rule) in criteria.as_object().into_iter().flatten() {
        let min = rule.get("min").and_then(Value::as_f64);
        let max = rule.get("max").and_then(Value::as_f64);
        let v = match (min, max) {
            (Some(a), Some(b)) => (a + b) / 2.0,
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => continue,
        };
        m.insert(name.clone(), serde_json::json!(v));
    }
    m
}

fn start_body(process_number: i32, wip: i64) -> StartProcess {
    StartProcess {
        process_id: None,
        process_number: Some(process_number),
        unit: UnitSelector {
            wip_item_id: Some(wip),
            ..Default::default()
        },
        equipment_id: None,
        notes: Some("neurohub verify MES-SEQ".into()),
    }
}

async fn run(conn: &mut PgConnection) -> Result<Vec<String>, ProbeFailed> {
    let operator: i64 = sqlx::query_scalar(
        "INSERT INTO users (id, username, full_name, password_hash, role) OVERRIDING SYSTEM VALUE \
         SELECT coalesce(max(id), 0) + 3000000, 'verify_seq_' || (coalesce(max(id), 0) + 3000000), \
                'verify MES-SEQ probe', '$argon2id$verify', 'OPERATOR' FROM users RETURNING id",
    )
    .fetch_one(&mut *conn)
    .await?;
    // a model and line code no real row uses (as INV4 picks them), a lot of one WIP item
    sqlx::query(
        "WITH m AS (INSERT INTO product_models (id, model_code, model_name) OVERRIDING SYSTEM VALUE \
                    SELECT $1, x.c, 'verify MES-SEQ probe' \
                      FROM (SELECT 'S' || lpad(n::text, 2, '0') AS c FROM generate_series(0, 99) AS n) AS x \
                     WHERE NOT EXISTS (SELECT 1 FROM product_models p WHERE p.model_code = x.c) LIMIT 1 \
                    RETURNING id, model_code), \
              l AS (INSERT INTO production_lines (id, country_code, line_code, name) OVERRIDING SYSTEM VALUE \
                    SELECT $1, 'ZY', x.c, 'verify MES-SEQ probe' \
                      FROM (SELECT lpad(n::text, 2, '0') AS c FROM generate_series(0, 99) AS n) AS x \
                     WHERE NOT EXISTS (SELECT 1 FROM production_lines p \
                                        WHERE p.country_code = 'ZY' AND p.line_code = x.c) LIMIT 1 \
                    RETURNING id, line_code), \
              lot AS (INSERT INTO lots (id, lot_number, product_model_id, production_line_id, target_quantity) \
                      OVERRIDING SYSTEM VALUE \
                      SELECT $1, 'ZY' || l.line_code || m.model_code || '991201', m.id, l.id, 1 FROM m, l \
                      RETURNING id, lot_number) \
         INSERT INTO wip_items (id, wip_id, lot_id, sequence_in_lot) OVERRIDING SYSTEM VALUE \
         SELECT $1, 'WIP-' || lot.lot_number || '-001', lot.id, 1 FROM lot",
    )
    .bind(FREE_ID)
    .execute(&mut *conn)
    .await?;
    // the first two active processes of the live route (a plant may switch a process off; the rule then
    // skips it, and so does the probe)
    let route: Vec<(i32, Value)> = sqlx::query_as(
        "SELECT process_number, quality_criteria FROM processes WHERE is_active ORDER BY process_number LIMIT 2",
    )
    .fetch_all(&mut *conn)
    .await?;
    let [(p1, criteria), (p2, _)] = &route[..] else {
        return Err(ProbeFailed(format!(
            "the route has {} active process(es); the sequence needs two",
            route.len()
        )));
    };
    let (p1, p2) = (*p1, *p2);
    as_request_role(conn).await?;
    let user = AuthUser {
        id: operator,
        username: format!("verify_seq_{operator}"),
        role: Role::Operator,
        ctx: RequestContext {
            user_id: Some(operator),
            request_id: Some("neurohub-verify-mes-seq".into()),
            ..Default::default()
        },
    };
    neurohub_core::context::set(conn, &user.ctx).await?;
    let unit = UnitRef::WipItemId(FREE_ID);
    let mut evidence = vec![
        "scratch lot with one WIP item, the live 8-process route, run under neurohub_app"
            .to_string(),
    ];

    let refused = |what: &str, r: Result<_, neurohub_core::ApiError>| -> Result<(), ProbeFailed> {
        match r {
            Err(e) if e.code == "PROCESS_OUT_OF_SEQUENCE" => Ok(()),
            Err(e) => Err(ProbeFailed(format!(
                "{what} was refused with {} instead of PROCESS_OUT_OF_SEQUENCE: {e}",
                e.code
            ))),
            Ok(_) => Err(ProbeFailed(format!("{what} was accepted"))),
        }
    };
    sqlx::query("SAVEPOINT mes_seq").execute(&mut *conn).await?;
    let early = start(conn, &user, &start_body(p2, FREE_ID), &unit).await;
    sqlx::query("ROLLBACK TO SAVEPOINT mes_seq")
        .execute(&mut *conn)
        .await?;
    refused(&format!("process {p2} before process {p1}"), early)?;
    evidence.push(format!(
        "process {p2} before process {p1}: refused (409 PROCESS_OUT_OF_SEQUENCE)"
    ));

    let first = start(conn, &user, &start_body(p1, FREE_ID), &unit).await?;
    evidence.push(format!("process {p1} started"));
    sqlx::query("SAVEPOINT mes_seq").execute(&mut *conn).await?;
    let open = start(conn, &user, &start_body(p2, FREE_ID), &unit).await;
    sqlx::query("ROLLBACK TO SAVEPOINT mes_seq")
        .execute(&mut *conn)
        .await?;
    refused(&format!("process {p2} while process {p1} is open"), open)?;
    evidence.push(format!(
        "process {p2} while process {p1} is open (no PASS yet): refused"
    ));

    let done = complete(
        conn,
        &user,
        first.id,
        &CompleteProcess {
            result: ProcessResult::Pass,
            measurements: Some(passing_measurements(criteria)),
            defects: None,
            notes: None,
        },
        0,
    )
    .await?;
    expect(
        done.record.result == Some(ProcessResult::Pass),
        format!(
            "process {p1} completed as {:?}, not PASS",
            done.record.result
        ),
    )?;
    let second = start(conn, &user, &start_body(p2, FREE_ID), &unit).await?;
    expect(
        second.process_number == p2,
        format!(
            "the start after the PASS opened process {}",
            second.process_number
        ),
    )?;
    evidence.push(format!(
        "after a PASS at process {p1}, process {p2} started"
    ));
    Ok(evidence)
}
