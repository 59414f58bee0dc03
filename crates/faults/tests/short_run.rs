//! The shortened stations-under-faults run of the test suite (the full one is `scripts/reliability.sh`): three
//! stations, two units each (96 acknowledged writes), connections terminated every 150 ms and two cluster
//! restarts (one a crash). Needs the PostgreSQL server binaries (`/usr/lib/postgresql/*/bin`), not DATABASE_URL.

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stations_under_faults_lose_nothing_duplicate_nothing_and_never_see_a_500() {
    let config = neurohub_faults::Config {
        stations: 3,
        units: 2,
        kill_every: Duration::from_millis(150),
        restarts: 2,
        give_up_after: Duration::from_secs(60),
        tamper: None,
    };
    let report = neurohub_faults::run(config).await.expect("run");
    let md = neurohub_faults::markdown(&report, "short_run", "test");
    println!("{md}");
    assert!(report.passed(), "{md}");
    // the faults really happened (else the test proves nothing)
    let f = &report.figures;
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(f.restarts.load(Relaxed), 2, "{md}");
    assert!(f.connections_killed.load(Relaxed) > 0, "{md}");
    assert_eq!(f.acknowledged.load(Relaxed), 96, "{md}");
    assert!(report.invariants.len() >= 7, "{md}");
}

/// The checker is not a rubber stamp: after a small run without faults, the data is damaged in one way per
/// invariant (a duplicated record, two open records of one unit and process, a deleted PASS, a lot count off by
/// one) and each invariant reports it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_reports_each_kind_of_damage() {
    let config = neurohub_faults::Config {
        stations: 1,
        units: 2,
        kill_every: Duration::from_secs(3600),
        restarts: 0,
        give_up_after: Duration::from_secs(60),
        // the database's own guard (one open record per unit and process) goes first, so the damage can be made
        tamper: Some(
            "DROP INDEX idx_process_data_wip_unique; \
             INSERT INTO process_data (lot_id, wip_id, serial_id, process_id, operator_id, data_level, result, \
                                       started_at, completed_at) \
             SELECT lot_id, wip_id, serial_id, process_id, operator_id, data_level, result, started_at, completed_at \
               FROM process_data WHERE id = (SELECT min(id) FROM process_data); \
             INSERT INTO process_data (lot_id, wip_id, process_id, operator_id, data_level, started_at) \
             SELECT lot_id, wip_id, process_id, operator_id, data_level, now() FROM process_data \
              WHERE id = (SELECT max(id) FROM process_data WHERE data_level = 'WIP') \
             UNION ALL \
             SELECT lot_id, wip_id, process_id, operator_id, data_level, now() FROM process_data \
              WHERE id = (SELECT max(id) FROM process_data WHERE data_level = 'WIP'); \
             DELETE FROM process_data WHERE id = (SELECT x.id FROM process_data x JOIN processes p ON p.id = x.process_id \
                                                   WHERE p.process_number = 3 ORDER BY x.id DESC LIMIT 1); \
             UPDATE lots SET target_quantity = target_quantity + 1;"
                .into(),
        ),
    };
    let report = neurohub_faults::run(config).await.expect("run");
    let all = report.violations.join("\n");
    for invariant in [
        "acknowledged write present",
        "exactly once",
        "no two open records per unit and process",
        "no record left open",
        "no record whose predecessor lacks a PASS",
        "lot counts equal their units",
    ] {
        assert!(
            report.violations.iter().any(|v| v.starts_with(invariant)),
            "{invariant} did not report: {all}"
        );
    }
    assert!(!report.passed());
}
