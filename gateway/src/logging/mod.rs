//! Logs through `tracing`, text for a terminal or JSON for a log pipeline. pingora and
//! other crates log through `log`; `tracing-log` (enabled by `init`) bridges them into
//! the same stream, inside the request's span when there is one.

mod tenant_files;

use std::path::PathBuf;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use xgate_tenants::config::LogFormat;

pub use tenant_files::TenantFiles;

/// `RUST_LOG` overrides the default filter (`info`, with pingora's chatter at `warn`).
/// With `tenant_dir`, each tenant's lines are also written to its own folder.
pub fn init(format: LogFormat, tenant_dir: Option<(PathBuf, usize)>) {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,pingora_core=warn,pingora=warn,sqlx=warn"));
    // Colours only for a person at a terminal, never into a file or the journal.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let tenant_files = tenant_dir.map(|(dir, days)| TenantFiles::new(dir, days));
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(tenant_files);
    let _ = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
}
