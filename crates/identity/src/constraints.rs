//! The account constraints an API write can violate, mapped to stable codes and fields.
use neurohub_core::constraints::{m, DomainErrors, Mapping, CONFLICT, UNPROCESSABLE};

/// What the server installs for identity (its triggers' states, NH001/NH002, are the platform's own).
pub const ERRORS: DomainErrors = DomainErrors {
    constraints: MAPPINGS,
    rules: &[],
};

/// The constraints this crate's writes can hit, installed by the server at start.
pub static MAPPINGS: &[Mapping] = &[
    m(
        "uq_users_username",
        CONFLICT,
        "DUPLICATE",
        "username",
        "username is already taken",
    ),
    m(
        "uq_users_email",
        CONFLICT,
        "DUPLICATE",
        "email",
        "email is already in use",
    ),
    m(
        "chk_users_role",
        UNPROCESSABLE,
        "VALIDATION_FAILED",
        "role",
        "role must be ADMIN, MANAGER, OPERATOR or VIEWER",
    ),
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_mapping_names_a_field_a_code_and_a_client_error() {
        for mp in super::MAPPINGS {
            assert!(
                !mp.field.is_empty() && !mp.code.is_empty(),
                "{}",
                mp.constraint
            );
            assert!(mp.status.is_client_error(), "{}", mp.constraint);
        }
    }
}
