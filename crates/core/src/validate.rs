//! Field checks shared by every resource module: collect every bad field, then fail once; plus the small
//! request-shape helpers (nullable PATCH fields, ILIKE patterns, 400s for bad query parameters).

use crate::error::{ApiError, FieldError};
use serde::{Deserialize, Deserializer};

#[derive(Debug, Default)]
pub struct Checker(Vec<FieldError>);

impl Checker {
    /// A checker for a PATCH body: when `names_a_field` is false the body changes nothing, which is reported
    /// (field `""`) together with any other problem.
    pub fn for_patch(names_a_field: bool) -> Self {
        let mut c = Self::default();
        if !names_a_field {
            c.add("", "the body names no field to change");
        }
        c
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// A required text: trimmed, 1..=max characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        let v = value.trim();
        if v.is_empty() {
            self.add(field, format!("{field} must not be empty"));
        } else if v.chars().count() > max {
            self.add(field, format!("{field} must be at most {max} characters"));
        }
        v.to_string()
    }

    /// An optional text: trimmed, empty means absent, at most `max` characters.
    pub fn opt_text(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<String> {
        let v = value.map(str::trim).filter(|v| !v.is_empty())?;
        if v.chars().count() > max {
            self.add(field, format!("{field} must be at most {max} characters"));
        }
        Some(v.to_string())
    }

    /// One of a fixed set of values.
    pub fn one_of(&mut self, field: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.add(
                field,
                format!("{field} must be one of {}", allowed.join(", ")),
            );
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation_many(self.0))
        }
    }
}

/// For PATCH fields that may be cleared: absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `%text%` for ILIKE with the wildcards of `text` escaped.
pub fn like_pattern(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 2);
    s.push('%');
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(ch);
    }
    s.push('%');
    s
}

/// A 400 for a bad query parameter.
pub fn bad_query(field: &str, message: impl Into<String>) -> ApiError {
    let message = message.into();
    ApiError::bad_request("INVALID_QUERY", message.clone()).with_field(field, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
    }

    #[test]
    fn checker_collects_every_field() {
        let mut c = Checker::default();
        c.text("name", "  ", 10);
        c.text("code", "abcdefghijk", 10);
        assert_eq!(c.opt_text("x", Some("  "), 3), None);
        c.one_of("status", "NOPE", &["A", "B"]);
        let e = c.finish().unwrap_err();
        let fields: Vec<_> = e.errors.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "code", "status"]);
    }
}
