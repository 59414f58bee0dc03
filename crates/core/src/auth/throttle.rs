//! Login throttling: failures are counted per (username, client address) and per client address, never per account
//! alone, so nobody can lock somebody else out; and sign-in / refresh requests are rate-limited per address.
//!
//! Why this shape (see docs/architecture.md, "Login throttling"):
//! - A lock on the *account* lets anyone lock the admin out with five bad passwords. Keyed by (username, address),
//!   an attacker's failures slow only the attacker's own attempts at that username; the owner at their station
//!   (another address) signs in as usual. The per-address count (over all usernames) stops one address spraying
//!   many usernames.
//! - Backoff instead of a fixed lock: after `free_failures` failures every further one doubles the wait
//!   (`backoff_base`, 2×, 4×, … up to `backoff_max`). A typo costs nothing; guessing becomes exponentially slow.
//! - The address is the request's client address ([`crate::client_addr`]): the TCP peer, and a forwarding header
//!   only when the peer is one of `--trusted-proxies` (right-most untrusted hop). From any other peer the header
//!   is ignored, so it is never the attacker's to choose. IPv6 addresses count per /64 (one host can hold a
//!   whole /64).
//! - State is in memory, per server process: a hostile attempt costs a hash-map lookup, not a database write on
//!   the primary, and the check happens before the password hash is computed. With N API nodes an attacker gets at
//!   most N× the attempts, still exponentially throttled; a restart forgets the counts (the wait is a brake on
//!   guessing, not a record — failed sign-ins are in the log).
//!
//! The rate limit is a token bucket per address shared by `POST /auth/login` and `POST /auth/refresh`
//! ([`AuthRate`], an extractor, so it refuses before the body is read). Everything answers 429 problem+json with
//! `Retry-After`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::ApiError;
use crate::state::AppState;

/// Entries are swept (stale ones dropped) when a map grows past this many.
const SWEEP_AT: usize = 50_000;

/// How failures are counted and punished, and how fast sign-in requests may come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures of one username from one address before the backoff starts.
    pub free_failures: u32,
    /// Failures from one address, over all usernames, before the backoff starts for that address.
    pub address_free_failures: u32,
    /// The first wait; each further failure doubles it.
    pub backoff_base: Duration,
    /// The longest wait (a key that stays quiet for four times this starts again from zero).
    pub backoff_max: Duration,
    /// Sign-in and refresh requests per address per minute (also the burst).
    pub rate_per_minute: u32,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            free_failures: 5,
            address_free_failures: 20,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(15 * 60),
            rate_per_minute: 30,
        }
    }
}

/// The key of an address: the IPv4 address, or the /64 of an IPv6 one; `None` when the server has no peer address
/// (an in-process call), which counts as one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddrKey(Option<IpAddr>);

impl AddrKey {
    pub fn new(ip: Option<IpAddr>) -> Self {
        AddrKey(ip.map(|ip| match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
            },
            v4 => v4,
        }))
    }

    /// The key of a request: its client address (the TCP peer, or what a trusted proxy reported).
    pub fn of(parts: &Parts) -> Self {
        Self::new(crate::client_addr::client_ip(&parts.extensions))
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    pairs: HashMap<(String, AddrKey), Failures>,
    addrs: HashMap<AddrKey, Failures>,
    buckets: HashMap<AddrKey, Bucket>,
}

/// The throttle of one server process (in [`AppState::throttle`]).
#[derive(Debug)]
pub struct LoginThrottle {
    cfg: ThrottleConfig,
    inner: Mutex<Inner>,
}

fn wait_of(until: Option<Instant>, now: Instant) -> Option<Duration> {
    until.filter(|u| *u > now).map(|u| u - now)
}

/// Seconds for `Retry-After`: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs_f64().ceil() as u64).max(1)
}

impl LoginThrottle {
    pub fn new(cfg: ThrottleConfig) -> Self {
        Self {
            cfg,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn config(&self) -> &ThrottleConfig {
        &self.cfg
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain counters behind: still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The wait after `count` failures when `free` are free.
    fn backoff(&self, count: u32, free: u32) -> Option<Duration> {
        let over = count.checked_sub(free)?.checked_sub(1)?;
        let factor = 1u32.checked_shl(over.min(31)).unwrap_or(u32::MAX);
        Some(
            self.cfg
                .backoff_base
                .saturating_mul(factor)
                .min(self.cfg.backoff_max),
        )
    }

    /// How long a key must stay quiet (no failure) before its count starts over: four of the longest wait, so
    /// waiting out one maximal backoff does not buy a fresh set of free failures.
    pub fn forget_after(&self) -> Duration {
        self.cfg.backoff_max.saturating_mul(4)
    }

    /// Take one sign-in/refresh request from the address's bucket; `Err(wait)` when it is empty.
    pub fn admit(&self, addr: AddrKey, now: Instant) -> Result<(), Duration> {
        let rate = f64::from(self.cfg.rate_per_minute.max(1));
        let per_sec = rate / 60.0;
        let mut inner = self.lock();
        if inner.buckets.len() >= SWEEP_AT {
            // A bucket that has refilled is the same as no bucket.
            inner
                .buckets
                .retain(|_, b| now.saturating_duration_since(b.at).as_secs_f64() * per_sec < rate);
        }
        let b = inner.buckets.entry(addr).or_insert(Bucket {
            tokens: rate,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_sec).min(rate);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
        }
    }

    /// `Err(wait)` while `username` from `addr`, or `addr` itself, is in its backoff.
    pub fn check(&self, username: &str, addr: AddrKey, now: Instant) -> Result<(), Duration> {
        let inner = self.lock();
        let pair = inner
            .pairs
            .get(&(username.to_string(), addr))
            .and_then(|f| wait_of(f.blocked_until, now));
        let whole = inner
            .addrs
            .get(&addr)
            .and_then(|f| wait_of(f.blocked_until, now));
        match pair.max(whole) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Count a failed sign-in; `Some(wait)` when this failure starts a backoff.
    pub fn failed(&self, username: &str, addr: AddrKey, now: Instant) -> Option<Duration> {
        let forget = self.forget_after();
        let mut inner = self.lock();
        if inner.pairs.len() >= SWEEP_AT {
            inner
                .pairs
                .retain(|_, f| now.saturating_duration_since(f.last) < forget);
            inner
                .addrs
                .retain(|_, f| now.saturating_duration_since(f.last) < forget);
        }
        let bump = |f: &mut Failures, free: u32| {
            // A key that stayed quiet long enough starts again from zero.
            if now.saturating_duration_since(f.last) >= forget {
                f.count = 0;
            }
            f.count = f.count.saturating_add(1);
            f.last = now;
            let wait = self.backoff(f.count, free);
            f.blocked_until = wait.map(|w| now + w);
            wait
        };
        let fresh = Failures {
            count: 0,
            last: now,
            blocked_until: None,
        };
        let pair = bump(
            inner
                .pairs
                .entry((username.to_string(), addr))
                .or_insert(fresh),
            self.cfg.free_failures,
        );
        let whole = bump(
            inner.addrs.entry(addr).or_insert(fresh),
            self.cfg.address_free_failures,
        );
        pair.max(whole)
    }

    /// A successful sign-in clears the (username, address) count. The address's own count stays: signing in to
    /// one's own account must not reset a spray over other usernames.
    pub fn succeeded(&self, username: &str, addr: AddrKey) {
        self.lock().pairs.remove(&(username.to_string(), addr));
    }
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(ThrottleConfig::default())
    }
}

/// The sign-in rate limit as an extractor: put it before the body, and a request over the address's rate is
/// answered 429 `RATE_LIMITED` (with `Retry-After`) without reading the body.
#[derive(Debug, Clone, Copy)]
pub struct AuthRate(pub AddrKey);

impl FromRequestParts<AppState> for AuthRate {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let addr = AddrKey::of(parts);
        st.throttle.admit(addr, Instant::now()).map_err(|wait| {
            let secs = retry_after_secs(wait);
            ApiError::too_many_requests(
                "RATE_LIMITED",
                format!("too many sign-in requests from this address; try again in {secs} seconds"),
            )
            .retry_after(secs)
        })?;
        Ok(AuthRate(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ThrottleConfig {
        ThrottleConfig {
            free_failures: 3,
            address_free_failures: 10,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            rate_per_minute: 6,
        }
    }

    fn a(last: u8) -> AddrKey {
        AddrKey::new(Some(IpAddr::from([10, 0, 0, last])))
    }

    #[test]
    fn backoff_starts_after_the_free_failures_and_doubles_up_to_the_maximum() {
        let t = LoginThrottle::new(cfg());
        let now = Instant::now();
        let mut waits = Vec::new();
        for i in 0..10u64 {
            // each failure after its wait has passed (every attempt is a real one)
            let at = now + Duration::from_secs(i * 61);
            assert_eq!(t.check("admin", a(1), at), Ok(()));
            waits.push(t.failed("admin", a(1), at).map(|w| w.as_secs()));
        }
        assert_eq!(
            waits,
            [
                None,
                None,
                None,
                Some(1),
                Some(2),
                Some(4),
                Some(8),
                Some(16),
                Some(32),
                Some(60)
            ]
        );
    }

    #[test]
    fn a_wait_refuses_until_it_has_passed() {
        let t = LoginThrottle::new(cfg());
        let now = Instant::now();
        for _ in 0..3 {
            t.failed("admin", a(1), now);
        }
        let wait = t.failed("admin", a(1), now).unwrap();
        assert_eq!(t.check("admin", a(1), now), Err(wait));
        assert_eq!(
            t.check("admin", a(1), now + Duration::from_millis(400)),
            Err(wait - Duration::from_millis(400))
        );
        assert_eq!(t.check("admin", a(1), now + wait), Ok(()));
    }

    #[test]
    fn failures_of_one_address_do_not_touch_another_address_or_username() {
        let t = LoginThrottle::new(cfg());
        let now = Instant::now();
        for _ in 0..8 {
            t.failed("admin", a(1), now);
        }
        assert!(t.check("admin", a(1), now).is_err());
        assert_eq!(t.check("admin", a(2), now), Ok(()));
        assert_eq!(t.check("operator", a(1), now), Ok(()));
    }

    #[test]
    fn an_address_spraying_usernames_is_throttled_as_a_whole() {
        let t = LoginThrottle::new(cfg());
        let now = Instant::now();
        for i in 0..10 {
            assert_eq!(t.failed(&format!("user{i}"), a(1), now), None);
        }
        // the eleventh username, never tried before, already waits: the address's count is over
        assert!(t.failed("user10", a(1), now).is_some());
        assert!(t.check("someone-else", a(1), now).is_err());
        assert_eq!(t.check("someone-else", a(2), now), Ok(()));
    }

    #[test]
    fn success_clears_the_pair_but_not_the_address() {
        let t = LoginThrottle::new(cfg());
        let now = Instant::now();
        for i in 0..8 {
            t.failed(&format!("user{i}"), a(1), now);
        }
        t.failed("me", a(1), now);
        t.failed("me", a(1), now);
        // ten failures from the address: at its limit, not over it
        t.succeeded("me", a(1));
        // the pair starts over: three free failures again ...
        assert_eq!(t.check("me", a(1), now), Ok(()));
        // ... but the address reached its limit with the eleventh failure
        assert!(t.failed("me", a(1), now).is_some());
    }

    #[test]
    fn a_quiet_key_forgets_its_count() {
        let t = LoginThrottle::new(cfg());
        let now = Instant::now();
        for _ in 0..3 {
            t.failed("admin", a(1), now);
        }
        let later = now + Duration::from_secs(240);
        assert_eq!(t.failed("admin", a(1), later), None);
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_refills() {
        let t = LoginThrottle::new(cfg());
        let now = Instant::now();
        for _ in 0..6 {
            assert_eq!(t.admit(a(1), now), Ok(()));
        }
        let wait = t.admit(a(1), now).unwrap_err();
        assert_eq!(wait.as_secs(), 10); // 6 per minute: one every 10 s
        assert_eq!(t.admit(a(2), now), Ok(()));
        assert_eq!(t.admit(a(1), now + Duration::from_secs(10)), Ok(()));
        assert!(t.admit(a(1), now + Duration::from_secs(10)).is_err());
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let x: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let y: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let z: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(AddrKey::new(Some(x)), AddrKey::new(Some(y)));
        assert_ne!(AddrKey::new(Some(x)), AddrKey::new(Some(z)));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(AddrKey::new(Some(mapped)), a(1));
    }

    #[test]
    fn retry_after_rounds_up_and_is_at_least_one() {
        assert_eq!(retry_after_secs(Duration::from_millis(200)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(899_100)), 900);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
