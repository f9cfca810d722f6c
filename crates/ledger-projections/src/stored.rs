//! The stored form of a timeline.
//!
//! A timeline's restrictions are most of its size, and most of each restriction is the
//! measure's department, title and legal basis: the same few hundred bytes repeated for every
//! interval of a measure. The stored form keeps only the measure's id and version and takes the
//! rest from the catalogue when the timeline is read back, which makes the stored JSON about a
//! third of the fold's own serialisation and its parse correspondingly cheaper.
//!
//! The catalogue that reads a timeline back is the one that wrote it: a change of the measure
//! catalogue makes the projector rebuild every timeline. A stored restriction whose measure
//! version the catalogue does not hold (read during that rebuild) fails to decode, and the
//! caller folds the entity's stream instead.

use std::collections::HashMap;

use chrono::NaiveDate;
use ledger_core::events::MeasureDefined;
use ledger_rules::{
    Catalogue, ListInterval, PublicationInterval, RestrictionInterval, Timeline, TriggerKind,
};
use serde::{Deserialize, Serialize};

/// A timeline as stored: the fold's timeline with each restriction cut to [`Restriction`].
#[derive(Serialize, Deserialize)]
struct Stored<L, P, R> {
    known_at_position: Option<u64>,
    lists: L,
    publications: P,
    restrictions: R,
}

/// A restriction without what its measure version says.
#[derive(Serialize, Deserialize)]
struct Restriction<S, C> {
    measure_id: S,
    measure_version: NaiveDate,
    trigger: TriggerKind,
    trigger_decision_number: S,
    start: NaiveDate,
    end: Option<NaiveDate>,
    caused_by: C,
}

/// The stored JSON of a timeline.
pub fn encode(timeline: &Timeline) -> String {
    let restrictions: Vec<Restriction<&str, &[u64]>> = timeline
        .restrictions
        .iter()
        .map(|r| Restriction {
            measure_id: r.measure_id.as_str(),
            measure_version: r.measure_version,
            trigger: r.trigger,
            trigger_decision_number: r.trigger_decision_number.as_str(),
            start: r.start,
            end: r.end,
            caused_by: r.caused_by.as_slice(),
        })
        .collect();
    let stored = Stored {
        known_at_position: timeline.known_at_position,
        lists: &timeline.lists,
        publications: &timeline.publications,
        restrictions,
    };
    // Every field is a string, number, date or sequence of them: serialising cannot fail.
    serde_json::to_string(&stored).unwrap_or_else(|_| "{}".to_owned())
}

/// The timeline behind stored JSON, its restrictions completed from `catalogue`.
pub fn decode(text: &str, catalogue: &Catalogue) -> Result<Timeline, String> {
    type Owned =
        Stored<Vec<ListInterval>, Vec<PublicationInterval>, Vec<Restriction<String, Vec<u64>>>>;
    let stored: Owned = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let versions: HashMap<(&str, NaiveDate), &MeasureDefined> =
        catalogue.measures.iter().map(|m| ((m.measure_id.as_str(), m.in_force_from), m)).collect();
    let restrictions = stored
        .restrictions
        .into_iter()
        .map(|r| {
            let Some(measure) = versions.get(&(r.measure_id.as_str(), r.measure_version)) else {
                return Err(format!(
                    "measure {} of {} is not in the catalogue",
                    r.measure_id, r.measure_version
                ));
            };
            Ok(RestrictionInterval {
                department: measure.department.clone(),
                title: measure.title.clone(),
                legal_basis: measure.legal_basis.clone(),
                measure_id: r.measure_id,
                measure_version: r.measure_version,
                trigger: r.trigger,
                trigger_decision_number: r.trigger_decision_number,
                start: r.start,
                end: r.end,
                caused_by: r.caused_by,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Timeline {
        known_at_position: stored.known_at_position,
        lists: stored.lists,
        publications: stored.publications,
        restrictions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn timeline_of(measure: &MeasureDefined) -> Timeline {
        let restriction = RestrictionInterval {
            measure_id: measure.measure_id.clone(),
            measure_version: measure.in_force_from,
            department: measure.department.clone(),
            title: measure.title.clone(),
            legal_basis: measure.legal_basis.clone(),
            trigger: TriggerKind::SeriousList,
            trigger_decision_number: "津市监严〔2025〕7号".to_owned(),
            start: date(2025, 3, 1),
            end: Some(date(2028, 3, 1)),
            caused_by: vec![7, 3],
        };
        Timeline {
            known_at_position: Some(9),
            lists: Vec::new(),
            publications: Vec::new(),
            restrictions: vec![
                restriction.clone(),
                RestrictionInterval { end: None, ..restriction },
            ],
        }
    }

    #[test]
    fn round_trip_completes_restrictions_from_the_catalogue() {
        let catalogue = Catalogue::builtin();
        let measure = &catalogue.measures[0];
        let timeline = timeline_of(measure);
        let text = encode(&timeline);
        assert!(!text.contains(&measure.title), "{text}");
        assert_eq!(decode(&text, &catalogue).unwrap(), timeline);
        assert!(text.len() * 2 < serde_json::to_string(&timeline).unwrap().len(), "{text}");
    }

    #[test]
    fn a_measure_version_the_catalogue_lacks_fails_to_decode() {
        let mut catalogue = Catalogue::builtin();
        let measure = catalogue.measures[0].clone();
        let text = encode(&timeline_of(&measure));
        catalogue.measures.retain(|m| m.measure_id != measure.measure_id);
        let error = decode(&text, &catalogue).unwrap_err();
        assert!(error.contains(&measure.measure_id), "{error}");
        assert!(decode("{\"lists\":", &Catalogue::builtin()).is_err());
    }
}
