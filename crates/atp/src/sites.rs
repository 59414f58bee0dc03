//! Sites of a workspace: CRUD, bulk CSV import with a per-row report, CSV export.
//!
//! A site's `cluster_code` is text on purpose (the schema's comment): clusters are versioned, a site is not. It is
//! still checked against the workspace's ACTIVE cluster mapping: a single create / change naming an unknown cluster
//! is refused (422 UNKNOWN_CLUSTER: the person typing it can correct it); in a bulk import such a row is imported
//! and reported as a WARNING (a customer's site list often arrives before its cluster mapping, and one row must not
//! hold back the rest) — docs/atp.md "Decisions". Any ERROR in an import refuses the whole file (422, every bad row
//! listed as `errors[]` with field `file:row:column`): nothing is ever half-imported. Rows whose site_id exists are
//! updated (re-importing the customer's list is the normal way to refresh it).

use crate::csvin::{Issue, Report, Table};
use crate::member::{policy, Member};
use crate::state::SiteStatus;
use axum::extract::Multipart;
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use neurohub_core::pagination::{Cursor, Key, List, Page, SortOrder};
use neurohub_core::response::{created, Created};
use neurohub_core::validate::Checker;
use neurohub_core::{
    ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState, FieldError, Problem,
};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use std::collections::{HashMap, HashSet};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(import))
        .routes(routes!(export))
        .routes(routes!(get_one, update, delete))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Site {
    pub id: Uuid,
    pub workspace_id: Uuid,
    /// The business site id, unique in the workspace.
    pub site_id: String,
    pub site_name: String,
    pub region: Option<String>,
    pub city: Option<String>,
    pub cluster_code: Option<String>,
    pub ne_latitude: Option<f64>,
    pub ne_longitude: Option<f64>,
    pub fe_latitude: Option<f64>,
    pub fe_longitude: Option<f64>,
    pub scope: Option<String>,
    pub status: SiteStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, workspace_id, site_id, site_name, region, city, cluster_code, ne_latitude::float8 AS ne_latitude, \
    ne_longitude::float8 AS ne_longitude, fe_latitude::float8 AS fe_latitude, fe_longitude::float8 AS fe_longitude, \
    scope, status, created_at, updated_at";

/// The CSV columns of an import / export, in export order.
pub const CSV_COLUMNS: &[&str] = &[
    "site_id",
    "site_name",
    "region",
    "city",
    "cluster_code",
    "ne_latitude",
    "ne_longitude",
    "fe_latitude",
    "fe_longitude",
    "scope",
    "status",
];

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSite {
    pub site_id: String,
    pub site_name: String,
    pub region: Option<String>,
    pub city: Option<String>,
    pub cluster_code: Option<String>,
    pub ne_latitude: Option<f64>,
    pub ne_longitude: Option<f64>,
    pub fe_latitude: Option<f64>,
    pub fe_longitude: Option<f64>,
    pub scope: Option<String>,
    /// Default ACTIVE.
    pub status: Option<SiteStatus>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SitePatch {
    pub site_name: Option<String>,
    #[serde(default, deserialize_with = "neurohub_core::validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub region: Option<Option<String>>,
    #[serde(default, deserialize_with = "neurohub_core::validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub city: Option<Option<String>>,
    #[serde(default, deserialize_with = "neurohub_core::validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub cluster_code: Option<Option<String>>,
    #[serde(default, deserialize_with = "neurohub_core::validate::nullable")]
    #[schema(value_type = Option<f64>)]
    pub ne_latitude: Option<Option<f64>>,
    #[serde(default, deserialize_with = "neurohub_core::validate::nullable")]
    #[schema(value_type = Option<f64>)]
    pub ne_longitude: Option<Option<f64>>,
    #[serde(default, deserialize_with = "neurohub_core::validate::nullable")]
    #[schema(value_type = Option<f64>)]
    pub fe_latitude: Option<Option<f64>>,
    #[serde(default, deserialize_with = "neurohub_core::validate::nullable")]
    #[schema(value_type = Option<f64>)]
    pub fe_longitude: Option<Option<f64>>,
    #[serde(default, deserialize_with = "neurohub_core::validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub scope: Option<Option<String>>,
    pub status: Option<SiteStatus>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SiteFilter {
    pub region: Option<String>,
    pub cluster_code: Option<String>,
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub status: Option<SiteStatus>,
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The cluster codes of the ACTIVE cluster mapping (None: the workspace has none).
async fn active_clusters(conn: &mut PgConnection, ws: Uuid) -> ApiResult<Option<HashSet<String>>> {
    let rows: Vec<(Option<String>,)> = sqlx::query_as(
        "SELECT m.cluster_code FROM config_versions AS c \
           LEFT JOIN cluster_master AS m ON m.workspace_id = c.workspace_id AND m.config_version_id = c.id \
                AND m.is_active \
          WHERE c.workspace_id = $1 AND c.source_type = 'CLUSTER_MAPPING' AND c.status = 'ACTIVE'",
    )
    .bind(ws)
    .fetch_all(conn)
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(rows.into_iter().filter_map(|(c,)| c).collect()))
}

fn unknown_cluster(code: &str, active: &Option<HashSet<String>>) -> Option<String> {
    match active {
        None => Some(format!(
            "unknown cluster `{code}`: the workspace has no ACTIVE CLUSTER_MAPPING"
        )),
        Some(set) if !set.contains(code) => Some(format!(
            "unknown cluster `{code}`: not in the ACTIVE CLUSTER_MAPPING"
        )),
        _ => None,
    }
}

fn coord(c: &mut Checker, field: &str, v: Option<f64>, max: f64) {
    if let Some(x) = v {
        if !x.is_finite() || !(-max..=max).contains(&x) {
            c.add(field, format!("must be between -{max} and {max}"));
        }
    }
}

/// A page of sites by site_id (one statement on uq_sites_site_id).
#[utoipa::path(
    get, path = "/workspaces/{ws}/sites", tag = "atp-sites", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), SiteFilter),
    responses(
        (status = 200, description = "A page of sites", body = Page<Site>),
        (status = 404, description = "Not a member of this workspace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    mut m: Member<policy::Read>,
    ApiQuery(f): ApiQuery<SiteFilter>,
) -> ApiResult<ApiJson<Page<Site>>> {
    let page = List::<BySiteId>::fixed(f.limit, f.cursor.as_deref())?;
    let rows = sqlx::query_as::<_, Site>(&format!(
        "SELECT {COLUMNS} FROM sites WHERE workspace_id = $1 AND ($2::text IS NULL OR site_id > $2) \
           AND ($3::text IS NULL OR region = $3) AND ($4::text IS NULL OR cluster_code = $4) \
           AND ($5::text IS NULL OR status = $5) ORDER BY site_id {}",
        page.limit_sql()
    ))
    .bind(m.workspace_id)
    .bind(page.after_text(0))
    .bind(f.region.as_deref().filter(|s| !s.is_empty()))
    .bind(f.cluster_code.as_deref().filter(|s| !s.is_empty()))
    .bind(f.status)
    .fetch_all(&mut *m.tx)
    .await?;
    Ok(ApiJson(
        page.page(rows, |s, _| vec![s.site_id.clone().into()]),
    ))
}

/// Register a site (WORKSPACE_ADMIN, DOC_CONTROL). Its cluster must be in the ACTIVE cluster mapping.
#[utoipa::path(
    post, path = "/workspaces/{ws}/sites", tag = "atp-sites", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id")),
    request_body = NewSite,
    responses(
        (status = 201, description = "Created", body = Site,
            headers(("location" = String, description = "where the new record is"))),
        (status = 409, description = "DUPLICATE site_id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED / UNKNOWN_CLUSTER", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    mut m: Member<policy::WriteSites>,
    ApiJson(b): ApiJson<NewSite>,
) -> ApiResult<Created<Site>> {
    let mut c = Checker::default();
    let site_id = c.text("site_id", &b.site_id, 50);
    let site_name = c.text("site_name", &b.site_name, 200);
    let region = c.opt_text("region", b.region.as_deref(), 100);
    let city = c.opt_text("city", b.city.as_deref(), 100);
    let cluster = c.opt_text("cluster_code", b.cluster_code.as_deref(), 50);
    let scope = c.opt_text("scope", b.scope.as_deref(), 100);
    coord(&mut c, "ne_latitude", b.ne_latitude, 90.0);
    coord(&mut c, "ne_longitude", b.ne_longitude, 180.0);
    coord(&mut c, "fe_latitude", b.fe_latitude, 90.0);
    coord(&mut c, "fe_longitude", b.fe_longitude, 180.0);
    c.finish()?;
    if let Some(code) = &cluster {
        let active = active_clusters(&mut m.tx, m.workspace_id).await?;
        if let Some(msg) = unknown_cluster(code, &active) {
            return Err(ApiError::unprocessable("UNKNOWN_CLUSTER", msg.clone())
                .with_field("cluster_code", msg));
        }
    }
    let s = sqlx::query_as::<_, Site>(&format!(
        "INSERT INTO sites (workspace_id, site_id, site_name, region, city, cluster_code, ne_latitude, ne_longitude, \
             fe_latitude, fe_longitude, scope, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {COLUMNS}"
    ))
    .bind(m.workspace_id)
    .bind(&site_id)
    .bind(&site_name)
    .bind(region)
    .bind(city)
    .bind(cluster)
    .bind(b.ne_latitude)
    .bind(b.ne_longitude)
    .bind(b.fe_latitude)
    .bind(b.fe_longitude)
    .bind(scope)
    .bind(b.status.unwrap_or(SiteStatus::Active))
    .fetch_one(&mut *m.tx)
    .await?;
    let location = format!("/api/v1/workspaces/{}/sites/{}", m.workspace_code, s.id);
    m.commit().await?;
    Ok(created(location, s))
}

type SitePath = (String, Uuid);

/// One site.
#[utoipa::path(
    get, path = "/workspaces/{ws}/sites/{id}", tag = "atp-sites", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path, description = "Site id (UUID)")),
    responses(
        (status = 200, description = "The site", body = Site),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_one(
    mut m: Member<policy::Read>,
    ApiPath(path): ApiPath<SitePath>,
) -> ApiResult<ApiJson<Site>> {
    let (_, id) = path;
    sqlx::query_as::<_, Site>(&format!(
        "SELECT {COLUMNS} FROM sites WHERE workspace_id = $1 AND id = $2"
    ))
    .bind(m.workspace_id)
    .bind(id)
    .fetch_optional(&mut *m.tx)
    .await?
    .map(ApiJson)
    .ok_or_else(|| ApiError::not_found("site"))
}

/// Change a site (WORKSPACE_ADMIN, DOC_CONTROL). `site_id` never changes.
#[utoipa::path(
    patch, path = "/workspaces/{ws}/sites/{id}", tag = "atp-sites", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path, description = "Site id (UUID)")),
    request_body = SitePatch,
    responses(
        (status = 200, description = "The site", body = Site),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED / UNKNOWN_CLUSTER", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    mut m: Member<policy::WriteSites>,
    ApiPath(path): ApiPath<SitePath>,
    ApiJson(p): ApiJson<SitePatch>,
) -> ApiResult<ApiJson<Site>> {
    let (_, id) = path;
    let any = p.site_name.is_some()
        || p.region.is_some()
        || p.city.is_some()
        || p.cluster_code.is_some()
        || p.ne_latitude.is_some()
        || p.ne_longitude.is_some()
        || p.fe_latitude.is_some()
        || p.fe_longitude.is_some()
        || p.scope.is_some()
        || p.status.is_some();
    let mut c = Checker::for_patch(any);
    let name = p.site_name.as_deref().map(|n| c.text("site_name", n, 200));
    let region = p
        .region
        .as_ref()
        .map(|v| c.opt_text("region", v.as_deref(), 100));
    let city = p
        .city
        .as_ref()
        .map(|v| c.opt_text("city", v.as_deref(), 100));
    let cluster = p
        .cluster_code
        .as_ref()
        .map(|v| c.opt_text("cluster_code", v.as_deref(), 50));
    let scope = p
        .scope
        .as_ref()
        .map(|v| c.opt_text("scope", v.as_deref(), 100));
    coord(&mut c, "ne_latitude", p.ne_latitude.flatten(), 90.0);
    coord(&mut c, "ne_longitude", p.ne_longitude.flatten(), 180.0);
    coord(&mut c, "fe_latitude", p.fe_latitude.flatten(), 90.0);
    coord(&mut c, "fe_longitude", p.fe_longitude.flatten(), 180.0);
    c.finish()?;
    if let Some(Some(code)) = &cluster {
        let active = active_clusters(&mut m.tx, m.workspace_id).await?;
        if let Some(msg) = unknown_cluster(code, &active) {
            return Err(ApiError::unprocessable("UNKNOWN_CLUSTER", msg.clone())
                .with_field("cluster_code", msg));
        }
    }
    let s = sqlx::query_as::<_, Site>(&format!(
        "UPDATE sites SET site_name = COALESCE($3, site_name), \
            region = CASE WHEN $4 THEN $5 ELSE region END, city = CASE WHEN $6 THEN $7 ELSE city END, \
            cluster_code = CASE WHEN $8 THEN $9 ELSE cluster_code END, \
            ne_latitude = CASE WHEN $10 THEN $11::float8 ELSE ne_latitude END, \
            ne_longitude = CASE WHEN $12 THEN $13::float8 ELSE ne_longitude END, \
            fe_latitude = CASE WHEN $14 THEN $15::float8 ELSE fe_latitude END, \
            fe_longitude = CASE WHEN $16 THEN $17::float8 ELSE fe_longitude END, \
            scope = CASE WHEN $18 THEN $19 ELSE scope END, status = COALESCE($20, status) \
          WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(m.workspace_id)
    .bind(id)
    .bind(name)
    .bind(region.is_some())
    .bind(region.flatten())
    .bind(city.is_some())
    .bind(city.flatten())
    .bind(cluster.is_some())
    .bind(cluster.flatten())
    .bind(p.ne_latitude.is_some())
    .bind(p.ne_latitude.flatten())
    .bind(p.ne_longitude.is_some())
    .bind(p.ne_longitude.flatten())
    .bind(p.fe_latitude.is_some())
    .bind(p.fe_latitude.flatten())
    .bind(p.fe_longitude.is_some())
    .bind(p.fe_longitude.flatten())
    .bind(scope.is_some())
    .bind(scope.flatten())
    .bind(p.status)
    .fetch_optional(&mut *m.tx)
    .await?
    .ok_or_else(|| ApiError::not_found("site"))?;
    m.commit().await?;
    Ok(ApiJson(s))
}

/// Delete a site nothing refers to yet (a site with ATP submissions or workflows: 409 IN_USE — set its status
/// to CANCELLED instead).
#[utoipa::path(
    delete, path = "/workspaces/{ws}/sites/{id}", tag = "atp-sites", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path, description = "Site id (UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "IN_USE", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    mut m: Member<policy::WriteSites>,
    ApiPath(path): ApiPath<SitePath>,
) -> ApiResult<StatusCode> {
    let (_, id) = path;
    let n = sqlx::query("DELETE FROM sites WHERE workspace_id = $1 AND id = $2")
        .bind(m.workspace_id)
        .bind(id)
        .execute(&mut *m.tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(ApiError::not_found("site"));
    }
    m.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an import did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SiteImportReport {
    /// Data rows read.
    pub rows: usize,
    pub inserted: u64,
    pub updated: u64,
    /// WARNINGs (rows imported all the same), e.g. an unknown cluster code.
    pub warnings: Vec<Issue>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SiteRow {
    pub site_id: String,
    pub site_name: String,
    pub region: Option<String>,
    pub city: Option<String>,
    pub cluster_code: Option<String>,
    pub coords: [Option<f64>; 4],
    pub scope: Option<String>,
    pub status: SiteStatus,
}

/// Check a sites CSV: every bad row reported; unknown clusters are WARNINGs.
pub fn check_sites(bytes: &[u8], active: &Option<HashSet<String>>) -> (Report, Vec<SiteRow>) {
    let mut r = Report::default();
    let Some(t) = Table::read(
        "sites",
        bytes,
        &["site_id", "site_name"],
        &CSV_COLUMNS[2..],
        &mut r,
    ) else {
        return (r, Vec::new());
    };
    let mut rows = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for row in t.rows() {
        let site_id = row.text(&mut r, "site_id", 50);
        let site_name = row.text(&mut r, "site_name", 200);
        let region = row.opt_text(&mut r, "region", 100);
        let city = row.opt_text(&mut r, "city", 100);
        let cluster = row.opt_text(&mut r, "cluster_code", 50);
        let scope = row.opt_text(&mut r, "scope", 100);
        let status = row.enum_value::<SiteStatus>(&mut r, "status", Some(SiteStatus::Active));
        let c = [
            row.decimal(&mut r, "ne_latitude", -90.0, 90.0),
            row.decimal(&mut r, "ne_longitude", -180.0, 180.0),
            row.decimal(&mut r, "fe_latitude", -90.0, 90.0),
            row.decimal(&mut r, "fe_longitude", -180.0, 180.0),
        ];
        if let Some(code) = &cluster {
            if let Some(msg) = unknown_cluster(code, active) {
                r.warning("sites", row.line, "cluster_code", msg);
            }
        }
        if let Some(id) = &site_id {
            if let Some(prev) = seen.get(id) {
                r.error(
                    "sites",
                    row.line,
                    "site_id",
                    format!("duplicate site_id `{id}` (first on row {prev})"),
                );
                continue;
            }
            seen.insert(id.clone(), row.line);
        }
        if let (
            Some(site_id),
            Some(site_name),
            Some(status),
            [Some(a), Some(b), Some(cc), Some(d)],
        ) = (site_id, site_name, status, c)
        {
            rows.push(SiteRow {
                site_id,
                site_name,
                region,
                city,
                cluster_code: cluster,
                coords: [a, b, cc, d],
                scope,
                status,
            });
        }
    }
    if t.is_empty() {
        r.error("sites", 0, "", "no sites in the file");
    }
    (r, rows)
}

/// The multipart form of a sites import (documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SitesForm {
    /// The CSV file (columns: docs/atp.md "sites.csv").
    #[schema(value_type = String, format = Binary)]
    sites: Vec<u8>,
}

/// Register or update sites from a CSV file (multipart part `sites`). All or nothing: any ERROR → 422 listing every
/// bad row (`errors[].field` = `sites:ROW:COLUMN`); WARNINGs (unknown cluster) are imported and reported.
#[utoipa::path(
    post, path = "/workspaces/{ws}/sites/import", tag = "atp-sites", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id")),
    request_body(content = SitesForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Imported", body = SiteImportReport),
        (status = 422, description = "IMPORT_INVALID: every bad row, nothing imported", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn import(
    mut m: Member<policy::WriteSites>,
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<ApiJson<SiteImportReport>> {
    let mut mp = mp.map_err(crate::config::not_multipart)?;
    let mut file = None;
    while let Some(field) = mp.next_field().await.map_err(|e| {
        ApiError::bad_request(
            "MALFORMED_MULTIPART",
            format!("could not read the multipart body: {}", e.body_text()),
        )
    })? {
        let name = field.name().unwrap_or("").to_string();
        neurohub_core::extract::check_text("", &name)?;
        if name != "sites" {
            return Err(ApiError::validation(
                name,
                "unexpected part: send the CSV as part `sites`",
            ));
        }
        file = Some(field.bytes().await.map_err(|e| {
            ApiError::bad_request(
                "MALFORMED_MULTIPART",
                format!("could not read the multipart body: {}", e.body_text()),
            )
        })?);
    }
    let file =
        file.ok_or_else(|| ApiError::validation("sites", "is required: the CSV file part"))?;
    let active = active_clusters(&mut m.tx, m.workspace_id).await?;
    let (report, rows) = check_sites(&file, &active);
    if report.has_errors() {
        let errors = report
            .0
            .iter()
            .filter(|i| i.severity == crate::csvin::Severity::Error)
            .map(|i| {
                FieldError::new(
                    format!("{}:{}:{}", i.file, i.row, i.column),
                    i.reason.clone(),
                )
            })
            .collect::<Vec<_>>();
        let n = errors.len();
        let mut e = ApiError::validation_many(errors);
        e.code = "IMPORT_INVALID";
        e.detail = format!("{n} problem(s) in the file; nothing was imported");
        return Err(e);
    }
    let (inserted, updated) = upsert_sites(&mut m.tx, m.workspace_id, &rows).await?;
    m.commit().await?;
    Ok(ApiJson(SiteImportReport {
        rows: rows.len(),
        inserted,
        updated,
        warnings: report.0,
    }))
}

/// Insert or update `rows` in one statement; returns (inserted, updated).
pub async fn upsert_sites(
    conn: &mut PgConnection,
    ws: Uuid,
    rows: &[SiteRow],
) -> ApiResult<(u64, u64)> {
    let col = |f: fn(&SiteRow) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
    let coord = |i: usize| rows.iter().map(|r| r.coords[i]).collect::<Vec<_>>();
    // One upsert for the file; xmax = 0 tells an inserted row from an updated one.
    let outcome: Vec<(bool,)> = sqlx::query_as(
        "INSERT INTO sites (workspace_id, site_id, site_name, region, city, cluster_code, ne_latitude, ne_longitude, \
             fe_latitude, fe_longitude, scope, status) \
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], \
             $8::float8[], $9::float8[], $10::float8[], $11::text[], $12::text[]) \
         ON CONFLICT (workspace_id, site_id) DO UPDATE SET site_name = EXCLUDED.site_name, region = EXCLUDED.region, \
             city = EXCLUDED.city, cluster_code = EXCLUDED.cluster_code, ne_latitude = EXCLUDED.ne_latitude, \
             ne_longitude = EXCLUDED.ne_longitude, fe_latitude = EXCLUDED.fe_latitude, \
             fe_longitude = EXCLUDED.fe_longitude, scope = EXCLUDED.scope, status = EXCLUDED.status \
         RETURNING (xmax = 0)",
    )
    .bind(ws)
    .bind(col(|r| Some(r.site_id.clone())))
    .bind(col(|r| Some(r.site_name.clone())))
    .bind(col(|r| r.region.clone()))
    .bind(col(|r| r.city.clone()))
    .bind(col(|r| r.cluster_code.clone()))
    .bind(coord(0))
    .bind(coord(1))
    .bind(coord(2))
    .bind(coord(3))
    .bind(col(|r| r.scope.clone()))
    .bind(col(|r| Some(r.status.as_str().to_string())))
    .fetch_all(conn)
    .await?;
    let inserted = outcome.iter().filter(|(i,)| *i).count() as u64;
    Ok((inserted, outcome.len() as u64 - inserted))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Rows per file, 1..=10000 (default 10000).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub limit: Option<u32>,
    /// From the previous file's `x-next-cursor` header.
    pub cursor: Option<String>,
}

pub const EXPORT_MAX: u32 = 10_000;

/// The workspace's sites as CSV (the import's columns), by site_id: one statement per file of up to 10 000 rows;
/// `x-next-cursor` names the next file when there are more.
#[utoipa::path(
    get, path = "/workspaces/{ws}/sites/export", tag = "atp-sites", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ExportQuery),
    responses(
        (status = 200, description = "text/csv", content_type = "text/csv", body = String,
         headers(("x-next-cursor" = String, description = "Cursor of the next file, when there are more rows"))),
        (status = 404, description = "Not a member of this workspace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export(
    mut m: Member<policy::Read>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let limit = q.limit.unwrap_or(EXPORT_MAX);
    if !(1..=EXPORT_MAX).contains(&limit) {
        return Err(neurohub_core::validate::bad_query(
            "limit",
            format!("limit must be between 1 and {EXPORT_MAX}"),
        ));
    }
    // The export pages are larger than a list's (up to EXPORT_MAX), so only the cursor comes from the toolkit.
    let after: Option<String> = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Cursor::decode(c)?
            .values_for(BySiteId, SortOrder::Asc)?
            .into_iter()
            .next()
            .and_then(|v| match v {
                neurohub_core::pagination::KeyValue::Text(t) => Some(t),
                _ => None,
            }),
    };
    let mut rows = sqlx::query_as::<_, Site>(&format!(
        "SELECT {COLUMNS} FROM sites WHERE workspace_id = $1 AND ($2::text IS NULL OR site_id > $2) \
          ORDER BY site_id LIMIT {}",
        u64::from(limit) + 1
    ))
    .bind(m.workspace_id)
    .bind(after)
    .fetch_all(&mut *m.tx)
    .await?;
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map(|s| Cursor::new(BySiteId, SortOrder::Asc, vec![s.site_id.clone().into()]).encode())
    } else {
        None
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let num = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    let opt = |x: &Option<String>| x.clone().unwrap_or_default();
    w.write_record(CSV_COLUMNS).map_err(ApiError::internal)?;
    for s in &rows {
        w.write_record([
            s.site_id.clone(),
            s.site_name.clone(),
            opt(&s.region),
            opt(&s.city),
            opt(&s.cluster_code),
            num(s.ne_latitude),
            num(s.ne_longitude),
            num(s.fe_latitude),
            num(s.fe_longitude),
            opt(&s.scope),
            s.status.as_str().to_string(),
        ])
        .map_err(ApiError::internal)?;
    }
    let body = w.into_inner().map_err(ApiError::internal)?;
    let mut res = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}-sites.csv\"", m.workspace_code),
            ),
        ],
        body,
    )
        .into_response();
    if let Some(c) = next {
        res.headers_mut().insert(
            HeaderName::from_static("x-next-cursor"),
            c.parse().map_err(ApiError::internal)?,
        );
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_row_is_reported_and_unknown_clusters_warn() {
        let active = Some(["JKT-01".to_string()].into_iter().collect());
        let (r, rows) = check_sites(
            b"site_id,site_name,cluster_code,ne_latitude,status\nS1,One,JKT-01,-6.2,\nS2,Two,NOPE,,\nS1,Dup,,,\nS3,,JKT-01,95,DONE\n",
            &active,
        );
        let got: Vec<_> =
            r.0.iter()
                .map(|i| (i.row, i.column.as_str(), i.severity))
                .collect();
        use crate::csvin::Severity::*;
        assert_eq!(
            got,
            vec![
                (3, "cluster_code", Warning),
                (4, "site_id", Error),
                (5, "site_name", Error),
                (5, "status", Error),
                (5, "ne_latitude", Error),
            ]
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].coords[0], Some(-6.2));
    }

    #[test]
    fn without_a_cluster_mapping_every_cluster_warns() {
        let (r, rows) = check_sites(b"site_id,site_name,cluster_code\nS1,One,JKT-01\n", &None);
        assert_eq!(rows.len(), 1);
        assert!(!r.has_errors() && r.has_warnings());
    }
}

neurohub_core::fixed_sort!(
    /// Sites by their business site id (unique per workspace).
    BySiteId, "site_id", Asc, [Key::text("site_id")]
);
