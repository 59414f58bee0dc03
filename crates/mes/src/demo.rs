//! The small demo data set `neurohub up` loads into an empty database, so a newcomer has something to look at
//! and walk through: product models, two lines, equipment for every process and a lot ready to start.

use neurohub_core::audit::{self, AuditContext};
use neurohub_core::ApiError;
use sqlx::PgPool;

/// Load the demo data unless the database already has production data. Returns a one-line summary when loaded.
pub async fn seed_if_empty(pool: &PgPool) -> Result<Option<String>, ApiError> {
    let has_data: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM product_models) OR EXISTS (SELECT 1 FROM lots) \
         OR EXISTS (SELECT 1 FROM production_lines)",
    )
    .fetch_one(pool)
    .await?;
    if has_data {
        return Ok(None);
    }
    let mut tx = audit::begin(pool, &AuditContext { request_id: Some("demo-seed".into()), ..Default::default() }).await?;
    let models = sqlx::query(
        "INSERT INTO product_models (model_code, model_name, category, specifications) VALUES \
         ('PSA', 'NeuroHub PSA sensor array', 'SENSOR', '{\"channels\": 16, \"voltage\": \"5V\"}'), \
         ('PSB', 'NeuroHub PSB sensor bridge', 'SENSOR', '{\"channels\": 8, \"voltage\": \"3.3V\"}'), \
         ('RBT', 'NeuroHub robot arm controller', 'CONTROLLER', '{\"axes\": 6}')",
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let lines = sqlx::query(
        "INSERT INTO production_lines (country_code, line_code, name) VALUES \
         ('KR', '01', 'Pyeongtaek line 1'), ('KR', '02', 'Pyeongtaek line 2')",
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // One station per process on line 1, named after the process.
    let equipment = sqlx::query(
        "INSERT INTO equipment (equipment_code, name, equipment_type, process_id, production_line_id, status) \
         SELECT 'EQ-KR01-' || lpad(p.process_number::text, 2, '0'), p.process_name_en || ' station', \
                'STATION', p.id, l.id, 'AVAILABLE' \
         FROM processes p CROSS JOIN production_lines l WHERE l.country_code = 'KR' AND l.line_code = '01'",
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(Some(format!("{models} product models, {lines} production lines, {equipment} stations")))
}
