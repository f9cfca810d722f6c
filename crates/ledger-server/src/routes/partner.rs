//! Partner endpoints: restrictions on an entity, bulk checks and the change feed.
//!
//! Each answer goes through the same three steps:
//!
//! 1. ask the [`crate::status::StatusSource`] and narrow the answer to the caller's department
//!    (a partner registered with `all_departments` sees every department);
//! 2. serialise the body and hash it;
//! 3. queue the access-log entry with that hash, and only then send the body: a query that
//!    cannot be logged is refused (503), never answered unlogged.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::stream::{self, Stream};
use ledger_core::events::{AccessLogged, AccessQuery};
use ledger_core::{CreditCode, Hash32};
use serde::{Deserialize, Serialize};

use crate::auth::{Authorized, Caller, Partners};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use crate::status::{
    ChangePage, DepartmentScope, EntityStatus, Restriction, StatusError, StatusQuery,
};

impl From<StatusError> for ApiError {
    fn from(e: StatusError) -> Self {
        match e {
            StatusError::UnknownEntity(_) => ApiError::NotFound(e.to_string()),
            StatusError::Unavailable(_) => ApiError::Unavailable(e.to_string()),
            StatusError::Failed(_) => ApiError::Internal(e.to_string()),
        }
    }
}

fn scope_of(caller: &Caller) -> Result<DepartmentScope, ApiError> {
    match (&caller.principal.department, caller.principal.all_departments) {
        (_, true) => Ok(DepartmentScope::All),
        (Some(department), false) => Ok(DepartmentScope::One(department.clone())),
        (None, false) => Err(ApiError::Forbidden(format!(
            "partner {:?} is registered without a department, so it may see no measures",
            caller.principal.id
        ))),
    }
}

/// Parses a credit code from a partner's request. A code failing only its check characters is
/// still looked up, since pilot codes recorded with an override are real; the status source
/// answers 404 for one that names no entity.
fn parse_code(text: &str) -> Result<CreditCode, ApiError> {
    CreditCode::parse(text).or_else(|strict| {
        CreditCode::parse_recorded(text).map_err(|_| {
            ApiError::InvalidCreditCode(format!(
                "{:?} is not a unified social credit code: {strict}",
                text.chars().take(40).collect::<String>()
            ))
        })
    })
}

/// The date and knowledge time of a question.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RestrictionsQuery {
    /// The date asked about (YYYY-MM-DD, China Standard Time); today when absent.
    pub as_of: Option<NaiveDate>,
    /// Answer with what the ledger knew at this instant (RFC 3339); everything when absent.
    pub known_at: Option<DateTime<Utc>>,
}

fn narrow(mut status: EntityStatus, scope: &DepartmentScope) -> EntityStatus {
    status.restrictions.retain(|r: &Restriction| scope.covers(&r.department));
    status
}

/// The buffer an answer is serialised into to begin with; it grows for larger answers.
const ANSWER_CAPACITY_BYTES: usize = 512;

/// Step 2 and 3 of the module docs.
fn logged_json<T: Serialize>(
    state: &AppState,
    caller: &Caller,
    body: &T,
    entry: impl FnOnce(Hash32) -> AccessLogged,
) -> Result<Response, ApiError> {
    // Most answers are a few hundred bytes; starting there saves the doublings from empty.
    let mut bytes = Vec::with_capacity(ANSWER_CAPACITY_BYTES);
    serde_json::to_writer(&mut bytes, body)
        .map_err(|e| ApiError::Internal(format!("answer did not serialise: {e}")))?;
    if state.access_log().is_on() {
        let hash: Hash32 = blake3::hash(&bytes).into();
        state.access_log().record(entry(hash))?;
        tracing::debug!(principal = %caller.principal.id, answer = %hash, "partner query answered");
    }
    let mut response = bytes.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

fn entry(
    state: &AppState,
    caller: &Caller,
    scope: &DepartmentScope,
    query: AccessQuery,
    answer_hash: Hash32,
    answer_items: usize,
) -> AccessLogged {
    let now = state.now();
    AccessLogged {
        principal_id: caller.principal.id.clone(),
        token_id: caller.token_id,
        // Whole microseconds, like every other time in the ledger.
        queried_at: ledger_core::event::normalize_timestamp(now).unwrap_or(now),
        query,
        department: scope.department().map(str::to_owned),
        entities: Vec::new(),
        as_of: None,
        known_at: None,
        cursor: None,
        answer_hash,
        answer_items: answer_items as u64,
    }
}

/// The restrictions on one entity that apply for the caller's department.
#[utoipa::path(
    get,
    path = "/v1/entities/{code}/restrictions",
    tag = "partner",
    params(("code" = String, Path, description = "unified social credit code"), RestrictionsQuery),
    responses(
        (status = 200, body = EntityStatus),
        (status = 400, description = "Invalid credit code or date",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such entity",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Projections or access log unavailable",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn restrictions(
    Authorized(caller, ..): Authorized<Partners>,
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
    ApiQuery(query): ApiQuery<RestrictionsQuery>,
) -> Result<Response, ApiError> {
    let scope = scope_of(&caller)?;
    let code = parse_code(&code)?;
    let question = StatusQuery {
        code,
        as_of: query.as_of.unwrap_or_else(|| state.today()),
        known_at: query.known_at,
    };
    let log = |hash, items| AccessLogged {
        entities: vec![question.code],
        as_of: Some(question.as_of),
        known_at: question.known_at,
        ..entry(&state, &caller, &scope, AccessQuery::Restrictions, hash, items)
    };
    match state.status().status(&question).await {
        Ok(status) => {
            let status = narrow(status, &scope);
            let items = status.restrictions.len();
            logged_json(&state, &caller, &status, |hash| log(hash, items))
        }
        Err(e @ StatusError::UnknownEntity(_)) => {
            // That the ledger knows no such entity is an answer too, and is logged as one.
            let error = ApiError::from(e);
            let body = serde_json::to_vec(&error.to_problem()).unwrap_or_default();
            state.access_log().record(log(blake3::hash(&body).into(), 0))?;
            Err(error)
        }
        Err(e) => Err(e.into()),
    }
}

/// A bulk check.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    /// The credit codes to check (at most the configured maximum, 500 by default).
    pub codes: Vec<String>,
    /// The date asked about; today when absent.
    pub as_of: Option<NaiveDate>,
    /// The knowledge time asked about; everything recorded when absent.
    pub known_at: Option<DateTime<Utc>>,
}

/// One entity's line of a bulk check.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckResult {
    /// The code as given.
    pub code: String,
    /// Whether the ledger knows the entity.
    pub found: bool,
    /// The entity's registered name, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The restrictions for the caller's department (empty when not found).
    pub restrictions: Vec<Restriction>,
}

/// The answer to a bulk check.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckResponse {
    /// The date asked about.
    pub as_of: NaiveDate,
    /// The knowledge time asked about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_at: Option<DateTime<Utc>>,
    /// One result per code, in request order.
    pub results: Vec<CheckResult>,
}

/// Checks many entities at once.
#[utoipa::path(
    post,
    path = "/v1/entities/restrictions:check",
    tag = "partner",
    request_body = CheckBody,
    responses(
        (status = 200, body = CheckResponse),
        (status = 400, description = "An invalid credit code",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too many codes",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Projections or access log unavailable",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn check(
    Authorized(caller, ..): Authorized<Partners>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CheckBody>,
) -> Result<Response, ApiError> {
    let scope = scope_of(&caller)?;
    let max = state.config().check_codes_max;
    if body.codes.len() > max {
        return Err(ApiError::TooLarge(format!(
            "{} codes in one check; at most {max} are accepted",
            body.codes.len()
        )));
    }
    let as_of = body.as_of.unwrap_or_else(|| state.today());
    let questions = body
        .codes
        .iter()
        .enumerate()
        .map(|(i, text)| {
            parse_code(text)
                .map(|code| StatusQuery { code, as_of, known_at: body.known_at })
                .map_err(|e| ApiError::InvalidCreditCode(format!("codes[{i}]: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let answers = state.status().status_many(&questions).await?;
    let mut results = Vec::with_capacity(answers.len());
    for (text, answer) in body.codes.iter().zip(answers) {
        results.push(match answer {
            Ok(status) => {
                let status = narrow(status, &scope);
                CheckResult {
                    code: text.clone(),
                    found: true,
                    name: status.name,
                    restrictions: status.restrictions,
                }
            }
            Err(StatusError::UnknownEntity(_)) => {
                CheckResult { code: text.clone(), found: false, name: None, restrictions: vec![] }
            }
            Err(other) => return Err(other.into()),
        });
    }
    let response = CheckResponse { as_of, known_at: body.known_at, results };
    let items = response.results.len();
    logged_json(&state, &caller, &response, |hash| AccessLogged {
        entities: questions.iter().map(|q| q.code).collect(),
        as_of: Some(as_of),
        known_at: body.known_at,
        ..entry(&state, &caller, &scope, AccessQuery::BulkCheck, hash, items)
    })
}

/// Paging of the change feed.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// Return changes after this cursor (default 0: from the start).
    pub cursor: Option<u64>,
    /// The most changes to return (default 100, at most 1000).
    pub limit: Option<usize>,
}

fn changes_limit(state: &AppState, limit: Option<usize>) -> Result<usize, ApiError> {
    let max = state.config().changes_page_max;
    match limit {
        None => Ok(state.config().changes_page_default.min(max)),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => {
            Err(ApiError::InvalidParameter(format!("limit {n} is not accepted; use 1 to {max}")))
        }
    }
}

/// The caller's department's restrictions starting or ending, after a cursor.
#[utoipa::path(
    get,
    path = "/v1/partners/me/changes",
    tag = "partner",
    params(ChangesQuery),
    responses(
        (status = 200, body = ChangePage),
        (status = 503, description = "Projections or access log unavailable",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn changes(
    Authorized(caller, ..): Authorized<Partners>,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ChangesQuery>,
) -> Result<Response, ApiError> {
    let scope = scope_of(&caller)?;
    let limit = changes_limit(&state, query.limit)?;
    let cursor = query.cursor.unwrap_or(0);
    let page = narrow_page(state.status().changes(&scope, cursor, limit).await?, &scope);
    let items = page.changes.len();
    logged_json(&state, &caller, &page, |hash| AccessLogged {
        cursor: Some(cursor),
        ..entry(&state, &caller, &scope, AccessQuery::Changes, hash, items)
    })
}

fn narrow_page(mut page: ChangePage, scope: &DepartmentScope) -> ChangePage {
    page.changes.retain(|c| scope.covers(&c.department));
    page
}

/// Where a change stream starts.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StreamChangesQuery {
    /// Start after this cursor; a `Last-Event-ID` header, sent by a reconnecting client,
    /// takes precedence.
    pub cursor: Option<u64>,
}

/// The change feed as server-sent events: one `change` event per change, its id the cursor,
/// so a reconnecting client resumes where it stopped.
#[utoipa::path(
    get,
    path = "/v1/partners/me/changes/stream",
    tag = "partner",
    params(
        StreamChangesQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "resume after this cursor"),
    ),
    responses((status = 200,
        description = "`text/event-stream` of `change` events whose data is a Change",
        content_type = "text/event-stream", body = String)),
    security(("bearer" = []))
)]
pub async fn changes_stream(
    Authorized(caller, ..): Authorized<Partners>,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<StreamChangesQuery>,
) -> Result<Response, ApiError> {
    let scope = scope_of(&caller)?;
    let resume = match headers.get("last-event-id") {
        None => None,
        Some(v) => {
            Some(v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()).ok_or_else(|| {
                ApiError::InvalidParameter("Last-Event-ID must be a cursor (a number)".to_owned())
            })?)
        }
    };
    let cursor = resume.or(query.cursor).unwrap_or(0);
    let keep_alive = KeepAlive::new().interval(state.config().sse_keep_alive_interval);
    Ok(Sse::new(change_events(state, caller, scope, cursor)).keep_alive(keep_alive).into_response())
}

struct Feed {
    state: AppState,
    caller: Caller,
    scope: DepartmentScope,
    cursor: u64,
    pending: std::collections::VecDeque<Event>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    done: bool,
}

/// Polls the source, logging each non-empty batch before it is sent; ends on shutdown or
/// after reporting an error as an `error` event.
fn change_events(
    state: AppState,
    caller: Caller,
    scope: DepartmentScope,
    cursor: u64,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let shutdown = state.shutdown_signal();
    let feed =
        Feed { state, caller, scope, cursor, pending: Default::default(), shutdown, done: false };
    stream::unfold(feed, |mut feed| async move {
        loop {
            if let Some(event) = feed.pending.pop_front() {
                return Some((Ok(event), feed));
            }
            if feed.done || *feed.shutdown.borrow() {
                return None;
            }
            match next_batch(&mut feed).await {
                Ok(true) => continue,
                Ok(false) => {
                    let poll: Duration = feed.state.config().sse_poll_interval;
                    tokio::select! {
                        _ = tokio::time::sleep(poll) => {}
                        _ = feed.shutdown.changed() => return None,
                    }
                }
                Err(error) => {
                    feed.done = true;
                    let problem = serde_json::to_string(&error.to_problem()).unwrap_or_default();
                    feed.pending.push_back(Event::default().event("error").data(problem));
                }
            }
        }
    })
}

/// Fetches, logs and queues the next batch; false when there was nothing new.
async fn next_batch(feed: &mut Feed) -> Result<bool, ApiError> {
    let limit = feed.state.config().changes_page_default;
    let page = feed.state.status().changes(&feed.scope, feed.cursor, limit).await?;
    let next_cursor = page.next_cursor.max(feed.cursor);
    let page = narrow_page(page, &feed.scope);
    if page.changes.is_empty() {
        // Changes outside the scope still move the cursor, or the feed would ask forever.
        let moved = next_cursor > feed.cursor;
        feed.cursor = next_cursor;
        return Ok(moved);
    }
    let bytes = serde_json::to_vec(&page)
        .map_err(|e| ApiError::Internal(format!("answer did not serialise: {e}")))?;
    let hash: Hash32 = blake3::hash(&bytes).into();
    let items = page.changes.len();
    feed.state.access_log().record(AccessLogged {
        cursor: Some(feed.cursor),
        ..entry(&feed.state, &feed.caller, &feed.scope, AccessQuery::ChangesStream, hash, items)
    })?;
    for change in &page.changes {
        let data = serde_json::to_string(change)
            .map_err(|e| ApiError::Internal(format!("change did not serialise: {e}")))?;
        feed.pending
            .push_back(Event::default().event("change").id(change.cursor.to_string()).data(data));
    }
    feed.cursor = next_cursor;
    Ok(true)
}
