//! Problem `type` URIs resolve: `GET /problems/{slug}` explains every error code the source can produce, from the
//! one table in `neurohub_core::problems`. The codes are found by scanning the source, so a new code without an
//! entry (or an entry no code uses any more) fails here.

use crate::helpers::TestApp;
use neurohub_core::problems::{self, PROBLEM_TYPES};
use regex::Regex;
use reqwest::Method;
use sqlx::PgPool;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every error code literal in `crates/*/src/**/*.rs`, with the files using it: the codes passed to
/// `ApiError::new/conflict/unprocessable/bad_request/unauthorized/too_many_requests` (and `Self::` inside the
/// error type), `code: "..."` in an `ApiError` literal, `e.code = "..."`, and the codes of the domains' constraint
/// and trigger-SQLSTATE tables.
fn codes_in_source() -> BTreeMap<String, BTreeSet<String>> {
    let calls = Regex::new(
        r#"\b(?:ApiError|Self)::(?:new\(\s*[\w:.()]+\s*,|conflict\(|unprocessable\(|bad_request\(|unauthorized\(|too_many_requests\()\s*"([A-Z][A-Z0-9_]*)""#,
    )
    .unwrap();
    let literal = Regex::new(r#"\bcode:\s*"([A-Z][A-Z0-9_]*)"\s*,"#).unwrap();
    // constraints.rs: m("constraint_name", STATUS, "CODE", "field", "message")
    let mapping =
        Regex::new(r#"\bm\(\s*"[a-z0-9_]+"\s*,\s*[A-Z_]+\s*,\s*"([A-Z][A-Z0-9_]*)""#).unwrap();
    // the domains' trigger SQLSTATE tables: rule("NH101", "CODE")
    let rule = Regex::new(r#"\brule\(\s*"NH[0-9]{3}"\s*,\s*"([A-Z][A-Z0-9_]*)""#).unwrap();
    // a code set on an error built elsewhere: `e.code = "CODE";`
    let assigned = Regex::new(r#"\.code\s*=\s*"([A-Z][A-Z0-9_]*)"\s*;"#).unwrap();
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(&crates).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(&crates).unwrap().display().to_string();
        for re in [&calls, &literal, &mapping, &rule, &assigned] {
            for cap in re.captures_iter(&text) {
                found
                    .entry(cap[1].to_string())
                    .or_default()
                    .insert(name.clone());
            }
        }
    }
    found
}

#[test]
fn every_error_code_in_the_source_is_in_the_table_and_back() {
    let found = codes_in_source();
    // The scan finds each kind of site (else it has stopped working, and the test would pass vacuously).
    for (code, file) in [
        ("PROCESS_OUT_OF_SEQUENCE", "mes/src/flow/rules.rs"), // ApiError::conflict(
        ("ROUTE_NOT_FOUND", "server/src/middleware.rs"), // ApiError::new(StatusCode::.., multi-line
        ("BODY_UNREADABLE", "core/src/extract.rs"),      // ApiError::new(e.status(), ..
        ("VALIDATION_FAILED", "core/src/error.rs"),      // code: ".." literal
        ("LOT_SEQUENCE_EXHAUSTED", "mes/src/constraints.rs"), // a domain's mapping table
        ("LOGIN_THROTTLED", "identity/src/auth.rs"),     // too_many_requests(
        ("MISSING_TOKEN", "core/src/auth/mod.rs"),       // unauthorized(
        ("FORBIDDEN", "core/src/error.rs"),              // Self::new(
    ] {
        assert!(
            found.get(code).is_some_and(|files| files.contains(file)),
            "the scan no longer finds {code} in {file}: {found:?}"
        );
    }
    assert!(found.len() >= 50, "{} codes found", found.len());
    let missing: Vec<String> = found
        .iter()
        .filter(|(code, _)| problems::by_code(code).is_none())
        .map(|(code, files)| format!("{code} (used in {files:?})"))
        .collect();
    assert!(
        missing.is_empty(),
        "error codes without an entry in crates/core/src/problems.rs: {missing:?}"
    );
    let unused: Vec<&str> = PROBLEM_TYPES
        .iter()
        .map(|p| p.code)
        .filter(|code| !found.contains_key(*code))
        .collect();
    assert!(
        unused.is_empty(),
        "entries in crates/core/src/problems.rs that no source uses: {unused:?}"
    );
}

#[sqlx::test(migrations = false)]
async fn every_problem_type_page_answers_in_each_format(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for pt in PROBLEM_TYPES {
        let uri = pt.type_uri();
        // HTML by default (a browser following the link); no token needed.
        let res = app.request(Method::GET, &uri, None, None, &[]).await;
        res.assert_status(200);
        assert_eq!(
            res.headers["content-type"], "text/html; charset=utf-8",
            "{uri}"
        );
        assert!(
            res.text.contains(pt.code) && res.text.contains("How to fix it"),
            "{uri}: {}",
            res.text
        );
        // JSON when asked for.
        let res = app
            .request(
                Method::GET,
                &uri,
                None,
                None,
                &[("accept", "application/json")],
            )
            .await;
        res.assert_status(200);
        assert_eq!(res.headers["content-type"], "application/json", "{uri}");
        assert_eq!(res.body["code"], pt.code);
        assert_eq!(res.body["type"], uri);
        assert_eq!(res.body["title"], pt.title);
        assert_eq!(res.body["explanation"], pt.explanation);
        assert_eq!(res.body["fix"], pt.fix);
        assert_eq!(res.headers["vary"], "accept");
    }
    let res = app
        .request(
            Method::GET,
            "/problems/process-out-of-sequence",
            None,
            None,
            &[("accept", "text/markdown")],
        )
        .await;
    res.assert_status(200);
    assert_eq!(res.headers["content-type"], "text/markdown; charset=utf-8");
    assert!(
        res.text
            .starts_with("# Process out of sequence (`PROCESS_OUT_OF_SEQUENCE`)"),
        "{}",
        res.text
    );
}

#[sqlx::test(migrations = false)]
async fn unknown_problem_types_are_problem_json_404(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for slug in [
        "no-such-problem",
        "PROCESS_OUT_OF_SEQUENCE",
        "process_out_of_sequence",
    ] {
        let res = app
            .request(Method::GET, &format!("/problems/{slug}"), None, None, &[])
            .await;
        res.assert_problem(404, "NOT_FOUND");
        // ...whose own type resolves.
        let again = app
            .request(
                Method::GET,
                res.body["type"].as_str().unwrap(),
                None,
                None,
                &[],
            )
            .await;
        again.assert_status(200);
    }
}

#[sqlx::test(migrations = false)]
async fn the_type_of_a_real_error_resolves_to_its_explanation(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .request(Method::GET, "/api/v1/lots", None, None, &[])
        .await;
    let problem = res.assert_problem(401, "MISSING_TOKEN");
    assert_eq!(problem["type"], "/problems/missing-token");
    let page = app
        .request(
            Method::GET,
            problem["type"].as_str().unwrap(),
            None,
            None,
            &[("accept", "application/problem+json")],
        )
        .await;
    page.assert_status(200);
    assert_eq!(page.body["code"], "MISSING_TOKEN");
}

#[sqlx::test(migrations = false)]
async fn the_index_lists_every_problem_type(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let res = app
        .request(
            Method::GET,
            "/problems",
            None,
            None,
            &[("accept", "application/json")],
        )
        .await;
    res.assert_status(200);
    let codes: Vec<&str> = res
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["code"].as_str())
        .collect();
    assert_eq!(
        codes,
        PROBLEM_TYPES.iter().map(|p| p.code).collect::<Vec<_>>()
    );
    let html = app.request(Method::GET, "/problems", None, None, &[]).await;
    html.assert_status(200);
    for pt in PROBLEM_TYPES {
        assert!(
            html.text.contains(&format!("href=\"{}\"", pt.type_uri())),
            "{}",
            pt.code
        );
    }
}
