//! Joint-punishment measures: their own dates in force, their durations, as-of-date and
//! known-at-position questions, the catalogue as ledger events, and registration rules.

mod support;

use chrono::NaiveDate;
use ledger_core::events::{
    AbnormalGround as AG, AbnormalRemovalReason as AR, CaseCategory, DomainEvent, DurationRule,
    LegalBasis, MeasureDefined, MeasureRetired, MeasureTrigger, PenaltyKind, RecordKind,
    SeriousGround as SG,
};
use ledger_core::{CheckOverride, CreditCode};
use ledger_rules::{
    catalogue_stream, fold, intervals, measure_events, measures_from_events, validate, Catalogue,
    Rule, TriggerKind,
};
use support::*;

const ABNORMAL: &[&str] = &["honours-bar-abnormal", "procurement-consideration-abnormal"];
const SERIOUS_2016: &[&str] = &[
    "bidding-restriction-serious",
    "honours-bar-serious",
    "land-supply-restriction-serious",
    "procurement-bar-serious",
];

fn measures(groups: &[&[&'static str]]) -> Vec<&'static str> {
    groups.iter().flat_map(|g| g.iter().copied()).collect()
}

fn test_measure(id: &str, trigger: MeasureTrigger, duration: DurationRule) -> MeasureDefined {
    MeasureDefined {
        measure_id: id.into(),
        department: "测试部门".into(),
        title: "测试措施".into(),
        trigger,
        legal_basis: vec![LegalBasis {
            document: "《测试依据》".into(),
            article: "第一条".into(),
            version: "2020-01-01".into(),
        }],
        duration,
        in_force_from: d(2020, 1, 1),
        in_force_until: None,
    }
}

/// The default catalogue plus a 90-day abnormal-list measure (in force 2020-2024) and a
/// food-penalty measure lasting as long as publication.
fn extended_catalogue() -> Catalogue {
    let builtin = Catalogue::builtin();
    let mut measures = builtin.measures.clone();
    measures.push(MeasureDefined {
        in_force_until: Some(d(2024, 12, 31)),
        ..test_measure("test-fixed-90", MeasureTrigger::AbnormalList, DurationRule::FixedDays(90))
    });
    let food = MeasureTrigger::PenaltyClass {
        case_categories: vec![CaseCategory::Food],
        penalty_kinds: vec![],
    };
    measures.push(test_measure("test-publication", food, DurationRule::UntilPublicationEnds));
    builtin.with_measures(measures).unwrap()
}

#[test]
fn measures_apply_within_their_own_dates() {
    let catalogue = Catalogue::builtin();
    let scenarios = vec![
        Scenario {
            name: "the 2014 bar on the legal representative follows the three-year ground only",
            steps: vec![
                accept(d(2016, 1, 5), abnormal_entered(AG::AnnualReportNotFiled, "AB-1")),
                accept(
                    d(2019, 2, 1),
                    serious_entered(SG::AbnormalListThreeYears, &[], "SL-1", None),
                ),
                accept(
                    d(2019, 3, 1),
                    serious_entered(SG::FraudulentRegistration, &[], "SL-2", None),
                ),
            ],
            expect: vec![Expect {
                on: d(2019, 3, 1),
                lists: vec![
                    ("AB-1", None),
                    ("SL-1", Some(d(2024, 2, 1))),
                    ("SL-2", Some(d(2024, 3, 1))),
                ],
                penalties: vec![],
                measures: measures(&[ABNORMAL, SERIOUS_2016, &["legal-rep-bar-three-year"]]),
            }],
        },
        Scenario {
            name: "a licence revocation meets both versions of the company-law bar",
            steps: vec![
                accept(d(2024, 3, 1), licence_revoked("LR-1")),
                reject(d(2024, 5, 1), licence_revoked("LR-2"), Rule::LicenceRevokedOnce),
            ],
            expect: vec![
                Expect {
                    on: d(2027, 2, 28),
                    lists: vec![],
                    penalties: vec![],
                    measures: vec!["legal-rep-bar-licence-revoked"],
                },
                Expect { on: d(2027, 3, 1), lists: vec![], penalties: vec![], measures: vec![] },
            ],
        },
    ];
    for scenario in &scenarios {
        run(scenario, &catalogue);
    }

    // The bar of the three-year ground ends with its measure version, before its 3 years.
    let stream = run(&scenarios[0], &catalogue);
    let bar: Vec<_> = intervals(&stream.events, &catalogue, None)
        .into_iter()
        .filter(|r| r.measure_id == "legal-rep-bar-three-year")
        .map(|r| (r.trigger_decision_number, r.start, r.end))
        .collect();
    assert_eq!(bar, [("SL-1".to_owned(), d(2019, 2, 1), Some(d(2021, 9, 1)))]);

    // The licence bar is two intervals, one per version, each with its own legal basis.
    let stream = run(&scenarios[1], &catalogue);
    let bars = intervals(&stream.events, &catalogue, None);
    let spans: Vec<_> = bars.iter().map(|r| (r.measure_version, r.start, r.end)).collect();
    assert_eq!(
        spans,
        [
            (d(2006, 1, 1), d(2024, 3, 1), Some(d(2024, 7, 1))),
            (d(2024, 7, 1), d(2024, 7, 1), Some(d(2027, 3, 1))),
        ]
    );
    assert!(bars[0].legal_basis[0].article.contains("第一百四十六条"));
    assert!(bars[1].legal_basis[0].article.contains("第一百七十八条"));
    assert!(bars.iter().all(|r| r.trigger == TriggerKind::LicenceRevoked && r.caused_by == [1]));
    let on = |date| fold(&stream.events, &catalogue, date, None).restrictions[0].measure_version;
    assert_eq!((on(d(2024, 6, 30)), on(d(2024, 7, 1))), (d(2006, 1, 1), d(2024, 7, 1)));
}

#[test]
fn fixed_and_publication_durations() {
    let catalogue = extended_catalogue();
    let scenario = Scenario {
        name: "fixed terms outlive a removal but not an upheld objection; publication ends early",
        steps: vec![
            accept(d(2024, 3, 1), abnormal_entered(AG::UnreachableAtAddress, "AB-2")),
            accept(d(2024, 3, 5), objection(RecordKind::AbnormalEntry, "AB-2")),
            accept(d(2024, 3, 10), abnormal_removed(AR::ObjectionUpheld, "AB-2")),
            accept(d(2024, 11, 1), abnormal_entered(AG::AnnualReportNotFiled, "AB-1")),
            accept(d(2024, 11, 20), abnormal_removed(AR::AnnualReportFiled, "AB-1")),
            accept(d(2024, 1, 10), fined("PF-1", CaseCategory::Food, 5_000_000)),
            accept(d(2025, 1, 10), repaired("PF-1")),
        ],
        expect: vec![
            Expect {
                on: d(2024, 3, 9),
                lists: vec![("AB-2", Some(d(2024, 3, 10)))],
                penalties: vec![("PF-1", Some(d(2025, 1, 10)))],
                measures: measures(&[ABNORMAL, &["test-fixed-90", "test-publication"]]),
            },
            Expect {
                on: d(2024, 3, 10),
                lists: vec![],
                penalties: vec![("PF-1", Some(d(2025, 1, 10)))],
                measures: vec!["test-publication"],
            },
            Expect {
                on: d(2024, 12, 31),
                lists: vec![],
                penalties: vec![("PF-1", Some(d(2025, 1, 10)))],
                measures: vec!["test-fixed-90", "test-publication"],
            },
            Expect {
                on: d(2025, 1, 1),
                lists: vec![],
                penalties: vec![("PF-1", Some(d(2025, 1, 10)))],
                measures: vec!["test-publication"],
            },
            Expect { on: d(2025, 1, 10), lists: vec![], penalties: vec![], measures: vec![] },
        ],
    };
    run(&scenario, &catalogue);
}

#[test]
fn objections_within_thirty_days() {
    let scenario = Scenario {
        name: "objection window",
        steps: vec![
            accept(d(2024, 3, 1), abnormal_entered(AG::AnnualReportNotFiled, "AB-1")),
            accept(d(2024, 3, 31), objection(RecordKind::AbnormalEntry, "AB-1")),
            reject(
                d(2024, 4, 1),
                objection(RecordKind::AbnormalEntry, "AB-1"),
                Rule::ObjectionWindow,
            ),
            reject(
                d(2024, 3, 5),
                objection(RecordKind::AbnormalEntry, "AB-9"),
                Rule::DecisionRecorded,
            ),
            accept(d(2024, 9, 1), objection(RecordKind::Penalty, "P-1")),
        ],
        expect: vec![],
    };
    run(&scenario, &Catalogue::builtin());
}

/// The status on a date as known now, and as the ledger knew it at earlier positions.
#[test]
fn as_of_date_and_known_at_position() {
    let catalogue = Catalogue::builtin();
    let mut stream = Stream::new();
    stream.push(d(2010, 1, 1), &registered());
    let kinds = [PenaltyKind::Fine, PenaltyKind::StopBusinessOrder];
    stream.push(d(2022, 3, 1), &decided(penalty("PF-1", CaseCategory::Other, &kinds, 5_000_000)));
    stream.push(d(2024, 7, 15), &abnormal_entered(AG::AnnualReportNotFiled, "AB-1"));
    stream.push(d(2024, 9, 2), &abnormal_removed(AR::AnnualReportFiled, "AB-1"));
    // Recorded last, effective long before: the court revoked the penalty in 2022.
    stream.push(d(2022, 6, 1), &revoked("PF-1"));

    let listed = |on, known| {
        let status = fold(&stream.events, &catalogue, on, known);
        (status.lists.len(), status.penalties.len(), status.restrictions.len())
    };
    // Before the removal was recorded the ledger knew an open listing.
    assert_eq!(listed(d(2024, 10, 1), Some(2)), (1, 1, 3));
    assert_eq!(listed(d(2024, 10, 1), Some(3)), (0, 1, 1));
    assert_eq!(listed(d(2024, 8, 1), Some(3)), (1, 1, 3));
    // On 2022-07-01 the penalty was shown and restricting as the ledger knew it then, and
    // is not as known now.
    assert_eq!(listed(d(2022, 7, 1), Some(3)), (0, 1, 1));
    assert_eq!(listed(d(2022, 7, 1), None), (0, 0, 0));
    assert_eq!(listed(d(2022, 5, 1), None), (0, 1, 1));
    // Nothing before anything was known.
    assert_eq!(listed(d(2024, 8, 1), Some(0)), (0, 0, 0));

    let now = fold(&stream.events, &catalogue, d(2024, 8, 1), None);
    let at_last = fold(&stream.events, &catalogue, d(2024, 8, 1), Some(4));
    assert_eq!((now.lists, now.restrictions), (at_last.lists, at_last.restrictions));
    assert_eq!(at_last.known_at_position, Some(4));
}

#[test]
fn catalogue_round_trips_through_ledger_events() {
    let catalogue = Catalogue::builtin();
    let proposals = measure_events(&catalogue).unwrap();
    assert_eq!(proposals.len(), catalogue.measures.len());
    assert_eq!(proposals, measure_events(&catalogue).unwrap(), "ids must be stable");
    let mut ids: Vec<_> = proposals.iter().map(|p| p.event_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), proposals.len(), "ids must be distinct");

    let mut stream = Stream::named(catalogue_stream());
    for proposal in proposals {
        assert_eq!(proposal.event_type, "measure_defined");
        let event = DomainEvent::parse(&proposal.event_type, 1, &proposal.payload_value()).unwrap();
        let effective = ledger_rules::china_date(proposal.effective_at);
        assert_eq!(validate(&stream.events, &catalogue, &event, effective), Ok(()));
        stream.seal(proposal);
    }
    assert_eq!(measures_from_events(&stream.events), catalogue.measures);

    // Retiring a measure ends it; a redefinition on the same first day replaces it.
    stream.push(
        d(2025, 1, 1),
        &DomainEvent::MeasureRetiredV1(MeasureRetired {
            measure_id: "honours-bar-abnormal".into(),
            retirement_date: d(2025, 1, 1),
            reason: "依据废止".into(),
        }),
    );
    let mut renamed = catalogue.measures[0].clone();
    renamed.title = "新标题".into();
    stream.push(d(2025, 1, 2), &DomainEvent::MeasureDefinedV1(renamed.clone()));
    let rebuilt = measures_from_events(&stream.events);
    assert_eq!(rebuilt.len(), catalogue.measures.len());
    assert!(rebuilt.contains(&renamed));
    let retired = rebuilt.iter().find(|m| m.measure_id == "honours-bar-abnormal").unwrap();
    assert_eq!(retired.in_force_until, Some(d(2024, 12, 31)));

    let rebuilt = catalogue.clone().with_measures(rebuilt).unwrap();
    let mut entity = Stream::new();
    entity.push(d(2010, 1, 1), &registered());
    entity.push(d(2024, 12, 1), &abnormal_entered(AG::AnnualReportNotFiled, "AB-1"));
    let ids = |on: NaiveDate| -> Vec<String> {
        let status = fold(&entity.events, &rebuilt, on, None);
        status.restrictions.into_iter().map(|r| r.measure_id).collect()
    };
    assert_eq!(
        ids(d(2024, 12, 31)),
        ["honours-bar-abnormal", "procurement-consideration-abnormal"]
    );
    assert_eq!(ids(d(2025, 1, 1)), ["procurement-consideration-abnormal"]);
}

#[test]
fn measure_definitions_are_checked() {
    let catalogue = Catalogue::builtin();
    let mut measure = catalogue.measures[0].clone();
    measure.legal_basis.clear();
    let error = validate(&[], &catalogue, &DomainEvent::MeasureDefinedV1(measure), d(2025, 1, 1))
        .unwrap_err();
    assert_eq!(error.rule, Rule::MeasureDefinition);
}

#[test]
fn registration_comes_first_and_checks_the_code() {
    let catalogue = Catalogue::builtin();
    let entry = abnormal_entered(AG::AnnualReportNotFiled, "AB-1");
    let error = validate(&[], &catalogue, &entry, d(2024, 1, 1)).unwrap_err();
    assert_eq!(error.rule, Rule::RegisteredFirst);
    assert!(error.to_string().contains("GB 32100-2015"), "{error}");

    // A real pilot code whose check character is wrong: accepted only with an override.
    let good = entity_code().to_string();
    let last = if good.ends_with('0') { "1" } else { "0" };
    let bad = CreditCode::parse_recorded(&format!("{}{last}", &good[..17])).unwrap();
    let with_override =
        Some(CheckOverride { reason: "试点赋码".into(), evidence: "证照 0012".into() });
    let cases = [
        (registered_code(bad, None), Err(Rule::CheckCharacters)),
        (registered_code(bad, with_override.clone()), Ok(())),
        (registered_code(entity_code(), with_override), Err(Rule::CheckCharacters)),
        (registered(), Ok(())),
    ];
    for (event, expected) in cases {
        let verdict = validate(&[], &catalogue, &event, d(2012, 3, 18)).map_err(|v| v.rule);
        assert_eq!(verdict, expected, "{event:?}");
    }
    let error = validate(&[], &catalogue, &registered_code(bad, None), d(2012, 3, 18)).unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("rule check_characters (credit-code/gb32100-2015) is violated"),
        "{text}"
    );
    assert!(text.contains("accepted: a code that passes both checks"), "{text}");

    let mut stream = Stream::new();
    stream.push(d(2012, 3, 18), &registered());
    let again = validate(&stream.events, &catalogue, &registered(), d(2013, 1, 1));
    assert_eq!(again.map_err(|v| v.rule), Err(Rule::RegisteredOnce));
}
