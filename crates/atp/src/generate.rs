//! `neurohub seed --workspaces W --sites S --submissions K`: a production-scale ATP data set, valid by the API's
//! rules, loaded with COPY (the ATP half of issue 12's generator; the MES half is `neurohub_mes::generate`).
//!
//! Why: the benchmark's ATP scenarios (an approver's pending approvals, an instance's timeline, deciding a stage)
//! mean nothing on the demo's one submission; they need workspaces with tens of thousands of workflows at every
//! stage, and one approver with thousands of stages waiting.
//!
//! What it writes, in two parts:
//!
//! 1. **Through the API's own code** (ordinary statements, audited by the triggers): W workspaces `GEN-01`…,
//!    each with the demo's member roster under its own user names (`gen1.admin`, `gen1.qa`,
//!    `gen1.approver.west1`, …; users are global, in the identity table, with an unusable password hash: give one
//!    a password with `neurohub admin reset-password`), and the shipped example configuration (scopes, vendors,
//!    roles; clusters and their approvers; the approval matrix) imported and activated with
//!    [`config::import_version`] / [`config::activate_version`], so every validation rule of an upload holds.
//! 2. **With COPY, in one transaction with the triggers off** (`session_replication_role = replica`, so it needs
//!    a superuser): S sites spread over the workspaces and the clusters (60 % in the two clusters of
//!    `approver.west1`), and K submissions (one per site, scope and category; some with an earlier, returned
//!    revision) whose history is simulated event by event over `months` months, ending now, with the engine's
//!    rules ([`crate::flow::engine`]): created DRAFT, its ATP report uploaded and submitted, QA-reviewed (rejected,
//!    or approved: the policy of the ACTIVE matrix picked as the engine picks it, the approvers resolved from the
//!    cluster mapping, the instance frozen on that version with the same `routing_snapshot`, the QA stages
//!    recorded APPROVED by the reviewer), then stage after stage in `sequence_order`: ACTIVATE with its due time,
//!    a decision by the stage's approver (APPROVE, APPROVE_WITH_PUNCHLIST raising a punchlist, or REJECT
//!    cancelling the rest), an SLA breach and escalation when a decision came (or has not come) past the due
//!    time, as the sweep records them; a rejected instance is resumed by the next revision at the rejecting stage.
//!    A submission stops wherever "now" catches it, so young ones are in progress and old ones finished: DRAFT,
//!    QA_REVIEW, QA_REJECTED, IN_APPROVAL with an ACTIVE stage, REJECTED, APPROVED_WITH_PUNCHLIST (items open or
//!    rectified), COMPLETED (punchlists closed on evidence). Every stage action is in `workflow_stage_actions`
//!    (the instance timeline), consistent with the stages' final state. Because the triggers were off, it then
//!    writes what they would have: one audit row per inserted row, dated when it happened (the MES generator's
//!    convention); the notification outbox is not back-filled (those notifications are history, not news).
//!    The workspaces' configuration is dated back to before the history starts (creation, activation, the
//!    approvers' `effective_from`), so every instance started on a version that was ACTIVE then.
//!
//! Same `random_seed`, same data: the generated rows' ids too (they come from [`Rng::uuid`]; the workspaces' and
//! their configuration's are the database's, made by the API's code), and with [`Spec::now`] pinned the timestamps too. Run
//! `neurohub verify` afterwards (the CLI does): orphans, CHECKs and the runtime checks are all checked there.

use crate::config::{self, Upload};
use crate::demo::{add_roster, DEMO_USERS, EXAMPLE};
use chrono::{DateTime, Duration, DurationRound, Utc};
use neurohub_core::context::{self, RequestContext};
use neurohub_core::copy::{self, CopyWriter, Phases};
use neurohub_core::rng::Rng;
use neurohub_core::ApiError;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// The size and shape of a generated ATP data set.
#[derive(Debug, Clone)]
pub struct Spec {
    pub workspaces: u32,
    pub sites: u32,
    pub submissions: u32,
    pub random_seed: u64,
    /// Months of history the submissions are spread over (ending now).
    pub months: u32,
    /// The "now" the history ends at: None is the wall clock (tests pin it, so that the same seed gives the very
    /// same rows, timestamps included).
    pub now: Option<DateTime<Utc>>,
}

/// What was written, and how fast.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub workspaces: u64,
    pub members: u64,
    pub sites: u64,
    pub submissions: u64,
    pub documents: u64,
    pub instances: u64,
    pub stages: u64,
    pub actions: u64,
    pub punchlists: u64,
    pub punchlist_items: u64,
    pub audit_logs: u64,
    /// ACTIVE stages of the busiest approver, and who it is.
    pub busiest_approver: Option<(String, u64)>,
    pub seconds: f64,
    /// (phase, seconds).
    pub phases: Vec<(String, f64)>,
}

impl Report {
    pub fn rows(&self) -> u64 {
        self.sites
            + self.submissions
            + self.documents
            + self.instances
            + self.stages
            + self.actions
            + self.punchlists
            + self.punchlist_items
            + self.audit_logs
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} workspaces ({} members), {} sites, {} submissions, {} documents, {} workflow instances, {} stages, \
             {} stage actions, {} punchlists ({} items), {} audit rows: {} rows in {:.1} s ({:.0} rows/s)",
            self.workspaces,
            self.members,
            self.sites,
            self.submissions,
            self.documents,
            self.instances,
            self.stages,
            self.actions,
            self.punchlists,
            self.punchlist_items,
            self.audit_logs,
            self.rows(),
            self.seconds,
            self.rows() as f64 / self.seconds.max(1e-9)
        )?;
        if let Some((who, n)) = &self.busiest_approver {
            write!(f, "; busiest approver {who} with {n} ACTIVE stages")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Api(String),
}

impl From<ApiError> for GenerateError {
    fn from(e: ApiError) -> Self {
        Self::Api(e.to_string())
    }
}

/// The workspace code of generated workspace `i` (1-based).
pub fn workspace_code(i: u32) -> String {
    format!("GEN-{i:02}")
}

/// The user name generated workspace `i` gives demo user `demo` (`atp.approver.west1` → `gen1.approver.west1`).
pub fn username(i: u32, demo: &str) -> String {
    format!("gen{i}.{}", demo.trim_start_matches("atp."))
}

/// (scope code, category) of the generated submissions: the shipped scopes, each with the categories the shipped
/// approval matrix has a policy for.
const COMBOS: &[(&str, &str)] = &[
    ("MW", "RAN_MW"),
    ("RAN", "RAN_MW"),
    ("CME", "RAN_MW"),
    ("PLN", "PLN_UPGRADE"),
    ("RAN", "SOFTWARE_LICENSE"),
    ("CME", "DISMANTLE_DROP"),
    ("CME", "DISMANTLE_KEEP"),
];

/// Punchlist items an approver raises (code, description, severity): never CRITICAL (that is a rejection).
const ITEMS: &[(&str, &str, &str)] = &[
    ("LABEL-01", "cable labels missing on the IDU side", "MINOR"),
    ("GROUND-02", "grounding kit not torqued", "MAJOR"),
    ("PHOTO-03", "azimuth photo unreadable", "MINOR"),
    ("SEAL-04", "connector weatherproofing incomplete", "MAJOR"),
];

const REJECT_COMMENTS: &[&str] = &[
    "RSL below the planned level: realign the hop and resubmit",
    "as-built drawing does not match the site",
    "test report pages missing",
];

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S+00").to_string()
}

/// A time as `to_jsonb(timestamptz)` writes it (whole seconds, UTC session).
fn jts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

struct PolicyStage {
    id: Uuid,
    number: i32,
    name: String,
    sequence: i32,
    sla_hours: i32,
    mode: String,
    role_id: Uuid,
    role_code: String,
    stage_group: String,
}

struct Policy {
    id: Uuid,
    code: String,
    category: String,
    scope_code: Option<String>,
    has_vendor: bool,
    stages: Vec<PolicyStage>,
}

struct Cluster {
    id: Uuid,
    code: String,
    region: Option<String>,
    city: Option<String>,
    /// role code → (primary, backup)
    approvers: HashMap<String, (i64, Option<i64>)>,
}

/// One workspace's setup, as read back after the configuration was activated.
struct Ws {
    id: Uuid,
    index: u32,
    qa: i64,
    submitters: Vec<i64>,
    admins: Vec<i64>,
    scopes: HashMap<String, Uuid>,
    vendors: Vec<(Uuid, String)>,
    matrix_version: Uuid,
    cluster_version: Uuid,
    policies: Vec<Policy>,
    clusters: Vec<Cluster>,
}

fn ctx(user_id: Option<i64>, ws: Option<Uuid>) -> RequestContext {
    RequestContext {
        user_id,
        client_ip: None,
        request_id: Some("neurohub-seed".into()),
        workspace_id: ws,
    }
}

/// Part 1 for workspace `i`: workspace, users and members, configuration (the API's code, the triggers on).
async fn setup_workspace(pool: &PgPool, admin: Option<i64>, i: u32) -> Result<Ws, GenerateError> {
    let code = workspace_code(i);
    let mut tx = context::begin(pool, &ctx(admin, None)).await?;
    let ws: Uuid = sqlx::query_scalar(
        "INSERT INTO workspaces (code, name, customer, vendor_owner) VALUES ($1, $2, 'XLSmart', 'AVIAT') RETURNING id",
    )
    .bind(&code)
    .bind(format!("Generated rollout {i}"))
    .fetch_one(&mut *tx)
    .await?;
    context::set(&mut tx, &ctx(admin, Some(ws))).await?;
    let roster = add_roster(
        &mut tx,
        ws,
        |n| username(i, n),
        &format!(" ({code})"),
        "generated.example",
        "!",
    )
    .await?;
    let id_of = |n: &str| roster.id(n);
    tx.commit().await?;

    // the shipped configuration, its user names made this workspace's, imported and activated like the API does
    let ws_admin = id_of("atp.admin");
    for (t, files) in EXAMPLE {
        let up = Upload {
            source_type: *t,
            files: files
                .iter()
                .map(|(n, b)| {
                    let text = String::from_utf8_lossy(b).replace("atp.", &format!("gen{i}."));
                    (n.to_string(), text.into_bytes())
                })
                .collect::<BTreeMap<_, _>>(),
            file_names: files.iter().map(|(n, _)| format!("{n}.csv")).collect(),
            description: Some("generated data set (shipped example configuration)".into()),
        };
        let mut tx = context::begin(pool, &ctx(Some(ws_admin), Some(ws))).await?;
        let v = config::import_version(&mut tx, ws, ws_admin, &up).await?;
        if !v.validation_errors.is_empty() {
            return Err(GenerateError::Refused(format!(
                "the shipped {t} example does not validate for workspace {code}: {:?}",
                v.validation_errors
            )));
        }
        config::activate_version(&mut tx, ws, ws_admin, v.id).await?;
        tx.commit().await?;
    }
    read_workspace(pool, ws, i, roster.members()).await
}

/// The ACTIVE configuration of workspace `ws`, as routing reads it.
async fn read_workspace(
    pool: &PgPool,
    ws: Uuid,
    index: u32,
    members: impl Iterator<Item = (crate::member::MemberRole, i64)>,
) -> Result<Ws, GenerateError> {
    use crate::member::MemberRole as R;
    let (mut qa, mut submitters, mut admins) = (0, Vec::new(), Vec::new());
    for (role, id) in members {
        match role {
            R::Qa => qa = id,
            R::DocControl | R::Vendor => submitters.push(id),
            R::WorkspaceAdmin => admins.push(id),
            _ => {}
        }
    }
    admins.sort_unstable();
    let mut conn = pool.acquire().await?;
    let active = |t: &str| {
        format!(
            "SELECT id FROM config_versions WHERE workspace_id = $1 AND source_type = '{t}' AND status = 'ACTIVE'"
        )
    };
    let scope_version: Uuid = sqlx::query_scalar(&active("SCOPE_CONFIG"))
        .bind(ws)
        .fetch_one(&mut *conn)
        .await?;
    let matrix_version: Uuid = sqlx::query_scalar(&active("APPROVAL_MATRIX"))
        .bind(ws)
        .fetch_one(&mut *conn)
        .await?;
    let cluster_version: Uuid = sqlx::query_scalar(&active("CLUSTER_MAPPING"))
        .bind(ws)
        .fetch_one(&mut *conn)
        .await?;
    let scopes: HashMap<String, Uuid> = sqlx::query_as::<_, (String, Uuid)>(
        "SELECT scope_code, id FROM atp_scope_master WHERE workspace_id = $1 AND config_version_id = $2 AND is_active",
    )
    .bind(ws)
    .bind(scope_version)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let vendors: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, vendor_code FROM vendor_master WHERE workspace_id = $1 AND config_version_id = $2 AND is_active \
         ORDER BY vendor_code",
    )
    .bind(ws)
    .bind(scope_version)
    .fetch_all(&mut *conn)
    .await?;
    let rows = sqlx::query(
        "SELECT p.id, p.policy_code, p.atp_category, ps.scope_code, p.vendor_id IS NOT NULL AS has_vendor, \
                st.id AS stage_id, st.stage_number, st.stage_name, st.sequence_order, st.parallel_group, \
                st.sla_hours, st.assignment_mode, r.id AS role_id, r.role_code, r.stage_group \
           FROM approval_policy_master p \
           LEFT JOIN atp_scope_master ps ON ps.workspace_id = p.workspace_id AND ps.id = p.scope_id \
           JOIN approval_policy_stages st ON st.workspace_id = p.workspace_id AND st.policy_id = p.id \
           JOIN approval_role_master r ON r.workspace_id = p.workspace_id AND r.id = st.role_id \
          WHERE p.workspace_id = $1 AND p.config_version_id = $2 AND p.is_active \
          ORDER BY p.policy_code, st.sequence_order, st.stage_number",
    )
    .bind(ws)
    .bind(matrix_version)
    .fetch_all(&mut *conn)
    .await?;
    let mut policies: Vec<Policy> = Vec::new();
    for r in rows {
        let id: Uuid = r.get("id");
        if r.get::<Option<i32>, _>("parallel_group").is_some() {
            return Err(GenerateError::Refused(
                "the generator walks sequential stages only (the shipped matrix has no parallel group)".into(),
            ));
        }
        if policies.last().is_none_or(|p| p.id != id) {
            policies.push(Policy {
                id,
                code: r.get("policy_code"),
                category: r.get("atp_category"),
                scope_code: r.get("scope_code"),
                has_vendor: r.get("has_vendor"),
                stages: Vec::new(),
            });
        }
        let stage = PolicyStage {
            id: r.get("stage_id"),
            number: r.get("stage_number"),
            name: r.get("stage_name"),
            sequence: r.get("sequence_order"),
            sla_hours: r.get("sla_hours"),
            mode: r.get("assignment_mode"),
            role_id: r.get("role_id"),
            role_code: r.get("role_code"),
            stage_group: r.get("stage_group"),
        };
        if stage.stage_group != "QA" && stage.mode != "CLUSTER" {
            return Err(GenerateError::Refused(format!(
                "the generator resolves CLUSTER assignments only (policy stage {} is {})",
                stage.name, stage.mode
            )));
        }
        if let Some(p) = policies.last_mut() {
            p.stages.push(stage);
        }
    }
    let mut clusters: Vec<Cluster> = sqlx::query_as::<_, (Uuid, String, Option<String>, Option<String>)>(
        "SELECT id, cluster_code, region, city FROM cluster_master \
          WHERE workspace_id = $1 AND config_version_id = $2 AND is_active ORDER BY m_sequence, cluster_code",
    )
    .bind(ws)
    .bind(cluster_version)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|(id, code, region, city)| Cluster {
        id,
        code,
        region,
        city,
        approvers: HashMap::new(),
    })
    .collect();
    // JKT first: the clusters of approver.west1 get most sites
    clusters.sort_by(|a, b| a.code.cmp(&b.code).reverse());
    clusters.sort_by_key(|c| !c.code.starts_with("JKT"));
    let approvers: Vec<(Uuid, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT a.cluster_id, r.role_code, a.primary_user_id, a.backup_user_id FROM cluster_approver_master a \
           JOIN approval_role_master r ON r.workspace_id = a.workspace_id AND r.id = a.role_id \
          WHERE a.workspace_id = $1 AND a.config_version_id = $2 AND a.is_active AND a.effective_to IS NULL",
    )
    .bind(ws)
    .bind(cluster_version)
    .fetch_all(&mut *conn)
    .await?;
    for (cid, role, p, b) in approvers {
        if let Some(c) = clusters.iter_mut().find(|c| c.id == cid) {
            c.approvers.insert(role, (p, b));
        }
    }
    if qa == 0 || submitters.is_empty() || clusters.is_empty() || policies.is_empty() {
        return Err(GenerateError::Refused(
            "the workspace setup has no QA member, submitter, cluster or policy".into(),
        ));
    }
    Ok(Ws {
        id: ws,
        index,
        qa,
        submitters,
        admins,
        scopes,
        vendors,
        matrix_version,
        cluster_version,
        policies,
        clusters,
    })
}

impl Ws {
    /// The engine's pick: the most specific active policy for (category, scope, no vendor-specific policy as the
    /// generated submissions name vendors the shipped matrix does not single out).
    fn policy(&self, category: &str, scope: &str) -> Option<&Policy> {
        self.policies
            .iter()
            .filter(|p| {
                p.category == category
                    && !p.has_vendor
                    && p.scope_code.as_deref().is_none_or(|s| s == scope)
            })
            .min_by_key(|p| (p.scope_code.is_none(), p.code.clone()))
    }
}

struct Site {
    id: Uuid,
    cluster: usize,
}

struct Sub {
    id: Uuid,
    ws: usize,
    code: String,
    revision: i32,
    previous: Option<Uuid>,
    site: Uuid,
    scope: Uuid,
    vendor: Option<Uuid>,
    instance: Option<usize>,
    category: &'static str,
    status: &'static str,
    title: String,
    created_by: i64,
    submitted_at: Option<DateTime<Utc>>,
    qa_at: Option<DateTime<Utc>>,
    qa_by: Option<i64>,
    qa_comment: Option<&'static str>,
    completed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

struct Inst {
    id: Uuid,
    ws: usize,
    site: Uuid,
    scope: Uuid,
    policy: usize,
    vendor: Option<Uuid>,
    cluster: usize,
    category: &'static str,
    status: &'static str,
    current: Option<i32>,
    snapshot: String,
    sla_due_at: Option<DateTime<Utc>>,
    sla_breached_at: Option<DateTime<Utc>>,
    started_by: i64,
    started_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    /// Indexes into the stage list, in sequence order.
    stages: Vec<usize>,
}

struct Stage {
    id: Uuid,
    inst: usize,
    policy_stage: usize,
    assigned: i64,
    backup: Option<i64>,
    status: &'static str,
    activated_at: Option<DateTime<Utc>>,
    due_at: Option<DateTime<Utc>>,
    breached_at: Option<DateTime<Utc>>,
    decided_by: Option<i64>,
    decided_at: Option<DateTime<Utc>>,
    decision: Option<&'static str>,
    comment: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

struct Action {
    id: Uuid,
    ws: usize,
    inst: Uuid,
    stage: Uuid,
    action: &'static str,
    actor: Option<i64>,
    from: &'static str,
    to: &'static str,
    comment: Option<String>,
    payload: String,
    at: DateTime<Utc>,
}

struct Doc {
    id: Uuid,
    ws: usize,
    sub: Uuid,
    kind: &'static str,
    file_name: String,
    content: Vec<u8>,
    by: i64,
    at: DateTime<Utc>,
}

struct Punchlist {
    id: Uuid,
    ws: usize,
    inst: Uuid,
    sub: Uuid,
    status: &'static str,
    raised_by: i64,
    raised_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    /// Its items: `Data::items[items]` (raised together, so contiguous).
    items: std::ops::Range<usize>,
}

struct Item {
    id: Uuid,
    punchlist: usize,
    code: &'static str,
    description: &'static str,
    severity: &'static str,
    status: &'static str,
    evidence: Option<Uuid>,
    rectified_at: Option<DateTime<Utc>>,
    verified_by: Option<i64>,
    verified_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Where a revision's story is meant to end (it ends earlier when "now" comes first).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Plan {
    Draft,
    Cancelled,
    QaReview,
    QaRejected,
    /// In approval, waiting at the n-th approval stage (0-based among the non-QA stages, wrapped).
    InApproval(usize),
    /// Rejected by the n-th approval stage.
    Rejected(usize),
    /// Every stage approved, the n-th with a punchlist still open.
    WithPunchlist(usize),
    /// Every stage approved; with a punchlist raised and closed when Some(n).
    Completed(Option<usize>),
}

/// Everything generated, in memory (the big tables are a few hundred bytes a row: fine at the reference size).
#[derive(Default)]
struct Data {
    subs: Vec<Sub>,
    insts: Vec<Inst>,
    stages: Vec<Stage>,
    actions: Vec<Action>,
    docs: Vec<Doc>,
    punchlists: Vec<Punchlist>,
    items: Vec<Item>,
}

/// The simulation's shared state for one submission code.
struct Sim<'a> {
    rng: &'a mut Rng,
    now: DateTime<Utc>,
    d: &'a mut Data,
    wss: &'a [Ws],
    /// site id → (cluster index in its workspace, site code)
    sites: &'a HashMap<Uuid, (usize, String)>,
}

fn hours(rng: &mut Rng, lo: f64, hi: f64) -> Duration {
    Duration::seconds(((lo + (hi - lo) * rng.f()) * 3600.0) as i64)
}

impl Sim<'_> {
    #[allow(clippy::too_many_arguments)]
    fn action(
        &mut self,
        ws: usize,
        stage: usize,
        action: &'static str,
        actor: Option<i64>,
        from_to: (&'static str, &'static str),
        comment: Option<String>,
        payload: Value,
        at: DateTime<Utc>,
    ) {
        let st = &self.d.stages[stage];
        let inst = self.d.insts[st.inst].id;
        let id = self.rng.uuid();
        let stage_id = st.id;
        self.d.actions.push(Action {
            id,
            ws,
            inst,
            stage: stage_id,
            action,
            actor,
            from: from_to.0,
            to: from_to.1,
            comment,
            payload: payload.to_string(),
            at,
        });
    }

    /// The sweep's breach and escalation of an ACTIVE stage whose due time passed before `until`.
    fn breach_if_due(&mut self, ws: usize, stage: usize, until: DateTime<Utc>) {
        let (due, assigned, backup, number, inst) = {
            let s = &self.d.stages[stage];
            let Some(due) = s.due_at else { return };
            (due, s.assigned, s.backup, self.stage_number(stage), s.inst)
        };
        let at = due + Duration::seconds(60 + self.rng.below(840) as i64);
        if at >= until {
            return;
        }
        let name = self.stage_name(stage);
        self.d.stages[stage].breached_at = Some(at);
        self.d.stages[stage].updated_at = at;
        let i = &mut self.d.insts[inst];
        if i.sla_breached_at.is_none() {
            i.sla_breached_at = Some(at);
        }
        i.updated_at = at;
        let admins = self.wss[ws].admins.clone();
        let base =
            json!({"due_at": jts(due), "breached_at": jts(at), "assigned_approver_id": assigned});
        self.action(
            ws,
            stage,
            "SLA_BREACH",
            None,
            ("ACTIVE", "ACTIVE"),
            Some(format!("stage {number} ({name}) is past its SLA")),
            base.clone(),
            at,
        );
        let mut notify: Vec<i64> = backup.into_iter().chain(admins.iter().copied()).collect();
        notify.sort_unstable();
        notify.dedup();
        notify.retain(|u| *u != assigned);
        let mut p = base;
        p["backup_user_id"] = json!(backup);
        p["admin_user_ids"] = json!(admins);
        p["notify"] = json!(notify);
        self.action(
            ws,
            stage,
            "ESCALATE",
            None,
            ("ACTIVE", "ACTIVE"),
            Some("escalated to the backup approver and the workspace admins".into()),
            p,
            at,
        );
    }

    fn policy_stage(&self, stage: usize) -> &PolicyStage {
        let s = &self.d.stages[stage];
        let i = &self.d.insts[s.inst];
        &self.wss[i.ws].policies[i.policy].stages[s.policy_stage]
    }

    fn stage_number(&self, stage: usize) -> i32 {
        self.policy_stage(stage).number
    }

    fn stage_name(&self, stage: usize) -> String {
        self.policy_stage(stage).name.clone()
    }

    /// Route and start an instance for submission `sub`, QA-approved at `t` (engine::start).
    fn start(&mut self, ws: usize, sub: usize, t: DateTime<Utc>) -> usize {
        let wss = self.wss;
        let w = &wss[ws];
        let s = &self.d.subs[sub];
        let (site, scope, vendor, category, qa_by) =
            (s.site, s.scope, s.vendor, s.category, s.qa_by);
        let scope_code = COMBOS
            .iter()
            .find(|(c, _)| w.scopes.get(*c) == Some(&scope))
            .map(|(c, _)| *c)
            .unwrap_or_default();
        let (pi, policy) = w
            .policies
            .iter()
            .enumerate()
            .find(|(_, p)| Some(p.id) == w.policy(category, scope_code).map(|q| q.id))
            .expect("a policy for every generated combination (checked before)");
        let cluster_idx = self.site_cluster(site);
        let cluster = &w.clusters[cluster_idx];
        let vendor_code = w
            .vendors
            .iter()
            .find(|(id, _)| Some(*id) == vendor)
            .map(|(_, c)| c.clone());
        let inst_idx = self.d.insts.len();
        let inst_id = self.rng.uuid();
        let mut snap = Vec::new();
        let mut stage_idx = Vec::new();
        let mut qa_stages = Vec::new();
        for (k, ps) in policy.stages.iter().enumerate() {
            let is_qa = ps.stage_group == "QA";
            let (primary, backup) = cluster
                .approvers
                .get(&ps.role_code)
                .map(|(p, b)| (Some(*p), *b))
                .unwrap_or((None, None));
            let approver = if is_qa {
                Some(qa_by.unwrap_or(w.qa))
            } else {
                primary
            };
            let approver =
                approver.expect("every shipped role has a cluster approver (checked before)");
            snap.push(json!({
                "stage_number": ps.number, "stage_name": ps.name, "role_code": ps.role_code,
                "stage_group": ps.stage_group, "sequence_order": ps.sequence, "parallel_group": Value::Null,
                "sla_hours": ps.sla_hours, "assignment_mode": ps.mode,
                "resolved_by": if is_qa { "QA_PRE_APPROVAL" } else { "CLUSTER_PRIMARY" },
                "approver_id": approver, "primary_user_id": primary, "backup_user_id": backup,
            }));
            let id = self.rng.uuid();
            stage_idx.push(self.d.stages.len());
            if is_qa {
                qa_stages.push(self.d.stages.len());
            }
            self.d.stages.push(Stage {
                id,
                inst: inst_idx,
                policy_stage: k,
                assigned: approver,
                backup,
                status: if is_qa { "APPROVED" } else { "PENDING" },
                activated_at: is_qa.then_some(t),
                due_at: None,
                breached_at: None,
                decided_by: is_qa.then_some(approver),
                decided_at: is_qa.then_some(t),
                decision: is_qa.then_some("APPROVE"),
                comment: is_qa.then(|| "QA pre-approval".to_string()),
                created_at: t,
                updated_at: t,
            });
        }
        let snapshot = json!({
            "policy_code": policy.code, "policy_id": policy.id,
            "approval_matrix_version_id": w.matrix_version,
            "cluster_mapping_version_id": w.cluster_version,
            "cluster_code": cluster.code, "region": cluster.region, "site_id": self.site_code(site),
            "scope_code": scope_code, "vendor_code": vendor_code, "atp_category": category,
            "stages": snap,
        });
        self.d.insts.push(Inst {
            id: inst_id,
            ws,
            site,
            scope,
            policy: pi,
            vendor,
            cluster: cluster_idx,
            category,
            status: "IN_PROGRESS",
            current: None,
            snapshot: snapshot.to_string(),
            sla_due_at: None,
            sla_breached_at: None,
            started_by: qa_by.unwrap_or(w.qa),
            started_at: t,
            completed_at: None,
            updated_at: t,
            stages: stage_idx,
        });
        for st in qa_stages {
            let by = self.d.stages[st].assigned;
            self.action(
                ws,
                st,
                "APPROVE",
                Some(by),
                ("PENDING", "APPROVED"),
                Some("QA pre-approval".into()),
                json!({"system": false}),
                t,
            );
        }
        inst_idx
    }

    fn site_cluster(&self, site: Uuid) -> usize {
        self.sites.get(&site).map(|(c, _)| *c).unwrap_or(0)
    }

    fn site_code(&self, site: Uuid) -> String {
        self.sites
            .get(&site)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }

    /// Activate the next PENDING stage of instance `inst` at `t` (engine::advance); None when all are done.
    fn advance(&mut self, ws: usize, inst: usize, t: DateTime<Utc>) -> Option<usize> {
        let next = self.d.insts[inst]
            .stages
            .iter()
            .copied()
            .find(|&s| self.d.stages[s].status == "PENDING")?;
        let sla = self.policy_stage(next).sla_hours;
        let number = self.stage_number(next);
        let due = t + Duration::hours(sla as i64);
        let s = &mut self.d.stages[next];
        s.status = "ACTIVE";
        s.activated_at = Some(t);
        s.due_at = Some(due);
        s.updated_at = t;
        let assigned = s.assigned;
        let i = &mut self.d.insts[inst];
        i.current = Some(number);
        i.sla_due_at = Some(due);
        i.updated_at = t;
        self.action(
            ws,
            next,
            "ACTIVATE",
            None,
            ("PENDING", "ACTIVE"),
            None,
            json!({"assigned_approver_id": assigned, "due_at": jts(due)}),
            t,
        );
        Some(next)
    }

    /// The approval chain of submission `sub` (IN_APPROVAL since `t`) following `plan`; returns the time it got to.
    fn approve_chain(
        &mut self,
        ws: usize,
        sub: usize,
        inst: usize,
        plan: Plan,
        mut t: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let approval_stages: Vec<usize> = self.d.insts[inst]
            .stages
            .iter()
            .copied()
            .filter(|&s| self.policy_stage(s).stage_group != "QA")
            .collect();
        let n = approval_stages.len().max(1);
        let target = match plan {
            Plan::InApproval(k)
            | Plan::Rejected(k)
            | Plan::WithPunchlist(k)
            | Plan::Completed(Some(k)) => Some(approval_stages[k % n]),
            _ => None,
        };
        let sub_id = self.d.subs[sub].id;
        let inst_id = self.d.insts[inst].id;
        let mut open_punchlist: Option<usize> = None;
        while let Some(st) = self.advance(ws, inst, t) {
            let sla = self.policy_stage(st).sla_hours as f64;
            if matches!(plan, Plan::InApproval(_)) && target == Some(st) {
                // it waits here: maybe past its due time already
                self.breach_if_due(ws, st, self.now);
                return t;
            }
            // most decisions come inside the SLA, some late
            let hi = if self.rng.f() < 0.85 {
                0.9 * sla
            } else {
                2.5 * sla
            };
            let d = t + hours(self.rng, 0.05 * sla, hi);
            if d >= self.now {
                self.breach_if_due(ws, st, self.now);
                return t;
            }
            self.breach_if_due(ws, st, d);
            let by = self.d.stages[st].assigned;
            let reject = matches!(plan, Plan::Rejected(_)) && target == Some(st);
            let punch = matches!(plan, Plan::WithPunchlist(_) | Plan::Completed(Some(_)))
                && target == Some(st);
            let (status, decision, comment) = if reject {
                let c = REJECT_COMMENTS[self.rng.below(REJECT_COMMENTS.len() as u64) as usize];
                ("REJECTED", "REJECT", Some(c.to_string()))
            } else if punch {
                ("APPROVED", "APPROVE_WITH_PUNCHLIST", None)
            } else {
                ("APPROVED", "APPROVE", None)
            };
            {
                let s = &mut self.d.stages[st];
                s.status = status;
                s.decision = Some(decision);
                s.decided_by = Some(by);
                s.decided_at = Some(d);
                s.comment = comment.clone();
                s.updated_at = d;
            }
            self.action(
                ws,
                st,
                decision,
                Some(by),
                ("ACTIVE", status),
                comment,
                json!({}),
                d,
            );
            t = d;
            if punch {
                let pl = self.d.punchlists.len();
                let id = self.rng.uuid();
                self.d.punchlists.push(Punchlist {
                    id,
                    ws,
                    inst: inst_id,
                    sub: sub_id,
                    status: "OPEN",
                    raised_by: by,
                    raised_at: d,
                    closed_at: None,
                    updated_at: d,
                    items: 0..0,
                });
                let k = 1 + self.rng.below(3) as usize;
                let from = self.d.items.len();
                let first = self.rng.below(ITEMS.len() as u64) as usize;
                for j in 0..k {
                    let (code, description, severity) = ITEMS[(first + j) % ITEMS.len()];
                    let id = self.rng.uuid();
                    self.d.items.push(Item {
                        id,
                        punchlist: pl,
                        code,
                        description,
                        severity,
                        status: "IDENTIFIED",
                        evidence: None,
                        rectified_at: None,
                        verified_by: None,
                        verified_at: None,
                        closed_at: None,
                        created_at: d,
                        updated_at: d,
                    });
                }
                self.d.punchlists[pl].items = from..self.d.items.len();
                open_punchlist = Some(pl);
            }
            if reject {
                // the rest is cancelled, the instance and the submission rejected
                let rest: Vec<usize> = self.d.insts[inst]
                    .stages
                    .iter()
                    .copied()
                    .filter(|&s| matches!(self.d.stages[s].status, "PENDING" | "ACTIVE"))
                    .collect();
                for s in rest {
                    let from = self.d.stages[s].status;
                    self.d.stages[s].status = "CANCELLED";
                    self.d.stages[s].updated_at = d;
                    self.action(
                        ws,
                        s,
                        "CANCEL",
                        None,
                        (from, "CANCELLED"),
                        Some("a stage rejected the submission".into()),
                        json!({}),
                        d,
                    );
                }
                let i = &mut self.d.insts[inst];
                i.status = "REJECTED";
                i.completed_at = Some(d);
                i.updated_at = d;
                let s = &mut self.d.subs[sub];
                s.status = "REJECTED";
                s.updated_at = d;
                return t;
            }
        }
        // every stage done: complete (with the punchlist open: APPROVED_WITH_PUNCHLIST)
        {
            let i = &mut self.d.insts[inst];
            i.status = if open_punchlist.is_some() {
                "APPROVED_WITH_PUNCHLIST"
            } else {
                "COMPLETED"
            };
            i.current = None;
            i.completed_at = Some(t);
            i.updated_at = t;
            let s = &mut self.d.subs[sub];
            s.status = i.status;
            s.completed_at = (open_punchlist.is_none()).then_some(t);
            s.updated_at = t;
        }
        if let Some(pl) = open_punchlist {
            t = self.work_punchlist(ws, sub, inst, pl, matches!(plan, Plan::Completed(_)), t);
        }
        t
    }

    /// Rectify (evidence uploaded by the submitter), verify and close the items of punchlist `pl`, as far as
    /// "now" allows (all the way when `close`; otherwise some items rectified at most).
    fn work_punchlist(
        &mut self,
        ws: usize,
        sub: usize,
        inst: usize,
        pl: usize,
        close: bool,
        mut t: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let items: Vec<usize> = (0..self.d.items.len())
            .filter(|&i| self.d.items[i].punchlist == pl)
            .collect();
        let raiser = self.d.punchlists[pl].raised_by;
        let uploader = self.d.subs[sub].created_by;
        let sub_id = self.d.subs[sub].id;
        for &it in &items {
            if !close && self.rng.f() < 0.5 {
                continue;
            }
            let r = t + hours(self.rng, 2.0, 72.0);
            if r >= self.now {
                return t;
            }
            let doc = self.doc(
                ws,
                sub_id,
                "EVIDENCE",
                format!("evidence-{}.jpg", self.d.items[it].code),
                uploader,
                r,
            );
            let i = &mut self.d.items[it];
            i.status = "RECTIFIED";
            i.evidence = Some(doc);
            i.rectified_at = Some(r);
            i.updated_at = r;
            t = r;
            if !close {
                continue;
            }
            let v = t + hours(self.rng, 1.0, 24.0);
            let c = v + hours(self.rng, 0.1, 4.0);
            if c >= self.now {
                return t;
            }
            let i = &mut self.d.items[it];
            i.status = "CLOSED";
            i.verified_by = Some(raiser);
            i.verified_at = Some(v);
            i.closed_at = Some(c);
            i.updated_at = c;
            t = c;
        }
        if close {
            let p = &mut self.d.punchlists[pl];
            p.status = "CLOSED";
            p.closed_at = Some(t);
            p.updated_at = t;
            let i = &mut self.d.insts[inst];
            i.status = "COMPLETED";
            i.updated_at = t;
            let s = &mut self.d.subs[sub];
            s.status = "COMPLETED";
            s.completed_at = Some(t);
            s.updated_at = t;
        }
        t
    }

    fn doc(
        &mut self,
        ws: usize,
        sub: Uuid,
        kind: &'static str,
        file_name: String,
        by: i64,
        at: DateTime<Utc>,
    ) -> Uuid {
        let id = self.rng.uuid();
        let content =
            format!("%PDF-1.4\n% NeuroHub generated {kind} {file_name} {id}\n%%EOF\n").into_bytes();
        self.d.docs.push(Doc {
            id,
            ws,
            sub,
            kind,
            file_name,
            content,
            by,
            at,
        });
        id
    }

    /// One revision of a submission code, from its creation at `t` following `plan`; returns its index and the
    /// time its story got to.
    #[allow(clippy::too_many_arguments)]
    fn revision(
        &mut self,
        ws: usize,
        code: &str,
        site: Uuid,
        scope: Uuid,
        category: &'static str,
        previous: Option<usize>,
        plan: Plan,
        t: DateTime<Utc>,
    ) -> (usize, DateTime<Utc>) {
        let wss = self.wss;
        let w = &wss[ws];
        let created_by = w.submitters[self.rng.below(w.submitters.len() as u64) as usize];
        let vendor = match previous {
            Some(p) => self.d.subs[p].vendor,
            None => Some(w.vendors[self.rng.below(w.vendors.len() as u64) as usize].0),
        };
        let qa = w.qa;
        let (revision, prev_id, instance) = match previous {
            Some(p) => (
                self.d.subs[p].revision + 1,
                Some(self.d.subs[p].id),
                self.d.subs[p].instance,
            ),
            None => (1, None, None),
        };
        let id = self.rng.uuid();
        let site_code = self.site_code(site);
        let sub = self.d.subs.len();
        self.d.subs.push(Sub {
            id,
            ws,
            code: code.to_string(),
            revision,
            previous: prev_id,
            site,
            scope,
            vendor,
            instance,
            category,
            status: "DRAFT",
            title: format!("{site_code} {category} ATP"),
            created_by,
            submitted_at: None,
            qa_at: None,
            qa_by: None,
            qa_comment: None,
            completed_at: None,
            created_at: t,
            updated_at: t,
        });
        if plan == Plan::Draft {
            return (sub, t);
        }
        let u = t + hours(self.rng, 0.5, 72.0);
        if u >= self.now {
            return (sub, t);
        }
        if plan == Plan::Cancelled {
            let s = &mut self.d.subs[sub];
            s.status = "CANCELLED";
            s.updated_at = u;
            return (sub, u);
        }
        self.doc(
            ws,
            id,
            "ATP_REPORT",
            format!("{site_code}-atp-report-r{revision}.pdf"),
            created_by,
            u - Duration::minutes(10),
        );
        {
            let s = &mut self.d.subs[sub];
            s.status = "QA_REVIEW";
            s.submitted_at = Some(u);
            s.updated_at = u;
        }
        if plan == Plan::QaReview {
            return (sub, u);
        }
        let q = u + hours(self.rng, 0.5, 30.0);
        if q >= self.now {
            return (sub, u);
        }
        {
            let s = &mut self.d.subs[sub];
            s.qa_by = Some(qa);
            s.qa_at = Some(q);
            s.updated_at = q;
        }
        if plan == Plan::QaRejected {
            let s = &mut self.d.subs[sub];
            s.status = "QA_REJECTED";
            s.qa_comment = Some("the ATP report is unsigned: sign every page and resubmit");
            return (sub, q);
        }
        // QA approves: start the chain, or resume the rejected one at its rejecting stage
        let inst = match instance {
            Some(i) => {
                let stages = self.d.insts[i].stages.clone();
                for s in stages {
                    let st = &mut self.d.stages[s];
                    if matches!(st.status, "REJECTED" | "CANCELLED") {
                        st.status = "PENDING";
                        st.decision = None;
                        st.decided_by = None;
                        st.decided_at = None;
                        st.comment = None;
                        st.activated_at = None;
                        st.due_at = None;
                        st.breached_at = None;
                        st.updated_at = q;
                    }
                }
                let i_ = &mut self.d.insts[i];
                i_.status = "IN_PROGRESS";
                i_.completed_at = None;
                i_.updated_at = q;
                i
            }
            None => self.start(ws, sub, q),
        };
        {
            let s = &mut self.d.subs[sub];
            s.status = "IN_APPROVAL";
            s.instance = Some(inst);
        }
        let end = self.approve_chain(ws, sub, inst, plan, q);
        (sub, end)
    }
}

fn plan(rng: &mut Rng) -> Plan {
    let k = rng.below(8) as usize;
    let r = rng.f();
    if r < 0.04 {
        Plan::Draft
    } else if r < 0.05 {
        Plan::Cancelled
    } else if r < 0.11 {
        Plan::QaReview
    } else if r < 0.14 {
        Plan::QaRejected
    } else if r < 0.54 {
        Plan::InApproval(k)
    } else if r < 0.59 {
        Plan::Rejected(k)
    } else if r < 0.64 {
        Plan::WithPunchlist(k)
    } else if r < 0.72 {
        Plan::Completed(Some(k))
    } else {
        Plan::Completed(None)
    }
}

/// Generate the ATP data set into `pool`'s deployed database (see the module doc).
pub async fn generate(
    pool: &PgPool,
    spec: &Spec,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Report, GenerateError> {
    let mut phases = Phases::start("ATP ");
    let mut report = Report::default();
    if spec.workspaces == 0 || spec.workspaces > 99 {
        return Err(GenerateError::Refused(
            "--workspaces must be between 1 and 99".into(),
        ));
    }
    if spec.sites < spec.workspaces {
        return Err(GenerateError::Refused(
            "--sites must be at least one per workspace".into(),
        ));
    }
    if spec.submissions as u64 > spec.sites as u64 * COMBOS.len() as u64 {
        return Err(GenerateError::Refused(format!(
            "--submissions can be at most {} per site (one per scope and category)",
            COMBOS.len()
        )));
    }
    if let Some(why) = copy::refusal(
        &mut *pool.acquire().await?,
        "SELECT (SELECT count(*) FROM atp_submissions) + (SELECT count(*) FROM workspaces WHERE code LIKE 'GEN-%')",
        "ATP submissions or generated workspaces",
    )
    .await?
    {
        return Err(GenerateError::Refused(why));
    }
    let admin: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM users WHERE role = 'ADMIN' AND is_active ORDER BY id LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    let mut wss = Vec::new();
    for i in 1..=spec.workspaces {
        wss.push(setup_workspace(pool, admin, i).await?);
    }
    for w in &wss {
        for (scope, cat) in COMBOS {
            if !w.scopes.contains_key(*scope) || w.policy(cat, scope).is_none() {
                return Err(GenerateError::Refused(format!(
                    "no scope {scope} or no policy for {cat} in the shipped configuration"
                )));
            }
            let p = w.policy(cat, scope).expect("checked");
            for c in &w.clusters {
                for s in p.stages.iter().filter(|s| s.stage_group != "QA") {
                    if !c.approvers.contains_key(&s.role_code) {
                        return Err(GenerateError::Refused(format!(
                            "cluster {} has no approver for role {}",
                            c.code, s.role_code
                        )));
                    }
                }
            }
        }
    }
    report.workspaces = wss.len() as u64;
    report.members = (wss.len() * DEMO_USERS.len()) as u64;
    phases.mark("workspaces, members, configuration (API code)", progress);

    // ---------------------------------------------------------------- the history, simulated in memory
    let mut rng = Rng::new(spec.random_seed ^ 0x0A7F_5EED_0F4E_55C0);
    let now = spec
        .now
        .unwrap_or_else(Utc::now)
        .duration_trunc(Duration::seconds(1))
        .unwrap_or_else(|_| Utc::now());
    let span = Duration::days(spec.months.max(1) as i64 * 30);
    let history = now - span;
    let config_at = history - Duration::days(7);
    struct SiteRow {
        ws: usize,
        site: Site,
        code: String,
        name: String,
        lat: f64,
        lon: f64,
        scope: &'static str,
        status: &'static str,
        created: DateTime<Utc>,
    }
    let mut sites: Vec<SiteRow> = Vec::with_capacity(spec.sites as usize);
    let nws = wss.len() as u32;
    let mut site_range = Vec::new();
    for (wi, w) in wss.iter().enumerate() {
        let n = spec.sites / nws + u32::from((wi as u32) < spec.sites % nws);
        let from = sites.len();
        for j in 0..n {
            let r = rng.f();
            // 35 % / 25 % in the first two clusters (approver.west1's), the rest spread over the others
            let c = if w.clusters.len() < 3 {
                (j as usize) % w.clusters.len()
            } else if r < 0.35 {
                0
            } else if r < 0.60 {
                1
            } else {
                2 + rng.below(w.clusters.len() as u64 - 2) as usize
            };
            let cl = &w.clusters[c];
            let code = format!("G{}-{}-{:05}", w.index, cl.code, j + 1);
            let id = rng.uuid();
            let base = if cl.code.starts_with("JKT") {
                (-6.2, 106.8)
            } else {
                (-7.3, 112.7)
            };
            sites.push(SiteRow {
                ws: wi,
                site: Site { id, cluster: c },
                name: format!(
                    "{} site {}",
                    cl.city.as_deref().unwrap_or("Generated"),
                    j + 1
                ),
                code,
                lat: base.0 + rng.f() * 0.4 - 0.2,
                lon: base.1 + rng.f() * 0.4 - 0.2,
                scope: ["MW", "RAN", "CME", "PLN"][rng.below(4) as usize],
                status: if rng.f() < 0.97 { "ACTIVE" } else { "ON_HOLD" },
                created: config_at + hours(&mut rng, 1.0, 150.0),
            });
        }
        site_range.push(from..sites.len());
    }
    let site_map: HashMap<Uuid, (usize, String)> = sites
        .iter()
        .map(|s| (s.site.id, (s.site.cluster, s.code.clone())))
        .collect();
    let mut d = Data::default();
    {
        let mut sim = Sim {
            rng: &mut rng,
            now,
            d: &mut d,
            wss: &wss,
            sites: &site_map,
        };
        let total_sites = sites.len() as u64;
        // submissions in proportion to the sites; the first workspace takes the rounding remainder
        let mut counts: Vec<usize> = site_range
            .iter()
            .map(|r| ((spec.submissions as u64 * r.len() as u64) / total_sites.max(1)) as usize)
            .collect();
        counts[0] += spec.submissions as usize - counts.iter().sum::<usize>();
        for (wi, w) in wss.iter().enumerate() {
            let range = site_range[wi].clone();
            let ns = range.len();
            let k = counts[wi];
            for n in 0..k {
                let si = range.start + n % ns;
                let combo = (n / ns + si * 3) % COMBOS.len();
                let (scope_code, category) = COMBOS[combo];
                let site = sites[si].site.id;
                let scope = w.scopes[scope_code];
                let cat = crate::state::AtpCategory::ALL
                    .iter()
                    .find(|c| c.as_str() == category)
                    .copied()
                    .expect("a known category");
                let code = crate::flow::submissions::submission_code(site, scope_code, cat);
                let created =
                    history + Duration::seconds((sim.rng.f() * span.num_seconds() as f64) as i64);
                let final_plan = plan(sim.rng);
                // some submissions were returned once before (by QA or by a stage) and resubmitted
                let before =
                    if !matches!(final_plan, Plan::Draft | Plan::Cancelled) && sim.rng.f() < 0.12 {
                        if sim.rng.f() < 0.5 {
                            Some(Plan::QaRejected)
                        } else {
                            Some(Plan::Rejected(sim.rng.below(8) as usize))
                        }
                    } else {
                        None
                    };
                let (prev, t) = match before {
                    Some(p) => {
                        let (idx, t) =
                            sim.revision(wi, &code, site, scope, category, None, p, created);
                        // only a returned revision gets a next one
                        if matches!(sim.d.subs[idx].status, "QA_REJECTED" | "REJECTED") {
                            (Some(idx), t + hours(sim.rng, 2.0, 96.0))
                        } else {
                            continue;
                        }
                    }
                    None => (None, created),
                };
                if t >= now {
                    continue;
                }
                sim.revision(wi, &code, site, scope, category, prev, final_plan, t);
            }
        }
    }
    phases.mark("simulate the submissions' history", progress);

    // ------------------------------------------------------------------------------ COPY, triggers off
    let ws_ids: Vec<Uuid> = wss.iter().map(|w| w.id).collect();
    let mut conn = pool.acquire().await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    for s in [
        "SET LOCAL session_replication_role = replica",
        "SET LOCAL maintenance_work_mem = '512MB'",
        "SET LOCAL synchronous_commit = off",
        "SET LOCAL statement_timeout = 0",
        "SET LOCAL TIME ZONE 'UTC'",
        "SELECT set_config('app.request_id', 'neurohub-seed', true)",
    ] {
        sqlx::query(s).execute(&mut *tx).await?;
    }
    // secondary indexes of the big tables (and of the audit log) dropped for the load and rebuilt after it
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ')
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE i.indrelid IN ('public.audit_logs'::regclass, 'public.sites'::regclass,
                               'public.atp_submissions'::regclass, 'public.atp_submission_documents'::regclass,
                               'public.workflow_instances'::regclass, 'public.workflow_stages'::regclass,
                               'public.workflow_stage_actions'::regclass, 'public.punchlists'::regclass,
                               'public.punchlist_items'::regclass)
            AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
          ORDER BY 1",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (name, _) in &indexes {
        sqlx::query(&format!(
            "DROP INDEX public.\"{}\"",
            name.replace('"', "\"\"")
        ))
        .execute(&mut *tx)
        .await?;
    }
    // the configuration existed before the history: dated back (creation, activation, approvers' validity)
    for sql in [
        "UPDATE workspaces SET created_at = $2, updated_at = $2 WHERE id = ANY($1)",
        "UPDATE workspace_members SET created_at = $2, updated_at = $2 WHERE workspace_id = ANY($1)",
        "UPDATE config_versions SET created_at = $2, updated_at = $2 + interval '1 hour', activated_at = $2 + interval '1 hour' \
          WHERE workspace_id = ANY($1)",
        "UPDATE cluster_approver_master SET effective_from = ($2 AT TIME ZONE 'UTC')::date, created_at = $2, updated_at = $2 \
          WHERE workspace_id = ANY($1) AND effective_from = CURRENT_DATE",
        "UPDATE atp_scope_master SET created_at = $2, updated_at = $2 WHERE workspace_id = ANY($1)",
        "UPDATE vendor_master SET created_at = $2, updated_at = $2 WHERE workspace_id = ANY($1)",
        "UPDATE approval_role_master SET created_at = $2, updated_at = $2 WHERE workspace_id = ANY($1)",
        "UPDATE approval_policy_master SET created_at = $2, updated_at = $2 WHERE workspace_id = ANY($1)",
        "UPDATE approval_policy_stages SET created_at = $2, updated_at = $2 WHERE workspace_id = ANY($1)",
        "UPDATE cluster_master SET created_at = $2, updated_at = $2 WHERE workspace_id = ANY($1)",
    ] {
        sqlx::query(sql).bind(&ws_ids).bind(config_at).execute(&mut *tx).await?;
    }
    let wid = |i: usize| wss[i].id;
    {
        let mut w = CopyWriter::start(
            &mut tx,
            "sites",
            "workspace_id, id, site_id, site_name, region, city, cluster_code, ne_latitude, ne_longitude, scope, status, created_at, updated_at",
        )
        .await?;
        for s in &sites {
            let cl = &wss[s.ws].clusters[s.site.cluster];
            w.val(wid(s.ws))
                .val(s.site.id)
                .text(&s.code)
                .text(&s.name)
                .opt(cl.region.as_deref())
                .opt(cl.city.as_deref())
                .text(&cl.code)
                .val(format!("{:.6}", s.lat))
                .val(format!("{:.6}", s.lon))
                .text(s.scope)
                .text(s.status)
                .val(ts(s.created))
                .val(ts(s.created));
            w.end_row().await?;
        }
        report.sites = w.finish().await?;
    }
    {
        let mut w = CopyWriter::start(
            &mut tx,
            "workflow_instances",
            "workspace_id, id, config_version_id, site_id, scope_id, policy_id, vendor_id, cluster_id, cluster_code, \
             atp_category, status, current_stage_number, routing_snapshot, sla_due_at, sla_breached_at, started_by, \
             started_at, completed_at, created_at, updated_at",
        )
        .await?;
        for i in &d.insts {
            let ws = &wss[i.ws];
            let cl = &ws.clusters[i.cluster];
            w.val(ws.id)
                .val(i.id)
                .val(ws.matrix_version)
                .val(i.site)
                .val(i.scope)
                .val(ws.policies[i.policy].id)
                .opt(i.vendor)
                .val(cl.id)
                .text(&cl.code)
                .text(i.category)
                .text(i.status)
                .opt(i.current)
                .text(&i.snapshot)
                .opt(i.sla_due_at.map(ts))
                .opt(i.sla_breached_at.map(ts))
                .val(i.started_by)
                .val(ts(i.started_at))
                .opt(i.completed_at.map(ts))
                .val(ts(i.started_at))
                .val(ts(i.updated_at));
            w.end_row().await?;
        }
        report.instances = w.finish().await?;
    }
    {
        let mut w = CopyWriter::start(
            &mut tx,
            "atp_submissions",
            "workspace_id, id, submission_code, revision_number, previous_submission_id, site_id, scope_id, vendor_id, \
             workflow_instance_id, atp_category, status, title, created_by, submitted_by, submitted_at, qa_reviewed_by, \
             qa_reviewed_at, qa_comment, completed_at, created_at, updated_at",
        )
        .await?;
        for s in &d.subs {
            w.val(wid(s.ws))
                .val(s.id)
                .text(&s.code)
                .val(s.revision)
                .opt(s.previous)
                .val(s.site)
                .val(s.scope)
                .opt(s.vendor)
                .opt(s.instance.map(|i| d.insts[i].id))
                .text(s.category)
                .text(s.status)
                .text(&s.title)
                .val(s.created_by)
                .opt(s.submitted_at.map(|_| s.created_by))
                .opt(s.submitted_at.map(ts))
                .opt(s.qa_by)
                .opt(s.qa_at.map(ts))
                .opt(s.qa_comment)
                .opt(s.completed_at.map(ts))
                .val(ts(s.created_at))
                .val(ts(s.updated_at));
            w.end_row().await?;
        }
        report.submissions = w.finish().await?;
    }
    {
        let mut w = CopyWriter::start(
            &mut tx,
            "atp_submission_documents",
            "workspace_id, id, submission_id, document_type, file_name, media_type, size_bytes, sha256, content, \
             uploaded_by, uploaded_at, created_at, updated_at",
        )
        .await?;
        for doc in &d.docs {
            w.val(wid(doc.ws))
                .val(doc.id)
                .val(doc.sub)
                .text(doc.kind)
                .text(&doc.file_name)
                .text(if doc.kind == "EVIDENCE" {
                    "image/jpeg"
                } else {
                    "application/pdf"
                })
                .val(doc.content.len())
                .val(hex::encode(Sha256::digest(&doc.content)))
                .text(&format!("\\x{}", hex::encode(&doc.content)))
                .val(doc.by)
                .val(ts(doc.at))
                .val(ts(doc.at))
                .val(ts(doc.at));
            w.end_row().await?;
        }
        report.documents = w.finish().await?;
    }
    {
        let mut w = CopyWriter::start(
            &mut tx,
            "workflow_stages",
            "workspace_id, id, workflow_instance_id, policy_stage_id, role_id, stage_number, stage_name, sequence_order, \
             parallel_group, assigned_approver_id, status, sla_hours, activated_at, due_at, breached_at, decided_by, \
             decided_at, decision, decision_comment, created_at, updated_at",
        )
        .await?;
        for s in &d.stages {
            let i = &d.insts[s.inst];
            let ps = &wss[i.ws].policies[i.policy].stages[s.policy_stage];
            w.val(wid(i.ws))
                .val(s.id)
                .val(i.id)
                .val(ps.id)
                .val(ps.role_id)
                .val(ps.number)
                .text(&ps.name)
                .val(ps.sequence)
                .null()
                .val(s.assigned)
                .text(s.status)
                .val(ps.sla_hours)
                .opt(s.activated_at.map(ts))
                .opt(s.due_at.map(ts))
                .opt(s.breached_at.map(ts))
                .opt(s.decided_by)
                .opt(s.decided_at.map(ts))
                .opt(s.decision)
                .opt(s.comment.as_deref())
                .val(ts(s.created_at))
                .val(ts(s.updated_at));
            w.end_row().await?;
        }
        report.stages = w.finish().await?;
    }
    {
        let mut w = CopyWriter::start(
            &mut tx,
            "workflow_stage_actions",
            "workspace_id, id, workflow_instance_id, workflow_stage_id, action, actor_user_id, from_status, to_status, \
             comment, payload, created_at",
        )
        .await?;
        for a in &d.actions {
            w.val(wid(a.ws))
                .val(a.id)
                .val(a.inst)
                .val(a.stage)
                .text(a.action)
                .opt(a.actor)
                .text(a.from)
                .text(a.to)
                .opt(a.comment.as_deref())
                .text(&a.payload)
                .val(ts(a.at));
            w.end_row().await?;
        }
        report.actions = w.finish().await?;
    }
    {
        let mut w = CopyWriter::start(
            &mut tx,
            "punchlists",
            "workspace_id, id, workflow_instance_id, submission_id, status, raised_by, raised_at, closed_by, closed_at, \
             created_at, updated_at",
        )
        .await?;
        for p in &d.punchlists {
            w.val(wid(p.ws))
                .val(p.id)
                .val(p.inst)
                .val(p.sub)
                .text(p.status)
                .val(p.raised_by)
                .val(ts(p.raised_at))
                .opt(p.closed_at.map(|_| p.raised_by))
                .opt(p.closed_at.map(ts))
                .val(ts(p.raised_at))
                .val(ts(p.updated_at));
            w.end_row().await?;
        }
        report.punchlists = w.finish().await?;
    }
    {
        let mut w = CopyWriter::start(
            &mut tx,
            "punchlist_items",
            "workspace_id, id, punchlist_id, item_code, description, severity, status, evidence_document_id, \
             rectified_at, verified_by, verified_at, closed_at, created_at, updated_at",
        )
        .await?;
        for it in &d.items {
            let p = &d.punchlists[it.punchlist];
            w.val(wid(p.ws))
                .val(it.id)
                .val(p.id)
                .text(it.code)
                .text(it.description)
                .text(it.severity)
                .text(it.status)
                .opt(it.evidence)
                .opt(it.rectified_at.map(ts))
                .opt(it.verified_by)
                .opt(it.verified_at.map(ts))
                .opt(it.closed_at.map(ts))
                .val(ts(it.created_at))
                .val(ts(it.updated_at));
            w.end_row().await?;
        }
        report.punchlist_items = w.finish().await?;
    }
    drop(d);
    phases.mark("COPY sites, submissions, workflows", progress);

    // what the audit trigger would have written for each inserted row, dated when it happened
    let audit_before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(&mut *tx)
        .await?;
    for (table, at, user, row) in [
        ("sites", "t.created_at", "NULL::bigint", "to_jsonb(t)"),
        (
            "atp_submissions",
            "t.created_at",
            "t.created_by",
            "to_jsonb(t)",
        ),
        (
            "atp_submission_documents",
            "t.uploaded_at",
            "t.uploaded_by",
            "to_jsonb(t) - 'content'",
        ),
        (
            "workflow_instances",
            "t.started_at",
            "t.started_by",
            "to_jsonb(t)",
        ),
        (
            "workflow_stages",
            "t.created_at",
            "NULL::bigint",
            "to_jsonb(t)",
        ),
        (
            "workflow_stage_actions",
            "t.created_at",
            "t.actor_user_id",
            "to_jsonb(t)",
        ),
        ("punchlists", "t.raised_at", "t.raised_by", "to_jsonb(t)"),
        (
            "punchlist_items",
            "t.created_at",
            "NULL::bigint",
            "to_jsonb(t)",
        ),
    ] {
        sqlx::query(&format!(
            "INSERT INTO audit_logs (table_name, record_id, action, new_data, user_id, user_ref, request_id, created_at)
             SELECT '{table}', NULL, 'INSERT', {row}, {user}, {user}::text, 'neurohub-seed', {at}
               FROM {table} t WHERE t.workspace_id = ANY($1)"
        ))
        .bind(&ws_ids)
        .execute(&mut *tx)
        .await?;
    }
    let audit_after: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(&mut *tx)
        .await?;
    report.audit_logs = (audit_after - audit_before) as u64;
    phases.mark("audit rows", progress);
    for (_, def) in &indexes {
        sqlx::query(def).execute(&mut *tx).await?;
    }
    phases.mark("rebuild secondary indexes", progress);
    // the tables the routes filter on (the append-only history is left to autovacuum: the bench runs VACUUM
    // ANALYZE anyway)
    sqlx::query("ANALYZE sites, atp_submissions, workflow_instances, workflow_stages")
        .execute(&mut *tx)
        .await?;
    let busiest: Option<(String, i64)> = sqlx::query_as(
        "SELECT u.username, count(*) FROM workflow_stages s JOIN users u ON u.id = s.assigned_approver_id \
          WHERE s.status = 'ACTIVE' AND u.is_active GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
    )
    .fetch_optional(&mut *tx)
    .await?;
    report.busiest_approver = busiest.map(|(u, n)| (u, n as u64));
    tx.commit().await?;
    phases.mark("statistics, commit", progress);
    (report.seconds, report.phases) = phases.finish();
    Ok(report)
}
