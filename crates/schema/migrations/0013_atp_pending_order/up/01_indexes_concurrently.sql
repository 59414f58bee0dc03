-- 0013 atp pending order, step 1 of 1: the pending list's keyset order (due_at, id) for one assignee's ACTIVE
-- stages, read in index order so a page stops after its LIMIT. The 0006 index ended at due_at, so the tie-break
-- on id was a sort over every ACTIVE stage of the approver (2,378 in the reference data set: 156 ms p99 of
-- GET /approvals/pending; docs/performance.md). The new index holds the old one's columns as a prefix, so the
-- old one is dropped.
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_stages_approver_due;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_stages_approver_due ON workflow_stages (workspace_id, assigned_approver_id, status, due_at, id);

DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_stages_assigned_approver;
