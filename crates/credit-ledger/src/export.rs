//! `export`: the whole log as NDJSON, one event per line in position order, with everything
//! the ledger sealed (position, stream version, recorded time and recorder, previous hash and
//! hash). Personal data is not exported: it lives off the log and may be erased.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use ledger_store::READ_PAGE_EVENTS_MAX;

use crate::config::{open_store, KeyMode, StoreArgs};
use crate::ndjson::EventLine;
use crate::progress::Progress;
use crate::Outcome;

/// `--help` examples.
pub const EXAMPLES: &str = "Examples:\n  \
    credit-ledger export --out ledger.ndjson\n  \
    credit-ledger export --from 100000 | gzip > tail.ndjson.gz\n  \
    credit-ledger export --out all.ndjson && \
    credit-ledger import --replay all.ndjson --data-dir copy";

/// `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Where the ledger is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Where to write (`-` for standard output).
    #[arg(long, short, default_value = "-")]
    pub out: PathBuf,
    /// The first position to export.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
}

/// Runs `export`.
pub async fn run(args: ExportArgs) -> anyhow::Result<Outcome> {
    let resolved = args.store.resolve()?;
    let store = open_store(&resolved, KeyMode::MustExist, None).await?;
    let result = export(&store, &args).await;
    store.close().await;
    result.map(|()| Outcome::Success)
}

async fn export(store: &ledger_store::Store, args: &ExportArgs) -> anyhow::Result<()> {
    let size = store.size().await?;
    let sink: Box<dyn std::io::Write + Send> = if crate::is_std_stream(&args.out) {
        Box::new(std::io::stdout())
    } else {
        Box::new(
            std::fs::File::create(&args.out)
                .with_context(|| format!("creating {}", args.out.display()))?,
        )
    };
    let mut out = std::io::BufWriter::new(sink);
    let mut progress = Progress::new("exporting", "events", size.saturating_sub(args.from));
    let mut from = args.from;
    while from < size {
        let page = store.read_log_range(from, size.min(from + READ_PAGE_EVENTS_MAX as u64)).await?;
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for event in &page {
            writeln!(out, "{}", EventLine::of_recorded(event).to_json())?;
        }
        progress.set(from - args.from);
    }
    out.flush().context("writing the export")?;
    progress.finish();
    Ok(())
}
