//! The lot side of the flow: locking the lot row, "does it accept work?", CREATED → IN_PROGRESS on the first
//! start, IN_PROGRESS → COMPLETED when every unit is done.

use neurohub_core::{ApiError, ApiResult};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::unit::UnitRef;
use crate::numbers::LotNumber;
use crate::state::{LotStatus, SerialStatus, WipStatus};
use neurohub_core::states::StateMachine;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LockedLot {
    pub id: i64,
    pub lot_number: LotNumber,
    pub status: LotStatus,
    pub production_line_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LotState {
    pub id: i64,
    pub lot_number: LotNumber,
    pub status: LotStatus,
}

impl LockedLot {
    /// The lot as answered after a write.
    pub fn state(&self) -> LotState {
        LotState {
            id: self.id,
            lot_number: self.lot_number.clone(),
            status: self.status,
        }
    }
}

pub fn check_lot_active(lot: &LockedLot) -> Result<(), ApiError> {
    if lot.status.is_active() {
        Ok(())
    } else {
        Err(ApiError::conflict(
            "LOT_NOT_ACTIVE",
            format!(
                "lot {} is {}: no production work can be recorded for it",
                lot.lot_number, lot.status
            ),
        ))
    }
}

/// Lock a lot FOR UPDATE by a key column (`id` or `lot_number`, never client text).
async fn lock_lot_where<T>(conn: &mut PgConnection, column: &str, key: T) -> ApiResult<LockedLot>
where
    T: 'static + Send + for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    sqlx::query_as::<_, LockedLot>(&format!(
        "SELECT id, lot_number, status, production_line_id FROM lots WHERE {column} = $1 FOR UPDATE"
    ))
    .bind(key)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| ApiError::not_found("lot"))
}

pub async fn lock_lot_by_id(conn: &mut PgConnection, id: i64) -> ApiResult<LockedLot> {
    lock_lot_where(conn, "id", id).await
}

pub async fn lock_lot(conn: &mut PgConnection, r: &UnitRef) -> ApiResult<LockedLot> {
    match r {
        UnitRef::LotId(id) => lock_lot_by_id(conn, *id).await,
        UnitRef::LotNumber(n) => lock_lot_where(conn, "lot_number", n.clone()).await,
        _ => Err(ApiError::validation(
            "unit",
            "a lot number or lot id is expected here",
        )),
    }
}

/// The first start of any record puts a CREATED lot IN_PROGRESS (the lot row is locked: its status is current).
pub(super) async fn lot_to_in_progress(
    conn: &mut PgConnection,
    lot: &mut LockedLot,
) -> ApiResult<()> {
    if lot.status == LotStatus::Created {
        let to = lot.status.transition(LotStatus::InProgress)?;
        sqlx::query("UPDATE lots SET status = $2 WHERE id = $1")
            .bind(lot.id)
            .bind(to)
            .execute(conn)
            .await?;
        lot.status = to;
    }
    Ok(())
}

/// Units that are done: what a lot needs every one of its WIP items / serials to be before it is COMPLETED.
const WIP_DONE: &[WipStatus] = &[WipStatus::Converted, WipStatus::Scrapped];
const SERIAL_DONE: &[SerialStatus] = &[SerialStatus::Completed, SerialStatus::Scrapped];

/// → COMPLETED when the lot has its units (at least `target_quantity` of them) and every one is completed or
/// scrapped (a converted WIP item counts through its serial). `current` is the status of the lot, whose row the
/// caller holds locked; the lot machine decides whether it may complete at all (no statement when it may not),
/// and the statement only checks the units. Returns the new status when it changed.
pub async fn try_complete_lot(
    conn: &mut PgConnection,
    lot_id: i64,
    current: LotStatus,
) -> ApiResult<Option<LotStatus>> {
    if current == LotStatus::Completed || !current.can_become(LotStatus::Completed) {
        return Ok(None);
    }
    let to = current.transition(LotStatus::Completed)?;
    let changed: Option<LotStatus> = sqlx::query_scalar(
        "UPDATE lots l SET status = $2 \
         WHERE l.id = $1 \
           AND NOT EXISTS (SELECT 1 FROM wip_items w WHERE w.lot_id = l.id AND w.status <> ALL($3)) \
           AND NOT EXISTS (SELECT 1 FROM serials s WHERE s.lot_id = l.id AND s.status <> ALL($4)) \
           AND (SELECT count(*) FROM wip_items w WHERE w.lot_id = l.id) \
             + (SELECT count(*) FROM serials s WHERE s.lot_id = l.id \
                  AND NOT EXISTS (SELECT 1 FROM wip_items w WHERE w.serial_id = s.id)) >= GREATEST(l.target_quantity, 1) \
         RETURNING l.status",
    )
    .bind(lot_id)
    .bind(to)
    .bind(WIP_DONE)
    .bind(SERIAL_DONE)
    .fetch_optional(conn)
    .await?;
    Ok(changed)
}

impl LockedLot {
    /// [`try_complete_lot`] for this (locked) lot, keeping `status` in step.
    pub(super) async fn try_complete(&mut self, conn: &mut PgConnection) -> ApiResult<()> {
        if let Some(st) = try_complete_lot(conn, self.id, self.status).await? {
            self.status = st;
        }
        Ok(())
    }
}
