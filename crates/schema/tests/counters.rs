//! Migration 0011's counters (`lot_unit_counts`, `unit_wip_positions`, `lot_process_wip`): the triggers keep them
//! equal to a recount through every kind of change, and without any one of the triggers the same changes leave
//! them wrong and MES-COUNTERS (`counter_mismatches`) says so.
mod common;

use common::*;
use neurohub_schema::verify::mes::counter_mismatches;
use sqlx::PgPool;

/// After [`SEED_ROWS`]: new units, a unit started, a record completed (no unit change after it), a failure, a
/// WIP item converted to a serial, a unit deleted, an open record deleted, and last a process deactivated (which
/// moves the units waiting for it).
const CHANGES: &str = r#"
INSERT INTO wip_items (wip_id, lot_id, sequence_in_lot)
VALUES ('WIP-KR01NH1261101-003', 1, 3), ('WIP-KR01NH1261101-004', 1, 4), ('WIP-KR01NH1261101-005', 1, 5);
UPDATE wip_items SET status = 'IN_PROGRESS' WHERE lot_id = 1 AND status = 'CREATED';
UPDATE process_data SET result = 'PASS', completed_at = now() WHERE wip_id = 1 AND completed_at IS NULL;
INSERT INTO process_data (lot_id, wip_id, process_id, operator_id, data_level, started_at)
SELECT 1, id, 1, 2, 'WIP', now() - interval '3 minutes' FROM wip_items WHERE wip_id = 'WIP-KR01NH1261101-005';
INSERT INTO process_data (lot_id, wip_id, process_id, operator_id, data_level, result, defects, started_at, completed_at)
SELECT 1, id, 1, 2, 'WIP', 'FAIL', '[{"code": "SCRATCH", "severity": "MINOR"}]', now() - interval '2 minutes', now()
  FROM wip_items WHERE wip_id = 'WIP-KR01NH1261101-003';
UPDATE wip_items SET status = 'FAILED' WHERE wip_id = 'WIP-KR01NH1261101-003';
INSERT INTO process_data (lot_id, wip_id, process_id, operator_id, data_level, result, started_at, completed_at)
SELECT 1, id, 1, 2, 'WIP', 'PASS', now() - interval '2 minutes', now() FROM wip_items WHERE wip_id = 'WIP-KR01NH1261101-004';
INSERT INTO serials (serial_number, lot_id, sequence_in_lot) VALUES ('KR01NH1261101004', 1, 4);
UPDATE wip_items SET status = 'CONVERTED', serial_id = (SELECT id FROM serials WHERE serial_number = 'KR01NH1261101004')
 WHERE wip_id = 'WIP-KR01NH1261101-004';
INSERT INTO wip_items (wip_id, lot_id, sequence_in_lot) VALUES ('WIP-KR01NH1261102-001', 2, 1), ('WIP-KR01NH1261102-002', 2, 2);
DELETE FROM wip_items WHERE wip_id = 'WIP-KR01NH1261102-002';
DELETE FROM process_data WHERE completed_at IS NULL
   AND wip_id = (SELECT id FROM wip_items WHERE wip_id = 'WIP-KR01NH1261101-005');
UPDATE processes SET is_active = false WHERE process_number = 1;
"#;

/// The counting triggers of 0011, as `DROP TRIGGER` targets.
const TRIGGERS: &[&str] = &[
    "trg_wip_items_counts ON wip_items",
    "trg_serials_counts ON serials",
    "trg_process_data_counts ON process_data",
    "trg_processes_counts ON processes",
];

/// Run [`CHANGES`] in a transaction, without `dropped` if given; the mismatches found and the open WIP as
/// (lot, process number, in_process, waiting, failed); rolled back.
async fn run_changes(
    pool: &PgPool,
    dropped: Option<&str>,
) -> (Vec<String>, Vec<(i64, i32, i64, i64, i64)>) {
    let mut tx = pool.begin().await.unwrap();
    if let Some(t) = dropped {
        sqlx::raw_sql(&format!("DROP TRIGGER {t}"))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    sqlx::raw_sql(CHANGES).execute(&mut *tx).await.unwrap();
    let off = counter_mismatches(&mut tx).await.unwrap();
    let wip = sqlx::query_as(
        "SELECT c.lot_id, p.process_number, c.in_process, c.waiting, c.failed
           FROM lot_process_wip c JOIN processes p ON p.id = c.process_id ORDER BY 1, 2",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    (off, wip)
}

#[sqlx::test(migrations = false)]
async fn counters_follow_every_change_and_each_dropped_trigger_is_caught(pool: PgPool) {
    up_to(&pool, None).await;
    seed_rows(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        counter_mismatches(&mut conn).await.unwrap(),
        Vec::<String>::new()
    );
    let counts: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT wip_created, wip_scrapped, serial_created, serial_scrapped FROM lot_unit_counts WHERE lot_id = 1",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(counts, (1, 1, 1, 1));
    drop(conn);

    let (off, wip) = run_changes(&pool, None).await;
    assert_eq!(off, Vec::<String>::new());
    // lot 1: WIP 3 failed at 1; WIP 5 (its open record deleted), serial 1 and serial 4 wait at 2 (1 is inactive
    // now); WIP 1 passed 2 and waits at 3. Lot 2: its remaining WIP item waits at 2.
    assert_eq!(
        wip,
        vec![
            (1, 1, 0, 0, 1),
            (1, 2, 0, 3, 0),
            (1, 3, 0, 1, 0),
            (2, 2, 0, 1, 0)
        ]
    );

    for t in TRIGGERS {
        let (off, _) = run_changes(&pool, Some(t)).await;
        assert!(
            !off.is_empty(),
            "without {t} the counters still equal a recount"
        );
    }
}
