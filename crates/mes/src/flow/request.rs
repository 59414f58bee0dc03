//! Request bodies of the flow's writes and the checks that need no database (shapes, lengths, result vs
//! defects). Rules that need the database are in `rules.rs`.

use neurohub_core::{ApiError, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::unit::{UnitRef, UnitSelector};
use crate::state::{ProcessResult, Severity};

pub const MAX_MEASUREMENTS: usize = 100;
pub const MAX_DEFECTS: usize = 100;
pub const MAX_NOTES: usize = 2000;

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

/// Body of the scrap endpoints.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScrapUnit {
    /// Why the unit is scrapped (1..500 characters).
    pub reason: String,
}

fn check_notes(notes: &Option<String>, errors: &mut Vec<FieldError>) {
    if let Some(n) = notes {
        if n.chars().count() > MAX_NOTES {
            errors.push(FieldError::new(
                "notes",
                format!("at most {MAX_NOTES} characters"),
            ));
        }
    }
}

fn check_process_choice(id: Option<i64>, number: Option<i32>, errors: &mut Vec<FieldError>) {
    match (id, number) {
        (Some(_), None) => {}
        (None, Some(n)) if (1..=8).contains(&n) => {}
        (None, Some(_)) => {
            errors.push(FieldError::new("process_number", "must be between 1 and 8"))
        }
        _ => errors.push(FieldError::new(
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
            errors.push(FieldError::new("defects", "a PASS must have no defects"))
        }
        ProcessResult::Fail if n_defects == 0 => errors.push(FieldError::new(
            "defects",
            "a FAIL needs at least one defect",
        )),
        _ => {}
    }
    if n_defects > MAX_DEFECTS {
        errors.push(FieldError::new(
            "defects",
            format!("at most {MAX_DEFECTS} defects"),
        ));
    }
    for (i, d) in defects.iter().flatten().enumerate() {
        let code = d.code.trim();
        if code.is_empty() || code.chars().count() > 50 {
            errors.push(FieldError::new(
                format!("defects[{i}].code"),
                "1 to 50 characters",
            ));
        }
        if d.description.trim().is_empty() || d.description.chars().count() > 1000 {
            errors.push(FieldError::new(
                format!("defects[{i}].description"),
                "1 to 1000 characters",
            ));
        }
    }
    if let Some(m) = measurements {
        if m.len() > MAX_MEASUREMENTS {
            errors.push(FieldError::new(
                "measurements",
                format!("at most {MAX_MEASUREMENTS} measurements"),
            ));
        }
        for (k, v) in m {
            if k.is_empty() || k.chars().count() > 100 {
                errors.push(FieldError::new(
                    format!("measurements.{k}"),
                    "measurement names have 1 to 100 characters",
                ));
            }
            match v {
                Value::Number(_) | Value::Bool(_) => {}
                Value::String(s) if s.chars().count() <= 500 => {}
                Value::String(_) => errors.push(FieldError::new(
                    format!("measurements.{k}"),
                    "text values have at most 500 characters",
                )),
                _ => errors.push(FieldError::new(
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
                errors.push(FieldError::new(field, message));
                None
            }
        };
        match lot {
            Some(l) if errors.is_empty() => Ok(l),
            _ => Err(ApiError::validation_many(errors)),
        }
    }
}
