//! GET /dashboard (any role): one day's production at a glance — ONE statement (CTEs).
//!
//! - throughput per process: unit-level records (WIP / SERIAL) completed that day (the plant's day: midnight to
//!   midnight in the plant time zone; today there by default, or `?date=`), split by result;
//! - first-pass yield per process: PASS on attempt 1 / completed attempt-1 records;
//! - open WIP per process: unfinished units (WIP items not converted or scrapped, serials not completed or
//!   scrapped, of lots not COMPLETED / CLOSED) at their open record's process (`in_process`), else at their next
//!   active process without a PASS (`waiting`), FAILED units at the process they failed (`failed`). Where a unit
//!   stands is view `open_unit_positions` (migration 0011); triggers keep it counted per lot and process in
//!   `lot_process_wip` in the transaction of each change, so this reads one row per open lot and process instead
//!   of three lookups per open unit (1.35–3.5 s with 100–160 k open units before; docs/performance.md);
//! - defects by code over that day's completed records (`jsonb_array_elements` of `defects`).
//!
//! LOT-level records are not counted (they are not units).

use crate::policy;
use axum::extract::State;
use chrono::NaiveDate;
use neurohub_core::auth::Authorized;
use neurohub_core::{ApiJson, ApiQuery, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(utoipa_axum::routes!(dashboard))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// The plant's day (YYYY-MM-DD, in the plant time zone); the plant's today by default.
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    #[param(value_type = Option<String>, format = Date)]
    pub date: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProcessStats {
    pub process_id: i64,
    pub process_number: i32,
    pub process_code: String,
    pub is_active: bool,
    /// Unit-level records completed that day.
    pub completed: i64,
    pub pass: i64,
    pub fail: i64,
    pub rework: i64,
    /// Completed records that were a unit's first attempt at the process.
    pub first_attempts: i64,
    /// ... of which PASS.
    pub first_pass: i64,
    /// first_pass / first_attempts (NULL when there were none).
    #[serde(default)]
    pub first_pass_yield: Option<f64>,
    /// in_process + waiting + failed.
    pub open_wip: i64,
    pub in_process: i64,
    pub waiting: i64,
    pub failed: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DefectCount {
    pub code: String,
    pub count: i64,
    pub minor: i64,
    pub major: i64,
    pub critical: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Dashboard {
    pub date: NaiveDate,
    pub processes: Vec<ProcessStats>,
    pub defects: Vec<DefectCount>,
}

#[derive(sqlx::FromRow)]
struct Row {
    day: NaiveDate,
    processes: Json<Vec<ProcessStats>>,
    defects: Json<Vec<DefectCount>>,
}

/// The one statement of `GET /dashboard` (`$1` = the day, a `date`, NULL for the plant's today; `$2` = the plant
/// time zone, whose midnights bound the day). Public so that the server's tests EXPLAIN
/// the query that really runs (the day filter of CTE `done` must use `idx_process_data_completed_at`).
pub const SQL: &str = "\
WITH bounds AS (
    SELECT d.day, d.day::timestamp AT TIME ZONE $2 AS lo, (d.day + 1)::timestamp AT TIME ZONE $2 AS hi
      FROM (SELECT COALESCE($1::date, (now() AT TIME ZONE $2)::date) AS day) d
),
done AS (
    SELECT x.process_id, x.result, x.attempt, x.defects
      FROM process_data x, bounds b
     WHERE x.completed_at >= b.lo AND x.completed_at < b.hi AND x.data_level <> 'LOT'
),
thr AS (
    SELECT process_id, count(*) AS completed,
           count(*) FILTER (WHERE result = 'PASS') AS pass,
           count(*) FILTER (WHERE result = 'FAIL') AS fail,
           count(*) FILTER (WHERE result = 'REWORK') AS rework,
           count(*) FILTER (WHERE attempt = 1) AS first_attempts,
           count(*) FILTER (WHERE attempt = 1 AND result = 'PASS') AS first_pass
      FROM done GROUP BY process_id
),
wip AS (
    SELECT c.process_id, sum(c.in_process)::bigint AS in_process, sum(c.waiting)::bigint AS waiting,
           sum(c.failed)::bigint AS failed
      FROM lot_process_wip c JOIN lots l ON l.id = c.lot_id
     WHERE l.status IN ('CREATED', 'IN_PROGRESS', 'ON_HOLD')
     GROUP BY c.process_id
),
def AS (
    SELECT d ->> 'code' AS code, count(*) AS n,
           count(*) FILTER (WHERE d ->> 'severity' = 'MINOR') AS minor,
           count(*) FILTER (WHERE d ->> 'severity' = 'MAJOR') AS major,
           count(*) FILTER (WHERE d ->> 'severity' = 'CRITICAL') AS critical
      FROM done
      CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(done.defects) = 'array' THEN done.defects ELSE '[]'::jsonb END) AS d
     GROUP BY d ->> 'code'
)
SELECT
    (SELECT day FROM bounds) AS day,
    (SELECT json_agg(json_build_object(
                'process_id', p.id, 'process_number', p.process_number, 'process_code', p.process_code,
                'is_active', p.is_active,
                'completed', COALESCE(t.completed, 0), 'pass', COALESCE(t.pass, 0), 'fail', COALESCE(t.fail, 0),
                'rework', COALESCE(t.rework, 0), 'first_attempts', COALESCE(t.first_attempts, 0),
                'first_pass', COALESCE(t.first_pass, 0),
                'open_wip', COALESCE(w.in_process + w.waiting + w.failed, 0),
                'in_process', COALESCE(w.in_process, 0), 'waiting', COALESCE(w.waiting, 0),
                'failed', COALESCE(w.failed, 0)) ORDER BY p.process_number)
       FROM processes p LEFT JOIN thr t ON t.process_id = p.id LEFT JOIN wip w ON w.process_id = p.id) AS processes,
    COALESCE((SELECT json_agg(json_build_object('code', code, 'count', n, 'minor', minor, 'major', major,
                                                'critical', critical) ORDER BY n DESC, code)
                FROM def), '[]'::json) AS defects";

/// One day's throughput, first-pass yield, open WIP and defects per process. ONE statement.
#[utoipa::path(get, path = "/dashboard", tag = "dashboard", security(("bearer" = [])), params(DashboardQuery),
    responses((status = 200, body = Dashboard), (status = 400, body = neurohub_core::Problem)))]
pub async fn dashboard(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiQuery(q): ApiQuery<DashboardQuery>,
) -> ApiResult<ApiJson<Dashboard>> {
    let zone = st
        .extension::<crate::settings::MesSettings>()
        .plant_time_zone;
    let row = neurohub_core::read_retry!(st, |pool| sqlx::query_as::<_, Row>(SQL)
        .bind(q.date)
        .bind(zone.as_str())
        .fetch_one(pool)
        .await)?;
    let mut processes = row.processes.0;
    for p in &mut processes {
        p.first_pass_yield = first_pass_yield(p.first_pass, p.first_attempts);
    }
    Ok(ApiJson(Dashboard {
        date: row.day,
        processes,
        defects: row.defects.0,
    }))
}

pub fn first_pass_yield(first_pass: i64, first_attempts: i64) -> Option<f64> {
    (first_attempts > 0).then(|| first_pass as f64 / first_attempts as f64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn yield_is_a_ratio_or_nothing() {
        assert_eq!(super::first_pass_yield(0, 0), None);
        assert_eq!(super::first_pass_yield(3, 4), Some(0.75));
    }
}
