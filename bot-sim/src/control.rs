//! The test control plane under `/_sim/`: inspect stored conferences, inject delays and
//! failures, read call statistics, reset. It is never behind auth, so tests can always
//! reach it.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use uuid::Uuid;

use crate::state::{Behaviour, Sim};

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/_sim/health", get(health))
        .route("/_sim/conferences", get(list_conferences))
        .route("/_sim/conferences/{call_id}", get(get_conference))
        .route("/_sim/behaviour", get(get_behaviour).post(set_behaviour))
        .route("/_sim/reset", post(reset))
        .route("/_sim/stats", get(stats))
}

fn control_error(status: StatusCode, error: impl Into<String>) -> Response {
    (status, Json(json!({"error": error.into()}))).into_response()
}

async fn health() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

async fn list_conferences(State(sim): State<Arc<Sim>>) -> Response {
    Json(sim.conferences()).into_response()
}

async fn get_conference(State(sim): State<Arc<Sim>>, Path(call_id): Path<String>) -> Response {
    match Uuid::parse_str(&call_id)
        .ok()
        .and_then(|id| sim.conference(id))
    {
        Some(conf) => Json(conf).into_response(),
        None => control_error(StatusCode::NOT_FOUND, "conference not found"),
    }
}

async fn get_behaviour(State(sim): State<Arc<Sim>>) -> Response {
    Json(sim.behaviour()).into_response()
}

/// Replaces the whole behaviour; an empty body or `{}` clears it.
async fn set_behaviour(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let behaviour: Behaviour = if body.iter().all(u8::is_ascii_whitespace) {
        Behaviour::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                return control_error(StatusCode::BAD_REQUEST, format!("bad behaviour: {e}"));
            }
        }
    };
    if let Some(fail) = &behaviour.fail
        && !(100..=599).contains(&fail.status)
    {
        return control_error(
            StatusCode::BAD_REQUEST,
            format!("fail.status {} is not an HTTP status", fail.status),
        );
    }
    tracing::info!(?behaviour, "behaviour set");
    sim.set_behaviour(behaviour.clone());
    Json(behaviour).into_response()
}

async fn reset(State(sim): State<Arc<Sim>>) -> Response {
    sim.reset();
    tracing::info!("reset");
    Json(json!({"status": "ok"})).into_response()
}

async fn stats(State(sim): State<Arc<Sim>>) -> Response {
    Json(sim.stats()).into_response()
}
