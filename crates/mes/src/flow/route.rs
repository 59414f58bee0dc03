//! The processes and the route through them: which active process comes next, which are missing before one.

use std::collections::HashSet;

use neurohub_core::{ApiError, ApiResult};
use serde_json::Value;
use sqlx::PgConnection;

/// LABEL_PRINTING: its PASS turns a WIP item into a serial (if it is inactive, the next active process does).
pub const CONVERSION_PROCESS_NUMBER: i32 = 7;

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

    /// The process a request names by id or by number (validated: exactly one of the two).
    pub(super) fn pick(&self, id: Option<i64>, number: Option<i32>) -> ApiResult<&ProcessInfo> {
        let found = match (id, number) {
            (Some(id), _) => self.by_id(id),
            (None, Some(n)) => self.by_number(n),
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
}

impl ProcessInfo {
    /// LOT-level work needs an active process (unit work checks it with the sequence rule).
    pub(super) fn require_active(&self) -> ApiResult<()> {
        if self.is_active {
            Ok(())
        } else {
            Err(ApiError::conflict(
                "PROCESS_INACTIVE",
                format!("process {} is not active", self.process_code),
            ))
        }
    }
}
