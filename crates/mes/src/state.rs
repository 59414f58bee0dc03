//! The lot, WIP-item and serial state machines, in one place.
//!
//! The tables are docs/schema.md's "Status machines"; the database trigger `enforce_status_transition()`
//! (migration 0004) holds the same arrays and is the backstop (a test below reads the migration and compares).
//! Setting a status to itself is always allowed (a no-op). CLOSED, CONVERTED, COMPLETED (serial) and SCRAPPED are
//! final. Process results, data levels and defect severities are here too, so every status-like string of the
//! production flow has exactly one spelling.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! status_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let s = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                $name::parse(s).ok_or_else(|| format!("unexpected {} value `{s}`", stringify!($name)).into())
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s).ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    format!("must be one of {}", names.join(", "))
                })
            }
        }
    };
}

status_enum!(
    /// Status of a lot.
    LotStatus {
        Created => "CREATED",
        InProgress => "IN_PROGRESS",
        OnHold => "ON_HOLD",
        Completed => "COMPLETED",
        Closed => "CLOSED",
    }
);

status_enum!(
    /// Status of a WIP item (a unit before its label is printed).
    WipStatus {
        Created => "CREATED",
        InProgress => "IN_PROGRESS",
        Failed => "FAILED",
        Converted => "CONVERTED",
        Scrapped => "SCRAPPED",
    }
);

status_enum!(
    /// Status of a serial (a unit after its label is printed).
    SerialStatus {
        Created => "CREATED",
        InProgress => "IN_PROGRESS",
        Failed => "FAILED",
        Completed => "COMPLETED",
        Scrapped => "SCRAPPED",
    }
);

status_enum!(
    /// Result of a completed process record.
    ProcessResult {
        Pass => "PASS",
        Fail => "FAIL",
        Rework => "REWORK",
    }
);

status_enum!(
    /// What a process record covers: the lot as a whole, a WIP item, or a serial.
    DataLevel {
        Lot => "LOT",
        Wip => "WIP",
        Serial => "SERIAL",
    }
);

status_enum!(
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

pub fn lot_transition_allowed(from: LotStatus, to: LotStatus) -> bool {
    from == to || LOT_TRANSITIONS.contains(&(from, to))
}

pub fn wip_transition_allowed(from: WipStatus, to: WipStatus) -> bool {
    from == to || WIP_TRANSITIONS.contains(&(from, to))
}

pub fn serial_transition_allowed(from: SerialStatus, to: SerialStatus) -> bool {
    from == to || SERIAL_TRANSITIONS.contains(&(from, to))
}

impl LotStatus {
    /// Station work (starting / completing records) is possible only in these.
    pub fn is_active(self) -> bool {
        matches!(self, L::Created | L::InProgress)
    }
    pub fn is_final(self) -> bool {
        self == L::Closed
    }
}

impl WipStatus {
    pub fn is_final(self) -> bool {
        matches!(self, W::Converted | W::Scrapped)
    }
}

impl SerialStatus {
    pub fn is_final(self) -> bool {
        matches!(self, S::Completed | S::Scrapped)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        assert!(lot_transition_allowed(L::Created, L::InProgress));
        assert!(lot_transition_allowed(L::InProgress, L::Completed));
        assert!(lot_transition_allowed(L::Completed, L::Closed));
        // a lot whose every unit was scrapped before any start completes from CREATED; it still cannot close
        // without completing first
        assert!(lot_transition_allowed(L::Created, L::Completed));
        assert!(!lot_transition_allowed(L::Created, L::Closed));
        assert!(!lot_transition_allowed(L::OnHold, L::Completed));
        assert!(!lot_transition_allowed(L::Closed, L::InProgress));
        assert!(wip_transition_allowed(W::InProgress, W::Converted));
        assert!(wip_transition_allowed(W::Failed, W::InProgress));
        // a unit damaged before its first process can be scrapped; it cannot fail or convert without starting
        assert!(wip_transition_allowed(W::Created, W::Scrapped));
        assert!(serial_transition_allowed(S::Created, S::Scrapped));
        assert!(!wip_transition_allowed(W::Created, W::Failed));
        assert!(!wip_transition_allowed(W::Created, W::Converted));
        assert!(!serial_transition_allowed(S::Created, S::Completed));
        assert!(!wip_transition_allowed(W::Converted, W::InProgress));
        assert!(serial_transition_allowed(S::InProgress, S::Completed));
        assert!(!serial_transition_allowed(S::Failed, S::Completed));
        assert!(!serial_transition_allowed(S::Completed, S::InProgress));
        // self transitions are no-ops
        for s in LotStatus::ALL {
            assert!(lot_transition_allowed(*s, *s));
        }
    }

    #[test]
    fn final_states_have_no_way_out() {
        for (from, _) in LOT_TRANSITIONS {
            assert!(!from.is_final());
        }
        for (from, _) in WIP_TRANSITIONS {
            assert!(!from.is_final());
        }
        for (from, _) in SERIAL_TRANSITIONS {
            assert!(!from.is_final());
        }
    }

    /// The trigger `enforce_status_transition()` (migration 0004) holds the same tables.
    #[test]
    fn database_trigger_mirrors_the_tables() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../schema/migrations/0004_mes_api/up/02_functions_and_triggers.sql"
        );
        let schema_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema");
        if !std::path::Path::new(schema_dir).is_dir() {
            eprintln!("skipped: {schema_dir} is not beside this crate (partial checkout)");
            return;
        }
        let Ok(sql) = std::fs::read_to_string(path) else {
            panic!(
                "migration {path} not found: the state machines must be compared with the trigger"
            );
        };
        let arrays = trigger_arrays(&sql);
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

    fn any_lot() -> impl Strategy<Value = LotStatus> {
        prop::sample::select(LotStatus::ALL.to_vec())
    }
    fn any_wip() -> impl Strategy<Value = WipStatus> {
        prop::sample::select(WipStatus::ALL.to_vec())
    }
    fn any_serial() -> impl Strategy<Value = SerialStatus> {
        prop::sample::select(SerialStatus::ALL.to_vec())
    }

    proptest! {
        /// A random walk that only takes allowed steps only ever takes steps of the table (or stays put), and
        /// once in a final state stays there.
        #[test]
        fn lot_random_walks_stay_in_the_table(targets in prop::collection::vec(any_lot(), 0..64)) {
            let mut cur = LotStatus::Created;
            for t in targets {
                let was_final = cur.is_final();
                if lot_transition_allowed(cur, t) {
                    prop_assert!(cur == t || LOT_TRANSITIONS.contains(&(cur, t)));
                    cur = t;
                }
                if was_final { prop_assert_eq!(cur, LotStatus::Closed); }
            }
        }

        #[test]
        fn wip_random_walks_stay_in_the_table(targets in prop::collection::vec(any_wip(), 0..64)) {
            let mut cur = WipStatus::Created;
            for t in targets {
                let before = cur;
                if wip_transition_allowed(cur, t) {
                    prop_assert!(cur == t || WIP_TRANSITIONS.contains(&(cur, t)));
                    cur = t;
                }
                if before.is_final() { prop_assert_eq!(cur, before); }
            }
        }

        #[test]
        fn serial_random_walks_stay_in_the_table(targets in prop::collection::vec(any_serial(), 0..64)) {
            let mut cur = SerialStatus::Created;
            for t in targets {
                let before = cur;
                if serial_transition_allowed(cur, t) {
                    prop_assert!(cur == t || SERIAL_TRANSITIONS.contains(&(cur, t)));
                    cur = t;
                }
                if before.is_final() { prop_assert_eq!(cur, before); }
            }
        }

        /// Every pair outside the table (and not a self-transition) is refused.
        #[test]
        fn pairs_outside_the_table_are_refused(a in any_serial(), b in any_serial(), c in any_wip(), d in any_wip(), e in any_lot(), f in any_lot()) {
            prop_assert_eq!(serial_transition_allowed(a, b), a == b || SERIAL_TRANSITIONS.contains(&(a, b)));
            prop_assert_eq!(wip_transition_allowed(c, d), c == d || WIP_TRANSITIONS.contains(&(c, d)));
            prop_assert_eq!(lot_transition_allowed(e, f), e == f || LOT_TRANSITIONS.contains(&(e, f)));
        }
    }
}
