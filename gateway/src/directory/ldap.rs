//! The tenant's LDAP directory: find a user with the service account, check a password
//! with a bind as that user, read mail, name, SIP number, aliases and group membership.
//!
//! Owns the LDAP protocol. It must never put user input into a filter or DN unescaped
//! (`ldap_escape`; DNs come only from the directory's own answers), never bind with an
//! empty password (an LDAP "unauthenticated bind" succeeds without checking anything),
//! and never log or keep a password.

use std::sync::Arc;
use std::time::Duration;

use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry, ldap_escape};
use xgate_tenants::config::LdapSettings;

use super::DirectoryError;
use crate::principal::Principal;

/// LDAP result code invalidCredentials (RFC 4511).
const INVALID_CREDENTIALS: u32 = 49;
/// AD's LDAP_MATCHING_RULE_IN_CHAIN: membership through nested groups.
const IN_CHAIN: &str = "1.2.840.113556.1.4.1941";

pub struct Ldap {
    settings: LdapSettings,
    tls: Arc<rustls::ClientConfig>,
    connect_timeout: Duration,
}

/// A user as the directory has them.
struct Found {
    dn: String,
    principal: Principal,
}

impl Ldap {
    pub fn new(settings: LdapSettings, connect_timeout: Duration) -> Result<Ldap, String> {
        let tls = Arc::new(tls_config(settings.ca_pem.as_deref())?);
        Ok(Ldap {
            settings,
            tls,
            connect_timeout,
        })
    }

    /// Who `login` is, if `password` is theirs.
    pub async fn check_password(
        &self,
        login: &str,
        password: &str,
    ) -> Result<Principal, DirectoryError> {
        if password.is_empty() {
            return Err(DirectoryError::InvalidCredentials);
        }
        let mut conn = self.connect().await?;
        let found = self.find(&mut conn, login).await?;
        let in_group = self.in_required_group(&mut conn, &found.dn).await?;
        let bind = conn
            .simple_bind(&found.dn, password)
            .await
            .map_err(unavailable)?;
        let _ = conn.unbind().await;
        match bind.rc {
            0 if in_group => Ok(found.principal),
            0 => Err(DirectoryError::NotInGroup),
            INVALID_CREDENTIALS => Err(DirectoryError::InvalidCredentials),
            rc => Err(DirectoryError::Unavailable(format!(
                "user bind answered {rc}: {}",
                bind.text
            ))),
        }
    }

    /// Who `login` is (a user Kerberos has already authenticated).
    pub async fn lookup(&self, login: &str) -> Result<Principal, DirectoryError> {
        let mut conn = self.connect().await?;
        let result = self.lookup_on(&mut conn, login).await;
        let _ = conn.unbind().await;
        result
    }

    /// `lookup` on a connection already bound as the service account.
    pub async fn lookup_on(
        &self,
        conn: &mut ldap3::Ldap,
        login: &str,
    ) -> Result<Principal, DirectoryError> {
        let found = self.find(conn, login).await?;
        if self.in_required_group(conn, &found.dn).await? {
            Ok(found.principal)
        } else {
            Err(DirectoryError::NotInGroup)
        }
    }

    /// The connection alone: TCP, then TLS for `ldaps://` or StartTLS for `ldap://`.
    /// Separate from the bind so that `xgate diagnose` can tell which of them failed.
    pub async fn open(&self) -> Result<ldap3::Ldap, ldap3::LdapError> {
        let s = &self.settings;
        let conn_settings = LdapConnSettings::new()
            .set_conn_timeout(self.connect_timeout)
            .set_config(self.tls.clone())
            .set_starttls(s.starttls);
        let (driver, conn) = LdapConnAsync::with_settings(conn_settings, &s.url).await?;
        // The driver lives as long as this one request's connection: it ends when the
        // connection is unbound or dropped, so it never outlives the runtime it runs on.
        tokio::spawn(async move {
            if let Err(e) = driver.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });
        Ok(conn)
    }

    /// Binds `conn` as the service account and returns the LDAP result as the directory
    /// gave it (`rc` 0: bound; 49: wrong DN or password).
    pub async fn bind_service(
        &self,
        conn: &mut ldap3::Ldap,
    ) -> Result<ldap3::LdapResult, ldap3::LdapError> {
        let s = &self.settings;
        conn.simple_bind(&s.bind_dn, s.bind_password.expose()).await
    }

    /// Connects and binds as the service account.
    async fn connect(&self) -> Result<ldap3::Ldap, DirectoryError> {
        let mut conn = self.open().await.map_err(unavailable)?;
        let bind = self.bind_service(&mut conn).await.map_err(unavailable)?;
        if bind.rc != 0 {
            // The service account is configuration: its failure is the directory's, not
            // the user's, so it is a 503 and an operator's alert, not a 401.
            return Err(DirectoryError::Unavailable(format!(
                "service account bind answered {}",
                bind.rc
            )));
        }
        Ok(conn)
    }

    async fn find(&self, conn: &mut ldap3::Ldap, login: &str) -> Result<Found, DirectoryError> {
        let s = &self.settings;
        let filter = s.user_filter.replace("{login}", &ldap_escape(login));
        let attrs = [
            s.mail_attribute.as_str(),
            s.name_attribute.as_str(),
            s.sip_attribute.as_str(),
            s.proxy_addresses_attribute.as_str(),
            s.login_attribute.as_str(),
        ];
        let (entries, _) = conn
            .search(&s.base_dn, Scope::Subtree, &filter, attrs)
            .await
            .and_then(|r| r.success())
            .map_err(unavailable)?;
        let mut entries = entries.into_iter().map(SearchEntry::construct);
        let (Some(entry), None) = (entries.next(), entries.next()) else {
            // None, or several: a login that names two accounts names nobody.
            return Err(DirectoryError::UnknownUser);
        };
        let attr = |name: &str| -> Vec<String> {
            entry
                .attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let mail = attr(&s.mail_attribute)
            .into_iter()
            .next()
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| m.contains('@'))
            .ok_or_else(|| DirectoryError::NoMailbox(login.to_string()))?;
        let aliases = attr(&s.proxy_addresses_attribute)
            .into_iter()
            .filter_map(|a| {
                let (kind, addr) = a.split_once(':')?;
                kind.eq_ignore_ascii_case("smtp")
                    .then(|| addr.trim().to_ascii_lowercase())
            })
            .filter(|a| a != &mail)
            .collect();
        let principal = Principal {
            login: attr(&s.login_attribute)
                .into_iter()
                .next()
                .unwrap_or_else(|| login.to_string()),
            display_name: attr(&s.name_attribute).into_iter().next(),
            sip: attr(&s.sip_attribute).into_iter().next(),
            mail,
            aliases,
        };
        Ok(Found {
            dn: entry.dn.clone(),
            principal,
        })
    }

    async fn in_required_group(
        &self,
        conn: &mut ldap3::Ldap,
        user_dn: &str,
    ) -> Result<bool, DirectoryError> {
        let Some(group) = &self.settings.required_group else {
            return Ok(true);
        };
        let rule = if self.settings.nested_groups {
            format!(":{IN_CHAIN}:")
        } else {
            String::new()
        };
        let filter = format!("(memberOf{rule}={})", ldap_escape(group));
        let (entries, _) = conn
            .search(user_dn, Scope::Base, &filter, ["1.1"])
            .await
            .and_then(|r| r.success())
            .map_err(unavailable)?;
        Ok(!entries.is_empty())
    }
}

fn unavailable(e: ldap3::LdapError) -> DirectoryError {
    DirectoryError::Unavailable(e.to_string())
}

/// No ALPN: LDAP does not negotiate.
fn tls_config(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, String> {
    crate::tls::client_config(ca_pem, "auth.ldap.ca_file")
}
