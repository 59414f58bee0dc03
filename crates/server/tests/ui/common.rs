//! What the UI tests share: a server with the MES demo data and one user per role, a fresh lot, and the
//! measurement values that meet a process's criteria (read from the API, never copied).

use crate::helpers::{TestApp, PASSWORD};
use neurohub_core::auth::Role;
use serde_json::{json, Value};

pub use crate::browser::Browser;

/// A server over a fresh database with the MES demo loaded (models, lines, equipment, lots) and the test users
/// `admin`, `manager`, `operator`, `viewer` (password [`PASSWORD`]).
pub async fn app(pool: sqlx::PgPool) -> TestApp {
    let app = TestApp::spawn(pool).await;
    neurohub_mes::demo::seed_if_empty(&app.pool, "UTC")
        .await
        .expect("MES demo");
    app
}

/// A browser signed in as the test user of `role`.
pub async fn signed_in(app: &TestApp, role: Role) -> Browser {
    let b = Browser::start(app.addr, "en-US").await;
    b.sign_in(&role.as_str().to_ascii_lowercase(), PASSWORD)
        .await;
    b
}

/// A new lot of `qty` units (as MANAGER, through the API): its lot number.
pub async fn new_lot(app: &TestApp, qty: i32) -> String {
    let models = app.get(Role::Manager, "/api/v1/product-models").await;
    let lines = app.get(Role::Manager, "/api/v1/production-lines").await;
    let lot = app
        .post(
            Role::Manager,
            "/api/v1/lots",
            &json!({
                "product_model_id": models.body["items"][0]["id"],
                "production_line_id": lines.body["items"][0]["id"],
                "target_quantity": qty,
            }),
        )
        .await;
    lot.assert_status(201);
    lot.body["lot_number"].as_str().unwrap().to_string()
}

pub fn wip(lot_number: &str, seq: u16) -> String {
    format!("WIP-{lot_number}-{seq:03}")
}

/// The process of number `n` as the API shows it.
pub async fn process(app: &TestApp, n: i64) -> Value {
    let all = app.get(Role::Viewer, "/api/v1/processes").await;
    all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["process_number"] == n)
        .cloned()
        .unwrap()
}

/// A value inside a criterion's limits (its midpoint, or the bound it has), as typed at a station.
pub fn good_value(spec: &Value) -> String {
    let v = match (spec["min"].as_f64(), spec["max"].as_f64()) {
        (Some(a), Some(b)) => (a + b) / 2.0,
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => 1.0,
    };
    format!("{v}")
}

/// A number from a query without parameters, on the test's owner connection.
pub async fn sql_i64(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.pool)
        .await
        .expect(sql)
}
