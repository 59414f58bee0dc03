-- 0008 atp notifications, step 2 of 2: one SLA breach (and one escalation) per stage activation, held by the
-- database. The SLA sweep guards with `breached_at IS NULL`; this index makes a second SLA_BREACH / ESCALATE
-- action for the same activation (its due_at) impossible whatever the writer. A stage resumed after a rejection
-- is activated again with a new due_at and may breach again.
-- The predicate is two equalities, not `action IN (...)`: on a VARCHAR column the IN form deparses differently
-- after a pg_dump / restore (the casts move inside the array), and verify would see the restored index as changed.
DROP INDEX CONCURRENTLY IF EXISTS uq_workflow_stage_actions_sla_once;
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS uq_workflow_stage_actions_sla_once ON workflow_stage_actions (workspace_id, workflow_stage_id, action, (payload ->> 'due_at')) WHERE action = 'SLA_BREACH' OR action = 'ESCALATE';
