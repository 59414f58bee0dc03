-- 0001 initial_schema, seed 000 STEP 6 (group D): process_data, FKs lot_id, serial_id, process_id, operator_id.
-- Original shape: measurements / defects are JSON and there are no named CHECKs yet; 0002 fixes both and adds
-- the lot / serial indexes (built CONCURRENTLY there).
CREATE TABLE process_data (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lot_id           BIGINT      NOT NULL,
    serial_id        BIGINT,
    process_id       BIGINT      NOT NULL,
    operator_id      BIGINT      NOT NULL,
    data_level       VARCHAR(10) NOT NULL,
    result           VARCHAR(10),
    measurements     JSON,
    defects          JSON,
    notes            TEXT,
    started_at       TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    completed_at     TIMESTAMP,
    duration_seconds INTEGER,
    created_at       TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at       TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT fk_process_data_lot FOREIGN KEY (lot_id) REFERENCES lots (id),
    CONSTRAINT fk_process_data_serial FOREIGN KEY (serial_id) REFERENCES serials (id),
    CONSTRAINT fk_process_data_process FOREIGN KEY (process_id) REFERENCES processes (id),
    CONSTRAINT fk_process_data_operator FOREIGN KEY (operator_id) REFERENCES users (id)
);
CREATE INDEX idx_process_data_process ON process_data (process_id, started_at);
CREATE INDEX idx_process_data_operator ON process_data (operator_id, started_at);
CREATE INDEX idx_process_data_started_at ON process_data (started_at);
CREATE INDEX idx_process_data_data_level ON process_data (data_level);
CREATE INDEX idx_process_data_result ON process_data (result);
CREATE TRIGGER trg_process_data_updated_at BEFORE UPDATE ON process_data
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();

DO $$
BEGIN
    IF to_regclass('neurohub_archive.v0001_process_data') IS NOT NULL THEN
        PERFORM neurohub_archive.restore_table('public.process_data', 'v0001_process_data');
    END IF;
END;
$$;
