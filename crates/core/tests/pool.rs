//! The request pools' checkout test (`db::PING_IF_IDLE_FOR`): a connection that sat idle past the window is
//! pinged before it is handed out, so one that died meanwhile is replaced instead of failing the request.

use neurohub_core::db::{connect, PoolConfig, PING_IF_IDLE_FOR};
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
