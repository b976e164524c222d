//! The command line: `serve`, `check`, `diagnose`, `migrate`, `reload`, `import-iis`, `admin`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "xgate",
    version,
    about = "Multi-tenant gateway for the eXpress Outlook add-in"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the add-in API for every tenant in the config.
    Serve {
        #[arg(long, short, default_value = "config/xgate.toml", env = "XGATE_CONFIG")]
        config: PathBuf,
        /// Do not create or update tenant schemas at start (run `xgate migrate` yourself).
        #[arg(long)]
        no_migrate: bool,
        /// Take the listening sockets over from a running xgate (pingora graceful upgrade:
        /// start this, then send SIGQUIT to the old process).
        #[arg(long)]
        upgrade: bool,
    },
    /// Validate the config tree and print every error; exit 1 if there is any.
    Check {
        #[arg(long, short, default_value = "config/xgate.toml", env = "XGATE_CONFIG")]
        config: PathBuf,
    },
    /// Check one tenant step by step, as the installation guide does by hand: config, bot
    /// (with and without its token), optionally a test conference, database, directory.
    /// Prints OK/FAIL/SKIP per step with a fix under each failure; exit 1 if any failed.
    Diagnose(crate::diagnose::DiagnoseArgs),
    /// Ask the running xgate (found through the config's `ops_listen`) to reload now;
    /// prints the report and exits 1 if nothing could be applied.
    Reload {
        #[arg(long, short, default_value = "config/xgate.toml", env = "XGATE_CONFIG")]
        config: PathBuf,
    },
    /// Turn old IIS deployments (appsettings.Production.json of express-core-service and
    /// express-template-service) into `tenants.d/<id>.toml` files, secrets as `env:`.
    ImportIis(crate::import_iis::ImportIisArgs),
    /// Create or update every tenant's schema (PostgreSQL) or file (SQLite). Idempotent.
    Migrate {
        #[arg(long, short, default_value = "config/xgate.toml", env = "XGATE_CONFIG")]
        config: PathBuf,
    },
    /// The tenants' admin UI, for the operator.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Give a tenant's admin login (created if missing) a new random password, printed
    /// once, and log it out everywhere.
    ResetPassword {
        #[arg(long, short, default_value = "config/xgate.toml", env = "XGATE_CONFIG")]
        config: PathBuf,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        login: String,
    },
    /// Read a password from standard input and print its argon2id hash, for
    /// `[server.ops_admin] password_hash`.
    HashPassword,
}

/// The runtime of a one-shot command (`reload`, `migrate`, `diagnose` ...): one thread is
/// plenty, and `serve`'s runtimes are pingora's business. `None` after saying why.
pub fn command_runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .inspect_err(|e| eprintln!("cannot start a runtime: {e}"))
        .ok()
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            no_migrate,
            upgrade,
        } => crate::serve::serve(&config, !no_migrate, upgrade),
        Command::Check { config } => check(&config),
        Command::Diagnose(args) => crate::diagnose::run(&args),
        Command::Migrate { config } => crate::serve::migrate_only(&config),
        Command::Reload { config } => reload(&config),
        Command::ImportIis(args) => crate::import_iis::run(&args),
        Command::Admin(AdminCommand::ResetPassword {
            config,
            tenant,
            login,
        }) => reset_password(&config, &tenant, &login),
        Command::Admin(AdminCommand::HashPassword) => hash_password(),
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    match xgate_tenants::config::load(path, None) {
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("config is invalid: {} error(s)", errors.0.len());
            ExitCode::FAILURE
        }
        Ok(loaded) if !loaded.tenant_errors.is_empty() => {
            let errors = loaded.all_errors();
            eprintln!("{errors}");
            eprintln!(
                "config is invalid: {} error(s) in {} tenant(s)",
                errors.0.len(),
                loaded.tenant_errors.len()
            );
            ExitCode::FAILURE
        }
        Ok(loaded) => {
            println!(
                "config OK: {} tenant(s), database {}",
                loaded.config.tenants.len(),
                if loaded.config.database.url.starts_with("postgres") {
                    "postgres"
                } else {
                    "sqlite"
                }
            );
            ExitCode::SUCCESS
        }
    }
}

/// Reads only `[server] ops_listen` from the tree: the running process does the real
/// validation, and a tree with tenant errors must still be reloadable.
fn reload(path: &std::path::Path) -> ExitCode {
    let ops = match xgate_tenants::config::load(path, None) {
        Ok(loaded) => loaded.config.server.ops_listen,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("cannot read `[server] ops_listen` from the config; nothing sent");
            return ExitCode::FAILURE;
        }
    };
    let Some(rt) = crate::cli::command_runtime() else {
        return ExitCode::FAILURE;
    };
    let url = format!("http://{ops}/reload");
    let result = rt.block_on(async {
        let resp = reqwest::Client::new().post(&url).send().await?;
        let status = resp.status();
        let body = resp.text().await?;
        Ok::<_, reqwest::Error>((status, body))
    });
    match result {
        Ok((status, body)) => {
            println!("{body}");
            if status.is_success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("cannot reach xgate at {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn reset_password(path: &std::path::Path, tenant_id: &str, login: &str) -> ExitCode {
    let loaded = match xgate_tenants::config::load(path, None) {
        Ok(l) => l,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::FAILURE;
        }
    };
    let config = loaded.config;
    let Some(tenant) = config.tenants.get(tenant_id) else {
        eprintln!("no valid tenant `{tenant_id}` in {}", path.display());
        return ExitCode::FAILURE;
    };
    let login = login.trim();
    if login.is_empty() || login.chars().any(char::is_whitespace) {
        eprintln!("--login must be a login without spaces");
        return ExitCode::FAILURE;
    }
    let db = match xgate_tenants::store::Database::open(
        &config.database.url,
        config.database.max_connections,
    ) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("cannot open the database: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tenant = xgate_tenants::Tenant {
        store: db.tenant(&tenant.id, &tenant.schema),
        config: tenant.clone(),
    };
    let Some(rt) = crate::cli::command_runtime() else {
        return ExitCode::FAILURE;
    };
    let result = rt.block_on(async {
        db.migrate_tenant(&tenant.config.id, &tenant.config.schema)
            .await
            .map_err(|e| e.to_string())?;
        xgate_admin::reset_password(&tenant, login)
            .await
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(password) => {
            println!("new password for `{login}` of tenant `{tenant_id}`: {password}");
            println!("(shown once; every session of `{login}` was logged out)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot reset the password: {e}");
            ExitCode::FAILURE
        }
    }
}

fn hash_password() -> ExitCode {
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("cannot read the password: {e}");
        return ExitCode::FAILURE;
    }
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if let Err(e) = xgate_admin::auth::check_new_password(&password, None) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    let hashed = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            rt.block_on(xgate_admin::auth::hash_password(password))
                .map_err(|e| e.to_string())
        });
    match hashed {
        Ok(h) => {
            println!("{h}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot hash: {e}");
            ExitCode::FAILURE
        }
    }
}
