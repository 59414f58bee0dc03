//! `neurohub verify`: the go / no-go report of seed 002 for the whole database, automated.
//!
//! Each module contributes its own checks as a table of [`Check`]s ([`platform::CHECKS`], [`mes::CHECKS`],
//! [`atp::CHECKS`]); [`run`] executes them in order and [`report::Report::assemble`] applies seed 002's decision
//! rule. Introspection checks only read; behavioural checks run inside a transaction that is always rolled
//! back (savepoints around each statement expected to be refused, `lock_timeout` so a check never waits behind
//! production, explicit ids `OVERRIDING SYSTEM VALUE` so no identity sequence moves; the audit trigger's
//! `audit_logs_id_seq` is the one sequence that advances, a gap in audit ids is harmless). A check whose code
//! lives in a domain crate (C6, the ATP runtime) runs the probe the binary hands over ([`Runtime`]); without it
//! the check returns [`Outcome::Skip`] — never a pass.
//! The catalog summary of seed 000 ([`summary`]) is kept for `deploy`, and is C1's evidence.

/// `fn name(ctx) -> BoxFuture` wrappers around `async fn impl(ctx)`, so a module's table can hold plain fn
/// pointers.
macro_rules! boxed {
    ($($name:ident => $imp:ident),* $(,)?) => {
        $(pub(crate) fn $name(ctx: &$crate::verify::Ctx)
            -> futures::future::BoxFuture<'_, Result<$crate::verify::Outcome, $crate::error::SchemaError>> {
            Box::pin($imp(ctx))
        })*
    };
}

pub mod atp;
pub mod fk_overhead;
pub mod mes;
pub mod orphans;
pub mod platform;
pub mod report;
pub mod summary;

use std::time::Instant;

use futures::future::BoxFuture;
use sqlx::{PgPool, Postgres, Transaction};

use crate::error::SchemaError;
use report::{CheckResult, Module, OrphanCount, Report, Section, Status};

/// What a check found.
#[derive(Debug, Clone)]
pub enum Outcome {
    Pass(Vec<String>),
    Fail(String, Vec<String>),
    Skip(String),
}

/// A behavioural check whose code lives in a domain crate, which this crate does not depend on: it gets a
/// connection inside a transaction that [`run`] rolls back, and answers its evidence or what went wrong.
pub type ProbeFn = for<'a> fn(
    &'a mut sqlx::PgConnection,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<String>, String>> + Send + 'a>,
>;

/// The domain code the binary hands to a run (`neurohub_server::verify_runtime`). A check whose probe is
/// missing reports itself skipped, never passed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Runtime {
    /// C6: walk a scratch submission through the ATP engine (`neurohub_atp::flow::probe::progression`).
    pub atp_progression: Option<ProbeFn>,
    /// MES-SEQ: starts in and out of sequence through the MES flow (`neurohub_mes::flow::probe::sequence`).
    pub mes_sequence: Option<ProbeFn>,
}

/// Run `probe` in a scratch transaction and roll it back: its evidence is a pass, its complaint a failure, and
/// no probe (a run the binary did not equip, such as this crate's own tests) a skip, never a pass.
pub(crate) async fn run_probe(
    ctx: &Ctx,
    probe: Option<ProbeFn>,
    what: &str,
) -> Result<Outcome, SchemaError> {
    let Some(probe) = probe else {
        return Ok(Outcome::Skip(format!(
            "this run was not given the {what} (the neurohub binary's verify is)"
        )));
    };
    let mut tx = scratch(&ctx.pool).await?;
    let outcome = probe(&mut tx).await;
    tx.rollback().await?;
    Ok(match outcome {
        Ok(evidence) => Outcome::Pass(evidence),
        Err(why) => Outcome::Fail(why, vec![]),
    })
}

/// Shared state of a run: the pool and what more than one check needs.
pub struct Ctx {
    pub pool: PgPool,
    /// The domain probes of this run.
    pub runtime: Runtime,
    /// The catalog summary (C1 evidence), computed once.
    pub summary: summary::Summary,
    /// The expected catalog (snapshot of the current version) and the live one.
    pub expected: crate::catalog::Catalog,
    pub live: crate::catalog::Catalog,
    /// Filled by the orphan check, exported by the report and the gauges.
    pub orphans: std::sync::Mutex<Vec<OrphanCount>>,
}

/// A check fn: reads through `ctx`, never commits.
pub type CheckFn = for<'a> fn(&'a Ctx) -> BoxFuture<'a, Result<Outcome, SchemaError>>;

/// One entry of a module's table of checks.
pub struct Check {
    pub id: &'static str,
    pub section: Section,
    pub module: Module,
    pub title: &'static str,
    pub run: CheckFn,
}

/// Which module's checks to run (`platform` checks always run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModuleFilter {
    #[default]
    All,
    Mes,
    Atp,
}

impl ModuleFilter {
    fn admits(self, m: Module) -> bool {
        matches!(
            (self, m),
            (_, Module::Platform)
                | (ModuleFilter::All, _)
                | (ModuleFilter::Mes, Module::Mes)
                | (ModuleFilter::Atp, Module::Atp)
        )
    }

    /// `all`, `mes`, `atp`.
    pub fn label(self) -> &'static str {
        match self {
            ModuleFilter::All => "all",
            ModuleFilter::Mes => "mes",
            ModuleFilter::Atp => "atp",
        }
    }
}

/// Every check of every module, in report order (section, then module table order).
pub fn all_checks() -> Vec<&'static Check> {
    let mut v: Vec<&'static Check> = platform::CHECKS
        .iter()
        .chain(mes::CHECKS)
        .chain(atp::CHECKS)
        .collect();
    v.sort_by_key(|c| c.section);
    v
}

/// Run the report against the live database. Errors only when the database cannot be read at all (the
/// catalog); a check's own SQL error is that check's failure.
pub async fn run(
    pool: &PgPool,
    filter: ModuleFilter,
    runtime: Runtime,
) -> Result<Report, SchemaError> {
    let started = Instant::now();
    let generated_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let summary = summary::verify_summary(pool).await?;
    let environment: String = sqlx::query_scalar(
        "SELECT current_database() || ' on ' || coalesce(inet_server_addr()::text, 'local socket') || ':' || current_setting('port')",
    )
    .fetch_one(pool)
    .await?;
    let ctx = Ctx {
        pool: pool.clone(),
        runtime,
        expected: crate::snapshot::expected_catalog(summary.version),
        live: crate::catalog::read_catalog(pool, crate::catalog::Scope::WithoutPartitions).await?,
        summary,
        orphans: Default::default(),
    };
    let mut results = Vec::new();
    for c in all_checks().into_iter().filter(|c| filter.admits(c.module)) {
        let t = Instant::now();
        let outcome = (c.run)(&ctx).await;
        let (status, reason, details) = match outcome {
            Ok(Outcome::Pass(d)) => (Status::Passed, String::new(), d),
            Ok(Outcome::Fail(r, d)) => (Status::Failed, r, d),
            Ok(Outcome::Skip(r)) => (Status::Skipped, r, vec![]),
            Err(e) => (
                Status::Failed,
                format!("the check could not run: {e}"),
                vec![],
            ),
        };
        results.push(CheckResult {
            id: c.id.into(),
            section: c.section,
            module: c.module,
            title: c.title.into(),
            status,
            reason,
            details,
            duration_ms: t.elapsed().as_secs_f64() * 1000.0,
        });
    }
    let orphans = std::mem::take(&mut *ctx.orphans.lock().expect("orphans lock"));
    Ok(Report::assemble(
        generated_at,
        environment,
        filter.label().into(),
        ctx.summary.version,
        results,
        orphans,
        started.elapsed().as_secs_f64() * 1000.0,
    ))
}

/// A transaction for behavioural checks: bounded waits, always rolled back by the caller (or on drop).
pub(crate) async fn scratch(pool: &PgPool) -> Result<Transaction<'static, Postgres>, SchemaError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL lock_timeout = '3s'")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SET LOCAL statement_timeout = '30s'")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Run `sql` (parameters `binds`, as text) inside a savepoint, expecting the database to refuse it.
/// `Ok(Some("sqlstate: message"))` when it was refused, `Ok(None)` when it succeeded (its effect is rolled back
/// either way).
pub(crate) async fn refused(
    tx: &mut Transaction<'static, Postgres>,
    sql: &str,
    binds: &[String],
) -> Result<Option<String>, SchemaError> {
    sqlx::query("SAVEPOINT verify_probe")
        .execute(&mut **tx)
        .await?;
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(b);
    }
    let r = q.execute(&mut **tx).await;
    sqlx::query("ROLLBACK TO SAVEPOINT verify_probe")
        .execute(&mut **tx)
        .await?;
    match r {
        Ok(_) => Ok(None),
        Err(sqlx::Error::Database(e)) => Ok(Some(format!(
            "{}: {}",
            e.code().unwrap_or_default(),
            e.message()
        ))),
        Err(e) => Err(e.into()),
    }
}

/// One statement the database must refuse: label, SQL, its text parameters, and a SQLSTATE or constraint name
/// the refusal must name (any refusal when `None`).
pub(crate) type Probe<'a> = (&'a str, &'a str, Vec<String>, Option<&'a str>);

/// Expect every probe to be refused; a pass lists what refused each.
pub(crate) async fn all_refused(
    tx: &mut Transaction<'static, Postgres>,
    cases: &[Probe<'_>],
) -> Result<Outcome, SchemaError> {
    let mut details = Vec::new();
    let mut accepted = Vec::new();
    for (label, sql, binds, code) in cases {
        match refused(tx, sql, binds).await? {
            Some(err) if code.is_none_or(|c| err.contains(c)) => {
                details.push(format!("{label}: refused ({err})"))
            }
            Some(err) => accepted.push(format!(
                "{label}: refused for another reason ({err}), expected {}",
                code.unwrap_or_default()
            )),
            None => accepted.push(format!("{label}: accepted")),
        }
    }
    Ok(if accepted.is_empty() {
        Outcome::Pass(details)
    } else {
        Outcome::Fail(
            format!(
                "the database accepted what it must refuse: {}",
                accepted.join("; ")
            ),
            accepted,
        )
    })
}
