//! The ops listener: `/metrics`, `/healthz` (the process answers), `/readyz` (it can
//! serve: tenants loaded and the database reachable).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::Gateway;

pub fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/reload", get(reload_status).post(reload_now))
        .with_state(gw)
}

async fn metrics(State(gw): State<Arc<Gateway>>) -> Response {
    let stats = gw.db.pool_stats();
    gw.metrics.set_pool(stats.size, stats.idle, stats.waits);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        gw.metrics.render(),
    )
        .into_response()
}

async fn ready(State(gw): State<Arc<Gateway>>) -> Response {
    let snapshot = gw.snapshot();
    if let Err(e) = gw.db.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")).into_response();
    }
    (
        StatusCode::OK,
        format!(
            "ready: {} tenants, config version {}\n",
            snapshot.table.len(),
            snapshot.version()
        ),
    )
        .into_response()
}

/// The last reload attempt: result, per-tenant errors, the version in force.
async fn reload_status(State(gw): State<Arc<Gateway>>) -> Response {
    match gw.reloader() {
        Some(r) => axum::Json(r.last_report().await).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "reloading is not set up\n").into_response(),
    }
}

/// Reloads now and answers with the report; 422 when nothing could be applied.
async fn reload_now(State(gw): State<Arc<Gateway>>) -> Response {
    let Some(r) = gw.reloader() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "reloading is not set up\n").into_response();
    };
    let report = r.reload("http").await;
    let status = match report.result {
        crate::reload::ReloadResult::Failure => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    (status, axum::Json(report)).into_response()
}
