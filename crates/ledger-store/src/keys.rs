//! The log's signing key on disk, kept outside the database.
//!
//! The key file holds one line, the signed-note secret-key form of
//! [`LogSigner::to_secret_string`]. It is created on first start with mode 0600, written to a
//! temporary file and renamed into place so a crash never leaves half a key.

use std::io::Write as _;
use std::path::Path;

use ledger_core::checkpoint::LogSigner;
use tracing::info;

use crate::error::StoreError;

/// Loads the key at `path`, or generates one named `name` there when the file is missing.
pub fn load_or_generate(path: &Path, name: &str) -> Result<LogSigner, StoreError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let signer = LogSigner::from_secret_string(&text)
                .map_err(|e| StoreError::Key(format!("{}: {e}", path.display())))?;
            if signer.name() != name {
                return Err(StoreError::Key(format!(
                    "{} holds a key named {:?}, but the log's origin is {name:?}",
                    path.display(),
                    signer.name()
                )));
            }
            info!(path = %path.display(), "signing key loaded");
            Ok(signer)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let signer = LogSigner::generate(name).map_err(|e| StoreError::Key(e.to_string()))?;
            write_private(path, &signer.to_secret_string())?;
            info!(path = %path.display(), verifier = %signer.verifier(), "signing key generated");
            Ok(signer)
        }
        Err(e) => Err(StoreError::Key(format!("{}: {e}", path.display()))),
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), StoreError> {
    let err = |e: std::io::Error| StoreError::Key(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(err)?;
    file.write_all(text.as_bytes()).map_err(err)?;
    file.write_all(b"\n").map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    Ok(())
}
