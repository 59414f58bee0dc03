//! `stations-under-faults [--stations N] [--units N] [--kill-every-ms MS] [--restarts N] [--write FILE]`: one
//! run of [`neurohub_faults::run`]; prints the report, writes it as markdown to FILE (docs/reliability.md from
//! `scripts/reliability.sh`), and exits 1 when an invariant is violated.

use std::process::ExitCode;
use std::time::Duration;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn num(args: &[String], name: &str, default: u64) -> Result<u64, String> {
    match arg(args, name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{name} takes a number, not {v:?}")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = (|| -> Result<neurohub_faults::Config, String> {
        Ok(neurohub_faults::Config {
            stations: num(&args, "--stations", 8)? as usize,
            units: num(&args, "--units", 10)? as usize,
            kill_every: Duration::from_millis(num(&args, "--kill-every-ms", 300)?),
            restarts: num(&args, "--restarts", 2)? as usize,
            give_up_after: Duration::from_secs(120),
            tamper: None,
        })
    })();
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let report = match neurohub_faults::run(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("the run could not be carried out: {e:#}");
            return ExitCode::from(2);
        }
    };
    let commit = std::env::var("NEUROHUB_COMMIT").unwrap_or_else(|_| "unknown".into());
    let command = std::env::var("NEUROHUB_COMMAND")
        .unwrap_or_else(|_| format!("stations-under-faults {}", args.join(" ")));
    let md = neurohub_faults::markdown(&report, &command, &commit);
    println!("{md}");
    if let Some(path) = arg(&args, "--write") {
        if let Err(e) = std::fs::write(&path, &md) {
            eprintln!("cannot write {path}: {e}");
            return ExitCode::from(2);
        }
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
