-- 0004: at most one OPEN record per (serial, process) and per (lot, process) for lot-level records, and the
-- completion-time index of GET /dashboard (records completed on a day), built without blocking writes
-- (non-transactional, re-runnable: an INVALID leftover is dropped first).
DROP INDEX CONCURRENTLY IF EXISTS idx_process_data_serial_open_unique;
CREATE UNIQUE INDEX CONCURRENTLY idx_process_data_serial_open_unique ON process_data (serial_id, process_id) WHERE completed_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS idx_process_data_lot_open_unique;
CREATE UNIQUE INDEX CONCURRENTLY idx_process_data_lot_open_unique ON process_data (lot_id, process_id) WHERE data_level = 'LOT' AND completed_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS idx_process_data_completed_at;
CREATE INDEX CONCURRENTLY idx_process_data_completed_at ON process_data (completed_at) WHERE completed_at IS NOT NULL;
