//! The ATP constraints an API write can violate, mapped to stable codes and fields (filled in with the ATP's
//! tables).

use neurohub_core::constraints::Mapping;

/// The constraints this crate's writes can hit, installed by the server at start.
pub static MAPPINGS: &[Mapping] = &[];
