-- 0003 wip_tracking (seed 001): production lines, equipment and WIP units (a lot's units before they become
-- serials), plus lots.production_line_id, process_data.wip_id and process_data.equipment_id.
-- New tables are created with their indexes here (they are empty, or just restored, and nobody else can see
-- them before this commits). New FKs on the existing populated tables are added NOT VALID and validated in the
-- next step; their indexes are built CONCURRENTLY in step 3.

CREATE TABLE production_lines (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    country_code CHAR(2)      NOT NULL,
    line_code    CHAR(2)      NOT NULL,
    name         VARCHAR(100) NOT NULL,
    is_active    BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT uq_production_lines_country_line UNIQUE (country_code, line_code),
    CONSTRAINT chk_production_lines_country_code CHECK (country_code ~ '^[A-Z]{2}$'),
    CONSTRAINT chk_production_lines_line_code CHECK (line_code ~ '^[0-9]{2}$')
);
CREATE INDEX idx_production_lines_is_active ON production_lines (is_active);

CREATE TABLE equipment (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    equipment_code     VARCHAR(50)  NOT NULL,
    name               VARCHAR(200) NOT NULL,
    equipment_type     VARCHAR(50),
    process_id         BIGINT,
    production_line_id BIGINT,
    status             VARCHAR(20)  NOT NULL DEFAULT 'AVAILABLE',
    is_active          BOOLEAN      NOT NULL DEFAULT TRUE,
    last_calibrated_at TIMESTAMPTZ,
    created_at         TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT uq_equipment_equipment_code UNIQUE (equipment_code),
    CONSTRAINT chk_equipment_status CHECK (status IN ('AVAILABLE', 'IN_USE', 'MAINTENANCE', 'OUT_OF_SERVICE')),
    CONSTRAINT fk_equipment_process FOREIGN KEY (process_id) REFERENCES processes (id)
        ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_equipment_production_line FOREIGN KEY (production_line_id) REFERENCES production_lines (id)
        ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX idx_equipment_process ON equipment (process_id);
CREATE INDEX idx_equipment_production_line ON equipment (production_line_id);
CREATE INDEX idx_equipment_status ON equipment (status);

CREATE TABLE wip_items (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    wip_id             VARCHAR(30) NOT NULL,
    lot_id             BIGINT      NOT NULL,
    sequence_in_lot    INTEGER     NOT NULL,
    status             VARCHAR(20) NOT NULL DEFAULT 'CREATED',
    current_process_id BIGINT,
    serial_id          BIGINT,
    rework_count       INTEGER     NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uq_wip_items_wip_id UNIQUE (wip_id),
    CONSTRAINT uq_wip_items_lot_sequence UNIQUE (lot_id, sequence_in_lot),
    CONSTRAINT uq_wip_items_serial UNIQUE (serial_id),
    CONSTRAINT chk_wip_items_status CHECK (status IN ('CREATED', 'IN_PROGRESS', 'FAILED', 'CONVERTED', 'SCRAPPED')),
    CONSTRAINT chk_wip_items_sequence_in_lot CHECK (sequence_in_lot BETWEEN 1 AND 999),
    CONSTRAINT chk_wip_items_rework_count CHECK (rework_count >= 0),
    CONSTRAINT chk_wip_items_converted_serial CHECK (status <> 'CONVERTED' OR serial_id IS NOT NULL),
    CONSTRAINT fk_wip_items_lot FOREIGN KEY (lot_id) REFERENCES lots (id) ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_wip_items_current_process FOREIGN KEY (current_process_id) REFERENCES processes (id)
        ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT fk_wip_items_serial FOREIGN KEY (serial_id) REFERENCES serials (id) ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX idx_wip_items_lot_status ON wip_items (lot_id, status);
CREATE INDEX idx_wip_items_current_process ON wip_items (current_process_id);
CREATE INDEX idx_wip_items_status ON wip_items (status);

ALTER TABLE lots ADD COLUMN production_line_id BIGINT;
ALTER TABLE process_data ADD COLUMN wip_id BIGINT, ADD COLUMN equipment_id BIGINT;

-- rows archived by `migrate down --to 2` (or lower) come back before audit triggers and FKs are attached
DO $$
BEGIN
    IF to_regnamespace('neurohub_archive') IS NOT NULL THEN
        PERFORM neurohub_archive.restore_table('public.production_lines', 'v0003_production_lines');
        PERFORM neurohub_archive.restore_table('public.equipment', 'v0003_equipment');
        PERFORM neurohub_archive.restore_table('public.wip_items', 'v0003_wip_items');
        PERFORM neurohub_archive.restore_columns('public.lots', 'v0003_lots_cols');
        PERFORM neurohub_archive.restore_columns('public.process_data', 'v0003_process_data_cols');
    END IF;
END;
$$;

CREATE TRIGGER trg_production_lines_updated_at BEFORE UPDATE ON production_lines
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();
CREATE TRIGGER trg_production_lines_audit AFTER INSERT OR UPDATE OR DELETE ON production_lines
    FOR EACH ROW EXECUTE FUNCTION log_audit_event();
CREATE TRIGGER trg_equipment_updated_at BEFORE UPDATE ON equipment
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();
CREATE TRIGGER trg_equipment_audit AFTER INSERT OR UPDATE OR DELETE ON equipment
    FOR EACH ROW EXECUTE FUNCTION log_audit_event();
CREATE TRIGGER trg_wip_items_updated_at BEFORE UPDATE ON wip_items
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();
CREATE TRIGGER trg_wip_items_audit AFTER INSERT OR UPDATE OR DELETE ON wip_items
    FOR EACH ROW EXECUTE FUNCTION log_audit_event();

ALTER TABLE lots
    ADD CONSTRAINT fk_lots_production_line FOREIGN KEY (production_line_id) REFERENCES production_lines (id)
        ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
ALTER TABLE process_data
    ADD CONSTRAINT fk_process_data_wip FOREIGN KEY (wip_id) REFERENCES wip_items (id)
        ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID,
    ADD CONSTRAINT fk_process_data_equipment FOREIGN KEY (equipment_id) REFERENCES equipment (id)
        ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID,
    -- Replaces 0002's serial-only version, now that wip_id exists:
    -- LOT: no serial, no wip; WIP: wip set, serial null; SERIAL: serial set.
    DROP CONSTRAINT chk_process_data_wip_serial_consistency,
    ADD CONSTRAINT chk_process_data_wip_serial_consistency CHECK (
        (data_level = 'LOT' AND serial_id IS NULL AND wip_id IS NULL)
        OR (data_level = 'WIP' AND wip_id IS NOT NULL AND serial_id IS NULL)
        OR (data_level = 'SERIAL' AND serial_id IS NOT NULL)
    ) NOT VALID;
