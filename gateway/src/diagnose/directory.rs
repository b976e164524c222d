//! The directory steps, one per thing that can break, in the order they can break:
//! TCP to the directory, TLS (LDAPS or StartTLS), the service account's bind, then
//! `--user` found with a mail, exactly as a request would find them (`directory::ldap`).
//! For Kerberos also the keytab. Every call is bounded by the tenant's `auth.timeout_ms`.

use std::io::Write;
use std::time::Duration;

use xgate_tenants::config::{AuthMode, KerberosSettings, LdapSettings, TenantConfig};

use super::report::{Outcome, Report};
use crate::directory::DirectoryError;
use crate::directory::kerberos::Kerberos;
use crate::directory::ldap::Ldap;

/// LDAP result code invalidCredentials (RFC 4511).
const INVALID_CREDENTIALS: u32 = 49;

pub(super) async fn check<W: Write>(
    report: &mut Report<W>,
    tenant: &TenantConfig,
    user: Option<&str>,
) {
    let auth = &tenant.auth;
    if auth.mode == AuthMode::None {
        report.step(
            "directory",
            Outcome::skip(
                "auth.mode = \"none\": no directory; the caller names the user (tests and \
                 demos only)",
            ),
        );
        return;
    }
    if let Some(k) = &auth.kerberos {
        report.step("kerberos keytab", keytab(k));
    }
    if let Some(ldap) = &auth.ldap {
        ldap_steps(report, tenant, ldap, auth.timeout, user).await;
    }
}

fn keytab(k: &KerberosSettings) -> Outcome {
    let path = k.keytab.display();
    if let Err(e) = std::fs::File::open(&k.keytab) {
        return Outcome::fail(
            format!("cannot read the keytab {path}: {}", e.kind()),
            format!(
                "xgate's user must be able to read it; export it for `{}` (ktpass on AD, \
                 kadmin ktadd on MIT)",
                k.service_principal
            ),
        );
    }
    // Blocking, but local and short: the keytab is read, no KDC is asked.
    let checked = Kerberos::new(k).and_then(|krb| krb.check_keytab());
    match checked {
        Ok(()) => Outcome::ok(format!(
            "{path} gives acceptor credentials; tokens for `{}` of realm {} are accepted",
            k.service_principal, k.realm
        )),
        Err(e) => Outcome::fail(
            format!("the keytab {path} is unusable: {e}"),
            format!(
                "export it again for `{}` (ktpass on AD, kadmin ktadd on MIT)",
                k.service_principal
            ),
        ),
    }
}

async fn ldap_steps<W: Write>(
    report: &mut Report<W>,
    tenant: &TenantConfig,
    settings: &LdapSettings,
    timeout: Duration,
    user: Option<&str>,
) {
    let url = &settings.url;
    let ldaps = url.starts_with("ldaps://");
    let tls_step = if ldaps || settings.starttls {
        "directory tls"
    } else {
        "directory ldap"
    };
    // 1. TCP: a refused or filtered port says "network", whatever LDAP would add.
    let Some((host, port)) = host_port(url) else {
        report.step(
            "directory connect",
            Outcome::fail(format!("no host in {url}"), "fix `auth.ldap.url`"),
        );
        return;
    };
    let connected = tokio::time::timeout(timeout, tokio::net::TcpStream::connect((&*host, port)))
        .await
        .map_err(|_| format!("no connection within {} ms", timeout.as_millis()))
        .and_then(|r| r.map_err(|e| e.to_string()));
    if let Err(e) = connected {
        report.step(
            "directory connect",
            Outcome::fail(
                format!("cannot connect to {host}:{port}: {e}"),
                "check `auth.ldap.url` (389 for ldap:// with StartTLS, 636 for ldaps://), that \
                 the directory (domain controller) runs and that this host reaches it \
                 (firewall)",
            ),
        );
        return;
    }
    report.step(
        "directory connect",
        Outcome::ok(format!("{host}:{port} accepts connections")),
    );

    // 2. TLS: the handshake, or StartTLS and then the handshake.
    let ldap = match Ldap::new(settings.clone(), timeout) {
        Ok(l) => l,
        Err(e) => {
            report.step(
                tls_step,
                Outcome::fail(e, "check `auth.ldap.ca_file` (PEM)"),
            );
            return;
        }
    };
    let how = if ldaps {
        "LDAPS"
    } else if settings.starttls {
        "StartTLS"
    } else {
        "plain LDAP"
    };
    let mut conn = match in_time(timeout, ldap.open()).await {
        Ok(c) => c,
        Err(e) => {
            report.step(
                tls_step,
                Outcome::fail(
                    format!("{how} with {url} failed: {e}"),
                    "the directory's certificate must be trusted and name the host in the \
                     URL: put the CA that signed it (PEM) in `auth.ldap.ca_file`; for ldap:// \
                     the directory must offer StartTLS (AD: a domain controller certificate), \
                     else use ldaps://",
                ),
            );
            return;
        }
    };
    report.step(
        tls_step,
        Outcome::ok(if ldaps || settings.starttls {
            format!("{how} with {url}: certificate verified")
        } else {
            format!(
                "plain LDAP with {url} (allow_plaintext = true): passwords cross the network \
                 in clear"
            )
        }),
    );

    // 3. The service account.
    let bind_dn = &settings.bind_dn;
    let bound = match in_time(timeout, ldap.bind_service(&mut conn)).await {
        Ok(r) if r.rc == 0 => Outcome::ok(format!("service account `{bind_dn}` bound")),
        Ok(r) if r.rc == INVALID_CREDENTIALS => Outcome::fail(
            format!(
                "the directory refused the service account `{bind_dn}`: invalid credentials \
                 (49{})",
                detail(&r.text)
            ),
            "check `auth.ldap.bind_dn` (the account's full DN) and `auth.ldap.bind_password` \
             (`env:NAME` or `file:PATH`); in AD also whether the account is locked, disabled \
             or its password expired",
        ),
        Ok(r) => Outcome::fail(
            format!(
                "the service account's bind answered {}{}",
                r.rc,
                detail(&r.text)
            ),
            "check `auth.ldap.bind_dn` and the account in the directory",
        ),
        Err(e) => Outcome::fail(
            format!("the service account's bind failed: {e}"),
            "the directory closed the connection: see its log",
        ),
    };
    if !report.step("directory bind", bound) {
        report.step(
            "directory user",
            Outcome::skip("needs the service account (above)"),
        );
        return;
    }

    // 4. The user, as a request would see them.
    let Some(user) = user.map(str::trim).filter(|u| !u.is_empty()) else {
        report.step(
            "directory user",
            Outcome::skip("give --user LOGIN to check that a user is found and has a mail"),
        );
        let _ = conn.unbind().await;
        return;
    };
    let found = tokio::time::timeout(timeout, ldap.lookup_on(&mut conn, user))
        .await
        .unwrap_or_else(|_| Err(DirectoryError::Unavailable("no answer in time".into())));
    let _ = conn.unbind().await;
    report.step(
        "directory user",
        user_outcome(tenant, settings, user, found),
    );
}

fn user_outcome(
    tenant: &TenantConfig,
    s: &LdapSettings,
    user: &str,
    found: Result<crate::principal::Principal, DirectoryError>,
) -> Outcome {
    match found {
        Ok(p) => {
            let domain = p.mail.rsplit('@').next().unwrap_or_default();
            if !tenant.mail_domains.is_empty() && !tenant.mail_domains.iter().any(|d| d == domain) {
                return Outcome::fail(
                    format!(
                        "`{user}` is {}, whose domain is not among the tenant's mail_domains \
                         ({}): requests would be refused (domain_not_served)",
                        p.mail,
                        tenant.mail_domains.join(", ")
                    ),
                    "add the domain to `mail_domains`, or the user belongs to another tenant",
                );
            }
            let mut text = format!("`{user}` is {} (login {}", p.mail, p.login);
            if let Some(name) = &p.display_name {
                text.push_str(&format!(", name {name}"));
            }
            match &p.sip {
                Some(sip) => text.push_str(&format!(", SIP {sip}")),
                None => text.push_str(&format!(", no SIP number in `{}`", s.sip_attribute)),
            }
            if !p.aliases.is_empty() {
                text.push_str(&format!(", aliases {}", p.aliases.join(", ")));
            }
            text.push(')');
            Outcome::ok(text)
        }
        Err(DirectoryError::UnknownUser) => Outcome::fail(
            format!(
                "no entry, or more than one, matches {} under {}",
                s.user_filter.replace("{login}", user),
                s.base_dn
            ),
            "check `auth.ldap.base_dn` and `auth.ldap.user_filter` (AD: sAMAccountName, \
             userPrincipalName or mail), or the spelling of --user",
        ),
        Err(DirectoryError::NoMailbox(_)) => Outcome::fail(
            format!("`{user}` has no mail in `{}`", s.mail_attribute),
            "give the user a mailbox, or set `auth.ldap.mail_attribute` to the attribute \
             that holds it",
        ),
        Err(DirectoryError::NotInGroup) => Outcome::fail(
            format!(
                "`{user}` is not a member of {}",
                s.required_group.as_deref().unwrap_or("the required group")
            ),
            "add the user to the group, or change `auth.ldap.required_group` (nested groups \
             need `nested_groups = true`, AD only)",
        ),
        Err(e) => Outcome::fail(
            format!("looking up `{user}` failed: {e}"),
            "the service account must be allowed to read users under `auth.ldap.base_dn`",
        ),
    }
}

async fn in_time<T>(
    timeout: Duration,
    work: impl Future<Output = Result<T, ldap3::LdapError>>,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

fn detail(text: &str) -> String {
    let t = text.trim();
    if t.is_empty() {
        String::new()
    } else {
        format!(": {t}")
    }
}

/// Host and port of `ldap[s]://host[:port]`, the scheme's port when none is written.
fn host_port(url: &str) -> Option<(String, u16)> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = parsed.host_str()?.trim_matches(['[', ']']).to_string();
    let default = if parsed.scheme() == "ldaps" { 636 } else { 389 };
    Some((host, parsed.port().unwrap_or(default)))
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn ports_default_by_scheme() {
        assert_eq!(
            host_port("ldap://dc1.acme.local"),
            Some(("dc1.acme.local".into(), 389))
        );
        assert_eq!(
            host_port("ldaps://dc1.acme.local/"),
            Some(("dc1.acme.local".into(), 636))
        );
        assert_eq!(
            host_port("ldap://127.0.0.1:10389"),
            Some(("127.0.0.1".into(), 10389))
        );
        assert_eq!(host_port("ldap://[::1]:10389"), Some(("::1".into(), 10389)));
    }
}
