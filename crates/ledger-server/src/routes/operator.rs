//! Operator endpoints: liveness, readiness and metrics. They take no token, so that load
//! balancers and Prometheus can reach them without a secret; they reveal no ledger data.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ledger_projections::PROJECTION;

use super::views::HealthView;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// The process is up.
#[utoipa::path(
    get,
    path = "/v1/health",
    tag = "operator",
    responses((status = 200, body = HealthView))
)]
pub async fn health() -> Json<HealthView> {
    Json(HealthView { status: "ok".to_owned(), log_size: None })
}

/// The service can answer: the database is reachable and shutdown has not begun.
#[utoipa::path(
    get,
    path = "/v1/ready",
    tag = "operator",
    responses(
        (status = 200, body = HealthView),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ready(State(state): State<AppState>) -> Result<Json<HealthView>, ApiError> {
    if state.shutting_down() {
        return Err(ApiError::Unavailable("the server is shutting down".to_owned()));
    }
    let size = state.store().size().await?;
    Ok(Json(HealthView { status: "ready".to_owned(), log_size: Some(size) }))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operator",
    responses((status = 200, body = String, content_type = "text/plain"))
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    // The projection's position is read before the log's size, so the lag is never negative;
    // with reads only, since anyone may scrape.
    let projection = match state.projector() {
        Some(projector) => {
            let store = projector.store();
            match store.active_generation(PROJECTION).await {
                Ok(generation) => store.generation_position(PROJECTION, generation).await.ok(),
                Err(_) => None,
            }
        }
        None => None,
    };
    let size = state.store().size().await.ok();
    let mut response = state.metrics().render(size, projection).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
