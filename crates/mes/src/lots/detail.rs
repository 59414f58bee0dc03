//! One lot with its counts: `GET /lots/{id}` and `GET /lots/by-number/{lot_number}`, each ONE statement; the
//! SQL pieces here ([`LOT_COLUMNS`], [`LOT_JOINS`]) are shared with the list and the writes' read-backs.

use crate::policy;
use axum::extract::State;
use neurohub_core::auth::Authorized;
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiResult, AppState};
use sqlx::{PgExecutor, Postgres, QueryBuilder};

use super::LotDetail;
use crate::numbers::LotNumber;

/// Columns of [`Lot`] over `l` (a lots row), `pm`, `pl`, `c` (see [`LOT_JOINS`]).
pub(super) const LOT_COLUMNS: &str = "l.id, l.lot_number, l.product_model_id, pm.model_code, pm.model_name, l.production_line_id, \
     pl.country_code::text AS country_code, pl.line_code::text AS line_code, l.production_date, l.shift, \
     l.target_quantity, l.status, l.notes, l.started_at, l.completed_at, l.closed_at, l.created_at, l.updated_at, \
     COALESCE(c.wip_created + c.wip_in_progress + c.wip_failed + c.wip_converted + c.wip_scrapped, 0) AS wip_count, \
     COALESCE(c.wip_created + c.wip_in_progress + c.wip_failed + c.wip_converted + c.wip_scrapped, 0) AS wip_total, \
     COALESCE(c.wip_created, 0) AS wip_created, COALESCE(c.wip_in_progress, 0) AS wip_in_progress, \
     COALESCE(c.wip_failed, 0) AS wip_failed, COALESCE(c.wip_converted, 0) AS wip_converted, \
     COALESCE(c.wip_scrapped, 0) AS wip_scrapped, \
     COALESCE(c.serial_created + c.serial_in_progress + c.serial_failed + c.serial_completed + c.serial_scrapped, 0) \
         AS serial_total, \
     COALESCE(c.serial_created, 0) AS serial_created, COALESCE(c.serial_in_progress, 0) AS serial_in_progress, \
     COALESCE(c.serial_failed, 0) AS serial_failed, COALESCE(c.serial_completed, 0) AS serial_completed, \
     COALESCE(c.serial_scrapped, 0) AS serial_scrapped";

/// Model, line and the per-status unit counts of `l`: one primary-key probe of `lot_unit_counts`, kept by the
/// triggers of migration 0011 in the transaction of every unit's status change (a lot without units has no
/// row, hence the COALESCEs of [`LOT_COLUMNS`]).
pub(super) const LOT_JOINS: &str = " JOIN product_models pm ON pm.id = l.product_model_id \
     LEFT JOIN production_lines pl ON pl.id = l.production_line_id \
     LEFT JOIN lot_unit_counts c ON c.lot_id = l.id";

/// Per-process unit counts of lot `l` as a JSON array over every process: a unit's latest record at a process
/// (by started_at, id) decides; a unit is its WIP item, or its serial for serial-only records. LOT-level records
/// are not units and are not counted. Index-backed by `idx_process_data_lot`.
const PROCESS_COUNTS: &str = "(SELECT COALESCE(jsonb_agg(jsonb_build_object(\
         'process_id', p.id, 'process_number', p.process_number, 'process_code', p.process_code, \
         'passed', COALESCE(x.passed, 0), 'failed', COALESCE(x.failed, 0), 'rework', COALESCE(x.rework, 0), \
         'open', COALESCE(x.open_units, 0)) ORDER BY p.process_number), '[]'::jsonb) \
       FROM processes p LEFT JOIN (\
         SELECT t.process_id, count(*) FILTER (WHERE t.result = 'PASS') AS passed, \
                count(*) FILTER (WHERE t.result = 'FAIL') AS failed, \
                count(*) FILTER (WHERE t.result = 'REWORK') AS rework, \
                count(*) FILTER (WHERE t.result IS NULL) AS open_units \
         FROM (SELECT DISTINCT ON (pd.process_id, COALESCE(pd.wip_id, -pd.serial_id)) pd.process_id, pd.result \
               FROM process_data pd WHERE pd.lot_id = l.id AND pd.data_level <> 'LOT' \
               ORDER BY pd.process_id, COALESCE(pd.wip_id, -pd.serial_id), pd.started_at DESC, pd.id DESC) t \
         GROUP BY t.process_id) x ON x.process_id = p.id) AS processes";

pub(super) enum LotKey<'a> {
    Id(i64),
    Number(&'a LotNumber),
}

/// One lot with counts and per-process counts, or 404: ONE statement.
pub(super) async fn fetch_detail<'e>(
    ex: impl PgExecutor<'e>,
    key: LotKey<'_>,
) -> ApiResult<LotDetail> {
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "SELECT {LOT_COLUMNS}, {PROCESS_COUNTS} FROM lots l{LOT_JOINS}"
    ));
    match key {
        LotKey::Id(id) => qb.push(" WHERE l.id = ").push_bind(id),
        LotKey::Number(n) => qb.push(" WHERE l.lot_number = ").push_bind(n.clone()),
    };
    qb.build_query_as::<LotDetail>()
        .fetch_optional(ex)
        .await?
        .ok_or_else(|| ApiError::not_found("lot"))
}

/// One lot with counts of WIP items and serials per status and of units per process (1 SQL statement).
#[utoipa::path(
    get, path = "/lots/{id}", tag = "lots", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Lot id")),
    responses(
        (status = 200, description = "The lot (1 SQL statement)", body = LotDetail),
        (status = 404, description = "No such lot", body = neurohub_core::Problem),
    )
)]
pub(super) async fn get_by_id(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<LotDetail>> {
    Ok(ApiJson(fetch_detail(&st.pool, LotKey::Id(id)).await?))
}

/// One lot by its number, e.g. `KR01PSA251101` (1 SQL statement).
#[utoipa::path(
    get, path = "/lots/by-number/{lot_number}", tag = "lots", security(("bearer" = [])),
    params(("lot_number" = String, Path, description = "Lot number, e.g. KR01PSA251101")),
    responses(
        (status = 200, description = "The lot (1 SQL statement)", body = LotDetail),
        (status = 400, description = "INVALID_LOT_NUMBER: not a well-formed lot number", body = neurohub_core::Problem),
        (status = 404, description = "No such lot", body = neurohub_core::Problem),
    )
)]
pub(super) async fn get_by_number(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<ApiJson<LotDetail>> {
    let number = LotNumber::parse(&number).map_err(|e| {
        ApiError::bad_request("INVALID_LOT_NUMBER", e.to_string())
            .with_field("lot_number", e.to_string())
    })?;
    Ok(ApiJson(
        fetch_detail(&st.pool, LotKey::Number(&number)).await?,
    ))
}
