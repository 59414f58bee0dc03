//! POST /process-data/batch-complete: a LOT-level record completed in one call (the open one, or one started and
//! completed now). Units are not touched.

use crate::policy::SUPERVISE;
use neurohub_core::auth::AuthUser;
use neurohub_core::{ApiError, ApiResult};
use sqlx::PgConnection;

use super::complete::Completion;
use super::lot::{check_lot_active, lock_lot, lot_to_in_progress};
use super::record::update_record;
use super::request::BatchComplete;
use super::route::Route;
use super::rules::{check_equipment, completion_values};
use super::start::{insert_lot_record, lot_records};
use super::unit::UnitRef;

/// Complete the open LOT-level record of (lot, process), or start and complete one now.
pub async fn batch_complete(
    conn: &mut PgConnection,
    user: &AuthUser,
    body: &BatchComplete,
    lot_ref: &UnitRef,
) -> ApiResult<Completion> {
    let route = Route::load(&mut *conn).await?;
    let process = route.pick(body.process_id, body.process_number)?.clone();
    let mut lot = lock_lot(&mut *conn, lot_ref).await?;
    check_lot_active(&lot)?;
    let open: Option<(i64, i64)> = sqlx::query_as(
        "SELECT id, operator_id FROM process_data WHERE lot_id = $1 AND process_id = $2 AND data_level = 'LOT' \
         AND completed_at IS NULL FOR UPDATE",
    )
    .bind(lot.id)
    .bind(process.id)
    .fetch_optional(&mut *conn)
    .await?;
    let values = completion_values(&process, body.result, &body.measurements, &body.defects)?;
    let id = match open {
        Some((id, operator)) => {
            if operator != user.id && !SUPERVISE.contains(&user.role) {
                return Err(ApiError::forbidden(
                    "the open LOT-level record was started by another operator; only they, a MANAGER or an ADMIN may complete it",
                ));
            }
            id
        }
        None => {
            process.require_active()?;
            check_equipment(&mut *conn, body.equipment_id, &process, &lot).await?;
            let (_, earlier) = lot_records(&mut *conn, &lot, &process).await?;
            insert_lot_record(
                &mut *conn,
                &lot,
                &process,
                user,
                body.equipment_id,
                earlier,
                &None,
            )
            .await?
            .id
        }
    };
    let record = update_record(&mut *conn, id, body.result, &values, &body.notes).await?;
    lot_to_in_progress(&mut *conn, &mut lot).await?;
    Ok(Completion {
        record,
        unit: None,
        lot: lot.state(),
    })
}
