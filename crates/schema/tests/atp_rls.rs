//! Row-level security of the ATP tables, exercised as the request role `neurohub_app` with the request context a
//! transaction sets (`app.current_user_id`, `app.workspace_id`): a member sees exactly its workspace's rows in
//! EVERY workspace-scoped table (enumerated from the catalog), nobody sees anything without a workspace or
//! without membership, writes cannot leave the context's workspace, global ADMIN manages workspaces and their
//! membership, and the design also holds when the owner of the tables is not a superuser.
mod atp_common;
mod common;

use atp_common::{as_app, atp_head, fails_in, id, user_id, workspace_scoped_tables, ws};
use sqlx::{PgPool, Postgres, Transaction};

async fn count(tx: &mut Transaction<'static, Postgres>, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&mut **tx)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Rows per workspace of every workspace-scoped table, counted as the superuser (RLS does not apply).
async fn rows_per_workspace(pool: &PgPool) -> Vec<(String, i64, i64)> {
    let mut out = Vec::new();
    for t in workspace_scoped_tables(pool).await {
        let (a, b): (i64, i64) = sqlx::query_as(&format!(
            "SELECT count(*) FILTER (WHERE workspace_id = $1::uuid), count(*) FILTER (WHERE workspace_id = $2::uuid)
               FROM {t}"
        ))
        .bind(ws('a'))
        .bind(ws('b'))
        .fetch_one(pool)
        .await
        .unwrap();
        assert!(
            a > 0 && b > 0,
            "the fixture has rows of both workspaces in {t}"
        );
        out.push((t, a, b));
    }
    assert!(out.len() >= 19, "{out:?}");
    out
}

#[sqlx::test(migrations = false)]
async fn neurohub_app_is_neither_superuser_nor_bypassrls(pool: PgPool) {
    common::up_to(&pool, None).await;
    let (sup, bypass): (bool, bool) = sqlx::query_as(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'neurohub_app'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(!sup && !bypass);
}

#[sqlx::test(migrations = false)]
async fn a_member_sees_exactly_its_workspaces_rows_in_every_table(pool: PgPool) {
    atp_head(&pool).await;
    let expected = rows_per_workspace(&pool).await;
    let member = user_id(&pool, "atp_a_qa").await;
    let mut tx = as_app(&pool, Some(member), &ws('a')).await;
    for (t, a, _) in &expected {
        assert_eq!(
            count(&mut tx, &format!("SELECT count(*) FROM {t}")).await,
            *a,
            "{t}"
        );
        let b_rows = count(
            &mut tx,
            &format!(
                "SELECT count(*) FROM {t} WHERE workspace_id = '{}'",
                ws('b')
            ),
        )
        .await;
        assert_eq!(b_rows, 0, "{t} leaks B's rows");
    }
    // workspaces: a member lists its own
    let listed: Vec<String> = sqlx::query_scalar("SELECT code::text FROM workspaces ORDER BY 1")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(listed, vec!["XLSMART-AVIAT".to_string()]);
    tx.rollback().await.unwrap();
}

#[sqlx::test(migrations = false)]
async fn without_a_workspace_or_without_membership_nothing_is_visible(pool: PgPool) {
    atp_head(&pool).await;
    let tables = rows_per_workspace(&pool).await;
    let a_member = user_id(&pool, "atp_a").await;
    let admin = user_id(&pool, "atp_admin").await;
    for (label, user, workspace) in [
        ("no workspace context", Some(a_member), String::new()),
        (
            "a malformed workspace context",
            Some(a_member),
            "not-a-uuid".to_string(),
        ),
        ("B's workspace, A's member", Some(a_member), ws('b')),
        ("A's workspace, no user", None, ws('a')),
        (
            "A's workspace, global ADMIN who is no member",
            Some(admin),
            ws('a'),
        ),
    ] {
        let mut tx = as_app(&pool, user, &workspace).await;
        for (t, _, _) in &tables {
            // workspace_members is the one table a global ADMIN reads (to manage membership)
            if t == "workspace_members" && user == Some(admin) {
                continue;
            }
            assert_eq!(
                count(&mut tx, &format!("SELECT count(*) FROM {t}")).await,
                0,
                "{label}: {t}"
            );
        }
        tx.rollback().await.unwrap();
    }
    // an inactive member, or an inactive user, sees nothing either
    for deactivate in [
        format!("UPDATE workspace_members SET is_active = false WHERE user_id = {a_member}"),
        format!("UPDATE users SET is_active = false WHERE id = {a_member}"),
    ] {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(&deactivate).execute(&mut *tx).await.unwrap();
        sqlx::query("SET LOCAL ROLE neurohub_app")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("SELECT set_config('app.current_user_id', $1, true), set_config('app.workspace_id', $2, true)")
            .bind(a_member.to_string())
            .bind(ws('a'))
            .execute(&mut *tx)
            .await
            .unwrap();
        for (t, _, _) in &tables {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {t}"))
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            assert_eq!(n, 0, "{deactivate}: {t}");
        }
        tx.rollback().await.unwrap();
    }
}

#[sqlx::test(migrations = false)]
async fn writes_cannot_leave_the_context_workspace(pool: PgPool) {
    atp_head(&pool).await;
    let a_admin = user_id(&pool, "atp_a").await;
    let mut tx = as_app(&pool, Some(a_admin), &ws('a')).await;
    let (b, a) = (ws('b'), ws('a'));
    for sql in [
        format!("INSERT INTO sites (workspace_id, site_id, site_name) VALUES ('{b}', 'JKT-X', 'x')"),
        format!(
            "INSERT INTO config_versions (workspace_id, source_type, version_number, checksum)
             VALUES ('{b}', 'SCOPE_CONFIG', 1, repeat('c', 64))"
        ),
        format!("UPDATE sites SET workspace_id = '{b}' WHERE id = '{}'", id('a', 9)),
        format!("INSERT INTO workspace_members (workspace_id, user_id, member_role) VALUES ('{b}', {a_admin}, 'VIEWER')"),
    ] {
        let (code, _, msg) = fails_in(&mut tx, &sql).await;
        assert_eq!(code, "42501", "{sql}: {msg}");
        assert!(msg.starts_with("new row violates row-level security policy"), "{msg}");
    }
    // B's rows are invisible to UPDATE / DELETE: nothing is touched
    for sql in [
        format!("UPDATE sites SET site_name = 'hijacked' WHERE workspace_id = '{b}'"),
        format!("DELETE FROM approver_absences WHERE workspace_id = '{b}'"),
    ] {
        let n = sqlx::query(&sql)
            .execute(&mut *tx)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(n, 0, "{sql}");
    }
    // inside A, the member writes normally
    let n = sqlx::query(&format!(
        "UPDATE sites SET site_name = 'Renamed' WHERE workspace_id = '{a}'"
    ))
    .execute(&mut *tx)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(n, 1);
    // append-only history: the request role may not even try to change it
    let (code, _, _) = fails_in(&mut tx, "UPDATE workflow_stage_actions SET comment = 'x'").await;
    assert_eq!(code, "42501");
    tx.commit().await.unwrap();
    let untouched: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sites WHERE site_name = 'hijacked'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(untouched, 0);
}

#[sqlx::test(migrations = false)]
async fn global_admin_manages_workspaces_and_their_first_member(pool: PgPool) {
    atp_head(&pool).await;
    let admin = user_id(&pool, "atp_admin").await;
    let a_admin = user_id(&pool, "atp_a").await;
    let a_qa = user_id(&pool, "atp_a_qa").await;
    let c = "cccccccc-0000-4000-8000-000000000000";
    // a non-admin cannot create a workspace
    let mut tx = as_app(&pool, Some(a_admin), "").await;
    let (code, _, _) = fails_in(
        &mut tx,
        &format!("INSERT INTO workspaces (id, code, name) VALUES ('{c}', 'NEW-WS', 'New')"),
    )
    .await;
    assert_eq!(code, "42501");
    tx.rollback().await.unwrap();
    // global ADMIN: sees every workspace, creates one and its first WORKSPACE_ADMIN
    let mut tx = as_app(&pool, Some(admin), c).await;
    assert_eq!(count(&mut tx, "SELECT count(*) FROM workspaces").await, 2);
    sqlx::raw_sql(&format!(
        "INSERT INTO workspaces (id, code, name) VALUES ('{c}', 'NEW-WS', 'New');
         INSERT INTO workspace_members (workspace_id, user_id, member_role) VALUES ('{c}', {a_qa}, 'WORKSPACE_ADMIN');"
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    assert_eq!(count(&mut tx, "SELECT count(*) FROM workspaces").await, 3);
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM workspace_members").await,
        1
    );
    // ... but reads no workspace data without being a member
    assert_eq!(count(&mut tx, "SELECT count(*) FROM sites").await, 0);
    tx.commit().await.unwrap();
    // the new WORKSPACE_ADMIN manages its workspace's membership; an APPROVER of A cannot manage A's
    let mut tx = as_app(&pool, Some(a_qa), c).await;
    sqlx::query(&format!(
        "INSERT INTO workspace_members (workspace_id, user_id, member_role) VALUES ('{c}', {a_admin}, 'VIEWER')"
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM workspaces").await,
        2,
        "A and the new one"
    );
    tx.rollback().await.unwrap();
    let mut tx = as_app(&pool, Some(a_qa), &ws('a')).await;
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM workspace_members").await,
        2,
        "members read their workspace's membership"
    );
    let (code, _, _) = fails_in(
        &mut tx,
        &format!("INSERT INTO workspace_members (workspace_id, user_id, member_role) VALUES ('{}', {admin}, 'VIEWER')", ws('a')),
    )
    .await;
    assert_eq!(code, "42501");
    let n = sqlx::query("UPDATE workspace_members SET member_role = 'WORKSPACE_ADMIN'")
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(n, 0, "an APPROVER cannot promote itself");
    tx.rollback().await.unwrap();
}

#[sqlx::test(migrations = false)]
async fn policies_evaluate_the_context_once_per_statement(pool: PgPool) {
    atp_head(&pool).await;
    let member = user_id(&pool, "atp_a").await;
    let mut tx = as_app(&pool, Some(member), &ws('a')).await;
    let plan: Vec<String> = sqlx::query_scalar("EXPLAIN (COSTS OFF) SELECT * FROM workflow_stages")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    let plan = plan.join("\n");
    // the helpers are InitPlans (computed once), never a per-row SubPlan, and workspace_id is an index condition
    assert!(plan.contains("InitPlan"), "{plan}");
    assert!(!plan.contains("SubPlan"), "{plan}");
    tx.rollback().await.unwrap();
}

/// With a non-superuser owner, FORCE ROW LEVEL SECURITY subjects the owner (and so the SECURITY DEFINER helpers)
/// to the policies: p_workspace_members_definer admits the helpers' own-membership read, without recursion.
/// Simulated by handing workspace_members and the helpers to a fresh NOSUPERUSER role, inside a transaction
/// that is rolled back (roles are transactional).
#[sqlx::test(migrations = false)]
async fn the_policies_hold_when_the_owner_is_not_a_superuser(pool: PgPool) {
    atp_head(&pool).await;
    let expected = rows_per_workspace(&pool).await;
    let member = user_id(&pool, "atp_a_qa").await;
    let owner = format!("atp_owner_{}", std::process::id());
    let mut tx = pool.begin().await.unwrap();
    sqlx::raw_sql(&format!(
        "CREATE ROLE {owner} NOLOGIN NOSUPERUSER NOBYPASSRLS;
         GRANT USAGE ON SCHEMA public TO {owner};
         GRANT SELECT ON users, config_versions TO {owner};
         ALTER TABLE workspace_members OWNER TO {owner};
         ALTER FUNCTION app_workspace_role(uuid) OWNER TO {owner};
         ALTER FUNCTION app_member_workspace_ids() OWNER TO {owner};
         ALTER FUNCTION app_is_global_admin() OWNER TO {owner};
         ALTER POLICY p_workspace_members_definer ON workspace_members TO {owner};"
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    let (sup, bypass): (bool, bool) = sqlx::query_as(&format!(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = '{owner}'"
    ))
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert!(!sup && !bypass);
    sqlx::query("SET LOCAL ROLE neurohub_app")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SELECT set_config('app.current_user_id', $1, true), set_config('app.workspace_id', $2, true)")
        .bind(member.to_string())
        .bind(ws('a'))
        .execute(&mut *tx)
        .await
        .unwrap();
    for (t, a, _) in &expected {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {t}"))
            .fetch_one(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(n, *a, "{t}");
    }
    let listed: i64 = sqlx::query_scalar("SELECT count(*) FROM workspaces")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(listed, 1);
    // the owner itself reads only the calling user's own membership rows
    sqlx::query(&format!("SET LOCAL ROLE {owner}"))
        .execute(&mut *tx)
        .await
        .unwrap();
    let own: i64 = sqlx::query_scalar("SELECT count(*) FROM workspace_members")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(own, 1);
    tx.rollback().await.unwrap();
}
