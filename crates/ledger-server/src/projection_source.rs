//! A [`StatusSource`] backed by the projections of `ledger-projections`.
//!
//! Questions about the ledger as it is known now are answered from the entity's cached
//! timeline (one indexed read of its position, a parse only when it moved), and the change
//! feed from the stored restriction changes of the active generation. Questions "as known at"
//! an earlier time need the entity's events recorded up to then, so they go to the
//! [`RulesStatusSource`], which folds the stream; both give the fold's answer.
//!
//! Feed cursors are sequence numbers within the active generation: a projection rebuild starts
//! a new feed, and a partner whose cursor is ahead of it should fetch the department's current
//! restrictions again and follow the new feed from 0.

use ledger_projections::{Projector, PROJECTION};
use ledger_store::projections::StoredChange;

use crate::rules_source::restriction;
use crate::status::{
    Change, ChangeKind, ChangePage, DepartmentScope, EntityStatus, StatusError, StatusFuture,
    StatusQuery, StatusSource,
};
use crate::RulesStatusSource;

/// Partner answers from the projections.
#[derive(Debug)]
pub struct ProjectionStatusSource {
    projector: Projector,
    fold: RulesStatusSource,
}

impl ProjectionStatusSource {
    /// A source over a projector (whose tailing the caller runs).
    pub fn new(projector: Projector) -> Self {
        let fold = RulesStatusSource::new(projector.store().clone());
        Self { projector, fold }
    }

    async fn answer(&self, query: &StatusQuery) -> Result<EntityStatus, StatusError> {
        if query.known_at.is_some() {
            return self.fold.status(query).await;
        }
        let failed = |e: ledger_projections::ProjectionError| StatusError::Failed(e.to_string());
        let entity = self.projector.entity(&query.code).await.map_err(failed)?;
        let Some(entity) = entity else {
            return Err(StatusError::UnknownEntity(query.code.to_string()));
        };
        // The size this process knows needs no query; it is at least what the projection saw.
        let log_size = self.projector.store().known_size().max(entity.position + 1);
        Ok(EntityStatus {
            code: query.code,
            as_of: query.as_of,
            known_at: None,
            log_size,
            restrictions: entity.timeline.restrictions_at(query.as_of).map(restriction).collect(),
            name: entity.name,
        })
    }

    async fn feed(
        &self,
        scope: &DepartmentScope,
        cursor: u64,
        limit: usize,
    ) -> Result<ChangePage, StatusError> {
        let store = self.projector.store();
        let failed =
            |e: ledger_store::StoreError| StatusError::Failed(format!("the store failed: {e}"));
        let generation = store.active_generation(PROJECTION).await.map_err(failed)?;
        let rows = match scope.department() {
            Some(department) => {
                store.department_changes(generation, department, cursor, limit).await
            }
            None => store.all_changes(generation, cursor, limit).await,
        }
        .map_err(failed)?;
        let next_cursor = rows.last().map_or(cursor, |r| r.seq);
        let changes = rows.into_iter().filter_map(change).collect();
        Ok(ChangePage { changes, next_cursor })
    }
}

fn change(stored: StoredChange) -> Option<Change> {
    let code =
        ledger_core::CreditCode::parse_recorded(stored.stream.strip_prefix("entity/")?).ok()?;
    let (kind, on) = match stored.change.change.as_str() {
        "started" => (ChangeKind::Started, stored.change.start),
        // A withdrawn restriction ends on the day it would have started.
        "withdrawn" => (ChangeKind::Ended, stored.change.start),
        _ => (ChangeKind::Ended, stored.change.end?),
    };
    Some(Change {
        cursor: stored.seq,
        code,
        measure_id: stored.change.measure_id,
        department: stored.change.department,
        change: kind,
        on,
        position: stored.change.position,
    })
}

impl StatusSource for ProjectionStatusSource {
    fn status<'a>(&'a self, query: &'a StatusQuery) -> StatusFuture<'a, EntityStatus> {
        Box::pin(self.answer(query))
    }

    fn changes<'a>(
        &'a self,
        scope: &'a DepartmentScope,
        cursor: u64,
        limit: usize,
    ) -> StatusFuture<'a, ChangePage> {
        Box::pin(self.feed(scope, cursor, limit))
    }
}
