//! The service's limits and settings.
//!
//! Everything that grows with a request has a bound here, as a named constant with its unit in
//! the name and a field of [`ServerConfig`] that defaults to it, so that a program embedding
//! the service can tighten or widen a bound and a test can make one small enough to hit. The
//! `credit-ledger` binary serves with the defaults: no flag or configuration key sets them yet.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ledger_store::{Clock, SystemClock};

/// The largest JSON request body, in bytes (413 beyond).
pub const REQUEST_BODY_BYTES_MAX: usize = 1024 * 1024;

/// The largest NDJSON import body, in bytes (413 beyond).
pub const IMPORT_BODY_BYTES_MAX: usize = 64 * 1024 * 1024;

/// The most lines one import may carry (413 beyond).
pub const IMPORT_LINES_MAX: usize = 100_000;

/// The most per-line errors an import report lists; the counts stay exact.
pub const IMPORT_ERRORS_MAX: usize = 1_000;

/// The most events one append request may carry (413 beyond); the store's own bound.
pub const APPEND_BATCH_EVENTS_MAX: usize = ledger_store::APPEND_EVENTS_MAX;

/// The page size of log and stream reads when the caller names none.
pub const PAGE_EVENTS_DEFAULT: usize = 100;

/// The largest page of log and stream reads (400 beyond).
pub const PAGE_EVENTS_MAX: usize = 1_000;

/// The most credit codes one bulk restriction check may carry (413 beyond).
pub const CHECK_CODES_MAX: usize = 500;

/// The page size of the partner change feed when the caller names none.
pub const CHANGES_PAGE_DEFAULT: usize = 100;

/// The largest page of the partner change feed (400 beyond).
pub const CHANGES_PAGE_MAX: usize = 1_000;

/// Requests per second each principal may make on average (429 beyond).
pub const RATE_REQUESTS_PER_SECOND: u32 = 500;

/// Requests a principal may make in a burst above its average rate.
pub const RATE_BURST_REQUESTS: u32 = 1_000;

/// The longest a request may run before the service answers 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The access log is written at least this often while it holds entries.
pub const ACCESS_LOG_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// The access log is written as soon as it holds this many entries.
pub const ACCESS_LOG_FLUSH_ENTRIES: usize = 1_000;

/// The most access-log entries waiting to be written; partner queries get 503 beyond, because
/// a query that cannot be logged must not be answered.
pub const ACCESS_LOG_QUEUE_ENTRIES_MAX: usize = 100_000;

/// How often the principal table is brought up to date with identity events that another
/// server process on the same database may have appended.
pub const PRINCIPAL_REFRESH_INTERVAL: Duration = Duration::from_secs(2);

/// How often a change-feed stream with nothing new asks its source again.
pub const SSE_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How often an idle change-feed stream sends a keep-alive comment.
pub const SSE_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// The service's settings; [`ServerConfig::default`] gives the constants above.
#[derive(Clone)]
pub struct ServerConfig {
    /// See [`REQUEST_BODY_BYTES_MAX`].
    pub request_body_bytes_max: usize,
    /// See [`IMPORT_BODY_BYTES_MAX`].
    pub import_body_bytes_max: usize,
    /// See [`IMPORT_LINES_MAX`].
    pub import_lines_max: usize,
    /// See [`APPEND_BATCH_EVENTS_MAX`].
    pub append_batch_events_max: usize,
    /// See [`PAGE_EVENTS_DEFAULT`].
    pub page_events_default: usize,
    /// See [`PAGE_EVENTS_MAX`].
    pub page_events_max: usize,
    /// See [`CHECK_CODES_MAX`].
    pub check_codes_max: usize,
    /// See [`CHANGES_PAGE_DEFAULT`].
    pub changes_page_default: usize,
    /// See [`CHANGES_PAGE_MAX`].
    pub changes_page_max: usize,
    /// See [`RATE_REQUESTS_PER_SECOND`].
    pub rate_requests_per_second: u32,
    /// See [`RATE_BURST_REQUESTS`].
    pub rate_burst_requests: u32,
    /// See [`REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// See [`ACCESS_LOG_FLUSH_INTERVAL`].
    pub access_log_flush_interval: Duration,
    /// See [`ACCESS_LOG_FLUSH_ENTRIES`].
    pub access_log_flush_entries: usize,
    /// See [`ACCESS_LOG_QUEUE_ENTRIES_MAX`].
    pub access_log_queue_entries_max: usize,
    /// Whether partner queries are recorded in the access log; on by default. Off exists only
    /// so that a benchmark can measure what recording costs: a server with it off answers
    /// partner queries unrecorded and says so in a warning when it starts. The command-line
    /// binary has no option for it.
    pub access_log_enabled: bool,
    /// See [`PRINCIPAL_REFRESH_INTERVAL`].
    pub principal_refresh_interval: Duration,
    /// See [`SSE_POLL_INTERVAL`].
    pub sse_poll_interval: Duration,
    /// See [`SSE_KEEP_ALIVE_INTERVAL`].
    pub sse_keep_alive_interval: Duration,
    /// A token that authenticates as an admin without being recorded, so that a fresh
    /// installation can register its first principals. It should be removed from the
    /// configuration once a recorded admin exists.
    pub bootstrap_admin_token: Option<String>,
    /// Where the service reads the time (query times, today's date).
    pub clock: Arc<dyn Clock>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            request_body_bytes_max: REQUEST_BODY_BYTES_MAX,
            import_body_bytes_max: IMPORT_BODY_BYTES_MAX,
            import_lines_max: IMPORT_LINES_MAX,
            append_batch_events_max: APPEND_BATCH_EVENTS_MAX,
            page_events_default: PAGE_EVENTS_DEFAULT,
            page_events_max: PAGE_EVENTS_MAX,
            check_codes_max: CHECK_CODES_MAX,
            changes_page_default: CHANGES_PAGE_DEFAULT,
            changes_page_max: CHANGES_PAGE_MAX,
            rate_requests_per_second: RATE_REQUESTS_PER_SECOND,
            rate_burst_requests: RATE_BURST_REQUESTS,
            request_timeout: REQUEST_TIMEOUT,
            access_log_flush_interval: ACCESS_LOG_FLUSH_INTERVAL,
            access_log_flush_entries: ACCESS_LOG_FLUSH_ENTRIES,
            access_log_queue_entries_max: ACCESS_LOG_QUEUE_ENTRIES_MAX,
            access_log_enabled: true,
            principal_refresh_interval: PRINCIPAL_REFRESH_INTERVAL,
            sse_poll_interval: SSE_POLL_INTERVAL,
            sse_keep_alive_interval: SSE_KEEP_ALIVE_INTERVAL,
            bootstrap_admin_token: None,
            clock: Arc::new(SystemClock),
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the bootstrap token.
        f.debug_struct("ServerConfig")
            .field("request_body_bytes_max", &self.request_body_bytes_max)
            .field("import_body_bytes_max", &self.import_body_bytes_max)
            .field("append_batch_events_max", &self.append_batch_events_max)
            .field("page_events_max", &self.page_events_max)
            .field("check_codes_max", &self.check_codes_max)
            .field("rate_requests_per_second", &self.rate_requests_per_second)
            .field("access_log_enabled", &self.access_log_enabled)
            .field("bootstrap_admin_token", &self.bootstrap_admin_token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}
