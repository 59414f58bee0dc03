//! NeuroHub core: what every part of the server shares — configuration, the one error type and its HTTP mapping,
//! authentication and roles, the audit context, pagination, idempotency and the database pool.

pub mod audit;
pub mod auth;
pub mod config;
pub mod constraints;
pub mod db;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod pagination;
pub mod problems;
pub mod querycount;
pub mod state;

pub use error::{ApiError, ApiResult, FieldError, Problem};
pub use extract::{ApiJson, ApiPath, ApiQuery};
pub use state::{AppState, Settings};
