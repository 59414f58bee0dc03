-- 0006 atp, step 2 of 5: the audit function made id-type agnostic, the request-context helpers, the guards
-- (stable SQLSTATEs NH101-NH106, listed in docs/atp-schema.md), updated_at and audit triggers, row-level
-- security and the privileges of neurohub_app.
--
-- Stable SQLSTATEs raised by ATP triggers (class NH, numbered from 101 to stay clear of the MES's NH001-NH005):
--   NH101 an ACTIVE config version cannot be deleted
--   NH102 an ACTIVE config version is immutable (only ACTIVE -> SUPERSEDED); a non-DRAFT one's content too
--   NH103 config version status transition not allowed (a version is inserted as DRAFT)
--   NH104 master rows of a non-DRAFT config version are frozen
--   NH105 workflow_stage_actions is append-only
--   NH106 a workflow instance's frozen config version cannot change

-- ------------------------------------------------------------------------------------------------- audit
-- log_audit_event() (0001) cast every row's id to BIGINT, which fails for the ATP's UUID ids. It now keeps
-- record_id for whole-number ids (every MES row: unchanged behaviour) and leaves it NULL otherwise; the ATP row's
-- key is in new_data / old_data ->> 'id' (and its workspace in ->> 'workspace_id'), so nothing is lost and
-- audit_logs (partitioned, immutable, possibly large) needs no new column, no rewrite and no backfill.
-- The body is 0001's with that one expression changed; down 0006 puts 0001's text back.
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
            CASE WHEN COALESCE(v_new ->> 'id', v_old ->> 'id') ~ '^-?[0-9]{1,18}$'
                 THEN COALESCE(v_new ->> 'id', v_old ->> 'id')::bigint END,
            TG_OP, v_old, v_new, v_changed, v_uid, v_ref,
            NULLIF(current_setting('app.client_ip', true), ''),
            NULLIF(current_setting('app.request_id', true), ''));
    RETURN NULL;
END;
$$;

-- ------------------------------------------------------------------------------------- request context
-- Each request's transaction sets, with set_config(name, $1, true) (bound parameter, transaction-local):
--   app.current_user_id  users.id as text          app.client_ip / app.request_id  audit context
--   app.workspace_id     workspaces.id as text, '' when the request has no workspace
-- A missing or malformed value reads as NULL (never an error), so it admits nothing.
-- Policies call the helpers inside a scalar subquery, (SELECT app_current_workspace_id()), which the planner
-- turns into an InitPlan: evaluated once per statement, not once per row.
CREATE FUNCTION app_current_user_id() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN v ~ '^[0-9]{1,18}$' THEN v::bigint END
      FROM (SELECT current_setting('app.current_user_id', true) AS v) AS s
$$;

CREATE FUNCTION app_current_workspace_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN v ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN v::uuid END
      FROM (SELECT current_setting('app.workspace_id', true) AS v) AS s
$$;

-- The helpers that read workspace_members / users are SECURITY DEFINER (owned by the deploying login) so a
-- policy never has to query the RLS-protected workspace_members table as the requesting role: querying it from
-- its own policy would recurse. When the owner is a superuser (or BYPASSRLS) these reads bypass RLS. When it is
-- not, FORCE ROW LEVEL SECURITY applies RLS to the owner too: p_workspace_members_definer (TO the owner) then
-- admits exactly the calling user's own membership rows, which is all these functions read, and the other
-- workspace_members policies are TO neurohub_app, so the owner's read never re-enters them (no recursion).

-- The calling user's active role in a workspace, NULL when not an active member (or the user is inactive).
CREATE FUNCTION app_workspace_role(p_workspace_id uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT m.member_role
      FROM workspace_members AS m JOIN users AS u ON u.id = m.user_id
     WHERE m.workspace_id = p_workspace_id AND m.user_id = app_current_user_id() AND m.is_active AND u.is_active
$$;

CREATE FUNCTION app_is_workspace_member(p_workspace_id uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT app_workspace_role(p_workspace_id) IS NOT NULL
$$;

-- Global ADMIN (users.role, the MES role) manages workspaces and their membership; it does not read a
-- workspace's ATP data unless it is also a member of that workspace.
CREATE FUNCTION app_is_global_admin() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM users AS u WHERE u.id = app_current_user_id() AND u.role = 'ADMIN' AND u.is_active)
$$;

-- The workspaces the calling user is an active member of (the workspaces policy: "my workspaces").
CREATE FUNCTION app_member_workspace_ids() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT m.workspace_id
      FROM workspace_members AS m JOIN users AS u ON u.id = m.user_id
     WHERE m.user_id = app_current_user_id() AND m.is_active AND u.is_active
$$;

-- ------------------------------------------------------------------------------------------------ guards
-- config_versions lifecycle: inserted as DRAFT -> ACTIVE -> SUPERSEDED (-> ACTIVE again only as a rollback: is_rollback set
-- in the same UPDATE), ARCHIVED from DRAFT or SUPERSEDED. An ACTIVE version cannot be deleted (NH101) and may
-- change only its status to SUPERSEDED (with superseded_by / superseded_at, NH102); a SUPERSEDED or ARCHIVED
-- version keeps its content (only lifecycle columns change). A DRAFT is freely editable and deletable.
CREATE FUNCTION protect_config_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    lifecycle  text[] := ARRAY['status', 'superseded_by', 'superseded_at', 'activated_at', 'activated_by',
                               'archived_at', 'is_rollback', 'updated_at'];
BEGIN
    -- every version starts its life as an upload to validate (rows restored by an up come back before this
    -- trigger exists, with the status they had)
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'DRAFT' THEN
            RAISE EXCEPTION 'a config version starts as DRAFT, not %', NEW.status
                USING ERRCODE = 'NH103', HINT = 'insert it as DRAFT, validate it, then activate it';
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF OLD.status = 'ACTIVE' THEN
            RAISE EXCEPTION 'config version % (% v%) is ACTIVE and cannot be deleted', OLD.id, OLD.source_type,
                OLD.version_number
                USING ERRCODE = 'NH101',
                      HINT = 'activate another version to supersede it; a superseded version can be archived';
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
           (OLD.status = 'DRAFT' AND NEW.status IN ('ACTIVE', 'ARCHIVED'))
        OR (OLD.status = 'ACTIVE' AND NEW.status = 'SUPERSEDED')
        OR (OLD.status = 'SUPERSEDED' AND NEW.status = 'ACTIVE' AND NEW.is_rollback)
        OR (OLD.status = 'SUPERSEDED' AND NEW.status = 'ARCHIVED')) THEN
        RAISE EXCEPTION 'config version status transition % -> % is not allowed', OLD.status, NEW.status
            USING ERRCODE = 'NH103',
                  HINT = CASE WHEN OLD.status = 'SUPERSEDED' AND NEW.status = 'ACTIVE'
                              THEN 'reactivating a superseded version is a rollback: set is_rollback = true'
                              ELSE 'DRAFT -> ACTIVE -> SUPERSEDED (-> ACTIVE as a rollback); ARCHIVED from DRAFT or SUPERSEDED' END;
    END IF;
    IF OLD.status = 'ACTIVE' AND (
           (to_jsonb(NEW) - ARRAY['status', 'superseded_by', 'superseded_at', 'updated_at'])
               IS DISTINCT FROM (to_jsonb(OLD) - ARRAY['status', 'superseded_by', 'superseded_at', 'updated_at'])
        OR (NEW.status = 'ACTIVE' AND (NEW.superseded_by, NEW.superseded_at) IS DISTINCT FROM
                                      (OLD.superseded_by, OLD.superseded_at))) THEN
        RAISE EXCEPTION 'config version % is ACTIVE and immutable: only status ACTIVE -> SUPERSEDED (with superseded_by) is allowed', OLD.id
            USING ERRCODE = 'NH102',
                  HINT = 'upload a new DRAFT version and activate it';
    END IF;
    IF OLD.status IN ('SUPERSEDED', 'ARCHIVED')
       AND (to_jsonb(NEW) - lifecycle) IS DISTINCT FROM (to_jsonb(OLD) - lifecycle) THEN
        RAISE EXCEPTION 'config version % is % and its content is immutable', OLD.id, OLD.status
            USING ERRCODE = 'NH102', HINT = 'upload a new DRAFT version';
    END IF;
    RETURN NEW;
END;
$$;

-- Master rows belong to one config version and are frozen with it: they may be written only while that version
-- is DRAFT, so a workflow frozen on a version (by reference) always reads the masters it started with.
-- SECURITY DEFINER: the guard reads the version whatever the caller may see.
CREATE FUNCTION protect_frozen_master() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r      record;
    v_status text;
BEGIN
    FOR r IN
        SELECT OLD.workspace_id AS ws, OLD.config_version_id AS cv WHERE TG_OP IN ('UPDATE', 'DELETE')
        UNION ALL
        SELECT NEW.workspace_id, NEW.config_version_id WHERE TG_OP IN ('INSERT', 'UPDATE')
    LOOP
        SELECT c.status INTO v_status FROM config_versions AS c WHERE c.workspace_id = r.ws AND c.id = r.cv;
        -- no row: an unknown version (the FK answers) or one being deleted (its RESTRICT FKs answer)
        IF v_status IS NOT NULL AND v_status <> 'DRAFT' THEN
            RAISE EXCEPTION '% rows of config version % are frozen: it is %, not DRAFT (% is not allowed)',
                TG_TABLE_NAME, r.cv, v_status, TG_OP
                USING ERRCODE = 'NH104', HINT = 'change the masters in a new DRAFT version and activate it';
        END IF;
    END LOOP;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$;

-- workflow_stage_actions is the stages' history: rows are appended, never changed or removed.
CREATE FUNCTION prevent_stage_action_modification() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'workflow_stage_actions is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'NH105', HINT = 'record a new action instead';
END;
$$;

-- Freeze-by-reference: the config version a workflow instance started on is fixed for its whole life.
CREATE FUNCTION freeze_workflow_config_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.config_version_id IS DISTINCT FROM OLD.config_version_id THEN
        RAISE EXCEPTION 'workflow instance % is frozen on config version %: config_version_id cannot change',
            OLD.id, OLD.config_version_id
            USING ERRCODE = 'NH106', HINT = 'start a new workflow instance on the new version';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_config_versions_guard BEFORE INSERT OR UPDATE OR DELETE ON config_versions
    FOR EACH ROW EXECUTE FUNCTION protect_config_version();
CREATE TRIGGER trg_workflow_instances_frozen_config BEFORE UPDATE ON workflow_instances
    FOR EACH ROW EXECUTE FUNCTION freeze_workflow_config_version();
CREATE TRIGGER trg_workflow_stage_actions_append_only BEFORE UPDATE OR DELETE ON workflow_stage_actions
    FOR EACH ROW EXECUTE FUNCTION prevent_stage_action_modification();
CREATE TRIGGER trg_workflow_stage_actions_no_truncate BEFORE TRUNCATE ON workflow_stage_actions
    FOR EACH STATEMENT EXECUTE FUNCTION prevent_stage_action_modification();

-- ------------------------------------------------------- per-table triggers, RLS, policies and privileges
DO $$
DECLARE
    t text;
    masters text[] := ARRAY['atp_scope_master', 'vendor_master', 'approval_role_master', 'approval_policy_master',
                            'approval_policy_stages', 'cluster_master', 'cluster_approver_master'];
    scoped text[] := ARRAY['workspace_members', 'sites', 'config_versions', 'atp_scope_master', 'vendor_master',
                           'approval_role_master', 'approval_policy_master', 'approval_policy_stages',
                           'cluster_master', 'cluster_approver_master', 'workflow_instances', 'workflow_stages',
                           'atp_submissions', 'atp_submission_documents', 'punchlists', 'punchlist_items',
                           'approver_overrides', 'approver_absences', 'workflow_stage_actions'];
BEGIN
    FOREACH t IN ARRAY masters LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE OR DELETE ON %I '
                       'FOR EACH ROW EXECUTE FUNCTION protect_frozen_master()', 'trg_' || t || '_frozen', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['workspaces'] || scoped LOOP
        IF t <> 'workflow_stage_actions' THEN
            EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %I '
                           'FOR EACH ROW EXECUTE FUNCTION update_timestamp()', 'trg_' || t || '_updated_at', t);
        END IF;
        -- document bytes are evidence in their own right (sha256 is audited); never copied into the log
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I '
                       'FOR EACH ROW EXECUTE FUNCTION log_audit_event(%s)', 'trg_' || t || '_audit', t,
                       CASE WHEN t = 'atp_submission_documents' THEN quote_literal('content') ELSE '' END);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', t);
        IF t = 'workflow_stage_actions' THEN
            EXECUTE format('GRANT SELECT, INSERT ON %I TO neurohub_app', t);
        ELSE
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO neurohub_app', t);
        END IF;
        IF t NOT IN ('workspaces', 'workspace_members') THEN
            -- the context's workspace, and only for an active member of it; WITH CHECK: writes stay inside it
            EXECUTE format('CREATE POLICY %I ON %I
                USING (workspace_id = (SELECT app_current_workspace_id())
                       AND (SELECT app_is_workspace_member(app_current_workspace_id())))
                WITH CHECK (workspace_id = (SELECT app_current_workspace_id())
                       AND (SELECT app_is_workspace_member(app_current_workspace_id())))',
                'p_' || t || '_workspace', t);
        END IF;
    END LOOP;
END;
$$;
-- workspaces: not workspace-scoped, yet not public either: a user lists the workspaces it is an active member of,
-- a global ADMIN lists and manages them all (creates, renames, deactivates).
CREATE POLICY p_workspaces_member_read ON workspaces FOR SELECT
    USING ((SELECT app_is_global_admin()) OR id IN (SELECT app_member_workspace_ids()));
CREATE POLICY p_workspaces_admin ON workspaces
    USING ((SELECT app_is_global_admin())) WITH CHECK ((SELECT app_is_global_admin()));

-- workspace_members: members of the context's workspace read its membership; its WORKSPACE_ADMINs manage it;
-- a global ADMIN manages any workspace's membership (so it can add a new workspace's first WORKSPACE_ADMIN).
-- These two are TO neurohub_app; p_workspace_members_definer is TO the owner (see the helpers above).
CREATE POLICY p_workspace_members_read ON workspace_members FOR SELECT TO neurohub_app
    USING (workspace_id = (SELECT app_current_workspace_id())
           AND ((SELECT app_is_workspace_member(app_current_workspace_id())) OR (SELECT app_is_global_admin())));
CREATE POLICY p_workspace_members_manage ON workspace_members TO neurohub_app
    USING (workspace_id = (SELECT app_current_workspace_id())
           AND ((SELECT app_workspace_role(app_current_workspace_id())) = 'WORKSPACE_ADMIN'
                OR (SELECT app_is_global_admin())))
    WITH CHECK (workspace_id = (SELECT app_current_workspace_id())
           AND ((SELECT app_workspace_role(app_current_workspace_id())) = 'WORKSPACE_ADMIN'
                OR (SELECT app_is_global_admin())));
CREATE POLICY p_workspace_members_definer ON workspace_members FOR SELECT TO CURRENT_USER
    USING (user_id = (SELECT app_current_user_id()));
