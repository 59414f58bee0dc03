//! Sites over HTTP: CRUD, the CSV import's per-row report (errors refuse the file, unknown clusters warn),
//! the CSV export, and the statement counts.

use crate::atp_support::*;
use crate::helpers::TestApp;
use neurohub_atp::demo::EXAMPLE_SITES;
use neurohub_atp::member::MemberRole;
use neurohub_atp::state::SourceType;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

async fn import(app: &TestApp, ws: &Ws, token: &str, csv: &[u8]) -> crate::helpers::TestResponse {
    let form = Form::new().part("sites", Part::bytes(csv.to_vec()).file_name("sites.csv"));
    let res = app
        .client
        .post(app.url(&ws.path("/sites/import")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    into(res).await
}

#[sqlx::test(migrations = false)]
async fn import_reports_every_bad_row_and_imports_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let ws = workspace(&app, "XL-SITES", true).await;
    import_and_activate(&app, &ws, SourceType::ScopeConfig).await;
    import_and_activate(&app, &ws, SourceType::ClusterMapping).await;
    let bad = b"site_id,site_name,cluster_code,ne_latitude,ne_longitude,status\n\
                S1,One,JKT-01,-6.2,106.8,\n\
                S2,,JKT-01,,,\n\
                S3,Three,NOPE,95,,\n\
                S1,Again,,,,\n\
                S4,Four,,,200,DONE\n";
    let res = import(&app, &ws, ws.token(MemberRole::DocControl), bad).await;
    res.assert_fields(
        422,
        "IMPORT_INVALID",
        &[
            "sites:3:site_name",
            "sites:4:ne_latitude",
            "sites:5:site_id",
            "sites:6:status",
            "sites:6:ne_longitude",
        ],
    );
    assert_eq!(app.count("sites").await, 0, "nothing half-imported");

    // a good file: imported; the unknown cluster is a warning, not a refusal
    let good = b"site_id,site_name,cluster_code,ne_latitude\nS1,One,JKT-01,-6.2\nS2,Two,NOPE,\n";
    let res = import(&app, &ws, ws.token(MemberRole::DocControl), good).await;
    res.assert_status(200);
    assert_eq!(res.body["inserted"], 2);
    assert_eq!(res.body["updated"], 0);
    assert_eq!(res.body["warnings"][0]["row"], 3);
    assert_eq!(res.body["warnings"][0]["column"], "cluster_code");
    assert_eq!(res.body["warnings"][0]["severity"], "WARNING");
    // context, resolve, active clusters, one upsert, COMMIT
    assert_eq!(res.queries(), 5);
    // re-import updates by site_id
    let res = import(
        &app,
        &ws,
        ws.admin(),
        b"site_id,site_name\nS1,One renamed\n",
    )
    .await;
    assert_eq!(
        (res.body["inserted"].as_i64(), res.body["updated"].as_i64()),
        (Some(0), Some(1))
    );
    // VIEWER / APPROVER may not import (403 before the body is read)
    import(&app, &ws, ws.token(MemberRole::Viewer), good)
        .await
        .assert_problem(403, "FORBIDDEN");
}

#[sqlx::test(migrations = false)]
async fn crud_and_export(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let ws = workspace(&app, "XL-CRUD", true).await;
    example_config(&app, &ws).await;
    let r = import(&app, &ws, ws.admin(), EXAMPLE_SITES).await;
    r.assert_status(200);
    assert_eq!(r.body["warnings"], json!([]));

    let doc = ws.token(MemberRole::DocControl);
    let created = call(
        &app,
        Method::POST,
        doc,
        &ws.path("/sites"),
        Some(&json!({"site_id": "JKT-0099", "site_name": "New", "cluster_code": "JKT-01", "ne_latitude": -6.1})),
    )
    .await;
    created.assert_status(201);
    assert_eq!(
        created.queries(),
        5,
        "active clusters, insert + context, resolve, COMMIT"
    );
    let id = created.body["id"].as_str().unwrap().to_string();
    call(
        &app,
        Method::POST,
        doc,
        &ws.path("/sites"),
        Some(&json!({"site_id": "JKT-0099", "site_name": "Dup"})),
    )
    .await
    .assert_fields(409, "DUPLICATE", &["site_id"]);
    call(
        &app,
        Method::POST,
        doc,
        &ws.path("/sites"),
        Some(&json!({"site_id": "X", "site_name": "x", "cluster_code": "NOPE"})),
    )
    .await
    .assert_fields(422, "UNKNOWN_CLUSTER", &["cluster_code"]);
    call(
        &app,
        Method::POST,
        doc,
        &ws.path("/sites"),
        Some(&json!({"site_id": "X", "site_name": "", "fe_longitude": 181})),
    )
    .await
    .assert_fields(422, "VALIDATION_FAILED", &["site_name", "fe_longitude"]);
    let p = ws.path(&format!("/sites/{id}"));
    let patched = call(
        &app,
        Method::PATCH,
        doc,
        &p,
        Some(&json!({"status": "ON_HOLD", "ne_latitude": null})),
    )
    .await;
    patched.assert_status(200);
    assert_eq!(patched.body["status"], "ON_HOLD");
    assert!(patched.body["ne_latitude"].is_null());
    let got = call(&app, Method::GET, ws.token(MemberRole::Viewer), &p, None).await;
    assert_eq!(got.body["site_name"], "New");
    assert_eq!(got.queries(), 3);
    let list = call(
        &app,
        Method::GET,
        ws.token(MemberRole::Viewer),
        &ws.path("/sites?region=East%20Java&limit=2"),
        None,
    )
    .await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
    assert!(list.body["next_cursor"].is_string());
    assert_eq!(list.queries(), 3, "one select + context, resolve");

    // export: the import's columns, paged by site_id
    let res = app
        .client
        .get(app.url(&ws.path("/sites/export?limit=4")))
        .bearer_auth(ws.token(MemberRole::Viewer))
        .send()
        .await
        .unwrap();
    let next = res
        .headers()
        .get("x-next-cursor")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let queries = res.headers()["x-db-queries"].to_str().unwrap().to_string();
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], neurohub_atp::sites::CSV_COLUMNS.join(","));
    assert_eq!(lines.len(), 5);
    assert!(
        lines[1].starts_with("BKS-0001,Bekasi Timur,Jabodetabek,Bekasi,JKT-02,-6.2483,107.0181"),
        "{}",
        lines[1]
    );
    assert_eq!(queries, "3");
    let rest = app
        .client
        .get(app.url(&ws.path(&format!("/sites/export?cursor={next}"))))
        .bearer_auth(ws.token(MemberRole::Viewer))
        .send()
        .await
        .unwrap();
    assert!(rest.headers().get("x-next-cursor").is_none());
    assert_eq!(rest.text().await.unwrap().lines().count(), 1 + 3);

    call(&app, Method::DELETE, doc, &p, None)
        .await
        .assert_status(204);
    call(&app, Method::GET, doc, &p, None)
        .await
        .assert_problem(404, "NOT_FOUND");
}
