//! The configuration lifecycle over HTTP: import → validate → activate → supersede → roll back, identical
//! re-import, invalid uploads (every bad row, never activatable), concurrent imports and activations, ACTIVE
//! versions immutable (API 409, trigger backstop), diff, masters by version, the demo loader.

use crate::atp_support::*;
use crate::helpers::TestApp;
use neurohub_atp::member::MemberRole;
use neurohub_atp::state::SourceType;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

fn scope_files_with_roles(roles: &str) -> Vec<(String, Vec<u8>)> {
    let mut f = example_files(SourceType::ScopeConfig);
    for (n, b) in f.iter_mut() {
        if n == "roles" {
            *b = roles.as_bytes().to_vec();
        }
    }
    f
}

#[sqlx::test(migrations = false)]
async fn import_validate_activate_supersede_roll_back(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let ws = workspace(&app, "XL-LIFE", true).await;
    let path = ws.path("/config-versions");

    // v1: the shipped scope config
    let v1 = upload(
        &app,
        ws.admin(),
        &path,
        Some("SCOPE_CONFIG"),
        &example_files(SourceType::ScopeConfig),
    )
    .await;
    v1.assert_status(201);
    assert_eq!(v1.body["status"], "DRAFT");
    assert_eq!(v1.body["validation_status"], "VALID");
    assert_eq!(v1.body["version_number"], 1);
    assert_eq!(v1.body["row_count"], 4 + 3 + 9);
    assert_eq!(v1.body["checksum"].as_str().unwrap().len(), 64);
    assert_eq!(v1.body["validation_errors"], json!([]));
    // writes: context, resolve, the route's statements, COMMIT (sqlx counts COMMIT, not BEGIN)
    assert_eq!(
        v1.queries(),
        11,
        "lock, duplicate check, lookups, version, 3 master inserts, read back + context, resolve, COMMIT"
    );
    let v1_id = v1.body["id"].as_str().unwrap().to_string();
    assert!(v1.headers["location"].to_str().unwrap().ends_with(&v1_id));

    // identical re-import: 409 naming the existing version, nothing stored
    let again = upload(
        &app,
        ws.admin(),
        &path,
        Some("SCOPE_CONFIG"),
        &example_files(SourceType::ScopeConfig),
    )
    .await;
    again.assert_problem(409, "DUPLICATE_IMPORT");
    assert_eq!(again.body["errors"][0]["field"], "existing_version_id");
    assert_eq!(again.body["errors"][0]["message"], v1_id.as_str());
    assert_eq!(app.count("config_versions").await, 1);

    // activate v1
    let a = call(
        &app,
        Method::POST,
        ws.admin(),
        &ws.path(&format!("/config-versions/{v1_id}/activate")),
        None,
    )
    .await;
    a.assert_status(200);
    assert_eq!(a.body["status"], "ACTIVE");
    assert!(a.body["activated_at"].is_string());
    assert_eq!(
        a.queries(),
        7,
        "lock, supersede, activate, read back + context, resolve, COMMIT"
    );

    // v2: one role's SLA group renamed, one role added
    let mut roles = String::from_utf8(example_files(SourceType::ScopeConfig)[0].1.clone()).unwrap();
    if !roles.starts_with("role_code") {
        roles = String::from_utf8(
            example_files(SourceType::ScopeConfig)
                .into_iter()
                .find(|(n, _)| n == "roles")
                .unwrap()
                .1,
        )
        .unwrap();
    }
    let roles = roles.replace(
        "SME,Subject-matter expert,REGIONAL,3",
        "SME,Subject-matter expert,REGIONAL,2",
    ) + "TECH_LEAD,Technical lead,REGIONAL,3,false,\n";
    let v2 = upload(
        &app,
        ws.admin(),
        &path,
        Some("SCOPE_CONFIG"),
        &scope_files_with_roles(&roles),
    )
    .await;
    v2.assert_status(201);
    assert_eq!(v2.body["version_number"], 2);
    let v2_id = v2.body["id"].as_str().unwrap().to_string();
    call(
        &app,
        Method::POST,
        ws.admin(),
        &ws.path(&format!("/config-versions/{v2_id}/activate")),
        None,
    )
    .await
    .assert_status(200);
    let old = call(
        &app,
        Method::GET,
        ws.admin(),
        &ws.path(&format!("/config-versions/{v1_id}")),
        None,
    )
    .await;
    assert_eq!(old.body["status"], "SUPERSEDED");
    assert_eq!(old.body["superseded_by"], v2_id.as_str());
    assert_eq!(old.queries(), 3, "one select + context, resolve");
    let new = call(
        &app,
        Method::GET,
        ws.admin(),
        &ws.path(&format!("/config-versions/{v2_id}")),
        None,
    )
    .await;
    assert_eq!(new.body["previous_version_id"], v1_id.as_str());

    // diff v2 against what it superseded: one role added, one changed
    let d = call(
        &app,
        Method::GET,
        ws.token(MemberRole::Viewer),
        &ws.path(&format!("/config-versions/{v2_id}/diff")),
        None,
    )
    .await;
    d.assert_status(200);
    assert_eq!(d.body["against"], v1_id.as_str());
    let roles_diff = d.body["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "roles")
        .unwrap()
        .clone();
    assert_eq!(roles_diff["added"].as_array().unwrap().len(), 1);
    assert_eq!(roles_diff["added"][0]["role_code"], "TECH_LEAD");
    assert_eq!(roles_diff["changed"][0]["key"], "SME");
    assert_eq!(
        roles_diff["changed"][0]["fields"],
        json!(["hierarchy_order"])
    );
    assert_eq!(roles_diff["removed"], json!([]));
    assert_eq!(roles_diff["unchanged"], 8);
    assert_eq!(d.queries(), 4, "the pair, the rows + context, resolve");

    // masters: default = ACTIVE (v2), or by version
    let m = call(
        &app,
        Method::GET,
        ws.token(MemberRole::Viewer),
        &ws.path("/masters/roles"),
        None,
    )
    .await;
    m.assert_status(200);
    assert_eq!(m.body["items"].as_array().unwrap().len(), 10);
    assert_eq!(m.queries(), 3, "one select + context, resolve");
    let m1 = call(
        &app,
        Method::GET,
        ws.token(MemberRole::Viewer),
        &ws.path(&format!("/masters/roles?version_id={v1_id}&limit=5")),
        None,
    )
    .await;
    assert_eq!(m1.body["items"].as_array().unwrap().len(), 5);
    assert!(m1.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["config_version_id"] == v1_id.as_str()));
    let cursor = m1.body["next_cursor"].as_str().unwrap();
    let m2 = call(
        &app,
        Method::GET,
        ws.token(MemberRole::Viewer),
        &ws.path(&format!(
            "/masters/roles?version_id={v1_id}&limit=5&cursor={cursor}"
        )),
        None,
    )
    .await;
    assert_eq!(m2.body["items"].as_array().unwrap().len(), 4);
    assert!(m2.body["next_cursor"].is_null());

    // roll back to v1: v1 ACTIVE again (is_rollback), v2 SUPERSEDED by v1
    let rb = call(
        &app,
        Method::POST,
        ws.admin(),
        &ws.path(&format!("/config-versions/{v1_id}/rollback")),
        None,
    )
    .await;
    rb.assert_status(200);
    assert_eq!(rb.body["status"], "ACTIVE");
    assert_eq!(rb.body["is_rollback"], true);
    assert!(rb.body["superseded_by"].is_null());
    let v2_now = call(
        &app,
        Method::GET,
        ws.admin(),
        &ws.path(&format!("/config-versions/{v2_id}")),
        None,
    )
    .await;
    assert_eq!(v2_now.body["status"], "SUPERSEDED");
    assert_eq!(v2_now.body["superseded_by"], v1_id.as_str());
    let m = call(
        &app,
        Method::GET,
        ws.admin(),
        &ws.path("/masters/roles"),
        None,
    )
    .await;
    assert_eq!(
        m.body["items"].as_array().unwrap().len(),
        9,
        "the ACTIVE masters are v1's again"
    );
    // a DRAFT cannot be "rolled back", an ACTIVE / SUPERSEDED one cannot be activated
    call(
        &app,
        Method::POST,
        ws.admin(),
        &ws.path(&format!("/config-versions/{v1_id}/rollback")),
        None,
    )
    .await
    .assert_problem(409, "NOT_SUPERSEDED");
    call(
        &app,
        Method::POST,
        ws.admin(),
        &ws.path(&format!("/config-versions/{v2_id}/activate")),
        None,
    )
    .await
    .assert_problem(409, "USE_ROLLBACK");
    call(
        &app,
        Method::POST,
        ws.admin(),
        &ws.path(&format!("/config-versions/{v1_id}/activate")),
        None,
    )
    .await
    .assert_problem(409, "ALREADY_ACTIVE");

    // history: newest first, filtered by type
    let h = call(
        &app,
        Method::GET,
        ws.token(MemberRole::Viewer),
        &ws.path("/config-versions?source_type=SCOPE_CONFIG"),
        None,
    )
    .await;
    h.assert_status(200);
    let numbers: Vec<i64> = h.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version_number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![2, 1]);
    assert_eq!(h.queries(), 3, "one select + context, resolve");

    // archive the superseded v2; it cannot come back
    call(
        &app,
        Method::POST,
        ws.admin(),
        &ws.path(&format!("/config-versions/{v2_id}/archive")),
        None,
    )
    .await
    .assert_status(200);
    call(
        &app,
        Method::POST,
        ws.admin(),
        &ws.path(&format!("/config-versions/{v2_id}/rollback")),
        None,
    )
    .await
    .assert_problem(409, "NOT_SUPERSEDED");
    // error paths of the readers: a diff across source types, an unknown master kind, a version of another type
    let clusters = import_and_activate(&app, &ws, SourceType::ClusterMapping).await;
    call(
        &app,
        Method::GET,
        ws.admin(),
        &ws.path(&format!("/config-versions/{v1_id}/diff?against={clusters}")),
        None,
    )
    .await
    .assert_fields(422, "VALIDATION_FAILED", &["against"]);
    call(
        &app,
        Method::GET,
        ws.admin(),
        &ws.path(&format!("/config-versions/{clusters}/diff")),
        None,
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    call(
        &app,
        Method::GET,
        ws.admin(),
        &ws.path("/masters/bogus"),
        None,
    )
    .await
    .assert_fields(400, "INVALID_PATH", &["kind"]);
    call(
        &app,
        Method::GET,
        ws.admin(),
        &ws.path(&format!("/masters/clusters?version_id={v1_id}")),
        None,
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    call(
        &app,
        Method::GET,
        ws.admin(),
        &ws.path("/sites/export?limit=0"),
        None,
    )
    .await
    .assert_fields(400, "INVALID_QUERY", &["limit"]);
    // the audit log holds every lifecycle event of the versions
    let events: i64 = app
        .scalar("SELECT count(*) FROM audit_logs WHERE table_name = 'config_versions' AND action = 'UPDATE' AND new_data ->> 'workspace_id' = $1", ws.id.clone())
        .await;
    assert!(events >= 6, "{events}");
}

#[sqlx::test(migrations = false)]
async fn a_bad_upload_is_stored_invalid_with_every_bad_row_and_cannot_be_activated(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let ws = workspace(&app, "XL-BAD", true).await;
    example_config(&app, &ws).await;
    let stages = "policy_code,stage_number,stage_name,role_code,sla_hours\n\
                  P1,1,QA,QA_PRE,24\n\
                  P1,3,Final,GHOST,48\n\
                  P1,4,Late,RTH,0\n\
                  P9,1,Orphan,RTH,24\n";
    let policies = "policy_code,policy_name,atp_category,scope_code\nP1,One,RAN_MW,\nP2,Two,PLN_UPGRADE,NOPE\n";
    let files = vec![
        ("policies".to_string(), policies.as_bytes().to_vec()),
        ("stages".to_string(), stages.as_bytes().to_vec()),
    ];
    let res = upload(
        &app,
        ws.admin(),
        &ws.path("/config-versions"),
        Some("APPROVAL_MATRIX"),
        &files,
    )
    .await;
    res.assert_status(201);
    assert_eq!(res.body["validation_status"], "INVALID");
    assert_eq!(res.body["status"], "DRAFT");
    assert_eq!(res.body["row_count"], 0, "nothing half-imported");
    let got: Vec<(String, i64, String)> = res.body["validation_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["file"].as_str().unwrap().into(),
                i["row"].as_i64().unwrap(),
                i["column"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("policies".into(), 3, "scope_code".into()), // unknown scope
            ("stages".into(), 3, "role_code".into()),    // unknown role
            ("stages".into(), 4, "sla_hours".into()),    // bad SLA
            ("stages".into(), 5, "policy_code".into()),  // unknown policy
            ("stages".into(), 0, "stage_number".into()), // P1 misses stage 2
            ("stages".into(), 0, "policy_code".into()),  // P2 has no stages
        ],
        "{}",
        res.text
    );
    let id = res.body["id"].as_str().unwrap();
    let masters: i64 = app
        .scalar(
            "SELECT count(*) FROM approval_policy_master WHERE config_version_id = $1::uuid",
            id.to_string(),
        )
        .await;
    assert_eq!(masters, 0);
    call(
        &app,
        Method::POST,
        ws.admin(),
        &ws.path(&format!("/config-versions/{id}/activate")),
        None,
    )
    .await
    .assert_problem(409, "VERSION_INVALID");
    // the report stays readable
    let got = call(
        &app,
        Method::GET,
        ws.admin(),
        &ws.path(&format!("/config-versions/{id}")),
        None,
    )
    .await;
    assert_eq!(got.body["validation_errors"].as_array().unwrap().len(), 6);
    // the database refuses the activation of an INVALID version too
    let e = sqlx::query("UPDATE config_versions SET status = 'ACTIVE' WHERE id = $1::uuid")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("chk_config_versions_activation_valid")
            || e.to_string().contains("ux_config_versions"),
        "{e}"
    );

    // not multipart at all: problem+json, not axum's plain text
    call(
        &app,
        Method::POST,
        ws.admin(),
        &ws.path("/config-versions"),
        Some(&json!({"source_type": "SCOPE_CONFIG"})),
    )
    .await
    .assert_problem(415, "UNSUPPORTED_MEDIA_TYPE");
    // missing source type / unknown type / missing file
    upload(&app, ws.admin(), &ws.path("/config-versions"), None, &files)
        .await
        .assert_fields(422, "VALIDATION_FAILED", &["source_type"]);
    upload(
        &app,
        ws.admin(),
        &ws.path("/config-versions"),
        Some("MATRIX"),
        &files,
    )
    .await
    .assert_fields(422, "VALIDATION_FAILED", &["source_type"]);
    let only = upload(
        &app,
        ws.admin(),
        &ws.path("/config-versions"),
        Some("CLUSTER_MAPPING"),
        &files[..1],
    )
    .await;
    assert_eq!(only.body["validation_status"], "INVALID");
    let files_named: Vec<&str> = only.body["validation_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files_named,
        vec!["policies", "clusters", "cluster_approvers"]
    );
}

#[sqlx::test(migrations = false)]
async fn concurrent_imports_get_distinct_numbers_and_concurrent_activations_one_winner(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool).await;
    let ws = workspace(&app, "XL-RACE", true).await;
    let path = ws.path("/config-versions");
    // six imports at once, each different (a distinct description row in scopes)
    let uploads = (0..6).map(|i| {
        let mut f = example_files(SourceType::ScopeConfig);
        for (n, b) in f.iter_mut() {
            if n == "scopes" {
                b.extend_from_slice(format!("X{i},Extra {i},RAN,RAN_MW,\n").as_bytes());
            }
        }
        f
    });
    let futs = uploads.map(|f| {
        let app = &app;
        let path = path.clone();
        let token = ws.admin().to_string();
        async move { upload(app, &token, &path, Some("SCOPE_CONFIG"), &f).await }
    });
    let results = futures::future::join_all(futs).await;
    let mut numbers: Vec<i64> = results
        .iter()
        .map(|r| {
            r.assert_status(201);
            r.body["version_number"].as_i64().unwrap()
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, vec![1, 2, 3, 4, 5, 6]);
    let ids: Vec<String> = results
        .iter()
        .map(|r| r.body["id"].as_str().unwrap().to_string())
        .collect();

    // the first activation alone; then two at once, twice. Without help the two requests may not overlap at all
    // (the second starts after the first committed: it then supersedes it, both 200, as two activations one
    // after the other should), so the test makes them overlap: it holds the ACTIVE version's row until both
    // activations wait on it (their supersede step updates that row), then lets go. The one that gets the row
    // supersedes it and commits; the other finds it already superseded, and its own UPDATE to ACTIVE meets the
    // winner's in ux_config_versions_one_active_per_workspace: 409 CONCURRENT_ACTIVATION, never two ACTIVE.
    let first = ws.path(&format!("/config-versions/{}/activate", ids[0]));
    call(&app, Method::POST, ws.admin(), &first, None)
        .await
        .assert_status(200);
    for (a, b) in [(1, 2), (3, 4)] {
        let current: String = app
            .scalar(
                "SELECT id::text FROM config_versions WHERE status = 'ACTIVE' AND workspace_id = $1::uuid",
                ws.id.clone(),
            )
            .await;
        let mut blocker = app.pool.begin().await.unwrap();
        sqlx::query("SELECT 1 FROM config_versions WHERE id = $1::uuid FOR UPDATE")
            .bind(&current)
            .execute(&mut *blocker)
            .await
            .unwrap();
        let release = async {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            loop {
                let waiting: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                )
                .fetch_one(&app.pool)
                .await
                .unwrap();
                if waiting >= 2 {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the two activations never both waited on the ACTIVE version's row"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            blocker.commit().await.unwrap();
        };
        let pa = ws.path(&format!("/config-versions/{}/activate", ids[a]));
        let pb = ws.path(&format!("/config-versions/{}/activate", ids[b]));
        let (ra, rb, ()) = tokio::join!(
            call(&app, Method::POST, ws.admin(), &pa, None),
            call(&app, Method::POST, ws.admin(), &pb, None),
            release
        );
        let mut statuses = vec![ra.status, rb.status];
        statuses.sort();
        assert_eq!(statuses, vec![200, 409], "{} / {}", ra.text, rb.text);
        let (winner, loser) = if ra.status == 409 {
            (&rb, &ra)
        } else {
            (&ra, &rb)
        };
        assert_eq!(
            loser.body["code"], "CONCURRENT_ACTIVATION",
            "{}",
            loser.text
        );
        assert_eq!(
            winner.body["previous_version_id"],
            current.as_str(),
            "{}",
            winner.text
        );
        let active: i64 = app
            .scalar("SELECT count(*) FROM config_versions WHERE status = 'ACTIVE' AND workspace_id = $1::uuid", ws.id.clone())
            .await;
        assert_eq!(active, 1);
    }
}

#[sqlx::test(migrations = false)]
async fn an_active_version_cannot_be_edited_or_deleted(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let ws = workspace(&app, "XL-FROZEN", true).await;
    let id = import_and_activate(&app, &ws, SourceType::ScopeConfig).await;
    let p = ws.path(&format!("/config-versions/{id}"));
    call(&app, Method::DELETE, ws.admin(), &p, None)
        .await
        .assert_problem(409, "VERSION_FROZEN");
    call(
        &app,
        Method::PATCH,
        ws.admin(),
        &p,
        Some(&json!({"description": "changed"})),
    )
    .await
    .assert_problem(409, "VERSION_FROZEN");
    call(
        &app,
        Method::POST,
        ws.admin(),
        &format!("{p}/archive"),
        None,
    )
    .await
    .assert_problem(409, "INVALID_STATUS_TRANSITION");
    // the trigger is the backstop: even the owner connection cannot
    let e = sqlx::query("DELETE FROM config_versions WHERE id = $1::uuid")
        .bind(&id)
        .execute(&app.pool)
        .await
        .unwrap_err();
    assert_eq!(
        e.as_database_error().unwrap().code().as_deref(),
        Some("NH101")
    );
    let e = sqlx::query("UPDATE config_versions SET description = 'x' WHERE id = $1::uuid")
        .bind(&id)
        .execute(&app.pool)
        .await
        .unwrap_err();
    assert_eq!(
        e.as_database_error().unwrap().code().as_deref(),
        Some("NH102")
    );
    let e = sqlx::query(
        "UPDATE atp_scope_master SET scope_name = 'x' WHERE config_version_id = $1::uuid",
    )
    .bind(&id)
    .execute(&app.pool)
    .await
    .unwrap_err();
    assert_eq!(
        e.as_database_error().unwrap().code().as_deref(),
        Some("NH104")
    );

    // a DRAFT can be edited and deleted, masters and all
    let mut f = example_files(SourceType::ScopeConfig);
    f[0].1.extend_from_slice(b"\n");
    let d = upload(
        &app,
        ws.admin(),
        &ws.path("/config-versions"),
        Some("SCOPE_CONFIG"),
        &f,
    )
    .await;
    d.assert_status(201);
    let did = d.body["id"].as_str().unwrap();
    let dp = ws.path(&format!("/config-versions/{did}"));
    let patched = call(
        &app,
        Method::PATCH,
        ws.admin(),
        &dp,
        Some(&json!({"description": "second try"})),
    )
    .await;
    patched.assert_status(200);
    assert_eq!(patched.body["description"], "second try");
    call(&app, Method::DELETE, ws.admin(), &dp, None)
        .await
        .assert_status(204);
    call(&app, Method::GET, ws.admin(), &dp, None)
        .await
        .assert_problem(404, "NOT_FOUND");
    let left: i64 = app
        .scalar(
            "SELECT count(*) FROM atp_scope_master WHERE config_version_id = $1::uuid",
            did.to_string(),
        )
        .await;
    assert_eq!(left, 0);
}

#[sqlx::test(migrations = false)]
async fn the_demo_loader_builds_the_example_workspace_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let loaded = neurohub_atp::demo::seed_if_empty(&app.pool)
        .await
        .unwrap()
        .expect("loaded");
    assert!(
        loaded.summary.contains("XLSMART-AVIAT"),
        "{}",
        loaded.summary
    );
    assert!(
        !loaded.summary.contains(&loaded.password),
        "the summary is printed; the password is not"
    );
    assert!(
        neurohub_atp::demo::seed_if_empty(&app.pool)
            .await
            .unwrap()
            .is_none(),
        "second run loads nothing"
    );
    // a demo user signs in with the handed-over password and reads the active approval chains
    let password = loaded.password.as_str();
    let login = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": "atp.viewer", "password": password})),
            &[],
        )
        .await;
    login.assert_status(200);
    let token = login.body["access_token"].as_str().unwrap().to_string();
    let stages = call(
        &app,
        Method::GET,
        &token,
        "/api/v1/workspaces/XLSMART-AVIAT/masters/stages",
        None,
    )
    .await;
    stages.assert_status(200);
    let chain: Vec<(String, i64)> = stages.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["data"]["policy_code"] == "RAN_MW_STD")
        .map(|s| {
            (
                s["data"]["role_code"].as_str().unwrap().to_string(),
                s["data"]["sla_hours"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        chain,
        vec![
            ("QA_PRE".into(), 24),
            ("FOP_RTS".into(), 48),
            ("REGION_TEAM".into(), 48),
            ("RTH".into(), 24)
        ]
    );
    let sites = call(
        &app,
        Method::GET,
        &token,
        "/api/v1/workspaces/XLSMART-AVIAT/sites",
        None,
    )
    .await;
    assert_eq!(sites.body["items"].as_array().unwrap().len(), 6);
    let versions = call(
        &app,
        Method::GET,
        &token,
        "/api/v1/workspaces/XLSMART-AVIAT/config-versions?status=ACTIVE",
        None,
    )
    .await;
    assert_eq!(versions.body["items"].as_array().unwrap().len(), 3);
    // the demo submission went through QA with the engine and waits at an overdue stage: the first sweep
    // breaches and escalates it, and the SLA report shows it
    let swept = neurohub_atp::flow::sla::sweep(&app.pool, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(swept.breached_stages, 1, "{swept:?}");
    let login = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": "atp.admin", "password": password})),
            &[],
        )
        .await;
    login.assert_status(200);
    let admin = login.body["access_token"].as_str().unwrap().to_string();
    let report = call(
        &app,
        Method::GET,
        &admin,
        "/api/v1/workspaces/XLSMART-AVIAT/sla/report",
        None,
    )
    .await;
    report.assert_status(200);
    let total = report.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["dimension"] == "total")
        .unwrap()
        .clone();
    assert_eq!(
        (
            total["open"].as_i64(),
            total["overdue"].as_i64(),
            total["escalated"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{}",
        report.text
    );
}
