//! Entry points for the fuzzers (`fuzz/`, `cargo +nightly fuzz run <target>`) and for the bounded property tests
//! of the normal suite (`tests/fuzz_entry.rs`): each takes arbitrary bytes, must never panic, and asserts the
//! invariants of what it drives. Pure functions: no database, no I/O.

use crate::flow::check_criteria;
use crate::numbers::{LotNumber, SerialNumber, WipId};
use crate::scan::{classify, CodeKind};
use serde_json::Value;

/// The number parsers (lot number, WIP id, serial number) and the scan classifier on arbitrary text. A parsed
/// number is canonical: it formats back to exactly the input, its parts are in range, and the classifier agrees.
pub fn numbers(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let kind = classify(s);
    if let Ok(lot) = LotNumber::parse(s) {
        assert_eq!(lot.format(), s);
        assert!((1..=12).contains(&lot.month()) && (1..=99).contains(&lot.seq()));
        assert!((2000..=2099).contains(&lot.year()));
        assert_eq!(
            format!(
                "{}{}{}{}",
                lot.country(),
                lot.line(),
                lot.model(),
                lot.year_month()
            ),
            s[..11]
        );
        assert_eq!(kind, Some(CodeKind::Lot), "{s:?} is a lot number");
    }
    if let Ok(w) = WipId::parse(s) {
        assert_eq!(w.format(), s);
        assert!(w.seq() >= 1);
        assert_eq!(kind, Some(CodeKind::Wip));
    }
    if let Ok(sn) = SerialNumber::parse(s) {
        assert_eq!(sn.format(), s);
        assert!(sn.seq() >= 1);
        assert_eq!(kind, Some(CodeKind::Serial));
    }
    if kind.is_none() {
        assert!(
            LotNumber::parse(s).is_err()
                && WipId::parse(s).is_err()
                && SerialNumber::parse(s).is_err()
        );
    }
}

/// The quality-criteria evaluator on arbitrary JSON: bytes → `[criteria, measurements]` (anything that is not such
/// a pair is read as criteria alone). The outcome is consistent: `passed` is NULL exactly when there are no
/// criteria, true exactly when nothing is missing or violated, and every criterion has its check entry.
pub fn criteria(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let (crit, meas) = match &v {
        Value::Array(pair) if pair.len() == 2 => (pair[0].clone(), pair[1].as_object().cloned()),
        other => (other.clone(), None),
    };
    let out = check_criteria(&crit, meas.as_ref());
    match crit.as_object().filter(|c| !c.is_empty()) {
        None => {
            assert_eq!(out.passed, None);
            assert!(out.check.is_none() && out.missing.is_empty() && out.violations.is_empty());
        }
        Some(c) => {
            let passed = out.passed.expect("criteria given: passed is set");
            assert_eq!(passed, out.missing.is_empty() && out.violations.is_empty());
            let check = out
                .check
                .as_ref()
                .and_then(Value::as_object)
                .expect("a check object");
            assert_eq!(check.len(), c.len());
            for name in c.keys() {
                assert!(check[name]["passed"].is_boolean() || check[name]["passed"].is_null());
            }
            // the check is stored in jsonb: it must serialize
            serde_json::to_string(&out.check).expect("serializable");
        }
    }
}

/// The fuzz targets as bounded property tests of the normal suite: arbitrary bytes, and inputs near the valid
/// ones (where the parsers' edges are).
#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn near_number() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Z]{2}[0-9]{2}[A-Z]{3}[0-9]{6}",
            "[A-Z]{2}[0-9]{2}[A-Z]{3}[0-9]{9}",
            "WIP-[A-Z]{2}[0-9]{2}[A-Z]{3}[0-9]{6}-[0-9]{3}",
            "(WIP-)?[A-Z0-9a-z\\-é€\\x00]{10,22}",
            "\\PC{0,24}",
        ]
    }

    fn json_pair() -> impl Strategy<Value = String> {
        let num = prop_oneof![
            Just("1e400".to_string()),
            Just("-0".to_string()),
            Just("9223372036854775808".to_string()),
            any::<f64>()
                .prop_filter("finite", |x| x.is_finite())
                .prop_map(|x| x.to_string()),
            any::<i64>().prop_map(|x| x.to_string()),
            Just("true".to_string()),
            Just("\"x\"".to_string()),
            Just("null".to_string()),
        ];
        let rule = (num.clone(), num.clone(), any::<bool>()).prop_map(|(lo, hi, req)| {
            format!("{{\"min\":{lo},\"max\":{hi},\"required\":{req},\"unit\":\"mm\"}}")
        });
        (
            proptest::collection::vec(("[a-c]", rule), 0..4),
            proptest::collection::vec(("[a-d]", num), 0..5),
        )
            .prop_map(|(c, m)| {
                let c: Vec<String> = c.iter().map(|(k, r)| format!("\"{k}\":{r}")).collect();
                let m: Vec<String> = m.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("[{{{}}},{{{}}}]", c.join(","), m.join(","))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
        #[test]
        fn numbers_never_panic_and_parse_canonically(s in near_number()) {
            numbers(s.as_bytes());
        }

        #[test]
        fn numbers_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..32)) {
            numbers(&b);
        }

        #[test]
        fn criteria_outcomes_are_consistent(s in json_pair()) {
            criteria(s.as_bytes());
        }

        #[test]
        fn criteria_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            criteria(&b);
        }
    }

    #[test]
    fn fixed_cases() {
        numbers(b"KR01PSA251101");
        numbers(b"WIP-KR01PSA251101-001");
        numbers(b"KR01PSA251101001");
        criteria(br#"[{"t":{"min":1,"max":2,"required":true}},{"t":1e300}]"#);
        criteria(br#"[{"t":{"min":-0,"max":-0}},{"t":-0}]"#);
        criteria(br#"{"t":{"required":true}}"#);
    }
}
