//! The ATP demo: workspace XLSMART-AVIAT with one demo user per member role (and four cluster approvers), the
//! shipped example configuration (crates/atp/config-example/*.csv) imported and activated through the same code
//! the API uses (`config::import_version` / `config::activate_version`, so the demo obeys every validation rule),
//! and the example sites, and one submission waiting at an overdue stage (`overdue_submission`) so the SLA
//! report has something to show.
//!
//! Demo users: `atp.admin` (WORKSPACE_ADMIN), `atp.doccontrol` (DOC_CONTROL), `atp.vendor` (VENDOR), `atp.qa` (QA),
//! `atp.approver.west1/west2/east1/east2` (APPROVER), `atp.viewer` (VIEWER); global role VIEWER except
//! `atp.admin` (MANAGER). Password rule: all of them share ONE password, generated at random when the demo is
//! loaded and returned in the summary line (the CLI prints it): nothing known in advance ever signs in.

use crate::config::{self, Upload};
use crate::member::MemberRole;
use crate::sites;
use crate::state::SourceType;
use neurohub_core::auth::password::{generate_password, hash_password};
use neurohub_core::context::{self, RequestContext};
use neurohub_core::ApiError;
use sqlx::PgPool;
use std::collections::BTreeMap;
use uuid::Uuid;

pub const WORKSPACE: &str = "XLSMART-AVIAT";

/// The shipped example configuration: (source type, [(file part, bytes)]).
/// The files of one upload: (multipart part, bytes).
pub type Files = &'static [(&'static str, &'static [u8])];

pub const EXAMPLE: &[(SourceType, Files)] = &[
    (
        SourceType::ScopeConfig,
        &[
            ("scopes", include_bytes!("../config-example/scopes.csv")),
            ("vendors", include_bytes!("../config-example/vendors.csv")),
            ("roles", include_bytes!("../config-example/roles.csv")),
        ],
    ),
    (
        SourceType::ClusterMapping,
        &[
            ("clusters", include_bytes!("../config-example/clusters.csv")),
            (
                "cluster_approvers",
                include_bytes!("../config-example/cluster_approvers.csv"),
            ),
        ],
    ),
    (
        SourceType::ApprovalMatrix,
        &[
            ("policies", include_bytes!("../config-example/policies.csv")),
            ("stages", include_bytes!("../config-example/stages.csv")),
        ],
    ),
];

pub const EXAMPLE_SITES: &[u8] = include_bytes!("../config-example/sites.csv");

/// (username, full name, global role, member role)
pub const DEMO_USERS: &[(&str, &str, &str, MemberRole)] = &[
    (
        "atp.admin",
        "Adi Workspace Admin",
        "MANAGER",
        MemberRole::WorkspaceAdmin,
    ),
    (
        "atp.doccontrol",
        "Dina Document Control",
        "VIEWER",
        MemberRole::DocControl,
    ),
    (
        "atp.vendor",
        "Vino Aviat Engineer",
        "VIEWER",
        MemberRole::Vendor,
    ),
    ("atp.qa", "Qori Quality", "VIEWER", MemberRole::Qa),
    (
        "atp.approver.west1",
        "Wawan West Approver",
        "VIEWER",
        MemberRole::Approver,
    ),
    (
        "atp.approver.west2",
        "Wulan West Backup",
        "VIEWER",
        MemberRole::Approver,
    ),
    (
        "atp.approver.east1",
        "Eko East Approver",
        "VIEWER",
        MemberRole::Approver,
    ),
    (
        "atp.approver.east2",
        "Endah East Backup",
        "VIEWER",
        MemberRole::Approver,
    ),
    ("atp.viewer", "Vera Viewer", "VIEWER", MemberRole::Viewer),
];

fn ctx(user_id: Option<i64>, ws: Option<Uuid>) -> RequestContext {
    RequestContext {
        user_id,
        client_ip: None,
        request_id: Some("atp-demo-seed".into()),
        workspace_id: ws,
    }
}

/// The upload of one shipped source type.
pub fn example_upload(t: SourceType) -> Upload {
    let files = EXAMPLE
        .iter()
        .find(|(s, _)| *s == t)
        .map(|(_, f)| *f)
        .unwrap_or(&[]);
    Upload {
        source_type: t,
        files: files
            .iter()
            .map(|(n, b)| (n.to_string(), b.to_vec()))
            .collect::<BTreeMap<_, _>>(),
        file_names: files.iter().map(|(n, _)| format!("{n}.csv")).collect(),
        description: Some("shipped example configuration".into()),
    }
}

/// What the demo loader made: a one-line summary, and the demo users' generated password (kept apart, so the
/// caller can hand it over without writing it into a log).
#[derive(Debug)]
pub struct DemoLoaded {
    pub summary: String,
    pub password: String,
}

/// Load the ATP demo unless workspace XLSMART-AVIAT exists.
pub async fn seed_if_empty(pool: &PgPool) -> Result<Option<DemoLoaded>, ApiError> {
    // Run as an existing global ADMIN when there is one, so the workspace policies admit the writes even when the
    // loader's login is subject to row-level security.
    let mut tx = context::begin(pool, &ctx(None, None)).await?;
    let admin: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM users WHERE role = 'ADMIN' AND is_active ORDER BY id LIMIT 1",
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut tx = context::begin(pool, &ctx(admin, None)).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM workspaces WHERE code = $1)")
            .bind(WORKSPACE)
            .fetch_one(&mut *tx)
            .await?;
    if exists {
        return Ok(None);
    }
    let password = generate_password();
    let hash = hash_password(&password).map_err(ApiError::internal)?;
    let ws: Uuid = sqlx::query_scalar(
        "INSERT INTO workspaces (code, name, customer, vendor_owner) \
         VALUES ($1, 'XLSmart rollout — Aviat', 'XLSmart', 'AVIAT') RETURNING id",
    )
    .bind(WORKSPACE)
    .fetch_one(&mut *tx)
    .await?;
    context::set(&mut tx, &ctx(admin, Some(ws))).await?;
    // users first (the shared identity table), then their memberships
    let roster = add_roster(&mut tx, ws, str::to_string, "", "xlsmart-aviat.demo", &hash).await?;
    let id_of = |n: &str| roster.id(n);
    tx.commit().await?;

    // configuration as the workspace admin, in dependency order (scopes/roles first), each import + activation one
    // transaction like the API's
    let ws_admin = id_of("atp.admin");
    let mut activated = Vec::new();
    for (t, _) in EXAMPLE {
        let mut tx = context::begin(pool, &ctx(Some(ws_admin), Some(ws))).await?;
        let v = config::import_version(&mut tx, ws, ws_admin, &example_upload(*t)).await?;
        if !v.validation_errors.is_empty() {
            return Err(ApiError::internal(format!(
                "the shipped {t} example does not validate: {:?}",
                v.validation_errors
            )));
        }
        let v = config::activate_version(&mut tx, ws, ws_admin, v.id).await?;
        tx.commit().await?;
        activated.push(format!("{t} v{} ({} rows)", v.version_number, v.row_count));
    }
    let mut tx = context::begin(pool, &ctx(Some(ws_admin), Some(ws))).await?;
    let (report, rows) = {
        let active: Vec<(String,)> = sqlx::query_as(
            "SELECT m.cluster_code FROM config_versions AS c JOIN cluster_master AS m \
                 ON m.workspace_id = c.workspace_id AND m.config_version_id = c.id \
              WHERE c.workspace_id = $1 AND c.source_type = 'CLUSTER_MAPPING' AND c.status = 'ACTIVE'",
        )
        .bind(ws)
        .fetch_all(&mut *tx)
        .await?;
        sites::check_sites(
            EXAMPLE_SITES,
            &Some(active.into_iter().map(|(c,)| c).collect()),
        )
    };
    if !report.0.is_empty() {
        return Err(ApiError::internal(format!(
            "the shipped sites.csv does not validate: {:?}",
            report.0
        )));
    }
    let (inserted, _) = sites::upsert_sites(&mut tx, ws, &rows).await?;
    tx.commit().await?;
    let overdue = overdue_submission(pool, ws, id_of("atp.doccontrol"), id_of("atp.qa")).await?;
    Ok(Some(DemoLoaded {
        summary: format!(
            "ATP demo: workspace {WORKSPACE} with {} members ({}), active {}, {inserted} sites, \
             submission {overdue} in approval with an overdue stage",
            DEMO_USERS.len(),
            DEMO_USERS
                .iter()
                .map(|u| u.0)
                .collect::<Vec<_>>()
                .join(", "),
            activated.join(", ")
        ),
        password,
    }))
}

/// The demo's overdue stage: one RAN_MW submission of site JKT-0001 with its ATP report, submitted by
/// `atp.doccontrol`, approved by QA through the engine itself (`flow::engine::review`: real routing with the
/// example configuration), whose first approval stage became active its SLA hours and six more ago — six hours overdue — so the
/// SLA sweep at the server's start breaches and escalates it and the SLA report shows it. Only the activation
/// time is set back (the demo's one invented fact); everything else is what the flow writes. Returns its code.
async fn overdue_submission(
    pool: &PgPool,
    ws: Uuid,
    doc_control: i64,
    qa: i64,
) -> Result<String, ApiError> {
    use crate::flow::engine::{review, QaBody};
    use crate::flow::state::QaDecision;
    use crate::state::AtpCategory;
    use sha2::{Digest, Sha256};

    let mut tx = context::begin(pool, &ctx(Some(doc_control), Some(ws))).await?;
    let (site, scope): (Uuid, Uuid) = sqlx::query_as(
        "SELECT si.id, sc.id FROM sites si \
           JOIN config_versions c ON c.workspace_id = si.workspace_id AND c.source_type = 'SCOPE_CONFIG' \
                                 AND c.status = 'ACTIVE' \
           JOIN atp_scope_master sc ON sc.workspace_id = c.workspace_id AND sc.config_version_id = c.id \
                                   AND sc.scope_code = 'MW' \
          WHERE si.workspace_id = $1 AND si.site_id = 'JKT-0001'",
    )
    .bind(ws)
    .fetch_one(&mut *tx)
    .await?;
    let code = crate::flow::submissions::submission_code(site, "MW", AtpCategory::RanMw);
    let report: &[u8] = b"%PDF-1.4\n% NeuroHub demo ATP report: JKT-0001 microwave hop\n%%EOF\n";
    let submission: Uuid = sqlx::query_scalar(
        "WITH s AS (INSERT INTO atp_submissions (workspace_id, submission_code, site_id, scope_id, atp_category, \
                           status, title, created_by, submitted_by, submitted_at) \
                    VALUES ($1, $2, $3, $4, 'RAN_MW', 'QA_REVIEW', 'JKT-0001 MW hop ATP', $5, $5, \
                            now() - interval '4 days') RETURNING id), \
              d AS (INSERT INTO atp_submission_documents (workspace_id, submission_id, file_name, media_type, \
                           size_bytes, sha256, content, uploaded_by) \
                    SELECT $1, s.id, 'JKT-0001-atp-report.pdf', 'application/pdf', $6, $7, $8, $5 FROM s) \
         SELECT id FROM s",
    )
    .bind(ws)
    .bind(&code)
    .bind(site)
    .bind(scope)
    .bind(doc_control)
    .bind(report.len() as i64)
    .bind(hex::encode(Sha256::digest(report)))
    .bind(report)
    .fetch_one(&mut *tx)
    .await?;
    context::set(&mut tx, &ctx(Some(qa), Some(ws))).await?;
    review(
        &mut tx,
        ws,
        qa,
        submission,
        &QaBody {
            decision: QaDecision::Approve,
            comment: None,
        },
    )
    .await?;
    // the active stage became active its SLA hours and six more ago: six hours overdue
    let aged = sqlx::query(
        "UPDATE workflow_stages st SET activated_at = st.activated_at - make_interval(hours => st.sla_hours + 6), \
                due_at = st.due_at - make_interval(hours => st.sla_hours + 6) \
           FROM atp_submissions s \
          WHERE s.workspace_id = $1 AND s.id = $2 AND st.workspace_id = s.workspace_id \
            AND st.workflow_instance_id = s.workflow_instance_id AND st.status = 'ACTIVE'",
    )
    .bind(ws)
    .bind(submission)
    .execute(&mut *tx)
    .await?;
    if aged.rows_affected() == 0 {
        return Err(ApiError::internal(
            "the demo submission has no active stage to make overdue",
        ));
    }
    tx.commit().await?;
    Ok(code)
}

/// The user ids of the demo roster in one workspace, in [`DEMO_USERS`] order.
pub(crate) struct Roster(Vec<i64>);

impl Roster {
    /// The id of the roster's user for the demo user name `demo_name` (e.g. `"atp.admin"`); 0 if it has none.
    pub(crate) fn id(&self, demo_name: &str) -> i64 {
        DEMO_USERS
            .iter()
            .position(|u| u.0 == demo_name)
            .map_or(0, |i| self.0[i])
    }

    /// (member role, user id) of each roster user.
    pub(crate) fn members(&self) -> impl Iterator<Item = (MemberRole, i64)> + '_ {
        DEMO_USERS.iter().zip(&self.0).map(|(u, id)| (u.3, *id))
    }
}

/// [`DEMO_USERS`] as users and as members of `ws` with their demo roles, in `tx` (whose context is `ws`'s):
/// `rename` makes each user name from the demo one, `label` is appended to the full names, the e-mail is the user
/// name at `email_domain`. A user name that exists already is reused (active again, `password_hash` set). The demo
/// workspace and the generator's workspaces (`generate.rs`) are made this one way.
pub(crate) async fn add_roster(
    tx: &mut sqlx::PgConnection,
    ws: Uuid,
    rename: impl Fn(&str) -> String,
    label: &str,
    email_domain: &str,
    password_hash: &str,
) -> Result<Roster, sqlx::Error> {
    let names: Vec<String> = DEMO_USERS.iter().map(|u| rename(u.0)).collect();
    let ids: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO users (username, full_name, email, password_hash, role) \
         SELECT u.n, u.f || $5, u.n || '@' || $6, $4, u.r \
           FROM unnest($1::text[], $2::text[], $3::text[]) AS u (n, f, r) \
         ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash, is_active = true \
         RETURNING id, username",
    )
    .bind(&names)
    .bind(DEMO_USERS.iter().map(|u| u.1).collect::<Vec<_>>())
    .bind(DEMO_USERS.iter().map(|u| u.2).collect::<Vec<_>>())
    .bind(password_hash)
    .bind(label)
    .bind(email_domain)
    .fetch_all(&mut *tx)
    .await?;
    let roster = Roster(
        names
            .iter()
            .map(|n| ids.iter().find(|(_, u)| u == n).map_or(0, |(id, _)| *id))
            .collect(),
    );
    sqlx::query(
        "INSERT INTO workspace_members (workspace_id, user_id, member_role) SELECT $1, * FROM unnest($2::bigint[], $3::text[])",
    )
    .bind(ws)
    .bind(&roster.0)
    .bind(DEMO_USERS.iter().map(|u| u.3).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(roster)
}
