//! Loading the config tree: one main file plus included files, each tenant checked on
//! its own so that one broken tenant never hides another's errors (and, on reload,
//! never takes the others down with it).
//!
//! The loader only reads files and environment variables; it opens no connection.

mod auth;
mod cache;
mod changed;
mod error;
mod merge;
pub mod model;
mod tenant;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub use auth::{AuthSettings, KerberosSettings, LdapSettings, build as auth_settings};
pub use cache::LoadCache;
use cache::Stamp;
pub use changed::{Declined, load_changed};
pub(crate) use error::line_of;
pub use error::{ConfigError, ConfigErrors};
pub use merge::{Merged, merge};
pub use model::{
    AuthMode, AuthSection, BotAuthKind, ContactType, DatabaseSection, LogFormat, ServerSection,
    TenantSection, TlsSection,
};
pub use tenant::{BotCredentials, BotSettings, JwtSettings, TenantConfig, mail_domain};

/// A loaded config: the global sections and every tenant that is valid.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    /// Paths in the config (includes, templates, sqlite dir, secret files) are relative to this.
    pub dir: PathBuf,
    pub server: ServerSection,
    pub database: DatabaseSection,
    pub tenants: BTreeMap<String, TenantConfig>,
}

/// The result of reading the tree: what is usable, and what is wrong per tenant.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// Tenants left out of `config.tenants`, with every error found for each.
    pub tenant_errors: BTreeMap<String, Vec<ConfigError>>,
}

impl Loaded {
    pub fn all_errors(&self) -> ConfigErrors {
        ConfigErrors(self.tenant_errors.values().flatten().cloned().collect())
    }
}

/// Reads and validates the whole tree. `Err` means the tree is unusable as a whole
/// (a file that does not parse, a bad `[server]` or `[database]`); per-tenant problems
/// come back in `Loaded::tenant_errors`.
///
/// `previous` is the config in force, if any: in a port or domain conflict the tenant
/// that already held the claim keeps it and only the newer claimant is refused.
pub fn load(path: &Path, previous: Option<&Config>) -> Result<Loaded, ConfigErrors> {
    load_cached(path, previous, &LoadCache::default())
}

/// As `load`, reusing what `cache` parsed of included files that have not changed since
/// (same modification time and size). Secrets and templates are still read every time:
/// a rotated token file must be seen by the next reload.
pub fn load_cached(
    path: &Path,
    previous: Option<&Config>,
    cache: &LoadCache,
) -> Result<Loaded, ConfigErrors> {
    // Until this load succeeds, the fast path has no tree to build on.
    cache.set_tree(None);
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let main_text = read(path)?;
    let main = parse(path, &main_text)?;

    let mut errors = Vec::new();
    let mut server = None;
    let mut database = None;
    let mut entries = Vec::new();
    for (key, value) in main.get_ref().iter() {
        match key.get_ref().as_ref() {
            "server" => {
                server = section::<ServerSection>(path, &main_text, "server", value, &mut errors)
            }
            "database" => {
                database =
                    section::<DatabaseSection>(path, &main_text, "database", value, &mut errors)
            }
            "tenants" => collect_tenants(path, &main_text, value, &mut entries, &mut errors),
            other => errors.push(
                ConfigError::file(
                    path,
                    "unknown top-level key; expected `server`, `database` or `tenants`",
                )
                .with_key(other)
                .with_line(Some(line_of(&main_text, key.span().start))),
            ),
        }
    }
    let mut server = server.unwrap_or_else(section_default::<ServerSection>);
    let mut database = database.unwrap_or_default();

    let mut seen_files = Vec::new();
    for pattern in &server.include {
        match expand_include(&dir, pattern) {
            Ok(files) => {
                for (file, stamp) in files {
                    let (mut file_entries, file_errors) = cache.included(&file, stamp);
                    entries.append(&mut file_entries);
                    errors.extend(file_errors);
                    seen_files.push(file);
                    crate::pace::point();
                }
            }
            Err(msg) => errors.push(ConfigError::file(path, msg).with_key("server.include")),
        }
    }
    cache.keep_only(&seen_files);
    // A file that does not parse refuses the whole tree, but the other tenants are still
    // checked so that one run lists every error. Without a valid `[server]` there is no
    // templates directory to check them against.
    let global_failure = !errors.is_empty();
    let server_is_valid = !errors
        .iter()
        .any(|e| e.key.as_deref().is_some_and(|k| k.starts_with("server")));
    if global_failure && !server_is_valid {
        return Err(ConfigErrors(errors));
    }

    resolve_global_paths(&dir, &mut server, &mut database);
    let tenant_ctx = tenant::Context::new(&dir, &server);
    let mut built = tenant::Built::default();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for entry in entries {
        if let Some(first) = seen.get(&entry.id) {
            built.errors.entry(entry.id.clone()).or_default().push(
                ConfigError::file(
                    &entry.file,
                    format!("tenant is also defined in `{}`", first.display()),
                )
                .with_tenant(&entry.id)
                .with_line(Some(entry.line)),
            );
            continue;
        }
        seen.insert(entry.id.clone(), entry.file.clone());
        tenant_ctx.build_into(&entry, &mut built);
        crate::pace::point();
    }
    let tenant::Built {
        mut tenants,
        errors: mut tenant_errors,
        refused_claims,
    } = built;
    for id in tenant_errors.keys() {
        tenants.remove(id);
    }
    for (loser, err) in tenant::conflicts(&server, &tenants, previous.map(|p| &p.tenants)) {
        tenants.remove(&loser);
        tenant_errors.entry(loser).or_default().push(err);
    }
    for (id, err) in tenant::conflicts_of_refused(&tenants, &refused_claims) {
        tenant_errors.entry(id).or_default().push(err);
    }
    if global_failure {
        errors.extend(tenant_errors.into_values().flatten());
        return Err(ConfigErrors(errors));
    }
    cache.set_tree(Some(cache::LastTree {
        server: server.clone(),
        database: database.clone(),
    }));
    Ok(Loaded {
        config: Config {
            path: path.to_path_buf(),
            dir,
            server,
            database,
            tenants,
        },
        tenant_errors,
    })
}

fn read(path: &Path) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError::file(
            path,
            format!("cannot read: {}", e.kind()),
        )])
    })
}

fn parse<'t>(path: &Path, text: &'t str) -> Result<Spanned<DeTable<'t>>, ConfigErrors> {
    DeTable::parse(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        ConfigErrors(vec![
            ConfigError::file(path, format!("not valid TOML: {}", e.message().trim()))
                .with_line(line),
        ])
    })
}

/// Deserializes one spanned value, turning serde's complaint into a ConfigError with
/// the full key path and the line it points at.
pub(crate) fn deserialize<T: DeserializeOwned>(
    file: &Path,
    text: &str,
    prefix: &str,
    value: &Spanned<DeValue<'_>>,
) -> Result<T, ConfigError> {
    let de = toml::de::ValueDeserializer::from(value.clone());
    serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.inner();
        let path = e.path().to_string();
        let key = match (prefix.is_empty(), path.as_str()) {
            (true, p) => p.to_string(),
            (false, ".") => prefix.to_string(),
            (false, p) => format!("{prefix}.{p}"),
        };
        let line = inner
            .span()
            .or_else(|| Some(value.span()))
            .map(|s| line_of(text, s.start));
        let message = if is_secret_key(&key) {
            // serde quotes the offending value ("invalid type: integer 20240229"); for a
            // secret that value is the secret.
            "must be a string: `env:NAME`, `file:PATH` or the value in quotes (value not shown)"
                .to_string()
        } else {
            inner.message().trim().to_string()
        };
        let err = ConfigError::file(file, message).with_line(line);
        if key.is_empty() || key == "." {
            err
        } else {
            err.with_key(key)
        }
    })
}

/// Keys whose values are secrets, wherever they sit (`bot.token`, `auth.bind_password`...).
fn is_secret_key(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    matches!(last, "token" | "password" | "key" | "secret")
        || last.ends_with("_password")
        || last.ends_with("_token")
}

fn section<T: DeserializeOwned>(
    file: &Path,
    text: &str,
    name: &str,
    value: &Spanned<DeValue<'_>>,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    deserialize(file, text, name, value)
        .map_err(|e| errors.push(e))
        .ok()
}

fn section_default<T: DeserializeOwned>() -> T {
    // An empty table gives every default; the section structs have no required field.
    toml::from_str::<T>("").expect("section defaults")
}

/// One `[tenants.<id>]` table, read and deserialized; its semantic checks come later.
#[derive(Clone)]
pub(crate) struct TenantEntry {
    pub id: String,
    pub file: PathBuf,
    pub line: usize,
    pub section: Result<TenantSection, ConfigError>,
}

fn collect_tenants(
    file: &Path,
    text: &str,
    value: &Spanned<DeValue<'_>>,
    entries: &mut Vec<TenantEntry>,
    errors: &mut Vec<ConfigError>,
) {
    let DeValue::Table(table) = value.get_ref() else {
        errors.push(
            ConfigError::file(
                file,
                "`tenants` must be a table of tables: `[tenants.<id>]`",
            )
            .with_line(Some(line_of(text, value.span().start))),
        );
        return;
    };
    for (id, tenant) in table.iter() {
        entries.push(TenantEntry {
            id: id.get_ref().to_string(),
            file: file.to_path_buf(),
            line: line_of(text, id.span().start),
            section: deserialize(file, text, "", tenant),
        });
    }
}

pub(crate) fn parse_included(file: &Path) -> (Vec<TenantEntry>, Vec<ConfigError>) {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            errors.push(ConfigError::file(
                file,
                format!("cannot read: {}", e.kind()),
            ));
            return (entries, errors);
        }
    };
    match parse(file, &text) {
        Err(e) => errors.extend(e.0),
        Ok(table) => {
            for (key, value) in table.get_ref().iter() {
                if key.get_ref().as_ref() == "tenants" {
                    collect_tenants(file, &text, value, &mut entries, &mut errors);
                } else {
                    errors.push(
                        ConfigError::file(
                            file,
                            "an included file may only hold `[tenants.*]` tables",
                        )
                        .with_key(key.get_ref().as_ref())
                        .with_line(Some(line_of(&text, key.span().start))),
                    );
                }
            }
        }
    }
    (entries, errors)
}

/// An include pattern as a glob over paths: relative to the main file's directory.
fn include_glob(dir: &Path, pattern: &str) -> String {
    dir.join(pattern).to_string_lossy().into_owned()
}

/// Whether a path or one of its components holds glob syntax (as `glob` reads it).
pub fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The files an include pattern names, each with its stamp as seen now. What `glob`
/// lists, but `dir/*.toml` (the usual form) is one directory read and one `stat` per
/// file: every reload lists 10,000 files this way.
fn expand_include(dir: &Path, pattern: &str) -> Result<Vec<(PathBuf, Option<Stamp>)>, String> {
    let full = include_glob(dir, pattern);
    let bad = |e: glob::PatternError| format!("bad include pattern `{pattern}`: {e}");
    let full_path = Path::new(&full);
    let candidates: Vec<PathBuf> = match (full_path.parent(), full_path.file_name()) {
        _ if !is_glob(&full) => vec![full_path.to_path_buf()],
        (Some(parent), Some(name)) if !is_glob(&parent.to_string_lossy()) => {
            let name = glob::Pattern::new(&name.to_string_lossy()).map_err(bad)?;
            match std::fs::read_dir(parent) {
                Ok(entries) => entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_name().to_str().is_some_and(|n| name.matches(n)))
                    .map(|e| e.path())
                    .collect(),
                // As `glob`: a directory that is not there matches nothing.
                Err(_) => Vec::new(),
            }
        }
        _ => glob::glob(&full)
            .map_err(bad)?
            .filter_map(Result::ok)
            .collect(),
    };
    let mut files: Vec<(PathBuf, Option<Stamp>)> = candidates
        .into_iter()
        .filter_map(|p| {
            // Followed: a ConfigMap's files are symlinks into its `..data` directory.
            let meta = std::fs::metadata(&p).ok().filter(|m| m.is_file())?;
            let stamp = cache::stamp_from(&meta);
            Some((p, stamp))
        })
        .collect();
    // Sorted so that "first definition wins" messages are stable across runs.
    files.sort();
    Ok(files)
}

fn resolve_global_paths(dir: &Path, server: &mut ServerSection, database: &mut DatabaseSection) {
    server.templates_dir = dir.join(&server.templates_dir);
    if let Some(logs) = &mut server.tenant_log_dir {
        *logs = dir.join(&*logs);
    }
    if let Some(tls) = &mut server.tls {
        tls.cert = dir.join(&tls.cert);
        tls.key = dir.join(&tls.key);
    }
    if let Some(rest) = database.url.strip_prefix("sqlite://")
        && !rest.starts_with('/')
    {
        database.url = format!("sqlite://{}", dir.join(rest).display());
    }
}
