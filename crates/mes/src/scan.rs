//! GET /scan/{code}: a station scans a label and learns what it is and what it may do next — ONE statement.
//!
//! The code is classified by its format (crate::numbers): a lot number (13 chars), a serial number (16 chars) or
//! a WIP id (`WIP-{lot}-{seq}`). Malformed → 400 UNKNOWN_CODE_FORMAT; well-formed but absent → 404.

use crate::policy;
use axum::extract::State;
use chrono::{DateTime, Utc};
use neurohub_core::auth::Authorized;
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::numbers::{LotNumber, SerialNumber, WipId};
use crate::state::{LotStatus, ProcessResult, SerialStatus, UnitStatus, WipStatus};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(utoipa_axum::routes!(scan))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CodeKind {
    Lot,
    Wip,
    Serial,
}

/// What a scanned string is, by its format alone.
pub fn classify(code: &str) -> Option<CodeKind> {
    if WipId::parse(code).is_ok() {
        Some(CodeKind::Wip)
    } else if SerialNumber::parse(code).is_ok() {
        Some(CodeKind::Serial)
    } else if LotNumber::parse(code).is_ok() {
        Some(CodeKind::Lot)
    } else {
        None
    }
}

/// What the station may do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NextAction {
    /// Start `process` for the unit.
    Start,
    /// The unit has an open record at `process`: complete it.
    CompleteOpen,
    /// The unit FAILED: rework or scrap it first.
    ReworkRequired,
    Scrapped,
    Completed,
    /// The lot is ON_HOLD, COMPLETED or CLOSED: no station work.
    LotNotActive,
    /// A lot was scanned: scan a unit (or record LOT-level work).
    ScanUnit,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProcessRef {
    pub id: i64,
    pub process_number: i32,
    pub process_code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NextStep {
    pub action: NextAction,
    pub process: Option<ProcessRef>,
    /// Human-readable: "start 3 SENSOR_INSPECTION", "rework required", "scrapped", "completed", ...
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OpenRecord {
    pub id: i64,
    pub process_id: i64,
    pub process_number: i32,
    pub process_code: String,
    pub operator_id: i64,
    pub operator_username: String,
    pub started_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LastCompleted {
    pub id: i64,
    pub process_id: i64,
    pub process_number: i32,
    pub process_code: String,
    pub result: ProcessResult,
    pub attempt: i32,
    pub completed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScanLot {
    pub id: i64,
    pub lot_number: String,
    pub status: LotStatus,
    pub product_model_id: i64,
    pub model_code: String,
    pub model_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScanUnit {
    pub wip_item_id: Option<i64>,
    pub wip_id: Option<String>,
    pub wip_status: Option<String>,
    pub serial_id: Option<i64>,
    pub serial_number: Option<String>,
    /// The unit's status: its serial's once converted, else its WIP item's.
    pub status: String,
    pub rework_count: i32,
    /// Why the unit was scrapped (set with status SCRAPPED).
    pub scrap_reason: Option<String>,
}

/// The answer of a scan.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScanResult {
    /// What the scanned code is.
    pub kind: CodeKind,
    pub code: String,
    pub lot: ScanLot,
    /// The unit (absent for a lot).
    pub unit: Option<ScanUnit>,
    /// The unit's open record; for a lot, its open LOT-level records.
    pub open_records: Vec<OpenRecord>,
    pub last_completed: Option<LastCompleted>,
    pub next: NextStep,
    /// For a lot: unit counts by status, `{"wip_items": {"CREATED": 3}, "serials": {...}}`.
    #[schema(value_type = Option<Object>)]
    pub unit_counts: Option<serde_json::Value>,
}

#[derive(sqlx::FromRow)]
struct UnitRow {
    wip_item_id: Option<i64>,
    wip_code: Option<String>,
    wip_status: Option<WipStatus>,
    serial_id: Option<i64>,
    serial_number: Option<String>,
    serial_status: Option<SerialStatus>,
    rework_count: i32,
    scrap_reason: Option<String>,
    lot_id: i64,
    lot_number: String,
    lot_status: LotStatus,
    product_model_id: i64,
    model_code: String,
    model_name: String,
    open_record: Option<Json<OpenRecord>>,
    last_completed: Option<Json<LastCompleted>>,
    next_process: Option<Json<ProcessRef>>,
}

/// The unit (WIP item by its WIP id, or serial by its number), its lot and model, its open record, its last
/// completed record and its next active process without a PASS — one statement.
const UNIT_SQL: &str = "\
WITH u AS (
    SELECT w.id AS wip_item_id, w.wip_id AS wip_code, w.status AS wip_status, s.id AS serial_id, s.serial_number,
           s.status AS serial_status, COALESCE(s.rework_count, w.rework_count) AS rework_count,
           COALESCE(s.scrap_reason, w.scrap_reason) AS scrap_reason, w.lot_id
      FROM wip_items w LEFT JOIN serials s ON s.id = w.serial_id
     WHERE w.wip_id = $1
    UNION ALL
    SELECT w.id, w.wip_id, w.status, s.id, s.serial_number, s.status, s.rework_count, s.scrap_reason, s.lot_id
      FROM serials s LEFT JOIN wip_items w ON w.serial_id = s.id
     WHERE s.serial_number = $1
)
SELECT u.wip_item_id, u.wip_code, u.wip_status, u.serial_id, u.serial_number, u.serial_status, u.rework_count,
       u.scrap_reason,
       l.id AS lot_id, l.lot_number, l.status AS lot_status, pm.id AS product_model_id, pm.model_code, pm.model_name,
       (SELECT json_build_object('id', x.id, 'process_id', x.process_id, 'process_number', p.process_number,
                                 'process_code', p.process_code, 'operator_id', x.operator_id,
                                 'operator_username', us.username, 'started_at', x.started_at)
          FROM process_data x JOIN processes p ON p.id = x.process_id JOIN users us ON us.id = x.operator_id
         WHERE x.data_level <> 'LOT' AND (x.wip_id = u.wip_item_id OR x.serial_id = u.serial_id)
           AND x.completed_at IS NULL
         ORDER BY x.started_at DESC, x.id DESC LIMIT 1) AS open_record,
       (SELECT json_build_object('id', x.id, 'process_id', x.process_id, 'process_number', p.process_number,
                                 'process_code', p.process_code, 'result', x.result, 'attempt', x.attempt,
                                 'completed_at', x.completed_at)
          FROM process_data x JOIN processes p ON p.id = x.process_id
         WHERE x.data_level <> 'LOT' AND (x.wip_id = u.wip_item_id OR x.serial_id = u.serial_id)
           AND x.completed_at IS NOT NULL
         ORDER BY x.completed_at DESC, x.id DESC LIMIT 1) AS last_completed,
       (SELECT json_build_object('id', p.id, 'process_number', p.process_number, 'process_code', p.process_code)
          FROM processes p
         WHERE p.is_active AND NOT EXISTS (
                 SELECT 1 FROM process_data x
                  WHERE x.process_id = p.id AND x.result = 'PASS' AND x.data_level <> 'LOT'
                    AND (x.wip_id = u.wip_item_id OR x.serial_id = u.serial_id))
         ORDER BY p.process_number LIMIT 1) AS next_process
  FROM u
  JOIN lots l ON l.id = u.lot_id
  JOIN product_models pm ON pm.id = l.product_model_id
 LIMIT 1";

#[derive(sqlx::FromRow)]
struct LotRow {
    lot_id: i64,
    lot_number: String,
    lot_status: LotStatus,
    product_model_id: i64,
    model_code: String,
    model_name: String,
    open_records: Json<Vec<OpenRecord>>,
    unit_counts: serde_json::Value,
}

const LOT_SQL: &str = "\
SELECT l.id AS lot_id, l.lot_number, l.status AS lot_status, pm.id AS product_model_id, pm.model_code, pm.model_name,
       COALESCE((SELECT json_agg(json_build_object('id', x.id, 'process_id', x.process_id,
                                                   'process_number', p.process_number, 'process_code', p.process_code,
                                                   'operator_id', x.operator_id, 'operator_username', us.username,
                                                   'started_at', x.started_at) ORDER BY x.started_at, x.id)
                   FROM process_data x JOIN processes p ON p.id = x.process_id JOIN users us ON us.id = x.operator_id
                  WHERE x.lot_id = l.id AND x.data_level = 'LOT' AND x.completed_at IS NULL), '[]'::json) AS open_records,
       json_build_object(
           'wip_items', COALESCE((SELECT json_object_agg(c.status, c.n) FROM
                                    (SELECT status, count(*) AS n FROM wip_items WHERE lot_id = l.id GROUP BY status) c),
                                 '{}'::json),
           'serials', COALESCE((SELECT json_object_agg(c.status, c.n) FROM
                                  (SELECT status, count(*) AS n FROM serials WHERE lot_id = l.id GROUP BY status) c),
                               '{}'::json)) AS unit_counts
  FROM lots l JOIN product_models pm ON pm.id = l.product_model_id
 WHERE l.lot_number = $1";

/// The next step of a unit from its status, its lot's status, its open record and its next process.
pub fn next_step(
    status: UnitStatus,
    lot_status: LotStatus,
    open: Option<&OpenRecord>,
    next: Option<&ProcessRef>,
) -> NextStep {
    let step = |action, process: Option<ProcessRef>, message: String| NextStep {
        action,
        process,
        message,
    };
    use UnitStatus::{Serial, Wip};
    match status {
        Wip(WipStatus::Scrapped) | Serial(SerialStatus::Scrapped) => {
            step(NextAction::Scrapped, None, "scrapped".into())
        }
        Serial(SerialStatus::Completed) => step(NextAction::Completed, None, "completed".into()),
        Wip(WipStatus::Failed) | Serial(SerialStatus::Failed) => step(
            NextAction::ReworkRequired,
            None,
            "rework required (or scrap)".into(),
        ),
        _ if !lot_status.is_active() => step(
            NextAction::LotNotActive,
            None,
            format!("lot is {lot_status}"),
        ),
        _ => match (open, next) {
            (Some(o), _) => step(
                NextAction::CompleteOpen,
                Some(ProcessRef {
                    id: o.process_id,
                    process_number: o.process_number,
                    process_code: o.process_code.clone(),
                }),
                format!(
                    "complete {} {} (record {})",
                    o.process_number, o.process_code, o.id
                ),
            ),
            (None, Some(p)) => step(
                NextAction::Start,
                Some(p.clone()),
                format!("start {} {}", p.process_number, p.process_code),
            ),
            (None, None) => step(NextAction::Completed, None, "completed".into()),
        },
    }
}

/// Look a scanned code up. ONE statement.
#[utoipa::path(get, path = "/scan/{code}", tag = "scan", security(("bearer" = [])),
    params(("code" = String, Path, description = "lot number, WIP id or serial number")),
    responses((status = 200, body = ScanResult),
              (status = 400, description = "UNKNOWN_CODE_FORMAT", body = neurohub_core::Problem),
              (status = 404, body = neurohub_core::Problem)))]
pub async fn scan(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<ApiJson<ScanResult>> {
    let code = code.trim().to_string();
    let kind = classify(&code).ok_or_else(|| {
        ApiError::bad_request(
            "UNKNOWN_CODE_FORMAT",
            "not a lot number, WIP id or serial number",
        )
        .with_field(
            "code",
            "expected e.g. KR01PSA251101, WIP-KR01PSA251101-001 or KR01PSA251101001",
        )
    })?;
    if kind == CodeKind::Lot {
        let r = sqlx::query_as::<_, LotRow>(LOT_SQL)
            .bind(&code)
            .fetch_optional(&st.pool)
            .await?
            .ok_or_else(|| ApiError::not_found("lot"))?;
        let next = if r.lot_status.is_active() {
            NextStep {
                action: NextAction::ScanUnit,
                process: None,
                message: "scan a unit of this lot".into(),
            }
        } else {
            NextStep {
                action: NextAction::LotNotActive,
                process: None,
                message: format!("lot is {}", r.lot_status),
            }
        };
        return Ok(ApiJson(ScanResult {
            kind,
            code,
            lot: ScanLot {
                id: r.lot_id,
                lot_number: r.lot_number,
                status: r.lot_status,
                product_model_id: r.product_model_id,
                model_code: r.model_code,
                model_name: r.model_name,
            },
            unit: None,
            open_records: r.open_records.0,
            last_completed: None,
            next,
            unit_counts: Some(r.unit_counts),
        }));
    }
    let r = sqlx::query_as::<_, UnitRow>(UNIT_SQL)
        .bind(&code)
        .fetch_optional(&st.pool)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(if kind == CodeKind::Wip {
                "WIP item"
            } else {
                "serial"
            })
        })?;
    // the unit's status: its serial's once converted, else its WIP item's (each decoded by its own enum)
    let status = match (r.serial_status, r.wip_status) {
        (Some(s), _) => UnitStatus::Serial(s),
        (None, Some(w)) => UnitStatus::Wip(w),
        (None, None) => return Err(ApiError::internal("scanned unit without a status")),
    };
    let open = r.open_record.map(|j| j.0);
    let next = next_step(
        status,
        r.lot_status,
        open.as_ref(),
        r.next_process.as_ref().map(|j| &j.0),
    );
    Ok(ApiJson(ScanResult {
        kind,
        code,
        lot: ScanLot {
            id: r.lot_id,
            lot_number: r.lot_number,
            status: r.lot_status,
            product_model_id: r.product_model_id,
            model_code: r.model_code,
            model_name: r.model_name,
        },
        unit: Some(ScanUnit {
            wip_item_id: r.wip_item_id,
            wip_id: r.wip_code,
            wip_status: r.wip_status.map(|s| s.as_str().to_string()),
            serial_id: r.serial_id,
            serial_number: r.serial_number,
            status: status.as_str().to_string(),
            rework_count: r.rework_count,
            scrap_reason: r.scrap_reason,
        }),
        open_records: open.into_iter().collect(),
        last_completed: r.last_completed.map(|j| j.0),
        next,
        unit_counts: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified_by_format() {
        assert_eq!(classify("KR01PSA251101"), Some(CodeKind::Lot));
        assert_eq!(classify("KR01PSA251101001"), Some(CodeKind::Serial));
        assert_eq!(classify("WIP-KR01PSA251101-001"), Some(CodeKind::Wip));
        assert_eq!(classify("KR01PSA251100"), None);
        assert_eq!(classify("hello"), None);
        assert_eq!(classify(""), None);
    }

    #[test]
    fn next_steps() {
        let p = ProcessRef {
            id: 3,
            process_number: 3,
            process_code: "SENSOR_INSPECTION".into(),
        };
        assert_eq!(
            next_step(
                UnitStatus::Wip(WipStatus::InProgress),
                LotStatus::InProgress,
                None,
                Some(&p)
            )
            .action,
            NextAction::Start
        );
        assert_eq!(
            next_step(
                UnitStatus::Serial(SerialStatus::Failed),
                LotStatus::InProgress,
                None,
                Some(&p)
            )
            .action,
            NextAction::ReworkRequired
        );
        assert_eq!(
            next_step(
                UnitStatus::Wip(WipStatus::Scrapped),
                LotStatus::InProgress,
                None,
                None
            )
            .action,
            NextAction::Scrapped
        );
        assert_eq!(
            next_step(
                UnitStatus::Serial(SerialStatus::Completed),
                LotStatus::Completed,
                None,
                None
            )
            .action,
            NextAction::Completed
        );
        assert_eq!(
            next_step(
                UnitStatus::Wip(WipStatus::Created),
                LotStatus::OnHold,
                None,
                Some(&p)
            )
            .action,
            NextAction::LotNotActive
        );
        let o = OpenRecord {
            id: 9,
            process_id: 3,
            process_number: 3,
            process_code: "SENSOR_INSPECTION".into(),
            operator_id: 1,
            operator_username: "op".into(),
            started_at: Utc::now(),
        };
        let s = next_step(
            UnitStatus::Serial(SerialStatus::InProgress),
            LotStatus::InProgress,
            Some(&o),
            Some(&p),
        );
        assert_eq!(
            (s.action, s.process.unwrap().process_number),
            (NextAction::CompleteOpen, 3)
        );
    }
}
