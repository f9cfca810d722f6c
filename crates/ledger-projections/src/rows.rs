//! Turning a timeline into the rows the store keeps, and its changes into feed entries.

use std::collections::HashMap;

use ledger_core::events::DomainEvent;
use ledger_core::RecordedEvent;
use ledger_rules::{RestrictionInterval, Timeline};
use ledger_store::projections::{ChangeRow, DisclosureRow, EntityRows, ListRow, RestrictionRow};

/// The serde name of a unit-like enum value (`"serious_list"`), as stored in text columns.
fn serde_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(map)) => {
            // Externally tagged enums holding a value: `{"abnormal": "annual_report_not_filed"}`.
            map.into_iter()
                .next()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}:{s}"),
                    _ => k,
                })
                .unwrap_or_default()
        }
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

type Key = (String, String, chrono::NaiveDate, String);

fn key(r: &RestrictionInterval) -> Key {
    (r.measure_id.clone(), r.department.clone(), r.start, r.trigger_decision_number.clone())
}

/// The rows of one entity, with the changes from `old` (its previous timeline) to `timeline`.
/// With no old timeline (a rebuild), every restriction is announced as started.
pub fn entity_rows(
    stream: &str,
    events: &[RecordedEvent],
    timeline: &Timeline,
    old: Option<&Timeline>,
) -> EntityRows {
    let head = events.last().map_or(0, |e| e.position);
    let restrictions = timeline
        .restrictions
        .iter()
        .map(|r| RestrictionRow {
            department: r.department.clone(),
            measure_id: r.measure_id.clone(),
            start: r.start,
            end: r.end,
            trigger: serde_name(&r.trigger),
            position: r.caused_by.first().copied().unwrap_or(head),
        })
        .collect();
    let lists = timeline
        .lists
        .iter()
        .map(|l| ListRow {
            list: serde_name(&l.list),
            ground: serde_name(&l.ground),
            start: l.start,
            end: l.end,
            position: l.entry_position,
        })
        .collect();
    let disclosures = timeline
        .publications
        .iter()
        .map(|p| DisclosureRow {
            decision_number: p.decision_number.clone(),
            start: p.start,
            end: p.end,
            position: p.decision_position,
        })
        .collect();

    let before: HashMap<Key, &RestrictionInterval> =
        old.map(|t| t.restrictions.iter().map(|r| (key(r), r)).collect()).unwrap_or_default();
    let mut changes = Vec::new();
    for r in &timeline.restrictions {
        let change = match before.get(&key(r)) {
            None => Some("started"),
            Some(previous) if previous.end != r.end => Some("ended"),
            Some(_) => None,
        };
        if let Some(change) = change {
            changes.push(change_row(r, change, head));
            // An end known from the start (a fixed term, a listing's expiry) is announced with
            // the start, so a partner's copy ends the restriction on time with no further event.
            if change == "started" && r.end.is_some() {
                changes.push(change_row(r, "ended", head));
            }
        }
    }
    let now: std::collections::HashSet<Key> = timeline.restrictions.iter().map(key).collect();
    for r in old.map(|t| t.restrictions.as_slice()).unwrap_or_default() {
        if !now.contains(&key(r)) {
            changes.push(change_row(r, "withdrawn", head));
        }
    }

    EntityRows {
        stream: stream.to_owned(),
        position: head,
        name: name_of(events),
        timeline: crate::stored::encode(timeline),
        restrictions,
        lists,
        disclosures,
        changes,
    }
}

fn change_row(r: &RestrictionInterval, change: &str, position: u64) -> ChangeRow {
    ChangeRow {
        department: r.department.clone(),
        measure_id: r.measure_id.clone(),
        change: change.to_owned(),
        start: r.start,
        end: r.end,
        position,
    }
}

/// The entity's name as last registered or changed. Only the two event types that carry it are
/// parsed.
pub fn name_of(events: &[RecordedEvent]) -> Option<String> {
    let mut name = None;
    for event in events {
        if event.event_type != "entity_registered" && event.event_type != "entity_details_changed" {
            continue;
        }
        match DomainEvent::parse_json(&event.event_type, event.schema_version, &event.payload) {
            Ok(DomainEvent::EntityRegisteredV1(r)) => name = Some(r.name),
            Ok(DomainEvent::EntityDetailsChangedV1(c)) => {
                if let Some(new) = c.changes.name {
                    name = Some(new);
                }
            }
            _ => {}
        }
    }
    name
}
