//! The measures of the catalogue as ledger events, and back.
//!
//! Loading a catalogue into the ledger appends one `measure_defined` event per measure version
//! to the catalogue stream, so that every change of measures is recorded, hashed and provable
//! like any other fact. The events are built deterministically:
//!
//! 1. the payload is the measure exactly as the catalogue file gives it;
//! 2. `effective_at` is the start of the measure's first day in force, midnight in China
//!    Standard Time, because that is when the definition takes legal effect;
//! 3. the event id is derived from the stream, the event type and the canonical payload, so
//!    loading the same catalogue twice proposes the same ids and the ledger's idempotent
//!    append turns the second load into a no-op, while a changed measure gets a new id.

use chrono::{NaiveDate, TimeZone, Utc};
use ledger_core::canonical;
use ledger_core::event::{EventError, ProposedEvent};
use ledger_core::events::{AbnormalGround, DomainEvent, MeasureDefined, SeriousGround};
use ledger_core::{RecordedEvent, StreamName};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Catalogue;
use crate::dates::CHINA_STANDARD_TIME_OFFSET_SECONDS;

/// The stream that holds the measure catalogue.
pub const CATALOGUE_STREAM: &str = "catalogue/measures";

/// The domain tag hashed before an event id's content, so that these ids cannot collide with
/// ids derived for other purposes.
const EVENT_ID_TAG: &[u8] = b"credit-ledger:catalogue-event-id";

/// A narrower trigger for a measure than its v1 payload can say.
///
/// `MeasureTrigger::SeriousList` in the v1 payload names the list but not the ground, yet some
/// measures follow only one ground (the 2014 bar on the legal representative follows only the
/// three-year ground). Until a v2 payload carries grounds, the catalogue states them here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureScope {
    /// The measure (every version of it) that is narrowed.
    pub measure_id: String,
    /// For a serious-list trigger: only entries on these grounds; empty means any.
    #[serde(default)]
    pub serious_grounds: Vec<SeriousGround>,
    /// For an abnormal-list trigger: only entries on these grounds; empty means any.
    #[serde(default)]
    pub abnormal_grounds: Vec<AbnormalGround>,
}

/// The catalogue stream's name.
pub fn catalogue_stream() -> StreamName {
    // The constant is a valid stream name; a test reads it.
    StreamName::new(CATALOGUE_STREAM).expect("the catalogue stream name is valid")
}

/// One `measure_defined` proposal per measure version of the catalogue, in catalogue order,
/// for the catalogue stream (see the module docs for how ids and times are chosen).
pub fn measure_events(catalogue: &Catalogue) -> Result<Vec<ProposedEvent>, EventError> {
    catalogue.measures.iter().map(measure_event).collect()
}

fn measure_event(measure: &MeasureDefined) -> Result<ProposedEvent, EventError> {
    let event = DomainEvent::MeasureDefinedV1(measure.clone());
    let payload = event.to_payload();
    let bytes = canonical::to_canonical_vec(&payload)?;
    let id = content_id(&[CATALOGUE_STREAM.as_bytes(), event.event_type().as_bytes(), &bytes]);
    ProposedEvent::new(
        id,
        event.event_type(),
        event.schema_version(),
        china_midnight(measure.in_force_from),
        &payload,
    )
}

/// Midnight at the start of `date` in China Standard Time, as a UTC instant (midnight UTC at
/// the very start of chrono's range, where the offset cannot be subtracted; such a date fails
/// the envelope's year check anyway).
fn china_midnight(date: NaiveDate) -> chrono::DateTime<Utc> {
    let local = date.and_time(chrono::NaiveTime::MIN);
    let offset = chrono::TimeDelta::seconds(CHINA_STANDARD_TIME_OFFSET_SECONDS);
    Utc.from_utc_datetime(&local.checked_sub_signed(offset).unwrap_or(local))
}

/// A UUID (version 8, the custom layout) from a 128-bit FNV-1a hash of the tagged parts. The
/// id needs to be stable and distinct, not secret, so a small non-cryptographic hash is
/// enough; each part is length-prefixed so that no two part lists share an input.
fn content_id(parts: &[&[u8]]) -> Uuid {
    const FNV_OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const FNV_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut hash = FNV_OFFSET;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u128::from(*byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    };
    feed(EVENT_ID_TAG);
    for part in parts {
        feed(&(part.len() as u64).to_be_bytes());
        feed(part);
    }
    uuid::Builder::from_custom_bytes(hash.to_be_bytes()).into_uuid()
}

/// The measure versions that a catalogue stream defines, in position order:
///
/// 1. a `measure_defined` event adds a version, or replaces the version of the same measure
///    that starts on the same day;
/// 2. a `measure_retired` event ends every version of its measure on the day before its
///    retirement date and drops versions that would start on or after it.
///
/// Events of other types, and payloads that do not parse, are skipped.
pub fn measures_from_events(events: &[RecordedEvent]) -> Vec<MeasureDefined> {
    let mut ordered: Vec<&RecordedEvent> = events.iter().collect();
    ordered.sort_by_key(|e| e.position);

    let mut measures: Vec<MeasureDefined> = Vec::new();
    for event in ordered {
        let parsed =
            DomainEvent::parse(&event.event_type, event.schema_version, &event.payload_value());
        match parsed {
            Ok(DomainEvent::MeasureDefinedV1(defined)) => {
                measures.retain(|m| {
                    m.measure_id != defined.measure_id || m.in_force_from != defined.in_force_from
                });
                measures.push(defined);
            }
            Ok(DomainEvent::MeasureRetiredV1(retired)) => {
                let last_day = retired.retirement_date.pred_opt();
                measures.retain(|m| {
                    m.measure_id != retired.measure_id || m.in_force_from < retired.retirement_date
                });
                for measure in measures.iter_mut().filter(|m| m.measure_id == retired.measure_id) {
                    measure.in_force_until = match (measure.in_force_until, last_day) {
                        (Some(until), Some(last)) => Some(until.min(last)),
                        (None, last) => last,
                        (until, None) => until,
                    };
                }
            }
            _ => {}
        }
    }
    measures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = content_id(&[b"x", b"yz"]);
        assert_eq!(a, content_id(&[b"x", b"yz"]));
        assert_ne!(a, content_id(&[b"xy", b"z"]));
        assert_eq!(a.get_version_num(), 8);
    }

    #[test]
    fn midnight_is_china_standard_time() {
        let date = NaiveDate::from_ymd_opt(2021, 9, 1).unwrap();
        assert_eq!(china_midnight(date).to_rfc3339(), "2021-08-31T16:00:00+00:00");
        assert_eq!(catalogue_stream().kind(), "catalogue");
        let _ = china_midnight(NaiveDate::MIN);
    }
}
