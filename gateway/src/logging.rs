//! Logs through `tracing`, text for a terminal or JSON for a log pipeline. pingora and
//! other crates log through `log`; `tracing-log` (enabled by `init`) bridges them into
//! the same stream, inside the request's span when there is one.

use tracing_subscriber::EnvFilter;
use xgate_tenants::config::LogFormat;

/// `RUST_LOG` overrides the default filter (`info`, with pingora's chatter at `warn`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,pingora_core=warn,pingora=warn,sqlx=warn"));
    use std::io::IsTerminal;
    // Colours only for a person at a terminal, never into a file or the journal.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none());
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
