use super::*;
use serde_json::json;

fn p(id: i64, n: i32, active: bool) -> ProcessInfo {
    ProcessInfo {
        id,
        process_number: n,
        process_code: format!("P{n}"),
        is_active: active,
        quality_criteria: json!({}),
    }
}

fn route(inactive: &[i32]) -> Route {
    Route(
        (1..=8)
            .map(|n| p(n as i64 * 10, n, !inactive.contains(&n)))
            .collect(),
    )
}

fn h(id: i64, process_id: i64, result: Option<ProcessResult>) -> HistoryRow {
    HistoryRow {
        id,
        process_id,
        result,
        is_open: result.is_none(),
    }
}

#[test]
fn sequence_rule() {
    let r = route(&[]);
    assert_eq!(
        check_can_start(&r, r.by_number(1).unwrap(), &[]).unwrap(),
        1
    );
    let e = check_can_start(&r, r.by_number(3).unwrap(), &[]).unwrap_err();
    assert_eq!(e.code, "PROCESS_OUT_OF_SEQUENCE");
    assert!(e.detail.contains("P1"), "{}", e.detail);
    let hist = [
        h(1, 10, Some(ProcessResult::Pass)),
        h(2, 20, Some(ProcessResult::Fail)),
    ];
    let e = check_can_start(&r, r.by_number(3).unwrap(), &hist).unwrap_err();
    assert!(e.detail.contains("P2"));
    assert_eq!(
        check_can_start(&r, r.by_number(2).unwrap(), &hist).unwrap(),
        2
    );
    let e = check_can_start(&r, r.by_number(1).unwrap(), &hist).unwrap_err();
    assert_eq!(e.code, "PROCESS_ALREADY_PASSED");
    let open = [h(1, 10, None)];
    assert_eq!(
        check_can_start(&r, r.by_number(1).unwrap(), &open)
            .unwrap_err()
            .code,
        "PROCESS_ALREADY_OPEN"
    );
}

#[test]
fn inactive_processes_are_skipped() {
    let r = route(&[2, 7]);
    let hist = [h(1, 10, Some(ProcessResult::Pass))];
    assert_eq!(
        check_can_start(&r, r.by_number(3).unwrap(), &hist).unwrap(),
        1
    );
    assert_eq!(
        check_can_start(&r, r.by_number(2).unwrap(), &hist)
            .unwrap_err()
            .code,
        "PROCESS_INACTIVE"
    );
    assert_eq!(r.conversion_number(), Some(8));
    assert_eq!(route(&[]).conversion_number(), Some(7));
    assert_eq!(route(&[7, 8]).conversion_number(), Some(6));
    assert_eq!(route(&[8]).last_active_number(), Some(7));
    let passed: HashSet<i64> = [10, 30].into_iter().collect();
    assert_eq!(r.next(&passed).unwrap().process_number, 4);
}

#[test]
fn completion_shape_rules() {
    let d = || {
        Some(vec![Defect {
            code: "SCRATCH".into(),
            description: "scratch on housing".into(),
            severity: Severity::Minor,
        }])
    };
    assert!(validate_completion(ProcessResult::Pass, &None, &None, &None).is_empty());
    assert!(validate_completion(ProcessResult::Pass, &None, &Some(vec![]), &None).is_empty());
    assert_eq!(
        validate_completion(ProcessResult::Pass, &None, &d(), &None)[0].field,
        "defects"
    );
    assert_eq!(
        validate_completion(ProcessResult::Fail, &None, &None, &None)[0].field,
        "defects"
    );
    assert!(validate_completion(ProcessResult::Fail, &None, &d(), &None).is_empty());
    assert!(validate_completion(ProcessResult::Rework, &None, &None, &None).is_empty());
    let m = json!({"a": 1, "b": [1], "c": null}).as_object().cloned();
    let fields: Vec<String> = validate_completion(ProcessResult::Pass, &m, &None, &None)
        .into_iter()
        .map(|e| e.field)
        .collect();
    assert_eq!(fields, vec!["measurements.b", "measurements.c"]);
    let many: Map<String, Value> = (0..101).map(|i| (format!("k{i}"), json!(i))).collect();
    assert_eq!(
        validate_completion(ProcessResult::Pass, &Some(many), &None, &None)[0].field,
        "measurements"
    );
    let blank = Some(vec![Defect {
        code: " ".into(),
        description: "".into(),
        severity: Severity::Major,
    }]);
    assert_eq!(
        validate_completion(ProcessResult::Fail, &None, &blank, &None).len(),
        2
    );
}

#[test]
fn criteria_checks() {
    let crit = json!({"temp": {"min": 20, "max": 30, "unit": "C", "required": true},
                      "ok": {"min": 1, "max": 1, "unit": "bool", "required": true},
                      "note": {"required": false}});
    let m = json!({"temp": 25, "ok": true, "extra": "x"});
    let out = check_criteria(&crit, m.as_object());
    assert_eq!(out.passed, Some(true));
    assert!(out.missing.is_empty() && out.violations.is_empty());
    assert_eq!(out.check.as_ref().unwrap()["temp"]["passed"], json!(true));
    assert_eq!(
        out.check.as_ref().unwrap()["note"]["reason"],
        json!("missing")
    );

    let m = json!({"temp": 31, "ok": false});
    let out = check_criteria(&crit, m.as_object());
    assert_eq!(out.passed, Some(false));
    let f: Vec<&str> = out.violations.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(f, vec!["measurements.ok", "measurements.temp"]);

    let out = check_criteria(&crit, json!({"temp": "hot"}).as_object());
    assert_eq!(out.missing[0].field, "measurements.ok");
    assert_eq!(out.violations[0].field, "measurements.temp");

    let none = check_criteria(&json!({}), json!({"x": 1}).as_object());
    assert_eq!((none.check, none.passed), (None, None));
}

#[test]
fn unit_selector_needs_exactly_one() {
    assert!(UnitSelector::default().to_ref().is_err());
    let two = UnitSelector {
        wip_item_id: Some(1),
        serial_id: Some(2),
        ..Default::default()
    };
    assert_eq!(two.to_ref().unwrap_err().field, "unit");
    let bad = UnitSelector {
        serial_number: Some("nope".into()),
        ..Default::default()
    };
    assert_eq!(bad.to_ref().unwrap_err().field, "unit.serial_number");
    let ok = UnitSelector {
        wip_id: Some("WIP-KR01PSA251101-001".into()),
        ..Default::default()
    };
    assert_eq!(
        ok.to_ref().unwrap(),
        UnitRef::WipCode("WIP-KR01PSA251101-001".into())
    );
}

#[test]
fn path_refs() {
    assert_eq!(
        path_ref(UnitKind::Wip, "12").unwrap(),
        UnitRef::WipItemId(12)
    );
    assert_eq!(
        path_ref(UnitKind::Serial, "KR01PSA251101001").unwrap(),
        UnitRef::SerialNumber("KR01PSA251101001".into())
    );
    assert!(path_ref(UnitKind::Serial, "WIP-KR01PSA251101-001").is_err());
    assert!(path_ref(UnitKind::Wip, "99999999999999999999999").is_err());
}
