//! The manifest: every object each schema version must have, by name. `verify_summary` compares it with the
//! catalog (never assuming success), and tests assert it against the seed's floor counts.

/// A versioned item: present from `since` (inclusive) until `until` (exclusive, 0 = still present at head).
type V<T> = (i32, i32, T);

fn at<T: Clone>(items: &[V<T>], version: i32) -> Vec<T> {
    items
        .iter()
        .filter(|(since, until, _)| version >= *since && (*until == 0 || version < *until))
        .map(|(_, _, t)| t.clone())
        .collect()
}

/// One expected foreign key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FkSpec {
    /// Constraint name.
    pub name: &'static str,
    /// Referencing table.
    pub table: &'static str,
    /// Referencing column.
    pub column: &'static str,
    /// Referenced table.
    pub ref_table: &'static str,
    /// Referenced column.
    pub ref_column: &'static str,
    /// `NO ACTION`, `RESTRICT`, `CASCADE`, `SET NULL`.
    pub on_delete: &'static str,
    /// Same vocabulary as `on_delete`.
    pub on_update: &'static str,
}

impl FkSpec {
    /// Canonical text used to compare with the catalog (actions included, so a wrong action shows up).
    pub fn describe(&self) -> String {
        format!(
            "{}: {}({}) -> {}({}) ON DELETE {} ON UPDATE {}",
            self.name,
            self.table,
            self.column,
            self.ref_table,
            self.ref_column,
            self.on_delete,
            self.on_update
        )
    }
}

/// Everything expected at one schema version.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The version described.
    pub version: i32,
    /// Functions in schema public.
    pub functions: Vec<&'static str>,
    /// Tables (partitioned parents included, partitions excluded, history tables excluded).
    pub tables: Vec<&'static str>,
    /// Seeded processes as (process_number, process_code).
    pub processes: Vec<(i32, &'static str)>,
    /// Foreign keys with their actions.
    pub foreign_keys: Vec<FkSpec>,
    /// Named CHECK constraints as (table, name).
    pub checks: Vec<(&'static str, &'static str)>,
    /// Indexes as (table, name), primary keys and unique constraints included.
    pub indexes: Vec<(&'static str, &'static str)>,
    /// Triggers on the parent tables as (table, name).
    pub triggers: Vec<(&'static str, &'static str)>,
}

impl Manifest {
    /// Index names of one table.
    pub fn indexes_of(&self, table: &str) -> Vec<&'static str> {
        self.indexes
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, i)| *i)
            .collect()
    }
    /// Trigger names of one table.
    pub fn triggers_of(&self, table: &str) -> Vec<&'static str> {
        self.triggers
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, i)| *i)
            .collect()
    }
}

/// The seed 000 table of index / trigger counts per table: a floor the head schema must reach.
pub const SEED_FLOOR: &[(&str, usize, usize)] = &[
    ("product_models", 4, 2),
    ("processes", 4, 3),
    ("users", 5, 3),
    ("lots", 6, 4),
    ("serials", 6, 5),
    ("process_data", 11, 4),
    ("audit_logs", 9, 1),
];

/// The three audit partitions the seed names; `deploy` also creates every later month up to three months ahead.
pub const SEED_PARTITIONS: &[&str] = &[
    "audit_logs_y2025m11",
    "audit_logs_y2025m12",
    "audit_logs_y2026m01",
];

/// The DEFAULT audit partition (catches any month without its own partition).
pub const DEFAULT_PARTITION: &str = "audit_logs_default";

/// The 8 processes of seed 000 (number, code, Korean name, English name).
pub const PROCESSES: &[(i32, &str, &str, &str)] = &[
    (1, "LASER_MARKING", "레이저 마킹", "Laser Marking"),
    (2, "LMA_ASSEMBLY", "LMA 조립", "LMA Assembly"),
    (3, "SENSOR_INSPECTION", "센서 검사", "Sensor Inspection"),
    (4, "FIRMWARE_UPLOAD", "펌웨어 업로드", "Firmware Upload"),
    (5, "ROBOT_ASSEMBLY", "로봇 조립", "Robot Assembly"),
    (6, "PERFORMANCE_TEST", "성능 검사", "Performance Test"),
    (7, "LABEL_PRINTING", "라벨 프린팅", "Label Printing"),
    (
        8,
        "PACKAGING_INSPECTION",
        "포장 및 외관 검사",
        "Packaging & Visual Inspection",
    ),
];

/// Tables holding business data (what `has_user_data` looks at), in dependency order.
pub const BUSINESS_TABLES: &[&str] = &[
    "product_models",
    "processes",
    "users",
    "production_lines",
    "lots",
    "serials",
    "equipment",
    "wip_items",
    "process_data",
    "audit_logs",
    "refresh_tokens",
    "idempotency_keys",
    "lot_sequences",
];

const FUNCTIONS: &[V<&str>] = &[
    (1, 0, "update_timestamp"),
    (1, 0, "prevent_audit_modification"),
    (1, 0, "log_audit_event"),
    (1, 0, "prevent_process_deletion"),
    (1, 0, "prevent_user_deletion"),
    (4, 0, "ensure_audit_partitions"),
    (4, 0, "enforce_status_transition"),
    (4, 0, "set_status_timestamps"),
    (4, 0, "ensure_lot_open"),
    (4, 0, "compute_process_data_duration"),
    (4, 0, "prevent_completed_process_data_change"),
];

const TABLES: &[V<&str>] = &[
    (1, 0, "product_models"),
    (1, 0, "processes"),
    (1, 0, "users"),
    (1, 0, "lots"),
    (1, 0, "serials"),
    (1, 0, "process_data"),
    (1, 0, "audit_logs"),
    (3, 0, "production_lines"),
    (3, 0, "equipment"),
    (3, 0, "wip_items"),
    (4, 0, "refresh_tokens"),
    (4, 0, "idempotency_keys"),
    (4, 0, "lot_sequences"),
];

const fn fk(
    name: &'static str,
    table: &'static str,
    column: &'static str,
    ref_table: &'static str,
    on_delete: &'static str,
    on_update: &'static str,
) -> FkSpec {
    FkSpec {
        name,
        table,
        column,
        ref_table,
        ref_column: "id",
        on_delete,
        on_update,
    }
}

const NA: &str = "NO ACTION";
const R: &str = "RESTRICT";
const C: &str = "CASCADE";

const FKS: &[V<FkSpec>] = &[
    // 0001's original FKs have no actions; 0002 re-creates them ON DELETE RESTRICT ON UPDATE CASCADE
    (
        1,
        2,
        fk(
            "fk_lots_product_model",
            "lots",
            "product_model_id",
            "product_models",
            NA,
            NA,
        ),
    ),
    (
        1,
        2,
        fk("fk_serials_lot", "serials", "lot_id", "lots", NA, NA),
    ),
    (
        1,
        2,
        fk(
            "fk_process_data_lot",
            "process_data",
            "lot_id",
            "lots",
            NA,
            NA,
        ),
    ),
    (
        1,
        2,
        fk(
            "fk_process_data_serial",
            "process_data",
            "serial_id",
            "serials",
            NA,
            NA,
        ),
    ),
    (
        1,
        2,
        fk(
            "fk_process_data_process",
            "process_data",
            "process_id",
            "processes",
            NA,
            NA,
        ),
    ),
    (
        1,
        2,
        fk(
            "fk_process_data_operator",
            "process_data",
            "operator_id",
            "users",
            NA,
            NA,
        ),
    ),
    (
        2,
        0,
        fk(
            "fk_lots_product_model",
            "lots",
            "product_model_id",
            "product_models",
            R,
            C,
        ),
    ),
    (
        2,
        0,
        fk("fk_serials_lot", "serials", "lot_id", "lots", R, C),
    ),
    (
        2,
        0,
        fk(
            "fk_process_data_lot",
            "process_data",
            "lot_id",
            "lots",
            R,
            C,
        ),
    ),
    (
        2,
        0,
        fk(
            "fk_process_data_serial",
            "process_data",
            "serial_id",
            "serials",
            R,
            C,
        ),
    ),
    (
        2,
        0,
        fk(
            "fk_process_data_process",
            "process_data",
            "process_id",
            "processes",
            R,
            C,
        ),
    ),
    (
        2,
        0,
        fk(
            "fk_process_data_operator",
            "process_data",
            "operator_id",
            "users",
            R,
            C,
        ),
    ),
    (
        1,
        0,
        fk("fk_audit_logs_user", "audit_logs", "user_id", "users", R, C),
    ),
    (
        3,
        0,
        fk(
            "fk_equipment_process",
            "equipment",
            "process_id",
            "processes",
            R,
            C,
        ),
    ),
    (
        3,
        0,
        fk(
            "fk_equipment_production_line",
            "equipment",
            "production_line_id",
            "production_lines",
            R,
            C,
        ),
    ),
    (
        3,
        0,
        fk("fk_wip_items_lot", "wip_items", "lot_id", "lots", R, C),
    ),
    (
        3,
        0,
        fk(
            "fk_wip_items_current_process",
            "wip_items",
            "current_process_id",
            "processes",
            R,
            C,
        ),
    ),
    (
        3,
        0,
        fk(
            "fk_wip_items_serial",
            "wip_items",
            "serial_id",
            "serials",
            R,
            C,
        ),
    ),
    (
        3,
        0,
        fk(
            "fk_lots_production_line",
            "lots",
            "production_line_id",
            "production_lines",
            R,
            C,
        ),
    ),
    (
        3,
        0,
        fk(
            "fk_process_data_wip",
            "process_data",
            "wip_id",
            "wip_items",
            R,
            C,
        ),
    ),
    (
        3,
        0,
        fk(
            "fk_process_data_equipment",
            "process_data",
            "equipment_id",
            "equipment",
            R,
            C,
        ),
    ),
    (
        4,
        0,
        fk(
            "fk_refresh_tokens_user",
            "refresh_tokens",
            "user_id",
            "users",
            C,
            C,
        ),
    ),
    (
        4,
        0,
        fk(
            "fk_refresh_tokens_parent",
            "refresh_tokens",
            "parent_id",
            "refresh_tokens",
            "SET NULL",
            C,
        ),
    ),
    (
        4,
        0,
        fk(
            "fk_idempotency_keys_user",
            "idempotency_keys",
            "user_id",
            "users",
            C,
            C,
        ),
    ),
    (
        4,
        0,
        fk(
            "fk_lot_sequences_production_line",
            "lot_sequences",
            "production_line_id",
            "production_lines",
            R,
            C,
        ),
    ),
    (
        4,
        0,
        fk(
            "fk_lot_sequences_product_model",
            "lot_sequences",
            "product_model_id",
            "product_models",
            R,
            C,
        ),
    ),
];

const CHECKS: &[V<(&str, &str)>] = &[
    (1, 0, ("product_models", "chk_product_models_model_code")),
    (1, 0, ("product_models", "chk_product_models_status")),
    (1, 0, ("processes", "chk_processes_process_number")),
    (1, 0, ("processes", "chk_processes_estimated_duration")),
    (1, 0, ("users", "chk_users_role")),
    (1, 0, ("lots", "chk_lots_status")),
    (1, 0, ("serials", "chk_serials_status")),
    (1, 0, ("serials", "chk_serials_sequence_in_lot")),
    (1, 0, ("audit_logs", "chk_audit_logs_action")),
    (2, 0, ("process_data", "chk_process_data_data_level")),
    (2, 0, ("process_data", "chk_process_data_result")),
    (
        2,
        0,
        ("process_data", "chk_process_data_wip_serial_consistency"),
    ),
    (2, 0, ("process_data", "chk_process_data_duration")),
    (2, 0, ("process_data", "chk_process_data_timestamps")),
    (
        3,
        0,
        ("production_lines", "chk_production_lines_country_code"),
    ),
    (3, 0, ("production_lines", "chk_production_lines_line_code")),
    (3, 0, ("equipment", "chk_equipment_status")),
    (3, 0, ("wip_items", "chk_wip_items_status")),
    (3, 0, ("wip_items", "chk_wip_items_sequence_in_lot")),
    (3, 0, ("wip_items", "chk_wip_items_rework_count")),
    (3, 0, ("wip_items", "chk_wip_items_converted_serial")),
    (4, 0, ("refresh_tokens", "chk_refresh_tokens_expiry")),
    (
        4,
        0,
        ("idempotency_keys", "chk_idempotency_keys_key_length"),
    ),
    (
        4,
        0,
        ("idempotency_keys", "chk_idempotency_keys_response_status"),
    ),
    (4, 0, ("lot_sequences", "chk_lot_sequences_last_seq")),
    (4, 0, ("lot_sequences", "chk_lot_sequences_year_month")),
    (4, 0, ("lots", "chk_lots_lot_number_format")),
    (4, 0, ("lots", "chk_lots_target_quantity")),
    (4, 0, ("serials", "chk_serials_serial_number_format")),
    (4, 0, ("serials", "chk_serials_rework_count")),
    (4, 0, ("serials", "chk_serials_scrap_reason")),
    (4, 0, ("wip_items", "chk_wip_items_wip_id_format")),
    (4, 0, ("wip_items", "chk_wip_items_scrap_reason")),
    (4, 0, ("users", "chk_users_failed_login_count")),
    (4, 0, ("process_data", "chk_process_data_completion")),
    (4, 0, ("process_data", "chk_process_data_defects_by_result")),
    (4, 0, ("process_data", "chk_process_data_attempt")),
];

const INDEXES: &[V<(&str, &str)>] = &[
    (1, 0, ("product_models", "product_models_pkey")),
    (1, 0, ("product_models", "uq_product_models_model_code")),
    (1, 0, ("product_models", "idx_product_models_status")),
    (1, 0, ("product_models", "idx_product_models_category")),
    (1, 0, ("processes", "processes_pkey")),
    (1, 0, ("processes", "uq_processes_process_number")),
    (1, 0, ("processes", "uq_processes_process_code")),
    (1, 0, ("processes", "idx_processes_is_active")),
    (1, 0, ("users", "users_pkey")),
    (1, 0, ("users", "uq_users_username")),
    (1, 0, ("users", "uq_users_email")),
    (1, 0, ("users", "idx_users_role")),
    (1, 0, ("users", "idx_users_is_active")),
    (1, 0, ("lots", "lots_pkey")),
    (1, 0, ("lots", "uq_lots_lot_number")),
    (1, 0, ("lots", "idx_lots_product_model")),
    (1, 0, ("lots", "idx_lots_status")),
    (1, 0, ("lots", "idx_lots_production_date")),
    (1, 0, ("lots", "idx_lots_created_at")),
    (3, 0, ("lots", "idx_lots_production_line")),
    (1, 0, ("serials", "serials_pkey")),
    (1, 0, ("serials", "uq_serials_serial_number")),
    (1, 0, ("serials", "uq_serials_lot_sequence")),
    (1, 0, ("serials", "idx_serials_lot_status")),
    (1, 0, ("serials", "idx_serials_status")),
    (1, 0, ("serials", "idx_serials_created_at")),
    (1, 0, ("process_data", "process_data_pkey")),
    (1, 0, ("process_data", "idx_process_data_process")),
    (1, 0, ("process_data", "idx_process_data_operator")),
    (1, 0, ("process_data", "idx_process_data_started_at")),
    (1, 0, ("process_data", "idx_process_data_data_level")),
    (1, 0, ("process_data", "idx_process_data_result")),
    (2, 0, ("process_data", "idx_process_data_lot")),
    (2, 0, ("process_data", "idx_process_data_serial")),
    (2, 0, ("process_data", "idx_process_data_serial_process")),
    (2, 0, ("process_data", "idx_process_data_measurements")),
    (2, 0, ("process_data", "idx_process_data_defects")),
    (3, 0, ("process_data", "idx_process_data_wip")),
    (3, 0, ("process_data", "idx_process_data_wip_unique")),
    (3, 0, ("process_data", "idx_process_data_equipment")),
    (
        4,
        0,
        ("process_data", "idx_process_data_serial_open_unique"),
    ),
    (4, 0, ("process_data", "idx_process_data_lot_open_unique")),
    (4, 0, ("process_data", "idx_process_data_completed_at")),
    (1, 0, ("audit_logs", "audit_logs_pkey")),
    (1, 0, ("audit_logs", "idx_audit_logs_table_record")),
    (1, 0, ("audit_logs", "idx_audit_logs_user")),
    (1, 0, ("audit_logs", "idx_audit_logs_action")),
    (1, 0, ("audit_logs", "idx_audit_logs_created_at")),
    (1, 0, ("audit_logs", "idx_audit_logs_table_created")),
    (1, 0, ("audit_logs", "idx_audit_logs_user_ref")),
    (1, 0, ("audit_logs", "idx_audit_logs_client_ip")),
    (1, 0, ("audit_logs", "idx_audit_logs_request_id")),
    (3, 0, ("production_lines", "production_lines_pkey")),
    (
        3,
        0,
        ("production_lines", "uq_production_lines_country_line"),
    ),
    (3, 0, ("production_lines", "idx_production_lines_is_active")),
    (3, 0, ("equipment", "equipment_pkey")),
    (3, 0, ("equipment", "uq_equipment_equipment_code")),
    (3, 0, ("equipment", "idx_equipment_process")),
    (3, 0, ("equipment", "idx_equipment_production_line")),
    (3, 0, ("equipment", "idx_equipment_status")),
    (3, 0, ("wip_items", "wip_items_pkey")),
    (3, 0, ("wip_items", "uq_wip_items_wip_id")),
    (3, 0, ("wip_items", "uq_wip_items_lot_sequence")),
    (3, 0, ("wip_items", "uq_wip_items_serial")),
    (3, 0, ("wip_items", "idx_wip_items_lot_status")),
    (3, 0, ("wip_items", "idx_wip_items_current_process")),
    (3, 0, ("wip_items", "idx_wip_items_status")),
    (4, 0, ("refresh_tokens", "refresh_tokens_pkey")),
    (4, 0, ("refresh_tokens", "uq_refresh_tokens_token_hash")),
    (4, 0, ("refresh_tokens", "idx_refresh_tokens_user")),
    (4, 0, ("refresh_tokens", "idx_refresh_tokens_family")),
    (4, 0, ("refresh_tokens", "idx_refresh_tokens_parent")),
    (4, 0, ("refresh_tokens", "idx_refresh_tokens_expires_at")),
    (4, 0, ("idempotency_keys", "idempotency_keys_pkey")),
    (
        4,
        0,
        ("idempotency_keys", "idx_idempotency_keys_created_at"),
    ),
    (4, 0, ("lot_sequences", "lot_sequences_pkey")),
    (4, 0, ("lot_sequences", "idx_lot_sequences_product_model")),
];

const TRIGGERS: &[V<(&str, &str)>] = &[
    (1, 0, ("product_models", "trg_product_models_updated_at")),
    (1, 0, ("product_models", "trg_product_models_audit")),
    (1, 0, ("processes", "trg_processes_updated_at")),
    (1, 0, ("processes", "trg_processes_prevent_deletion")),
    (1, 0, ("processes", "trg_processes_audit")),
    (1, 0, ("users", "trg_users_updated_at")),
    (1, 0, ("users", "trg_users_prevent_deletion")),
    (1, 0, ("users", "trg_users_audit")),
    (1, 0, ("lots", "trg_lots_updated_at")),
    (1, 0, ("lots", "trg_lots_audit")),
    (4, 0, ("lots", "trg_lots_status_transition")),
    (4, 0, ("lots", "trg_lots_status_timestamps")),
    (1, 0, ("serials", "trg_serials_updated_at")),
    (1, 0, ("serials", "trg_serials_audit")),
    (4, 0, ("serials", "trg_serials_status_transition")),
    (4, 0, ("serials", "trg_serials_status_timestamps")),
    (4, 0, ("serials", "trg_serials_lot_open")),
    (1, 0, ("process_data", "trg_process_data_updated_at")),
    (1, 0, ("process_data", "trg_process_data_audit")),
    (4, 0, ("process_data", "trg_process_data_duration")),
    (4, 0, ("process_data", "trg_process_data_immutable")),
    (1, 0, ("audit_logs", "trg_audit_logs_prevent_modification")),
    (1, 0, ("audit_logs", "trg_audit_logs_prevent_truncate")),
    (
        3,
        0,
        ("production_lines", "trg_production_lines_updated_at"),
    ),
    (3, 0, ("production_lines", "trg_production_lines_audit")),
    (3, 0, ("equipment", "trg_equipment_updated_at")),
    (3, 0, ("equipment", "trg_equipment_audit")),
    (3, 0, ("wip_items", "trg_wip_items_updated_at")),
    (3, 0, ("wip_items", "trg_wip_items_audit")),
    (4, 0, ("wip_items", "trg_wip_items_status_transition")),
    (4, 0, ("wip_items", "trg_wip_items_lot_open")),
];

/// The manifest of one schema version (0 = nothing expected).
pub fn manifest(version: i32) -> Manifest {
    Manifest {
        version,
        functions: at(FUNCTIONS, version),
        tables: at(TABLES, version),
        processes: if version >= 1 {
            PROCESSES.iter().map(|(n, c, _, _)| (*n, *c)).collect()
        } else {
            Vec::new()
        },
        foreign_keys: at(FKS, version),
        checks: at(CHECKS, version),
        indexes: at(INDEXES, version),
        triggers: at(TRIGGERS, version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_reaches_the_seed_floor() {
        let m = manifest(crate::HEAD_VERSION);
        for (table, idx, trg) in SEED_FLOOR {
            assert!(
                m.indexes_of(table).len() >= *idx,
                "{table}: {} indexes",
                m.indexes_of(table).len()
            );
            assert!(
                m.triggers_of(table).len() >= *trg,
                "{table}: {} triggers",
                m.triggers_of(table).len()
            );
        }
    }

    #[test]
    fn version_1_is_the_seed_summary() {
        let m = manifest(1);
        assert_eq!(m.functions.len(), 5);
        assert_eq!(m.tables.len(), 7);
        assert_eq!(m.processes.len(), 8);
        // the seed's diagram draws 7 FK arrows (its summary box says 6): see docs/schema.md
        assert_eq!(m.foreign_keys.len(), 7);
    }

    #[test]
    fn every_fk_column_has_an_index_named_in_the_manifest() {
        // a cheap static check; the catalog test checks the leading column for real
        let m = manifest(crate::HEAD_VERSION);
        for fk in &m.foreign_keys {
            assert!(!m.indexes_of(fk.table).is_empty(), "{}", fk.name);
        }
    }
}
