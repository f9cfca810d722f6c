//! The `credit-ledger` binary, run as a person would: demo data, import, export, serve, kill,
//! restart, verify, and a tampered database.
//!
//! The binary belongs to another package of the workspace, so `CARGO_BIN_EXE_*` does not name
//! it here; it is found beside this test executable (`target/<profile>/credit-ledger`). The
//! root package's dev-dependency on `credit-ledger` and that package's own test make every
//! workspace test build produce it.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary under test.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/<profile>/deps/cli-<hash> -> target/<profile>/credit-ledger
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let path = profile_dir.join(format!("credit-ledger{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p credit-ledger` (workspace test runs such as \
         scripts/test-all build it themselves)",
        path.display()
    );
    path
}

fn run(args: &[&str]) -> Output {
    Command::new(binary()).args(args).env("CREDIT_LEDGER_LOG", "warn").output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn dir_arg(dir: &Path) -> String {
    dir.display().to_string()
}

#[test]
fn demo_is_deterministic_for_a_seed_and_every_history_passes_the_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let file = |name: &str| tmp.path().join(name).display().to_string();
    for (name, seed) in [("a.ndjson", "11"), ("b.ndjson", "11"), ("c.ndjson", "12")] {
        let out =
            run(&["demo", "generate", "--entities", "400", "--seed", seed, "--out", &file(name)]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let a = std::fs::read(file("a.ndjson")).unwrap();
    assert_eq!(a, std::fs::read(file("b.ndjson")).unwrap(), "same seed, different data");
    assert_ne!(a, std::fs::read(file("c.ndjson")).unwrap(), "different seeds, same data");

    // The import checks every line against the domain rules: nothing may be refused.
    let data = tmp.path().join("ledger");
    let out = run(&["import", &file("a.ndjson"), "--data-dir", &dir_arg(&data)]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let lines = a.iter().filter(|b| **b == b'\n').count();
    assert!(stdout(&out).contains(&format!("{lines} lines: {lines} recorded")), "{}", stdout(&out));
}

#[test]
fn import_reports_bad_lines_by_number_and_records_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = tmp.path().join("demo.ndjson");
    let out = run(&["demo", "generate", "--entities", "30", "--out", &dir_arg(&demo)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut lines: Vec<String> =
        std::fs::read_to_string(&demo).unwrap().lines().map(str::to_owned).collect();
    let good = lines.len();

    // Line 5: not JSON. The last line: a second registration of an entity (a rule violation).
    lines.insert(4, "{not json".to_owned());
    let registration = lines.iter().find(|l| l.contains("entity_registered")).unwrap().clone();
    let mut again: serde_json::Value = serde_json::from_str(&registration).unwrap();
    again["event_id"] = serde_json::json!(uuid::Uuid::now_v7());
    lines.push(again.to_string());
    let bad = tmp.path().join("bad.ndjson");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();

    let data = tmp.path().join("ledger");
    let out = run(&["import", &dir_arg(&bad), "--data-dir", &dir_arg(&data)]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let errors = stderr(&out);
    assert!(errors.contains("line 5: not an event line"), "{errors}");
    assert!(errors.contains(&format!("line {}: rule registered_once", lines.len())), "{errors}");
    let summary = stdout(&out);
    assert!(
        summary.contains(&format!("{} recorded, 0 already recorded, 2 refused", good)),
        "{summary}"
    );

    // Running it again records nothing new: every good line is a duplicate.
    let out = run(&["import", &dir_arg(&bad), "--data-dir", &dir_arg(&data), "--skip-rules"]);
    assert!(
        stdout(&out).contains(&format!("0 recorded, {good} already recorded")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn export_and_replay_into_a_fresh_ledger_keeps_every_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let out = run(&["demo", "load", "--entities", "150", "--data-dir", &dir_arg(&a)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let export_a = tmp.path().join("a.ndjson");
    let out = run(&["export", "--data-dir", &dir_arg(&a), "--out", &dir_arg(&export_a)]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = run(&["import", "--replay", &dir_arg(&export_a), "--data-dir", &dir_arg(&b)]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let export_b = tmp.path().join("b.ndjson");
    let out = run(&["export", "--data-dir", &dir_arg(&b), "--out", &dir_arg(&export_b)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (text_a, text_b) =
        (std::fs::read_to_string(&export_a).unwrap(), std::fs::read_to_string(&export_b).unwrap());
    assert!(text_a.lines().count() > 400);
    assert_eq!(text_a, text_b, "the replayed log differs");
    assert!(run(&["verify", "--data-dir", &dir_arg(&b)]).status.success());

    let out = run(&["rebuild", "--data-dir", &dir_arg(&b)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("150 entities"), "{}", stdout(&out));
}

/// A running `serve`, killed when dropped.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    url: String,
}

impl Server {
    /// Starts `serve` and reads its stdout until it listens (and, with `--demo`, until the tour
    /// is printed).
    fn start(data: &Path, demo: bool) -> (Self, Vec<String>) {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir"];
        let data = dir_arg(data);
        args.push(&data);
        if demo {
            args.extend(["--demo", "--entities", "200"]);
        }
        let mut child = Command::new(binary())
            .args(&args)
            .env("CREDIT_LEDGER_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut seen = Vec::new();
        let mut url = None;
        let wanted = if demo { "credit-ledger verify --server" } else { "listening on" };
        loop {
            let line = lines
                .recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("serve printed no {wanted:?}; saw {seen:#?}"));
            if let Some(rest) = line.strip_prefix("credit-ledger listening on ") {
                url = Some(rest.to_owned());
            }
            let done = line.contains(wanted);
            seen.push(line);
            if done {
                break;
            }
        }
        (Self { child, lines, url: url.unwrap() }, seen)
    }

    /// GETs a path; returns the status code and the body.
    fn get(&self, path: &str, token: &str) -> (u16, String) {
        let address = self.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
             Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        (status, body)
    }

    fn kill(mut self) {
        // SIGKILL: no graceful shutdown, no final checkpoint.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        drop(self.lines);
    }
}

fn value_after(lines: &[String], prefix: &str) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in {lines:#?}"))
        .trim()
        .to_owned()
}

#[test]
fn serve_query_kill_restart_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");

    let (server, tour) = Server::start(&data, true);
    assert!(data.join("ledger.db").exists() && data.join("signing.key").exists());
    let partner = value_after(&tour, "partner token (财政部门): ");
    let auditor = value_after(&tour, "auditor token: ");
    let entity = value_after(&tour, "example entity: ");
    let (status, body) = server.get(&format!("/v1/entities/{entity}/restrictions"), &partner);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"restrictions\":[{"), "the tour's entity is not restricted: {body}");
    assert!(body.contains("财政部门"), "{body}");
    let (status, note) = server.get("/v1/log/checkpoint", &auditor);
    assert_eq!(status, 200, "{note}");
    server.kill();

    // Restarted without --demo: the data, the key and the tokens are still there.
    let (server, _) = Server::start(&data, false);
    let (status, body) = server.get(&format!("/v1/entities/{entity}/restrictions"), &partner);
    assert_eq!(status, 200, "{body}");
    let out = Command::new(binary())
        .args(["verify", "--server", &server.url, "--token", &auditor, "--samples", "8"])
        .env("CREDIT_LEDGER_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("spot-checked 8 events"), "{}", stdout(&out));
    server.kill();

    let out = run(&["verify", "--data-dir", &dir_arg(&data)]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).starts_with("verified: "), "{}", stdout(&out));
}

#[test]
fn a_tampered_database_fails_verification_naming_the_position() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = run(&["demo", "load", "--entities", "40", "--data-dir", &dir_arg(&data)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(run(&["verify", "--data-dir", &dir_arg(&data)]).status.success());

    let url = format!("sqlite://{}", data.join("ledger.db").display());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let changed = sqlx::query("UPDATE events SET recorded_by = 'mallory' WHERE position = 57")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(changed.rows_affected(), 1);
        pool.close().await;
    });

    let out = run(&["verify", "--data-dir", &dir_arg(&data)]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report = stdout(&out);
    assert!(report.contains("NOT VERIFIED"), "{report}");
    assert!(
        report.contains("at position 57: {\"position\":57,\"kind\":\"hash_mismatch\""),
        "{report}"
    );
}
