//! Lot numbers, WIP ids and serial numbers: parsed once into types, never re-validated.
//!
//! | type | format | example |
//! |---|---|---|
//! | [`LotNumber`] | `{country 2}{line 2}{model 3}{YYMM 4}{seq 2}` | `KR01PSA251101` (13 chars) |
//! | [`WipId`] | `WIP-{lot}-{seq 3}` | `WIP-KR01PSA251101-001` (21 chars) |
//! | [`SerialNumber`] | `{lot}{seq 3}` | `KR01PSA251101001` (16 chars) |
//!
//! Parts: country = 2 uppercase ASCII letters, line = 2 ASCII digits (both from `production_lines`), model = 3
//! uppercase ASCII letters or digits (`product_models.model_code`), YY = 2 digits (year 2000–2099), MM = 01–12,
//! lot seq = 01–99, unit seq = 001–999. These are the same rules as the database CHECKs
//! `chk_lots_lot_number_format`, `chk_wip_items_wip_id_format` and `chk_serials_serial_number_format` (which do not
//! check the month; parsing here does). See docs/numbers-and-lots.md.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Why a string or a set of parts is not a valid number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("a {kind} has {expected} characters, not {found}")]
    WrongLength {
        kind: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("{part} must be {rule}")]
    InvalidPart {
        part: &'static str,
        rule: &'static str,
    },
    #[error("a WIP id must look like WIP-KR01PSA251101-001")]
    InvalidWipLayout,
    #[error("a {kind} contains only ASCII characters")]
    NotAscii { kind: &'static str },
}

const LOT_LEN: usize = 13;
const SERIAL_LEN: usize = 16;
const WIP_LEN: usize = 21;

fn part(part: &'static str, rule: &'static str) -> NumberError {
    NumberError::InvalidPart { part, rule }
}

fn all(s: &[u8], f: impl Fn(u8) -> bool) -> bool {
    s.iter().all(|&b| f(b))
}

fn is_upper_alnum(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

/// Two or three ASCII digits as a number (the caller checked they are digits).
fn digits(s: &[u8]) -> u16 {
    s.iter().fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'))
}

/// `Ok` when `ok`, else the error naming `part` and its `rule`.
fn require(ok: bool, part_name: &'static str, rule: &'static str) -> Result<(), NumberError> {
    if ok {
        Ok(())
    } else {
        Err(part(part_name, rule))
    }
}

fn check_country(s: &str) -> Result<(), NumberError> {
    let ok = s.len() == 2 && all(s.as_bytes(), |b| b.is_ascii_uppercase());
    require(ok, "country", "2 uppercase letters (A-Z)")
}

fn check_line(s: &str) -> Result<(), NumberError> {
    let ok = s.len() == 2 && all(s.as_bytes(), |b| b.is_ascii_digit());
    require(ok, "line", "2 digits (00-99)")
}

fn check_model(s: &str) -> Result<(), NumberError> {
    let ok = s.len() == 3 && all(s.as_bytes(), is_upper_alnum);
    require(ok, "model", "3 uppercase letters or digits")
}

fn check_year(year: u16) -> Result<(), NumberError> {
    require(
        (2000..=2099).contains(&year),
        "year",
        "between 2000 and 2099",
    )
}

fn check_month(month: u8) -> Result<(), NumberError> {
    require((1..=12).contains(&month), "month", "01-12")
}

fn check_lot_seq(seq: u8) -> Result<(), NumberError> {
    require((1..=99).contains(&seq), "lot sequence", "01-99")
}

fn check_unit_seq(seq: u16) -> Result<(), NumberError> {
    require((1..=999).contains(&seq), "unit sequence", "001-999")
}

/// A `kind` string is ASCII (so it can be sliced by byte) and exactly `len` characters, checked in that order.
fn check_shape(s: &str, kind: &'static str, len: usize) -> Result<(), NumberError> {
    if !s.is_ascii() {
        return Err(NumberError::NotAscii { kind });
    }
    if s.len() != len {
        return Err(NumberError::WrongLength {
            kind,
            expected: len,
            found: s.len(),
        });
    }
    Ok(())
}

/// A production lot number, e.g. `KR01PSA251101`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LotNumber(String);

impl LotNumber {
    /// Build from parts; `year` is the full year (2000–2099), `month` 1–12, `seq` 1–99.
    pub fn new(
        country: &str,
        line: &str,
        model: &str,
        year: u16,
        month: u8,
        seq: u8,
    ) -> Result<Self, NumberError> {
        check_country(country)?;
        check_line(line)?;
        check_model(model)?;
        check_year(year)?;
        check_month(month)?;
        check_lot_seq(seq)?;
        Ok(Self(format!(
            "{country}{line}{model}{:02}{month:02}{seq:02}",
            year % 100
        )))
    }

    /// Build from a production date (its year and month give YYMM).
    pub fn for_date(
        country: &str,
        line: &str,
        model: &str,
        date: NaiveDate,
        seq: u8,
    ) -> Result<Self, NumberError> {
        let year = u16::try_from(date.year()).map_err(|_| part("year", "between 2000 and 2099"))?;
        Self::new(country, line, model, year, date.month() as u8, seq)
    }

    /// Parse a complete lot number; anything else (wrong length, lowercase, month 00/13, seq 00, ...) is an error.
    pub fn parse(s: &str) -> Result<Self, NumberError> {
        check_shape(s, "lot number", LOT_LEN)?;
        let b = s.as_bytes();
        check_country(&s[0..2])?;
        check_line(&s[2..4])?;
        check_model(&s[4..7])?;
        if !all(&b[7..13], |b| b.is_ascii_digit()) {
            return Err(part("YYMM and sequence", "6 digits"));
        }
        check_month(digits(&b[9..11]) as u8)?;
        check_lot_seq(digits(&b[11..13]) as u8)?;
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Country code, e.g. `KR`.
    pub fn country(&self) -> &str {
        &self.0[0..2]
    }
    /// Line code, e.g. `01`.
    pub fn line(&self) -> &str {
        &self.0[2..4]
    }
    /// Model code, e.g. `PSA`.
    pub fn model(&self) -> &str {
        &self.0[4..7]
    }
    /// Full year, e.g. 2025.
    pub fn year(&self) -> u16 {
        2000 + digits(&self.0.as_bytes()[7..9])
    }
    /// Month 1–12.
    pub fn month(&self) -> u8 {
        digits(&self.0.as_bytes()[9..11]) as u8
    }
    /// `YYMM`, e.g. `2511` (the `lot_sequences.year_month` key).
    pub fn year_month(&self) -> &str {
        &self.0[7..11]
    }
    /// Lot sequence within line, model and month, 1–99.
    pub fn seq(&self) -> u8 {
        digits(&self.0.as_bytes()[11..13]) as u8
    }
    pub fn format(&self) -> String {
        self.0.clone()
    }
}

/// The `YYMM` of a production date (the `lot_sequences.year_month` key).
pub fn year_month(date: NaiveDate) -> String {
    format!("{:02}{:02}", date.year().rem_euclid(100), date.month())
}

/// A unit's sequence in its lot with the lot number: what a WIP id and a serial number both are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct UnitNumber {
    lot: LotNumber,
    seq: u16,
}

impl UnitNumber {
    fn new(lot: &LotNumber, seq: u16) -> Result<Self, NumberError> {
        check_unit_seq(seq)?;
        Ok(Self {
            lot: lot.clone(),
            seq,
        })
    }

    fn parse_parts(lot: &str, seq: &str) -> Result<Self, NumberError> {
        let lot = LotNumber::parse(lot)?;
        if seq.len() != 3 || !all(seq.as_bytes(), |b| b.is_ascii_digit()) {
            return Err(part("unit sequence", "001-999"));
        }
        Self::new(&lot, digits(seq.as_bytes()))
    }
}

/// What [`WipId`] and [`SerialNumber`] share: building from a lot and a sequence, and the parts.
macro_rules! unit_number_impls {
    ($t:ty) => {
        impl $t {
            /// Build from a lot number and the unit's sequence in the lot (1–999).
            pub fn new(lot: &LotNumber, seq: u16) -> Result<Self, NumberError> {
                UnitNumber::new(lot, seq).map(Self)
            }

            pub fn lot(&self) -> &LotNumber {
                &self.0.lot
            }
            pub fn country(&self) -> &str {
                self.0.lot.country()
            }
            pub fn line(&self) -> &str {
                self.0.lot.line()
            }
            pub fn model(&self) -> &str {
                self.0.lot.model()
            }
            pub fn year(&self) -> u16 {
                self.0.lot.year()
            }
            pub fn month(&self) -> u8 {
                self.0.lot.month()
            }
            /// The unit's sequence in its lot, 1–999.
            pub fn seq(&self) -> u16 {
                self.0.seq
            }
            pub fn format(&self) -> String {
                self.to_string()
            }
        }
    };
}

/// A work-in-progress unit id, e.g. `WIP-KR01PSA251101-001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WipId(UnitNumber);

impl WipId {
    pub fn parse(s: &str) -> Result<Self, NumberError> {
        check_shape(s, "WIP id", WIP_LEN)?;
        if &s[0..4] != "WIP-" || &s[17..18] != "-" {
            return Err(NumberError::InvalidWipLayout);
        }
        UnitNumber::parse_parts(&s[4..17], &s[18..21]).map(Self)
    }
}

/// A finished unit's serial number: the lot number and 3 digits, e.g. `KR01PSA251101001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SerialNumber(UnitNumber);

impl SerialNumber {
    pub fn parse(s: &str) -> Result<Self, NumberError> {
        check_shape(s, "serial number", SERIAL_LEN)?;
        UnitNumber::parse_parts(&s[0..13], &s[13..16]).map(Self)
    }
}

/// The serial number of unit `seq` of `lot`.
///
/// # Panics
/// If `seq` is not 1–999. Callers pass `sequence_in_lot` of a stored unit, which the schema already restricts to
/// that range; use [`SerialNumber::new`] for values that come from outside.
pub fn serial_for(lot: &LotNumber, seq: u16) -> SerialNumber {
    SerialNumber::new(lot, seq).unwrap_or_else(|e| panic!("serial_for({lot}, {seq}): {e}"))
}

/// The WIP id of unit `seq` of `lot` (same contract as [`serial_for`]).
///
/// # Panics
/// If `seq` is not 1–999.
pub fn wip_for(lot: &LotNumber, seq: u16) -> WipId {
    WipId::new(lot, seq).unwrap_or_else(|e| panic!("wip_for({lot}, {seq}): {e}"))
}

impl fmt::Display for LotNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for WipId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WIP-{}-{:03}", self.0.lot, self.0.seq)
    }
}

impl fmt::Display for SerialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:03}", self.0.lot, self.0.seq)
    }
}

macro_rules! string_impls {
    ($t:ty) => {
        impl FromStr for $t {
            type Err = NumberError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Stored as `TEXT`, like the columns `lots.lot_number`, `wip_items.wip_id`, `serials.serial_number`. Decoding
/// parses: a stored value that is not a valid number is a decode error naming the value (the schema's CHECKs make
/// that impossible for rows they guard, so such an error means the data was changed behind the API), never a
/// silently passed-on string. In the OpenAPI document each is a string with its format's pattern.
macro_rules! sql_impls {
    ($t:ty, $pattern:literal, $example:literal) => {
        impl sqlx::Type<sqlx::Postgres> for $t {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $t {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let s = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                <$t>::parse(s)
                    .map_err(|e| format!("stored {} `{s}` is invalid: {e}", stringify!($t)).into())
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <String as sqlx::Encode<sqlx::Postgres>>::encode(self.to_string(), buf)
            }
        }

        impl sqlx::postgres::PgHasArrayType for $t {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }

        impl utoipa::PartialSchema for $t {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some($pattern))
                    .examples([serde_json::json!($example)])
                    .into()
            }
        }

        impl utoipa::ToSchema for $t {}
    };
}

unit_number_impls!(WipId);
unit_number_impls!(SerialNumber);

string_impls!(LotNumber);
string_impls!(WipId);
string_impls!(SerialNumber);

sql_impls!(
    LotNumber,
    "^[A-Z]{2}[0-9]{2}[A-Z0-9]{3}[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[1-9][0-9])$",
    "KR01PSA251101"
);
sql_impls!(WipId, "^WIP-[A-Z]{2}[0-9]{2}[A-Z0-9]{3}[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[1-9][0-9])-(00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})$", "WIP-KR01PSA251101-001");
sql_impls!(SerialNumber, "^[A-Z]{2}[0-9]{2}[A-Z0-9]{3}[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[1-9][0-9])(00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})$", "KR01PSA251101001");

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples_from_the_spec() {
        let lot = LotNumber::parse("KR01PSA251101").unwrap();
        assert_eq!(
            (lot.country(), lot.line(), lot.model()),
            ("KR", "01", "PSA")
        );
        assert_eq!((lot.year(), lot.month(), lot.seq()), (2025, 11, 1));
        assert_eq!(lot.year_month(), "2511");
        assert_eq!(LotNumber::new("KR", "01", "PSA", 2025, 11, 1).unwrap(), lot);
        let date = NaiveDate::from_ymd_opt(2025, 11, 30).unwrap();
        assert_eq!(
            LotNumber::for_date("KR", "01", "PSA", date, 1).unwrap(),
            lot
        );
        assert_eq!(year_month(date), "2511");

        let wip = WipId::parse("WIP-KR01PSA251101-001").unwrap();
        assert_eq!(wip.lot(), &lot);
        assert_eq!(wip.seq(), 1);
        assert_eq!(wip_for(&lot, 1), wip);
        assert_eq!(wip.to_string(), "WIP-KR01PSA251101-001");

        let serial = serial_for(&lot, 1);
        assert_eq!(serial.to_string(), "KR01PSA251101001");
        assert_eq!(SerialNumber::parse("KR01PSA251101001").unwrap(), serial);
        assert_eq!(serial_for(&lot, 999).to_string(), "KR01PSA251101999");
    }

    #[test]
    fn malformed_examples_are_rejected() {
        for bad in [
            "",
            "KR01PSA2511",
            "KR01PSA25110",
            "KR01PSA2511010",
            "kr01PSA251101",
            "KR01psa251101",
            "KRA1PSA251101",
            "1R01PSA251101",
            "KR01PSA250001",
            "KR01PSA251301",
            "KR01PSA251100",
            "KR01PS-251101",
            "KR01PSA25110A",
            "KR01PSÄ25110",
            " KR01PSA25110",
        ] {
            assert!(LotNumber::parse(bad).is_err(), "{bad:?} accepted");
        }
        for bad in [
            "WIP-KR01PSA251101-000",
            "WIP-KR01PSA251101001",
            "WIP_KR01PSA251101-001",
            "WIP-KR01PSA251101_001",
            "wip-KR01PSA251101-001",
            "WIP-KR01PSA251100-001",
            "WIP-KR01PSA251101-01",
            "WIP-KR01PSA251101-0010",
            "WIP-KR01PSA251101-00a",
        ] {
            assert!(WipId::parse(bad).is_err(), "{bad:?} accepted");
        }
        for bad in [
            "KR01PSA251101000",
            "KR01PSA25110100",
            "KR01PSA2511010011",
            "KR01PSA251100001",
            "KR01PSA251101-01",
        ] {
            assert!(SerialNumber::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn constructors_validate_each_part() {
        assert!(LotNumber::new("Kr", "01", "PSA", 2025, 11, 1).is_err());
        assert!(LotNumber::new("KR", "1", "PSA", 2025, 11, 1).is_err());
        assert!(LotNumber::new("KR", "01", "PS", 2025, 11, 1).is_err());
        assert!(LotNumber::new("KR", "01", "psa", 2025, 11, 1).is_err());
        assert!(LotNumber::new("KR", "01", "PSA", 1999, 11, 1).is_err());
        assert!(LotNumber::new("KR", "01", "PSA", 2025, 0, 1).is_err());
        assert!(LotNumber::new("KR", "01", "PSA", 2025, 13, 1).is_err());
        assert!(LotNumber::new("KR", "01", "PSA", 2025, 11, 0).is_err());
        assert!(LotNumber::new("KR", "01", "PSA", 2025, 11, 100).is_err());
        let lot = LotNumber::new("KR", "01", "PSA", 2025, 11, 99).unwrap();
        assert!(SerialNumber::new(&lot, 0).is_err());
        assert!(SerialNumber::new(&lot, 1000).is_err());
        assert!(WipId::new(&lot, 0).is_err());
        assert!(WipId::new(&lot, 1000).is_err());
    }

    #[test]
    fn serde_is_the_string_form() {
        let lot: LotNumber = serde_json::from_str("\"KR01PSA251101\"").unwrap();
        assert_eq!(serde_json::to_string(&lot).unwrap(), "\"KR01PSA251101\"");
        assert!(serde_json::from_str::<LotNumber>("\"KR01PSA251100\"").is_err());
        let w: WipId = "WIP-KR01PSA251101-007".parse().unwrap();
        assert_eq!(serde_json::to_value(&w).unwrap(), "WIP-KR01PSA251101-007");
    }

    fn lot_parts() -> impl Strategy<Value = (String, String, String, u16, u8, u8)> {
        (
            "[A-Z]{2}",
            "[0-9]{2}",
            "[A-Z0-9]{3}",
            2000u16..=2099,
            1u8..=12,
            1u8..=99,
        )
    }

    /// One valid number of any of the three kinds, as text.
    fn valid_number() -> impl Strategy<Value = String> {
        (lot_parts(), 1u16..=999, 0u8..3).prop_map(|((c, l, m, y, mo, s), seq, kind)| {
            let lot = LotNumber::new(&c, &l, &m, y, mo, s).unwrap();
            match kind {
                0 => lot.to_string(),
                1 => serial_for(&lot, seq).to_string(),
                _ => wip_for(&lot, seq).to_string(),
            }
        })
    }

    /// One small edit of a valid number: what a typo, a scanner or a hand-built label does to it.
    #[derive(Debug, Clone)]
    enum Edit {
        Replace(usize, char),
        Remove(usize),
        Insert(usize, char),
        Lowercase(usize),
        /// Set the month digits (00-99: mostly wrong months).
        Month(u8),
        /// Set the lot sequence digits (00 is the interesting one).
        LotSeq(u8),
    }

    /// Characters that are close to valid ones: both alphabets, the separator, lowercase, look-alikes, non-ASCII.
    fn near_char() -> impl Strategy<Value = char> {
        prop::sample::select(vec![
            'A', 'K', 'Z', '0', '1', '9', '-', 'a', 'z', 'O', 'I', '_', ' ', '%', 'é', '０',
        ])
    }

    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            (0usize..22, near_char()).prop_map(|(i, c)| Edit::Replace(i, c)),
            (0usize..22).prop_map(Edit::Remove),
            (0usize..22, near_char()).prop_map(|(i, c)| Edit::Insert(i, c)),
            (0usize..22).prop_map(Edit::Lowercase),
            (0u8..=99).prop_map(Edit::Month),
            prop_oneof![Just(0u8), 1u8..=99].prop_map(Edit::LotSeq),
        ]
    }

    fn apply(text: &str, edit: &Edit) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        let at = |i: usize, n: usize| if n == 0 { 0 } else { i % n };
        // the lot number starts after `WIP-` in a WIP id
        let lot_at = if text.starts_with("WIP-") { 4 } else { 0 };
        let set_two = |chars: &mut Vec<char>, from: usize, v: u8| {
            let d: Vec<char> = format!("{v:02}").chars().collect();
            if chars.len() >= from + 2 {
                chars[from] = d[0];
                chars[from + 1] = d[1];
            }
        };
        match *edit {
            Edit::Replace(i, c) => {
                let i = at(i, chars.len());
                chars[i] = c;
            }
            Edit::Remove(i) => {
                let i = at(i, chars.len());
                chars.remove(i);
            }
            Edit::Insert(i, c) => {
                let i = at(i, chars.len() + 1);
                chars.insert(i, c);
            }
            Edit::Lowercase(i) => {
                let i = at(i, chars.len());
                chars[i] = chars[i].to_ascii_lowercase();
            }
            Edit::Month(m) => set_two(&mut chars, lot_at + 9, m),
            Edit::LotSeq(s) => set_two(&mut chars, lot_at + 11, s),
        }
        chars.into_iter().collect()
    }

    /// A valid number with 0 to 2 edits: about a third of these stay valid (no edit, or an edit that keeps the
    /// format, e.g. a month 01-12 or a letter for a letter), so both sides of every rule are drawn.
    fn near_valid() -> impl Strategy<Value = String> {
        (valid_number(), prop::collection::vec(edit(), 0..=2))
            .prop_map(|(text, edits)| edits.iter().fold(text, |t, e| apply(&t, e)))
    }

    /// The oracle: the formats of docs/numbers-and-lots.md as regular expressions, written independently of the
    /// parser (which works by byte positions).
    struct Oracle {
        lot: regex::Regex,
        serial: regex::Regex,
        wip: regex::Regex,
    }

    impl Oracle {
        fn new() -> Self {
            let lot = r"[A-Z]{2}[0-9]{2}[A-Z0-9]{3}[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[1-9][0-9])";
            let unit = r"(00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})";
            let re = |s: String| regex::Regex::new(&format!("^{s}$")).unwrap();
            Oracle {
                lot: re(lot.to_string()),
                serial: re(format!("{lot}{unit}")),
                wip: re(format!("WIP-{lot}-{unit}")),
            }
        }
    }

    #[test]
    fn near_valid_strings_hit_both_sides() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let oracle = Oracle::new();
        let mut runner = TestRunner::deterministic();
        let strategy = near_valid();
        let n = 2000;
        let valid = (0..n)
            .filter(|_| {
                let s = strategy.new_tree(&mut runner).unwrap().current();
                oracle.lot.is_match(&s) || oracle.serial.is_match(&s) || oracle.wip.is_match(&s)
            })
            .count();
        // a uniform fuzz of short strings draws a valid number about never; this one draws plenty of each
        assert!(
            (n / 10..=n * 9 / 10).contains(&valid),
            "{valid} of {n} valid"
        );
    }

    proptest! {
        #[test]
        fn lot_parts_round_trip((c, l, m, y, mo, s) in lot_parts()) {
            let lot = LotNumber::new(&c, &l, &m, y, mo, s).unwrap();
            let text = lot.to_string();
            prop_assert_eq!(text.len(), 13);
            let back = LotNumber::parse(&text).unwrap();
            prop_assert_eq!(&back, &lot);
            prop_assert_eq!((back.country(), back.line(), back.model()), (c.as_str(), l.as_str(), m.as_str()));
            prop_assert_eq!((back.year(), back.month(), back.seq()), (y, mo, s));
        }

        #[test]
        fn units_round_trip((c, l, m, y, mo, s) in lot_parts(), seq in 1u16..=999) {
            let lot = LotNumber::new(&c, &l, &m, y, mo, s).unwrap();
            let serial = serial_for(&lot, seq);
            let text = serial.to_string();
            prop_assert_eq!(text.len(), 16);
            prop_assert_eq!(&text[..13], lot.as_str());
            prop_assert_eq!(text[13..].parse::<u16>().unwrap(), seq);
            let back = SerialNumber::parse(&text).unwrap();
            prop_assert_eq!(back.lot(), &lot);
            prop_assert_eq!(back.seq(), seq);
            prop_assert_eq!((back.country(), back.model(), back.year(), back.month()), (c.as_str(), m.as_str(), y, mo));

            let wip = wip_for(&lot, seq);
            let text = wip.to_string();
            prop_assert_eq!(text.len(), 21);
            prop_assert_eq!(text.clone(), format!("WIP-{lot}-{seq:03}"));
            let back = WipId::parse(&text).unwrap();
            prop_assert_eq!(back.lot(), &lot);
            prop_assert_eq!(back.seq(), seq);
            prop_assert_eq!(back.line(), l.as_str());
        }

        /// Near-valid strings: each parser accepts exactly what the oracle's regex accepts, and what it accepts
        /// formats back to itself.
        #[test]
        fn parsers_accept_exactly_the_valid_numbers(s in near_valid()) {
            let oracle = Oracle::new();
            let lot = LotNumber::parse(&s);
            prop_assert_eq!(lot.is_ok(), oracle.lot.is_match(&s), "lot {:?}: {:?}", s, lot);
            let serial = SerialNumber::parse(&s);
            prop_assert_eq!(serial.is_ok(), oracle.serial.is_match(&s), "serial {:?}: {:?}", s, serial);
            let wip = WipId::parse(&s);
            prop_assert_eq!(wip.is_ok(), oracle.wip.is_match(&s), "WIP id {:?}: {:?}", s, wip);
            for text in [lot.map(|v| v.to_string()), serial.map(|v| v.to_string()), wip.map(|v| v.to_string())]
                .into_iter()
                .flatten()
            {
                prop_assert_eq!(&text, &s);
            }
        }

        /// Any string at all: parse never panics, and whatever it accepts formats back to exactly itself.
        #[test]
        fn parse_accepts_only_canonical_strings(s in "\\PC{0,24}") {
            if let Ok(lot) = LotNumber::parse(&s) { prop_assert_eq!(lot.to_string(), s.clone()); }
            if let Ok(w) = WipId::parse(&s) { prop_assert_eq!(w.to_string(), s.clone()); }
            if let Ok(n) = SerialNumber::parse(&s) { prop_assert_eq!(n.to_string(), s); }
        }

        /// Strings built from the right alphabet but any length other than 13 are rejected.
        #[test]
        fn wrong_length_is_rejected(s in "[A-Z0-9]{0,30}") {
            prop_assume!(s.len() != 13);
            prop_assert!(LotNumber::parse(&s).is_err());
            if s.len() != 16 { prop_assert!(SerialNumber::parse(&s).is_err()); }
        }

        /// Lowercasing any letter of a valid number makes it invalid.
        #[test]
        fn lowercase_is_rejected((c, l, m, y, mo, s) in lot_parts(), seq in 1u16..=999, pos in 0usize..21) {
            let lot = LotNumber::new(&c, &l, &m, y, mo, s).unwrap();
            for text in [lot.to_string(), serial_for(&lot, seq).to_string(), wip_for(&lot, seq).to_string()] {
                let i = pos % text.len();
                if !text.as_bytes()[i].is_ascii_uppercase() {
                    continue;
                }
                let mut bad = text.clone().into_bytes();
                bad[i] = bad[i].to_ascii_lowercase();
                let bad = String::from_utf8(bad).unwrap();
                prop_assert!(LotNumber::parse(&bad).is_err());
                prop_assert!(SerialNumber::parse(&bad).is_err());
                prop_assert!(WipId::parse(&bad).is_err());
            }
        }

        /// Month 00 or 13–99 is rejected in every format.
        #[test]
        fn bad_month_is_rejected((c, l, m, y, _mo, s) in lot_parts(), month in prop_oneof![Just(0u8), 13u8..=99], seq in 1u16..=999) {
            let good = LotNumber::new(&c, &l, &m, y, 1, s).unwrap().to_string();
            let bad = format!("{}{:02}{}", &good[..9], month, &good[11..]);
            prop_assert!(LotNumber::parse(&bad).is_err());
            { let text = format!("{bad}{seq:03}"); prop_assert!(SerialNumber::parse(&text).is_err(), "{} accepted", text); }
            { let text = format!("WIP-{bad}-{seq:03}"); prop_assert!(WipId::parse(&text).is_err(), "{} accepted", text); }
        }

        /// Lot sequence 00 and unit sequence 000 are rejected.
        #[test]
        fn zero_sequences_are_rejected((c, l, m, y, mo, s) in lot_parts(), seq in 1u16..=999) {
            let lot = LotNumber::new(&c, &l, &m, y, mo, s).unwrap().to_string();
            let zero_lot = format!("{}00", &lot[..11]);
            prop_assert!(LotNumber::parse(&zero_lot).is_err());
            { let text = format!("{zero_lot}{seq:03}"); prop_assert!(SerialNumber::parse(&text).is_err(), "{} accepted", text); }
            { let text = format!("{lot}000"); prop_assert!(SerialNumber::parse(&text).is_err(), "{} accepted", text); }
            { let text = format!("WIP-{lot}-000"); prop_assert!(WipId::parse(&text).is_err(), "{} accepted", text); }
        }

        /// Any separator other than `-` (or none) in a WIP id is rejected.
        #[test]
        fn wrong_separators_are_rejected((c, l, m, y, mo, s) in lot_parts(), seq in 1u16..=999,
                                         sep in "[^-]", which in 0usize..3) {
            let lot = LotNumber::new(&c, &l, &m, y, mo, s).unwrap();
            let text = match which {
                0 => format!("WIP{sep}{lot}-{seq:03}"),
                1 => format!("WIP-{lot}{sep}{seq:03}"),
                _ => format!("WIP-{lot}{seq:03}"),
            };
            prop_assert!(WipId::parse(&text).is_err());
        }

        /// Replacing any character of a valid number with a non-ASCII one is rejected (never panics on slicing).
        #[test]
        fn non_ascii_is_rejected((c, l, m, y, mo, s) in lot_parts(), seq in 1u16..=999, pos in 0usize..21,
                                 ch in "[^\\x00-\\x7F]") {
            let lot = LotNumber::new(&c, &l, &m, y, mo, s).unwrap();
            for text in [lot.to_string(), serial_for(&lot, seq).to_string(), wip_for(&lot, seq).to_string()] {
                let i = pos % text.len();
                let bad = format!("{}{}{}", &text[..i], ch, &text[i + 1..]);
                prop_assert!(LotNumber::parse(&bad).is_err());
                prop_assert!(SerialNumber::parse(&bad).is_err());
                prop_assert!(WipId::parse(&bad).is_err());
            }
        }
    }
}
