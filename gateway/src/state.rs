//! The gateway's shared state: the config snapshot in force (swapped whole, never
//! edited), the database handle and the metrics.
//!
//! Architecture invariant: a request loads the snapshot once, in the bridge, and
//! carries that `Arc<Snapshot>` to its end; nothing on the request path reads
//! `Gateway::snapshot` again.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use xgate_tenants::config::{Config, ConfigError, ServerSection};
use xgate_tenants::store::Database;
use xgate_tenants::{Tenant, TenantTable};

use crate::bot::BotClient;
use crate::metrics::Metrics;

/// One consistent view of every tenant: table, bot clients, version.
pub struct Snapshot {
    pub table: TenantTable,
    bots: HashMap<String, BotClient>,
}

impl Snapshot {
    /// Builds bot clients for every tenant; a tenant whose client cannot be built (a bad
    /// CA file) is left out and reported like any other config error.
    pub fn build(config: &Config, db: &Database, version: u64) -> (Snapshot, Vec<ConfigError>) {
        let mut config = config.clone();
        let mut bots = HashMap::new();
        let mut errors = Vec::new();
        config
            .tenants
            .retain(|id, t| match BotClient::new(t.bot.clone()) {
                Ok(client) => {
                    bots.insert(id.clone(), client);
                    true
                }
                Err(msg) => {
                    errors.push(
                        ConfigError::file(&t.file, msg)
                            .with_tenant(id)
                            .with_key("bot.ca_file"),
                    );
                    false
                }
            });
        let table = TenantTable::build(&config, db, version);
        (Snapshot { table, bots }, errors)
    }

    pub fn version(&self) -> u64 {
        self.table.version()
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
    /// `[server]` as it was at start: listeners cannot change without a restart.
    pub server: ServerSection,
}

impl Gateway {
    pub fn new(snapshot: Snapshot, db: Database, server: ServerSection) -> Gateway {
        let metrics = Metrics::new();
        metrics.tenants.set(snapshot.table.len() as i64);
        metrics.config_version.set(snapshot.version() as i64);
        Gateway {
            snapshot: ArcSwap::from_pointee(snapshot),
            db,
            metrics,
            server,
        }
    }

    /// The snapshot for a new request. Lock-free; never waits on a reload.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    pub fn ops_port(&self) -> u16 {
        self.server.ops_listen.port()
    }
}
