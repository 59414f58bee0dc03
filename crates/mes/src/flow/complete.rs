//! POST /process-data/{id}/complete: close an open record with its result and apply the result to the unit
//! (advance, convert into a serial, complete, fail, re-open for rework) and to the lot.

use crate::policy::SUPERVISE;
use neurohub_core::auth::AuthUser;
use neurohub_core::{ApiError, ApiResult};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::disposition::rework_or_scrap;
use super::lot::{check_lot_active, lock_lot_by_id, lot_to_in_progress, LotState};
use super::record::{update_record, ProcessRecord};
use super::request::CompleteProcess;
use super::route::{ProcessInfo, Route};
use super::rules::completion_values;
use super::unit::{lock_unit_ids, set_unit_status, LockedUnit, SerialRow, StatusChange, UnitState};
use crate::numbers::SerialNumber;
use crate::state::{DataLevel, ProcessResult, SerialStatus, UnitMove, WipStatus};
use neurohub_core::states::StateMachine;

/// Answer of a completion: the record, plus what it did to the unit and the lot.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Completion {
    #[serde(flatten)]
    pub record: ProcessRecord,
    /// The unit after the completion (NULL for LOT-level records).
    pub unit: Option<UnitState>,
    pub lot: LotState,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct RecordHead {
    lot_id: i64,
    wip_id: Option<i64>,
    serial_id: Option<i64>,
    process_id: i64,
    operator_id: i64,
    data_level: DataLevel,
}

/// Complete an open record and apply its consequences to the unit and the lot.
pub async fn complete(
    conn: &mut PgConnection,
    user: &AuthUser,
    id: i64,
    body: &CompleteProcess,
    max_rework: i32,
) -> ApiResult<Completion> {
    let head = sqlx::query_as::<_, RecordHead>(
        "SELECT lot_id, wip_id, serial_id, process_id, operator_id, data_level FROM process_data WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("process record"))?;
    if head.operator_id != user.id && !SUPERVISE.contains(&user.role) {
        return Err(ApiError::forbidden(
            "only the operator who started this record, a MANAGER or an ADMIN may complete it",
        ));
    }
    let mut unit = match head.data_level {
        DataLevel::Lot => None,
        DataLevel::Wip => Some(lock_unit_ids(&mut *conn, head.lot_id, head.wip_id, None).await?),
        DataLevel::Serial => {
            Some(lock_unit_ids(&mut *conn, head.lot_id, None, head.serial_id).await?)
        }
    };
    let mut lot = match &unit {
        Some(u) => u.lot.clone(),
        None => lock_lot_by_id(&mut *conn, head.lot_id).await?,
    };
    let completed: Option<bool> = sqlx::query_scalar(
        "SELECT completed_at IS NOT NULL FROM process_data WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    match completed {
        None => return Err(ApiError::not_found("process record")),
        Some(true) => {
            return Err(ApiError::conflict(
                "PROCESS_ALREADY_COMPLETED",
                format!("process record {id} is already completed"),
            ))
        }
        Some(false) => {}
    }
    check_lot_active(&lot)?;
    if let Some(u) = &unit {
        // a WIP-level record whose WIP item got converted meanwhile cannot happen (conversion is its own PASS)
        if head.data_level == DataLevel::Wip && u.serial.is_some() {
            return Err(ApiError::conflict(
                "UNIT_CONVERTED",
                "the WIP item was converted to a serial",
            ));
        }
        u.check_workable()?;
    }
    let route = Route::load(&mut *conn).await?;
    let process = route
        .by_id(head.process_id)
        .ok_or_else(|| ApiError::not_found("process"))?
        .clone();
    let values = completion_values(&process, body.result, &body.measurements, &body.defects)?;
    let record = update_record(&mut *conn, id, body.result, &values, &body.notes).await?;
    lot_to_in_progress(&mut *conn, &mut lot).await?;

    let unit_state = match unit.as_mut() {
        None => None,
        Some(u) => {
            apply_result(&mut *conn, u, &route, &process, body.result, max_rework).await?;
            Some(u.state())
        }
    };
    if unit_state
        .as_ref()
        .is_some_and(|s| s.status == "COMPLETED" || s.status == "SCRAPPED")
    {
        lot.try_complete(&mut *conn).await?;
    }
    Ok(Completion {
        record,
        unit: unit_state,
        lot: lot.state(),
    })
}

/// PASS / FAIL / REWORK → unit status, rework count, conversion into a serial, completion.
async fn apply_result(
    conn: &mut PgConnection,
    unit: &mut LockedUnit,
    route: &Route,
    process: &ProcessInfo,
    result: ProcessResult,
    max_rework: i32,
) -> ApiResult<()> {
    match result {
        ProcessResult::Pass => {
            let is_last = route
                .last_active_number()
                .is_none_or(|n| process.process_number >= n);
            if unit.serial.is_none() {
                let wip = unit
                    .wip
                    .clone()
                    .ok_or_else(|| ApiError::internal("WIP-level unit without a WIP item"))?;
                let converts = route
                    .conversion_number()
                    .is_none_or(|n| process.process_number >= n);
                if converts {
                    // the lot number was decoded (and so validated) when the lot was locked: no re-parse
                    let seq = u16::try_from(wip.sequence_in_lot).map_err(ApiError::internal)?;
                    let serial_number =
                        SerialNumber::new(&unit.lot.lot_number, seq).map_err(ApiError::internal)?;
                    let status = if is_last {
                        SerialStatus::Completed
                    } else {
                        SerialStatus::InProgress
                    };
                    let serial_id: i64 = sqlx::query_scalar(
                        "INSERT INTO serials (serial_number, lot_id, sequence_in_lot, status, rework_count) \
                         VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    )
                    .bind(&serial_number)
                    .bind(unit.lot.id)
                    .bind(wip.sequence_in_lot)
                    .bind(status)
                    .bind(wip.rework_count)
                    .fetch_one(&mut *conn)
                    .await?;
                    let converted = wip.status.transition(WipStatus::Converted)?;
                    sqlx::query("UPDATE wip_items SET serial_id = $2, status = $4, current_process_id = $3 WHERE id = $1")
                        .bind(wip.id)
                        .bind(serial_id)
                        .bind(process.id)
                        .bind(converted)
                        .execute(&mut *conn)
                        .await?;
                    if let Some(w) = unit.wip.as_mut() {
                        w.status = converted;
                        w.serial_id = Some(serial_id);
                    }
                    unit.serial = Some(SerialRow {
                        id: serial_id,
                        serial_number,
                        status,
                        rework_count: wip.rework_count,
                        scrap_reason: None,
                    });
                }
            } else if let Some(s) = unit.serial.as_mut().filter(|_| is_last) {
                let completed = s.status.transition(SerialStatus::Completed)?;
                sqlx::query("UPDATE serials SET status = $2 WHERE id = $1")
                    .bind(s.id)
                    .bind(completed)
                    .execute(&mut *conn)
                    .await?;
                s.status = completed;
            }
        }
        ProcessResult::Fail => {
            set_unit_status(conn, unit, UnitMove::Failed, StatusChange::default()).await?
        }
        ProcessResult::Rework => {
            rework_or_scrap(conn, unit, max_rework, Some(&process.process_code)).await?;
        }
    }
    Ok(())
}
