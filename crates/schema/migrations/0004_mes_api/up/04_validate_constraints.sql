-- 0004: validate the CHECKs of the previous step (SHARE UPDATE EXCLUSIVE: writes keep flowing).
ALTER TABLE lots VALIDATE CONSTRAINT chk_lots_lot_number_format;
ALTER TABLE lots VALIDATE CONSTRAINT chk_lots_target_quantity;
ALTER TABLE serials VALIDATE CONSTRAINT chk_serials_serial_number_format;
ALTER TABLE serials VALIDATE CONSTRAINT chk_serials_rework_count;
ALTER TABLE serials VALIDATE CONSTRAINT chk_serials_scrap_reason;
ALTER TABLE wip_items VALIDATE CONSTRAINT chk_wip_items_wip_id_format;
ALTER TABLE wip_items VALIDATE CONSTRAINT chk_wip_items_scrap_reason;
ALTER TABLE users VALIDATE CONSTRAINT chk_users_failed_login_count;
ALTER TABLE process_data VALIDATE CONSTRAINT chk_process_data_completion;
ALTER TABLE process_data VALIDATE CONSTRAINT chk_process_data_defects_by_result;
ALTER TABLE process_data VALIDATE CONSTRAINT chk_process_data_attempt;
