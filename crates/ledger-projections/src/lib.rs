//! The joint-punishment views, kept from the log.
//!
//! Every view here is a cache of one pure function, `ledger_rules::timeline`, applied to one
//! entity's events and the rules catalogue. The [`Projector`] stores each entity's timeline
//! and its rows (restrictions by department, list stays, publications, a change feed) through
//! `ledger_store`, and reads a status at any date from the cached timeline. Two ways keep the
//! views current:
//!
//! 1. Tailing ([`Projector::catch_up`]): read the log from the projection's checkpoint in
//!    pages; refold every entity a page touches from its whole stream; write the rows and move
//!    the checkpoint in one transaction, so each page is applied exactly once.
//! 2. Rebuild ([`Projector::rebuild`]): into a fresh generation, reading the log stream by
//!    stream up to a snapshot size (each entity's history arrives whole, so memory stays at one
//!    page), checking every hash and chain link as it goes, recording the last stream finished
//!    with each batch so a crash resumes there; then tail the new generation up to the log's
//!    end and swap it in. The old generation serves reads until the swap.
//!
//! A change to the measure catalogue (an event in `catalogue/measures`) changes every entity's
//! timeline, so tailing one triggers a rebuild.

mod rows;
mod stored;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use ledger_core::{CreditCode, Hash32, RecordedEvent, StreamName};
use ledger_rules::{Catalogue, CreditStatus, Timeline};
use ledger_store::projections::{CheckpointMove, RebuildStep};
use ledger_store::{Store, StoreError};
use tracing::{info, info_span, Instrument as _};

pub use rows::{entity_rows, name_of};

/// The name of the credit-status projection.
pub const PROJECTION: &str = "credit";

/// Events read per page while tailing.
pub const TAIL_PAGE_EVENTS: usize = 5_000;

/// Events read per page while rebuilding.
pub const REBUILD_PAGE_EVENTS: usize = 10_000;

/// Entities written per transaction while rebuilding. Small enough that a transaction's dirty
/// pages stay in SQLite's page cache (2,000 heavy entities spilled it and halved the rate).
pub const REBUILD_BATCH_ENTITIES: usize = 100;

/// Events of one stream read per page.
const STREAM_PAGE_EVENTS: usize = 10_000;

/// Parsed timelines kept in memory for status lookups.
pub const TIMELINE_CACHE_ENTITIES_MAX: usize = 20_000;

/// How long a lookup trusts a cached timeline without asking the store for the entity's
/// position. The tailer of this process refreshes the entries it writes, so this bounds only
/// how late a change made by another process's projector is seen.
pub const TIMELINE_TRUST: Duration = Duration::from_secs(5);

/// How long a lookup trusts the active generation it last read. A rebuild swapped in by
/// another process is seen within this time; until then lookups find no rows under the old
/// generation and fold the stream instead, which gives the same answer.
pub const GENERATION_CACHE_TTL: Duration = Duration::from_secs(1);

/// How long a rebuild waits after its swap before deleting the retired generation: other
/// processes may read the retired generation until they next look up the active one (every
/// [`GENERATION_CACHE_TTL`]), and deleting it under them would give them partial pages.
pub const RETIRED_GENERATION_GRACE: Duration = Duration::from_secs(2);

/// How often the tailer looks for new events when nothing woke it.
pub const TAIL_POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The first and one-past-last names of entity streams: `entity/` sorts before every entity
/// stream and `entity0` (the character after `/`) after all of them.
const ENTITY_STREAMS: (&str, &str) = ("entity/", "entity0");

/// What can go wrong while projecting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The rules catalogue recorded in the ledger is not valid.
    #[error("the recorded catalogue is not valid: {0}")]
    Catalogue(String),
    /// An event read back does not match its hash or its stream's chain: the rebuild stops.
    #[error("event at position {position} fails verification: {problem}")]
    Tampered {
        /// The event's position.
        position: u64,
        /// What is wrong.
        problem: String,
    },
}

/// Progress of a rebuild, reported after every batch.
#[derive(Debug, Clone, Copy)]
pub struct RebuildProgress {
    /// Events read so far.
    pub events: u64,
    /// Entities written so far.
    pub entities: u64,
    /// Events the snapshot holds (entity streams and others).
    pub snapshot: u64,
    /// Time since the rebuild (or its resumption) started.
    pub elapsed: Duration,
}

impl RebuildProgress {
    /// Events per second so far.
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Estimated time left, assuming the rate holds (entity streams are most of the log).
    pub fn time_left(&self) -> Duration {
        let rate = self.events_per_second();
        if rate <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(self.snapshot.saturating_sub(self.events) as f64 / rate)
    }
}

/// The outcome of a rebuild.
#[derive(Debug, Clone)]
pub struct RebuildReport {
    /// The generation now active.
    pub generation: i64,
    /// Events read by the scan.
    pub events: u64,
    /// Entities written.
    pub entities: u64,
    /// The log size the new generation has applied.
    pub position: u64,
    /// Wall time until the new generation was swapped in and serving.
    pub elapsed: Duration,
    /// Wall time spent after the swap deleting the rows of the generations it retired.
    pub retired_deleted_in: Duration,
}

/// Keeps the credit-status projection and answers status questions from it.
#[derive(Debug, Clone)]
pub struct Projector {
    store: Store,
    /// The catalogue in use and the position of the last catalogue event it includes.
    catalogue: Arc<RwLock<(Arc<Catalogue>, Option<u64>)>>,
    /// Parsed timelines by stream (and generation), with the position they are current at. A
    /// lookup reads only the stored position and parses the stored timeline only when it
    /// moved, which is what keeps a status lookup well under a millisecond.
    timelines: Arc<std::sync::Mutex<TimelineCache>>,
    /// The active generation and when it was read.
    generation: Arc<std::sync::Mutex<Option<(i64, Instant)>>>,
    /// Tailed pages whose write was refused because another projector applied them first.
    pages_refused: Arc<std::sync::atomic::AtomicU64>,
}

/// Parsed timelines by stream, with the generation they belong to and when they were last
/// known current. Keyed by the stream alone so that a lookup borrows its key.
type TimelineCache = std::collections::HashMap<String, (i64, Instant, EntityView)>;

/// What the projection knows of one entity.
#[derive(Debug, Clone)]
pub struct EntityView {
    /// The last event of the entity applied.
    pub position: u64,
    /// Its name, as last registered or changed.
    pub name: Option<String>,
    /// Every interval of its status.
    pub timeline: Arc<Timeline>,
}

impl Projector {
    /// A projector over `store`, with the built-in list rules and the measures recorded in the
    /// catalogue stream.
    pub async fn new(store: Store) -> Result<Self, ProjectionError> {
        let (catalogue, head) = load_catalogue(&store).await?;
        Ok(Self {
            store,
            catalogue: Arc::new(RwLock::new((Arc::new(catalogue), head))),
            timelines: Arc::default(),
            generation: Arc::default(),
            pages_refused: Arc::default(),
        })
    }

    /// Tailed pages this projector computed but did not write, because another projector on
    /// the same database had applied them first.
    pub fn pages_refused(&self) -> u64 {
        self.pages_refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The catalogue in use.
    pub fn catalogue(&self) -> Arc<Catalogue> {
        self.catalogue.read().map(|c| c.0.clone()).unwrap_or_else(|e| e.into_inner().0.clone())
    }

    fn catalogue_head(&self) -> Option<u64> {
        self.catalogue.read().map(|c| c.1).unwrap_or_else(|e| e.into_inner().1)
    }

    async fn reload_catalogue(&self) -> Result<(), ProjectionError> {
        let (catalogue, head) = load_catalogue(&self.store).await?;
        if let Ok(mut slot) = self.catalogue.write() {
            *slot = (Arc::new(catalogue), head);
        }
        Ok(())
    }

    /// The active generation, read at most every [`GENERATION_CACHE_TTL`].
    async fn active_generation(&self) -> Result<i64, ProjectionError> {
        let cached = self.generation.lock().ok().and_then(|g| *g);
        if let Some((generation, at)) = cached {
            if at.elapsed() < GENERATION_CACHE_TTL {
                return Ok(generation);
            }
        }
        let generation = self.store.active_generation(PROJECTION).await?;
        if let Ok(mut slot) = self.generation.lock() {
            *slot = Some((generation, Instant::now()));
        }
        Ok(generation)
    }

    /// The entity's timeline as the ledger knows it now: from the cache when it is current,
    /// else folded from its stream.
    pub async fn timeline(&self, code: &CreditCode) -> Result<Arc<Timeline>, ProjectionError> {
        Ok(self.entity(code).await?.map(|e| e.timeline).unwrap_or_default())
    }

    /// The entity's name and timeline as the ledger knows them now; `None` when no event of
    /// the entity is recorded.
    pub async fn entity(&self, code: &CreditCode) -> Result<Option<EntityView>, ProjectionError> {
        let stream = StreamName::entity(code);
        let generation = self.active_generation().await?;
        let cached = self.timelines.lock().ok().and_then(|c| {
            c.get(stream.as_str())
                .filter(|(g, ..)| *g == generation)
                .map(|(_, checked, view)| (*checked, view.clone()))
        });
        // An entry this process wrote or checked moments ago needs no query: within
        // TIMELINE_TRUST only another process's projector could have changed it, and that
        // delay is the documented bound (docs/operations.md).
        let cached = match cached {
            Some((checked, view)) if checked.elapsed() < TIMELINE_TRUST => return Ok(Some(view)),
            cached => cached,
        };
        // A cached entry is checked by its position alone, a query that reads no timeline; an
        // entity not cached is read at once, since the position would only be read again.
        let was_cached = cached.is_some();
        let head = match was_cached {
            true => self.store.entity_timeline_head(generation, stream.as_str()).await?,
            false => None,
        };
        if let Some(position) = head {
            if let Some((_, view)) = cached.filter(|(_, v)| v.position == position) {
                if let Ok(mut cache) = self.timelines.lock() {
                    cache.insert(stream.to_string(), (generation, Instant::now(), view.clone()));
                }
                return Ok(Some(view));
            }
        }
        if head.is_some() || !was_cached {
            if let Some(row) = self.store.entity_timeline(generation, stream.as_str()).await? {
                match stored::decode(&row.timeline, &self.catalogue()) {
                    Ok(timeline) => {
                        let view = EntityView {
                            position: row.position,
                            name: row.name,
                            timeline: Arc::new(timeline),
                        };
                        if let Ok(mut cache) = self.timelines.lock() {
                            if cache.len() >= TIMELINE_CACHE_ENTITIES_MAX {
                                cache.clear();
                            }
                            let entry = (generation, Instant::now(), view.clone());
                            cache.insert(stream.to_string(), entry);
                        }
                        return Ok(Some(view));
                    }
                    // Written under another catalogue (a rebuild for a new one is under way):
                    // the fold below answers under the catalogue in use.
                    Err(message) => {
                        tracing::warn!(stream = %stream, %message, "stored timeline not used");
                    }
                }
            }
        }
        // Not projected yet (new entity, projection behind), or not readable: the fold gives
        // the same answer.
        let events = read_whole_stream(&self.store, &stream).await?;
        let Some(last) = events.last() else { return Ok(None) };
        Ok(Some(EntityView {
            position: last.position,
            name: name_of(&events),
            timeline: Arc::new(ledger_rules::timeline(&events, &self.catalogue(), None)),
        }))
    }

    /// What the active generation stores for the entity, read from the store and decoded,
    /// never from the cache or a fold: `None` when it stores nothing. For checks of the stored
    /// views (lookups answer from the cache, or fold the stream when the row is missing).
    pub async fn stored_entity(
        &self,
        code: &CreditCode,
    ) -> Result<Option<EntityView>, ProjectionError> {
        let generation = self.store.active_generation(PROJECTION).await?;
        let stream = StreamName::entity(code);
        let Some(row) = self.store.entity_timeline(generation, stream.as_str()).await? else {
            return Ok(None);
        };
        let timeline = stored::decode(&row.timeline, &self.catalogue()).map_err(|problem| {
            ProjectionError::Store(StoreError::Corrupt(format!(
                "stored timeline of {stream}: {problem}"
            )))
        })?;
        Ok(Some(EntityView {
            position: row.position,
            name: row.name,
            timeline: Arc::new(timeline),
        }))
    }

    /// The entity's status on `as_of`, as the ledger knew it at `known_at` (a log position,
    /// exclusive of later events) or as known now.
    pub async fn status(
        &self,
        code: &CreditCode,
        as_of: NaiveDate,
        known_at: Option<u64>,
    ) -> Result<CreditStatus, ProjectionError> {
        let stream = StreamName::entity(code);
        if let Some(position) = known_at {
            let generation = self.active_generation().await?;
            let head = self.store.entity_timeline_head(generation, stream.as_str()).await?;
            // The cache answers "as known at p" only when nothing of the stream came after p.
            if head.is_none_or(|last| last > position) {
                let events = read_whole_stream(&self.store, &stream).await?;
                let catalogue = self.catalogue();
                return Ok(ledger_rules::fold(&events, &catalogue, as_of, Some(position)));
            }
        }
        Ok(self.timeline(code).await?.at(as_of))
    }

    /// Applies every event recorded since the active generation's checkpoint. Returns the
    /// number of events read.
    pub async fn catch_up(&self) -> Result<u64, ProjectionError> {
        let state = self.store.projection_state(PROJECTION).await?;
        let (applied, catalogue_changed) = self.tail(state.active_generation, true).await?;
        if catalogue_changed {
            info!("the measure catalogue changed; rebuilding the projection");
            self.reload_catalogue().await?;
            self.rebuild(|_| {}).await?;
        }
        Ok(applied)
    }

    /// Tails `generation` up to the log's current end. Returns the events read and whether a
    /// catalogue event was among them. With `while_active`, stops as soon as `generation` is
    /// no longer the active one (a rebuild swapped another in), so that at most the page in
    /// flight lands in a retired generation.
    async fn tail(
        &self,
        generation: i64,
        while_active: bool,
    ) -> Result<(u64, bool), ProjectionError> {
        let mut position = self.store.generation_position(PROJECTION, generation).await?;
        let mut applied = 0u64;
        let mut catalogue_changed = false;
        loop {
            // Positions and streams only: the entities touched are read whole below, and the
            // rest of the log (access-log events above all) is not needed here at all.
            if while_active && self.store.active_generation(PROJECTION).await? != generation {
                info!(generation, position, "generation retired; tailing stops");
                break;
            }
            let page = self.store.read_log_streams(position, TAIL_PAGE_EVENTS).await?;
            let Some(last) = page.last().map(|(position, _)| *position) else { break };
            let mut touched: Vec<StreamName> = page
                .iter()
                .filter(|(_, stream)| stream.kind() == "entity")
                .map(|(_, stream)| stream.clone())
                .collect();
            touched.sort();
            touched.dedup();
            // Only catalogue events the loaded catalogue does not include yet change anything.
            let known = self.catalogue_head();
            catalogue_changed |= page.iter().any(|(position, stream)| {
                stream.as_str() == ledger_rules::CATALOGUE_STREAM
                    && known.is_none_or(|head| *position > head)
            });

            let catalogue = self.catalogue();
            let mut entities = Vec::with_capacity(touched.len());
            let mut views = Vec::with_capacity(touched.len());
            for stream in &touched {
                let events = read_whole_stream(&self.store, stream).await?;
                let old = match self.store.entity_timeline(generation, stream.as_str()).await? {
                    Some(cached) => stored::decode(&cached.timeline, &catalogue).ok(),
                    None => None,
                };
                let timeline = ledger_rules::timeline(&events, &catalogue, None);
                let rows = entity_rows(stream.as_str(), &events, &timeline, old.as_ref());
                let view = EntityView {
                    position: rows.position,
                    name: rows.name.clone(),
                    timeline: Arc::new(timeline),
                };
                views.push((stream.to_string(), view));
                entities.push(rows);
            }
            let moved = CheckpointMove { from: position, to: last + 1 };
            match self
                .store
                .write_projection(PROJECTION, generation, entities, false, Some(moved), None)
                .await
            {
                Ok(()) => {}
                // Another projector applied these events first (two servers on one
                // database): carry on after what it applied, and keep nothing of this page.
                Err(StoreError::ProjectionMoved { actual, .. }) => {
                    self.pages_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    info!(
                        generation,
                        from = position,
                        to = actual,
                        "another projector moved the checkpoint"
                    );
                    position = actual;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            // This process's tailer is the projection's writer: what it just committed is what
            // lookups should see, with no query to find out.
            if let Ok(mut cache) = self.timelines.lock() {
                for (stream, view) in views {
                    if cache.len() >= TIMELINE_CACHE_ENTITIES_MAX {
                        cache.clear();
                    }
                    cache.insert(stream, (generation, Instant::now(), view));
                }
            }
            applied += page.len() as u64;
            position = last + 1;
        }
        Ok((applied, catalogue_changed))
    }

    /// Tails the log until `shutdown` resolves.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.catch_up().instrument(info_span!("projection_tail")).await {
                tracing::warn!(error = %e, "projection tailing failed; retrying");
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(TAIL_POLL_INTERVAL) => {}
            }
        }
    }

    /// Rebuilds the projection into a fresh generation (or resumes an interrupted rebuild),
    /// then swaps it in. Reads keep being served from the old generation meanwhile.
    pub async fn rebuild(
        &self,
        mut progress: impl FnMut(RebuildProgress),
    ) -> Result<RebuildReport, ProjectionError> {
        let started = Instant::now();
        let state = self.store.projection_state(PROJECTION).await?;
        let building = match state.building {
            Some(building) => building,
            None => self.store.begin_rebuild(PROJECTION, self.store.size().await?).await?,
        };
        let generation = building.generation;
        let resume_after = building.after_stream.as_deref().unwrap_or("");
        info!(generation, snapshot = building.snapshot, resume_after, "rebuild started");
        let catalogue = self.catalogue();

        // Three stages overlap: a reader task fetches whole streams in name order, this task
        // checks and folds them on the blocking pool, and a writer task stores each batch with
        // the name of its last stream (the resume point) in one transaction.
        let (pages_tx, mut pages_rx) = tokio::sync::mpsc::channel::<ScanPage>(2);
        let reader = tokio::spawn(scan_streams(
            self.store.clone(),
            building.after_stream.clone().unwrap_or_else(|| ENTITY_STREAMS.0.to_owned()),
            building.snapshot,
            pages_tx,
        ));
        let (batches_tx, mut batches_rx) =
            tokio::sync::mpsc::channel::<(Vec<ledger_store::projections::EntityRows>, String)>(1);
        let writer_store = self.store.clone();
        let mut written_up_to = building.after_stream.clone();
        let writer = tokio::spawn(async move {
            while let Some((batch, after)) = batches_rx.recv().await {
                let step = RebuildStep { from: written_up_to.take(), to: after.clone() };
                writer_store
                    .write_projection(PROJECTION, generation, batch, true, None, Some(step))
                    .await?;
                written_up_to = Some(after);
            }
            Ok::<Option<String>, StoreError>(written_up_to)
        });

        let (mut events_read, mut entities_written) = (0u64, 0u64);
        let mut batch: Vec<ledger_store::projections::EntityRows> = Vec::new();
        let mut after = building.after_stream.clone();
        while let Some(page) = pages_rx.recv().await {
            let page = page?;
            let Some(last) = page.last().map(|s| s[0].stream.to_string()) else { continue };
            let catalogue = catalogue.clone();
            let folded = tokio::task::spawn_blocking(move || fold_streams(&page, &catalogue))
                .await
                .map_err(|e| ProjectionError::Catalogue(format!("fold task failed: {e}")))??;
            events_read += folded.iter().map(|(_, n)| n).sum::<u64>();
            batch.extend(folded.into_iter().map(|(rows, _)| rows));
            after = Some(last.clone());
            if batch.len() >= REBUILD_BATCH_ENTITIES {
                entities_written += batch.len() as u64;
                if batches_tx.send((std::mem::take(&mut batch), last)).await.is_err() {
                    break;
                }
                progress(RebuildProgress {
                    events: events_read,
                    entities: entities_written,
                    snapshot: building.snapshot,
                    elapsed: started.elapsed(),
                });
            }
        }
        drop(batches_tx);
        reader.await.map_err(|e| ProjectionError::Catalogue(format!("reader failed: {e}")))?;
        let written_up_to = writer
            .await
            .map_err(|e| ProjectionError::Catalogue(format!("writer failed: {e}")))??;
        entities_written += batch.len() as u64;
        // The building generation's checkpoint is unset (0) until this write, which sets it to
        // the snapshot: a rebuild of the same generation in another process that got there
        // first makes it fail. A rebuild resumed after this write (cut off while catching up)
        // leaves the checkpoint where it is, at or past the snapshot.
        let from = self.store.generation_position(PROJECTION, generation).await?;
        let moved =
            (from < building.snapshot).then_some(CheckpointMove { from: 0, to: building.snapshot });
        let step = after.map(|to| RebuildStep { from: written_up_to, to });
        self.store.write_projection(PROJECTION, generation, batch, true, moved, step).await?;
        progress(RebuildProgress {
            events: events_read,
            entities: entities_written,
            snapshot: building.snapshot,
            elapsed: started.elapsed(),
        });

        // Catch the new generation up with what was appended during the scan, then swap.
        self.tail(generation, false).await?;
        self.store.swap_generation(PROJECTION, generation).await?;
        if let Ok(mut slot) = self.generation.lock() {
            *slot = None;
        }
        let elapsed = started.elapsed();
        let position = self.store.generation_position(PROJECTION, generation).await?;
        info!(
            generation,
            events = events_read,
            entities = entities_written,
            position,
            elapsed_ms = elapsed.as_millis() as u64,
            "rebuild swapped in"
        );

        // The retired generation's rows go once other processes have stopped reading it (they
        // re-read the active generation every GENERATION_CACHE_TTL), a chunk at a time, so
        // that appends and tailing get the write lock between chunks. The new generation
        // serves already: a failure here is logged, and the next rebuild deletes what is left.
        tokio::time::sleep(RETIRED_GENERATION_GRACE).await;
        let deleting = Instant::now();
        match self.store.drop_retired_generations(PROJECTION).await {
            Ok(()) => info!(
                generation,
                elapsed_ms = deleting.elapsed().as_millis() as u64,
                "retired generations deleted"
            ),
            Err(e) => tracing::warn!(
                generation,
                error = %e,
                "retired generations not deleted; the next rebuild deletes them"
            ),
        }
        let retired_deleted_in = deleting.elapsed();
        Ok(RebuildReport {
            generation,
            events: events_read,
            entities: entities_written,
            position,
            elapsed,
            retired_deleted_in,
        })
    }
}

/// Appends the built-in measure catalogue to the catalogue stream if the stream is empty, so
/// the rules in use are themselves recorded. Returns how many events it appended.
pub async fn ensure_catalogue(store: &Store, recorded_by: &str) -> Result<usize, ProjectionError> {
    let stream = ledger_rules::catalogue_stream();
    if store.stream_head(&stream).await?.version > 0 {
        return Ok(0);
    }
    let events = ledger_rules::measure_events(&Catalogue::builtin())
        .map_err(|e| ProjectionError::Catalogue(e.to_string()))?;
    let count = events.len();
    let request = ledger_store::AppendRequest::new(
        stream,
        ledger_store::ExpectedVersion::NoStream,
        events,
        recorded_by,
    );
    store.append(request).await?;
    Ok(count)
}

/// The built-in rules with the measures recorded in the ledger, and the position of the last
/// catalogue event read.
async fn load_catalogue(store: &Store) -> Result<(Catalogue, Option<u64>), ProjectionError> {
    let events = read_whole_stream(store, &ledger_rules::catalogue_stream()).await?;
    let head = events.last().map(|e| e.position);
    if events.is_empty() {
        // A ledger that has not recorded its catalogue yet uses the built-in one, as the
        // reference fold does; recording it (see `ensure_catalogue`) triggers a rebuild.
        return Ok((Catalogue::builtin(), None));
    }
    let measures = ledger_rules::measures_from_events(&events);
    let catalogue = Catalogue::builtin()
        .with_measures(measures)
        .map_err(|e| ProjectionError::Catalogue(e.to_string()))?;
    Ok((catalogue, head))
}

async fn read_whole_stream(
    store: &Store,
    stream: &StreamName,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut events = Vec::new();
    loop {
        let page = store.read_stream(stream, events.len() as u64 + 1, STREAM_PAGE_EVENTS).await?;
        let done = page.len() < STREAM_PAGE_EVENTS;
        events.extend(page);
        if done {
            return Ok(events);
        }
    }
}

/// Whole streams of one page of a rebuild scan, or the error that ended the scan.
type ScanPage = Result<Vec<Vec<RecordedEvent>>, ProjectionError>;

/// Reads entity streams in name order after `after`, below position `snapshot`, and sends
/// them page by page, each stream whole.
async fn scan_streams(
    store: Store,
    mut after: String,
    snapshot: u64,
    pages: tokio::sync::mpsc::Sender<ScanPage>,
) {
    loop {
        let page = match store
            .read_streams_ordered(&after, ENTITY_STREAMS.1, snapshot, REBUILD_PAGE_EVENTS)
            .await
        {
            Ok(page) if page.is_empty() => return,
            Ok(page) => page,
            Err(e) => {
                let _ = pages.send(Err(e.into())).await;
                return;
            }
        };
        let full = page.len() >= REBUILD_PAGE_EVENTS;
        let streams: Vec<Vec<RecordedEvent>> = {
            let whole = split_streams(&page, full);
            if whole.is_empty() {
                // A stream longer than a page: read it whole on its own.
                match read_whole_stream(&store, &page[0].stream).await {
                    Ok(mut events) => {
                        events.retain(|e| e.position < snapshot);
                        vec![events]
                    }
                    Err(e) => {
                        let _ = pages.send(Err(e.into())).await;
                        return;
                    }
                }
            } else {
                whole.into_iter().map(<[RecordedEvent]>::to_vec).collect()
            }
        };
        if let Some(last) = streams.last() {
            after = last[0].stream.to_string();
        }
        if pages.send(Ok(streams)).await.is_err() {
            return;
        }
    }
}

/// Checks and folds whole streams; returns each entity's rows and its event count.
fn fold_streams(
    streams: &[Vec<RecordedEvent>],
    catalogue: &Catalogue,
) -> Result<Vec<(ledger_store::projections::EntityRows, u64)>, ProjectionError> {
    streams
        .iter()
        .map(|events| {
            check_chain(events)?;
            let timeline = ledger_rules::timeline(events, catalogue, None);
            // A new generation starts its own change feed with every restriction the entity
            // has, so a partner following it from cursor 0 gets the whole picture.
            let rows = entity_rows(events[0].stream.as_str(), events, &timeline, None);
            Ok((rows, events.len() as u64))
        })
        .collect()
}

/// Splits a page ordered by stream into whole streams. When the page was full its last stream
/// may continue on the next page, so it is left out (and read again from its start).
fn split_streams(page: &[RecordedEvent], full: bool) -> Vec<&[RecordedEvent]> {
    let mut streams = Vec::new();
    let mut start = 0;
    for i in 1..=page.len() {
        if i == page.len() || page[i].stream != page[start].stream {
            streams.push(&page[start..i]);
            start = i;
        }
    }
    if full {
        streams.pop();
    }
    streams
}

/// Checks hashes and the chain of one whole stream, as a rebuild reads it.
fn check_chain(events: &[RecordedEvent]) -> Result<(), ProjectionError> {
    let mut prev = Hash32::ZERO;
    for (i, event) in events.iter().enumerate() {
        let problem = if event.compute_hash() != event.hash {
            Some("its fields do not match its hash")
        } else if event.prev_hash != prev {
            Some("its previous hash is not the hash of its stream's previous event")
        } else if event.stream_version != i as u64 + 1 {
            Some("its stream version is not the next one")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(ProjectionError::Tampered {
                position: event.position,
                problem: problem.into(),
            });
        }
        prev = event.hash;
    }
    Ok(())
}
