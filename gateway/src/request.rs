//! Finding the tenant and the user of a request.
//!
//! On a tenant's own (legacy) port the tenant is known from the port; on a shared
//! listener it is the one serving the claimed user's mail domain. Either way the
//! tenant's own auth mode then decides who the user really is, and the user must
//! belong to one of the tenant's domains.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::HeaderMap;
use xgate_tenants::Tenant;
use xgate_tenants::table::domain_of;

use crate::directory::Credentials;
use crate::error::ApiError;
use crate::principal::{Principal, authenticate, claimed_user};
use crate::scope::RequestScope;
use crate::state::Snapshot;

/// Set by the bridge on every request: where it came in and which snapshot it sees.
#[derive(Clone)]
pub struct Conn {
    pub local: SocketAddr,
    pub peer: Option<SocketAddr>,
    /// The connection is TLS (HTTP Basic is then acceptable from anywhere).
    pub tls: bool,
    pub request_id: String,
    pub snapshot: Arc<Snapshot>,
}

pub struct Caller {
    pub tenant: Arc<Tenant>,
    pub principal: Principal,
}

pub async fn resolve(
    conn: &Conn,
    headers: &HeaderMap,
    body_user: Option<&str>,
    scope: &RequestScope,
) -> Result<Caller, ApiError> {
    let claimed = claimed_user(headers, body_user);
    // On a shared listener a Basic login that is an address names the tenant best: it
    // is the identity about to be checked. Otherwise the claimed address does.
    let hint = Credentials::basic_login(headers).or_else(|| claimed.clone());
    let tenant = match ticket_tenant(conn, headers) {
        Some(t) => {
            scope.set_tenant(t.id(), t.config.default_language);
            t
        }
        None => resolve_tenant(conn, hint.as_deref(), scope)?,
    };
    let principal = authenticate(&tenant, conn, headers, claimed.as_deref(), scope).await?;
    // Every later line of this request names the user (never a password: only the mail).
    tracing::Span::current().record("user", principal.mail.as_str());
    if !tenant.serves_mail(&principal.mail) {
        return Err(ApiError::DomainNotServed {
            user: principal.mail,
            tenant: tenant.id().to_string(),
        });
    }
    Ok(Caller { tenant, principal })
}

/// For the few routes that may be anonymous on a tenant's own port (client telemetry:
/// the add-in's log sink sends no identity): the tenant, and the user if one is given.
pub async fn resolve_optional_user(
    conn: &Conn,
    headers: &HeaderMap,
    scope: &RequestScope,
) -> Result<(Arc<Tenant>, Option<Principal>), ApiError> {
    let claimed = claimed_user(headers, None);
    if claimed.is_none() && !headers.contains_key(axum::http::header::AUTHORIZATION) {
        return Ok((resolve_tenant(conn, None, scope)?, None));
    }
    let caller = resolve(conn, headers, None, scope).await?;
    Ok((caller.tenant, Some(caller.principal)))
}

/// On a shared listener, a Kerberos ticket names its service (and realm) in clear: the
/// tenant whose `service_principal` it is, so a domain-joined Outlook that sends no
/// address still finds its tenant. Only picks; that tenant's keytab then checks it.
fn ticket_tenant(conn: &Conn, headers: &HeaderMap) -> Option<Arc<Tenant>> {
    if conn.snapshot.table.by_port(conn.local.port()).is_some() {
        return None;
    }
    let Ok(Some(Credentials::Negotiate(token))) = Credentials::from_headers(headers) else {
        return None;
    };
    let service = crate::directory::ticket::service_principal(&token)?;
    conn.snapshot.table.by_service_principal(&service).cloned()
}

fn resolve_tenant(
    conn: &Conn,
    claimed: Option<&str>,
    scope: &RequestScope,
) -> Result<Arc<Tenant>, ApiError> {
    let tenant = match conn.snapshot.table.by_port(conn.local.port()) {
        Some(t) => t.clone(),
        None => {
            let user = claimed.ok_or(ApiError::Unauthenticated)?;
            let domain = domain_of(user).ok_or_else(|| ApiError::InvalidField {
                field: "X-Xgate-User",
                reason: "must be a mail address".into(),
            })?;
            conn.snapshot
                .table
                .by_mail(user)
                .cloned()
                .ok_or(ApiError::TenantNotFound(domain))?
        }
    };
    scope.set_tenant(tenant.id(), tenant.config.default_language);
    Ok(tenant)
}
