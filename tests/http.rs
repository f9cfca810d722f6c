//! The HTTP service over a real listening socket on loopback, on SQLite and PostgreSQL.
//!
//! Each test starts a server on `127.0.0.1:0` over a fresh store, registers one principal per
//! role through the admin API (so identities go through the ledger like in production), and
//! talks to it with a minimal HTTP/1.1 client built on hyper.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, Method, Request, StatusCode};
use chrono::{NaiveDate, TimeZone as _, Utc};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use ledger_core::bundle::{verify_bundle, EventBundle};
use ledger_core::checkpoint::NoteVerifier;
use ledger_core::merkle;
use ledger_core::{CreditCode, Hash32, StreamName};
use ledger_server::status::{
    Change, ChangeKind, ChangePage, DepartmentScope, EntityStatus, LegalBasisView, Restriction,
    StatusError, StatusFuture, StatusQuery, StatusSource,
};
use ledger_server::{AppState, ServerConfig};
use ledger_store::Store;
use ledger_testkit::{backend_tests, Kind, TestDb, TEST_ORIGIN};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use uuid::Uuid;

backend_tests!(
    appends_answer_positions_and_retries,
    bad_input_gets_problems,
    import_reports_each_line,
    auditor_reads_verify,
    authorization_matrix,
    principals_and_revocation,
    partner_queries_are_scoped_and_logged,
    a_full_access_log_refuses_queries,
    a_query_too_large_to_log_is_refused,
    an_access_log_turned_off_records_nothing,
    change_feed_streams_and_resumes,
    rate_limit_answers_429,
    concurrent_writers,
    operator_endpoints_and_shutdown,
    rules_source_folds_the_entity_stream,
    projection_source_answers_from_the_projection,
);

const BOOTSTRAP: &str = "bootstrap-secret-for-tests";
const TAX: &str = "税务部门";
const FINANCE: &str = "财政部门";

// --- a minimal client -------------------------------------------------------------------------

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn content_type(&self) -> &str {
        self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Asserts a problem answer of `status` and `kind`, and returns its detail.
    #[track_caller]
    fn problem(&self, status: u16, kind: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(self.content_type(), "application/problem+json", "{}", self.text());
        let problem = self.json();
        assert_eq!(problem["type"], format!("urn:credit-ledger:problem:{kind}"), "{problem}");
        assert_eq!(problem["status"], status);
        assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()));
        problem["detail"].as_str().unwrap_or_default().to_owned()
    }
}

#[derive(Debug, Clone)]
struct Client {
    addr: SocketAddr,
}

impl Client {
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let response = self.open(method, path, token, content_type, body, headers).await;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Reply { status: parts.status, headers: parts.headers, body }
    }

    async fn open(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> hyper::Response<hyper::body::Incoming> {
        let stream = tokio::net::TcpStream::connect(self.addr).await.expect("connect");
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(connection);
        let mut request = Request::builder().method(method).uri(path).header(header::HOST, "test");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(Bytes::from(body))).expect("request");
        sender.send_request(request).await.expect("response")
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, path, token, None, Vec::new(), &[]).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        let bytes = serde_json::to_vec(body).unwrap();
        self.send(Method::POST, path, token, Some("application/json"), bytes, &[]).await
    }
}

// --- a fixed status source --------------------------------------------------------------------

#[derive(Debug, Default)]
struct FixedStatus {
    entities: HashMap<String, EntityStatus>,
    changes: Vec<Change>,
}

impl StatusSource for FixedStatus {
    fn status<'a>(&'a self, query: &'a StatusQuery) -> StatusFuture<'a, EntityStatus> {
        Box::pin(async move {
            let mut status = self
                .entities
                .get(query.code.as_str())
                .cloned()
                .ok_or_else(|| StatusError::UnknownEntity(query.code.to_string()))?;
            status.as_of = query.as_of;
            status.known_at = query.known_at;
            status.restrictions.retain(|r| {
                r.starts_on <= query.as_of && r.ends_on.is_none_or(|end| query.as_of <= end)
            });
            Ok(status)
        })
    }

    fn changes<'a>(
        &'a self,
        scope: &'a DepartmentScope,
        cursor: u64,
        limit: usize,
    ) -> StatusFuture<'a, ChangePage> {
        Box::pin(async move {
            let changes: Vec<Change> = self
                .changes
                .iter()
                .filter(|c| c.cursor > cursor && scope.covers(&c.department))
                .take(limit)
                .cloned()
                .collect();
            let next_cursor = changes.last().map_or(cursor, |c| c.cursor);
            Ok(ChangePage { changes, next_cursor })
        })
    }
}

fn code(n: u64) -> CreditCode {
    CreditCode::complete(&format!("91620502{:08}", n)).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn restriction(measure: &str, department: &str, from: NaiveDate, to: NaiveDate) -> Restriction {
    Restriction {
        measure_id: measure.into(),
        department: department.into(),
        title: format!("{measure} title"),
        reason: "列入严重违法失信名单".into(),
        legal_basis: vec![LegalBasisView {
            document: "《市场监督管理严重违法失信名单管理办法》".into(),
            article: "第十四条".into(),
            version: "2021-07-30".into(),
        }],
        starts_on: from,
        ends_on: Some(to),
        caused_by: vec![0],
    }
}

fn fixed_status() -> FixedStatus {
    let mut status = FixedStatus::default();
    status.entities.insert(
        code(1).to_string(),
        EntityStatus {
            code: code(1),
            name: Some("天水市麦积区陇上食品有限公司".into()),
            as_of: date(2025, 1, 1),
            known_at: None,
            log_size: 0,
            restrictions: vec![
                restriction("tax-credit-downgrade", TAX, date(2025, 1, 1), date(2027, 12, 31)),
                restriction("procurement-bar", FINANCE, date(2025, 1, 1), date(2025, 6, 30)),
            ],
        },
    );
    for n in 1..=6u64 {
        status.changes.push(Change {
            cursor: n,
            code: code(n),
            measure_id: "procurement-bar".into(),
            department: if n % 2 == 0 { TAX.into() } else { FINANCE.into() },
            change: if n % 3 == 0 { ChangeKind::Ended } else { ChangeKind::Started },
            on: date(2025, 1, n as u32),
            position: n,
        });
    }
    status
}

// --- the server under test --------------------------------------------------------------------

struct Env {
    db: TestDb,
    store: Store,
    client: Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    tokens: HashMap<&'static str, String>,
}

impl Env {
    fn token(&self, role: &str) -> Option<&str> {
        self.tokens.get(role).map(String::as_str)
    }

    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task");
        }
    }

    async fn size(&self) -> u64 {
        self.store.size().await.unwrap()
    }
}

/// The service's clock in tests: a fixed instant, so that the access log's day is known.
#[derive(Debug)]
struct FixedClock;

impl ledger_store::Clock for FixedClock {
    fn now(&self) -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 2, 8, 0, 0).unwrap()
    }
}

fn test_config() -> ServerConfig {
    ServerConfig {
        clock: Arc::new(FixedClock),
        bootstrap_admin_token: Some(BOOTSTRAP.into()),
        access_log_flush_interval: Duration::from_millis(50),
        sse_poll_interval: Duration::from_millis(50),
        request_body_bytes_max: 64 * 1024,
        import_body_bytes_max: 256 * 1024,
        append_batch_events_max: 20,
        check_codes_max: 10,
        import_lines_max: 100,
        ..ServerConfig::default()
    }
}

async fn start_on(db: TestDb, config: ServerConfig) -> Env {
    start_with(db, config, |_| Arc::new(fixed_status())).await
}

async fn start_with(
    db: TestDb,
    config: ServerConfig,
    source: impl FnOnce(Store) -> Arc<dyn StatusSource>,
) -> Env {
    start_with_projector(db, config, |store| (source(store), None)).await
}

/// Starts a server whose status source (and, optionally, projector for the operator
/// endpoints) `make` builds over the store.
async fn start_with_projector(
    db: TestDb,
    config: ServerConfig,
    make: impl FnOnce(Store) -> (Arc<dyn StatusSource>, Option<ledger_projections::Projector>),
) -> Env {
    let store = db.open().await;
    let (source, projector) = make(store.clone());
    let mut state = AppState::new(store.clone(), config, source).await.unwrap();
    if let Some(projector) = projector {
        state = state.with_projector(projector);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        ledger_server::serve(listener, state, async {
            let _ = stopped.await;
        })
        .await
        .expect("serve");
    });
    Env {
        db,
        store,
        client: Client { addr },
        stop: Some(stop),
        task: Some(task),
        tokens: HashMap::new(),
    }
}

/// A server with one principal (and token) per role, registered through the admin API.
async fn start(kind: Kind, config: ServerConfig) -> Env {
    register_all(start_on(TestDb::new(kind), config).await).await
}

async fn register_all(mut env: Env) -> Env {
    let principals = [
        ("admin", json!({"principal_id": "ops", "name": "运维", "roles": ["admin"]})),
        (
            "recorder",
            json!({"principal_id": "case-system", "name": "案件系统", "roles": ["recorder"]}),
        ),
        ("auditor", json!({"principal_id": "audit", "name": "纪委", "roles": ["auditor"]})),
        (
            "partner",
            json!({
                "principal_id": "tax",
                "name": "税务局",
                "roles": ["partner"],
                "department": TAX,
            }),
        ),
        (
            "partner_all",
            json!({"principal_id": "court", "name": "法院", "roles": ["partner"],
                "all_departments": true}),
        ),
    ];
    for (role, body) in principals {
        let reply = env.client.post("/v1/principals", Some(BOOTSTRAP), &body).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        let id = body["principal_id"].as_str().unwrap();
        let reply = env
            .client
            .post(&format!("/v1/principals/{id}/tokens"), Some(BOOTSTRAP), &json!({"label": "t"}))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        env.tokens.insert(role, reply.json()["token"].as_str().unwrap().to_owned());
    }
    env
}

// --- sample events ----------------------------------------------------------------------------

fn registered(n: u64) -> Value {
    event(
        "entity_registered",
        json!({
            "credit_code": code(n).to_string(),
            "name": format!("天水市测试{n}有限公司"),
            "entity_kind": "limited_liability_company",
            "registered_address": "甘肃省天水市秦州区民主西路3号",
            "division": "620502",
            "registration_authority": {"name": "天水市市场监督管理局"},
            "establishment_date": "2016-03-18",
            "business_scope": "食品销售",
            "legal_representative": {
                "commitment": "4f".repeat(32),
                "commitment_id": "01900000-0000-7000-8000-000000000001",
                "role": "legal_representative",
            },
        }),
    )
}

fn spot_check(n: u64) -> Value {
    event(
        "spot_check_recorded",
        json!({
            "plan_id": format!("PLAN-{n}"),
            "selection_batch": "1",
            "check_date": "2025-03-01",
            "result": "compliant",
            "items_checked": ["营业执照"],
            "authority": {"name": "天水市市场监督管理局"},
        }),
    )
}

fn event(event_type: &str, payload: Value) -> Value {
    json!({
        "event_id": Uuid::now_v7(),
        "event_type": event_type,
        "schema_version": 1,
        "effective_at": "2025-06-01T00:00:00Z",
        "payload": payload,
    })
}

fn entity_path(n: u64) -> String {
    format!("/v1/streams/entity/{}/events", code(n))
}

// --- the tests --------------------------------------------------------------------------------

async fn appends_answer_positions_and_retries(kind: Kind) {
    let mut env = start(kind, test_config()).await;
    let recorder = env.token("recorder");
    let base = env.size().await;

    // One event, then a batch.
    let first = registered(1);
    let body = json!({"expected_version": "no_stream", "event": first});
    let reply = env.client.post(&entity_path(1), recorder, &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let answer = reply.json();
    assert_eq!(answer["duplicate"], false);
    assert_eq!(answer["stream"], format!("entity/{}", code(1)));
    assert_eq!(answer["events"][0]["position"], base);
    assert_eq!(answer["events"][0]["stream_version"], 1);
    assert_eq!(answer["events"][0]["hash"].as_str().unwrap().len(), 64);

    let batch = json!({"expected_version": 1, "events": [spot_check(1), spot_check(2)]});
    let reply = env.client.post(&entity_path(1), recorder, &batch).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let versions: Vec<u64> = reply.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["stream_version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, vec![2, 3]);

    // The same batch again is a duplicate with the same answer; nothing is written.
    let retry = env.client.post(&entity_path(1), recorder, &batch).await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.json()["duplicate"], true);
    assert_eq!(retry.json()["events"], reply.json()["events"]);
    assert_eq!(env.size().await, base + 3);

    // A stale expected version, and a reused id with other content.
    let stale = json!({"expected_version": 1, "event": spot_check(3)});
    let detail = env
        .client
        .post(&entity_path(1), recorder, &stale)
        .await
        .problem(409, "wrong-expected-version");
    assert!(detail.contains("version 3"), "{detail}");
    let mut reused = spot_check(4);
    reused["event_id"] = first["event_id"].clone();
    let body = json!({"event": reused});
    env.client.post(&entity_path(1), recorder, &body).await.problem(409, "idempotency-conflict");
    let body = json!({"expected_version": "no_stream", "event": spot_check(5)});
    env.client.post(&entity_path(1), recorder, &body).await.problem(409, "wrong-expected-version");
    assert_eq!(env.size().await, base + 3);

    // The recorder is the authenticated principal.
    let auditor = env.token("auditor");
    let history = env.client.get(&format!("/v1/streams/entity/{}", code(1)), auditor).await;
    assert_eq!(history.status, 200, "{}", history.text());
    let history = history.json();
    assert_eq!(history["version"], 3);
    assert!(history["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["recorded_by"] == "case-system"));
    env.stop().await;
}

async fn bad_input_gets_problems(kind: Kind) {
    let mut env = start(kind, test_config()).await;
    let recorder = env.token("recorder");
    let client = env.client.clone();
    let base = env.size().await;
    let path = entity_path(2);
    let raw = |body: &str| body.as_bytes().to_vec();
    let post_raw = |path: String, body: Vec<u8>, content_type: &'static str| {
        let client = client.clone();
        let token = recorder.map(str::to_owned);
        async move {
            client.send(Method::POST, &path, token.as_deref(), Some(content_type), body, &[]).await
        }
    };

    post_raw(path.clone(), raw("{\"event\": "), "application/json")
        .await
        .problem(400, "malformed-json");
    post_raw(path.clone(), raw("not json"), "application/json")
        .await
        .problem(400, "malformed-json");
    let detail = post_raw(
        path.clone(),
        raw(r#"{"expected_version": "latest", "event": null}"#),
        "application/json",
    )
    .await
    .problem(422, "invalid-body");
    assert!(detail.contains("\"any\""), "{detail}");
    let mut wrong_type = registered(2);
    wrong_type["schema_version"] = json!("one");
    let detail = client
        .post(&path, recorder, &json!({"event": wrong_type}))
        .await
        .problem(422, "invalid-body");
    assert!(detail.contains("invalid type"), "{detail}");
    let detail = client
        .post(&path, recorder, &json!({"event": registered(2), "priority": 1}))
        .await
        .problem(422, "invalid-body");
    assert!(
        detail.contains("unknown field `priority`") && detail.contains("expected one of"),
        "{detail}"
    );
    client.post(&path, recorder, &json!({})).await.problem(422, "invalid-body");
    let mut unknown_payload_field = registered(2);
    unknown_payload_field["payload"]["remarks"] = json!("x");
    let detail = client
        .post(&path, recorder, &json!({"event": unknown_payload_field}))
        .await
        .problem(422, "invalid-payload");
    assert!(detail.contains("/remarks"), "{detail}");
    let detail = client
        .post(&path, recorder, &json!({"event": event("penalty_imposed", json!({}))}))
        .await
        .problem(422, "invalid-payload");
    assert!(detail.contains("accepted types"), "{detail}");
    // The payload must name the stream's entity.
    client
        .post(&path, recorder, &json!({"event": registered(3)}))
        .await
        .problem(422, "invalid-payload");

    // Credit codes and stream names.
    let bad_code = "/v1/streams/entity/91620502MA7B8C9DXA/events";
    let detail = client
        .post(bad_code, recorder, &json!({"event": spot_check(1)}))
        .await
        .problem(400, "invalid-credit-code");
    assert!(detail.contains("check"), "{detail}");
    client
        .post("/v1/streams/entity/SHORT/events", recorder, &json!({"event": spot_check(1)}))
        .await
        .problem(400, "invalid-credit-code");
    client
        .post("/v1/streams/bogus/x/events", recorder, &json!({"event": spot_check(1)}))
        .await
        .problem(400, "invalid-stream-name");
    client
        .post("/v1/streams/identity/principals/events", recorder, &json!({"event": spot_check(1)}))
        .await
        .problem(403, "reserved");
    let forged = event(
        "token_issued",
        json!({
            "principal_id": "case-system",
            "token_id": Uuid::now_v7(),
            "token_hash": "00".repeat(32),
        }),
    );
    client.post(&path, recorder, &json!({"event": forged})).await.problem(403, "reserved");

    // Media type, body size and batch size.
    post_raw(
        path.clone(),
        serde_json::to_vec(&json!({"event": registered(2)})).unwrap(),
        "text/plain",
    )
    .await
    .problem(415, "unsupported-media-type");
    let huge = json!({"event": {"payload": {"x": "y".repeat(70 * 1024)}}});
    client.post(&path, recorder, &huge).await.problem(413, "too-large");
    let many: Vec<Value> = (0..21).map(spot_check).collect();
    let detail =
        client.post(&path, recorder, &json!({"events": many})).await.problem(413, "too-large");
    assert!(detail.contains("at most 20"), "{detail}");

    // Query and path parameters, unknown routes and methods.
    let auditor = env.token("auditor");
    client.get("/v1/log/events?from=minus", auditor).await.problem(400, "invalid-parameter");
    client.get("/v1/log/events?limit=100000", auditor).await.problem(400, "invalid-parameter");
    client.get("/v1/log/events?colour=red", auditor).await.problem(400, "invalid-parameter");
    client.get("/v1/log/bundle/x", auditor).await.problem(400, "invalid-parameter");
    client
        .get("/v1/log/proof/inclusion?position=0", auditor)
        .await
        .problem(400, "invalid-parameter");
    client.get("/v1/nothing-here", auditor).await.problem(404, "not-found");
    client
        .send(Method::DELETE, "/v1/log/events", auditor, None, vec![], &[])
        .await
        .problem(405, "method-not-allowed");
    let partner = env.token("partner");
    client
        .get("/v1/entities/12345/restrictions", partner)
        .await
        .problem(400, "invalid-credit-code");
    client
        .get(&format!("/v1/entities/{}/restrictions?as_of=2025-02-30", code(1)), partner)
        .await
        .problem(400, "invalid-parameter");

    // Nothing of all that was written; the server still answers.
    assert_eq!(env.size().await, base);
    let reply = client.post(&path, recorder, &json!({"event": registered(2)})).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    env.stop().await;
}

async fn import_reports_each_line(kind: Kind) {
    let mut env = start(kind, test_config()).await;
    let recorder = env.token("recorder");
    let line = |n: u64, event: Value| {
        let mut line = event;
        line["stream"] = json!(format!("entity/{}", code(n)));
        serde_json::to_string(&line).unwrap()
    };
    let dup = spot_check(7);
    let lines = [
        line(10, registered(10)),
        line(10, spot_check(1)),
        "{not json".to_owned(),
        String::new(),
        line(11, registered(11)),
        line(11, event("spot_check_recorded", json!({"plan_id": 1}))),
        {
            let mut bad_code = spot_check(2);
            bad_code["stream"] = json!("entity/91620502MA7B8C9DXA");
            bad_code.to_string()
        },
        line(10, dup.clone()),
    ];
    let body = lines.join("\n").into_bytes();
    let reply = env
        .client
        .send(Method::POST, "/v1/import", recorder, Some("application/x-ndjson"), body.clone(), &[])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let report = reply.json();
    assert_eq!(report["lines"], 7);
    assert_eq!(report["recorded"], 4);
    assert_eq!(report["rejected"], 3);
    let failed: Vec<(u64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["problem"]["type"].as_str().unwrap().to_owned()))
        .collect();
    let kinds = |k: &str| format!("urn:credit-ledger:problem:{k}");
    assert_eq!(
        failed,
        vec![
            (3, kinds("malformed-json")),
            (6, kinds("invalid-payload")),
            (7, kinds("invalid-credit-code"))
        ]
    );

    // Running it again records nothing new: good lines are duplicates.
    let reply = env
        .client
        .send(Method::POST, "/v1/import", recorder, Some("application/x-ndjson"), body, &[])
        .await;
    let report = reply.json();
    assert_eq!((report["recorded"].as_u64(), report["duplicates"].as_u64()), (Some(0), Some(4)));

    // Limits and media type.
    let too_many = vec![line(12, spot_check(1)); 101].join("\n").into_bytes();
    env.client
        .send(Method::POST, "/v1/import", recorder, Some("application/x-ndjson"), too_many, &[])
        .await
        .problem(413, "too-large");
    env.client
        .send(Method::POST, "/v1/import", recorder, Some("application/json"), b"{}".to_vec(), &[])
        .await
        .problem(415, "unsupported-media-type");
    let oversized = vec![b'x'; 300 * 1024];
    env.client
        .send(Method::POST, "/v1/import", recorder, Some("application/x-ndjson"), oversized, &[])
        .await
        .problem(413, "too-large");
    env.stop().await;
}

async fn auditor_reads_verify(kind: Kind) {
    let mut env = start(kind, test_config()).await;
    let recorder = env.token("recorder");
    let auditor = env.token("auditor");
    for n in 20..25 {
        let reply =
            env.client.post(&entity_path(n), recorder, &json!({"event": registered(n)})).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
    let size = env.size().await;

    // The verifier key and a checkpoint that verifies with it.
    let key = env.client.get("/v1/log/verifier-key", auditor).await;
    assert_eq!(key.status, 200);
    assert!(key.content_type().starts_with("text/plain"));
    let verifier = NoteVerifier::parse(key.text().trim()).unwrap();
    let note = env.client.get("/v1/log/checkpoint", auditor).await;
    assert_eq!(note.status, 200, "{}", note.text());
    let checkpoint = verifier.open_checkpoint(&note.text(), TEST_ORIGIN).unwrap();
    assert!(checkpoint.size <= size);
    let at_least = env.client.get(&format!("/v1/log/checkpoint?size={size}"), auditor).await;
    let at_least = verifier.open_checkpoint(&at_least.text(), TEST_ORIGIN).unwrap();
    assert_eq!(at_least.size, size);
    env.client
        .get(&format!("/v1/log/checkpoint?size={}", size + 1), auditor)
        .await
        .problem(404, "not-found");

    // Inclusion and consistency proofs check against the signed root.
    let proof = env
        .client
        .get(&format!("/v1/log/proof/inclusion?position=3&size={size}"), auditor)
        .await
        .json();
    let hashes: Vec<Hash32> = serde_json::from_value(proof["hashes"].clone()).unwrap();
    let leaf: Hash32 = serde_json::from_value(proof["leaf_hash"].clone()).unwrap();
    merkle::verify_inclusion(3, size, &leaf, &hashes, &at_least.root).unwrap();
    let old = size - 2;
    let proof = env
        .client
        .get(&format!("/v1/log/proof/consistency?old={old}&new={size}"), auditor)
        .await
        .json();
    let hashes: Vec<Hash32> = serde_json::from_value(proof["hashes"].clone()).unwrap();
    let old_root: Hash32 = serde_json::from_value(proof["old_root"].clone()).unwrap();
    merkle::verify_consistency(old, size, &old_root, &at_least.root, &hashes).unwrap();
    env.client
        .get(&format!("/v1/log/proof/consistency?old={size}&new=1"), auditor)
        .await
        .problem(400, "out-of-range");
    env.client
        .get(&format!("/v1/log/proof/inclusion?position=0&size={}", size + 5), auditor)
        .await
        .problem(400, "out-of-range");

    // The log in pages, following the cursor.
    let mut seen = Vec::new();
    let mut next = Some(0u64);
    while let Some(from) = next {
        let page =
            env.client.get(&format!("/v1/log/events?from={from}&limit=4"), auditor).await.json();
        for e in page["events"].as_array().unwrap() {
            seen.push(e["position"].as_u64().unwrap());
        }
        next = page["next"].as_u64();
    }
    assert_eq!(seen, (0..size).collect::<Vec<_>>());
    let page =
        env.client.get(&format!("/v1/streams/entity/{}?limit=1", code(20)), auditor).await.json();
    assert!(page.get("next_from_version").is_none(), "{page}");
    env.client
        .get(&format!("/v1/streams/entity/{}", code(99)), auditor)
        .await
        .problem(404, "not-found");

    // An offline bundle verifies with the trusted key alone; a tampered one does not.
    let position = size - 1;
    let reply = env.client.get(&format!("/v1/log/bundle/{position}"), auditor).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let bundle: EventBundle = serde_json::from_slice(&reply.body).unwrap();
    let verified = verify_bundle(&bundle, &verifier).unwrap();
    assert_eq!(verified.event.position, position);
    assert_eq!(verified.event.stream.as_str(), format!("entity/{}", code(24)));
    let mut tampered = bundle.clone();
    tampered.event.payload["name"] = json!("另一家公司");
    assert!(verify_bundle(&tampered, &verifier).is_err());
    let mut tampered = bundle;
    tampered.inclusion_proof.hashes.reverse();
    tampered.inclusion_proof.hashes.push(Hash32::ZERO);
    assert!(verify_bundle(&tampered, &verifier).is_err());
    env.client
        .get(&format!("/v1/log/bundle/{}", size + 10), auditor)
        .await
        .problem(404, "not-found");
    env.stop().await;
}

/// One endpoint of the matrix: method, path, body and the role allowed (`None`: any caller,
/// no token needed).
struct Endpoint {
    method: Method,
    path: String,
    body: Option<Value>,
    content_type: Option<&'static str>,
    allowed: Option<&'static str>,
}

fn endpoints(token_id: &str) -> Vec<Endpoint> {
    let e = |method: Method, path: String, body: Option<Value>, allowed: Option<&'static str>| {
        Endpoint {
            content_type: body.as_ref().map(|_| "application/json"),
            method,
            path,
            body,
            allowed,
        }
    };
    let stream_line = {
        let mut line = registered(31);
        line["stream"] = json!(format!("entity/{}", code(31)));
        line
    };
    vec![
        e(Method::POST, entity_path(30), Some(json!({"event": registered(30)})), Some("recorder")),
        Endpoint {
            method: Method::POST,
            path: "/v1/import".into(),
            body: Some(stream_line),
            content_type: Some("application/x-ndjson"),
            allowed: Some("recorder"),
        },
        e(Method::GET, "/v1/log/checkpoint".into(), None, Some("auditor")),
        e(Method::GET, "/v1/log/checkpoint?size=1".into(), None, Some("auditor")),
        e(Method::GET, "/v1/log/verifier-key".into(), None, Some("auditor")),
        e(Method::GET, "/v1/log/proof/inclusion?position=0&size=1".into(), None, Some("auditor")),
        e(Method::GET, "/v1/log/proof/consistency?old=1&new=2".into(), None, Some("auditor")),
        e(Method::GET, "/v1/streams/identity/principals".into(), None, Some("auditor")),
        e(Method::GET, "/v1/log/events?from=0&limit=2".into(), None, Some("auditor")),
        e(Method::GET, "/v1/log/bundle/0".into(), None, Some("auditor")),
        e(Method::GET, format!("/v1/entities/{}/restrictions", code(1)), None, Some("partner")),
        e(
            Method::POST,
            "/v1/entities/restrictions:check".into(),
            Some(json!({"codes": [code(1).to_string()]})),
            Some("partner"),
        ),
        e(Method::GET, "/v1/partners/me/changes".into(), None, Some("partner")),
        e(
            Method::POST,
            "/v1/principals".into(),
            Some(json!({"principal_id": "extra", "name": "x", "roles": ["auditor"]})),
            Some("admin"),
        ),
        e(Method::GET, "/v1/principals".into(), None, Some("admin")),
        e(Method::GET, "/v1/principals/tax".into(), None, Some("admin")),
        e(Method::POST, "/v1/principals/audit/tokens".into(), Some(json!({})), Some("admin")),
        e(
            Method::POST,
            format!("/v1/principals/tax/tokens/{token_id}/revoke"),
            Some(json!({"reason": "matrix"})),
            Some("admin"),
        ),
        e(Method::POST, "/v1/log/checkpoint".into(), None, Some("admin")),
        e(Method::GET, "/v1/health".into(), None, None),
        e(Method::GET, "/v1/ready".into(), None, None),
        e(Method::GET, "/metrics".into(), None, None),
    ]
}

async fn authorization_matrix(kind: Kind) {
    let mut env = start(kind, test_config()).await;
    let spare =
        env.client.post("/v1/principals/tax/tokens", Some(BOOTSTRAP), &json!({})).await.json();
    let spare_id = spare["token_id"].as_str().unwrap().to_owned();
    let roles = ["recorder", "partner", "auditor", "admin"];

    // Every refused call first, checking that none leaves a trace in the log.
    let before = env.size().await;
    for endpoint in endpoints(&spare_id) {
        let body = endpoint.body.as_ref().map_or_else(Vec::new, |b| serde_json::to_vec(b).unwrap());
        let Some(allowed) = endpoint.allowed else { continue };
        let reply = env
            .client
            .send(
                endpoint.method.clone(),
                &endpoint.path,
                None,
                endpoint.content_type,
                body.clone(),
                &[],
            )
            .await;
        reply.problem(401, "unauthenticated");
        assert_eq!(reply.headers.get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
        let reply = env
            .client
            .send(
                endpoint.method.clone(),
                &endpoint.path,
                Some("not-a-token"),
                endpoint.content_type,
                body.clone(),
                &[],
            )
            .await;
        reply.problem(401, "unauthenticated");
        for role in roles.iter().filter(|r| **r != allowed) {
            let reply = env
                .client
                .send(
                    endpoint.method.clone(),
                    &endpoint.path,
                    env.token(role),
                    endpoint.content_type,
                    body.clone(),
                    &[],
                )
                .await;
            let detail = reply.problem(403, "forbidden");
            assert!(
                detail.contains(allowed),
                "{} {} as {role}: {detail}",
                endpoint.method,
                endpoint.path
            );
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(env.size().await, before, "a refused request left a trace");
    let principals = env.client.get("/v1/principals", env.token("admin")).await.json();
    assert_eq!(principals["principals"].as_array().unwrap().len(), 5);

    // Then every allowed call succeeds.
    for endpoint in endpoints(&spare_id) {
        let body = endpoint.body.as_ref().map_or_else(Vec::new, |b| serde_json::to_vec(b).unwrap());
        let token = match endpoint.allowed {
            Some(role) => env.token(role),
            None => None,
        };
        let reply = env
            .client
            .send(endpoint.method.clone(), &endpoint.path, token, endpoint.content_type, body, &[])
            .await;
        assert!(
            reply.status.is_success(),
            "{} {} as {:?}: {} {}",
            endpoint.method,
            endpoint.path,
            endpoint.allowed,
            reply.status,
            reply.text()
        );
    }
    env.stop().await;
}

async fn principals_and_revocation(kind: Kind) {
    let mut env = start(kind, test_config()).await;
    let admin = env.token("admin").map(str::to_owned);
    let admin = admin.as_deref();

    // Registration rules.
    let dup = json!({"principal_id": "tax", "name": "again", "roles": ["auditor"]});
    env.client.post("/v1/principals", admin, &dup).await.problem(409, "conflict");
    let no_dept = json!({"principal_id": "bank", "name": "银行", "roles": ["partner"]});
    env.client.post("/v1/principals", admin, &no_dept).await.problem(422, "invalid-body");
    let bad_id = json!({"principal_id": "has space", "name": "x", "roles": ["auditor"]});
    env.client.post("/v1/principals", admin, &bad_id).await.problem(422, "invalid-body");
    let bad_role = json!({"principal_id": "x", "name": "x", "roles": ["god"]});
    env.client.post("/v1/principals", admin, &bad_role).await.problem(422, "invalid-body");
    env.client
        .post("/v1/principals/nobody/tokens", admin, &json!({}))
        .await
        .problem(404, "not-found");

    // A second auditor token works until it is revoked, and not a moment after.
    let issued =
        env.client.post("/v1/principals/audit/tokens", admin, &json!({"label": "laptop"})).await;
    assert_eq!(issued.status, 201);
    let issued = issued.json();
    let token = issued["token"].as_str().unwrap().to_owned();
    let token_id = issued["token_id"].as_str().unwrap().to_owned();
    assert_eq!(URL_SAFE_LEN, token.len());
    assert_eq!(env.client.get("/v1/log/verifier-key", Some(&token)).await.status, 200);
    let revoke = format!("/v1/principals/audit/tokens/{token_id}/revoke");
    let reply = env.client.post(&revoke, admin, &json!({"reason": "lost laptop"})).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.json()["revoked_position"].is_u64());
    env.client.get("/v1/log/verifier-key", Some(&token)).await.problem(401, "unauthenticated");
    env.client.post(&revoke, admin, &json!({"reason": "again"})).await.problem(409, "conflict");

    // The identity stream records hashes, never tokens.
    let history =
        env.client.get("/v1/streams/identity/principals?limit=1000", env.token("auditor")).await;
    let text = history.text();
    assert!(!text.contains(&token), "a token was recorded");
    let hash = Hash32::from(blake3::hash(token.as_bytes())).to_hex();
    assert!(text.contains(&hash));
    let types: HashSet<String> = history.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        HashSet::from(["principal_registered", "token_issued", "token_revoked"].map(String::from))
    );
    let view = env.client.get("/v1/principals/audit", admin).await.json();
    assert_eq!(view["tokens"].as_array().unwrap().len(), 2);

    // A restarted server rebuilds the table from the ledger.
    env.stop().await;
    env.store.close().await;
    let auditor = env.token("auditor").unwrap().to_owned();
    let db = std::mem::replace(&mut env.db, TestDb::new(kind));
    let mut again =
        start_on(db, ServerConfig { bootstrap_admin_token: None, ..test_config() }).await;
    assert_eq!(again.client.get("/v1/log/verifier-key", Some(&auditor)).await.status, 200);
    again.client.get("/v1/log/verifier-key", Some(&token)).await.problem(401, "unauthenticated");
    again.client.get("/v1/principals", Some(BOOTSTRAP)).await.problem(401, "unauthenticated");
    again.stop().await;
}

/// base64url of 32 bytes without padding.
const URL_SAFE_LEN: usize = 43;

/// The entries of the test day's access log, in order, once there are at least `wanted`; each
/// event holding them is checked to be a batch written by the access log.
async fn access_entries(env: &Env, wanted: usize) -> Vec<Value> {
    // The service clock of the tests reads 2025-06-02 08:00 UTC, the same day in China.
    let day = "2025-06-02";
    for _ in 0..100 {
        let reply = env
            .client
            .get(&format!("/v1/streams/access/{day}?limit=1000"), env.token("auditor"))
            .await;
        if reply.status == 200 {
            let events = reply.json()["events"].as_array().unwrap().clone();
            let mut entries = Vec::new();
            for event in &events {
                assert_eq!(event["event_type"], "access_logged", "{event}");
                assert_eq!(event["schema_version"], 3, "{event}");
                assert_eq!(event["recorded_by"], "access-log", "{event}");
                // Each caller's fields are written once; put them back into its entries.
                for caller in event["payload"]["callers"].as_array().unwrap() {
                    let fields = caller.as_object().unwrap();
                    for entry in fields["entries"].as_array().unwrap() {
                        let mut entry = entry.as_object().unwrap().clone();
                        for (key, value) in fields.iter().filter(|(k, _)| *k != "entries") {
                            entry.insert(key.clone(), value.clone());
                        }
                        entries.push(Value::Object(entry));
                    }
                }
            }
            if entries.len() >= wanted {
                return entries;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reply =
        env.client.get(&format!("/v1/streams/access/{day}?limit=1000"), env.token("auditor")).await;
    panic!("the access log did not reach {wanted} entries: {}", reply.text());
}

async fn partner_queries_are_scoped_and_logged(kind: Kind) {
    let mut env = start(kind, test_config()).await;
    let partner = env.token("partner");
    let all = env.token("partner_all");
    let path = format!("/v1/entities/{}/restrictions?as_of=2025-03-01", code(1));

    // The tax partner sees only tax measures; the all-departments partner sees both.
    let reply = env.client.get(&path, partner).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let own = reply.json();
    let measures: Vec<&str> = own["restrictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["measure_id"].as_str().unwrap())
        .collect();
    assert_eq!(measures, ["tax-credit-downgrade"]);
    assert_eq!(own["restrictions"][0]["legal_basis"][0]["article"], "第十四条");
    let answer_hash = Hash32::from(blake3::hash(&reply.body));
    let both = env.client.get(&path, all).await.json();
    assert_eq!(both["restrictions"].as_array().unwrap().len(), 2);
    // At a later date the finance measure has ended.
    let later = env
        .client
        .get(&format!("/v1/entities/{}/restrictions?as_of=2025-08-01", code(1)), all)
        .await
        .json();
    assert_eq!(later["restrictions"].as_array().unwrap().len(), 1);
    env.client
        .get(&format!("/v1/entities/{}/restrictions", code(2)), partner)
        .await
        .problem(404, "not-found");

    // Bulk checks, within the limit.
    let codes: Vec<String> = vec![code(1).to_string(), code(2).to_string()];
    let reply = env
        .client
        .post(
            "/v1/entities/restrictions:check",
            partner,
            &json!({"codes": codes, "as_of": "2025-03-01"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let results = reply.json()["results"].clone();
    assert_eq!(
        (results[0]["found"].as_bool(), results[1]["found"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(results[0]["restrictions"].as_array().unwrap().len(), 1);
    let eleven: Vec<String> = (1..=11).map(|n| code(n).to_string()).collect();
    env.client
        .post("/v1/entities/restrictions:check", partner, &json!({"codes": eleven}))
        .await
        .problem(413, "too-large");
    let detail = env
        .client
        .post(
            "/v1/entities/restrictions:check",
            partner,
            &json!({"codes": [code(1).to_string(), "bad"]}),
        )
        .await
        .problem(400, "invalid-credit-code");
    assert!(detail.contains("codes[1]"), "{detail}");

    // Every answered query is in the access log, with the hash of the body sent.
    let logged = access_entries(&env, 5).await;
    assert_eq!(logged.len(), 5, "refused queries must not be logged");
    // Entries are grouped by caller within an event, each caller's in the order answered.
    let of = |principal: &str| -> Vec<&Value> {
        logged.iter().filter(|e| e["principal_id"] == principal).collect()
    };
    let (tax, court) = (of("tax"), of("court"));
    assert_eq!((tax.len(), court.len()), (3, 2), "{logged:?}");
    let first = tax[0];
    assert_eq!(first["query"], "restrictions");
    assert_eq!(first["department"], TAX);
    assert_eq!(first["entities"], json!([code(1).to_string()]));
    assert_eq!(first["as_of"], "2025-03-01");
    assert_eq!(first["answer_hash"], answer_hash.to_hex());
    assert_eq!(tax[1]["entities"], json!([code(2).to_string()]));
    assert_eq!(tax[1]["answer_items"], 0);
    assert!(court.iter().all(|e| e.get("department").is_none()), "{court:?}");
    assert_eq!(court[1]["as_of"], "2025-08-01");
    assert_eq!(tax[2]["query"], "bulk_check");
    assert_eq!(tax[2]["entities"].as_array().unwrap().len(), 2);
    env.stop().await;
}

/// A query that cannot be queued for the access log is refused, not answered unlogged, and
/// what was queued is written at shutdown.
async fn a_full_access_log_refuses_queries(kind: Kind) {
    let config = ServerConfig {
        access_log_queue_entries_max: 2,
        access_log_flush_entries: 1_000,
        access_log_flush_interval: Duration::from_secs(3_600),
        ..test_config()
    };
    let mut env = start(kind, config).await;
    let partner = env.token("partner");
    let path = |n| format!("/v1/entities/{}/restrictions?as_of=2025-03-01", code(n));
    let reply = env.client.get(&path(1), partner).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // "No such entity" is an answer too, and takes a place in the queue.
    env.client.get(&path(2), partner).await.problem(404, "not-found");
    let detail = env.client.get(&path(1), partner).await.problem(503, "unavailable");
    assert!(detail.contains("access log"), "{detail}");
    env.stop().await;

    let stream = StreamName::new("access/2025-06-02").unwrap();
    let events = env.store.read_stream(&stream, 0, 100).await.unwrap();
    let entries: Vec<Value> = events
        .iter()
        .flat_map(|e| e.payload_value()["callers"].as_array().cloned().unwrap_or_default())
        .flat_map(|c| c["entries"].as_array().cloned().unwrap_or_default())
        .collect();
    let codes: Vec<&str> = entries.iter().map(|e| e["entities"][0].as_str().unwrap()).collect();
    assert_eq!(codes, [code(1).to_string(), code(2).to_string()]);
}

/// The switch benchmarks use: with the access log off, partner queries are answered and no
/// access-log event is written, even at shutdown.
async fn an_access_log_turned_off_records_nothing(kind: Kind) {
    let config = ServerConfig { access_log_enabled: false, ..test_config() };
    let mut env = start(kind, config).await;
    let partner = env.token("partner");
    let path = format!("/v1/entities/{}/restrictions?as_of=2025-03-01", code(1));
    for _ in 0..3 {
        let reply = env.client.get(&path, partner).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    env.stop().await;
    let stream = StreamName::new("access/2025-06-02").unwrap();
    let events = env.store.read_stream(&stream, 0, 100).await.unwrap();
    assert!(events.is_empty(), "{events:?}");
}

async fn change_feed_streams_and_resumes(kind: Kind) {
    let mut env = start(kind, test_config()).await;
    let partner = env.token("partner");

    // Cursor-paged JSON: the tax partner sees changes 2, 4, 6.
    let page = env.client.get("/v1/partners/me/changes?limit=2", partner).await.json();
    let cursors: Vec<u64> =
        page["changes"].as_array().unwrap().iter().map(|c| c["cursor"].as_u64().unwrap()).collect();
    assert_eq!(cursors, [2, 4]);
    let next = page["next_cursor"].as_u64().unwrap();
    let page =
        env.client.get(&format!("/v1/partners/me/changes?cursor={next}"), partner).await.json();
    assert_eq!(page["changes"].as_array().unwrap().len(), 1);
    assert_eq!(page["changes"][0]["change"], "ended");
    env.client
        .get("/v1/partners/me/changes?limit=0", partner)
        .await
        .problem(400, "invalid-parameter");

    // Server-sent events, resuming after Last-Event-ID.
    let response = env
        .client
        .open(
            Method::GET,
            "/v1/partners/me/changes/stream?cursor=0",
            partner,
            None,
            vec![],
            &[("last-event-id", "2")],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut body = response.into_body();
    let mut text = String::new();
    while text.matches("event: change").count() < 2 {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("an event in time");
        let frame = frame.expect("stream open").expect("frame");
        if let Some(data) = frame.data_ref() {
            text.push_str(&String::from_utf8_lossy(data));
        }
    }
    let ids: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("id: ")).collect();
    assert_eq!(ids, ["4", "6"], "{text}");
    drop(body);
    // The SSE batch is logged too.
    let logged = access_entries(&env, 3).await;
    assert_eq!(logged[2]["query"], "changes_stream");
    assert_eq!(logged[2]["cursor"], 2);

    // Shutdown ends an open stream instead of waiting for it forever.
    let response = env
        .client
        .open(Method::GET, "/v1/partners/me/changes/stream", partner, None, vec![], &[])
        .await;
    assert_eq!(response.status(), 200);
    tokio::time::timeout(Duration::from_secs(10), env.stop())
        .await
        .expect("shutdown despite an open stream");
    drop(response);
}

async fn rate_limit_answers_429(kind: Kind) {
    let config =
        ServerConfig { rate_requests_per_second: 1, rate_burst_requests: 5, ..test_config() };
    let mut env = start_on(TestDb::new(kind), config).await;
    let body = json!({"principal_id": "audit", "name": "纪委", "roles": ["auditor"]});
    assert_eq!(env.client.post("/v1/principals", Some(BOOTSTRAP), &body).await.status, 201);
    let issued = env.client.post("/v1/principals/audit/tokens", Some(BOOTSTRAP), &json!({})).await;
    let auditor = issued.json()["token"].as_str().unwrap().to_owned();
    let mut replies = Vec::new();
    for _ in 0..8 {
        replies.push(env.client.get("/v1/log/verifier-key", Some(&auditor)).await);
    }
    let limited: Vec<&Reply> = replies.iter().filter(|r| r.status == 429).collect();
    assert!(limited.len() >= 2, "only {} requests were limited", limited.len());
    limited[0].problem(429, "rate-limited");
    assert!(limited[0].headers.get(header::RETRY_AFTER).is_some());
    // Other principals are not affected.
    assert_eq!(env.client.get("/v1/principals", Some(BOOTSTRAP)).await.status, 200);
    env.stop().await;
}

async fn concurrent_writers(kind: Kind) {
    let mut env = start(kind, test_config()).await;
    let token = env.token("recorder").unwrap().to_owned();
    let base = env.size().await;
    let mut tasks = Vec::new();
    for writer in 0..8u64 {
        let client = env.client.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let n = 40 + writer;
            let first = client
                .post(
                    &entity_path(n),
                    Some(&token),
                    &json!({"expected_version": 0, "event": registered(n)}),
                )
                .await;
            assert_eq!(first.status, 201, "{}", first.text());
            let mut positions = vec![first.json()["events"][0]["position"].as_u64().unwrap()];
            for v in 1..6u64 {
                let reply = client
                    .post(
                        &entity_path(n),
                        Some(&token),
                        &json!({"expected_version": v, "event": spot_check(v)}),
                    )
                    .await;
                assert_eq!(reply.status, 201, "{}", reply.text());
                positions.push(reply.json()["events"][0]["position"].as_u64().unwrap());
            }
            positions
        }));
    }
    // Writers racing on one stream with the same expected version: exactly one wins.
    let mut racers = Vec::new();
    for _ in 0..4 {
        let client = env.client.clone();
        let token = token.clone();
        racers.push(tokio::spawn(async move {
            client
                .post(
                    &entity_path(60),
                    Some(&token),
                    &json!({"expected_version": "no_stream", "event": registered(60)}),
                )
                .await
                .status
                .as_u16()
        }));
    }
    let mut positions = Vec::new();
    for task in tasks {
        positions.extend(task.await.unwrap());
    }
    let mut statuses = Vec::new();
    for racer in racers {
        statuses.push(racer.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409, 409]);
    positions.sort_unstable();
    positions.dedup();
    assert_eq!(positions.len(), 48);
    assert_eq!(env.size().await, base + 49);
    env.stop().await;
    let report = env.store.verify(|_| {}).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

async fn operator_endpoints_and_shutdown(kind: Kind) {
    let mut env = start(kind, test_config()).await;
    let health = env.client.get("/v1/health", None).await;
    assert_eq!((health.status.as_u16(), health.json()["status"].clone()), (200, json!("ok")));
    let ready = env.client.get("/v1/ready", None).await.json();
    assert_eq!(ready["status"], "ready");
    let recorder = env.token("recorder").unwrap().to_owned();
    let reply =
        env.client.post(&entity_path(70), Some(&recorder), &json!({"event": registered(70)})).await;
    assert_eq!(reply.status, 201);
    let metrics = env.client.get("/metrics", None).await;
    assert!(metrics.content_type().starts_with("text/plain"));
    let text = metrics.text();
    for needle in [
        "ledger_append_requests_total",
        "ledger_appended_events_total",
        "ledger_append_batch_events_bucket",
        "ledger_append_commit_seconds_bucket",
        "ledger_log_size",
        concat!(
            "http_request_duration_seconds_bucket{",
            r#"route="/v1/streams/{kind}/{id}/events",method="POST""#
        ),
        concat!(
            "http_requests_total{",
            r#"route="/v1/streams/{kind}/{id}/events",method="POST",status="201"}"#
        ),
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    // This server runs no projector, so it reports no projection gauges rather than zeros.
    assert!(!text.contains("ledger_projection_"), "{text}");

    // Appends in flight when shutdown starts are all answered and durable.
    let mut inflight = Vec::new();
    for n in 0..10u64 {
        let client = env.client.clone();
        let token = recorder.clone();
        inflight.push(tokio::spawn(async move {
            client
                .post(&entity_path(80 + n), Some(&token), &json!({"event": registered(80 + n)}))
                .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    env.stop().await;
    let mut acknowledged = Vec::new();
    for task in inflight {
        if let Ok(reply) = task.await {
            if reply.status == 201 {
                acknowledged.push(reply.json()["events"][0]["position"].as_u64().unwrap());
            }
        }
    }
    for position in acknowledged {
        env.store.event_at(position).await.unwrap();
    }
}

// --- the OpenAPI document ---------------------------------------------------------------------

#[test]
fn openapi_document_is_committed() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/openapi.json");
    let mut generated = serde_json::to_string_pretty(&ledger_server::openapi()).unwrap();
    generated.push('\n');
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schemas/openapi.json differs from the routes; if the change is intended, run \
         `UPDATE_OPENAPI=1 cargo test --test http openapi` and review the diff"
    );
}

#[test]
fn every_route_is_documented() {
    let doc = serde_json::to_value(ledger_server::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for path in endpoints("00000000-0000-0000-0000-000000000000")
        .iter()
        .map(|e| e.path.split('?').next().unwrap().to_owned())
    {
        let template = path
            .replace(&code(30).to_string(), "{id}")
            .replace(&code(1).to_string(), "{code}")
            .replace("/entity/", "/{kind}/")
            .replace("/identity/principals", "/{kind}/{id}")
            .replace("/bundle/0", "/bundle/{position}")
            .replace(
                "/principals/tax/tokens/00000000-0000-0000-0000-000000000000/revoke",
                "/principals/{principal_id}/tokens/{token_id}/revoke",
            )
            .replace("/principals/tax", "/principals/{principal_id}")
            .replace("/principals/audit/tokens", "/principals/{principal_id}/tokens");
        assert!(paths.contains_key(&template), "{template} is not in the OpenAPI document");
    }
}

/// An entity registered, penalised for food safety with a stop-business order and put on the
/// serious list.
fn serious_food_case(n: u64) -> Value {
    let authority = json!({"name": "天水市市场监督管理局"});
    let basis = |article: &str| {
        json!({
            "document": "《市场监督管理严重违法失信名单管理办法》",
            "article": article,
            "version": "2021-07-30",
        })
    };
    let penalty = event(
        "penalty_decided",
        json!({
            "decision_number": "天市监处罚〔2025〕12号",
            "authority": authority,
            "decision_date": "2025-06-01",
            "case_category": "food",
            "penalty_kinds": ["fine", "stop_business_order"],
            "fine_fen": 500_000,
            "confiscated_fen": 0,
            "procedure": "ordinary",
            "violation_facts": "经营超过保质期的食品",
            "violated_provisions": [basis("第二条")],
            "penalty_provisions": [basis("第三条")],
            "aggravated": true,
        }),
    );
    let serious = event(
        "serious_list_entered",
        json!({
            "ground": "food_safety",
            "penalty_decision_numbers": ["天市监处罚〔2025〕12号"],
            "decision_number": "天市监严入〔2025〕3号",
            "authority": authority,
            "decision_date": "2025-06-20",
            "legal_basis": [basis("第五条")],
        }),
    );
    json!({"events": [registered(n), penalty, serious]})
}

/// The projection-backed source gives the fold's answer and feeds restriction changes.
async fn projection_source_answers_from_the_projection(kind: Kind) {
    let slot: Arc<std::sync::Mutex<Option<ledger_projections::Projector>>> = Arc::default();
    let env = {
        let slot = slot.clone();
        start_with_projector(TestDb::new(kind), test_config(), move |store| {
            let projector = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current()
                    .block_on(ledger_projections::Projector::new(store))
                    .unwrap()
            });
            *slot.lock().unwrap() = Some(projector.clone());
            let source: Arc<dyn StatusSource> =
                Arc::new(ledger_server::ProjectionStatusSource::new(projector.clone()));
            (source, Some(projector))
        })
        .await
    };
    let projector = slot.lock().unwrap().clone().unwrap();
    ledger_projections::ensure_catalogue(&env.store, "test").await.unwrap();
    let mut env = register_all(env).await;
    let recorder = env.token("recorder");
    let reply = env.client.post(&entity_path(91), recorder, &serious_food_case(91)).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    projector.catch_up().await.unwrap();

    let all = env.token("partner_all");
    let path = format!("/v1/entities/{}/restrictions?as_of=2025-08-01", code(91));
    let reply = env.client.get(&path, all).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let from_projection = reply.json();
    assert_eq!(from_projection["name"], "天水市测试91有限公司");
    let query = ledger_server::status::StatusQuery {
        code: code(91),
        as_of: chrono::NaiveDate::from_ymd_opt(2025, 8, 1).unwrap(),
        known_at: None,
    };
    let folded =
        ledger_server::RulesStatusSource::new(env.store.clone()).status(&query).await.unwrap();
    assert!(!folded.restrictions.is_empty());
    assert_eq!(
        from_projection["restrictions"],
        serde_json::to_value(&folded.restrictions).unwrap()
    );

    let feed = env.client.get("/v1/partners/me/changes", all).await;
    assert_eq!(feed.status, 200, "{}", feed.text());
    let feed = feed.json();
    let changes = feed["changes"].as_array().unwrap();
    assert!(!changes.is_empty(), "{feed}");
    assert!(changes.iter().all(|c| c["code"] == json!(code(91).to_string())), "{feed}");
    assert!(changes.iter().any(|c| c["change"] == "started"), "{feed}");

    // The operator endpoints: state and lag, a rebuild started while serving, and its end.
    let admin = env.token("admin");
    let state = env.client.get("/v1/admin/projections", admin).await.json();
    // Answered partner queries are themselves logged as events, asynchronously, so the lag is
    // whatever they add; it must be exactly what the projection has not applied.
    let (position, lag, size) = (&state["position"], &state["lag"], &state["log_size"]);
    assert_eq!(position.as_u64().unwrap() + lag.as_u64().unwrap(), size.as_u64().unwrap());
    assert!(position.as_u64().unwrap() > 0, "{state}");
    // The same figures as Prometheus gauges: the position only moves forward, and the lag is
    // what separates it from the log size of the same scrape.
    let text = env.client.get("/metrics", None).await.text();
    let gauge = |name: &str| -> u64 {
        let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| {
            panic!("{name} missing from:\n{text}");
        });
        line[name.len() + 1..].parse().unwrap()
    };
    let scraped = gauge("ledger_projection_position");
    assert!(scraped >= position.as_u64().unwrap(), "{text}");
    assert_eq!(scraped + gauge("ledger_projection_lag_events"), gauge("ledger_log_size"));
    let generation = state["active_generation"].as_i64().unwrap();
    let started = env.client.post("/v1/admin/projections/rebuild", admin, &json!({})).await;
    assert_eq!(started.status, 202, "{}", started.text());
    let mut finished = json!(null);
    for _ in 0..100 {
        let state = env.client.get("/v1/admin/projections", admin).await.json();
        if state["rebuild"]["running"] == json!(false) {
            finished = state;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(finished["active_generation"], json!(generation + 1), "{finished}");
    assert_eq!(finished["rebuild"]["generation"], json!(generation + 1), "{finished}");
    let again = env.client.get(&path, all).await.json();
    assert_eq!(again["restrictions"], from_projection["restrictions"]);
    // Partners may not run rebuilds.
    env.client
        .post("/v1/admin/projections/rebuild", env.token("partner"), &json!({}))
        .await
        .problem(403, "forbidden");
    env.stop().await;
}

async fn rules_source_folds_the_entity_stream(kind: Kind) {
    let db = TestDb::new(kind);
    let env = start_with(db, test_config(), |store| {
        Arc::new(ledger_server::RulesStatusSource::new(store))
    })
    .await;
    let mut env = register_all(env).await;
    let recorder = env.token("recorder");
    let reply = env.client.post(&entity_path(90), recorder, &serious_food_case(90)).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let serious_position = reply.json()["events"][2]["position"].as_u64().unwrap();

    let all = env.token("partner_all");
    let path = |as_of: &str| format!("/v1/entities/{}/restrictions?as_of={as_of}", code(90));
    let reply = env.client.get(&path("2025-08-01"), all).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let status = reply.json();
    assert_eq!(status["name"], "天水市测试90有限公司");
    let restrictions = status["restrictions"].as_array().unwrap();
    assert!(!restrictions.is_empty(), "{status}");
    assert!(
        restrictions
            .iter()
            .any(|r| r["caused_by"].as_array().unwrap().contains(&json!(serious_position))),
        "{status}"
    );
    let before = env.client.get(&path("2024-01-01"), all).await.json();
    assert_eq!(before["restrictions"], json!([]), "{before}");
    // Nothing was known about the entity in 2001.
    env.client
        .get(&format!("{}&known_at=2001-01-01T00:00:00Z", path("2025-08-01")), all)
        .await
        .problem(404, "not-found");
    // The change feed has no projection behind it yet.
    env.client.get("/v1/partners/me/changes", all).await.problem(503, "unavailable");
    env.stop().await;
}

/// A query whose access-log entry could never be written (here a bulk check naming more
/// entities than one record holds, possible once `check_codes_max` is raised) is refused with
/// 413 before it is answered, and leaves nothing in the log; later queries are logged as usual.
async fn a_query_too_large_to_log_is_refused(kind: Kind) {
    let config = ServerConfig {
        check_codes_max: 4_000,
        request_body_bytes_max: 256 * 1024,
        ..test_config()
    };
    let mut env = start(kind, config).await;
    let partner = env.token("partner");
    let codes: Vec<String> = (1..=4_000).map(|n| code(n).to_string()).collect();
    let detail = env
        .client
        .post("/v1/entities/restrictions:check", partner, &json!({"codes": codes}))
        .await
        .problem(413, "too-large");
    assert!(detail.contains("access-log record"), "{detail}");
    // A check well within one record is answered and logged.
    let codes: Vec<String> = (1..=300).map(|n| code(n).to_string()).collect();
    let reply =
        env.client.post("/v1/entities/restrictions:check", partner, &json!({"codes": codes})).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let path = format!("/v1/entities/{}/restrictions?as_of=2025-03-01", code(1));
    assert_eq!(env.client.get(&path, partner).await.status, 200);

    let entries = access_entries(&env, 2).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0]["entities"].as_array().map(Vec::len), Some(300), "{entries:?}");
    assert_eq!(entries[1]["query"], "restrictions", "{entries:?}");
    assert_eq!(entries[1]["entities"], json!([code(1).to_string()]));
    env.stop().await;
}
