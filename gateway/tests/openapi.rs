//! `docs/openapi.yaml` stays in step with the code: it parses as OpenAPI 3, documents
//! every route with its methods, lists every error code `ApiError::code` can answer
//! (with the status `ApiError::status` gives it), and every `$ref` resolves.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

fn workspace_file(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn spec() -> Value {
    serde_norway::from_str(&workspace_file("docs/openapi.yaml"))
        .expect("docs/openapi.yaml is valid YAML with string keys")
}

fn error_rs() -> String {
    workspace_file("gateway/src/error.rs")
}

#[test]
fn is_openapi_3() {
    let doc = spec();
    let version = doc["openapi"].as_str().expect("`openapi` is a string");
    assert!(version.starts_with("3."), "openapi version {version}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
}

#[test]
fn every_route_is_documented_with_its_methods() {
    let doc = spec();
    let expected: &[(&str, &[&str])] = &[
        ("/api/meetings", &["post"]),
        ("/api/meetings/{id}", &["get", "put", "delete"]),
        ("/api/settings", &["get"]),
        ("/api/log/json", &["post"]),
        ("/metrics", &["get"]),
        ("/healthz", &["get"]),
        ("/readyz", &["get"]),
        ("/reload", &["get", "post"]),
    ];
    for (path, methods) in expected {
        let item = &doc["paths"][*path];
        assert!(item.is_object(), "path {path} is missing");
        for m in *methods {
            let op = &item[*m];
            assert!(op.is_object(), "{} {path} is missing", m.to_uppercase());
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{} {path} has no responses",
                m.to_uppercase()
            );
        }
    }
}

#[test]
fn every_error_code_is_documented_with_its_status() {
    let src = error_rs();
    let table = documented_codes(&spec());
    let codes = code_literals(&src);
    assert!(
        codes.len() >= 10,
        "found only {codes:?} in ApiError::code: has error.rs changed shape?"
    );
    for code in &codes {
        assert!(
            table.contains_key(code.as_str()),
            "error code `{code}` (gateway/src/error.rs) is not in the error table of docs/openapi.yaml"
        );
    }
    // The status of every code of a variant with a plain `StatusCode::X` arm.
    let statuses = variant_statuses(&src);
    let mut checked = 0;
    for (variant, code) in code_variants(&src) {
        let Some(status) = statuses.get(&variant) else {
            continue; // `Bot(..)`: its status depends on the bot's answer.
        };
        checked += 1;
        assert_eq!(
            table[code.as_str()],
            *status,
            "docs/openapi.yaml gives `{code}` status {}, ApiError::status gives {status}",
            table[code.as_str()]
        );
    }
    assert!(
        checked >= 10,
        "only {checked} statuses read from ApiError::status: has error.rs changed shape?"
    );
}

#[test]
fn every_ref_resolves() {
    let doc = spec();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("$ref {r} is not local to the document"));
        let target = doc.pointer(pointer);
        assert!(
            target.is_some_and(Value::is_object),
            "$ref {r} does not resolve"
        );
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().expect("$ref is a string").to_string());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}

/// The error table of `info.description`: rows `` | `code` | status | when | ``.
fn documented_codes(doc: &Value) -> BTreeMap<String, u16> {
    let description = doc["info"]["description"]
        .as_str()
        .expect("info.description");
    let mut out = BTreeMap::new();
    for line in description.lines() {
        let cells: Vec<&str> = line.trim().split('|').map(str::trim).collect();
        // "| `code` | 400 | when |" splits into ["", "`code`", "400", "when", ""].
        if cells.len() < 4 || !cells[0].is_empty() {
            continue;
        }
        let (Some(code), Ok(status)) = (
            cells[1].strip_prefix('`').and_then(|c| c.strip_suffix('`')),
            cells[2].parse::<u16>(),
        ) else {
            continue;
        };
        assert!((400..600).contains(&status), "`{code}` has status {status}");
        assert!(
            out.insert(code.to_string(), status).is_none(),
            "`{code}` is listed twice"
        );
    }
    assert!(!out.is_empty(), "no error table in info.description");
    out
}

/// The body of `fn NAME` in `src`, between its outer braces.
fn fn_body<'a>(src: &'a str, name: &str) -> &'a str {
    let start = src
        .find(&format!("fn {name}("))
        .unwrap_or_else(|| panic!("no `fn {name}` in error.rs"));
    let open = start + src[start..].find('{').expect("fn body");
    let mut depth = 0usize;
    for (i, c) in src[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &src[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces in `fn {name}`");
}

/// Every string literal of `ApiError::code`.
fn code_literals(src: &str) -> Vec<String> {
    fn_body(src, "code")
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The arms of the `match self` in a fn body as (pattern, result) pairs: split on the
/// commas at nesting depth 0, so inner matches and patterns such as
/// `Rejected { reason, .. }` stay whole.
fn arms(body: &str) -> Vec<(String, String)> {
    let body = body
        .split_once("match self {")
        .map(|(_, rest)| rest)
        .expect("`match self {`");
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut arm = String::new();
    for c in body.chars() {
        match c {
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => depth -= 1,
            _ => {}
        }
        if depth < 0 || (c == ',' && depth == 0) {
            if let Some((pattern, result)) = arm.split_once("=>") {
                out.push((pattern.trim().to_string(), result.trim().to_string()));
            }
            arm.clear();
            if depth < 0 {
                break;
            }
        } else {
            arm.push(c);
        }
    }
    out
}

fn leading_ident(s: &str) -> String {
    s.trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// (variant, code) for each arm of `ApiError::code` answering a literal.
fn code_variants(src: &str) -> Vec<(String, String)> {
    arms(fn_body(src, "code"))
        .into_iter()
        .filter_map(|(pattern, result)| {
            let code = result.strip_prefix('"')?.strip_suffix('"')?.to_string();
            Some((leading_ident(&pattern), code))
        })
        .collect()
}

/// variant -> status for each arm of `ApiError::status` answering `StatusCode::X`.
fn variant_statuses(src: &str) -> BTreeMap<String, u16> {
    let mut out = BTreeMap::new();
    for (pattern, result) in arms(fn_body(src, "status")) {
        let Some(name) = result.strip_prefix("StatusCode::") else {
            continue;
        };
        let status = match name {
            "BAD_REQUEST" => 400,
            "UNAUTHORIZED" => 401,
            "FORBIDDEN" => 403,
            "NOT_FOUND" => 404,
            "METHOD_NOT_ALLOWED" => 405,
            "CONFLICT" => 409,
            "PAYLOAD_TOO_LARGE" => 413,
            "UNPROCESSABLE_ENTITY" => 422,
            "INTERNAL_SERVER_ERROR" => 500,
            "BAD_GATEWAY" => 502,
            "SERVICE_UNAVAILABLE" => 503,
            "GATEWAY_TIMEOUT" => 504,
            other => panic!("add StatusCode::{other} to the test's table"),
        };
        for alt in pattern.split('|') {
            out.insert(leading_ident(alt), status);
        }
    }
    out
}
