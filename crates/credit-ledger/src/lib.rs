//! The `credit-ledger` command line: one binary for operators, recorders and auditors.
//!
//! Every command is a module here, so that the binary (`src/main.rs`) is a single call and the
//! root test suite can depend on this package (which makes cargo build the binary it runs):
//!
//! - [`serve`]: the HTTP service on an embedded SQLite file or PostgreSQL, optionally with the
//!   demo data set ([`demo`]);
//! - [`import`], [`export`]: events as NDJSON ([`ndjson`] is the line format);
//! - [`verify`]: a local database, a running server over HTTP, or an offline bundle;
//! - [`admin`]: checkpoints, the verifier key, principals and tokens.
//!
//! Errors are `anyhow` here and nowhere else in the workspace: this is the edge where they are
//! reported to a person and turned into an exit status.

pub mod admin;
pub mod config;
pub mod demo;
pub mod export;
pub mod http;
pub mod import;
pub mod logging;
pub mod ndjson;
pub mod output;
pub mod progress;
pub mod serve;
pub mod verify;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::StoreArgs;

/// The exit status of a command that ran but found something wrong (a failed verification,
/// rejected import lines); 2 and up are left to usage and runtime errors.
pub const EXIT_FAILED_CHECK: u8 = 1;

/// The exit status of a command that could not run (bad configuration, unreachable database).
pub const EXIT_ERROR: u8 = 2;

/// Credit Ledger: an event-sourced, hash-chained ledger of market entities' credit records.
#[derive(Debug, Parser)]
#[command(
    name = "credit-ledger",
    version,
    after_help = "Examples:\n  \
        credit-ledger serve --demo                  start with the demo city\n  \
        credit-ledger verify                        check every hash, chain and checkpoint\n  \
        credit-ledger import history.ndjson         append events, one JSON object per line\n  \
        credit-ledger demo generate --out demo.ndjson --entities 3000 --seed 7\n\n\
        Configuration comes from flags, then CREDIT_LEDGER_* environment variables, then the \
        TOML file given by --config, then defaults."
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        env = "CREDIT_LEDGER_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: logging::LogFormat,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the HTTP service.
    #[command(after_help = serve::EXAMPLES)]
    Serve(serve::ServeArgs),
    /// Generate or load the demo data set (a seeded city in the Tianshui area).
    #[command(subcommand)]
    Demo(demo::DemoCommand),
    /// Append events from an NDJSON file, with a per-line error report.
    #[command(after_help = import::EXAMPLES)]
    Import(import::ImportArgs),
    /// Write the whole log as NDJSON, with positions and hashes.
    #[command(after_help = export::EXAMPLES)]
    Export(export::ExportArgs),
    /// Verify a local database, a running server, or an offline bundle; exit 0 only if it
    /// verified.
    #[command(after_help = verify::EXAMPLES)]
    Verify(verify::VerifyArgs),
    /// Rebuild the projections into a fresh generation, then swap it in.
    #[command(after_help = "Examples:\n  credit-ledger rebuild\n  \
                      credit-ledger rebuild --database-url postgres://ledger@db/ledger")]
    Rebuild(RebuildArgs),
    /// Sign a checkpoint of the log now and print the signed note.
    #[command(after_help = "Examples:\n  credit-ledger checkpoint\n  \
                      credit-ledger checkpoint --data-dir /var/lib/credit-ledger > checkpoint.txt")]
    Checkpoint(StoreOnly),
    /// The log's signing key.
    #[command(subcommand)]
    Key(admin::KeyCommand),
    /// Register, list and revoke principals (the service's callers).
    #[command(subcommand)]
    Principal(admin::PrincipalCommand),
    /// Issue and revoke bearer tokens.
    #[command(subcommand)]
    Token(admin::TokenCommand),
}

/// A command that needs only the store.
#[derive(Debug, Args)]
pub struct StoreOnly {
    /// Where the ledger is.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `rebuild`.
#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// Where the ledger is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Rebuild only this projection.
    #[arg(long)]
    pub projection: Option<String>,
}

/// A file argument where `-` means standard input or output.
pub fn is_std_stream(path: &std::path::Path) -> bool {
    path == std::path::Path::new("-")
}

/// Parses the command line, runs the command on a Tokio runtime and maps the outcome to an
/// exit status: 0 success, [`EXIT_FAILED_CHECK`] for a check that failed, [`EXIT_ERROR`] for a
/// command that could not run.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = logging::init(cli.log_format) {
        output::error(&format!("could not start logging: {e}"));
        return ExitCode::from(EXIT_ERROR);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            output::error(&format!("could not start the runtime: {e}"));
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::from(EXIT_FAILED_CHECK),
        Err(e) => {
            output::error(&format!("error: {e:#}"));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// How a command that ran ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything went as asked.
    Success,
    /// The command ran, but what it checked or imported was not (all) good.
    CheckFailed,
}

/// Runs one command.
pub async fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Serve(args) => serve::run(args).await,
        Command::Demo(command) => demo::run(command).await,
        Command::Import(args) => import::run(args).await,
        Command::Export(args) => export::run(args).await,
        Command::Verify(args) => verify::run(args).await,
        Command::Rebuild(args) => rebuild(args).await,
        Command::Checkpoint(args) => admin::checkpoint(args.store).await,
        Command::Key(command) => admin::key(command).await,
        Command::Principal(command) => admin::principal(command).await,
        Command::Token(command) => admin::token(command).await,
    }
}

/// `rebuild`: rebuilds the credit-status projection into a fresh generation and swaps it in
/// (a running server keeps answering from the old one meanwhile).
async fn rebuild(args: RebuildArgs) -> anyhow::Result<Outcome> {
    use anyhow::Context as _;
    if let Some(name) = &args.projection {
        if name != ledger_projections::PROJECTION {
            anyhow::bail!(
                "projection {name:?} is unknown; this build has one: {:?}",
                ledger_projections::PROJECTION
            );
        }
    }
    let resolved = args.store.resolve()?;
    let store = config::open_store(&resolved, config::KeyMode::MustExist, None).await?;
    let result = async {
        let projector = ledger_projections::Projector::new(store.clone())
            .await
            .context("opening projections")?;
        let mut progress = progress::Progress::new("rebuilding projections", "events", 0);
        let report = projector
            .rebuild(|p| {
                progress.set_total(p.snapshot);
                progress.set(p.events);
            })
            .await
            .context("rebuilding")?;
        progress.finish();
        anyhow::Ok(report)
    }
    .await;
    store.close().await;
    let report = result?;
    output::line(&format!(
        "rebuilt generation {}: {} entities from {} events, caught up to position {} ({:.1} s; \
         the retired generation deleted in {:.1} s more)",
        report.generation,
        report.entities,
        report.events,
        report.position,
        report.elapsed.as_secs_f64(),
        report.retired_deleted_in.as_secs_f64()
    ));
    Ok(Outcome::Success)
}
