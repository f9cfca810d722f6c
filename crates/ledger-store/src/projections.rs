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
    "drop_generation_timelines",
    "drop_generation_restrictions",
    "drop_generation_lists",
    "drop_generation_disclosures",
    "drop_generation_changes",
];

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

/// Decodes a change row (`seq, stream, measure_id, change, start, end, position` and, when
/// `department` is not given, the department as an eighth column).
fn change_from_row(
    row: &sqlx::any::AnyRow,
    department: Option<&str>,
) -> Result<StoredChange, StoreError> {
    let department = match department {
        Some(department) => department.to_owned(),
        None => row.try_get(7)?,
    };
    Ok(StoredChange {
        seq: db::to_u64(row.try_get(0)?, "seq")?,
        stream: row.try_get(1)?,
        change: ChangeRow {
            department,
            measure_id: row.try_get(2)?,
            change: row.try_get(3)?,
            start: date(&row.try_get::<String, _>(4)?)?,
            end: opt_date(row.try_get(5)?)?,
            position: db::to_u64(row.try_get(6)?, "position")?,
        },
    })
}

/// Every row of one kind across `entities`, paired with its entity's stream.
fn rows_of<'a, T>(
    entities: &'a [EntityRows],
    rows: impl Fn(&'a EntityRows) -> &'a Vec<T>,
) -> Vec<(&'a str, &'a T)> {
    entities.iter().flat_map(|e| rows(e).iter().map(move |r| (e.stream.as_str(), r))).collect()
}

/// Inserts `rows` with multi-row statements (`prefix`, tuples of `columns` values, `suffix`),
/// binding each row's values with `bind`.
async fn insert_rows<T>(
    db: &db::Db,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    prefix: &str,
    suffix: &str,
    columns: usize,
    rows: &[T],
    mut bind: impl FnMut(&mut AnyArguments<'static>, &T) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(db::ROWS_PER_STATEMENT_MAX) {
        let sql = db.values_statement(prefix, suffix, chunk.len(), columns);
        let mut args = AnyArguments::default();
        for row in chunk {
            bind(&mut args, row)?;
        }
        sqlx::query_with(&sql, args).execute(&mut **tx).await?;
    }
    Ok(())
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

    /// Makes the building generation active and deletes the old one.
    pub async fn swap_generation(&self, name: &str, generation: i64) -> Result<(), StoreError> {
        let old = self.projection_state(name).await?.active_generation;
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
        self.drop_generation(old).await
    }

    async fn drop_generation(&self, generation: i64) -> Result<(), StoreError> {
        let db = &self.inner.db;
        for statement in [
            "drop_generation_timelines",
            "drop_generation_restrictions",
            "drop_generation_lists",
            "drop_generation_disclosures",
            "drop_generation_changes",
        ] {
            db.query(statement).bind(generation).execute(&db.pool).await?;
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
    /// the deletes. `position` is the new checkpoint (the next position to apply); on a
    /// rebuild `after_stream` is the last stream finished.
    pub async fn write_projection(
        &self,
        name: &str,
        generation: i64,
        entities: &[EntityRows],
        fresh: bool,
        position: Option<u64>,
        after_stream: Option<&str>,
    ) -> Result<(), StoreError> {
        let db = &self.inner.db;
        let q = &db.queries;
        let mut tx = db.pool.begin().await?;

        if !fresh {
            for entity in entities {
                for statement in [
                    "delete_entity_restrictions",
                    "delete_entity_lists",
                    "delete_entity_disclosures",
                ] {
                    db.query(statement)
                        .bind(generation)
                        .bind(entity.stream.clone())
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }

        let timelines = q.get("upsert_timelines_suffix");
        insert_rows(
            db,
            &mut tx,
            q.get("upsert_timelines_prefix"),
            timelines,
            5,
            entities,
            |a, e| {
                add(a, generation)?;
                add(a, e.stream.clone())?;
                add(a, db::to_i64(e.position))?;
                add(a, e.name.clone())?;
                add(a, e.timeline.clone())
            },
        )
        .await?;

        let restrictions: Vec<(&str, &RestrictionRow)> = rows_of(entities, |e| &e.restrictions);
        insert_rows(
            db,
            &mut tx,
            q.get("insert_restrictions_prefix"),
            "",
            8,
            &restrictions,
            |a, (stream, r)| {
                add(a, generation)?;
                add(a, r.department.clone())?;
                add(a, (*stream).to_owned())?;
                add(a, r.measure_id.clone())?;
                add(a, r.start.to_string())?;
                add(a, r.end.map(|d| d.to_string()))?;
                add(a, r.trigger.clone())?;
                add(a, db::to_i64(r.position))
            },
        )
        .await?;

        let lists: Vec<(&str, &ListRow)> = rows_of(entities, |e| &e.lists);
        insert_rows(db, &mut tx, q.get("insert_lists_prefix"), "", 7, &lists, |a, (stream, r)| {
            add(a, generation)?;
            add(a, (*stream).to_owned())?;
            add(a, r.list.clone())?;
            add(a, r.ground.clone())?;
            add(a, r.start.to_string())?;
            add(a, r.end.map(|d| d.to_string()))?;
            add(a, db::to_i64(r.position))
        })
        .await?;

        let disclosures: Vec<(&str, &DisclosureRow)> = rows_of(entities, |e| &e.disclosures);
        insert_rows(
            db,
            &mut tx,
            q.get("insert_disclosures_prefix"),
            "",
            6,
            &disclosures,
            |a, (stream, r)| {
                add(a, generation)?;
                add(a, (*stream).to_owned())?;
                add(a, r.decision_number.clone())?;
                add(a, r.start.to_string())?;
                add(a, r.end.map(|d| d.to_string()))?;
                add(a, db::to_i64(r.position))
            },
        )
        .await?;

        let changes: Vec<(&str, &ChangeRow)> = rows_of(entities, |e| &e.changes);
        if !changes.is_empty() {
            let row = db.query("max_change_seq").bind(generation).fetch_one(&mut *tx).await?;
            let mut seq: i64 = row.try_get(0)?;
            insert_rows(
                db,
                &mut tx,
                q.get("insert_changes_prefix"),
                "",
                9,
                &changes,
                |a, (stream, r)| {
                    seq += 1;
                    add(a, generation)?;
                    add(a, seq)?;
                    add(a, r.department.clone())?;
                    add(a, (*stream).to_owned())?;
                    add(a, r.measure_id.clone())?;
                    add(a, r.change.clone())?;
                    add(a, r.start.to_string())?;
                    add(a, r.end.map(|d| d.to_string()))?;
                    add(a, db::to_i64(r.position))
                },
            )
            .await?;
        }

        if let Some(position) = position {
            db.query("put_projection_checkpoint")
                .bind(checkpoint_name(name, generation))
                .bind(db::to_i64(position))
                .bind(0i64)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(after) = after_stream {
            db.query("rebuild_progress")
                .bind(after.to_owned())
                .bind(name.to_owned())
                .bind(generation)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
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
        let rows = db
            .query("department_restrictions")
            .bind(generation)
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
        let db = &self.inner.db;
        let rows = db
            .query("department_changes")
            .bind(generation)
            .bind(department.to_owned())
            .bind(db::to_i64(after_seq))
            .bind(limit.min(PROJECTION_PAGE_ROWS_MAX) as i64)
            .fetch_all(&db.pool)
            .await?;
        rows.iter().map(|row| change_from_row(row, Some(department))).collect()
    }

    /// Every department's restriction changes after feed cursor `after_seq`.
    pub async fn all_changes(
        &self,
        generation: i64,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredChange>, StoreError> {
        let db = &self.inner.db;
        let rows = db
            .query("all_changes")
            .bind(generation)
            .bind(db::to_i64(after_seq))
            .bind(limit.min(PROJECTION_PAGE_ROWS_MAX) as i64)
            .fetch_all(&db.pool)
            .await?;
        rows.iter().map(|row| change_from_row(row, None)).collect()
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
