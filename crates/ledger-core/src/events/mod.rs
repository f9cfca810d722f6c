//! Version-1 payloads of the domain events, and the one enum that knows them all.
//!
//! Every recorded event names its payload by an event type (`penalty_decided`) and a schema
//! version (`1`). [`DomainEvent`] has one variant per such pair, [`EVENT_TYPES`] lists them,
//! and [`payload_schema`] gives each pair's JSON Schema, which is committed under
//! `schemas/events/<event_type>.v<schema_version>.json` and checked against the types by a
//! test. Conventions that hold in every payload:
//!
//! - the subject entity is the stream's (`entity/<credit code>`), so payloads do not repeat
//!   its code, except [`EntityRegistered`], which introduces it;
//! - dates are calendar dates as printed on the documents (`YYYY-MM-DD`, China Standard
//!   Time); the instant a fact took effect is in the envelope;
//! - money is an integer number of fen in a field whose name ends in `_fen`: canonical JSON
//!   refuses floats;
//! - `decision_number` and `decision_date` belong to the document the event records; a
//!   decision it refers to has a prefixed name (`entry_decision_number`,
//!   `penalty_decision_number`);
//! - a natural person appears only as a [`PersonRef`] commitment (see [`PersonalData`]);
//! - unknown fields are refused, and absent optional fields are left out rather than `null`,
//!   so that parsing and re-serialising gives the payload back unchanged.
//!
//! A recorded version never changes, because its payloads are hashed into the chain. To
//! change a payload type:
//!
//! 1. add a new struct (for example `PenaltyDecidedV2`) next to the old one and leave the old
//!    one as it is, so that every event already recorded still parses;
//! 2. add a line for it to the `domain_events!` table below, which gives it a [`DomainEvent`]
//!    variant, an [`EVENT_TYPES`] entry, parsing and a schema;
//! 3. run the schema test with `UPDATE_SCHEMAS=1` to write the new schema file, and review it;
//! 4. teach the readers (projections) the new variant; the compiler lists where.

mod catalogue;
mod common;
mod entity;
mod identity;
mod lists;
mod penalty;
mod personal;
mod supervision;

use serde::de::DeserializeOwned;
use serde_json::Value;

pub use catalogue::{DurationRule, MeasureDefined, MeasureRetired, MeasureTrigger};
pub use common::{Authority, DecisionRef, LegalBasis, RecordKind};
pub use entity::{
    DeregistrationReason, EntityChanges, EntityDeregistered, EntityDetailsChanged, EntityKind,
    EntityRegistered, LicenceRevoked, OnlineShopClosed, OnlineShopOpened, WebsiteRegistered,
    WebsiteRemoved,
};
pub use identity::{
    AccessLogBatch, AccessLogCaller, AccessLogCallers, AccessLogEntry, AccessLogged, AccessQuery,
    PrincipalRegistered, PrincipalRole, TokenIssued, TokenRevoked,
};
pub use lists::{
    AbnormalGround, AbnormalListEntered, AbnormalListRemoved, AbnormalRemovalReason, SeriousGround,
    SeriousListEntered, SeriousListRemoved, SeriousRemovalKind,
};
pub use penalty::{
    AmendmentReason, CaseCategory, CreditRepaired, PenaltyChanged, PenaltyChanges, PenaltyDecided,
    PenaltyKind, PenaltyProcedure, PenaltyRevoked, RepairCondition,
};
pub use personal::{
    ErasureGround, ErasureRequester, IdDocumentKind, PersonRef, PersonRole, PersonalData,
    PersonalDataErased, PERSONAL_DATA_TAG,
};
pub use supervision::{
    ObjectionDecided, ObjectionOutcome, ObjectionRaised, ObjectorRole, SpotCheckRecorded,
    SpotCheckResult,
};

/// Why a payload could not be read as a domain event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// No event type of this name exists at any version.
    #[error("unknown event type {event_type:?}; accepted types are {accepted}")]
    UnknownType {
        /// The name given.
        event_type: String,
        /// Every accepted type and version, as `name v1, ...`.
        accepted: String,
    },
    /// The event type exists, but not at this schema version.
    #[error(
        "event type {event_type:?} has no schema version {schema_version}; \
         accepted versions are {accepted}"
    )]
    UnknownVersion {
        /// The name given.
        event_type: String,
        /// The version given.
        schema_version: u32,
        /// The versions this type has, as `1, 2`.
        accepted: String,
    },
    /// The payload does not fit the type's schema: a field is missing, unknown or of the
    /// wrong form.
    #[error("payload of {event_type} v{schema_version} is invalid at {field}: {message}")]
    Invalid {
        /// The event type.
        event_type: &'static str,
        /// The schema version.
        schema_version: u32,
        /// JSON pointer to the offending member (`/` for the payload as a whole).
        field: String,
        /// What was wrong, as `serde_json` reports it.
        message: String,
    },
}

/// Declares every (event type, schema version) pair once and derives from that one table the
/// enum, its accessors, [`EVENT_TYPES`], parsing and the schemas, so that they cannot drift.
macro_rules! domain_events {
    ($( $variant:ident($payload:ty) = ($name:literal, $version:literal), )*) => {
        /// A domain event payload, typed by its event type and schema version.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum DomainEvent {
            $(
                #[doc = concat!("`", $name, "` version ", stringify!($version), ".")]
                $variant($payload),
            )*
        }

        /// Every event type with every schema version it has, in declaration order.
        pub const EVENT_TYPES: &[(&str, u32)] = &[$(($name, $version),)*];

        impl DomainEvent {
            /// The event type name, for example `penalty_decided`.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $name,)*
                }
            }

            /// The schema version of the payload.
            pub fn schema_version(&self) -> u32 {
                match self {
                    $(Self::$variant(_) => $version,)*
                }
            }

            /// The payload as a JSON object, ready for canonicalisation.
            pub fn to_payload(&self) -> Value {
                match self {
                    $(Self::$variant(payload) => to_value(payload),)*
                }
            }

            /// The payload in canonical JSON, ready to be proposed with
            /// [`crate::event::ProposedEvent::from_canonical`].
            ///
            /// `serde_json` writes a struct's fields in declaration order, so a payload type
            /// declared in key order comes out canonical at once and only needs the scan of
            /// [`crate::canonical::is_plainly_canonical`]; any other goes through
            /// [`serde_json::Value`], which sorts.
            ///
            /// Fails like [`crate::canonical::to_canonical_vec`], for an integer outside the
            /// safe range.
            pub fn to_canonical_payload(
                &self,
            ) -> Result<Vec<u8>, crate::canonical::CanonicalError> {
                let direct = match self {
                    $(Self::$variant(payload) => serde_json::to_vec(payload),)*
                };
                match direct {
                    Ok(bytes) if crate::canonical::is_plainly_canonical(&bytes) => Ok(bytes),
                    _ => crate::canonical::to_canonical_vec(&self.to_payload()),
                }
            }

            /// Reads a payload from its JSON text (as stored), straight into its type; the
            /// same result as [`Self::parse`] of the parsed text, without the
            /// [`serde_json::Value`] in between unless the text is refused (the error then
            /// names the field as `parse` does).
            pub fn parse_json(
                event_type: &str,
                schema_version: u32,
                payload: &[u8],
            ) -> Result<Self, PayloadError> {
                let direct = match (event_type, schema_version) {
                    $(($name, $version) => {
                        serde_json::from_slice(payload).map(Self::$variant).ok()
                    })*
                    _ => None,
                };
                if let Some(event) = direct {
                    return Ok(event);
                }
                let value: Value = serde_json::from_slice(payload).map_err(|e| {
                    match EVENT_TYPES.iter().find(|t| **t == (event_type, schema_version)) {
                        Some(&(name, _)) => PayloadError::Invalid {
                            event_type: name,
                            schema_version,
                            field: "/".into(),
                            message: e.to_string(),
                        },
                        None => unknown(event_type, schema_version),
                    }
                })?;
                Self::parse(event_type, schema_version, &value)
            }

            /// Reads a payload recorded under `event_type` and `schema_version`.
            pub fn parse(
                event_type: &str,
                schema_version: u32,
                payload: &Value,
            ) -> Result<Self, PayloadError> {
                match (event_type, schema_version) {
                    $(($name, $version) => {
                        from_payload($name, $version, payload).map(Self::$variant)
                    })*
                    _ => Err(unknown(event_type, schema_version)),
                }
            }
        }

        /// The JSON Schema (draft 2020-12) of a payload type; `None` for a pair not in
        /// [`EVENT_TYPES`].
        pub fn payload_schema(event_type: &str, schema_version: u32) -> Option<schemars::Schema> {
            let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
            match (event_type, schema_version) {
                $(($name, $version) => Some(generator.into_root_schema_for::<$payload>()),)*
                _ => None,
            }
        }
    };
}

domain_events! {
    EntityRegisteredV1(EntityRegistered) = ("entity_registered", 1),
    EntityDetailsChangedV1(EntityDetailsChanged) = ("entity_details_changed", 1),
    LicenceRevokedV1(LicenceRevoked) = ("licence_revoked", 1),
    EntityDeregisteredV1(EntityDeregistered) = ("entity_deregistered", 1),
    WebsiteRegisteredV1(WebsiteRegistered) = ("website_registered", 1),
    WebsiteRemovedV1(WebsiteRemoved) = ("website_removed", 1),
    OnlineShopOpenedV1(OnlineShopOpened) = ("online_shop_opened", 1),
    OnlineShopClosedV1(OnlineShopClosed) = ("online_shop_closed", 1),
    PenaltyDecidedV1(PenaltyDecided) = ("penalty_decided", 1),
    PenaltyChangedV1(PenaltyChanged) = ("penalty_changed", 1),
    PenaltyRevokedV1(PenaltyRevoked) = ("penalty_revoked", 1),
    AbnormalListEnteredV1(AbnormalListEntered) = ("abnormal_list_entered", 1),
    AbnormalListRemovedV1(AbnormalListRemoved) = ("abnormal_list_removed", 1),
    SeriousListEnteredV1(SeriousListEntered) = ("serious_list_entered", 1),
    SeriousListRemovedV1(SeriousListRemoved) = ("serious_list_removed", 1),
    CreditRepairedV1(CreditRepaired) = ("credit_repaired", 1),
    SpotCheckRecordedV1(SpotCheckRecorded) = ("spot_check_recorded", 1),
    ObjectionRaisedV1(ObjectionRaised) = ("objection_raised", 1),
    ObjectionDecidedV1(ObjectionDecided) = ("objection_decided", 1),
    MeasureDefinedV1(MeasureDefined) = ("measure_defined", 1),
    MeasureRetiredV1(MeasureRetired) = ("measure_retired", 1),
    PersonalDataErasedV1(PersonalDataErased) = ("personal_data_erased", 1),
    PrincipalRegisteredV1(PrincipalRegistered) = ("principal_registered", 1),
    TokenIssuedV1(TokenIssued) = ("token_issued", 1),
    TokenRevokedV1(TokenRevoked) = ("token_revoked", 1),
    AccessLoggedV1(AccessLogged) = ("access_logged", 1),
    AccessLoggedV2(AccessLogBatch) = ("access_logged", 2),
    AccessLoggedV3(AccessLogCallers) = ("access_logged", 3),
}

fn to_value<T: serde::Serialize>(payload: &T) -> Value {
    // Payload types hold only strings, integers, booleans, lists and structs, which always
    // serialise; a failure here is a bug in a payload type, not bad input.
    serde_json::to_value(payload).expect("payload types always serialise to JSON")
}

fn unknown(event_type: &str, schema_version: u32) -> PayloadError {
    let versions: Vec<String> = EVENT_TYPES
        .iter()
        .filter(|(name, _)| *name == event_type)
        .map(|(_, version)| version.to_string())
        .collect();
    if versions.is_empty() {
        let all: Vec<String> =
            EVENT_TYPES.iter().map(|(name, version)| format!("{name} v{version}")).collect();
        PayloadError::UnknownType {
            event_type: event_type.chars().take(80).collect(),
            accepted: all.join(", "),
        }
    } else {
        PayloadError::UnknownVersion {
            event_type: event_type.to_owned(),
            schema_version,
            accepted: versions.join(", "),
        }
    }
}

fn from_payload<T: DeserializeOwned>(
    event_type: &'static str,
    schema_version: u32,
    payload: &Value,
) -> Result<T, PayloadError> {
    let error = match T::deserialize(payload) {
        Ok(parsed) => return Ok(parsed),
        Err(error) => error,
    };

    // Errors from a `Value` carry no position. Parsing pretty-printed text instead gives the
    // line of the error, and pretty JSON puts every member on a line of its own, so the line
    // names the member. The copy is paid only on this failure path. The message still comes
    // from the `Value` error, which has no position in it and words a few cases better.
    let text = serde_json::to_string_pretty(payload).unwrap_or_default();
    let line = serde_json::from_str::<T>(&text).err().map_or(0, |e| e.line());
    let field = pointer_at_line(payload, line).unwrap_or_else(|| "/".into());
    Err(PayloadError::Invalid { event_type, schema_version, field, message: error.to_string() })
}

/// The JSON pointer of the member on `line` (1-based) of `serde_json`'s pretty form of
/// `value`; a closing bracket's line belongs to its container.
fn pointer_at_line(value: &Value, line: usize) -> Option<String> {
    fn walk(value: &Value, pointer: &str, lines: &mut Vec<String>) {
        let children: Vec<(String, &Value)> = match value {
            Value::Object(map) => map.iter().map(|(k, v)| (escape(k), v)).collect(),
            Value::Array(items) => {
                items.iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect()
            }
            _ => return,
        };
        if children.is_empty() {
            // Printed inline as `{}` or `[]`.
            return;
        }
        for (key, child) in children {
            let child_pointer = format!("{pointer}/{key}");
            lines.push(child_pointer.clone());
            walk(child, &child_pointer, lines);
        }
        lines.push(pointer.to_owned());
    }
    fn escape(key: &str) -> String {
        key.replace('~', "~0").replace('/', "~1")
    }

    let mut lines = vec![String::new()];
    walk(value, "", &mut lines);
    let pointer = lines.get(line.checked_sub(1)?)?;
    Some(if pointer.is_empty() { "/".to_owned() } else { pointer.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointer_follows_pretty_lines() {
        let value = json!({"a": 1, "b": {"c": [true, {}], "d": []}, "e": "x"});
        let text = serde_json::to_string_pretty(&value).unwrap();
        let expected =
            ["/", "/a", "/b", "/b/c", "/b/c/0", "/b/c/1", "/b/c", "/b/d", "/b", "/e", "/"];
        assert_eq!(text.lines().count(), expected.len(), "{text}");
        for (i, want) in expected.iter().enumerate() {
            assert_eq!(pointer_at_line(&value, i + 1).as_deref(), Some(*want), "line {}", i + 1);
        }
        assert_eq!(pointer_at_line(&value, 0), None);
    }

    #[test]
    fn every_pair_is_declared_once() {
        let mut seen = std::collections::HashSet::new();
        for pair in EVENT_TYPES {
            assert!(seen.insert(pair), "{pair:?} declared twice");
            crate::event::validate_event_type(pair.0).unwrap();
            assert!(payload_schema(pair.0, pair.1).is_some());
        }
    }
}
