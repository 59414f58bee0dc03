//! Stations under faults (issue 13, "The test programs").
//!
//! [`run`] starts a private PostgreSQL cluster ([`Cluster`], from `neurohub-pgcluster`), deploys the schema, starts the real server
//! in process (the same router, pools, revocation listener and request role as `neurohub serve`) on loopback, and
//! lets N simulated stations walk their units through the 8 processes over HTTP. Every write carries an
//! `Idempotency-Key` that its retries reuse; a station retries on a transport error or a 503 and records each
//! acknowledged write. Meanwhile a fault task terminates the server's database connections
//! (`pg_terminate_backend`) every `kill_every` and restarts the cluster (`fast`, then `immediate` = a crash) as
//! the acknowledged writes pass 1/3 and 2/3 of the run. Afterwards [`check`] proves the invariants on the
//! database: every acknowledged write present exactly once, no duplicate numbers, no two open records per unit
//! and process, no record whose predecessor lacks a PASS, lot counts equal their units; and no 500 was answered.

use anyhow::{anyhow, bail, Context, Result};
use neurohub_core::auth::tokens::TokenKeys;
use neurohub_core::auth::Role;
use neurohub_core::{AppState, Settings};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use neurohub_pgcluster::StopMode;
/// The throw-away cluster of a run (a temporary folder, a free loopback port, deleted on drop).
pub use neurohub_pgcluster::TempCluster as Cluster;

/// The size of a run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Simulated stations, each with its own operator, lot and units.
    pub stations: usize,
    /// Units per station (its lot's size); each unit is 8 starts and 8 completions.
    pub units: usize,
    /// How often the fault task terminates the server's connections.
    pub kill_every: Duration,
    /// Cluster restarts during the run (alternating fast / immediate); at least two for the issue's bar.
    pub restarts: usize,
    /// A write that has not been acknowledged after this long fails the run.
    pub give_up_after: Duration,
    /// SQL run (as superuser, triggers off) after the stations finish and before the checks: the test of the
    /// checker itself damages the data this way and expects each invariant to report it. `None` in real runs.
    pub tamper: Option<String>,
}

impl Config {
    /// Acknowledged writes a complete run makes.
    pub fn expected_writes(&self) -> u64 {
        (self.stations * self.units * 16) as u64
    }
}

/// What happened, for the report.
#[derive(Debug, Default)]
pub struct Figures {
    pub requests: AtomicU64,
    pub acknowledged: AtomicU64,
    pub replays: AtomicU64,
    pub retries: AtomicU64,
    pub transport_errors: AtomicU64,
    pub status_503: AtomicU64,
    /// 5xx other than 503 (500s): must stay zero.
    pub status_5xx: AtomicU64,
    pub kill_rounds: AtomicU64,
    pub connections_killed: AtomicU64,
    pub restarts: AtomicU64,
}

/// One acknowledged write: the process-data record it made or completed.
#[derive(Debug, Clone)]
struct Ack {
    record_id: i64,
    wip: String,
    process_number: i32,
    completed: bool,
}

/// The outcome of [`run`] and [`check`].
#[derive(Debug)]
pub struct Report {
    pub config: Config,
    pub figures: Figures,
    /// Invariants checked, with the rows each examined.
    pub invariants: Vec<(String, i64)>,
    /// Every violation found (empty: the run proves the invariants).
    pub violations: Vec<String>,
    pub elapsed: Duration,
    pub postgres_version: String,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Measurements that meet the seeded quality criteria of each process.
fn good(process_number: i32) -> Value {
    match process_number {
        1 => json!({"marking_depth_um": 30, "legibility_score": 95}),
        2 => json!({"torque_nm": 2.0, "gap_mm": 0.1}),
        3 => json!({"offset_mv": 0, "noise_mv": 1}),
        4 => json!({"checksum_ok": true}),
        5 => json!({"screw_torque_nm": 1.0}),
        6 => json!({"max_speed_rpm": 3000, "current_a": 1.2}),
        7 => json!({"barcode_grade": 4}),
        _ => json!({"visual_defects": 0}),
    }
}

struct Station {
    client: reqwest::Client,
    base: String,
    token: String,
    figures: Arc<Figures>,
    acks: Arc<Mutex<Vec<Ack>>>,
    give_up_after: Duration,
    unexpected: Arc<Mutex<Vec<String>>>,
}

impl Station {
    /// POST `body` with one Idempotency-Key until it is acknowledged (2xx): transport errors and 503 are
    /// retried with the same key; a 500 is counted (a violation) and retried; any other answer fails the write.
    async fn write(&self, path: &str, body: &Value) -> Result<Value> {
        let key = uuid::Uuid::new_v4().to_string();
        let started = Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            if started.elapsed() > self.give_up_after {
                bail!("{path}: not acknowledged after {:?}", self.give_up_after);
            }
            self.figures.requests.fetch_add(1, Relaxed);
            let sent = self
                .client
                .post(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .header("idempotency-key", &key)
                .json(body)
                .send()
                .await;
            let res = match sent {
                Ok(res) => res,
                Err(_) => {
                    self.figures.transport_errors.fetch_add(1, Relaxed);
                    self.retry(&mut pause).await;
                    continue;
                }
            };
            let status = res.status().as_u16();
            let replay = res.headers().contains_key("idempotent-replay");
            let text = res.text().await.unwrap_or_default();
            match status {
                200..=299 => {
                    if replay {
                        self.figures.replays.fetch_add(1, Relaxed);
                    }
                    self.figures.acknowledged.fetch_add(1, Relaxed);
                    return serde_json::from_str(&text).context("acknowledged body is not JSON");
                }
                503 => {
                    self.figures.status_503.fetch_add(1, Relaxed);
                    self.retry(&mut pause).await;
                }
                500..=599 => {
                    self.figures.status_5xx.fetch_add(1, Relaxed);
                    self.unexpected
                        .lock()
                        .unwrap()
                        .push(format!("{status} on {path}: {text}"));
                    self.retry(&mut pause).await;
                }
                _ => bail!("{status} on {path} {body}: {text}"),
            }
        }
    }

    async fn retry(&self, pause: &mut Duration) {
        self.figures.retries.fetch_add(1, Relaxed);
        tokio::time::sleep(*pause).await;
        *pause = (*pause * 2).min(Duration::from_millis(800));
    }

    /// Walk every unit of `lot_number` through the 8 processes (each process: start, then PASS).
    async fn walk(&self, lot_number: &str, units: usize) -> Result<()> {
        for seq in 1..=units {
            let wip = format!("WIP-{lot_number}-{seq:03}");
            for p in 1..=8 {
                let started = self
                    .write(
                        "/api/v1/process-data/start",
                        &json!({"process_number": p, "unit": {"wip_id": wip}}),
                    )
                    .await?;
                let id = started["id"]
                    .as_i64()
                    .ok_or_else(|| anyhow!("start answered without id: {started}"))?;
                self.acks.lock().unwrap().push(Ack {
                    record_id: id,
                    wip: wip.clone(),
                    process_number: p,
                    completed: false,
                });
                self.write(
                    &format!("/api/v1/process-data/{id}/complete"),
                    &json!({"result": "PASS", "measurements": good(p)}),
                )
                .await?;
                self.acks.lock().unwrap().push(Ack {
                    record_id: id,
                    wip: wip.clone(),
                    process_number: p,
                    completed: true,
                });
            }
        }
        Ok(())
    }
}

/// Terminate every client connection to `neurohub` but our own; returns how many.
async fn kill_connections(url: &str) -> Result<u64> {
    use sqlx::Connection;
    let mut conn =
        tokio::time::timeout(Duration::from_secs(2), sqlx::PgConnection::connect(url)).await??;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
          WHERE datname = 'neurohub' AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
    )
    .fetch_one(&mut conn)
    .await?;
    let _ = conn.close().await;
    Ok(n as u64)
}

/// Set up, run the stations under faults, and check. `Err` only when the run could not be carried out (no
/// cluster, setup failed); violations are in the report.
pub async fn run(config: Config) -> Result<Report> {
    let started = Instant::now();
    let cluster = Arc::new(tokio::task::spawn_blocking(Cluster::start).await??);
    let admin_url = cluster.url("postgres");
    let db_url = cluster.url("neurohub");
    {
        let admin = PgPool::connect(&admin_url).await?;
        sqlx::query("CREATE DATABASE neurohub")
            .execute(&admin)
            .await?;
        admin.close().await;
    }
    let owner = neurohub_core::db::connect(
        &db_url,
        &neurohub_core::db::PoolConfig {
            max_connections: 4,
            min_connections: 0,
            ..Default::default()
        },
    )
    .await?;
    neurohub_schema::up(
        &owner,
        None,
        &neurohub_schema::Timeouts::default(),
        &mut |_| {},
    )
    .await
    .map_err(|e| anyhow!("deploy: {e}"))?;
    let postgres_version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&owner)
        .await?;

    // the server, as `neurohub serve` builds it
    let request_pool = neurohub_core::db::request_pool(
        &owner,
        &neurohub_core::db::PoolConfig {
            max_connections: (config.stations as u32 + 2).min(32),
            ..Default::default()
        },
    )
    .await?;
    let keys = TokenKeys::new(
        b"stations under faults: a throwaway signing key",
        Duration::from_secs(3600),
        Duration::from_secs(3600),
    );
    let state = AppState::new(request_pool.clone(), keys, Settings::default())
        .with_extension(neurohub_mes::settings::MesSettings::default());
    let _listener = neurohub_server::spawn_revocation_listener(&state);
    let app = neurohub_server::app(state.clone(), &neurohub_server::HttpOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move {
        let _ = neurohub_server::serve(listener, app, std::future::pending()).await;
    });

    // master data, users and lots (before the faults: POST /lots takes no idempotency key)
    let model: i64 = sqlx::query_scalar(
        "INSERT INTO product_models (model_code, model_name) VALUES ('PSA', 'Model PSA') RETURNING id",
    )
    .fetch_one(&owner)
    .await?;
    let line: i64 = sqlx::query_scalar(
        "INSERT INTO production_lines (country_code, line_code, name) VALUES ('KR', '01', 'Line KR01') RETURNING id",
    )
    .fetch_one(&owner)
    .await?;
    let hash = neurohub_core::auth::password::hash_password("stations under faults, unused")
        .map_err(|e| anyhow!("{e}"))?;
    let mut tokens = Vec::new();
    for i in 0..=config.stations {
        let (username, role) = if i == 0 {
            ("manager".to_string(), Role::Manager)
        } else {
            (format!("station{i}"), Role::Operator)
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, full_name, password_hash, role) VALUES ($1, $1, $2, $3) RETURNING id",
        )
        .bind(&username)
        .bind(&hash)
        .bind(role.as_str())
        .fetch_one(&owner)
        .await?;
        let (token, _) = state
            .tokens
            .issue_access(id, &username, role)
            .map_err(|e| anyhow!("{e}"))?;
        tokens.push(token);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()?;
    let mut lots = Vec::new();
    for _ in 0..config.stations {
        let res = client
            .post(format!("{base}/api/v1/lots"))
            .bearer_auth(&tokens[0])
            .json(
                &json!({"product_model_id": model, "production_line_id": line,
                          "target_quantity": config.units}),
            )
            .send()
            .await?;
        let status = res.status();
        let body: Value = res.json().await?;
        if !status.is_success() {
            bail!("POST /lots: {status} {body}");
        }
        lots.push(body["lot_number"].as_str().unwrap_or_default().to_string());
    }

    // the stations and the faults
    let figures = Arc::new(Figures::default());
    let acks = Arc::new(Mutex::new(Vec::new()));
    let unexpected = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicBool::new(false));
    let faults = {
        let figures = figures.clone();
        let done = done.clone();
        let cluster = cluster.clone();
        let config = config.clone();
        let kill_url = db_url.clone();
        tokio::spawn(async move {
            let expected = config.expected_writes();
            let mut restarted = 0usize;
            let mut errors = Vec::new();
            let tick = Duration::from_millis(25).min(config.kill_every);
            let mut last_kill = Instant::now();
            while !done.load(Relaxed) {
                tokio::time::sleep(tick).await;
                let acked = figures.acknowledged.load(Relaxed);
                let due = restarted < config.restarts
                    && acked * (config.restarts as u64 + 1) >= expected * (restarted as u64 + 1);
                if due {
                    let mode = if restarted % 2 == 0 {
                        StopMode::Fast
                    } else {
                        StopMode::Immediate
                    };
                    let c = cluster.clone();
                    match tokio::task::spawn_blocking(move || c.restart(mode)).await {
                        Ok(Ok(())) => {
                            restarted += 1;
                            figures.restarts.fetch_add(1, Relaxed);
                        }
                        Ok(Err(e)) => errors.push(format!("restart ({mode:?}): {e}")),
                        Err(e) => errors.push(format!("restart ({mode:?}): {e}")),
                    }
                    continue;
                }
                if last_kill.elapsed() < config.kill_every {
                    continue;
                }
                last_kill = Instant::now();
                if let Ok(n) = kill_connections(&kill_url).await {
                    figures.kill_rounds.fetch_add(1, Relaxed);
                    figures.connections_killed.fetch_add(n, Relaxed);
                }
            }
            errors
        })
    };
    let mut walks = Vec::new();
    for (i, lot) in lots.iter().enumerate() {
        let station = Station {
            client: client.clone(),
            base: base.clone(),
            token: tokens[i + 1].clone(),
            figures: figures.clone(),
            acks: acks.clone(),
            give_up_after: config.give_up_after,
            unexpected: unexpected.clone(),
        };
        let lot = lot.clone();
        let units = config.units;
        walks.push(tokio::spawn(async move { station.walk(&lot, units).await }));
    }
    let mut violations = Vec::new();
    for (i, w) in walks.into_iter().enumerate() {
        match w.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => violations.push(format!("station {}: {e:#}", i + 1)),
            Err(e) => violations.push(format!("station {}: {e}", i + 1)),
        }
    }
    done.store(true, Relaxed);
    violations.extend(faults.await.unwrap_or_default());
    server.abort();
    violations.extend(unexpected.lock().unwrap().iter().cloned());

    let restarts = figures.restarts.load(Relaxed) as usize;
    if restarts < config.restarts {
        violations.push(format!(
            "only {restarts} of {} restarts happened while stations worked",
            config.restarts
        ));
    }
    let acks = acks.lock().unwrap().clone();
    if let Some(sql) = &config.tamper {
        let mut tx = owner.begin().await?;
        sqlx::query("SET LOCAL session_replication_role = replica")
            .execute(&mut *tx)
            .await?;
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        tx.commit().await?;
    }
    let (invariants, found) = check(&owner, &config, &acks, &figures).await?;
    violations.extend(found);
    owner.close().await;
    request_pool.close().await;
    drop(cluster);
    Ok(Report {
        config,
        figures: Arc::try_unwrap(figures).unwrap_or_default(),
        invariants,
        violations,
        elapsed: started.elapsed(),
        postgres_version,
    })
}

/// The invariants, each one SQL statement over the whole database (after the run, on the recovered cluster).
/// Returns (name, rows examined) per invariant and the violations.
async fn check(
    db: &PgPool,
    config: &Config,
    acks: &[Ack],
    figures: &Figures,
) -> Result<(Vec<(String, i64)>, Vec<String>)> {
    let mut checked = Vec::new();
    let mut violations = Vec::new();
    // unit = the WIP item, also for records made after its conversion to a serial
    const RECORDS: &str = "WITH r AS (
        SELECT x.id, x.lot_id, COALESCE(x.wip_id, w.id) AS unit, p.process_number, x.result, x.started_at,
               x.completed_at
          FROM process_data x JOIN processes p ON p.id = x.process_id
          LEFT JOIN wip_items w ON w.serial_id = x.serial_id AND x.wip_id IS NULL
         WHERE x.data_level <> 'LOT')";

    fn expect_zero(
        checked: &mut Vec<(String, i64)>,
        violations: &mut Vec<String>,
        name: &str,
        examined: i64,
        bad: i64,
        what: String,
    ) {
        checked.push((name.to_string(), examined));
        if bad != 0 {
            violations.push(format!("{name}: {bad} {what}"));
        }
    }

    // 1. every acknowledged write present, exactly once
    let ids: Vec<i64> = acks.iter().map(|a| a.record_id).collect();
    let wips: Vec<String> = acks.iter().map(|a| a.wip.clone()).collect();
    let procs: Vec<i32> = acks.iter().map(|a| a.process_number).collect();
    let completed: Vec<bool> = acks.iter().map(|a| a.completed).collect();
    let missing: i64 = sqlx::query_scalar(&format!(
        "{RECORDS} SELECT count(*) FROM unnest($1::bigint[], $2::text[], $3::int[], $4::bool[]) AS a (id, wip, pn, done)
           LEFT JOIN wip_items w ON w.wip_id = a.wip
           LEFT JOIN r ON r.id = a.id AND r.unit = w.id AND r.process_number = a.pn
          WHERE r.id IS NULL OR (a.done AND (r.completed_at IS NULL OR r.result IS DISTINCT FROM 'PASS'))"
    ))
    .bind(&ids)
    .bind(&wips)
    .bind(&procs)
    .bind(&completed)
    .fetch_one(db)
    .await?;
    expect_zero(
        &mut checked,
        &mut violations,
        "acknowledged write present (record, unit, process, PASS when completed)",
        acks.len() as i64,
        missing,
        "acknowledged writes missing or different".into(),
    );
    let acked = acks.len() as u64;
    if acked != config.expected_writes() {
        violations.push(format!(
            "acknowledged {acked} writes, the walk makes {}",
            config.expected_writes()
        ));
    }
    let (records, dup_units): (i64, i64) = sqlx::query_as(&format!(
        "{RECORDS} SELECT (SELECT count(*) FROM r),
                (SELECT count(*) FROM (SELECT 1 FROM r GROUP BY unit, process_number HAVING count(*) > 1) d)"
    ))
    .fetch_one(db)
    .await?;
    let started_acks = acks.iter().filter(|a| !a.completed).count() as i64;
    expect_zero(
        &mut checked,
        &mut violations,
        "exactly once: one record per acknowledged start, one per unit and process",
        records,
        dup_units + (records - started_acks).abs(),
        format!("duplicated (records {records}, acknowledged starts {started_acks})"),
    );

    // 2. no duplicate numbers
    let (numbers, dups): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM lots) + (SELECT count(*) FROM wip_items) + (SELECT count(*) FROM serials),
                (SELECT count(*) - count(DISTINCT lot_number) FROM lots)
              + (SELECT count(*) - count(DISTINCT wip_id) FROM wip_items)
              + (SELECT count(*) - count(DISTINCT serial_number) FROM serials)",
    )
    .fetch_one(db)
    .await?;
    expect_zero(
        &mut checked,
        &mut violations,
        "no duplicate lot, WIP or serial numbers",
        numbers,
        dups,
        "duplicate numbers".into(),
    );

    // 3. no two open records per unit and process (and none left open: every walk finished)
    let (open_groups, open): (i64, i64) = sqlx::query_as(&format!(
        "{RECORDS} SELECT (SELECT count(*) FROM (SELECT 1 FROM r WHERE completed_at IS NULL
                                                GROUP BY unit, process_number HAVING count(*) > 1) d),
                          (SELECT count(*) FROM r WHERE completed_at IS NULL)"
    ))
    .fetch_one(db)
    .await?;
    expect_zero(
        &mut checked,
        &mut violations,
        "no two open records per unit and process",
        records,
        open_groups,
        "units with two open records of one process".into(),
    );
    expect_zero(
        &mut checked,
        &mut violations,
        "no record left open",
        records,
        open,
        "records still open".into(),
    );

    // 4. every record's predecessor process has a PASS for the same unit, completed before it started
    let orphans: i64 = sqlx::query_scalar(&format!(
        "{RECORDS} SELECT count(*) FROM r WHERE r.process_number > 1 AND NOT EXISTS (
             SELECT 1 FROM r q WHERE q.unit = r.unit AND q.process_number = r.process_number - 1
                AND q.result = 'PASS' AND q.completed_at <= r.started_at)"
    ))
    .fetch_one(db)
    .await?;
    expect_zero(
        &mut checked,
        &mut violations,
        "no record whose predecessor lacks a PASS",
        records,
        orphans,
        "records without a PASS of the previous process".into(),
    );

    // 5. lot counts equal their units; every unit became a serial and every lot completed
    let (lots, wrong): (i64, i64) = sqlx::query_as(
        "SELECT count(*),
                count(*) FILTER (WHERE l.target_quantity <> (SELECT count(*) FROM wip_items w WHERE w.lot_id = l.id)
                                    OR (SELECT count(*) FROM serials s WHERE s.lot_id = l.id)
                                       <> (SELECT count(*) FROM wip_items w WHERE w.lot_id = l.id AND w.serial_id IS NOT NULL)
                                    OR (SELECT count(*) FROM serials s WHERE s.lot_id = l.id) <> l.target_quantity
                                    OR l.status <> 'COMPLETED')
           FROM lots l",
    )
    .fetch_one(db)
    .await?;
    expect_zero(
        &mut checked,
        &mut violations,
        "lot counts equal their units (WIP items, serials, COMPLETED)",
        lots,
        wrong,
        "lots whose counts differ from their units".into(),
    );
    if lots != config.stations as i64 {
        violations.push(format!("{lots} lots, {} created", config.stations));
    }

    // 6. no 500
    let requests = figures.requests.load(Relaxed) as i64;
    expect_zero(
        &mut checked,
        &mut violations,
        "no 500 answered",
        requests,
        figures.status_5xx.load(Relaxed) as i64,
        "5xx other than 503".into(),
    );
    Ok((checked, violations))
}

/// The report as markdown for docs/reliability.md.
pub fn markdown(r: &Report, command: &str, commit: &str) -> String {
    let f = &r.figures;
    let g = |a: &AtomicU64| a.load(Relaxed);
    let mut s = String::new();
    s.push_str("# Reliability: stations under faults\n\n");
    s.push_str(
        "Written by `scripts/reliability.sh` (the `stations-under-faults` program of `crates/faults`); do not edit\n\
         by hand. The program starts a private PostgreSQL cluster (`initdb` / `pg_ctl` in a temporary directory, on\n\
         a free port), deploys the schema, starts the server in process on loopback, and lets simulated stations\n\
         walk their units through the 8 processes with retries that reuse one `Idempotency-Key` per write, while\n\
         the server's database connections are terminated (`pg_terminate_backend`) over and over and the cluster is\n\
         restarted (clean, then crash). An invariant checker then examines the whole database. A shortened run\n\
         (`crates/faults/tests/short_run.rs`) is part of `cargo nextest run --workspace`.\n\n",
    );
    s.push_str(&format!(
        "| | |\n|---|---|\n| date (UTC) | {} |\n| commit | `{commit}` |\n| command | `{command}` |\n\
         | PostgreSQL | {} |\n| stations × units | {} × {} |\n| duration | {:.1} s |\n\
         | requests sent | {} |\n| acknowledged writes | {} |\n| retries (same key) | {} |\n\
         | answers replayed from the idempotency store | {} |\n| transport errors seen by stations | {} |\n\
         | 503 answered (with Retry-After) | {} |\n| **5xx other than 503** | **{}** |\n\
         | connection-kill rounds | {} |\n| connections terminated | {} |\n| cluster restarts | {} |\n\
         | faults injected (terminated connections + restarts) | {} |\n| invariants checked | {} |\n\
         | **violations** | **{}** |\n\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S"),
        r.postgres_version,
        r.config.stations,
        r.config.units,
        r.elapsed.as_secs_f64(),
        g(&f.requests),
        g(&f.acknowledged),
        g(&f.retries),
        g(&f.replays),
        g(&f.transport_errors),
        g(&f.status_503),
        g(&f.status_5xx),
        g(&f.kill_rounds),
        g(&f.connections_killed),
        g(&f.restarts),
        g(&f.connections_killed) + g(&f.restarts),
        r.invariants.len(),
        r.violations.len(),
    ));
    s.push_str("## Invariants (rows examined)\n\n");
    for (name, n) in &r.invariants {
        s.push_str(&format!("- {name}: {n}\n"));
    }
    s.push_str("\n## Violations\n\n");
    if r.violations.is_empty() {
        s.push_str("None.\n");
    } else {
        for v in &r.violations {
            s.push_str(&format!("- {v}\n"));
        }
    }
    s
}
