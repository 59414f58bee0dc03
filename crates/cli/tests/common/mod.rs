//! Helpers shared by the binary's test files.
#![allow(dead_code)]

use sqlx::PgPool;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

/// Run the binary on `url`.
pub fn neurohub(url: &str, args: &[&str]) -> Output {
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

/// stdout then stderr.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The URL of the test's own database (sqlx::test made it), for the binary to use.
pub fn url_of(pool: &PgPool) -> String {
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

/// A running `neurohub up` / `serve` (stdout piped, so not a terminal), read until it listens.
pub struct Up {
    pub child: std::process::Child,
    pub lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    pub output: String,
    pub addr: String,
}

impl Up {
    /// Start `cmd` (stdout piped, stderr inherited) and read its output up to the "listening" line.
    pub fn spawn(mut cmd: Command) -> Up {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut output = String::new();
        let mut addr = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            output.push_str(&line);
            output.push('\n');
            if let Some(a) = line.strip_prefix("NeuroHub listening on http://") {
                addr = a.split_whitespace().next().map(str::to_string);
                break;
            }
        }
        let addr = addr.unwrap_or_else(|| panic!("server did not start:\n{output}"));
        Up {
            child,
            lines,
            output,
            addr,
        }
    }

    /// SIGTERM, then the rest of its output; asserts a clean stop.
    pub fn stop(mut self) -> Vec<String> {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let rest: Vec<String> = self.lines.map_while(Result::ok).collect();
        let status = self.child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{}", rest.join("\n"));
        assert!(
            rest.iter().any(|l| l.contains("NeuroHub stopped")),
            "{rest:?}"
        );
        rest
    }
}
