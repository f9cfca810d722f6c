//! A [`StatusSource`] that folds an entity's stream with `ledger-rules` on every question.
//!
//! This is the reference answer every projection must equal, computed directly: read the
//! entity's whole stream, fold it with the catalogue in force, keep the restrictions on the
//! date asked about. It costs one stream read per entity and question, which is fine for
//! modest traffic and for checking projections; a projection-backed source replaces it where
//! latency matters.
//!
//! The catalogue is the embedded default with its measures replaced by those of the catalogue
//! stream once that stream has events; it is re-read when the stream's version changes, checked
//! at most every [`CATALOGUE_CHECK_INTERVAL`].
//!
//! The change feed needs a projection of restriction starts and ends that does not exist yet,
//! so [`RulesStatusSource::changes`] answers 503 until one is built.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Duration as Days;
use ledger_core::events::DomainEvent;
use ledger_core::{RecordedEvent, StreamName};
use ledger_rules::{catalogue_stream, fold, measures_from_events, Catalogue, RestrictionInterval};
use ledger_store::{Store, StoreError, READ_PAGE_EVENTS_MAX};

use crate::status::{
    ChangePage, DepartmentScope, EntityStatus, LegalBasisView, Restriction, StatusError,
    StatusFuture, StatusQuery, StatusSource,
};

/// How long a loaded catalogue is used before the catalogue stream's version is checked.
pub const CATALOGUE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Folds entity streams with the rules (see the module docs).
#[derive(Debug)]
pub struct RulesStatusSource {
    store: Store,
    catalogue: Mutex<Option<Loaded>>,
}

#[derive(Debug)]
struct Loaded {
    version: u64,
    checked: Instant,
    catalogue: Arc<Catalogue>,
}

fn failed(e: StoreError) -> StatusError {
    StatusError::Failed(format!("the store failed: {e}"))
}

impl RulesStatusSource {
    /// A source reading from `store`.
    pub fn new(store: Store) -> Self {
        Self { store, catalogue: Mutex::new(None) }
    }

    async fn catalogue(&self) -> Result<Arc<Catalogue>, StatusError> {
        let fresh = |l: &Loaded| l.checked.elapsed() < CATALOGUE_CHECK_INTERVAL;
        let cached = self
            .catalogue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|l| (fresh(l), l.version, l.catalogue.clone()));
        if let Some((true, _, catalogue)) = cached {
            return Ok(catalogue);
        }
        let stream = catalogue_stream();
        let version = self.store.stream_head(&stream).await.map_err(failed)?.version;
        let catalogue = match cached {
            Some((_, cached_version, catalogue)) if cached_version == version => catalogue,
            _ if version == 0 => Arc::new(Catalogue::builtin()),
            _ => {
                let events = read_all(&self.store, &stream).await.map_err(failed)?;
                let measures = measures_from_events(&events);
                Arc::new(Catalogue::builtin().with_measures(measures).map_err(|e| {
                    StatusError::Failed(format!("the recorded catalogue is not usable: {e}"))
                })?)
            }
        };
        *self.catalogue.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Loaded { version, checked: Instant::now(), catalogue: catalogue.clone() });
        Ok(catalogue)
    }

    async fn answer(&self, query: &StatusQuery) -> Result<EntityStatus, StatusError> {
        let stream = StreamName::entity(&query.code);
        let events = read_all(&self.store, &stream).await.map_err(failed)?;
        // Known-at is a time; the fold takes the last position the ledger knew then.
        let known_position = match query.known_at {
            None => events.last().map(|e| e.position),
            Some(t) => events.iter().filter(|e| e.recorded_at <= t).map(|e| e.position).max(),
        };
        let Some(known_position) = known_position else {
            return Err(StatusError::UnknownEntity(query.code.to_string()));
        };
        let catalogue = self.catalogue().await?;
        let status = fold(&events, &catalogue, query.as_of, query.known_at.map(|_| known_position));
        let log_size = self.store.size().await.map_err(failed)?;
        Ok(EntityStatus {
            code: query.code,
            name: name_of(&events, known_position),
            as_of: query.as_of,
            known_at: query.known_at,
            log_size,
            restrictions: status.restrictions.iter().map(restriction).collect(),
        })
    }
}

/// Every event of a stream, in pages.
async fn read_all(store: &Store, stream: &StreamName) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut events = Vec::new();
    loop {
        let page = store.read_stream(stream, events.len() as u64 + 1, READ_PAGE_EVENTS_MAX).await?;
        let done = page.len() < READ_PAGE_EVENTS_MAX;
        events.extend(page);
        if done {
            return Ok(events);
        }
    }
}

/// The entity's registered name as last recorded up to `known_position`.
fn name_of(events: &[RecordedEvent], known_position: u64) -> Option<String> {
    let mut name = None;
    for event in events.iter().filter(|e| e.position <= known_position) {
        match DomainEvent::parse(&event.event_type, event.schema_version, &event.payload_value()) {
            Ok(DomainEvent::EntityRegisteredV1(r)) => name = Some(r.name),
            Ok(DomainEvent::EntityDetailsChangedV1(c)) => {
                if let Some(new) = c.changes.name {
                    name = Some(new);
                }
            }
            _ => {}
        }
    }
    name
}

pub(crate) fn restriction(r: &RestrictionInterval) -> Restriction {
    let trigger = r.trigger.as_str();
    Restriction {
        measure_id: r.measure_id.clone(),
        department: r.department.clone(),
        title: r.title.clone(),
        reason: format!("{trigger} {}", r.trigger_decision_number),
        legal_basis: r
            .legal_basis
            .iter()
            .map(|b| LegalBasisView {
                document: b.document.clone(),
                article: b.article.clone(),
                version: b.version.clone(),
            })
            .collect(),
        starts_on: r.start,
        // The fold names the first day without the measure; partners are shown the last day
        // with it.
        ends_on: r.end.map(|end| end - Days::days(1)),
        caused_by: r.caused_by.clone(),
    }
}

impl StatusSource for RulesStatusSource {
    fn status<'a>(&'a self, query: &'a StatusQuery) -> StatusFuture<'a, EntityStatus> {
        Box::pin(self.answer(query))
    }

    fn changes<'a>(
        &'a self,
        _scope: &'a DepartmentScope,
        _cursor: u64,
        _limit: usize,
    ) -> StatusFuture<'a, ChangePage> {
        Box::pin(async {
            Err(StatusError::Unavailable(
                "the change feed needs the restriction-change projection, which this server \
                 does not run yet"
                    .to_owned(),
            ))
        })
    }
}
