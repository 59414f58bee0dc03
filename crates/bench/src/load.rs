//! The closed loop: `c` workers, each sending its next operation when the previous one answered, for a warm-up
//! (not recorded) and then the measured window. Latencies go into one HDR histogram per worker (microseconds,
//! 3 significant digits), merged at the end; statements per request come from the server's `x-db-queries`.

use crate::procstat::{Snapshot, Usage};
use crate::scenario::{Op, Scenario, StagePool, UnitPool};
use crate::waits::{self, Waits};
use anyhow::{bail, Result};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// One scenario at one concurrency.
#[derive(Debug, Clone)]
pub struct Run {
    pub scenario: String,
    pub kind: crate::scenario::Kind,
    /// How pgbench replays the scenario (no ratio target where it cannot).
    pub replay: crate::scenario::Replay,
    pub concurrency: usize,
    pub elapsed: Duration,
    pub hist: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
    /// The first few error answers, verbatim.
    pub error_samples: Vec<String>,
    /// HTTP requests sent (a station operation is two).
    pub requests: u64,
    pub statements: u64,
    /// CPU over the measured window.
    pub resources: Usage,
    /// What the server's request sessions did inside PostgreSQL over the measured window.
    pub waits: Option<Waits>,
    /// The pgbench replay right after: transactions per second and the CPU it took.
    pub pgbench: Option<Pgbench>,
}

/// One pgbench replay.
#[derive(Debug, Clone)]
pub struct Pgbench {
    /// Operations per second: transactions per second, times the operations one replayed script does (a walk of
    /// a unit is 8 station pairs).
    pub tps: f64,
    /// Operations replayed in the window.
    pub transactions: u64,
    /// `children_cpu_s` is pgbench itself, `postgres_cpu_s` the database.
    pub resources: Usage,
    /// What pgbench's sessions did inside PostgreSQL meanwhile.
    pub waits: Option<Waits>,
}

impl Run {
    /// Operations per second over the measured window.
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// A percentile in milliseconds.
    pub fn p(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q / 100.0) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.hist.max() as f64 / 1000.0
    }

    pub fn statements_per_request(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.statements as f64 / self.requests as f64
        }
    }
}

struct Worker {
    hist: Histogram<u64>,
    ok: u64,
    errors: u64,
    error_samples: Vec<String>,
    requests: u64,
    statements: u64,
    /// The unit this worker walks and the next process number (station operations).
    unit: Option<(String, i32)>,
    n: u64,
    /// The Idempotency-Keys sent, in order, when recorded (the statement capture of a walk).
    keys: Option<Vec<String>>,
}

/// What one HTTP request answered.
struct Answer {
    status: u16,
    statements: u64,
    body: String,
    /// The Idempotency-Key the request carried.
    key: Option<String>,
}

async fn send(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
    idempotency_key: bool,
) -> Result<Answer> {
    let mut req = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    let mut key = None;
    if let Some(b) = body {
        req = req.json(b);
        if idempotency_key {
            let k = uuid::Uuid::new_v4().to_string();
            req = req.header("idempotency-key", &k);
            key = Some(k);
        }
    }
    let res = req.send().await?;
    let status = res.status().as_u16();
    let statements = res
        .headers()
        .get("x-db-queries")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let body = res.text().await?;
    Ok(Answer {
        status,
        statements,
        body,
        key,
    })
}

/// Measurements a station completes with (inside every process's criteria).
fn good(process: i32) -> Value {
    match process {
        1 => json!({"marking_depth_um": 30, "legibility_score": 95}),
        2 => json!({"torque_nm": 2.0, "gap_mm": 0.1}),
        3 => json!({"offset_mv": 0, "noise_mv": 1}),
        4 => json!({"checksum_ok": true}),
        5 => json!({"screw_torque_nm": 1.0}),
        6 => json!({"max_speed_rpm": 3000, "current_a": 1.2}),
        7 => json!({"barcode_grade": 4}),
        _ => json!({"visual_defects": 0}),
    }
}

impl Worker {
    fn new() -> Self {
        Self {
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
            ok: 0,
            errors: 0,
            error_samples: Vec::new(),
            requests: 0,
            statements: 0,
            unit: None,
            n: 0,
            keys: None,
        }
    }

    fn answered(&mut self, a: &Answer, what: &str) -> bool {
        self.requests += 1;
        self.statements += a.statements;
        if let (Some(keys), Some(k)) = (self.keys.as_mut(), &a.key) {
            keys.push(k.clone());
        }
        if (200..300).contains(&a.status) {
            true
        } else {
            if self.error_samples.len() < 3 {
                self.error_samples.push(format!(
                    "{what}: {} {}",
                    a.status,
                    a.body.chars().take(300).collect::<String>()
                ));
            }
            false
        }
    }

    /// One start + complete pair on this worker's unit (a fresh unit after process 8).
    async fn station(
        &mut self,
        http: &reqwest::Client,
        base: &str,
        token: &str,
        pool: &UnitPool,
    ) -> Result<bool> {
        if self
            .unit
            .as_ref()
            .is_none_or(|(_, p)| *p > PROCESSES as i32)
        {
            let Some(code) = pool.take() else {
                bail!(
                    "the station write ran out of fresh units ({} made)",
                    pool.len()
                );
            };
            self.unit = Some((code.to_string(), 1));
        }
        let (wip, p) = self.unit.clone().expect("unit set above");
        let start = json!({"process_number": p, "unit": {"wip_id": wip}});
        let a = send(
            http,
            base,
            token,
            reqwest::Method::POST,
            "/api/v1/process-data/start",
            Some(&start),
            true,
        )
        .await?;
        if !self.answered(&a, "start") {
            // a refused start leaves the unit where it was: take a fresh one next time
            self.unit = None;
            return Ok(false);
        }
        let id = serde_json::from_str::<Value>(&a.body)?["id"]
            .as_i64()
            .unwrap_or(0);
        let done = json!({"result": "PASS", "measurements": good(p)});
        let path = format!("/api/v1/process-data/{id}/complete");
        let a = send(
            http,
            base,
            token,
            reqwest::Method::POST,
            &path,
            Some(&done),
            true,
        )
        .await?;
        let ok = self.answered(&a, "complete");
        self.unit = if ok { Some((wip, p + 1)) } else { None };
        Ok(ok)
    }

    async fn get(
        &mut self,
        http: &reqwest::Client,
        base: &str,
        token: &str,
        path: &str,
    ) -> Result<bool> {
        let a = send(http, base, token, reqwest::Method::GET, path, None, false).await?;
        Ok(self.answered(&a, path))
    }

    /// APPROVE of the next stage of the pool, as its approver (the decide route takes no Idempotency-Key: a
    /// second decision of a stage is 409 ALREADY_DECIDED, never a second effect).
    async fn decide(
        &mut self,
        http: &reqwest::Client,
        base: &str,
        pool: &StagePool,
    ) -> Result<bool> {
        let Some((path, token)) = pool.take() else {
            bail!(
                "the decide scenario ran out of ACTIVE stages ({} read)",
                pool.len()
            );
        };
        let body = json!({"decision": "APPROVE"});
        let a = send(
            http,
            base,
            token,
            reqwest::Method::POST,
            path,
            Some(&body),
            false,
        )
        .await?;
        Ok(self.answered(&a, "decide"))
    }

    async fn op(&mut self, http: &reqwest::Client, base: &str, scn: &Scenario) -> Result<bool> {
        self.n += 1;
        match &scn.op {
            Op::Get(path) => self.get(http, base, &scn.token, path).await,
            Op::Station(pool) => self.station(http, base, &scn.token, pool).await,
            Op::Decide(pool) => self.decide(http, base, pool).await,
            Op::Mixed(paths, pool) => {
                if self.n % 10 < 2 {
                    self.station(http, base, &scn.token, pool).await
                } else {
                    let path = &paths[(self.n as usize) % paths.len()];
                    self.get(http, base, &scn.token, path).await
                }
            }
        }
    }
}

/// One operation, for the statement capture: the statements its requests ran (`x-db-queries`).
pub async fn one(http: &reqwest::Client, base: &str, scn: &Scenario) -> Result<u64> {
    let mut w = Worker::new();
    if !w.op(http, base, scn).await? {
        bail!("{}: {}", scn.name, w.error_samples.join("; "));
    }
    Ok(w.statements)
}

/// What a walk of one unit through the processes sent and ran (the statement capture of the station write).
pub struct Walked {
    /// The statements the server counted (`x-db-queries`, summed over the walk's requests).
    pub statements: u64,
    /// The Idempotency-Key of each request, in order.
    pub keys: Vec<String>,
}

/// Walk the fresh unit `code` through the processes, one station pair each, as the station write's workers do.
pub async fn walk(http: &reqwest::Client, base: &str, token: &str, code: &str) -> Result<Walked> {
    let pool = UnitPool::new(vec![code.to_string()]);
    let mut w = Worker::new();
    w.keys = Some(Vec::new());
    for _ in 0..PROCESSES {
        if !w.station(http, base, token, &pool).await? {
            bail!("walk of {code}: {}", w.error_samples.join("; "));
        }
    }
    Ok(Walked {
        statements: w.statements,
        keys: w.keys.unwrap_or_default(),
    })
}

/// The processes a unit is walked through (the shipped route: 8 active processes).
pub const PROCESSES: usize = 8;

/// Run `scn` with `c` workers: `warmup` unrecorded, then `duration` measured. The CPU of the server (`pids.0`),
/// of PostgreSQL (the postmaster `pids.1` and its children) and of this process is read at the start and the
/// end of the measured window, so CPU per operation divides like by like.
pub async fn run(
    http: &reqwest::Client,
    base: &str,
    scn: &Scenario,
    c: usize,
    (warmup, duration): (Duration, Duration),
    pids: (u32, u32),
    db: &sqlx::PgPool,
) -> Result<Run> {
    let begin = Instant::now();
    let sampler = waits::start(db, crate::capture::REQUEST_APPLICATION_NAME, warmup);
    let measure_from = begin + warmup;
    let end = measure_from + duration;
    let mut tasks = Vec::with_capacity(c);
    for _ in 0..c {
        let http = http.clone();
        let base = base.to_string();
        let scn = scn.clone();
        tasks.push(tokio::spawn(async move {
            let mut w = Worker::new();
            let mut recorded = Worker::new();
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let (req0, st0, err0) = (w.requests, w.statements, w.error_samples.len());
                let ok = match w.op(&http, &base, &scn).await {
                    Ok(ok) => ok,
                    Err(e) => {
                        if w.error_samples.len() < 3 {
                            w.error_samples.push(format!("transport: {e:#}"));
                        }
                        false
                    }
                };
                let t1 = Instant::now();
                if t0 >= measure_from && t1 <= end {
                    let us = (t1 - t0).as_micros().max(1) as u64;
                    let _ = recorded.hist.record(us.min(60_000_000));
                    recorded.requests += w.requests - req0;
                    recorded.statements += w.statements - st0;
                    if ok {
                        recorded.ok += 1;
                    } else {
                        recorded.errors += 1;
                        recorded
                            .error_samples
                            .extend(w.error_samples[err0..].iter().cloned());
                    }
                }
            }
            recorded
        }));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let before = Snapshot::take(pids.0, pids.1)?;
    tokio::time::sleep_until(end.into()).await;
    let after = Snapshot::take(pids.0, pids.1)?;
    let waits = sampler.stop().await?;
    let mut all = Worker::new();
    for t in tasks {
        if let Ok(w) = t.await {
            let _ = all.hist.add(&w.hist);
            all.ok += w.ok;
            all.errors += w.errors;
            all.requests += w.requests;
            all.statements += w.statements;
            for e in w.error_samples {
                if all.error_samples.len() < 5 {
                    all.error_samples.push(e);
                }
            }
        }
    }
    Ok(Run {
        scenario: scn.name.clone(),
        kind: scn.kind,
        replay: scn.replay,
        concurrency: c,
        elapsed: duration,
        hist: all.hist,
        ok: all.ok,
        errors: all.errors,
        error_samples: all.error_samples,
        requests: all.requests,
        statements: all.statements,
        resources: after.since(&before),
        waits: Some(waits),
        pgbench: None,
    })
}
