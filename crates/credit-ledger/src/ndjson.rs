//! The NDJSON line format of `import`, `export` and `demo generate`: one event per line.
//!
//! A line to import needs `stream`, `event_id`, `event_type`, `schema_version`,
//! `effective_at` and `payload`, as the server's `/v1/import` does; `expected_version` (the
//! stream's version before this event: a number, `"any"` or `"no_stream"`) and
//! `personal_data` (the values behind the payload's commitments) are optional. An exported
//! line adds what the ledger sealed: `position`, `stream_version`, `recorded_at`,
//! `recorded_by`, `prev_hash` and `hash`. Importing an export with `--replay` keeps those, so
//! every hash comes out the same.

use chrono::{DateTime, Utc};
use ledger_core::event::ProposedEvent;
use ledger_core::events::PersonalData;
use ledger_core::{Hash32, RecordedEvent};
use ledger_store::{ExpectedVersion, PersonalRecord};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// One line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventLine {
    /// Export only: the global position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// The stream, `<kind>/<id>`.
    pub stream: String,
    /// Export only: the version within the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_version: Option<u64>,
    /// Import only: what the stream's version must be before this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<ExpectedLine>,
    /// The recorder's event id.
    pub event_id: Uuid,
    /// The payload type.
    pub event_type: String,
    /// The payload's schema version.
    pub schema_version: u32,
    /// When the fact took legal effect.
    pub effective_at: DateTime<Utc>,
    /// Export only: when the ledger accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<DateTime<Utc>>,
    /// Export only: who recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_by: Option<String>,
    /// The payload object.
    pub payload: serde_json::Value,
    /// Export only: the previous hash of the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_hash: Option<Hash32>,
    /// Export only: the event hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<Hash32>,
    /// The personal data behind commitments in the payload; never exported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub personal_data: Vec<PersonalLine>,
}

/// The personal data behind one commitment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalLine {
    /// The payload's `commitment_id`.
    pub commitment_id: Uuid,
    /// The 32-byte salt, as 64 hex digits.
    pub salt: Hash32,
    /// The person's name.
    pub name: String,
    /// The identity document's kind (`resident_identity_card`, ...).
    pub id_kind: String,
    /// The document number.
    pub id_number: String,
}

impl PersonalLine {
    /// The line form of personal data committed to with `salt`.
    pub fn of(commitment_id: Uuid, salt: [u8; 32], data: &PersonalData) -> Self {
        Self {
            commitment_id,
            salt: Hash32(salt),
            name: data.name.clone(),
            id_kind: data.id_kind.as_str().to_owned(),
            id_number: data.id_number.clone(),
        }
    }

    /// The store's record of it.
    pub fn to_record(&self) -> PersonalRecord {
        PersonalRecord {
            commitment_id: self.commitment_id,
            salt: self.salt.0.to_vec(),
            data: serde_json::json!({
                "name": self.name,
                "id_kind": self.id_kind,
                "id_number": self.id_number,
            }),
        }
    }
}

/// `expected_version` of a line: a number, `"any"` or `"no_stream"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedLine(pub ExpectedVersion);

impl<'de> Deserialize<'de> for ExpectedLine {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) if n.as_u64().is_some() => {
                Ok(Self(ExpectedVersion::Exactly(n.as_u64().unwrap_or_default())))
            }
            serde_json::Value::String(s) if s == "any" => Ok(Self(ExpectedVersion::Any)),
            serde_json::Value::String(s) if s == "no_stream" => Ok(Self(ExpectedVersion::NoStream)),
            other => Err(serde::de::Error::custom(format!(
                "expected_version {other} is not accepted; use a version number (0 or more), \
                 \"any\" or \"no_stream\""
            ))),
        }
    }
}

impl Serialize for ExpectedLine {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            ExpectedVersion::Any => s.serialize_str("any"),
            ExpectedVersion::NoStream => s.serialize_str("no_stream"),
            ExpectedVersion::Exactly(v) => s.serialize_u64(v),
        }
    }
}

impl EventLine {
    /// The export form of a recorded event.
    pub fn of_recorded(event: &RecordedEvent) -> Self {
        Self {
            position: Some(event.position),
            stream: event.stream.as_str().to_owned(),
            stream_version: Some(event.stream_version),
            expected_version: None,
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            effective_at: event.effective_at,
            recorded_at: Some(event.recorded_at),
            recorded_by: Some(event.recorded_by.clone()),
            payload: event.payload_value(),
            prev_hash: Some(event.prev_hash),
            hash: Some(event.hash),
            personal_data: Vec::new(),
        }
    }

    /// The import form of a proposal for `stream`.
    pub fn of_proposal(stream: &str, event: &ProposedEvent, personal: Vec<PersonalLine>) -> Self {
        Self {
            position: None,
            stream: stream.to_owned(),
            stream_version: None,
            expected_version: None,
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            effective_at: event.effective_at,
            recorded_at: None,
            recorded_by: None,
            payload: event.payload_value(),
            prev_hash: None,
            hash: None,
            personal_data: personal,
        }
    }

    /// The proposal this line makes (payload canonicalised, fields checked).
    pub fn proposal(&self) -> Result<ProposedEvent, ledger_core::EventError> {
        ProposedEvent::new(
            self.event_id,
            &self.event_type,
            self.schema_version,
            self.effective_at,
            &self.payload,
        )
    }

    /// One line of JSON, without the newline.
    pub fn to_json(&self) -> String {
        // Every field is a string, number, UUID, time or JSON value: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_versions_read_as_the_server_reads_them() {
        let read = |text: &str| serde_json::from_str::<ExpectedLine>(text).map(|e| e.0);
        assert_eq!(read("3").unwrap(), ExpectedVersion::Exactly(3));
        assert_eq!(read("\"any\"").unwrap(), ExpectedVersion::Any);
        assert_eq!(read("\"no_stream\"").unwrap(), ExpectedVersion::NoStream);
        assert!(read("-1").is_err() && read("\"latest\"").is_err());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let line = r#"{"stream":"entity/x","event_id":"0190a000-0000-7000-8000-000000000001",
            "event_type":"t","schema_version":1,"effective_at":"2024-01-01T00:00:00Z",
            "payload":{},"colour":"red"}"#;
        let error = serde_json::from_str::<EventLine>(line).unwrap_err().to_string();
        assert!(error.contains("colour"), "{error}");
    }
}
