//! Hot reload: parse, validate, build the new tenant table, swap it in.
//!
//! Triggers (file watch, SIGHUP, `POST /reload`) all end in `Reloader::apply`, one at a
//! time. Order within a reload, so that no request ever sees a half-applied change:
//! 1. read and validate (`read.rs`, blocking file I/O off the async threads): the whole
//!    tree, or, when the watcher names only tenant files, just those
//!    (`config::load_changed`; it declines whenever the result could differ from
//!    reading the whole tree);
//! 2. merge per tenant: invalid tenants keep their last good definition;
//! 3. migrate tenants that are new or changed schema — before they take requests;
//! 4. bind new tenant ports (a port in use refuses that tenant, not the reload);
//! 5. build the snapshot, reusing unchanged tenants and their bot connections (after the
//!    fast path: a copy of the one in force with the changed tenants replaced);
//! 6. swap (a pointer store: requests in flight keep the snapshot they started with);
//! 7. start accepting on new ports, stop accepting on removed ones.
//!
//! Architecture invariant: requests never wait on a reload. The reload mutex is taken
//! only by reloads and by `GET /reload`; the swap holds no lock and does no I/O.

mod batch;
mod read;
mod report;
pub mod watch;
mod worker;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use xgate_tenants::config::{self, Config, ConfigError, Merged};

use read::{Read, Watched};
pub use report::{ReadScope, ReloadReport, ReloadResult};

use crate::ports::PortsHandle;
use crate::state::{Gateway, Snapshot};

pub struct Reloader {
    gw: Arc<Gateway>,
    /// Reloads run on xgate's core runtime, never on a request runtime's threads, whoever
    /// asked for them (`POST /reload` arrives on one).
    core: tokio::runtime::Handle,
    path: PathBuf,
    ports: PortsHandle,
    tenant_ip: IpAddr,
    /// Parsed included files and the last tree: a one-file edit of a 10,000-file tree
    /// re-parses one file.
    cache: Arc<config::LoadCache>,
    state: tokio::sync::Mutex<State>,
}

struct State {
    /// The config in force: per tenant, the last definition that was valid. An `Arc` so
    /// that the blocking read borrows it without a copy of 10,000 tenants.
    config: Arc<Config>,
    version: u64,
    bound: BTreeSet<u16>,
    /// Tenants on their last good definition, and new tenants refused, with why.
    stale: BTreeMap<String, Vec<ConfigError>>,
    rejected: BTreeMap<String, Vec<ConfigError>>,
    last: ReloadReport,
}

impl State {
    /// Keeps the merge's verdicts: all of them, or after the fast path those of its scope.
    fn keep_errors(&mut self, merged: &Merged) {
        merged.carry_errors(&mut self.stale, &mut self.rejected);
    }
}

impl Reloader {
    /// Takes over after the initial load: `config` and `version` are what `gw` serves,
    /// `cache` what that load read. Opens the initial tenant ports, on the sockets
    /// `inherited` from the process this one replaces where it has them (graceful
    /// upgrade); an error means xgate cannot start. Inherited sockets no tenant claims
    /// any more are closed.
    pub fn start(
        core: tokio::runtime::Handle,
        gw: Arc<Gateway>,
        path: PathBuf,
        config: Config,
        cache: config::LoadCache,
        ports: PortsHandle,
        mut inherited: HashMap<SocketAddr, std::net::TcpListener>,
    ) -> Result<Arc<Reloader>, String> {
        let tenant_ip = tenant_ip(&config);
        let mut bound = BTreeSet::new();
        for t in config.tenants.values() {
            for &p in &t.ports {
                let addr = SocketAddr::new(tenant_ip, p);
                let listener = match inherited.remove(&addr) {
                    // Non-blocking already (a flag of the shared socket); set again anyway:
                    // the accept loop requires it.
                    Some(l) => l
                        .set_nonblocking(true)
                        .map(|()| l)
                        .map_err(|e| format!("tenant `{}`: inherited port {p}: {e}", t.id))?,
                    None => PortsHandle::bind(addr).map_err(|e| {
                        format!("tenant `{}`: cannot listen on port {p}: {e}", t.id)
                    })?,
                };
                ports.open(p, listener);
                bound.insert(p);
            }
        }
        drop(inherited);
        let version = gw.snapshot().version();
        let last = ReloadReport::startup(version, config.tenants.len());
        gw.metrics.reload_finished(&last, 0);
        Ok(Arc::new(Reloader {
            cache: Arc::new(cache),
            core,
            gw,
            path,
            ports,
            tenant_ip,
            state: tokio::sync::Mutex::new(State {
                config: Arc::new(config),
                version,
                bound,
                stale: BTreeMap::new(),
                rejected: BTreeMap::new(),
                last,
            }),
        }))
    }

    pub async fn last_report(&self) -> ReloadReport {
        self.state.lock().await.last.clone()
    }

    /// Reads the whole tree again, every secret included: SIGHUP, `POST /reload`, and
    /// the watcher when it cannot say what changed.
    pub async fn reload(self: &Arc<Self>, trigger: &'static str) -> ReloadReport {
        match self.run(trigger, None).await {
            Some(report) => report,
            // Only the watcher's reloads are ever superseded.
            None => self.last_report().await,
        }
    }

    /// The watcher's reload: `paths` are those it saw change. Only those are read when
    /// they are all tenant files and the fast path's conditions hold. `None`: one of them
    /// was written after `quiet_since`, nothing was applied (see `batch.rs`).
    pub async fn reload_changed(
        self: &Arc<Self>,
        paths: BTreeSet<PathBuf>,
        quiet_since: Option<SystemTime>,
    ) -> Option<ReloadReport> {
        let watched = Watched { paths, quiet_since };
        self.run("watch", Some(watched)).await
    }

    async fn run(
        self: &Arc<Self>,
        trigger: &'static str,
        watched: Option<Watched>,
    ) -> Option<ReloadReport> {
        let me = self.clone();
        match self
            .core
            .spawn(async move { me.reload_here(trigger, watched).await })
            .await
        {
            Ok(report) => report,
            Err(e) => {
                let mut r = ReloadReport::new(trigger, self.gw.snapshot().version());
                r.fail(vec![ConfigError::file(
                    &self.path,
                    format!("the reload task failed: {e}"),
                )]);
                Some(r)
            }
        }
    }

    async fn reload_here(&self, trigger: &str, watched: Option<Watched>) -> Option<ReloadReport> {
        let mut st = self.state.lock().await;
        let started = Instant::now();
        let Some(mut report) = self.apply(&mut st, trigger, watched).await else {
            tracing::debug!("a changed file was written again while it was read; reading it again");
            return None;
        };
        report.took_ms = started.elapsed().as_millis() as u64;
        self.gw.metrics.reload_finished(&report, st.stale.len());
        report.log();
        st.last = report.clone();
        Some(report)
    }

    async fn apply(
        &self,
        st: &mut State,
        trigger: &str,
        watched: Option<Watched>,
    ) -> Option<ReloadReport> {
        worker::begin_reload();
        let mut report = ReloadReport::new(trigger, st.version);
        let mut merged = match self.read(st, watched).await {
            Read::Merged(m) => *m,
            Read::Failed(errors) => {
                report.fail(errors);
                report.keep_stale(&st.stale, st.config.tenants.len());
                return Some(report);
            }
            Read::Superseded => return None,
        };
        if merged.scope.is_some() {
            report.read = ReadScope::ChangedFiles;
        }
        report.note_global_changes(&st.config, &merged.config);
        // [server] and [database] need a restart: keep the ones in force.
        merged.config.server = st.config.server.clone();
        merged.config.database = st.config.database.clone();

        self.migrate_new(&st.config, &mut merged).await;
        let opened = self.bind_new_ports(st, &mut merged);

        // Comparing and building touch every tenant on a full read: on the reload thread,
        // at its lower priority, like the read (see `worker.rs`).
        let previous = self.gw.snapshot();
        let current = st.config.clone();
        let db = self.gw.db.clone();
        let version = st.version + 1;
        let any_opened = !opened.is_empty();
        let built = worker::run(move || {
            let changed = report.diff(&current, &merged);
            let snapshot = (changed || any_opened).then(|| match &merged.scope {
                None => Snapshot::build_from(Some(&previous), &merged.config, &db, version),
                Some(scope) => Snapshot::patch(
                    &previous,
                    scope
                        .iter()
                        .map(|id| (id.as_str(), merged.config.tenants.get(id))),
                    &db,
                    version,
                ),
            });
            (report, merged, snapshot)
        })
        .await;
        let Some((mut report, mut merged, snapshot)) = built else {
            let mut report = ReloadReport::new(trigger, st.version);
            report.fail(vec![ConfigError::file(
                &self.path,
                "building the new tenant table failed (a bug: see the log)".to_string(),
            )]);
            report.keep_stale(&st.stale, st.config.tenants.len());
            return Some(report);
        };
        let Some((snapshot, errors)) = snapshot else {
            st.keep_errors(&merged);
            report.finish(st.version, st.config.tenants.len(), &st.stale, &st.rejected);
            // A full read's 10,000 definitions are freed where they cost requests nothing.
            worker::spawn(move || worker::free_gradually(merged.config.tenants));
            return Some(report);
        };
        for e in errors {
            // A bot client that cannot be built (bad CA file): the tenant is out.
            let id = e.tenant.clone().unwrap_or_default();
            merged.config.tenants.remove(&id);
            merged.rejected.entry(id).or_default().push(e);
        }
        st.keep_errors(&merged);
        // The blocking read has finished with its clone: this edits in place.
        let replaced_config = merged.apply_to(Arc::make_mut(&mut st.config));
        let replaced = self.gw.swap(snapshot);
        // Freeing 10,000 tenants' maps takes a while: neither a request (the last one
        // still holding the old snapshot would pay for it) nor the core runtime does it.
        worker::spawn(move || {
            worker::free_gradually(replaced_config);
            worker::drop_when_unshared(replaced);
        });

        let wanted: BTreeSet<u16> = st
            .config
            .tenants
            .values()
            .flat_map(|t| t.ports.iter().copied())
            .collect();
        for (port, listener) in opened {
            self.ports.open(port, listener);
        }
        for port in st.bound.difference(&wanted) {
            self.ports.close(*port).await;
        }
        st.bound = wanted;
        st.version = version;
        report.finish(version, st.config.tenants.len(), &st.stale, &st.rejected);
        Some(report)
    }

    /// Reads and merges (`read.rs`), given who is refused now: the fast path must know,
    /// since a refusal may hinge on the change.
    async fn read(&self, st: &State, watched: Option<Watched>) -> Read {
        let refused: Vec<ConfigError> = st
            .stale
            .values()
            .chain(st.rejected.values())
            .flatten()
            .cloned()
            .collect();
        read::read(
            self.path.clone(),
            st.config.clone(),
            refused,
            self.cache.clone(),
            watched,
        )
        .await
    }

    /// New tenants, and tenants whose schema moved, are migrated before they serve. A
    /// failure keeps the tenant's previous definition (or leaves a new tenant out).
    async fn migrate_new(&self, current: &Config, merged: &mut config::Merged) {
        let todo: Vec<(String, String)> = merged
            .config
            .tenants
            .values()
            .filter(|t| {
                current
                    .tenants
                    .get(&t.id)
                    .is_none_or(|old| old.schema != t.schema)
            })
            .map(|t| (t.id.clone(), t.schema.clone()))
            .collect();
        for (id, schema) in todo {
            if let Err(e) = self.gw.db.migrate_tenant(&id, &schema).await {
                let file = merged
                    .config
                    .tenants
                    .get(&id)
                    .map(|t| t.file.clone())
                    .unwrap_or_default();
                let err = ConfigError::file(file, format!("storage could not be prepared: {e}"))
                    .with_tenant(&id)
                    .with_key("schema");
                merged.refuse(current, &id, err);
            }
        }
    }

    /// Binds every port the merged config wants that is not bound yet. A port that
    /// cannot be bound refuses the tenant claiming it.
    fn bind_new_ports(
        &self,
        st: &State,
        merged: &mut config::Merged,
    ) -> HashMap<u16, std::net::TcpListener> {
        let mut opened = HashMap::new();
        let claims: Vec<(String, u16)> = merged
            .config
            .tenants
            .values()
            .flat_map(|t| t.ports.iter().map(move |&p| (t.id.clone(), p)))
            .filter(|(_, p)| !st.bound.contains(p))
            .collect();
        for (id, port) in claims {
            match PortsHandle::bind(SocketAddr::new(self.tenant_ip, port)) {
                Ok(l) => {
                    opened.insert(port, l);
                }
                Err(e) => {
                    let file = merged
                        .config
                        .tenants
                        .get(&id)
                        .map(|t| t.file.clone())
                        .unwrap_or_default();
                    let err = ConfigError::file(file, format!("cannot listen on port {port}: {e}"))
                        .with_tenant(&id)
                        .with_key("ports");
                    merged.refuse(&st.config, &id, err);
                }
            }
        }
        // A refused tenant's old definition only uses ports that are bound already.
        opened.retain(|p, _| merged.config.tenants.values().any(|t| t.ports.contains(p)));
        opened
    }
}

pub fn tenant_ip(config: &Config) -> IpAddr {
    config
        .server
        .tenant_bind
        .or_else(|| config.server.listen.first().map(|a| a.ip()))
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}
