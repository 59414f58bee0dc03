//! Production lines: read by every role, written by ADMIN/MANAGER. `country_code` + `line_code` start every lot
//! number, so they cannot change after creation; retire a line with `PATCH {"is_active": false}` (no DELETE).

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

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct ProductionLine {
    pub id: i64,
    /// 2 uppercase letters, e.g. KR.
    pub country_code: String,
    /// 2 digits, e.g. 01.
    pub line_code: String,
    pub name: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, country_code, line_code, name, is_active, created_at, updated_at";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProductionLine {
    pub country_code: String,
    pub line_code: String,
    pub name: String,
    /// Default true.
    pub is_active: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductionLinePatch {
    pub name: Option<String>,
    pub is_active: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductionLineFilter {
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub is_active: Option<bool>,
    pub country_code: Option<String>,
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn is_country(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

fn is_line(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())
}

/// List production lines by id (one statement).
#[utoipa::path(
    get, path = "/production-lines", tag = "production-lines", security(("bearer" = [])),
    params(ProductionLineFilter),
    responses(
        (status = 200, description = "A page of production lines", body = Page<ProductionLine>),
        (status = 400, description = "INVALID_QUERY / INVALID_CURSOR", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiQuery(f): ApiQuery<ProductionLineFilter>,
) -> ApiResult<ApiJson<Page<ProductionLine>>> {
    let list = List::<ById>::fixed(f.limit, f.cursor.as_deref())?;
    let country = f.country_code.as_deref().filter(|s| !s.is_empty());
    if country.is_some_and(|c| !is_country(c)) {
        return Err(validate::bad_query(
            "country_code",
            "country_code must be 2 uppercase letters",
        ));
    }
    let mut qb =
        QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM production_lines WHERE TRUE"));
    if let Some(active) = f.is_active {
        qb.push(" AND is_active = ").push_bind(active);
    }
    if let Some(c) = country {
        qb.push(" AND country_code = ").push_bind(c.to_string());
    }
    list.push_after(&mut qb);
    qb.push(list.order_and_limit());
    let rows: Vec<ProductionLine> = qb
        .build_query_as()
        .persistent(false)
        .fetch_all(&mut *st.read_conn().await?)
        .await?;
    Ok(ApiJson(list.page(rows, |r, _| vec![r.id.into()])))
}

/// One production line.
#[utoipa::path(
    get, path = "/production-lines/{id}", tag = "production-lines", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Production line id")),
    responses(
        (status = 200, description = "The production line", body = ProductionLine),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_one(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<ProductionLine>> {
    sqlx::query_as::<_, ProductionLine>(&format!(
        "SELECT {COLUMNS} FROM production_lines WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&st.pool)
    .await?
    .map(ApiJson)
    .ok_or_else(|| ApiError::not_found("production line"))
}

/// Create a production line.
#[utoipa::path(
    post, path = "/production-lines", tag = "production-lines", security(("bearer" = [])),
    request_body = NewProductionLine,
    responses(
        (status = 201, description = "Created", body = ProductionLine, headers(("location" = String, description = "URL of the line"))),
        (status = 409, description = "DUPLICATE country_code + line_code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED, every bad field named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(st): State<AppState>,
    user: Authorized<policy::Manage>,
    ApiJson(b): ApiJson<NewProductionLine>,
) -> ApiResult<Created<ProductionLine>> {
    let mut c = Checker::default();
    if !is_country(&b.country_code) {
        c.add(
            "country_code",
            "country_code must be 2 uppercase letters, e.g. KR",
        );
    }
    if !is_line(&b.line_code) {
        c.add("line_code", "line_code must be 2 digits, e.g. 01");
    }
    let name = c.text("name", &b.name, 100);
    c.finish()?;

    let mut tx = neurohub_core::context::begin(&st.pool, &user.ctx).await?;
    let row = sqlx::query_as::<_, ProductionLine>(&format!(
        "INSERT INTO production_lines (country_code, line_code, name, is_active) VALUES ($1, $2, $3, $4) \
         RETURNING {COLUMNS}"
    ))
    .bind(&b.country_code)
    .bind(&b.line_code)
    .bind(&name)
    .bind(b.is_active.unwrap_or(true))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(created(format!("/api/v1/production-lines/{}", row.id), row))
}

/// Rename or (de)activate a production line.
#[utoipa::path(
    patch, path = "/production-lines/{id}", tag = "production-lines", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Production line id")),
    request_body = ProductionLinePatch,
    responses(
        (status = 200, description = "The changed line", body = ProductionLine),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(st): State<AppState>,
    user: Authorized<policy::Manage>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(p): ApiJson<ProductionLinePatch>,
) -> ApiResult<ApiJson<ProductionLine>> {
    let mut c = Checker::for_patch(p.name.is_some() || p.is_active.is_some());
    let name = p.name.as_deref().map(|n| c.text("name", n, 100));
    c.finish()?;

    let mut tx = neurohub_core::context::begin(&st.pool, &user.ctx).await?;
    let row = sqlx::query_as::<_, ProductionLine>(&format!(
        "UPDATE production_lines SET name = COALESCE($2, name), is_active = COALESCE($3, is_active) \
          WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(name)
    .bind(p.is_active)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("production line"))?;
    tx.commit().await?;
    Ok(ApiJson(row))
}
