//! `POST /api/log/json`: the add-in's Serilog HTTP sink. Events are re-emitted through
//! tracing with `source=client`, the tenant and the user, so client and server logs
//! land in one searchable stream.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::error::ApiError;
use crate::request::{Conn, resolve_optional_user};
use crate::scope::RequestScope;
use crate::state::Gateway;

/// A batch bigger than this is a misbehaving client, whatever its byte size.
const MAX_EVENTS: usize = 1000;

pub async fn ingest(
    State(gw): State<Arc<Gateway>>,
    Extension(conn): Extension<Conn>,
    Extension(scope): Extension<RequestScope>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    let events = match value {
        Value::Array(events) => events,
        Value::Object(mut obj) => match obj.remove("events").or_else(|| obj.remove("Events")) {
            Some(Value::Array(events)) => events,
            _ => {
                return Err(ApiError::InvalidJson(
                    "expected an array of events or {\"events\": [...]}".into(),
                ));
            }
        },
        _ => {
            return Err(ApiError::InvalidJson(
                "expected an array of events or {\"events\": [...]}".into(),
            ));
        }
    };
    if events.len() > MAX_EVENTS {
        return Err(ApiError::InvalidField {
            field: "events",
            reason: format!("at most {MAX_EVENTS} events per batch"),
        });
    }
    let (tenant, principal) = resolve_optional_user(&conn, &headers, &scope).await?;
    let user = principal.as_ref().map(|p| p.mail.as_str()).unwrap_or("");
    for event in &events {
        let level = field(event, &["Level", "level", "@l"]).unwrap_or("Information");
        let message = field(
            event,
            &[
                "RenderedMessage",
                "renderedMessage",
                "MessageTemplate",
                "messageTemplate",
                "@m",
                "@mt",
            ],
        )
        .unwrap_or("");
        let timestamp = field(event, &["Timestamp", "timestamp", "@t"]).unwrap_or("");
        let exception = field(event, &["Exception", "exception", "@x"]).unwrap_or("");
        let label = emit(level, tenant.id(), user, timestamp, message, exception);
        gw.metrics.client_event(tenant.id(), label);
    }
    Ok(StatusCode::NO_CONTENT)
}

fn field<'a>(event: &'a Value, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| event.get(*n).and_then(Value::as_str))
}

/// Serilog levels mapped onto tracing's; returns the label used in metrics.
fn emit(
    level: &str,
    tenant: &str,
    user: &str,
    client_time: &str,
    message: &str,
    exception: &str,
) -> &'static str {
    macro_rules! client_event {
        ($lvl:expr) => {
            tracing::event!(target: "xgate::client", $lvl, source = "client", tenant, user, client_time, exception, "{message}")
        };
    }
    match level.to_ascii_lowercase().as_str() {
        "verbose" | "trace" => {
            client_event!(tracing::Level::TRACE);
            "verbose"
        }
        "debug" => {
            client_event!(tracing::Level::DEBUG);
            "debug"
        }
        "warning" | "warn" => {
            client_event!(tracing::Level::WARN);
            "warning"
        }
        "error" | "fatal" => {
            client_event!(tracing::Level::ERROR);
            if level.eq_ignore_ascii_case("fatal") {
                "fatal"
            } else {
                "error"
            }
        }
        _ => {
            client_event!(tracing::Level::INFO);
            "information"
        }
    }
}
