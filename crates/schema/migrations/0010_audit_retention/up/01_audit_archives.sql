-- 0010 audit retention (docs/runbooks.md, "Audit retention"): the register of archived audit months, and the
-- partition job that leaves an archived month alone.
--
-- `neurohub audit archive --before YYYY-MM` detaches a month's partition, writes it to a file (pg_dump, SHA-256
-- beside it), proves the file restores, drops the partition and records it here in the same transaction as the
-- drop; `neurohub audit restore FILE` puts the rows back and sets restored_at. verify does not expect archived
-- months as partitions, and ensure_audit_partitions does not re-create them empty.
CREATE TABLE audit_archives (
    partition_name VARCHAR(63)  NOT NULL,
    month_start    DATE         NOT NULL,
    file_name      TEXT         NOT NULL,
    sha256         VARCHAR(64)  NOT NULL,
    row_count      BIGINT       NOT NULL,
    archived_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    restored_at    TIMESTAMPTZ,
    CONSTRAINT audit_archives_pkey PRIMARY KEY (partition_name),
    CONSTRAINT chk_audit_archives_partition_name CHECK (partition_name ~ '^audit_logs_y[0-9]{4}m(0[1-9]|1[0-2])$'),
    CONSTRAINT chk_audit_archives_month_start CHECK (extract(day FROM month_start) = 1),
    CONSTRAINT chk_audit_archives_sha256 CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    CONSTRAINT chk_audit_archives_row_count CHECK (row_count >= 0)
);

DO $$
BEGIN
    IF to_regclass('neurohub_archive.v0010_audit_archives') IS NOT NULL THEN
        PERFORM neurohub_archive.restore_table('public.audit_archives'::regclass, 'v0010_audit_archives');
    END IF;
END;
$$;

-- archiving and restoring a month are themselves audited
CREATE TRIGGER trg_audit_archives_audit AFTER INSERT OR UPDATE OR DELETE ON audit_archives
    FOR EACH ROW EXECUTE FUNCTION log_audit_event();

-- requests may read the register (the audit log's API can say a month is archived), never change it
GRANT SELECT ON audit_archives TO neurohub_app;

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
        -- an archived month (neurohub audit archive) stays away until `neurohub audit restore` brings it back
        IF to_regclass(format('public.%I', pname)) IS NULL
           AND NOT EXISTS (SELECT 1 FROM public.audit_archives AS a
                            WHERE a.partition_name = pname AND a.restored_at IS NULL) THEN
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
