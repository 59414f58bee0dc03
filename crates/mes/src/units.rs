//! Units of a lot: WIP items (created with the lot, `WIP-{lot}-{seq}`) and serials (created by the process flow at
//! process 7, `{lot}{seq}`). Read endpoints only; writes belong to [`crate::lots`] and the process flow.
//!
//! Endpoints (tag `units`, all under `/api/v1`, any role, each exactly ONE SQL statement):
//!
//! | method | path |
//! |---|---|
//! | GET | `/wip-items` (filters lot_id, status, current_process_id, q; keyset by id) |
//! | GET | `/wip-items/{id}` |
//! | GET | `/wip-items/by-code/{wip_id}` |
//! | GET | `/serials` (filters lot_id, status, process_reached, q; keyset by id) |
//! | GET | `/serials/{id}` |
//! | GET | `/serials/by-number/{serial_number}` |

use crate::policy;
use axum::extract::State;
use chrono::{DateTime, Utc};
use neurohub_core::auth::Authorized;
use neurohub_core::extract::qs;
use neurohub_core::pagination::{self, Key, List, Page, PrefixRule};
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::numbers::{LotNumber, SerialNumber, WipId};
use crate::state::{SerialStatus, WipStatus};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_wip_items))
        .routes(routes!(get_wip_item))
        .routes(routes!(get_wip_item_by_code))
        .routes(routes!(list_serials))
        .routes(routes!(get_serial))
        .routes(routes!(get_serial_by_number))
}

// ---------------------------------------------------------------------------------------------------------------
// WIP items
// ---------------------------------------------------------------------------------------------------------------

/// A WIP item with its lot number, current process and serial (once converted).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, FromRow)]
pub struct WipItem {
    pub id: i64,
    /// e.g. `WIP-KR01PSA251101-001`
    pub wip_id: WipId,
    pub lot_id: i64,
    pub lot_number: LotNumber,
    pub sequence_in_lot: i32,
    pub status: WipStatus,
    /// The process the unit has reached (set by the process flow); NULL before its first process.
    pub current_process_id: Option<i64>,
    pub current_process_number: Option<i32>,
    pub current_process_code: Option<String>,
    /// Set once the unit is CONVERTED to a serial.
    pub serial_id: Option<i64>,
    pub serial_number: Option<SerialNumber>,
    pub rework_count: i32,
    /// Why the unit was scrapped (set with status SCRAPPED).
    pub scrap_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const WIP_SELECT: &str = "SELECT w.id, w.wip_id, w.lot_id, l.lot_number, w.sequence_in_lot, w.status, \
         w.current_process_id, p.process_number AS current_process_number, p.process_code AS current_process_code, \
         w.serial_id, s.serial_number, w.rework_count, w.scrap_reason, w.created_at, w.updated_at \
     FROM wip_items w \
     JOIN lots l ON l.id = w.lot_id \
     LEFT JOIN processes p ON p.id = w.current_process_id \
     LEFT JOIN serials s ON s.id = w.serial_id";

/// Filters and page of `GET /wip-items` (ordered by id, ascending).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WipFilter {
    #[serde(default, deserialize_with = "qs::opt")]
    pub lot_id: Option<i64>,
    #[serde(default, deserialize_with = "qs::opt")]
    pub status: Option<WipStatus>,
    /// Units whose current (reached) process is this process id.
    #[serde(default, deserialize_with = "qs::opt")]
    pub current_process_id: Option<i64>,
    /// WIP id prefix, e.g. `WIP-KR01PSA2511` (case-insensitive).
    pub q: Option<String>,
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "qs::opt")]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

neurohub_core::fixed_sort!(
    /// `GET /wip-items` is ordered by id.
    WipById, "id", Asc, [Key::int("w.id")]
);

/// `q` of `GET /wip-items`: a WIP id prefix (`WIP-` and the lot number's letters and digits).
const WIP_PREFIX: PrefixRule = PrefixRule {
    field: "q",
    max: 21,
    uppercase: true,
    allowed: |c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-',
    describe: "letters, digits and -",
};

/// List WIP items (ONE SQL statement, keyset by id).
#[utoipa::path(
    get, path = "/wip-items", tag = "units", security(("bearer" = [])),
    params(WipFilter),
    responses(
        (status = 200, description = "A page of WIP items (1 SQL statement)", body = Page<WipItem>),
        (status = 400, description = "INVALID_QUERY / INVALID_CURSOR", body = neurohub_core::Problem),
    )
)]
async fn list_wip_items(
    _user: Authorized<policy::Read>,
    State(st): State<AppState>,
    ApiQuery(f): ApiQuery<WipFilter>,
) -> ApiResult<ApiJson<Page<WipItem>>> {
    let list = List::<WipById>::fixed(f.limit, f.cursor.as_deref())?;
    let q = pagination::prefix(f.q.as_deref(), WIP_PREFIX)?;
    let mut qb = QueryBuilder::<Postgres>::new(WIP_SELECT);
    qb.push(" WHERE TRUE");
    if let Some(id) = f.lot_id {
        qb.push(" AND w.lot_id = ").push_bind(id);
    }
    if let Some(s) = f.status {
        qb.push(" AND w.status = ").push_bind(s.as_str());
    }
    if let Some(id) = f.current_process_id {
        qb.push(" AND w.current_process_id = ").push_bind(id);
    }
    if let Some(q) = q {
        pagination::push_prefix(&mut qb, "w.wip_id", &q);
    }
    list.push_after(&mut qb);
    qb.push(list.order_and_limit());
    // prepared unless the skewed `status` is filtered (see the lot list)
    let rows: Vec<WipItem> = qb
        .build_query_as()
        .persistent(f.status.is_none())
        .fetch_all(&mut *st.read_conn().await?)
        .await?;
    Ok(ApiJson(list.page(rows, |r, _| vec![r.id.into()])))
}

/// One WIP item (1 SQL statement).
#[utoipa::path(
    get, path = "/wip-items/{id}", tag = "units", security(("bearer" = [])),
    params(("id" = i64, Path, description = "WIP item id")),
    responses(
        (status = 200, description = "The WIP item (1 SQL statement)", body = WipItem),
        (status = 404, description = "No such WIP item", body = neurohub_core::Problem),
    )
)]
async fn get_wip_item(
    _user: Authorized<policy::Read>,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<WipItem>> {
    let row: Option<WipItem> = sqlx::query_as(&format!("{WIP_SELECT} WHERE w.id = $1"))
        .bind(id)
        .fetch_optional(&st.pool)
        .await?;
    row.map(ApiJson)
        .ok_or_else(|| ApiError::not_found("WIP item"))
}

/// One WIP item by its id code, e.g. `WIP-KR01PSA251101-001` (1 SQL statement).
#[utoipa::path(
    get, path = "/wip-items/by-code/{wip_id}", tag = "units", security(("bearer" = [])),
    params(("wip_id" = String, Path, description = "WIP id, e.g. WIP-KR01PSA251101-001")),
    responses(
        (status = 200, description = "The WIP item (1 SQL statement)", body = WipItem),
        (status = 400, description = "INVALID_WIP_ID: not a well-formed WIP id", body = neurohub_core::Problem),
        (status = 404, description = "No such WIP item", body = neurohub_core::Problem),
    )
)]
async fn get_wip_item_by_code(
    _user: Authorized<policy::Read>,
    State(st): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<ApiJson<WipItem>> {
    let code = WipId::parse(&code).map_err(|e| {
        ApiError::bad_request("INVALID_WIP_ID", e.to_string()).with_field("wip_id", e.to_string())
    })?;
    let row: Option<WipItem> = sqlx::query_as(&format!("{WIP_SELECT} WHERE w.wip_id = $1"))
        .bind(code)
        .fetch_optional(&st.pool)
        .await?;
    row.map(ApiJson)
        .ok_or_else(|| ApiError::not_found("WIP item"))
}

// ---------------------------------------------------------------------------------------------------------------
// Serials
// ---------------------------------------------------------------------------------------------------------------

/// A serial with its lot number, the WIP item it came from and the highest process it passed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, FromRow)]
pub struct Serial {
    pub id: i64,
    /// e.g. `KR01PSA251101001`
    pub serial_number: SerialNumber,
    pub lot_id: i64,
    pub lot_number: LotNumber,
    pub sequence_in_lot: i32,
    pub status: SerialStatus,
    pub rework_count: i32,
    /// Why the unit was scrapped (set with status SCRAPPED).
    pub scrap_reason: Option<String>,
    /// The WIP item this serial was converted from (NULL for serials created without one).
    pub wip_item_id: Option<i64>,
    pub wip_id: Option<WipId>,
    /// Highest process number with a PASS record for this unit (as WIP item or serial); 0 if none.
    pub process_reached: i32,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `process_reached` of serial `s` (with its WIP item `w`): two index-backed max() lookups
/// (`idx_process_data_serial_process`, `idx_process_data_wip`) over the unit's PASS records.
const SERIAL_SELECT: &str = "SELECT s.id, s.serial_number, s.lot_id, l.lot_number, s.sequence_in_lot, s.status, \
         s.rework_count, s.scrap_reason, w.id AS wip_item_id, w.wip_id, r.process_reached, s.completed_at, s.created_at, \
         s.updated_at \
     FROM serials s \
     JOIN lots l ON l.id = s.lot_id \
     LEFT JOIN wip_items w ON w.serial_id = s.id \
     CROSS JOIN LATERAL (SELECT COALESCE(GREATEST( \
         (SELECT max(p.process_number) FROM process_data pd JOIN processes p ON p.id = pd.process_id \
           WHERE pd.serial_id = s.id AND pd.result = 'PASS'), \
         (SELECT max(p.process_number) FROM process_data pd JOIN processes p ON p.id = pd.process_id \
           WHERE pd.wip_id = w.id AND pd.result = 'PASS')), 0) AS process_reached) r";

/// Filters and page of `GET /serials` (ordered by id, ascending).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SerialFilter {
    #[serde(default, deserialize_with = "qs::opt")]
    pub lot_id: Option<i64>,
    #[serde(default, deserialize_with = "qs::opt")]
    pub status: Option<SerialStatus>,
    /// Serials whose highest PASSed process number is exactly this (0-8; 0 = none passed yet).
    #[serde(default, deserialize_with = "qs::opt")]
    pub process_reached: Option<u8>,
    /// Serial number prefix, e.g. `KR01PSA251101` (case-insensitive).
    pub q: Option<String>,
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "qs::opt")]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

neurohub_core::fixed_sort!(
    /// `GET /serials` is ordered by id.
    SerialById, "id", Asc, [Key::int("s.id")]
);

/// `q` of `GET /serials`: a serial number prefix (letters and digits).
const SERIAL_PREFIX: PrefixRule = PrefixRule {
    field: "q",
    max: 16,
    uppercase: true,
    allowed: |c| c.is_ascii_uppercase() || c.is_ascii_digit(),
    describe: "letters and digits",
};

/// List serials (ONE SQL statement, keyset by id).
#[utoipa::path(
    get, path = "/serials", tag = "units", security(("bearer" = [])),
    params(SerialFilter),
    responses(
        (status = 200, description = "A page of serials (1 SQL statement)", body = Page<Serial>),
        (status = 400, description = "INVALID_QUERY / INVALID_CURSOR", body = neurohub_core::Problem),
    )
)]
async fn list_serials(
    _user: Authorized<policy::Read>,
    State(st): State<AppState>,
    ApiQuery(f): ApiQuery<SerialFilter>,
) -> ApiResult<ApiJson<Page<Serial>>> {
    let list = List::<SerialById>::fixed(f.limit, f.cursor.as_deref())?;
    let q = pagination::prefix(f.q.as_deref(), SERIAL_PREFIX)?;
    if f.process_reached.is_some_and(|p| p > 8) {
        return Err(ApiError::bad_request(
            "INVALID_QUERY",
            "process_reached must be between 0 and 8",
        )
        .with_field("process_reached", "must be between 0 and 8"));
    }
    let mut qb = QueryBuilder::<Postgres>::new(SERIAL_SELECT);
    qb.push(" WHERE TRUE");
    if let Some(id) = f.lot_id {
        qb.push(" AND s.lot_id = ").push_bind(id);
    }
    if let Some(s) = f.status {
        qb.push(" AND s.status = ").push_bind(s.as_str());
    }
    if let Some(p) = f.process_reached {
        qb.push(" AND r.process_reached = ").push_bind(i32::from(p));
    }
    if let Some(q) = q {
        pagination::push_prefix(&mut qb, "s.serial_number", &q);
    }
    list.push_after(&mut qb);
    qb.push(list.order_and_limit());
    // prepared unless a skewed column (`status`, `process_reached`) is filtered (see the lot list)
    let rows: Vec<Serial> = qb
        .build_query_as()
        .persistent(f.status.is_none() && f.process_reached.is_none())
        .fetch_all(&mut *st.read_conn().await?)
        .await?;
    Ok(ApiJson(list.page(rows, |r, _| vec![r.id.into()])))
}

/// One serial (1 SQL statement).
#[utoipa::path(
    get, path = "/serials/{id}", tag = "units", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Serial id")),
    responses(
        (status = 200, description = "The serial (1 SQL statement)", body = Serial),
        (status = 404, description = "No such serial", body = neurohub_core::Problem),
    )
)]
async fn get_serial(
    _user: Authorized<policy::Read>,
    State(st): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<Serial>> {
    let row: Option<Serial> = sqlx::query_as(&format!("{SERIAL_SELECT} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(&st.pool)
        .await?;
    row.map(ApiJson)
        .ok_or_else(|| ApiError::not_found("serial"))
}

/// One serial by its number, e.g. `KR01PSA251101001` (1 SQL statement).
#[utoipa::path(
    get, path = "/serials/by-number/{serial_number}", tag = "units", security(("bearer" = [])),
    params(("serial_number" = String, Path, description = "Serial number, e.g. KR01PSA251101001")),
    responses(
        (status = 200, description = "The serial (1 SQL statement)", body = Serial),
        (status = 400, description = "INVALID_SERIAL_NUMBER: not a well-formed serial number", body = neurohub_core::Problem),
        (status = 404, description = "No such serial", body = neurohub_core::Problem),
    )
)]
async fn get_serial_by_number(
    _user: Authorized<policy::Read>,
    State(st): State<AppState>,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<ApiJson<Serial>> {
    let number = SerialNumber::parse(&number).map_err(|e| {
        ApiError::bad_request("INVALID_SERIAL_NUMBER", e.to_string())
            .with_field("serial_number", e.to_string())
    })?;
    let row: Option<Serial> =
        sqlx::query_as(&format!("{SERIAL_SELECT} WHERE s.serial_number = $1"))
            .bind(number)
            .fetch_optional(&st.pool)
            .await?;
    row.map(ApiJson)
        .ok_or_else(|| ApiError::not_found("serial"))
}
