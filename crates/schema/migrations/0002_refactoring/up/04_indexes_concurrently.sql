-- 0002: the refactoring indexes, built without blocking writes (CREATE INDEX CONCURRENTLY cannot run in a
-- transaction, so this step is non-transactional: each statement runs on its own). Re-runnable: a failed
-- CONCURRENTLY build leaves an INVALID index behind, so each index is dropped (if present) before it is built.
DROP INDEX CONCURRENTLY IF EXISTS idx_process_data_lot;
CREATE INDEX CONCURRENTLY idx_process_data_lot ON process_data (lot_id);
DROP INDEX CONCURRENTLY IF EXISTS idx_process_data_serial;
CREATE INDEX CONCURRENTLY idx_process_data_serial ON process_data (serial_id);
DROP INDEX CONCURRENTLY IF EXISTS idx_process_data_serial_process;
CREATE INDEX CONCURRENTLY idx_process_data_serial_process ON process_data (serial_id, process_id);
DROP INDEX CONCURRENTLY IF EXISTS idx_process_data_measurements;
CREATE INDEX CONCURRENTLY idx_process_data_measurements ON process_data USING gin (measurements);
DROP INDEX CONCURRENTLY IF EXISTS idx_process_data_defects;
CREATE INDEX CONCURRENTLY idx_process_data_defects ON process_data USING gin (defects);
