//! Properties of the fold over generated histories:
//!
//! 1. for random histories that validation accepts, the status on any date is exactly the
//!    restriction intervals that contain the date, and agrees with the lists and publications
//!    shown on that date (a while-listed measure applies exactly while its list stay is shown);
//! 2. asking "as known at position p" equals folding only the events up to p;
//! 3. the fold, the intervals and validation never panic, whatever the events hold.

mod support;

use chrono::{DateTime, NaiveDate, Utc};
use ledger_core::events::{
    CaseCategory, DomainEvent, DurationRule, MeasureDefined, MeasureTrigger, PenaltyChanges,
    PenaltyDecided, PenaltyKind, RecordKind, RepairCondition,
};
use ledger_core::{Hash32, RecordedEvent, StreamName};
use ledger_rules::catalogue::Validity;
use ledger_rules::{
    fold, intervals, timeline, validate, Catalogue, CreditStatus, ListGround, TriggerKind,
};
use proptest::prelude::*;
use proptest::strategy::Union;
use support::histories::*;
use support::*;
use uuid::Uuid;

/// The default catalogue plus a measure of every duration rule, some with dates in force
/// that start or end in the middle of generated histories.
fn catalogue() -> Catalogue {
    let builtin = Catalogue::builtin();
    let mut measures = builtin.measures.clone();
    let mut add = |id: &str, trigger, duration, from, until| {
        let mut measure = builtin.measures[0].clone();
        measure.measure_id = id.into();
        measure.trigger = trigger;
        measure.duration = duration;
        measure.in_force_from = from;
        measure.in_force_until = until;
        measures.push(measure);
    };
    let any_fine = MeasureTrigger::PenaltyClass {
        case_categories: vec![],
        penalty_kinds: vec![PenaltyKind::Fine],
    };
    let food = MeasureTrigger::PenaltyClass {
        case_categories: vec![CaseCategory::Food],
        penalty_kinds: vec![],
    };
    add(
        "t-fixed",
        MeasureTrigger::AbnormalList,
        DurationRule::FixedDays(90),
        d(2017, 1, 1),
        Some(d(2023, 6, 30)),
    );
    add(
        "t-years",
        MeasureTrigger::SeriousList,
        DurationRule::YearsAfterTrigger(2),
        d(2014, 1, 1),
        None,
    );
    add("t-while", any_fine, DurationRule::WhileListed, d(2019, 5, 1), None);
    add("t-pub", food, DurationRule::UntilPublicationEnds, d(2014, 1, 1), Some(d(2026, 12, 31)));
    add(
        "t-licence",
        MeasureTrigger::LicenceRevoked,
        DurationRule::FixedDays(400),
        d(2014, 1, 1),
        None,
    );
    builtin.with_measures(measures).unwrap()
}

/// The dates where something may change, and their neighbours, plus a yearly grid.
fn probe_dates(stream: &Stream, catalogue: &Catalogue, known: Option<u64>) -> Vec<NaiveDate> {
    let t = timeline(&stream.events, catalogue, known);
    let mut dates = Vec::new();
    let bounds = t
        .lists
        .iter()
        .map(|i| (i.start, i.end))
        .chain(t.publications.iter().map(|i| (i.start, i.end)))
        .chain(t.restrictions.iter().map(|i| (i.start, i.end)));
    for (start, end) in bounds {
        dates.extend([start, start.pred_opt().unwrap()]);
        if let Some(end) = end {
            dates.extend([end, end.pred_opt().unwrap()]);
        }
    }
    dates.extend((2014..2032).map(|y| d(y, 6, 15)));
    dates.sort_unstable();
    dates.dedup();
    dates
}

/// What must hold between the parts of one status (see the module docs).
fn check_consistent(status: &CreditStatus, catalogue: &Catalogue) {
    for restriction in &status.restrictions {
        let measure = catalogue
            .measures
            .iter()
            .find(|m| {
                m.measure_id == restriction.measure_id
                    && m.in_force_from == restriction.measure_version
            })
            .expect("a restriction names a measure version of the catalogue");
        let validity = Validity { from: measure.in_force_from, until: measure.in_force_until };
        assert!(validity.contains(status.as_of), "{restriction:?} outside its measure's dates");
        let lasting = matches!(
            measure.duration,
            DurationRule::WhileListed | DurationRule::UntilPublicationEnds
        );
        let number = &restriction.trigger_decision_number;
        match restriction.trigger {
            TriggerKind::AbnormalList | TriggerKind::SeriousList if lasting => {
                assert!(
                    status.lists.iter().any(|l| &l.decision_number == number),
                    "{restriction:?}"
                );
            }
            TriggerKind::Penalty if lasting => {
                assert!(
                    status.penalties.iter().any(|p| &p.decision_number == number),
                    "{restriction:?}"
                );
            }
            _ => {}
        }
    }
    // Conversely, every list stay shown draws every while-listed measure in force for it.
    for stay in &status.lists {
        for measure in &catalogue.measures {
            let validity = Validity { from: measure.in_force_from, until: measure.in_force_until };
            let trigger_fits = match (&measure.trigger, stay.ground) {
                (MeasureTrigger::AbnormalList, ListGround::Abnormal(g)) => {
                    catalogue.scope(&measure.measure_id).is_none_or(|s| {
                        s.abnormal_grounds.is_empty() || s.abnormal_grounds.contains(&g)
                    })
                }
                (MeasureTrigger::SeriousList, ListGround::Serious(g)) => catalogue
                    .scope(&measure.measure_id)
                    .is_none_or(|s| s.serious_grounds.is_empty() || s.serious_grounds.contains(&g)),
                _ => false,
            };
            if trigger_fits
                && measure.duration == DurationRule::WhileListed
                && validity.contains(status.as_of)
            {
                assert!(
                    status.restrictions.iter().any(|r| r.measure_id == measure.measure_id
                        && r.trigger_decision_number == stay.decision_number),
                    "{} missing for {stay:?}",
                    measure.measure_id
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn fold_equals_intervals_at_every_date(actions in history_strategy(), cut in any::<u8>()) {
        let catalogue = catalogue();
        let stream = valid_stream(&actions, &catalogue);
        let last = stream.events.len() as u64 - 1;
        for known in [None, Some(u64::from(cut) % (last + 1))] {
            let all = intervals(&stream.events, &catalogue, known);
            for interval in &all {
                prop_assert!(interval.end.is_none_or(|end| interval.start < end), "{interval:?}");
                prop_assert!(known.is_none_or(|k| interval.caused_by.iter().all(|p| *p <= k)));
            }
            for date in probe_dates(&stream, &catalogue, known) {
                let status = fold(&stream.events, &catalogue, date, known);
                let expected: Vec<_> = all.iter().filter(|r| r.contains(date)).cloned().collect();
                prop_assert_eq!(&status.restrictions, &expected, "on {}", date);
                check_consistent(&status, &catalogue);
                if let Some(known) = known {
                    let prefix = &stream.events[..=known as usize];
                    let then = fold(prefix, &catalogue, date, None);
                    prop_assert_eq!((&status.lists, &status.penalties, &status.restrictions),
                        (&then.lists, &then.penalties, &then.restrictions));
                }
            }
        }
    }
}

// ---- arbitrary events: nothing may panic ----

fn any_date() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        (1900i32..2100, 1u32..13, 1u32..29).prop_map(|(y, m, day)| d(y, m, day)),
        Just(NaiveDate::MIN),
        Just(NaiveDate::MAX),
    ]
}

fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        (-2_208_988_800i64..4_102_444_800).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        Just(DateTime::<Utc>::MIN_UTC),
        Just(DateTime::<Utc>::MAX_UTC),
    ]
}

fn any_event() -> impl Strategy<Value = DomainEvent> {
    let number = || proptest::sample::select(NUMBERS.to_vec());
    Union::new(vec![
        Just(registered()).boxed(),
        (any::<u8>(), number())
            .prop_map(|(g, n)| abnormal_entered(GROUNDS[usize::from(g) % 5], n))
            .boxed(),
        (any::<u8>(), number())
            .prop_map(|(r, n)| abnormal_removed(REASONS[usize::from(r) % 11], n))
            .boxed(),
        (
            any::<u8>(),
            proptest::collection::vec(number(), 0..3),
            number(),
            proptest::option::of(any_date()),
        )
            .prop_map(|(g, refs, n, until)| {
                serious_entered(SERIOUS[usize::from(g) % 9], &refs, n, until)
            })
            .boxed(),
        (any::<u8>(), number())
            .prop_map(|(k, n)| serious_removed(REMOVALS[usize::from(k) % 3], n))
            .boxed(),
        (number(), any::<u8>(), any::<u8>(), any::<i64>(), any::<bool>(), any::<Option<u32>>())
            .prop_map(|(n, c, mask, fine, aggravated, restriction)| {
                decided(PenaltyDecided {
                    aggravated,
                    restriction_period_days: restriction,
                    fine_fen: fine,
                    penalty_kinds: if mask == 0 { vec![] } else { kinds(mask) },
                    ..penalty(n, CATEGORIES[usize::from(c) % 5], &[], 0)
                })
            })
            .boxed(),
        (number(), any::<u8>(), any::<Option<u32>>())
            .prop_map(|(n, mask, restriction)| {
                changed(
                    n,
                    PenaltyChanges {
                        penalty_kinds: Some(kinds(mask)),
                        restriction_period_days: restriction,
                        aggravated: Some(mask % 2 == 0),
                        ..Default::default()
                    },
                )
            })
            .boxed(),
        number().prop_map(revoked).boxed(),
        (number(), any::<bool>())
            .prop_map(|(n, all)| {
                if all {
                    repaired(n)
                } else {
                    repaired_with(n, &[RepairCondition::NoRepeat])
                }
            })
            .boxed(),
        number().prop_map(licence_revoked).boxed(),
        number().prop_map(|n| objection(RecordKind::AbnormalEntry, n)).boxed(),
    ])
}

/// An event sealed with any position and effective time, or a payload that does not parse.
fn any_recorded() -> impl Strategy<Value = RecordedEvent> {
    let junk = prop_oneof![
        Just(("penalty_decided".to_owned(), b"{\"decision_number\":1}".to_vec())),
        Just(("no_such_event".to_owned(), b"{}".to_vec())),
        Just(("abnormal_list_entered".to_owned(), b"not json".to_vec())),
    ];
    let typed = any_event()
        .prop_map(|e| (e.event_type().to_owned(), serde_json::to_vec(&e.to_payload()).unwrap()));
    let payload = prop_oneof![4 => typed, 1 => junk];
    (0u64..40, any_instant(), payload).prop_map(
        |(position, effective_at, (event_type, payload))| RecordedEvent {
            position,
            stream: StreamName::new("entity/x").unwrap(),
            stream_version: position + 1,
            event_id: Uuid::from_u128(u128::from(position)),
            event_type,
            schema_version: 1,
            effective_at,
            recorded_at: effective_at,
            recorded_by: "fuzz".into(),
            payload,
            prev_hash: Hash32::ZERO,
            hash: Hash32::ZERO,
        },
    )
}

/// A catalogue whose measures reach the ends of the calendar.
fn extreme_catalogue() -> Catalogue {
    let mut catalogue = catalogue();
    let template: MeasureDefined = catalogue.measures[0].clone();
    for (i, duration) in
        [DurationRule::FixedDays(u32::MAX), DurationRule::YearsAfterTrigger(u32::MAX)]
            .into_iter()
            .enumerate()
    {
        for trigger in [
            MeasureTrigger::AbnormalList,
            MeasureTrigger::SeriousList,
            MeasureTrigger::LicenceRevoked,
            MeasureTrigger::PenaltyClass { case_categories: vec![], penalty_kinds: vec![] },
        ] {
            let mut measure = template.clone();
            measure.measure_id = format!("x-{i}-{}", catalogue.measures.len());
            measure.trigger = trigger;
            measure.duration = duration.clone();
            measure.in_force_from = NaiveDate::MIN;
            catalogue.measures.push(measure);
        }
    }
    catalogue
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fold_never_panics(events in proptest::collection::vec(any_recorded(), 0..30),
                         next in any_event(), on in any_date(), known in any::<Option<u8>>()) {
        let catalogue = extreme_catalogue();
        let known = known.map(u64::from);
        let status = fold(&events, &catalogue, on, known);
        let all = intervals(&events, &catalogue, known);
        let expected: Vec<_> = all.into_iter().filter(|r| r.contains(on)).collect();
        prop_assert_eq!(status.restrictions, expected);
        let _ = fold(&events, &catalogue, NaiveDate::MAX, None);
        let _ = validate(&events, &catalogue, &next, on);
    }
}
