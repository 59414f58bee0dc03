-- 0009 atp delegation, step 3 of 3: the keyset orders of the override and absence lists (newest first).
DROP INDEX CONCURRENTLY IF EXISTS idx_approver_overrides_created;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approver_overrides_created ON approver_overrides (workspace_id, created_at, id);

DROP INDEX CONCURRENTLY IF EXISTS idx_approver_absences_starts;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approver_absences_starts ON approver_absences (workspace_id, starts_at, id);
