//! Who may do what in the MES, by global role (docs/api.md has the matrix; the server's role-matrix test walks
//! every operation of the OpenAPI document with each role).

use neurohub_core::auth::Role::{self, *};

neurohub_core::role_policies! {
    /// Any signed-in user may read production data.
    Read => &[Admin, Manager, Operator, Viewer];
    /// Station work: start / complete processes, scan, rework and scrap decisions of an operator.
    Operate => OPERATE;
    /// Planning and master data: lots, models, lines, equipment, process criteria.
    Manage => SUPERVISE;
}

/// Roles that do station work.
pub const OPERATE: &[Role] = &[Admin, Manager, Operator];
/// Roles that supervise: may complete another operator's record, plan lots, edit master data.
pub const SUPERVISE: &[Role] = &[Admin, Manager];
