//! Request extractors whose rejections are problem+json with the offending field named.
//!
//! axum's own `Json`/`Query`/`Path` reject with plain text; stations and scripts need to know *which* field was
//! wrong, so these wrappers run serde through `serde_path_to_error` and report the JSON path.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ApiError;

/// JSON body extractor and responder. Malformed JSON → 400 `MALFORMED_JSON`; a wrong type, a missing or an
/// unknown field (types use `deny_unknown_fields`) → 422 `VALIDATION_FAILED` naming the field.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let mime = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::new(
                e.status(),
                "BODY_UNREADABLE",
                format!("could not read the request body: {}", e.body_text()),
            )
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// PostgreSQL `text` cannot hold U+0000 (`invalid byte sequence for encoding "UTF8": 0x00`), and no field of ours
/// has a use for it, so every boundary refuses it with a 422 naming the field, before any SQL runs.
pub const NUL_MESSAGE: &str = "must not contain the NUL character (U+0000)";

fn nul_error(field: impl Into<String>) -> ApiError {
    ApiError::validation(field, NUL_MESSAGE)
}

/// Whether JSON text contains the escape `\u0000` (a raw NUL byte is already invalid JSON). Backslashes only occur
/// inside strings, and an escaped backslash (`\\u0000` in the text) is skipped as a pair, so this never
/// misreads a literal backslash followed by `u0000`.
fn has_escaped_nul(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'u')
                && bytes.get(i + 2..i + 6) == Some(b"0000".as_slice())
            {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// The JSON path (`a.b[2].c`, the house style of field names) of the first string or key holding a NUL.
fn nul_path(v: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match v {
        Value::String(s) if s.contains('\0') => Some(path.to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_path(item, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            if k.contains('\0') {
                Some(path.to_string())
            } else {
                nul_path(item, &join(k))
            }
        }),
        _ => None,
    }
}

/// Deserialize JSON bytes with field-path errors (shared by the body extractor and batch endpoints). A NUL
/// character in any string or key is refused first (422 naming its path).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if has_escaped_nul(bytes) {
        // Rare and hostile: parse once more, generically, only to name the field.
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
            if let Some(field) = nul_path(&v, "") {
                return Err(nul_error(field));
            }
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            use serde_json::error::Category;
            match inner.classify() {
                Category::Syntax | Category::Eof | Category::Io => Err(ApiError::bad_request(
                    "MALFORMED_JSON",
                    format!("the body is not valid JSON: {inner}"),
                )),
                Category::Data => {
                    let field = if path == "." { String::new() } else { path };
                    let message = clean_serde_message(&inner.to_string());
                    let field = if field.is_empty() {
                        missing_field_name(&message).unwrap_or_default()
                    } else {
                        field
                    };
                    Err(ApiError::validation(field, message))
                }
            }
        }
    }
}

/// serde's messages end with " at line 1 column 42"; clients want the rule, not the offset.
fn clean_serde_message(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn missing_field_name(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Query-string extractor: a bad parameter → 400 `INVALID_QUERY` naming it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        if let Some((k, _)) = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(nul_error(k.replace('\0', "\u{FFFD}")));
        }
        let de = serde_urlencoded_deserializer(query);
        match de {
            Ok(v) => Ok(ApiQuery(v)),
            Err((field, message)) => {
                Err(ApiError::bad_request("INVALID_QUERY", message.clone())
                    .with_field(field, message))
            }
        }
    }
}

fn serde_urlencoded_deserializer<T: DeserializeOwned>(query: &str) -> Result<T, (String, String)> {
    // Query strings are flat: go through a JSON object of strings so the same path-aware errors apply, with
    // numbers and booleans accepted from their text form by the target types' `FromStr`-based deserializers.
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        if map.contains_key(&k) {
            return Err((
                k.clone(),
                format!("parameter `{k}` is given more than once"),
            ));
        }
        map.insert(k, serde_json::Value::String(v));
    }
    let value = serde_json::Value::Object(map);
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let path = err.path().to_string();
        let message = clean_serde_message(&err.into_inner().to_string());
        let field = if path == "." {
            missing_field_name(&message).unwrap_or_default()
        } else {
            path
        };
        (field, message)
    })
}

/// Path-parameter extractor: `/lots/abc` where an id is expected → 400 `INVALID_PATH`, not axum's plain text.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // NUL and invalid UTF-8 in any segment were refused for every route by [`check_path_params`].
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(rej) => Err(ApiError::bad_request("INVALID_PATH", rej.body_text())),
        }
    }
}

/// The boundary check of every route's path parameters, run once per request by the server's route layer before
/// any extractor (so it covers `ApiPath`, the ATP's `{ws}` resolution and any other reader of the segments alike):
/// a segment that is not UTF-8 after percent-decoding → 400 `INVALID_PATH`; a NUL in it → 422 naming the
/// parameter (PostgreSQL text cannot hold it).
pub async fn check_path_params(parts: &mut Parts) -> Result<(), ApiError> {
    use axum::extract::rejection::RawPathParamsRejection;
    match axum::extract::RawPathParams::from_request_parts(parts, &()).await {
        Ok(raw) => match raw.iter().find(|(_, v)| v.contains('\0')) {
            Some((k, _)) => Err(nul_error(k)),
            None => Ok(()),
        },
        Err(RawPathParamsRejection::InvalidUtf8InPathParam(e)) => {
            Err(ApiError::bad_request("INVALID_PATH", e.body_text()))
        }
        // no parameters (a route without any, or the fallback): nothing to check
        Err(_) => Ok(()),
    }
}

/// A text part of a multipart form (or any text a client uploads outside JSON), checked like JSON strings are:
/// UTF-8 (else 422 naming `field`) and no NUL (422 naming `field`).
pub fn upload_text(field: &str, bytes: &[u8]) -> Result<String, ApiError> {
    let s = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::validation(field, "must be UTF-8 text"))?;
    check_text(field, s)?;
    Ok(s.to_string())
}

/// Refuse a NUL in text that did not come through [`ApiJson`] / [`ApiQuery`] / the path check (multipart part
/// names, file names): 422 naming `field`.
pub fn check_text(field: &str, s: &str) -> Result<(), ApiError> {
    if s.contains('\0') {
        return Err(nul_error(field.replace('\0', "\u{FFFD}")));
    }
    Ok(())
}

/// Deserialize helpers for query strings: numbers arrive as text.
pub mod qs {
    use serde::{de::Error, Deserialize, Deserializer};
    use std::str::FromStr;

    /// `Option<T>` from an optional text parameter using `T: FromStr`; an empty value counts as absent.
    pub fn opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let s: Option<String> = Option::deserialize(d)?;
        match s.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<T>()
                .map(Some)
                .map_err(|e| D::Error::custom(format!("invalid value `{v}`: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        qty: u16,
    }

    #[test]
    fn malformed_json_is_400() {
        let e = parse_json::<Body>(b"{\"name\": ").unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
        assert_eq!(e.code, "MALFORMED_JSON");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let e = parse_json::<Body>(br#"{"name":"a","qty":"x"}"#).unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
        assert_eq!(e.errors[0].field, "qty");
    }

    #[test]
    fn unknown_and_missing_fields_are_named() {
        let e = parse_json::<Body>(br#"{"name":"a","qty":1,"hack":true}"#).unwrap_err();
        assert_eq!(e.code, "VALIDATION_FAILED");
        assert!(e.errors[0].message.contains("hack"), "{:?}", e.errors);
        let e = parse_json::<Body>(br#"{"name":"a"}"#).unwrap_err();
        assert_eq!(e.errors[0].field, "qty");
    }

    #[test]
    fn nul_is_refused_with_its_path() {
        let e = parse_json::<Body>(br#"{"name":"a\u0000b","qty":1}"#).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.errors[0].field.as_str()),
            (422, "name")
        );
        assert_eq!(e.errors[0].message, NUL_MESSAGE);
        let v = br#"{"m":{"ok":1,"x\u0000":2},"d":[{"c":"A"},{"c":"\u0000"}]}"#;
        let e = parse_json::<serde_json::Value>(v).unwrap_err();
        assert_eq!(e.errors[0].field, "d[1].c");
        let e = parse_json::<serde_json::Value>(br#"{"m":{"x\u0000":2}}"#).unwrap_err();
        assert_eq!(e.errors[0].field, "m");
        // an escaped backslash followed by `u0000` is text, not NUL
        assert!(parse_json::<serde_json::Value>(br#"{"name":"a\\u0000"}"#).is_ok());
        assert!(!has_escaped_nul(br#""\\u0000""#) && has_escaped_nul(br#""\\\u0000""#));
    }

    #[test]
    fn out_of_range_number_is_rejected() {
        let e = parse_json::<Body>(br#"{"name":"a","qty":70000}"#).unwrap_err();
        assert_eq!(e.errors[0].field, "qty");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Q {
        #[serde(default, deserialize_with = "qs::opt")]
        limit: Option<u32>,
    }

    #[test]
    fn query_numbers_parse_and_bad_ones_are_named() {
        let q: Q = serde_urlencoded_deserializer("limit=5").unwrap();
        assert_eq!(q.limit, Some(5));
        let (field, _) = serde_urlencoded_deserializer::<Q>("limit=abc").unwrap_err();
        assert_eq!(field, "limit");
        let (field, _) = serde_urlencoded_deserializer::<Q>("limit=1&limit=2").unwrap_err();
        assert_eq!(field, "limit");
        assert!(serde_urlencoded_deserializer::<Q>("bogus=1").is_err());
    }
}
