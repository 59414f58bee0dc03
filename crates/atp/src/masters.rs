//! The master tables of the configuration, read by version (default: the ACTIVE version of the table's source type).
//!
//! Each master table has a *view fragment* here: its rows as `(id, config_version_id, key, data)`, where `key` is
//! the row's business key (a code, or `POLICY#stage` / `CLUSTER/ROLE/from` for the link tables) and `data` its
//! content with references shown as codes, not ids. The masters route pages through one fragment; the diff of two
//! versions compares the fragments' `data` by `key` (config/diff.rs), so "changed" means a visible change.

use crate::member::{policy, Member};
use crate::state::SourceType;
use neurohub_core::pagination::{Keyset, Page};
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

neurohub_core::text_enum!(
    /// A master table, as named in the masters route.
    MasterKind {
        Scopes => "scopes",
        Vendors => "vendors",
        Roles => "roles",
        Policies => "policies",
        Stages => "stages",
        Clusters => "clusters",
        ClusterApprovers => "cluster-approvers",
    }
);

impl MasterKind {
    pub fn source_type(self) -> SourceType {
        match self {
            MasterKind::Scopes | MasterKind::Vendors | MasterKind::Roles => SourceType::ScopeConfig,
            MasterKind::Policies | MasterKind::Stages => SourceType::ApprovalMatrix,
            MasterKind::Clusters | MasterKind::ClusterApprovers => SourceType::ClusterMapping,
        }
    }

    pub fn of(t: SourceType) -> &'static [MasterKind] {
        match t {
            SourceType::ScopeConfig => {
                &[MasterKind::Scopes, MasterKind::Vendors, MasterKind::Roles]
            }
            SourceType::ApprovalMatrix => &[MasterKind::Policies, MasterKind::Stages],
            SourceType::ClusterMapping => &[MasterKind::Clusters, MasterKind::ClusterApprovers],
        }
    }

    /// `SELECT x.id, x.config_version_id, key, data FROM … WHERE x.workspace_id = $1` for this table. Joins are
    /// on the composite (workspace_id, id) keys, so they never leave the workspace.
    pub fn fragment(self) -> &'static str {
        match self {
            MasterKind::Scopes => "SELECT x.id, x.config_version_id, x.scope_code::text AS key, \
                jsonb_build_object('scope_code', x.scope_code, 'scope_name', x.scope_name, 'scope_group', x.scope_group, \
                  'atp_category', x.atp_category, 'description', x.description, 'is_active', x.is_active) AS data \
                FROM atp_scope_master AS x WHERE x.workspace_id = $1",
            MasterKind::Vendors => "SELECT x.id, x.config_version_id, x.vendor_code::text AS key, \
                jsonb_build_object('vendor_code', x.vendor_code, 'vendor_name', x.vendor_name, 'vendor_type', x.vendor_type, \
                  'contact_email', x.contact_email, 'is_active', x.is_active) AS data \
                FROM vendor_master AS x WHERE x.workspace_id = $1",
            MasterKind::Roles => "SELECT x.id, x.config_version_id, x.role_code::text AS key, \
                jsonb_build_object('role_code', x.role_code, 'role_name', x.role_name, 'stage_group', x.stage_group, \
                  'hierarchy_order', x.hierarchy_order, 'is_final_approver', x.is_final_approver, \
                  'vendor_code', v.vendor_code, 'is_active', x.is_active) AS data \
                FROM approval_role_master AS x \
                LEFT JOIN vendor_master AS v ON v.workspace_id = x.workspace_id AND v.id = x.vendor_id \
                WHERE x.workspace_id = $1",
            MasterKind::Policies => "SELECT x.id, x.config_version_id, x.policy_code::text AS key, \
                jsonb_build_object('policy_code', x.policy_code, 'policy_name', x.policy_name, \
                  'atp_category', x.atp_category, 'scope_code', s.scope_code, 'vendor_code', v.vendor_code, \
                  'description', x.description, 'is_active', x.is_active) AS data \
                FROM approval_policy_master AS x \
                LEFT JOIN atp_scope_master AS s ON s.workspace_id = x.workspace_id AND s.id = x.scope_id \
                LEFT JOIN vendor_master AS v ON v.workspace_id = x.workspace_id AND v.id = x.vendor_id \
                WHERE x.workspace_id = $1",
            MasterKind::Stages => "SELECT x.id, x.config_version_id, \
                  p.policy_code || '#' || lpad(x.stage_number::text, 2, '0') AS key, \
                jsonb_build_object('policy_code', p.policy_code, 'stage_number', x.stage_number, \
                  'stage_name', x.stage_name, 'sequence_order', x.sequence_order, 'role_code', r.role_code, \
                  'parallel_group', x.parallel_group, 'sla_hours', x.sla_hours, 'assignment_mode', x.assignment_mode, \
                  'static_user', su.username, 'is_mandatory', x.is_mandatory) AS data \
                FROM approval_policy_stages AS x \
                JOIN approval_policy_master AS p ON p.workspace_id = x.workspace_id AND p.id = x.policy_id \
                JOIN approval_role_master AS r ON r.workspace_id = x.workspace_id AND r.id = x.role_id \
                LEFT JOIN users AS su ON su.id = x.static_user_id \
                WHERE x.workspace_id = $1",
            MasterKind::Clusters => "SELECT x.id, x.config_version_id, x.cluster_code::text AS key, \
                jsonb_build_object('cluster_code', x.cluster_code, 'cluster_name', x.cluster_name, 'region', x.region, \
                  'city', x.city, 'm_sequence', x.m_sequence, 'is_active', x.is_active) AS data \
                FROM cluster_master AS x WHERE x.workspace_id = $1",
            MasterKind::ClusterApprovers => "SELECT x.id, x.config_version_id, \
                  c.cluster_code || '/' || r.role_code || '/' || x.effective_from::text AS key, \
                jsonb_build_object('cluster_code', c.cluster_code, 'role_code', r.role_code, \
                  'primary_user', pu.username, 'backup_user', bu.username, 'effective_from', x.effective_from, \
                  'effective_to', x.effective_to, 'is_active', x.is_active) AS data \
                FROM cluster_approver_master AS x \
                JOIN cluster_master AS c ON c.workspace_id = x.workspace_id AND c.id = x.cluster_id \
                JOIN approval_role_master AS r ON r.workspace_id = x.workspace_id AND r.id = x.role_id \
                JOIN users AS pu ON pu.id = x.primary_user_id \
                LEFT JOIN users AS bu ON bu.id = x.backup_user_id \
                WHERE x.workspace_id = $1",
        }
    }
}

/// One master row.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct MasterRow {
    pub id: Uuid,
    pub config_version_id: Uuid,
    /// Business key: the code, `POLICY#NN` for stages, `CLUSTER/ROLE/effective_from` for cluster approvers.
    pub key: String,
    /// The row's content, references as codes and usernames.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MasterFilter {
    /// A version of the table's source type (default: the ACTIVE one).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub version_id: Option<Uuid>,
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// (version id, row id, key, data): the version's row comes back even when it has no master rows.
type PageRow = (
    Option<Uuid>,
    Option<Uuid>,
    Option<String>,
    Option<serde_json::Value>,
);

/// The rows of one master table in one version, by key (one statement). Default version: the ACTIVE one of the
/// table's source type (an empty page when there is none). A `version_id` of another type or workspace: 404.
#[utoipa::path(
    get, path = "/workspaces/{ws}/masters/{kind}", tag = "atp-masters", security(("bearer" = [])),
    params(("ws" = String, Path, description = "Workspace code or id"),
           ("kind" = String, Path, description = "scopes, vendors, roles, policies, stages, clusters or cluster-approvers"),
           MasterFilter),
    responses(
        (status = 200, description = "A page of master rows", body = Page<MasterRow>),
        (status = 400, description = "INVALID_PATH / INVALID_QUERY", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "NOT_FOUND (workspace or version)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    mut m: Member<policy::Read>,
    ApiPath(path): ApiPath<(String, String)>,
    ApiQuery(f): ApiQuery<MasterFilter>,
) -> ApiResult<ApiJson<Page<MasterRow>>> {
    let (_, kind) = path;
    let kind: MasterKind = kind.parse().map_err(|m: String| {
        ApiError::bad_request("INVALID_PATH", format!("kind {m}")).with_field("kind", m)
    })?;
    let page = Keyset::<String>::new(f.limit, f.cursor.as_deref())?;
    // The version (given or ACTIVE) and its rows in one statement; `v` yields no row for an unknown version, so
    // the version's existence comes back with the rows (the `found` column).
    let rows: Vec<PageRow> = sqlx::query_as(&format!(
        "WITH v AS (SELECT c.id FROM config_versions AS c \
                     WHERE c.workspace_id = $1 AND c.source_type = $2 \
                       AND (CASE WHEN $3::uuid IS NULL THEN c.status = 'ACTIVE' ELSE c.id = $3 END)) \
         SELECT v.id, m.id, m.key, m.data FROM v \
           LEFT JOIN LATERAL (SELECT * FROM ({frag}) AS f \
                               WHERE f.config_version_id = v.id AND ($4::text IS NULL OR f.key > $4) \
                               ORDER BY f.key {limit}) AS m ON true \
          ORDER BY m.key",
        frag = kind.fragment(),
        limit = page.limit_sql()
    ))
    .bind(m.workspace_id)
    .bind(kind.source_type())
    .bind(f.version_id)
    .bind(page.after.as_deref())
    .fetch_all(&mut *m.tx)
    .await?;
    if rows.is_empty() && f.version_id.is_some() {
        return Err(ApiError::not_found("config version"));
    }
    let items: Vec<MasterRow> = rows
        .into_iter()
        .filter_map(|(v, id, key, data)| {
            Some(MasterRow {
                id: id?,
                config_version_id: v?,
                key: key?,
                data: data?,
            })
        })
        .collect();
    Ok(ApiJson(page.page(items, |r| r.key.clone())))
}
