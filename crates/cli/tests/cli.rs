//! The `neurohub` binary as an operator runs it, against real PostgreSQL databases.

mod common;

use common::{neurohub, text, url_of, Up};
use sqlx::PgPool;
use std::process::Command;

#[test]
fn unreachable_database_is_one_clear_line_and_exit_code_3_for_verify() {
    let out = neurohub(
        "postgres://postgres:secret@127.0.0.1:1/neurohub",
        &["verify"],
    );
    // verify's 2 is NO-GO, so an unreachable database is 3 (other commands keep 2)
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let other = neurohub(
        "postgres://postgres:secret@127.0.0.1:1/neurohub",
        &["migrate", "status"],
    );
    assert_eq!(other.status.code(), Some(2), "{}", text(&other));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("postgres://postgres:***@127.0.0.1:1/neurohub"),
        "{stderr}"
    );
    assert!(lines[0].contains("DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains("secret"), "{stderr}");
}

#[test]
fn malformed_database_url_is_exit_code_2() {
    let out = neurohub("mysql//nonsense", &["migrate", "status"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[sqlx::test(migrations = false)]
async fn deploy_prints_the_summary_and_verify_agrees(pool: PgPool) {
    let url = url_of(&pool);
    let out = neurohub(&url, &["deploy"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("FINAL VERIFICATION & SUMMARY"), "{t}");
    assert!(t.contains("Processes seeded"), "{t}");
    assert!(!t.contains('✗'), "{t}");
    // Second deploy: nothing to do, still a summary, still success.
    let out = neurohub(&url, &["deploy"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("nothing to deploy"), "{}", text(&out));
    let out = neurohub(&url, &["verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Break the schema behind the tool's back: verify must notice and fail.
    sqlx::query("DROP INDEX idx_process_data_lot")
        .execute(&pool)
        .await
        .unwrap();
    let out = neurohub(&url, &["verify"]);
    // a missing performance index is HOLD: exit 1
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("idx_process_data_lot"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("DECISION: HOLD"), "{}", text(&out));
    // a missing FK is NO-GO: exit 2; the JSON report goes to --out, the decision line to stdout
    sqlx::query("ALTER TABLE lots DROP CONSTRAINT fk_lots_product_model")
        .execute(&pool)
        .await
        .unwrap();
    let file = std::env::temp_dir().join(format!("neurohub-verify-{}.json", std::process::id()));
    let out = neurohub(
        &url,
        &[
            "verify",
            "--format",
            "json",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("DECISION: NO-GO"), "{}", text(&out));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let _ = std::fs::remove_file(&file);
    assert_eq!(json["decision"], "NO-GO");
    // the binary hands verify the ATP engine: C6 runs, it is not skipped
    let c6 = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "C6")
        .expect("C6 in the report");
    assert_eq!(c6["status"], "passed", "{c6}");
    assert!(
        json["reasons"][0].as_str().unwrap().starts_with("C1 "),
        "{json}"
    );
    let out = neurohub(&url, &["verify", "--format", "markdown", "--module", "mes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("## Go/No-Go Decision"),
        "{}",
        text(&out)
    );
}

#[sqlx::test(migrations = false)]
async fn dry_run_changes_nothing(pool: PgPool) {
    let url = url_of(&pool);
    let out = neurohub(&url, &["deploy", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("CREATE TABLE"), "{}", text(&out));
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(tables, 0);
}

#[sqlx::test(migrations = false)]
async fn migrate_down_to_zero_and_up_keeps_the_data(pool: PgPool) {
    let url = url_of(&pool);
    assert_eq!(neurohub(&url, &["migrate", "up"]).status.code(), Some(0));
    sqlx::query("INSERT INTO product_models (model_code, model_name) VALUES ('PSA', 'kept across the round trip')")
        .execute(&pool)
        .await
        .unwrap();
    let out = neurohub(&url, &["migrate", "down", "--to", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = neurohub(&url, &["migrate", "status"]);
    assert!(text(&out).contains("pending"), "{}", text(&out));
    let out = neurohub(&url, &["migrate", "up"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let name: String =
        sqlx::query_scalar("SELECT model_name FROM product_models WHERE model_code = 'PSA'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(name, "kept across the round trip");
}

#[sqlx::test(migrations = false)]
async fn backup_writes_a_restorable_dump(pool: PgPool) {
    let url = url_of(&pool);
    assert_eq!(neurohub(&url, &["migrate", "up"]).status.code(), Some(0));
    let file = std::env::temp_dir().join(format!("neurohub-cli-test-{}.dump", std::process::id()));
    let out = neurohub(&url, &["backup", "--file", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(std::fs::metadata(&file).unwrap().len() > 0);
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(neurohub_schema::checksum_path(&file));
}

/// The drill: backup (default name carries the schema version, checksum beside it) -> restore into a new
/// database -> verify = GO; a restore refuses an existing database and a file whose checksum does not match.
#[sqlx::test(migrations = false)]
async fn backup_restore_verify_is_go(pool: PgPool) {
    let url = url_of(&pool);
    assert_eq!(neurohub(&url, &["deploy"]).status.code(), Some(0));
    let dir = std::env::temp_dir().join(format!("neurohub-drill-{}", std::process::id()));
    let out = neurohub(&url, &["backup", "--backup-dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dumps: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dump"))
        .collect();
    assert_eq!(dumps.len(), 1, "{dumps:?}");
    let dump = &dumps[0];
    let name = dump.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.contains(&format!("-v{:04}-", neurohub_schema::HEAD_VERSION)),
        "{name}"
    );
    let sums = std::fs::read_to_string(neurohub_schema::checksum_path(dump)).unwrap();
    assert!(sums.ends_with(&format!("  {name}\n")), "{sums}");

    let db = pool.connect_options().get_database().unwrap().to_string();
    let new_db = format!("{}_r", &db[..db.len().min(55)]);
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let drop = format!("DROP DATABASE IF EXISTS \"{new_db}\" WITH (FORCE)");
    sqlx::query(&drop).execute(&admin).await.unwrap();
    let out = neurohub(
        &url,
        &["restore", dump.to_str().unwrap(), "--into", &new_db],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("DECISION: GO"), "{t}");
    // again into the same database: refused
    let out = neurohub(
        &url,
        &["restore", dump.to_str().unwrap(), "--into", &new_db],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("already exists"), "{}", text(&out));
    sqlx::query(&drop).execute(&admin).await.unwrap();
    // a corrupted checksum file: refused before anything is created
    std::fs::write(
        neurohub_schema::checksum_path(dump),
        format!("{}  {name}\n", "0".repeat(64)),
    )
    .unwrap();
    let out = neurohub(
        &url,
        &["restore", dump.to_str().unwrap(), "--into", &new_db],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("checksum mismatch"), "{}", text(&out));
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&new_db)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert!(!exists);
    admin.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn spawn_up(url: &str, password_file: &std::path::Path) -> Up {
    spawn_up_with(url, password_file, &[], &[("NEUROHUB_LOG", "warn")])
}

fn spawn_up_with(
    url: &str,
    password_file: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Up {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_neurohub"));
    cmd.args(["up", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("DATABASE_URL", url)
        .env("NEUROHUB_ADMIN_PASSWORD_FILE", password_file)
        // the signing key beside the password, never in the source tree's var/
        .env(
            "NEUROHUB_JWT_SECRET_FILE",
            password_file.with_file_name("jwt-secret"),
        )
        .env_remove("NEUROHUB_ADMIN_PASSWORD")
        .env_remove("NEUROHUB_JWT_SECRET")
        .envs(env.iter().copied());
    Up::spawn(cmd)
}

/// The quick start's first command, end to end: a database that does not exist yet is created and deployed, the
/// first admin's generated password is handed over once — to an owner-only file, since stdout is not a terminal
/// (never into the service log) — and works, demo data is loaded, the server answers, and SIGTERM stops it cleanly.
/// A second `up` on the same database deploys nothing, creates no admin and loads no demo data again.
#[tokio::test]
async fn up_creates_deploys_seeds_serves_and_stops_on_sigterm() {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let db = format!("neurohub_cli_up_{}", std::process::id());
    let mut u = url::Url::parse(&base).unwrap();
    let admin_url = {
        let mut a = u.clone();
        a.set_path("/postgres");
        a.to_string()
    };
    u.set_path(&db);
    let url = u.to_string();
    let admin = PgPool::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("neurohub-cli-up-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let password_file = dir.join("secrets/admin-password");

    let up = spawn_up(&url, &password_file);
    let output = up.output.clone();
    assert!(output.contains("FINAL VERIFICATION & SUMMARY"), "{output}");
    assert!(output.contains("Demo data loaded"), "{output}");
    assert!(
        output.contains(&format!("password is in {}", password_file.display())),
        "{output}"
    );
    let password = std::fs::read_to_string(&password_file)
        .expect("password file")
        .trim()
        .to_string();
    assert!(password.len() >= 12, "{password:?}");
    assert!(
        !output.contains(&password),
        "the password leaked to stdout: {output}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&password_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "password file mode {mode:o}");
    }

    let addr = up.addr.clone();
    let client = reqwest::Client::new();
    let health = client
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let login = client
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let token = login.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let models = client
        .get(format!("http://{addr}/api/v1/product-models"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert!(
        !models["items"].as_array().unwrap().is_empty(),
        "demo product models: {models}"
    );
    up.stop();

    // Counts the second `up` must leave alone.
    let pool = PgPool::connect(&url).await.unwrap();
    let counts = |pool: PgPool| async move {
        sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM lots), \
             (SELECT count(*) FROM process_data)",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let before = counts(pool.clone()).await;
    std::fs::remove_file(&password_file).unwrap();

    let up = spawn_up(&url, &password_file);
    let output = up.output.clone();
    // the same signing key (kept in the key file): a token of the first `up` is still good
    let me = client
        .get(format!("http://{}/api/v1/auth/me", up.addr))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        200,
        "the first up's token was refused after a restart"
    );
    up.stop();
    assert!(output.contains("nothing to deploy"), "{output}");
    assert!(
        !output.contains("First admin"),
        "a second admin was made: {output}"
    );
    assert!(
        !output.contains("Demo data loaded"),
        "demo data loaded twice: {output}"
    );
    assert!(!password_file.exists(), "a new password was handed over");
    assert_eq!(counts(pool.clone()).await, before);

    // Account rescue: a new password is handed over the same way and is the only one that works.
    let out = Command::new(env!("CARGO_BIN_EXE_neurohub"))
        .args(["admin", "reset-password", "--username", "admin"])
        .env("DATABASE_URL", &url)
        .env("NEUROHUB_LOG", "warn")
        .env("NEUROHUB_ADMIN_PASSWORD_FILE", &password_file)
        .env_remove("NEUROHUB_ADMIN_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let reset = std::fs::read_to_string(&password_file)
        .unwrap()
        .trim()
        .to_string();
    assert_ne!(reset, password);
    assert!(!text(&out).contains(&reset), "{}", text(&out));
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'admin'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(neurohub_core::auth::password::verify_password(
        &reset, &hash
    ));
    assert!(!neurohub_core::auth::password::verify_password(
        &password, &hash
    ));
    let out = Command::new(env!("CARGO_BIN_EXE_neurohub"))
        .args(["admin", "reset-password", "--username", "nobody"])
        .env("DATABASE_URL", &url)
        .env("NEUROHUB_LOG", "warn")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("user `nobody` not found"),
        "{}",
        text(&out)
    );

    pool.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}

/// At the default level the server writes one access-log line per request (INFO, target `neurohub::access`) with
/// method, route template, status, duration, request id and the authenticated user — and never the password.
#[sqlx::test(migrations = false)]
async fn access_log_has_one_info_line_per_request(pool: PgPool) {
    let url = url_of(&pool);
    let password = "access log test password";
    let file = std::env::temp_dir().join(format!("neurohub-cli-access-{}", std::process::id()));
    let up = spawn_up_with(
        &url,
        &file,
        &["--no-demo", "--log-format", "json"],
        &[
            ("NEUROHUB_LOG", "info,sqlx=warn"),
            ("NEUROHUB_ADMIN_PASSWORD", password),
        ],
    );
    let client = reqwest::Client::new();
    let base = format!("http://{}", up.addr);
    let login: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin_id = login["user"]["id"].as_i64().unwrap();
    let res = client
        .get(format!("{base}/api/v1/users/{admin_id}"))
        .bearer_auth(login["access_token"].as_str().unwrap())
        .header("x-request-id", "access-log-test-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rest = up.stop();
    let access: Vec<serde_json::Value> = rest
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "neurohub::access")
        .collect();
    assert_eq!(access.len(), 2, "one line per request: {rest:#?}");
    let get = &access[1];
    assert_eq!(get["level"], "INFO", "{get}");
    assert_eq!(get["fields"]["method"], "GET", "{get}");
    assert_eq!(get["fields"]["route"], "/api/v1/users/{id}", "{get}");
    assert_eq!(get["fields"]["status"], 200, "{get}");
    assert_eq!(
        get["fields"]["client_request_id"], "access-log-test-1",
        "{get}"
    );
    let ours = get["fields"]["request_id"].as_str().unwrap();
    assert!(ours.len() == 36 && ours != "access-log-test-1", "{get}");
    assert_eq!(get["fields"]["user_id"], admin_id, "{get}");
    assert!(
        get["fields"]["duration_ms"].as_f64().unwrap() >= 0.0,
        "{get}"
    );
    let login_line = &access[0];
    assert_eq!(
        login_line["fields"]["route"], "/api/v1/auth/login",
        "{login_line}"
    );
    assert!(
        login_line["fields"].get("user_id").is_none(),
        "{login_line}"
    );
    assert!(
        !rest.iter().any(|l| l.contains(password)),
        "the password was logged"
    );
}

/// A burst of sign-ins leaves the server's memory where it was: each hash allocates argon2's block
/// (`auth::password::HASH_MEMORY_KIB`), and those blocks go back to the system when the hash is done (the pinned
/// mmap threshold) instead of staying in the heap of each thread that hashed (without it, with 19 MiB blocks:
/// +98 MB after 6 sign-ins, +215 MB after 6 more at once, on the release build).
#[cfg(target_os = "linux")]
#[sqlx::test(migrations = false)]
async fn sign_ins_give_the_hash_memory_back(pool: PgPool) {
    let url = url_of(&pool);
    let password = "memory test password";
    let file = std::env::temp_dir().join(format!("neurohub-cli-memory-{}", std::process::id()));
    let up = spawn_up_with(
        &url,
        &file,
        &["--no-demo"],
        &[
            ("NEUROHUB_LOG", "warn"),
            ("NEUROHUB_ADMIN_PASSWORD", password),
            ("NEUROHUB_AUTH_RATE_PER_MINUTE", "100000"),
        ],
    );
    let anon_kb = |pid: u32| -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("RssAnon:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("RssAnon in /proc/<pid>/status")
    };
    let client = reqwest::Client::new();
    let login = {
        let url = format!("http://{}/api/v1/auth/login", up.addr);
        move || {
            let req = client
                .post(&url)
                .json(&serde_json::json!({"username": "admin", "password": password}));
            async move { req.send().await.unwrap().status() }
        }
    };
    // one sign-in first, so what is measured is the burst and not the first request's one-off allocations
    assert_eq!(login().await, 200);
    let before = anon_kb(up.child.id());
    for _ in 0..3 {
        let mut burst = tokio::task::JoinSet::new();
        for _ in 0..16 {
            burst.spawn(login());
        }
        while let Some(status) = burst.join_next().await {
            assert_eq!(status.unwrap(), 200);
        }
    }
    let after = anon_kb(up.child.id());
    // 48 hashes, 16 at a time: kept, one block per thread's heap (up to 16 arenas on 2 cores) would be 50-100 MB;
    // given back, a few MB of noise
    let block_kb = u64::from(neurohub_core::auth::password::HASH_MEMORY_KIB);
    assert!(
        after < before + 3 * block_kb,
        "anonymous memory {before} kB before 48 sign-ins, {after} kB after"
    );
    up.stop();
    let _ = std::fs::remove_file(&file);
}

#[sqlx::test(migrations = false)]
async fn serve_refuses_a_schema_that_is_behind(pool: PgPool) {
    let url = url_of(&pool);
    assert_eq!(
        neurohub(&url, &["migrate", "up", "--to", "2"])
            .status
            .code(),
        Some(0)
    );
    let out = neurohub(&url, &["serve", "--dev", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("run `neurohub deploy` first"),
        "{}",
        text(&out)
    );
}

/// Several nodes must sign with one key: `serve` without NEUROHUB_JWT_SECRET refuses to start (exit 2, saying
/// what to set), before it touches the database.
#[test]
fn serve_without_a_signing_key_refuses_to_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_neurohub"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/nothing-listens-here",
        )
        .env("NEUROHUB_LOG", "warn")
        .env_remove("NEUROHUB_JWT_SECRET")
        .env_remove("NEUROHUB_DEV")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("NEUROHUB_JWT_SECRET is not set"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("--dev"), "{}", text(&out));
}

/// An unknown plant time zone stops `seed` (and `serve` / `up`, which check it the same way) with exit code 2 and
/// a message naming the setting, before anything is written; a malformed one is refused by the flag parser.
#[sqlx::test(migrations = false)]
async fn unknown_plant_time_zone_is_exit_code_2_and_writes_nothing(pool: PgPool) {
    let url = url_of(&pool);
    assert_eq!(neurohub(&url, &["deploy"]).status.code(), Some(0));
    let out = neurohub(&url, &["seed", "--plant-time-zone", "Asia/Seul"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("NEUROHUB_PLANT_TIME_ZONE") && text(&out).contains("Asia/Seul"),
        "{}",
        text(&out)
    );
    let lots: i64 = sqlx::query_scalar("SELECT count(*) FROM lots")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(lots, 0);
    let out = neurohub(&url, &["seed", "--plant-time-zone", "+09:00"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("IANA"), "{}", text(&out));
    // a real zone loads the demo lots with the plant's date
    let dir = std::env::temp_dir().join(format!("neurohub-cli-seed-{}", std::process::id()));
    let secret = dir.join("admin-password");
    let out = neurohub(
        &url,
        &[
            "seed",
            "--plant-time-zone",
            "Asia/Seoul",
            "--admin-password-file",
            secret.to_str().unwrap(),
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let same: bool = sqlx::query_scalar(
        "SELECT bool_and(production_date = (created_at AT TIME ZONE 'Asia/Seoul')::date) FROM lots",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(same);
}

/// `seed --lots N --units-per-lot M` fills a deployed database with a data set that passes verify (the binary
/// runs it and fails otherwise), with the counts asked for, every audit row the triggers would have written,
/// the counters equal to a recount, the same data for the same seed, and an API-valid state after it (the
/// next lot number continues each sequence). A second run is refused: the tables are no longer empty.
#[sqlx::test(migrations = false)]
async fn seed_generates_a_data_set_that_passes_verify(pool: PgPool) {
    let url = url_of(&pool);
    assert_eq!(neurohub(&url, &["deploy"]).status.code(), Some(0));
    let out = neurohub(
        &url,
        &[
            "seed",
            "--lots",
            "30",
            "--units-per-lot",
            "12",
            "--random-seed",
            "7",
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("verify: GO"), "{t}");
    assert!(t.contains("rows/s"), "{t}");
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("SELECT count(*) FROM lots").await, 30);
    assert_eq!(count("SELECT count(*) FROM wip_items").await, 360);
    // every unit that reached the last process is a serial; completed lots hold only completed serials
    assert_eq!(
        count("SELECT count(*) FROM wip_items WHERE status = 'CONVERTED'").await,
        count("SELECT count(*) FROM serials").await
    );
    assert_eq!(
        count("SELECT count(*) FROM serials s JOIN lots l ON l.id = s.lot_id WHERE l.status = 'COMPLETED' AND s.status <> 'COMPLETED'").await,
        0
    );
    // processes in sequence: no PASS at a process without a PASS at every earlier active one
    assert_eq!(
        count(
            "SELECT count(*) FROM process_data x JOIN processes p ON p.id = x.process_id
              WHERE x.result = 'PASS' AND EXISTS (
                    SELECT 1 FROM processes q WHERE q.is_active AND q.process_number < p.process_number
                       AND NOT EXISTS (SELECT 1 FROM process_data y WHERE y.wip_id = x.wip_id
                                          AND y.process_id = q.id AND y.result = 'PASS'))"
        )
        .await,
        0
    );
    let records = count("SELECT count(*) FROM process_data").await;
    assert!(records > 30 * 12 * 4, "{records}");
    assert!(count("SELECT count(*) FROM process_data WHERE result = 'FAIL' AND jsonb_array_length(defects) >= 1").await > 0);
    assert!(count("SELECT count(*) FROM process_data WHERE result = 'REWORK'").await > 0);
    assert!(count("SELECT count(*) FROM process_data WHERE criteria_passed = false").await > 0);
    assert!(count("SELECT count(*) FROM process_data WHERE completed_at IS NULL").await > 0);
    // one audit row per generated row, in the month it happened (several monthly partitions)
    assert_eq!(
        count("SELECT count(*) FROM audit_logs WHERE request_id = 'neurohub-seed' AND table_name IN ('lots', 'wip_items', 'serials', 'process_data')").await,
        count("SELECT (SELECT count(*) FROM lots) + (SELECT count(*) FROM wip_items) + (SELECT count(*) FROM serials) + (SELECT count(*) FROM process_data)").await
    );
    assert!(
        count("SELECT count(DISTINCT tableoid) FROM audit_logs WHERE request_id = 'neurohub-seed'")
            .await
            >= 6
    );
    // the counters, without the generator's rebuild, by the triggers' own view
    assert_eq!(
        count("SELECT count(*) FROM unit_wip_positions").await,
        count("SELECT count(*) FROM open_unit_positions").await
    );
    // identities continue after the generated ids
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO lots (lot_number, product_model_id, target_quantity) SELECT 'KR01G01999901', min(id), 1 FROM product_models RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(next, 31);
    let again = neurohub(&url, &["seed", "--lots", "1"]);
    assert_ne!(again.status.code(), Some(0));
    assert!(text(&again).contains("empty"), "{}", text(&again));
}
