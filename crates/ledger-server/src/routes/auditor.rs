//! Auditor endpoints: checkpoints, proofs, history and offline bundles.
//!
//! Everything here is read-only except one thing: when an auditor asks for a checkpoint (or a
//! bundle) that no stored checkpoint covers yet, the log signs one on demand, as the design
//! allows, rather than make the auditor wait for the periodic one.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ledger_core::bundle::BUNDLE_FORMAT;
use ledger_core::merkle;
use ledger_core::Hash32;
use ledger_store::SignedCheckpoint;
use serde::{Deserialize, Serialize};

use super::views::EventView;
use crate::auth::{Auditors, Authorized};
use crate::extract::{ApiPath, ApiQuery};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// `text/plain` with UTF-8, the media type of signed notes and keys.
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

fn text(body: String) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_PLAIN));
    response
}

/// Parameters of the checkpoint endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CheckpointQuery {
    /// Ask for the smallest checkpoint of at least this size instead of the latest.
    pub size: Option<u64>,
}

/// The latest signed checkpoint, or the smallest one of at least `size`.
#[utoipa::path(
    get,
    path = "/v1/log/checkpoint",
    tag = "auditor",
    params(CheckpointQuery),
    responses(
        (status = 200, description = "A signed note (C2SP tlog-checkpoint)",
            body = String, content_type = "text/plain"),
        (status = 404, description = "No checkpoint of that size can exist yet",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn checkpoint(
    Authorized(..): Authorized<Auditors>,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<CheckpointQuery>,
) -> Result<Response, ApiError> {
    let checkpoint = match query.size {
        None => match state.store().latest_checkpoint().await? {
            Some(c) => c,
            None => state.store().checkpoint_now().await?,
        },
        Some(size) => checkpoint_covering(&state, size).await?,
    };
    Ok(text(checkpoint.note))
}

/// The smallest stored checkpoint of at least `size`, signed now if none is stored yet.
async fn checkpoint_covering(state: &AppState, size: u64) -> Result<SignedCheckpoint, ApiError> {
    if let Some(c) = state.store().checkpoint_at_least(size).await? {
        return Ok(c);
    }
    let current = state.store().size().await?;
    if size > current {
        return Err(ApiError::NotFound(format!(
            "no checkpoint of size {size} or more exists: the log has {current} events"
        )));
    }
    Ok(state.store().checkpoint_now().await?)
}

/// The key that verifies the log's checkpoints.
#[utoipa::path(
    get,
    path = "/v1/log/verifier-key",
    tag = "auditor",
    responses((status = 200, description = "`<name>+<key id>+<base64 key>`",
        body = String, content_type = "text/plain")),
    security(("bearer" = []))
)]
pub async fn verifier_key(
    Authorized(..): Authorized<Auditors>,
    State(state): State<AppState>,
) -> Response {
    text(format!("{}\n", state.store().verifier()))
}

/// Parameters of an inclusion proof.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// The event's position (leaf index).
    pub position: u64,
    /// The tree size to prove inclusion in.
    pub size: u64,
}

/// An inclusion proof.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InclusionView {
    /// The leaf index.
    pub position: u64,
    /// The tree size.
    pub tree_size: u64,
    /// The event hash at the position.
    #[schema(value_type = String)]
    pub event_hash: Hash32,
    /// `BLAKE3(0x00 || event_hash)`, the leaf the proof starts from.
    #[schema(value_type = String)]
    pub leaf_hash: Hash32,
    /// The proof, nearest the leaf first.
    #[schema(value_type = Vec<String>)]
    pub hashes: Vec<Hash32>,
    /// The root at `tree_size`.
    #[schema(value_type = String)]
    pub root: Hash32,
}

/// Proves that the event at `position` is in the tree of `size` events.
#[utoipa::path(
    get,
    path = "/v1/log/proof/inclusion",
    tag = "auditor",
    params(InclusionQuery),
    responses(
        (status = 200, body = InclusionView),
        (status = 400, description = "Position or size outside the log",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn inclusion_proof(
    Authorized(..): Authorized<Auditors>,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<InclusionQuery>,
) -> Result<Json<InclusionView>, ApiError> {
    let proof = state.store().inclusion_proof(query.position, query.size).await?;
    Ok(Json(InclusionView {
        position: proof.position,
        tree_size: proof.tree_size,
        event_hash: proof.event_hash,
        leaf_hash: merkle::leaf_hash(&proof.event_hash),
        hashes: proof.hashes,
        root: proof.root,
    }))
}

/// Parameters of a consistency proof.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older tree size.
    pub old: u64,
    /// The newer tree size.
    pub new: u64,
}

/// A consistency proof.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsistencyView {
    /// The older size.
    pub old_size: u64,
    /// The newer size.
    pub new_size: u64,
    /// The proof hashes.
    #[schema(value_type = Vec<String>)]
    pub hashes: Vec<Hash32>,
    /// The root at the older size.
    #[schema(value_type = String)]
    pub old_root: Hash32,
    /// The root at the newer size.
    #[schema(value_type = String)]
    pub new_root: Hash32,
}

/// Proves that the tree of `new` events extends the tree of `old` events.
#[utoipa::path(
    get,
    path = "/v1/log/proof/consistency",
    tag = "auditor",
    params(ConsistencyQuery),
    responses(
        (status = 200, body = ConsistencyView),
        (status = 400, description = "Sizes reversed or beyond the log",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn consistency_proof(
    Authorized(..): Authorized<Auditors>,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> Result<Json<ConsistencyView>, ApiError> {
    let proof = state.store().consistency_proof(query.old, query.new).await?;
    Ok(Json(ConsistencyView {
        old_size: proof.old_size,
        new_size: proof.new_size,
        hashes: proof.hashes,
        old_root: proof.old_root,
        new_root: proof.new_root,
    }))
}

/// Paging of a stream's history.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// The first stream version to return (default 1).
    pub from_version: Option<u64>,
    /// The most events to return (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// A page of a stream's history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StreamPage {
    /// The stream.
    pub stream: String,
    /// The stream's current version.
    pub version: u64,
    /// Its events from the requested version on.
    pub events: Vec<EventView>,
    /// The `from_version` of the next page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_from_version: Option<u64>,
}

fn page_limit(state: &AppState, limit: Option<usize>) -> Result<usize, ApiError> {
    let max = state.config().page_events_max;
    match limit {
        None => Ok(state.config().page_events_default.min(max)),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => {
            Err(ApiError::InvalidParameter(format!("limit {n} is not accepted; use 1 to {max}")))
        }
    }
}

/// A stream's full history with hashes, in pages.
#[utoipa::path(
    get,
    path = "/v1/streams/{kind}/{id}",
    tag = "auditor",
    params(
        ("kind" = String, Path, description = "the stream kind, e.g. `entity`"),
        ("id" = String, Path, description = "the stream id, e.g. a credit code"),
        StreamQuery,
    ),
    responses(
        (status = 200, body = StreamPage),
        (status = 404, description = "No such stream",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn stream_history(
    Authorized(..): Authorized<Auditors>,
    State(state): State<AppState>,
    ApiPath((kind, id)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<StreamQuery>,
) -> Result<Json<StreamPage>, ApiError> {
    let stream = ledger_core::StreamName::new(format!("{kind}/{id}"))
        .map_err(|e| ApiError::InvalidStreamName(e.to_string()))?;
    let limit = page_limit(&state, query.limit)?;
    let from = query.from_version.unwrap_or(1).max(1);
    let head = state.store().stream_head(&stream).await?;
    if head.version == 0 {
        return Err(ApiError::NotFound(format!("stream {stream} has no events")));
    }
    let events = state.store().read_stream(&stream, from, limit).await?;
    let next = events.last().map(|e| e.stream_version + 1).filter(|next| *next <= head.version);
    Ok(Json(StreamPage {
        stream: stream.as_str().to_owned(),
        version: head.version,
        events: events.iter().map(EventView::from).collect(),
        next_from_version: next,
    }))
}

/// Paging of the log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// The first position to return (default 0).
    pub from: Option<u64>,
    /// The most events to return (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// A page of the log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogPage {
    /// The committed log size when the page was read.
    pub log_size: u64,
    /// Events in position order.
    pub events: Vec<EventView>,
    /// The `from` of the next page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

/// The log in position order, in pages.
#[utoipa::path(
    get,
    path = "/v1/log/events",
    tag = "auditor",
    params(LogQuery),
    responses((status = 200, body = LogPage)),
    security(("bearer" = []))
)]
pub async fn log_events(
    Authorized(..): Authorized<Auditors>,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Json<LogPage>, ApiError> {
    let limit = page_limit(&state, query.limit)?;
    let from = query.from.unwrap_or(0);
    let log_size = state.store().size().await?;
    let events =
        state.store().read_log_range(from, from.saturating_add(limit as u64).min(log_size)).await?;
    let next = events.last().map(|e| e.position + 1).filter(|next| *next < log_size);
    Ok(Json(LogPage { log_size, events: events.iter().map(EventView::from).collect(), next }))
}

/// An inclusion proof inside a bundle.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BundleProofView {
    /// The checkpoint's size.
    pub tree_size: u64,
    /// The proof hashes, nearest the leaf first.
    #[schema(value_type = Vec<String>)]
    pub hashes: Vec<Hash32>,
}

/// Offline evidence for one event; the JSON form of `ledger_core::bundle::EventBundle`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BundleView {
    /// `credit-ledger-event-bundle/v1`.
    pub format: String,
    /// The event with every envelope field.
    pub event: EventView,
    /// Its inclusion proof at the checkpoint's size.
    pub inclusion_proof: BundleProofView,
    /// The signed checkpoint note.
    pub checkpoint: String,
    /// The log's verifier key (check it against one obtained out of band).
    pub verifier_key: String,
}

/// The event at `position` with its inclusion proof and a signed checkpoint, verifiable
/// offline (`ledger_core::bundle::verify_bundle`).
#[utoipa::path(
    get,
    path = "/v1/log/bundle/{position}",
    tag = "auditor",
    params(("position" = u64, Path, description = "the event's position")),
    responses(
        (status = 200, body = BundleView),
        (status = 404, description = "No event at that position",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn bundle(
    Authorized(..): Authorized<Auditors>,
    State(state): State<AppState>,
    ApiPath(position): ApiPath<u64>,
) -> Result<Json<BundleView>, ApiError> {
    let event = state.store().event_at(position).await?;
    let checkpoint = checkpoint_covering(&state, position + 1).await?;
    let proof = state.store().inclusion_proof(position, checkpoint.size).await?;
    Ok(Json(BundleView {
        format: BUNDLE_FORMAT.to_owned(),
        event: EventView::from(&event),
        inclusion_proof: BundleProofView { tree_size: proof.tree_size, hashes: proof.hashes },
        checkpoint: checkpoint.note,
        verifier_key: state.store().verifier().to_string(),
    }))
}
