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
        .with_state(gw)
}

async fn metrics(State(gw): State<Arc<Gateway>>) -> Response {
    let stats = gw.db.pool_stats();
    gw.metrics.set_pool(stats.size, stats.idle);
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
