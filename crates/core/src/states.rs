//! State machines as data: a status enum plus its table of allowed transitions.
//!
//! The table is the one place a domain writes its rules; everything else derives from it: whether a change is
//! allowed, which states are final (no way out), and the structural properties every machine must have (each state
//! reachable from the initial one, each non-final state able to reach a final one) that tests check with
//! [`check_structure`]. Domain code changes a status only through [`StateMachine::transition`], so a refused change
//! is a typed 409 before any SQL runs; the database keeps a trigger holding the same table as its backstop, and each
//! domain has a test that the two agree.

use crate::error::ApiError;
use std::fmt::Display;

/// A status enum with its allowed transitions. Setting a status to itself is always allowed (a no-op).
pub trait StateMachine: Copy + Eq + Display + 'static {
    /// The state every record starts in.
    const INITIAL: Self;
    /// Every state (for structural checks).
    const STATES: &'static [Self];
    /// Allowed `(from, to)` pairs.
    const TRANSITIONS: &'static [(Self, Self)];
    /// What the machine is about, for messages (`lot`, `WIP item`, `config version`).
    const SUBJECT: &'static str;

    /// `to` is allowed from `self` (or equals it).
    fn can_become(self, to: Self) -> bool {
        self == to || Self::TRANSITIONS.contains(&(self, to))
    }

    /// A final state has no transition out of it.
    fn is_final(self) -> bool {
        !Self::TRANSITIONS.iter().any(|(from, _)| *from == self)
    }

    /// The states reachable in one step.
    fn next_states(self) -> Vec<Self> {
        Self::TRANSITIONS
            .iter()
            .filter(|(from, _)| *from == self)
            .map(|(_, to)| *to)
            .collect()
    }

    /// `to` if allowed, else 409 `INVALID_STATUS_TRANSITION` naming both states and what is allowed instead.
    fn transition(self, to: Self) -> Result<Self, ApiError> {
        if self.can_become(to) {
            return Ok(to);
        }
        let next: Vec<String> = self.next_states().iter().map(|s| s.to_string()).collect();
        let allowed = if next.is_empty() {
            format!("{self} is final")
        } else {
            format!("from {self} it may become {}", next.join(", "))
        };
        Err(ApiError::conflict(
            "INVALID_STATUS_TRANSITION",
            format!(
                "a {} cannot go from {self} to {to}; {allowed}",
                Self::SUBJECT
            ),
        )
        .with_field("status", format!("cannot become {to}")))
    }
}

/// Structural problems of a machine: states unreachable from [`StateMachine::INITIAL`], and non-final states
/// from which no final state can be reached (a record could be stuck forever). Empty when the machine is sound.
pub fn check_structure<S: StateMachine>() -> Vec<String> {
    let reach = |from: S| -> Vec<S> {
        let mut seen = vec![from];
        let mut i = 0;
        while i < seen.len() {
            for n in seen[i].next_states() {
                if !seen.contains(&n) {
                    seen.push(n);
                }
            }
            i += 1;
        }
        seen
    };
    let mut problems = Vec::new();
    let from_initial = reach(S::INITIAL);
    for s in S::STATES {
        if !from_initial.contains(s) {
            problems.push(format!("{s} is not reachable from {}", S::INITIAL));
        }
        if !s.is_final() && !reach(*s).iter().any(|r| r.is_final()) {
            problems.push(format!("{s} cannot reach a final state"));
        }
    }
    for (from, to) in S::TRANSITIONS {
        if from == to {
            problems.push(format!(
                "{from}>{to} lists a self-transition (always allowed anyway)"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Door {
        Open,
        Closed,
        Locked,
        Broken,
    }
    impl Display for Door {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }
    impl StateMachine for Door {
        const INITIAL: Self = Door::Open;
        const STATES: &'static [Self] = &[Door::Open, Door::Closed, Door::Locked, Door::Broken];
        const TRANSITIONS: &'static [(Self, Self)] = &[
            (Door::Open, Door::Closed),
            (Door::Closed, Door::Open),
            (Door::Closed, Door::Locked),
            (Door::Locked, Door::Closed),
        ];
        const SUBJECT: &'static str = "door";
    }

    #[test]
    fn transitions_follow_the_table() {
        assert_eq!(Door::Open.transition(Door::Closed).unwrap(), Door::Closed);
        assert_eq!(Door::Open.transition(Door::Open).unwrap(), Door::Open);
        let e = Door::Open.transition(Door::Locked).unwrap_err();
        assert_eq!(e.code, "INVALID_STATUS_TRANSITION");
        assert!(
            e.detail.contains("from Open it may become Closed"),
            "{}",
            e.detail
        );
    }

    #[test]
    fn structure_finds_unreachable_and_stuck_states() {
        let problems = check_structure::<Door>();
        // Broken is unreachable; Open/Closed/Locked cycle with no final state, and Broken (final) is the only one
        assert!(
            problems
                .iter()
                .any(|p| p == "Broken is not reachable from Open"),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p == "Open cannot reach a final state"),
            "{problems:?}"
        );
        assert!(Door::Broken.is_final() && !Door::Locked.is_final());
    }
}
