//! Sessions in the database: password checks with login throttling, and rotating refresh tokens.
//!
//! A *family* is one sign-in: every refresh marks the presented token used and issues a child in the same family.
//! Presenting a used or revoked token means it was copied (or two clients raced with it), so the whole family is
//! revoked and everybody holding a token of it has to sign in again. Only the SHA-256 of a refresh token is stored.

use neurohub_core::auth::password::{verify_dummy, verify_password};
use neurohub_core::auth::throttle::{retry_after_secs, AddrKey};
use neurohub_core::auth::tokens::{hash_refresh_token, new_refresh_token};
use neurohub_core::auth::Role;
use neurohub_core::context::{self, RequestContext};
use neurohub_core::{ApiError, AppState};
use sqlx::{Postgres, Transaction};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The signed-in user, as the session code sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionUser {
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub role: String,
    /// The account's token generation (access tokens carry it; see `neurohub_core::auth::revocation`).
    pub token_generation: i32,
}

impl SessionUser {
    pub fn role(&self) -> Result<Role, ApiError> {
        Role::parse(&self.role).ok_or_else(|| {
            ApiError::internal(format!("user {} has unknown role {}", self.id, self.role))
        })
    }
}

/// Why a login did not succeed.
#[derive(Debug)]
pub enum LoginFailure {
    /// Wrong username or password, or an inactive account: one answer for all of them.
    InvalidCredentials,
    /// This username from this address (or this address) is in its backoff; try again after this many seconds.
    Locked {
        retry_after_secs: u64,
    },
    Error(ApiError),
}

impl From<sqlx::Error> for LoginFailure {
    fn from(e: sqlx::Error) -> Self {
        LoginFailure::Error(e.into())
    }
}

#[derive(sqlx::FromRow)]
struct LoginRow {
    id: i64,
    username: String,
    full_name: String,
    role: String,
    password_hash: String,
    is_active: bool,
    token_generation: i32,
}

/// Argon2 is CPU work (~20 ms): keep it off the async worker threads.
async fn verify_blocking(password: String, phc: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify_password(&password, &phc),
        None => {
            verify_dummy(&password);
            false
        }
    })
    .await
    .map_err(ApiError::internal)
}

/// Check a username and password from client address `addr`. While (username, `addr`) or `addr` is in its
/// backoff the answer is [`LoginFailure::Locked`] before any password hashing or query. A failure (unknown user,
/// wrong password, inactive account alike) is counted by the in-memory throttle
/// ([`neurohub_core::auth::throttle`]), never on the account, so nobody can lock another person out. Success
/// clears the (username, address) count, sets `last_login_at` and opens a new refresh-token family. Returns the
/// user and the new refresh token.
pub async fn login(
    st: &AppState,
    ctx: &RequestContext,
    addr: AddrKey,
    username: &str,
    password: &str,
) -> Result<(SessionUser, String), LoginFailure> {
    if let Err(wait) = st.throttle.check(username, addr, Instant::now()) {
        return Err(LoginFailure::Locked {
            retry_after_secs: retry_after_secs(wait),
        });
    }
    let failed = || match st.throttle.failed(username, addr, Instant::now()) {
        Some(wait) => LoginFailure::Locked {
            retry_after_secs: retry_after_secs(wait),
        },
        None => LoginFailure::InvalidCredentials,
    };
    let row: Option<LoginRow> = sqlx::query_as(
        "SELECT id, username, full_name, role, password_hash, is_active, token_generation \
           FROM users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(&st.pool)
    .await?;
    let Some(row) = row else {
        // Same argon2 effort as a real check, so timing does not tell which usernames exist.
        verify_blocking(password.to_string(), None)
            .await
            .map_err(LoginFailure::Error)?;
        return Err(failed());
    };
    let ok = verify_blocking(password.to_string(), Some(row.password_hash.clone()))
        .await
        .map_err(LoginFailure::Error)?;
    if !ok || !row.is_active {
        return Err(failed());
    }

    let ctx = RequestContext {
        user_id: Some(row.id),
        ..ctx.clone()
    };
    let mut tx = context::begin(&st.pool, &ctx).await?;
    sqlx::query("UPDATE users SET last_login_at = now() WHERE id = $1")
        .bind(row.id)
        .execute(&mut *tx)
        .await?;
    let token = insert_refresh(
        &mut tx,
        row.id,
        Uuid::new_v4(),
        None,
        st.tokens.refresh_ttl,
        ctx.client_ip.as_deref(),
    )
    .await?;
    tx.commit().await?;
    st.throttle.succeeded(username, addr);
    Ok((
        SessionUser {
            id: row.id,
            username: row.username,
            full_name: row.full_name,
            role: row.role,
            token_generation: row.token_generation,
        },
        token,
    ))
}

/// Change `user_id`'s password after checking `current` as a sign-in would (same throttle: a failure counts
/// against (username, address), and a locked pair answers [`LoginFailure::Locked`] before any hashing). Revokes
/// every refresh token of the account; the users trigger moves its token generation, which ends its access
/// tokens on every node.
pub async fn change_password(
    st: &AppState,
    ctx: &RequestContext,
    addr: AddrKey,
    user_id: i64,
    username: &str,
    current: &str,
    new: &str,
) -> Result<(), LoginFailure> {
    if let Err(wait) = st.throttle.check(username, addr, Instant::now()) {
        return Err(LoginFailure::Locked {
            retry_after_secs: retry_after_secs(wait),
        });
    }
    let mut errors = Vec::new();
    if let Err(m) = neurohub_core::auth::password::check_new_password(new) {
        errors.push(neurohub_core::FieldError::new("new_password", m));
    } else if new == current {
        errors.push(neurohub_core::FieldError::new(
            "new_password",
            "must differ from the current password",
        ));
    }
    let phc: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1 AND is_active")
            .bind(user_id)
            .fetch_optional(&st.pool)
            .await?;
    let ok = verify_blocking(current.to_string(), phc)
        .await
        .map_err(LoginFailure::Error)?;
    if !ok {
        return Err(match st.throttle.failed(username, addr, Instant::now()) {
            Some(wait) => LoginFailure::Locked {
                retry_after_secs: retry_after_secs(wait),
            },
            None => LoginFailure::InvalidCredentials,
        });
    }
    if !errors.is_empty() {
        return Err(LoginFailure::Error(ApiError::validation_many(errors)));
    }
    let hash = tokio::task::spawn_blocking({
        let new = new.to_string();
        move || neurohub_core::auth::password::hash_password(&new)
    })
    .await
    .map_err(|e| LoginFailure::Error(ApiError::internal(e)))?
    .map_err(|e| LoginFailure::Error(ApiError::internal(e)))?;
    let mut tx = context::begin(&st.pool, ctx).await?;
    let generation: i32 = sqlx::query_scalar(
        "UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING token_generation",
    )
    .bind(user_id)
    .bind(hash)
    .fetch_one(&mut *tx)
    .await?;
    revoke_user(&mut tx, user_id).await?;
    tx.commit().await?;
    // refused here at once, not only when the NOTIFY comes back (see users::update)
    st.revocations.set(user_id, generation);
    st.throttle.succeeded(username, addr);
    Ok(())
}

/// Store a new refresh token of `family_id` (its hash only) and return the token itself.
async fn insert_refresh(
    tx: &mut Transaction<'static, Postgres>,
    user_id: i64,
    family_id: Uuid,
    parent_id: Option<i64>,
    ttl: Duration,
    client_ip: Option<&str>,
) -> Result<String, sqlx::Error> {
    let (token, hash) = new_refresh_token();
    sqlx::query(
        "INSERT INTO refresh_tokens (user_id, family_id, token_hash, parent_id, expires_at, client_ip) \
         VALUES ($1, $2, $3, $4, now() + $5::float8 * interval '1 second', $6)",
    )
    .bind(user_id)
    .bind(family_id)
    .bind(hash)
    .bind(parent_id)
    .bind(ttl.as_secs_f64())
    .bind(client_ip)
    .execute(&mut **tx)
    .await?;
    Ok(token)
}

#[derive(sqlx::FromRow)]
struct PresentedToken {
    id: i64,
    family_id: Uuid,
    expired: bool,
    spent: bool,
    user_id: i64,
    username: String,
    full_name: String,
    role: String,
    is_active: bool,
    token_generation: i32,
}

/// Exchange a refresh token for a new one (rotation). The token row is locked for the whole exchange, so of two
/// concurrent refreshes with the same token exactly one rotates it and the other sees it used (reuse → the family
/// is revoked, the winner's new token included).
pub async fn refresh(
    st: &AppState,
    ctx: &RequestContext,
    presented: &str,
) -> Result<(SessionUser, String), ApiError> {
    let mut tx = context::begin(&st.pool, ctx).await?;
    let row: Option<PresentedToken> = sqlx::query_as(
        "SELECT t.id, t.family_id, t.expires_at <= now() AS expired, \
                (t.used_at IS NOT NULL OR t.revoked_at IS NOT NULL) AS spent, \
                u.id AS user_id, u.username, u.full_name, u.role, u.is_active, u.token_generation \
           FROM refresh_tokens t JOIN users u ON u.id = t.user_id \
          WHERE t.token_hash = $1 FOR UPDATE OF t",
    )
    .bind(hash_refresh_token(presented))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Err(ApiError::unauthorized(
            "INVALID_REFRESH_TOKEN",
            "the refresh token is not valid; sign in again",
        ));
    };
    if row.spent {
        revoke_family(&mut tx, row.family_id).await?;
        tx.commit().await?;
        tracing::warn!(user_id = row.user_id, family_id = %row.family_id, "refresh token reuse: family revoked");
        return Err(ApiError::unauthorized(
            "REFRESH_TOKEN_REUSED",
            "this refresh token was already used; every session of this sign-in is revoked, sign in again",
        ));
    }
    if row.expired {
        tx.rollback().await?;
        return Err(ApiError::unauthorized(
            "REFRESH_TOKEN_EXPIRED",
            "the refresh token has expired; sign in again",
        ));
    }
    if !row.is_active {
        revoke_family(&mut tx, row.family_id).await?;
        tx.commit().await?;
        return Err(ApiError::unauthorized(
            "INVALID_REFRESH_TOKEN",
            "the refresh token is not valid; sign in again",
        ));
    }
    sqlx::query("UPDATE refresh_tokens SET used_at = now() WHERE id = $1")
        .bind(row.id)
        .execute(&mut *tx)
        .await?;
    let token = insert_refresh(
        &mut tx,
        row.user_id,
        row.family_id,
        Some(row.id),
        st.tokens.refresh_ttl,
        ctx.client_ip.as_deref(),
    )
    .await?;
    tx.commit().await?;
    Ok((
        SessionUser {
            id: row.user_id,
            username: row.username,
            full_name: row.full_name,
            role: row.role,
            token_generation: row.token_generation,
        },
        token,
    ))
}

async fn revoke_family(
    tx: &mut Transaction<'static, Postgres>,
    family_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Sign out: revoke the family of `presented` if it is one of `user_id`'s tokens. Unknown tokens or other users'
/// tokens change nothing (and the answer is the same, so logout reveals nothing about tokens).
pub async fn logout(
    st: &AppState,
    ctx: &RequestContext,
    user_id: i64,
    presented: &str,
) -> Result<(), ApiError> {
    let mut tx = context::begin(&st.pool, ctx).await?;
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() \
          WHERE revoked_at IS NULL \
            AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2)",
    )
    .bind(hash_refresh_token(presented))
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Revoke every refresh token of a user (deactivation, password change), inside the caller's transaction.
pub async fn revoke_user(
    tx: &mut Transaction<'static, Postgres>,
    user_id: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}
