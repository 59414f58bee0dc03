//! Access tokens (short-lived HS256 JWTs) and refresh-token material (random, stored only as SHA-256).

use base64::Engine;
use chrono::Utc;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

use super::roles::Role;

/// What an access token says. Identity comes only from here, never from a request body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// User id, as a string as RFC 7519 requires; read it with [`Claims::user_id`].
    pub sub: String,
    pub username: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    /// The account's token generation when issued (see [`super::revocation`]); tokens without it are generation 0.
    #[serde(default, rename = "gen")]
    pub generation: i32,
}

const ISSUER: &str = "neurohub";

impl Claims {
    pub fn new(user_id: i64, username: &str, role: Role, iat: i64, exp: i64) -> Self {
        Self {
            sub: user_id.to_string(),
            username: username.to_string(),
            role,
            iat,
            exp,
            iss: ISSUER.into(),
            generation: 0,
        }
    }

    /// The user id in `sub`; None for a token whose subject is not ours.
    pub fn user_id(&self) -> Option<i64> {
        self.sub.parse().ok()
    }
}

/// Signing keys and lifetimes. The secret is never logged (Debug is redacted).
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("secret", &"<redacted>")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish()
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8], access_ttl: Duration, refresh_ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            access_ttl,
            refresh_ttl,
        }
    }

    /// A random 256-bit secret, for when none is configured (tokens then do not survive a restart).
    pub fn random_secret() -> Vec<u8> {
        let mut s = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut s);
        s
    }

    /// An access token of generation 0 (an account whose role, status and password never changed).
    pub fn issue_access(
        &self,
        user_id: i64,
        username: &str,
        role: Role,
    ) -> Result<(String, i64), jsonwebtoken::errors::Error> {
        self.issue_access_at(user_id, username, role, 0)
    }

    /// An access token of the account's current token `generation`.
    pub fn issue_access_at(
        &self,
        user_id: i64,
        username: &str,
        role: Role,
        generation: i32,
    ) -> Result<(String, i64), jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        let exp = now + self.access_ttl.as_secs() as i64;
        let claims = Claims {
            generation,
            ..Claims::new(user_id, username, role, now, exp)
        };
        Ok((self.sign(&claims)?, exp))
    }

    /// Sign arbitrary claims (tests use it to make already-expired tokens without waiting).
    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// Validate signature, algorithm, issuer and expiry (no leeway: an expired token is expired).
    pub fn verify_access(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_issuer(&[ISSUER]);
        v.set_required_spec_claims(&["exp", "sub", "iss"]);
        decode::<Claims>(token, &self.decoding, &v).map(|d| d.claims)
    }
}

/// A new opaque refresh token (256 random bits, base64url) and the hash that is stored.
pub fn new_refresh_token() -> (String, String) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

/// SHA-256 hex of a refresh token: a stolen database does not yield usable tokens.
pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ttl: u64) -> TokenKeys {
        TokenKeys::new(
            b"0123456789abcdef0123456789abcdef",
            Duration::from_secs(ttl),
            Duration::from_secs(60),
        )
    }

    #[test]
    fn access_tokens_round_trip() {
        let k = keys(60);
        let (t, _) = k.issue_access(7, "kim", Role::Operator).unwrap();
        let c = k.verify_access(&t).unwrap();
        assert_eq!(
            (c.user_id(), c.role, c.username.as_str()),
            (Some(7), Role::Operator, "kim")
        );
    }

    #[test]
    fn tampered_foreign_and_expired_tokens_fail() {
        let k = keys(60);
        let (t, _) = k.issue_access(7, "kim", Role::Viewer).unwrap();
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":1,"username":"admin","role":"ADMIN","iat":0,"exp":99999999999,"iss":"neurohub"}"#);
        parts[1] = &forged_payload;
        assert!(k.verify_access(&parts.join(".")).is_err());
        let other = TokenKeys::new(
            b"another secret another secret!!!",
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        assert!(other.verify_access(&t).is_err());
        let now = Utc::now().timestamp();
        let stale = Claims::new(7, "kim", Role::Viewer, now - 120, now - 1);
        assert!(k.verify_access(&k.sign(&stale).unwrap()).is_err());
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, ha) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(ha, hash_refresh_token(&a));
        assert_eq!(ha.len(), 64);
    }
}
