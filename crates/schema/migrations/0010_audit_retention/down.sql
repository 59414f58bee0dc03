-- Down 0010: back to the 0009 schema. The register is archived into neurohub_archive.v0010_audit_archives
-- (restored by the next up of 0010) and dropped; the partition job is 0004's again (it would re-create archived
-- months empty: restore them first, or re-archive after the next up).
SELECT neurohub_archive.archive_table('public.audit_archives', 'v0010_audit_archives');
DROP TABLE audit_archives;
CREATE OR REPLACE FUNCTION ensure_audit_partitions(months_ahead integer DEFAULT 3) RETURNS SETOF text
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
