-- 0001 initial_schema, seed 000 STEP 2: the five common functions.
-- They reference tables created by later steps; PL/pgSQL resolves names when a function runs, not when it is
-- created, so this step has no dependencies (the seed calls it "parallel-safe").
--
-- Stable SQLSTATEs raised by NeuroHub triggers (class NH, documented in docs/schema.md):
--   NH001 audit_logs is append-only         NH002 row with history cannot be deleted
--   NH003 status transition not allowed     NH004 completed process_data is immutable
--   NH005 lot is closed

-- updated_at is maintained by the server, never by the client.
CREATE FUNCTION update_timestamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := CURRENT_TIMESTAMP;
    RETURN NEW;
END;
$$;

-- audit_logs rows can never be updated, deleted or truncated, not even by the table owner.
-- Attached as a BEFORE UPDATE OR DELETE row trigger and as a BEFORE TRUNCATE statement trigger.
CREATE FUNCTION prevent_audit_modification() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_logs is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'NH001',
              HINT = 'audit rows are evidence; corrections are new rows written by the audited change itself';
END;
$$;

-- Generic row audit: one audit_logs row per INSERT / UPDATE / DELETE with before/after JSONB.
-- The acting user, client IP and request id come from the transaction-local settings app.current_user_id,
-- app.client_ip and app.request_id (set with set_config(..., true) and bound parameters by the API).
-- A user id that is not a whole number of an existing user is kept verbatim in user_ref (user_id stays NULL),
-- so a bad context value never makes a business write fail. Trigger arguments name columns that must never be
-- copied into the log (e.g. users.password_hash).
CREATE FUNCTION log_audit_event() RETURNS trigger
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

-- A process referenced by production history cannot be deleted: deactivate it (is_active = false) instead.
CREATE FUNCTION prevent_process_deletion() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM process_data WHERE process_id = OLD.id) THEN
        RAISE EXCEPTION 'process % (%) has production history and cannot be deleted', OLD.process_code, OLD.id
            USING ERRCODE = 'NH002', HINT = 'deactivate it instead: UPDATE processes SET is_active = false';
    END IF;
    RETURN OLD;
END;
$$;

-- A user referenced by production history or by the audit trail cannot be deleted: deactivate instead.
-- A user without any history (e.g. created by mistake) may be deleted; the deletion itself is audited.
CREATE FUNCTION prevent_user_deletion() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM process_data WHERE operator_id = OLD.id)
       OR EXISTS (SELECT 1 FROM audit_logs WHERE user_id = OLD.id) THEN
        RAISE EXCEPTION 'user % (%) has history and cannot be deleted', OLD.username, OLD.id
            USING ERRCODE = 'NH002', HINT = 'deactivate it instead: UPDATE users SET is_active = false';
    END IF;
    RETURN OLD;
END;
$$;
