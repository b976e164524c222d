//! `[tenants.X.auth]` checked and resolved: the bind password read, the CA read, the
//! keytab found. What the gateway's directory layer is built from.
//!
//! Owns only validation. It must never connect to a directory or a KDC: a config check
//! runs where neither may be reachable.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::model::{AuthMode, AuthSection, KerberosSection, LdapSection};
use crate::secret::{Secret, SecretRef};

/// A tenant's authentication, every value resolved. Equal settings keep a tenant's
/// directory (and its cache) across a reload; any change builds a new one.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthSettings {
    pub mode: AuthMode,
    pub cors_origins: Vec<String>,
    pub allow_basic_without_tls: bool,
    pub timeout: Duration,
    pub cache_ttl: Duration,
    pub negative_cache_ttl: Duration,
    pub cache_entries: usize,
    pub max_failures_per_user: u32,
    pub max_failures_per_client: u32,
    pub failure_window: Duration,
    pub ldap: Option<LdapSettings>,
    pub kerberos: Option<KerberosSettings>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        build(&AuthSection::default(), Path::new(".")).expect("the default auth section is valid")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LdapSettings {
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS (never set for `ldaps://`).
    pub starttls: bool,
    pub ca_pem: Option<Vec<u8>>,
    pub bind_dn: String,
    pub bind_password: Secret,
    pub base_dn: String,
    pub user_filter: String,
    pub login_attribute: String,
    pub mail_attribute: String,
    pub name_attribute: String,
    pub sip_attribute: String,
    pub proxy_addresses_attribute: String,
    pub required_group: Option<String>,
    pub nested_groups: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KerberosSettings {
    pub keytab: PathBuf,
    pub service_principal: String,
    /// The realm of `service_principal`: the only realm whose users are accepted.
    pub realm: String,
}

type Invalid = (String, String);

/// Checks `[auth]`; errors are `(key, message)`, the key relative to the tenant.
/// (`config::auth_settings` outside this crate.)
pub fn build(s: &AuthSection, dir: &Path) -> Result<AuthSettings, Invalid> {
    let bad = |key: &str, msg: &str| Err((format!("auth.{key}"), msg.to_string()));
    let needs_ldap = s.mode != AuthMode::None;
    let needs_kerberos = matches!(s.mode, AuthMode::Kerberos | AuthMode::KerberosLdap);
    match (&s.ldap, needs_ldap) {
        (None, true) => {
            return bad(
                "ldap",
                &format!(
                    "required with auth.mode = \"{}\": every user is looked up in the directory",
                    s.mode.as_str()
                ),
            );
        }
        (Some(_), false) => return bad("ldap", "only used with an auth.mode other than \"none\""),
        _ => {}
    }
    match (&s.kerberos, needs_kerberos) {
        (None, true) => {
            return bad(
                "kerberos",
                "required with auth.mode = \"kerberos\" or \"kerberos+ldap\"",
            );
        }
        (Some(_), false) => {
            return bad(
                "kerberos",
                "only used with auth.mode = \"kerberos\" or \"kerberos+ldap\"",
            );
        }
        _ => {}
    }
    if s.timeout_ms == 0 || s.timeout_ms > 60_000 {
        return bad("timeout_ms", "must be between 1 and 60000");
    }
    if s.cache_entries == 0 {
        return bad("cache_entries", "must be at least 1");
    }
    if s.max_failures_per_user == 0 {
        return bad("max_failures_per_user", "must be at least 1");
    }
    if s.max_failures_per_client == 0 {
        return bad("max_failures_per_client", "must be at least 1");
    }
    if s.failure_window_seconds == 0 || s.failure_window_seconds > 3600 {
        // The window is also the longest a user can be made to wait: no lock-out.
        return bad("failure_window_seconds", "must be between 1 and 3600");
    }
    let mut cors_origins = Vec::new();
    for o in &s.cors_origins {
        cors_origins.push(origin(o).map_err(|m| ("auth.cors_origins".to_string(), m))?);
    }
    let ldap = s.ldap.as_ref().map(|l| ldap(l, dir)).transpose()?;
    let kerberos = s.kerberos.as_ref().map(|k| kerberos(k, dir)).transpose()?;
    Ok(AuthSettings {
        mode: s.mode,
        cors_origins,
        allow_basic_without_tls: s.allow_basic_without_tls,
        timeout: Duration::from_millis(s.timeout_ms),
        cache_ttl: Duration::from_secs(s.cache_ttl_seconds),
        negative_cache_ttl: Duration::from_secs(s.negative_cache_ttl_seconds),
        cache_entries: s.cache_entries,
        max_failures_per_user: s.max_failures_per_user,
        max_failures_per_client: s.max_failures_per_client,
        failure_window: Duration::from_secs(s.failure_window_seconds),
        ldap,
        kerberos,
    })
}

/// An origin as a browser sends it: scheme, host, optional port; no path, no `*`
/// (the add-in sends credentials, which a wildcard origin may never receive).
fn origin(raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw.trim())
        .map_err(|e| format!("`{raw}` is not an origin like https://addin.example.com: {e}"))?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || !bare {
        return Err(format!(
            "`{raw}` is not an origin: scheme://host[:port], without a path"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

fn ldap(l: &LdapSection, dir: &Path) -> Result<LdapSettings, Invalid> {
    let bad = |key: &str, msg: String| (format!("auth.ldap.{key}"), msg);
    let url = url::Url::parse(l.url.trim()).map_err(|e| bad("url", format!("not a URL: {e}")))?;
    let starttls = match url.scheme() {
        "ldaps" => false,
        "ldap" if l.starttls => true,
        "ldap" if l.allow_plaintext => false,
        "ldap" => {
            return Err(bad(
                "starttls",
                "is off: passwords would cross the network in clear; use ldaps:// or set \
                 allow_plaintext = true"
                    .into(),
            ));
        }
        _ => {
            return Err(bad(
                "url",
                "must be ldap://host[:port] (StartTLS) or ldaps://host[:port]".into(),
            ));
        }
    };
    if url.host().is_none() {
        return Err(bad("url", "has no host".into()));
    }
    let ca_pem = match &l.ca_file {
        None => None,
        Some(p) => {
            let path = dir.join(p);
            Some(std::fs::read(&path).map_err(|e| {
                bad(
                    "ca_file",
                    format!("cannot read `{}`: {}", path.display(), e.kind()),
                )
            })?)
        }
    };
    if l.bind_dn.trim().is_empty() {
        return Err(bad("bind_dn", "must not be empty".into()));
    }
    let bind_password = SecretRef::parse(&l.bind_password, dir)
        .resolve()
        .map_err(|m| bad("bind_password", m))?;
    if l.base_dn.trim().is_empty() {
        return Err(bad("base_dn", "must not be empty".into()));
    }
    let f = l.user_filter.trim();
    if !f.contains("{login}") || !f.starts_with('(') || !f.ends_with(')') {
        return Err(bad(
            "user_filter",
            "must be a parenthesized LDAP filter containing {login}".into(),
        ));
    }
    for (key, v) in [
        ("login_attribute", &l.login_attribute),
        ("mail_attribute", &l.mail_attribute),
        ("name_attribute", &l.name_attribute),
        ("sip_attribute", &l.sip_attribute),
        ("proxy_addresses_attribute", &l.proxy_addresses_attribute),
    ] {
        let ok = !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(bad(key, format!("`{v}` is not an attribute name")));
        }
    }
    let required_group = match &l.required_group {
        Some(g) if g.trim().is_empty() => {
            return Err(bad("required_group", "must be a group's DN".into()));
        }
        g => g.as_ref().map(|g| g.trim().to_string()),
    };
    Ok(LdapSettings {
        url: url.to_string(),
        starttls,
        ca_pem,
        bind_dn: l.bind_dn.trim().to_string(),
        bind_password,
        base_dn: l.base_dn.trim().to_string(),
        user_filter: f.to_string(),
        login_attribute: l.login_attribute.clone(),
        mail_attribute: l.mail_attribute.clone(),
        name_attribute: l.name_attribute.clone(),
        sip_attribute: l.sip_attribute.clone(),
        proxy_addresses_attribute: l.proxy_addresses_attribute.clone(),
        required_group,
        nested_groups: l.nested_groups,
    })
}

fn kerberos(k: &KerberosSection, dir: &Path) -> Result<KerberosSettings, Invalid> {
    let bad = |key: &str, msg: String| (format!("auth.kerberos.{key}"), msg);
    let keytab = dir.join(&k.keytab);
    if let Err(e) = std::fs::metadata(&keytab) {
        return Err(bad(
            "keytab",
            format!("cannot read `{}`: {}", keytab.display(), e.kind()),
        ));
    }
    let sp = k.service_principal.trim();
    let realm = match sp.rsplit_once('@') {
        Some((service, realm)) if service.contains('/') && !realm.is_empty() => realm,
        _ => {
            return Err(bad(
                "service_principal",
                format!("`{sp}` is not like HTTP/host.example.com@EXAMPLE.COM"),
            ));
        }
    };
    Ok(KerberosSettings {
        keytab,
        service_principal: sp.to_string(),
        realm: realm.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(toml_text: &str) -> AuthSection {
        toml::from_str(toml_text).expect("an [auth] section")
    }

    fn key_of(toml_text: &str) -> String {
        build(&section(toml_text), Path::new("/nonexistent"))
            .expect_err("invalid")
            .0
    }

    const LDAP: &str = r#"
        [ldap]
        url = "ldaps://dc1.acme.local"
        bind_dn = "cn=svc,dc=acme,dc=local"
        bind_password = "svc-pw"
        base_dn = "dc=acme,dc=local"
    "#;

    #[test]
    fn mode_none_needs_nothing_and_ldap_gets_its_defaults() {
        let none = build(&section(""), Path::new(".")).expect("valid");
        assert_eq!(none.mode, AuthMode::None);
        let ldap = build(
            &section(&format!("mode = \"ldap\"\n{LDAP}")),
            Path::new("."),
        )
        .expect("valid");
        let l = ldap.ldap.expect("ldap settings");
        assert!(!l.starttls, "ldaps:// is TLS from the first byte");
        assert_eq!(l.sip_attribute, "ipPhone");
        assert!(l.user_filter.contains("sAMAccountName={login}"));
        assert_eq!(format!("{:?}", l.bind_password), "Secret(***)");
    }

    #[test]
    fn a_directory_mode_needs_its_sections() {
        assert_eq!(key_of("mode = \"ldap\""), "auth.ldap");
        assert_eq!(
            key_of(&format!("mode = \"kerberos+ldap\"\n{LDAP}")),
            "auth.kerberos"
        );
        assert_eq!(key_of(LDAP), "auth.ldap");
    }

    #[test]
    fn plaintext_ldap_is_refused_unless_asked_for() {
        let plain = LDAP
            .replace("ldaps://", "ldap://")
            .replace("[ldap]", "[ldap]\nstarttls = false");
        assert_eq!(
            key_of(&format!("mode = \"ldap\"\n{plain}")),
            "auth.ldap.starttls"
        );
        let allowed = plain.replace("[ldap]", "[ldap]\nallow_plaintext = true");
        build(
            &section(&format!("mode = \"ldap\"\n{allowed}")),
            Path::new("."),
        )
        .expect("plaintext when explicitly allowed");
    }

    #[test]
    fn bad_values_name_their_key() {
        let with = |extra: &str, ldap: &str| format!("mode = \"ldap\"\n{extra}\n{ldap}");
        assert_eq!(
            key_of(&with("cors_origins = [\"*\"]", LDAP)),
            "auth.cors_origins"
        );
        assert_eq!(
            key_of(&with("cors_origins = [\"https://a.test/addin\"]", LDAP)),
            "auth.cors_origins"
        );
        assert_eq!(key_of(&with("timeout_ms = 0", LDAP)), "auth.timeout_ms");
        assert_eq!(
            key_of(&with(
                "",
                &LDAP.replace("[ldap]", "[ldap]\nuser_filter = \"(uid=x)\"")
            )),
            "auth.ldap.user_filter"
        );
        assert_eq!(
            key_of(&with(
                "",
                &LDAP.replace("ldaps://dc1.acme.local", "http://dc1")
            )),
            "auth.ldap.url"
        );
        let krb = format!(
            "mode = \"kerberos\"\n{LDAP}\n[kerberos]\nkeytab = \"missing.keytab\"\n\
             service_principal = \"HTTP/x@ACME.LOCAL\""
        );
        assert_eq!(key_of(&krb), "auth.kerberos.keytab");
    }

    #[test]
    fn cors_origins_are_normalised() {
        let s = build(
            &section("cors_origins = [\"https://Addin.Acme.test:443\"]"),
            Path::new("."),
        )
        .expect("valid");
        assert_eq!(s.cors_origins, vec!["https://addin.acme.test".to_string()]);
    }
}
