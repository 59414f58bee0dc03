//! Product models: read by every role, written by ADMIN/MANAGER. No DELETE — lots refer to models; retire one with
//! `PATCH {"status": "DISCONTINUED"}` (or INACTIVE). `model_code` is part of every lot number and cannot change.

use crate::policy;
use axum::extract::State;
use chrono::{DateTime, Utc};
use neurohub_core::auth::Authorized;
use neurohub_core::pagination::Page;
use neurohub_core::rawjson::RawJson;
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
    /// Status of a product model: lots are created only for ACTIVE ones.
    ProductModelStatus {
        Active => "ACTIVE",
        Inactive => "INACTIVE",
        Discontinued => "DISCONTINUED",
    }
);

/// The status of a request body, or the field error (collected with the others, so the body's fields stay
/// strings and every bad field is named at once).
fn check_status(c: &mut Checker, value: &str) -> Option<ProductModelStatus> {
    let s = ProductModelStatus::parse(value);
    if s.is_none() {
        c.add(
            "status",
            format!("status must be one of {}", ProductModelStatus::allowed()),
        );
    }
    s
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct ProductModel {
    pub id: i64,
    /// 3 characters `A-Z 0-9`, unique; part of the lot number.
    pub model_code: String,
    pub model_name: String,
    pub category: Option<String>,
    /// ACTIVE, INACTIVE or DISCONTINUED.
    pub status: ProductModelStatus,
    /// Passed through as stored (`RawJson`): any JSON the database took is answered as it is. Parsed into a
    /// `serde_json::Value`, a number PostgreSQL keeps exactly (`1.7976931348623155e+308`, 309 digits) did not fit
    /// an f64 on the way back and made every later read of the model a 500 (found by the API fuzzer).
    #[schema(value_type = Object)]
    pub specifications: RawJson,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, model_code, model_name, category, status, specifications, created_at, updated_at";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProductModel {
    pub model_code: String,
    pub model_name: String,
    pub category: Option<String>,
    /// Default ACTIVE. (Text, so a bad value is named together with the other bad fields.)
    #[schema(value_type = Option<ProductModelStatus>)]
    pub status: Option<String>,
    /// A JSON object (default `{}`).
    #[schema(value_type = Option<Object>)]
    pub specifications: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductModelPatch {
    pub model_name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    #[schema(value_type = Option<ProductModelStatus>)]
    pub status: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub specifications: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductModelFilter {
    /// ACTIVE, INACTIVE or DISCONTINUED.
    #[param(value_type = Option<ProductModelStatus>)]
    pub status: Option<String>,
    pub category: Option<String>,
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn check_code(c: &mut Checker, code: &str) {
    if !(code.len() == 3
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
    {
        c.add(
            "model_code",
            "model_code must be 3 characters of A-Z and 0-9",
        );
    }
}

fn check_specs(c: &mut Checker, specs: Option<&serde_json::Value>) {
    if let Some(v) = specs {
        if !v.is_object() {
            c.add("specifications", "specifications must be a JSON object");
        }
    }
}

/// List product models by id (one statement).
#[utoipa::path(
    get, path = "/product-models", tag = "product-models", security(("bearer" = [])),
    params(ProductModelFilter),
    responses(
        (status = 200, description = "A page of product models", body = Page<ProductModel>),
        (status = 400, description = "INVALID_QUERY / INVALID_CURSOR", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiQuery(f): ApiQuery<ProductModelFilter>,
) -> ApiResult<ApiJson<Page<ProductModel>>> {
    let list = List::<ById>::fixed(f.limit, f.cursor.as_deref())?;
    let status = match f.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(ProductModelStatus::parse(s).ok_or_else(|| {
            validate::bad_query("status", "status must be ACTIVE, INACTIVE or DISCONTINUED")
        })?),
    };
    let mut qb =
        QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM product_models WHERE TRUE"));
    if let Some(s) = status {
        qb.push(" AND status = ").push_bind(s);
    }
    if let Some(c) = f.category.as_deref().filter(|s| !s.is_empty()) {
        qb.push(" AND category = ").push_bind(c.to_string());
    }
    list.push_after(&mut qb);
    qb.push(list.order_and_limit());
    let rows: Vec<ProductModel> = qb
        .build_query_as()
        .persistent(false)
        .fetch_all(&mut *st.read_conn().await?)
        .await?;
    Ok(ApiJson(list.page(rows, |r, _| vec![r.id.into()])))
}

/// One product model.
#[utoipa::path(
    get, path = "/product-models/{id}", tag = "product-models", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Product model id")),
    responses(
        (status = 200, description = "The product model", body = ProductModel),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_one(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<ProductModel>> {
    sqlx::query_as::<_, ProductModel>(&format!(
        "SELECT {COLUMNS} FROM product_models WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&st.pool)
    .await?
    .map(ApiJson)
    .ok_or_else(|| ApiError::not_found("product model"))
}

/// Create a product model.
#[utoipa::path(
    post, path = "/product-models", tag = "product-models", security(("bearer" = [])),
    request_body = NewProductModel,
    responses(
        (status = 201, description = "Created", body = ProductModel, headers(("location" = String, description = "URL of the model"))),
        (status = 409, description = "DUPLICATE model_code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED, every bad field named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(st): State<AppState>,
    user: Authorized<policy::Manage>,
    ApiJson(b): ApiJson<NewProductModel>,
) -> ApiResult<Created<ProductModel>> {
    let mut c = Checker::default();
    check_code(&mut c, &b.model_code);
    let name = c.text("model_name", &b.model_name, 200);
    let category = c.opt_text("category", b.category.as_deref(), 100);
    let status = match b.status.as_deref() {
        None => Some(ProductModelStatus::Active),
        Some(s) => check_status(&mut c, s),
    };
    check_specs(&mut c, b.specifications.as_ref());
    c.finish()?;

    let mut tx = neurohub_core::context::begin(&st.pool, &user.ctx).await?;
    let row = sqlx::query_as::<_, ProductModel>(&format!(
        "INSERT INTO product_models (model_code, model_name, category, status, specifications) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    ))
    .bind(&b.model_code)
    .bind(&name)
    .bind(&category)
    .bind(status)
    .bind(b.specifications.unwrap_or_else(|| serde_json::json!({})))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(created(format!("/api/v1/product-models/{}", row.id), row))
}

/// Change a product model (partial). Retire it with `status` DISCONTINUED or INACTIVE.
#[utoipa::path(
    patch, path = "/product-models/{id}", tag = "product-models", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Product model id")),
    request_body = ProductModelPatch,
    responses(
        (status = 200, description = "The changed model", body = ProductModel),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(st): State<AppState>,
    user: Authorized<policy::Manage>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(p): ApiJson<ProductModelPatch>,
) -> ApiResult<ApiJson<ProductModel>> {
    let mut c = Checker::for_patch(
        p.model_name.is_some()
            || p.category.is_some()
            || p.status.is_some()
            || p.specifications.is_some(),
    );
    let name = p
        .model_name
        .as_deref()
        .map(|v| c.text("model_name", v, 200));
    let category = p
        .category
        .as_ref()
        .map(|v| c.opt_text("category", v.as_deref(), 100));
    let status = p.status.as_deref().and_then(|s| check_status(&mut c, s));
    check_specs(&mut c, p.specifications.as_ref());
    c.finish()?;

    let mut tx = neurohub_core::context::begin(&st.pool, &user.ctx).await?;
    let row = sqlx::query_as::<_, ProductModel>(&format!(
        "UPDATE product_models SET model_name = COALESCE($2, model_name), \
            category = CASE WHEN $3 THEN $4 ELSE category END, \
            status = COALESCE($5, status), specifications = COALESCE($6, specifications) \
          WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(name)
    .bind(category.is_some())
    .bind(category.flatten())
    .bind(status)
    .bind(p.specifications)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("product model"))?;
    tx.commit().await?;
    Ok(ApiJson(row))
}
