//! The event store, end to end, on SQLite and PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::io::BufRead as _;

use ledger_core::event::ProposedEvent;
use ledger_core::merkle::{self, MemoryTree};
use ledger_store::verify::ProblemKind;
use ledger_store::{
    AppendRequest, ExpectedVersion, PersonalDataState, PersonalRecord, Store, StoreError,
};
use ledger_testkit::{backend_tests, entity_stream, sample_append, sample_event, Kind, TestDb};
use sqlx::Row as _;

backend_tests!(
    append_and_read_back,
    expected_versions,
    idempotent_retries,
    invalid_appends_write_nothing,
    concurrent_appenders,
    racing_on_one_stream,
    proofs_from_storage,
    checkpoints_are_signed_and_survive_restart,
    tampered_payload_is_found,
    broken_chain_is_found,
    missing_event_is_found,
    rewritten_history_breaks_checkpoint,
    personal_data_erasure,
    crash_keeps_acknowledged_appends,
    two_writers_never_fork_the_log,
    a_failed_batch_gives_up_the_writer_role,
);

async fn size(store: &Store) -> u64 {
    store.size().await.unwrap()
}

async fn append_and_read_back(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    let stream = entity_stream(1);
    let request =
        AppendRequest { expected: ExpectedVersion::NoStream, ..sample_append(&stream, 0, 3) };
    let ids: Vec<_> = request.events.iter().map(|e| e.event_id).collect();
    let outcome = store.append(request).await.unwrap();
    assert!(!outcome.duplicate);
    let positions: Vec<u64> = outcome.events.iter().map(|e| e.position).collect();
    assert_eq!(positions, vec![0, 1, 2]);

    let events = store.read_stream(&stream, 1, 100).await.unwrap();
    assert_eq!(events.len(), 3);
    let mut prev = ledger_core::Hash32::ZERO;
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.stream_version, i as u64 + 1);
        assert_eq!(event.event_id, ids[i]);
        assert_eq!(event.prev_hash, prev);
        assert_eq!(event.compute_hash(), event.hash);
        assert_eq!(event.recorded_by, "test-recorder");
        prev = event.hash;
    }
    assert_eq!(store.read_stream(&stream, 3, 100).await.unwrap().len(), 1);
    assert_eq!(store.read_log(1, 1).await.unwrap()[0].event_id, ids[1]);
    assert_eq!(store.event_at(2).await.unwrap().event_id, ids[2]);
    assert_eq!(store.event_by_id(ids[0]).await.unwrap().position, 0);
    assert!(matches!(store.event_at(3).await, Err(StoreError::NotFound(_))));
    let head = store.stream_head(&stream).await.unwrap();
    assert_eq!((head.version, head.hash, head.position), (3, prev, 2));
    assert_eq!(store.stream_head(&entity_stream(2)).await.unwrap().version, 0);
    assert_eq!(size(&store).await, 3);

    // The header-only log read names each event's stream, from any position, within the limit.
    let other = entity_stream(2);
    store.append(sample_append(&other, 0, 1)).await.unwrap();
    let streams = store.read_log_streams(1, 10).await.unwrap();
    let expected = vec![(1, stream.clone()), (2, stream.clone()), (3, other.clone())];
    assert_eq!(streams, expected);
    assert_eq!(store.read_log_streams(0, 2).await.unwrap().len(), 2);
    assert_eq!(store.read_log_streams(4, 10).await.unwrap(), vec![]);
    store.close().await;
}

async fn expected_versions(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    let stream = entity_stream(7);
    store.append(sample_append(&stream, 0, 2)).await.unwrap();

    for expected in
        [ExpectedVersion::NoStream, ExpectedVersion::Exactly(1), ExpectedVersion::Exactly(3)]
    {
        let err = store
            .append(AppendRequest { expected, ..sample_append(&stream, 10, 1) })
            .await
            .unwrap_err();
        match err {
            StoreError::WrongExpectedVersion { actual, expected: e, .. } => {
                assert_eq!((actual, e), (2, expected));
            }
            other => panic!("expected a version conflict, got {other}"),
        }
    }
    assert_eq!(size(&store).await, 2);
    let ok = store
        .append(AppendRequest {
            expected: ExpectedVersion::Exactly(2),
            ..sample_append(&stream, 20, 1)
        })
        .await
        .unwrap();
    assert_eq!(ok.events[0].stream_version, 3);
    store.close().await;
}

async fn idempotent_retries(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    let stream = entity_stream(3);
    let request = sample_append(&stream, 0, 2);
    let first = store.append(request.clone()).await.unwrap();
    store.append(sample_append(&stream, 5, 1)).await.unwrap();

    // The same request again: the original positions, nothing written.
    let retry = store.append(request.clone()).await.unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.events, first.events);
    assert_eq!(size(&store).await, 3);

    // A retry with an exact expected version that the stream has since passed is still a
    // retry, not a version conflict.
    let exact = AppendRequest {
        expected: ExpectedVersion::NoStream,
        ..sample_append(&entity_stream(8), 0, 1)
    };
    let original = store.append(exact.clone()).await.unwrap();
    store.append(sample_append(&entity_stream(8), 1, 1)).await.unwrap();
    let again = store.append(exact).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.events, original.events);

    // The same id with other content is a conflict.
    let mut changed = request.clone();
    changed.events[1] =
        ProposedEvent { event_id: request.events[1].event_id, ..sample_event(99, 200) };
    changed.events[0] = sample_event(98, 200);
    let err = store.append(changed).await.unwrap_err();
    assert!(matches!(err, StoreError::IdempotencyConflict { position: 1, .. }), "{err}");

    // Part retry, part new: a conflict too, and nothing of it is written.
    let mut mixed = request.clone();
    mixed.events.push(sample_event(50, 200));
    assert!(matches!(store.append(mixed).await, Err(StoreError::IdempotencyConflict { .. })));
    // The same id on another stream.
    let elsewhere = AppendRequest { stream: entity_stream(4), ..request.clone() };
    assert!(matches!(store.append(elsewhere).await, Err(StoreError::IdempotencyConflict { .. })));
    assert_eq!(size(&store).await, 5);

    // Two copies racing in one batch: both get the same answer.
    let fresh = sample_append(&stream, 60, 2);
    let (a, b) = tokio::join!(store.append(fresh.clone()), store.append(fresh.clone()));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.events, b.events);
    assert_eq!(size(&store).await, 7);
    store.close().await;
}

async fn invalid_appends_write_nothing(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    let stream = entity_stream(5);

    let mut bad_payload = sample_append(&stream, 0, 3);
    bad_payload.events[2].payload = br#"{"b":1, "a":2}"#.to_vec();
    let err = store.append(bad_payload).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidEvent { index: 2, .. }), "{err}");

    let mut twice = sample_append(&stream, 0, 2);
    twice.events[1].event_id = twice.events[0].event_id;
    assert!(matches!(store.append(twice).await, Err(StoreError::InvalidAppend(_))));

    let empty = AppendRequest { events: vec![], ..sample_append(&stream, 0, 1) };
    assert!(matches!(store.append(empty).await, Err(StoreError::InvalidAppend(_))));

    let too_many = sample_append(&stream, 0, ledger_store::APPEND_EVENTS_MAX as u64 + 1);
    assert!(matches!(store.append(too_many).await, Err(StoreError::InvalidAppend(_))));

    let nobody = AppendRequest { recorded_by: String::new(), ..sample_append(&stream, 0, 1) };
    assert!(matches!(store.append(nobody).await, Err(StoreError::InvalidEvent { .. })));

    assert_eq!(size(&store).await, 0);
    assert_eq!(store.stream_head(&stream).await.unwrap().version, 0);
    store.close().await;
}

async fn concurrent_appenders(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    let tasks: Vec<_> = (0..64u64)
        .map(|client| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut positions = Vec::new();
                for i in 0..10 {
                    // Half the clients share one stream, half have their own.
                    let stream = entity_stream(if client % 2 == 0 { 0 } else { client });
                    let outcome = store.append(sample_append(&stream, i, 1 + i % 2)).await.unwrap();
                    positions.extend(outcome.events.iter().map(|e| e.position));
                }
                positions
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_unstable();
    let expected: Vec<u64> = (0..all.len() as u64).collect();
    assert_eq!(all, expected, "positions must be gap-free and unique");
    assert_eq!(size(&store).await, all.len() as u64);

    let shared = store.read_stream(&entity_stream(0), 1, 10_000).await.unwrap();
    assert_eq!(shared.len(), 32 * 15);
    assert!(shared.windows(2).all(|w| w[0].position < w[1].position));
    let report = store.verify(|_| {}).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.events, all.len() as u64);
    store.close().await;
}

async fn racing_on_one_stream(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    let stream = entity_stream(9);
    // Every client tries to write version 1 with an exact expectation: exactly one wins.
    let tasks: Vec<_> = (0..16u64)
        .map(|i| {
            let store = store.clone();
            let request = AppendRequest {
                expected: ExpectedVersion::Exactly(0),
                ..sample_append(&stream, i, 1)
            };
            tokio::spawn(async move { store.append(request).await })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => wins += 1,
            Err(StoreError::WrongExpectedVersion { actual: 1, .. }) => {}
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(size(&store).await, 1);
    store.close().await;
}

async fn proofs_from_storage(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    let mut tree = MemoryTree::new();
    // 700 events crosses a full level-0 tile and leaves a partial one.
    for batch in 0..35u64 {
        let outcome =
            store.append(sample_append(&entity_stream(batch % 6), batch * 20, 20)).await.unwrap();
        for event in outcome.events {
            tree.push_event(&event.hash);
        }
    }
    let n = size(&store).await;
    assert_eq!(n, 700);
    for tree_size in [1, 2, 255, 256, 257, 511, 512, 699, 700] {
        let root = store.root_at(tree_size).await.unwrap();
        assert_eq!(root, tree.root_at(tree_size).unwrap(), "root at {tree_size}");
        for position in [0, tree_size / 3, tree_size - 1] {
            let proof = store.inclusion_proof(position, tree_size).await.unwrap();
            assert_eq!(proof.root, root);
            let leaf = merkle::leaf_hash(&proof.event_hash);
            merkle::verify_inclusion(position, tree_size, &leaf, &proof.hashes, &root).unwrap();
        }
        for old in [0, 1, tree_size / 2, tree_size] {
            let proof = store.consistency_proof(old, tree_size).await.unwrap();
            merkle::verify_consistency(old, tree_size, &proof.old_root, &root, &proof.hashes)
                .unwrap();
            assert_eq!(proof.old_root, tree.root_at(old).unwrap());
        }
    }
    assert!(matches!(store.inclusion_proof(700, 700).await, Err(StoreError::OutOfRange(_))));
    assert!(matches!(store.inclusion_proof(0, 701).await, Err(StoreError::OutOfRange(_))));
    assert!(matches!(store.consistency_proof(5, 4).await, Err(StoreError::OutOfRange(_))));
    store.close().await;
}

async fn checkpoints_are_signed_and_survive_restart(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    let stream = entity_stream(11);
    store.append(sample_append(&stream, 0, 5)).await.unwrap();
    let checkpoint = store.checkpoint_now().await.unwrap();
    assert_eq!(checkpoint.size, 5);
    let opened =
        store.verifier().open_checkpoint(&checkpoint.note, ledger_testkit::TEST_ORIGIN).unwrap();
    assert_eq!((opened.size, opened.root), (5, store.root_at(5).await.unwrap()));
    store.close().await;

    // Reopen: the size, the chain and the checkpoints carry on.
    let store = db.open().await;
    assert_eq!(size(&store).await, 5);
    let outcome = store
        .append(AppendRequest {
            expected: ExpectedVersion::Exactly(5),
            ..sample_append(&stream, 5, 2)
        })
        .await
        .unwrap();
    assert_eq!(outcome.events[0].position, 5);
    let later = store.checkpoint_now().await.unwrap();
    assert_eq!(later.size, 7);
    assert_eq!(store.latest_checkpoint().await.unwrap().unwrap(), later);
    assert_eq!(store.checkpoints().await.unwrap().len(), 2);
    let proof = store.consistency_proof(5, 7).await.unwrap();
    merkle::verify_consistency(5, 7, &checkpoint.root, &later.root, &proof.hashes).unwrap();
    let report = store.verify(|_| {}).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.checkpoints, 2);
    store.close().await;
}

/// Fills a store with a few streams and a checkpoint, for the tampering tests.
async fn filled(kind: Kind) -> (TestDb, Store) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    for i in 0..30u64 {
        store.append(sample_append(&entity_stream(i % 3), i, 1)).await.unwrap();
    }
    store.checkpoint_now().await.unwrap();
    (db, store)
}

async fn exec(db: &TestDb, sql: &str, binds: Vec<Vec<u8>>, position: i64) {
    let pool = db.raw().await;
    let mut query = sqlx::query(sql);
    for b in binds {
        query = query.bind(b);
    }
    let done = query.bind(position).execute(&pool).await.unwrap();
    assert_eq!(done.rows_affected(), 1, "{sql}");
    pool.close().await;
}

async fn tampered_payload_is_found(kind: Kind) {
    let (db, store) = filled(kind).await;
    let sql = format!("UPDATE events SET payload = {} WHERE position = {}", db.ph(1), db.ph(2));
    exec(&db, &sql, vec![br#"{"decision_no":"DEMO-X"}"#.to_vec()], 17).await;
    let report = store.verify(|_| {}).await.unwrap();
    let first = report.first_problem().expect("tampering found");
    assert_eq!(first.position, Some(17));
    assert!(matches!(first.kind, ProblemKind::HashMismatch { .. }), "{first:?}");
    store.close().await;
}

async fn broken_chain_is_found(kind: Kind) {
    let (db, store) = filled(kind).await;
    // Point event 20 at a wrong predecessor and give it a hash that matches its new fields, as
    // a forger would: the hash checks out, the chain does not.
    let mut event = store.event_at(20).await.unwrap();
    event.prev_hash = ledger_core::Hash32([9; 32]);
    event.hash = event.compute_hash();
    let sql = format!(
        "UPDATE events SET prev_hash = {}, hash = {} WHERE position = {}",
        db.ph(1),
        db.ph(2),
        db.ph(3)
    );
    exec(&db, &sql, vec![event.prev_hash.0.to_vec(), event.hash.0.to_vec()], 20).await;
    let report = store.verify(|_| {}).await.unwrap();
    let first = report.first_problem().expect("tampering found");
    assert_eq!(first.position, Some(20));
    assert!(matches!(first.kind, ProblemKind::ChainBroken { .. }), "{first:?}");
    store.close().await;
}

async fn missing_event_is_found(kind: Kind) {
    let (db, store) = filled(kind).await;
    let sql = format!("DELETE FROM events WHERE position = {}", db.ph(1));
    exec(&db, &sql, vec![], 12).await;
    let report = store.verify(|_| {}).await.unwrap();
    let first = report.first_problem().expect("deletion found");
    assert_eq!(first.position, Some(12));
    assert_eq!(first.kind, ProblemKind::EventsMissing { from: 12, to: 13 });
    store.close().await;
}

async fn rewritten_history_breaks_checkpoint(kind: Kind) {
    let (db, store) = filled(kind).await;
    // Rewrite the last event of a stream consistently (payload and hash), so no chain breaks:
    // only the signed checkpoint can tell.
    let mut event = store.event_at(29).await.unwrap();
    event.payload = br#"{"decision_no":"FORGED"}"#.to_vec();
    event.hash = event.compute_hash();
    let sql = format!(
        "UPDATE events SET payload = {}, hash = {} WHERE position = {}",
        db.ph(1),
        db.ph(2),
        db.ph(3)
    );
    exec(&db, &sql, vec![event.payload.clone(), event.hash.0.to_vec()], 29).await;
    let report = store.verify(|_| {}).await.unwrap();
    let kinds: Vec<&ProblemKind> = report.problems.iter().map(|p| &p.kind).collect();
    assert!(kinds.contains(&&ProblemKind::CheckpointMismatch { size: 30 }), "{kinds:?}");
    assert!(!kinds.iter().any(|k| matches!(k, ProblemKind::HashMismatch { .. })));
    store.close().await;
}

async fn personal_data_erasure(kind: Kind) {
    let db = TestDb::new(kind);
    let store = db.open().await;
    let stream = entity_stream(21);
    let commitment_id = uuid::Uuid::now_v7();
    let mut request = sample_append(&stream, 0, 1);
    request.personal_data.push(PersonalRecord {
        commitment_id,
        salt: vec![7; 32],
        data: serde_json::json!({"name": "张三", "id_number": "620502199001011234"}),
    });
    store.append(request).await.unwrap();
    match store.personal_data(commitment_id).await.unwrap() {
        PersonalDataState::Present { data, .. } => assert_eq!(data["name"], "张三"),
        other => panic!("expected present data, got {other:?}"),
    }

    let erasure = ProposedEvent::new(
        uuid::Uuid::now_v7(),
        "personal_data_erased",
        1,
        chrono::DateTime::from_timestamp(1_750_000_000, 0).unwrap(),
        &serde_json::json!({"commitment_ids": [commitment_id], "requested_by": "data subject"}),
    )
    .unwrap();
    let mut request = AppendRequest::new(
        ledger_core::StreamName::new("system/personal-data").unwrap(),
        ExpectedVersion::Any,
        vec![erasure],
        "privacy-officer",
    );
    request.erase_personal_data.push(commitment_id);
    let outcome = store.append(request).await.unwrap();
    match store.personal_data(commitment_id).await.unwrap() {
        PersonalDataState::Erased { erased_position, .. } => {
            assert_eq!(erased_position, outcome.events[0].position);
        }
        other => panic!("expected erased data, got {other:?}"),
    }
    // Nothing else remains of the data in the database.
    let pool = db.raw().await;
    let row = sqlx::query(
        "SELECT COUNT(*) FROM personal_data WHERE data IS NOT NULL OR salt IS NOT NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(row.try_get::<i64, _>(0).unwrap(), 0);
    pool.close().await;
    let report = store.verify(|_| {}).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    store.close().await;
}

/// A child process appends under load and is killed with SIGKILL; every append it reported as
/// acknowledged must be in the store, and the store must verify.
async fn crash_keeps_acknowledged_appends(kind: Kind) {
    let db = TestDb::new(kind);
    db.open().await.close().await; // create the schema and tables
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ledger-crash-appender"))
        .args([db.url.as_str(), db.schema.as_deref().unwrap_or("-"), "8"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().unwrap();
    let acked = tokio::task::spawn_blocking(move || {
        let mut acked = HashMap::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let parts: Vec<&str> = line.split(' ').collect();
            if let ["ack", id, position] = parts[..] {
                acked.insert(id.parse::<uuid::Uuid>().unwrap(), position.parse::<u64>().unwrap());
            }
            if acked.len() >= 400 {
                break;
            }
        }
        (acked, child)
    });
    let (acked, mut child) = tokio::time::timeout(std::time::Duration::from_secs(120), acked)
        .await
        .expect("child acknowledged appends in time")
        .unwrap();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(acked.len() >= 400);

    let store = db.open().await;
    let n = size(&store).await;
    let mut seen = HashSet::new();
    for (id, position) in &acked {
        let event = store.event_by_id(*id).await.unwrap();
        assert_eq!(event.position, *position);
        seen.insert(*position);
    }
    assert!(n >= acked.len() as u64);
    let report = store.verify(|_| {}).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.events, n);
    // The log keeps growing after the crash.
    store.append(sample_append(&entity_stream(1), 0, 1)).await.unwrap();
    store.close().await;
}

/// Two stores open on one database, as two server processes would be. On PostgreSQL the
/// second waits for the writer role and takes it over when the first closes; on SQLite both
/// write, and the log-head compare-and-set turns a stale writer's batch into a retryable error
/// instead of a fork. Either way the log stays one chain.
async fn two_writers_never_fork_the_log(kind: Kind) {
    let db = TestDb::new(kind);
    let first = db.open().await;
    let second = db.open().await;
    let stream = entity_stream(31);
    first.append(sample_append(&stream, 0, 2)).await.unwrap();

    match kind {
        Kind::Postgres => {
            // The first process holds the writer role: the second's append waits, then fails
            // as unavailable (retryable) without writing.
            let refused = second.append(sample_append(&stream, 10, 1)).await.unwrap_err();
            assert!(matches!(refused, StoreError::Unavailable(_)), "{refused}");
            assert!(refused.is_retryable());
            first.close().await;
            let outcome = second.append(sample_append(&stream, 20, 1)).await.unwrap();
            assert_eq!(outcome.events[0].position, 2);
        }
        Kind::Sqlite => {
            // The second store loaded size 0 before the first appended: its first batch finds
            // the log moved, fails, reloads, and the retry lands after the first's events.
            let stale = second.append(sample_append(&stream, 10, 1)).await.unwrap_err();
            assert!(stale.is_retryable(), "{stale}");
            let outcome = second.append(sample_append(&stream, 11, 1)).await.unwrap();
            assert_eq!(outcome.events[0].position, 2);
            // Now the first is stale in turn, and recovers the same way.
            let stale = first.append(sample_append(&stream, 30, 1)).await.unwrap_err();
            assert!(stale.is_retryable(), "{stale}");
            let outcome = first.append(sample_append(&stream, 31, 1)).await.unwrap();
            assert_eq!(outcome.events[0].position, 3);
            first.close().await;
        }
    }
    let report = second.verify(|_| {}).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let events = second.read_stream(&stream, 1, 100).await.unwrap();
    assert!(events.windows(2).all(|w| w[1].prev_hash == w[0].hash));
    second.close().await;
}

/// A batch the database refuses (here a trigger added behind the store's back) fails that
/// batch only; on PostgreSQL it also gives up the writer role, closing the session that held
/// the advisory lock, so that another process can take the role and this one retakes it later
/// on a fresh session. A lock-holding session merely returned to the pool would keep the role
/// from everyone else.
async fn a_failed_batch_gives_up_the_writer_role(kind: Kind) {
    let db = TestDb::new(kind);
    let first = db.open().await;
    let stream = entity_stream(41);
    first.append(sample_append(&stream, 0, 1)).await.unwrap();

    let raw = db.raw().await;
    let refuse: &[&str] = match kind {
        Kind::Sqlite => &["CREATE TRIGGER refuse_inserts BEFORE INSERT ON events \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"],
        Kind::Postgres => &[
            "CREATE FUNCTION refuse_inserts() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
            "CREATE TRIGGER refuse_inserts BEFORE INSERT ON events \
             FOR EACH ROW EXECUTE FUNCTION refuse_inserts()",
        ],
    };
    for sql in refuse {
        sqlx::query(sql).execute(&raw).await.unwrap();
    }
    let refused = first.append(sample_append(&stream, 1, 1)).await.unwrap_err();
    assert!(refused.to_string().contains("refused by the test"), "{refused}");
    let drop = match kind {
        Kind::Sqlite => "DROP TRIGGER refuse_inserts",
        Kind::Postgres => "DROP TRIGGER refuse_inserts ON events",
    };
    sqlx::query(drop).execute(&raw).await.unwrap();
    raw.close().await;
    assert_eq!(size(&first).await, 1, "the refused batch wrote nothing");

    match kind {
        Kind::Postgres => {
            // The role is free: a second process takes it at once and appends.
            let second = db.open().await;
            let outcome = second.append(sample_append(&stream, 2, 1)).await.unwrap();
            assert_eq!(outcome.events[0].position, 1);
            let waiting = first.append(sample_append(&stream, 3, 1)).await.unwrap_err();
            assert!(matches!(waiting, StoreError::Unavailable(_)), "{waiting}");
            second.close().await;
            let outcome = first.append(sample_append(&stream, 4, 1)).await.unwrap();
            assert_eq!(outcome.events[0].position, 2);
        }
        Kind::Sqlite => {
            let outcome = first.append(sample_append(&stream, 2, 1)).await.unwrap();
            assert_eq!(outcome.events[0].position, 1);
        }
    }
    let report = first.verify(|_| {}).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    first.close().await;
}
