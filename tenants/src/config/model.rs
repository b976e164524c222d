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
    /// Seconds between probes of every tenant's bot (`xgate_bot_up`); 0 turns them off.
    #[serde(default = "defaults::bot_probe_interval_seconds")]
    pub bot_probe_interval_seconds: u64,
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

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    #[serde(default)]
    pub mode: AuthMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Trusts the caller's `X-Xgate-User` / `Creator`: tests and demos only.
    #[default]
    None,
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
    pub fn bot_probe_interval_seconds() -> u64 {
        30
    }
    pub fn database_url() -> String {
        "sqlite://data".into()
    }
    pub fn max_connections() -> u32 {
        20
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
}
