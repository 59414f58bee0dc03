//! Response shapes shared by the resource modules.

use crate::extract::ApiJson;
use axum::http::{header, HeaderName, StatusCode};

/// `201 Created` with a `Location` header and the created row.
pub type Created<T> = (StatusCode, [(HeaderName, String); 1], ApiJson<T>);

/// A [`Created`] response for `body`, found at `location` (an absolute path such as `/api/v1/users/7`).
pub fn created<T>(location: String, body: T) -> Created<T> {
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        ApiJson(body),
    )
}
