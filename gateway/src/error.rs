//! Every error the add-in API can answer, and the one place that maps them to HTTP.
//!
//! Handlers return `ApiError`; `into_response` picks the status and the stable `code`
//! and stores the error in the response; `scope::around` then writes
//! `{"error": {"code", "message"}}` in the request's language (the `LanguageId` the
//! client sent, else `Accept-Language`, else the tenant's default). Messages never
//! carry a secret: bot errors are described by reason, never by the request sent.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use xgate_tenants::Language;
use xgate_tenants::policy::{LinkType, PolicyViolation};

use crate::bot::BotError;
use crate::directory::DirectoryError;
use xgate_tenants::config::AuthMode;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed JSON body: {0}")]
    InvalidJson(String),
    #[error("invalid field `{field}`: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("request body too large")]
    PayloadTooLarge { limit: usize },
    #[error("no tenant serves mail domain of {0}")]
    TenantNotFound(String),
    #[error("{user} is not in a mail domain of tenant {tenant}")]
    DomainNotServed { user: String, tenant: String },
    #[error("no user identity in the request")]
    Unauthenticated,
    #[error("creator {creator} is not the authenticated user {user}")]
    CreatorMismatch { creator: String, user: String },
    #[error("the user may not act on this meeting")]
    Forbidden,
    #[error("meeting not found")]
    MeetingNotFound,
    #[error("policy violation: {0:?}")]
    Policy(PolicyViolation),
    #[error(transparent)]
    Bot(#[from] BotError),
    /// The tenant's directory refused or could not answer; the mode picks the challenge.
    #[error("{0}")]
    Directory(DirectoryError, AuthMode),
    #[error("storage failed: {0}")]
    Storage(String),
    #[error("the invitation template failed: {0}")]
    Template(String),
    #[error("no such route")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            InvalidJson(_) | InvalidField { .. } | Policy(_) => StatusCode::BAD_REQUEST,
            PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            TenantNotFound(_) | MeetingNotFound | RouteNotFound => StatusCode::NOT_FOUND,
            DomainNotServed { .. } | CreatorMismatch { .. } | Forbidden => StatusCode::FORBIDDEN,
            Unauthenticated => StatusCode::UNAUTHORIZED,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            Template(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Directory(e, _) => match e {
                DirectoryError::NoCredentials
                | DirectoryError::InvalidCredentials
                | DirectoryError::UnknownUser
                | DirectoryError::TokenRefused(_) => StatusCode::UNAUTHORIZED,
                DirectoryError::InsecureTransport
                | DirectoryError::NotInGroup
                | DirectoryError::NoMailbox(_) => StatusCode::FORBIDDEN,
                DirectoryError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                DirectoryError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            },
            Bot(e) => match e {
                BotError::Rejected { reason, .. } if reason.starts_with("multiple_users_found") => {
                    StatusCode::CONFLICT
                }
                BotError::Rejected { status: 404, .. } => StatusCode::NOT_FOUND,
                BotError::Rejected { status, .. } if (400..500).contains(status) => {
                    StatusCode::BAD_REQUEST
                }
                BotError::Rejected { .. } | BotError::AuthFailed { .. } | BotError::Protocol(_) => {
                    StatusCode::BAD_GATEWAY
                }
                BotError::Unavailable(_) | BotError::TimedOut => StatusCode::GATEWAY_TIMEOUT,
            },
        }
    }

    /// The stable, machine-readable code. A bot reason passes through unchanged.
    pub fn code(&self) -> &str {
        use ApiError::*;
        match self {
            InvalidJson(_) => "invalid_json",
            InvalidField { .. } => "invalid_field",
            PayloadTooLarge { .. } => "payload_too_large",
            TenantNotFound(_) => "tenant_not_found",
            DomainNotServed { .. } => "domain_not_served",
            Unauthenticated => "unauthenticated",
            CreatorMismatch { .. } => "creator_mismatch",
            Forbidden => "forbidden",
            MeetingNotFound => "meeting_not_found",
            Policy(_) => "policy_violation",
            Storage(_) => "storage_unavailable",
            Template(_) => "template_error",
            RouteNotFound => "not_found",
            Directory(DirectoryError::NoCredentials, _) => "unauthenticated",
            // Unknown user and wrong password answer alike: the API does not tell an
            // attacker which logins exist.
            Directory(
                DirectoryError::InvalidCredentials
                | DirectoryError::UnknownUser
                | DirectoryError::TokenRefused(_),
                _,
            ) => "invalid_credentials",
            Directory(DirectoryError::InsecureTransport, _) => "tls_required",
            Directory(DirectoryError::NotInGroup, _) => "not_in_group",
            Directory(DirectoryError::NoMailbox(_), _) => "no_mailbox",
            Directory(DirectoryError::Throttled { .. }, _) => "too_many_attempts",
            Directory(DirectoryError::Unavailable(_), _) => "directory_unavailable",
            MethodNotAllowed => "method_not_allowed",
            Bot(BotError::Rejected { reason, .. }) => reason,
            Bot(BotError::AuthFailed { .. }) => "bot_auth_failed",
            Bot(BotError::Protocol(_)) => "bot_bad_response",
            Bot(BotError::Unavailable(_) | BotError::TimedOut) => "bot_unavailable",
        }
    }

    pub fn message(&self, lang: Language) -> String {
        crate::messages::message(self, lang)
    }
}

/// What `into_response` leaves for `scope::around` to render in the right language.
#[derive(Clone)]
pub(crate) struct PendingError(pub Arc<ApiError>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut resp = status.into_response();
        if let ApiError::Directory(e, mode) = &self {
            challenge(resp.headers_mut(), status, e, *mode);
        }
        resp.extensions_mut().insert(PendingError(Arc::new(self)));
        resp
    }
}

/// `WWW-Authenticate` on a 401 (what the client may try), `Retry-After` on a 429.
fn challenge(
    h: &mut axum::http::HeaderMap,
    status: StatusCode,
    e: &DirectoryError,
    mode: AuthMode,
) {
    if status == StatusCode::UNAUTHORIZED {
        if matches!(mode, AuthMode::Kerberos | AuthMode::KerberosLdap) {
            h.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Negotiate"),
            );
        }
        if matches!(mode, AuthMode::Ldap | AuthMode::KerberosLdap) {
            h.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"xgate\", charset=\"UTF-8\""),
            );
        }
    }
    if let DirectoryError::Throttled { retry_after } = e
        && let Ok(v) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
    {
        h.insert(header::RETRY_AFTER, v);
    }
}

/// The body of an error answer: `{"error": {"code", "message"}}`.
pub(crate) fn render(err: &ApiError, lang: Language, status: StatusCode) -> Response {
    let body = serde_json::json!({"error": {"code": err.code(), "message": err.message(lang)}});
    let mut out = (status, axum::Json(body)).into_response();
    out.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.code()),
    );
    out
}

pub(crate) fn link_types_list(types: &[LinkType]) -> String {
    types
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
