-- 0006 atp, step 3 of 5: every reference, as a named FK, added NOT VALID (no scan, a short SHARE ROW EXCLUSIVE
-- lock) and validated in step 4 (SHARE UPDATE EXCLUSIVE: writes go on meanwhile).
--
-- Names: fk_{table}_{column without _id}, the MES convention and seed 004's fk_workflow_instances_config_version
-- (two references to the same table are told apart by their column: primary_user / backup_user).
-- Between workspace-scoped tables every FK is composite, (workspace_id, x_id) -> (workspace_id, id): a row can
-- only reference rows of its own workspace. A person is referenced as a member of the row's workspace,
-- (workspace_id, x_user_id) -> workspace_members (workspace_id, user_id); workspace_members.user_id -> users.id
-- is the one link to the (global, BIGINT) MES users. Column types equal the referenced keys' (UUID, BIGINT).
--
-- ON DELETE (seed 004's strategy): RESTRICT by default (workspaces, config versions a workflow froze, masters,
-- instances referenced by submissions / punchlists / history, members with history); CASCADE for children that
-- mean nothing without their parent (workflow_stages, approval_policy_stages, cluster approvers, documents,
-- punchlist_items, overrides of a stage / submission / instance); SET NULL (vendor_id) for vendor references -
-- the column list (PostgreSQL 15) nulls only vendor_id, never workspace_id. workflow_stage_actions is RESTRICT
-- everywhere: history is never deleted, not even by a cascade.
ALTER TABLE workspace_members
    ADD CONSTRAINT fk_workspace_members_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_workspace_members_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE sites
    ADD CONSTRAINT fk_sites_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE config_versions
    ADD CONSTRAINT fk_config_versions_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_config_versions_previous_version FOREIGN KEY (workspace_id, previous_version_id) REFERENCES config_versions (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_config_versions_superseded_by FOREIGN KEY (workspace_id, superseded_by) REFERENCES config_versions (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_config_versions_created_by FOREIGN KEY (workspace_id, created_by) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_config_versions_activated_by FOREIGN KEY (workspace_id, activated_by) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE atp_scope_master
    ADD CONSTRAINT fk_atp_scope_master_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_atp_scope_master_config_version FOREIGN KEY (workspace_id, config_version_id) REFERENCES config_versions (workspace_id, id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE vendor_master
    ADD CONSTRAINT fk_vendor_master_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_vendor_master_config_version FOREIGN KEY (workspace_id, config_version_id) REFERENCES config_versions (workspace_id, id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE approval_role_master
    ADD CONSTRAINT fk_approval_role_master_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_approval_role_master_config_version FOREIGN KEY (workspace_id, config_version_id) REFERENCES config_versions (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_approval_role_master_vendor FOREIGN KEY (workspace_id, vendor_id) REFERENCES vendor_master (workspace_id, id) ON DELETE SET NULL (vendor_id) NOT VALID;
ALTER TABLE approval_policy_master
    ADD CONSTRAINT fk_approval_policy_master_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_approval_policy_master_config_version FOREIGN KEY (workspace_id, config_version_id) REFERENCES config_versions (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_approval_policy_master_scope FOREIGN KEY (workspace_id, scope_id) REFERENCES atp_scope_master (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_approval_policy_master_vendor FOREIGN KEY (workspace_id, vendor_id) REFERENCES vendor_master (workspace_id, id) ON DELETE SET NULL (vendor_id) NOT VALID;
ALTER TABLE approval_policy_stages
    ADD CONSTRAINT fk_approval_policy_stages_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_approval_policy_stages_config_version FOREIGN KEY (workspace_id, config_version_id) REFERENCES config_versions (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_approval_policy_stages_policy FOREIGN KEY (workspace_id, policy_id) REFERENCES approval_policy_master (workspace_id, id) ON DELETE CASCADE NOT VALID,
    ADD CONSTRAINT fk_approval_policy_stages_role FOREIGN KEY (workspace_id, role_id) REFERENCES approval_role_master (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_approval_policy_stages_static_user FOREIGN KEY (workspace_id, static_user_id) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE cluster_master
    ADD CONSTRAINT fk_cluster_master_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_cluster_master_config_version FOREIGN KEY (workspace_id, config_version_id) REFERENCES config_versions (workspace_id, id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE cluster_approver_master
    ADD CONSTRAINT fk_cluster_approver_master_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_cluster_approver_master_config_version FOREIGN KEY (workspace_id, config_version_id) REFERENCES config_versions (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_cluster_approver_master_cluster FOREIGN KEY (workspace_id, cluster_id) REFERENCES cluster_master (workspace_id, id) ON DELETE CASCADE NOT VALID,
    ADD CONSTRAINT fk_cluster_approver_master_role FOREIGN KEY (workspace_id, role_id) REFERENCES approval_role_master (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_cluster_approver_master_primary_user FOREIGN KEY (workspace_id, primary_user_id) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_cluster_approver_master_backup_user FOREIGN KEY (workspace_id, backup_user_id) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE workflow_instances
    ADD CONSTRAINT fk_workflow_instances_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_workflow_instances_config_version FOREIGN KEY (workspace_id, config_version_id) REFERENCES config_versions (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_workflow_instances_site FOREIGN KEY (workspace_id, site_id) REFERENCES sites (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_workflow_instances_scope FOREIGN KEY (workspace_id, scope_id) REFERENCES atp_scope_master (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_workflow_instances_policy FOREIGN KEY (workspace_id, policy_id) REFERENCES approval_policy_master (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_workflow_instances_vendor FOREIGN KEY (workspace_id, vendor_id) REFERENCES vendor_master (workspace_id, id) ON DELETE SET NULL (vendor_id) NOT VALID,
    ADD CONSTRAINT fk_workflow_instances_cluster FOREIGN KEY (workspace_id, cluster_id) REFERENCES cluster_master (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_workflow_instances_started_by FOREIGN KEY (workspace_id, started_by) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE workflow_stages
    ADD CONSTRAINT fk_workflow_stages_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_workflow_stages_workflow_instance FOREIGN KEY (workspace_id, workflow_instance_id) REFERENCES workflow_instances (workspace_id, id) ON DELETE CASCADE NOT VALID,
    ADD CONSTRAINT fk_workflow_stages_policy_stage FOREIGN KEY (workspace_id, policy_stage_id) REFERENCES approval_policy_stages (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_workflow_stages_role FOREIGN KEY (workspace_id, role_id) REFERENCES approval_role_master (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_workflow_stages_assigned_approver FOREIGN KEY (workspace_id, assigned_approver_id) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_workflow_stages_decided_by FOREIGN KEY (workspace_id, decided_by) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE atp_submissions
    ADD CONSTRAINT fk_atp_submissions_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_atp_submissions_previous_submission FOREIGN KEY (workspace_id, previous_submission_id) REFERENCES atp_submissions (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_atp_submissions_site FOREIGN KEY (workspace_id, site_id) REFERENCES sites (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_atp_submissions_scope FOREIGN KEY (workspace_id, scope_id) REFERENCES atp_scope_master (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_atp_submissions_vendor FOREIGN KEY (workspace_id, vendor_id) REFERENCES vendor_master (workspace_id, id) ON DELETE SET NULL (vendor_id) NOT VALID,
    ADD CONSTRAINT fk_atp_submissions_workflow_instance FOREIGN KEY (workspace_id, workflow_instance_id) REFERENCES workflow_instances (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_atp_submissions_created_by FOREIGN KEY (workspace_id, created_by) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_atp_submissions_submitted_by FOREIGN KEY (workspace_id, submitted_by) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_atp_submissions_qa_reviewed_by FOREIGN KEY (workspace_id, qa_reviewed_by) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE atp_submission_documents
    ADD CONSTRAINT fk_atp_submission_documents_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_atp_submission_documents_submission FOREIGN KEY (workspace_id, submission_id) REFERENCES atp_submissions (workspace_id, id) ON DELETE CASCADE NOT VALID,
    ADD CONSTRAINT fk_atp_submission_documents_uploaded_by FOREIGN KEY (workspace_id, uploaded_by) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE punchlists
    ADD CONSTRAINT fk_punchlists_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_punchlists_workflow_instance FOREIGN KEY (workspace_id, workflow_instance_id) REFERENCES workflow_instances (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_punchlists_submission FOREIGN KEY (workspace_id, submission_id) REFERENCES atp_submissions (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_punchlists_raised_by FOREIGN KEY (workspace_id, raised_by) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_punchlists_closed_by FOREIGN KEY (workspace_id, closed_by) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE punchlist_items
    ADD CONSTRAINT fk_punchlist_items_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_punchlist_items_punchlist FOREIGN KEY (workspace_id, punchlist_id) REFERENCES punchlists (workspace_id, id) ON DELETE CASCADE NOT VALID,
    ADD CONSTRAINT fk_punchlist_items_evidence_document FOREIGN KEY (workspace_id, evidence_document_id) REFERENCES atp_submission_documents (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_punchlist_items_verified_by FOREIGN KEY (workspace_id, verified_by) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE approver_overrides
    ADD CONSTRAINT fk_approver_overrides_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_approver_overrides_workflow_instance FOREIGN KEY (workspace_id, workflow_instance_id) REFERENCES workflow_instances (workspace_id, id) ON DELETE CASCADE NOT VALID,
    ADD CONSTRAINT fk_approver_overrides_workflow_stage FOREIGN KEY (workspace_id, workflow_stage_id) REFERENCES workflow_stages (workspace_id, id) ON DELETE CASCADE NOT VALID,
    ADD CONSTRAINT fk_approver_overrides_submission FOREIGN KEY (workspace_id, submission_id) REFERENCES atp_submissions (workspace_id, id) ON DELETE CASCADE NOT VALID,
    ADD CONSTRAINT fk_approver_overrides_cluster FOREIGN KEY (workspace_id, cluster_id) REFERENCES cluster_master (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_approver_overrides_from_user FOREIGN KEY (workspace_id, from_user_id) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_approver_overrides_to_user FOREIGN KEY (workspace_id, to_user_id) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_approver_overrides_requested_by FOREIGN KEY (workspace_id, requested_by) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_approver_overrides_approved_by FOREIGN KEY (workspace_id, approved_by) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE approver_absences
    ADD CONSTRAINT fk_approver_absences_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_approver_absences_user FOREIGN KEY (workspace_id, user_id) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_approver_absences_delegate_user FOREIGN KEY (workspace_id, delegate_user_id) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID;
ALTER TABLE workflow_stage_actions
    ADD CONSTRAINT fk_workflow_stage_actions_workspace FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_workflow_stage_actions_workflow_instance FOREIGN KEY (workspace_id, workflow_instance_id) REFERENCES workflow_instances (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_workflow_stage_actions_workflow_stage FOREIGN KEY (workspace_id, workflow_stage_id) REFERENCES workflow_stages (workspace_id, id) ON DELETE RESTRICT NOT VALID,
    ADD CONSTRAINT fk_workflow_stage_actions_actor_user FOREIGN KEY (workspace_id, actor_user_id) REFERENCES workspace_members (workspace_id, user_id) ON DELETE RESTRICT NOT VALID;
