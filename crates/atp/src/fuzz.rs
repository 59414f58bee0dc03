//! Entry points for the fuzzers (`fuzz/`, `cargo +nightly fuzz run <target>`) and for the bounded property tests
//! of the normal suite (`tests/fuzz_entry.rs`): the CSV importers on arbitrary bytes. They must never panic, and
//! what they would store must be storable: no NUL in any accepted cell or reported problem (PostgreSQL text and
//! jsonb cannot hold it), every problem on a real row of the file.

use crate::config::parse::{check, files, Lookups};
use crate::csvin::{Issue, Report};
use crate::sites::check_sites;
use crate::state::SourceType;
use std::collections::{BTreeMap, HashSet};

fn storable(issues: &[Issue], bytes: &[u8]) {
    let lines = bytes.iter().filter(|b| **b == b'\n').count() + 1;
    for i in issues {
        assert!(
            !i.file.contains('\0') && !i.column.contains('\0') && !i.reason.contains('\0'),
            "{i:?}"
        );
        assert!(
            i.row <= lines,
            "row {} of a {lines}-line file: {i:?}",
            i.row
        );
    }
    serde_json::to_string(issues).expect("a report serializes");
}

fn report_ok(r: &Report, bytes: &[u8]) {
    storable(&r.0, bytes);
}

/// The site importer (`POST …/sites/import`) on one file, with and without active clusters.
pub fn sites_csv(data: &[u8]) {
    for active in [None, Some(HashSet::from(["JKT-C1".to_string()]))] {
        let (report, rows) = check_sites(data, &active);
        report_ok(&report, data);
        if report.has_errors() {
            continue;
        }
        for row in &rows {
            assert!(!row.site_id.is_empty() && !row.site_name.is_empty());
            for t in [&row.site_id, &row.site_name] {
                assert!(!t.contains('\0'));
            }
            for c in row.coords.iter().flatten() {
                assert!(c.is_finite());
            }
        }
    }
}

/// The configuration importer (`POST …/config-versions`): the first byte picks the source type and the file
/// the rest goes into; the type's other files are empty headers-only files (so the rows of the fuzzed one
/// are checked).
pub fn config_csv(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let types = SourceType::ALL;
    let t = types[pick as usize % types.len()];
    let specs = files(t);
    let target = (pick as usize / types.len()) % specs.len();
    let mut uploaded = BTreeMap::new();
    for (i, s) in specs.iter().enumerate() {
        let bytes = if i == target {
            rest.to_vec()
        } else {
            let mut h = [s.required, s.optional].concat().join(",").into_bytes();
            h.push(b'\n');
            h
        };
        uploaded.insert(s.name.to_string(), bytes);
    }
    let checked = check(t, &uploaded, &Lookups::default());
    report_ok(&checked.report, rest);
    if checked.parsed.is_some() {
        assert!(!checked.report.has_errors());
    }
}

/// The fuzz targets as bounded property tests of the normal suite: the shipped example files with cells
/// replaced by hostile ones, and arbitrary bytes.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{EXAMPLE, EXAMPLE_SITES};
    use proptest::prelude::*;

    /// A shipped file with one cell (row, column) replaced by `cell`.
    fn spoil(csv: &[u8], row: usize, col: usize, cell: &[u8]) -> Vec<u8> {
        let mut lines: Vec<Vec<u8>> = csv.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
        let row = row % lines.len();
        let mut cells: Vec<Vec<u8>> = lines[row]
            .split(|b| *b == b',')
            .map(<[u8]>::to_vec)
            .collect();
        let col = col % cells.len();
        cells[col] = cell.to_vec();
        lines[row] = cells.join(&b',');
        lines.join(&b'\n')
    }

    fn cell() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"\0".to_vec()),
            Just(b"a\0b".to_vec()),
            Just(b"\xff\xfe".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"1e400".to_vec()),
            Just(b"NaN".to_vec()),
            Just(b"-0".to_vec()),
            Just(b"9223372036854775808".to_vec()),
            Just(b"'; DROP TABLE sites; --".to_vec()),
            Just(vec![b'x'; 5000]),
            "\\PC{0,12}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..8),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]
        #[test]
        fn sites_import_never_panics(row in 0usize..8, col in 0usize..12, c in cell()) {
            sites_csv(&spoil(EXAMPLE_SITES, row, col, &c));
        }

        #[test]
        fn config_import_never_panics(t in 0usize..16, row in 0usize..8, col in 0usize..12, c in cell()) {
            let (_, files) = EXAMPLE[t % EXAMPLE.len()];
            let (i, (_, bytes)) = files.iter().enumerate().nth(t % files.len()).unwrap();
            // the byte that makes config_csv pick this type and file
            let ty = SourceType::ALL.iter().position(|s| *s == EXAMPLE[t % EXAMPLE.len()].0).unwrap();
            let pick = (ty + i * SourceType::ALL.len()) as u8;
            let mut data = vec![pick];
            data.extend(spoil(bytes, row, col, &c));
            config_csv(&data);
        }

        #[test]
        fn importers_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..256)) {
            sites_csv(&b);
            config_csv(&b);
        }
    }
}
