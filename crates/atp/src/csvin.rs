//! Reading uploaded CSV files into checked rows, with every problem reported as (file, row, column, reason).
//!
//! Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row is row 2. Cells are
//! trimmed; an empty cell is "absent". Header names are case-insensitive; an unknown column is reported (a typo in
//! a header would otherwise silently drop a column), a missing required column is reported once for the file.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

neurohub_core::text_enum!(
    /// How bad a reported problem is: an ERROR refuses the upload, a WARNING is reported and accepted.
    Severity {
        Error => "ERROR",
        Warning => "WARNING",
    }
);

/// One problem of an uploaded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Issue {
    /// The uploaded file (its multipart field name, e.g. `stages`).
    pub file: String,
    /// Spreadsheet row (header = 1); 0 for a problem of the whole file.
    pub row: usize,
    /// The column, empty for a problem of the whole row or file.
    pub column: String,
    pub reason: String,
    pub severity: Severity,
}

/// The issues found so far.
#[derive(Debug, Default)]
pub struct Report(pub Vec<Issue>);

impl Report {
    pub fn error(&mut self, file: &str, row: usize, column: &str, reason: impl Into<String>) {
        self.push(file, row, column, reason, Severity::Error);
    }

    pub fn warning(&mut self, file: &str, row: usize, column: &str, reason: impl Into<String>) {
        self.push(file, row, column, reason, Severity::Warning);
    }

    fn push(
        &mut self,
        file: &str,
        row: usize,
        column: &str,
        reason: impl Into<String>,
        severity: Severity,
    ) {
        self.0.push(Issue {
            file: file.to_string(),
            row,
            column: column.to_string(),
            reason: reason.into(),
            severity,
        });
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|i| i.severity == Severity::Error)
    }

    pub fn has_warnings(&self) -> bool {
        self.0.iter().any(|i| i.severity == Severity::Warning)
    }
}

/// One data row of a table.
pub struct Row<'a> {
    pub file: &'a str,
    pub line: usize,
    cells: HashMap<&'a str, &'a str>,
}

impl<'a> Row<'a> {
    /// The trimmed cell, `None` when empty or the column is absent.
    pub fn get(&self, column: &str) -> Option<&'a str> {
        self.cells.get(column).copied().filter(|s| !s.is_empty())
    }

    /// A required text cell of at most `max` characters.
    pub fn text(&self, r: &mut Report, column: &str, max: usize) -> Option<String> {
        match self.get(column) {
            None => {
                r.error(self.file, self.line, column, "is required");
                None
            }
            Some(v) => self.check_len(r, column, v, max),
        }
    }

    /// An optional text cell of at most `max` characters.
    pub fn opt_text(&self, r: &mut Report, column: &str, max: usize) -> Option<String> {
        self.get(column)
            .and_then(|v| self.check_len(r, column, v, max))
    }

    fn check_len(&self, r: &mut Report, column: &str, v: &str, max: usize) -> Option<String> {
        if v.chars().count() > max {
            r.error(
                self.file,
                self.line,
                column,
                format!("is longer than {max} characters"),
            );
            None
        } else {
            Some(v.to_string())
        }
    }

    /// A required code: 1-50 of A-Z, 0-9, `_`, `-` (upper case; lower case is reported, not folded).
    pub fn code(&self, r: &mut Report, column: &str) -> Option<String> {
        let v = self.text(r, column, 50)?;
        if is_code(&v) {
            Some(v)
        } else {
            r.error(
                self.file,
                self.line,
                column,
                format!("`{v}` is not a code (A-Z, 0-9, _ and -)"),
            );
            None
        }
    }

    /// An optional code.
    pub fn opt_code(&self, r: &mut Report, column: &str) -> Option<Option<String>> {
        match self.get(column) {
            None => Some(None),
            Some(_) => self.code(r, column).map(Some),
        }
    }

    /// A value of a text enum; `default` when the cell is empty (`None` = required).
    pub fn enum_value<E: std::str::FromStr<Err = String>>(
        &self,
        r: &mut Report,
        column: &str,
        default: Option<E>,
    ) -> Option<E> {
        match (self.get(column), default) {
            (None, Some(d)) => Some(d),
            (None, None) => {
                r.error(self.file, self.line, column, "is required");
                None
            }
            (Some(v), _) => match v.parse::<E>() {
                Ok(e) => Some(e),
                Err(allowed) => {
                    r.error(
                        self.file,
                        self.line,
                        column,
                        format!("`{v}` is unknown: {allowed}"),
                    );
                    None
                }
            },
        }
    }

    /// A whole number in `min..=max`; `None` when empty (`required` reports that).
    pub fn int(
        &self,
        r: &mut Report,
        column: &str,
        min: i64,
        max: i64,
        required: bool,
    ) -> Option<Option<i64>> {
        match self.get(column) {
            None if required => {
                r.error(self.file, self.line, column, "is required");
                None
            }
            None => Some(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Some(Some(n)),
                _ => {
                    r.error(
                        self.file,
                        self.line,
                        column,
                        format!("`{v}` is not a whole number in {min}..={max}"),
                    );
                    None
                }
            },
        }
    }

    /// A decimal in `min..=max` (coordinates).
    pub fn decimal(&self, r: &mut Report, column: &str, min: f64, max: f64) -> Option<Option<f64>> {
        match self.get(column) {
            None => Some(None),
            Some(v) => match v.parse::<f64>() {
                Ok(x) if x.is_finite() && (min..=max).contains(&x) => Some(Some(x)),
                _ => {
                    r.error(
                        self.file,
                        self.line,
                        column,
                        format!("`{v}` is not a number in {min}..={max}"),
                    );
                    None
                }
            },
        }
    }

    /// true / false (also yes/no, 1/0, Y/N); `default` when empty.
    pub fn boolean(&self, r: &mut Report, column: &str, default: bool) -> Option<bool> {
        match self.get(column).map(|v| v.to_ascii_lowercase()) {
            None => Some(default),
            Some(v) => match v.as_str() {
                "true" | "yes" | "y" | "1" => Some(true),
                "false" | "no" | "n" | "0" => Some(false),
                _ => {
                    r.error(
                        self.file,
                        self.line,
                        column,
                        format!("`{v}` is not true or false"),
                    );
                    None
                }
            },
        }
    }

    /// A date `YYYY-MM-DD`.
    pub fn date(&self, r: &mut Report, column: &str) -> Option<Option<chrono::NaiveDate>> {
        match self.get(column) {
            None => Some(None),
            Some(v) => match chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
                Ok(d) => Some(Some(d)),
                Err(_) => {
                    r.error(
                        self.file,
                        self.line,
                        column,
                        format!("`{v}` is not a date YYYY-MM-DD"),
                    );
                    None
                }
            },
        }
    }
}

/// The reason reported for a cell or header holding U+0000.
pub const NUL_REASON: &str = neurohub_core::extract::NUL_MESSAGE;

/// `s` with every NUL shown as U+FFFD (for naming a header that holds one).
fn nul_free(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

/// `A-Z0-9_-`, 1 to 50 characters.
pub fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 50
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The 1-based line of byte offset `at` (the csv reader's own line count skips blank lines).
fn line_at(bytes: &[u8], at: u64) -> usize {
    let mut at = (at as usize).min(bytes.len());
    // a record's position is where reading it began: before any blank lines the reader skipped
    while at < bytes.len() && (bytes[at] == b'\n' || bytes[at] == b'\r') {
        at += 1;
    }
    bytes[..at].iter().filter(|b| **b == b'\n').count() + 1
}

/// A parsed CSV file: header and records.
pub struct Table {
    pub file: String,
    headers: Vec<String>,
    records: Vec<(usize, Vec<String>)>,
}

impl Table {
    /// Parse `bytes` as a comma-separated file with a header row. Unknown and missing columns are reported; a file
    /// that is not CSV at all (bad UTF-8, ragged rows) is reported at the row where reading stopped.
    pub fn read(
        file: &str,
        bytes: &[u8],
        required: &[&str],
        optional: &[&str],
        r: &mut Report,
    ) -> Option<Table> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes); // Excel's UTF-8 byte-order mark
        let mut rd = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let headers: Vec<String> = match rd.headers() {
            Ok(h) => h.iter().map(|s| s.to_ascii_lowercase()).collect(),
            Err(e) => {
                r.error(file, 1, "", format!("not a CSV file: {e}"));
                return None;
            }
        };
        // PostgreSQL text (and jsonb, where reports are kept) cannot hold NUL: refused here, for every importer
        if let Some(i) = headers.iter().position(|h| h.contains('\0')) {
            r.error(file, 1, &nul_free(&headers[i]), NUL_REASON);
            return None;
        }
        if headers.iter().all(|h| h.is_empty()) {
            r.error(file, 1, "", "the file is empty: it needs a header row");
            return None;
        }
        let mut ok = true;
        for c in required {
            if !headers.iter().any(|h| h == c) {
                r.error(file, 1, c, "required column is missing");
                ok = false;
            }
        }
        let mut seen = Vec::new();
        for h in &headers {
            if !required.contains(&h.as_str()) && !optional.contains(&h.as_str()) {
                r.error(
                    file,
                    1,
                    h,
                    format!(
                        "unknown column; the columns are {}",
                        [required, optional].concat().join(", ")
                    ),
                );
                ok = false;
            }
            if seen.contains(&h) {
                r.error(file, 1, h, "column appears twice");
                ok = false;
            }
            seen.push(h);
        }
        let mut records = Vec::new();
        for (i, rec) in rd.records().enumerate() {
            match rec {
                Ok(rec) => {
                    if rec.iter().all(|c| c.is_empty()) {
                        continue; // blank line
                    }
                    // the line the record starts on (the reader skips blank lines itself)
                    let line = rec
                        .position()
                        .map(|p| line_at(bytes, p.byte()))
                        .unwrap_or(i + 2);
                    if let Some(c) = rec.iter().position(|c| c.contains('\0')) {
                        let column = headers.get(c).map(String::as_str).unwrap_or("");
                        r.error(file, line, column, NUL_REASON);
                        ok = false;
                        continue;
                    }
                    records.push((line, rec.iter().map(str::to_string).collect()));
                }
                Err(e) => {
                    let line = e
                        .position()
                        .map(|p| line_at(bytes, p.byte()))
                        .unwrap_or(i + 2);
                    r.error(file, line, "", format!("unreadable row: {e}"));
                    ok = false;
                }
            }
        }
        ok.then(|| Table {
            file: file.to_string(),
            headers,
            records,
        })
    }

    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.records.iter().map(move |(line, cells)| Row {
            file: &self.file,
            line: *line,
            cells: self
                .headers
                .iter()
                .map(String::as_str)
                .zip(cells.iter().map(String::as_str))
                .collect(),
        })
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_with_spreadsheet_numbers() {
        let mut r = Report::default();
        let t = Table::read(
            "f",
            b"\xEF\xBB\xBFCode,Name\nA, x \n\nB,y\n",
            &["code"],
            &["name"],
            &mut r,
        )
        .unwrap();
        assert!(r.0.is_empty(), "{:?}", r.0);
        let rows: Vec<_> = t
            .rows()
            .map(|row| (row.line, row.get("code"), row.get("name")))
            .collect();
        assert_eq!(
            rows,
            vec![(2, Some("A"), Some("x")), (4, Some("B"), Some("y"))]
        );
    }

    #[test]
    fn header_problems_are_each_reported() {
        let mut r = Report::default();
        assert!(Table::read("f", b"nme,extra,extra\n", &["code", "name"], &[], &mut r).is_none());
        let cols: Vec<_> = r.0.iter().map(|i| i.column.as_str()).collect();
        assert_eq!(cols, vec!["code", "name", "nme", "extra", "extra", "extra"]);
        let mut r = Report::default();
        assert!(Table::read("f", b"", &["code"], &[], &mut r).is_none());
        assert_eq!(r.0.len(), 1);
    }

    #[test]
    fn nul_in_a_cell_or_header_is_reported_not_read() {
        let mut r = Report::default();
        assert!(Table::read(
            "f",
            b"code,name\nA,x\nB,y\0z\n",
            &["code", "name"],
            &[],
            &mut r
        )
        .is_none());
        assert_eq!(
            (r.0[0].row, r.0[0].column.as_str(), r.0[0].reason.as_str()),
            (3, "name", NUL_REASON)
        );
        let mut r = Report::default();
        assert!(Table::read("f", b"code,na\0me\nA,x\n", &["code"], &["name"], &mut r).is_none());
        assert_eq!((r.0[0].row, r.0[0].column.as_str()), (1, "na\u{FFFD}me"));
        assert!(!r
            .0
            .iter()
            .any(|i| i.column.contains('\0') || i.reason.contains('\0')));
    }

    #[test]
    fn ragged_rows_are_reported_with_their_row() {
        let mut r = Report::default();
        assert!(Table::read("f", b"code,name\nA,x\nB\n", &["code", "name"], &[], &mut r).is_none());
        assert_eq!(r.0[0].row, 3);
    }

    #[test]
    fn cell_checks() {
        let mut r = Report::default();
        let t = Table::read(
            "f",
            b"code,n,b,d,lat\nab,x,maybe,2025-13-01,91\nOK,5,yes,2025-01-31,-6.2\n",
            &["code", "n", "b", "d", "lat"],
            &[],
            &mut r,
        )
        .unwrap();
        let rows: Vec<_> = t.rows().collect();
        assert!(rows[0].code(&mut r, "code").is_none());
        assert!(rows[0].int(&mut r, "n", 1, 10, true).is_none());
        assert!(rows[0].boolean(&mut r, "b", false).is_none());
        assert!(rows[0].date(&mut r, "d").is_none());
        assert!(rows[0].decimal(&mut r, "lat", -90.0, 90.0).is_none());
        assert_eq!(r.0.len(), 5);
        assert!(r.0.iter().all(|i| i.row == 2));
        let mut r = Report::default();
        assert_eq!(rows[1].code(&mut r, "code").as_deref(), Some("OK"));
        assert_eq!(rows[1].int(&mut r, "n", 1, 10, true), Some(Some(5)));
        assert_eq!(rows[1].boolean(&mut r, "b", false), Some(true));
        assert_eq!(
            rows[1].decimal(&mut r, "lat", -90.0, 90.0),
            Some(Some(-6.2))
        );
        assert!(rows[1].date(&mut r, "d").unwrap().is_some());
        assert!(r.0.is_empty());
    }
}
