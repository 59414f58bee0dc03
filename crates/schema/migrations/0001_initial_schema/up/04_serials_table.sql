-- 0001 initial_schema, seed 000 STEP 5 (group C): serials, FK lot_id -> lots.
CREATE TABLE serials (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    serial_number   VARCHAR(30) NOT NULL,
    lot_id          BIGINT      NOT NULL,
    sequence_in_lot INTEGER     NOT NULL,
    status          VARCHAR(20) NOT NULL DEFAULT 'CREATED',
    completed_at    TIMESTAMP,
    created_at      TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at      TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT uq_serials_serial_number UNIQUE (serial_number),
    CONSTRAINT uq_serials_lot_sequence UNIQUE (lot_id, sequence_in_lot),
    CONSTRAINT chk_serials_status CHECK (status IN ('CREATED', 'IN_PROGRESS', 'FAILED', 'COMPLETED', 'SCRAPPED')),
    CONSTRAINT chk_serials_sequence_in_lot CHECK (sequence_in_lot BETWEEN 1 AND 999),
    CONSTRAINT fk_serials_lot FOREIGN KEY (lot_id) REFERENCES lots (id)
);
CREATE INDEX idx_serials_lot_status ON serials (lot_id, status);
CREATE INDEX idx_serials_status ON serials (status);
CREATE INDEX idx_serials_created_at ON serials (created_at);
CREATE TRIGGER trg_serials_updated_at BEFORE UPDATE ON serials
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();

DO $$
BEGIN
    IF to_regclass('neurohub_archive.v0001_serials') IS NOT NULL THEN
        PERFORM neurohub_archive.restore_table('public.serials', 'v0001_serials');
    END IF;
END;
$$;
