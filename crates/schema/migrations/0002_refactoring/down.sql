-- Down 0002: back to the original 0001 shape (TIMESTAMP, JSON, FKs without actions, no named CHECKs, no
-- refactoring indexes). No table or column is dropped, so every row stays where it is.
SET LOCAL TimeZone = 'UTC';

DROP INDEX idx_process_data_lot;
DROP INDEX idx_process_data_serial;
DROP INDEX idx_process_data_serial_process;
DROP INDEX idx_process_data_measurements;
DROP INDEX idx_process_data_defects;

ALTER TABLE process_data
    DROP CONSTRAINT chk_process_data_data_level,
    DROP CONSTRAINT chk_process_data_result,
    DROP CONSTRAINT chk_process_data_wip_serial_consistency,
    DROP CONSTRAINT chk_process_data_duration,
    DROP CONSTRAINT chk_process_data_timestamps;

ALTER TABLE product_models
    ALTER COLUMN created_at TYPE TIMESTAMP,
    ALTER COLUMN created_at SET DEFAULT CURRENT_TIMESTAMP,
    ALTER COLUMN updated_at TYPE TIMESTAMP,
    ALTER COLUMN updated_at SET DEFAULT CURRENT_TIMESTAMP;

ALTER TABLE processes
    ALTER COLUMN created_at TYPE TIMESTAMP,
    ALTER COLUMN created_at SET DEFAULT CURRENT_TIMESTAMP,
    ALTER COLUMN updated_at TYPE TIMESTAMP,
    ALTER COLUMN updated_at SET DEFAULT CURRENT_TIMESTAMP;

ALTER TABLE users
    ALTER COLUMN last_login_at TYPE TIMESTAMP,
    ALTER COLUMN created_at TYPE TIMESTAMP,
    ALTER COLUMN created_at SET DEFAULT CURRENT_TIMESTAMP,
    ALTER COLUMN updated_at TYPE TIMESTAMP,
    ALTER COLUMN updated_at SET DEFAULT CURRENT_TIMESTAMP;

ALTER TABLE lots
    ALTER COLUMN started_at TYPE TIMESTAMP,
    ALTER COLUMN completed_at TYPE TIMESTAMP,
    ALTER COLUMN closed_at TYPE TIMESTAMP,
    ALTER COLUMN created_at TYPE TIMESTAMP,
    ALTER COLUMN created_at SET DEFAULT CURRENT_TIMESTAMP,
    ALTER COLUMN updated_at TYPE TIMESTAMP,
    ALTER COLUMN updated_at SET DEFAULT CURRENT_TIMESTAMP;

ALTER TABLE serials
    ALTER COLUMN completed_at TYPE TIMESTAMP,
    ALTER COLUMN created_at TYPE TIMESTAMP,
    ALTER COLUMN created_at SET DEFAULT CURRENT_TIMESTAMP,
    ALTER COLUMN updated_at TYPE TIMESTAMP,
    ALTER COLUMN updated_at SET DEFAULT CURRENT_TIMESTAMP;

ALTER TABLE process_data
    ALTER COLUMN started_at TYPE TIMESTAMP,
    ALTER COLUMN started_at SET DEFAULT CURRENT_TIMESTAMP,
    ALTER COLUMN completed_at TYPE TIMESTAMP,
    ALTER COLUMN created_at TYPE TIMESTAMP,
    ALTER COLUMN created_at SET DEFAULT CURRENT_TIMESTAMP,
    ALTER COLUMN updated_at TYPE TIMESTAMP,
    ALTER COLUMN updated_at SET DEFAULT CURRENT_TIMESTAMP,
    ALTER COLUMN measurements TYPE JSON USING measurements::json,
    ALTER COLUMN defects TYPE JSON USING defects::json;

-- the original FKs (no actions), validated at once

ALTER TABLE lots DROP CONSTRAINT fk_lots_product_model, ADD CONSTRAINT fk_lots_product_model FOREIGN KEY (product_model_id) REFERENCES product_models (id);

ALTER TABLE serials DROP CONSTRAINT fk_serials_lot, ADD CONSTRAINT fk_serials_lot FOREIGN KEY (lot_id) REFERENCES lots (id);

ALTER TABLE process_data DROP CONSTRAINT fk_process_data_lot, ADD CONSTRAINT fk_process_data_lot FOREIGN KEY (lot_id) REFERENCES lots (id);

ALTER TABLE process_data DROP CONSTRAINT fk_process_data_serial, ADD CONSTRAINT fk_process_data_serial FOREIGN KEY (serial_id) REFERENCES serials (id);

ALTER TABLE process_data DROP CONSTRAINT fk_process_data_process, ADD CONSTRAINT fk_process_data_process FOREIGN KEY (process_id) REFERENCES processes (id);

ALTER TABLE process_data DROP CONSTRAINT fk_process_data_operator, ADD CONSTRAINT fk_process_data_operator FOREIGN KEY (operator_id) REFERENCES users (id);
