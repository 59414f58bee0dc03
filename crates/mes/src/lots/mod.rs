//! Lots: a production batch of one product model on one line, numbered by the server
//! (`{country}{line}{model}{YYMM}{seq}`, see [`crate::numbers`]) and created together with its WIP units.
//!
//! Endpoints (tag `lots`, all under `/api/v1`):
//!
//! | method | path | roles | statements | module |
//! |---|---|---|---|---|
//! | POST | `/lots` | ADMIN, MANAGER | 5 in one transaction (audit context, references, sequence, lot, WIP bulk insert) | [`create`] |
//! | GET | `/lots` | any | 1 | [`list`] |
//! | GET | `/lots/{id}` | any | 1 | [`detail`] |
//! | GET | `/lots/by-number/{lot_number}` | any | 1 | [`detail`] |
//! | PATCH | `/lots/{id}/status` | ADMIN, MANAGER | 4 in one transaction (context, lock, update, read back) | [`status`] |
//! | POST | `/lots/{id}/close` | ADMIN, MANAGER | 4 in one transaction (context, lock + unfinished counts, update, read back) | [`status`] |
//!
//! This module holds the types the submodules share. Decisions are recorded in docs/numbers-and-lots.md.

pub mod create;
pub mod detail;
pub mod list;
pub mod status;

use chrono::{DateTime, Months, NaiveDate, Utc};
use neurohub_core::{AppState, FieldError};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::numbers::LotNumber;
pub use crate::state::LotStatus;
pub use create::create_lot;
pub use list::{LotFilter, LotSort, SortOrder};
pub use status::manual_transition;

/// Largest lot: unit sequences are 3 digits.
pub const MAX_TARGET_QUANTITY: i32 = 999;
/// Longest `notes` / `reason` accepted.
pub const MAX_NOTES_CHARS: usize = 2000;
pub const MAX_REASON_CHARS: usize = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create::create, list::list))
        .routes(routes!(detail::get_by_id))
        .routes(routes!(detail::get_by_number))
        .routes(routes!(status::change_status))
        .routes(routes!(status::close))
}

/// Work shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Shift {
    A,
    B,
    C,
}

impl Shift {
    pub fn as_str(self) -> &'static str {
        match self {
            Shift::A => "A",
            Shift::B => "B",
            Shift::C => "C",
        }
    }
}

/// A new lot. The lot number, status and timestamps are set by the server.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLot {
    /// An ACTIVE product model.
    pub product_model_id: i64,
    /// An active production line.
    pub production_line_id: i64,
    /// Units in the lot, 1..=999; that many WIP items are created with the lot.
    #[schema(minimum = 1, maximum = 999)]
    pub target_quantity: i32,
    /// YYYY-MM-DD, at most one year before or after today (UTC); default today (UTC). Gives the lot number's YYMM.
    #[serde(default)]
    pub production_date: Option<NaiveDate>,
    #[serde(default)]
    pub shift: Option<Shift>,
    /// Free text, at most 2000 characters.
    #[serde(default)]
    pub notes: Option<String>,
}

impl NewLot {
    /// Field errors that need no database (quantity, date window, notes length).
    pub fn field_errors(&self, today: NaiveDate) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !(1..=MAX_TARGET_QUANTITY).contains(&self.target_quantity) {
            errors.push(FieldError::new(
                "target_quantity",
                format!("target_quantity must be between 1 and {MAX_TARGET_QUANTITY}"),
            ));
        }
        if let Some(date) = self.production_date {
            let (from, to) = production_date_window(today);
            if date < from || date > to {
                errors.push(FieldError::new(
                    "production_date",
                    format!(
                        "production_date must be within one year of today: between {from} and {to}"
                    ),
                ));
            }
        }
        if let Some(notes) = &self.notes {
            if notes.chars().count() > MAX_NOTES_CHARS {
                errors.push(FieldError::new(
                    "notes",
                    format!("notes must be at most {MAX_NOTES_CHARS} characters"),
                ));
            }
        }
        errors
    }
}

/// The accepted production dates around `today`: one year back to one year ahead, inclusive.
pub fn production_date_window(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let from = today
        .checked_sub_months(Months::new(12))
        .unwrap_or(NaiveDate::MIN);
    let to = today
        .checked_add_months(Months::new(12))
        .unwrap_or(NaiveDate::MAX);
    (from, to)
}

/// WIP items of a lot by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, FromRow)]
pub struct WipCounts {
    #[sqlx(rename = "wip_total")]
    pub total: i64,
    #[sqlx(rename = "wip_created")]
    pub created: i64,
    #[sqlx(rename = "wip_in_progress")]
    pub in_progress: i64,
    #[sqlx(rename = "wip_failed")]
    pub failed: i64,
    #[sqlx(rename = "wip_converted")]
    pub converted: i64,
    #[sqlx(rename = "wip_scrapped")]
    pub scrapped: i64,
}

/// Serials of a lot by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, FromRow)]
pub struct SerialCounts {
    #[sqlx(rename = "serial_total")]
    pub total: i64,
    #[sqlx(rename = "serial_created")]
    pub created: i64,
    #[sqlx(rename = "serial_in_progress")]
    pub in_progress: i64,
    #[sqlx(rename = "serial_failed")]
    pub failed: i64,
    #[sqlx(rename = "serial_completed")]
    pub completed: i64,
    #[sqlx(rename = "serial_scrapped")]
    pub scrapped: i64,
}

/// A lot with its model, line and unit counts (the list row and the base of the detail).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, FromRow)]
pub struct Lot {
    pub id: i64,
    pub lot_number: LotNumber,
    pub product_model_id: i64,
    pub model_code: String,
    pub model_name: String,
    /// NULL only for lots created before production lines existed (schema 0003).
    pub production_line_id: Option<i64>,
    pub country_code: Option<String>,
    pub line_code: Option<String>,
    pub production_date: NaiveDate,
    pub shift: Option<String>,
    pub target_quantity: i32,
    pub status: LotStatus,
    pub notes: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// WIP items in the lot (= `wip_counts.total`).
    pub wip_count: i64,
    #[sqlx(flatten)]
    pub wip_counts: WipCounts,
    #[sqlx(flatten)]
    pub serial_counts: SerialCounts,
}

/// Units of a lot at one process, by the result of each unit's latest record there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProcessCounts {
    pub process_id: i64,
    pub process_number: i32,
    pub process_code: String,
    /// Units whose latest record at this process is PASS.
    pub passed: i64,
    /// Units whose latest record at this process is FAIL.
    pub failed: i64,
    /// Units whose latest record at this process is REWORK.
    pub rework: i64,
    /// Units with an open (started, not completed) record at this process.
    pub open: i64,
}

/// A lot with per-process unit counts for all 8 processes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, FromRow)]
pub struct LotDetail {
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub lot: Lot,
    #[sqlx(json)]
    pub processes: Vec<ProcessCounts>,
}

/// A manual status change: put a lot ON_HOLD or release it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LotStatusChange {
    pub status: LotStatus,
    /// Why (at most 500 characters); appended to the lot's notes as `[<status> <time> by <user>] <reason>`.
    #[serde(default)]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_lot(q: i32, date: Option<NaiveDate>) -> NewLot {
        NewLot {
            product_model_id: 1,
            production_line_id: 1,
            target_quantity: q,
            production_date: date,
            shift: None,
            notes: None,
        }
    }

    #[test]
    fn quantity_and_date_window() {
        let today = NaiveDate::from_ymd_opt(2025, 11, 15).unwrap();
        assert!(new_lot(1, None).field_errors(today).is_empty());
        assert!(new_lot(999, None).field_errors(today).is_empty());
        let fields = |l: NewLot| {
            l.field_errors(today)
                .into_iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(fields(new_lot(0, None)), ["target_quantity"]);
        assert_eq!(fields(new_lot(1000, None)), ["target_quantity"]);
        assert!(fields(new_lot(5, NaiveDate::from_ymd_opt(2026, 11, 15))).is_empty());
        assert!(fields(new_lot(5, NaiveDate::from_ymd_opt(2024, 11, 15))).is_empty());
        assert_eq!(
            fields(new_lot(5, NaiveDate::from_ymd_opt(2026, 11, 16))),
            ["production_date"]
        );
        assert_eq!(
            fields(new_lot(0, NaiveDate::from_ymd_opt(2024, 11, 14))),
            ["target_quantity", "production_date"]
        );
    }

    #[test]
    fn statuses_parse_and_print() {
        for &s in LotStatus::ALL {
            assert_eq!(s.as_str().parse::<LotStatus>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!("open".parse::<LotStatus>().is_err());
    }
}
