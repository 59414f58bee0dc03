//! Units: how a request names one (`UnitSelector` → `UnitRef`), the locked rows of a unit (its lot, WIP item and
//! serial, always locked in that order), its history of records and its status updates.

use std::collections::HashSet;

use neurohub_core::{ApiError, ApiResult, FieldError};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::lot::{lock_lot_by_id, LockedLot};
use crate::numbers::{LotNumber, SerialNumber, WipId};
use crate::state::{ProcessResult, SerialStatus, UnitMove, UnitStatus, WipStatus};
use neurohub_core::states::StateMachine;

/// The WHERE condition of a unit's own records (WIP and SERIAL level): `$1` its WIP item, `$2` its serial.
pub(super) const UNIT_RECORDS: &str = "data_level <> 'LOT' AND (wip_id = $1 OR serial_id = $2)";

/// Which unit (or lot) a record is for: exactly one of these.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitSelector {
    /// WIP id as printed, e.g. `WIP-KR01PSA251101-001` (a converted WIP item resolves to its serial).
    pub wip_id: Option<String>,
    /// Serial number, e.g. `KR01PSA251101001`.
    pub serial_number: Option<String>,
    /// Lot number, for a LOT-level record.
    pub lot_number: Option<String>,
    /// Database id of a WIP item.
    pub wip_item_id: Option<i64>,
    /// Database id of a serial.
    pub serial_id: Option<i64>,
    /// Database id of a lot, for a LOT-level record.
    pub lot_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitRef {
    WipCode(String),
    WipItemId(i64),
    SerialNumber(String),
    SerialId(i64),
    LotNumber(String),
    LotId(i64),
}

impl UnitSelector {
    pub fn to_ref(&self) -> Result<UnitRef, FieldError> {
        let mut found = Vec::new();
        if let Some(v) = &self.wip_id {
            found.push(UnitRef::WipCode(v.trim().to_string()));
        }
        if let Some(v) = &self.serial_number {
            found.push(UnitRef::SerialNumber(v.trim().to_string()));
        }
        if let Some(v) = &self.lot_number {
            found.push(UnitRef::LotNumber(v.trim().to_string()));
        }
        if let Some(v) = self.wip_item_id {
            found.push(UnitRef::WipItemId(v));
        }
        if let Some(v) = self.serial_id {
            found.push(UnitRef::SerialId(v));
        }
        if let Some(v) = self.lot_id {
            found.push(UnitRef::LotId(v));
        }
        if found.len() != 1 {
            return Err(FieldError::new(
                "unit",
                "give exactly one of wip_id, serial_number, lot_number, wip_item_id, serial_id, lot_id",
            ));
        }
        let r = found.remove(0);
        let bad = match &r {
            UnitRef::WipCode(s) => WipId::parse(s)
                .err()
                .map(|e| ("unit.wip_id", e.to_string())),
            UnitRef::SerialNumber(s) => SerialNumber::parse(s)
                .err()
                .map(|e| ("unit.serial_number", e.to_string())),
            UnitRef::LotNumber(s) => LotNumber::parse(s)
                .err()
                .map(|e| ("unit.lot_number", e.to_string())),
            _ => None,
        };
        match bad {
            Some((field, msg)) => Err(FieldError::new(field, msg)),
            None => Ok(r),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UnitKind {
    Wip,
    Serial,
}

/// Where a unit stands after a write.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UnitState {
    pub kind: UnitKind,
    pub wip_item_id: Option<i64>,
    pub wip_id: Option<WipId>,
    pub serial_id: Option<i64>,
    pub serial_number: Option<SerialNumber>,
    /// WIP status (CREATED..SCRAPPED) for a WIP item, serial status for a serial.
    pub status: String,
    pub rework_count: i32,
    /// Why the unit was scrapped (NULL unless SCRAPPED): the scrap endpoint's reason, or
    /// `rework limit N exceeded at <PROCESS_CODE>`.
    pub scrap_reason: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WipRow {
    pub id: i64,
    pub wip_id: WipId,
    pub status: WipStatus,
    pub rework_count: i32,
    pub serial_id: Option<i64>,
    pub sequence_in_lot: i32,
    pub current_process_id: Option<i64>,
    pub scrap_reason: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SerialRow {
    pub id: i64,
    pub serial_number: SerialNumber,
    pub status: SerialStatus,
    pub rework_count: i32,
    pub scrap_reason: Option<String>,
}

/// A unit with its lot, all locked FOR UPDATE. `serial` is set once the WIP item is converted.
#[derive(Debug, Clone)]
pub struct LockedUnit {
    pub lot: LockedLot,
    pub wip: Option<WipRow>,
    pub serial: Option<SerialRow>,
}

impl LockedUnit {
    pub fn kind(&self) -> UnitKind {
        if self.serial.is_some() {
            UnitKind::Serial
        } else {
            UnitKind::Wip
        }
    }

    pub fn state(&self) -> UnitState {
        UnitState {
            kind: self.kind(),
            wip_item_id: self.wip.as_ref().map(|w| w.id),
            wip_id: self.wip.as_ref().map(|w| w.wip_id.clone()),
            serial_id: self.serial.as_ref().map(|s| s.id),
            serial_number: self.serial.as_ref().map(|s| s.serial_number.clone()),
            status: self.status_str().to_string(),
            rework_count: self.rework_count(),
            scrap_reason: match (&self.serial, &self.wip) {
                (Some(s), _) => s.scrap_reason.clone(),
                (None, Some(w)) => w.scrap_reason.clone(),
                (None, None) => None,
            },
        }
    }

    pub(super) fn status_str(&self) -> &'static str {
        self.status().map_or("UNKNOWN", UnitStatus::as_str)
    }

    /// The status of the unit's current row: its serial's, else its WIP item's.
    pub(super) fn status(&self) -> Option<UnitStatus> {
        match (&self.serial, &self.wip) {
            (Some(s), _) => Some(UnitStatus::Serial(s.status)),
            (None, Some(w)) => Some(UnitStatus::Wip(w.status)),
            (None, None) => None,
        }
    }

    pub fn rework_count(&self) -> i32 {
        match (&self.serial, &self.wip) {
            (Some(s), _) => s.rework_count,
            (None, Some(w)) => w.rework_count,
            (None, None) => 0,
        }
    }

    pub(super) fn wip_pk(&self) -> Option<i64> {
        self.wip.as_ref().map(|w| w.id)
    }

    pub(super) fn serial_pk(&self) -> Option<i64> {
        self.serial.as_ref().map(|s| s.id)
    }

    pub(super) fn name(&self) -> String {
        match (&self.serial, &self.wip) {
            (Some(s), _) => format!("serial {}", s.serial_number),
            (None, Some(w)) => format!("WIP item {}", w.wip_id),
            _ => "unit".into(),
        }
    }

    /// What a unit's status allows: only CREATED / IN_PROGRESS units may start or complete work.
    pub fn check_workable(&self) -> Result<(), ApiError> {
        use SerialStatus as S;
        use UnitStatus::{Serial, Wip};
        use WipStatus as W;
        let name = self.name();
        match self.status() {
            Some(Wip(W::Created | W::InProgress) | Serial(S::Created | S::InProgress)) => Ok(()),
            Some(Wip(W::Scrapped) | Serial(S::Scrapped)) => Err(ApiError::conflict(
                "UNIT_SCRAPPED",
                format!("{name} is scrapped"),
            )),
            Some(Serial(S::Completed)) => Err(ApiError::conflict(
                "UNIT_COMPLETED",
                format!("{name} is already completed"),
            )),
            Some(Wip(W::Failed) | Serial(S::Failed)) => Err(ApiError::conflict(
                "UNIT_FAILED",
                format!(
                    "{name} failed and must be dispositioned first (POST .../rework or .../scrap)"
                ),
            )),
            _ => Err(ApiError::conflict(
                "UNIT_CONVERTED",
                format!("{name} was converted to a serial; use the serial"),
            )),
        }
    }
}

const WIP_COLS: &str =
    "id, wip_id, status, rework_count, serial_id, sequence_in_lot, current_process_id, scrap_reason";
const SERIAL_COLS: &str = "id, serial_number, status, rework_count, scrap_reason";

/// Find a unit, then lock its lot, its WIP item and its serial in that order. A WIP item that is (or, while we
/// waited for the lot lock, became) converted is carried on by its serial.
pub async fn lock_unit(conn: &mut PgConnection, r: &UnitRef) -> ApiResult<LockedUnit> {
    let (sql, what) = match r {
        UnitRef::WipCode(_) => ("SELECT lot_id, id, serial_id FROM wip_items WHERE wip_id = $1", "WIP item"),
        UnitRef::WipItemId(_) => ("SELECT lot_id, id, serial_id FROM wip_items WHERE id = $1", "WIP item"),
        UnitRef::SerialNumber(_) => (
            "SELECT s.lot_id, w.id, s.id FROM serials s LEFT JOIN wip_items w ON w.serial_id = s.id WHERE s.serial_number = $1",
            "serial",
        ),
        UnitRef::SerialId(_) => (
            "SELECT s.lot_id, w.id, s.id FROM serials s LEFT JOIN wip_items w ON w.serial_id = s.id WHERE s.id = $1",
            "serial",
        ),
        UnitRef::LotId(_) | UnitRef::LotNumber(_) => {
            return Err(ApiError::validation("unit", "a WIP item or a serial is expected here"))
        }
    };
    let q = sqlx::query_as::<_, (i64, Option<i64>, Option<i64>)>(sql);
    let q = match r {
        UnitRef::WipCode(s) | UnitRef::SerialNumber(s) => q.bind(s.clone()),
        UnitRef::WipItemId(i) | UnitRef::SerialId(i) => q.bind(*i),
        _ => unreachable!("lot refs returned above"),
    };
    let (lot_id, wip_pk, serial_pk) = q
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| ApiError::not_found(what))?;
    lock_unit_ids(conn, lot_id, wip_pk, serial_pk).await
}

/// One row FOR UPDATE by id, if there is an id.
async fn lock_row<T>(
    conn: &mut PgConnection,
    table: &str,
    cols: &str,
    id: Option<i64>,
) -> Result<Option<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let Some(id) = id else {
        return Ok(None);
    };
    sqlx::query_as::<_, T>(&format!(
        "SELECT {cols} FROM {table} WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_one(conn)
    .await
    .map(Some)
}

pub async fn lock_unit_ids(
    conn: &mut PgConnection,
    lot_id: i64,
    wip_pk: Option<i64>,
    serial_pk: Option<i64>,
) -> ApiResult<LockedUnit> {
    let lot = lock_lot_by_id(conn, lot_id).await?;
    let wip: Option<WipRow> = lock_row(&mut *conn, "wip_items", WIP_COLS, wip_pk).await?;
    let serial_pk = wip.as_ref().and_then(|w| w.serial_id).or(serial_pk);
    let serial = lock_row(&mut *conn, "serials", SERIAL_COLS, serial_pk).await?;
    Ok(LockedUnit { lot, wip, serial })
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRow {
    pub id: i64,
    pub process_id: i64,
    pub result: Option<ProcessResult>,
    pub is_open: bool,
}

/// Every WIP- and SERIAL-level record of a unit (its WIP item's and its serial's).
pub async fn unit_history(
    conn: &mut PgConnection,
    unit: &LockedUnit,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as::<_, HistoryRow>(&format!(
        "SELECT id, process_id, result, completed_at IS NULL AS is_open FROM process_data \
         WHERE {UNIT_RECORDS} ORDER BY started_at, id"
    ))
    .bind(unit.wip_pk())
    .bind(unit.serial_pk())
    .fetch_all(conn)
    .await
}

pub fn passed_set(history: &[HistoryRow]) -> HashSet<i64> {
    history
        .iter()
        .filter(|h| h.result == Some(ProcessResult::Pass))
        .map(|h| h.process_id)
        .collect()
}

/// What a status update changes besides the status.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct StatusChange<'a> {
    /// The new rework count.
    pub rework: Option<i32>,
    /// Why the unit is scrapped (with SCRAPPED).
    pub scrap_reason: Option<&'a str>,
}

/// Set the status (and the rework count / scrap reason when given) of the unit's current row: its serial, else
/// its WIP item.
///
/// The new status is computed by the row's state machine from the locked row's current status (409
/// INVALID_STATUS_TRANSITION before any SQL when refused) and bound as the enum; the database trigger
/// `enforce_status_transition()` is only the backstop.
pub(super) async fn set_unit_status(
    conn: &mut PgConnection,
    unit: &mut LockedUnit,
    to: UnitMove,
    change: StatusChange<'_>,
) -> ApiResult<()> {
    let StatusChange {
        rework,
        scrap_reason,
    } = change;
    const SET: &str = "SET status = $2, rework_count = COALESCE($3, rework_count), \
         scrap_reason = COALESCE($4, scrap_reason) WHERE id = $1";
    if let Some(s) = unit.serial.as_mut() {
        let to = s.status.transition(to.serial())?;
        sqlx::query(&format!("UPDATE serials {SET}"))
            .bind(s.id)
            .bind(to)
            .bind(rework)
            .bind(scrap_reason)
            .execute(&mut *conn)
            .await?;
        s.status = to;
        s.rework_count = rework.unwrap_or(s.rework_count);
        s.scrap_reason = scrap_reason.map(str::to_string).or(s.scrap_reason.take());
    } else if let Some(w) = unit.wip.as_mut() {
        let to = w.status.transition(to.wip())?;
        sqlx::query(&format!("UPDATE wip_items {SET}"))
            .bind(w.id)
            .bind(to)
            .bind(rework)
            .bind(scrap_reason)
            .execute(&mut *conn)
            .await?;
        w.status = to;
        w.rework_count = rework.unwrap_or(w.rework_count);
        w.scrap_reason = scrap_reason.map(str::to_string).or(w.scrap_reason.take());
    }
    Ok(())
}
