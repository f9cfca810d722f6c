//! Hashing and Merkle-append throughput against raw BLAKE3 over the same bytes.
//!
//! Run: `cargo bench --bench core`. Criterion prints each group's throughput; the ratio of
//! `event_hash` to `raw_blake3` is the overhead of the envelope encoding.

use chrono::{TimeZone, Utc};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ledger_core::event::{ProposedEvent, RecordedEvent, Seal};
use ledger_core::merkle::{self, Frontier};
use ledger_core::{Hash32, StreamName};

/// The payload size the targets are stated for, in bytes.
const PAYLOAD_BYTES: usize = 600;

fn sample_event() -> RecordedEvent {
    let filler = "x".repeat(PAYLOAD_BYTES - 40);
    let payload = serde_json::json!({ "decision_no": "DEMO-2025-0001", "facts": filler });
    let proposal = ProposedEvent::new(
        uuid::Uuid::now_v7(),
        "penalty_decided",
        1,
        Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap(),
        &payload,
    )
    .unwrap();
    assert!((PAYLOAD_BYTES - 10..PAYLOAD_BYTES + 10).contains(&proposal.payload.len()));
    let stream = StreamName::new("entity/91620502MA7B8C9D0X").unwrap();
    RecordedEvent::seal(
        proposal,
        Seal {
            position: 123_456,
            stream: &stream,
            stream_version: 17,
            recorded_at: Utc.with_ymd_and_hms(2025, 6, 2, 0, 0, 0).unwrap(),
            recorded_by: "case-system",
            prev_hash: Hash32([1; 32]),
        },
    )
}

fn hashing(c: &mut Criterion) {
    let event = sample_event();
    let mut group = c.benchmark_group("hash_600_byte_event");
    group.throughput(Throughput::Elements(1));
    group.bench_function("raw_blake3", |b| b.iter(|| blake3::hash(black_box(&event.payload))));
    group.bench_function("event_hash", |b| b.iter(|| black_box(&event).compute_hash()));
    group.finish();
}

fn merkle_append(c: &mut Criterion) {
    let leaves: Vec<Hash32> =
        (0u64..4096).map(|i| Hash32::from(blake3::hash(&i.to_le_bytes()))).collect();
    let mut group = c.benchmark_group("merkle_append_4096_leaves");
    group.throughput(Throughput::Elements(leaves.len() as u64));
    group.bench_function("raw_blake3_32_bytes", |b| {
        b.iter(|| {
            for leaf in &leaves {
                black_box(blake3::hash(leaf.as_bytes()));
            }
        })
    });
    group.bench_function("frontier_append", |b| {
        b.iter(|| {
            let mut frontier = Frontier::new();
            let mut nodes = 0usize;
            for leaf in &leaves {
                frontier.append(merkle::leaf_hash(leaf), |_, _| nodes += 1);
            }
            black_box((frontier.root(), nodes))
        })
    });
    group.finish();
}

criterion_group!(benches, hashing, merkle_append);
criterion_main!(benches);
