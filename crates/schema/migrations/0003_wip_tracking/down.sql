-- Down 0003: back to the 0002 schema. Rows of the dropped tables and values of the dropped columns are archived
-- into neurohub_archive (restored by the next up of 0003); every other row stays.
SELECT neurohub_archive.archive_table('public.process_data', 'v0003_process_data_cols', ARRAY['wip_id', 'equipment_id']);
SELECT neurohub_archive.archive_table('public.lots', 'v0003_lots_cols', ARRAY['production_line_id']);
SELECT neurohub_archive.archive_table('public.wip_items', 'v0003_wip_items');
SELECT neurohub_archive.archive_table('public.equipment', 'v0003_equipment');
SELECT neurohub_archive.archive_table('public.production_lines', 'v0003_production_lines');

ALTER TABLE process_data
    DROP CONSTRAINT chk_process_data_wip_serial_consistency,
    DROP COLUMN wip_id,        -- with fk_process_data_wip, idx_process_data_wip, idx_process_data_wip_unique
    DROP COLUMN equipment_id;  -- with fk_process_data_equipment, idx_process_data_equipment
-- 0002's serial-only rule, as 0002 left it (validated)
ALTER TABLE process_data
    ADD CONSTRAINT chk_process_data_wip_serial_consistency CHECK (
        (data_level IN ('LOT', 'WIP') AND serial_id IS NULL) OR (data_level = 'SERIAL' AND serial_id IS NOT NULL)
    );
ALTER TABLE lots DROP COLUMN production_line_id;  -- with fk_lots_production_line, idx_lots_production_line

DROP TABLE wip_items;
DROP TABLE equipment;
DROP TABLE production_lines;
