//! The state every handler shares, and the service's background tasks.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use ledger_store::{Store, StoreError};
use tokio::sync::watch;
use tracing::warn;

use crate::access_log::AccessLog;
use crate::auth::{Identities, RateLimiter};
use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::status::StatusSource;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The store failed while the service loaded its state.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Serving on the listener failed.
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
}

/// What the handlers share. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    config: ServerConfig,
    identities: Identities,
    rate_limiter: RateLimiter,
    metrics: Arc<Metrics>,
    access_log: AccessLog,
    status: Arc<dyn StatusSource>,
    shutdown: watch::Sender<bool>,
    /// The projector behind the projection operator endpoints, when the server runs one.
    projector: std::sync::OnceLock<ledger_projections::Projector>,
    /// The progress of the last rebuild started through the API.
    rebuild: std::sync::Mutex<crate::routes::projections::RebuildView>,
}

impl AppState {
    /// Loads the principal table from the store and starts the access-log writer and the
    /// identity refresh task.
    pub async fn new(
        store: Store,
        config: ServerConfig,
        status: Arc<dyn StatusSource>,
    ) -> Result<Self, ServerError> {
        let identities = Identities::load(&store, config.bootstrap_admin_token.as_deref()).await?;
        let metrics = Arc::new(Metrics::default());
        let access_log = if config.access_log_enabled {
            AccessLog::start(
                store.clone(),
                metrics.clone(),
                config.access_log_queue_entries_max,
                config.access_log_flush_entries,
                config.access_log_flush_interval,
            )
        } else {
            tracing::warn!("the access log is off: partner queries are answered unrecorded");
            AccessLog::off()
        };
        let (shutdown, _) = watch::channel(false);
        let state = Self {
            inner: Arc::new(Inner {
                store,
                rate_limiter: RateLimiter::new(
                    config.rate_requests_per_second,
                    config.rate_burst_requests,
                ),
                config,
                identities,
                metrics,
                access_log,
                status,
                shutdown,
                projector: std::sync::OnceLock::new(),
                rebuild: std::sync::Mutex::default(),
            }),
        };
        state.spawn_identity_refresh();
        Ok(state)
    }

    /// Catches up with identity events from other processes until shutdown. Holds only a weak
    /// reference, so a dropped state ends the task.
    fn spawn_identity_refresh(&self) {
        let weak = Arc::downgrade(&self.inner);
        let mut stop = self.inner.shutdown.subscribe();
        let interval = self.inner.config.principal_refresh_interval;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = stop.changed() => return,
                }
                let Some(inner) = weak.upgrade() else { return };
                if let Err(e) = inner.identities.catch_up(&inner.store).await {
                    warn!(error = %e, "identity refresh failed");
                }
            }
        });
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Gives the server the projector whose state and rebuilds the operator endpoints show and
    /// start. Without one those endpoints answer 503.
    pub fn with_projector(self, projector: ledger_projections::Projector) -> Self {
        let _ = self.inner.projector.set(projector);
        self
    }

    /// The projector, if the server runs one.
    pub fn projector(&self) -> Option<&ledger_projections::Projector> {
        self.inner.projector.get()
    }

    /// The progress of the last rebuild started through the API.
    pub(crate) fn rebuild_view(
        &self,
    ) -> std::sync::MutexGuard<'_, crate::routes::projections::RebuildView> {
        self.inner.rebuild.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The principal table.
    pub fn identities(&self) -> &Identities {
        &self.inner.identities
    }

    /// The per-principal rate limiter.
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.inner.rate_limiter
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The partner access log.
    pub fn access_log(&self) -> &AccessLog {
        &self.inner.access_log
    }

    /// The partner status source.
    pub fn status(&self) -> &dyn StatusSource {
        self.inner.status.as_ref()
    }

    /// The current time, from the configured clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.config.clock.now()
    }

    /// Today's date in China Standard Time, the default date of partner questions.
    pub fn today(&self) -> NaiveDate {
        (self.now() + chrono::Duration::hours(8)).date_naive()
    }

    /// Whether shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// A receiver that changes when shutdown begins (long-lived responses end on it).
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// Marks the start of shutdown: readiness fails, event streams end, background tasks stop.
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Writes the buffered access log. Call after the last request finished.
    pub async fn finish(&self) {
        self.begin_shutdown();
        self.inner.access_log.stop().await;
    }
}
