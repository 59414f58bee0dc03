//! ATP, part 2: the workflow runtime — submissions and their documents, the QA pre-approval, routing frozen at
//! start, stage decisions, the timeline and the pending-approvals list, punchlists, overrides and absences
//! (docs/atp-flow.md).
//!
//! Every route is a workspace route behind [`crate::member::Member`]; the member policies of this part are here
//! (the trait is part 1's, the sets are this part's). Who may decide a *stage* is not a member role but the
//! stage's assignment, checked in the decision's transaction on the locked row.

pub mod delegation;
pub mod documents;
pub mod engine;
pub mod probe;
pub mod punchlists;
pub mod sla;
pub mod state;
pub mod submissions;
pub mod views;
pub mod webhooks;

use crate::member::{MemberPolicy, MemberRole, MemberRole::*};
use neurohub_core::AppState;
use utoipa_axum::router::OpenApiRouter;

/// Who creates, documents and submits ATPs.
pub const SUBMITTERS: &[MemberRole] = &[DocControl, Vendor];

macro_rules! flow_policies {
    ($($(#[$doc:meta])* $name:ident => $roles:expr, write: $write:expr;)*) => {
        $( $(#[$doc])* #[derive(Debug, Clone, Copy)] pub struct $name;
           impl MemberPolicy for $name {
               const ROLES: &'static [MemberRole] = $roles;
               const GLOBAL_ADMIN: bool = false;
               const WRITE: bool = $write;
           } )*
    };
}

flow_policies! {
    /// Create a submission or a revision, upload documents, submit.
    Submit => SUBMITTERS, write: true;
    /// The QA pre-approval.
    QaReview => &[Qa], write: true;
    /// Decide a stage: any member; the stage's assignment decides (403 NOT_ASSIGNED otherwise).
    Decide => MemberRole::ALL, write: true;
    /// Read submissions, documents, timelines, pending lists: any member.
    ReadFlow => MemberRole::ALL, write: false;
    /// The SLA report: the supervising roles (WORKSPACE_ADMIN, QA, VIEWER); approvers see their own stages in the
    /// pending list, submitters do not see approvers' performance.
    ReadSla => &[WorkspaceAdmin, Qa, Viewer], write: false;
    /// Create and deactivate webhook subscriptions.
    ManageWebhooks => &[WorkspaceAdmin], write: true;
    /// List webhook subscriptions (never their secrets).
    ReadWebhooks => &[WorkspaceAdmin], write: false;
}

/// The ATP background jobs `serve` runs on every node, each on one node at a time (`neurohub_core::jobs`): the SLA
/// sweep ([`sla::sweep`]) every `sla_every` and the webhook delivery worker ([`webhooks::deliver_due`]) every
/// `deliver_every`, both on the owner pool (they serve every workspace). A zero interval turns a job off.
pub fn spawn_background_jobs(
    owner: sqlx::PgPool,
    sla_every: std::time::Duration,
    deliver_every: std::time::Duration,
) -> Vec<tokio::task::JoinHandle<()>> {
    use neurohub_core::jobs::spawn_periodic;
    let p = owner.clone();
    let sweep = spawn_periodic(owner.clone(), sla::SWEEP_JOB, sla_every, move || {
        let p = p.clone();
        async move {
            let s = sla::sweep(&p, chrono::Utc::now()).await?;
            if s.breached_stages > 0 {
                tracing::info!(
                    stages = s.breached_stages,
                    instances = s.breached_instances,
                    "SLA breaches escalated"
                );
            }
            Ok::<_, sqlx::Error>(())
        }
    });
    let client = reqwest::Client::new();
    let deliver = spawn_periodic(
        owner.clone(),
        webhooks::DELIVERY_JOB,
        deliver_every,
        move || {
            let (p, c) = (owner.clone(), client.clone());
            async move {
                let r = webhooks::deliver_due(&p, &c, chrono::Utc::now()).await?;
                if r != webhooks::DeliveryRun::default() {
                    tracing::info!(
                        delivered = r.delivered,
                        retried = r.retried,
                        failed = r.failed,
                        "webhook deliveries"
                    );
                }
                Ok::<_, sqlx::Error>(())
            }
        },
    );
    sweep.into_iter().chain(deliver).collect()
}

/// The workflow routes, merged into the ATP router.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(submissions::router())
        .merge(documents::router())
        .merge(engine::router())
        .merge(views::router())
        .merge(punchlists::router())
        .merge(sla::router())
        .merge(webhooks::router())
        .merge(delegation::router())
}
