-- Archive helpers, prepended by the engine to every down script (they live outside the public schema, so they are
-- not part of any version's catalog). A down that drops a table or a column with data first copies the rows
-- into neurohub_archive.v<version>_<table>[_cols] in the same transaction; the matching up restores them with
-- restore_table / restore_columns and drops the copies.
CREATE SCHEMA IF NOT EXISTS neurohub_archive;

-- Copy every row of src into neurohub_archive.<dst>. An empty table leaves no archive.
CREATE OR REPLACE FUNCTION neurohub_archive.archive_table(src regclass, dst text, cols text[] DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    n bigint;
BEGIN
    IF to_regclass(format('neurohub_archive.%I', dst)) IS NOT NULL THEN
        RAISE EXCEPTION 'archive neurohub_archive.% already exists (an earlier down was never restored)', dst
            USING HINT = 'run `neurohub migrate up` to restore it, or move it away after checking its rows';
    END IF;
    EXECUTE format('CREATE TABLE neurohub_archive.%I AS SELECT %s FROM %s', dst,
                   CASE WHEN cols IS NULL THEN '*'
                        ELSE (SELECT string_agg(quote_ident(c), ', ') FROM unnest(array['id'] || cols) AS c) END,
                   src);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        EXECUTE format('DROP TABLE neurohub_archive.%I', dst);
    END IF;
    RETURN n;
END;
$fn$;

-- Insert the archived rows back (same ids: OVERRIDING SYSTEM VALUE), move identity sequences past them and drop
-- the archive. Columns are matched by name.
CREATE OR REPLACE FUNCTION neurohub_archive.restore_table(dst regclass, src text)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    srcrel regclass := to_regclass(format('neurohub_archive.%I', src));
    cols   text;
    n      bigint;
    idcol  text;
BEGIN
    IF srcrel IS NULL THEN
        RETURN 0;
    END IF;
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
      FROM pg_attribute AS a
     WHERE a.attrelid = srcrel AND a.attnum > 0 AND NOT a.attisdropped
       AND EXISTS (SELECT 1 FROM pg_attribute AS b
                    WHERE b.attrelid = dst AND b.attname = a.attname AND b.attnum > 0 AND NOT b.attisdropped);
    EXECUTE format('INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s', dst, cols, cols, srcrel);
    GET DIAGNOSTICS n = ROW_COUNT;
    FOR idcol IN SELECT a.attname FROM pg_attribute AS a WHERE a.attrelid = dst AND a.attidentity <> '' LOOP
        EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, %L), COALESCE((SELECT max(%I) FROM %s), 0) + 1, false)',
                       dst::text, idcol, idcol, dst);
    END LOOP;
    EXECUTE format('DROP TABLE %s', srcrel);
    RETURN n;
END;
$fn$;

-- Put archived column values back by id. User triggers are disabled for the duration so the restore neither
-- touches updated_at nor writes audit rows nor trips the immutability guards; they are re-enabled at once.
CREATE OR REPLACE FUNCTION neurohub_archive.restore_columns(dst regclass, src text)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    srcrel regclass := to_regclass(format('neurohub_archive.%I', src));
    sets   text;
    n      bigint;
BEGIN
    IF srcrel IS NULL THEN
        RETURN 0;
    END IF;
    SELECT string_agg(format('%I = a.%I', a.attname, a.attname), ', ' ORDER BY a.attnum) INTO sets
      FROM pg_attribute AS a
     WHERE a.attrelid = srcrel AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'id';
    EXECUTE format('ALTER TABLE %s DISABLE TRIGGER USER', dst);
    EXECUTE format('UPDATE %s AS t SET %s FROM %s AS a WHERE t.id = a.id', dst, sets, srcrel);
    GET DIAGNOSTICS n = ROW_COUNT;
    EXECUTE format('ALTER TABLE %s ENABLE TRIGGER USER', dst);
    EXECUTE format('DROP TABLE %s', srcrel);
    RETURN n;
END;
$fn$;

