//! The partner status lookup over HTTP against two handlers served by the same axum/hyper stack.
//!
//! Run: `cargo bench --bench http` (the demo data set of 3,000 entities; `BENCH_ENTITIES=500`
//! for a quicker setup). Without `--bench`, as `cargo test --benches` runs it, every scenario
//! gets a few hundred requests over a tiny data set, so a compile check stays cheap.
//!
//! 1. The demo city is loaded into a SQLite store and the projection rebuilt; the service is
//!    served with [`ProjectionStatusSource`] over it, the access log on, and a partner
//!    registered and given a token through the admin API. A second server over the same store
//!    and projector runs with the access log off ([`ServerConfig::access_log_enabled`]), which
//!    is what recording every query costs.
//! 2. Two baselines are served from the same process on their own loopback ports: a trivial
//!    JSON handler, and a bare handler doing one primary-key lookup of an event's payload
//!    through a native `sqlx::SqlitePool` on the same database file.
//! 3. A client on its own runtime keeps one request in flight on each of
//!    [`CONNECTIONS`] keep-alive HTTP/1.1 connections for [`WARM_UP`], discards that, then
//!    measures [`ROUNDS`] rounds of [`RUN`], the scenarios taking turns, and reports each
//!    scenario's medians over its rounds. Requests are built from URIs and headers prepared
//!    beforehand, so the client's cost per request is a few reference-count increments.
//!
//! `BENCH_ONLY=<text>` runs only the scenarios whose name contains the text (for profiling one
//! of them, e.g. `BENCH_ONLY="log on"`); the ratios are then not printed.
//!
//! Client and server share the machine's cores, like wrk on the same host would: the figures
//! are for comparison with the baselines of the same run, not absolute capacity.

#![allow(clippy::print_stdout)] // a load harness reports on stdout

/// The allocator the `credit-ledger` binary runs on, so that the server is measured as it
/// ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use credit_ledger::demo::{self, DemoSize};
use http_body_util::{BodyExt as _, Empty, Full};
use hyper_util::rt::TokioIo;
use ledger_core::CreditCode;
use ledger_projections::Projector;
use ledger_server::{AppState, ProjectionStatusSource, ServerConfig};
use ledger_store::Store;
use ledger_testkit::{Kind, TestDb};
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// How long each round of a scenario is measured.
const RUN: Duration = Duration::from_secs(2);
/// Rounds each scenario is measured in, interleaved with the other scenarios' rounds, so that a
/// slow spell of the shared machine falls on every scenario rather than on one; figures are
/// the medians over the rounds.
const ROUNDS: usize = 5;
/// How long each scenario runs, unmeasured, before it is measured.
const WARM_UP: Duration = Duration::from_secs(1);
/// Keep-alive connections, each with one request in flight.
const CONNECTIONS: usize = 64;
/// Requests per connection in the smoke run (without `--bench`).
const SMOKE_REQUESTS_PER_CONNECTION: usize = 5;
/// Entities of the smoke run's data set.
const SMOKE_ENTITIES: u64 = 20;
/// Worker threads of the server's runtime and of the client's: two each, like a server and
/// `wrk -t2` sharing a two-core machine.
const SERVER_THREADS: usize = 2;
const CLIENT_THREADS: usize = 2;
/// Distinct prepared requests per scenario, cycled through by every connection.
const REQUEST_MIX: usize = 4_096;
/// Connections of the bare sqlx baseline's pool: as many as the store's read pool.
const BASELINE_POOL_CONNECTIONS: u32 = 8;
/// Requests a second a principal may make; far above what one machine can send, so that the
/// benchmark measures the limiter's check, not its refusals (the default is 500).
const BENCH_RATE_REQUESTS_PER_SECOND: u32 = 100_000_000;
/// The token that registers the benchmark's partner.
const BOOTSTRAP: &str = "bootstrap-secret-for-the-benchmark";
/// Answers checked before the run to report how many carry restrictions.
const ANSWERS_CHECKED: usize = 500;

// --- the servers ------------------------------------------------------------------------------

/// Everything served, and how to stop it.
struct Servers {
    db: TestDb,
    store: Store,
    entities: Vec<CreditCode>,
    log_size: u64,
    partner: SocketAddr,
    unlogged: SocketAddr,
    trivial: SocketAddr,
    sqlx: SocketAddr,
    partner_token: String,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Servers {
    async fn start(entities: u64) -> Self {
        let db = TestDb::new(Kind::Sqlite);
        let store = db.open().await;
        let size = DemoSize { entities, ..DemoSize::default() };
        demo::load(&store, &size).await.expect("demo data set");
        let codes: Vec<CreditCode> =
            (0..entities).map(|i| demo::entity(size.seed, i).code).collect();
        let projector = Projector::new(store.clone()).await.expect("projector");
        projector.rebuild(|_| {}).await.expect("projection rebuild");

        let mut servers = Self {
            log_size: 0,
            partner: ([127, 0, 0, 1], 0).into(),
            unlogged: ([127, 0, 0, 1], 0).into(),
            trivial: ([127, 0, 0, 1], 0).into(),
            sqlx: ([127, 0, 0, 1], 0).into(),
            partner_token: String::new(),
            stops: Vec::new(),
            tasks: Vec::new(),
            entities: codes,
            db,
            store,
        };
        servers.partner = servers.serve_ledger(projector.clone(), true).await;
        servers.partner_token = register_partner(servers.partner).await;
        // Started after the registration, so its principal table already holds the partner.
        servers.unlogged = servers.serve_ledger(projector, false).await;
        servers.log_size = servers.store.size().await.expect("log size");
        let (trivial, sqlx) = (trivial_router(), sqlx_router(&servers.db.url).await);
        servers.trivial = servers.serve_router(trivial).await;
        servers.sqlx = servers.serve_router(sqlx).await;
        servers
    }

    /// The service as deployed: default limits but the rate limit, and no tracing subscriber
    /// (its spans are at DEBUG, below a production filter). The server with the access log on
    /// also runs the projection's tailer; the other shares its projector.
    async fn serve_ledger(&mut self, projector: Projector, access_log: bool) -> SocketAddr {
        let config = ServerConfig {
            bootstrap_admin_token: Some(BOOTSTRAP.to_owned()),
            rate_requests_per_second: BENCH_RATE_REQUESTS_PER_SECOND,
            rate_burst_requests: BENCH_RATE_REQUESTS_PER_SECOND,
            access_log_enabled: access_log,
            ..ServerConfig::default()
        };
        let source = Arc::new(ProjectionStatusSource::new(projector.clone()));
        let state = AppState::new(self.store.clone(), config, source).await.expect("state");
        let listener = bind().await;
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        self.stops.push(stop);
        if access_log {
            let (stop_tail, tail_stopped) = oneshot::channel::<()>();
            self.stops.push(stop_tail);
            self.tasks.push(tokio::spawn(async move {
                projector.run(async { tail_stopped.await.unwrap_or_default() }).await;
            }));
        }
        self.tasks.push(tokio::spawn(async move {
            let shutdown = async { stopped.await.unwrap_or_default() };
            ledger_server::serve(listener, state, shutdown).await.expect("serve");
        }));
        address
    }

    async fn serve_router(&mut self, router: Router) -> SocketAddr {
        let listener = bind().await;
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        self.stops.push(stop);
        self.tasks.push(tokio::spawn(async move {
            let shutdown = async { stopped.await.unwrap_or_default() };
            axum::serve(listener, router).with_graceful_shutdown(shutdown).await.expect("serve");
        }));
        address
    }

    /// Stops every server (the ledger writes its buffered access log) and closes the store.
    async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        for task in self.tasks {
            task.await.expect("server task");
        }
        self.store.close().await;
    }
}

async fn bind() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("loopback listener")
}

/// Baseline A: a small JSON document, serialised per request.
fn trivial_router() -> Router {
    Router::new().route("/trivial", get(|| async { Json(json!({"status": "ok", "items": 1})) }))
}

/// Baseline B: one event's payload by its position, through sqlx's native SQLite driver.
async fn sqlx_router(url: &str) -> Router {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(BASELINE_POOL_CONNECTIONS)
        .connect(url)
        .await
        .expect("baseline pool");
    Router::new().route("/events/{position}", get(payload_at)).with_state(pool)
}

async fn payload_at(State(pool): State<sqlx::SqlitePool>, Path(position): Path<i64>) -> Response {
    let payload: Result<Vec<u8>, _> =
        sqlx::query_scalar("SELECT payload FROM events WHERE position = ?")
            .bind(position)
            .fetch_one(&pool)
            .await;
    match payload {
        Ok(payload) => ([(header::CONTENT_TYPE, "application/json")], payload).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Registers a partner of the demo's department and issues its token, as an operator would.
async fn register_partner(address: SocketAddr) -> String {
    let principal = json!({
        "principal_id": "bench-finance",
        "name": "天水市财政局（压测）",
        "roles": ["partner"],
        "department": credit_ledger::serve::DEMO_DEPARTMENT,
    });
    let (status, body) = post(address, "/v1/principals", &principal).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let path = "/v1/principals/bench-finance/tokens";
    let (status, body) = post(address, path, &json!({"label": "benchmark"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["token"].as_str().expect("token").to_owned()
}

// --- the client -------------------------------------------------------------------------------

/// One request on a fresh connection, for setup and checks.
async fn once(
    address: SocketAddr,
    request: Request<Full<Bytes>>,
) -> hyper::Response<hyper::body::Incoming> {
    let stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(connection);
    sender.send_request(request).await.expect("response")
}

async fn post(address: SocketAddr, path: &str, body: &Value) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::HOST, "127.0.0.1")
        .header(header::AUTHORIZATION, format!("Bearer {BOOTSTRAP}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body).expect("JSON"))))
        .expect("request");
    let response = once(address, request).await;
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn get_text(address: SocketAddr, uri: &Uri, auth: Option<&HeaderValue>) -> (u16, String) {
    let mut request = Request::get(uri.clone()).header(header::HOST, "127.0.0.1");
    if let Some(auth) = auth {
        request = request.header(header::AUTHORIZATION, auth.clone());
    }
    let response = once(address, request.body(Full::default()).expect("request")).await;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// What the load is aimed at.
struct Target {
    name: &'static str,
    address: SocketAddr,
    uris: Arc<Vec<Uri>>,
    auth: Option<HeaderValue>,
}

/// How long each connection keeps sending.
#[derive(Clone, Copy)]
enum Budget {
    For(Duration),
    Requests(usize),
}

/// What one connection saw.
#[derive(Default)]
struct Sample {
    latencies: Vec<Duration>,
    failures: u64,
    first_failure: Option<u16>,
}

struct Figures {
    requests: u64,
    failures: u64,
    first_failure: Option<u16>,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// The median of each figure over the rounds, with the rounds' requests and failures summed.
fn median(mut rounds: Vec<Figures>) -> Figures {
    let mid = rounds.len() / 2;
    let pick = |rounds: &mut Vec<Figures>, key: fn(&Figures) -> f64| {
        rounds.sort_by(|a, b| key(a).total_cmp(&key(b)));
        key(&rounds[mid])
    };
    let per_second = pick(&mut rounds, |f| f.per_second);
    let p50 = Duration::from_secs_f64(pick(&mut rounds, |f| f.p50.as_secs_f64()));
    let p99 = Duration::from_secs_f64(pick(&mut rounds, |f| f.p99.as_secs_f64()));
    Figures {
        requests: rounds.iter().map(|f| f.requests).sum(),
        failures: rounds.iter().map(|f| f.failures).sum(),
        first_failure: rounds.iter().find_map(|f| f.first_failure),
        per_second,
        p50,
        p99,
    }
}

/// Keeps one request in flight on each connection until the budget is spent.
async fn drive(target: &Target, budget: Budget) -> Figures {
    let started = Instant::now();
    let connections: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let (address, uris, auth) = (target.address, target.uris.clone(), target.auth.clone());
            tokio::spawn(connection(address, uris, auth, c * REQUEST_MIX / CONNECTIONS, budget))
        })
        .collect();
    let mut all = Sample::default();
    for c in connections {
        let sample = c.await.expect("client connection");
        all.latencies.extend(sample.latencies);
        all.failures += sample.failures;
        all.first_failure = all.first_failure.or(sample.first_failure);
    }
    let elapsed = started.elapsed();
    all.latencies.sort_unstable();
    let at = |p: f64| all.latencies[((all.latencies.len() - 1) as f64 * p) as usize];
    Figures {
        requests: all.latencies.len() as u64,
        failures: all.failures,
        first_failure: all.first_failure,
        per_second: all.latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

async fn connection(
    address: SocketAddr,
    uris: Arc<Vec<Uri>>,
    auth: Option<HeaderValue>,
    first: usize,
    budget: Budget,
) -> Sample {
    let stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let (mut sender, driver) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(driver);
    let host = HeaderValue::from_static("127.0.0.1");
    let mut sample = Sample::default();
    let started = Instant::now();
    for n in 0.. {
        let more = match budget {
            Budget::For(run) => started.elapsed() < run,
            Budget::Requests(count) => n < count,
        };
        if !more {
            break;
        }

        let mut request = Request::new(Empty::<Bytes>::new());
        *request.uri_mut() = uris[(first + n) % uris.len()].clone();
        request.headers_mut().insert(header::HOST, host.clone());
        if let Some(auth) = &auth {
            request.headers_mut().insert(header::AUTHORIZATION, auth.clone());
        }
        let sent = Instant::now();
        sender.ready().await.expect("connection ready");
        let response = sender.send_request(request).await.expect("response");
        let status = response.status();
        response.into_body().collect().await.expect("body");
        sample.latencies.push(sent.elapsed());
        if status != StatusCode::OK {
            sample.failures += 1;
            sample.first_failure.get_or_insert(status.as_u16());
        }
    }
    sample
}

// --- the scenarios ----------------------------------------------------------------------------

/// A small deterministic generator (splitmix64), so every run asks the same questions.
struct Mix(u64);

impl Mix {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// Lookups of random demo entities on random days of the demo's years.
fn partner_uris(entities: &[CreditCode]) -> Vec<Uri> {
    let first = NaiveDate::from_ymd_opt(2019, 1, 1).expect("date");
    let days = (demo::last_day() - first).num_days() as u64 + 1;
    let mut mix = Mix(1);
    (0..REQUEST_MIX)
        .map(|_| {
            let code = entities[mix.below(entities.len() as u64) as usize];
            let as_of = first + chrono::Duration::days(mix.below(days) as i64);
            let uri = format!("/v1/entities/{code}/restrictions?as_of={as_of}");
            uri.parse().expect("URI")
        })
        .collect()
}

fn sqlx_uris(log_size: u64) -> Vec<Uri> {
    let mut mix = Mix(2);
    (0..REQUEST_MIX)
        .map(|_| format!("/events/{}", mix.below(log_size)).parse().expect("URI"))
        .collect()
}

/// How many of the first prepared lookups answer with at least one restriction.
async fn restricted_share(target: &Target) -> f64 {
    let checked = ANSWERS_CHECKED.min(target.uris.len());
    let mut restricted = 0;
    for uri in &target.uris[..checked] {
        let (status, body) = get_text(target.address, uri, target.auth.as_ref()).await;
        assert_eq!(status, 200, "{uri}: {body}");
        let answer: Value = serde_json::from_str(&body).expect("JSON answer");
        if answer["restrictions"].as_array().is_some_and(|r| !r.is_empty()) {
            restricted += 1;
        }
    }
    f64::from(restricted) / checked as f64
}

/// The access-log entries the service has written so far, from its metrics.
async fn access_log_written(address: SocketAddr) -> u64 {
    let (_, metrics) = get_text(address, &Uri::from_static("/metrics"), None).await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("ledger_access_log_entries_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn report(target: &Target, figures: &Figures) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{:<34} {:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   ({} requests{})",
        target.name,
        figures.per_second,
        ms(figures.p50),
        ms(figures.p99),
        figures.requests,
        match figures.first_failure {
            Some(status) => format!(", {} failed, first with {status}", figures.failures),
            None => String::new(),
        }
    );
}

fn main() {
    let measure = std::env::args().any(|a| a == "--bench");
    let entities: u64 = match measure {
        true => std::env::var("BENCH_ENTITIES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(demo::DEFAULT_ENTITIES),
        false => SMOKE_ENTITIES,
    };
    // Named threads let a profiler tell the server's work from the client's.
    let runtime = |threads, name: &str| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name(name)
            .enable_all()
            .build()
            .expect("runtime")
    };
    let (server_runtime, client_runtime) =
        (runtime(SERVER_THREADS, "server"), runtime(CLIENT_THREADS, "client"));
    let servers = server_runtime.block_on(Servers::start(entities));
    let auth = HeaderValue::try_from(format!("Bearer {}", servers.partner_token)).expect("token");
    let lookups = Arc::new(partner_uris(&servers.entities));
    let targets = [
        Target {
            name: "trivial JSON handler",
            address: servers.trivial,
            uris: Arc::new(vec![Uri::from_static("/trivial")]),
            auth: None,
        },
        Target {
            name: "bare sqlx primary-key lookup",
            address: servers.sqlx,
            uris: Arc::new(sqlx_uris(servers.log_size)),
            auth: None,
        },
        Target {
            name: "partner lookup (access log on)",
            address: servers.partner,
            uris: lookups.clone(),
            auth: Some(auth.clone()),
        },
        Target {
            name: "partner lookup (access log off)",
            address: servers.unlogged,
            uris: lookups,
            auth: Some(auth),
        },
    ];
    let (warm_up, run) = match measure {
        true => (Some(Budget::For(WARM_UP)), Budget::For(RUN)),
        false => (None, Budget::Requests(SMOKE_REQUESTS_PER_CONNECTION)),
    };

    client_runtime.block_on(async {
        let partner = &targets[2];
        let share = restricted_share(partner).await;
        println!(
            "\n== HTTP over loopback: {CONNECTIONS} connections, {}; demo data set \
             of {} entities, {} events; {:.0}% of lookups answer with restrictions ==",
            match run {
                Budget::For(run) => {
                    format!("{ROUNDS} rounds of {} s per scenario", run.as_secs_f64())
                }
                Budget::Requests(n) => format!("{n} requests (smoke run)"),
            },
            servers.entities.len(),
            servers.log_size,
            share * 100.0
        );
        let only = std::env::var("BENCH_ONLY").ok();
        let chosen: Vec<&Target> = targets
            .iter()
            .filter(|t| only.as_deref().is_none_or(|only| t.name.contains(only)))
            .collect();
        for target in &chosen {
            if let Some(warm_up) = warm_up {
                drive(target, warm_up).await;
            }
        }
        let rounds = if measure { ROUNDS } else { 1 };
        let mut by_round: Vec<Vec<Figures>> = chosen.iter().map(|_| Vec::new()).collect();
        let logged_before = access_log_written(servers.partner).await;
        for _ in 0..rounds {
            for (target, rounds) in chosen.iter().zip(&mut by_round) {
                rounds.push(drive(target, run).await);
            }
        }
        let logged = access_log_written(servers.partner).await - logged_before;
        let figures: Vec<Figures> = by_round.into_iter().map(median).collect();
        for (target, figures) in chosen.iter().zip(&figures) {
            report(target, figures);
        }
        println!("{:<34} {logged} entries written during the partner rounds", "  access log");
        if chosen.len() < targets.len() {
            return;
        }
        let (trivial, sqlx, partner, unlogged) =
            (&figures[0], &figures[1], &figures[2], &figures[3]);
        println!(
            "partner / trivial handler {:>6.2}   (aim 0.5)\npartner / bare sqlx lookup {:>5.2}   \
             (target at least 2)\npartner p99 {:.2} ms   (target under 10 ms)\n\
             access log on / off {:>8.2}   (target: logging must not halve throughput, > 0.5)",
            partner.per_second / trivial.per_second,
            partner.per_second / sqlx.per_second,
            partner.p99.as_secs_f64() * 1e3,
            partner.per_second / unlogged.per_second,
        );
    });
    server_runtime.block_on(servers.stop());
}
