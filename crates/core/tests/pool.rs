//! The request pools' checkout test (`db::PING_IF_IDLE_FOR`): a connection that sat idle past the window is
//! pinged before it is handed out, so one that died meanwhile is replaced instead of failing the request.

use neurohub_core::db::{
    connect, request_pool, PoolConfig, DEFAULT_RANDOM_PAGE_COST, PING_IF_IDLE_FOR,
};
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn a_connection_that_died_while_idle_is_replaced_at_checkout(owner: PgPool) {
    let o = owner.connect_options();
    let url = format!(
        "postgres://{}@{}:{}/{}",
        o.get_username(),
        o.get_host(),
        o.get_port(),
        o.get_database().unwrap_or("")
    );
    let pool = connect(
        &url,
        &PoolConfig {
            max_connections: 1,
            min_connections: 0,
            ..PoolConfig::default()
        },
    )
    .await
    .unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .unwrap();
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&owner)
        .await
        .unwrap();
    assert!(killed);
    tokio::time::sleep(PING_IF_IDLE_FOR + std::time::Duration::from_millis(200)).await;
    // the only connection of the pool is dead: the checkout's ping finds out and opens a new one
    let again: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .expect("a connection idle past the window is tested before it is handed out");
    assert_ne!(again, pid);
}

/// Request sessions plan with the configured `random_page_cost` (`PoolConfig::random_page_cost`, default
/// `DEFAULT_RANDOM_PAGE_COST`), set at connection start like `jit = off`; None leaves the server's setting.
#[sqlx::test(migrations = false)]
async fn request_sessions_carry_the_planner_settings(owner: PgPool) {
    // the request role, as migration 0005 creates it (roles are cluster-wide; a deploy elsewhere may have made it)
    sqlx::query(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'neurohub_app') THEN BEGIN \
           CREATE ROLE neurohub_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE INHERIT; \
           EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END; END IF; END $$",
    )
    .execute(&owner)
    .await
    .unwrap();
    let settings = |cfg: PoolConfig| {
        let owner = owner.clone();
        async move {
            let pool = request_pool(&owner, &cfg).await.unwrap();
            let got: (String, String) = sqlx::query_as(
                "SELECT current_setting('random_page_cost'), current_setting('jit')",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            pool.close().await;
            got
        }
    };
    let server: String = sqlx::query_scalar("SELECT current_setting('random_page_cost')")
        .fetch_one(&owner)
        .await
        .unwrap();
    assert_eq!(server, "4", "the test server's own setting");
    assert_eq!(
        settings(PoolConfig::default()).await,
        (DEFAULT_RANDOM_PAGE_COST.to_string(), "off".to_string())
    );
    let mine = PoolConfig {
        random_page_cost: Some(2.5),
        ..PoolConfig::default()
    };
    assert_eq!(settings(mine).await.0, "2.5");
    let none = PoolConfig {
        random_page_cost: None,
        ..PoolConfig::default()
    };
    assert_eq!(settings(none).await.0, server);
}
