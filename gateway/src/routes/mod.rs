//! The add-in API's routes (one file per resource) and the ops routes.

mod admin;
pub(crate) mod meetings;
mod ops;
mod ops_view;
mod settings;
mod telemetry;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{any, get, post};

use crate::error::ApiError;
use crate::scope;
use crate::state::Gateway;

/// Routes on the shared and tenant listeners.
pub fn api(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/api/meetings", post(meetings::create))
        .route(
            "/api/meetings/{id}",
            get(meetings::get)
                .put(meetings::update)
                .delete(meetings::delete),
        )
        .route("/api/settings", get(settings::get))
        .route("/api/log/json", post(telemetry::ingest))
        // The tenant admin UI: on a tenant's port, and under /t/{tenant} on shared listeners.
        .route("/front", any(admin::forward))
        .route("/front/{*rest}", any(admin::forward))
        .route("/api/admin/{*rest}", any(admin::forward))
        .route("/t/{tenant}/front", any(admin::forward))
        .route("/t/{tenant}/front/{*rest}", any(admin::forward))
        .route("/t/{tenant}/api/admin/{*rest}", any(admin::forward))
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(gw.clone(), scope::around))
        .with_state(gw)
}

/// Routes on the ops listener: never reachable through a tenant or shared port.
pub fn ops(gw: Arc<Gateway>) -> Router {
    ops::router(gw.clone()).merge(
        Router::new()
            .route("/ops/", get(ops_view::overview))
            .with_state(gw),
    )
}
