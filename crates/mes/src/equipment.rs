//! Equipment: read by every role, written by ADMIN/MANAGER. No DELETE — process data refers to equipment; retire
//! it with `PATCH {"is_active": false}`.

use crate::policy;
use axum::extract::State;
use chrono::{DateTime, Utc};
use neurohub_core::auth::Authorized;
use neurohub_core::pagination::Page;
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use neurohub_core::pagination::{Key, List};
use neurohub_core::response::{created, Created};
use neurohub_core::validate::{self, Checker};
use sqlx::{Postgres, QueryBuilder};

neurohub_core::fixed_sort!(
    /// The list is ordered by id.
    ById, "id", Asc, [Key::int("id")]
);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update))
}

neurohub_core::text_enum!(
    /// Status of a piece of equipment: OUT_OF_SERVICE equipment cannot be used for a record.
    EquipmentStatus {
        Available => "AVAILABLE",
        InUse => "IN_USE",
        Maintenance => "MAINTENANCE",
        OutOfService => "OUT_OF_SERVICE",
    }
);

/// The status of a request body, or the field error (collected with the others, so the body's fields stay
/// strings and every bad field is named at once).
fn check_status(c: &mut Checker, value: &str) -> Option<EquipmentStatus> {
    let s = EquipmentStatus::parse(value);
    if s.is_none() {
        c.add(
            "status",
            format!("status must be one of {}", EquipmentStatus::allowed()),
        );
    }
    s
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Equipment {
    pub id: i64,
    pub equipment_code: String,
    pub name: String,
    pub equipment_type: Option<String>,
    pub process_id: Option<i64>,
    pub production_line_id: Option<i64>,
    /// AVAILABLE, IN_USE, MAINTENANCE or OUT_OF_SERVICE.
    pub status: EquipmentStatus,
    pub is_active: bool,
    pub last_calibrated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, equipment_code, name, equipment_type, process_id, production_line_id, status, is_active, \
                       last_calibrated_at, created_at, updated_at";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEquipment {
    /// 1..=50 characters of `A-Z 0-9 . _ -`, unique.
    pub equipment_code: String,
    pub name: String,
    pub equipment_type: Option<String>,
    pub process_id: Option<i64>,
    pub production_line_id: Option<i64>,
    /// Default AVAILABLE. (Text, so a bad value is named together with the other bad fields.)
    #[schema(value_type = Option<EquipmentStatus>)]
    pub status: Option<String>,
    /// Default true.
    pub is_active: Option<bool>,
    /// When it was last calibrated (not in the future).
    pub last_calibrated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EquipmentPatch {
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub equipment_type: Option<Option<String>>,
    /// `null` detaches it from its process.
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<i64>)]
    pub process_id: Option<Option<i64>>,
    /// `null` detaches it from its line.
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<i64>)]
    pub production_line_id: Option<Option<i64>>,
    #[schema(value_type = Option<EquipmentStatus>)]
    pub status: Option<String>,
    /// `false` retires it.
    pub is_active: Option<bool>,
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub last_calibrated_at: Option<Option<DateTime<Utc>>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EquipmentFilter {
    /// AVAILABLE, IN_USE, MAINTENANCE or OUT_OF_SERVICE.
    #[param(value_type = Option<EquipmentStatus>)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub process_id: Option<i64>,
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub production_line_id: Option<i64>,
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub is_active: Option<bool>,
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn check_code(c: &mut Checker, code: &str) {
    let ok_chars = code
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if code.is_empty() || code.len() > 50 || !ok_chars {
        c.add(
            "equipment_code",
            "equipment_code must be 1 to 50 characters of A-Z, 0-9, '.', '_' and '-'",
        );
    }
}

fn check_calibrated(c: &mut Checker, at: Option<DateTime<Utc>>) {
    if at.is_some_and(|t| t > Utc::now() + chrono::Duration::minutes(5)) {
        c.add(
            "last_calibrated_at",
            "last_calibrated_at must not be in the future",
        );
    }
}

fn check_id(c: &mut Checker, field: &str, id: Option<i64>) {
    if id.is_some_and(|v| v < 1) {
        c.add(field, format!("{field} must be a positive id"));
    }
}

/// List equipment by id, filtered by status, process, line and active flag (one statement).
#[utoipa::path(
    get, path = "/equipment", tag = "equipment", security(("bearer" = [])),
    params(EquipmentFilter),
    responses(
        (status = 200, description = "A page of equipment", body = Page<Equipment>),
        (status = 400, description = "INVALID_QUERY / INVALID_CURSOR", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiQuery(f): ApiQuery<EquipmentFilter>,
) -> ApiResult<ApiJson<Page<Equipment>>> {
    let list = List::<ById>::fixed(f.limit, f.cursor.as_deref())?;
    let status = match f.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(EquipmentStatus::parse(s).ok_or_else(|| {
            validate::bad_query(
                "status",
                "status must be AVAILABLE, IN_USE, MAINTENANCE or OUT_OF_SERVICE",
            )
        })?),
    };
    let mut qb =
        QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM equipment WHERE TRUE"));
    if let Some(s) = status {
        qb.push(" AND status = ").push_bind(s);
    }
    if let Some(id) = f.process_id {
        qb.push(" AND process_id = ").push_bind(id);
    }
    if let Some(id) = f.production_line_id {
        qb.push(" AND production_line_id = ").push_bind(id);
    }
    if let Some(active) = f.is_active {
        qb.push(" AND is_active = ").push_bind(active);
    }
    list.push_after(&mut qb);
    qb.push(list.order_and_limit());
    let rows: Vec<Equipment> = qb
        .build_query_as()
        .persistent(false)
        .fetch_all(&mut *st.read_conn().await?)
        .await?;
    Ok(ApiJson(list.page(rows, |r, _| vec![r.id.into()])))
}

/// One piece of equipment.
#[utoipa::path(
    get, path = "/equipment/{id}", tag = "equipment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Equipment id")),
    responses(
        (status = 200, description = "The equipment", body = Equipment),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_one(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<Equipment>> {
    sqlx::query_as::<_, Equipment>(&format!("SELECT {COLUMNS} FROM equipment WHERE id = $1"))
        .bind(id)
        .fetch_optional(&st.pool)
        .await?
        .map(ApiJson)
        .ok_or_else(|| ApiError::not_found("equipment"))
}

/// Register equipment. An unknown `process_id` / `production_line_id` → 422 `REFERENCE_NOT_FOUND`.
#[utoipa::path(
    post, path = "/equipment", tag = "equipment", security(("bearer" = [])),
    request_body = NewEquipment,
    responses(
        (status = 201, description = "Created", body = Equipment, headers(("location" = String, description = "URL of the equipment"))),
        (status = 409, description = "DUPLICATE equipment_code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED (every bad field named) or REFERENCE_NOT_FOUND", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(st): State<AppState>,
    user: Authorized<policy::Manage>,
    ApiJson(b): ApiJson<NewEquipment>,
) -> ApiResult<Created<Equipment>> {
    let mut c = Checker::default();
    check_code(&mut c, &b.equipment_code);
    let name = c.text("name", &b.name, 200);
    let equipment_type = c.opt_text("equipment_type", b.equipment_type.as_deref(), 50);
    check_id(&mut c, "process_id", b.process_id);
    check_id(&mut c, "production_line_id", b.production_line_id);
    let status = match b.status.as_deref() {
        None => Some(EquipmentStatus::Available),
        Some(s) => check_status(&mut c, s),
    };
    check_calibrated(&mut c, b.last_calibrated_at);
    c.finish()?;

    let mut tx = neurohub_core::context::begin(&st.pool, &user.ctx).await?;
    let row = sqlx::query_as::<_, Equipment>(&format!(
        "INSERT INTO equipment (equipment_code, name, equipment_type, process_id, production_line_id, status, \
                                is_active, last_calibrated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(&b.equipment_code)
    .bind(&name)
    .bind(&equipment_type)
    .bind(b.process_id)
    .bind(b.production_line_id)
    .bind(status)
    .bind(b.is_active.unwrap_or(true))
    .bind(b.last_calibrated_at)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(created(format!("/api/v1/equipment/{}", row.id), row))
}

/// Change equipment (partial): status, assignment, calibration, active flag.
#[utoipa::path(
    patch, path = "/equipment/{id}", tag = "equipment", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Equipment id")),
    request_body = EquipmentPatch,
    responses(
        (status = 200, description = "The changed equipment", body = Equipment),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED or REFERENCE_NOT_FOUND", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(st): State<AppState>,
    user: Authorized<policy::Manage>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(p): ApiJson<EquipmentPatch>,
) -> ApiResult<ApiJson<Equipment>> {
    let mut c = Checker::for_patch(
        p.name.is_some()
            || p.equipment_type.is_some()
            || p.process_id.is_some()
            || p.production_line_id.is_some()
            || p.status.is_some()
            || p.is_active.is_some()
            || p.last_calibrated_at.is_some(),
    );
    let name = p.name.as_deref().map(|n| c.text("name", n, 200));
    let equipment_type = p
        .equipment_type
        .as_ref()
        .map(|t| c.opt_text("equipment_type", t.as_deref(), 50));
    check_id(&mut c, "process_id", p.process_id.flatten());
    check_id(&mut c, "production_line_id", p.production_line_id.flatten());
    let status = p.status.as_deref().and_then(|s| check_status(&mut c, s));
    check_calibrated(&mut c, p.last_calibrated_at.flatten());
    c.finish()?;

    let mut tx = neurohub_core::context::begin(&st.pool, &user.ctx).await?;
    let row = sqlx::query_as::<_, Equipment>(&format!(
        "UPDATE equipment SET name = COALESCE($2, name), \
            equipment_type = CASE WHEN $3 THEN $4 ELSE equipment_type END, \
            process_id = CASE WHEN $5 THEN $6 ELSE process_id END, \
            production_line_id = CASE WHEN $7 THEN $8 ELSE production_line_id END, \
            status = COALESCE($9, status), is_active = COALESCE($10, is_active), \
            last_calibrated_at = CASE WHEN $11 THEN $12 ELSE last_calibrated_at END \
          WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(name)
    .bind(equipment_type.is_some())
    .bind(equipment_type.flatten())
    .bind(p.process_id.is_some())
    .bind(p.process_id.flatten())
    .bind(p.production_line_id.is_some())
    .bind(p.production_line_id.flatten())
    .bind(status)
    .bind(p.is_active)
    .bind(p.last_calibrated_at.is_some())
    .bind(p.last_calibrated_at.flatten())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("equipment"))?;
    tx.commit().await?;
    Ok(ApiJson(row))
}
