//! The zero-setup database (docs/runbooks.md, "The private database"): with DATABASE_URL unset and nothing
//! answering at the default address, `up` creates, starts, uses and stops a private PostgreSQL cluster of its own,
//! and reuses it (data kept) the next time; `neurohub db` controls it. Real processes: the binary, initdb, pg_ctl,
//! postgres. The machine's PostgreSQL (DATABASE_URL of the test run) is only checked to still answer.

mod common;

use common::{text, Up};
use sqlx::{Connection, PgConnection};
use std::path::PathBuf;
use std::process::{Command, Output};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scratch folder and a default address where nothing listens.
struct Env {
    dir: PathBuf,
    default_url: String,
}

impl Env {
    fn new(name: &str) -> Env {
        let dir = std::env::temp_dir().join(format!("neurohub-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Env {
            dir,
            default_url: format!("postgres://postgres@127.0.0.1:{}/neurohub", free_port()),
        }
    }

    fn pg_dir(&self) -> PathBuf {
        self.dir.join("pg")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_neurohub"));
        c.args(args)
            .env_remove("DATABASE_URL")
            .env_remove("NEUROHUB_PG_BIN_DIR")
            .env_remove("NEUROHUB_PG_PORT")
            .env_remove("NEUROHUB_ADMIN_PASSWORD")
            .env_remove("NEUROHUB_JWT_SECRET")
            .env("NEUROHUB_DEFAULT_DATABASE_URL", &self.default_url)
            .env("NEUROHUB_PG_DATA_DIR", self.pg_dir())
            .env("NEUROHUB_LOG", "warn")
            .env("NEUROHUB_BACKUP_DIR", self.dir.join("backups"))
            .env(
                "NEUROHUB_ADMIN_PASSWORD_FILE",
                self.dir.join("admin-password"),
            )
            .env("NEUROHUB_JWT_SECRET_FILE", self.dir.join("jwt-secret"));
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run neurohub")
    }

    /// `db status`: (exit code, the DATABASE_URL line's URL).
    fn status(&self) -> (Option<i32>, Option<String>, String) {
        let out = self.run(&["db", "status"]);
        let t = text(&out);
        let url = t
            .lines()
            .find_map(|l| l.strip_prefix("DATABASE_URL="))
            .map(str::to_string);
        (out.status.code(), url, t)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // never leave a cluster running, even when an assertion failed
        let _ = self.run(&["db", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn_up(env: &Env) -> Up {
    Up::spawn(env.command(&["up", "--listen", "127.0.0.1:0"]))
}

async fn login(addr: &str, password: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

fn socket_dir_of(url: &str) -> PathBuf {
    let u = url::Url::parse(url).unwrap();
    let host = u
        .query_pairs()
        .find(|(k, _)| k == "host")
        .map(|(_, v)| v.into_owned())
        .expect("a socket URL");
    PathBuf::from(host)
}

/// The machine's PostgreSQL still answers (nothing here may stop it).
async fn shared_server_still_answers() {
    let shared = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let conn = PgConnection::connect(&shared).await;
    assert!(conn.is_ok(), "the shared PostgreSQL stopped answering");
}

#[tokio::test]
async fn up_without_a_database_creates_serves_stops_and_reuses_a_private_cluster() {
    let env = Env::new("private-up");
    let up = spawn_up(&env);
    let out = up.output.clone();
    assert!(out.contains("No PostgreSQL answers at"), "{out}");
    assert!(out.contains("created a private one in"), "{out}");
    assert!(out.contains("Private PostgreSQL started in"), "{out}");
    assert!(out.contains("FINAL VERIFICATION & SUMMARY"), "{out}");
    assert!(
        env.pg_dir().join("data").join("PG_VERSION").is_file(),
        "initdb ran into the folder"
    );

    // serving: readiness means the database is reachable and the schema current
    let ready = reqwest::get(format!("http://{}/readyz", up.addr))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let password = std::fs::read_to_string(env.dir.join("admin-password"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(login(&up.addr, &password).await, 200);

    // its own Unix socket in the folder, no TCP, trust only there
    let (code, url, t) = env.status();
    assert_eq!(code, Some(0), "{t}");
    let url = url.unwrap_or_else(|| panic!("no URL in: {t}"));
    assert_eq!(
        socket_dir_of(&url),
        std::path::absolute(env.pg_dir()).unwrap()
    );
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let listen: String = sqlx::query_scalar("SHOW listen_addresses")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(listen, "");
    let (encoding, trust_elsewhere): (String, i64) = sqlx::query_as(
        "SELECT pg_encoding_to_char(encoding)::text,
                (SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust' AND type <> 'local')
           FROM pg_database WHERE datname = current_database()",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(encoding, "UTF8");
    assert_eq!(trust_elsewhere, 0, "trust beyond the Unix socket");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    // SIGTERM: up stops cleanly and stops the cluster it started
    let rest = up.stop().join("\n");
    assert!(rest.contains("NeuroHub stopped"), "{rest}");
    assert!(rest.contains("Private PostgreSQL in"), "{rest}");
    let (code, _, t) = env.status();
    assert_eq!(code, Some(3), "{t}");
    assert!(t.contains("stopped"), "{t}");

    // the next up reuses the folder: nothing created, deployed or seeded again, the same admin password works
    std::fs::remove_file(env.dir.join("admin-password")).unwrap();
    let up = spawn_up(&env);
    let out = up.output.clone();
    assert!(!out.contains("created a private one"), "{out}");
    assert!(out.contains("Private PostgreSQL started in"), "{out}");
    assert!(out.contains("nothing to deploy"), "{out}");
    assert!(!out.contains("First admin"), "{out}");
    assert!(!out.contains("Demo data loaded"), "{out}");
    assert_eq!(login(&up.addr, &password).await, 200);
    let (_, url, _) = env.status();
    let mut conn = PgConnection::connect(&url.unwrap()).await.unwrap();
    let again: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    assert_eq!(again, users);
    up.stop();
    assert_eq!(env.status().0, Some(3));

    // an `up` that dies without stopping the cluster (SIGKILL): the next `up` takes the cluster over and stops it
    let mut up = spawn_up(&env);
    up.child.kill().unwrap();
    up.child.wait().unwrap();
    assert_eq!(env.status().0, Some(0), "the cluster outlives a killed up");
    let up = spawn_up(&env);
    assert!(
        up.output.contains("left running by an earlier `up`"),
        "{}",
        up.output
    );
    assert_eq!(login(&up.addr, &password).await, 200);
    let rest = up.stop().join("\n");
    assert!(rest.contains("Private PostgreSQL in"), "{rest}");
    assert_eq!(env.status().0, Some(3));
    shared_server_still_answers().await;
}

#[test]
fn missing_server_binaries_say_what_to_install_with_exit_code_2() {
    let env = Env::new("private-nobin");
    let out = env
        .command(&["up"])
        .env("NEUROHUB_PG_BIN_DIR", env.dir.join("no-such-bin"))
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    for needle in [
        "no PostgreSQL answers at",
        "no-such-bin",
        "sudo apt install postgresql",
        "sudo dnf install postgresql-server",
        "brew install postgresql@16",
        "NEUROHUB_PG_BIN_DIR",
        "DATABASE_URL",
    ] {
        assert!(t.contains(needle), "{needle:?} missing in:\n{t}");
    }
    assert_eq!(
        t.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "one message: {t}"
    );
    assert!(!env.pg_dir().exists(), "nothing created");
}

#[tokio::test]
async fn db_start_status_stop_and_other_commands_use_the_running_cluster() {
    let env = Env::new("private-db");
    let (code, _, t) = env.status();
    assert_eq!(code, Some(3), "{t}");
    assert!(t.contains("not initialized"), "{t}");

    // TCP only when asked, and with a password there (trust is for the socket)
    let port = free_port();
    let out = env.run(&["db", "start", "--pg-port", &port.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("initialized a private PostgreSQL"));
    let (code, url, t) = env.status();
    assert_eq!(code, Some(0), "{t}");
    let url = url.unwrap();
    let mut conn = PgConnection::connect(&url).await.unwrap();
    let listen: String = sqlx::query_scalar("SHOW listen_addresses")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(listen, "127.0.0.1");
    conn.close().await.unwrap();
    let tcp =
        PgConnection::connect(&format!("postgres://postgres@127.0.0.1:{port}/neurohub")).await;
    let err = match tcp {
        Ok(_) => panic!("TCP without a password was let in"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("password"), "{err}");

    // a second start changes nothing
    let out = env.run(&["db", "start"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("already running"), "{}", text(&out));

    // without DATABASE_URL, other commands use the running private cluster
    let out = env.run(&["migrate", "status"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("pending"), "{}", text(&out));

    // an `up` on a cluster started by hand uses it and leaves it running
    let up = spawn_up(&env);
    assert!(
        up.output.contains("already running") && up.output.contains("left running on exit"),
        "{}",
        up.output
    );
    let rest = up.stop().join("\n");
    assert!(!rest.contains("Private PostgreSQL in"), "{rest}");
    assert_eq!(
        env.status().0,
        Some(0),
        "up stopped a cluster it did not start"
    );

    let out = env.run(&["db", "stop"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (code, _, t) = env.status();
    assert_eq!(code, Some(3), "{t}");
    assert!(t.contains("stopped"), "{t}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(!socket_dir_of(&url)
        .join(format!(".s.PGSQL.{port}"))
        .exists());
    shared_server_still_answers().await;
}
