//! The single writer: group commit of appends.
//!
//! Appends reach the writer through a bounded queue. The writer:
//!
//! 1. takes the first waiting command and then every command already queued, up to
//!    [`WriterLimits::batch_events_max`] events and [`WriterLimits::batch_bytes_max`] bytes,
//!    so one transaction and one durable sync serve many callers; when the queue runs dry it
//!    waits a few scheduler turns for the callers the last commit answered, which roughly
//!    doubles the batch (and the throughput) under concurrent load;
//! 2. loads, in one query each, the heads of streams it has not cached and any stored events
//!    that reuse the batch's event ids (idempotent retries);
//! 3. checks each append's expected version in queue order against the heads as the earlier
//!    appends of the batch leave them, so a rejected append changes nothing and later ones see
//!    exactly what is committed before them;
//! 4. seals the accepted events (position, version, recorded time, previous hash, hash) and
//!    extends the Merkle frontier, collecting the tiles to rewrite;
//! 5. in one transaction: moves the log head from the size it loaded to the new size with a
//!    compare-and-set (so a second writer that got past the lock fails instead of forking the
//!    log), inserts the events with multi-row statements, upserts the stream heads and tiles,
//!    and stores or erases personal data;
//! 6. answers each caller only after the commit returned, which with the durability settings
//!    of [`crate::db`] means the events are on disk. On any failure every caller of the batch
//!    gets the error and the writer reloads its state from the database, since its in-memory
//!    frontier may be ahead of what was committed.
//!
//! On PostgreSQL the writer first takes a session advisory lock; a process that cannot get it
//! holds its appends and retries until [`WriterLimits::writer_wait_max`] passes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ledger_core::checkpoint::{Checkpoint, LogSigner};
use ledger_core::event::{RecordedEvent, Seal};
use ledger_core::merkle::{self, Frontier};
use ledger_core::{Hash32, StreamName};
use sqlx::any::AnyArguments;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Arguments as _, Row as _};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, info_span, warn, Instrument as _};
use uuid::Uuid;

use crate::db::{self, Backend, Db};
use crate::error::StoreError;
use crate::tiles::{self, TileEdge};
use crate::{
    AppendOutcome, AppendRequest, AppendedEvent, Clock, ExpectedVersion, SignedCheckpoint,
    StreamHead,
};

/// Bounds of the writer.
#[derive(Debug, Clone)]
pub struct WriterLimits {
    /// Most events one transaction carries.
    pub batch_events_max: usize,
    /// Most payload bytes one transaction carries.
    pub batch_bytes_max: usize,
    /// Most commands waiting in the queue; further appends wait for room.
    pub queue_commands_max: usize,
    /// Most stream heads kept in memory.
    pub head_cache_streams_max: usize,
    /// How long appends wait for the writer role before failing as unavailable.
    pub writer_wait_max: Duration,
    /// Sign a checkpoint once the log has grown by this many events...
    pub checkpoint_size_step: u64,
    /// ...or once this much time has passed with any growth.
    pub checkpoint_interval: Duration,
}

impl Default for WriterLimits {
    fn default() -> Self {
        Self {
            batch_events_max: 2_000,
            batch_bytes_max: 8 * 1024 * 1024,
            queue_commands_max: 10_000,
            head_cache_streams_max: 200_000,
            writer_wait_max: Duration::from_secs(10),
            checkpoint_size_step: 100_000,
            checkpoint_interval: Duration::from_secs(60),
        }
    }
}

/// How often a process without the writer role retries for it.
const WRITER_LOCK_RETRY: Duration = Duration::from_millis(100);

/// How long giving up the writer role waits for the lock's session to close.
const WRITER_LOCK_CLOSE_MAX: Duration = Duration::from_secs(5);

/// Scheduler turns the writer waits, after the queue runs dry, for more appends to join a batch
/// (see `Writer::run`).
const GATHER_TURNS: usize = 8;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

pub(crate) enum Command {
    Append(Box<AppendRequest>, Reply<AppendOutcome>),
    Checkpoint(Reply<SignedCheckpoint>),
}

impl Command {
    fn events(&self) -> usize {
        match self {
            Command::Append(r, _) => r.events.len(),
            Command::Checkpoint(_) => 0,
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Command::Append(r, _) => r.events.iter().map(|e| e.payload.len()).sum(),
            Command::Checkpoint(_) => 0,
        }
    }
}

/// What the writer knows about the committed log.
#[derive(Debug)]
struct State {
    size: u64,
    last_recorded_at: i64,
    frontier: Frontier,
    edge: TileEdge,
    heads: HashMap<StreamName, StreamHead>,
    last_checkpoint_size: u64,
    last_checkpoint_at: Instant,
}

pub(crate) struct Writer {
    db: Db,
    lock_key: i64,
    /// The connection holding the PostgreSQL writer lock; in a mutex only so the writer is
    /// `Sync` (the connection is never used again, only kept open).
    lock_conn: Option<std::sync::Mutex<PoolConnection<Any>>>,
    /// The connection batches are written on (in a mutex for the same reason).
    batch_conn: Option<std::sync::Mutex<PoolConnection<Any>>>,
    limits: WriterLimits,
    clock: Arc<dyn Clock>,
    signer: Arc<LogSigner>,
    origin: String,
    state: State,
    /// The committed size, shared with readers of this process.
    committed_size: Arc<std::sync::atomic::AtomicU64>,
}

/// Stages one batch before it is written.
#[derive(Default)]
struct Staged {
    events: Vec<RecordedEvent>,
    heads: HashMap<StreamName, StreamHead>,
    ids: HashMap<Uuid, usize>,
    personal: Vec<(Uuid, u64, Vec<u8>, String)>,
    erasures: Vec<(Uuid, u64)>,
}

impl Writer {
    pub(crate) async fn start(
        db: Db,
        lock_key: i64,
        limits: WriterLimits,
        clock: Arc<dyn Clock>,
        signer: Arc<LogSigner>,
        origin: String,
        committed_size: Arc<std::sync::atomic::AtomicU64>,
    ) -> Result<Self, StoreError> {
        let state = load_state(&db).await?;
        committed_size.store(state.size, std::sync::atomic::Ordering::Release);
        info!(size = state.size, backend = ?db.backend, "writer ready");
        Ok(Self {
            db,
            lock_key,
            lock_conn: None,
            batch_conn: None,
            limits,
            clock,
            signer,
            origin,
            state,
            committed_size,
        })
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut carry: Option<Command> = None;
        loop {
            let first = match carry.take() {
                Some(c) => c,
                None => {
                    match tokio::time::timeout(self.limits.checkpoint_interval, rx.recv()).await {
                        Ok(Some(c)) => c,
                        Ok(None) => break,
                        Err(_) => {
                            self.maybe_checkpoint(true).await;
                            continue;
                        }
                    }
                }
            };
            let (mut events, mut bytes) = (first.events(), first.bytes());
            let mut batch = vec![first];
            // Callers answered by the last commit send their next append within a few
            // scheduler turns; waiting those turns lets them join this batch instead of
            // waiting a whole commit for the next one, and costs microseconds against a
            // commit's milliseconds. With nothing else queued it costs one turn.
            let mut turns = 0;
            'gather: loop {
                while let Ok(next) = rx.try_recv() {
                    if events + next.events() > self.limits.batch_events_max
                        || bytes + next.bytes() > self.limits.batch_bytes_max
                    {
                        carry = Some(next);
                        break 'gather;
                    }
                    events += next.events();
                    bytes += next.bytes();
                    batch.push(next);
                    turns = 0;
                }
                if turns >= GATHER_TURNS || batch.len() == 1 && turns > 0 {
                    break;
                }
                turns += 1;
                tokio::task::yield_now().await;
            }
            let span = info_span!("append_batch", commands = batch.len(), events);
            self.process(batch).instrument(span).await;
        }
        self.maybe_checkpoint(true).await;
        self.batch_conn = None;
        self.release_writer_role().await;
        self.db.pool.close().await;
        info!(size = self.state.size, "writer stopped");
    }

    async fn process(&mut self, batch: Vec<Command>) {
        let started = Instant::now();
        if let Err(e) = self.ensure_writer_role().await {
            for command in batch {
                match command {
                    Command::Append(_, reply) => drop(reply.send(Err(clone_err(&e)))),
                    Command::Checkpoint(reply) => drop(reply.send(Err(clone_err(&e)))),
                }
            }
            return;
        }
        let mut appends = Vec::new();
        let mut checkpoints = Vec::new();
        for command in batch {
            match command {
                Command::Append(request, reply) => appends.push((request, reply)),
                Command::Checkpoint(reply) => checkpoints.push(reply),
            }
        }

        match self.commit_appends(&mut appends).await {
            Ok(events) => {
                debug!(
                    events,
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "batch committed"
                );
            }
            Err(e) => {
                if matches!(e, StoreError::Corrupt(_)) {
                    error!(error = %e, "append batch failed on inconsistent data");
                } else {
                    warn!(error = %e, "append batch failed; reloading writer state");
                }
                for (_, reply) in appends.drain(..) {
                    let _ = reply.send(Err(clone_err(&e)));
                }
                // The role is taken again, on a fresh session, before the next batch.
                self.batch_conn = None;
                self.release_writer_role().await;
                if let Err(reload) = self.reload().await {
                    error!(error = %reload, "could not reload writer state");
                }
            }
        }

        for reply in checkpoints {
            let _ = reply.send(self.checkpoint().await);
        }
        self.maybe_checkpoint(false).await;
    }

    async fn reload(&mut self) -> Result<(), StoreError> {
        let checkpoint = (self.state.last_checkpoint_size, self.state.last_checkpoint_at);
        self.state = load_state(&self.db).await?;
        (self.state.last_checkpoint_size, self.state.last_checkpoint_at) = checkpoint;
        Ok(())
    }

    /// Gives up the writer role by closing the session that holds the advisory lock. Only
    /// closing releases it: a connection merely returned to the pool would keep the lock, so
    /// that no other process, and not even this one on another pooled session, could take
    /// the role.
    async fn release_writer_role(&mut self) {
        if let Some(conn) = self.lock_conn.take().and_then(|m| m.into_inner().ok()) {
            // After a network fault the close may never be answered; dropping the connection
            // then ends the session from this side all the same.
            let close = sqlx::Connection::close(conn.detach());
            if tokio::time::timeout(WRITER_LOCK_CLOSE_MAX, close).await.is_err() {
                warn!("closing the writer lock's session timed out; dropped it");
            }
        }
    }

    /// On PostgreSQL, holds the advisory lock that makes this process the one writer.
    async fn ensure_writer_role(&mut self) -> Result<(), StoreError> {
        if self.db.backend != Backend::Postgres || self.lock_conn.is_some() {
            return Ok(());
        }
        let deadline = Instant::now() + self.limits.writer_wait_max;
        loop {
            let mut conn = self.db.pool.acquire().await?;
            let got: i64 = self
                .db
                .query("try_writer_lock")
                .bind(self.lock_key)
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)?;
            if got == 1 {
                info!(lock_key = self.lock_key, "took the writer role");
                self.lock_conn = Some(std::sync::Mutex::new(conn));
                // Another process may have written while we waited.
                return self.reload().await;
            }
            drop(conn);
            if Instant::now() >= deadline {
                return Err(StoreError::Unavailable(
                    "another process holds the writer role".into(),
                ));
            }
            tokio::time::sleep(WRITER_LOCK_RETRY).await;
        }
    }

    /// Validates, seals and commits a batch of appends; answers each one.
    ///
    /// Event ids are first assumed new, which saves a lookup per batch: a reused id then
    /// fails the insert on the unique index, the batch is rolled back, and it is staged again
    /// with the stored events of its ids loaded, which turns retries into their original
    /// answers and conflicts into typed errors.
    async fn commit_appends(
        &mut self,
        appends: &mut Vec<(Box<AppendRequest>, Reply<AppendOutcome>)>,
    ) -> Result<usize, StoreError> {
        if appends.is_empty() {
            return Ok(0);
        }
        self.load_missing_heads(appends).await?;
        let now = self.clock.now().timestamp_micros().max(self.state.last_recorded_at);
        let recorded_at = db::from_micros(now)?;
        let mut existing = HashMap::new();
        let mut looked_up = false;

        loop {
            // Stage every append; a rejected one is answered at the end and leaves no trace.
            let mut staged = Staged::default();
            let outcomes: Vec<Result<AppendOutcome, StoreError>> = appends
                .iter()
                .map(|(request, _)| self.stage(request, &existing, &mut staged, recorded_at))
                .collect();
            // A retry carries the expected version of its first attempt, which the stream has
            // since passed: before calling it a conflict, see whether its ids are stored.
            let version_conflict =
                outcomes.iter().any(|o| matches!(o, Err(StoreError::WrongExpectedVersion { .. })));
            if version_conflict && !looked_up {
                existing = self.load_existing(appends).await?;
                looked_up = true;
                continue;
            }
            if staged.events.is_empty() {
                answer(appends, outcomes, None);
                return Ok(0);
            }

            // Extend the tree, keeping the old edge in case the transaction fails.
            let saved = (self.state.frontier.clone(), self.state.edge.clone());
            for event in &staged.events {
                let edge = &mut self.state.edge;
                self.state
                    .frontier
                    .append(merkle::leaf_hash(&event.hash), |id, h| edge.push(id, h));
            }
            let tiles = self.state.edge.take_dirty();
            let new_size = self.state.size + staged.events.len() as u64;

            match self.write(&staged, &tiles, new_size, now).await {
                Ok(()) => {
                    let count = staged.events.len();
                    self.state.size = new_size;
                    self.state.last_recorded_at = now;
                    self.committed_size.store(new_size, std::sync::atomic::Ordering::Release);
                    let cached = self.state.heads.len() + staged.heads.len();
                    if cached > self.limits.head_cache_streams_max {
                        self.state.heads.clear();
                    }
                    self.state.heads.extend(staged.heads);
                    answer(appends, outcomes, None);
                    return Ok(count);
                }
                Err(e) if !looked_up && is_unique_violation(&e) => {
                    debug!("an event id of the batch is already stored; staging again");
                    (self.state.frontier, self.state.edge) = saved;
                    existing = self.load_existing(appends).await?;
                    looked_up = true;
                }
                Err(e) => {
                    // The tree must not keep leaves that were never written: were the reload
                    // after this failure to fail too, a checkpoint would sign them.
                    (self.state.frontier, self.state.edge) = saved;
                    answer(appends, outcomes, Some(&e));
                    return Err(e);
                }
            }
        }
    }

    fn stage(
        &self,
        request: &AppendRequest,
        existing: &HashMap<Uuid, RecordedEvent>,
        staged: &mut Staged,
        recorded_at: DateTime<Utc>,
    ) -> Result<AppendOutcome, StoreError> {
        // Idempotency: all ids known with the same content is a retry; any other overlap is a
        // conflict.
        let mut known = Vec::new();
        for proposal in &request.events {
            let earlier = existing
                .get(&proposal.event_id)
                .or_else(|| staged.ids.get(&proposal.event_id).map(|&i| &staged.events[i]));
            if let Some(earlier) = earlier {
                if earlier.stream != request.stream || !proposal.same_content_as(earlier) {
                    return Err(StoreError::IdempotencyConflict {
                        event_id: proposal.event_id,
                        position: earlier.position,
                    });
                }
                known.push(earlier);
            }
        }
        if !known.is_empty() {
            if known.len() != request.events.len() {
                let first = known[0];
                return Err(StoreError::IdempotencyConflict {
                    event_id: first.event_id,
                    position: first.position,
                });
            }
            return Ok(AppendOutcome {
                events: known.iter().map(|e| AppendedEvent::of(e)).collect(),
                duplicate: true,
            });
        }

        // Expected version against the head as the batch has left it so far.
        let head = staged
            .heads
            .get(&request.stream)
            .or_else(|| self.state.heads.get(&request.stream))
            .copied()
            .unwrap_or_default();
        let version_ok = match request.expected {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => head.version == 0,
            ExpectedVersion::Exactly(v) => head.version == v,
        };
        if !version_ok {
            return Err(StoreError::WrongExpectedVersion {
                stream: request.stream.to_string(),
                expected: request.expected,
                actual: head.version,
            });
        }

        // Seal.
        let mut head = head;
        let mut appended = Vec::with_capacity(request.events.len());
        let first_position = self.state.size + staged.events.len() as u64;
        for proposal in &request.events {
            let position = self.state.size + staged.events.len() as u64;
            let event = RecordedEvent::seal(
                proposal.clone(),
                Seal {
                    position,
                    stream: &request.stream,
                    stream_version: head.version + 1,
                    recorded_at,
                    recorded_by: &request.recorded_by,
                    prev_hash: head.hash,
                },
            );
            head = StreamHead { version: event.stream_version, hash: event.hash, position };
            appended.push(AppendedEvent::of(&event));
            staged.ids.insert(event.event_id, staged.events.len());
            staged.events.push(event);
        }
        staged.heads.insert(request.stream.clone(), head);
        for record in &request.personal_data {
            staged.personal.push((
                record.commitment_id,
                first_position,
                record.salt.clone(),
                record.data.to_string(),
            ));
        }
        for id in &request.erase_personal_data {
            staged.erasures.push((*id, first_position));
        }
        Ok(AppendOutcome { events: appended, duplicate: false })
    }

    async fn load_missing_heads(
        &mut self,
        appends: &[(Box<AppendRequest>, Reply<AppendOutcome>)],
    ) -> Result<(), StoreError> {
        let mut missing: Vec<&StreamName> = appends
            .iter()
            .map(|(r, _)| &r.stream)
            .filter(|s| !self.state.heads.contains_key(*s))
            .collect();
        missing.sort();
        missing.dedup();
        let mut found = Vec::new();
        for chunk in db::statement_chunks(&missing) {
            let sql =
                self.db.in_list_statement(self.db.queries.get("stream_heads_prefix"), chunk.len());
            let mut query = sqlx::query(&sql);
            for name in chunk {
                query = query.bind(name.as_str().to_owned());
            }
            for row in query.fetch_all(&self.db.pool).await? {
                let name: String = row.try_get(0)?;
                let head = StreamHead {
                    version: db::to_u64(row.try_get(1)?, "stream version")?,
                    hash: db::hash_column(&row, 2)?,
                    position: db::to_u64(row.try_get(3)?, "head position")?,
                };
                found.push((name, head));
            }
        }
        // Streams not found are new: cache them as version 0 so they are not looked up again.
        for name in missing.into_iter().cloned().collect::<Vec<_>>() {
            self.state.heads.insert(name, StreamHead::default());
        }
        for (name, head) in found {
            let name = StreamName::new(name)
                .map_err(|e| StoreError::Corrupt(format!("stream head name: {e}")))?;
            self.state.heads.insert(name, head);
        }
        Ok(())
    }

    async fn load_existing(
        &self,
        appends: &[(Box<AppendRequest>, Reply<AppendOutcome>)],
    ) -> Result<HashMap<Uuid, RecordedEvent>, StoreError> {
        let ids: Vec<Uuid> =
            appends.iter().flat_map(|(r, _)| r.events.iter().map(|e| e.event_id)).collect();
        let mut existing = HashMap::new();
        for chunk in db::statement_chunks(&ids) {
            let sql =
                self.db.in_list_statement(self.db.queries.get("events_by_ids_prefix"), chunk.len());
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.as_bytes().to_vec());
            }
            for row in query.fetch_all(&self.db.pool).await? {
                let event = db::event_from_row(&row)?;
                existing.insert(event.event_id, event);
            }
        }
        Ok(existing)
    }

    async fn write(
        &mut self,
        staged: &Staged,
        tiles: &[(tiles::TileKey, Vec<Hash32>)],
        new_size: u64,
        now: i64,
    ) -> Result<(), StoreError> {
        let q = &self.db.queries;
        // The writer keeps one connection for its batches: taking it from the pool each time
        // costs a round trip per batch, which group commit pays on every acknowledgement.
        if self.batch_conn.is_none() {
            self.batch_conn = Some(std::sync::Mutex::new(self.db.pool.acquire().await?));
        }
        let conn = self.batch_conn.as_mut().and_then(|m| m.get_mut().ok());
        let Some(conn) = conn else {
            return Err(StoreError::Unavailable("the writer's connection is poisoned".into()));
        };
        let mut tx = sqlx::Connection::begin(&mut **conn).await?;

        let moved = self
            .db
            .query("advance_log_head")
            .bind(db::to_i64(new_size))
            .bind(now)
            .bind(db::to_i64(self.state.size))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if moved != 1 {
            return Err(StoreError::Unavailable(
                "the log grew under this writer (another writer is active)".into(),
            ));
        }

        for chunk in db::statement_chunks(&staged.events) {
            let sql = self.db.values_statement(
                q.get("insert_events_prefix"),
                "",
                chunk.len(),
                db::EVENT_COLUMNS,
            );
            let mut args = AnyArguments::default();
            for event in chunk {
                db::bind_event(&mut args, event)?;
            }
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        }

        let heads: Vec<(&StreamName, &StreamHead)> = staged.heads.iter().collect();
        for chunk in db::statement_chunks(&heads) {
            let sql = self.db.values_statement(
                q.get("upsert_streams_prefix"),
                q.get("upsert_streams_suffix"),
                chunk.len(),
                4,
            );
            let mut args = AnyArguments::default();
            for (name, head) in chunk {
                add(&mut args, name.as_str().to_owned())?;
                add(&mut args, db::to_i64(head.version))?;
                add(&mut args, head.hash.0.to_vec())?;
                add(&mut args, db::to_i64(head.position))?;
            }
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        }

        for chunk in db::statement_chunks(tiles) {
            let sql = self.db.values_statement(
                q.get("upsert_tiles_prefix"),
                q.get("upsert_tiles_suffix"),
                chunk.len(),
                3,
            );
            let mut args = AnyArguments::default();
            for ((level, index), hashes) in chunk {
                add(&mut args, i64::from(*level))?;
                add(&mut args, db::to_i64(*index))?;
                add(&mut args, tiles::encode_tile(hashes))?;
            }
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        }

        for (id, position, salt, data) in &staged.personal {
            self.db
                .query("insert_personal_data")
                .bind(id.as_bytes().to_vec())
                .bind(db::to_i64(*position))
                .bind(salt.clone())
                .bind(data.clone())
                .execute(&mut *tx)
                .await?;
        }
        for (id, position) in &staged.erasures {
            self.db
                .query("erase_personal_data")
                .bind(now)
                .bind(db::to_i64(*position))
                .bind(id.as_bytes().to_vec())
                .execute(&mut *tx)
                .await?;
        }

        tx.commit().await?;
        Ok(())
    }

    async fn maybe_checkpoint(&mut self, idle: bool) {
        let grown = self.state.size - self.state.last_checkpoint_size.min(self.state.size);
        let due = grown >= self.limits.checkpoint_size_step
            || (grown > 0
                && (idle
                    || self.state.last_checkpoint_at.elapsed() >= self.limits.checkpoint_interval));
        if due {
            if let Err(e) = self.checkpoint().await {
                warn!(error = %e, "periodic checkpoint failed");
            }
        }
    }

    /// Signs the current size and root and stores the note.
    async fn checkpoint(&mut self) -> Result<SignedCheckpoint, StoreError> {
        let checkpoint =
            Checkpoint::new(self.origin.clone(), self.state.size, self.state.frontier.root());
        let note = self.signer.sign_checkpoint(&checkpoint);
        let created_at = self.clock.now().timestamp_micros();
        self.db
            .query("insert_checkpoint")
            .bind(db::to_i64(checkpoint.size))
            .bind(checkpoint.root.0.to_vec())
            .bind(note.clone())
            .bind(created_at)
            .execute(&self.db.pool)
            .await?;
        self.state.last_checkpoint_size = checkpoint.size;
        self.state.last_checkpoint_at = Instant::now();
        info!(size = checkpoint.size, root = %checkpoint.root, "checkpoint signed");
        Ok(SignedCheckpoint { size: checkpoint.size, root: checkpoint.root, note })
    }
}

/// Sends each append its outcome; when the batch failed (`failed`), the appends that were
/// accepted get that failure and the ones rejected on their own keep their own error.
fn answer(
    appends: &mut Vec<(Box<AppendRequest>, Reply<AppendOutcome>)>,
    outcomes: Vec<Result<AppendOutcome, StoreError>>,
    failed: Option<&StoreError>,
) {
    for ((_, reply), outcome) in appends.drain(..).zip(outcomes) {
        let outcome = match (outcome, failed) {
            (Ok(_), Some(e)) => Err(clone_err(e)),
            (outcome, _) => outcome,
        };
        let _ = reply.send(outcome);
    }
}

fn is_unique_violation(e: &StoreError) -> bool {
    match e {
        StoreError::Database(sqlx::Error::Database(db)) => {
            db.kind() == sqlx::error::ErrorKind::UniqueViolation
        }
        _ => false,
    }
}

fn add<T>(args: &mut AnyArguments<'static>, value: T) -> Result<(), StoreError>
where
    T: 'static + Send + sqlx::Encode<'static, Any> + sqlx::Type<Any>,
{
    args.add(value).map_err(|e| StoreError::Bind(e.to_string()))
}

/// Errors are not `Clone` (the driver's is not); batch failures are reported to every caller
/// of the batch as text of the same kind.
fn clone_err(e: &StoreError) -> StoreError {
    match e {
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        other => StoreError::Unavailable(format!("the batch holding this append failed: {other}")),
    }
}

/// Reads the committed size and rebuilds the frontier and tile edge from stored tiles.
async fn load_state(db: &Db) -> Result<State, StoreError> {
    let row = db.query("log_head").fetch_one(&db.pool).await?;
    let size = db::to_u64(row.try_get(0)?, "log size")?;
    let last_recorded_at: i64 = row.try_get(1)?;

    let mut tiles_loaded: HashMap<tiles::TileKey, Vec<Hash32>> = HashMap::new();
    let mut needed: Vec<tiles::TileKey> =
        merkle::range_nodes(0, size).into_iter().map(|id| tiles::node_location(id).0).collect();
    let mut level = 0u8;
    while (size >> (u32::from(level) * 8)) > 0 {
        needed.push((level, (size >> (u32::from(level) * 8)) / tiles::TILE_WIDTH as u64));
        level += 1;
    }
    for key in needed {
        if tiles_loaded.contains_key(&key) {
            continue;
        }
        if let Some(tile) = crate::fetch_tile(db, key).await? {
            tiles_loaded.insert(key, tile);
        }
    }
    let frontier_nodes: Option<Vec<Hash32>> = merkle::range_nodes(0, size)
        .into_iter()
        .map(|id| {
            let (key, _, _) = tiles::node_location(id);
            tiles::node_from_tile(id, tiles_loaded.get(&key)?)
        })
        .collect();
    let frontier = frontier_nodes
        .and_then(|nodes| Frontier::from_parts(size, nodes))
        .ok_or_else(|| StoreError::Corrupt(format!("Merkle tiles do not cover size {size}")))?;
    let edge = TileEdge::restore(size, |key| tiles_loaded.get(&key).cloned())
        .ok_or_else(|| StoreError::Corrupt("the right-most Merkle tiles are missing".into()))?;

    let latest = db.query("latest_checkpoint").fetch_optional(&db.pool).await?;
    let last_checkpoint_size = match latest {
        Some(row) => db::to_u64(row.try_get(0)?, "checkpoint size")?,
        None => 0,
    };
    Ok(State {
        size,
        last_recorded_at,
        frontier,
        edge,
        heads: HashMap::new(),
        last_checkpoint_size,
        last_checkpoint_at: Instant::now(),
    })
}
