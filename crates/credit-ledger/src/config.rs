//! Where the ledger is and how to open it: flags, environment, an optional TOML file.
//!
//! Each setting is taken from the first place that has it:
//!
//! 1. a command-line flag;
//! 2. its `CREDIT_LEDGER_*` environment variable (clap reads both, so a flag wins);
//! 3. the TOML file named by `--config` / `CREDIT_LEDGER_CONFIG`;
//! 4. the default: an embedded SQLite database in `./credit-ledger-data`.
//!
//! The signing key lives in a file beside the database (`<data dir>/signing.key`), never in the
//! database: whoever can read a database backup must not be able to sign checkpoints.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::Args;
use ledger_core::checkpoint::LogSigner;
use ledger_store::{Clock, Store, StoreConfig};
use serde::Deserialize;
use tracing::info;

/// The data directory when none is configured.
pub const DEFAULT_DATA_DIR: &str = "./credit-ledger-data";

/// The SQLite file inside the data directory.
pub const DATABASE_FILE: &str = "ledger.db";

/// The signing-key file inside the data directory.
pub const KEY_FILE: &str = "signing.key";

/// The checkpoint origin (and key name) when none is configured.
pub const DEFAULT_ORIGIN: &str = "tianshui.amr/credit-ledger";

/// Where the ledger is: shared by every command that opens the store.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// A TOML file with any of: data_dir, database_url, pg_schema, key_file, origin, listen,
    /// bootstrap_admin_token.
    #[arg(long, env = "CREDIT_LEDGER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory: the SQLite database and the signing key [default:
    /// ./credit-ledger-data].
    #[arg(long, env = "CREDIT_LEDGER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Use PostgreSQL instead of the embedded database, e.g.
    /// postgres://ledger@localhost/ledger.
    #[arg(long, env = "CREDIT_LEDGER_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// The PostgreSQL schema (created when missing) [default: the connection's].
    #[arg(long, env = "CREDIT_LEDGER_PG_SCHEMA", value_name = "NAME")]
    pub pg_schema: Option<String>,
    /// The signing-key file [default: <data dir>/signing.key].
    #[arg(long, env = "CREDIT_LEDGER_KEY_FILE", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// The log's origin line in checkpoints, also the key's name
    /// [default: tianshui.amr/credit-ledger].
    #[arg(long, env = "CREDIT_LEDGER_ORIGIN")]
    pub origin: Option<String>,
}

/// The TOML configuration file; every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// See [`StoreArgs::data_dir`].
    pub data_dir: Option<PathBuf>,
    /// See [`StoreArgs::database_url`].
    pub database_url: Option<String>,
    /// See [`StoreArgs::pg_schema`].
    pub pg_schema: Option<String>,
    /// See [`StoreArgs::key_file`].
    pub key_file: Option<PathBuf>,
    /// See [`StoreArgs::origin`].
    pub origin: Option<String>,
    /// `serve`: the address to listen on.
    pub listen: Option<String>,
    /// `serve`: an unrecorded admin token for bootstrapping.
    pub bootstrap_admin_token: Option<String>,
}

impl FileConfig {
    /// Reads the file, refusing unknown keys so that a typo is not silently ignored.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the configuration file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("configuration file {} is not valid", path.display()))
    }
}

/// The resolved location of the ledger.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The database URL handed to the store.
    pub url: String,
    /// What to tell a person about where the data is (no password).
    pub data_description: String,
    /// The data directory (also where the key lives by default).
    pub data_dir: PathBuf,
    /// The PostgreSQL schema.
    pub pg_schema: Option<String>,
    /// The signing-key file.
    pub key_file: PathBuf,
    /// The checkpoint origin.
    pub origin: String,
    /// The rest of the file, for commands with settings of their own.
    pub file: FileConfig,
}

impl StoreArgs {
    /// Resolves flags, environment, file and defaults (see the module docs).
    pub fn resolve(&self) -> anyhow::Result<Resolved> {
        let file = match &self.config {
            Some(path) => FileConfig::read(path)?,
            None => FileConfig::default(),
        };
        let data_dir = self
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database_url = self.database_url.clone().or_else(|| file.database_url.clone());
        let key_file = self
            .key_file
            .clone()
            .or_else(|| file.key_file.clone())
            .unwrap_or_else(|| data_dir.join(KEY_FILE));
        let origin = self
            .origin
            .clone()
            .or_else(|| file.origin.clone())
            .unwrap_or_else(|| DEFAULT_ORIGIN.to_owned());
        let pg_schema = self.pg_schema.clone().or_else(|| file.pg_schema.clone());

        let (url, data_description) = match database_url {
            Some(url) if url.starts_with("postgres:") || url.starts_with("postgresql:") => {
                let shown = redact_password(&url);
                (url, format!("PostgreSQL at {shown}"))
            }
            Some(url) if url.starts_with("sqlite:") => {
                let shown = url.clone();
                (url, format!("SQLite at {shown}"))
            }
            Some(url) => bail!(
                "database URL {:?} is not accepted; use postgres://... or sqlite://<file>",
                redact_password(&url)
            ),
            None => {
                let path = data_dir.join(DATABASE_FILE);
                (
                    format!("sqlite://{}?mode=rwc", path.display()),
                    format!("SQLite file {}", path.display()),
                )
            }
        };
        Ok(Resolved { url, data_description, data_dir, pg_schema, key_file, origin, file })
    }
}

/// Hides the password of a URL such as `postgres://user:secret@host/db`.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((credentials, host)) = rest.split_once('@') else { return url.to_owned() };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// How a command treats a missing signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// Generate one on first start (commands that write the log).
    CreateIfMissing,
    /// Refuse to run without one (commands that only read or check the log).
    MustExist,
}

/// Loads the signing key, or generates it when `mode` allows.
pub fn load_key(resolved: &Resolved, mode: KeyMode) -> anyhow::Result<LogSigner> {
    if mode == KeyMode::MustExist && !resolved.key_file.exists() {
        bail!(
            "no signing key at {}; start the ledger once with `credit-ledger serve` (which \
             creates it), or name the key with --key-file",
            resolved.key_file.display()
        );
    }
    ledger_store::keys::load_or_generate(&resolved.key_file, &resolved.origin)
        .with_context(|| format!("signing key {}", resolved.key_file.display()))
}

/// Opens the store; creates the data directory first when the database is the embedded one.
pub async fn open_store(
    resolved: &Resolved,
    mode: KeyMode,
    clock: Option<Arc<dyn Clock>>,
) -> anyhow::Result<Store> {
    if resolved.url.starts_with("sqlite:") {
        if mode == KeyMode::MustExist && !database_exists(resolved) {
            bail!(
                "no ledger database at {}; start the ledger once with `credit-ledger serve`, or \
                 name it with --data-dir or --database-url",
                resolved.data_description
            );
        }
        std::fs::create_dir_all(&resolved.data_dir).with_context(|| {
            format!("creating the data directory {}", resolved.data_dir.display())
        })?;
    }
    let signer = Arc::new(load_key(resolved, mode)?);
    let mut config = StoreConfig::new(resolved.url.clone(), resolved.origin.clone(), signer);
    config.pg_schema = resolved.pg_schema.clone();
    if let Some(clock) = clock {
        config.clock = clock;
    }
    let store = Store::open(config)
        .await
        .with_context(|| format!("opening the ledger ({})", resolved.data_description))?;
    info!(data = %resolved.data_description, key = %resolved.key_file.display(), "ledger open");
    Ok(store)
}

/// Whether the embedded database file exists (always true for a server database).
fn database_exists(resolved: &Resolved) -> bool {
    let Some(rest) = resolved.url.strip_prefix("sqlite://") else { return true };
    let path = rest.split('?').next().unwrap_or(rest);
    Path::new(path).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_defaults_fill_the_rest() {
        let dir = std::env::temp_dir().join(format!("cl-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ledger.toml");
        std::fs::write(&file, "data_dir = \"/srv/ledger\"\norigin = \"from.file/log\"\n").unwrap();
        let args = StoreArgs {
            config: Some(file),
            origin: Some("from.flag/log".into()),
            ..StoreArgs::default()
        };
        let resolved = args.resolve().unwrap();
        assert_eq!(resolved.origin, "from.flag/log");
        assert_eq!(resolved.data_dir, PathBuf::from("/srv/ledger"));
        assert_eq!(resolved.key_file, PathBuf::from("/srv/ledger/signing.key"));
        assert_eq!(resolved.url, "sqlite:///srv/ledger/ledger.db?mode=rwc");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unknown_file_keys_are_refused_and_passwords_hidden() {
        assert!(toml::from_str::<FileConfig>("data_dirr = \"x\"").is_err());
        assert_eq!(redact_password("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_password("postgres://u@h/db"), "postgres://u@h/db");
    }
}
