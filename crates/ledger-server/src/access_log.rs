//! The tamper-evident log of partner queries.
//!
//! Every partner answer is recorded as an `access_logged` event in the stream
//! `access/<yyyy-mm-dd>` (the China Standard Time date of the query). Writing one event per
//! query synchronously would put a durable commit on every lookup, so entries are buffered:
//!
//! 1. a handler computes its answer, hashes the body it is about to send and queues an entry
//!    with [`AccessLog::record`]; if the queue is full the query is refused (503) rather than
//!    answered unlogged;
//! 2. one task drains the queue and appends the buffered entries as one batch once
//!    [`crate::ServerConfig::access_log_flush_entries`] are waiting or
//!    [`crate::ServerConfig::access_log_flush_interval`] has passed, so the cost of a commit is
//!    shared by many queries;
//! 3. a failed append is retried with the same event ids (idempotent), keeping the entries;
//! 4. on shutdown the task writes what is left before it ends.
//!
//! The price of batching: entries of the last interval before a crash can be lost. The answer
//! hashes make a disputed answer provable for every entry that was written.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger_core::event::ProposedEvent;
use ledger_core::events::{AccessLogged, DomainEvent};
use ledger_core::StreamName;
use ledger_store::{AppendRequest, ExpectedVersion, Store, APPEND_EVENTS_MAX};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, warn};
use uuid::Uuid;

use crate::metrics::Metrics;
use crate::problem::ApiError;

/// The recorder name on access-log events.
pub const ACCESS_LOG_RECORDER: &str = "access-log";

/// How long a failed flush waits before it is tried again.
const FLUSH_RETRY_DELAY: Duration = Duration::from_millis(500);

enum Message {
    Entry(Box<AccessLogged>),
    Stop(oneshot::Sender<()>),
}

/// The handle handlers record entries through.
#[derive(Debug, Clone)]
pub struct AccessLog {
    tx: mpsc::Sender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("access log message")
    }
}

impl AccessLog {
    /// Starts the writer task.
    pub fn start(
        store: Store,
        metrics: std::sync::Arc<Metrics>,
        queue_max: usize,
        flush_entries: usize,
        flush_interval: Duration,
    ) -> Self {
        let (tx, rx) = mpsc::channel(queue_max.max(1));
        let writer = Writer {
            store,
            metrics,
            flush_entries: flush_entries.clamp(1, APPEND_EVENTS_MAX),
            flush_interval,
            buffer: Vec::new(),
        };
        tokio::spawn(writer.run(rx));
        Self { tx }
    }

    /// Queues an entry, or refuses the query when the queue is full or closed.
    pub fn record(&self, entry: AccessLogged) -> Result<(), ApiError> {
        self.tx.try_send(Message::Entry(Box::new(entry))).map_err(|e| {
            warn!(full = matches!(e, mpsc::error::TrySendError::Full(_)), "access log refused");
            ApiError::Unavailable(
                "the access log cannot take the record of this query now, so it is not \
                 answered; retry shortly"
                    .to_owned(),
            )
        })
    }

    /// Writes every queued entry and stops the task.
    pub async fn stop(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Stop(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

struct Writer {
    store: Store,
    metrics: std::sync::Arc<Metrics>,
    flush_entries: usize,
    flush_interval: Duration,
    buffer: Vec<(Uuid, AccessLogged)>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Message>) {
        let mut tick = tokio::time::interval(self.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = rx.recv() => match message {
                    Some(Message::Entry(entry)) => {
                        // The id is fixed when the entry is buffered, so a retried flush is an
                        // idempotent append.
                        self.buffer.push((Uuid::now_v7(), *entry));
                        if self.buffer.len() >= self.flush_entries {
                            self.flush().await;
                        }
                    }
                    Some(Message::Stop(done)) => {
                        rx.close();
                        while let Ok(Message::Entry(entry)) = rx.try_recv() {
                            self.buffer.push((Uuid::now_v7(), *entry));
                        }
                        self.flush_all().await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.flush_all().await;
                        return;
                    }
                },
                _ = tick.tick() => {
                    if !self.buffer.is_empty() {
                        self.flush().await;
                    }
                }
            }
        }
    }

    /// Writes the buffer, retrying until it succeeds; used on shutdown.
    async fn flush_all(&mut self) {
        for _ in 0..20 {
            if self.buffer.is_empty() {
                return;
            }
            self.flush().await;
            if !self.buffer.is_empty() {
                tokio::time::sleep(FLUSH_RETRY_DELAY).await;
            }
        }
        if !self.buffer.is_empty() {
            error!(entries = self.buffer.len(), "access log entries lost at shutdown");
        }
    }

    /// Appends up to one batch per day stream; what fails stays buffered for the next try.
    async fn flush(&mut self) {
        let mut by_day: BTreeMap<String, Vec<(Uuid, AccessLogged)>> = BTreeMap::new();
        for (id, entry) in self.buffer.drain(..) {
            by_day.entry(day_of(entry.queried_at)).or_default().push((id, entry));
        }
        for (day, entries) in by_day {
            for chunk in entries.chunks(APPEND_EVENTS_MAX) {
                if let Err(e) = self.append(&day, chunk).await {
                    warn!(error = %e, day = %day, entries = chunk.len(), "access log flush failed");
                    self.buffer.extend(chunk.iter().cloned());
                } else {
                    self.metrics.access_log_written(chunk.len());
                    debug!(day = %day, entries = chunk.len(), "access log flushed");
                }
            }
        }
    }

    async fn append(
        &self,
        day: &str,
        entries: &[(Uuid, AccessLogged)],
    ) -> Result<(), ledger_store::StoreError> {
        let stream = StreamName::new(format!("access/{day}"))
            .map_err(|source| ledger_store::StoreError::InvalidEvent { index: 0, source })?;
        let events = entries
            .iter()
            .map(|(id, entry)| {
                let event = DomainEvent::AccessLoggedV1(entry.clone());
                ProposedEvent::new(
                    *id,
                    event.event_type(),
                    event.schema_version(),
                    entry.queried_at,
                    &event.to_payload(),
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| ledger_store::StoreError::InvalidEvent { index: 0, source })?;
        let request = AppendRequest::new(stream, ExpectedVersion::Any, events, ACCESS_LOG_RECORDER);
        self.store.append(request).await.map(|_| ())
    }
}

/// The China Standard Time date of an instant, as `yyyy-mm-dd`: partners and auditors think
/// in local days.
pub fn day_of(at: DateTime<Utc>) -> String {
    (at + chrono::Duration::hours(8)).format("%Y-%m-%d").to_string()
}
