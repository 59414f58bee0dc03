//! `neurohub-bench`: the load driver behind `bench/run`.
//!
//! It talks to a running NeuroHub only over HTTP (loopback) and to its PostgreSQL only as a client, so what it
//! measures is what a station or a browser would see. For every scenario and concurrency it runs a closed loop
//! (each worker sends its next request when the previous one answered) for a warm-up and then a measured window,
//! records every latency in an HDR histogram, and reads the server's and PostgreSQL's CPU time and the server's
//! RSS from `/proc` around the window. Right after, it replays the very statements the server ran for that
//! request (captured from PostgreSQL's own statement log, parameters included) with `pgbench -M prepared` at the
//! same concurrency: the database's own ceiling for that request, and the app ÷ pgbench ratio the targets are
//! written against. It writes `<out>/<date>.md`, `.json` and `.svg`.
//!
//! It is a separate binary, not a `neurohub` subcommand, because it must not share a process (or a tokio
//! runtime, or CPU accounting) with the server it measures.

mod capture;
mod load;
mod procstat;
mod report;
mod scenario;
mod waits;
mod walk;

use anyhow::{bail, Context, Result};
use clap::Parser;
use scenario::Replay;
use std::path::PathBuf;
use std::time::Duration;

/// Command-line settings; `bench/run` fills them in.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "neurohub-bench",
    about = "Drive a running NeuroHub and write bench/results"
)]
pub struct Args {
    /// The server under test.
    #[arg(long, env = "BENCH_BASE_URL", default_value = "http://127.0.0.1:18080")]
    pub base_url: String,
    /// Its database, as a superuser login (sampling, statement capture, pgbench, EXPLAIN).
    #[arg(long, env = "BENCH_DATABASE_URL")]
    pub database_url: String,
    /// The server's data folder (`postmaster.pid` gives the PostgreSQL process whose CPU is counted).
    #[arg(long, env = "BENCH_PG_DATA")]
    pub pg_data: PathBuf,
    /// The PostgreSQL bin folder (pgbench).
    #[arg(long, env = "BENCH_PG_BIN")]
    pub pg_bin: PathBuf,
    /// The server's process id (CPU and RSS).
    #[arg(long, env = "BENCH_SERVER_PID")]
    pub server_pid: u32,
    /// The account the reads and station writes run as (a MANAGER or ADMIN).
    #[arg(long, env = "BENCH_USERNAME", default_value = "admin")]
    pub username: String,
    #[arg(long, env = "BENCH_PASSWORD", hide_env_values = true)]
    pub password: String,
    /// The `neurohub` binary (to give an ATP approver a known password for the ATP scenarios).
    #[arg(long, env = "BENCH_NEUROHUB_BIN")]
    pub neurohub_bin: Option<PathBuf>,
    /// Measured seconds per run.
    #[arg(long, env = "BENCH_DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Warm-up seconds before each measured run (not recorded).
    #[arg(long, env = "BENCH_WARMUP", default_value = "2s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// Concurrency levels.
    #[arg(
        long,
        env = "BENCH_CONCURRENCY",
        value_delimiter = ',',
        default_value = "1,10,64"
    )]
    pub concurrency: Vec<usize>,
    /// Only scenarios whose name contains one of these (all when empty).
    #[arg(long, env = "BENCH_ONLY", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Skip the pgbench replay (app figures only; ratios are then not marked).
    #[arg(long, env = "BENCH_NO_PGBENCH")]
    pub no_pgbench: bool,
    /// Session settings the server's request pool uses (crates/core/src/db.rs: the request role, no JIT, the
    /// default random_page_cost), given to pgbench the same way (PGOPTIONS), so both run the statements under the
    /// same settings and plans.
    #[arg(
        long,
        env = "BENCH_PG_OPTIONS",
        default_value = "-c role=neurohub_app -c jit=off -c random_page_cost=1.1"
    )]
    pub pg_options: String,
    /// Where the results go.
    #[arg(long, env = "BENCH_OUT", default_value = "bench/results")]
    pub out: PathBuf,
    /// The results' file name without extension (default: today's date, e.g. 2026-12-03): a second run on one day
    /// under another name keeps the first.
    #[arg(long, env = "BENCH_NAME")]
    pub name: Option<String>,
    /// A line about the data set and the machine, copied into the results.
    #[arg(long, env = "BENCH_NOTE", default_value = "")]
    pub note: String,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.concurrency.iter().any(|c| *c == 0 || *c > 1024) {
        bail!("--concurrency levels must be between 1 and 1024");
    }
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(6)
        .connect_with(
            args.database_url
                .parse::<sqlx::postgres::PgConnectOptions>()
                .context("BENCH_DATABASE_URL")?
                .application_name("neurohub-bench"),
        )
        .await
        .context("connect to the database under test")?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1100)
        .timeout(Duration::from_secs(30))
        .build()?;
    let token = scenario::login(&http, &args.base_url, &args.username, &args.password).await?;
    let sample = scenario::Sample::read(&db, &args.username).await?;
    eprintln!("sample: {}", sample.describe());
    let mut scenarios = scenario::all(&db, &sample, &args, &http, &token).await?;
    if !args.only.is_empty() {
        scenarios.retain(|s| args.only.iter().any(|o| s.name.contains(o.as_str())));
    }
    let postmaster = procstat::postmaster_pid(&args.pg_data)?;
    let mut runs = Vec::new();
    let mut skipped = Vec::new();
    let mut captured = Vec::new();
    let mut walks = Vec::new();
    for scn in &scenarios {
        if let Some(why) = &scn.skip {
            eprintln!("{}: not run: {why}", scn.name);
            skipped.push((scn.name.clone(), why.clone()));
            continue;
        }
        // the statements one request runs, for pgbench and EXPLAIN; or a walk of a unit, for pgbench
        let (mut stmts, mut walk) = (None, None);
        match scn.replay {
            _ if args.no_pgbench => {}
            Replay::None => {}
            Replay::Request => {
                match capture::capture(&db, &args.pg_data, || load::one(&http, &args.base_url, scn))
                    .await
                {
                    Ok(s) => stmts = Some(s),
                    Err(e) => eprintln!("{}: statement capture failed: {e:#}", scn.name),
                }
            }
            Replay::Walk => {
                // fresh units for the fastest replay: ~100 walks (800 pairs) per second per window
                let units = ((args.duration.as_secs_f64() + 1.0) * 100.0) as usize
                    * args.concurrency.len()
                    + 64;
                match walk::prepare(&db, &args, &http, &token, &sample, units).await {
                    Ok(w) => {
                        eprintln!(
                            "{}: walk replay with {} variables, {} parameters as captured, {} fresh units",
                            scn.name,
                            w.variables,
                            w.kept.len(),
                            w.units
                        );
                        walk = Some(w);
                    }
                    Err(e) => eprintln!("{}: walk capture failed: {e:#}", scn.name),
                }
            }
        }
        for &c in &args.concurrency {
            eprint!("{} at {c}: ", scn.name);
            let mut run = load::run(
                &http,
                &args.base_url,
                scn,
                c,
                (args.warmup, args.duration),
                (args.server_pid, postmaster),
                &db,
            )
            .await?;
            run.resources.server_rss_kb = procstat::rss_kb(args.server_pid).unwrap_or(0);
            let replay = match (&stmts, &walk) {
                (Some(s), _) => {
                    Some(capture::pgbench(&db, &args, s, c, args.duration, postmaster).await)
                }
                (None, Some(w)) => Some(w.pgbench(&db, &args, c, args.duration, postmaster).await),
                (None, None) => None,
            };
            match replay {
                Some(Ok(p)) => run.pgbench = Some(p),
                Some(Err(e)) => eprintln!("pgbench failed: {e:#}"),
                None => {}
            }
            eprintln!(
                "{:.0} req/s, p99 {:.2} ms, errors {}, pgbench {}",
                run.rps(),
                run.p(99.0),
                run.errors,
                run.pgbench
                    .as_ref()
                    .map(|p| format!("{:.0} tps", p.tps))
                    .unwrap_or_else(|| "-".into())
            );
            runs.push(run);
        }
        if let Some(s) = stmts.take() {
            captured.push((scn.name.clone(), s));
        }
        if let Some(w) = walk.take() {
            walk::Walk::cleanup(&db).await?;
            walks.push((scn.name.clone(), w));
        }
    }
    let explains = capture::explain_slowest(&db, &captured, 5, &args.pg_options).await?;
    let peak_rss_kb = procstat::peak_rss_kb(args.server_pid).unwrap_or(0);
    let rss_split_kb = procstat::rss_split_kb(args.server_pid);
    let mut results = report::Results::new(
        &args,
        &sample,
        runs,
        skipped,
        explains,
        captured,
        (peak_rss_kb, rss_split_kb),
    );
    results.replayed_walks = walks;
    let written = results.write(&args.out, args.name.as_deref())?;
    for p in written {
        println!("{}", p.display());
    }
    Ok(())
}
