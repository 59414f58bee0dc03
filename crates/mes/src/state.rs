//! The lot, WIP-item and serial state machines, in one place.
//!
//! The tables are docs/schema.md's "Status machines", declared as [`StateMachine`]s (the shared pattern of
//! `neurohub_core::states`): every status change of the flow goes through `StateMachine::transition`, and the
//! database trigger `enforce_status_transition()` (migration 0004) holds the same arrays as the backstop (a test
//! below reads the migration and compares). Setting a status to itself is always allowed (a no-op). CLOSED,
//! CONVERTED, COMPLETED (serial) and SCRAPPED are final (derived: no transition leaves them). Process results, data levels and defect severities are here too, so every status-like string of the
//! production flow has exactly one spelling.

use neurohub_core::states::StateMachine;

neurohub_core::text_enum!(
    /// Status of a lot.
    LotStatus {
        Created => "CREATED",
        InProgress => "IN_PROGRESS",
        OnHold => "ON_HOLD",
        Completed => "COMPLETED",
        Closed => "CLOSED",
    }
);

neurohub_core::text_enum!(
    /// Status of a WIP item (a unit before its label is printed).
    WipStatus {
        Created => "CREATED",
        InProgress => "IN_PROGRESS",
        Failed => "FAILED",
        Converted => "CONVERTED",
        Scrapped => "SCRAPPED",
    }
);

neurohub_core::text_enum!(
    /// Status of a serial (a unit after its label is printed).
    SerialStatus {
        Created => "CREATED",
        InProgress => "IN_PROGRESS",
        Failed => "FAILED",
        Completed => "COMPLETED",
        Scrapped => "SCRAPPED",
    }
);

neurohub_core::text_enum!(
    /// Result of a completed process record.
    ProcessResult {
        Pass => "PASS",
        Fail => "FAIL",
        Rework => "REWORK",
    }
);

neurohub_core::text_enum!(
    /// What a process record covers: the lot as a whole, a WIP item, or a serial.
    DataLevel {
        Lot => "LOT",
        Wip => "WIP",
        Serial => "SERIAL",
    }
);

neurohub_core::text_enum!(
    /// Severity of a defect.
    Severity {
        Minor => "MINOR",
        Major => "MAJOR",
        Critical => "CRITICAL",
    }
);

use LotStatus as L;
use SerialStatus as S;
use WipStatus as W;

/// Lot transitions (docs/schema.md).
pub const LOT_TRANSITIONS: &[(LotStatus, LotStatus)] = &[
    (L::Created, L::InProgress),
    (L::Created, L::OnHold),
    (L::InProgress, L::OnHold),
    (L::OnHold, L::Created),
    (L::OnHold, L::InProgress),
    (L::InProgress, L::Completed),
    // every unit scrapped before any process started: nothing is left to make
    (L::Created, L::Completed),
    (L::Completed, L::Closed),
];

/// WIP-item transitions (docs/schema.md). A WIP item never completes by itself: it becomes CONVERTED when its
/// serial is created, and the serial carries the unit from there. A unit that never started may be scrapped (a
/// part damaged before its first process).
pub const WIP_TRANSITIONS: &[(WipStatus, WipStatus)] = &[
    (W::Created, W::InProgress),
    (W::Created, W::Scrapped),
    (W::InProgress, W::Failed),
    (W::InProgress, W::Converted),
    (W::InProgress, W::Scrapped),
    (W::Failed, W::InProgress),
    (W::Failed, W::Scrapped),
];

/// Serial transitions (docs/schema.md).
pub const SERIAL_TRANSITIONS: &[(SerialStatus, SerialStatus)] = &[
    (S::Created, S::InProgress),
    (S::Created, S::Scrapped),
    (S::InProgress, S::Failed),
    (S::InProgress, S::Completed),
    (S::InProgress, S::Scrapped),
    (S::Failed, S::InProgress),
    (S::Failed, S::Scrapped),
];

impl StateMachine for LotStatus {
    const INITIAL: Self = L::Created;
    const STATES: &'static [Self] = LotStatus::ALL;
    const TRANSITIONS: &'static [(Self, Self)] = LOT_TRANSITIONS;
    const SUBJECT: &'static str = "lot";
}

impl StateMachine for WipStatus {
    const INITIAL: Self = W::Created;
    const STATES: &'static [Self] = WipStatus::ALL;
    const TRANSITIONS: &'static [(Self, Self)] = WIP_TRANSITIONS;
    const SUBJECT: &'static str = "WIP item";
}

impl StateMachine for SerialStatus {
    const INITIAL: Self = S::Created;
    const STATES: &'static [Self] = SerialStatus::ALL;
    const TRANSITIONS: &'static [(Self, Self)] = SERIAL_TRANSITIONS;
    const SUBJECT: &'static str = "serial";
}

impl LotStatus {
    /// Station work (starting / completing records) is possible only in these.
    pub fn is_active(self) -> bool {
        matches!(self, L::Created | L::InProgress)
    }
}

/// The status of a unit, whichever kind it is (a WIP item not yet converted, or a serial).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitStatus {
    Wip(WipStatus),
    Serial(SerialStatus),
}

impl UnitStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitStatus::Wip(s) => s.as_str(),
            UnitStatus::Serial(s) => s.as_str(),
        }
    }
}

/// A status change the flow makes on "the unit", whichever kind its current row is: the targets both machines
/// share. The change itself is still checked by the row's own machine ([`StateMachine::transition`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitMove {
    InProgress,
    Failed,
    Scrapped,
}

impl UnitMove {
    pub fn wip(self) -> WipStatus {
        match self {
            UnitMove::InProgress => W::InProgress,
            UnitMove::Failed => W::Failed,
            UnitMove::Scrapped => W::Scrapped,
        }
    }

    pub fn serial(self) -> SerialStatus {
        match self {
            UnitMove::InProgress => S::InProgress,
            UnitMove::Failed => S::Failed,
            UnitMove::Scrapped => S::Scrapped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neurohub_core::states::check_structure;

    #[test]
    fn names_round_trip() {
        for s in LotStatus::ALL {
            assert_eq!(LotStatus::parse(s.as_str()), Some(*s));
        }
        for s in WipStatus::ALL {
            assert_eq!(s.as_str().parse::<WipStatus>(), Ok(*s));
        }
        for s in SerialStatus::ALL {
            assert_eq!(SerialStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(ProcessResult::parse("PASS"), Some(ProcessResult::Pass));
        assert_eq!(Severity::parse("CRITICAL"), Some(Severity::Critical));
        assert_eq!(DataLevel::parse("WIP"), Some(DataLevel::Wip));
        assert!(LotStatus::parse("created").is_none());
        assert!("BOGUS"
            .parse::<SerialStatus>()
            .unwrap_err()
            .contains("IN_PROGRESS"));
        assert_eq!(
            serde_json::to_string(&LotStatus::InProgress).unwrap(),
            "\"IN_PROGRESS\""
        );
    }

    #[test]
    fn documented_transitions() {
        assert!(L::can_become(L::Created, L::InProgress));
        assert!(L::can_become(L::InProgress, L::Completed));
        assert!(L::can_become(L::Completed, L::Closed));
        // a lot whose every unit was scrapped before any start completes from CREATED; it still cannot close
        // without completing first
        assert!(L::can_become(L::Created, L::Completed));
        assert!(!L::can_become(L::Created, L::Closed));
        assert!(!L::can_become(L::OnHold, L::Completed));
        assert!(!L::can_become(L::Closed, L::InProgress));
        assert!(W::can_become(W::InProgress, W::Converted));
        assert!(W::can_become(W::Failed, W::InProgress));
        // a unit damaged before its first process can be scrapped; it cannot fail or convert without starting
        assert!(W::can_become(W::Created, W::Scrapped));
        assert!(S::can_become(S::Created, S::Scrapped));
        assert!(!W::can_become(W::Created, W::Failed));
        assert!(!W::can_become(W::Created, W::Converted));
        assert!(!S::can_become(S::Created, S::Completed));
        assert!(!W::can_become(W::Converted, W::InProgress));
        assert!(S::can_become(S::InProgress, S::Completed));
        assert!(!S::can_become(S::Failed, S::Completed));
        assert!(!S::can_become(S::Completed, S::InProgress));
        // self transitions are no-ops
        for s in LotStatus::ALL {
            assert!(s.can_become(*s));
        }
    }

    /// The final states are derived from the tables (no transition leaves them): these are the documented ones.
    #[test]
    fn final_states_are_the_documented_ones() {
        let finals = |all: Vec<String>| all;
        assert_eq!(
            finals(
                LotStatus::ALL
                    .iter()
                    .filter(|s| s.is_final())
                    .map(|s| s.to_string())
                    .collect()
            ),
            ["CLOSED"]
        );
        assert_eq!(
            finals(
                WipStatus::ALL
                    .iter()
                    .filter(|s| s.is_final())
                    .map(|s| s.to_string())
                    .collect()
            ),
            ["CONVERTED", "SCRAPPED"]
        );
        assert_eq!(
            finals(
                SerialStatus::ALL
                    .iter()
                    .filter(|s| s.is_final())
                    .map(|s| s.to_string())
                    .collect()
            ),
            ["COMPLETED", "SCRAPPED"]
        );
    }

    /// Every state is reachable from CREATED, and every non-final state can still reach a final one (no unit or
    /// lot can get stuck): a transition removed from a table, or a state added without its way in or out, fails.
    #[test]
    fn every_machine_is_sound() {
        assert_eq!(check_structure::<LotStatus>(), Vec::<String>::new());
        assert_eq!(check_structure::<WipStatus>(), Vec::<String>::new());
        assert_eq!(check_structure::<SerialStatus>(), Vec::<String>::new());
    }

    /// A refused change names both states and what is allowed instead (the 409 stations show).
    #[test]
    fn refused_transitions_explain_themselves() {
        let e = W::Converted.transition(W::InProgress).unwrap_err();
        assert_eq!(e.code, "INVALID_STATUS_TRANSITION");
        assert!(e.detail.contains("CONVERTED is final"), "{}", e.detail);
        let e = L::Created.transition(L::Closed).unwrap_err();
        assert!(
            e.detail.contains("IN_PROGRESS, ON_HOLD, COMPLETED"),
            "{}",
            e.detail
        );
    }

    /// The trigger `enforce_status_transition()` (migration 0004) holds the same tables.
    #[test]
    fn database_trigger_mirrors_the_tables() {
        // The migration is embedded at compile time: a checkout without it does not build this test at all,
        // so the comparison can never be silently skipped.
        let sql = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../schema/migrations/0004_mes_api/up/02_functions_and_triggers.sql"
        ));
        let arrays = trigger_arrays(sql);
        assert_eq!(
            arrays.len(),
            3,
            "the trigger's three tables were not found: {arrays:?}"
        );
        let lot: Vec<String> = LOT_TRANSITIONS
            .iter()
            .map(|(a, b)| format!("{a}>{b}"))
            .collect();
        let wip: Vec<String> = WIP_TRANSITIONS
            .iter()
            .map(|(a, b)| format!("{a}>{b}"))
            .collect();
        let serial: Vec<String> = SERIAL_TRANSITIONS
            .iter()
            .map(|(a, b)| format!("{a}>{b}"))
            .collect();
        assert_eq!(
            sorted(arrays.get("lots").cloned().unwrap_or_default()),
            sorted(lot)
        );
        assert_eq!(
            sorted(arrays.get("wip_items").cloned().unwrap_or_default()),
            sorted(wip)
        );
        assert_eq!(
            sorted(arrays.get("serials").cloned().unwrap_or_default()),
            sorted(serial)
        );
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    /// `WHEN 'lots' THEN ... allowed := ARRAY['A>B', ...];` blocks of the trigger, by table name.
    fn trigger_arrays(sql: &str) -> std::collections::HashMap<String, Vec<String>> {
        let body = sql
            .split("enforce_status_transition()")
            .nth(1)
            .unwrap_or("");
        let mut out = std::collections::HashMap::new();
        for part in body.split("WHEN '").skip(1) {
            let table = part.split('\'').next().unwrap_or("").to_string();
            let Some(arr) = part
                .split("ARRAY[")
                .nth(1)
                .and_then(|a| a.split(']').next())
            else {
                continue;
            };
            let items = arr
                .split(',')
                .map(|s| s.trim().trim_matches('\'').to_string())
                .filter(|s| !s.is_empty())
                .collect();
            out.insert(table, items);
        }
        out
    }
}
