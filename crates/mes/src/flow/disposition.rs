//! Disposition of FAILED units: rework (re-open the failed process, or scrap past the rework limit) and scrap.

use neurohub_core::{ApiError, ApiResult};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::lot::{check_lot_active, LotState};
use super::unit::{
    lock_unit, set_unit_status, LockedUnit, StatusChange, UnitKind, UnitRef, UnitState,
    UNIT_RECORDS,
};
use crate::numbers::{SerialNumber, WipId};
use crate::state::{SerialStatus, UnitMove, UnitStatus, WipStatus};
use neurohub_core::states::StateMachine;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Disposition {
    /// The failed process is open again for the unit (rework_count + 1).
    Rework,
    /// The unit is scrapped.
    Scrapped,
}

/// Answer of POST /wip-items/{id}/rework, /serials/{id}/rework and the scrap endpoints.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DispositionResult {
    pub action: Disposition,
    pub unit: UnitState,
    pub lot: LotState,
    /// The process the unit will redo (REWORK), if known.
    pub reopened_process_id: Option<i64>,
}

/// `{id}` of the unit endpoints: the database id (digits) or the printed WIP id / serial number.
pub(super) fn path_ref(kind: UnitKind, raw: &str) -> ApiResult<UnitRef> {
    let raw = raw.trim();
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        let id: i64 = raw
            .parse()
            .map_err(|_| ApiError::bad_request("INVALID_PATH", "id is out of range"))?;
        return Ok(match kind {
            UnitKind::Wip => UnitRef::WipItemId(id),
            UnitKind::Serial => UnitRef::SerialId(id),
        });
    }
    match kind {
        UnitKind::Wip => WipId::parse(raw)
            .map(|_| UnitRef::WipCode(raw.to_string()))
            .map_err(|e| {
                ApiError::bad_request("INVALID_PATH", format!("not a WIP item id or WIP id: {e}"))
            }),
        UnitKind::Serial => SerialNumber::parse(raw)
            .map(|_| UnitRef::SerialNumber(raw.to_string()))
            .map_err(|e| {
                ApiError::bad_request(
                    "INVALID_PATH",
                    format!("not a serial id or serial number: {e}"),
                )
            }),
    }
}

/// Lock the unit named by a path and check it is that kind of unit (a converted WIP item is refused here: its
/// serial is the unit now).
async fn lock_path_unit(
    conn: &mut PgConnection,
    kind: UnitKind,
    raw: &str,
) -> ApiResult<LockedUnit> {
    let r = path_ref(kind, raw)?;
    let unit = lock_unit(conn, &r).await?;
    if kind == UnitKind::Wip && unit.serial.is_some() {
        return Err(ApiError::conflict(
            "UNIT_CONVERTED",
            format!(
                "{} was converted to serial {}; use /serials",
                unit.wip
                    .as_ref()
                    .map_or(String::new(), |w| w.wip_id.to_string()),
                unit.serial
                    .as_ref()
                    .map_or(String::new(), |s| s.serial_number.to_string())
            ),
        ));
    }
    Ok(unit)
}

/// REWORK of a unit at process `at`: `rework_count + 1` and IN_PROGRESS (the process is its next step again), or
/// SCRAPPED with the reason `rework limit N exceeded at <PROCESS_CODE>` when that would exceed `max_rework` (the
/// count stays at the maximum).
pub(super) async fn rework_or_scrap(
    conn: &mut PgConnection,
    unit: &mut LockedUnit,
    max_rework: i32,
    at: Option<&str>,
) -> ApiResult<Disposition> {
    let next = unit.rework_count() + 1;
    if next > max_rework {
        let reason = match at {
            Some(code) => format!("rework limit {max_rework} exceeded at {code}"),
            None => format!("rework limit {max_rework} exceeded"),
        };
        let change = StatusChange {
            scrap_reason: Some(&reason),
            ..Default::default()
        };
        set_unit_status(conn, unit, UnitMove::Scrapped, change).await?;
        Ok(Disposition::Scrapped)
    } else {
        let change = StatusChange {
            rework: Some(next),
            ..Default::default()
        };
        set_unit_status(conn, unit, UnitMove::InProgress, change).await?;
        Ok(Disposition::Rework)
    }
}

/// The answer of a disposition; a scrap may complete the lot (under its lock, taken with the unit).
async fn finish(
    conn: &mut PgConnection,
    unit: LockedUnit,
    action: Disposition,
    reopened_process_id: Option<i64>,
) -> ApiResult<DispositionResult> {
    let mut lot = unit.lot.clone();
    if action == Disposition::Scrapped {
        lot.try_complete(conn).await?;
    }
    Ok(DispositionResult {
        action,
        unit: unit.state(),
        lot: lot.state(),
        reopened_process_id,
    })
}

pub async fn rework(
    conn: &mut PgConnection,
    kind: UnitKind,
    raw: &str,
    max_rework: i32,
) -> ApiResult<DispositionResult> {
    let mut unit = lock_path_unit(&mut *conn, kind, raw).await?;
    check_lot_active(&unit.lot)?;
    match unit.status() {
        Some(UnitStatus::Wip(WipStatus::Failed) | UnitStatus::Serial(SerialStatus::Failed)) => {}
        Some(
            UnitStatus::Wip(WipStatus::Scrapped)
            | UnitStatus::Serial(SerialStatus::Scrapped | SerialStatus::Completed),
        ) => unit.check_workable()?,
        _ => {
            let other = unit.status_str();
            return Err(ApiError::conflict(
                "UNIT_NOT_FAILED",
                format!(
                    "{} is {other}; only a FAILED unit can be sent to rework",
                    unit.name()
                ),
            ));
        }
    }
    // the process to redo: the failed one (the unit's last completed record)
    let failed_at: Option<(i64, String)> = sqlx::query_as(&format!(
        "SELECT pd.process_id, p.process_code FROM process_data pd JOIN processes p ON p.id = pd.process_id \
         WHERE {UNIT_RECORDS} AND pd.completed_at IS NOT NULL ORDER BY pd.completed_at DESC, pd.id DESC LIMIT 1"
    ))
    .bind(unit.wip_pk())
    .bind(unit.serial_pk())
    .fetch_optional(&mut *conn)
    .await?;
    let code = failed_at.as_ref().map(|(_, code)| code.as_str());
    let action = rework_or_scrap(&mut *conn, &mut unit, max_rework, code).await?;
    let reopened = failed_at
        .map(|(id, _)| id)
        .filter(|_| action == Disposition::Rework);
    finish(conn, unit, action, reopened).await
}

/// Scrap a unit that is CREATED (damaged before it started), IN_PROGRESS or FAILED, keeping `reason`.
pub async fn scrap(
    conn: &mut PgConnection,
    kind: UnitKind,
    raw: &str,
    reason: &str,
) -> ApiResult<DispositionResult> {
    let mut unit = lock_path_unit(&mut *conn, kind, raw).await?;
    check_lot_active(&unit.lot)?;
    // a unit can be scrapped from every state its machine leads to SCRAPPED from (not from SCRAPPED itself:
    // a second scrap is refused, not a no-op); final states get their specific 409
    if !unit.status().is_some_and(|s| match s {
        UnitStatus::Wip(w) => !w.is_final() && w.can_become(WipStatus::Scrapped),
        UnitStatus::Serial(s) => !s.is_final() && s.can_become(SerialStatus::Scrapped),
    }) {
        unit.check_workable()?;
    }
    // a cancelled start: open records of a scrapped unit are removed (the audit log keeps them)
    sqlx::query(&format!(
        "DELETE FROM process_data WHERE {UNIT_RECORDS} AND completed_at IS NULL"
    ))
    .bind(unit.wip_pk())
    .bind(unit.serial_pk())
    .execute(&mut *conn)
    .await?;
    let change = StatusChange {
        scrap_reason: Some(reason),
        ..Default::default()
    };
    set_unit_status(&mut *conn, &mut unit, UnitMove::Scrapped, change).await?;
    finish(conn, unit, Disposition::Scrapped, None).await
}
