//! The crate's one error type. Step failures carry everything an operator needs to fix the cause: which step,
//! which object, PostgreSQL's SQLSTATE and message — and what to do next.

use std::fmt;

/// What PostgreSQL reported for a failed statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PgFailure {
    /// SQLSTATE, e.g. `42P07` or `55P03` (lock_timeout).
    pub code: Option<String>,
    /// PostgreSQL's primary message.
    pub message: String,
    /// DETAIL, if any.
    pub detail: Option<String>,
    /// HINT, if any.
    pub hint: Option<String>,
    /// The object PostgreSQL named (constraint, table, column or schema field, else the first quoted name).
    pub object: Option<String>,
    /// 1-based line of the step's SQL the error position points at, when PostgreSQL gave a position.
    pub line: Option<usize>,
}

impl fmt::Display for PgFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(code) = &self.code {
            write!(f, " (SQLSTATE {code})")?;
        }
        if let Some(d) = &self.detail {
            write!(f, "; detail: {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "; hint: {h}")?;
        }
        Ok(())
    }
}

/// Errors of the schema engine (migrations, deploy, verification, backup).
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A migration step failed and was rolled back; earlier steps stay applied.
    #[error(
        "migration {version:04} step {step_no} ({step_name}) failed{}: {pg}{}. It was rolled back; earlier steps stay applied. Fix the cause and run `neurohub deploy` again: it resumes from this step",
        .pg.object.as_ref().map(|o| format!(" on {o}")).unwrap_or_default(),
        .pg.line.map(|l| format!(" [at line {l} of the step]")).unwrap_or_default()
    )]
    StepFailed {
        /// Version of the failing migration.
        version: i32,
        /// 1-based step number within the version.
        step_no: i32,
        /// Step name.
        step_name: String,
        /// PostgreSQL's report (boxed: keeps `Result<_, SchemaError>` small).
        pg: Box<PgFailure>,
    },
    /// A down script failed; the whole version's down was rolled back.
    #[error("reverting migration {version:04} ({name}) failed: {pg}. Nothing of it was changed")]
    DownFailed {
        /// Version being reverted.
        version: i32,
        /// Its name.
        name: String,
        /// PostgreSQL's report (boxed: keeps `Result<_, SchemaError>` small).
        pg: Box<PgFailure>,
    },
    /// An applied step's SQL differs from the embedded one.
    #[error("migration {version:04} step {step_no} ({step_name}) was applied with checksum {applied} but this binary has {embedded}: an applied migration must never be edited; add a new migration instead")]
    ChecksumMismatch {
        /// Version.
        version: i32,
        /// Step number.
        step_no: i32,
        /// Step name.
        step_name: String,
        /// Checksum recorded in the database.
        applied: String,
        /// Checksum of the embedded SQL.
        embedded: String,
    },
    /// The database has steps this binary does not know (it was migrated by a newer NeuroHub).
    #[error("the database has migration {version:04} step {step_no} applied, which this binary (head {head:04}) does not know: use a newer neurohub")]
    UnknownMigration {
        /// Unknown version.
        version: i32,
        /// Unknown step.
        step_no: i32,
        /// This binary's head.
        head: i32,
    },
    /// Down requested over a version whose up was not completed.
    #[error("migration {version:04} is partially applied ({applied} of {total} steps): run `neurohub migrate up` (or `neurohub deploy`) to finish it before going down")]
    PartiallyApplied {
        /// Version.
        version: i32,
        /// Applied steps.
        applied: usize,
        /// Total steps.
        total: usize,
    },
    /// A target version outside 0..=HEAD, or below/above the current version for the direction.
    #[error("invalid target version {target}: {reason}")]
    InvalidTarget {
        /// Requested target.
        target: i32,
        /// Why it was refused.
        reason: String,
    },
    /// The database URL cannot be used.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// pg_dump / pg_restore failed or is missing.
    #[error("backup failed: {0}. Nothing was deployed")]
    Backup(String),
    /// Audit retention (`neurohub audit archive | restore`) failed; the message says what was left as it was.
    #[error("{0}")]
    Archive(String),
    /// A feature needs a newer schema version.
    #[error("{what} needs schema version {needed:04} or later (the database is at {current:04})")]
    NeedsVersion {
        /// What was attempted.
        what: &'static str,
        /// Needed version.
        needed: i32,
        /// Current version.
        current: i32,
    },
    /// Any other database error (connection, catalog query).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// I/O error (writing the plan / progress, backup files).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl SchemaError {
    /// SQLSTATE of the underlying PostgreSQL error, if any (e.g. `55P03` for a lock timeout).
    pub fn sqlstate(&self) -> Option<String> {
        match self {
            SchemaError::StepFailed { pg, .. } | SchemaError::DownFailed { pg, .. } => {
                pg.code.clone()
            }
            SchemaError::Database(sqlx::Error::Database(db)) => db.code().map(|c| c.into_owned()),
            _ => None,
        }
    }
}

/// Extract PostgreSQL's report from a sqlx error; `sql` is the text that was sent (to map the position to a line).
pub(crate) fn pg_failure(err: &sqlx::Error, sql: Option<&str>) -> PgFailure {
    match err {
        sqlx::Error::Database(db) => {
            let mut out = PgFailure {
                code: db.code().map(|c| c.into_owned()),
                message: db.message().to_string(),
                ..PgFailure::default()
            };
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                out.detail = pg.detail().map(str::to_string);
                out.hint = pg.hint().map(str::to_string);
                let qualify = |name: &str| match pg.table() {
                    Some(t) if t != name => format!("{t}.{name}"),
                    _ => name.to_string(),
                };
                out.object = pg
                    .constraint()
                    .map(|c| format!("constraint {}", qualify(c)))
                    .or_else(|| pg.column().map(|c| format!("column {}", qualify(c))))
                    .or_else(|| pg.table().map(|t| format!("table {t}")))
                    .or_else(|| pg.schema().map(|s| format!("schema {s}")))
                    .or_else(|| first_quoted(pg.message()));
                if let (Some(sql), Some(sqlx::postgres::PgErrorPosition::Original(pos))) =
                    (sql, pg.position())
                {
                    out.line = Some(line_of(sql, pos));
                }
            }
            out
        }
        other => PgFailure {
            message: other.to_string(),
            ..PgFailure::default()
        },
    }
}

fn first_quoted(msg: &str) -> Option<String> {
    let start = msg.find('"')? + 1;
    let len = msg[start..].find('"')?;
    Some(msg[start..start + len].to_string())
}

/// PostgreSQL positions are 1-based character offsets.
fn line_of(sql: &str, pos: usize) -> usize {
    sql.chars()
        .take(pos.saturating_sub(1))
        .filter(|c| *c == '\n')
        .count()
        + 1
}
