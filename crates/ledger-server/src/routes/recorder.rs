//! Recorder endpoints: appends and NDJSON import.
//!
//! Before anything reaches the store, every event is checked the way the domain requires:
//!
//! 1. the stream is an entity stream (`entity/<credit code>`) or a catalogue stream
//!    (`catalogue/<name>`); the identity and access-log streams are the service's own;
//! 2. an entity code must pass its check characters, unless the stream already exists or the
//!    append registers the entity with a recorded `check_override` (pilot codes);
//! 3. the payload must parse as its type and schema version, catalogue types only in
//!    catalogue streams and entity types only in entity streams, and an `entity_registered`
//!    must name the stream's own code;
//! 4. the recorder is the authenticated principal, never a field of the request.
//!
//! The store then checks the expected version and idempotency and answers after the commit.

use std::collections::HashSet;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use ledger_core::event::ProposedEvent;
use ledger_core::events::DomainEvent;
use ledger_core::{CreditCode, StreamName};
use ledger_store::{AppendOutcome, AppendRequest, ExpectedVersion, StoreError};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use crate::auth::{Authorized, Recorders};
use crate::config::IMPORT_ERRORS_MAX;
use crate::extract::{read_body, require_media_type, ApiJson, ApiPath};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Event types only the service itself records.
pub const RESERVED_EVENT_TYPES: &[&str] =
    &["principal_registered", "token_issued", "token_revoked", "access_logged"];

/// Stream kinds recorders may append to.
pub const RECORDER_STREAM_KINDS: &[&str] = &["entity", "catalogue"];

/// Event types that belong in catalogue streams; every other recorder type belongs in entity
/// streams.
const CATALOGUE_EVENT_TYPES: &[&str] = &["measure_defined", "measure_retired"];

/// One event as a recorder proposes it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    /// Chosen by the recorder (UUIDv7 recommended); retrying with the same id and content is
    /// answered with the original positions.
    pub event_id: Uuid,
    /// The payload type, for example `penalty_decided`.
    pub event_type: String,
    /// The payload's schema version.
    pub schema_version: u32,
    /// When the fact took legal effect (RFC 3339).
    pub effective_at: DateTime<Utc>,
    /// The payload object, as its schema in `schemas/events/` describes it.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// What the stream's version must be: a number (0: the stream must not exist), `"any"` or
/// `"no_stream"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedVersionIn(pub ExpectedVersion);

impl Default for ExpectedVersionIn {
    fn default() -> Self {
        Self(ExpectedVersion::Any)
    }
}

impl<'de> Deserialize<'de> for ExpectedVersionIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        match &value {
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

/// An append: one event (`event`) or a batch (`events`), with an expected version.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppendBody {
    /// A version number (0: the stream must not exist yet), `"any"` (the default) or
    /// `"no_stream"`.
    #[serde(default)]
    #[schema(value_type = Object, example = 3)]
    pub expected_version: ExpectedVersionIn,
    /// A single event; give this or `events`.
    #[serde(default)]
    pub event: Option<EventIn>,
    /// A batch of events, appended in order and atomically; give this or `event`.
    #[serde(default)]
    pub events: Option<Vec<EventIn>>,
}

/// Where one appended event landed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AppendedView {
    /// The event's id.
    pub event_id: Uuid,
    /// Its global position.
    pub position: u64,
    /// Its version within the stream.
    pub stream_version: u64,
    /// Its hash (64 hex digits).
    #[schema(value_type = String)]
    pub hash: ledger_core::Hash32,
}

/// The answer to an append.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AppendResponse {
    /// The stream appended to.
    pub stream: String,
    /// True when every event was already recorded (an idempotent retry): nothing was written.
    pub duplicate: bool,
    /// The events, in order.
    pub events: Vec<AppendedView>,
}

impl AppendResponse {
    fn of(stream: &StreamName, outcome: AppendOutcome) -> Self {
        Self {
            stream: stream.as_str().to_owned(),
            duplicate: outcome.duplicate,
            events: outcome
                .events
                .into_iter()
                .map(|e| AppendedView {
                    event_id: e.event_id,
                    position: e.position,
                    stream_version: e.stream_version,
                    hash: e.hash,
                })
                .collect(),
        }
    }
}

/// Appends one event or a batch to a stream.
#[utoipa::path(
    post,
    path = "/v1/streams/{kind}/{id}/events",
    tag = "recorder",
    params(
        ("kind" = String, Path, description = "`entity` or `catalogue`"),
        ("id" = String, Path, description = "the credit code, or the catalogue's name"),
    ),
    request_body = AppendBody,
    responses(
        (status = 201, description = "Recorded", body = AppendResponse),
        (status = 200, description = "Already recorded (idempotent retry)", body = AppendResponse),
        (status = 400, description = "Malformed JSON, stream name or credit code",
            body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a recorder, or a reserved stream or type",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Wrong expected version or reused event id",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body or batch too large",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Body or payload of the wrong shape",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn append(
    Authorized(caller, ..): Authorized<Recorders>,
    State(state): State<AppState>,
    ApiPath((kind, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<AppendBody>,
) -> Result<Response, ApiError> {
    let events = match (body.event, body.events) {
        (Some(event), None) => vec![event],
        (None, Some(events)) => events,
        _ => {
            return Err(ApiError::InvalidBody(
                "give exactly one of `event` (one event) and `events` (a batch)".to_owned(),
            ))
        }
    };
    let max = state.config().append_batch_events_max;
    if events.len() > max {
        return Err(ApiError::TooLarge(format!(
            "the batch has {} events; at most {max} are accepted per append",
            events.len()
        )));
    }
    let stream = recorder_stream(&kind, &id)?;
    let proposals = events
        .iter()
        .enumerate()
        .map(|(index, event)| validate_event(&stream, index, event))
        .collect::<Result<Vec<_>, _>>()?;
    check_entity_code(&state, &stream, &events, &HashSet::new()).await?;

    let request = AppendRequest::new(
        stream.clone(),
        body.expected_version.0,
        proposals.clone(),
        &caller.principal.id,
    );
    let outcome = match timed_append(&state, request).await {
        Err(e @ StoreError::WrongExpectedVersion { .. }) => {
            recognise_retry(&state, &stream, &proposals).await?.ok_or(e)?
        }
        other => other?,
    };
    let status = if outcome.duplicate { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(AppendResponse::of(&stream, outcome))).into_response())
}

/// Appends through the store and records the metrics of it.
async fn timed_append(
    state: &AppState,
    request: AppendRequest,
) -> Result<AppendOutcome, StoreError> {
    let events = request.events.len();
    let started = Instant::now();
    let result = state.store().append(request).await;
    let outcome = result.as_ref().map(|o| o.duplicate).map_err(|_| ());
    state.metrics().append(events, started.elapsed(), outcome);
    result
}

/// An append refused for its expected version may be the retry of one that committed (the
/// answer was lost, the stream has moved on since). The store checks the version before it
/// looks for stored ids, so this looks: when every event is stored with the same content in
/// this stream, the retry gets the original answer.
async fn recognise_retry(
    state: &AppState,
    stream: &StreamName,
    proposals: &[ProposedEvent],
) -> Result<Option<AppendOutcome>, StoreError> {
    let mut events = Vec::with_capacity(proposals.len());
    for proposal in proposals {
        let stored = match state.store().event_by_id(proposal.event_id).await {
            Ok(stored) => stored,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if stored.stream != *stream || !proposal.same_content_as(&stored) {
            return Ok(None);
        }
        events.push(ledger_store::AppendedEvent {
            event_id: stored.event_id,
            position: stored.position,
            stream_version: stored.stream_version,
            hash: stored.hash,
        });
    }
    Ok(Some(AppendOutcome { events, duplicate: true }))
}

/// A recorder's stream: kind `entity` with a structurally valid code, or `catalogue`.
fn recorder_stream(kind: &str, id: &str) -> Result<StreamName, ApiError> {
    if !RECORDER_STREAM_KINDS.contains(&kind) {
        let reserved = kind == "identity" || kind == "access";
        let detail = format!(
            "recorders append to streams of the kinds {RECORDER_STREAM_KINDS:?} \
             (`entity/<credit code>`, `catalogue/<name>`), not {:?}",
            kind.chars().take(40).collect::<String>()
        );
        return Err(if reserved {
            ApiError::Reserved(detail)
        } else {
            ApiError::InvalidStreamName(detail)
        });
    }
    let stream = StreamName::new(format!("{kind}/{id}"))
        .map_err(|e| ApiError::InvalidStreamName(e.to_string()))?;
    if kind == "entity" {
        CreditCode::parse_recorded(id).map_err(|e| {
            ApiError::InvalidCreditCode(format!("the stream's credit code {id:?} is invalid: {e}"))
        })?;
    }
    Ok(stream)
}

/// Step 2 of the module docs: a code failing its check characters is accepted only for an
/// existing entity, or with a recorded override.
async fn check_entity_code(
    state: &AppState,
    stream: &StreamName,
    events: &[EventIn],
    registered_here: &HashSet<StreamName>,
) -> Result<(), ApiError> {
    if stream.kind() != "entity" {
        return Ok(());
    }
    let Err(e) = CreditCode::parse(stream.id()) else { return Ok(()) };
    let overridden = events.iter().any(|event| {
        event.event_type == "entity_registered"
            && event.payload.get("check_override").is_some_and(|o| !o.is_null())
    });
    if overridden || registered_here.contains(stream) {
        return Ok(());
    }
    if state.store().stream_head(stream).await?.version > 0 {
        return Ok(());
    }
    Err(ApiError::InvalidCreditCode(format!(
        "credit code {:?} is invalid: {e}; a code that really exists but fails its check is \
         accepted only by an `entity_registered` event carrying a `check_override`",
        stream.id()
    )))
}

/// Step 3 of the module docs for one event.
fn validate_event(
    stream: &StreamName,
    index: usize,
    event: &EventIn,
) -> Result<ProposedEvent, ApiError> {
    let at = |detail: String| format!("event {index}: {detail}");
    if RESERVED_EVENT_TYPES.contains(&event.event_type.as_str()) {
        return Err(ApiError::Reserved(at(format!(
            "event type {:?} is recorded only by the service itself",
            event.event_type
        ))));
    }
    let parsed = DomainEvent::parse(&event.event_type, event.schema_version, &event.payload)
        .map_err(|e| ApiError::InvalidPayload(at(e.to_string())))?;
    let catalogue_type = CATALOGUE_EVENT_TYPES.contains(&event.event_type.as_str());
    if catalogue_type != (stream.kind() == "catalogue") {
        let home = if catalogue_type { "catalogue/<name>" } else { "entity/<credit code>" };
        return Err(ApiError::InvalidPayload(at(format!(
            "event type {:?} belongs in a stream `{home}`, not in {stream}",
            event.event_type
        ))));
    }
    if let DomainEvent::EntityRegisteredV1(registered) = &parsed {
        if registered.credit_code.as_str() != stream.id() {
            return Err(ApiError::InvalidPayload(at(format!(
                "credit_code {} differs from the stream's code {}",
                registered.credit_code,
                stream.id()
            ))));
        }
    }
    ProposedEvent::new(
        event.event_id,
        &event.event_type,
        event.schema_version,
        event.effective_at,
        &event.payload,
    )
    .map_err(|e| ApiError::InvalidPayload(at(e.to_string())))
}

/// One line of an import: an event and its stream.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportLine {
    /// The stream, `entity/<credit code>` or `catalogue/<name>`.
    pub stream: String,
    /// See [`EventIn`].
    pub event_id: Uuid,
    /// See [`EventIn`].
    pub event_type: String,
    /// See [`EventIn`].
    pub schema_version: u32,
    /// See [`EventIn`].
    pub effective_at: DateTime<Utc>,
    /// See [`EventIn`].
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl ImportLine {
    fn event(&self) -> EventIn {
        EventIn {
            event_id: self.event_id,
            event_type: self.event_type.clone(),
            schema_version: self.schema_version,
            effective_at: self.effective_at,
            payload: self.payload.clone(),
        }
    }
}

/// Why one import line was not recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportLineError {
    /// The line number, from 1.
    pub line: usize,
    /// The problem, as an append of that line alone would have answered.
    pub problem: Problem,
}

/// The report of an import.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Non-empty lines read.
    pub lines: usize,
    /// Events newly recorded.
    pub recorded: usize,
    /// Lines already recorded with the same content (idempotent retries).
    pub duplicates: usize,
    /// Lines refused.
    pub rejected: usize,
    /// Why lines were refused, in line order, at most 1000.
    pub errors: Vec<ImportLineError>,
    /// Whether more errors occurred than are listed.
    pub errors_truncated: bool,
}

impl ImportReport {
    fn reject(&mut self, line: usize, error: &ApiError) {
        self.rejected += 1;
        if self.errors.len() < IMPORT_ERRORS_MAX {
            self.errors.push(ImportLineError { line, problem: error.to_problem() });
        } else {
            self.errors_truncated = true;
        }
    }
}

/// Imports history as NDJSON: one event with its stream per line.
///
/// Consecutive lines of one stream are appended together (up to the batch limit); when such a
/// batch is refused, its lines are appended one by one so that each refusal is reported on
/// its own line and the good lines are still recorded. Re-running an import is safe: lines
/// already recorded count as duplicates.
#[utoipa::path(
    post,
    path = "/v1/import",
    tag = "recorder",
    request_body(
        content = ImportLine,
        content_type = "application/x-ndjson",
        description = "One JSON object per line"
    ),
    responses(
        (status = 200, description = "Import report", body = ImportReport),
        (status = 403, description = "Not a recorder",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body or line count too large",
            body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not NDJSON",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn import(
    Authorized(caller, ..): Authorized<Recorders>,
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<ImportReport>, ApiError> {
    require_media_type(request.headers(), &["application/x-ndjson"])?;
    let body = read_body(request, state.config().import_body_bytes_max).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::MalformedJson(format!("the import body is not UTF-8: {e}")))?;
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let max = state.config().import_lines_max;
    if lines.len() > max {
        return Err(ApiError::TooLarge(format!(
            "the import has {} lines; at most {max} are accepted per request",
            lines.len()
        )));
    }

    let mut report = ImportReport { lines: lines.len(), ..ImportReport::default() };
    let mut registered = HashSet::new();
    let mut group: Vec<(usize, StreamName, ProposedEvent)> = Vec::new();
    for (number, line) in lines {
        let checked = match check_line(&state, line, &registered).await {
            Ok(checked) => checked,
            Err(error) => {
                report.reject(number, &error);
                continue;
            }
        };
        if checked.1.event_type == "entity_registered" {
            registered.insert(checked.0.clone());
        }
        let same_stream = group.first().is_none_or(|(_, s, _)| *s == checked.0);
        if !same_stream || group.len() >= state.config().append_batch_events_max {
            flush_group(&state, &caller.principal.id, &mut group, &mut report).await;
        }
        group.push((number, checked.0, checked.1));
    }
    flush_group(&state, &caller.principal.id, &mut group, &mut report).await;
    Ok(Json(report))
}

async fn check_line(
    state: &AppState,
    line: &str,
    registered: &HashSet<StreamName>,
) -> Result<(StreamName, ProposedEvent), ApiError> {
    let parsed: ImportLine = crate::extract::parse_json(line.as_bytes())?;
    let (kind, id) = parsed.stream.split_once('/').ok_or_else(|| {
        ApiError::InvalidStreamName(format!(
            "stream {:?} is not accepted; use `entity/<credit code>` or `catalogue/<name>`",
            parsed.stream.chars().take(80).collect::<String>()
        ))
    })?;
    let stream = recorder_stream(kind, id)?;
    let event = parsed.event();
    let proposal = validate_event(&stream, 0, &event)?;
    check_entity_code(state, &stream, std::slice::from_ref(&event), registered).await?;
    Ok((stream, proposal))
}

/// Appends a group of one stream's lines; on refusal, line by line.
async fn flush_group(
    state: &AppState,
    recorder: &str,
    group: &mut Vec<(usize, StreamName, ProposedEvent)>,
    report: &mut ImportReport,
) {
    let Some((_, stream, _)) = group.first() else { return };
    let stream = stream.clone();
    let lines: Vec<(usize, ProposedEvent)> = group.drain(..).map(|(n, _, e)| (n, e)).collect();
    let events: Vec<ProposedEvent> = lines.iter().map(|(_, e)| e.clone()).collect();
    let request = AppendRequest::new(stream.clone(), ExpectedVersion::Any, events, recorder);
    match timed_append(state, request).await {
        Ok(outcome) if outcome.duplicate => report.duplicates += lines.len(),
        Ok(_) => report.recorded += lines.len(),
        Err(_) if lines.len() > 1 => {
            for (number, event) in lines {
                let request =
                    AppendRequest::new(stream.clone(), ExpectedVersion::Any, vec![event], recorder);
                match timed_append(state, request).await {
                    Ok(outcome) if outcome.duplicate => report.duplicates += 1,
                    Ok(_) => report.recorded += 1,
                    Err(e) => report.reject(number, &ApiError::Store(e)),
                }
            }
        }
        Err(e) => report.reject(lines[0].0, &ApiError::Store(e)),
    }
}
