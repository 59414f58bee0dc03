//! The embedded migrations: an explicit, ordered registry (no directory scanning at run time, so the binary
//! carries exactly the SQL it was built and reviewed with).

/// One ordered piece of a migration's up path, recorded in `schema_migration_steps` when applied.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// Short name, also used for the savepoint (`before_<name>`) and in progress lines.
    pub name: &'static str,
    /// The SQL, executed with the simple-query protocol (several statements allowed).
    pub sql: &'static str,
    /// `false` for steps that cannot run inside a transaction (`CREATE INDEX CONCURRENTLY`): each statement is
    /// then executed on its own, and the step is written to be re-runnable.
    pub transactional: bool,
}

/// One schema version: ordered up steps and one down script (run as a single transaction).
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// 1-based version number; the schema "is at version N" when every step of 1..=N is applied.
    pub version: i32,
    /// Name shown by `migrate status`.
    pub name: &'static str,
    /// Up steps in order.
    pub up: &'static [Step],
    /// Down script (the archive helpers are prepended), back to version - 1.
    pub down: &'static str,
}

macro_rules! step {
    ($dir:literal, $file:literal, $name:literal) => {
        Step {
            name: $name,
            sql: include_str!(concat!("../migrations/", $dir, "/up/", $file)),
            transactional: true,
        }
    };
    ($dir:literal, $file:literal, $name:literal, concurrently) => {
        Step {
            name: $name,
            sql: include_str!(concat!("../migrations/", $dir, "/up/", $file)),
            transactional: false,
        }
    };
}

macro_rules! down {
    ($dir:literal) => {
        concat!(
            include_str!("../migrations/archive_helpers.sql"),
            include_str!(concat!("../migrations/", $dir, "/down.sql"))
        )
    };
}

/// Every migration, in version order. `HEAD_VERSION` is the last one.
pub static MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial_schema",
        up: &[
            step!("0001_initial_schema", "01_functions.sql", "functions"),
            step!(
                "0001_initial_schema",
                "02_independent_tables.sql",
                "independent_tables"
            ),
            step!("0001_initial_schema", "03_lots_table.sql", "lots_table"),
            step!(
                "0001_initial_schema",
                "04_serials_table.sql",
                "serials_table"
            ),
            step!(
                "0001_initial_schema",
                "05_process_data_table.sql",
                "process_data_table"
            ),
            step!(
                "0001_initial_schema",
                "06_audit_logs_table.sql",
                "audit_logs_table"
            ),
        ],
        down: down!("0001_initial_schema"),
    },
    Migration {
        version: 2,
        name: "refactoring",
        up: &[
            step!(
                "0002_refactoring",
                "01_timestamptz_jsonb.sql",
                "timestamptz_jsonb"
            ),
            step!(
                "0002_refactoring",
                "02_constraints_not_valid.sql",
                "constraints_not_valid"
            ),
            step!(
                "0002_refactoring",
                "03_validate_constraints.sql",
                "validate_constraints"
            ),
            step!(
                "0002_refactoring",
                "04_indexes_concurrently.sql",
                "indexes_concurrently",
                concurrently
            ),
        ],
        down: down!("0002_refactoring"),
    },
    Migration {
        version: 3,
        name: "wip_tracking",
        up: &[
            step!("0003_wip_tracking", "01_tables.sql", "wip_tables"),
            step!(
                "0003_wip_tracking",
                "02_validate_constraints.sql",
                "validate_constraints"
            ),
            step!(
                "0003_wip_tracking",
                "03_indexes_concurrently.sql",
                "indexes_concurrently",
                concurrently
            ),
        ],
        down: down!("0003_wip_tracking"),
    },
    Migration {
        version: 4,
        name: "mes_api",
        up: &[
            step!(
                "0004_mes_api",
                "01_columns_and_tables.sql",
                "columns_and_tables"
            ),
            step!(
                "0004_mes_api",
                "02_functions_and_triggers.sql",
                "functions_and_triggers"
            ),
            step!(
                "0004_mes_api",
                "03_checks_not_valid.sql",
                "checks_not_valid"
            ),
            step!(
                "0004_mes_api",
                "04_validate_constraints.sql",
                "validate_constraints"
            ),
            step!(
                "0004_mes_api",
                "05_indexes_concurrently.sql",
                "indexes_concurrently",
                concurrently
            ),
        ],
        down: down!("0004_mes_api"),
    },
    Migration {
        version: 5,
        name: "request_role",
        up: &[step!(
            "0005_request_role",
            "01_request_role.sql",
            "request_role"
        )],
        down: down!("0005_request_role"),
    },
    Migration {
        version: 6,
        name: "atp",
        up: &[
            step!("0006_atp", "01_tables.sql", "atp_tables"),
            step!(
                "0006_atp",
                "02_functions_and_triggers.sql",
                "functions_triggers_rls"
            ),
            step!(
                "0006_atp",
                "03_foreign_keys_not_valid.sql",
                "foreign_keys_not_valid"
            ),
            step!(
                "0006_atp",
                "04_validate_constraints.sql",
                "validate_constraints"
            ),
            step!(
                "0006_atp",
                "05_indexes_concurrently.sql",
                "indexes_concurrently",
                concurrently
            ),
        ],
        down: down!("0006_atp"),
    },
    Migration {
        version: 7,
        name: "token_generation",
        up: &[step!(
            "0007_token_generation",
            "01_token_generation.sql",
            "token_generation"
        )],
        down: down!("0007_token_generation"),
    },
    Migration {
        version: 8,
        name: "atp_notifications",
        up: &[
            step!(
                "0008_atp_notifications",
                "01_outbox_and_webhooks.sql",
                "outbox_and_webhooks"
            ),
            step!(
                "0008_atp_notifications",
                "02_indexes_concurrently.sql",
                "indexes_concurrently",
                concurrently
            ),
        ],
        down: down!("0008_atp_notifications"),
    },
    Migration {
        version: 9,
        name: "atp_delegation",
        up: &[
            step!(
                "0009_atp_delegation",
                "01_evidence_before_and_overlap_guards.sql",
                "evidence_before_overlap_guards"
            ),
            step!(
                "0009_atp_delegation",
                "02_validate_constraints.sql",
                "validate_constraints"
            ),
            step!(
                "0009_atp_delegation",
                "03_indexes_concurrently.sql",
                "indexes_concurrently",
                concurrently
            ),
        ],
        down: down!("0009_atp_delegation"),
    },
    Migration {
        version: 10,
        name: "audit_retention",
        up: &[step!(
            "0010_audit_retention",
            "01_audit_archives.sql",
            "audit_archives"
        )],
        down: down!("0010_audit_retention"),
    },
    Migration {
        version: 11,
        name: "mes_counters",
        up: &[step!("0011_mes_counters", "01_counters.sql", "counters")],
        down: down!("0011_mes_counters"),
    },
    Migration {
        version: 12,
        name: "mes_activity",
        up: &[step!(
            "0012_mes_activity",
            "01_activity_notify.sql",
            "activity_notify"
        )],
        down: down!("0012_mes_activity"),
    },
    Migration {
        version: 13,
        name: "atp_pending_order",
        up: &[step!(
            "0013_atp_pending_order",
            "01_indexes_concurrently.sql",
            "indexes_concurrently",
            concurrently
        )],
        down: down!("0013_atp_pending_order"),
    },
];

/// The newest schema version this binary knows.
pub const HEAD_VERSION: i32 = 13;
