//! Shared helpers of the ATP schema tests: the two-workspace fixture, its ids, and a transaction that runs as
//! the request role `neurohub_app` with a request context (user, workspace) set the way the server sets it.
#![allow(dead_code)]

use sqlx::{PgPool, Postgres, Transaction};

/// Two workspaces with rows in every workspace-scoped table (see the file's header for the id scheme).
pub const FIXTURE: &str = include_str!("fixture.sql");

/// The id `NN` of workspace `w` ('a' or 'b') in the fixture, e.g. `id('a', 9)` is A's site.
pub fn id(w: char, n: u32) -> String {
    let p = if w == 'a' { "aaaaaaaa" } else { "bbbbbbbb" };
    format!("{p}-0000-4000-8000-{n:012}")
}

/// Workspace `w`'s id.
pub fn ws(w: char) -> String {
    id(w, 0)
}

/// Head schema with the fixture loaded (as the superuser, in one transaction).
pub async fn atp_head(pool: &PgPool) {
    crate::common::up_to(pool, None).await;
    load_fixture(pool).await;
}

/// Load [`FIXTURE`] (schema at head).
pub async fn load_fixture(pool: &PgPool) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::raw_sql(FIXTURE)
        .execute(&mut *tx)
        .await
        .expect("ATP fixture");
    tx.commit().await.unwrap();
}

/// users.id of a fixture user (`atp_a`, `atp_a_qa`, `atp_b`, `atp_b_qa`, `atp_admin`).
pub async fn user_id(pool: &PgPool, username: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A transaction running as `neurohub_app` with `app.current_user_id` = `user` and `app.workspace_id` =
/// `workspace` ("" for none), set exactly like a request does: set_config(..., true) with bound parameters.
pub async fn as_app(
    pool: &PgPool,
    user: Option<i64>,
    workspace: &str,
) -> Transaction<'static, Postgres> {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE neurohub_app")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "SELECT set_config('app.current_user_id', $1, true), set_config('app.workspace_id', $2, true),
                set_config('app.client_ip', '10.0.0.1', true), set_config('app.request_id', 'rls-test', true)",
    )
    .bind(user.map(|u| u.to_string()).unwrap_or_default())
    .bind(workspace)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx
}

/// Every table of schema public with a `workspace_id` column, from the catalog (partitions excluded).
pub async fn workspace_scoped_tables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
          WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
            AND a.attname = 'workspace_id' AND NOT a.attisdropped
          ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The SQLSTATE, constraint name and message of a statement run in a rolled-back transaction on `tx`
/// (through a savepoint, so `tx` stays usable).
pub async fn fails_in(
    tx: &mut Transaction<'static, Postgres>,
    sql: &str,
) -> (String, Option<String>, String) {
    sqlx::query("SAVEPOINT probe")
        .execute(&mut **tx)
        .await
        .unwrap();
    let err = sqlx::raw_sql(sql).execute(&mut **tx).await.expect_err(sql);
    sqlx::query("ROLLBACK TO SAVEPOINT probe")
        .execute(&mut **tx)
        .await
        .unwrap();
    let pg = err
        .as_database_error()
        .unwrap_or_else(|| panic!("{sql}: {err}"))
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .unwrap();
    (
        pg.code().to_string(),
        pg.constraint().map(str::to_string),
        pg.message().to_string(),
    )
}
