//! What one request learns as it is handled (its tenant, its language), and the
//! middleware around every route that turns that into the error body's language, the
//! access log line and the request metrics.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use xgate_tenants::Language;

use crate::directory::cors;
use crate::error::{PendingError, render};
use crate::request::Conn;
use crate::state::Gateway;

#[derive(Clone, Default)]
pub struct RequestScope {
    explicit_lang: Arc<OnceLock<Language>>,
    tenant_lang: Arc<OnceLock<Language>>,
    tenant: Arc<OnceLock<String>>,
    directory_outcome: Arc<OnceLock<&'static str>>,
    /// `Negotiate <token>` for the answer: Kerberos mutual authentication.
    negotiate_reply: Arc<OnceLock<String>>,
}

impl RequestScope {
    /// The client said which language it wants (`LanguageId`).
    pub fn set_language(&self, lang: Language) {
        let _ = self.explicit_lang.set(lang);
    }

    pub fn set_tenant(&self, id: &str, default_language: Language) {
        let _ = self.tenant.set(id.to_string());
        let _ = self.tenant_lang.set(default_language);
        tracing::Span::current().record("tenant", id);
    }

    /// The client asked the server to prove itself too; the answer carries the proof.
    pub fn set_negotiate_reply(&self, token: &[u8]) {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(token);
        let _ = self.negotiate_reply.set(format!("Negotiate {encoded}"));
    }

    /// What the tenant's directory answered, for `xgate_directory_calls_total`.
    pub fn set_directory_outcome(&self, outcome: &'static str) {
        let _ = self.directory_outcome.set(outcome);
    }

    pub fn tenant(&self) -> Option<&str> {
        self.tenant.get().map(String::as_str)
    }
}

pub async fn around(State(gw): State<Arc<Gateway>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let scope = RequestScope::default();
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Language::from_accept_language);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let conn = req.extensions().get::<Conn>().cloned();
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let cors_origin =
        |tenant: Option<&str>| cors::allowed_origin(conn.as_ref()?, origin.as_deref()?, tenant);
    if cors::is_preflight(&method, req.headers()) {
        return cors::preflight(cors_origin(None));
    }
    req.extensions_mut().insert(scope.clone());

    let mut resp = next.run(req).await;
    if let Some(origin) = cors_origin(scope.tenant()) {
        cors::decorate(resp.headers_mut(), &origin);
    }
    if let Some(reply) = scope.negotiate_reply.get()
        && let Ok(value) = header::HeaderValue::from_str(reply)
    {
        resp.headers_mut().append(header::WWW_AUTHENTICATE, value);
    }
    if let (Some(tenant), Some(outcome)) = (scope.tenant(), scope.directory_outcome.get()) {
        gw.metrics.directory_call(tenant, outcome);
    }

    let code = resp
        .extensions_mut()
        .remove::<PendingError>()
        .map(|PendingError(err)| {
            let lang = scope
                .explicit_lang
                .get()
                .copied()
                .or(accept)
                .or_else(|| scope.tenant_lang.get().copied())
                .unwrap_or_default();
            let status = resp.status();
            let mut headers = std::mem::take(resp.headers_mut());
            resp = render(&err, lang, status);
            headers.remove(header::CONTENT_TYPE);
            headers.remove(header::CONTENT_LENGTH);
            // `extend`, not `insert` per value: a 401 may offer several challenges
            // (`WWW-Authenticate: Negotiate` and `Basic`), and each must survive.
            resp.headers_mut().extend(headers);
            err.code().to_string()
        });
    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    gw.metrics
        .observe_request(scope.tenant(), &route, status, elapsed);
    tracing::info!(
        method = %method,
        route = %route,
        status,
        code = code.as_deref().unwrap_or(""),
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    resp
}
