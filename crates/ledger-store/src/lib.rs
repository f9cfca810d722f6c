//! The Credit Ledger event store, on SQLite (embedded default) and PostgreSQL.
//!
//! [`Store`] is the one API over both backends. Appends go through a single writer task that
//! group-commits concurrent requests (see [`writer`]); reads, proofs and verification read the
//! database directly through a pool. Merkle nodes are kept as tiles ([`tiles`]) so proofs read
//! O(log n) rows. The only backend-specific code is SQL text (`sql/*.sql`, `migrations/`).

pub mod db;
pub mod error;
pub mod keys;
pub mod projections;
pub mod sqlite_direct;
pub mod tiles;
pub mod verify;
pub mod writer;

use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use ledger_core::checkpoint::{LogSigner, NoteVerifier};
use ledger_core::event::{self, ProposedEvent, RecordedEvent, PAYLOAD_BYTES_MAX};
use ledger_core::merkle::{self, NodeId};
use ledger_core::{Hash32, StreamName};
use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use tokio::sync::{mpsc, oneshot};
use tracing::info;
use uuid::Uuid;

pub use db::Backend;
pub use error::StoreError;
pub use writer::WriterLimits;

/// The most events one append may carry.
pub const APPEND_EVENTS_MAX: usize = 1_000;

/// The most events one page of a log or stream read returns.
pub const READ_PAGE_EVENTS_MAX: usize = 10_000;

/// The most personal-data records one append may carry.
pub const APPEND_PERSONAL_RECORDS_MAX: usize = 100;

/// The largest personal-data record, in bytes of JSON.
pub const PERSONAL_RECORD_BYTES_MAX: usize = 16 * 1024;

/// Where the clock is read. The domain crate never reads it; the writer does, through this.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place the real clock is read
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// What an append expects of its stream's current version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "version")]
pub enum ExpectedVersion {
    /// Append whatever the version is.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be at exactly this version.
    Exactly(u64),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any version"),
            Self::NoStream => f.write_str("no stream"),
            Self::Exactly(v) => write!(f, "version {v}"),
        }
    }
}

/// The value behind a personal-data commitment, stored outside the hashed payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonalRecord {
    /// The id the payload's commitment carries.
    pub commitment_id: Uuid,
    /// The salt the commitment was computed with.
    pub salt: Vec<u8>,
    /// The personal data itself.
    pub data: serde_json::Value,
}

/// One append: events for one stream with an expected version.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    /// The stream appended to.
    pub stream: StreamName,
    /// What the stream's version must be.
    pub expected: ExpectedVersion,
    /// The events, in order.
    pub events: Vec<ProposedEvent>,
    /// The authenticated recorder.
    pub recorded_by: String,
    /// Personal data behind commitments in these events.
    pub personal_data: Vec<PersonalRecord>,
    /// Commitment ids whose personal data this append erases (with a `personal_data_erased`
    /// event in `events` saying who asked and why).
    pub erase_personal_data: Vec<Uuid>,
}

impl AppendRequest {
    /// An append of `events` to `stream` with no personal data.
    pub fn new(
        stream: StreamName,
        expected: ExpectedVersion,
        events: Vec<ProposedEvent>,
        recorded_by: impl Into<String>,
    ) -> Self {
        Self {
            stream,
            expected,
            events,
            recorded_by: recorded_by.into(),
            personal_data: Vec::new(),
            erase_personal_data: Vec::new(),
        }
    }

    /// Checks the request before it reaches the writer, so a bad one writes nothing.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.events.is_empty() {
            return Err(StoreError::InvalidAppend("an append needs at least one event".into()));
        }
        if self.events.len() > APPEND_EVENTS_MAX {
            return Err(StoreError::InvalidAppend(format!(
                "{} events in one append; at most {APPEND_EVENTS_MAX} are accepted",
                self.events.len()
            )));
        }
        event::validate_recorded_by(&self.recorded_by)
            .map_err(|source| StoreError::InvalidEvent { index: 0, source })?;
        let mut ids = std::collections::HashSet::new();
        for (index, proposal) in self.events.iter().enumerate() {
            proposal.validate().map_err(|source| StoreError::InvalidEvent { index, source })?;
            if !ids.insert(proposal.event_id) {
                return Err(StoreError::InvalidAppend(format!(
                    "event id {} appears twice in one append",
                    proposal.event_id
                )));
            }
        }
        if self.personal_data.len() > APPEND_PERSONAL_RECORDS_MAX {
            return Err(StoreError::InvalidAppend(format!(
                "at most {APPEND_PERSONAL_RECORDS_MAX} personal-data records per append"
            )));
        }
        for record in &self.personal_data {
            if record.data.to_string().len() > PERSONAL_RECORD_BYTES_MAX || record.salt.len() != 32
            {
                return Err(StoreError::InvalidAppend(format!(
                    "personal-data record {} must have a 32-byte salt and at most \
                     {PERSONAL_RECORD_BYTES_MAX} bytes of data",
                    record.commitment_id
                )));
            }
        }
        debug_assert!(self.events.iter().all(|e| e.payload.len() <= PAYLOAD_BYTES_MAX));
        Ok(())
    }
}

/// Where an appended event landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendedEvent {
    /// The event's id.
    pub event_id: Uuid,
    /// Global position (Merkle leaf index).
    pub position: u64,
    /// Version within its stream.
    pub stream_version: u64,
    /// The event hash.
    pub hash: Hash32,
}

impl AppendedEvent {
    fn of(e: &RecordedEvent) -> Self {
        Self {
            event_id: e.event_id,
            position: e.position,
            stream_version: e.stream_version,
            hash: e.hash,
        }
    }
}

/// The answer to an append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendOutcome {
    /// The events, in order.
    pub events: Vec<AppendedEvent>,
    /// True when every event was already recorded (an idempotent retry): nothing was written.
    pub duplicate: bool,
}

/// A stream's latest event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamHead {
    /// Its version (0: the stream has no events).
    pub version: u64,
    /// Its hash (zero for no events).
    pub hash: Hash32,
    /// Its position.
    pub position: u64,
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root at that size.
    pub root: Hash32,
    /// The signed note text.
    pub note: String,
}

/// An inclusion proof with what it proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The leaf index (event position).
    pub position: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The event hash at that position.
    pub event_hash: Hash32,
    /// The proof hashes, nearest the leaf first.
    pub hashes: Vec<Hash32>,
    /// The root at `tree_size`.
    pub root: Hash32,
}

/// A consistency proof with what it proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older size.
    pub old_size: u64,
    /// The newer size.
    pub new_size: u64,
    /// The proof hashes.
    pub hashes: Vec<Hash32>,
    /// The root at the older size.
    pub old_root: Hash32,
    /// The root at the newer size.
    pub new_root: Hash32,
}

/// The state of the personal data behind a commitment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum PersonalDataState {
    /// The data is held.
    Present {
        /// Salt of the commitment.
        salt: Vec<u8>,
        /// The data.
        data: serde_json::Value,
    },
    /// The data was erased on a lawful request.
    Erased {
        /// When.
        erased_at: DateTime<Utc>,
        /// The position of the erasure event's append.
        erased_position: u64,
    },
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite://<path>` or `postgres://...`.
    pub url: String,
    /// On PostgreSQL, the schema to use (created when missing); `None` uses the default.
    pub pg_schema: Option<String>,
    /// The checkpoint origin line, for example `tianshui.amr/credit-ledger`.
    pub origin: String,
    /// The log's signing key.
    pub signer: Arc<LogSigner>,
    /// Writer bounds.
    pub limits: WriterLimits,
    /// Read pool size.
    pub read_connections_max: u32,
    /// The clock for recorded times.
    pub clock: Arc<dyn Clock>,
}

impl StoreConfig {
    /// A configuration with default limits and the system clock.
    pub fn new(url: impl Into<String>, origin: impl Into<String>, signer: Arc<LogSigner>) -> Self {
        Self {
            url: url.into(),
            pg_schema: None,
            origin: origin.into(),
            signer,
            limits: WriterLimits::default(),
            read_connections_max: 8,
            clock: Arc::new(SystemClock),
        }
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The event store. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: db::Db,
    native: db::NativePool,
    commands: Mutex<Option<mpsc::Sender<writer::Command>>>,
    writer_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    verifier: NoteVerifier,
    origin: String,
    tile_cache: Mutex<tiles::TileCache>,
    /// The size this process's writer last committed: a lower bound of the real size, which
    /// only grows, so a proof at or below it needs no query for the size.
    committed_size: Arc<std::sync::atomic::AtomicU64>,
    /// On SQLite, the task that checkpoints the WAL (see [`db::wal_checkpointer`]).
    checkpointer: Option<tokio::task::JoinHandle<()>>,
    /// The projection generation whose own indexes this store last built or found (0: none
    /// yet), so that reading the projection state checks them once, not on every call.
    indexed_generation: std::sync::atomic::AtomicI64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = &self.checkpointer {
            task.abort();
        }
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("backend", &self.inner.db.backend).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (and migrates) a store and starts its writer.
    pub async fn open(config: StoreConfig) -> Result<Self, StoreError> {
        let backend = Backend::from_url(&config.url)?;
        if backend == Backend::Postgres {
            if let Some(schema) = &config.pg_schema {
                db::check_identifier(schema)?;
                let admin = db::Db::connect(&config.url, 1, None).await?;
                sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                    .execute(&admin.pool)
                    .await?;
                admin.pool.close().await;
            }
        }
        let schema = config.pg_schema.as_deref();
        let read = db::Db::connect(&config.url, config.read_connections_max, schema).await?;
        let native =
            db::NativePool::connect(&config.url, config.read_connections_max, schema).await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&read.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&read.pool).await?,
        }
        // The writer has its own pool so it never queues behind readers: one connection runs
        // the batches, one its lookups and checkpoints, and on PostgreSQL one holds the lock.
        let write_connections = if backend == Backend::Sqlite { 2 } else { 3 };
        let write = db::Db::connect(&config.url, write_connections, schema).await?;
        let lock_key = writer_lock_key(schema.unwrap_or("public"));
        let committed_size = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let writer = writer::Writer::start(
            write,
            lock_key,
            config.limits.clone(),
            config.clock.clone(),
            config.signer.clone(),
            config.origin.clone(),
            committed_size.clone(),
        )
        .await?;
        let (tx, rx) = mpsc::channel(config.limits.queue_commands_max);
        let task = tokio::spawn(writer.run(rx));
        let checkpointer = match backend {
            Backend::Sqlite => Some(tokio::spawn(db::wal_checkpointer(read.pool.clone()))),
            Backend::Postgres => None,
        };
        info!(backend = ?backend, origin = %config.origin, "store open");
        Ok(Self {
            inner: Arc::new(Inner {
                db: read,
                native,
                commands: Mutex::new(Some(tx)),
                writer_task: Mutex::new(Some(task)),
                verifier: config.signer.verifier(),
                origin: config.origin,
                tile_cache: Mutex::new(tiles::TileCache::default()),
                committed_size,
                checkpointer,
                indexed_generation: std::sync::atomic::AtomicI64::new(0),
            }),
        })
    }

    /// The backend this store runs on.
    pub fn backend(&self) -> Backend {
        self.inner.db.backend
    }

    /// The checkpoint origin.
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The key that verifies this log's checkpoints.
    pub fn verifier(&self) -> &NoteVerifier {
        &self.inner.verifier
    }

    /// Stops taking appends, lets the writer finish every queued one, and closes the pools.
    pub async fn close(&self) {
        let sender = self.inner.commands.lock().map(|mut s| s.take()).unwrap_or(None);
        drop(sender);
        let task = self.inner.writer_task.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(task) = task {
            let _ = task.await;
        }
        if let Some(task) = &self.inner.checkpointer {
            task.abort();
        }
        self.inner.db.pool.close().await;
        self.inner.native.close().await;
    }

    fn sender(&self) -> Result<mpsc::Sender<writer::Command>, StoreError> {
        self.inner
            .commands
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .ok_or_else(|| StoreError::Unavailable("the store is closing".into()))
    }

    /// Appends events to one stream. Answers after the events are durable, or with an error
    /// and nothing written.
    pub async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, StoreError> {
        request.validate()?;
        let (reply, answer) = oneshot::channel();
        self.sender()?
            .send(writer::Command::Append(Box::new(request), reply))
            .await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?
    }

    /// The log size as this process last committed or loaded it: no query, and never more
    /// than the real size (another process on the same PostgreSQL database may have appended
    /// since). For answers that state the size they are based on.
    pub fn known_size(&self) -> u64 {
        self.inner.committed_size.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Signs and stores a checkpoint of the current log now.
    pub async fn checkpoint_now(&self) -> Result<SignedCheckpoint, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.sender()?
            .send(writer::Command::Checkpoint(reply))
            .await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?
    }

    fn db(&self) -> &db::Db {
        &self.inner.db
    }

    /// The committed number of events (the tree size).
    pub async fn size(&self) -> Result<u64, StoreError> {
        let row = self.db().query("log_head").fetch_one(&self.db().pool).await?;
        db::to_u64(row.try_get(0)?, "log size")
    }

    /// Events of a stream from `from_version` (1-based), at most `limit`
    /// (capped at [`READ_PAGE_EVENTS_MAX`]).
    pub async fn read_stream(
        &self,
        stream: &StreamName,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let limit = db::to_i64(limit.min(READ_PAGE_EVENTS_MAX) as u64);
        let sql = self.db().queries.get("read_stream");
        self.inner.native.events(sql, &[stream.as_str()], &[db::to_i64(from_version), limit]).await
    }

    /// Events of the whole log from `from_position`, at most `limit`
    /// (capped at [`READ_PAGE_EVENTS_MAX`]).
    pub async fn read_log(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let limit = limit.min(READ_PAGE_EVENTS_MAX) as u64;
        self.read_log_range(from_position, from_position.saturating_add(limit)).await
    }

    /// Events with positions in `[from, to)`, at most [`READ_PAGE_EVENTS_MAX`].
    pub async fn read_log_range(
        &self,
        from: u64,
        to: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = self.db().queries.get("read_log");
        let args = [db::to_i64(from), db::to_i64(to), READ_PAGE_EVENTS_MAX as i64];
        self.inner.native.events(sql, &[], &args).await
    }

    /// The position and stream of each event in `[from_position, from_position + limit)`
    /// (capped at [`READ_PAGE_EVENTS_MAX`]): what a reader that only routes events to streams
    /// needs, without reading their payloads (an access-log event alone holds tens of
    /// kilobytes).
    pub async fn read_log_streams(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<(u64, StreamName)>, StoreError> {
        let limit = limit.min(READ_PAGE_EVENTS_MAX) as u64;
        let rows = self
            .db()
            .query("read_log_streams")
            .bind(db::to_i64(from_position))
            .bind(db::to_i64(from_position.saturating_add(limit)))
            .bind(READ_PAGE_EVENTS_MAX as i64)
            .fetch_all(&self.db().pool)
            .await?;
        rows.iter()
            .map(|row| {
                let position = db::to_u64(row.try_get(0)?, "position")?;
                let stream = StreamName::new(row.try_get::<String, _>(1)?).map_err(|e| {
                    StoreError::Corrupt(format!("a stored stream name is invalid: {e}"))
                })?;
                Ok((position, stream))
            })
            .collect()
    }

    /// The event at a position.
    pub async fn event_at(&self, position: u64) -> Result<RecordedEvent, StoreError> {
        let row = self
            .db()
            .query("event_by_position")
            .bind(db::to_i64(position))
            .fetch_optional(&self.db().pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("event at position {position}")))?;
        db::event_from_row(&row)
    }

    /// The event with an id.
    pub async fn event_by_id(&self, event_id: Uuid) -> Result<RecordedEvent, StoreError> {
        let row = self
            .db()
            .query("event_by_id")
            .bind(event_id.as_bytes().to_vec())
            .fetch_optional(&self.db().pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("event {event_id}")))?;
        db::event_from_row(&row)
    }

    /// A stream's head; version 0 when the stream has no events.
    pub async fn stream_head(&self, stream: &StreamName) -> Result<StreamHead, StoreError> {
        let row = self
            .db()
            .query("stream_head")
            .bind(stream.as_str().to_owned())
            .fetch_optional(&self.db().pool)
            .await?;
        match row {
            None => Ok(StreamHead::default()),
            Some(row) => Ok(StreamHead {
                version: db::to_u64(row.try_get(1)?, "stream version")?,
                hash: db::hash_column(&row, 2)?,
                position: db::to_u64(row.try_get(3)?, "head position")?,
            }),
        }
    }

    /// The newest stored checkpoint.
    pub async fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        let row = self.db().query("latest_checkpoint").fetch_optional(&self.db().pool).await?;
        row.map(|r| checkpoint_from_row(&r)).transpose()
    }

    /// The smallest stored checkpoint of at least `size`.
    pub async fn checkpoint_at_least(
        &self,
        size: u64,
    ) -> Result<Option<SignedCheckpoint>, StoreError> {
        let row = self
            .db()
            .query("checkpoint_at_least")
            .bind(db::to_i64(size))
            .fetch_optional(&self.db().pool)
            .await?;
        row.map(|r| checkpoint_from_row(&r)).transpose()
    }

    /// Every stored checkpoint, smallest first.
    pub async fn checkpoints(&self) -> Result<Vec<SignedCheckpoint>, StoreError> {
        let rows = self.db().query("all_checkpoints").fetch_all(&self.db().pool).await?;
        rows.iter().map(checkpoint_from_row).collect()
    }

    /// The personal data behind a commitment.
    pub async fn personal_data(
        &self,
        commitment_id: Uuid,
    ) -> Result<PersonalDataState, StoreError> {
        let row = self
            .db()
            .query("select_personal_data")
            .bind(commitment_id.as_bytes().to_vec())
            .fetch_optional(&self.db().pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("personal data {commitment_id}")))?;
        let erased_at: Option<i64> = row.try_get(3)?;
        if let Some(erased_at) = erased_at {
            let erased_position: Option<i64> = row.try_get(4)?;
            return Ok(PersonalDataState::Erased {
                erased_at: db::from_micros(erased_at)?,
                erased_position: db::to_u64(erased_position.unwrap_or(-1), "erasure position")?,
            });
        }
        let salt: Option<Vec<u8>> = row.try_get(1)?;
        let data: Option<String> = row.try_get(2)?;
        let data = serde_json::from_str(data.as_deref().unwrap_or("null"))
            .map_err(|e| StoreError::Corrupt(format!("personal data is not JSON: {e}")))?;
        Ok(PersonalDataState::Present { salt: salt.unwrap_or_default(), data })
    }

    /// A projection's stored position (the next event it will read), 0 if none.
    pub async fn projection_checkpoint(&self, name: &str) -> Result<u64, StoreError> {
        let row = self
            .db()
            .query("get_projection_checkpoint")
            .bind(name.to_owned())
            .fetch_optional(&self.db().pool)
            .await?;
        match row {
            Some(row) => db::to_u64(row.try_get(0)?, "projection position"),
            None => Ok(0),
        }
    }

    /// Perfect-subtree hashes for `ids`, reading each needed tile once.
    ///
    /// Tiles only ever grow at their end, so a cached tile, full or partial, answers every
    /// node whose entries it already holds; a tile is read again only when it is too short.
    async fn nodes(
        &self,
        ids: &[NodeId],
    ) -> Result<std::collections::HashMap<NodeId, Hash32>, StoreError> {
        let mut out = std::collections::HashMap::new();
        for id in ids {
            if out.contains_key(id) {
                continue;
            }
            let (key, _, _) = tiles::node_location(*id);
            let cached = self.inner.tile_cache.lock().ok().and_then(|c| c.get(&key));
            let mut hash = cached.and_then(|tile| tiles::node_from_tile(*id, &tile));
            if hash.is_none() {
                let tile = Arc::new(fetch_tile(self.db(), key).await?.unwrap_or_default());
                hash = tiles::node_from_tile(*id, &tile);
                if let Ok(mut cache) = self.inner.tile_cache.lock() {
                    cache.put(key, tile);
                }
            }
            let hash = hash.ok_or_else(|| {
                StoreError::Corrupt(format!("Merkle node {id:?} is missing from its tile"))
            })?;
            out.insert(*id, hash);
        }
        Ok(out)
    }

    async fn check_size(&self, size: u64) -> Result<u64, StoreError> {
        let known = self.inner.committed_size.load(std::sync::atomic::Ordering::Acquire);
        if size <= known {
            return Ok(known);
        }
        let current = self.size().await?;
        if size > current {
            return Err(StoreError::OutOfRange(format!(
                "tree size {size} is beyond the log's current size {current}"
            )));
        }
        Ok(current)
    }

    /// The root hash at any size up to the current one.
    pub async fn root_at(&self, size: u64) -> Result<Hash32, StoreError> {
        self.check_size(size).await?;
        let ids = merkle::range_nodes(0, size);
        let nodes = self.nodes(&ids).await?;
        let hashes: Vec<Hash32> = ids.iter().map(|id| nodes[id]).collect();
        Ok(merkle::fold_range(&hashes).unwrap_or_else(merkle::empty_root))
    }

    /// The inclusion proof of the event at `position` in the tree of `tree_size` events.
    pub async fn inclusion_proof(
        &self,
        position: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, StoreError> {
        self.check_size(tree_size).await?;
        if position >= tree_size {
            return Err(StoreError::OutOfRange(format!(
                "position {position} is not inside a tree of size {tree_size}"
            )));
        }
        let ranges = merkle::inclusion_ranges(position, tree_size);
        let mut ids = merkle::nodes_for_ranges(&ranges);
        ids.extend(merkle::range_nodes(0, tree_size));
        let (nodes, event) = tokio::join!(self.nodes(&ids), self.event_at(position));
        let (nodes, event) = (nodes?, event?);
        let hashes = merkle::assemble(&ranges, |id| nodes.get(&id).copied())
            .map_err(|id| StoreError::Corrupt(format!("Merkle node {id:?} missing")))?;
        let root_hashes: Vec<Hash32> =
            merkle::range_nodes(0, tree_size).iter().map(|id| nodes[id]).collect();
        Ok(InclusionProof {
            position,
            tree_size,
            event_hash: event.hash,
            hashes,
            root: merkle::fold_range(&root_hashes).unwrap_or_else(merkle::empty_root),
        })
    }

    /// The consistency proof between two sizes.
    pub async fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, StoreError> {
        self.check_size(new_size).await?;
        if old_size > new_size {
            return Err(StoreError::OutOfRange(format!(
                "old size {old_size} is larger than new size {new_size}"
            )));
        }
        let ranges = merkle::consistency_ranges(old_size, new_size);
        let mut ids = merkle::nodes_for_ranges(&ranges);
        ids.extend(merkle::range_nodes(0, old_size));
        ids.extend(merkle::range_nodes(0, new_size));
        let nodes = self.nodes(&ids).await?;
        let hashes = merkle::assemble(&ranges, |id| nodes.get(&id).copied())
            .map_err(|id| StoreError::Corrupt(format!("Merkle node {id:?} missing")))?;
        let root = |size: u64| {
            let hs: Vec<Hash32> = merkle::range_nodes(0, size).iter().map(|id| nodes[id]).collect();
            merkle::fold_range(&hs).unwrap_or_else(merkle::empty_root)
        };
        Ok(ConsistencyProof {
            old_size,
            new_size,
            hashes,
            old_root: root(old_size),
            new_root: root(new_size),
        })
    }
}

/// Reads one tile.
pub(crate) async fn fetch_tile(
    db: &db::Db,
    (level, index): tiles::TileKey,
) -> Result<Option<Vec<Hash32>>, StoreError> {
    let row = db
        .query("select_tile")
        .bind(i64::from(level))
        .bind(db::to_i64(index))
        .fetch_optional(&db.pool)
        .await?;
    match row {
        None => Ok(None),
        Some(row) => {
            let bytes: Vec<u8> = row.try_get(0)?;
            tiles::decode_tile(&bytes)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt(format!("tile ({level}, {index}) is malformed")))
        }
    }
}

fn checkpoint_from_row(row: &sqlx::any::AnyRow) -> Result<SignedCheckpoint, StoreError> {
    Ok(SignedCheckpoint {
        size: db::to_u64(row.try_get(0)?, "checkpoint size")?,
        root: db::hash_column(row, 1)?,
        note: row.try_get(2)?,
    })
}

/// The advisory-lock key of a schema: stable across processes, different per schema.
fn writer_lock_key(schema: &str) -> i64 {
    let digest = blake3_like_key(schema.as_bytes());
    i64::from_be_bytes(digest)
}

fn blake3_like_key(bytes: &[u8]) -> [u8; 8] {
    // FNV-1a: a stable, dependency-free 64-bit digest is all a lock key needs.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"credit-ledger-writer:".iter().chain(bytes) {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash.to_be_bytes()
}
