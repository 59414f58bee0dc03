-- 0002: validate what the previous step added NOT VALID (SHARE UPDATE EXCLUSIVE: reads and writes go on).
ALTER TABLE process_data VALIDATE CONSTRAINT chk_process_data_data_level;
ALTER TABLE process_data VALIDATE CONSTRAINT chk_process_data_result;
ALTER TABLE process_data VALIDATE CONSTRAINT chk_process_data_wip_serial_consistency;
ALTER TABLE process_data VALIDATE CONSTRAINT chk_process_data_duration;
ALTER TABLE process_data VALIDATE CONSTRAINT chk_process_data_timestamps;
ALTER TABLE lots VALIDATE CONSTRAINT fk_lots_product_model;
ALTER TABLE serials VALIDATE CONSTRAINT fk_serials_lot;
ALTER TABLE process_data VALIDATE CONSTRAINT fk_process_data_lot;
ALTER TABLE process_data VALIDATE CONSTRAINT fk_process_data_serial;
ALTER TABLE process_data VALIDATE CONSTRAINT fk_process_data_process;
ALTER TABLE process_data VALIDATE CONSTRAINT fk_process_data_operator;
