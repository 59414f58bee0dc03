-- 0003: validate the constraints added NOT VALID by the previous step (writes keep flowing meanwhile).
-- Note: process_data rows at data_level WIP written before 0003 have no wip_id and fail the new consistency
-- rule; they must be linked to their wip_items (or re-levelled) before this step can pass.
ALTER TABLE lots VALIDATE CONSTRAINT fk_lots_production_line;
ALTER TABLE process_data VALIDATE CONSTRAINT fk_process_data_wip;
ALTER TABLE process_data VALIDATE CONSTRAINT fk_process_data_equipment;
ALTER TABLE process_data VALIDATE CONSTRAINT chk_process_data_wip_serial_consistency;
