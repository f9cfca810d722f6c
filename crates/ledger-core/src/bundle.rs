//! Offline evidence for one event: the event, its inclusion proof and a signed checkpoint.
//!
//! An [`EventBundle`] lets anyone who trusts the log's verifier key check, with no further
//! access to the server, that an event with exactly these fields is at its position in the
//! log that the key signed. [`verify_bundle`] does so in four steps, each of which fails
//! closed:
//!
//! 1. rebuild the envelope from the bundle's fields (the payload is put back into canonical
//!    form, which is unique) and recompute its hash, which must equal the stated hash: any
//!    edit of a field shows here;
//! 2. open the checkpoint note with the trusted key: a forged or edited checkpoint fails its
//!    signature;
//! 3. the proof must be for the checkpoint's size, so it cannot be paired with a root the key
//!    never signed;
//! 4. the inclusion proof must lead from the event's leaf hash at its position to the signed
//!    root.
//!
//! The bundle carries the verifier key string too, for convenience only: the caller must pass
//! the key it trusts, obtained out of band, or the check proves nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::canonical::{self, CanonicalError};
use crate::checkpoint::{Checkpoint, NoteError, NoteVerifier};
use crate::event::{EventError, RecordedEvent, StreamName};
use crate::merkle::{self, ProofError};
use crate::Hash32;

/// The format name written into every bundle, so that later formats can be told apart.
pub const BUNDLE_FORMAT: &str = "credit-ledger-event-bundle/v1";

/// Every envelope field of a recorded event, in its JSON form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundledEvent {
    /// Global position (the Merkle leaf index).
    pub position: u64,
    /// The stream.
    pub stream: String,
    /// Version within the stream.
    pub stream_version: u64,
    /// The recorder's event id.
    pub event_id: Uuid,
    /// The payload's type name.
    pub event_type: String,
    /// The payload's schema version.
    pub schema_version: u32,
    /// When the fact took legal effect (microsecond precision).
    pub effective_at: DateTime<Utc>,
    /// When the ledger accepted it (microsecond precision).
    pub recorded_at: DateTime<Utc>,
    /// The authenticated recorder.
    pub recorded_by: String,
    /// The payload object; its canonical form is what was hashed.
    pub payload: serde_json::Value,
    /// The hash of the previous event of the stream.
    pub prev_hash: Hash32,
    /// The event hash.
    pub hash: Hash32,
}

impl BundledEvent {
    /// The JSON form of a recorded event.
    pub fn of(event: &RecordedEvent) -> Self {
        Self {
            position: event.position,
            stream: event.stream.as_str().to_owned(),
            stream_version: event.stream_version,
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            effective_at: event.effective_at,
            recorded_at: event.recorded_at,
            recorded_by: event.recorded_by.clone(),
            payload: event.payload_value(),
            prev_hash: event.prev_hash,
            hash: event.hash,
        }
    }

    /// Rebuilds the recorded event, with the payload in canonical form and the stated hash.
    pub fn to_recorded(&self) -> Result<RecordedEvent, BundleError> {
        Ok(RecordedEvent {
            position: self.position,
            stream: StreamName::new(self.stream.clone())?,
            stream_version: self.stream_version,
            event_id: self.event_id,
            event_type: self.event_type.clone(),
            schema_version: self.schema_version,
            effective_at: self.effective_at,
            recorded_at: self.recorded_at,
            recorded_by: self.recorded_by.clone(),
            payload: canonical::to_canonical_vec(&self.payload)?,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

/// An inclusion proof inside a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundledProof {
    /// The tree size the proof is for; equal to the checkpoint's size.
    pub tree_size: u64,
    /// The proof hashes, nearest the leaf first.
    pub hashes: Vec<Hash32>,
}

/// Evidence that one event is in the log, checkable offline with [`verify_bundle`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// The event.
    pub event: BundledEvent,
    /// Its inclusion proof at the checkpoint's size.
    pub inclusion_proof: BundledProof,
    /// The signed checkpoint note, as the log serves it.
    pub checkpoint: String,
    /// The key that signed the checkpoint, as text; informative only, see the module docs.
    pub verifier_key: String,
}

/// What a verified bundle proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBundle {
    /// The event, with its recomputed hash.
    pub event: RecordedEvent,
    /// The signed checkpoint the event is included in.
    pub checkpoint: Checkpoint,
}

/// Why a bundle does not prove what it claims. Every variant means "do not trust it".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The format name is not [`BUNDLE_FORMAT`].
    #[error("bundle format {0:?} is not supported; expected {BUNDLE_FORMAT:?}")]
    Format(String),
    /// An envelope field is not valid.
    #[error("event: {0}")]
    Event(#[from] EventError),
    /// The payload has no canonical form.
    #[error("event payload: {0}")]
    Payload(#[from] CanonicalError),
    /// The fields do not hash to the stated hash.
    #[error("event fields hash to {computed}, not to the stated {stated}")]
    HashMismatch {
        /// The hash in the bundle.
        stated: Hash32,
        /// The hash of the bundle's fields.
        computed: Hash32,
    },
    /// The checkpoint note does not open with the trusted key or is malformed.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] NoteError),
    /// The proof is for another size than the checkpoint's.
    #[error("proof is for tree size {proof}, but the checkpoint is for size {checkpoint}")]
    SizeMismatch {
        /// The proof's size.
        proof: u64,
        /// The checkpoint's size.
        checkpoint: u64,
    },
    /// The inclusion proof does not lead to the signed root.
    #[error("inclusion proof: {0}")]
    Proof(#[from] ProofError),
}

/// Checks a bundle against the log key the caller trusts (see the module docs for the steps).
pub fn verify_bundle(
    bundle: &EventBundle,
    verifier: &NoteVerifier,
) -> Result<VerifiedBundle, BundleError> {
    if bundle.format != BUNDLE_FORMAT {
        return Err(BundleError::Format(bundle.format.chars().take(80).collect()));
    }

    // 1. The fields must hash to the stated hash.
    let event = bundle.event.to_recorded()?;
    let computed = event.compute_hash();
    if computed != event.hash {
        return Err(BundleError::HashMismatch { stated: event.hash, computed });
    }

    // 2. The checkpoint must be signed by the trusted key.
    let checkpoint = Checkpoint::parse_body(verifier.open_note(&bundle.checkpoint)?)?;

    // 3. and 4. The proof must be for the signed size and lead to the signed root.
    let proof = &bundle.inclusion_proof;
    if proof.tree_size != checkpoint.size {
        return Err(BundleError::SizeMismatch {
            proof: proof.tree_size,
            checkpoint: checkpoint.size,
        });
    }
    merkle::verify_inclusion(
        event.position,
        checkpoint.size,
        &merkle::leaf_hash(&event.hash),
        &proof.hashes,
        &checkpoint.root,
    )?;
    Ok(VerifiedBundle { event, checkpoint })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::LogSigner;
    use crate::event::{ProposedEvent, Seal};
    use crate::merkle::MemoryTree;
    use chrono::TimeZone;
    use serde_json::json;

    const ORIGIN: &str = "example.amr/credit-ledger";

    fn signer() -> LogSigner {
        LogSigner::from_seed(ORIGIN, [3; 32]).unwrap()
    }

    /// A log of five events and the bundle of the one at position 2.
    fn bundle() -> EventBundle {
        let stream = StreamName::new("entity/91350100M000100Y43").unwrap();
        let mut tree = MemoryTree::new();
        let mut prev = Hash32::ZERO;
        let mut events = Vec::new();
        for n in 0..5u64 {
            let proposal = ProposedEvent::new(
                Uuid::from_u128(u128::from(n) + 1),
                "penalty_decided",
                1,
                Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap(),
                &json!({"n": n, "decision": "天市监罚〔2025〕12号"}),
            )
            .unwrap();
            let event = RecordedEvent::seal(
                proposal,
                Seal {
                    position: n,
                    stream: &stream,
                    stream_version: n + 1,
                    recorded_at: Utc.with_ymd_and_hms(2025, 6, 2, 0, 0, 0).unwrap()
                        + chrono::Duration::microseconds(n as i64 * 7 + 1),
                    recorded_by: "case-system",
                    prev_hash: prev,
                },
            );
            prev = event.hash;
            tree.push_event(&event.hash);
            events.push(event);
        }
        let checkpoint = Checkpoint::new(ORIGIN, 5, tree.root());
        EventBundle {
            format: BUNDLE_FORMAT.to_owned(),
            event: BundledEvent::of(&events[2]),
            inclusion_proof: BundledProof {
                tree_size: 5,
                hashes: tree.inclusion_proof(2, 5).unwrap(),
            },
            checkpoint: signer().sign_checkpoint(&checkpoint),
            verifier_key: signer().verifier().to_string(),
        }
    }

    #[test]
    fn a_genuine_bundle_verifies_after_a_json_round_trip() {
        let text = serde_json::to_string_pretty(&bundle()).unwrap();
        let parsed: EventBundle = serde_json::from_str(&text).unwrap();
        let verifier = NoteVerifier::parse(&parsed.verifier_key).unwrap();
        let verified = verify_bundle(&parsed, &verifier).unwrap();
        assert_eq!((verified.event.position, verified.checkpoint.size), (2, 5));
    }

    #[test]
    fn tampered_bundles_fail() {
        let verifier = signer().verifier();
        type Tamper = Box<dyn Fn(&mut EventBundle)>;
        type Expect = fn(&BundleError) -> bool;
        let cases: Vec<(Tamper, Expect)> = vec![
            (Box::new(|b| b.event.payload["n"] = json!(9)), |e| {
                matches!(e, BundleError::HashMismatch { .. })
            }),
            (Box::new(|b| b.event.recorded_by.push('x')), |e| {
                matches!(e, BundleError::HashMismatch { .. })
            }),
            (
                Box::new(|b| {
                    // A consistent edit: the stated hash is recomputed, so only the proof can
                    // catch it.
                    b.event.stream_version = 7;
                    b.event.hash = b.event.to_recorded().unwrap().compute_hash();
                }),
                |e| matches!(e, BundleError::Proof(ProofError::RootMismatch)),
            ),
            (Box::new(|b| b.event.position = 3), |e| matches!(e, BundleError::HashMismatch { .. })),
            (Box::new(|b| b.inclusion_proof.hashes[0].0[0] ^= 1), |e| {
                matches!(e, BundleError::Proof(ProofError::RootMismatch))
            }),
            (
                Box::new(|b| {
                    b.inclusion_proof.hashes.pop();
                }),
                |e| matches!(e, BundleError::Proof(_)),
            ),
            (Box::new(|b| b.inclusion_proof.tree_size = 4), |e| {
                matches!(e, BundleError::SizeMismatch { .. })
            }),
            (Box::new(|b| b.checkpoint = b.checkpoint.replacen("\n5\n", "\n6\n", 1)), |e| {
                matches!(e, BundleError::Checkpoint(NoteError::BadSignature(_)))
            }),
            (
                Box::new(|b| {
                    // A checkpoint signed by another key, with that key named in the bundle.
                    let other = LogSigner::from_seed(ORIGIN, [4; 32]).unwrap();
                    let text = signer().verifier().open_note(&b.checkpoint).unwrap().to_owned();
                    let root = Checkpoint::parse_body(&text).unwrap();
                    b.checkpoint = other.sign_checkpoint(&root);
                    b.verifier_key = other.verifier().to_string();
                }),
                |e| matches!(e, BundleError::Checkpoint(NoteError::NoSignatureByKey(_))),
            ),
            (Box::new(|b| b.event.stream = "Entity/x".into()), |e| {
                matches!(e, BundleError::Event(EventError::StreamName(_)))
            }),
            (Box::new(|b| b.event.payload = json!({"n": 1.5})), |e| {
                matches!(e, BundleError::Payload(_))
            }),
            (Box::new(|b| b.format = "v0".into()), |e| matches!(e, BundleError::Format(_))),
        ];
        for (i, (tamper, expected)) in cases.into_iter().enumerate() {
            let mut b = bundle();
            tamper(&mut b);
            let error = verify_bundle(&b, &verifier).expect_err(&format!("case {i} verified"));
            assert!(expected(&error), "case {i}: {error}");
        }
    }
}
