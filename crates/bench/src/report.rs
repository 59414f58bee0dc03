//! The results: `<date>.json` (every figure), `<date>.md` (the table with each target marked, the slowest
//! statements with their plans) and `<date>.svg` (throughput at concurrency 10 beside pgbench, and p99 per
//! concurrency), written side by side; the Markdown links the chart.

use crate::capture::{Explained, Statement};
use crate::load::Run;
use crate::scenario::{Kind, Replay, Sample};
use crate::Args;
use anyhow::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The targets of the benchmarks issue.
pub const READ_RATIO: f64 = 0.7;
pub const WRITE_RATIO: f64 = 0.9;
pub const READ_P99_MS_AT_1: f64 = 5.0;
pub const MAX_DROP_64_VS_10: f64 = 0.10;
pub const MAX_RSS_KB: u64 = 50 * 1024;

#[derive(Debug, serde::Serialize)]
pub struct RunOut {
    pub scenario: String,
    pub kind: Kind,
    pub concurrency: usize,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub operations: u64,
    pub errors: u64,
    pub error_samples: Vec<String>,
    pub http_requests: u64,
    pub statements_per_request: f64,
    pub server_cpu_s: f64,
    pub postgres_cpu_s: f64,
    /// The load tool's own CPU (it shares the machine's cores with the server and PostgreSQL).
    pub client_cpu_s: f64,
    pub server_rss_kb: u64,
    pub pgbench_tps: Option<f64>,
    pub ratio: Option<f64>,
    /// CPU microseconds per operation on the app path: server, load tool, PostgreSQL.
    pub app_cpu_us: Option<CpuPerOp>,
    /// CPU microseconds per transaction on the pgbench path: pgbench (as `client`), PostgreSQL.
    pub pgbench_cpu_us: Option<CpuPerOp>,
    /// What the server's request sessions did inside PostgreSQL (average sessions per state).
    pub waits: Option<crate::waits::Waits>,
    /// What pgbench's sessions did.
    pub pgbench_waits: Option<crate::waits::Waits>,
    /// Each target that applies to this run: name → pass.
    pub targets: Vec<Target>,
}

/// Where one operation's CPU went, in microseconds. When both paths keep every core busy (the load tool, the
/// server and PostgreSQL share this machine's cores), app ÷ pgbench can be at most pgbench's total ÷ the app's
/// total: the measured cause of a ratio below target.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct CpuPerOp {
    pub server: f64,
    pub client: f64,
    pub postgres: f64,
    pub total: f64,
}

impl CpuPerOp {
    fn new(server_s: f64, client_s: f64, postgres_s: f64, ops: u64) -> Option<Self> {
        if ops == 0 {
            return None;
        }
        let per = |s: f64| s * 1e6 / ops as f64;
        Some(Self {
            server: per(server_s),
            client: per(client_s),
            postgres: per(postgres_s),
            total: per(server_s + client_s + postgres_s),
        })
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Target {
    pub name: String,
    pub pass: Option<bool>,
    pub detail: String,
}

#[derive(Debug, serde::Serialize)]
pub struct Results {
    pub date: String,
    pub commit: String,
    pub note: String,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub sample: Sample,
    pub runs: Vec<RunOut>,
    pub not_run: Vec<(String, String)>,
    pub slowest_statements: Vec<Explained>,
    /// What pgbench replayed for each scenario.
    pub replayed: Vec<(String, Vec<Statement>)>,
    /// What pgbench replayed for the station write: the walk's script and the parameters it keeps as captured.
    pub replayed_walks: Vec<(String, crate::walk::Walk)>,
    pub server_peak_rss_kb: u64,
    /// Resident memory after the last run: anonymous, file-backed (the binary's mapped code).
    pub server_rss_anon_kb: u64,
    pub server_rss_file_kb: u64,
    pub rss_target: Target,
}

fn mark(p: Option<bool>) -> &'static str {
    match p {
        Some(true) => "pass",
        Some(false) => "**FAIL**",
        None => "not measured",
    }
}

impl Results {
    pub fn new(
        args: &Args,
        sample: &Sample,
        runs: Vec<Run>,
        not_run: Vec<(String, String)>,
        slowest_statements: Vec<Explained>,
        replayed: Vec<(String, Vec<Statement>)>,
        (server_peak_rss_kb, (anon_kb, file_kb)): (u64, (u64, u64)),
    ) -> Self {
        let rps_at = |name: &str, c: usize| {
            runs.iter()
                .find(|r| r.scenario == name && r.concurrency == c)
                .map(Run::rps)
        };
        let mut out = Vec::new();
        for r in &runs {
            let pgbench_tps = r.pgbench.as_ref().map(|p| p.tps);
            let ratio = pgbench_tps.filter(|t| *t > 0.0).map(|t| r.rps() / t);
            let u = &r.resources;
            let app_cpu_us = CpuPerOp::new(
                u.server_cpu_s,
                u.client_cpu_s,
                u.postgres_cpu_s,
                r.ok + r.errors,
            );
            let pgbench_cpu_us = r.pgbench.as_ref().and_then(|p| {
                CpuPerOp::new(
                    0.0,
                    p.resources.children_cpu_s,
                    p.resources.postgres_cpu_s,
                    p.transactions,
                )
            });
            let cpu_bound = match (app_cpu_us, pgbench_cpu_us) {
                (Some(a), Some(p)) if a.total > 0.0 => Some(p.total / a.total),
                _ => None,
            };
            let mut targets = Vec::new();
            // the ratio targets are the reads' and the station write's: a scenario pgbench cannot replay (a
            // decided stage cannot be decided again) has none, rather than a "not measured" mark
            if r.concurrency == 10 && r.kind != Kind::Mixed && r.replay != Replay::None {
                let want = if r.kind == Kind::Read {
                    READ_RATIO
                } else {
                    WRITE_RATIO
                };
                targets.push(Target {
                    name: format!("app ÷ pgbench ≥ {want} at 10"),
                    pass: ratio.map(|x| x >= want),
                    detail: match (ratio, cpu_bound) {
                        (Some(x), Some(b)) if x < want => format!(
                            "{x:.2}; CPU per op {:.0} µs on the app path vs {:.0} µs on pgbench's: at most {b:.2} while the cores are saturated",
                            app_cpu_us.map(|a| a.total).unwrap_or(0.0),
                            pgbench_cpu_us.map(|p| p.total).unwrap_or(0.0)
                        ),
                        (Some(x), _) => format!("{x:.2}"),
                        (None, _) => "no pgbench replay for this scenario".into(),
                    },
                });
            }
            if r.concurrency == 1 && r.kind == Kind::Read {
                targets.push(Target {
                    name: format!("p99 < {READ_P99_MS_AT_1} ms at 1"),
                    pass: Some(r.p(99.0) < READ_P99_MS_AT_1),
                    detail: format!("{:.2} ms", r.p(99.0)),
                });
            }
            if r.concurrency == 64 {
                targets.push(Target {
                    name: "zero errors at 64".into(),
                    pass: Some(r.errors == 0),
                    detail: r.errors.to_string(),
                });
                let at10 = rps_at(&r.scenario, 10);
                targets.push(Target {
                    name: "throughput at 64 ≥ 90 % of 10".into(),
                    pass: at10.map(|t| r.rps() >= t * (1.0 - MAX_DROP_64_VS_10)),
                    detail: match at10 {
                        Some(t) if t > 0.0 => format!("{:.0} %", r.rps() / t * 100.0),
                        _ => "no run at 10".into(),
                    },
                });
            }
            out.push(RunOut {
                scenario: r.scenario.clone(),
                kind: r.kind,
                concurrency: r.concurrency,
                requests_per_s: r.rps(),
                p50_ms: r.p(50.0),
                p95_ms: r.p(95.0),
                p99_ms: r.p(99.0),
                max_ms: r.max_ms(),
                operations: r.ok + r.errors,
                errors: r.errors,
                error_samples: r.error_samples.clone(),
                http_requests: r.requests,
                statements_per_request: r.statements_per_request(),
                server_cpu_s: r.resources.server_cpu_s,
                postgres_cpu_s: r.resources.postgres_cpu_s,
                client_cpu_s: r.resources.client_cpu_s,
                server_rss_kb: r.resources.server_rss_kb,
                pgbench_tps,
                ratio,
                app_cpu_us,
                pgbench_cpu_us,
                waits: r.waits.clone(),
                pgbench_waits: r.pgbench.as_ref().and_then(|p| p.waits.clone()),
                targets,
            });
        }
        let commit = std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        Self {
            date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
            commit,
            note: args.note.clone(),
            duration_s: args.duration.as_secs_f64(),
            warmup_s: args.warmup.as_secs_f64(),
            sample: sample.clone(),
            runs: out,
            not_run,
            slowest_statements,
            replayed,
            replayed_walks: Vec::new(),
            server_peak_rss_kb,
            server_rss_anon_kb: anon_kb,
            server_rss_file_kb: file_kb,
            rss_target: Target {
                name: "server RSS < 50 MB".into(),
                pass: Some(server_peak_rss_kb > 0 && server_peak_rss_kb < MAX_RSS_KB),
                detail: format!(
                    "peak {:.1} MB; after the last run {:.1} MB anonymous (heap, stacks, buffers) + {:.1} MB \
                     file-backed (pages of the binary's code the kernel mapped)",
                    server_peak_rss_kb as f64 / 1024.0,
                    anon_kb as f64 / 1024.0,
                    file_kb as f64 / 1024.0
                ),
            },
        }
    }

    /// Write the three files, `<name>.{md,json,svg}` (`name` defaults to the date); returns their paths.
    pub fn write(&self, dir: &Path, name: Option<&str>) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let name = name.unwrap_or(&self.date);
        let json = dir.join(format!("{name}.json"));
        let md = dir.join(format!("{name}.md"));
        let svg = dir.join(format!("{name}.svg"));
        std::fs::write(&json, serde_json::to_string_pretty(self)? + "\n")?;
        std::fs::write(&svg, self.svg())?;
        std::fs::write(&md, self.markdown(&format!("{name}.svg")))?;
        Ok(vec![md, json, svg])
    }

    /// Per operation at concurrency 10: the CPU of the app path (server + load tool + PostgreSQL) beside that of
    /// the pgbench path, and the ratio the machine's cores allow.
    fn cpu_section(&self, m: &mut String) {
        let rows: Vec<&RunOut> = self
            .runs
            .iter()
            .filter(|r| r.concurrency == 10 && r.app_cpu_us.is_some())
            .collect();
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(
            m,
            "\n## Where the CPU goes (per operation, concurrency 10)\n\n\
             The load tool, the server and PostgreSQL share this machine's cores, and so do pgbench and PostgreSQL. \
             While the cores are saturated, app ÷ pgbench cannot exceed the pgbench path's CPU per transaction \
             ÷ the app path's CPU per operation (the bound column).\n"
        );
        let _ = writeln!(
            m,
            "| scenario | server µs | load tool µs | PG µs | app path µs | pgbench µs | PG (pgbench) µs | pgbench path µs | bound | ratio |"
        );
        let _ = writeln!(m, "|---|---|---|---|---|---|---|---|---|---|");
        for r in rows {
            let Some(a) = r.app_cpu_us else { continue };
            let (pb, pp, pt) = r
                .pgbench_cpu_us
                .map(|p| {
                    (
                        format!("{:.0}", p.client),
                        format!("{:.0}", p.postgres),
                        format!("{:.0}", p.total),
                    )
                })
                .unwrap_or_else(|| ("–".into(), "–".into(), "–".into()));
            let bound = r
                .pgbench_cpu_us
                .filter(|_| a.total > 0.0)
                .map(|p| format!("{:.2}", p.total / a.total))
                .unwrap_or_else(|| "–".into());
            let _ = writeln!(
                m,
                "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {pb} | {pp} | {pt} | {bound} | {} |",
                r.scenario,
                a.server,
                a.client,
                a.postgres,
                a.total,
                r.ratio
                    .map(|x| format!("{x:.2}"))
                    .unwrap_or_else(|| "–".into()),
            );
        }
    }

    /// At concurrency 10: what the sessions of each side did inside PostgreSQL, on average (crate::waits).
    fn waits_section(&self, m: &mut String) {
        let rows: Vec<&RunOut> = self
            .runs
            .iter()
            .filter(|r| r.concurrency == 10 && r.waits.is_some())
            .collect();
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(
            m,
            "\n## Where the sessions wait (concurrency 10)\n\n\
             `pg_stat_activity` sampled every 10 ms over each window: how many of the side's sessions were, on \
             average, running (CPU), waiting on a row or transaction lock (Lock), on a lightweight lock (LWLock), on \
             I/O (IO: the WAL flush of a commit), or idle inside a transaction while their client prepared the next \
             statement (client in tx: row locks taken earlier in it are held meanwhile).\n"
        );
        let _ = writeln!(
            m,
            "| scenario | side | busy | CPU | Lock | LWLock | IO | client in tx | other | most seen |"
        );
        let _ = writeln!(m, "|---|---|---|---|---|---|---|---|---|---|");
        for r in rows {
            for (side, w) in [("app", &r.waits), ("pgbench", &r.pgbench_waits)] {
                let Some(w) = w else { continue };
                let _ = writeln!(
                    m,
                    "| {} | {side} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
                    r.scenario,
                    w.sessions.values().sum::<f64>(),
                    w.of("CPU"),
                    w.of("Lock:"),
                    w.of("LWLock"),
                    w.of("IO"),
                    w.of("client"),
                    w.other(),
                    w.top(3)
                );
            }
        }
    }

    fn markdown(&self, svg_name: &str) -> String {
        let mut m = String::new();
        let _ = writeln!(
            m,
            "# Benchmark results {} (commit {})\n",
            self.date, self.commit
        );
        let s = &self.sample;
        let _ = writeln!(
            m,
            "Data set: {} lots, {} serials, {} process records, {} audit rows, {} open units{}.",
            s.lots,
            s.serials,
            s.process_records,
            s.audit_rows,
            s.open_units,
            s.atp
                .as_ref()
                .map(|a| format!("; ATP: {} submissions", a.submissions))
                .unwrap_or_default()
        );
        if !self.note.is_empty() {
            let _ = writeln!(m, "\n{}", self.note);
        }
        let _ = writeln!(
            m,
            "\nEach run: {:.0} s warm-up, {:.0} s measured, closed loop over loopback. A station operation is one \
             start + complete pair. pgbench replays the statements of one captured request with `-M prepared` at \
             the same concurrency, right after the app's run; ratio = app ÷ pgbench.\n",
            self.warmup_s, self.duration_s
        );
        let _ = writeln!(m, "![throughput and p99]({svg_name})\n");
        let _ = writeln!(
            m,
            "| scenario | c | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | stmts/req | server CPU s | PG CPU s | RSS MB | pgbench tps | ratio | targets |"
        );
        let _ = writeln!(
            m,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for r in &self.runs {
            let targets = r
                .targets
                .iter()
                .map(|t| format!("{}: {} ({})", t.name, mark(t.pass), t.detail))
                .collect::<Vec<_>>()
                .join("; ");
            let _ = writeln!(
                m,
                "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} |",
                r.scenario,
                r.concurrency,
                r.requests_per_s,
                r.p50_ms,
                r.p95_ms,
                r.p99_ms,
                r.max_ms,
                r.errors,
                r.statements_per_request,
                r.server_cpu_s,
                r.postgres_cpu_s,
                r.server_rss_kb as f64 / 1024.0,
                r.pgbench_tps.map(|t| format!("{t:.0}")).unwrap_or_else(|| "–".into()),
                r.ratio.map(|x| format!("{x:.2}")).unwrap_or_else(|| "–".into()),
                targets
            );
        }
        self.cpu_section(&mut m);
        self.waits_section(&mut m);
        let _ = writeln!(
            m,
            "\n{}: {} ({}).",
            self.rss_target.name,
            mark(self.rss_target.pass),
            self.rss_target.detail
        );
        let errors: Vec<&RunOut> = self
            .runs
            .iter()
            .filter(|r| !r.error_samples.is_empty())
            .collect();
        if !errors.is_empty() {
            let _ = writeln!(m, "\n## Errors seen\n");
            for r in errors {
                for e in &r.error_samples {
                    let _ = writeln!(
                        m,
                        "- {} at {}: `{}`",
                        r.scenario,
                        r.concurrency,
                        e.replace('`', "'")
                    );
                }
            }
        }
        if !self.not_run.is_empty() {
            let _ = writeln!(m, "\n## Not run\n");
            for (name, why) in &self.not_run {
                let _ = writeln!(m, "- {name}: {why}");
            }
        }
        for (name, w) in &self.replayed_walks {
            let _ = writeln!(
                m,
                "\n## What pgbench replayed for \"{name}\"\n\n\
                 A captured walk of one unit through the processes ({} statements with the lookup of the next fresh \
                 unit; crates/bench/src/walk.rs), on {} fresh units of its own; pgbench's rate is given in station \
                 pairs (walks × {}). {} parameters are variables of the fresh unit, of the ids the walk creates and \
                 of its Idempotency-Keys; these {} differ between the two captured walks and are replayed as the \
                 second had them:\n",
                w.script.lines().count(),
                w.units,
                crate::load::PROCESSES,
                w.variables,
                w.kept.len()
            );
            for k in &w.kept {
                let _ = writeln!(m, "- {}", k.replace('`', "'"));
            }
        }
        if !self.slowest_statements.is_empty() {
            let _ = writeln!(
                m,
                "\n## The slowest statements (EXPLAIN (ANALYZE, BUFFERS), as the request role)\n"
            );
            for (i, e) in self.slowest_statements.iter().enumerate() {
                let _ = writeln!(
                    m,
                    "### {}. {} — {:.2} ms\n\n```sql\n{}\n```\n\n```\n{}\n```\n",
                    i + 1,
                    e.scenario,
                    e.execution_ms,
                    e.sql.trim(),
                    e.plan
                );
            }
        }
        m
    }

    /// Two horizontal bar charts: requests/s at concurrency 10 (app and pgbench) and p99 at each concurrency.
    fn svg(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        for r in &self.runs {
            if !names.contains(&r.scenario.as_str()) {
                names.push(&r.scenario);
            }
        }
        let concs: Vec<usize> = {
            let mut c: Vec<usize> = self.runs.iter().map(|r| r.concurrency).collect();
            c.sort();
            c.dedup();
            c
        };
        let find = |n: &str, c: usize| {
            self.runs
                .iter()
                .find(|r| r.scenario == n && r.concurrency == c)
        };
        let row_h = 14.0 * (concs.len().max(2) as f64) + 10.0;
        let label_w = 300.0;
        let panel_w = 360.0;
        let top = 40.0;
        let height = top + row_h * names.len() as f64 + 30.0;
        let width = label_w + 2.0 * panel_w + 60.0;
        let max_rps = names
            .iter()
            .filter_map(|n| find(n, 10))
            .flat_map(|r| [r.requests_per_s, r.pgbench_tps.unwrap_or(0.0)])
            .fold(1.0_f64, f64::max);
        let max_p99 = self.runs.iter().map(|r| r.p99_ms).fold(1.0_f64, f64::max);
        let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"];
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="sans-serif" font-size="11">"#
        );
        let _ = write!(
            s,
            r#"<text x="{:.0}" y="16" font-weight="bold">req/s at concurrency 10 (app dark, pgbench light)</text><text x="{:.0}" y="16" font-weight="bold">p99 ms per concurrency</text>"#,
            label_w,
            label_w + panel_w + 40.0
        );
        for (ci, c) in concs.iter().enumerate() {
            let _ = write!(
                s,
                r#"<rect x="{:.0}" y="24" width="10" height="10" fill="{}"/><text x="{:.0}" y="33">c={c}</text>"#,
                label_w + panel_w + 40.0 + ci as f64 * 60.0,
                colors[ci % colors.len()],
                label_w + panel_w + 54.0 + ci as f64 * 60.0
            );
        }
        for (i, n) in names.iter().enumerate() {
            let y = top + i as f64 * row_h;
            let _ = write!(
                s,
                r#"<text x="{:.0}" y="{:.0}" text-anchor="end">{}</text>"#,
                label_w - 8.0,
                y + row_h / 2.0,
                xml(n)
            );
            if let Some(r) = find(n, 10) {
                let w = r.requests_per_s / max_rps * (panel_w - 60.0);
                let _ = write!(
                    s,
                    r##"<rect x="{label_w:.0}" y="{:.1}" width="{w:.1}" height="11" fill="#1f5f8b"/><text x="{:.1}" y="{:.1}">{:.0}</text>"##,
                    y + 2.0,
                    label_w + w + 3.0,
                    y + 11.0,
                    r.requests_per_s
                );
                if let Some(t) = r.pgbench_tps {
                    let w = t / max_rps * (panel_w - 60.0);
                    let _ = write!(
                        s,
                        r##"<rect x="{label_w:.0}" y="{:.1}" width="{w:.1}" height="11" fill="#9ecae1"/><text x="{:.1}" y="{:.1}">{:.0}</text>"##,
                        y + 15.0,
                        label_w + w + 3.0,
                        y + 24.0,
                        t
                    );
                }
            }
            for (ci, c) in concs.iter().enumerate() {
                if let Some(r) = find(n, *c) {
                    let x0 = label_w + panel_w + 40.0;
                    let w = r.p99_ms / max_p99 * (panel_w - 60.0);
                    let yy = y + 2.0 + ci as f64 * 13.0;
                    let _ = write!(
                        s,
                        r#"<rect x="{x0:.0}" y="{yy:.1}" width="{w:.1}" height="11" fill="{}"/><text x="{:.1}" y="{:.1}">{:.1}</text>"#,
                        colors[ci % colors.len()],
                        x0 + w + 3.0,
                        yy + 9.0,
                        r.p99_ms
                    );
                }
            }
        }
        s.push_str("</svg>\n");
        s
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
