//! The station page, by keyboard alone (a wedge scanner is a keyboard): one unit through all 8 processes,
//! a refused out-of-sequence start, a FAIL with a defect, a network blip that must not record twice, and the
//! live dashboard and trace that follow it.

use crate::common::{self, Browser};
use neurohub_core::auth::Role;
use serde_json::Value;
use sqlx::PgPool;
use std::time::Instant;

/// Set the station to process `n` with the keyboard: from the scan field, Shift+Tab to "Change process", Enter,
/// type the process number into the focused select, Tab past the equipment, Enter.
async fn set_process(b: &Browser, n: i64) {
    if b.exists("#code").await {
        assert_eq!(b.focused().await, "code", "the scan field has focus");
        let shift_tab = format!(
            "{}{}",
            char::from(fantoccini::key::Key::Shift),
            char::from(fantoccini::key::Key::Tab)
        );
        b.keys(&shift_tab).await;
        b.keys(&char::from(fantoccini::key::Key::Shift).to_string())
            .await; // release
        assert_eq!(
            b.focused().await,
            "change-process",
            "Shift+Tab from the scan field reaches Change process"
        );
        b.submit().await;
    }
    b.wait_for("#process_id").await;
    assert_eq!(b.focused().await, "process_id");
    b.keys(&n.to_string()).await;
    b.tab().await;
    b.tab().await;
    b.submit().await;
    b.wait_for("#code").await;
    let heading = b.text("h1").await;
    assert!(
        heading.contains(&format!("· {n} ")),
        "station set to {n}: {heading}"
    );
}

/// Scan `code` (type + Enter, as a scanner does) and return the time until the answer showed.
async fn scan(b: &Browser, code: &str) -> std::time::Duration {
    assert_eq!(
        b.focused().await,
        "code",
        "the scan field has focus before a scan"
    );
    let t = Instant::now();
    b.keys(code).await;
    b.submit().await;
    b.wait_for("#unit-h").await;
    t.elapsed()
}

/// Type the measurements the process's criteria ask for (a value inside each range), field by field.
async fn type_good_measurements(b: &Browser, process: &Value) {
    let criteria = process["quality_criteria"].as_object().unwrap();
    let fields = b
        .client
        .find_all(fantoccini::Locator::Css("input[name^='m.']"))
        .await
        .unwrap();
    assert_eq!(fields.len(), criteria.len(), "one field per criterion");
    for (i, f) in fields.iter().enumerate() {
        let name = f.attr("name").await.unwrap().unwrap();
        let spec = &criteria[name.strip_prefix("m.").unwrap()];
        if i > 0 {
            b.tab().await;
        }
        assert_eq!(
            b.focused().await,
            f.attr("id").await.unwrap().unwrap(),
            "Tab walks the measurement fields"
        );
        b.keys(&common::good_value(spec)).await;
    }
}

async fn feedback(b: &Browser) -> (String, String) {
    let el = b.wait_for(".feedback").await;
    (
        el.attr("class").await.unwrap().unwrap_or_default(),
        el.text().await.unwrap(),
    )
}

#[sqlx::test]
async fn one_unit_through_all_eight_processes_by_keyboard(pool: PgPool) {
    let app = common::app(pool).await;
    let lot = common::new_lot(&app, 2).await;
    let unit = common::wip(&lot, 1);
    let b = common::signed_in(&app, Role::Operator).await;
    assert!(
        b.path().await.starts_with("/ui/station"),
        "an operator lands at the station"
    );
    b.wait_for("#process_id").await;
    b.screenshot("station-setup").await;

    // a new user needs no code from anywhere: the idle station lists units ready for its process, and a click on
    // one is a scan
    set_process(&b, 1).await;
    let first = b.find("section.waiting ul.codes a").await;
    let listed = first.text().await.unwrap();
    assert!(listed.starts_with("WIP-"), "{listed}");
    b.mark().await;
    first.click().await.unwrap();
    b.wait_fresh().await;
    assert_eq!(b.text("#unit-h").await, listed);
    b.goto("/ui/station").await;
    b.wait_for("#code").await;

    // out of sequence: process 3 before 1 is refused with the rule, and nothing is written
    set_process(&b, 3).await;
    scan(&b, &unit).await;
    b.screenshot("station-scan").await;
    assert_eq!(b.focused().await, "start", "after a scan, Start has focus");
    let before = app.count("process_data").await;
    b.submit().await;
    let (class, text) = feedback(&b).await;
    assert!(class.contains("bad"), "{class}");
    assert!(
        text.contains("PASS") && text.contains("1"),
        "the refusal names the rule: {text}"
    );
    assert_eq!(app.count("process_data").await, before);
    b.screenshot("station-refused").await;

    let mut scan_times = Vec::new();
    for n in 1..=8 {
        set_process(&b, n).await;
        scan_times.push(scan(&b, &unit).await);
        b.submit().await; // Start
        let (class, _) = feedback(&b).await;
        assert!(class.contains("good"), "process {n} started");
        let process = common::process(&app, n).await;
        if process["quality_criteria"]
            .as_object()
            .is_some_and(|c| !c.is_empty())
        {
            type_good_measurements(&b, &process).await;
        }
        if n == 2 {
            b.screenshot("station-complete").await;
            b.assert_accessible("station (complete form)").await;
        }
        b.submit().await; // Complete (PASS is preselected)
        let (class, text) = feedback(&b).await;
        assert!(
            class.contains("good") && text.contains("PASS"),
            "process {n}: {text}"
        );
        assert_eq!(
            b.focused().await,
            "code",
            "back at the scan field after a completion"
        );
    }
    b.assert_accessible("station").await;
    let status: String = app
        .scalar("SELECT s.status FROM wip_items w JOIN serials s ON s.id = w.serial_id WHERE w.wip_id = $1", unit.clone())
        .await;
    assert_eq!(status, "COMPLETED");
    let passes: i64 = app
        .scalar("SELECT count(*) FROM process_data d JOIN wip_items w ON w.lot_id = d.lot_id WHERE w.wip_id = $1 AND d.result = 'PASS'", unit.clone())
        .await;
    assert_eq!(passes, 8, "one PASS per process, no duplicates");
    scan_times.sort();
    let median = scan_times[scan_times.len() / 2];
    write_figure(
        "station scan to feedback (median of 8, ms)",
        median.as_secs_f64() * 1000.0,
    );
    let w = b.page_weight().await;
    write_figure(
        "station page weight HTML+JS+CSS (bytes)",
        (w["html"].as_f64().unwrap() + w["js"].as_f64().unwrap() + w["css"].as_f64().unwrap())
            .round(),
    );
}

/// Figures for the closing note, one `name: value` line each in `target/ui-screenshots/figures.txt`.
pub fn write_figure(name: &str, value: f64) {
    use std::io::Write;
    let dir = crate::browser::screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("figures.txt"))
        .unwrap();
    writeln!(f, "{name}: {value:.1}").unwrap();
}

#[sqlx::test]
async fn a_fail_with_a_defect_and_out_of_spec_flags(pool: PgPool) {
    let app = common::app(pool).await;
    let lot = common::new_lot(&app, 1).await;
    let unit = common::wip(&lot, 1);
    let b = common::signed_in(&app, Role::Operator).await;
    set_process(&b, 1).await;
    scan(&b, &unit).await;
    b.submit().await;
    feedback(&b).await;
    // an out-of-spec value is flagged as it is typed, before any submit
    let process = common::process(&app, 1).await;
    let (name, spec) = process["quality_criteria"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, s)| s["max"].is_number())
        .unwrap();
    let id = format!(
        "m-{}",
        name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    let field = b.find(&format!("#{id}")).await;
    field
        .send_keys(&format!("{}", spec["max"].as_f64().unwrap() + 100.0))
        .await
        .unwrap();
    assert_eq!(
        field.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    assert_eq!(b.text(&format!("#{id}-flag")).await, "Out of spec");
    b.screenshot("station-out-of-spec").await;
    // FAIL by keyboard: focus the PASS radio, arrow to FAIL, then the defect fields
    b.find("input[name='result'][value='PASS']")
        .await
        .send_keys(&char::from(fantoccini::key::Key::Right).to_string())
        .await
        .unwrap();
    assert_eq!(
        b.client
            .execute(
                "return document.querySelector('input[name=result]:checked').value",
                vec![]
            )
            .await
            .unwrap()
            .as_str(),
        Some("FAIL")
    );
    b.find("#defect_code")
        .await
        .send_keys("SCRATCH")
        .await
        .unwrap();
    b.find("#defect_description")
        .await
        .send_keys("scratch on the housing")
        .await
        .unwrap();
    b.submit().await;
    let (class, text) = feedback(&b).await;
    assert!(class.contains("bad") && text.contains("FAIL"), "{text}");
    let defects: Value = app
        .scalar("SELECT defects FROM process_data d JOIN wip_items w ON w.id = d.wip_id WHERE w.wip_id = $1", unit.clone())
        .await;
    assert_eq!(defects[0]["code"], "SCRATCH");
    // a FAIL without a defect is the API's refusal, shown with the field, and the form keeps what was typed
    let lot2 = common::new_lot(&app, 1).await;
    let unit2 = common::wip(&lot2, 1);
    scan(&b, &unit2).await;
    b.submit().await;
    feedback(&b).await;
    b.find("input[name='result'][value='PASS']")
        .await
        .send_keys(&char::from(fantoccini::key::Key::Right).to_string())
        .await
        .unwrap();
    b.find("#notes").await.send_keys("kept note").await.unwrap();
    b.submit().await;
    let (class, text) = feedback(&b).await;
    assert!(class.contains("bad") && text.contains("defects"), "{text}");
    assert_eq!(
        b.find("#notes")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("kept note")
    );
}

#[sqlx::test]
async fn a_network_blip_never_records_twice(pool: PgPool) {
    let app = common::app(pool).await;
    let lot = common::new_lot(&app, 1).await;
    let unit = common::wip(&lot, 1);
    let b = common::signed_in(&app, Role::Operator).await;
    set_process(&b, 1).await;
    scan(&b, &unit).await;
    // the first send reaches the server but its answer is lost (the page sees a network error), so the page
    // script sends again: the same body, the same idempotency key
    b.client
        .execute(
            "const real = window.fetch; let n = 0;
             window.fetch = async function (url, opts) {
               const res = await real(url, opts);
               if (n++ === 0) { throw new TypeError('network blip'); }
               return res;
             };",
            vec![],
        )
        .await
        .unwrap();
    b.submit().await;
    let (class, _) = feedback(&b).await;
    assert!(class.contains("good"));
    let starts: i64 = app
        .scalar("SELECT count(*) FROM process_data d JOIN wip_items w ON w.id = d.wip_id WHERE w.wip_id = $1", unit.clone())
        .await;
    assert_eq!(starts, 1, "two sends, one record");
    let replays: i64 = common::sql_i64(
        &app,
        "SELECT count(*) FROM idempotency_keys WHERE request_path LIKE '%/start'",
    )
    .await;
    assert_eq!(replays, 1, "both sends used one key");
}

/// The number in the cell `css` now, read atomically by the page (`None` while it is being replaced).
async fn cell_number(b: &Browser, css: &str) -> Option<i64> {
    let v = b
        .client
        .execute(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
            vec![serde_json::json!(css)],
        )
        .await
        .ok()?;
    v.as_str()?.trim().parse().ok()
}

#[sqlx::test]
async fn the_dashboard_follows_the_line_without_reloading(pool: PgPool) {
    let app = common::app(pool).await;
    let lot = common::new_lot(&app, 1).await;
    let unit = common::wip(&lot, 1);
    let sup = common::signed_in(&app, Role::Manager).await;
    assert_eq!(sup.path().await, "/ui/dashboard");
    let row = "#process-table tr[data-process='1'] td.completed";
    sup.wait_for(row).await;
    let before = cell_number(&sup, row).await.expect("the process table");
    sup.client
        .execute("window.__marker = 'same page';", vec![])
        .await
        .unwrap();
    sup.screenshot("dashboard").await;
    sup.assert_accessible("dashboard").await;

    let op = common::signed_in(&app, Role::Operator).await;
    set_process(&op, 1).await;
    scan(&op, &unit).await;
    op.submit().await;
    feedback(&op).await;
    type_good_measurements(&op, &common::process(&app, 1).await).await;
    op.submit().await;
    feedback(&op).await;

    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    loop {
        // read in one script step: the live swap may replace the row between finding and reading it
        let now = cell_number(&sup, row).await.unwrap_or(before);
        if now == before + 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard still shows {now} (was {before})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let marker = sup
        .client
        .execute("return window.__marker", vec![])
        .await
        .unwrap();
    assert_eq!(
        marker.as_str(),
        Some("same page"),
        "updated in place, not reloaded"
    );
    sup.screenshot("dashboard-updated").await;
}
