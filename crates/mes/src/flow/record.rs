//! A process record as the API answers it (one statement with its joins), and the two writes of a record:
//! its start (INSERT) and its completion (UPDATE), each returning the joined record.

use neurohub_core::rawjson::RawJson;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::request::Defect;
use super::rules::CompletionValues;
use crate::state::{DataLevel, ProcessResult};

/// A process record with the names a station shows (one statement: joins, no per-row lookups).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct ProcessRecord {
    pub id: i64,
    pub lot_id: i64,
    pub lot_number: String,
    pub data_level: DataLevel,
    /// Database id of the WIP item (also set on SERIAL-level records: the originating WIP item).
    pub wip_id: Option<i64>,
    /// The WIP item's printed id, e.g. `WIP-KR01PSA251101-001`.
    pub wip_code: Option<String>,
    pub serial_id: Option<i64>,
    pub serial_number: Option<String>,
    pub process_id: i64,
    pub process_number: i32,
    pub process_code: String,
    pub operator_id: i64,
    pub operator_username: String,
    pub equipment_id: Option<i64>,
    pub equipment_code: Option<String>,
    /// NULL while the record is open.
    pub result: Option<ProcessResult>,
    /// Passed through as PostgreSQL stores it (no `Value` tree per row: see `neurohub_core::rawjson`).
    #[schema(value_type = Option<Object>)]
    pub measurements: Option<RawJson>,
    #[schema(value_type = Option<Vec<Defect>>)]
    pub defects: Option<RawJson>,
    #[schema(value_type = Option<Object>)]
    pub criteria_check: Option<RawJson>,
    pub criteria_passed: Option<bool>,
    /// 1 for the first record of this unit (or lot, for LOT level) at this process, 2 after a rework, ...
    pub attempt: i32,
    pub notes: Option<String>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub completed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub duration_seconds: Option<i32>,
}

/// Columns of [`ProcessRecord`] over `pd` (a process_data row or CTE) and [`RECORD_JOINS`].
pub const RECORD_COLUMNS: &str = "pd.id, pd.lot_id, l.lot_number, pd.data_level, pd.wip_id, w.wip_id AS wip_code, \
     pd.serial_id, s.serial_number, pd.process_id, p.process_number, p.process_code, pd.operator_id, \
     u.username AS operator_username, pd.equipment_id, e.equipment_code, pd.result, pd.measurements, pd.defects, \
     pd.criteria_check, pd.criteria_passed, pd.attempt, pd.notes, pd.started_at, pd.completed_at, pd.duration_seconds";

pub const RECORD_JOINS: &str = "JOIN lots l ON l.id = pd.lot_id \
     JOIN processes p ON p.id = pd.process_id \
     JOIN users u ON u.id = pd.operator_id \
     LEFT JOIN wip_items w ON w.id = pd.wip_id \
     LEFT JOIN serials s ON s.id = pd.serial_id \
     LEFT JOIN equipment e ON e.id = pd.equipment_id";

/// The columns of a new (open) record; `started_at` is the server's `now()`.
pub(super) struct NewRecord<'a> {
    pub lot_id: i64,
    pub wip_pk: Option<i64>,
    pub serial_pk: Option<i64>,
    pub process_id: i64,
    pub operator_id: i64,
    pub equipment_id: Option<i64>,
    pub level: DataLevel,
    pub attempt: i32,
    pub notes: &'a Option<String>,
}

pub(super) async fn insert_record(
    conn: &mut PgConnection,
    new: NewRecord<'_>,
) -> Result<ProcessRecord, sqlx::Error> {
    let sql = format!(
        "WITH pd AS (INSERT INTO process_data (lot_id, wip_id, serial_id, process_id, operator_id, equipment_id, \
         data_level, attempt, notes, started_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now()) RETURNING *) \
         SELECT {RECORD_COLUMNS} FROM pd {RECORD_JOINS}"
    );
    sqlx::query_as::<_, ProcessRecord>(&sql)
        .bind(new.lot_id)
        .bind(new.wip_pk)
        .bind(new.serial_pk)
        .bind(new.process_id)
        .bind(new.operator_id)
        .bind(new.equipment_id)
        .bind(new.level)
        .bind(new.attempt)
        .bind(new.notes)
        .fetch_one(conn)
        .await
}

pub(super) async fn update_record(
    conn: &mut PgConnection,
    id: i64,
    result: ProcessResult,
    values: &CompletionValues,
    notes: &Option<String>,
) -> Result<ProcessRecord, sqlx::Error> {
    let sql = format!(
        "WITH pd AS (UPDATE process_data SET result = $2, measurements = $3, defects = $4, criteria_check = $5, \
         criteria_passed = $6, notes = COALESCE($7, notes), completed_at = now() WHERE id = $1 RETURNING *) \
         SELECT {RECORD_COLUMNS} FROM pd {RECORD_JOINS}"
    );
    sqlx::query_as::<_, ProcessRecord>(&sql)
        .bind(id)
        .bind(result)
        .bind(&values.measurements)
        .bind(&values.defects)
        .bind(&values.criteria.check)
        .bind(values.criteria.passed)
        .bind(notes)
        .fetch_one(conn)
        .await
}
