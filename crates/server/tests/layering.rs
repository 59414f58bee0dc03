//! The workspace's layering, read from `cargo metadata`: domain crates (`mes`, `atp`) depend on the shared crates
//! only and never on each other, the shared crates never on a domain, and only the composition crates (`server`,
//! `cli`) see everything. A dependency added against these rules fails here, whatever kind it is (normal, dev or
//! build).

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Which workspace crates each workspace crate may depend on.
const ALLOWED: &[(&str, &[&str])] = &[
    ("neurohub-core", &[]),
    ("neurohub-schema", &[]),
    // shared: a private PostgreSQL cluster (initdb / pg_ctl), for `up` / `db` and the fault tests
    ("neurohub-pgcluster", &[]),
    // the load driver talks to the server over HTTP and to PostgreSQL as a client, never through our crates
    ("neurohub-bench", &[]),
    ("neurohub-identity", &["neurohub-core"]),
    ("neurohub-mes", &["neurohub-core", "neurohub-identity"]),
    ("neurohub-atp", &["neurohub-core", "neurohub-identity"]),
    // the web UI reaches the domains only through the API router it is handed (neurohub_web::api)
    ("neurohub-web", &["neurohub-core"]),
    (
        "neurohub-server",
        &[
            "neurohub-core",
            "neurohub-identity",
            "neurohub-schema",
            "neurohub-mes",
            "neurohub-atp",
            "neurohub-web",
        ],
    ),
    (
        "neurohub-cli",
        &[
            "neurohub-core",
            "neurohub-identity",
            "neurohub-schema",
            "neurohub-mes",
            "neurohub-atp",
            "neurohub-server",
            "neurohub-pgcluster",
        ],
    ),
    (
        "neurohub-faults",
        &[
            "neurohub-core",
            "neurohub-schema",
            "neurohub-mes",
            "neurohub-server",
            "neurohub-pgcluster",
        ],
    ),
];

fn workspace_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let members: BTreeSet<String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_string())
                .filter(|d| members.contains(d))
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

#[test]
fn domain_crates_never_depend_on_each_other() {
    let deps = workspace_dependencies();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut problems = Vec::new();
    for (krate, uses) in &deps {
        let Some(ok) = allowed.get(krate.as_str()) else {
            problems.push(format!(
                "{krate} is not in the layering table of this test: add it"
            ));
            continue;
        };
        for d in uses {
            if !ok.contains(&d.as_str()) {
                problems.push(format!("{krate} must not depend on {d}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
    // The table itself keeps the rule: the two domains share nothing but the shared crates.
    assert!(!allowed["neurohub-mes"].contains(&"neurohub-atp"));
    assert!(!allowed["neurohub-atp"].contains(&"neurohub-mes"));
    assert!(deps.contains_key("neurohub-mes") && deps.contains_key("neurohub-atp"));
}
