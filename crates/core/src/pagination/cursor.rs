//! The opaque cursor: base64url of JSON `{"s": sort, "o": order, "k": [values of the sort's keys]}`.
//!
//! It is not signed: a client can forge one, and that is harmless, because every value is bound (never spliced
//! into SQL) and [`Cursor::values_for`] checks that the sort, the order and the number and kinds of the values are
//! the ones the request's list expects before anything is bound. A forged cursor can only move the page start.

use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};

use super::bad_cursor;
use super::sort::{KeyKind, Sort, SortOrder};
use crate::error::ApiError;

/// One value of a row's sort key, tagged by kind (`{"i": 5}`, `{"s": "KR01"}`, `{"t": "2025-..Z"}`,
/// `{"d": "2025-11-01"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyValue {
    #[serde(rename = "i")]
    Int(i64),
    #[serde(rename = "s")]
    Text(String),
    #[serde(rename = "t")]
    Time(DateTime<Utc>),
    #[serde(rename = "d")]
    Date(NaiveDate),
}

impl KeyValue {
    pub fn kind(&self) -> KeyKind {
        match self {
            KeyValue::Int(_) => KeyKind::Int,
            KeyValue::Text(_) => KeyKind::Text,
            KeyValue::Time(_) => KeyKind::Time,
            KeyValue::Date(_) => KeyKind::Date,
        }
    }

    /// Bind this value on `qb` with its own SQL type.
    pub fn push_bind(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        match self.clone() {
            KeyValue::Int(v) => qb.push_bind(v),
            KeyValue::Text(v) => qb.push_bind(v),
            KeyValue::Time(v) => qb.push_bind(v),
            KeyValue::Date(v) => qb.push_bind(v),
        };
    }
}

impl From<i64> for KeyValue {
    fn from(v: i64) -> Self {
        KeyValue::Int(v)
    }
}
impl From<i32> for KeyValue {
    fn from(v: i32) -> Self {
        KeyValue::Int(v.into())
    }
}
impl From<String> for KeyValue {
    fn from(v: String) -> Self {
        KeyValue::Text(v)
    }
}
impl From<&str> for KeyValue {
    fn from(v: &str) -> Self {
        KeyValue::Text(v.to_string())
    }
}
impl From<DateTime<Utc>> for KeyValue {
    fn from(v: DateTime<Utc>) -> Self {
        KeyValue::Time(v)
    }
}
impl From<NaiveDate> for KeyValue {
    fn from(v: NaiveDate) -> Self {
        KeyValue::Date(v)
    }
}

/// The decoded cursor: the sort and order it was made for and the last row's key values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "s")]
    pub sort: String,
    #[serde(rename = "o")]
    pub order: SortOrder,
    #[serde(rename = "k")]
    pub values: Vec<KeyValue>,
}

impl Cursor {
    pub fn new<S: Sort>(sort: S, order: SortOrder, values: Vec<KeyValue>) -> Self {
        Cursor {
            sort: sort.name().to_string(),
            order,
            values,
        }
    }

    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decode; anything that is not a cursor of this shape is 400 INVALID_CURSOR.
    pub fn decode(text: &str) -> Result<Self, ApiError> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| bad_cursor())?;
        serde_json::from_slice(&bytes).map_err(|_| bad_cursor())
    }

    /// The key values, if this cursor was made for `sort` in `order` and holds one value of the right kind per
    /// key column; else 400 INVALID_CURSOR.
    pub fn values_for<S: Sort>(self, sort: S, order: SortOrder) -> Result<Vec<KeyValue>, ApiError> {
        let keys = sort.keys();
        let fits = self.sort == sort.name()
            && self.order == order
            && self.values.len() == keys.len()
            && self
                .values
                .iter()
                .zip(keys)
                .all(|(v, k)| v.kind() == k.kind);
        if fits {
            Ok(self.values)
        } else {
            Err(bad_cursor())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_text_round_trips() {
        let c = Cursor {
            sort: "created_at".into(),
            order: SortOrder::Desc,
            values: vec![
                KeyValue::Time("2025-11-01T08:30:00.000001Z".parse().unwrap()),
                KeyValue::Date(NaiveDate::from_ymd_opt(2025, 11, 1).unwrap()),
                KeyValue::Text("KR01PSA251101".into()),
                KeyValue::Int(-42),
            ],
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(Cursor::decode("!!!").is_err());
        assert!(Cursor::decode("").is_err());
    }
}
