//! Wire forms shared by several endpoints.

use chrono::{DateTime, Utc};
use ledger_core::RecordedEvent;
use serde::Serialize;
use uuid::Uuid;

/// A recorded event with every envelope field; the same JSON form as an event in an offline
/// bundle (`ledger_core::bundle::BundledEvent`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventView {
    /// Global position (Merkle leaf index).
    pub position: u64,
    /// The stream, `<kind>/<id>`.
    pub stream: String,
    /// Version within the stream, from 1.
    pub stream_version: u64,
    /// The recorder's event id.
    pub event_id: Uuid,
    /// The payload's type.
    pub event_type: String,
    /// The payload's schema version.
    pub schema_version: u32,
    /// When the fact took legal effect.
    pub effective_at: DateTime<Utc>,
    /// When the ledger accepted it.
    pub recorded_at: DateTime<Utc>,
    /// The principal that recorded it.
    pub recorded_by: String,
    /// The payload; its canonical JSON form is what was hashed.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Hash of the stream's previous event (64 hex digits; zeros for the first).
    #[schema(value_type = String)]
    pub prev_hash: ledger_core::Hash32,
    /// The event hash (64 hex digits).
    #[schema(value_type = String)]
    pub hash: ledger_core::Hash32,
}

impl From<&RecordedEvent> for EventView {
    fn from(e: &RecordedEvent) -> Self {
        Self {
            position: e.position,
            stream: e.stream.as_str().to_owned(),
            stream_version: e.stream_version,
            event_id: e.event_id,
            event_type: e.event_type.clone(),
            schema_version: e.schema_version,
            effective_at: e.effective_at,
            recorded_at: e.recorded_at,
            recorded_by: e.recorded_by.clone(),
            payload: e.payload_value(),
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

/// The operator probes' answer.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct HealthView {
    /// `ok` or `ready`.
    pub status: String,
    /// The committed log size, for readiness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_size: Option<u64>,
}
