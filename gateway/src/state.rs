//! The gateway's shared state: the config snapshot in force (swapped whole, never
//! edited), the database handle and the metrics.
//!
//! Architecture invariant: a request loads the snapshot once, in the bridge, and
//! carries that `Arc<Snapshot>` to its end; nothing on the request path reads
//! `Gateway::snapshot` again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use xgate_tenants::config::{Config, ConfigError, ServerSection, TenantConfig};
use xgate_tenants::store::Database;
use xgate_tenants::{Tenant, TenantTable};

use crate::bot::BotClient;
use crate::directory::Directory;
use crate::metrics::Metrics;

/// One consistent view of every tenant: table, bot clients, version.
pub struct Snapshot {
    pub table: TenantTable,
    /// In an `Arc`: a reload that changes one tenant copies this map, not every client.
    bots: HashMap<String, Arc<BotClient>>,
    /// Tenants in a directory mode. Kept across reloads while `[auth]` is unchanged, so a
    /// changed `[auth]` starts with an empty cache and fresh throttle counters.
    directories: HashMap<String, Arc<Directory>>,
}

impl Snapshot {
    /// Builds bot clients for every tenant; a tenant whose client cannot be built (a bad
    /// CA file) is left out and reported like any other config error.
    pub fn build(config: &Config, db: &Database, version: u64) -> (Snapshot, Vec<ConfigError>) {
        Snapshot::build_from(None, config, db, version)
    }

    /// As `build`, but a tenant whose definition did not change keeps its `Tenant` and its
    /// bot client from `previous`, and with them its open connections.
    pub fn build_from(
        previous: Option<&Snapshot>,
        config: &Config,
        db: &Database,
        version: u64,
    ) -> (Snapshot, Vec<ConfigError>) {
        let mut next = Snapshot {
            table: TenantTable::default(),
            bots: HashMap::new(),
            directories: HashMap::new(),
        };
        let mut tenants = Vec::new();
        let mut errors = Vec::new();
        for t in config.tenants.values() {
            match next.add(previous, t, db) {
                Ok(tenant) => tenants.push(tenant),
                Err(e) => errors.push(e),
            }
            xgate_tenants::pace::point();
        }
        next.table = TenantTable::from_tenants(version, tenants);
        (next, errors)
    }

    /// `previous` with only the tenants in `changes` built again (`None`: removed), the
    /// others shared: after an edit of one tenant file the cost does not grow with the
    /// number of tenants beyond copying the lookup maps. Same rules as `build_from`.
    pub fn patch<'a>(
        previous: &Snapshot,
        changes: impl IntoIterator<Item = (&'a str, Option<&'a TenantConfig>)>,
        db: &Database,
        version: u64,
    ) -> (Snapshot, Vec<ConfigError>) {
        let mut next = Snapshot {
            table: TenantTable::default(),
            bots: previous.bots.clone(),
            directories: previous.directories.clone(),
        };
        let mut removed = Vec::new();
        let mut added = Vec::new();
        let mut errors = Vec::new();
        for (id, t) in changes {
            next.bots.remove(id);
            next.directories.remove(id);
            removed.push(id);
            if let Some(t) = t {
                match next.add(Some(previous), t, db) {
                    Ok(tenant) => added.push(tenant),
                    Err(e) => errors.push(e),
                }
            }
        }
        next.table = previous.table.patched(version, removed, added);
        (next, errors)
    }

    /// Adds one tenant's bot client and directory to `self`, reusing `previous`'s while
    /// its definition (for the directory: its `[auth]`) is unchanged. A tenant whose
    /// client or directory cannot be built (a bad CA file) gets an error instead.
    fn add(
        &mut self,
        previous: Option<&Snapshot>,
        t: &TenantConfig,
        db: &Database,
    ) -> Result<Arc<Tenant>, ConfigError> {
        let id = &t.id;
        let old = previous.and_then(|p| p.table.get(id));
        let same_auth = old
            .filter(|old| old.config.auth == t.auth)
            .and_then(|_| previous?.directories.get(id).cloned());
        let directory = match same_auth {
            Some(d) => Some(d),
            None => Directory::new(id, &t.auth)
                .map_err(|msg| {
                    ConfigError::file(&t.file, msg)
                        .with_tenant(id)
                        .with_key("auth.ldap.ca_file")
                })?
                .map(Arc::new),
        };
        let kept = old
            .filter(|old| old.config == *t)
            .and_then(|old| Some((old.clone(), previous?.bots.get(id)?.clone())));
        let (tenant, bot) = match kept {
            Some(kept) => kept,
            None => {
                let bot = BotClient::new(t.bot.clone()).map_err(|msg| {
                    ConfigError::file(&t.file, msg)
                        .with_tenant(id)
                        .with_key("bot.ca_file")
                })?;
                let bot = Arc::new(bot);
                let tenant = Arc::new(Tenant {
                    store: db.tenant(&t.id, &t.schema),
                    config: t.clone(),
                });
                (tenant, bot)
            }
        };
        if let Some(d) = directory {
            self.directories.insert(id.clone(), d);
        }
        self.bots.insert(id.clone(), bot);
        Ok(tenant)
    }

    pub fn version(&self) -> u64 {
        self.table.version()
    }

    /// The tenant's directory; `None` in `auth.mode = "none"`.
    pub fn directory(&self, tenant: &Tenant) -> Option<&Directory> {
        self.directories.get(tenant.id()).map(|d| &**d)
    }

    /// The directory as a handle that outlives this snapshot (for the probes).
    pub fn directory_arc(&self, tenant: &Tenant) -> Option<Arc<Directory>> {
        self.directories.get(tenant.id()).cloned()
    }

    pub fn bot(&self, tenant: &Tenant) -> &BotClient {
        self.bots
            .get(tenant.id())
            .expect("every tenant in a snapshot has a bot client")
    }
}

pub struct Gateway {
    snapshot: ArcSwap<Snapshot>,
    pub db: Database,
    pub metrics: Metrics,
    /// `[server]` as it was at start: shared listeners cannot change without a restart.
    pub server: ServerSection,
    shared_ports: HashSet<u16>,
    reloader: OnceLock<Arc<crate::reload::Reloader>>,
}

impl Gateway {
    pub fn new(snapshot: Snapshot, db: Database, server: ServerSection) -> Gateway {
        let metrics = Metrics::new();
        metrics.tenants.set(snapshot.table.len() as i64);
        metrics.config_version.set(snapshot.version() as i64);
        let shared_ports = server
            .listen
            .iter()
            .chain(server.tls.iter().flat_map(|t| t.listen.iter()))
            .map(|a| a.port())
            .collect();
        Gateway {
            snapshot: ArcSwap::from_pointee(snapshot),
            db,
            metrics,
            server,
            shared_ports,
            reloader: OnceLock::new(),
        }
    }

    /// Puts a new snapshot in force. Requests already running keep theirs.
    /// Puts `snapshot` in force and hands back the one it replaces, for the caller to
    /// drop off the request path (requests still holding it drop their own clones).
    pub fn swap(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        self.metrics.tenants.set(snapshot.table.len() as i64);
        self.metrics.config_version.set(snapshot.version() as i64);
        self.snapshot.swap(Arc::new(snapshot))
    }

    /// Whether a port is a shared listener (tenant by mail domain), as opposed to a
    /// tenant's own port or the ops port.
    pub fn is_shared_port(&self, port: u16) -> bool {
        self.shared_ports.contains(&port)
    }

    pub fn set_reloader(&self, reloader: Arc<crate::reload::Reloader>) {
        let _ = self.reloader.set(reloader);
    }

    pub fn reloader(&self) -> Option<&Arc<crate::reload::Reloader>> {
        self.reloader.get()
    }

    /// The snapshot for a new request. Lock-free; never waits on a reload.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    pub fn ops_port(&self) -> u16 {
        self.server.ops_listen.port()
    }
}
