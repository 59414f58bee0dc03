//! Sessions in the database: password checks with login throttling, and rotating refresh tokens.
//!
//! A *family* is one sign-in: every refresh marks the presented token used and issues a child in the same family.
//! Presenting a used or revoked token means it was copied (or two clients raced with it), so the whole family is
//! revoked and everybody holding a token of it has to sign in again. Only the SHA-256 of a refresh token is stored.

use neurohub_core::auth::password::{verify_dummy, verify_password};
use neurohub_core::auth::tokens::{hash_refresh_token, new_refresh_token};
use neurohub_core::auth::Role;
use neurohub_core::context::{self, RequestContext};
use neurohub_core::{ApiError, AppState};
use sqlx::{Postgres, Transaction};
use std::time::Duration;
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
    /// Too many consecutive failures; try again after this many seconds.
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
    /// Seconds until the lock ends (NULL or <= 0: not locked), computed by the database clock.
    locked_for: Option<f64>,
}

fn retry_after(secs: f64) -> u64 {
    (secs.ceil() as u64).max(1)
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

/// Check a username and password. Success resets the failure counter, sets `last_login_at` and opens a new
/// refresh-token family; failure counts toward the lock (`login_max_failures` in a row lock the account for
/// `login_lockout`). Returns the user and the new refresh token.
pub async fn login(
    st: &AppState,
    ctx: &RequestContext,
    username: &str,
    password: &str,
) -> Result<(SessionUser, String), LoginFailure> {
    let row: Option<LoginRow> = sqlx::query_as(
        "SELECT id, username, full_name, role, password_hash, is_active, token_generation, \
                extract(epoch FROM locked_until - now())::float8 AS locked_for \
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
        return Err(LoginFailure::InvalidCredentials);
    };
    if let Some(secs) = row.locked_for.filter(|s| *s > 0.0) {
        return Err(LoginFailure::Locked {
            retry_after_secs: retry_after(secs),
        });
    }
    let ok = verify_blocking(password.to_string(), Some(row.password_hash.clone()))
        .await
        .map_err(LoginFailure::Error)?;
    if !ok {
        return Err(record_failure(st, ctx, row.id).await?);
    }
    if !row.is_active {
        return Err(LoginFailure::InvalidCredentials);
    }

    let ctx = RequestContext {
        user_id: Some(row.id),
        ..ctx.clone()
    };
    let mut tx = context::begin(&st.pool, &ctx).await?;
    // The lock is re-checked here: a concurrent failure may have locked the account since the read above.
    let still_unlocked: Option<i64> = sqlx::query_scalar(
        "UPDATE users SET failed_login_count = 0, locked_until = NULL, last_login_at = now() \
          WHERE id = $1 AND (locked_until IS NULL OR locked_until <= now()) RETURNING id",
    )
    .bind(row.id)
    .fetch_optional(&mut *tx)
    .await?;
    if still_unlocked.is_none() {
        tx.rollback().await?;
        return Err(LoginFailure::Locked {
            retry_after_secs: retry_after(st.settings.login_lockout.as_secs_f64()),
        });
    }
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

/// Count one failed attempt, atomically; the attempt that reaches the limit locks the account (and starts a
/// fresh count for after the lock).
async fn record_failure(
    st: &AppState,
    ctx: &RequestContext,
    user_id: i64,
) -> Result<LoginFailure, sqlx::Error> {
    let mut tx = context::begin(&st.pool, ctx).await?;
    let locked: bool = sqlx::query_scalar(
        "UPDATE users SET \
            failed_login_count = CASE WHEN failed_login_count + 1 >= $2 THEN 0 ELSE failed_login_count + 1 END, \
            locked_until = CASE WHEN failed_login_count + 1 >= $2 THEN now() + $3::float8 * interval '1 second' \
                                ELSE locked_until END \
          WHERE id = $1 RETURNING locked_until IS NOT NULL AND locked_until > now()",
    )
    .bind(user_id)
    .bind(st.settings.login_max_failures.max(1))
    .bind(st.settings.login_lockout.as_secs_f64())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(if locked {
        LoginFailure::Locked {
            retry_after_secs: retry_after(st.settings.login_lockout.as_secs_f64()),
        }
    } else {
        LoginFailure::InvalidCredentials
    })
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

#[cfg(test)]
mod tests {
    use super::retry_after;

    #[test]
    fn retry_after_rounds_up_and_is_at_least_one() {
        assert_eq!(retry_after(0.2), 1);
        assert_eq!(retry_after(899.1), 900);
        assert_eq!(retry_after(-3.0), 1);
    }
}
