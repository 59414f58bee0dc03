//! Configuration versions: import from CSV (multipart), validate, activate, supersede, roll back, archive, diff.
//!
//! Lifecycle (docs/atp.md "Lifecycle"): an upload becomes a DRAFT version numbered per (workspace, source type);
//! a version with any ERROR in its report is stored INVALID with the report and no master rows, and can never be
//! activated. Activation supersedes the current ACTIVE of the type in the same transaction; a rollback re-activates
//! a SUPERSEDED version (`is_rollback`), superseding the current one. Every status change goes through
//! [`ConfigStatus`]'s state machine first; the trigger `protect_config_version()` is the backstop.

pub mod diff;
pub mod parse;

use crate::csvin::Issue;
use crate::member::{policy, Member};
use crate::state::{AtpCategory, ConfigStatus, SourceType, ValidationStatus};
use axum::extract::multipart::MultipartRejection;
use axum::extract::Multipart;
use axum::http::{header, HeaderValue, StatusCode};
use chrono::{DateTime, Utc};
use neurohub_core::extract::{check_text, upload_text};
use neurohub_core::pagination::{Key, List, Page};
use neurohub_core::response::{created, Created};
use neurohub_core::states::StateMachine;
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState, Problem};
use parse::{Checked, Lookups, Parsed, ScopeRefs};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import, list))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(activate))
        .routes(routes!(rollback))
        .routes(routes!(archive))
        .routes(routes!(diff::diff))
}

/// One configuration version with its validation report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct ConfigVersion {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub source_type: SourceType,
    /// 1, 2, 3 … per workspace and source type.
    pub version_number: i32,
    pub status: ConfigStatus,
    pub validation_status: ValidationStatus,
    /// Every problem found (ERRORs make the version INVALID; WARNINGs are accepted).
    #[sqlx(json)]
    pub validation_errors: Vec<Issue>,
    /// The uploaded files' names.
    pub source_file_name: Option<String>,
    /// SHA-256 of the upload (see docs/atp.md): an identical re-import is refused.
    pub checksum: String,
    pub description: Option<String>,
    /// The version this one superseded when it was activated.
    pub previous_version_id: Option<Uuid>,
    pub superseded_by: Option<Uuid>,
    /// Made ACTIVE again by a rollback.
    pub is_rollback: bool,
    pub created_by: Option<i64>,
    pub activated_by: Option<i64>,
    pub activated_at: Option<DateTime<Utc>>,
    pub superseded_at: Option<DateTime<Utc>>,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Master rows stored for this version (0 for an INVALID one).
    pub row_count: i64,
}

const COLUMNS: &str = "c.id, c.workspace_id, c.source_type, c.version_number, c.status, c.validation_status, \
    c.validation_errors, c.source_file_name, c.checksum, c.description, c.previous_version_id, c.superseded_by, \
    c.is_rollback, c.created_by, c.activated_by, c.activated_at, c.superseded_at, c.archived_at, c.created_at, \
    c.updated_at";

/// The master-row count of version `c` (each term one probe of the table's (workspace_id, config_version_id, …)
/// index).
fn row_count_sql() -> String {
    let tables = [
        "atp_scope_master",
        "vendor_master",
        "approval_role_master",
        "approval_policy_master",
        "approval_policy_stages",
        "cluster_master",
        "cluster_approver_master",
    ];
    tables
        .iter()
        .map(|t| format!("(SELECT count(*) FROM {t} AS x WHERE x.workspace_id = c.workspace_id AND x.config_version_id = c.id)"))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn select_sql(tail: &str) -> String {
    format!(
        "SELECT {COLUMNS}, {} AS row_count FROM config_versions AS c {tail}",
        row_count_sql()
    )
}

async fn fetch(conn: &mut PgConnection, ws: Uuid, id: Uuid) -> ApiResult<ConfigVersion> {
    sqlx::query_as::<_, ConfigVersion>(&select_sql("WHERE c.workspace_id = $1 AND c.id = $2"))
        .bind(ws)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("config version"))
}

/// (kind, code, id, user id, scope category)
type LookupRow = (
    String,
    Option<String>,
    Option<Uuid>,
    Option<i64>,
    Option<AtpCategory>,
);

/// The facts an upload is checked against: the workspace's active members (by username and email) and the codes
/// of its ACTIVE SCOPE_CONFIG. One statement.
pub async fn lookups(conn: &mut PgConnection, ws: Uuid) -> ApiResult<Lookups> {
    let rows: Vec<LookupRow> = sqlx::query_as(
        "SELECT 'user', lower(u.username), NULL::uuid, u.id, NULL::text \
           FROM workspace_members AS m JOIN users AS u ON u.id = m.user_id \
          WHERE m.workspace_id = $1 AND m.is_active AND u.is_active \
         UNION ALL \
         SELECT 'user', lower(u.email), NULL, u.id, NULL \
           FROM workspace_members AS m JOIN users AS u ON u.id = m.user_id \
          WHERE m.workspace_id = $1 AND m.is_active AND u.is_active AND u.email IS NOT NULL \
         UNION ALL \
         SELECT 'active', NULL, c.id, NULL, NULL FROM config_versions AS c \
          WHERE c.workspace_id = $1 AND c.source_type = 'SCOPE_CONFIG' AND c.status = 'ACTIVE' \
         UNION ALL \
         SELECT 'scope', s.scope_code, s.id, NULL, s.atp_category FROM config_versions AS c \
           JOIN atp_scope_master AS s ON s.workspace_id = c.workspace_id AND s.config_version_id = c.id \
          WHERE c.workspace_id = $1 AND c.source_type = 'SCOPE_CONFIG' AND c.status = 'ACTIVE' AND s.is_active \
         UNION ALL \
         SELECT 'vendor', v.vendor_code, v.id, NULL, NULL FROM config_versions AS c \
           JOIN vendor_master AS v ON v.workspace_id = c.workspace_id AND v.config_version_id = c.id \
          WHERE c.workspace_id = $1 AND c.source_type = 'SCOPE_CONFIG' AND c.status = 'ACTIVE' AND v.is_active \
         UNION ALL \
         SELECT 'role', r.role_code, r.id, NULL, NULL FROM config_versions AS c \
           JOIN approval_role_master AS r ON r.workspace_id = c.workspace_id AND r.config_version_id = c.id \
          WHERE c.workspace_id = $1 AND c.source_type = 'SCOPE_CONFIG' AND c.status = 'ACTIVE' AND r.is_active",
    )
    .bind(ws)
    .fetch_all(conn)
    .await?;
    let mut lk = Lookups::default();
    let mut refs: Option<ScopeRefs> = None;
    for (kind, code, id, user, cat) in rows {
        match (kind.as_str(), code, id) {
            ("user", Some(c), _) => {
                lk.users.insert(c, user.unwrap_or_default());
            }
            ("active", _, _) => {
                refs.get_or_insert_with(Default::default);
            }
            ("scope", Some(c), Some(id)) => {
                if let Some(cat) = cat {
                    refs.get_or_insert_with(Default::default)
                        .scopes
                        .insert(c, (id, cat));
                }
            }
            ("vendor", Some(c), Some(id)) => {
                refs.get_or_insert_with(Default::default)
                    .vendors
                    .insert(c, id);
            }
            ("role", Some(c), Some(id)) => {
                refs.get_or_insert_with(Default::default)
                    .roles
                    .insert(c, id);
            }
            _ => {}
        }
    }
    lk.scope_config = refs;
    Ok(lk)
}

/// An upload: its source type, files (multipart field name → bytes) and description.
pub struct Upload {
    pub source_type: SourceType,
    pub files: BTreeMap<String, Vec<u8>>,
    pub file_names: Vec<String>,
    pub description: Option<String>,
}

/// Import an upload as a new DRAFT version of workspace `ws`, on the caller's open transaction (which must carry
/// the workspace context). Race-free numbering: a transaction-scoped advisory lock per (workspace, source type)
/// serializes imports of one type, so `max + 1` cannot be taken twice and the duplicate check cannot be raced.
/// Statements: lock, duplicate check + next number, lookups, insert of the version, one insert per master table.
pub async fn import_version(
    conn: &mut PgConnection,
    ws: Uuid,
    user_id: i64,
    up: &Upload,
) -> ApiResult<ConfigVersion> {
    let sum = parse::checksum(up.source_type, &up.files);
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text || '/config/' || $2, 0))")
        .bind(ws)
        .bind(up.source_type)
        .execute(&mut *conn)
        .await?;
    let (dup, next): (Option<(Uuid, i32)>, i32) = {
        let row: (Option<Uuid>, Option<i32>, i32) = sqlx::query_as(
            "SELECT d.id, d.version_number, \
                    COALESCE((SELECT max(version_number) FROM config_versions \
                               WHERE workspace_id = $1 AND source_type = $2), 0) + 1 \
               FROM (SELECT 1) AS one \
               LEFT JOIN LATERAL (SELECT id, version_number FROM config_versions \
                                   WHERE workspace_id = $1 AND source_type = $2 AND checksum = $3 \
                                   ORDER BY version_number LIMIT 1) AS d ON true",
        )
        .bind(ws)
        .bind(up.source_type)
        .bind(&sum)
        .fetch_one(&mut *conn)
        .await?;
        (row.0.zip(row.1), row.2)
    };
    if let Some((id, n)) = dup {
        return Err(ApiError::conflict(
            "DUPLICATE_IMPORT",
            format!(
                "this upload is identical to {} version {n} ({id}); nothing was imported",
                up.source_type
            ),
        )
        .with_field("existing_version_id", id.to_string())
        .with_header(
            header::LOCATION,
            HeaderValue::from_str(&format!("/api/v1/workspaces/{ws}/config-versions/{id}"))
                .expect("ascii"),
        ));
    }
    let lk = lookups(&mut *conn, ws).await?;
    let Checked { report, parsed, .. } = parse::check(up.source_type, &up.files, &lk);
    let validation = if report.has_errors() {
        ValidationStatus::Invalid
    } else if report.has_warnings() {
        ValidationStatus::Warnings
    } else {
        ValidationStatus::Valid
    };
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO config_versions (workspace_id, source_type, version_number, validation_status, \
             validation_errors, source_file_name, checksum, description, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(ws)
    .bind(up.source_type)
    .bind(next)
    .bind(validation)
    .bind(sqlx::types::Json(&report.0))
    .bind(Some(up.file_names.join(", ")).filter(|s| !s.is_empty()))
    .bind(&sum)
    .bind(&up.description)
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    let mut rows = 0i64;
    if let Some(p) = &parsed {
        rows = insert_masters(&mut *conn, ws, id, p).await?;
    }
    let mut v = fetch_after_insert(&mut *conn, ws, id).await?;
    v.row_count = rows;
    Ok(v)
}

async fn fetch_after_insert(
    conn: &mut PgConnection,
    ws: Uuid,
    id: Uuid,
) -> ApiResult<ConfigVersion> {
    sqlx::query_as::<_, ConfigVersion>(&format!(
        "SELECT {COLUMNS}, 0::bigint AS row_count FROM config_versions AS c WHERE c.workspace_id = $1 AND c.id = $2"
    ))
    .bind(ws)
    .bind(id)
    .fetch_one(conn)
    .await
    .map_err(Into::into)
}

/// Insert the master rows of a valid upload: one `INSERT … SELECT FROM unnest(…)` per table.
async fn insert_masters(conn: &mut PgConnection, ws: Uuid, cv: Uuid, p: &Parsed) -> ApiResult<i64> {
    let mut n = 0u64;
    match p {
        Parsed::Scope {
            scopes,
            vendors,
            roles,
        } => {
            n += sqlx::query(
                "INSERT INTO atp_scope_master (workspace_id, config_version_id, scope_code, scope_name, scope_group, \
                     atp_category, description) \
                 SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[])",
            )
            .bind(ws)
            .bind(cv)
            .bind(scopes.iter().map(|s| s.code.clone()).collect::<Vec<_>>())
            .bind(scopes.iter().map(|s| s.name.clone()).collect::<Vec<_>>())
            .bind(scopes.iter().map(|s| s.group).collect::<Vec<_>>())
            .bind(scopes.iter().map(|s| s.category).collect::<Vec<_>>())
            .bind(scopes.iter().map(|s| s.description.clone()).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await?
            .rows_affected();
            n += sqlx::query(
                "INSERT INTO vendor_master (workspace_id, config_version_id, id, vendor_code, vendor_name, vendor_type, \
                     contact_email) \
                 SELECT $1, $2, * FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[])",
            )
            .bind(ws)
            .bind(cv)
            .bind(vendors.iter().map(|v| v.id).collect::<Vec<_>>())
            .bind(vendors.iter().map(|v| v.code.clone()).collect::<Vec<_>>())
            .bind(vendors.iter().map(|v| v.name.clone()).collect::<Vec<_>>())
            .bind(vendors.iter().map(|v| v.vendor_type).collect::<Vec<_>>())
            .bind(vendors.iter().map(|v| v.email.clone()).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await?
            .rows_affected();
            n += sqlx::query(
                "INSERT INTO approval_role_master (workspace_id, config_version_id, role_code, role_name, stage_group, \
                     hierarchy_order, is_final_approver, vendor_id) \
                 SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::bool[], $8::uuid[])",
            )
            .bind(ws)
            .bind(cv)
            .bind(roles.iter().map(|r| r.code.clone()).collect::<Vec<_>>())
            .bind(roles.iter().map(|r| r.name.clone()).collect::<Vec<_>>())
            .bind(roles.iter().map(|r| r.stage_group.clone()).collect::<Vec<_>>())
            .bind(roles.iter().map(|r| r.hierarchy_order).collect::<Vec<_>>())
            .bind(roles.iter().map(|r| r.is_final).collect::<Vec<_>>())
            .bind(roles.iter().map(|r| r.vendor_id).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await?
            .rows_affected();
        }
        Parsed::Matrix { policies, stages } => {
            n += sqlx::query(
                "INSERT INTO approval_policy_master (workspace_id, config_version_id, id, policy_code, policy_name, \
                     atp_category, scope_id, vendor_id, description) \
                 SELECT $1, $2, * FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::uuid[], $8::uuid[], \
                     $9::text[])",
            )
            .bind(ws)
            .bind(cv)
            .bind(policies.iter().map(|p| p.id).collect::<Vec<_>>())
            .bind(policies.iter().map(|p| p.code.clone()).collect::<Vec<_>>())
            .bind(policies.iter().map(|p| p.name.clone()).collect::<Vec<_>>())
            .bind(policies.iter().map(|p| p.category).collect::<Vec<_>>())
            .bind(policies.iter().map(|p| p.scope_id).collect::<Vec<_>>())
            .bind(policies.iter().map(|p| p.vendor_id).collect::<Vec<_>>())
            .bind(policies.iter().map(|p| p.description.clone()).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await?
            .rows_affected();
            n += sqlx::query(
                "INSERT INTO approval_policy_stages (workspace_id, config_version_id, policy_id, stage_number, \
                     stage_name, sequence_order, role_id, parallel_group, sla_hours, assignment_mode, static_user_id, \
                     is_mandatory) \
                 SELECT $1, $2, * FROM unnest($3::uuid[], $4::int[], $5::text[], $6::int[], $7::uuid[], $8::int[], \
                     $9::int[], $10::text[], $11::bigint[], $12::bool[])",
            )
            .bind(ws)
            .bind(cv)
            .bind(stages.iter().map(|s| s.policy_id).collect::<Vec<_>>())
            .bind(stages.iter().map(|s| s.stage_number).collect::<Vec<_>>())
            .bind(stages.iter().map(|s| s.stage_name.clone()).collect::<Vec<_>>())
            .bind(stages.iter().map(|s| s.sequence_order).collect::<Vec<_>>())
            .bind(stages.iter().map(|s| s.role_id).collect::<Vec<_>>())
            .bind(stages.iter().map(|s| s.parallel_group).collect::<Vec<_>>())
            .bind(stages.iter().map(|s| s.sla_hours).collect::<Vec<_>>())
            .bind(stages.iter().map(|s| s.mode).collect::<Vec<_>>())
            .bind(stages.iter().map(|s| s.static_user_id).collect::<Vec<_>>())
            .bind(stages.iter().map(|s| s.is_mandatory).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await?
            .rows_affected();
        }
        Parsed::Clusters {
            clusters,
            approvers,
        } => {
            n += sqlx::query(
                "INSERT INTO cluster_master (workspace_id, config_version_id, id, cluster_code, cluster_name, region, \
                     city, m_sequence) \
                 SELECT $1, $2, * FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[])",
            )
            .bind(ws)
            .bind(cv)
            .bind(clusters.iter().map(|c| c.id).collect::<Vec<_>>())
            .bind(clusters.iter().map(|c| c.code.clone()).collect::<Vec<_>>())
            .bind(clusters.iter().map(|c| c.name.clone()).collect::<Vec<_>>())
            .bind(clusters.iter().map(|c| c.region.clone()).collect::<Vec<_>>())
            .bind(clusters.iter().map(|c| c.city.clone()).collect::<Vec<_>>())
            .bind(clusters.iter().map(|c| c.m_sequence).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await?
            .rows_affected();
            n += sqlx::query(
                "INSERT INTO cluster_approver_master (workspace_id, config_version_id, cluster_id, role_id, \
                     primary_user_id, backup_user_id, effective_from, effective_to) \
                 SELECT $1, $2, a.c, a.r, a.p, a.b, COALESCE(a.f, CURRENT_DATE), a.t \
                   FROM unnest($3::uuid[], $4::uuid[], $5::bigint[], $6::bigint[], $7::date[], $8::date[]) \
                        AS a (c, r, p, b, f, t)",
            )
            .bind(ws)
            .bind(cv)
            .bind(approvers.iter().map(|a| a.cluster_id).collect::<Vec<_>>())
            .bind(approvers.iter().map(|a| a.role_id).collect::<Vec<_>>())
            .bind(approvers.iter().map(|a| a.primary_user_id).collect::<Vec<_>>())
            .bind(approvers.iter().map(|a| a.backup_user_id).collect::<Vec<_>>())
            .bind(approvers.iter().map(|a| a.effective_from).collect::<Vec<_>>())
            .bind(approvers.iter().map(|a| a.effective_to).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await?
            .rows_affected();
        }
    }
    Ok(n as i64)
}

/// The multipart form of an import (documentation only; the handler reads the parts itself).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImportForm {
    /// APPROVAL_MATRIX, CLUSTER_MAPPING or SCOPE_CONFIG.
    source_type: SourceType,
    /// Free text shown in the history.
    description: Option<String>,
    /// One file part per file of the type, named by the file (SCOPE_CONFIG: scopes, vendors, roles;
    /// APPROVAL_MATRIX: policies, stages; CLUSTER_MAPPING: clusters, cluster_approvers).
    #[schema(value_type = Object)]
    files: BTreeMap<String, Vec<u8>>,
}

const MAX_PARTS: usize = 8;

/// A body that is not multipart/form-data: problem+json like every other error (axum's rejection is plain text).
pub fn not_multipart(e: MultipartRejection) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        format!("send the files as multipart/form-data: {}", e.body_text()),
    )
}

async fn read_upload(mut mp: Multipart) -> ApiResult<Upload> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::bad_request(
            "MALFORMED_MULTIPART",
            format!("could not read the multipart body: {}", e.body_text()),
        )
    };
    let mut source_type = None;
    let mut description = None;
    let mut files = BTreeMap::new();
    let mut file_names = Vec::new();
    let mut parts = 0;
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ApiError::validation(
                "",
                format!("at most {MAX_PARTS} parts"),
            ));
        }
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        check_text("", &name)?;
        if let Some(f) = &file_name {
            check_text(&name, f)?;
        }
        let bytes = field.bytes().await.map_err(bad)?;
        match name.as_str() {
            "source_type" => {
                let s = upload_text("source_type", &bytes)?.trim().to_string();
                source_type = Some(
                    s.parse::<SourceType>()
                        .map_err(|m| ApiError::validation("source_type", m))?,
                );
            }
            "description" => {
                let s = upload_text("description", &bytes)?.trim().to_string();
                if s.chars().count() > 2000 {
                    return Err(ApiError::validation(
                        "description",
                        "at most 2000 characters",
                    ));
                }
                description = Some(s).filter(|s| !s.is_empty());
            }
            "" => return Err(ApiError::validation("", "every part needs a name")),
            _ => {
                if files.contains_key(&name) {
                    return Err(ApiError::validation(
                        name.clone(),
                        "file part appears twice",
                    ));
                }
                file_names.push(file_name.unwrap_or_else(|| name.clone()));
                files.insert(name, bytes.to_vec());
            }
        }
    }
    let source_type = source_type.ok_or_else(|| {
        ApiError::validation(
            "source_type",
            format!("is required: one of {}", SourceType::allowed()),
        )
    })?;
    Ok(Upload {
        source_type,
        files,
        file_names,
        description,
    })
}

/// Import a configuration version from CSV files (multipart/form-data).
///
/// The new version is DRAFT; its `validation_status` is VALID, WARNINGS or INVALID, and `validation_errors` lists
/// every problem with file, row, column and reason. An INVALID version is stored (with no master rows) so its report
/// can be read again, and can never be activated.
#[utoipa::path(
    post, path = "/workspaces/{ws}/config-versions", tag = "atp-config", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id")),
    request_body(content = ImportForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The new DRAFT version with its report", body = ConfigVersion,
            headers(("location" = String, description = "where the new record is"))),
        (status = 404, description = "Not a member of this workspace", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Member role may not configure", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "DUPLICATE_IMPORT (an identical upload exists; `errors[0].message` is its id)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED (no source_type, bad parts)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn import(
    mut m: Member<policy::Configure>,
    mp: Result<Multipart, MultipartRejection>,
) -> ApiResult<Created<ConfigVersion>> {
    let up = read_upload(mp.map_err(not_multipart)?).await?;
    let v = import_version(&mut m.tx, m.workspace_id, m.user.id, &up).await?;
    let location = format!(
        "/api/v1/workspaces/{}/config-versions/{}",
        m.workspace_code, v.id
    );
    m.commit().await?;
    Ok(created(location, v))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VersionFilter {
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub source_type: Option<SourceType>,
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub status: Option<ConfigStatus>,
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The version history of the workspace, newest first per source type (one statement on
/// uq_config_versions_version, scanned backwards).
#[utoipa::path(
    get, path = "/workspaces/{ws}/config-versions", tag = "atp-config", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), VersionFilter),
    responses(
        (status = 200, description = "A page of versions", body = Page<ConfigVersion>),
        (status = 404, description = "Not a member of this workspace", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    mut m: Member<policy::Read>,
    ApiQuery(f): ApiQuery<VersionFilter>,
) -> ApiResult<ApiJson<Page<ConfigVersion>>> {
    let page = List::<NewestVersionFirst>::fixed(f.limit, f.cursor.as_deref())?;
    let (after_t, after_n) = (page.after_text(0), page.after_int(1).map(|n| n as i32));
    let rows = sqlx::query_as::<_, ConfigVersion>(&select_sql(&format!(
        "WHERE c.workspace_id = $1 AND ($2::text IS NULL OR c.source_type = $2) \
           AND ($3::text IS NULL OR c.status = $3) \
           AND ($4::text IS NULL OR (c.source_type::text, c.version_number) < ($4::text, $5::int)) \
         ORDER BY c.source_type DESC, c.version_number DESC {}",
        page.limit_sql()
    )))
    .bind(m.workspace_id)
    .bind(f.source_type)
    .bind(f.status)
    .bind(after_t)
    .bind(after_n)
    .fetch_all(&mut *m.tx)
    .await?;
    Ok(ApiJson(page.page(rows, |v, _| {
        vec![v.source_type.as_str().into(), v.version_number.into()]
    })))
}

neurohub_core::fixed_sort!(
    /// Versions newest first, per source type (`idx_config_versions_...` leads with workspace, type, number).
    NewestVersionFirst, "source_type,version_number", Desc,
    [Key::text("c.source_type"), Key::int("c.version_number")]
);

type VersionPath = (String, Uuid);

/// One version with its validation report.
#[utoipa::path(
    get, path = "/workspaces/{ws}/config-versions/{id}", tag = "atp-config", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path, description = "Version id")),
    responses(
        (status = 200, description = "The version", body = ConfigVersion),
        (status = 404, description = "NOT_FOUND (or another workspace's)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_one(
    mut m: Member<policy::Read>,
    ApiPath(path): ApiPath<VersionPath>,
) -> ApiResult<ApiJson<ConfigVersion>> {
    let (_, id) = path;
    fetch(&mut m.tx, m.workspace_id, id).await.map(ApiJson)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionPatch {
    /// New description (DRAFT versions only).
    #[serde(default, deserialize_with = "neurohub_core::validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

/// The version's status locked for this transaction (`FOR UPDATE`), 404 when not in the workspace.
async fn lock(
    conn: &mut PgConnection,
    ws: Uuid,
    id: Uuid,
) -> ApiResult<(ConfigStatus, ValidationStatus, SourceType)> {
    sqlx::query_as(
        "SELECT status, validation_status, source_type FROM config_versions WHERE workspace_id = $1 AND id = $2 \
         FOR UPDATE",
    )
    .bind(ws)
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| ApiError::not_found("config version"))
}

fn frozen(status: ConfigStatus) -> ApiError {
    ApiError::conflict(
        "VERSION_FROZEN",
        format!("a {status} config version cannot be edited or deleted: only a DRAFT can (upload a new version instead)"),
    )
    .with_field("status", format!("is {status}"))
}

/// Change a DRAFT version's description (ACTIVE, SUPERSEDED and ARCHIVED versions are immutable: 409).
#[utoipa::path(
    patch, path = "/workspaces/{ws}/config-versions/{id}", tag = "atp-config", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path, description = "Version id")),
    request_body = VersionPatch,
    responses(
        (status = 200, description = "The version", body = ConfigVersion),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "VERSION_FROZEN", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    mut m: Member<policy::Configure>,
    ApiPath(path): ApiPath<VersionPath>,
    ApiJson(p): ApiJson<VersionPatch>,
) -> ApiResult<ApiJson<ConfigVersion>> {
    let (_, id) = path;
    let Some(description) = p.description else {
        return Err(ApiError::validation(
            "",
            "name a field to change: description",
        ));
    };
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 2000)
    {
        return Err(ApiError::validation(
            "description",
            "at most 2000 characters",
        ));
    }
    let (status, _, _) = lock(&mut m.tx, m.workspace_id, id).await?;
    if status != ConfigStatus::Draft {
        return Err(frozen(status));
    }
    sqlx::query("UPDATE config_versions SET description = $3 WHERE workspace_id = $1 AND id = $2")
        .bind(m.workspace_id)
        .bind(id)
        .bind(description)
        .execute(&mut *m.tx)
        .await?;
    let v = fetch(&mut m.tx, m.workspace_id, id).await?;
    m.commit().await?;
    Ok(ApiJson(v))
}

/// Delete a DRAFT version and its master rows (an ACTIVE one: 409, and the trigger refuses it too).
#[utoipa::path(
    delete, path = "/workspaces/{ws}/config-versions/{id}", tag = "atp-config", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path, description = "Version id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "VERSION_FROZEN (not a DRAFT)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    mut m: Member<policy::Configure>,
    ApiPath(path): ApiPath<VersionPath>,
) -> ApiResult<StatusCode> {
    let (_, id) = path;
    let (status, _, t) = lock(&mut m.tx, m.workspace_id, id).await?;
    if status != ConfigStatus::Draft {
        return Err(frozen(status));
    }
    for table in t.tables().iter().rev() {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE workspace_id = $1 AND config_version_id = $2"
        ))
        .bind(m.workspace_id)
        .bind(id)
        .execute(&mut *m.tx)
        .await?;
    }
    sqlx::query("DELETE FROM config_versions WHERE workspace_id = $1 AND id = $2")
        .bind(m.workspace_id)
        .bind(id)
        .execute(&mut *m.tx)
        .await?;
    m.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Supersede the current ACTIVE version of `t` (if any) in favour of `id`; returns the superseded id. Run before
/// `id` becomes ACTIVE: the row lock this UPDATE takes on the current ACTIVE is what makes a concurrent activation
/// wait, then find nothing left to supersede and lose on ux_config_versions_one_active_per_workspace.
async fn supersede_active(
    conn: &mut PgConnection,
    ws: Uuid,
    t: SourceType,
    id: Uuid,
) -> ApiResult<Option<Uuid>> {
    sqlx::query_scalar(
        "UPDATE config_versions SET status = 'SUPERSEDED', superseded_by = $3, superseded_at = now() \
          WHERE workspace_id = $1 AND source_type = $2 AND status = 'ACTIVE' AND id <> $3 RETURNING id",
    )
    .bind(ws)
    .bind(t)
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(Into::into)
}

fn not_activatable(v: ValidationStatus) -> ApiError {
    ApiError::conflict(
        "VERSION_INVALID",
        format!("a config version whose validation is {v} cannot be activated: fix the files and import them again"),
    )
    .with_field("validation_status", format!("is {v}"))
}

/// Activate a DRAFT version: the current ACTIVE version of its type becomes SUPERSEDED, in one transaction. Of two
/// concurrent activations of one type exactly one wins; the other gets 409.
#[utoipa::path(
    post, path = "/workspaces/{ws}/config-versions/{id}/activate", tag = "atp-config", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path, description = "Version id")),
    responses(
        (status = 200, description = "The now ACTIVE version", body = ConfigVersion),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "VERSION_INVALID / INVALID_STATUS_TRANSITION / USE_ROLLBACK / CONCURRENT_ACTIVATION", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn activate(
    mut m: Member<policy::Configure>,
    ApiPath(path): ApiPath<VersionPath>,
) -> ApiResult<ApiJson<ConfigVersion>> {
    let (_, id) = path;
    let v = activate_version(&mut m.tx, m.workspace_id, m.user.id, id).await?;
    m.commit().await?;
    Ok(ApiJson(v))
}

/// Activate DRAFT version `id` of workspace `ws` on an open transaction (the handler's and the demo loader's).
pub async fn activate_version(
    conn: &mut PgConnection,
    ws: Uuid,
    user_id: i64,
    id: Uuid,
) -> ApiResult<ConfigVersion> {
    let (status, validation, t) = lock(&mut *conn, ws, id).await?;
    if status == ConfigStatus::Superseded {
        return Err(ApiError::conflict(
            "USE_ROLLBACK",
            "this version was ACTIVE before: re-activating it is a rollback (POST …/rollback)",
        ));
    }
    if status == ConfigStatus::Active {
        return Err(ApiError::conflict(
            "ALREADY_ACTIVE",
            "this version is already ACTIVE",
        ));
    }
    status.transition(ConfigStatus::Active)?;
    if !matches!(
        validation,
        ValidationStatus::Valid | ValidationStatus::Warnings
    ) {
        return Err(not_activatable(validation));
    }
    let prev = supersede_active(&mut *conn, ws, t, id).await?;
    sqlx::query(
        "UPDATE config_versions SET status = 'ACTIVE', activated_by = $3, activated_at = now(), \
                previous_version_id = COALESCE($4, previous_version_id) \
          WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .bind(user_id)
    .bind(prev)
    .execute(&mut *conn)
    .await?;
    fetch(conn, ws, id).await
}

/// Roll back: make a SUPERSEDED version ACTIVE again (`is_rollback` true), superseding the current ACTIVE one. The
/// version keeps its number and masters; the rollback is an event of its own in the audit log.
#[utoipa::path(
    post, path = "/workspaces/{ws}/config-versions/{id}/rollback", tag = "atp-config", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path, description = "The SUPERSEDED version to re-activate")),
    responses(
        (status = 200, description = "The re-activated version", body = ConfigVersion),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "NOT_SUPERSEDED / CONCURRENT_ACTIVATION", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rollback(
    mut m: Member<policy::Configure>,
    ApiPath(path): ApiPath<VersionPath>,
) -> ApiResult<ApiJson<ConfigVersion>> {
    let (_, id) = path;
    let (status, _, t) = lock(&mut m.tx, m.workspace_id, id).await?;
    if status != ConfigStatus::Superseded {
        return Err(ApiError::conflict(
            "NOT_SUPERSEDED",
            format!("only a SUPERSEDED version can be rolled back to; this one is {status}"),
        )
        .with_field("status", format!("is {status}")));
    }
    status.transition(ConfigStatus::Active)?;
    supersede_active(&mut m.tx, m.workspace_id, t, id).await?;
    sqlx::query(
        "UPDATE config_versions SET status = 'ACTIVE', is_rollback = true, superseded_by = NULL, \
                superseded_at = NULL, activated_by = $3, activated_at = now() \
          WHERE workspace_id = $1 AND id = $2",
    )
    .bind(m.workspace_id)
    .bind(id)
    .bind(m.user.id)
    .execute(&mut *m.tx)
    .await?;
    let v = fetch(&mut m.tx, m.workspace_id, id).await?;
    m.commit().await?;
    Ok(ApiJson(v))
}

/// Archive a DRAFT or SUPERSEDED version (it stays readable; an ACTIVE one cannot be archived).
#[utoipa::path(
    post, path = "/workspaces/{ws}/config-versions/{id}/archive", tag = "atp-config", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"), ("id" = Uuid, Path, description = "Version id")),
    responses(
        (status = 200, description = "The archived version", body = ConfigVersion),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "INVALID_STATUS_TRANSITION", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn archive(
    mut m: Member<policy::Configure>,
    ApiPath(path): ApiPath<VersionPath>,
) -> ApiResult<ApiJson<ConfigVersion>> {
    let (_, id) = path;
    let (status, _, _) = lock(&mut m.tx, m.workspace_id, id).await?;
    status.transition(ConfigStatus::Archived)?;
    sqlx::query("UPDATE config_versions SET status = 'ARCHIVED', archived_at = now() WHERE workspace_id = $1 AND id = $2")
        .bind(m.workspace_id)
        .bind(id)
        .execute(&mut *m.tx)
        .await
        ?;
    let v = fetch(&mut m.tx, m.workspace_id, id).await?;
    m.commit().await?;
    Ok(ApiJson(v))
}
