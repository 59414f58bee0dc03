//! `neurohub`: the one binary — run the whole thing (`up`), serve, deploy and verify the schema, migrate, back up,
//! load demo data.

mod commands;
mod private_db;
mod signing_key;

use clap::{Parser, Subcommand};
use neurohub_core::config::{DatabaseArgs, DeployTimeoutArgs, LogArgs, ServeArgs};
use neurohub_mes::settings::MesArgs;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "neurohub",
    version,
    about = "NeuroHub MES server and schema delivery tool"
)]
struct Cli {
    #[command(flatten)]
    db: DatabaseArgs,
    #[command(flatten)]
    log: LogArgs,
    #[command(flatten)]
    pg: PgArgs,
    #[command(subcommand)]
    command: Command,
}

/// The private PostgreSQL cluster (`neurohub db`; `up` without DATABASE_URL when nothing answers at the default
/// address). docs/runbooks.md, "The private database".
#[derive(Debug, Clone, clap::Args)]
pub struct PgArgs {
    /// Folder of the private PostgreSQL cluster (data, Unix socket, server log), created on first use and reused.
    #[arg(
        long,
        env = "NEUROHUB_PG_DATA_DIR",
        default_value = "var/postgres",
        global = true
    )]
    pub pg_data_dir: PathBuf,
    /// Folder with the PostgreSQL server binaries (initdb, pg_ctl, postgres); searched for when unset
    /// (pg_config --bindir, PATH, /usr/lib/postgresql/*/bin, /usr/local/pgsql/bin, Homebrew, ...).
    #[arg(long, env = "NEUROHUB_PG_BIN_DIR", global = true)]
    pub pg_bin_dir: Option<PathBuf>,
    /// Let the private cluster also listen on TCP 127.0.0.1:PORT (password auth there; trust is only on its Unix
    /// socket). Unset: no TCP port at all.
    #[arg(long, env = "NEUROHUB_PG_PORT", global = true)]
    pub pg_port: Option<u16>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The main job: create the database if missing, deploy the schema, create the first admin, load demo data
    /// into an empty database, and serve HTTP.
    Up {
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        mes: MesArgs,
        #[command(flatten)]
        deploy: DeployArgs,
        /// Do not load demo data even when the database is empty.
        #[arg(long, env = "NEUROHUB_NO_DEMO")]
        no_demo: bool,
        /// Password for the first admin (`admin`), used only when no admin exists; generated and printed once
        /// when unset.
        #[arg(long, env = "NEUROHUB_ADMIN_PASSWORD", hide_env_values = true)]
        admin_password: Option<String>,
        #[command(flatten)]
        secret_out: SecretOutArgs,
        #[command(flatten)]
        gauges: GaugeArgs,
        #[command(flatten)]
        jobs: JobArgs,
    },
    /// Serve HTTP on an already deployed database.
    Serve {
        /// Development: run without NEUROHUB_JWT_SECRET, signing with a random key that ends with the process
        /// (one node only; a second node would refuse its tokens).
        #[arg(long, env = "NEUROHUB_DEV")]
        dev: bool,
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        mes: MesArgs,
        #[command(flatten)]
        gauges: GaugeArgs,
        #[command(flatten)]
        jobs: JobArgs,
    },
    /// Deploy the schema: backup, ordered steps (one transaction each), resume after a failure, verification summary.
    Deploy {
        #[command(flatten)]
        deploy: DeployArgs,
        /// Print the plan (steps, objects, SQL) and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Deploy only up to this version.
        #[arg(long)]
        to: Option<i32>,
    },
    /// Inspect or move the schema version.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// The go / no-go report of both modules (docs/verify.md), read-only for the data. Exit 0 GO, 1 HOLD,
    /// 2 NO-GO, 3 the database cannot be reached.
    Verify {
        /// Report format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// Write the report to this file (the decision line still goes to stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only this module's checks (the platform's always run).
        #[arg(long, value_enum, default_value_t = ModuleArg::All)]
        module: ModuleArg,
        /// Instead of the report: measure insert / update / delete latency on the FK-heavy tables with and
        /// without constraint checking (rolled back; needs a superuser); exit 1 when an operation is over 10 ms.
        #[arg(long)]
        measure_fk_overhead: bool,
        /// Statements per operation and arm for --measure-fk-overhead.
        #[arg(long, default_value_t = 200)]
        fk_overhead_samples: usize,
    },
    /// Write a pg_dump (custom format) of the database, verified by pg_restore --list, with a SHA-256 checksum
    /// file beside it (`<file>.sha256`).
    Backup {
        /// Output file (default: `<backup dir>/neurohub-<db>-v<schema version>-<UTC time>.dump`).
        #[arg(long, short = 'o', visible_alias = "file", short_alias = 'f')]
        out: Option<PathBuf>,
        /// Directory for the default file name.
        #[arg(long, env = "NEUROHUB_BACKUP_DIR", default_value = "backups")]
        backup_dir: PathBuf,
    },
    /// Restore a backup into a NEW database on the same server (checksum verified, an existing database is
    /// refused), then verify it. Exit codes as verify's, and 4 when the restore itself fails.
    Restore {
        /// The backup file (its `<file>.sha256` must be beside it).
        file: PathBuf,
        /// Name of the database to create and restore into.
        #[arg(long)]
        into: String,
    },
    /// Load the demo data set (product models, lines, equipment, operators, lots in progress) if the database has
    /// no production data yet; with `--lots`, generate a production-scale data set with COPY instead
    /// (docs/performance.md), then run verify and fail unless it is GO.
    Seed {
        #[command(flatten)]
        mes: MesArgs,
        #[command(flatten)]
        secret_out: SecretOutArgs,
        /// Generate this many lots (needs an empty, deployed database and a superuser login).
        #[arg(long)]
        lots: Option<u32>,
        /// Units (WIP items) per generated lot, 1..=999.
        #[arg(long, default_value_t = 50)]
        units_per_lot: u32,
        /// Seed of the generator's random numbers (same seed, same data).
        #[arg(long, default_value_t = 1)]
        random_seed: u64,
        /// Months of history the generated lots (and ATP submissions) are spread over, ending today.
        #[arg(long, default_value_t = 12)]
        months: u32,
        /// Generate this many ATP workspaces (after the MES part; 0: no ATP part), each with the demo's member
        /// roster and the shipped example configuration activated.
        #[arg(long, default_value_t = 0)]
        workspaces: u32,
        /// ATP sites, spread over the generated workspaces.
        #[arg(long, default_value_t = 0)]
        sites: u32,
        /// ATP submissions (one per site, scope and category), at every stage of the approval workflow.
        #[arg(long, default_value_t = 0)]
        submissions: u32,
    },
    /// Account rescue for operators with database access.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Audit retention: move old months of the audit log to files and back (docs/runbooks.md, "Audit retention").
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// The private PostgreSQL cluster in --pg-data-dir (the one `up` starts when DATABASE_URL is not set and
    /// nothing answers at the default address).
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
}

#[derive(Debug, Subcommand)]
enum AuditAction {
    /// Archive every monthly audit partition before MONTH: detach it, pg_dump it to `<dir>/<db>-<partition>.dump`
    /// (SHA-256 in `<file>.sha256`), prove the file restores, then drop it and record it in audit_archives.
    Archive {
        /// The first month to keep (YYYY-MM, at most the current UTC month); every older month is archived.
        #[arg(long, value_parser = neurohub_schema::audit_archive::parse_month)]
        before: chrono::NaiveDate,
        #[command(flatten)]
        dir: AuditArchiveDirArgs,
    },
    /// Put an archived month back (checksum verified; the month's partition re-created as the partition job does,
    /// so the rows are append-only again).
    Restore {
        /// A `.dump` of `neurohub audit archive` (its `.sha256` beside it).
        file: PathBuf,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct AuditArchiveDirArgs {
    /// Folder for audit archive files (keep it on storage that is backed up: the files are the only copy).
    #[arg(
        long = "audit-archive-dir",
        env = "NEUROHUB_AUDIT_ARCHIVE_DIR",
        default_value = "archives/audit"
    )]
    pub audit_archive_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum DbAction {
    /// Initialize the folder if needed (initdb), start the cluster, create the `neurohub` database; print its URL.
    Start,
    /// Stop the cluster cleanly (`pg_ctl stop -m fast`); the data stays in the folder.
    Stop,
    /// Running, stopped or not initialized (exit 0 running, 3 otherwise); the URL when running.
    Status,
    /// Print the URL of the private cluster's `neurohub` database (Unix socket).
    Url,
}

/// The ATP background jobs (docs/atp-flow.md, "SLA" and "Notifications"): every node runs them, one node at a time
/// does the work (a PostgreSQL advisory lock per job).
#[derive(Debug, Clone, clap::Args)]
pub struct JobArgs {
    /// How often the SLA sweep marks and escalates overdue stages; 0 turns it off.
    #[arg(long, env = "NEUROHUB_SLA_SWEEP_INTERVAL", default_value = "1m", value_parser = humantime::parse_duration)]
    pub sla_sweep_interval: std::time::Duration,
    /// How often the webhook worker sends due deliveries; 0 turns it off.
    #[arg(long, env = "NEUROHUB_WEBHOOK_DELIVERY_INTERVAL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub webhook_delivery_interval: std::time::Duration,
    /// Archive audit months older than this many months (`neurohub audit archive` in the background, one node at a
    /// time). Unset: nothing is ever archived automatically (regulated plants keep records for the product's life).
    #[arg(long, env = "NEUROHUB_AUDIT_RETENTION_MONTHS", value_parser = clap::value_parser!(u32).range(1..))]
    pub audit_retention_months: Option<u32>,
    /// How often the retention job looks for months to archive (with --audit-retention-months).
    #[arg(long, env = "NEUROHUB_AUDIT_ARCHIVE_INTERVAL", default_value = "1d", value_parser = humantime::parse_duration)]
    pub audit_archive_interval: std::time::Duration,
    #[command(flatten)]
    pub audit_archive: AuditArchiveDirArgs,
}

/// The verify gauges on /metrics (docs/verify.md, "Monitoring").
#[derive(Debug, Clone, clap::Args)]
pub struct GaugeArgs {
    /// How often the server re-runs verify for the Prometheus gauges (also once at start); 0 turns it off.
    #[arg(long, env = "NEUROHUB_VERIFY_INTERVAL", default_value = "15m", value_parser = humantime::parse_duration)]
    pub verify_interval: std::time::Duration,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ModuleArg {
    Mes,
    Atp,
    All,
}

#[derive(Debug, Subcommand)]
enum AdminAction {
    /// Give an account a new password (generated unless NEUROHUB_ADMIN_PASSWORD is set), unlock and reactivate
    /// it, and sign it out everywhere (its refresh tokens are revoked).
    ResetPassword {
        /// The account.
        #[arg(long, default_value = "admin")]
        username: String,
        /// Use this password instead of generating one (checked against the password rules).
        #[arg(
            long = "password",
            env = "NEUROHUB_ADMIN_PASSWORD",
            hide_env_values = true
        )]
        password: Option<String>,
        #[command(flatten)]
        secret_out: SecretOutArgs,
    },
}

/// Where a generated password goes when standard output is not a terminal (a service log must never hold it).
#[derive(Debug, Clone, clap::Args)]
pub struct SecretOutArgs {
    /// File for a generated password when stdout is not a terminal (created readable by the owner only).
    #[arg(
        long,
        env = "NEUROHUB_ADMIN_PASSWORD_FILE",
        default_value = "var/initial-admin-password"
    )]
    pub admin_password_file: PathBuf,
}

#[derive(Debug, Subcommand)]
enum MigrateAction {
    /// Applied and pending versions and steps.
    Status,
    /// Apply pending migrations (to head, or `--to VERSION`).
    Up {
        #[arg(long)]
        to: Option<i32>,
        #[command(flatten)]
        timeouts: DeployTimeoutArgs,
    },
    /// Revert migrations down to `--to VERSION` (0 = empty schema; data of dropped tables is kept in the
    /// `neurohub_archive` schema and restored by the next `up`).
    Down {
        #[arg(long)]
        to: i32,
        #[command(flatten)]
        timeouts: DeployTimeoutArgs,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub timeouts: DeployTimeoutArgs,
    /// Back up to this file before deploying (a backup is taken anyway before deploying onto a non-empty database).
    #[arg(long, env = "NEUROHUB_BACKUP_FILE")]
    pub backup: Option<PathBuf>,
    /// Directory for automatic backups.
    #[arg(long, env = "NEUROHUB_BACKUP_DIR", default_value = "backups")]
    pub backup_dir: PathBuf,
    /// Skip the automatic backup before deploying onto a non-empty database (not recommended).
    #[arg(long, env = "NEUROHUB_NO_BACKUP")]
    pub no_backup: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    neurohub_server::telemetry::init(cli.log.log_format, &cli.log.log_level);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
