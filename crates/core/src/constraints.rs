//! PostgreSQL errors → API errors, by constraint name and SQLSTATE.
//!
//! The API validates first, so in normal use these mappings fire only on races (two stations creating the same
//! record at once) or on rules that only the database can see. Either way the client gets a stable code and field
//! instead of a 500. Constraint names are the schema's (see docs/schema.md).

use axum::http::StatusCode;

use crate::error::ApiError;

/// How one named constraint surfaces to clients.
struct Mapping {
    constraint: &'static str,
    status: StatusCode,
    code: &'static str,
    field: &'static str,
    message: &'static str,
}

const fn m(
    constraint: &'static str,
    status: StatusCode,
    code: &'static str,
    field: &'static str,
    message: &'static str,
) -> Mapping {
    Mapping {
        constraint,
        status,
        code,
        field,
        message,
    }
}

const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;
const CONFLICT: StatusCode = StatusCode::CONFLICT;

static MAPPINGS: &[Mapping] = &[
    m("chk_process_data_result", UNPROCESSABLE, "VALIDATION_FAILED", "result", "result must be PASS, FAIL or REWORK"),
    m("chk_process_data_data_level", UNPROCESSABLE, "VALIDATION_FAILED", "data_level", "data_level must be LOT, WIP or SERIAL"),
    m(
        "chk_process_data_wip_serial_consistency",
        UNPROCESSABLE,
        "VALIDATION_FAILED",
        "data_level",
        "data_level does not match the unit given (LOT: no serial or WIP; WIP: a WIP item; SERIAL: a serial)",
    ),
    m("chk_process_data_duration", UNPROCESSABLE, "VALIDATION_FAILED", "duration_seconds", "duration must be zero or more seconds"),
    m("chk_process_data_timestamps", UNPROCESSABLE, "VALIDATION_FAILED", "completed_at", "completed_at must not be before started_at"),
    m("chk_process_data_completion", UNPROCESSABLE, "VALIDATION_FAILED", "result", "a completed record needs a result, an open one none"),
    m(
        "chk_process_data_defects_by_result",
        UNPROCESSABLE,
        "VALIDATION_FAILED",
        "defects",
        "PASS must have no defects and FAIL at least one",
    ),
    m("idx_process_data_wip_unique", CONFLICT, "PROCESS_ALREADY_OPEN", "process_id", "this WIP item already has an open record for this process"),
    m(
        "idx_process_data_serial_open_unique",
        CONFLICT,
        "PROCESS_ALREADY_OPEN",
        "process_id",
        "this serial already has an open record for this process",
    ),
    m("idx_process_data_lot_open_unique", CONFLICT, "PROCESS_ALREADY_OPEN", "process_id", "this lot already has an open LOT-level record for this process"),
    m("chk_lots_lot_number_format", UNPROCESSABLE, "VALIDATION_FAILED", "lot_number", "lot number must look like KR01PSA251101"),
    m("chk_lots_target_quantity", UNPROCESSABLE, "VALIDATION_FAILED", "target_quantity", "target_quantity must be between 1 and 999"),
    m("chk_serials_serial_number_format", UNPROCESSABLE, "VALIDATION_FAILED", "serial_number", "serial number must be the lot number and 3 digits"),
    m("chk_wip_items_wip_id_format", UNPROCESSABLE, "VALIDATION_FAILED", "wip_id", "WIP id must look like WIP-KR01PSA251101-001"),
    m("chk_lot_sequences_last_seq", CONFLICT, "LOT_SEQUENCE_EXHAUSTED", "production_line_id", "99 lots already exist for this line, model and month"),
    // The schema's actual names (0001/0003): uq_<table>_<column>, fk_<table>_<referenced>, chk_<table>_<column>.
    m("uq_users_username", CONFLICT, "DUPLICATE", "username", "username is already taken"),
    m("uq_users_email", CONFLICT, "DUPLICATE", "email", "email is already in use"),
    m("chk_users_role", UNPROCESSABLE, "VALIDATION_FAILED", "role", "role must be ADMIN, MANAGER, OPERATOR or VIEWER"),
    m("uq_product_models_model_code", CONFLICT, "DUPLICATE", "model_code", "model_code already exists"),
    m("chk_product_models_model_code", UNPROCESSABLE, "VALIDATION_FAILED", "model_code", "model_code must be 3 characters of A-Z and 0-9"),
    m("chk_product_models_status", UNPROCESSABLE, "VALIDATION_FAILED", "status", "status must be ACTIVE, INACTIVE or DISCONTINUED"),
    m("chk_processes_estimated_duration", UNPROCESSABLE, "VALIDATION_FAILED", "estimated_duration_seconds", "estimated_duration_seconds must be positive"),
    m("uq_production_lines_country_line", CONFLICT, "DUPLICATE", "line_code", "this country and line code already exist"),
    m("chk_production_lines_country_code", UNPROCESSABLE, "VALIDATION_FAILED", "country_code", "country_code must be 2 uppercase letters"),
    m("chk_production_lines_line_code", UNPROCESSABLE, "VALIDATION_FAILED", "line_code", "line_code must be 2 digits"),
    m("uq_equipment_equipment_code", CONFLICT, "DUPLICATE", "equipment_code", "equipment_code already exists"),
    m("chk_equipment_status", UNPROCESSABLE, "VALIDATION_FAILED", "status", "status must be AVAILABLE, IN_USE, MAINTENANCE or OUT_OF_SERVICE"),
    m("fk_equipment_process", UNPROCESSABLE, "REFERENCE_NOT_FOUND", "process_id", "no process has this id"),
    m("fk_equipment_production_line", UNPROCESSABLE, "REFERENCE_NOT_FOUND", "production_line_id", "no production line has this id"),
];

/// Every constraint name with a mapping (the server's tests check each exists in the deployed schema).
pub fn mapped_constraint_names() -> impl Iterator<Item = &'static str> {
    MAPPINGS.iter().map(|mp| mp.constraint)
}

/// Map a database error to an API error. Unknown database errors become a logged 500 with no SQL in the body.
pub fn map_sqlx_error(err: sqlx::Error) -> ApiError {
    match &err {
        sqlx::Error::RowNotFound => ApiError::not_found("record"),
        sqlx::Error::PoolTimedOut => ApiError::unavailable("the database is busy; retry shortly"),
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            if let Some(name) = db.constraint() {
                if let Some(hit) = MAPPINGS.iter().find(|mp| mp.constraint == name) {
                    return ApiError::new(hit.status, hit.code, hit.message)
                        .with_field(hit.field, hit.message);
                }
            }
            let column = db
                .constraint()
                .map(field_from_constraint)
                .unwrap_or_default();
            match code.as_str() {
                // unique_violation
                "23505" => {
                    ApiError::conflict("DUPLICATE", "a record with these values already exists")
                        .with_field(column, "already exists")
                }
                // foreign_key_violation: on insert/update a referenced row is missing (422); on delete the row is
                // still referenced (409).
                "23503" => {
                    let msg = db.message();
                    if msg.contains("is still referenced") {
                        ApiError::conflict(
                            "IN_USE",
                            "the record is still referenced by other records",
                        )
                    } else {
                        ApiError::unprocessable(
                            "REFERENCE_NOT_FOUND",
                            "a referenced record does not exist",
                        )
                        .with_field(column, "does not exist")
                    }
                }
                "23514" | "23502" => ApiError::unprocessable(
                    "VALIDATION_FAILED",
                    "the values violate a rule of the data",
                )
                .with_field(column, "invalid value"),
                // serialization_failure / deadlock_detected: safe to retry.
                "40001" | "40P01" => {
                    ApiError::conflict("RETRY", "a concurrent change interfered; retry the request")
                }
                // lock_not_available, query_canceled (statement_timeout)
                "55P03" | "57014" => {
                    ApiError::unavailable("the database did not answer in time; retry shortly")
                }
                // The schema's rule triggers raise their own SQLSTATEs (docs/schema.md); their messages are ours
                // and safe to show. The API checks these rules first, so these are races or bugs, never a 500.
                "NH001" => ApiError::conflict("AUDIT_APPEND_ONLY", db.message().to_string()),
                "NH002" => ApiError::conflict("IN_USE", db.message().to_string()),
                "NH003" => {
                    ApiError::conflict("INVALID_STATUS_TRANSITION", db.message().to_string())
                }
                "NH004" => ApiError::conflict("RECORD_IMMUTABLE", db.message().to_string()),
                "NH005" => ApiError::conflict("LOT_CLOSED", db.message().to_string()),
                "P0001" => ApiError::conflict("RULE_VIOLATED", db.message().to_string()),
                "22P02" | "22003" | "22007" | "22008" | "22001" => ApiError::unprocessable(
                    "VALIDATION_FAILED",
                    "a value has the wrong format or is out of range",
                ),
                _ => ApiError::internal(&err),
            }
        }
        _ => ApiError::internal(&err),
    }
}

/// Best-effort field name from a constraint named `<table>_<column>_fkey` / `_key` / `_check`.
fn field_from_constraint(name: &str) -> String {
    for suffix in ["_fkey", "_key", "_check"] {
        if let Some(stem) = name.strip_suffix(suffix) {
            for table in [
                "process_data_",
                "lots_",
                "serials_",
                "wip_items_",
                "equipment_",
                "users_",
                "product_models_",
                "processes_",
                "production_lines_",
            ] {
                if let Some(col) = stem.strip_prefix(table) {
                    return col.to_string();
                }
            }
            return stem.to_string();
        }
    }
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_come_from_constraint_names() {
        assert_eq!(
            field_from_constraint("lots_product_model_id_fkey"),
            "product_model_id"
        );
        assert_eq!(
            field_from_constraint("process_data_operator_id_fkey"),
            "operator_id"
        );
        assert_eq!(field_from_constraint("users_username_key"), "username");
        assert_eq!(field_from_constraint("odd"), "odd");
    }

    #[test]
    fn every_mapping_names_a_field_and_a_code() {
        for mp in MAPPINGS {
            assert!(
                !mp.field.is_empty() && !mp.code.is_empty(),
                "{}",
                mp.constraint
            );
            assert!(mp.status.is_client_error(), "{}", mp.constraint);
        }
    }
}
