//! `neurohub`: the one binary — run the whole thing (`up`), serve, deploy and verify the schema, migrate, back up,
//! load demo data.

mod commands;

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
    #[command(subcommand)]
    command: Command,
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
    },
    /// Serve HTTP on an already deployed database.
    Serve {
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        mes: MesArgs,
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
    /// Print the verification summary of the live database (expected vs found); exit 1 when it does not match.
    Verify,
    /// Write a pg_dump (custom format) of the database, verified by pg_restore --list.
    Backup {
        /// Output file.
        #[arg(long, short)]
        file: PathBuf,
    },
    /// Load the demo data set (product models, lines, equipment, operators, lots in progress) if the database has
    /// no production data yet.
    Seed,
    /// Account rescue for operators with database access.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
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
