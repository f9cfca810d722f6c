//! Verification of a whole store, trusting nothing that was stored.
//!
//! 1. Every stored checkpoint's signature is checked against the log's key and origin.
//! 2. The log is read in position order, in pages; a reader task fetches the next page while
//!    the current one is hashed on all cores.
//! 3. For each event: its position must be the next one (else an event is missing), its
//!    recomputed hash must equal the stored hash (else a field was altered), its `prev_hash`
//!    must be the stored hash of the stream's previous event and its version the next one
//!    (else the chain is broken).
//! 4. The Merkle tree is rebuilt from the event hashes; at every checkpoint size its root must
//!    equal the checkpoint's, and every tile it produces must equal the stored tile.
//! 5. At the end, the event count must equal the committed log size, and every stream head
//!    must name the last event of its stream.
//!
//! The report lists problems in log order (bounded by [`VERIFY_PROBLEMS_MAX`]); the first one
//! names the first bad position.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt as _;
use ledger_core::event::RecordedEvent;
use ledger_core::merkle::{self, Frontier};
use ledger_core::{Hash32, StreamName};
use serde::Serialize;
use sqlx::Row as _;
use tokio::sync::mpsc;
use tracing::info;

use crate::db;
use crate::error::StoreError;
use crate::tiles::TileEdge;
use crate::Store;

/// Events hashed per batch.
pub const VERIFY_PAGE_EVENTS: usize = 5_000;

/// The most problems a report lists; verification stops collecting after that.
pub const VERIFY_PROBLEMS_MAX: usize = 100;

/// What is wrong at a place in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ProblemKind {
    /// The stored fields do not hash to the stored hash: the payload or another field changed.
    HashMismatch {
        /// The hash stored with the event.
        stored: Hash32,
        /// The hash of the stored fields.
        computed: Hash32,
    },
    /// The event's `prev_hash` is not the hash of its stream's previous event.
    ChainBroken {
        /// The previous event's hash.
        expected: Hash32,
        /// The stored `prev_hash`.
        found: Hash32,
    },
    /// The event's stream version is not the next one.
    VersionGap {
        /// The version that should come next.
        expected: u64,
        /// The stored version.
        found: u64,
    },
    /// Positions jump: the events in between are missing.
    EventsMissing {
        /// The first missing position.
        from: u64,
        /// One past the last missing position.
        to: u64,
    },
    /// The root rebuilt from the events differs from a signed checkpoint's root.
    CheckpointMismatch {
        /// The checkpoint's size.
        size: u64,
    },
    /// A stored checkpoint's signature, origin or body is not valid.
    CheckpointInvalid {
        /// The checkpoint's size.
        size: u64,
        /// Why.
        reason: String,
    },
    /// A checkpoint claims more events than the log holds.
    CheckpointBeyondLog {
        /// The checkpoint's size.
        size: u64,
    },
    /// A stored Merkle tile differs from the one rebuilt from the events.
    TileMismatch {
        /// Tile level.
        level: u8,
        /// Tile index.
        index: u64,
    },
    /// The committed log size differs from the number of events.
    LogSizeMismatch {
        /// The committed size.
        committed: u64,
        /// Events found.
        events: u64,
    },
    /// A stream head does not name its stream's last event.
    StreamHeadMismatch {
        /// The stream.
        stream: String,
    },
}

/// One problem and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The position concerned, where there is one.
    pub position: Option<u64>,
    /// What is wrong.
    #[serde(flatten)]
    pub kind: ProblemKind,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Events read and hashed.
    pub events: u64,
    /// Streams seen.
    pub streams: u64,
    /// Checkpoints whose root was compared.
    pub checkpoints: u64,
    /// Root of the rebuilt tree.
    pub root: Hash32,
    /// Problems in log order; empty means the store verified.
    pub problems: Vec<Problem>,
    /// Wall time.
    #[serde(skip)]
    pub elapsed: Duration,
}

impl VerifyReport {
    /// Whether nothing was found wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The first problem.
    pub fn first_problem(&self) -> Option<&Problem> {
        self.problems.first()
    }

    fn push(&mut self, position: Option<u64>, kind: ProblemKind) {
        if self.problems.len() < VERIFY_PROBLEMS_MAX {
            self.problems.push(Problem { position, kind });
        }
    }
}

/// Progress of a running verification.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Events checked so far.
    pub events: u64,
    /// Events to check.
    pub total: u64,
    /// Time since the start.
    pub elapsed: Duration,
}

struct Checker {
    report: VerifyReport,
    next_position: u64,
    heads: HashMap<StreamName, (u64, Hash32, u64)>,
    frontier: Frontier,
    edge: TileEdge,
    checkpoints: Vec<(u64, Hash32)>,
    next_checkpoint: usize,
}

impl Checker {
    fn check_event(&mut self, event: &RecordedEvent, computed: Hash32) {
        let position = event.position;
        if position != self.next_position {
            self.report.push(
                Some(self.next_position),
                ProblemKind::EventsMissing { from: self.next_position, to: position },
            );
        }
        if computed != event.hash {
            self.report
                .push(Some(position), ProblemKind::HashMismatch { stored: event.hash, computed });
        }
        let (version, hash, _) =
            self.heads.get(&event.stream).copied().unwrap_or((0, Hash32::ZERO, 0));
        if event.stream_version != version + 1 {
            self.report.push(
                Some(position),
                ProblemKind::VersionGap { expected: version + 1, found: event.stream_version },
            );
        }
        if event.prev_hash != hash {
            self.report.push(
                Some(position),
                ProblemKind::ChainBroken { expected: hash, found: event.prev_hash },
            );
        }
        let head = (event.stream_version, event.hash, position);
        // Most events extend a stream already seen; update in place rather than clone its name.
        match self.heads.get_mut(&event.stream) {
            Some(slot) => *slot = head,
            None => {
                self.heads.insert(event.stream.clone(), head);
            }
        }
        // The tree commits to the stored hash: that is what proofs were given out for.
        let edge = &mut self.edge;
        self.frontier.append(merkle::leaf_hash(&event.hash), |id, h| edge.push(id, h));
        self.next_position = position + 1;
        self.report.events += 1;
        self.check_checkpoints();
    }

    fn check_checkpoints(&mut self) {
        while let Some(&(size, root)) = self.checkpoints.get(self.next_checkpoint) {
            if size > self.frontier.size() {
                break;
            }
            if size == self.frontier.size() {
                if root != self.frontier.root() {
                    self.report.push(None, ProblemKind::CheckpointMismatch { size });
                }
                self.report.checkpoints += 1;
            }
            self.next_checkpoint += 1;
        }
    }
}

impl Store {
    /// Verifies the whole store; `progress` is called after every page.
    pub async fn verify(
        &self,
        mut progress: impl FnMut(Progress) + Send,
    ) -> Result<VerifyReport, StoreError> {
        let started = Instant::now();
        let total = self.size().await?;
        let mut checker = Checker {
            report: VerifyReport::default(),
            next_position: 0,
            heads: HashMap::new(),
            frontier: Frontier::new(),
            edge: TileEdge::new(),
            checkpoints: Vec::new(),
            next_checkpoint: 0,
        };
        self.load_checkpoints(&mut checker).await?;
        checker.check_checkpoints();

        // Three stages overlap: a reader task streams the whole log through one cursor (rows
        // past the committed size included, so stray rows are found); a hashing task hashes
        // each batch on every core; this task checks chains, versions, the tree and the
        // checkpoints in position order, which is inherently sequential.
        let (tx, mut batches) = mpsc::channel::<Result<Vec<RecordedEvent>, StoreError>>(4);
        let reader = self.clone();
        let read_task = tokio::spawn(async move {
            let sql = reader.inner.db.queries.get("stream_log");
            reader.inner.native.stream_events(sql, 0, VERIFY_PAGE_EVENTS, &tx).await;
        });
        let (hashed_tx, mut hashed) = mpsc::channel::<Result<Hashed, StoreError>>(2);
        let hash_task = tokio::spawn(async move {
            while let Some(events) = batches.recv().await {
                let item = match events {
                    Ok(events) => tokio::task::spawn_blocking(move || {
                        let hashes = hash_in_parallel(&events);
                        (events, hashes)
                    })
                    .await
                    .map_err(|e| StoreError::Corrupt(format!("hashing task failed: {e}"))),
                    Err(e) => Err(e),
                };
                let failed = item.is_err();
                if hashed_tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });

        while let Some(item) = hashed.recv().await {
            let (events, hashes) = item?;
            for (event, computed) in events.iter().zip(hashes) {
                checker.check_event(event, computed);
            }
            self.check_tiles(&mut checker).await?;
            progress(Progress { events: checker.report.events, total, elapsed: started.elapsed() });
        }
        let _ = hash_task.await;
        let _ = read_task.await;

        self.finish(&mut checker, total).await?;
        let mut report = checker.report;
        report.root = checker.frontier.root();
        report.streams = checker.heads.len() as u64;
        report.elapsed = started.elapsed();
        info!(
            events = report.events,
            problems = report.problems.len(),
            elapsed_ms = report.elapsed.as_millis() as u64,
            "verification finished"
        );
        Ok(report)
    }

    async fn load_checkpoints(&self, checker: &mut Checker) -> Result<(), StoreError> {
        for stored in self.checkpoints().await? {
            match self.verifier().open_checkpoint(&stored.note, self.origin()) {
                Ok(c) if c.size == stored.size && c.root == stored.root => {
                    checker.checkpoints.push((c.size, c.root));
                }
                Ok(_) => checker.report.push(
                    None,
                    ProblemKind::CheckpointInvalid {
                        size: stored.size,
                        reason: "the signed note disagrees with the stored size or root".into(),
                    },
                ),
                Err(e) => checker.report.push(
                    None,
                    ProblemKind::CheckpointInvalid { size: stored.size, reason: e.to_string() },
                ),
            }
        }
        checker.checkpoints.sort_unstable_by_key(|c| c.0);
        Ok(())
    }

    /// Compares the tiles rebuilt since the last call with the stored ones, reading each
    /// level's range of tiles with one query.
    async fn check_tiles(&self, checker: &mut Checker) -> Result<(), StoreError> {
        let rebuilt = checker.edge.take_dirty();
        let mut ranges: std::collections::BTreeMap<u8, (u64, u64)> = Default::default();
        for ((level, index), _) in &rebuilt {
            let range = ranges.entry(*level).or_insert((*index, *index));
            range.0 = range.0.min(*index);
            range.1 = range.1.max(*index);
        }
        let mut stored: HashMap<(u8, u64), Vec<Hash32>> = HashMap::new();
        let db = &self.inner.db;
        for (level, (first, last)) in ranges {
            let rows = db
                .query("tiles_range")
                .bind(i64::from(level))
                .bind(db::to_i64(first))
                .bind(db::to_i64(last))
                .fetch_all(&db.pool)
                .await?;
            for row in rows {
                let index = db::to_u64(row.try_get(0)?, "tile index")?;
                let bytes: Vec<u8> = row.try_get(1)?;
                if let Some(hashes) = crate::tiles::decode_tile(&bytes) {
                    stored.insert((level, index), hashes);
                }
            }
        }
        for (key, rebuilt) in rebuilt {
            let matches = stored.get(&key).is_some_and(|stored| {
                stored.len() >= rebuilt.len() && stored[..rebuilt.len()] == rebuilt[..]
            });
            if !matches {
                checker.report.push(None, ProblemKind::TileMismatch { level: key.0, index: key.1 });
            }
        }
        Ok(())
    }

    async fn finish(&self, checker: &mut Checker, committed: u64) -> Result<(), StoreError> {
        if checker.report.events != committed || checker.next_position != committed {
            if checker.next_position < committed {
                checker.report.push(
                    Some(checker.next_position),
                    ProblemKind::EventsMissing { from: checker.next_position, to: committed },
                );
            }
            checker.report.push(
                None,
                ProblemKind::LogSizeMismatch { committed, events: checker.report.events },
            );
        }
        for &(size, _) in &checker.checkpoints[checker.next_checkpoint..] {
            checker.report.push(None, ProblemKind::CheckpointBeyondLog { size });
        }

        let db = &self.inner.db;
        let mut rows = db.query("all_stream_heads").fetch(&db.pool);
        let mut heads_seen = 0usize;
        while let Some(row) = rows.try_next().await? {
            heads_seen += 1;
            let name: String = row.try_get(0)?;
            let version = db::to_u64(row.try_get(1)?, "stream version")?;
            let hash = db::hash_column(&row, 2)?;
            let found =
                StreamName::new(name.clone()).ok().and_then(|n| checker.heads.get(&n).copied());
            if found.map(|(v, h, _)| (v, h)) != Some((version, hash)) {
                checker.report.push(
                    found.map(|(_, _, p)| p),
                    ProblemKind::StreamHeadMismatch { stream: name },
                );
            }
        }
        if heads_seen != checker.heads.len() {
            checker.report.push(
                None,
                ProblemKind::StreamHeadMismatch { stream: "(streams without a head row)".into() },
            );
        }
        Ok(())
    }
}

/// Recomputes event hashes on all available cores.
/// A batch of events with the hashes computed for them.
type Hashed = (Vec<RecordedEvent>, Vec<Hash32>);

fn hash_in_parallel(events: &[RecordedEvent]) -> Vec<Hash32> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).max(1);
    let chunk = events.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = events
            .chunks(chunk)
            .map(|part| {
                scope
                    .spawn(move || part.iter().map(RecordedEvent::compute_hash).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}
