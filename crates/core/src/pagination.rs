//! Keyset pagination: an opaque cursor holding the sort key of the last row returned.
//!
//! Offsets get slower with every page and skip or repeat rows while stations insert; a keyset cursor is one index
//! range scan per page whatever the depth. Lists fetch `limit + 1` rows to learn whether a next page exists.

use base64::Engine;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 500;

/// A page of results.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
    pub limit: u32,
}

/// `limit` and `cursor` query parameters (documented; each list's filter struct carries the same two fields).
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct PageParams {
    /// Rows per page, 1..=500 (default 100).
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Validate a requested page size.
pub fn limit(requested: Option<u32>) -> Result<u32, ApiError> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::bad_request(
            "INVALID_QUERY",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        )
        .with_field("limit", format!("must be between 1 and {MAX_LIMIT}"))),
    }
}

/// ` LIMIT n` for a page of `limit` rows (one more is fetched, to learn whether a next page exists), written as a
/// literal rather than a bind parameter. `limit` is a validated integer (at most [`MAX_LIMIT`]), so this is not an
/// injection vector. Why a literal: sqlx prepares statements, and after five executions PostgreSQL may switch to a
/// generic plan; with `LIMIT $n` that plan cannot know the page is small and chooses a parallel plan whose worker
/// start-up costs ~13 ms for a query that runs in 1 ms (measured on 800k process records).
pub fn limit_sql(limit: u32) -> String {
    format!(" LIMIT {}", u64::from(limit.min(MAX_LIMIT)) + 1)
}

pub fn encode_cursor<K: Serialize>(key: &K) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(key).unwrap_or_default())
}

pub fn decode_cursor<K: DeserializeOwned>(cursor: &str) -> Result<K, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "INVALID_CURSOR",
            "cursor is not one this server issued for this list",
        )
        .with_field("cursor", "invalid cursor")
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

/// Turn `limit + 1` fetched rows into a page, with the cursor built from the last row kept.
pub fn page<T, K: Serialize>(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> K) -> Page<T> {
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| encode_cursor(&key(r)))
    } else {
        None
    };
    Page {
        items: rows,
        next_cursor,
        limit,
    }
}

/// Page size and position of a list request whose cursor is the sort key `K` of the last row returned.
pub struct Keyset<K> {
    pub limit: u32,
    /// The key of the last row of the previous page (`None` for the first page).
    pub after: Option<K>,
}

impl<K: Serialize + DeserializeOwned> Keyset<K> {
    /// Validate `limit` (400 INVALID_QUERY), then decode `cursor` (400 INVALID_CURSOR).
    pub fn new(limit: Option<u32>, cursor: Option<&str>) -> ApiResult<Self> {
        let limit = self::limit(limit)?;
        let after = cursor.map(decode_cursor).transpose()?;
        Ok(Self { limit, after })
    }

    /// The ` LIMIT n` clause (page size plus one, as a literal: see [`limit_sql`]).
    pub fn limit_sql(&self) -> String {
        limit_sql(self.limit)
    }

    /// The page of the `limit + 1` fetched `rows`, its cursor built by `key` from the last row kept.
    pub fn page<T>(&self, rows: Vec<T>, key: impl Fn(&T) -> K) -> Page<T> {
        page(rows, self.limit, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_garbage() {
        let c = encode_cursor(&("2025-11-01", 42i64));
        let back: (String, i64) = decode_cursor(&c).unwrap();
        assert_eq!(back, ("2025-11-01".to_string(), 42));
        assert!(decode_cursor::<(String, i64)>("!!!").is_err());
        assert!(decode_cursor::<(String, i64)>(&encode_cursor(&"x")).is_err());
    }

    #[test]
    fn page_cuts_and_points_at_last_row() {
        let p = page(vec![1, 2, 3], 2, |r| *r);
        assert_eq!(p.items, vec![1, 2]);
        assert_eq!(
            decode_cursor::<i32>(p.next_cursor.as_deref().unwrap()).unwrap(),
            2
        );
        let p = page(vec![1, 2], 2, |r| *r);
        assert!(p.next_cursor.is_none());
    }

    #[test]
    fn limit_sql_fetches_one_more_and_is_bounded() {
        assert_eq!(limit_sql(100), " LIMIT 101");
        assert_eq!(limit_sql(u32::MAX), " LIMIT 501");
    }

    #[test]
    fn limits() {
        assert_eq!(limit(None).unwrap(), 100);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(501)).is_err());
        assert_eq!(limit(Some(500)).unwrap(), 500);
    }
}
