//! `jobs::run_exclusive`: one node at a time per job name, the lock released after the run (and after a panic).

use neurohub_core::jobs::run_exclusive;
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn a_job_runs_on_one_node_at_a_time_and_releases_its_lock(pool: PgPool) {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
    let p = pool.clone();
    let first = tokio::spawn(async move {
        run_exclusive(&p, "test.job", || async move {
            started_tx.send(()).unwrap();
            finish_rx.await.unwrap();
            1
        })
        .await
        .unwrap()
    });
    started_rx.await.unwrap();
    // another "node" (another session of the same database) skips while the first holds the lock
    let second = run_exclusive(&pool, "test.job", || async { 2 })
        .await
        .unwrap();
    assert_eq!(second, None);
    // a job of another name is not blocked
    assert_eq!(
        run_exclusive(&pool, "test.other", || async { 3 })
            .await
            .unwrap(),
        Some(3)
    );
    finish_tx.send(()).unwrap();
    assert_eq!(first.await.unwrap(), Some(1));
    // released: the next run takes it, and no session still holds an advisory lock
    assert_eq!(
        run_exclusive(&pool, "test.job", || async { 4 })
            .await
            .unwrap(),
        Some(4)
    );
    let held: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(held, 0);
}

#[sqlx::test(migrations = false)]
async fn a_panicking_job_does_not_keep_the_lock(pool: PgPool) {
    let p = pool.clone();
    let r = tokio::spawn(async move {
        run_exclusive(&p, "test.panics", || async { panic!("job failed") })
            .await
            .map(|_: Option<()>| ())
    })
    .await;
    assert!(r.is_err(), "the job panicked");
    // the lock's session was closed, not returned to the pool holding the lock
    let mut got = None;
    for _ in 0..50 {
        got = run_exclusive(&pool, "test.panics", || async { 5 })
            .await
            .unwrap();
        if got.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(got, Some(5));
}
