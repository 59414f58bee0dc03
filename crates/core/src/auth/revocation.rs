//! Immediate revocation of access tokens without a query per request.
//!
//! Each account has a `token_generation` (migration 0007) that the database bumps whenever its role, active flag
//! or password changes, announcing `<user id>:<generation>` on channel [`CHANNEL`]. Access tokens carry the
//! generation they were issued at (`gen`). Every server process keeps the known generations in this map: a
//! background listener (`neurohub_server::spawn_revocation_listener`) applies each notification and reloads the
//! whole map after every (re)connect, so a notification missed while disconnected is never lost. A token whose
//! generation is older than the map's is refused with 401 `TOKEN_REVOKED`; the window is the notification's delivery
//! time (milliseconds), not the token's lifetime. The process that makes the change (an admin's PATCH of the user,
//! a self-service password change) also records the new generation itself right after its commit, so on that node
//! there is no window at all (a token used on the next request would otherwise race the notification).
//!
//! Only accounts whose generation ever moved are in the map (generation 0 is the default of every token), so the
//! reload is small whatever the number of users.

use std::collections::HashMap;
use std::sync::RwLock;

/// The LISTEN / NOTIFY channel the trigger `bump_token_generation()` announces on.
pub const CHANNEL: &str = "neurohub_users";

/// Known token generations by user id.
#[derive(Debug, Default)]
pub struct Revocations {
    generations: RwLock<HashMap<i64, i32>>,
}

impl Revocations {
    /// Whether a token of `user_id` issued at `generation` is still good.
    pub fn allows(&self, user_id: i64, generation: i32) -> bool {
        let map = self.generations.read().unwrap_or_else(|e| e.into_inner());
        map.get(&user_id)
            .is_none_or(|current| generation >= *current)
    }

    /// Apply one notification payload (`<user id>:<generation>`); a malformed one is ignored (and logged).
    pub fn apply_notification(&self, payload: &str) {
        let parsed = payload
            .split_once(':')
            .and_then(|(u, g)| Some((u.parse::<i64>().ok()?, g.parse::<i32>().ok()?)));
        match parsed {
            Some((user, generation)) => self.set(user, generation),
            None => tracing::warn!(payload, "ignored a malformed token-generation notification"),
        }
    }

    /// Record a generation (never moves backwards: notifications may arrive out of order with a reload).
    pub fn set(&self, user_id: i64, generation: i32) {
        self.merge([(user_id, generation)]);
    }

    /// Merge a full reload. Generations never decrease in the database, so the union with the larger value per
    /// user is right even when a notification raced the reload.
    pub fn merge(&self, rows: impl IntoIterator<Item = (i64, i32)>) {
        let mut map = self.generations.write().unwrap_or_else(|e| e.into_inner());
        for (user, generation) in rows {
            let e = map.entry(user).or_insert(generation);
            *e = (*e).max(generation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_generations_are_refused() {
        let r = Revocations::default();
        assert!(r.allows(7, 0), "unknown users keep their tokens");
        r.apply_notification("7:2");
        assert!(!r.allows(7, 0) && !r.allows(7, 1));
        assert!(r.allows(7, 2) && r.allows(7, 3));
        r.apply_notification("7:1"); // late and out of order: never moves back
        assert!(!r.allows(7, 1));
        r.apply_notification("garbage");
        r.merge([(8, 1), (7, 1)]);
        assert!(
            !r.allows(8, 0) && !r.allows(7, 1),
            "a reload keeps a newer generation"
        );
    }
}
