-- 0004: the business-rule triggers. Error messages name the rule; SQLSTATEs are stable (see 0001 header).

-- Create each missing monthly audit partition from 2025-11 through the month `months_ahead` past now() (UTC),
-- returning the names created. Called by `neurohub deploy` and periodically by the server. If rows of a month
-- already sit in audit_logs_default, that month is skipped with a WARNING: it never fails and never moves or
-- loses rows (moving them is a maintenance-window job).
CREATE FUNCTION ensure_audit_partitions(months_ahead integer DEFAULT 3) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    m      date := date '2025-11-01';
    last_m date;
    pname  text;
    lo     timestamptz;
    hi     timestamptz;
    n      bigint;
BEGIN
    IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 120 THEN
        RAISE EXCEPTION 'ensure_audit_partitions: months_ahead must be between 0 and 120, got %', months_ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    last_m := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => months_ahead))::date;
    WHILE m <= last_m LOOP
        pname := format('audit_logs_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
        lo := m::timestamp AT TIME ZONE 'UTC';
        hi := (m + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        IF to_regclass(format('public.%I', pname)) IS NULL THEN
            SELECT count(*) INTO n FROM public.audit_logs_default WHERE created_at >= lo AND created_at < hi;
            IF n > 0 THEN
                RAISE WARNING 'audit partition % not created: % row(s) of that month are in audit_logs_default', pname, n
                    USING HINT = 'move them in a maintenance window (detach default, create the partition, re-insert)';
            ELSE
                BEGIN
                    EXECUTE format('CREATE TABLE public.%I PARTITION OF public.audit_logs FOR VALUES FROM (%L) TO (%L)',
                                   pname, lo, hi);
                    EXECUTE format('CREATE TRIGGER trg_audit_logs_prevent_truncate BEFORE TRUNCATE ON public.%I '
                                   'FOR EACH STATEMENT EXECUTE FUNCTION prevent_audit_modification()', pname);
                    RETURN NEXT pname;
                EXCEPTION WHEN check_violation OR duplicate_table THEN
                    RAISE WARNING 'audit partition % not created: %', pname, SQLERRM;
                END;
            END IF;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
END;
$$;

-- Status machines of docs/schema.md. Setting a status to itself is a no-op and always allowed. A unit that never
-- started may be scrapped (CREATED>SCRAPPED: a part damaged before its first process).
CREATE FUNCTION enforce_status_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    entity  text;
    allowed text[];
BEGIN
    IF NEW.status IS NOT DISTINCT FROM OLD.status THEN
        RETURN NEW;
    END IF;
    CASE TG_TABLE_NAME
        WHEN 'lots' THEN
            entity := 'lot';
            allowed := ARRAY['CREATED>IN_PROGRESS', 'CREATED>ON_HOLD', 'IN_PROGRESS>ON_HOLD', 'ON_HOLD>CREATED',
                             'ON_HOLD>IN_PROGRESS', 'IN_PROGRESS>COMPLETED', 'CREATED>COMPLETED', 'COMPLETED>CLOSED'];
        WHEN 'wip_items' THEN
            entity := 'wip_item';
            allowed := ARRAY['CREATED>IN_PROGRESS', 'CREATED>SCRAPPED', 'IN_PROGRESS>FAILED', 'IN_PROGRESS>CONVERTED',
                             'IN_PROGRESS>SCRAPPED', 'FAILED>IN_PROGRESS', 'FAILED>SCRAPPED'];
        WHEN 'serials' THEN
            entity := 'serial';
            allowed := ARRAY['CREATED>IN_PROGRESS', 'CREATED>SCRAPPED', 'IN_PROGRESS>FAILED', 'IN_PROGRESS>COMPLETED',
                             'IN_PROGRESS>SCRAPPED', 'FAILED>IN_PROGRESS', 'FAILED>SCRAPPED'];
        ELSE
            RAISE EXCEPTION 'enforce_status_transition() is not defined for table %', TG_TABLE_NAME;
    END CASE;
    IF NOT (OLD.status || '>' || NEW.status) = ANY (allowed) THEN
        RAISE EXCEPTION '% status transition % -> % is not allowed', entity, OLD.status, NEW.status
            USING ERRCODE = 'NH003', TABLE = TG_TABLE_NAME, COLUMN = 'status';
    END IF;
    RETURN NEW;
END;
$$;

-- Status timestamps are set by the server when a status is reached (never by the client).
CREATE FUNCTION set_status_timestamps() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'lots' THEN
        IF NEW.status = 'IN_PROGRESS' AND NEW.started_at IS NULL THEN NEW.started_at := now(); END IF;
        IF NEW.status = 'COMPLETED' THEN NEW.completed_at := now(); END IF;
        IF NEW.status = 'CLOSED' THEN NEW.closed_at := now(); END IF;
    ELSIF TG_TABLE_NAME = 'serials' THEN
        IF NEW.status = 'COMPLETED' THEN NEW.completed_at := now(); END IF;
    END IF;
    RETURN NEW;
END;
$$;

-- No new serial or WIP unit in a CLOSED lot.
CREATE FUNCTION ensure_lot_open() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    v_number text;
BEGIN
    SELECT status, lot_number INTO v_status, v_number FROM lots WHERE id = NEW.lot_id;
    IF v_status = 'CLOSED' THEN
        RAISE EXCEPTION 'lot % is CLOSED: no new % can be added to it', v_number,
              CASE TG_TABLE_NAME WHEN 'serials' THEN 'serial' ELSE 'wip_item' END
            USING ERRCODE = 'NH005', TABLE = TG_TABLE_NAME, COLUMN = 'lot_id';
    END IF;
    RETURN NEW;
END;
$$;

-- duration_seconds is derived from the server's timestamps, never sent by the client.
CREATE FUNCTION compute_process_data_duration() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.duration_seconds := CASE WHEN NEW.completed_at IS NULL THEN NULL
                                 ELSE floor(extract(epoch FROM NEW.completed_at - NEW.started_at))::integer END;
    RETURN NEW;
END;
$$;

-- A completed process_data record is evidence: it can be neither changed nor deleted. Open records may be
-- updated (that is how they get completed) or deleted (a cancelled start).
CREATE FUNCTION prevent_completed_process_data_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.completed_at IS NOT NULL THEN
        RAISE EXCEPTION 'process_data % is completed and immutable: % is not allowed', OLD.id, TG_OP
            USING ERRCODE = 'NH004', TABLE = 'process_data',
                  HINT = 'record a new attempt instead of changing a completed record';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_lots_status_transition BEFORE UPDATE OF status ON lots
    FOR EACH ROW EXECUTE FUNCTION enforce_status_transition();
CREATE TRIGGER trg_lots_status_timestamps BEFORE INSERT OR UPDATE OF status ON lots
    FOR EACH ROW EXECUTE FUNCTION set_status_timestamps();
CREATE TRIGGER trg_serials_status_transition BEFORE UPDATE OF status ON serials
    FOR EACH ROW EXECUTE FUNCTION enforce_status_transition();
CREATE TRIGGER trg_serials_status_timestamps BEFORE INSERT OR UPDATE OF status ON serials
    FOR EACH ROW EXECUTE FUNCTION set_status_timestamps();
CREATE TRIGGER trg_serials_lot_open BEFORE INSERT ON serials
    FOR EACH ROW EXECUTE FUNCTION ensure_lot_open();
CREATE TRIGGER trg_wip_items_status_transition BEFORE UPDATE OF status ON wip_items
    FOR EACH ROW EXECUTE FUNCTION enforce_status_transition();
CREATE TRIGGER trg_wip_items_lot_open BEFORE INSERT ON wip_items
    FOR EACH ROW EXECUTE FUNCTION ensure_lot_open();
CREATE TRIGGER trg_process_data_duration BEFORE INSERT OR UPDATE ON process_data
    FOR EACH ROW EXECUTE FUNCTION compute_process_data_duration();
CREATE TRIGGER trg_process_data_immutable BEFORE UPDATE OR DELETE ON process_data
    FOR EACH ROW EXECUTE FUNCTION prevent_completed_process_data_change();
