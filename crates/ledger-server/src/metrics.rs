//! Prometheus metrics, hand-written.
//!
//! A handful of counters and fixed-bucket histograms is all the service exports, so they are
//! kept here in atomics and rendered in the Prometheus text format (version 0.0.4) rather than
//! pulling in a metrics framework. Per-route request figures sit behind one mutex, taken once
//! per request for a few nanoseconds of map work.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

use crate::state::AppState;

/// Bucket bounds of latency histograms, in seconds.
const LATENCY_BOUNDS_SECONDS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Bucket bounds of the events-per-append histogram.
const BATCH_BOUNDS_EVENTS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

/// A fixed-bucket histogram.
#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    /// The sum, in millionths of the unit, so it fits an atomic integer.
    sum_micro: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micro: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    fn observe(&self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micro.fetch_add((value * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_micro.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// Per (route, method): latency histogram and counts by status.
#[derive(Debug)]
struct RouteStats {
    latency: Histogram,
    by_status: BTreeMap<u16, u64>,
}

/// The service's metrics.
#[derive(Debug)]
pub struct Metrics {
    append_requests: AtomicU64,
    appended_events: AtomicU64,
    duplicate_appends: AtomicU64,
    failed_appends: AtomicU64,
    append_batch_events: Histogram,
    append_commit_seconds: Histogram,
    access_log_entries: AtomicU64,
    /// Route template -> method -> figures; nested so that a request's lookup borrows its
    /// route and method instead of allocating a key.
    routes: Mutex<BTreeMap<String, BTreeMap<String, RouteStats>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            append_requests: AtomicU64::new(0),
            appended_events: AtomicU64::new(0),
            duplicate_appends: AtomicU64::new(0),
            failed_appends: AtomicU64::new(0),
            append_batch_events: Histogram::new(BATCH_BOUNDS_EVENTS),
            append_commit_seconds: Histogram::new(LATENCY_BOUNDS_SECONDS),
            access_log_entries: AtomicU64::new(0),
            routes: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Metrics {
    /// Records one append through the store: its size, outcome and time to durable commit.
    pub fn append(&self, events: usize, elapsed: Duration, outcome: Result<bool, ()>) {
        self.append_requests.fetch_add(1, Ordering::Relaxed);
        self.append_batch_events.observe(events as f64);
        self.append_commit_seconds.observe(elapsed.as_secs_f64());
        match outcome {
            Ok(false) => {
                self.appended_events.fetch_add(events as u64, Ordering::Relaxed);
            }
            Ok(true) => {
                self.duplicate_appends.fetch_add(1, Ordering::Relaxed);
            }
            Err(()) => {
                self.failed_appends.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts access-log entries written to the ledger.
    pub fn access_log_written(&self, entries: usize) {
        self.access_log_entries.fetch_add(entries as u64, Ordering::Relaxed);
    }

    fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        if !routes.get(route).is_some_and(|methods| methods.contains_key(method)) {
            routes.entry(route.to_owned()).or_default().insert(
                method.to_owned(),
                RouteStats {
                    latency: Histogram::new(LATENCY_BOUNDS_SECONDS),
                    by_status: BTreeMap::new(),
                },
            );
        }
        let Some(stats) = routes.get_mut(route).and_then(|methods| methods.get_mut(method)) else {
            return;
        };
        stats.latency.observe(elapsed.as_secs_f64());
        *stats.by_status.entry(status).or_insert(0) += 1;
    }

    /// The Prometheus text exposition; `log_size` and the projection's applied position (when
    /// this server runs a projector) are read by the caller, the position first.
    pub fn render(&self, log_size: Option<u64>, projection_position: Option<u64>) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            &mut out,
            "ledger_append_requests_total",
            "Append requests sent to the store.",
            load(&self.append_requests),
        );
        counter(
            &mut out,
            "ledger_appended_events_total",
            "Events newly recorded through the HTTP service.",
            load(&self.appended_events),
        );
        counter(
            &mut out,
            "ledger_duplicate_appends_total",
            "Appends answered as idempotent retries.",
            load(&self.duplicate_appends),
        );
        counter(
            &mut out,
            "ledger_failed_appends_total",
            "Appends the store refused or failed.",
            load(&self.failed_appends),
        );
        counter(
            &mut out,
            "ledger_access_log_entries_total",
            "Partner queries written to the access log.",
            load(&self.access_log_entries),
        );
        let header = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        if let Some(size) = log_size {
            header(&mut out, "ledger_log_size", "gauge", "Committed events in the log.");
            let _ = writeln!(out, "ledger_log_size {size}");
        }
        if let Some(position) = projection_position {
            let name = "ledger_projection_position";
            header(
                &mut out,
                name,
                "gauge",
                "Log position the active projection has applied up to.",
            );
            let _ = writeln!(out, "{name} {position}");
            if let Some(size) = log_size {
                let name = "ledger_projection_lag_events";
                header(&mut out, name, "gauge", "Committed events the projection has not applied.");
                let _ = writeln!(out, "{name} {}", size.saturating_sub(position));
            }
        }
        let name = "ledger_append_batch_events";
        header(&mut out, name, "histogram", "Events per append request.");
        self.append_batch_events.render(&mut out, name, "");
        let name = "ledger_append_commit_seconds";
        header(&mut out, name, "histogram", "Time from append request to durable commit.");
        self.append_commit_seconds.render(&mut out, name, "");

        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let help = "HTTP requests by route, method and status.";
        header(&mut out, "http_requests_total", "counter", help);
        let series = || routes.iter().flat_map(|(r, m)| m.iter().map(move |(m, s)| (r, m, s)));
        for (route, method, stats) in series() {
            for (status, count) in &stats.by_status {
                let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{status}\"");
                let _ = writeln!(out, "http_requests_total{{{labels}}} {count}");
            }
        }
        let help = "HTTP request latency by route and method.";
        header(&mut out, "http_request_duration_seconds", "histogram", help);
        for (route, method, stats) in series() {
            let labels = format!("route=\"{route}\",method=\"{method}\"");
            stats.latency.render(&mut out, "http_request_duration_seconds", &labels);
        }
        out
    }
}

/// The service's middleware: runs the request in a `request` span (at DEBUG), turns error
/// answers produced outside the handlers into problems ([`crate::problem::problem_fallback`]),
/// times the request and counts it under its route template (never the raw path, which would
/// give one series per entity). One middleware instead of three layers, since every layer
/// costs every request.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let route_str = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let span = tracing::debug_span!("request", method = %method, route = route_str);
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let response = crate::problem::problem_fallback(&state, response);
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    state.metrics().request(route_str, method.as_str(), status, elapsed);
    span.in_scope(|| tracing::debug!(status, micros = elapsed.as_micros() as u64, "answered"));
    response
}

/// Shared handle type.
pub type SharedMetrics = Arc<Metrics>;
