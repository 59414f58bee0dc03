//! NeuroHub core: what every part of the server shares — configuration, the one error type and its HTTP mapping
//! (with the constraint-mapping machinery), authentication and role policies, the request / transaction context,
//! the pools, lists (keyset pagination), validation, idempotent writes, text-backed enums and state machines.
//! Nothing here knows a domain: the MES and the ATP build on it and never on each other.

pub mod auth;
pub mod client_addr;
pub mod config;
pub mod constraints;
pub mod context;
pub mod copy;
pub mod db;
pub mod enums;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod jobs;
pub mod pagination;
pub mod probe;
pub mod problems;
pub mod querycount;
pub mod rawjson;
pub mod replica;
pub mod response;
pub mod rng;
pub mod state;
pub mod states;
pub mod validate;

pub use error::{ApiError, ApiResult, FieldError, Problem};
pub use extract::{ApiJson, ApiPath, ApiQuery};
pub use state::{AppState, Settings};
