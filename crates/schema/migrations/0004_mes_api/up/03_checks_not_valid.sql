-- 0004: the API's CHECKs, added NOT VALID (brief lock, no scan); validated by the next step.
-- Lot number: country(2) line(2) model(3) YYMM(4) seq(2), seq 01..99. Serial: lot number + 001..999.
-- WIP id: WIP-<lot number>-001..999.
ALTER TABLE lots
    ADD CONSTRAINT chk_lots_lot_number_format CHECK (
        lot_number ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{3}[0-9]{4}[0-9]{2}$' AND right(lot_number, 2) <> '00'
    ) NOT VALID,
    ADD CONSTRAINT chk_lots_target_quantity CHECK (target_quantity BETWEEN 1 AND 999) NOT VALID;
ALTER TABLE serials
    ADD CONSTRAINT chk_serials_serial_number_format CHECK (
        serial_number ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{3}[0-9]{4}[0-9]{2}[0-9]{3}$'
        AND substr(serial_number, 12, 2) <> '00' AND right(serial_number, 3) <> '000'
    ) NOT VALID,
    ADD CONSTRAINT chk_serials_rework_count CHECK (rework_count >= 0) NOT VALID,
    ADD CONSTRAINT chk_serials_scrap_reason CHECK (scrap_reason IS NULL OR char_length(scrap_reason) BETWEEN 1 AND 500) NOT VALID;
ALTER TABLE wip_items
    ADD CONSTRAINT chk_wip_items_wip_id_format CHECK (
        wip_id ~ '^WIP-[A-Z]{2}[0-9]{2}[A-Z0-9]{3}[0-9]{4}[0-9]{2}-[0-9]{3}$'
        AND substr(wip_id, 16, 2) <> '00' AND right(wip_id, 3) <> '000'
    ) NOT VALID,
    ADD CONSTRAINT chk_wip_items_scrap_reason CHECK (scrap_reason IS NULL OR char_length(scrap_reason) BETWEEN 1 AND 500) NOT VALID;
ALTER TABLE users
    ADD CONSTRAINT chk_users_failed_login_count CHECK (failed_login_count >= 0) NOT VALID;
ALTER TABLE process_data
    -- a record is open (no result) exactly while it has no completed_at
    ADD CONSTRAINT chk_process_data_completion CHECK ((result IS NULL) = (completed_at IS NULL)) NOT VALID,
    -- PASS carries no defects; FAIL carries at least one
    ADD CONSTRAINT chk_process_data_defects_by_result CHECK (
        CASE result
            WHEN 'PASS' THEN defects IS NULL OR defects = '[]'::jsonb
            WHEN 'FAIL' THEN CASE WHEN jsonb_typeof(defects) = 'array' THEN jsonb_array_length(defects) >= 1
                                  ELSE false END
            ELSE true
        END
    ) NOT VALID,
    ADD CONSTRAINT chk_process_data_attempt CHECK (attempt >= 1) NOT VALID;
