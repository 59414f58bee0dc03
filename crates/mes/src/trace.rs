//! Genealogy. Forward: a unit's whole history (lot, model, line, WIP → serial link, every record with operator,
//! equipment, times, result, measurements, defects, criteria check and attempt) — ONE statement. Backward: every
//! unit an operator or a piece of equipment touched in a time window, for recalls — ONE statement, keyset paged.

use crate::policy;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use neurohub_core::auth::Authorized;
use neurohub_core::pagination::{Key, List, Page};
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::numbers::{SerialNumber, WipId};
use crate::state::{DataLevel, LotStatus, ProcessResult};
use neurohub_core::rawjson::RawJson;
use neurohub_core::validate::bad_query;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(utoipa_axum::routes!(trace_serial))
        .routes(utoipa_axum::routes!(trace_wip))
        .routes(utoipa_axum::routes!(backward))
}

/// Longest window of a backward trace.
pub const MAX_WINDOW_DAYS: i64 = 31;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TraceOperator {
    pub id: i64,
    pub username: String,
    pub full_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TraceEquipment {
    pub id: i64,
    pub code: String,
    pub name: String,
}

/// One process record in a genealogy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TraceRecord {
    pub id: i64,
    pub data_level: DataLevel,
    pub process_id: i64,
    pub process_number: i32,
    pub process_code: String,
    pub process_name: String,
    /// 1, 2, ...: repeated attempts at one process are its rework history.
    pub attempt: i32,
    pub operator: TraceOperator,
    pub equipment: Option<TraceEquipment>,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<i32>,
    pub result: Option<ProcessResult>,
    #[schema(value_type = Option<Object>)]
    pub measurements: Option<serde_json::Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub defects: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub criteria_check: Option<serde_json::Value>,
    pub criteria_passed: Option<bool>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TraceLot {
    pub id: i64,
    pub lot_number: String,
    pub status: LotStatus,
    pub production_date: NaiveDate,
    pub shift: Option<String>,
    pub target_quantity: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TraceModel {
    pub id: i64,
    pub model_code: String,
    pub model_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TraceLine {
    pub id: i64,
    pub country_code: String,
    pub line_code: String,
    pub name: String,
}

/// The genealogy of one unit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Genealogy {
    pub lot: TraceLot,
    pub product_model: TraceModel,
    pub production_line: Option<TraceLine>,
    pub wip_item_id: Option<i64>,
    pub wip_id: Option<String>,
    pub wip_status: Option<String>,
    pub serial_id: Option<i64>,
    pub serial_number: Option<String>,
    pub serial_created_at: Option<DateTime<Utc>>,
    pub serial_completed_at: Option<DateTime<Utc>>,
    /// The unit's status (its serial's once converted).
    pub status: String,
    pub rework_count: i32,
    /// Why the unit was scrapped (set with status SCRAPPED).
    pub scrap_reason: Option<String>,
    /// Every WIP- and SERIAL-level record of the unit, in start order. Built as JSON by the statement and passed
    /// through (`neurohub_core::rawjson`): measured on the reference set, decoding a trace's records into
    /// structs and encoding them again was most of the server's CPU per trace.
    #[schema(value_type = Vec<TraceRecord>)]
    pub records: RawJson,
    /// LOT-level records of its lot, in start order (passed through like `records`).
    #[schema(value_type = Vec<TraceRecord>)]
    pub lot_records: RawJson,
}

#[derive(sqlx::FromRow)]
struct GenealogyRow {
    lot: Json<TraceLot>,
    product_model: Json<TraceModel>,
    production_line: Option<Json<TraceLine>>,
    wip_item_id: Option<i64>,
    wip_code: Option<String>,
    wip_status: Option<String>,
    serial_id: Option<i64>,
    serial_number: Option<String>,
    serial_created_at: Option<DateTime<Utc>>,
    serial_completed_at: Option<DateTime<Utc>>,
    status: String,
    rework_count: i32,
    scrap_reason: Option<String>,
    records: RawJson,
    lot_records: RawJson,
}

macro_rules! record_json {
    () => {
        "json_build_object('id', x.id, 'data_level', x.data_level, 'process_id', x.process_id, \
         'process_number', p.process_number, 'process_code', p.process_code, 'process_name', p.process_name_en, \
         'attempt', x.attempt, \
         'operator', json_build_object('id', us.id, 'username', us.username, 'full_name', us.full_name), \
         'equipment', CASE WHEN e.id IS NULL THEN NULL ELSE json_build_object('id', e.id, 'code', e.equipment_code, 'name', e.name) END, \
         'started_at', x.started_at, 'completed_at', x.completed_at, 'duration_seconds', x.duration_seconds, \
         'result', x.result, 'measurements', x.measurements, 'defects', x.defects, \
         'criteria_check', x.criteria_check, 'criteria_passed', x.criteria_passed, 'notes', x.notes) \
         ORDER BY x.started_at, x.id"
    };
}

macro_rules! record_from {
    () => {
        "FROM process_data x JOIN processes p ON p.id = x.process_id JOIN users us ON us.id = x.operator_id \
         LEFT JOIN equipment e ON e.id = x.equipment_id"
    };
}

const GENEALOGY_SQL: &str = concat!(
    "WITH u AS (
        SELECT w.id AS wip_item_id, w.wip_id AS wip_code, w.status AS wip_status, s.id AS serial_id, s.serial_number,
               s.created_at AS serial_created_at, s.completed_at AS serial_completed_at,
               COALESCE(s.status, w.status) AS status, COALESCE(s.rework_count, w.rework_count) AS rework_count,
               COALESCE(s.scrap_reason, w.scrap_reason) AS scrap_reason, w.lot_id
          FROM wip_items w LEFT JOIN serials s ON s.id = w.serial_id
         WHERE w.wip_id = $1
        UNION ALL
        SELECT w.id, w.wip_id, w.status, s.id, s.serial_number, s.created_at, s.completed_at, s.status,
               s.rework_count, s.scrap_reason, s.lot_id
          FROM serials s LEFT JOIN wip_items w ON w.serial_id = s.id
         WHERE s.serial_number = $2
    )
    SELECT json_build_object('id', l.id, 'lot_number', l.lot_number, 'status', l.status,
                             'production_date', l.production_date, 'shift', l.shift,
                             'target_quantity', l.target_quantity) AS lot,
           json_build_object('id', pm.id, 'model_code', pm.model_code, 'model_name', pm.model_name) AS product_model,
           CASE WHEN pl.id IS NULL THEN NULL ELSE json_build_object('id', pl.id, 'country_code', pl.country_code,
                'line_code', pl.line_code, 'name', pl.name) END AS production_line,
           u.wip_item_id, u.wip_code, u.wip_status, u.serial_id, u.serial_number, u.serial_created_at,
           u.serial_completed_at, u.status, u.rework_count, u.scrap_reason,
           COALESCE((SELECT json_agg(",
    record_json!(),
    ") ",
    record_from!(),
    " WHERE x.data_level <> 'LOT' AND (x.wip_id = u.wip_item_id OR x.serial_id = u.serial_id)), '[]'::json) AS records,
           COALESCE((SELECT json_agg(",
    record_json!(),
    ") ",
    record_from!(),
    " WHERE x.lot_id = l.id AND x.data_level = 'LOT'), '[]'::json) AS lot_records
      FROM u
      JOIN lots l ON l.id = u.lot_id
      JOIN product_models pm ON pm.id = l.product_model_id
      LEFT JOIN production_lines pl ON pl.id = l.production_line_id
     LIMIT 1"
);

async fn genealogy(
    st: &AppState,
    wip_code: Option<&str>,
    serial_number: Option<&str>,
) -> ApiResult<Genealogy> {
    let r =
        neurohub_core::read_retry!(st, |pool| sqlx::query_as::<_, GenealogyRow>(GENEALOGY_SQL)
            .bind(wip_code)
            .bind(serial_number)
            .fetch_optional(pool)
            .await)?
        .ok_or_else(|| {
            ApiError::not_found(if wip_code.is_some() {
                "WIP item"
            } else {
                "serial"
            })
        })?;
    Ok(Genealogy {
        lot: r.lot.0,
        product_model: r.product_model.0,
        production_line: r.production_line.map(|j| j.0),
        wip_item_id: r.wip_item_id,
        wip_id: r.wip_code,
        wip_status: r.wip_status,
        serial_id: r.serial_id,
        serial_number: r.serial_number,
        serial_created_at: r.serial_created_at,
        serial_completed_at: r.serial_completed_at,
        status: r.status,
        rework_count: r.rework_count,
        scrap_reason: r.scrap_reason,
        records: r.records,
        lot_records: r.lot_records,
    })
}

/// Full genealogy of a serial (including the records of the WIP item it came from). ONE statement.
#[utoipa::path(get, path = "/trace/serials/{serial_number}", tag = "trace", security(("bearer" = [])),
    params(("serial_number" = String, Path, description = "e.g. KR01PSA251101001")),
    responses((status = 200, body = Genealogy), (status = 400, body = neurohub_core::Problem),
              (status = 404, body = neurohub_core::Problem)))]
pub async fn trace_serial(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiPath(serial_number): ApiPath<String>,
) -> ApiResult<ApiJson<Genealogy>> {
    SerialNumber::parse(&serial_number).map_err(|e| {
        ApiError::bad_request("INVALID_PATH", e.to_string())
            .with_field("serial_number", e.to_string())
    })?;
    Ok(ApiJson(genealogy(&st, None, Some(&serial_number)).await?))
}

/// Full genealogy of a WIP item (and of its serial once converted). ONE statement.
#[utoipa::path(get, path = "/trace/wip-items/{wip_id}", tag = "trace", security(("bearer" = [])),
    params(("wip_id" = String, Path, description = "e.g. WIP-KR01PSA251101-001")),
    responses((status = 200, body = Genealogy), (status = 400, body = neurohub_core::Problem),
              (status = 404, body = neurohub_core::Problem)))]
pub async fn trace_wip(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiPath(wip_id): ApiPath<String>,
) -> ApiResult<ApiJson<Genealogy>> {
    WipId::parse(&wip_id).map_err(|e| {
        ApiError::bad_request("INVALID_PATH", e.to_string()).with_field("wip_id", e.to_string())
    })?;
    Ok(ApiJson(genealogy(&st, Some(&wip_id), None).await?))
}

// ------------------------------------------------------------------------------------------------------------
// Backward
// ------------------------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BackwardQuery {
    /// Units this operator recorded work on (give operator_id, equipment_id or both).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub operator_id: Option<i64>,
    /// Units processed on this equipment.
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub equipment_id: Option<i64>,
    /// Window start (records started at or after), RFC 3339. Required.
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub from: Option<DateTime<Utc>>,
    /// Window end (records started before), RFC 3339. Required; at most 31 days after `from`.
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub to: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A unit (or a lot, for LOT-level work) touched in the window.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct TouchedUnit {
    /// LOT for LOT-level work; WIP for a unit (its serial, if any, is given too); SERIAL for a serial without a
    /// WIP item.
    pub kind: String,
    pub lot_id: i64,
    pub lot_number: String,
    pub wip_item_id: Option<i64>,
    pub wip_id: Option<String>,
    pub serial_id: Option<i64>,
    pub serial_number: Option<String>,
    /// Current status of the unit (of the lot for LOT).
    pub status: String,
    /// Records in the window.
    pub records: i64,
    pub process_codes: Vec<String>,
    pub first_started_at: DateTime<Utc>,
    pub last_started_at: DateTime<Utc>,
    #[serde(skip)]
    #[schema(ignore)]
    pub unit_rank: i32,
    #[serde(skip)]
    #[schema(ignore)]
    pub unit_key: i64,
}

neurohub_core::fixed_sort!(
    /// Units in (lot, rank, unit key) order; rank 0 = LOT-level, 1 = WIP item, 2 = serial without a WIP item.
    ByUnit, "unit", Asc, [Key::int("t.lot_id"), Key::int("t.unit_rank"), Key::int("t.unit_key")]
);

/// Every unit an operator and/or a piece of equipment touched in a window (recalls). Keyset paged by
/// (lot, unit); ONE statement. The window is required and at most 31 days.
#[utoipa::path(get, path = "/trace/backward", tag = "trace", security(("bearer" = [])), params(BackwardQuery),
    responses((status = 200, body = Page<TouchedUnit>), (status = 400, body = neurohub_core::Problem)))]
pub async fn backward(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiQuery(q): ApiQuery<BackwardQuery>,
) -> ApiResult<ApiJson<Page<TouchedUnit>>> {
    let list = List::<ByUnit>::fixed(q.limit, q.cursor.as_deref())?;
    if q.operator_id.is_none() && q.equipment_id.is_none() {
        return Err(bad_query("operator_id", "give operator_id or equipment_id"));
    }
    let (Some(from), Some(to)) = (q.from, q.to) else {
        return Err(bad_query(
            if q.from.is_none() { "from" } else { "to" },
            "the window (from and to) is required",
        ));
    };
    if to <= from {
        return Err(bad_query("to", "to must be after from"));
    }
    if to - from > chrono::Duration::days(MAX_WINDOW_DAYS) {
        return Err(bad_query("to", "the window is at most 31 days"));
    }

    // unit key: (lot, rank, id) with rank 0 = LOT-level, 1 = WIP item (records of it and of its serial),
    // 2 = serial without a WIP item.
    // `t` is MATERIALIZED so the window is read through idx_process_data_operator / _equipment (operator or
    // equipment, started_at) first and grouped afterwards. Inlined, the planner walked idx_process_data_lot in
    // the page's (lot, unit) order hoping to fill the LIMIT early and filtered 695 k of 823 k records away to
    // find the 139 of the busiest operator's busiest month: 243.7 ms in EXPLAIN ANALYZE on the reference set
    // (bench/results/2026-12-02.md, "The slowest statements"). The window is at most 31 days of one operator
    // or one piece of equipment, so the materialized set stays small.
    let mut qb = QueryBuilder::<Postgres>::new(
        "WITH t AS MATERIALIZED (
            SELECT x.lot_id,
                   CASE WHEN x.wip_id IS NOT NULL THEN 1 WHEN x.serial_id IS NOT NULL THEN 2 ELSE 0 END AS unit_rank,
                   COALESCE(x.wip_id, x.serial_id, x.lot_id) AS unit_key,
                   x.process_id, x.started_at
              FROM process_data x
             WHERE x.started_at >= ",
    );
    qb.push_bind(from)
        .push(" AND x.started_at < ")
        .push_bind(to);
    if let Some(op) = q.operator_id {
        qb.push(" AND x.operator_id = ").push_bind(op);
    }
    if let Some(eq) = q.equipment_id {
        qb.push(" AND x.equipment_id = ").push_bind(eq);
    }
    qb.push(
        "), g AS (
            SELECT t.lot_id, t.unit_rank, t.unit_key, count(*) AS records, min(t.started_at) AS first_started_at,
                   max(t.started_at) AS last_started_at, array_agg(DISTINCT p.process_code::text) AS process_codes
              FROM t JOIN processes p ON p.id = t.process_id",
    );
    qb.push(" WHERE TRUE");
    list.push_after(&mut qb);
    qb.push(" GROUP BY t.lot_id, t.unit_rank, t.unit_key");
    qb.push(list.order_and_limit());
    qb.push(
        ")
        SELECT CASE g.unit_rank WHEN 0 THEN 'LOT' WHEN 1 THEN 'WIP' ELSE 'SERIAL' END AS kind,
               g.lot_id, l.lot_number,
               w.id AS wip_item_id, w.wip_id,
               COALESCE(s1.id, s2.id) AS serial_id, COALESCE(s1.serial_number, s2.serial_number) AS serial_number,
               CASE g.unit_rank WHEN 0 THEN l.status WHEN 1 THEN COALESCE(s1.status, w.status) ELSE s2.status END AS status,
               g.records, g.process_codes, g.first_started_at, g.last_started_at, g.unit_rank, g.unit_key
          FROM g
          JOIN lots l ON l.id = g.lot_id
          LEFT JOIN wip_items w ON g.unit_rank = 1 AND w.id = g.unit_key
          LEFT JOIN serials s1 ON s1.id = w.serial_id
          LEFT JOIN serials s2 ON g.unit_rank = 2 AND s2.id = g.unit_key
         ORDER BY g.lot_id, g.unit_rank, g.unit_key",
    );
    let rows = qb
        .build_query_as::<TouchedUnit>()
        .persistent(false)
        .fetch_all(&mut *st.read_conn().await?)
        .await?;
    Ok(ApiJson(list.page(rows, |r, _| {
        vec![r.lot_id.into(), r.unit_rank.into(), r.unit_key.into()]
    })))
}

#[cfg(test)]
mod tests {
    #[test]
    fn genealogy_sql_is_one_statement() {
        assert!(!super::GENEALOGY_SQL.contains(';'));
        assert_eq!(super::GENEALOGY_SQL.matches("json_agg(").count(), 2);
    }
}
