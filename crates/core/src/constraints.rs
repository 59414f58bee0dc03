//! PostgreSQL errors → API errors, by constraint name and SQLSTATE.
//!
//! The API validates first, so in normal use these mappings fire only on races (two stations creating the same
//! record at once) or on rules that only the database can see. Either way the client gets a stable code and field
//! instead of a 500. Constraint names are the schema's.
//!
//! This module is the machinery only: each domain crate exports the table of the constraints its writes can hit
//! (`neurohub_mes::constraints::MAPPINGS`, `neurohub_identity::constraints::MAPPINGS`, …) beside the code that
//! writes those tables, and the server [`install`]s them once at start. A constraint without a mapping still gets
//! a generic 409 / 422 by SQLSTATE, with the column taken from the error's table and constraint name.

use axum::http::StatusCode;

use crate::error::ApiError;

use std::sync::OnceLock;

/// How one named constraint surfaces to clients.
#[derive(Debug)]
pub struct Mapping {
    pub constraint: &'static str,
    pub status: StatusCode,
    pub code: &'static str,
    pub field: &'static str,
    pub message: &'static str,
}

/// A mapping row (const, for the domains' static tables).
pub const fn m(
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

/// 422, for mapping tables.
pub const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;
/// 409, for mapping tables.
pub const CONFLICT: StatusCode = StatusCode::CONFLICT;

/// A rule trigger's own SQLSTATE (the schema's `NHxxx` codes, docs/schema.md and docs/atp-schema.md): always a
/// 409 with a stable code; the trigger's message is ours and is shown as the detail.
#[derive(Debug)]
pub struct RuleState {
    pub sqlstate: &'static str,
    pub code: &'static str,
}

/// A [`RuleState`] row (const, for the domains' static tables).
pub const fn rule(sqlstate: &'static str, code: &'static str) -> RuleState {
    RuleState { sqlstate, code }
}

/// The platform's own rule states: the audit log's immutability and "still has history" deletion guards.
pub static PLATFORM_RULES: &[RuleState] =
    &[rule("NH001", "AUDIT_APPEND_ONLY"), rule("NH002", "IN_USE")];

/// What a domain registers: the constraints its writes can violate and its triggers' SQLSTATEs.
#[derive(Debug, Clone, Copy)]
pub struct DomainErrors {
    pub constraints: &'static [Mapping],
    pub rules: &'static [RuleState],
}

static INSTALLED: OnceLock<Vec<DomainErrors>> = OnceLock::new();

/// Install the domains' tables (once per process; later calls are ignored, so building several apps in one test
/// process is fine). Until then only the platform's and the generic SQLSTATE mapping apply.
pub fn install(domains: Vec<DomainErrors>) {
    let _ = INSTALLED.set(domains);
}

fn installed() -> impl Iterator<Item = &'static Mapping> {
    INSTALLED
        .get()
        .into_iter()
        .flat_map(|domains| domains.iter().flat_map(|d| d.constraints.iter()))
}

fn rule_for(sqlstate: &str) -> Option<&'static RuleState> {
    PLATFORM_RULES
        .iter()
        .chain(
            INSTALLED
                .get()
                .into_iter()
                .flat_map(|domains| domains.iter().flat_map(|d| d.rules.iter())),
        )
        .find(|r| r.sqlstate == sqlstate)
}

/// Every rule SQLSTATE with a mapping (platform and installed), for the tests that compare them with the schema.
pub fn mapped_rule_states() -> impl Iterator<Item = &'static RuleState> {
    PLATFORM_RULES.iter().chain(
        INSTALLED
            .get()
            .into_iter()
            .flat_map(|domains| domains.iter().flat_map(|d| d.rules.iter())),
    )
}

/// Every constraint name with an installed mapping (the server's tests check each exists in the deployed schema).
pub fn mapped_constraint_names() -> impl Iterator<Item = &'static str> {
    installed().map(|mp| mp.constraint)
}

/// Map a database error to an API error. Unknown database errors become a logged 500 with no SQL in the body.
pub fn map_sqlx_error(err: sqlx::Error) -> ApiError {
    match &err {
        sqlx::Error::RowNotFound => ApiError::not_found("record"),
        sqlx::Error::PoolTimedOut => ApiError::unavailable("the database is busy; retry shortly"),
        // The connection died under the request (server restart, pg_terminate_backend, network): nothing was
        // committed by this request, and a retry on a fresh connection is the right move (503 + Retry-After).
        sqlx::Error::Io(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_) => ApiError::unavailable(
            "the connection to the database was lost; nothing was saved, retry shortly",
        ),
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            // The schema's rule triggers raise their own SQLSTATEs; their messages are ours and safe to show.
            // The API checks these rules first, so these are races or bugs, never a 500.
            if let Some(r) = rule_for(&code) {
                return ApiError::conflict(r.code, db.message().to_string());
            }
            if let Some(name) = db.constraint() {
                if let Some(hit) = installed().find(|mp| mp.constraint == name) {
                    return ApiError::new(hit.status, hit.code, hit.message)
                        .with_field(hit.field, hit.message);
                }
            }
            let column = db
                .constraint()
                .map(|c| field_from_constraint(c, db.table()))
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
                // admin_shutdown, crash_shutdown, cannot_connect_now (a restart), database_dropped, and the
                // connection_exception class: the connection is gone, the transaction with it.
                c if is_connection_loss(c) => ApiError::unavailable(
                    "the connection to the database was lost; nothing was saved, retry shortly",
                ),
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

/// SQLSTATEs that mean the connection (and the request's uncommitted transaction) is gone.
pub fn is_connection_loss(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") || matches!(sqlstate, "57P01" | "57P02" | "57P03" | "57P04")
}

/// Best-effort field name from a constraint named `<table>_<column>_fkey` / `_key` / `_check` (PostgreSQL's
/// default names), using the table the error names.
fn field_from_constraint(name: &str, table: Option<&str>) -> String {
    for suffix in ["_fkey", "_key", "_check"] {
        if let Some(stem) = name.strip_suffix(suffix) {
            let prefix = table.map(|t| format!("{t}_")).unwrap_or_default();
            return stem.strip_prefix(&prefix).unwrap_or(stem).to_string();
        }
    }
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_are_503_with_retry_after() {
        let e = map_sqlx_error(sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert_eq!(e.status.as_u16(), 503);
        assert!(e
            .headers
            .iter()
            .any(|(h, v)| h == "retry-after" && v == "1"));
        assert_eq!(map_sqlx_error(sqlx::Error::PoolClosed).status.as_u16(), 503);
        assert!(is_connection_loss("57P01") && is_connection_loss("08006"));
        assert!(!is_connection_loss("23505") && !is_connection_loss("57014"));
    }

    #[test]
    fn field_names_come_from_constraint_names() {
        assert_eq!(
            field_from_constraint("lots_product_model_id_fkey", Some("lots")),
            "product_model_id"
        );
        assert_eq!(
            field_from_constraint("process_data_operator_id_fkey", Some("process_data")),
            "operator_id"
        );
        assert_eq!(
            field_from_constraint("users_username_key", Some("users")),
            "username"
        );
        assert_eq!(
            field_from_constraint("users_username_key", None),
            "users_username"
        );
        assert_eq!(field_from_constraint("odd", Some("t")), "odd");
    }
}
