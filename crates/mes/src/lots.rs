//! Lots: a production batch of one product model on one line, numbered by the server
//! (`{country}{line}{model}{YYMM}{seq}`, see [`crate::numbers`]) and created together with its WIP units.
//!
//! Endpoints (tag `lots`, all under `/api/v1`):
//!
//! | method | path | roles | statements |
//! |---|---|---|---|
//! | POST | `/lots` | ADMIN, MANAGER | 5 in one transaction (audit context, references, sequence, lot, WIP bulk insert) |
//! | GET | `/lots` | any | 1 |
//! | GET | `/lots/{id}` | any | 1 |
//! | GET | `/lots/by-number/{lot_number}` | any | 1 |
//! | PATCH | `/lots/{id}/status` | ADMIN, MANAGER | 4 in one transaction (context, lock, update, read back) |
//! | POST | `/lots/{id}/close` | ADMIN, MANAGER | 4 in one transaction (context, lock + unfinished counts, update, read back) |
//!
//! Decisions are recorded in docs/numbers-and-lots.md.

use crate::policy;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Months, NaiveDate, SecondsFormat, Utc};
use neurohub_core::auth::Authorized;
use neurohub_core::extract::qs;
use neurohub_core::pagination::{self, Page};
use neurohub_core::{
    context, ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState, FieldError,
};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor, Postgres, QueryBuilder, Transaction};
use std::str::FromStr;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::numbers::{self, LotNumber};
pub use crate::state::LotStatus;
use neurohub_core::states::StateMachine;

/// Largest lot: unit sequences are 3 digits.
pub const MAX_TARGET_QUANTITY: i32 = 999;
/// Longest `notes` / `reason` accepted.
pub const MAX_NOTES_CHARS: usize = 2000;
pub const MAX_REASON_CHARS: usize = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_by_id))
        .routes(routes!(get_by_number))
        .routes(routes!(change_status))
        .routes(routes!(close))
}

// ---------------------------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------------------------

/// Work shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Shift {
    A,
    B,
    C,
}

impl Shift {
    pub fn as_str(self) -> &'static str {
        match self {
            Shift::A => "A",
            Shift::B => "B",
            Shift::C => "C",
        }
    }
}

/// A new lot. The lot number, status and timestamps are set by the server.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLot {
    /// An ACTIVE product model.
    pub product_model_id: i64,
    /// An active production line.
    pub production_line_id: i64,
    /// Units in the lot, 1..=999; that many WIP items are created with the lot.
    #[schema(minimum = 1, maximum = 999)]
    pub target_quantity: i32,
    /// YYYY-MM-DD, at most one year before or after today (UTC); default today (UTC). Gives the lot number's YYMM.
    #[serde(default)]
    pub production_date: Option<NaiveDate>,
    #[serde(default)]
    pub shift: Option<Shift>,
    /// Free text, at most 2000 characters.
    #[serde(default)]
    pub notes: Option<String>,
}

impl NewLot {
    /// Field errors that need no database (quantity, date window, notes length).
    pub fn field_errors(&self, today: NaiveDate) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !(1..=MAX_TARGET_QUANTITY).contains(&self.target_quantity) {
            errors.push(FieldError::new(
                "target_quantity",
                format!("target_quantity must be between 1 and {MAX_TARGET_QUANTITY}"),
            ));
        }
        if let Some(date) = self.production_date {
            let (from, to) = production_date_window(today);
            if date < from || date > to {
                errors.push(FieldError::new(
                    "production_date",
                    format!(
                        "production_date must be within one year of today: between {from} and {to}"
                    ),
                ));
            }
        }
        if let Some(notes) = &self.notes {
            if notes.chars().count() > MAX_NOTES_CHARS {
                errors.push(FieldError::new(
                    "notes",
                    format!("notes must be at most {MAX_NOTES_CHARS} characters"),
                ));
            }
        }
        errors
    }
}

/// The accepted production dates around `today`: one year back to one year ahead, inclusive.
pub fn production_date_window(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let from = today
        .checked_sub_months(Months::new(12))
        .unwrap_or(NaiveDate::MIN);
    let to = today
        .checked_add_months(Months::new(12))
        .unwrap_or(NaiveDate::MAX);
    (from, to)
}

/// WIP items of a lot by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, FromRow)]
pub struct WipCounts {
    #[sqlx(rename = "wip_total")]
    pub total: i64,
    #[sqlx(rename = "wip_created")]
    pub created: i64,
    #[sqlx(rename = "wip_in_progress")]
    pub in_progress: i64,
    #[sqlx(rename = "wip_failed")]
    pub failed: i64,
    #[sqlx(rename = "wip_converted")]
    pub converted: i64,
    #[sqlx(rename = "wip_scrapped")]
    pub scrapped: i64,
}

/// Serials of a lot by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, FromRow)]
pub struct SerialCounts {
    #[sqlx(rename = "serial_total")]
    pub total: i64,
    #[sqlx(rename = "serial_created")]
    pub created: i64,
    #[sqlx(rename = "serial_in_progress")]
    pub in_progress: i64,
    #[sqlx(rename = "serial_failed")]
    pub failed: i64,
    #[sqlx(rename = "serial_completed")]
    pub completed: i64,
    #[sqlx(rename = "serial_scrapped")]
    pub scrapped: i64,
}

/// A lot with its model, line and unit counts (the list row and the base of the detail).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, FromRow)]
pub struct Lot {
    pub id: i64,
    pub lot_number: String,
    pub product_model_id: i64,
    pub model_code: String,
    pub model_name: String,
    /// NULL only for lots created before production lines existed (schema 0003).
    pub production_line_id: Option<i64>,
    pub country_code: Option<String>,
    pub line_code: Option<String>,
    pub production_date: NaiveDate,
    pub shift: Option<String>,
    pub target_quantity: i32,
    pub status: LotStatus,
    pub notes: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// WIP items in the lot (= `wip_counts.total`).
    pub wip_count: i64,
    #[sqlx(flatten)]
    pub wip_counts: WipCounts,
    #[sqlx(flatten)]
    pub serial_counts: SerialCounts,
}

/// Units of a lot at one process, by the result of each unit's latest record there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProcessCounts {
    pub process_id: i64,
    pub process_number: i32,
    pub process_code: String,
    /// Units whose latest record at this process is PASS.
    pub passed: i64,
    /// Units whose latest record at this process is FAIL.
    pub failed: i64,
    /// Units whose latest record at this process is REWORK.
    pub rework: i64,
    /// Units with an open (started, not completed) record at this process.
    pub open: i64,
}

/// A lot with per-process unit counts for all 8 processes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, FromRow)]
pub struct LotDetail {
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub lot: Lot,
    #[sqlx(json)]
    pub processes: Vec<ProcessCounts>,
}

/// A manual status change: put a lot ON_HOLD or release it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LotStatusChange {
    pub status: LotStatus,
    /// Why (at most 500 characters); appended to the lot's notes as `[<status> <time> by <user>] <reason>`.
    #[serde(default)]
    pub reason: Option<String>,
}

// ---------------------------------------------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------------------------------------------

/// Columns of [`Lot`] over `l` (a lots row), `pm`, `pl`, `wc`, `sc` (see [`LOT_JOINS`]).
const LOT_COLUMNS: &str = "l.id, l.lot_number, l.product_model_id, pm.model_code, pm.model_name, l.production_line_id, \
     pl.country_code::text AS country_code, pl.line_code::text AS line_code, l.production_date, l.shift, \
     l.target_quantity, l.status, l.notes, l.started_at, l.completed_at, l.closed_at, l.created_at, l.updated_at, \
     wc.wip_total AS wip_count, wc.wip_total, wc.wip_created, wc.wip_in_progress, wc.wip_failed, wc.wip_converted, \
     wc.wip_scrapped, sc.serial_total, sc.serial_created, sc.serial_in_progress, sc.serial_failed, \
     sc.serial_completed, sc.serial_scrapped";

/// Model, line and the per-status unit counts of `l`: index-backed by `idx_wip_items_lot_status` and
/// `idx_serials_lot_status` (lot_id, status), computed only for the rows of the page.
const LOT_JOINS: &str = " JOIN product_models pm ON pm.id = l.product_model_id \
     LEFT JOIN production_lines pl ON pl.id = l.production_line_id \
     CROSS JOIN LATERAL (SELECT count(*) AS wip_total, \
         count(*) FILTER (WHERE w.status = 'CREATED') AS wip_created, \
         count(*) FILTER (WHERE w.status = 'IN_PROGRESS') AS wip_in_progress, \
         count(*) FILTER (WHERE w.status = 'FAILED') AS wip_failed, \
         count(*) FILTER (WHERE w.status = 'CONVERTED') AS wip_converted, \
         count(*) FILTER (WHERE w.status = 'SCRAPPED') AS wip_scrapped \
       FROM wip_items w WHERE w.lot_id = l.id) wc \
     CROSS JOIN LATERAL (SELECT count(*) AS serial_total, \
         count(*) FILTER (WHERE s.status = 'CREATED') AS serial_created, \
         count(*) FILTER (WHERE s.status = 'IN_PROGRESS') AS serial_in_progress, \
         count(*) FILTER (WHERE s.status = 'FAILED') AS serial_failed, \
         count(*) FILTER (WHERE s.status = 'COMPLETED') AS serial_completed, \
         count(*) FILTER (WHERE s.status = 'SCRAPPED') AS serial_scrapped \
       FROM serials s WHERE s.lot_id = l.id) sc";

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

enum LotKey<'a> {
    Id(i64),
    Number(&'a str),
}

/// One lot with counts and per-process counts, or 404: ONE statement.
async fn fetch_detail<'e>(ex: impl PgExecutor<'e>, key: LotKey<'_>) -> ApiResult<LotDetail> {
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "SELECT {LOT_COLUMNS}, {PROCESS_COUNTS} FROM lots l{LOT_JOINS}"
    ));
    match key {
        LotKey::Id(id) => qb.push(" WHERE l.id = ").push_bind(id),
        LotKey::Number(n) => qb.push(" WHERE l.lot_number = ").push_bind(n.to_string()),
    };
    qb.build_query_as::<LotDetail>()
        .fetch_optional(ex)
        .await?
        .ok_or_else(|| ApiError::not_found("lot"))
}

// ---------------------------------------------------------------------------------------------------------------
// Domain functions (callable without HTTP)
// ---------------------------------------------------------------------------------------------------------------

#[derive(FromRow)]
struct References {
    model_code: Option<String>,
    model_name: Option<String>,
    model_status: Option<String>,
    country_code: Option<String>,
    line_code: Option<String>,
    line_active: Option<bool>,
}

#[derive(FromRow)]
struct InsertedLot {
    id: i64,
    production_date: NaiveDate,
    shift: Option<String>,
    status: LotStatus,
    notes: Option<String>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Create a lot and its `target_quantity` WIP items in `tx` (whose audit context the caller has set).
///
/// Validates every field first (all errors at once, 422), then takes the next number of the
/// (line, model, YYMM) sequence with one upsert on `lot_sequences` — its row stays locked until `tx` ends, so
/// concurrent creations get consecutive numbers — inserts the lot and bulk-inserts the WIP items with one
/// `INSERT ... SELECT ... generate_series`. The 100th lot of a line, model and month is 409
/// `LOT_SEQUENCE_EXHAUSTED` and nothing is written. The returned lot's counts reflect the new WIP items.
pub async fn create_lot(
    tx: &mut Transaction<'static, Postgres>,
    input: &NewLot,
) -> Result<Lot, ApiError> {
    let today = Utc::now().date_naive();
    let mut errors = input.field_errors(today);

    let refs: References = sqlx::query_as(
        "SELECT m.model_code, m.model_name, m.status AS model_status, pl.country_code::text AS country_code, \
                pl.line_code::text AS line_code, pl.is_active AS line_active \
         FROM (VALUES (1)) AS one (x) \
         LEFT JOIN product_models m ON m.id = $1 \
         LEFT JOIN production_lines pl ON pl.id = $2",
    )
    .bind(input.product_model_id)
    .bind(input.production_line_id)
    .fetch_one(&mut **tx)
    .await?;
    match refs.model_status.as_deref() {
        None => errors.push(FieldError::new(
            "product_model_id",
            format!("no product model with id {}", input.product_model_id),
        )),
        Some("ACTIVE") => {}
        Some(other) => errors.push(FieldError::new(
            "product_model_id",
            format!(
                "product model {} is {other}; lots can only be created for ACTIVE models",
                refs.model_code.as_deref().unwrap_or("?")
            ),
        )),
    }
    match refs.line_active {
        None => errors.push(FieldError::new(
            "production_line_id",
            format!("no production line with id {}", input.production_line_id),
        )),
        Some(true) => {}
        Some(false) => errors.push(FieldError::new(
            "production_line_id",
            format!(
                "production line {}{} is inactive",
                refs.country_code.as_deref().unwrap_or(""),
                refs.line_code.as_deref().unwrap_or("")
            ),
        )),
    }
    if !errors.is_empty() {
        return Err(ApiError::validation_many(errors));
    }
    let (Some(model_code), Some(model_name), Some(country), Some(line)) = (
        refs.model_code,
        refs.model_name,
        refs.country_code,
        refs.line_code,
    ) else {
        return Err(ApiError::internal(
            "product model / production line row without code",
        ));
    };

    let date = input.production_date.unwrap_or(today);
    let year_month = numbers::year_month(date);
    let seq: Option<i32> = sqlx::query_scalar(
        "INSERT INTO lot_sequences (production_line_id, product_model_id, year_month, last_seq) \
         VALUES ($1, $2, $3, 1) \
         ON CONFLICT (production_line_id, product_model_id, year_month) \
         DO UPDATE SET last_seq = lot_sequences.last_seq + 1 WHERE lot_sequences.last_seq < 99 \
         RETURNING last_seq",
    )
    .bind(input.production_line_id)
    .bind(input.product_model_id)
    .bind(&year_month)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(seq) = seq else {
        return Err(ApiError::conflict(
            "LOT_SEQUENCE_EXHAUSTED",
            format!(
                "99 lots already exist for line {country}{line}, model {model_code} and month {year_month}; \
                 the lot sequence (01-99) is exhausted"
            ),
        )
        .with_field("production_date", "no lot number left for this line, model and month"));
    };
    let seq = u8::try_from(seq).map_err(ApiError::internal)?;
    let lot_number =
        LotNumber::for_date(&country, &line, &model_code, date, seq).map_err(ApiError::internal)?;

    let row: InsertedLot = sqlx::query_as(
        "INSERT INTO lots (lot_number, product_model_id, production_line_id, production_date, shift, \
                           target_quantity, status, notes) \
         VALUES ($1, $2, $3, $4, $5, $6, 'CREATED', $7) \
         RETURNING id, production_date, shift, status, notes, started_at, completed_at, closed_at, created_at, \
                   updated_at",
    )
    .bind(lot_number.as_str())
    .bind(input.product_model_id)
    .bind(input.production_line_id)
    .bind(date)
    .bind(input.shift.map(Shift::as_str))
    .bind(input.target_quantity)
    .bind(input.notes.as_deref())
    .fetch_one(&mut **tx)
    .await?;

    let created = sqlx::query(
        "INSERT INTO wip_items (wip_id, lot_id, sequence_in_lot) \
         SELECT 'WIP-' || $2::text || '-' || lpad(g::text, 3, '0'), $1, g \
         FROM generate_series(1, $3::integer) AS g",
    )
    .bind(row.id)
    .bind(lot_number.as_str())
    .bind(input.target_quantity)
    .execute(&mut **tx)
    .await?
    .rows_affected() as i64;

    Ok(Lot {
        id: row.id,
        lot_number: lot_number.to_string(),
        product_model_id: input.product_model_id,
        model_code,
        model_name,
        production_line_id: Some(input.production_line_id),
        country_code: Some(country),
        line_code: Some(line),
        production_date: row.production_date,
        shift: row.shift,
        target_quantity: input.target_quantity,
        status: row.status,
        notes: row.notes,
        started_at: row.started_at,
        completed_at: row.completed_at,
        closed_at: row.closed_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        wip_count: created,
        wip_counts: WipCounts {
            total: created,
            created,
            ..Default::default()
        },
        serial_counts: SerialCounts::default(),
    })
}

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

// ---------------------------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------------------------

/// Create a lot: the server numbers it and creates its WIP items (`WIP-{lot}-001` ..).
#[utoipa::path(
    post, path = "/lots", tag = "lots", security(("bearer" = [])),
    request_body = NewLot,
    responses(
        (status = 201, description = "Lot and its WIP items created", body = Lot),
        (status = 400, description = "Malformed JSON", body = neurohub_core::Problem),
        (status = 403, description = "Needs ADMIN or MANAGER", body = neurohub_core::Problem),
        (status = 409, description = "LOT_SEQUENCE_EXHAUSTED: 99 lots already exist for this line, model and month", body = neurohub_core::Problem),
        (status = 422, description = "VALIDATION_FAILED naming each field (range, date window, unknown/inactive model or line)", body = neurohub_core::Problem),
    )
)]
async fn create(
    State(st): State<AppState>,
    user: Authorized<policy::Manage>,
    ApiJson(body): ApiJson<NewLot>,
) -> ApiResult<(StatusCode, ApiJson<Lot>)> {
    // create_lot validates everything (fields and references, all errors at once) before it writes.
    let mut tx = context::begin(&st.pool, &user.ctx).await?;
    let lot = create_lot(&mut tx, &body).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(lot)))
}

/// Sort column of `GET /lots`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LotSort {
    #[default]
    CreatedAt,
    ProductionDate,
    LotNumber,
}

impl FromStr for LotSort {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "created_at" => Ok(LotSort::CreatedAt),
            "production_date" => Ok(LotSort::ProductionDate),
            "lot_number" => Ok(LotSort::LotNumber),
            _ => Err("expected created_at, production_date or lot_number"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    Asc,
    Desc,
}

impl FromStr for SortOrder {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "asc" => Ok(SortOrder::Asc),
            "desc" => Ok(SortOrder::Desc),
            _ => Err("expected asc or desc"),
        }
    }
}

/// Filters, sort and page of `GET /lots`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LotFilter {
    #[serde(default, deserialize_with = "qs::opt")]
    pub status: Option<LotStatus>,
    #[serde(default, deserialize_with = "qs::opt")]
    pub product_model_id: Option<i64>,
    #[serde(default, deserialize_with = "qs::opt")]
    pub production_line_id: Option<i64>,
    /// Production date from (inclusive), YYYY-MM-DD.
    #[serde(default, deserialize_with = "qs::opt")]
    pub date_from: Option<NaiveDate>,
    /// Production date to (inclusive), YYYY-MM-DD.
    #[serde(default, deserialize_with = "qs::opt")]
    pub date_to: Option<NaiveDate>,
    /// Lot number prefix (letters and digits, case-insensitive), e.g. `KR01PSA2511`.
    pub q: Option<String>,
    /// `created_at` (default), `production_date` or `lot_number`.
    #[serde(default, deserialize_with = "qs::opt")]
    pub sort: Option<LotSort>,
    /// `asc` or `desc`; default `desc` for created_at and production_date, `asc` for lot_number.
    #[serde(default, deserialize_with = "qs::opt")]
    pub order: Option<SortOrder>,
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "qs::opt")]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (valid only with the same sort and order).
    pub cursor: Option<String>,
}

/// Keyset position: the sort key of the last row (as text) and its id.
#[derive(Debug, Serialize, Deserialize)]
struct LotCursor {
    s: LotSort,
    o: SortOrder,
    k: String,
    id: i64,
}

fn bad_cursor() -> ApiError {
    ApiError::bad_request(
        "INVALID_CURSOR",
        "cursor is not one this server issued for this list",
    )
    .with_field("cursor", "invalid cursor")
}

/// Validate a number prefix filter: letters, digits (and `-` when `dash`), uppercased, at most `max` long.
pub(crate) fn prefix_filter(
    q: Option<&str>,
    max: usize,
    dash: bool,
) -> Result<Option<String>, ApiError> {
    let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    let q = q.to_ascii_uppercase();
    let ok = q.len() <= max
        && q.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || (dash && b == b'-'));
    if ok {
        Ok(Some(q))
    } else {
        let what = if dash {
            "letters, digits and -"
        } else {
            "letters and digits"
        };
        Err(
            ApiError::bad_request("INVALID_QUERY", format!("q must be at most {max} {what}"))
                .with_field("q", format!("at most {max} {what}")),
        )
    }
}

/// Push an index-usable prefix predicate on `column` (range on the btree, plus an exact `starts_with`).
pub(crate) fn push_prefix(qb: &mut QueryBuilder<'_, Postgres>, column: &str, prefix: String) {
    // The prefix is ASCII letters/digits/`-`, so bumping its last byte gives the first string past every
    // string that starts with it (byte order, as under the C / C.UTF-8 collations of our databases).
    let mut upper = prefix.clone().into_bytes();
    if let Some(last) = upper.last_mut() {
        *last += 1;
    }
    let upper = String::from_utf8(upper).unwrap_or_default();
    qb.push(format!(" AND {column} >= "))
        .push_bind(prefix.clone());
    qb.push(format!(" AND {column} < ")).push_bind(upper);
    qb.push(format!(" AND starts_with({column}, "))
        .push_bind(prefix)
        .push(")");
}

/// Push the keyset predicate "after row (`key`, `id`)" on the non-unique sort column `col` (`cmp` is `<` for
/// descending, `>` for ascending). `col <=/>= key` alone is what a single-column index (idx_lots_created_at,
/// idx_lots_production_date) can range-scan; the row comparison then skips the ties already returned.
fn push_after<'a, T>(qb: &mut QueryBuilder<'a, Postgres>, col: &str, cmp: &str, key: T, id: i64)
where
    T: 'a + Clone + sqlx::Encode<'a, Postgres> + sqlx::Type<Postgres>,
{
    let loose = if cmp == "<" { "<=" } else { ">=" };
    qb.push(format!(" AND {col} {loose} "))
        .push_bind(key.clone());
    qb.push(format!(" AND ({col}, l.id) {cmp} ("))
        .push_bind(key)
        .push(", ")
        .push_bind(id)
        .push(")");
}

/// List lots (one statement; index-backed keyset pagination).
///
/// Each row carries the model code/name, line code, target quantity and per-status counts of WIP items and
/// serials. Runs exactly ONE SQL statement.
#[utoipa::path(
    get, path = "/lots", tag = "lots", security(("bearer" = [])),
    params(LotFilter),
    responses(
        (status = 200, description = "A page of lots (1 SQL statement)", body = Page<Lot>),
        (status = 400, description = "INVALID_QUERY / INVALID_CURSOR", body = neurohub_core::Problem),
    )
)]
async fn list(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiQuery(f): ApiQuery<LotFilter>,
) -> ApiResult<ApiJson<Page<Lot>>> {
    let limit = pagination::limit(f.limit)?;
    let sort = f.sort.unwrap_or_default();
    let order = f.order.unwrap_or(match sort {
        LotSort::LotNumber => SortOrder::Asc,
        _ => SortOrder::Desc,
    });
    let q = prefix_filter(f.q.as_deref(), 13, false)?;
    let cursor = match f.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => {
            let c: LotCursor = pagination::decode_cursor(c)?;
            if c.s != sort || c.o != order {
                return Err(bad_cursor());
            }
            Some(c)
        }
    };

    // Whitelisted identifiers only; every value is bound.
    let col = match sort {
        LotSort::CreatedAt => "l.created_at",
        LotSort::ProductionDate => "l.production_date",
        LotSort::LotNumber => "l.lot_number",
    };
    let (dir_sql, cmp) = match order {
        SortOrder::Asc => ("ASC", ">"),
        SortOrder::Desc => ("DESC", "<"),
    };

    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "SELECT {LOT_COLUMNS} FROM (SELECT l.* FROM lots l WHERE TRUE"
    ));
    if let Some(s) = f.status {
        qb.push(" AND l.status = ").push_bind(s.as_str());
    }
    if let Some(id) = f.product_model_id {
        qb.push(" AND l.product_model_id = ").push_bind(id);
    }
    if let Some(id) = f.production_line_id {
        qb.push(" AND l.production_line_id = ").push_bind(id);
    }
    if let Some(d) = f.date_from {
        qb.push(" AND l.production_date >= ").push_bind(d);
    }
    if let Some(d) = f.date_to {
        qb.push(" AND l.production_date <= ").push_bind(d);
    }
    if let Some(q) = q {
        push_prefix(&mut qb, "l.lot_number", q);
    }
    if let Some(c) = &cursor {
        // lot_number is unique, so its own comparison is the whole keyset.
        match sort {
            LotSort::CreatedAt => {
                let ts = DateTime::parse_from_rfc3339(&c.k)
                    .map_err(|_| bad_cursor())?
                    .with_timezone(&Utc);
                push_after(&mut qb, col, cmp, ts, c.id);
            }
            LotSort::ProductionDate => {
                let d = NaiveDate::parse_from_str(&c.k, "%Y-%m-%d").map_err(|_| bad_cursor())?;
                push_after(&mut qb, col, cmp, d, c.id);
            }
            LotSort::LotNumber => {
                let n = LotNumber::parse(&c.k).map_err(|_| bad_cursor())?;
                qb.push(format!(" AND {col} {cmp} "))
                    .push_bind(n.to_string());
            }
        }
    }
    qb.push(format!(" ORDER BY {col} {dir_sql}, l.id {dir_sql}"))
        .push(pagination::limit_sql(limit))
        .push(format!(
            ") l{LOT_JOINS} ORDER BY {col} {dir_sql}, l.id {dir_sql}"
        ));

    let rows: Vec<Lot> = qb
        .build_query_as()
        .persistent(false)
        .fetch_all(&st.pool)
        .await?;
    Ok(ApiJson(pagination::page(rows, limit, |r: &Lot| {
        LotCursor {
            s: sort,
            o: order,
            k: match sort {
                LotSort::CreatedAt => r.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
                LotSort::ProductionDate => r.production_date.format("%Y-%m-%d").to_string(),
                LotSort::LotNumber => r.lot_number.clone(),
            },
            id: r.id,
        }
    })))
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
async fn get_by_id(
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
async fn get_by_number(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<ApiJson<LotDetail>> {
    let number = LotNumber::parse(&number).map_err(|e| {
        ApiError::bad_request("INVALID_LOT_NUMBER", e.to_string())
            .with_field("lot_number", e.to_string())
    })?;
    Ok(ApiJson(
        fetch_detail(&st.pool, LotKey::Number(number.as_str())).await?,
    ))
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
async fn change_status(
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
    let current: Option<(String, bool)> =
        sqlx::query_as("SELECT status, started_at IS NOT NULL FROM lots WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let (from, started) = current.ok_or_else(|| ApiError::not_found("lot"))?;
    let from: LotStatus = from.parse().map_err(ApiError::internal)?;
    let to = body.status;
    manual_transition(from, to, started)?;
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
        .bind(to.as_str())
        .bind(note)
        .execute(&mut *tx)
        .await?;
    }
    let lot = fetch_detail(&mut *tx, LotKey::Id(id)).await?;
    tx.commit().await?;
    Ok(ApiJson(lot))
}

#[derive(FromRow)]
struct CloseCheck {
    lot_number: String,
    status: String,
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
async fn close(
    State(st): State<AppState>,
    user: Authorized<policy::Manage>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<LotDetail>> {
    let mut tx = context::begin(&st.pool, &user.ctx).await?;
    let check: CloseCheck = sqlx::query_as(
        "SELECT l.lot_number, l.status, \
            (SELECT count(*) FROM wip_items w WHERE w.lot_id = l.id \
               AND w.status IN ('CREATED', 'IN_PROGRESS', 'FAILED')) AS unfinished_wip, \
            (SELECT count(*) FROM serials s WHERE s.lot_id = l.id \
               AND s.status IN ('CREATED', 'IN_PROGRESS', 'FAILED')) AS unfinished_serials \
         FROM lots l WHERE l.id = $1 FOR UPDATE OF l",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("lot"))?;
    if check.status != LotStatus::Completed.as_str() {
        let detail = if check.status == LotStatus::Closed.as_str() {
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
    sqlx::query("UPDATE lots SET status = 'CLOSED', closed_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let lot = fetch_detail(&mut *tx, LotKey::Id(id)).await?;
    tx.commit().await?;
    Ok(ApiJson(lot))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_lot(q: i32, date: Option<NaiveDate>) -> NewLot {
        NewLot {
            product_model_id: 1,
            production_line_id: 1,
            target_quantity: q,
            production_date: date,
            shift: None,
            notes: None,
        }
    }

    #[test]
    fn quantity_and_date_window() {
        let today = NaiveDate::from_ymd_opt(2025, 11, 15).unwrap();
        assert!(new_lot(1, None).field_errors(today).is_empty());
        assert!(new_lot(999, None).field_errors(today).is_empty());
        let fields = |l: NewLot| {
            l.field_errors(today)
                .into_iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(fields(new_lot(0, None)), ["target_quantity"]);
        assert_eq!(fields(new_lot(1000, None)), ["target_quantity"]);
        assert!(fields(new_lot(5, NaiveDate::from_ymd_opt(2026, 11, 15))).is_empty());
        assert!(fields(new_lot(5, NaiveDate::from_ymd_opt(2024, 11, 15))).is_empty());
        assert_eq!(
            fields(new_lot(5, NaiveDate::from_ymd_opt(2026, 11, 16))),
            ["production_date"]
        );
        assert_eq!(
            fields(new_lot(0, NaiveDate::from_ymd_opt(2024, 11, 14))),
            ["target_quantity", "production_date"]
        );
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

    #[test]
    fn statuses_parse_and_print() {
        for &s in LotStatus::ALL {
            assert_eq!(s.as_str().parse::<LotStatus>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!("open".parse::<LotStatus>().is_err());
    }

    #[test]
    fn prefixes_are_validated_and_uppercased() {
        assert_eq!(
            prefix_filter(Some("kr01"), 13, false).unwrap().as_deref(),
            Some("KR01")
        );
        assert_eq!(prefix_filter(Some(" "), 13, false).unwrap(), None);
        assert!(prefix_filter(Some("KR%"), 13, false).is_err());
        assert!(prefix_filter(Some("KR01PSA2511011"), 13, false).is_err());
        assert!(prefix_filter(Some("WIP-KR"), 21, false).is_err());
        assert_eq!(
            prefix_filter(Some("wip-kr"), 21, true).unwrap().as_deref(),
            Some("WIP-KR")
        );
    }
}
