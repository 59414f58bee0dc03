//! Behaviour of the ATP schema (0006): every CHECK rejects its bad case, the config lifecycle and its guards
//! (NH101-NH106), freeze-by-reference, cross-workspace references refused, cascades / SET NULL, updated_at and
//! the audit trail of UUID-keyed rows, and the up -> down -> up round trip that keeps every row.
mod atp_common;
mod common;

use atp_common::{atp_head, id, user_id, ws};
use common::{down_to, fails_with, succeeds, table_fingerprint, up_to};
use sqlx::PgPool;

/// record_id, user_id, client_ip, request_id, changed_fields, workspace of the row, updated_at moved.
type AuditRow = (
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Vec<String>,
    String,
    bool,
);

/// (constraint, statement that violates only it). Statements run as the superuser on the fixture, each in its
/// own rolled-back transaction. Masters are written into A's DRAFT version (21): the ACTIVE one's are frozen.
fn check_cases() -> Vec<(&'static str, String)> {
    let a = |n| id('a', n);
    let w = ws('a');
    let draft = a(21);
    // status CHECKs stand behind the lifecycle guard (which answers NH103 first): reach them with the guard off,
    // as a restore (which runs before the guard exists) would
    let cv = |cols: &str, vals: &str| {
        format!(
            "ALTER TABLE config_versions DISABLE TRIGGER trg_config_versions_guard;
             INSERT INTO config_versions (workspace_id, source_type, version_number, checksum{cols})
             VALUES ('{w}', 'SCOPE_CONFIG', 1, repeat('c', 64){vals})"
        )
    };
    let stage = |cols: &str, vals: &str| {
        format!(
            "INSERT INTO approval_policy_stages (workspace_id, config_version_id, policy_id, stage_number, stage_name,
                 sequence_order, role_id, sla_hours{cols})
             VALUES ('{w}', '{draft}', gen_random_uuid(), 1, 's', 1, gen_random_uuid(), 8{vals})"
        )
    };
    let action = |cols: &str, vals: &str| {
        format!(
            "INSERT INTO workflow_stage_actions (workspace_id, workflow_instance_id, workflow_stage_id{cols})
             VALUES ('{w}', '{}', '{}'{vals})",
            a(10),
            a(11)
        )
    };
    let upd = |t: &str, set: &str, n| {
        format!(
            "UPDATE {t} SET {set} WHERE workspace_id = '{w}' AND id = '{}'",
            a(n)
        )
    };
    vec![
        ("chk_workspaces_code", format!("UPDATE workspaces SET code = 'lower case' WHERE id = '{w}'")),
        ("chk_workspace_members_member_role", upd("workspace_members", "member_role = 'OWNER'", 19)),
        ("chk_sites_ne_latitude", upd("sites", "ne_latitude = 90.5", 9)),
        ("chk_sites_ne_longitude", upd("sites", "ne_longitude = 180.5", 9)),
        ("chk_sites_fe_latitude", upd("sites", "fe_latitude = -90.5", 9)),
        ("chk_sites_fe_longitude", upd("sites", "fe_longitude = -181", 9)),
        ("chk_sites_status", upd("sites", "status = 'DONE'", 9)),
        ("chk_config_versions_source_type", upd("config_versions", "source_type = 'EXCEL'", 21)),
        ("chk_config_versions_status", cv(", status, validation_status", ", 'LIVE', 'VALID'")),
        ("chk_config_versions_validation_status", cv(", validation_status", ", 'OK'")),
        ("chk_config_versions_version_number", upd("config_versions", "version_number = 0", 21)),
        ("chk_config_versions_checksum", upd("config_versions", "checksum = repeat('A', 64)", 21)),
        ("chk_config_versions_activation_valid", cv(", status", ", 'ACTIVE'")),
        ("chk_config_versions_superseded_by", cv(", status, validation_status", ", 'SUPERSEDED', 'VALID'")),
        (
            "chk_config_versions_not_self",
            upd("config_versions", &format!("previous_version_id = '{draft}'"), 21),
        ),
        (
            "chk_atp_scope_master_scope_group",
            format!("INSERT INTO atp_scope_master (workspace_id, config_version_id, scope_code, scope_name, scope_group,
                     atp_category) VALUES ('{w}', '{draft}', 'X', 'x', 'FIBER', 'RAN_MW')"),
        ),
        (
            "chk_atp_scope_master_atp_category",
            format!("INSERT INTO atp_scope_master (workspace_id, config_version_id, scope_code, scope_name, scope_group,
                     atp_category) VALUES ('{w}', '{draft}', 'X', 'x', 'RAN', 'FIBER_ATP')"),
        ),
        (
            "chk_vendor_master_vendor_type",
            format!("INSERT INTO vendor_master (workspace_id, config_version_id, vendor_code, vendor_name, vendor_type)
                     VALUES ('{w}', '{draft}', 'X', 'x', 'FRIEND')"),
        ),
        (
            "chk_approval_role_master_stage_group",
            format!("INSERT INTO approval_role_master (workspace_id, config_version_id, role_code, role_name,
                     stage_group, hierarchy_order) VALUES ('{w}', '{draft}', 'X', 'x', 'qa group', 1)"),
        ),
        (
            "chk_approval_role_master_hierarchy_order",
            format!("INSERT INTO approval_role_master (workspace_id, config_version_id, role_code, role_name,
                     stage_group, hierarchy_order) VALUES ('{w}', '{draft}', 'X', 'x', 'QA', 0)"),
        ),
        (
            "chk_approval_policy_master_atp_category",
            format!("INSERT INTO approval_policy_master (workspace_id, config_version_id, policy_code, policy_name,
                     atp_category) VALUES ('{w}', '{draft}', 'X', 'x', 'ANY')"),
        ),
        ("chk_approval_policy_stages_stage_number", stage("", "").replacen(", 1, 's'", ", 0, 's'", 1)),
        ("chk_approval_policy_stages_sequence_order", stage("", "").replacen("'s', 1,", "'s', 0,", 1)),
        ("chk_approval_policy_stages_parallel_group", stage(", parallel_group", ", 0")),
        ("chk_approval_policy_stages_sla_hours", stage("", "").replace(", 8)", ", 0)")),
        ("chk_approval_policy_stages_assignment_mode", stage(", assignment_mode", ", 'MANUAL'")),
        ("chk_approval_policy_stages_assignment_source", stage(", assignment_mode", ", 'STATIC_USER'")),
        (
            "chk_cluster_master_m_sequence",
            format!("INSERT INTO cluster_master (workspace_id, config_version_id, cluster_code, region, m_sequence)
                     VALUES ('{w}', '{draft}', 'X', 'R', 0)"),
        ),
        (
            "chk_cluster_approver_master_effective_window",
            format!("INSERT INTO cluster_approver_master (workspace_id, config_version_id, cluster_id, role_id,
                     primary_user_id, effective_from, effective_to)
                     VALUES ('{w}', '{draft}', gen_random_uuid(), gen_random_uuid(), 1, DATE '2026-02-01', DATE '2026-01-01')"),
        ),
        (
            "chk_cluster_approver_master_backup_differs",
            format!("INSERT INTO cluster_approver_master (workspace_id, config_version_id, cluster_id, role_id,
                     primary_user_id, backup_user_id) VALUES ('{w}', '{draft}', gen_random_uuid(), gen_random_uuid(), 1, 1)"),
        ),
        ("chk_workflow_instances_status", upd("workflow_instances", "status = 'DONE'", 10)),
        ("chk_workflow_instances_atp_category", upd("workflow_instances", "atp_category = 'ANY'", 10)),
        ("chk_workflow_instances_current_stage_number", upd("workflow_instances", "current_stage_number = 0", 10)),
        ("chk_workflow_instances_routing_snapshot", upd("workflow_instances", "routing_snapshot = '[]'", 10)),
        ("chk_workflow_instances_completion", upd("workflow_instances", "status = 'COMPLETED'", 10)),
        ("chk_workflow_stages_status", upd("workflow_stages", "status = 'WAITING'", 11)),
        ("chk_workflow_stages_stage_number", upd("workflow_stages", "stage_number = 0", 11)),
        ("chk_workflow_stages_sequence_order", upd("workflow_stages", "sequence_order = 0", 11)),
        ("chk_workflow_stages_parallel_group", upd("workflow_stages", "parallel_group = 0", 11)),
        ("chk_workflow_stages_sla_hours", upd("workflow_stages", "sla_hours = 0", 11)),
        (
            "chk_workflow_stages_decision",
            upd("workflow_stages", "status = 'APPROVED', decision = 'MAYBE', decided_by = assigned_approver_id, decided_at = now()", 11),
        ),
        ("chk_workflow_stages_decided", upd("workflow_stages", "status = 'APPROVED'", 11)),
        ("chk_workflow_stages_active_assigned", upd("workflow_stages", "assigned_approver_id = NULL", 11)),
        ("chk_atp_submissions_status", upd("atp_submissions", "status = 'OPEN'", 14)),
        ("chk_atp_submissions_atp_category", upd("atp_submissions", "atp_category = 'ANY'", 14)),
        ("chk_atp_submissions_revision_number", upd("atp_submissions", "revision_number = 0", 14)),
        ("chk_atp_submissions_payload", upd("atp_submissions", "payload = '[]'", 14)),
        ("chk_atp_submissions_submitted", upd("atp_submissions", "submitted_at = NULL", 14)),
        ("chk_atp_submissions_workflow", upd("atp_submissions", "workflow_instance_id = NULL", 14)),
        ("chk_atp_submissions_previous_not_self", upd("atp_submissions", "previous_submission_id = id", 14)),
        ("chk_atp_submission_documents_document_type", upd("atp_submission_documents", "document_type = 'VIDEO'", 15)),
        (
            "chk_atp_submission_documents_size_bytes",
            upd("atp_submission_documents", "content = NULL, storage_path = 's3://atp/1', size_bytes = -1", 15),
        ),
        ("chk_atp_submission_documents_sha256", upd("atp_submission_documents", "sha256 = repeat('z', 64)", 15)),
        ("chk_atp_submission_documents_media_type", upd("atp_submission_documents", "media_type = 'PDF'", 15)),
        ("chk_atp_submission_documents_storage", upd("atp_submission_documents", "storage_path = 's3://atp/1'", 15)),
        ("chk_punchlists_status", upd("punchlists", "status = 'DONE'", 16)),
        ("chk_punchlists_closed", upd("punchlists", "closed_at = now()", 16)),
        ("chk_punchlist_items_severity", upd("punchlist_items", "severity = 'LOW'", 17)),
        ("chk_punchlist_items_status", upd("punchlist_items", "status = 'FIXED'", 17)),
        ("chk_punchlist_items_closed_evidence", upd("punchlist_items", "evidence_document_id = NULL", 17)),
        ("chk_punchlist_items_rejection_reason", upd("punchlist_items", "status = 'REJECTED'", 17)),
        // 0009
        ("chk_punchlist_items_evidence_before", upd("punchlist_items", "evidence_before = created_at", 17)),
        ("chk_approver_overrides_override_type", upd("approver_overrides", "override_type = 'GLOBAL'", 12)),
        ("chk_approver_overrides_target", upd("approver_overrides", "override_type = 'SUBMISSION'", 12)),
        ("chk_approver_overrides_approval_status", upd("approver_overrides", "approval_status = 'MAYBE'", 12)),
        ("chk_approver_overrides_valid_window", upd("approver_overrides", "valid_to = valid_from", 12)),
        ("chk_approver_overrides_users_differ", upd("approver_overrides", "from_user_id = to_user_id", 12)),
        ("chk_approver_overrides_approved", upd("approver_overrides", "approval_status = 'APPROVED'", 12)),
        ("chk_approver_absences_window", upd("approver_absences", "ends_at = starts_at", 13)),
        ("chk_approver_absences_delegate_differs", upd("approver_absences", "delegate_user_id = user_id", 13)),
        ("chk_workflow_stage_actions_action", action(", action, actor_user_id", ", 'DANCE', 1")),
        ("chk_workflow_stage_actions_from_status", action(", action, from_status", ", 'ACTIVATE', 'X'")),
        ("chk_workflow_stage_actions_to_status", action(", action, to_status", ", 'ACTIVATE', 'X'")),
        ("chk_workflow_stage_actions_actor", action(", action", ", 'APPROVE'")),
        // 0008: the outbox row and the delivery the fixture's ACTIVATE action wrote through the trigger
        ("chk_notification_outbox_event_type", format!("UPDATE notification_outbox SET event_type = 'PING' WHERE workspace_id = '{w}'")),
        ("chk_notification_outbox_payload", format!("UPDATE notification_outbox SET payload = '[]' WHERE workspace_id = '{w}'")),
        ("chk_webhook_subscriptions_url", upd("webhook_subscriptions", "url = 'ftp://x'", 22)),
        ("chk_webhook_subscriptions_secret", upd("webhook_subscriptions", "secret = 'short'", 22)),
        ("chk_webhook_subscriptions_event_types", upd("webhook_subscriptions", "event_types = ARRAY['PING']", 22)),
        ("chk_webhook_subscriptions_deactivated", upd("webhook_subscriptions", "is_active = false", 22)),
        ("chk_webhook_deliveries_status", format!("UPDATE webhook_deliveries SET status = 'SENT', attempts = 1, last_attempt_at = now() WHERE workspace_id = '{w}'")),
        ("chk_webhook_deliveries_attempts", format!("UPDATE webhook_deliveries SET attempts = -1 WHERE workspace_id = '{w}'")),
        ("chk_webhook_deliveries_status_code", format!("UPDATE webhook_deliveries SET last_status_code = 42 WHERE workspace_id = '{w}'")),
        ("chk_webhook_deliveries_last_error", format!("UPDATE webhook_deliveries SET last_error = repeat('e', 2001) WHERE workspace_id = '{w}'")),
        ("chk_webhook_deliveries_delivered", format!("UPDATE webhook_deliveries SET status = 'DELIVERED' WHERE workspace_id = '{w}'")),
    ]
}

#[sqlx::test(migrations = false)]
async fn every_atp_check_rejects_its_bad_case(pool: PgPool) {
    atp_head(&pool).await;
    let cases = check_cases();
    // every CHECK of the ATP tables has a case here (a new CHECK without a test fails this test)
    let mut catalog: Vec<String> = sqlx::query_scalar(
        "SELECT k.conname::text FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
          WHERE k.contype = 'c' AND c.relnamespace = 'public'::regnamespace
            AND (c.relname = 'workspaces' OR EXISTS (SELECT 1 FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attname = 'workspace_id'))
          ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut tested: Vec<String> = cases.iter().map(|(n, _)| n.to_string()).collect();
    tested.sort();
    catalog.sort();
    assert_eq!(tested, catalog);
    for (name, sql) in &cases {
        let (code, constraint, msg) = fails_with(&pool, sql).await;
        assert_eq!(
            (code.as_str(), constraint.as_deref()),
            ("23514", Some(*name)),
            "{sql}: {msg}"
        );
    }
    // and the good cases the CHECKs must admit
    let w = ws('a');
    succeeds(&pool, &format!(
        "UPDATE sites SET ne_latitude = 90, ne_longitude = -180, fe_latitude = -90, fe_longitude = 180
          WHERE workspace_id = '{w}';
         UPDATE atp_submission_documents SET content = NULL, storage_path = 's3://atp/1' WHERE workspace_id = '{w}';
         UPDATE approver_overrides SET override_type = 'REGION', workflow_stage_id = NULL, region = 'JABOTABEK'
          WHERE workspace_id = '{w}';
         UPDATE workflow_stages SET status = 'APPROVED', decision = 'APPROVE_WITH_PUNCHLIST',
                decided_by = assigned_approver_id, decided_at = now() WHERE workspace_id = '{w}';"
    )).await;
}

#[sqlx::test(migrations = false)]
async fn one_active_config_per_workspace_and_source_type(pool: PgPool) {
    atp_head(&pool).await;
    let (code, constraint, _) = fails_with(
        &pool,
        &format!(
            "UPDATE config_versions SET status = 'ACTIVE' WHERE id = '{}'",
            id('a', 21)
        ),
    )
    .await;
    assert_eq!(
        (code.as_str(), constraint.as_deref()),
        ("23505", Some("ux_config_versions_one_active_per_workspace"))
    );
    // B has its own ACTIVE approval matrix (fixture), and A may have an ACTIVE config of another source type
    succeeds(
        &pool,
        &format!(
            "INSERT INTO config_versions (workspace_id, id, source_type, version_number, validation_status, checksum)
             VALUES ('{0}', '{1}', 'CLUSTER_MAPPING', 1, 'WARNINGS', repeat('d', 64));
             UPDATE config_versions SET status = 'ACTIVE' WHERE id = '{1}'",
            ws('a'),
            id('a', 32)
        ),
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn an_active_config_cannot_be_deleted_or_edited_only_superseded(pool: PgPool) {
    atp_head(&pool).await;
    let (active, draft) = (id('a', 1), id('a', 21));
    let (code, _, msg) = fails_with(
        &pool,
        &format!("DELETE FROM config_versions WHERE id = '{active}'"),
    )
    .await;
    assert_eq!(code, "NH101");
    assert_eq!(
        msg,
        format!("config version {active} (APPROVAL_MATRIX v1) is ACTIVE and cannot be deleted")
    );
    for set in [
        "checksum = repeat('e', 64)",
        "description = 'edited'",
        "superseded_at = now()",
        "is_rollback = true",
    ] {
        let (code, _, msg) = fails_with(
            &pool,
            &format!("UPDATE config_versions SET {set} WHERE id = '{active}'"),
        )
        .await;
        assert_eq!(code, "NH102", "{set}");
        assert_eq!(
            msg,
            format!("config version {active} is ACTIVE and immutable: only status ACTIVE -> SUPERSEDED (with superseded_by) is allowed")
        );
    }
    let (code, _, msg) = fails_with(
        &pool,
        &format!("UPDATE config_versions SET status = 'ARCHIVED' WHERE id = '{active}'"),
    )
    .await;
    assert_eq!(
        (code.as_str(), msg.as_str()),
        (
            "NH103",
            "config version status transition ACTIVE -> ARCHIVED is not allowed"
        )
    );
    // superseding needs the successor named (CHECK), and with it is allowed
    let (code, constraint, _) = fails_with(
        &pool,
        &format!("UPDATE config_versions SET status = 'SUPERSEDED' WHERE id = '{active}'"),
    )
    .await;
    assert_eq!(
        (code.as_str(), constraint.as_deref()),
        ("23514", Some("chk_config_versions_superseded_by"))
    );
    let supersede = |old: &str, new: &str| {
        format!(
            "UPDATE config_versions SET status = 'SUPERSEDED', superseded_by = '{new}', superseded_at = now()
              WHERE id = '{old}';
             UPDATE config_versions SET status = 'ACTIVE', activated_at = now() WHERE id = '{new}';"
        )
    };
    sqlx::raw_sql(&supersede(&active, &draft))
        .execute(&pool)
        .await
        .unwrap();
    // a superseded version keeps its content; only its lifecycle moves on
    let (code, _, _) = fails_with(
        &pool,
        &format!("UPDATE config_versions SET checksum = repeat('e', 64) WHERE id = '{active}'"),
    )
    .await;
    assert_eq!(code, "NH102");
    // back to ACTIVE only as a rollback
    let back = format!(
        "UPDATE config_versions SET status = 'SUPERSEDED', superseded_by = '{active}' WHERE id = '{draft}';
         UPDATE config_versions SET status = 'ACTIVE', superseded_by = NULL WHERE id = '{active}';"
    );
    let (code, _, msg) = fails_with(&pool, &back).await;
    assert_eq!(
        (code.as_str(), msg.as_str()),
        (
            "NH103",
            "config version status transition SUPERSEDED -> ACTIVE is not allowed"
        )
    );
    succeeds(
        &pool,
        &back.replace(
            "superseded_by = NULL",
            "superseded_by = NULL, is_rollback = true",
        ),
    )
    .await;
    // a version is born DRAFT
    let (code, _, msg) = fails_with(
        &pool,
        &format!(
            "INSERT INTO config_versions (workspace_id, source_type, version_number, status, validation_status, checksum)
             VALUES ('{}', 'SCOPE_CONFIG', 1, 'ACTIVE', 'VALID', repeat('f', 64))",
            ws('a')
        ),
    )
    .await;
    assert_eq!(
        (code.as_str(), msg.as_str()),
        ("NH103", "a config version starts as DRAFT, not ACTIVE")
    );
    // DRAFT -> SUPERSEDED skips a step; DRAFT -> ARCHIVED is fine; ARCHIVED is final
    let w = ws('a');
    let fresh = format!(
        "INSERT INTO config_versions (workspace_id, id, source_type, version_number, checksum)
         VALUES ('{w}', '{}', 'SCOPE_CONFIG', 1, repeat('f', 64));",
        id('a', 31)
    );
    let (code, _, _) = fails_with(
        &pool,
        &format!("{fresh} UPDATE config_versions SET status = 'SUPERSEDED', superseded_by = '{draft}' WHERE id = '{}'", id('a', 31)),
    )
    .await;
    assert_eq!(code, "NH103");
    let (code, _, msg) = fails_with(
        &pool,
        &format!(
            "{fresh} UPDATE config_versions SET status = 'ARCHIVED' WHERE id = '{0}';
             UPDATE config_versions SET status = 'DRAFT' WHERE id = '{0}'",
            id('a', 31)
        ),
    )
    .await;
    assert_eq!(
        (code.as_str(), msg.as_str()),
        (
            "NH103",
            "config version status transition ARCHIVED -> DRAFT is not allowed"
        )
    );
    // a DRAFT is freely editable and deletable
    succeeds(
        &pool,
        &format!(
            "{fresh} UPDATE config_versions SET checksum = repeat('0', 64) WHERE id = '{0}';
                               DELETE FROM config_versions WHERE id = '{0}'",
            id('a', 31)
        ),
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn a_version_a_workflow_froze_cannot_be_deleted_nor_swapped(pool: PgPool) {
    atp_head(&pool).await;
    let (w, active, draft, v3) = (ws('a'), id('a', 1), id('a', 21), id('a', 31));
    let inst = id('a', 41);
    // v3, an older version superseded by the ACTIVE one (imported history: inserted with the guard off, as a
    // restore would), has no masters: only the workflow instance references it
    sqlx::raw_sql(&format!(
        "ALTER TABLE config_versions DISABLE TRIGGER trg_config_versions_guard;
         INSERT INTO config_versions (workspace_id, id, source_type, version_number, status, validation_status,
                                     superseded_by, checksum)
         VALUES ('{w}', '{v3}', 'APPROVAL_MATRIX', 3, 'SUPERSEDED', 'VALID', '{active}', repeat('3', 64));
         INSERT INTO workflow_instances (workspace_id, id, config_version_id, site_id, scope_id, policy_id, atp_category)
         VALUES ('{w}', '{inst}', '{v3}', '{}', '{}', '{}', 'RAN_MW');
         ALTER TABLE config_versions ENABLE TRIGGER trg_config_versions_guard;",
        id('a', 9), id('a', 2), id('a', 5)
    ))
    .execute(&pool)
    .await
    .unwrap();
    let delete = format!("DELETE FROM config_versions WHERE id = '{v3}'");
    let (code, constraint, _) = fails_with(&pool, &delete).await;
    assert_eq!(
        (code.as_str(), constraint.as_deref()),
        ("23503", Some("fk_workflow_instances_config_version"))
    );
    // the instance cannot be moved to another version either
    let (code, _, msg) = fails_with(
        &pool,
        &format!("UPDATE workflow_instances SET config_version_id = '{draft}' WHERE id = '{inst}'"),
    )
    .await;
    assert_eq!(code, "NH106");
    assert_eq!(msg, format!("workflow instance {inst} is frozen on config version {v3}: config_version_id cannot change"));
    // it is the reference that protects it: without the instance, a superseded version may go
    succeeds(
        &pool,
        &format!("DELETE FROM workflow_instances WHERE id = '{inst}'; {delete}"),
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn masters_of_a_non_draft_version_are_frozen(pool: PgPool) {
    atp_head(&pool).await;
    let (w, active, draft) = (ws('a'), id('a', 1), id('a', 21));
    let vendor = |cv: &str| {
        format!(
            "INSERT INTO vendor_master (workspace_id, config_version_id, vendor_code, vendor_name)
                 VALUES ('{w}', '{cv}', 'NEW', 'New vendor')"
        )
    };
    for sql in [
        vendor(&active),
        format!("UPDATE vendor_master SET vendor_name = 'x' WHERE id = '{}'", id('a', 3)),
        format!("DELETE FROM cluster_approver_master WHERE id = '{}'", id('a', 8)),
        format!("UPDATE approval_policy_stages SET sla_hours = 48 WHERE id = '{}'", id('a', 6)),
        // moving a draft row into the frozen version is writing into it
        format!("{}; UPDATE vendor_master SET config_version_id = '{active}' WHERE vendor_code = 'NEW' AND config_version_id = '{draft}'", vendor(&draft)),
    ] {
        let (code, _, msg) = fails_with(&pool, &sql).await;
        assert_eq!(code, "NH104", "{sql}");
        assert!(msg.contains(&format!("of config version {active} are frozen: it is ACTIVE, not DRAFT")), "{msg}");
    }
    succeeds(
        &pool,
        &format!(
            "{}; UPDATE vendor_master SET vendor_name = 'Renamed' WHERE vendor_code = 'NEW';
                               DELETE FROM vendor_master WHERE vendor_code = 'NEW'",
            vendor(&draft)
        ),
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn stage_actions_are_append_only(pool: PgPool) {
    atp_head(&pool).await;
    for (sql, op) in [
        (
            "UPDATE workflow_stage_actions SET comment = 'rewritten'",
            "UPDATE",
        ),
        ("DELETE FROM workflow_stage_actions", "DELETE"),
        // CASCADE: 0008's outbox references the actions, so a plain TRUNCATE is refused by that FK already
        ("TRUNCATE workflow_stage_actions CASCADE", "TRUNCATE"),
    ] {
        let (code, _, msg) = fails_with(&pool, sql).await;
        assert_eq!(code, "NH105", "{sql}");
        assert_eq!(
            msg,
            format!("workflow_stage_actions is append-only: {op} is not allowed")
        );
    }
    // history is not deleted by a cascade either: the stage's instance cannot go while it has actions
    let (code, constraint, _) = fails_with(
        &pool,
        &format!("DELETE FROM workflow_stages WHERE id = '{}'", id('a', 11)),
    )
    .await;
    assert_eq!(
        (code.as_str(), constraint.as_deref()),
        ("23503", Some("fk_workflow_stage_actions_workflow_stage"))
    );
    succeeds(
        &pool,
        &format!(
            "INSERT INTO workflow_stage_actions (workspace_id, workflow_instance_id, workflow_stage_id, action, actor_user_id, comment)
             SELECT workspace_id, workflow_instance_id, id, 'COMMENT', assigned_approver_id, 'looks fine'
               FROM workflow_stages WHERE id = '{}'",
            id('a', 11)
        ),
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn a_row_of_one_workspace_cannot_reference_a_row_of_another(pool: PgPool) {
    atp_head(&pool).await;
    let w = ws('a');
    let a = |n| id('a', n);
    let b = |n| id('b', n);
    let cases = [
        (
            format!("UPDATE atp_submissions SET site_id = '{}' WHERE id = '{}'", b(9), a(14)),
            "fk_atp_submissions_site",
        ),
        (
            format!(
                "INSERT INTO workflow_stages (workspace_id, workflow_instance_id, stage_number, stage_name, sequence_order, sla_hours)
                 VALUES ('{w}', '{}', 2, 'x', 2, 8)",
                b(10)
            ),
            "fk_workflow_stages_workflow_instance",
        ),
        // B's member is not A's: people are referenced as members of the row's workspace
        (
            format!(
                "UPDATE workflow_stages SET assigned_approver_id = (SELECT id FROM users WHERE username = 'atp_b_qa')
                  WHERE id = '{}'",
                a(11)
            ),
            "fk_workflow_stages_assigned_approver",
        ),
        (
            format!("UPDATE punchlist_items SET evidence_document_id = '{}' WHERE id = '{}'", b(15), a(17)),
            "fk_punchlist_items_evidence_document",
        ),
        // a row cannot move to another workspace: what it references does not exist there
        (
            format!("UPDATE approver_absences SET workspace_id = '{}' WHERE id = '{}'", ws('b'), a(13)),
            "fk_approver_absences_user",
        ),
    ];
    for (sql, fk) in &cases {
        let (code, constraint, msg) = fails_with(&pool, sql).await;
        assert_eq!(
            (code.as_str(), constraint.as_deref()),
            ("23503", Some(*fk)),
            "{sql}: {msg}"
        );
    }
}

#[sqlx::test(migrations = false)]
async fn children_cascade_and_vendor_references_are_nulled_alone(pool: PgPool) {
    atp_head(&pool).await;
    let (w, draft) = (ws('a'), id('a', 21));
    let count = |sql: String| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    // vendor deleted from a DRAFT version: the role keeps its workspace, loses only vendor_id
    sqlx::raw_sql(&format!(
        "INSERT INTO vendor_master (workspace_id, id, config_version_id, vendor_code, vendor_name)
         VALUES ('{w}', '{v}', '{draft}', 'V2', 'Vendor 2');
         INSERT INTO approval_role_master (workspace_id, id, config_version_id, role_code, role_name, stage_group,
                                           hierarchy_order, vendor_id)
         VALUES ('{w}', '{r}', '{draft}', 'R2', 'Role 2', 'L1', 1, '{v}');
         DELETE FROM vendor_master WHERE id = '{v}';",
        v = id('a', 51),
        r = id('a', 52)
    ))
    .execute(&pool)
    .await
    .unwrap();
    let (wsid, vendor): (String, Option<String>) = sqlx::query_as(
        "SELECT workspace_id::text, vendor_id::text FROM approval_role_master WHERE id = $1::uuid",
    )
    .bind(id('a', 52))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((wsid, vendor), (w.clone(), None));
    // a submission's documents, a punchlist's items, an instance's stages go with their parent
    sqlx::raw_sql(&format!(
        "INSERT INTO atp_submissions (workspace_id, id, submission_code, site_id, scope_id, atp_category)
         VALUES ('{w}', '{s}', 'ATP-A-0002', '{site}', '{scope}', 'RAN_MW');
         INSERT INTO atp_submission_documents (workspace_id, submission_id, file_name, media_type, size_bytes, sha256, storage_path)
         VALUES ('{w}', '{s}', 'p.jpg', 'image/jpeg', 10, repeat('1', 64), 's3://atp/p.jpg');
         INSERT INTO workflow_instances (workspace_id, id, config_version_id, site_id, scope_id, policy_id, atp_category)
         VALUES ('{w}', '{i}', '{cv}', '{site}', '{scope}', '{pol}', 'RAN_MW');
         INSERT INTO workflow_stages (workspace_id, workflow_instance_id, stage_number, stage_name, sequence_order, sla_hours)
         VALUES ('{w}', '{i}', 1, 'QA', 1, 24), ('{w}', '{i}', 2, 'RTO', 2, 24);
         INSERT INTO punchlists (workspace_id, id, workflow_instance_id) VALUES ('{w}', '{p}', '{i}');
         INSERT INTO punchlist_items (workspace_id, punchlist_id, item_code, description, severity)
         VALUES ('{w}', '{p}', 'PL-1', 'x', 'CRITICAL');
         DELETE FROM atp_submissions WHERE id = '{s}';
         DELETE FROM punchlists WHERE id = '{p}';
         DELETE FROM workflow_instances WHERE id = '{i}';",
        s = id('a', 61),
        i = id('a', 62),
        p = id('a', 63),
        site = id('a', 9),
        scope = id('a', 2),
        pol = id('a', 5),
        cv = id('a', 1)
    ))
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM atp_submission_documents WHERE submission_id = '{}'",
            id('a', 61)
        ))
        .await,
        0
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM punchlist_items WHERE punchlist_id = '{}'",
            id('a', 63)
        ))
        .await,
        0
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM workflow_stages WHERE workflow_instance_id = '{}'",
            id('a', 62)
        ))
        .await,
        0
    );
    // a workspace with data cannot be deleted
    let (code, _, _) = fails_with(&pool, &format!("DELETE FROM workspaces WHERE id = '{w}'")).await;
    assert_eq!(code, "23503");
}

#[sqlx::test(migrations = false)]
async fn atp_rows_are_audited_by_uuid_with_the_request_context(pool: PgPool) {
    atp_head(&pool).await;
    let admin_a = user_id(&pool, "atp_a").await;
    let site = id('a', 9);
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "SELECT set_config('app.current_user_id', $1, true), set_config('app.client_ip', $2, true),
                        set_config('app.request_id', $3, true)",
    )
    .bind(admin_a.to_string())
    .bind("10.1.1.1")
    .bind("req-42")
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("UPDATE sites SET site_name = 'Renamed' WHERE id = $1::uuid")
        .bind(&site)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let row: AuditRow = sqlx::query_as(
        "SELECT record_id, user_id, client_ip, request_id, changed_fields, new_data ->> 'workspace_id',
                (SELECT updated_at > created_at FROM sites WHERE id = $1::uuid)
           FROM audit_logs WHERE table_name = 'sites' AND action = 'UPDATE' AND new_data ->> 'id' = $1",
    )
    .bind(&site)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        (
            None,
            Some(admin_a),
            Some("10.1.1.1".into()),
            Some("req-42".into()),
            vec!["site_name".to_string(), "updated_at".to_string()],
            ws('a'),
            true
        )
    );
    // every ATP table is audited (the fixture's inserts), document bytes never copied into the log
    let unaudited: Vec<String> = sqlx::query_scalar(
        "SELECT t FROM unnest(ARRAY['workspaces', 'workspace_members', 'sites', 'config_versions', 'atp_scope_master',
                'vendor_master', 'approval_role_master', 'approval_policy_master', 'approval_policy_stages',
                'cluster_master', 'cluster_approver_master', 'workflow_instances', 'workflow_stages',
                'atp_submissions', 'atp_submission_documents', 'punchlists', 'punchlist_items',
                'approver_overrides', 'approver_absences', 'workflow_stage_actions']) AS t
          WHERE NOT EXISTS (SELECT 1 FROM audit_logs a WHERE a.table_name = t AND a.action = 'INSERT')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(unaudited.is_empty(), "{unaudited:?}");
    let leaked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE table_name = 'atp_submission_documents' AND new_data ? 'content'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(leaked, 0);
    // MES rows keep their BIGINT record_id
    let rid: Option<i64> = sqlx::query_scalar(
        "SELECT record_id FROM audit_logs WHERE table_name = 'users' AND new_data ->> 'username' = 'atp_a'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(rid, Some(admin_a));
}

/// Every ATP table (from the catalog) and the audit log.
async fn atp_fingerprints(pool: &PgPool) -> Vec<(String, (i64, String))> {
    let mut tables = atp_common::workspace_scoped_tables(pool).await;
    tables.push("workspaces".into());
    tables.push("audit_logs".into());
    tables.push("users".into());
    let mut out = Vec::new();
    for t in tables {
        let f = table_fingerprint(pool, &t).await;
        out.push((t, f));
    }
    out
}

#[sqlx::test(migrations = false)]
async fn atp_rows_survive_down_and_up_again(pool: PgPool) {
    atp_head(&pool).await;
    let before = atp_fingerprints(&pool).await;
    assert!(before.len() >= 22);
    for (t, (n, _)) in &before {
        assert!(*n > 0, "{t} has no rows");
    }
    for target in [5, 0] {
        down_to(&pool, target).await;
        let left: Option<String> =
            sqlx::query_scalar("SELECT to_regclass('public.config_versions')::text")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(left, None);
        let archived: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'neurohub_archive' AND c.relname LIKE 'v0006\\_%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(archived, 20, "every ATP table archived");
        up_to(&pool, None).await;
        assert_eq!(
            atp_fingerprints(&pool).await,
            before,
            "after down --to {target} and up"
        );
    }
    let archives: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'neurohub_archive' AND c.relkind = 'r'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(archives, 0, "up drops the archive copies");
    // the restored rows are guarded again (triggers re-attached after the restore)
    let (code, _, _) = fails_with(
        &pool,
        &format!("DELETE FROM config_versions WHERE id = '{}'", id('a', 1)),
    )
    .await;
    assert_eq!(code, "NH101");
}
