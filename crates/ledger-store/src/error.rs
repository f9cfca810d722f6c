//! The store's error type.

use ledger_core::event::EventError;
use uuid::Uuid;

use crate::ExpectedVersion;

/// What went wrong in the store. Conflicts and bad input are typed so that callers (the HTTP
/// layer) can map them to precise answers; database failures carry the driver's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The stream is not at the version the caller expected; nothing was written.
    #[error("stream {stream} is at version {actual}, but the append expected {expected}")]
    WrongExpectedVersion {
        /// The stream appended to.
        stream: String,
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The stream's current version (0 when it does not exist).
        actual: u64,
    },
    /// Another projector moved a projection's checkpoint after this write's rows were
    /// computed from it; nothing was written.
    #[error(
        "projection checkpoint {checkpoint} is at {actual}, but the write started from {expected}"
    )]
    ProjectionMoved {
        /// The checkpoint (`<projection>@<generation>`).
        checkpoint: String,
        /// The position the write's rows were computed from.
        expected: u64,
        /// Where the checkpoint is.
        actual: u64,
    },
    /// An event id is already recorded with different content; nothing was written.
    #[error("event id {event_id} is already recorded at position {position} with other content")]
    IdempotencyConflict {
        /// The reused id.
        event_id: Uuid,
        /// Where the earlier event is.
        position: u64,
    },
    /// An event of the append is invalid; nothing was written.
    #[error("event {index} of the append: {source}")]
    InvalidEvent {
        /// 0-based index of the event within the append.
        index: usize,
        /// What is wrong with it.
        source: EventError,
    },
    /// The append is empty, too large, or repeats an event id.
    #[error("append rejected: {0}")]
    InvalidAppend(String),
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The question is outside what the log can answer (a size beyond the tree, say).
    #[error("{0}")]
    OutOfRange(String),
    /// The writer cannot take appends now (shutting down, or another process holds the writer
    /// role for too long); the append was not written and may be retried.
    #[error("the store cannot take appends now: {0}")]
    Unavailable(String),
    /// Stored data breaks an invariant; the writer stops rather than extend a broken log.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The store was configured wrongly.
    #[error("configuration: {0}")]
    Config(String),
    /// A value could not be bound to a statement.
    #[error("could not bind a value: {0}")]
    Bind(String),
    /// A signing-key file problem.
    #[error("signing key: {0}")]
    Key(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A failure of a direct SQLite read (see `sqlite_direct`).
    #[error("database: {0}")]
    Direct(String),
    /// Running the migrations failed.
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Whether the same request may succeed if simply retried.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Database(_))
    }
}
