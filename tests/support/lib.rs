//! The shared test kit: real stores on both backends, sample events, and the macro that runs
//! one test body against every backend.
//!
//! PostgreSQL tests read `CREDIT_LEDGER_TEST_PG_URL` (set by `scripts/test-all`) and fail,
//! rather than skip, when it is missing: a green run must mean both backends were tested.
//! Each test gets its own schema, so tests run in parallel on one database.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use ledger_core::checkpoint::LogSigner;
use ledger_core::event::ProposedEvent;
use ledger_core::StreamName;
use ledger_store::{AppendRequest, ExpectedVersion, Store, StoreConfig, WriterLimits};
use uuid::Uuid;

/// The environment variable naming the test PostgreSQL server.
pub const PG_URL_VAR: &str = "CREDIT_LEDGER_TEST_PG_URL";

/// The checkpoint origin of test stores.
pub const TEST_ORIGIN: &str = "test.amr/credit-ledger";

/// The seed of the test signing key.
pub const TEST_KEY_SEED: [u8; 32] = [42; 32];

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh schema on the test PostgreSQL server.
    Postgres,
}

/// The test PostgreSQL URL; panics with instructions when it is not set.
pub fn pg_url() -> String {
    std::env::var(PG_URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{PG_URL_VAR} is not set: run the suite with scripts/test-all, which starts PostgreSQL"
        )
    })
}

/// The test signing key.
pub fn test_signer() -> Arc<LogSigner> {
    Arc::new(LogSigner::from_seed(TEST_ORIGIN, TEST_KEY_SEED).expect("valid key name"))
}

/// Where a test store lives, so it can be reopened, inspected and tampered with.
#[derive(Debug)]
pub struct TestDb {
    /// The backend.
    pub kind: Kind,
    /// Connection URL.
    pub url: String,
    /// PostgreSQL schema, if any.
    pub schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

static SCHEMA_COUNTER: AtomicU64 = AtomicU64::new(0);

impl TestDb {
    /// A fresh, empty database location.
    pub fn new(kind: Kind) -> Self {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("ledger.db").display());
                Self { kind, url, schema: None, _dir: Some(dir) }
            }
            Kind::Postgres => {
                let n = SCHEMA_COUNTER.fetch_add(1, Ordering::Relaxed);
                let schema = format!("t{}_{}_{n}", std::process::id(), Uuid::now_v7().simple());
                Self {
                    kind,
                    url: pg_url(),
                    schema: Some(schema[..40.min(schema.len())].to_owned()),
                    _dir: None,
                }
            }
        }
    }

    /// An existing location (the crash test's child process opens its parent's store).
    pub fn at(url: String, schema: Option<String>) -> Self {
        let kind = if url.starts_with("sqlite:") { Kind::Sqlite } else { Kind::Postgres };
        Self { kind, url, schema, _dir: None }
    }

    /// The store configuration for this location.
    pub fn config(&self) -> StoreConfig {
        let mut config = StoreConfig::new(self.url.clone(), TEST_ORIGIN, test_signer());
        config.pg_schema = self.schema.clone();
        config.limits = WriterLimits {
            writer_wait_max: std::time::Duration::from_secs(2),
            ..WriterLimits::default()
        };
        config
    }

    /// Opens a store here.
    pub async fn open(&self) -> Store {
        Store::open(self.config()).await.expect("store opens")
    }

    /// A raw connection pool, for editing the database behind the store's back.
    pub async fn raw(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        let schema = self.schema.clone();
        sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .after_connect(move |conn, _| {
                let schema = schema.clone();
                Box::pin(async move {
                    if let Some(schema) = schema {
                        sqlx::Executor::execute(
                            &mut *conn,
                            format!("SET search_path TO \"{schema}\"").as_str(),
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&self.url)
            .await
            .expect("raw connection")
    }

    /// `?` on SQLite, `$n` on PostgreSQL.
    pub fn ph(&self, n: usize) -> String {
        match self.kind {
            Kind::Sqlite => "?".to_owned(),
            Kind::Postgres => format!("${n}"),
        }
    }
}

/// A stream of an entity with a code derived from `n`.
pub fn entity_stream(n: u64) -> StreamName {
    let prefix = format!("91620502{:08}", n % 100_000_000);
    let code = ledger_core::CreditCode::complete(&prefix).expect("valid prefix");
    StreamName::entity(&code)
}

/// A sample event with a roughly `payload_bytes` payload.
pub fn sample_event(n: u64, payload_bytes: usize) -> ProposedEvent {
    let facts = "罚".repeat(payload_bytes.saturating_sub(80) / 3);
    ProposedEvent::new(
        Uuid::now_v7(),
        "penalty_decided",
        1,
        Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(n as i64),
        &serde_json::json!({
            "decision_no": format!("DEMO-{n}"),
            "fine_fen": n * 100,
            "facts": facts,
        }),
    )
    .expect("valid sample event")
}

/// An append of `count` sample events to `stream` with any expected version.
pub fn sample_append(stream: &StreamName, first: u64, count: u64) -> AppendRequest {
    let events = (first..first + count).map(|n| sample_event(n, 200)).collect();
    AppendRequest::new(stream.clone(), ExpectedVersion::Any, events, "test-recorder")
}

/// Defines one `#[tokio::test]` per backend for each named `async fn(Kind)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Kind::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Kind::Postgres).await
                }
            )*
        }
    };
}
