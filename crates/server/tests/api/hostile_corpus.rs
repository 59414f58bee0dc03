//! The hostile-input program, fixed corpus (issue 13): every operation of the served OpenAPI document gets hostile
//! values in every path parameter, query parameter, header parameter, JSON body field and multipart part — NUL,
//! invalid UTF-8, lone surrogates, 1 MB strings, 10,000-deep JSON, huge and odd numbers (1e400, i64::MAX + 1,
//! -0), SQL-injection strings, empty and whitespace-only values, wrong types — with and without a valid token,
//! and no answer may be a 5xx (nor a dropped connection). SQL-injection strings that a write accepts must come
//! back verbatim.
//!
//! The figures (requests, answers by status class) are printed and written to `$HOSTILE_CORPUS_OUT` (default
//! `target/hostile-corpus.json`), which `scripts/reliability.sh` copies into docs/reliability.md.

use crate::atp_flow::setup;
use crate::atp_support::add;
use crate::helpers::TestApp;
use futures::StreamExt;
use neurohub_atp::member::MemberRole;
use neurohub_core::auth::Role;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// SQL-injection strings: each must be refused or stored and answered verbatim, never executed.
const INJECTIONS: &[&str] = &[
    "'; DROP TABLE users; --",
    "1' OR '1'='1",
    "\"; SELECT pg_sleep(10); --",
    "1); DELETE FROM lots WHERE (1=1",
    "$1 $$ E'\\x00' \\\\",
];

/// Hostile JSON values, as JSON text (so numbers JSON can write but Rust cannot hold stay as sent).
fn json_values() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = [
        ("nul", r#""\u0000""#),
        ("nul-inside", r#""a\u0000b""#),
        ("lone-surrogate", r#""\ud800""#),
        ("empty", r#""""#),
        ("whitespace", r#""   \t ""#),
        ("control-chars", r#""\u0001\u001f\u007f""#),
        ("1e400", "1e400"),
        ("-1e400", "-1e400"),
        ("1e-400", "1e-400"),
        ("i64-max+1", "9223372036854775808"),
        ("i64-min-1", "-9223372036854775809"),
        ("u64-max+1", "18446744073709551616"),
        ("i32-max+1", "2147483648"),
        ("i64-max", "9223372036854775807"),
        ("-1", "-1"),
        ("-0", "-0"),
        ("-0.0", "-0.0"),
        ("fraction", "0.5"),
        ("true", "true"),
        ("null", "null"),
        ("array", "[]"),
        ("object", "{}"),
        ("mixed-array", r#"[1,"a",null,{}]"#),
        ("number-text", r#""9223372036854775808""#),
        ("bad-date", r#""2026-02-30T25:61:00Z""#),
        ("far-date", r#""99999-01-01""#),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
    .collect();
    for (i, s) in INJECTIONS.iter().enumerate() {
        v.push((format!("sql-{i}"), serde_json::to_vec(s).unwrap()));
    }
    v.push(("invalid-utf8".into(), b"\"a\xff\xfe\xc3\x28b\"".to_vec()));
    v.push((
        "1mb-string".into(),
        format!("\"{}\"", "x".repeat(1_000_000)).into_bytes(),
    ));
    v.push(("10000-deep".into(), deep_json(10_000)));
    v
}

fn deep_json(depth: usize) -> Vec<u8> {
    let mut s = Vec::with_capacity(depth * 2);
    s.extend(std::iter::repeat_n(b'[', depth));
    s.extend(std::iter::repeat_n(b']', depth));
    s
}

/// Hostile values of path / query parameters, already percent-encoded.
fn param_values() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        ("nul", "%00"),
        ("nul-inside", "a%00b"),
        ("invalid-utf8", "a%FF%FE%C3%28"),
        ("empty", ""),
        ("whitespace", "%20%20%09"),
        ("control-chars", "%01%1F%7F"),
        ("1e400", "1e400"),
        ("i64-max+1", "9223372036854775808"),
        ("i64-min-1", "-9223372036854775809"),
        ("i32-max+1", "2147483648"),
        ("-1", "-1"),
        ("-0", "-0"),
        ("fraction", "0.5"),
        ("true", "true"),
        ("array", "%5B%5D"),
        ("dot-dot", ".."),
        ("slash", "a%2Fb"),
        ("percent", "%25"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (i, s) in INJECTIONS.iter().enumerate() {
        v.push((format!("sql-{i}"), encode(s.as_bytes())));
    }
    // the longest target a client library sends (URIs stop at 64 KiB); a 1 MB request line is sent raw below
    v.push(("32kb-string".into(), "x".repeat(32 * 1024)));
    v
}

/// The values sent in the fields of array items (the item's own fields get the whole list).
const ITEM_SUBSET: &[&str] = &[
    "nul",
    "invalid-utf8",
    "lone-surrogate",
    "empty",
    "1e400",
    "i64-max+1",
    "i32-max+1",
    "-0",
    "null",
    "array",
    "object",
    "sql-0",
    "10000-deep",
];

/// Without a token only these values go to a secured operation (it must answer 401 before reading anything).
const UNAUTHENTICATED_SUBSET: &[&str] = &[
    "baseline",
    "nul",
    "invalid-utf8",
    "sql-0",
    "10000-deep",
    "1mb-string",
];

/// Hostile header values (what HTTP can carry: no NUL, but obs-text bytes and sizes).
fn header_values() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), b"".to_vec()),
        ("whitespace".into(), b"   ".to_vec()),
        ("obs-text".into(), b"a\xff\xfeb".to_vec()),
        ("i64-max+1".into(), b"9223372036854775808".to_vec()),
        ("8kb".into(), vec![b'k'; 8 * 1024]),
    ];
    for (i, s) in INJECTIONS.iter().enumerate() {
        v.push((format!("sql-{i}"), s.as_bytes().to_vec()));
    }
    v
}

fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(b) {
                (*b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[derive(Clone)]
struct Param {
    name: String,
    location: String,
    schema: Value,
}

#[derive(Clone)]
enum BodyKind {
    None,
    Json(Value),
    Multipart(Value),
}

#[derive(Clone)]
struct Op {
    method: Method,
    path: String,
    secured: bool,
    params: Vec<Param>,
    body: BodyKind,
}

/// Follow `$ref`s and take the first non-null variant of `oneOf` / `anyOf` / `allOf`.
fn resolve<'a>(doc: &'a Value, mut s: &'a Value) -> &'a Value {
    for _ in 0..16 {
        if let Some(r) = s["$ref"].as_str() {
            let name = r.trim_start_matches("#/components/schemas/");
            s = &doc["components"]["schemas"][name];
            continue;
        }
        let variants = ["oneOf", "anyOf", "allOf"]
            .iter()
            .find_map(|k| s[*k].as_array());
        if let Some(vs) = variants {
            if let Some(v) = vs.iter().find(|v| v["type"] != "null") {
                s = v;
                continue;
            }
        }
        break;
    }
    s
}

fn has_type(s: &Value, t: &str) -> bool {
    match &s["type"] {
        Value::String(x) => x == t,
        Value::Array(xs) => xs.iter().any(|x| x == t),
        _ => false,
    }
}

/// A plausible value for a schema: enough for the request to reach the field under attack.
fn baseline(doc: &Value, s: &Value, depth: usize) -> Value {
    let s = resolve(doc, s);
    if let Some(e) = s["enum"]
        .as_array()
        .and_then(|e| e.iter().find(|v| !v.is_null()))
    {
        return e.clone();
    }
    if has_type(s, "object") || s["properties"].is_object() {
        let mut out = serde_json::Map::new();
        if depth < 4 {
            for r in s["required"].as_array().into_iter().flatten() {
                let k = r.as_str().unwrap_or_default();
                out.insert(k.into(), baseline(doc, &s["properties"][k], depth + 1));
            }
        }
        return Value::Object(out);
    }
    if has_type(s, "array") {
        return json!([]);
    }
    if has_type(s, "integer") {
        return json!(1);
    }
    if has_type(s, "number") {
        return json!(1.5);
    }
    if has_type(s, "boolean") {
        return json!(true);
    }
    match s["format"].as_str() {
        Some("date-time") => json!("2026-01-01T00:00:00Z"),
        Some("date") => json!("2026-01-01"),
        Some("uuid") => json!("00000000-0000-4000-8000-000000000000"),
        _ => json!("HOSTILE1"),
    }
}

fn operations(doc: &Value) -> Vec<Op> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Ok(m) = method.to_ascii_uppercase().parse::<Method>() else {
                continue;
            };
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str()) {
                continue;
            }
            let params = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(item["parameters"].as_array().into_iter().flatten())
                .map(|p| Param {
                    name: p["name"].as_str().unwrap().to_string(),
                    location: p["in"].as_str().unwrap().to_string(),
                    schema: resolve(doc, &p["schema"]).clone(),
                })
                .collect();
            let content = &op["requestBody"]["content"];
            let body = if let Some(s) = content.get("application/json") {
                BodyKind::Json(resolve(doc, &s["schema"]).clone())
            } else if let Some(s) = content.get("multipart/form-data") {
                BodyKind::Multipart(resolve(doc, &s["schema"]).clone())
            } else {
                BodyKind::None
            };
            let secured = op["security"].as_array().is_some_and(|reqs| {
                reqs.iter()
                    .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
            });
            out.push(Op {
                method: m,
                path: path.clone(),
                secured,
                params,
                body,
            });
        }
    }
    out
}

/// Real records for the path parameters, so hostile bodies reach the code behind the lookups.
struct Fixture {
    ws: String,
    submission: String,
    lot_id: i64,
    lot_number: String,
    viewer_id: i64,
}

fn path_baseline(f: &Fixture, path: &str, p: &Param) -> String {
    if let Some(e) = p.schema["enum"].as_array().and_then(|e| e.first()) {
        return e
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| e.to_string());
    }
    match p.name.as_str() {
        "ws" => f.ws.clone(),
        "lot_number" => f.lot_number.clone(),
        "id" if path.contains("/submissions/{id}") => f.submission.clone(),
        "id" if path.starts_with("/api/v1/lots/") => f.lot_id.to_string(),
        "id" if path.starts_with("/api/v1/users/") => f.viewer_id.to_string(),
        "user_id" => f.viewer_id.to_string(),
        _ if p.schema["format"] == "uuid" => "00000000-0000-4000-8000-000000000000".into(),
        _ if has_type(&p.schema, "integer") => "1".into(),
        _ => "HOSTILE1".into(),
    }
}

/// One request of the corpus.
#[derive(Clone)]
struct Req {
    label: String,
    method: Method,
    /// Path and query, encoded.
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: ReqBody,
    token: Option<String>,
    /// An injection string sent in this top-level JSON field (checked for a verbatim answer on 2xx).
    injected: Option<(String, String)>,
}

#[derive(Clone)]
enum ReqBody {
    None,
    Json(Vec<u8>),
    /// (part name, file name, bytes)
    Multipart(Vec<(String, Option<String>, Vec<u8>)>),
}

const PLACEHOLDER: &str = "\"__HOSTILE_PLACEHOLDER__\"";

fn splice(obj: &Value, field: &str, raw: &[u8]) -> Vec<u8> {
    let mut o = obj.clone();
    o[field] = json!("__HOSTILE_PLACEHOLDER__");
    let text = serde_json::to_string(&o).unwrap();
    let at = text.find(PLACEHOLDER).unwrap();
    let mut out = text.as_bytes()[..at].to_vec();
    out.extend_from_slice(raw);
    out.extend_from_slice(&text.as_bytes()[at + PLACEHOLDER.len()..]);
    out
}

/// The CSV files a multipart operation takes, with hostile cells: (part name, bytes).
/// (label, the form's parts as (name, bytes)).
type CsvCase = (String, Vec<(String, Vec<u8>)>);

fn hostile_csvs(path: &str) -> Vec<CsvCase> {
    use neurohub_atp::demo::{EXAMPLE, EXAMPLE_SITES};
    let spoil = |csv: &[u8], cell: &[u8]| {
        // the first data cell of the file
        let mut out = csv.to_vec();
        if let Some(nl) = out.iter().position(|b| *b == b'\n') {
            let end = out[nl + 1..]
                .iter()
                .position(|b| *b == b',' || *b == b'\n')
                .map(|e| nl + 1 + e)
                .unwrap_or(out.len());
            out.splice(nl + 1..end, cell.iter().copied());
        }
        out
    };
    let cells: Vec<(String, Vec<u8>)> = {
        let mut c = vec![
            ("csv-nul".to_string(), b"A\0B".to_vec()),
            ("csv-invalid-utf8".into(), b"A\xff\xfeB".to_vec()),
            ("csv-1mb-cell".into(), vec![b'X'; 900_000]),
            ("csv-unclosed-quote".into(), b"\"A,B".to_vec()),
            ("csv-huge-number".into(), b"1e400".to_vec()),
        ];
        for (i, s) in INJECTIONS.iter().enumerate() {
            let quoted = format!("\"{}\"", s.replace('"', "\"\""));
            c.push((format!("csv-sql-{i}"), quoted.into_bytes()));
        }
        c
    };
    let mut out = Vec::new();
    if path.ends_with("/sites/import") {
        for (label, cell) in &cells {
            out.push((
                label.clone(),
                vec![("sites".to_string(), spoil(EXAMPLE_SITES, cell))],
            ));
        }
    } else if path.ends_with("/config-versions") {
        for (t, files) in EXAMPLE {
            for (label, cell) in &cells {
                // every file of the type, the first one spoiled
                let mut parts: Vec<(String, Vec<u8>)> =
                    vec![("source_type".into(), t.as_str().into())];
                for (i, (name, bytes)) in files.iter().enumerate() {
                    let b = if i == 0 {
                        spoil(bytes, cell)
                    } else {
                        bytes.to_vec()
                    };
                    parts.push((name.to_string(), b));
                }
                out.push((format!("{}-{label}", t.as_str()), parts));
            }
        }
    }
    out
}

fn requests_for(op: &Op, f: &Fixture, doc: &Value, token: Option<&str>) -> Vec<Req> {
    let all = all_requests_for(op, f, doc, token);
    if token.is_some() || !op.secured {
        return all;
    }
    all.into_iter()
        .filter(|r| {
            let value = r.label.rsplit('=').next().unwrap_or("");
            r.label.ends_with("baseline") || UNAUTHENTICATED_SUBSET.contains(&value)
        })
        .collect()
}

fn all_requests_for(op: &Op, f: &Fixture, doc: &Value, token: Option<&str>) -> Vec<Req> {
    let mut out = Vec::new();
    let path_vals: BTreeMap<String, String> = op
        .params
        .iter()
        .filter(|p| p.location == "path")
        .map(|p| (p.name.clone(), path_baseline(f, &op.path, p)))
        .collect();
    let build_target = |vals: &BTreeMap<String, String>, query: &str| {
        let mut t = op.path.clone();
        for (k, v) in vals {
            t = t.replace(&format!("{{{k}}}"), v);
        }
        if !query.is_empty() {
            t.push('?');
            t.push_str(query);
        }
        t
    };
    let base_body = match &op.body {
        BodyKind::Json(s) => baseline(doc, s, 0),
        _ => Value::Null,
    };
    let base_req_body = || match &op.body {
        BodyKind::Json(_) => ReqBody::Json(serde_json::to_vec(&base_body).unwrap()),
        BodyKind::Multipart(_) => ReqBody::Multipart(vec![]),
        BodyKind::None => ReqBody::None,
    };
    let req = |label: String, target: String, headers, body, injected| Req {
        label: format!("{} {} {label}", op.method, op.path),
        method: op.method.clone(),
        target,
        headers,
        body,
        token: token.map(str::to_string),
        injected,
    };
    // the baseline itself
    out.push(req(
        "baseline".into(),
        build_target(&path_vals, ""),
        vec![],
        base_req_body(),
        None,
    ));
    for p in &op.params {
        match p.location.as_str() {
            "path" => {
                for (label, v) in param_values() {
                    let mut vals = path_vals.clone();
                    vals.insert(p.name.clone(), v);
                    out.push(req(
                        format!("path {}={label}", p.name),
                        build_target(&vals, ""),
                        vec![],
                        base_req_body(),
                        None,
                    ));
                }
            }
            "query" => {
                for (label, v) in param_values() {
                    out.push(req(
                        format!("query {}={label}", p.name),
                        build_target(&path_vals, &format!("{}={v}", encode(p.name.as_bytes()))),
                        vec![],
                        base_req_body(),
                        None,
                    ));
                }
            }
            "header" => {
                for (label, v) in header_values() {
                    out.push(req(
                        format!("header {}={label}", p.name),
                        build_target(&path_vals, ""),
                        vec![(p.name.clone(), v)],
                        base_req_body(),
                        None,
                    ));
                }
            }
            _ => {}
        }
    }
    let target = build_target(&path_vals, "");
    match &op.body {
        BodyKind::Json(s) => {
            // the whole body
            for (label, raw) in json_values() {
                out.push(req(
                    format!("body={label}"),
                    target.clone(),
                    vec![],
                    ReqBody::Json(raw),
                    None,
                ));
            }
            out.push(req(
                "body=empty".into(),
                target.clone(),
                vec![],
                ReqBody::Json(vec![]),
                None,
            ));
            // every field (of the body, and of the first object of each array of objects)
            let props = s["properties"].as_object().cloned().unwrap_or_default();
            for (field, fs) in &props {
                let fs = resolve(doc, fs);
                for (label, raw) in json_values() {
                    if label == "true" && has_type(fs, "boolean") {
                        continue; // a valid value, not a hostile one
                    }
                    if label == "1mb-string" && !has_type(fs, "string") {
                        continue; // the whole body had it; a type check refuses it anyway
                    }
                    let injected = label.strip_prefix("sql-").map(|i| {
                        (
                            field.clone(),
                            INJECTIONS[i.parse::<usize>().unwrap()].to_string(),
                        )
                    });
                    out.push(req(
                        format!("field {field}={label}"),
                        target.clone(),
                        vec![],
                        ReqBody::Json(splice(&base_body, field, &raw)),
                        injected,
                    ));
                }
                let items = resolve(doc, &fs["items"]);
                if let Some(item_props) = items["properties"].as_object() {
                    let item_base = baseline(doc, items, 1);
                    for sub in item_props.keys() {
                        for (label, raw) in json_values() {
                            if !ITEM_SUBSET.contains(&label.as_str()) {
                                continue;
                            }
                            let item = splice(&item_base, sub, &raw);
                            let arr = [b"[".as_slice(), &item, b"]"].concat();
                            out.push(req(
                                format!("field {field}[0].{sub}={label}"),
                                target.clone(),
                                vec![],
                                ReqBody::Json(splice(&base_body, field, &arr)),
                                None,
                            ));
                        }
                    }
                }
            }
        }
        BodyKind::Multipart(s) => {
            let props = s["properties"].as_object().cloned().unwrap_or_default();
            let base_parts: Vec<(String, Option<String>, Vec<u8>)> = props
                .iter()
                .filter(|(_, ps)| !has_type(resolve(doc, ps), "object"))
                .map(|(k, ps)| {
                    let ps = resolve(doc, ps);
                    let v = match baseline(doc, ps, 1) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    let file = (ps["format"] == "binary").then(|| "a.pdf".to_string());
                    (k.clone(), file, v.into_bytes())
                })
                .collect();
            let text_values: Vec<(String, Vec<u8>)> = {
                let mut t: Vec<(String, Vec<u8>)> = vec![
                    ("nul".into(), b"a\0b".to_vec()),
                    ("invalid-utf8".into(), b"a\xff\xfeb".to_vec()),
                    ("empty".into(), vec![]),
                    ("whitespace".into(), b"  \t ".to_vec()),
                    ("1mb".into(), vec![b'x'; 1_000_000]),
                    ("1e400".into(), b"1e400".to_vec()),
                ];
                for (i, s) in INJECTIONS.iter().enumerate() {
                    t.push((format!("sql-{i}"), s.as_bytes().to_vec()));
                }
                t
            };
            for (i, (name, _, _)) in base_parts.iter().enumerate() {
                for (label, v) in &text_values {
                    // the value as the part's content, and (for a file part) as its file name
                    let mut parts = base_parts.clone();
                    parts[i].2 = v.clone();
                    out.push(req(
                        format!("part {name}={label}"),
                        target.clone(),
                        vec![],
                        ReqBody::Multipart(parts),
                        None,
                    ));
                    if base_parts[i].1.is_some() && v.len() < 4096 {
                        let mut parts = base_parts.clone();
                        parts[i].1 = Some(String::from_utf8_lossy(v).into_owned() + ".pdf");
                        parts[i].2 = b"%PDF-1.7\n".to_vec();
                        out.push(req(
                            format!("part {name} file name={label}"),
                            target.clone(),
                            vec![],
                            ReqBody::Multipart(parts),
                            None,
                        ));
                    }
                }
            }
            // a part of a hostile name, and the CSV files with hostile cells
            for (label, v) in &text_values {
                if v.len() < 4096 {
                    let mut parts = base_parts.clone();
                    parts.push((String::from_utf8_lossy(v).into_owned(), None, b"x".to_vec()));
                    out.push(req(
                        format!("part name={label}"),
                        target.clone(),
                        vec![],
                        ReqBody::Multipart(parts),
                        None,
                    ));
                }
            }
            for (label, files) in hostile_csvs(&op.path) {
                let parts = files
                    .into_iter()
                    .map(|(n, b)| {
                        let file = (n != "source_type").then(|| format!("{n}.csv"));
                        (n, file, b)
                    })
                    .collect();
                out.push(req(
                    format!("csv {label}"),
                    target.clone(),
                    vec![],
                    ReqBody::Multipart(parts),
                    None,
                ));
            }
        }
        BodyKind::None => {}
    }
    out
}

#[derive(Debug)]
enum Outcome {
    Status(u16, String),
    Transport(String),
}

async fn send(client: &reqwest::Client, base: &str, r: &Req) -> Outcome {
    let mut rb = client.request(r.method.clone(), format!("{base}{}", r.target));
    if let Some(t) = &r.token {
        rb = rb.bearer_auth(t);
    }
    for (k, v) in &r.headers {
        match reqwest::header::HeaderValue::from_bytes(v) {
            Ok(hv) => rb = rb.header(k.as_str(), hv),
            Err(e) => {
                return Outcome::Transport(format!("header value refused by the client: {e}"))
            }
        }
    }
    rb = match &r.body {
        ReqBody::None => rb,
        ReqBody::Json(b) => rb
            .header("content-type", "application/json")
            .body(b.clone()),
        ReqBody::Multipart(parts) => {
            let mut form = Form::new();
            for (name, file, bytes) in parts {
                let mut part = Part::bytes(bytes.clone());
                if let Some(f) = file {
                    part = part.file_name(f.clone());
                }
                form = form.part(name.clone(), part);
            }
            rb.multipart(form)
        }
    };
    match rb.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            Outcome::Status(status, text)
        }
        Err(e) => Outcome::Transport(format!("{e:?}")),
    }
}

#[sqlx::test(migrations = false)]
async fn every_operation_survives_the_hostile_corpus(pool: PgPool) {
    let started = Instant::now();
    let flow = setup(pool, "HOSTILE").await;
    let app: &TestApp = &flow.app;
    // the global ADMIN works inside the workspace too, and a DOC_CONTROL member is there for the routes only it may use
    add(
        app,
        &flow.ws.code,
        app.user(Role::Admin).id,
        MemberRole::WorkspaceAdmin,
    )
    .await;
    let (lot_id, lot_number) = crate::flow::new_lot(app, 3).await;
    let res = flow
        .call(
            Method::POST,
            flow.submitter(),
            "/submissions",
            Some(&json!({"site_id": "JKT-0002", "scope_code": "RAN", "atp_category": "RAN_MW"})),
        )
        .await;
    res.assert_status(201);
    let fixture = Fixture {
        ws: flow.ws.code.clone(),
        submission: res.body["id"].as_str().unwrap().to_string(),
        lot_id,
        lot_number,
        viewer_id: app.user(Role::Viewer).id,
    };
    let doc = app
        .request(Method::GET, "/api/v1/openapi.json", None, None, &[])
        .await
        .body;
    let ops = operations(&doc);
    assert!(ops.len() > 80, "{} operations in the document", ops.len());

    // Which token goes with an operation: the global ADMIN's, or a member's the route admits (probed with the
    // baseline request). Logout would end the session: it is sent without a token only.
    let admin = app.token(Role::Admin).to_string();
    let members = [
        flow.ws.token(MemberRole::DocControl).to_string(),
        flow.ws.token(MemberRole::Qa).to_string(),
        flow.ws.token(MemberRole::Approver).to_string(),
    ];
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let base = format!("http://{}", app.addr);
    let mut requests = Vec::new();
    let mut probes = 0usize;
    for op in &ops {
        requests.extend(requests_for(op, &fixture, &doc, None));
        if !op.secured || op.path.ends_with("/auth/logout") {
            continue;
        }
        let mut chosen = admin.clone();
        for t in std::iter::once(&admin).chain(members.iter()) {
            let probe = &all_requests_for(op, &fixture, &doc, Some(t))[0];
            probes += 1;
            match send(&client, &base, probe).await {
                Outcome::Status(401 | 403, _) => continue,
                _ => {
                    chosen = t.clone();
                    break;
                }
            }
        }
        requests.extend(requests_for(op, &fixture, &doc, Some(&chosen)));
    }

    let client = Arc::new(client);
    let outcomes: Vec<(Req, Outcome)> = futures::stream::iter(requests)
        .map(|r| {
            let client = client.clone();
            let base = base.clone();
            async move {
                let o = send(&client, &base, &r).await;
                (r, o)
            }
        })
        .buffer_unordered(12)
        .collect()
        .await;

    let mut by_class: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (r, o) in &outcomes {
        match o {
            Outcome::Status(s, text) => {
                *by_class.entry(format!("{}xx", s / 100)).or_default() += 1;
                if *s >= 500 {
                    failures.push(format!("{s} {} -> {}", r.label, truncate(text)));
                }
                if (200..300).contains(s) {
                    if let Some((field, sent)) = &r.injected {
                        let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
                        if let Some(got) = body[field].as_str() {
                            if got != sent {
                                failures.push(format!(
                                    "{} stored {field} = {got:?}, not the {sent:?} sent",
                                    r.label
                                ));
                            }
                        }
                    }
                }
            }
            Outcome::Transport(e) => {
                *by_class.entry("transport error".into()).or_default() += 1;
                failures.push(format!("no answer: {} -> {}", r.label, truncate(e)));
            }
        }
    }
    // A 1 MB request line, which no client library sends: sent raw, it gets an HTTP answer (4xx), not a 5xx.
    let raw_status = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut sock = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let line = format!(
            "GET /api/v1/users?q={} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {admin}\r\n\r\n",
            "x".repeat(1_000_000)
        );
        // the server may answer and close before it has read it all
        let _ = sock.write_all(line.as_bytes()).await;
        let mut buf = vec![0u8; 64];
        let n = sock.read(&mut buf).await.unwrap_or(0);
        let head = String::from_utf8_lossy(&buf[..n]).to_string();
        head.split(' ').nth(1).and_then(|s| s.parse::<u16>().ok())
    };
    match raw_status {
        Some(s) => *by_class.entry(format!("{}xx", s / 100)).or_default() += 1,
        None => {
            *by_class
                .entry("closed without an answer".into())
                .or_default() += 1
        }
    }
    if !raw_status.is_some_and(|s| (400..500).contains(&s)) {
        failures.push(format!("a 1 MB request line answered {raw_status:?}"));
    }
    let total = outcomes.len() + probes + 1;
    *by_class.entry("2xx".into()).or_default() += 0;
    let five = by_class.get("5xx").copied().unwrap_or(0);
    let summary = json!({
        "operations": ops.len(),
        "requests": total,
        "by_status_class": by_class,
        "5xx": five,
        "seconds": started.elapsed().as_secs_f64(),
    });
    println!("hostile corpus: {summary}");
    let out = std::env::var_os("HOSTILE_CORPUS_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/hostile-corpus.json")
        });
    let _ = std::fs::write(&out, serde_json::to_string_pretty(&summary).unwrap() + "\n");
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} failure(s) of {total} requests:\n{}",
        failures.len(),
        failures
            .iter()
            .take(80)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    // SQL-injection strings are data: stored and read back verbatim, and the tables they name are all there.
    for (i, s) in INJECTIONS.iter().enumerate() {
        let res = app
            .post(
                Role::Admin,
                "/api/v1/product-models",
                &json!({"model_code": format!("SQ{i}"), "model_name": s}),
            )
            .await;
        res.assert_status(201);
        let id = res.body["id"].as_i64().unwrap();
        let back = app
            .get(Role::Admin, &format!("/api/v1/product-models/{id}"))
            .await;
        assert_eq!(back.body["model_name"], *s, "{}", back.text);
        let stored: String = app
            .scalar("SELECT model_name FROM product_models WHERE id = $1", id)
            .await;
        assert_eq!(stored, *s);
        let found = app
            .get(
                Role::Admin,
                &format!("/api/v1/users?q={}", encode(s.as_bytes())),
            )
            .await;
        found.assert_status(200);
        // a search for it is a literal match: only the user the corpus stored it in (if any) is found
        for u in found.body["items"].as_array().unwrap() {
            let hay = ["username", "full_name", "email", "department"]
                .iter()
                .filter_map(|k| u[*k].as_str())
                .any(|v| v.to_lowercase().contains(&s.to_lowercase()));
            assert!(hay, "{s:?} found {u}");
        }
    }
    assert!(app.count("users").await >= 4);
    assert!(app.count("lots").await >= 1);
}

fn truncate(s: &str) -> String {
    s.chars().take(300).collect()
}
