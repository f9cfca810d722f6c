//! The tamper-evident log of partner queries.
//!
//! Every partner answer is recorded as an entry of an `access_logged` (version 3) event in the
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
//! The price of batching: a crash loses the entries not yet written, normally the last
//! interval's, but up to the whole queue while the store refuses or delays appends. The answer
//! hashes make a disputed answer provable for every entry that was written: the entry, the
//! event holding it and the event's inclusion proof.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use ledger_core::event::ProposedEvent;
use ledger_core::events::{AccessLogCaller, AccessLogged};
use ledger_core::StreamName;
use ledger_store::{AppendRequest, ExpectedVersion, Store, APPEND_EVENTS_MAX};
use tokio::sync::{mpsc, oneshot, Notify};
use tracing::{debug, error, warn};
use uuid::Uuid;

use crate::metrics::Metrics;
use crate::problem::ApiError;

/// The recorder name on access-log events.
pub const ACCESS_LOG_RECORDER: &str = "access-log";

/// How long a failed flush waits before it is tried again.
const FLUSH_RETRY_DELAY: Duration = Duration::from_millis(500);

/// What handlers and the writer share: the entries not yet taken by the writer. A mutex-held
/// buffer rather than a channel, so that recording an entry wakes no task; the writer is woken
/// once per [`Shared::flush_entries`] entries, or by its interval.
#[derive(Debug)]
struct Shared {
    buffer: Mutex<Vec<AccessLogged>>,
    queue_max: usize,
    flush_entries: usize,
    full: Notify,
}

/// The handle handlers record entries through.
#[derive(Debug, Clone)]
pub struct AccessLog {
    /// `None` when the log is off ([`AccessLog::off`]).
    running: Option<Running>,
}

#[derive(Debug, Clone)]
struct Running {
    shared: Arc<Shared>,
    /// Dropped with the last handle, which also ends the writer (after a last flush).
    stop: mpsc::Sender<oneshot::Sender<()>>,
}

impl AccessLog {
    /// Starts the writer task.
    pub fn start(
        store: Store,
        metrics: Arc<Metrics>,
        queue_max: usize,
        flush_entries: usize,
        flush_interval: Duration,
    ) -> Self {
        let flush_entries = flush_entries.clamp(1, APPEND_EVENTS_MAX);
        let shared = Arc::new(Shared {
            buffer: Mutex::new(Vec::with_capacity(flush_entries)),
            queue_max: queue_max.max(1),
            flush_entries,
            full: Notify::new(),
        });
        let (stop, stop_rx) = mpsc::channel(1);
        let writer = Writer {
            store,
            metrics,
            shared: shared.clone(),
            flush_interval,
            buffer: Vec::new(),
            packed: Vec::new(),
        };
        tokio::spawn(writer.run(stop_rx));
        Self { running: Some(Running { shared, stop }) }
    }

    /// A log that records nothing, for measuring what recording costs (see
    /// [`crate::ServerConfig::access_log_enabled`]).
    pub fn off() -> Self {
        Self { running: None }
    }

    /// Whether entries are recorded.
    pub fn is_on(&self) -> bool {
        self.running.is_some()
    }

    /// Queues an entry, or refuses the query when the queue is full or the log has stopped.
    /// With the log off, the entry is dropped.
    pub fn record(&self, entry: AccessLogged) -> Result<(), ApiError> {
        let Some(Running { shared, stop }) = &self.running else {
            return Ok(());
        };
        // An entry must fit an event, or it could never be written: such a query is refused
        // like any other that cannot be logged. Only a query naming many entities can come
        // near the bound, so only those are measured.
        if entry.entities.len() > ENTRY_MEASURED_ABOVE_ENTITIES {
            let bytes = serde_json::to_vec(&entry).map_or(usize::MAX, |b| b.len());
            if bytes > BATCH_PAYLOAD_BYTES_MAX {
                return Err(ApiError::TooLarge(format!(
                    "the access-log record of this query would take {bytes} bytes, more than \
                     the {BATCH_PAYLOAD_BYTES_MAX} one record may; ask about fewer entities \
                     ({} were named) at a time",
                    entry.entities.len()
                )));
            }
        }
        let queued = {
            let mut buffer = shared.buffer.lock().unwrap_or_else(|e| e.into_inner());
            if buffer.len() >= shared.queue_max || stop.is_closed() {
                None
            } else {
                buffer.push(entry);
                Some(buffer.len())
            }
        };
        match queued {
            Some(len) => {
                if len == shared.flush_entries {
                    shared.full.notify_one();
                }
                Ok(())
            }
            None => {
                warn!(closed = stop.is_closed(), "access log refused");
                Err(ApiError::Unavailable(
                    "the access log cannot take the record of this query now, so it is not \
                     answered; retry shortly"
                        .to_owned(),
                ))
            }
        }
    }

    /// Writes every queued entry and stops the task.
    pub async fn stop(&self) {
        let Some(running) = &self.running else { return };
        let (done, wait) = oneshot::channel();
        if running.stop.send(done).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// Entities a query may name before its access-log entry is measured against
/// [`BATCH_PAYLOAD_BYTES_MAX`]: with fewer, an entry is a small fraction of it.
const ENTRY_MEASURED_ABOVE_ENTITIES: usize = 256;

/// Entries in one `access_logged` event at most.
pub const BATCH_ENTRIES_MAX: usize = 256;

/// Serialised entries in one `access_logged` event at most, in bytes: below the payload limit
/// of an event ([`ledger_core::event::PAYLOAD_BYTES_MAX`]) with room for the envelope of the
/// batch and for canonical encoding differing from the size estimate.
pub const BATCH_PAYLOAD_BYTES_MAX: usize = 48 * 1024;

/// Entries packed into one event, under the id it keeps until it is written.
#[derive(Debug, Clone)]
struct Batch {
    day: String,
    event: ProposedEvent,
    entries: usize,
}

/// The payload of an `access_logged` v3 event being filled: canonical JSON of
/// `{"callers":[{..."entries":[...],...}]}`, written entry by entry. Each caller's fields are
/// serialised once, as the text before and after its entries (see [`CallerText`]); with the
/// entries' own canonical forms the concatenation is canonical, so nothing is serialised twice.
struct Filling {
    payload: Vec<u8>,
    /// Callers opened so far in this payload.
    callers: usize,
    /// The caller whose entries are being written, and the text that closes it.
    open: Option<(usize, Arc<[u8]>)>,
    entries: usize,
    latest: Option<DateTime<Utc>>,
}

impl Filling {
    const OPEN: &'static [u8] = b"{\"callers\":[";
    const CLOSE: &'static [u8] = b"]}";

    fn new() -> Self {
        Self { payload: Self::OPEN.to_vec(), callers: 0, open: None, entries: 0, latest: None }
    }

    fn is_open(&self, caller: usize) -> bool {
        self.open.as_ref().is_some_and(|(open, _)| *open == caller)
    }

    /// Whether `entry` of `caller` fits without exceeding the batch's limits; an empty batch
    /// takes any entry.
    fn fits(&self, caller: usize, text: &CallerText, entry: &[u8]) -> bool {
        if self.entries == 0 {
            return true;
        }
        let (opening, closing) = match self.is_open(caller) {
            true => (1, text.suffix.len()),
            false => {
                let closing_open = self.open.as_ref().map_or(0, |(_, suffix)| suffix.len());
                (closing_open + 1 + text.prefix.len(), text.suffix.len())
            }
        };
        self.entries < BATCH_ENTRIES_MAX
            && self.payload.len() + opening + entry.len() + closing + Self::CLOSE.len()
                <= BATCH_PAYLOAD_BYTES_MAX
    }

    fn push(&mut self, caller: usize, text: &CallerText, entry: &[u8], at: DateTime<Utc>) {
        if self.is_open(caller) {
            self.payload.push(b',');
        } else {
            if let Some((_, suffix)) = self.open.take() {
                self.payload.extend_from_slice(&suffix);
            }
            if self.callers > 0 {
                self.payload.push(b',');
            }
            self.payload.extend_from_slice(&text.prefix);
            self.callers += 1;
            self.open = Some((caller, text.suffix.clone()));
        }
        self.payload.extend_from_slice(entry);
        self.entries += 1;
        self.latest = self.latest.max(Some(at));
    }

    /// The batch's event, dated by its latest query; `None` when empty.
    ///
    /// The proposal is built without checking its payload: every piece of it was checked to be
    /// canonical as it was encoded, and the store checks the whole once more before writing.
    fn finish(mut self, day: String) -> Option<Batch> {
        let latest = self.latest?;
        if let Some((_, suffix)) = self.open.take() {
            self.payload.extend_from_slice(&suffix);
        }
        self.payload.extend_from_slice(Self::CLOSE);
        match ledger_core::event::normalize_timestamp(latest) {
            Ok(effective_at) => {
                let event = ProposedEvent {
                    event_id: Uuid::now_v7(),
                    event_type: "access_logged".to_owned(),
                    schema_version: 3,
                    effective_at,
                    payload: self.payload,
                };
                Some(Batch { day, event, entries: self.entries })
            }
            Err(e) => {
                error!(error = %e, entries = self.entries, "access log batch could not be built");
                None
            }
        }
    }
}

/// A caller's fields as canonical text around its entries: `prefix` opens the caller's object
/// up to its `entries` array, `suffix` closes the array and holds the fields after it.
struct CallerText {
    prefix: Vec<u8>,
    suffix: Arc<[u8]>,
}

impl CallerText {
    fn of(entry: &AccessLogged) -> Result<Self, ledger_core::canonical::CanonicalError> {
        let caller = AccessLogCaller {
            department: entry.department.clone(),
            entries: Vec::new(),
            principal_id: entry.principal_id.clone(),
            token_id: entry.token_id,
        };
        let text = encode(&caller)?;
        // Inside a JSON string every quote is escaped, so the first unescaped `"entries":[]`
        // is the member itself.
        const EMPTY: &[u8] = b"\"entries\":[]";
        let Some(at) = text.windows(EMPTY.len()).position(|w| w == EMPTY) else {
            return Err(ledger_core::canonical::CanonicalError::NotCanonical);
        };
        let split = at + EMPTY.len() - 1;
        Ok(Self { prefix: text[..split].to_vec(), suffix: text[split..].into() })
    }
}

struct Writer {
    store: Store,
    metrics: Arc<Metrics>,
    shared: Arc<Shared>,
    flush_interval: Duration,
    /// Entries taken from the shared buffer, not yet packed.
    buffer: Vec<AccessLogged>,
    /// Batches packed but not yet written (a failed append leaves its batches here).
    packed: Vec<Batch>,
}

impl Writer {
    async fn run(mut self, mut stop: mpsc::Receiver<oneshot::Sender<()>>) {
        let mut tick = tokio::time::interval(self.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shared.full.notified() => self.flush().await,
                _ = tick.tick() => self.flush().await,
                done = stop.recv() => {
                    // Refuse new entries first, so that nothing is queued after the last flush.
                    stop.close();
                    self.flush_all().await;
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                    return;
                }
            }
        }
    }

    /// Moves what handlers queued into this task's buffer.
    fn take(&mut self) {
        let mut shared = self.shared.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = Vec::with_capacity(self.shared.flush_entries.min(shared.len().max(1)));
        self.buffer.append(&mut std::mem::replace(&mut *shared, fresh));
    }

    /// Writes the buffer, retrying until it succeeds; used on shutdown.
    async fn flush_all(&mut self) {
        for _ in 0..20 {
            self.flush().await;
            if self.packed.is_empty() {
                return;
            }
            tokio::time::sleep(FLUSH_RETRY_DELAY).await;
        }
        let lost: usize = self.packed.iter().map(|b| b.entries).sum();
        if lost > 0 {
            error!(entries = lost, "access log entries lost at shutdown");
        }
    }

    /// Packs the buffer into batches and appends every packed batch, one request per day
    /// stream; what fails stays packed, under the same ids, for the next try.
    async fn flush(&mut self) {
        self.take();
        if self.buffer.is_empty() && self.packed.is_empty() {
            return;
        }
        self.packed.extend(pack(std::mem::take(&mut self.buffer)));
        let mut by_day: BTreeMap<String, Vec<Batch>> = BTreeMap::new();
        for batch in self.packed.drain(..) {
            by_day.entry(batch.day.clone()).or_default().push(batch);
        }
        for (day, batches) in by_day {
            for chunk in batches.chunks(APPEND_EVENTS_MAX) {
                let entries: usize = chunk.iter().map(|b| b.entries).sum();
                if let Err(e) = self.append(&day, chunk).await {
                    if e.is_retryable() {
                        warn!(error = %e, day = %day, entries, "access log flush failed");
                        self.packed.extend(chunk.iter().cloned());
                    } else {
                        // Refused as it stands (a batch the store will never take): retrying
                        // would hold up every later batch of the day behind it for good.
                        error!(error = %e, day = %day, entries, "access log entries refused by \
                            the store; they are dropped");
                    }
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
        let events = batches.iter().map(|b| b.event.clone()).collect();
        let request = AppendRequest::new(stream, ExpectedVersion::Any, events, ACCESS_LOG_RECORDER);
        self.store.append(request).await.map(|_| ())
    }
}

/// Groups entries by day, keeping their order, and cuts each day's run into batches of at
/// most [`BATCH_ENTRIES_MAX`] entries and [`BATCH_PAYLOAD_BYTES_MAX`] bytes.
fn pack(entries: Vec<AccessLogged>) -> Vec<Batch> {
    // Keyed by date and named once per day: formatting a date for every entry showed in
    // profiles of the partner lookup.
    let mut by_day: BTreeMap<NaiveDate, Vec<AccessLogged>> = BTreeMap::new();
    for entry in entries {
        by_day.entry(cst_date(entry.queried_at)).or_default().push(entry);
    }
    let mut batches = Vec::new();
    for (date, entries) in by_day {
        let day = date.format("%Y-%m-%d").to_string();
        let mut filling = Filling::new();
        for (caller, entries) in by_caller(entries) {
            let text = match CallerText::of(&entries[0]) {
                Ok(text) => text,
                Err(e) => {
                    error!(error = %e, entries = entries.len(), "access log caller could not be \
                        encoded; its entries are dropped");
                    continue;
                }
            };
            for entry in &entries {
                let bytes = match encode(&entry.to_entry()) {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        error!(error = %e, "access log entry could not be encoded; it is dropped");
                        continue;
                    }
                };
                if !filling.fits(caller, &text, &bytes) {
                    let full = std::mem::replace(&mut filling, Filling::new());
                    batches.extend(full.finish(day.clone()));
                }
                filling.push(caller, &text, &bytes, entry.queried_at);
            }
        }
        batches.extend(filling.finish(day));
    }
    batches
}

/// Entries grouped by caller (principal, token and department), callers in the order of their
/// first entry and each caller's entries in their own order; the number is the caller's rank.
fn by_caller(entries: Vec<AccessLogged>) -> Vec<(usize, Vec<AccessLogged>)> {
    let mut groups: Vec<(usize, Vec<AccessLogged>)> = Vec::new();
    let mut index: HashMap<(String, Uuid, Option<String>), usize> = HashMap::new();
    for entry in entries {
        let key = (entry.principal_id.clone(), entry.token_id, entry.department.clone());
        let next = groups.len();
        let at = *index.entry(key).or_insert(next);
        if at == next {
            groups.push((at, Vec::new()));
        }
        groups[at].1.push(entry);
    }
    groups
}

/// A value's canonical JSON: the access log's types declare their fields in key order, so
/// `serde_json` writes them canonically and the scan only confirms it.
fn encode<T: serde::Serialize>(
    value: &T,
) -> Result<Vec<u8>, ledger_core::canonical::CanonicalError> {
    match serde_json::to_vec(value) {
        Ok(bytes) if ledger_core::canonical::is_plainly_canonical(&bytes) => Ok(bytes),
        _ => ledger_core::canonical::to_canonical_vec_of(value),
    }
}

/// The China Standard Time date of an instant: access-log streams are named by it
/// (`access/yyyy-mm-dd`), since partners and auditors think in local days.
fn cst_date(at: DateTime<Utc>) -> NaiveDate {
    (at + chrono::Duration::hours(8)).date_naive()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use ledger_core::events::{AccessQuery, DomainEvent};
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

    /// The entries a batch's event holds, read back through the typed payload, after checking
    /// that the bytes are exactly the canonical form of that payload.
    fn entries_of(batch: &Batch) -> Vec<AccessLogged> {
        let event = &batch.event;
        assert_eq!((event.event_type.as_str(), event.schema_version), ("access_logged", 3));
        ledger_core::canonical::check_canonical(&event.payload).unwrap();
        let parsed = DomainEvent::parse("access_logged", 3, &event.payload_value()).unwrap();
        assert_eq!(parsed.to_canonical_payload().unwrap(), event.payload);
        let DomainEvent::AccessLoggedV3(callers) = parsed else {
            panic!("not a batch: {parsed:?}");
        };
        let entries = callers.flatten();
        assert_eq!(entries.len(), batch.entries);
        entries
    }

    #[test]
    fn batches_split_by_day_count_and_size_keeping_order() {
        // 15:59:59 and 16:00:00 UTC fall on two days in China Standard Time.
        let late = Utc.with_ymd_and_hms(2025, 6, 1, 15, 59, 59).unwrap();
        let next_day = Utc.with_ymd_and_hms(2025, 6, 1, 16, 0, 0).unwrap();
        let mut entries: Vec<_> = (0..2 * BATCH_ENTRIES_MAX + 10)
            .map(|i| AccessLogged { answer_items: i as u64, ..entry(late, "d") })
            .collect();
        entries.push(entry(next_day, "d"));
        let batches = pack(entries.clone());
        let sizes: Vec<(&str, usize)> =
            batches.iter().map(|b| (b.day.as_str(), b.entries)).collect();
        assert_eq!(
            sizes,
            [
                ("2025-06-01", BATCH_ENTRIES_MAX),
                ("2025-06-01", BATCH_ENTRIES_MAX),
                ("2025-06-01", 10),
                ("2025-06-02", 1)
            ]
        );
        let read_back: Vec<AccessLogged> = batches.iter().flat_map(entries_of).collect();
        assert_eq!(read_back, entries);
        assert_eq!(batches[3].event.effective_at, next_day);
        assert_ne!(batches[0].event.event_id, batches[1].event.event_id);

        // Callers of 10 KiB each: four fit under the byte limit, the fifth starts a new batch.
        let wide = "x".repeat(10 * 1024);
        let batches = pack((0..6).map(|i| entry(late, &format!("{i}{wide}"))).collect());
        let sizes: Vec<usize> = batches.iter().map(|b| b.entries).collect();
        assert_eq!(sizes, [4, 2]);
        for batch in &batches {
            assert_eq!(entries_of(batch).len(), batch.entries);
            assert!(batch.event.payload.len() <= BATCH_PAYLOAD_BYTES_MAX);
        }
        assert!(pack(Vec::new()).is_empty());
    }

    #[test]
    fn callers_are_written_once_with_their_queries_in_order() {
        let at = Utc.with_ymd_and_hms(2025, 6, 1, 8, 0, 0).unwrap();
        let court = |i: u64| AccessLogged {
            principal_id: "court".to_owned(),
            department: None,
            answer_items: i,
            ..entry(at, "")
        };
        let tax = |i: u64| AccessLogged { answer_items: i, ..entry(at, "税务部门") };
        let other_token = AccessLogged { token_id: Uuid::max(), ..tax(9) };
        let entries = vec![tax(0), court(1), tax(2), other_token.clone(), court(4), tax(5)];
        let batches = pack(entries);
        assert_eq!(batches.len(), 1);
        let payload = String::from_utf8(batches[0].event.payload.clone()).unwrap();
        assert_eq!(payload.matches("\"principal_id\"").count(), 3, "{payload}");
        assert_eq!(payload.matches("税务部门").count(), 2, "{payload}");
        let read_back = entries_of(&batches[0]);
        assert_eq!(read_back, [tax(0), tax(2), tax(5), court(1), court(4), other_token]);

        // A caller split over two batches is opened again in the second.
        let many: Vec<_> = (0..BATCH_ENTRIES_MAX as u64 + 3).map(tax).collect();
        let batches = pack(many.clone());
        assert_eq!(batches.len(), 2);
        let read_back: Vec<AccessLogged> = batches.iter().flat_map(entries_of).collect();
        assert_eq!(read_back, many);
    }
}
