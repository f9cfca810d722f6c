//! A child process for the crash test: appends under load and prints every acknowledged
//! event, until it is killed.
//!
//! Usage: `ledger-crash-appender <database url> <schema or -> <writers>`.
//! Each acknowledgement is printed as `ack <event id> <position>` and flushed before the next
//! append starts, so every line the parent reads is an append the store acknowledged.

// A test helper process: its output is its interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write as _;

use ledger_store::Store;
use ledger_testkit::{entity_stream, sample_append, TestDb};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, schema, writers] = &args[..] else {
        eprintln!("usage: ledger-crash-appender <url> <schema or -> <writers>");
        std::process::exit(2);
    };
    let db = TestDb::at(url.clone(), (schema != "-").then(|| schema.clone()));
    let store: Store = db.open().await;
    let writers: u64 = writers.parse().unwrap_or(8);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let request = sample_append(&entity_stream(w * 1_000 + i % 7), i, 1 + i % 3);
                let ids: Vec<_> = request.events.iter().map(|e| e.event_id).collect();
                match store.append(request).await {
                    Ok(outcome) => {
                        let mut out = std::io::stdout().lock();
                        for (id, event) in ids.iter().zip(&outcome.events) {
                            let _ = writeln!(out, "ack {id} {}", event.position);
                        }
                        let _ = out.flush();
                    }
                    Err(e) => eprintln!("append failed: {e}"),
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}
