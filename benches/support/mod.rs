//! Baselines shared by the benchmarks, and the allocator they run on.

use std::time::{Duration, Instant};

use ledger_testkit::{Kind, TestDb};
use sqlx::{Connection as _, Executor as _};

/// The allocator the `credit-ledger` binary runs on, so that the store is measured as it
/// ships (see docs/architecture.md for why it is not the system's).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The statement both raw scans run.
const SCAN_SQL: &str = "SELECT position, stream, stream_version, event_id, event_type, \
     schema_version, effective_at, recorded_at, recorded_by, payload, prev_hash, hash \
     FROM events ORDER BY position";

/// A raw scan of the whole `events` table through sqlx's native driver, decoding every column
/// into owned values: the fastest full read sqlx allows, a baseline of verification and
/// rebuild.
pub async fn raw_scan(kind: Kind, db: &TestDb) -> (u64, Duration) {
    use futures_util::TryStreamExt as _;
    macro_rules! run {
        ($conn:expr, $row:ty) => {{
            let mut conn = $conn;
            let started = Instant::now();
            let mut n = 0u64;
            let mut stream = sqlx::query_as::<_, $row>(SCAN_SQL).fetch(&mut conn);
            while let Some(row) = stream.try_next().await.unwrap() {
                std::hint::black_box(&row);
                n += 1;
            }
            (n, started.elapsed())
        }};
    }
    type R = (i64, String, i64, Vec<u8>, String, i64, i64, i64, String, Vec<u8>, Vec<u8>, Vec<u8>);
    match kind {
        Kind::Sqlite => run!(sqlx::SqliteConnection::connect(&db.url).await.unwrap(), R),
        Kind::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let schema = db.schema.clone().unwrap();
            conn.execute(format!("SET search_path TO \"{schema}\"").as_str()).await.unwrap();
            run!(conn, R)
        }
    }
}

/// The same scan of a SQLite file through a direct `rusqlite` cursor on the calling thread,
/// decoding every column into owned values: the fastest full read SQLite allows, the baseline
/// of the store's direct bulk reads (`ledger_store::sqlite_direct`).
pub fn direct_scan(db: &TestDb) -> (u64, Duration) {
    let path = db.url.trim_start_matches("sqlite://");
    let path = path.split('?').next().unwrap_or(path);
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let connection = rusqlite::Connection::open_with_flags(path, flags).unwrap();
    let started = Instant::now();
    let mut statement = connection.prepare(SCAN_SQL).unwrap();
    let mut rows = statement.query([]).unwrap();
    let mut n = 0u64;
    while let Some(row) = rows.next().unwrap() {
        type R = (i64, String, i64, Vec<u8>, String, i64, i64, i64, String, Vec<u8>);
        let columns: R = (
            row.get(0).unwrap(),
            row.get(1).unwrap(),
            row.get(2).unwrap(),
            row.get(3).unwrap(),
            row.get(4).unwrap(),
            row.get(5).unwrap(),
            row.get(6).unwrap(),
            row.get(7).unwrap(),
            row.get(8).unwrap(),
            row.get(9).unwrap(),
        );
        let hashes: (Vec<u8>, Vec<u8>) = (row.get(10).unwrap(), row.get(11).unwrap());
        std::hint::black_box((&columns, &hashes));
        n += 1;
    }
    (n, started.elapsed())
}
