//! Idempotency keys for station writes: a station that times out and retries gets the first answer back instead
//! of a duplicate record.
//!
//! The key row is inserted in the *same transaction* as the work. A concurrent retry with the same key blocks on
//! the primary key until the first transaction ends: if it committed, the retry replays the stored response; if it
//! rolled back (the request failed), the retry does the work itself. No window exists where both do the work.

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use sqlx::{Postgres, Transaction};

use crate::error::ApiError;

pub const HEADER: &str = "idempotency-key";

/// What to do with a request carrying a key.
#[derive(Debug)]
pub enum Begin {
    /// First time: do the work, then call [`complete`] in the same transaction.
    Fresh,
    /// Seen before with the same request: return this response unchanged.
    Replay {
        status: u16,
        body: serde_json::Value,
    },
}

/// Read and validate the `Idempotency-Key` header (1..=255 visible ASCII characters).
pub fn key_from_headers(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get(HEADER) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::bad_request(
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )
        .with_field("Idempotency-Key", "1 to 255 visible ASCII characters")
    };
    let s = v.to_str().map_err(|_| bad())?.trim();
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(Some(s.to_string()))
}

/// Fingerprint of a request, so a key reused for a *different* request is refused rather than replayed.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    hex::encode(h.finalize())
}

/// Claim the key inside `tx`, or find the stored response of an earlier identical request.
pub async fn begin(
    tx: &mut Transaction<'static, Postgres>,
    user_id: i64,
    key: &str,
    method: &str,
    path: &str,
    hash: &str,
) -> Result<Begin, ApiError> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, idempotency_key, request_method, request_path, request_hash) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(key)
    .bind(method)
    .bind(path)
    .bind(hash)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Begin::Fresh);
    }
    let row: Option<(String, Option<i16>, Option<serde_json::Value>)> = sqlx::query_as(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys \
         WHERE user_id = $1 AND idempotency_key = $2",
    )
    .bind(user_id)
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some((stored, _, _)) if stored != hash => Err(ApiError::unprocessable(
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was already used for a different request; use a new key per request",
        )
        .with_field("Idempotency-Key", "already used for a different request")),
        Some((_, Some(status), Some(body))) => Ok(Begin::Replay { status: status as u16, body }),
        _ => Err(ApiError::conflict("IDEMPOTENCY_IN_PROGRESS", "a request with this Idempotency-Key is still being processed; retry")),
    }
}

/// Store the response of the work done under a freshly claimed key (same transaction as the work).
pub async fn complete(
    tx: &mut Transaction<'static, Postgres>,
    user_id: i64,
    key: &str,
    status: u16,
    body: &serde_json::Value,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE idempotency_keys SET response_status = $3, response_body = $4, completed_at = now() \
         WHERE user_id = $1 AND idempotency_key = $2",
    )
    .bind(user_id)
    .bind(key)
    .bind(status as i16)
    .bind(body)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn header_validation() {
        let mut h = HeaderMap::new();
        assert_eq!(key_from_headers(&h).unwrap(), None);
        h.insert(HEADER, HeaderValue::from_static("station-7:000123"));
        assert_eq!(
            key_from_headers(&h).unwrap().as_deref(),
            Some("station-7:000123")
        );
        h.insert(HEADER, HeaderValue::from_static("has space"));
        assert!(key_from_headers(&h).is_err());
        h.insert(HEADER, HeaderValue::from_str(&"k".repeat(256)).unwrap());
        assert!(key_from_headers(&h).is_err());
    }

    #[test]
    fn hash_depends_on_every_part() {
        let a = request_hash("POST", "/x", b"{}");
        assert_ne!(a, request_hash("PUT", "/x", b"{}"));
        assert_ne!(a, request_hash("POST", "/y", b"{}"));
        assert_ne!(a, request_hash("POST", "/x", b"{ }"));
        assert_eq!(a, request_hash("POST", "/x", b"{}"));
    }
}
