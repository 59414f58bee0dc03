//! The small demo data set `neurohub up` loads into an empty database, so a newcomer has something to look at:
//! product models, two lines, a station per process, two operators, and two lots — one in progress with a
//! finished unit, a failed unit and a unit at a station, one just created. Units move through the real flow code
//! (`flow::start` / `flow::complete`), so the demo obeys every rule the API does and fills the audit log.

use neurohub_core::auth::password::{generate_password, hash_password};
use neurohub_core::auth::{AuthUser, Role};
use neurohub_core::context::{self, RequestContext};
use neurohub_core::ApiError;
use serde_json::json;
use sqlx::PgPool;

use crate::flow::{self, CompleteProcess, StartProcess, UnitRef};
use crate::lots::{self, NewLot};

fn ctx(user_id: Option<i64>) -> RequestContext {
    RequestContext {
        user_id,
        client_ip: None,
        request_id: Some("demo-seed".into()),
        workspace_id: None,
    }
}

/// Load the demo data unless the database already has production data. Returns a one-line summary when loaded.
/// The demo lots' production dates are today in `plant_time_zone`.
pub async fn seed_if_empty(
    pool: &PgPool,
    plant_time_zone: &str,
) -> Result<Option<String>, ApiError> {
    let has_data: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM product_models) OR EXISTS (SELECT 1 FROM lots) \
         OR EXISTS (SELECT 1 FROM production_lines)",
    )
    .fetch_one(pool)
    .await?;
    if has_data {
        return Ok(None);
    }
    let mut tx = context::begin(pool, &ctx(None)).await?;
    sqlx::query(
        "INSERT INTO product_models (model_code, model_name, category, specifications) VALUES \
         ('PSA', 'NeuroHub PSA sensor array', 'SENSOR', '{\"channels\": 16, \"voltage\": \"5V\"}'), \
         ('PSB', 'NeuroHub PSB sensor bridge', 'SENSOR', '{\"channels\": 8, \"voltage\": \"3.3V\"}'), \
         ('RBT', 'NeuroHub robot arm controller', 'CONTROLLER', '{\"axes\": 6}')",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO production_lines (country_code, line_code, name) VALUES \
         ('KR', '01', 'Pyeongtaek line 1'), ('KR', '02', 'Pyeongtaek line 2')",
    )
    .execute(&mut *tx)
    .await?;
    // One station per process on line 1, named after the process.
    let stations = sqlx::query(
        "INSERT INTO equipment (equipment_code, name, equipment_type, process_id, production_line_id, status) \
         SELECT 'EQ-KR01-' || lpad(p.process_number::text, 2, '0'), p.process_name_en || ' station', \
                'STATION', p.id, l.id, $1 \
         FROM processes p CROSS JOIN production_lines l WHERE l.country_code = 'KR' AND l.line_code = '01'",
    )
    .bind(crate::equipment::EquipmentStatus::Available)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // Operators get random passwords nobody knows: an admin sets real ones (PATCH /users/{id}) before use.
    let hash = hash_password(&generate_password()).map_err(ApiError::internal)?;
    let operators: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO users (username, full_name, password_hash, role, department) VALUES \
         ('kim.operator', 'Kim Min-jun', $1, 'OPERATOR', 'Assembly'), \
         ('lee.operator', 'Lee Seo-yeon', $1, 'OPERATOR', 'Inspection') RETURNING id, username",
    )
    .bind(&hash)
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM product_models ORDER BY id")
        .fetch_all(&mut *tx)
        .await?;
    let lines: Vec<i64> = sqlx::query_scalar("SELECT id FROM production_lines ORDER BY id")
        .fetch_all(&mut *tx)
        .await?;
    let in_progress =
        lots::create_lot(&mut tx, &new_lot(ids[0], lines[0], 5)?, plant_time_zone).await?;
    let created =
        lots::create_lot(&mut tx, &new_lot(ids[1], lines[1], 3)?, plant_time_zone).await?;
    tx.commit().await?;

    let kim = operator(&operators[0]);
    let lee = operator(&operators[1]);
    let wip = |n: u16| format!("WIP-{}-{n:03}", in_progress.lot_number);
    // Unit 001: all eight processes (serial assigned at 7), so its trace is complete.
    for p in 1..=7 {
        step(
            pool,
            if p < 4 { &kim } else { &lee },
            p,
            json!({"wip_id": wip(1)}),
            json!({"result": "PASS"}),
        )
        .await?;
    }
    let serial = format!("{}001", in_progress.lot_number);
    step(
        pool,
        &lee,
        8,
        json!({"serial_number": serial}),
        json!({"result": "PASS"}),
    )
    .await?;
    // Unit 002: passes 1-3, fails sensor inspection's successor with a defect, waiting for rework.
    for p in 1..=3 {
        step(
            pool,
            &kim,
            p,
            json!({"wip_id": wip(2)}),
            json!({"result": "PASS"}),
        )
        .await?;
    }
    let fail = json!({"result": "FAIL", "defects": [
        {"code": "FW-CRC", "description": "firmware image checksum mismatch", "severity": "MAJOR"}]});
    step(pool, &lee, 4, json!({"wip_id": wip(2)}), fail).await?;
    // Unit 003: laser marked, now open at LMA assembly.
    step(
        pool,
        &kim,
        1,
        json!({"wip_id": wip(3)}),
        json!({"result": "PASS"}),
    )
    .await?;
    start(pool, &kim, 2, json!({"wip_id": wip(3)})).await?;

    Ok(Some(format!(
        "{} product models, {} production lines, {stations} stations, {} operators, lots {} (in progress) and {} (created)",
        ids.len(),
        lines.len(),
        operators.len(),
        in_progress.lot_number,
        created.lot_number
    )))
}

fn new_lot(model: i64, line: i64, quantity: i32) -> Result<NewLot, ApiError> {
    serde_json::from_value(
        json!({"product_model_id": model, "production_line_id": line, "target_quantity": quantity}),
    )
    .map_err(ApiError::internal)
}

fn operator((id, username): &(i64, String)) -> AuthUser {
    AuthUser {
        id: *id,
        username: username.clone(),
        role: Role::Operator,
        ctx: ctx(Some(*id)),
    }
}

/// Start a process for a unit on the line-1 station of that process, in its own audited transaction.
async fn start(
    pool: &PgPool,
    who: &AuthUser,
    process: i32,
    unit: serde_json::Value,
) -> Result<i64, ApiError> {
    let equipment: i64 = sqlx::query_scalar(
        "SELECT e.id FROM equipment e JOIN processes p ON p.id = e.process_id WHERE p.process_number = $1 \
         ORDER BY e.id LIMIT 1",
    )
    .bind(process)
    .fetch_one(pool)
    .await?;
    let body: StartProcess = serde_json::from_value(
        json!({"process_number": process, "unit": unit, "equipment_id": equipment}),
    )
    .map_err(ApiError::internal)?;
    let unit_ref: UnitRef = body.validate()?;
    let mut tx = context::begin(pool, &who.ctx).await?;
    let record = flow::start(&mut tx, who, &body, &unit_ref).await?;
    tx.commit().await?;
    Ok(record.id)
}

async fn step(
    pool: &PgPool,
    who: &AuthUser,
    process: i32,
    unit: serde_json::Value,
    completion: serde_json::Value,
) -> Result<(), ApiError> {
    let id = start(pool, who, process, unit).await?;
    // In-range readings: the midpoint of every criterion of the process.
    let measurements: Option<serde_json::Value> = sqlx::query_scalar(
        "SELECT jsonb_object_agg(c.key, ((c.value->>'min')::numeric + (c.value->>'max')::numeric) / 2) \
         FROM processes p, jsonb_each(p.quality_criteria) c WHERE p.process_number = $1",
    )
    .bind(process)
    .fetch_one(pool)
    .await?;
    let mut completion = completion;
    if let Some(m) = measurements {
        completion["measurements"] = m;
    }
    let body: CompleteProcess = serde_json::from_value(completion).map_err(ApiError::internal)?;
    let mut tx = context::begin(pool, &who.ctx).await?;
    flow::complete(&mut tx, who, id, &body, 3).await?;
    tx.commit().await?;
    Ok(())
}
