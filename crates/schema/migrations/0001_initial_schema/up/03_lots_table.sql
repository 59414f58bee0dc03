-- 0001 initial_schema, seed 000 STEP 4 (group B): lots, FK product_model_id -> product_models.
CREATE TABLE lots (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lot_number       VARCHAR(20) NOT NULL,
    product_model_id BIGINT      NOT NULL,
    production_date  DATE        NOT NULL DEFAULT CURRENT_DATE,
    shift            VARCHAR(10),
    target_quantity  INTEGER     NOT NULL,
    status           VARCHAR(20) NOT NULL DEFAULT 'CREATED',
    notes            TEXT,
    started_at       TIMESTAMP,
    completed_at     TIMESTAMP,
    closed_at        TIMESTAMP,
    created_at       TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at       TIMESTAMP   NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT uq_lots_lot_number UNIQUE (lot_number),
    CONSTRAINT chk_lots_status CHECK (status IN ('CREATED', 'IN_PROGRESS', 'ON_HOLD', 'COMPLETED', 'CLOSED')),
    CONSTRAINT fk_lots_product_model FOREIGN KEY (product_model_id) REFERENCES product_models (id)
);
CREATE INDEX idx_lots_product_model ON lots (product_model_id);
CREATE INDEX idx_lots_status ON lots (status, id);
CREATE INDEX idx_lots_production_date ON lots (production_date);
CREATE INDEX idx_lots_created_at ON lots (created_at);
CREATE TRIGGER trg_lots_updated_at BEFORE UPDATE ON lots
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();

DO $$
BEGIN
    IF to_regclass('neurohub_archive.v0001_lots') IS NOT NULL THEN
        PERFORM neurohub_archive.restore_table('public.lots', 'v0001_lots');
    END IF;
END;
$$;
