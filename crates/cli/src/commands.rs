//! What each subcommand does. Exit codes: 0 success, 1 the work failed (a step, a verification mismatch),
//! 2 configuration or connection problem (nothing was attempted). `verify` and `restore` differ: their code is
//! the decision (0 GO, 1 HOLD, 2 NO-GO), 3 when the database cannot be reached, and (restore) 4 when the restore
//! itself fails.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use neurohub_core::auth::tokens::TokenKeys;
use neurohub_core::config::{DeployTimeoutArgs, ServeArgs};
use neurohub_core::db::{self, ConnectError};
use neurohub_core::AppState;
use neurohub_mes::settings::MesArgs;
use neurohub_schema::{DeployOptions, SchemaError, Timeouts};
use sqlx::{Connection, PgPool};

use crate::private_db;
use crate::signing_key::{signing_key, Mode as KeyMode};
use crate::{
    AdminAction, AuditAction, Cli, Command, DeployArgs, MigrateAction, ModuleArg, ReportFormat,
};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Connect(#[from] ConnectError),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Schema(#[from] SchemaError),
    #[error("{0}")]
    Other(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Connect(_) | CliError::Config(_) => 2,
            CliError::Schema(e) if is_connection_error(e) => 2,
            _ => 1,
        }
    }
}

fn is_connection_error(e: &SchemaError) -> bool {
    matches!(
        e,
        SchemaError::Database(sqlx::Error::Io(_))
            | SchemaError::Database(sqlx::Error::PoolTimedOut)
            | SchemaError::InvalidUrl(_)
    )
}

fn timeouts(t: &DeployTimeoutArgs) -> Timeouts {
    Timeouts {
        lock_timeout: t.lock_timeout,
        statement_timeout: t.statement_timeout,
    }
}

pub async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    neurohub_server::install_error_mappings();
    let Cli {
        db: db_args,
        pg,
        command,
        ..
    } = cli;
    let url = match &command {
        Command::Up { .. } | Command::Db { .. } => String::new(),
        _ => private_db::url_for_command(&db_args, &pg),
    };
    match command {
        Command::Db { action } => private_db::db_command(&pg, action).await,
        Command::Audit { action } => audit(&url, action).await,
        Command::Up {
            serve,
            mes,
            deploy,
            no_demo,
            admin_password,
            secret_out,
            gauges,
            jobs,
        } => {
            if let Some(p) = &admin_password {
                neurohub_core::auth::password::check_new_password(p)
                    .map_err(|m| CliError::Config(format!("NEUROHUB_ADMIN_PASSWORD: {m}")))?;
            }
            let secret = signing_key(&serve, KeyMode::Up)?;
            let tls = tls_config(&serve)?;
            // DATABASE_URL, or the private cluster (started here, and stopped when `up` returns, if it was not
            // running), or the default address (docs/runbooks.md, "The private database")
            let (url, _private) = private_db::url_for_up(&db_args, &pg).await?;
            probe(&url, true).await?;
            // deploy creates the database when it is missing, so the zone is checked right after it, before
            // anything is written with it
            let ok = run_deploy(&url, &deploy, false, None).await?;
            if !ok {
                return Ok(ExitCode::from(1));
            }
            let pool = db::connect(&url, &OWNER_POOL).await?;
            check_plant_time_zone(&pool, &mes).await?;
            let given = admin_password.is_some();
            match neurohub_identity::users::ensure_first_admin(&pool, admin_password).await {
                Ok(Some((username, _))) if given => {
                    println!("First admin `{username}` created with the password from NEUROHUB_ADMIN_PASSWORD.")
                }
                Ok(Some((username, password))) => {
                    hand_over_password(
                        &format!("First admin `{username}` created"),
                        &username,
                        &password,
                        &secret_out.admin_password_file,
                    )?;
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(CliError::Other(format!(
                        "could not create the first admin: {e}"
                    )))
                }
            }
            if !no_demo {
                match neurohub_mes::demo::seed_if_empty(&pool, &mes.plant_time_zone).await {
                    Ok(Some(summary)) => println!("Demo data loaded: {summary}"),
                    Ok(None) => {}
                    Err(e) => {
                        return Err(CliError::Other(format!("could not load demo data: {e}")))
                    }
                }
                load_atp_demo(&pool, &secret_out).await?;
            }
            serve_on(&url, pool, &serve, tls, &mes, secret, &gauges, &jobs).await
        }
        Command::Serve {
            dev,
            serve,
            mes,
            gauges,
            jobs,
        } => {
            let secret = signing_key(&serve, KeyMode::Serve { dev })?;
            let tls = tls_config(&serve)?;
            probe(&url, false).await?;
            let pool = db::connect(&url, &OWNER_POOL).await?;
            check_plant_time_zone(&pool, &mes).await?;
            let version = neurohub_schema::current_version(&pool).await?;
            let pending = neurohub_schema::pending_steps(&pool).await?;
            if version != neurohub_schema::HEAD_VERSION || pending > 0 {
                return Err(CliError::Other(format!(
                    "the schema is at version {version} with {pending} pending steps (this build needs {}); run `neurohub deploy` first",
                    neurohub_schema::HEAD_VERSION
                )));
            }
            serve_on(&url, pool, &serve, tls, &mes, secret, &gauges, &jobs).await
        }
        Command::Deploy {
            deploy,
            dry_run,
            to,
        } => {
            probe(&url, true).await?;
            let ok = run_deploy(&url, &deploy, dry_run, to).await?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Migrate { action } => migrate(&url, action).await,
        Command::Verify {
            measure_fk_overhead: true,
            fk_overhead_samples,
            ..
        } => Ok(unreachable_is_3(
            fk_overhead(&url, fk_overhead_samples).await,
        )),
        Command::Verify {
            format,
            out,
            module,
            ..
        } => Ok(unreachable_is_3(
            verify(&url, format, out.as_deref(), module).await,
        )),
        Command::Backup { out, backup_dir } => {
            probe(&url, false).await?;
            let file = match out {
                Some(f) => f,
                None => {
                    let pool = db::connect(&url, &Default::default()).await?;
                    let version = neurohub_schema::current_version(&pool).await?;
                    pool.close().await;
                    let name = db::database_name(&url).unwrap_or_else(|| "neurohub".into());
                    backup_dir.join(neurohub_schema::backup_file_name(&name, version))
                }
            };
            let info = neurohub_schema::backup(&url, &file).await?;
            println!(
                "backup written: {} ({} bytes, {} entries, {:.2?}); sha256 {} in {}",
                info.path.display(),
                info.bytes,
                info.entries,
                info.duration,
                info.sha256,
                neurohub_schema::checksum_path(&info.path).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { file, into } => {
            if let Err(e) = probe(&url, true).await {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(3));
            }
            let info = match neurohub_schema::restore(&url, &file, &into).await {
                Ok(i) => i,
                Err(e) if is_connection_error(&e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(3));
                }
                Err(e) => {
                    eprintln!("error: restore failed: {e}");
                    return Ok(ExitCode::from(4));
                }
            };
            println!(
                "restored {} (sha256 {} verified) into {} in {:.2?}; verifying it",
                file.display(),
                info.sha256,
                db::redact_url(&info.database_url),
                info.duration
            );
            Ok(unreachable_is_3(
                verify(&info.database_url, ReportFormat::Text, None, ModuleArg::All).await,
            ))
        }
        Command::Admin {
            action:
                AdminAction::ResetPassword {
                    username,
                    password,
                    secret_out,
                },
        } => {
            probe(&url, false).await?;
            let pool = db::connect(&url, &OWNER_POOL).await?;
            let given = password.is_some();
            let new = neurohub_identity::users::reset_password(&pool, &username, password)
                .await
                .map_err(|e| CliError::Other(format!("could not reset the password: {e}")))?;
            if given {
                println!(
                    "Password of `{username}` reset to the given one; its sessions are revoked."
                );
            } else {
                hand_over_password(
                    &format!("Password of `{username}` reset; its sessions are revoked"),
                    &username,
                    &new,
                    &secret_out.admin_password_file,
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Seed {
            lots,
            units_per_lot,
            random_seed,
            months,
            workspaces,
            sites,
            submissions,
            ..
        } if lots.is_some() || workspaces > 0 => {
            probe(&url, false).await?;
            let pool = db::connect(&url, &Default::default()).await?;
            if let Some(lots) = lots {
                let spec = neurohub_mes::generate::Spec {
                    lots,
                    units_per_lot,
                    random_seed,
                    months,
                };
                let report = neurohub_mes::generate::generate(&pool, &spec, &mut |line: &str| {
                    eprintln!("seed: {line}")
                })
                .await
                .map_err(|e| CliError::Other(format!("could not generate the data set: {e}")))?;
                println!("generated: {report}");
            }
            if workspaces > 0 {
                let spec = neurohub_atp::generate::Spec {
                    workspaces,
                    sites,
                    submissions,
                    random_seed,
                    months,
                    now: None,
                };
                let report = neurohub_atp::generate::generate(&pool, &spec, &mut |line: &str| {
                    eprintln!("seed: {line}")
                })
                .await
                .map_err(|e| {
                    CliError::Other(format!("could not generate the ATP data set: {e}"))
                })?;
                println!("generated ATP: {report}");
            }
            let t = Instant::now();
            let verified = neurohub_schema::verify_report(
                &pool,
                neurohub_schema::ModuleFilter::All,
                neurohub_server::verify_runtime(),
            )
            .await?;
            pool.close().await;
            println!(
                "verify: {} (score {}) in {:.1} s",
                verified.decision.label(),
                verified.score,
                t.elapsed().as_secs_f64()
            );
            if verified.decision.exit_code() != 0 {
                print!("{}", verified.to_text());
                return Err(CliError::Other(
                    "the generated data set does not pass verify".into(),
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Seed {
            mes, secret_out, ..
        } => {
            probe(&url, false).await?;
            let pool = db::connect(&url, &Default::default()).await?;
            check_plant_time_zone(&pool, &mes).await?;
            match neurohub_mes::demo::seed_if_empty(&pool, &mes.plant_time_zone).await {
                Ok(Some(summary)) => println!("demo data loaded: {summary}"),
                Ok(None) => println!("the database already has production data; nothing loaded"),
                Err(e) => return Err(CliError::Other(format!("could not load demo data: {e}"))),
            }
            load_atp_demo(&pool, &secret_out).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `neurohub audit archive | restore` (docs/runbooks.md, "Audit retention").
async fn audit(url: &str, action: AuditAction) -> Result<ExitCode, CliError> {
    use neurohub_schema::audit_archive;
    probe(url, false).await?;
    let pool = db::connect(url, &Default::default()).await?;
    let result = match action {
        AuditAction::Archive { before, dir } => {
            let done =
                audit_archive::archive_before(url, &pool, before, &dir.audit_archive_dir).await;
            done.map(|months| {
                if months.is_empty() {
                    println!(
                        "no audit month before {} left to archive",
                        before.format("%Y-%m")
                    );
                }
                for m in months {
                    println!(
                        "archived {} ({} rows) to {} (sha256 {}, restore verified); dropped from the database",
                        m.partition,
                        m.rows,
                        m.file.display(),
                        m.sha256
                    );
                }
            })
        }
        AuditAction::Restore { file } => audit_archive::restore_archive(url, &pool, &file)
            .await
            .map(|m| {
                println!(
                    "restored {} ({} rows, sha256 {} verified) from {}; append-only as before",
                    m.partition,
                    m.rows,
                    m.sha256,
                    file.display()
                )
            }),
    };
    pool.close().await;
    result?;
    Ok(ExitCode::SUCCESS)
}

/// `verify`'s exit code: the decision's, or 3 when the database cannot be reached (a connection or
/// configuration error), or 2 (NO-GO: not verified) when the report itself could not be produced.
fn unreachable_is_3(r: Result<ExitCode, CliError>) -> ExitCode {
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if e.exit_code() == 2 { 3 } else { 2 })
        }
    }
}

async fn fk_overhead(url: &str, samples: usize) -> Result<ExitCode, CliError> {
    use neurohub_schema::verify::fk_overhead;
    probe(url, false).await?;
    let pool = db::connect(url, &Default::default()).await?;
    let rows = fk_overhead::measure(&pool, samples.max(1)).await?;
    pool.close().await;
    print!("{}", fk_overhead::render(&rows, samples.max(1)));
    Ok(if rows.iter().all(|r| r.within_target) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn verify(
    url: &str,
    format: ReportFormat,
    out: Option<&std::path::Path>,
    module: ModuleArg,
) -> Result<ExitCode, CliError> {
    probe(url, false).await?;
    let pool = db::connect(url, &Default::default()).await?;
    let filter = match module {
        ModuleArg::All => neurohub_schema::ModuleFilter::All,
        ModuleArg::Mes => neurohub_schema::ModuleFilter::Mes,
        ModuleArg::Atp => neurohub_schema::ModuleFilter::Atp,
    };
    let report =
        neurohub_schema::verify_report(&pool, filter, neurohub_server::verify_runtime()).await?;
    pool.close().await;
    let rendered = match format {
        ReportFormat::Text => report.to_text(),
        ReportFormat::Markdown => report.to_markdown(),
        ReportFormat::Json => report.to_json(),
    };
    match out {
        Some(path) => {
            std::fs::write(path, &rendered).map_err(|e| {
                CliError::Other(format!(
                    "cannot write the report to {}: {e}",
                    path.display()
                ))
            })?;
            println!(
                "DECISION: {} (score {}); report written to {}",
                report.decision.label(),
                report.score,
                path.display()
            );
        }
        None => println!("{rendered}"),
    }
    Ok(ExitCode::from(report.decision.exit_code()))
}

/// Fail fast, with one clear line, when the server cannot be reached. A missing database is fine for commands
/// that create it.
async fn probe(url: &str, may_create: bool) -> Result<(), CliError> {
    let opts = db::connect_options(url)?;
    let attempt = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        sqlx::PgConnection::connect_with(&opts),
    )
    .await;
    let unreachable = |reason: String| {
        CliError::Connect(ConnectError::Unreachable {
            url: db::redact_url(url),
            reason,
        })
    };
    match attempt {
        Err(_) => Err(unreachable("no answer within 10 s".into())),
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(sqlx::Error::Database(e))) if e.code().as_deref() == Some("3D000") => {
            if may_create {
                Ok(())
            } else {
                Err(unreachable(format!(
                    "{}; create and deploy it with `neurohub deploy` (or `neurohub up`)",
                    e.message()
                )))
            }
        }
        Ok(Err(sqlx::Error::Database(e))) => Err(unreachable(e.message().to_string())),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
    }
}

async fn run_deploy(
    url: &str,
    args: &DeployArgs,
    dry_run: bool,
    target: Option<i32>,
) -> Result<bool, CliError> {
    let opts = DeployOptions {
        target,
        dry_run,
        backup: args.backup.clone(),
        backup_dir: args.backup_dir.clone(),
        no_backup: args.no_backup,
        timeouts: timeouts(&args.timeouts),
        ..Default::default()
    };
    let mut out = std::io::stdout();
    let outcome = neurohub_schema::deploy(url, &opts, &mut out).await?;
    let _ = out.flush();
    Ok(outcome.ok())
}

async fn migrate(url: &str, action: MigrateAction) -> Result<ExitCode, CliError> {
    match action {
        MigrateAction::Status => {
            probe(url, false).await?;
            let pool = db::connect(url, &Default::default()).await?;
            let rows = neurohub_schema::status(&pool).await?;
            println!(
                "{:<8} {:<16} {:>7}  {:<8} applied at",
                "version", "name", "steps", "state"
            );
            for r in rows {
                let state = if r.is_applied() {
                    "applied"
                } else if r.applied_steps > 0 {
                    "partial"
                } else {
                    "pending"
                };
                let at = r.applied_at.map(|t| t.to_rfc3339()).unwrap_or_default();
                println!(
                    "{:<8} {:<16} {:>3}/{:<3}  {state:<8} {at}",
                    format!("{:04}", r.version),
                    r.name,
                    r.applied_steps,
                    r.total_steps
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        MigrateAction::Up { to, timeouts: t } => {
            probe(url, true).await?;
            neurohub_schema::ensure_database(url).await?;
            let pool = db::connect(url, &Default::default()).await?;
            let start = Instant::now();
            let report = neurohub_schema::up(&pool, to, &timeouts(&t), &mut print_event).await?;
            println!(
                "schema at version {} (was {}) in {:.2?}",
                report.to_version,
                report.from_version,
                start.elapsed()
            );
            Ok(ExitCode::SUCCESS)
        }
        MigrateAction::Down { to, timeouts: t } => {
            probe(url, false).await?;
            let pool = db::connect(url, &Default::default()).await?;
            let start = Instant::now();
            let report = neurohub_schema::down(&pool, to, &timeouts(&t), &mut print_event).await?;
            println!(
                "schema at version {} (was {}) in {:.2?}",
                report.to_version,
                report.from_version,
                start.elapsed()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_event(e: &neurohub_schema::Event) {
    use neurohub_schema::Event::*;
    match e {
        StepStarted { .. } => {}
        StepApplied {
            version,
            step_no,
            name,
            duration,
        } => println!("[{version:04}/{step_no:02}] {name} .. {duration:.2?}"),
        StepSkipped {
            version,
            step_no,
            name,
        } => println!("[{version:04}/{step_no:02}] {name} .. already applied"),
        VersionApplied {
            version,
            name,
            duration,
        } => println!("version {version:04} {name} applied in {duration:.2?}"),
        VersionReverted {
            version,
            name,
            duration,
        } => println!("version {version:04} {name} reverted in {duration:.2?}"),
    }
}

/// Refuse to start with a plant time zone PostgreSQL does not know (a configuration error, exit code 2).
async fn check_plant_time_zone(pool: &PgPool, mes: &MesArgs) -> Result<(), CliError> {
    neurohub_mes::settings::check_time_zone(pool, &mes.plant_time_zone)
        .await
        .map_err(CliError::Config)
}

/// The owner login's pool (`up`'s first admin and demo data, the audit-partition job, the verify gauges, the ATP
/// SLA sweep and webhook worker — each job holds one connection for its advisory lock and uses another): small,
/// requests never use it.
const OWNER_POOL: db::PoolConfig = db::PoolConfig {
    max_connections: 6,
    min_connections: 0,
    acquire_timeout: std::time::Duration::from_secs(10),
    statement_timeout: None,
    random_page_cost: None,
};

/// The TLS configuration of `--tls-cert` / `--tls-key`, read and checked before anything else starts (a bad file
/// is a configuration error, exit code 2); `None` serves plain HTTP.
fn tls_config(serve: &ServeArgs) -> Result<Option<std::sync::Arc<rustls::ServerConfig>>, CliError> {
    match (&serve.tls_cert, &serve.tls_key) {
        (Some(cert), Some(key)) => neurohub_server::tls::load_server_config(cert, key)
            .map(Some)
            .map_err(CliError::Config),
        // clap makes each flag require the other
        _ => Ok(None),
    }
}

/// Serve: the request pools (primary, and the read pool on `--database-read-url` or the primary) run as the
/// request role; `owner` keeps the audit partitions in place.
#[allow(clippy::too_many_arguments)] // each is one settings group of `up` / `serve`
async fn serve_on(
    url: &str,
    owner: PgPool,
    serve: &ServeArgs,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    mes: &MesArgs,
    secret: Vec<u8>,
    gauges: &crate::GaugeArgs,
    jobs: &crate::JobArgs,
) -> Result<ExitCode, CliError> {
    let keys = TokenKeys::new(&secret, serve.access_token_ttl, serve.refresh_token_ttl);
    let pool = db::connect_requests(url, &serve.pool_config()).await?;
    let mut state = AppState::new(pool.clone(), keys, serve.settings());
    // the replica pool connects on first use: a replica that is down at start only sends reads to the primary
    let read_pool = match &serve.database_read_url {
        Some(read_url) => {
            // a read waits at most 1 s for a replica connection before it is retried on the primary
            let mut cfg = serve.pool_config();
            cfg.acquire_timeout = cfg.acquire_timeout.min(std::time::Duration::from_secs(1));
            let replica = db::connect_requests_lazy(read_url, &cfg)?;
            state = state.with_read_replica(replica.clone(), serve.database_read_max_lag);
            Some(replica)
        }
        None => None,
    };
    let state = state.with_extension(mes.settings());
    let lag_monitor = neurohub_core::replica::spawn_lag_monitor(
        pool.clone(),
        state.read_routing().clone(),
        serve.database_read_check_interval,
    );
    let _maintenance = neurohub_server::spawn_partition_maintenance(owner.clone());
    let _revocation = neurohub_server::spawn_revocation_listener(&state);
    let gauge_task =
        neurohub_server::gauges::spawn_verify_gauges(owner.clone(), gauges.verify_interval);
    let mut atp_jobs = neurohub_atp::flow::spawn_background_jobs(
        owner.clone(),
        jobs.sla_sweep_interval,
        jobs.webhook_delivery_interval,
    );
    atp_jobs.extend(spawn_audit_retention(url, &owner, jobs));
    let app = neurohub_server::app(
        state,
        &neurohub_server::HttpOptions {
            request_timeout: serve.request_timeout,
            tls: tls.is_some(),
            trusted_proxies: serve.trusted_proxies(),
        },
    );
    let listener = tokio::net::TcpListener::bind(serve.listen)
        .await
        .map_err(|e| {
            CliError::Config(format!(
                "cannot listen on {}: {e}; choose another --listen / NEUROHUB_LISTEN",
                serve.listen
            ))
        })?;
    let addr = listener.local_addr().unwrap_or(serve.listen);
    let stop = neurohub_server::ShutdownSignal::install()
        .map_err(|e| CliError::Other(format!("cannot install signal handlers: {e}")))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("NeuroHub listening on {scheme}://{addr} (web UI at {scheme}://{addr}/ui, API docs at {scheme}://{addr}/docs)");
    match tls {
        Some(config) => neurohub_server::tls::serve_tls(listener, config, app, stop.recv()).await,
        None => neurohub_server::serve(listener, app, stop.recv()).await,
    }
    .map_err(|e| CliError::Other(format!("server error: {e}")))?;
    // stop a verify run in flight while the runtime is alive: its transaction is dropped (rolled back) here,
    // not during runtime shutdown
    if let Some(task) = gauge_task {
        task.abort();
        let _ = task.await;
    }
    for task in atp_jobs {
        task.abort();
        let _ = task.await;
    }
    if let Some(task) = lag_monitor {
        task.abort();
        let _ = task.await;
    }
    pool.close().await;
    if let Some(read_pool) = read_pool {
        read_pool.close().await;
    }
    owner.close().await;
    println!("NeuroHub stopped");
    Ok(ExitCode::SUCCESS)
}

/// With `--audit-retention-months N`: every `--audit-archive-interval`, on one node at a time, archive the audit
/// months older than N months (docs/runbooks.md, "Audit retention"). Nothing without the setting.
fn spawn_audit_retention(
    url: &str,
    owner: &PgPool,
    jobs: &crate::JobArgs,
) -> Option<tokio::task::JoinHandle<()>> {
    let months = jobs.audit_retention_months?;
    let url = url.to_string();
    let dir = jobs.audit_archive.audit_archive_dir.clone();
    let pool = owner.clone();
    neurohub_core::jobs::spawn_periodic(
        owner.clone(),
        "audit_retention",
        jobs.audit_archive_interval,
        move || {
            let (url, dir, pool) = (url.clone(), dir.clone(), pool.clone());
            async move {
                let before = neurohub_schema::audit_archive::months_before_now(months);
                let done =
                    neurohub_schema::audit_archive::archive_before(&url, &pool, before, &dir)
                        .await?;
                for m in done {
                    tracing::info!(
                        partition = %m.partition,
                        rows = m.rows,
                        file = %m.file.display(),
                        "audit month archived (retention {months} months)"
                    );
                }
                Ok::<(), neurohub_schema::SchemaError>(())
            }
        },
    )
}

/// Load the ATP demo workspace (once) and hand its demo users' password over like the admin's, into a file beside
/// the admin's when stdout is not a terminal.
async fn load_atp_demo(pool: &PgPool, secret_out: &crate::SecretOutArgs) -> Result<(), CliError> {
    match neurohub_atp::demo::seed_if_empty(pool).await {
        Ok(Some(loaded)) => {
            let file = secret_out
                .admin_password_file
                .with_file_name("atp-demo-users-password");
            hand_over_password(
                &format!(
                    "{}. The demo users (atp.*) share one password",
                    loaded.summary
                ),
                "atp.<role>",
                &loaded.password,
                &file,
            )
        }
        Ok(None) => Ok(()),
        Err(e) => Err(CliError::Other(format!("could not load the ATP demo: {e}"))),
    }
}

/// Show a generated password to the person at the terminal, never to a log: on a TTY it is printed; otherwise it
/// is written to `file` (created with mode 0600, replaced if present) and only the file's path is printed.
fn hand_over_password(
    what: &str,
    username: &str,
    password: &str,
    file: &std::path::Path,
) -> Result<(), CliError> {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        println!("{what}. Sign in as `{username}` with password: {password}");
        println!("This password is shown once; change it with PATCH /api/v1/users/{{id}}.");
        return Ok(());
    }
    write_secret_file(file, password).map_err(|e| {
        CliError::Config(format!(
            "cannot write the generated password to {}: {e}; set --admin-password-file / \
             NEUROHUB_ADMIN_PASSWORD_FILE to a writable path, or NEUROHUB_ADMIN_PASSWORD",
            file.display()
        ))
    })?;
    println!(
        "{what}. Its generated password is in {} (readable only by this user); sign in as `{username}` and change it.",
        file.display()
    );
    Ok(())
}

fn write_secret_file(file: &std::path::Path, secret: &str) -> std::io::Result<()> {
    // Remove first: an existing file may be readable by others, and `mode` applies only at creation.
    match std::fs::remove_file(file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    create_owner_only(file, secret)
}

/// Create `file` (and its folder) readable by the owner only, holding `secret` and a newline; fails when it
/// exists. The one way this binary writes a secret to disk (handed-over passwords, `up`'s signing key).
pub(crate) fn create_owner_only(file: &std::path::Path, secret: &str) -> std::io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(file)?;
    writeln!(f, "{secret}")?;
    f.sync_all()
}
