//! Status changes a manager makes by hand: hold / release (`PATCH /lots/{id}/status`) and close
//! (`POST /lots/{id}/close`). Every other lot status change is the process flow's.

use crate::policy;
use axum::extract::State;
use chrono::{SecondsFormat, Utc};
use neurohub_core::auth::Authorized;
use neurohub_core::states::StateMachine;
use neurohub_core::{context, ApiError, ApiJson, ApiPath, ApiResult, AppState};
use sqlx::FromRow;

use super::detail::{fetch_detail, LotKey};
use super::{LotDetail, LotStatus, LotStatusChange, MAX_REASON_CHARS};
use crate::numbers::LotNumber;
use crate::state::{SerialStatus, WipStatus};

/// Whether a client may set `to` on a lot in `from` by hand (`PATCH /lots/{id}/status`): only holds and
/// releases. A release goes back to where the lot was: CREATED if no unit has started (`started` false),
/// IN_PROGRESS otherwise. Same status → allowed (no-op). Everything else is the process flow's or `close`'s.
pub fn manual_transition(from: LotStatus, to: LotStatus, started: bool) -> Result<(), ApiError> {
    use LotStatus::*;
    let refuse = |why: &str| {
        ApiError::conflict(
            "INVALID_STATUS_TRANSITION",
            format!("lot status cannot be changed from {from} to {to} by hand: {why}"),
        )
        .with_field("status", format!("{from} -> {to} is not allowed"))
    };
    let manual = match (from, to) {
        _ if from == to => true,
        (Created | InProgress, OnHold) => true,
        (OnHold, Created) if !started => true,
        (OnHold, Created) => {
            return Err(refuse(
                "units of this lot have started; release it to IN_PROGRESS",
            ))
        }
        (OnHold, InProgress) if started => true,
        (OnHold, InProgress) => {
            return Err(refuse(
                "no unit of this lot has started; release it to CREATED",
            ))
        }
        (_, Completed) => {
            return Err(refuse(
                "a lot becomes COMPLETED when every unit is completed or scrapped",
            ))
        }
        (_, Closed) => return Err(refuse("use POST /lots/{id}/close on a COMPLETED lot")),
        (_, InProgress) => {
            return Err(refuse(
                "a lot becomes IN_PROGRESS when its first unit starts a process",
            ))
        }
        _ => {
            return Err(refuse(
                "only ON_HOLD <-> CREATED / IN_PROGRESS are manual changes",
            ))
        }
    };
    // The manual changes are a subset of the lot state machine (crate::state); keep it the single authority.
    if manual && from.can_become(to) {
        Ok(())
    } else {
        Err(refuse("the lot state machine does not allow it"))
    }
}

/// Put a lot ON_HOLD or release it (ON_HOLD → CREATED / IN_PROGRESS). Other changes: 409.
#[utoipa::path(
    patch, path = "/lots/{id}/status", tag = "lots", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Lot id")),
    request_body = LotStatusChange,
    responses(
        (status = 200, description = "The lot after the change", body = LotDetail),
        (status = 403, description = "Needs ADMIN or MANAGER", body = neurohub_core::Problem),
        (status = 404, description = "No such lot", body = neurohub_core::Problem),
        (status = 409, description = "INVALID_STATUS_TRANSITION naming from and to", body = neurohub_core::Problem),
        (status = 422, description = "VALIDATION_FAILED", body = neurohub_core::Problem),
    )
)]
pub(super) async fn change_status(
    State(st): State<AppState>,
    user: Authorized<policy::Manage>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<LotStatusChange>,
) -> ApiResult<ApiJson<LotDetail>> {
    let reason = body
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
        return Err(ApiError::validation(
            "reason",
            format!("reason must be at most {MAX_REASON_CHARS} characters"),
        ));
    }
    let mut tx = context::begin(&st.pool, &user.ctx).await?;
    let current: Option<(LotStatus, bool)> =
        sqlx::query_as("SELECT status, started_at IS NOT NULL FROM lots WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let (from, started) = current.ok_or_else(|| ApiError::not_found("lot"))?;
    manual_transition(from, body.status, started)?;
    let to = from.transition(body.status)?;
    if from != to {
        let note = reason.map(|r| {
            format!(
                "[{to} {} by {}] {r}",
                Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
                user.username
            )
        });
        sqlx::query(
            "UPDATE lots SET status = $2, \
                 notes = CASE WHEN $3::text IS NULL THEN notes ELSE concat_ws(E'\\n', notes, $3::text) END \
             WHERE id = $1",
        )
        .bind(id)
        .bind(to)
        .bind(note)
        .execute(&mut *tx)
        .await?;
    }
    let lot = fetch_detail(&mut *tx, LotKey::Id(id)).await?;
    tx.commit().await?;
    Ok(ApiJson(lot))
}

/// Units not finished yet (neither final nor converted): the non-final states of each machine.
const UNFINISHED_WIP: &[WipStatus] =
    &[WipStatus::Created, WipStatus::InProgress, WipStatus::Failed];
const UNFINISHED_SERIAL: &[SerialStatus] = &[
    SerialStatus::Created,
    SerialStatus::InProgress,
    SerialStatus::Failed,
];

#[derive(FromRow)]
struct CloseCheck {
    lot_number: LotNumber,
    status: LotStatus,
    unfinished_wip: i64,
    unfinished_serials: i64,
}

/// Close a COMPLETED lot (closed_at is set by the server). Anything else: 409 LOT_NOT_COMPLETED.
#[utoipa::path(
    post, path = "/lots/{id}/close", tag = "lots", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Lot id")),
    responses(
        (status = 200, description = "The closed lot", body = LotDetail),
        (status = 403, description = "Needs ADMIN or MANAGER", body = neurohub_core::Problem),
        (status = 404, description = "No such lot", body = neurohub_core::Problem),
        (status = 409, description = "LOT_NOT_COMPLETED with the counts of unfinished units", body = neurohub_core::Problem),
    )
)]
pub(super) async fn close(
    State(st): State<AppState>,
    user: Authorized<policy::Manage>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<LotDetail>> {
    let mut tx = context::begin(&st.pool, &user.ctx).await?;
    let check: CloseCheck = sqlx::query_as(
        "SELECT l.lot_number, l.status, \
            (SELECT count(*) FROM wip_items w WHERE w.lot_id = l.id \
               AND w.status = ANY($2)) AS unfinished_wip, \
            (SELECT count(*) FROM serials s WHERE s.lot_id = l.id \
               AND s.status = ANY($3)) AS unfinished_serials \
         FROM lots l WHERE l.id = $1 FOR UPDATE OF l",
    )
    .bind(id)
    .bind(UNFINISHED_WIP)
    .bind(UNFINISHED_SERIAL)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("lot"))?;
    if check.status != LotStatus::Completed {
        let detail = if check.status == LotStatus::Closed {
            format!("lot {} is already CLOSED", check.lot_number)
        } else {
            format!(
                "lot {} is {}, not COMPLETED: {} WIP item(s) and {} serial(s) are not finished (completed, converted or scrapped)",
                check.lot_number, check.status, check.unfinished_wip, check.unfinished_serials
            )
        };
        return Err(ApiError::conflict("LOT_NOT_COMPLETED", detail.clone())
            .with_field("status", detail)
            .with_field("unfinished_wip_items", check.unfinished_wip.to_string())
            .with_field("unfinished_serials", check.unfinished_serials.to_string()));
    }
    let to = check.status.transition(LotStatus::Closed)?;
    sqlx::query("UPDATE lots SET status = $2, closed_at = now() WHERE id = $1")
        .bind(id)
        .bind(to)
        .execute(&mut *tx)
        .await?;
    let lot = fetch_detail(&mut *tx, LotKey::Id(id)).await?;
    tx.commit().await?;
    Ok(ApiJson(lot))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_are_the_non_final_states() {
        let non_final_wip: Vec<WipStatus> = WipStatus::ALL
            .iter()
            .copied()
            .filter(|s| !s.is_final())
            .collect();
        assert_eq!(UNFINISHED_WIP, non_final_wip.as_slice());
        let non_final_serial: Vec<SerialStatus> = SerialStatus::ALL
            .iter()
            .copied()
            .filter(|s| !s.is_final())
            .collect();
        assert_eq!(UNFINISHED_SERIAL, non_final_serial.as_slice());
    }

    #[test]
    fn only_holds_and_releases_are_manual() {
        use LotStatus::*;
        for (from, to, started, ok) in [
            (Created, OnHold, false, true),
            (InProgress, OnHold, true, true),
            (OnHold, Created, false, true),
            (OnHold, InProgress, true, true),
            (OnHold, Created, true, false),
            (OnHold, InProgress, false, false),
            (Created, InProgress, false, false),
            (InProgress, Completed, true, false),
            (Completed, Closed, true, false),
            (Completed, OnHold, true, false),
            (Closed, OnHold, true, false),
            (OnHold, OnHold, true, true),
        ] {
            let r = manual_transition(from, to, started);
            assert_eq!(r.is_ok(), ok, "{from} -> {to} (started {started})");
            if let Err(e) = r {
                assert_eq!(e.code, "INVALID_STATUS_TRANSITION");
                assert!(
                    e.detail.contains(from.as_str()) && e.detail.contains(to.as_str()),
                    "{}",
                    e.detail
                );
            }
        }
    }
}
