//! The SQL layer: one connection pool and one set of named queries per backend.
//!
//! Both backends go through `sqlx`'s `Any` driver, so every query binds and decodes the same
//! Rust types (`i64`, `String`, `Vec<u8>`); the only differences are the statements themselves,
//! kept in `sql/sqlite.sql` and `sql/postgres.sql`, and the placeholder style used when the
//! store completes a `_prefix` statement with generated value tuples.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger_core::event::RecordedEvent;
use ledger_core::{Hash32, StreamName};
use sqlx::any::{AnyArguments, AnyPoolOptions};
use sqlx::{AnyPool, Arguments as _, Executor as _};
use uuid::Uuid;

use crate::error::StoreError;
use crate::sqlite_direct::DirectSqlite;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file in WAL mode.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Tells the backend from a connection URL.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::Config(format!(
                "database URL {url:?} is not accepted; use sqlite://<path> or postgres://..."
            )))
        }
    }

    /// The `n`-th (1-based) placeholder of a generated statement.
    fn placeholder(self, n: usize, out: &mut String) {
        match self {
            Self::Sqlite => out.push('?'),
            Self::Postgres => {
                out.push('$');
                out.push_str(&n.to_string());
            }
        }
    }
}

/// The most rows one generated multi-row statement carries. 12 columns x 500 rows stays far
/// below both backends' limits on bound parameters (32,766 and 65,535).
pub const ROWS_PER_STATEMENT_MAX: usize = 500;

/// The row counts generated statements are built with: [`ROWS_PER_STATEMENT_MAX`] and the
/// powers of two below it.
const STATEMENT_ROWS: [usize; 10] = [ROWS_PER_STATEMENT_MAX, 256, 128, 64, 32, 16, 8, 4, 2, 1];
// The sizes must fall from the largest, which a maximum below 256 would break.
const _: () = assert!(ROWS_PER_STATEMENT_MAX > 256);

/// Splits `rows` into chunks of the sizes in [`STATEMENT_ROWS`], largest first.
///
/// Each chunk size is a distinct statement text, and both drivers prepare each text once per
/// connection and keep it in a cache of 100. Chunks of any size (500, 500, then whatever is
/// left) made nearly every batch's last statement a new text: prepared afresh, and on
/// PostgreSQL planned afresh, a 6,000-parameter insert at a time, while evicting statements
/// still in use. With these sizes a connection needs at most ten texts per statement kind.
pub fn statement_chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        let size = STATEMENT_ROWS.iter().copied().find(|n| *n <= rest.len())?;
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

/// The names every backend's query file must define.
const QUERY_NAMES: &[&str] = &[
    "log_head",
    "advance_log_head",
    "insert_events_prefix",
    "upsert_streams_prefix",
    "upsert_streams_suffix",
    "stream_heads_prefix",
    "events_by_ids_prefix",
    "upsert_tiles_prefix",
    "upsert_tiles_suffix",
    "select_tile",
    "tiles_range",
    "read_stream",
    "read_log",
    "stream_log",
    "event_by_position",
    "event_by_id",
    "stream_head",
    "stream_count",
    "all_stream_heads",
    "insert_checkpoint",
    "latest_checkpoint",
    "checkpoint_at_least",
    "all_checkpoints",
    "insert_personal_data",
    "erase_personal_data",
    "select_personal_data",
    "get_projection_checkpoint",
    "put_projection_checkpoint",
    "try_writer_lock",
];

/// Named statements parsed from a backend's `.sql` file.
#[derive(Debug, Clone)]
pub struct Queries {
    by_name: HashMap<&'static str, &'static str>,
}

impl Queries {
    /// Parses `-- name: x` sections of one or more files and checks that every needed name is
    /// there.
    pub fn parse(text: &'static str) -> Result<Self, StoreError> {
        Self::parse_all(&[text])
    }

    /// [`Queries::parse`] over several files.
    pub fn parse_all(texts: &[&'static str]) -> Result<Self, StoreError> {
        let mut by_name = HashMap::new();
        for text in texts {
            Self::parse_into(text, &mut by_name);
        }
        for name in QUERY_NAMES.iter().chain(crate::projections::QUERY_NAMES) {
            if !by_name.contains_key(name) {
                return Err(StoreError::Config(format!("query file lacks `-- name: {name}`")));
            }
        }
        Ok(Self { by_name })
    }

    fn parse_into(text: &'static str, by_name: &mut HashMap<&'static str, &'static str>) {
        let mut rest = text;
        while let Some(start) = rest.find("-- name: ") {
            let after = &rest[start + "-- name: ".len()..];
            let name_end = after.find('\n').unwrap_or(after.len());
            let name = after[..name_end].trim();
            let body_all = &after[name_end..];
            let body_end = body_all.find("-- name: ").unwrap_or(body_all.len());
            let body = body_all[..body_end].trim();
            by_name.insert(name, body);
            rest = &body_all[body_end..];
        }
    }

    /// The statement called `name`.
    pub fn get(&self, name: &str) -> &'static str {
        // Every name used in this crate is in QUERY_NAMES, checked at parse time.
        self.by_name.get(name).copied().unwrap_or("SELECT 'missing query'")
    }
}

/// The event columns, in the order every event query selects them.
pub const EVENT_COLUMNS: usize = 12;

/// A pool and its queries.
#[derive(Debug, Clone)]
pub struct Db {
    /// The backend kind.
    pub backend: Backend,
    /// Connections for reads (and, on PostgreSQL, writes).
    pub pool: AnyPool,
    /// The backend's statements.
    pub queries: Queries,
}

/// A value bound to a statement of [`NativePool::optional_row`].
#[derive(Debug, Clone, Copy)]
pub enum Bind<'a> {
    /// An integer.
    Int(i64),
    /// A text.
    Text(&'a str),
}

/// A pool of the backend's own driver, for the bulk reads of the log.
///
/// The `Any` driver copies every value of a row once more than the native one does, which
/// halves the rate of a full scan; verification and projection rebuilds read the whole log,
/// so they go through here. The statement text and the decoding code are the same for both.
#[derive(Debug, Clone)]
pub enum NativePool {
    /// SQLite, with direct connections for bulk reads when the database is a file.
    Sqlite(sqlx::SqlitePool, Option<Arc<DirectSqlite>>),
    /// PostgreSQL.
    Postgres(sqlx::PgPool),
}

impl NativePool {
    /// Connects with the same per-connection settings as [`Db::connect`].
    pub async fn connect(
        url: &str,
        max_connections: u32,
        pg_schema: Option<&str>,
    ) -> Result<Self, StoreError> {
        let backend = Backend::from_url(url)?;
        let setup = session_setup(backend, pg_schema)?;
        macro_rules! pool {
            ($options:ty) => {
                <$options>::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(move |conn, _meta| {
                        let setup = setup.clone();
                        Box::pin(async move {
                            for statement in &setup {
                                conn.execute(statement.as_str()).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            };
        }
        Ok(match backend {
            Backend::Sqlite => {
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
                let path = options.get_filename();
                let file = path != Path::new(":memory:") && !url.contains("mode=memory");
                let direct = file.then(|| Arc::new(DirectSqlite::new(path)));
                Self::Sqlite(pool!(sqlx::sqlite::SqlitePoolOptions), direct)
            }
            Backend::Postgres => Self::Postgres(pool!(sqlx::postgres::PgPoolOptions)),
        })
    }

    /// Runs an event query binding `texts` then `ints`, in that order, and decodes the rows.
    pub async fn events(
        &self,
        sql: &str,
        texts: &[&str],
        ints: &[i64],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        macro_rules! run {
            ($pool:expr) => {{
                let mut query = sqlx::query(sql);
                for text in texts {
                    query = query.bind(*text);
                }
                for int in ints {
                    query = query.bind(*int);
                }
                let rows = query.fetch_all($pool).await?;
                rows.iter().map(event_from_row).collect()
            }};
        }
        match self {
            Self::Sqlite(pool, _) => run!(pool),
            Self::Postgres(pool) => run!(pool),
        }
    }

    /// [`Self::events`] for reads of many rows: on a SQLite file, through a direct cursor on a
    /// blocking thread (see [`crate::sqlite_direct`]).
    pub async fn bulk_events(
        &self,
        sql: &str,
        texts: &[&str],
        ints: &[i64],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let Self::Sqlite(_, Some(direct)) = self else {
            return self.events(sql, texts, ints).await;
        };
        let (direct, sql) = (direct.clone(), sql.to_owned());
        let texts: Vec<String> = texts.iter().map(|t| (*t).to_owned()).collect();
        let ints = ints.to_vec();
        tokio::task::spawn_blocking(move || {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            direct.events(&sql, &texts, &ints)
        })
        .await
        .map_err(|e| StoreError::Direct(format!("the read task failed: {e}")))?
    }

    /// Streams the rows of an event query with one `i64` argument in batches of `batch`
    /// events, decoding as they arrive, until the rows end or `batches` is closed.
    ///
    /// One cursor over the whole result instead of page queries: for a full read of the log
    /// this is what the raw scan does, and paging costs about half of it.
    pub async fn stream_events(
        &self,
        sql: &str,
        from: i64,
        batch: usize,
        batches: &tokio::sync::mpsc::Sender<Result<Vec<RecordedEvent>, StoreError>>,
    ) {
        use futures_util::TryStreamExt as _;
        if let Self::Sqlite(_, Some(direct)) = self {
            let (direct, sql, sender) = (direct.clone(), sql.to_owned(), batches.clone());
            let read = tokio::task::spawn_blocking(move || {
                direct.stream_events(&sql, from, batch, &sender);
            });
            if let Err(e) = read.await {
                let error = StoreError::Direct(format!("the read task failed: {e}"));
                let _ = batches.send(Err(error)).await;
            }
            return;
        }
        macro_rules! run {
            ($pool:expr) => {{
                let mut rows = sqlx::query(sql).bind(from).fetch($pool);
                let mut events = Vec::with_capacity(batch);
                loop {
                    let row = match rows.try_next().await {
                        Ok(Some(row)) => row,
                        Ok(None) => break,
                        Err(e) => {
                            let _ = batches.send(Err(e.into())).await;
                            return;
                        }
                    };
                    match event_from_row(&row) {
                        Ok(event) => events.push(event),
                        Err(e) => {
                            let _ = batches.send(Err(e)).await;
                            return;
                        }
                    }
                    if events.len() >= batch {
                        let full = std::mem::replace(&mut events, Vec::with_capacity(batch));
                        if batches.send(Ok(full)).await.is_err() {
                            return;
                        }
                    }
                }
                if !events.is_empty() {
                    let _ = batches.send(Ok(events)).await;
                }
            }};
        }
        match self {
            Self::Sqlite(pool, _) => run!(pool),
            Self::Postgres(pool) => run!(pool),
        }
    }

    /// Runs a query returning at most one row, decoded as the tuple `T`; binds `args` in
    /// order. For the hot reads of status lookups (a timeline's position, and the stored
    /// timeline itself on a cache miss: tens of kilobytes of JSON), where the `Any` driver's
    /// extra copy of every value shows.
    pub async fn optional_row<T>(
        &self,
        sql: &str,
        args: &[Bind<'_>],
    ) -> Result<Option<T>, StoreError>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        macro_rules! run {
            ($pool:expr) => {{
                let mut query = sqlx::query_as::<_, T>(sql);
                for arg in args {
                    query = match arg {
                        Bind::Int(v) => query.bind(*v),
                        Bind::Text(v) => query.bind(*v),
                    };
                }
                Ok(query.fetch_optional($pool).await?)
            }};
        }
        match self {
            Self::Sqlite(pool, _) => run!(pool),
            Self::Postgres(pool) => run!(pool),
        }
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(pool, direct) => {
                pool.close().await;
                if let Some(direct) = direct.clone() {
                    // Closing waits for a write in progress and checkpoints the WAL.
                    let _ = tokio::task::spawn_blocking(move || direct.close()).await;
                }
            }
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// How long a connection waits for a lock held by another connection.
pub(crate) const BUSY_TIMEOUT_MS: u64 = 10_000;

/// SQLite page cache per connection, in KiB.
pub(crate) const SQLITE_CACHE_KIB: u64 = 64 * 1024;

/// WAL pages after which a committing SQLite connection checkpoints by itself, if the
/// background checkpointer has fallen behind (SQLite's default is 1,000).
pub(crate) const WAL_AUTOCHECKPOINT_PAGES: u64 = 16_384;

/// How often the background task checkpoints the SQLite WAL.
pub const WAL_CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

/// Copies committed WAL frames into the SQLite database file every
/// [`WAL_CHECKPOINT_INTERVAL`], on a connection of its own.
///
/// Left to SQLite, the connection whose commit crosses 1,000 WAL pages runs the checkpoint
/// inside that commit: an append (or a projection write) then also pays for copying and
/// syncing everything written before it, and pages changed by many small transactions are
/// copied once per checkpoint. A passive checkpoint here waits for no lock and blocks no
/// reader or writer; the writers' own automatic checkpoint stays as a safety net at
/// [`WAL_AUTOCHECKPOINT_PAGES`].
pub async fn wal_checkpointer(pool: AnyPool) {
    let mut tick = tokio::time::interval(WAL_CHECKPOINT_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::debug!(error = %e, "WAL checkpoint skipped");
        }
    }
}

impl Db {
    /// Connects, applies per-connection settings and returns the pool.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        pg_schema: Option<&str>,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let queries = Queries::parse_all(&match backend {
            Backend::Sqlite => {
                [include_str!("../sql/sqlite.sql"), include_str!("../sql/projections_sqlite.sql")]
            }
            Backend::Postgres => [
                include_str!("../sql/postgres.sql"),
                include_str!("../sql/projections_postgres.sql"),
            ],
        })?;
        let setup = session_setup(backend, pg_schema)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                let setup = setup.clone();
                Box::pin(async move {
                    for statement in &setup {
                        conn.execute(statement.as_str()).await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        Ok(Self { backend, pool, queries })
    }

    /// Starts a statement by name.
    pub fn query(
        &self,
        name: &str,
    ) -> sqlx::query::Query<'static, sqlx::Any, AnyArguments<'static>> {
        sqlx::query(self.queries.get(name))
    }

    /// Builds `<prefix> (..),(..)<suffix>` for `rows` tuples of `columns` placeholders.
    pub fn values_statement(
        &self,
        prefix: &str,
        suffix: &str,
        rows: usize,
        columns: usize,
    ) -> String {
        let mut sql = String::with_capacity(prefix.len() + suffix.len() + rows * columns * 5);
        sql.push_str(prefix);
        sql.push(' ');
        let mut n = 0;
        for row in 0..rows {
            if row > 0 {
                sql.push(',');
            }
            sql.push('(');
            for col in 0..columns {
                if col > 0 {
                    sql.push(',');
                }
                n += 1;
                self.backend.placeholder(n, &mut sql);
            }
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(suffix);
        sql
    }

    /// Builds a statement with `rows` value tuples, whose placeholders are numbered from
    /// `first` (the prefix holding `first - 1` placeholders of its own).
    pub fn values_statement_from(
        &self,
        prefix: &str,
        rows: usize,
        columns: usize,
        first: usize,
    ) -> String {
        let mut sql = String::with_capacity(prefix.len() + rows * columns * 5);
        sql.push_str(prefix);
        sql.push(' ');
        let mut n = first - 1;
        for row in 0..rows {
            sql.push_str(if row == 0 { "(" } else { ",(" });
            for col in 0..columns {
                if col > 0 {
                    sql.push(',');
                }
                n += 1;
                self.backend.placeholder(n, &mut sql);
            }
            sql.push(')');
        }
        sql
    }

    /// Builds `<prefix> (?, ?, ...)` with `count` placeholders.
    pub fn in_list_statement(&self, prefix: &str, count: usize) -> String {
        let mut sql = String::from(prefix);
        sql.push_str(" (");
        for n in 1..=count {
            if n > 1 {
                sql.push(',');
            }
            self.backend.placeholder(n, &mut sql);
        }
        sql.push(')');
        sql
    }
}

fn session_setup(backend: Backend, pg_schema: Option<&str>) -> Result<Vec<String>, StoreError> {
    Ok(match backend {
        // WAL lets readers run beside the writer; synchronous=FULL syncs the WAL on every
        // commit, so an acknowledged append survives power loss, not only a process crash.
        Backend::Sqlite => vec![
            "PRAGMA journal_mode = WAL".into(),
            "PRAGMA synchronous = FULL".into(),
            format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"),
            format!("PRAGMA cache_size = -{SQLITE_CACHE_KIB}"),
            // Checkpoints run beside the writers (`wal_checkpointer`); the automatic one, run
            // by whichever connection commits past the threshold, is only the safety net.
            format!("PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}"),
            // A multi-row statement that may fail half-way (a unique index) keeps the pages it
            // changes in a statement journal, a temporary file by default: in memory, the
            // journal costs no write calls (it showed as an eighth of a durable append).
            "PRAGMA temp_store = MEMORY".into(),
        ],
        Backend::Postgres => {
            let mut setup = vec![
                "SET synchronous_commit = on".to_owned(),
                format!("SET lock_timeout = '{BUSY_TIMEOUT_MS}ms'"),
            ];
            if let Some(schema) = pg_schema {
                check_identifier(schema)?;
                setup.push(format!("SET search_path TO \"{schema}\""));
            }
            setup
        }
    })
}

/// Accepts schema names made of lowercase letters, digits and `_`.
pub fn check_identifier(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Config(format!(
            "schema name {name:?} is not accepted; use 1-63 of a-z, 0-9 and _"
        )))
    }
}

/// Microseconds since the epoch, as stored.
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The inverse of [`to_micros`].
pub fn from_micros(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {micros} out of range")))
}

/// Converts a stored non-negative integer.
pub fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative {what}: {value}")))
}

/// Converts a count or position for binding.
pub fn to_i64(value: u64) -> i64 {
    // Positions and versions stay far below 2^63; saturate rather than wrap if one did not.
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Reads a 32-byte hash column.
pub fn hash_column<R: sqlx::Row>(row: &R, index: usize) -> Result<Hash32, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let bytes: Vec<u8> = row.try_get(index)?;
    Hash32::from_slice(&bytes)
        .ok_or_else(|| StoreError::Corrupt(format!("hash column has {} bytes", bytes.len())))
}

/// Decodes an event row selected with the standard column order, from any driver's row.
///
/// Decoding checks only types and shapes; whether the row is intact is the verifier's job.
pub fn event_from_row<R: sqlx::Row>(row: &R) -> Result<RecordedEvent, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let event_id: Vec<u8> = row.try_get(3)?;
    event_from_columns(EventColumns {
        position: row.try_get(0)?,
        stream: row.try_get(1)?,
        stream_version: row.try_get(2)?,
        event_id: &event_id,
        event_type: row.try_get(4)?,
        schema_version: row.try_get(5)?,
        effective_at: row.try_get(6)?,
        recorded_at: row.try_get(7)?,
        recorded_by: row.try_get(8)?,
        payload: row.try_get(9)?,
        prev_hash: hash_column(row, 10)?,
        hash: hash_column(row, 11)?,
    })
}

/// The columns of an event row as any driver decodes them, before their shapes are checked.
#[derive(Debug)]
pub struct EventColumns<'a> {
    pub position: i64,
    pub stream: String,
    pub stream_version: i64,
    pub event_id: &'a [u8],
    pub event_type: String,
    pub schema_version: i64,
    pub effective_at: i64,
    pub recorded_at: i64,
    pub recorded_by: String,
    pub payload: Vec<u8>,
    pub prev_hash: Hash32,
    pub hash: Hash32,
}

/// Checks the shapes of an event row's columns and builds the event.
pub fn event_from_columns(c: EventColumns<'_>) -> Result<RecordedEvent, StoreError> {
    let stream = StreamName::new(c.stream)
        .map_err(|e| StoreError::Corrupt(format!("a stored stream name is invalid: {e}")))?;
    let event_id = Uuid::from_slice(c.event_id)
        .map_err(|_| StoreError::Corrupt("stored event id is not 16 bytes".into()))?;
    Ok(RecordedEvent {
        position: to_u64(c.position, "position")?,
        stream,
        stream_version: to_u64(c.stream_version, "stream version")?,
        event_id,
        event_type: c.event_type,
        schema_version: u32::try_from(c.schema_version)
            .map_err(|_| StoreError::Corrupt(format!("schema version {}", c.schema_version)))?,
        effective_at: from_micros(c.effective_at)?,
        recorded_at: from_micros(c.recorded_at)?,
        recorded_by: c.recorded_by,
        payload: c.payload,
        prev_hash: c.prev_hash,
        hash: c.hash,
    })
}

/// Binds an event's columns in the standard order.
pub fn bind_event(args: &mut AnyArguments<'static>, e: &RecordedEvent) -> Result<(), StoreError> {
    let bind =
        |r: Result<(), sqlx::error::BoxDynError>| r.map_err(|e| StoreError::Bind(e.to_string()));
    bind(args.add(to_i64(e.position)))?;
    bind(args.add(e.stream.as_str().to_owned()))?;
    bind(args.add(to_i64(e.stream_version)))?;
    bind(args.add(e.event_id.as_bytes().to_vec()))?;
    bind(args.add(e.event_type.clone()))?;
    bind(args.add(i64::from(e.schema_version)))?;
    bind(args.add(to_micros(e.effective_at)))?;
    bind(args.add(to_micros(e.recorded_at)))?;
    bind(args.add(e.recorded_by.clone()))?;
    bind(args.add(e.payload.clone()))?;
    bind(args.add(e.prev_hash.0.to_vec()))?;
    bind(args.add(e.hash.0.to_vec()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_chunks_use_few_sizes_and_cover_every_row() {
        let rows: Vec<usize> = (0..1_234).collect();
        let chunks: Vec<&[usize]> = statement_chunks(&rows).collect();
        let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [500, 500, 128, 64, 32, 8, 2]);
        assert_eq!(chunks.concat(), rows);
        assert_eq!(statement_chunks::<u8>(&[]).count(), 0);
        assert_eq!(statement_chunks(&[7]).collect::<Vec<_>>(), [&[7][..]]);
    }

    #[test]
    fn both_query_files_define_every_name() {
        let sqlite =
            [include_str!("../sql/sqlite.sql"), include_str!("../sql/projections_sqlite.sql")];
        Queries::parse_all(&sqlite).unwrap();
        let pg =
            [include_str!("../sql/postgres.sql"), include_str!("../sql/projections_postgres.sql")];
        Queries::parse_all(&pg).unwrap();
        assert!(Queries::parse("-- name: log_head\nSELECT 1").is_err());
    }
}
