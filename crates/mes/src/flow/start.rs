//! POST /process-data/start: open a record for a unit (WIP / SERIAL level) or for a lot (LOT level).

use neurohub_core::auth::AuthUser;
use neurohub_core::{ApiError, ApiResult};
use sqlx::PgConnection;

use super::lot::{check_lot_active, lock_lot, lot_to_in_progress, LockedLot};
use super::record::{insert_record, NewRecord, ProcessRecord};
use super::request::StartProcess;
use super::route::{ProcessInfo, Route};
use super::rules::{check_can_start, check_equipment};
use super::unit::{lock_unit, unit_history, UnitKind, UnitRef};
use crate::state::{DataLevel, SerialStatus, WipStatus};
use neurohub_core::states::StateMachine;

/// Start a process for a unit (or a lot): the caller is the operator, started_at is now().
pub async fn start(
    conn: &mut PgConnection,
    user: &AuthUser,
    body: &StartProcess,
    unit_ref: &UnitRef,
) -> ApiResult<ProcessRecord> {
    let route = Route::load(&mut *conn).await?;
    let process = route.pick(body.process_id, body.process_number)?.clone();
    if matches!(unit_ref, UnitRef::LotId(_) | UnitRef::LotNumber(_)) {
        return start_lot(conn, user, body, unit_ref, &process).await;
    }

    let mut unit = lock_unit(&mut *conn, unit_ref).await?;
    check_lot_active(&unit.lot)?;
    unit.check_workable()?;
    let history = unit_history(&mut *conn, &unit).await?;
    let attempt = check_can_start(&route, &process, &history)?;
    check_equipment(&mut *conn, body.equipment_id, &process, &unit.lot).await?;
    let level = match unit.kind() {
        UnitKind::Wip => DataLevel::Wip,
        UnitKind::Serial => DataLevel::Serial,
    };
    let rec = insert_record(
        &mut *conn,
        NewRecord {
            lot_id: unit.lot.id,
            wip_pk: unit.wip_pk(),
            serial_pk: unit.serial_pk(),
            process_id: process.id,
            operator_id: user.id,
            equipment_id: body.equipment_id,
            level,
            attempt,
            notes: &body.notes,
        },
    )
    .await?;
    match (&unit.serial, &unit.wip) {
        (Some(s), _) if s.status != SerialStatus::InProgress => {
            let to = s.status.transition(SerialStatus::InProgress)?;
            sqlx::query("UPDATE serials SET status = $2 WHERE id = $1")
                .bind(s.id)
                .bind(to)
                .execute(&mut *conn)
                .await?;
        }
        (None, Some(w))
            if w.status != WipStatus::InProgress || w.current_process_id != Some(process.id) =>
        {
            let to = w.status.transition(WipStatus::InProgress)?;
            sqlx::query("UPDATE wip_items SET status = $3, current_process_id = $2 WHERE id = $1")
                .bind(w.id)
                .bind(process.id)
                .bind(to)
                .execute(&mut *conn)
                .await?;
        }
        _ => {}
    }
    lot_to_in_progress(&mut *conn, &mut unit.lot).await?;
    Ok(rec)
}

/// A LOT-level start: one open record per (lot, process); no sequence rule, no effect on units.
async fn start_lot(
    conn: &mut PgConnection,
    user: &AuthUser,
    body: &StartProcess,
    lot_ref: &UnitRef,
    process: &ProcessInfo,
) -> ApiResult<ProcessRecord> {
    let mut lot = lock_lot(&mut *conn, lot_ref).await?;
    check_lot_active(&lot)?;
    process.require_active()?;
    let (open, count) = lot_records(&mut *conn, &lot, process).await?;
    if open {
        return Err(ApiError::conflict(
            "PROCESS_ALREADY_OPEN",
            format!(
                "lot {} already has an open LOT-level record for {}",
                lot.lot_number, process.process_code
            ),
        )
        .with_field("process_id", "already open for this lot"));
    }
    check_equipment(&mut *conn, body.equipment_id, process, &lot).await?;
    let rec = insert_lot_record(
        &mut *conn,
        &lot,
        process,
        user,
        body.equipment_id,
        count,
        &body.notes,
    )
    .await?;
    lot_to_in_progress(&mut *conn, &mut lot).await?;
    Ok(rec)
}

/// Whether a LOT-level record of (lot, process) is open, and how many there are.
pub(super) async fn lot_records(
    conn: &mut PgConnection,
    lot: &LockedLot,
    process: &ProcessInfo,
) -> Result<(bool, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT COALESCE(bool_or(completed_at IS NULL), false), count(*) FROM process_data \
         WHERE lot_id = $1 AND process_id = $2 AND data_level = 'LOT'",
    )
    .bind(lot.id)
    .bind(process.id)
    .fetch_one(conn)
    .await
}

/// Insert a LOT-level record after `earlier` LOT-level records of (lot, process).
pub(super) async fn insert_lot_record(
    conn: &mut PgConnection,
    lot: &LockedLot,
    process: &ProcessInfo,
    user: &AuthUser,
    equipment_id: Option<i64>,
    earlier: i64,
    notes: &Option<String>,
) -> Result<ProcessRecord, sqlx::Error> {
    insert_record(
        conn,
        NewRecord {
            lot_id: lot.id,
            wip_pk: None,
            serial_pk: None,
            process_id: process.id,
            operator_id: user.id,
            equipment_id,
            level: DataLevel::Lot,
            attempt: earlier as i32 + 1,
            notes,
        },
    )
    .await
}
