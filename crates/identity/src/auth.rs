//! Sign in, refresh (rotating), sign out, and who am I. The database side lives in [`crate::session`].

use axum::extract::State;
use axum::http::StatusCode;
use neurohub_core::auth::throttle::AuthRate;
use neurohub_core::auth::{AuthUser, ClientContext, Role};
use neurohub_core::{ApiError, ApiJson, ApiResult, AppState, Problem};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::session::{self, LoginFailure, SessionUser};
use crate::users::{self, User};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
}

/// A change of one's own password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password in use now (asked again, so a token left on an unattended station cannot take the account).
    pub current_password: String,
    /// The new password (the same rules as an account's first one).
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token of the last login or refresh.
    pub refresh_token: String,
}

/// The user a token pair was issued to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenUser {
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub role: Role,
}

/// An access token and the refresh token to get the next one.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    /// HS256 JWT; send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque, single use: exchange it at `POST /auth/refresh` for a new pair.
    pub refresh_token: String,
    pub user: TokenUser,
}

fn pair(st: &AppState, user: SessionUser, refresh_token: String) -> ApiResult<TokenPair> {
    let role = user.role()?;
    let (access_token, _exp) = st
        .tokens
        .issue_access_at(user.id, &user.username, role, user.token_generation)
        .map_err(ApiError::internal)?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer".into(),
        expires_in: st.tokens.access_ttl.as_secs(),
        refresh_token,
        user: TokenUser {
            id: user.id,
            username: user.username,
            full_name: user.full_name,
            role,
        },
    })
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized(
        "INVALID_CREDENTIALS",
        "the username or password is not correct",
    )
}

/// 429 with `Retry-After`.
fn throttled(retry_after_secs: u64) -> ApiError {
    ApiError::too_many_requests(
        "LOGIN_THROTTLED",
        format!(
            "too many failed sign-ins for this username from this address; try again in {retry_after_secs} seconds"
        ),
    )
    .retry_after(retry_after_secs)
}

/// Sign in with username and password.
///
/// Wrong username, wrong password and inactive account all answer 401 `INVALID_CREDENTIALS` with the same
/// message and the same password-hashing effort. Failures are counted per (username, client address) and per
/// client address, never on the account: after `login_max_failures` failures of one username from one address
/// (or `login_address_max_failures` from one address over all usernames) each further failure starts a wait that
/// doubles up to `login_backoff_max`. The failure that starts a wait and every attempt during it answer 429
/// `LOGIN_THROTTLED` with `Retry-After` (seconds); the same username from another address is not affected.
/// Success clears the (username, address) count. More than `auth_rate_per_minute` sign-in and refresh requests
/// from one address answer 429 `RATE_LIMITED` before the body is read.
#[utoipa::path(
    post, path = "/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenPair),
        (status = 401, description = "INVALID_CREDENTIALS", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED (missing field)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "LOGIN_THROTTLED or RATE_LIMITED; see Retry-After", body = Problem, content_type = "application/problem+json",
            headers(("retry-after" = u64, description = "Seconds until the next attempt is accepted"))),
    )
)]
pub async fn login(
    State(st): State<AppState>,
    AuthRate(addr): AuthRate,
    ClientContext(ctx): ClientContext,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<ApiJson<TokenPair>> {
    match session::login(&st, &ctx, addr, body.username.trim(), &body.password).await {
        Ok((user, refresh)) => pair(&st, user, refresh).map(ApiJson),
        Err(LoginFailure::InvalidCredentials) => Err(invalid_credentials()),
        Err(LoginFailure::Locked { retry_after_secs }) => Err(throttled(retry_after_secs)),
        Err(LoginFailure::Error(e)) => Err(e),
    }
}

/// Exchange a refresh token for a new token pair (rotation).
///
/// The presented token becomes used. Presenting a used or revoked token again revokes every token of its sign-in
/// (401 `REFRESH_TOKEN_REUSED`); an expired one answers 401 `REFRESH_TOKEN_EXPIRED`, an unknown one (or one of an
/// inactive user) 401 `INVALID_REFRESH_TOKEN`. Refresh shares the per-address rate limit of sign-in (429
/// `RATE_LIMITED` with `Retry-After`).
#[utoipa::path(
    post, path = "/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new pair", body = TokenPair),
        (status = 401, description = "INVALID_REFRESH_TOKEN, REFRESH_TOKEN_REUSED or REFRESH_TOKEN_EXPIRED", body = Problem,
            content_type = "application/problem+json"),
        (status = 429, description = "RATE_LIMITED; see Retry-After", body = Problem, content_type = "application/problem+json",
            headers(("retry-after" = u64, description = "Seconds until the next request is accepted"))),
    )
)]
pub async fn refresh(
    State(st): State<AppState>,
    _rate: AuthRate,
    ClientContext(ctx): ClientContext,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<ApiJson<TokenPair>> {
    let (user, token) = session::refresh(&st, &ctx, body.refresh_token.trim()).await?;
    Ok(ApiJson(pair(&st, user, token)?))
}

/// Sign out: revoke the presented refresh token's whole sign-in (its family).
///
/// Answers 204 whether or not the token was known, so the call is idempotent. The access token stays valid until
/// it expires (it is short-lived); clients drop it.
#[utoipa::path(
    post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "No or bad access token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn logout(
    State(st): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<StatusCode> {
    session::logout(&st, &user.ctx, user.id, body.refresh_token.trim()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller, as stored now (role and active flag from the database, not the token).
#[utoipa::path(
    get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = User),
        (status = 401, description = "No or bad access token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn me(State(st): State<AppState>, user: AuthUser) -> ApiResult<ApiJson<User>> {
    let found = users::fetch(&st.pool, user.id).await?;
    found
        .map(ApiJson)
        .ok_or_else(|| ApiError::unauthorized("INVALID_TOKEN", "the token's user no longer exists"))
}

/// Change your own password.
///
/// The current password is checked like a sign-in: a wrong one answers 422 `VALIDATION_FAILED` on
/// `current_password` and counts as a failed sign-in of this username from this address, so a stolen access token
/// cannot be used to guess it (after the free failures: 429 `LOGIN_THROTTLED` with `Retry-After`). The new one
/// must follow the password rules and differ from the current one. On success every refresh token of the account
/// is revoked and its access tokens stop working on every node (the token generation moves): sign in again.
#[utoipa::path(
    post, path = "/auth/password", tag = "auth", security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; sign in again with the new password"),
        (status = 422, description = "VALIDATION_FAILED: current_password is wrong, or new_password breaks a rule", body = Problem,
            content_type = "application/problem+json"),
        (status = 429, description = "LOGIN_THROTTLED; see Retry-After", body = Problem, content_type = "application/problem+json",
            headers(("retry-after" = u64, description = "Seconds until the next attempt is accepted"))),
    )
)]
pub async fn change_password(
    State(st): State<AppState>,
    AuthRate(addr): AuthRate,
    user: AuthUser,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    match session::change_password(
        &st,
        &user.ctx,
        addr,
        user.id,
        &user.username,
        &body.current_password,
        &body.new_password,
    )
    .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(LoginFailure::InvalidCredentials) => Err(ApiError::validation(
            "current_password",
            "is not your current password",
        )),
        Err(LoginFailure::Locked { retry_after_secs }) => Err(throttled(retry_after_secs)),
        Err(LoginFailure::Error(e)) => Err(e),
    }
}
