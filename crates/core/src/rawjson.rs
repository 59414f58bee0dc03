//! JSON that PostgreSQL built or stored, passed through to the response as it is.
//!
//! A `json`/`jsonb` column decoded into `serde_json::Value` is parsed into a tree of maps, strings and numbers
//! (an allocation per node) only to be written back out byte for byte. [`RawJson`] keeps the text: decoding
//! checks it is well-formed JSON and copies it once, and serializing writes it verbatim. Measured on the
//! reference set (bench/results/2026-12-03.md): a page of 100 process records cost the server 1.3–1.5 ms of
//! CPU with `Value` measurements, defects and criteria checks, most of it building and dropping those trees.
//!
//! Use it for values the server only forwards. Code that reads a JSON value (criteria checks, validation) keeps
//! `serde_json::Value`. It deserializes from JSON text (`serde_json::from_str`/`from_slice`), not from a
//! `serde_json::Value`.

/// A `json`/`jsonb` value kept as its JSON text (see the module docs).
pub type RawJson = sqlx::types::Json<Box<serde_json::value::RawValue>>;

#[cfg(test)]
mod tests {
    use super::RawJson;

    #[test]
    fn passes_the_text_through_unchanged() {
        let text = r#"{"b":1,"a":[1.50,"x\u00e9"]}"#;
        let raw: RawJson = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&raw).unwrap(), text);
        let nested = serde_json::json!({ "m": raw });
        assert_eq!(nested["m"]["a"][1], "xé");
    }

    #[test]
    fn rejects_what_is_not_json() {
        assert!(serde_json::from_str::<RawJson>("{nope").is_err());
    }
}
