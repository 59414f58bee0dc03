//! `GET /lots`: filters, a sort chosen from [`LotSort`] in either order, keyset pages; ONE statement.
//!
//! The page is cut in a subquery over `lots` alone (index range scan on the sort column, then LIMIT), and only
//! the rows of the page are joined to their model, line and per-status unit counts.

use crate::policy;
use axum::extract::State;
use chrono::NaiveDate;
use neurohub_core::auth::Authorized;
use neurohub_core::extract::qs;
use neurohub_core::pagination::{self, Key, List, Page, PrefixRule, Sort};
use neurohub_core::{ApiJson, ApiQuery, ApiResult, AppState};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use std::str::FromStr;
use utoipa::{IntoParams, ToSchema};

pub use neurohub_core::pagination::SortOrder;

use super::detail::{LOT_COLUMNS, LOT_JOINS};
use super::{Lot, LotStatus};

/// Sort column of `GET /lots`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LotSort {
    #[default]
    CreatedAt,
    ProductionDate,
    LotNumber,
}

impl FromStr for LotSort {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "created_at" => Ok(LotSort::CreatedAt),
            "production_date" => Ok(LotSort::ProductionDate),
            "lot_number" => Ok(LotSort::LotNumber),
            _ => Err("expected created_at, production_date or lot_number"),
        }
    }
}

/// Filters, sort and page of `GET /lots`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LotFilter {
    #[serde(default, deserialize_with = "qs::opt")]
    pub status: Option<LotStatus>,
    #[serde(default, deserialize_with = "qs::opt")]
    pub product_model_id: Option<i64>,
    #[serde(default, deserialize_with = "qs::opt")]
    pub production_line_id: Option<i64>,
    /// Production date from (inclusive), YYYY-MM-DD.
    #[serde(default, deserialize_with = "qs::opt")]
    pub date_from: Option<NaiveDate>,
    /// Production date to (inclusive), YYYY-MM-DD.
    #[serde(default, deserialize_with = "qs::opt")]
    pub date_to: Option<NaiveDate>,
    /// Lot number prefix (letters and digits, case-insensitive), e.g. `KR01PSA2511`.
    pub q: Option<String>,
    /// `created_at` (default), `production_date` or `lot_number`.
    #[serde(default, deserialize_with = "qs::opt")]
    pub sort: Option<LotSort>,
    /// `asc` or `desc`; default `desc` for created_at and production_date, `asc` for lot_number.
    #[serde(default, deserialize_with = "qs::opt")]
    pub order: Option<SortOrder>,
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "qs::opt")]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (valid only with the same sort and order).
    pub cursor: Option<String>,
}

impl Sort for LotSort {
    fn name(self) -> &'static str {
        match self {
            LotSort::CreatedAt => "created_at",
            LotSort::ProductionDate => "production_date",
            LotSort::LotNumber => "lot_number",
        }
    }

    /// created_at and production_date are not unique: l.id breaks ties, and the single-column indexes
    /// idx_lots_created_at / idx_lots_production_date range-scan the loose bound the toolkit adds on the sort
    /// column. lot_number is unique, so its own comparison is the whole keyset.
    fn keys(self) -> &'static [Key] {
        const CREATED_AT: &[Key] = &[Key::time("l.created_at"), Key::int("l.id")];
        const PRODUCTION_DATE: &[Key] = &[Key::date("l.production_date"), Key::int("l.id")];
        const LOT_NUMBER: &[Key] = &[Key::text("l.lot_number")];
        match self {
            LotSort::CreatedAt => CREATED_AT,
            LotSort::ProductionDate => PRODUCTION_DATE,
            LotSort::LotNumber => LOT_NUMBER,
        }
    }

    /// Newest first by time; lot numbers in reading order.
    fn default_order(self) -> SortOrder {
        match self {
            LotSort::LotNumber => SortOrder::Asc,
            _ => SortOrder::Desc,
        }
    }
}

/// `q` of `GET /lots`: a lot number prefix.
pub(crate) const LOT_PREFIX: PrefixRule = PrefixRule {
    field: "q",
    max: 13,
    uppercase: true,
    allowed: |c| c.is_ascii_uppercase() || c.is_ascii_digit(),
    describe: "letters and digits",
};

/// List lots (one statement; index-backed keyset pagination).
///
/// Each row carries the model code/name, line code, target quantity and per-status counts of WIP items and
/// serials. Runs exactly ONE SQL statement.
#[utoipa::path(
    get, path = "/lots", tag = "lots", security(("bearer" = [])),
    params(LotFilter),
    responses(
        (status = 200, description = "A page of lots (1 SQL statement)", body = Page<Lot>),
        (status = 400, description = "INVALID_QUERY / INVALID_CURSOR", body = neurohub_core::Problem),
    )
)]
pub(super) async fn list(
    State(st): State<AppState>,
    _user: Authorized<policy::Read>,
    ApiQuery(f): ApiQuery<LotFilter>,
) -> ApiResult<ApiJson<Page<Lot>>> {
    let list = List::new(f.sort, f.order, f.limit, f.cursor.as_deref())?;
    let q = pagination::prefix(f.q.as_deref(), LOT_PREFIX)?;

    // Whitelisted identifiers only; every value is bound.
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "SELECT {LOT_COLUMNS} FROM (SELECT l.* FROM lots l WHERE TRUE"
    ));
    if let Some(s) = f.status {
        qb.push(" AND l.status = ").push_bind(s);
    }
    if let Some(id) = f.product_model_id {
        qb.push(" AND l.product_model_id = ").push_bind(id);
    }
    if let Some(id) = f.production_line_id {
        qb.push(" AND l.production_line_id = ").push_bind(id);
    }
    if let Some(d) = f.date_from {
        qb.push(" AND l.production_date >= ").push_bind(d);
    }
    if let Some(d) = f.date_to {
        qb.push(" AND l.production_date <= ").push_bind(d);
    }
    if let Some(q) = q {
        pagination::push_prefix(&mut qb, "l.lot_number", &q);
    }
    list.push_after(&mut qb);
    qb.push(list.order_and_limit())
        .push(format!(") l{LOT_JOINS}"))
        .push(list.order_by());

    // Prepared (planned once per connection) unless a skewed column is filtered: `status` is, and a generic plan
    // for it can pick the wrong index (docs/dev-conventions.md). Measured on the reference set
    // (bench/results/2026-12-03.md): unprepared, every default page was parsed and planned again, 0.27 ms parse
    // + 0.60 ms bind of 2.3 ms inside PostgreSQL per call.
    let skewed = f.status.is_some();
    let rows: Vec<Lot> = qb
        .build_query_as()
        .persistent(!skewed)
        .fetch_all(&mut *st.read_conn().await?)
        .await?;
    Ok(ApiJson(list.page(rows, |r, sort| match sort {
        LotSort::CreatedAt => vec![r.created_at.into(), r.id.into()],
        LotSort::ProductionDate => vec![r.production_date.into(), r.id.into()],
        LotSort::LotNumber => vec![r.lot_number.as_str().into()],
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lot_number_prefixes_are_validated_and_uppercased() {
        assert_eq!(
            pagination::prefix(Some("kr01"), LOT_PREFIX)
                .unwrap()
                .as_deref(),
            Some("KR01")
        );
        assert!(pagination::prefix(Some("KR%"), LOT_PREFIX).is_err());
        assert!(pagination::prefix(Some("KR01PSA2511011"), LOT_PREFIX).is_err());
        assert!(pagination::prefix(Some("WIP-KR"), LOT_PREFIX).is_err());
    }

    #[test]
    fn every_sort_ends_with_a_unique_key() {
        for s in [
            LotSort::CreatedAt,
            LotSort::ProductionDate,
            LotSort::LotNumber,
        ] {
            let last = s.keys().last().unwrap().column;
            assert!(last == "l.id" || last == "l.lot_number", "{s:?}");
        }
    }
}
