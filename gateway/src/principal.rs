//! Who is calling, once authenticated. Handlers receive a `Principal` and never look
//! at headers for identity themselves: mode `none` trusts the claimed address, the
//! directory modes (`crate::directory`) fill the same type from the tenant's directory.

use axum::http::HeaderMap;
use xgate_tenants::Tenant;
use xgate_tenants::config::AuthMode;

use crate::directory::{Credentials, Origin};
use crate::error::ApiError;
use crate::request::Conn;
use crate::scope::RequestScope;

/// The header through which a trusted front (or a test) names the user in mode `none`.
pub const USER_HEADER: &str = "x-xgate-user";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Primary SMTP address, lowercased.
    pub mail: String,
    /// The account name (`sAMAccountName`); the bot's `ad_login` contact type uses it.
    pub login: String,
    pub display_name: Option<String>,
    pub sip: Option<String>,
    /// Other addresses of the same mailbox (`proxyAddresses`), lowercased.
    pub aliases: Vec<String>,
}

impl Principal {
    /// Whether `address` is this user (primary address or an alias), case-insensitively.
    pub fn is(&self, address: &str) -> bool {
        let a = address.trim().to_ascii_lowercase();
        a == self.mail || self.aliases.contains(&a)
    }
}

/// The identity the request claims, before any tenant is known: what resolution on a
/// shared listener uses to pick the tenant whose directory then checks it.
pub fn claimed_user(headers: &HeaderMap, body_user: Option<&str>) -> Option<String> {
    headers
        .get(USER_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .or(body_user.map(str::trim).filter(|v| !v.is_empty()))
        .map(str::to_ascii_lowercase)
}

/// Authenticates the caller with the tenant's mode. In a directory mode the claimed
/// address plays no part: the user is whoever the credentials prove.
pub async fn authenticate(
    tenant: &Tenant,
    conn: &Conn,
    headers: &HeaderMap,
    claimed: Option<&str>,
    scope: &RequestScope,
) -> Result<Principal, ApiError> {
    match tenant.config.auth.mode {
        AuthMode::Ldap | AuthMode::Kerberos | AuthMode::KerberosLdap => {
            let directory = conn
                .snapshot
                .directory(tenant)
                .expect("every tenant in a directory mode has a directory");
            let mode = directory.mode();
            let creds =
                Credentials::from_headers(headers).map_err(|e| ApiError::Directory(e, mode))?;
            let origin = Origin {
                client: conn.peer.map(|p| p.ip()),
                secure: conn.tls || conn.peer.is_some_and(|p| p.ip().is_loopback()),
            };
            let ((result, outcome), reply) = directory.authenticate_with_reply(creds, origin).await;
            scope.set_directory_outcome(outcome);
            if let Some(token) = reply {
                scope.set_negotiate_reply(&token);
            }
            result.map_err(|e| ApiError::Directory(e, mode))
        }
        AuthMode::None => {
            let mail = claimed.ok_or(ApiError::Unauthenticated)?;
            let Some((local, _)) = mail.rsplit_once('@') else {
                return Err(ApiError::InvalidField {
                    field: "X-Xgate-User",
                    reason: "must be a mail address".into(),
                });
            };
            Ok(Principal {
                mail: mail.to_string(),
                login: local.to_string(),
                display_name: None,
                sip: None,
                aliases: Vec::new(),
            })
        }
    }
}
