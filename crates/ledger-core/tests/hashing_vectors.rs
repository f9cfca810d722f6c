//! Keeps `docs/hashing.md` true.
//!
//! The page promises an auditor enough to write an independent verifier, and backs the promise
//! with worked examples. This suite recomputes every value those examples show and checks that
//! the page shows exactly that value on the expected line:
//!
//! 1. each value is computed by the library (event hash, Merkle proofs, notes, commitments);
//! 2. wherever the page describes a byte layout, the layout is also rebuilt here by hand from
//!    the page's description and hashed with `blake3` directly, and the result must equal the
//!    library's, so the page and the code cannot drift apart;
//! 3. the proof verifiers are re-implemented step by step as the page numbers them, and must
//!    agree with the library's verdict on every small tree, honest or damaged.
//!
//! A failure lists every value the page lacks, each by name and with the line as it should
//! read, so a deliberate change of the construction is followed by pasting those lines in.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ed25519_dalek::Signer as _;
use ledger_core::canonical::{self, CanonicalError};
use ledger_core::checkpoint::{Checkpoint, LogSigner, NoteVerifier};
use ledger_core::event::{ProposedEvent, RecordedEvent, Seal, EVENT_HASH_TAG};
use ledger_core::events::{DomainEvent, IdDocumentKind, PersonalData, PERSONAL_DATA_TAG};
use ledger_core::merkle::{self, MemoryTree};
use ledger_core::{CreditCode, Hash32, StreamName};
use proptest::prelude::*;
use sha2::Digest as _;
use uuid::Uuid;

const DOC: &str = include_str!("../../../docs/hashing.md");

/// Bytes of a hash-input row shown on one line of the page; longer fields continue below.
const DUMP_LINE_BYTES: usize = 32;

/// The widest proof a small-tree cross-check builds.
const CROSS_CHECK_SIZE_MAX: u64 = 40;

// ---------------------------------------------------------------------------------------------
// Checking the page

/// The page, and the values it was found to lack.
struct Page {
    missing: Vec<String>,
}

impl Page {
    fn new() -> Self {
        Self { missing: Vec::new() }
    }

    /// The page must contain `expected` somewhere.
    fn text(&mut self, name: &str, expected: &str) {
        if !DOC.contains(expected) {
            self.missing.push(format!("{name}: the page should contain\n{expected}"));
        }
    }

    /// The page must have a line that reads `expected` (ignoring trailing spaces).
    fn line(&mut self, name: &str, expected: &str) {
        if !DOC.lines().any(|l| l.trim_end() == expected) {
            self.missing.push(format!("{name}: the page should have the line\n{expected}"));
        }
    }

    /// The page must show `lines` one after another, as in a code block or table.
    fn block(&mut self, name: &str, lines: &[(String, String)]) {
        let before = self.missing.len();
        for (line_name, line) in lines {
            self.line(&format!("{name}: {line_name}"), line);
        }
        let joined: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
        if self.missing.len() == before && !DOC.contains(&joined.join("\n")) {
            self.missing.push(format!(
                "{name}: every line is on the page but not in this order\n{}",
                joined.join("\n")
            ));
        }
    }

    /// Fails, naming every missing value, if any was missing.
    fn finish(self) {
        assert!(
            self.missing.is_empty(),
            "docs/hashing.md does not show {} value(s) as the library computes them:\n\n{}\n",
            self.missing.len(),
            self.missing.join("\n\n")
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A hash-input table as the page prints it: `field  bytes  hex`, long fields wrapped.
fn dump(rows: &[(&str, Vec<u8>)]) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    for (field, bytes) in rows {
        for (i, chunk) in bytes.chunks(DUMP_LINE_BYTES).enumerate() {
            let line = if i == 0 {
                format!("{field:<20}{:>5}  {}", bytes.len(), hex(chunk))
            } else {
                format!("{:27}{}", "", hex(chunk))
            };
            lines.push((format!("{field} (line {})", i + 1), line));
        }
    }
    lines
}

fn concat(rows: &[(&str, Vec<u8>)]) -> Vec<u8> {
    rows.iter().flat_map(|(_, bytes)| bytes.iter().copied()).collect()
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

// ---------------------------------------------------------------------------------------------
// Canonical JSON

/// Payloads as a recorder might send them, each with its canonical form. Each text is one line
/// of the page, split here only to fit the width.
const CANONICAL_EXAMPLES: &[(&str, &str)] = &[
    (
        concat!(
            r#"{ "url": "https://www.example.cn", "registration_date": "2025-03-14", "#,
            r#""icp_filing_number": "甘ICP备12345678号-1" }"#,
        ),
        concat!(
            r#"{"icp_filing_number":"甘ICP备12345678号-1","#,
            r#""registration_date":"2025-03-14","url":"https://www.example.cn"}"#,
        ),
    ),
    (
        concat!(
            r#"{"é": "\u0001\u001f", "b": "tab\there \"quoted\" back\\slash /", "#,
            r#""a": [10, -7, true, false, null, {}]}"#,
        ),
        concat!(
            r#"{"a":[10,-7,true,false,null,{}],"#,
            r#""b":"tab\there \"quoted\" back\\slash /","é":"\u0001\u001f"}"#,
        ),
    ),
];

/// Numbers canonical JSON refuses.
const REFUSED_NUMBERS: &[&str] =
    &["1.5", "1.0", "1e3", "-0", "9007199254740992", "-9007199254740992"];

#[test]
fn canonical_json_examples() {
    let mut page = Page::new();
    for (i, (input, output)) in CANONICAL_EXAMPLES.iter().enumerate() {
        let canon = canonical::canonicalize(input.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(canon.clone()).unwrap(), *output, "example {}", i + 1);
        page.line(&format!("canonical example {} input", i + 1), input);
        page.line(&format!("canonical example {} output", i + 1), output);
    }
    let second = CANONICAL_EXAMPLES[1].1.as_bytes();
    let lines = dump(&[("canonical bytes", second.to_vec())]);
    page.block("canonical example 2 as hex", &lines);

    for number in REFUSED_NUMBERS {
        let text = format!(r#"{{"n":{number}}}"#);
        let refused = canonical::canonicalize(text.as_bytes());
        assert!(matches!(refused, Err(CanonicalError::Number { .. })), "{number} was accepted");
        page.text(&format!("refused number {number}"), &format!("`{number}`"));
    }
    for number in ["9007199254740991", "-9007199254740991", "0"] {
        let text = format!(r#"{{"n":{number}}}"#);
        assert_eq!(canonical::canonicalize(text.as_bytes()).unwrap(), text.as_bytes());
    }

    // Thirty-two levels of nesting are accepted and thirty-three are not.
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(canonical::canonicalize(nested(32).as_bytes()).is_ok());
    assert!(canonical::canonicalize(nested(33).as_bytes()).is_err());
    page.finish();
}

// ---------------------------------------------------------------------------------------------
// The event hash

/// The bytes of the event-hash input that do not depend on the variable-length fields.
const EVENT_FIXED_BYTES: usize = 117;

const STREAM: &str = "entity/91350100M000100Y43";
const RECORDER: &str = "amr-registration";

/// Event A, the first of its stream.
fn event_a() -> RecordedEvent {
    let payload = serde_json::from_str(CANONICAL_EXAMPLES[0].0).unwrap();
    let proposal = ProposedEvent::new(
        Uuid::parse_str("019593fd-70c0-7b3e-9a41-5c2d8e6f0a17").unwrap(),
        "website_registered",
        1,
        utc("2025-03-14T00:00:00+08:00"),
        &payload,
    )
    .unwrap();
    let stream = StreamName::new(STREAM).unwrap();
    let seal = Seal {
        position: 41,
        stream: &stream,
        stream_version: 1,
        recorded_at: utc("2025-03-14T09:30:15.123456Z"),
        recorded_by: RECORDER,
        prev_hash: Hash32::ZERO,
    };
    RecordedEvent::seal(proposal, seal)
}

/// Event B, the next event of the same stream.
fn event_b() -> RecordedEvent {
    let payload = serde_json::json!({
        "url": "https://www.example.cn",
        "icp_filing_number": "甘ICP备12345678号-1",
        "removal_date": "2025-10-01",
    });
    let proposal = ProposedEvent::new(
        Uuid::parse_str("0199c19c-3900-7d12-8f5e-3a6b9c0d2e41").unwrap(),
        "website_removed",
        1,
        utc("2025-10-01T00:00:00+08:00"),
        &payload,
    )
    .unwrap();
    let stream = StreamName::new(STREAM).unwrap();
    let seal = Seal {
        position: 57,
        stream: &stream,
        stream_version: 2,
        recorded_at: utc("2025-10-08T02:17:45.000321Z"),
        recorded_by: RECORDER,
        prev_hash: event_a().hash,
    };
    RecordedEvent::seal(proposal, seal)
}

/// The event-hash input built by hand from the page's field table, one row per field.
///
/// This deliberately uses nothing of the library but the field values.
fn event_rows(e: &RecordedEvent) -> Vec<(&'static str, Vec<u8>)> {
    let len = |bytes: &[u8]| u32::try_from(bytes.len()).unwrap().to_be_bytes().to_vec();
    let stream = e.stream.as_str().as_bytes();
    let micros = |t: &DateTime<Utc>| t.timestamp_micros().to_be_bytes().to_vec();
    vec![
        ("tag", b"credit-ledger:ev".to_vec()),
        ("encoding_version", vec![1]),
        ("position", e.position.to_be_bytes().to_vec()),
        ("stream_len", len(stream)),
        ("stream", stream.to_vec()),
        ("stream_version", e.stream_version.to_be_bytes().to_vec()),
        ("event_id", e.event_id.as_bytes().to_vec()),
        ("event_type_len", len(e.event_type.as_bytes())),
        ("event_type", e.event_type.as_bytes().to_vec()),
        ("schema_version", e.schema_version.to_be_bytes().to_vec()),
        ("effective_at", micros(&e.effective_at)),
        ("recorded_at", micros(&e.recorded_at)),
        ("recorded_by_len", len(e.recorded_by.as_bytes())),
        ("recorded_by", e.recorded_by.as_bytes().to_vec()),
        ("payload_len", len(&e.payload)),
        ("payload", e.payload.clone()),
        ("prev_hash", e.prev_hash.0.to_vec()),
    ]
}

fn hand_built_hash(e: &RecordedEvent) -> Hash32 {
    Hash32(*blake3::hash(&concat(&event_rows(e))).as_bytes())
}

fn check_event(page: &mut Page, name: &str, e: &RecordedEvent) {
    assert_eq!(e.compute_hash(), e.hash);
    assert_eq!(hand_built_hash(e), e.hash, "{name}: the page's layout and the library differ");

    // The payload is a real one of its type.
    DomainEvent::parse(&e.event_type, e.schema_version, &e.payload_value()).unwrap();

    let values = [
        ("position", e.position.to_string()),
        ("stream", e.stream.to_string()),
        ("stream_version", e.stream_version.to_string()),
        ("event_id", e.event_id.to_string()),
        ("event_type", e.event_type.clone()),
        ("schema_version", e.schema_version.to_string()),
        ("effective_at", e.effective_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        ("recorded_at", e.recorded_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        ("recorded_by", e.recorded_by.clone()),
        ("payload", String::from_utf8(e.payload.clone()).unwrap()),
        ("prev_hash", e.prev_hash.to_hex()),
    ];
    let lines: Vec<(String, String)> = values
        .into_iter()
        .map(|(field, value)| (field.to_owned(), format!("| `{field}` | `{value}` |")))
        .collect();
    page.block(&format!("{name} field values"), &lines);

    let rows = event_rows(e);
    let variable = e.stream.as_str().len() + e.event_type.len() + e.recorded_by.len();
    assert_eq!(concat(&rows).len(), EVENT_FIXED_BYTES + variable + e.payload.len());
    page.block(&format!("{name} hash input"), &dump(&rows));
    page.line(
        &format!("{name} hash input length"),
        &format!("{:27}{} bytes in all", "", concat(&rows).len()),
    );
    page.line(&format!("{name} hash"), &format!("{:<20}{:>5}  {}", "hash", 32, e.hash.to_hex()));
}

#[test]
fn event_hash_examples() {
    let mut page = Page::new();
    let (a, b) = (event_a(), event_b());
    assert_eq!(EVENT_HASH_TAG, b"credit-ledger:ev");
    check_event(&mut page, "event A", &a);
    check_event(&mut page, "event B", &b);
    assert_eq!(b.prev_hash, a.hash);
    let fixed = format!("The fixed parts add up to {EVENT_FIXED_BYTES} bytes");
    page.text("fixed part of the event-hash input", &fixed);

    // Timestamps as signed microseconds, including one before 1970.
    for text in ["2025-03-14T09:30:15.123456Z", "1949-10-01T00:00:00Z"] {
        let micros = utc(text).timestamp_micros();
        let line = format!("| `{text}` | `{micros}` | `{}` |", hex(&micros.to_be_bytes()));
        page.line(&format!("timestamp {text}"), &line);
    }
    page.finish();
}

#[test]
fn hand_built_encoding_survives_unusual_values() {
    let mut e = event_b();
    e.recorded_by = "r".repeat(1000);
    e.effective_at = utc("1900-01-01T00:00:00Z");
    e.position = u64::MAX;
    e.schema_version = u32::MAX;
    assert_eq!(hand_built_hash(&e), e.compute_hash());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn hand_built_encoding_matches_the_library(
        position in any::<u64>(),
        stream in "[a-z]{1,8}/[A-Za-z0-9._:-]{1,60}",
        stream_version in any::<u64>(),
        id in any::<u128>(),
        event_type in "[a-z][a-z0-9_]{0,63}",
        schema_version in any::<u32>(),
        effective in -2_208_988_800_000_000i64..253_402_300_799_000_000,
        recorded in -2_208_988_800_000_000i64..253_402_300_799_000_000,
        recorded_by in "\\PC{1,40}",
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        prev in any::<[u8; 32]>(),
    ) {
        let e = RecordedEvent {
            position,
            stream: StreamName::new(stream).unwrap(),
            stream_version,
            event_id: Uuid::from_u128(id),
            event_type,
            schema_version,
            effective_at: DateTime::from_timestamp_micros(effective).unwrap(),
            recorded_at: DateTime::from_timestamp_micros(recorded).unwrap(),
            recorded_by,
            payload,
            prev_hash: Hash32(prev),
            hash: Hash32::ZERO,
        };
        prop_assert_eq!(hand_built_hash(&e), e.compute_hash());
    }
}

// ---------------------------------------------------------------------------------------------
// The Merkle log

/// The example's event hashes: `e_i` is 32 bytes of `0x11 * (i + 1)`.
fn example_event_hashes() -> Vec<Hash32> {
    (1..=5u8).map(|i| Hash32([0x11 * i; 32])).collect()
}

/// The example tree with names for the hashes the page refers to.
struct Example {
    tree: MemoryTree,
    names: Vec<(Hash32, String)>,
}

impl Example {
    fn new() -> Self {
        let mut tree = MemoryTree::new();
        for e in example_event_hashes() {
            tree.push_event(&e);
        }
        let leaf = |i: u64| tree.node(merkle::NodeId::new(0, i)).unwrap();
        let n01 = merkle::node_hash(&leaf(0), &leaf(1));
        let n23 = merkle::node_hash(&leaf(2), &leaf(3));
        let n0123 = merkle::node_hash(&n01, &n23);
        let mut names: Vec<(Hash32, String)> = (0..5).map(|i| (leaf(i), format!("L{i}"))).collect();
        names.push((n01, "N01".into()));
        names.push((n23, "N23".into()));
        names.push((n0123, "N0123".into()));
        for size in 0..=5 {
            names.push((tree.root_at(size).unwrap(), format!("R{size}")));
        }
        Self { tree, names }
    }

    fn name(&self, hash: &Hash32) -> String {
        // Prefer the structural name (L0 over R1, N01 over R2) when a hash has two.
        let found = self.names.iter().find(|(h, _)| h == hash);
        found.map_or_else(|| hash.to_hex(), |(_, name)| name.clone())
    }

    fn names(&self, hashes: &[Hash32]) -> String {
        let names: Vec<String> = hashes.iter().map(|h| self.name(h)).collect();
        format!("[{}]", names.join(", "))
    }
}

#[test]
fn merkle_hash_examples() {
    let mut page = Page::new();
    let events = example_event_hashes();
    let ex = Example::new();

    // Leaf hash of e_0, with its input built by hand.
    let leaf_rows = [("prefix", vec![0x00]), ("event_hash", events[0].0.to_vec())];
    let l0 = merkle::leaf_hash(&events[0]);
    assert_eq!(Hash32(*blake3::hash(&concat(&leaf_rows)).as_bytes()), l0);
    page.block("leaf hash L0 input", &dump(&leaf_rows));
    page.line("leaf hash L0", &format!("{:<20}{:>5}  {}", "L0", 32, l0.to_hex()));

    // Node hash N01, with its input built by hand.
    let l1 = merkle::leaf_hash(&events[1]);
    let node_rows =
        [("prefix", vec![0x01]), ("left = L0", l0.0.to_vec()), ("right = L1", l1.0.to_vec())];
    let n01 = merkle::node_hash(&l0, &l1);
    assert_eq!(Hash32(*blake3::hash(&concat(&node_rows)).as_bytes()), n01);
    page.block("node hash N01 input", &dump(&node_rows));
    page.line("node hash N01", &format!("{:<20}{:>5}  {}", "N01", 32, n01.to_hex()));

    // Every named hash, with how it is made.
    let mut rows = Vec::new();
    for (i, e) in events.iter().enumerate() {
        rows.push((format!("e{i}"), format!("| `e{i}` | given | `{}` |", e.to_hex())));
    }
    for (i, e) in events.iter().enumerate() {
        let leaf = merkle::leaf_hash(e);
        rows.push((format!("L{i}"), format!("| `L{i}` | `leaf(e{i})` | `{}` |", leaf.to_hex())));
    }
    let named = |name: &str| ex.names.iter().find(|(_, n)| n == name).unwrap().0;
    for (name, how) in
        [("N01", "node(L0, L1)"), ("N23", "node(L2, L3)"), ("N0123", "node(N01, N23)")]
    {
        rows.push((name.into(), format!("| `{name}` | `{how}` | `{}` |", named(name).to_hex())));
    }
    page.block("named hashes", &rows);

    // Roots of sizes 0 to 5, each from the definition and from the library.
    let leaves: Vec<Hash32> = events.iter().map(merkle::leaf_hash).collect();
    let definitions = [
        ("R0", "BLAKE3(\"\")", merkle::empty_root()),
        ("R1", "L0", leaves[0]),
        ("R2", "node(L0, L1) = N01", n01),
        ("R3", "node(N01, L2)", merkle::node_hash(&n01, &leaves[2])),
        ("R4", "node(N01, N23) = N0123", named("N0123")),
        ("R5", "node(N0123, L4)", merkle::node_hash(&named("N0123"), &leaves[4])),
    ];
    let mut rows = Vec::new();
    for (size, (name, how, hash)) in definitions.iter().enumerate() {
        assert_eq!(ex.tree.root_at(size as u64).unwrap(), *hash, "root of size {size}");
        rows.push((
            name.to_string(),
            format!("| {size} | `{name}` | `{how}` | `{}` |", hash.to_hex()),
        ));
    }
    page.block("roots", &rows);
    assert_eq!(merkle::empty_root().to_hex(), hex(blake3::hash(b"").as_bytes()));
    page.finish();
}

/// One step of a verifier as the page tabulates it.
struct Step {
    input: Hash32,
    before: (u64, u64),
    rule: &'static str,
    after: (u64, u64),
    hashes: Vec<Hash32>,
}

/// Shifts `fn` and `sn` right together while `fn` is even and not zero.
fn shift_while_even(f: &mut u64, s: &mut u64) {
    while *f & 1 == 0 && *f != 0 {
        *f >>= 1;
        *s >>= 1;
    }
}

/// The inclusion verifier exactly as the page's numbered steps say, with its steps recorded.
fn inclusion_by_the_page(
    index: u64,
    size: u64,
    leaf: &Hash32,
    proof: &[Hash32],
    root: &Hash32,
) -> (bool, Vec<Step>) {
    let mut steps = Vec::new();
    if index >= size || proof.len() > 64 {
        return (false, steps);
    }
    let (mut f, mut s, mut r) = (index, size - 1, *leaf);
    for p in proof {
        if s == 0 {
            return (false, steps);
        }
        let before = (f, s);
        let rule = if f & 1 == 1 || f == s {
            r = merkle::node_hash(p, &r);
            shift_while_even(&mut f, &mut s);
            "`r = node(p, r)`"
        } else {
            r = merkle::node_hash(&r, p);
            "`r = node(r, p)`"
        };
        f >>= 1;
        s >>= 1;
        steps.push(Step { input: *p, before, rule, after: (f, s), hashes: vec![r] });
    }
    (s == 0 && r == *root, steps)
}

/// The consistency verifier exactly as the page's numbered steps say, with its steps recorded.
fn consistency_by_the_page(
    old: u64,
    new: u64,
    old_root: &Hash32,
    new_root: &Hash32,
    proof: &[Hash32],
) -> (bool, Vec<Step>) {
    let mut steps = Vec::new();
    if old > new || proof.len() > 64 {
        return (false, steps);
    }
    if old == new || old == 0 {
        return (proof.is_empty() && (old != new || old_root == new_root), steps);
    }
    if proof.is_empty() {
        return (false, steps);
    }
    let mut path = Vec::new();
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return (false, steps);
        }
        let before = (f, s);
        let rule = if f & 1 == 1 || f == s {
            fr = merkle::node_hash(c, &fr);
            sr = merkle::node_hash(c, &sr);
            shift_while_even(&mut f, &mut s);
            "`fr = node(c, fr)`, `sr = node(c, sr)`"
        } else {
            sr = merkle::node_hash(&sr, c);
            "`sr = node(sr, c)`"
        };
        f >>= 1;
        s >>= 1;
        steps.push(Step { input: *c, before, rule, after: (f, s), hashes: vec![fr, sr] });
    }
    (s == 0 && fr == *old_root && sr == *new_root, steps)
}

fn step_rows(ex: &Example, steps: &[Step]) -> Vec<(String, String)> {
    steps
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let hashes: Vec<String> =
                st.hashes.iter().map(|h| format!("`{}`", ex.name(h))).collect();
            let line = format!(
                "| {} | `{}` | {}, {} | {} | {} | {}, {} |",
                i + 1,
                ex.name(&st.input),
                st.before.0,
                st.before.1,
                st.rule,
                hashes.join(" | "),
                st.after.0,
                st.after.1,
            );
            (format!("step {}", i + 1), line)
        })
        .collect()
}

#[test]
fn inclusion_proof_examples() {
    let mut page = Page::new();
    let ex = Example::new();
    for (index, size) in [(2u64, 5u64), (4, 5)] {
        let name = format!("inclusion of leaf {index} in size {size}");
        let proof = ex.tree.inclusion_proof(index, size).unwrap();
        let leaf = ex.tree.node(merkle::NodeId::new(0, index)).unwrap();
        let root = ex.tree.root_at(size).unwrap();
        merkle::verify_inclusion(index, size, &leaf, &proof, &root).unwrap();
        let (ok, steps) = inclusion_by_the_page(index, size, &leaf, &proof, &root);
        assert!(ok, "{name}: the page's steps reject an honest proof");

        let ranges: Vec<String> = merkle::inclusion_ranges(index, size)
            .iter()
            .map(|(a, b)| format!("[{a}, {b})"))
            .collect();
        page.line(
            &format!("{name}: proof"),
            &format!(
                "Proof of leaf {index} in the tree of size {size}: `{}`, the hashes of leaves {}.",
                ex.names(&proof),
                ranges.join(", ")
            ),
        );
        page.line(
            &format!("{name}: start"),
            &format!("| start | | | `fn = {index}`, `sn = {}`, `r = L{index}` | | |", size - 1),
        );
        page.block(&format!("{name}: steps"), &step_rows(&ex, &steps));
    }
    page.finish();
}

#[test]
fn consistency_proof_examples() {
    let mut page = Page::new();
    let ex = Example::new();
    for (old, new) in [(3u64, 5u64), (2, 5)] {
        let name = format!("consistency from {old} to {new}");
        let proof = ex.tree.consistency_proof(old, new).unwrap();
        let (old_root, new_root) = (ex.tree.root_at(old).unwrap(), ex.tree.root_at(new).unwrap());
        merkle::verify_consistency(old, new, &old_root, &new_root, &proof).unwrap();
        let (ok, steps) = consistency_by_the_page(old, new, &old_root, &new_root, &proof);
        assert!(ok, "{name}: the page's steps reject an honest proof");

        let ranges: Vec<String> = merkle::consistency_ranges(old, new)
            .iter()
            .map(|(a, b)| format!("[{a}, {b})"))
            .collect();
        page.line(
            &format!("{name}: proof"),
            &format!(
                "Proof from size {old} to size {new}: `{}`, the hashes of leaves {}.",
                ex.names(&proof),
                ranges.join(", ")
            ),
        );
        let mut path = Vec::new();
        if old.is_power_of_two() {
            path.push(old_root);
        }
        path.extend_from_slice(&proof);
        let (mut f, mut s) = (old - 1, new - 1);
        while f & 1 == 1 {
            f >>= 1;
            s >>= 1;
        }
        page.line(
            &format!("{name}: start"),
            &format!(
                "| start | | | `path = {}`, `fn = {f}`, `sn = {s}` | `{first}` | `{first}` | |",
                ex.names(&path),
                first = ex.name(&path[0])
            ),
        );
        page.block(&format!("{name}: steps"), &step_rows(&ex, &steps));
    }
    page.finish();
}

/// The page's pseudo-code and the library agree on every proof of every small tree, and on
/// damaged versions of them.
#[test]
fn the_page_verifiers_agree_with_the_library() {
    let mut tree = MemoryTree::new();
    for i in 0..CROSS_CHECK_SIZE_MAX {
        tree.push_event(&Hash32(*blake3::hash(&i.to_be_bytes()).as_bytes()));
    }
    let damaged = |proof: &[Hash32]| {
        let mut out = vec![proof.to_vec()];
        if !proof.is_empty() {
            out.push(proof[1..].to_vec());
            out.push(proof[..proof.len() - 1].to_vec());
            let mut flipped = proof.to_vec();
            flipped[0].0[0] ^= 1;
            out.push(flipped);
        }
        let mut longer = proof.to_vec();
        longer.push(Hash32::ZERO);
        out.push(longer);
        out
    };
    for size in 1..=CROSS_CHECK_SIZE_MAX {
        let root = tree.root_at(size).unwrap();
        for index in 0..size {
            let leaf = tree.node(merkle::NodeId::new(0, index)).unwrap();
            for proof in damaged(&tree.inclusion_proof(index, size).unwrap()) {
                for (i, n) in [(index, size), (index, size + 1), (index + 1, size)] {
                    let library = merkle::verify_inclusion(i, n, &leaf, &proof, &root).is_ok();
                    let by_page = inclusion_by_the_page(i, n, &leaf, &proof, &root).0;
                    assert_eq!(by_page, library, "inclusion {i} in {n}");
                }
            }
        }
        for old in 0..=size {
            let old_root = tree.root_at(old).unwrap();
            for proof in damaged(&tree.consistency_proof(old, size).unwrap()) {
                for (o, n, a) in
                    [(old, size, old_root), (old, size, root), (old + 1, size, old_root)]
                {
                    let library = merkle::verify_consistency(o, n, &a, &root, &proof).is_ok();
                    let by_page = consistency_by_the_page(o, n, &a, &root, &proof).0;
                    assert_eq!(by_page, library, "consistency {o} to {n}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

const KEY_NAME: &str = "example.amr/credit-ledger";

/// The example key's seed: the bytes 0x00, 0x01, ..., 0x1f.
fn key_seed() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

#[test]
fn checkpoint_example() {
    let mut page = Page::new();
    let seed = key_seed();
    let signer = LogSigner::from_seed(KEY_NAME, seed).unwrap();

    // The public key and key id, computed here from the page's description.
    let secret = ed25519_dalek::SigningKey::from_bytes(&seed);
    let public = secret.verifying_key().to_bytes();
    let id_rows = [
        ("name", KEY_NAME.as_bytes().to_vec()),
        ("newline", vec![0x0a]),
        ("algorithm", vec![0x01]),
        ("public_key", public.to_vec()),
    ];
    let digest = sha2::Sha256::digest(concat(&id_rows));
    let key_id = &digest[..4];
    page.line("seed", &format!("{:<20}{:>5}  {}", "seed", 32, hex(&seed)));
    page.line("public key", &format!("{:<20}{:>5}  {}", "public_key", 32, hex(&public)));
    page.block("key id input", &dump(&id_rows));
    page.line("key id digest", &format!("{:<20}{:>5}  {}", "SHA-256", 32, hex(&digest)));
    page.line("key id", &format!("{:<20}{:>5}  {}", "key_id", 4, hex(key_id)));

    // The verifier key string.
    let mut alg_key = vec![0x01];
    alg_key.extend_from_slice(&public);
    let verifier = format!("{KEY_NAME}+{}+{}", hex(key_id), B64.encode(&alg_key));
    assert_eq!(signer.verifier().to_string(), verifier);
    page.line("verifier key", &verifier);

    // The checkpoint over the example tree of five leaves.
    let root = Example::new().tree.root_at(5).unwrap();
    let checkpoint = Checkpoint::new(KEY_NAME, 5, root);
    let body = format!("{KEY_NAME}\n5\n{}\n", B64.encode(root.0));
    assert_eq!(checkpoint.to_body(), body);
    page.text("checkpoint body", &format!("```text\n{body}```"));

    // The signature and the note, built here and by the library.
    let signature = secret.sign(body.as_bytes()).to_bytes();
    page.line("signature R", &format!("{:<20}{:>5}  {}", "R", 32, hex(&signature[..32])));
    page.line("signature S", &format!("{:<20}{:>5}  {}", "S", 32, hex(&signature[32..])));
    let mut sig_bytes = key_id.to_vec();
    sig_bytes.extend_from_slice(&signature);
    let sig_line = format!("\u{2014} {KEY_NAME} {}", B64.encode(&sig_bytes));
    let note = format!("{body}\n{sig_line}\n");
    assert_eq!(signer.sign_checkpoint(&checkpoint), note);
    page.text("signed note", &format!("```text\n{note}```"));
    page.line("root in base64", &format!("| root, base64 | `{}` |", B64.encode(root.0)));

    // What a verifier does with the note.
    let opened = NoteVerifier::parse(&verifier).unwrap().open_checkpoint(&note, KEY_NAME).unwrap();
    assert_eq!(opened, checkpoint);
    page.finish();
}

// ---------------------------------------------------------------------------------------------
// Personal-data commitments

#[test]
fn personal_data_example() {
    let mut page = Page::new();
    let salt: [u8; 32] = std::array::from_fn(|i| 0xc0 + i as u8);
    let data = PersonalData {
        name: "张三".into(),
        id_kind: IdDocumentKind::ResidentIdentityCard,
        id_number: "62050219800101123X".into(),
    };
    let len = |s: &str| u32::try_from(s.len()).unwrap().to_be_bytes().to_vec();
    let kind = data.id_kind.as_str();
    let rows = [
        ("tag", PERSONAL_DATA_TAG.to_vec()),
        ("salt", salt.to_vec()),
        ("name_len", len(&data.name)),
        ("name", data.name.as_bytes().to_vec()),
        ("id_kind_len", len(kind)),
        ("id_kind", kind.as_bytes().to_vec()),
        ("id_number_len", len(&data.id_number)),
        ("id_number", data.id_number.as_bytes().to_vec()),
    ];
    let commitment = data.commit(&salt);
    assert_eq!(Hash32(*blake3::hash(&concat(&rows)).as_bytes()), commitment);
    assert_eq!(PERSONAL_DATA_TAG, b"credit-ledger:pd");
    let variable = data.name.len() + kind.len() + data.id_number.len();
    assert_eq!(concat(&rows).len(), 60 + variable);
    page.text("fixed part of the commitment input", "| 60 bytes + the three fields |");
    page.block("commitment input", &dump(&rows));
    page.line("commitment", &format!("{:<20}{:>5}  {}", "commitment", 32, commitment.to_hex()));
    page.finish();
}

// ---------------------------------------------------------------------------------------------
// Credit codes

#[test]
fn credit_code_example() {
    let mut page = Page::new();
    let code = "91350100M000100Y43";
    assert!(CreditCode::parse(code).is_ok());
    let bytes = code.as_bytes();

    // Organisation-code check: letters count A = 10 ... Z = 35 here.
    let org_value =
        |b: u8| if b.is_ascii_digit() { u32::from(b - b'0') } else { u32::from(b - b'A') + 10 };
    let org_terms: Vec<String> = bytes[8..16]
        .iter()
        .zip([3, 7, 9, 10, 5, 8, 4, 2])
        .map(|(&b, w)| format!("{}×{w}", org_value(b)))
        .collect();
    let org_sum: u32 =
        bytes[8..16].iter().zip([3, 7, 9, 10, 5, 8, 4, 2]).map(|(&b, w)| org_value(b) * w).sum();
    let org_check = match 11 - org_sum % 11 {
        10 => 'X',
        11 => '0',
        v => char::from_digit(v, 10).unwrap(),
    };
    assert_eq!(char::from(bytes[16]), org_check);
    page.line(
        "organisation check",
        &format!(
            "position 17: {} = {org_sum}; 11 − ({org_sum} mod 11) = {} → `{org_check}`",
            org_terms.join(" + "),
            11 - org_sum % 11
        ),
    );

    // Overall check: values are alphabet indices, so M = 21 and Y = 30 here.
    let alphabet = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let value = |b: u8| alphabet.iter().position(|&a| a == b).unwrap() as u32;
    let mut weight = 1u32;
    let (mut sum, mut terms) = (0u32, Vec::new());
    for &b in &bytes[..17] {
        terms.push(format!("{}×{weight}", value(b)));
        sum += value(b) * weight;
        weight = weight * 3 % 31;
    }
    let check = alphabet[((31 - sum % 31) % 31) as usize];
    assert_eq!(bytes[17], check);
    page.line(
        "overall check",
        &format!(
            "position 18: {} = {sum}; (31 − ({sum} mod 31)) mod 31 = {} → `{}`",
            terms.join(" + "),
            (31 - sum % 31) % 31,
            char::from(check)
        ),
    );
    page.finish();
}
