//! Reads on a streaming replica, writes on the primary, with a real replica on loopback: a private primary and a
//! `pg_basebackup -R` hot standby of it (crates/pgcluster, two free ports), the schema deployed on the primary,
//! and the built `neurohub serve` binary with `--database-url` on the primary and `--database-read-url` on the
//! replica.
//!
//! What it shows: writes go through the API to the primary; a list is served by the replica (with the replica's
//! replay paused, a row just written is not in the list while the lag is under `--database-read-max-lag`); once
//! the lag passes the limit the reads fall back to the primary (the row is there; /health and /metrics say so);
//! with the replica stopped reads still answer 200 from the primary; restarted, reads return to the replica.
//! Each transition is logged once, not per request, and counted.
//!
//! The clusters are stopped and deleted by their Drop guards and the server is killed by its own, on every exit
//! path (the server also dies with the test process: PR_SET_PDEATHSIG).

use neurohub_core::auth::password::hash_password;
use neurohub_pgcluster::{StopMode, TempCluster};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "reads on a replica, writes on the primary, 32+ bytes";
const PASSWORD: &str = "replica test password";
/// `--database-read-max-lag` of the test: long enough that a list right after a write sees the paused replica.
const MAX_LAG: &str = "3s";

/// The running `neurohub serve`: its address and every line it printed; killed on drop.
struct Server {
    child: Child,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(primary: &str, replica: &str) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_neurohub"));
        #[cfg(target_os = "linux")]
        unsafe {
            use std::os::unix::process::CommandExt;
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .env("DATABASE_URL", primary)
            .env("NEUROHUB_DATABASE_READ_URL", replica)
            .env("NEUROHUB_DATABASE_READ_MAX_LAG", MAX_LAG)
            .env("NEUROHUB_DATABASE_READ_CHECK_INTERVAL", "100ms")
            .env("NEUROHUB_DB_ACQUIRE_TIMEOUT", "2s")
            .env("NEUROHUB_JWT_SECRET", SECRET)
            .env("NEUROHUB_LOG", "warn,neurohub_core=info")
            .env("NEUROHUB_VERIFY_INTERVAL", "0")
            .env_remove("NEUROHUB_DEV")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start neurohub serve");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let lines = lines.clone();
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(base) = line.strip_prefix("NeuroHub listening on ") {
                        if let Some(tx) = tx.take() {
                            let _ =
                                tx.send(base.split_whitespace().next().unwrap_or("").to_string());
                        }
                    }
                    lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
            });
        }
        let mut server = Server {
            child,
            base: String::new(),
            lines,
        };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => server.base = base,
            Err(_) => panic!("serve did not start:\n{}", server.output()),
        }
        server
    }

    fn output(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// JSON log lines whose message starts with `prefix`.
    fn logged(&self, prefix: &str) -> usize {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| {
                v["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(prefix))
            })
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- serve output ---\n{}", self.output());
        }
    }
}

/// Poll `check` (bounded) until it holds: waits for replication and for the lag probe, never a timing assertion.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn neurohub(url: &str, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_neurohub"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("NEUROHUB_LOG", "warn")
        .env(
            "NEUROHUB_BACKUP_DIR",
            std::env::temp_dir().join("neurohub-replica-test-backups"),
        )
        .output()
        .expect("run neurohub");
    assert!(
        out.status.success(),
        "neurohub {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Api {
    client: reqwest::Client,
    server: Server,
    token: String,
}

impl Api {
    async fn health(&self) -> Value {
        let res = self
            .client
            .get(self.server.url("/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "health stays 200 whatever the replica");
        res.json().await.unwrap()
    }

    async fn reads_on(&self) -> String {
        self.health().await["replica"]["reads_on"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn metric(&self, name: &str) -> Option<f64> {
        let text = self
            .client
            .get(self.server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
    }

    /// The line codes the production-line list answers (asserting 200).
    async fn line_codes(&self) -> Vec<String> {
        let res = self
            .client
            .get(self.server.url("/api/v1/production-lines?limit=100"))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "the list answers");
        let body: Value = res.json().await.unwrap();
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|l| l["line_code"].as_str().unwrap().to_string())
            .collect()
    }

    /// `GET /production-lines/{id}`: one record by id, always on the primary.
    async fn line_status(&self, id: i64) -> u16 {
        self.client
            .get(self.server.url(&format!("/api/v1/production-lines/{id}")))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// A write through the API (the primary); the new line's id.
    async fn add_line(&self, code: &str) -> i64 {
        let res = self
            .client
            .post(self.server.url("/api/v1/production-lines"))
            .bearer_auth(&self.token)
            .json(&json!({"country_code": "KR", "line_code": code, "name": format!("Line {code}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }
}

async fn replay_paused(replica: &sqlx::PgPool) -> bool {
    sqlx::query_scalar::<_, String>("SELECT pg_get_wal_replay_pause_state()")
        .fetch_one(replica)
        .await
        .unwrap()
        == "paused"
}

/// With the replica's replay paused, a row written now is missing from the list: the list was served by the
/// replica. Resumes replay and waits until the replica has it. Returns the lag /health showed while paused.
async fn show_served_by_replica(api: &Api, replica: &sqlx::PgPool, code: &str) -> f64 {
    assert_eq!(api.reads_on().await, "replica");
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(replica)
        .await
        .unwrap();
    until("replay paused", || replay_paused(replica)).await;
    let id = api.add_line(code).await;
    let codes = api.line_codes().await;
    assert!(
        !codes.contains(&code.to_string()),
        "a list right after the write comes from the paused replica: {codes:?}"
    );
    // ... while the writer reads its own write back by id: that read is on the primary
    assert_eq!(api.line_status(id).await, 200, "read-your-writes by id");
    // the next probe sees the replica behind, still within the limit: reads stay on it
    until(
        "the probe sees the replica behind, with a lag figure",
        || async {
            let r = api.health().await["replica"].clone();
            r["lag_bytes"].as_f64().unwrap_or(0.0) > 0.0 && r["lag_seconds"].as_f64().is_some()
        },
    )
    .await;
    let health = api.health().await["replica"].clone();
    assert_eq!(health["reads_on"], "replica", "{health}");
    let lag = health["lag_seconds"].as_f64().expect("a lag figure");
    assert!(lag < 3.0, "{health}");
    assert!(
        !api.line_codes().await.contains(&code.to_string()),
        "still served by the replica while it lags {lag}s"
    );
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(replica)
        .await
        .unwrap();
    until("the replica replays the write", || async {
        api.line_codes().await.contains(&code.to_string())
    })
    .await;
    lag
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_the_replica_and_fall_back_to_the_primary() {
    let primary = TempCluster::start().expect("a private primary");
    let primary_url = primary.url("neurohub");
    neurohub(&primary_url, &["deploy"]);
    let owner = sqlx::PgPool::connect(&primary_url).await.unwrap();
    sqlx::query(
        "INSERT INTO users (username, full_name, password_hash, role) VALUES ('admin', 'Admin', $1, 'ADMIN')",
    )
    .bind(hash_password(PASSWORD).unwrap())
    .execute(&owner)
    .await
    .unwrap();
    let replica = TempCluster::replica_of(&primary).expect("a streaming replica");
    let replica_url = replica.url("neurohub");
    let replica_su = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&replica_url)
        .await
        .unwrap();
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&replica_su)
        .await
        .unwrap();
    assert!(in_recovery, "the replica is a hot standby");

    let server = Server::start(&primary_url, &replica_url);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let res = client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "login on the primary");
    let token = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let api = Api {
        client,
        server,
        token,
    };

    // 1. writes on the primary, reads on the replica
    until("reads on the replica", || async {
        api.reads_on().await == "replica"
    })
    .await;
    api.add_line("01").await;
    until("the replica has line 01", || async {
        api.line_codes().await.contains(&"01".to_string())
    })
    .await;
    // the row being visible does not mean the replica has replayed everything: WAL written after that commit
    // (the server's own jobs) may still be in flight, and a probe then sees bytes behind — wait for a probe
    // that finds the replica level with the primary
    until("a probe finds the replica caught up", || async {
        let r = api.health().await["replica"].clone();
        r["lag_bytes"].as_f64() == Some(0.0) && r["lag_seconds"].as_f64() == Some(0.0)
    })
    .await;
    let caught_up = api.health().await["replica"].clone();
    println!("replica lag when caught up: {caught_up}");
    let paused_lag = show_served_by_replica(&api, &replica_su, "02").await;
    println!("replica lag seen right after a write with replay paused: {paused_lag:.3}s");
    assert_eq!(api.metric("neurohub_replica_up").await, Some(1.0));

    // 2. lag past --database-read-max-lag: reads fall back to the primary and see the row
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&replica_su)
        .await
        .unwrap();
    until("replay paused", || replay_paused(&replica_su)).await;
    api.add_line("03").await;
    assert!(
        !api.line_codes().await.contains(&"03".to_string()),
        "still on the replica below the limit"
    );
    let paused_at = Instant::now();
    until("fallback past the lag limit", || async {
        api.reads_on().await == "primary"
    })
    .await;
    let health = api.health().await["replica"].clone();
    println!(
        "fallback {:.1}s after the write; health: {health}",
        paused_at.elapsed().as_secs_f64()
    );
    let lag = health["lag_seconds"].as_f64().expect("a lag figure");
    assert!(lag > 3.0, "fell back because the lag {lag}s passed 3s");
    assert!(health["reachable"].as_bool().unwrap());
    assert!(api.line_codes().await.contains(&"03".to_string()));
    assert_eq!(
        api.metric("neurohub_replica_reads_on_primary").await,
        Some(1.0)
    );
    // (on a loaded machine a probe may also time out now and then: each is one more transition)
    let after_lag = api
        .metric("neurohub_replica_fallbacks_total")
        .await
        .unwrap();
    assert!(after_lag >= 1.0);
    let lag_metric = api.metric("neurohub_replica_lag_seconds").await.unwrap();
    println!("neurohub_replica_lag_seconds while paused: {lag_metric:.3}");
    assert!(lag_metric > 3.0);
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&replica_su)
        .await
        .unwrap();
    until("back on the replica once it caught up", || async {
        api.reads_on().await == "replica"
    })
    .await;
    assert_eq!(
        api.metric("neurohub_replica_reads_on_primary").await,
        Some(0.0)
    );

    // 3. the replica stops: reads still answer (retried on the primary, then routed there), health says so
    let mut requests_during_fallback = 0;
    replica_su.close().await;
    replica
        .cluster()
        .stop(StopMode::Fast)
        .expect("stop the replica");
    let stopped_at = Instant::now();
    assert!(api.line_codes().await.contains(&"03".to_string()));
    until("fallback with the replica down", || async {
        api.reads_on().await == "primary"
    })
    .await;
    let health = api.health().await["replica"].clone();
    println!(
        "replica stopped: fallback within {:.0} ms; health: {health}",
        stopped_at.elapsed().as_secs_f64() * 1000.0
    );
    assert_eq!(health["reachable"], json!(false));
    for _ in 0..20 {
        let codes = api.line_codes().await;
        assert!(codes.contains(&"01".to_string()) && codes.contains(&"03".to_string()));
    }
    api.add_line("04").await;
    assert!(api.line_codes().await.contains(&"04".to_string()));
    assert_eq!(api.metric("neurohub_replica_up").await, Some(0.0));
    requests_during_fallback += 22;
    let after_stop = api
        .metric("neurohub_replica_fallbacks_total")
        .await
        .unwrap();
    assert!(after_stop > after_lag, "the stop is one more fallback");

    // 4. restarted: reads return to the replica (and are served by it)
    replica.cluster().start().expect("restart the replica");
    until("back on the replica after its restart", || async {
        api.reads_on().await == "replica"
    })
    .await;
    let replica_su = sqlx::PgPool::connect(&replica_url).await.unwrap();
    until("the replica caught up with line 04", || async {
        api.line_codes().await.contains(&"04".to_string())
    })
    .await;
    show_served_by_replica(&api, &replica_su, "05").await;
    assert_eq!(api.metric("neurohub_replica_up").await, Some(1.0));

    // every transition logged once, however many requests ran meanwhile: as many `left` lines as the counter,
    // as many `back` lines (reads end on the replica), far fewer than the requests served on the primary
    let left = api.server.logged("read replica left");
    let fallbacks = api.health().await["replica"]["fallbacks_total"]
        .as_u64()
        .unwrap() as usize;
    println!("transitions to the primary: {left} (fallback requests: {requests_during_fallback}+)");
    assert_eq!(left, fallbacks);
    assert_eq!(api.server.logged("read replica back"), left);
    assert!((2..requests_during_fallback / 4).contains(&left));
    replica_su.close().await;
    owner.close().await;
}
