//! Store throughput and latency against raw inserts and scans through the same driver.
//!
//! Run: `cargo bench --bench store` (1M events; `BENCH_EVENTS=100000` for a quick run,
//! `BENCH_BACKENDS=postgres` or `sqlite` for one backend).
//! PostgreSQL is measured when `CREDIT_LEDGER_BENCH_PG_URL` (or the test variable
//! `CREDIT_LEDGER_TEST_PG_URL`) is set. Each figure is printed next to its baseline from the
//! same run:
//!
//! 1. bulk append (hashing, chaining, Merkle tiles, group commit) against the fastest raw
//!    insert of the same rows and indexes: multi-row statements of 500 rows, one transaction
//!    per 1,000 rows, through sqlx's native driver;
//! 2. durable appends from 64 concurrent clients, one event each, against single-row durable
//!    inserts from one client;
//! 3. inclusion-proof latency at the full size;
//! 4. full verification against a raw scan of the same rows.

#![allow(clippy::print_stdout)] // a load harness reports on stdout

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_store::{AppendRequest, ExpectedVersion, Store};
use ledger_testkit::{entity_stream, sample_event, Kind, TestDb};
use sqlx::{Connection as _, Executor as _};
use support::raw_scan;

const PAYLOAD_BYTES: usize = 600;
const STREAMS: u64 = 10_000;
const BULK_EVENTS_PER_APPEND: u64 = 100;
const BULK_APPENDS_IN_FLIGHT: usize = 32;
const CONCURRENT_CLIENTS: usize = 64;
const DURABLE_RUN: Duration = Duration::from_secs(4);
const PROOF_SAMPLES: usize = 2_000;
const RAW_ROWS_PER_STATEMENT: usize = 500;
const RAW_ROWS_PER_TRANSACTION: usize = 1_000;

struct Row {
    stream: String,
    version: i64,
    event_id: Vec<u8>,
    effective_at: i64,
    payload: Vec<u8>,
    hash: Vec<u8>,
}

/// The rows the store's bulk append writes, in the same order: appends of
/// `BULK_EVENTS_PER_APPEND` events, append `a` to stream `a % STREAMS`.
fn rows(n: u64) -> Vec<Row> {
    let payload = sample_event(0, PAYLOAD_BYTES).payload;
    let mut versions = vec![0i64; STREAMS as usize];
    (0..n)
        .map(|i| {
            let s = ((i / BULK_EVENTS_PER_APPEND) % STREAMS) as usize;
            versions[s] += 1;
            Row {
                stream: entity_stream(s as u64).to_string(),
                version: versions[s],
                event_id: uuid::Uuid::now_v7().as_bytes().to_vec(),
                effective_at: 1_700_000_000_000_000 + i as i64,
                payload: payload.clone(),
                hash: blake3::hash(&i.to_le_bytes()).as_bytes().to_vec(),
            }
        })
        .collect()
}

fn per_sec(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    samples[((samples.len() - 1) as f64 * p) as usize]
}

/// The same table and indexes as the store's `events`, filled by plain multi-row inserts.
async fn raw_insert(kind: Kind, db: &TestDb, rows: &[Row]) -> Duration {
    let create = include_str!("../crates/ledger-store/migrations/sqlite/0001_init.sql");
    let create_pg = include_str!("../crates/ledger-store/migrations/postgres/0001_init.sql");
    let ddl: String = match kind {
        Kind::Sqlite => create.split("-- The head of every stream").next().unwrap().to_owned(),
        Kind::Postgres => create_pg.split("CREATE TABLE streams").next().unwrap().to_owned(),
    };
    let placeholder = |n: usize| match kind {
        Kind::Sqlite => "?".to_owned(),
        Kind::Postgres => format!("${n}"),
    };
    let sql = |count: usize| {
        let mut sql = String::from(
            "INSERT INTO events (position, stream, stream_version, event_id, event_type, \
             schema_version, effective_at, recorded_at, recorded_by, payload, prev_hash, hash) \
             VALUES ",
        );
        for r in 0..count {
            sql.push_str(if r == 0 { "(" } else { ",(" });
            let cols: Vec<String> = (1..=12).map(|c| placeholder(r * 12 + c)).collect();
            sql.push_str(&cols.join(","));
            sql.push(')');
        }
        sql
    };
    macro_rules! run {
        ($conn:expr) => {{
            let mut conn = $conn;
            conn.execute(ddl.as_str()).await.unwrap();
            let started = Instant::now();
            for (t, txn_rows) in rows.chunks(RAW_ROWS_PER_TRANSACTION).enumerate() {
                let mut tx = conn.begin().await.unwrap();
                for (s, stmt_rows) in txn_rows.chunks(RAW_ROWS_PER_STATEMENT).enumerate() {
                    let text = sql(stmt_rows.len());
                    let mut q = sqlx::query(&text);
                    for (i, r) in stmt_rows.iter().enumerate() {
                        let pos =
                            (t * RAW_ROWS_PER_TRANSACTION + s * RAW_ROWS_PER_STATEMENT + i) as i64;
                        q = q
                            .bind(pos)
                            .bind(&r.stream)
                            .bind(r.version)
                            .bind(&r.event_id)
                            .bind("penalty_decided")
                            .bind(1i64)
                            .bind(r.effective_at)
                            .bind(r.effective_at)
                            .bind("bench")
                            .bind(&r.payload)
                            .bind(&r.hash)
                            .bind(&r.hash);
                    }
                    q.execute(&mut *tx).await.unwrap();
                }
                tx.commit().await.unwrap();
            }
            started.elapsed()
        }};
    }
    match kind {
        Kind::Sqlite => {
            let conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            let mut conn = conn;
            // The store's own settings (see `ledger_store::db`), so the baseline is as fast
            // as the driver allows with the same durability.
            conn.execute(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -65536; \
                 PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 16384",
            )
            .await
            .unwrap();
            run!(conn)
        }
        Kind::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let schema = db.schema.clone().unwrap();
            conn.execute(
                format!("CREATE SCHEMA \"{schema}\"; SET search_path TO \"{schema}\"").as_str(),
            )
            .await
            .unwrap();
            run!(conn)
        }
    }
}

/// Single-row durable inserts, one transaction each, from one client.
async fn raw_single_row_durable(kind: Kind, db: &TestDb) -> f64 {
    let rows = rows(200_000);
    let p = |n: usize| match kind {
        Kind::Sqlite => "?".to_owned(),
        Kind::Postgres => format!("${n}"),
    };
    let sql = format!(
        "INSERT INTO events (position, stream, stream_version, event_id, event_type, \
         schema_version, effective_at, recorded_at, recorded_by, payload, prev_hash, hash) \
         VALUES ({})",
        (1..=12).map(p).collect::<Vec<_>>().join(",")
    );
    macro_rules! run {
        ($conn:expr, $offset:expr) => {{
            let mut conn = $conn;
            let started = Instant::now();
            let mut n = 0usize;
            while started.elapsed() < DURABLE_RUN && n < rows.len() {
                let r = &rows[n];
                sqlx::query(&sql)
                    .bind($offset + n as i64)
                    .bind(format!("{}x", r.stream))
                    .bind(r.version)
                    .bind(uuid::Uuid::now_v7().as_bytes().to_vec())
                    .bind("penalty_decided")
                    .bind(1i64)
                    .bind(r.effective_at)
                    .bind(r.effective_at)
                    .bind("bench")
                    .bind(&r.payload)
                    .bind(&r.hash)
                    .bind(&r.hash)
                    .execute(&mut conn)
                    .await
                    .unwrap();
                n += 1;
            }
            per_sec(n as u64, started.elapsed())
        }};
    }
    // Appends to the table the raw bulk insert filled, after its last position.
    let offset = 10_000_000_000i64;
    match kind {
        Kind::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            conn.execute("PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY").await.unwrap();
            run!(conn, offset)
        }
        Kind::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let schema = db.schema.clone().unwrap();
            conn.execute(
                format!("SET search_path TO \"{schema}\"; SET synchronous_commit = on").as_str(),
            )
            .await
            .unwrap();
            run!(conn, offset)
        }
    }
}

async fn bulk_append(store: &Store, total: u64) -> Duration {
    let payload_event = sample_event(0, PAYLOAD_BYTES);
    let started = Instant::now();
    let appends = total / BULK_EVENTS_PER_APPEND;
    let semaphore = Arc::new(tokio::sync::Semaphore::new(BULK_APPENDS_IN_FLIGHT));
    let mut tasks = Vec::with_capacity(appends as usize);
    for a in 0..appends {
        let permit = semaphore.clone().acquire_owned().await.unwrap();
        let store = store.clone();
        let template = payload_event.clone();
        tasks.push(tokio::spawn(async move {
            let events = (0..BULK_EVENTS_PER_APPEND)
                .map(|_| ledger_core::event::ProposedEvent {
                    event_id: uuid::Uuid::now_v7(),
                    ..template.clone()
                })
                .collect();
            let stream = entity_stream(a % STREAMS);
            let request = AppendRequest::new(stream, ExpectedVersion::Any, events, "bench");
            store.append(request).await.unwrap();
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed()
}

async fn concurrent_durable(store: &Store) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENT_CLIENTS)
        .map(|c| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while started.elapsed() < DURABLE_RUN {
                    let stream = entity_stream(50_000 + c as u64);
                    let request = AppendRequest::new(
                        stream,
                        ExpectedVersion::Any,
                        vec![sample_event(n, PAYLOAD_BYTES)],
                        "bench",
                    );
                    store.append(request).await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    per_sec(total, started.elapsed())
}

async fn proofs(store: &Store, size: u64) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(PROOF_SAMPLES);
    for i in 0..PROOF_SAMPLES as u64 {
        let position = (i * 7_919_993) % size;
        let started = Instant::now();
        let proof = store.inclusion_proof(position, size).await.unwrap();
        samples.push(started.elapsed());
        std::hint::black_box(proof);
    }
    (percentile(&mut samples, 0.5), percentile(&mut samples, 0.99))
}

/// On PostgreSQL, a `CHECKPOINT` before each bulk phase: both run in one cluster, and without
/// it the second phase paid for writing out the first one's dirty pages (and for the full-page
/// images after the checkpoints this forced), which made the ratio depend on the order.
async fn settle(kind: Kind, db: &TestDb) {
    if kind == Kind::Postgres {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        // CHECKPOINT needs a superuser (or pg_checkpoint): without one the phases run as before.
        if let Err(e) = conn.execute("CHECKPOINT").await {
            println!("(no CHECKPOINT between the bulk phases: {e})");
        }
    }
}

async fn run_backend(kind: Kind, events: u64) {
    println!(
        "\n== {kind:?}: {events} events of {PAYLOAD_BYTES}-byte payloads, {STREAMS} streams =="
    );
    let raw_db = TestDb::new(kind);
    let data = rows(events);
    settle(kind, &raw_db).await;
    let raw_elapsed = raw_insert(kind, &raw_db, &data).await;
    drop(data);
    let raw_rate = per_sec(events, raw_elapsed);

    let db = TestDb::new(kind);
    let store = db.open().await;
    settle(kind, &db).await;
    let bulk_elapsed = bulk_append(&store, events).await;
    let bulk_rate = per_sec(events, bulk_elapsed);
    println!(
        "bulk append        {:>10.0} events/s   raw multi-row insert {:>10.0} rows/s   ratio {:.2}",
        bulk_rate,
        raw_rate,
        bulk_rate / raw_rate
    );

    let single = raw_single_row_durable(kind, &raw_db).await;
    let concurrent = concurrent_durable(&store).await;
    println!(
        "durable appends    {:>10.0} /s (64 clients, group commit)   \
         single-row durable {:>8.0} /s   ratio {:.1}",
        concurrent,
        single,
        concurrent / single
    );

    let size = store.size().await.unwrap();
    let (p50, p99) = proofs(&store, size).await;
    println!(
        "inclusion proof    p50 {:>8.1} us   p99 {:>8.1} us   at size {size}",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );

    let (scanned, scan_elapsed) = raw_scan(kind, &raw_db).await;
    let report = store.verify(|_| {}).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.first_problem());
    let verify_rate = per_sec(report.events, report.elapsed);
    let scan_rate = per_sec(scanned, scan_elapsed);
    println!(
        "verification       {:>10.0} events/s   sqlx scan {:>9.0} rows/s   ratio {:.2}",
        verify_rate,
        scan_rate,
        verify_rate / scan_rate
    );
    if kind == Kind::Sqlite {
        // Verification reads a SQLite file through a direct cursor, so its own driver's scan
        // is the other baseline.
        let (scanned, elapsed) = support::direct_scan(&raw_db);
        let direct_rate = per_sec(scanned, elapsed);
        println!(
            "                                         direct scan {:>9.0} rows/s   ratio {:.2}",
            direct_rate,
            verify_rate / direct_rate
        );
    }
    store.close().await;
}

fn main() {
    let events: u64 =
        std::env::var("BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    // `cargo bench` passes `--bench`; anything else (cargo test --benches) runs a tiny smoke run.
    let events = if std::env::args().any(|a| a == "--bench") { events } else { 2_000 };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    // `BENCH_BACKENDS=postgres` (or `sqlite`) measures one backend only.
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    runtime.block_on(async {
        if backends.contains("sqlite") {
            run_backend(Kind::Sqlite, events).await;
        }
        if !backends.contains("postgres") {
            return;
        }
        let pg = std::env::var("CREDIT_LEDGER_BENCH_PG_URL")
            .or_else(|_| std::env::var(ledger_testkit::PG_URL_VAR));
        match pg {
            Ok(url) => {
                std::env::set_var(ledger_testkit::PG_URL_VAR, url);
                run_backend(Kind::Postgres, events).await;
            }
            Err(_) => println!("\n(PostgreSQL not measured: set CREDIT_LEDGER_BENCH_PG_URL)"),
        }
    });
}
