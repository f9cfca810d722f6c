//! Baselines shared by the benchmarks.

use std::time::{Duration, Instant};

use ledger_testkit::{Kind, TestDb};
use sqlx::{Connection as _, Executor as _};

/// A raw scan of the whole `events` table through sqlx's native driver, decoding every column
/// into owned values: the fastest full read the driver allows, the baseline of verification
/// and rebuild.
pub async fn raw_scan(kind: Kind, db: &TestDb) -> (u64, Duration) {
    use futures_util::TryStreamExt as _;
    macro_rules! run {
        ($conn:expr, $row:ty) => {{
            let mut conn = $conn;
            let started = Instant::now();
            let mut n = 0u64;
            let mut stream = sqlx::query_as::<_, $row>(
                "SELECT position, stream, stream_version, event_id, event_type, schema_version, \
                 effective_at, recorded_at, recorded_by, payload, prev_hash, hash \
                 FROM events ORDER BY position",
            )
            .fetch(&mut conn);
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
