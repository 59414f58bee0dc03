//! Several API nodes: two real `neurohub serve` processes (the built binary) on one fresh database with one
//! signing key. A token issued by one node works on the other; an idempotent write retried on the other node
//! replays the stored answer; a user deactivated or demoted through one node loses access on the other at once
//! (the token generation, LISTEN / NOTIFY); and the background jobs run on one node at a time (advisory locks).
//!
//! Node B serves HTTPS itself (`--tls-cert` / `--tls-key`), so the binary's TLS path is exercised too.
//!
//! Every child process is killed when its [`Node`] is dropped, so a failing assertion never leaves a server
//! running.

mod common;

use common::url_of;
use neurohub_core::auth::password::hash_password;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "two nodes, one signing key, at least 32 bytes long";
const PASSWORD: &str = "several nodes test password";

/// Run the binary to completion (deploy, seed), asserting success.
fn neurohub(url: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_neurohub"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("NEUROHUB_LOG", "warn")
        .env(
            "NEUROHUB_BACKUP_DIR",
            std::env::temp_dir().join("neurohub-nodes-test-backups"),
        )
        .output()
        .expect("run neurohub");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "neurohub {args:?} failed:\n{text}");
    text
}

/// One running `neurohub serve`: its address and every line it printed (JSON logs), read by a thread so the pipe
/// never fills. Dropping it kills the process.
struct Node {
    name: &'static str,
    child: Child,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Node {
    fn start(name: &'static str, url: &str, env: &[(&str, &str)]) -> Node {
        let mut command = Command::new(env!("CARGO_BIN_EXE_neurohub"));
        // Drop kills the child on every unwinding exit; should the test process itself die (an abort, a signal),
        // the kernel kills the child with it.
        #[cfg(target_os = "linux")]
        unsafe {
            use std::os::unix::process::CommandExt;
            command.pre_exec(|| {
                // async-signal-safe: one syscall, no allocation
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .env("DATABASE_URL", url)
            .env("NEUROHUB_JWT_SECRET", SECRET)
            .env("NEUROHUB_LOG", "warn")
            .env("NEUROHUB_VERIFY_INTERVAL", "0")
            .env_remove("NEUROHUB_DEV")
            .envs(env.iter().copied())
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
                    // `NeuroHub listening on http://127.0.0.1:PORT (API docs at ...)`, or https://
                    if let Some(base) = line.strip_prefix("NeuroHub listening on ") {
                        if let Some(tx) = tx.take() {
                            let _ =
                                tx.send(base.split_whitespace().next().unwrap_or("").to_string());
                        }
                    }
                    lines.lock().unwrap().push(line);
                }
            });
        }
        // a node that fails to start is dropped (killed) by the panic below
        let mut node = Node {
            name,
            child,
            base: String::new(),
            lines,
        };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => node.base = base,
            Err(_) => {
                let output = node.output();
                panic!("node {name} did not start:\n{output}")
            }
        }
        node
    }

    /// Everything it printed so far.
    fn output(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The JSON log lines whose message is `message` and whose `job` field is `job`.
    fn logged(&self, message: &str, job: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["fields"]["message"] == message && v["fields"]["job"] == job)
            .count()
    }

    fn messages(&self, message: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["fields"]["message"] == message)
            .count()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- node {} output ---\n{}", self.name, self.output());
        }
    }
}

/// Poll `check` (bounded) until it holds. This waits for delivery between processes; it is no timing assertion:
/// it fails only when the thing never happens.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn add_user(pool: &PgPool, username: &str, role: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO users (username, full_name, password_hash, role) VALUES ($1, $1, $2, $3) RETURNING id",
    )
    .bind(username)
    .bind(hash_password(PASSWORD).unwrap())
    .bind(role)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn login(client: &reqwest::Client, node: &Node, username: &str) -> String {
    let res = client
        .post(node.url("/api/v1/auth/login"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "login {username} on {}", node.name);
    res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `GET /auth/me` with `token` on `node`: (status, problem code).
async fn me(client: &reqwest::Client, node: &Node, token: &str) -> (u16, Value) {
    let res = client
        .get(node.url("/api/v1/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}

async fn post(
    client: &reqwest::Client,
    node: &Node,
    path: &str,
    token: &str,
    body: &Value,
    key: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = client.post(node.url(path)).bearer_auth(token).json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    (status, headers, res.json().await.unwrap_or_default())
}

/// `PATCH /users/{id}` with `change` through `via` as the admin, then wait (bounded) until `on` refuses `token`
/// with 401 TOKEN_REVOKED; prints how long that took after the PATCH was answered.
async fn change_user_and_wait_for_revocation(
    client: &reqwest::Client,
    via: &Node,
    on: &Node,
    admin_token: &str,
    (user, change): (i64, &Value),
    token: &str,
) {
    let res = client
        .patch(via.url(&format!("/api/v1/users/{user}")))
        .bearer_auth(admin_token)
        .json(change)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let changed = Instant::now();
    until(
        &format!("{} refuses the token after {change}", on.name),
        || async { me(client, on, token).await.0 == 401 },
    )
    .await;
    eprintln!(
        "{change} via {} refused on {} after {:?} (PATCH answered -> first 401)",
        via.name,
        on.name,
        changed.elapsed()
    );
    let (status, body) = me(client, on, token).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("TOKEN_REVOKED"))
    );
}

#[sqlx::test(migrations = false)]
async fn two_nodes_share_tokens_idempotent_answers_and_revocations(pool: PgPool) {
    let url = url_of(&pool);
    neurohub(&url, &["deploy"]);
    add_user(&pool, "admin", "ADMIN").await;
    let manager = add_user(&pool, "manager", "MANAGER").await;
    let operator = add_user(&pool, "operator", "OPERATOR").await;
    let model: i64 = sqlx::query_scalar(
        "INSERT INTO product_models (model_code, model_name) VALUES ('PSA', 'Model PSA') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let line: i64 = sqlx::query_scalar(
        "INSERT INTO production_lines (country_code, line_code, name) VALUES ('KR', '01', 'Line KR01') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();

    // node B serves HTTPS itself (`--tls-cert` / `--tls-key`, a certificate made here), node A plain HTTP
    let tls = std::env::temp_dir().join(format!("neurohub-nodes-tls-{}", std::process::id()));
    std::fs::create_dir_all(&tls).unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (tls.join("cert.pem"), tls.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    let a = Node::start("A", &url, &[]);
    let mut b = Node::start(
        "B",
        &url,
        &[
            ("NEUROHUB_TLS_CERT", cert.to_str().unwrap()),
            ("NEUROHUB_TLS_KEY", key.to_str().unwrap()),
        ],
    );
    let _ = std::fs::remove_dir_all(&tls);
    let b_addr: std::net::SocketAddr = b.base.strip_prefix("https://").unwrap().parse().unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .add_root_certificate(reqwest::Certificate::from_pem(ck.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", b_addr)
        .build()
        .unwrap();
    // the certificate names `localhost`
    b.base = format!("https://localhost:{}", b_addr.port());
    assert!(a.base.starts_with("http://"), "{}", a.base);
    // POST /lots (a MANAGER route) with `token` on `node`: (status, body)
    let create_lot = |node: &Node, token: &str| {
        let body =
            json!({"product_model_id": model, "production_line_id": line, "target_quantity": 1});
        let (client, url, token) = (client.clone(), node.url("/api/v1/lots"), token.to_string());
        async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or_default())
        }
    };
    let res = client.get(b.url("/livez")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("strict-transport-security"));
    let res = client.get(a.url("/livez")).send().await.unwrap();
    assert!(!res.headers().contains_key("strict-transport-security"));

    // A token issued by node A is accepted by node B.
    let manager_token = login(&client, &a, "manager").await;
    assert_eq!(me(&client, &b, &manager_token).await.0, 200);
    let (status, lot) = create_lot(&b, &manager_token).await;
    assert_eq!(status, 201, "{lot}");
    let lot_number = lot["lot_number"].as_str().unwrap().to_string();

    // An idempotent write sent to A and retried on B replays A's stored answer: same status and body, one row.
    let operator_token = login(&client, &a, "operator").await;
    let start = json!({"process_number": 1, "unit": {"wip_id": format!("WIP-{lot_number}-001")}});
    let (s1, h1, first) = post(
        &client,
        &a,
        "/api/v1/process-data/start",
        &operator_token,
        &start,
        Some("station-7:0001"),
    )
    .await;
    assert_eq!(s1, 201, "{first}");
    assert!(h1.get("idempotent-replay").is_none());
    let (s2, h2, again) = post(
        &client,
        &b,
        "/api/v1/process-data/start",
        &operator_token,
        &start,
        Some("station-7:0001"),
    )
    .await;
    assert_eq!(s2, s1, "{again}");
    assert_eq!(again, first);
    assert_eq!(h2.get("idempotent-replay").unwrap(), "true");
    // (the replay carries no `Location`: idempotency_keys stores status and body only)
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM process_data")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(records, 1);

    // Demoted through node A: node B refuses the manager's old token at once (no wait for its expiry).
    let admin_token = login(&client, &a, "admin").await;
    change_user_and_wait_for_revocation(
        &client,
        &a,
        &b,
        &admin_token,
        (manager, &json!({"role": "VIEWER"})),
        &manager_token,
    )
    .await;
    let (status, body) = create_lot(&b, &manager_token).await;
    assert_eq!(status, 401, "{body}");
    // signing in again (on B) gives the new role: a VIEWER may not create lots
    let viewer_token = login(&client, &b, "manager").await;
    let (status, body) = create_lot(&a, &viewer_token).await;
    assert_eq!(status, 403, "{body}");

    // Deactivated through node A: node B refuses the operator's token, and its idempotent retry is no way in.
    assert_eq!(me(&client, &b, &operator_token).await.0, 200);
    change_user_and_wait_for_revocation(
        &client,
        &a,
        &b,
        &admin_token,
        (operator, &json!({"is_active": false})),
        &operator_token,
    )
    .await;
    let (status, _, _) = post(
        &client,
        &b,
        "/api/v1/process-data/start",
        &operator_token,
        &start,
        Some("station-7:0001"),
    )
    .await;
    assert_eq!(status, 401);
    // and node A agrees
    assert_eq!(me(&client, &a, &operator_token).await.0, 401);
}

/// A webhook receiver on loopback that answers 200 and records the `X-NeuroHub-Delivery` of every request.
async fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let seen = seen.clone();
            async move {
                let id = headers
                    .get("x-neurohub-delivery")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("?")
                    .to_string();
                seen.lock().unwrap().push(id);
                "ok"
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, got)
}

const JOBS: [&str; 3] = [
    "neurohub.audit_partitions",
    "neurohub.atp.sla_sweep",
    "neurohub.atp.webhook_delivery",
];

/// The background jobs run on one node at a time. While the test holds the jobs' advisory locks, both nodes try
/// each job and skip it (and nothing is escalated or sent); once released, the demo's overdue stage is breached
/// and escalated once, and each webhook delivery reaches the receiver exactly once, however many ticks of both
/// nodes follow.
#[sqlx::test(migrations = false)]
async fn background_jobs_run_once_across_nodes(pool: PgPool) {
    let url = url_of(&pool);
    neurohub(&url, &["deploy"]);
    let secrets = std::env::temp_dir().join(format!("neurohub-nodes-seed-{}", std::process::id()));
    neurohub(
        &url,
        &[
            "seed",
            "--admin-password-file",
            secrets.join("admin-password").to_str().unwrap(),
        ],
    );
    let _ = std::fs::remove_dir_all(&secrets);
    let (hook_url, received) = receiver().await;
    sqlx::query(
        "INSERT INTO webhook_subscriptions (workspace_id, url, secret, event_types, created_by) \
         SELECT m.workspace_id, $1, repeat('s', 32), ARRAY['SLA_BREACHED', 'SLA_ESCALATED']::VARCHAR(30)[], m.user_id \
           FROM workspace_members m JOIN workspaces w ON w.id = m.workspace_id \
          WHERE w.code = 'XLSMART-AVIAT' AND m.member_role = 'WORKSPACE_ADMIN' LIMIT 1",
    )
    .bind(&hook_url)
    .execute(&pool)
    .await
    .unwrap();
    let breaches = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM workflow_stage_actions WHERE action = 'SLA_BREACH'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    assert_eq!(
        breaches().await,
        0,
        "the demo leaves its overdue stage unswept"
    );

    // Hold every job's lock, as a node in the middle of a run would.
    let mut holder = pool.acquire().await.unwrap();
    for job in JOBS {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
            .bind(job)
            .fetch_one(&mut *holder)
            .await
            .unwrap();
        assert!(got, "{job}");
    }
    let env = [
        (
            "NEUROHUB_LOG",
            "warn,neurohub_core::jobs=debug,neurohub_atp=info",
        ),
        ("NEUROHUB_SLA_SWEEP_INTERVAL", "100ms"),
        ("NEUROHUB_WEBHOOK_DELIVERY_INTERVAL", "100ms"),
    ];
    let a = Node::start("A", &url, &env);
    let b = Node::start("B", &url, &env);
    for node in [&a, &b] {
        for job in JOBS {
            until(&format!("node {} skips {job}", node.name), || async {
                node.logged("another node runs this job now", job) > 0
            })
            .await;
        }
    }
    assert_eq!(breaches().await, 0, "a job ran while another held its lock");
    assert!(received.lock().unwrap().is_empty());

    // Released: one node at a time does the work, and it is done once.
    for job in JOBS {
        sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
            .bind(job)
            .execute(&mut *holder)
            .await
            .unwrap();
    }
    drop(holder);
    until(
        "the overdue stage is breached and its deliveries sent",
        || async {
            let (deliveries, delivered): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE status = 'DELIVERED') FROM webhook_deliveries",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
            breaches().await > 0 && deliveries > 0 && deliveries == delivered
        },
    )
    .await;
    let per_stage: Vec<(i64,)> = sqlx::query_as(
        "SELECT count(*) FROM workflow_stage_actions WHERE action = 'SLA_BREACH' GROUP BY workflow_stage_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(!per_stage.is_empty());
    assert!(per_stage.iter().all(|(n,)| *n == 1), "{per_stage:?}");
    let escalations: i64 =
        sqlx::query_scalar("SELECT count(*) FROM workflow_stage_actions WHERE action = 'ESCALATE'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(escalations, per_stage.len() as i64);
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id::text FROM webhook_deliveries WHERE status = 'DELIVERED' AND attempts = 1 ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut got = received.lock().unwrap().clone();
    got.sort();
    assert_eq!(got, ids, "each delivery reaches the receiver exactly once");
    // the work was reported by the node that did it, once per breached stage
    assert_eq!(
        a.messages("SLA breaches escalated") + b.messages("SLA breaches escalated"),
        1
    );
}
