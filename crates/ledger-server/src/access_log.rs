//! The tamper-evident log of partner queries.
//!
//! Every partner answer is recorded as an entry of an `access_logged` (version 2) event in the
//! stream `access/<yyyy-mm-dd>` (the China Standard Time date of the query). Writing one event
//! per query synchronously would put a durable commit on every lookup, and even one event per
//! query in a shared commit costs more than the lookup it records, so entries are batched
//! twice:
//!
//! 1. a handler computes its answer, hashes the body it is about to send and queues an entry
//!    with [`AccessLog::record`]; if the queue is full the query is refused (503) rather than
//!    answered unlogged;
//! 2. one task drains the queue and, once [`crate::ServerConfig::access_log_flush_entries`]
//!    are waiting or [`crate::ServerConfig::access_log_flush_interval`] has passed, packs them
//!    into events of up to [`BATCH_ENTRIES_MAX`] entries and [`BATCH_PAYLOAD_BYTES_MAX`]
//!    bytes, appended together, so that one event, one hash and one Merkle leaf serve many
//!    queries;
//! 3. a batch's event id is fixed when it is packed, so a failed append is retried with the
//!    same ids (idempotent), keeping the entries;
//! 4. on shutdown the task writes what is left before it ends.
//!
//! The price of batching: entries of the last interval before a crash can be lost. The answer
//! hashes make a disputed answer provable for every entry that was written: the entry, the
//! event holding it and the event's inclusion proof.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger_core::event::ProposedEvent;
use ledger_core::events::{AccessLogBatch, AccessLogged, DomainEvent};
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
            packed: Vec::new(),
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

/// Entries in one `access_logged` event at most.
pub const BATCH_ENTRIES_MAX: usize = 128;

/// Serialised entries in one `access_logged` event at most, in bytes: below the payload limit
/// of an event ([`ledger_core::event::PAYLOAD_BYTES_MAX`]) with room for the envelope of the
/// batch and for canonical encoding differing from the size estimate.
pub const BATCH_PAYLOAD_BYTES_MAX: usize = 48 * 1024;

/// Entries packed into one event, under the id it keeps until it is written.
#[derive(Debug, Clone)]
struct Batch {
    id: Uuid,
    day: String,
    /// The batch's event time: its latest query.
    occurred_at: DateTime<Utc>,
    entries: Vec<AccessLogged>,
}

impl Batch {
    /// A batch of the entries; `None` for none.
    fn new(day: String, entries: Vec<AccessLogged>) -> Option<Self> {
        let occurred_at = entries.iter().map(|e| e.queried_at).max()?;
        Some(Self { id: Uuid::now_v7(), day, occurred_at, entries })
    }
}

struct Writer {
    store: Store,
    metrics: std::sync::Arc<Metrics>,
    flush_entries: usize,
    flush_interval: Duration,
    /// Entries not yet packed.
    buffer: Vec<AccessLogged>,
    /// Batches packed but not yet written (a failed append leaves its batches here).
    packed: Vec<Batch>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Message>) {
        let mut tick = tokio::time::interval(self.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = rx.recv() => match message {
                    Some(Message::Entry(entry)) => {
                        self.buffer.push(*entry);
                        if self.buffer.len() >= self.flush_entries {
                            self.flush().await;
                        }
                    }
                    Some(Message::Stop(done)) => {
                        rx.close();
                        while let Ok(Message::Entry(entry)) = rx.try_recv() {
                            self.buffer.push(*entry);
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
                    if !self.buffer.is_empty() || !self.packed.is_empty() {
                        self.flush().await;
                    }
                }
            }
        }
    }

    /// Writes the buffer, retrying until it succeeds; used on shutdown.
    async fn flush_all(&mut self) {
        for _ in 0..20 {
            if self.buffer.is_empty() && self.packed.is_empty() {
                return;
            }
            self.flush().await;
            if !self.packed.is_empty() {
                tokio::time::sleep(FLUSH_RETRY_DELAY).await;
            }
        }
        let lost: usize = self.packed.iter().map(|b| b.entries.len()).sum();
        if lost > 0 {
            error!(entries = lost, "access log entries lost at shutdown");
        }
    }

    /// Packs the buffer into batches and appends every packed batch, one request per day
    /// stream; what fails stays packed, under the same ids, for the next try.
    async fn flush(&mut self) {
        self.packed.extend(pack(std::mem::take(&mut self.buffer)));
        let mut by_day: BTreeMap<String, Vec<Batch>> = BTreeMap::new();
        for batch in self.packed.drain(..) {
            by_day.entry(batch.day.clone()).or_default().push(batch);
        }
        for (day, batches) in by_day {
            for chunk in batches.chunks(APPEND_EVENTS_MAX) {
                let entries: usize = chunk.iter().map(|b| b.entries.len()).sum();
                if let Err(e) = self.append(&day, chunk).await {
                    warn!(error = %e, day = %day, entries, "access log flush failed");
                    self.packed.extend(chunk.iter().cloned());
                } else {
                    self.metrics.access_log_written(entries);
                    debug!(day = %day, entries, events = chunk.len(), "access log flushed");
                }
            }
        }
    }

    async fn append(&self, day: &str, batches: &[Batch]) -> Result<(), ledger_store::StoreError> {
        let stream = StreamName::new(format!("access/{day}"))
            .map_err(|source| ledger_store::StoreError::InvalidEvent { index: 0, source })?;
        let events = batches
            .iter()
            .enumerate()
            .map(|(index, batch)| {
                let event =
                    DomainEvent::AccessLoggedV2(AccessLogBatch { entries: batch.entries.clone() });
                ProposedEvent::new(
                    batch.id,
                    event.event_type(),
                    event.schema_version(),
                    batch.occurred_at,
                    &event.to_payload(),
                )
                .map_err(|source| ledger_store::StoreError::InvalidEvent { index, source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let request = AppendRequest::new(stream, ExpectedVersion::Any, events, ACCESS_LOG_RECORDER);
        self.store.append(request).await.map(|_| ())
    }
}

/// Groups entries by day, keeping their order, and cuts each day's run into batches of at
/// most [`BATCH_ENTRIES_MAX`] entries and about [`BATCH_PAYLOAD_BYTES_MAX`] bytes.
fn pack(entries: Vec<AccessLogged>) -> Vec<Batch> {
    let mut by_day: BTreeMap<String, Vec<AccessLogged>> = BTreeMap::new();
    for entry in entries {
        by_day.entry(day_of(entry.queried_at)).or_default().push(entry);
    }
    let mut batches = Vec::new();
    for (day, entries) in by_day {
        let mut current: Vec<AccessLogged> = Vec::new();
        let mut bytes = 0;
        for entry in entries {
            // The compact serialisation has the same length as the canonical one for these
            // ASCII-keyed records, give or take escapes; the limit leaves room for either.
            let size = serde_json::to_vec(&entry).map_or(BATCH_PAYLOAD_BYTES_MAX, |v| v.len() + 1);
            if !current.is_empty()
                && (current.len() >= BATCH_ENTRIES_MAX || bytes + size > BATCH_PAYLOAD_BYTES_MAX)
            {
                batches.extend(Batch::new(day.clone(), std::mem::take(&mut current)));
                bytes = 0;
            }
            bytes += size;
            current.push(entry);
        }
        batches.extend(Batch::new(day, current));
    }
    batches
}

/// The China Standard Time date of an instant, as `yyyy-mm-dd`: partners and auditors think
/// in local days.
pub fn day_of(at: DateTime<Utc>) -> String {
    (at + chrono::Duration::hours(8)).format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use ledger_core::events::AccessQuery;
    use ledger_core::Hash32;

    use super::*;

    fn entry(at: DateTime<Utc>, department: &str) -> AccessLogged {
        AccessLogged {
            principal_id: "tax".to_owned(),
            token_id: Uuid::nil(),
            queried_at: at,
            query: AccessQuery::Restrictions,
            department: Some(department.to_owned()),
            entities: Vec::new(),
            as_of: None,
            known_at: None,
            cursor: None,
            answer_hash: Hash32::ZERO,
            answer_items: 0,
        }
    }

    #[test]
    fn batches_split_by_day_count_and_size_keeping_order() {
        // 15:59:59 and 16:00:00 UTC fall on two days in China Standard Time.
        let late = Utc.with_ymd_and_hms(2025, 6, 1, 15, 59, 59).unwrap();
        let next_day = Utc.with_ymd_and_hms(2025, 6, 1, 16, 0, 0).unwrap();
        let mut entries: Vec<_> =
            (0..2 * BATCH_ENTRIES_MAX + 10).map(|_| entry(late, "d")).collect();
        entries.push(entry(next_day, "d"));
        let batches = pack(entries);
        let sizes: Vec<(&str, usize)> =
            batches.iter().map(|b| (b.day.as_str(), b.entries.len())).collect();
        assert_eq!(
            sizes,
            [
                ("2025-06-01", BATCH_ENTRIES_MAX),
                ("2025-06-01", BATCH_ENTRIES_MAX),
                ("2025-06-01", 10),
                ("2025-06-02", 1)
            ]
        );
        assert_eq!(batches[3].occurred_at, next_day);
        assert_ne!(batches[0].id, batches[1].id);

        // Entries of 10 KiB each: four fit under the byte limit, the fifth starts a new batch.
        let wide = "x".repeat(10 * 1024);
        let batches = pack((0..6).map(|_| entry(late, &wide)).collect());
        let sizes: Vec<usize> = batches.iter().map(|b| b.entries.len()).collect();
        assert_eq!(sizes, [4, 2]);
        for batch in &batches {
            let payload =
                DomainEvent::AccessLoggedV2(AccessLogBatch { entries: batch.entries.clone() })
                    .to_payload();
            let bytes = ledger_core::canonical::to_canonical_vec(&payload).unwrap().len();
            assert!(bytes <= ledger_core::event::PAYLOAD_BYTES_MAX, "{bytes}");
        }
        assert!(pack(Vec::new()).is_empty());
    }
}
