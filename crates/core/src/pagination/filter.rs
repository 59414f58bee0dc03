//! Prefix filters (`q=` of the number lists): validated, then an index-usable range plus an exact `LIKE` with
//! its wildcards escaped.

use sqlx::{Postgres, QueryBuilder};

use crate::error::ApiError;

/// What a prefix filter accepts: at most `max` bytes, each passing `allowed` after `uppercase` (if set).
#[derive(Debug, Clone, Copy)]
pub struct PrefixRule {
    /// The query parameter's name (for the error's field).
    pub field: &'static str,
    pub max: usize,
    /// Fold to ASCII uppercase first (the numbers are uppercase; clients may type lowercase).
    pub uppercase: bool,
    pub allowed: fn(char) -> bool,
    /// The allowed characters in words, for the message (`letters and digits`).
    pub describe: &'static str,
}

/// The validated prefix of `q` (trimmed; `None` when absent or blank), or 400 INVALID_QUERY naming the field.
pub fn prefix(q: Option<&str>, rule: PrefixRule) -> Result<Option<String>, ApiError> {
    let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    let q = if rule.uppercase {
        q.to_ascii_uppercase()
    } else {
        q.to_string()
    };
    if q.len() <= rule.max && q.chars().all(rule.allowed) {
        Ok(Some(q))
    } else {
        let msg = format!("at most {} {}", rule.max, rule.describe);
        Err(
            ApiError::bad_request("INVALID_QUERY", format!("{} must be {msg}", rule.field))
                .with_field(rule.field, msg),
        )
    }
}

/// `prefix` as a `LIKE` pattern matching every string that starts with it: `%`, `_` and `\` escaped.
pub fn like_prefix(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 1);
    for ch in prefix.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(ch);
    }
    s.push('%');
    s
}

/// The first string after every string starting with `prefix`, in byte order (as under the C / C.UTF-8
/// collations of our databases), when it is simple to compute: an ASCII prefix whose last byte is below `~`.
fn upper_bound(prefix: &str) -> Option<String> {
    let mut bytes = prefix.as_bytes().to_vec();
    let last = bytes.last_mut()?;
    if !prefix.is_ascii() || *last >= b'~' {
        return None;
    }
    *last += 1;
    String::from_utf8(bytes).ok()
}

/// Push ` AND column starts with prefix` onto `qb`: `column >= $p AND column < $p'` (a btree range scan, whatever
/// the plan's knowledge of the parameter) and `column LIKE $p% ESCAPE '\'` (exact). `column` is a whitelisted
/// identifier, never input.
pub fn push_prefix(qb: &mut QueryBuilder<'_, Postgres>, column: &str, prefix: &str) {
    if let Some(upper) = upper_bound(prefix) {
        qb.push(format!(" AND {column} >= "))
            .push_bind(prefix.to_string());
        qb.push(format!(" AND {column} < ")).push_bind(upper);
    }
    qb.push(format!(" AND {column} LIKE "))
        .push_bind(like_prefix(prefix))
        .push(" ESCAPE '\\'");
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOT: PrefixRule = PrefixRule {
        field: "q",
        max: 13,
        uppercase: true,
        allowed: |c| c.is_ascii_uppercase() || c.is_ascii_digit(),
        describe: "letters and digits",
    };

    #[test]
    fn prefixes_are_validated_and_uppercased() {
        assert_eq!(prefix(Some("kr01"), LOT).unwrap().as_deref(), Some("KR01"));
        assert_eq!(prefix(Some(" "), LOT).unwrap(), None);
        assert_eq!(prefix(None, LOT).unwrap(), None);
        let e = prefix(Some("KR%"), LOT).unwrap_err();
        assert_eq!((e.code, e.errors[0].field.as_str()), ("INVALID_QUERY", "q"));
        assert!(prefix(Some("KR01PSA2511011"), LOT).is_err());
    }

    #[test]
    fn wildcards_are_escaped() {
        assert_eq!(like_prefix("KR01"), "KR01%");
        assert_eq!(like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
    }

    #[test]
    fn range_and_like() {
        let mut qb = QueryBuilder::<Postgres>::new("WHERE TRUE");
        push_prefix(&mut qb, "l.lot_number", "KR01");
        assert_eq!(
            qb.into_sql(),
            "WHERE TRUE AND l.lot_number >= $1 AND l.lot_number < $2 AND l.lot_number LIKE $3 ESCAPE '\\'"
        );
        assert_eq!(upper_bound("KR01").as_deref(), Some("KR02"));
        assert_eq!(upper_bound("WIP-"), Some("WIP.".into()));
        // no simple bound: the LIKE alone is still exact
        assert_eq!(upper_bound("a~"), None);
        assert_eq!(upper_bound("é"), None);
        let mut qb = QueryBuilder::<Postgres>::new("WHERE TRUE");
        push_prefix(&mut qb, "c", "é");
        assert_eq!(qb.into_sql(), "WHERE TRUE AND c LIKE $1 ESCAPE '\\'");
    }
}
