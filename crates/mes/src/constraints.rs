//! The MES constraints an API write can violate, mapped to stable codes and fields (the API checks the same rules
//! first; these fire on races). The server's tests check both directions against the deployed catalog.
use neurohub_core::constraints::{
    m, rule, DomainErrors, Mapping, RuleState, CONFLICT, UNPROCESSABLE,
};

/// What the server installs for the MES.
pub const ERRORS: DomainErrors = DomainErrors {
    constraints: MAPPINGS,
    rules: RULES,
};

/// The MES triggers' SQLSTATEs (docs/schema.md).
pub static RULES: &[RuleState] = &[
    rule("NH003", "INVALID_STATUS_TRANSITION"),
    rule("NH004", "RECORD_IMMUTABLE"),
    rule("NH005", "LOT_CLOSED"),
];

/// The constraints this crate's writes can hit, installed by the server at start.
pub static MAPPINGS: &[Mapping] = &[
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

#[cfg(test)]
mod tests {
    #[test]
    fn every_mapping_names_a_field_a_code_and_a_client_error() {
        for mp in super::MAPPINGS {
            assert!(
                !mp.field.is_empty() && !mp.code.is_empty(),
                "{}",
                mp.constraint
            );
            assert!(mp.status.is_client_error(), "{}", mp.constraint);
        }
    }
}
