//! Storage of projections: the SQL side of the views built from the log.
//!
//! What a projection holds is decided elsewhere (`ledger-projections` folds each entity's
//! events with the rules); this module only stores and reads the rows, so that SQL stays in
//! this crate. Every row carries a generation:
//!
//! 1. the active generation serves reads; tailing writes into it, each batch of entities in
//!    one transaction together with the projection's checkpoint, so a batch is applied
//!    exactly once whatever crashes;
//! 2. a rebuild picks a new generation and a snapshot size, writes into that generation while
//!    the active one keeps serving, and records the last stream it finished in the same
//!    transaction as the rows, so a crashed rebuild resumes where it stopped;
//! 3. once the new generation has caught up with the log, one update makes it active; the old
//!    generation's rows are then deleted.

use chrono::NaiveDate;
use sqlx::any::AnyArguments;
use sqlx::{Arguments as _, Row as _};

use crate::db;
use crate::error::StoreError;
use crate::Store;

/// The statement names this module needs in each backend's projection query file.
pub const QUERY_NAMES: &[&str] = &[
    "init_projection",
    "projection_state",
    "begin_rebuild",
    "rebuild_progress",
    "swap_generation",
    "streams_ordered",
    "advance_projection_checkpoint",
    "upsert_timelines_prefix",
    "upsert_timelines_suffix",
    "insert_restrictions_prefix",
    "insert_lists_prefix",
    "insert_disclosures_prefix",
    "insert_changes_prefix",
    "delete_entity_restrictions",
    "delete_entity_lists",
    "delete_entity_disclosures",
    "max_change_seq",
    "entity_timeline",
    "entity_timeline_head",
    "department_restrictions",
    "department_changes",
    "all_changes",
    "disclosures_at",
    "list_counts",
    "restriction_counts",
    "older_generation",
    "generation_indexes",
    "drop_generation_timelines_bound",
    "drop_generation_timelines",
    "drop_generation_restrictions_bound",
    "drop_generation_restrictions",
    "drop_generation_lists_bound",
    "drop_generation_lists",
    "drop_generation_disclosures_bound",
    "drop_generation_disclosures",
    "drop_generation_changes_bound",
    "drop_generation_changes",
];

/// Rows of an old generation's indexes and feed deleted per statement (whole streams, so a
/// chunk of an index may hold a few more).
pub const DROP_GENERATION_CHUNK_ROWS: usize = 10_000;

/// Stored timelines of an old generation deleted per statement: one row per entity, but each
/// up to tens of kilobytes (15 KB for the benchmark's heavy entities), so fewer go in a chunk.
pub const DROP_GENERATION_CHUNK_TIMELINES: usize = 500;

/// The most entries one feed pack holds (one row of `restriction_feed`: the changes of one write
/// for one entity and one department); an entity with more gets several packs.
pub const FEED_PACK_ENTRIES_MAX: usize = 256;

/// Feed packs fetched per query of a feed read: packs hold up to [`FEED_PACK_ENTRIES_MAX`]
/// entries, so a page of entries is usually within the first few.
const FEED_PACKS_PER_READ: usize = 16;

/// The secondary indexes every generation has of its own: name, table, columns. Each is
/// partial (`WHERE generation = N`, named `<name>_g<N>`) and built when the generation is
/// swapped in, after a rebuild loaded its rows without them (see `index_generation`).
///
/// A department's restrictions are read a page at a time in stream order from a cursor, so the
/// index is by department and stream: the read walks it from the cursor and stops at the page's
/// end. The other reads go along the tables' keys (generation, stream, ...).
const GENERATION_INDEXES: [(&str, &str, &str); 1] =
    [("restriction_index_department", "restriction_index", "department, stream")];

/// Deletions of retired generations one [`Store::drop_retired_generations`] makes before it
/// gives up on rows that keep reappearing.
pub const DROP_RETIRED_ATTEMPTS_MAX: usize = 8;

/// The most rows one read of a projection returns.
pub const PROJECTION_PAGE_ROWS_MAX: usize = 1_000;

/// Where a projection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionState {
    /// The generation that serves reads.
    pub active_generation: i64,
    /// The position the active generation has applied up to (exclusive).
    pub active_position: u64,
    /// A rebuild in progress: its generation, snapshot size and last finished stream.
    pub building: Option<Rebuilding>,
}

/// A rebuild in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilding {
    /// The generation being written.
    pub generation: i64,
    /// The log size the scan covers.
    pub snapshot: u64,
    /// The last stream whose rows are written; the scan resumes after it.
    pub after_stream: Option<String>,
}

/// A restriction interval as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestrictionRow {
    /// The department that applies it.
    pub department: String,
    /// The measure.
    pub measure_id: String,
    /// First day.
    pub start: NaiveDate,
    /// First day no longer applying; `None` while open.
    pub end: Option<NaiveDate>,
    /// What triggered it (`abnormal_list`, `serious_list`, `penalty`, `licence_revoked`).
    pub trigger: String,
    /// The position of the triggering event.
    pub position: u64,
}

/// A list stay as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    /// `abnormal` or `serious`.
    pub list: String,
    /// The entry ground.
    pub ground: String,
    /// First day.
    pub start: NaiveDate,
    /// First day off the list; `None` while open.
    pub end: Option<NaiveDate>,
    /// The position of the entry event.
    pub position: u64,
}

/// A publicly shown penalty as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureRow {
    /// The penalty decision number.
    pub decision_number: String,
    /// First day shown.
    pub start: NaiveDate,
    /// First day no longer shown.
    pub end: Option<NaiveDate>,
    /// The position of the penalty event.
    pub position: u64,
}

/// A restriction that started, ended or was withdrawn, as a partner's feed shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRow {
    /// The department concerned.
    pub department: String,
    /// The measure.
    pub measure_id: String,
    /// `started`, `ended` or `withdrawn`.
    pub change: String,
    /// The interval's first day.
    pub start: NaiveDate,
    /// The interval's end, if known.
    pub end: Option<NaiveDate>,
    /// The position of the event that caused the change.
    pub position: u64,
}

/// Everything a projection stores about one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityRows {
    /// The entity's stream.
    pub stream: String,
    /// The last event of the stream applied.
    pub position: u64,
    /// The entity's name, as last registered or changed.
    pub name: Option<String>,
    /// The serialised timeline (the cached fold).
    pub timeline: String,
    /// Its restrictions.
    pub restrictions: Vec<RestrictionRow>,
    /// Its list stays.
    pub lists: Vec<ListRow>,
    /// Its publications.
    pub disclosures: Vec<DisclosureRow>,
    /// Changes of its restrictions to announce.
    pub changes: Vec<ChangeRow>,
}

/// A cached timeline as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedTimeline {
    /// The last event of the stream applied.
    pub position: u64,
    /// The entity's name.
    pub name: Option<String>,
    /// The serialised timeline.
    pub timeline: String,
}

/// A change as read back, with its sequence number (the feed cursor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChange {
    /// Feed cursor.
    pub seq: u64,
    /// The entity's stream.
    pub stream: String,
    /// The change.
    pub change: ChangeRow,
}

/// A restriction as read back from the department index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRestriction {
    /// The entity's stream.
    pub stream: String,
    /// The row.
    pub row: RestrictionRow,
}

fn date(text: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| StoreError::Corrupt(format!("stored date {text:?} is not YYYY-MM-DD")))
}

fn opt_date(text: Option<String>) -> Result<Option<NaiveDate>, StoreError> {
    text.as_deref().map(date).transpose()
}

fn add<T>(args: &mut AnyArguments<'static>, value: T) -> Result<(), StoreError>
where
    T: 'static + Send + sqlx::Encode<'static, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    args.add(value).map_err(|e| StoreError::Bind(e.to_string()))
}

/// `sql` with `{generation}` replaced by the generation's number, for the statements that read
/// through a generation's own (partial) index: a planner uses a partial index only for a query
/// that names the same generation, not for a bound parameter.
fn with_generation(sql: &str, generation: i64) -> Result<String, StoreError> {
    if generation < 1 {
        return Err(StoreError::Corrupt(format!(
            "projection generation {generation} is not positive"
        )));
    }
    Ok(sql.replace("{generation}", &generation.to_string()))
}

/// A date in a feed entry, written as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy)]
struct EntryDate(NaiveDate);

impl serde::Serialize for EntryDate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buffer = [0u8; 10];
        match iso_date(self.0, &mut buffer) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.collect_str(&self.0),
        }
    }
}

/// One entry of a feed pack as stored: `[measure_id, change, start, end, position]`.
#[derive(serde::Serialize)]
struct EntryOut<'a>(&'a str, &'a str, EntryDate, Option<EntryDate>, u64);

/// [`EntryOut`] as read back.
#[derive(serde::Deserialize)]
struct EntryIn(String, String, String, Option<String>, u64);

/// One row of the feed: consecutive entries of one write for one entity and one department.
#[derive(Debug)]
struct FeedPack<'a> {
    stream: &'a str,
    department: &'a str,
    first_seq: i64,
    last_seq: i64,
    /// JSON array of [`EntryOut`].
    entries: String,
}

/// The feed packs of `entities`, numbered from `last_seq + 1`: per entity, one pack per
/// department (in the order of the department's first change) of at most
/// [`FEED_PACK_ENTRIES_MAX`] entries, each department's changes in their order.
fn feed_packs(entities: &[EntityRows], last_seq: i64) -> Result<Vec<FeedPack<'_>>, StoreError> {
    let mut packs = Vec::new();
    let mut seq = last_seq;
    for e in entities {
        let mut departments: Vec<&str> = Vec::new();
        for change in &e.changes {
            if !departments.contains(&change.department.as_str()) {
                departments.push(&change.department);
            }
        }
        for department in departments {
            let changes: Vec<&ChangeRow> =
                e.changes.iter().filter(|c| c.department == department).collect();
            for chunk in changes.chunks(FEED_PACK_ENTRIES_MAX) {
                let entries: Vec<EntryOut<'_>> = chunk
                    .iter()
                    .map(|c| {
                        let end = c.end.map(EntryDate);
                        EntryOut(&c.measure_id, &c.change, EntryDate(c.start), end, c.position)
                    })
                    .collect();
                let entries = serde_json::to_string(&entries)
                    .map_err(|e| StoreError::Bind(format!("feed entries: {e}")))?;
                let first_seq = seq + 1;
                seq += chunk.len() as i64;
                packs.push(FeedPack {
                    stream: &e.stream,
                    department,
                    first_seq,
                    last_seq: seq,
                    entries,
                });
            }
        }
    }
    Ok(packs)
}

/// The entries of a feed pack row (`first_seq, stream, entries` and, when `department` is not
/// given, the department as a fourth column) after cursor `after_seq`.
fn changes_from_pack(
    row: &sqlx::any::AnyRow,
    department: Option<&str>,
    after_seq: u64,
) -> Result<Vec<StoredChange>, StoreError> {
    let department = match department {
        Some(department) => department.to_owned(),
        None => row.try_get(3)?,
    };
    let first_seq = db::to_u64(row.try_get(0)?, "first_seq")?;
    let stream: String = row.try_get(1)?;
    let entries: Vec<EntryIn> = serde_json::from_str(&row.try_get::<String, _>(2)?)
        .map_err(|e| StoreError::Corrupt(format!("feed pack at {first_seq} of {stream}: {e}")))?;
    let mut changes = Vec::with_capacity(entries.len());
    for (seq, EntryIn(measure_id, change, start, end, position)) in (first_seq..).zip(entries) {
        if seq <= after_seq {
            continue;
        }
        changes.push(StoredChange {
            seq,
            stream: stream.clone(),
            change: ChangeRow {
                department: department.clone(),
                measure_id,
                change,
                start: date(&start)?,
                end: opt_date(end)?,
                position,
            },
        });
    }
    Ok(changes)
}

/// Feed entries after `after_seq` from pack rows in sequence order, at most `limit`.
fn changes_from_packs(
    rows: &[sqlx::any::AnyRow],
    department: Option<&str>,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<StoredChange>, StoreError> {
    let mut changes = Vec::new();
    for row in rows {
        if changes.len() >= limit {
            break;
        }
        changes.extend(changes_from_pack(row, department, after_seq)?);
    }
    changes.truncate(limit);
    Ok(changes)
}

/// One value of a projection row, as both write paths bind it.
#[derive(Debug, Clone, Copy)]
enum Col<'a> {
    Int(i64),
    Text(&'a str),
    /// Stored as `YYYY-MM-DD` text.
    Date(NaiveDate),
    Null,
}

impl<'a> Col<'a> {
    fn opt_text(value: Option<&'a str>) -> Self {
        value.map_or(Col::Null, Col::Text)
    }

    fn opt_date(value: Option<NaiveDate>) -> Self {
        value.map_or(Col::Null, Col::Date)
    }

    fn position(value: u64) -> Self {
        Col::Int(db::to_i64(value))
    }

    fn bind_any(self, args: &mut AnyArguments<'static>) -> Result<(), StoreError> {
        match self {
            Col::Int(v) => add(args, v),
            Col::Text(v) => add(args, v.to_owned()),
            Col::Date(v) => add(args, v.to_string()),
            Col::Null => add(args, None::<String>),
        }
    }

    fn bind_direct(
        self,
        statement: &mut rusqlite::Statement<'_>,
        index: usize,
    ) -> rusqlite::Result<()> {
        match self {
            Col::Int(v) => statement.raw_bind_parameter(index, v),
            Col::Text(v) => statement.raw_bind_parameter(index, v),
            Col::Date(v) => {
                let mut buffer = [0u8; 10];
                match iso_date(v, &mut buffer) {
                    Some(text) => statement.raw_bind_parameter(index, text),
                    None => statement.raw_bind_parameter(index, v.to_string()),
                }
            }
            Col::Null => statement.raw_bind_parameter(index, rusqlite::types::Null),
        }
    }
}

/// `date` as `YYYY-MM-DD` in `buffer`, for years 0 to 9999 (`None` for others, which chrono
/// writes with a sign). chrono's `Display` goes through the formatting machinery character by
/// character, which showed as 4% of a rebuild.
fn iso_date(date: NaiveDate, buffer: &mut [u8; 10]) -> Option<&str> {
    use chrono::Datelike as _;
    let year = u32::try_from(date.year()).ok().filter(|y| *y <= 9_999)?;
    let digits = [year / 1000, year / 100 % 10, year / 10 % 10, year % 10];
    let (month, day) = (date.month(), date.day());
    let parts = [
        digits[0],
        digits[1],
        digits[2],
        digits[3],
        u32::MAX,
        month / 10,
        month % 10,
        u32::MAX,
        day / 10,
        day % 10,
    ];
    for (slot, part) in buffer.iter_mut().zip(parts) {
        // Every part is a digit (0-9) or the separator.
        *slot = if part == u32::MAX { b'-' } else { b'0' + part as u8 };
    }
    std::str::from_utf8(buffer).ok()
}

/// The tables one projection write inserts into, in the order it inserts.
#[derive(Debug, Clone, Copy)]
enum Table {
    Timelines,
    Restrictions,
    Lists,
    Disclosures,
    Changes,
}

impl Table {
    const ALL: [Table; 5] =
        [Table::Timelines, Table::Restrictions, Table::Lists, Table::Disclosures, Table::Changes];

    /// The names of the statement's `INSERT ... VALUES` and of what follows the values.
    fn statements(self) -> (&'static str, Option<&'static str>) {
        match self {
            Table::Timelines => ("upsert_timelines_prefix", Some("upsert_timelines_suffix")),
            Table::Restrictions => ("insert_restrictions_prefix", None),
            Table::Lists => ("insert_lists_prefix", None),
            Table::Disclosures => ("insert_disclosures_prefix", None),
            Table::Changes => ("insert_changes_prefix", None),
        }
    }

    fn columns(self) -> usize {
        match self {
            Table::Timelines => 5,
            Table::Restrictions => 9,
            Table::Lists => 8,
            Table::Disclosures => 7,
            Table::Changes => 6,
        }
    }

    /// The values of every row of this table across `entities`, row after row (for the feed,
    /// of every pack in `packs`).
    fn values<'a>(
        self,
        generation: i64,
        entities: &'a [EntityRows],
        packs: &'a [FeedPack<'a>],
    ) -> Vec<Col<'a>> {
        let mut out = Vec::new();
        if let Table::Changes = self {
            for p in packs {
                out.extend([
                    Col::Int(generation),
                    Col::Int(p.last_seq),
                    Col::Int(p.first_seq),
                    Col::Text(p.department),
                    Col::Text(p.stream),
                    Col::Text(&p.entries),
                ]);
            }
            return out;
        }
        for e in entities {
            let stream = Col::Text(&e.stream);
            match self {
                Table::Timelines => out.extend([
                    Col::Int(generation),
                    stream,
                    Col::position(e.position),
                    Col::opt_text(e.name.as_deref()),
                    Col::Text(&e.timeline),
                ]),
                Table::Restrictions => {
                    for (ordinal, r) in e.restrictions.iter().enumerate() {
                        out.extend([
                            Col::Int(generation),
                            Col::Text(&r.department),
                            stream,
                            Col::Text(&r.measure_id),
                            Col::Date(r.start),
                            Col::opt_date(r.end),
                            Col::Text(&r.trigger),
                            Col::position(r.position),
                            Col::position(ordinal as u64),
                        ]);
                    }
                }
                Table::Lists => {
                    for (ordinal, r) in e.lists.iter().enumerate() {
                        out.extend([
                            Col::Int(generation),
                            stream,
                            Col::Text(&r.list),
                            Col::Text(&r.ground),
                            Col::Date(r.start),
                            Col::opt_date(r.end),
                            Col::position(r.position),
                            Col::position(ordinal as u64),
                        ]);
                    }
                }
                Table::Disclosures => {
                    for (ordinal, r) in e.disclosures.iter().enumerate() {
                        out.extend([
                            Col::Int(generation),
                            stream,
                            Col::Text(&r.decision_number),
                            Col::Date(r.start),
                            Col::opt_date(r.end),
                            Col::position(r.position),
                            Col::position(ordinal as u64),
                        ]);
                    }
                }
                Table::Changes => {}
            }
        }
        // Both write paths cut the values into rows of `columns()`: a row short of a column
        // would shift every later value.
        debug_assert_eq!(out.len() % self.columns(), 0, "{self:?}");
        out
    }
}

/// The statements that delete an entity's rows before a refold writes them again.
const DELETE_ENTITY_ROWS: [&str; 3] =
    ["delete_entity_restrictions", "delete_entity_lists", "delete_entity_disclosures"];

/// One call of [`Store::write_projection`], owned so that it can move to a blocking thread.
#[derive(Debug)]
struct ProjectionWrite {
    name: String,
    checkpoint: String,
    generation: i64,
    entities: Vec<EntityRows>,
    fresh: bool,
    moved: Option<CheckpointMove>,
    step: Option<RebuildStep>,
}

/// A rebuild batch's move of the resume point (the last stream whose rows are written), made in
/// the same transaction as the batch's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildStep {
    /// The resume point the batch continues from (`None` at the rebuild's start): it must still
    /// be there, or the batch is refused (another rebuild of the same generation is writing)
    /// with nothing written.
    pub from: Option<String>,
    /// The last stream of the batch.
    pub to: String,
}

/// A move of a projection generation's checkpoint, made in the same transaction as the rows
/// computed from the events between the two positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointMove {
    /// The position the rows were computed from: the checkpoint must still be there, or the
    /// write is refused with [`StoreError::ProjectionMoved`] (another projector applied those
    /// events first, and applying them twice would repeat their change-feed entries).
    pub from: u64,
    /// The new checkpoint: the next position to apply.
    pub to: u64,
}

/// The refusal of a rebuild batch whose resume point another rebuild moved.
fn step_error(w: &ProjectionWrite) -> StoreError {
    StoreError::Unavailable(format!(
        "another rebuild is writing generation {} of projection {}; this one stops",
        w.generation, w.name
    ))
}

/// The refusal of a write whose checkpoint another projector moved (to `actual`).
fn moved_error(w: &ProjectionWrite, moved: CheckpointMove, actual: i64) -> StoreError {
    StoreError::ProjectionMoved {
        checkpoint: w.checkpoint.clone(),
        expected: moved.from,
        actual: u64::try_from(actual).unwrap_or(0),
    }
}

fn checkpoint_name(name: &str, generation: i64) -> String {
    format!("{name}@{generation}")
}

impl Store {
    /// The state of projection `name`, created (generation 1, position 0) on first use.
    pub async fn projection_state(&self, name: &str) -> Result<ProjectionState, StoreError> {
        let db = &self.inner.db;
        db.query("init_projection").bind(name.to_owned()).execute(&db.pool).await?;
        let row = db.query("projection_state").bind(name.to_owned()).fetch_one(&db.pool).await?;
        let active_generation: i64 = row.try_get(0)?;
        if self.inner.indexed_generation.load(std::sync::atomic::Ordering::Relaxed)
            != active_generation
        {
            self.index_generation(active_generation).await?;
        }
        let building: Option<i64> = row.try_get(1)?;
        let snapshot: Option<i64> = row.try_get(2)?;
        let after_stream: Option<String> = row.try_get(3)?;
        let active_position =
            self.projection_checkpoint(&checkpoint_name(name, active_generation)).await?;
        let building = match (building, snapshot) {
            (Some(generation), Some(snapshot)) => Some(Rebuilding {
                generation,
                snapshot: db::to_u64(snapshot, "rebuild snapshot")?,
                after_stream,
            }),
            _ => None,
        };
        Ok(ProjectionState { active_generation, active_position, building })
    }

    /// The generation serving reads of projection `name` (1 before it was ever written): one
    /// query, for the read path.
    pub async fn active_generation(&self, name: &str) -> Result<i64, StoreError> {
        let db = &self.inner.db;
        let row =
            db.query("projection_state").bind(name.to_owned()).fetch_optional(&db.pool).await?;
        match row {
            Some(row) => Ok(row.try_get(0)?),
            None => Ok(1),
        }
    }

    /// The position generation `generation` of projection `name` has applied up to.
    pub async fn generation_position(
        &self,
        name: &str,
        generation: i64,
    ) -> Result<u64, StoreError> {
        self.projection_checkpoint(&checkpoint_name(name, generation)).await
    }

    /// Starts a rebuild into a fresh generation, scanning the log up to `snapshot`.
    pub async fn begin_rebuild(&self, name: &str, snapshot: u64) -> Result<Rebuilding, StoreError> {
        let state = self.projection_state(name).await?;
        let generation =
            state.active_generation.max(state.building.as_ref().map_or(0, |b| b.generation)) + 1;
        self.drop_generation(generation).await?;
        let db = &self.inner.db;
        db.query("begin_rebuild")
            .bind(generation)
            .bind(db::to_i64(snapshot))
            .bind(name.to_owned())
            .execute(&db.pool)
            .await?;
        Ok(Rebuilding { generation, snapshot, after_stream: None })
    }

    /// Makes the building generation active, once its own indexes are built. The generation it
    /// replaces keeps its rows until [`Self::drop_retired_generations`] deletes them.
    pub async fn swap_generation(&self, name: &str, generation: i64) -> Result<(), StoreError> {
        self.index_generation(generation).await?;
        let db = &self.inner.db;
        let done = db
            .query("swap_generation")
            .bind(name.to_owned())
            .bind(generation)
            .execute(&db.pool)
            .await?
            .rows_affected();
        if done != 1 {
            return Err(StoreError::Unavailable(format!(
                "generation {generation} of projection {name} is no longer being built"
            )));
        }
        Ok(())
    }

    /// Deletes the rows and indexes of every generation below the active one of projection
    /// `name`.
    ///
    /// Apart from the generation the last swap retired, rows are left in older generations
    /// when a deletion was cut short by a crash, or when a tailer wrote the page it had in
    /// flight into a generation a swap had just retired: nothing reads them, and this is the
    /// one place that removes them. A generation that still has rows after
    /// [`DROP_RETIRED_ATTEMPTS_MAX`] deletions (a tailer of another process still writing
    /// into it) is left for the next call, with an error saying so.
    pub async fn drop_retired_generations(&self, name: &str) -> Result<(), StoreError> {
        let active = self.active_generation(name).await?;
        let db = &self.inner.db;
        let mut attempts = 0;
        loop {
            let row = db.query("older_generation").bind(active).fetch_one(&db.pool).await?;
            let Some(older) = row.try_get::<Option<i64>, _>(0)? else { break };
            attempts += 1;
            if attempts > DROP_RETIRED_ATTEMPTS_MAX {
                return Err(StoreError::Unavailable(format!(
                    "rows of retired generation {older} of projection {name} keep coming back; \
                     something still writes into it"
                )));
            }
            tracing::info!(generation = older, "deleting the rows of an inactive generation");
            self.drop_generation(older).await?;
        }
        // An index can outlive its rows: built for a generation a store had just read as
        // active while a swap retired it.
        for index in db.query("generation_indexes").fetch_all(&db.pool).await? {
            let index: String = index.try_get(0)?;
            let generation = GENERATION_INDEXES.iter().find_map(|(prefix, _, _)| {
                index.strip_prefix(prefix)?.strip_prefix("_g")?.parse::<i64>().ok()
            });
            if generation.is_some_and(|g| g < active) {
                sqlx::query(&format!("DROP INDEX IF EXISTS {index}")).execute(&db.pool).await?;
            }
        }
        Ok(())
    }

    /// Builds the indexes of `generation` of its own (`GENERATION_INDEXES`) unless they exist.
    ///
    /// A rebuild loads a fresh generation with none, then this builds each in one sorted pass,
    /// before the swap makes the generation readable; on PostgreSQL the build holds back writes
    /// to the table (tailing) for as long as it takes. The active generation is indexed when
    /// a store first reads the projection's state, which covers databases from before
    /// migration 0005 and the first generation.
    pub async fn index_generation(&self, generation: i64) -> Result<(), StoreError> {
        let db = &self.inner.db;
        for (name, table, columns) in GENERATION_INDEXES {
            let sql = with_generation(
                &format!(
                    "CREATE INDEX IF NOT EXISTS {name}_g{{generation}} ON {table} ({columns}) \
                     WHERE generation = {{generation}}"
                ),
                generation,
            )?;
            match sqlx::query(&sql).execute(&db.pool).await {
                Ok(_) => {}
                // Two stores indexing one generation at once: PostgreSQL lets both past the
                // IF NOT EXISTS check and refuses the second as a duplicate once the first has
                // committed, so the index is there either way.
                Err(sqlx::Error::Database(e))
                    if matches!(e.code().as_deref(), Some("23505" | "42P07")) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.inner.indexed_generation.store(generation, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(generation, "projection generation indexed");
        Ok(())
    }

    /// Deletes every row of `generation`, a chunk of about [`DROP_GENERATION_CHUNK_ROWS`]
    /// rows (or [`DROP_GENERATION_CHUNK_TIMELINES`] timelines) per statement: one statement
    /// for a whole generation held SQLite's write lock while it deleted every row of a table
    /// (over a million feed entries at a million benchmark events), and every append waited
    /// for as long. Each chunk starts after the last key of the one before: on PostgreSQL,
    /// deleted rows stay in the index until vacuumed, and a scan from the generation's first
    /// key would step over all of them again.
    async fn drop_generation(&self, generation: i64) -> Result<(), StoreError> {
        let db = &self.inner.db;
        // The generation's own indexes go first, so that deleting its rows does not update them.
        if generation >= 1 {
            for (name, _, _) in GENERATION_INDEXES {
                sqlx::query(&format!("DROP INDEX IF EXISTS {name}_g{generation}"))
                    .execute(&db.pool)
                    .await?;
            }
        }
        let chunk = |rows: usize| i64::try_from(rows).unwrap_or(i64::MAX);
        for (table, rows) in [
            ("timelines", DROP_GENERATION_CHUNK_TIMELINES),
            ("restrictions", DROP_GENERATION_CHUNK_ROWS),
            ("lists", DROP_GENERATION_CHUNK_ROWS),
            ("disclosures", DROP_GENERATION_CHUNK_ROWS),
        ] {
            let (bound, delete) =
                (format!("drop_generation_{table}_bound"), format!("drop_generation_{table}"));
            let mut after = String::new();
            loop {
                let last: Option<String> = db
                    .query(&bound)
                    .bind(generation)
                    .bind(after.clone())
                    .bind(chunk(rows))
                    .fetch_one(&db.pool)
                    .await?
                    .try_get(0)?;
                let Some(last) = last else { break };
                db.query(&delete)
                    .bind(generation)
                    .bind(after)
                    .bind(last.clone())
                    .execute(&db.pool)
                    .await?;
                after = last;
            }
        }
        let mut after = 0i64;
        loop {
            let last: Option<i64> = db
                .query("drop_generation_changes_bound")
                .bind(generation)
                .bind(after)
                .bind(chunk(DROP_GENERATION_CHUNK_ROWS))
                .fetch_one(&db.pool)
                .await?
                .try_get(0)?;
            let Some(last) = last else { break };
            db.query("drop_generation_changes")
                .bind(generation)
                .bind(after)
                .bind(last)
                .execute(&db.pool)
                .await?;
            after = last;
        }
        Ok(())
    }

    /// Events of streams after `after` and before `before` (by name), older than position
    /// `below`, in stream and version order: how a rebuild reads each entity's whole history
    /// at once without holding the log in memory.
    pub async fn read_streams_ordered(
        &self,
        after: &str,
        before: &str,
        below: u64,
        limit: usize,
    ) -> Result<Vec<ledger_core::RecordedEvent>, StoreError> {
        let sql = self.inner.db.queries.get("streams_ordered");
        let limit = db::to_i64(limit.min(crate::READ_PAGE_EVENTS_MAX) as u64);
        self.inner.native.bulk_events(sql, &[after, before], &[db::to_i64(below), limit]).await
    }

    /// Writes the rows of `entities` into `generation` and moves the projection's checkpoint,
    /// in one transaction.
    ///
    /// `fresh` says the entities have no rows in this generation yet (a rebuild), which saves
    /// the deletes. `moved` moves the generation's checkpoint, refused as
    /// [`StoreError::ProjectionMoved`] with nothing written when the checkpoint is no longer
    /// at `moved.from`; on a rebuild `step` moves the resume point, refused likewise when
    /// another rebuild moved it first. On a SQLite
    /// file the write goes through the direct connection (see [`crate::sqlite_direct`]),
    /// elsewhere through sqlx; the statements are the same.
    pub async fn write_projection(
        &self,
        name: &str,
        generation: i64,
        entities: Vec<EntityRows>,
        fresh: bool,
        moved: Option<CheckpointMove>,
        step: Option<RebuildStep>,
    ) -> Result<(), StoreError> {
        let write = ProjectionWrite {
            checkpoint: checkpoint_name(name, generation),
            name: name.to_owned(),
            generation,
            entities,
            fresh,
            moved,
            step,
        };
        if let db::NativePool::Sqlite(_, Some(direct)) = &self.inner.native {
            let (direct, store) = (direct.clone(), self.clone());
            return tokio::task::spawn_blocking(move || {
                direct.write(|tx| store.write_projection_direct(tx, &write))
            })
            .await
            .map_err(|e| StoreError::Direct(format!("the projection write task failed: {e}")))?;
        }
        self.write_projection_sqlx(&write).await
    }

    async fn write_projection_sqlx(&self, w: &ProjectionWrite) -> Result<(), StoreError> {
        let db = &self.inner.db;
        let q = &db.queries;
        let mut tx = db.pool.begin().await?;
        // The checkpoint first: a projector that lost the race learns it before writing rows,
        // and on PostgreSQL the row lock queues a concurrent one behind this transaction.
        if let Some(moved) = w.moved {
            let changed = db
                .query("advance_projection_checkpoint")
                .bind(w.checkpoint.clone())
                .bind(db::to_i64(moved.to))
                .bind(0i64)
                .bind(db::to_i64(moved.from))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if changed != 1 {
                let actual = db
                    .query("get_projection_checkpoint")
                    .bind(w.checkpoint.clone())
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|row| row.try_get::<i64, _>(0))
                    .transpose()?
                    .unwrap_or(0);
                return Err(moved_error(w, moved, actual));
            }
        }
        if let Some(step) = &w.step {
            let changed = db
                .query("rebuild_progress")
                .bind(step.to.clone())
                .bind(w.name.clone())
                .bind(w.generation)
                .bind(step.from.clone())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if changed != 1 {
                return Err(step_error(w));
            }
        }
        if !w.fresh {
            for entity in &w.entities {
                for statement in DELETE_ENTITY_ROWS {
                    db.query(statement)
                        .bind(w.generation)
                        .bind(entity.stream.clone())
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        let last_seq: i64 = if w.entities.iter().any(|e| !e.changes.is_empty()) {
            db.query("max_change_seq").bind(w.generation).fetch_one(&mut *tx).await?.try_get(0)?
        } else {
            0
        };
        let packs = feed_packs(&w.entities, last_seq)?;
        for table in Table::ALL {
            let values = table.values(w.generation, &w.entities, &packs);
            let (prefix, suffix) = table.statements();
            let (prefix, suffix) = (q.get(prefix), suffix.map_or("", |s| q.get(s)));
            let columns = table.columns();
            let rows: Vec<&[Col<'_>]> = values.chunks_exact(columns).collect();
            for chunk in db::statement_chunks(&rows) {
                let sql = db.values_statement(prefix, suffix, chunk.len(), columns);
                let mut args = AnyArguments::default();
                for value in chunk.iter().flat_map(|row| row.iter()) {
                    value.bind_any(&mut args)?;
                }
                sqlx::query_with(&sql, args).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// [`Self::write_projection_sqlx`] on the direct SQLite connection, inside `tx`: one
    /// prepared single-row statement per table, executed row after row.
    fn write_projection_direct(
        &self,
        tx: &rusqlite::Transaction<'_>,
        w: &ProjectionWrite,
    ) -> Result<(), StoreError> {
        use crate::sqlite_direct::failed;
        use rusqlite::OptionalExtension as _;
        let db = &self.inner.db;
        let q = &db.queries;
        if let Some(moved) = w.moved {
            let changed = tx
                .execute(
                    q.get("advance_projection_checkpoint"),
                    (w.checkpoint.as_str(), db::to_i64(moved.to), 0i64, db::to_i64(moved.from)),
                )
                .map_err(failed)?;
            if changed != 1 {
                let actual: Option<i64> = tx
                    .query_row(q.get("get_projection_checkpoint"), [w.checkpoint.as_str()], |row| {
                        row.get(0)
                    })
                    .optional()
                    .map_err(failed)?;
                return Err(moved_error(w, moved, actual.unwrap_or(0)));
            }
        }
        if let Some(step) = &w.step {
            let changed = tx
                .execute(
                    q.get("rebuild_progress"),
                    (step.to.as_str(), w.name.as_str(), w.generation, step.from.as_deref()),
                )
                .map_err(failed)?;
            if changed != 1 {
                return Err(step_error(w));
            }
        }
        if !w.fresh {
            for statement in DELETE_ENTITY_ROWS {
                let mut statement = tx.prepare_cached(q.get(statement)).map_err(failed)?;
                for entity in &w.entities {
                    statement.execute((w.generation, entity.stream.as_str())).map_err(failed)?;
                }
            }
        }
        let last_seq: i64 = if w.entities.iter().any(|e| !e.changes.is_empty()) {
            tx.query_row(q.get("max_change_seq"), [w.generation], |row| row.get(0))
                .map_err(failed)?
        } else {
            0
        };
        let packs = feed_packs(&w.entities, last_seq)?;
        for table in Table::ALL {
            let values = table.values(w.generation, &w.entities, &packs);
            if values.is_empty() {
                continue;
            }
            let (prefix, suffix) = table.statements();
            let (prefix, suffix) = (q.get(prefix), suffix.map_or("", |s| q.get(s)));
            let columns = table.columns();
            let sql = db.values_statement(prefix, suffix, 1, columns);
            let mut statement = tx.prepare_cached(&sql).map_err(failed)?;
            for row in values.chunks(columns) {
                for (index, value) in row.iter().enumerate() {
                    value.bind_direct(&mut statement, index + 1).map_err(failed)?;
                }
                statement.raw_execute().map_err(failed)?;
            }
        }
        Ok(())
    }

    /// The cached timeline of a stream in a generation.
    pub async fn entity_timeline(
        &self,
        generation: i64,
        stream: &str,
    ) -> Result<Option<CachedTimeline>, StoreError> {
        let sql = self.inner.db.queries.get("entity_timeline");
        let args = [db::Bind::Int(generation), db::Bind::Text(stream)];
        match self.inner.native.optional_row::<(i64, Option<String>, String)>(sql, &args).await? {
            None => Ok(None),
            Some((position, name, timeline)) => Ok(Some(CachedTimeline {
                position: db::to_u64(position, "position")?,
                name,
                timeline,
            })),
        }
    }

    /// The last position applied to a stream's cached timeline, without the timeline.
    pub async fn entity_timeline_head(
        &self,
        generation: i64,
        stream: &str,
    ) -> Result<Option<u64>, StoreError> {
        let sql = self.inner.db.queries.get("entity_timeline_head");
        let args = [db::Bind::Int(generation), db::Bind::Text(stream)];
        let position = self.inner.native.optional_row::<(i64,)>(sql, &args).await?.map(|(p,)| p);
        position.map(|p| db::to_u64(p, "position")).transpose()
    }

    /// Restrictions of a department in force on `as_of`, by stream, after `after_stream`.
    pub async fn department_restrictions(
        &self,
        generation: i64,
        department: &str,
        as_of: NaiveDate,
        after_stream: &str,
        limit: usize,
    ) -> Result<Vec<StoredRestriction>, StoreError> {
        let db = &self.inner.db;
        let sql = with_generation(db.queries.get("department_restrictions"), generation)?;
        let rows = sqlx::query(&sql)
            .bind(department.to_owned())
            .bind(as_of.to_string())
            .bind(as_of.to_string())
            .bind(after_stream.to_owned())
            .bind(limit.min(PROJECTION_PAGE_ROWS_MAX) as i64)
            .fetch_all(&db.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredRestriction {
                    stream: row.try_get(0)?,
                    row: RestrictionRow {
                        department: department.to_owned(),
                        measure_id: row.try_get(1)?,
                        start: date(&row.try_get::<String, _>(2)?)?,
                        end: opt_date(row.try_get(3)?)?,
                        trigger: row.try_get(4)?,
                        position: db::to_u64(row.try_get(5)?, "position")?,
                    },
                })
            })
            .collect()
    }

    /// A department's restriction changes after feed cursor `after_seq`.
    pub async fn department_changes(
        &self,
        generation: i64,
        department: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredChange>, StoreError> {
        self.read_feed(generation, Some(department), after_seq, limit).await
    }

    /// Every department's restriction changes after feed cursor `after_seq`.
    pub async fn all_changes(
        &self,
        generation: i64,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredChange>, StoreError> {
        self.read_feed(generation, None, after_seq, limit).await
    }

    /// Reads feed packs [`FEED_PACKS_PER_READ`] at a time until `limit` entries after
    /// `after_seq` are found or the feed ends.
    async fn read_feed(
        &self,
        generation: i64,
        department: Option<&str>,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredChange>, StoreError> {
        let db = &self.inner.db;
        let limit = limit.min(PROJECTION_PAGE_ROWS_MAX);
        let mut changes = Vec::new();
        let mut cursor = after_seq;
        while changes.len() < limit {
            let query = match department {
                Some(department) => {
                    db.query("department_changes").bind(generation).bind(department.to_owned())
                }
                None => db.query("all_changes").bind(generation),
            };
            let rows = query
                .bind(db::to_i64(cursor))
                .bind(FEED_PACKS_PER_READ as i64)
                .fetch_all(&db.pool)
                .await?;
            changes.extend(changes_from_packs(&rows, department, cursor, limit - changes.len())?);
            match changes.last() {
                Some(last) if rows.len() == FEED_PACKS_PER_READ => cursor = last.seq,
                _ => break,
            }
        }
        Ok(changes)
    }

    /// Penalties publicly shown on `as_of`, by stream, after `after_stream`.
    pub async fn disclosures_at(
        &self,
        generation: i64,
        as_of: NaiveDate,
        after_stream: &str,
        limit: usize,
    ) -> Result<Vec<(String, DisclosureRow)>, StoreError> {
        let db = &self.inner.db;
        let rows = db
            .query("disclosures_at")
            .bind(generation)
            .bind(as_of.to_string())
            .bind(as_of.to_string())
            .bind(after_stream.to_owned())
            .bind(limit.min(PROJECTION_PAGE_ROWS_MAX) as i64)
            .fetch_all(&db.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get(0)?,
                    DisclosureRow {
                        decision_number: row.try_get(1)?,
                        start: date(&row.try_get::<String, _>(2)?)?,
                        end: opt_date(row.try_get(3)?)?,
                        position: db::to_u64(row.try_get(4)?, "position")?,
                    },
                ))
            })
            .collect()
    }

    /// Dashboard counts: list entries by list, ground and month (`YYYY-MM`), and restrictions
    /// started by department and month.
    pub async fn projection_counts(&self, generation: i64) -> Result<Counts, StoreError> {
        let db = &self.inner.db;
        let lists = db.query("list_counts").bind(generation).fetch_all(&db.pool).await?;
        let restrictions =
            db.query("restriction_counts").bind(generation).fetch_all(&db.pool).await?;
        Ok(Counts {
            list_entries: lists
                .iter()
                .map(|r| {
                    Ok((
                        r.try_get(0)?,
                        r.try_get(1)?,
                        r.try_get(2)?,
                        db::to_u64(r.try_get(3)?, "count")?,
                    ))
                })
                .collect::<Result<_, StoreError>>()?,
            restrictions_started: restrictions
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, db::to_u64(r.try_get(2)?, "count")?)))
                .collect::<Result<_, StoreError>>()?,
        })
    }
}

/// Aggregates for dashboards.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// (list, ground, month, entries).
    pub list_entries: Vec<(String, String, String, u64)>,
    /// (department, month, restrictions started).
    pub restrictions_started: Vec<(String, String, u64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_match_chrono() {
        let mut buffer = [0u8; 10];
        for (y, m, d) in [(2026, 12, 4), (1, 1, 1), (999, 10, 31), (9999, 12, 31), (2024, 2, 29)] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(iso_date(date, &mut buffer), Some(date.to_string().as_str()));
        }
        let far = NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap();
        assert_eq!(iso_date(far, &mut buffer), None);
        let before = NaiveDate::from_ymd_opt(-1, 1, 1).unwrap();
        assert_eq!(iso_date(before, &mut buffer), None);
    }
}
