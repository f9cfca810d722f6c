//! Projection rebuild and status lookups against a raw scan of the same events.
//!
//! Run: `cargo bench --bench projections` (10,000 entities of 100 events, 1M events;
//! `BENCH_ENTITIES=1000` for a quick run; `BENCH_REBUILDS=5` for the median of five rebuilds,
//! each after the first retiring the generation the one before swapped in, whose deletion after
//! the swap is reported apart). A rebuild is timed until its generation is swapped in. SQLite only:
//! the rebuild's cost is the fold and the writes, which the store benchmark already measures on
//! both backends.

#![allow(clippy::print_stdout)] // a load harness reports on stdout

#[path = "../crates/ledger-rules/tests/support/mod.rs"]
#[allow(unused_imports)]
mod rules_support;
mod support;

use std::time::{Duration, Instant};

use ledger_core::event::ProposedEvent;
use ledger_core::events::{AbnormalGround, AbnormalRemovalReason, CaseCategory, DomainEvent};
use ledger_core::{CreditCode, StreamName};
use ledger_projections::{ensure_catalogue, Projector};
use ledger_store::{AppendRequest, ExpectedVersion, Store};
use ledger_testkit::{Kind, TestDb};
use rules_support::{d, morning};

const EVENTS_PER_ENTITY: usize = 100;
const APPENDS_IN_FLIGHT: usize = 16;
const LOOKUP_SAMPLES: usize = 2_000;

fn code(i: u64) -> CreditCode {
    CreditCode::complete(&format!("92620503{:08}", i)).unwrap()
}

/// One entity's history of 100 events: registration, then years of abnormal-list stays and
/// removals with small fines between them.
fn history(i: u64) -> Vec<ProposedEvent> {
    let c = code(i);
    let mut events: Vec<(chrono::NaiveDate, DomainEvent)> =
        vec![(d(2014, 1, 1), rules_support::registered_code(c, None))];
    let mut day = d(2014, 6, 1);
    let mut n = 0;
    while events.len() < EVENTS_PER_ENTITY {
        let entry = format!("ABN-{i}-{n}");
        let ground = AbnormalGround::AnnualReportNotFiled;
        events.push((day, rules_support::abnormal_entered(ground, &entry)));
        day += chrono::Duration::days(20);
        let reason = AbnormalRemovalReason::AnnualReportFiled;
        events.push((day, rules_support::abnormal_removed(reason, &entry)));
        day += chrono::Duration::days(10);
        let fine = rules_support::fined(&format!("FINE-{i}-{n}"), CaseCategory::Pricing, 100_000);
        events.push((day, fine));
        day += chrono::Duration::days(15);
        n += 1;
    }
    events.truncate(EVENTS_PER_ENTITY);
    events
        .into_iter()
        .map(|(date, e)| {
            ProposedEvent::new(
                uuid::Uuid::now_v7(),
                e.event_type(),
                e.schema_version(),
                morning(date),
                &e.to_payload(),
            )
            .unwrap()
        })
        .collect()
}

async fn populate(store: &Store, entities: u64) {
    ensure_catalogue(store, "bench").await.unwrap();
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(APPENDS_IN_FLIGHT));
    let mut tasks = Vec::new();
    for i in 0..entities {
        let permit = semaphore.clone().acquire_owned().await.unwrap();
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let request = AppendRequest::new(
                StreamName::entity(&code(i)),
                ExpectedVersion::NoStream,
                history(i),
                "bench",
            );
            store.append(request).await.unwrap();
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

fn per_sec(n: u64, e: Duration) -> f64 {
    n as f64 / e.as_secs_f64()
}

fn main() {
    let entities: u64 =
        std::env::var("BENCH_ENTITIES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let entities = if std::env::args().any(|a| a == "--bench") { entities } else { 20 };
    let rebuilds: usize =
        std::env::var("BENCH_REBUILDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let db = TestDb::new(Kind::Sqlite);
        let store = db.open().await;
        populate(&store, entities).await;
        let size = store.size().await.unwrap();
        let per = EVENTS_PER_ENTITY;
        println!("\n== SQLite: {entities} entities x {per} events = {size} events ==");

        // The baselines scan the log before the rebuild writes anything, so that both read
        // the same database state.
        let (scanned, scan_elapsed) = support::raw_scan(Kind::Sqlite, &db).await;
        let (direct_scanned, direct_elapsed) = support::direct_scan(&db);
        let projector = Projector::new(store.clone()).await.unwrap();
        let mut report = projector.rebuild(|_| {}).await.unwrap();
        let mut rates = vec![per_sec(report.events, report.elapsed)];
        let mut deletions = Vec::new();
        // Further rebuilds (`BENCH_REBUILDS`, for profiling the rebuild alone or a median of
        // several) each replace the generation the previous one swapped in, and then delete
        // it: that deletion is timed apart, after the swap.
        for _ in 1..rebuilds {
            report = projector.rebuild(|_| {}).await.unwrap();
            rates.push(per_sec(report.events, report.elapsed));
            deletions.push(report.retired_deleted_in);
        }
        rates.sort_by(f64::total_cmp);
        deletions.sort_unstable();
        let rebuild_rate = rates[rates.len() / 2];
        let scan_rate = per_sec(scanned, scan_elapsed);
        let direct_rate = per_sec(direct_scanned, direct_elapsed);
        println!(
            "rebuild            {:>10.0} events/s   sqlx scan {:>9.0} rows/s   ratio {:.2}   \
             ({} entities; median of {} rebuilds, the last {:.1} s)\n{:>49} {:>9.0} rows/s   \
             ratio {:.2}",
            rebuild_rate,
            scan_rate,
            rebuild_rate / scan_rate,
            report.entities,
            rates.len(),
            report.elapsed.as_secs_f64(),
            "direct scan",
            direct_rate,
            rebuild_rate / direct_rate
        );

        if !deletions.is_empty() {
            println!(
                "retired generation deleted after the swap in {:.2} s (median; each rebuild but \
                 the first retires one of {} entities)",
                deletions[deletions.len() / 2].as_secs_f64(),
                report.entities
            );
        }

        // Status of an entity with 100 events at a past date, from the projection, against a
        // fold of its stream read from the store.
        let mut cached = Vec::with_capacity(LOOKUP_SAMPLES);
        let mut folded = Vec::with_capacity(LOOKUP_SAMPLES);
        let catalogue = projector.catalogue();
        for s in 0..LOOKUP_SAMPLES as u64 {
            let c = code((s * 7_919) % entities);
            let date = d(2016, 1, 1) + chrono::Duration::days((s % 1500) as i64);
            let t = Instant::now();
            let status = projector.status(&c, date, None).await.unwrap();
            cached.push(t.elapsed());
            let t = Instant::now();
            let events = store.read_stream(&StreamName::entity(&c), 1, 1000).await.unwrap();
            let again = ledger_rules::fold(&events, &catalogue, date, None);
            folded.push(t.elapsed());
            assert_eq!(status, again);
        }
        cached.sort_unstable();
        folded.sort_unstable();
        let pct =
            |v: &[Duration], p: f64| v[((v.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6;
        println!(
            "status lookup      p50 {:>7.1} us   p99 {:>7.1} us   \
             (read stream + fold: p50 {:>7.1} us, p99 {:>7.1} us)",
            pct(&cached, 0.5),
            pct(&cached, 0.99),
            pct(&folded, 0.5),
            pct(&folded, 0.99)
        );
        store.close().await;
    });
}
