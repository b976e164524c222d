//! CORS for the Office web add-in: a browser page served from the add-in's origin calls
//! the API, and the browser asks first (preflight) whether that origin may.
//!
//! Owns the CORS headers. It must never answer `*` or echo an origin the tenant did not
//! list: the add-in sends credentials, and a reflected origin would let any web page
//! act as the signed-in user.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::request::Conn;

const ALLOW_HEADERS: &str =
    "authorization, content-type, accept-language, x-xgate-user, x-requested-with";
const ALLOW_METHODS: &str = "GET, POST, PUT, DELETE, OPTIONS";

/// The request's `Origin`, if a tenant the request can reach lists it. On a tenant's
/// port only that tenant counts; on a shared listener, before any user is known, the
/// tenant that lists the origin (`tenant` when already resolved).
pub fn allowed_origin(conn: &Conn, origin: &str, tenant: Option<&str>) -> Option<String> {
    let origin = origin.trim_end_matches('/');
    let table = &conn.snapshot.table;
    let listed = |t: &xgate_tenants::Tenant| {
        t.config
            .auth
            .cors_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
    };
    let ok = match (table.by_port(conn.local.port()), tenant) {
        (Some(t), _) => listed(t),
        (None, Some(id)) => table.get(id).is_some_and(|t| listed(t)),
        (None, None) => table.iter().any(|t| listed(t)),
    };
    ok.then(|| origin.to_string())
}

/// Whether this is a preflight (`OPTIONS` with `Access-Control-Request-Method`).
pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The answer to a preflight: 204 with the grants for an allowed origin, 403 without
/// any CORS header otherwise (the browser then refuses the real request).
pub fn preflight(origin: Option<String>) -> Response {
    let Some(origin) = origin else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    decorate(h, &origin);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    resp
}

/// The headers on an actual answer to an allowed origin.
pub fn decorate(h: &mut HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.append(header::VARY, HeaderValue::from_static("origin"));
    }
}
