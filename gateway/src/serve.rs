//! `xgate serve` and `xgate migrate`: from a config file to a running pingora server.
//!
//! Runtimes: pingora runs each service on runtimes it creates and owns. xgate creates
//! one more, `xgate-core`, before pingora starts and keeps it until the process exits;
//! long-lived work (migrations at start, later the config watcher and probes) runs
//! there. Request handling runs on pingora's runtimes (the listening service's and the
//! tenant-ports background service's). The sqlx pools connect lazily,
//! from whichever runtime first needs a connection; both runtimes live as long as the
//! process, so no connection outlives the runtime that drives it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use pingora::server::Server;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::services::listening::Service;
use xgate_tenants::config::{self, AuthMode, Config, Loaded};
use xgate_tenants::store::Database;

use pingora::services::background::background_service;

use crate::bridge::Bridge;
use crate::ports::TenantPorts;
use crate::reload::{Reloader, watch};
use crate::state::{Gateway, Snapshot};

pub fn serve(path: &Path, migrate: bool, upgrade: bool) -> ExitCode {
    // reqwest is built without a default TLS provider: ring, chosen here, once.
    // The brief asks for ring; rustls deprecates it only for lacking post-quantum kex.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    // notify reports absolute paths; with the config's own paths absolute too, the
    // reloader can tell which included file an event names (`config::load_changed`).
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let path = absolute.as_path();
    // What this load reads is the reloader's starting point: the first edit after start
    // re-reads one file, not the whole tree.
    let cache = config::LoadCache::default();
    let Some(loaded) = load_valid(path, &cache) else {
        return ExitCode::FAILURE;
    };
    crate::logging::init(
        loaded.config.server.log_format,
        loaded
            .config
            .server
            .tenant_log_dir
            .clone()
            .map(|d| (d, loaded.config.server.tenant_log_days)),
    );
    let config = loaded.config;
    // On an upgrade, the sockets come over first: listen for the tenant ports before
    // pingora's bootstrap takes its own listeners, then read them (see `handover.rs`).
    let handover_sock = crate::handover::ports_sock(&config.server.upgrade_sock);
    let receiver = upgrade
        .then(|| crate::handover::Receiver::listen(&handover_sock))
        .and_then(|r| {
            r.inspect_err(|e| tracing::warn!(error = %e, "cannot listen for the tenant ports; binding them anew"))
                .ok()
        });
    let mut server = pingora_server(&config, upgrade);
    server.bootstrap();
    let inherited = receiver
        .map(|r| match r.receive(crate::ports::HANDOVER_TIMEOUT) {
            Ok(ports) => ports,
            Err(e) => {
                tracing::warn!(error = %e, "no tenant ports from the old process; binding them anew");
                Default::default()
            }
        })
        .unwrap_or_default();
    let core = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("xgate-core")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the core runtime");
            return ExitCode::FAILURE;
        }
    };
    let db = match Database::open(&config.database.url, config.database.max_connections) {
        Ok(db) => db,
        Err(e) => {
            tracing::error!(error = %e, "cannot open the database");
            return ExitCode::FAILURE;
        }
    };
    if migrate && !core.block_on(migrate_all(&db, &config)) {
        return ExitCode::FAILURE;
    }
    let (snapshot, errors) = Snapshot::build(&config, &db, 1);
    if !errors.is_empty() {
        for e in errors {
            tracing::error!("{e}");
        }
        return ExitCode::FAILURE;
    }
    for t in config.tenants.values() {
        if t.auth.mode == AuthMode::None {
            tracing::warn!(
                tenant = %t.id,
                "auth.mode = \"none\": the caller names the user (X-Xgate-User or Creator); for tests and demos only"
            );
        }
    }
    let gw = Arc::new(Gateway::new(snapshot, db, config.server.clone()));
    let threads = config.server.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let (tenant_ports, ports) = TenantPorts::new(
        Arc::new(Bridge::new(gw.clone())),
        server.watch_execution_phase(),
        handover_sock,
    );
    let includes = config.server.include.clone();
    let reloader = match Reloader::start(
        core.handle().clone(),
        gw.clone(),
        path.to_path_buf(),
        config.clone(),
        cache,
        ports,
        inherited,
    ) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    gw.set_reloader(reloader.clone());
    if config.server.bot_probe_interval_seconds > 0 {
        let interval = std::time::Duration::from_secs(config.server.bot_probe_interval_seconds);
        core.spawn(crate::probe::run(gw.clone(), interval));
    }
    let _watcher = {
        let _in_core = core.enter();
        match watch::spawn(reloader, watch::watched_dirs(path, &includes)) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the config tree; reload with SIGHUP or POST /reload");
                None
            }
        }
    };

    let mut service = Service::new("xgate".to_string(), Bridge::new(gw.clone()));
    for addr in listeners(&config) {
        service.add_tcp(&addr.to_string());
    }
    if let Some(tls) = &config.server.tls {
        for addr in &tls.listen {
            if let Err(e) = service.add_tls(
                &addr.to_string(),
                &tls.cert.display().to_string(),
                &tls.key.display().to_string(),
            ) {
                tracing::error!(error = %e, %addr, "cannot set up the TLS listener");
                return ExitCode::FAILURE;
            }
        }
    }
    server.add_service(service);
    let mut ports_service = background_service("tenant ports", tenant_ports);
    ports_service.threads = Some(threads);
    server.add_service(ports_service);
    tracing::info!(
        tenants = config.tenants.len(),
        listen = ?config.server.listen,
        ops = %config.server.ops_listen,
        "xgate serving"
    );
    // The core runtime must outlive serving; run_forever ends the process itself.
    let _core = core;
    server.run_forever()
}

/// pingora's server: its threads, pid file, upgrade socket and shutdown timing.
fn pingora_server(config: &Config, upgrade: bool) -> Server {
    let mut conf = ServerConf {
        threads: config.server.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        }),
        pid_file: config.server.pid_file.display().to_string(),
        upgrade_sock: config.server.upgrade_sock.display().to_string(),
        grace_period_seconds: Some(config.server.grace_period_seconds),
        graceful_shutdown_timeout_seconds: Some(config.server.graceful_shutdown_timeout_seconds),
        ..ServerConf::default()
    };
    conf.daemon = false;
    let opt = Opt {
        upgrade,
        daemon: false,
        nocapture: false,
        test: false,
        conf: None,
    };
    Server::new_with_opt_and_conf(opt, conf)
}

pub fn migrate_only(path: &Path) -> ExitCode {
    let Some(loaded) = load_valid(path, &config::LoadCache::default()) else {
        return ExitCode::FAILURE;
    };
    crate::logging::init(loaded.config.server.log_format, None);
    let config = loaded.config;
    let Some(rt) = crate::cli::command_runtime() else {
        return ExitCode::FAILURE;
    };
    let db = match Database::open(&config.database.url, config.database.max_connections) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("cannot open the database: {e}");
            return ExitCode::FAILURE;
        }
    };
    if rt.block_on(migrate_all(&db, &config)) {
        println!("migrated {} tenant(s)", config.tenants.len());
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// pingora's own listeners: the shared ones and the ops listener. Tenant ports change
/// on reload and live beside pingora (see `ports`).
fn listeners(config: &Config) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = config.server.listen.clone();
    out.push(config.server.ops_listen);
    out
}

fn load_valid(path: &Path, cache: &config::LoadCache) -> Option<Loaded> {
    match config::load_cached(path, None, cache) {
        Err(errors) => {
            eprintln!("{errors}");
            None
        }
        Ok(loaded) if !loaded.tenant_errors.is_empty() => {
            eprintln!("{}", loaded.all_errors());
            eprintln!(
                "refusing to start with an invalid config; `xgate check` lists the same errors"
            );
            None
        }
        Ok(loaded) => Some(loaded),
    }
}

/// Brings every tenant's storage to the latest migration; tenants already there cost
/// one catalog read in all.
async fn migrate_all(db: &Database, config: &Config) -> bool {
    let tenants: Vec<(String, String)> = config
        .tenants
        .values()
        .map(|t| (t.id.clone(), t.schema.clone()))
        .collect();
    let failures = db.migrate_tenants(&tenants).await;
    for (tenant, error) in &failures {
        tracing::error!(%tenant, %error, "migrating tenant storage failed");
    }
    tracing::info!(
        tenants = tenants.len(),
        failed = failures.len(),
        "tenant storage checked"
    );
    failures.is_empty()
}
