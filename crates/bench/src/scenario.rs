//! The scenarios: what is requested, with which values, and the sample of the data set they are drawn from.
//!
//! A read scenario asks for one fixed URL, so that the server and pgbench (which replays the statements of one
//! captured request) do the same work and the ratio compares like with like; the values are chosen from the
//! data set (a lot near the middle, a finished serial, the operator with most records and their busiest
//! month) and printed in the results. The station write walks fresh units through the processes, one
//! start + complete pair (each with its own Idempotency-Key) per operation.

use crate::Args;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What one scenario sends.
#[derive(Debug, Clone)]
pub enum Op {
    /// GET of a fixed path.
    Get(String),
    /// One start + complete pair on the next fresh unit of the pool.
    Station(Arc<UnitPool>),
    /// Out of every 10 operations 8 reads (round robin over the paths) and 2 station pairs.
    Mixed(Vec<String>, Arc<UnitPool>),
    /// One APPROVE of the next ACTIVE stage of the pool (the approver's, read before the run).
    Decide(Arc<StagePool>),
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    /// read, write or mixed: which target applies.
    pub kind: Kind,
    pub op: Op,
    pub token: String,
    /// Why it cannot run on this data set (reported, never counted as passed).
    pub skip: Option<String>,
    /// How pgbench replays it.
    pub replay: Replay,
}

/// How pgbench replays a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Not at all (a decided stage cannot be decided again; the mixed day is its parts).
    None,
    /// The statements of one captured request, as they ran (reads: side-effect free).
    Request,
    /// A captured walk of a unit through the processes, on fresh units of its own (`crate::walk`).
    Walk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Read,
    Write,
    Mixed,
}

/// The values the scenarios use, read from the data set.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sample {
    pub lots: i64,
    pub serials: i64,
    pub process_records: i64,
    pub audit_rows: i64,
    pub open_units: i64,
    pub lot_id: i64,
    pub lot_number: String,
    pub serial_id: i64,
    pub serial_number: String,
    pub operator_id: i64,
    pub recall_from: String,
    pub recall_to: String,
    pub product_model_id: i64,
    pub production_line_id: i64,
    pub atp: Option<AtpSample>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AtpSample {
    pub workspace_id: String,
    pub approver_username: String,
    pub active_stages: i64,
    pub submission_id: String,
    pub submissions: i64,
}

impl Sample {
    /// `bench_user` is the account the bench writes as: its station walks of earlier runs are not the data set's.
    pub async fn read(db: &PgPool, bench_user: &str) -> Result<Self> {
        let (lots, serials, process_records, audit_rows, open_units): (i64, i64, i64, i64, i64) =
            sqlx::query_as(
                "SELECT (SELECT count(*) FROM lots), (SELECT count(*) FROM serials), \
                 (SELECT count(*) FROM process_data), (SELECT count(*) FROM audit_logs), \
                 (SELECT count(*) FROM wip_items WHERE status NOT IN ('CONVERTED', 'SCRAPPED'))",
            )
            .fetch_one(db)
            .await?;
        if lots == 0 || serials == 0 {
            bail!(
                "the database holds no lots or serials: generate a data set first (neurohub seed)"
            );
        }
        // a lot near the middle of the id range that has serials
        let (lot_id, lot_number): (i64, String) = sqlx::query_as(
            "SELECT l.id, l.lot_number FROM lots l \
             WHERE EXISTS (SELECT 1 FROM serials s WHERE s.lot_id = l.id) \
             ORDER BY abs(l.id - (SELECT (min(id) + max(id)) / 2 FROM lots)) LIMIT 1",
        )
        .fetch_one(db)
        .await?;
        let (serial_id, serial_number): (i64, String) = sqlx::query_as(
            "SELECT id, serial_number FROM serials WHERE lot_id = $1 ORDER BY sequence_in_lot LIMIT 1",
        )
        .bind(lot_id)
        .fetch_one(db)
        .await?;
        // the operator with most records, and the calendar month in which they recorded most (not the bench's own
        // account, whose station walks of earlier runs on this data set would win)
        let (operator_id, month): (i64, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
            "SELECT operator_id, date_trunc('month', started_at) AS m FROM process_data \
             WHERE operator_id IS NOT NULL \
               AND operator_id IS DISTINCT FROM (SELECT id FROM users WHERE username = $1) \
             GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1",
        )
        .bind(bench_user)
        .fetch_one(db)
        .await
        .context("no process records with an operator")?;
        let to = month
            .checked_add_months(chrono::Months::new(1))
            .ok_or_else(|| anyhow!("month overflow"))?;
        let (product_model_id, production_line_id): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT min(id) FROM product_models WHERE status = 'ACTIVE'), \
                    (SELECT min(id) FROM production_lines WHERE is_active)",
        )
        .fetch_one(db)
        .await?;
        let atp = AtpSample::read(db).await?;
        Ok(Self {
            lots,
            serials,
            process_records,
            audit_rows,
            open_units,
            lot_id,
            lot_number,
            serial_id,
            serial_number,
            operator_id,
            recall_from: month.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            recall_to: to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            product_model_id,
            production_line_id,
            atp,
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "{} lots, {} serials, {} process records, {} audit rows, {} open units; lot {} ({}), serial {}, \
             operator {} in {} .. {}{}",
            self.lots,
            self.serials,
            self.process_records,
            self.audit_rows,
            self.open_units,
            self.lot_id,
            self.lot_number,
            self.serial_number,
            self.operator_id,
            self.recall_from,
            self.recall_to,
            match &self.atp {
                Some(a) => format!(
                    "; ATP: {} submissions, approver {} with {} active stages",
                    a.submissions, a.approver_username, a.active_stages
                ),
                None => "; no ATP data".into(),
            }
        )
    }
}

impl AtpSample {
    async fn read(db: &PgPool) -> Result<Option<Self>> {
        let row: Option<(String, String, i64)> = sqlx::query_as(
            "SELECT s.workspace_id::text, u.username, count(*) FROM workflow_stages s \
             JOIN users u ON u.id = s.assigned_approver_id \
             WHERE s.status = 'ACTIVE' AND u.is_active \
             GROUP BY 1, 2 ORDER BY 3 DESC, 2 LIMIT 1",
        )
        .fetch_optional(db)
        .await?;
        let Some((workspace_id, approver_username, active_stages)) = row else {
            return Ok(None);
        };
        // the submission of that workspace with the longest timeline
        let (submission_id, submissions): (String, i64) = sqlx::query_as(
            "SELECT (SELECT a.id::text FROM atp_submissions a \
                     JOIN workflow_stage_actions x ON x.workspace_id = a.workspace_id \
                      AND x.workflow_instance_id = a.workflow_instance_id \
                     WHERE a.workspace_id = $1::uuid GROUP BY a.id ORDER BY count(*) DESC LIMIT 1), \
                    (SELECT count(*) FROM atp_submissions)",
        )
        .bind(&workspace_id)
        .fetch_one(db)
        .await?;
        Ok(Some(Self {
            workspace_id,
            approver_username,
            active_stages,
            submission_id,
            submissions,
        }))
    }
}

/// Fresh units for the station write: lots made through the API before the scenario, handed out one unit at a
/// time; a unit's 8 processes are walked by the worker that took it.
#[derive(Debug)]
pub struct UnitPool {
    units: Vec<String>,
    next: AtomicUsize,
}

impl UnitPool {
    /// A pool handing out `units` (WIP ids) in order.
    pub fn new(units: Vec<String>) -> Self {
        Self {
            units,
            next: AtomicUsize::new(0),
        }
    }

    pub fn take(&self) -> Option<&str> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.units.get(i).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.units.len()
    }
}

/// ACTIVE stages of the data set's busiest approvers, read from the database before the scenario and handed out
/// one at a time, each with its approver's token: each is decided once (a decided stage cannot be decided again;
/// the stages a decision activates are not added). One approver's stages did not last the run (2,419 for the
/// busiest one of the reference data set, against ~5,000 decisions in three 10 s windows; its workspace has one
/// other approver with ACTIVE stages), so the pool takes as many approvers as it needs, busiest first, from every
/// workspace, and interleaves their stages: concurrent clients decide as different people, as in the offices.
#[derive(Debug)]
pub struct StagePool {
    /// (decide path, index into `tokens`)
    stages: Vec<(String, usize)>,
    tokens: Vec<String>,
    next: AtomicUsize,
}

impl StagePool {
    /// The most approvers a pool signs in as.
    const MAX_APPROVERS: usize = 16;

    /// The `POST …/stages/{id}/decide` path of the next stage and the token of its approver, None when the pool is
    /// used up.
    pub fn take(&self) -> Option<(&str, &str)> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.stages
            .get(i)
            .map(|(path, who)| (path.as_str(), self.tokens[*who].as_str()))
    }

    pub fn len(&self) -> usize {
        self.stages.len()
    }

    /// How many approvers the pool decides as.
    pub fn approvers(&self) -> usize {
        self.tokens.len()
    }

    /// At most `want` ACTIVE stages of the busiest active approvers (as few approvers as cover `want`, at most
    /// [`Self::MAX_APPROVERS`]), each approver's soonest due first (the order of their pending list), interleaved
    /// across approvers; each approver is given a password and signed in, except the one `signed_in` already
    /// names (user name, token): a new password would revoke that token, which the other ATP scenarios use.
    pub async fn read(
        db: &PgPool,
        (http, args, bin): (&reqwest::Client, &Args, &std::path::Path),
        want: usize,
        signed_in: (&str, &str),
    ) -> Result<Arc<Self>> {
        let busiest: Vec<(String, i64)> = sqlx::query_as(
            "SELECT u.username, count(*) FROM workflow_stages s JOIN users u ON u.id = s.assigned_approver_id \
             WHERE s.status = 'ACTIVE' AND u.is_active \
             GROUP BY u.username ORDER BY 2 DESC, 1 LIMIT $1",
        )
        .bind(Self::MAX_APPROVERS as i64)
        .fetch_all(db)
        .await?;
        let mut names = Vec::new();
        let mut covered = 0usize;
        for (name, n) in busiest {
            if covered >= want {
                break;
            }
            covered += n as usize;
            names.push(name);
        }
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT u.username, s.workspace_id::text, s.id::text FROM workflow_stages s \
               JOIN users u ON u.id = s.assigned_approver_id \
              WHERE u.username = ANY($1) AND s.status = 'ACTIVE' \
              ORDER BY row_number() OVER (PARTITION BY u.username ORDER BY s.due_at, s.id), u.username LIMIT $2",
        )
        .bind(&names)
        .bind(want as i64)
        .fetch_all(db)
        .await?;
        let mut tokens = Vec::with_capacity(names.len());
        for name in &names {
            tokens.push(if name == signed_in.0 {
                signed_in.1.to_string()
            } else {
                approver_token(http, args, bin, name).await?
            });
        }
        let stages = rows
            .into_iter()
            .map(|(name, ws, id)| {
                let who = names
                    .iter()
                    .position(|n| *n == name)
                    .expect("an approver read above");
                (format!("/api/v1/workspaces/{ws}/stages/{id}/decide"), who)
            })
            .collect();
        Ok(Arc::new(Self {
            stages,
            tokens,
            next: AtomicUsize::new(0),
        }))
    }
}

/// Sign in through the API.
pub async fn login(
    http: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
) -> Result<String> {
    let res = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .with_context(|| format!("POST {base}/api/v1/auth/login"))?;
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("sign-in as {username} answered {status}: {body}");
    }
    body["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("sign-in answered without access_token: {body}"))
}

/// Every active (product model, production line) pair, the sample's first. The bench's lots go round robin over
/// them: a lot number's sequence allows 99 lots per line, model and month, which one pair would use up in two
/// runs.
pub async fn lot_pairs(db: &PgPool, sample: &Sample) -> Result<Vec<(i64, i64)>> {
    let pairs: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT m.id, l.id FROM product_models m CROSS JOIN production_lines l \
         WHERE m.status = 'ACTIVE' AND l.is_active \
         ORDER BY (m.id, l.id) <> ($1, $2), l.id, m.id",
    )
    .bind(sample.product_model_id)
    .bind(sample.production_line_id)
    .fetch_all(db)
    .await?;
    if pairs.is_empty() {
        bail!("no active product model and production line to make lots of");
    }
    Ok(pairs)
}

/// Lots for the station write, made through the API: `units` fresh units in lots of 50.
async fn station_units(
    db: &PgPool,
    http: &reqwest::Client,
    args: &Args,
    token: &str,
    sample: &Sample,
    units: usize,
) -> Result<Arc<UnitPool>> {
    let pairs = lot_pairs(db, sample).await?;
    let lots = make_lots(http, args, token, &pairs, units.div_ceil(LOT_UNITS)).await?;
    let mut codes: Vec<String> = lots.iter().flat_map(|lot| wip_ids(lot, 1)).collect();
    codes.truncate(units);
    Ok(Arc::new(UnitPool::new(codes)))
}

/// The units of a lot the bench makes.
pub const LOT_UNITS: usize = 50;

/// The WIP ids of `lot`'s units from `from` on (the API numbers them 001…).
pub fn wip_ids(lot: &str, from: usize) -> impl Iterator<Item = String> + '_ {
    (from..=LOT_UNITS).map(move |seq| format!("WIP-{lot}-{seq:03}"))
}

/// `n` lots of [`LOT_UNITS`] made through the API (`POST /lots`), round robin over the (product model,
/// production line) pairs, skipping a pair whose lot numbers for the month are used up: their lot numbers.
pub async fn make_lots(
    http: &reqwest::Client,
    args: &Args,
    token: &str,
    pairs: &[(i64, i64)],
    n: usize,
) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(n);
    let mut open: Vec<(i64, i64)> = pairs.to_vec();
    let mut i = 0;
    while out.len() < n {
        if open.is_empty() {
            bail!("every (model, line) pair has used up its 99 lot numbers this month: BENCH_FRESH=1 bench/run");
        }
        let (model, line) = open[i % open.len()];
        let res = http
            .post(format!("{}/api/v1/lots", args.base_url))
            .bearer_auth(token)
            .json(&json!({"product_model_id": model,
                          "production_line_id": line,
                          "target_quantity": LOT_UNITS}))
            .send()
            .await?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if body["code"] == "LOT_SEQUENCE_EXHAUSTED" {
            open.retain(|p| *p != (model, line));
            continue;
        }
        if !status.is_success() {
            bail!("POST /lots for the station write answered {status}: {body}");
        }
        let lot = body["lot_number"]
            .as_str()
            .ok_or_else(|| anyhow!("POST /lots answered without lot_number: {body}"))?;
        out.push(lot.to_string());
        i += 1;
    }
    Ok(out)
}

/// Every scenario of the issue, in the order they run.
pub async fn all(
    db: &PgPool,
    sample: &Sample,
    args: &Args,
    http: &reqwest::Client,
    token: &str,
) -> Result<Vec<Scenario>> {
    let read = |name: &str, path: String| Scenario {
        name: name.to_string(),
        kind: Kind::Read,
        op: Op::Get(path),
        token: token.to_string(),
        skip: None,
        replay: Replay::Request,
    };
    let v1 = "/api/v1";
    let mut out = vec![
        read("lots page", format!("{v1}/lots")),
        read(
            "lots page, filtered",
            format!(
                "{v1}/lots?status=IN_PROGRESS&product_model_id={}&sort=production_date",
                sample.product_model_id
            ),
        ),
        read(
            "serials of a lot",
            format!("{v1}/serials?lot_id={}", sample.lot_id),
        ),
        read(
            "process data by serial",
            format!("{v1}/process-data?serial_id={}", sample.serial_id),
        ),
        read(
            "process data by lot",
            format!("{v1}/process-data?lot_id={}", sample.lot_id),
        ),
        read(
            "serial trace",
            format!("{v1}/trace/serials/{}", sample.serial_number),
        ),
        read("scan", format!("{v1}/scan/{}", sample.serial_number)),
        read("dashboard", format!("{v1}/dashboard")),
        read(
            "recall (backward trace)",
            format!(
                "{v1}/trace/backward?operator_id={}&from={}&to={}",
                sample.operator_id, sample.recall_from, sample.recall_to
            ),
        ),
    ];
    // enough fresh units for the longest run: ~400 pairs/s at the highest concurrency, 8 pairs per unit
    let wanted = want_scenario(args, "station") || want_scenario(args, "mixed");
    let secs = (args.duration + args.warmup).as_secs_f64();
    let units = ((secs * 400.0 / 8.0) as usize + 64).max(64) * args.concurrency.len();
    let pool = if wanted {
        Some(station_units(db, http, args, token, sample, units).await?)
    } else {
        None
    };
    if let Some(pool) = &pool {
        out.push(Scenario {
            name: "station write (start + complete)".into(),
            kind: Kind::Write,
            op: Op::Station(pool.clone()),
            token: token.to_string(),
            skip: None,
            replay: Replay::Walk,
        });
        out.push(Scenario {
            name: "mixed station day (80 % read / 20 % write)".into(),
            kind: Kind::Mixed,
            op: Op::Mixed(
                vec![
                    format!("{v1}/scan/{}", sample.serial_number),
                    format!("{v1}/trace/serials/{}", sample.serial_number),
                    format!("{v1}/process-data?serial_id={}", sample.serial_id),
                    format!("{v1}/serials?lot_id={}", sample.lot_id),
                ],
                pool.clone(),
            ),
            token: token.to_string(),
            skip: None,
            replay: Replay::None,
        });
    }
    match (&sample.atp, &args.neurohub_bin) {
        (Some(atp), Some(bin)) => {
            let atp_token = approver_token(http, args, bin, &atp.approver_username).await?;
            let ws = &atp.workspace_id;
            let mut r = read(
                "ATP pending approvals of one approver",
                format!("{v1}/workspaces/{ws}/approvals/pending"),
            );
            r.token = atp_token.clone();
            out.push(r);
            let mut r = read(
                "ATP instance timeline",
                format!(
                    "{v1}/workspaces/{ws}/submissions/{}/timeline",
                    atp.submission_id
                ),
            );
            r.token = atp_token.clone();
            out.push(r);
            // every decision uses one stage: as many as the longest run could decide (~200/s at the highest
            // concurrency), capped by what the busiest approvers have
            let want = ((secs * 200.0) as usize + 64) * args.concurrency.len();
            let pool = StagePool::read(
                db,
                (http, args, bin),
                want,
                (&atp.approver_username, &atp_token),
            )
            .await?;
            eprintln!(
                "ATP decide a stage: {} ACTIVE stages of {} approvers (wanted {want})",
                pool.len(),
                pool.approvers()
            );
            out.push(Scenario {
                name: "ATP decide a stage".into(),
                kind: Kind::Write,
                op: Op::Decide(pool),
                token: atp_token,
                skip: None,
                replay: Replay::None,
            });
        }
        (a, _) => {
            let why = if a.is_none() {
                "the data set holds no ATP workflow with an active stage (neurohub seed --workspaces ...)"
            } else {
                "no --neurohub-bin to give the approver a known password"
            };
            for (name, kind) in [
                ("ATP pending approvals of one approver", Kind::Read),
                ("ATP instance timeline", Kind::Read),
                ("ATP decide a stage", Kind::Write),
            ] {
                out.push(Scenario {
                    name: name.into(),
                    kind,
                    op: Op::Get(String::new()),
                    token: String::new(),
                    skip: Some(why.into()),
                    replay: Replay::None,
                });
            }
        }
    }
    Ok(out)
}

fn want_scenario(args: &Args, word: &str) -> bool {
    args.only.is_empty()
        || args
            .only
            .iter()
            .any(|o| o.contains(word) || word.contains(o.as_str()))
}

/// The ATP approver signs in with a password the bench sets through the CLI (`neurohub admin reset-password`),
/// the way an operator would give an account a known password.
async fn approver_token(
    http: &reqwest::Client,
    args: &Args,
    bin: &std::path::Path,
    username: &str,
) -> Result<String> {
    let password = format!("bench-{}", uuid::Uuid::new_v4());
    let out = tokio::process::Command::new(bin)
        .args([
            "admin",
            "reset-password",
            "--username",
            username,
            "--password",
            &password,
        ])
        .env("DATABASE_URL", &args.database_url)
        .output()
        .await
        .with_context(|| format!("run {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "neurohub admin reset-password --username {username}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    login(http, &args.base_url, username, &password).await
}
