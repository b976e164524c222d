//! `/ops/`: the operator's read-only overview of every tenant, behind `[server.ops_admin]`
//! (HTTP Basic). The facts are gathered here, from the snapshot in force, the metrics
//! (bot probe, directory calls), each tenant's store (meetings today) and the last reload
//! report; `xgate_admin::ops_view` renders them. Nothing here changes anything.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use xgate_admin::ops_view::{OpsOverview, OpsTenant, operator_ok, page};
use xgate_tenants::Language;

use crate::state::Gateway;

pub async fn overview(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let Some(ops) = &gw.server.ops_admin else {
        return (
            StatusCode::NOT_FOUND,
            "no [server.ops_admin] login is configured\n",
        )
            .into_response();
    };
    if !operator_ok(ops, &headers).await {
        let mut r = (StatusCode::UNAUTHORIZED, "login required\n").into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"xgate ops\", charset=\"UTF-8\""),
        );
        return r;
    }
    let english = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Language::from_accept_language)
        == Some(Language::En);
    let mut r = Html(page(&gather(&gw).await, english)).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    r
}

async fn gather(gw: &Gateway) -> OpsOverview {
    let snapshot = gw.snapshot();
    let metrics = gw.metrics.render();
    let bot_up = series(&metrics, "xgate_bot_up");
    let directory = series(&metrics, "xgate_directory_calls_total");
    let directory_up = series(&metrics, "xgate_directory_up");
    let report = match gw.reloader() {
        Some(r) => Some(r.last_report().await),
        None => None,
    };
    let today = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_else(Utc::now);
    let mut tenants = Vec::new();
    for t in snapshot.table.iter() {
        let id = t.id().to_string();
        // The probe's verdict first, then what users' logins met since the start.
        let probe = directory_up
            .iter()
            .find(|(labels, _)| label(labels, "tenant") == Some(id.as_str()))
            .map(|(_, v)| {
                if *v >= 1.0 {
                    "probe: up"
                } else {
                    "probe: DOWN"
                }
            });
        let dir: Vec<String> = probe
            .map(str::to_string)
            .into_iter()
            .chain(
                directory
                    .iter()
                    .filter(|(labels, _)| label(labels, "tenant") == Some(id.as_str()))
                    .map(|(labels, v)| format!("{}: {v}", label(labels, "outcome").unwrap_or("?"))),
            )
            .collect();
        let last_error = report.as_ref().and_then(|r| {
            r.stale
                .get(&id)
                .or_else(|| r.rejected.get(&id))
                .and_then(|errors| errors.first())
                .map(|e| e.message.clone())
        });
        tenants.push(OpsTenant {
            bot_up: bot_up
                .iter()
                .find(|(labels, _)| label(labels, "tenant") == Some(id.as_str()))
                .map(|(_, v)| *v >= 1.0),
            directory: dir.join(", "),
            meetings_today: t.store.meetings_created_since(today).await.ok(),
            last_error,
            admin_ui: t.config.jwt.is_some(),
            name: t.config.name.clone(),
            ports: t.config.ports.clone(),
            mail_domains: t.config.mail_domains.clone(),
            id,
        });
    }
    tenants.sort_by(|a, b| a.id.cmp(&b.id));
    OpsOverview {
        config_version: snapshot.version(),
        last_reload: report
            .map(|r| {
                format!(
                    "{} ({}): {}",
                    r.at.to_rfc3339(),
                    r.trigger,
                    r.result.as_str()
                )
            })
            .unwrap_or_default(),
        tenants,
    }
}

/// `name{labels} value` lines of the text exposition, as (labels, value).
fn series(text: &str, name: &str) -> Vec<(HashMap<String, String>, f64)> {
    text.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix('{'))
        .filter_map(|rest| {
            let (labels, value) = rest.rsplit_once("} ")?;
            let labels = labels
                .split(',')
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    Some((k.trim().to_string(), v.trim_matches('"').to_string()))
                })
                .collect();
            Some((labels, value.trim().parse().ok()?))
        })
        .collect()
}

fn label<'a>(labels: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    labels.get(key).map(String::as_str)
}
