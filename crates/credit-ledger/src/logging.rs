//! Logs on stderr through `tracing`: human-readable text by default, JSON lines on request.
//!
//! The filter is `CREDIT_LEDGER_LOG` (or `RUST_LOG`), in `tracing-subscriber`'s `EnvFilter`
//! syntax, defaulting to `info` with the database driver's statement logs at `warn`.

use tracing_subscriber::EnvFilter;

/// The default filter.
const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

/// Installs the global subscriber.
pub fn init(format: LogFormat) -> anyhow::Result<()> {
    let filter = std::env::var("CREDIT_LEDGER_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| DEFAULT_FILTER.to_owned());
    let filter = EnvFilter::try_new(&filter)
        .map_err(|e| anyhow::anyhow!("log filter {filter:?} is not valid: {e}"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => {
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            builder.with_ansi(ansi).try_init()
        }
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("{e}"))
}
