//! The request side of keyset pagination for lists: the validated page size and the decoded cursor, the
//! `LIMIT` to fetch (one row more than the page, to learn whether a next page exists) and the page built from the
//! fetched rows.

use neurohub_core::pagination::{self, Page};
use neurohub_core::ApiResult;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Page size and position of a list request whose cursor is the sort key `K` of the last row returned.
pub(crate) struct Keyset<K> {
    pub(crate) limit: u32,
    /// The key of the last row of the previous page (`None` for the first page).
    pub(crate) after: Option<K>,
}

impl<K: Serialize + DeserializeOwned> Keyset<K> {
    /// Validate `limit` (400 INVALID_QUERY), then decode `cursor` (400 INVALID_CURSOR).
    pub(crate) fn new(limit: Option<u32>, cursor: Option<&str>) -> ApiResult<Self> {
        let limit = pagination::limit(limit)?;
        let after = cursor.map(pagination::decode_cursor).transpose()?;
        Ok(Self { limit, after })
    }

    /// The ` LIMIT n` clause (page size plus one, as a literal: see [`pagination::limit_sql`]).
    pub(crate) fn limit_sql(&self) -> String {
        pagination::limit_sql(self.limit)
    }

    /// The page of the `limit + 1` fetched `rows`, its cursor built by `key` from the last row kept.
    pub(crate) fn page<T>(&self, rows: Vec<T>, key: impl Fn(&T) -> K) -> Page<T> {
        pagination::page(rows, self.limit, key)
    }
}
