//! The report model of `neurohub verify`: sections, check results, the decision rule of seed 002, and the three
//! renderings (text, markdown = seed 002's "Final Declaration Template", JSON = `docs/verify.schema.json`).

use std::fmt::Write as _;

use serde::Serialize;

/// Where a check sits in the report; the section decides what its failure costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// Section 0: introspection of the server and schema before anything else. A failure is critical.
    Preflight,
    /// C1–C6 and the MES critical checks. A failure is NO-GO.
    Critical,
    /// Partitions ahead, workspace_id-first keys, indexed FKs. A failure counts as an important one (HOLD).
    ScaleReadiness,
    /// I1–I3. 1–2 failures give HOLD, 3 or more NO-GO.
    Important,
    /// Invariant tests. A failure is NO-GO.
    Invariant,
    /// Orphan audit over every relationship. Any orphan is NO-GO.
    Orphans,
}

impl Section {
    /// Every section in report order.
    pub const ALL: [Section; 6] = [
        Section::Preflight,
        Section::Critical,
        Section::ScaleReadiness,
        Section::Important,
        Section::Invariant,
        Section::Orphans,
    ];

    /// Heading used in text and markdown.
    pub fn title(self) -> &'static str {
        match self {
            Section::Preflight => "Section 0 — preflight",
            Section::Critical => "Critical",
            Section::ScaleReadiness => "Scale-readiness",
            Section::Important => "Important",
            Section::Invariant => "Invariants",
            Section::Orphans => "Orphan audit",
        }
    }

    /// A failure here blocks (NO-GO) rather than holds.
    pub fn blocking(self) -> bool {
        !matches!(self, Section::Important | Section::ScaleReadiness)
    }
}

/// Which part of NeuroHub contributed a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Module {
    /// The whole database (catalog, partitions, orphans).
    Platform,
    /// MES traceability.
    Mes,
    /// ATP approval workflow.
    Atp,
}

/// Result of one check. A skipped check never counts as passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    Skipped,
}

/// One check's outcome in the report.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// Stable id (`C1`, `I3`, `INV2`, `MES-SEQ`, ...).
    pub id: String,
    pub section: Section,
    pub module: Module,
    pub title: String,
    pub status: Status,
    /// Why it failed or was skipped (empty when passed).
    pub reason: String,
    /// Findings, one a line (each missing object, each orphan relationship, each detected type, ...).
    pub details: Vec<String>,
    /// Wall-clock duration of the check in milliseconds.
    pub duration_ms: f64,
}

/// Orphan count of one relationship (also exported as a Prometheus gauge).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OrphanCount {
    /// `child(cols) -> parent(cols)`.
    pub relationship: String,
    /// FK constraint name, or `unenforced` for the documented relationships without an FK.
    pub constraint: String,
    pub orphans: i64,
    /// Up to five child keys (primary key values) of orphan rows.
    pub sample: Vec<String>,
}

/// GO / HOLD / NO-GO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Decision {
    #[serde(rename = "GO")]
    Go,
    #[serde(rename = "HOLD")]
    Hold,
    #[serde(rename = "NO-GO")]
    NoGo,
}

impl Decision {
    /// `GO`, `HOLD`, `NO-GO`.
    pub fn label(self) -> &'static str {
        match self {
            Decision::Go => "GO",
            Decision::Hold => "HOLD",
            Decision::NoGo => "NO-GO",
        }
    }

    /// The CLI exit code: 0 GO, 1 HOLD, 2 NO-GO (3 = unreachable is the CLI's).
    pub fn exit_code(self) -> u8 {
        match self {
            Decision::Go => 0,
            Decision::Hold => 1,
            Decision::NoGo => 2,
        }
    }

    /// Numeric value of the `neurohub_verify_decision` gauge (0 GO, 1 HOLD, 2 NO-GO).
    pub fn gauge(self) -> i64 {
        self.exit_code() as i64
    }
}

/// passed / total of a group, skipped shown apart (excluded from both passed and total).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Score {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// passed + failed (skipped checks are not scored).
    pub total: usize,
}

impl Score {
    fn of<'a>(results: impl IntoIterator<Item = &'a CheckResult>) -> Score {
        let mut s = Score::default();
        for r in results {
            match r.status {
                Status::Passed => s.passed += 1,
                Status::Failed => s.failed += 1,
                Status::Skipped => s.skipped += 1,
            }
        }
        s.total = s.passed + s.failed;
        s
    }

    fn percent(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * self.passed as f64 / self.total as f64
        }
    }
}

impl std::fmt::Display for Score {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.passed, self.total)?;
        if self.skipped > 0 {
            write!(f, " ({} skipped)", self.skipped)?;
        }
        Ok(())
    }
}

/// One executive-summary indicator: the worst status of the checks it is made of.
#[derive(Debug, Clone, Serialize)]
pub struct Indicator {
    pub name: String,
    pub status: Status,
    /// The check ids it summarises.
    pub checks: Vec<String>,
}

/// Per-section score.
#[derive(Debug, Clone, Serialize)]
pub struct SectionScore {
    pub section: Section,
    pub score: Score,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Version of this report's JSON shape.
    pub report_version: u32,
    /// RFC 3339 UTC time the run started.
    pub generated_at: String,
    /// Database name and server (no credentials).
    pub environment: String,
    /// `all`, `mes` or `atp`.
    pub module_filter: String,
    pub schema_version: i32,
    pub decision: Decision,
    /// The failures that drove the decision (`C1 schema integrity: ...`), empty for GO.
    pub reasons: Vec<String>,
    pub score: Score,
    pub sections: Vec<SectionScore>,
    pub indicators: Vec<Indicator>,
    pub checks: Vec<CheckResult>,
    pub orphans: Vec<OrphanCount>,
    pub duration_ms: f64,
}

/// Seed 002's rule: any critical (or preflight, invariant, orphan) failure → NO-GO; 1–2 important (incl.
/// scale-readiness) failures → HOLD; 3 or more → NO-GO; else GO. Returns the decision and its reasons.
pub fn decide(checks: &[CheckResult]) -> (Decision, Vec<String>) {
    let failed: Vec<&CheckResult> = checks
        .iter()
        .filter(|c| c.status == Status::Failed)
        .collect();
    let reason =
        |c: &CheckResult| format!("{} {} ({}): {}", c.id, c.title, c.section.title(), c.reason);
    let blocking: Vec<String> = failed
        .iter()
        .filter(|c| c.section.blocking())
        .map(|c| reason(c))
        .collect();
    let important: Vec<String> = failed
        .iter()
        .filter(|c| !c.section.blocking())
        .map(|c| reason(c))
        .collect();
    let mut reasons = blocking.clone();
    reasons.extend(important.iter().cloned());
    let decision = if !blocking.is_empty() || important.len() >= 3 {
        if blocking.is_empty() {
            reasons.push(format!(
                "{} important failures (3 or more)",
                important.len()
            ));
        }
        Decision::NoGo
    } else if !important.is_empty() {
        Decision::Hold
    } else {
        Decision::Go
    };
    (decision, reasons)
}

/// The executive indicators of seed 002 plus data integrity and audit, and which checks make each.
pub const INDICATORS: &[(&str, &[&str])] = &[
    ("Config immutability", &["C3", "C4", "INV1", "INV2"]),
    ("Workspace isolation", &["C5"]),
    ("Runtime progression", &["C6"]),
    ("Data integrity", &["C1", "C2", "ORPHANS", "MES-CHECKS"]),
    ("Audit", &["I3", "INV3", "SCALE-PARTITIONS"]),
];

impl Report {
    /// Assemble the report from the results: scores, indicators, decision.
    #[allow(clippy::too_many_arguments)]
    pub fn assemble(
        generated_at: String,
        environment: String,
        module_filter: String,
        schema_version: i32,
        checks: Vec<CheckResult>,
        orphans: Vec<OrphanCount>,
        duration_ms: f64,
    ) -> Report {
        let (decision, reasons) = decide(&checks);
        let sections = Section::ALL
            .iter()
            .map(|s| SectionScore {
                section: *s,
                score: Score::of(checks.iter().filter(|c| c.section == *s)),
            })
            .collect();
        let indicators = INDICATORS
            .iter()
            .map(|(name, ids)| {
                let mine: Vec<&CheckResult> = checks
                    .iter()
                    .filter(|c| ids.contains(&c.id.as_str()))
                    .collect();
                let status = if mine.iter().any(|c| c.status == Status::Failed) {
                    Status::Failed
                } else if mine.is_empty() || mine.iter().any(|c| c.status == Status::Skipped) {
                    // a part not verified is not verified: the indicator cannot be PASS
                    Status::Skipped
                } else {
                    Status::Passed
                };
                Indicator {
                    name: name.to_string(),
                    status,
                    checks: mine.iter().map(|c| c.id.clone()).collect(),
                }
            })
            .collect();
        Report {
            report_version: 1,
            generated_at,
            environment,
            module_filter,
            schema_version,
            decision,
            reasons,
            score: Score::of(&checks),
            sections,
            indicators,
            checks,
            orphans,
            duration_ms,
        }
    }

    /// A check by id.
    pub fn check(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The report as JSON (shape: docs/verify.schema.json).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serializes")
    }

    fn section_score(&self, s: Section) -> Score {
        self.sections
            .iter()
            .find(|x| x.section == s)
            .map(|x| x.score)
            .unwrap_or_default()
    }

    /// Plain text for a terminal.
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "NEUROHUB VERIFY — {} — schema version {} — {} (module {})",
            self.environment, self.schema_version, self.generated_at, self.module_filter
        );
        for s in Section::ALL {
            let mine: Vec<&CheckResult> = self.checks.iter().filter(|c| c.section == s).collect();
            if mine.is_empty() {
                continue;
            }
            let _ = writeln!(o, "\n{}  [{}]", s.title(), self.section_score(s));
            for c in mine {
                let mark = match c.status {
                    Status::Passed => "PASS",
                    Status::Failed => "FAIL",
                    Status::Skipped => "SKIP",
                };
                let _ = writeln!(
                    o,
                    "  {mark} {:<18} {:<52} {:>9.1} ms",
                    c.id, c.title, c.duration_ms
                );
                if !c.reason.is_empty() {
                    let _ = writeln!(o, "       reason: {}", c.reason);
                }
                for d in &c.details {
                    let _ = writeln!(o, "       - {d}");
                }
            }
        }
        let _ = writeln!(o, "\nExecutive summary");
        for i in &self.indicators {
            let _ = writeln!(o, "  {:<22} {}", i.name, status_word(i.status));
        }
        let _ = writeln!(
            o,
            "  Score: {} ({:.0}%), run in {:.0} ms",
            self.score,
            self.score.percent(),
            self.duration_ms
        );
        let _ = writeln!(o, "\nDECISION: {}", self.decision.label());
        for r in &self.reasons {
            let _ = writeln!(o, "  - {r}");
        }
        o
    }

    /// Seed 002's "Final Declaration Template", filled in, followed by every check.
    pub fn to_markdown(&self) -> String {
        let mut o = String::new();
        let detail = |id: &str| {
            self.check(id)
                .map(|c| c.details.join("; "))
                .unwrap_or_else(|| "not run".into())
        };
        let box_ = |yes: bool| if yes { "☑" } else { "⬜" };
        let _ = writeln!(o, "## Test Execution Summary\n");
        let _ = writeln!(o, "**Date:** {}", self.generated_at);
        let _ = writeln!(o, "**Tester:** neurohub verify (automated)");
        let _ = writeln!(o, "**Environment:** {}\n", self.environment);
        let _ = writeln!(o, "**Section 0 Results:**");
        let ext = detail("P3");
        let _ = writeln!(o, "- pgcrypto / gen_random_uuid: {ext}");
        let _ = writeln!(o, "- key column types: {}", detail("P5"));
        let _ = writeln!(o, "- schema version: {}", detail("P4"));
        let _ = writeln!(o, "- test workspace and users: {}\n", {
            let c = self.check("P6");
            match c {
                Some(c) if c.status == Status::Skipped => format!("skipped — {}", c.reason),
                Some(c) => c.details.join("; "),
                None => "not run".into(),
            }
        });
        for (label, s) in [
            ("Critical Results", Section::Critical),
            ("Important Results", Section::Important),
            ("Invariant Tests", Section::Invariant),
            ("Scale-readiness", Section::ScaleReadiness),
            ("Orphan audit", Section::Orphans),
        ] {
            let _ = writeln!(o, "**{label}:** {} PASSED", self.section_score(s));
        }
        let _ = writeln!(
            o,
            "**Overall Score:** {} ({:.0}%)\n",
            self.score,
            self.score.percent()
        );
        let _ = writeln!(o, "**Executive Summary:**");
        for i in &self.indicators {
            let _ = writeln!(
                o,
                "- {}: {} PASS {} FAIL{}",
                i.name,
                box_(i.status == Status::Passed),
                box_(i.status == Status::Failed),
                if i.status == Status::Skipped {
                    " (SKIPPED — not verified)"
                } else {
                    ""
                }
            );
        }
        let _ = writeln!(o, "\n## Go/No-Go Decision\n");
        let _ = writeln!(
            o,
            "**Decision:** {} 🟢 GO {} 🟡 HOLD {} 🔴 NO-GO\n",
            box_(self.decision == Decision::Go),
            box_(self.decision == Decision::Hold),
            box_(self.decision == Decision::NoGo)
        );
        let _ = writeln!(o, "**Justification:**\n");
        if self.reasons.is_empty() {
            let _ = writeln!(
                o,
                "Every check passed or was explicitly skipped (skipped: {}).",
                self.score.skipped
            );
        }
        for r in &self.reasons {
            let _ = writeln!(o, "- {r}");
        }
        let _ = writeln!(o, "\n**Approved By:** ____________________");
        let _ = writeln!(o, "**Title:** ____________________");
        let _ = writeln!(o, "**Date:** ____________________\n");
        let _ = writeln!(o, "## Checks\n");
        let _ = writeln!(
            o,
            "| id | section | module | check | result | ms | reason |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---:|---|");
        for c in &self.checks {
            let _ = writeln!(
                o,
                "| {} | {} | {:?} | {} | {} | {:.1} | {} |",
                c.id,
                c.section.title(),
                c.module,
                c.title,
                status_word(c.status),
                c.duration_ms,
                c.reason.replace('|', "\\|")
            );
        }
        o
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Passed => "PASS",
        Status::Failed => "FAIL",
        Status::Skipped => "SKIPPED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: &str, section: Section, status: Status) -> CheckResult {
        CheckResult {
            id: id.into(),
            section,
            module: Module::Platform,
            title: id.into(),
            status,
            reason: "x".into(),
            details: vec![],
            duration_ms: 0.0,
        }
    }

    #[test]
    fn the_decision_rule_of_seed_002() {
        use Section::*;
        use Status::*;
        let go = [r("C1", Critical, Passed), r("C6", Critical, Skipped)];
        assert_eq!(decide(&go).0, Decision::Go);
        assert_eq!(decide(&[r("C1", Critical, Failed)]).0, Decision::NoGo);
        assert_eq!(decide(&[r("INV1", Invariant, Failed)]).0, Decision::NoGo);
        assert_eq!(decide(&[r("O", Orphans, Failed)]).0, Decision::NoGo);
        assert_eq!(decide(&[r("P4", Preflight, Failed)]).0, Decision::NoGo);
        let two = [r("I1", Important, Failed), r("S", ScaleReadiness, Failed)];
        assert_eq!(decide(&two).0, Decision::Hold);
        let three = [
            r("I1", Important, Failed),
            r("I2", Important, Failed),
            r("I3", Important, Failed),
        ];
        let (d, reasons) = decide(&three);
        assert_eq!(d, Decision::NoGo);
        assert!(reasons.last().unwrap().contains("3 important failures"));
    }

    #[test]
    fn skipped_is_never_passed() {
        let checks = vec![
            r("C5", Section::Critical, Status::Passed),
            r("C6", Section::Critical, Status::Skipped),
        ];
        let rep = Report::assemble("t".into(), "e".into(), "all".into(), 6, checks, vec![], 1.0);
        assert_eq!(
            (rep.score.passed, rep.score.total, rep.score.skipped),
            (1, 1, 1)
        );
        let rt = rep
            .indicators
            .iter()
            .find(|i| i.name == "Runtime progression")
            .unwrap();
        assert_eq!(rt.status, Status::Skipped);
        assert!(rep.to_markdown().contains("SKIPPED — not verified"));
    }
}
