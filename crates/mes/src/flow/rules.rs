//! The rules that need the unit's history or the database: the sequence rule for a start, the equipment a
//! station uses, and the values a completion stores (quality criteria applied to its result).

use crate::equipment::EquipmentStatus;
use neurohub_core::{ApiError, ApiResult};
use serde_json::{Map, Value};
use sqlx::PgConnection;

use super::criteria::{check_criteria, CriteriaOutcome};
use super::lot::LockedLot;
use super::request::Defect;
use super::route::{ProcessInfo, Route};
use super::unit::{passed_set, HistoryRow};
use crate::state::ProcessResult;

/// The sequence rule for starting `process` given the unit's history.
pub fn check_can_start(
    route: &Route,
    process: &ProcessInfo,
    history: &[HistoryRow],
) -> Result<i32, ApiError> {
    if !process.is_active {
        return Err(ApiError::conflict(
            "PROCESS_INACTIVE",
            format!(
                "process {} {} is not active",
                process.process_number, process.process_code
            ),
        ));
    }
    if history
        .iter()
        .any(|h| h.is_open && h.process_id == process.id)
    {
        return Err(ApiError::conflict(
            "PROCESS_ALREADY_OPEN",
            format!(
                "the unit already has an open record for process {} {}",
                process.process_number, process.process_code
            ),
        )
        .with_field("process_id", "already open for this unit"));
    }
    let passed = passed_set(history);
    if passed.contains(&process.id) {
        return Err(ApiError::conflict(
            "PROCESS_ALREADY_PASSED",
            format!(
                "the unit already passed process {} {}",
                process.process_number, process.process_code
            ),
        )
        .with_field("process_id", "already passed"));
    }
    let missing = route.missing_before(process.process_number, &passed);
    if let Some(first) = missing.first() {
        let mut err = ApiError::conflict(
            "PROCESS_OUT_OF_SEQUENCE",
            format!(
                "process {} {} needs a PASS at process {} {} first",
                process.process_number,
                process.process_code,
                first.process_number,
                first.process_code
            ),
        );
        for m in &missing {
            err = err.with_field(
                "process_id",
                format!(
                    "no PASS yet at process {} {}",
                    m.process_number, m.process_code
                ),
            );
        }
        return Err(err);
    }
    let attempts = history
        .iter()
        .filter(|h| h.process_id == process.id)
        .count() as i32;
    Ok(attempts + 1)
}

pub(super) async fn check_equipment(
    conn: &mut PgConnection,
    equipment_id: Option<i64>,
    process: &ProcessInfo,
    lot: &LockedLot,
) -> ApiResult<()> {
    let Some(id) = equipment_id else {
        return Ok(());
    };
    type EquipmentRow = (String, EquipmentStatus, bool, Option<i64>, Option<i64>);
    let row: Option<EquipmentRow> = sqlx::query_as(
        "SELECT equipment_code, status, is_active, process_id, production_line_id FROM equipment WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    let Some((code, status, active, proc_id, line_id)) = row else {
        return Err(
            ApiError::unprocessable("REFERENCE_NOT_FOUND", "equipment not found")
                .with_field("equipment_id", "does not exist"),
        );
    };
    if !active || status == EquipmentStatus::OutOfService {
        return Err(ApiError::conflict(
            "EQUIPMENT_UNAVAILABLE",
            format!(
                "equipment {code} is {}",
                if active { "OUT_OF_SERVICE" } else { "inactive" }
            ),
        )
        .with_field("equipment_id", "not usable"));
    }
    if proc_id.is_some_and(|p| p != process.id) {
        return Err(ApiError::conflict(
            "EQUIPMENT_PROCESS_MISMATCH",
            format!(
                "equipment {code} belongs to another process than {}",
                process.process_code
            ),
        )
        .with_field("equipment_id", "belongs to another process"));
    }
    if let (Some(el), Some(ll)) = (line_id, lot.production_line_id) {
        if el != ll {
            return Err(ApiError::conflict(
                "EQUIPMENT_LINE_MISMATCH",
                format!(
                    "equipment {code} belongs to another production line than lot {}",
                    lot.lot_number
                ),
            )
            .with_field("equipment_id", "belongs to another production line"));
        }
    }
    Ok(())
}

/// The measurements / defects / criteria of a completion, validated against the process.
pub(super) struct CompletionValues {
    pub measurements: Option<Value>,
    pub defects: Option<Value>,
    pub criteria: CriteriaOutcome,
}

pub(super) fn completion_values(
    process: &ProcessInfo,
    result: ProcessResult,
    measurements: &Option<Map<String, Value>>,
    defects: &Option<Vec<Defect>>,
) -> ApiResult<CompletionValues> {
    let criteria = check_criteria(&process.quality_criteria, measurements.as_ref());
    if result == ProcessResult::Pass {
        if !criteria.missing.is_empty() {
            return Err(ApiError::validation_many(criteria.missing.clone()));
        }
        if !criteria.violations.is_empty() {
            let mut err = ApiError::unprocessable(
                "CRITERIA_NOT_MET",
                format!(
                    "measurements violate the quality criteria of {}; record a FAIL instead of a PASS",
                    process.process_code
                ),
            );
            err.errors = criteria.violations.clone();
            return Err(err);
        }
    }
    let defects = defects.as_ref().filter(|d| !d.is_empty()).map(|d| {
        Value::Array(
            d.iter()
                .map(|x| {
                    serde_json::json!({"code": x.code.trim(), "description": x.description.trim(), "severity": x.severity})
                })
                .collect(),
        )
    });
    Ok(CompletionValues {
        measurements: measurements.clone().map(Value::Object),
        defects,
        criteria,
    })
}
