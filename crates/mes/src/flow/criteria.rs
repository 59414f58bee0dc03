//! Quality criteria: a completion's measurements checked against `processes.quality_criteria`.

use neurohub_core::FieldError;
use serde_json::{Map, Value};

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
                    missing.push(FieldError::new(
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
                    violations.push(FieldError::new(
                        format!("measurements.{name}"),
                        format!("{v} is {r}"),
                    ));
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
