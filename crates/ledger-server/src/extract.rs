//! Request extractors whose rejections are problem answers.
//!
//! axum's own extractors answer bad input with plain text; these wrap them so that malformed
//! JSON (400), a body of the wrong shape (422), a wrong media type (415), a body over the
//! limit (413) and a bad parameter (400) all come back as problems that say what is accepted.
//! The JSON body limit is read from the configuration here, per request, so that the import
//! endpoint can accept far larger bodies than the rest.

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::{header, request::Parts, HeaderMap};
use serde::de::DeserializeOwned;

use crate::problem::ApiError;
use crate::state::AppState;

/// A JSON body (`application/json`) of at most the configured request size.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        require_media_type(request.headers(), &["application/json"])?;
        let limit = state.config().request_body_bytes_max;
        let bytes = read_body(request, limit).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON document, sorting failures into malformed (400) and misshapen (422).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::InvalidBody(format!(
                "the JSON body does not have the accepted shape: {e}; see the request schema in \
                 schemas/openapi.json"
            )),
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::MalformedJson(format!("the body is not well-formed JSON: {e}"))
            }
        }
    })
}

/// Refuses a body whose `Content-Type` is not one of `accepted` (parameters are ignored).
pub fn require_media_type(headers: &HeaderMap, accepted: &[&str]) -> Result<(), ApiError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    match given {
        Some(given) if accepted.contains(&given.as_str()) => Ok(()),
        given => Err(ApiError::UnsupportedMediaType(format!(
            "the body's Content-Type is {}; accepted is {}",
            given.map_or_else(|| "missing".to_owned(), |g| format!("{g:?}")),
            accepted.join(" or ")
        ))),
    }
}

/// Reads a whole body, refusing it (413) as soon as it passes `limit` bytes.
pub async fn read_body(request: Request, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::TooLarge(format!(
            "the request body exceeds {limit} bytes, the most accepted here"
        ))
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(request.into_body(), limit).await.map_err(|e| {
        // `to_bytes` reports the limit as an error in its source chain; anything else is the
        // client going away mid-body.
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return too_large();
            }
            source = s.source();
        }
        ApiError::MalformedJson(format!("the request body could not be read: {e}"))
    })
}

/// Query parameters, with a problem answer when they do not parse.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Parameters that parse are parsed directly; only a failure goes through axum's
        // extractor, whose message names the parameter at fault but which costs every request
        // a path-tracking wrapper around the deserializer.
        if let Ok(query) = serde_urlencoded::from_str(parts.uri.query().unwrap_or_default()) {
            return Ok(ApiQuery(query));
        }
        Query::<T>::from_request_parts(parts, state).await.map(|Query(q)| ApiQuery(q)).map_err(
            |e: QueryRejection| {
                ApiError::InvalidParameter(format!(
                    "the query parameters are not accepted: {}",
                    e.body_text()
                ))
            },
        )
    }
}

/// Path parameters, with a problem answer when they do not parse.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state).await.map(|Path(p)| ApiPath(p)).map_err(
            |e: PathRejection| {
                ApiError::InvalidParameter(format!(
                    "the path parameters are not accepted: {}",
                    e.body_text()
                ))
            },
        )
    }
}
