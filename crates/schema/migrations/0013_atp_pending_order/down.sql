-- Down 0013: back to the 0012 schema (the 0006 index of the assignee's stages). Indexes only: no row changes.
CREATE INDEX idx_workflow_stages_assigned_approver ON workflow_stages (workspace_id, assigned_approver_id, status, due_at);
DROP INDEX idx_workflow_stages_approver_due;
