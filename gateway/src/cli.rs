//! The command line: `serve`, `check`, `migrate`.

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
    /// Create or update every tenant's schema (PostgreSQL) or file (SQLite). Idempotent.
    Migrate {
        #[arg(long, short, default_value = "config/xgate.toml", env = "XGATE_CONFIG")]
        config: PathBuf,
    },
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
        Command::Migrate { config } => crate::serve::migrate_only(&config),
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
