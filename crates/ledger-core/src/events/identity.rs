//! Who may call the ledger's HTTP service, and what partners asked it.
//!
//! The service's callers (principals) and their bearer tokens are recorded as events, so that
//! who could see what is itself part of the tamper-evident log: an auditor can replay the
//! identity stream and know, for any moment, which tokens were valid and for which
//! department. A token is never recorded, only its BLAKE3 hash, which is all the server needs
//! to recognise it and useless to anyone who reads the log.
//!
//! Every query a partner department makes is recorded too ([`AccessLogged`]): who asked, when,
//! about which entities, and a hash of the answer, so that a disputed answer can be shown to
//! be the one given. The service writes the entries in batches, many to an event: version 2
//! ([`AccessLogBatch`]) repeats the caller in every entry, version 3 ([`AccessLogCallers`],
//! what the service writes now) states each caller once and lists its queries under it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{CreditCode, Hash32};

/// What a principal may do; a principal holds one or more roles.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalRole {
    /// Appends events and imports history (the bureau's case, registry and inspection
    /// systems).
    Recorder,
    /// Queries restrictions for one department (or all, where its scope says so).
    Partner,
    /// Reads the log, its proofs and checkpoints.
    Auditor,
    /// Registers principals and issues and revokes tokens.
    Admin,
}

/// A principal was registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrincipalRegistered {
    /// The principal's stable id, 1-64 characters of `A-Z a-z 0-9 . _ : -`, for example
    /// "tax-bureau".
    pub principal_id: String,
    /// A human-readable name, for example "天水市税务局".
    pub name: String,
    /// The roles granted.
    pub roles: Vec<PrincipalRole>,
    /// For a partner: the department whose measures it sees, as named in the measure
    /// catalogue, for example "税务部门".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// For a partner: whether it may see the measures of every department.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_departments: bool,
}

/// A bearer token was issued to a principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenIssued {
    /// The principal that holds the token.
    pub principal_id: String,
    /// The token's id, used to revoke it.
    pub token_id: Uuid,
    /// BLAKE3 of the token's text; the token itself is shown once and never stored.
    pub token_hash: Hash32,
    /// What the token is for, for example "procurement system, production".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A bearer token was revoked; it is refused from this event on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRevoked {
    /// The principal that held the token.
    pub principal_id: String,
    /// The revoked token's id.
    pub token_id: Uuid,
    /// Why, for example "leaked in a log file".
    pub reason: String,
}

/// The kinds of partner query the access log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessQuery {
    /// The restrictions on one entity.
    Restrictions,
    /// A bulk check of many entities.
    BulkCheck,
    /// A page of the department's change feed.
    Changes,
    /// A batch of the change feed sent as server-sent events.
    ChangesStream,
}

/// Partner queries recorded together: the access log writes the entries that arrived within
/// one flush as one event, so that recording a query costs a share of one append rather than
/// an append of its own. Each entry reads exactly like an `access_logged` v1 payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessLogBatch {
    /// The queries, in the order they were answered.
    pub entries: Vec<AccessLogged>,
}

/// Partner queries recorded together, grouped by caller (`access_logged` version 3): the
/// principal, token and department are written once per caller rather than once per query,
/// which makes an entry about a third smaller than in version 2. Within a caller, the queries
/// are in the order they were answered; across callers, `queried_at` orders them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessLogCallers {
    /// One group per caller, in the order of each caller's first query.
    pub callers: Vec<AccessLogCaller>,
}

/// The queries one principal made with one token for one department scope.
///
/// The fields are declared in the byte order of their names (see [`AccessLogged`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessLogCaller {
    /// The department whose measures were asked about, or none for every department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The queries, in the order they were answered.
    pub entries: Vec<AccessLogEntry>,
    /// The principal that asked.
    pub principal_id: String,
    /// The token it used.
    pub token_id: Uuid,
}

/// One query of an [`AccessLogCaller`]: an [`AccessLogged`] without the caller's fields.
///
/// The fields are declared in the byte order of their names (see [`AccessLogged`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessLogEntry {
    /// BLAKE3 of the answer's body as sent.
    pub answer_hash: Hash32,
    /// How many items (restrictions, entities or changes) the answer held.
    pub answer_items: u64,
    /// The date the question was about, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<NaiveDate>,
    /// For the change feed: the cursor the page started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// The entities asked about (empty for the change feed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<CreditCode>,
    /// The knowledge time the question was about, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_at: Option<DateTime<Utc>>,
    /// When the question was answered.
    pub queried_at: DateTime<Utc>,
    /// What kind of question.
    pub query: AccessQuery,
}

impl AccessLogCallers {
    /// Every query with its caller's fields, as version 1 payloads, caller by caller.
    pub fn flatten(&self) -> Vec<AccessLogged> {
        let mut all = Vec::new();
        for caller in &self.callers {
            all.extend(caller.entries.iter().map(|e| AccessLogged {
                answer_hash: e.answer_hash,
                answer_items: e.answer_items,
                as_of: e.as_of,
                cursor: e.cursor,
                department: caller.department.clone(),
                entities: e.entities.clone(),
                known_at: e.known_at,
                principal_id: caller.principal_id.clone(),
                queried_at: e.queried_at,
                query: e.query,
                token_id: caller.token_id,
            }));
        }
        all
    }
}

impl AccessLogged {
    /// The query without its caller's fields.
    pub fn to_entry(&self) -> AccessLogEntry {
        AccessLogEntry {
            answer_hash: self.answer_hash,
            answer_items: self.answer_items,
            as_of: self.as_of,
            cursor: self.cursor,
            entities: self.entities.clone(),
            known_at: self.known_at,
            queried_at: self.queried_at,
            query: self.query,
        }
    }
}

/// A partner department queried the ledger.
///
/// The fields are declared in the byte order of their names, so that `serde_json` writes an
/// entry in canonical form directly (see [`crate::events::DomainEvent::to_canonical_payload`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessLogged {
    /// BLAKE3 of the answer's body as sent.
    pub answer_hash: Hash32,
    /// How many items (restrictions, entities or changes) the answer held.
    pub answer_items: u64,
    /// The date the question was about, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<NaiveDate>,
    /// For the change feed: the cursor the page started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// The department whose measures were asked about, or none for every department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The entities asked about (empty for the change feed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<CreditCode>,
    /// The knowledge time the question was about, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_at: Option<DateTime<Utc>>,
    /// The principal that asked.
    pub principal_id: String,
    /// When the question was answered.
    pub queried_at: DateTime<Utc>,
    /// What kind of question.
    pub query: AccessQuery,
    /// The token it used.
    pub token_id: Uuid,
}
