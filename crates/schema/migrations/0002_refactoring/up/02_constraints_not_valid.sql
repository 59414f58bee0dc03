-- 0002 refactoring (seed 001): the named CHECKs of process_data and the FKs re-created with
-- ON DELETE RESTRICT ON UPDATE CASCADE. Everything is added NOT VALID: this takes only a brief lock and does not
-- scan the (possibly large) tables; the next step VALIDATEs them under a lock that does not block writes.
-- Dropping and re-adding each FK happens in this one transaction, so no other session ever sees it missing.

ALTER TABLE process_data
    ADD CONSTRAINT chk_process_data_data_level CHECK (data_level IN ('LOT', 'WIP', 'SERIAL')) NOT VALID,
    ADD CONSTRAINT chk_process_data_result CHECK (result IN ('PASS', 'FAIL', 'REWORK')) NOT VALID,
    -- wip_id only arrives in 0003, so this version can only speak of serial_id; 0003 replaces it with the
    -- WIP-aware rule (LOT: no serial, no wip; WIP: wip set, serial null; SERIAL: serial set).
    ADD CONSTRAINT chk_process_data_wip_serial_consistency CHECK (
        (data_level IN ('LOT', 'WIP') AND serial_id IS NULL) OR (data_level = 'SERIAL' AND serial_id IS NOT NULL)
    ) NOT VALID,
    ADD CONSTRAINT chk_process_data_duration CHECK (duration_seconds >= 0) NOT VALID,
    ADD CONSTRAINT chk_process_data_timestamps CHECK (completed_at >= started_at) NOT VALID;

ALTER TABLE lots DROP CONSTRAINT fk_lots_product_model,
    ADD CONSTRAINT fk_lots_product_model FOREIGN KEY (product_model_id) REFERENCES product_models (id)
        ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
ALTER TABLE serials DROP CONSTRAINT fk_serials_lot,
    ADD CONSTRAINT fk_serials_lot FOREIGN KEY (lot_id) REFERENCES lots (id)
        ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
ALTER TABLE process_data DROP CONSTRAINT fk_process_data_lot,
    ADD CONSTRAINT fk_process_data_lot FOREIGN KEY (lot_id) REFERENCES lots (id)
        ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
ALTER TABLE process_data DROP CONSTRAINT fk_process_data_serial,
    ADD CONSTRAINT fk_process_data_serial FOREIGN KEY (serial_id) REFERENCES serials (id)
        ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
ALTER TABLE process_data DROP CONSTRAINT fk_process_data_process,
    ADD CONSTRAINT fk_process_data_process FOREIGN KEY (process_id) REFERENCES processes (id)
        ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
ALTER TABLE process_data DROP CONSTRAINT fk_process_data_operator,
    ADD CONSTRAINT fk_process_data_operator FOREIGN KEY (operator_id) REFERENCES users (id)
        ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
