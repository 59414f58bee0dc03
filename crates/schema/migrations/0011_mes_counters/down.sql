-- Down 0010: back to the 0009 schema. The counters are derived data (the next up of 0010 recomputes them from
-- the units and their records), so nothing is archived.
DROP TRIGGER trg_processes_counts ON processes;
DROP TRIGGER trg_process_data_counts ON process_data;
DROP TRIGGER trg_serials_counts ON serials;
DROP TRIGGER trg_wip_items_counts ON wip_items;
DROP FUNCTION mes_rebuild_counters();
DROP FUNCTION count_process_route_change();
DROP FUNCTION count_process_data_change();
DROP FUNCTION count_unit_change();
DROP FUNCTION mes_refresh_unit(text, bigint);
DROP FUNCTION lot_process_wip_add(bigint, bigint, bigint, bigint, bigint);
DROP VIEW open_unit_positions;
DROP TABLE lot_process_wip, unit_wip_positions, lot_unit_counts;
