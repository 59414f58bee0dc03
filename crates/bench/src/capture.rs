//! The statements the server runs for one request, read back from PostgreSQL's own statement log (so the bench
//! never keeps a second copy of the application's SQL that could drift from it), and what is done with them:
//! replayed by `pgbench -M prepared` at the same concurrency (the database's ceiling for that request), and
//! explained with `EXPLAIN (ANALYZE, BUFFERS)` to find the slowest.
//!
//! Capture: `log_min_duration_statement = 0` is switched on with `ALTER SYSTEM` + reload only around two
//! requests of the scenario (logging every statement during the measured windows would slow the server down),
//! and the last request's statements — as many as its `x-db-queries` header counts — are taken from the
//! csvlog: the `execute` entries of request-pool connections (`application_name` `neurohub-request`; background
//! jobs and gauges run on the owner pool, named `neurohub`), with the bound parameters from their DETAIL.
//! Two requests, because a backend that is idle when the reload arrives applies it one protocol message late.

use crate::load::Pgbench;
use crate::procstat::Snapshot;
use crate::Args;

/// `neurohub_core::db::REQUEST_APPLICATION_NAME` (the bench depends on no workspace crate; a test below keeps
/// the two equal).
pub const REQUEST_APPLICATION_NAME: &str = "neurohub-request";
use anyhow::{anyhow, bail, Context, Result};
use sqlx::{PgPool, Row};
use std::future::Future;
use std::path::Path;
use std::time::Duration;

/// One statement as the server ran it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Statement {
    pub sql: String,
    /// `$1`, `$2` … in order; `None` is SQL NULL.
    pub params: Vec<Option<String>>,
}

/// Capture the statements of one request of the scenario `op` runs.
pub async fn capture<F, Fut>(db: &PgPool, pg_data: &Path, op: F) -> Result<Vec<Statement>>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<u64>>,
{
    let k = logging_statements(db, async {
        sqlx::query("SELECT pg_rotate_logfile()")
            .execute(db)
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        op().await?;
        let k = op().await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok::<u64, anyhow::Error>(k)
    })
    .await? as usize;
    if k == 0 {
        bail!("the request ran no statement (x-db-queries 0)");
    }
    let mut statements = logged(db, pg_data).await?;
    if statements.len() < k {
        bail!(
            "the log holds {} statements of the server, the request ran {k}",
            statements.len()
        );
    }
    // The server counts the statements a handler runs, not the ones its transaction adds (BEGIN, the request
    // context's set_config): a request that ends in COMMIT or ROLLBACK is taken whole, from its session's last
    // BEGIN. Replayed without them, each statement would run on its own, outside the workspace context that
    // row-level security filters on (the ATP reads), and answer no rows.
    let is = |s: &Statement, word: &str| s.sql.trim().eq_ignore_ascii_case(word);
    let out = match statements.last() {
        Some((pid, last)) if is(last, "COMMIT") || is(last, "ROLLBACK") => {
            let pid = pid.clone();
            let from = statements
                .iter()
                .rposition(|(p, s)| {
                    *p == pid && s.sql.trim_start().to_ascii_uppercase().starts_with("BEGIN")
                })
                .ok_or_else(|| anyhow!("the request's transaction has no BEGIN in the log"))?;
            statements
                .split_off(from)
                .into_iter()
                .filter(|(p, _)| *p == pid)
                .map(|(_, s)| s)
                .collect()
        }
        _ => statements
            .split_off(statements.len() - k)
            .into_iter()
            .map(|(_, s)| s)
            .collect(),
    };
    Ok(out)
}

/// The request-pool statements in PostgreSQL's current csvlog file, in order, each with its backend's pid.
async fn logged(db: &PgPool, pg_data: &Path) -> Result<Vec<(String, Statement)>> {
    let file: Option<String> = sqlx::query_scalar("SELECT pg_current_logfile('csvlog')")
        .fetch_one(db)
        .await?;
    let file = file.ok_or_else(|| {
        anyhow!("PostgreSQL writes no csvlog (bench/run starts it with log_destination = csvlog)")
    })?;
    let path = pg_data.join(&file);
    let text = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
    let mut statements = Vec::new();
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_slice());
    for rec in rd.records() {
        let rec = rec?;
        // csvlog columns: 3 process id, 13 message, 14 detail, 22 application_name
        if rec.get(22) != Some(REQUEST_APPLICATION_NAME) {
            continue;
        }
        let Some(sql) = rec.get(13).and_then(executed_sql) else {
            continue;
        };
        let params = rec
            .get(14)
            .map(parse_params)
            .transpose()?
            .unwrap_or_default();
        statements.push((
            rec.get(3).unwrap_or("").to_string(),
            Statement {
                sql: sql.to_string(),
                params,
            },
        ));
    }
    Ok(statements)
}

/// The statements of each of `runs` operations (`op(i)`, whose result is the number of statements its requests
/// counted), each operation in a log file of its own (`pg_rotate_logfile()` before it; the file names have a
/// resolution of one second, hence the pause). For an operation of several requests and transactions (a walk of
/// a unit): everything the request pool ran meanwhile, in order. A backend picks the logging up one message
/// late, so the first run should be a warm-up that uses every pooled connection.
pub async fn capture_runs<F, Fut>(
    db: &PgPool,
    pg_data: &Path,
    runs: usize,
    op: F,
) -> Result<Vec<(u64, Vec<Statement>)>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<u64>>,
{
    logging_statements(db, async {
        let mut out = Vec::with_capacity(runs);
        for i in 0..runs {
            tokio::time::sleep(Duration::from_millis(1100)).await;
            sqlx::query("SELECT pg_rotate_logfile()")
                .execute(db)
                .await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let k = op(i).await?;
            // the log collector writes what the backends sent before the answers went out
            tokio::time::sleep(Duration::from_millis(300)).await;
            let stmts = logged(db, pg_data).await?;
            out.push((k, stmts.into_iter().map(|(_, s)| s).collect()));
        }
        Ok::<_, anyhow::Error>(out)
    })
    .await
}

/// Run `work` with every statement logged (`log_min_duration_statement = 0` by `ALTER SYSTEM` and a reload),
/// and the setting reset afterwards whatever `work` returned.
async fn logging_statements<T>(db: &PgPool, work: impl Future<Output = Result<T>>) -> Result<T> {
    sqlx::query("ALTER SYSTEM SET log_min_duration_statement = 0")
        .execute(db)
        .await?;
    sqlx::query("SELECT pg_reload_conf()").execute(db).await?;
    let result = work.await;
    sqlx::query("ALTER SYSTEM RESET log_min_duration_statement")
        .execute(db)
        .await?;
    sqlx::query("SELECT pg_reload_conf()").execute(db).await?;
    result
}

/// The SQL of a `duration: … ms  execute <name>: SQL` (extended protocol) or `statement: SQL` (simple) entry.
fn executed_sql(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("duration: ")?;
    let (_, rest) = rest.split_once(" ms  ")?;
    if let Some(r) = rest.strip_prefix("execute ") {
        return r.split_once(": ").map(|(_, sql)| sql);
    }
    rest.strip_prefix("statement: ")
}

/// `parameters: $1 = '5', $2 = NULL, $3 = 'it''s'` → [Some("5"), None, Some("it's")].
fn parse_params(detail: &str) -> Result<Vec<Option<String>>> {
    let Some(mut rest) = detail.strip_prefix("parameters: ") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    loop {
        let r = rest
            .strip_prefix('$')
            .ok_or_else(|| anyhow!("unexpected parameter list: {detail}"))?;
        let (n, r) = r
            .split_once(" = ")
            .ok_or_else(|| anyhow!("unexpected parameter list: {detail}"))?;
        let n: usize = n.parse()?;
        if n != out.len() + 1 {
            bail!("parameters out of order in: {detail}");
        }
        let r = if let Some(r) = r.strip_prefix("NULL") {
            out.push(None);
            r
        } else {
            let mut chars = r
                .strip_prefix('\'')
                .ok_or_else(|| anyhow!("unquoted parameter in: {detail}"))?
                .char_indices();
            let body = &r[1..];
            let mut value = String::new();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '\'' {
                    if body[i + 1..].starts_with('\'') {
                        value.push('\'');
                        chars.next();
                    } else {
                        end = Some(i + 1);
                        break;
                    }
                } else {
                    value.push(c);
                }
            }
            let end = end.ok_or_else(|| anyhow!("unterminated parameter in: {detail}"))?;
            out.push(Some(value));
            &body[end..]
        };
        match r.strip_prefix(", ") {
            Some(more) => rest = more,
            None => break,
        }
    }
    Ok(out)
}

/// Replace `$n` by `f(n)`, longest numbers first is not needed: the digits are read whole.
pub(crate) fn substitute(sql: &str, mut f: impl FnMut(usize) -> String) -> String {
    let mut out = String::with_capacity(sql.len());
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() && b[i + 1].is_ascii_digit() {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let n: usize = sql[i + 1..j].parse().unwrap_or(0);
            out.push_str(&f(n));
            i = j;
        } else {
            let c = sql[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

/// The statement with its parameters written in as literals (for EXPLAIN).
pub fn inline(s: &Statement) -> String {
    substitute(&s.sql, |n| match s.params.get(n - 1) {
        Some(Some(v)) => quote(v),
        _ => "NULL".into(),
    })
}

/// A pgbench script replaying `stmts` (parameters as pgbench variables, so `-M prepared` binds them as the
/// server did) and the `-D` definitions it needs.
pub fn pgbench_script(stmts: &[Statement]) -> (String, Vec<String>) {
    let mut script = String::new();
    let mut defs = Vec::new();
    for (i, s) in stmts.iter().enumerate() {
        let sql = substitute(&s.sql, |n| match s.params.get(n - 1) {
            // pgbench refuses an empty -D value: the empty string is written in
            Some(Some(v)) if v.is_empty() => "''".into(),
            Some(Some(v)) => {
                defs.push(format!("s{i}p{n}={v}"));
                format!(":s{i}p{n}")
            }
            _ => "NULL".into(),
        });
        script.push_str(sql.trim_end().trim_end_matches(';'));
        script.push_str(";\n");
    }
    (script, defs)
}

/// pgbench -M prepared at concurrency `c` for `duration`: transactions (one replayed request each) per second,
/// and the CPU pgbench and PostgreSQL (`postmaster` and its children) used meanwhile.
pub async fn pgbench(
    db: &PgPool,
    args: &Args,
    stmts: &[Statement],
    c: usize,
    duration: Duration,
    postmaster: u32,
) -> Result<Pgbench> {
    let (script, defs) = pgbench_script(stmts);
    run_pgbench(db, args, (&script, &defs, 1), c, duration, postmaster).await
}

/// pgbench -M prepared running `script` (with its `-D` definitions) at concurrency `c` for `duration`. One script
/// is `per_script` operations of the scenario: the rate and the count are given in operations.
pub async fn run_pgbench(
    db: &PgPool,
    args: &Args,
    (script, defs, per_script): (&str, &[String], u64),
    c: usize,
    duration: Duration,
    postmaster: u32,
) -> Result<Pgbench> {
    let dir = std::env::temp_dir().join(format!("neurohub-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("replay.sql");
    std::fs::write(&file, script)?;
    let mut cmd = tokio::process::Command::new(args.pg_bin.join("pgbench"));
    cmd.args(["-n", "-M", "prepared", "-f"])
        .arg(&file)
        .arg("-c")
        .arg(c.to_string())
        .arg("-j")
        .arg(c.min(2).to_string())
        .arg("-T")
        .arg(duration.as_secs().max(1).to_string());
    for d in defs {
        cmd.arg("-D").arg(d);
    }
    cmd.arg(&args.database_url)
        .env("PGOPTIONS", &args.pg_options);
    let before = Snapshot::take(args.server_pid, postmaster)?;
    let sampler = crate::waits::start(db, "pgbench", Duration::ZERO);
    let out = cmd.output().await.context("run pgbench")?;
    let waits = sampler.stop().await?;
    // pgbench's backends end as it disconnects; once the postmaster has reaped them their CPU is in its cutime
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = Snapshot::take(args.server_pid, postmaster)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "pgbench exited with {}: {}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let field = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|l| l.split_whitespace().next())
            .map(str::to_string)
    };
    let tps: f64 = field("tps = ")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("no tps line in pgbench's output: {stdout}"))?;
    // "number of transactions actually processed: 12345" (pgbench 15)
    let transactions: u64 = field("number of transactions actually processed: ")
        .and_then(|v| v.split('/').next().and_then(|n| n.parse().ok()))
        .unwrap_or((tps * duration.as_secs_f64()) as u64);
    Ok(Pgbench {
        tps: tps * per_script as f64,
        transactions: transactions * per_script,
        resources: after.since(&before),
        waits: Some(waits),
    })
}

/// One explained statement.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Explained {
    pub scenario: String,
    pub sql: String,
    pub execution_ms: f64,
    pub plan: String,
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of every captured statement, as the request role, in a transaction that is
/// rolled back; the `n` with the longest execution time (the third run, so caches are warm).
pub async fn explain_slowest(
    db: &PgPool,
    captured: &[(String, Vec<Statement>)],
    n: usize,
    pg_options: &str,
) -> Result<Vec<Explained>> {
    let settings = session_settings(pg_options)?;
    let mut out = Vec::new();
    for (scenario, stmts) in captured {
        let is_read = |s: &Statement| {
            let head = s.sql.trim_start().to_ascii_uppercase();
            head.starts_with("SELECT") || head.starts_with("WITH")
        };
        for (j, s) in stmts.iter().enumerate() {
            if !is_read(s) {
                continue;
            }
            let sql = inline(s);
            let mut plan = String::new();
            for _ in 0..3 {
                let mut tx = db.begin().await?;
                // the request pool's session settings (crates/core/src/db.rs), as pgbench gets them
                for (k, v) in &settings {
                    sqlx::query("SELECT set_config($1, $2, true)")
                        .bind(k)
                        .bind(v)
                        .execute(&mut *tx)
                        .await?;
                }
                // what the request ran before it in its transaction (the ATP reads' workspace context)
                for p in stmts[..j].iter().filter(|p| is_read(p)) {
                    sqlx::query(&inline(p)).execute(&mut *tx).await?;
                }
                // the SQL is the server's own statement with its logged parameters written in as quoted literals
                let explain = format!("EXPLAIN (ANALYZE, BUFFERS) {sql}");
                let rows = sqlx::query(&explain)
                    .fetch_all(&mut *tx)
                    .await
                    .with_context(|| format!("EXPLAIN {sql}"))?;
                tx.rollback().await?;
                plan = rows
                    .iter()
                    .map(|r| r.get::<String, _>(0))
                    .collect::<Vec<_>>()
                    .join("\n");
            }
            let execution_ms = plan
                .lines()
                .find_map(|l| l.trim().strip_prefix("Execution Time: "))
                .and_then(|v| v.trim_end_matches(" ms").parse().ok())
                .unwrap_or(0.0);
            out.push(Explained {
                scenario: scenario.clone(),
                sql: s.sql.clone(),
                execution_ms,
                plan,
            });
        }
    }
    out.sort_by(|a, b| b.execution_ms.total_cmp(&a.execution_ms));
    out.truncate(n);
    Ok(out)
}

/// The `-c name=value` pairs of a PGOPTIONS string (`--pg-options`), for EXPLAIN to run under the settings pgbench
/// and the server's request sessions have.
pub(crate) fn session_settings(pg_options: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut words = pg_options.split_whitespace();
    while let Some(w) = words.next() {
        let kv = match w {
            "-c" => words
                .next()
                .ok_or_else(|| anyhow::anyhow!("--pg-options: -c without a setting"))?,
            _ => w
                .strip_prefix("-c")
                .or_else(|| w.strip_prefix("--"))
                .ok_or_else(|| anyhow::anyhow!("--pg-options: `{w}` is not -c name=value"))?,
        };
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--pg-options: `{kv}` is not name=value"))?;
        out.push((k.replace('-', "_"), v.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_options_are_read_as_settings() {
        assert_eq!(
            session_settings("-c role=neurohub_app -cjit=off --random-page-cost=1.1").unwrap(),
            [
                ("role".to_string(), "neurohub_app".to_string()),
                ("jit".to_string(), "off".to_string()),
                ("random_page_cost".to_string(), "1.1".to_string()),
            ]
        );
        assert!(session_settings("-c").is_err());
        assert!(session_settings("jit=off").is_err());
        assert!(session_settings("-c jit").is_err());
    }

    #[test]
    fn the_request_connections_name_is_the_servers() {
        let db = include_str!("../../core/src/db.rs");
        assert!(
            db.contains(&format!(
                "REQUEST_APPLICATION_NAME: &str = \"{REQUEST_APPLICATION_NAME}\""
            )),
            "crates/core/src/db.rs names request connections differently"
        );
        // pgbench and EXPLAIN run with the request pool's settings (--pg-options, explain_slowest)
        assert!(
            db.contains(r#"("jit", "off")"#)
                && db.contains(r#"("role", REQUEST_ROLE)"#)
                && db.contains(r#"("random_page_cost", c.to_string())"#)
                && db.contains("DEFAULT_RANDOM_PAGE_COST: f64 = 1.1;"),
            "crates/core/src/db.rs changed the request sessions' settings: update BENCH_PG_OPTIONS"
        );
    }

    #[test]
    fn parameters_are_read_back_with_quotes_and_nulls() {
        let p = parse_params("parameters: $1 = '5', $2 = NULL, $3 = 'it''s, ok', $4 = ''").unwrap();
        assert_eq!(
            p,
            vec![
                Some("5".into()),
                None,
                Some("it's, ok".into()),
                Some(String::new())
            ]
        );
        assert!(parse_params("parameters: $2 = '5'").is_err());
        assert_eq!(parse_params("").unwrap(), Vec::<Option<String>>::new());
    }

    #[test]
    fn executed_sql_is_taken_from_execute_and_statement_entries_only() {
        assert_eq!(
            executed_sql("duration: 0.120 ms  execute sqlx_s_3: SELECT 1"),
            Some("SELECT 1")
        );
        assert_eq!(
            executed_sql("duration: 0.120 ms  execute <unnamed>: SELECT $1"),
            Some("SELECT $1")
        );
        assert_eq!(
            executed_sql("duration: 0.1 ms  statement: BEGIN"),
            Some("BEGIN")
        );
        assert_eq!(
            executed_sql("duration: 0.1 ms  parse sqlx_s_3: SELECT 1"),
            None
        );
        assert_eq!(executed_sql("connection received"), None);
    }

    #[test]
    fn parameters_become_pgbench_variables_and_literals() {
        let s = Statement {
            sql: "SELECT $1::bigint, $2, $10, '$x', a::text FROM t WHERE b = $2".into(),
            params: vec![
                Some("7".into()),
                Some("o'k".into()),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                Some("ten".into()),
            ],
        };
        assert_eq!(
            inline(&s),
            "SELECT '7'::bigint, 'o''k', 'ten', '$x', a::text FROM t WHERE b = 'o''k'"
        );
        let (script, defs) = pgbench_script(&[s]);
        assert_eq!(
            script,
            "SELECT :s0p1::bigint, :s0p2, :s0p10, '$x', a::text FROM t WHERE b = :s0p2;\n"
        );
        assert!(defs.contains(&"s0p2=o'k".to_string()), "{defs:?}");
    }
}
