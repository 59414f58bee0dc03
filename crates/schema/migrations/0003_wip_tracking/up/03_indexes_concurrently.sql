-- 0003: indexes on the existing populated tables, built without blocking writes (non-transactional step,
-- re-runnable: an INVALID leftover of a failed build is dropped first).
DROP INDEX CONCURRENTLY IF EXISTS idx_lots_production_line;
CREATE INDEX CONCURRENTLY idx_lots_production_line ON lots (production_line_id);
DROP INDEX CONCURRENTLY IF EXISTS idx_process_data_wip;
CREATE INDEX CONCURRENTLY idx_process_data_wip ON process_data (wip_id);
-- at most one open record per WIP unit and process
DROP INDEX CONCURRENTLY IF EXISTS idx_process_data_wip_unique;
CREATE UNIQUE INDEX CONCURRENTLY idx_process_data_wip_unique ON process_data (wip_id, process_id) WHERE completed_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS idx_process_data_equipment;
CREATE INDEX CONCURRENTLY idx_process_data_equipment ON process_data (equipment_id, started_at);
