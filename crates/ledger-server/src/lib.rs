//! The Credit Ledger HTTP service.
//!
//! Only this crate knows HTTP. It serves four kinds of caller over one JSON API under `/v1`
//! (described by the OpenAPI document [`openapi`] generates, committed as
//! `schemas/openapi.json`):
//!
//! - recorders append events and import history ([`routes::recorder`]);
//! - partner departments ask which of their measures apply to an entity, in bulk, and follow a
//!   change feed ([`routes::partner`]), every question written to a tamper-evident access log
//!   ([`access_log`]);
//! - auditors read checkpoints, proofs, history and offline bundles ([`routes::auditor`]);
//! - admins manage principals and tokens, themselves recorded in the ledger ([`auth`],
//!   [`routes::admin`]); operators probe health and scrape metrics ([`routes::operator`]).
//!
//! Every error is a problem document ([`problem`]); every bound is in [`config`].
//!
//! A request passes, from the outside in: tracing, metrics, the problem fallback (which turns
//! the few non-problem errors of the layers below into problems), the timeout, the transport
//! body limit, then the handler, whose first extractor authenticates and authorises the caller
//! before anything else is read.

pub mod access_log;
pub mod auth;
pub mod config;
pub mod extract;
pub mod metrics;
pub mod problem;
pub mod projection_source;
pub mod routes;
pub mod rules_source;
pub mod state;
pub mod status;

use std::future::Future;

use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::info;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use config::ServerConfig;
pub use problem::{ApiError, Problem};
pub use projection_source::ProjectionStatusSource;
pub use rules_source::RulesStatusSource;
pub use state::{AppState, ServerError};
pub use status::{StatusSource, UnavailableStatusSource};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Credit Ledger",
        description = "An event-sourced, hash-chained ledger of market entities' credit records \
                       with a BLAKE3 Merkle log and Ed25519-signed checkpoints. Errors are \
                       `application/problem+json` with a stable `type` URI \
                       (`urn:credit-ledger:problem:<kind>`).",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "recorder", description = "Appending facts"),
        (name = "partner", description = "Restrictions for partners; every query is logged"),
        (name = "auditor", description = "Checkpoints, proofs, history and offline bundles"),
        (name = "admin", description = "Principals, tokens and checkpoints on demand"),
        (name = "operator", description = "Health, readiness and metrics; no token needed"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every route with its OpenAPI description; the one list both [`router`] and [`openapi`]
/// are built from, so the document cannot miss a route.
fn api() -> OpenApiRouter<AppState> {
    use routes::{admin, auditor, operator, partner, projections, recorder};
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(recorder::append))
        .routes(routes!(recorder::import))
        .routes(routes!(auditor::checkpoint, admin::sign_checkpoint))
        .routes(routes!(auditor::verifier_key))
        .routes(routes!(auditor::inclusion_proof))
        .routes(routes!(auditor::consistency_proof))
        .routes(routes!(auditor::stream_history))
        .routes(routes!(auditor::log_events))
        .routes(routes!(auditor::bundle))
        .routes(routes!(partner::restrictions))
        .routes(routes!(partner::check))
        .routes(routes!(partner::changes))
        .routes(routes!(partner::changes_stream))
        .routes(routes!(admin::register_principal, admin::list_principals))
        .routes(routes!(admin::get_principal))
        .routes(routes!(admin::issue_token))
        .routes(routes!(admin::revoke_token))
        .routes(routes!(operator::health))
        .routes(routes!(operator::ready))
        .routes(routes!(operator::metrics))
        .routes(routes!(projections::projection_state))
        .routes(routes!(projections::start_rebuild))
}

/// The OpenAPI document of the service.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}

/// The service as a router, with its middleware, ready to serve.
pub fn router(state: AppState) -> Router {
    let config = state.config().clone();
    let (routes, _) = api().split_for_parts();
    // The transport limit admits the largest body any endpoint takes (an import); the JSON
    // endpoints apply their smaller limit as they read.
    let body_limit = config.import_body_bytes_max.max(config.request_body_bytes_max);
    routes
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
}

/// Serves on `listener` until `shutdown` completes, then stops taking connections, lets every
/// request in flight finish (so an append that reached the store is answered), ends the
/// change-feed streams and writes the buffered access log. The store stays open: its owner
/// closes it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let address = listener.local_addr()?;
    info!(%address, "serving");
    let signal_state = state.clone();
    let signal = async move {
        shutdown.await;
        info!("shutdown requested; finishing requests in flight");
        signal_state.begin_shutdown();
    };
    axum::serve(listener, router(state.clone())).with_graceful_shutdown(signal).await?;
    state.finish().await;
    info!("stopped");
    Ok(())
}
