-- Down 0004: back to the 0003 schema; dropped tables' rows and dropped columns' values are archived into
-- neurohub_archive (restored by the next up of 0004).
DROP INDEX idx_process_data_serial_open_unique;
DROP INDEX idx_process_data_lot_open_unique;
DROP INDEX idx_process_data_completed_at;

DROP TRIGGER trg_lots_status_transition ON lots;
DROP TRIGGER trg_lots_status_timestamps ON lots;
DROP TRIGGER trg_serials_status_transition ON serials;
DROP TRIGGER trg_serials_status_timestamps ON serials;
DROP TRIGGER trg_serials_lot_open ON serials;
DROP TRIGGER trg_wip_items_status_transition ON wip_items;
DROP TRIGGER trg_wip_items_lot_open ON wip_items;
DROP TRIGGER trg_process_data_duration ON process_data;
DROP TRIGGER trg_process_data_immutable ON process_data;
DROP FUNCTION prevent_completed_process_data_change();
DROP FUNCTION compute_process_data_duration();
DROP FUNCTION ensure_lot_open();
DROP FUNCTION set_status_timestamps();
DROP FUNCTION enforce_status_transition();
DROP FUNCTION ensure_audit_partitions(integer);

ALTER TABLE lots DROP CONSTRAINT chk_lots_lot_number_format, DROP CONSTRAINT chk_lots_target_quantity;
ALTER TABLE serials DROP CONSTRAINT chk_serials_serial_number_format;
ALTER TABLE wip_items DROP CONSTRAINT chk_wip_items_wip_id_format;
ALTER TABLE process_data
    DROP CONSTRAINT chk_process_data_completion,
    DROP CONSTRAINT chk_process_data_defects_by_result;

SELECT neurohub_archive.archive_table('public.lot_sequences', 'v0004_lot_sequences');
SELECT neurohub_archive.archive_table('public.idempotency_keys', 'v0004_idempotency_keys');
SELECT neurohub_archive.archive_table('public.refresh_tokens', 'v0004_refresh_tokens');
SELECT neurohub_archive.archive_table('public.users', 'v0004_users_cols', ARRAY['failed_login_count', 'locked_until']);
SELECT neurohub_archive.archive_table('public.serials', 'v0004_serials_cols', ARRAY['rework_count', 'scrap_reason']);
SELECT neurohub_archive.archive_table('public.wip_items', 'v0004_wip_items_cols', ARRAY['scrap_reason']);
SELECT neurohub_archive.archive_table('public.process_data', 'v0004_process_data_cols', ARRAY['criteria_check', 'criteria_passed', 'attempt']);

DROP TABLE lot_sequences;
DROP TABLE idempotency_keys;
DROP TABLE refresh_tokens;
ALTER TABLE users DROP COLUMN failed_login_count, DROP COLUMN locked_until;  -- with chk_users_failed_login_count
ALTER TABLE serials DROP COLUMN rework_count, DROP COLUMN scrap_reason;        -- with their CHECKs
ALTER TABLE wip_items DROP COLUMN scrap_reason;                               -- with chk_wip_items_scrap_reason
ALTER TABLE process_data DROP COLUMN criteria_check, DROP COLUMN criteria_passed, DROP COLUMN attempt;
