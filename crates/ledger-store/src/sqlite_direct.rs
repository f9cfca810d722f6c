//! Bulk reads of a SQLite store through a cursor of its own, and projection writes through a
//! connection of their own.
//!
//! sqlx runs every SQLite connection on a worker thread and hands each row across a channel,
//! a few microseconds a row: a scan through it stops near 0.2M rows/s on the machine of
//! `docs/performance.md`, below what hashing alone sustains on two cores. The reads that walk
//! the whole log (verification, projection rebuilds) therefore step a statement directly on a
//! read-only connection of their own, opened with `rusqlite` over the same `libsqlite3-sys`
//! build, on a blocking thread. Each read is one statement, so it sees one consistent WAL
//! snapshot, like the same query through sqlx.
//!
//! Projection writes go the same way for the same reason: a rebuild stores hundreds of rows
//! per heavy entity (restriction intervals, list stays, publications, feed entries), and
//! through sqlx every value is boxed, copied into the worker thread and copied again into
//! SQLite, which was about 40% of the writing thread's time. The direct writer binds each
//! value once to a prepared single-row statement. Its transactions begin `IMMEDIATE`, taking
//! the write lock before reading the feed's last sequence number, so a concurrent writer makes
//! it wait (up to the busy timeout, then it fails whole, as unavailable) rather than fail
//! half-way through.
//! Everything else keeps using sqlx.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use ledger_core::event::RecordedEvent;
use ledger_core::Hash32;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::mpsc::Sender;

use crate::db::{
    event_from_columns, EventColumns, BUSY_TIMEOUT_MS, SQLITE_CACHE_KIB, WAL_AUTOCHECKPOINT_PAGES,
};
use crate::error::StoreError;

/// Idle direct connections kept for reuse; a bulk read opens one when none is idle.
const IDLE_CONNECTIONS_MAX: usize = 4;

/// Prepared statements each direct connection keeps.
const STATEMENT_CACHE_CAPACITY: usize = 16;

/// Direct connections to one SQLite file: read-only ones for bulk reads, one read-write for
/// projection writes.
#[derive(Debug)]
pub struct DirectSqlite {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// The projection writer's connection, opened on first use. Held for a whole write, which
    /// SQLite would serialise anyway.
    writer: Mutex<Option<Connection>>,
    /// Set by [`Self::close`]: no connection is opened or kept after it, as sqlx refuses a
    /// closed pool.
    closed: AtomicBool,
}

impl DirectSqlite {
    /// Direct connections to the database file at `path` (nothing is opened yet).
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
            closed: AtomicBool::new(false),
        }
    }

    fn check_open(&self) -> Result<(), StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable("the store is closed".into()));
        }
        Ok(())
    }

    /// Closes the idle connections and the writing one (a read in progress keeps its own
    /// until it ends); later reads and writes fail as unavailable. Blocks while a write is in
    /// progress, and closing the last connection checkpoints the WAL: run it on a blocking
    /// thread.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
        *self.writer.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Runs `work` in one `IMMEDIATE` transaction on the writing connection and commits it;
    /// on any error the transaction is rolled back and nothing is written. Blocks: run it on a
    /// blocking thread.
    pub fn write<T>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut slot = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.check_open()?;
        if slot.is_none() {
            *slot = Some(self.open_writer()?);
        }
        let Some(connection) = slot.as_mut() else {
            return Err(StoreError::Direct("the writing connection is not open".into()));
        };
        let result = (|| {
            let tx =
                rusqlite::Transaction::new(connection, rusqlite::TransactionBehavior::Immediate)
                    .map_err(failed)?;
            let value = work(&tx)?;
            tx.commit().map_err(failed)?;
            Ok(value)
        })();
        // A connection in an unknown state is not reused; the next write opens another. A
        // write refused for a moved checkpoint only rolled back, and keeps it.
        if result.as_ref().is_err_and(|e| !matches!(e, StoreError::ProjectionMoved { .. })) {
            *slot = None;
        }
        result
    }

    /// The writing connection, with the settings every sqlx connection of the store gets.
    fn open_writer(&self) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags).map_err(failed)?;
        connection.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS)).map_err(failed)?;
        for (pragma, value) in [
            ("synchronous", "FULL".to_owned()),
            ("cache_size", format!("-{SQLITE_CACHE_KIB}")),
            ("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string()),
            ("temp_store", "MEMORY".to_owned()),
        ] {
            connection.pragma_update(None, pragma, value).map_err(failed)?;
        }
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        Ok(connection)
    }

    fn connection(&self) -> Result<Connection, StoreError> {
        self.check_open()?;
        if let Some(connection) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(connection);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags).map_err(failed)?;
        connection.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS)).map_err(failed)?;
        connection
            .pragma_update(None, "cache_size", format!("-{SQLITE_CACHE_KIB}"))
            .map_err(failed)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        Ok(connection)
    }

    fn give_back(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_CONNECTIONS_MAX && !self.closed.load(Ordering::Acquire) {
            idle.push(connection);
        }
    }

    /// Runs an event query binding `texts` then `ints` and decodes every row.
    pub fn events(
        &self,
        sql: &str,
        texts: &[&str],
        ints: &[i64],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let connection = self.connection()?;
        let mut events = Vec::new();
        let result = each_row(&connection, sql, texts, ints, |event| {
            events.push(event);
            true
        });
        self.give_back(connection);
        result.map(|()| events)
    }

    /// Sends the rows of an event query with one `i64` argument in batches of `batch`, in the
    /// query's order; stops early when the receiver is gone. Blocks: run it on a blocking
    /// thread.
    pub fn stream_events(
        &self,
        sql: &str,
        from: i64,
        batch: usize,
        batches: &Sender<Result<Vec<RecordedEvent>, StoreError>>,
    ) {
        let connection = match self.connection() {
            Ok(connection) => connection,
            Err(e) => {
                let _ = batches.blocking_send(Err(e));
                return;
            }
        };
        let mut events = Vec::with_capacity(batch);
        let result = each_row(&connection, sql, &[], &[from], |event| {
            events.push(event);
            if events.len() < batch {
                return true;
            }
            let full = std::mem::replace(&mut events, Vec::with_capacity(batch));
            batches.blocking_send(Ok(full)).is_ok()
        });
        self.give_back(connection);
        let last = match result {
            Ok(()) if events.is_empty() => return,
            Ok(()) => Ok(events),
            Err(e) => Err(e),
        };
        let _ = batches.blocking_send(last);
    }
}

/// Steps `sql` and hands each decoded event to `take` until it answers `false`.
fn each_row(
    connection: &Connection,
    sql: &str,
    texts: &[&str],
    ints: &[i64],
    mut take: impl FnMut(RecordedEvent) -> bool,
) -> Result<(), StoreError> {
    let mut statement = connection.prepare_cached(sql).map_err(failed)?;
    let mut index = 1;
    for text in texts {
        statement.raw_bind_parameter(index, text).map_err(failed)?;
        index += 1;
    }
    for int in ints {
        statement.raw_bind_parameter(index, int).map_err(failed)?;
        index += 1;
    }
    let mut rows = statement.raw_query();
    while let Some(row) = rows.next().map_err(failed)? {
        let hash = |index: usize| -> Result<Hash32, StoreError> {
            let bytes = row.get_ref(index).and_then(|v| Ok(v.as_bytes()?)).map_err(failed)?;
            Hash32::from_slice(bytes).ok_or_else(|| {
                StoreError::Corrupt(format!("hash column has {} bytes", bytes.len()))
            })
        };
        let text = |index: usize| -> Result<String, StoreError> {
            Ok(row.get_ref(index).and_then(|v| Ok(v.as_str()?)).map_err(failed)?.to_owned())
        };
        let int = |index: usize| -> Result<i64, StoreError> { row.get(index).map_err(failed) };
        let columns = EventColumns {
            position: int(0)?,
            stream: text(1)?,
            stream_version: int(2)?,
            event_id: row.get_ref(3).and_then(|v| Ok(v.as_bytes()?)).map_err(failed)?,
            event_type: text(4)?,
            schema_version: int(5)?,
            effective_at: int(6)?,
            recorded_at: int(7)?,
            recorded_by: text(8)?,
            payload: row.get_ref(9).and_then(|v| Ok(v.as_bytes()?.to_vec())).map_err(failed)?,
            prev_hash: hash(10)?,
            hash: hash(11)?,
        };
        if !take(event_from_columns(columns)?) {
            break;
        }
    }
    Ok(())
}

/// A rusqlite error as a store error: a lock still held after the busy timeout may clear, so it
/// is reported as unavailable (retryable) like the same failure through sqlx.
pub(crate) fn failed(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(format!("the database is locked: {e}"))
        }
        _ => StoreError::Direct(e.to_string()),
    }
}
