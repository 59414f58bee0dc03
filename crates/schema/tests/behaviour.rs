//! Behaviour of the head schema: audit trail, deletion guards, CHECKs, partitions, status machines.
mod common;

use common::*;
use neurohub_schema::{ensure_audit_partitions, expected_catalog, HEAD_VERSION};
use sqlx::PgPool;

/// user_id, user_ref, client_ip, request_id, new_data, changed_fields of one audit row.
type AuditRow = (
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    serde_json::Value,
    Vec<String>,
);

async fn head_with_rows(pool: &PgPool) {
    up_to(pool, None).await;
    seed_rows(pool).await;
}

/// Append-only for everyone: the connecting superuser (the tables' owner here), the request role and every other
/// role of the cluster (issue 13: "no role, including the table owner").
#[sqlx::test(migrations = false)]
async fn audit_rows_can_never_be_updated_deleted_or_truncated(pool: PgPool) {
    head_with_rows(&pool).await;
    for (sql, op) in [
        ("UPDATE audit_logs SET action = 'DELETE'", "UPDATE"),
        ("DELETE FROM audit_logs", "DELETE"),
        ("TRUNCATE audit_logs", "TRUNCATE"),
        ("UPDATE audit_logs_default SET user_ref = 'x'", "UPDATE"),
        ("DELETE FROM audit_logs_default", "DELETE"),
        ("TRUNCATE audit_logs_default", "TRUNCATE"),
        ("TRUNCATE audit_logs_y2025m11", "TRUNCATE"),
    ] {
        let (code, _, msg) = fails_with(&pool, sql).await;
        assert_eq!(code, "NH001", "{sql}");
        assert_eq!(
            msg,
            format!("audit_logs is append-only: {op} is not allowed"),
            "{sql}"
        );
    }
    // and so as every other role of the cluster, the request role and the table's owner included: refused by the
    // same trigger, or (a role without the privilege) by PostgreSQL's privilege check first
    let owner: String =
        sqlx::query_scalar("SELECT tableowner::text FROM pg_tables WHERE tablename = 'audit_logs'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let roles: Vec<String> = sqlx::query_scalar(
        "SELECT rolname::text FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY rolname",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        roles.contains(&owner) && roles.iter().any(|r| r == "neurohub_app"),
        "{roles:?}"
    );
    for role in &roles {
        for sql in [
            "UPDATE audit_logs SET action = 'DELETE'",
            "DELETE FROM audit_logs",
            "TRUNCATE audit_logs",
            "UPDATE audit_logs_default SET user_ref = 'x'",
            "TRUNCATE audit_logs_default",
        ] {
            let as_role = format!("SET LOCAL ROLE \"{}\"; {sql}", role.replace('"', "\"\""));
            let (code, _, msg) = fails_with(&pool, &as_role).await;
            assert!(
                code == "NH001" || code == "42501",
                "{role}: {sql}: {code} {msg}"
            );
        }
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(n > 0, "the seeded rows are all still there");
    // every partition carries the TRUNCATE guard (statement triggers are not cloned)
    let unguarded: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'audit_logs'::regclass
            AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'trg_audit_logs_prevent_truncate')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(unguarded.is_empty(), "{unguarded:?}");
}

#[sqlx::test(migrations = false)]
async fn a_write_is_audited_with_user_and_ip_from_parameterized_settings(pool: PgPool) {
    head_with_rows(&pool).await;
    let injection = "1'; DROP TABLE users; --";
    for (user, ip) in [("1", "192.168.0.10"), (injection, "10.9.8.7")] {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("SELECT set_config('app.current_user_id', $1, true), set_config('app.client_ip', $2, true), set_config('app.request_id', 'req-1', true)")
            .bind(user)
            .bind(ip)
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("UPDATE users SET full_name = full_name || '!', password_hash = 'new-secret' WHERE username = 'op1'")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let row: AuditRow =
            sqlx::query_as(
                "SELECT user_id, user_ref, client_ip, request_id, new_data, changed_fields FROM audit_logs
                  WHERE table_name = 'users' AND action = 'UPDATE' ORDER BY id DESC LIMIT 1",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(row.1.as_deref(), Some(user));
        assert_eq!(
            row.0,
            if user == "1" { Some(1) } else { None },
            "a non-numeric user id stays out of user_id"
        );
        assert_eq!(row.2.as_deref(), Some(ip));
        assert_eq!(row.3.as_deref(), Some("req-1"));
        assert!(
            row.4.get("password_hash").is_none(),
            "password_hash is never copied into the log"
        );
        assert!(
            row.5.contains(&"full_name".to_string())
                && !row.5.contains(&"password_hash".to_string())
        );
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        users, 2,
        "the injection string was stored as text; nothing ran"
    );
    // inserts and deletes are audited too, with before/after images
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT action::text FROM audit_logs ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(actions, vec!["INSERT", "UPDATE"]);
}

#[sqlx::test(migrations = false)]
async fn processes_and_users_with_history_cannot_be_deleted(pool: PgPool) {
    head_with_rows(&pool).await;
    let (code, _, msg) = fails_with(
        &pool,
        "DELETE FROM processes WHERE process_code = 'LASER_MARKING'",
    )
    .await;
    assert_eq!(code, "NH002");
    assert_eq!(
        msg,
        "process LASER_MARKING (1) has production history and cannot be deleted"
    );
    let (code, _, msg) = fails_with(&pool, "DELETE FROM users WHERE username = 'op1'").await;
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("NH002", "user op1 (2) has history and cannot be deleted")
    );
    // the admin acted (audit rows name it as user): history too
    let (code, _, _) = fails_with(&pool, "DELETE FROM users WHERE username = 'admin'").await;
    assert_eq!(code, "NH002");
    // soft deactivation is the way
    succeeds(
        &pool,
        "UPDATE users SET is_active = false WHERE username = 'op1'",
    )
    .await;
    // a user without history (created by mistake) can be deleted; the deletion is audited, its tokens go with it
    sqlx::raw_sql(
        "INSERT INTO users (username, full_name, password_hash) VALUES ('oops', 'Typo', 'h');
         INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
              SELECT id, gen_random_uuid(), 'h-oops', now() + interval '1 day' FROM users WHERE username = 'oops';
         DELETE FROM users WHERE username = 'oops';",
    )
    .execute(&pool)
    .await
    .unwrap();
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE table_name = 'users' AND action = 'DELETE' AND old_data->>'username' = 'oops'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    // a process without history may go too (RESTRICT FKs still protect equipment / WIP references)
    succeeds(
        &pool,
        "DELETE FROM processes WHERE process_code = 'PACKAGING_INSPECTION'",
    )
    .await;
    let (code, constraint, _) =
        fails_with(&pool, "DELETE FROM product_models WHERE model_code = 'NH1'").await;
    assert_eq!(
        (code.as_str(), constraint.as_deref()),
        ("23503", Some("fk_lots_product_model"))
    );
}

/// One bad case per named CHECK (each violating only that CHECK), checked against the head snapshot's CHECKs.
const BAD: &[(&str, &str)] = &[
    ("chk_product_models_model_code", "UPDATE product_models SET model_code = 'ab1'"),
    ("chk_product_models_status", "UPDATE product_models SET status = 'GONE'"),
    ("chk_processes_process_number", "UPDATE processes SET process_number = 9 WHERE process_number = 8"),
    ("chk_processes_estimated_duration", "UPDATE processes SET estimated_duration_seconds = 0 WHERE id = 1"),
    ("chk_users_role", "UPDATE users SET role = 'ROOT' WHERE id = 1"),
    ("chk_lots_status", "INSERT INTO lots (lot_number, product_model_id, target_quantity, status) VALUES ('KR01NH1261103', 1, 1, 'BOGUS')"),
    ("chk_serials_status", "INSERT INTO serials (serial_number, lot_id, sequence_in_lot, status) VALUES ('KR01NH1261101003', 1, 3, 'BOGUS')"),
    ("chk_serials_sequence_in_lot", "INSERT INTO serials (serial_number, lot_id, sequence_in_lot) VALUES ('KR01NH1261101003', 1, 0)"),
    ("chk_audit_logs_action", "INSERT INTO audit_logs (table_name, action) VALUES ('x', 'MERGE')"),
    ("chk_process_data_data_level", "INSERT INTO process_data (lot_id, process_id, operator_id, data_level) VALUES (1, 4, 2, 'BATCH')"),
    ("chk_process_data_result", "INSERT INTO process_data (lot_id, process_id, operator_id, data_level, result, completed_at) VALUES (1, 4, 2, 'LOT', 'MAYBE', now())"),
    ("chk_process_data_wip_serial_consistency", "INSERT INTO process_data (lot_id, serial_id, process_id, operator_id, data_level) VALUES (1, 1, 4, 2, 'LOT')"),
    ("chk_process_data_duration", "ALTER TABLE process_data DISABLE TRIGGER trg_process_data_duration; INSERT INTO process_data (lot_id, process_id, operator_id, data_level, result, completed_at, duration_seconds) VALUES (1, 4, 2, 'LOT', 'PASS', now(), -1)"),
    ("chk_process_data_timestamps", "ALTER TABLE process_data DISABLE TRIGGER trg_process_data_duration; INSERT INTO process_data (lot_id, process_id, operator_id, data_level, result, started_at, completed_at) VALUES (1, 4, 2, 'LOT', 'PASS', now(), now() - interval '1 hour')"),
    ("chk_production_lines_country_code", "INSERT INTO production_lines (country_code, line_code, name) VALUES ('kr', '02', 'x')"),
    ("chk_production_lines_line_code", "INSERT INTO production_lines (country_code, line_code, name) VALUES ('KR', 'A2', 'x')"),
    ("chk_equipment_status", "INSERT INTO equipment (equipment_code, name, status) VALUES ('EQ-2', 'x', 'BROKEN')"),
    ("chk_wip_items_status", "INSERT INTO wip_items (wip_id, lot_id, sequence_in_lot, status) VALUES ('WIP-KR01NH1261101-003', 1, 3, 'BOGUS')"),
    ("chk_wip_items_sequence_in_lot", "INSERT INTO wip_items (wip_id, lot_id, sequence_in_lot) VALUES ('WIP-KR01NH1261101-003', 1, 1000)"),
    ("chk_wip_items_rework_count", "INSERT INTO wip_items (wip_id, lot_id, sequence_in_lot, rework_count) VALUES ('WIP-KR01NH1261101-003', 1, 3, -1)"),
    ("chk_wip_items_converted_serial", "INSERT INTO wip_items (wip_id, lot_id, sequence_in_lot, status) VALUES ('WIP-KR01NH1261101-003', 1, 3, 'CONVERTED')"),
    ("chk_refresh_tokens_expiry", "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at) VALUES (1, gen_random_uuid(), 'h9', now() - interval '1 hour')"),
    ("chk_idempotency_keys_key_length", "INSERT INTO idempotency_keys (user_id, idempotency_key, request_method, request_path, request_hash) VALUES (1, '', 'POST', '/x', 'h')"),
    ("chk_idempotency_keys_response_status", "INSERT INTO idempotency_keys (user_id, idempotency_key, request_method, request_path, request_hash, response_status) VALUES (1, 'k', 'POST', '/x', 'h', 42)"),
    ("chk_lot_sequences_last_seq", "INSERT INTO lot_sequences VALUES (1, 1, '2612', 100)"),
    ("chk_lot_sequences_year_month", "INSERT INTO lot_sequences VALUES (1, 1, '2613', 1)"),
    ("chk_lots_lot_number_format", "INSERT INTO lots (lot_number, product_model_id, target_quantity) VALUES ('KR01NH1261100', 1, 1)"),
    ("chk_lots_target_quantity", "INSERT INTO lots (lot_number, product_model_id, target_quantity) VALUES ('KR01NH1261103', 1, 1000)"),
    ("chk_serials_serial_number_format", "INSERT INTO serials (serial_number, lot_id, sequence_in_lot) VALUES ('KR01NH1261101000', 1, 3)"),
    ("chk_serials_rework_count", "UPDATE serials SET rework_count = -1"),
    ("chk_serials_scrap_reason", "UPDATE serials SET scrap_reason = ''"),
    ("chk_wip_items_scrap_reason", "UPDATE wip_items SET scrap_reason = repeat('x', 501)"),
    ("chk_wip_items_wip_id_format", "INSERT INTO wip_items (wip_id, lot_id, sequence_in_lot) VALUES ('WIP-KR01NH126110-003', 1, 3)"),
    ("chk_users_failed_login_count", "UPDATE users SET failed_login_count = -1 WHERE id = 1"),
    ("chk_process_data_completion", "INSERT INTO process_data (lot_id, process_id, operator_id, data_level, result) VALUES (1, 4, 2, 'LOT', 'PASS')"),
    ("chk_process_data_defects_by_result", "INSERT INTO process_data (lot_id, process_id, operator_id, data_level, result, defects, completed_at) VALUES (1, 4, 2, 'LOT', 'FAIL', '[]', now())"),
    ("chk_process_data_attempt", "INSERT INTO process_data (lot_id, process_id, operator_id, data_level, attempt) VALUES (1, 4, 2, 'LOT', 0)"),
    ("chk_audit_archives_partition_name", "INSERT INTO audit_archives (partition_name, month_start, file_name, sha256, row_count) VALUES ('audit_logs_default', '2025-11-01', 'f', repeat('a', 64), 0)"),
    ("chk_audit_archives_month_start", "INSERT INTO audit_archives (partition_name, month_start, file_name, sha256, row_count) VALUES ('audit_logs_y2025m11', '2025-11-02', 'f', repeat('a', 64), 0)"),
    ("chk_audit_archives_sha256", "INSERT INTO audit_archives (partition_name, month_start, file_name, sha256, row_count) VALUES ('audit_logs_y2025m11', '2025-11-01', 'f', 'XYZ', 0)"),
    ("chk_audit_archives_row_count", "INSERT INTO audit_archives (partition_name, month_start, file_name, sha256, row_count) VALUES ('audit_logs_y2025m11', '2025-11-01', 'f', repeat('a', 64), -1)"),
    ("chk_lot_unit_counts_non_negative", "UPDATE lot_unit_counts SET wip_created = -1"),
    ("chk_lot_process_wip_non_negative", "UPDATE lot_process_wip SET waiting = -1"),
    ("chk_unit_wip_positions_state", "UPDATE unit_wip_positions SET state = 'GONE'"),
    ("chk_unit_wip_positions_unit_kind", "UPDATE unit_wip_positions SET unit_kind = 'LOT'"),
];

#[sqlx::test(migrations = false)]
async fn every_check_rejects_its_bad_case_and_accepts_good_ones(pool: PgPool) {
    head_with_rows(&pool).await;
    let names: Vec<&str> = BAD.iter().map(|(n, _)| *n).collect();
    // every CHECK at head has a bad case here, except those of the ATP's workspace-scoped tables (a
    // `workspace_id` column) and `workspaces`, which tests/atp_behaviour.rs covers the same way
    let head = expected_catalog(HEAD_VERSION);
    let atp =
        |t: &str| t == "workspaces" || head.get(&format!("column {t}.workspace_id")).is_some();
    let mut covered = 0;
    for check in head.of_kind("check").filter(|c| !atp(c.table())) {
        let (_, name) = check.name.split_once('.').unwrap();
        assert!(names.contains(&name), "no bad case for {name}");
        covered += 1;
    }
    assert_eq!(
        covered,
        BAD.len(),
        "a bad case for a CHECK that does not exist"
    );
    for (name, sql) in BAD {
        let (code, constraint, msg) = fails_with(&pool, sql).await;
        assert_eq!(
            (code.as_str(), constraint.as_deref()),
            ("23514", Some(*name)),
            "{sql}: {msg}"
        );
    }
    for good in [
        "INSERT INTO process_data (lot_id, process_id, operator_id, data_level, result, defects, completed_at) VALUES (1, 4, 2, 'LOT', 'PASS', NULL, now())",
        "INSERT INTO process_data (lot_id, process_id, operator_id, data_level, result, defects, completed_at) VALUES (1, 5, 2, 'LOT', 'PASS', '[]', now())",
        "INSERT INTO process_data (lot_id, process_id, operator_id, data_level, result, defects, completed_at) VALUES (1, 6, 2, 'LOT', 'FAIL', '[{\"code\": \"X\"}]', now())",
        "INSERT INTO process_data (lot_id, process_id, operator_id, data_level, result, defects, completed_at) VALUES (1, 7, 2, 'LOT', 'REWORK', '[{\"code\": \"Y\"}]', now())",
        "INSERT INTO process_data (lot_id, wip_id, process_id, operator_id, data_level) VALUES (1, 1, 5, 2, 'WIP')",
        "INSERT INTO process_data (lot_id, serial_id, process_id, operator_id, data_level, attempt) VALUES (1, 1, 5, 2, 'SERIAL', 3)",
        "INSERT INTO lots (lot_number, product_model_id, target_quantity) VALUES ('KR01NH1261199', 1, 1), ('US02AB9261201', 1, 999)",
        "INSERT INTO serials (serial_number, lot_id, sequence_in_lot) VALUES ('KR01NH1261101999', 1, 999)",
        "INSERT INTO wip_items (wip_id, lot_id, sequence_in_lot) VALUES ('WIP-KR01NH1261101-999', 1, 999)",
        "INSERT INTO lot_sequences VALUES (1, 1, '2612', 99)",
        "INSERT INTO idempotency_keys (user_id, idempotency_key, request_method, request_path, request_hash) VALUES (1, repeat('k', 255), 'POST', '/x', 'h')",
        "UPDATE wip_items SET scrap_reason = repeat('x', 500) WHERE id = 1",
        "UPDATE serials SET scrap_reason = 'x' WHERE id = 1",
    ] {
        succeeds(&pool, good).await;
    }
    // one open record per (serial, process)
    let (code, constraint, _) = fails_with(
        &pool,
        "INSERT INTO process_data (lot_id, serial_id, process_id, operator_id, data_level) VALUES (1, 1, 5, 2, 'SERIAL'), (1, 1, 5, 2, 'SERIAL')",
    )
    .await;
    assert_eq!(
        (code.as_str(), constraint.as_deref()),
        ("23505", Some("idx_process_data_serial_open_unique"))
    );
}

#[sqlx::test(migrations = false)]
async fn status_machines_timestamps_and_immutability(pool: PgPool) {
    head_with_rows(&pool).await;
    sqlx::raw_sql("UPDATE lots SET status = 'COMPLETED' WHERE id = 1; UPDATE lots SET status = 'CLOSED' WHERE id = 1;")
        .execute(&pool)
        .await
        .unwrap();
    let stamps: (bool, bool, bool) =
        sqlx::query_as("SELECT started_at IS NOT NULL, completed_at IS NOT NULL, closed_at IS NOT NULL FROM lots WHERE id = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stamps, (true, true, true));
    let (code, _, msg) =
        fails_with(&pool, "UPDATE lots SET status = 'IN_PROGRESS' WHERE id = 1").await;
    assert_eq!(
        (code.as_str(), msg.as_str()),
        (
            "NH003",
            "lot status transition CLOSED -> IN_PROGRESS is not allowed"
        )
    );
    succeeds(
        &pool,
        "UPDATE lots SET status = 'CLOSED', notes = 'same status is a no-op' WHERE id = 1",
    )
    .await;
    let (code, _, msg) =
        fails_with(&pool, "INSERT INTO serials (serial_number, lot_id, sequence_in_lot) VALUES ('KR01NH1261101005', 1, 5)").await;
    assert_eq!(
        (code.as_str(), msg.as_str()),
        (
            "NH005",
            "lot KR01NH1261101 is CLOSED: no new serial can be added to it"
        )
    );
    let (code, _, _) =
        fails_with(&pool, "INSERT INTO wip_items (wip_id, lot_id, sequence_in_lot) VALUES ('WIP-KR01NH1261101-005', 1, 5)").await;
    assert_eq!(code, "NH005");
    let (_, _, msg) = fails_with(
        &pool,
        "UPDATE serials SET status = 'COMPLETED' WHERE id = 1",
    )
    .await;
    assert_eq!(
        msg,
        "serial status transition CREATED -> COMPLETED is not allowed"
    );
    let (_, _, msg) = fails_with(
        &pool,
        "UPDATE wip_items SET status = 'CONVERTED' WHERE id = 1",
    )
    .await;
    assert_eq!(
        msg,
        "wip_item status transition CREATED -> CONVERTED is not allowed"
    );

    // process_data: duration computed by the server; completed records immutable; open ones can be completed
    let d: Option<i32> =
        sqlx::query_scalar("SELECT duration_seconds FROM process_data WHERE data_level = 'LOT'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(matches!(d, Some(299..=301)), "{d:?}");
    let (code, _, msg) = fails_with(
        &pool,
        "UPDATE process_data SET notes = 'edit' WHERE data_level = 'LOT'",
    )
    .await;
    assert_eq!(code, "NH004", "{msg}");
    let (code, _, _) = fails_with(&pool, "DELETE FROM process_data WHERE data_level = 'LOT'").await;
    assert_eq!(code, "NH004");
    succeeds(
        &pool,
        "UPDATE process_data SET result = 'PASS', completed_at = now() WHERE data_level = 'WIP'",
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn partitions_default_catches_unknown_months_and_ensure_is_idempotent(pool: PgPool) {
    up_to(&pool, None).await;
    let part: String = sqlx::query_scalar(
        "INSERT INTO audit_logs (table_name, action, created_at) VALUES ('t', 'INSERT', '2020-06-15 12:00+00')
         RETURNING tableoid::regclass::text",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(part, "audit_logs_default");
    // 0001 already made every month through three ahead
    assert!(ensure_audit_partitions(&pool, 3).await.unwrap().is_empty());
    let created = ensure_audit_partitions(&pool, 5).await.unwrap();
    assert_eq!(created.len(), 2, "{created:?}");
    assert!(
        ensure_audit_partitions(&pool, 5).await.unwrap().is_empty(),
        "idempotent"
    );
    // a month whose rows already sit in DEFAULT is skipped (warning), never failing, never losing rows
    let month7: String = sqlx::query_scalar(
        "INSERT INTO audit_logs (table_name, action, created_at)
         VALUES ('t', 'INSERT', date_trunc('month', now() AT TIME ZONE 'UTC') + interval '7 months' + interval '1 day')
         RETURNING tableoid::regclass::text",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(month7, "audit_logs_default");
    let created = ensure_audit_partitions(&pool, 8).await.unwrap();
    assert_eq!(
        created.len(),
        2,
        "months +6 and +8 created, +7 skipped: {created:?}"
    );
    let in_default: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs_default")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(in_default, 2);
    let s = neurohub_schema::verify_summary(&pool).await.unwrap();
    assert!(s.ok(), "partitions created ahead are welcome: {s}");
}

#[sqlx::test(migrations = false)]
async fn units_can_be_scrapped_before_they_start_with_a_reason(pool: PgPool) {
    head_with_rows(&pool).await;
    // the seed rows scrapped a CREATED WIP item and a CREATED serial; the reasons are kept
    let scrapped: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT status, scrap_reason FROM wip_items WHERE sequence_in_lot = 6 \
         UNION ALL SELECT status, scrap_reason FROM serials WHERE sequence_in_lot = 7",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        scrapped,
        vec![
            ("SCRAPPED".into(), Some("dropped at receiving".into())),
            ("SCRAPPED".into(), Some("cracked housing".into())),
        ]
    );
    // SCRAPPED stays final; CREATED still cannot jump anywhere else
    let (code, _, msg) = fails_with(
        &pool,
        "UPDATE wip_items SET status = 'IN_PROGRESS' WHERE sequence_in_lot = 6",
    )
    .await;
    assert_eq!(
        (code.as_str(), msg.as_str()),
        (
            "NH003",
            "wip_item status transition SCRAPPED -> IN_PROGRESS is not allowed"
        )
    );
    let (_, _, msg) = fails_with(
        &pool,
        "UPDATE serials SET status = 'FAILED' WHERE sequence_in_lot = 1",
    )
    .await;
    assert_eq!(
        msg,
        "serial status transition CREATED -> FAILED is not allowed"
    );
    succeeds(
        &pool,
        "UPDATE wip_items SET status = 'SCRAPPED', scrap_reason = 'bent pins' WHERE sequence_in_lot = 2",
    )
    .await;
}
