//! Idempotency keys for station writes: a station that times out and retries gets the first answer back instead
//! of a duplicate record.
//!
//! The key row is inserted in the *same transaction* as the work. A concurrent retry with the same key blocks on
//! the primary key until the first transaction ends: if it committed, the retry replays the stored response; if it
//! rolled back (the request failed), the retry does the work itself. No window exists where both do the work.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::{request::Parts, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Postgres, Transaction};

use crate::error::{ApiError, ApiResult};

/// The idempotency parameters of a request, read from its head: the validated `Idempotency-Key` (if any), the
/// method and the full request path (`OriginalUri`, so a nested router sees `/api/v1/...` too; the path includes
/// ids, so a key reused for another record is a *different* request). Handlers take this instead of hard-coding
/// their own path.
#[derive(Debug, Clone)]
pub struct Idempotency {
    key: Option<String>,
    method: Method,
    path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Idempotency {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.path().to_owned())
            .unwrap_or_else(|| parts.uri.path().to_owned());
        Ok(Self {
            key: key_from_headers(&parts.headers)?,
            method: parts.method.clone(),
            path,
        })
    }
}

/// The outcome of [`Idempotency::claim`].
pub enum Claim {
    /// Do the work, then [`Pending::finish`] in the same transaction.
    Work(Pending),
    /// The stored answer of an earlier identical request, to return as it is (`idempotent-replay: true`).
    Replay(Response),
}

/// Work claimed under a key (or without one): finishing stores the answer beside the work and commits.
pub struct Pending {
    user_id: i64,
    key: Option<String>,
}

impl Idempotency {
    /// Claim the key for `user_id` inside `tx` (first statement of the work), fingerprinting the parsed `body`
    /// re-serialized (whitespace and key order do not make a retry "different").
    pub async fn claim<B: Serialize>(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        user_id: i64,
        body: &B,
    ) -> ApiResult<Claim> {
        let Some(key) = self.key.clone() else {
            return Ok(Claim::Work(Pending { user_id, key: None }));
        };
        let bytes = serde_json::to_vec(body).map_err(ApiError::internal)?;
        let method = self.method.as_str();
        let hash = request_hash(method, &self.path, &bytes);
        match begin(tx, user_id, &key, method, &self.path, &hash).await? {
            Begin::Fresh => Ok(Claim::Work(Pending {
                user_id,
                key: Some(key),
            })),
            Begin::Replay { status, body } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                let mut res = (status, axum::Json(body)).into_response();
                res.headers_mut()
                    .insert("idempotent-replay", HeaderValue::from_static("true"));
                Ok(Claim::Replay(res))
            }
        }
    }
}

impl Pending {
    /// Store `out` as the key's answer (when there is a key), commit `tx`, and answer `status` with `out`.
    pub async fn finish<T: Serialize>(
        self,
        mut tx: Transaction<'static, Postgres>,
        status: StatusCode,
        out: &T,
    ) -> ApiResult<Response> {
        let value = serde_json::to_value(out).map_err(ApiError::internal)?;
        if let Some(k) = &self.key {
            complete(&mut tx, self.user_id, k, status.as_u16(), &value).await?;
        }
        tx.commit().await?;
        Ok((status, axum::Json(value)).into_response())
    }

    /// [`Self::finish`] for a create: 201 with `Location: location`.
    pub async fn finish_created<T: Serialize>(
        self,
        tx: Transaction<'static, Postgres>,
        location: &str,
        out: &T,
    ) -> ApiResult<Response> {
        let mut res = self.finish(tx, StatusCode::CREATED, out).await?;
        if let Ok(v) = HeaderValue::from_str(location) {
            res.headers_mut().insert(axum::http::header::LOCATION, v);
        }
        Ok(res)
    }
}

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
