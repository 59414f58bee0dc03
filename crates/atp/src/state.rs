//! The ATP's status-like vocabularies and the configuration-version state machine.
//!
//! Every status or type column of the ATP tables has one Rust spelling here (`text_enum!`, the same words as the
//! schema's CHECKs). [`ConfigStatus`] is a [`StateMachine`]: DRAFT → ACTIVE → SUPERSEDED → ACTIVE (only as a
//! rollback), ARCHIVED from DRAFT or SUPERSEDED. The database trigger `protect_config_version()` (migration 0006)
//! holds the same table as the backstop; a test below reads the trigger from the migration and compares.

use neurohub_core::states::StateMachine;

neurohub_core::text_enum!(
    /// Lifecycle of a configuration version.
    ConfigStatus {
        Draft => "DRAFT",
        Active => "ACTIVE",
        Superseded => "SUPERSEDED",
        Archived => "ARCHIVED",
    }
);

neurohub_core::text_enum!(
    /// What a configuration version configures.
    SourceType {
        /// Approval policies and their stages.
        ApprovalMatrix => "APPROVAL_MATRIX",
        /// Clusters and their approvers.
        ClusterMapping => "CLUSTER_MAPPING",
        /// Scopes, vendors and approval roles.
        ScopeConfig => "SCOPE_CONFIG",
    }
);

neurohub_core::text_enum!(
    /// Outcome of a version's validation.
    ValidationStatus {
        Pending => "PENDING",
        Valid => "VALID",
        Invalid => "INVALID",
        Warnings => "WARNINGS",
    }
);

neurohub_core::text_enum!(
    /// Status of a site.
    SiteStatus {
        Active => "ACTIVE",
        OnHold => "ON_HOLD",
        Completed => "COMPLETED",
        Cancelled => "CANCELLED",
    }
);

neurohub_core::text_enum!(
    /// Scope groups (atp_scope_master.scope_group).
    ScopeGroup {
        Microwave => "MICROWAVE",
        Ran => "RAN",
        Cme => "CME",
        Pln => "PLN",
    }
);

neurohub_core::text_enum!(
    /// ATP categories: which approval chain a document follows.
    AtpCategory {
        RanMw => "RAN_MW",
        PlnUpgrade => "PLN_UPGRADE",
        DismantleDrop => "DISMANTLE_DROP",
        DismantleKeep => "DISMANTLE_KEEP",
        SoftwareLicense => "SOFTWARE_LICENSE",
    }
);

neurohub_core::text_enum!(
    /// Kind of vendor (vendor_master.vendor_type).
    VendorType {
        Vendor => "VENDOR",
        Subcontractor => "SUBCONTRACTOR",
        Oem => "OEM",
        Customer => "CUSTOMER",
    }
);

neurohub_core::text_enum!(
    /// Where a stage's approver comes from (approval_policy_stages.assignment_mode).
    AssignmentMode {
        Cluster => "CLUSTER",
        StaticUser => "STATIC_USER",
        Rule => "RULE",
        Auto => "AUTO",
    }
);

use ConfigStatus as C;

/// Configuration version transitions (docs/atp.md). SUPERSEDED → ACTIVE is allowed only as a rollback (the
/// trigger requires `is_rollback` in the same UPDATE; the API's rollback route sets it).
pub const CONFIG_TRANSITIONS: &[(ConfigStatus, ConfigStatus)] = &[
    (C::Draft, C::Active),
    (C::Draft, C::Archived),
    (C::Active, C::Superseded),
    (C::Superseded, C::Active),
    (C::Superseded, C::Archived),
];

impl StateMachine for ConfigStatus {
    const INITIAL: Self = C::Draft;
    const STATES: &'static [Self] = ConfigStatus::ALL;
    const TRANSITIONS: &'static [(Self, Self)] = CONFIG_TRANSITIONS;
    const SUBJECT: &'static str = "config version";
}

impl SourceType {
    /// The master tables a version of this type fills, in insert order.
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            SourceType::ScopeConfig => {
                &["atp_scope_master", "vendor_master", "approval_role_master"]
            }
            SourceType::ApprovalMatrix => &["approval_policy_master", "approval_policy_stages"],
            SourceType::ClusterMapping => &["cluster_master", "cluster_approver_master"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neurohub_core::states::check_structure;

    #[test]
    fn the_machine_is_sound() {
        assert_eq!(check_structure::<ConfigStatus>(), Vec::<String>::new());
        assert!(ConfigStatus::Archived.is_final());
        assert!(ConfigStatus::Active
            .transition(ConfigStatus::Draft)
            .is_err());
        assert!(ConfigStatus::Draft
            .transition(ConfigStatus::Superseded)
            .is_err());
    }

    /// The pairs the trigger admits, read from `protect_config_version()` in the migration: each
    /// `(OLD.status = 'X' AND NEW.status IN ('Y', ...))` / `= 'Y'` clause of its transition test.
    fn trigger_pairs() -> Vec<(String, String)> {
        let sql = include_str!("../../schema/migrations/0006_atp/up/02_functions_and_triggers.sql");
        let start = sql
            .find("CREATE FUNCTION protect_config_version()")
            .expect("function");
        let body = &sql[start..];
        let block_start = body
            .find("IF NEW.status IS DISTINCT FROM OLD.status AND NOT (")
            .expect("test");
        let block = &body[block_start..];
        let block = &block[..block.find("THEN").expect("then")];
        let mut pairs = Vec::new();
        for clause in block.split("OLD.status = '").skip(1) {
            let from = clause.split('\'').next().unwrap().to_string();
            let rest = &clause[clause.find("NEW.status").expect("new") + "NEW.status".len()..];
            let rest = rest.trim_start();
            let targets: Vec<String> = if let Some(list) = rest.strip_prefix("IN (") {
                list[..list.find(')').unwrap()]
                    .split(',')
                    .map(|s| s.trim().trim_matches('\'').to_string())
                    .collect()
            } else {
                let v = rest.strip_prefix("= '").expect("= 'X'");
                vec![v[..v.find('\'').unwrap()].to_string()]
            };
            for to in targets {
                pairs.push((from.clone(), to));
            }
        }
        pairs.sort();
        pairs
    }

    #[test]
    fn the_machine_agrees_with_the_trigger() {
        let mut ours: Vec<(String, String)> = CONFIG_TRANSITIONS
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        ours.sort();
        assert_eq!(ours, trigger_pairs());
    }

    #[test]
    fn enums_spell_the_schema_checks() {
        let sql = include_str!("../../schema/migrations/0006_atp/up/01_tables.sql");
        let check = |name: &str| -> Vec<String> {
            let at = sql.find(name).unwrap_or_else(|| panic!("{name}"));
            let rest = &sql[at..];
            let list = &rest[rest.find("IN (").unwrap() + 4..];
            list[..list.find(')').unwrap()]
                .split(',')
                .map(|s| {
                    s.trim()
                        .trim_matches(|c: char| c == '\'' || c.is_whitespace())
                        .to_string()
                })
                .collect()
        };
        let words = |all: &[&str]| all.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check("chk_config_versions_status"),
            words(
                &ConfigStatus::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
            )
        );
        assert_eq!(
            check("chk_config_versions_source_type"),
            words(
                &SourceType::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
            )
        );
        assert_eq!(
            check("chk_config_versions_validation_status"),
            words(
                &ValidationStatus::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
            )
        );
        assert_eq!(
            check("chk_sites_status"),
            words(
                &SiteStatus::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
            )
        );
        assert_eq!(
            check("chk_atp_scope_master_scope_group"),
            words(
                &ScopeGroup::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
            )
        );
        assert_eq!(
            check("chk_approval_policy_master_atp_category"),
            words(
                &AtpCategory::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
            )
        );
        assert_eq!(
            check("chk_vendor_master_vendor_type"),
            words(
                &VendorType::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
            )
        );
        assert_eq!(
            check("chk_approval_policy_stages_assignment_mode"),
            words(
                &AssignmentMode::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
            )
        );
        assert_eq!(
            check("chk_workspace_members_member_role"),
            words(
                &crate::member::MemberRole::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
            )
        );
    }
}
