//! What the catalog cannot tell: the seed's floor counts, its named audit partitions and its 8 processes (data,
//! not schema). Every schema object itself is written once, in the migrations; the expected catalog of each
//! version is the snapshot they produce ([`crate::expected_catalog`], `crates/schema/snapshots/`).

use crate::snapshot::expected_catalog;

/// The seed 000 table of index / trigger counts per table: a floor the head schema must reach (a test checks the
/// head snapshot against it, so a migration that drops below the seed fails).
pub const SEED_FLOOR: &[(&str, usize, usize)] = &[
    ("product_models", 4, 2),
    ("processes", 4, 3),
    ("users", 5, 3),
    ("lots", 6, 4),
    ("serials", 6, 5),
    ("process_data", 11, 4),
    ("audit_logs", 9, 1),
];

/// Seed 000's summary of version 1: functions, tables, seeded processes, FKs (the seed's diagram draws 7 FK
/// arrows; its summary box says 6, see docs/schema.md).
pub const SEED_V1_COUNTS: SeedCounts = SeedCounts {
    functions: 5,
    tables: 7,
    processes: 8,
    foreign_keys: 7,
};

/// Counts from the seed's summary box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedCounts {
    /// Functions in schema public.
    pub functions: usize,
    /// Tables (partitions excluded).
    pub tables: usize,
    /// Rows of `processes`.
    pub processes: usize,
    /// Foreign keys.
    pub foreign_keys: usize,
}

/// The three audit partitions the seed names; `deploy` also creates every later month up to three months ahead.
pub const SEED_PARTITIONS: &[&str] = &[
    "audit_logs_y2025m11",
    "audit_logs_y2025m12",
    "audit_logs_y2026m01",
];

/// The DEFAULT audit partition (catches any month without its own partition).
pub const DEFAULT_PARTITION: &str = "audit_logs_default";

/// The 8 processes of seed 000 (number, code, Korean name, English name).
pub const PROCESSES: &[(i32, &str, &str, &str)] = &[
    (1, "LASER_MARKING", "레이저 마킹", "Laser Marking"),
    (2, "LMA_ASSEMBLY", "LMA 조립", "LMA Assembly"),
    (3, "SENSOR_INSPECTION", "센서 검사", "Sensor Inspection"),
    (4, "FIRMWARE_UPLOAD", "펌웨어 업로드", "Firmware Upload"),
    (5, "ROBOT_ASSEMBLY", "로봇 조립", "Robot Assembly"),
    (6, "PERFORMANCE_TEST", "성능 검사", "Performance Test"),
    (7, "LABEL_PRINTING", "라벨 프린팅", "Label Printing"),
    (
        8,
        "PACKAGING_INSPECTION",
        "포장 및 외관 검사",
        "Packaging & Visual Inspection",
    ),
];

/// Every table of the head schema (what `has_user_data` looks at and the round-trip tests fingerprint), from the
/// head snapshot, in name order.
pub fn head_tables() -> Vec<String> {
    expected_catalog(crate::HEAD_VERSION)
        .tables()
        .into_iter()
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    //! The seed's numbers, asserted over the checked-in snapshots (which a catalog test keeps equal to what the
    //! migrations produce).
    use super::*;
    use crate::HEAD_VERSION;

    #[test]
    fn head_reaches_the_seed_floor() {
        let c = expected_catalog(HEAD_VERSION);
        for (table, idx, trg) in SEED_FLOOR {
            let i = c.on_table("index", table).count();
            let t = c.on_table("trigger", table).count();
            assert!(i >= *idx, "{table}: {i} indexes, seed has {idx}");
            assert!(t >= *trg, "{table}: {t} triggers, seed has {trg}");
        }
    }

    #[test]
    fn version_1_is_the_seed_summary() {
        let c = expected_catalog(1);
        assert_eq!(c.of_kind("function").count(), SEED_V1_COUNTS.functions);
        assert_eq!(c.of_kind("table").count(), SEED_V1_COUNTS.tables);
        assert_eq!(c.of_kind("fk").count(), SEED_V1_COUNTS.foreign_keys);
        assert_eq!(PROCESSES.len(), SEED_V1_COUNTS.processes);
        assert!(c.get("partitioning audit_logs").is_some());
    }

    /// The column list of `FOREIGN KEY (a, b) ...` or of an index definition's `USING btree (a, b)`.
    fn columns(re: &regex::Regex, def: &str) -> Option<Vec<String>> {
        let cols = re.captures(def)?;
        Some(cols[1].split(", ").map(str::to_string).collect())
    }

    #[test]
    fn every_fk_leads_an_index() {
        // an FK without an index on its columns makes every delete of a referenced row scan the referencing
        // table; composite (tenant-first) FKs need an index whose leading columns are the FK's columns
        let c = expected_catalog(HEAD_VERSION);
        let fk_cols = regex::Regex::new(r"^FOREIGN KEY \(([^)]+)\)").unwrap();
        let idx_cols = regex::Regex::new(r"USING \w+ \(([^)]+)\)").unwrap();
        let mut fks = 0;
        for fk in c.of_kind("fk") {
            let mut want = columns(&fk_cols, &fk.definition).expect("fk shape");
            want.sort();
            let indexed = c.on_table("index", fk.table()).any(|i| {
                columns(&idx_cols, &i.definition).is_some_and(|cols| {
                    let mut lead: Vec<String> = cols.into_iter().take(want.len()).collect();
                    lead.sort();
                    lead == want
                })
            });
            assert!(indexed, "{}: no index leads with {want:?}", fk.name);
            fks += 1;
        }
        assert!(fks >= SEED_V1_COUNTS.foreign_keys);
    }

    #[test]
    fn every_fk_at_head_names_its_delete_action() {
        // FKs are ON DELETE RESTRICT unless chosen otherwise (design notes); 0002 re-created the seed's action-less
        // ones, so none is left with the implicit NO ACTION
        let c = expected_catalog(HEAD_VERSION);
        for fk in c.of_kind("fk") {
            assert!(
                fk.definition.contains(" ON DELETE "),
                "{}: {}",
                fk.name,
                fk.definition
            );
        }
    }

    #[test]
    fn every_head_table_and_sequence_is_granted_to_the_request_role() {
        // a table without grants for neurohub_app is one every request fails on (0005)
        let c = expected_catalog(HEAD_VERSION);
        let mut n = 0;
        for rel in c.of_kind("table").chain(c.of_kind("sequence")) {
            let grant = c.get(&format!("grant {}", rel.name)).unwrap_or_else(|| {
                panic!("{} {} has no grant to neurohub_app", rel.kind, rel.name)
            });
            assert!(grant.definition.contains("SELECT"), "{}", grant.line());
            n += 1;
        }
        assert!(n >= 13);
        // the audit log is append-only by privilege too
        let audit = c.get("grant audit_logs").unwrap();
        assert_eq!(audit.definition, "neurohub_app INSERT, SELECT");
    }
}
