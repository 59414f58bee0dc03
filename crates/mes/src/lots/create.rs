//! Creating a lot: validation, the lot number from its (line, model, month) sequence, the lot row and its WIP
//! items, in the caller's transaction ([`create_lot`], also used by the demo data) or as `POST /lots`.

use crate::policy;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use neurohub_core::auth::Authorized;
use neurohub_core::response::{created, Created};
use neurohub_core::{context, ApiError, ApiJson, ApiResult, AppState, FieldError};
use sqlx::{FromRow, Postgres, Transaction};

use super::{Lot, LotStatus, NewLot, SerialCounts, Shift, WipCounts};
use crate::numbers::{self, LotNumber, WipId};
use crate::product_models::ProductModelStatus;
use neurohub_core::states::StateMachine;

#[derive(FromRow)]
struct References {
    model_code: Option<String>,
    model_name: Option<String>,
    model_status: Option<ProductModelStatus>,
    country_code: Option<String>,
    line_code: Option<String>,
    line_active: Option<bool>,
    /// The plant's date now (`now() AT TIME ZONE` the plant zone).
    today: NaiveDate,
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
/// "Today" is the plant's date in `plant_time_zone` (an IANA name checked at start): it is the default
/// production date, so the lot number's month follows the plant's calendar, and the centre of the allowed
/// production-date window.
///
/// Validates every field first (all errors at once, 422), then takes the next number of the
/// (line, model, YYMM) sequence with one upsert on `lot_sequences` — its row stays locked until `tx` ends, so
/// concurrent creations get consecutive numbers — inserts the lot and bulk-inserts the WIP items with one
/// `INSERT ... SELECT ... generate_series`. The 100th lot of a line, model and month is 409
/// `LOT_SEQUENCE_EXHAUSTED` and nothing is written. The returned lot's counts reflect the new WIP items.
pub async fn create_lot(
    tx: &mut Transaction<'static, Postgres>,
    input: &NewLot,
    plant_time_zone: &str,
) -> Result<Lot, ApiError> {
    let refs: References = sqlx::query_as(
        "SELECT m.model_code, m.model_name, m.status AS model_status, pl.country_code::text AS country_code, \
                pl.line_code::text AS line_code, pl.is_active AS line_active, \
                (now() AT TIME ZONE $3)::date AS today \
         FROM (VALUES (1)) AS one (x) \
         LEFT JOIN product_models m ON m.id = $1 \
         LEFT JOIN production_lines pl ON pl.id = $2",
    )
    .bind(input.product_model_id)
    .bind(input.production_line_id)
    .bind(plant_time_zone)
    .fetch_one(&mut **tx)
    .await?;
    let today = refs.today;
    let mut errors = input.field_errors(today);
    match refs.model_status {
        None => errors.push(FieldError::new(
            "product_model_id",
            format!("no product model with id {}", input.product_model_id),
        )),
        Some(ProductModelStatus::Active) => {}
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
         VALUES ($1, $2, $3, $4, $5, $6, $8, $7) \
         RETURNING id, production_date, shift, status, notes, started_at, completed_at, closed_at, created_at, \
                   updated_at",
    )
    .bind(&lot_number)
    .bind(input.product_model_id)
    .bind(input.production_line_id)
    .bind(date)
    .bind(input.shift.map(Shift::as_str))
    .bind(input.target_quantity)
    .bind(input.notes.as_deref())
    .bind(LotStatus::INITIAL)
    .fetch_one(&mut **tx)
    .await?;

    // The WIP ids are built here from the typed lot number (numbers::wip_for), the same way the serials are:
    // one spelling of every number, in Rust; the insert stays one statement over the array.
    let seqs = 1..=u16::try_from(input.target_quantity).map_err(ApiError::internal)?;
    let wip_ids: Vec<WipId> = seqs.map(|seq| numbers::wip_for(&lot_number, seq)).collect();
    let created = sqlx::query(
        "INSERT INTO wip_items (wip_id, lot_id, sequence_in_lot) \
         SELECT w.wip_id, $1, w.seq FROM unnest($2::text[]) WITH ORDINALITY AS w (wip_id, seq)",
    )
    .bind(row.id)
    .bind(&wip_ids)
    .execute(&mut **tx)
    .await?
    .rows_affected() as i64;

    Ok(Lot {
        id: row.id,
        lot_number: lot_number.clone(),
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

/// Create a lot: the server numbers it and creates its WIP items (`WIP-{lot}-001` ..).
#[utoipa::path(
    post, path = "/lots", tag = "lots", security(("bearer" = [])),
    request_body = NewLot,
    responses(
        (status = 201, description = "Lot and its WIP items created", body = Lot,
            headers(("location" = String, description = "/api/v1/lots/{id}"))),
        (status = 400, description = "Malformed JSON", body = neurohub_core::Problem),
        (status = 403, description = "Needs ADMIN or MANAGER", body = neurohub_core::Problem),
        (status = 409, description = "LOT_SEQUENCE_EXHAUSTED: 99 lots already exist for this line, model and month", body = neurohub_core::Problem),
        (status = 422, description = "VALIDATION_FAILED naming each field (range, date window, unknown/inactive model or line)", body = neurohub_core::Problem),
    )
)]
pub(super) async fn create(
    State(st): State<AppState>,
    user: Authorized<policy::Manage>,
    ApiJson(body): ApiJson<NewLot>,
) -> ApiResult<Created<Lot>> {
    // create_lot validates everything (fields and references, all errors at once) before it writes.
    let mut tx = context::begin(&st.pool, &user.ctx).await?;
    let zone = st
        .extension::<crate::settings::MesSettings>()
        .plant_time_zone;
    let lot = create_lot(&mut tx, &body, &zone).await?;
    tx.commit().await?;
    Ok(created(format!("/api/v1/lots/{}", lot.id), lot))
}
