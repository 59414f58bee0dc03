//! Who may do what inside a workspace: member roles, member policies and the [`Member`] extractor.
//!
//! Every workspace route is `/workspaces/{ws}/...`, where `{ws}` is the workspace's code (`XLSMART-AVIAT`) or its
//! UUID; both name the same workspace. [`Member<P>`] is extracted from the request head, so like
//! `neurohub_core::auth::Authorized` the check runs *before* the body is read:
//!
//! 1. the bearer token (401 without one);
//! 2. a transaction on the write pool ([`MemberPolicy::WRITE`]) or a READ ONLY one on the read pool, with the
//!    request context set (`app.current_user_id`);
//! 3. one statement that resolves `{ws}` through the `workspaces` row-level-security policy (a caller sees only the
//!    workspaces it is an active member of; a global ADMIN sees all), reads the caller's member role and sets
//!    `app.workspace_id` for the rest of the transaction;
//! 4. no row → **404** (a workspace the caller is not a member of is indistinguishable from one that does not
//!    exist: no existence leak); a member whose role the policy does not list → 403.
//!
//! The handler then runs its statements on [`Member::tx`], already inside the workspace, so the policies of
//! migration 0006 admit exactly this workspace's rows. Overhead per request: the context statement and the
//! resolve statement (plus BEGIN / COMMIT), documented with the counts in docs/atp.md.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use neurohub_core::auth::AuthUser;
use neurohub_core::context;
use neurohub_core::{ApiError, AppState};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

neurohub_core::text_enum!(
    /// A user's role inside one workspace (workspace_members.member_role).
    MemberRole {
        /// Configuration, members, overrides.
        WorkspaceAdmin => "WORKSPACE_ADMIN",
        /// Document control: registers sites, creates and submits ATPs.
        DocControl => "DOC_CONTROL",
        /// A vendor's engineer: creates and submits its ATPs.
        Vendor => "VENDOR",
        /// Quality pre-approval of submissions.
        Qa => "QA",
        /// Approves stages assigned to it.
        Approver => "APPROVER",
        /// Reads only.
        Viewer => "VIEWER",
    }
);

/// A named set of member roles, for [`Member`].
pub trait MemberPolicy: Send + Sync + 'static {
    /// Member roles admitted.
    const ROLES: &'static [MemberRole];
    /// A global ADMIN is admitted even when it is not a member (workspace and membership management only).
    const GLOBAL_ADMIN: bool;
    /// The route writes: a read-write transaction on the primary, refused for an inactive workspace.
    const WRITE: bool;
}

macro_rules! member_policies {
    ($($(#[$doc:meta])* $name:ident => $roles:expr, admin: $admin:expr, write: $write:expr;)*) => {
        $( $(#[$doc])* #[derive(Debug, Clone, Copy)] pub struct $name;
           impl MemberPolicy for $name {
               const ROLES: &'static [MemberRole] = $roles;
               const GLOBAL_ADMIN: bool = $admin;
               const WRITE: bool = $write;
           } )*
    };
}

/// The policies of the ATP routes (docs/atp.md has the matrix; crates/server/tests/api/atp_roles.rs tests it).
pub mod policy {
    use super::{MemberPolicy, MemberRole, MemberRole::*};

    /// Every member role.
    pub const ANY: &[MemberRole] = MemberRole::ALL;
    /// Who registers sites.
    pub const SITE_WRITERS: &[MemberRole] = &[WorkspaceAdmin, DocControl];

    member_policies! {
        /// Read the workspace itself and its membership: any member, or a global ADMIN.
        ReadWorkspace => ANY, admin: true, write: false;
        /// Manage the membership: WORKSPACE_ADMIN, or a global ADMIN.
        ManageMembers => &[WorkspaceAdmin], admin: true, write: true;
        /// Rename / deactivate the workspace: a global ADMIN only (the workspaces policy of 0006).
        ManageWorkspace => &[], admin: true, write: true;
        /// Read the workspace's data (sites, configuration, masters): members only.
        Read => ANY, admin: false, write: false;
        /// Register and change sites.
        WriteSites => SITE_WRITERS, admin: false, write: true;
        /// Import, activate, roll back, archive, delete configuration versions.
        Configure => &[WorkspaceAdmin], admin: false, write: true;
    }
}

/// A caller admitted to a workspace by policy `P`, with the open transaction the route runs in.
pub struct Member<P: MemberPolicy> {
    pub user: AuthUser,
    pub workspace_id: Uuid,
    pub workspace_code: String,
    /// `None` for a global ADMIN that is not a member.
    pub role: Option<MemberRole>,
    /// The request's transaction, inside the workspace (commit it after a write).
    pub tx: Transaction<'static, Postgres>,
    _p: std::marker::PhantomData<P>,
}

impl<P: MemberPolicy> Member<P> {
    /// Commit the request's transaction.
    pub async fn commit(self) -> Result<(), ApiError> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// The `{ws}` path segment: a UUID or a code.
pub fn parse_ws(raw: &str) -> (Option<Uuid>, String) {
    (Uuid::parse_str(raw).ok(), raw.to_string())
}

#[derive(sqlx::FromRow)]
struct Resolved {
    id: Uuid,
    code: String,
    is_active: bool,
    role: Option<MemberRole>,
    is_admin: bool,
}

impl<P: MemberPolicy> FromRequestParts<AppState> for Member<P> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request("INVALID_PATH", e.body_text()))?;
        let raw = params
            .iter()
            .find(|(k, _)| *k == "ws")
            .map(|(_, v)| v.to_string())
            .ok_or_else(|| ApiError::internal("route without a {ws} segment uses Member"))?;
        let (id, code) = parse_ws(&raw);
        let mut tx = if P::WRITE {
            context::begin(&state.pool, &user.ctx).await?
        } else {
            neurohub_core::read_retry!(state, |pool| context::begin_read(pool, &user.ctx).await)?
        };
        // One statement: the workspace as the caller may see it (RLS on workspaces), the caller's role in it, and
        // app.workspace_id for the rest of the transaction. set_config runs only for the one row found.
        let found: Option<Resolved> = sqlx::query_as(
            "SELECT w.id, w.code, w.is_active, app_workspace_role(w.id) AS role, \
                    app_is_global_admin() AS is_admin, \
                    set_config('app.workspace_id', w.id::text, true) AS _ctx \
               FROM workspaces AS w \
              WHERE ($1::uuid IS NOT NULL AND w.id = $1) OR ($1::uuid IS NULL AND w.code = $2)",
        )
        .bind(id)
        .bind(&code)
        .fetch_optional(&mut *tx)
        .await?;
        let not_found = || ApiError::not_found("workspace");
        let found = found.ok_or_else(not_found)?;
        let admitted_as_member = found.role.is_some_and(|r| P::ROLES.contains(&r));
        let admitted_as_admin = P::GLOBAL_ADMIN && found.is_admin;
        if !admitted_as_member && !admitted_as_admin {
            if found.role.is_none() {
                // a global ADMIN outside a data route of a workspace it is not a member of: still no leak
                return Err(not_found());
            }
            let names: Vec<&str> = P::ROLES.iter().map(|r| r.as_str()).collect();
            let needs = if names.is_empty() {
                "a global ADMIN".to_string()
            } else if P::GLOBAL_ADMIN {
                format!("one of {} (or a global ADMIN)", names.join(", "))
            } else {
                format!("one of {}", names.join(", "))
            };
            return Err(ApiError::forbidden(format!(
                "member role {} may not do this in workspace {}; it needs {needs}",
                found.role.map(|r| r.as_str()).unwrap_or("-"),
                found.code
            )));
        }
        if P::WRITE && !found.is_active && !admitted_as_admin {
            return Err(ApiError::conflict(
                "WORKSPACE_INACTIVE",
                format!(
                    "workspace {} is inactive: its data is read-only",
                    found.code
                ),
            ));
        }
        let mut user = user;
        user.ctx = user.ctx.in_workspace(found.id);
        Ok(Member {
            user,
            workspace_id: found.id,
            workspace_code: found.code,
            role: found.role,
            tx,
            _p: std::marker::PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_segment_is_a_uuid_or_a_code() {
        let u = Uuid::new_v4();
        assert_eq!(parse_ws(&u.to_string()).0, Some(u));
        assert_eq!(parse_ws("XLSMART-AVIAT").0, None);
    }

    #[test]
    fn policies_are_what_the_matrix_says() {
        use policy::*;
        assert_eq!(
            <Configure as MemberPolicy>::ROLES,
            &[MemberRole::WorkspaceAdmin]
        );
        const {
            assert!(!<Configure as MemberPolicy>::GLOBAL_ADMIN);
            assert!(<ManageMembers as MemberPolicy>::GLOBAL_ADMIN);
            assert!(!<Read as MemberPolicy>::WRITE && <WriteSites as MemberPolicy>::WRITE);
        }
        assert!(<ManageWorkspace as MemberPolicy>::ROLES.is_empty());
    }
}
