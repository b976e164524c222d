//! Hands `/front` and `/api/admin/...` to the admin UI (`xgate_admin::router`) with the
//! tenant resolved here: the port's tenant on a tenant port, `/t/{tenant}` (stripped before
//! the admin router sees the path) on the shared listener. Never on the ops listener.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Request};
use axum::response::{IntoResponse, Response};
use http::Uri;
use tower::ServiceExt;
use xgate_admin::AdminRequest;

use crate::error::ApiError;
use crate::request::Conn;
use crate::scope::RequestScope;

/// Built once: it holds the login throttle, which must outlive requests.
static ADMIN: LazyLock<Router> = LazyLock::new(xgate_admin::router);

pub async fn forward(
    Extension(conn): Extension<Conn>,
    Extension(scope): Extension<RequestScope>,
    req: Request,
) -> Response {
    let path = req.uri().path().to_string();
    let by_port = conn.snapshot.table.by_port(conn.local.port()).cloned();
    let (tenant, base, rest) = match (by_port, path.strip_prefix("/t/")) {
        (Some(t), _) if !path.starts_with("/t/") => (t, String::new(), path.clone()),
        (None, Some(after)) => {
            let (id, rest) = after.split_once('/').unwrap_or((after, ""));
            match conn.snapshot.table.get(id) {
                Some(t) => (t.clone(), format!("/t/{id}"), format!("/{rest}")),
                None => return ApiError::TenantNotFound(id.to_string()).into_response(),
            }
        }
        _ => return ApiError::RouteNotFound.into_response(),
    };
    scope.set_tenant(tenant.id(), tenant.config.default_language);
    let (parts, body) = req.into_parts();
    let path_and_query = match parts.uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest,
    };
    let Ok(uri) = path_and_query.parse::<Uri>() else {
        return ApiError::RouteNotFound.into_response();
    };
    // A new request rather than the old one re-targeted: this router's path parameters
    // travel in the extensions and would confuse the admin router's own.
    let mut inner = Request::new(Body::new(body));
    *inner.method_mut() = parts.method;
    *inner.uri_mut() = uri;
    *inner.headers_mut() = parts.headers;
    inner.extensions_mut().insert(AdminRequest {
        tenant: Arc::clone(&tenant),
        peer: conn.peer.map(|p| p.ip()),
        base,
    });
    match ADMIN.clone().oneshot(inner).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}
