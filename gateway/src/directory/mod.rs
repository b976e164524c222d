//! Who the caller is, according to the tenant's directory: HTTP Basic checked by an
//! LDAP bind, `Negotiate` checked with the tenant's keytab, the user then read from the
//! directory. One `Directory` per tenant with a real `auth.mode`, built with the
//! tenant's snapshot entry and rebuilt (cache and counters empty) when `[auth]` changes.
//!
//! Owns the order of the checks (throttle, cache, directory) and the time limit. It
//! must never let a slow or dead directory hold a request past `auth.timeout_ms`, never
//! log a password, and never answer HTTP itself: `DirectoryError` becomes a status only
//! in `crate::error`.

pub mod cache;
pub mod cors;
pub mod kerberos;
pub mod ldap;
pub mod throttle;
pub mod ticket;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use xgate_tenants::config::{AuthMode, AuthSettings};

use crate::principal::Principal;
use cache::{Cache, Cached};
use kerberos::Kerberos;
use ldap::Ldap;
use throttle::Throttle;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("no credentials in the request")]
    NoCredentials,
    #[error("wrong login or password")]
    InvalidCredentials,
    #[error("no such user in the directory")]
    UnknownUser,
    #[error("Negotiate token refused: {0}")]
    TokenRefused(String),
    #[error("Basic credentials over plain HTTP from a non-loopback client")]
    InsecureTransport,
    #[error("too many failed logins; retry in {}s", retry_after.as_secs().max(1))]
    Throttled { retry_after: Duration },
    #[error("the user is not a member of the required group")]
    NotInGroup,
    #[error("the directory has no mailbox for {0}")]
    NoMailbox(String),
    #[error("the directory is unavailable: {0}")]
    Unavailable(String),
}

/// What the request carries in `Authorization`.
pub enum Credentials {
    Basic { login: String, password: String },
    Negotiate(Vec<u8>),
}

impl Credentials {
    /// `Ok(None)` without an `Authorization` header; a header that does not decode is
    /// a failed login, not a missing one.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Credentials>, DirectoryError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let value = value
            .to_str()
            .map_err(|_| DirectoryError::InvalidCredentials)?;
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let is_basic = scheme.eq_ignore_ascii_case("basic");
        if !is_basic && !scheme.eq_ignore_ascii_case("negotiate") {
            // A scheme this gateway does not speak: answer with the ones it does.
            return Err(DirectoryError::NoCredentials);
        }
        let decoded = BASE64
            .decode(rest.trim())
            .map_err(|_| DirectoryError::InvalidCredentials)?;
        if is_basic {
            let text =
                String::from_utf8(decoded).map_err(|_| DirectoryError::InvalidCredentials)?;
            let (login, password) = text
                .split_once(':')
                .ok_or(DirectoryError::InvalidCredentials)?;
            Ok(Some(Credentials::Basic {
                login: login.trim().to_string(),
                password: password.to_string(),
            }))
        } else {
            Ok(Some(Credentials::Negotiate(decoded)))
        }
    }

    /// The login of Basic credentials, to find the tenant by its domain on a shared
    /// listener (`alice@acme.ru`); `None` for Negotiate or a bare account name.
    pub fn basic_login(headers: &HeaderMap) -> Option<String> {
        match Credentials::from_headers(headers) {
            Ok(Some(Credentials::Basic { login, .. })) if login.contains('@') => {
                Some(login.to_ascii_lowercase())
            }
            _ => None,
        }
    }
}

/// Where the request came from, as far as authentication cares.
#[derive(Clone, Copy)]
pub struct Origin {
    pub client: Option<IpAddr>,
    /// TLS on the connection, or a loopback client (a local TLS-terminating proxy).
    pub secure: bool,
}

pub struct Directory {
    tenant: String,
    mode: AuthMode,
    timeout: Duration,
    allow_basic_without_tls: bool,
    cache: Cache,
    throttle: Throttle,
    ldap: Ldap,
    kerberos: Option<Arc<Kerberos>>,
}

impl Directory {
    /// `None` for `auth.mode = "none"`: nothing to ask.
    pub fn new(tenant: &str, s: &AuthSettings) -> Result<Option<Directory>, String> {
        let Some(ldap) = &s.ldap else {
            return Ok(None);
        };
        Ok(Some(Directory {
            tenant: tenant.to_string(),
            mode: s.mode,
            timeout: s.timeout,
            allow_basic_without_tls: s.allow_basic_without_tls,
            cache: Cache::new(s.cache_ttl, s.negative_cache_ttl, s.cache_entries),
            throttle: Throttle::new(
                s.failure_window,
                s.max_failures_per_user,
                s.max_failures_per_client,
            ),
            ldap: Ldap::new(ldap.clone(), s.timeout)?,
            kerberos: s
                .kerberos
                .as_ref()
                .map(Kerberos::new)
                .transpose()?
                .map(Arc::new),
        }))
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// The probe's question: can xgate reach the directory and bind as its service
    /// account, within the tenant's timeout? Users are not involved, nothing is cached.
    pub async fn reachable(&self) -> bool {
        let work = async {
            let mut conn = self.ldap.open().await.ok()?;
            let bound = self.ldap.bind_service(&mut conn).await.ok()?;
            let _ = conn.unbind().await;
            Some(bound.rc == 0)
        };
        matches!(
            tokio::time::timeout(self.timeout, work).await,
            Ok(Some(true))
        )
    }

    fn offers_basic(&self) -> bool {
        matches!(self.mode, AuthMode::Ldap | AuthMode::KerberosLdap)
    }

    /// The user, and the outcome for `xgate_directory_calls_total`.
    pub async fn authenticate(
        &self,
        creds: Option<Credentials>,
        origin: Origin,
    ) -> (Result<Principal, DirectoryError>, &'static str) {
        let (result, _) = self.authenticate_with_reply(creds, origin).await;
        result
    }

    /// As `authenticate`, with the Kerberos reply token for mutual authentication.
    pub async fn authenticate_with_reply(
        &self,
        creds: Option<Credentials>,
        origin: Origin,
    ) -> (
        (Result<Principal, DirectoryError>, &'static str),
        Option<Vec<u8>>,
    ) {
        let mut reply = None;
        let result = match creds {
            None => Err(DirectoryError::NoCredentials),
            Some(Credentials::Basic { login, password }) if self.offers_basic() => {
                self.basic(&login, &password, origin).await
            }
            Some(Credentials::Negotiate(token)) if self.kerberos.is_some() => {
                self.negotiate(token, origin, &mut reply).await
            }
            Some(_) => Err(DirectoryError::NoCredentials),
        };
        let outcome = Self::outcome(result);
        (outcome, reply)
    }

    fn outcome(
        result: Result<(Principal, bool), DirectoryError>,
    ) -> (Result<Principal, DirectoryError>, &'static str) {
        match result {
            Ok((p, cached)) => (Ok(p), if cached { "cached" } else { "ok" }),
            Err(e) => {
                let outcome = match &e {
                    DirectoryError::Unavailable(_) => "unavailable",
                    DirectoryError::Throttled { .. } => "throttled",
                    DirectoryError::NoCredentials => "no_credentials",
                    DirectoryError::NotInGroup | DirectoryError::NoMailbox(_) => "forbidden",
                    _ => "invalid",
                };
                (Err(e), outcome)
            }
        }
    }

    async fn basic(
        &self,
        login: &str,
        password: &str,
        origin: Origin,
    ) -> Result<(Principal, bool), DirectoryError> {
        if !origin.secure && !self.allow_basic_without_tls {
            return Err(DirectoryError::InsecureTransport);
        }
        // `DOMAIN\alice` is how Windows names accounts; the directory knows `alice`.
        let login = login.rsplit_once('\\').map_or(login, |(_, l)| l);
        let throttled = |wait| DirectoryError::Throttled { retry_after: wait };
        self.throttle
            .check_client(origin.client)
            .map_err(throttled)?;
        if login.is_empty() || password.is_empty() {
            // An empty password would be an LDAP "unauthenticated bind", which succeeds.
            return Err(self.failed(login, origin, DirectoryError::InvalidCredentials));
        }
        let key = self.cache.basic_key(login, password);
        match self.cache.get(&key) {
            Cached::Yes(p) => return Ok((p, true)),
            Cached::No => {
                return Err(self.failed(login, origin, DirectoryError::InvalidCredentials));
            }
            Cached::Unknown => {}
        }
        self.throttle.check_user(login).map_err(throttled)?;
        match self
            .in_time(self.ldap.check_password(login, password))
            .await
        {
            Ok(p) => {
                self.cache.put(key, Some(p.clone()));
                Ok((p, false))
            }
            Err(e @ (DirectoryError::InvalidCredentials | DirectoryError::UnknownUser)) => {
                self.cache.put(key, None);
                Err(self.failed(login, origin, e))
            }
            Err(e) => Err(self.logged(login, origin, e)),
        }
    }

    async fn negotiate(
        &self,
        token: Vec<u8>,
        origin: Origin,
        reply: &mut Option<Vec<u8>>,
    ) -> Result<(Principal, bool), DirectoryError> {
        let throttled = |wait| DirectoryError::Throttled { retry_after: wait };
        self.throttle
            .check_client(origin.client)
            .map_err(throttled)?;
        let kerberos = self.kerberos.clone().expect("checked by the caller");
        let accepted = self
            .in_time(async move {
                tokio::task::spawn_blocking(move || kerberos.accept(&token))
                    .await
                    .map_err(|e| DirectoryError::Unavailable(format!("GSSAPI task: {e}")))
            })
            .await?;
        let login = match accepted {
            Ok((login, token)) => {
                *reply = token;
                login
            }
            Err(reason) => {
                return Err(self.failed("", origin, DirectoryError::TokenRefused(reason)));
            }
        };
        let key = Cache::principal_key(&login);
        match self.cache.get(&key) {
            Cached::Yes(p) => return Ok((p, true)),
            Cached::No => return Err(self.logged(&login, origin, DirectoryError::UnknownUser)),
            Cached::Unknown => {}
        }
        match self.in_time(self.ldap.lookup(&login)).await {
            Ok(p) => {
                self.cache.put(key, Some(p.clone()));
                Ok((p, false))
            }
            Err(e @ DirectoryError::UnknownUser) => {
                self.cache.put(key, None);
                Err(self.logged(&login, origin, e))
            }
            Err(e) => Err(self.logged(&login, origin, e)),
        }
    }

    async fn in_time<T>(
        &self,
        work: impl Future<Output = Result<T, DirectoryError>>,
    ) -> Result<T, DirectoryError> {
        match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(DirectoryError::Unavailable(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// A failed login: counted for throttling, and logged (never with the password).
    fn failed(&self, login: &str, origin: Origin, e: DirectoryError) -> DirectoryError {
        let login = (!login.is_empty()).then_some(login);
        self.throttle.failed(login, origin.client);
        self.logged(login.unwrap_or(""), origin, e)
    }

    fn logged(&self, login: &str, origin: Origin, e: DirectoryError) -> DirectoryError {
        let client = origin.client.map(|c| c.to_string()).unwrap_or_default();
        match &e {
            DirectoryError::Unavailable(_) => {
                tracing::error!(tenant = %self.tenant, login, client, error = %e, "directory unavailable")
            }
            _ => tracing::warn!(tenant = %self.tenant, login, client, error = %e, "login failed"),
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use axum::http::HeaderValue;

    use super::*;

    /// A tenant in mode ldap whose directory is never reached by these tests: every
    /// case is decided before a connection would be opened.
    fn directory() -> Directory {
        let section: xgate_tenants::config::AuthSection = toml::from_str(
            r#"
            mode = "ldap"
            [ldap]
            url = "ldaps://127.0.0.1:1"
            bind_dn = "cn=svc"
            bind_password = "svc-pw"
            base_dn = "dc=test"
            "#,
        )
        .expect("an [auth] section");
        let settings =
            xgate_tenants::config::auth_settings(&section, Path::new(".")).expect("valid settings");
        Directory::new("acme", &settings)
            .expect("a directory")
            .expect("mode ldap has one")
    }

    fn basic(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn authorization_headers_are_read_strictly() {
        let creds = Credentials::from_headers(&basic("Basic YWxpY2U6cHc6d2l0aDpjb2xvbnM="));
        // alice:pw:with:colons: the password may contain colons, the login may not.
        match creds {
            Ok(Some(Credentials::Basic { login, password })) => {
                assert_eq!(
                    (login.as_str(), password.as_str()),
                    ("alice", "pw:with:colons")
                );
            }
            _ => panic!("not read as Basic"),
        }
        assert!(matches!(
            Credentials::from_headers(&basic("Basic not-base64!")),
            Err(DirectoryError::InvalidCredentials)
        ));
        assert!(matches!(
            Credentials::from_headers(&basic("Bearer abc")),
            Err(DirectoryError::NoCredentials)
        ));
        assert!(matches!(
            Credentials::from_headers(&HeaderMap::new()),
            Ok(None)
        ));
        assert_eq!(
            Credentials::basic_login(&basic("Basic QWxpY2VAQWNtZS5ydTpwdw==")).as_deref(),
            Some("alice@acme.ru")
        );
    }

    #[tokio::test]
    async fn basic_over_plain_http_from_afar_is_refused_before_any_directory_call() {
        let d = directory();
        let creds = Credentials::Basic {
            login: "alice".into(),
            password: "pw".into(),
        };
        let origin = Origin {
            client: Some("10.1.2.3".parse().unwrap()),
            secure: false,
        };
        let (r, outcome) = d.authenticate(Some(creds), origin).await;
        assert!(matches!(r, Err(DirectoryError::InsecureTransport)), "{r:?}");
        assert_eq!(outcome, "invalid");
    }

    #[tokio::test]
    async fn an_empty_password_fails_without_a_directory_call() {
        let d = directory();
        let creds = Credentials::Basic {
            login: "alice".into(),
            password: String::new(),
        };
        let origin = Origin {
            client: None,
            secure: true,
        };
        // The directory at 127.0.0.1:1 would answer 503; the check comes first.
        let (r, _) = d.authenticate(Some(creds), origin).await;
        assert!(
            matches!(r, Err(DirectoryError::InvalidCredentials)),
            "{r:?}"
        );
    }

    #[tokio::test]
    async fn negotiate_is_not_accepted_by_a_basic_only_tenant() {
        let d = directory();
        let origin = Origin {
            client: None,
            secure: true,
        };
        let (r, _) = d
            .authenticate(Some(Credentials::Negotiate(vec![1, 2, 3])), origin)
            .await;
        assert!(matches!(r, Err(DirectoryError::NoCredentials)), "{r:?}");
    }
}
