//! Lots, units, trace, recall and chart: a lot with work recorded through the API (a PASS and a FAIL with an
//! out-of-limits measurement and a defect), then the lot list (filter, keyset pages), the lot page's per-process
//! progress, the trace of the failed unit, the recall of the operator's window with its CSV, and the chart of
//! the failed measurement with its limits.

use crate::common::{self, Browser};
use crate::helpers::TestApp;
use fantoccini::Locator;
use neurohub_core::auth::Role;
use serde_json::{json, Map, Value};
use sqlx::PgPool;

/// What [`record_work`] did.
struct Work {
    lot: String,
    lot_id: i64,
    passed: String,
    failed: String,
    /// The measurement of process 1 recorded out of its limits on `failed`.
    measurement: String,
    spec: Value,
}

async fn complete(app: &TestApp, unit: &str, body: Value) -> Value {
    let s = app
        .post(
            Role::Operator,
            "/api/v1/process-data/start",
            &json!({"process_number": 1, "unit": {"wip_id": unit}}),
        )
        .await;
    s.assert_status(201);
    let c = app
        .post(
            Role::Operator,
            &format!("/api/v1/process-data/{}/complete", s.body["id"]),
            &body,
        )
        .await;
    c.assert_status(200);
    c.body
}

/// A lot of 3 with process 1 recorded as OPERATOR: unit 1 PASS (values inside the limits), unit 2 FAIL with one
/// measurement above its maximum and a defect.
async fn record_work(app: &TestApp) -> Work {
    let lot = common::new_lot(app, 3).await;
    let lot_id = app
        .get(Role::Viewer, &format!("/api/v1/lots/by-number/{lot}"))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let p1 = common::process(app, 1).await;
    let criteria = p1["quality_criteria"].as_object().unwrap();
    let good: Map<String, Value> = criteria
        .iter()
        .map(|(k, spec)| {
            (
                k.clone(),
                json!(common::good_value(spec).parse::<f64>().unwrap()),
            )
        })
        .collect();
    let (measurement, spec) = criteria
        .iter()
        .find(|(_, s)| s["max"].is_number())
        .map(|(k, s)| (k.clone(), s.clone()))
        .unwrap();
    let mut bad = good.clone();
    bad.insert(
        measurement.clone(),
        json!(spec["max"].as_f64().unwrap() + 100.0),
    );
    let passed = common::wip(&lot, 1);
    let failed = common::wip(&lot, 2);
    complete(
        app,
        &passed,
        json!({"result": "PASS", "measurements": good}),
    )
    .await;
    let c = complete(
        app,
        &failed,
        json!({"result": "FAIL", "measurements": bad, "defects": [{"code": "DEEP_MARK", "description": "marking too deep", "severity": "MAJOR"}]}),
    )
    .await;
    assert_eq!(c["criteria_passed"], false);
    Work {
        lot,
        lot_id,
        passed,
        failed,
        measurement,
        spec,
    }
}

async fn count(b: &Browser, css: &str) -> usize {
    b.client.find_all(Locator::Css(css)).await.unwrap().len()
}

#[sqlx::test]
async fn lots_list_filters_pages_and_the_lot_shows_its_progress(pool: PgPool) {
    let app = common::app(pool).await;
    let w = record_work(&app).await;
    let other = common::new_lot(&app, 1).await; // same line, model and month: the same 11-character prefix
    let b = common::signed_in(&app, Role::Manager).await;

    // the filter form: the lot number prefix finds exactly this lot
    b.goto("/ui/lots").await;
    b.find("#q").await.send_keys(&w.lot).await.unwrap();
    b.enter().await;
    b.wait_for("#lots-table").await;
    assert!(
        b.path().await.contains(&format!("q={}", w.lot)),
        "{}",
        b.path().await
    );
    assert_eq!(count(&b, "#lots-table tbody tr").await, 1);
    let link = b
        .find(&format!("#lots-table tr[data-lot='{}'] a", w.lot))
        .await;
    assert_eq!(
        link.attr("href").await.unwrap().as_deref(),
        Some(format!("/ui/lots/{}", w.lot_id).as_str())
    );
    let progress = b
        .find(&format!("#lots-table tr[data-lot='{}'] progress", w.lot))
        .await;
    assert_eq!(progress.attr("max").await.unwrap().as_deref(), Some("3"));
    b.screenshot("lots").await;
    // a prefix the API refuses: its words, and the form keeps what was typed
    b.goto("/ui/lots?q=KR%25").await;
    let refusal = b.text(".feedback.bad").await;
    assert!(refusal.contains("q"), "{refusal}");
    assert_eq!(
        b.find("#q").await.prop("value").await.unwrap().as_deref(),
        Some("KR%")
    );
    b.goto(&format!("/ui/lots?q={}", w.lot)).await;
    b.assert_accessible("lots").await;

    // keyset pages of one lot each over the shared prefix: every lot once, in lot-number order
    let prefix = &w.lot[..11];
    assert_eq!(&other[..11], prefix);
    let expected: Vec<String> = sqlx::query_scalar(
        "SELECT lot_number FROM lots WHERE lot_number LIKE $1 || '%' ORDER BY lot_number",
    )
    .bind(prefix)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(expected.len() >= 2, "{expected:?}");
    b.goto(&format!("/ui/lots?q={prefix}&sort=lot_number&limit=1"))
        .await;
    let mut seen = Vec::new();
    loop {
        b.wait_for("#lots-table").await;
        assert_eq!(
            count(&b, "#lots-table tbody tr").await,
            1,
            "one lot per page"
        );
        seen.push(
            b.find("#lots-table tbody tr")
                .await
                .attr("data-lot")
                .await
                .unwrap()
                .unwrap(),
        );
        if !b.exists("#next-page").await {
            break;
        }
        assert!(
            seen.len() <= expected.len(),
            "more pages than lots: {seen:?}"
        );
        b.find("#next-page").await.click().await.unwrap();
    }
    assert_eq!(seen, expected);

    // the lot page: process 1 has one PASS and one FAIL of 3 units, as the database says
    b.goto(&format!("/ui/lots/{}", w.lot_id)).await;
    let row = b.find("#process-progress tr[data-process='1']").await;
    let (pass, fail): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE d.result = 'PASS'), count(*) FILTER (WHERE d.result = 'FAIL') \
         FROM process_data d JOIN processes p ON p.id = d.process_id WHERE d.lot_id = $1 AND p.process_number = 1",
    )
    .bind(w.lot_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((pass, fail), (1, 1));
    assert!(
        row.text().await.unwrap().contains(&format!("{pass} / 3")),
        "{}",
        row.text().await.unwrap()
    );
    assert_eq!(
        b.text("#process-progress tr[data-process='1'] td.failed")
            .await,
        fail.to_string()
    );
    assert_eq!(
        b.text("#process-progress tr[data-process='2'] td.failed")
            .await,
        "0"
    );
    assert_eq!(count(&b, "#lot-units tbody tr").await, 3, "its three units");
    let trace = b
        .find(&format!("#lot-units a[href='/ui/trace?code={}']", w.failed))
        .await;
    assert!(b.exists("svg.chart .bar").await, "the per-process bars");
    b.screenshot("lot").await;
    b.assert_accessible("lot").await;
    trace.click().await.unwrap();
    b.wait_for("#timeline").await;
    assert_eq!(b.path().await, format!("/ui/trace?code={}", w.failed));

    // the unit list with the API's filters
    b.goto(&format!("/ui/units?lot_id={}&status=FAILED", w.lot_id))
        .await;
    assert_eq!(count(&b, "#units-table tbody tr").await, 1);
    b.wait_text(&w.failed).await;
}

#[sqlx::test]
async fn trace_recall_csv_and_chart(pool: PgPool) {
    let app = common::app(pool).await;
    let w = record_work(&app).await;
    let b = common::signed_in(&app, Role::Manager).await;

    // trace: scan (type + Enter) the failed unit
    b.goto("/ui/trace").await;
    b.wait_for("#code").await;
    assert_eq!(b.focused().await, "code", "the scan field has focus");
    b.keys(&w.failed).await;
    b.enter().await;
    b.wait_for("#timeline").await;
    let records: i64 = app
        .scalar("SELECT count(*) FROM process_data d JOIN wip_items u ON u.id = d.wip_id WHERE u.wip_id = $1", w.failed.clone())
        .await;
    assert_eq!(count(&b, "#timeline > li.record").await as i64, records);
    let rec = b.find("#timeline > li.record[data-result='FAIL']").await;
    let text = rec.text().await.unwrap();
    assert!(text.contains("(operator)"), "the operator is named: {text}");
    assert!(text.contains("DEEP_MARK"), "the defect: {text}");
    let out = b
        .find(&format!(
            "#timeline tr.out[data-measurement='{}']",
            w.measurement
        ))
        .await;
    assert!(
        out.text().await.unwrap().contains("Out of limits"),
        "{}",
        out.text().await.unwrap()
    );
    assert_eq!(
        count(&b, "#timeline tr.out").await,
        1,
        "only the failed measurement is marked"
    );
    let chart_link = b
        .find(&format!(
            "#timeline tr.out[data-measurement='{}'] a",
            w.measurement
        ))
        .await;
    let chart_href = format!(
        "/ui/chart?process=1&measurement={}&lot={}",
        w.measurement, w.lot_id
    );
    assert_eq!(
        chart_link.attr("href").await.unwrap(),
        Some(chart_href.clone()),
        "the measurement links to its chart"
    );
    b.screenshot("trace").await;
    b.assert_accessible("trace").await;
    // the passed unit: no mark
    b.goto(&format!("/ui/trace?code={}", w.passed)).await;
    b.wait_for("#timeline > li.record[data-result='PASS']")
        .await;
    assert_eq!(count(&b, "#timeline tr.out").await, 0);
    // from the record to the recall of its operator around that time
    b.goto(&format!("/ui/trace?code={}", w.failed)).await;
    b.find("#timeline > li.record[data-result='FAIL'] a.recall")
        .await
        .click()
        .await
        .unwrap();
    b.wait_for("#recall-table").await;
    assert!(b.path().await.starts_with(&format!(
        "/ui/recall?operator_id={}",
        app.user(Role::Operator).id
    )));
    assert!(
        b.text("#recall-table").await.contains(&w.passed),
        "the operator's other unit too"
    );
    // a lot number: its page
    b.goto(&format!("/ui/trace?code={}", w.lot)).await;
    b.wait_for("#process-progress").await;
    assert_eq!(b.path().await, format!("/ui/lots/{}", w.lot_id));
    // a code that is no unit: the API's refusal
    b.goto("/ui/trace?code=NOT-A-CODE").await;
    assert!(b.exists(".feedback.bad").await);

    // recall: the operator's id, the default window (the last day), Enter
    let operator = app.user(Role::Operator).id;
    b.goto("/ui/recall").await;
    b.find("#operator_id")
        .await
        .send_keys(&operator.to_string())
        .await
        .unwrap();
    b.enter().await;
    b.wait_for("#recall-table").await;
    let units: i64 = app
        .scalar(
            "SELECT count(DISTINCT (lot_id, COALESCE(wip_id, serial_id))) FROM process_data \
             WHERE operator_id = $1 AND started_at > now() - interval '1 day'",
            operator,
        )
        .await;
    assert_eq!(units, 2);
    assert_eq!(count(&b, "#recall-table tbody tr").await as i64, units);
    let t = b.text("#recall-table").await;
    assert!(t.contains(&w.passed) && t.contains(&w.failed), "{t}");
    b.screenshot("recall").await;
    b.assert_accessible("recall").await;

    // the CSV: the same rows, as an attachment, with the browser's session
    let href = b.find("#csv").await.attr("href").await.unwrap().unwrap();
    let jar = b
        .client
        .get_all_cookies()
        .await
        .unwrap()
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect::<Vec<_>>()
        .join("; ");
    let res = app
        .client
        .get(app.url(&href))
        .header("cookie", jar.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "kind,lot_number,wip_id,serial_number,status,records,process_codes,first_started_at,last_started_at");
    assert_eq!(lines.len() as i64, units + 1, "{csv}");
    let failed_line = lines.iter().find(|l| l.contains(&w.failed)).unwrap();
    assert!(
        failed_line.starts_with(&format!("WIP,{},{},,FAILED,1,", w.lot, w.failed)),
        "{failed_line}"
    );
    // without the session: the sign-in page, no CSV
    let anon = app.client.get(app.url(&href)).send().await.unwrap();
    assert!(!anon.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(!anon.text().await.unwrap().contains(&w.failed));

    // the CSV is read from the API page by page: with pages of one unit it still holds every unit
    let now = chrono::Utc::now();
    let window = format!(
        "from={}&to={}",
        (now - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M"),
        (now + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M")
    );
    b.goto(&format!(
        "/ui/recall?operator_id={operator}&{window}&limit=1"
    ))
    .await;
    assert_eq!(count(&b, "#recall-table tbody tr").await, 1);
    assert!(b.exists("#next-page").await, "a next page of the recall");
    let href = b.find("#csv").await.attr("href").await.unwrap().unwrap();
    assert!(href.contains("limit=1"), "{href}");
    let paged = app
        .client
        .get(app.url(&href))
        .header("cookie", jar.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(paged, csv, "the same file, whatever the page size");
    // a window longer than 31 days: the API's refusal, the form keeps what was asked
    b.goto(&format!(
        "/ui/recall?operator_id={operator}&from=2026-01-01T00:00&to=2026-03-01T00:00"
    ))
    .await;
    let refusal = b.text(".feedback.bad").await;
    assert!(refusal.contains("31 days"), "{refusal}");
    assert_eq!(
        b.find("#from")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("2026-01-01T00:00")
    );

    // chart: the failed measurement of process 1 in this lot, with its limits
    b.goto(&format!(
        "/ui/chart?process=1&measurement={}&lot={}",
        w.measurement, w.lot
    ))
    .await;
    b.wait_for("svg.chart").await;
    let limits = [w.spec["min"].is_number(), w.spec["max"].is_number()]
        .iter()
        .filter(|x| **x)
        .count();
    assert_eq!(
        count(&b, "svg.chart line.limit").await,
        limits,
        "one line per limit"
    );
    let values: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM process_data d JOIN processes p ON p.id = d.process_id \
         WHERE d.lot_id = $1 AND p.process_number = 1 AND d.measurements ? $2",
    )
    .bind(w.lot_id)
    .bind(&w.measurement)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(values, 2);
    assert_eq!(count(&b, "#chart-table tbody tr").await as i64, values);
    assert_eq!(count(&b, "svg.chart circle.point").await as i64, values);
    assert_eq!(
        count(&b, "svg.chart circle.point.out").await,
        1,
        "the value above the maximum is marked"
    );
    assert_eq!(count(&b, "#chart-table tr.out").await, 1);
    b.screenshot("chart").await;
    // the same chart from the trace's link (the lot by its id)
    b.goto(&chart_href).await;
    b.wait_for("svg.chart").await;
    assert_eq!(count(&b, "#chart-table tbody tr").await as i64, values);
    b.assert_accessible("chart").await;

    // the same pages in Korean (a message missing from a table would fail the page in a debug build)
    let ko = Browser::start(app.addr, "ko-KR").await;
    ko.sign_in("manager", crate::helpers::PASSWORD).await;
    for (path, heading) in [
        ("/ui/lots".to_string(), "LOT 목록"),
        (format!("/ui/units?lot_id={}", w.lot_id), "단위 목록"),
        (format!("/ui/lots/{}", w.lot_id), "LOT"),
        (format!("/ui/trace?code={}", w.failed), "추적"),
        (format!("/ui/recall?operator_id={operator}"), "리콜"),
        (chart_href.clone(), "측정값 추이"),
    ] {
        ko.goto(&path).await;
        let h1 = ko.text("h1").await;
        assert!(h1.contains(heading), "{path}: {h1}");
    }
    ko.wait_text("규격 벗어남").await; // the chart, last: its out-of-limits value
}
