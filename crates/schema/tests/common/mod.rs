//! Shared helpers for the schema integration tests (each test runs in its own fresh database).
#![allow(dead_code)]

use neurohub_schema::{down, up, Event, Timeouts};
use sqlx::PgPool;

/// A URL for the test's own database: DATABASE_URL with the database name replaced (keeps any password).
pub fn url_of(pool: &PgPool) -> String {
    let db = pool
        .connect_options()
        .get_database()
        .expect("test database name")
        .to_string();
    let base = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/neurohub".into());
    let mut url = url::Url::parse(&base).expect("DATABASE_URL");
    url.set_path(&db);
    url.to_string()
}

/// Apply migrations up to `target` (None = head), ignoring progress events.
pub async fn up_to(pool: &PgPool, target: Option<i32>) {
    up(pool, target, &Timeouts::default(), &mut |_: &Event| {})
        .await
        .expect("up");
}

/// Revert to `target`.
pub async fn down_to(pool: &PgPool, target: i32) {
    down(pool, target, &Timeouts::default(), &mut |_: &Event| {})
        .await
        .expect("down");
}

/// Rows in every table of the head schema (audit rows are written by the triggers; one audit row dated 2020
/// lands in the DEFAULT partition).
pub const SEED_ROWS: &str = r#"
SELECT set_config('app.current_user_id', '1', true), set_config('app.client_ip', '10.1.2.3', true);
INSERT INTO users (username, full_name, email, password_hash, role)
VALUES ('admin', 'Admin', 'admin@example.com', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', 'ADMIN'),
       ('op1', 'Operator One', NULL, '$argon2id$x', 'OPERATOR');
INSERT INTO product_models (model_code, model_name, category, specifications)
VALUES ('NH1', 'NeuroHub One', 'robot', '{"axes": 6}');
INSERT INTO production_lines (country_code, line_code, name) VALUES ('KR', '01', 'Line 1');
INSERT INTO lots (lot_number, product_model_id, production_line_id, production_date, shift, target_quantity)
VALUES ('KR01NH1261101', 1, 1, DATE '2026-11-23', 'DAY', 10),
       ('KR01NH1261102', 1, 1, DATE '2026-11-23', 'NIGHT', 5);
UPDATE lots SET status = 'IN_PROGRESS' WHERE lot_number = 'KR01NH1261101';
INSERT INTO serials (serial_number, lot_id, sequence_in_lot, rework_count) VALUES ('KR01NH1261101001', 1, 1, 1);
INSERT INTO equipment (equipment_code, name, equipment_type, process_id, production_line_id)
VALUES ('EQ-LM-01', 'Laser 1', 'LASER', 1, 1);
INSERT INTO wip_items (wip_id, lot_id, sequence_in_lot, current_process_id)
VALUES ('WIP-KR01NH1261101-002', 1, 2, 2);
-- units scrapped before they started (CREATED -> SCRAPPED), with their reasons
INSERT INTO wip_items (wip_id, lot_id, sequence_in_lot) VALUES ('WIP-KR01NH1261101-006', 1, 6);
UPDATE wip_items SET status = 'SCRAPPED', scrap_reason = 'dropped at receiving' WHERE sequence_in_lot = 6;
INSERT INTO serials (serial_number, lot_id, sequence_in_lot) VALUES ('KR01NH1261101007', 1, 7);
UPDATE serials SET status = 'SCRAPPED', scrap_reason = 'cracked housing' WHERE sequence_in_lot = 7;
INSERT INTO process_data (lot_id, process_id, operator_id, equipment_id, data_level, result, measurements,
                          started_at, completed_at)
VALUES (1, 1, 2, 1, 'LOT', 'PASS', '{"marking_depth_um": 30}', now() - interval '5 minutes', now());
INSERT INTO process_data (lot_id, wip_id, process_id, operator_id, data_level, measurements)
VALUES (1, 1, 2, 2, 'WIP', '{"torque_nm": 2.0}');
INSERT INTO process_data (lot_id, serial_id, process_id, operator_id, data_level, result, defects, criteria_check,
                          criteria_passed, attempt, started_at, completed_at)
VALUES (1, 1, 3, 2, 'SERIAL', 'FAIL', '[{"code": "NOISE"}]', '{"noise_mv": {"value": 3, "ok": false}}', false, 2,
        now() - interval '2 minutes', now());
INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at, client_ip)
VALUES (1, '00000000-0000-4000-8000-000000000001', 'hash-1', now() + interval '7 days', '10.1.2.3');
INSERT INTO refresh_tokens (user_id, family_id, token_hash, parent_id, expires_at)
VALUES (1, '00000000-0000-4000-8000-000000000001', 'hash-2', 1, now() + interval '7 days');
INSERT INTO idempotency_keys (user_id, idempotency_key, request_method, request_path, request_hash, response_status,
                              response_body, completed_at)
VALUES (2, 'key-1', 'POST', '/api/v1/process-data', 'abc', 201, '{"id": 1}', now());
INSERT INTO lot_sequences (production_line_id, product_model_id, year_month, last_seq) VALUES (1, 1, '2611', 2);
INSERT INTO audit_logs (table_name, record_id, action, new_data, user_ref, created_at)
VALUES ('legacy', 1, 'INSERT', '{"imported": true}', 'import', TIMESTAMPTZ '2020-03-01 00:00:00+00');
"#;

/// The tables [`SEED_ROWS`] inserts into (audit_logs through the triggers and directly).
pub fn seeded_tables() -> Vec<String> {
    let re = regex::Regex::new(r"INSERT INTO (\w+)").unwrap();
    let mut t: Vec<String> = re
        .captures_iter(SEED_ROWS)
        .map(|c| c[1].to_string())
        .collect();
    t.sort();
    t.dedup();
    t
}

/// Insert [`SEED_ROWS`] in one transaction (schema must be at head).
pub async fn seed_rows(pool: &PgPool) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::raw_sql(SEED_ROWS)
        .execute(&mut *tx)
        .await
        .expect("seed rows");
    tx.commit().await.unwrap();
}

/// Every table of the head schema (from the head snapshot).
pub fn all_tables() -> Vec<String> {
    neurohub_schema::manifest::head_tables()
}

/// (row count, md5 of all rows as text in a stable order) of one table.
pub async fn table_fingerprint(pool: &PgPool, table: &str) -> (i64, String) {
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET TimeZone = 'UTC'")
        .execute(&mut *conn)
        .await
        .unwrap();
    let row: (i64, Option<String>) = sqlx::query_as(&format!(
        "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} AS t"
    ))
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    (row.0, row.1.unwrap_or_default())
}

/// The SQLSTATE and constraint name of a failed statement run in its own (rolled back) transaction.
pub async fn fails_with(pool: &PgPool, sql: &str) -> (String, Option<String>, String) {
    let mut tx = pool.begin().await.unwrap();
    let err = sqlx::raw_sql(sql).execute(&mut *tx).await.expect_err(sql);
    let _ = tx.rollback().await;
    let db = err
        .as_database_error()
        .unwrap_or_else(|| panic!("{sql}: {err}"));
    let pg = db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .unwrap();
    (
        pg.code().to_string(),
        pg.constraint().map(str::to_string),
        pg.message().to_string(),
    )
}

/// Run statements in a transaction that is rolled back (asserting they succeed).
pub async fn succeeds(pool: &PgPool, sql: &str) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::raw_sql(sql)
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    tx.rollback().await.unwrap();
}
