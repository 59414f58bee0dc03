//! Authentication and authorization: who is calling (from the access token only) and what their role allows.

pub mod password;
pub mod revocation;
pub mod roles;
pub mod throttle;
pub mod tokens;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};

use crate::context::RequestContext;
use crate::error::ApiError;
use crate::state::AppState;
pub use roles::Role;

/// The authenticated caller. Extracting it rejects requests without a valid bearer token (401).
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: i64,
    pub username: String,
    pub role: Role,
    /// Who/where/which request, for the audit log of any write this request makes.
    pub ctx: RequestContext,
}

impl AuthUser {
    /// 403 unless the caller's role is one of `allowed`.
    pub fn require(&self, allowed: &[Role]) -> Result<(), ApiError> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
            Err(ApiError::forbidden(format!(
                "role {} may not do this; it needs one of: {}",
                self.role,
                names.join(", ")
            )))
        }
    }
}

/// Client IP and request id of a request, for audit rows (also used by unauthenticated routes like login). The
/// IP is [`crate::client_addr::client_ip`]: the TCP peer, or what a trusted proxy reported.
pub fn request_context(parts: &Parts, user_id: Option<i64>) -> RequestContext {
    let client_ip = crate::client_addr::client_ip(&parts.extensions).map(|ip| ip.to_string());
    let request_id = parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(64).collect());
    RequestContext {
        user_id,
        client_ip,
        request_id,
        workspace_id: None,
    }
}

/// Where the server's access log learns who called: the middleware puts an empty slot into the request's
/// extensions, and [`AuthUser`]'s extractor fills it once the token is verified.
#[derive(Debug, Clone, Default)]
pub struct CallerSlot(std::sync::Arc<std::sync::OnceLock<i64>>);

impl CallerSlot {
    /// The verified caller's user id, if the request authenticated.
    pub fn user_id(&self) -> Option<i64> {
        self.0.get().copied()
    }
}

/// The request's audit context without requiring authentication.
#[derive(Debug, Clone)]
pub struct ClientContext(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for ClientContext {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientContext(request_context(parts, None)))
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized(
                "MISSING_TOKEN",
                "sign in and send `Authorization: Bearer <access token>`",
            )
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "INVALID_TOKEN",
                    "the Authorization header must be `Bearer <access token>`",
                )
            })?;
        let claims = state
            .tokens
            .verify_access(token)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => ApiError::unauthorized(
                    "TOKEN_EXPIRED",
                    "the access token has expired; use the refresh token",
                ),
                _ => ApiError::unauthorized("INVALID_TOKEN", "the access token is not valid"),
            })?;
        let id = claims.user_id().ok_or_else(|| {
            ApiError::unauthorized("INVALID_TOKEN", "the access token is not valid")
        })?;
        if !state.revocations.allows(id, claims.generation) {
            return Err(ApiError::unauthorized(
                "TOKEN_REVOKED",
                "the account's role, status or password changed since this token was issued; sign in again",
            ));
        }
        let ctx = request_context(parts, Some(id));
        if let Some(slot) = parts.extensions.get::<CallerSlot>() {
            let _ = slot.0.set(id);
        }
        Ok(AuthUser {
            id,
            username: claims.username,
            role: claims.role,
            ctx,
        })
    }
}

/// A named set of roles, for [`Authorized`].
pub trait Policy: Send + Sync + 'static {
    const ROLES: &'static [Role];
}

/// Declare role policies for handler signatures (`user: Authorized<policy::Manage>`) in the calling crate:
///
/// ```ignore
/// pub mod policy {
///     use neurohub_core::auth::Role::*;
///     neurohub_core::role_policies! {
///         /// Station work.
///         Operate => &[Admin, Manager, Operator];
///     }
/// }
/// ```
#[macro_export]
macro_rules! role_policies {
    ($($(#[$doc:meta])* $name:ident => $roles:expr;)*) => {
        $( $(#[$doc])* #[derive(Debug, Clone, Copy)] pub struct $name;
           impl $crate::auth::Policy for $name {
               const ROLES: &'static [$crate::auth::Role] = $roles;
           } )*
    };
}

/// Policies every domain shares.
pub mod policy {
    use super::Role;
    crate::role_policies! {
        /// Any signed-in user, whatever the role.
        SignedIn => &Role::ALL;
        /// Global administrators (accounts, workspaces).
        Admin => &[Role::Admin];
    }
}

/// The caller, already checked against policy `P`. Because it is extracted from the request head, the role check
/// runs *before* the body is parsed: a VIEWER gets 403 whatever it sends, never a validation error that reveals
/// the shape of an endpoint it may not use.
#[derive(Debug, Clone)]
pub struct Authorized<P: Policy>(pub AuthUser, std::marker::PhantomData<P>);

impl<P: Policy> std::ops::Deref for Authorized<P> {
    type Target = AuthUser;
    fn deref(&self) -> &AuthUser {
        &self.0
    }
}

impl<P: Policy> FromRequestParts<AppState> for Authorized<P> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        user.require(P::ROLES)?;
        Ok(Authorized(user, std::marker::PhantomData))
    }
}
