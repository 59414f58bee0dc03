//! The production flow: what starting and completing a process does to a unit and its lot, in one transaction.
//!
//! The rules (docs/production-flow.md is the long form):
//! - a unit is a WIP item until its label is printed (the PASS of the conversion process, LABEL_PRINTING = 7),
//!   then a serial; records of a WIP item are WIP-level, records of a serial are SERIAL-level (with `wip_id` still
//!   pointing at the originating WIP item), LOT-level records cover the lot as a whole;
//! - a unit may start process N only with a PASS at every earlier active process; one open record per unit and
//!   process; FAILED / SCRAPPED / COMPLETED units start nothing; ON_HOLD / CLOSED / COMPLETED lots accept no work;
//! - PASS advances (and converts / completes), FAIL fails the unit, REWORK re-opens the same process (or scraps
//!   the unit past `max_rework`); a lot completes when all its units are completed or scrapped.
//!
//! Row locks are always taken in the order lot → WIP item → serial → process record, so two stations never
//! deadlock; the lot lock also serializes the "is every unit done?" decision.
//!
//! Files: `route` (processes, next / missing), `request` (bodies and their shape checks), `unit` (naming,
//! locking and updating units, their history), `lot` (the lot's lock and status), `rules` (sequence rule,
//! equipment, completion values), `criteria` (quality criteria), `record` (the answered record, INSERT /
//! UPDATE), `start`, `complete`, `batch`, `disposition` (rework / scrap), `http` (their handlers).

mod batch;
mod complete;
pub(crate) mod criteria;
mod disposition;
mod http;
mod lot;
pub mod probe;
mod record;
mod request;
mod route;
mod rules;
mod start;
mod unit;

pub use batch::batch_complete;
pub use complete::{complete, Completion};
pub use criteria::{check_criteria, CriteriaOutcome};
pub use disposition::{rework, scrap, Disposition, DispositionResult};
pub use http::{rework_serial, rework_wip, router, scrap_serial, scrap_wip};
pub use lot::{check_lot_active, lock_lot, lock_lot_by_id, try_complete_lot, LockedLot, LotState};
pub use record::{ProcessRecord, RECORD_COLUMNS, RECORD_JOINS};
pub use request::{
    validate_completion, BatchComplete, CompleteProcess, Defect, ScrapUnit, StartProcess,
    MAX_DEFECTS, MAX_MEASUREMENTS, MAX_NOTES,
};
pub use route::{ProcessInfo, Route, CONVERSION_PROCESS_NUMBER};
pub use rules::check_can_start;
pub use start::start;
pub use unit::{
    lock_unit, lock_unit_ids, passed_set, unit_history, HistoryRow, LockedUnit, SerialRow,
    UnitKind, UnitRef, UnitSelector, UnitState, WipRow,
};

#[cfg(test)]
use disposition::path_ref;
#[cfg(test)]
use {
    crate::state::{ProcessResult, Severity},
    serde_json::{Map, Value},
    std::collections::HashSet,
};

#[cfg(test)]
mod tests;
