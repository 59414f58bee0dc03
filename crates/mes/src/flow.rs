//! The production flow: what starting and completing a process does to a unit and its lot, in one transaction.
//!
//! The rules (docs/production-flow.md is the long form):
//! - a unit is a WIP item until its label is printed (the PASS of the conversion process, LABEL_PRINTING = 7),
//!   then a serial; records of a WIP item are WIP-level, records of a serial are SERIAL-level (with `wip_id` still
//!   pointing at the originating WIP item), LOT-level records cover the lot as a whole;
//! - a unit may start process N only with a PASS at every earlier active process; one open record per unit and
//!   process; FAILED / SCRAPPED / COMPLETED units start nothing; ON_HOLD / CLOSED / COMPLETED lots accept no work;
//! - PASS advances (and converts / completes), FAIL fails the unit, REWORK re-opens the same process (or scraps
//!   the unit past `max_rework`); a lot completes when all its units are completed or scrapped.
//!
//! Row locks are always taken in the order lot → WIP item → serial → process record, so two stations never
//! deadlock; the lot lock also serializes the "is every unit done?" decision.

use std::collections::HashSet;

use axum::extract::State;
use neurohub_core::auth::{can, policy, AuthUser, Authorized};
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiResult, AppState, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::PgConnection;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::numbers::{LotNumber, SerialNumber, WipId};
use crate::state::{DataLevel, LotStatus, ProcessResult, SerialStatus, Severity, WipStatus};

/// LABEL_PRINTING: its PASS turns a WIP item into a serial (if it is inactive, the next active process does).
pub const CONVERSION_PROCESS_NUMBER: i32 = 7;
pub const MAX_MEASUREMENTS: usize = 100;
pub const MAX_DEFECTS: usize = 100;
pub const MAX_NOTES: usize = 2000;

// ------------------------------------------------------------------------------------------------------------
// Processes and the route through them
// ------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProcessInfo {
    pub id: i64,
    pub process_number: i32,
    pub process_code: String,
    pub is_active: bool,
    pub quality_criteria: Value,
}

/// The processes in process-number order.
#[derive(Debug, Clone)]
pub struct Route(pub Vec<ProcessInfo>);

impl Route {
    pub async fn load(conn: &mut PgConnection) -> Result<Route, sqlx::Error> {
        let rows = sqlx::query_as::<_, ProcessInfo>(
            "SELECT id, process_number, process_code, is_active, quality_criteria FROM processes ORDER BY process_number",
        )
        .fetch_all(conn)
        .await?;
        Ok(Route(rows))
    }

    pub fn by_id(&self, id: i64) -> Option<&ProcessInfo> {
        self.0.iter().find(|p| p.id == id)
    }

    pub fn by_number(&self, n: i32) -> Option<&ProcessInfo> {
        self.0.iter().find(|p| p.process_number == n)
    }

    fn active(&self) -> impl Iterator<Item = &ProcessInfo> {
        self.0.iter().filter(|p| p.is_active)
    }

    /// Active processes before `number` without a PASS.
    pub fn missing_before(&self, number: i32, passed: &HashSet<i64>) -> Vec<&ProcessInfo> {
        self.active()
            .filter(|p| p.process_number < number && !passed.contains(&p.id))
            .collect()
    }

    /// The first active process without a PASS: where the unit goes next.
    pub fn next(&self, passed: &HashSet<i64>) -> Option<&ProcessInfo> {
        self.active().find(|p| !passed.contains(&p.id))
    }

    pub fn last_active_number(&self) -> Option<i32> {
        self.active().map(|p| p.process_number).max()
    }

    /// The process whose PASS converts a WIP item into a serial: LABEL_PRINTING, or the first active process
    /// after it when it is inactive, or the last active process when none is.
    pub fn conversion_number(&self) -> Option<i32> {
        self.active()
            .map(|p| p.process_number)
            .find(|n| *n >= CONVERSION_PROCESS_NUMBER)
            .or_else(|| self.last_active_number())
    }
}

// ------------------------------------------------------------------------------------------------------------
// Request bodies and their validation
// ------------------------------------------------------------------------------------------------------------

/// Which unit (or lot) a record is for: exactly one of these.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitSelector {
    /// WIP id as printed, e.g. `WIP-KR01PSA251101-001` (a converted WIP item resolves to its serial).
    pub wip_id: Option<String>,
    /// Serial number, e.g. `KR01PSA251101001`.
    pub serial_number: Option<String>,
    /// Lot number, for a LOT-level record.
    pub lot_number: Option<String>,
    /// Database id of a WIP item.
    pub wip_item_id: Option<i64>,
    /// Database id of a serial.
    pub serial_id: Option<i64>,
    /// Database id of a lot, for a LOT-level record.
    pub lot_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitRef {
    WipCode(String),
    WipItemId(i64),
    SerialNumber(String),
    SerialId(i64),
    LotNumber(String),
    LotId(i64),
}

impl UnitSelector {
    pub fn to_ref(&self) -> Result<UnitRef, FieldError> {
        let mut found = Vec::new();
        if let Some(v) = &self.wip_id {
            found.push(UnitRef::WipCode(v.trim().to_string()));
        }
        if let Some(v) = &self.serial_number {
            found.push(UnitRef::SerialNumber(v.trim().to_string()));
        }
        if let Some(v) = &self.lot_number {
            found.push(UnitRef::LotNumber(v.trim().to_string()));
        }
        if let Some(v) = self.wip_item_id {
            found.push(UnitRef::WipItemId(v));
        }
        if let Some(v) = self.serial_id {
            found.push(UnitRef::SerialId(v));
        }
        if let Some(v) = self.lot_id {
            found.push(UnitRef::LotId(v));
        }
        if found.len() != 1 {
            return Err(fe(
                "unit",
                "give exactly one of wip_id, serial_number, lot_number, wip_item_id, serial_id, lot_id",
            ));
        }
        let r = found.remove(0);
        let bad = match &r {
            UnitRef::WipCode(s) => WipId::parse(s)
                .err()
                .map(|e| ("unit.wip_id", e.to_string())),
            UnitRef::SerialNumber(s) => SerialNumber::parse(s)
                .err()
                .map(|e| ("unit.serial_number", e.to_string())),
            UnitRef::LotNumber(s) => LotNumber::parse(s)
                .err()
                .map(|e| ("unit.lot_number", e.to_string())),
            _ => None,
        };
        match bad {
            Some((field, msg)) => Err(fe(field, msg)),
            None => Ok(r),
        }
    }
}

/// POST /process-data/start
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartProcess {
    /// The process, by id ...
    pub process_id: Option<i64>,
    /// ... or by number (1..8); exactly one of the two.
    pub process_number: Option<i32>,
    pub unit: UnitSelector,
    pub equipment_id: Option<i64>,
    pub notes: Option<String>,
}

/// One defect of a FAIL (or REWORK).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Defect {
    pub code: String,
    pub description: String,
    pub severity: Severity,
}

/// POST /process-data/{id}/complete
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteProcess {
    pub result: ProcessResult,
    /// Flat object of numbers, strings and booleans (at most 100 keys), checked against the process's
    /// `quality_criteria`.
    #[schema(value_type = Option<Object>)]
    pub measurements: Option<Map<String, Value>>,
    /// Required (at least one) for FAIL, forbidden for PASS, optional for REWORK.
    pub defects: Option<Vec<Defect>>,
    pub notes: Option<String>,
}

/// POST /process-data/batch-complete: a LOT-level record started and completed in one go (or the open one
/// completed).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchComplete {
    pub lot_number: Option<String>,
    pub lot_id: Option<i64>,
    pub process_id: Option<i64>,
    pub process_number: Option<i32>,
    pub result: ProcessResult,
    #[schema(value_type = Option<Object>)]
    pub measurements: Option<Map<String, Value>>,
    pub defects: Option<Vec<Defect>>,
    pub equipment_id: Option<i64>,
    pub notes: Option<String>,
}

fn fe(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

fn check_notes(notes: &Option<String>, errors: &mut Vec<FieldError>) {
    if let Some(n) = notes {
        if n.chars().count() > MAX_NOTES {
            errors.push(fe("notes", format!("at most {MAX_NOTES} characters")));
        }
    }
}

fn check_process_choice(id: Option<i64>, number: Option<i32>, errors: &mut Vec<FieldError>) {
    match (id, number) {
        (Some(_), None) => {}
        (None, Some(n)) if (1..=8).contains(&n) => {}
        (None, Some(_)) => errors.push(fe("process_number", "must be between 1 and 8")),
        _ => errors.push(fe(
            "process_id",
            "give exactly one of process_id and process_number",
        )),
    }
}

impl StartProcess {
    pub fn validate(&self) -> Result<UnitRef, ApiError> {
        let mut errors = Vec::new();
        check_process_choice(self.process_id, self.process_number, &mut errors);
        check_notes(&self.notes, &mut errors);
        let unit = self.unit.to_ref().map_err(|e| errors.push(e)).ok();
        match unit {
            Some(u) if errors.is_empty() => Ok(u),
            _ => Err(ApiError::validation_many(errors)),
        }
    }
}

/// Shape rules of a completion that need no database: result vs defects, measurement values, lengths.
pub fn validate_completion(
    result: ProcessResult,
    measurements: &Option<Map<String, Value>>,
    defects: &Option<Vec<Defect>>,
    notes: &Option<String>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let n_defects = defects.as_ref().map_or(0, Vec::len);
    match result {
        ProcessResult::Pass if n_defects > 0 => {
            errors.push(fe("defects", "a PASS must have no defects"))
        }
        ProcessResult::Fail if n_defects == 0 => {
            errors.push(fe("defects", "a FAIL needs at least one defect"))
        }
        _ => {}
    }
    if n_defects > MAX_DEFECTS {
        errors.push(fe("defects", format!("at most {MAX_DEFECTS} defects")));
    }
    for (i, d) in defects.iter().flatten().enumerate() {
        let code = d.code.trim();
        if code.is_empty() || code.chars().count() > 50 {
            errors.push(fe(format!("defects[{i}].code"), "1 to 50 characters"));
        }
        if d.description.trim().is_empty() || d.description.chars().count() > 1000 {
            errors.push(fe(
                format!("defects[{i}].description"),
                "1 to 1000 characters",
            ));
        }
    }
    if let Some(m) = measurements {
        if m.len() > MAX_MEASUREMENTS {
            errors.push(fe(
                "measurements",
                format!("at most {MAX_MEASUREMENTS} measurements"),
            ));
        }
        for (k, v) in m {
            if k.is_empty() || k.chars().count() > 100 {
                errors.push(fe(
                    format!("measurements.{k}"),
                    "measurement names have 1 to 100 characters",
                ));
            }
            match v {
                Value::Number(_) | Value::Bool(_) => {}
                Value::String(s) if s.chars().count() <= 500 => {}
                Value::String(_) => errors.push(fe(
                    format!("measurements.{k}"),
                    "text values have at most 500 characters",
                )),
                _ => errors.push(fe(
                    format!("measurements.{k}"),
                    "must be a number, a string or a boolean",
                )),
            }
        }
    }
    check_notes(notes, &mut errors);
    errors
}

impl CompleteProcess {
    pub fn validate(&self) -> Result<(), ApiError> {
        let errors =
            validate_completion(self.result, &self.measurements, &self.defects, &self.notes);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation_many(errors))
        }
    }
}

impl BatchComplete {
    pub fn validate(&self) -> Result<UnitRef, ApiError> {
        let mut errors =
            validate_completion(self.result, &self.measurements, &self.defects, &self.notes);
        check_process_choice(self.process_id, self.process_number, &mut errors);
        let sel = UnitSelector {
            lot_number: self.lot_number.clone(),
            lot_id: self.lot_id,
            ..Default::default()
        };
        let lot = match sel.to_ref() {
            Ok(r) => Some(r),
            Err(e) => {
                let field = if e.field == "unit" {
                    "lot_number".to_string()
                } else {
                    e.field.replace("unit.", "")
                };
                let message = if e.field == "unit" {
                    "give exactly one of lot_number and lot_id".to_string()
                } else {
                    e.message
                };
                errors.push(fe(field, message));
                None
            }
        };
        match lot {
            Some(l) if errors.is_empty() => Ok(l),
            _ => Err(ApiError::validation_many(errors)),
        }
    }
}

// ------------------------------------------------------------------------------------------------------------
// Quality criteria
// ------------------------------------------------------------------------------------------------------------

/// The per-measurement check of a completion against `processes.quality_criteria`.
#[derive(Debug, Clone, PartialEq)]
pub struct CriteriaOutcome {
    /// Stored in `process_data.criteria_check`: `{name: {value, min, max, unit, required, passed, reason?}}`.
    pub check: Option<Value>,
    /// Stored in `process_data.criteria_passed`; NULL when the process has no criteria.
    pub passed: Option<bool>,
    /// Required measurements that are absent.
    pub missing: Vec<FieldError>,
    /// Measurements outside their bounds (or of the wrong type).
    pub violations: Vec<FieldError>,
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Check measurements against criteria. Booleans count as 1 / 0 (so `{"min": 1, "max": 1}` means "must be
/// true"); a text value under a bounded criterion fails; measurements without a criterion are stored unchecked.
pub fn check_criteria(
    criteria: &Value,
    measurements: Option<&Map<String, Value>>,
) -> CriteriaOutcome {
    let Some(crit) = criteria.as_object().filter(|c| !c.is_empty()) else {
        return CriteriaOutcome {
            check: None,
            passed: None,
            missing: vec![],
            violations: vec![],
        };
    };
    let empty = Map::new();
    let m = measurements.unwrap_or(&empty);
    let mut check = Map::new();
    let mut missing = Vec::new();
    let mut violations = Vec::new();
    let mut all_ok = true;
    for (name, rule) in crit {
        let min = rule.get("min").and_then(Value::as_f64);
        let max = rule.get("max").and_then(Value::as_f64);
        let required = rule
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut entry = Map::new();
        entry.insert(
            "min".into(),
            rule.get("min").cloned().unwrap_or(Value::Null),
        );
        entry.insert(
            "max".into(),
            rule.get("max").cloned().unwrap_or(Value::Null),
        );
        entry.insert(
            "unit".into(),
            rule.get("unit").cloned().unwrap_or(Value::Null),
        );
        entry.insert("required".into(), Value::Bool(required));
        match m.get(name) {
            None => {
                entry.insert("value".into(), Value::Null);
                entry.insert(
                    "passed".into(),
                    if required {
                        Value::Bool(false)
                    } else {
                        Value::Null
                    },
                );
                entry.insert("reason".into(), Value::String("missing".into()));
                if required {
                    all_ok = false;
                    missing.push(fe(
                        format!("measurements.{name}"),
                        "required measurement is missing",
                    ));
                }
            }
            Some(v) => {
                entry.insert("value".into(), v.clone());
                let reason = if min.is_none() && max.is_none() {
                    None
                } else {
                    match as_number(v) {
                        None => Some("not a number".to_string()),
                        Some(x) if min.is_some_and(|lo| x < lo) => {
                            Some(format!("below the minimum {}", fmt_num(min)))
                        }
                        Some(x) if max.is_some_and(|hi| x > hi) => {
                            Some(format!("above the maximum {}", fmt_num(max)))
                        }
                        Some(_) => None,
                    }
                };
                entry.insert("passed".into(), Value::Bool(reason.is_none()));
                if let Some(r) = reason {
                    all_ok = false;
                    violations.push(fe(format!("measurements.{name}"), format!("{v} is {r}")));
                    entry.insert("reason".into(), Value::String(r));
                }
            }
        }
        check.insert(name.clone(), Value::Object(entry));
    }
    CriteriaOutcome {
        check: Some(Value::Object(check)),
        passed: Some(all_ok),
        missing,
        violations,
    }
}

fn fmt_num(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

// ------------------------------------------------------------------------------------------------------------
// Responses
// ------------------------------------------------------------------------------------------------------------

/// A process record with the names a station shows (one statement: joins, no per-row lookups).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct ProcessRecord {
    pub id: i64,
    pub lot_id: i64,
    pub lot_number: String,
    pub data_level: DataLevel,
    /// Database id of the WIP item (also set on SERIAL-level records: the originating WIP item).
    pub wip_id: Option<i64>,
    /// The WIP item's printed id, e.g. `WIP-KR01PSA251101-001`.
    pub wip_code: Option<String>,
    pub serial_id: Option<i64>,
    pub serial_number: Option<String>,
    pub process_id: i64,
    pub process_number: i32,
    pub process_code: String,
    pub operator_id: i64,
    pub operator_username: String,
    pub equipment_id: Option<i64>,
    pub equipment_code: Option<String>,
    /// NULL while the record is open.
    pub result: Option<ProcessResult>,
    #[schema(value_type = Option<Object>)]
    pub measurements: Option<Value>,
    #[schema(value_type = Option<Vec<Defect>>)]
    pub defects: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub criteria_check: Option<Value>,
    pub criteria_passed: Option<bool>,
    /// 1 for the first record of this unit (or lot, for LOT level) at this process, 2 after a rework, ...
    pub attempt: i32,
    pub notes: Option<String>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub completed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub duration_seconds: Option<i32>,
}

/// Columns of [`ProcessRecord`] over `pd` (a process_data row or CTE) and [`RECORD_JOINS`].
pub const RECORD_COLUMNS: &str = "pd.id, pd.lot_id, l.lot_number, pd.data_level, pd.wip_id, w.wip_id AS wip_code, \
     pd.serial_id, s.serial_number, pd.process_id, p.process_number, p.process_code, pd.operator_id, \
     u.username AS operator_username, pd.equipment_id, e.equipment_code, pd.result, pd.measurements, pd.defects, \
     pd.criteria_check, pd.criteria_passed, pd.attempt, pd.notes, pd.started_at, pd.completed_at, pd.duration_seconds";

pub const RECORD_JOINS: &str = "JOIN lots l ON l.id = pd.lot_id \
     JOIN processes p ON p.id = pd.process_id \
     JOIN users u ON u.id = pd.operator_id \
     LEFT JOIN wip_items w ON w.id = pd.wip_id \
     LEFT JOIN serials s ON s.id = pd.serial_id \
     LEFT JOIN equipment e ON e.id = pd.equipment_id";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UnitKind {
    Wip,
    Serial,
}

/// Where a unit stands after a write.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UnitState {
    pub kind: UnitKind,
    pub wip_item_id: Option<i64>,
    pub wip_id: Option<String>,
    pub serial_id: Option<i64>,
    pub serial_number: Option<String>,
    /// WIP status (CREATED..SCRAPPED) for a WIP item, serial status for a serial.
    pub status: String,
    pub rework_count: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LotState {
    pub id: i64,
    pub lot_number: String,
    pub status: LotStatus,
}

/// Answer of a completion: the record, plus what it did to the unit and the lot.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Completion {
    #[serde(flatten)]
    pub record: ProcessRecord,
    /// The unit after the completion (NULL for LOT-level records).
    pub unit: Option<UnitState>,
    pub lot: LotState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Disposition {
    /// The failed process is open again for the unit (rework_count + 1).
    Rework,
    /// The unit is scrapped.
    Scrapped,
}

/// Answer of POST /wip-items/{id}/rework, /serials/{id}/rework and the scrap endpoints.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DispositionResult {
    pub action: Disposition,
    pub unit: UnitState,
    pub lot: LotState,
    /// The process the unit will redo (REWORK), if known.
    pub reopened_process_id: Option<i64>,
}

// ------------------------------------------------------------------------------------------------------------
// Locked rows
// ------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LockedLot {
    pub id: i64,
    pub lot_number: String,
    pub status: LotStatus,
    pub production_line_id: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WipRow {
    pub id: i64,
    pub wip_id: String,
    pub status: WipStatus,
    pub rework_count: i32,
    pub serial_id: Option<i64>,
    pub sequence_in_lot: i32,
    pub current_process_id: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SerialRow {
    pub id: i64,
    pub serial_number: String,
    pub status: SerialStatus,
    pub rework_count: i32,
}

/// A unit with its lot, all locked FOR UPDATE. `serial` is set once the WIP item is converted.
#[derive(Debug, Clone)]
pub struct LockedUnit {
    pub lot: LockedLot,
    pub wip: Option<WipRow>,
    pub serial: Option<SerialRow>,
}

impl LockedUnit {
    pub fn kind(&self) -> UnitKind {
        if self.serial.is_some() {
            UnitKind::Serial
        } else {
            UnitKind::Wip
        }
    }

    pub fn state(&self) -> UnitState {
        UnitState {
            kind: self.kind(),
            wip_item_id: self.wip.as_ref().map(|w| w.id),
            wip_id: self.wip.as_ref().map(|w| w.wip_id.clone()),
            serial_id: self.serial.as_ref().map(|s| s.id),
            serial_number: self.serial.as_ref().map(|s| s.serial_number.clone()),
            status: self.status_str().to_string(),
            rework_count: self.rework_count(),
        }
    }

    fn status_str(&self) -> &'static str {
        match (&self.serial, &self.wip) {
            (Some(s), _) => s.status.as_str(),
            (None, Some(w)) => w.status.as_str(),
            (None, None) => "UNKNOWN",
        }
    }

    pub fn rework_count(&self) -> i32 {
        match (&self.serial, &self.wip) {
            (Some(s), _) => s.rework_count,
            (None, Some(w)) => w.rework_count,
            (None, None) => 0,
        }
    }

    fn wip_pk(&self) -> Option<i64> {
        self.wip.as_ref().map(|w| w.id)
    }

    fn serial_pk(&self) -> Option<i64> {
        self.serial.as_ref().map(|s| s.id)
    }

    fn name(&self) -> String {
        match (&self.serial, &self.wip) {
            (Some(s), _) => format!("serial {}", s.serial_number),
            (None, Some(w)) => format!("WIP item {}", w.wip_id),
            _ => "unit".into(),
        }
    }

    /// What a unit's status allows: only CREATED / IN_PROGRESS units may start or complete work.
    pub fn check_workable(&self) -> Result<(), ApiError> {
        let name = self.name();
        let status = self.status_str();
        match status {
            "CREATED" | "IN_PROGRESS" => Ok(()),
            "SCRAPPED" => Err(ApiError::conflict(
                "UNIT_SCRAPPED",
                format!("{name} is scrapped"),
            )),
            "COMPLETED" => Err(ApiError::conflict(
                "UNIT_COMPLETED",
                format!("{name} is already completed"),
            )),
            "FAILED" => Err(ApiError::conflict(
                "UNIT_FAILED",
                format!(
                    "{name} failed and must be dispositioned first (POST .../rework or .../scrap)"
                ),
            )),
            _ => Err(ApiError::conflict(
                "UNIT_CONVERTED",
                format!("{name} was converted to a serial; use the serial"),
            )),
        }
    }
}

pub fn check_lot_active(lot: &LockedLot) -> Result<(), ApiError> {
    if lot.status.is_active() {
        Ok(())
    } else {
        Err(ApiError::conflict(
            "LOT_NOT_ACTIVE",
            format!(
                "lot {} is {}: no production work can be recorded for it",
                lot.lot_number, lot.status
            ),
        ))
    }
}

const LOT_COLS: &str = "id, lot_number, status, production_line_id";
const WIP_COLS: &str =
    "id, wip_id, status, rework_count, serial_id, sequence_in_lot, current_process_id";
const SERIAL_COLS: &str = "id, serial_number, status, rework_count";

pub async fn lock_lot_by_id(conn: &mut PgConnection, id: i64) -> ApiResult<LockedLot> {
    sqlx::query_as::<_, LockedLot>(&format!(
        "SELECT {LOT_COLS} FROM lots WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| ApiError::not_found("lot"))
}

pub async fn lock_lot(conn: &mut PgConnection, r: &UnitRef) -> ApiResult<LockedLot> {
    match r {
        UnitRef::LotId(id) => lock_lot_by_id(conn, *id).await,
        UnitRef::LotNumber(n) => sqlx::query_as::<_, LockedLot>(&format!(
            "SELECT {LOT_COLS} FROM lots WHERE lot_number = $1 FOR UPDATE"
        ))
        .bind(n)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("lot")),
        _ => Err(ApiError::validation(
            "unit",
            "a lot number or lot id is expected here",
        )),
    }
}

/// Find a unit, then lock its lot, its WIP item and its serial in that order. A WIP item that is (or, while we
/// waited for the lot lock, became) converted is carried on by its serial.
pub async fn lock_unit(conn: &mut PgConnection, r: &UnitRef) -> ApiResult<LockedUnit> {
    let (sql, what) = match r {
        UnitRef::WipCode(_) => ("SELECT lot_id, id, serial_id FROM wip_items WHERE wip_id = $1", "WIP item"),
        UnitRef::WipItemId(_) => ("SELECT lot_id, id, serial_id FROM wip_items WHERE id = $1", "WIP item"),
        UnitRef::SerialNumber(_) => (
            "SELECT s.lot_id, w.id, s.id FROM serials s LEFT JOIN wip_items w ON w.serial_id = s.id WHERE s.serial_number = $1",
            "serial",
        ),
        UnitRef::SerialId(_) => (
            "SELECT s.lot_id, w.id, s.id FROM serials s LEFT JOIN wip_items w ON w.serial_id = s.id WHERE s.id = $1",
            "serial",
        ),
        UnitRef::LotId(_) | UnitRef::LotNumber(_) => {
            return Err(ApiError::validation("unit", "a WIP item or a serial is expected here"))
        }
    };
    let q = sqlx::query_as::<_, (i64, Option<i64>, Option<i64>)>(sql);
    let q = match r {
        UnitRef::WipCode(s) | UnitRef::SerialNumber(s) => q.bind(s.clone()),
        UnitRef::WipItemId(i) | UnitRef::SerialId(i) => q.bind(*i),
        _ => unreachable!("lot refs returned above"),
    };
    let (lot_id, wip_pk, serial_pk) = q
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| ApiError::not_found(what))?;
    lock_unit_ids(conn, lot_id, wip_pk, serial_pk).await
}

pub async fn lock_unit_ids(
    conn: &mut PgConnection,
    lot_id: i64,
    wip_pk: Option<i64>,
    serial_pk: Option<i64>,
) -> ApiResult<LockedUnit> {
    let lot = lock_lot_by_id(conn, lot_id).await?;
    let wip = match wip_pk {
        Some(id) => Some(
            sqlx::query_as::<_, WipRow>(&format!(
                "SELECT {WIP_COLS} FROM wip_items WHERE id = $1 FOR UPDATE"
            ))
            .bind(id)
            .fetch_one(&mut *conn)
            .await?,
        ),
        None => None,
    };
    let serial_pk = wip.as_ref().and_then(|w| w.serial_id).or(serial_pk);
    let serial = match serial_pk {
        Some(id) => Some(
            sqlx::query_as::<_, SerialRow>(&format!(
                "SELECT {SERIAL_COLS} FROM serials WHERE id = $1 FOR UPDATE"
            ))
            .bind(id)
            .fetch_one(&mut *conn)
            .await?,
        ),
        None => None,
    };
    Ok(LockedUnit { lot, wip, serial })
}

// ------------------------------------------------------------------------------------------------------------
// Unit history
// ------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRow {
    pub id: i64,
    pub process_id: i64,
    pub result: Option<ProcessResult>,
    pub is_open: bool,
}

/// Every WIP- and SERIAL-level record of a unit (its WIP item's and its serial's).
pub async fn unit_history(
    conn: &mut PgConnection,
    unit: &LockedUnit,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as::<_, HistoryRow>(
        "SELECT id, process_id, result, completed_at IS NULL AS is_open FROM process_data \
         WHERE data_level <> 'LOT' AND (wip_id = $1 OR serial_id = $2) ORDER BY started_at, id",
    )
    .bind(unit.wip_pk())
    .bind(unit.serial_pk())
    .fetch_all(conn)
    .await
}

pub fn passed_set(history: &[HistoryRow]) -> HashSet<i64> {
    history
        .iter()
        .filter(|h| h.result == Some(ProcessResult::Pass))
        .map(|h| h.process_id)
        .collect()
}

/// The sequence rule for starting `process` given the unit's history.
pub fn check_can_start(
    route: &Route,
    process: &ProcessInfo,
    history: &[HistoryRow],
) -> Result<i32, ApiError> {
    if !process.is_active {
        return Err(ApiError::conflict(
            "PROCESS_INACTIVE",
            format!(
                "process {} {} is not active",
                process.process_number, process.process_code
            ),
        ));
    }
    if history
        .iter()
        .any(|h| h.is_open && h.process_id == process.id)
    {
        return Err(ApiError::conflict(
            "PROCESS_ALREADY_OPEN",
            format!(
                "the unit already has an open record for process {} {}",
                process.process_number, process.process_code
            ),
        )
        .with_field("process_id", "already open for this unit"));
    }
    let passed = passed_set(history);
    if passed.contains(&process.id) {
        return Err(ApiError::conflict(
            "PROCESS_ALREADY_PASSED",
            format!(
                "the unit already passed process {} {}",
                process.process_number, process.process_code
            ),
        )
        .with_field("process_id", "already passed"));
    }
    let missing = route.missing_before(process.process_number, &passed);
    if let Some(first) = missing.first() {
        let mut err = ApiError::conflict(
            "PROCESS_OUT_OF_SEQUENCE",
            format!(
                "process {} {} needs a PASS at process {} {} first",
                process.process_number,
                process.process_code,
                first.process_number,
                first.process_code
            ),
        );
        for m in &missing {
            err = err.with_field(
                "process_id",
                format!(
                    "no PASS yet at process {} {}",
                    m.process_number, m.process_code
                ),
            );
        }
        return Err(err);
    }
    let attempts = history
        .iter()
        .filter(|h| h.process_id == process.id)
        .count() as i32;
    Ok(attempts + 1)
}

// ------------------------------------------------------------------------------------------------------------
// Equipment
// ------------------------------------------------------------------------------------------------------------

async fn check_equipment(
    conn: &mut PgConnection,
    equipment_id: Option<i64>,
    process: &ProcessInfo,
    lot: &LockedLot,
) -> ApiResult<()> {
    let Some(id) = equipment_id else {
        return Ok(());
    };
    type EquipmentRow = (String, String, bool, Option<i64>, Option<i64>);
    let row: Option<EquipmentRow> = sqlx::query_as(
        "SELECT equipment_code, status, is_active, process_id, production_line_id FROM equipment WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    let Some((code, status, active, proc_id, line_id)) = row else {
        return Err(
            ApiError::unprocessable("REFERENCE_NOT_FOUND", "equipment not found")
                .with_field("equipment_id", "does not exist"),
        );
    };
    if !active || status == "OUT_OF_SERVICE" {
        return Err(ApiError::conflict(
            "EQUIPMENT_UNAVAILABLE",
            format!(
                "equipment {code} is {}",
                if active { "OUT_OF_SERVICE" } else { "inactive" }
            ),
        )
        .with_field("equipment_id", "not usable"));
    }
    if proc_id.is_some_and(|p| p != process.id) {
        return Err(ApiError::conflict(
            "EQUIPMENT_PROCESS_MISMATCH",
            format!(
                "equipment {code} belongs to another process than {}",
                process.process_code
            ),
        )
        .with_field("equipment_id", "belongs to another process"));
    }
    if let (Some(el), Some(ll)) = (line_id, lot.production_line_id) {
        if el != ll {
            return Err(ApiError::conflict(
                "EQUIPMENT_LINE_MISMATCH",
                format!(
                    "equipment {code} belongs to another production line than lot {}",
                    lot.lot_number
                ),
            )
            .with_field("equipment_id", "belongs to another production line"));
        }
    }
    Ok(())
}

fn pick_process(route: &Route, id: Option<i64>, number: Option<i32>) -> ApiResult<&ProcessInfo> {
    let found = match (id, number) {
        (Some(id), _) => route.by_id(id),
        (None, Some(n)) => route.by_number(n),
        _ => None,
    };
    found.ok_or_else(|| {
        ApiError::not_found("process").with_field(
            if id.is_some() {
                "process_id"
            } else {
                "process_number"
            },
            "no such process",
        )
    })
}

#[allow(clippy::too_many_arguments)]
async fn insert_record(
    conn: &mut PgConnection,
    lot_id: i64,
    wip_pk: Option<i64>,
    serial_pk: Option<i64>,
    process_id: i64,
    operator_id: i64,
    equipment_id: Option<i64>,
    level: DataLevel,
    attempt: i32,
    notes: &Option<String>,
) -> Result<ProcessRecord, sqlx::Error> {
    let sql = format!(
        "WITH pd AS (INSERT INTO process_data (lot_id, wip_id, serial_id, process_id, operator_id, equipment_id, \
         data_level, attempt, notes, started_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now()) RETURNING *) \
         SELECT {RECORD_COLUMNS} FROM pd {RECORD_JOINS}"
    );
    sqlx::query_as::<_, ProcessRecord>(&sql)
        .bind(lot_id)
        .bind(wip_pk)
        .bind(serial_pk)
        .bind(process_id)
        .bind(operator_id)
        .bind(equipment_id)
        .bind(level)
        .bind(attempt)
        .bind(notes)
        .fetch_one(conn)
        .await
}

async fn lot_to_in_progress(
    conn: &mut PgConnection,
    lot: &mut LockedLot,
) -> Result<(), sqlx::Error> {
    if lot.status == LotStatus::Created {
        sqlx::query("UPDATE lots SET status = 'IN_PROGRESS' WHERE id = $1 AND status = 'CREATED'")
            .bind(lot.id)
            .execute(conn)
            .await?;
        lot.status = LotStatus::InProgress;
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------------------
// Start
// ------------------------------------------------------------------------------------------------------------

/// Start a process for a unit (or a lot): the caller is the operator, started_at is now().
pub async fn start(
    conn: &mut PgConnection,
    user: &AuthUser,
    body: &StartProcess,
    unit_ref: &UnitRef,
) -> ApiResult<ProcessRecord> {
    let route = Route::load(&mut *conn).await?;
    let process = pick_process(&route, body.process_id, body.process_number)?.clone();
    if matches!(unit_ref, UnitRef::LotId(_) | UnitRef::LotNumber(_)) {
        let mut lot = lock_lot(&mut *conn, unit_ref).await?;
        check_lot_active(&lot)?;
        if !process.is_active {
            return Err(ApiError::conflict(
                "PROCESS_INACTIVE",
                format!("process {} is not active", process.process_code),
            ));
        }
        let (open, count): (bool, i64) = sqlx::query_as(
            "SELECT COALESCE(bool_or(completed_at IS NULL), false), count(*) FROM process_data \
             WHERE lot_id = $1 AND process_id = $2 AND data_level = 'LOT'",
        )
        .bind(lot.id)
        .bind(process.id)
        .fetch_one(&mut *conn)
        .await?;
        if open {
            return Err(ApiError::conflict(
                "PROCESS_ALREADY_OPEN",
                format!(
                    "lot {} already has an open LOT-level record for {}",
                    lot.lot_number, process.process_code
                ),
            )
            .with_field("process_id", "already open for this lot"));
        }
        check_equipment(&mut *conn, body.equipment_id, &process, &lot).await?;
        let rec = insert_record(
            &mut *conn,
            lot.id,
            None,
            None,
            process.id,
            user.id,
            body.equipment_id,
            DataLevel::Lot,
            count as i32 + 1,
            &body.notes,
        )
        .await?;
        lot_to_in_progress(&mut *conn, &mut lot).await?;
        return Ok(rec);
    }

    let mut unit = lock_unit(&mut *conn, unit_ref).await?;
    check_lot_active(&unit.lot)?;
    unit.check_workable()?;
    let history = unit_history(&mut *conn, &unit).await?;
    let attempt = check_can_start(&route, &process, &history)?;
    check_equipment(&mut *conn, body.equipment_id, &process, &unit.lot).await?;
    let level = match unit.kind() {
        UnitKind::Wip => DataLevel::Wip,
        UnitKind::Serial => DataLevel::Serial,
    };
    let rec = insert_record(
        &mut *conn,
        unit.lot.id,
        unit.wip_pk(),
        unit.serial_pk(),
        process.id,
        user.id,
        body.equipment_id,
        level,
        attempt,
        &body.notes,
    )
    .await?;
    match (&unit.serial, &unit.wip) {
        (Some(s), _) if s.status != SerialStatus::InProgress => {
            sqlx::query("UPDATE serials SET status = 'IN_PROGRESS' WHERE id = $1")
                .bind(s.id)
                .execute(&mut *conn)
                .await?;
        }
        (None, Some(w))
            if w.status != WipStatus::InProgress || w.current_process_id != Some(process.id) =>
        {
            sqlx::query("UPDATE wip_items SET status = 'IN_PROGRESS', current_process_id = $2 WHERE id = $1")
                .bind(w.id)
                .bind(process.id)
                .execute(&mut *conn)
                .await?;
        }
        _ => {}
    }
    lot_to_in_progress(&mut *conn, &mut unit.lot).await?;
    Ok(rec)
}

// ------------------------------------------------------------------------------------------------------------
// Complete
// ------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
struct RecordHead {
    lot_id: i64,
    wip_id: Option<i64>,
    serial_id: Option<i64>,
    process_id: i64,
    operator_id: i64,
    data_level: DataLevel,
}

/// The measurements / defects / criteria of a completion, validated against the process.
struct CompletionValues {
    measurements: Option<Value>,
    defects: Option<Value>,
    criteria: CriteriaOutcome,
}

fn completion_values(
    process: &ProcessInfo,
    result: ProcessResult,
    measurements: &Option<Map<String, Value>>,
    defects: &Option<Vec<Defect>>,
) -> ApiResult<CompletionValues> {
    let criteria = check_criteria(&process.quality_criteria, measurements.as_ref());
    if result == ProcessResult::Pass {
        if !criteria.missing.is_empty() {
            return Err(ApiError::validation_many(criteria.missing.clone()));
        }
        if !criteria.violations.is_empty() {
            let mut err = ApiError::unprocessable(
                "CRITERIA_NOT_MET",
                format!(
                    "measurements violate the quality criteria of {}; record a FAIL instead of a PASS",
                    process.process_code
                ),
            );
            err.errors = criteria.violations.clone();
            return Err(err);
        }
    }
    let defects = defects.as_ref().filter(|d| !d.is_empty()).map(|d| {
        Value::Array(
            d.iter()
                .map(|x| {
                    serde_json::json!({"code": x.code.trim(), "description": x.description.trim(), "severity": x.severity})
                })
                .collect(),
        )
    });
    Ok(CompletionValues {
        measurements: measurements.clone().map(Value::Object),
        defects,
        criteria,
    })
}

async fn update_record(
    conn: &mut PgConnection,
    id: i64,
    result: ProcessResult,
    values: &CompletionValues,
    notes: &Option<String>,
) -> Result<ProcessRecord, sqlx::Error> {
    let sql = format!(
        "WITH pd AS (UPDATE process_data SET result = $2, measurements = $3, defects = $4, criteria_check = $5, \
         criteria_passed = $6, notes = COALESCE($7, notes), completed_at = now() WHERE id = $1 RETURNING *) \
         SELECT {RECORD_COLUMNS} FROM pd {RECORD_JOINS}"
    );
    sqlx::query_as::<_, ProcessRecord>(&sql)
        .bind(id)
        .bind(result)
        .bind(&values.measurements)
        .bind(&values.defects)
        .bind(&values.criteria.check)
        .bind(values.criteria.passed)
        .bind(notes)
        .fetch_one(conn)
        .await
}

/// Complete an open record and apply its consequences to the unit and the lot.
pub async fn complete(
    conn: &mut PgConnection,
    user: &AuthUser,
    id: i64,
    body: &CompleteProcess,
    max_rework: i32,
) -> ApiResult<Completion> {
    let head = sqlx::query_as::<_, RecordHead>(
        "SELECT lot_id, wip_id, serial_id, process_id, operator_id, data_level FROM process_data WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("process record"))?;
    if head.operator_id != user.id && !can::MANAGE.contains(&user.role) {
        return Err(ApiError::forbidden(
            "only the operator who started this record, a MANAGER or an ADMIN may complete it",
        ));
    }
    let mut unit = match head.data_level {
        DataLevel::Lot => None,
        DataLevel::Wip => Some(lock_unit_ids(&mut *conn, head.lot_id, head.wip_id, None).await?),
        DataLevel::Serial => {
            Some(lock_unit_ids(&mut *conn, head.lot_id, None, head.serial_id).await?)
        }
    };
    let mut lot = match &unit {
        Some(u) => u.lot.clone(),
        None => lock_lot_by_id(&mut *conn, head.lot_id).await?,
    };
    let completed: Option<bool> = sqlx::query_scalar(
        "SELECT completed_at IS NOT NULL FROM process_data WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    match completed {
        None => return Err(ApiError::not_found("process record")),
        Some(true) => {
            return Err(ApiError::conflict(
                "PROCESS_ALREADY_COMPLETED",
                format!("process record {id} is already completed"),
            ))
        }
        Some(false) => {}
    }
    check_lot_active(&lot)?;
    if let Some(u) = &unit {
        // a WIP-level record whose WIP item got converted meanwhile cannot happen (conversion is its own PASS)
        if head.data_level == DataLevel::Wip && u.serial.is_some() {
            return Err(ApiError::conflict(
                "UNIT_CONVERTED",
                "the WIP item was converted to a serial",
            ));
        }
        u.check_workable()?;
    }
    let route = Route::load(&mut *conn).await?;
    let process = route
        .by_id(head.process_id)
        .ok_or_else(|| ApiError::not_found("process"))?
        .clone();
    let values = completion_values(&process, body.result, &body.measurements, &body.defects)?;
    let record = update_record(&mut *conn, id, body.result, &values, &body.notes).await?;
    lot_to_in_progress(&mut *conn, &mut lot).await?;

    let unit_state = match unit.as_mut() {
        None => None,
        Some(u) => {
            apply_result(&mut *conn, u, &route, &process, body.result, max_rework).await?;
            Some(u.state())
        }
    };
    if unit_state
        .as_ref()
        .is_some_and(|s| s.status == "COMPLETED" || s.status == "SCRAPPED")
    {
        if let Some(st) = try_complete_lot(&mut *conn, lot.id).await? {
            lot.status = st;
        }
    }
    Ok(Completion {
        record,
        unit: unit_state,
        lot: LotState {
            id: lot.id,
            lot_number: lot.lot_number.clone(),
            status: lot.status,
        },
    })
}

/// PASS / FAIL / REWORK → unit status, rework count, conversion into a serial, completion.
async fn apply_result(
    conn: &mut PgConnection,
    unit: &mut LockedUnit,
    route: &Route,
    process: &ProcessInfo,
    result: ProcessResult,
    max_rework: i32,
) -> ApiResult<()> {
    match result {
        ProcessResult::Pass => {
            let is_last = route
                .last_active_number()
                .is_none_or(|n| process.process_number >= n);
            if unit.serial.is_none() {
                let wip = unit
                    .wip
                    .clone()
                    .ok_or_else(|| ApiError::internal("WIP-level unit without a WIP item"))?;
                let converts = route
                    .conversion_number()
                    .is_none_or(|n| process.process_number >= n);
                if converts {
                    let lot_number = LotNumber::parse(&unit.lot.lot_number).map_err(|e| {
                        ApiError::internal(format!("stored lot number is invalid: {e}"))
                    })?;
                    let seq = u16::try_from(wip.sequence_in_lot).map_err(ApiError::internal)?;
                    let serial_number = SerialNumber::new(&lot_number, seq)
                        .map_err(ApiError::internal)?
                        .to_string();
                    let status = if is_last {
                        SerialStatus::Completed
                    } else {
                        SerialStatus::InProgress
                    };
                    let serial_id: i64 = sqlx::query_scalar(
                        "INSERT INTO serials (serial_number, lot_id, sequence_in_lot, status, rework_count) \
                         VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    )
                    .bind(&serial_number)
                    .bind(unit.lot.id)
                    .bind(wip.sequence_in_lot)
                    .bind(status)
                    .bind(wip.rework_count)
                    .fetch_one(&mut *conn)
                    .await?;
                    sqlx::query("UPDATE wip_items SET serial_id = $2, status = 'CONVERTED', current_process_id = $3 WHERE id = $1")
                        .bind(wip.id)
                        .bind(serial_id)
                        .bind(process.id)
                        .execute(&mut *conn)
                        .await?;
                    if let Some(w) = unit.wip.as_mut() {
                        w.status = WipStatus::Converted;
                        w.serial_id = Some(serial_id);
                    }
                    unit.serial = Some(SerialRow {
                        id: serial_id,
                        serial_number,
                        status,
                        rework_count: wip.rework_count,
                    });
                }
            } else if let Some(s) = unit.serial.as_mut().filter(|_| is_last) {
                sqlx::query("UPDATE serials SET status = 'COMPLETED' WHERE id = $1")
                    .bind(s.id)
                    .execute(&mut *conn)
                    .await?;
                s.status = SerialStatus::Completed;
            }
        }
        ProcessResult::Fail => set_unit_status(conn, unit, "FAILED", None).await?,
        ProcessResult::Rework => {
            let next = unit.rework_count() + 1;
            if next > max_rework {
                set_unit_status(conn, unit, "SCRAPPED", None).await?;
            } else {
                set_unit_status(conn, unit, "IN_PROGRESS", Some(next)).await?;
            }
        }
    }
    Ok(())
}

/// Set the status (and optionally the rework count) of the unit's current row: its serial, else its WIP item.
async fn set_unit_status(
    conn: &mut PgConnection,
    unit: &mut LockedUnit,
    status: &str,
    rework: Option<i32>,
) -> ApiResult<()> {
    if let Some(s) = unit.serial.as_mut() {
        sqlx::query("UPDATE serials SET status = $2, rework_count = COALESCE($3, rework_count) WHERE id = $1")
            .bind(s.id)
            .bind(status)
            .bind(rework)
            .execute(&mut *conn)
            .await?;
        s.status = SerialStatus::parse(status).unwrap_or(s.status);
        s.rework_count = rework.unwrap_or(s.rework_count);
    } else if let Some(w) = unit.wip.as_mut() {
        sqlx::query("UPDATE wip_items SET status = $2, rework_count = COALESCE($3, rework_count) WHERE id = $1")
            .bind(w.id)
            .bind(status)
            .bind(rework)
            .execute(&mut *conn)
            .await?;
        w.status = WipStatus::parse(status).unwrap_or(w.status);
        w.rework_count = rework.unwrap_or(w.rework_count);
    }
    Ok(())
}

/// IN_PROGRESS → COMPLETED when the lot has its units (at least `target_quantity` of them) and every one is
/// completed or scrapped (a converted WIP item counts through its serial). Runs under the lot's row lock.
pub async fn try_complete_lot(
    conn: &mut PgConnection,
    lot_id: i64,
) -> Result<Option<LotStatus>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE lots l SET status = 'COMPLETED' \
         WHERE l.id = $1 AND l.status = 'IN_PROGRESS' \
           AND NOT EXISTS (SELECT 1 FROM wip_items w WHERE w.lot_id = l.id AND w.status NOT IN ('CONVERTED', 'SCRAPPED')) \
           AND NOT EXISTS (SELECT 1 FROM serials s WHERE s.lot_id = l.id AND s.status NOT IN ('COMPLETED', 'SCRAPPED')) \
           AND (SELECT count(*) FROM wip_items w WHERE w.lot_id = l.id) \
             + (SELECT count(*) FROM serials s WHERE s.lot_id = l.id \
                  AND NOT EXISTS (SELECT 1 FROM wip_items w WHERE w.serial_id = s.id)) >= GREATEST(l.target_quantity, 1) \
         RETURNING l.status",
    )
    .bind(lot_id)
    .fetch_optional(conn)
    .await
}

// ------------------------------------------------------------------------------------------------------------
// Batch (LOT level)
// ------------------------------------------------------------------------------------------------------------

/// Complete the open LOT-level record of (lot, process), or start and complete one now.
pub async fn batch_complete(
    conn: &mut PgConnection,
    user: &AuthUser,
    body: &BatchComplete,
    lot_ref: &UnitRef,
) -> ApiResult<Completion> {
    let route = Route::load(&mut *conn).await?;
    let process = pick_process(&route, body.process_id, body.process_number)?.clone();
    let mut lot = lock_lot(&mut *conn, lot_ref).await?;
    check_lot_active(&lot)?;
    let open: Option<(i64, i64)> = sqlx::query_as(
        "SELECT id, operator_id FROM process_data WHERE lot_id = $1 AND process_id = $2 AND data_level = 'LOT' \
         AND completed_at IS NULL FOR UPDATE",
    )
    .bind(lot.id)
    .bind(process.id)
    .fetch_optional(&mut *conn)
    .await?;
    let values = completion_values(&process, body.result, &body.measurements, &body.defects)?;
    let id = match open {
        Some((id, operator)) => {
            if operator != user.id && !can::MANAGE.contains(&user.role) {
                return Err(ApiError::forbidden(
                    "the open LOT-level record was started by another operator; only they, a MANAGER or an ADMIN may complete it",
                ));
            }
            id
        }
        None => {
            if !process.is_active {
                return Err(ApiError::conflict(
                    "PROCESS_INACTIVE",
                    format!("process {} is not active", process.process_code),
                ));
            }
            check_equipment(&mut *conn, body.equipment_id, &process, &lot).await?;
            let count: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM process_data WHERE lot_id = $1 AND process_id = $2 AND data_level = 'LOT'",
            )
            .bind(lot.id)
            .bind(process.id)
            .fetch_one(&mut *conn)
            .await?;
            insert_record(
                &mut *conn,
                lot.id,
                None,
                None,
                process.id,
                user.id,
                body.equipment_id,
                DataLevel::Lot,
                count as i32 + 1,
                &None,
            )
            .await?
            .id
        }
    };
    let record = update_record(&mut *conn, id, body.result, &values, &body.notes).await?;
    lot_to_in_progress(&mut *conn, &mut lot).await?;
    Ok(Completion {
        record,
        unit: None,
        lot: LotState {
            id: lot.id,
            lot_number: lot.lot_number.clone(),
            status: lot.status,
        },
    })
}

// ------------------------------------------------------------------------------------------------------------
// Disposition of FAILED units: rework or scrap
// ------------------------------------------------------------------------------------------------------------

/// `{id}` of the unit endpoints: the database id (digits) or the printed WIP id / serial number.
fn path_ref(kind: UnitKind, raw: &str) -> ApiResult<UnitRef> {
    let raw = raw.trim();
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        let id: i64 = raw
            .parse()
            .map_err(|_| ApiError::bad_request("INVALID_PATH", "id is out of range"))?;
        return Ok(match kind {
            UnitKind::Wip => UnitRef::WipItemId(id),
            UnitKind::Serial => UnitRef::SerialId(id),
        });
    }
    match kind {
        UnitKind::Wip => WipId::parse(raw)
            .map(|_| UnitRef::WipCode(raw.to_string()))
            .map_err(|e| {
                ApiError::bad_request("INVALID_PATH", format!("not a WIP item id or WIP id: {e}"))
            }),
        UnitKind::Serial => SerialNumber::parse(raw)
            .map(|_| UnitRef::SerialNumber(raw.to_string()))
            .map_err(|e| {
                ApiError::bad_request(
                    "INVALID_PATH",
                    format!("not a serial id or serial number: {e}"),
                )
            }),
    }
}

/// Lock the unit named by a path and check it is that kind of unit (a converted WIP item is refused here: its
/// serial is the unit now).
async fn lock_path_unit(
    conn: &mut PgConnection,
    kind: UnitKind,
    raw: &str,
) -> ApiResult<LockedUnit> {
    let r = path_ref(kind, raw)?;
    let unit = lock_unit(conn, &r).await?;
    if kind == UnitKind::Wip && unit.serial.is_some() {
        return Err(ApiError::conflict(
            "UNIT_CONVERTED",
            format!(
                "{} was converted to serial {}; use /serials",
                unit.wip.as_ref().map_or("", |w| &w.wip_id),
                unit.state().serial_number.unwrap_or_default()
            ),
        ));
    }
    Ok(unit)
}

pub async fn rework(
    conn: &mut PgConnection,
    kind: UnitKind,
    raw: &str,
    max_rework: i32,
) -> ApiResult<DispositionResult> {
    let mut unit = lock_path_unit(&mut *conn, kind, raw).await?;
    check_lot_active(&unit.lot)?;
    match unit.status_str() {
        "FAILED" => {}
        "SCRAPPED" | "COMPLETED" => unit.check_workable()?,
        other => {
            return Err(ApiError::conflict(
                "UNIT_NOT_FAILED",
                format!(
                    "{} is {other}; only a FAILED unit can be sent to rework",
                    unit.name()
                ),
            ))
        }
    }
    // the process to redo: the failed one (the unit's last completed record)
    let reopened: Option<i64> = sqlx::query_scalar(
        "SELECT process_id FROM process_data WHERE data_level <> 'LOT' AND (wip_id = $1 OR serial_id = $2) \
         AND completed_at IS NOT NULL ORDER BY completed_at DESC, id DESC LIMIT 1",
    )
    .bind(unit.wip_pk())
    .bind(unit.serial_pk())
    .fetch_optional(&mut *conn)
    .await?;
    let next = unit.rework_count() + 1;
    let action = if next > max_rework {
        set_unit_status(&mut *conn, &mut unit, "SCRAPPED", None).await?;
        Disposition::Scrapped
    } else {
        set_unit_status(&mut *conn, &mut unit, "IN_PROGRESS", Some(next)).await?;
        Disposition::Rework
    };
    let mut lot = unit.lot.clone();
    if action == Disposition::Scrapped {
        if let Some(st) = try_complete_lot(&mut *conn, lot.id).await? {
            lot.status = st;
        }
    }
    Ok(DispositionResult {
        action,
        unit: unit.state(),
        lot: LotState {
            id: lot.id,
            lot_number: lot.lot_number,
            status: lot.status,
        },
        reopened_process_id: if action == Disposition::Rework {
            reopened
        } else {
            None
        },
    })
}

/// Body of the scrap endpoints.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScrapUnit {
    /// Why the unit is scrapped (1..500 characters).
    pub reason: String,
}

pub async fn scrap(
    conn: &mut PgConnection,
    kind: UnitKind,
    raw: &str,
) -> ApiResult<DispositionResult> {
    let mut unit = lock_path_unit(&mut *conn, kind, raw).await?;
    check_lot_active(&unit.lot)?;
    match unit.status_str() {
        "IN_PROGRESS" | "FAILED" => {}
        "CREATED" => {
            return Err(ApiError::conflict(
                "INVALID_STATUS_TRANSITION",
                format!("{} has not started any process; a CREATED unit cannot be scrapped (docs/schema.md)", unit.name()),
            ))
        }
        _ => unit.check_workable()?,
    }
    // a cancelled start: open records of a scrapped unit are removed (the audit log keeps them)
    sqlx::query("DELETE FROM process_data WHERE data_level <> 'LOT' AND (wip_id = $1 OR serial_id = $2) AND completed_at IS NULL")
        .bind(unit.wip_pk())
        .bind(unit.serial_pk())
        .execute(&mut *conn)
        .await?;
    set_unit_status(&mut *conn, &mut unit, "SCRAPPED", None).await?;
    let mut lot = unit.lot.clone();
    if let Some(st) = try_complete_lot(&mut *conn, lot.id).await? {
        lot.status = st;
    }
    Ok(DispositionResult {
        action: Disposition::Scrapped,
        unit: unit.state(),
        lot: LotState {
            id: lot.id,
            lot_number: lot.lot_number,
            status: lot.status,
        },
        reopened_process_id: None,
    })
}

// ------------------------------------------------------------------------------------------------------------
// Handlers of the unit disposition endpoints
// ------------------------------------------------------------------------------------------------------------

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(utoipa_axum::routes!(rework_wip))
        .routes(utoipa_axum::routes!(rework_serial))
        .routes(utoipa_axum::routes!(scrap_wip))
        .routes(utoipa_axum::routes!(scrap_serial))
}

async fn do_rework(
    st: &AppState,
    user: &AuthUser,
    kind: UnitKind,
    raw: &str,
) -> ApiResult<ApiJson<DispositionResult>> {
    let mut tx = neurohub_core::audit::begin(&st.pool, &user.ctx).await?;
    let out = rework(&mut tx, kind, raw, st.settings.max_rework).await?;
    tx.commit().await?;
    Ok(ApiJson(out))
}

async fn do_scrap(
    st: &AppState,
    user: &AuthUser,
    kind: UnitKind,
    raw: &str,
    body: &ScrapUnit,
) -> ApiResult<ApiJson<DispositionResult>> {
    let n = body.reason.trim().chars().count();
    if n == 0 || n > 500 {
        return Err(ApiError::validation("reason", "1 to 500 characters"));
    }
    let mut tx = neurohub_core::audit::begin(&st.pool, &user.ctx).await?;
    let out = scrap(&mut tx, kind, raw).await?;
    tx.commit().await?;
    tracing::info!(unit = raw, reason = %body.reason.trim(), user = user.id, "unit scrapped");
    Ok(ApiJson(out))
}

/// Send a FAILED WIP item to rework (re-opens the failed process), or scrap it past the rework limit.
#[utoipa::path(post, path = "/wip-items/{id}/rework", tag = "flow", security(("bearer" = [])),
    params(("id" = String, Path, description = "WIP item id (digits) or WIP id (WIP-...)")),
    responses((status = 200, body = DispositionResult), (status = 403, body = neurohub_core::Problem),
              (status = 404, body = neurohub_core::Problem), (status = 409, body = neurohub_core::Problem)))]
pub async fn rework_wip(
    State(st): State<AppState>,
    user: Authorized<policy::Operate>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<ApiJson<DispositionResult>> {
    do_rework(&st, &user, UnitKind::Wip, &id).await
}

/// Send a FAILED serial to rework (re-opens the failed process), or scrap it past the rework limit.
#[utoipa::path(post, path = "/serials/{id}/rework", tag = "flow", security(("bearer" = [])),
    params(("id" = String, Path, description = "serial id (digits) or serial number")),
    responses((status = 200, body = DispositionResult), (status = 403, body = neurohub_core::Problem),
              (status = 404, body = neurohub_core::Problem), (status = 409, body = neurohub_core::Problem)))]
pub async fn rework_serial(
    State(st): State<AppState>,
    user: Authorized<policy::Operate>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<ApiJson<DispositionResult>> {
    do_rework(&st, &user, UnitKind::Serial, &id).await
}

/// Scrap a WIP item (ADMIN, MANAGER).
#[utoipa::path(post, path = "/wip-items/{id}/scrap", tag = "flow", security(("bearer" = [])),
    params(("id" = String, Path, description = "WIP item id (digits) or WIP id (WIP-...)")),
    request_body = ScrapUnit,
    responses((status = 200, body = DispositionResult), (status = 403, body = neurohub_core::Problem),
              (status = 404, body = neurohub_core::Problem), (status = 409, body = neurohub_core::Problem)))]
pub async fn scrap_wip(
    State(st): State<AppState>,
    user: Authorized<policy::Manage>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ScrapUnit>,
) -> ApiResult<ApiJson<DispositionResult>> {
    do_scrap(&st, &user, UnitKind::Wip, &id, &body).await
}

/// Scrap a serial (ADMIN, MANAGER).
#[utoipa::path(post, path = "/serials/{id}/scrap", tag = "flow", security(("bearer" = [])),
    params(("id" = String, Path, description = "serial id (digits) or serial number")),
    request_body = ScrapUnit,
    responses((status = 200, body = DispositionResult), (status = 403, body = neurohub_core::Problem),
              (status = 404, body = neurohub_core::Problem), (status = 409, body = neurohub_core::Problem)))]
pub async fn scrap_serial(
    State(st): State<AppState>,
    user: Authorized<policy::Manage>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ScrapUnit>,
) -> ApiResult<ApiJson<DispositionResult>> {
    do_scrap(&st, &user, UnitKind::Serial, &id, &body).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(id: i64, n: i32, active: bool) -> ProcessInfo {
        ProcessInfo {
            id,
            process_number: n,
            process_code: format!("P{n}"),
            is_active: active,
            quality_criteria: json!({}),
        }
    }

    fn route(inactive: &[i32]) -> Route {
        Route(
            (1..=8)
                .map(|n| p(n as i64 * 10, n, !inactive.contains(&n)))
                .collect(),
        )
    }

    fn h(id: i64, process_id: i64, result: Option<ProcessResult>) -> HistoryRow {
        HistoryRow {
            id,
            process_id,
            result,
            is_open: result.is_none(),
        }
    }

    #[test]
    fn sequence_rule() {
        let r = route(&[]);
        assert_eq!(
            check_can_start(&r, r.by_number(1).unwrap(), &[]).unwrap(),
            1
        );
        let e = check_can_start(&r, r.by_number(3).unwrap(), &[]).unwrap_err();
        assert_eq!(e.code, "PROCESS_OUT_OF_SEQUENCE");
        assert!(e.detail.contains("P1"), "{}", e.detail);
        let hist = [
            h(1, 10, Some(ProcessResult::Pass)),
            h(2, 20, Some(ProcessResult::Fail)),
        ];
        let e = check_can_start(&r, r.by_number(3).unwrap(), &hist).unwrap_err();
        assert!(e.detail.contains("P2"));
        assert_eq!(
            check_can_start(&r, r.by_number(2).unwrap(), &hist).unwrap(),
            2
        );
        let e = check_can_start(&r, r.by_number(1).unwrap(), &hist).unwrap_err();
        assert_eq!(e.code, "PROCESS_ALREADY_PASSED");
        let open = [h(1, 10, None)];
        assert_eq!(
            check_can_start(&r, r.by_number(1).unwrap(), &open)
                .unwrap_err()
                .code,
            "PROCESS_ALREADY_OPEN"
        );
    }

    #[test]
    fn inactive_processes_are_skipped() {
        let r = route(&[2, 7]);
        let hist = [h(1, 10, Some(ProcessResult::Pass))];
        assert_eq!(
            check_can_start(&r, r.by_number(3).unwrap(), &hist).unwrap(),
            1
        );
        assert_eq!(
            check_can_start(&r, r.by_number(2).unwrap(), &hist)
                .unwrap_err()
                .code,
            "PROCESS_INACTIVE"
        );
        assert_eq!(r.conversion_number(), Some(8));
        assert_eq!(route(&[]).conversion_number(), Some(7));
        assert_eq!(route(&[7, 8]).conversion_number(), Some(6));
        assert_eq!(route(&[8]).last_active_number(), Some(7));
        let passed: HashSet<i64> = [10, 30].into_iter().collect();
        assert_eq!(r.next(&passed).unwrap().process_number, 4);
    }

    #[test]
    fn completion_shape_rules() {
        let d = || {
            Some(vec![Defect {
                code: "SCRATCH".into(),
                description: "scratch on housing".into(),
                severity: Severity::Minor,
            }])
        };
        assert!(validate_completion(ProcessResult::Pass, &None, &None, &None).is_empty());
        assert!(validate_completion(ProcessResult::Pass, &None, &Some(vec![]), &None).is_empty());
        assert_eq!(
            validate_completion(ProcessResult::Pass, &None, &d(), &None)[0].field,
            "defects"
        );
        assert_eq!(
            validate_completion(ProcessResult::Fail, &None, &None, &None)[0].field,
            "defects"
        );
        assert!(validate_completion(ProcessResult::Fail, &None, &d(), &None).is_empty());
        assert!(validate_completion(ProcessResult::Rework, &None, &None, &None).is_empty());
        let m = json!({"a": 1, "b": [1], "c": null}).as_object().cloned();
        let fields: Vec<String> = validate_completion(ProcessResult::Pass, &m, &None, &None)
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, vec!["measurements.b", "measurements.c"]);
        let many: Map<String, Value> = (0..101).map(|i| (format!("k{i}"), json!(i))).collect();
        assert_eq!(
            validate_completion(ProcessResult::Pass, &Some(many), &None, &None)[0].field,
            "measurements"
        );
        let blank = Some(vec![Defect {
            code: " ".into(),
            description: "".into(),
            severity: Severity::Major,
        }]);
        assert_eq!(
            validate_completion(ProcessResult::Fail, &None, &blank, &None).len(),
            2
        );
    }

    #[test]
    fn criteria_checks() {
        let crit = json!({"temp": {"min": 20, "max": 30, "unit": "C", "required": true},
                          "ok": {"min": 1, "max": 1, "unit": "bool", "required": true},
                          "note": {"required": false}});
        let m = json!({"temp": 25, "ok": true, "extra": "x"});
        let out = check_criteria(&crit, m.as_object());
        assert_eq!(out.passed, Some(true));
        assert!(out.missing.is_empty() && out.violations.is_empty());
        assert_eq!(out.check.as_ref().unwrap()["temp"]["passed"], json!(true));
        assert_eq!(
            out.check.as_ref().unwrap()["note"]["reason"],
            json!("missing")
        );

        let m = json!({"temp": 31, "ok": false});
        let out = check_criteria(&crit, m.as_object());
        assert_eq!(out.passed, Some(false));
        let f: Vec<&str> = out.violations.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(f, vec!["measurements.ok", "measurements.temp"]);

        let out = check_criteria(&crit, json!({"temp": "hot"}).as_object());
        assert_eq!(out.missing[0].field, "measurements.ok");
        assert_eq!(out.violations[0].field, "measurements.temp");

        let none = check_criteria(&json!({}), json!({"x": 1}).as_object());
        assert_eq!((none.check, none.passed), (None, None));
    }

    #[test]
    fn unit_selector_needs_exactly_one() {
        assert!(UnitSelector::default().to_ref().is_err());
        let two = UnitSelector {
            wip_item_id: Some(1),
            serial_id: Some(2),
            ..Default::default()
        };
        assert_eq!(two.to_ref().unwrap_err().field, "unit");
        let bad = UnitSelector {
            serial_number: Some("nope".into()),
            ..Default::default()
        };
        assert_eq!(bad.to_ref().unwrap_err().field, "unit.serial_number");
        let ok = UnitSelector {
            wip_id: Some("WIP-KR01PSA251101-001".into()),
            ..Default::default()
        };
        assert_eq!(
            ok.to_ref().unwrap(),
            UnitRef::WipCode("WIP-KR01PSA251101-001".into())
        );
    }

    #[test]
    fn path_refs() {
        assert_eq!(
            path_ref(UnitKind::Wip, "12").unwrap(),
            UnitRef::WipItemId(12)
        );
        assert_eq!(
            path_ref(UnitKind::Serial, "KR01PSA251101001").unwrap(),
            UnitRef::SerialNumber("KR01PSA251101001".into())
        );
        assert!(path_ref(UnitKind::Serial, "WIP-KR01PSA251101-001").is_err());
        assert!(path_ref(UnitKind::Wip, "99999999999999999999999").is_err());
    }
}
