//! The four roles and what each may do. Routes ask for a set of roles; ADMIN is not implied anywhere, so the
//! role matrix in docs/api.md is exactly what the code says.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Admin,
    Manager,
    Operator,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Manager, Role::Operator, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::Manager => "MANAGER",
            Role::Operator => "OPERATOR",
            Role::Viewer => "VIEWER",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Named role sets used by the routes, so the matrix has few distinct rows.
pub mod can {
    use super::Role::{self, *};
    /// Any signed-in user may read production data.
    pub const READ: &[Role] = &[Admin, Manager, Operator, Viewer];
    /// Station work: start / complete processes, scan.
    pub const OPERATE: &[Role] = &[Admin, Manager, Operator];
    /// Planning and master data: lots, models, lines, equipment, process criteria.
    pub const MANAGE: &[Role] = &[Admin, Manager];
    /// The audit log: supervisors and admins.
    pub const AUDIT: &[Role] = &[Admin, Manager];
    /// Accounts.
    pub const ADMIN: &[Role] = &[Admin];
}
