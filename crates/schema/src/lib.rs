//! neurohub-schema: the database schema (MES and ATP, one ordered sequence) as embedded, reversible, versioned
//! migrations, and the engine that deploys, reverts, verifies and backs it up. How to write a migration:
//! `migrations/README.md`.
//!
//! * [`MIGRATIONS`]: the registry (0001 initial schema of seed 000, 0002 refactoring and 0003 WIP tracking of
//!   seed 001, 0004 what the MES API needs, 0005 the request role, ...), each a list of up steps and one down
//!   script.
//! * [`up`] / [`down`] / [`status`]: the migration engine (one transaction per step, resume after failure,
//!   checksums, advisory lock).
//! * [`deploy`]: seed 000's execution flow as one call, ending with [`verify_summary`].
//! * [`verify_report`]: `neurohub verify`, seed 002's go / no-go report of both modules ([`verify`]).
//! * [`read_catalog`] / [`catalog_snapshot`]: the one catalog reader, an image of the schema one object per
//!   line, used to prove downs are exact and to verify against [`expected_catalog`], the snapshot of each version
//!   that the migrations produce (checked in under `snapshots/`, embedded).

pub mod audit_archive;
mod backup;
mod catalog;
mod deploy;
mod engine;
mod error;
pub mod manifest;
mod registry;
mod snapshot;
pub mod verify;

pub use backup::{
    backup, backup_file_name, checksum_path, has_user_data, restore, sha256_file, BackupInfo,
    RestoreInfo,
};
pub use catalog::{catalog_snapshot, read_catalog, Catalog, CatalogObject, Scope};
pub use deploy::{
    deploy, ensure_audit_partitions, ensure_database, progress_line, DeployOptions, DeployOutcome,
};
pub use engine::{
    checksum, current_version, down, parse_objects, pending_steps, plan, status, up, DownReport,
    Event, PlannedStep, Timeouts, UpReport, VersionStatus, ADVISORY_LOCK_KEY,
};
pub use error::{PgFailure, SchemaError};
pub use registry::{Migration, Step, HEAD_VERSION, MIGRATIONS};
pub use snapshot::{
    expected_catalog, render_index, render_snapshot, snapshot_dir, snapshot_file_name,
    snapshot_text, snapshot_versions, UPDATE_SNAPSHOT_COMMAND, UPDATE_SNAPSHOT_ENV,
};
pub use verify::report::{Decision, Report};
pub use verify::summary::{verify_summary, Summary, SummaryRow};
pub use verify::{run as verify_report, ModuleFilter, Runtime as VerifyRuntime};
