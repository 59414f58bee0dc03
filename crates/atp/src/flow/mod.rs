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
pub mod punchlists;
pub mod state;
pub mod submissions;
pub mod views;

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
}

/// The workflow routes, merged into the ATP router.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(submissions::router())
        .merge(documents::router())
        .merge(engine::router())
        .merge(views::router())
        .merge(punchlists::router())
        .merge(delegation::router())
}
