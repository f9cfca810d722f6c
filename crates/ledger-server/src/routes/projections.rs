//! Operator endpoints for projections: where the projection stands, and starting a rebuild
//! while the server keeps serving from the active generation.

use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use ledger_projections::PROJECTION;
use serde::Serialize;

use crate::auth::{Admins, Authorized};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// A rebuild started through the API, as last reported.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct RebuildView {
    /// Whether it is still running.
    pub running: bool,
    /// Events read so far.
    pub events: u64,
    /// Entities written so far.
    pub entities: u64,
    /// The log size it scans up to.
    pub snapshot: u64,
    /// Events per second so far.
    pub events_per_second: f64,
    /// Estimated seconds left.
    pub seconds_left: f64,
    /// The generation it made active, once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// Why it failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where the credit-status projection stands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProjectionView {
    /// The projection's name.
    pub name: String,
    /// The generation serving reads.
    pub active_generation: i64,
    /// The log position it has applied up to (exclusive).
    pub position: u64,
    /// The log's size.
    pub log_size: u64,
    /// Events recorded but not yet applied.
    pub lag: u64,
    /// A rebuild in progress (or interrupted), by the store's record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub building_generation: Option<i64>,
    /// The last rebuild started through the API.
    pub rebuild: RebuildView,
}

fn projector(state: &AppState) -> Result<&ledger_projections::Projector, ApiError> {
    state.projector().ok_or_else(|| {
        ApiError::Unavailable("this server runs no projector; start it with one".to_owned())
    })
}

/// The projection's generation, position and lag, and the last rebuild's progress.
#[utoipa::path(
    get,
    path = "/v1/admin/projections",
    tag = "operator",
    responses(
        (status = 200, body = ProjectionView),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn projection_state(
    Authorized(..): Authorized<Admins>,
    State(state): State<AppState>,
) -> Result<Json<ProjectionView>, ApiError> {
    let projector = projector(&state)?;
    let store = projector.store();
    let projection = store.projection_state(PROJECTION).await?;
    let log_size = store.size().await?;
    Ok(Json(ProjectionView {
        name: PROJECTION.to_owned(),
        active_generation: projection.active_generation,
        position: projection.active_position,
        log_size,
        lag: log_size.saturating_sub(projection.active_position),
        building_generation: projection.building.map(|b| b.generation),
        rebuild: state.rebuild_view().clone(),
    }))
}

/// Starts a rebuild into a fresh generation; reads keep being served from the active one
/// until the new one has caught up and is swapped in. Answers at once; follow the progress
/// with `GET /v1/admin/projections`.
#[utoipa::path(
    post,
    path = "/v1/admin/projections/rebuild",
    tag = "operator",
    responses(
        (status = 202, body = RebuildView),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn start_rebuild(
    Authorized(..): Authorized<Admins>,
    State(state): State<AppState>,
) -> Result<(StatusCode, Json<RebuildView>), ApiError> {
    let projector = projector(&state)?.clone();
    {
        let mut view = state.rebuild_view();
        if view.running {
            return Err(ApiError::Conflict("a rebuild is already running".to_owned()));
        }
        *view = RebuildView { running: true, ..RebuildView::default() };
    }
    let task_state = state.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        let report = projector
            .rebuild(|p| {
                let mut view = task_state.rebuild_view();
                view.events = p.events;
                view.entities = p.entities;
                view.snapshot = p.snapshot;
                view.events_per_second = p.events_per_second();
                view.seconds_left = p.time_left().as_secs_f64();
            })
            .await;
        let mut view = task_state.rebuild_view();
        view.running = false;
        match report {
            Ok(report) => {
                view.generation = Some(report.generation);
                view.seconds_left = 0.0;
                tracing::info!(
                    generation = report.generation,
                    events = report.events,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "rebuild finished"
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "rebuild failed");
                view.error = Some(e.to_string());
            }
        }
    });
    Ok((StatusCode::ACCEPTED, Json(state.rebuild_view().clone())))
}
