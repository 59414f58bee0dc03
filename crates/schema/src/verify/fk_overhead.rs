//! `neurohub verify --measure-fk-overhead`: seed 004's "FK overhead < 10 ms" measured on the FK-heavy tables
//! (process_data: 6 FKs, workflow_instances: 8 composite FKs). Inside one transaction that is always rolled
//! back, each operation (insert, update of an FK column, delete) runs `n` times with constraint checking
//! (`session_replication_role = origin`) and `n` times without (`replica`, which disables the FK triggers —
//! and every other trigger, audit included, so "without" is a lower bound and the difference an upper bound of
//! the FK cost). Needs a superuser (or a role allowed to set session_replication_role).

use std::time::Instant;

use serde::Serialize;
use sqlx::{Postgres, Transaction};

use crate::error::SchemaError;
use crate::verify::atp::{config, instance, workspace};
use crate::verify::platform::SCRATCH_USER;

/// Seed 004's target per operation.
pub const TARGET_MS: f64 = 10.0;

/// One table × operation.
#[derive(Debug, Clone, Serialize)]
pub struct FkOverhead {
    pub table: String,
    pub operation: String,
    /// Mean latency per statement (client round trip included) with FK checking, in ms.
    pub with_fk_ms: f64,
    /// The same without constraint checking (replica), in ms.
    pub without_fk_ms: f64,
    /// with − without.
    pub overhead_ms: f64,
    /// with_fk_ms < [`TARGET_MS`].
    pub within_target: bool,
}

/// Mean ms per statement: `sql` once per id (`$1`), with the fixed parameters `$2..` (all as text).
async fn timed(
    tx: &mut Transaction<'static, Postgres>,
    sql: &str,
    ids: &[String],
    fixed: &[String],
) -> Result<f64, SchemaError> {
    let t = Instant::now();
    for id in ids {
        let mut q = sqlx::query(sql).bind(id);
        for f in fixed {
            q = q.bind(f);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(t.elapsed().as_secs_f64() * 1000.0 / ids.len().max(1) as f64)
}

/// Measure with `n` statements per operation and arm. Leaves nothing behind (rolled back).
pub async fn measure(pool: &sqlx::PgPool, n: usize) -> Result<Vec<FkOverhead>, SchemaError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL lock_timeout = '3s'")
        .execute(&mut *tx)
        .await?;
    let uid: i64 = sqlx::query_scalar(SCRATCH_USER).fetch_one(&mut *tx).await?;
    // MES parents: one model, line, lot and two processes
    let base: i64 = sqlx::query_scalar(
        "INSERT INTO product_models (id, model_code, model_name) OVERRIDING SYSTEM VALUE
         SELECT 9100000000000000, x.c, 'fk bench' FROM (SELECT 'B' || lpad(n::text, 2, '0') AS c FROM generate_series(0, 99) n) x
          WHERE NOT EXISTS (SELECT 1 FROM product_models m WHERE m.model_code = x.c) LIMIT 1 RETURNING id",
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO production_lines (id, country_code, line_code, name) OVERRIDING SYSTEM VALUE
         SELECT $1, 'ZY', x.c, 'fk bench' FROM (SELECT lpad(n::text, 2, '0') AS c FROM generate_series(0, 99) n) x
          WHERE NOT EXISTS (SELECT 1 FROM production_lines l WHERE l.country_code = 'ZY' AND l.line_code = x.c) LIMIT 1",
    )
    .bind(base)
    .execute(&mut *tx)
    .await?;
    // one lot per process_data row (an open row is unique per lot and process): ids base+1.., lot numbers
    // differing in their YYMM digits
    let n = n.clamp(1, 4000);
    sqlx::query(
        "INSERT INTO lots (id, lot_number, product_model_id, production_line_id, target_quantity) OVERRIDING SYSTEM VALUE
         SELECT $1 + k, 'ZY' || l.line_code || m.model_code || lpad(k::text, 4, '0') || '01', $1, $1, 1
           FROM product_models m, production_lines l, generate_series(1, $2) AS k WHERE m.id = $1 AND l.id = $1",
    )
    .bind(base)
    .bind(2 * n as i64)
    .execute(&mut *tx)
    .await?;
    let procs: Vec<i64> = sqlx::query_scalar("SELECT id FROM processes ORDER BY id LIMIT 2")
        .fetch_all(&mut *tx)
        .await?;
    if procs.len() < 2 {
        return Err(SchemaError::Backup(
            "fk overhead needs the seeded processes".into(),
        ));
    }
    // ATP parents: a workspace, an ACTIVE version with its masters, one instance (for ids to copy)
    let ws = workspace(&mut tx).await?;
    let cv = config(&mut tx, &ws, 1).await?;
    let wi = instance(&mut tx, &ws, &cv).await?;
    let (site, scope, policy): (String, String, String) = sqlx::query_as(
        "SELECT site_id::text, scope_id::text, policy_id::text FROM workflow_instances WHERE workspace_id = $1::uuid AND id = $2::uuid",
    )
    .bind(&ws)
    .bind(&wi)
    .fetch_one(&mut *tx)
    .await?;
    let site2: String = sqlx::query_scalar(
        "INSERT INTO sites (workspace_id, site_id, site_name) VALUES ($1::uuid, 'FK-BENCH-2', 'fk bench') RETURNING id::text",
    )
    .bind(&ws)
    .fetch_one(&mut *tx)
    .await?;

    let mut out = Vec::new();
    for (arm, role) in [(0, "origin"), (1, "replica")] {
        sqlx::query("SELECT set_config('session_replication_role', $1, true)")
            .bind(role)
            .execute(&mut *tx)
            .await?;
        // ids: per arm a distinct range, so the arms never touch each other's rows
        let first = 9_100_000_000_000_100_i64 + arm * 1_000_000;
        let pd_ids: Vec<String> = (0..n as i64).map(|i| (first + i).to_string()).collect();
        let wi_ids: Vec<String> = (0..n)
            .map(|i| format!("eeeeeeee-0000-4000-8{arm:03}-{i:012}"))
            .collect();
        let (p0, p1, u) = (procs[0].to_string(), procs[1].to_string(), uid.to_string());
        type Op<'a> = (&'a str, &'a str, &'a str, &'a [String], Vec<String>);
        let ops: Vec<Op> = vec![
            ("process_data", "insert",
             "INSERT INTO process_data (id, lot_id, process_id, operator_id, data_level) OVERRIDING SYSTEM VALUE
              VALUES ($1::bigint, $1::bigint - $2::bigint + $5::bigint + 1, $3::bigint, $4::bigint, 'LOT')",
             &pd_ids, vec![first.to_string(), p0.clone(), u.clone(), (base + arm * n as i64).to_string()]),
            ("process_data", "update", "UPDATE process_data SET process_id = $2::bigint WHERE id = $1::bigint",
             &pd_ids, vec![p1.clone()]),
            ("process_data", "delete", "DELETE FROM process_data WHERE id = $1::bigint", &pd_ids, vec![]),
            ("workflow_instances", "insert",
             "INSERT INTO workflow_instances (workspace_id, id, config_version_id, site_id, scope_id, policy_id, atp_category)
              VALUES ($2::uuid, $1::uuid, $3::uuid, $4::uuid, $5::uuid, $6::uuid, 'RAN_MW')",
             &wi_ids, vec![ws.clone(), cv.clone(), site.clone(), scope.clone(), policy.clone()]),
            ("workflow_instances", "update",
             "UPDATE workflow_instances SET site_id = $3::uuid WHERE workspace_id = $2::uuid AND id = $1::uuid",
             &wi_ids, vec![ws.clone(), site2.clone()]),
            ("workflow_instances", "delete", "DELETE FROM workflow_instances WHERE workspace_id = $2::uuid AND id = $1::uuid",
             &wi_ids, vec![ws.clone()]),
        ];
        for (i, (table, op, sql, ids, fixed)) in ops.iter().enumerate() {
            let ms = timed(&mut tx, sql, ids, fixed).await?;
            if arm == 0 {
                out.push(FkOverhead {
                    table: table.to_string(),
                    operation: op.to_string(),
                    with_fk_ms: ms,
                    without_fk_ms: 0.0,
                    overhead_ms: 0.0,
                    within_target: ms < TARGET_MS,
                });
            } else {
                let m = &mut out[i];
                m.without_fk_ms = ms;
                m.overhead_ms = m.with_fk_ms - ms;
            }
        }
    }
    tx.rollback().await?;
    Ok(out)
}

/// The figures as a table.
pub fn render(rows: &[FkOverhead], n: usize) -> String {
    let mut s = format!(
        "FK overhead ({n} statements per operation and arm; target < {TARGET_MS} ms per operation)\n{:<20} {:<8} {:>10} {:>10} {:>10}  target\n",
        "table", "op", "with FK", "without", "overhead"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<20} {:<8} {:>8.3}ms {:>8.3}ms {:>8.3}ms  {}\n",
            r.table,
            r.operation,
            r.with_fk_ms,
            r.without_fk_ms,
            r.overhead_ms,
            if r.within_target { "OK" } else { "OVER" }
        ));
    }
    s
}
