//! Where partner answers come from: the [`StatusSource`] trait.
//!
//! The partner endpoints answer from projections: an entity's credit status is a pure fold of
//! its events with the measure catalogue at a date (crate `ledger-rules`, being built
//! separately), and the change feed is a projection of when restrictions start and end. The
//! HTTP layer must not know how either is computed, so it asks through this trait object:
//! tests plug in a fixed source, the command-line binary plugs in the real one.
//!
//! Two sources ship: [`crate::RulesStatusSource`] folds the entity's stream with `ledger-rules`
//! on every question (the reference answer; it has no change feed yet), and
//! [`UnavailableStatusSource`] answers every partner query with 503. ADAPTER POINT: a
//! projection-backed source (intervals stored per entity, a table of restriction starts and
//! ends for the change feed) implements this trait and is handed to [`crate::AppState::new`].
//!
//! The source returns every department's restrictions; the server narrows them to the
//! caller's scope itself, so a source cannot leak another department's measures by mistake.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, NaiveDate, Utc};
use ledger_core::CreditCode;
use serde::{Deserialize, Serialize};

/// A boxed future, so that the trait can be used as `dyn StatusSource`.
pub type StatusFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StatusError>> + Send + 'a>>;

/// Why a source could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// The ledger holds no entity with this code.
    #[error("no entity with credit code {0} is recorded")]
    UnknownEntity(String),
    /// The source cannot answer now (projections not built, rebuilding, not configured).
    #[error("{0}")]
    Unavailable(String),
    /// The source failed.
    #[error("{0}")]
    Failed(String),
}

/// One question about one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusQuery {
    /// The entity.
    pub code: CreditCode,
    /// The date the restrictions are asked for (China Standard Time).
    pub as_of: NaiveDate,
    /// Answer with what the ledger knew at this instant (events recorded up to it), or with
    /// everything recorded when `None`.
    pub known_at: Option<DateTime<Utc>>,
}

/// A provision of law, as shown to partners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LegalBasisView {
    /// The title of the law or regulation.
    pub document: String,
    /// The article cited.
    pub article: String,
    /// The revision applied.
    pub version: String,
}

/// A measure in force against an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Restriction {
    /// The measure's id in the catalogue.
    pub measure_id: String,
    /// The department that applies it.
    pub department: String,
    /// The measure's title.
    pub title: String,
    /// Why it applies, in words (the triggering record).
    pub reason: String,
    /// The provisions it rests on.
    pub legal_basis: Vec<LegalBasisView>,
    /// The first day it applies.
    pub starts_on: NaiveDate,
    /// The last day it applies, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_on: Option<NaiveDate>,
    /// The log positions of the events that caused it.
    pub caused_by: Vec<u64>,
}

/// An entity's restrictions at a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntityStatus {
    /// The entity.
    #[schema(value_type = String, example = "91620502MA7B8C9DXL")]
    pub code: CreditCode,
    /// The entity's registered name, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The date asked about.
    pub as_of: NaiveDate,
    /// The knowledge time asked about, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_at: Option<DateTime<Utc>>,
    /// The log size the answer was computed at.
    pub log_size: u64,
    /// The restrictions in force on `as_of`.
    pub restrictions: Vec<Restriction>,
}

/// Which departments a partner sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepartmentScope {
    /// One department.
    One(String),
    /// Every department.
    All,
}

impl DepartmentScope {
    /// Whether a department is in scope.
    pub fn covers(&self, department: &str) -> bool {
        match self {
            Self::One(d) => d == department,
            Self::All => true,
        }
    }

    /// The department, for one.
    pub fn department(&self) -> Option<&str> {
        match self {
            Self::One(d) => Some(d),
            Self::All => None,
        }
    }
}

/// Whether a restriction started or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The restriction applies from `on`.
    Started,
    /// The restriction no longer applies from `on`.
    Ended,
}

/// One entry of a department's change feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Change {
    /// The feed position of this change; resume after it.
    pub cursor: u64,
    /// The entity.
    #[schema(value_type = String, example = "91620502MA7B8C9DXL")]
    pub code: CreditCode,
    /// The measure.
    pub measure_id: String,
    /// The department that applies it.
    pub department: String,
    /// Started or ended.
    pub change: ChangeKind,
    /// The day it starts or ends.
    pub on: NaiveDate,
    /// The log position of the event that caused the change.
    pub position: u64,
}

/// A page of the change feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChangePage {
    /// The changes after the requested cursor, in feed order.
    pub changes: Vec<Change>,
    /// The cursor to ask from next (the last change's, or the requested one when empty).
    pub next_cursor: u64,
}

/// The projections the partner endpoints answer from.
pub trait StatusSource: Send + Sync + fmt::Debug {
    /// The restrictions in force on an entity, for every department.
    fn status<'a>(&'a self, query: &'a StatusQuery) -> StatusFuture<'a, EntityStatus>;

    /// The changes of `scope` after `cursor`, at most `limit`.
    fn changes<'a>(
        &'a self,
        scope: &'a DepartmentScope,
        cursor: u64,
        limit: usize,
    ) -> StatusFuture<'a, ChangePage>;

    /// The status of many entities; a source with a batched read overrides this.
    fn status_many<'a>(
        &'a self,
        queries: &'a [StatusQuery],
    ) -> StatusFuture<'a, Vec<Result<EntityStatus, StatusError>>> {
        Box::pin(async move {
            let mut answers = Vec::with_capacity(queries.len());
            for query in queries {
                answers.push(self.status(query).await);
            }
            Ok(answers)
        })
    }
}

/// The source used until projections exist: every query is answered 503.
#[derive(Debug, Default, Clone, Copy)]
pub struct UnavailableStatusSource;

const UNAVAILABLE: &str =
    "restriction projections are not available on this server yet (no status source is \
     configured); retry later or ask the operator";

impl StatusSource for UnavailableStatusSource {
    fn status<'a>(&'a self, _query: &'a StatusQuery) -> StatusFuture<'a, EntityStatus> {
        Box::pin(async { Err(StatusError::Unavailable(UNAVAILABLE.to_owned())) })
    }

    fn changes<'a>(
        &'a self,
        _scope: &'a DepartmentScope,
        _cursor: u64,
        _limit: usize,
    ) -> StatusFuture<'a, ChangePage> {
        Box::pin(async { Err(StatusError::Unavailable(UNAVAILABLE.to_owned())) })
    }
}
