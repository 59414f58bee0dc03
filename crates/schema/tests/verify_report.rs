//! `neurohub verify` against real databases: a fresh deployment is GO (every check passed or explicitly
//! skipped, nothing left behind); then one fault per test, asserting the decision and the check that names it;
//! the JSON output validates against docs/verify.schema.json.
mod common;

use common::*;
use neurohub_schema::verify::report::Status;
use neurohub_schema::{verify_report, Decision, ModuleFilter, Report};
use serde_json::Value;
use sqlx::PgPool;

async fn report(pool: &PgPool) -> Report {
    verify_report(pool, ModuleFilter::All, Default::default())
        .await
        .expect("verify runs")
}

fn status(r: &Report, id: &str) -> Status {
    r.check(id)
        .unwrap_or_else(|| panic!("no check {id}"))
        .status
}

fn failed_ids(r: &Report) -> Vec<String> {
    r.checks
        .iter()
        .filter(|c| c.status == Status::Failed)
        .map(|c| c.id.clone())
        .collect()
}

/// Row count of every table (partitions included) and last_value of every sequence: what verify must not move.
async fn footprint(pool: &PgPool) -> Vec<(String, i64)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out = Vec::new();
    for t in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {t}"))
            .fetch_one(pool)
            .await
            .unwrap();
        out.push((t, n));
    }
    let seqs: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences
          WHERE sequencename <> 'audit_logs_id_seq' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    out.extend(seqs.into_iter().map(|(s, v)| (s, v.unwrap_or(0))));
    out
}

#[sqlx::test(migrations = false)]
async fn a_fresh_deployment_is_go_and_verify_leaves_nothing_behind(pool: PgPool) {
    up_to(&pool, None).await;
    seed_rows(&pool).await;
    // the seed's 2020 audit row sits in the DEFAULT partition on purpose; a fresh deployment has none
    sqlx::query("ALTER TABLE audit_logs DETACH PARTITION audit_logs_default")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DROP TABLE audit_logs_default")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE audit_logs_default PARTITION OF audit_logs DEFAULT")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("CREATE TRIGGER trg_audit_logs_prevent_truncate BEFORE TRUNCATE ON audit_logs_default FOR EACH STATEMENT EXECUTE FUNCTION prevent_audit_modification()")
        .execute(&pool)
        .await
        .unwrap();
    let before = footprint(&pool).await;
    let started = std::time::Instant::now();
    let r = report(&pool).await;
    let elapsed = started.elapsed();
    let after = footprint(&pool).await;
    assert_eq!(before, after, "verify left rows or moved a sequence");
    let locks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE pid <> pg_backend_pid() AND locktype = 'relation' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(locks, 0, "verify left a lock behind");
    println!("{}", r.to_text());
    println!("{} checks in {elapsed:.2?}", r.checks.len());
    assert_eq!(r.decision, Decision::Go, "{:?}", r.reasons);
    assert!(r.reasons.is_empty());
    assert!(r.checks.iter().all(|c| c.status != Status::Failed));
    // skipped is explicit and never counted as passed: C6 without the ATP engine (this crate depends on no
    // domain; the binary hands it over, and crates/server/tests/api/verify_runtime.rs runs it)
    assert_eq!(status(&r, "C6"), Status::Skipped);
    assert_eq!(status(&r, "MES-SEQ"), Status::Skipped);
    assert_eq!(
        r.score.skipped,
        r.checks
            .iter()
            .filter(|c| c.status == Status::Skipped)
            .count()
    );
    assert_eq!(r.score.passed + r.score.skipped, r.checks.len());
    assert_eq!(r.score.total, r.score.passed);
    for id in [
        "C1",
        "C2",
        "C3",
        "C4",
        "C5",
        "I1",
        "I2-ATP",
        "I3",
        "INV1",
        "INV2",
        "INV3",
        "INV4",
        "ORPHANS",
        "MES-CHECKS",
        "MES-COUNTERS",
    ] {
        assert_eq!(status(&r, id), Status::Passed, "{id}");
    }
    assert!(!r.orphans.is_empty() && r.orphans.iter().all(|o| o.orphans == 0));
    assert!(r.orphans.iter().any(|o| o.constraint == "unenforced"));
    let md = r.to_markdown();
    assert!(md.contains("**Decision:** ☑ 🟢 GO"), "{md}");
    assert!(md.contains("Runtime Progression") || md.contains("Runtime progression"));
}

#[sqlx::test(migrations = false)]
async fn a_dropped_fk_is_no_go_in_c1(pool: PgPool) {
    up_to(&pool, None).await;
    sqlx::query("ALTER TABLE lots DROP CONSTRAINT fk_lots_product_model")
        .execute(&pool)
        .await
        .unwrap();
    let r = report(&pool).await;
    assert_eq!(r.decision, Decision::NoGo);
    let c1 = r.check("C1").unwrap();
    assert_eq!(c1.status, Status::Failed);
    assert!(
        c1.details
            .iter()
            .any(|d| d.contains("missing lots.fk_lots_product_model")),
        "{:?}",
        c1.details
    );
    assert!(
        r.reasons.iter().any(|x| x.starts_with("C1 ")),
        "{:?}",
        r.reasons
    );
}

#[sqlx::test(migrations = false)]
async fn a_mismatched_fk_like_column_is_reported_by_c2(pool: PgPool) {
    up_to(&pool, None).await;
    sqlx::query("ALTER TABLE equipment ADD COLUMN lot_id text")
        .execute(&pool)
        .await
        .unwrap();
    let r = report(&pool).await;
    let c2 = r.check("C2").unwrap();
    assert_eq!(c2.status, Status::Failed);
    assert!(
        c2.details
            .iter()
            .any(|d| d.contains("equipment.lot_id text has no FK, and lots.id is bigint")),
        "{:?}",
        c2.details
    );
    assert_eq!(r.decision, Decision::NoGo);
}

#[sqlx::test(migrations = false)]
async fn orphans_inserted_behind_a_disabled_constraint_are_no_go_with_count_and_sample(
    pool: PgPool,
) {
    up_to(&pool, None).await;
    seed_rows(&pool).await;
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE lots SET product_model_id = 424242 WHERE lot_number = 'KR01NH1261102'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let r = report(&pool).await;
    assert_eq!(r.decision, Decision::NoGo);
    assert_eq!(status(&r, "ORPHANS"), Status::Failed);
    let o = r
        .orphans
        .iter()
        .find(|o| o.constraint == "fk_lots_product_model")
        .unwrap();
    assert_eq!(o.orphans, 1);
    assert_eq!(o.sample, vec!["2".to_string()]);
    // the seed's 2020 audit row in the DEFAULT partition is the only other finding
    assert_eq!(failed_ids(&r), vec!["SCALE-PARTITIONS", "ORPHANS"]);
}

#[sqlx::test(migrations = false)]
async fn a_dropped_performance_index_is_hold_in_i1(pool: PgPool) {
    up_to(&pool, None).await;
    sqlx::query("DROP INDEX idx_lots_status")
        .execute(&pool)
        .await
        .unwrap();
    let r = report(&pool).await;
    assert_eq!(failed_ids(&r), vec!["I1"]);
    assert_eq!(r.decision, Decision::Hold);
    assert!(
        r.check("I1")
            .unwrap()
            .details
            .iter()
            .any(|d| d.contains("idx_lots_status")),
        "{:?}",
        r.check("I1").unwrap().details
    );
}

#[sqlx::test(migrations = false)]
async fn a_dropped_immutability_trigger_is_no_go(pool: PgPool) {
    up_to(&pool, None).await;
    sqlx::query("DROP TRIGGER trg_audit_logs_prevent_modification ON audit_logs")
        .execute(&pool)
        .await
        .unwrap();
    let r = report(&pool).await;
    assert_eq!(r.decision, Decision::NoGo);
    assert_eq!(status(&r, "INV3"), Status::Failed);
    assert_eq!(status(&r, "C1"), Status::Failed);
    let audit = r.indicators.iter().find(|i| i.name == "Audit").unwrap();
    assert_eq!(audit.status, Status::Failed);
}

#[sqlx::test(migrations = false)]
async fn two_active_configs_behind_a_dropped_partial_index_are_no_go(pool: PgPool) {
    up_to(&pool, None).await;
    sqlx::query("DROP INDEX ux_config_versions_one_active_per_workspace")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::raw_sql(
        "INSERT INTO workspaces (id, code, name) VALUES ('cccccccc-0000-4000-8000-000000000000', 'DUP', 'dup');
         INSERT INTO config_versions (workspace_id, source_type, version_number, validation_status, checksum)
         VALUES ('cccccccc-0000-4000-8000-000000000000', 'APPROVAL_MATRIX', 1, 'VALID', repeat('a', 64)),
                ('cccccccc-0000-4000-8000-000000000000', 'APPROVAL_MATRIX', 2, 'VALID', repeat('b', 64));
         UPDATE config_versions SET status = 'ACTIVE' WHERE workspace_id = 'cccccccc-0000-4000-8000-000000000000';",
    )
    .execute(&pool)
    .await
    .unwrap();
    let r = report(&pool).await;
    assert_eq!(r.decision, Decision::NoGo);
    let inv2 = r.check("INV2").unwrap();
    assert_eq!(inv2.status, Status::Failed);
    assert!(
        inv2.reason.contains("more than one ACTIVE"),
        "{}",
        inv2.reason
    );
    let im = r
        .indicators
        .iter()
        .find(|i| i.name == "Config immutability")
        .unwrap();
    assert_eq!(im.status, Status::Failed);
}

#[sqlx::test(migrations = false)]
async fn a_constraint_left_not_valid_is_flagged(pool: PgPool) {
    up_to(&pool, None).await;
    sqlx::raw_sql(
        "ALTER TABLE lots DROP CONSTRAINT chk_lots_target_quantity;
         ALTER TABLE lots ADD CONSTRAINT chk_lots_target_quantity CHECK (target_quantity BETWEEN 1 AND 999) NOT VALID;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let r = report(&pool).await;
    let v = r.check("C1-VALID").unwrap();
    assert_eq!(v.status, Status::Failed);
    assert!(
        v.details
            .iter()
            .any(|d| d == "constraint lots.chk_lots_target_quantity is NOT VALID"),
        "{:?}",
        v.details
    );
    assert_eq!(r.decision, Decision::NoGo);
}

#[sqlx::test(migrations = false)]
async fn fk_overhead_is_measured_per_operation_and_rolled_back(pool: PgPool) {
    up_to(&pool, None).await;
    let before = footprint(&pool).await;
    let rows = neurohub_schema::verify::fk_overhead::measure(&pool, 20)
        .await
        .unwrap();
    assert_eq!(
        footprint(&pool).await,
        before,
        "the measurement left rows behind"
    );
    assert_eq!(rows.len(), 6);
    for r in &rows {
        assert!(r.with_fk_ms > 0.0 && r.without_fk_ms > 0.0, "{r:?}");
    }
    println!(
        "{}",
        neurohub_schema::verify::fk_overhead::render(&rows, 20)
    );
}

/// Objects extensions install into public (pgcrypto's functions, pg_stat_statements' views) are not the
/// schema's: the report stays GO, and P3 lists the extensions.
#[sqlx::test(migrations = false)]
async fn extension_objects_do_not_change_the_decision(pool: PgPool) {
    up_to(&pool, None).await;
    sqlx::raw_sql(
        "CREATE EXTENSION pg_stat_statements SCHEMA public; CREATE EXTENSION pgcrypto SCHEMA public;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let r = report(&pool).await;
    assert_eq!(r.decision, Decision::Go, "{:?}", r.reasons);
    let p3 = r.check("P3").unwrap();
    assert!(
        p3.details.iter().any(|d| d.contains("pgcrypto")),
        "{:?}",
        p3.details
    );
    assert!(p3.details[0].contains("not required"), "{:?}", p3.details);
}

#[sqlx::test(migrations = false)]
async fn a_module_filter_runs_only_that_modules_checks(pool: PgPool) {
    up_to(&pool, None).await;
    let r = verify_report(&pool, ModuleFilter::Mes, Default::default())
        .await
        .unwrap();
    assert!(r.check("INV4").is_some() && r.check("C1").is_some());
    assert!(r.check("C3").is_none());
    assert_eq!(r.module_filter, "mes");
}

// ------------------------------------------------------------------------------------------- JSON Schema

/// A validator for the subset of JSON Schema docs/verify.schema.json uses (type, enum, required, properties,
/// additionalProperties: false, items, minimum, $ref into $defs). Returns every violation with its path.
fn validate(schema: &Value, root: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return validate(&root["$defs"][name], root, v, path, errs);
    }
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            _ => false,
        };
        if !ok {
            errs.push(format!("{path}: expected {t}, found {v}"));
            return;
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errs.push(format!("{path}: {v} not in {e:?}"));
        }
    }
    if let (Some(m), Some(x)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if x < m {
            errs.push(format!("{path}: {x} < {m}"));
        }
    }
    if let Some(obj) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !obj.contains_key(req.as_str().unwrap()) {
                errs.push(format!("{path}: missing {req}"));
            }
        }
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(s, root, val, &format!("{path}/{k}"), errs),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errs.push(format!("{path}: unexpected property {k}"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            validate(items, root, x, &format!("{path}/{i}"), errs);
        }
    }
}

fn schema() -> Value {
    serde_json::from_str(include_str!("../../../docs/verify.schema.json")).unwrap()
}

#[test]
fn the_validator_rejects_what_the_schema_forbids() {
    let s = schema();
    let mut errs = Vec::new();
    validate(
        &s,
        &s,
        &serde_json::json!({"decision": "MAYBE", "extra": 1}),
        "",
        &mut errs,
    );
    assert!(errs.iter().any(|e| e.contains("MAYBE")), "{errs:?}");
    assert!(
        errs.iter().any(|e| e.contains("unexpected property extra")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|e| e.contains("missing \"checks\"")),
        "{errs:?}"
    );
}

#[sqlx::test(migrations = false)]
async fn json_output_validates_against_the_schema(pool: PgPool) {
    up_to(&pool, None).await;
    // a failing run too, so reasons and failed statuses are exercised
    sqlx::query("DROP INDEX idx_lots_status")
        .execute(&pool)
        .await
        .unwrap();
    let r = report(&pool).await;
    let json: Value = serde_json::from_str(&r.to_json()).unwrap();
    let s = schema();
    let mut errs = Vec::new();
    validate(&s, &s, &json, "", &mut errs);
    assert!(errs.is_empty(), "{errs:#?}");
    assert_eq!(json["decision"], "HOLD");
}
