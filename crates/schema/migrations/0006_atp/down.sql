-- Down 0006: back to the 0005 schema. Every ATP row is archived into neurohub_archive.v0006_<table> (restored,
-- same ids, by the next up of 0006) and the tables, the helpers and the guards are dropped; log_audit_event()
-- gets 0001's text back. Audit rows written about ATP rows stay in audit_logs (they are evidence, and 0001's
-- function never reads them).
--
-- row_security = off: the archive copies must see every row. For a superuser / BYPASSRLS deployer it changes
-- nothing; for any other deployer (subject to the FORCEd policies) it turns a silently partial copy into an
-- error ("query would be affected by row-level security policy"), so a down can never lose rows.
SET LOCAL row_security = off;
SELECT neurohub_archive.archive_table('public.workspaces', 'v0006_workspaces');
SELECT neurohub_archive.archive_table('public.workspace_members', 'v0006_workspace_members');
SELECT neurohub_archive.archive_table('public.sites', 'v0006_sites');
SELECT neurohub_archive.archive_table('public.config_versions', 'v0006_config_versions');
SELECT neurohub_archive.archive_table('public.atp_scope_master', 'v0006_atp_scope_master');
SELECT neurohub_archive.archive_table('public.vendor_master', 'v0006_vendor_master');
SELECT neurohub_archive.archive_table('public.approval_role_master', 'v0006_approval_role_master');
SELECT neurohub_archive.archive_table('public.approval_policy_master', 'v0006_approval_policy_master');
SELECT neurohub_archive.archive_table('public.approval_policy_stages', 'v0006_approval_policy_stages');
SELECT neurohub_archive.archive_table('public.cluster_master', 'v0006_cluster_master');
SELECT neurohub_archive.archive_table('public.cluster_approver_master', 'v0006_cluster_approver_master');
SELECT neurohub_archive.archive_table('public.workflow_instances', 'v0006_workflow_instances');
SELECT neurohub_archive.archive_table('public.workflow_stages', 'v0006_workflow_stages');
SELECT neurohub_archive.archive_table('public.atp_submissions', 'v0006_atp_submissions');
SELECT neurohub_archive.archive_table('public.atp_submission_documents', 'v0006_atp_submission_documents');
SELECT neurohub_archive.archive_table('public.punchlists', 'v0006_punchlists');
SELECT neurohub_archive.archive_table('public.punchlist_items', 'v0006_punchlist_items');
SELECT neurohub_archive.archive_table('public.approver_overrides', 'v0006_approver_overrides');
SELECT neurohub_archive.archive_table('public.approver_absences', 'v0006_approver_absences');
SELECT neurohub_archive.archive_table('public.workflow_stage_actions', 'v0006_workflow_stage_actions');

-- with their FKs, indexes, triggers and policies (one statement: the FKs among them need no ordering)
DROP TABLE workflow_stage_actions, approver_absences, approver_overrides, punchlist_items, punchlists,
    atp_submission_documents, atp_submissions, workflow_stages, workflow_instances, cluster_approver_master,
    cluster_master, approval_policy_stages, approval_policy_master, approval_role_master, vendor_master,
    atp_scope_master, config_versions, sites, workspace_members, workspaces;

DROP FUNCTION freeze_workflow_config_version();
DROP FUNCTION prevent_stage_action_modification();
DROP FUNCTION protect_frozen_master();
DROP FUNCTION protect_config_version();
DROP FUNCTION app_member_workspace_ids();
DROP FUNCTION app_is_global_admin();
DROP FUNCTION app_is_workspace_member(uuid);
DROP FUNCTION app_workspace_role(uuid);
DROP FUNCTION app_current_workspace_id();
DROP FUNCTION app_current_user_id();

-- 0001's log_audit_event(), verbatim
CREATE OR REPLACE FUNCTION log_audit_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_old     jsonb;
    v_new     jsonb;
    v_changed text[];
    v_ref     text := NULLIF(current_setting('app.current_user_id', true), '');
    v_uid     bigint;
    i         integer;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN v_old := to_jsonb(OLD); END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN v_new := to_jsonb(NEW); END IF;
    IF TG_NARGS > 0 THEN
        FOR i IN 0 .. TG_NARGS - 1 LOOP
            v_old := v_old - TG_ARGV[i];
            v_new := v_new - TG_ARGV[i];
        END LOOP;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(n.key ORDER BY n.key) INTO v_changed
          FROM jsonb_each(v_new) AS n
         WHERE n.value IS DISTINCT FROM (v_old -> n.key);
    END IF;
    IF v_ref ~ '^[0-9]{1,18}$' THEN
        SELECT u.id INTO v_uid FROM users AS u WHERE u.id = v_ref::bigint;
    END IF;
    INSERT INTO audit_logs (table_name, record_id, action, old_data, new_data, changed_fields,
                            user_id, user_ref, client_ip, request_id)
    VALUES (TG_TABLE_NAME,
            COALESCE(v_new ->> 'id', v_old ->> 'id')::bigint,
            TG_OP, v_old, v_new, v_changed, v_uid, v_ref,
            NULLIF(current_setting('app.client_ip', true), ''),
            NULLIF(current_setting('app.request_id', true), ''));
    RETURN NULL;
END;
$$;
