//! The `neurohub` binary as an operator runs it, against real PostgreSQL databases.

use sqlx::PgPool;
use std::process::{Command, Output};

fn neurohub(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neurohub"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("NEUROHUB_LOG", "warn")
        .env(
            "NEUROHUB_BACKUP_DIR",
            std::env::temp_dir().join("neurohub-cli-test-backups"),
        )
        .output()
        .expect("run neurohub")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The URL of the test's own database (sqlx::test made it), for the binary to use.
fn url_of(pool: &PgPool) -> String {
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

#[test]
fn unreachable_database_is_one_clear_line_and_exit_code_2() {
    let out = neurohub(
        "postgres://postgres:secret@127.0.0.1:1/neurohub",
        &["verify"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
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
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("idx_process_data_lot"),
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
}

/// The quick start's first command, end to end: a database that does not exist yet is created and deployed, the
/// first admin's password is printed once and works, demo data is loaded, the server answers, and SIGTERM stops it
/// cleanly.
#[tokio::test]
async fn up_creates_deploys_seeds_serves_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

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

    let mut child = Command::new(env!("CARGO_BIN_EXE_neurohub"))
        .args(["up", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", &url)
        .env("NEUROHUB_LOG", "warn")
        .env_remove("NEUROHUB_ADMIN_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut output = String::new();
    let (mut password, mut addr) = (None, None);
    for line in lines.by_ref() {
        let line = line.unwrap();
        output.push_str(&line);
        output.push('\n');
        if let Some(p) = line.split("with password: ").nth(1) {
            password = Some(p.trim().to_string());
        }
        if let Some(a) = line.strip_prefix("NeuroHub listening on http://") {
            addr = a.split_whitespace().next().map(str::to_string);
            break;
        }
    }
    let addr = addr.unwrap_or_else(|| panic!("server did not start:\n{output}"));
    let password = password.unwrap_or_else(|| panic!("no admin password printed:\n{output}"));
    assert!(output.contains("FINAL VERIFICATION & SUMMARY"), "{output}");
    assert!(output.contains("Demo data loaded"), "{output}");

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

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", rest.join("\n"));
    assert!(
        rest.iter().any(|l| l.contains("NeuroHub stopped")),
        "{rest:?}"
    );

    // A second `up` on the same database: nothing to deploy, no new admin, no second demo load.
    let out = neurohub(&url, &["deploy"]);
    assert!(text(&out).contains("nothing to deploy"), "{}", text(&out));
    admin.close().await;
    let admin = PgPool::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
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
    let out = neurohub(&url, &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("run `neurohub deploy` first"),
        "{}",
        text(&out)
    );
}
