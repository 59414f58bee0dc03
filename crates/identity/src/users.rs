//! User accounts (ADMIN only). There is no DELETE: users with history are deactivated (`is_active: false`),
//! which also revokes their refresh tokens. `password_hash` never leaves the database (and the audit trigger
//! leaves it out of `audit_logs`).

use axum::extract::State;
use chrono::{DateTime, Utc};
use neurohub_core::auth::password::{check_new_password, generate_password, hash_password};
use neurohub_core::auth::{policy, Authorized, Role};
use neurohub_core::pagination::Page;
use neurohub_core::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState, Problem};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use neurohub_core::pagination::{Key, List};
use neurohub_core::response::{created, Created};
use neurohub_core::validate::{self, Checker};

neurohub_core::fixed_sort!(
    /// `GET /users` is ordered by id.
    ById, "id", Asc, [Key::int("id")]
);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update))
}

/// A user account as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub department: Option<String>,
    pub is_active: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    /// Consecutive failed sign-ins since the last success or lock.
    pub failed_login_count: i32,
    /// Sign-in is refused until then (after too many failures).
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The columns of [`User`], for SELECT and RETURNING lists. `role` is VARCHAR(20) and core's `Role` decodes
/// `text` only, hence the cast (the CHECK `chk_users_role` guarantees it decodes). Roles are bound with
/// `as_str()`: core's derived `sqlx::Type` names its type (`text`) instead of giving its OID, and sqlx looks such a
/// name up with one extra statement per connection, which the `x-db-queries` assertions catch.
const USER_COLUMNS: &str =
    "id, username, full_name, email, role::text AS role, department, is_active, last_login_at, \
                            failed_login_count, locked_until, created_at, updated_at";

/// One user by id (one statement).
pub async fn fetch(pool: &PgPool, id: i64) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as::<_, User>(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// 3..=50 characters of `a-z 0-9 . _ -`.
    pub username: String,
    pub full_name: String,
    pub email: Option<String>,
    /// An unknown role is 422 naming `role` (serde refuses it before the other fields are checked).
    pub role: Role,
    pub department: Option<String>,
    /// At least 12 characters.
    pub password: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub full_name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    pub role: Option<Role>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub department: Option<Option<String>>,
    /// `false` deactivates the account and revokes its refresh tokens.
    pub is_active: Option<bool>,
    /// A new password (revokes the user's refresh tokens).
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// ADMIN, MANAGER, OPERATOR or VIEWER.
    pub role: Option<String>,
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub is_active: Option<bool>,
    /// Case-insensitive substring of username or full name.
    pub q: Option<String>,
    /// Rows per page, 1..=500 (default 100).
    #[serde(default, deserialize_with = "neurohub_core::extract::qs::opt")]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn check_username(c: &mut Checker, username: &str) {
    let n = username.chars().count();
    if !(3..=50).contains(&n) {
        c.add("username", "username must be 3 to 50 characters");
    } else if !username
        .chars()
        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '.' | '_' | '-'))
    {
        c.add(
            "username",
            "username may only contain a-z, 0-9, '.', '_' and '-'",
        );
    }
}

fn check_email(c: &mut Checker, email: Option<&str>) -> Option<String> {
    let e = email.map(str::trim).filter(|e| !e.is_empty())?;
    if e.len() > 255 {
        c.add("email", "email must be at most 255 characters");
    } else {
        let valid = match e.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !e.chars().any(char::is_whitespace)
            }
            None => false,
        };
        if !valid {
            c.add("email", "email must look like name@example.com");
        }
    }
    Some(e.to_ascii_lowercase())
}

async fn hash(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// List users, by id (one statement).
#[utoipa::path(
    get, path = "/users", tag = "users", security(("bearer" = [])),
    params(UserFilter),
    responses(
        (status = 200, description = "A page of users", body = Page<User>),
        (status = 400, description = "INVALID_QUERY / INVALID_CURSOR", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(st): State<AppState>,
    _user: Authorized<policy::Admin>,
    ApiQuery(f): ApiQuery<UserFilter>,
) -> ApiResult<ApiJson<Page<User>>> {
    let list = List::<ById>::fixed(f.limit, f.cursor.as_deref())?;
    let role = match f.role.as_deref() {
        None | Some("") => None,
        Some(r) => Some(Role::parse(r).ok_or_else(|| {
            ApiError::bad_request(
                "INVALID_QUERY",
                "role must be ADMIN, MANAGER, OPERATOR or VIEWER",
            )
            .with_field("role", "must be ADMIN, MANAGER, OPERATOR or VIEWER")
        })?),
    };
    let q =
        f.q.as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(validate::like_pattern);
    let mut qb =
        QueryBuilder::<Postgres>::new(format!("SELECT {USER_COLUMNS} FROM users WHERE TRUE"));
    if let Some(role) = role {
        qb.push(" AND role = ").push_bind(role.as_str());
    }
    if let Some(active) = f.is_active {
        qb.push(" AND is_active = ").push_bind(active);
    }
    if let Some(q) = q {
        qb.push(" AND (username ILIKE ")
            .push_bind(q.clone())
            .push(" OR full_name ILIKE ")
            .push_bind(q)
            .push(")");
    }
    list.push_after(&mut qb);
    qb.push(list.order_and_limit());
    let rows: Vec<User> = qb
        .build_query_as()
        .persistent(false)
        .fetch_all(&mut *st.read_conn().await?)
        .await?;
    Ok(ApiJson(list.page(rows, |u, _| vec![u.id.into()])))
}

/// One user.
#[utoipa::path(
    get, path = "/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_one(
    State(st): State<AppState>,
    _user: Authorized<policy::Admin>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<User>> {
    fetch(&st.pool, id)
        .await?
        .map(ApiJson)
        .ok_or_else(|| ApiError::not_found("user"))
}

/// Create a user (argon2id-hashed password).
#[utoipa::path(
    post, path = "/users", tag = "users", security(("bearer" = [])),
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = User, headers(("location" = String, description = "URL of the user"))),
        (status = 409, description = "DUPLICATE username or email", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED, every bad field named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(st): State<AppState>,
    user: Authorized<policy::Admin>,
    ApiJson(body): ApiJson<NewUser>,
) -> ApiResult<Created<User>> {
    let mut c = Checker::default();
    let username = body.username.trim().to_string();
    check_username(&mut c, &username);
    let full_name = c.text("full_name", &body.full_name, 100);
    let email = check_email(&mut c, body.email.as_deref());
    let role = body.role;
    let department = c.opt_text("department", body.department.as_deref(), 100);
    if let Err(m) = check_new_password(&body.password) {
        c.add("password", m);
    }
    c.finish()?;
    let password_hash = hash(body.password).await?;

    let mut tx = neurohub_core::context::begin(&st.pool, &user.ctx).await?;
    let row = sqlx::query_as::<_, User>(&format!(
        "INSERT INTO users (username, full_name, email, password_hash, role, department) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {USER_COLUMNS}"
    ))
    .bind(&username)
    .bind(&full_name)
    .bind(&email)
    .bind(&password_hash)
    .bind(role.as_str())
    .bind(&department)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(created(format!("/api/v1/users/{}", row.id), row))
}

/// Change a user. An admin cannot deactivate (409 `CANNOT_DEACTIVATE_SELF`) or demote (409
/// `CANNOT_DEMOTE_SELF`) themselves, so at least one active admin always remains. Deactivating or setting a new
/// password revokes the user's refresh tokens.
#[utoipa::path(
    patch, path = "/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The changed user", body = User),
        (status = 404, description = "NOT_FOUND", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "DUPLICATE email, CANNOT_DEACTIVATE_SELF, CANNOT_DEMOTE_SELF", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "VALIDATION_FAILED", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(st): State<AppState>,
    user: Authorized<policy::Admin>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(p): ApiJson<UserPatch>,
) -> ApiResult<ApiJson<User>> {
    let mut c = Checker::for_patch(
        p.full_name.is_some()
            || p.email.is_some()
            || p.role.is_some()
            || p.department.is_some()
            || p.is_active.is_some()
            || p.password.is_some(),
    );
    let full_name = p.full_name.as_deref().map(|v| c.text("full_name", v, 100));
    let email = p.email.as_ref().map(|e| check_email(&mut c, e.as_deref()));
    let role = p.role;
    let department = p
        .department
        .as_ref()
        .map(|d| c.opt_text("department", d.as_deref(), 100));
    if let Some(pw) = &p.password {
        if let Err(m) = check_new_password(pw) {
            c.add("password", m);
        }
    }
    c.finish()?;
    if id == user.id && p.is_active == Some(false) {
        return Err(ApiError::conflict(
            "CANNOT_DEACTIVATE_SELF",
            "an admin cannot deactivate their own account",
        )
        .with_field("is_active", "cannot deactivate yourself"));
    }
    if id == user.id && role.is_some_and(|r| r != Role::Admin) {
        return Err(ApiError::conflict(
            "CANNOT_DEMOTE_SELF",
            "an admin cannot take the ADMIN role from themselves",
        )
        .with_field("role", "cannot demote yourself"));
    }
    let password_hash = match p.password {
        Some(pw) => Some(hash(pw).await?),
        None => None,
    };

    let mut tx = neurohub_core::context::begin(&st.pool, &user.ctx).await?;
    // Lock the caller and the target (in id order, so two admins changing each other serialize instead of
    // deadlocking) and re-check that the caller is still an active admin: their token may predate a demotion.
    // Without this, two admins demoting each other at once could leave no admin.
    let locked: Vec<(i64, Role, bool)> = sqlx::query_as(
        "SELECT id, role::text, is_active FROM users WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(vec![user.id, id])
    .fetch_all(&mut *tx)
    .await?;
    let caller_ok = locked
        .iter()
        .any(|(uid, r, active)| *uid == user.id && *r == Role::Admin && *active);
    if !caller_ok {
        return Err(ApiError::forbidden(
            "your account is no longer an active admin",
        ));
    }
    if !locked.iter().any(|(uid, _, _)| *uid == id) {
        return Err(ApiError::not_found("user"));
    }
    let Updated {
        user: updated,
        token_generation,
    } = sqlx::query_as::<_, Updated>(&format!(
        "UPDATE users SET \
            full_name = COALESCE($2, full_name), \
            email = CASE WHEN $3 THEN $4 ELSE email END, \
            role = COALESCE($5, role), \
            department = CASE WHEN $6 THEN $7 ELSE department END, \
            is_active = COALESCE($8, is_active), \
            password_hash = COALESCE($9, password_hash), \
            failed_login_count = CASE WHEN $9 IS NULL THEN failed_login_count ELSE 0 END, \
            locked_until = CASE WHEN $9 IS NULL THEN locked_until ELSE NULL END \
          WHERE id = $1 RETURNING {USER_COLUMNS}, token_generation"
    ))
    .bind(id)
    .bind(full_name)
    .bind(email.is_some())
    .bind(email.flatten())
    .bind(role.map(Role::as_str))
    .bind(department.is_some())
    .bind(department.flatten())
    .bind(p.is_active)
    .bind(password_hash.as_deref())
    .fetch_one(&mut *tx)
    .await?;
    if !updated.is_active || password_hash.is_some() {
        crate::session::revoke_user(&mut tx, id).await?;
    }
    tx.commit().await?;
    // this process refuses the user's older tokens from now on, not only once its listener hears the NOTIFY that
    // every process gets (auth::revocation): a token the admin just revoked here is never accepted here again
    st.revocations.set(id, token_generation);
    Ok(ApiJson(updated))
}

/// A changed user and the token generation the database gave it (trigger `bump_token_generation()`).
#[derive(sqlx::FromRow)]
struct Updated {
    #[sqlx(flatten)]
    user: User,
    token_generation: i32,
}

/// Create the first admin when there is no active ADMIN: username `admin` with `password` (checked against the
/// password rules) or a generated one. Returns the username and, when generated, the password (shown once by
/// `neurohub up`); `Ok(None)` when an active admin already exists.
pub async fn ensure_first_admin(
    pool: &PgPool,
    password: Option<String>,
) -> Result<Option<(String, String)>, ApiError> {
    const USERNAME: &str = "admin";
    let (password, generated) = match password {
        Some(p) => {
            check_new_password(&p).map_err(|m| ApiError::validation("password", m))?;
            (p, false)
        }
        None => (generate_password(), true),
    };
    let mut tx = pool.begin().await?;
    // Two `neurohub up` at once: the second waits here and then sees the first one's admin.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('neurohub.ensure_first_admin'))")
        .execute(&mut *tx)
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE role = $1 AND is_active)")
            .bind(Role::Admin.as_str())
            .fetch_one(&mut *tx)
            .await?;
    if exists {
        tx.rollback().await?;
        return Ok(None);
    }
    let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)")
        .bind(USERNAME)
        .fetch_one(&mut *tx)
        .await?;
    if taken {
        return Err(ApiError::conflict(
            "DUPLICATE",
            "there is no active admin, but the username `admin` is taken by a non-admin or inactive account; \
             reactivate or promote it with SQL, or rename it",
        )
        .with_field("username", "already taken"));
    }
    // The audit trigger records who created it: the user_ref `neurohub up` (not a user id).
    sqlx::query("SELECT set_config('app.current_user_id', $1, true)")
        .bind("neurohub up")
        .execute(&mut *tx)
        .await?;
    let password_hash = hash(password.clone()).await?;
    sqlx::query(
        "INSERT INTO users (username, full_name, password_hash, role) VALUES ($1, 'Administrator', $2, $3)",
    )
    .bind(USERNAME)
    .bind(&password_hash)
    .bind(Role::Admin.as_str())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some((
        USERNAME.to_string(),
        if generated { password } else { String::new() },
    )))
}

/// `neurohub admin reset-password`: give an existing account a new password (checked against the password rules,
/// or generated), clear its lock and failure count, reactivate it, and revoke its refresh tokens — one audited
/// transaction (user_ref `neurohub admin`). Returns the new password (the generated one, or the one given).
/// 404 when no account has this username.
pub async fn reset_password(
    pool: &PgPool,
    username: &str,
    password: Option<String>,
) -> Result<String, ApiError> {
    let password = match password {
        Some(p) => {
            check_new_password(&p).map_err(|m| ApiError::validation("password", m))?;
            p
        }
        None => generate_password(),
    };
    let password_hash = hash(password.clone()).await?;
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config('app.current_user_id', $1, true)")
        .bind("neurohub admin")
        .execute(&mut *tx)
        .await?;
    let id: Option<i64> = sqlx::query_scalar(
        "UPDATE users SET password_hash = $2, failed_login_count = 0, locked_until = NULL, is_active = true \
         WHERE username = $1 RETURNING id",
    )
    .bind(username)
    .bind(&password_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let id = id.ok_or_else(|| ApiError::not_found(&format!("user `{username}`")))?;
    crate::session::revoke_user(&mut tx, id).await?;
    tx.commit().await?;
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["abc", "kim.min-su_2", &"a".repeat(50)] {
            let mut c = Checker::default();
            check_username(&mut c, ok);
            assert!(c.finish().is_ok(), "{ok}");
        }
        for bad in ["ab", "Kim", "kim su", "김민수", &"a".repeat(51)] {
            let mut c = Checker::default();
            check_username(&mut c, bad);
            assert!(c.finish().is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        let mut c = Checker::default();
        assert_eq!(
            check_email(&mut c, Some(" Kim@Example.COM ")).as_deref(),
            Some("kim@example.com")
        );
        assert_eq!(check_email(&mut c, Some("")), None);
        assert!(c.finish().is_ok());
        for bad in ["kim", "kim@", "@x.com", "kim@x", "k m@x.com", "a@b@c.com"] {
            let mut c = Checker::default();
            check_email(&mut c, Some(bad));
            assert!(c.finish().is_err(), "{bad}");
        }
    }
}
