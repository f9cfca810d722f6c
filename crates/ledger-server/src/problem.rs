//! Errors as RFC 9457 problem details (`application/problem+json`).
//!
//! Every error the service answers has a stable `type` URI (`urn:credit-ledger:problem:<kind>`)
//! that clients may switch on, a fixed title and status per kind, and a `detail` sentence
//! that says what was wrong and what is accepted. [`ApiError`] is the one error type of the
//! handlers; [`problem_fallback`] turns the few answers produced outside them (an unknown
//! route, a wrong method, a body over the transport limit, a timeout) into the same shape, so
//! a client never has to parse two error formats.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger_store::StoreError;
use serde::Serialize;
use tracing::{error, trace, warn};

use crate::state::AppState;

/// The media type of every error body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The prefix of every problem type URI.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:credit-ledger:problem:";

/// An error body: RFC 9457 problem details.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A stable URI naming the kind of error, `urn:credit-ledger:problem:<kind>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short, fixed summary of the kind.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What was wrong with this request and what is accepted.
    pub detail: String,
}

/// Everything a handler can answer with instead of success.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The body is not well-formed JSON.
    #[error("{0}")]
    MalformedJson(String),
    /// The body is JSON but not of the accepted shape: a wrong type, a missing or an unknown
    /// field.
    #[error("{0}")]
    InvalidBody(String),
    /// A path or query parameter is missing or malformed.
    #[error("{0}")]
    InvalidParameter(String),
    /// A unified social credit code is malformed or fails its check characters.
    #[error("{0}")]
    InvalidCreditCode(String),
    /// A stream name breaks the naming rule.
    #[error("{0}")]
    InvalidStreamName(String),
    /// An event payload does not fit its type's schema, or its type is unknown.
    #[error("{0}")]
    InvalidPayload(String),
    /// The stream or event type is kept for the service's own records.
    #[error("{0}")]
    Reserved(String),
    /// The body's media type is not the accepted one.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body, or a batch in it, exceeds a limit.
    #[error("{0}")]
    TooLarge(String),
    /// No valid bearer token was presented.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller's roles do not allow the request.
    #[error("{0}")]
    Forbidden(String),
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what is recorded (an existing principal, a revoked token).
    #[error("{0}")]
    Conflict(String),
    /// The caller exceeded its request rate.
    #[error("rate limit exceeded; retry after {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a request will be accepted again.
        retry_after_secs: u64,
    },
    /// A dependency (projections, the access log) cannot serve now.
    #[error("{0}")]
    Unavailable(String),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug or an unexpected failure; details are in the server log.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The problem kind, status and title of this error.
    fn kind(&self) -> (&'static str, StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Self::MalformedJson(_) => ("malformed-json", S::BAD_REQUEST, "Malformed JSON"),
            Self::InvalidBody(_) => ("invalid-body", S::UNPROCESSABLE_ENTITY, "Invalid body"),
            Self::InvalidParameter(_) => ("invalid-parameter", S::BAD_REQUEST, "Invalid parameter"),
            Self::InvalidCreditCode(_) => {
                ("invalid-credit-code", S::BAD_REQUEST, "Invalid credit code")
            }
            Self::InvalidStreamName(_) => {
                ("invalid-stream-name", S::BAD_REQUEST, "Invalid stream name")
            }
            Self::InvalidPayload(_) => {
                ("invalid-payload", S::UNPROCESSABLE_ENTITY, "Invalid event payload")
            }
            Self::Reserved(_) => {
                ("reserved", S::FORBIDDEN, "Reserved for the ledger's own records")
            }
            Self::UnsupportedMediaType(_) => {
                ("unsupported-media-type", S::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type")
            }
            Self::TooLarge(_) => ("too-large", S::PAYLOAD_TOO_LARGE, "Request too large"),
            Self::Unauthenticated(_) => {
                ("unauthenticated", S::UNAUTHORIZED, "Authentication required")
            }
            Self::Forbidden(_) => ("forbidden", S::FORBIDDEN, "Not allowed for this principal"),
            Self::NotFound(_) => ("not-found", S::NOT_FOUND, "Not found"),
            Self::Conflict(_) => ("conflict", S::CONFLICT, "Conflict with recorded state"),
            Self::RateLimited { .. } => {
                ("rate-limited", S::TOO_MANY_REQUESTS, "Rate limit exceeded")
            }
            Self::Unavailable(_) => {
                ("unavailable", S::SERVICE_UNAVAILABLE, "Temporarily unavailable")
            }
            Self::Internal(_) => ("internal", S::INTERNAL_SERVER_ERROR, "Internal error"),
            Self::Store(e) => store_kind(e),
        }
    }

    /// The problem body of this error.
    pub fn to_problem(&self) -> Problem {
        let (kind, status, title) = self.kind();
        let detail = match self {
            // The driver's message may name tables and hosts; the log has it, the client gets
            // a sentence it can act on.
            Self::Store(StoreError::Database(_) | StoreError::Migration(_)) => {
                "the database failed; the request was not completed and may be retried".to_owned()
            }
            Self::Store(StoreError::Config(_) | StoreError::Bind(_) | StoreError::Key(_)) => {
                "the store failed unexpectedly; the operator has been alerted".to_owned()
            }
            Self::Internal(_) => {
                "an unexpected error occurred; the operator has been alerted".into()
            }
            other => other.to_string(),
        };
        Problem {
            type_uri: format!("{PROBLEM_TYPE_PREFIX}{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
        }
    }
}

/// Store errors keep their own kinds, so a client can tell a version conflict from a reused
/// event id without reading prose.
fn store_kind(error: &StoreError) -> (&'static str, StatusCode, &'static str) {
    use StatusCode as S;
    match error {
        StoreError::WrongExpectedVersion { .. } => {
            ("wrong-expected-version", S::CONFLICT, "Stream is not at the expected version")
        }
        StoreError::IdempotencyConflict { .. } => {
            ("idempotency-conflict", S::CONFLICT, "Event id already recorded with other content")
        }
        StoreError::InvalidEvent { .. } => {
            ("invalid-event", S::UNPROCESSABLE_ENTITY, "Invalid event")
        }
        StoreError::InvalidAppend(_) => {
            ("invalid-append", S::UNPROCESSABLE_ENTITY, "Invalid append")
        }
        StoreError::NotFound(_) => ("not-found", S::NOT_FOUND, "Not found"),
        StoreError::OutOfRange(_) => ("out-of-range", S::BAD_REQUEST, "Outside the log"),
        StoreError::Unavailable(_) => {
            ("store-unavailable", S::SERVICE_UNAVAILABLE, "Store cannot take appends now")
        }
        StoreError::Database(_) => ("database", S::SERVICE_UNAVAILABLE, "Database failure"),
        StoreError::Corrupt(_) => {
            ("corrupt", S::INTERNAL_SERVER_ERROR, "Stored data is inconsistent")
        }
        _ => ("store", S::INTERNAL_SERVER_ERROR, "Store failure"),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.to_problem();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // Log once, here where the error is turned into an answer: server faults loudly, the
        // caller's mistakes quietly.
        if status.is_server_error() {
            if matches!(self, Self::Store(StoreError::Corrupt(_)) | Self::Internal(_)) {
                error!(error = %self, kind = %problem.type_uri, "request failed");
            } else {
                warn!(error = %self, kind = %problem.type_uri, "request failed");
            }
        } else {
            let (kind, detail) = (&problem.type_uri, &problem.detail);
            trace!(status = status.as_u16(), %kind, %detail, "rejected");
        }
        let mut response = problem_response(&problem);
        match &self {
            Self::RateLimited { retry_after_secs } => {
                insert_retry_after(&mut response, *retry_after_secs);
            }
            Self::Unauthenticated(_) => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Store(e) if e.is_retryable() => insert_retry_after(&mut response, 1),
            Self::Unavailable(_) => insert_retry_after(&mut response, 1),
            _ => {}
        }
        response
    }
}

fn insert_retry_after(response: &mut Response, secs: u64) {
    if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
}

/// A response carrying `problem` with its status and media type.
pub fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
    response
}

/// Turns any error answer that is not already a problem (from the router, the body limit or
/// the timeout layer) into one, keeping its status and headers. Run by the one middleware of
/// the service, [`crate::metrics::track`].
pub fn problem_fallback(state: &AppState, response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_CONTENT_TYPE.as_bytes()));
    if is_problem {
        return response;
    }
    let config = state.config();
    let (kind, title, detail) = match status {
        StatusCode::NOT_FOUND => (
            "not-found",
            "Not found",
            "no endpoint has this path; the endpoints are listed in schemas/openapi.json".into(),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "Method not allowed",
            "this endpoint does not take this method; the Allow header lists those it takes".into(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "too-large",
            "Request too large",
            format!(
                "the request body is too large; JSON bodies may have at most {} bytes and \
                 imports at most {} bytes",
                config.request_body_bytes_max, config.import_body_bytes_max
            ),
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "timeout",
            "Request timed out",
            format!(
                "the request took longer than {} s and was abandoned; an append may still have \
                 been recorded, so retry it with the same event ids",
                config.request_timeout.as_secs()
            ),
        ),
        other => {
            ("http", "HTTP error", format!("the request failed with status {}", other.as_u16()))
        }
    };
    let problem = Problem {
        type_uri: format!("{PROBLEM_TYPE_PREFIX}{kind}"),
        title: title.to_owned(),
        status: status.as_u16(),
        detail,
    };
    let (mut parts, _) = response.into_parts();
    let fresh = problem_response(&problem);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
    let (_, body) = fresh.into_parts();
    Response::from_parts(parts, body)
}
