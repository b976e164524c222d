//! Command line entry point: parses flags, binds, announces the address on stdout, serves.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use tracing_subscriber::EnvFilter;
use xgate_bot_sim::state::{DEFAULT_BASE_PATH, DEFAULT_LINK_BASE};
use xgate_bot_sim::users::{self, Directory};
use xgate_bot_sim::{Auth, Config, Sim, app};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AuthMode {
    None,
    Bearer,
    Basic,
}

/// Simulator of the eXpress Conference Bot API, for xgate's tests and demos.
#[derive(Parser)]
#[command(name = "xgate-bot-sim", version)]
struct Cli {
    /// Address to listen on; port 0 picks a free port (see the stdout line).
    #[arg(long, default_value = "127.0.0.1:4000")]
    listen: SocketAddr,

    /// Base path of the conferences API (matched case-insensitively, trailing slash optional).
    #[arg(long, default_value = DEFAULT_BASE_PATH)]
    base_path: String,

    /// How bot API calls must authenticate.
    #[arg(long, value_enum, default_value_t = AuthMode::None)]
    auth: AuthMode,

    /// Bearer token required with `--auth bearer`.
    #[arg(long, env = "XGATE_SIM_TOKEN", hide_env_values = true)]
    token: Option<String>,

    /// User name required with `--auth basic`.
    #[arg(long)]
    basic_user: Option<String>,

    /// Password required with `--auth basic`.
    #[arg(long, env = "XGATE_SIM_BASIC_PASSWORD", hide_env_values = true)]
    basic_password: Option<String>,

    /// Users file, one `email,ad_login` per line; only listed users then exist.
    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,

    /// Users given inline: `a@x.test,b@x.test:b_login,:only_login`; repeatable.
    #[arg(long, value_name = "LIST")]
    users_inline: Vec<String>,

    /// Join links are this prefix plus an opaque room id.
    #[arg(long, default_value = DEFAULT_LINK_BASE)]
    link_base: String,
}

impl Cli {
    fn into_config(self) -> Result<Config, String> {
        let auth = match self.auth {
            AuthMode::None => Auth::None,
            AuthMode::Bearer => {
                let token = self
                    .token
                    .filter(|t| !t.is_empty())
                    .ok_or("--auth bearer needs --token or XGATE_SIM_TOKEN")?;
                if token.len() < 40 {
                    tracing::warn!(
                        "bearer token is shorter than the 40 characters real installations require"
                    );
                }
                Auth::Bearer { token }
            }
            AuthMode::Basic => match (self.basic_user, self.basic_password) {
                (Some(user), Some(password)) => Auth::Basic { user, password },
                _ => return Err("--auth basic needs --basic-user and --basic-password".into()),
            },
        };

        let mut entries = Vec::new();
        if let Some(path) = &self.users {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read users file {}: {e}", path.display()))?;
            let parsed = users::parse_users_file(&text)
                .map_err(|e| format!("users file {}: {e}", path.display()))?;
            entries.extend(parsed);
        }
        for list in &self.users_inline {
            entries.extend(
                users::parse_users_inline(list).map_err(|e| format!("--users-inline: {e}"))?,
            );
        }
        let closed = self.users.is_some() || !self.users_inline.is_empty();
        let users = if closed {
            Directory::closed(entries)
        } else {
            Directory::open()
        };

        Ok(Config {
            base_path: self.base_path,
            auth,
            users,
            link_base: self.link_base,
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let cli = Cli::parse();
    let listen = cli.listen;
    let config = match cli.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("xgate-bot-sim: {e}");
            return ExitCode::from(2);
        }
    };

    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("xgate-bot-sim: cannot listen on {listen}: {e}");
            return ExitCode::from(1);
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("xgate-bot-sim: cannot read bound address: {e}");
            return ExitCode::from(1);
        }
    };

    tracing::info!(
        base_path = %config.base_path,
        auth = config.auth.mode(),
        open_directory = config.users.is_open(),
        "starting"
    );
    // Test harnesses read this one line to learn the port; it must be flushed now, since
    // stdout to a pipe is block-buffered.
    let mut stdout = std::io::stdout();
    if writeln!(stdout, "xgate-bot-sim listening on http://{addr}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        eprintln!("xgate-bot-sim: cannot write to stdout");
    }

    let sim = Arc::new(Sim::new(config));
    let served = axum::serve(listener, app(sim))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    match served {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xgate-bot-sim: server error: {e}");
            ExitCode::from(1)
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for ctrl-c: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
