//! Projections against the fold, on SQLite and PostgreSQL: tailing, rebuild, resume, change
//! feed, and tampering found by a rebuild.

#[path = "../crates/ledger-rules/tests/support/mod.rs"]
mod rules_support;

use chrono::NaiveDate;
use ledger_core::event::ProposedEvent;
use ledger_core::events::{
    AbnormalGround, AbnormalRemovalReason, CaseCategory, DomainEvent, PenaltyKind, SeriousGround,
};
use ledger_core::{CreditCode, StreamName};
use ledger_projections::{ensure_catalogue, ProjectionError, Projector, PROJECTION};
use ledger_store::projections::{CheckpointMove, RebuildStep};
use ledger_store::{AppendRequest, ExpectedVersion, Store, StoreError};
use ledger_testkit::{backend_tests, Kind, TestDb};
use rules_support::{d, morning};

backend_tests!(
    tailing_equals_the_fold,
    rebuild_equals_tailing_and_swaps,
    interrupted_rebuild_resumes,
    change_feed_follows_removals,
    known_at_answers_as_the_ledger_knew,
    rebuild_stops_on_tampering,
    a_swap_deletes_the_old_generation_in_chunks,
    a_closed_store_writes_no_projection,
    a_swap_also_deletes_rows_left_in_older_generations,
    feed_packs_read_back_entry_by_entry,
    feed_entries_from_before_packs_survive_the_migration,
    each_generation_reads_through_indexes_of_its_own,
    random_histories_project_as_they_fold,
    a_write_from_a_moved_checkpoint_writes_nothing,
    two_projectors_apply_each_event_once,
    a_second_rebuild_of_one_generation_stops,
    indexes_left_on_retired_generations_go,
);

const ENTITIES: u64 = 24;

/// A checkpoint move from `from` to `to`, for direct projection writes.
fn moved(from: u64, to: u64) -> Option<CheckpointMove> {
    Some(CheckpointMove { from, to })
}

fn code(i: u64) -> CreditCode {
    CreditCode::complete(&format!("91620502MA{:06}", 100 + i)).unwrap()
}

async fn record(store: &Store, code: &CreditCode, date: NaiveDate, event: DomainEvent) -> u64 {
    let proposal = ProposedEvent::new(
        uuid::Uuid::now_v7(),
        event.event_type(),
        event.schema_version(),
        morning(date),
        &event.to_payload(),
    )
    .unwrap();
    let request =
        AppendRequest::new(StreamName::entity(code), ExpectedVersion::Any, vec![proposal], "test");
    store.append(request).await.unwrap().events[0].position
}

/// Varied histories: abnormal stays (some removed), heavy penalties with serious listings,
/// plain fines.
async fn populate(store: &Store) {
    ensure_catalogue(store, "test").await.unwrap();
    for i in 0..ENTITIES {
        let c = code(i);
        record(store, &c, d(2019, 1, 1 + i as u32), rules_support::registered_code(c, None)).await;
        if i % 3 == 0 {
            let entry = format!("ABN-{i}");
            let ground = AbnormalGround::AnnualReportNotFiled;
            record(store, &c, d(2022, 7, 15), rules_support::abnormal_entered(ground, &entry))
                .await;
            if i % 2 == 0 {
                let reason = AbnormalRemovalReason::AnnualReportFiled;
                record(store, &c, d(2023, 1, 10), rules_support::abnormal_removed(reason, &entry))
                    .await;
            }
        }
        if i % 4 == 1 {
            let number = format!("PEN-{i}");
            let mut penalty = rules_support::penalty(
                &number,
                CaseCategory::Food,
                &[PenaltyKind::Fine, PenaltyKind::LicenceRevocation],
                5_000_000,
            );
            penalty.aggravated = true;
            record(store, &c, d(2023, 3, 1), rules_support::decided(penalty)).await;
            let listing = rules_support::serious_entered(
                SeriousGround::FoodSafety,
                &[&number],
                &format!("SER-{i}"),
                None,
            );
            record(store, &c, d(2023, 3, 20), listing).await;
        }
        if i % 5 == 2 {
            record(
                store,
                &c,
                d(2024, 5, 5),
                rules_support::fined(&format!("FINE-{i}"), CaseCategory::Advertising, 200_000),
            )
            .await;
        }
    }
}

/// A fresh database with the fixed population, and a projector that has tailed all of it.
async fn tailed_population(kind: Kind) -> (TestDb, Store, Projector) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    populate(&store).await;
    let projector = Projector::new(store.clone()).await.unwrap();
    projector.catch_up().await.unwrap();
    (db, store, projector)
}

async fn stream_of(store: &Store, c: &CreditCode) -> Vec<ledger_core::RecordedEvent> {
    store.read_stream(&StreamName::entity(c), 1, 10_000).await.unwrap()
}

const DATES: [(i32, u32, u32); 6] =
    [(2020, 1, 1), (2022, 8, 1), (2023, 2, 1), (2023, 4, 1), (2025, 1, 1), (2027, 6, 1)];

async fn assert_matches_fold(projector: &Projector) {
    let dates: Vec<NaiveDate> = DATES.iter().map(|&(y, m, day)| d(y, m, day)).collect();
    let restricted = assert_matches_fold_on(projector, ENTITIES, &dates).await;
    assert!(restricted, "the scenario must produce restrictions to compare");
}

/// Checks the statuses of the first `entities` entities on `dates`, and the department index
/// on those dates, against the fold of their streams; says whether any was restricted.
async fn assert_matches_fold_on(projector: &Projector, entities: u64, dates: &[NaiveDate]) -> bool {
    let store = projector.store();
    let catalogue = projector.catalogue();
    let generation = store.projection_state(PROJECTION).await.unwrap().active_generation;
    let mut restricted_somewhere = false;
    for i in 0..entities {
        let c = code(i);
        let events = stream_of(store, &c).await;
        for &date in dates {
            let expected = ledger_rules::fold(&events, &catalogue, date, None);
            let got = projector.status(&c, date, None).await.unwrap();
            assert_eq!(got, expected, "entity {i} on {date}");
            restricted_somewhere |= !expected.restrictions.is_empty();
        }
    }
    // The department index holds exactly the restrictions the fold gives.
    for &date in dates {
        let mut departments = std::collections::BTreeMap::<String, Vec<String>>::new();
        for i in 0..entities {
            let c = code(i);
            let status = ledger_rules::fold(&stream_of(store, &c).await, &catalogue, date, None);
            for r in status.restrictions {
                departments.entry(r.department).or_default().push(format!(
                    "{}|{}",
                    StreamName::entity(&c),
                    r.measure_id
                ));
            }
        }
        // Every department of the catalogue, so that rows where the fold has none show too.
        for measure in &catalogue.measures {
            departments.entry(measure.department.clone()).or_default();
        }
        for (department, mut expected) in departments {
            let rows = store
                .department_restrictions(generation, &department, date, "", 1000)
                .await
                .unwrap();
            let mut got: Vec<String> =
                rows.iter().map(|r| format!("{}|{}", r.stream, r.row.measure_id)).collect();
            got.sort();
            expected.sort();
            assert_eq!(got, expected, "department {department} on {date}");
        }
    }
    restricted_somewhere
}

async fn tailing_equals_the_fold(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    populate(&store).await;
    let projector = Projector::new(store.clone()).await.unwrap();
    let applied = projector.catch_up().await.unwrap();
    assert_eq!(applied, store.size().await.unwrap());
    assert_matches_fold(&projector).await;
    // Nothing new: catching up again reads nothing.
    assert_eq!(projector.catch_up().await.unwrap(), 0);
    let counts = store.projection_counts(1).await.unwrap();
    assert!(!counts.list_entries.is_empty() && !counts.restrictions_started.is_empty());
    store.close().await;
}

async fn rebuild_equals_tailing_and_swaps(kind: Kind) {
    let (_db, store, projector) = tailed_population(kind).await;
    let before: Vec<_> = futures_timelines(&projector).await;

    // Reads keep being answered while the rebuild runs.
    let reader = {
        let projector = projector.clone();
        tokio::spawn(async move {
            for _ in 0..20 {
                projector.status(&code(1), d(2024, 1, 1), None).await.unwrap();
            }
        })
    };
    let mut reports = 0;
    let report = projector.rebuild(|_| reports += 1).await.unwrap();
    reader.await.unwrap();
    assert!(reports >= 1);
    assert_eq!(report.generation, 2);
    assert_eq!(report.entities, ENTITIES);
    assert_eq!(report.position, store.size().await.unwrap());
    assert_eq!(store.projection_state(PROJECTION).await.unwrap().active_generation, 2);
    assert_eq!(futures_timelines(&projector).await, before);
    assert_matches_fold(&projector).await;
    store.close().await;
}

async fn futures_timelines(projector: &Projector) -> Vec<ledger_rules::Timeline> {
    timelines_of(projector, ENTITIES).await
}

async fn timelines_of(projector: &Projector, entities: u64) -> Vec<ledger_rules::Timeline> {
    let mut out = Vec::new();
    for i in 0..entities {
        out.push((*projector.timeline(&code(i)).await.unwrap()).clone());
    }
    out
}

async fn interrupted_rebuild_resumes(kind: Kind) {
    let (_db, store, projector) = tailed_population(kind).await;

    // A rebuild that "crashed" after writing its first entity.
    let building = store.begin_rebuild(PROJECTION, store.size().await.unwrap()).await.unwrap();
    let first = StreamName::entity(&code(0));
    let events = store.read_stream(&first, 1, 100).await.unwrap();
    let timeline = ledger_rules::timeline(&events, &projector.catalogue(), None);
    let rows = ledger_projections::entity_rows(first.as_str(), &events, &timeline, None);
    store
        .write_projection(
            PROJECTION,
            building.generation,
            vec![rows],
            true,
            None,
            Some(RebuildStep { from: None, to: first.to_string() }),
        )
        .await
        .unwrap();
    let state = store.projection_state(PROJECTION).await.unwrap();
    assert_eq!(state.building.as_ref().unwrap().after_stream.as_deref(), Some(first.as_str()));
    assert_eq!(state.active_generation, 1);

    // A new rebuild resumes it, writing only the other entities.
    let report = projector.rebuild(|_| {}).await.unwrap();
    assert_eq!(report.generation, building.generation);
    assert_eq!(report.entities, ENTITIES - 1);
    assert_matches_fold(&projector).await;
    store.close().await;
}

async fn change_feed_follows_removals(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    ensure_catalogue(&store, "test").await.unwrap();
    let projector = Projector::new(store.clone()).await.unwrap();
    let c = code(500);
    record(&store, &c, d(2021, 1, 1), rules_support::registered_code(c, None)).await;
    let ground = AbnormalGround::AnnualReportNotFiled;
    record(&store, &c, d(2022, 7, 15), rules_support::abnormal_entered(ground, "ABN-X")).await;
    projector.catch_up().await.unwrap();
    let status = projector.status(&c, d(2022, 8, 1), None).await.unwrap();
    let restriction =
        status.restrictions.first().expect("the abnormal list restricts something").clone();

    let feed = store.department_changes(1, &restriction.department, 0, 100).await.unwrap();
    assert!(
        feed.iter().any(|f| f.change.change == "started" && f.change.end.is_none()),
        "{feed:?}"
    );
    let cursor = feed.last().unwrap().seq;

    let removal =
        rules_support::abnormal_removed(AbnormalRemovalReason::AnnualReportFiled, "ABN-X");
    let removed_at = record(&store, &c, d(2023, 1, 10), removal).await;
    projector.catch_up().await.unwrap();
    let after = store.department_changes(1, &restriction.department, cursor, 100).await.unwrap();
    let ended =
        after.iter().find(|f| f.change.measure_id == restriction.measure_id).expect("an end");
    assert_eq!(ended.change.change, "ended");
    assert_eq!(ended.change.position, removed_at);
    assert!(ended.change.end.is_some());
    assert!(projector
        .status(&c, d(2023, 6, 1), None)
        .await
        .unwrap()
        .restrictions
        .iter()
        .all(|r| r.measure_id != restriction.measure_id));
    store.close().await;
}

async fn known_at_answers_as_the_ledger_knew(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    ensure_catalogue(&store, "test").await.unwrap();
    let projector = Projector::new(store.clone()).await.unwrap();
    let c = code(600);
    record(&store, &c, d(2021, 1, 1), rules_support::registered_code(c, None)).await;
    let ground = AbnormalGround::UnreachableAtAddress;
    let entered =
        record(&store, &c, d(2022, 7, 15), rules_support::abnormal_entered(ground, "ABN-Y")).await;
    // The removal is effective 2022-09-01 but recorded later.
    let removal = rules_support::abnormal_removed(AbnormalRemovalReason::ReachableAgain, "ABN-Y");
    record(&store, &c, d(2022, 9, 1), removal).await;
    projector.catch_up().await.unwrap();
    let asked = d(2022, 10, 1);
    let now = projector.status(&c, asked, None).await.unwrap();
    assert!(now.lists.is_empty());
    let then = projector.status(&c, asked, Some(entered)).await.unwrap();
    assert_eq!(then.lists.len(), 1, "as known at the entry, the entity was listed");
    store.close().await;
}

async fn rebuild_stops_on_tampering(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    populate(&store).await;
    let projector = Projector::new(store.clone()).await.unwrap();
    let victim = store.read_stream(&StreamName::entity(&code(3)), 2, 1).await.unwrap().remove(0);
    let sql = format!("UPDATE events SET payload = {} WHERE position = {}", db.ph(1), db.ph(2));
    let pool = db.raw().await;
    sqlx::query(&sql)
        .bind(br#"{"forged":true}"#.to_vec())
        .bind(victim.position as i64)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    match projector.rebuild(|_| {}).await {
        Err(ProjectionError::Tampered { position, .. }) => assert_eq!(position, victim.position),
        other => panic!("expected the rebuild to stop on the tampered event, got {other:?}"),
    }
    // The old generation still serves.
    assert_eq!(store.projection_state(PROJECTION).await.unwrap().active_generation, 1);
    store.close().await;
}

/// Synthetic rows: `restrictions` intervals, as many feed entries, one list stay and one
/// publication for each of `entities` streams.
fn synthetic_rows(
    entities: usize,
    restrictions: usize,
) -> Vec<ledger_store::projections::EntityRows> {
    use ledger_store::projections::{
        ChangeRow, DisclosureRow, EntityRows, ListRow, RestrictionRow,
    };
    let start = d(2024, 1, 1);
    (0..entities)
        .map(|e| EntityRows {
            stream: StreamName::entity(&code(e as u64)).to_string(),
            position: e as u64,
            name: Some(format!("entity {e}")),
            timeline: "{}".to_owned(),
            restrictions: (0..restrictions)
                .map(|r| RestrictionRow {
                    department: format!("dept-{}", r % 7),
                    measure_id: format!("measure-{r}"),
                    start,
                    end: None,
                    trigger: "abnormal_list".to_owned(),
                    position: e as u64,
                })
                .collect(),
            lists: vec![ListRow {
                list: "abnormal".to_owned(),
                ground: "abnormal:annual_report_not_filed".to_owned(),
                start,
                end: None,
                position: e as u64,
            }],
            disclosures: vec![DisclosureRow {
                decision_number: format!("D-{e}"),
                start,
                end: None,
                position: e as u64,
            }],
            changes: (0..restrictions)
                .map(|r| ChangeRow {
                    department: format!("dept-{}", r % 7),
                    measure_id: format!("measure-{r}"),
                    change: "started".to_owned(),
                    start,
                    end: None,
                    position: e as u64,
                })
                .collect(),
        })
        .collect()
}

/// The old generation holds more index rows and feed entries than one delete statement removes
/// (`DROP_GENERATION_CHUNK_ROWS`): after the swap none of them may be left, and the new
/// generation must be untouched.
async fn a_swap_deletes_the_old_generation_in_chunks(kind: Kind) {
    use ledger_store::projections::DROP_GENERATION_CHUNK_ROWS;
    let db = TestDb::new(kind);
    let store = db.open().await;
    // 170 rows per entity: chunks of 10,000 end part-way through a stream.
    let (entities, per_entity) = (120, 170);
    assert!(entities * per_entity > 2 * DROP_GENERATION_CHUNK_ROWS);
    let old = store.projection_state(PROJECTION).await.unwrap().active_generation;
    store
        .write_projection(
            PROJECTION,
            old,
            synthetic_rows(entities, per_entity),
            true,
            moved(0, 1),
            None,
        )
        .await
        .unwrap();
    let building = store.begin_rebuild(PROJECTION, 1).await.unwrap();
    let new = building.generation;
    store
        .write_projection(PROJECTION, new, synthetic_rows(2, 3), true, moved(0, 1), None)
        .await
        .unwrap();
    let as_of = d(2025, 1, 1);
    let department = |generation| {
        let store = store.clone();
        async move { store.department_restrictions(generation, "dept-0", as_of, "", 1_000).await }
    };
    assert_eq!(department(old).await.unwrap().len(), 1_000);
    assert_eq!(store.all_changes(old, 0, 1_000).await.unwrap().len(), 1_000);

    // The swap alone leaves the retired generation's rows; the deletion takes them.
    store.swap_generation(PROJECTION, new).await.unwrap();
    assert_eq!(store.active_generation(PROJECTION).await.unwrap(), new);
    assert_eq!(department(old).await.unwrap().len(), 1_000);
    store.drop_retired_generations(PROJECTION).await.unwrap();

    assert!(department(old).await.unwrap().is_empty());
    assert!(store.all_changes(old, 0, 1_000).await.unwrap().is_empty());
    assert!(store.disclosures_at(old, as_of, "", 1_000).await.unwrap().is_empty());
    assert_eq!(store.projection_counts(old).await.unwrap(), Default::default());
    for e in 0..entities as u64 {
        let stream = StreamName::entity(&code(e)).to_string();
        assert!(store.entity_timeline(old, &stream).await.unwrap().is_none(), "{stream}");
    }
    // The new generation keeps every row: 2 entities x 3 restrictions, 1 of them in dept-0.
    assert_eq!(store.all_changes(new, 0, 1_000).await.unwrap().len(), 6);
    assert_eq!(department(new).await.unwrap().len(), 2);
    assert_eq!(store.disclosures_at(new, as_of, "", 1_000).await.unwrap().len(), 2);
    store.close().await;
}

/// A projection write after `Store::close` fails and leaves nothing behind (on SQLite the direct
/// writing connection must not reopen the file).
async fn a_closed_store_writes_no_projection(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    let generation = store.projection_state(PROJECTION).await.unwrap().active_generation;
    store.close().await;
    let rows = synthetic_rows(1, 2);
    let stream = rows[0].stream.clone();
    let written =
        store.write_projection(PROJECTION, generation, rows, true, moved(0, 5), None).await;
    assert!(written.is_err(), "{written:?}");

    let reopened = db.open().await;
    assert!(reopened.entity_timeline(generation, &stream).await.unwrap().is_none());
    assert_eq!(reopened.generation_position(PROJECTION, generation).await.unwrap(), 0);
    reopened.close().await;
}

/// Rows left in a generation older than the one being replaced (a deletion cut short, or a
/// tailer's page written into a generation a swap had just retired) go with the next deletion
/// of retired generations.
async fn a_swap_also_deletes_rows_left_in_older_generations(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    let (first, second) = swap_in_an_empty_generation(&store).await;
    // A late page for the retired first generation.
    store
        .write_projection(PROJECTION, first, synthetic_rows(3, 4), true, None, None)
        .await
        .unwrap();
    assert_eq!(store.all_changes(first, 0, 100).await.unwrap().len(), 12);

    store
        .write_projection(PROJECTION, second, synthetic_rows(2, 1), true, None, None)
        .await
        .unwrap();
    let third = store.begin_rebuild(PROJECTION, 1).await.unwrap().generation;
    store
        .write_projection(PROJECTION, third, synthetic_rows(1, 2), true, None, None)
        .await
        .unwrap();
    store.swap_generation(PROJECTION, third).await.unwrap();
    store.drop_retired_generations(PROJECTION).await.unwrap();

    for old in [first, second] {
        assert!(store.all_changes(old, 0, 100).await.unwrap().is_empty(), "{old}");
        assert!(store.disclosures_at(old, d(2025, 1, 1), "", 100).await.unwrap().is_empty());
        assert_eq!(store.projection_counts(old).await.unwrap(), Default::default(), "{old}");
        let stream = StreamName::entity(&code(0)).to_string();
        assert!(store.entity_timeline(old, &stream).await.unwrap().is_none(), "{old}");
    }
    assert_eq!(store.all_changes(third, 0, 100).await.unwrap().len(), 2);
    store.close().await;
}

/// One write's changes are stored a pack per entity and department (at most
/// `FEED_PACK_ENTRIES_MAX` entries each); read back from any cursor, with any page size, the feed
/// is every entry once, numbered 1, 2, 3, ... in write order within each department.
async fn feed_packs_read_back_entry_by_entry(kind: Kind) {
    use ledger_store::projections::{ChangeRow, FEED_PACK_ENTRIES_MAX};
    let db = TestDb::new(kind);
    let store = db.open().await;
    let generation = store.projection_state(PROJECTION).await.unwrap().active_generation;
    // Entity 0 has more changes for dept-a than one pack holds, interleaved with dept-b's; the
    // 11 others two packs each, more packs than one query of a feed read fetches.
    let mut rows = synthetic_rows(12, 2);
    let many = FEED_PACK_ENTRIES_MAX + 40;
    rows[0].changes = (0..many + 5)
        .map(|i| ChangeRow {
            department: if i % 50 == 7 { "dept-b" } else { "dept-a" }.to_owned(),
            measure_id: format!("m-{i}"),
            change: if i % 2 == 0 { "started" } else { "ended" }.to_owned(),
            start: d(2024, 1, 1) + chrono::Duration::days(i as i64),
            end: (i % 3 == 0).then(|| d(2030, 1, 1)),
            position: 100 + i as u64,
        })
        .collect();
    // The order the feed must give: entity by entity, each department's entries together, in
    // the order of the department's first change.
    let mut expected: Vec<(String, ChangeRow)> = Vec::new();
    for e in &rows {
        let mut departments: Vec<&str> = Vec::new();
        for c in &e.changes {
            if !departments.contains(&c.department.as_str()) {
                departments.push(&c.department);
            }
        }
        for department in departments {
            for c in e.changes.iter().filter(|c| c.department == department) {
                expected.push((e.stream.clone(), c.clone()));
            }
        }
    }
    store.write_projection(PROJECTION, generation, rows, true, moved(0, 1), None).await.unwrap();

    let whole = store.all_changes(generation, 0, 10_000).await.unwrap();
    let seqs: Vec<u64> = whole.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (1..=expected.len() as u64).collect::<Vec<_>>());
    let got: Vec<(String, ChangeRow)> =
        whole.iter().map(|c| (c.stream.clone(), c.change.clone())).collect();
    assert_eq!(got, expected);
    // Pages of 7 from cursor 0, and single entries from a cursor inside the big pack.
    let mut paged = Vec::new();
    let mut cursor = 0;
    loop {
        let page = store.all_changes(generation, cursor, 7).await.unwrap();
        let Some(last) = page.last() else { break };
        assert!(page.len() <= 7);
        cursor = last.seq;
        paged.extend(page);
    }
    assert_eq!(paged, whole);
    let inside = FEED_PACK_ENTRIES_MAX as u64 - 3;
    let one = store.all_changes(generation, inside, 1).await.unwrap();
    assert_eq!(one, whole[inside as usize..=inside as usize]);
    // A department's feed is its entries of the whole feed, with the same numbers.
    for department in ["dept-a", "dept-b", "dept-1"] {
        let mine: Vec<_> =
            whole.iter().filter(|c| c.change.department == department).cloned().collect();
        assert!(!mine.is_empty(), "{department}");
        let mut paged = Vec::new();
        let mut cursor = 0;
        loop {
            let page = store.department_changes(generation, department, cursor, 5).await.unwrap();
            let Some(last) = page.last() else { break };
            cursor = last.seq;
            paged.extend(page);
        }
        assert_eq!(paged, mine, "{department}");
    }
    // The next write numbers on from the last entry.
    store
        .write_projection(PROJECTION, generation, synthetic_rows(1, 1), false, moved(1, 2), None)
        .await
        .unwrap();
    let next = store.all_changes(generation, expected.len() as u64, 10).await.unwrap();
    assert_eq!(next.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![expected.len() as u64 + 1]);
    store.close().await;
}

/// Feed entries written before migration 0004 (one row each in `restriction_changes`) become
/// packs of one: same numbers, same fields, and new entries are numbered after them.
async fn feed_entries_from_before_packs_survive_the_migration(kind: Kind) {
    let db = TestDb::new(kind);
    let pool = db.raw().await;
    if let Some(schema) = &db.schema {
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .execute(&pool)
            .await
            .unwrap();
    }
    let dir = match kind {
        Kind::Sqlite => "crates/ledger-store/migrations/sqlite",
        Kind::Postgres => "crates/ledger-store/migrations/postgres",
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut migrator = sqlx::migrate::Migrator::new(dir).await.unwrap();
    let before: Vec<_> = migrator.migrations.iter().filter(|m| m.version < 4).cloned().collect();
    assert_eq!(before.len(), 3);
    migrator.migrations = before.into();
    migrator.run(&pool).await.unwrap();
    let insert = format!(
        "INSERT INTO restriction_changes (generation, seq, department, stream, measure_id, \
         change, start_date, end_date, position) VALUES ({})",
        (1..=9).map(|n| db.ph(n)).collect::<Vec<_>>().join(", ")
    );
    let old = [
        (3, "dept-a", "m-\"quoted\"", "started", "2024-01-02", None, 17),
        (4, "dept-b", "m-2", "ended", "2024-01-03", Some("2025-01-03"), 18),
    ];
    for (seq, department, measure, change, start, end, position) in old {
        sqlx::query(&insert)
            .bind(1i64)
            .bind(seq as i64)
            .bind(department)
            .bind("entity/x")
            .bind(measure)
            .bind(change)
            .bind(start)
            .bind(end)
            .bind(position as i64)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;

    let store = db.open().await;
    let feed = store.all_changes(1, 0, 10).await.unwrap();
    let got: Vec<_> = feed
        .iter()
        .map(|c| {
            let c2 = &c.change;
            (c.seq, c2.department.as_str(), c2.measure_id.as_str(), c2.change.as_str(), c2.start)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (3, "dept-a", "m-\"quoted\"", "started", d(2024, 1, 2)),
            (4, "dept-b", "m-2", "ended", d(2024, 1, 3)),
        ]
    );
    let ends: Vec<_> = feed.iter().map(|c| (c.change.end, c.change.position)).collect();
    assert_eq!(ends, vec![(None, 17), (Some(d(2025, 1, 3)), 18)]);
    assert!(feed.iter().all(|c| c.stream == "entity/x"));
    let b = store.department_changes(1, "dept-b", 0, 10).await.unwrap();
    assert_eq!(b.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![4]);
    store
        .write_projection(PROJECTION, 1, synthetic_rows(1, 1), true, moved(0, 1), None)
        .await
        .unwrap();
    let next = store.all_changes(1, 4, 10).await.unwrap();
    assert_eq!(next.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![5]);
    store.close().await;
}

/// The names of the indexes matching the LIKE `pattern` in the test database, in order.
async fn index_names(db: &TestDb, pool: &sqlx::AnyPool, pattern: String) -> Vec<String> {
    match &db.schema {
        None => sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE ? ORDER BY name",
        )
        .bind(pattern)
        .fetch_all(pool)
        .await
        .unwrap(),
        Some(schema) => sqlx::query_scalar(
            "SELECT indexname::TEXT FROM pg_indexes WHERE schemaname = $1 \
             AND indexname LIKE $2 ORDER BY indexname",
        )
        .bind(schema.clone())
        .bind(pattern)
        .fetch_all(pool)
        .await
        .unwrap(),
    }
}

/// Retires the first generation by a rebuild that writes nothing: (first, second).
async fn swap_in_an_empty_generation(store: &Store) -> (i64, i64) {
    let first = store.projection_state(PROJECTION).await.unwrap().active_generation;
    let second = store.begin_rebuild(PROJECTION, 1).await.unwrap().generation;
    store.swap_generation(PROJECTION, second).await.unwrap();
    store.drop_retired_generations(PROJECTION).await.unwrap();
    (first, second)
}

/// The text of statement `name` in the backend's projection query file, with `{generation}`
/// written in as the store writes it.
fn projection_statement(kind: Kind, name: &str, generation: i64) -> String {
    let file = match kind {
        Kind::Sqlite => include_str!("../crates/ledger-store/sql/projections_sqlite.sql"),
        Kind::Postgres => include_str!("../crates/ledger-store/sql/projections_postgres.sql"),
    };
    let start = file.find(&format!("-- name: {name}\n")).expect("statement in the file");
    let body = file[start..].split_once('\n').unwrap().1;
    let end = body.find("\n-- name:").unwrap_or(body.len());
    let text: Vec<&str> =
        body[..end].lines().filter(|l| !l.trim_start().starts_with("--")).collect();
    text.join("\n").replace("{generation}", &generation.to_string())
}

/// A rebuilt generation gets its own partial index when it is swapped in, the old generation's
/// goes with its rows, and a department's read plans through the new one.
async fn each_generation_reads_through_indexes_of_its_own(kind: Kind) {
    let (db, store, projector) = tailed_population(kind).await;
    let pool = db.raw().await;
    let indexes = |generation: i64| index_names(&db, &pool, format!("%_g{generation}"));
    let own = |g: i64| vec![format!("restriction_index_department_g{g}")];
    assert_eq!(indexes(1).await, own(1));

    let report = projector.rebuild(|_| {}).await.unwrap();
    assert_eq!(report.generation, 2);
    assert_eq!(indexes(2).await, own(2));
    assert!(indexes(1).await.is_empty());

    // The reads plan through the new generation's indexes (PostgreSQL is told to avoid a
    // sequential scan, which it prefers for tables this small).
    let mut conn = pool.acquire().await.unwrap();
    let explain = match kind {
        Kind::Sqlite => "EXPLAIN QUERY PLAN ",
        Kind::Postgres => {
            sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await.unwrap();
            "EXPLAIN "
        }
    };
    for (statement, index, params) in
        [("department_restrictions", "restriction_index_department_g2", 5)]
    {
        let sql = format!("{explain}{}", projection_statement(kind, statement, 2));
        let mut query = sqlx::query(&sql);
        for n in 0..params {
            query = if n + 1 == params { query.bind(10i64) } else { query.bind("2025-01-01") };
        }
        let plan: Vec<String> = query
            .fetch_all(&mut *conn)
            .await
            .unwrap()
            .iter()
            .map(|row| {
                use sqlx::Row as _;
                let columns = row.columns().len();
                row.try_get::<String, _>(columns - 1).unwrap()
            })
            .collect();
        assert!(plan.iter().any(|line| line.contains(index)), "{statement}: {plan:?}");
    }
    drop(conn);
    pool.close().await;
    assert_matches_fold(&projector).await;
    store.close().await;
}

/// Generated histories per backend, each a fresh database.
const RANDOM_CASES: usize = 12;

/// Entities of one generated case, their events appended interleaved.
const RANDOM_ENTITIES: u64 = 6;

/// Dates probed per generated case (spread over its event dates, their next days and a yearly
/// grid), each a status per entity and a read of every department's index.
const RANDOM_DATES_MAX: usize = 40;

/// Random histories that validation accepts (the generator of the fold's own properties,
/// `histories.rs`), appended interleaved across entities with the projection tailing every few
/// appends: after each catch-up every entity's status on dates around its events, and the
/// department index, equal the fold of its stream; a rebuild then stores the same timelines as
/// tailing did. The generator's seed is fixed, so a failure repeats; its message names the case.
async fn random_histories_project_as_they_fold(kind: Kind) {
    use proptest::strategy::{Strategy as _, ValueTree as _};
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    use rules_support::histories::{history_strategy, valid_history};

    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let catalogue = ledger_rules::Catalogue::builtin();
    let mut restricted_cases = 0;
    for case in 0..RANDOM_CASES {
        let histories: Vec<Vec<(NaiveDate, DomainEvent)>> = (0..RANDOM_ENTITIES)
            .map(|i| {
                let actions = history_strategy().new_tree(&mut runner).unwrap().current();
                let c = code(i);
                let stream = rules_support::Stream::named(StreamName::entity(&c));
                let registration = rules_support::registered_code(c, None);
                valid_history(stream, registration, &actions, &catalogue).1
            })
            .collect();
        let mut dates: Vec<NaiveDate> = histories
            .iter()
            .flatten()
            .flat_map(|(date, _)| [*date, date.succ_opt().unwrap()])
            .chain((2014..=2032).map(|y| d(y, 1, 1)))
            .collect();
        dates.sort();
        dates.dedup();
        let step = dates.len().div_ceil(RANDOM_DATES_MAX);
        let dates: Vec<NaiveDate> = dates.into_iter().step_by(step.max(1)).collect();

        let db = TestDb::new(kind);
        let store = db.open().await;
        ensure_catalogue(&store, "test").await.unwrap();
        let projector = Projector::new(store.clone()).await.unwrap();
        // Round robin over the entities, one event each, tailing after every seventh append.
        let longest = histories.iter().map(Vec::len).max().unwrap_or(0);
        let mut appended = 0;
        for n in 0..longest {
            for (i, history) in histories.iter().enumerate() {
                let Some((date, event)) = history.get(n) else { continue };
                record(&store, &code(i as u64), *date, event.clone()).await;
                appended += 1;
                if appended % 7 == 0 {
                    projector.catch_up().await.unwrap();
                }
            }
        }
        projector.catch_up().await.unwrap();
        let events: usize = histories.iter().map(Vec::len).sum();
        let restricted = assert_matches_fold_on(&projector, RANDOM_ENTITIES, &dates).await;
        restricted_cases += usize::from(restricted);
        let tailed = assert_stored_equals_fold(&projector, &dates, case).await;

        let report = projector.rebuild(|_| {}).await.unwrap();
        assert_eq!(report.events, events as u64, "case {case}: every entity event read");
        let rebuilt = assert_stored_equals_fold(&projector, &dates, case).await;
        assert_eq!(rebuilt, tailed, "case {case}: rebuild vs tailing");
        assert_eq!(timelines_of(&projector, RANDOM_ENTITIES).await, tailed, "case {case}");
        assert_matches_fold_on(&projector, RANDOM_ENTITIES, &dates).await;
        store.close().await;
    }
    // The generator must reach restrictions, or the comparison proves little.
    assert!(restricted_cases > 0, "no generated case produced a restriction");
}

/// A projection write computed from a checkpoint another projector has since moved is refused
/// whole, naming where the checkpoint is; a write from there goes through.
async fn a_write_from_a_moved_checkpoint_writes_nothing(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    let generation = store.projection_state(PROJECTION).await.unwrap().active_generation;
    let rows = || synthetic_rows(2, 2);
    store.write_projection(PROJECTION, generation, rows(), false, moved(0, 7), None).await.unwrap();
    let feed = store.all_changes(generation, 0, 100).await.unwrap().len();
    assert_eq!(feed, 4);

    // A second projector that read the checkpoint at 0 too, and computed the same page.
    let late = store.write_projection(PROJECTION, generation, rows(), false, moved(0, 9), None);
    match late.await {
        Err(StoreError::ProjectionMoved { expected: 0, actual: 7, .. }) => {}
        other => panic!("expected the write to be refused as moved, got {other:?}"),
    }
    assert_eq!(store.all_changes(generation, 0, 100).await.unwrap().len(), feed);
    assert_eq!(store.generation_position(PROJECTION, generation).await.unwrap(), 7);

    store.write_projection(PROJECTION, generation, rows(), false, moved(7, 9), None).await.unwrap();
    assert_eq!(store.generation_position(PROJECTION, generation).await.unwrap(), 9);
    assert_eq!(store.all_changes(generation, 0, 100).await.unwrap().len(), feed + 4);
    store.close().await;
}

/// Two projectors tailing one database at once (two servers) apply every event once: both
/// read the checkpoint before either writes (`join!` polls one whenever the other waits on the
/// database), one page is refused, the change feed holds each restriction's start once, and
/// the views equal the fold.
async fn two_projectors_apply_each_event_once(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    populate(&store).await;
    let (a, b) = (
        Projector::new(store.clone()).await.unwrap(),
        Projector::new(db.open().await).await.unwrap(),
    );
    let (applied_a, applied_b) = tokio::join!(a.catch_up(), b.catch_up());
    let (applied_a, applied_b) = (applied_a.unwrap(), applied_b.unwrap());
    assert!(applied_a + applied_b >= store.size().await.unwrap());
    assert!(a.pages_refused() + b.pages_refused() >= 1, "the two tailers did not race");

    let generation = store.projection_state(PROJECTION).await.unwrap().active_generation;
    let feed = store.all_changes(generation, 0, 100_000).await.unwrap();
    let mut starts: Vec<_> = feed
        .iter()
        .filter(|c| c.change.change == "started")
        .map(|c| (c.stream.clone(), c.change.measure_id.clone(), c.change.start))
        .collect();
    let total = starts.len();
    starts.sort();
    starts.dedup();
    assert!(total > 0);
    assert_eq!(starts.len(), total, "a restriction's start was announced twice");
    assert_matches_fold(&a).await;
    b.store().close().await;
    store.close().await;
}

/// Checks what the active generation stores for each generated entity, read back and decoded
/// (not the lookups' cache, nor their fold when a row is missing): a row at the stream's last
/// position whose timeline is the fold's and gives the fold's status on every date. Returns
/// the stored timelines.
async fn assert_stored_equals_fold(
    projector: &Projector,
    dates: &[NaiveDate],
    case: usize,
) -> Vec<ledger_rules::Timeline> {
    let catalogue = projector.catalogue();
    let mut stored = Vec::new();
    for i in 0..RANDOM_ENTITIES {
        let c = code(i);
        let events = stream_of(projector.store(), &c).await;
        let view = projector.stored_entity(&c).await.unwrap();
        let view = view.unwrap_or_else(|| panic!("case {case}: entity {i} has no stored row"));
        assert_eq!(view.position, events.last().unwrap().position, "case {case}: entity {i}");
        let expected = ledger_rules::timeline(&events, &catalogue, None);
        assert_eq!(*view.timeline, expected, "case {case}: stored timeline of entity {i}");
        for &date in dates {
            let fold = ledger_rules::fold(&events, &catalogue, date, None);
            assert_eq!(view.timeline.at(date), fold, "case {case}: entity {i} on {date}");
        }
        stored.push((*view.timeline).clone());
    }
    stored
}

/// Two rebuilds writing one generation (two servers that both saw a catalogue change): a batch
/// whose resume point the other moved is refused whole; one continuing from there goes on.
async fn a_second_rebuild_of_one_generation_stops(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    let generation = store.begin_rebuild(PROJECTION, 1).await.unwrap().generation;
    let rows = synthetic_rows(3, 2);
    let (first, second) = (rows[..1].to_vec(), rows[1..].to_vec());
    let step = |from: Option<&str>, to: &str| {
        Some(RebuildStep { from: from.map(str::to_owned), to: to.to_owned() })
    };
    let a = first[0].stream.clone();
    store
        .write_projection(PROJECTION, generation, first, true, None, step(None, &a))
        .await
        .unwrap();

    // The other rebuild started from the same state and has its own first batch.
    let b = second[0].stream.clone();
    let late =
        store.write_projection(PROJECTION, generation, second.clone(), true, None, step(None, &b));
    let error = late.await.unwrap_err();
    assert!(error.to_string().contains("another rebuild"), "{error}");
    assert!(store.entity_timeline(generation, &b).await.unwrap().is_none());
    let state = store.projection_state(PROJECTION).await.unwrap();
    assert_eq!(state.building.unwrap().after_stream.as_deref(), Some(a.as_str()));

    let c = second[1].stream.clone();
    store
        .write_projection(PROJECTION, generation, second, true, None, step(Some(&a), &c))
        .await
        .unwrap();
    assert!(store.entity_timeline(generation, &b).await.unwrap().is_some());
    store.close().await;
}

/// An index built for a generation that a swap retired before its rows were deleted (a store
/// that read it as active just before the swap) goes with the next deletion of retired
/// generations; the active generation's stays.
async fn indexes_left_on_retired_generations_go(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    let (first, second) = swap_in_an_empty_generation(&store).await;
    // A late index build for the retired generation.
    store.index_generation(first).await.unwrap();
    let pool = db.raw().await;
    let names = |pattern: &str| index_names(&db, &pool, pattern.to_owned());
    assert_eq!(names("restriction_index_department_g%").await.len(), 2);

    store.drop_retired_generations(PROJECTION).await.unwrap();
    let left = names("restriction_index_department_g%").await;
    assert_eq!(left, vec![format!("restriction_index_department_g{second}")]);
    pool.close().await;
    store.close().await;
}
