-- 0010: counters the lot list, lot detail and dashboard read instead of counting units on every request.
--
-- * lot_unit_counts: per lot, its WIP items and serials per status (the lot list's and lot detail's counts).
--   Kept by row triggers on wip_items and serials as +1 / -1 deltas.
-- * unit_wip_positions: where each unfinished unit stands for the dashboard's open WIP (the definition is view
--   open_unit_positions, the one place it is written), and lot_process_wip, those positions counted per lot and
--   process. Kept by triggers that re-derive the position of every unit a change touches (mes_refresh_unit):
--   the stored position is the "before", the view the "after", the difference goes to the counter row.
--   Positions do not depend on the lot's status; the dashboard keeps only open lots when it sums.
--
-- The triggers are the single home of the counting: they run in the transaction of the change (SECURITY
-- DEFINER: requests may only read these tables). mes_rebuild_counters() recomputes everything from the same view
-- (the backfill below, and `neurohub seed` after a bulk load with the triggers off); `neurohub verify`
-- (MES-COUNTERS) compares the stored counters with a recount. The triggers are created before the backfill in
-- this one transaction, so their locks keep writers out until the counters are complete and current.

CREATE TABLE lot_unit_counts (
    lot_id             BIGINT NOT NULL,
    wip_created        BIGINT NOT NULL DEFAULT 0,
    wip_in_progress    BIGINT NOT NULL DEFAULT 0,
    wip_failed         BIGINT NOT NULL DEFAULT 0,
    wip_converted      BIGINT NOT NULL DEFAULT 0,
    wip_scrapped       BIGINT NOT NULL DEFAULT 0,
    serial_created     BIGINT NOT NULL DEFAULT 0,
    serial_in_progress BIGINT NOT NULL DEFAULT 0,
    serial_failed      BIGINT NOT NULL DEFAULT 0,
    serial_completed   BIGINT NOT NULL DEFAULT 0,
    serial_scrapped    BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT lot_unit_counts_pkey PRIMARY KEY (lot_id),
    CONSTRAINT chk_lot_unit_counts_non_negative CHECK (
        LEAST(wip_created, wip_in_progress, wip_failed, wip_converted, wip_scrapped, serial_created,
              serial_in_progress, serial_failed, serial_completed, serial_scrapped) >= 0),
    CONSTRAINT fk_lot_unit_counts_lot FOREIGN KEY (lot_id) REFERENCES lots (id)
        ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE TABLE unit_wip_positions (
    unit_kind  TEXT   NOT NULL,
    unit_id    BIGINT NOT NULL,
    lot_id     BIGINT NOT NULL,
    process_id BIGINT,
    state      TEXT   NOT NULL,
    CONSTRAINT unit_wip_positions_pkey PRIMARY KEY (unit_kind, unit_id),
    CONSTRAINT chk_unit_wip_positions_unit_kind CHECK (unit_kind IN ('WIP', 'SERIAL')),
    CONSTRAINT chk_unit_wip_positions_state CHECK (state IN ('IN_PROCESS', 'WAITING', 'FAILED')),
    CONSTRAINT fk_unit_wip_positions_lot FOREIGN KEY (lot_id) REFERENCES lots (id)
        ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT fk_unit_wip_positions_process FOREIGN KEY (process_id) REFERENCES processes (id)
        ON DELETE SET NULL ON UPDATE CASCADE
);
CREATE INDEX idx_unit_wip_positions_lot ON unit_wip_positions (lot_id);
CREATE INDEX idx_unit_wip_positions_process ON unit_wip_positions (process_id);
CREATE INDEX idx_unit_wip_positions_state ON unit_wip_positions (state);

CREATE TABLE lot_process_wip (
    lot_id     BIGINT NOT NULL,
    process_id BIGINT NOT NULL,
    in_process BIGINT NOT NULL DEFAULT 0,
    waiting    BIGINT NOT NULL DEFAULT 0,
    failed     BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT lot_process_wip_pkey PRIMARY KEY (lot_id, process_id),
    CONSTRAINT chk_lot_process_wip_non_negative CHECK (LEAST(in_process, waiting, failed) >= 0),
    CONSTRAINT fk_lot_process_wip_lot FOREIGN KEY (lot_id) REFERENCES lots (id)
        ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT fk_lot_process_wip_process FOREIGN KEY (process_id) REFERENCES processes (id)
        ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX idx_lot_process_wip_process ON lot_process_wip (process_id);

-- Where an unfinished unit (a WIP item not converted or scrapped, a serial not completed or scrapped) stands:
-- at the process of its open record (IN_PROCESS), else FAILED units at the process of their latest completed
-- record (FAILED), else at the first active process without a PASS (WAITING; NULL when there is none). A
-- serial's records include those of the WIP item it came from. LOT-level records are not units' records.
-- (`status::text IN`: a varchar IN list deparses differently after a dump and restore, which verify's C1 sees.)
CREATE VIEW open_unit_positions AS
SELECT u.unit_kind, u.unit_id, u.lot_id,
       COALESCE(o.process_id, f.process_id, nx.id) AS process_id,
       CASE WHEN o.process_id IS NOT NULL THEN 'IN_PROCESS'
            WHEN u.status = 'FAILED' THEN 'FAILED'
            ELSE 'WAITING' END AS state
  FROM (SELECT 'WIP'::text AS unit_kind, w.id AS unit_id, w.lot_id, w.id AS wip_item_id,
               NULL::bigint AS serial_id, w.status
          FROM wip_items w
         WHERE w.status::text IN ('CREATED', 'IN_PROGRESS', 'FAILED')
        UNION ALL
        SELECT 'SERIAL'::text, s.id, s.lot_id, w.id, s.id, s.status
          FROM serials s LEFT JOIN wip_items w ON w.serial_id = s.id
         WHERE s.status::text IN ('CREATED', 'IN_PROGRESS', 'FAILED')) u
  LEFT JOIN LATERAL (
        SELECT x.process_id FROM process_data x
         WHERE x.data_level <> 'LOT' AND (x.wip_id = u.wip_item_id OR x.serial_id = u.serial_id)
           AND x.completed_at IS NULL
         ORDER BY x.started_at DESC, x.id DESC LIMIT 1) o ON true
  LEFT JOIN LATERAL (
        SELECT x.process_id FROM process_data x
         WHERE x.data_level <> 'LOT' AND (x.wip_id = u.wip_item_id OR x.serial_id = u.serial_id)
           AND x.completed_at IS NOT NULL
         ORDER BY x.completed_at DESC, x.id DESC LIMIT 1) f ON u.status = 'FAILED'
  LEFT JOIN LATERAL (
        SELECT p.id FROM processes p
         WHERE p.is_active AND NOT EXISTS (
                 SELECT 1 FROM process_data x
                  WHERE x.process_id = p.id AND x.result = 'PASS' AND x.data_level <> 'LOT'
                    AND (x.wip_id = u.wip_item_id OR x.serial_id = u.serial_id))
         ORDER BY p.process_number LIMIT 1) nx ON u.status <> 'FAILED' AND o.process_id IS NULL;

-- Add d_in / d_wait / d_fail (all >= 0, or all <= 0) to the counter row of (lot, process); a row that reaches zero
-- is deleted, so the table holds only lots and processes with open units. (A decrement is an UPDATE: the CHECK
-- would refuse the negative row an INSERT ... ON CONFLICT proposes before it meets the conflict.)
CREATE FUNCTION lot_process_wip_add(p_lot bigint, p_process bigint, d_in bigint, d_wait bigint, d_fail bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF p_process IS NULL THEN
        RETURN;
    END IF;
    IF LEAST(d_in, d_wait, d_fail) < 0 THEN
        UPDATE lot_process_wip
           SET in_process = in_process + d_in, waiting = waiting + d_wait, failed = failed + d_fail
         WHERE lot_id = p_lot AND process_id = p_process;
        DELETE FROM lot_process_wip
         WHERE lot_id = p_lot AND process_id = p_process AND in_process = 0 AND waiting = 0 AND failed = 0;
    ELSE
        INSERT INTO lot_process_wip AS c (lot_id, process_id, in_process, waiting, failed)
        VALUES (p_lot, p_process, d_in, d_wait, d_fail)
        ON CONFLICT (lot_id, process_id) DO UPDATE
            SET in_process = c.in_process + EXCLUDED.in_process,
                waiting = c.waiting + EXCLUDED.waiting,
                failed = c.failed + EXCLUDED.failed;
    END IF;
END;
$$;

-- Re-derive one unit's position from open_unit_positions; move its count when it changed. Generic plans: planning
-- the view costs ~1.5 ms, running its plan for one unit ~0.1 ms, and the plan cache would keep choosing custom
-- plans for it (re-planned on every call).
CREATE FUNCTION mes_refresh_unit(p_kind text, p_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    old_pos record;
    new_pos record;
BEGIN
    IF p_id IS NULL THEN
        RETURN;
    END IF;
    SELECT lot_id, process_id, state INTO old_pos
      FROM unit_wip_positions WHERE unit_kind = p_kind AND unit_id = p_id FOR UPDATE;
    SELECT lot_id, process_id, state INTO new_pos
      FROM open_unit_positions WHERE unit_kind = p_kind AND unit_id = p_id;
    IF old_pos.lot_id IS NOT DISTINCT FROM new_pos.lot_id
       AND old_pos.process_id IS NOT DISTINCT FROM new_pos.process_id
       AND old_pos.state IS NOT DISTINCT FROM new_pos.state THEN
        RETURN;
    END IF;
    IF old_pos.lot_id IS NOT NULL THEN
        PERFORM lot_process_wip_add(old_pos.lot_id, old_pos.process_id,
                                    -(old_pos.state = 'IN_PROCESS')::int, -(old_pos.state = 'WAITING')::int,
                                    -(old_pos.state = 'FAILED')::int);
    END IF;
    IF new_pos.lot_id IS NULL THEN
        DELETE FROM unit_wip_positions WHERE unit_kind = p_kind AND unit_id = p_id;
    ELSE
        PERFORM lot_process_wip_add(new_pos.lot_id, new_pos.process_id,
                                    (new_pos.state = 'IN_PROCESS')::int, (new_pos.state = 'WAITING')::int,
                                    (new_pos.state = 'FAILED')::int);
        INSERT INTO unit_wip_positions (unit_kind, unit_id, lot_id, process_id, state)
        VALUES (p_kind, p_id, new_pos.lot_id, new_pos.process_id, new_pos.state)
        ON CONFLICT (unit_kind, unit_id) DO UPDATE
            SET lot_id = EXCLUDED.lot_id, process_id = EXCLUDED.process_id, state = EXCLUDED.state;
    END IF;
END;
$$;

-- wip_items / serials: per-status deltas of the lot's counts, and the unit's position (a WIP item's serial
-- link changes the serial's records, so its position too).
CREATE FUNCTION count_unit_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    prefix text := CASE TG_TABLE_NAME WHEN 'wip_items' THEN 'wip_' ELSE 'serial_' END;
    kind   text := CASE TG_TABLE_NAME WHEN 'wip_items' THEN 'WIP' ELSE 'SERIAL' END;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND (TG_OP = 'DELETE' OR OLD.status IS DISTINCT FROM NEW.status
                                          OR OLD.lot_id IS DISTINCT FROM NEW.lot_id) THEN
        EXECUTE format('UPDATE lot_unit_counts SET %1$I = %1$I - 1 WHERE lot_id = $1', prefix || lower(OLD.status))
          USING OLD.lot_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status
                                          OR OLD.lot_id IS DISTINCT FROM NEW.lot_id) THEN
        EXECUTE format('INSERT INTO lot_unit_counts AS c (lot_id, %1$I) VALUES ($1, 1) '
                       'ON CONFLICT (lot_id) DO UPDATE SET %1$I = c.%1$I + 1', prefix || lower(NEW.status))
          USING NEW.lot_id;
    END IF;
    IF TG_OP = 'DELETE' THEN
        PERFORM mes_refresh_unit(kind, OLD.id);
    ELSE
        PERFORM mes_refresh_unit(kind, NEW.id);
    END IF;
    IF TG_TABLE_NAME = 'wip_items' THEN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            PERFORM mes_refresh_unit('SERIAL', OLD.serial_id);
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.serial_id IS DISTINCT FROM OLD.serial_id THEN
            PERFORM mes_refresh_unit('SERIAL', NEW.serial_id);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

-- process_data: the positions of the units whose records changed (LOT-level records touch no unit).
CREATE FUNCTION count_process_data_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    old_serial bigint;
    new_serial bigint;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.data_level <> 'LOT' THEN
        old_serial := COALESCE(OLD.serial_id, (SELECT w.serial_id FROM wip_items w WHERE w.id = OLD.wip_id));
        PERFORM mes_refresh_unit('WIP', OLD.wip_id);
        PERFORM mes_refresh_unit('SERIAL', old_serial);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.data_level <> 'LOT' THEN
        new_serial := COALESCE(NEW.serial_id, (SELECT w.serial_id FROM wip_items w WHERE w.id = NEW.wip_id));
        IF TG_OP = 'INSERT' OR NEW.wip_id IS DISTINCT FROM OLD.wip_id OR OLD.data_level = 'LOT' THEN
            PERFORM mes_refresh_unit('WIP', NEW.wip_id);
        END IF;
        IF TG_OP = 'INSERT' OR new_serial IS DISTINCT FROM old_serial OR OLD.data_level = 'LOT' THEN
            PERFORM mes_refresh_unit('SERIAL', new_serial);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

-- processes: activating, deactivating or reordering processes moves the waiting units (only they depend on it).
CREATE FUNCTION count_process_route_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM mes_refresh_unit(p.unit_kind, p.unit_id)
       FROM (SELECT unit_kind, unit_id FROM unit_wip_positions WHERE state = 'WAITING' ORDER BY unit_kind, unit_id) p;
    RETURN NULL;
END;
$$;

-- Recompute every counter from the units and their records (the backfill; bulk loads with the triggers off).
CREATE FUNCTION mes_rebuild_counters() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM lot_process_wip;
    DELETE FROM unit_wip_positions;
    DELETE FROM lot_unit_counts;
    INSERT INTO lot_unit_counts (lot_id, wip_created, wip_in_progress, wip_failed, wip_converted, wip_scrapped,
                                 serial_created, serial_in_progress, serial_failed, serial_completed, serial_scrapped)
    SELECT lot_id, sum(wc), sum(wi), sum(wf), sum(wv), sum(ws), sum(sc), sum(si), sum(sf), sum(sd), sum(ss)
      FROM (SELECT lot_id, count(*) FILTER (WHERE status = 'CREATED') AS wc,
                   count(*) FILTER (WHERE status = 'IN_PROGRESS') AS wi,
                   count(*) FILTER (WHERE status = 'FAILED') AS wf,
                   count(*) FILTER (WHERE status = 'CONVERTED') AS wv,
                   count(*) FILTER (WHERE status = 'SCRAPPED') AS ws,
                   0 AS sc, 0 AS si, 0 AS sf, 0 AS sd, 0 AS ss
              FROM wip_items GROUP BY lot_id
            UNION ALL
            SELECT lot_id, 0, 0, 0, 0, 0,
                   count(*) FILTER (WHERE status = 'CREATED'),
                   count(*) FILTER (WHERE status = 'IN_PROGRESS'),
                   count(*) FILTER (WHERE status = 'FAILED'),
                   count(*) FILTER (WHERE status = 'COMPLETED'),
                   count(*) FILTER (WHERE status = 'SCRAPPED')
              FROM serials GROUP BY lot_id) t
     GROUP BY lot_id;
    INSERT INTO unit_wip_positions (unit_kind, unit_id, lot_id, process_id, state)
    SELECT unit_kind, unit_id, lot_id, process_id, state FROM open_unit_positions;
    INSERT INTO lot_process_wip (lot_id, process_id, in_process, waiting, failed)
    SELECT lot_id, process_id, count(*) FILTER (WHERE state = 'IN_PROCESS'), count(*) FILTER (WHERE state = 'WAITING'),
           count(*) FILTER (WHERE state = 'FAILED')
      FROM unit_wip_positions WHERE process_id IS NOT NULL
     GROUP BY lot_id, process_id;
END;
$$;
REVOKE EXECUTE ON FUNCTION mes_rebuild_counters() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION mes_refresh_unit(text, bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION lot_process_wip_add(bigint, bigint, bigint, bigint, bigint) FROM PUBLIC;

CREATE TRIGGER trg_wip_items_counts AFTER INSERT OR DELETE OR UPDATE OF status, lot_id, serial_id ON wip_items
    FOR EACH ROW EXECUTE FUNCTION count_unit_change();
CREATE TRIGGER trg_serials_counts AFTER INSERT OR DELETE OR UPDATE OF status, lot_id ON serials
    FOR EACH ROW EXECUTE FUNCTION count_unit_change();
CREATE TRIGGER trg_process_data_counts AFTER INSERT OR DELETE OR UPDATE OF wip_id, serial_id, process_id, data_level, result, completed_at, started_at ON process_data
    FOR EACH ROW EXECUTE FUNCTION count_process_data_change();
CREATE TRIGGER trg_processes_counts AFTER INSERT OR DELETE OR UPDATE OF is_active, process_number ON processes
    FOR EACH STATEMENT EXECUTE FUNCTION count_process_route_change();

SELECT mes_rebuild_counters();

GRANT SELECT ON lot_unit_counts, unit_wip_positions, lot_process_wip, open_unit_positions TO neurohub_app;
