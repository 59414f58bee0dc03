//! Helpers shared by the CLI's test binaries.

use sqlx::PgPool;

/// The URL of the test's own database (sqlx::test made it), for the binary to use.
pub fn url_of(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let db = pool
        .connect_options()
        .get_database()
        .expect("database name")
        .to_string();
    let mut u = url::Url::parse(&base).expect("url");
    u.set_path(&db);
    u.to_string()
}
