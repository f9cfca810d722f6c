//! `verify`: the exit status says whether the ledger verified (0) or not (1).
//!
//! Three things can be verified:
//!
//! 1. a local database (the default): `Store::verify` recomputes every hash, chain, Merkle
//!    tile and checkpoint, trusting nothing stored;
//! 2. a running server (`--server`), as an auditor without database access would, in steps:
//!    (a) fetch the latest signed checkpoint and open it with the verifier key (given with
//!    `--verifier-key`, or fetched from the server and then only trusted on first use);
//!    (b) prove that it extends an older checkpoint (the one kept from last time with
//!    `--previous-checkpoint`, else a smaller one the server holds) with a consistency proof,
//!    checked against the two *signed* roots; (c) spot-check events spread over the log:
//!    recompute each event's hash from its fields and check its inclusion proof against the
//!    signed root; (d) keep the checkpoint for next time (`--save-checkpoint`);
//! 3. an offline bundle (`--bundle`): `ledger_core::bundle::verify_bundle` with the key the
//!    auditor trusts.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Args;
use ledger_core::bundle::{verify_bundle, BundledEvent, EventBundle};
use ledger_core::checkpoint::{Checkpoint, NoteVerifier};
use ledger_core::merkle;
use ledger_core::Hash32;
use serde::Deserialize;

use crate::config::{open_store, KeyMode, StoreArgs};
use crate::http::Client;
use crate::progress::Progress;
use crate::{output, Outcome};

/// Events spot-checked on a server by default.
pub const DEFAULT_SAMPLES: u64 = 16;

/// `--help` examples.
pub const EXAMPLES: &str = "Examples:\n  \
    credit-ledger verify                                  the local database, every event\n  \
    credit-ledger verify --data-dir /var/lib/credit-ledger --json\n  \
    credit-ledger verify --server http://127.0.0.1:8080 --token $AUDITOR_TOKEN \\\n      \
    --verifier-key \"$(cat verifier.txt)\" --previous-checkpoint last.txt \
    --save-checkpoint last.txt\n  \
    credit-ledger verify --bundle bundle.json --verifier-key \"$(cat verifier.txt)\"\n\n\
    Exit status: 0 verified, 1 not verified, 2 could not check.";

/// `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Where the ledger is (local verification).
    #[command(flatten)]
    pub store: StoreArgs,
    /// Verify a running server over HTTP instead, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL", conflicts_with = "bundle")]
    pub server: Option<String>,
    /// An auditor's bearer token for --server.
    #[arg(long, env = "CREDIT_LEDGER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Verify an offline bundle file (from /v1/log/bundle/{position}) instead.
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// The verifier key you trust (`<name>+<id>+<key>`), obtained out of band.
    #[arg(long, value_name = "KEY")]
    pub verifier_key: Option<String>,
    /// With --bundle and no --verifier-key: trust the key inside the bundle (proves only that
    /// the bundle is consistent with itself).
    #[arg(long)]
    pub trust_bundle_key: bool,
    /// With --server: a checkpoint note kept from an earlier check; the log must extend it.
    #[arg(long, value_name = "FILE")]
    pub previous_checkpoint: Option<PathBuf>,
    /// With --server: write the verified checkpoint note here, for the next check.
    #[arg(long, value_name = "FILE")]
    pub save_checkpoint: Option<PathBuf>,
    /// With --server: how many events to spot-check.
    #[arg(long, default_value_t = DEFAULT_SAMPLES)]
    pub samples: u64,
    /// Print the local report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `verify`.
pub async fn run(args: VerifyArgs) -> anyhow::Result<Outcome> {
    if let Some(path) = &args.bundle {
        return bundle(path, &args);
    }
    if let Some(server) = &args.server {
        return remote(server, &args).await;
    }
    local(&args).await
}

/// Mode 1 of the module docs.
async fn local(args: &VerifyArgs) -> anyhow::Result<Outcome> {
    let resolved = args.store.resolve()?;
    let store = open_store(&resolved, KeyMode::MustExist, None).await?;
    let mut progress = Progress::new("verifying", "events", 0);
    let report = store
        .verify(|p| {
            progress.set_total(p.total);
            progress.set(p.events);
        })
        .await;
    progress.finish();
    store.close().await;
    let report = report.context("verifying")?;

    if args.json {
        output::json(&report);
    } else if report.is_ok() {
        output::line(&format!(
            "verified: {} events in {} streams, {} checkpoints, root {} ({:.1} s)",
            report.events,
            report.streams,
            report.checkpoints,
            report.root,
            report.elapsed.as_secs_f64()
        ));
    } else {
        output::line(&format!("NOT VERIFIED: {} problem(s) found", report.problems.len()));
        for problem in &report.problems {
            let detail = serde_json::to_string(problem).unwrap_or_default();
            match problem.position {
                Some(position) => output::line(&format!("  at position {position}: {detail}")),
                None => output::line(&format!("  {detail}")),
            }
        }
    }
    Ok(if report.is_ok() { Outcome::Success } else { Outcome::CheckFailed })
}

/// Mode 3 of the module docs.
fn bundle(path: &PathBuf, args: &VerifyArgs) -> anyhow::Result<Outcome> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let bundle: EventBundle = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a bundle", path.display()))?;
    let key = match (&args.verifier_key, args.trust_bundle_key) {
        (Some(key), _) => key.clone(),
        (None, true) => bundle.verifier_key.clone(),
        (None, false) => bail!(
            "give the verifier key you trust with --verifier-key (the one in the bundle proves \
             nothing on its own), or --trust-bundle-key to check internal consistency only"
        ),
    };
    let verifier = NoteVerifier::parse(key.trim()).context("the verifier key")?;
    match verify_bundle(&bundle, &verifier) {
        Ok(verified) => {
            output::line(&format!(
                "verified: event {} ({} v{}) of {} with hash {} is at position {} of the log of \
                 size {} signed by {}",
                verified.event.event_id,
                verified.event.event_type,
                verified.event.schema_version,
                verified.event.stream,
                verified.event.hash,
                verified.event.position,
                verified.checkpoint.size,
                verifier.name()
            ));
            Ok(Outcome::Success)
        }
        Err(e) => {
            output::line(&format!("NOT VERIFIED: {e}"));
            Ok(Outcome::CheckFailed)
        }
    }
}

#[derive(Debug, Deserialize)]
struct ProofBody {
    hashes: Vec<Hash32>,
}

#[derive(Debug, Deserialize)]
struct LogPageBody {
    events: Vec<BundledEvent>,
}

/// Mode 2 of the module docs; a failed check is reported and counted, not returned as an error.
async fn remote(server: &str, args: &VerifyArgs) -> anyhow::Result<Outcome> {
    let client = Client::new(server, args.token.clone())?;
    let mut failures = Vec::new();

    // a. The latest checkpoint, opened with the trusted key.
    let key = match &args.verifier_key {
        Some(key) => key.clone(),
        None => {
            let key = client.get_text("/v1/log/verifier-key").await?;
            output::line(&format!(
                "warning: trusting the server's own verifier key {} (pass --verifier-key to check \
                 against one obtained out of band)",
                key.trim()
            ));
            key
        }
    };
    let verifier = NoteVerifier::parse(key.trim()).context("the verifier key")?;
    let origin = verifier.name().to_owned();
    let note = client.get_text("/v1/log/checkpoint").await?;
    let latest = match verifier.open_checkpoint(&note, &origin) {
        Ok(checkpoint) => checkpoint,
        Err(e) => {
            output::line(&format!("NOT VERIFIED: the latest checkpoint does not open: {e}"));
            return Ok(Outcome::CheckFailed);
        }
    };
    output::line(&format!("checkpoint: size {} root {}", latest.size, latest.root));

    // b. Consistency with an older checkpoint.
    let older = match &args.previous_checkpoint {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(
                verifier
                    .open_checkpoint(&text, &origin)
                    .with_context(|| format!("{}", path.display()))?,
            )
        }
        None if latest.size > 1 => {
            let text =
                client.get_text(&format!("/v1/log/checkpoint?size={}", latest.size / 2)).await?;
            match verifier.open_checkpoint(&text, &origin) {
                Ok(c) => Some(c),
                Err(e) => {
                    failures.push(format!("an older checkpoint does not open: {e}"));
                    None
                }
            }
        }
        None => None,
    };
    if let Some(older) = older {
        match consistency(&client, &older, &latest).await {
            Ok(()) => output::line(&format!(
                "consistent: the log of size {} extends the log of size {}",
                latest.size, older.size
            )),
            Err(e) => {
                failures.push(format!("consistency {} -> {}: {e:#}", older.size, latest.size))
            }
        }
    }

    // c. Spot checks.
    let positions = sample_positions(latest.size, args.samples);
    for &position in &positions {
        if let Err(e) = inclusion(&client, position, &latest).await {
            failures.push(format!("event at position {position}: {e:#}"));
        }
    }
    output::line(&format!("spot-checked {} events against the signed root", positions.len()));

    // d. Keep the checkpoint.
    if failures.is_empty() {
        if let Some(path) = &args.save_checkpoint {
            std::fs::write(path, &note).with_context(|| format!("writing {}", path.display()))?;
        }
        output::line("verified");
        Ok(Outcome::Success)
    } else {
        output::line(&format!("NOT VERIFIED: {} problem(s)", failures.len()));
        for failure in failures {
            output::line(&format!("  {failure}"));
        }
        Ok(Outcome::CheckFailed)
    }
}

async fn consistency(
    client: &Client,
    older: &Checkpoint,
    newer: &Checkpoint,
) -> anyhow::Result<()> {
    if older.size > newer.size {
        bail!("the log shrank from {} to {} events", older.size, newer.size);
    }
    let path = format!("/v1/log/proof/consistency?old={}&new={}", older.size, newer.size);
    let proof: ProofBody = client.get_json(&path).await?;
    merkle::verify_consistency(older.size, newer.size, &older.root, &newer.root, &proof.hashes)?;
    Ok(())
}

async fn inclusion(client: &Client, position: u64, checkpoint: &Checkpoint) -> anyhow::Result<()> {
    let page: LogPageBody =
        client.get_json(&format!("/v1/log/events?from={position}&limit=1")).await?;
    let Some(event) = page.events.into_iter().next().filter(|e| e.position == position) else {
        bail!("the server returned no event at this position");
    };
    let recorded = event.to_recorded()?;
    let computed = recorded.compute_hash();
    if computed != recorded.hash {
        bail!("its fields hash to {computed}, not to the stated {}", recorded.hash);
    }
    let path = format!("/v1/log/proof/inclusion?position={position}&size={}", checkpoint.size);
    let proof: ProofBody = client.get_json(&path).await?;
    let leaf = merkle::leaf_hash(&recorded.hash);
    merkle::verify_inclusion(position, checkpoint.size, &leaf, &proof.hashes, &checkpoint.root)?;
    Ok(())
}

/// `samples` positions spread evenly over a log of `size` events, first and last included.
pub fn sample_positions(size: u64, samples: u64) -> Vec<u64> {
    if size == 0 || samples == 0 {
        return Vec::new();
    }
    let n = samples.min(size);
    let mut positions: Vec<u64> =
        (0..n).map(|i| if n == 1 { size - 1 } else { (size - 1) * i / (n - 1) }).collect();
    positions.dedup();
    positions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_cover_both_ends() {
        assert_eq!(sample_positions(10, 3), vec![0, 4, 9]);
        assert_eq!(sample_positions(2, 16), vec![0, 1]);
        assert!(sample_positions(0, 5).is_empty());
    }
}
