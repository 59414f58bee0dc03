-- 0006 atp, step 5 of 5 (non-transactional): the indexes, built CONCURRENTLY so that a re-deploy over populated
-- tables never blocks writes. Re-runnable: an INVALID leftover of an interrupted build is dropped first.
-- Every FK's columns lead some index (the PK or a unique constraint where it already does: masters by config
-- version through uq_*_code, stages by instance through uq_workflow_stages_stage, ...); every index on a
-- workspace-scoped table leads with workspace_id, except idx_workspace_members_user, which serves the FK to the
-- global users table (and "my workspaces").

-- fk_workspace_members_user; a user's workspaces
DROP INDEX CONCURRENTLY IF EXISTS idx_workspace_members_user;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workspace_members_user ON workspace_members (user_id);
-- sites of a cluster
DROP INDEX CONCURRENTLY IF EXISTS idx_sites_cluster_code;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_sites_cluster_code ON sites (workspace_id, cluster_code);
-- sites by region / city
DROP INDEX CONCURRENTLY IF EXISTS idx_sites_region_city;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_sites_region_city ON sites (workspace_id, region, city);
-- sites by status
DROP INDEX CONCURRENTLY IF EXISTS idx_sites_status;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_sites_status ON sites (workspace_id, status);
-- one ACTIVE config per (workspace, source type)
DROP INDEX CONCURRENTLY IF EXISTS ux_config_versions_one_active_per_workspace;
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ux_config_versions_one_active_per_workspace ON config_versions (workspace_id, source_type) WHERE status = 'ACTIVE';
-- versions by status
DROP INDEX CONCURRENTLY IF EXISTS idx_config_versions_status;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_config_versions_status ON config_versions (workspace_id, status, source_type);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_config_versions_previous_version;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_config_versions_previous_version ON config_versions (workspace_id, previous_version_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_config_versions_superseded_by;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_config_versions_superseded_by ON config_versions (workspace_id, superseded_by);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_config_versions_created_by;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_config_versions_created_by ON config_versions (workspace_id, created_by);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_config_versions_activated_by;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_config_versions_activated_by ON config_versions (workspace_id, activated_by);
-- scopes of a version by group
DROP INDEX CONCURRENTLY IF EXISTS idx_atp_scope_master_group;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_atp_scope_master_group ON atp_scope_master (workspace_id, config_version_id, scope_group);
-- vendors of a version by type
DROP INDEX CONCURRENTLY IF EXISTS idx_vendor_master_type;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_vendor_master_type ON vendor_master (workspace_id, config_version_id, vendor_type);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_approval_role_master_vendor;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approval_role_master_vendor ON approval_role_master (workspace_id, vendor_id);
-- roles of a version in hierarchy order
DROP INDEX CONCURRENTLY IF EXISTS idx_approval_role_master_hierarchy;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approval_role_master_hierarchy ON approval_role_master (workspace_id, config_version_id, hierarchy_order);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_approval_policy_master_scope;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approval_policy_master_scope ON approval_policy_master (workspace_id, scope_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_approval_policy_master_vendor;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approval_policy_master_vendor ON approval_policy_master (workspace_id, vendor_id);
-- the policy of a category in a version (workflow start)
DROP INDEX CONCURRENTLY IF EXISTS idx_approval_policy_master_category;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approval_policy_master_category ON approval_policy_master (workspace_id, config_version_id, atp_category);
-- fk; stages of a version
DROP INDEX CONCURRENTLY IF EXISTS idx_approval_policy_stages_config_version;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approval_policy_stages_config_version ON approval_policy_stages (workspace_id, config_version_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_approval_policy_stages_role;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approval_policy_stages_role ON approval_policy_stages (workspace_id, role_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_approval_policy_stages_static_user;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approval_policy_stages_static_user ON approval_policy_stages (workspace_id, static_user_id);
-- clusters of a version by region
DROP INDEX CONCURRENTLY IF EXISTS idx_cluster_master_region;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_cluster_master_region ON cluster_master (workspace_id, config_version_id, region, city);
-- fk; approvers of a cluster (routing)
DROP INDEX CONCURRENTLY IF EXISTS idx_cluster_approver_master_cluster;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_cluster_approver_master_cluster ON cluster_approver_master (workspace_id, cluster_id, role_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_cluster_approver_master_role;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_cluster_approver_master_role ON cluster_approver_master (workspace_id, role_id);
-- fk; where a user approves
DROP INDEX CONCURRENTLY IF EXISTS idx_cluster_approver_master_primary_user;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_cluster_approver_master_primary_user ON cluster_approver_master (workspace_id, primary_user_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_cluster_approver_master_backup_user;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_cluster_approver_master_backup_user ON cluster_approver_master (workspace_id, backup_user_id);
-- fk (the RESTRICT check of a version delete)
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_instances_config_version;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_instances_config_version ON workflow_instances (workspace_id, config_version_id);
-- fk; a site's workflows
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_instances_site;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_instances_site ON workflow_instances (workspace_id, site_id, started_at);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_instances_scope;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_instances_scope ON workflow_instances (workspace_id, scope_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_instances_policy;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_instances_policy ON workflow_instances (workspace_id, policy_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_instances_vendor;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_instances_vendor ON workflow_instances (workspace_id, vendor_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_instances_cluster;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_instances_cluster ON workflow_instances (workspace_id, cluster_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_instances_started_by;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_instances_started_by ON workflow_instances (workspace_id, started_by);
-- workflows by status, newest first (keyset)
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_instances_status;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_instances_status ON workflow_instances (workspace_id, status, started_at, id);
-- SLA sweep
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_instances_sla_due;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_instances_sla_due ON workflow_instances (workspace_id, sla_due_at) WHERE status = 'IN_PROGRESS' AND sla_breached_at IS NULL;
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_stages_policy_stage;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_stages_policy_stage ON workflow_stages (workspace_id, policy_stage_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_stages_role;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_stages_role ON workflow_stages (workspace_id, role_id);
-- fk; pending approvals of an assignee
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_stages_assigned_approver;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_stages_assigned_approver ON workflow_stages (workspace_id, assigned_approver_id, status, due_at);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_stages_decided_by;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_stages_decided_by ON workflow_stages (workspace_id, decided_by);
-- SLA sweep
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_stages_due;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_stages_due ON workflow_stages (workspace_id, due_at) WHERE status = 'ACTIVE' AND breached_at IS NULL;
-- fk; revision chain
DROP INDEX CONCURRENTLY IF EXISTS idx_atp_submissions_previous_submission;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_atp_submissions_previous_submission ON atp_submissions (workspace_id, previous_submission_id);
-- fk; submissions of a site by status
DROP INDEX CONCURRENTLY IF EXISTS idx_atp_submissions_site_status;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_atp_submissions_site_status ON atp_submissions (workspace_id, site_id, status);
-- submissions by status, newest first (keyset)
DROP INDEX CONCURRENTLY IF EXISTS idx_atp_submissions_status_created;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_atp_submissions_status_created ON atp_submissions (workspace_id, status, created_at, id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_atp_submissions_scope;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_atp_submissions_scope ON atp_submissions (workspace_id, scope_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_atp_submissions_vendor;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_atp_submissions_vendor ON atp_submissions (workspace_id, vendor_id);
-- fk; the submission of a workflow
DROP INDEX CONCURRENTLY IF EXISTS idx_atp_submissions_workflow_instance;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_atp_submissions_workflow_instance ON atp_submissions (workspace_id, workflow_instance_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_atp_submissions_created_by;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_atp_submissions_created_by ON atp_submissions (workspace_id, created_by);
-- fk; my submissions
DROP INDEX CONCURRENTLY IF EXISTS idx_atp_submissions_submitted_by;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_atp_submissions_submitted_by ON atp_submissions (workspace_id, submitted_by);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_atp_submissions_qa_reviewed_by;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_atp_submissions_qa_reviewed_by ON atp_submissions (workspace_id, qa_reviewed_by);
-- fk; documents of a submission
DROP INDEX CONCURRENTLY IF EXISTS idx_atp_submission_documents_submission;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_atp_submission_documents_submission ON atp_submission_documents (workspace_id, submission_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_atp_submission_documents_uploaded_by;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_atp_submission_documents_uploaded_by ON atp_submission_documents (workspace_id, uploaded_by);
-- duplicate upload detection
DROP INDEX CONCURRENTLY IF EXISTS idx_atp_submission_documents_sha256;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_atp_submission_documents_sha256 ON atp_submission_documents (workspace_id, sha256);
-- fk; punchlists of a workflow
DROP INDEX CONCURRENTLY IF EXISTS idx_punchlists_workflow_instance;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_punchlists_workflow_instance ON punchlists (workspace_id, workflow_instance_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_punchlists_submission;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_punchlists_submission ON punchlists (workspace_id, submission_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_punchlists_raised_by;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_punchlists_raised_by ON punchlists (workspace_id, raised_by);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_punchlists_closed_by;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_punchlists_closed_by ON punchlists (workspace_id, closed_by);
-- open punchlists
DROP INDEX CONCURRENTLY IF EXISTS idx_punchlists_status;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_punchlists_status ON punchlists (workspace_id, status);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_punchlist_items_evidence_document;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_punchlist_items_evidence_document ON punchlist_items (workspace_id, evidence_document_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_punchlist_items_verified_by;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_punchlist_items_verified_by ON punchlist_items (workspace_id, verified_by);
-- open items by severity
DROP INDEX CONCURRENTLY IF EXISTS idx_punchlist_items_status;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_punchlist_items_status ON punchlist_items (workspace_id, status, severity);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_approver_overrides_workflow_instance;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approver_overrides_workflow_instance ON approver_overrides (workspace_id, workflow_instance_id);
-- fk; overrides of a stage
DROP INDEX CONCURRENTLY IF EXISTS idx_approver_overrides_workflow_stage;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approver_overrides_workflow_stage ON approver_overrides (workspace_id, workflow_stage_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_approver_overrides_submission;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approver_overrides_submission ON approver_overrides (workspace_id, submission_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_approver_overrides_cluster;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approver_overrides_cluster ON approver_overrides (workspace_id, cluster_id);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_approver_overrides_from_user;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approver_overrides_from_user ON approver_overrides (workspace_id, from_user_id);
-- fk; overrides naming a user
DROP INDEX CONCURRENTLY IF EXISTS idx_approver_overrides_to_user;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approver_overrides_to_user ON approver_overrides (workspace_id, to_user_id, approval_status);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_approver_overrides_requested_by;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approver_overrides_requested_by ON approver_overrides (workspace_id, requested_by);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_approver_overrides_approved_by;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approver_overrides_approved_by ON approver_overrides (workspace_id, approved_by);
-- fk; a user's absences
DROP INDEX CONCURRENTLY IF EXISTS idx_approver_absences_user;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approver_absences_user ON approver_absences (workspace_id, user_id, starts_at);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_approver_absences_delegate_user;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_approver_absences_delegate_user ON approver_absences (workspace_id, delegate_user_id);
-- fk; history of a workflow
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_stage_actions_workflow_instance;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_stage_actions_workflow_instance ON workflow_stage_actions (workspace_id, workflow_instance_id, created_at);
-- fk; history of a stage
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_stage_actions_workflow_stage;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_stage_actions_workflow_stage ON workflow_stage_actions (workspace_id, workflow_stage_id, created_at);
-- fk
DROP INDEX CONCURRENTLY IF EXISTS idx_workflow_stage_actions_actor_user;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_workflow_stage_actions_actor_user ON workflow_stage_actions (workspace_id, actor_user_id);
