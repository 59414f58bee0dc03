//! The eight manufacturing processes: fixed (no create, no delete), read by every role; ADMIN/MANAGER may change
//! their quality criteria, estimated duration, description and active flag. A deactivated process is skipped by
//! the sequence rule.

use crate::policy;
use axum::extract::State;
use chrono::{DateTime, Utc};
use neurohub_core::auth::Authorized;
use neurohub_core::pagination::Page;
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState, Problem};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use neurohub_core::pagination::{Key, List};
use neurohub_core::validate::{self, Checker};
use sqlx::{Postgres, QueryBuilder};

neurohub_core::fixed_sort!(
    /// Processes in flow order.
    ByNumber, "process_number", Asc, [Key::int("process_number")]
);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_one, update))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Process {
    pub id: i64,
    /// 1..8, the order of the flow.
    pub process_number: i32,
    pub process_code: String,
    pub process_name_ko: String,
    pub process_name_en: String,
    pub description: Option<String>,
    pub estimated_duration_seconds: Option<i32>,
    /// `{ "<measurement>": {"min": n, "max": n, "unit": "..", "required": bool} }`
    #[schema(value_type = Object)]
    pub quality_criteria: Value,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, process_number, process_code, process_name_ko, process_name_en, description, \
                       estimated_duration_seconds, quality_criteria, is_active, created_at, updated_at";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessPatch {
    /// Replaces the whole criteria object.
    #[schema(value_type = Option<Object>)]
    pub quality_criteria: Option<Value>,
    /// `null` clears it; otherwise 1..=86400.
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<i32>)]
    pub estimated_duration_seconds: Option<Option<i64>>,
    /// `false`: the sequence rule skips this process.
    pub is_active: Option<bool>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProcessFilter {
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub is_active: Option<bool>,
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Check the shape of `quality_criteria`: an object of measurement name → `{min?: number, max?: number,
/// unit?: string, required?: bool}` with `min <= max`. Every problem is reported with its JSON path.
pub(crate) fn check_quality_criteria(c: &mut Checker, field: &str, criteria: &Value) {
    let Some(map) = criteria.as_object() else {
        c.add(
            field,
            "quality_criteria must be an object of measurement name → criteria",
        );
        return;
    };
    for (name, spec) in map {
        let path = format!("{field}.{name}");
        if name.trim().is_empty() || name.chars().count() > 100 {
            c.add(&path, "measurement names must be 1 to 100 characters");
        }
        let Some(spec) = spec.as_object() else {
            c.add(
                &path,
                "criteria must be an object {min?, max?, unit?, required?}",
            );
            continue;
        };
        for (key, v) in spec {
            let p = format!("{path}.{key}");
            match key.as_str() {
                "min" | "max" if !v.is_number() => c.add(p, format!("{key} must be a number")),
                "unit" if !v.is_string() => c.add(p, "unit must be a string"),
                "required" if !v.is_boolean() => c.add(p, "required must be true or false"),
                "min" | "max" | "unit" | "required" => {}
                _ => c.add(
                    p,
                    format!("unknown key `{key}`; expected min, max, unit or required"),
                ),
            }
        }
        if let (Some(min), Some(max)) = (
            spec.get("min").and_then(Value::as_f64),
            spec.get("max").and_then(Value::as_f64),
        ) {
            if min > max {
                c.add(format!("{path}.min"), "min must not be greater than max");
            }
        }
    }
}

/// List processes in flow order (one statement).
#[utoipa::path(
    get, path = "/processes", tag = "processes", security(("bearer" = [])),
    params(ProcessFilter),
    responses(
        (status = 200, description = "A page of processes, by process_number", body = Page<Process>),
        (status = 400, description = "INVALID_QUERY / INVALID_CURSOR", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiQuery(f): ApiQuery<ProcessFilter>,
) -> ApiResult<ApiJson<Page<Process>>> {
    let list = List::<ByNumber>::fixed(f.limit, f.cursor.as_deref())?;
    let mut qb =
        QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM processes WHERE TRUE"));
    if let Some(active) = f.is_active {
        qb.push(" AND is_active = ").push_bind(active);
    }
    list.push_after(&mut qb);
    qb.push(list.order_and_limit());
    let rows: Vec<Process> = qb
        .build_query_as()
        .persistent(false)
        .fetch_all(&mut *st.read_conn().await?)
        .await?;
    Ok(ApiJson(
        list.page(rows, |r, _| vec![r.process_number.into()]),
    ))
}

/// One process.
#[utoipa::path(
    get, path = "/processes/{id}", tag = "processes", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Process id")),
    responses(
        (status = 200, description = "The process", body = Process),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_one(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<Process>> {
    sqlx::query_as::<_, Process>(&format!("SELECT {COLUMNS} FROM processes WHERE id = $1"))
        .bind(id)
        .fetch_optional(&st.pool)
        .await?
        .map(ApiJson)
        .ok_or_else(|| ApiError::not_found("process"))
}

/// Change a process's criteria, estimated duration, description or active flag.
#[utoipa::path(
    patch, path = "/processes/{id}", tag = "processes", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Process id")),
    request_body = ProcessPatch,
    responses(
        (status = 200, description = "The changed process", body = Process),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED, every bad field named (e.g. quality_criteria.torque_nm.min)",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(st): State<AppState>,
    user: Authorized<policy::Manage>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(p): ApiJson<ProcessPatch>,
) -> ApiResult<ApiJson<Process>> {
    let mut c = Checker::for_patch(
        p.quality_criteria.is_some()
            || p.estimated_duration_seconds.is_some()
            || p.is_active.is_some()
            || p.description.is_some(),
    );
    if let Some(q) = &p.quality_criteria {
        check_quality_criteria(&mut c, "quality_criteria", q);
    }
    if let Some(Some(d)) = p.estimated_duration_seconds {
        if !(1..=86_400).contains(&d) {
            c.add(
                "estimated_duration_seconds",
                "estimated_duration_seconds must be between 1 and 86400",
            );
        }
    }
    let description = p
        .description
        .as_ref()
        .map(|d| c.opt_text("description", d.as_deref(), 2000));
    c.finish()?;

    let mut tx = neurohub_core::context::begin(&st.pool, &user.ctx).await?;
    let row = sqlx::query_as::<_, Process>(&format!(
        "UPDATE processes SET quality_criteria = COALESCE($2, quality_criteria), \
            estimated_duration_seconds = CASE WHEN $3 THEN $4 ELSE estimated_duration_seconds END, \
            is_active = COALESCE($5, is_active), \
            description = CASE WHEN $6 THEN $7 ELSE description END \
          WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(p.quality_criteria)
    .bind(p.estimated_duration_seconds.is_some())
    .bind(p.estimated_duration_seconds.flatten().map(|d| d as i32))
    .bind(p.is_active)
    .bind(description.is_some())
    .bind(description.flatten())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("process"))?;
    tx.commit().await?;
    Ok(ApiJson(row))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Vec<String> {
        let mut c = Checker::default();
        check_quality_criteria(&mut c, "quality_criteria", &v);
        let mut f: Vec<String> = c
            .finish()
            .err()
            .map(|e| e.errors.into_iter().map(|f| f.field).collect())
            .unwrap_or_default();
        f.sort();
        f
    }

    #[test]
    fn good_criteria_pass() {
        assert!(fields(json!({})).is_empty());
        assert!(fields(
            json!({"torque_nm": {"min": 1.8, "max": 2.2, "unit": "Nm", "required": true}})
        )
        .is_empty());
        assert!(fields(json!({"ok": {"min": 1, "max": 1}, "any": {}})).is_empty());
    }

    #[test]
    fn every_bad_part_is_named() {
        assert_eq!(fields(json!([1])), ["quality_criteria"]);
        assert_eq!(
            fields(json!({
                "a": 5,
                "b": {"min": "x", "max": 1, "unit": 3, "required": "yes", "extra": 1},
                "c": {"min": 3, "max": 2}
            })),
            [
                "quality_criteria.a",
                "quality_criteria.b.extra",
                "quality_criteria.b.min",
                "quality_criteria.b.required",
                "quality_criteria.b.unit",
                "quality_criteria.c.min"
            ]
        );
    }
}
