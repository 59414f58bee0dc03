//! The ATP constraints an API write can hit, mapped to stable codes and fields. The API checks these rules first;
//! the mappings answer the races (two imports, two activations, two admins adding one member at once).

use neurohub_core::constraints::{
    m, rule, DomainErrors, Mapping, RuleState, CONFLICT, UNPROCESSABLE,
};

/// The constraints this crate's writes can hit, installed by the server at start.
pub static MAPPINGS: &[Mapping] = &[
    m(
        "uq_workspaces_code",
        CONFLICT,
        "DUPLICATE",
        "code",
        "a workspace with this code exists",
    ),
    m(
        "chk_workspaces_code",
        UNPROCESSABLE,
        "VALIDATION_FAILED",
        "code",
        "must be 2-50 of A-Z, 0-9, _ and -",
    ),
    m(
        "uq_workspace_members_user",
        CONFLICT,
        "ALREADY_MEMBER",
        "user",
        "this user is already a member of the workspace",
    ),
    m(
        "uq_sites_site_id",
        CONFLICT,
        "DUPLICATE",
        "site_id",
        "a site with this site_id exists in the workspace",
    ),
    m(
        "chk_sites_ne_latitude",
        UNPROCESSABLE,
        "VALIDATION_FAILED",
        "ne_latitude",
        "must be between -90 and 90",
    ),
    m(
        "chk_sites_ne_longitude",
        UNPROCESSABLE,
        "VALIDATION_FAILED",
        "ne_longitude",
        "must be between -180 and 180",
    ),
    m(
        "chk_sites_fe_latitude",
        UNPROCESSABLE,
        "VALIDATION_FAILED",
        "fe_latitude",
        "must be between -90 and 90",
    ),
    m(
        "chk_sites_fe_longitude",
        UNPROCESSABLE,
        "VALIDATION_FAILED",
        "fe_longitude",
        "must be between -180 and 180",
    ),
    m(
        "fk_workflow_instances_site",
        CONFLICT,
        "IN_USE",
        "id",
        "the site has workflows: set its status to CANCELLED instead",
    ),
    m(
        "fk_atp_submissions_site",
        CONFLICT,
        "IN_USE",
        "id",
        "the site has ATP submissions: set its status to CANCELLED instead",
    ),
    // two activations of one source type at once: the loser's UPDATE … SET status = 'ACTIVE' hits the index
    m(
        "ux_config_versions_one_active_per_workspace",
        CONFLICT,
        "CONCURRENT_ACTIVATION",
        "status",
        "another version of this type was activated at the same time; reload and retry",
    ),
    m(
        "uq_config_versions_version",
        CONFLICT,
        "RETRY",
        "version_number",
        "another import took this version number; retry",
    ),
    m(
        "chk_config_versions_activation_valid",
        CONFLICT,
        "VERSION_INVALID",
        "validation_status",
        "a version that failed validation cannot be activated",
    ),
    m(
        "fk_config_versions_created_by",
        UNPROCESSABLE,
        "NOT_A_MEMBER",
        "created_by",
        "the uploader must be a member of the workspace",
    ),
    m(
        "fk_config_versions_activated_by",
        UNPROCESSABLE,
        "NOT_A_MEMBER",
        "activated_by",
        "the activating user must be a member of the workspace",
    ),
    m(
        "fk_cluster_approver_master_primary_user",
        UNPROCESSABLE,
        "UNKNOWN_USER",
        "primary_user",
        "the approver must be a member of the workspace",
    ),
    m(
        "fk_cluster_approver_master_backup_user",
        UNPROCESSABLE,
        "UNKNOWN_USER",
        "backup_user",
        "the backup approver must be a member of the workspace",
    ),
    m(
        "fk_approval_policy_stages_static_user",
        UNPROCESSABLE,
        "UNKNOWN_USER",
        "static_user",
        "the stage's user must be a member of the workspace",
    ),
    // 0008: the create checks both first (http:// URL, known event types)
    m(
        "chk_webhook_subscriptions_url",
        UNPROCESSABLE,
        "VALIDATION_FAILED",
        "url",
        "must be an absolute http:// or https:// URL",
    ),
    m(
        "chk_webhook_subscriptions_event_types",
        UNPROCESSABLE,
        "VALIDATION_FAILED",
        "event_types",
        "at least one known event type",
    ),
    // overrides and absences (docs/atp-flow.md): the API checks these first
    m(
        "chk_approver_overrides_valid_window",
        UNPROCESSABLE,
        "VALIDATION_FAILED",
        "valid_to",
        "the window must end after it starts",
    ),
    m(
        "chk_approver_overrides_users_differ",
        UNPROCESSABLE,
        "VALIDATION_FAILED",
        "to_user_id",
        "the delegate must be someone else",
    ),
    m(
        "fk_approver_overrides_from_user",
        UNPROCESSABLE,
        "UNKNOWN_USER",
        "from_user_id",
        "the delegating user must be a member of the workspace",
    ),
    m(
        "fk_approver_overrides_to_user",
        UNPROCESSABLE,
        "UNKNOWN_USER",
        "to_user_id",
        "the delegate must be a member of the workspace",
    ),
    m(
        "chk_approver_absences_window",
        UNPROCESSABLE,
        "VALIDATION_FAILED",
        "ends_at",
        "the window must end after it starts",
    ),
    m(
        "chk_approver_absences_delegate_differs",
        UNPROCESSABLE,
        "VALIDATION_FAILED",
        "delegate_user_id",
        "the delegate must be someone else",
    ),
    m(
        "fk_approver_absences_user",
        UNPROCESSABLE,
        "UNKNOWN_USER",
        "user_id",
        "the absent user must be a member of the workspace",
    ),
    m(
        "fk_approver_absences_delegate_user",
        UNPROCESSABLE,
        "UNKNOWN_USER",
        "delegate_user_id",
        "the delegate must be a member of the workspace",
    ),
    // migration 0009
    m(
        "chk_punchlist_items_evidence_before",
        UNPROCESSABLE,
        "VALIDATION_FAILED",
        "evidence_before",
        "the evidence is due after the item is raised",
    ),
];

/// What the server installs for the ATP.
pub const ERRORS: DomainErrors = DomainErrors {
    constraints: MAPPINGS,
    rules: RULES,
};

/// The ATP triggers' SQLSTATEs NH101-NH106 (docs/atp-schema.md) and 0009's NH121-NH122 (docs/atp-flow.md), each
/// a 409 with the trigger's message.
pub static RULES: &[RuleState] = &[
    rule("NH101", "VERSION_ACTIVE"),
    rule("NH102", "VERSION_FROZEN"),
    rule("NH103", "INVALID_STATUS_TRANSITION"),
    rule("NH104", "MASTERS_FROZEN"),
    rule("NH105", "APPEND_ONLY"),
    rule("NH106", "CONFIG_FROZEN"),
    // two overlapping absences of one user / approved overrides of one user and target, raced past the API's check
    rule("NH121", "ABSENCE_OVERLAP"),
    rule("NH122", "OVERRIDE_OVERLAP"),
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_mapped_constraint_exists_in_the_migration() {
        let sql = [
            include_str!("../../schema/migrations/0006_atp/up/01_tables.sql"),
            include_str!("../../schema/migrations/0006_atp/up/03_foreign_keys_not_valid.sql"),
            include_str!("../../schema/migrations/0006_atp/up/05_indexes_concurrently.sql"),
            include_str!(
                "../../schema/migrations/0008_atp_notifications/up/01_outbox_and_webhooks.sql"
            ),
            include_str!(
                "../../schema/migrations/0009_atp_delegation/up/01_evidence_before_and_overlap_guards.sql"
            ),
        ]
        .concat();
        for m in super::MAPPINGS {
            assert!(
                sql.contains(m.constraint),
                "{} is not in migrations 0006 / 0008 / 0009",
                m.constraint
            );
        }
    }
}
