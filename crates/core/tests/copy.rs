//! The generators' preconditions (`copy::refusal`): a superuser login (they load with the triggers off) and empty
//! target tables; each refusal says which of the two it is.

use neurohub_core::copy::refusal;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};

#[sqlx::test(migrations = false)]
async fn a_login_without_superuser_is_refused(owner: PgPool) {
    // a role of its own per test database (roles are cluster-wide)
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&owner)
        .await
        .unwrap();
    let role = format!("{db}_loader");
    sqlx::query(&format!("CREATE ROLE \"{role}\" LOGIN NOSUPERUSER"))
        .execute(&owner)
        .await
        .unwrap();
    let o = owner.connect_options();
    let mut conn = PgConnectOptions::new()
        .host(o.get_host())
        .port(o.get_port())
        .database(&db)
        .username(&role)
        .connect()
        .await
        .unwrap();
    let why = refusal(&mut conn, "SELECT 0::bigint", "rows")
        .await
        .unwrap();
    drop(conn);
    sqlx::query(&format!("DROP ROLE \"{role}\""))
        .execute(&owner)
        .await
        .unwrap();
    let why = why.expect("a non-superuser login is refused");
    assert!(why.contains("superuser"), "{why}");
}

#[sqlx::test(migrations = false)]
async fn occupied_tables_are_refused_and_empty_ones_are_not(owner: PgPool) {
    let mut conn = owner.acquire().await.unwrap();
    let why = refusal(&mut conn, "SELECT 3::bigint", "lots or units")
        .await
        .unwrap()
        .expect("rows in the way are refused");
    assert!(
        why.contains("already has lots or units") && why.contains("empty"),
        "{why}"
    );
    assert_eq!(
        refusal(&mut conn, "SELECT 0::bigint", "lots or units")
            .await
            .unwrap(),
        None
    );
}
