//! The event envelope and its hash.
//!
//! A recorder proposes an event ([`ProposedEvent`]: id, type, schema version, effective time,
//! payload). The ledger's single writer seals it into a [`RecordedEvent`] by assigning the
//! global position, the stream version, the recorded time and recorder, and the previous hash
//! of the same stream, and then computes [`event_hash`] over all of these fields.
//!
//! The hash input is a fixed sequence of fields, each either fixed-width big-endian or
//! prefixed by its length, behind a domain tag, so that no two different envelopes share an
//! encoding and no event hash can be mistaken for a Merkle node or a commitment.
//! `docs/hashing.md` gives the byte layout with a worked example.

use std::fmt;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::canonical::{self, CanonicalError};
use crate::hash::Hash32;

/// The hash of an event envelope.
pub type EventHash = Hash32;

/// The domain tag that starts every event-hash input: 16 ASCII bytes, no terminator.
pub const EVENT_HASH_TAG: &[u8; 16] = b"credit-ledger:ev";

/// The version of the envelope encoding, hashed right after the tag.
pub const EVENT_ENCODING_VERSION: u8 = 1;

/// The longest stream name, in bytes.
pub const STREAM_NAME_BYTES_MAX: usize = 128;

/// The longest event type name, in bytes.
pub const EVENT_TYPE_BYTES_MAX: usize = 64;

/// The longest recorder name, in bytes.
pub const RECORDED_BY_BYTES_MAX: usize = 128;

/// The largest canonical payload, in bytes.
pub const PAYLOAD_BYTES_MAX: usize = 64 * 1024;

/// Why an envelope or one of its fields is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// A stream name that breaks the naming rule.
    #[error(
        "stream name {0:?} is not accepted; use `<kind>/<id>` where kind is lowercase a-z and \
         id is 1-{STREAM_NAME_BYTES_MAX} characters of A-Z a-z 0-9 . _ : -"
    )]
    StreamName(String),
    /// An event type name that breaks the naming rule.
    #[error(
        "event type {0:?} is not accepted; use 1-{EVENT_TYPE_BYTES_MAX} characters of a-z 0-9 \
         and `_`, starting with a letter"
    )]
    EventType(String),
    /// The schema version is zero.
    #[error("schema version must be 1 or more")]
    SchemaVersion,
    /// A recorder name that is empty or too long.
    #[error("recorder name must have 1-{RECORDED_BY_BYTES_MAX} bytes without control characters")]
    RecordedBy,
    /// The payload is larger than [`PAYLOAD_BYTES_MAX`].
    #[error("payload has {0} bytes; at most {PAYLOAD_BYTES_MAX} are accepted")]
    PayloadTooLarge(usize),
    /// The payload is not an object in canonical JSON.
    #[error("payload: {0}")]
    Payload(#[from] CanonicalError),
    /// The payload is JSON but not an object.
    #[error("payload must be a JSON object")]
    PayloadNotObject,
    /// A timestamp outside the years 1900-9999.
    #[error("timestamp {0} is outside the accepted years 1900-9999")]
    Timestamp(String),
}

/// The name of a stream: `<kind>/<id>`, for example `entity/91620502MA7B8C9D0X`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamName(String);

impl StreamName {
    /// Validates a stream name.
    pub fn new(name: impl Into<String>) -> Result<Self, EventError> {
        let name = name.into();
        let valid = name.len() <= STREAM_NAME_BYTES_MAX
            && match name.split_once('/') {
                Some((kind, id)) => {
                    !kind.is_empty()
                        && kind.bytes().all(|b| b.is_ascii_lowercase())
                        && !id.is_empty()
                        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b))
                }
                None => false,
            };
        if valid {
            Ok(Self(name))
        } else {
            Err(EventError::StreamName(name.chars().take(160).collect()))
        }
    }

    /// The stream of a market entity.
    pub fn entity(code: &crate::CreditCode) -> Self {
        Self(format!("entity/{code}"))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the slash (`entity`, `catalogue`, ...).
    pub fn kind(&self) -> &str {
        self.0.split_once('/').map_or("", |(kind, _)| kind)
    }

    /// The part after the slash.
    pub fn id(&self) -> &str {
        self.0.split_once('/').map_or("", |(_, id)| id)
    }
}

impl TryFrom<String> for StreamName {
    type Error = EventError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<StreamName> for String {
    fn from(value: StreamName) -> Self {
        value.0
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamName({})", self.0)
    }
}

/// Checks an event type name: `[a-z][a-z0-9_]*`, at most [`EVENT_TYPE_BYTES_MAX`] bytes.
pub fn validate_event_type(name: &str) -> Result<(), EventError> {
    let valid = !name.is_empty()
        && name.len() <= EVENT_TYPE_BYTES_MAX
        && name.as_bytes()[0].is_ascii_lowercase()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(EventError::EventType(name.chars().take(80).collect()))
    }
}

/// Truncates a timestamp to whole microseconds, the precision both databases keep, and
/// checks it lies in the years 1900-9999.
pub fn normalize_timestamp(t: DateTime<Utc>) -> Result<DateTime<Utc>, EventError> {
    let micros = t.timestamp_micros();
    let min = Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).single().map(|t| t.timestamp_micros());
    let max = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).single().map(|t| t.timestamp_micros());
    match (min, max) {
        (Some(min), Some(max)) if (min..=max).contains(&micros) => {
            DateTime::from_timestamp_micros(micros).ok_or(EventError::Timestamp(t.to_rfc3339()))
        }
        _ => Err(EventError::Timestamp(t.to_rfc3339())),
    }
}

/// An event as a recorder proposes it, before the ledger seals it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedEvent {
    /// Chosen by the recorder; a retry with the same id and content is a no-op.
    pub event_id: Uuid,
    /// The payload's type name, for example `penalty_decided`.
    pub event_type: String,
    /// The version of that type's schema.
    pub schema_version: u32,
    /// When the fact took legal effect.
    pub effective_at: DateTime<Utc>,
    /// Canonical JSON of the payload object.
    pub payload: Vec<u8>,
}

impl ProposedEvent {
    /// Builds a proposal from a JSON payload, canonicalising it and checking every field.
    pub fn new(
        event_id: Uuid,
        event_type: impl Into<String>,
        schema_version: u32,
        effective_at: DateTime<Utc>,
        payload: &serde_json::Value,
    ) -> Result<Self, EventError> {
        if !payload.is_object() {
            return Err(EventError::PayloadNotObject);
        }
        let event = Self {
            event_id,
            event_type: event_type.into(),
            schema_version,
            effective_at: normalize_timestamp(effective_at)?,
            payload: canonical::to_canonical_vec(payload)?,
        };
        // The payload was just written in canonical form; checking it again would be waste.
        event.validate_fields()?;
        Ok(event)
    }

    /// Builds a proposal from a payload already in canonical JSON (for example
    /// [`crate::events::DomainEvent::to_canonical_payload`]), checking every field.
    pub fn from_canonical(
        event_id: Uuid,
        event_type: impl Into<String>,
        schema_version: u32,
        effective_at: DateTime<Utc>,
        payload: Vec<u8>,
    ) -> Result<Self, EventError> {
        let event = Self {
            event_id,
            event_type: event_type.into(),
            schema_version,
            effective_at: normalize_timestamp(effective_at)?,
            payload,
        };
        event.validate()?;
        Ok(event)
    }

    /// Checks every field; a proposal built by hand must pass this before it is sealed.
    pub fn validate(&self) -> Result<(), EventError> {
        self.validate_fields()?;
        canonical::check_canonical(&self.payload)?;
        Ok(())
    }

    /// Everything [`Self::validate`] checks except that the payload is canonical.
    fn validate_fields(&self) -> Result<(), EventError> {
        validate_event_type(&self.event_type)?;
        if self.schema_version == 0 {
            return Err(EventError::SchemaVersion);
        }
        if self.payload.len() > PAYLOAD_BYTES_MAX {
            return Err(EventError::PayloadTooLarge(self.payload.len()));
        }
        if self.payload.first() != Some(&b'{') {
            return Err(EventError::PayloadNotObject);
        }
        normalize_timestamp(self.effective_at)?;
        Ok(())
    }

    /// The payload as a JSON value.
    pub fn payload_value(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }

    /// Whether `recorded` is this proposal, stored earlier (the idempotent-retry test).
    pub fn same_content_as(&self, recorded: &RecordedEvent) -> bool {
        self.event_id == recorded.event_id
            && self.event_type == recorded.event_type
            && self.schema_version == recorded.schema_version
            && self.effective_at == recorded.effective_at
            && self.payload == recorded.payload
    }
}

/// An event as the ledger stores it: the envelope and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Global, gap-free, commit-ordered position: the Merkle leaf index, from 0.
    pub position: u64,
    /// The subject.
    pub stream: StreamName,
    /// The event's number within its stream, from 1, contiguous.
    pub stream_version: u64,
    /// The recorder's id for the event.
    pub event_id: Uuid,
    /// The payload's type name.
    pub event_type: String,
    /// The version of that type's schema.
    pub schema_version: u32,
    /// When the fact took legal effect.
    pub effective_at: DateTime<Utc>,
    /// When the ledger accepted it; set by the ledger.
    pub recorded_at: DateTime<Utc>,
    /// The authenticated recorder.
    pub recorded_by: String,
    /// Canonical JSON of the payload object.
    pub payload: Vec<u8>,
    /// The hash of the previous event in the same stream, zero for the first.
    pub prev_hash: EventHash,
    /// [`event_hash`] of all the fields above.
    pub hash: EventHash,
}

/// The fields the writer adds when it seals a proposal.
#[derive(Debug, Clone)]
pub struct Seal<'a> {
    /// The next global position.
    pub position: u64,
    /// The stream appended to.
    pub stream: &'a StreamName,
    /// The stream's next version.
    pub stream_version: u64,
    /// The commit time.
    pub recorded_at: DateTime<Utc>,
    /// The authenticated recorder.
    pub recorded_by: &'a str,
    /// The stream's current head hash (zero for a new stream).
    pub prev_hash: EventHash,
}

impl RecordedEvent {
    /// Seals a validated proposal.
    pub fn seal(proposal: ProposedEvent, seal: Seal<'_>) -> Self {
        let mut event = Self {
            position: seal.position,
            stream: seal.stream.clone(),
            stream_version: seal.stream_version,
            event_id: proposal.event_id,
            event_type: proposal.event_type,
            schema_version: proposal.schema_version,
            effective_at: proposal.effective_at,
            recorded_at: seal.recorded_at,
            recorded_by: seal.recorded_by.to_owned(),
            payload: proposal.payload,
            prev_hash: seal.prev_hash,
            hash: Hash32::ZERO,
        };
        event.hash = event.compute_hash();
        event
    }

    /// Recomputes the hash from the stored fields (what a verifier does).
    pub fn compute_hash(&self) -> EventHash {
        event_hash(&EnvelopeFields {
            position: self.position,
            stream: self.stream.as_str(),
            stream_version: self.stream_version,
            event_id: &self.event_id,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            effective_at_micros: self.effective_at.timestamp_micros(),
            recorded_at_micros: self.recorded_at.timestamp_micros(),
            recorded_by: &self.recorded_by,
            payload: &self.payload,
            prev_hash: &self.prev_hash,
        })
    }

    /// The payload as a JSON value.
    pub fn payload_value(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }
}

/// The hashed fields of an envelope, borrowed, in hashing order.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeFields<'a> {
    /// Global position.
    pub position: u64,
    /// Stream name, UTF-8.
    pub stream: &'a str,
    /// Version within the stream.
    pub stream_version: u64,
    /// Recorder-chosen id.
    pub event_id: &'a Uuid,
    /// Type name.
    pub event_type: &'a str,
    /// Schema version.
    pub schema_version: u32,
    /// Effective time, microseconds since 1970-01-01T00:00:00Z.
    pub effective_at_micros: i64,
    /// Recorded time, microseconds since 1970-01-01T00:00:00Z.
    pub recorded_at_micros: i64,
    /// Recorder, UTF-8.
    pub recorded_by: &'a str,
    /// Canonical payload bytes.
    pub payload: &'a [u8],
    /// Previous hash in the stream.
    pub prev_hash: &'a EventHash,
}

/// BLAKE3 over the tagged, length-prefixed envelope (see `docs/hashing.md`).
pub fn event_hash(f: &EnvelopeFields<'_>) -> EventHash {
    // Everything before the payload is gathered on the stack and fed to BLAKE3 in one call:
    // many small `update` calls cost more than the hashing of the 100-odd bytes they carry.
    let mut head = HeadBuffer { bytes: [0; HEAD_BYTES_MAX], len: 0, spill: Vec::new() };
    head.put(EVENT_HASH_TAG);
    head.put(&[EVENT_ENCODING_VERSION]);
    head.put(&f.position.to_be_bytes());
    head.put_prefixed(f.stream.as_bytes());
    head.put(&f.stream_version.to_be_bytes());
    head.put(f.event_id.as_bytes());
    head.put_prefixed(f.event_type.as_bytes());
    head.put(&f.schema_version.to_be_bytes());
    head.put(&f.effective_at_micros.to_be_bytes());
    head.put(&f.recorded_at_micros.to_be_bytes());
    head.put_prefixed(f.recorded_by.as_bytes());
    head.put(&(f.payload.len() as u32).to_be_bytes());

    let mut h = blake3::Hasher::new();
    h.update(head.as_slice());
    h.update(f.payload);
    h.update(f.prev_hash.as_bytes());
    h.finalize().into()
}

/// Room for the fixed fields and the longest stream, type and recorder names allowed.
const HEAD_BYTES_MAX: usize =
    64 + STREAM_NAME_BYTES_MAX + EVENT_TYPE_BYTES_MAX + RECORDED_BY_BYTES_MAX + 6 * 4 + 64;

/// The hash input before the payload: on the stack, or on the heap when names are longer than
/// their limits (never for validated input, but a verifier must hash whatever it reads).
struct HeadBuffer {
    bytes: [u8; HEAD_BYTES_MAX],
    len: usize,
    spill: Vec<u8>,
}

impl HeadBuffer {
    fn put(&mut self, data: &[u8]) {
        if self.spill.is_empty() && self.len + data.len() <= HEAD_BYTES_MAX {
            self.bytes[self.len..self.len + data.len()].copy_from_slice(data);
            self.len += data.len();
        } else {
            if self.spill.is_empty() {
                self.spill.extend_from_slice(&self.bytes[..self.len]);
            }
            self.spill.extend_from_slice(data);
        }
    }

    /// Variable-length fields carry a 4-byte big-endian length first; every limit above keeps
    /// them far below 2^32 bytes.
    fn put_prefixed(&mut self, data: &[u8]) {
        self.put(&(data.len() as u32).to_be_bytes());
        self.put(data);
    }

    fn as_slice(&self) -> &[u8] {
        if self.spill.is_empty() {
            &self.bytes[..self.len]
        } else {
            &self.spill
        }
    }
}

/// Checks a recorder name: 1-[`RECORDED_BY_BYTES_MAX`] bytes without control characters.
pub fn validate_recorded_by(name: &str) -> Result<(), EventError> {
    if name.is_empty() || name.len() > RECORDED_BY_BYTES_MAX || name.chars().any(char::is_control) {
        Err(EventError::RecordedBy)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> RecordedEvent {
        let proposal = ProposedEvent::new(
            Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001),
            "penalty_decided",
            1,
            Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap(),
            &json!({"decision_no": "津市监罚〔2025〕12号", "fine_fen": 500000}),
        )
        .unwrap();
        let stream = StreamName::new("entity/91350100M000100Y43").unwrap();
        RecordedEvent::seal(
            proposal,
            Seal {
                position: 7,
                stream: &stream,
                stream_version: 3,
                recorded_at: Utc.with_ymd_and_hms(2025, 6, 2, 8, 30, 0).unwrap(),
                recorded_by: "case-system",
                prev_hash: Hash32([0xab; 32]),
            },
        )
    }

    /// Every field, and every byte of the variable-length ones, must move the hash.
    #[test]
    fn every_field_changes_the_hash() {
        let base = sample();
        assert_eq!(base.compute_hash(), base.hash);
        type Mutation = Box<dyn Fn(&mut RecordedEvent)>;
        let mutations: Vec<(&str, Mutation)> = vec![
            ("position", Box::new(|e| e.position += 1)),
            (
                "stream",
                Box::new(|e| e.stream = StreamName::new("entity/91350100M000100Y44").unwrap()),
            ),
            ("stream_version", Box::new(|e| e.stream_version += 1)),
            ("event_id", Box::new(|e| e.event_id = Uuid::from_u128(e.event_id.as_u128() ^ 1))),
            ("event_type", Box::new(|e| e.event_type = "penalty_revoked".into())),
            ("schema_version", Box::new(|e| e.schema_version = 2)),
            ("effective_at", Box::new(|e| e.effective_at += chrono::Duration::microseconds(1))),
            ("recorded_at", Box::new(|e| e.recorded_at += chrono::Duration::microseconds(1))),
            ("recorded_by", Box::new(|e| e.recorded_by.push('x'))),
            ("payload", Box::new(|e| e.payload[5] ^= 1)),
            ("prev_hash", Box::new(|e| e.prev_hash.0[31] ^= 1)),
        ];
        for (name, mutate) in mutations {
            let mut changed = base.clone();
            mutate(&mut changed);
            assert_ne!(changed.compute_hash(), base.hash, "changing {name} kept the hash");
        }
        for i in 0..base.payload.len() {
            for bit in 0..8 {
                let mut changed = base.clone();
                changed.payload[i] ^= 1 << bit;
                assert_ne!(changed.compute_hash(), base.hash, "payload byte {i} bit {bit}");
            }
        }
    }

    /// Moving bytes between adjacent variable-length fields must not keep the hash: this is
    /// what the length prefixes are for.
    #[test]
    fn field_boundaries_are_unambiguous() {
        let base = sample();
        let mut shifted = base.clone();
        shifted.recorded_by = "case-syste".into();
        shifted.payload.insert(0, b'm');
        assert_ne!(shifted.compute_hash(), base.hash);
    }

    #[test]
    fn long_names_are_hashed_whole() {
        let base = sample();
        let mut a = base.clone();
        a.recorded_by = "r".repeat(1000);
        let mut b = a.clone();
        b.recorded_by.push('r');
        assert_ne!(a.compute_hash(), b.compute_hash());
    }

    #[test]
    fn rejects_bad_fields() {
        let t = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let id = Uuid::nil();
        assert!(matches!(
            ProposedEvent::new(id, "Penalty", 1, t, &json!({})),
            Err(EventError::EventType(_))
        ));
        assert_eq!(ProposedEvent::new(id, "x", 0, t, &json!({})), Err(EventError::SchemaVersion));
        assert_eq!(
            ProposedEvent::new(id, "x", 1, t, &json!([1])),
            Err(EventError::PayloadNotObject)
        );
        assert!(matches!(
            ProposedEvent::new(id, "x", 1, t, &json!({"a": 1.5})),
            Err(EventError::Payload(_))
        ));
        let big = json!({ "a": "x".repeat(PAYLOAD_BYTES_MAX) });
        assert!(matches!(
            ProposedEvent::new(id, "x", 1, t, &big),
            Err(EventError::PayloadTooLarge(_))
        ));
        let early = Utc.with_ymd_and_hms(1800, 1, 1, 0, 0, 0).unwrap();
        assert!(matches!(
            ProposedEvent::new(id, "x", 1, early, &json!({})),
            Err(EventError::Timestamp(_))
        ));
    }

    #[test]
    fn stream_names() {
        assert!(StreamName::new("entity/91350100M000100Y43").is_ok());
        assert!(StreamName::new("catalogue/default").is_ok());
        for bad in ["entity", "/x", "Entity/x", "entity/", "entity/a b", "entity/a/b"] {
            assert!(StreamName::new(bad).is_err(), "{bad}");
        }
        assert!(StreamName::new(format!("e/{}", "x".repeat(200))).is_err());
        let name = StreamName::new("entity/abc").unwrap();
        assert_eq!((name.kind(), name.id()), ("entity", "abc"));
    }
}
