//! Who may use the identity routes, by global role. Accounts are `neurohub_core::auth::policy::Admin`'s.

use neurohub_core::auth::Role::*;

neurohub_core::role_policies! {
    /// Reading the audit log: supervisors and admins.
    Audit => &[Admin, Manager];
}
