//! The committed JSON Schemas in `schemas/events/` match the payload types.
//!
//! Each (event type, schema version) has a file `<event_type>.v<schema_version>.json` holding
//! the schema `payload_schema` generates, pretty-printed with a trailing newline. A change to
//! a payload type shows up here as a drifted file, which is the moment to ask whether the
//! change needs a new schema version. Run with `UPDATE_SCHEMAS=1` to rewrite the files.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use ledger_core::events::{payload_schema, EVENT_TYPES};

const REFRESH: &str = "UPDATE_SCHEMAS=1 cargo test -p ledger-core --test schemas";

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/events")
}

fn file_name(event_type: &str, schema_version: u32) -> String {
    format!("{event_type}.v{schema_version}.json")
}

fn expected_files() -> Vec<(String, String)> {
    EVENT_TYPES
        .iter()
        .map(|&(event_type, version)| {
            let schema = payload_schema(event_type, version)
                .unwrap_or_else(|| panic!("no schema for {event_type} v{version}"));
            let mut text = serde_json::to_string_pretty(&schema).unwrap();
            text.push('\n');
            (file_name(event_type, version), text)
        })
        .collect()
}

#[test]
fn committed_schemas_match_the_types() {
    let dir = schema_dir();
    let update = std::env::var("UPDATE_SCHEMAS").is_ok_and(|v| v == "1");
    if update {
        fs::create_dir_all(&dir).unwrap();
    }

    let mut problems = Vec::new();
    for (name, text) in expected_files() {
        let path = dir.join(&name);
        let committed = fs::read_to_string(&path).ok();
        if committed.as_deref() == Some(text.as_str()) {
            continue;
        }
        if update {
            fs::write(&path, text).unwrap();
        } else if committed.is_none() {
            problems.push(format!("schemas/events/{name} is missing"));
        } else {
            problems.push(format!("schemas/events/{name} differs from its payload type"));
        }
    }

    assert!(
        problems.is_empty(),
        "{}\nIf the change to the payload type is intended (and does not need a new schema \
         version), refresh the files with `{REFRESH}` and review the diff.",
        problems.join("\n")
    );
}

#[test]
fn every_committed_schema_has_a_type() {
    let expected: BTreeSet<String> = expected_files().into_iter().map(|(name, _)| name).collect();
    let Ok(entries) = fs::read_dir(schema_dir()) else {
        panic!("schemas/events is missing; create it with `{REFRESH}`");
    };

    let mut strays = Vec::new();
    for entry in entries {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !expected.contains(&name) {
            strays.push(format!("schemas/events/{name}"));
        }
    }

    assert!(
        strays.is_empty(),
        "no event type and version matches {}; remove the file, or declare the type in \
         `ledger_core::events` (a recorded version must never be removed from there)",
        strays.join(", ")
    );
}
