//! One tenant's section turned into a `TenantConfig`: every semantic check, secrets
//! read, templates loaded. And the checks that span tenants (ports, domains, schemas).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::model::{BotAuthKind, ContactType, ServerSection, TenantSection};
use super::{ConfigError, TenantEntry};
use crate::language::Language;
use crate::policy::Policy;
use crate::secret::{Secret, SecretRef};
use crate::templates::TemplateSet;

/// A valid tenant, everything resolved: ready to build a table from.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantConfig {
    pub id: String,
    /// The file it was defined in, for messages.
    pub file: PathBuf,
    pub name: String,
    /// Lowercased, as matched.
    pub mail_domains: Vec<String>,
    pub ports: Vec<u16>,
    pub default_language: Language,
    pub schema: String,
    pub bot: BotSettings,
    pub auth: super::auth::AuthSettings,
    pub policy: Policy,
    /// Shared by every tenant of the same set: thousands of tenants, one copy.
    pub templates: Arc<TemplateSet>,
    /// The admin UI's token settings; `None`: the tenant has no admin UI.
    pub jwt: Option<JwtSettings>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JwtSettings {
    pub key: Secret,
    pub issuer: String,
    pub lifetime: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BotSettings {
    pub url: url::Url,
    pub credentials: BotCredentials,
    pub contact_type: ContactType,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// PEM bytes of an extra CA to trust for this bot.
    pub ca_pem: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BotCredentials {
    Bearer(Secret),
    Basic { username: String, password: Secret },
    None,
}

pub(crate) struct Context<'a> {
    dir: &'a Path,
    server: &'a ServerSection,
    /// Several tenants usually share one template set: read it once per load.
    template_cache: Mutex<HashMap<String, Result<Arc<TemplateSet>, String>>>,
}

/// Tenants built from their entries; the refused ones' errors and claims.
#[derive(Default)]
pub struct Built {
    pub tenants: BTreeMap<String, TenantConfig>,
    pub errors: BTreeMap<String, Vec<ConfigError>>,
    pub refused_claims: Vec<Claims>,
}

impl<'a> Context<'a> {
    pub fn new(dir: &'a Path, server: &'a ServerSection) -> Self {
        Context {
            dir,
            server,
            template_cache: Mutex::new(HashMap::new()),
        }
    }

    /// The tenant, or every error found in it along with what it claims (ports, domains,
    /// schema) when that much could be read, so that its conflicts are reported too.
    /// Builds `entry` into `built`: the tenant, or its errors and what it claimed (so a
    /// refused tenant's ports and domains still count in conflicts).
    pub fn build_into(&self, entry: &TenantEntry, built: &mut Built) {
        match self.build(entry) {
            Ok(t) => {
                built.tenants.insert(entry.id.clone(), t);
            }
            Err((errs, claims)) => {
                built
                    .errors
                    .entry(entry.id.clone())
                    .or_default()
                    .extend(errs);
                built.refused_claims.extend(claims.map(|c| *c));
            }
        }
    }

    pub fn build(
        &self,
        entry: &TenantEntry,
    ) -> Result<TenantConfig, (Vec<ConfigError>, Option<Box<Claims>>)> {
        self.build_inner(entry)
    }

    fn build_inner(
        &self,
        entry: &TenantEntry,
    ) -> Result<TenantConfig, (Vec<ConfigError>, Option<Box<Claims>>)> {
        let id = entry.id.as_str();
        let err = |key: &str, msg: String| {
            ConfigError::file(&entry.file, msg)
                .with_tenant(id)
                .with_key(key)
                .with_line(Some(entry.line))
        };
        if let Err(msg) = validate_tenant_id(id) {
            return Err((
                vec![
                    ConfigError::file(&entry.file, msg)
                        .with_tenant(id)
                        .with_line(Some(entry.line)),
                ],
                None,
            ));
        }
        let section: TenantSection = entry
            .section
            .clone()
            .map_err(|e| (vec![e.with_tenant(id)], None))?;

        let mut errors = Vec::new();
        if section.name.trim().is_empty() {
            errors.push(err("name", "must not be empty".into()));
        }
        let mut mail_domains = Vec::new();
        for d in &section.mail_domains {
            match mail_domain(d) {
                Ok(lower) if mail_domains.contains(&lower) => {
                    errors.push(err("mail_domains", format!("`{lower}` is listed twice")))
                }
                Ok(lower) => mail_domains.push(lower),
                Err(m) => errors.push(err("mail_domains", m)),
            }
        }
        let mut ports = Vec::new();
        for &p in &section.ports {
            if p == 0 {
                errors.push(err("ports", "port 0 is not a port".into()));
            } else if ports.contains(&p) {
                errors.push(err("ports", format!("port {p} is listed twice")));
            } else {
                ports.push(p);
            }
        }
        if mail_domains.is_empty() && ports.is_empty() {
            errors.push(err(
                "mail_domains",
                "a tenant needs at least one mail domain or one port, or no request can reach it"
                    .into(),
            ));
        }
        let schema = section
            .schema
            .clone()
            .unwrap_or_else(|| id.replace('-', "_"));
        if let Err(m) = crate::store::validate_schema_name(&schema) {
            let key = if section.schema.is_some() {
                "schema"
            } else {
                "schema (derived from the tenant id)"
            };
            errors.push(err(key, m));
        }
        let bot = match self.bot(&section) {
            Ok(b) => Some(b),
            Err((key, m)) => {
                errors.push(err(&key, m));
                None
            }
        };
        if section.policy.link_types.is_empty() {
            errors.push(err(
                "policy.link_types",
                "must allow at least one link type".into(),
            ));
        }
        let auth = match super::auth::build(&section.auth, self.dir) {
            Ok(a) => Some(a),
            Err((key, m)) => {
                errors.push(err(&key, m));
                None
            }
        };
        let jwt = match section.jwt.as_ref().map(|j| self.jwt(j)).transpose() {
            Ok(j) => j,
            Err((key, m)) => {
                errors.push(err(&key, m));
                None
            }
        };
        let templates = match self.templates(&section.template_set) {
            Ok(t) => Some(t),
            Err(m) => {
                errors.push(err("template_set", m));
                None
            }
        };
        match (bot, templates, auth) {
            (Some(bot), Some(templates), Some(auth)) if errors.is_empty() => Ok(TenantConfig {
                id: id.to_string(),
                file: entry.file.clone(),
                name: section.name.trim().to_string(),
                mail_domains,
                ports,
                default_language: section.default_language,
                schema,
                bot,
                auth,
                policy: section.policy,
                templates,
                jwt,
            }),
            _ => Err((
                errors,
                Some(Box::new(Claims {
                    id: id.to_string(),
                    file: entry.file.clone(),
                    ports,
                    mail_domains,
                    schema,
                })),
            )),
        }
    }

    fn bot(&self, s: &TenantSection) -> Result<BotSettings, (String, String)> {
        let b = &s.bot;
        let url = url::Url::parse(b.url.trim())
            .map_err(|e| ("bot.url".to_string(), format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err((
                "bot.url".into(),
                "must be an http:// or https:// URL with a host".into(),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            // Credentials in a URL end up in logs and error messages; they belong in
            // bot.username / bot.password, which never print.
            return Err((
                "bot.url".into(),
                "must not contain credentials; use bot.auth = \"basic\"".into(),
            ));
        }
        let secret = |key: &str, raw: &Option<String>| -> Result<Secret, (String, String)> {
            let raw = raw.as_deref().ok_or_else(|| {
                (
                    format!("bot.{key}"),
                    format!("required with bot.auth = \"{}\"", auth_name(b.auth)),
                )
            })?;
            SecretRef::parse(raw, self.dir)
                .resolve()
                .map_err(|m| (format!("bot.{key}"), m))
        };
        let credentials = match b.auth {
            BotAuthKind::Bearer => {
                if b.username.is_some() || b.password.is_some() {
                    return Err((
                        "bot.username".into(),
                        "only used with bot.auth = \"basic\"".into(),
                    ));
                }
                BotCredentials::Bearer(secret("token", &b.token)?)
            }
            BotAuthKind::Basic => {
                if b.token.is_some() {
                    return Err((
                        "bot.token".into(),
                        "only used with bot.auth = \"bearer\"".into(),
                    ));
                }
                let username = b
                    .username
                    .clone()
                    .filter(|u| !u.is_empty() && !u.contains(':'))
                    .ok_or_else(|| {
                        (
                            "bot.username".to_string(),
                            "required, without `:`".to_string(),
                        )
                    })?;
                BotCredentials::Basic {
                    username,
                    password: secret("password", &b.password)?,
                }
            }
            BotAuthKind::None => {
                if b.token.is_some() || b.username.is_some() || b.password.is_some() {
                    return Err((
                        "bot.auth".into(),
                        "is \"none\" but credentials are set; say \"bearer\" or \"basic\"".into(),
                    ));
                }
                BotCredentials::None
            }
        };
        if b.timeout_ms == 0 || b.timeout_ms > 120_000 {
            return Err((
                "bot.timeout_ms".into(),
                "must be between 1 and 120000".into(),
            ));
        }
        if b.connect_timeout_ms == 0 {
            return Err(("bot.connect_timeout_ms".into(), "must be at least 1".into()));
        }
        let ca_pem = match &b.ca_file {
            None => None,
            Some(p) => {
                let path = self.dir.join(p);
                let bytes = std::fs::read(&path).map_err(|e| {
                    (
                        "bot.ca_file".to_string(),
                        format!("cannot read `{}`: {}", path.display(), e.kind()),
                    )
                })?;
                Some(bytes)
            }
        };
        Ok(BotSettings {
            url,
            credentials,
            contact_type: b.contact_type,
            timeout: Duration::from_millis(b.timeout_ms),
            // The total timeout bounds the connect as well: the smaller one wins.
            connect_timeout: Duration::from_millis(b.connect_timeout_ms.min(b.timeout_ms)),
            ca_pem,
        })
    }

    fn jwt(&self, j: &super::model::JwtSection) -> Result<JwtSettings, (String, String)> {
        if !(j.key.starts_with("env:") || j.key.starts_with("file:")) {
            return Err((
                "jwt.key".into(),
                "must be `env:NAME` or `file:PATH`; the key does not belong in the config".into(),
            ));
        }
        let key = SecretRef::parse(&j.key, self.dir)
            .resolve()
            .map_err(|m| ("jwt.key".to_string(), m))?;
        if key.expose().trim().len() < 32 {
            return Err((
                "jwt.key".into(),
                "must be at least 32 bytes (value not shown)".into(),
            ));
        }
        if j.issuer.trim().is_empty() {
            return Err(("jwt.issuer".into(), "must not be empty".into()));
        }
        if j.lifetime_minutes == 0 || j.lifetime_minutes > 7 * 24 * 60 {
            return Err((
                "jwt.lifetime_minutes".into(),
                "must be between 1 and 10080 (a week)".into(),
            ));
        }
        Ok(JwtSettings {
            key,
            issuer: j.issuer.trim().to_string(),
            lifetime: Duration::from_secs(j.lifetime_minutes * 60),
        })
    }

    fn templates(&self, set: &str) -> Result<Arc<TemplateSet>, String> {
        let mut cache = self
            .template_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        cache
            .entry(set.to_string())
            .or_insert_with(|| TemplateSet::load(&self.server.templates_dir, set).map(Arc::new))
            .clone()
    }
}

fn auth_name(k: BotAuthKind) -> &'static str {
    match k {
        BotAuthKind::Bearer => "bearer",
        BotAuthKind::Basic => "basic",
        BotAuthKind::None => "none",
    }
}

/// Tenant ids become file names, schema names, URL segments and metric labels.
pub fn validate_tenant_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 48
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tenant id `{id}` must be 1-48 characters of a-z, 0-9, `_`, `-`, starting with a letter"
        ))
    }
}

/// A mail domain as tenants claim it: trimmed, lowercased, without a final dot, and made
/// of DNS labels. `xgate import-iis` checks the domains it is given with this too.
pub fn mail_domain(d: &str) -> Result<String, String> {
    let lower = d.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !lower.is_empty()
        && lower.len() <= 253
        && lower.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(lower)
    } else {
        Err(format!(
            "`{d}` is not a mail domain (labels of a-z, 0-9, `-`, separated by dots)"
        ))
    }
}

/// Finds tenants that claim what another tenant (or the server itself) holds.
/// Returns the tenants to refuse, each with its error. With a previous config, the
/// tenant that already held a claim keeps it; otherwise both claimants are refused.
pub(crate) fn conflicts(
    server: &ServerSection,
    tenants: &BTreeMap<String, TenantConfig>,
    previous: Option<&BTreeMap<String, TenantConfig>>,
) -> Vec<(String, ConfigError)> {
    let held_before = |id: &str, what: &Claim| -> bool {
        previous
            .and_then(|p| p.get(id))
            .is_some_and(|t| what.held_by(t))
    };
    let server_ports: Vec<u16> = server
        .listen
        .iter()
        .chain(std::iter::once(&server.ops_listen))
        .chain(server.tls.iter().flat_map(|t| t.listen.iter()))
        .map(|a| a.port())
        .collect();
    // Borrowed and hashed: every reload checks every tenant's claims, and nearly all of
    // them are held once. Only the contested ones are copied, and sorted so that the
    // errors come in a stable order.
    let mut claims: HashMap<ClaimRef<'_>, Vec<&TenantConfig>> = HashMap::new();
    for t in tenants.values() {
        for claim in ClaimRef::all(&t.ports, &t.mail_domains, &t.schema) {
            claims.entry(claim).or_default().push(t);
        }
        crate::pace::point();
    }
    let mut contested: Vec<(Claim, Vec<&TenantConfig>)> = claims
        .into_iter()
        .filter(|(claim, holders)| {
            holders.len() > 1 || matches!(claim, ClaimRef::Port(p) if server_ports.contains(p))
        })
        .map(|(claim, holders)| (claim.owned(), holders))
        .collect();
    contested.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    for (claim, holders) in &contested {
        if let Claim::Port(p) = claim
            && server_ports.contains(p)
        {
            for t in holders {
                out.push((
                    t.id.clone(),
                    ConfigError::file(
                        &t.file,
                        format!("port {p} is one of the server's own listeners"),
                    )
                    .with_tenant(&t.id)
                    .with_key("ports"),
                ));
            }
            continue;
        }
        if holders.len() < 2 {
            continue;
        }
        let keeper = holders
            .iter()
            .find(|t| held_before(&t.id, claim))
            .map(|t| t.id.clone());
        let names: Vec<&str> = holders.iter().map(|t| t.id.as_str()).collect();
        for t in holders {
            if Some(&t.id) == keeper.as_ref() {
                continue;
            }
            let others: Vec<&str> = names.iter().copied().filter(|n| *n != t.id).collect();
            let msg = match &keeper {
                Some(k) => format!("{} is already held by tenant `{k}`", claim.describe()),
                None => format!(
                    "{} is also claimed by tenant `{}`",
                    claim.describe(),
                    others.join("`, `")
                ),
            };
            out.push((
                t.id.clone(),
                ConfigError::file(&t.file, msg)
                    .with_tenant(&t.id)
                    .with_key(claim.key()),
            ));
        }
    }
    out
}

/// What an invalid tenant would hold, for reporting its conflicts as well.
pub(crate) struct Claims {
    pub id: String,
    pub file: PathBuf,
    pub ports: Vec<u16>,
    pub mail_domains: Vec<String>,
    pub schema: String,
}

/// Conflicts of tenants refused for other reasons, so one run lists them all. Only the
/// refused tenant gets the error: a valid tenant is never refused over an invalid one.
pub(crate) fn conflicts_of_refused(
    valid: &BTreeMap<String, TenantConfig>,
    refused: &[Claims],
) -> Vec<(String, ConfigError)> {
    let mut out = Vec::new();
    for c in refused {
        let wanted = c
            .ports
            .iter()
            .map(|p| Claim::Port(*p))
            .chain(c.mail_domains.iter().map(|d| Claim::Domain(d.clone())))
            .chain(std::iter::once(Claim::Schema(c.schema.clone())));
        for claim in wanted {
            let holders = valid
                .values()
                .filter(|t| claim.held_by(t))
                .map(|t| t.id.as_str())
                .chain(
                    refused
                        .iter()
                        .filter(|o| o.id != c.id && claim.claimed_by(o))
                        .map(|o| o.id.as_str()),
                )
                .collect::<Vec<_>>();
            if !holders.is_empty() {
                out.push((
                    c.id.clone(),
                    ConfigError::file(
                        &c.file,
                        format!(
                            "{} is also claimed by tenant `{}`",
                            claim.describe(),
                            holders.join("`, `")
                        ),
                    )
                    .with_tenant(&c.id)
                    .with_key(claim.key()),
                ));
            }
        }
    }
    out
}

/// The tenants of `current`, except those in `skip`, that hold a claim of `valid` or of
/// `refused`: the only tenants a conflict with those can involve. One pass, no copies.
pub(crate) fn holders_of_claims<'c>(
    current: &'c BTreeMap<String, TenantConfig>,
    skip: &BTreeSet<String>,
    valid: &BTreeMap<String, TenantConfig>,
    refused: &[Claims],
) -> Vec<&'c TenantConfig> {
    let mut wanted = HashSet::new();
    for t in valid.values() {
        wanted.extend(ClaimRef::all(&t.ports, &t.mail_domains, &t.schema));
    }
    for c in refused {
        wanted.extend(ClaimRef::all(&c.ports, &c.mail_domains, &c.schema));
    }
    current
        .values()
        .filter(|t| !skip.contains(&t.id))
        .filter(|t| {
            ClaimRef::all(&t.ports, &t.mail_domains, &t.schema).any(|c| wanted.contains(&c))
        })
        .collect()
}

/// A claim borrowed from a tenant, to look claims up without copying them.
#[derive(PartialEq, Eq, Hash)]
enum ClaimRef<'a> {
    Port(u16),
    Domain(&'a str),
    Schema(&'a str),
}

impl<'a> ClaimRef<'a> {
    fn owned(&self) -> Claim {
        match *self {
            ClaimRef::Port(p) => Claim::Port(p),
            ClaimRef::Domain(d) => Claim::Domain(d.to_string()),
            ClaimRef::Schema(s) => Claim::Schema(s.to_string()),
        }
    }

    fn all(
        ports: &'a [u16],
        domains: &'a [String],
        schema: &'a str,
    ) -> impl Iterator<Item = ClaimRef<'a>> {
        ports
            .iter()
            .map(|&p| ClaimRef::Port(p))
            .chain(domains.iter().map(|d| ClaimRef::Domain(d)))
            .chain(std::iter::once(ClaimRef::Schema(schema)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Claim {
    Port(u16),
    Domain(String),
    Schema(String),
}

impl Claim {
    fn held_by(&self, t: &TenantConfig) -> bool {
        match self {
            Claim::Port(p) => t.ports.contains(p),
            Claim::Domain(d) => t.mail_domains.contains(d),
            Claim::Schema(s) => &t.schema == s,
        }
    }
    fn claimed_by(&self, c: &Claims) -> bool {
        match self {
            Claim::Port(p) => c.ports.contains(p),
            Claim::Domain(d) => c.mail_domains.contains(d),
            Claim::Schema(s) => &c.schema == s,
        }
    }
    fn key(&self) -> &'static str {
        match self {
            Claim::Port(_) => "ports",
            Claim::Domain(_) => "mail_domains",
            Claim::Schema(_) => "schema",
        }
    }
    fn describe(&self) -> String {
        match self {
            Claim::Port(p) => format!("port {p}"),
            Claim::Domain(d) => format!("mail domain `{d}`"),
            Claim::Schema(s) => format!("schema `{s}`"),
        }
    }
}
