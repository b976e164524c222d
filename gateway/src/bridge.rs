//! The one bridge between pingora and axum: pingora owns sockets, TLS, keep-alive,
//! signals and upgrades; axum owns routing. Per request the bridge
//! 1. reads the head and the body, refusing with 413 past `max_body_bytes` before any
//!    handler runs,
//! 2. loads the config snapshot once and attaches it (with the local port and a request
//!    id) to the request, so the whole request sees one snapshot,
//! 3. runs the router chosen by the listener (ops port or API), inside a span carrying
//!    the request id and (once known) the tenant,
//! 4. writes the answer with a Content-Length, so the connection can be reused.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Request, Response, StatusCode, header};
use pingora::apps::{HttpServerApp, ReusedHttpStream};
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use tower::ServiceExt;
use tracing::Instrument;
use xgate_tenants::Language;

use crate::error::ApiError;
use crate::request::Conn;
use crate::state::Gateway;

pub struct Bridge {
    gw: Arc<Gateway>,
    api: Router,
    ops: Router,
}

impl Bridge {
    pub fn new(gw: Arc<Gateway>) -> Bridge {
        Bridge {
            api: crate::routes::api(gw.clone()),
            ops: crate::routes::ops(gw.clone()),
            gw,
        }
    }
}

#[async_trait]
impl HttpServerApp for Bridge {
    /// Called by pingora for every request on every listener; returns the connection
    /// for reuse when the exchange ended cleanly.
    async fn process_new_http(
        self: &Arc<Self>,
        mut session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        match session.read_request().await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                tracing::debug!(error = %e, "reading a request head failed");
                return None;
            }
        }
        // Draining: answer this request, then close so clients move to the new process.
        session.set_keepalive(if *shutdown.borrow() { None } else { Some(60) });

        // Every listener is TCP: an address-less session is not one of ours to serve.
        let local = session.server_addr().and_then(|a| a.as_inet()).copied()?;
        let peer = session.client_addr().and_then(|a| a.as_inet()).copied();
        let request_id = request_id(session.req_header().headers.get("x-request-id"));
        crate::activity::note_request();
        let snapshot = self.gw.snapshot();
        let version = snapshot.version();
        let span = tracing::info_span!(
            "request",
            id = %request_id,
            tenant = tracing::field::Empty,
            user = tracing::field::Empty
        );

        let response = async {
            let body = match read_body(&mut session, self.gw.server.max_body_bytes).await {
                Ok(b) => b,
                Err(BodyError::TooLarge) => {
                    // The rest of the body is unread: this connection cannot be reused.
                    session.set_keepalive(None);
                    return Some(too_large(&session, self.gw.server.max_body_bytes));
                }
                Err(BodyError::Io) => return None,
            };
            let conn = Conn {
                local,
                peer,
                tls: session.digest().is_some_and(|d| d.ssl_digest.is_some()),
                request_id: request_id.clone(),
                snapshot,
            };
            if self.port_without_tenant(&conn) {
                session.set_keepalive(None);
                let err = ApiError::TenantNotFound(format!("port {}", local.port()));
                return Some(crate::error::render(
                    &err,
                    Language::default(),
                    err.status(),
                ));
            }
            let mut parts = session.req_header().as_owned_parts();
            parts.extensions.insert(conn);
            self.run(Request::from_parts(parts, Body::from(body)), local)
                .await
        }
        .instrument(span)
        .await?;

        let (mut parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        parts.headers.remove(header::TRANSFER_ENCODING);
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            parts.headers.insert("x-request-id", v);
        }
        parts
            .headers
            .insert("x-xgate-config-version", HeaderValue::from(version));
        let head: pingora::http::ResponseHeader = parts.into();
        if session.write_response_header(Box::new(head)).await.is_err() {
            return None;
        }
        if !body.is_empty() && session.write_response_body(body, true).await.is_err() {
            return None;
        }
        let settings = pingora::apps::HttpPersistentSettings::for_session(&session);
        match session.finish().await {
            Ok(reusable) => reusable.map(|s| ReusedHttpStream::from_reusable_stream(s, settings)),
            Err(_) => None,
        }
    }
}

impl Bridge {
    async fn run(&self, req: Request<Body>, local: SocketAddr) -> Option<Response<Body>> {
        let port = local.port();
        let router = if port == self.gw.ops_port() {
            self.ops.clone()
        } else {
            self.api.clone()
        };
        router.oneshot(req).await.ok()
    }

    /// A connection accepted on a tenant port that a reload has since closed or given
    /// to no one: it must not fall through to mail-domain resolution as if it were a
    /// shared listener.
    fn port_without_tenant(&self, conn: &Conn) -> bool {
        let port = conn.local.port();
        port != self.gw.ops_port()
            && !self.gw.is_shared_port(port)
            && conn.snapshot.table.by_port(port).is_none()
    }
}

enum BodyError {
    TooLarge,
    Io,
}

async fn read_body(session: &mut ServerSession, cap: usize) -> Result<Bytes, BodyError> {
    let declared = session
        .req_header()
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > cap) {
        return Err(BodyError::TooLarge);
    }
    // Windows PowerShell and the .NET client send `Expect: 100-continue` on every POST and
    // hold the body back until told to go on (or a timeout of ~350 ms to 1 s passes).
    let expects_continue = session
        .req_header()
        .headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects_continue && session.write_continue_response().await.is_err() {
        return Err(BodyError::Io);
    }
    let mut buf = BytesMut::new();
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > cap {
                    return Err(BodyError::TooLarge);
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(buf.freeze()),
            Err(_) => return Err(BodyError::Io),
        }
    }
}

/// Refused before routing, so rendered here, in the same JSON shape and language rules
/// as every other error.
fn too_large(session: &ServerSession, limit: usize) -> Response<Body> {
    let lang = session
        .req_header()
        .headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Language::from_accept_language)
        .unwrap_or_default();
    tracing::info!(status = 413, limit, "request body too large");
    crate::error::render(
        &ApiError::PayloadTooLarge { limit },
        lang,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
}

/// A client-supplied id is kept when it is short and plain (so a front proxy's id
/// links its logs to ours); anything else is replaced.
fn request_id(given: Option<&HeaderValue>) -> String {
    given
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}
