//! The Grafana dashboards and Prometheus rules in `dashboards/` stay in step with what
//! `/metrics` exports: every `xgate_*` name they use is in `METRIC_NAMES`, every panel
//! says what it shows (description) and in what unit, rate windows follow Grafana's
//! `$__rate_interval`, and the rules (and the dashboards' PromQL) pass `promtool`.
//!
//! promtool comes from Debian's `prometheus` package. Without it the promtool checks
//! are skipped with a note, unless `XGATE_REQUIRE_PROMTOOL` is set (CI sets it).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use xgate::metric_names::METRIC_NAMES;

fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards")
}

fn dashboard(name: &str) -> Value {
    let path = dashboards_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn rules() -> serde_norway::Value {
    let path = dashboards_dir().join("alerts.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("alerts.yml: {e}"))
}

/// Every `xgate_*` identifier in a PromQL expression.
fn metric_names(expr: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("xgate_") {
        let before = rest[..i].chars().next_back();
        let tail = &rest[i..];
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.push(&tail[..len]);
        }
        rest = &tail[len..];
    }
    out
}

/// Panels, with the panels of collapsed rows.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner);
        }
    }
    out
}

/// Every PromQL expression of a dashboard (panels, variables, annotations), with
/// where it is, for messages.
fn expressions(d: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in panels(d) {
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(e) = t["expr"].as_str() {
                let title = p["title"].as_str().unwrap_or("?");
                out.push((format!("panel `{title}`"), e.to_string()));
            }
        }
    }
    for v in d["templating"]["list"].as_array().expect("templating") {
        if let Some(q) = v["query"]["query"].as_str().or(v["query"].as_str()) {
            let name = v["name"].as_str().unwrap_or("?");
            out.push((format!("variable `{name}`"), q.to_string()));
        }
    }
    for a in d["annotations"]["list"].as_array().into_iter().flatten() {
        if let Some(e) = a["expr"].as_str() {
            let name = a["name"].as_str().unwrap_or("?");
            out.push((format!("annotation `{name}`"), e.to_string()));
        }
    }
    out
}

fn variables(d: &Value) -> Vec<(&str, &str)> {
    d["templating"]["list"]
        .as_array()
        .expect("templating")
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap_or(""),
                v["type"].as_str().unwrap_or(""),
            )
        })
        .collect()
}

fn check_dashboard(name: &str) -> Value {
    let d = dashboard(name);
    let mut errors = Vec::new();
    assert!(
        variables(&d).contains(&("datasource", "datasource")),
        "{name}: no `$datasource` variable"
    );
    for p in panels(&d) {
        // A row is a heading, not a panel that shows data.
        if p["type"] == "row" {
            continue;
        }
        let title = p["title"].as_str().unwrap_or("?");
        if p["description"]
            .as_str()
            .is_none_or(|s| s.trim().is_empty())
        {
            errors.push(format!("panel `{title}`: no description"));
        }
        if p["fieldConfig"]["defaults"]["unit"]
            .as_str()
            .is_none_or(str::is_empty)
        {
            errors.push(format!("panel `{title}`: no unit"));
        }
        if p["datasource"]["uid"] != "${datasource}" {
            errors.push(format!("panel `{title}`: datasource is not `$datasource`"));
        }
        let targets = p["targets"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        if targets.is_empty() {
            errors.push(format!("panel `{title}`: no query"));
        }
        for t in targets {
            if t["datasource"]["uid"] != "${datasource}" {
                errors.push(format!(
                    "panel `{title}`: a query's datasource is not `$datasource`"
                ));
            }
        }
    }
    for (place, expr) in expressions(&d) {
        for m in metric_names(&expr) {
            if !METRIC_NAMES.contains(&m) {
                errors.push(format!("{place}: `{m}` is not in METRIC_NAMES"));
            }
        }
        // Every range selector: Grafana picks a window that fits the scrape interval.
        for window in expr
            .split('[')
            .skip(1)
            .map(|s| s.split(']').next().unwrap_or(""))
        {
            if window != "$__rate_interval" {
                errors.push(format!(
                    "{place}: window `[{window}]`, expected `[$__rate_interval]`"
                ));
            }
        }
    }
    assert!(errors.is_empty(), "{name}:\n{}", errors.join("\n"));
    d
}

#[test]
fn fleet_dashboard() {
    let d = check_dashboard("fleet.json");
    let exprs: String = expressions(&d).into_iter().map(|(_, e)| e).collect();
    // What the fleet overview is for (issue 6): RED per route, error ratio, bot
    // availability per tenant, reloads and stale tenants, the DB pool.
    for needed in [
        "xgate_http_requests_total",
        "xgate_http_request_duration_seconds_bucket",
        "xgate_bot_up",
        "xgate_config_reloads_total",
        "xgate_tenant_config_errors",
        "xgate_db_pool_connections",
    ] {
        assert!(exprs.contains(needed), "fleet.json does not show {needed}");
    }
}

#[test]
fn tenant_dashboard() {
    let d = check_dashboard("tenant.json");
    assert!(
        variables(&d).contains(&("tenant", "query")),
        "tenant.json: no `$tenant` query variable"
    );
    // A counter or gauge query that forgets the tenant would show the whole fleet
    // on a per-tenant dashboard; histograms have no tenant label and say so.
    for (place, expr) in expressions(&d) {
        let per_tenant = metric_names(&expr).iter().any(|m| !m.ends_with("_bucket"));
        if place.starts_with("panel") && per_tenant {
            assert!(
                expr.contains("$tenant"),
                "{place}: `{expr}` ignores $tenant"
            );
        }
    }
}

#[test]
fn alert_rules() {
    let doc = rules();
    let mut alerts = Vec::new();
    for group in doc["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            let name = rule["alert"].as_str().expect("alerting rules only");
            let expr = rule["expr"].as_str().expect("expr");
            for m in metric_names(expr) {
                assert!(
                    METRIC_NAMES.contains(&m),
                    "{name}: `{m}` is not in METRIC_NAMES"
                );
            }
            assert!(
                rule["annotations"]["summary"].as_str().is_some()
                    && rule["annotations"]["description"].as_str().is_some(),
                "{name}: summary and description are what the on-call person reads"
            );
            alerts.push((name, expr.to_string(), rule["for"].as_str().unwrap_or("")));
        }
    }
    let has = |name: &str, metric: &str, for_: &str| {
        alerts
            .iter()
            .any(|(n, e, f)| *n == name && e.contains(metric) && *f == for_)
    };
    assert!(has("XgateBotDown", "xgate_bot_up == 0", "5m"), "{alerts:?}");
    assert!(
        has("XgateHighErrorRatio", "status_class=\"5xx\"", "10m"),
        "{alerts:?}"
    );
    assert!(
        has(
            "XgateConfigReloadFailing",
            "xgate_config_last_reload_successful == 0",
            "5m"
        ),
        "{alerts:?}"
    );
    assert!(
        has(
            "XgateTenantOnStaleConfig",
            "xgate_tenant_config_errors > 0",
            "15m"
        ),
        "{alerts:?}"
    );
}

#[test]
fn metric_name_extraction() {
    assert_eq!(
        metric_names("sum(rate(xgate_http_requests_total{a=\"xgate_x\"}[5m])) / my_xgate_y"),
        ["xgate_http_requests_total", "xgate_x"]
    );
}

/// `promtool`, or `None` when it is not installed and not required.
fn promtool() -> Option<&'static str> {
    let found = Command::new("promtool").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("XGATE_REQUIRE_PROMTOOL").is_none(),
            "promtool is required: apt-get install prometheus"
        );
        eprintln!("promtool not found (Debian package `prometheus`): promtool checks skipped");
        return None;
    }
    Some("promtool")
}

fn promtool_check_rules(path: &Path) {
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(path)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool check rules {}:\n{}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_accepts_the_rules() {
    if promtool().is_some() {
        promtool_check_rules(&dashboards_dir().join("alerts.yml"));
    }
}

/// The dashboards' PromQL, with Grafana's variables filled in, as recording rules:
/// `promtool check rules` then parses every expression the panels send.
#[test]
fn promtool_parses_the_dashboard_queries() {
    if promtool().is_none() {
        return;
    }
    let mut yaml = String::from("groups:\n  - name: dashboards\n    rules:\n");
    for name in ["fleet.json", "tenant.json"] {
        for (i, (_, expr)) in expressions(&dashboard(name)).into_iter().enumerate() {
            if expr.starts_with("label_values(") {
                continue; // Grafana's own function, not PromQL.
            }
            let expr = expr
                .replace("$__rate_interval", "5m")
                .replace("$instance", ".*")
                .replace("$tenant", "acme");
            let record = format!("dashboard:{}:{i}", name.trim_end_matches(".json"));
            let quoted = serde_json::to_string(&expr).expect("a string");
            yaml.push_str(&format!(
                "      - record: {record}\n        expr: {quoted}\n"
            ));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dashboard-queries.yml");
    std::fs::write(&path, yaml).unwrap();
    promtool_check_rules(&path);
}
