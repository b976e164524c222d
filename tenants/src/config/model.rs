//! The config file's shape, as serde reads it. Unknown keys are errors everywhere
//! (`deny_unknown_fields`): a typo must never silently fall back to a default.
//! Defaults live here, next to the field they belong to, and nowhere else.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::language::Language;
use crate::policy::Policy;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Shared listeners: the tenant is found by the user's mail domain.
    #[serde(default = "defaults::listen")]
    pub listen: Vec<SocketAddr>,
    /// `/metrics`, `/healthz`, `/readyz`: never reachable through a tenant port.
    #[serde(default = "defaults::ops_listen")]
    pub ops_listen: SocketAddr,
    /// Globs, relative to the main file's directory, of files holding `[tenants.*]`.
    #[serde(default)]
    pub include: Vec<String>,
    /// The address the tenants' own ports (`ports = [7100]`) listen on; default: the IP
    /// of the first shared listener, so a loopback-only gateway stays loopback-only.
    #[serde(default)]
    pub tenant_bind: Option<std::net::IpAddr>,
    /// Request bodies above this are refused with 413 before any handler runs.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: usize,
    /// Worker threads of the serving runtime; default: the number of cores.
    #[serde(default)]
    pub threads: Option<usize>,
    /// Where template sets live (`<dir>/<set>/{ru,en}.html`), relative to the main file.
    #[serde(default = "defaults::templates_dir")]
    pub templates_dir: PathBuf,
    #[serde(default)]
    pub tls: Option<TlsSection>,
    /// Used by pingora's graceful upgrade: the new process takes the sockets over here.
    #[serde(default = "defaults::upgrade_sock")]
    pub upgrade_sock: PathBuf,
    #[serde(default = "defaults::pid_file")]
    pub pid_file: PathBuf,
    /// Seconds to keep serving after SIGTERM before closing listeners.
    #[serde(default = "defaults::grace_period_seconds")]
    pub grace_period_seconds: u64,
    /// Seconds in-flight requests get to finish after the grace period.
    #[serde(default = "defaults::graceful_shutdown_timeout_seconds")]
    pub graceful_shutdown_timeout_seconds: u64,
    #[serde(default)]
    pub log_format: LogFormat,
    /// A folder per tenant under this directory (relative to the main file), with that
    /// tenant's log lines as JSON, rotated daily: the old services had one log folder each.
    #[serde(default)]
    pub tenant_log_dir: Option<PathBuf>,
    /// Daily files kept per tenant.
    #[serde(default = "defaults::tenant_log_days")]
    pub tenant_log_days: usize,
    /// Seconds between probes of every tenant's bot (`xgate_bot_up`); 0 turns them off.
    #[serde(default = "defaults::bot_probe_interval_seconds")]
    pub bot_probe_interval_seconds: u64,
    /// The operator's login to the read-only overview `/ops/` on the ops listener;
    /// without it `/ops/` is off.
    #[serde(default)]
    pub ops_admin: Option<OpsAdminSection>,
}

/// `[server.ops_admin]`: HTTP Basic login to `/ops/`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsAdminSection {
    pub login: String,
    /// An argon2id hash (`$argon2id$...`), as printed by `xgate admin hash-password`.
    pub password_hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// Shared listeners served over TLS with this certificate.
    pub listen: Vec<SocketAddr>,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    /// `sqlite://DIR` (one file per tenant) or `postgres://...` (one schema per tenant).
    #[serde(default = "defaults::database_url")]
    pub url: String,
    /// Total connections, whatever the number of tenants.
    #[serde(default = "defaults::max_connections")]
    pub max_connections: u32,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        DatabaseSection {
            url: defaults::database_url(),
            max_connections: defaults::max_connections(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSection {
    pub name: String,
    #[serde(default)]
    pub mail_domains: Vec<String>,
    /// Legacy listeners of the old per-CTS services (7100, 7300, ...).
    #[serde(default)]
    pub ports: Vec<u16>,
    #[serde(default)]
    pub default_language: Language,
    #[serde(default = "defaults::template_set")]
    pub template_set: String,
    /// PostgreSQL schema; default derived from the tenant id.
    #[serde(default)]
    pub schema: Option<String>,
    pub bot: BotSection,
    #[serde(default)]
    pub auth: AuthSection,
    #[serde(default)]
    pub policy: Policy,
    /// The admin UI's tokens (`/front`, `/api/admin`); without this section the UI is off.
    #[serde(default)]
    pub jwt: Option<JwtSection>,
}

/// `[tenants.X.jwt]`, the old template service's `JWTOptions`. The audience is always the
/// tenant id, so a token of one tenant never opens another, even with the same key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSection {
    /// HS256 key: `env:NAME` or `file:PATH`, at least 32 bytes. Changing it logs out
    /// every admin of this tenant.
    pub key: String,
    #[serde(default = "defaults::jwt_issuer")]
    pub issuer: String,
    #[serde(default = "defaults::jwt_lifetime_minutes")]
    pub lifetime_minutes: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotSection {
    /// The Conference Bot base URI, used as given (the guide writes it several ways).
    pub url: String,
    #[serde(default)]
    pub auth: BotAuthKind,
    /// Bearer token: `env:NAME`, `file:PATH`, or the literal value.
    #[serde(default)]
    pub token: Option<String>,
    /// Basic auth (legacy installations behind a web server).
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub contact_type: ContactType,
    /// The whole call, connect included.
    #[serde(default = "defaults::bot_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "defaults::bot_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Extra CA (PEM) for bots behind an internal CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BotAuthKind {
    #[default]
    Bearer,
    Basic,
    None,
}

/// What the user identifiers sent to the bot are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ContactType {
    #[default]
    Email,
    AdLogin,
}

impl ContactType {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactType::Email => "email",
            ContactType::AdLogin => "ad_login",
        }
    }
}

/// `[tenants.X.auth]`: how the tenant's users prove who they are.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    #[serde(default)]
    pub mode: AuthMode,
    /// Origins of the Office web add-in allowed to call the API (CORS), as the browser
    /// sends them: `https://addin.acme.ru`.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// HTTP Basic sends the password in clear: without TLS it is accepted only from a
    /// loopback client (a local reverse proxy) unless this says otherwise.
    #[serde(default)]
    pub allow_basic_without_tls: bool,
    /// A directory (LDAP or KDC work) answer not in time is a 503, never a hang.
    #[serde(default = "defaults::auth_timeout_ms")]
    pub timeout_ms: u64,
    /// How long a directory answer (user found and password right) is reused.
    #[serde(default = "defaults::auth_cache_ttl_seconds")]
    pub cache_ttl_seconds: u64,
    /// How long "no such user" and "wrong password" are remembered.
    #[serde(default = "defaults::auth_negative_cache_ttl_seconds")]
    pub negative_cache_ttl_seconds: u64,
    /// Entries per tenant cache; the oldest go first when it is full.
    #[serde(default = "defaults::auth_cache_entries")]
    pub cache_entries: usize,
    /// Failed logins of one user within `failure_window_seconds` before that user's
    /// uncached logins wait for the window to end (never longer: no lock-out).
    #[serde(default = "defaults::auth_max_failures_per_user")]
    pub max_failures_per_user: u32,
    /// Failed logins from one client address within the window before it waits.
    #[serde(default = "defaults::auth_max_failures_per_client")]
    pub max_failures_per_client: u32,
    #[serde(default = "defaults::auth_failure_window_seconds")]
    pub failure_window_seconds: u64,
    #[serde(default)]
    pub ldap: Option<LdapSection>,
    #[serde(default)]
    pub kerberos: Option<KerberosSection>,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            mode: AuthMode::default(),
            cors_origins: Vec::new(),
            allow_basic_without_tls: false,
            timeout_ms: defaults::auth_timeout_ms(),
            cache_ttl_seconds: defaults::auth_cache_ttl_seconds(),
            negative_cache_ttl_seconds: defaults::auth_negative_cache_ttl_seconds(),
            cache_entries: defaults::auth_cache_entries(),
            max_failures_per_user: defaults::auth_max_failures_per_user(),
            max_failures_per_client: defaults::auth_max_failures_per_client(),
            failure_window_seconds: defaults::auth_failure_window_seconds(),
            ldap: None,
            kerberos: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Trusts the caller's `X-Xgate-User` / `Creator`: tests and demos only.
    #[default]
    None,
    /// HTTP Basic, checked by an LDAP bind as the user.
    Ldap,
    /// `Negotiate` (SPNEGO/Kerberos) with the tenant's keytab.
    Kerberos,
    /// `Negotiate` first, Basic offered as a fallback.
    #[serde(rename = "kerberos+ldap")]
    KerberosLdap,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::None => "none",
            AuthMode::Ldap => "ldap",
            AuthMode::Kerberos => "kerberos",
            AuthMode::KerberosLdap => "kerberos+ldap",
        }
    }
}

/// `[tenants.X.auth.ldap]`: the tenant's directory (Active Directory or any LDAP).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapSection {
    /// `ldap://host[:port]` (StartTLS) or `ldaps://host[:port]`.
    pub url: String,
    /// StartTLS on an `ldap://` URL. Turning it off sends passwords in clear: only with
    /// `allow_plaintext = true` as well.
    #[serde(default = "defaults::yes")]
    pub starttls: bool,
    #[serde(default)]
    pub allow_plaintext: bool,
    /// Extra CA (PEM) that signed the directory's certificate.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The service account that searches users (and never authenticates anyone).
    pub bind_dn: String,
    /// `env:NAME`, `file:PATH`, or the literal value.
    pub bind_password: String,
    pub base_dn: String,
    /// `{login}` is replaced by the escaped login.
    #[serde(default = "defaults::ldap_user_filter")]
    pub user_filter: String,
    #[serde(default = "defaults::ldap_login_attribute")]
    pub login_attribute: String,
    #[serde(default = "defaults::ldap_mail_attribute")]
    pub mail_attribute: String,
    #[serde(default = "defaults::ldap_name_attribute")]
    pub name_attribute: String,
    /// E.g. `msRTCSIP-PrimaryUserAddress`.
    #[serde(default = "defaults::ldap_sip_attribute")]
    pub sip_attribute: String,
    /// Other addresses of the mailbox; `smtp:` entries count.
    #[serde(default = "defaults::ldap_proxy_addresses_attribute")]
    pub proxy_addresses_attribute: String,
    /// DN of a group the user must be a member of (`memberOf`).
    #[serde(default)]
    pub required_group: Option<String>,
    /// Nested groups through AD's LDAP_MATCHING_RULE_IN_CHAIN (AD only).
    #[serde(default)]
    pub nested_groups: bool,
}

/// `[tenants.X.auth.kerberos]`: the tenant's service principal and its keytab.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KerberosSection {
    pub keytab: PathBuf,
    /// `HTTP/xgate.acme.local@ACME.LOCAL`; its realm is the only one accepted.
    pub service_principal: String,
}

mod defaults {
    use std::net::SocketAddr;
    use std::path::PathBuf;

    pub fn listen() -> Vec<SocketAddr> {
        vec![SocketAddr::from(([127, 0, 0, 1], 8080))]
    }
    pub fn ops_listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 9100))
    }
    pub fn max_body_bytes() -> usize {
        256 * 1024
    }
    pub fn templates_dir() -> PathBuf {
        PathBuf::from("templates")
    }
    pub fn upgrade_sock() -> PathBuf {
        PathBuf::from("/tmp/xgate_upgrade.sock")
    }
    pub fn pid_file() -> PathBuf {
        PathBuf::from("/tmp/xgate.pid")
    }
    pub fn grace_period_seconds() -> u64 {
        0
    }
    pub fn graceful_shutdown_timeout_seconds() -> u64 {
        10
    }
    pub fn tenant_log_days() -> usize {
        14
    }
    pub fn bot_probe_interval_seconds() -> u64 {
        30
    }
    pub fn database_url() -> String {
        "sqlite://data".into()
    }
    pub fn max_connections() -> u32 {
        20
    }
    pub fn jwt_issuer() -> String {
        "xgate".into()
    }
    pub fn jwt_lifetime_minutes() -> u64 {
        480
    }
    pub fn template_set() -> String {
        "default".into()
    }
    pub fn bot_timeout_ms() -> u64 {
        5000
    }
    pub fn bot_connect_timeout_ms() -> u64 {
        2000
    }
    pub fn auth_timeout_ms() -> u64 {
        3000
    }
    pub fn auth_cache_ttl_seconds() -> u64 {
        300
    }
    pub fn auth_negative_cache_ttl_seconds() -> u64 {
        30
    }
    pub fn auth_cache_entries() -> usize {
        10_000
    }
    pub fn auth_max_failures_per_user() -> u32 {
        5
    }
    pub fn auth_max_failures_per_client() -> u32 {
        20
    }
    pub fn auth_failure_window_seconds() -> u64 {
        60
    }
    pub fn yes() -> bool {
        true
    }
    pub fn ldap_user_filter() -> String {
        "(|(sAMAccountName={login})(userPrincipalName={login})(mail={login}))".into()
    }
    pub fn ldap_login_attribute() -> String {
        "sAMAccountName".into()
    }
    pub fn ldap_mail_attribute() -> String {
        "mail".into()
    }
    pub fn ldap_name_attribute() -> String {
        "displayName".into()
    }
    pub fn ldap_sip_attribute() -> String {
        "ipPhone".into()
    }
    pub fn ldap_proxy_addresses_attribute() -> String {
        "proxyAddresses".into()
    }
}
